/*
 * Image garbage collection, as kubelet's image GC manager does it: when the image
 * filesystem's usage (100 - available/capacity, from statvfs of the store) reaches the high
 * threshold (85%), unused images are removed, least recently used first, until usage is
 * expected below the low threshold (80%). An image is in use while a container, running or
 * not, has a root filesystem mounted from it (the store's mount records); last use is when a
 * container was last created from it (never used: its import or pull time comes first).
 * Pinned images (imported from the air-gap dir, as k3s pins them) are never removed.
 * Images younger than the minimum age (minimum-image-ttl-duration, 2 min) are kept, so that
 * an image pulled for a pod that has not started yet is not taken away under it. Removing an
 * image frees its blobs and its snapshots that no other image shares.
 *
 * Runs on the caller's thread: removing deletes directory trees (fast for the few images of a
 * gateway), called by the kubelet when the agent wakes for its node status sync.
 */
#ifndef K1S_RUNTIME_IMAGE_GC_H
#define K1S_RUNTIME_IMAGE_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "runtime/image.h"

typedef struct k1s_image_gc_policy {
    int high_pct;      /* usage at or above which GC runs; 100 disables */
    int low_pct;       /* usage GC brings the filesystem down to */
    int64_t min_age_s; /* images detected less than this ago stay */
} k1s_image_gc_policy_t;

typedef struct k1s_image_gc_result {
    bool ran;         /* usage was at or above the high threshold */
    int usage_pct;    /* usage when it started */
    uint64_t to_free; /* bytes it wanted to free */
    uint64_t freed;   /* bytes it freed (store content and snapshots) */
    size_t removed;   /* images removed */
} k1s_image_gc_result_t;

/*
 * Collects when usage is at or above the high threshold (see above). res (may be NULL) says
 * what happened. Returns 0 (also when nothing was needed), -ENOSPC when it could not free
 * enough, with err in kubelet's words ("Failed to garbage collect required amount of images.
 * Attempted to free N bytes, but only found M bytes eligible to free."), or another -errno.
 */
int k1s_image_gc(k1s_image_store_t *st, const k1s_image_gc_policy_t *policy,
                 k1s_image_gc_result_t *res, k1s_err_t *err);

/*
 * Removes every unused image older than min_age_s (the eviction manager's reclaim under disk
 * pressure, kubelet's DeleteUnusedImages). *freed (may be NULL) gets the bytes freed.
 * Returns the number of images removed, or -errno with err set.
 */
int k1s_image_gc_unused(k1s_image_store_t *st, int64_t min_age_s, uint64_t *freed, k1s_err_t *err);

/* A candidate for removal; the order is the pure part, exposed for tests. */
typedef struct k1s_image_gc_candidate {
    const char *id;    /* image ID (config digest) */
    int64_t last_used; /* Unix seconds; 0: never used */
    int64_t detected;  /* Unix seconds it was pulled or imported */
} k1s_image_gc_candidate_t;

/* Sorts candidates in removal order: least recently used first, then first detected first. */
void k1s_image_gc_sort(k1s_image_gc_candidate_t *c, size_t n);

#endif
