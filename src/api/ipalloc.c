/*
 * Service ClusterIP and NodePort allocation: a bitmap per range (the service
 * CIDR, 10.43.0.0/16 by default, and ports 30000-32767), rebuilt from the
 * stored Services at start, so allocations survive restarts without being
 * stored twice. IPs are released when a Service is deleted or changes type.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "lib/log.h"

struct k1s_ipalloc {
    uint32_t first, last; /* inclusive */
    uint8_t *bits;
    uint32_t used;
};

k1s_ipalloc_t *k1s_ipalloc_new_range(uint32_t first, uint32_t last)
{
    k1s_ipalloc_t *a = k1s_xcalloc(1, sizeof(*a));
    a->first = first;
    a->last = last;
    a->bits = k1s_xcalloc((last - first) / 8 + 1, 1);
    return a;
}

k1s_ipalloc_t *k1s_ipalloc_new_cidr(const char *cidr, k1s_err_t *err)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", cidr);
    char *slash = strchr(buf, '/');
    if (!slash) {
        k1s_err_set(err, EINVAL, "invalid CIDR %s: missing /prefix", cidr);
        return NULL;
    }
    *slash = 0;
    int bits = atoi(slash + 1);
    struct in_addr in;
    if (inet_pton(AF_INET, buf, &in) != 1 || bits < 8 || bits > 30) {
        k1s_err_set(err, EINVAL, "invalid service CIDR %s (want an IPv4 CIDR from /8 to /30)",
                    cidr);
        return NULL;
    }
    uint32_t base = ntohl(in.s_addr) & (bits ? ~((1u << (32 - bits)) - 1) : 0);
    uint32_t size = 1u << (32 - bits);
    /* skip the network and broadcast addresses */
    return k1s_ipalloc_new_range(base + 1, base + size - 2);
}

void k1s_ipalloc_free(k1s_ipalloc_t *a)
{
    if (!a)
        return;
    free(a->bits);
    free(a);
}

uint32_t k1s_ipalloc_first(const k1s_ipalloc_t *a)
{
    return a->first;
}

bool k1s_ipalloc_contains(const k1s_ipalloc_t *a, uint32_t v)
{
    return v >= a->first && v <= a->last;
}

static bool is_set(const k1s_ipalloc_t *a, uint32_t v)
{
    uint32_t i = v - a->first;
    return a->bits[i / 8] & (1u << (i % 8));
}

int k1s_ipalloc_take(k1s_ipalloc_t *a, uint32_t v)
{
    if (!k1s_ipalloc_contains(a, v))
        return -ERANGE;
    if (is_set(a, v))
        return -EEXIST;
    uint32_t i = v - a->first;
    a->bits[i / 8] |= (uint8_t)(1u << (i % 8));
    a->used++;
    return 0;
}

void k1s_ipalloc_release(k1s_ipalloc_t *a, uint32_t v)
{
    if (!k1s_ipalloc_contains(a, v) || !is_set(a, v))
        return;
    uint32_t i = v - a->first;
    a->bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
    a->used--;
}

int k1s_ipalloc_next(k1s_ipalloc_t *a, uint32_t *out)
{
    uint32_t n = a->last - a->first + 1;
    if (a->used >= n)
        return -ENOSPC;
    uint32_t start;
    k1s_random_bytes(&start, sizeof(start));
    start %= n;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t v = a->first + (start + k) % n;
        if (!is_set(a, v)) {
            k1s_ipalloc_take(a, v);
            *out = v;
            return 0;
        }
    }
    return -ENOSPC;
}

static bool parse_ip(const char *s, uint32_t *out)
{
    struct in_addr in;
    if (!s || inet_pton(AF_INET, s, &in) != 1)
        return false;
    *out = ntohl(in.s_addr);
    return true;
}

static void format_ip(uint32_t v, char out[16])
{
    struct in_addr in = {htonl(v)};
    inet_ntop(AF_INET, &in, out, 16);
}

static void add_cause(json_t *causes, const char *reason, const char *field, const char *msg)
{
    json_array_append_new(
        causes, json_pack("{s:s, s:s, s:s}", "reason", reason, "message", msg, "field", field));
}

static bool needs_node_ports(const char *type)
{
    return type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"));
}

int k1s_svc_allocate(k1s_api_req_t *r, json_t *svc, const json_t *old, json_t *causes)
{
    k1s_apiserver_t *api = r->api;
    json_t *spec = json_object_get(svc, "spec");
    if (!json_is_object(spec))
        return 0;
    const char *type = json_string_value(json_object_get(spec, "type"));
    const json_t *ospec = old ? json_object_get(old, "spec") : NULL;
    const char *otype = ospec ? json_string_value(json_object_get(ospec, "type")) : NULL;
    bool external_name = type && !strcmp(type, "ExternalName");
    int added = 0;

    /* ClusterIP */
    const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
    const char *oip = ospec ? json_string_value(json_object_get(ospec, "clusterIP")) : NULL;
    if (old) {
        if ((!ip || !*ip) && oip && *oip && !external_name) {
            json_object_set_new(spec, "clusterIP", json_string(oip));
            json_object_set(spec, "clusterIPs", json_object_get(ospec, "clusterIPs"));
            ip = oip;
        } else if (ip && oip && strcmp(ip, oip) && strcmp(oip, "None") && *oip) {
            add_cause(causes, "FieldValueInvalid", "spec.clusterIPs[0]",
                      "Invalid value: []string{...}: may not change once set");
            return 1;
        }
    }
    if (external_name) {
        json_object_del(spec, "clusterIP");
        json_object_del(spec, "clusterIPs");
    } else if (ip && !strcmp(ip, "None")) {
        json_object_set_new(spec, "clusterIPs", json_pack("[s]", "None"));
    } else if (!old || !oip || !*oip) {
        uint32_t v;
        if (ip && *ip) {
            if (!parse_ip(ip, &v)) {
                char *m = k1s_xasprintf("Invalid value: \"%s\": must be a valid IP address", ip);
                add_cause(causes, "FieldValueInvalid", "spec.clusterIPs[0]", m);
                free(m);
                return 1;
            }
            int rc = k1s_ipalloc_take(api->ips, v);
            if (rc == -ERANGE) {
                char *m = k1s_xasprintf("Invalid value: \"%s\": failed to allocate IP %s: the "
                                        "provided IP (%s) is not in the valid range",
                                        ip, ip, ip);
                add_cause(causes, "FieldValueInvalid", "spec.clusterIPs", m);
                free(m);
                return 1;
            }
            if (rc == -EEXIST) {
                char *m = k1s_xasprintf("Invalid value: []string{\"%s\"}: failed to allocate IP "
                                        "%s: provided IP is already allocated",
                                        ip, ip);
                add_cause(causes, "FieldValueInvalid", "spec.clusterIPs", m);
                free(m);
                return 1;
            }
        } else if (k1s_ipalloc_next(api->ips, &v) < 0) {
            add_cause(causes, "FieldValueInvalid", "spec.clusterIPs",
                      "Invalid value: []string(nil): failed to allocate IP: range is full");
            return 1;
        }
        char s[16];
        format_ip(v, s);
        json_object_set_new(spec, "clusterIP", json_string(s));
        json_object_set_new(spec, "clusterIPs", json_pack("[s]", s));
        added = 1;
    }
    if (!external_name) {
        if (!json_object_get(spec, "ipFamilies"))
            json_object_set_new(spec, "ipFamilies", json_pack("[s]", "IPv4"));
        if (!json_object_get(spec, "ipFamilyPolicy"))
            json_object_set_new(spec, "ipFamilyPolicy", json_string("SingleStack"));
    }

    /* NodePorts */
    json_t *ports = json_object_get(spec, "ports");
    const json_t *oports = ospec ? json_object_get(ospec, "ports") : NULL;
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        json_t *np = json_object_get(p, "nodePort");
        if (!needs_node_ports(type)) {
            if (np && !json_is_null(np))
                json_object_del(p, "nodePort");
            continue;
        }
        json_int_t want = json_integer_value(np);
        if (!want && needs_node_ports(otype)) {
            /* keep the port this Service already had for the same port number */
            size_t j;
            json_t *op;
            json_array_foreach(oports, j, op)
            {
                if (json_integer_value(json_object_get(op, "port")) ==
                        json_integer_value(json_object_get(p, "port")) &&
                    json_integer_value(json_object_get(op, "nodePort")))
                    want = json_integer_value(json_object_get(op, "nodePort"));
            }
            if (want) {
                json_object_set_new(p, "nodePort", json_integer(want));
                continue;
            }
        }
        bool had = false;
        if (want && oports) {
            size_t j;
            json_t *op;
            json_array_foreach(oports, j, op)
            {
                if (json_integer_value(json_object_get(op, "nodePort")) == want)
                    had = true;
            }
        }
        if (had)
            continue;
        if (want) {
            int rc = k1s_ipalloc_take(api->ports, (uint32_t)want);
            if (rc < 0) {
                char field[64];
                snprintf(field, sizeof(field), "spec.ports[%zu].nodePort", i);
                char *m =
                    rc == -ERANGE
                        ? k1s_xasprintf("Invalid value: %lld: provided port is not in the "
                                        "valid range. The range of valid ports is 30000-32767",
                                        (long long)want)
                        : k1s_xasprintf("Invalid value: %lld: provided port is already "
                                        "allocated",
                                        (long long)want);
                add_cause(causes, "FieldValueInvalid", field, m);
                free(m);
                return 1;
            }
        } else {
            uint32_t v;
            if (k1s_ipalloc_next(api->ports, &v) < 0) {
                add_cause(causes, "FieldValueInvalid", "spec.ports",
                          "Invalid value: 0: failed to allocate a nodePort: range is full");
                return 1;
            }
            json_object_set_new(p, "nodePort", json_integer(v));
        }
    }
    (void)added;
    return 0;
}

void k1s_svc_release(k1s_apiserver_t *api, const json_t *svc)
{
    const json_t *spec = json_object_get(svc, "spec");
    if (!spec)
        return;
    uint32_t v;
    const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
    if (parse_ip(ip, &v))
        k1s_ipalloc_release(api->ips, v);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(spec, "ports"), i, p)
    {
        json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
        if (np > 0)
            k1s_ipalloc_release(api->ports, (uint32_t)np);
    }
}

static int rebuild_iter(k1s_kv_t *kv, void *arg)
{
    k1s_apiserver_t *api = arg;
    json_t *svc = k1s_obj_decode(kv->value);
    const json_t *spec = json_object_get(svc, "spec");
    uint32_t v;
    if (spec && parse_ip(json_string_value(json_object_get(spec, "clusterIP")), &v))
        k1s_ipalloc_take(api->ips, v);
    size_t i;
    json_t *p;
    json_array_foreach(spec ? json_object_get(spec, "ports") : NULL, i, p)
    {
        json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
        if (np > 0)
            k1s_ipalloc_take(api->ports, (uint32_t)np);
    }
    json_decref(svc);
    return 0;
}

void k1s_svc_rebuild(k1s_apiserver_t *api)
{
    k1s_store_range(api->store, "/services/", NULL, rebuild_iter, api);
}
