/*
 * Unit tests for src/store/store.c (with the SQLite backend): the committed
 * and latest views, ranges, group commit, watches from history and live,
 * 410 Gone, persistence across reopen, commit failure (disk full) and
 * refcounted kv/aux lifetimes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lib/log.h"
#include "store/backend.h"
#include "store/store.h"
#include "testutil.h"

typedef struct fx {
    char *dir, *path;
    struct event_base *base;
    k1s_store_t *s;
    k1s_store_opts_t opts;
} fx_t;

static void fx_open(fx_t *f)
{
    k1s_err_t err;
    k1s_err_clear(&err);
    int r = k1s_store_open(f->base, &f->opts, &f->s, &err);
    if (r < 0)
        fail_msg("open: %s", err.msg);
}

static fx_t *fx_new(int64_t history, const k1s_store_hooks_t *hooks)
{
    fx_t *f = k1s_xcalloc(1, sizeof(*f));
    f->dir = tu_tmpdir();
    f->path = k1s_xasprintf("%s/server/db/state.db", f->dir);
    f->base = event_base_new();
    f->opts = (k1s_store_opts_t){
        .path = f->path, .history = history, .history_age_ms = -1, .hooks = hooks};
    fx_open(f);
    return f;
}

static void fx_reopen(fx_t *f)
{
    k1s_store_free(f->s);
    f->s = NULL;
    fx_open(f);
}

static void fx_free(fx_t *f)
{
    k1s_store_free(f->s);
    event_base_free(f->base);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
}

static void put(fx_t *f, const char *key, const char *val)
{
    k1s_store_put(f->s, key, k1s_bytes_from_str(val), NULL, NULL, NULL);
}

static const char *val_of(k1s_kv_t *kv)
{
    return kv ? kv->value->data : NULL;
}

/* ---- views -------------------------------------------------------------- */

static void test_put_get_latest(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    assert_int_equal(k1s_store_rev(s), 0);
    assert_int_equal(k1s_store_next_rev(s), 1);
    assert_int_equal(k1s_store_oldest_rev(s), 0);

    tu_done_t d = {0};
    int64_t rev = k1s_store_put(s, "/a", k1s_bytes_from_str("one"), NULL, tu_done_cb, &d);
    assert_int_equal(rev, 1);
    assert_null(k1s_store_get(s, "/a"));
    k1s_kv_t *kv = k1s_store_get_latest(s, "/a");
    assert_non_null(kv);
    assert_string_equal(val_of(kv), "one");
    assert_int_equal(kv->mod_rev, 1);
    assert_int_equal(kv->create_rev, 1);
    assert_int_equal(k1s_store_rev(s), 0);
    assert_int_equal(k1s_store_next_rev(s), 2);
    assert_int_equal(k1s_store_count(s), 0);
    assert_int_equal(d.calls, 0);

    tu_run(f->base);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.err, 0);
    assert_int_equal(d.revs[0], 1);
    assert_int_equal(k1s_store_rev(s), 1);
    assert_string_equal(val_of(k1s_store_get(s, "/a")), "one");
    assert_ptr_equal(k1s_store_get(s, "/a"), k1s_store_get_latest(s, "/a"));
    assert_int_equal(k1s_store_count(s), 1);
    assert_null(k1s_store_get(s, "/b"));
    assert_null(k1s_store_get_latest(s, "/b"));
    fx_free(f);
}

static void test_create_rev_kept(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    put(f, "/a", "1");
    put(f, "/a", "2");
    k1s_kv_t *kv = k1s_store_get_latest(s, "/a");
    assert_string_equal(val_of(kv), "2");
    assert_int_equal(kv->mod_rev, 2);
    assert_int_equal(kv->create_rev, 1);
    tu_run(f->base);
    put(f, "/a", "3");
    tu_run(f->base);
    kv = k1s_store_get(s, "/a");
    assert_string_equal(val_of(kv), "3");
    assert_int_equal(kv->mod_rev, 3);
    assert_int_equal(kv->create_rev, 1);
    fx_free(f);
}

static void test_delete(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    assert_int_equal(k1s_store_delete(s, "/a", NULL, NULL), -ENOENT);
    assert_int_equal(k1s_store_next_rev(s), 1);
    put(f, "/a", "1");
    tu_run(f->base);

    tu_done_t d = {0};
    assert_int_equal(k1s_store_delete(s, "/a", tu_done_cb, &d), 2);
    assert_null(k1s_store_get_latest(s, "/a"));
    assert_non_null(k1s_store_get(s, "/a"));
    assert_int_equal(k1s_store_delete(s, "/a", NULL, NULL), -ENOENT);
    tu_run(f->base);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.err, 0);
    assert_int_equal(d.revs[0], -1);
    assert_null(k1s_store_get(s, "/a"));
    assert_int_equal(k1s_store_count(s), 0);
    assert_int_equal(k1s_store_rev(s), 2);

    /* Create, delete and re-create in one group: the re-create gets its own create_rev. */
    put(f, "/b", "1");
    assert_int_equal(k1s_store_delete(s, "/b", NULL, NULL), 4);
    assert_null(k1s_store_get_latest(s, "/b"));
    put(f, "/b", "2");
    assert_int_equal(k1s_store_get_latest(s, "/b")->create_rev, 5);
    tu_run(f->base);
    k1s_kv_t *kv = k1s_store_get(s, "/b");
    assert_string_equal(val_of(kv), "2");
    assert_int_equal(kv->create_rev, 5);
    assert_int_equal(kv->mod_rev, 5);

    put(f, "/c", "1");
    k1s_store_delete(s, "/c", NULL, NULL);
    tu_run(f->base);
    assert_null(k1s_store_get(s, "/c"));
    assert_int_equal(k1s_store_count(s), 1);
    fx_free(f);
}

typedef struct collect {
    int n, stop_at;
    char keys[64][64];
} collect_t;

static int collect_fn(k1s_kv_t *kv, void *arg)
{
    collect_t *c = arg;
    if (c->n < 64)
        snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", kv->key);
    c->n++;
    return c->stop_at && c->n >= c->stop_at;
}

static void test_range(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    const char *keys[] = {"/r/pods/ns2/a",  "/r/pods/ns1/c", "/r/pods/ns1/a",   "/r/pods/ns1/b",
                          "/r/pods/ns10/x", "/r/svc/ns1/a",  "/r/pods/ns1/a/b", "/r/pods/ns1\xff"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(keys); i++)
        put(f, keys[i], "v");
    collect_t c = {0};
    k1s_store_range(s, "/r/pods/ns1/", NULL, collect_fn, &c);
    assert_int_equal(c.n, 0); /* nothing committed yet */
    tu_run(f->base);

    k1s_store_range(s, "/r/pods/ns1/", NULL, collect_fn, &c);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.keys[0], "/r/pods/ns1/a");
    assert_string_equal(c.keys[1], "/r/pods/ns1/a/b");
    assert_string_equal(c.keys[2], "/r/pods/ns1/b");
    assert_string_equal(c.keys[3], "/r/pods/ns1/c");
    assert_int_equal(k1s_store_count_prefix(s, "/r/pods/ns1/"), 4);
    assert_int_equal(k1s_store_count_prefix(s, "/r/pods/ns1"), 6);
    assert_int_equal(k1s_store_count_prefix(s, "/r/pods/"), 7);
    assert_int_equal(k1s_store_count_prefix(s, "/r/"), 8);
    assert_int_equal(k1s_store_count_prefix(s, ""), 8);
    assert_int_equal(k1s_store_count_prefix(s, NULL), 8);
    assert_int_equal(k1s_store_count_prefix(s, "/q"), 0);
    assert_int_equal(k1s_store_count_prefix(s, "/r/pods/ns1\xff"), 1);

    memset(&c, 0, sizeof(c));
    k1s_store_range(s, "/r/pods/ns1/", "/r/pods/ns1/a/b", collect_fn, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "/r/pods/ns1/b");
    assert_string_equal(c.keys[1], "/r/pods/ns1/c");

    /* start_after before the prefix, between keys, and after all of them */
    memset(&c, 0, sizeof(c));
    k1s_store_range(s, "/r/pods/ns1/", "/a", collect_fn, &c);
    assert_int_equal(c.n, 4);
    memset(&c, 0, sizeof(c));
    k1s_store_range(s, "/r/pods/ns1/", "/r/pods/ns1/aa", collect_fn, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "/r/pods/ns1/b");
    memset(&c, 0, sizeof(c));
    k1s_store_range(s, "/r/pods/ns1/", "/r/pods/ns1/zzz", collect_fn, &c);
    assert_int_equal(c.n, 0);

    /* stopping early; everything */
    memset(&c, 0, sizeof(c));
    c.stop_at = 2;
    k1s_store_range(s, "", NULL, collect_fn, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "/r/pods/ns1/a");
    memset(&c, 0, sizeof(c));
    k1s_store_range(s, NULL, "", collect_fn, &c);
    assert_int_equal(c.n, 8);
    assert_string_equal(c.keys[7], "/r/svc/ns1/a");
    memset(&c, 0, sizeof(c));
    k1s_store_range(s, "/nothing/", NULL, collect_fn, &c);
    assert_int_equal(c.n, 0);
    fx_free(f);
}

typedef struct page {
    int n;
    char last[64];
    int64_t limit;
} page_t;

static int page_fn(k1s_kv_t *kv, void *arg)
{
    page_t *p = arg;
    snprintf(p->last, sizeof(p->last), "%s", kv->key);
    return ++p->n >= p->limit;
}

/* A list paged 500 at a time over 10,000 keys under a prefix (plus keys around it). */
static void test_range_pages(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    for (int i = 0; i < 10000; i++) {
        char key[64];
        snprintf(key, sizeof(key), "/r/pods/default/pod-%05d", (i * 7919) % 10000);
        put(f, key, "{}");
        if (i % 100 == 0) {
            snprintf(key, sizeof(key), "/r/pods/other/pod-%05d", i);
            put(f, key, "{}");
        }
    }
    put(f, "/r/pods/defaulu", "{}");
    tu_run(f->base);
    assert_int_equal(k1s_store_count_prefix(s, "/r/pods/default/"), 10000);
    page_t p = {0};
    p.limit = 500;
    int pages = 0, total = 0;
    char after[64] = "";
    for (;;) {
        p.n = 0;
        k1s_store_range(s, "/r/pods/default/", after, page_fn, &p);
        if (p.n == 0)
            break;
        char want[64];
        snprintf(want, sizeof(want), "/r/pods/default/pod-%05d", total + p.n - 1);
        assert_string_equal(p.last, want);
        total += p.n;
        pages++;
        snprintf(after, sizeof(after), "%s", p.last);
    }
    assert_int_equal(total, 10000);
    assert_int_equal(pages, 20);
    fx_free(f);
}

/* ---- group commit --------------------------------------------------------- */

static uint64_t bucket_sum(const k1s_store_stats_t *st)
{
    uint64_t n = 0;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(st->commit_buckets); i++)
        n += st->commit_buckets[i];
    return n;
}

static int done_order[256], ndone_order;

static void order_cb(int err, k1s_kv_t *kv, void *arg)
{
    assert_int_equal(err, 0);
    done_order[ndone_order++] = (int)(intptr_t)arg;
}

static void test_group_commit(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    ndone_order = 0;
    for (int i = 0; i < 100; i++) {
        char key[32];
        snprintf(key, sizeof(key), "/k/%d", i % 10);
        k1s_store_put(s, key, tu_val("%d", i), NULL, order_cb, (void *)(intptr_t)i);
    }
    tu_run(f->base);
    assert_int_equal(ndone_order, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(done_order[i], i);
    k1s_store_stats_t st;
    k1s_store_get_stats(s, &st);
    assert_int_equal(st.commits, 1);
    assert_int_equal(st.writes, 100);
    assert_int_equal(st.failed_commits, 0);
    assert_int_equal(bucket_sum(&st), 1);
    assert_true(st.commit_ns_total > 0);
    assert_true(st.db_size_bytes > 0);
    assert_int_equal(k1s_store_rev(s), 100);
    assert_string_equal(val_of(k1s_store_get(s, "/k/3")), "93");
    assert_int_equal(k1s_store_get(s, "/k/3")->create_rev, 4);

    /* Separate loop turns are separate commits. */
    put(f, "/x", "1");
    tu_run(f->base);
    put(f, "/x", "2");
    tu_run(f->base);
    k1s_store_get_stats(s, &st);
    assert_int_equal(st.commits, 3);
    assert_int_equal(st.writes, 102);
    assert_true(k1s_store_commit_bucket_ms[0] == 0.5);
    assert_true(k1s_store_commit_bucket_ms[10] == 1000);
    fx_free(f);
}

/* A done callback that queues the next write: a chain of commits, one per round. */
typedef struct chain {
    fx_t *f;
    int left;
} chain_t;

static void chain_cb(int err, k1s_kv_t *kv, void *arg)
{
    chain_t *c = arg;
    assert_int_equal(err, 0);
    if (c->left-- > 0)
        k1s_store_put(c->f->s, "/chain", tu_val("%d", c->left), NULL, chain_cb, c);
}

static void test_writes_from_callbacks(void **state)
{
    fx_t *f = fx_new(0, NULL);
    chain_t c = {f, 5};
    k1s_store_put(f->s, "/chain", tu_val("start"), NULL, chain_cb, &c);
    tu_run(f->base);
    assert_int_equal(c.left, -1);
    assert_int_equal(k1s_store_rev(f->s), 6);
    assert_string_equal(val_of(k1s_store_get(f->s, "/chain")), "0");

    /* k1s_store_free commits what is queued, including writes queued by done callbacks. */
    c.left = 3;
    k1s_store_put(f->s, "/chain", tu_val("again"), NULL, chain_cb, &c);
    fx_reopen(f);
    assert_int_equal(c.left, -1);
    assert_int_equal(k1s_store_rev(f->s), 10);
    fx_free(f);
}

typedef struct flusher {
    fx_t *f;
    int calls;
} flusher_t;

static int flush_in_range(k1s_kv_t *kv, void *arg)
{
    flusher_t *fl = arg;
    fl->calls++;
    k1s_store_flush(fl->f->s); /* must not commit under the iteration */
    return 0;
}

static int flush_in_watch(const k1s_store_event_t *ev, void *arg)
{
    flusher_t *fl = arg;
    fl->calls++;
    k1s_store_put(fl->f->s, "/from-watch", k1s_bytes_from_str("w"), NULL, NULL, NULL);
    k1s_store_flush(fl->f->s); /* no nested commit: it runs from the loop */
    return 1;
}

static void test_flush(void **state)
{
    fx_t *f = fx_new(0, NULL);
    tu_done_t d = {0};
    k1s_store_put(f->s, "/a", k1s_bytes_from_str("1"), NULL, tu_done_cb, &d);
    k1s_store_put(f->s, "/b", k1s_bytes_from_str("1"), NULL, tu_done_cb, &d);
    k1s_store_flush(f->s);
    assert_int_equal(d.calls, 2);
    assert_int_equal(k1s_store_rev(f->s), 2);
    assert_non_null(k1s_store_get(f->s, "/b"));
    k1s_store_flush(f->s); /* nothing queued */
    tu_run(f->base);       /* the already scheduled commit finds nothing to do */
    k1s_store_stats_t st;
    k1s_store_get_stats(f->s, &st);
    assert_int_equal(st.commits, 1);

    flusher_t fl = {f, 0};
    put(f, "/c", "1");
    k1s_store_range(f->s, "/", NULL, flush_in_range, &fl);
    assert_int_equal(fl.calls, 2);
    assert_null(k1s_store_get(f->s, "/c"));

    k1s_store_watch_t *w;
    assert_int_equal(k1s_store_watch(f->s, "/c", k1s_store_rev(f->s), flush_in_watch, &fl, &w), 0);
    tu_run(f->base);
    assert_int_equal(fl.calls, 3);
    assert_non_null(k1s_store_get(f->s, "/c"));
    assert_non_null(k1s_store_get(f->s, "/from-watch"));
    fx_free(f);
}

static void test_sync(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    /* Nothing queued: done on the next loop turn, no commit. */
    tu_done_t d = {0};
    k1s_store_sync(s, tu_done_cb, &d);
    assert_int_equal(d.calls, 0);
    tu_run(f->base);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.err, 0);
    assert_int_equal(d.revs[0], -1);
    k1s_store_stats_t st;
    k1s_store_get_stats(s, &st);
    assert_int_equal(st.commits, 0);
    assert_int_equal(k1s_store_next_rev(s), 1);

    /* After the writes queued before it, in order. */
    ndone_order = 0;
    k1s_store_put(s, "/a", k1s_bytes_from_str("1"), NULL, order_cb, (void *)1);
    k1s_store_put(s, "/b", k1s_bytes_from_str("1"), NULL, order_cb, (void *)2);
    k1s_store_sync(s, order_cb, (void *)3);
    assert_int_equal(k1s_store_next_rev(s), 3);
    tu_run(f->base);
    assert_int_equal(ndone_order, 3);
    assert_int_equal(done_order[2], 3);
    k1s_store_get_stats(s, &st);
    assert_int_equal(st.commits, 1);
    assert_int_equal(st.writes, 2);
    assert_int_equal(k1s_store_rev(s), 2);

    /* A failed commit fails the sync too. */
    k1s_err_t err;
    k1s_store_backend_t *b = k1s_store_get_backend(s);
    assert_int_equal(k1s_store_sqlite_exec(b, "PRAGMA max_page_count = 1", &err), 0);
    memset(&d, 0, sizeof(d));
    char *big = k1s_xcalloc(1, 100000);
    memset(big, 'y', 99999);
    k1s_store_put(s, "/big", k1s_bytes_from_str(big), NULL, NULL, NULL);
    k1s_store_sync(s, tu_done_cb, &d);
    k1s_log_level_t lvl = k1s_log_level;
    k1s_log_level = K1S_LOG_ERROR;
    tu_run(f->base);
    k1s_log_level = lvl;
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.err, -ENOSPC);
    free(big);

    /* A sync still queued at free is completed by it. */
    memset(&d, 0, sizeof(d));
    k1s_store_sync(s, tu_done_cb, &d);
    fx_reopen(f);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.err, 0);
    fx_free(f);
}

/* ---- watches ------------------------------------------------------------- */

typedef struct rec_ev {
    int type;
    int64_t rev, mod_rev, create_rev, prev_rev;
    char key[64], val[64], prev_val[64];
} rec_ev_t;

typedef struct rec {
    int n;
    rec_ev_t ev[512];
    int stop_at;                 /* end the watch when n reaches this */
    k1s_store_watch_t **unwatch; /* unwatch *unwatch (another watch) on the first event */
    k1s_store_t *s;              /* for starting a watch from a callback */
    struct rec *start_rec;       /* ... recording into this */
    int64_t start_from;
    k1s_store_watch_t *started;
} rec_t;

static int rec_fn(const k1s_store_event_t *ev, void *arg)
{
    rec_t *r = arg;
    assert_true(r->n < 512);
    rec_ev_t *e = &r->ev[r->n++];
    e->type = ev->type;
    e->rev = ev->rev;
    e->mod_rev = ev->kv->mod_rev;
    e->create_rev = ev->kv->create_rev;
    e->prev_rev = ev->prev ? ev->prev->mod_rev : 0;
    snprintf(e->key, sizeof(e->key), "%s", ev->kv->key);
    snprintf(e->val, sizeof(e->val), "%s", ev->kv->value->data);
    snprintf(e->prev_val, sizeof(e->prev_val), "%s", ev->prev ? ev->prev->value->data : "");
    if (r->unwatch && *r->unwatch) {
        k1s_store_unwatch(*r->unwatch);
        *r->unwatch = NULL;
    }
    if (r->start_rec && !r->started) {
        int rc = k1s_store_watch(r->s, "", r->start_from, rec_fn, r->start_rec, &r->started);
        assert_int_equal(rc, 0);
    }
    return r->stop_at && r->n >= r->stop_at;
}

static void test_watch_history_and_live(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    put(f, "/a/1", "a1");                    /* 1 */
    put(f, "/b/1", "b1");                    /* 2 */
    put(f, "/a/2", "a2");                    /* 3 */
    put(f, "/a/1", "a1'");                   /* 4 */
    k1s_store_delete(s, "/a/2", NULL, NULL); /* 5 */
    tu_run(f->base);

    rec_t r = {0};
    k1s_store_watch_t *w;
    assert_int_equal(k1s_store_watch(s, "/a/", 1, rec_fn, &r, &w), 0);
    assert_non_null(w);
    assert_int_equal(k1s_store_watch_count(s), 1);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.ev[0].type, K1S_STORE_PUT);
    assert_int_equal(r.ev[0].rev, 3);
    assert_string_equal(r.ev[0].key, "/a/2");
    assert_int_equal(r.ev[0].prev_rev, 0);
    assert_int_equal(r.ev[1].rev, 4);
    assert_string_equal(r.ev[1].val, "a1'");
    assert_string_equal(r.ev[1].prev_val, "a1");
    assert_int_equal(r.ev[1].prev_rev, 1);
    assert_int_equal(r.ev[1].create_rev, 1);
    assert_int_equal(r.ev[2].type, K1S_STORE_DELETE);
    assert_int_equal(r.ev[2].rev, 5);
    assert_int_equal(r.ev[2].mod_rev, 5);
    assert_string_equal(r.ev[2].val, "a2");
    assert_string_equal(r.ev[2].prev_val, "a2");
    assert_int_equal(r.ev[2].prev_rev, 3);

    /* From the current revision: only new changes. */
    rec_t all = {0};
    k1s_store_watch_t *wall;
    assert_int_equal(k1s_store_watch(s, "", k1s_store_rev(s), rec_fn, &all, &wall), 0);
    assert_int_equal(all.n, 0);

    put(f, "/b/2", "b2");     /* 6 */
    put(f, "/a/3", "a3");     /* 7 */
    assert_int_equal(r.n, 3); /* nothing before the commit */
    tu_run(f->base);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.ev[3].rev, 7);
    assert_string_equal(r.ev[3].key, "/a/3");
    assert_int_equal(all.n, 2);
    assert_int_equal(all.ev[0].rev, 6);
    assert_int_equal(all.ev[1].rev, 7);

    k1s_store_unwatch(w);
    assert_int_equal(k1s_store_watch_count(s), 1);
    put(f, "/a/4", "a4");
    tu_run(f->base);
    assert_int_equal(r.n, 4);
    assert_int_equal(all.n, 3);
    k1s_store_unwatch(NULL);
    /* wall is freed by k1s_store_free */
    fx_free(f);
}

static void test_watch_future_rev(void **state)
{
    fx_t *f = fx_new(0, NULL);
    put(f, "/a", "1");
    tu_run(f->base);
    rec_t r = {0};
    k1s_store_watch_t *w;
    assert_int_equal(k1s_store_watch(f->s, "", 2, rec_fn, &r, &w), 0);
    put(f, "/a", "2"); /* 2: not after from_rev */
    tu_run(f->base);
    put(f, "/a", "3");
    tu_run(f->base);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.ev[0].rev, 3);
    fx_free(f);
}

static void test_watch_gone(void **state)
{
    fx_t *f = fx_new(5, NULL);
    k1s_store_t *s = f->s;
    for (int i = 0; i < 20; i++) {
        k1s_store_put(s, "/k", tu_val("%d", i), NULL, NULL, NULL);
        if (i % 3 == 0)
            tu_run(f->base);
    }
    tu_run(f->base);
    assert_int_equal(k1s_store_rev(s), 20);
    assert_int_equal(k1s_store_oldest_rev(s), 15);
    k1s_store_watch_t *w = (void *)1;
    rec_t r = {0};
    assert_int_equal(k1s_store_watch(s, "", 14, rec_fn, &r, &w), -K1S_EGONE);
    assert_ptr_equal(w, (void *)1);
    assert_int_equal(k1s_store_watch(s, "", 0, rec_fn, &r, &w), -K1S_EGONE);
    assert_int_equal(k1s_store_watch_count(s), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(k1s_store_watch(s, "", 15, rec_fn, &r, &w), 0);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.ev[0].rev, 16);
    assert_int_equal(r.ev[0].prev_rev, 15);
    assert_int_equal(r.ev[4].rev, 20);
    rec_t r2 = {0};
    assert_int_equal(k1s_store_watch(s, "", 20, rec_fn, &r2, &w), 0);
    assert_int_equal(r2.n, 0);
    fx_free(f);
}

static void test_watch_end_by_return(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    put(f, "/a", "1");
    put(f, "/a", "2");
    tu_run(f->base);
    /* Ends during history delivery: no handle. */
    rec_t r = {.stop_at = 1};
    k1s_store_watch_t *w = (void *)1;
    assert_int_equal(k1s_store_watch(s, "", 0, rec_fn, &r, &w), 0);
    assert_null(w);
    assert_int_equal(r.n, 1);
    assert_int_equal(k1s_store_watch_count(s), 0);

    /* Ends during a live fan-out, after two of three events of one commit. */
    rec_t r2 = {.stop_at = 2};
    assert_int_equal(k1s_store_watch(s, "", k1s_store_rev(s), rec_fn, &r2, &w), 0);
    put(f, "/a", "3");
    put(f, "/b", "1");
    put(f, "/c", "1");
    tu_run(f->base);
    assert_int_equal(r2.n, 2);
    assert_int_equal(k1s_store_watch_count(s), 0);
    put(f, "/a", "4");
    tu_run(f->base);
    assert_int_equal(r2.n, 2);
    fx_free(f);
}

/* One watcher's callback closes others and starts a new watch in the middle of a fan-out. */
static void test_watch_changes_during_fanout(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    put(f, "/x", "0");
    tu_run(f->base);

    rec_t ra = {0}, rb = {0}, rc = {0}, rd = {0}, re = {0};
    k1s_store_watch_t *wa, *wb, *wc, *wd = NULL;
    assert_int_equal(k1s_store_watch(s, "", 1, rec_fn, &ra, &wa), 0);
    assert_int_equal(k1s_store_watch(s, "", 1, rec_fn, &rb, &wb), 0);
    assert_int_equal(k1s_store_watch(s, "", 1, rec_fn, &rc, &wc), 0);
    /* a closes b (after it in the list) on its first event; c closes a (before it). */
    ra.unwatch = &wb;
    rc.unwatch = &wa;
    /* c also starts d from revision 1 on its first event: d gets 2..3 from history, once. */
    rc.s = s;
    rc.start_rec = &rd;
    rc.start_from = 1;
    /* a second "new" watch e from the current revision, started by a on its first event */
    ra.s = s;
    ra.start_rec = &re;
    ra.start_from = 3;

    put(f, "/x", "1"); /* 2 */
    put(f, "/y", "1"); /* 3 */
    tu_run(f->base);
    wd = rc.started;
    assert_int_equal(ra.n, 1); /* closed by c during the fan-out of revision 2 */
    assert_int_equal(rb.n, 0);
    assert_int_equal(rc.n, 2);
    assert_int_equal(rd.n, 2);
    assert_int_equal(rd.ev[0].rev, 2);
    assert_int_equal(rd.ev[1].rev, 3);
    assert_int_equal(re.n, 0);
    assert_int_equal(k1s_store_watch_count(s), 3); /* c, d, e */

    put(f, "/x", "2"); /* 4 */
    tu_run(f->base);
    assert_int_equal(rc.n, 3);
    assert_int_equal(rd.n, 3);
    assert_int_equal(re.n, 1);
    assert_int_equal(re.ev[0].rev, 4);
    k1s_store_unwatch(wd);
    k1s_store_unwatch(wc);
    k1s_store_unwatch(ra.started);
    assert_int_equal(k1s_store_watch_count(s), 0);
    fx_free(f);
}

/* ---- persistence ------------------------------------------------------------ */

static void test_persistence(void **state)
{
    fx_t *f = fx_new(100, NULL);
    put(f, "/a", "a1"); /* 1 */
    put(f, "/b", "b1"); /* 2 */
    tu_run(f->base);
    put(f, "/a", "a2");                       /* 3 */
    k1s_store_delete(f->s, "/b", NULL, NULL); /* 4 */
    put(f, "/c", "c1");                       /* 5 */
    tu_run(f->base);
    tu_done_t d = {0};
    k1s_store_put(f->s, "/d", k1s_bytes_from_str("d1"), NULL, tu_done_cb, &d); /* 6, at free */
    fx_reopen(f);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.err, 0);

    k1s_store_t *s = f->s;
    assert_int_equal(k1s_store_rev(s), 6);
    assert_int_equal(k1s_store_next_rev(s), 7);
    assert_int_equal(k1s_store_oldest_rev(s), 0);
    assert_int_equal(k1s_store_count(s), 3);
    k1s_kv_t *a = k1s_store_get(s, "/a");
    assert_string_equal(val_of(a), "a2");
    assert_int_equal(a->create_rev, 1);
    assert_int_equal(a->mod_rev, 3);
    assert_null(k1s_store_get(s, "/b"));
    assert_string_equal(val_of(k1s_store_get(s, "/d")), "d1");

    /* History is seeded: a watch resumes across the restart, with prev values. */
    rec_t r = {0};
    k1s_store_watch_t *w;
    assert_int_equal(k1s_store_watch(s, "", 2, rec_fn, &r, &w), 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.ev[0].rev, 3);
    assert_string_equal(r.ev[0].val, "a2");
    assert_string_equal(r.ev[0].prev_val, "a1");
    assert_int_equal(r.ev[1].type, K1S_STORE_DELETE);
    assert_int_equal(r.ev[1].rev, 4);
    assert_int_equal(r.ev[1].mod_rev, 4);
    assert_int_equal(r.ev[1].create_rev, 2);
    assert_string_equal(r.ev[1].key, "/b");
    assert_string_equal(r.ev[1].val, "b1");
    assert_int_equal(r.ev[1].prev_rev, 2);
    assert_int_equal(r.ev[2].rev, 5);
    assert_int_equal(r.ev[3].rev, 6);

    /* Revisions keep increasing; create_rev survives. */
    put(f, "/a", "a3");
    tu_run(f->base);
    assert_int_equal(k1s_store_rev(s), 7);
    assert_int_equal(r.n, 5);
    assert_int_equal(k1s_store_get(s, "/a")->create_rev, 1);
    fx_free(f);
}

/* After compaction and a restart the window is what compaction left, prevs included. */
static void test_persistence_after_compaction(void **state)
{
    fx_t *f = fx_new(10, NULL);
    for (int i = 0; i < 30; i++) {
        char key[16];
        snprintf(key, sizeof(key), "/k%d", i % 4);
        k1s_store_put(f->s, key, tu_val("v%d", i + 1), NULL, NULL, NULL);
        tu_run(f->base);
    }
    k1s_store_delete(f->s, "/k0", NULL, NULL); /* 31 */
    put(f, "/z", "z");                         /* 32 */
    tu_run(f->base);
    k1s_err_t err;
    assert_int_equal(k1s_store_maintain(f->s, &err), 0);
    assert_int_equal(k1s_store_oldest_rev(f->s), 22);
    fx_reopen(f);
    k1s_store_t *s = f->s;
    assert_int_equal(k1s_store_rev(s), 32);
    assert_int_equal(k1s_store_oldest_rev(s), 22);
    assert_int_equal(k1s_store_count(s), 4);
    assert_string_equal(val_of(k1s_store_get(s, "/k1")), "v30");
    assert_int_equal(k1s_store_get(s, "/k1")->create_rev, 2);
    k1s_store_watch_t *w;
    rec_t r = {0};
    assert_int_equal(k1s_store_watch(s, "", 21, rec_fn, &r, &w), -K1S_EGONE);
    assert_int_equal(k1s_store_watch(s, "", 22, rec_fn, &r, &w), 0);
    assert_int_equal(r.n, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(r.ev[i].rev, 23 + i);
        if (r.ev[i].rev <= 30) {
            char want[16];
            snprintf(want, sizeof(want), "v%d", (int)r.ev[i].rev - 4);
            assert_string_equal(r.ev[i].prev_val, want);
            assert_int_equal(r.ev[i].prev_rev, r.ev[i].rev - 4);
        }
    }
    assert_int_equal(r.ev[8].type, K1S_STORE_DELETE);
    assert_string_equal(r.ev[8].val, "v29");
    assert_string_equal(r.ev[8].prev_val, "v29");
    assert_int_equal(r.ev[9].prev_rev, 0);
    fx_free(f);
}

static void test_open_errors(void **state)
{
    char *dir = tu_tmpdir();
    char *path = k1s_xasprintf("%s/junk.db", dir);
    FILE *fp = fopen(path, "w");
    for (int i = 0; i < 1000; i++)
        fputs("this is not a database at all ", fp);
    fclose(fp);
    struct event_base *base = event_base_new();
    k1s_store_opts_t opts = {.path = path, .history_age_ms = -1};
    k1s_store_t *s = NULL;
    k1s_err_t err;
    int r = k1s_store_open(base, &opts, &s, &err);
    assert_true(r < 0);
    assert_null(s);
    assert_int_equal(err.code, -r);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "file is not a database"));

    /* A directory where the file should be. */
    char *path2 = k1s_xasprintf("%s/adir", dir);
    mkdir(path2, 0700);
    opts.path = path2;
    r = k1s_store_open(base, &opts, &s, &err);
    assert_true(r < 0);
    assert_non_null(strstr(err.msg, path2));

    /* The database's directory is created, private. */
    char *path3 = k1s_xasprintf("%s/x/y/state.db", dir);
    opts.path = path3;
    assert_int_equal(k1s_store_open(base, &opts, &s, &err), 0);
    k1s_store_free(s);
    char *ydir = k1s_xasprintf("%s/x/y", dir);
    struct stat st;
    assert_int_equal(stat(ydir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    opts.path = NULL;
    assert_int_equal(k1s_store_open(base, &opts, &s, &err), -EINVAL);
    event_base_free(base);
    tu_rmrf(dir);
    free(dir);
    free(path);
    free(path2);
    free(path3);
    free(ydir);
}

/* A database damaged inside (not in its header) fails at load with SQLite's reason. */
static void test_open_damaged(void **state)
{
    fx_t *f = fx_new(0, NULL);
    for (int i = 0; i < 2000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "/k%d", i);
        put(f, key, "some value here");
    }
    tu_run(f->base);
    k1s_store_free(f->s);
    f->s = NULL;
    int fd = open(f->path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 0x5a, sizeof(junk));
    for (int page = 3; page < 12; page += 2)
        assert_int_equal(pwrite(fd, junk, sizeof(junk), (off_t)page * 4096), sizeof(junk));
    close(fd);
    k1s_err_t err;
    int r = k1s_store_open(f->base, &f->opts, &f->s, &err);
    assert_int_equal(r, -EIO);
    assert_null(f->s);
    assert_non_null(strstr(err.msg, f->path));
    assert_non_null(strstr(err.msg, "malformed"));
    fx_free(f);
}

/* ---- failures -------------------------------------------------------------- */

static void test_commit_failure_disk_full(void **state)
{
    fx_t *f = fx_new(0, NULL);
    k1s_store_t *s = f->s;
    put(f, "/keep", "1");
    tu_run(f->base);
    k1s_store_backend_t *b = k1s_store_get_backend(s);
    k1s_err_t err;
    /* Fill the database up to its page limit: a batch of big values cannot fit. */
    assert_int_equal(k1s_store_sqlite_exec(b, "PRAGMA max_page_count = 20", &err), 0);
    char *big = k1s_xmalloc(100000);
    memset(big, 'x', 99999);
    big[99999] = 0;
    tu_done_t d = {0};
    rec_t r = {0};
    k1s_store_watch_t *w;
    assert_int_equal(k1s_store_watch(s, "", k1s_store_rev(s), rec_fn, &r, &w), 0);
    k1s_log_level_t lvl = k1s_log_level;
    k1s_log_level = K1S_LOG_ERROR; /* the warning is expected */
    for (int i = 0; i < 12; i++) {
        char key[16];
        snprintf(key, sizeof(key), "/big/%d", i);
        assert_int_equal(k1s_store_put(s, key, k1s_bytes_from_str(big), NULL, tu_done_cb, &d),
                         2 + i);
    }
    k1s_store_put(s, "/keep", k1s_bytes_from_str("2"), NULL, tu_done_cb, &d);
    assert_int_equal(k1s_store_delete(s, "/keep", tu_done_cb, &d), 15);
    assert_null(k1s_store_get_latest(s, "/keep"));
    tu_run(f->base);
    k1s_log_level = lvl;
    assert_int_equal(d.calls, 14);
    for (int i = 0; i < 14; i++) {
        assert_int_equal(d.errs[i], -ENOSPC);
        assert_int_equal(d.revs[i], -1);
    }
    /* Nothing changed. */
    assert_int_equal(r.n, 0);
    assert_int_equal(k1s_store_rev(s), 1);
    assert_int_equal(k1s_store_next_rev(s), 2);
    assert_int_equal(k1s_store_count(s), 1);
    assert_null(k1s_store_get_latest(s, "/big/0"));
    assert_string_equal(val_of(k1s_store_get_latest(s, "/keep")), "1");
    k1s_store_stats_t st;
    k1s_store_get_stats(s, &st);
    assert_int_equal(st.failed_commits, 1);
    assert_int_equal(st.commits, 1);
    assert_int_equal(bucket_sum(&st), 1); /* successful commits only */

    /* Once there is room again the store works, reusing the revisions. */
    assert_int_equal(k1s_store_sqlite_exec(b, "PRAGMA max_page_count = 1000000", &err), 0);
    memset(&d, 0, sizeof(d));
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof(key), "/big/%d", i);
        k1s_store_put(s, key, k1s_bytes_from_str(big), NULL, tu_done_cb, &d);
    }
    tu_run(f->base);
    assert_int_equal(d.calls, 3);
    assert_int_equal(d.errs[0], 0);
    assert_int_equal(d.revs[0], 2);
    assert_int_equal(d.revs[2], 4);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.ev[0].rev, 2);
    assert_int_equal(k1s_store_rev(s), 4);
    fx_reopen(f);
    assert_int_equal(k1s_store_rev(f->s), 4);
    assert_int_equal(k1s_store_count(f->s), 4);
    assert_int_equal(k1s_store_get(f->s, "/big/2")->value->len, 99999);
    free(big);
    fx_free(f);
}

/* ---- kv and aux lifetimes ----------------------------------------------------- */

static int aux_live, aux_made;

static void *make_aux(const char *key, const k1s_bytes_t *value, void *arg)
{
    assert_ptr_equal(arg, &aux_live);
    aux_live++;
    aux_made++;
    return k1s_xstrdup(value->data);
}

static void free_aux(void *aux, void *arg)
{
    assert_ptr_equal(arg, &aux_live);
    aux_live--;
    free(aux);
}

static const k1s_store_hooks_t hooks = {make_aux, free_aux, &aux_live};

static void *new_aux(const char *v)
{
    aux_live++;
    return k1s_xstrdup(v);
}

static void test_aux_and_refs(void **state)
{
    aux_live = aux_made = 0;
    fx_t *f = fx_new(100, &hooks);
    k1s_store_t *s = f->s;
    k1s_store_put(s, "/a", k1s_bytes_from_str("a1"), new_aux("a1"), NULL, NULL);
    k1s_store_put(s, "/a", k1s_bytes_from_str("a2"), new_aux("a2"), NULL, NULL);
    k1s_store_put(s, "/b", k1s_bytes_from_str("b1"), new_aux("b1"), NULL, NULL);
    tu_run(f->base);
    k1s_store_delete(s, "/b", NULL, NULL);
    tu_run(f->base);
    assert_int_equal(aux_made, 0);
    assert_string_equal((char *)k1s_store_get(s, "/a")->aux, "a2");

    /* A delete event's kv carries the deleted value's aux. */
    rec_t r = {0};
    k1s_store_watch_t *w;
    assert_int_equal(k1s_store_watch(s, "/b", 3, rec_fn, &r, &w), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.ev[0].type, K1S_STORE_DELETE);

    /* Loaded rows get aux from make_aux: 1 live (a2) + history (a1; b1 is the delete's prev). */
    fx_reopen(f);
    s = f->s;
    assert_int_equal(aux_made, 3);
    assert_string_equal((char *)k1s_store_get(s, "/a")->aux, "a2");

    /* A kv may outlive the store; its aux is freed with the last reference. */
    k1s_kv_t *kept = k1s_kv_ref(k1s_store_get(s, "/a"));
    k1s_store_free(s);
    f->s = NULL;
    assert_int_equal(aux_live, 1);
    assert_string_equal(val_of(kept), "a2");
    k1s_kv_unref(kept);
    assert_int_equal(aux_live, 0);
    fx_free(f);

    k1s_kv_t *kv = k1s_kv_new("/x", 1, 2, k1s_bytes_from_str("x"));
    assert_string_equal(kv->key, "/x");
    assert_int_equal(kv->refs, 1);
    k1s_kv_unref(k1s_kv_ref(kv));
    k1s_kv_unref(kv);
    k1s_kv_unref(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_latest),
        cmocka_unit_test(test_create_rev_kept),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_range_pages),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_writes_from_callbacks),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_watch_history_and_live),
        cmocka_unit_test(test_watch_future_rev),
        cmocka_unit_test(test_watch_gone),
        cmocka_unit_test(test_watch_end_by_return),
        cmocka_unit_test(test_watch_changes_during_fanout),
        cmocka_unit_test(test_persistence),
        cmocka_unit_test(test_persistence_after_compaction),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_open_damaged),
        cmocka_unit_test(test_commit_failure_disk_full),
        cmocka_unit_test(test_aux_and_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
