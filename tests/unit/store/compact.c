/*
 * Unit tests for the store's automatic compaction, vacuum and checkpoints:
 * under sustained churn the database (plus its WAL) stays proportional to
 * the live data and the history window instead of growing with every
 * write, and space freed by deletes goes back to the file system.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "testutil.h"

typedef struct fx {
    char *dir, *path, *wal;
    struct event_base *base;
    k1s_store_t *s;
} fx_t;

static fx_t *fx_new(int64_t history)
{
    fx_t *f = k1s_xcalloc(1, sizeof(*f));
    f->dir = tu_tmpdir();
    f->path = k1s_xasprintf("%s/state.db", f->dir);
    f->wal = k1s_xasprintf("%s/state.db-wal", f->dir);
    f->base = event_base_new();
    k1s_store_opts_t opts = {.path = f->path, .history = history, .history_age_ms = -1};
    k1s_err_t err;
    if (k1s_store_open(f->base, &opts, &f->s, &err) < 0)
        fail_msg("open: %s", err.msg);
    return f;
}

static void fx_free(fx_t *f)
{
    k1s_store_free(f->s);
    event_base_free(f->base);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->path);
    free(f->wal);
    free(f);
}

static int64_t disk_size(fx_t *f)
{
    return tu_file_size(f->path) + tu_file_size(f->wal);
}

/* An object-like value of about len bytes that differs per revision. */
static k1s_bytes_t *value(int key, int64_t i, size_t len)
{
    char *v = k1s_xmalloc(len + 1);
    int n =
        snprintf(v, len + 1, "{\"kind\":\"ConfigMap\",\"name\":\"cm-%d\",\"gen\":%lld,\"data\":\"",
                 key, (long long)i);
    for (size_t j = (size_t)n; j < len; j++)
        v[j] = (char)('a' + (j * 7 + (size_t)i) % 26);
    k1s_bytes_t *b = k1s_bytes_new(v, len);
    free(v);
    return b;
}

/* 200,000 updates to 100 keys in groups of 100. */
static void test_churn_size_bounded(void **state)
{
    fx_t *f = fx_new(1000);
    const int keys = 100, updates = 200000;
    int64_t max_size = 0;
    for (int i = 0; i < updates; i++) {
        char key[64];
        snprintf(key, sizeof(key), "/registry/configmaps/default/cm-%d", i % keys);
        k1s_store_put(f->s, key, value(i % keys, i, 250), NULL, NULL, NULL);
        if (i % 100 == 99) {
            tu_run(f->base);
            int64_t size = disk_size(f);
            if (size > max_size)
                max_size = size;
        }
    }
    tu_run(f->base);
    k1s_store_stats_t st;
    k1s_store_get_stats(f->s, &st);
    assert_int_equal(st.writes, (uint64_t)updates);
    assert_int_equal(st.commits, (uint64_t)updates / 100);
    print_message("churn: %d updates to %d keys, history 1000: db+wal %lld bytes at the end, "
                  "%lld at most (%.1f MB written)\n",
                  updates, keys, (long long)disk_size(f), (long long)max_size,
                  updates * 250.0 / 1e6);
    /* Live data is 25 kB and the window 1000 x ~300 B: a few MB at most, not 50+ MB. */
    assert_true(max_size < 4 * 1024 * 1024);
    assert_true(st.db_size_bytes == disk_size(f));

    /* The window and the values survive all of it. */
    assert_int_equal(k1s_store_count(f->s), keys);
    assert_int_equal(k1s_store_rev(f->s), updates);
    assert_int_equal(k1s_store_oldest_rev(f->s), updates - 1000);
    fx_free(f);
}

/* Space held by many big objects comes back once they are deleted and out of the window. */
static void test_deletes_give_space_back(void **state)
{
    fx_t *f = fx_new(1000);
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        char key[48];
        snprintf(key, sizeof(key), "/registry/secrets/ns%d/s-%d", i % 10, i);
        k1s_store_put(f->s, key, value(i, i, 1000), NULL, NULL, NULL);
        if (i % 500 == 499)
            tu_run(f->base);
    }
    tu_run(f->base);
    int64_t full = disk_size(f);
    for (int i = 0; i < n; i++) {
        char key[48];
        snprintf(key, sizeof(key), "/registry/secrets/ns%d/s-%d", i % 10, i);
        assert_true(k1s_store_delete(f->s, key, NULL, NULL) > 0);
        if (i % 500 == 499)
            tu_run(f->base);
    }
    /* Push the deletes out of the history window with small writes. */
    for (int i = 0; i < 2000; i++) {
        k1s_store_put(f->s, "/registry/leases/x", value(0, i, 100), NULL, NULL, NULL);
        if (i % 100 == 99)
            tu_run(f->base);
    }
    tu_run(f->base); /* runs the automatic maintenance steps too */
    int64_t after = disk_size(f);
    print_message("deletes: %d x 1 kB objects: %lld bytes on disk, %lld after deleting them\n", n,
                  (long long)full, (long long)after);
    assert_true(full > 20 * 1000 * 1000);
    assert_true(after < 2 * 1024 * 1024);
    assert_int_equal(k1s_store_count(f->s), 1);
    k1s_err_t err;
    assert_int_equal(k1s_store_maintain(f->s, &err), 0);
    assert_true(disk_size(f) <= after);
    fx_free(f);
}

/* Big values fill the WAL long before 1000 writes: it is checkpointed by size too. */
static void test_wal_checkpointed_by_size(void **state)
{
    fx_t *f = fx_new(0);
    int64_t max_wal = 0;
    for (int i = 0; i < 40; i++) {
        k1s_store_put(f->s, "/registry/configmaps/default/big", value(0, i, 1 << 20), NULL, NULL,
                      NULL);
        tu_run(f->base);
        int64_t wal = tu_file_size(f->wal);
        if (wal > max_wal)
            max_wal = wal;
    }
    print_message("wal: 40 writes of 1 MB: the WAL grew to %lld bytes at most\n",
                  (long long)max_wal);
    /* The trigger is 1000 pages (4 MB) after a commit; one more value can come on top. */
    assert_true(max_wal < 7 * 1024 * 1024);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_churn_size_bounded),
        cmocka_unit_test(test_deletes_give_space_back),
        cmocka_unit_test(test_wal_checkpointed_by_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
