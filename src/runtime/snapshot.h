/*
 * Root filesystems for containers: an overlayfs mount of an image's unpacked layers (the
 * snapshot chain, as lowerdirs) plus a per-container upper and work dir under
 * <agent>/snapshots/rw/<key>. The mount is recorded in the image store's index under key,
 * which keeps the layers from garbage collection (a lease) until k1s_snapshot_unmount().
 * Mounts outlive the agent: a restarted agent finds them recorded and mounted.
 */
#ifndef K1S_RUNTIME_SNAPSHOT_H
#define K1S_RUNTIME_SNAPSHOT_H

#include <stdbool.h>

#include "runtime/image.h"

/*
 * Mounts the root filesystem of image (a reference or ID as k1s_image_get takes it) on
 * target (an existing directory). key names the container (letters, digits, '-', '_', '.';
 * e.g. the container ID); unmounting deletes its upper dir (a restarted container starts
 * from a fresh rootfs, as with containerd).
 * readonly: no upper dir; the lower layers only (the plain view used by tests and `ctr`).
 * Mounting a key that is already mounted on target is a no-op (re-adoption after a restart).
 * Returns 0, or -errno with err set (-ENOENT: no such image).
 */
int k1s_snapshot_mount(k1s_image_store_t *st, const char *image, const char *key,
                       const char *target, bool readonly, k1s_err_t *err);

/*
 * Unmounts target (lazily if busy) and deletes the upper/work dirs of key and its record, so
 * that its layers can be collected. A target that is not mounted or a key not recorded is
 * not an error. Returns 0 or -errno with err set.
 */
int k1s_snapshot_unmount(k1s_image_store_t *st, const char *key, const char *target,
                         k1s_err_t *err);

/* A recorded mount. */
typedef struct k1s_snapshot_mount_info {
    char *key, *target;
    char *image;    /* the name it was mounted by */
    char *image_id; /* config digest: what kubelet's image GC checks "in use" against */
    bool readonly;
} k1s_snapshot_mount_info_t;

/* The recorded mounts (new array, sorted by key); free with k1s_snapshot_mounts_free.
 * Returns 0 or -errno with err set. */
int k1s_snapshot_mounts(k1s_image_store_t *st, k1s_snapshot_mount_info_t **out, size_t *n,
                        k1s_err_t *err);
void k1s_snapshot_mounts_free(k1s_snapshot_mount_info_t *m, size_t n);

/* The upper dir of key's mount (what the container wrote), new string; for stats. */
char *k1s_snapshot_upper_dir(const k1s_image_store_t *st, const char *key);

#endif
