/* Unit tests for src/runtime/runtime.c: state directories read back without any process
 * (the end-to-end tests run real containers). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "runtime/runtime.h"
#include "runtime/shim.h"

static char dir[64];
static struct event_base *base;
static k1s_rt_t *rt;

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/k1s-rt-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    base = event_base_new();
    k1s_rt_opts_t o = {.state_dir = dir, .runtime_root = "/nonexistent", .shim_path = "/bin/false"};
    k1s_err_t err = {0};
    return k1s_rt_new(base, &o, &rt, &err);
}

static int teardown(void **state)
{
    k1s_rt_free(rt);
    event_base_free(base);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *id, const char *name, const char *text)
{
    char *d = k1s_xasprintf("%s/%s", dir, id);
    mkdir(d, 0700);
    char *p = k1s_xasprintf("%s/%s", d, name);
    assert_int_equal(k1s_write_file_atomic(p, text, strlen(text), 0600), 0);
    free(p);
    free(d);
}

static void make_container(const char *id, const char *created, const char *status)
{
    char *shim =
        k1s_xasprintf("{\"id\":\"%s\",\"runtime\":\"runc\",\"runtimeRoot\":\"/nonexistent\","
                      "\"logPath\":\"/tmp/%s.log\",\"createdAt\":\"%s\","
                      "\"labels\":[\"pod=web\",\"attempt=2\"]}",
                      id, id, created);
    put(id, "shim.json", shim);
    free(shim);
    if (status)
        put(id, "status.json", status);
}

static int exits;
static char last_exit[64];

static void on_exit_cb(void *arg, const k1s_rt_status_t *st)
{
    exits++;
    snprintf(last_exit, sizeof(last_exit), "%s", st->id);
}

static void test_status_and_list(void **state)
{
    make_container("done", "2026-01-01T00:00:02.000000000Z",
                   "{\"state\":\"exited\",\"pid\":10,\"startedAt\":\"2026-01-01T00:00:03Z\","
                   "\"finishedAt\":\"2026-01-01T00:00:04.5Z\",\"exitCode\":137,\"signal\":9,"
                   "\"reason\":\"OOMKilled\"}");
    /* Says running, but nobody listens on its socket: the shim died. */
    make_container("lost", "2026-01-01T00:00:01.000000000Z",
                   "{\"state\":\"running\",\"pid\":4242,\"startedAt\":\"2026-01-01T00:00:01Z\"}");
    put("stray", "junk", "not a container");

    k1s_rt_status_t st;
    k1s_err_t err = {0};
    assert_int_equal(k1s_rt_status(rt, "done", &st, &err), 0);
    assert_int_equal(st.state, K1S_RT_EXITED);
    assert_int_equal(st.exit_code, 137);
    assert_int_equal(st.signal, 9);
    assert_string_equal(st.reason, "OOMKilled");
    assert_string_equal(st.log_path, "/tmp/done.log");
    assert_string_equal(st.labels[0], "pod=web");
    assert_string_equal(st.labels[1], "attempt=2");
    assert_null(st.labels[2]);
    assert_int_equal(st.finished_at - st.started_at, 1500000000LL);
    k1s_rt_status_clear(&st);

    assert_int_equal(k1s_rt_status(rt, "lost", &st, &err), 0);
    assert_int_equal(st.state, K1S_RT_EXITED);
    assert_int_equal(st.exit_code, 255);
    assert_string_equal(st.reason, "Unknown");
    k1s_rt_status_clear(&st);

    assert_int_equal(k1s_rt_status(rt, "nosuch", &st, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "nosuch"));
    assert_int_equal(k1s_rt_status(rt, "../etc", &st, &err), -ENOENT);

    k1s_rt_status_t *list;
    size_t n;
    assert_int_equal(k1s_rt_list(rt, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "lost"); /* created first */
    assert_string_equal(list[1].id, "done");
    k1s_rt_status_list_free(list, n);

    /* Adopting reports both exits (nothing runs). */
    k1s_rt_on_exit(rt, on_exit_cb, NULL);
    exits = 0;
    assert_int_equal(k1s_rt_adopt(rt, &err), 0);
    assert_int_equal(exits, 2);

    /* Nothing to talk to. */
    assert_int_equal(k1s_rt_kill(rt, "done", 15, false, &err), -ESRCH);
    assert_non_null(strstr(err.msg, "not running"));
    assert_int_equal(k1s_rt_kill(rt, "nosuch", 15, false, &err), -ENOENT);

    /* Removing: the record goes (runc delete of the lost one fails quietly here). */
    assert_int_equal(k1s_rt_remove(rt, "done", &err), 0);
    assert_int_equal(k1s_rt_remove(rt, "lost", &err), 0);
    assert_int_equal(k1s_rt_remove(rt, "done", &err), -ENOENT);
    assert_int_equal(k1s_rt_list(rt, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    free(list);
}

static int start_rc;
static char start_msg[1024];

static void started(void *arg, const char *id, int rc, const k1s_err_t *err)
{
    start_rc = rc;
    snprintf(start_msg, sizeof(start_msg), "%s", err ? err->msg : "");
}

static void test_start_failures(void **state)
{
    char *args[] = {"true", NULL};
    k1s_rt_config_t c = {.args = args, .rootfs = "/nonexistent-rootfs", .cpu_request_milli = -1};
    k1s_rt_start_req_t req = {.id = "bad id", .config = &c, .log_path = "/tmp/x.log"};
    k1s_err_t err = {0};
    assert_int_equal(k1s_rt_start(rt, &req, started, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not valid"));
    req.id = "c1";
    req.log_path = "relative.log";
    assert_int_equal(k1s_rt_start(rt, &req, started, NULL, &err), -EINVAL);
    /* A config that cannot be turned into a spec leaves nothing behind. */
    char *bad_caps[] = {"FLY", NULL};
    c.cap_add = bad_caps;
    req.log_path = k1s_xasprintf("%s/logs/c1/0.log", dir);
    assert_int_equal(k1s_rt_start(rt, &req, started, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "FLY"));
    char *cdir = k1s_xasprintf("%s/c1", dir);
    struct stat sb;
    assert_int_equal(stat(cdir, &sb), -1);
    /* The shim binary (here /bin/false) exits without reporting: the callback says so. */
    c.cap_add = NULL;
    start_rc = 1;
    assert_int_equal(k1s_rt_start(rt, &req, started, NULL, &err), 0);
    assert_int_equal(k1s_rt_start(rt, &req, started, NULL, &err), -EEXIST);
    event_base_dispatch(base);
    assert_int_equal(start_rc, -EIO);
    assert_non_null(strstr(start_msg, "shim exited"));
    assert_int_equal(stat(cdir, &sb), 0);
    free(cdir);
    free((char *)req.log_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_and_list),
        cmocka_unit_test(test_start_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
