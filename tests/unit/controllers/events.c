/*
 * Unit tests for the Event recorder's aggregation (src/controllers/events.c,
 * included to reach it): like client-go's EventAggregator, the tenth
 * different message about one object, type and reason within ten minutes,
 * and every one after it, is combined into one Event; other objects and
 * reasons are counted apart, and the window starts again after ten quiet
 * minutes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../src/controllers/events.c"

static void test_aggregate(void **state)
{
    k1s_recorder_t *r = k1s_recorder_new(NULL, "replicaset-controller");
    char msg[64];
    for (int i = 0; i < AGG_MAX_MESSAGES - 1; i++) {
        snprintf(msg, sizeof(msg), "Created pod: web-%d", i);
        assert_false(aggregate(r, "uid1\x1fweb\x1fNormal\x1fSuccessfulCreate", msg));
    }
    /* the same message again is no new message */
    assert_false(aggregate(r, "uid1\x1fweb\x1fNormal\x1fSuccessfulCreate", "Created pod: web-0"));
    /* another reason or object is counted apart */
    assert_false(aggregate(r, "uid1\x1fweb\x1fNormal\x1fSuccessfulDelete", "Deleted pod: web-0"));
    assert_false(aggregate(r,
                           "uid2\x1f"
                           "db\x1fNormal\x1fSuccessfulCreate",
                           "Created pod: db-0"));
    /* the tenth different one and those after it are combined */
    assert_true(aggregate(r, "uid1\x1fweb\x1fNormal\x1fSuccessfulCreate", "Created pod: web-9"));
    assert_true(aggregate(r, "uid1\x1fweb\x1fNormal\x1fSuccessfulCreate", "Created pod: web-10"));
    assert_true(aggregate(r, "uid1\x1fweb\x1fNormal\x1fSuccessfulCreate", "Created pod: web-11"));
    /* after ten quiet minutes the count starts again */
    agg_t *a = k1s_strmap_get(&r->aggs, "uid1\x1fweb\x1fNormal\x1fSuccessfulCreate");
    a->last -= AGG_INTERVAL_S + 1;
    assert_false(aggregate(r, "uid1\x1fweb\x1fNormal\x1fSuccessfulCreate", "Created pod: web-12"));
    assert_int_equal(k1s_strmap_len(&a->msgs), 1);
    k1s_recorder_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
