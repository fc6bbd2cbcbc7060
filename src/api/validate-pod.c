/*
 * Pod validation (pkg/apis/core/validation: ValidatePodSpec and friends,
 * ValidatePodCreate, ValidatePodUpdate): the pod-level parts of a spec
 * (host ports, tolerations, affinity, DNS, topology spread, security
 * context), pod templates as workloads embed them, what a pod update may
 * change, and the pod's QoS class.
 */
#include "api/validate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-int.h"

static void check_host_ports(vctx_t *v, const json_t *list, size_t from, size_t to,
                             size_t first_index)
{
    k1s_buf_t seen = K1S_BUF_INIT;
    k1s_buf_putc(&seen, '\n');
    for (size_t ci = from; ci < to; ci++) {
        const json_t *c = json_array_get(list, ci), *p;
        size_t mc = push_idx(v, first_index + (ci - from));
        size_t mp = push(v, "ports");
        ARR_EACH(jarr(c, "ports"), pi, p)
        {
            long long hp = 0;
            if (!jint(p, "hostPort", &hp) || hp == 0)
                continue;
            char *key = k1s_xasprintf("%s/%s/%lld", jstr0(p, "protocol"), jstr0(p, "hostIP"), hp);
            char *needle = k1s_xasprintf("\n%s\n", key);
            if (strstr(seen.data, needle)) {
                size_t mi = push_idx(v, pi);
                add_s(v, "hostPort", E_DUPLICATE, key, NULL);
                pop(v, mi);
            } else {
                k1s_buf_puts(&seen, key);
                k1s_buf_putc(&seen, '\n');
            }
            free(needle);
            free(key);
        }
        pop(v, mp);
        pop(v, mc);
    }
    k1s_buf_free(&seen);
}

static void check_tolerations(vctx_t *v, const json_t *tols)
{
    size_t m = push(v, "tolerations");
    const json_t *t;
    static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute"};
    static const char *const ops[] = {"Equal", "Exists"};
    ARR_EACH(tols, i, t)
    {
        size_t mi = push_idx(v, i);
        const char *key = jstr0(t, "key"), *op = jstr0(t, "operator"), *eff = jstr0(t, "effect"),
                   *val = jstr0(t, "value");
        if (*key)
            k1s_v_check_fmt(v, "key", k1s_is_qualified_name, key);
        if (!*key && strcmp(op, "Exists") != 0)
            add_s(v, "operator", E_INVALID, op,
                  "operator must be Exists when `key` is empty, which means \"match all values "
                  "and all keys\"");
        if (jget(t, "tolerationSeconds") && strcmp(eff, "NoExecute") != 0)
            add_s(v, "effect", E_INVALID, eff,
                  "effect must be 'NoExecute' when `tolerationSeconds` is set");
        if (!*op || !strcmp(op, "Equal")) {
            const char *msgs[K1S_VALIDATE_MAX_MSGS];
            int n = k1s_is_label_value(val, msgs);
            if (n) {
                k1s_buf_t b = K1S_BUF_INIT;
                for (int j = 0; j < n; j++) {
                    if (j)
                        k1s_buf_putc(&b, ';');
                    k1s_buf_puts(&b, msgs[j]);
                }
                add_s(v, "operator", E_INVALID, val, b.data);
                k1s_buf_free(&b);
            }
        } else if (!strcmp(op, "Exists")) {
            if (*val)
                add_s(v, "operator", E_INVALID, val,
                      "value must be empty when `operator` is 'Exists'");
        } else {
            NOTSUPP(v, "operator", op, ops);
        }
        if (*eff && !IN(eff, effects))
            NOTSUPP(v, "effect", eff, effects);
        pop(v, mi);
    }
    pop(v, m);
}

/* ValidateNodeSelectorRequirement at the current path */
static void check_node_selector_req(vctx_t *v, const json_t *rq, bool allow_invalid_values)
{
    const char *op = jstr0(rq, "operator");
    size_t nv = jlen(jarr(rq, "values"));
    if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
        if (!nv)
            add(v, "values", E_REQUIRED, NULL,
                "must be specified when `operator` is 'In' or 'NotIn'");
    } else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
        if (nv)
            add(v, "values", E_FORBIDDEN, NULL,
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    } else if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
        if (nv != 1)
            add(v, "values", E_REQUIRED, NULL,
                "must be specified single value when `operator` is 'Lt' or 'Gt'");
    } else {
        add_s(v, "operator", E_INVALID, op, "not a valid selector operator");
    }
    k1s_v_check_fmt(v, "key", k1s_is_qualified_name, jstr0(rq, "key"));
    if (!allow_invalid_values) {
        size_t m = push(v, "values");
        const json_t *val;
        ARR_EACH(jarr(rq, "values"), i, val)
        {
            size_t mi = push_idx(v, i);
            k1s_v_check_fmt(v, NULL, k1s_is_label_value,
                            json_is_string(val) ? json_string_value(val) : "");
            pop(v, mi);
        }
        pop(v, m);
    }
}

static void check_node_selector_term(vctx_t *v, const json_t *term, bool allow_invalid)
{
    const json_t *rq;
    size_t m = push(v, "matchExpressions");
    ARR_EACH(jarr(term, "matchExpressions"), i, rq)
    {
        size_t mi = push_idx(v, i);
        check_node_selector_req(v, rq, allow_invalid);
        pop(v, mi);
    }
    pop(v, m);
    m = push(v, "matchFields");
    ARR_EACH(jarr(term, "matchFields"), i, rq)
    {
        size_t mi = push_idx(v, i);
        const char *op = jstr0(rq, "operator");
        if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
            if (jlen(jarr(rq, "values")) != 1)
                add(v, "values", E_REQUIRED, NULL,
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field "
                    "selector");
        } else {
            add_s(v, "operator", E_INVALID, op, "not a valid selector operator");
        }
        if (strcmp(jstr0(rq, "key"), "metadata.name") != 0) {
            add_s(v, "key", E_INVALID, jstr0(rq, "key"), "not a valid field selector key");
        } else {
            const json_t *val;
            size_t mv = push(v, "values");
            ARR_EACH(jarr(rq, "values"), j, val)
            {
                size_t mj = push_idx(v, j);
                k1s_v_check_fmt(v, NULL, k1s_is_dns1123_subdomain, json_string_value(val));
                pop(v, mj);
            }
            pop(v, mv);
        }
        pop(v, mi);
    }
    pop(v, m);
}

static void check_pod_affinity_terms(vctx_t *v, const char *child, const json_t *terms,
                                     bool weighted)
{
    size_t m = push(v, child);
    const json_t *t;
    ARR_EACH(terms, i, t)
    {
        size_t mi = push_idx(v, i);
        const json_t *term = t;
        long long w = 0;
        if (weighted) {
            jint(t, "weight", &w);
            if (w <= 0 || w > 100)
                add_i(v, "weight", E_INVALID, w, "must be in the range 1-100");
            term = jobj(t, "podAffinityTerm");
            push(v, "podAffinityTerm");
        }
        size_t ml = push(v, "labelSelector");
        k1s_v_check_selector(v, jobj(term, "labelSelector"));
        pop(v, ml);
        ml = push(v, "namespaceSelector");
        k1s_v_check_selector(v, jobj(term, "namespaceSelector"));
        pop(v, ml);
        const json_t *ns;
        ARR_EACH(jarr(term, "namespaces"), j, ns)
        k1s_v_check_fmt(v, "namespace", k1s_is_dns1123_label, json_string_value(ns));
        const char *tk = jstr0(term, "topologyKey");
        if (!*tk)
            add(v, "topologyKey", E_REQUIRED, NULL, "can not be empty");
        k1s_v_check_fmt(v, "topologyKey", k1s_is_qualified_name, tk);
        pop(v, mi);
    }
    pop(v, m);
}

static void check_affinity(vctx_t *v, const json_t *aff)
{
    if (!aff)
        return;
    size_t m = push(v, "affinity");
    const json_t *na = jobj(aff, "nodeAffinity");
    if (na) {
        size_t mn = push(v, "nodeAffinity");
        const json_t *req = jobj(na, "requiredDuringSchedulingIgnoredDuringExecution");
        if (req) {
            size_t mr = push(v, "requiredDuringSchedulingIgnoredDuringExecution");
            size_t mt = push(v, "nodeSelectorTerms");
            const json_t *terms = jarr(req, "nodeSelectorTerms"), *t;
            if (!jlen(terms))
                add(v, NULL, E_REQUIRED, NULL, "must have at least one node selector term");
            ARR_EACH(terms, i, t)
            {
                size_t mi = push_idx(v, i);
                check_node_selector_term(v, t, false);
                pop(v, mi);
            }
            pop(v, mt);
            pop(v, mr);
        }
        const json_t *pref = jarr(na, "preferredDuringSchedulingIgnoredDuringExecution"), *t;
        size_t mp = push(v, "preferredDuringSchedulingIgnoredDuringExecution");
        ARR_EACH(pref, i, t)
        {
            size_t mi = push_idx(v, i);
            long long w = 0;
            jint(t, "weight", &w);
            if (w <= 0 || w > 100)
                add_i(v, "weight", E_INVALID, w, "must be in the range 1-100");
            size_t mq = push(v, "preference");
            check_node_selector_term(v, jobj(t, "preference"), true);
            pop(v, mq);
            pop(v, mi);
        }
        pop(v, mp);
        pop(v, mn);
    }
    static const char *const kinds[] = {"podAffinity", "podAntiAffinity"};
    for (size_t k = 0; k < 2; k++) {
        const json_t *pa = jobj(aff, kinds[k]);
        if (!pa)
            continue;
        size_t mk = push(v, kinds[k]);
        check_pod_affinity_terms(v, "requiredDuringSchedulingIgnoredDuringExecution",
                                 jarr(pa, "requiredDuringSchedulingIgnoredDuringExecution"), false);
        check_pod_affinity_terms(v, "preferredDuringSchedulingIgnoredDuringExecution",
                                 jarr(pa, "preferredDuringSchedulingIgnoredDuringExecution"), true);
        pop(v, mk);
    }
    pop(v, m);
}

static void check_dns_config(vctx_t *v, const json_t *cfg, const char *policy)
{
    size_t m = push(v, "dnsConfig");
    if (!strcmp(policy, "None")) {
        if (!cfg) {
            add(v, NULL, E_REQUIRED, NULL, "must provide `dnsConfig` when `dnsPolicy` is None");
            pop(v, m);
            return;
        }
        if (!jlen(jarr(cfg, "nameservers"))) {
            add(v, "nameservers", E_REQUIRED, NULL,
                "must provide at least one DNS nameserver when `dnsPolicy` is None");
            pop(v, m);
            return;
        }
    }
    if (cfg) {
        const json_t *ns = jarr(cfg, "nameservers"), *se = jarr(cfg, "searches"), *x;
        if (jlen(ns) > 3) {
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_v_go_strings(&b, ns);
            add(v, "nameservers", E_INVALID, b.data, "must not have more than 3 nameservers");
            k1s_buf_free(&b);
        }
        size_t mn = push(v, "nameservers");
        ARR_EACH(ns, i, x)
        {
            size_t mi = push_idx(v, i);
            k1s_v_check_ip(v, NULL, json_string_value(x));
            pop(v, mi);
        }
        pop(v, mn);
        size_t total = 0;
        ARR_EACH(se, i, x)
        total += strlen(json_is_string(x) ? json_string_value(x) : "") + (i ? 1 : 0);
        if (jlen(se) > 32 || total > 2048) {
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_v_go_strings(&b, se);
            if (jlen(se) > 32)
                add(v, "searches", E_INVALID, b.data, "must not have more than 32 search paths");
            if (total > 2048)
                add(v, "searches", E_INVALID, b.data,
                    "must not have more than 2048 characters (including spaces) in the search "
                    "list");
            k1s_buf_free(&b);
        }
        size_t ms = push(v, "searches");
        ARR_EACH(se, i, x)
        {
            size_t mi = push_idx(v, i);
            const char *s = json_is_string(x) ? json_string_value(x) : "";
            size_t n = strlen(s);
            char *t = k1s_xstrndup(s, n && s[n - 1] == '.' ? n - 1 : n);
            k1s_v_check_fmt(v, NULL, k1s_is_dns1123_subdomain, t);
            free(t);
            pop(v, mi);
        }
        pop(v, ms);
        size_t mo = push(v, "options");
        ARR_EACH(jarr(cfg, "options"), i, x)
        {
            if (!*jstr0(x, "name")) {
                size_t mi = push_idx(v, i);
                add(v, NULL, E_REQUIRED, NULL, "must not be empty");
                pop(v, mi);
            }
        }
        pop(v, mo);
    }
    pop(v, m);
}

static void check_topology_spread(vctx_t *v, const json_t *tscs)
{
    size_t m = push(v, "topologySpreadConstraints");
    const json_t *c;
    static const char *const actions[] = {"DoNotSchedule", "ScheduleAnyway"};
    static const char *const policies[] = {"Honor", "Ignore"};
    ARR_EACH(tscs, i, c)
    {
        size_t mi = push_idx(v, i);
        long long skew = 0;
        jint(c, "maxSkew", &skew);
        if (skew <= 0)
            add_i(v, "maxSkew", E_INVALID, skew, "must be greater than zero");
        const char *tk = jstr0(c, "topologyKey"), *wu = jstr0(c, "whenUnsatisfiable");
        if (!*tk)
            add(v, "topologyKey", E_REQUIRED, NULL, "can not be empty");
        if (!IN(wu, actions))
            NOTSUPP(v, "whenUnsatisfiable", wu, actions);
        const json_t *other;
        ARR_EACH(tscs, j, other)
        {
            if (j <= i)
                continue;
            if (!strcmp(tk, jstr0(other, "topologyKey")) &&
                !strcmp(wu, jstr0(other, "whenUnsatisfiable"))) {
                char *d = k1s_xasprintf("{%s, %s}", tk, wu);
                add_s(v, "{topologyKey, whenUnsatisfiable}", E_DUPLICATE, d, NULL);
                free(d);
                break;
            }
        }
        long long md;
        if (jint(c, "minDomains", &md)) {
            if (md <= 0)
                add_i(v, "minDomains", E_INVALID, md, "must be greater than zero");
            if (strcmp(wu, "DoNotSchedule") != 0) {
                char *d = k1s_xasprintf(
                    "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not %s", wu);
                add_i(v, "minDomains", E_INVALID, md, d);
                free(d);
            }
        }
        static const char *const pk[] = {"nodeAffinityPolicy", "nodeTaintsPolicy"};
        for (size_t k = 0; k < 2; k++) {
            const char *p = jstr(c, pk[k]);
            if (p && !IN(p, policies))
                NOTSUPP(v, pk[k], p, policies);
        }
        size_t ml = push(v, "labelSelector");
        k1s_v_check_selector(v, jobj(c, "labelSelector"));
        pop(v, ml);
        pop(v, mi);
    }
    pop(v, m);
}

static void check_pod_security(vctx_t *v, const json_t *spec)
{
    const json_t *sc = jobj(spec, "securityContext");
    if (!sc)
        return;
    size_t m = push(v, "securityContext");
    k1s_v_check_id(v, "fsGroup", sc, "fsGroup");
    k1s_v_check_id(v, "runAsUser", sc, "runAsUser");
    k1s_v_check_id(v, "runAsGroup", sc, "runAsGroup");
    const json_t *g;
    size_t mg = push(v, "supplementalGroups");
    ARR_EACH(jarr(sc, "supplementalGroups"), i, g)
    {
        long long id;
        if (jnum(g, &id) && (id < 0 || id > INT32_MAX)) {
            size_t mi = push_idx(v, i);
            add_i(v, NULL, E_INVALID, id, "must be between 0 and 2147483647, inclusive");
            pop(v, mi);
        }
    }
    pop(v, mg);
    if (jtrue(sc, "shareProcessNamespace") && jtrue(spec, "hostPID"))
        add(v, "shareProcessNamespace", E_INVALID, "true",
            "ShareProcessNamespace and HostPID cannot both be enabled");
    const json_t *sys = jarr(sc, "sysctls"), *s;
    size_t ms = push(v, "sysctls");
    ARR_EACH(sys, i, s)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(s, "name");
        bool valid = strlen(name) <= 253;
        /* ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$ */
        const char *p = name;
        while (valid) {
            size_t n = strcspn(p, "./");
            if (n == 0 || !is_alnum_lower(p[0]) || !is_alnum_lower(p[n - 1]))
                valid = false;
            for (size_t k = 0; valid && k < n; k++)
                if (!is_alnum_lower(p[k]) && p[k] != '-' && p[k] != '_')
                    valid = false;
            if (!p[n])
                break;
            p += n + 1;
        }
        bool dup = false;
        const json_t *prev;
        ARR_EACH(sys, j, prev)
        {
            if (j >= i)
                break;
            dup |= !strcmp(jstr0(prev, "name"), name);
        }
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        else if (!valid)
            add_s(v, "name", E_INVALID, name,
                  "must have at most 253 characters and match regex "
                  "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$");
        else if (dup)
            add_s(v, "name", E_DUPLICATE, name, NULL);
        if (jtrue(spec, "hostNetwork") && k1s_str_has_prefix(name, "net."))
            add_s(v, "name", E_INVALID, name, "may not be specified when 'hostNetwork' is true");
        else if (jtrue(spec, "hostIPC") &&
                 (k1s_str_has_prefix(name, "kernel.shm") ||
                  k1s_str_has_prefix(name, "kernel.msg") ||
                  k1s_str_has_prefix(name, "kernel.sem") || k1s_str_has_prefix(name, "fs.mqueue.")))
            add_s(v, "name", E_INVALID, name, "may not be specified when 'hostIPC' is true");
        pop(v, mi);
    }
    pop(v, ms);
    const char *fcp = jstr(sc, "fsGroupChangePolicy");
    static const char *const fcps[] = {"Always", "OnRootMismatch"};
    if (fcp && !IN(fcp, fcps))
        NOTSUPP(v, "fsGroupChangePolicy", fcp, fcps);
    k1s_v_check_seccomp_profile(v, jobj(sc, "seccompProfile"));
    k1s_v_check_apparmor_profile(v, jobj(sc, "appArmorProfile"));
    const char *sgp = jstr(sc, "supplementalGroupsPolicy");
    static const char *const sgps[] = {"Merge", "Strict"};
    if (sgp && !IN(sgp, sgps))
        NOTSUPP(v, "supplementalGroupsPolicy", sgp, sgps);
    const char *slp = jstr(sc, "seLinuxChangePolicy");
    static const char *const slps[] = {"MountOption", "Recursive"};
    if (slp && !IN(slp, slps))
        NOTSUPP(v, "seLinuxChangePolicy", slp, slps);
    pop(v, m);
}

/* ValidatePodSpec at the current path ("spec" or "spec.template.spec"). pod is the whole Pod
 * when validating one (ResourceIsPod), NULL inside templates. */
static void check_pod_spec(vctx_t *v, const json_t *spec, const json_t *pod)
{
    bool is_pod = pod != NULL;
    const json_t *grace = jget(spec, "terminationGracePeriodSeconds");
    if (!grace)
        add(v, "terminationGracePeriodSeconds", E_REQUIRED, NULL, "");
    bool host_users = !json_is_false(jget(jobj(spec, "securityContext"), "hostUsers"));
    vols_t vs = {0};
    k1s_v_check_volumes(v, jarr(spec, "volumes"), pod, &vs);

    const json_t *ctrs = jarr(spec, "containers"), *inits = jarr(spec, "initContainers"), *c;
    size_t m = push(v, "containers");
    if (!jlen(ctrs)) {
        add(v, NULL, E_REQUIRED, NULL, "");
    } else {
        ARR_EACH(ctrs, i, c)
        {
            size_t mi = push_idx(v, i);
            k1s_v_check_container_common(v, c, &vs, host_users);
            const char *name = jstr0(c, "name");
            const json_t *prev;
            bool dup = false;
            ARR_EACH(ctrs, j, prev)
            {
                if (j >= i)
                    break;
                dup |= !strcmp(jstr0(prev, "name"), name);
            }
            if (dup)
                add_s(v, "name", E_DUPLICATE, name, NULL);
            if (jobj(c, "lifecycle"))
                k1s_v_check_lifecycle(v, jobj(c, "lifecycle"), grace);
            k1s_v_check_probe(v, "livenessProbe", jobj(c, "livenessProbe"), grace, PROBE_LIVENESS);
            k1s_v_check_probe(v, "readinessProbe", jobj(c, "readinessProbe"), grace,
                              PROBE_READINESS);
            k1s_v_check_probe(v, "startupProbe", jobj(c, "startupProbe"), grace, PROBE_STARTUP);
            if (jget(c, "restartPolicy"))
                add(v, "restartPolicy", E_FORBIDDEN, NULL,
                    "may not be set for non-init containers");
            pop(v, mi);
        }
        check_host_ports(v, ctrs, 0, json_array_size(ctrs), 0);
    }
    pop(v, m);

    m = push(v, "initContainers");
    ARR_EACH(inits, i, c)
    {
        size_t mi = push_idx(v, i);
        k1s_v_check_container_common(v, c, &vs, host_users);
        const char *rp = jstr(c, "restartPolicy");
        bool always = false;
        if (rp) {
            static const char *const rps[] = {"Always"};
            if (strcmp(rp, "Always") != 0)
                NOTSUPP(v, "restartPolicy", rp, rps);
            always = !strcmp(rp, "Always");
        }
        const char *name = jstr0(c, "name");
        bool dup = false;
        const json_t *prev;
        ARR_EACH(ctrs, j, prev)
        dup |= !strcmp(jstr0(prev, "name"), name);
        ARR_EACH(inits, j, prev)
        {
            if (j >= i)
                break;
            dup |= *jstr0(prev, "name") && !strcmp(jstr0(prev, "name"), name);
        }
        if (dup)
            add_s(v, "name", E_DUPLICATE, name, NULL);
        pop(v, mi);
        check_host_ports(v, inits, i, i + 1, 0);
        mi = push_idx(v, i);
        if (always) {
            if (jobj(c, "lifecycle"))
                k1s_v_check_lifecycle(v, jobj(c, "lifecycle"), grace);
            k1s_v_check_probe(v, "livenessProbe", jobj(c, "livenessProbe"), grace, PROBE_LIVENESS);
            k1s_v_check_probe(v, "readinessProbe", jobj(c, "readinessProbe"), grace,
                              PROBE_READINESS);
            k1s_v_check_probe(v, "startupProbe", jobj(c, "startupProbe"), grace, PROBE_STARTUP);
        } else {
            static const char *const forb[] = {"lifecycle", "livenessProbe", "readinessProbe",
                                               "startupProbe"};
            for (size_t k = 0; k < K1S_ARRAY_SIZE(forb); k++)
                if (jobj(c, forb[k]))
                    add(v, forb[k], E_FORBIDDEN, NULL,
                        "may not be set for init containers without restartPolicy=Always");
        }
        pop(v, mi);
    }
    pop(v, m);

    /* hostNetwork: container ports must use the host port */
    if (jtrue(spec, "hostNetwork")) {
        m = push(v, "containers");
        ARR_EACH(ctrs, i, c)
        {
            size_t mi = push_idx(v, i);
            size_t mp = push(v, "ports");
            const json_t *p;
            ARR_EACH(jarr(c, "ports"), j, p)
            {
                long long hp = 0, cp = 0;
                jint(p, "hostPort", &hp);
                jint(p, "containerPort", &cp);
                if ((is_pod || hp != 0) && hp != cp) {
                    size_t mj = push_idx(v, j);
                    add_i(v, "hostPort", E_INVALID, hp,
                          "must match `containerPort` when `hostNetwork` is true");
                    pop(v, mj);
                }
            }
            pop(v, mp);
            pop(v, mi);
        }
        pop(v, m);
    }

    const char *rp = jstr0(spec, "restartPolicy");
    static const char *const rps[] = {"Always", "OnFailure", "Never"};
    if (!*rp)
        add(v, "restartPolicy", E_REQUIRED, NULL, "");
    else if (!IN(rp, rps))
        NOTSUPP(v, "restartPolicy", rp, rps);
    const char *dp = jstr0(spec, "dnsPolicy");
    static const char *const dps[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"};
    if (!*dp)
        add(v, "dnsPolicy", E_REQUIRED, NULL, "");
    else if (!IN(dp, dps))
        NOTSUPP(v, "dnsPolicy", dp, dps);
    k1s_v_check_labels(v, "nodeSelector", jobj(spec, "nodeSelector"));
    check_pod_security(v, spec);
    check_affinity(v, jobj(spec, "affinity"));
    check_dns_config(v, jobj(spec, "dnsConfig"), dp);
    const json_t *x;
    m = push(v, "readinessGates");
    ARR_EACH(jarr(spec, "readinessGates"), i, x)
    {
        size_t mi = push_idx(v, i);
        k1s_v_check_fmt(v, "conditionType", k1s_is_qualified_name, jstr0(x, "conditionType"));
        pop(v, mi);
    }
    pop(v, m);
    m = push(v, "schedulingGates");
    ARR_EACH(jarr(spec, "schedulingGates"), i, x)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(x, "name");
        k1s_v_check_fmt(v, NULL, k1s_is_qualified_name, name);
        const json_t *prev;
        bool dup = false;
        ARR_EACH(jarr(spec, "schedulingGates"), j, prev)
        {
            if (j >= i)
                break;
            dup |= !strcmp(jstr0(prev, "name"), name);
        }
        if (dup)
            add_s(v, NULL, E_DUPLICATE, name, NULL);
        pop(v, mi);
    }
    pop(v, m);
    check_topology_spread(v, jarr(spec, "topologySpreadConstraints"));
    if (!host_users) {
        if (jtrue(spec, "hostNetwork"))
            add(v, "hostNetwork", E_FORBIDDEN, NULL, "when `pod.Spec.HostUsers` is false");
        if (jtrue(spec, "hostPID"))
            add(v, "HostPID", E_FORBIDDEN, NULL, "when `pod.Spec.HostUsers` is false");
        if (jtrue(spec, "hostIPC"))
            add(v, "HostIPC", E_FORBIDDEN, NULL, "when `pod.Spec.HostUsers` is false");
    }
    const char *san = jstr0(spec, "serviceAccountName");
    if (*san)
        k1s_v_check_fmt(v, "serviceAccountName", k1s_is_dns1123_subdomain, san);
    const char *nn = jstr0(spec, "nodeName");
    if (*nn)
        k1s_v_check_fmt(v, "nodeName", k1s_is_dns1123_subdomain, nn);
    long long ads;
    if (jint(spec, "activeDeadlineSeconds", &ads) && (ads < 1 || ads > INT32_MAX))
        add_i(v, "activeDeadlineSeconds", E_INVALID, ads,
              "must be between 1 and 2147483647, inclusive");
    if (*jstr0(spec, "hostname"))
        k1s_v_check_fmt(v, "hostname", k1s_is_dns1123_label, jstr0(spec, "hostname"));
    if (*jstr0(spec, "subdomain"))
        k1s_v_check_fmt(v, "subdomain", k1s_is_dns1123_label, jstr0(spec, "subdomain"));
    if (jlen(jarr(spec, "tolerations")))
        check_tolerations(v, jarr(spec, "tolerations"));
    m = push(v, "hostAliases");
    ARR_EACH(jarr(spec, "hostAliases"), i, x)
    {
        size_t mi = push_idx(v, i);
        k1s_v_check_ip(v, "ip", jstr0(x, "ip"));
        const json_t *h;
        size_t mh = push(v, "hostnames");
        ARR_EACH(jarr(x, "hostnames"), j, h)
        {
            size_t mj = push_idx(v, j);
            k1s_v_check_fmt(v, NULL, k1s_is_dns1123_subdomain, json_string_value(h));
            pop(v, mj);
        }
        pop(v, mh);
        pop(v, mi);
    }
    pop(v, m);
    if (*jstr0(spec, "priorityClassName"))
        k1s_v_check_fmt(v, "priorityClassName", k1s_is_dns1123_subdomain,
                        jstr0(spec, "priorityClassName"));
    if (jstr(spec, "runtimeClassName"))
        k1s_v_check_fmt(v, "runtimeClassName", k1s_is_dns1123_subdomain,
                        jstr(spec, "runtimeClassName"));
    const char *pp = jstr(spec, "preemptionPolicy");
    if (pp) {
        static const char *const pps[] = {"PreemptLowerPriority", "Never"};
        if (!*pp)
            add(v, "preemptionPolicy", E_REQUIRED, NULL, "");
        else if (!IN(pp, pps))
            NOTSUPP(v, "preemptionPolicy", pp, pps);
    }
    if (jobj(spec, "overhead")) {
        json_t *res = json_pack("{s:O}", "limits", jobj(spec, "overhead"));
        m = push(v, "overhead");
        k1s_v_check_resources(v, res);
        pop(v, m);
        json_decref(res);
    }
    const json_t *os = jobj(spec, "os");
    if (os) {
        static const char *const oses[] = {"linux", "windows"};
        const char *name = jstr0(os, "name");
        if (!*name)
            add(v, "os.name", E_REQUIRED, NULL, "cannot be empty");
        else if (!IN(name, oses))
            NOTSUPP(v, "os", name, oses);
    }
    free(vs.v);
}

void k1s_v_check_pod_annotations(vctx_t *v, const json_t *ann, const json_t *spec)
{
    const char *mirror = jstr(ann, "kubernetes.io/config.mirror");
    if (mirror && !*jstr0(spec, "nodeName")) {
        size_t m = push_key(v, "kubernetes.io/config.mirror");
        add_s(v, NULL, E_INVALID, mirror, "must set spec.nodeName if mirror pod annotation is set");
        pop(v, m);
    }
    const char *cost = jstr(ann, "controller.kubernetes.io/pod-deletion-cost");
    if (cost) {
        bool ok =
            *cost && (cost[0] == '-' || !strcmp(cost, "0") || (cost[0] >= '1' && cost[0] <= '9'));
        char *end = NULL;
        errno = 0;
        long long x = ok ? strtoll(cost, &end, 10) : 0;
        if (!ok || errno || !end || *end || x < INT32_MIN || x > INT32_MAX ||
            (cost[0] == '-' && !isdigit((unsigned char)cost[1]))) {
            size_t m = push_key(v, "controller.kubernetes.io/pod-deletion-cost");
            add_s(v, NULL, E_INVALID, cost, "must be a 32bit integer");
            pop(v, m);
        }
    }
    /* ValidateSeccompPodAnnotations: reported at annotations.<key> (a Child, not a Key) */
    const char *k;
    const json_t *val;
    OBJ_EACH(ann, k, val)
    {
        if (strcmp(k, "seccomp.security.alpha.kubernetes.io/pod") &&
            !k1s_str_has_prefix(k, "container.seccomp.security.alpha.kubernetes.io/"))
            continue;
        const char *p = json_is_string(val) ? json_string_value(val) : "";
        char *child = k1s_xstrdup(k);
        if (k1s_str_has_prefix(p, "localhost/"))
            k1s_v_check_local_descending(v, child, p + strlen("localhost/"));
        else if (strcmp(p, "runtime/default") && strcmp(p, "docker/default") &&
                 strcmp(p, "unconfined"))
            add_s(v, child, E_INVALID, p, "must be a valid seccomp profile");
        free(child);
    }
    /* ValidateAppArmorPodAnnotations */
    static const char apparmor[] = "container.apparmor.security.beta.kubernetes.io/";
    OBJ_EACH(ann, k, val)
    {
        if (!k1s_str_has_prefix(k, apparmor))
            continue;
        const char *ctr = k + strlen(apparmor);
        bool found = false;
        static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
        for (size_t l = 0; l < K1S_ARRAY_SIZE(lists); l++) {
            const json_t *c;
            ARR_EACH(jarr(spec, lists[l]), i, c)
            found |= !strcmp(jstr0(c, "name"), ctr);
        }
        size_t m = push_key(v, k);
        if (!found)
            add_s(v, NULL, E_INVALID, ctr, "container not found");
        const char *p = json_is_string(val) ? json_string_value(val) : "";
        if (*p && strcmp(p, "runtime/default") && strcmp(p, "unconfined") &&
            !k1s_str_has_prefix(p, "localhost/")) {
            char *q = k1s_v_quoted(p);
            char *d = k1s_xasprintf("invalid AppArmor profile name: %s", q);
            add_s(v, NULL, E_INVALID, p, d);
            free(d);
            free(q);
        }
        pop(v, m);
    }
}

/* ValidatePodTemplateSpec at the current path ("spec.template") */
void k1s_v_check_pod_template(vctx_t *v, const json_t *tmpl)
{
    const json_t *meta = jobj(tmpl, "metadata"), *spec = jobj(tmpl, "spec");
    k1s_v_check_labels(v, "labels", jobj(meta, "labels"));
    k1s_v_check_annotations(v, "annotations", jobj(meta, "annotations"));
    size_t m = push(v, "annotations");
    k1s_v_check_pod_annotations(v, jobj(meta, "annotations"), spec);
    pop(v, m);
    m = push(v, "spec");
    check_pod_spec(v, spec, NULL);
    pop(v, m);
    if (jlen(jarr(spec, "ephemeralContainers")))
        add(v, "spec.ephemeralContainers", E_FORBIDDEN, NULL,
            "ephemeral containers not allowed in pod template");
}

/* ------------------------------------------------------------------------------------------ */
/* Pods                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* validatePodMetadataAndSpec */
static void check_pod_meta_and_spec(vctx_t *v, const k1s_resource_t *r, const json_t *pod)
{
    const json_t *meta = jobj(pod, "metadata"), *spec = jobj(pod, "spec");
    size_t m = push(v, "metadata");
    k1s_v_check_meta_create(v, r, meta, true);
    size_t ma = push(v, "annotations");
    k1s_v_check_pod_annotations(v, jobj(meta, "annotations"), spec);
    pop(v, ma);
    pop(v, m);
    m = push(v, "spec");
    check_pod_spec(v, spec, pod);
    if (!*jstr0(spec, "serviceAccountName")) {
        size_t mv = push(v, "volumes");
        const json_t *vol, *src;
        ARR_EACH(jarr(spec, "volumes"), i, vol)
        {
            ARR_EACH(jarr(jobj(vol, "projected"), "sources"), j, src)
            {
                if (!jobj(src, "serviceAccountToken"))
                    continue;
                size_t mi = push_idx(v, i);
                push(v, "projected");
                push(v, "sources");
                push_idx(v, j);
                add(v, "serviceAccountToken", E_FORBIDDEN, NULL,
                    "must not be specified when serviceAccountName is not set");
                pop(v, mi);
            }
        }
        pop(v, mv);
    }
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t k = 0; k < 2; k++) {
        size_t ml = push(v, lists[k]);
        const json_t *c;
        ARR_EACH(jarr(spec, lists[k]), i, c)
        {
            const char *img = jstr0(c, "image");
            size_t n = strlen(img);
            if (n && (isspace((unsigned char)img[0]) || isspace((unsigned char)img[n - 1]))) {
                size_t mi = push_idx(v, i);
                add_s(v, "image", E_INVALID, img, "must not have leading or trailing whitespace");
                pop(v, mi);
            }
        }
        pop(v, ml);
    }
    pop(v, m);
}

void k1s_v_check_pod_create(vctx_t *v, const k1s_resource_t *r, const json_t *pod)
{
    check_pod_meta_and_spec(v, r, pod);
    const json_t *spec = jobj(pod, "spec");
    size_t m = push(v, "spec");
    if (jlen(jarr(spec, "ephemeralContainers")))
        add(v, "ephemeralContainers", E_FORBIDDEN, NULL, "cannot be set on create");
    if (*jstr0(spec, "nodeName") && jlen(jarr(spec, "schedulingGates")))
        add(v, "nodeName", E_FORBIDDEN, NULL,
            "cannot be set until all schedulingGates have been cleared");
    pop(v, m);
}

static bool toleration_eq_but_seconds(const json_t *a, const json_t *b)
{
    json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
    json_object_del(ca, "tolerationSeconds");
    json_object_del(cb, "tolerationSeconds");
    bool eq = k1s_v_same(ca, cb);
    json_decref(ca);
    json_decref(cb);
    return eq;
}

void k1s_v_check_pod_update(vctx_t *v, const k1s_resource_t *r, const json_t *pod,
                            const json_t *old)
{
    const json_t *spec = jobj(pod, "spec"), *ospec = jobj(old, "spec");
    size_t m = push(v, "metadata");
    k1s_v_check_meta_update(v, jobj(pod, "metadata"), jobj(old, "metadata"), true);
    pop(v, m);
    check_pod_meta_and_spec(v, r, pod);
    /* mirror pod annotation can be neither added, removed nor changed */
    const char *mk = "kubernetes.io/config.mirror";
    const char *nm = jstr(jobj(jobj(pod, "metadata"), "annotations"), mk);
    const char *om = jstr(jobj(jobj(old, "metadata"), "annotations"), mk);
    m = push(v, "metadata");
    push(v, "annotations");
    push_key(v, mk);
    if (om && (!nm || strcmp(nm, om)))
        add(v, NULL, E_FORBIDDEN, NULL, "may not remove or update mirror pod annotation");
    if (nm && !om)
        add(v, NULL, E_FORBIDDEN, NULL, "may not add mirror pod annotation");
    pop(v, m);
    m = push(v, "metadata");
    push(v, "annotations");
    k1s_v_check_pod_annotations(v, jobj(jobj(pod, "metadata"), "annotations"), spec);
    pop(v, m);

    m = push(v, "spec");
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t k = 0; k < 2; k++) {
        const json_t *nl = jarr(spec, lists[k]), *ol = jarr(ospec, lists[k]), *c;
        if (jlen(nl) != jlen(ol)) {
            add(v, lists[k], E_FORBIDDEN, NULL, "pod updates may not add or remove containers");
            pop(v, m);
            return;
        }
        size_t ml = push(v, lists[k]);
        ARR_EACH(nl, i, c)
        {
            const char *img = jstr0(c, "image");
            size_t n = strlen(img);
            size_t mi = push_idx(v, i);
            if (!n)
                add(v, "image", E_REQUIRED, NULL, "");
            if (n && (isspace((unsigned char)img[0]) || isspace((unsigned char)img[n - 1])))
                add_s(v, "image", E_INVALID, img, "must not have leading or trailing whitespace");
            pop(v, mi);
        }
        pop(v, ml);
    }
    long long nads = 0, oads = 0;
    bool hn = jint(spec, "activeDeadlineSeconds", &nads),
         ho = jint(ospec, "activeDeadlineSeconds", &oads);
    if (hn) {
        if (nads < 0 || nads > INT32_MAX) {
            add_i(v, "activeDeadlineSeconds", E_INVALID, nads,
                  "must be between 0 and 2147483647, inclusive");
            pop(v, m);
            return;
        }
        if (ho && oads < nads) {
            add_i(v, "activeDeadlineSeconds", E_INVALID, nads,
                  "must be less than or equal to previous value");
            pop(v, m);
            return;
        }
    } else if (ho) {
        add(v, "activeDeadlineSeconds", E_INVALID, "null",
            "must not update from a positive integer to nil value");
    }
    /* tolerations: existing ones may only change tolerationSeconds */
    const json_t *nt = jarr(spec, "tolerations"), *ot = jarr(ospec, "tolerations"), *t, *u;
    bool tol_ok = true;
    ARR_EACH(ot, i, t)
    {
        bool found = false;
        ARR_EACH(nt, j, u)
        found |= toleration_eq_but_seconds(t, u);
        if (!found) {
            add(v, "tolerations", E_FORBIDDEN, NULL,
                "existing toleration can not be modified except its tolerationSeconds");
            tol_ok = false;
            break;
        }
    }
    if (tol_ok)
        check_tolerations(v, nt);
    /* scheduling gates: only deletions */
    const json_t *ng = jarr(spec, "schedulingGates"), *og = jarr(ospec, "schedulingGates"), *g, *h;
    ARR_EACH(ng, i, g)
    {
        bool found = false;
        ARR_EACH(og, j, h)
        found |= !strcmp(jstr0(g, "name"), jstr0(h, "name"));
        if (!found) {
            size_t ms = push(v, "schedulingGates");
            push_idx(v, i);
            add_f(v, "name", E_FORBIDDEN, NULL,
                  "only deletion is allowed, but found new scheduling gate '%s'", jstr0(g, "name"));
            pop(v, ms);
        }
    }
    if (!k1s_v_same(spec, ospec)) {
        json_t *munged = k1s_v_copy_or_empty(spec);
        for (size_t k = 0; k < 2; k++) {
            json_t *cl = json_object_get(munged, lists[k]), *c;
            ARR_EACH(cl, i, c)
            {
                const json_t *oc = json_array_get(jarr(ospec, lists[k]), i);
                if (jget(oc, "image"))
                    json_object_set(c, "image", (json_t *)jget(oc, "image"));
                else
                    json_object_del(c, "image");
            }
        }
        static const char *const copied[] = {"activeDeadlineSeconds", "schedulingGates",
                                             "tolerations"};
        for (size_t k = 0; k < K1S_ARRAY_SIZE(copied); k++) {
            if (jget(ospec, copied[k]))
                json_object_set(munged, copied[k], (json_t *)jget(ospec, copied[k]));
            else
                json_object_del(munged, copied[k]);
        }
        long long og_grace, ng_grace;
        if (jint(ospec, "terminationGracePeriodSeconds", &og_grace) && og_grace < 0 &&
            jint(munged, "terminationGracePeriodSeconds", &ng_grace) && ng_grace == 1)
            json_object_set(munged, "terminationGracePeriodSeconds",
                            (json_t *)jget(ospec, "terminationGracePeriodSeconds"));
        if (jlen(og)) {
            /* gated pods may add to spec.nodeSelector */
            const json_t *ons = jobj(ospec, "nodeSelector"), *nns = jobj(munged, "nodeSelector");
            if (!k1s_v_same(ons, nns)) {
                const char *k;
                const json_t *val;
                bool only_additions = true;
                OBJ_EACH(ons, k, val)
                {
                    const char *nv = jstr(nns, k);
                    if (!nv || !json_is_string(val) || strcmp(nv, json_string_value(val)))
                        only_additions = false;
                }
                if (!only_additions) {
                    k1s_buf_t b = K1S_BUF_INIT;
                    k1s_v_go_map(&b, nns);
                    add(v, "nodeSelector", E_INVALID, b.data,
                        "only additions to spec.nodeSelector are allowed (no mutations or "
                        "deletions)");
                    k1s_buf_free(&b);
                }
                if (ons)
                    json_object_set(munged, "nodeSelector", (json_t *)ons);
                else
                    json_object_del(munged, "nodeSelector");
            }
        }
        if (!k1s_v_same(munged, ospec)) {
            char *diff = k1s_v_spec_diff("core.PodSpec", ospec, munged);
            add_f(
                v, NULL, E_FORBIDDEN, NULL,
                "pod updates may not change fields other than "
                "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                "was previously negative)\n%s",
                diff);
            free(diff);
        }
        json_decref(munged);
    }
    pop(v, m);
}

/* ------------------------------------------------------------------------------------------ */
/* Pod QoS                                                                                    */
/* ------------------------------------------------------------------------------------------ */

const char *k1s_pod_qos_class(const json_t *pod)
{
    const json_t *spec = jobj(pod, "spec"), *c;
    /* requests and limits of cpu and memory, summed over containers and init containers */
    bool any = false, guaranteed = true;
    static const char *const res[] = {"cpu", "memory"};
    bool lim_set[2] = {false, false};
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t l = 0; l < 2; l++) {
        ARR_EACH(jarr(spec, lists[l]), i, c)
        {
            const json_t *rq = jobj(jobj(c, "resources"), "requests");
            const json_t *lm = jobj(jobj(c, "resources"), "limits");
            for (size_t r = 0; r < 2; r++) {
                k1s_quantity_t q, lq;
                bool has_req = jget(rq, res[r]) &&
                               k1s_quantity_from_json(jget(rq, res[r]), &q, NULL) == 0 &&
                               k1s_quantity_sign(&q) != 0;
                bool has_lim = jget(lm, res[r]) &&
                               k1s_quantity_from_json(jget(lm, res[r]), &lq, NULL) == 0 &&
                               k1s_quantity_sign(&lq) != 0;
                if (has_req || has_lim)
                    any = true;
                if (has_lim)
                    lim_set[r] = true;
                if (!has_lim || (has_req && k1s_quantity_cmp(&q, &lq) != 0))
                    guaranteed = false;
            }
        }
    }
    if (!any)
        return "BestEffort";
    if (guaranteed && lim_set[0] && lim_set[1])
        return "Guaranteed";
    return "Burstable";
}
