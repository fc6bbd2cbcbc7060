/*
 * Validation of a pod's containers (pkg/apis/core/validation): resource
 * requests and limits, ports, environment, security contexts, probes and
 * lifecycle handlers. validate-pod.c calls these for every kind of container
 * a pod spec holds.
 */
#include "api/validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-int.h"

/* ------------------------------------------------------------------------------------------ */
/* Resources and quantities in specs                                                          */
/* ------------------------------------------------------------------------------------------ */

/* Parses a quantity field; reports a parse failure (a decode error in Kubernetes) as Invalid. */
bool k1s_v_get_qty(vctx_t *v, const char *child, const json_t *val, k1s_quantity_t *q)
{
    const char *err = NULL;
    if (k1s_quantity_from_json(val, q, &err) == 0)
        return true;
    if (json_is_string(val))
        add_s(v, child, E_INVALID, json_string_value(val), err);
    else
        add(v, child, E_INVALID, "null", err);
    return false;
}

static bool is_hugepages(const char *n)
{
    return k1s_str_has_prefix(n, "hugepages-");
}

/* helper.IsNativeResource: no domain, or a kubernetes.io domain */
static bool is_native_resource(const char *n)
{
    return !strchr(n, '/') || strstr(n, "kubernetes.io/") != NULL;
}

static bool is_extended_resource(const char *n)
{
    if (is_native_resource(n) || k1s_str_has_prefix(n, "requests."))
        return false;
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    char *q = k1s_xasprintf("requests.%s", n);
    bool ok = k1s_is_qualified_name(q, msgs) == 0;
    free(q);
    return ok;
}

static bool is_overcommit_allowed(const char *n)
{
    return is_native_resource(n) && !is_hugepages(n);
}

static bool is_integer_resource(const char *n)
{
    static const char *const ints[] = {"pods",
                                       "services",
                                       "replicationcontrollers",
                                       "resourcequotas",
                                       "secrets",
                                       "configmaps",
                                       "persistentvolumeclaims",
                                       "services.nodeports",
                                       "services.loadbalancers"};
    return IN(n, ints) || is_extended_resource(n);
}

static bool is_standard_resource(const char *n)
{
    static const char *const std[] = {"cpu",
                                      "memory",
                                      "ephemeral-storage",
                                      "requests.cpu",
                                      "requests.memory",
                                      "requests.ephemeral-storage",
                                      "limits.cpu",
                                      "limits.memory",
                                      "limits.ephemeral-storage",
                                      "pods",
                                      "resourcequotas",
                                      "services",
                                      "replicationcontrollers",
                                      "secrets",
                                      "configmaps",
                                      "persistentvolumeclaims",
                                      "storage",
                                      "requests.storage",
                                      "services.nodeports",
                                      "services.loadbalancers"};
    return IN(n, std) || is_hugepages(n) || k1s_str_has_prefix(n, "requests.hugepages-");
}

/* validateResourceName + validateContainerResourceName at the current path */
static void check_container_resource_name(vctx_t *v, const char *name)
{
    int n = k1s_v_check_fmt(v, NULL, k1s_is_qualified_name, name);
    if (!n && !strchr(name, '/') && !is_standard_resource(name))
        add_s(v, NULL, E_INVALID, name, "must be a standard resource type or fully qualified");
    if (!strchr(name, '/')) {
        if (strcmp(name, "cpu") && strcmp(name, "memory") && strcmp(name, "ephemeral-storage") &&
            !is_hugepages(name))
            add_s(v, NULL, E_INVALID, name, "must be a standard resource for containers");
    } else if (!is_native_resource(name) && !is_extended_resource(name)) {
        add_s(v, NULL, E_INVALID, name, "doesn't follow extended resource name standard");
    }
}

/* ValidateResourceQuantityValue at the current path */
void k1s_v_check_quantity_value(vctx_t *v, const char *resource, const k1s_quantity_t *q)
{
    if (k1s_quantity_sign(q) < 0) {
        char *s = k1s_quantity_string(q);
        add_s(v, NULL, E_INVALID, s, MSG_NOT_NEGATIVE);
        free(s);
    }
    if (is_integer_resource(resource) && k1s_quantity_milli_value(q) % 1000 != 0) {
        char *s = k1s_v_go_quantity(q);
        add(v, NULL, E_INVALID, s, "must be an integer");
        free(s);
    }
}

static bool hugepage_divisible(const char *name, const k1s_quantity_t *q)
{
    k1s_quantity_t size;
    if (k1s_quantity_parse(name + strlen("hugepages-"), &size, NULL) < 0)
        return false;
    int64_t s = k1s_quantity_value(&size), val = k1s_quantity_value(q);
    if (k1s_quantity_sign(&size) <= 0 || k1s_quantity_milli_value(&size) % 1000 != 0 || s <= 0)
        return false;
    return val % s == 0;
}

/* validateResourceRequirements at the current path (a container's "resources"). */
void k1s_v_check_resources(vctx_t *v, const json_t *res)
{
    const json_t *lim = jobj(res, "limits"), *req = jobj(res, "requests");
    bool lim_cm = false, req_cm = false, lim_hp = false, req_hp = false;
    const char *k;
    const json_t *val;
    for (int pass = 0; pass < 2; pass++) {
        const json_t *list = pass ? req : lim;
        size_t ml = push(v, pass ? "requests" : "limits");
        OBJ_EACH(list, k, val)
        {
            size_t mk = push_key(v, k);
            check_container_resource_name(v, k);
            k1s_quantity_t q;
            bool ok = k1s_v_get_qty(v, NULL, val, &q);
            if (ok)
                k1s_v_check_quantity_value(v, k, &q);
            pop(v, mk);
            if (pass && ok) {
                /* requests must not exceed limits (nor differ, where overcommit is not allowed) */
                const json_t *lv = jget(lim, k);
                k1s_quantity_t lq;
                if (lv) {
                    if (k1s_quantity_from_json(lv, &lq, NULL) == 0) {
                        int c = k1s_quantity_cmp(&q, &lq);
                        char *qs = k1s_quantity_string(&q), *ls = k1s_quantity_string(&lq);
                        char *qq = k1s_v_quoted(qs);
                        if (c != 0 && !is_overcommit_allowed(k))
                            add_f(v, NULL, E_INVALID, qq, "must be equal to %s limit of %s", k, ls);
                        else if (c > 0)
                            add_f(v, NULL, E_INVALID, qq,
                                  "must be less than or equal to %s limit of %s", k, ls);
                        free(qq);
                        free(qs);
                        free(ls);
                    }
                } else if (!is_overcommit_allowed(k)) {
                    pop(v, ml);
                    add(v, "limits", E_REQUIRED, NULL,
                        "Limit must be set for non overcommitable resources");
                    ml = push(v, "requests");
                }
            }
            if (is_hugepages(k)) {
                if (pass)
                    req_hp = true;
                else
                    lim_hp = true;
                if (ok && !hugepage_divisible(k, &q)) {
                    char *s = k1s_quantity_string(&q);
                    char *d = k1s_xasprintf("%s is not positive integer multiple of %s", s, k);
                    size_t mk2 = push_key(v, k);
                    add_s(v, NULL, E_INVALID, s, d);
                    pop(v, mk2);
                    free(d);
                    free(s);
                }
            }
            if (!strcmp(k, "cpu") || !strcmp(k, "memory")) {
                if (pass)
                    req_cm = true;
                else
                    lim_cm = true;
            }
        }
        pop(v, ml);
    }
    if (!lim_cm && !req_cm && (req_hp || lim_hp))
        add(v, NULL, E_FORBIDDEN, NULL, "HugePages require cpu or memory");
}

/* ValidatePortNumOrName at child: an int port in range, or a port name */
void k1s_v_check_port_num_or_name(vctx_t *v, const char *child, const json_t *port)
{
    long long n;
    if (json_is_string(port)) {
        const char *msgs[K1S_VALIDATE_MAX_MSGS];
        int k = k1s_v_is_port_name(json_string_value(port), msgs);
        for (int i = 0; i < k; i++)
            add_s(v, child, E_INVALID, json_string_value(port), msgs[i]);
    } else if (jnum(port, &n) || !port) {
        if (!port)
            n = 0;
        if (n < 1 || n > 65535)
            add_i(v, child, E_INVALID, n, MSG_PORT_RANGE);
    }
}

static void check_container_ports(vctx_t *v, const json_t *ports)
{
    size_t m = push(v, "ports");
    size_t n = json_array_size(ports), k = 0;
    const char **names = k1s_xcalloc(n ? n : 1, sizeof(*names));
    const json_t *p;
    ARR_EACH(ports, i, p)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(p, "name");
        if (*name) {
            const char *msgs[K1S_VALIDATE_MAX_MSGS];
            int nm = k1s_v_is_port_name(name, msgs);
            bool dup = false;
            for (size_t j = 0; j < k; j++)
                dup |= strcmp(names[j], name) == 0;
            if (nm) {
                for (int j = 0; j < nm; j++)
                    add_s(v, "name", E_INVALID, name, msgs[j]);
            } else if (dup) {
                add_s(v, "name", E_DUPLICATE, name, NULL);
            } else {
                names[k++] = name;
            }
        }
        long long cp = 0, hp = 0;
        jint(p, "containerPort", &cp);
        if (cp == 0)
            add(v, "containerPort", E_REQUIRED, NULL, "");
        else if (cp < 1 || cp > 65535)
            add_i(v, "containerPort", E_INVALID, cp, MSG_PORT_RANGE);
        if (jint(p, "hostPort", &hp) && hp != 0 && (hp < 1 || hp > 65535))
            add_i(v, "hostPort", E_INVALID, hp, MSG_PORT_RANGE);
        const char *proto = jstr0(p, "protocol");
        static const char *const protos[] = {"SCTP", "TCP", "UDP"};
        if (!*proto)
            add(v, "protocol", E_REQUIRED, NULL, "");
        else if (!IN(proto, protos))
            NOTSUPP(v, "protocol", proto, protos);
        pop(v, mi);
    }
    free(names);
    pop(v, m);
}

/* podshelper.ConvertDownwardAPIFieldLabel for v1, then the env var field checks */
static void check_env_field_ref(vctx_t *v, const json_t *fr)
{
    static const char *const valid[] = {"metadata.name",
                                        "metadata.namespace",
                                        "metadata.uid",
                                        "spec.nodeName",
                                        "spec.serviceAccountName",
                                        "status.hostIP",
                                        "status.hostIPs",
                                        "status.podIP",
                                        "status.podIPs"};
    static const char *const known[] = {
        "metadata.annotations", "metadata.labels", "metadata.name",      "metadata.namespace",
        "metadata.uid",         "spec.nodeName",   "spec.restartPolicy", "spec.serviceAccountName",
        "spec.schedulerName",   "status.phase",    "status.hostIP",      "status.hostIPs",
        "status.podIP",         "status.podIPs"};
    size_t m = push(v, "fieldRef");
    const char *av = jstr0(fr, "apiVersion"), *fp = jstr0(fr, "fieldPath");
    if (!*av) {
        add(v, "apiVersion", E_REQUIRED, NULL, "");
    } else if (!*fp) {
        add(v, "fieldPath", E_REQUIRED, NULL, "");
    } else {
        /* a subscripted path: metadata.labels['key'] or metadata.annotations['key'] */
        const char *open = strstr(fp, "['");
        size_t fl = strlen(fp);
        bool subscripted = open && fl >= 2 && fp[fl - 1] == ']' && fp[fl - 2] == '\'' &&
                           (size_t)(open - fp) + 4 <= fl;
        char *path = subscripted ? k1s_xstrndup(fp, (size_t)(open - fp)) : k1s_xstrdup(fp);
        char *sub = subscripted ? k1s_xstrndup(open + 2, fl - (size_t)(open - fp) - 4) : NULL;
        if (strcmp(av, "v1") != 0) {
            char *d = k1s_xasprintf("error converting fieldPath: unsupported pod version: %s", av);
            add_s(v, "fieldPath", E_INVALID, fp, d);
            free(d);
        } else if (!IN(path, known)) {
            char *d =
                k1s_xasprintf("error converting fieldPath: field label not supported: %s", fp);
            add_s(v, "fieldPath", E_INVALID, fp, d);
            free(d);
        } else if (subscripted) {
            if (!strcmp(path, "metadata.annotations")) {
                for (char *c = sub; *c; c++)
                    *c = (char)tolower((unsigned char)*c);
                k1s_v_check_fmt(v, NULL, k1s_is_qualified_name, sub);
            } else if (!strcmp(path, "metadata.labels")) {
                k1s_v_check_fmt(v, NULL, k1s_is_qualified_name, sub);
            } else {
                add_s(v, NULL, E_INVALID, path, "does not support subscript");
            }
        } else if (!IN(path, valid)) {
            NOTSUPP(v, "fieldPath", path, valid);
        }
        free(path);
        free(sub);
    }
    pop(v, m);
}

static void check_key_selector(vctx_t *v, const char *child, const json_t *s)
{
    size_t m = push(v, child);
    name_fn_t fn = k1s_is_dns1123_subdomain;
    k1s_v_check_fmt(v, "name", fn, jstr0(s, "name"));
    const char *key = jstr0(s, "key");
    if (!*key)
        add(v, "key", E_REQUIRED, NULL, "");
    else
        k1s_v_check_fmt(v, "key", k1s_is_config_map_key, key);
    pop(v, m);
}

static void check_env(vctx_t *v, const json_t *env)
{
    size_t m = push(v, "env");
    const json_t *e;
    ARR_EACH(env, i, e)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(e, "name");
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        else
            k1s_v_check_fmt(v, "name", k1s_v_is_env_var_name, name);
        const json_t *vf = jobj(e, "valueFrom");
        if (vf) {
            size_t mv = push(v, "valueFrom");
            int n = 0;
            if (jobj(vf, "fieldRef")) {
                n++;
                check_env_field_ref(v, jobj(vf, "fieldRef"));
            }
            if (jobj(vf, "resourceFieldRef")) {
                static const char *const res[] = {
                    "limits.cpu",   "limits.ephemeral-storage",   "limits.memory",
                    "requests.cpu", "requests.ephemeral-storage", "requests.memory"};
                n++;
                const json_t *rf = jobj(vf, "resourceFieldRef");
                size_t mr = push(v, "resourceFieldRef");
                const char *r = jstr0(rf, "resource");
                if (!*r)
                    add(v, "resource", E_REQUIRED, NULL, "");
                else if (!IN(r, res) && !k1s_str_has_prefix(r, "requests.hugepages-") &&
                         !k1s_str_has_prefix(r, "limits.hugepages-"))
                    NOTSUPP(v, "resource", r, res);
                pop(v, mr);
            }
            if (jobj(vf, "configMapKeyRef")) {
                n++;
                check_key_selector(v, "configMapKeyRef", jobj(vf, "configMapKeyRef"));
            }
            if (jobj(vf, "secretKeyRef")) {
                n++;
                check_key_selector(v, "secretKeyRef", jobj(vf, "secretKeyRef"));
            }
            if (n == 0)
                add_s(v, NULL, E_INVALID, "",
                      "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                      "`secretKeyRef`");
            else if (*jstr0(e, "value"))
                add_s(v, NULL, E_INVALID, "", "may not be specified when `value` is not empty");
            else if (n > 1)
                add_s(v, NULL, E_INVALID, "",
                      "may not have more than one field specified at a time");
            pop(v, mv);
        }
        pop(v, mi);
    }
    pop(v, m);
}

static void check_env_from(vctx_t *v, const json_t *envfrom)
{
    size_t m = push(v, "envFrom");
    const json_t *e;
    ARR_EACH(envfrom, i, e)
    {
        size_t mi = push_idx(v, i);
        const char *prefix = jstr0(e, "prefix");
        if (*prefix)
            k1s_v_check_fmt(v, "prefix", k1s_v_is_env_var_name, prefix);
        int n = 0;
        static const char *const refs[] = {"configMapRef", "secretRef"};
        for (size_t k = 0; k < 2; k++) {
            const json_t *r = jobj(e, refs[k]);
            if (!r)
                continue;
            n++;
            size_t mr = push(v, refs[k]);
            const char *name = jstr0(r, "name");
            if (!*name) {
                add(v, "name", E_REQUIRED, NULL, "");
            } else {
                const char *msgs[K1S_VALIDATE_MAX_MSGS];
                int nm = k1s_v_name_check(k1s_is_dns1123_subdomain, name, true, msgs);
                for (int j = 0; j < nm; j++)
                    add_s(v, "name", E_INVALID, name, msgs[j]);
            }
            pop(v, mr);
        }
        pop(v, mi);
        if (n == 0)
            add_s(v, NULL, E_INVALID, "", "must specify one of: `configMapRef` or `secretRef`");
        else if (n > 1)
            add_s(v, NULL, E_INVALID, "", "may not have more than one field specified at a time");
    }
    pop(v, m);
}

void k1s_v_check_seccomp_profile(vctx_t *v, const json_t *sp)
{
    if (!sp)
        return;
    size_t m = push(v, "seccompProfile");
    const char *t = jstr0(sp, "type");
    static const char *const types[] = {"Localhost", "RuntimeDefault", "Unconfined"};
    if (!*t)
        add(v, "type", E_REQUIRED, NULL, "type is required when seccompProfile is set");
    else if (!IN(t, types))
        NOTSUPP(v, "type", t, types);
    const char *lp = jstr(sp, "localhostProfile");
    if (!strcmp(t, "Localhost")) {
        if (!lp)
            add(v, "localhostProfile", E_REQUIRED, NULL,
                "must be set when seccomp type is Localhost");
        else
            k1s_v_check_local_descending(v, "localhostProfile", lp);
    } else if (lp) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "core.SeccompProfile{Type:");
        k1s_v_go_quote(&b, t);
        k1s_buf_puts(&b, ", LocalhostProfile:(*string)(0xc000000000)}");
        add(v, "localhostProfile", E_INVALID, b.data,
            "can only be set when seccomp type is Localhost");
        k1s_buf_free(&b);
    }
    pop(v, m);
}

void k1s_v_check_apparmor_profile(vctx_t *v, const json_t *ap)
{
    if (!ap)
        return;
    size_t m = push(v, "appArmorProfile");
    const char *t = jstr0(ap, "type");
    const char *lp = jstr(ap, "localhostProfile");
    static const char *const types[] = {"Localhost", "RuntimeDefault", "Unconfined"};
    if (!strcmp(t, "Localhost")) {
        if (!lp) {
            add(v, "localhostProfile", E_REQUIRED, NULL,
                "must be set when AppArmor type is Localhost");
        } else {
            size_t n = strlen(lp);
            if (n && (isspace((unsigned char)lp[0]) || isspace((unsigned char)lp[n - 1])))
                add_s(v, "localhostProfile", E_INVALID, lp, "must not be padded with whitespace");
            else if (!n)
                add(v, "localhostProfile", E_REQUIRED, NULL,
                    "must be set when AppArmor type is Localhost");
            if (n > 4095)
                add_toolong(v, "localhostProfile", 4095);
        }
    } else if (!strcmp(t, "RuntimeDefault") || !strcmp(t, "Unconfined")) {
        if (lp)
            add_s(v, "localhostProfile", E_INVALID, lp,
                  "can only be set when AppArmor type is Localhost");
    } else if (!*t) {
        add(v, "type", E_REQUIRED, NULL, "type is required when appArmorProfile is set");
    } else {
        NOTSUPP(v, "type", t, types);
    }
    pop(v, m);
}

void k1s_v_check_id(vctx_t *v, const char *child, const json_t *o, const char *key)
{
    long long id;
    if (jint(o, key, &id) && (id < 0 || id > INT32_MAX))
        add_i(v, child, E_INVALID, id, "must be between 0 and 2147483647, inclusive");
}

/* ValidateSecurityContext (a container's), at the container path */
static void check_container_security(vctx_t *v, const json_t *sc, bool host_users)
{
    if (!sc)
        return;
    size_t m = push(v, "securityContext");
    k1s_v_check_id(v, "runAsUser", sc, "runAsUser");
    k1s_v_check_id(v, "runAsGroup", sc, "runAsGroup");
    const char *pm = jstr(sc, "procMount");
    if (pm) {
        static const char *const pms[] = {"Default", "Unmasked"};
        if (!IN(pm, pms))
            NOTSUPP(v, "procMount", pm, pms);
        if (host_users && !strcmp(pm, "Unmasked"))
            add_s(v, "procMount", E_INVALID, pm, "`hostUsers` must be false to use `Unmasked`");
    }
    k1s_v_check_seccomp_profile(v, jobj(sc, "seccompProfile"));
    if (json_is_false(jget(sc, "allowPrivilegeEscalation"))) {
        if (jtrue(sc, "privileged"))
            add(v, NULL, E_INVALID, "core.SecurityContext{...}",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
        const json_t *c;
        ARR_EACH(jarr(jobj(sc, "capabilities"), "add"), i, c)
        if (json_is_string(c) && !strcmp(json_string_value(c), "CAP_SYS_ADMIN"))
            add(v, NULL, E_INVALID, "core.SecurityContext{...}",
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                "CAP_SYS_ADMIN");
    }
    k1s_v_check_apparmor_profile(v, jobj(sc, "appArmorProfile"));
    pop(v, m);
}

/* validateHandler at the current path (a probe or lifecycle handler) */
static void check_handler(vctx_t *v, const json_t *h, const json_t *grace, bool lifecycle)
{
    int n = 0;
    static const char *const kinds[] = {"exec", "httpGet", "tcpSocket", "grpc", "sleep"};
    for (size_t k = 0; k < K1S_ARRAY_SIZE(kinds); k++) {
        const json_t *x = jobj(h, kinds[k]);
        if (!x || (k == 3 && lifecycle) || (k == 4 && !lifecycle))
            continue;
        if (n > 0) {
            add(v, kinds[k], E_FORBIDDEN, NULL, "may not specify more than 1 handler type");
            continue;
        }
        n++;
        size_t m = push(v, kinds[k]);
        if (k == 0) {
            if (!jlen(jarr(x, "command")))
                add(v, "command", E_REQUIRED, NULL, "");
        } else if (k == 1) {
            if (!*jstr0(x, "path"))
                add(v, "path", E_REQUIRED, NULL, "");
            k1s_v_check_port_num_or_name(v, "port", jget(x, "port"));
            static const char *const schemes[] = {"HTTP", "HTTPS"};
            const char *s = jstr0(x, "scheme");
            if (!IN(s, schemes))
                NOTSUPP(v, "scheme", s, schemes);
            const json_t *hd;
            ARR_EACH(jarr(x, "httpHeaders"), i, hd)
            {
                const char *hn = jstr0(hd, "name");
                if (!k1s_v_is_http_header_name(hn))
                    add_s(v, "httpHeaders", E_INVALID, hn,
                          "a valid HTTP header must consist of alphanumeric characters or '-' "
                          "(e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')");
            }
        } else if (k == 2 || k == 3) {
            k1s_v_check_port_num_or_name(v, "port", jget(x, "port"));
        } else {
            long long secs = 0, g;
            jint(x, "seconds", &secs);
            if (jnum(grace, &g) && (secs <= 0 || secs > g)) {
                char *d = k1s_xasprintf("must be greater than 0 and less than "
                                        "terminationGracePeriodSeconds (%lld). Enable "
                                        "AllowPodLifecycleSleepActionZeroValue feature gate for "
                                        "zero sleep.",
                                        g);
                add_i(v, NULL, E_INVALID, secs, d);
                free(d);
            }
        }
        pop(v, m);
    }
    if (n == 0)
        add(v, NULL, E_REQUIRED, NULL, "must specify a handler type");
}

void k1s_v_check_probe(vctx_t *v, const char *child, const json_t *p, const json_t *grace,
                       probe_t kind)
{
    if (!p)
        return;
    size_t m = push(v, child);
    check_handler(v, p, grace, false);
    static const char *const nonneg[] = {"initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                                         "successThreshold", "failureThreshold"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(nonneg); i++) {
        long long x;
        if (jint(p, nonneg[i], &x) && x < 0)
            add_i(v, nonneg[i], E_INVALID, x, MSG_NOT_NEGATIVE);
    }
    long long t;
    if (jint(p, "terminationGracePeriodSeconds", &t) && t <= 0)
        add_i(v, "terminationGracePeriodSeconds", E_INVALID, t, "must be greater than 0");
    long long st = 0;
    jint(p, "successThreshold", &st);
    if (kind != PROBE_READINESS && st != 1)
        add_i(v, "successThreshold", E_INVALID, st, "must be 1");
    if (kind == PROBE_READINESS && jint(p, "terminationGracePeriodSeconds", &t))
        add_i(v, "terminationGracePeriodSeconds", E_INVALID, t,
              "must not be set for readinessProbes");
    pop(v, m);
}

void k1s_v_check_lifecycle(vctx_t *v, const json_t *lc, const json_t *grace)
{
    size_t m = push(v, "lifecycle");
    if (jobj(lc, "postStart")) {
        size_t mp = push(v, "postStart");
        check_handler(v, jobj(lc, "postStart"), grace, true);
        pop(v, mp);
    }
    if (jobj(lc, "preStop")) {
        size_t mp = push(v, "preStop");
        check_handler(v, jobj(lc, "preStop"), grace, true);
        pop(v, mp);
    }
    pop(v, m);
}

/* validateContainerCommon at the current path (containers[i]) */
void k1s_v_check_container_common(vctx_t *v, const json_t *c, const vols_t *vs, bool host_users)
{
    const char *name = jstr0(c, "name");
    if (!*name)
        add(v, "name", E_REQUIRED, NULL, "");
    else
        k1s_v_check_fmt(v, "name", k1s_is_dns1123_label, name);
    if (!*jstr0(c, "image"))
        add(v, "image", E_REQUIRED, NULL, "");
    const char *tmp = jstr0(c, "terminationMessagePolicy");
    static const char *const tmps[] = {"File", "FallbackToLogsOnError"};
    if (!*tmp)
        add(v, "terminationMessagePolicy", E_REQUIRED, NULL, "");
    else if (!IN(tmp, tmps))
        NOTSUPP(v, "terminationMessagePolicy", tmp, tmps);
    check_container_ports(v, jarr(c, "ports"));
    check_env(v, jarr(c, "env"));
    check_env_from(v, jarr(c, "envFrom"));
    k1s_v_check_volume_mounts(v, c, vs);
    const char *pp = jstr0(c, "imagePullPolicy");
    static const char *const pps[] = {"Always", "IfNotPresent", "Never"};
    if (!*pp)
        add(v, "imagePullPolicy", E_REQUIRED, NULL, "");
    else if (!IN(pp, pps))
        NOTSUPP(v, "imagePullPolicy", pp, pps);
    size_t m = push(v, "resources");
    k1s_v_check_resources(v, jobj(c, "resources"));
    pop(v, m);
    check_container_security(v, jobj(c, "securityContext"), host_users);
}

/* AccumulateUniqueHostPorts over list[from..to); Kubernetes checks each init container alone, so
 * their paths say [0] (first_index) whatever their place in the list */
