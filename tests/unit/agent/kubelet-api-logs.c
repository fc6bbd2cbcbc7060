/*
 * Unit tests for src/agent/kubelet-api-logs.c: CRI log line parsing and
 * RFC 3339 times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <string.h>

#include "agent/kubelet-api-int.h"

static void test_parse_time(void **state)
{
    const char *t = "2016-10-06T00:17:09.669794202Z";
    assert_int_equal(k1s_kapi_parse_time(t, strlen(t)), 1475713029669794202LL);
    t = "1970-01-01T00:00:01Z";
    assert_int_equal(k1s_kapi_parse_time(t, strlen(t)), 1000000000LL);
    t = "1970-01-01T01:00:01.5+01:00";
    assert_int_equal(k1s_kapi_parse_time(t, strlen(t)), 1500000000LL);
    t = "1970-01-01 00:00:01Z";
    assert_int_equal(k1s_kapi_parse_time(t, strlen(t)), -1);
    t = "2016-10-06T00:17:09";
    assert_int_equal(k1s_kapi_parse_time(t, strlen(t)), -1);
}

static void test_cri_lines(void **state)
{
    int64_t ts;
    const char *st, *msg;
    bool partial;
    size_t ml;
    const char *l = "2016-10-06T00:17:09.669794202Z stdout F log content 1";
    assert_int_equal(k1s_kapi_cri_parse(l, strlen(l), &ts, &st, &partial, &msg, &ml), 0);
    assert_false(partial);
    assert_memory_equal(st, "stdout", 6);
    assert_int_equal(ml, 13);
    assert_memory_equal(msg, "log content 1", 13);
    l = "2016-10-06T00:17:09.669794203Z stderr P partial";
    assert_int_equal(k1s_kapi_cri_parse(l, strlen(l), &ts, &st, &partial, &msg, &ml), 0);
    assert_true(partial);
    assert_memory_equal(st, "stderr", 6);
    /* an empty line: "F" with nothing after it */
    l = "2016-10-06T00:17:09.669794203Z stdout F";
    assert_int_equal(k1s_kapi_cri_parse(l, strlen(l), &ts, &st, &partial, &msg, &ml), 0);
    assert_int_equal(ml, 0);
    l = "2016-10-06T00:17:09Z stdin F x";
    assert_int_not_equal(k1s_kapi_cri_parse(l, strlen(l), &ts, &st, &partial, &msg, &ml), 0);
    l = "garbage";
    assert_int_not_equal(k1s_kapi_cri_parse(l, strlen(l), &ts, &st, &partial, &msg, &ml), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_cri_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
