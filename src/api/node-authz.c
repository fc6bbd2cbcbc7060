/*
 * The Node authorizer and NodeRestriction admission (kubernetes
 * plugin/pkg/auth/authorizer/node, plugin/pkg/admission/noderestriction).
 *
 * A node (user system:node:<name> in group system:nodes) may read a
 * secret, configmap, PVC or PV, or ask for a service-account token, only
 * when a pod bound to it (spec.nodeName) references it; it may use only
 * its own Lease in kube-node-lease; everything else is decided by the
 * system:node role's rules, which the authorizer holds itself (the
 * system:node ClusterRoleBinding has no subjects); it may get, create,
 * update, patch or delete only its own CSINode. Where kube-apiserver
 * keeps a graph of these relations, k1s looks at the pods bound to the node
 * in the store, which keeps every object in memory.
 *
 * NodeRestriction then limits writes: only its own Node object, only
 * mirror pods bound to itself, only the status of pods bound to it, only
 * its own Lease and CSINode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/authz.h"
#include "lib/buf.h"

const char *k1s_node_identity(const char *user, char *const *groups)
{
    if (!user || strncmp(user, "system:node:", 12) || !user[12])
        return NULL;
    for (size_t i = 0; groups && groups[i]; i++)
        if (!strcmp(groups[i], "system:nodes"))
            return user + 12;
    return NULL;
}

/* the system:node role's rules, compiled once */
static k1s_rbac_rule_t *node_rules;
static size_t nnode_rules;

static void load_node_rules(void)
{
    if (node_rules)
        return;
    json_t *rules = k1s_rbac_default_rules("system:node");
    nnode_rules = json_array_size(rules);
    node_rules = k1s_xcalloc(nnode_rules + 1, sizeof(k1s_rbac_rule_t));
    for (size_t i = 0; i < nnode_rules; i++)
        k1s_rbac_rule_compile(&node_rules[i], json_array_get(rules, i));
    json_decref(rules);
}

/* ---------- what a pod references ---------- */

enum ref_kind { REF_SECRET, REF_CONFIGMAP, REF_PVC, REF_SA };

static bool str_is(const json_t *v, const char *name)
{
    return json_is_string(v) && !strcmp(json_string_value(v), name);
}

static bool container_refs(const json_t *cs, enum ref_kind k, const char *name)
{
    size_t i, j;
    json_t *c, *e;
    const char *key = k == REF_SECRET ? "secretKeyRef" : "configMapKeyRef";
    const char *fkey = k == REF_SECRET ? "secretRef" : "configMapRef";
    json_array_foreach(cs, i, c)
    {
        json_array_foreach(json_object_get(c, "env"), j, e)
        {
            json_t *vf = json_object_get(e, "valueFrom");
            if (vf && str_is(json_object_get(json_object_get(vf, key), "name"), name))
                return true;
        }
        json_array_foreach(json_object_get(c, "envFrom"), j, e)
        {
            if (str_is(json_object_get(json_object_get(e, fkey), "name"), name))
                return true;
        }
    }
    return false;
}

static bool volume_refs_secret(const json_t *v, const char *name)
{
    static const char *const ref_sources[] = {"cephfs", "cinder",  "flexVolume", "rbd",
                                              "iscsi",  "scaleIO", "storageos"};
    if (str_is(json_object_get(json_object_get(v, "secret"), "secretName"), name) ||
        str_is(json_object_get(json_object_get(v, "azureFile"), "secretName"), name) ||
        str_is(json_object_get(json_object_get(json_object_get(v, "csi"), "nodePublishSecretRef"),
                               "name"),
               name))
        return true;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(ref_sources); i++)
        if (str_is(json_object_get(json_object_get(json_object_get(v, ref_sources[i]), "secretRef"),
                                   "name"),
                   name))
            return true;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(json_object_get(v, "projected"), "sources"), i, s)
    {
        if (str_is(json_object_get(json_object_get(s, "secret"), "name"), name))
            return true;
    }
    return false;
}

static bool volume_refs_configmap(const json_t *v, const char *name)
{
    if (str_is(json_object_get(json_object_get(v, "configMap"), "name"), name))
        return true;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(json_object_get(v, "projected"), "sources"), i, s)
    {
        if (str_is(json_object_get(json_object_get(s, "configMap"), "name"), name))
            return true;
    }
    return false;
}

static bool pod_refs(const json_t *pod, enum ref_kind k, const char *name)
{
    const json_t *spec = json_object_get(pod, "spec");
    if (k == REF_SA) {
        const json_t *sa = json_object_get(spec, "serviceAccountName");
        return json_is_string(sa) ? str_is(sa, name) : !strcmp(name, "default");
    }
    size_t i;
    json_t *v;
    if (k == REF_SECRET) {
        json_array_foreach(json_object_get(spec, "imagePullSecrets"), i, v)
        {
            if (str_is(json_object_get(v, "name"), name))
                return true;
        }
    }
    if (k == REF_SECRET || k == REF_CONFIGMAP) {
        static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
        for (size_t l = 0; l < 3; l++)
            if (container_refs(json_object_get(spec, lists[l]), k, name))
                return true;
    }
    const char *pod_name = k1s_obj_str(pod, "metadata.name");
    json_array_foreach(json_object_get(spec, "volumes"), i, v)
    {
        if (k == REF_SECRET && volume_refs_secret(v, name))
            return true;
        if (k == REF_CONFIGMAP && volume_refs_configmap(v, name))
            return true;
        if (k == REF_PVC) {
            if (str_is(json_object_get(json_object_get(v, "persistentVolumeClaim"), "claimName"),
                       name))
                return true;
            /* a generic ephemeral volume's claim is named <pod>-<volume> */
            const char *vn = json_string_value(json_object_get(v, "name"));
            if (json_object_get(v, "ephemeral") && pod_name && vn) {
                size_t pl = strlen(pod_name);
                if (!strncmp(name, pod_name, pl) && name[pl] == '-' && !strcmp(name + pl + 1, vn))
                    return true;
            }
        }
    }
    return false;
}

typedef struct scan {
    k1s_apiserver_t *api;
    const char *node;
    enum ref_kind kind;
    const char *name; /* for REF_* lookups */
    const char *pv;   /* for PV lookups: the PV name to reach through a PVC */
    bool found;
} scan_t;

static bool pvc_bound_to(k1s_apiserver_t *api, const char *ns, const char *claim, const char *pv)
{
    const k1s_resource_t *res = k1s_registry_find("", "v1", "persistentvolumeclaims");
    char *key = k1s_obj_key(res, ns, claim);
    k1s_kv_t *kv = k1s_store_get(api->store, key);
    free(key);
    if (!kv)
        return false;
    json_t *o = k1s_obj_decode(kv->value);
    bool ok = str_is(json_object_get(json_object_get(o, "spec"), "volumeName"), pv);
    json_decref(o);
    return ok;
}

static int scan_pod(k1s_kv_t *kv, void *arg)
{
    scan_t *s = arg;
    const k1s_obj_aux_t *aux = kv->aux;
    /* fields[0] is spec.nodeName (the first selectable field of pods in the registry) */
    if (!aux || !aux->fields[0] || strcmp(aux->fields[0], s->node))
        return 0;
    json_t *pod = k1s_obj_decode(kv->value);
    if (s->pv) {
        const json_t *spec = json_object_get(pod, "spec");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(spec, "volumes"), i, v)
        {
            const char *claim = json_string_value(
                json_object_get(json_object_get(v, "persistentVolumeClaim"), "claimName"));
            /* a generic ephemeral volume's claim is named <pod>-<volume> */
            char eph[512];
            const char *pn =
                json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
            const char *vn = json_string_value(json_object_get(v, "name"));
            if (!claim && json_object_get(v, "ephemeral") && pn && vn) {
                snprintf(eph, sizeof(eph), "%s-%s", pn, vn);
                claim = eph;
            }
            if (claim && pvc_bound_to(s->api, aux->ns, claim, s->pv)) {
                s->found = true;
                break;
            }
        }
    } else
        s->found = pod_refs(pod, s->kind, s->name);
    json_decref(pod);
    return s->found;
}

/* Is there a pod on node (in ns, or anywhere for NULL) referencing the object? */
static bool related(k1s_apiserver_t *api, const char *node, const char *ns, enum ref_kind k,
                    const char *name, const char *pv)
{
    const k1s_resource_t *pods = k1s_registry_find("", "v1", "pods");
    char *prefix = k1s_obj_prefix(pods, ns);
    scan_t s = {api, node, k, name, pv, false};
    k1s_store_range(api->store, prefix, NULL, scan_pod, &s);
    free(prefix);
    return s.found;
}

static bool no_relation(const char *node, char *reason, size_t len)
{
    snprintf(reason, len, "no relationship found between node '%s' and this object", node);
    return false;
}

static bool deny(char *reason, size_t len, const char *why)
{
    snprintf(reason, len, "%s", why);
    return false;
}

bool k1s_node_authorize(k1s_apiserver_t *api, const char *node, const k1s_authz_attrs_t *a,
                        char *reason, size_t len)
{
    load_node_rules();
    if (a->resource_request && !*a->group) {
        const char *res = a->resource;
        bool secret = !strcmp(res, "secrets"), cm = !strcmp(res, "configmaps");
        if (secret || cm) {
            if (strcmp(a->verb, "get") && strcmp(a->verb, "list") && strcmp(a->verb, "watch"))
                return deny(reason, len, "can only read resources of this type");
            if (*a->sub)
                return deny(reason, len, "cannot read subresource");
            if (!*a->ns)
                return deny(reason, len, "can only read namespaced object of this type");
            if (!*a->name)
                return deny(reason, len, "No Object name found");
            if (!related(api, node, a->ns, secret ? REF_SECRET : REF_CONFIGMAP, a->name, NULL))
                return no_relation(node, reason, len);
            return true;
        }
        if (!strcmp(res, "persistentvolumeclaims")) {
            if (!strcmp(a->sub, "status")) {
                if (strcmp(a->verb, "get") && strcmp(a->verb, "update") && strcmp(a->verb, "patch"))
                    return deny(reason, len, "can only get, update or patch status of this type");
            } else {
                if (strcmp(a->verb, "get"))
                    return deny(reason, len, "can only get individual resources of this type");
                if (*a->sub)
                    return deny(reason, len, "cannot get subresource");
            }
            if (!*a->name)
                return deny(reason, len, "No Object name found");
            if (!related(api, node, a->ns, REF_PVC, a->name, NULL))
                return no_relation(node, reason, len);
            return true;
        }
        if (!strcmp(res, "persistentvolumes")) {
            if (strcmp(a->verb, "get"))
                return deny(reason, len, "can only get individual resources of this type");
            if (*a->sub)
                return deny(reason, len, "cannot get subresource");
            if (!*a->name)
                return deny(reason, len, "No Object name found");
            if (!related(api, node, NULL, REF_PVC, NULL, a->name))
                return no_relation(node, reason, len);
            return true;
        }
        if (!strcmp(res, "serviceaccounts")) {
            if (strcmp(a->verb, "create") || !*a->name)
                return deny(reason, len, "can only create tokens for individual service accounts");
            if (strcmp(a->sub, "token"))
                return deny(reason, len, "can only create token subresource of serviceaccount");
            if (!related(api, node, a->ns, REF_SA, a->name, NULL))
                return no_relation(node, reason, len);
            return true;
        }
    }
    if (a->resource_request && !strcmp(a->group, "coordination.k8s.io") &&
        !strcmp(a->resource, "leases")) {
        static const char *const ok[] = {"get", "create", "update", "patch", "delete"};
        bool verb_ok = false;
        for (size_t i = 0; i < K1S_ARRAY_SIZE(ok); i++)
            verb_ok |= !strcmp(a->verb, ok[i]);
        if (!verb_ok)
            return deny(reason, len, "can only get, create, update, patch, or delete a node lease");
        if (strcmp(a->ns, "kube-node-lease"))
            return deny(reason, len, "can only access leases in the kube-node-lease namespace");
        if (strcmp(a->verb, "create") && strcmp(a->name, node))
            return deny(reason, len,
                        "can only access node lease with the same name as the requesting node");
        if (*a->sub)
            return deny(reason, len, "cannot access subresource");
        return true;
    }
    if (a->resource_request && !strcmp(a->group, "storage.k8s.io") &&
        !strcmp(a->resource, "csinodes")) {
        static const char *const ok[] = {"get", "create", "update", "patch", "delete"};
        bool verb_ok = false;
        for (size_t i = 0; i < K1S_ARRAY_SIZE(ok); i++)
            verb_ok |= !strcmp(a->verb, ok[i]);
        if (!verb_ok)
            return deny(reason, len, "can only get, create, update, patch, or delete a CSINode");
        if (*a->sub)
            return deny(reason, len, "cannot authorize CSINode subresources");
        /* the name of a create is checked by NodeRestriction */
        if (strcmp(a->verb, "create") && strcmp(a->name, node))
            return deny(reason, len,
                        "can only access CSINode with the same name as the requesting node");
        return true;
    }
    for (size_t i = 0; i < nnode_rules; i++)
        if (k1s_rbac_rule_allows(&node_rules[i], a))
            return true;
    return false;
}

/* ---------- NodeRestriction ---------- */

static bool refuse(k1s_api_req_t *r, const char *name, const char *fmt, const char *node,
                   const char *other)
{
    char why[512];
    snprintf(why, sizeof(why), fmt, node, other);
    const k1s_authz_attrs_t *a = &r->authz->a;
    k1s_authz_fail(r, a->resource, a->group, name, why);
    return false;
}

static bool pod_bound_to(k1s_apiserver_t *api, const char *ns, const char *name, const char *node)
{
    const k1s_resource_t *pods = k1s_registry_find("", "v1", "pods");
    char *key = k1s_obj_key(pods, ns, name);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    free(key);
    const k1s_obj_aux_t *aux = kv ? kv->aux : NULL;
    /* a pod that does not exist is left to the REST handler's 404 */
    return !kv || (aux && aux->fields[0] && !strcmp(aux->fields[0], node));
}

/* May a kubelet set this label on its Node (NodeRestriction's getForbiddenLabels)? */
static bool kubelet_label_allowed(const char *key)
{
    static const char *const allowed[] = {"kubernetes.io/hostname",
                                          "kubernetes.io/arch",
                                          "kubernetes.io/os",
                                          "beta.kubernetes.io/instance-type",
                                          "node.kubernetes.io/instance-type",
                                          "failure-domain.beta.kubernetes.io/region",
                                          "failure-domain.beta.kubernetes.io/zone",
                                          "topology.kubernetes.io/region",
                                          "topology.kubernetes.io/zone",
                                          "beta.kubernetes.io/arch",
                                          "beta.kubernetes.io/os"};
    const char *slash = strchr(key, '/');
    if (!slash)
        return true;
    size_t nl = (size_t)(slash - key);
    char ns[254];
    snprintf(ns, sizeof(ns), "%.*s", (int)(nl < 253 ? nl : 253), key);
#define ENDS(s, suf) (strlen(s) >= strlen(suf) && !strcmp((s) + strlen(s) - strlen(suf), suf))
    if (!strcmp(ns, "node-restriction.kubernetes.io") ||
        ENDS(ns, ".node-restriction.kubernetes.io"))
        return false;
    bool k8s_ns = !strcmp(ns, "kubernetes.io") || !strcmp(ns, "k8s.io") ||
                  ENDS(ns, ".kubernetes.io") || ENDS(ns, ".k8s.io");
    if (!k8s_ns)
        return true;
    if (!strcmp(ns, "kubelet.kubernetes.io") || ENDS(ns, ".kubelet.kubernetes.io") ||
        !strcmp(ns, "node.kubernetes.io") || ENDS(ns, ".node.kubernetes.io"))
        return true;
#undef ENDS
    for (size_t i = 0; i < K1S_ARRAY_SIZE(allowed); i++)
        if (!strcmp(key, allowed[i]))
            return true;
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A node may change only the labels a kubelet is allowed to set on itself. */
static bool node_labels_allowed(k1s_api_req_t *r, const char *node, const char *name,
                                const json_t *obj)
{
    const json_t *nl = json_object_get(json_object_get(obj, "metadata"), "labels");
    const json_t *ol =
        r->old ? json_object_get(json_object_get(r->old, "metadata"), "labels") : NULL;
    const char *bad[64];
    size_t nbad = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)nl, k, v)
    {
        if (!json_equal(v, json_object_get(ol, k)) && !kubelet_label_allowed(k) && nbad < 64)
            bad[nbad++] = k;
    }
    json_object_foreach((json_t *)ol, k, v)
    {
        if (!json_object_get(nl, k) && !kubelet_label_allowed(k) && nbad < 64)
            bad[nbad++] = k;
    }
    if (!nbad)
        return true;
    qsort(bad, nbad, sizeof(char *), cmp_str);
    k1s_buf_t b = K1S_BUF_INIT;
    for (size_t i = 0; i < nbad; i++)
        k1s_buf_printf(&b, "%s%s", i ? ", " : "", bad[i]);
    char *why = r->old ? k1s_xasprintf("is not allowed to modify labels: %s", b.data)
                       : k1s_xasprintf("node \"%s\" is not allowed to set the following labels: %s",
                                       node, b.data);
    k1s_buf_free(&b);
    const k1s_authz_attrs_t *a = &r->authz->a;
    k1s_authz_fail(r, a->resource, a->group, name, why);
    free(why);
    return false;
}

bool k1s_node_restriction_admit(k1s_api_req_t *r, const json_t *obj)
{
    if (!r->authz)
        return true;
    const char *node = k1s_node_identity(r->user, r->groups);
    if (!node)
        return true;
    const k1s_authz_attrs_t *a = &r->authz->a;
    if (!a->resource_request)
        return true;
    /* a create is checked once its body is read */
    if (!obj && !strcmp(a->verb, "create") && !*a->sub)
        return true;
    const char *name = obj ? k1s_obj_str(obj, "metadata.name") : a->name;
    if (!name)
        name = "";
    if (!*a->group && !strcmp(a->resource, "nodes")) {
        if (strcmp(name, node))
            return refuse(r, name, "node \"%s\" is not allowed to modify node \"%s\"", node, name);
        if (obj && !a->sub[0])
            return node_labels_allowed(r, node, name, obj);
        return true;
    }
    if (!*a->group && !strcmp(a->resource, "pods")) {
        if (!strcmp(a->sub, "status")) {
            if (!pod_bound_to(r->api, a->ns, name, node))
                return refuse(
                    r, name,
                    "node \"%s\" can only update pod status for pods with spec.nodeName set to "
                    "itself%s",
                    node, "");
            return true;
        }
        if (!strcmp(a->verb, "create") && !*a->sub && obj) {
            if (!json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
                                 "kubernetes.io/config.mirror"))
                return refuse(r, name,
                              "pod does not have \"kubernetes.io/config.mirror\" annotation, node "
                              "\"%s\" can only create mirror pods%s",
                              node, "");
            const char *nn = k1s_obj_str(obj, "spec.nodeName");
            if (!nn || strcmp(nn, node))
                return refuse(r, name,
                              "node \"%s\" can only create pods with spec.nodeName set to itself%s",
                              node, "");
            return true;
        }
        if ((!strcmp(a->verb, "delete") || !strcmp(a->sub, "eviction")) &&
            !pod_bound_to(r->api, a->ns, name, node))
            return refuse(r, name,
                          "node \"%s\" can only delete pods with spec.nodeName set to itself%s",
                          node, "");
        return true;
    }
    if (!strcmp(a->group, "coordination.k8s.io") && !strcmp(a->resource, "leases")) {
        if (strcmp(a->ns, "kube-node-lease"))
            return refuse(r, name, "can only access leases in the %s namespace%s",
                          "\"kube-node-lease\"", "");
        if (strcmp(name, node))
            return refuse(
                r, name, "can only access node lease with the same name as the requesting node%s%s",
                "", "");
    }
    if (!strcmp(a->group, "storage.k8s.io") && !strcmp(a->resource, "csinodes") &&
        strcmp(name, node))
        return refuse(r, name,
                      "can only access CSINode with the same name as the requesting node%s%s", "",
                      "");
    return true;
}
