/*
 * ControllerRevisions (apps/v1) for the controllers that keep a history of
 * their pod template, as upstream's controller history: StatefulSet and
 * DaemonSet. A revision holds, in data, the strategic merge patch
 * {"spec":{"template":{..., "$patch":"replace"}}} that puts its template
 * back, so that `kubectl rollout history` lists the revisions and
 * `kubectl rollout undo` applies one. Revisions are named
 * "<owner>-<hash>", carry the template's labels plus the hash (under
 * controller.kubernetes.io/hash for StatefulSets, controller-revision-hash
 * for DaemonSets, as upstream), the owner's annotations (so that
 * kubernetes.io/change-cause shows in `kubectl rollout history`), a
 * controller ownerReference to their owner and a revision number (highest
 * is newest).
 */
#ifndef K1S_CONTROLLERS_HISTORY_H
#define K1S_CONTROLLERS_HISTORY_H

#include <jansson.h>
#include <stdint.h>

#include "client/client.h"
#include "client/informer.h"
#include "controllers/controller.h"

extern const k1s_gvr_t k1s_history_gvr;

/* The revision data for owner's spec.template; new reference. */
json_t *k1s_history_data(const json_t *owner);
/* The pod template a revision's data holds (without the directive); new reference or NULL. */
json_t *k1s_history_template(const json_t *rev);
/* The revisions in inf (indexed "owner") whose controller is owner; *out as k1s_informer_by_index.
 */
int k1s_history_owned(const k1s_informer_t *inf, const json_t *owner, json_t ***out);
/* revision of a ControllerRevision. */
int64_t k1s_history_revision(const json_t *rev);
/* The highest revision number among revs, 0 if none. */
int64_t k1s_history_max(json_t *const *revs, int n);
/* The newest revision whose data equals data (borrowed), or NULL. */
json_t *k1s_history_find_equal(json_t *const *revs, int n, const json_t *data);
/* The revision named name among revs (borrowed), or NULL. */
json_t *k1s_history_find_name(json_t *const *revs, int n, const char *name);
/*
 * A new ControllerRevision of owner holding data (a new reference is taken)
 * as revision number revision, named after the hash of data and
 * collision_count, which is also its label hash_label; *hash gets the hash
 * (new string). Returns a new object.
 */
json_t *k1s_history_new(const json_t *owner, json_t *data, int64_t revision,
                        int64_t collision_count, const char *hash_label, char **hash);
/*
 * The revision (borrowed) of owner's current template among revs (owner's
 * revisions), when it exists and is the newest. Otherwise returns NULL and
 * starts the write that gets there, answered through cb(arg): the older
 * revision of that template made the newest (after a rollout undo), a new
 * revision (labelled with its hash under hash_label), or, when the new
 * revision's name is another template's (inf, the revision informer, holds
 * it), owner's status.collisionCount bumped through the status subresource
 * of owner_res. The informers bring the owner back when the write shows.
 */
json_t *k1s_history_ensure(k1s_client_t *client, const k1s_informer_t *inf,
                           const k1s_gvr_t *owner_res, const json_t *owner, json_t *const *revs,
                           int n, const char *hash_label, k1s_client_fn cb, void *arg);
/*
 * Deletes (fire and forget) the oldest revisions among revs beyond limit
 * that are not live (live(rev, arg) false).
 */
void k1s_history_truncate(k1s_client_t *client, json_t *const *revs, int n, int64_t limit,
                          bool (*live)(const json_t *rev, void *arg), void *arg);

/*
 * What a controller of pods with a history (DaemonSet, StatefulSet) starts
 * with: its work queue, pod expectations and syncs in flight, the shared
 * informers of its owners (indexed by namespace), pods (by owner and
 * namespace) and ControllerRevisions (by owner), and handlers that queue an
 * owner on its own events and on those of its pods and revisions.
 */
typedef struct k1s_history_owner {
    k1s_informer_t *owners, *pods, *revs;
    k1s_workqueue_t *queue;
    k1s_expectations_t *exp;
    k1s_ctrl_ops_t ops;
    k1s_ctrl_owned_t owned_pods, owned_revs; /* the handlers' */
} k1s_history_owner_t;

/* Sets o up for owners of gvr and kind (apps/v1), syncing with sync(arg). */
void k1s_history_owner_start(k1s_history_owner_t *o, k1s_ctrl_ctx_t *ctx, const k1s_gvr_t *gvr,
                             const char *kind, k1s_workqueue_fn sync, void *arg);
/* Frees what o holds (for stop(): the client and informers are gone). */
void k1s_history_owner_stop(k1s_history_owner_t *o);

#endif
