/*
 * Crash test for the store: a forked child writes as fast as it can (puts
 * of varying sizes and deletes, in groups, with automatic compaction) and
 * reports on a pipe every write it queues (before the commit) and every
 * write acknowledged to it; the parent kills it with SIGKILL at a random
 * moment. Because groups commit atomically and in order, the database must
 * then hold exactly the queued writes up to some group boundary R, with R
 * at or after the last acknowledged write. The parent checks that, value
 * by value, plus `PRAGMA integrity_check`, the rebuilt watch history, and
 * that revisions go on after R. Several rounds crash the same database.
 *
 * K1S_CRASH_SEED=n replays a run; K1S_CRASH_ROUNDS=n changes the count.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"
#include "testutil.h"

#define NKEYS 200

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void key_name(char *buf, size_t len, int k)
{
    snprintf(buf, len, "/registry/pods/ns%d/pod-%d", k % 7, k);
}

/* A value that says which key and revision it belongs to, padded to len. */
static k1s_bytes_t *make_value(const char *key, int64_t rev, size_t len)
{
    char head[96];
    int n = snprintf(head, sizeof(head), "%s@%lld;", key, (long long)rev);
    if (len < (size_t)n)
        len = (size_t)n;
    char *v = k1s_xmalloc(len + 1);
    memcpy(v, head, (size_t)n);
    for (size_t i = (size_t)n; i < len; i++)
        v[i] = (char)('a' + (i + (size_t)rev) % 26);
    k1s_bytes_t *b = k1s_bytes_new(v, len);
    free(v);
    return b;
}

static bool value_ok(const k1s_kv_t *kv)
{
    char head[96];
    int n = snprintf(head, sizeof(head), "%s@%lld;", kv->key, (long long)kv->mod_rev);
    if (kv->value->len < (size_t)n || memcmp(kv->value->data, head, (size_t)n) != 0)
        return false;
    for (size_t i = (size_t)n; i < kv->value->len; i++) {
        if (kv->value->data[i] != (char)('a' + (i + (size_t)kv->mod_rev) % 26))
            return false;
    }
    return true;
}

/* ---- the child ----------------------------------------------------------------- */

static int child_fd;

static void say(const char *fmt, ...)
{
    char line[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (write(child_fd, line, (size_t)n) != n)
        _exit(4);
}

static void child_done(int err, k1s_kv_t *kv, void *arg)
{
    if (err)
        _exit(3);
    say("A %lld\n", (long long)(intptr_t)arg);
}

static _Noreturn void child(const char *path, int fd, uint64_t seed)
{
    rng = seed;
    child_fd = fd;
    struct event_base *base = event_base_new();
    k1s_store_opts_t opts = {.path = path, .history = 300, .history_age_ms = -1};
    k1s_store_t *s;
    k1s_err_t err;
    if (k1s_store_open(base, &opts, &s, &err) < 0) {
        fprintf(stderr, "child: %s\n", err.msg);
        _exit(2);
    }
    for (;;) {
        int n = 1 + (int)rnd(60);
        for (int i = 0; i < n; i++) {
            int k = (int)rnd(NKEYS);
            char key[64];
            key_name(key, sizeof(key), k);
            int64_t rev = k1s_store_next_rev(s);
            if (k1s_store_get_latest(s, key) && rnd(4) == 0) {
                say("I %lld D %d 0\n", (long long)rev, k);
                k1s_store_delete(s, key, child_done, (void *)(intptr_t)rev);
            } else {
                size_t len = rnd(8) == 0 ? 20000 + rnd(30000) : 50 + rnd(2000);
                say("I %lld P %d %zu\n", (long long)rev, k, len);
                k1s_store_put(s, key, make_value(key, rev, len), NULL, child_done,
                              (void *)(intptr_t)rev);
            }
        }
        say("B %lld\n", (long long)k1s_store_next_rev(s) - 1);
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
}

/* ---- the parent ------------------------------------------------------------------ */

typedef struct keystate {
    int64_t mod_rev, create_rev; /* mod_rev 0: absent */
    size_t len;
} keystate_t;

typedef struct intent {
    int64_t rev;
    char op;
    int key;
    size_t len;
} intent_t;

typedef struct run {
    keystate_t base[NKEYS]; /* the state the round started from */
    int64_t base_rev;
    intent_t *intents;
    size_t nintents, cap;
    int64_t *batch_ends;
    size_t nbatches, bcap;
    int64_t max_acked;
    long acks;
    char buf[1 << 16];
    size_t len;
} run_t;

static void parse_line(run_t *r, const char *p)
{
    long long rev;
    char op;
    int key;
    size_t len;
    if (sscanf(p, "I %lld %c %d %zu", &rev, &op, &key, &len) == 4) {
        assert_true(key >= 0 && key < NKEYS);
        int64_t prev = r->nintents ? r->intents[r->nintents - 1].rev : r->base_rev;
        assert_int_equal(rev, prev + 1);
        if (r->nintents == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 1024;
            r->intents = k1s_xrealloc(r->intents, r->cap * sizeof(*r->intents));
        }
        r->intents[r->nintents++] = (intent_t){rev, op, key, len};
    } else if (sscanf(p, "B %lld", &rev) == 1) {
        if (r->nbatches == r->bcap) {
            r->bcap = r->bcap ? r->bcap * 2 : 1024;
            r->batch_ends = k1s_xrealloc(r->batch_ends, r->bcap * sizeof(*r->batch_ends));
        }
        r->batch_ends[r->nbatches++] = rev;
    } else if (sscanf(p, "A %lld", &rev) == 1) {
        assert_true(rev > r->max_acked);
        r->max_acked = rev;
        r->acks++;
    } else {
        fail_msg("bad line from child: %s", p);
    }
}

/* Reads what is there; returns false at end of file. */
static bool read_lines(int fd, run_t *r)
{
    ssize_t n = read(fd, r->buf + r->len, sizeof(r->buf) - r->len - 1);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0)
        return false;
    r->len += (size_t)n;
    r->buf[r->len] = 0;
    char *p = r->buf, *nl;
    while ((nl = strchr(p, '\n'))) {
        *nl = 0;
        parse_line(r, p);
        p = nl + 1;
    }
    r->len -= (size_t)(p - r->buf);
    memmove(r->buf, p, r->len);
    return true;
}

static char *integrity(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    char *res = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        res = k1s_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return res ? res : k1s_xstrdup("(no result)");
}

typedef struct hist {
    int64_t last;
    int n;
} hist_t;

static int hist_fn(const k1s_store_event_t *ev, void *arg)
{
    hist_t *h = arg;
    assert_true(ev->rev > h->last);
    assert_int_equal(ev->kv->mod_rev, ev->rev);
    assert_true(value_ok(ev->kv) || ev->type == K1S_STORE_DELETE);
    h->last = ev->rev;
    h->n++;
    return 0;
}

static void snapshot(k1s_store_t *s, run_t *r)
{
    for (int k = 0; k < NKEYS; k++) {
        char key[64];
        key_name(key, sizeof(key), k);
        k1s_kv_t *kv = k1s_store_get(s, key);
        r->base[k] =
            kv ? (keystate_t){kv->mod_rev, kv->create_rev, kv->value->len} : (keystate_t){0, 0, 0};
    }
    r->base_rev = k1s_store_rev(s);
}

static void verify(const char *path, run_t *r, int round)
{
    char *ic = integrity(path);
    if (strcmp(ic, "ok") != 0)
        fail_msg("round %d: integrity_check: %s", round, ic);
    free(ic);

    struct event_base *base = event_base_new();
    k1s_store_opts_t opts = {.path = path, .history = 300, .history_age_ms = -1};
    k1s_store_t *s;
    k1s_err_t err;
    if (k1s_store_open(base, &opts, &s, &err) < 0)
        fail_msg("round %d: reopen: %s", round, err.msg);

    /* The durable state ends at a group boundary at or after the last acknowledged write. */
    int64_t R = k1s_store_rev(s);
    if (R < r->max_acked)
        fail_msg("round %d: revision %lld, but %lld was acknowledged", round, (long long)R,
                 (long long)r->max_acked);
    bool boundary = R == r->base_rev;
    for (size_t i = 0; i < r->nbatches && !boundary; i++)
        boundary = r->batch_ends[i] == R;
    if (!boundary)
        fail_msg("round %d: revision %lld is inside a group", round, (long long)R);

    keystate_t want[NKEYS];
    memcpy(want, r->base, sizeof(want));
    for (size_t i = 0; i < r->nintents && r->intents[i].rev <= R; i++) {
        const intent_t *in = &r->intents[i];
        keystate_t *w = &want[in->key];
        if (in->op == 'D')
            *w = (keystate_t){0, 0, 0};
        else
            *w = (keystate_t){in->rev, w->mod_rev ? w->create_rev : in->rev, in->len};
    }
    size_t live = 0;
    for (int k = 0; k < NKEYS; k++) {
        char key[64];
        key_name(key, sizeof(key), k);
        k1s_kv_t *kv = k1s_store_get(s, key);
        if (!want[k].mod_rev) {
            if (kv)
                fail_msg("round %d: %s is there (rev %lld) but should not be", round, key,
                         (long long)kv->mod_rev);
            continue;
        }
        live++;
        if (!kv)
            fail_msg("round %d: %s at %lld is missing", round, key, (long long)want[k].mod_rev);
        assert_int_equal(kv->mod_rev, want[k].mod_rev);
        assert_int_equal(kv->create_rev, want[k].create_rev);
        assert_int_equal(kv->value->len, want[k].len);
        if (!value_ok(kv))
            fail_msg("round %d: torn value under %s", round, key);
    }
    assert_int_equal(k1s_store_count(s), live);

    hist_t h = {k1s_store_oldest_rev(s), 0};
    k1s_store_watch_t *w;
    assert_int_equal(k1s_store_watch(s, "", k1s_store_oldest_rev(s), hist_fn, &h, &w), 0);
    assert_int_equal(h.last, R);
    k1s_store_unwatch(w);

    /* Revisions go on after R. */
    tu_done_t d = {0};
    char key[64];
    key_name(key, sizeof(key), 0);
    k1s_store_put(s, key, make_value(key, R + 1, 10), NULL, tu_done_cb, &d);
    tu_run(base);
    assert_int_equal(d.err, 0);
    assert_int_equal(d.revs[0], R + 1);
    snapshot(s, r);
    k1s_store_free(s);
    event_base_free(base);
}

static void test_crash(void **state)
{
    const char *env = getenv("K1S_CRASH_SEED");
    uint64_t seed =
        env ? strtoull(env, NULL, 10) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
    env = getenv("K1S_CRASH_ROUNDS");
    int rounds = env ? atoi(env) : 8;
    print_message("crash: seed %llu, %d rounds\n", (unsigned long long)seed, rounds);
    rng = seed | 1;
    char *dir = tu_tmpdir();
    char *path = k1s_xasprintf("%s/db/state.db", dir);
    run_t *r = k1s_xcalloc(1, sizeof(*r));
    for (int round = 0; round < rounds; round++) {
        r->nintents = r->nbatches = 0;
        r->max_acked = r->base_rev;
        r->acks = 0;
        r->len = 0;
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        uint64_t child_seed = rng ^ (uint64_t)(round + 1) * 0x9e3779b97f4a7c15ull;
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(path, fds[1], child_seed | 1);
        }
        close(fds[1]);
        int delay_ms = 20 + (int)rnd(400);
        uint64_t deadline = k1s_now_ns() + (uint64_t)delay_ms * 1000000u;
        for (;;) {
            uint64_t now = k1s_now_ns();
            if (now >= deadline)
                break;
            struct pollfd p = {fds[0], POLLIN, 0};
            if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) > 0 && !read_lines(fds[0], r))
                break;
        }
        kill(pid, SIGKILL);
        /* What the child wrote before it died is still in the pipe. */
        while (read_lines(fds[0], r))
            ;
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("round %d: child ended by itself (status %d)", round, status);
        int64_t base_rev = r->base_rev;
        size_t queued = r->nintents;
        verify(path, r, round);
        print_message("crash: round %d: killed after %d ms: %zu writes queued, %ld acknowledged, "
                      "%lld durable\n",
                      round, delay_ms, queued, r->acks, (long long)(r->base_rev - 1 - base_rev));
    }
    free(r->intents);
    free(r->batch_ends);
    free(r);
    tu_rmrf(dir);
    free(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
