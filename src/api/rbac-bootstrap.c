/*
 * The default RBAC policy, reconciled at start-up as kube-apiserver's
 * bootstrap policy is (plugin/pkg/auth/authorizer/rbac/bootstrappolicy):
 * missing roles and bindings are created; existing ones whose
 * rbac.authorization.kubernetes.io/autoupdate annotation is not "false"
 * get the labels, annotations, rules (or aggregation selectors) and
 * subjects they lack; user additions are kept. The policy itself is data,
 * src/api/rbac-policy.json, compiled in by tools/gen-embed.py.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/rbac.h"
#include "lib/log.h"

extern const char k1s_rbac_policy_json[];
extern const unsigned long k1s_rbac_policy_json_len;

#define RBAC_GROUP "rbac.authorization.k8s.io"
#define AUTOUPDATE "rbac.authorization.kubernetes.io/autoupdate"

static json_t *policy(void)
{
    static json_t *p;
    if (!p) {
        json_error_t je;
        p = json_loadb(k1s_rbac_policy_json, k1s_rbac_policy_json_len, 0, &je);
        k1s_assert(p);
    }
    return p;
}

static json_t *split_list(const char *s)
{
    json_t *a = json_array();
    const char *p = s;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, n));
        if (!c)
            break;
        p = c + 1;
    }
    return a;
}

/* ["verbs", "groups", "resources", "names"?] or ["verbs", "urls"] → PolicyRule */
static json_t *expand_rule(const json_t *t)
{
    const char *verbs = json_string_value(json_array_get(t, 0));
    json_t *r = json_pack("{s:o}", "verbs", split_list(verbs));
    if (json_array_size(t) == 2) {
        json_object_set_new(r, "nonResourceURLs",
                            split_list(json_string_value(json_array_get(t, 1))));
        return r;
    }
    json_object_set_new(r, "apiGroups", split_list(json_string_value(json_array_get(t, 1))));
    json_object_set_new(r, "resources", split_list(json_string_value(json_array_get(t, 2))));
    if (json_array_size(t) > 3)
        json_object_set_new(r, "resourceNames",
                            split_list(json_string_value(json_array_get(t, 3))));
    return r;
}

static json_t *expand_rules(const json_t *ts)
{
    json_t *rules = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(ts, i, t)
    {
        json_array_append_new(rules, expand_rule(t));
    }
    return rules;
}

static json_t *meta(const char *name, const char *ns, const json_t *extra_labels)
{
    json_t *labels = json_pack("{s:s}", "kubernetes.io/bootstrapping", "rbac-defaults");
    if (extra_labels)
        json_object_update(labels, (json_t *)extra_labels);
    json_t *m = json_pack("{s:s}", "name", name);
    if (ns)
        json_object_set_new(m, "namespace", json_string(ns));
    json_object_set_new(m, "labels", labels);
    json_object_set_new(m, "annotations", json_pack("{s:s}", AUTOUPDATE, "true"));
    return m;
}

static json_t *role_obj(const char *kind, const json_t *e, const char *name)
{
    const char *ns = json_string_value(json_object_get(e, "namespace"));
    json_t *o = json_pack("{s:s, s:s, s:o}", "kind", kind, "apiVersion", RBAC_GROUP "/v1",
                          "metadata", meta(name, ns, json_object_get(e, "labels")));
    json_t *agg = json_object_get(e, "aggregate");
    if (agg) {
        json_t *sels = json_array();
        size_t i;
        json_t *l;
        json_array_foreach(agg, i, l)
        {
            json_array_append_new(
                sels, json_pack("{s:{s:s}}", "matchLabels", json_string_value(l), "true"));
        }
        json_object_set_new(o, "aggregationRule", json_pack("{s:o}", "clusterRoleSelectors", sels));
    } else
        json_object_set_new(o, "rules", expand_rules(json_object_get(e, "rules")));
    return o;
}

static json_t *subject(const char *spec)
{
    /* "User:name", "Group:name", "ServiceAccount:ns:name" */
    const char *c = strchr(spec, ':');
    if (!strncmp(spec, "ServiceAccount:", 15)) {
        const char *c2 = strchr(c + 1, ':');
        return json_pack("{s:s, s:s, s:s%}", "kind", "ServiceAccount", "name", c2 + 1, "namespace",
                         c + 1, (size_t)(c2 - c - 1));
    }
    return json_pack("{s:s, s:s, s:s}", "kind", spec[0] == 'U' ? "User" : "Group", "apiGroup",
                     RBAC_GROUP, "name", c + 1);
}

static json_t *binding_obj(const char *kind, const char *ns, const char *name, const char *rkind,
                           const char *role, const json_t *subjects)
{
    json_t *o = json_pack("{s:s, s:s, s:o, s:{s:s, s:s, s:s}}", "kind", kind, "apiVersion",
                          RBAC_GROUP "/v1", "metadata", meta(name, ns, NULL), "roleRef", "apiGroup",
                          RBAC_GROUP, "kind", rkind, "name", role);
    json_t *subs = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(subjects, i, s)
    {
        json_array_append_new(subs, subject(json_string_value(s)));
    }
    if (json_array_size(subs))
        json_object_set_new(o, "subjects", subs);
    else
        json_decref(subs);
    return o;
}

static bool merge_map(json_t *cur_meta, const json_t *want_meta, const char *field)
{
    json_t *want = json_object_get(want_meta, field);
    json_t *cur = json_object_get(cur_meta, field);
    if (!json_is_object(cur)) {
        json_object_set(cur_meta, field, want);
        return true;
    }
    bool changed = false;
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        if (!json_object_get(cur, k)) {
            json_object_set(cur, k, v);
            changed = true;
        }
    }
    return changed;
}

static bool contains(const json_t *arr, const json_t *x)
{
    size_t i;
    json_t *y;
    json_array_foreach(arr, i, y)
    {
        if (json_equal(x, y))
            return true;
    }
    return false;
}

static bool add_missing(json_t *obj, const char *field, const json_t *want)
{
    json_t *cur = json_object_get(obj, field);
    if (!json_is_array(cur)) {
        if (!json_array_size(want))
            return false;
        json_object_set_new(obj, field, json_deep_copy(want));
        return true;
    }
    bool changed = false;
    size_t i;
    json_t *x;
    json_array_foreach(want, i, x)
    {
        if (!contains(cur, x)) {
            json_array_append(cur, x);
            changed = true;
        }
    }
    return changed;
}

static bool subject_present(const json_t *subs, const json_t *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(subs, i, x)
    {
        const char *ns1 = json_string_value(json_object_get(x, "namespace"));
        const char *ns2 = json_string_value(json_object_get(s, "namespace"));
        if (json_equal(json_object_get(x, "kind"), json_object_get(s, "kind")) &&
            json_equal(json_object_get(x, "name"), json_object_get(s, "name")) &&
            !strcmp(ns1 ? ns1 : "", ns2 ? ns2 : ""))
            return true;
    }
    return false;
}

/* Creates want, or merges it into the stored object; takes ownership of want. */
static void reconcile(k1s_store_t *store, const char *plural, json_t *want)
{
    const k1s_resource_t *res = k1s_registry_find(RBAC_GROUP, "v1", plural);
    const char *name = k1s_obj_str(want, "metadata.name");
    const char *ns = k1s_obj_str(want, "metadata.namespace");
    char *key = k1s_obj_key(res, ns, name);
    k1s_kv_t *kv = k1s_store_get_latest(store, key);
    json_t *obj = NULL;
    bool changed = false;
    bool binding = strstr(plural, "bindings") != NULL;
    if (!kv) {
        obj = json_incref(want);
        char uid[37], ts[32];
        k1s_uuid4(uid);
        k1s_time_rfc3339(ts);
        json_t *m = json_object_get(obj, "metadata");
        json_object_set_new(m, "uid", json_string(uid));
        json_object_set_new(m, "creationTimestamp", json_string(ts));
        changed = true;
    } else {
        obj = k1s_obj_decode(kv->value);
        json_t *m = k1s_obj_meta(obj);
        const char *au =
            json_string_value(json_object_get(json_object_get(m, "annotations"), AUTOUPDATE));
        if (au && !strcmp(au, "false"))
            goto out;
        json_t *wm = json_object_get(want, "metadata");
        changed |= merge_map(m, wm, "labels");
        changed |= merge_map(m, wm, "annotations");
        if (binding) {
            json_t *rr = json_object_get(want, "roleRef");
            if (!json_equal(json_object_get(obj, "roleRef"), rr)) {
                json_object_set(obj, "roleRef", rr);
                changed = true;
            }
            json_t *subs = json_object_get(obj, "subjects");
            size_t i;
            json_t *s;
            json_array_foreach(json_object_get(want, "subjects"), i, s)
            {
                if (subject_present(subs, s))
                    continue;
                if (!json_is_array(subs)) {
                    subs = json_array();
                    json_object_set_new(obj, "subjects", subs);
                }
                json_array_append(subs, s);
                changed = true;
            }
        } else if (json_object_get(want, "aggregationRule")) {
            json_t *ar = json_object_get(obj, "aggregationRule");
            if (!json_is_object(ar)) {
                json_object_set(obj, "aggregationRule", json_object_get(want, "aggregationRule"));
                changed = true;
            } else
                changed |= add_missing(ar, "clusterRoleSelectors",
                                       json_object_get(json_object_get(want, "aggregationRule"),
                                                       "clusterRoleSelectors"));
        } else {
            changed |= add_missing(obj, "rules", json_object_get(want, "rules"));
        }
    }
    if (changed) {
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(store));
        json_object_set_new(k1s_obj_meta(obj), "resourceVersion", json_string(rv));
        k1s_store_put(store, key, k1s_obj_encode(obj), k1s_obj_aux_new(res, obj), NULL, NULL);
    }
out:
    json_decref(obj);
    json_decref(want);
    free(key);
}

void k1s_rbac_bootstrap(k1s_store_t *store)
{
    json_t *p = policy();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(p, "clusterRoles"), i, e)
    {
        reconcile(store, "clusterroles",
                  role_obj("ClusterRole", e, json_string_value(json_object_get(e, "name"))));
    }
    json_array_foreach(json_object_get(p, "controllerRoles"), i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        char *full = k1s_xasprintf("system:controller:%s", n);
        char *sa = k1s_xasprintf("ServiceAccount:kube-system:%s", n);
        reconcile(store, "clusterroles", role_obj("ClusterRole", e, full));
        json_t *subs = json_pack("[s]", sa);
        reconcile(store, "clusterrolebindings",
                  binding_obj("ClusterRoleBinding", NULL, full, "ClusterRole", full, subs));
        json_decref(subs);
        free(full);
        free(sa);
    }
    json_array_foreach(json_object_get(p, "clusterRoleBindings"), i, e)
    {
        reconcile(store, "clusterrolebindings",
                  binding_obj("ClusterRoleBinding", NULL,
                              json_string_value(json_object_get(e, "name")), "ClusterRole",
                              json_string_value(json_object_get(e, "role")),
                              json_object_get(e, "subjects")));
    }
    json_array_foreach(json_object_get(p, "roles"), i, e)
    {
        reconcile(store, "roles",
                  role_obj("Role", e, json_string_value(json_object_get(e, "name"))));
    }
    json_array_foreach(json_object_get(p, "roleBindings"), i, e)
    {
        reconcile(store, "rolebindings",
                  binding_obj("RoleBinding", json_string_value(json_object_get(e, "namespace")),
                              json_string_value(json_object_get(e, "name")), "Role",
                              json_string_value(json_object_get(e, "role")),
                              json_object_get(e, "subjects")));
    }
}

json_t *k1s_rbac_default_rules(const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(policy(), "clusterRoles"), i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, "name")), name))
            return expand_rules(json_object_get(e, "rules"));
    }
    return NULL;
}
