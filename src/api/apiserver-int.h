/*
 * Internals shared by the API server's files: apiserver.c (routing, authn,
 * health, metrics), discovery.c, rest.c (verbs), watch.c, objects.c (keys,
 * selector fields), status.c (metav1.Status), ipalloc.c (Service IPs and
 * node ports), nslife.c (namespace termination), admission.c (the admission
 * chain; built-in plugins in admit-*.c, webhooks in webhook.c).
 */
#ifndef K1S_API_APISERVER_INT_H
#define K1S_API_APISERVER_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "api/apiserver.h"
#include "api/audit.h"
#include "api/authz.h"
#include "api/registry.h"
#include "lib/buf.h"
#include "lib/util.h"

typedef struct k1s_ipalloc k1s_ipalloc_t;
typedef struct k1s_sa k1s_sa_t;
typedef struct k1s_csr k1s_csr_t;

/* Selector fields kept with each stored value (the store's kv->aux). */
typedef struct k1s_obj_aux {
    const k1s_resource_t *res;
    char *ns; /* "" for cluster-scoped */
    char *name;
    json_t *labels;  /* object, or NULL */
    char *fields[8]; /* values of res->field_selectors[i] */
} k1s_obj_aux_t;

typedef struct k1s_api_watch k1s_api_watch_t;
typedef struct k1s_admission k1s_admission_t;

/* Request metrics by verb/resource/code. */
typedef struct k1s_metric_row {
    char *verb, *resource;
    int code;
    uint64_t count;
    double sum_s;
    uint64_t buckets[12];
} k1s_metric_row_t;

typedef struct k1s_token {
    char *token, *user, *uid;
    char **groups;
} k1s_token_t;

struct k1s_apiserver {
    struct event_base *base;
    k1s_store_t *store;
    k1s_http_server_t *http;
    char *advertise_address;
    int advertise_port;
    k1s_ipalloc_t *ips;
    k1s_ipalloc_t *ports;
    bool ready;
    /* live API watches (for shutdown and metrics) */
    k1s_api_watch_t *watches;
    size_t nwatches;
    /* the last encoded watch event, shared by every watcher it goes to (watch.c) */
    int64_t wc_rev;
    const k1s_resource_t *wc_res;
    const char *wc_type;
    k1s_bytes_t *wc_bytes;
    /* namespaces with a termination pass scheduled */
    struct event *ns_event;
    bool ns_pass_pending;
    /* CustomResourceDefinitions: a pass scheduled (crd.c) */
    struct event *crd_event;
    bool crd_pass_pending;
    /* metrics */
    k1s_metric_row_t *metrics;
    size_t nmetrics, metrics_cap;
    /* static tokens */
    k1s_token_t *tokens;
    size_t ntokens;
    k1s_sa_t *sa;   /* service accounts: token signing and defaults (satoken.c) */
    k1s_csr_t *csr; /* CertificateSigningRequest signing (csr.c) */
    char *tls_dir;  /* the cluster PKI (opts.tls_dir), or NULL; proxy.c reaches kubelets with it */
    uint64_t start_ns;
    k1s_authz_t *authz; /* authz.c: RBAC view, Node authorizer */
    k1s_audit_t *audit; /* audit.c: NULL when --audit-log-path is not set */
    /* admission state: webhook configurations, quota bookkeeping (admission.c) */
    k1s_admission_t *admission;
    struct k1s_metrics_api *metrics_api; /* metrics.c: the kubelets' figures, NULL until used */
};

/* An authenticated request in flight. */
typedef struct k1s_api_req {
    k1s_apiserver_t *api;
    k1s_http_req_t *http;
    uint64_t start_ns;   /* copy of http->start_ns: http is gone once answered */
    const char *user;    /* authenticated user name */
    const char *uid;     /* its uid, or NULL (borrowed like user) */
    char *const *groups; /* its groups, NULL-terminated (borrowed from the peer or token) */
    void *auth_owned;    /* one allocation holding user and groups, when they are not borrowed */
    json_t *extra;       /* the user's extra: {key: [values]}, or NULL (owned) */
    const char *verb; /* for metrics: get/list/watch/create/update/patch/delete/deletecollection */
    const k1s_resource_t *res;
    char *ns;   /* namespace from the URL, or NULL */
    char *name; /* item name from the URL, or NULL */
    char *sub;  /* subresource, or NULL */
    bool dry_run;
    bool generated_name; /* metadata.name was made from generateName by this request */
    json_t *obj;         /* the object being written */
    json_t *old;         /* previous stored object (update/patch/delete) */
    char *key;
    json_t *warnings; /* array of strings → Warning headers */
    int success_code;
    bool answer_scale;                          /* answer a write with the autoscaling/v1 Scale */
    int (*after_commit)(struct k1s_api_req *r); /* optional hook after the write */
    k1s_authz_req_t *authz;                     /* attributes and decision (authz.c) */
    json_t *audit_annotations; /* object of admission audit annotations, or NULL (admission.c) */
    void *quota_charge;        /* usage charged by ResourceQuota until answered (admit-quota.c) */
    void *admit_chain;         /* the admission phase in progress (admission.c) */
    int64_t grace;             /* a delete's grace period, -1 for the object's own (rest.c) */
    const char *propagation;   /* a delete's propagationPolicy (static string) or NULL */
    bool eviction;             /* a delete for pods/eviction: answered with Status 201 */
    /* field manager (fieldmanager.c) */
    char *manager; /* fieldManager, or derived from the User-Agent */
    bool force;    /* apply: force=true */
    bool applied;  /* managedFields already set by an apply */
} k1s_api_req_t;

/* --- apiserver.c --- */
/* The bearer-token authenticator, for requests and TokenReview alike: true with the user's
 * name, uid and groups (borrowed) if tok is valid. */
bool k1s_api_authenticate_token(k1s_apiserver_t *api, const char *tok, const char **user,
                                const char **uid, char *const **groups);

/* --- review.c: authorization.k8s.io and authentication.k8s.io reviews --- */
/* Answers a request to a create_only resource. */
void k1s_review_handle(k1s_api_req_t *r);

/* --- metrics.c: metrics.k8s.io from the kubelets --- */
/* Answers a request to a read_only resource: name NULL for a list; extra: more path. */
void k1s_metrics_handle(k1s_api_req_t *r, const char *name, bool extra);
/* Ends the scrapes in flight and answers the requests waiting for them (503). */
void k1s_metrics_api_free(k1s_apiserver_t *api);

/* --- objects.c --- */
/* Store key for an object: "/<storage>/<ns>/<name>" or "/<storage>/<name>". New string. */
char *k1s_obj_key(const k1s_resource_t *r, const char *ns, const char *name);
/* Prefix for listing: "/<storage>/" or "/<storage>/<ns>/". New string. */
char *k1s_obj_prefix(const k1s_resource_t *r, const char *ns);
/* Builds the aux record for obj (parsed). */
k1s_obj_aux_t *k1s_obj_aux_new(const k1s_resource_t *r, const json_t *obj);
void k1s_obj_aux_free(k1s_obj_aux_t *a);
/* Serializes obj (compact, keeping key order). */
k1s_bytes_t *k1s_obj_encode(const json_t *obj);
/* Parses stored bytes (aborts on corrupt data: the store only holds our own JSON). */
json_t *k1s_obj_decode(const k1s_bytes_t *b);
/* metadata helpers */
json_t *k1s_obj_meta(json_t *obj); /* creates metadata {} if missing */
const char *k1s_obj_str(const json_t *obj,
                        const char *path); /* dotted path, NULL if not a string */
bool k1s_resource_tracks_generation(const k1s_resource_t *r);
/* The metadata of an autoscaling/v1 Scale for obj (name, namespace, uid, resourceVersion,
 * creationTimestamp). New reference. */
json_t *k1s_obj_scale_meta(const json_t *obj);
/* "deployments.apps" / "pods" */
void k1s_resource_qualified(const k1s_resource_t *r, char *buf, size_t len);
/* "Deployment.apps" / "Pod" */
void k1s_resource_kind_group(const k1s_resource_t *r, char *buf, size_t len);

/* --- status.c --- */
/* Sends a metav1.Status failure and releases the request. */
void k1s_api_fail(k1s_api_req_t *r, int code, const char *reason, const char *fmt, ...)
    K1S_PRINTF(4, 5);
/* Same, with details {name, group, kind, causes}. Takes ownership of causes (may be NULL). */
void k1s_api_fail_details(k1s_api_req_t *r, int code, const char *reason, json_t *causes,
                          const char *msg);
/* 404 for name in r->res. */
void k1s_api_not_found(k1s_api_req_t *r, const char *name);
/* Sends JSON body (takes ownership of obj) with code. */
void k1s_api_send_json(k1s_api_req_t *r, int code, json_t *obj);
/* Answers with a stored value, in the shape of the request's resource. */
void k1s_api_send_stored(k1s_api_req_t *r, int code, k1s_kv_t *kv);
/* An integer query parameter, or dflt when absent or empty. */
int64_t k1s_api_query_int(k1s_http_req_t *h, const char *name, int64_t dflt);
/* Sends raw bytes as application/json. */
void k1s_api_send_bytes(k1s_api_req_t *r, int code, const char *data, size_t len);
/* Releases a request that was answered (metrics + free). */
void k1s_api_req_done(k1s_api_req_t *r, int code);
/* Standalone Status JSON (new reference). */
json_t *k1s_status_new(int code, const char *reason, const char *msg);

/* --- discovery.c --- */
bool k1s_discovery_handle(k1s_api_req_t *r, const char *path);

/* --- rest.c --- */
void k1s_rest_handle(k1s_api_req_t *r, const char *group, const char *version, char **segs,
                     int nsegs);
/* Decodes the request body (JSON, YAML or protobuf) into an object; NULL after answering 400. */
json_t *k1s_rest_decode_body(k1s_api_req_t *r);
/* Internal writes used by bootstrap and namespace termination (no HTTP request). */
int k1s_rest_internal_create(k1s_apiserver_t *api, const k1s_resource_t *res, json_t *obj);
/*
 * Deletes r->name of r->res as a DELETE with DeleteOptions opts (borrowed, may
 * be NULL: gracePeriodSeconds, dryRun, preconditions) would, and answers.
 */
void k1s_rest_delete(k1s_api_req_t *r, const json_t *opts);
/* Deletes (or starts graceful deletion of) a stored object; returns 0 or -errno. */
int k1s_rest_internal_delete(k1s_apiserver_t *api, const k1s_resource_t *res, const char *key);

/* --- gcpolicy.c: garbage-collection policy of deletes --- */
/* Reads DeleteOptions' propagationPolicy / orphanDependents into *policy ("Orphan",
 * "Background", "Foreground" or NULL). -EINVAL with *msg (new string) if invalid. */
int k1s_gc_parse_delete_options(const json_t *opts, const char **policy, char **msg);
/* Adds or removes the "orphan" and "foregroundDeletion" finalizers of obj (about to be
 * deleted) as policy (or, if NULL, obj's finalizers and res's default) says; true if
 * they changed. */
bool k1s_gc_delete_finalizers(const k1s_resource_t *res, json_t *obj, const char *policy);
/* --- eviction.c --- */
/* POST pods/<name>/eviction: checks the pod's PodDisruptionBudget, then deletes. */
void k1s_eviction_handle(k1s_api_req_t *r);

/* --- watch.c --- */
void k1s_watch_start(k1s_api_req_t *r, const char *prefix);
void k1s_watch_close_all(k1s_apiserver_t *api);
/* Ends the watches of resources no longer served (a deleted CRD's). */
void k1s_watch_close_unserved(k1s_apiserver_t *api);

/* --- list.c: reads --- */
void k1s_rest_list(k1s_api_req_t *r);
void k1s_rest_get(k1s_api_req_t *r);
typedef struct k1s_list_filter k1s_list_filter_t;
k1s_list_filter_t *k1s_list_filter_new(k1s_api_req_t *r, bool *failed);
bool k1s_list_filter_match(const k1s_list_filter_t *f, const k1s_obj_aux_t *aux);
void k1s_list_filter_free(k1s_list_filter_t *f);
/* True if the request asked for Table output. */
bool k1s_api_wants_table(k1s_api_req_t *r);
/* Builds a one-or-more-row Table (new reference) from objects. */
json_t *k1s_api_table(k1s_api_req_t *r, json_t *objects, const char *rv, const char *cont,
                      bool with_columns);

/* --- convert.c --- */
/* True if r is served in another shape than it is stored in. */
bool k1s_convert_needed(const k1s_resource_t *r);
/* Stored object → r's shape, and back. New references. */
json_t *k1s_convert_from_storage(const k1s_resource_t *r, const json_t *stored);
json_t *k1s_convert_to_storage(const k1s_resource_t *r, const json_t *obj);
/* obj (in r's shape) in the shape the Table printers read. New reference. */
json_t *k1s_convert_for_table(const k1s_resource_t *r, const json_t *obj);
/* Stored bytes → r's shape; a new reference (the same bytes when no conversion is needed). */
k1s_bytes_t *k1s_convert_bytes(const k1s_resource_t *r, k1s_bytes_t *stored);

/* --- ipalloc.c --- */
k1s_ipalloc_t *k1s_ipalloc_new_cidr(const char *cidr, k1s_err_t *err);
k1s_ipalloc_t *k1s_ipalloc_new_range(uint32_t first, uint32_t last);
void k1s_ipalloc_free(k1s_ipalloc_t *a);
/* Marks a value used; -EEXIST if it already was, -ERANGE if outside. */
int k1s_ipalloc_take(k1s_ipalloc_t *a, uint32_t v);
/* Allocates a free value (random start); -ENOSPC when full. */
int k1s_ipalloc_next(k1s_ipalloc_t *a, uint32_t *out);
void k1s_ipalloc_release(k1s_ipalloc_t *a, uint32_t v);
bool k1s_ipalloc_contains(const k1s_ipalloc_t *a, uint32_t v);
/* The first value of the range (the kubernetes Service's IP). */
uint32_t k1s_ipalloc_first(const k1s_ipalloc_t *a);
/* Service IP/port bookkeeping over whole objects. */
int k1s_svc_allocate(k1s_api_req_t *r, json_t *svc, const json_t *old, json_t *causes);
void k1s_svc_release(k1s_apiserver_t *api, const json_t *svc);
/* Rebuild allocations from stored Services at start. */
void k1s_svc_rebuild(k1s_apiserver_t *api);

/* --- nslife.c --- */
/* Schedules a pass over terminating namespaces (after deletes commit). */
void k1s_ns_schedule(k1s_apiserver_t *api);
bool k1s_ns_is_terminating(k1s_apiserver_t *api, const char *ns, bool *exists);

/* --- admission.c: the admission chain ---
 *
 * Every create, update, patch and delete that reaches rest.c goes through
 * admission in Kubernetes' order:
 *
 *   mutating admission (built-in plugins in table order, then mutating webhooks)
 *     -> defaulting and validation (rest.c)
 *     -> validating admission (built-in plugins in table order, then validating webhooks)
 *     -> commit
 *
 * A built-in plugin is one row of the table `k1s_admit_plugins[]` in
 * admission.c: a name (as --enable-admission-plugins spells it) and a
 * mutate and/or validate function. Both run synchronously on the event loop
 * and see the request: r->verb ("create", "update", "patch", "delete"),
 * r->res, r->sub (subresource or NULL), r->ns, r->obj (the new object, NULL
 * on delete; its name may still be empty when it has a generateName),
 * r->old (stored object on update/patch/delete), r->user, r->groups and
 * r->dry_run. A mutate function may change r->obj in place. A function
 * returns 0 to admit, or fills *deny and returns -EPERM to refuse; the
 * chain then answers 403 Forbidden with `<resource> "<name>" is forbidden:
 * <deny->msg>` unless deny->code/reason/raw say otherwise. Plugins may add
 * warnings (k1s_admit_warn) and audit annotations (k1s_admit_audit).
 *
 * To plug a new built-in in (ServiceAccount's k1s_sa_admit_pod,
 * NodeRestriction), add a row to k1s_admit_plugins[] at the position
 * Kubernetes orders it (the table lists them in kube-apiserver's order) with
 * a function of type k1s_admit_fn, e.g.
 *     {"ServiceAccount", k1s_sa_admit_pod, k1s_sa_validate_pod},
 * and declare the function here.
 *
 * Webhooks (webhook.c) are called after the built-ins of the same phase,
 * asynchronously; the request continues with `next` when all have answered.
 * Dry-run requests are admitted the same way: plugins must not keep state
 * for them (r->dry_run) and webhooks without sideEffects None/NoneOnDryRun
 * refuse them.
 */
typedef struct k1s_admit_deny {
    int code;           /* 0 for 403 */
    const char *reason; /* NULL for "Forbidden" (static string) */
    char *msg;          /* owned by the chain once set */
    bool raw;           /* msg is the whole Status message: no `<res> "<name>" is forbidden:` */
    json_t *details;    /* optional Status details (owned by the chain) */
} k1s_admit_deny_t;

typedef int (*k1s_admit_fn)(k1s_api_req_t *r, k1s_admit_deny_t *deny);

typedef struct k1s_admit_plugin {
    const char *name;
    k1s_admit_fn mutate;   /* may be NULL */
    k1s_admit_fn validate; /* may be NULL */
    bool webhooks;         /* this row calls the admission webhooks of its phase */
} k1s_admit_plugin_t;

typedef struct k1s_webhooks k1s_webhooks_t;
typedef struct k1s_quota_keeper k1s_quota_keeper_t;
struct k1s_admission {
    k1s_webhooks_t *webhooks;
    k1s_quota_keeper_t *quota;
};

extern const k1s_admit_plugin_t k1s_admit_plugins[];
extern const size_t k1s_admit_nplugins;

/* Continuation of an admitted request. */
typedef void (*k1s_admit_next_fn)(k1s_api_req_t *r);

/* Sets up / frees api->admission (webhook cache, quota status keeper). */
void k1s_admission_init(k1s_apiserver_t *api);
void k1s_admission_free(k1s_apiserver_t *api);
/* Runs the mutating or validating phase; calls next(r) if admitted, else answers r. */
void k1s_admission_mutate(k1s_api_req_t *r, k1s_admit_next_fn next);
void k1s_admission_validate(k1s_api_req_t *r, k1s_admit_next_fn next);
/* Answers r with the refusal in deny (frees deny's contents). */
void k1s_admission_refuse(k1s_api_req_t *r, k1s_admit_deny_t *deny);
/* "CREATE", "UPDATE", "DELETE" or "CONNECT" for r. */
const char *k1s_admit_operation(const k1s_api_req_t *r);
/* Sets deny->msg to a formatted message; returns -EPERM. */
int k1s_admit_denyf(k1s_admit_deny_t *deny, const char *fmt, ...) K1S_PRINTF(2, 3);
/* Adds a Warning header to the answer (text as kubectl prints it; escaped here). */
void k1s_admit_warn(k1s_api_req_t *r, const char *text);
/* Records an audit annotation key=value on the request (for the audit log). */
void k1s_admit_audit(k1s_api_req_t *r, const char *key, const char *value);
/* The stored Namespace ns (new reference), or NULL. */
json_t *k1s_admit_ns_object(k1s_apiserver_t *api, const char *ns);
/* Releases request-bound admission state (called when the request is answered). */
void k1s_admission_req_done(k1s_api_req_t *r);

/* The built-in plugins (admit-*.c). */
int k1s_admit_limitranger_mutate(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_admit_limitranger_validate(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_admit_default_tolerations(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_admit_default_storageclass(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_admit_storage_protection(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_admit_pvc_resize(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_admit_podsecurity(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_admit_priority(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_admit_quota(k1s_api_req_t *r, k1s_admit_deny_t *deny);
/* Quota status keeper (admit-quota.c): watches the store, keeps status.used current. */
void k1s_quota_init(k1s_apiserver_t *api);
void k1s_quota_free(k1s_apiserver_t *api);
void k1s_quota_release(k1s_api_req_t *r);

/* --- webhook.c: admission webhooks --- */
k1s_webhooks_t *k1s_webhooks_new(k1s_apiserver_t *api);
void k1s_webhooks_free(k1s_webhooks_t *w);
/* Calls the matching webhooks of one phase; next(r) if admitted, else answers r. */
void k1s_webhooks_run(k1s_api_req_t *r, bool mutating, k1s_admit_next_fn next);
/* --- crd.c --- */
/* Schedules a pass over CRDs (after a CRD write commits). */
void k1s_crd_schedule(k1s_apiserver_t *api);
/* Serves the stored CRDs' resources (at start, before requests are taken). */
void k1s_crd_start(k1s_apiserver_t *api);

#endif
