/* Unit tests for src/lib/dynlib.c: loading on first use, and the errors a user reads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "lib/dynlib.h"

static struct {
    __typeof__(zlibVersion) *zlibVersion;
    __typeof__(crc32) *crc32;
} z;
static const k1s_dynlib_sym_t z_syms[] = {{"zlibVersion", (void **)&z.zlibVersion},
                                          {"crc32", (void **)&z.crc32}};
static int inits;
static void count_init(void)
{
    inits++;
}

static void test_load(void **state)
{
    k1s_dynlib_t l = {.soname = "libz.so.1",
                      .package = "zlib1g",
                      .purpose = "test",
                      .syms = z_syms,
                      .n_syms = 2,
                      .init = count_init};
    k1s_err_t err = {0};
    assert_int_equal(k1s_dynlib_load(&l, &err), 0);
    assert_int_equal(k1s_dynlib_load(&l, &err), 0);
    assert_int_equal(inits, 1); /* once */
    assert_string_equal(z.zlibVersion(), zlibVersion());
    assert_int_equal(z.crc32(0, (const Bytef *)"abc", 3), crc32(0, (const Bytef *)"abc", 3));
    k1s_dynlib_ensure(&l);
}

static void test_missing_library(void **state)
{
    void *slot;
    const k1s_dynlib_sym_t syms[] = {{"f", &slot}};
    k1s_dynlib_t l = {.soname = "libk1s-does-not-exist.so.7",
                      .package = "k1s-nothing",
                      .purpose = "pull images",
                      .syms = syms,
                      .n_syms = 1};
    k1s_err_t err = {0};
    assert_int_equal(k1s_dynlib_load(&l, &err), -ELIBACC);
    assert_non_null(strstr(err.msg, "cannot pull images: loading libk1s-does-not-exist.so.7"));
    assert_non_null(strstr(err.msg, "install the Debian package k1s-nothing"));
    /* the outcome sticks: no second attempt */
    k1s_err_t err2 = {0};
    assert_int_equal(k1s_dynlib_load(&l, &err2), -ELIBACC);
    assert_string_equal(err.msg, err2.msg);
}

static void test_missing_symbol(void **state)
{
    void *a, *b;
    const k1s_dynlib_sym_t syms[] = {{"zlibVersion", &a}, {"k1s_no_such_function", &b}};
    k1s_dynlib_t l = {
        .soname = "libz.so.1", .package = "zlib1g", .purpose = "test", .syms = syms, .n_syms = 2};
    k1s_err_t err = {0};
    assert_int_equal(k1s_dynlib_load(&l, &err), -ELIBBAD);
    assert_non_null(strstr(err.msg, "libz.so.1 has no k1s_no_such_function"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_missing_library),
        cmocka_unit_test(test_missing_symbol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
