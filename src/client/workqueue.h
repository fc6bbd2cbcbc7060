/*
 * Rate-limited work queues for controllers, with client-go's semantics:
 * a key waiting in the queue is held once however often it is added; a key
 * is never handed to two workers at once (added while being processed, it
 * is queued again when the worker is done); keys can be added after a
 * delay; a failing key is retried with per-key exponential back-off (5 ms
 * doubling up to 1000 s, client-go's default controller rate limiter's
 * per-item part) until it is forgotten.
 *
 * Everything runs on the event loop: workers are calls of the process
 * callback, at most `workers` keys are out at a time, delays are libevent
 * timers. An idle queue has no timer and costs nothing.
 */
#ifndef K1S_CLIENT_WORKQUEUE_H
#define K1S_CLIENT_WORKQUEUE_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct k1s_workqueue k1s_workqueue_t;

/*
 * Called from the loop with a key to process (valid until done). The
 * worker calls k1s_workqueue_done(q, key) when finished, at once or later
 * (after its API calls are answered).
 */
typedef void (*k1s_workqueue_fn)(k1s_workqueue_t *q, const char *key, void *arg);

#define K1S_WORKQUEUE_BASE_DELAY_MS 5
#define K1S_WORKQUEUE_MAX_DELAY_MS (1000 * 1000)

k1s_workqueue_t *k1s_workqueue_new(struct event_base *base, int workers, k1s_workqueue_fn fn,
                                   void *arg);
/* Frees the queue; keys out with workers must not be marked done afterwards. Accepts NULL. */
void k1s_workqueue_free(k1s_workqueue_t *q);
/* Queues key (copied) unless it is already waiting. */
void k1s_workqueue_add(k1s_workqueue_t *q, const char *key);
/* Queues key after delay_ms; an earlier pending delay for the key wins. */
void k1s_workqueue_add_after(k1s_workqueue_t *q, const char *key, uint64_t delay_ms);
/* Queues key after its back-off delay and counts one more failure. */
void k1s_workqueue_add_rate_limited(k1s_workqueue_t *q, const char *key);
/* The back-off delay the next add_rate_limited of key would use, in ms. */
uint64_t k1s_workqueue_when(const k1s_workqueue_t *q, const char *key);
/* Clears key's failure count. */
void k1s_workqueue_forget(k1s_workqueue_t *q, const char *key);
/* Failures counted for key. */
int k1s_workqueue_num_requeues(const k1s_workqueue_t *q, const char *key);
/* The worker finished key: it may be handed out again. */
void k1s_workqueue_done(k1s_workqueue_t *q, const char *key);
/* Keys waiting (not counting delayed ones or those being processed). */
size_t k1s_workqueue_len(const k1s_workqueue_t *q);
/* Keys being processed; keys waiting for their delay. */
size_t k1s_workqueue_processing(const k1s_workqueue_t *q);
size_t k1s_workqueue_delayed(const k1s_workqueue_t *q);

#endif
