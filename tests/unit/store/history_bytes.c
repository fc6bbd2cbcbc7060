/* The watch history is bounded by bytes and by age as well as by events (src/store/store.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include <event2/event.h>
#include <string.h>

#include "store/store.h"

static void done(int err, k1s_kv_t *kv, void *arg)
{
    assert_int_equal(err, 0);
}

static int ignore(const k1s_store_event_t *ev, void *arg)
{
    return 0;
}

static void test_history_bytes_bound(void **state)
{
    char dir[] = "/tmp/k1s-hist-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/db/state.db", dir);
    struct event_base *base = event_base_new();
    k1s_store_opts_t o = {.path = path, .history = 10000, .history_bytes = 1024 * 1024};
    k1s_store_t *s;
    k1s_err_t err = {0};
    assert_int_equal(k1s_store_open(base, &o, &s, &err), 0);
    char *big = malloc(100 * 1024);
    memset(big, 'x', 100 * 1024);
    /* 50 updates of a 100 KiB value: only ~10 fit in 1 MiB of history */
    for (int i = 0; i < 50; i++) {
        k1s_store_put(s, "/configmaps/default/big", k1s_bytes_new(big, 100 * 1024), NULL, done,
                      NULL);
        k1s_store_flush(s);
    }
    int64_t rev = k1s_store_rev(s), oldest = k1s_store_oldest_rev(s);
    assert_true(rev - oldest <= 11);
    assert_true(rev - oldest >= 9);
    k1s_store_watch_t *w = NULL;
    assert_int_equal(k1s_store_watch(s, "/", 1, ignore, NULL, &w), -K1S_EGONE);
    free(big);
    k1s_store_free(s);
    event_base_free(base);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Beyond the newest 100 events, events older than history_age_ms leave the history on a
 * timer, with no write to trigger it, and a watch from before them gets 410. */
static void test_history_age_bound(void **state)
{
    char dir[] = "/tmp/k1s-hist-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/db/state.db", dir);
    struct event_base *base = event_base_new();
    k1s_store_opts_t o = {.path = path, .history_age_ms = 300};
    k1s_store_t *s;
    k1s_err_t err = {0};
    assert_int_equal(k1s_store_open(base, &o, &s, &err), 0);
    for (int i = 0; i < 250; i++) {
        char key[64];
        snprintf(key, sizeof(key), "/configmaps/default/c%d", i);
        k1s_store_put(s, key, k1s_bytes_from_str("{}"), NULL, done, NULL);
        k1s_store_flush(s);
    }
    int64_t rev = k1s_store_rev(s);
    assert_true(k1s_store_oldest_rev(s) < rev - 200); /* young: all kept */
    k1s_store_watch_t *w = NULL;
    assert_int_equal(k1s_store_watch(s, "/", rev - 200, ignore, NULL, &w), 0);
    k1s_store_unwatch(w);
    /* Idle for longer than the age bound (the expiry timer waits at least 1 s). */
    struct timeval tv = {1, 500000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    assert_int_equal(k1s_store_oldest_rev(s), rev - 100);
    w = NULL;
    assert_int_equal(k1s_store_watch(s, "/", rev - 200, ignore, NULL, &w), -K1S_EGONE);
    assert_int_equal(k1s_store_watch(s, "/", rev - 100, ignore, NULL, &w), 0);
    k1s_store_unwatch(w);
    k1s_store_free(s);
    event_base_free(base);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_history_bytes_bound),
                                       cmocka_unit_test(test_history_age_bound)};
    return cmocka_run_group_tests_name("store/history_bytes", tests, NULL, NULL);
}
