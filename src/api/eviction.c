/*
 * The pods/eviction subresource, as kube-apiserver's EvictionREST: a POST of
 * a policy/v1 Eviction deletes the pod unless that would break the pod's
 * PodDisruptionBudget.
 *
 * A pod that is Pending, Succeeded, Failed or already being deleted is
 * deleted at once. Otherwise the budgets in the pod's namespace whose
 * selector matches it are checked: more than one is a 500; with one, an
 * unready pod may go without spending the budget when the budget is healthy
 * (or its unhealthyPodEvictionPolicy is AlwaysAllow), with a
 * resourceVersion precondition so that it cannot turn ready in between;
 * otherwise a budget whose status is stale (observedGeneration behind) or
 * that allows no disruption answers 429 TooManyRequests, and one that
 * allows some has status.disruptionsAllowed decremented and the pod added
 * to status.disruptedPods before the pod is deleted, so that the
 * disruption controller does not count the pod as healthy meanwhile.
 *
 * Everything up to the writes runs in one turn of the event loop against
 * the store's latest view, so concurrent evictions cannot both spend the
 * last disruption: the read-modify-write of the budget cannot conflict.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/selector.h"
#include "lib/conditions.h"
#include "lib/log.h"

/* kube-apiserver's MaxDisruptedPodSize */
#define MAX_DISRUPTED_PODS 2000

static const char *str_at(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static bool pod_ready(const json_t *pod)
{
    const json_t *c = k1s_cond_get(json_object_get(pod, "status"), "Ready");
    return !strcmp(str_at(c, "status"), "True");
}

/* canIgnorePDB: terminal, pending and terminating pods are deleted without a budget check. */
static bool can_ignore_pdb(const json_t *pod)
{
    const char *phase = str_at(json_object_get(pod, "status"), "phase");
    return !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") || !strcmp(phase, "Pending") ||
           json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp");
}

/* DeleteOptions for the delete: the Eviction's (copied) or {}; resourceVersion set if rv. */
static json_t *delete_opts(const json_t *eviction, const char *rv)
{
    json_t *o = json_object_get(eviction, "deleteOptions");
    o = json_is_object(o) ? json_deep_copy(o) : json_object();
    if (rv) {
        json_t *pre = json_object_get(o, "preconditions");
        if (!json_is_object(pre)) {
            pre = json_object();
            json_object_set_new(o, "preconditions", pre);
        }
        if (!json_is_string(json_object_get(pre, "resourceVersion")))
            json_object_set_new(pre, "resourceVersion", json_string(rv));
    }
    return o;
}

static bool opts_have_rv(const json_t *eviction)
{
    json_t *pre = json_object_get(json_object_get(eviction, "deleteOptions"), "preconditions");
    return json_is_string(json_object_get(pre, "resourceVersion"));
}

static void pod_written(int err, k1s_kv_t *kv, void *arg)
{
    (void)kv;
    (void)arg;
    if (err < 0)
        k1s_debug("eviction: writing the DisruptionTarget condition: %s", strerror(-err));
}

/*
 * Gives the pod the DisruptionTarget condition (EvictionByEvictionAPI), as
 * the eviction subresource does before deleting, unless opts' preconditions
 * fail (the delete then answers 409). A resourceVersion precondition in opts
 * moves to the written version.
 */
static void add_disruption_condition(k1s_api_req_t *r, json_t *opts)
{
    k1s_store_t *store = r->api->store;
    char *key = k1s_obj_key(r->res, r->ns, r->name);
    k1s_kv_t *kv = k1s_store_get_latest(store, key);
    if (!kv) {
        free(key);
        return;
    }
    json_t *pod = k1s_obj_decode(kv->value);
    json_t *md = k1s_obj_meta(pod);
    json_t *pre = json_object_get(opts, "preconditions");
    const char *puid = json_string_value(json_object_get(pre, "uid"));
    const char *prv = json_string_value(json_object_get(pre, "resourceVersion"));
    char currv[32];
    snprintf(currv, sizeof(currv), "%" PRId64, kv->mod_rev);
    if ((puid && *puid && strcmp(puid, str_at(md, "uid"))) || (prv && *prv && strcmp(prv, currv))) {
        json_decref(pod);
        free(key);
        return;
    }
    json_t *st = json_object_get(pod, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(pod, "status", st);
    }
    json_t *c = k1s_cond_get(st, "DisruptionTarget");
    if (c && !strcmp(str_at(c, "status"), "True") &&
        !strcmp(str_at(c, "reason"), "EvictionByEvictionAPI")) {
        json_decref(pod);
        free(key);
        return;
    }
    c = k1s_cond_ensure(st, "DisruptionTarget");
    char ts[32];
    k1s_time_rfc3339(ts);
    json_object_set_new(c, "status", json_string("True"));
    json_object_set_new(c, "lastProbeTime", json_null());
    json_object_set_new(c, "lastTransitionTime", json_string(ts));
    json_object_set_new(c, "reason", json_string("EvictionByEvictionAPI"));
    json_object_set_new(c, "message", json_string("Eviction API: evicting"));
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(store));
    json_object_set_new(md, "resourceVersion", json_string(rv));
    if (prv && *prv)
        json_object_set_new(pre, "resourceVersion", json_string(rv));
    k1s_store_put(store, key, k1s_obj_encode(pod), k1s_obj_aux_new(r->res, pod), pod_written, NULL);
    json_decref(pod);
    free(key);
}

/* The delete proper; opts is taken. */
static void do_delete(k1s_api_req_t *r, json_t *opts)
{
    if (!r->dry_run && !(json_array_size(json_object_get(opts, "dryRun")) > 0))
        add_disruption_condition(r, opts);
    r->verb = "delete";
    free(r->sub);
    r->sub = NULL;
    r->eviction = true;
    k1s_rest_delete(r, opts);
    json_decref(opts);
}

/* 429 TooManyRequests with a DisruptionBudget cause. */
static void too_many(k1s_api_req_t *r, const char *cause_fmt, ...) K1S_PRINTF(2, 3);
static void too_many(k1s_api_req_t *r, const char *cause_fmt, ...)
{
    va_list ap;
    va_start(ap, cause_fmt);
    char *cause = k1s_xvasprintf(cause_fmt, ap);
    va_end(ap);
    json_t *causes = json_pack("[{s:s, s:s}]", "reason", "DisruptionBudget", "message", cause);
    free(cause);
    k1s_api_fail_details(r, 429, "TooManyRequests", causes,
                         "Cannot evict pod as it would violate the pod's disruption budget.");
}

typedef struct {
    const char *ns;
    const json_t *labels;
    json_t *matches; /* array of PDBs (latest values) */
    k1s_store_t *store;
} pdb_scan_t;

static int scan_pdb(k1s_kv_t *kv, void *arg)
{
    pdb_scan_t *s = arg;
    k1s_kv_t *latest = k1s_store_get_latest(s->store, kv->key);
    if (!latest)
        return 0;
    json_t *pdb = k1s_obj_decode(latest->value);
    json_t *sel = json_object_get(json_object_get(pdb, "spec"), "selector");
    k1s_err_t err = {0};
    k1s_label_selector_t *ls = k1s_label_selector_from_json(sel, &err);
    /* an invalid, missing or empty selector matches nothing here */
    if (ls && !k1s_label_selector_empty(ls) && !k1s_label_selector_nothing(ls) &&
        k1s_label_selector_matches(ls, s->labels))
        json_array_append(s->matches, pdb);
    k1s_label_selector_free(ls);
    k1s_err_clear(&err);
    json_decref(pdb);
    return 0;
}

typedef struct {
    k1s_api_req_t *r;
    json_t *opts;
} pdb_write_t;

static void pdb_written(int err, k1s_kv_t *kv, void *arg)
{
    (void)kv;
    pdb_write_t *w = arg;
    k1s_api_req_t *r = w->r;
    json_t *opts = w->opts;
    free(w);
    if (err < 0) {
        json_decref(opts);
        k1s_api_fail(r, 500, "InternalError", "storage error: %s; the pod was not evicted",
                     strerror(-err));
        return;
    }
    do_delete(r, opts);
}

void k1s_eviction_handle(k1s_api_req_t *r)
{
    k1s_apiserver_t *api = r->api;
    json_t *ev = k1s_rest_decode_body(r);
    if (!ev)
        return;
    const char *ename = str_at(json_object_get(ev, "metadata"), "name");
    if (strcmp(ename, r->name)) {
        json_decref(ev);
        k1s_api_fail(r, 400, "BadRequest", "name in URL does not match name in Eviction object");
        return;
    }
    json_t *dr = json_object_get(json_object_get(ev, "deleteOptions"), "dryRun");
    if (json_is_array(dr) && json_array_size(dr) > 0)
        r->dry_run = true;
    char *key = k1s_obj_key(r->res, r->ns, r->name);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    free(key);
    if (!kv) {
        json_decref(ev);
        k1s_api_not_found(r, r->name);
        return;
    }
    json_t *pod = k1s_obj_decode(kv->value);
    char podrv[32];
    snprintf(podrv, sizeof(podrv), "%" PRId64, kv->mod_rev);
    bool keep_rv = !opts_have_rv(ev);

    if (can_ignore_pdb(pod)) {
        /* the pod is no disruption: delete it, unless it turned running meanwhile */
        const char *phase = str_at(json_object_get(pod, "status"), "phase");
        bool enforce = keep_rv && strcmp(phase, "Succeeded") && strcmp(phase, "Failed") &&
                       !json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp");
        json_t *opts = delete_opts(ev, enforce ? podrv : NULL);
        json_decref(pod);
        json_decref(ev);
        do_delete(r, opts);
        return;
    }

    const k1s_resource_t *pdb_res = k1s_registry_find("policy", "v1", "poddisruptionbudgets");
    pdb_scan_t scan = {.ns = r->ns,
                       .labels = json_object_get(json_object_get(pod, "metadata"), "labels"),
                       .matches = json_array(),
                       .store = api->store};
    if (pdb_res) {
        char *prefix = k1s_obj_prefix(pdb_res, r->ns);
        k1s_store_range(api->store, prefix, NULL, scan_pdb, &scan);
        free(prefix);
    }
    bool ready = pod_ready(pod);
    json_decref(pod);
    size_t n = json_array_size(scan.matches);
    if (n > 1) {
        json_decref(scan.matches);
        json_decref(ev);
        json_t *s = k1s_status_new(500, NULL,
                                   "This pod has more than one PodDisruptionBudget, which the "
                                   "eviction subresource does not support.");
        k1s_api_send_json(r, 500, s);
        return;
    }
    if (n == 0) {
        json_decref(scan.matches);
        json_t *opts = delete_opts(ev, NULL);
        json_decref(ev);
        do_delete(r, opts);
        return;
    }
    json_t *pdb = json_incref(json_array_get(scan.matches, 0));
    json_decref(scan.matches);
    json_t *md = json_object_get(pdb, "metadata");
    json_t *st = json_object_get(pdb, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(pdb, "status", st);
    }
    const char *pdb_name = str_at(md, "name");
    json_int_t healthy = json_integer_value(json_object_get(st, "currentHealthy"));
    json_int_t desired = json_integer_value(json_object_get(st, "desiredHealthy"));
    if (!ready) {
        /* an unready pod is no loss to the budget: no disruption is spent on it */
        const char *policy = str_at(json_object_get(pdb, "spec"), "unhealthyPodEvictionPolicy");
        if (!strcmp(policy, "AlwaysAllow") || (healthy >= desired && desired > 0)) {
            json_t *opts = delete_opts(ev, keep_rv ? podrv : NULL);
            json_decref(pdb);
            json_decref(ev);
            do_delete(r, opts);
            return;
        }
    }
    json_int_t gen = json_integer_value(json_object_get(md, "generation"));
    json_int_t observed = json_integer_value(json_object_get(st, "observedGeneration"));
    json_int_t allowed = json_integer_value(json_object_get(st, "disruptionsAllowed"));
    json_t *disrupted = json_object_get(st, "disruptedPods");
    if (observed < gen) {
        too_many(r, "The disruption budget %s is still being processed by the server.", pdb_name);
    } else if (allowed < 0) {
        k1s_api_fail(r, 403, "Forbidden",
                     "poddisruptionbudgets.policy \"%s\" is forbidden: pdb disruptions allowed "
                     "is negative",
                     pdb_name);
    } else if (json_object_size(disrupted) > MAX_DISRUPTED_PODS) {
        k1s_api_fail(r, 403, "Forbidden",
                     "poddisruptionbudgets.policy \"%s\" is forbidden: DisruptedPods map too big "
                     "- too many evictions not confirmed by PDB controller",
                     pdb_name);
    } else if (allowed == 0) {
        too_many(r,
                 "The disruption budget %s needs %" JSON_INTEGER_FORMAT
                 " healthy pods and has %" JSON_INTEGER_FORMAT " currently",
                 pdb_name, desired, healthy);
    } else {
        json_t *opts = delete_opts(ev, NULL);
        json_decref(ev);
        ev = NULL;
        if (r->dry_run) {
            json_decref(pdb);
            do_delete(r, opts);
            return;
        }
        allowed--;
        json_object_set_new(st, "disruptionsAllowed", json_integer(allowed));
        if (allowed == 0) {
            /* UpdateDisruptionAllowedCondition */
            json_t *c = k1s_cond_ensure(st, "DisruptionAllowed");
            char ts[32];
            k1s_time_rfc3339(ts);
            if (strcmp(str_at(c, "status"), "False"))
                json_object_set_new(c, "lastTransitionTime", json_string(ts));
            json_object_set_new(c, "type", json_string("DisruptionAllowed"));
            json_object_set_new(c, "status", json_string("False"));
            json_object_set_new(c, "reason", json_string("InsufficientPods"));
            json_object_set_new(c, "message", json_string(""));
            json_object_set_new(c, "observedGeneration", json_integer(observed));
        }
        if (!json_is_object(disrupted)) {
            disrupted = json_object();
            json_object_set_new(st, "disruptedPods", disrupted);
        }
        char ts[32];
        k1s_time_rfc3339(ts);
        json_object_set_new(disrupted, r->name, json_string(ts));
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
        json_object_set_new(k1s_obj_meta(pdb), "resourceVersion", json_string(rv));
        char *pkey = k1s_obj_key(pdb_res, r->ns, pdb_name);
        pdb_write_t *w = k1s_xcalloc(1, sizeof(*w));
        w->r = r;
        w->opts = opts;
        k1s_store_put(api->store, pkey, k1s_obj_encode(pdb), k1s_obj_aux_new(pdb_res, pdb),
                      pdb_written, w);
        free(pkey);
        json_decref(pdb);
        return;
    }
    json_decref(pdb);
    json_decref(ev);
}
