/*
 * Pod and container spec -> the files a pod gets (/etc/hosts, /etc/hostname,
 * /etc/resolv.conf, emptyDir directories) and one container's runtime config,
 * following kubelet's rules (pkg/kubelet/kuberuntime, pkg/kubelet/network/dns,
 * third_party/forked/golang/expansion for $(VAR)).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/kubelet-int.h"
#include "agent/node.h"
#include "agent/volumes.h"
#include "api/quantity.h"
#include "lib/buf.h"
#include "lib/log.h"

const char *k1s_js(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

const json_t *k1s_jpath(const json_t *o, const char *dotted)
{
    char part[128];
    const char *p = dotted;
    while (o && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(part))
            return NULL;
        memcpy(part, p, n);
        part[n] = 0;
        o = json_object_get(o, part);
        p = dot ? dot + 1 : p + n;
    }
    return o;
}

const char *k1s_jpath_str(const json_t *o, const char *dotted)
{
    return json_string_value(k1s_jpath(o, dotted));
}

/* ---- string vectors ---- */

typedef struct strv {
    char **v;
    size_t n, cap;
} strv_t;

static void strv_push(strv_t *s, char *str)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = k1s_xrealloc(s->v, s->cap * sizeof(char *));
    }
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void keep_str(k1s_ctr_build_t *b, char *s)
{
    b->strs = k1s_xrealloc(b->strs, (b->n_strs + 1) * sizeof(char *));
    b->strs[b->n_strs++] = s;
}

void k1s_ctr_build_clear(k1s_ctr_build_t *b)
{
    strv_free(b->args);
    strv_free(b->env);
    strv_free(b->cap_add);
    strv_free(b->cap_drop);
    strv_free(b->sysctls);
    free(b->cwd);
    free(b->hostname);
    free(b->rootfs);
    free(b->cgroups_path);
    free(b->mounts);
    free(b->gids);
    for (size_t i = 0; i < b->n_strs; i++)
        free(b->strs[i]);
    free(b->strs);
    memset(b, 0, sizeof(*b));
}

/* ---- $(VAR) expansion ---- */

/* Kubernetes' expansion: $(NAME) is replaced when NAME is defined, $$ is an escaped $,
 * anything else stays as written. */
static char *expand(const char *in, char *const *env)
{
    k1s_buf_t b = {0};
    for (const char *p = in; *p;) {
        if (p[0] == '$' && p[1] == '$') {
            k1s_buf_putc(&b, '$');
            p += 2;
            continue;
        }
        if (p[0] == '$' && p[1] == '(') {
            const char *end = strchr(p + 2, ')');
            if (end) {
                size_t n = (size_t)(end - (p + 2));
                const char *val = NULL;
                for (size_t i = 0; env && env[i]; i++)
                    if (!strncmp(env[i], p + 2, n) && env[i][n] == '=')
                        val = env[i] + n + 1;
                if (val) {
                    k1s_buf_puts(&b, val);
                    p = end + 1;
                    continue;
                }
            }
        }
        k1s_buf_putc(&b, *p++);
    }
    k1s_buf_putc(&b, 0);
    return k1s_buf_steal(&b);
}

static void env_set(strv_t *env, const char *name, const char *value)
{
    size_t n = strlen(name);
    char *kv = k1s_xasprintf("%s=%s", name, value);
    for (size_t i = 0; i < env->n; i++)
        if (!strncmp(env->v[i], name, n) && env->v[i][n] == '=') {
            free(env->v[i]);
            env->v[i] = kv;
            return;
        }
    strv_push(env, kv);
}

/* ---- resources ---- */

static int64_t resource_milli(const json_t *c, const char *which, const char *res)
{
    const json_t *v = json_object_get(json_object_get(json_object_get(c, "resources"), which), res);
    k1s_quantity_t q;
    const char *why;
    if (!v || k1s_quantity_from_json(v, &q, &why) < 0)
        return -1;
    return k1s_quantity_milli_value(&q);
}

static int64_t resource_value(const json_t *c, const char *which, const char *res)
{
    const json_t *v = json_object_get(json_object_get(json_object_get(c, "resources"), which), res);
    k1s_quantity_t q;
    const char *why;
    if (!v || k1s_quantity_from_json(v, &q, &why) < 0)
        return -1;
    return k1s_quantity_value(&q);
}

const char *k1s_podspec_qos(const json_t *pod)
{
    bool any = false, all_guaranteed = true;
    const json_t *spec = json_object_get(pod, "spec");
    const char *lists[] = {"initContainers", "containers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            const char *res[] = {"cpu", "memory"};
            for (int r = 0; r < 2; r++) {
                int64_t req = resource_milli(c, "requests", res[r]);
                int64_t lim = resource_milli(c, "limits", res[r]);
                if (req > 0 || lim > 0)
                    any = true;
                if (lim <= 0 || (req >= 0 && req != lim))
                    all_guaranteed = false;
            }
        }
    }
    if (!any)
        return "BestEffort";
    return all_guaranteed ? "Guaranteed" : "Burstable";
}

/* ---- env ---- */

static int field_ref(const k1s_pod_env_t *e, const char *path, const char **out, k1s_err_t *err)
{
    const json_t *pod = e->pod;
    static const char *const direct[] = {"metadata.name", "metadata.namespace", "metadata.uid",
                                         "spec.nodeName", "spec.serviceAccountName"};
    for (size_t i = 0; i < sizeof(direct) / sizeof(direct[0]); i++)
        if (!strcmp(path, direct[i])) {
            *out = k1s_jpath_str(pod, path);
            if (!*out)
                *out = "";
            return 0;
        }
    if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs")) {
        *out = e->pod_ip ? e->pod_ip : "";
        return 0;
    }
    if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs")) {
        *out = e->node_ip ? e->node_ip : "";
        return 0;
    }
    if (!strncmp(path, "metadata.labels['", 17) || !strncmp(path, "metadata.annotations['", 22)) {
        bool labels = path[9] == 'l';
        const char *k = path + (labels ? 17 : 22);
        const char *end = strstr(k, "']");
        if (end) {
            char key[256];
            size_t n = (size_t)(end - k);
            if (n < sizeof(key)) {
                memcpy(key, k, n);
                key[n] = 0;
                const char *v = json_string_value(
                    json_object_get(json_object_get(json_object_get(pod, "metadata"),
                                                    labels ? "labels" : "annotations"),
                                    key));
                *out = v ? v : "";
                return 0;
            }
        }
    }
    return k1s_err_set(err, EINVAL, "env fieldRef %s is not supported", path);
}

/* A quantity in thousandths (millicores for cpu, milli-bytes for memory), -1 if unset or
 * not a quantity. */
static int64_t quantity_milli(const json_t *v)
{
    k1s_quantity_t q;
    const char *why;
    if (!v || k1s_quantity_from_json(v, &q, &why) < 0)
        return -1;
    return k1s_quantity_milli_value(&q);
}

/* The node's allocatable resource (cpu, memory, ephemeral-storage) in thousandths, as a
 * container without a limit sees it; -1 if unknown. */
static int64_t node_allocatable_milli(const char *dir, const char *res)
{
    k1s_node_facts_t f;
    if (k1s_node_facts_read(dir && *dir ? dir : "/", &f, NULL) < 0 &&
        k1s_node_facts_read("/", &f, NULL) < 0)
        return -1;
    json_t *a = k1s_node_allocatable(&f);
    int64_t v = quantity_milli(json_object_get(a, res));
    json_decref(a);
    return v;
}

int k1s_podspec_resource_value(const json_t *pod, const json_t *container, const json_t *ref,
                               const char *pod_dir, char **out, k1s_err_t *err)
{
    const char *res = k1s_js(ref, "resource");
    const char *cname = k1s_js(ref, "containerName");
    if (cname && *cname) {
        static const char *const lists[] = {"spec.containers", "spec.initContainers"};
        container = NULL;
        for (int l = 0; l < 2 && !container; l++) {
            size_t i;
            const json_t *x;
            json_array_foreach(k1s_jpath(pod, lists[l]), i, x)
            {
                if (k1s_streq(k1s_js(x, "name"), cname))
                    container = x;
            }
        }
        if (!container)
            return k1s_err_set(err, EINVAL, "resourceFieldRef: no container \"%s\" in the pod",
                               cname);
    }
    if (!res || !container)
        return k1s_err_set(err, EINVAL, "resourceFieldRef without a resource or a container");
    const char *dot = strchr(res, '.');
    bool limits = !strncmp(res, "limits.", 7), requests = !strncmp(res, "requests.", 9);
    const char *name = dot ? dot + 1 : "";
    if ((!limits && !requests) ||
        (strcmp(name, "cpu") && strcmp(name, "memory") && strcmp(name, "ephemeral-storage")))
        return k1s_err_set(err, EINVAL,
                           "resourceFieldRef: unsupported resource \"%s\" (limits or requests "
                           "of cpu, memory or ephemeral-storage)",
                           res);
    const json_t *set =
        json_object_get(json_object_get(container, "resources"), limits ? "limits" : "requests");
    int64_t v = quantity_milli(json_object_get(set, name));
    if (v < 0 && limits) /* no limit: the node's allocatable, as kubelet gives it */
        v = node_allocatable_milli(pod_dir, name);
    if (v < 0)
        v = 0;
    int64_t div = 1000;
    const json_t *d = json_object_get(ref, "divisor");
    if (d) {
        div = quantity_milli(d);
        if (div <= 0)
            return k1s_err_set(err, EINVAL, "resourceFieldRef %s: bad divisor", res);
    }
    /* kubelet rounds up: ceil(value / divisor) */
    *out = k1s_xasprintf("%lld", (long long)((v + div - 1) / div));
    return 0;
}

static int resource_ref(const k1s_pod_env_t *e, const json_t *ref, char **out, k1s_err_t *err)
{
    return k1s_podspec_resource_value(e->pod, e->container, ref, e->pod_dir, out, err);
}

static const json_t *ref_obj(const k1s_pod_env_t *e, bool secret, const char *name)
{
    const json_t *o = json_object_get(json_object_get(e->refs, secret ? "secrets" : "configmaps"),
                                      name ? name : "");
    return json_is_object(o) ? o : NULL;
}

/* A configMap value as it is, a Secret's decoded (new string, NULL if not valid base64). */
static char *ref_value(const json_t *val, bool secret)
{
    const char *s = json_string_value(val);
    if (!secret)
        return k1s_xstrdup(s ? s : "");
    unsigned char *d = NULL;
    size_t len = 0;
    if (k1s_b64_decode(s ? s : "", &d, &len) < 0)
        return NULL;
    char *out = k1s_xstrndup((char *)d, len);
    free(d);
    return out;
}

/* What Kubernetes accepts as an env name from envFrom (C identifiers plus '-' and '.'). */
static bool valid_env_name(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || *s == '.' || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static int build_env(const k1s_pod_env_t *e, strv_t *env, k1s_err_t *err)
{
    for (size_t i = 0; e->image && e->image->env && e->image->env[i]; i++)
        strv_push(env, k1s_xstrdup(e->image->env[i]));
    const char *hostname = k1s_jpath_str(e->pod, "spec.hostname");
    env_set(env, "HOSTNAME",
            hostname && *hostname ? hostname : k1s_jpath_str(e->pod, "metadata.name"));
    /* The kubernetes Service, as kubelet gives every pod (enableServiceLinks adds the rest). */
    env_set(env, "KUBERNETES_SERVICE_HOST", K1S_KUBELET_API_SERVICE_IP);
    env_set(env, "KUBERNETES_SERVICE_PORT", "443");
    env_set(env, "KUBERNETES_SERVICE_PORT_HTTPS", "443");
    env_set(env, "KUBERNETES_PORT", "tcp://" K1S_KUBELET_API_SERVICE_IP ":443");
    env_set(env, "KUBERNETES_PORT_443_TCP", "tcp://" K1S_KUBELET_API_SERVICE_IP ":443");
    env_set(env, "KUBERNETES_PORT_443_TCP_PROTO", "tcp");
    env_set(env, "KUBERNETES_PORT_443_TCP_PORT", "443");
    env_set(env, "KUBERNETES_PORT_443_TCP_ADDR", K1S_KUBELET_API_SERVICE_IP);
    size_t i;
    const json_t *ev;
    json_array_foreach(json_object_get(e->container, "envFrom"), i, ev)
    {
        const json_t *src = json_object_get(ev, "configMapRef");
        bool secret = !src;
        if (!src)
            src = json_object_get(ev, "secretRef");
        const char *name = k1s_js(src, "name");
        const char *prefix = k1s_js(ev, "prefix");
        const json_t *obj = ref_obj(e, secret, name);
        if (!obj) {
            if (json_is_true(json_object_get(src, "optional")))
                continue;
            return k1s_err_set(err, ENOENT, "%s \"%s\" not found", secret ? "secret" : "configmap",
                               name ? name : "");
        }
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)json_object_get(obj, "data"), key, val)
        {
            char *v = ref_value(val, secret);
            char *full = k1s_xasprintf("%s%s", prefix ? prefix : "", key);
            if (v && valid_env_name(full))
                env_set(env, full, v);
            free(full);
            free(v);
        }
    }
    json_array_foreach(json_object_get(e->container, "env"), i, ev)
    {
        const char *name = k1s_js(ev, "name");
        if (!name)
            continue;
        const json_t *from = json_object_get(ev, "valueFrom");
        if (!from) {
            const char *v = k1s_js(ev, "value");
            char *x = expand(v ? v : "", env->v);
            env_set(env, name, x);
            free(x);
            continue;
        }
        const json_t *fr = json_object_get(from, "fieldRef");
        const json_t *rr = json_object_get(from, "resourceFieldRef");
        if (fr) {
            const char *v = "";
            if (field_ref(e, k1s_js(fr, "fieldPath") ? k1s_js(fr, "fieldPath") : "", &v, err) < 0)
                return k1s_err_prefix(err, "env %s", name);
            env_set(env, name, v);
        } else if (rr) {
            char *v = NULL;
            if (resource_ref(e, rr, &v, err) < 0)
                return k1s_err_prefix(err, "env %s", name);
            env_set(env, name, v);
            free(v);
        } else {
            const json_t *kr = json_object_get(from, "configMapKeyRef");
            bool secret = !kr;
            if (!kr)
                kr = json_object_get(from, "secretKeyRef");
            const char *oname = k1s_js(kr, "name"), *key = k1s_js(kr, "key");
            bool optional = json_is_true(json_object_get(kr, "optional"));
            const json_t *obj = ref_obj(e, secret, oname);
            const json_t *val = json_object_get(json_object_get(obj, "data"), key ? key : "");
            if (!obj && !optional)
                return k1s_err_set(err, ENOENT, "%s \"%s\" not found",
                                   secret ? "secret" : "configmap", oname ? oname : "");
            if (obj && !val && !optional)
                return k1s_err_set(err, ENOENT, "couldn't find key %s in %s %s/%s", key ? key : "",
                                   secret ? "Secret" : "ConfigMap",
                                   k1s_jpath_str(e->pod, "metadata.namespace"), oname);
            if (!val)
                continue;
            char *v = ref_value(val, secret);
            env_set(env, name, v ? v : "");
            free(v);
        }
    }
    return 0;
}

/* ---- args ---- */

static void push_json_strs(strv_t *s, const json_t *arr, char *const *env)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        strv_push(s, expand(json_string_value(v) ? json_string_value(v) : "", env));
    }
}

static void push_strs(strv_t *s, char *const *v)
{
    for (size_t i = 0; v && v[i]; i++)
        strv_push(s, k1s_xstrdup(v[i]));
}

/* Kubernetes' rule: command replaces the Entrypoint (and drops the image's Cmd); args
 * replace the Cmd. */
static void build_args(const k1s_pod_env_t *e, strv_t *args, char *const *env)
{
    const json_t *cmd = json_object_get(e->container, "command");
    const json_t *a = json_object_get(e->container, "args");
    if (json_array_size(cmd))
        push_json_strs(args, cmd, env);
    else if (e->image)
        push_strs(args, e->image->entrypoint);
    if (json_array_size(a))
        push_json_strs(args, a, env);
    else if (!json_array_size(cmd) && e->image)
        push_strs(args, e->image->cmd);
}

/* ---- files ---- */

/* Writes s to path unless it holds s already: every sync of a pod comes here, and three
 * fsyncs per sync made the agent wait on the disk. */
static int write_str(const char *path, const char *s, k1s_err_t *err)
{
    char *cur = NULL;
    size_t len = 0;
    if (k1s_read_file(path, &cur, &len) == 0) {
        bool same = len == strlen(s) && !memcmp(cur, s, len);
        free(cur);
        if (same)
            return 0;
    }
    int r = k1s_write_file_atomic(path, s, strlen(s), 0644);
    if (r < 0)
        return k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
    return 0;
}

static char *host_resolv_search(void)
{
    char *data = NULL;
    if (k1s_read_file("/etc/resolv.conf", &data, NULL) < 0)
        return NULL;
    char *out = NULL;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n"))
        if (!strncmp(line, "search ", 7) || !strncmp(line, "domain ", 7)) {
            free(out);
            out = k1s_xstrdup(line + 7);
        }
    free(data);
    return out;
}

int k1s_podspec_files(const json_t *pod, const char *pod_dir, const char *pod_ip, k1s_err_t *err)
{
    int r = k1s_mkdir_p(pod_dir, 0750);
    if (r < 0)
        return k1s_err_set(err, -r, "mkdir %s: %s", pod_dir, strerror(-r));
    const char *name = k1s_jpath_str(pod, "metadata.name");
    const char *ns = k1s_jpath_str(pod, "metadata.namespace");
    const char *hostname = k1s_jpath_str(pod, "spec.hostname");
    const char *subdomain = k1s_jpath_str(pod, "spec.subdomain");
    if (!hostname || !*hostname)
        hostname = name;
    bool host_net = json_is_true(k1s_jpath(pod, "spec.hostNetwork"));
    char path[4096];
    k1s_buf_t b = {0};

    /* /etc/hosts: kubelet's managed file */
    k1s_buf_puts(&b, "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
                     "::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                     "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n");
    if (pod_ip && *pod_ip && !host_net) {
        if (subdomain && *subdomain)
            k1s_buf_printf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", pod_ip, hostname, subdomain, ns,
                           K1S_KUBELET_CLUSTER_DOMAIN, hostname);
        else
            k1s_buf_printf(&b, "%s\t%s\n", pod_ip, hostname);
    }
    size_t i;
    const json_t *ha;
    json_array_foreach(k1s_jpath(pod, "spec.hostAliases"), i, ha)
    {
        k1s_buf_printf(&b, "\n# Entries added by HostAliases.\n%s\t",
                       k1s_js(ha, "ip") ? k1s_js(ha, "ip") : "");
        size_t j;
        const json_t *h;
        json_array_foreach(json_object_get(ha, "hostnames"), j, h)
        {
            k1s_buf_printf(&b, "%s%s", j ? "\t" : "", json_string_value(h));
        }
        k1s_buf_putc(&b, '\n');
    }
    k1s_buf_putc(&b, 0);
    snprintf(path, sizeof(path), "%s/etc-hosts", pod_dir);
    r = write_str(path, b.data, err);
    k1s_buf_free(&b);
    if (r < 0)
        return r;

    snprintf(path, sizeof(path), "%s/etc-hostname", pod_dir);
    char *hn = k1s_xasprintf("%s\n", hostname);
    r = write_str(path, hn, err);
    free(hn);
    if (r < 0)
        return r;

    /* resolv.conf by dnsPolicy */
    const char *policy = k1s_jpath_str(pod, "spec.dnsPolicy");
    if (!policy)
        policy = "ClusterFirst";
    bool cluster = !strcmp(policy, "ClusterFirstWithHostNet") ||
                   (!strcmp(policy, "ClusterFirst") && !host_net);
    b = (k1s_buf_t){0};
    if (cluster) {
        char *hs = host_resolv_search();
        k1s_buf_printf(&b, "search %s.svc.%s svc.%s %s%s%s\nnameserver %s\noptions ndots:5\n", ns,
                       K1S_KUBELET_CLUSTER_DOMAIN, K1S_KUBELET_CLUSTER_DOMAIN,
                       K1S_KUBELET_CLUSTER_DOMAIN, hs ? " " : "", hs ? hs : "",
                       K1S_KUBELET_CLUSTER_DNS);
        free(hs);
    } else if (!strcmp(policy, "None")) {
        const json_t *dc = k1s_jpath(pod, "spec.dnsConfig");
        const json_t *v;
        if (json_array_size(json_object_get(dc, "searches"))) {
            k1s_buf_puts(&b, "search");
            json_array_foreach(json_object_get(dc, "searches"), i, v)
            {
                k1s_buf_printf(&b, " %s", json_string_value(v));
            }
            k1s_buf_putc(&b, '\n');
        }
        json_array_foreach(json_object_get(dc, "nameservers"), i, v)
        {
            k1s_buf_printf(&b, "nameserver %s\n", json_string_value(v));
        }
    } else { /* Default: the node's */
        char *data = NULL;
        size_t len = 0;
        if (k1s_read_file("/etc/resolv.conf", &data, &len) == 0)
            k1s_buf_append(&b, data, len);
        free(data);
    }
    if (!strcmp(policy, "None") && json_array_size(k1s_jpath(pod, "spec.dnsConfig.options"))) {
        const json_t *o;
        k1s_buf_puts(&b, "options");
        json_array_foreach(k1s_jpath(pod, "spec.dnsConfig.options"), i, o)
        {
            const char *v = k1s_js(o, "value");
            k1s_buf_printf(&b, " %s%s%s", k1s_js(o, "name"), v ? ":" : "", v ? v : "");
        }
        k1s_buf_putc(&b, '\n');
    }
    k1s_buf_putc(&b, 0);
    snprintf(path, sizeof(path), "%s/resolv.conf", pod_dir);
    r = write_str(path, b.data, err);
    k1s_buf_free(&b);
    if (r < 0)
        return r;

    /* emptyDir volumes: a directory, or a tmpfs mounted there for medium Memory (shared by
     * the pod's containers); fsGroup applies when it is made */
    const json_t *vol;
    json_array_foreach(k1s_jpath(pod, "spec.volumes"), i, vol)
    {
        if (!json_object_get(vol, "emptyDir"))
            continue;
        snprintf(path, sizeof(path), "%s/volumes/%s", pod_dir, k1s_js(vol, "name"));
        if ((r = k1s_podspec_empty_dir(pod, vol, path, err)) < 0)
            return k1s_err_prefix(err, "MountVolume.SetUp failed for volume \"%s\"",
                                  k1s_js(vol, "name"));
    }
    return 0;
}

/* Whether path is a mount point (its device differs from its parent's). */
static bool is_mount_point(const char *path)
{
    struct stat st, pst;
    char *parent = k1s_xasprintf("%s/..", path);
    bool r = stat(path, &st) == 0 && stat(parent, &pst) == 0 && st.st_dev != pst.st_dev;
    free(parent);
    return r;
}

/* The pod's memory limit as its cgroup gets it (kubelet's ResourceConfigForPod): the sum of
 * the app containers' limits, or an init container's if larger; -1 when a container has
 * none (the pod is not limited). */
static int64_t pod_memory_limit(const json_t *pod)
{
    int64_t sum = 0, init_max = 0;
    static const char *const lists[] = {"spec.containers", "spec.initContainers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        const json_t *c;
        json_array_foreach(k1s_jpath(pod, lists[l]), i, c)
        {
            int64_t v = resource_value(c, "limits", "memory");
            if (v <= 0)
                return -1;
            if (l == 0)
                sum += v;
            else if (v > init_max)
                init_max = v;
        }
    }
    return sum > init_max ? sum : init_max;
}

int64_t k1s_podspec_memory_volume_size(const json_t *pod, const json_t *vol, const char *dir)
{
    /* kubelet's calculateEmptyDirMemorySize: the smallest of the node's allocatable memory,
     * the pod's memory limit and the volume's sizeLimit */
    int64_t alloc = node_allocatable_milli(dir, "memory");
    int64_t size = alloc > 0 ? alloc / 1000 : -1;
    int64_t pod_limit = pod_memory_limit(pod);
    if (pod_limit > 0 && (size < 0 || pod_limit <= size))
        size = pod_limit;
    const json_t *limit = k1s_jpath(vol, "emptyDir.sizeLimit");
    k1s_quantity_t q;
    const char *why = NULL;
    if (limit && k1s_quantity_from_json(limit, &q, &why) == 0 && k1s_quantity_value(&q) > 0 &&
        (size < 0 || k1s_quantity_value(&q) <= size))
        size = k1s_quantity_value(&q);
    return size;
}

int k1s_podspec_empty_dir(const json_t *pod, const json_t *vol, const char *path, k1s_err_t *err)
{
    const json_t *ed = json_object_get(vol, "emptyDir");
    bool memory = k1s_streq(k1s_js(ed, "medium"), "Memory");
    struct stat st;
    bool fresh = stat(path, &st) < 0;
    int r;
    if (fresh && (r = k1s_mkdir_p(path, 0777)) < 0)
        return k1s_err_set(err, -r, "mkdir %s: %s", path, strerror(-r));
    if (memory && !is_mount_point(path)) {
        char opts[64] = "mode=0777";
        int64_t size = k1s_podspec_memory_volume_size(pod, vol, path);
        if (size > 0)
            snprintf(opts, sizeof(opts), "mode=0777,size=%lld", (long long)size);
        if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
            return k1s_err_set(err, errno, "mount tmpfs on %s (%s): %s", path, opts,
                               strerror(errno));
        fresh = true;
    }
    if (!fresh)
        return 0;
    chmod(path, 0777);
    return k1s_vols_set_ownership(pod, path, k1s_vols_fs_group(pod), false, err);
}

void k1s_podspec_unmount_volumes(const char *pod_dir)
{
    char *prefix = k1s_xasprintf("%s/volume", pod_dir),
         *mounts = NULL; /* volumes/, volume-subpaths/ */
    size_t plen = strlen(prefix);
    if (k1s_read_file("/proc/self/mounts", &mounts, NULL) == 0) {
        char *save = NULL;
        for (char *line = strtok_r(mounts, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char dev[256], dir[4096];
            if (sscanf(line, "%255s %4095s", dev, dir) == 2 && !strncmp(dir, prefix, plen) &&
                umount2(dir, MNT_DETACH) < 0)
                k1s_debug("kubelet: umount %s: %s", dir, strerror(errno));
        }
    }
    free(mounts);
    free(prefix);
}

/* ---- mounts ---- */

static void add_mount(k1s_ctr_build_t *b, size_t *cap, const char *dst, const char *type,
                      const char *src, bool ro, const char *options)
{
    if (b->n_mounts == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        b->mounts = k1s_xrealloc(b->mounts, *cap * sizeof(*b->mounts));
    }
    char *d = k1s_xstrdup(dst), *s = src ? k1s_xstrdup(src) : NULL;
    keep_str(b, d);
    if (s)
        keep_str(b, s);
    b->mounts[b->n_mounts++] = (k1s_rt_mount_t){
        .destination = d, .type = type, .source = s, .readonly = ro, .options = options};
}

static const json_t *find_volume(const json_t *pod, const char *name)
{
    size_t i;
    const json_t *v;
    json_array_foreach(k1s_jpath(pod, "spec.volumes"), i, v)
    {
        if (k1s_streq(k1s_js(v, "name"), name))
            return v;
    }
    return NULL;
}

static int build_mounts(const k1s_pod_env_t *e, k1s_ctr_build_t *b, k1s_err_t *err)
{
    size_t cap = 0;
    char path[4096];
    bool host_net = json_is_true(k1s_jpath(e->pod, "spec.hostNetwork"));
    size_t i;
    const json_t *vm;
    bool have_hosts = false;
    json_array_foreach(json_object_get(e->container, "volumeMounts"), i, vm)
    {
        const char *name = k1s_js(vm, "name"), *dst = k1s_js(vm, "mountPath");
        const char *sub = k1s_js(vm, "subPath");
        bool ro = json_is_true(json_object_get(vm, "readOnly"));
        const json_t *vol = find_volume(e->pod, name ? name : "");
        if (!vol || !dst)
            return k1s_err_set(err, EINVAL, "volumeMount %s: no such volume in the pod",
                               name ? name : "");
        if (!strcmp(dst, "/etc/hosts"))
            have_hosts = true;
        const json_t *ed = json_object_get(vol, "emptyDir");
        const json_t *hp = json_object_get(vol, "hostPath");
        const char *sub_expr = k1s_js(vm, "subPathExpr");
        char *expanded = NULL;
        if (sub_expr && *sub_expr) {
            if (sub && *sub)
                return k1s_err_set(err, EINVAL,
                                   "volumeMount %s: subPath and subPathExpr are mutually "
                                   "exclusive",
                                   name);
            /* kubelet expands $(VAR) from the container's environment */
            expanded = expand(sub_expr, b->env);
            keep_str(b, expanded);
            sub = expanded;
        }
        if (ed) {
            snprintf(path, sizeof(path), "%s/volumes/%s", e->pod_dir, name);
        } else if (json_object_get(vol, "persistentVolumeClaim") ||
                   json_object_get(vol, "ephemeral")) {
            /* a symlink to the volume's path, made by volumes.c */
            snprintf(path, sizeof(path), "%s/volumes/%s", e->pod_dir, name);
            if (json_is_true(k1s_jpath(vol, "persistentVolumeClaim.readOnly")))
                ro = true;
        } else if (json_object_get(vol, "configMap") || json_object_get(vol, "secret") ||
                   json_object_get(vol, "projected") || json_object_get(vol, "downwardAPI")) {
            /* written by volumes.c; always read-only, as in Kubernetes */
            snprintf(path, sizeof(path), "%s/volumes/%s", e->pod_dir, name);
            ro = true;
        } else if (hp) {
            /* checked (and created) when the pod's volumes were set up; again here, in case
             * the path changed since */
            if (k1s_vols_hostpath_check(vol, err) < 0)
                return k1s_err_prefix(err, "volume %s", name);
            snprintf(path, sizeof(path), "%s", k1s_js(hp, "path"));
        } else {
            return k1s_err_set(
                err, ENOTSUP,
                "volume %s: only emptyDir, hostPath, configMap, secret, downwardAPI, "
                "projected, persistentVolumeClaim and ephemeral volumes are supported by "
                "this agent yet",
                name);
        }
        if (sub && *sub) {
            if (strstr(sub, "..") || sub[0] == '/')
                return k1s_err_set(err, EINVAL,
                                   "volumeMount %s: subPath %s must be relative "
                                   "and must not contain '..'",
                                   name, sub);
            /* opened beneath the volume (no symlink out of it), missing directories made
             * with the root's mode and group, and bind-mounted where runc finds it */
            char target[4096];
            snprintf(target, sizeof(target), "%s/volume-subpaths/%s/%s/%zu", e->pod_dir, name,
                     k1s_js(e->container, "name"), i);
            if (k1s_subpath_prepare(path, sub, target, err) < 0)
                return k1s_err_prefix(err, "volumeMount %s", name);
            snprintf(path, sizeof(path), "%s", target);
        }
        add_mount(b, &cap, dst, "bind", path, ro, NULL);
    }
    if (!have_hosts && !host_net) {
        snprintf(path, sizeof(path), "%s/etc-hosts", e->pod_dir);
        add_mount(b, &cap, "/etc/hosts", "bind", path, false, NULL);
    }
    if (!host_net) {
        snprintf(path, sizeof(path), "%s/etc-hostname", e->pod_dir);
        add_mount(b, &cap, "/etc/hostname", "bind", path, false, NULL);
    }
    snprintf(path, sizeof(path), "%s/resolv.conf", e->pod_dir);
    add_mount(b, &cap, "/etc/resolv.conf", "bind", path, false, NULL);
    /* terminationMessagePath: a file per container in the pod dir */
    const char *tmp = k1s_js(e->container, "terminationMessagePath");
    if (!tmp)
        tmp = "/dev/termination-log";
    snprintf(path, sizeof(path), "%s/termination-%s", e->pod_dir, k1s_js(e->container, "name"));
    k1s_write_file_atomic(path, "", 0, 0666);
    add_mount(b, &cap, tmp, "bind", path, false, NULL);
    b->cfg.mounts = b->mounts;
    b->cfg.n_mounts = b->n_mounts;
    return 0;
}

/* ---- security ---- */

static int64_t sc_int(const json_t *ctr_sc, const json_t *pod_sc, const char *key)
{
    const json_t *v = json_object_get(ctr_sc, key);
    if (!json_is_integer(v))
        v = json_object_get(pod_sc, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static bool gid_listed(const k1s_ctr_build_t *b, uint32_t gid)
{
    for (size_t k = 0; k < b->n_gids; k++)
        if (b->gids[k] == gid)
            return true;
    return false;
}

static int build_security(const k1s_pod_env_t *e, k1s_ctr_build_t *b, k1s_err_t *err)
{
    const json_t *sc = json_object_get(e->container, "securityContext");
    const json_t *psc = k1s_jpath(e->pod, "spec.securityContext");
    int64_t uid = sc_int(sc, psc, "runAsUser"), gid = sc_int(sc, psc, "runAsGroup");
    /* kubelet takes the image's user without its group part (CRI's getUserFromImage) */
    char user[256] = "0";
    const char *iu = e->image ? e->image->user : NULL;
    if (uid >= 0)
        snprintf(user, sizeof(user), "%lld", (long long)uid);
    else if (iu && *iu)
        snprintf(user, sizeof(user), "%.*s", (int)strcspn(iu, ":"), iu);
    bool numeric = user[0] >= '0' && user[0] <= '9' && strspn(user, "0123456789") == strlen(user);
    const json_t *nonroot = json_object_get(sc, "runAsNonRoot");
    if (!nonroot)
        nonroot = json_object_get(psc, "runAsNonRoot");
    if (json_is_true(nonroot)) {
        const char *pod = k1s_jpath_str(e->pod, "metadata.name"),
                   *ctr = k1s_js(e->container, "name");
        if (uid == 0)
            return k1s_err_set(err, EPERM,
                               "container's runAsUser breaks non-root policy (pod: \"%s\", "
                               "container: %s)",
                               pod, ctr);
        if (!numeric)
            return k1s_err_set(err, EPERM,
                               "container has runAsNonRoot and image has non-numeric user (%s), "
                               "cannot verify user is non-root (pod: \"%s\", container: %s)",
                               user, pod, ctr);
        if (strtoull(user, NULL, 10) == 0)
            return k1s_err_set(err, EPERM,
                               "container has runAsNonRoot and image will run as root (pod: "
                               "\"%s\", container: %s)",
                               pod, ctr);
    }
    k1s_ctr_user_t cu;
    int r = k1s_podspec_user(e->rootfs, user, gid, &cu, err);
    if (r < 0)
        return r;
    b->cfg.uid = cu.uid;
    b->cfg.gid = cu.gid;
    /* additional groups as containerd sets them: the primary group and the image's
     * memberships, then what kubelet hands over (fsGroup, supplementalGroups) */
    int64_t fs_group = k1s_vols_fs_group(e->pod);
    const json_t *supp = json_object_get(psc, "supplementalGroups");
    size_t i;
    b->gids = k1s_xcalloc(cu.n_gids + json_array_size(supp) + 1, sizeof(uint32_t));
    for (size_t k = 0; k < cu.n_gids; k++)
        b->gids[b->n_gids++] = cu.gids[k];
    free(cu.gids);
    if (fs_group >= 0 && !gid_listed(b, (uint32_t)fs_group))
        b->gids[b->n_gids++] = (uint32_t)fs_group;
    const json_t *g;
    json_array_foreach(supp, i, g)
    {
        if (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) > UINT32_MAX)
            return k1s_err_set(err, EINVAL, "supplementalGroups: %s is not a group id",
                               json_is_integer(g) ? "a negative number" : "a non-integer");
        if (!gid_listed(b, (uint32_t)json_integer_value(g)))
            b->gids[b->n_gids++] = (uint32_t)json_integer_value(g);
    }
    b->cfg.additional_gids = b->gids;
    b->cfg.n_additional_gids = b->n_gids;
    b->cfg.privileged = json_is_true(json_object_get(sc, "privileged"));
    b->cfg.rootfs_readonly = json_is_true(json_object_get(sc, "readOnlyRootFilesystem"));
    const json_t *ape = json_object_get(sc, "allowPrivilegeEscalation");
    b->cfg.no_new_privileges = json_is_false(ape);
    strv_t add = {0}, drop = {0};
    push_json_strs(&add, k1s_jpath(sc, "capabilities.add"), NULL);
    push_json_strs(&drop, k1s_jpath(sc, "capabilities.drop"), NULL);
    b->cap_add = add.v;
    b->cap_drop = drop.v;
    b->cfg.cap_add = b->cap_add;
    b->cfg.cap_drop = b->cap_drop;
    const char *sp = k1s_jpath_str(sc, "seccompProfile.type");
    if (!sp)
        sp = k1s_jpath_str(psc, "seccompProfile.type");
    if (sp && strcmp(sp, "RuntimeDefault") && strcmp(sp, "Unconfined")) {
        /* never run unconfined when a profile was asked for */
        const char *lp = k1s_jpath_str(sc, "seccompProfile.localhostProfile");
        if (!lp)
            lp = k1s_jpath_str(psc, "seccompProfile.localhostProfile");
        return k1s_err_set(err, ENOTSUP,
                           "seccompProfile type %s%s%s%s is not supported by this agent yet: use "
                           "RuntimeDefault (containerd's default profile) or Unconfined",
                           sp, lp ? " (\"" : "", lp ? lp : "", lp ? "\")" : "");
    }
    b->cfg.seccomp = k1s_streq(sp, "RuntimeDefault") ? K1S_RT_SECCOMP_RUNTIME_DEFAULT
                                                     : K1S_RT_SECCOMP_UNCONFINED;
    strv_t sys = {0};
    const json_t *s;
    json_array_foreach(json_object_get(psc, "sysctls"), i, s)
    {
        strv_push(&sys, k1s_xasprintf("%s=%s", k1s_js(s, "name"), k1s_js(s, "value")));
    }
    b->sysctls = sys.v;
    b->cfg.sysctls = b->sysctls;
    return 0;
}

int k1s_podspec_container(const k1s_pod_env_t *e, k1s_ctr_build_t *b, k1s_err_t *err)
{
    memset(b, 0, sizeof(*b));
    strv_t env = {0}, args = {0};
    int r = build_env(e, &env, err);
    b->env = env.v;
    if (r < 0)
        return r;
    build_args(e, &args, env.v);
    b->args = args.v;
    if (!args.n)
        return k1s_err_set(err, EINVAL, "no command specified");
    b->cfg.args = b->args;
    b->cfg.env = b->env;
    const char *wd = k1s_js(e->container, "workingDir");
    if (!wd || !*wd)
        wd = e->image && e->image->working_dir && *e->image->working_dir ? e->image->working_dir
                                                                         : NULL;
    b->cwd = wd ? k1s_xstrdup(wd) : NULL;
    b->cfg.cwd = b->cwd;
    bool host_net = json_is_true(k1s_jpath(e->pod, "spec.hostNetwork"));
    const char *hostname = k1s_jpath_str(e->pod, "spec.hostname");
    if (!host_net)
        b->hostname =
            k1s_xstrdup(hostname && *hostname ? hostname : k1s_jpath_str(e->pod, "metadata.name"));
    b->cfg.hostname = b->hostname;
    b->cfg.terminal = json_is_true(json_object_get(e->container, "tty"));
    b->rootfs = k1s_xstrdup(e->rootfs);
    b->cfg.rootfs = b->rootfs;
    b->cfg.netns_path = host_net ? NULL : e->netns;
    b->cfg.host_network = host_net;
    b->cfg.host_pid = json_is_true(k1s_jpath(e->pod, "spec.hostPID"));
    b->cfg.host_ipc = json_is_true(k1s_jpath(e->pod, "spec.hostIPC"));
    b->cgroups_path = e->cgroup ? k1s_xstrdup(e->cgroup) : NULL;
    b->cfg.cgroups_path = b->cgroups_path;
    b->cfg.cpu_request_milli = resource_milli(e->container, "requests", "cpu");
    if (b->cfg.cpu_request_milli < 0)
        b->cfg.cpu_request_milli = resource_milli(e->container, "limits", "cpu");
    b->cfg.cpu_limit_milli = resource_milli(e->container, "limits", "cpu");
    b->cfg.memory_limit_bytes = resource_value(e->container, "limits", "memory");
    if ((r = build_security(e, b, err)) < 0)
        return r;
    return build_mounts(e, b, err);
}

char *k1s_podspec_termination_message(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = k1s_xmalloc(K1S_KUBELET_MAX_TERMINATION_MESSAGE + 1);
    size_t n = fread(buf, 1, K1S_KUBELET_MAX_TERMINATION_MESSAGE, f);
    fclose(f);
    buf[n] = 0;
    if (n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
