/*
 * Service validation (pkg/apis/core/validation: ValidateService and
 * ValidateServiceUpdate): types, ports, cluster IPs and IP families,
 * external traffic policy and what an update may change.
 */
#include "api/validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-int.h"

static bool svc_headless(const json_t *spec)
{
    const json_t *ips = jarr(spec, "clusterIPs");
    return jlen(ips) == 1 && json_is_string(json_array_get(ips, 0)) &&
           !strcmp(json_string_value(json_array_get(ips, 0)), "None");
}

static bool svc_externally_accessible(const json_t *spec)
{
    const char *t = jstr0(spec, "type");
    return !strcmp(t, "LoadBalancer") || !strcmp(t, "NodePort") ||
           (!strcmp(t, "ClusterIP") && jlen(jarr(spec, "externalIPs")) > 0);
}

static bool svc_needs_hc(const json_t *spec)
{
    return !strcmp(jstr0(spec, "type"), "LoadBalancer") &&
           !strcmp(jstr0(spec, "externalTrafficPolicy"), "Local");
}

void k1s_v_add_strings_value(vctx_t *v, const char *child, const json_t *list, const char *detail)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_v_go_strings(&b, list);
    add(v, child, E_INVALID, b.data, detail);
    k1s_buf_free(&b);
}

/* ValidateServiceClusterIPsRelatedFields, at "spec" */
static void check_cluster_ips(vctx_t *v, const json_t *spec)
{
    if (!strcmp(jstr0(spec, "type"), "ExternalName"))
        return;
    const char *ip = jstr0(spec, "clusterIP");
    const json_t *ips = jarr(spec, "clusterIPs"), *x;
    if (*ip) {
        if (!jlen(ips))
            add(v, "clusterIPs", E_REQUIRED, NULL, "");
        else if (strcmp(json_string_value(json_array_get(ips, 0))
                            ? json_string_value(json_array_get(ips, 0))
                            : "",
                        ip))
            k1s_v_add_strings_value(v, "clusterIPs", ips, "first value must match `clusterIP`");
    } else if (jlen(ips)) {
        k1s_v_add_strings_value(v, "clusterIPs", ips,
                                "must be empty when `clusterIP` is not specified");
    }
    static const char *const fams[] = {"IPv4", "IPv6"};
    size_t m = push(v, "ipFamilies");
    ARR_EACH(jarr(spec, "ipFamilies"), i, x)
    {
        const char *f = json_is_string(x) ? json_string_value(x) : "";
        size_t mi = push_idx(v, i);
        if (!IN(f, fams))
            NOTSUPP(v, NULL, f, fams);
        const json_t *prev;
        bool dup = false;
        ARR_EACH(jarr(spec, "ipFamilies"), j, prev)
        {
            if (j >= i)
                break;
            dup |= json_is_string(prev) && !strcmp(json_string_value(prev), f);
        }
        if (dup)
            add_s(v, NULL, E_DUPLICATE, f, NULL);
        pop(v, mi);
    }
    pop(v, m);
    const char *pol = jstr(spec, "ipFamilyPolicy");
    static const char *const pols[] = {"PreferDualStack", "RequireDualStack", "SingleStack"};
    if (pol && !IN(pol, pols))
        NOTSUPP(v, "ipFamilyPolicy", pol, pols);
    bool invalid = false;
    int nv4 = 0, nv6 = 0;
    ARR_EACH(ips, i, x)
    {
        const char *s = json_is_string(x) ? json_string_value(x) : "";
        if (i == 0 && !strcmp(s, "None")) {
            if (jlen(ips) > 1) {
                invalid = true;
                k1s_v_add_strings_value(v, "clusterIPs", ips,
                                        "'None' must be the first and only value");
            }
            continue;
        }
        bool v6;
        if (!k1s_v_parse_ip_sloppy(s, &v6)) {
            invalid = true;
            size_t mc = push(v, "clusterIPs");
            push_idx(v, i);
            k1s_v_check_ip(v, NULL, s);
            pop(v, mc);
        } else if (v6) {
            nv6++;
        } else {
            nv4++;
        }
    }
    if (jlen(ips) > 2)
        k1s_v_add_strings_value(v, "clusterIPs", ips, "may only hold up to 2 values");
    if (invalid)
        return;
    if (jlen(ips) > 1 && !(nv4 == 1 && nv6 == 1))
        k1s_v_add_strings_value(v, "clusterIPs", ips,
                                "may specify no more than one IP for each IP family");
    if (!svc_headless(spec) && jlen(ips) && jlen(jarr(spec, "ipFamilies"))) {
        ARR_EACH(ips, i, x)
        {
            if (i >= jlen(jarr(spec, "ipFamilies")))
                break;
            const char *fam = json_string_value(json_array_get(jarr(spec, "ipFamilies"), i));
            bool v6 = false;
            k1s_v_parse_ip_sloppy(json_string_value(x), &v6);
            size_t mc;
            if (fam && !strcmp(fam, "IPv4") && v6) {
                mc = push(v, "clusterIPs");
                push_idx(v, i);
                char *d =
                    k1s_xasprintf("expected an IPv4 value as indicated by `ipFamilies[%zu]`", i);
                add_s(v, NULL, E_INVALID, json_string_value(x), d);
                free(d);
                pop(v, mc);
            }
            if (fam && !strcmp(fam, "IPv6") && !v6) {
                mc = push(v, "clusterIPs");
                push_idx(v, i);
                char *d =
                    k1s_xasprintf("expected an IPv6 value as indicated by `ipFamilies[%zu]`", i);
                add_s(v, NULL, E_INVALID, json_string_value(x), d);
                free(d);
                pop(v, mc);
            }
        }
    }
}

static void check_service_spec(vctx_t *v, const json_t *svc)
{
    const json_t *spec = jobj(svc, "spec"), *meta = jobj(svc, "metadata");
    const json_t *ann = jobj(meta, "annotations");
    const char *hints = jstr(ann, "service.kubernetes.io/topology-aware-hints");
    const char *mode = jstr(ann, "service.kubernetes.io/topology-mode");
    if (hints && mode && strcmp(hints, mode)) {
        size_t m = push(v, "metadata");
        push(v, "annotations");
        push_key(v, "service.kubernetes.io/topology-mode");
        add_s(v, NULL, E_INVALID, mode,
              "must match annotations[service.kubernetes.io/topology-aware-hints] when both are "
              "specified");
        pop(v, m);
    }
    size_t m = push(v, "spec");
    const char *type = jstr0(spec, "type");
    const json_t *ports = jarr(spec, "ports"), *p;
    bool headless = svc_headless(spec);
    if (!jlen(ports) && !headless && strcmp(type, "ExternalName"))
        add(v, "ports", E_REQUIRED, NULL, "");
    if (!strcmp(type, "LoadBalancer") || !strcmp(type, "NodePort")) {
        if (headless) {
            char *d = k1s_xasprintf("may not be set to 'None' for %s services", type);
            add_s(v, "clusterIPs[0]", E_INVALID, "None", d);
            free(d);
        }
    } else if (!strcmp(type, "ExternalName")) {
        if (jlen(jarr(spec, "clusterIPs")))
            add(v, "clusterIPs", E_FORBIDDEN, NULL, "may not be set for ExternalName services");
        if (jlen(jarr(spec, "ipFamilies")))
            add(v, "ipFamilies", E_FORBIDDEN, NULL, "may not be set for ExternalName services");
        if (jget(spec, "ipFamilyPolicy"))
            add(v, "ipFamilyPolicy", E_FORBIDDEN, NULL, "may not be set for ExternalName services");
        const char *en = jstr0(spec, "externalName");
        size_t n = strlen(en);
        char *cname = k1s_xstrndup(en, n && en[n - 1] == '.' ? n - 1 : n);
        if (*cname)
            k1s_v_check_fmt(v, "externalName", k1s_is_dns1123_subdomain, cname);
        else
            add(v, "externalName", E_REQUIRED, NULL, "");
        free(cname);
    }
    static const char *const protos[] = {"SCTP", "TCP", "UDP"};
    size_t mp = push(v, "ports");
    ARR_EACH(ports, i, p)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(p, "name");
        if (jlen(ports) > 1 && !*name) {
            add(v, "name", E_REQUIRED, NULL, "");
        } else if (*name) {
            k1s_v_check_fmt(v, "name", k1s_is_dns1123_label, name);
            const json_t *prev;
            bool dup = false;
            ARR_EACH(ports, j, prev)
            {
                if (j >= i)
                    break;
                dup |= !strcmp(jstr0(prev, "name"), name);
            }
            if (dup)
                add_s(v, "name", E_DUPLICATE, name, NULL);
        }
        long long port = 0;
        jint(p, "port", &port);
        if (port < 1 || port > 65535)
            add_i(v, "port", E_INVALID, port, MSG_PORT_RANGE);
        const char *proto = jstr0(p, "protocol");
        if (!*proto)
            add(v, "protocol", E_REQUIRED, NULL, "");
        else if (!IN(proto, protos))
            NOTSUPP(v, "protocol", proto, protos);
        k1s_v_check_port_num_or_name(v, "targetPort", jget(p, "targetPort"));
        if (jstr(p, "appProtocol"))
            k1s_v_check_fmt(v, "appProtocol", k1s_is_qualified_name, jstr(p, "appProtocol"));
        pop(v, mi);
    }
    pop(v, mp);
    if (jobj(spec, "selector"))
        k1s_v_check_labels(v, "selector", jobj(spec, "selector"));
    const char *aff = jstr0(spec, "sessionAffinity");
    static const char *const affs[] = {"ClientIP", "None"};
    if (!*aff)
        add(v, "sessionAffinity", E_REQUIRED, NULL, "");
    else if (!IN(aff, affs))
        NOTSUPP(v, "sessionAffinity", aff, affs);
    const json_t *sac = jobj(spec, "sessionAffinityConfig");
    if (!strcmp(aff, "ClientIP")) {
        size_t ms = push(v, "sessionAffinityConfig");
        const json_t *cip = jobj(sac, "clientIP");
        long long t;
        if (!sac)
            add(v, NULL, E_REQUIRED, NULL, "when session affinity type is ClientIP");
        else if (!cip)
            add(v, "clientIP", E_REQUIRED, NULL, "when session affinity type is ClientIP");
        else if (!jint(cip, "timeoutSeconds", &t))
            add(v, "clientIP.timeoutSeconds", E_REQUIRED, NULL,
                "when session affinity type is ClientIP");
        else if (t <= 0 || t > 86400)
            add_i(v, "clientIP.timeoutSeconds", E_INVALID, t,
                  "must be greater than 0 and less than 86400");
        pop(v, ms);
    } else if (!strcmp(aff, "None") && sac) {
        add(v, "sessionAffinityConfig", E_FORBIDDEN, NULL,
            "must not be set when session affinity is None");
    }
    check_cluster_ips(v, spec);
    const json_t *x;
    size_t me = push(v, "externalIPs");
    ARR_EACH(jarr(spec, "externalIPs"), i, x)
    {
        size_t mi = push_idx(v, i);
        const char *ip = json_is_string(x) ? json_string_value(x) : "";
        bool v6;
        if (!k1s_v_parse_ip_sloppy(ip, &v6)) {
            k1s_v_check_ip(v, NULL, ip);
        } else {
            unsigned char a[16];
            if (!v6) {
                unsigned b0, b1, b2, b3;
                sscanf(ip, "%u.%u.%u.%u", &b0, &b1, &b2, &b3);
                if (!b0 && !b1 && !b2 && !b3) {
                    char *d = k1s_xasprintf("may not be unspecified (%s)", ip);
                    add_s(v, NULL, E_INVALID, ip, d);
                    free(d);
                }
                if (b0 == 127)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the loopback range (127.0.0.0/8, ::1/128)");
                if (b0 == 169 && b1 == 254)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
                if (b0 == 224 && b1 == 0 && b2 == 0)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
            } else if (inet_pton(AF_INET6, ip, a) == 1) {
                static const unsigned char zero[16];
                if (!memcmp(a, zero, 16)) {
                    char *d = k1s_xasprintf("may not be unspecified (%s)", ip);
                    add_s(v, NULL, E_INVALID, ip, d);
                    free(d);
                }
                if (!memcmp(a, zero, 15) && a[15] == 1)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the loopback range (127.0.0.0/8, ::1/128)");
                if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
                if (a[0] == 0xff && (a[1] & 0x0f) == 0x02)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
            }
        }
        pop(v, mi);
    }
    pop(v, me);
    static const char *const types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"};
    if (!*type)
        add(v, "type", E_REQUIRED, NULL, "");
    else if (!IN(type, types))
        NOTSUPP(v, "type", type, types);
    mp = push(v, "ports");
    ARR_EACH(ports, i, p)
    {
        long long np = 0;
        jint(p, "nodePort", &np);
        size_t mi = push_idx(v, i);
        if (!strcmp(type, "ClusterIP") && np)
            add(v, "nodePort", E_FORBIDDEN, NULL, "may not be used when `type` is 'ClusterIP'");
        pop(v, mi);
    }
    ARR_EACH(ports, i, p)
    {
        long long np = 0;
        if (!jint(p, "nodePort", &np) || !np)
            continue;
        const json_t *prev;
        bool dup = false;
        ARR_EACH(ports, j, prev)
        {
            long long pnp = 0;
            if (j >= i)
                break;
            jint(prev, "nodePort", &pnp);
            dup |= pnp == np && !strcmp(jstr0(prev, "protocol"), jstr0(p, "protocol"));
        }
        if (dup) {
            size_t mi = push_idx(v, i);
            add_i(v, "nodePort", E_DUPLICATE, np, NULL);
            pop(v, mi);
        }
    }
    ARR_EACH(ports, i, p)
    {
        long long port = 0;
        jint(p, "port", &port);
        const json_t *prev;
        bool dup = false;
        ARR_EACH(ports, j, prev)
        {
            long long pp = 0;
            if (j >= i)
                break;
            jint(prev, "port", &pp);
            dup |= pp == port && !strcmp(jstr0(prev, "protocol"), jstr0(p, "protocol"));
        }
        if (dup) {
            size_t mi = push_idx(v, i);
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_puts(&b, "core.ServicePort{Name:\"\", Protocol:");
            k1s_v_go_quote(&b, jstr0(p, "protocol"));
            k1s_buf_printf(&b,
                           ", AppProtocol:(*string)(nil), Port:%lld, TargetPort:"
                           "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
                           port);
            add(v, NULL, E_DUPLICATE, b.data, NULL);
            k1s_buf_free(&b);
            pop(v, mi);
        }
    }
    pop(v, mp);
    const json_t *ranges = jarr(spec, "loadBalancerSourceRanges");
    const char *ann_ranges = jstr(ann, "service.beta.kubernetes.io/load-balancer-source-ranges");
    if (jlen(ranges)) {
        size_t mr = push(v, "LoadBalancerSourceRanges");
        if (strcmp(type, "LoadBalancer"))
            add(v, NULL, E_FORBIDDEN, NULL, "may only be used when `type` is 'LoadBalancer'");
        ARR_EACH(ranges, i, x)
        {
            size_t mi = push_idx(v, i);
            const char *s = json_is_string(x) ? json_string_value(x) : "";
            while (isspace((unsigned char)*s))
                s++;
            size_t n = strlen(s);
            while (n && isspace((unsigned char)s[n - 1]))
                n--;
            char *t = k1s_xstrndup(s, n);
            k1s_v_check_cidr(v, NULL, t);
            free(t);
            pop(v, mi);
        }
        pop(v, mr);
    } else if (ann_ranges) {
        pop(v, m);
        size_t ma = push(v, "metadata");
        push(v, "annotations");
        push_key(v, "service.beta.kubernetes.io/load-balancer-source-ranges");
        if (strcmp(type, "LoadBalancer"))
            add(v, NULL, E_FORBIDDEN, NULL, "may only be used when `type` is 'LoadBalancer'");
        char *copy = k1s_xstrdup(ann_ranges), *save = NULL;
        bool blank = true;
        for (const char *c = copy; *c; c++)
            blank &= isspace((unsigned char)*c) != 0;
        for (char *tok = blank ? NULL : strtok_r(copy, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*tok))
                tok++;
            size_t n = strlen(tok);
            while (n && isspace((unsigned char)tok[n - 1]))
                tok[--n] = 0;
            k1s_v_check_cidr(v, NULL, tok);
        }
        free(copy);
        pop(v, ma);
        m = push(v, "spec");
    }
    if (jget(spec, "allocateLoadBalancerNodePorts") && strcmp(type, "LoadBalancer"))
        add(v, "allocateLoadBalancerNodePorts", E_FORBIDDEN, NULL,
            "may only be used when `type` is 'LoadBalancer'");
    if (!strcmp(type, "LoadBalancer") && !jget(spec, "allocateLoadBalancerNodePorts")) {
        pop(v, m);
        add(v, "allocateLoadBalancerNodePorts", E_REQUIRED, NULL, "");
        m = push(v, "spec");
    }
    const char *lbc = jstr(spec, "loadBalancerClass");
    if (!strcmp(type, "LoadBalancer")) {
        if (lbc)
            k1s_v_check_fmt(v, "loadBalancerClass", k1s_is_qualified_name, lbc);
    } else if (lbc) {
        add(v, "loadBalancerClass", E_FORBIDDEN, NULL,
            "may only be used when `type` is 'LoadBalancer'");
    }
    const char *etp = jstr0(spec, "externalTrafficPolicy");
    static const char *const etps[] = {"Cluster", "Local"};
    if (!svc_externally_accessible(spec)) {
        if (*etp)
            add_s(v, "externalTrafficPolicy", E_INVALID, etp,
                  "may only be set for externally-accessible services");
    } else if (!*etp) {
        add(v, "externalTrafficPolicy", E_REQUIRED, NULL, "");
    } else if (!IN(etp, etps)) {
        NOTSUPP(v, "externalTrafficPolicy", etp, etps);
    }
    long long hc = 0;
    jint(spec, "healthCheckNodePort", &hc);
    if (!svc_needs_hc(spec)) {
        if (hc)
            add_i(v, "healthCheckNodePort", E_INVALID, hc,
                  "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                  "'Local'");
    } else if (hc && (hc < 1 || hc > 65535)) {
        add_i(v, "healthCheckNodePort", E_INVALID, hc, MSG_PORT_RANGE);
    }
    const char *itp = jstr(spec, "internalTrafficPolicy");
    if (!itp &&
        (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer") || !strcmp(type, "ClusterIP")))
        add(v, "internalTrafficPolicy", E_REQUIRED, NULL, "");
    if (itp && !IN(itp, etps))
        NOTSUPP(v, "internalTrafficPolicy", itp, etps);
    const char *td = jstr(spec, "trafficDistribution");
    static const char *const tds[] = {"PreferClose"};
    if (td && strcmp(td, "PreferClose"))
        NOTSUPP(v, "trafficDistribution", td, tds);
    pop(v, m);
}

/* the service REST's patchAllocatedValues: values the allocator carries over on update */
static json_t *svc_patch_allocated(const json_t *svc, const json_t *old)
{
    json_t *c = json_deep_copy(svc);
    json_t *spec = json_object_get(c, "spec");
    const json_t *ospec = jobj(old, "spec");
    if (!json_is_object(spec) || !ospec)
        return c;
    const char *t = jstr0(spec, "type"), *ot = jstr0(ospec, "type");
    if (strcmp(t, "ExternalName") && strcmp(ot, "ExternalName")) {
        if (!*jstr0(spec, "clusterIP") && jget(ospec, "clusterIP"))
            json_object_set(spec, "clusterIP", (json_t *)jget(ospec, "clusterIP"));
        if (!jlen(jarr(spec, "clusterIPs")) && jlen(jarr(ospec, "clusterIPs")))
            json_object_set(spec, "clusterIPs", (json_t *)jget(ospec, "clusterIPs"));
    }
    bool nnp = !strcmp(t, "NodePort") || !strcmp(t, "LoadBalancer");
    bool onp = !strcmp(ot, "NodePort") || !strcmp(ot, "LoadBalancer");
    if (nnp && onp) {
        json_t *p;
        ARR_EACH(json_object_get(spec, "ports"), i, p)
        {
            long long np = 0;
            if (jint(p, "nodePort", &np) && np)
                continue;
            const json_t *op;
            ARR_EACH(jarr(ospec, "ports"), j, op)
            {
                if (strcmp(jstr0(op, "name"), jstr0(p, "name")))
                    continue;
                long long onpv = 0;
                jint(op, "nodePort", &onpv);
                bool used = false;
                const json_t *q;
                ARR_EACH(jarr(spec, "ports"), k, q)
                {
                    long long x = 0;
                    jint(q, "nodePort", &x);
                    used |= x && x == onpv;
                }
                if (!used && onpv)
                    json_object_set_new(p, "nodePort", json_integer(onpv));
                break;
            }
        }
    }
    if (svc_needs_hc(spec) && svc_needs_hc(ospec) && !jget(spec, "healthCheckNodePort") &&
        jget(ospec, "healthCheckNodePort"))
        json_object_set(spec, "healthCheckNodePort", (json_t *)jget(ospec, "healthCheckNodePort"));
    return c;
}

void k1s_v_check_service(vctx_t *v, const k1s_resource_t *r, const json_t *svc, const json_t *old)
{
    if (!old) {
        k1s_v_meta_create(v, r, svc);
        check_service_spec(v, svc);
        return;
    }
    json_t *cur = svc_patch_allocated(svc, old);
    const json_t *spec = jobj(cur, "spec"), *ospec = jobj(old, "spec");
    k1s_v_meta_update(v, r, cur, old);
    const char *t = jstr0(spec, "type"), *ot = jstr0(ospec, "type");
    bool en = !strcmp(t, "ExternalName") || !strcmp(ot, "ExternalName");
    const json_t *ips = jarr(spec, "clusterIPs"), *oips = jarr(ospec, "clusterIPs");
    bool nh = svc_headless(spec), oh = svc_headless(ospec);
    size_t m = push(v, "spec");
    if (!en && !(nh && oh)) {
        size_t n = jlen(ips), on = jlen(oips);
        const char *first = n ? json_string_value(json_array_get(ips, 0)) : NULL;
        const char *ofirst = on ? json_string_value(json_array_get(oips, 0)) : NULL;
        if (n == on) {
            const json_t *x;
            ARR_EACH(oips, i, x)
            {
                const json_t *y = json_array_get(ips, i);
                if (!json_equal((json_t *)x, (json_t *)y)) {
                    size_t mi = push(v, "clusterIPs");
                    push_idx(v, i);
                    k1s_v_add_strings_value(v, NULL, ips, "may not change once set");
                    pop(v, mi);
                }
            }
        } else if (on > n) {
            if (n == 0)
                k1s_v_add_strings_value(v, "clusterIPs[0]", ips,
                                        "primary clusterIP can not be unset");
            if (n && first && ofirst && strcmp(first, ofirst))
                k1s_v_add_strings_value(v, "clusterIPs[0]", ips, "may not change once set");
            if (n == 1 && strcmp(jstr0(spec, "ipFamilyPolicy"), "SingleStack")) {
                const char *pol = jstr(spec, "ipFamilyPolicy");
                char *q = pol ? k1s_v_quoted(pol) : k1s_xstrdup("null");
                add(v, "ipFamilyPolicy", E_INVALID, q,
                    "must be set to 'SingleStack' when releasing the secondary clusterIP");
                free(q);
            }
        } else if (on && first && ofirst && strcmp(first, ofirst)) {
            k1s_v_add_strings_value(v, "clusterIPs[0]", ips, "may not change once set");
        }
    }
    if (!en && nh == oh && !nh) {
        const json_t *fams = jarr(spec, "ipFamilies"), *ofams = jarr(ospec, "ipFamilies");
        size_t n = jlen(fams), on = jlen(ofams);
        if (n == on) {
            const json_t *x;
            ARR_EACH(ofams, i, x)
            if (!json_equal((json_t *)x, json_array_get(fams, i)))
                k1s_v_add_strings_value(v, "ipFamilies[0]", fams, "may not change once set");
        } else if (on > n) {
            if (!jlen(ips))
                k1s_v_add_strings_value(v, "ipFamilies[0]", fams,
                                        "primary ipFamily can not be unset");
            if (n && !json_equal(json_array_get(fams, 0), json_array_get(ofams, 0)))
                k1s_v_add_strings_value(v, "ipFamilies[0]", ips, "may not change once set");
            if (n == 1 && strcmp(jstr0(spec, "ipFamilyPolicy"), "SingleStack")) {
                const char *pol = jstr(spec, "ipFamilyPolicy");
                char *q = pol ? k1s_v_quoted(pol) : k1s_xstrdup("null");
                add(v, "ipFamilyPolicy", E_INVALID, q,
                    "must be set to 'SingleStack' when releasing the secondary ipFamily");
                free(q);
            }
        } else if (on && n && !json_equal(json_array_get(fams, 0), json_array_get(ofams, 0))) {
            k1s_v_add_strings_value(v, "ipFamilies[0]", ips, "may not change once set");
        }
    }
    if (!strcmp(t, "LoadBalancer") && !strcmp(ot, "LoadBalancer")) {
        const char *c = jstr(spec, "loadBalancerClass"), *oc = jstr(ospec, "loadBalancerClass");
        if ((c == NULL) != (oc == NULL) || (c && strcmp(c, oc))) {
            char *q = c ? k1s_v_quoted(c) : k1s_xstrdup("null");
            add(v, "loadBalancerClass", E_INVALID, q, "may not change once set");
            free(q);
        }
    }
    if (svc_needs_hc(spec) && svc_needs_hc(ospec)) {
        long long a = 0, b = 0;
        jint(spec, "healthCheckNodePort", &a);
        jint(ospec, "healthCheckNodePort", &b);
        if (a != b)
            add(v, "healthCheckNodePort", E_FORBIDDEN, NULL, MSG_IMMUTABLE);
    }
    pop(v, m);
    k1s_v_meta_create(v, r, cur);
    check_service_spec(v, cur);
    json_decref(cur);
}
