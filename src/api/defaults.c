/*
 * Defaulting of built-in objects, mirroring kube-apiserver v1.32: the
 * SetDefaults_* functions of pkg/apis/{core,apps,batch,...}/v1, the
 * declarative "+default" markers of k8s.io/api and the generated walkers
 * that apply them to every embedded struct (a Deployment's pod template gets
 * the same container and volume defaults as a Pod).
 *
 * Kubernetes defaults typed structs: a string field is unset when "", a
 * pointer when nil, a plain integer when 0. On JSON the same fields are unset
 * when absent or null, or when they hold "" / 0 for those Go types.
 */
#include "api/defaults.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/crd.h"
#include "api/validate.h"
#include "lib/buf.h"
#include "lib/util.h"

/* ------------------------------------------------------------------------------------------ */
/* JSON helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

static json_t *get(json_t *o, const char *k)
{
    if (!json_is_object(o))
        return NULL;
    json_t *v = json_object_get(o, k);
    return json_is_null(v) ? NULL : v;
}

static json_t *getobj(json_t *o, const char *k)
{
    json_t *v = get(o, k);
    return json_is_object(v) ? v : NULL;
}

static json_t *getarr(json_t *o, const char *k)
{
    json_t *v = get(o, k);
    return json_is_array(v) ? v : NULL;
}

static const char *getstr(json_t *o, const char *k)
{
    return json_string_value(get(o, k));
}

static const char *getstr0(json_t *o, const char *k)
{
    const char *s = getstr(o, k);
    return s ? s : "";
}

/* The child object o[k], created if absent (o must be an object). */
static json_t *child(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(o, k, v);
    }
    return v;
}

/* Sets o[k] = v (stealing v) when o[k] is absent or null, as for a nil pointer. */
static void def_ptr(json_t *o, const char *k, json_t *v)
{
    if (json_is_object(o) && !get(o, k))
        json_object_set_new(o, k, v);
    else
        json_decref(v);
}

/* Sets a string field that is unset when "". */
static void def_str(json_t *o, const char *k, const char *v)
{
    if (!json_is_object(o))
        return;
    json_t *cur = get(o, k);
    if (!cur || (json_is_string(cur) && !*json_string_value(cur)))
        json_object_set_new(o, k, json_string(v));
}

/* Sets an integer field that is unset when 0. */
static void def_int(json_t *o, const char *k, json_int_t v)
{
    if (!json_is_object(o))
        return;
    json_t *cur = get(o, k);
    if (!cur || (json_is_integer(cur) && json_integer_value(cur) == 0) ||
        (json_is_real(cur) && json_real_value(cur) == 0))
        json_object_set_new(o, k, json_integer(v));
}

#define OBJ_EACH(obj, k, val)                                                                      \
    for (void *it_##k = json_is_object(obj) ? json_object_iter(obj) : NULL;                        \
         it_##k &&                                                                                 \
         ((k) = json_object_iter_key(it_##k), (val) = json_object_iter_value(it_##k), 1);          \
         it_##k = json_object_iter_next((obj), it_##k))

#define ARR_EACH(arr, i, val)                                                                      \
    for (size_t i = 0; (i) < json_array_size(arr) && ((val) = json_array_get((arr), (i))); (i)++)

/* ------------------------------------------------------------------------------------------ */
/* Quantities                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Rewrites a quantity as Kubernetes serializes it; round_milli applies SetDefaults_ResourceList. */
static void canon_quantity(json_t *o, const char *k, bool round_milli)
{
    json_t *v = get(o, k);
    k1s_quantity_t q;
    if (!v || k1s_quantity_from_json(v, &q, NULL) < 0)
        return;
    if (round_milli)
        k1s_quantity_round_up(&q, -3);
    char *s = k1s_quantity_string(&q);
    json_object_set_new(o, k, json_string(s));
    free(s);
}

/* SetDefaults_ResourceList on every entry of o[k] */
static void resource_list(json_t *o, const char *k)
{
    json_t *list = getobj(o, k);
    /* replacing a value keeps the iterator valid */
    const char *key;
    json_t *val;
    OBJ_EACH(list, key, val)
    {
        (void)val;
        canon_quantity(list, key, true);
    }
}

static void resources(json_t *r)
{
    resource_list(r, "limits");
    resource_list(r, "requests");
}

/* ------------------------------------------------------------------------------------------ */
/* Containers, probes, volumes: the pod spec walkers                                          */
/* ------------------------------------------------------------------------------------------ */

static bool path_component_ok(const char *s, size_t n)
{
    /* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
    if (n == 0 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    size_t i = 0;
    while (i < n) {
        while (i < n && (islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])))
            i++;
        if (i == n)
            return true;
        size_t sep = i;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < n && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
        if (i == sep || i == n || !(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])))
            return false;
    }
    return true;
}

/*
 * parsers.ParseImageName as SetDefaults_Container uses it: true when the
 * image resolves to the "latest" tag (no tag and no digest, or :latest).
 * An image that does not parse counts as not latest (Kubernetes ignores the
 * error and sees an empty tag).
 */
static bool image_is_latest(const char *image)
{
    if (!image || !*image)
        return false;
    char *ref = k1s_xstrdup(image);
    bool digest = false, ok = true;
    char *at = strchr(ref, '@');
    if (at) {
        char *colon = strchr(at + 1, ':');
        ok = colon && colon > at + 1 && strlen(colon + 1) >= 32;
        for (char *c = colon ? colon + 1 : at; ok && *c; c++)
            ok = isxdigit((unsigned char)*c) != 0;
        digest = true;
        *at = 0;
    }
    char *slash = strrchr(ref, '/');
    char *colon = strrchr(slash ? slash : ref, ':');
    const char *tag = NULL;
    if (colon) {
        *colon = 0;
        tag = colon + 1;
        size_t n = strlen(tag);
        ok = ok && n >= 1 && n <= 128 && (isalnum((unsigned char)tag[0]) || tag[0] == '_');
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)tag[i]) || tag[i] == '_' || tag[i] == '.' || tag[i] == '-';
    }
    /* the domain, if the first component looks like one */
    char *name = ref;
    char *first = strchr(name, '/');
    if (first) {
        size_t dn = (size_t)(first - name);
        bool lower = true;
        for (size_t i = 0; i < dn; i++)
            lower &= !isupper((unsigned char)name[i]);
        bool domain = memchr(name, '.', dn) || memchr(name, ':', dn) ||
                      (dn == 9 && !strncmp(name, "localhost", 9)) || !lower;
        if (domain) {
            for (size_t i = 0; ok && i < dn; i++)
                ok = isalnum((unsigned char)name[i]) || strchr(".-:[]", name[i]);
            ok = ok && dn > 0;
            name = first + 1;
        }
    }
    for (char *p = name; ok;) {
        char *s = strchr(p, '/');
        size_t n = s ? (size_t)(s - p) : strlen(p);
        ok = path_component_ok(p, n);
        if (!s)
            break;
        p = s + 1;
    }
    bool latest = ok && ((!tag && !digest) || (tag && !strcmp(tag, "latest")));
    free(ref);
    return latest;
}

static void http_get(json_t *h)
{
    json_t *g = getobj(h, "httpGet");
    if (g) {
        def_str(g, "path", "/");
        def_str(g, "scheme", "HTTP");
    }
}

static void probe(json_t *p)
{
    if (!json_is_object(p))
        return;
    def_int(p, "timeoutSeconds", 1);
    def_int(p, "periodSeconds", 10);
    def_int(p, "successThreshold", 1);
    def_int(p, "failureThreshold", 3);
    http_get(p);
    json_t *grpc = getobj(p, "grpc");
    if (grpc)
        def_ptr(grpc, "service", json_string(""));
}

static void field_ref(json_t *fr)
{
    if (json_is_object(fr))
        def_str(fr, "apiVersion", "v1");
}

static void container(json_t *c)
{
    if (!json_is_object(c))
        return;
    const char *pp = getstr(c, "imagePullPolicy");
    if (!pp || !*pp)
        json_object_set_new(
            c, "imagePullPolicy",
            json_string(image_is_latest(getstr(c, "image")) ? "Always" : "IfNotPresent"));
    def_str(c, "terminationMessagePath", "/dev/termination-log");
    def_str(c, "terminationMessagePolicy", "File");
    json_t *p;
    ARR_EACH(getarr(c, "ports"), i, p)
    def_str(p, "protocol", "TCP");
    json_t *e;
    ARR_EACH(getarr(c, "env"), i, e)
    field_ref(getobj(getobj(e, "valueFrom"), "fieldRef"));
    resources(getobj(c, "resources"));
    probe(getobj(c, "livenessProbe"));
    probe(getobj(c, "readinessProbe"));
    probe(getobj(c, "startupProbe"));
    json_t *lc = getobj(c, "lifecycle");
    http_get(getobj(lc, "postStart"));
    http_get(getobj(lc, "preStop"));
}

static const char *const volume_sources[] = {"hostPath",
                                             "emptyDir",
                                             "gcePersistentDisk",
                                             "awsElasticBlockStore",
                                             "gitRepo",
                                             "secret",
                                             "nfs",
                                             "iscsi",
                                             "glusterfs",
                                             "persistentVolumeClaim",
                                             "rbd",
                                             "flexVolume",
                                             "cinder",
                                             "cephfs",
                                             "flocker",
                                             "downwardAPI",
                                             "fc",
                                             "azureFile",
                                             "configMap",
                                             "vsphereVolume",
                                             "quobyte",
                                             "azureDisk",
                                             "photonPersistentDisk",
                                             "projected",
                                             "portworxVolume",
                                             "scaleIO",
                                             "storageos",
                                             "csi",
                                             "ephemeral",
                                             "image"};

static void downward_items(json_t *d)
{
    json_t *it;
    ARR_EACH(getarr(d, "items"), i, it)
    field_ref(getobj(it, "fieldRef"));
}

/* the declarative defaults of volume sources shared by volumes and PersistentVolumes */
static void legacy_sources(json_t *s)
{
    json_t *x;
    if ((x = getobj(s, "iscsi")))
        def_str(x, "iscsiInterface", "default");
    if ((x = getobj(s, "rbd"))) {
        def_str(x, "pool", "rbd");
        def_str(x, "user", "admin");
        def_str(x, "keyring", "/etc/ceph/keyring");
    }
    if ((x = getobj(s, "azureDisk"))) {
        def_ptr(x, "cachingMode", json_string("ReadWrite"));
        def_ptr(x, "fsType", json_string("ext4"));
        def_ptr(x, "readOnly", json_false());
        def_ptr(x, "kind", json_string("Shared"));
    }
    if ((x = getobj(s, "scaleIO"))) {
        def_str(x, "storageMode", "ThinProvisioned");
        def_str(x, "fsType", "xfs");
    }
    if ((x = getobj(s, "hostPath")))
        def_ptr(x, "type", json_string(""));
}

static void pvc_spec(json_t *spec);

static void volume(json_t *v)
{
    if (!json_is_object(v))
        return;
    bool any = false;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(volume_sources); i++)
        any |= get(v, volume_sources[i]) != NULL;
    if (!any)
        json_object_set_new(v, "emptyDir", json_object());
    json_t *x;
    if ((x = getobj(v, "emptyDir")))
        canon_quantity(x, "sizeLimit", false);
    if ((x = getobj(v, "secret")))
        def_ptr(x, "defaultMode", json_integer(420));
    if ((x = getobj(v, "configMap")))
        def_ptr(x, "defaultMode", json_integer(420));
    if ((x = getobj(v, "downwardAPI"))) {
        def_ptr(x, "defaultMode", json_integer(420));
        downward_items(x);
    }
    if ((x = getobj(v, "projected"))) {
        def_ptr(x, "defaultMode", json_integer(420));
        json_t *src;
        ARR_EACH(getarr(x, "sources"), i, src)
        {
            downward_items(getobj(src, "downwardAPI"));
            json_t *sat = getobj(src, "serviceAccountToken");
            if (sat)
                def_ptr(sat, "expirationSeconds", json_integer(3600));
        }
    }
    if ((x = getobj(v, "ephemeral"))) {
        json_t *t = getobj(x, "volumeClaimTemplate");
        if (t)
            pvc_spec(child(t, "spec"));
    }
    legacy_sources(v);
}

/* SetDefaults_PodSpec and the walkers below it; SetDefaults_Pod too when is_pod */
static void pod_spec(json_t *spec, bool is_pod)
{
    if (!json_is_object(spec))
        return;
    static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
    json_t *c, *p;
    if (is_pod) {
        /* requests default to limits, container by container */
        for (size_t l = 0; l < 2; l++) {
            ARR_EACH(getarr(spec, lists[l]), i, c)
            {
                json_t *res = getobj(c, "resources"), *lim = getobj(res, "limits");
                if (!lim)
                    continue;
                json_t *req = child(res, "requests");
                const char *k;
                json_t *val;
                OBJ_EACH(lim, k, val)
                {
                    if (!json_object_get(req, k))
                        json_object_set(req, k, val);
                }
            }
        }
        def_ptr(spec, "enableServiceLinks", json_true());
        if (json_is_true(get(spec, "hostNetwork"))) {
            for (size_t l = 0; l < 2; l++) {
                ARR_EACH(getarr(spec, lists[l]), i, c)
                {
                    ARR_EACH(getarr(c, "ports"), j, p)
                    {
                        json_t *hp = get(p, "hostPort"), *cp = get(p, "containerPort");
                        if (!hp || (json_is_integer(hp) && json_integer_value(hp) == 0))
                            json_object_set_new(p, "hostPort",
                                                cp ? json_incref(cp) : json_integer(0));
                    }
                }
            }
        }
    }
    /* spec.serviceAccount is the deprecated name of serviceAccountName: the v1 conversion
     * reads one when the other is empty and writes both */
    const char *san = json_string_value(get(spec, "serviceAccountName"));
    const char *sa = json_string_value(get(spec, "serviceAccount"));
    if ((!san || !*san) && sa && *sa)
        json_object_set_new(spec, "serviceAccountName", json_string(sa));
    else if (san && *san && !k1s_streq(san, sa))
        json_object_set_new(spec, "serviceAccount", json_string(san));
    def_str(spec, "dnsPolicy", "ClusterFirst");
    def_str(spec, "restartPolicy", "Always");
    def_ptr(spec, "securityContext", json_object());
    def_ptr(spec, "terminationGracePeriodSeconds", json_integer(30));
    def_str(spec, "schedulerName", "default-scheduler");
    json_t *v;
    ARR_EACH(getarr(spec, "volumes"), i, v)
    volume(v);
    for (size_t l = 0; l < K1S_ARRAY_SIZE(lists); l++) {
        ARR_EACH(getarr(spec, lists[l]), i, c)
        container(c);
    }
    resource_list(spec, "overhead");
    resources(getobj(spec, "resources"));
}

/* a PodTemplateSpec held at o[k]; Kubernetes' template is a struct, so it is created if absent */
static void pod_template(json_t *o, const char *k)
{
    if (!json_is_object(o))
        return;
    pod_spec(child(child(o, k), "spec"), false);
}

void k1s_defaults_pod_template(json_t *tmpl)
{
    if (json_is_object(tmpl))
        pod_spec(child(tmpl, "spec"), false);
}

static void pvc_spec(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    def_ptr(spec, "volumeMode", json_string("Filesystem"));
    resources(getobj(spec, "resources"));
}

/* ------------------------------------------------------------------------------------------ */
/* Per kind                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void d_pod(json_t *pod)
{
    json_t *spec = child(pod, "spec");
    pod_spec(spec, true);
    /* PrepareForCreate's QoS class, wherever status has none yet */
    json_t *st = getobj(pod, "status");
    if (st && !getstr(st, "qosClass"))
        json_object_set_new(st, "qosClass", json_string(k1s_pod_qos_class(pod)));
}

static bool externally_accessible(json_t *spec)
{
    const char *t = getstr0(spec, "type");
    return !strcmp(t, "LoadBalancer") || !strcmp(t, "NodePort") ||
           (!strcmp(t, "ClusterIP") && json_array_size(getarr(spec, "externalIPs")) > 0);
}

static void d_service(json_t *svc)
{
    json_t *spec = child(svc, "spec");
    def_str(spec, "sessionAffinity", "None");
    const char *aff = getstr0(spec, "sessionAffinity");
    if (!strcmp(aff, "None")) {
        json_object_del(spec, "sessionAffinityConfig");
    } else if (!strcmp(aff, "ClientIP")) {
        json_t *t =
            get(getobj(getobj(spec, "sessionAffinityConfig"), "clientIP"), "timeoutSeconds");
        if (!t)
            json_object_set_new(spec, "sessionAffinityConfig",
                                json_pack("{s:{s:i}}", "clientIP", "timeoutSeconds", 10800));
    }
    def_str(spec, "type", "ClusterIP");
    const char *type = getstr0(spec, "type");
    json_t *p;
    ARR_EACH(getarr(spec, "ports"), i, p)
    {
        def_str(p, "protocol", "TCP");
        json_t *tp = get(p, "targetPort");
        if (!tp || (json_is_integer(tp) && json_integer_value(tp) == 0) ||
            (json_is_string(tp) && !*json_string_value(tp))) {
            json_t *port = json_object_get(p, "port");
            json_object_set_new(p, "targetPort",
                                json_is_integer(port) ? json_incref(port) : json_integer(0));
        }
    }
    if (externally_accessible(spec))
        def_str(spec, "externalTrafficPolicy", "Cluster");
    if (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer") || !strcmp(type, "ClusterIP"))
        def_ptr(spec, "internalTrafficPolicy", json_string("Cluster"));
    if (!strcmp(type, "LoadBalancer")) {
        def_ptr(spec, "allocateLoadBalancerNodePorts", json_true());
        json_t *ing;
        ARR_EACH(getarr(getobj(getobj(svc, "status"), "loadBalancer"), "ingress"), i, ing)
        {
            const char *ip = getstr(ing, "ip");
            if (ip && *ip)
                def_ptr(ing, "ipMode", json_string("VIP"));
        }
    }
    /* NormalizeClusterIPs: a client that sets only clusterIP gets clusterIPs too */
    const char *ip = getstr(spec, "clusterIP");
    if (ip && *ip && json_array_size(getarr(spec, "clusterIPs")) == 0)
        json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *p, size_t n)
{
    char *out = k1s_xmalloc((n + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = b64chars[v >> 18 & 63];
        out[o++] = b64chars[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

static void d_secret(json_t *s)
{
    def_str(s, "type", "Opaque");
    /* conversion folds stringData into data; stringData is write-only */
    json_t *sd = getobj(s, "stringData");
    if (sd) {
        json_t *data = child(s, "data");
        const char *k;
        json_t *val;
        OBJ_EACH(sd, k, val)
        {
            const char *str = json_is_string(val) ? json_string_value(val) : "";
            char *enc = b64_encode((const unsigned char *)str, strlen(str));
            json_object_set_new(data, k, json_string(enc));
            free(enc);
        }
    }
    json_object_del(s, "stringData");
}

static void d_namespace(json_t *ns)
{
    json_t *meta = child(ns, "metadata");
    const char *name = getstr(meta, "name");
    if (name && *name)
        json_object_set_new(child(meta, "labels"), "kubernetes.io/metadata.name",
                            json_string(name));
    def_str(child(ns, "status"), "phase", "Active");
    const char *rv = getstr(meta, "resourceVersion");
    if (!rv || !*rv) {
        /* PrepareForCreate: the namespace controller's finalizer */
        json_t *spec = child(ns, "spec");
        json_t *fins = getarr(spec, "finalizers"), *f;
        bool has = false;
        ARR_EACH(fins, i, f)
        has |= json_is_string(f) && !strcmp(json_string_value(f), "kubernetes");
        if (!has) {
            if (!fins) {
                fins = json_array();
                json_object_set_new(spec, "finalizers", fins);
            }
            json_array_append_new(fins, json_string("kubernetes"));
        }
    }
}

static void d_node(json_t *node)
{
    json_t *st = getobj(node, "status");
    resource_list(st, "capacity");
    resource_list(st, "allocatable");
    json_t *cap = getobj(st, "capacity");
    if (cap && !get(st, "allocatable"))
        json_object_set_new(st, "allocatable", json_deep_copy(cap));
}

static void d_pv(json_t *pv)
{
    def_str(child(pv, "status"), "phase", "Pending");
    json_t *spec = child(pv, "spec");
    def_str(spec, "persistentVolumeReclaimPolicy", "Retain");
    def_ptr(spec, "volumeMode", json_string("Filesystem"));
    resource_list(spec, "capacity");
    legacy_sources(spec);
}

static void d_pvc(json_t *pvc)
{
    def_str(child(pvc, "status"), "phase", "Pending");
    pvc_spec(child(pvc, "spec"));
    json_t *st = getobj(pvc, "status");
    resource_list(st, "capacity");
    resource_list(st, "allocatedResources");
}

static void d_endpoints(json_t *ep)
{
    json_t *ss, *p;
    ARR_EACH(getarr(ep, "subsets"), i, ss)
    {
        ARR_EACH(getarr(ss, "ports"), j, p)
        def_str(p, "protocol", "TCP");
    }
}

static void d_limitrange(json_t *lr)
{
    json_t *l;
    ARR_EACH(getarr(getobj(lr, "spec"), "limits"), i, l)
    {
        static const char *const lists[] = {"max", "min", "default", "defaultRequest",
                                            "maxLimitRequestRatio"};
        for (size_t k = 0; k < K1S_ARRAY_SIZE(lists); k++)
            resource_list(l, lists[k]);
        const char *type = getstr(l, "type");
        if (!type || strcmp(type, "Container"))
            continue;
        json_t *def = child(l, "default"), *defreq = child(l, "defaultRequest");
        const char *k;
        json_t *val;
        json_t *max = getobj(l, "max"), *min = getobj(l, "min");
        OBJ_EACH(max, k, val)
        {
            if (!json_object_get(def, k))
                json_object_set(def, k, val);
        }
        OBJ_EACH(def, k, val)
        {
            if (!json_object_get(defreq, k))
                json_object_set(defreq, k, val);
        }
        OBJ_EACH(min, k, val)
        {
            if (!json_object_get(defreq, k))
                json_object_set(defreq, k, val);
        }
    }
}

static void d_resourcequota(json_t *rq)
{
    resource_list(getobj(rq, "spec"), "hard");
    resource_list(getobj(rq, "status"), "hard");
    resource_list(getobj(rq, "status"), "used");
}

static void d_deployment(json_t *d)
{
    json_t *spec = child(d, "spec");
    def_ptr(spec, "replicas", json_integer(1));
    json_t *st = child(spec, "strategy");
    def_str(st, "type", "RollingUpdate");
    if (!strcmp(getstr0(st, "type"), "RollingUpdate")) {
        json_t *ru = child(st, "rollingUpdate");
        def_ptr(ru, "maxUnavailable", json_string("25%"));
        def_ptr(ru, "maxSurge", json_string("25%"));
    }
    def_ptr(spec, "revisionHistoryLimit", json_integer(10));
    def_ptr(spec, "progressDeadlineSeconds", json_integer(600));
    pod_template(spec, "template");
}

static void d_replicaset(json_t *rs)
{
    json_t *spec = child(rs, "spec");
    def_ptr(spec, "replicas", json_integer(1));
    pod_template(spec, "template");
}

static void d_statefulset(json_t *ss)
{
    json_t *spec = child(ss, "spec");
    def_str(spec, "podManagementPolicy", "OrderedReady");
    json_t *us = child(spec, "updateStrategy");
    const char *t = getstr(us, "type");
    if (!t || !*t) {
        json_object_set_new(us, "type", json_string("RollingUpdate"));
        def_ptr(us, "rollingUpdate", json_object());
    }
    json_t *ru = getobj(us, "rollingUpdate");
    if (!strcmp(getstr0(us, "type"), "RollingUpdate") && ru)
        def_ptr(ru, "partition", json_integer(0));
    json_t *pol = child(spec, "persistentVolumeClaimRetentionPolicy");
    def_str(pol, "whenDeleted", "Retain");
    def_str(pol, "whenScaled", "Retain");
    def_ptr(spec, "replicas", json_integer(1));
    def_ptr(spec, "revisionHistoryLimit", json_integer(10));
    pod_template(spec, "template");
    json_t *pvc;
    ARR_EACH(getarr(spec, "volumeClaimTemplates"), i, pvc)
    {
        if (!json_is_object(pvc))
            continue;
        def_str(pvc, "apiVersion", "v1");
        def_str(pvc, "kind", "PersistentVolumeClaim");
        d_pvc(pvc);
    }
}

static void d_daemonset(json_t *ds)
{
    json_t *spec = child(ds, "spec");
    json_t *us = child(spec, "updateStrategy");
    def_str(us, "type", "RollingUpdate");
    if (!strcmp(getstr0(us, "type"), "RollingUpdate")) {
        json_t *ru = child(us, "rollingUpdate");
        def_ptr(ru, "maxUnavailable", json_integer(1));
        def_ptr(ru, "maxSurge", json_integer(0));
    }
    def_ptr(spec, "revisionHistoryLimit", json_integer(10));
    pod_template(spec, "template");
}

/* SetDefaults_Job's copy of the template labels to an unlabelled Job */
static void job_labels(json_t *job, json_t *spec)
{
    json_t *tl = getobj(getobj(getobj(spec, "template"), "metadata"), "labels");
    json_t *meta = child(job, "metadata");
    if (tl && json_object_size(getobj(meta, "labels")) == 0)
        json_object_set_new(meta, "labels", json_deep_copy(tl));
}

/* the job strategy's generateSelector, for jobs that do not pick their own selector */
static void job_selector(json_t *job, json_t *spec)
{
    if (json_is_true(get(spec, "manualSelector")))
        return;
    json_t *meta = getobj(job, "metadata");
    const char *name = getstr(meta, "name"), *uid = getstr(meta, "uid");
    /* a generateName is resolved after mutating admission: generate once the name is known */
    if (!name || !*name)
        return;
    uid = uid ? uid : "";
    json_t *labels = child(child(child(spec, "template"), "metadata"), "labels");
    static const char *const name_keys[] = {"job-name", "batch.kubernetes.io/job-name"};
    static const char *const uid_keys[] = {"controller-uid", "batch.kubernetes.io/controller-uid"};
    for (size_t i = 0; i < 2; i++) {
        if (!json_object_get(labels, name_keys[i]))
            json_object_set_new(labels, name_keys[i], json_string(name));
    }
    for (size_t i = 0; i < 2; i++) {
        if (!json_object_get(labels, uid_keys[i]))
            json_object_set_new(labels, uid_keys[i], json_string(uid));
    }
    json_t *ml = child(child(spec, "selector"), "matchLabels");
    if (!json_object_get(ml, "batch.kubernetes.io/controller-uid"))
        json_object_set_new(ml, "batch.kubernetes.io/controller-uid", json_string(uid));
}

static void d_job(json_t *job)
{
    json_t *spec = child(job, "spec");
    if (!get(spec, "completions") && !get(spec, "parallelism")) {
        json_object_set_new(spec, "completions", json_integer(1));
        json_object_set_new(spec, "parallelism", json_integer(1));
    }
    def_ptr(spec, "parallelism", json_integer(1));
    def_ptr(spec, "backoffLimit", json_integer(get(spec, "backoffLimitPerIndex") ? 2147483647 : 6));
    job_labels(job, spec);
    def_ptr(spec, "completionMode", json_string("NonIndexed"));
    def_ptr(spec, "suspend", json_false());
    json_t *pfp = getobj(spec, "podFailurePolicy"), *rule, *pat;
    ARR_EACH(getarr(pfp, "rules"), i, rule)
    {
        ARR_EACH(getarr(rule, "onPodConditions"), j, pat)
        def_str(pat, "status", "True");
    }
    def_ptr(spec, "podReplacementPolicy", json_string(pfp ? "Failed" : "TerminatingOrFailed"));
    pod_template(spec, "template");
    job_selector(job, spec);
    /* Kubernetes defaults again when it reads the stored Job back */
    job_labels(job, spec);
}

static void d_cronjob(json_t *cj)
{
    json_t *spec = child(cj, "spec");
    def_str(spec, "concurrencyPolicy", "Allow");
    def_ptr(spec, "suspend", json_false());
    def_ptr(spec, "successfulJobsHistoryLimit", json_integer(3));
    def_ptr(spec, "failedJobsHistoryLimit", json_integer(1));
    pod_template(child(child(spec, "jobTemplate"), "spec"), "template");
}

static void d_networkpolicy(json_t *np)
{
    json_t *spec = child(np, "spec");
    static const char *const dirs[] = {"ingress", "egress"};
    for (size_t d = 0; d < 2; d++) {
        json_t *rule, *p;
        ARR_EACH(getarr(spec, dirs[d]), i, rule)
        {
            ARR_EACH(getarr(rule, "ports"), j, p)
            def_ptr(p, "protocol", json_string("TCP"));
        }
    }
    if (json_array_size(getarr(spec, "policyTypes")) == 0) {
        json_t *types = json_pack("[s]", "Ingress");
        if (json_array_size(getarr(spec, "egress")) != 0)
            json_array_append_new(types, json_string("Egress"));
        json_object_set_new(spec, "policyTypes", types);
    }
}

/* autoscaling/v2 HPA behavior: nil fields of each rule take the defaults */
static void hpa_rules(json_t *behavior, const char *k, json_t *dflt)
{
    json_t *r = getobj(behavior, k);
    if (!r) {
        json_object_set_new(behavior, k, dflt);
        return;
    }
    const char *f;
    json_t *val;
    OBJ_EACH(dflt, f, val)
    {
        if (!get(r, f))
            json_object_set(r, f, val);
    }
    json_decref(dflt);
}

static void d_hpa(json_t *hpa)
{
    json_t *spec = child(hpa, "spec");
    def_ptr(spec, "minReplicas", json_integer(1));
    if (json_array_size(getarr(spec, "metrics")) == 0)
        json_object_set_new(spec, "metrics",
                            json_pack("[{s:s, s:{s:s, s:{s:s, s:i}}}]", "type", "Resource",
                                      "resource", "name", "cpu", "target", "type", "Utilization",
                                      "averageUtilization", 80));
    json_t *b = getobj(spec, "behavior");
    if (b) {
        hpa_rules(b, "scaleUp",
                  json_pack("{s:i, s:s, s:[{s:s, s:i, s:i}, {s:s, s:i, s:i}]}",
                            "stabilizationWindowSeconds", 0, "selectPolicy", "Max", "policies",
                            "type", "Pods", "value", 4, "periodSeconds", 15, "type", "Percent",
                            "value", 100, "periodSeconds", 15));
        hpa_rules(b, "scaleDown",
                  json_pack("{s:s, s:[{s:s, s:i, s:i}]}", "selectPolicy", "Max", "policies", "type",
                            "Percent", "value", 100, "periodSeconds", 15));
    }
}

static void d_rolebinding(json_t *rb)
{
    def_str(child(rb, "roleRef"), "apiGroup", "rbac.authorization.k8s.io");
    json_t *s;
    ARR_EACH(getarr(rb, "subjects"), i, s)
    {
        const char *ag = getstr(s, "apiGroup"), *kind = getstr(s, "kind");
        if ((ag && *ag) || !kind)
            continue;
        if (!strcmp(kind, "ServiceAccount"))
            continue; /* stays "", which Kubernetes' encoding omits */
        else if (!strcmp(kind, "User") || !strcmp(kind, "Group"))
            json_object_set_new(s, "apiGroup", json_string("rbac.authorization.k8s.io"));
    }
}

static void d_endpointslice(json_t *es)
{
    json_t *p;
    ARR_EACH(getarr(es, "ports"), i, p)
    {
        def_ptr(p, "name", json_string(""));
        def_ptr(p, "protocol", json_string("TCP"));
    }
}

void k1s_defaults_apply(const k1s_resource_t *r, json_t *obj)
{
    if (!json_is_object(obj))
        return;
    if (r->crd) {
        k1s_cr_default(r, obj);
        return;
    }
    if (k1s_crd_is_crd(r)) {
        k1s_crd_default(obj);
        return;
    }
    const char *g = r->group, *k = r->kind;
    if (!*g) {
        if (!strcmp(k, "Pod"))
            d_pod(obj);
        else if (!strcmp(k, "Service"))
            d_service(obj);
        else if (!strcmp(k, "Secret"))
            d_secret(obj);
        else if (!strcmp(k, "Namespace"))
            d_namespace(obj);
        else if (!strcmp(k, "Node"))
            d_node(obj);
        else if (!strcmp(k, "PersistentVolume"))
            d_pv(obj);
        else if (!strcmp(k, "PersistentVolumeClaim"))
            d_pvc(obj);
        else if (!strcmp(k, "Endpoints"))
            d_endpoints(obj);
        else if (!strcmp(k, "LimitRange"))
            d_limitrange(obj);
        else if (!strcmp(k, "ResourceQuota"))
            d_resourcequota(obj);
    } else if (!strcmp(g, "apps")) {
        if (!strcmp(k, "Deployment"))
            d_deployment(obj);
        else if (!strcmp(k, "ReplicaSet"))
            d_replicaset(obj);
        else if (!strcmp(k, "StatefulSet"))
            d_statefulset(obj);
        else if (!strcmp(k, "DaemonSet"))
            d_daemonset(obj);
    } else if (!strcmp(g, "batch")) {
        if (!strcmp(k, "Job"))
            d_job(obj);
        else if (!strcmp(k, "CronJob"))
            d_cronjob(obj);
    } else if (!strcmp(g, "networking.k8s.io")) {
        if (!strcmp(k, "NetworkPolicy"))
            d_networkpolicy(obj);
        else if (!strcmp(k, "IngressClass") && getobj(getobj(obj, "spec"), "parameters"))
            def_ptr(getobj(getobj(obj, "spec"), "parameters"), "scope", json_string("Cluster"));
    } else if (!strcmp(g, "autoscaling") && !strcmp(k, "HorizontalPodAutoscaler")) {
        d_hpa(obj);
    } else if (!strcmp(g, "scheduling.k8s.io") && !strcmp(k, "PriorityClass")) {
        def_ptr(obj, "preemptionPolicy", json_string("PreemptLowerPriority"));
    } else if (!strcmp(g, "storage.k8s.io") && !strcmp(k, "StorageClass")) {
        def_ptr(obj, "reclaimPolicy", json_string("Delete"));
        def_ptr(obj, "volumeBindingMode", json_string("Immediate"));
    } else if (!strcmp(g, "rbac.authorization.k8s.io") &&
               (!strcmp(k, "RoleBinding") || !strcmp(k, "ClusterRoleBinding"))) {
        d_rolebinding(obj);
    } else if (!strcmp(g, "discovery.k8s.io") && !strcmp(k, "EndpointSlice")) {
        d_endpointslice(obj);
    } else if (!strcmp(g, "admissionregistration.k8s.io")) {
        k1s_defaults_webhook_config(obj, !strcmp(k, "MutatingWebhookConfiguration"));
    }
}
