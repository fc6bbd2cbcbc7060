/*
 * CNI driver, the pure half: the node's network config (writing k1s's
 * conflist, loading the conf dir as libcni does), each plugin's stdin
 * config, CNI_ARGS, parsing results and plugin errors, and the attachment
 * cache on disk. Running plugins is cni-exec.c's job.
 */
#include "network/cni-int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"

/* ---- default config ---- */

/* Checks "addr/len" and returns 4 or 6, or 0 if it is not a CIDR. */
static int cidr_family(const char *cidr)
{
    const char *slash = strchr(cidr, '/');
    if (!slash || slash == cidr || slash - cidr >= 64)
        return 0;
    char addr[64];
    memcpy(addr, cidr, (size_t)(slash - cidr));
    addr[slash - cidr] = 0;
    char *end;
    long len = strtol(slash + 1, &end, 10);
    if (!slash[1] || *end || len < 0)
        return 0;
    unsigned char bin[16];
    if (inet_pton(AF_INET, addr, bin) == 1)
        return len <= 30 ? 4 : 0;
    if (inet_pton(AF_INET6, addr, bin) == 1)
        return len <= 126 ? 6 : 0;
    return 0;
}

char *k1s_cni_default_conflist(const k1s_cni_netconf_opts_t *o, k1s_err_t *err)
{
    /* One range set per family: "10.42.0.0/24" or dual-stack "10.42.0.0/24,fd00:42::/64". */
    json_t *ranges = json_array(), *routes = json_array();
    const char *p = o->pod_cidr ? o->pod_cidr : "";
    int seen = 0;
    do {
        size_t n = strcspn(p, ",");
        char cidr[80];
        int fam = 0;
        if (n < sizeof(cidr)) {
            memcpy(cidr, p, n);
            cidr[n] = 0;
            fam = cidr_family(cidr);
        }
        int bit = fam == 4 ? 1 : 2;
        if (!fam || (seen & bit)) {
            k1s_err_set(err, EINVAL,
                        "CNI config: pod CIDR '%s' is not an IPv4 (up to /30) or IPv6 prefix, or "
                        "one of each separated by a comma, such as 10.42.0.0/24",
                        o->pod_cidr ? o->pod_cidr : "");
            json_decref(ranges);
            json_decref(routes);
            return NULL;
        }
        seen |= bit;
        json_array_append_new(ranges, json_pack("[{s:s}]", "subnet", cidr));
        json_array_append_new(routes, json_pack("{s:s}", "dst", fam == 4 ? "0.0.0.0/0" : "::/0"));
        p += n;
    } while (*p++ == ',');
    json_t *ipam =
        json_pack("{s:s, s:o, s:o}", "type", "host-local", "ranges", ranges, "routes", routes);
    if (o->ipam_data_dir && *o->ipam_data_dir)
        json_object_set_new(ipam, "dataDir", json_string(o->ipam_data_dir));
    json_t *bridge =
        json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:o}", "type", "bridge", "bridge",
                  o->bridge && *o->bridge ? o->bridge : K1S_CNI_BRIDGE_DEFAULT, "isGateway", 1,
                  "ipMasq", !o->no_ip_masq, "hairpinMode", 1, "forceAddress", 1, "ipam", ipam);
    if (o->mtu > 0)
        json_object_set_new(bridge, "mtu", json_integer(o->mtu));
    json_t *portmap = json_pack("{s:s, s:b, s:{s:b}}", "type", "portmap", "snat", 1, "capabilities",
                                "portMappings", 1);
    json_t *list = json_pack("{s:s, s:s, s:[o,o]}", "cniVersion", "1.0.0", "name",
                             K1S_CNI_NETWORK_NAME, "plugins", bridge, portmap);
    char *s = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(list);
    char *out = k1s_xasprintf("%s\n", s ? s : "{}");
    free(s);
    return out;
}

int k1s_cni_write_conf(const char *conf_dir, const k1s_cni_netconf_opts_t *o, bool *changed,
                       k1s_err_t *err)
{
    _k1s_cleanup_free_ char *text = k1s_cni_default_conflist(o, err);
    if (!text)
        return -EINVAL;
    int r = k1s_mkdir_p(conf_dir, 0755);
    if (r < 0)
        return k1s_err_set(err, -r, "CNI config: create %s: %s", conf_dir, strerror(-r));
    _k1s_cleanup_free_ char *path = k1s_xasprintf("%s/%s", conf_dir, K1S_CNI_CONF_FILE);
    _k1s_cleanup_free_ char *old = NULL;
    size_t old_len = 0;
    if (k1s_read_file(path, &old, &old_len) == 0 && old_len == strlen(text) &&
        !memcmp(old, text, old_len)) {
        if (changed)
            *changed = false;
        return 0;
    }
    r = k1s_write_file_atomic(path, text, strlen(text), 0644);
    if (r < 0)
        return k1s_err_set(err, -r, "CNI config: write %s: %s", path, strerror(-r));
    k1s_debug("cni: wrote %s for pod CIDR %s", path, o->pod_cidr);
    if (changed)
        *changed = true;
    return 0;
}

/* ---- loading ---- */

json_t *cni_conf_normalize(json_t *conf, const char *file, k1s_err_t *err)
{
    if (!json_is_object(conf)) {
        k1s_err_set(err, EINVAL, "CNI config %s: not a JSON object", file);
        return NULL;
    }
    const char *name = json_string_value(json_object_get(conf, "name"));
    if (!name || !*name) {
        k1s_err_set(err, EINVAL, "CNI config %s: no network \"name\"", file);
        return NULL;
    }
    const char *ver = json_string_value(json_object_get(conf, "cniVersion"));
    if (!ver)
        ver = "0.1.0";
    json_t *plugins = json_object_get(conf, "plugins");
    json_t *list;
    if (plugins) {
        if (!json_is_array(plugins) || json_array_size(plugins) == 0 ||
            json_array_size(plugins) > CNI_PLUGINS_MAX) {
            k1s_err_set(err, EINVAL, "CNI config %s: \"plugins\" must be an array of 1 to %d", file,
                        CNI_PLUGINS_MAX);
            return NULL;
        }
        list = json_deep_copy(conf);
    } else {
        /* A single-plugin .conf: the whole object is the plugin. */
        json_t *p = json_deep_copy(conf);
        json_object_del(p, "name");
        json_object_del(p, "cniVersion");
        list = json_pack("{s:s, s:[o]}", "name", name, "plugins", p);
    }
    json_object_set_new(list, "cniVersion", json_string(ver));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(list, "plugins"), i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        if (!json_is_object(p) || !type || !*type || strchr(type, '/') || type[0] == '.') {
            k1s_err_set(err, EINVAL, "CNI config %s: plugin %zu has no valid \"type\"", file, i);
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static bool conf_file_name(const char *n)
{
    return n[0] != '.' && (k1s_str_has_suffix(n, ".conflist") || k1s_str_has_suffix(n, ".conf") ||
                           k1s_str_has_suffix(n, ".json"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *cni_conf_load_dir(const char *dir, char **file_out, k1s_err_t *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        k1s_err_set(err, errno, "no network config in %s: %s", dir, strerror(errno));
        return NULL;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < K1S_ARRAY_SIZE(names))
        if (conf_file_name(de->d_name))
            names[n++] = k1s_xstrdup(de->d_name);
    closedir(d);
    if (!n) {
        k1s_err_set(err, ENOENT,
                    "no network config in %s (the agent writes %s there once its node has a "
                    "podCIDR)",
                    dir, K1S_CNI_CONF_FILE);
        return NULL;
    }
    qsort(names, n, sizeof(names[0]), cmp_str);
    char *path = k1s_xasprintf("%s/%s", dir, names[0]);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    json_error_t jerr;
    json_t *conf = json_load_file(path, 0, &jerr);
    json_t *list = NULL;
    if (!conf)
        k1s_err_set(err, EINVAL, "CNI config %s: line %d: %s", path, jerr.line, jerr.text);
    else
        list = cni_conf_normalize(conf, path, err);
    json_decref(conf);
    if (list && file_out)
        *file_out = path;
    else
        free(path);
    return list;
}

/* ---- plugin input ---- */

json_t *cni_ports_json(const k1s_cni_port_t *ports, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_pack("{s:i, s:i, s:s}", "hostPort", ports[i].host_port, "containerPort",
                              ports[i].container_port, "protocol",
                              ports[i].protocol && *ports[i].protocol ? ports[i].protocol : "tcp");
        if (ports[i].host_ip && *ports[i].host_ip)
            json_object_set_new(m, "hostIP", json_string(ports[i].host_ip));
        json_array_append_new(a, m);
    }
    return a;
}

json_t *cni_plugin_conf(json_t *list, size_t idx, json_t *prev, json_t *ports)
{
    json_t *p = json_deep_copy(json_array_get(json_object_get(list, "plugins"), idx));
    json_object_set(p, "name", json_object_get(list, "name"));
    json_object_set(p, "cniVersion", json_object_get(list, "cniVersion"));
    if (prev)
        json_object_set(p, "prevResult", prev);
    else
        json_object_del(p, "prevResult");
    json_t *caps = json_object_get(p, "capabilities");
    if (json_is_true(json_object_get(caps, "portMappings")) && json_array_size(ports) > 0) {
        json_t *rc = json_object_get(p, "runtimeConfig");
        if (!json_is_object(rc)) {
            rc = json_object();
            json_object_set_new(p, "runtimeConfig", rc);
        }
        json_object_set(rc, "portMappings", ports);
    }
    return p;
}

/* ---- CNI_ARGS, ids, ports ---- */

const char *k1s_cni_cmd_name(k1s_cni_cmd_t cmd)
{
    switch (cmd) {
    case K1S_CNI_ADD: return "ADD";
    case K1S_CNI_DEL: return "DEL";
    case K1S_CNI_CHECK: return "CHECK";
    }
    return "?";
}

int k1s_cni_check_id(const char *id, k1s_err_t *err)
{
    bool ok = id && ((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
                     (id[0] >= '0' && id[0] <= '9'));
    for (const char *p = id; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '_' || *p == '.' || *p == '-';
    if (!ok || strlen(id) > 200)
        return k1s_err_set(err, EINVAL,
                           "CNI: invalid container id '%s' (letters, digits, '_', '.' and '-', "
                           "starting with a letter or digit)",
                           id ? id : "");
    return 0;
}

char *k1s_cni_args(const k1s_cni_pod_t *pod, k1s_err_t *err)
{
    const char *keys[] = {"K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID",
                          "K8S_POD_UID"};
    const char *vals[] = {pod->namespace_, pod->name, pod->id, pod->uid};
    size_t len = strlen("IgnoreUnknown=1") + 1;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(keys); i++) {
        if (!vals[i])
            continue;
        if (strpbrk(vals[i], ";=")) {
            k1s_err_set(err, EINVAL, "CNI_ARGS: %s '%s' may not contain ';' or '='", keys[i],
                        vals[i]);
            return NULL;
        }
        len += strlen(keys[i]) + strlen(vals[i]) + 2;
    }
    char *s = k1s_xmalloc(len);
    char *p = s + sprintf(s, "IgnoreUnknown=1");
    for (size_t i = 0; i < K1S_ARRAY_SIZE(keys); i++)
        if (vals[i])
            p += sprintf(p, ";%s=%s", keys[i], vals[i]);
    return s;
}

int k1s_cni_port_parse(const char *spec, char *buf, size_t size, k1s_cni_port_t *port,
                       k1s_err_t *err)
{
    if (!spec || strlen(spec) >= size)
        return k1s_err_set(err, EINVAL, "port '%s': too long", spec ? spec : "");
    strcpy(buf, spec);
    k1s_cni_port_t pt = {0};
    char *proto = strchr(buf, '/');
    if (proto) {
        *proto++ = 0;
        for (char *c = proto; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
            return k1s_err_set(err, EINVAL, "port '%s': protocol must be tcp, udp or sctp", spec);
        pt.protocol = proto;
    }
    /* The container port follows the last ':', the host port the one before;
     * anything ahead of that is the host IP (IPv6 in brackets or not). */
    char *c2 = strrchr(buf, ':');
    if (!c2)
        return k1s_err_set(err, EINVAL,
                           "port '%s': expected [hostIP:]hostPort:containerPort[/proto]", spec);
    *c2 = 0;
    char *c1 = strrchr(buf, ':');
    const char *host = buf;
    if (c1) {
        *c1 = 0;
        host = c1 + 1;
        char *ip = buf;
        size_t n = strlen(ip);
        if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
            ip[n - 1] = 0;
            ip++;
        }
        unsigned char bin[16];
        if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
            return k1s_err_set(err, EINVAL, "port '%s': '%s' is not an IP address", spec, ip);
        pt.host_ip = ip;
    }
    const char *nums[2] = {host, c2 + 1};
    int vals[2];
    for (int i = 0; i < 2; i++) {
        char *end;
        long v = strtol(nums[i], &end, 10);
        if (!*nums[i] || *end || v < 1 || v > 65535)
            return k1s_err_set(err, EINVAL, "port '%s': '%s' is not a port number (1-65535)", spec,
                               nums[i]);
        vals[i] = (int)v;
    }
    pt.host_port = vals[0];
    pt.container_port = vals[1];
    *port = pt;
    return 0;
}

/* ---- results and errors ---- */

static char *dup_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? k1s_xstrdup(s) : NULL;
}

int k1s_cni_result_parse(const char *json, size_t len, k1s_cni_result_t **out, k1s_err_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return k1s_err_set(err, EINVAL, "CNI result is not a JSON object: %s",
                           root ? "wrong type" : jerr.text);
    }
    k1s_cni_result_t *r = k1s_xcalloc(1, sizeof(*r));
    r->cni_version = dup_str(root, "cniVersion");
    json_t *ifs = json_object_get(root, "interfaces");
    json_t *ips = json_object_get(root, "ips");
    if ((ifs && !json_is_array(ifs)) || (ips && !json_is_array(ips))) {
        json_decref(root);
        k1s_cni_result_free(r);
        return k1s_err_set(err, EINVAL, "CNI result: \"interfaces\" and \"ips\" must be arrays");
    }
    r->interfaces = k1s_xcalloc(json_array_size(ifs) + 1, sizeof(*r->interfaces));
    size_t i;
    json_t *v;
    json_array_foreach(ifs, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (!name) {
            json_decref(root);
            k1s_cni_result_free(r);
            return k1s_err_set(err, EINVAL, "CNI result: interface %zu has no name", i);
        }
        k1s_cni_iface_t *f = &r->interfaces[r->n_interfaces++];
        f->name = k1s_xstrdup(name);
        f->mac = dup_str(v, "mac");
        f->sandbox = dup_str(v, "sandbox");
    }
    r->ips = k1s_xcalloc(json_array_size(ips) + 1, sizeof(*r->ips));
    json_array_foreach(ips, i, v)
    {
        const char *addr = json_string_value(json_object_get(v, "address"));
        int fam = addr ? cidr_family(addr) : 0;
        if (!fam && addr) {
            /* cidr_family refuses /31 and /32, which are fine for an address. */
            const char *sl = strchr(addr, '/');
            fam = sl && memchr(addr, ':', (size_t)(sl - addr)) ? 6 : (sl ? 4 : 0);
        }
        if (!fam) {
            json_decref(root);
            k1s_cni_result_free(r);
            return k1s_err_set(err, EINVAL, "CNI result: ip %zu has no valid \"address\"", i);
        }
        k1s_cni_ip_t *ip = &r->ips[r->n_ips++];
        ip->address = k1s_xstrdup(addr);
        ip->gateway = dup_str(v, "gateway");
        ip->family = fam;
        json_t *idx = json_object_get(v, "interface");
        ip->interface = json_is_integer(idx) && json_integer_value(idx) >= 0 &&
                                (size_t)json_integer_value(idx) < r->n_interfaces
                            ? (int)json_integer_value(idx)
                            : -1;
    }
    r->json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    *out = r;
    return 0;
}

void k1s_cni_result_free(k1s_cni_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_interfaces; i++) {
        free(r->interfaces[i].name);
        free(r->interfaces[i].mac);
        free(r->interfaces[i].sandbox);
    }
    for (size_t i = 0; i < r->n_ips; i++) {
        free(r->ips[i].address);
        free(r->ips[i].gateway);
    }
    free(r->interfaces);
    free(r->ips);
    free(r->cni_version);
    free(r->json);
    free(r);
}

const char *k1s_cni_result_pod_ip(const k1s_cni_result_t *r, int family, char *buf, size_t size)
{
    const k1s_cni_ip_t *best = NULL;
    for (size_t i = 0; i < r->n_ips; i++) {
        const k1s_cni_ip_t *ip = &r->ips[i];
        if (family && ip->family != family)
            continue;
        bool in_sandbox = ip->interface >= 0 && r->interfaces[ip->interface].sandbox &&
                          *r->interfaces[ip->interface].sandbox;
        if (!best || in_sandbox) {
            best = ip;
            if (in_sandbox)
                break;
        }
    }
    if (!best)
        return NULL;
    size_t n = strcspn(best->address, "/");
    if (n >= size)
        return NULL;
    memcpy(buf, best->address, n);
    buf[n] = 0;
    return buf;
}

char *cni_plugin_error_msg(const char *out, size_t out_len, const char *err_out, int status)
{
    json_t *e = out && out_len ? json_loadb(out, out_len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(e, "msg"));
    char *s;
    if (msg && *msg) {
        const char *details = json_string_value(json_object_get(e, "details"));
        if (details && *details && strcmp(details, msg))
            s = k1s_xasprintf("%s: %s", msg, details);
        else
            s = k1s_xstrdup(msg);
        json_decref(e);
        return s;
    }
    json_decref(e);
    /* No error object: the last non-empty line of stderr says most. */
    if (err_out && *err_out) {
        const char *end = err_out + strlen(err_out);
        while (end > err_out && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
            end--;
        const char *start = end;
        while (start > err_out && start[-1] != '\n')
            start--;
        if (end > start)
            return k1s_xasprintf("exited with status %d: %.*s", status, (int)(end - start), start);
    }
    if (status < 0)
        return k1s_xasprintf("killed by signal %d", -status);
    return k1s_xasprintf("exited with status %d and no error message", status);
}

bool cni_version_ge(const char *v, int maj, int min, int patch)
{
    int a = 0, b = 0, c = 0;
    if (!v || sscanf(v, "%d.%d.%d", &a, &b, &c) < 1)
        return false;
    if (a != maj)
        return a > maj;
    if (b != min)
        return b > min;
    return c >= patch;
}

/* ---- cache ---- */

char *cni_cache_path(const char *cache_dir, const char *net, const char *id, const char *ifname)
{
    return k1s_xasprintf("%s/%s-%s-%s", cache_dir, net, id, ifname);
}

json_t *cni_cache_read(const char *path)
{
    json_t *e = json_load_file(path, 0, NULL);
    if (!e)
        return NULL;
    json_t *conf = cni_conf_normalize(json_object_get(e, "config"), path, NULL);
    json_t *res = json_object_get(e, "result");
    if (!conf || (res && !json_is_object(res))) {
        k1s_debug("cni: ignoring malformed cache file %s", path);
        json_decref(conf);
        json_decref(e);
        return NULL;
    }
    json_object_set_new(e, "config", conf);
    return e;
}

json_t *cni_cache_find(const char *cache_dir, const char *id, const char *ifname, char **path_io)
{
    json_t *e = cni_cache_read(*path_io);
    if (e)
        return e;
    /* Made under another network name (the config changed since): scan. */
    DIR *d = opendir(cache_dir);
    if (!d)
        return NULL;
    struct dirent *de;
    _k1s_cleanup_free_ char *suffix = k1s_xasprintf("-%s-%s", id, ifname);
    while ((de = readdir(d))) {
        if (!k1s_str_has_suffix(de->d_name, suffix) ||
            k1s_str_has_prefix(de->d_name, CNI_LOOPBACK_NAME "-"))
            continue;
        char *path = k1s_xasprintf("%s/%s", cache_dir, de->d_name);
        e = cni_cache_read(path);
        if (e && k1s_streq(json_string_value(json_object_get(e, "containerId")), id) &&
            k1s_streq(json_string_value(json_object_get(e, "ifName")), ifname)) {
            free(*path_io);
            *path_io = path;
            break;
        }
        json_decref(e);
        e = NULL;
        free(path);
    }
    closedir(d);
    return e;
}

int cni_cache_write(const char *path, json_t *entry, k1s_err_t *err)
{
    char *s = json_dumps(entry, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        return k1s_err_set(err, EINVAL, "CNI cache: cannot encode the entry for %s", path);
    char *dir = k1s_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    int r = k1s_mkdir_p(dir, 0700);
    free(dir);
    if (r == 0)
        r = k1s_write_file_atomic(path, s, strlen(s), 0600);
    free(s);
    if (r < 0)
        return k1s_err_set(err, -r, "CNI cache: write %s: %s", path, strerror(-r));
    return 0;
}

/* ---- the driver object ---- */

const char *cni_net_name(const k1s_cni_t *cni)
{
    const char *n = k1s_cni_network_name(cni);
    return n ? n : K1S_CNI_NETWORK_NAME;
}

k1s_cni_t *k1s_cni_new(const k1s_cni_opts_t *opts, k1s_err_t *err)
{
    k1s_assert(opts->conf_dir && opts->cache_dir);
    k1s_cni_t *cni = k1s_xcalloc(1, sizeof(*cni));
    cni->conf_dir = k1s_xstrdup(opts->conf_dir);
    cni->cache_dir = k1s_xstrdup(opts->cache_dir);
    cni->bin_dirs =
        k1s_xstrdup(opts->bin_dirs && *opts->bin_dirs ? opts->bin_dirs : K1S_CNI_BIN_DIR_DEFAULT);
    cni->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : K1S_CNI_TIMEOUT_MS_DEFAULT;
    cni->lo = json_pack("{s:s, s:s, s:[{s:s}]}", "cniVersion", "1.0.0", "name", CNI_LOOPBACK_NAME,
                        "plugins", "type", "loopback");
    k1s_err_t e = {0};
    /* No config yet (the node has no podCIDR) is a state, not an error: DEL
     * still works from the cache; ADD says what is missing. */
    if (k1s_cni_reload(cni, &e) < 0 && e.code != ENOENT) {
        if (err)
            *err = e;
        k1s_cni_free(cni);
        return NULL;
    }
    return cni;
}

int k1s_cni_reload(k1s_cni_t *cni, k1s_err_t *err)
{
    _k1s_cleanup_free_ char *file = NULL;
    json_t *net = cni_conf_load_dir(cni->conf_dir, &file, err);
    if (!net)
        return -(err && err->code ? err->code : EINVAL);
    if (!strcmp(json_string_value(json_object_get(net, "name")), CNI_LOOPBACK_NAME)) {
        json_decref(net);
        return k1s_err_set(err, EINVAL, "CNI config %s: the name %s is reserved", file,
                           CNI_LOOPBACK_NAME);
    }
    json_decref(cni->net);
    free(cni->net_json);
    cni->net = net;
    cni->net_json = json_dumps(net, JSON_COMPACT | JSON_PRESERVE_ORDER);
    k1s_debug("cni: loaded network %s from %s", k1s_cni_network_name(cni), file);
    return 0;
}

void k1s_cni_free(k1s_cni_t *cni)
{
    if (!cni)
        return;
    json_decref(cni->net);
    json_decref(cni->lo);
    free(cni->net_json);
    free(cni->conf_dir);
    free(cni->cache_dir);
    free(cni->bin_dirs);
    free(cni);
}

const char *k1s_cni_network_name(const k1s_cni_t *cni)
{
    return cni->net ? json_string_value(json_object_get(cni->net, "name")) : NULL;
}

const char *k1s_cni_network_json(const k1s_cni_t *cni)
{
    return cni->net_json;
}

/* ---- the cache, read by callers ---- */

int k1s_cni_cached_result(k1s_cni_t *cni, const char *id, k1s_cni_result_t **out, k1s_err_t *err)
{
    int r = k1s_cni_check_id(id, err);
    if (r < 0)
        return r;
    _k1s_cleanup_free_ char *path =
        cni_cache_path(cni->cache_dir, cni_net_name(cni), id, K1S_CNI_IFNAME);
    json_t *e = cni_cache_find(cni->cache_dir, id, K1S_CNI_IFNAME, &path);
    json_t *res = json_object_get(e, "result");
    if (!res) {
        json_decref(e);
        return k1s_err_set(err, ENOENT, "CNI: no completed attachment for sandbox %s in %s", id,
                           cni->cache_dir);
    }
    char *s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(e);
    r = k1s_cni_result_parse(s ? s : "", s ? strlen(s) : 0, out, err);
    free(s);
    return r;
}

int k1s_cni_list_ids(k1s_cni_t *cni, char ***ids_out, size_t *n_out, k1s_err_t *err)
{
    size_t n = 0, cap = 16;
    char **ids = k1s_xcalloc(cap + 1, sizeof(*ids));
    DIR *d = opendir(cni->cache_dir);
    if (!d && errno != ENOENT) {
        int r = k1s_err_set(err, errno, "CNI: list %s: %s", cni->cache_dir, strerror(errno));
        free(ids);
        return r;
    }
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp."))
            continue;
        _k1s_cleanup_free_ char *path = k1s_xasprintf("%s/%s", cni->cache_dir, de->d_name);
        json_t *e = cni_cache_read(path);
        const char *id = json_string_value(json_object_get(e, "containerId"));
        if (id && k1s_cni_check_id(id, NULL) == 0) {
            if (n == cap) {
                cap *= 2;
                ids = k1s_xrealloc(ids, (cap + 1) * sizeof(*ids));
            }
            ids[n++] = k1s_xstrdup(id);
        }
        json_decref(e);
    }
    if (d)
        closedir(d);
    qsort(ids, n, sizeof(*ids), cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && !strcmp(ids[k - 1], ids[i]))
            free(ids[i]);
        else
            ids[k++] = ids[i];
    }
    ids[k] = NULL;
    *ids_out = ids;
    if (n_out)
        *n_out = k;
    return 0;
}

void k1s_cni_ids_free(char **ids)
{
    if (!ids)
        return;
    for (char **p = ids; *p; p++)
        free(*p);
    free(ids);
}
