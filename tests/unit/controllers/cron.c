/* Unit tests for the CronJob controller's cron schedules (src/controllers/cron.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "controllers/cron.h"
#include "controllers/controller.h"

static int64_t T(const char *s)
{
    int64_t t = k1s_ctrl_parse_time(s);
    assert_true(t >= 0);
    return t;
}

/* The next activation after `after`, formatted in UTC. */
static void check_next(const char *spec, const char *tz, const char *after, const char *want)
{
    k1s_cron_t c;
    char *err = NULL;
    int r = k1s_cron_parse(spec, tz, &c, &err);
    if (r)
        fail_msg("%s: %s", spec, err);
    int64_t n = k1s_cron_next(&c, T(after));
    char got[32];
    k1s_ctrl_format_time(n, got);
    if (strcmp(got, want))
        fail_msg("%s (tz %s) after %s: got %s, want %s", spec, tz ? tz : "-", after, got, want);
    k1s_cron_free(&c);
}

static void test_next(void **state)
{
    (void)state;
    check_next("* * * * *", NULL, "2026-11-30T08:00:00Z", "2026-11-30T08:01:00Z");
    check_next("* * * * *", NULL, "2026-11-30T08:00:59Z", "2026-11-30T08:01:00Z");
    check_next("*/15 * * * *", NULL, "2026-11-30T08:01:00Z", "2026-11-30T08:15:00Z");
    check_next("5/20 * * * *", NULL, "2026-11-30T08:26:00Z", "2026-11-30T08:45:00Z");
    check_next("0 9-17/4 * * *", NULL, "2026-11-30T10:00:00Z", "2026-11-30T13:00:00Z");
    check_next("30 2 * * *", NULL, "2026-11-30T08:00:00Z", "2026-12-01T02:30:00Z");
    check_next("0 0 1,15 * *", NULL, "2026-11-30T08:00:00Z", "2026-12-01T00:00:00Z");
    check_next("0 0 31 * *", NULL, "2026-11-01T00:00:00Z", "2026-12-31T00:00:00Z");
    check_next("0 0 29 feb *", NULL, "2026-11-30T00:00:00Z", "2028-02-29T00:00:00Z");
    check_next("0 12 * JAN-MAR mon", NULL, "2026-11-30T00:00:00Z", "2027-01-04T12:00:00Z");
    /* day of month and day of week: either matches when neither is "*" */
    check_next("0 0 13 * fri", NULL, "2026-11-30T00:00:00Z", "2026-12-04T00:00:00Z");
    check_next("0 0 1 * sun", NULL, "2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z");
    /* ... and both must when one is "*" or "?" */
    check_next("0 0 ? * 6", NULL, "2026-11-30T00:00:00Z", "2026-12-05T00:00:00Z");
    check_next("@hourly", NULL, "2026-11-30T08:00:00Z", "2026-11-30T09:00:00Z");
    check_next("@daily", NULL, "2026-11-30T08:00:00Z", "2026-12-01T00:00:00Z");
    check_next("@weekly", NULL, "2026-11-30T08:00:00Z", "2026-12-06T00:00:00Z");
    check_next("@monthly", NULL, "2026-11-30T08:00:00Z", "2026-12-01T00:00:00Z");
    check_next("@yearly", NULL, "2026-11-30T08:00:00Z", "2027-01-01T00:00:00Z");
    check_next("@every 90s", NULL, "2026-11-30T08:00:00Z", "2026-11-30T08:01:30Z");
    check_next("@every 1h30m", NULL, "2026-11-30T08:00:00Z", "2026-11-30T09:30:00Z");
}

static void test_time_zones(void **state)
{
    (void)state;
    /* 09:00 in Berlin is 08:00 UTC in winter, 07:00 UTC in summer */
    check_next("0 9 * * *", "Europe/Berlin", "2026-11-30T08:00:00Z", "2026-12-01T08:00:00Z");
    check_next("0 9 * * *", "Europe/Berlin", "2026-06-30T08:00:00Z", "2026-07-01T07:00:00Z");
    check_next("TZ=Asia/Tokyo 0 9 * * *", NULL, "2026-11-30T08:00:00Z", "2026-12-01T00:00:00Z");
    check_next("CRON_TZ=America/New_York 30 1 * * *", "Europe/Berlin", "2026-11-30T08:00:00Z",
               "2026-12-01T06:30:00Z");
    /* Berlin's clocks go back on 2026-10-25 at 03:00: 02:30 happens once in each offset; the
     * schedule runs at the first and not again at the second */
    check_next("30 2 * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z");
    check_next("30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z");
    /* on 2026-03-29 02:30 does not exist in Berlin */
    check_next("0 4 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T02:00:00Z");
    /* the process's own zone is left as it was */
    assert_null(getenv("TZ"));
    k1s_cron_t c;
    char *err = NULL;
    assert_int_equal(k1s_cron_parse("0 9 * * *", "Europe/Berlin", &c, &err), 0);
    char out[48];
    k1s_cron_format_rfc3339(&c, T("2026-12-01T08:00:00Z"), out);
    assert_string_equal(out, "2026-12-01T09:00:00+01:00");
    k1s_cron_format_rfc1123z(&c, T("2026-12-01T08:00:00Z"), out);
    assert_string_equal(out, "Tue, 01 Dec 2026 09:00:00 +0100");
    k1s_cron_free(&c);
    assert_int_equal(k1s_cron_parse("0 9 * * *", NULL, &c, &err), 0);
    k1s_cron_format_rfc3339(&c, T("2026-12-01T08:00:00Z"), out);
    assert_string_equal(out, "2026-12-01T08:00:00Z");
    k1s_cron_free(&c);
    assert_null(getenv("TZ"));
    assert_int_equal(k1s_cron_parse("0 9 * * *", "Mars/Olympus", &c, &err), -ENOENT);
    assert_string_equal(err, "unknown time zone Mars/Olympus");
    free(err);
}

static void check_error(const char *spec, const char *want)
{
    k1s_cron_t c;
    char *err = NULL;
    assert_int_equal(k1s_cron_parse(spec, NULL, &c, &err), -EINVAL);
    if (strcmp(err, want))
        fail_msg("%s: got \"%s\", want \"%s\"", spec, err, want);
    free(err);
}

static void test_errors(void **state)
{
    (void)state;
    check_error("* * * *", "expected exactly 5 fields, found 4: * * * *");
    check_error("60 * * * *", "end of range (60) above maximum (59): 60");
    check_error("* * 0 * *", "beginning of range (0) below minimum (1): 0");
    check_error("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1");
    check_error("*/0 * * * *", "step of range should be a positive number: */0");
    check_error("1-2-3 * * * *", "too many hyphens: 1-2-3");
    check_error("*/2/3 * * * *", "too many slashes: */2/3");
    check_error("x * * * *",
                "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax");
    check_error("* * * * 7", "end of range (7) above maximum (6): 7");
    check_error("@fortnightly", "unrecognized descriptor: @fortnightly");
}

static void test_most_recent(void **state)
{
    (void)state;
    k1s_cron_t c;
    char *err = NULL;
    assert_int_equal(k1s_cron_parse("*/5 * * * *", NULL, &c, &err), 0);
    int missed;
    int64_t t = k1s_cron_most_recent(&c, T("2026-11-30T08:00:00Z"), T("2026-11-30T08:17:00Z"), 100,
                                     &missed);
    assert_int_equal(t, T("2026-11-30T08:15:00Z"));
    assert_int_equal(missed, 3);
    t = k1s_cron_most_recent(&c, T("2026-11-30T08:00:00Z"), T("2026-11-30T08:04:59Z"), 100,
                             &missed);
    assert_int_equal(t, -1);
    assert_int_equal(missed, 0);
    /* a day of missed starts: more than 100, and the latest is still found */
    t = k1s_cron_most_recent(&c, T("2026-11-29T08:00:00Z"), T("2026-11-30T08:17:00Z"), 100,
                             &missed);
    assert_int_equal(t, T("2026-11-30T08:15:00Z"));
    assert_true(missed > 100);
    k1s_cron_free(&c);
    assert_int_equal(k1s_cron_parse("0 0 1 1 *", NULL, &c, &err), 0);
    t = k1s_cron_most_recent(&c, T("2020-01-01T00:00:00Z"), T("2026-11-30T08:17:00Z"), 100,
                             &missed);
    assert_int_equal(t, T("2026-01-01T00:00:00Z"));
    assert_int_equal(missed, 6);
    k1s_cron_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_time_zones),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_most_recent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
