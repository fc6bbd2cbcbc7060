/*
 * Unit tests for src/api/metrics.c (included, to reach its statics): RFC 3339
 * times with fractions, windows as Go durations, quantities, CPU rates between
 * two Summary samples, and which pods get PodMetrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../../src/api/metrics.c"

static void assert_json_str(json_t *j, const char *want)
{
    assert_string_equal(json_string_value(j), want);
    json_decref(j);
}

static void test_times_and_quantities(void **state)
{
    assert_int_equal(parse_time("1970-01-01T00:00:01Z"), NS_PER_S);
    assert_int_equal(parse_time("1970-01-01T00:00:01.5Z"), NS_PER_S + NS_PER_S / 2);
    assert_int_equal(parse_time("2026-11-30T17:01:51.806429130Z") % NS_PER_S, 806429130);
    assert_int_equal(parse_time("1970-01-01T00:00:01+01:00"), 0);
    assert_int_equal(parse_time("yesterday"), 0);
    assert_int_equal(parse_time(NULL), 0);
    assert_json_str(window_json(1002 * 1000000ll), "1.002s");
    assert_json_str(window_json(15 * NS_PER_S), "15s");
    assert_json_str(window_json(16793 * 1000000ll), "16.793s");
    assert_json_str(window_json(1500 * 1000000ll), "1.5s");
    assert_json_str(window_json(120500 * 1000000ll), "2m0.5s");
    assert_json_str(memory_quantity(268 * 1024), "268Ki");
    assert_json_str(memory_quantity(1000), "1000");
    assert_json_str(cpu_quantity(327746241.4), "327746241n");
    assert_json_str(cpu_quantity(-1), "0n");
}

static json_t *cpu(const char *time, json_int_t used)
{
    return json_pack("{s:s, s:I}", "time", time, "usageCoreNanoSeconds", used);
}

static void test_cpu_rate(void **state)
{
    json_t *a = cpu("2026-01-01T00:00:00Z", 1000000000);
    json_t *b = cpu("2026-01-01T00:00:02Z", 2000000000);
    json_t *c = cpu("2026-01-01T00:05:00Z", 3000000000);
    json_t *restarted = cpu("2026-01-01T00:00:03Z", 10);
    double rate;
    int64_t ts, window;
    assert_true(cpu_rate(a, b, &rate, &ts, &window));
    assert_true(rate > 499999999 && rate < 500000001); /* 1 s of CPU in 2 s */
    assert_int_equal(window, 2 * NS_PER_S);
    assert_int_equal(ts, parse_time("2026-01-01T00:00:02Z"));
    assert_false(cpu_rate(b, a, &rate, &ts, &window));         /* no window */
    assert_false(cpu_rate(b, c, &rate, &ts, &window));         /* too far apart */
    assert_false(cpu_rate(b, restarted, &rate, &ts, &window)); /* counter went back */
    assert_false(cpu_rate(NULL, b, &rate, &ts, &window));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(restarted);
}

static json_t *pod_sample(const char *time, json_int_t burn, bool with_side)
{
    json_t *p = json_pack("{s:{s:s, s:s, s:s}, s:[{s:s, s:o, s:{s:I}}]}", "podRef", "name", "web",
                          "namespace", "default", "uid", "u1", "containers", "name", "burn", "cpu",
                          cpu(time, burn), "memory", "workingSetBytes", (json_int_t)4096);
    if (with_side)
        json_array_append_new(json_object_get(p, "containers"),
                              json_pack("{s:s, s:o, s:{s:I}}", "name", "side", "cpu", cpu(time, 5),
                                        "memory", "workingSetBytes", (json_int_t)8192));
    return p;
}

static void test_pod_metrics(void **state)
{
    json_t *prev = pod_sample("2026-01-01T00:00:00Z", 0, false);
    json_t *last = pod_sample("2026-01-01T00:00:10Z", 5000000000, false);
    json_t *m = pod_metrics(last, prev, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "kind")), "PodMetrics");
    assert_string_equal(k1s_obj_str(m, "metadata.namespace"), "default");
    assert_string_equal(json_string_value(json_object_get(m, "window")), "10s");
    assert_string_equal(json_string_value(json_object_get(m, "timestamp")), "2026-01-01T00:00:10Z");
    json_t *c = json_array_get(json_object_get(m, "containers"), 0);
    assert_string_equal(k1s_obj_str(c, "usage.cpu"), "500000000n");
    assert_string_equal(k1s_obj_str(c, "usage.memory"), "4Ki");
    json_decref(m);
    json_decref(last);
    /* a container with one sample only: the pod is too young, left out */
    last = pod_sample("2026-01-01T00:00:10Z", 5000000000, true);
    assert_null(pod_metrics(last, prev, NULL));
    json_decref(last);
    json_decref(prev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_times_and_quantities),
        cmocka_unit_test(test_cpu_rate),
        cmocka_unit_test(test_pod_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
