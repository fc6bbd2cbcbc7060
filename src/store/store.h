/*
 * The revisioned key-value store under the API server (see "The store" in
 * ARCHITECTURE.md).
 *
 * One cluster-wide revision counter, like etcd: every write gets the next
 * revision, which the API layer writes into the object as its
 * resourceVersion before the bytes are stored. All live key/values are held
 * in memory in key order (get and range are served from there); the backend
 * (SQLite now, PostgreSQL/etcd later, see backend.h) makes them durable.
 *
 * Writes are grouped: k1s_store_put()/k1s_store_delete() queue a write and
 * return at once; all writes queued during one turn of the event loop are
 * committed in one backend transaction, then applied to the in-memory view,
 * then announced to watchers, then their done callbacks run (in order). A
 * write is never visible to get/range/watch before it is committed. If the
 * commit fails (disk full, I/O error) every write in the group fails with
 * that error and nothing changes.
 *
 * Two views are kept: the committed view (k1s_store_get, k1s_store_range)
 * and the latest view, which includes queued writes (k1s_store_get_latest).
 * Preconditions (create-if-absent, resourceVersion matches) are checked by
 * the caller against the latest view, so two creates of one name in the
 * same group cannot both succeed. Everything runs on one thread.
 *
 * History: the last `history` events (default 10000, and at most
 * `history_bytes` of values, default 64 MiB; of those beyond the newest 100,
 * none older than `history_age_ms`, default 75 s, as the Kubernetes watch
 * cache keeps) are kept in memory so a watch can resume from a recent
 * revision; older ones give -EGONE
 * (410 Gone for the client). The backend log is compacted to the same
 * window, and checkpointing/vacuum keep the file proportional to live data.
 */
#ifndef K1S_STORE_STORE_H
#define K1S_STORE_STORE_H

#include <event2/event.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"

/* errno-style code for "revision compacted" (410). */
#define K1S_EGONE 1410

typedef struct k1s_store k1s_store_t;
typedef struct k1s_store_watch k1s_store_watch_t;

/* One key's state at one revision. Immutable once published; refcounted. */
typedef struct k1s_kv {
    int refs;
    char *key;
    int64_t create_rev; /* revision that created the key */
    int64_t mod_rev;    /* revision of this value (the resourceVersion) */
    k1s_bytes_t *value; /* serialized object (JSON) */
    void *aux;          /* API-layer data extracted from value (labels, fields); see hooks */
} k1s_kv_t;

/* Returns kv with one more reference. Accepts NULL. */
k1s_kv_t *k1s_kv_ref(k1s_kv_t *kv);
/* Drops a reference; the last one frees key, value and aux (via the store's free_aux hook,
 * which the kv remembers, so a kv may outlive its store). Accepts NULL. */
void k1s_kv_unref(k1s_kv_t *kv);
/* Returns a new kv (one reference) without aux; takes ownership of value. The store makes
 * its own; this is for tests and fakes of the store. */
k1s_kv_t *k1s_kv_new(const char *key, int64_t create_rev, int64_t mod_rev, k1s_bytes_t *value);

/*
 * The API layer keeps, next to each value, the few fields that selectors
 * and indexes need. The store calls make_aux for values it loads from the
 * backend at open; for writes the caller passes aux in. free_aux releases it.
 */
typedef struct k1s_store_hooks {
    void *(*make_aux)(const char *key, const k1s_bytes_t *value, void *arg);
    void (*free_aux)(void *aux, void *arg);
    void *arg;
} k1s_store_hooks_t;

typedef struct k1s_store_opts {
    const char *path;               /* SQLite database file; created with its directory */
    int64_t history;                /* events kept for watch resume; default 10000 */
    size_t history_bytes;           /* ...holding at most this many bytes of values; 64 MiB */
    int64_t history_age_ms;         /* ...and beyond the newest 100, none older; 75000; -1: none */
    const k1s_store_hooks_t *hooks; /* may be NULL */
} k1s_store_opts_t;

/* Opens (creating if needed) the store; loads every live key into memory. */
int k1s_store_open(struct event_base *base, const k1s_store_opts_t *opts, k1s_store_t **out,
                   k1s_err_t *err);
/*
 * Commits anything queued (synchronously, running watchers and done
 * callbacks), closes the backend, frees. Watches still open are freed
 * without a call; their handles become invalid. Not to be called from a
 * store callback. Accepts NULL.
 */
void k1s_store_free(k1s_store_t *s);

/* Latest committed revision (0 for an empty new store). */
int64_t k1s_store_rev(const k1s_store_t *s);
/* The revision the next queued write will get. */
int64_t k1s_store_next_rev(const k1s_store_t *s);
/* Oldest revision a watch may start from (events after it are all still known). */
int64_t k1s_store_oldest_rev(const k1s_store_t *s);
/* Number of live keys. */
size_t k1s_store_count(const k1s_store_t *s);

/* Committed value of key, or NULL. Borrowed: ref it to keep it past this turn. */
k1s_kv_t *k1s_store_get(k1s_store_t *s, const char *key);
/* Value including queued writes, or NULL (also NULL if a queued delete removes it). */
k1s_kv_t *k1s_store_get_latest(k1s_store_t *s, const char *key);

/*
 * Calls fn for each committed key that starts with prefix and sorts after
 * start_after (NULL or "" = from the first), in key order, until fn returns
 * non-zero. kv is borrowed.
 */
typedef int (*k1s_store_iter_fn)(k1s_kv_t *kv, void *arg);
void k1s_store_range(k1s_store_t *s, const char *prefix, const char *start_after,
                     k1s_store_iter_fn fn, void *arg);
/* Number of committed keys under prefix. */
size_t k1s_store_count_prefix(k1s_store_t *s, const char *prefix);

/*
 * Completion of a queued write: err is 0 or -errno (-ENOSPC for disk full,
 * -EIO, ...), kv is the committed new value (NULL for a delete or on error),
 * borrowed. Called from the event loop after the commit.
 */
typedef void (*k1s_store_done_fn)(int err, k1s_kv_t *kv, void *arg);

/*
 * Queues a write of key = value at revision k1s_store_next_rev(). Takes
 * ownership of value and aux (aux is released with hooks->free_aux when the
 * kv goes, also if the commit fails). create_rev is kept from the existing
 * latest value if there is one, else it is the new revision. Returns the
 * revision.
 */
int64_t k1s_store_put(k1s_store_t *s, const char *key, k1s_bytes_t *value, void *aux,
                      k1s_store_done_fn done, void *arg);
/*
 * Queues a delete of key (which must exist in the latest view). Returns its
 * revision, or -ENOENT (without queueing or calling done) if key is not in
 * the latest view.
 */
int64_t k1s_store_delete(k1s_store_t *s, const char *key, k1s_store_done_fn done, void *arg);

/*
 * Commits the queued writes now instead of at the end of the loop turn
 * (watchers and done callbacks run before it returns). Does nothing when
 * called from inside a store callback: the queued commit then runs as usual.
 */
void k1s_store_flush(k1s_store_t *s);

/*
 * Compacts the backend to the history window and gives freed space back
 * (SQLite: incremental vacuum and a WAL checkpoint). The store does this
 * by itself after every 1000 writes and when the WAL grows big; this is
 * for tools and tests. 0 or -errno with err set.
 */
int k1s_store_maintain(k1s_store_t *s, k1s_err_t *err);

/*
 * Calls done(0, NULL, arg) once every write queued so far has been
 * committed (or done(-errno, ...) if that commit failed); at once (on the
 * next loop turn) if nothing is queued.
 */
void k1s_store_sync(k1s_store_t *s, k1s_store_done_fn done, void *arg);

/* A change, as watchers see it. */
typedef enum { K1S_STORE_PUT = 1, K1S_STORE_DELETE = 2 } k1s_store_event_type_t;
typedef struct k1s_store_event {
    k1s_store_event_type_t type;
    int64_t rev;
    k1s_kv_t *kv;   /* new value for PUT; for DELETE, the deleted value with mod_rev = rev */
    k1s_kv_t *prev; /* value before this change, NULL if the key was created */
} k1s_store_event_t;

/*
 * Called for each event in revision order; ev is borrowed. Return 0 to go
 * on; return non-zero to end the watch: the store then frees it and the
 * caller must not use the handle again (do not call k1s_store_unwatch on
 * a watch from inside its own callback).
 */
typedef int (*k1s_store_watch_fn)(const k1s_store_event_t *ev, void *arg);

/*
 * Watches keys under prefix. Events with revision > from_rev are delivered:
 * first those still in history (synchronously, before this returns), then
 * new ones as they commit. from_rev < k1s_store_oldest_rev() fails with
 * -K1S_EGONE. from_rev = k1s_store_rev() means "only new changes"; a
 * from_rev above it waits for revisions after from_rev. If fn ends the watch
 * while history is being delivered, returns 0 with *out = NULL.
 */
int k1s_store_watch(k1s_store_t *s, const char *prefix, int64_t from_rev, k1s_store_watch_fn fn,
                    void *arg, k1s_store_watch_t **out);
/* Stops a watch; safe to call from anywhere except inside its own callback. Accepts NULL. */
void k1s_store_unwatch(k1s_store_watch_t *w);
/* Number of active watches (for metrics). */
size_t k1s_store_watch_count(const k1s_store_t *s);

/*
 * Metrics: cumulative commits, writes, and commit latency histogram. The
 * histogram observes successful commits only (so its count is `commits` and
 * its sum commit_ns_total). Buckets are per bucket, not cumulative:
 * commit_buckets[i] counts commits that took more than bucket i-1 and at
 * most k1s_store_commit_bucket_ms[i]; [11] those above the last bound.
 * Summed up they give Prometheus' cumulative `le` buckets.
 * db_size_bytes is the backend's size on disk (SQLite: db + WAL), or -errno.
 */
typedef struct k1s_store_stats {
    uint64_t commits, writes, failed_commits;
    uint64_t commit_ns_total;
    uint64_t commit_buckets[12]; /* counts for le 0.5,1,2.5,5,10,25,50,100,250,500,1000 ms, +Inf */
    int64_t db_size_bytes;
} k1s_store_stats_t;
void k1s_store_get_stats(k1s_store_t *s, k1s_store_stats_t *out);
extern const double k1s_store_commit_bucket_ms[11];

#endif
