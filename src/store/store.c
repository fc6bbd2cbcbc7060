/*
 * The revisioned key-value store: the in-memory view, group commit,
 * watch history and fan-out, and the compaction schedule (see store.h for
 * the contract and backend.h for what lies below).
 *
 * Writes queue in a batch together with a small pending map (key -> its
 * newest queued write) that the latest view consults. The first write of a
 * loop turn activates commit_ev; when it runs, the whole batch is written in
 * one backend transaction, then applied to the committed index, appended to
 * the history ring, announced to watchers and completed. After every
 * MAINT_WRITES committed writes (or when the backend asks) maint_ev runs
 * compaction and vacuum, so nothing runs while the store is idle.
 *
 * Watchers are a list that callbacks may change while it is walked: an
 * unwatch during a fan-out only marks the watch dead, and dead watches are
 * unlinked when the outermost fan-out ends. Each watch remembers the last
 * revision it was given, so a watch started during a fan-out (and fed from
 * history) does not see an event twice.
 */
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/time.h>

#include "lib/log.h"
#include "store/backend.h"
#include "store/index.h"

#define DEFAULT_HISTORY 10000
/* The history also stops at this many bytes of values, so churn on big objects
 * cannot pin gigabytes of old versions in memory. */
#define DEFAULT_HISTORY_BYTES (64u * 1024 * 1024)
/* Events older than this are let go once more than HISTORY_MIN are held: like the
 * Kubernetes watch cache (eventFreshDuration 75 s, lower bound 100 events), a watch
 * can resume from any revision of the last 75 s, and an idle cluster does not keep
 * the old versions of a burst of writes. */
#define DEFAULT_HISTORY_AGE_MS 75000
#define HISTORY_MIN 100
/* Compaction and vacuum after this many committed writes. */
#define MAINT_WRITES 1000
/* k1s_store_free() gives up re-flushing writes queued by callbacks after this many rounds. */
#define FREE_FLUSH_ROUNDS 100

const double k1s_store_commit_bucket_ms[11] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000};

/* ---- kv ------------------------------------------------------------------ */

typedef struct kv_impl {
    k1s_kv_t kv;
    void (*free_aux)(void *aux, void *arg);
    void *aux_arg;
    k1s_kv_t *owner; /* a delete's kv borrows key and aux from the value it deletes */
    char keybuf[];
} kv_impl_t;

_Static_assert(offsetof(kv_impl_t, kv) == 0, "a kv_impl_t starts with its k1s_kv_t");
#define KV_IMPL(kv) ((kv_impl_t *)(void *)(kv))

k1s_kv_t *k1s_kv_ref(k1s_kv_t *kv)
{
    if (kv)
        kv->refs++;
    return kv;
}

void k1s_kv_unref(k1s_kv_t *kv)
{
    if (!kv || --kv->refs > 0)
        return;
    k1s_assert(kv->refs == 0);
    kv_impl_t *k = KV_IMPL(kv);
    if (k->owner)
        k1s_kv_unref(k->owner);
    else if (kv->aux && k->free_aux)
        k->free_aux(kv->aux, k->aux_arg);
    k1s_bytes_unref(kv->value);
    free(k);
}

/* ---- store ---------------------------------------------------------------- */

typedef struct op {
    k1s_store_event_type_t type;
    k1s_kv_t *kv;   /* new value, or for a delete the deleted value at the new revision;
                       NULL for a k1s_store_sync() marker, which writes nothing */
    k1s_kv_t *prev; /* latest value before this write, or NULL */
    k1s_store_done_fn done;
    void *arg;
} op_t;

struct k1s_store_watch {
    k1s_store_t *s;
    k1s_store_watch_t *prev, *next;
    char *prefix;
    size_t prefix_len;
    k1s_store_watch_fn fn;
    void *arg;
    int64_t last_rev; /* newest revision this watch has been given or skipped */
    bool dead;
};

struct k1s_store {
    struct event_base *base;
    k1s_store_backend_t *b;
    k1s_store_hooks_t hooks;
    int64_t history;
    size_t history_bytes;    /* bound on the bytes of values the ring holds */
    size_t ring_bytes;       /* bytes of the values of the events in the ring */
    uint64_t history_age_ns; /* events older than this go (beyond HISTORY_MIN); 0: no bound */

    int64_t rev;       /* newest committed revision */
    int64_t next_rev;  /* revision of the next queued write */
    int64_t oldest;    /* every event after this one is in the ring */
    int64_t compacted; /* the backend's compaction point */

    k1s_store_index_t *index;

    op_t *batch; /* queued writes, in revision order */
    size_t nbatch, batch_cap;
    k1s_store_hmap_t pending; /* key -> batch index + 1 of its newest queued write */
    struct event *commit_ev, *maint_ev;
    bool commit_scheduled, maint_scheduled, committing;
    uint64_t writes_since_maint;

    k1s_store_event_t *ring; /* history: ring_len events from ring_head, increasing revisions */
    uint64_t *ring_ns;       /* when each ring slot's event was added (k1s_now_ns) */
    size_t ring_cap, ring_head, ring_len;
    struct event *expire_ev; /* armed for the oldest event's expiry while it matters */
    bool expire_armed;

    k1s_store_watch_t *wfirst, *wlast;
    size_t nwatch; /* live (not dead) watches */
    int walking;   /* depth of watcher-list walks in progress */
    int ranging;   /* depth of k1s_store_range() calls in progress */
    bool have_dead;

    k1s_store_stats_t stats;
};

static k1s_kv_t *kv_alloc(const char *key, int64_t create_rev, int64_t mod_rev, k1s_bytes_t *value,
                          void *aux, const k1s_store_hooks_t *hooks)
{
    size_t klen = strlen(key);
    kv_impl_t *k = k1s_xmalloc(sizeof(*k) + klen + 1);
    memcpy(k->keybuf, key, klen + 1);
    k->kv = (k1s_kv_t){.refs = 1,
                       .key = k->keybuf,
                       .create_rev = create_rev,
                       .mod_rev = mod_rev,
                       .value = value,
                       .aux = aux};
    k->free_aux = hooks ? hooks->free_aux : NULL;
    k->aux_arg = hooks ? hooks->arg : NULL;
    k->owner = NULL;
    return &k->kv;
}

k1s_kv_t *k1s_kv_new(const char *key, int64_t create_rev, int64_t mod_rev, k1s_bytes_t *value)
{
    return kv_alloc(key, create_rev, mod_rev, value, NULL, NULL);
}

static k1s_kv_t *kv_new(k1s_store_t *s, const char *key, int64_t create_rev, int64_t mod_rev,
                        k1s_bytes_t *value, void *aux)
{
    return kv_alloc(key, create_rev, mod_rev, value, aux, &s->hooks);
}

/* A kv for loaded bytes: copies them and asks the hooks for aux. */
static k1s_kv_t *kv_load(k1s_store_t *s, const char *key, int64_t create_rev, int64_t mod_rev,
                         const void *value, size_t len)
{
    k1s_bytes_t *v = k1s_bytes_new(value, len);
    void *aux = s->hooks.make_aux ? s->hooks.make_aux(key, v, s->hooks.arg) : NULL;
    return kv_new(s, key, create_rev, mod_rev, v, aux);
}

/* The value of a delete event: the deleted value, with mod_rev the delete's revision. */
static k1s_kv_t *kv_new_deleted(k1s_kv_t *of, int64_t rev)
{
    kv_impl_t *k = k1s_xmalloc(sizeof(*k));
    k->kv = (k1s_kv_t){.refs = 1,
                       .key = of->key,
                       .create_rev = of->create_rev,
                       .mod_rev = rev,
                       .value = k1s_bytes_ref(of->value),
                       .aux = of->aux};
    k->free_aux = NULL;
    k->aux_arg = NULL;
    k->owner = k1s_kv_ref(of);
    return &k->kv;
}

/* ---- history ring --------------------------------------------------------- */

static k1s_store_event_t *ring_at(const k1s_store_t *s, size_t i)
{
    return &s->ring[(s->ring_head + i) % s->ring_cap];
}

static void event_clear(k1s_store_event_t *ev)
{
    k1s_kv_unref(ev->kv);
    k1s_kv_unref(ev->prev);
}

static size_t event_bytes(const k1s_store_event_t *ev)
{
    return ev->kv && ev->kv->value ? ev->kv->value->len : 0;
}

/* Drops the oldest event; every event after it stays resumable. */
static void ring_evict(k1s_store_t *s)
{
    k1s_store_event_t *old = ring_at(s, 0);
    s->oldest = old->rev;
    s->ring_bytes -= event_bytes(old);
    event_clear(old);
    s->ring_head = (s->ring_head + 1) % s->ring_cap;
    s->ring_len--;
}

static void ring_arm_expiry(k1s_store_t *s);
static void schedule_maint_ev(k1s_store_t *s);

/* Appends an event, taking over its references; evicts the oldest when full. */
static void ring_push(k1s_store_t *s, k1s_store_event_t ev)
{
    while (s->ring_len > 0 && s->ring_bytes + event_bytes(&ev) > s->history_bytes)
        ring_evict(s);
    if (s->ring_len == s->ring_cap && s->ring_cap < (size_t)s->history) {
        /* Grow (and straighten) the ring up to `history` events. */
        size_t cap = s->ring_cap ? s->ring_cap * 2 : 64;
        if (cap > (size_t)s->history)
            cap = (size_t)s->history;
        k1s_store_event_t *ring = k1s_xmalloc(cap * sizeof(*ring));
        uint64_t *ring_ns = k1s_xmalloc(cap * sizeof(*ring_ns));
        for (size_t i = 0; i < s->ring_len; i++) {
            ring[i] = *ring_at(s, i);
            ring_ns[i] = s->ring_ns[(s->ring_head + i) % s->ring_cap];
        }
        free(s->ring);
        free(s->ring_ns);
        s->ring = ring;
        s->ring_ns = ring_ns;
        s->ring_cap = cap;
        s->ring_head = 0;
    }
    if (s->ring_len == s->ring_cap)
        ring_evict(s);
    s->ring_bytes += event_bytes(&ev);
    *ring_at(s, s->ring_len) = ev;
    s->ring_ns[(s->ring_head + s->ring_len) % s->ring_cap] = k1s_now_ns();
    s->ring_len++;
    ring_arm_expiry(s);
}

/* Lets events older than the age bound go, keeping HISTORY_MIN; re-arms for the next. */
static void ring_expire(k1s_store_t *s)
{
    uint64_t now = k1s_now_ns();
    size_t before = s->ring_len;
    while (s->ring_len > HISTORY_MIN && s->ring_ns[s->ring_head] + s->history_age_ns <= now)
        ring_evict(s);
    if (s->ring_len < before && !s->maint_scheduled)
        schedule_maint_ev(s); /* compact the backend's log to the new window too */
    if (s->ring_len < before)
        k1s_debug("store: %zu events older than %llu s left the watch history (from %lld now)",
                  before - s->ring_len, (unsigned long long)(s->history_age_ns / 1000000000ull),
                  (long long)s->oldest);
    ring_arm_expiry(s);
}

static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_store_t *s = arg;
    s->expire_armed = false;
    /* Inside a store callback the ring may be in use (a watch replaying history): later. */
    if (s->committing || s->walking || s->ranging) {
        struct timeval tv = {0, 100000};
        evtimer_add(s->expire_ev, &tv);
        s->expire_armed = true;
        return;
    }
    ring_expire(s);
}

/* Arms the expiry timer for when the oldest event beyond HISTORY_MIN gets too old. Event
 * driven: nothing is armed while the ring holds HISTORY_MIN events or fewer. */
static void ring_arm_expiry(k1s_store_t *s)
{
    if (s->expire_armed || !s->expire_ev || !s->history_age_ns || s->ring_len <= HISTORY_MIN)
        return;
    uint64_t due = s->ring_ns[s->ring_head] + s->history_age_ns, now = k1s_now_ns();
    uint64_t wait = due > now ? due - now : 0;
    /* At most one expiry per second: a steady stream of writes costs one timer a second. */
    if (wait < 1000000000ull)
        wait = 1000000000ull;
    struct timeval tv = {(time_t)(wait / 1000000000ull),
                         (suseconds_t)(wait % 1000000000ull / 1000)};
    evtimer_add(s->expire_ev, &tv);
    s->expire_armed = true;
}

/* Index of the first event with a revision above rev (ring_len if none). */
static size_t ring_find_after(const k1s_store_t *s, int64_t rev)
{
    size_t lo = 0, hi = s->ring_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ring_at(s, mid)->rev <= rev)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- watches -------------------------------------------------------------- */

static void watch_unlink_free(k1s_store_watch_t *w)
{
    k1s_store_t *s = w->s;
    if (w->prev)
        w->prev->next = w->next;
    else
        s->wfirst = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        s->wlast = w->prev;
    free(w->prefix);
    free(w);
}

/* Ends a watch: frees it now, or marks it for the end of the walk in progress. */
static void watch_end(k1s_store_watch_t *w)
{
    if (w->dead)
        return;
    w->dead = true;
    w->fn = NULL;
    w->s->nwatch--;
    if (w->s->walking)
        w->s->have_dead = true;
    else
        watch_unlink_free(w);
}

static void walk_begin(k1s_store_t *s)
{
    s->walking++;
}

static void walk_end(k1s_store_t *s)
{
    if (--s->walking > 0 || !s->have_dead)
        return;
    s->have_dead = false;
    for (k1s_store_watch_t *w = s->wfirst, *next; w; w = next) {
        next = w->next;
        if (w->dead)
            watch_unlink_free(w);
    }
}

/* Gives ev to w if it is new to w and under its prefix. */
static void watch_deliver(k1s_store_watch_t *w, const k1s_store_event_t *ev)
{
    if (w->dead || ev->rev <= w->last_rev)
        return;
    w->last_rev = ev->rev;
    if (strncmp(ev->kv->key, w->prefix, w->prefix_len) != 0)
        return;
    if (w->fn(ev, w->arg) != 0)
        watch_end(w);
}

static void fan_out(k1s_store_t *s, const k1s_store_event_t *ev)
{
    walk_begin(s);
    /* Watches added by callbacks are appended and reached too; their last_rev skips ev. */
    for (k1s_store_watch_t *w = s->wfirst; w; w = w->next)
        watch_deliver(w, ev);
    walk_end(s);
}

int k1s_store_watch(k1s_store_t *s, const char *prefix, int64_t from_rev, k1s_store_watch_fn fn,
                    void *arg, k1s_store_watch_t **out)
{
    k1s_assert(fn);
    if (from_rev < s->oldest)
        return -K1S_EGONE;
    k1s_store_watch_t *w = k1s_xcalloc(1, sizeof(*w));
    w->s = s;
    w->prefix = k1s_xstrdup(prefix ? prefix : "");
    w->prefix_len = strlen(w->prefix);
    w->fn = fn;
    w->arg = arg;
    w->last_rev = from_rev;
    w->prev = s->wlast;
    if (s->wlast)
        s->wlast->next = w;
    else
        s->wfirst = w;
    s->wlast = w;
    s->nwatch++;

    walk_begin(s);
    /* The ring cannot change here: commits never run inside callbacks. */
    for (size_t i = ring_find_after(s, from_rev); i < s->ring_len && !w->dead; i++) {
        k1s_store_event_t ev = *ring_at(s, i);
        watch_deliver(w, &ev);
    }
    if (!w->dead && w->last_rev < s->rev)
        w->last_rev = s->rev;
    bool alive = !w->dead;
    walk_end(s);
    *out = alive ? w : NULL;
    return 0;
}

void k1s_store_unwatch(k1s_store_watch_t *w)
{
    if (w)
        watch_end(w);
}

size_t k1s_store_watch_count(const k1s_store_t *s)
{
    return s->nwatch;
}

/* ---- reads ---------------------------------------------------------------- */

int64_t k1s_store_rev(const k1s_store_t *s)
{
    return s->rev;
}

int64_t k1s_store_next_rev(const k1s_store_t *s)
{
    return s->next_rev;
}

int64_t k1s_store_oldest_rev(const k1s_store_t *s)
{
    return s->oldest;
}

size_t k1s_store_count(const k1s_store_t *s)
{
    return k1s_store_index_count(s->index);
}

k1s_kv_t *k1s_store_get(k1s_store_t *s, const char *key)
{
    return k1s_store_index_get(s->index, key);
}

k1s_kv_t *k1s_store_get_latest(k1s_store_t *s, const char *key)
{
    uintptr_t i = (uintptr_t)k1s_store_hmap_get(&s->pending, key);
    if (i) {
        const op_t *op = &s->batch[i - 1];
        return op->type == K1S_STORE_DELETE ? NULL : op->kv;
    }
    return k1s_store_index_get(s->index, key);
}

void k1s_store_range(k1s_store_t *s, const char *prefix, const char *start_after,
                     k1s_store_iter_fn fn, void *arg)
{
    s->ranging++;
    k1s_store_index_range(s->index, prefix, start_after, fn, arg);
    s->ranging--;
}

size_t k1s_store_count_prefix(k1s_store_t *s, const char *prefix)
{
    return k1s_store_index_count_prefix(s->index, prefix);
}

/* ---- writes and group commit ---------------------------------------------- */

static void queue(k1s_store_t *s, op_t op)
{
    if (s->nbatch == s->batch_cap) {
        s->batch_cap = s->batch_cap ? s->batch_cap * 2 : 16;
        s->batch = k1s_xrealloc(s->batch, s->batch_cap * sizeof(*s->batch));
    }
    s->batch[s->nbatch++] = op;
    if (op.kv)
        k1s_store_hmap_set(&s->pending, op.kv->key, (void *)(uintptr_t)s->nbatch);
    if (!s->commit_scheduled) {
        s->commit_scheduled = true;
        event_active(s->commit_ev, EV_TIMEOUT, 0);
    }
}

int64_t k1s_store_put(k1s_store_t *s, const char *key, k1s_bytes_t *value, void *aux,
                      k1s_store_done_fn done, void *arg)
{
    k1s_assert(key[0] && value);
    int64_t rev = s->next_rev++;
    k1s_kv_t *prev = k1s_store_get_latest(s, key);
    k1s_kv_t *kv = kv_new(s, key, prev ? prev->create_rev : rev, rev, value, aux);
    queue(s, (op_t){K1S_STORE_PUT, kv, k1s_kv_ref(prev), done, arg});
    return rev;
}

int64_t k1s_store_delete(k1s_store_t *s, const char *key, k1s_store_done_fn done, void *arg)
{
    k1s_kv_t *prev = k1s_store_get_latest(s, key);
    if (!prev)
        return -ENOENT;
    int64_t rev = s->next_rev++;
    queue(s, (op_t){K1S_STORE_DELETE, kv_new_deleted(prev, rev), k1s_kv_ref(prev), done, arg});
    return rev;
}

void k1s_store_sync(k1s_store_t *s, k1s_store_done_fn done, void *arg)
{
    k1s_assert(done);
    queue(s, (op_t){K1S_STORE_PUT, NULL, NULL, done, arg});
}

static void observe_commit(k1s_store_t *s, uint64_t ns)
{
    s->stats.commit_ns_total += ns;
    double ms = (double)ns / 1e6;
    size_t i = 0;
    while (i < K1S_ARRAY_SIZE(k1s_store_commit_bucket_ms) && ms > k1s_store_commit_bucket_ms[i])
        i++;
    s->stats.commit_buckets[i]++;
}

/*
 * Maintenance runs from a zero timeout rather than event_active(): timers
 * fire in the next loop iteration, after pending I/O has been polled, so
 * requests waiting on sockets go first.
 */
static void schedule_maint_ev(k1s_store_t *s)
{
    static const struct timeval now = {0, 0};
    s->maint_scheduled = true;
    event_add(s->maint_ev, &now);
}

static void schedule_maintenance(k1s_store_t *s)
{
    if (s->maint_scheduled)
        return;
    if (s->writes_since_maint >= MAINT_WRITES || s->b->ops->want_maintenance(s->b))
        schedule_maint_ev(s);
}

/* Commits the queued batch, then applies, announces and completes it. */
static void commit_batch(k1s_store_t *s)
{
    if (!s->nbatch)
        return;
    k1s_assert(!s->committing);
    s->committing = true;
    /* Detach the batch: callbacks below queue writes into a fresh one. */
    op_t *ops = s->batch;
    size_t n = s->nbatch;
    s->batch = NULL;
    s->nbatch = s->batch_cap = 0;
    k1s_store_hmap_clear(&s->pending);

    k1s_store_row_t *rows = k1s_xmalloc(n * sizeof(*rows));
    size_t nw = 0; /* writes, without sync markers */
    for (size_t i = 0; i < n; i++) {
        const op_t *op = &ops[i];
        if (!op->kv)
            continue;
        bool del = op->type == K1S_STORE_DELETE;
        rows[nw++] = (k1s_store_row_t){
            .rev = op->kv->mod_rev,
            .create_rev = op->kv->create_rev,
            .prev_rev = op->prev ? op->prev->mod_rev : 0,
            .deleted = del,
            .key = op->kv->key,
            .value = del ? NULL : op->kv->value->data,
            .value_len = del ? 0 : op->kv->value->len,
        };
    }
    k1s_err_t err;
    k1s_err_clear(&err);
    int r = 0;
    if (nw) {
        uint64_t t0 = k1s_now_ns();
        r = s->b->ops->commit(s->b, rows, nw, &err);
        if (r == 0)
            observe_commit(s, k1s_now_ns() - t0);
    }
    free(rows);

    if (r == 0 && nw) {
        s->stats.commits++;
        s->stats.writes += nw;
        s->writes_since_maint += nw;
        for (size_t i = 0; i < n; i++) {
            op_t *op = &ops[i];
            if (!op->kv)
                continue;
            k1s_kv_t *old = op->type == K1S_STORE_PUT
                                ? k1s_store_index_set(s->index, k1s_kv_ref(op->kv))
                                : k1s_store_index_del(s->index, op->kv->key);
            k1s_kv_unref(old);
            s->rev = op->kv->mod_rev;
            ring_push(s, (k1s_store_event_t){op->type, op->kv->mod_rev, k1s_kv_ref(op->kv),
                                             k1s_kv_ref(op->prev)});
        }
        for (size_t i = 0; i < n; i++) {
            if (!ops[i].kv)
                continue;
            k1s_store_event_t ev = {ops[i].type, ops[i].kv->mod_rev, ops[i].kv, ops[i].prev};
            fan_out(s, &ev);
        }
    } else if (r < 0) {
        s->stats.failed_commits++;
        s->next_rev = s->rev + 1;
        k1s_warn("store: commit of %zu write%s failed: %s", nw, nw == 1 ? "" : "s", err.msg);
    }
    for (size_t i = 0; i < n; i++) {
        op_t *op = &ops[i];
        if (op->done)
            op->done(r, r == 0 && op->kv && op->type == K1S_STORE_PUT ? op->kv : NULL, op->arg);
        k1s_kv_unref(op->kv);
        k1s_kv_unref(op->prev);
    }
    free(ops);
    s->committing = false;
    if (r == 0 && nw)
        schedule_maintenance(s);
}

static void commit_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_store_t *s = arg;
    s->commit_scheduled = false;
    commit_batch(s);
}

void k1s_store_flush(k1s_store_t *s)
{
    /* Inside a store callback the ring and the index may be in use: leave it to commit_ev. */
    if (s->committing || s->walking || s->ranging)
        return;
    commit_batch(s);
}

/* ---- compaction and maintenance ------------------------------------------- */

/* One step: compaction to the history window, then one bounded backend maintenance step. */
static int maintain_step(k1s_store_t *s, k1s_err_t *err)
{
    s->writes_since_maint = 0;
    if (s->oldest > s->compacted) {
        int r = s->b->ops->compact(s->b, s->oldest, err);
        if (r < 0)
            return k1s_err_prefix(err, "compact to %lld", (long long)s->oldest);
        s->compacted = s->oldest;
    }
    return s->b->ops->maintain(s->b, err);
}

int k1s_store_maintain(k1s_store_t *s, k1s_err_t *err)
{
    int r = maintain_step(s, err);
    for (int i = 0; r == 0 && i < 10000 && s->b->ops->want_maintenance(s->b); i++)
        r = maintain_step(s, err);
    return r;
}

static void maint_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_store_t *s = arg;
    s->maint_scheduled = false;
    k1s_err_t err;
    k1s_err_clear(&err);
    uint64_t t0 = k1s_now_ns();
    if (maintain_step(s, &err) < 0) {
        k1s_warn("store: maintenance failed: %s", err.msg);
        return;
    }
    k1s_debug("store: maintenance to revision %lld took %.1f ms", (long long)s->compacted,
              (double)(k1s_now_ns() - t0) / 1e6);
    /* More to give back (after a mass delete): go on in the next loop turn. */
    if (s->b->ops->want_maintenance(s->b))
        schedule_maint_ev(s);
}

/* ---- stats ------------------------------------------------------------------ */

void k1s_store_get_stats(k1s_store_t *s, k1s_store_stats_t *out)
{
    *out = s->stats;
    out->db_size_bytes = s->b->ops->size(s->b);
}

/* ---- open and free ---------------------------------------------------------- */

typedef struct load_ctx {
    k1s_store_t *s;
    int64_t after; /* the history window starts after this revision */
} load_ctx_t;

static int load_live_row(const k1s_store_row_t *row, void *arg)
{
    load_ctx_t *c = arg;
    k1s_kv_t *kv = kv_load(c->s, row->key, row->create_rev, row->rev, row->value, row->value_len);
    k1s_kv_unref(k1s_store_index_set(c->s->index, kv));
    return 0;
}

static int load_log_row(const k1s_store_row_t *row, void *arg)
{
    load_ctx_t *c = arg;
    k1s_store_t *s = c->s;
    k1s_kv_t *prev = NULL;
    if (row->prev_rev > c->after) {
        /* Inside the window: the prev row is an earlier event's value. */
        size_t i = ring_find_after(s, row->prev_rev - 1);
        if (i < s->ring_len && ring_at(s, i)->rev == row->prev_rev &&
            ring_at(s, i)->type == K1S_STORE_PUT)
            prev = k1s_kv_ref(ring_at(s, i)->kv);
    } else if (row->prev_rev > 0 && row->has_prev_value) {
        prev = kv_load(s, row->key, row->create_rev, row->prev_rev, row->prev_value,
                       row->prev_value_len);
    }
    k1s_kv_t *kv;
    if (row->deleted) {
        kv = prev ? kv_new_deleted(prev, row->rev)
                  : kv_new(s, row->key, row->create_rev, row->rev, k1s_bytes_new("", 0), NULL);
    } else {
        /* The newest row of a live key shares the index's kv. */
        kv = k1s_store_index_get(s->index, row->key);
        if (kv && kv->mod_rev == row->rev)
            k1s_kv_ref(kv);
        else
            kv = kv_load(s, row->key, row->create_rev, row->rev, row->value, row->value_len);
    }
    ring_push(s, (k1s_store_event_t){row->deleted ? K1S_STORE_DELETE : K1S_STORE_PUT, row->rev, kv,
                                     prev});
    return 0;
}

int k1s_store_open_backend(struct event_base *base, const k1s_store_opts_t *opts,
                           k1s_store_backend_t *b, k1s_store_t **out, k1s_err_t *err)
{
    k1s_store_t *s = k1s_xcalloc(1, sizeof(*s));
    s->base = base;
    s->b = b;
    if (opts->hooks)
        s->hooks = *opts->hooks;
    s->history = opts->history > 0 ? opts->history : DEFAULT_HISTORY;
    s->history_bytes = opts->history_bytes > 0 ? opts->history_bytes : DEFAULT_HISTORY_BYTES;
    s->history_age_ns =
        opts->history_age_ms < 0
            ? 0
            : (uint64_t)(opts->history_age_ms ? opts->history_age_ms : DEFAULT_HISTORY_AGE_MS) *
                  1000000ull;
    s->expire_ev = evtimer_new(base, expire_cb, s);
    s->index = k1s_store_index_new();
    s->commit_ev = event_new(base, -1, 0, commit_cb, s);
    s->maint_ev = event_new(base, -1, 0, maint_cb, s);
    k1s_assert(s->commit_ev && s->maint_ev);

    int64_t rev = 0, compact_rev = 0;
    int r = b->ops->state(b, &rev, &compact_rev, err);
    if (r == 0) {
        s->rev = rev;
        s->next_rev = rev + 1;
        s->compacted = compact_rev;
        /* The history window: the last `history` revisions that compaction left. */
        s->oldest = rev - s->history > compact_rev ? rev - s->history : compact_rev;
        load_ctx_t c = {s, s->oldest};
        r = b->ops->load_live(b, load_live_row, &c, err);
        if (r == 0)
            r = b->ops->load_log(b, s->oldest, load_log_row, &c, err);
    }
    if (r < 0) {
        k1s_store_free(s);
        return r;
    }
    k1s_debug("store: opened with %zu keys at revision %lld, history from %lld", k1s_store_count(s),
              (long long)s->rev, (long long)s->oldest);
    *out = s;
    return 0;
}

int k1s_store_open(struct event_base *base, const k1s_store_opts_t *opts, k1s_store_t **out,
                   k1s_err_t *err)
{
    k1s_store_backend_t *b;
    int r = k1s_store_backend_sqlite.open(opts->path, &b, err);
    if (r < 0)
        return r;
    return k1s_store_open_backend(base, opts, b, out, err);
}

k1s_store_backend_t *k1s_store_get_backend(k1s_store_t *s)
{
    return s->b;
}

void k1s_store_free(k1s_store_t *s)
{
    if (!s)
        return;
    k1s_assert(!s->committing && !s->walking && !s->ranging);
    /* Done callbacks may queue more writes; commit those too, within reason. */
    for (int i = 0; i < FREE_FLUSH_ROUNDS && s->nbatch; i++)
        commit_batch(s);
    if (s->nbatch) {
        op_t *ops = s->batch;
        size_t n = s->nbatch;
        s->batch = NULL;
        s->nbatch = s->batch_cap = 0;
        for (size_t i = 0; i < n; i++) {
            if (ops[i].done)
                ops[i].done(-ECANCELED, NULL, ops[i].arg);
            k1s_kv_unref(ops[i].kv);
            k1s_kv_unref(ops[i].prev);
        }
        free(ops);
    }
    while (s->wfirst)
        watch_unlink_free(s->wfirst);
    for (size_t i = 0; i < s->ring_len; i++)
        event_clear(ring_at(s, i));
    free(s->ring);
    free(s->ring_ns);
    if (s->expire_ev)
        event_free(s->expire_ev);
    k1s_store_index_free(s->index);
    free(s->batch);
    k1s_store_hmap_free(&s->pending);
    if (s->commit_ev)
        event_free(s->commit_ev);
    if (s->maint_ev)
        event_free(s->maint_ev);
    if (s->b)
        s->b->ops->close(s->b);
    free(s);
}
