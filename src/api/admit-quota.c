/*
 * The ResourceQuota admission plugin (plugin/pkg/admission/resourcequota
 * and pkg/quota/v1/evaluator/core) and the part of the quota controller that
 * keeps each ResourceQuota's status.hard and status.used current.
 *
 * Usage is computed from the in-memory store: what the objects of the
 * namespace use (pods in phase Succeeded/Failed use nothing), plus what
 * requests admitted but not yet answered have been charged (so that two
 * creates in one commit group cannot both take the last slot). A create that
 * would take any quota over its hard limit is refused with Kubernetes'
 * message; a pod that a quota constrains on cpu or memory must say so for
 * every container ("must specify limits.cpu for: c").
 *
 * Status: a store watch marks namespaces whose quota-relevant objects
 * changed; a deferred pass (next loop turn, no polling) recomputes their
 * quotas and writes those whose status changed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admit-int.h"
#include "api/apiserver-int.h"
#include "lib/buf.h"
#include "lib/log.h"

#define STATUS_DELAY_US 50000

struct k1s_quota_keeper {
    k1s_apiserver_t *api;
    k1s_store_watch_t *watch;
    struct event *ev;
    json_t *dirty;   /* set of namespaces to recompute (object of null) */
    json_t *charges; /* array of {charge: <request pointer as integer>, ns, key, usage} */
    json_t *cache;   /* store key -> {rev, u: usage, f: scope facts} of objects summed */
};

/* ---------- what an object uses ---------- */

static bool is_core(const k1s_resource_t *res, const char *plural)
{
    return !res->group[0] && !strcmp(res->plural, plural);
}

static void put1(json_t *u, const char *k)
{
    json_object_set_new(u, k, json_integer(1000));
}

static void add_pod_compute(json_t *u, const json_t *pod)
{
    json_t *req = k1s_res_pod(pod, "requests"), *lim = k1s_res_pod(pod, "limits");
    const char *k;
    json_t *v;
    json_object_foreach(req, k, v)
    {
        char *n = k1s_xasprintf("requests.%s", k);
        json_object_set(u, n, v);
        free(n);
        if (!strcmp(k, "cpu") || !strcmp(k, "memory") || !strcmp(k, "ephemeral-storage"))
            json_object_set(u, k, v);
    }
    json_object_foreach(lim, k, v)
    {
        char *n = k1s_xasprintf("limits.%s", k);
        json_object_set(u, n, v);
        free(n);
    }
    json_decref(req);
    json_decref(lim);
}

/*
 * The usage of obj (of resource res) as quota counts it: a resource list of
 * milli-values. Objects no quota tracks give an empty list.
 */
static json_t *usage_of(const k1s_resource_t *res, const json_t *obj)
{
    json_t *u = json_object();
    char name[256];
    if (res->group[0])
        snprintf(name, sizeof(name), "count/%s.%s", res->plural, res->group);
    else
        snprintf(name, sizeof(name), "count/%s", res->plural);
    if (is_core(res, "pods")) {
        if (k1s_res_pod_terminal(obj))
            return u;
        put1(u, "pods");
        put1(u, name);
        add_pod_compute(u, obj);
        return u;
    }
    put1(u, name);
    static const char *const counted[] = {"services",       "configmaps",
                                          "secrets",        "persistentvolumeclaims",
                                          "resourcequotas", "replicationcontrollers"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(counted); i++)
        if (is_core(res, counted[i]))
            put1(u, counted[i]);
    if (is_core(res, "services")) {
        const char *type = k1s_obj_str(obj, "spec.type");
        bool lb = type && !strcmp(type, "LoadBalancer");
        if (lb)
            put1(u, "services.loadbalancers");
        if (lb || (type && !strcmp(type, "NodePort"))) {
            const json_t *ports = json_object_get(json_object_get(obj, "spec"), "ports");
            json_object_set_new(u, "services.nodeports",
                                json_integer(1000 * (json_int_t)json_array_size(ports)));
        }
    }
    if (is_core(res, "persistentvolumeclaims")) {
        const json_t *st = json_object_get(
            json_object_get(json_object_get(json_object_get(obj, "spec"), "resources"), "requests"),
            "storage");
        int64_t m;
        if (k1s_res_milli(st, &m)) {
            json_object_set_new(u, "requests.storage", json_integer(m));
            const char *cls = k1s_obj_str(obj, "spec.storageClassName");
            if (cls && *cls) {
                char *n = k1s_xasprintf("%s.storageclass.storage.k8s.io/requests.storage", cls);
                json_object_set_new(u, n, json_integer(m));
                free(n);
            }
        }
        const char *cls = k1s_obj_str(obj, "spec.storageClassName");
        if (cls && *cls) {
            char *n = k1s_xasprintf("%s.storageclass.storage.k8s.io/persistentvolumeclaims", cls);
            put1(u, n);
            free(n);
        }
    }
    return u;
}

/* ---------- scopes ---------- */

static bool pod_best_effort(const json_t *pod)
{
    static const char *const lists[] = {"containers", "initContainers"};
    const json_t *spec = json_object_get(pod, "spec");
    for (int li = 0; li < 2; li++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[li]), i, c)
        {
            const json_t *res = json_object_get(c, "resources");
            static const char *const w[] = {"requests", "limits"};
            for (int k = 0; k < 2; k++) {
                const json_t *l = json_object_get(res, w[k]);
                if (json_object_get(l, "cpu") || json_object_get(l, "memory"))
                    return false;
            }
        }
    }
    return true;
}

/* What quota scopes look at in an object: {pod, be, term, pc}. New reference. */
static json_t *facts_of(const k1s_resource_t *res, const json_t *obj)
{
    if (!is_core(res, "pods"))
        return json_pack("{s:b}", "pod", 0);
    const json_t *ads = json_object_get(json_object_get(obj, "spec"), "activeDeadlineSeconds");
    const char *pc = k1s_obj_str(obj, "spec.priorityClassName");
    return json_pack("{s:b, s:b, s:b, s:s}", "pod", 1, "be", pod_best_effort(obj), "term",
                     json_is_integer(ads) && json_integer_value(ads) >= 0, "pc", pc ? pc : "");
}

/* Does scope (with operator/values for scopeSelector) select an object with these facts? */
static bool scope_matches(const char *scope, const char *op, const json_t *values,
                          const json_t *facts)
{
    if (!json_is_true(json_object_get(facts, "pod")))
        return false;
    bool in;
    if (!strcmp(scope, "Terminating") || !strcmp(scope, "NotTerminating")) {
        bool term = json_is_true(json_object_get(facts, "term"));
        in = !strcmp(scope, "Terminating") ? term : !term;
    } else if (!strcmp(scope, "BestEffort") || !strcmp(scope, "NotBestEffort")) {
        bool be = json_is_true(json_object_get(facts, "be"));
        in = !strcmp(scope, "BestEffort") ? be : !be;
    } else if (!strcmp(scope, "PriorityClass")) {
        const char *pc = json_string_value(json_object_get(facts, "pc"));
        if (!op || !strcmp(op, "Exists"))
            return pc && *pc;
        if (!strcmp(op, "DoesNotExist"))
            return !pc || !*pc;
        bool found = false;
        size_t i;
        json_t *v;
        json_array_foreach(values, i, v)
        {
            if (pc && !strcmp(pc, json_string_value(v)))
                found = true;
        }
        return !strcmp(op, "In") ? found : !found;
    } else {
        return false; /* CrossNamespacePodAffinity and others: not supported here */
    }
    if (op && !strcmp(op, "DoesNotExist"))
        return !in;
    return in;
}

static bool quota_matches(const json_t *q, const json_t *facts)
{
    const json_t *spec = json_object_get(q, "spec");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(spec, "scopes"), i, s)
    {
        if (!scope_matches(json_string_value(s), NULL, NULL, facts))
            return false;
    }
    json_array_foreach(json_object_get(json_object_get(spec, "scopeSelector"), "matchExpressions"),
                       i, s)
    {
        const char *sn = json_string_value(json_object_get(s, "scopeName"));
        const char *op = json_string_value(json_object_get(s, "operator"));
        if (!sn || !scope_matches(sn, op, json_object_get(s, "values"), facts))
            return false;
    }
    return true;
}

/* ---------- usage in a namespace ---------- */

typedef struct sum_ctx {
    k1s_quota_keeper_t *k;
    const json_t *quota;
    const json_t *hard;
    json_t *used;
    const char *skip_key;
} sum_ctx_t;

static void add_masked(json_t *acc, const json_t *u, const json_t *hard)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)u, k, v)
    {
        if (!json_object_get(hard, k))
            continue;
        int64_t cur = json_integer_value(json_object_get(acc, k));
        json_object_set_new(acc, k, json_integer(cur + json_integer_value(v)));
    }
}

static int sum_iter(k1s_kv_t *kv, void *arg)
{
    sum_ctx_t *c = arg;
    const k1s_obj_aux_t *aux = kv->aux;
    if (!aux || !aux->res || (c->skip_key && !strcmp(kv->key, c->skip_key)))
        return 0;
    /* what each object uses is cached by key and revision: no JSON parsing per create */
    json_t *e = json_object_get(c->k->cache, kv->key);
    if (!e || json_integer_value(json_object_get(e, "rev")) != kv->mod_rev) {
        json_t *obj = k1s_obj_decode(kv->value);
        e = json_pack("{s:I, s:o, s:o}", "rev", (json_int_t)kv->mod_rev, "u",
                      usage_of(aux->res, obj), "f", facts_of(aux->res, obj));
        json_object_set_new(c->k->cache, kv->key, e);
        json_decref(obj);
    }
    if (quota_matches(c->quota, json_object_get(e, "f")))
        add_masked(c->used, json_object_get(e, "u"), c->hard);
    return 0;
}

/* Does any hard resource of the quota concern objects of res? */
static bool concerns(const json_t *hard, const k1s_resource_t *res)
{
    char count[256];
    if (res->group[0])
        snprintf(count, sizeof(count), "count/%s.%s", res->plural, res->group);
    else
        snprintf(count, sizeof(count), "count/%s", res->plural);
    bool pods = is_core(res, "pods"), svc = is_core(res, "services"),
         pvc = is_core(res, "persistentvolumeclaims");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)hard, k, v)
    {
        if (!strcmp(k, count) || (!res->group[0] && !strcmp(k, res->plural)))
            return true;
        if (pods && !k1s_str_has_prefix(k, "count/") && !k1s_str_has_prefix(k, "services") &&
            !strstr(k, "storage.k8s.io/") && strcmp(k, "requests.storage"))
            return true; /* cpu, memory, requests.*, limits.*, hugepages, extended resources */
        if (svc && k1s_str_has_prefix(k, "services."))
            return true;
        if (pvc && (!strcmp(k, "requests.storage") || strstr(k, ".storageclass.storage.k8s.io/")))
            return true;
    }
    return false;
}

/* Current usage of quota q in namespace ns, limited to its hard resources (milli-values). */
static json_t *quota_used(k1s_apiserver_t *api, const json_t *q, const char *ns,
                          const char *skip_key)
{
    k1s_quota_keeper_t *keeper = api->admission->quota;
    const json_t *hard = json_object_get(json_object_get(q, "spec"), "hard");
    json_t *used = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)hard, k, v)
    {
        json_object_set_new(used, k, json_integer(0));
    }
    sum_ctx_t c = {keeper, q, hard, used, skip_key};
    size_t n;
    const k1s_resource_t *const *all = k1s_registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        const k1s_resource_t *res = all[i];
        /* each storage once, namespaced only */
        if (!res->namespaced || strcmp(res->storage_name, res->plural) || !concerns(hard, res))
            continue;
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(all[j]->storage_name, res->storage_name))
                dup = true;
        if (dup)
            continue;
        char *prefix = k1s_obj_prefix(res, ns);
        k1s_store_range(api->store, prefix, NULL, sum_iter, &c);
        free(prefix);
    }
    return used;
}

/* ---------- status ---------- */

static k1s_quantity_format_t hard_format(const json_t *hard, const char *k)
{
    k1s_quantity_t q;
    if (k1s_quantity_from_json(json_object_get(hard, k), &q, NULL) == 0)
        return q.format;
    return k1s_res_format_of(k);
}

/* status {hard, used} for quota q (new reference). */
static json_t *quota_status(k1s_apiserver_t *api, const json_t *q, const char *ns)
{
    const json_t *hard = json_object_get(json_object_get(q, "spec"), "hard");
    json_t *used = quota_used(api, q, ns, NULL);
    json_t *st = json_object();
    json_t *h = json_object(), *u = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)hard, k, v)
    {
        char *hs = k1s_res_string(v);
        json_object_set_new(h, k, json_string(hs));
        free(hs);
        char *s =
            k1s_res_format(json_integer_value(json_object_get(used, k)), hard_format(hard, k));
        json_object_set_new(u, k, json_string(s));
        free(s);
    }
    json_object_set_new(st, "hard", h);
    json_object_set_new(st, "used", u);
    json_decref(used);
    return st;
}

static void status_written(int err, k1s_kv_t *kv, void *arg)
{
    if (err < 0)
        k1s_warn("resourcequota status update failed: %s", strerror(-err));
}

static int refresh_iter(k1s_kv_t *kv, void *arg)
{
    k1s_quota_keeper_t *k = arg;
    /* a write of this quota is queued: leave it alone, its commit brings another pass */
    if (k1s_store_get_latest(k->api->store, kv->key) != kv)
        return 0;
    json_t *q = k1s_obj_decode(kv->value);
    if (json_object_get(k1s_obj_meta(q), "deletionTimestamp")) {
        json_decref(q);
        return 0;
    }
    const char *ns = k1s_obj_str(q, "metadata.namespace");
    json_t *st = quota_status(k->api, q, ns ? ns : "");
    if (!json_equal(st, json_object_get(q, "status"))) {
        json_object_set_new(q, "status", st);
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(k->api->store));
        json_object_set_new(k1s_obj_meta(q), "resourceVersion", json_string(rv));
        const k1s_resource_t *qr = k1s_registry_find("", "v1", "resourcequotas");
        k1s_store_put(k->api->store, kv->key, k1s_obj_encode(q), k1s_obj_aux_new(qr, q),
                      status_written, NULL);
    } else {
        json_decref(st);
    }
    json_decref(q);
    return 0;
}

static void refresh_pass(evutil_socket_t fd, short what, void *arg)
{
    k1s_quota_keeper_t *k = arg;
    json_t *dirty = k->dirty;
    k->dirty = json_object();
    const k1s_resource_t *qr = k1s_registry_find("", "v1", "resourcequotas");
    const char *ns;
    json_t *v;
    json_object_foreach(dirty, ns, v)
    {
        char *prefix = k1s_obj_prefix(qr, ns);
        k1s_store_range(k->api->store, prefix, NULL, refresh_iter, k);
        free(prefix);
    }
    json_decref(dirty);
}

static void mark(k1s_quota_keeper_t *k, const char *ns)
{
    json_object_set_new(k->dirty, ns, json_null());
    if (!evtimer_pending(k->ev, NULL)) {
        /* a short delay folds a burst of creates into one status write per quota */
        struct timeval tv = {0, STATUS_DELAY_US};
        evtimer_add(k->ev, &tv);
    }
}

static int on_change(const k1s_store_event_t *ev, void *arg)
{
    k1s_quota_keeper_t *k = arg;
    if (ev->type == K1S_STORE_DELETE && ev->kv)
        json_object_del(k->cache, ev->kv->key);
    const k1s_obj_aux_t *aux = ev->kv ? ev->kv->aux : NULL;
    if (!aux || !aux->res || !aux->res->namespaced || !aux->ns[0])
        return 0;
    if (json_object_get(k->dirty, aux->ns))
        return 0;
    const k1s_resource_t *qr = k1s_registry_find("", "v1", "resourcequotas");
    if (aux->res == qr) {
        /* a quota's own status write changes nothing: recompute only on spec changes */
        if (ev->type == K1S_STORE_PUT && ev->prev) {
            json_t *a = k1s_obj_decode(ev->kv->value), *b = k1s_obj_decode(ev->prev->value);
            bool same = json_equal(json_object_get(a, "spec"), json_object_get(b, "spec"));
            json_decref(a);
            json_decref(b);
            if (same)
                return 0;
        }
        mark(k, aux->ns);
        return 0;
    }
    char *prefix = k1s_obj_prefix(qr, aux->ns);
    size_t n = k1s_store_count_prefix(k->api->store, prefix);
    free(prefix);
    if (n > 0)
        mark(k, aux->ns);
    return 0;
}

static int mark_all_iter(k1s_kv_t *kv, void *arg)
{
    const k1s_obj_aux_t *aux = kv->aux;
    if (aux)
        mark(arg, aux->ns);
    return 0;
}

void k1s_quota_init(k1s_apiserver_t *api)
{
    k1s_quota_keeper_t *k = k1s_xcalloc(1, sizeof(*k));
    k->api = api;
    k->dirty = json_object();
    k->charges = json_array();
    k->cache = json_object();
    k->ev = evtimer_new(api->base, refresh_pass, k);
    api->admission->quota = k;
    if (k1s_store_watch(api->store, "/", k1s_store_rev(api->store), on_change, k, &k->watch) < 0)
        k1s_warn("resourcequota: cannot watch the store; quota status will not be kept");
    /* quotas written before a restart: check them once */
    const k1s_resource_t *qr = k1s_registry_find("", "v1", "resourcequotas");
    char *prefix = k1s_obj_prefix(qr, NULL);
    k1s_store_range(api->store, prefix, NULL, mark_all_iter, k);
    free(prefix);
}

void k1s_quota_free(k1s_apiserver_t *api)
{
    k1s_quota_keeper_t *k = api->admission->quota;
    if (!k)
        return;
    k1s_store_unwatch(k->watch);
    if (k->ev)
        event_free(k->ev);
    json_decref(k->dirty);
    json_decref(k->charges);
    json_decref(k->cache);
    free(k);
    api->admission->quota = NULL;
}

/* ---------- admission ---------- */

void k1s_quota_release(k1s_api_req_t *r)
{
    if (!r->quota_charge || !r->api || !r->api->admission || !r->api->admission->quota)
        return;
    json_t *charges = r->api->admission->quota->charges;
    size_t i;
    json_t *c;
    json_array_foreach(charges, i, c)
    {
        if (json_integer_value(json_object_get(c, "charge")) == (json_int_t)(intptr_t)r) {
            json_array_remove(charges, i);
            break;
        }
    }
    r->quota_charge = NULL;
}

static void print_list(k1s_buf_t *b, const json_t *list, const json_t *keys, const json_t *hard)
{
    /* keys is sorted; prettyPrint: k=v joined by "," */
    size_t i;
    json_t *kj;
    json_array_foreach(keys, i, kj)
    {
        const char *k = json_string_value(kj);
        char *s =
            k1s_res_format(json_integer_value(json_object_get(list, k)), hard_format(hard, k));
        k1s_buf_printf(b, "%s%s=%s", i ? "," : "", k, s);
        free(s);
    }
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static json_t *sorted_keys(json_t *set)
{
    size_t n = json_object_size(set), i = 0;
    json_t **v = k1s_xcalloc(n ? n : 1, sizeof(*v));
    const char *k;
    json_t *x;
    json_object_foreach(set, k, x)
    {
        v[i++] = json_string(k);
    }
    qsort(v, n, sizeof(*v), cmp_json_str);
    json_t *arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
    return arr;
}

/* The container-level constraint: every container must set what a quota constrains. */
static int pod_constraints(const json_t *pod, const json_t *hard, char **msg)
{
    static const char *const need[] = {
        "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"};
    json_t *missing = json_object(); /* resource -> array of container names */
    static const char *const lists[] = {"containers", "initContainers"};
    for (int li = 0; li < 2; li++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(json_object_get(pod, "spec"), lists[li]), i, c)
        {
            const json_t *res = json_object_get(c, "resources");
            const json_t *req = json_object_get(res, "requests"),
                         *lim = json_object_get(res, "limits");
            for (size_t k = 0; k < K1S_ARRAY_SIZE(need); k++) {
                if (!json_object_get(hard, need[k]))
                    continue;
                const char *n = need[k];
                bool have;
                if (k1s_str_has_prefix(n, "limits."))
                    have = json_object_get(lim, n + 7) != NULL;
                else if (k1s_str_has_prefix(n, "requests."))
                    have = json_object_get(req, n + 9) != NULL;
                else
                    have = json_object_get(req, n) != NULL;
                if (have)
                    continue;
                json_t *names = json_object_get(missing, n);
                if (!names) {
                    names = json_object();
                    json_object_set_new(missing, n, names);
                }
                json_object_set_new(names, json_string_value(json_object_get(c, "name")),
                                    json_null());
            }
        }
    }
    if (json_object_size(missing) == 0) {
        json_decref(missing);
        return 0;
    }
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "must specify ");
    json_t *keys = sorted_keys(missing);
    size_t i;
    json_t *kj;
    json_array_foreach(keys, i, kj)
    {
        const char *k = json_string_value(kj);
        json_t *names = sorted_keys(json_object_get(missing, k));
        k1s_buf_printf(&b, "%s%s for: ", i ? "; " : "", k);
        size_t j;
        json_t *nj;
        json_array_foreach(names, j, nj)
        {
            k1s_buf_printf(&b, "%s%s", j ? "," : "", json_string_value(nj));
        }
        json_decref(names);
    }
    json_decref(keys);
    json_decref(missing);
    *msg = k1s_buf_steal(&b);
    return -1;
}

static int collect_quota(k1s_kv_t *kv, void *arg)
{
    json_array_append_new(arg, k1s_obj_decode(kv->value));
    return 0;
}

int k1s_admit_quota(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    if (!r->res->namespaced || r->sub || !r->obj)
        return 0;
    /* updates change usage only for claims (storage) and services (type, ports) */
    bool update = !strcmp(k1s_admit_operation(r), "UPDATE");
    if (update && !(is_core(r->res, "persistentvolumeclaims") || is_core(r->res, "services")))
        return 0;
    if (!update && strcmp(k1s_admit_operation(r), "CREATE"))
        return 0;
    k1s_quota_keeper_t *k = r->api->admission->quota;
    const k1s_resource_t *qr = k1s_registry_find("", "v1", "resourcequotas");
    char *prefix = k1s_obj_prefix(qr, r->ns);
    json_t *quotas = json_array();
    k1s_store_range(r->api->store, prefix, NULL, collect_quota, quotas);
    free(prefix);
    if (json_array_size(quotas) == 0) {
        json_decref(quotas);
        return 0;
    }
    json_t *delta = usage_of(r->res, r->obj);
    json_t *facts = facts_of(r->res, r->obj);
    if (update && r->old) {
        /* only what grows is requested */
        json_t *was = usage_of(r->res, r->old);
        json_t *grown = json_object();
        const char *dk;
        json_t *dv;
        json_object_foreach(delta, dk, dv)
        {
            int64_t d = json_integer_value(dv) - json_integer_value(json_object_get(was, dk));
            if (d > 0)
                json_object_set_new(grown, dk, json_integer(d));
        }
        json_decref(was);
        json_decref(delta);
        delta = grown;
    }
    int rc = 0;
    size_t i;
    json_t *q;
    json_array_foreach(quotas, i, q)
    {
        if (!quota_matches(q, facts))
            continue;
        const json_t *hard = json_object_get(json_object_get(q, "spec"), "hard");
        const char *qname = k1s_obj_str(q, "metadata.name");
        if (is_core(r->res, "pods") && !update) {
            char *msg = NULL;
            if (pod_constraints(r->obj, hard, &msg) < 0) {
                rc = k1s_admit_denyf(deny, "failed quota: %s: %s", qname, msg);
                free(msg);
                break;
            }
        }
        /* requested: this object's usage of the quota's resources */
        json_t *req = json_object();
        add_masked(req, delta, hard);
        if (json_object_size(req) == 0) {
            json_decref(req);
            continue;
        }
        json_t *used = quota_used(r->api, q, r->ns, NULL);
        /* plus what in-flight admitted requests have charged */
        size_t ci;
        json_t *c;
        json_array_foreach(k->charges, ci, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "ns")), r->ns))
                continue;
            const char *key = json_string_value(json_object_get(c, "key"));
            if (k1s_store_get(r->api->store, key))
                continue; /* committed: already in the store's sum */
            add_masked(used, json_object_get(c, "usage"), hard);
        }
        json_t *exceeded = json_object();
        const char *rk;
        json_t *rv;
        json_object_foreach(req, rk, rv)
        {
            int64_t h;
            if (!k1s_res_milli(json_object_get(hard, rk), &h))
                continue;
            int64_t now = json_integer_value(json_object_get(used, rk));
            if (now + json_integer_value(rv) > h)
                json_object_set_new(exceeded, rk, json_null());
        }
        if (json_object_size(exceeded) > 0) {
            json_t *keys = sorted_keys(exceeded);
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_printf(&b, "exceeded quota: %s, requested: ", qname);
            print_list(&b, req, keys, hard);
            k1s_buf_puts(&b, ", used: ");
            print_list(&b, used, keys, hard);
            k1s_buf_puts(&b, ", limited: ");
            json_t *hm = json_object();
            json_array_foreach(keys, ci, c)
            {
                int64_t h = 0;
                k1s_res_milli(json_object_get(hard, json_string_value(c)), &h);
                json_object_set_new(hm, json_string_value(c), json_integer(h));
            }
            print_list(&b, hm, keys, hard);
            json_decref(hm);
            rc = k1s_admit_denyf(deny, "%s", b.data);
            k1s_buf_free(&b);
            json_decref(keys);
        }
        json_decref(exceeded);
        json_decref(used);
        json_decref(req);
        if (rc < 0)
            break;
    }
    if (rc == 0 && !r->dry_run && !update) {
        /* charge until answered: the key is known once the name is */
        const char *name = k1s_obj_str(r->obj, "metadata.name");
        char *key = k1s_obj_key(r->res, r->ns, name ? name : "");
        r->quota_charge = r; /* marks the request as charged */
        json_array_append_new(k->charges, json_pack("{s:o, s:s, s:s, s:O}", "charge",
                                                    json_integer((json_int_t)(intptr_t)r), "ns",
                                                    r->ns, "key", key, "usage", delta));
        free(key);
    }
    json_decref(delta);
    json_decref(facts);
    json_decref(quotas);
    return rc;
}
