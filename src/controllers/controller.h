/*
 * What every controller is given and shares, as kube-controller-manager's
 * ControllerContext: the event loop, an in-process client acting as the
 * controller's own service account (kube-system/<name>-controller, bound to
 * ClusterRole system:controller:<name>-controller by the default RBAC
 * policy, as with --use-service-account-credentials), the manager's shared
 * informer factory, and an Event recorder.
 *
 * A controller is a k1s_controller_def_t in the table in registry.c. While
 * this server leads (manager.h), the manager calls start() for every
 * enabled controller, then starts the shared informers; start() gets the
 * informers it needs from ctx->factory, adds its handlers and indexers and
 * creates its work queue, and returns its state. stop() frees that state;
 * by then the controller's client has been freed (no more callbacks) and
 * the informers are gone, so stop() only releases memory.
 *
 * Controllers talk to the API only through ctx->client and the informers:
 * reads come from the informer caches, writes go through the client.
 */
#ifndef K1S_CONTROLLERS_CONTROLLER_H
#define K1S_CONTROLLERS_CONTROLLER_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "client/informer.h"
#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/events.h"

/* Tunables, with kube-controller-manager's flag names and defaults. */
typedef struct k1s_ctrl_opts {
    const char *controllers;          /* --controllers: "*" (default), "foo", "-foo", comma list */
    int node_monitor_grace_period_ms; /* --node-monitor-grace-period: 40 s */
    int node_monitor_period_ms;       /* --node-monitor-period: 5 s */
    int terminated_pod_gc_threshold;  /* --terminated-pod-gc-threshold: 12500 */
    int concurrent_syncs;             /* workers per controller (--concurrent-*-syncs): 5 */
    const char *data_dir;             /* the server's data directory (local-path storage) */
    const char *cluster_cidr; /* --cluster-cidr: pod CIDRs (node IPAM); NULL: 10.42.0.0/16 */
    /* --leader-elect: run only while holding the kube-system Lease. Off on the embedded
     * SQLite store, which one server alone uses (as k3s does: only stores that several
     * servers share need it); the server decides, the flag overrides. */
    bool leader_elect;
} k1s_ctrl_opts_t;

/* Fills the defaults. */
void k1s_ctrl_opts_init(k1s_ctrl_opts_t *o);

typedef struct k1s_ctrl_ctx {
    struct event_base *base;
    const char *name;                /* the controller's name, e.g. "deployment" */
    k1s_client_t *client;            /* acting as the controller's service account */
    k1s_informer_factory_t *factory; /* shared by every controller */
    k1s_recorder_t *recorder;        /* Events with source.component = def->component */
    const k1s_ctrl_opts_t *opts;
} k1s_ctrl_ctx_t;

typedef struct k1s_controller_def {
    const char *name;            /* as in --controllers: "deployment", "replicaset", ... */
    const char *service_account; /* kube-system SA: "deployment-controller" */
    const char *component;       /* Events' source.component: "deployment-controller" */
    void *(*start)(k1s_ctrl_ctx_t *ctx);
    void (*stop)(void *state);
} k1s_controller_def_t;

/* Every controller, NULL-terminated (registry.c). */
extern const k1s_controller_def_t *const k1s_controllers[];

/* Whether name is enabled by a --controllers value (NULL or "" means "*"). */
bool k1s_ctrl_enabled(const char *controllers, const char *name);

/* ---- helpers shared by controllers (util.c) ---- */

/* A string member of o, or "" (never NULL). */
const char *k1s_ctrl_str(const json_t *o, const char *k);
/* metadata.name and metadata.namespace of o, or "" (never NULL). */
const char *k1s_ctrl_name(const json_t *o);
const char *k1s_ctrl_namespace(const json_t *o);
/* "namespace/name", or "name" for cluster-scoped objects; new string. */
char *k1s_ctrl_key(const json_t *obj);
/* Splits a key into *ns (new, "" for cluster-scoped) and *name (new). */
void k1s_ctrl_split_key(const char *key, char **ns, char **name);
/* The informer's object for key, borrowed; NULL if absent. */
json_t *k1s_ctrl_get_by_key(const k1s_informer_t *inf, const char *key);
/* Adds the standard indexers "namespace", "owner" (uid), "nodeName" to inf if missing. */
void k1s_ctrl_index_namespace(k1s_informer_t *inf);
void k1s_ctrl_index_owner(k1s_informer_t *inf);
void k1s_ctrl_index_node(k1s_informer_t *inf);
/* Adds the indexer "orphans": the namespace of each object without a controller ref. */
void k1s_ctrl_index_orphans(k1s_informer_t *inf);

/* Adds obj's key to q. */
void k1s_ctrl_enqueue(k1s_workqueue_t *q, const json_t *obj);
/*
 * Informer handlers whose arg is the controller's work queue: they queue
 * the object's key (the new object's on update). k1s_ctrl_enqueue_obj
 * serves as both add and delete handler.
 */
void k1s_ctrl_enqueue_obj(json_t *obj, void *queue);
void k1s_ctrl_enqueue_new(json_t *old_obj, json_t *new_obj, void *queue);
/* Adds those handlers to inf: every object added, updated or deleted has its key queued on q. */
void k1s_ctrl_watch_keys(k1s_informer_t *inf, k1s_workqueue_t *q);
/*
 * Whether every informer of infs (NULL-terminated) has synced; if not, key
 * is queued again in 100 ms and marked done, and the sync must not run.
 */
bool k1s_ctrl_synced(k1s_workqueue_t *q, const char *key, k1s_informer_t *const *infs);

/* The ownerReference with controller: true, borrowed; NULL if none. */
json_t *k1s_ctrl_controller_ref(const json_t *obj);
/* {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true} for owner. */
json_t *k1s_ctrl_new_controller_ref(const json_t *owner);
/*
 * The object of owners (kind `kind`) that obj's controller ref names, if
 * its uid is the ref's (resolveControllerRef); borrowed, NULL if none.
 */
json_t *k1s_ctrl_resolve_owner(const k1s_informer_t *owners, const json_t *obj, const char *kind);
/*
 * Queues every object of owners (indexed by namespace) in obj's namespace
 * whose spec.selector selects obj's labels: the controllers that may adopt
 * an orphan.
 */
void k1s_ctrl_enqueue_selecting(const k1s_informer_t *owners, k1s_workqueue_t *q,
                                const json_t *obj);
/*
 * An object of a controlled kind (kind) changed from old_obj to new_obj:
 * queues its old owner if that changed, its new owner, or, for an orphan
 * whose labels changed or that was just released, the owners that may
 * adopt it (upstream's updatePod / updateReplicaSet).
 */
void k1s_ctrl_enqueue_owners_update(const k1s_informer_t *owners, k1s_workqueue_t *q,
                                    const char *kind, const json_t *old_obj, const json_t *new_obj);
/*
 * The strategic-merge patch by which owner adopts obj (ControllerRefManager's
 * AdoptPod): the controller ref to owner, obj's uid as a precondition, and
 * finalizer (if not NULL) added. New string.
 */
char *k1s_ctrl_adopt_patch(const json_t *owner, const json_t *obj, const char *finalizer);
/* The strategic-merge patch releasing obj from owner: its ownerReference (and finalizer, if not
 * NULL) removed, obj's uid as a precondition. New string. */
char *k1s_ctrl_release_patch(const json_t *owner, const json_t *obj, const char *finalizer);
/*
 * ControllerRefManager's claim of pod (not being deleted) by owner, whose
 * selector matches the pod or not (match): the strategic-merge patch
 * adopting an orphan it matches or releasing a pod it controls and no
 * longer matches (with finalizer, if not NULL, added or removed), or NULL
 * when there is nothing to do. New string.
 */
char *k1s_ctrl_claim_patch(const json_t *owner, const json_t *pod, bool match,
                           const char *finalizer);
/*
 * ClaimPods over the pods of owner's namespace (pods has the "namespace"
 * index): for each pod not being deleted whose claim by owner needs a
 * patch (k1s_ctrl_claim_patch, matched when owner's selector matches its
 * labels and, if member is not NULL, member(owner, pod)), calls
 * start(pod, body, arg) to send it (body is the callee's). Returns how many
 * patches were started.
 */
int k1s_ctrl_claim_pods(const k1s_informer_t *pods, const json_t *owner, const char *finalizer,
                        bool (*member)(const json_t *owner, const json_t *pod),
                        void (*start)(const json_t *pod, char *body, void *arg), void *arg);
/* Whether the object has a deletionTimestamp. */
bool k1s_ctrl_deleting(const json_t *obj);

/*
 * Whether a metav1.LabelSelector (JSON) selects labels (metadata.labels or
 * NULL). A NULL/null selector selects nothing, {} everything; an invalid
 * one selects nothing.
 */
bool k1s_ctrl_selector_matches(const json_t *selector, const json_t *labels);

/* Parses an RFC 3339 time ("2026-01-02T03:04:05Z", fractions and offsets allowed) into
 * Unix seconds; -1 if invalid. */
int64_t k1s_ctrl_parse_time(const char *s);
/* Wall clock now in Unix seconds (double, for sub-second comparisons). */
double k1s_ctrl_now(void);
/* Writes t (Unix seconds) as RFC 3339 with second precision. */
void k1s_ctrl_format_time(int64_t t, char out[32]);

/*
 * In-flight operation lists: doubly linked through the members prev and
 * next, newest first.
 */
#define K1S_LIST_ADD(head, x)                                                                      \
    do {                                                                                           \
        (x)->prev = NULL;                                                                          \
        (x)->next = (head);                                                                        \
        if (head)                                                                                  \
            (head)->prev = (x);                                                                    \
        (head) = (x);                                                                              \
    } while (0)
#define K1S_LIST_DEL(head, x)                                                                      \
    do {                                                                                           \
        if ((x)->prev)                                                                             \
            (x)->prev->next = (x)->next;                                                           \
        else                                                                                       \
            (head) = (x)->next;                                                                    \
        if ((x)->next)                                                                             \
            (x)->next->prev = (x)->prev;                                                           \
    } while (0)
/* Frees m and its values (each allocated with malloc). */
void k1s_ctrl_strmap_free_all(k1s_strmap_t *m);
/* Whether a request succeeded (2xx). */
bool k1s_ctrl_ok(const k1s_client_result_t *res);
/*
 * Ends the processing of key by a work-queue callback: key is done, and
 * queued again with back-off if retry, else its back-off is forgotten.
 */
void k1s_ctrl_sync_done(k1s_workqueue_t *q, const char *key, bool retry);

/* ---- pods ---- */

/* Not Succeeded or Failed and not being deleted. */
bool k1s_pod_is_active(const json_t *pod);
/* Phase Succeeded or Failed. */
bool k1s_pod_is_terminated(const json_t *pod);
/* The Ready condition is True. */
bool k1s_pod_is_ready(const json_t *pod);
/* Ready for at least min_ready_s seconds as of now (Unix seconds). */
bool k1s_pod_is_available(const json_t *pod, int min_ready_s, double now);
/* When the Ready condition last turned True (Unix seconds), or -1. */
int64_t k1s_pod_ready_since(const json_t *pod);

/*
 * A new Pod from a PodTemplateSpec: labels, annotations and finalizers of
 * the template's metadata, its spec, owner's namespace, the controller ref
 * to owner, and metadata.generateName "<prefix>" (if name is NULL) or
 * metadata.name name.
 */
json_t *k1s_ctrl_pod_from_template(const json_t *tmpl, const json_t *owner, const char *prefix,
                                   const char *name);

/*
 * A short hash of a pod template (and collision count, if >= 0), in the
 * generateName alphabet, for pod-template-hash and controller-revision-hash
 * labels: the same template always gives the same value.
 */
char *k1s_ctrl_hash(const json_t *tmpl, int64_t collision_count);

/*
 * Is the controller ordering pods by value: is a "less valuable" than b?
 * kube-controller-manager's ActivePods ordering, used when choosing which
 * pods to delete: unassigned < assigned; Pending < Unknown < Running; not
 * ready < ready; ready for less time < longer; more restarts < fewer; newer
 * < older. Returns <0, 0, >0 like strcmp.
 */
int k1s_pod_cmp_value(const json_t *a, const json_t *b);

/* ---- expectations (client-go's ControllerExpectations) ---- */

/*
 * Creations and deletions a controller has asked for and not yet seen in
 * its informers, per controller key, so that it does not act twice on a
 * stale cache. Expectations older than 5 minutes count as satisfied.
 */
typedef struct k1s_expectations k1s_expectations_t;

k1s_expectations_t *k1s_expectations_new(void);
void k1s_expectations_free(k1s_expectations_t *e);
/* Expects adds creations and dels deletions for key (replacing what was expected). */
void k1s_expect(k1s_expectations_t *e, const char *key, int adds, int dels);
/* One expected creation/deletion seen (or given up on after a failed request). */
void k1s_expect_observe_add(k1s_expectations_t *e, const char *key);
void k1s_expect_observe_del(k1s_expectations_t *e, const char *key);
/* True when nothing is pending for key (or never expected, or expired). */
bool k1s_expect_satisfied(const k1s_expectations_t *e, const char *key);
/* Forgets key (its controller object was deleted). */
void k1s_expect_forget(k1s_expectations_t *e, const char *key);

/*
 * The start of the sync of key by a work-queue callback: the object of inf
 * that key names (borrowed). NULL, and the key done, when synced is false
 * (the informers have not listed yet: key again in 100 ms) or the object
 * is gone (e's expectations for it, if e is not NULL, forgotten).
 */
json_t *k1s_ctrl_sync_object(k1s_workqueue_t *q, const char *key, bool synced,
                             const k1s_informer_t *inf, k1s_expectations_t *e);

/*
 * What a pod event means for the controller owning it (key: the owner's
 * key; NULL: no owner of this controller's), as upstream's
 * addPod/updatePod/deletePod: a pod added is an expected creation seen
 * (or a deletion, if it is being deleted already), a deletionTimestamp
 * newly set or a pod deleted without one an expected deletion seen; the
 * owner is queued for a sync. e may be NULL (no expectations).
 */
void k1s_ctrl_pod_added(k1s_workqueue_t *q, k1s_expectations_t *e, const char *key,
                        const json_t *pod);
void k1s_ctrl_pod_updated(k1s_workqueue_t *q, k1s_expectations_t *e, const char *key,
                          const json_t *old_pod, const json_t *pod);
void k1s_ctrl_pod_deleted(k1s_workqueue_t *q, k1s_expectations_t *e, const char *key,
                          const json_t *pod);

/* ---- syncs with writes out ---- */

/*
 * One sync of a key whose writes are out (the DaemonSet and StatefulSet
 * controllers'): the sync holds a reference and each write one; when the
 * last goes, the key is done (k1s_ctrl_sync_done: again with back-off if
 * failed). A controller lists its ops in a k1s_ctrl_ops_t so that stop()
 * frees those whose answers never came.
 */
typedef struct k1s_ctrl_op {
    void *ctl; /* the controller's state */
    char *key;
    int pending;                   /* references */
    bool failed;                   /* done with back-off */
    void *data;                    /* the sync's own (or NULL), given to free_data at the end */
    void (*free_data)(void *data); /* or NULL */
    struct k1s_ctrl_ops *ops;
    struct k1s_ctrl_op *prev, *next;
} k1s_ctrl_op_t;

/*
 * A write of an op: the first member of the controller's own write
 * struct. It holds a reference on its op while out; k1s_ctrl_ops_free()
 * releases the writes never answered.
 */
typedef struct k1s_ctrl_write {
    k1s_ctrl_op_t *op;
    void (*release)(struct k1s_ctrl_write *w); /* frees the enclosing struct */
    struct k1s_ctrl_write *prev, *next;
} k1s_ctrl_write_t;

typedef struct k1s_ctrl_ops {
    k1s_workqueue_t *queue;
    k1s_ctrl_op_t *head;
    k1s_ctrl_write_t *writes;
} k1s_ctrl_ops_t;

/* A new op of ops for key (ctl: the controller's state), holding one reference. */
k1s_ctrl_op_t *k1s_ctrl_op_new(k1s_ctrl_ops_t *ops, void *ctl, const char *key);
/* Drops a reference; the last ends the sync and frees op. */
void k1s_ctrl_op_unref(k1s_ctrl_op_t *op);
/* Frees every write and op still listed, leaving the work queue alone (for stop()). */
void k1s_ctrl_ops_free(k1s_ctrl_ops_t *ops);
/* Starts w (the header of a new write, release: frees it) as a write of op: a reference. */
void k1s_ctrl_write_start(k1s_ctrl_op_t *op, k1s_ctrl_write_t *w,
                          void (*release)(k1s_ctrl_write_t *w));
/* The write was answered: releases it and drops its reference on its op. */
void k1s_ctrl_write_done(k1s_ctrl_write_t *w);

/*
 * Informer handlers for objects (pods, ControllerRevisions) owned by a
 * controller of kind/api_version: each event queues the key of the
 * object's owner (and of its previous owner, when an update changed the
 * controller ref), with the pod expectations of k1s_ctrl_pod_added/
 * updated/deleted when exp is not NULL. o must outlive the handlers.
 */
typedef struct k1s_ctrl_owned {
    const char *api_version, *kind; /* the owners': "apps/v1", "DaemonSet" */
    k1s_workqueue_t *queue;         /* where the owners' keys go */
    k1s_expectations_t *exp;        /* the owners' expectations of their pods, or NULL */
} k1s_ctrl_owned_t;

k1s_informer_handlers_t k1s_ctrl_owned_handlers(k1s_ctrl_owned_t *o);
/*
 * Informer handlers queueing in q the key of every object added, updated
 * or deleted (the sync of a key whose object is gone forgets it).
 */
k1s_informer_handlers_t k1s_ctrl_enqueue_handlers(k1s_workqueue_t *q);
/* The key of obj's controller if it is a kind of api_version ("ns/name", new string), else NULL. */
char *k1s_ctrl_owner_key(const json_t *obj, const char *api_version, const char *kind);

/* ---- slow-start batches (upstream's slowStartBatch) ---- */

/*
 * Pod creations in batches of 1, 2, 4, ...: a batch starts once the one
 * before has been answered without a failure, so that a quota or an
 * admission refusal costs a few failed requests (and Events), not hundreds.
 * The caller starts the requests; this counts them.
 */
typedef struct k1s_slow_start {
    int left;      /* operations not started yet */
    int in_flight; /* operations of the current batch not answered yet */
    int next;      /* size of the next batch */
    bool failed;   /* an operation of the current batch failed */
} k1s_slow_start_t;

/* Plans n operations; returns how many to start now (the first batch, of 1). */
int k1s_slow_start_begin(k1s_slow_start_t *ss, int n);
/*
 * One operation of the current batch was answered (ok: it succeeded).
 * Returns how many to start now: once the whole batch is answered without
 * a failure, the next batch (twice as large, at most what is left), else 0.
 * When the batch had a failure, the operations not started are given up
 * on: *skipped (if not NULL) gets their number (callers stop expecting
 * them), else 0.
 */
int k1s_slow_start_answered(k1s_slow_start_t *ss, bool ok, int *skipped);

#endif
