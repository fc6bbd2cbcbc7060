/*
 * Store benchmark: durable writes per second through k1s_store (group
 * commit, SQLite WAL, synchronous=FULL) with 1..256 concurrent writers,
 * next to a raw SQLite loop with the same durability (WAL,
 * synchronous=FULL, one transaction per insert) on the same disk. Also
 * times get and a list of 10,000 keys under a prefix from the cache.
 *
 * Build and run: sh bench/store/run.sh [dir]   (dir: where the databases go; default $TMPDIR)
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "lib/util.h"
#include "store/store.h"

#define VALUE_LEN 1024

static char value_buf[VALUE_LEN];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static char *make_dir(const char *base)
{
    char *t = k1s_xasprintf("%s/k1s-store-bench-XXXXXX", base);
    if (!mkdtemp(t)) {
        perror("mkdtemp");
        exit(1);
    }
    return t;
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* ---- raw SQLite ------------------------------------------------------------------ */

static double bench_raw(const char *dir, int n)
{
    static int runs;
    char *path = k1s_xasprintf("%s/raw-%d.db", dir, runs++);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        exit(1);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE kv(rev INTEGER PRIMARY KEY, key TEXT, value BLOB)",
                 NULL, NULL, NULL);
    sqlite3_stmt *begin, *ins, *commit;
    sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO kv(rev, key, value) VALUES (?, ?, ?)", -1, &ins, NULL);
    sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL);
    uint64_t t0 = k1s_now_ns();
    for (int i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof(key), "/registry/configmaps/default/cm-%d", i % 1000);
        sqlite3_step(begin);
        sqlite3_reset(begin);
        sqlite3_bind_int64(ins, 1, i + 1);
        sqlite3_bind_text(ins, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 3, value_buf, VALUE_LEN, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            exit(1);
        sqlite3_reset(ins);
        if (sqlite3_step(commit) != SQLITE_DONE)
            exit(1);
        sqlite3_reset(commit);
    }
    double rate = n / secs(k1s_now_ns() - t0);
    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    free(path);
    return rate;
}

/* ---- the store -------------------------------------------------------------------- */

typedef struct bench {
    k1s_store_t *s;
    struct event_base *base;
    int issued, done, total;
} bench_t;

typedef struct client {
    bench_t *b;
    int id;
} client_t;

static void issue(client_t *c);

static void client_done(int err, k1s_kv_t *kv, void *arg)
{
    client_t *c = arg;
    if (err) {
        fprintf(stderr, "write failed: %s\n", strerror(-err));
        exit(1);
    }
    c->b->done++;
    if (c->b->done == c->b->total) {
        /* The store keeps timers of its own (the watch history's age bound), so the loop
         * would not run empty: stop it when the last write is acknowledged. */
        event_base_loopbreak(c->b->base);
        return;
    }
    issue(c);
}

/* Each client has one write in flight, as an API client waiting for its response. */
static void issue(client_t *c)
{
    bench_t *b = c->b;
    if (b->issued >= b->total)
        return;
    b->issued++;
    char key[64];
    snprintf(key, sizeof(key), "/registry/configmaps/default/cm-%d",
             (b->issued * 7 + c->id) % 1000);
    k1s_store_put(b->s, key, k1s_bytes_new(value_buf, VALUE_LEN), NULL, client_done, c);
}

static double bench_store(const char *dir, int clients, int n, double *per_commit)
{
    static int runs;
    char *path = k1s_xasprintf("%s/store-%d.db", dir, runs++);
    struct event_base *base = event_base_new();
    k1s_store_opts_t opts = {.path = path};
    bench_t b = {.base = base, .total = n};
    k1s_err_t err;
    if (k1s_store_open(base, &opts, &b.s, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    client_t *cs = k1s_xcalloc((size_t)clients, sizeof(*cs));
    uint64_t t0 = k1s_now_ns();
    for (int i = 0; i < clients; i++) {
        cs[i] = (client_t){&b, i};
        issue(&cs[i]);
    }
    event_base_dispatch(base);
    double rate = b.done / secs(k1s_now_ns() - t0);
    k1s_store_stats_t st;
    k1s_store_get_stats(b.s, &st);
    *per_commit = st.commits ? (double)st.writes / (double)st.commits : 0;
    k1s_store_free(b.s);
    event_base_free(base);
    free(cs);
    free(path);
    return rate;
}

/* ---- reads from the cache ------------------------------------------------------------ */

static int count_fn(k1s_kv_t *kv, void *arg)
{
    (*(size_t *)arg) += kv->value->len;
    return 0;
}

static void bench_reads(const char *dir)
{
    char *path = k1s_xasprintf("%s/reads.db", dir);
    struct event_base *base = event_base_new();
    /* No age bound on the history: the loop below runs until it is empty, and the reopen
     * measures a full history of 10,000 events. */
    k1s_store_opts_t opts = {.path = path, .history_age_ms = -1};
    k1s_store_t *s;
    k1s_err_t err;
    if (k1s_store_open(base, &opts, &s, &err) < 0)
        exit(1);
    for (int ns = 0; ns < 10; ns++) {
        for (int i = 0; i < 10000; i++) {
            char key[64];
            snprintf(key, sizeof(key), "/registry/pods/ns-%d/pod-%05d", ns, i);
            k1s_store_put(s, key, k1s_bytes_new(value_buf, 256), NULL, NULL, NULL);
        }
        event_base_dispatch(base);
    }
    const int lists = 200;
    size_t bytes = 0;
    uint64_t t0 = k1s_now_ns();
    for (int i = 0; i < lists; i++)
        k1s_store_range(s, "/registry/pods/ns-5/", NULL, count_fn, &bytes);
    double list_us = (double)(k1s_now_ns() - t0) / 1e3 / lists;
    const int gets = 1000000;
    int found = 0;
    t0 = k1s_now_ns();
    for (int i = 0; i < gets; i++) {
        char key[64];
        snprintf(key, sizeof(key), "/registry/pods/ns-%d/pod-%05d", i % 10,
                 (int)(((long)i * 7919) % 10000));
        found += k1s_store_get(s, key) != NULL;
    }
    double get_ns = (double)(k1s_now_ns() - t0) / gets;
    t0 = k1s_now_ns();
    size_t cnt = 0;
    for (int i = 0; i < gets; i++)
        cnt += k1s_store_count_prefix(s, "/registry/pods/ns-5/");
    double count_ns = (double)(k1s_now_ns() - t0) / gets;
    printf("cache, 100,000 keys: list of the 10,000 under one prefix %.0f us; get %.0f ns "
           "(incl. snprintf of the key); count_prefix %.0f ns (%d, %zu)\n",
           list_us, get_ns, count_ns, found, cnt / gets);
    k1s_store_free(s);
    t0 = k1s_now_ns();
    if (k1s_store_open(base, &opts, &s, &err) < 0)
        exit(1);
    printf("open of that store (100,000 keys + 10,000 events of history): %.0f ms\n",
           (double)(k1s_now_ns() - t0) / 1e6);
    k1s_store_free(s);
    event_base_free(base);
    free(path);
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    memset(value_buf, 'x', sizeof(value_buf));
    char *dir = make_dir(base);
    printf("store benchmark in %s: durable writes of %d-byte values (WAL, synchronous=FULL),\n"
           "best of 3 runs, interleaved so that disk noise hits both sides alike\n",
           dir, VALUE_LEN);
    static const int clients[] = {1, 16, 64, 256};
    double raw = 0, rate[K1S_ARRAY_SIZE(clients)] = {0}, per_commit[K1S_ARRAY_SIZE(clients)];
    for (int run = 0; run < 3; run++) {
        double r = bench_raw(dir, 1000);
        if (r > raw)
            raw = r;
        for (size_t i = 0; i < K1S_ARRAY_SIZE(clients); i++) {
            double pc;
            r = bench_store(dir, clients[i], clients[i] == 1 ? 1000 : 20000, &pc);
            if (r > rate[i]) {
                rate[i] = r;
                per_commit[i] = pc;
            }
        }
    }
    printf("%-44s %9.0f writes/s\n", "raw SQLite, one transaction per insert", raw);
    for (size_t i = 0; i < K1S_ARRAY_SIZE(clients); i++) {
        char label[64];
        snprintf(label, sizeof(label), "k1s store, %d writer%s", clients[i],
                 clients[i] == 1 ? "" : "s");
        printf("%-44s %9.0f writes/s  %5.1fx raw  (%.1f writes per commit)\n", label, rate[i],
               rate[i] / raw, per_commit[i]);
    }
    bench_reads(dir);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    return 0;
}
