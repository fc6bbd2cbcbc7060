/* Unit tests for the Endpoints controller's subsets (src/controllers/endpoints.c):
 * repacking by shared ports, ordering, truncation at 1000 addresses, and the shared
 * helpers of endpoints-util.c (named ports, pod inclusion, trigger times). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/endpoints.c"

static json_t *addr(const char *ip, const char *uid)
{
    return json_pack("{s:s,s:{s:s,s:s,s:s,s:s}}", "ip", ip, "targetRef", "kind", "Pod", "namespace",
                     "ns", "name", uid, "uid", uid);
}

static json_t *port(const char *name, int num)
{
    return json_pack("{s:s,s:i,s:s}", "name", name, "port", num, "protocol", "TCP");
}

static char *dump_names(const json_t *arr)
{
    char buf[256] = "";
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a)
    {
        if (i)
            strcat(buf, ",");
        strcat(buf, k1s_ctrl_str(json_object_get(a, "targetRef"), "uid"));
    }
    return k1s_xstrdup(buf);
}

static void test_repack(void **state)
{
    (void)state;
    packer_t p = {.addrs = json_array()};
    json_t *a = addr("10.0.0.2", "a"), *b = addr("10.0.0.10", "b"), *c = addr("10.0.0.3", "c");
    json_t *http = port("http", 8080), *metrics = port("metrics", 9100),
           *http2 = port("http", 9090);
    /* a and b offer http and metrics; c offers http on another number and is not ready */
    packer_add(&p, a, true, http);
    packer_add(&p, a, true, metrics);
    packer_add(&p, b, true, http);
    packer_add(&p, b, true, metrics);
    packer_add(&p, c, false, http2);
    json_t *ss = packer_subsets(&p);
    assert_int_equal(json_array_size(ss), 2);
    json_t *s0 = json_array_get(ss, 0), *s1 = json_array_get(ss, 1);
    /* ordered by first port: http 8080 before http 9090 */
    char *n = dump_names(json_object_get(s0, "addresses"));
    assert_string_equal(n, "b,a"); /* by IP as a string: 10.0.0.10 < 10.0.0.2 */
    free(n);
    assert_int_equal(json_array_size(json_object_get(s0, "ports")), 2);
    assert_string_equal(k1s_ctrl_str(json_array_get(json_object_get(s0, "ports"), 1), "name"),
                        "metrics");
    assert_null(json_object_get(s1, "addresses"));
    n = dump_names(json_object_get(s1, "notReadyAddresses"));
    assert_string_equal(n, "c");
    free(n);
    json_decref(ss);
    packer_free(&p);

    /* one address, ready for one port set and not another, splits; no ports (headless) */
    packer_t q = {.addrs = json_array()};
    packer_add(&q, a, true, NULL);
    packer_add(&q, b, false, NULL);
    ss = packer_subsets(&q);
    assert_int_equal(json_array_size(ss), 1);
    assert_null(json_object_get(json_array_get(ss, 0), "ports"));
    assert_int_equal(json_array_size(json_object_get(json_array_get(ss, 0), "addresses")), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(ss, 0), "notReadyAddresses")),
                     1);
    json_decref(ss);
    packer_free(&q);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(http);
    json_decref(metrics);
    json_decref(http2);
}

static json_t *subset_of(int ready, int not_ready, int base)
{
    json_t *s = json_object(), *r = json_array(), *nr = json_array();
    char ip[32];
    for (int i = 0; i < ready + not_ready; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", base, i / 256, i % 256);
        json_array_append_new(i < ready ? r : nr, addr(ip, ip));
    }
    json_object_set_new(s, "addresses", r);
    json_object_set_new(s, "notReadyAddresses", nr);
    return s;
}

static void test_truncate(void **state)
{
    (void)state;
    /* under capacity: untouched */
    json_t *ss = json_pack("[o]", subset_of(500, 500, 1));
    assert_false(truncate_subsets(ss));
    json_decref(ss);
    /* ready ones kept, not-ready ones cut to what is left, shared by proportion */
    ss = json_pack("[o,o]", subset_of(600, 300, 1), subset_of(200, 100, 2));
    assert_true(truncate_subsets(ss));
    size_t total = 0, i;
    json_t *s;
    json_array_foreach(ss, i, s)
    {
        total += json_array_size(json_object_get(s, "addresses")) +
                 json_array_size(json_object_get(s, "notReadyAddresses"));
    }
    assert_int_equal(total, 1000);
    assert_int_equal(json_array_size(json_object_get(json_array_get(ss, 0), "addresses")), 600);
    assert_int_equal(json_array_size(json_object_get(json_array_get(ss, 1), "addresses")), 200);
    assert_int_equal(json_array_size(json_object_get(json_array_get(ss, 0), "notReadyAddresses")),
                     150);
    json_decref(ss);
    /* more ready than capacity: not-ready ones all go */
    ss = json_pack("[o,o]", subset_of(900, 10, 1), subset_of(300, 0, 2));
    assert_true(truncate_subsets(ss));
    assert_int_equal(json_array_size(json_object_get(json_array_get(ss, 0), "addresses")), 750);
    assert_int_equal(json_array_size(json_object_get(json_array_get(ss, 1), "addresses")), 250);
    assert_null(json_object_get(json_array_get(ss, 0), "notReadyAddresses"));
    json_decref(ss);
}

static void test_helpers(void **state)
{
    (void)state;
    json_t *pod = json_loads(
        "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"labels\":{\"app\":\"a\"}},"
        "\"spec\":{\"hostname\":\"h\",\"subdomain\":\"svc\",\"containers\":[{\"ports\":["
        "{\"name\":\"http\",\"containerPort\":8080},"
        "{\"name\":\"dns\",\"containerPort\":53,\"protocol\":\"UDP\"}]}],"
        "\"initContainers\":[{\"restartPolicy\":\"Always\",\"ports\":[{\"name\":\"side\","
        "\"containerPort\":7000}]}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.42.0.5\",\"podIPs\":[{\"ip\":\"fd00::5\"}"
        ","
        "{\"ip\":\"10.42.0.5\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
        "\"lastTransitionTime\":\"2026-11-30T08:00:00Z\"}]}}",
        0, NULL);
    json_t *svc = json_loads("{\"metadata\":{\"name\":\"svc\",\"namespace\":\"ns\","
                             "\"creationTimestamp\":\"2026-11-30T07:00:00Z\"},"
                             "\"spec\":{\"selector\":{\"app\":\"a\"}}}",
                             0, NULL);
    json_t *sp = json_pack("{s:s,s:i}", "targetPort", "http", "port", 80);
    assert_int_equal(k1s_ep_find_port(pod, sp), 8080);
    json_object_set_new(sp, "protocol", json_string("UDP"));
    assert_int_equal(k1s_ep_find_port(pod, sp), -1); /* http is TCP */
    json_object_set_new(sp, "targetPort", json_string("dns"));
    assert_int_equal(k1s_ep_find_port(pod, sp), 53);
    json_object_del(sp, "protocol");
    json_object_set_new(sp, "targetPort", json_string("side"));
    assert_int_equal(k1s_ep_find_port(pod, sp), 7000);
    json_object_set_new(sp, "targetPort", json_integer(81));
    assert_int_equal(k1s_ep_find_port(pod, sp), 81);
    json_object_del(sp, "targetPort");
    assert_int_equal(k1s_ep_find_port(pod, sp), 80);
    json_decref(sp);

    assert_string_equal(k1s_ep_pod_ipv4(pod), "10.42.0.5");
    assert_true(k1s_ep_should_set_hostname(pod, svc));
    assert_true(k1s_ep_selects(k1s_ep_selector(svc), pod));
    assert_true(k1s_ep_pod_included(pod, false));
    json_object_set_new(json_object_get(pod, "metadata"), "deletionTimestamp",
                        json_string("2026-11-30T08:01:00Z"));
    assert_false(k1s_ep_pod_included(pod, false));
    assert_true(k1s_ep_pod_included(pod, true));

    /* trigger times: the first sync sees the Service's creation; later only what changed */
    k1s_ep_trigger_t t = {K1S_STRMAP_INIT};
    json_t *pods[] = {pod};
    assert_int_equal(k1s_ep_trigger_compute(&t, "ns/svc", svc, pods, 1),
                     k1s_ctrl_parse_time("2026-11-30T07:00:00Z"));
    assert_int_equal(k1s_ep_trigger_compute(&t, "ns/svc", svc, pods, 1), -1);
    json_t *cond = json_array_get(json_object_get(json_object_get(pod, "status"), "conditions"), 0);
    json_object_set_new(cond, "lastTransitionTime", json_string("2026-11-30T08:05:00Z"));
    assert_int_equal(k1s_ep_trigger_compute(&t, "ns/svc", svc, pods, 1),
                     k1s_ctrl_parse_time("2026-11-30T08:05:00Z"));
    k1s_ep_trigger_free(&t);
    json_decref(pod);
    json_decref(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repack),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
