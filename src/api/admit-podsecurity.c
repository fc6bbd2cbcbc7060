/*
 * The PodSecurity admission plugin (staging/src/k8s.io/pod-security-admission):
 * the Pod Security Standards' baseline and restricted checks, applied per
 * namespace by its labels pod-security.kubernetes.io/{enforce,warn,audit}
 * (and -version). enforce refuses pods (`violates PodSecurity
 * "restricted:latest": privileged (container "c" must not set ...), ...`),
 * warn adds Warning headers, audit records an audit annotation. Pod
 * templates of workloads are checked for warn and audit only. Setting or
 * tightening a namespace's enforce label warns about the existing pods that
 * would be refused.
 *
 * Every version label is evaluated with the latest checks; the version is
 * only echoed in messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "lib/buf.h"

enum { LVL_PRIVILEGED = 0, LVL_BASELINE = 1, LVL_RESTRICTED = 2, LVL_INVALID = -1 };

static int parse_level(const char *s)
{
    if (!s)
        return LVL_PRIVILEGED;
    if (!strcmp(s, "privileged"))
        return LVL_PRIVILEGED;
    if (!strcmp(s, "baseline"))
        return LVL_BASELINE;
    if (!strcmp(s, "restricted"))
        return LVL_RESTRICTED;
    return LVL_INVALID;
}

static const char *level_name(int l)
{
    return l == LVL_RESTRICTED ? "restricted" : l == LVL_BASELINE ? "baseline" : "privileged";
}

/* ---------- container names and Go-style lists ---------- */

typedef struct names {
    const char *v[64];
    size_t n;
} names_t;

static void names_add(names_t *n, const char *s)
{
    if (n->n < 64)
        n->v[n->n++] = s ? s : "";
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted set of strings (copies). */
typedef struct sset {
    char *v[64];
    size_t n;
} sset_t;

static void sset_add(sset_t *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], x))
            return;
    if (s->n < 64)
        s->v[s->n++] = k1s_xstrdup(x);
    qsort(s->v, s->n, sizeof(char *), cmp_cstr);
}

static void sset_free(sset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

static void join_quote(k1s_buf_t *b, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        k1s_buf_printf(b, "%s\"%s\"", i ? ", " : "", v[i]);
}

static const char *plural(const char *one, const char *many, size_t n)
{
    return n == 1 ? one : many;
}

/* "containers \"a\", \"b\"" */
static void who(k1s_buf_t *b, const names_t *n)
{
    k1s_buf_printf(b, "%s ", plural("container", "containers", n->n));
    join_quote(b, n->v, n->n);
}

/* ---------- the checks ---------- */

typedef struct result {
    k1s_buf_t text;    /* "reason (detail), reason (detail)" */
    k1s_buf_t reasons; /* "reason, reason" (for existing-pod warnings) */
    int n;
} result_t;

static void forbid(result_t *r, const char *reason, const char *detail)
{
    if (r->n++) {
        k1s_buf_puts(&r->text, ", ");
        k1s_buf_puts(&r->reasons, ", ");
    }
    k1s_buf_printf(&r->text, "%s (%s)", reason, detail);
    k1s_buf_puts(&r->reasons, reason);
}

static const json_t *jo(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_object(v) ? v : NULL;
}

static const char *js(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

typedef struct podv {
    const json_t *spec, *psc, *meta;
    const json_t *cs[128]; /* containers, init containers, ephemeral containers */
    size_t n;
} podv_t;

static void podv_init(podv_t *p, const json_t *meta, const json_t *spec)
{
    memset(p, 0, sizeof(*p));
    p->meta = meta;
    p->spec = spec;
    p->psc = jo(spec, "securityContext");
    static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
    for (int li = 0; li < 3; li++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[li]), i, c)
        {
            if (p->n < 128)
                p->cs[p->n++] = c;
        }
    }
}

static const json_t *csc(const json_t *c)
{
    return jo(c, "securityContext");
}

static const char *cname(const json_t *c)
{
    return js(c, "name");
}

static void check_apparmor(const podv_t *p, result_t *r)
{
    sset_t bad = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)jo(p->meta, "annotations"), k, v)
    {
        if (!k1s_str_has_prefix(k, "container.apparmor.security.beta.kubernetes.io/"))
            continue;
        const char *s = json_string_value(v);
        if (s && strcmp(s, "runtime/default") && !k1s_str_has_prefix(s, "localhost/")) {
            char *e = k1s_xasprintf("%s=\"%s\"", k, s);
            sset_add(&bad, e);
            free(e);
        }
    }
    const char *t = js(jo(p->psc, "appArmorProfile"), "type");
    if (t && !strcmp(t, "Unconfined"))
        sset_add(&bad, "pod");
    for (size_t i = 0; i < p->n; i++) {
        t = js(jo(csc(p->cs[i]), "appArmorProfile"), "type");
        if (t && !strcmp(t, "Unconfined")) {
            char *e = k1s_xasprintf("container \"%s\"", cname(p->cs[i]));
            sset_add(&bad, e);
            free(e);
        }
    }
    if (bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        for (size_t i = 0; i < bad.n; i++)
            k1s_buf_printf(&d, "%s%s", i ? ", " : "", bad.v[i]);
        forbid(r, plural("forbidden AppArmor profile", "forbidden AppArmor profiles", bad.n),
               d.data);
        k1s_buf_free(&d);
    }
    sset_free(&bad);
}

static const char *const BASELINE_CAPS[] = {
    "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",      "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT"};

static void check_caps_baseline(const podv_t *p, result_t *r)
{
    names_t bad = {0};
    sset_t caps = {0};
    for (size_t i = 0; i < p->n; i++) {
        bool b = false;
        size_t j;
        json_t *c;
        json_array_foreach(json_object_get(jo(csc(p->cs[i]), "capabilities"), "add"), j, c)
        {
            const char *s = json_string_value(c);
            bool ok = false;
            for (size_t k = 0; s && k < K1S_ARRAY_SIZE(BASELINE_CAPS); k++)
                if (!strcmp(s, BASELINE_CAPS[k]))
                    ok = true;
            if (!ok) {
                b = true;
                sset_add(&caps, s ? s : "");
            }
        }
        if (b)
            names_add(&bad, cname(p->cs[i]));
    }
    if (bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        who(&d, &bad);
        k1s_buf_puts(&d, " must not include ");
        join_quote(&d, (const char *const *)caps.v, caps.n);
        k1s_buf_puts(&d, " in securityContext.capabilities.add");
        forbid(r, "non-default capabilities", d.data);
        k1s_buf_free(&d);
    }
    sset_free(&caps);
}

static void check_host_namespaces(const podv_t *p, result_t *r)
{
    k1s_buf_t d = K1S_BUF_INIT;
    static const char *const f[] = {"hostNetwork", "hostPID", "hostIPC"};
    for (int i = 0; i < 3; i++)
        if (json_is_true(json_object_get(p->spec, f[i])))
            k1s_buf_printf(&d, "%s%s=true", d.len ? ", " : "", f[i]);
    if (d.len)
        forbid(r, "host namespaces", d.data);
    k1s_buf_free(&d);
}

static void check_host_path(const podv_t *p, result_t *r)
{
    names_t bad = {0};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p->spec, "volumes"), i, v)
    {
        if (json_object_get(v, "hostPath"))
            names_add(&bad, js(v, "name"));
    }
    if (bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        k1s_buf_printf(&d, "%s ", plural("volume", "volumes", bad.n));
        join_quote(&d, bad.v, bad.n);
        forbid(r, "hostPath volumes", d.data);
        k1s_buf_free(&d);
    }
}

static void check_host_ports(const podv_t *p, result_t *r)
{
    names_t bad = {0};
    sset_t ports = {0};
    for (size_t i = 0; i < p->n; i++) {
        bool b = false;
        size_t j;
        json_t *port;
        json_array_foreach(json_object_get(p->cs[i], "ports"), j, port)
        {
            json_int_t hp = json_integer_value(json_object_get(port, "hostPort"));
            if (hp) {
                char s[16];
                snprintf(s, sizeof(s), "%lld", (long long)hp);
                sset_add(&ports, s);
                b = true;
            }
        }
        if (b)
            names_add(&bad, cname(p->cs[i]));
    }
    if (bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        who(&d, &bad);
        k1s_buf_printf(&d, " %s %s ", plural("uses", "use", bad.n),
                       plural("hostPort", "hostPorts", ports.n));
        for (size_t i = 0; i < ports.n; i++)
            k1s_buf_printf(&d, "%s%s", i ? ", " : "", ports.v[i]);
        forbid(r, "hostPort", d.data);
        k1s_buf_free(&d);
    }
    sset_free(&ports);
}

static void check_privileged(const podv_t *p, result_t *r)
{
    names_t bad = {0};
    for (size_t i = 0; i < p->n; i++)
        if (json_is_true(json_object_get(csc(p->cs[i]), "privileged")))
            names_add(&bad, cname(p->cs[i]));
    if (bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        who(&d, &bad);
        k1s_buf_puts(&d, " must not set securityContext.privileged=true");
        forbid(r, "privileged", d.data);
        k1s_buf_free(&d);
    }
}

static void check_proc_mount(const podv_t *p, result_t *r)
{
    names_t bad = {0};
    sset_t types = {0};
    for (size_t i = 0; i < p->n; i++) {
        const char *pm = js(csc(p->cs[i]), "procMount");
        if (pm && strcmp(pm, "Default")) {
            names_add(&bad, cname(p->cs[i]));
            sset_add(&types, pm);
        }
    }
    if (bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        who(&d, &bad);
        k1s_buf_puts(&d, " must not set securityContext.procMount to ");
        join_quote(&d, (const char *const *)types.v, types.n);
        forbid(r, "procMount", d.data);
        k1s_buf_free(&d);
    }
    sset_free(&types);
}

static bool selinux_ok(const json_t *o, sset_t *types, bool *user, bool *role)
{
    if (!o)
        return true;
    static const char *const allowed[] = {"", "container_t", "container_init_t", "container_kvm_t",
                                          "container_engine_t"};
    bool ok = true;
    const char *t = js(o, "type");
    bool known = false;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(allowed); i++)
        if (!strcmp(t ? t : "", allowed[i]))
            known = true;
    if (!known) {
        ok = false;
        sset_add(types, t);
    }
    if (js(o, "user") && *js(o, "user")) {
        ok = false;
        *user = true;
    }
    if (js(o, "role") && *js(o, "role")) {
        ok = false;
        *role = true;
    }
    return ok;
}

/* "pod and containers \"a\"" style list of who set something; returns the count */
static void setters(k1s_buf_t *b, bool pod, const names_t *cs)
{
    if (pod)
        k1s_buf_puts(b, "pod");
    if (cs->n) {
        if (pod)
            k1s_buf_puts(b, " and ");
        who(b, cs);
    }
}

static void check_selinux(const podv_t *p, result_t *r)
{
    sset_t types = {0};
    bool user = false, role = false;
    bool pod = !selinux_ok(jo(p->psc, "seLinuxOptions"), &types, &user, &role);
    names_t bad = {0};
    for (size_t i = 0; i < p->n; i++)
        if (!selinux_ok(jo(csc(p->cs[i]), "seLinuxOptions"), &types, &user, &role))
            names_add(&bad, cname(p->cs[i]));
    if (pod || bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        setters(&d, pod, &bad);
        k1s_buf_puts(&d, " set forbidden securityContext.seLinuxOptions: ");
        bool any = false;
        if (types.n) {
            k1s_buf_printf(&d, "%s ", plural("type", "types", types.n));
            join_quote(&d, (const char *const *)types.v, types.n);
            any = true;
        }
        if (user) {
            k1s_buf_printf(&d, "%suser may not be set", any ? "; " : "");
            any = true;
        }
        if (role)
            k1s_buf_printf(&d, "%srole may not be set", any ? "; " : "");
        forbid(r, "seLinuxOptions", d.data);
        k1s_buf_free(&d);
    }
    sset_free(&types);
}

static void check_seccomp_baseline(const podv_t *p, result_t *r)
{
    const char *t = js(jo(p->psc, "seccompProfile"), "type");
    bool pod = t && !strcmp(t, "Unconfined");
    names_t bad = {0};
    for (size_t i = 0; i < p->n; i++) {
        t = js(jo(csc(p->cs[i]), "seccompProfile"), "type");
        if (t && !strcmp(t, "Unconfined"))
            names_add(&bad, cname(p->cs[i]));
    }
    if (pod || bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        setters(&d, pod, &bad);
        k1s_buf_puts(&d, " must not set securityContext.seccompProfile.type to \"Unconfined\"");
        forbid(r, "seccompProfile", d.data);
        k1s_buf_free(&d);
    }
}

static void check_sysctls(const podv_t *p, result_t *r)
{
    static const char *const allowed[] = {"kernel.shm_rmid_forced",
                                          "net.ipv4.ip_local_port_range",
                                          "net.ipv4.ip_unprivileged_port_start",
                                          "net.ipv4.tcp_syncookies",
                                          "net.ipv4.ping_group_range",
                                          "net.ipv4.ip_local_reserved_ports",
                                          "net.ipv4.tcp_keepalive_time",
                                          "net.ipv4.tcp_fin_timeout",
                                          "net.ipv4.tcp_keepalive_intvl",
                                          "net.ipv4.tcp_keepalive_probes"};
    k1s_buf_t d = K1S_BUF_INIT;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(p->psc, "sysctls"), i, s)
    {
        const char *n = js(s, "name");
        bool ok = false;
        for (size_t k = 0; n && k < K1S_ARRAY_SIZE(allowed); k++)
            if (!strcmp(n, allowed[k]))
                ok = true;
        if (!ok)
            k1s_buf_printf(&d, "%s%s", d.len ? ", " : "", n ? n : "");
    }
    if (d.len)
        forbid(r, "forbidden sysctls", d.data);
    k1s_buf_free(&d);
}

static void check_host_process(const podv_t *p, result_t *r)
{
    bool pod = json_is_true(json_object_get(jo(p->psc, "windowsOptions"), "hostProcess"));
    names_t bad = {0};
    for (size_t i = 0; i < p->n; i++)
        if (json_is_true(json_object_get(jo(csc(p->cs[i]), "windowsOptions"), "hostProcess")))
            names_add(&bad, cname(p->cs[i]));
    if (pod || bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        setters(&d, pod, &bad);
        k1s_buf_puts(&d, " must not set securityContext.windowsOptions.hostProcess=true");
        forbid(r, "hostProcess", d.data);
        k1s_buf_free(&d);
    }
}

/* --- restricted --- */

static void check_ape(const podv_t *p, result_t *r)
{
    names_t bad = {0};
    for (size_t i = 0; i < p->n; i++) {
        const json_t *v = json_object_get(csc(p->cs[i]), "allowPrivilegeEscalation");
        if (!json_is_false(v))
            names_add(&bad, cname(p->cs[i]));
    }
    if (bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        who(&d, &bad);
        k1s_buf_puts(&d, " must set securityContext.allowPrivilegeEscalation=false");
        forbid(r, "allowPrivilegeEscalation != false", d.data);
        k1s_buf_free(&d);
    }
}

static void check_caps_restricted(const podv_t *p, result_t *r)
{
    names_t nodrop = {0}, adding = {0};
    sset_t caps = {0};
    for (size_t i = 0; i < p->n; i++) {
        const json_t *cap = jo(csc(p->cs[i]), "capabilities");
        if (!cap) {
            names_add(&nodrop, cname(p->cs[i]));
            continue;
        }
        bool all = false, bad = false;
        size_t j;
        json_t *c;
        json_array_foreach(json_object_get(cap, "drop"), j, c)
        {
            if (json_string_value(c) && !strcmp(json_string_value(c), "ALL"))
                all = true;
        }
        if (!all)
            names_add(&nodrop, cname(p->cs[i]));
        json_array_foreach(json_object_get(cap, "add"), j, c)
        {
            const char *s = json_string_value(c);
            if (!s || strcmp(s, "NET_BIND_SERVICE")) {
                bad = true;
                sset_add(&caps, s ? s : "");
            }
        }
        if (bad)
            names_add(&adding, cname(p->cs[i]));
    }
    if (nodrop.n || adding.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        if (nodrop.n) {
            who(&d, &nodrop);
            k1s_buf_puts(&d, " must set securityContext.capabilities.drop=[\"ALL\"]");
        }
        if (adding.n) {
            if (nodrop.n)
                k1s_buf_puts(&d, "; ");
            who(&d, &adding);
            k1s_buf_puts(&d, " must not include ");
            join_quote(&d, (const char *const *)caps.v, caps.n);
            k1s_buf_puts(&d, " in securityContext.capabilities.add");
        }
        forbid(r, "unrestricted capabilities", d.data);
        k1s_buf_free(&d);
    }
    sset_free(&caps);
}

static void check_volumes_restricted(const podv_t *p, result_t *r)
{
    static const char *const allowed[] = {"configMap", "csi",       "downwardAPI",
                                          "emptyDir",  "ephemeral", "persistentVolumeClaim",
                                          "projected", "secret"};
    names_t bad = {0};
    sset_t types = {0};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p->spec, "volumes"), i, v)
    {
        const char *k;
        json_t *x;
        const char *type = NULL;
        json_object_foreach(v, k, x)
        {
            if (strcmp(k, "name"))
                type = k;
        }
        bool ok = false;
        for (size_t a = 0; type && a < K1S_ARRAY_SIZE(allowed); a++)
            if (!strcmp(type, allowed[a]))
                ok = true;
        if (!type)
            ok = true; /* defaulted to emptyDir */
        if (!ok) {
            names_add(&bad, js(v, "name"));
            sset_add(&types, type);
        }
    }
    if (bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        k1s_buf_printf(&d, "%s ", plural("volume", "volumes", bad.n));
        join_quote(&d, bad.v, bad.n);
        k1s_buf_printf(&d, " %s %s ", plural("uses", "use", bad.n),
                       plural("restricted volume type", "restricted volume types", types.n));
        join_quote(&d, (const char *const *)types.v, types.n);
        forbid(r, "restricted volume types", d.data);
        k1s_buf_free(&d);
    }
    sset_free(&types);
}

static void check_run_as_non_root(const podv_t *p, result_t *r)
{
    const json_t *pv = json_object_get(p->psc, "runAsNonRoot");
    bool pod_bad = json_is_false(pv), pod_ok = json_is_true(pv);
    names_t explicit_bad = {0}, implicit_bad = {0};
    for (size_t i = 0; i < p->n; i++) {
        const json_t *v = json_object_get(csc(p->cs[i]), "runAsNonRoot");
        if (json_is_boolean(v)) {
            if (json_is_false(v))
                names_add(&explicit_bad, cname(p->cs[i]));
        } else if (!pod_ok) {
            names_add(&implicit_bad, cname(p->cs[i]));
        }
    }
    k1s_buf_t d = K1S_BUF_INIT;
    if (pod_bad || explicit_bad.n) {
        setters(&d, pod_bad, &explicit_bad);
        k1s_buf_puts(&d, " must not set securityContext.runAsNonRoot=false");
        forbid(r, "runAsNonRoot != true", d.data);
    } else if (implicit_bad.n) {
        k1s_buf_puts(&d, "pod or ");
        who(&d, &implicit_bad);
        k1s_buf_puts(&d, " must set securityContext.runAsNonRoot=true");
        forbid(r, "runAsNonRoot != true", d.data);
    }
    k1s_buf_free(&d);
}

static void check_run_as_user(const podv_t *p, result_t *r)
{
    const json_t *pv = json_object_get(p->psc, "runAsUser");
    bool pod = json_is_integer(pv) && json_integer_value(pv) == 0;
    names_t bad = {0};
    for (size_t i = 0; i < p->n; i++) {
        const json_t *v = json_object_get(csc(p->cs[i]), "runAsUser");
        if (json_is_integer(v) && json_integer_value(v) == 0)
            names_add(&bad, cname(p->cs[i]));
    }
    if (pod || bad.n) {
        k1s_buf_t d = K1S_BUF_INIT;
        setters(&d, pod, &bad);
        k1s_buf_puts(&d, " must not set runAsUser=0");
        forbid(r, "runAsUser=0", d.data);
        k1s_buf_free(&d);
    }
}

static bool seccomp_valid(const char *t)
{
    return t && (!strcmp(t, "RuntimeDefault") || !strcmp(t, "Localhost"));
}

static void check_seccomp_restricted(const podv_t *p, result_t *r)
{
    sset_t bad_values = {0};
    const json_t *ps = jo(p->psc, "seccompProfile");
    bool pod_bad = false, pod_set = false;
    if (ps) {
        const char *t = js(ps, "type");
        if (!seccomp_valid(t)) {
            pod_bad = true;
            sset_add(&bad_values, t ? t : "");
        } else {
            pod_set = true;
        }
    }
    names_t explicit_bad = {0}, implicit_bad = {0};
    for (size_t i = 0; i < p->n; i++) {
        const json_t *cs = jo(csc(p->cs[i]), "seccompProfile");
        if (cs) {
            const char *t = js(cs, "type");
            if (!seccomp_valid(t)) {
                names_add(&explicit_bad, cname(p->cs[i]));
                sset_add(&bad_values, t ? t : "");
            }
        } else if (!pod_set) {
            names_add(&implicit_bad, cname(p->cs[i]));
        }
    }
    k1s_buf_t d = K1S_BUF_INIT;
    if (pod_bad || explicit_bad.n) {
        setters(&d, pod_bad, &explicit_bad);
        k1s_buf_puts(&d, " must not set securityContext.seccompProfile.type to ");
        join_quote(&d, (const char *const *)bad_values.v, bad_values.n);
        forbid(r, "seccompProfile", d.data);
    } else if (implicit_bad.n) {
        k1s_buf_puts(&d, "pod or ");
        who(&d, &implicit_bad);
        k1s_buf_puts(&d, " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
                         "\"Localhost\"");
        forbid(r, "seccompProfile", d.data);
    }
    k1s_buf_free(&d);
    sset_free(&bad_values);
}

/*
 * Evaluates a pod (metadata + spec) at level; fills r. The order is
 * Kubernetes': baseline checks by ID, then restricted ones by ID, each
 * restricted check replacing the baseline check it overrides.
 */
static void evaluate(const json_t *meta, const json_t *spec, int level, result_t *r)
{
    if (level <= LVL_PRIVILEGED)
        return;
    podv_t p;
    podv_init(&p, meta, spec);
    bool restricted = level >= LVL_RESTRICTED;
    check_apparmor(&p, r);
    if (!restricted)
        check_caps_baseline(&p, r);
    check_host_namespaces(&p, r);
    if (!restricted)
        check_host_path(&p, r);
    check_host_ports(&p, r);
    check_privileged(&p, r);
    check_proc_mount(&p, r);
    check_selinux(&p, r);
    if (!restricted)
        check_seccomp_baseline(&p, r);
    check_sysctls(&p, r);
    check_host_process(&p, r);
    if (!restricted)
        return;
    check_ape(&p, r);
    check_caps_restricted(&p, r);
    check_volumes_restricted(&p, r);
    check_run_as_non_root(&p, r);
    check_run_as_user(&p, r);
    check_seccomp_restricted(&p, r);
}

static void result_free(result_t *r)
{
    k1s_buf_free(&r->text);
    k1s_buf_free(&r->reasons);
}

/* ---------- namespace policy ---------- */

typedef struct policy {
    int level[3]; /* enforce, warn, audit */
    char version[3][32];
} policy_t;

static const char *const MODES[] = {"enforce", "warn", "audit"};

/* Reads the policy from namespace labels; -EINVAL with *bad_key/bad_val on an invalid level. */
static int policy_of(const json_t *labels, policy_t *p, const char **bad_key, const char **bad_val)
{
    for (int m = 0; m < 3; m++) {
        char key[96];
        snprintf(key, sizeof(key), "pod-security.kubernetes.io/%s", MODES[m]);
        const char *v = js(labels, key);
        p->level[m] = parse_level(v);
        if (p->level[m] == LVL_INVALID) {
            if (bad_key) {
                static char k[96];
                snprintf(k, sizeof(k), "%s", key);
                *bad_key = k;
                *bad_val = v;
            }
            return -EINVAL;
        }
        snprintf(key, sizeof(key), "pod-security.kubernetes.io/%s-version", MODES[m]);
        const char *ver = js(labels, key);
        snprintf(p->version[m], sizeof(p->version[m]), "%s", ver && *ver ? ver : "latest");
    }
    return 0;
}

/* ---------- pods and templates ---------- */

/* The pod template of a workload object, or NULL if res is no workload. */
static const json_t *template_of(const k1s_resource_t *res, const json_t *obj)
{
    const char *g = res->group, *k = res->kind;
    const json_t *spec = jo(obj, "spec");
    if ((!strcmp(g, "apps") && (!strcmp(k, "Deployment") || !strcmp(k, "ReplicaSet") ||
                                !strcmp(k, "StatefulSet") || !strcmp(k, "DaemonSet"))) ||
        (!strcmp(g, "batch") && !strcmp(k, "Job")) || (!*g && !strcmp(k, "ReplicationController")))
        return jo(spec, "template");
    if (!strcmp(g, "batch") && !strcmp(k, "CronJob"))
        return jo(jo(jo(spec, "jobTemplate"), "spec"), "template");
    if (!*g && !strcmp(k, "PodTemplate"))
        return jo(obj, "template");
    return NULL;
}

static int admit_namespace(k1s_api_req_t *r, k1s_admit_deny_t *deny);

int k1s_admit_podsecurity(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    const char *op = k1s_admit_operation(r);
    if (!r->obj || (strcmp(op, "CREATE") && strcmp(op, "UPDATE")))
        return 0;
    if (!r->res->group[0] && !strcmp(r->res->plural, "namespaces") && !r->sub)
        return admit_namespace(r, deny);
    bool is_pod = !r->res->group[0] && !strcmp(r->res->plural, "pods");
    const json_t *meta, *spec;
    if (is_pod) {
        if (r->sub && strcmp(r->sub, "ephemeralcontainers"))
            return 0;
        /* updates that leave the spec alone (labels, status) are not re-checked */
        if (!strcmp(op, "UPDATE") && r->old &&
            json_equal(json_object_get(r->obj, "spec"), json_object_get(r->old, "spec")))
            return 0;
        meta = jo(r->obj, "metadata");
        spec = jo(r->obj, "spec");
    } else {
        if (r->sub)
            return 0;
        const json_t *t = template_of(r->res, r->obj);
        if (!t)
            return 0;
        if (!strcmp(op, "UPDATE") && r->old) {
            const json_t *ot = template_of(r->res, r->old);
            if (ot && json_equal(t, ot))
                return 0;
        }
        meta = jo(t, "metadata");
        spec = jo(t, "spec");
    }
    json_t *nso = k1s_admit_ns_object(r->api, r->ns);
    policy_t pol;
    int prc = policy_of(jo(jo(nso, "metadata"), "labels"), &pol, NULL, NULL);
    json_decref(nso);
    if (prc < 0) {
        /* an invalid label evaluates as restricted, as Kubernetes does */
        for (int m = 0; m < 3; m++)
            if (pol.level[m] == LVL_INVALID)
                pol.level[m] = LVL_RESTRICTED;
    }
    int rc = 0;
    char ev[64];
    if (is_pod) {
        snprintf(ev, sizeof(ev), "%s:%s", level_name(pol.level[0]), pol.version[0]);
        k1s_admit_audit(r, "pod-security.kubernetes.io/enforce-policy", ev);
    }
    for (int m = 0; m < 3; m++) {
        if (pol.level[m] == LVL_PRIVILEGED || (m == 0 && !is_pod))
            continue;
        /* warn at the enforced level and version adds nothing to the refusal */
        if (m == 1 && is_pod && pol.level[1] == pol.level[0] &&
            !strcmp(pol.version[1], pol.version[0]))
            continue;
        result_t res = {K1S_BUF_INIT, K1S_BUF_INIT, 0};
        evaluate(meta, spec, pol.level[m], &res);
        if (res.n) {
            char lv[64];
            snprintf(lv, sizeof(lv), "%s:%s", level_name(pol.level[m]), pol.version[m]);
            if (m == 0) {
                rc = k1s_admit_denyf(deny, "violates PodSecurity \"%s\": %s", lv, res.text.data);
                result_free(&res);
                break;
            }
            char *msg = k1s_xasprintf("would violate PodSecurity \"%s\": %s", lv, res.text.data);
            if (m == 1)
                k1s_admit_warn(r, msg);
            else
                k1s_admit_audit(r, "pod-security.kubernetes.io/audit-violations", msg);
            free(msg);
        }
        result_free(&res);
    }
    return rc;
}

/* ---------- namespaces: label validation and warnings about existing pods ---------- */

typedef struct ns_scan {
    int level;
    json_t *groups; /* reasons -> array of pod names */
    size_t checked;
} ns_scan_t;

static int scan_pod(k1s_kv_t *kv, void *arg)
{
    ns_scan_t *s = arg;
    if (s->checked++ >= 3000)
        return 1; /* Kubernetes also bounds this work */
    json_t *pod = k1s_obj_decode(kv->value);
    result_t res = {K1S_BUF_INIT, K1S_BUF_INIT, 0};
    evaluate(jo(pod, "metadata"), jo(pod, "spec"), s->level, &res);
    if (res.n) {
        json_t *names = json_object_get(s->groups, res.reasons.data);
        if (!names) {
            names = json_array();
            json_object_set_new(s->groups, res.reasons.data, names);
        }
        json_array_append_new(names, json_string(js(jo(pod, "metadata"), "name")));
    }
    result_free(&res);
    json_decref(pod);
    return 0;
}

static int admit_namespace(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    const json_t *labels = jo(jo(r->obj, "metadata"), "labels");
    policy_t pol;
    const char *bad_key = NULL, *bad_val = NULL;
    if (policy_of(labels, &pol, &bad_key, &bad_val) < 0) {
        deny->code = 422;
        deny->reason = "Invalid";
        deny->raw = true;
        char *field = k1s_xasprintf("metadata.labels[%s]", bad_key);
        char *cmsg = k1s_xasprintf("Unsupported value: \"%s\": supported values: \"privileged\", "
                                   "\"baseline\", \"restricted\"",
                                   bad_val);
        deny->details = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}]}", "name", r->name ? r->name : "",
                                  "kind", "namespaces", "causes", "reason",
                                  "FieldValueNotSupported", "message", cmsg, "field", field);
        free(field);
        free(cmsg);
        return k1s_admit_denyf(deny,
                               "namespaces \"%s\" is invalid: metadata.labels[%s]: Unsupported "
                               "value: \"%s\": supported values: \"privileged\", \"baseline\", "
                               "\"restricted\"",
                               r->name ? r->name : "", bad_key, bad_val);
    }
    if (!r->old || pol.level[0] == LVL_PRIVILEGED)
        return 0;
    policy_t oldp;
    if (policy_of(jo(jo(r->old, "metadata"), "labels"), &oldp, NULL, NULL) == 0 &&
        oldp.level[0] == pol.level[0] && !strcmp(oldp.version[0], pol.version[0]))
        return 0;
    ns_scan_t s = {pol.level[0], json_object(), 0};
    const k1s_resource_t *pr = k1s_registry_find("", "v1", "pods");
    char *prefix = k1s_obj_prefix(pr, r->name);
    k1s_store_range(r->api->store, prefix, NULL, scan_pod, &s);
    free(prefix);
    if (json_object_size(s.groups) > 0) {
        char *w = k1s_xasprintf(
            "existing pods in namespace \"%s\" violate the new PodSecurity enforce level "
            "\"%s:%s\"",
            r->name, level_name(pol.level[0]), pol.version[0]);
        k1s_admit_warn(r, w);
        free(w);
        const char *reasons;
        json_t *names;
        json_object_foreach(s.groups, reasons, names)
        {
            k1s_buf_t b = K1S_BUF_INIT;
            size_t i;
            json_t *n;
            json_array_foreach(names, i, n)
            {
                if (i == 5) {
                    k1s_buf_printf(&b, " (and %zu other pods)", json_array_size(names) - 5);
                    break;
                }
                k1s_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(n));
            }
            k1s_buf_printf(&b, ": %s", reasons);
            k1s_admit_warn(r, b.data);
            k1s_buf_free(&b);
        }
    }
    json_decref(s.groups);
    return 0;
}
