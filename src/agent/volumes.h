/*
 * A pod's API-backed volumes and the objects its env refers to (configMap, secret, downwardAPI,
 * projected with service-account tokens), fetched with the node's client and written under
 * <pod_dir>/volumes/<name> as kubelet's AtomicWriter does. See volumes.c.
 */
#ifndef K1S_AGENT_VOLUMES_H
#define K1S_AGENT_VOLUMES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "lib/err.h"

typedef struct k1s_vols k1s_vols_t;

/* rc 0, or -1 with msg saying what failed ("MountVolume.SetUp failed for volume \"x\":
 * configmap \"y\" not found"). Never runs inside k1s_vols_start(). Do not free the
 * k1s_vols_t from inside the callback. */
typedef void (*k1s_vols_done_fn)(void *arg, int rc, const char *msg);

/* Fetches and writes every such volume of pod; done is called once. refresh: the pod runs
 * already; only volumes whose content changed are rewritten (atomically) and
 * service-account tokens are renewed only past 80% of their lifetime. */
k1s_vols_t *k1s_vols_start(k1s_client_t *client, const json_t *pod, const char *pod_dir,
                           const char *pod_ip, bool refresh, k1s_vols_done_fn done, void *arg);
/* Cancels what is still being fetched (no callback afterwards) and frees. Accepts NULL. */
void k1s_vols_free(k1s_vols_t *v);
/* After done: the configMaps and Secrets fetched, for env:
 * {"configmaps": {name: object or null}, "secrets": {...}} (new reference). */
json_t *k1s_vols_refs(const k1s_vols_t *v);
/* Whether the pod has any such volume, a hostPath volume with a type to check, or env
 * taken from configMaps or Secrets. */
bool k1s_vols_needed(const json_t *pod);

/* The pod's securityContext.fsGroup, or -1 when it has none. */
int64_t k1s_vols_fs_group(const json_t *pod);

/*
 * kubelet's SetVolumeOwnership (pkg/volume/volume_linux.go) for a volume that supports
 * ownership management: every file and directory under path gets group fs_group and
 * g+rw (g+r when readonly), directories also g+x and the setgid bit, so that what the
 * containers create there belongs to the group too. Symlinks only change group. With the
 * pod's fsGroupChangePolicy OnRootMismatch, nothing is done when path already has that
 * group and those bits. fs_group < 0: nothing to do. 0 or -errno with err set.
 */
int k1s_vols_set_ownership(const json_t *pod, const char *path, int64_t fs_group, bool readonly,
                           k1s_err_t *err);

/*
 * kubelet's hostPath type check (pkg/volume/hostpath): DirectoryOrCreate and FileOrCreate
 * create what is missing (0755 directories, an empty 0644 file); Directory, File, Socket,
 * CharDevice and BlockDevice fail when the path is not of that type ("hostPath type check
 * failed: /dev/x is not a block device"); "" checks nothing. vol is the Volume object.
 */
int k1s_vols_hostpath_check(const json_t *vol, k1s_err_t *err);

#endif
