/* Unit tests for src/runtime/image-gc.c: the removal order (least recently used first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "runtime/image-gc.h"

static void test_order(void **state)
{
    (void)state;
    k1s_image_gc_candidate_t c[] = {
        {"sha256:used-recently", 5000, 100},
        {"sha256:never-used-new", 0, 900},
        {"sha256:used-long-ago", 1000, 50},
        {"sha256:never-used-old", 0, 10},
    };
    k1s_image_gc_sort(c, 4);
    assert_string_equal(c[0].id, "sha256:never-used-old");
    assert_string_equal(c[1].id, "sha256:never-used-new");
    assert_string_equal(c[2].id, "sha256:used-long-ago");
    assert_string_equal(c[3].id, "sha256:used-recently");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
