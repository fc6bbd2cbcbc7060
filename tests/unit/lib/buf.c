/* Unit tests for src/lib/buf.c and src/lib/util.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/util.h"

static void test_buf_printf(void **state)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "a");
    for (int i = 0; i < 1000; i++)
        k1s_buf_printf(&b, "%d,", i);
    assert_int_equal(b.data[0], 'a');
    assert_true(k1s_str_has_suffix(b.data, "999,"));
    k1s_buf_free(&b);
}

static void test_json_str(void **state)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_json_str(&b, "a\"b\\c\n\x01");
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    k1s_buf_free(&b);
}

static void test_bytes_refcount(void **state)
{
    k1s_bytes_t *b = k1s_bytes_from_str("hello");
    k1s_bytes_t *c = k1s_bytes_ref(b);
    assert_ptr_equal(b, c);
    assert_int_equal(b->len, 5);
    k1s_bytes_unref(b);
    assert_string_equal(c->data, "hello");
    k1s_bytes_unref(c);
}

static void test_uuid_suffix(void **state)
{
    char u[37], s[6];
    k1s_uuid4(u);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[14], '4');
    k1s_random_suffix(s, 5);
    assert_int_equal(strlen(s), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_bytes_refcount),
        cmocka_unit_test(test_uuid_suffix),
    };
    return cmocka_run_group_tests_name("lib/buf", tests, NULL, NULL);
}
