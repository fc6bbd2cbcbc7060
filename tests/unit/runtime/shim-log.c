/* Unit tests for src/runtime/shim-log.c: CRI log record framing, rotation and times. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/shim.h"

typedef struct rec {
    char stream[8];
    char tag;
    char *text;
} rec_t;

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/k1s-crilog-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Reads path back as records; checks each line's shape. Returns the count. */
static size_t read_records(const char *path, rec_t *out, size_t max)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        assert_true(line[len - 1] == '\n');
        line[len - 1] = 0;
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        /* 2026-01-02T03:04:05.123456789Z */
        assert_int_equal(sp - line, 30);
        assert_true(line[10] == 'T' && line[29] == 'Z' && line[19] == '.');
        assert_true(n < max);
        rec_t *r = &out[n++];
        char *sp2 = strchr(sp + 1, ' ');
        assert_non_null(sp2);
        snprintf(r->stream, sizeof(r->stream), "%.*s", (int)(sp2 - sp - 1), sp + 1);
        r->tag = sp2[1];
        assert_true(r->tag == 'F' || r->tag == 'P');
        assert_true(sp2[2] == ' ');
        r->text = k1s_xstrdup(sp2 + 3);
    }
    free(line);
    fclose(f);
    return n;
}

static void free_records(rec_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].text);
}

static void test_lines_and_partials(void **state)
{
    char *path = k1s_xasprintf("%s/a.log", dir);
    k1s_rt_crilog_t l;
    assert_int_equal(k1s_rt_crilog_open(&l, path, 0, 0), 0);
    k1s_rt_crilog_write(&l, 0, "hello\nwor", 9);
    k1s_rt_crilog_write(&l, 1, "err\n", 4);
    k1s_rt_crilog_write(&l, 0, "ld\n\n", 4);
    /* 40000 bytes without a newline, then one: P 16384, P 16384, F 7232 */
    char *big = k1s_xmalloc(40001);
    memset(big, 'x', 40000);
    big[40000] = '\n';
    /* fed in odd-sized pieces */
    for (size_t off = 0; off < 40001; off += 777)
        k1s_rt_crilog_write(&l, 0, big + off, off + 777 > 40001 ? 40001 - off : 777);
    /* exactly 16384 bytes and a newline: one full record */
    memset(big, 'y', 16384);
    big[16384] = '\n';
    k1s_rt_crilog_write(&l, 1, big, 16385);
    k1s_rt_crilog_write(&l, 0, "tail", 4);
    k1s_rt_crilog_flush(&l, 0);
    k1s_rt_crilog_flush(&l, 1); /* nothing pending: no record */
    k1s_rt_crilog_close(&l);

    rec_t r[16];
    size_t n = read_records(path, r, 16);
    assert_int_equal(n, 9);
    assert_string_equal(r[0].stream, "stdout");
    assert_int_equal(r[0].tag, 'F');
    assert_string_equal(r[0].text, "hello");
    assert_string_equal(r[1].stream, "stderr");
    assert_string_equal(r[1].text, "err");
    assert_string_equal(r[2].text, "world");
    assert_int_equal(r[3].tag, 'F');
    assert_string_equal(r[3].text, "");
    assert_int_equal(r[4].tag, 'P');
    assert_int_equal(strlen(r[4].text), 16384);
    assert_int_equal(r[5].tag, 'P');
    assert_int_equal(strlen(r[5].text), 16384);
    assert_int_equal(r[6].tag, 'F');
    assert_int_equal(strlen(r[6].text), 40000 - 2 * 16384);
    assert_string_equal(r[7].stream, "stderr");
    assert_int_equal(r[7].tag, 'F');
    assert_int_equal(strlen(r[7].text), 16384);
    assert_int_equal(r[8].tag, 'P');
    assert_string_equal(r[8].text, "tail");
    free_records(r, n);
    free(big);
    free(path);
}

static void test_rotation(void **state)
{
    char *path = k1s_xasprintf("%s/r.log", dir);
    k1s_rt_crilog_t l;
    assert_int_equal(k1s_rt_crilog_open(&l, path, 300, 3), 0);
    char line[32];
    for (int i = 0; i < 40; i++) {
        int n = snprintf(line, sizeof(line), "line-%02d\n", i);
        k1s_rt_crilog_write(&l, 0, line, (size_t)n);
    }
    k1s_rt_crilog_close(&l);
    char *p1 = k1s_xasprintf("%s.1", path), *p2 = k1s_xasprintf("%s.2", path),
         *p3 = k1s_xasprintf("%s.3", path);
    assert_int_equal(access(p1, F_OK), 0);
    assert_int_equal(access(p2, F_OK), 0);
    assert_int_equal(access(p3, F_OK), -1);
    rec_t r[40];
    /* Records are 48 bytes: 6 fit in 300; the three files hold the last lines in order. */
    size_t n2 = read_records(p2, r, 40);
    size_t n1 = read_records(p1, r + n2, 40 - n2);
    size_t n0 = read_records(path, r + n2 + n1, 40 - n2 - n1);
    size_t n = n0 + n1 + n2;
    assert_int_equal(n0, 40 % 6 ? 40 % 6 : 6);
    assert_int_equal(n1, 6);
    for (size_t i = 0; i < n; i++) {
        snprintf(line, sizeof(line), "line-%02d", (int)(40 - n + i));
        assert_string_equal(r[i].text, line);
    }
    free_records(r, n);
    free(p1);
    free(p2);
    free(p3);
    free(path);
}

static void test_time(void **state)
{
    char t[40];
    k1s_rt_time_format(1700000000123456789LL, t);
    assert_string_equal(t, "2023-11-14T22:13:20.123456789Z");
    assert_int_equal(k1s_rt_time_parse(t), 1700000000123456789LL);
    assert_int_equal(k1s_rt_time_parse("2023-11-14T22:13:20Z"), 1700000000000000000LL);
    assert_int_equal(k1s_rt_time_parse("2023-11-14T22:13:20.5Z"), 1700000000500000000LL);
    assert_int_equal(k1s_rt_time_parse("nonsense"), 0);
}

/* The hand-written formatter agrees with gmtime_r from 1970 to 2262 (the int64 ns range). */
static void test_time_calendar(void **state)
{
    char got[40], want[64];
    for (int64_t sec = 0; sec < 9200000000LL; sec += 86399 * 2 + 7777) {
        int64_t ns = sec * 1000000000 + (sec % 1000000000);
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ns % 1000000000));
        k1s_rt_time_format(ns, got);
        assert_string_equal(got, want);
    }
    k1s_rt_time_format(951782400LL * 1000000000, got);
    assert_string_equal(got, "2000-02-29T00:00:00.000000000Z");
    k1s_rt_time_format(4107542400LL * 1000000000, got);
    assert_string_equal(got, "2100-03-01T00:00:00.000000000Z");
    k1s_rt_time_format(0, got);
    assert_string_equal(got, "1970-01-01T00:00:00.000000000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_partials),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_time_calendar),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
