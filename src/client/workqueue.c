/*
 * Work queue; see workqueue.h. The queue is a FIFO of keys plus three
 * sets as in client-go: dirty (waiting to be processed), processing (out
 * with a worker) and the delayed keys with their timers. Handing keys to
 * workers happens from one deferred event, so add() and done() never call
 * a worker on their caller's stack.
 */
#include "client/workqueue.h"

#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "lib/util.h"

typedef struct qent {
    struct qent *next;
    char *key;
} qent_t;

typedef struct delayed {
    k1s_workqueue_t *q;
    struct event *ev;
    char *key;
    uint64_t at_ns;
} delayed_t;

struct k1s_workqueue {
    struct event_base *base;
    struct event *kick;
    k1s_workqueue_fn fn;
    void *arg;
    int workers;
    qent_t *head, *tail;
    size_t len;
    k1s_strmap_t dirty, processing, delayed, failures; /* failures: count as (intptr_t) */
};

k1s_workqueue_t *k1s_workqueue_new(struct event_base *base, int workers, k1s_workqueue_fn fn,
                                   void *arg)
{
    k1s_workqueue_t *q = k1s_xcalloc(1, sizeof(*q));
    q->base = base;
    q->fn = fn;
    q->arg = arg;
    q->workers = workers > 0 ? workers : 1;
    return q;
}

static void run(evutil_socket_t fd, short what, void *arg);

static void kick(k1s_workqueue_t *q)
{
    if (!q->kick)
        q->kick = event_new(q->base, -1, 0, run, q);
    if (q->head && k1s_strmap_len(&q->processing) < (size_t)q->workers)
        event_active(q->kick, 0, 0);
}

static void push(k1s_workqueue_t *q, const char *key)
{
    qent_t *e = k1s_xmalloc(sizeof(*e));
    e->next = NULL;
    e->key = k1s_xstrdup(key);
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->len++;
}

static void run(evutil_socket_t fd, short what, void *arg)
{
    k1s_workqueue_t *q = arg;
    while (q->head && k1s_strmap_len(&q->processing) < (size_t)q->workers) {
        qent_t *e = q->head;
        q->head = e->next;
        if (!q->head)
            q->tail = NULL;
        q->len--;
        k1s_strmap_del(&q->dirty, e->key);
        k1s_strmap_set(&q->processing, e->key, e->key);
        /* e->key stays allocated while processing: freed in done() */
        char *key = e->key;
        free(e);
        q->fn(q, key, q->arg);
        /* the worker may have freed nothing of ours; the loop re-checks state */
    }
}

void k1s_workqueue_add(k1s_workqueue_t *q, const char *key)
{
    if (k1s_strmap_has(&q->dirty, key))
        return;
    k1s_strmap_set(&q->dirty, key, NULL);
    if (k1s_strmap_has(&q->processing, key))
        return; /* queued again by done() */
    push(q, key);
    kick(q);
}

static void delayed_free(delayed_t *d)
{
    event_free(d->ev);
    free(d->key);
    free(d);
}

static void delayed_fire(evutil_socket_t fd, short what, void *arg)
{
    delayed_t *d = arg;
    k1s_workqueue_t *q = d->q;
    k1s_strmap_del(&q->delayed, d->key);
    k1s_workqueue_add(q, d->key);
    delayed_free(d);
}

void k1s_workqueue_add_after(k1s_workqueue_t *q, const char *key, uint64_t delay_ms)
{
    if (delay_ms == 0) {
        k1s_workqueue_add(q, key);
        return;
    }
    uint64_t at = k1s_now_ns() + delay_ms * 1000000ull;
    delayed_t *d = k1s_strmap_get(&q->delayed, key);
    if (d && d->at_ns <= at)
        return;
    if (!d) {
        d = k1s_xcalloc(1, sizeof(*d));
        d->q = q;
        d->key = k1s_xstrdup(key);
        d->ev = evtimer_new(q->base, delayed_fire, d);
        k1s_strmap_set(&q->delayed, key, d);
    }
    d->at_ns = at;
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
    evtimer_add(d->ev, &tv);
}

int k1s_workqueue_num_requeues(const k1s_workqueue_t *q, const char *key)
{
    return (int)(intptr_t)k1s_strmap_get(&q->failures, key);
}

uint64_t k1s_workqueue_when(const k1s_workqueue_t *q, const char *key)
{
    int n = k1s_workqueue_num_requeues(q, key);
    uint64_t d = K1S_WORKQUEUE_BASE_DELAY_MS;
    for (int i = 0; i < n && d < K1S_WORKQUEUE_MAX_DELAY_MS; i++)
        d *= 2;
    return d < K1S_WORKQUEUE_MAX_DELAY_MS ? d : K1S_WORKQUEUE_MAX_DELAY_MS;
}

void k1s_workqueue_add_rate_limited(k1s_workqueue_t *q, const char *key)
{
    uint64_t d = k1s_workqueue_when(q, key);
    int n = k1s_workqueue_num_requeues(q, key);
    k1s_strmap_set(&q->failures, key, (void *)(intptr_t)(n + 1));
    k1s_workqueue_add_after(q, key, d);
}

void k1s_workqueue_forget(k1s_workqueue_t *q, const char *key)
{
    k1s_strmap_del(&q->failures, key);
}

void k1s_workqueue_done(k1s_workqueue_t *q, const char *key)
{
    char *held = k1s_strmap_del(&q->processing, key);
    if (!held)
        return;
    if (k1s_strmap_has(&q->dirty, held))
        push(q, held);
    free(held);
    kick(q);
}

size_t k1s_workqueue_len(const k1s_workqueue_t *q)
{
    return q->len;
}

size_t k1s_workqueue_processing(const k1s_workqueue_t *q)
{
    return k1s_strmap_len(&q->processing);
}

size_t k1s_workqueue_delayed(const k1s_workqueue_t *q)
{
    return k1s_strmap_len(&q->delayed);
}

void k1s_workqueue_free(k1s_workqueue_t *q)
{
    if (!q)
        return;
    while (q->head) {
        qent_t *e = q->head;
        q->head = e->next;
        free(e->key);
        free(e);
    }
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&q->delayed, &i, &k, &v);)
        delayed_free(v);
    for (size_t i = 0; k1s_strmap_next(&q->processing, &i, &k, &v);)
        free(v);
    k1s_strmap_free(&q->dirty);
    k1s_strmap_free(&q->processing);
    k1s_strmap_free(&q->delayed);
    k1s_strmap_free(&q->failures);
    if (q->kick)
        event_free(q->kick);
    free(q);
}
