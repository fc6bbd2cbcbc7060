/*
 * Image garbage collection (see image-gc.h): candidates are the images no mounted container
 * uses, removed in least-recently-used order through k1s_image_remove(), which also frees
 * the blobs and snapshots nothing else references. Bytes freed are measured as the change
 * in the store's content and snapshot sizes, not estimated from image sizes, since layers
 * shared with a kept image stay.
 */
#include "runtime/image-gc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "runtime/snapshot.h"

static int64_t parse_time(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

static int cmp_candidate(const void *a, const void *b)
{
    const k1s_image_gc_candidate_t *x = a, *y = b;
    if (x->last_used != y->last_used)
        return x->last_used < y->last_used ? -1 : 1;
    if (x->detected != y->detected)
        return x->detected < y->detected ? -1 : 1;
    return strcmp(x->id, y->id);
}

void k1s_image_gc_sort(k1s_image_gc_candidate_t *c, size_t n)
{
    if (n > 1)
        qsort(c, n, sizeof(*c), cmp_candidate);
}

static uint64_t store_bytes(k1s_image_store_t *st)
{
    k1s_image_fs_usage_t u;
    if (k1s_image_store_usage(st, &u, NULL) < 0)
        return 0;
    return u.content_bytes + u.snapshot_bytes;
}

/*
 * Removes unused images older than min_age_s, in LRU order, until *freed reaches want
 * (UINT64_MAX: all of them). Returns the number removed or -errno.
 */
static int free_space(k1s_image_store_t *st, uint64_t want, int64_t min_age_s, uint64_t *freed,
                      k1s_err_t *err)
{
    *freed = 0;
    k1s_image_t **imgs = NULL;
    size_t n = 0, nm = 0;
    k1s_snapshot_mount_info_t *mounts = NULL;
    int r = k1s_image_list(st, &imgs, &n, err);
    if (r < 0)
        return r;
    r = k1s_snapshot_mounts(st, &mounts, &nm, err);
    if (r < 0) {
        k1s_image_list_free(imgs, n);
        return r;
    }
    int64_t now = (int64_t)time(NULL);
    k1s_image_gc_candidate_t *c = k1s_xcalloc(n + 1, sizeof(*c));
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        const k1s_image_t *img = imgs[i];
        bool used = false, dup = false;
        for (size_t j = 0; j < nm && !used; j++)
            used = k1s_streq(mounts[j].image_id, img->id) ||
                   (!*mounts[j].image_id && k1s_streq(mounts[j].image, img->name));
        for (size_t j = 0; j < nc && !dup; j++)
            dup = !strcmp(c[j].id, img->id); /* several names of one image: one candidate */
        for (size_t j = 0; j < n && !used; j++)
            used = imgs[j]->pinned && k1s_streq(imgs[j]->id, img->id); /* air-gap: pinned */
        int64_t detected = parse_time(img->created);
        if (used || dup || !img->id)
            continue;
        if (now - detected < min_age_s) {
            k1s_debug("image GC: %s is younger than %llds; kept", img->name, (long long)min_age_s);
            continue;
        }
        c[nc++] = (k1s_image_gc_candidate_t){img->id, parse_time(img->last_used), detected};
    }
    k1s_image_gc_sort(c, nc);
    int removed = 0;
    for (size_t i = 0; i < nc && *freed < want; i++) {
        uint64_t before = store_bytes(st);
        k1s_err_t e = {0};
        if (k1s_image_remove(st, c[i].id, &e) < 0) {
            k1s_debug("image GC: remove %s: %s", c[i].id, e.msg);
            continue;
        }
        uint64_t after = store_bytes(st);
        *freed += before > after ? before - after : 0;
        removed++;
        k1s_info("image GC: removed image %.19s (%llu bytes freed so far)", c[i].id,
                 (unsigned long long)*freed);
    }
    free(c);
    k1s_snapshot_mounts_free(mounts, nm);
    k1s_image_list_free(imgs, n);
    return removed;
}

int k1s_image_gc(k1s_image_store_t *st, const k1s_image_gc_policy_t *policy,
                 k1s_image_gc_result_t *res, k1s_err_t *err)
{
    k1s_image_gc_result_t out = {0};
    if (res)
        *res = out;
    /* statvfs alone: the common case (below the threshold) reads nothing else */
    struct statvfs vfs;
    if (statvfs(k1s_image_store_dir(st), &vfs) < 0)
        return k1s_err_set(err, errno, "statfs %s: %s", k1s_image_store_dir(st), strerror(errno));
    k1s_image_fs_usage_t u = {.fs_capacity = (uint64_t)vfs.f_blocks * vfs.f_frsize,
                              .fs_available = (uint64_t)vfs.f_bavail * vfs.f_frsize};
    if (!u.fs_capacity || policy->high_pct >= 100)
        return 0;
    int r;
    out.usage_pct = 100 - (int)(u.fs_available * 100 / u.fs_capacity);
    if (out.usage_pct < policy->high_pct) {
        if (res)
            *res = out;
        return 0;
    }
    out.ran = true;
    uint64_t target = u.fs_capacity / 100 * (uint64_t)(100 - policy->low_pct);
    out.to_free = target > u.fs_available ? target - u.fs_available : 0;
    k1s_debug("image GC: usage %d%% of the image filesystem is at or above %d%%; freeing %llu "
              "bytes to reach %d%%",
              out.usage_pct, policy->high_pct, (unsigned long long)out.to_free, policy->low_pct);
    r = free_space(st, out.to_free, policy->min_age_s, &out.freed, err);
    if (r >= 0) {
        out.removed = (size_t)r;
        r = 0;
        if (out.freed < out.to_free)
            r = k1s_err_set(err, ENOSPC,
                            "Failed to garbage collect required amount of images. Attempted to "
                            "free %llu bytes, but only found %llu bytes eligible to free.",
                            (unsigned long long)out.to_free, (unsigned long long)out.freed);
    }
    if (res)
        *res = out;
    return r;
}

int k1s_image_gc_unused(k1s_image_store_t *st, int64_t min_age_s, uint64_t *freed, k1s_err_t *err)
{
    uint64_t f = 0;
    int r = free_space(st, UINT64_MAX, min_age_s, &f, err);
    if (r >= 0 && freed)
        *freed = f;
    return r;
}
