/* Unit tests for the Job controller's pure parts (src/controllers/job.c, included to reach its
 * statics): completed-index lists, the pod failure policy, pods for Indexed Jobs, back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/job.c"

static void test_indexes(void **state)
{
    (void)state;
    bool set[10] = {0};
    parse_indexes("0-2,4,7-8", set, 10);
    int n;
    char *s = format_indexes(set, 10, &n);
    assert_string_equal(s, "0-2,4,7,8"); /* two in a row are listed, as upstream */
    assert_int_equal(n, 6);
    free(s);
    set[3] = true;
    set[9] = true;
    s = format_indexes(set, 10, &n);
    assert_string_equal(s, "0-4,7-9");
    assert_int_equal(n, 8);
    free(s);
    /* indexes past completions are dropped; garbage stops the parse */
    bool small[3] = {0};
    parse_indexes("1,2-5,x", small, 3);
    s = format_indexes(small, 3, &n);
    assert_string_equal(s, "1,2");
    free(s);
    bool none[3] = {0};
    s = format_indexes(none, 3, &n);
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
    free(s);
}

static json_t *failed_pod(int code, const char *cond)
{
    json_t *pod =
        json_pack("{s:{s:s,s:s},s:{s:s,s:[{s:s,s:{s:{s:i}}}],s:[]}}", "metadata", "name", "p-1",
                  "namespace", "ns", "status", "phase", "Failed", "containerStatuses", "name",
                  "main", "state", "terminated", "exitCode", code, "conditions");
    if (cond)
        json_array_append_new(json_object_get(json_object_get(pod, "status"), "conditions"),
                              json_pack("{s:s,s:s}", "type", cond, "status", "True"));
    return pod;
}

static void test_pod_failure_policy(void **state)
{
    (void)state;
    json_t *pfp = json_loads(
        "{\"rules\":[{\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]},"
        "{\"action\":\"FailJob\",\"onExitCodes\":{\"containerName\":\"main\",\"operator\":\"In\","
        "\"values\":[42]}},"
        "{\"action\":\"Count\",\"onExitCodes\":{\"operator\":\"NotIn\",\"values\":[1,2]}}]}",
        0, NULL);
    assert_non_null(pfp);
    char *msg = NULL;
    json_t *p = failed_pod(42, NULL);
    assert_int_equal(match_pfp(pfp, p, &msg), PFP_FAIL_JOB);
    assert_string_equal(msg, "Container main for pod ns/p-1 failed with exit code 42 matching "
                             "FailJob rule at index 1");
    free(msg);
    json_decref(p);
    p = failed_pod(42, "DisruptionTarget");
    assert_int_equal(match_pfp(pfp, p, &msg), PFP_IGNORE);
    json_decref(p);
    p = failed_pod(1, NULL);
    assert_int_equal(match_pfp(pfp, p, &msg), PFP_NONE);
    json_decref(p);
    p = failed_pod(3, NULL);
    assert_int_equal(match_pfp(pfp, p, &msg), PFP_COUNT);
    json_decref(p);
    json_decref(pfp);
}

static void test_indexed_pod(void **state)
{
    (void)state;
    json_t *job = json_loads(
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"work\","
        "\"namespace\":\"ns\",\"uid\":\"u1\"},\"spec\":{\"template\":{\"metadata\":{\"labels\":"
        "{\"job-name\":\"work\"}},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}}",
        0, NULL);
    json_t *pod = new_pod(job, 3);
    const json_t *md = json_object_get(pod, "metadata");
    assert_string_equal(k1s_ctrl_str(md, "generateName"), "work-3-");
    assert_string_equal(k1s_ctrl_str(json_object_get(md, "annotations"), INDEX_KEY), "3");
    assert_string_equal(k1s_ctrl_str(json_object_get(md, "labels"), INDEX_KEY), "3");
    assert_string_equal(k1s_ctrl_str(json_object_get(md, "labels"), "job-name"), "work");
    assert_true(has_finalizer(pod));
    assert_int_equal(pod_index(pod), 3);
    assert_string_equal(k1s_ctrl_str(json_object_get(pod, "spec"), "hostname"), "work-3");
    json_t *env = json_object_get(
        json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0), "env");
    assert_string_equal(k1s_ctrl_str(json_array_get(env, 0), "name"), "JOB_COMPLETION_INDEX");
    json_decref(pod);
    pod = new_pod(job, -1);
    md = json_object_get(pod, "metadata");
    assert_string_equal(k1s_ctrl_str(md, "generateName"), "work-");
    assert_int_equal(pod_index(pod), -1);
    assert_null(json_object_get(json_object_get(pod, "spec"), "hostname"));
    json_decref(pod);
    json_decref(job);
}

static void test_success_policy(void **state)
{
    (void)state;
    bool done[5] = {true, false, true, false, false};
    json_t *p = json_loads("{\"rules\":[{\"succeededIndexes\":\"0-1\"},"
                           "{\"succeededIndexes\":\"0-3\",\"succeededCount\":3},"
                           "{\"succeededCount\":2}]}",
                           0, NULL);
    assert_int_equal(match_success_policy(p, done, 5), 2);
    done[3] = true;
    assert_int_equal(match_success_policy(p, done, 5), 1);
    done[1] = true;
    assert_int_equal(match_success_policy(p, done, 5), 0);
    assert_int_equal(match_success_policy(NULL, done, 5), -1);
    bool none[5] = {0};
    assert_int_equal(match_success_policy(p, none, 5), -1);
    json_decref(p);
}

static void test_backoff(void **state)
{
    (void)state;
    backoff_t b = {0, 0};
    assert_true(backoff_remaining(&b, 100) == 0);
    b.failures = 1;
    b.last_failure = 100;
    assert_true(backoff_remaining(&b, 100) == 10);
    b.failures = 3;
    assert_true(backoff_remaining(&b, 105) == 35);
    b.failures = 20; /* capped at 6 minutes */
    assert_true(backoff_remaining(&b, 100) == 360);
    assert_true(backoff_remaining(&b, 1000) == 0);
}

/* A pod of index ix with the job-tracking finalizer, phase, exit code (Failed) and failure count.
 */
static json_t *index_pod(const char *name, int ix, const char *phase, int code, const char *count)
{
    char ixs[16];
    snprintf(ixs, sizeof(ixs), "%d", ix);
    json_t *pod = json_pack("{s:{s:s,s:s,s:s,s:{s:s,s:s},s:[s]},s:{s:s,s:[{s:s,s:{s:{s:i,s:s}}}]}}",
                            "metadata", "name", name, "namespace", "ns", "uid", name, "annotations",
                            INDEX_KEY, ixs, FAILURE_COUNT_KEY, count, "finalizers", FINALIZER,
                            "status", "phase", phase, "containerStatuses", "name", "main", "state",
                            "terminated", "exitCode", code, "finishedAt", "2026-01-01T00:00:00Z");
    if (strcmp(phase, "Failed"))
        json_object_del(json_object_get(pod, "status"), "containerStatuses");
    return pod;
}

static void test_backoff_limit_per_index(void **state)
{
    (void)state;
    json_t *spec =
        json_loads("{\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailIndex\",\"onExitCodes\":"
                   "{\"operator\":\"In\",\"values\":[42]}},{\"action\":\"Ignore\",\"onExitCodes\":"
                   "{\"operator\":\"In\",\"values\":[3]}}]}}",
                   0, NULL);
    json_t *pods[] = {
        index_pod("a", 0, "Failed", 1, "0"),  /* index 0: 1 failure of 2 allowed */
        index_pod("b", 1, "Failed", 1, "1"),  /* index 1: its limit reached */
        index_pod("c", 2, "Failed", 1, "0"),  /* index 2: already replaced by d */
        index_pod("d", 2, "Running", 0, "1"), /* */
        index_pod("e", 3, "Failed", 42, "0"), /* index 3: FailIndex */
        index_pod("f", 4, "Failed", 3, "0"),  /* index 4: an ignored failure */
        index_pod("g", 0, "Failed", 1, "0"),  /* index 0 again, but finished earlier */
    };
    json_object_set_new(json_object_get(pods[6], "metadata"), "creationTimestamp",
                        json_string("2025-01-01T00:00:00Z"));
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(pods[6], "status"), "containerStatuses"), 0),
        "state",
        json_pack("{s:{s:i,s:s}}", "terminated", "exitCode", 1, "finishedAt",
                  "2025-06-01T00:00:00Z"));
    int n = (int)K1S_ARRAY_SIZE(pods);
    bool done[5] = {0}, failed[5] = {0};
    json_t *last[5] = {0};
    index_failures(pods, n, spec, 1, done, failed, last, 5);
    assert_false(failed[0]);
    assert_true(failed[1]);
    assert_false(failed[2]);
    assert_true(failed[3]);
    assert_false(failed[4]);
    assert_ptr_equal(last[0], pods[0]); /* the later failure of index 0 */
    assert_null(last[1]);               /* failed for good */
    assert_null(last[2]);               /* a pod of index 2 runs */
    assert_ptr_equal(last[4], pods[5]);

    /* the replacements carry the failure counts */
    json_t *pod = json_pack("{s:{s:{}}}", "metadata", "annotations");
    set_failure_counts(pod, spec, pods[0]);
    const json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
    assert_string_equal(k1s_ctrl_str(ann, FAILURE_COUNT_KEY), "1");
    assert_null(json_object_get(ann, IGNORED_COUNT_KEY));
    set_failure_counts(pod, spec, pods[5]);
    assert_string_equal(k1s_ctrl_str(ann, FAILURE_COUNT_KEY), "0");
    assert_string_equal(k1s_ctrl_str(ann, IGNORED_COUNT_KEY), "1");
    json_decref(pod);
    pod = json_pack("{s:{s:{}}}", "metadata", "annotations");
    set_failure_counts(pod, spec, NULL);
    ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
    assert_string_equal(k1s_ctrl_str(ann, FAILURE_COUNT_KEY), "0");
    json_decref(pod);

    /* the back-off of an index: 10 s after one failure, 20 s after two */
    double t = (double)k1s_ctrl_parse_time("2026-01-01T00:00:00Z");
    assert_true(index_backoff(NULL, t) == 0);
    assert_true(index_backoff(pods[0], t + 4) == 6);
    assert_true(index_backoff(pods[1], t + 4) == 16);
    assert_true(index_backoff(pods[0], t + 11) == 0);
    for (int i = 0; i < n; i++)
        json_decref(pods[i]);
    json_decref(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indexes),     cmocka_unit_test(test_pod_failure_policy),
        cmocka_unit_test(test_indexed_pod), cmocka_unit_test(test_success_policy),
        cmocka_unit_test(test_backoff),     cmocka_unit_test(test_backoff_limit_per_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
