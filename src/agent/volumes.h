/*
 * A pod's API-backed volumes and the objects its env refers to (configMap, secret, downwardAPI,
 * projected with service-account tokens), fetched with the node's client and written under
 * <pod_dir>/volumes/<name> as kubelet's AtomicWriter does. See volumes.c.
 */
#ifndef K1S_AGENT_VOLUMES_H
#define K1S_AGENT_VOLUMES_H

#include <jansson.h>
#include <stdbool.h>

#include "client/client.h"

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
/* Whether the pod has any such volume, or env taken from configMaps or Secrets. */
bool k1s_vols_needed(const json_t *pod);

#endif
