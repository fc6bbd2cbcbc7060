/*
 * The storage backend interface under the store (see store.h and "The
 * store" in ARCHITECTURE.md).
 *
 * The store keeps every live key in memory and serves reads from there; a
 * backend only has to make writes durable, hand everything back at open,
 * and keep its files small. It sees two kinds of rows:
 *
 *   the log      one row per revision: (rev, key, create_rev, prev_rev,
 *                deleted, value). prev_rev is the key's previous row, 0 when
 *                the row created the key; a delete is a row with deleted set
 *                and no value (its value is the prev row's).
 *   the current  for every live key, a pointer to its newest log row.
 *
 * Compaction to revision C removes the log rows nobody needs any more: a
 * row whose successor (the row naming it as prev) is at or below C, and a
 * delete at or below C. What stays is every live key's newest row, every
 * row after C, and the prev rows of those (so a restarted store can rebuild
 * its watch history with prev values).
 *
 * A backend is a vtable (k1s_store_backend_ops_t) plus its state, which
 * embeds k1s_store_backend_t first. SQLite is the one implemented
 * (backends/sqlite.c); PostgreSQL and etcd fit the same calls. Every call
 * runs on the store's thread and returns 0 or -errno, with a message in err.
 */
#ifndef K1S_STORE_BACKEND_H
#define K1S_STORE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "store/store.h"

typedef struct k1s_store_backend k1s_store_backend_t;

/* One log row, as loaded or as written by commit. Pointers are borrowed. */
typedef struct k1s_store_row {
    int64_t rev;        /* this row's revision (mod_rev) */
    int64_t create_rev; /* revision that created the key */
    int64_t prev_rev;   /* the key's previous row, 0 if this row created the key */
    bool deleted;       /* a delete: value is NULL */
    const char *key;
    const void *value;
    size_t value_len;
    /* load_log only: the prev row's value, when prev_rev <= after_rev (older than the window). */
    bool has_prev_value;
    const void *prev_value;
    size_t prev_value_len;
} k1s_store_row_t;

/* Row callback for loads: return 0 to go on, or -errno to stop the load with that error. */
typedef int (*k1s_store_row_fn)(const k1s_store_row_t *row, void *arg);

typedef struct k1s_store_backend_ops {
    const char *name;
    /* Opens (creating if needed) the datastore at path. */
    int (*open)(const char *path, k1s_store_backend_t **out, k1s_err_t *err);
    /* Newest revision written (never below compact_rev; 0 when empty), and the compaction point. */
    int (*state)(k1s_store_backend_t *b, int64_t *rev, int64_t *compact_rev, k1s_err_t *err);
    /* Calls fn for every live key's newest row, in key order (byte order). */
    int (*load_live)(k1s_store_backend_t *b, k1s_store_row_fn fn, void *arg, k1s_err_t *err);
    /* Calls fn for every log row with rev > after_rev, in revision order. */
    int (*load_log)(k1s_store_backend_t *b, int64_t after_rev, k1s_store_row_fn fn, void *arg,
                    k1s_err_t *err);
    /*
     * Writes rows[0..n) (increasing revisions) in one transaction, durably:
     * on return 0 they survive a crash; on failure none of them is written
     * and the backend is usable again (-ENOSPC disk full, -EIO, ...).
     */
    int (*commit)(k1s_store_backend_t *b, const k1s_store_row_t *rows, size_t n, k1s_err_t *err);
    /* Compacts the log to revision rev (see above); a rev at or below the last one is a no-op. */
    int (*compact)(k1s_store_backend_t *b, int64_t rev, k1s_err_t *err);
    /*
     * Gives freed space back to the file system (SQLite: incremental vacuum,
     * WAL checkpoint) in a bounded step; want_maintenance() says if more is left.
     */
    int (*maintain)(k1s_store_backend_t *b, k1s_err_t *err);
    /* True when the backend would like maintain() soon (SQLite: the WAL has grown big, or
     * free pages are left to give back). */
    bool (*want_maintenance)(k1s_store_backend_t *b);
    /* Bytes used on disk (SQLite: database plus WAL file), or -errno. */
    int64_t (*size)(k1s_store_backend_t *b);
    /* Closes and frees. Accepts NULL. */
    void (*close)(k1s_store_backend_t *b);
} k1s_store_backend_ops_t;

struct k1s_store_backend {
    const k1s_store_backend_ops_t *ops;
};

/* The SQLite backend: WAL, synchronous=FULL, auto_vacuum=INCREMENTAL. */
extern const k1s_store_backend_ops_t k1s_store_backend_sqlite;

/*
 * Runs SQL statements on a SQLite backend's connection (for tests and
 * repair tools: fault injection with PRAGMA max_page_count, checks).
 * b must come from k1s_store_backend_sqlite.
 */
int k1s_store_sqlite_exec(k1s_store_backend_t *b, const char *sql, k1s_err_t *err);

/* Like k1s_store_open() on an already open backend; takes ownership of b (closed on failure). */
int k1s_store_open_backend(struct event_base *base, const k1s_store_opts_t *opts,
                           k1s_store_backend_t *b, k1s_store_t **out, k1s_err_t *err);
/* The store's backend (borrowed; for tests and tools). */
k1s_store_backend_t *k1s_store_get_backend(k1s_store_t *s);

#endif
