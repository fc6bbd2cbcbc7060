/* Unit tests for the CronJob controller's pure parts (src/controllers/cronjob.c, included to
 * reach its statics): the Job made for a schedule time, finished Jobs and their ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/cronjob.c"

static void test_new_job(void **state)
{
    (void)state;
    json_t *cj = json_loads(
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"tick\","
        "\"namespace\":\"ns\",\"uid\":\"u1\"},\"spec\":{\"schedule\":\"0 9 * * *\","
        "\"jobTemplate\":{\"metadata\":{\"labels\":{\"app\":\"tick\"},\"annotations\":{\"a\":"
        "\"b\"}},\"spec\":{\"backoffLimit\":2}}}}",
        0, NULL);
    assert_non_null(cj);
    k1s_cron_t sched;
    char *err = NULL;
    assert_int_equal(k1s_cron_parse("0 9 * * *", "Europe/Berlin", &sched, &err), 0);
    int64_t t = k1s_ctrl_parse_time("2026-12-01T08:00:00Z");
    json_t *job = new_job(cj, &sched, t);
    const json_t *md = json_object_get(job, "metadata");
    assert_string_equal(k1s_ctrl_str(md, "name"), "tick-29935200");
    assert_string_equal(k1s_ctrl_str(md, "namespace"), "ns");
    assert_string_equal(k1s_ctrl_str(json_object_get(md, "labels"), "app"), "tick");
    const json_t *ann = json_object_get(md, "annotations");
    assert_string_equal(k1s_ctrl_str(ann, "a"), "b");
    assert_string_equal(k1s_ctrl_str(ann, SCHEDULED_ANN), "2026-12-01T09:00:00+01:00");
    const json_t *ref = json_array_get(json_object_get(md, "ownerReferences"), 0);
    assert_string_equal(k1s_ctrl_str(ref, "kind"), "CronJob");
    assert_string_equal(k1s_ctrl_str(ref, "uid"), "u1");
    assert_true(json_is_true(json_object_get(ref, "controller")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(job, "spec"), "backoffLimit")), 2);
    json_decref(job);
    k1s_cron_free(&sched);
    json_decref(cj);
}

static json_t *job_with(const char *name, const char *start, const char *cond)
{
    json_t *j = json_pack("{s:{s:s},s:{s:[]}}", "metadata", "name", name, "status", "conditions");
    json_t *st = json_object_get(j, "status");
    if (start)
        json_object_set_new(st, "startTime", json_string(start));
    if (cond)
        json_array_append_new(json_object_get(st, "conditions"),
                              json_pack("{s:s,s:s}", "type", cond, "status", "True"));
    return j;
}

static void test_finished_and_order(void **state)
{
    (void)state;
    json_t *a = job_with("a", "2026-12-01T08:00:05Z", "Complete");
    json_t *b = job_with("b", "2026-12-01T08:00:01Z", "Failed");
    json_t *c = job_with("c", NULL, "SuccessCriteriaMet");
    json_t *d = job_with("d", "2026-12-01T08:00:01Z", NULL);
    assert_string_equal(finished_as(a), "Complete");
    assert_string_equal(finished_as(b), "Failed");
    assert_null(finished_as(c));
    assert_null(finished_as(d));
    json_t *v[] = {c, a, d, b};
    qsort(v, 4, sizeof(v[0]), cmp_start);
    /* oldest first, the same start time by name, never started last */
    assert_ptr_equal(v[0], b);
    assert_ptr_equal(v[1], d);
    assert_ptr_equal(v[2], a);
    assert_ptr_equal(v[3], c);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_job),
        cmocka_unit_test(test_finished_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
