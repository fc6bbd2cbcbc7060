/*
 * Unit tests for src/client/workqueue.c: de-duplication, one worker per
 * key, add-after ordering, the per-key back-off sequence and forget, and
 * that an idle queue leaves no event behind (the loop returns at once).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/workqueue.h"
#include "lib/util.h"

typedef struct rec {
    char seen[64][32];
    uint64_t at_ns[64];
    int n;
    bool hold; /* keep keys out (done later) */
    char held[8][32];
    int nheld;
    int requeue_once; /* worker re-adds the key it processes, once */
} rec_t;

static void worker(k1s_workqueue_t *q, const char *key, void *arg)
{
    rec_t *r = arg;
    snprintf(r->seen[r->n], sizeof(r->seen[0]), "%s", key);
    r->at_ns[r->n++] = k1s_now_ns();
    if (r->requeue_once) {
        r->requeue_once = 0;
        /* added while being processed: handed out again only after done */
        k1s_workqueue_add(q, key);
        assert_int_equal(k1s_workqueue_len(q), 0);
    }
    if (r->hold) {
        snprintf(r->held[r->nheld++], sizeof(r->held[0]), "%s", key);
        return;
    }
    k1s_workqueue_done(q, key);
}

static void test_dedup_and_order(void **state)
{
    struct event_base *base = event_base_new();
    rec_t r = {0};
    k1s_workqueue_t *q = k1s_workqueue_new(base, 1, worker, &r);
    k1s_workqueue_add(q, "ns/a");
    k1s_workqueue_add(q, "ns/b");
    k1s_workqueue_add(q, "ns/a");
    k1s_workqueue_add(q, "ns/a");
    assert_int_equal(k1s_workqueue_len(q), 2);
    assert_int_equal(r.n, 0); /* never on the caller's stack */
    event_base_dispatch(base);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.seen[0], "ns/a");
    assert_string_equal(r.seen[1], "ns/b");
    k1s_workqueue_free(q);
    event_base_free(base);
}

static void test_one_worker_per_key(void **state)
{
    struct event_base *base = event_base_new();
    rec_t r = {.hold = true};
    k1s_workqueue_t *q = k1s_workqueue_new(base, 4, worker, &r);
    k1s_workqueue_add(q, "k");
    event_base_dispatch(base);
    assert_int_equal(r.n, 1);
    assert_int_equal(k1s_workqueue_processing(q), 1);
    /* added twice while out with a worker: not handed to a second worker */
    k1s_workqueue_add(q, "k");
    k1s_workqueue_add(q, "k");
    event_base_dispatch(base);
    assert_int_equal(r.n, 1);
    r.hold = false;
    k1s_workqueue_done(q, "k");
    event_base_dispatch(base);
    assert_int_equal(r.n, 2); /* once more, not twice */
    assert_int_equal(k1s_workqueue_processing(q), 0);
    assert_int_equal(k1s_workqueue_len(q), 0);

    /* re-added from inside its own processing */
    r.requeue_once = 1;
    k1s_workqueue_add(q, "j");
    event_base_dispatch(base);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.seen[2], "j");
    assert_string_equal(r.seen[3], "j");
    k1s_workqueue_free(q);
    event_base_free(base);
}

static void test_workers_limit(void **state)
{
    struct event_base *base = event_base_new();
    rec_t r = {.hold = true};
    k1s_workqueue_t *q = k1s_workqueue_new(base, 2, worker, &r);
    k1s_workqueue_add(q, "a");
    k1s_workqueue_add(q, "b");
    k1s_workqueue_add(q, "c");
    event_base_dispatch(base);
    assert_int_equal(r.n, 2);
    assert_int_equal(k1s_workqueue_len(q), 1);
    k1s_workqueue_done(q, "a");
    event_base_dispatch(base);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.seen[2], "c");
    k1s_workqueue_free(q); /* frees keys still out */
    event_base_free(base);
}

static void test_add_after(void **state)
{
    struct event_base *base = event_base_new();
    rec_t r = {0};
    k1s_workqueue_t *q = k1s_workqueue_new(base, 1, worker, &r);
    uint64_t t0 = k1s_now_ns();
    k1s_workqueue_add_after(q, "late", 80);
    k1s_workqueue_add_after(q, "early", 20);
    k1s_workqueue_add_after(q, "late", 5000); /* the earlier time wins */
    assert_int_equal(k1s_workqueue_delayed(q), 2);
    assert_int_equal(k1s_workqueue_len(q), 0);
    event_base_dispatch(base);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.seen[0], "early");
    assert_string_equal(r.seen[1], "late");
    /* libevent's cached loop time may lag k1s_now_ns by a few ms: allow 5 ms */
    assert_true(r.at_ns[0] - t0 >= 15000000ull);
    assert_true(r.at_ns[1] - t0 >= 75000000ull);
    assert_true(r.at_ns[1] - t0 < 2500000000ull);
    assert_int_equal(k1s_workqueue_delayed(q), 0);
    k1s_workqueue_free(q);
    event_base_free(base);
}

static void test_backoff(void **state)
{
    struct event_base *base = event_base_new();
    rec_t r = {0};
    k1s_workqueue_t *q = k1s_workqueue_new(base, 1, worker, &r);
    /* 5 ms doubling: 5, 10, 20, ..., capped at 1000 s */
    uint64_t want = 5;
    for (int i = 0; i < 30; i++) {
        assert_int_equal(k1s_workqueue_when(q, "x"), want < 1000000 ? want : 1000000);
        assert_int_equal(k1s_workqueue_num_requeues(q, "x"), i);
        k1s_workqueue_add_rate_limited(q, "x");
        want *= 2;
    }
    assert_int_equal(k1s_workqueue_when(q, "x"), 1000000);
    assert_int_equal(k1s_workqueue_when(q, "other"), 5);
    k1s_workqueue_forget(q, "x");
    assert_int_equal(k1s_workqueue_num_requeues(q, "x"), 0);
    assert_int_equal(k1s_workqueue_when(q, "x"), 5);
    /* the first delayed add (5 ms) is what runs */
    uint64_t t0 = k1s_now_ns();
    event_base_dispatch(base);
    assert_int_equal(r.n, 1);
    assert_true(k1s_now_ns() - t0 < 2000000000ull);
    k1s_workqueue_free(q);
    event_base_free(base);
}

static void test_idle_costs_nothing(void **state)
{
    struct event_base *base = event_base_new();
    rec_t r = {0};
    k1s_workqueue_t *q = k1s_workqueue_new(base, 1, worker, &r);
    k1s_workqueue_add(q, "a");
    event_base_dispatch(base);
    /* nothing pending: the loop has no event left and returns at once */
    uint64_t t0 = k1s_now_ns();
    assert_int_equal(event_base_dispatch(base), 1);
    assert_true(k1s_now_ns() - t0 < 1000000000ull);
    k1s_workqueue_free(q);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_and_order), cmocka_unit_test(test_one_worker_per_key),
        cmocka_unit_test(test_workers_limit),   cmocka_unit_test(test_add_after),
        cmocka_unit_test(test_backoff),         cmocka_unit_test(test_idle_costs_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
