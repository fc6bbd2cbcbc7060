/*
 * The node agent (see agent.h): configuration checks, then the Node's
 * registration, its status and Lease, and its pod CIDR, on one event loop.
 *
 * Timing follows kubelet with the node lease: the Lease is renewed every
 * 10 s (leaseDurationSeconds 40); the host is looked at on the same tick and
 * the Node's status written when a condition changed, or once a minute. A
 * request that cannot reach the server switches the tick to a back-off
 * (1 s doubling to 10 s) until an answer comes back.
 */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "agent/agent-int.h"
#include "agent/eviction.h"
#include "agent/kubelet-args.h"
#include "agent/kubelet.h"
#include "api/version.h"
#include "lib/log.h"
#include "lib/util.h"
#include "server/pki.h"

#define LEASE_RENEW_S 10
#define LEASE_DURATION_S 40
#define STATUS_REPORT_S 60
#define BACKOFF_MAX_MS 10000

static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};
static const k1s_gvr_t leases_gvr = {"coordination.k8s.io", "v1", "leases", true};

void k1s_agent_config_init(k1s_agent_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->data_dir = k1s_xstrdup("/var/lib/k1s");
    c->private_registry = k1s_xstrdup("/etc/k1s/registries.yaml");
    c->kubelet_port = 10250;
    c->log_level = k1s_xstrdup("info");
}

void k1s_agent_config_free(k1s_agent_config_t *c)
{
    free(c->server_url);
    free(c->token);
    free(c->token_file);
    free(c->node_name);
    free(c->node_ip);
    for (int i = 0; c->node_labels[i]; i++)
        free(c->node_labels[i]);
    for (int i = 0; c->node_taints[i]; i++)
        free(c->node_taints[i]);
    for (int i = 0; c->kubelet_args[i]; i++)
        free(c->kubelet_args[i]);
    free(c->data_dir);
    free(c->runtime);
    free(c->private_registry);
    free(c->log_level);
}

/* ---------- accessors ---------- */

int k1s_agent_kubelet_port(const k1s_agent_t *a)
{
    return a->kubelet_port;
}

int k1s_agent_failed(const k1s_agent_t *a)
{
    return a->failed;
}
const char *k1s_agent_node_name(const k1s_agent_t *a)
{
    return a->node;
}
const char *k1s_agent_node_ip(const k1s_agent_t *a)
{
    return a->node_ip;
}
const char *k1s_agent_runtime(const k1s_agent_t *a)
{
    return a->runtime;
}
const char *k1s_agent_dir(const k1s_agent_t *a)
{
    return a->dir;
}
k1s_client_t *k1s_agent_client(k1s_agent_t *a)
{
    return a->client;
}
const char *k1s_agent_pod_cidr(const k1s_agent_t *a)
{
    return a->pod_cidr;
}
struct k1s_eviction *k1s_agent_eviction(k1s_agent_t *a)
{
    return a->eviction;
}
bool k1s_agent_connected(const k1s_agent_t *a)
{
    return a->registered && !a->lost;
}
static void ready_now(evutil_socket_t fd, short what, void *arg)
{
    k1s_agent_t *a = arg;
    if (!a->ready_called && a->ready_fn && a->pod_cidr) {
        a->ready_called = true;
        a->ready_fn(a, a->ready_arg);
    }
}

void k1s_agent_on_ready(k1s_agent_t *a, k1s_agent_ready_fn fn, void *arg)
{
    a->ready_fn = fn;
    a->ready_arg = arg;
    /* already ready: still called from the loop, never from here */
    if (a->pod_cidr && !a->ready_called)
        event_active(a->ready_ev, 0, 0);
}

void k1s_agent_fail(k1s_agent_t *a, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    /* the message is for a person at a terminal: always shown, as the CLI's are */
    fprintf(stderr, "%s\n", msg);
    free(msg);
    a->failed = code ? code : 1;
    event_base_loopbreak(a->base);
}

/* ---------- host defaults ---------- */

/* The host name, lower-cased, as kubelet's default node name. */
static char *default_node_name(void)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return k1s_xstrdup(*host ? host : "localhost");
}

/* The interface of the IPv4 default route (/proc/net/route), or "". */
static void default_route_iface(char out[IF_NAMESIZE + 1])
{
    out[0] = 0;
    char *text;
    if (k1s_read_file("/proc/net/route", &text, NULL) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char ifn[IF_NAMESIZE + 1];
        unsigned long dest, mask;
        unsigned gw, flags, refcnt, use, metric;
        if (sscanf(line, "%16s %lx %x %x %u %u %u %lx", ifn, &dest, &gw, &flags, &refcnt, &use,
                   &metric, &mask) == 8 &&
            dest == 0 && mask == 0 && (flags & 1)) {
            snprintf(out, IF_NAMESIZE + 1, "%s", ifn);
            break;
        }
    }
    free(text);
}

/* The default route's interface's IPv4 address, else the first non-loopback one, else 127.0.0.1. */
static char *default_node_ip(void)
{
    char iface[IF_NAMESIZE + 1];
    default_route_iface(iface);
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0)
        return k1s_xstrdup("127.0.0.1");
    char *found = NULL, *first = NULL;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
        if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
            continue;
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
        if (!first)
            first = k1s_xstrdup(buf);
        if (!found && *iface && !strcmp(i->ifa_name, iface))
            found = k1s_xstrdup(buf);
    }
    freeifaddrs(ifs);
    if (found) {
        free(first);
        return found;
    }
    return first ? first : k1s_xstrdup("127.0.0.1");
}

/* crun wants a pure cgroup v2 host; runc works everywhere else. */
static const char *default_runtime(void)
{
    bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    if (v2 && access("/usr/bin/crun", X_OK) == 0)
        return "crun";
    if (v2 && access("/usr/sbin/runc", X_OK) < 0 && access("/usr/bin/runc", X_OK) < 0)
        return "crun";
    return "runc";
}

/* Splits https://host[:port][/] into host (new string) and port. 0 or -EINVAL with err set. */
static int parse_url(const char *url, char **host_out, int *port, k1s_err_t *err)
{
    if (!k1s_str_has_prefix(url, "https://"))
        return k1s_err_set(err, EINVAL,
                           "--server \"%s\" is not a URL like https://10.0.0.1:6443 (the scheme "
                           "must be https)",
                           url);
    const char *h = url + 8;
    char host[256];
    int p = 6443;
    const char *hend;
    if (*h == '[') {
        hend = strchr(h, ']');
        if (!hend)
            return k1s_err_set(err, EINVAL, "--server \"%s\": unclosed '['", url);
        snprintf(host, sizeof(host), "%.*s", (int)(hend - h - 1), h + 1);
        hend++;
    } else {
        hend = h + strcspn(h, ":/");
        snprintf(host, sizeof(host), "%.*s", (int)(hend - h), h);
    }
    if (!*host)
        return k1s_err_set(err, EINVAL, "--server \"%s\" has no host", url);
    if (*hend == ':') {
        char *end;
        long v = strtol(hend + 1, &end, 10);
        if (end == hend + 1 || v <= 0 || v > 65535 || (*end && strcmp(end, "/")))
            return k1s_err_set(err, EINVAL, "--server \"%s\": bad port", url);
        p = (int)v;
    } else if (*hend && strcmp(hend, "/")) {
        return k1s_err_set(err, EINVAL, "--server \"%s\": expected https://host:port", url);
    }
    *host_out = k1s_xstrdup(host);
    *port = p;
    return 0;
}

int k1s_agent_resolve(k1s_agent_t *a, char **why)
{
    if (a->addr)
        return 0;
    /* the API client connects to IPv4 literals; a name is looked up here (blocking, once) */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gr = getaddrinfo(a->host, NULL, &hints, &res);
    if (gr != 0 || !res) {
        *why = k1s_xasprintf("lookup %s: %s", a->host,
                             gr == EAI_SYSTEM ? strerror(errno) : gai_strerror(gr));
        return -EHOSTUNREACH;
    }
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, buf, sizeof(buf));
    freeaddrinfo(res);
    a->addr = k1s_xstrdup(buf);
    return 0;
}

/* agent/node-password, made on first use. */
static int ensure_password(k1s_agent_t *a, k1s_err_t *err)
{
    _k1s_cleanup_free_ char *path = k1s_xasprintf("%s/node-password", a->dir);
    char *data;
    if (k1s_read_file(path, &data, NULL) == 0) {
        data[strcspn(data, "\r\n")] = 0;
        if (*data) {
            a->password = data;
            return 0;
        }
        free(data);
    }
    unsigned char raw[16];
    char hex[33];
    k1s_random_bytes(raw, sizeof(raw));
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    char *line = k1s_xasprintf("%s\n", hex);
    int r = k1s_write_file_atomic(path, line, strlen(line), 0600);
    free(line);
    if (r < 0)
        return k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
    a->password = k1s_xstrdup(hex);
    return 0;
}

/* ---------- the Node ---------- */

static void schedule_tick(k1s_agent_t *a, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(a->tick, &tv);
}

/* A request could not reach the server: log once, back off. */
static void server_lost(k1s_agent_t *a, const char *why)
{
    if (!a->lost) {
        k1s_warn("lost connection to server %s: %s; retrying with back-off", a->url,
                 why && *why ? why : "no answer");
        a->lost = true;
        a->backoff_ms = 1000;
    } else {
        a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : a->backoff_ms * 2;
    }
    schedule_tick(a, a->backoff_ms);
}

/* An answer came: the server is there. Returns false (and backs off) if res says it is not. */
static bool server_answered(k1s_agent_t *a, const k1s_client_result_t *res)
{
    if (res->status == 0) {
        server_lost(a, res->body);
        return false;
    }
    if (a->lost) {
        k1s_info("connection to server %s restored", a->url);
        a->lost = false;
        schedule_tick(a, 0);
    }
    return true;
}

static json_t *node_labels(k1s_agent_t *a)
{
    json_t *l = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kubernetes.io/hostname", a->node,
                          "kubernetes.io/os", "linux", "kubernetes.io/arch", a->id.arch,
                          "beta.kubernetes.io/os", "linux", "beta.kubernetes.io/arch", a->id.arch,
                          "node.kubernetes.io/instance-type", "k1s");
    json_object_update(l, a->labels);
    return l;
}

/* Capacity minus the configured hard eviction thresholds, as kubelet. */
static json_t *allocatable(k1s_agent_t *a, const k1s_node_facts_t *f)
{
    const k1s_kubelet_config_t *kc = k1s_eviction_config(a->eviction);
    const k1s_evict_threshold_t *m = &kc->hard[K1S_SIG_MEMORY_AVAILABLE];
    const k1s_evict_threshold_t *n = &kc->hard[K1S_SIG_NODEFS_AVAILABLE];
    return k1s_node_allocatable_evict(f, m->set ? k1s_evict_threshold_value(m, f->mem_total) : 0,
                                      n->set ? k1s_evict_threshold_value(n, f->fs_total) : 0);
}

static json_t *node_status(k1s_agent_t *a, const k1s_node_facts_t *f, json_t *conditions)
{
    return json_pack(
        "{s:o,s:o,s:o,s:[{s:s,s:s},{s:s,s:s}],s:{s:{s:i}},s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,"
        "s:s,s:s}}",
        "capacity", k1s_node_capacity(f), "allocatable", allocatable(a, f), "conditions",
        conditions, "addresses", "type", "InternalIP", "address", a->node_ip, "type", "Hostname",
        "address", a->node, "daemonEndpoints", "kubeletEndpoint", "Port", a->kubelet_port,
        "nodeInfo", "machineID", a->id.machine_id, "systemUUID", a->id.system_uuid, "bootID",
        a->id.boot_id, "kernelVersion", a->id.kernel_version, "osImage", a->id.os_image,
        "containerRuntimeVersion", a->id.runtime_version, "kubeletVersion", K1S_KUBE_GIT_VERSION,
        "kubeProxyVersion", K1S_KUBE_GIT_VERSION, "operatingSystem", "linux", "architecture",
        a->id.arch);
}

static void start_podcidr_watch(k1s_agent_t *a);

static void set_pod_cidr(k1s_agent_t *a, const json_t *node)
{
    const char *cidr = json_string_value(json_object_get(json_object_get(node, "spec"), "podCIDR"));
    if (!cidr || !*cidr || (a->pod_cidr && !strcmp(a->pod_cidr, cidr)))
        return;
    free(a->pod_cidr);
    a->pod_cidr = k1s_xstrdup(cidr);
    _k1s_cleanup_free_ char *path = k1s_xasprintf("%s/pod-cidr", a->dir);
    _k1s_cleanup_free_ char *line = k1s_xasprintf("%s\n", cidr);
    int r = k1s_write_file_atomic(path, line, strlen(line), 0644);
    if (r < 0)
        k1s_warn("cannot write %s: %s", path, strerror(-r));
    k1s_info("node %s has pod CIDR %s", a->node, cidr);
    if (a->watch) {
        k1s_client_cancel(a->watch);
        a->watch = NULL;
    }
    ready_now(-1, 0, a);
}

static void status_written(const k1s_client_result_t *res, void *arg)
{
    k1s_agent_t *a = arg;
    a->status_req = NULL;
    if (!server_answered(a, res))
        return;
    if (res->status == 404) {
        /* the Node was deleted: register it again */
        k1s_info("node %s was deleted; registering it again", a->node);
        a->registered = false;
        schedule_tick(a, 0);
        return;
    }
    if (res->status != 200) {
        k1s_warn("update status of node %s: %d %s", a->node, res->status, res->message);
        json_decref(a->conditions);
        a->conditions = NULL; /* write again next tick */
        return;
    }
    set_pod_cidr(a, res->obj);
}

/* Looks at the host and writes the status if something changed or a minute has passed. */
static void update_status(k1s_agent_t *a, bool force)
{
    if (a->status_req)
        return;
    k1s_node_facts_t f;
    k1s_err_t err = {0};
    if (k1s_node_facts_read(a->dir, &f, &err) < 0) {
        k1s_warn("node status: %s", err.msg);
        return;
    }
    char now[32];
    k1s_time_rfc3339(now);
    bool mem, disk;
    k1s_eviction_pressure(a->eviction, &mem, &disk);
    json_t *conds = k1s_node_conditions_pressure(mem, disk, a->conditions, now);
    bool due = force || !a->conditions ||
               k1s_now_ns() - a->status_ns >= (uint64_t)STATUS_REPORT_S * 1000000000ull;
    if (!due && !k1s_node_conditions_changed(conds, a->conditions)) {
        json_decref(conds);
        return;
    }
    json_decref(a->conditions);
    a->conditions = json_incref(conds);
    a->status_ns = k1s_now_ns();
    json_t *patch = json_pack("{s:o}", "status", node_status(a, &f, conds));
    char *body = json_dumps(patch, JSON_COMPACT);
    json_decref(patch);
    a->status_req = k1s_client_patch(a->client, &nodes_gvr, NULL, a->node, "status",
                                     K1S_PATCH_MERGE, body, false, status_written, a);
    free(body);
}

/* The eviction manager's cycle, on the node status tick (kubelet's 10 s monitoring
 * interval; back-off ticks while the server is away do not make it run more often). */
static void eviction_tick(k1s_agent_t *a)
{
    uint64_t now = k1s_now_ns();
    if (a->eviction_ns && now - a->eviction_ns < (uint64_t)(LEASE_RENEW_S * 1000 - 500) * 1000000)
        return;
    a->eviction_ns = now;
    k1s_eviction_sync(a->eviction);
}

static void renew_lease(k1s_agent_t *a);

static void lease_done(const k1s_client_result_t *res, void *arg)
{
    k1s_agent_t *a = arg;
    a->lease_req = NULL;
    if (!server_answered(a, res))
        return;
    if (res->status == 200 || res->status == 201) {
        json_decref(a->lease);
        a->lease = json_incref(res->obj);
        k1s_trace("renewed lease of node %s", a->node);
        return;
    }
    /* 404: create it; 409: someone wrote it meanwhile: read it again */
    json_decref(a->lease);
    a->lease = NULL;
    if (res->status == 409 || res->status == 404)
        renew_lease(a);
    else
        k1s_warn("renew lease kube-node-lease/%s: %d %s", a->node, res->status, res->message);
}

static void lease_got(const k1s_client_result_t *res, void *arg)
{
    k1s_agent_t *a = arg;
    a->lease_req = NULL;
    if (!server_answered(a, res))
        return;
    if (res->status == 200) {
        a->lease = json_incref(res->obj);
        renew_lease(a);
        return;
    }
    if (res->status != 404) {
        k1s_warn("get lease kube-node-lease/%s: %d %s", a->node, res->status, res->message);
        return;
    }
    char now[40];
    k1s_time_rfc3339_micro(now);
    json_t *lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s}}", "apiVersion",
                              "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
                              a->node, "namespace", "kube-node-lease", "spec", "holderIdentity",
                              a->node, "leaseDurationSeconds", LEASE_DURATION_S, "renewTime", now);
    if (a->node_uid)
        json_object_set_new(json_object_get(lease, "metadata"), "ownerReferences",
                            json_pack("[{s:s,s:s,s:s,s:s}]", "apiVersion", "v1", "kind", "Node",
                                      "name", a->node, "uid", a->node_uid));
    a->lease_req =
        k1s_client_create(a->client, &leases_gvr, "kube-node-lease", lease, lease_done, a);
    json_decref(lease);
}

static void renew_lease(k1s_agent_t *a)
{
    if (a->lease_req)
        return;
    if (!a->lease) {
        a->lease_req =
            k1s_client_get(a->client, &leases_gvr, "kube-node-lease", a->node, lease_got, a);
        return;
    }
    json_t *l = json_deep_copy(a->lease);
    char now[40];
    k1s_time_rfc3339_micro(now);
    json_t *spec = json_object_get(l, "spec");
    json_object_set_new(spec, "renewTime", json_string(now));
    json_object_set_new(spec, "holderIdentity", json_string(a->node));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(LEASE_DURATION_S));
    a->lease_req = k1s_client_update(a->client, &leases_gvr, "kube-node-lease", l, lease_done, a);
    json_decref(l);
}

static void podcidr_event(k1s_watch_type_t type, json_t *obj, int status, void *arg)
{
    k1s_agent_t *a = arg;
    if (type == K1S_WATCH_CLOSED) {
        a->watch = NULL; /* started again on a later tick */
        return;
    }
    if (type == K1S_WATCH_ADDED || type == K1S_WATCH_MODIFIED)
        set_pod_cidr(a, obj);
}

static void start_podcidr_watch(k1s_agent_t *a)
{
    if (a->pod_cidr || a->watch || !a->client)
        return;
    char *sel = k1s_xasprintf("metadata.name=%s", a->node);
    k1s_list_opts_t o = {.field_selector = sel};
    a->watch = k1s_client_watch(a->client, &nodes_gvr, NULL, &o, podcidr_event, a);
    free(sel);
}

static void registered(k1s_agent_t *a, const json_t *node)
{
    bool first = !a->registered;
    a->registered = true;
    free(a->node_uid);
    const char *uid = json_string_value(json_object_get(json_object_get(node, "metadata"), "uid"));
    a->node_uid = uid ? k1s_xstrdup(uid) : NULL;
    if (first)
        k1s_info("node %s registered", a->node);
    set_pod_cidr(a, node);
    start_podcidr_watch(a);
    eviction_tick(a);
    update_status(a, true);
    renew_lease(a);
    schedule_tick(a, LEASE_RENEW_S * 1000);
}

static void register_node(k1s_agent_t *a);

static void node_written(const k1s_client_result_t *res, void *arg)
{
    k1s_agent_t *a = arg;
    a->node_req = NULL;
    if (!server_answered(a, res))
        return;
    if (res->status == 200 || res->status == 201) {
        registered(a, res->obj);
        return;
    }
    if (res->status == 409 || res->status == 404) {
        register_node(a); /* created or deleted meanwhile: look again */
        return;
    }
    if (res->status == 403 || res->status == 422 || res->status == 400) {
        k1s_agent_fail(a, 1, "k1s: register node %s: the server refused: %s", a->node,
                       res->message);
        return;
    }
    k1s_warn("register node %s: %d %s; retrying", a->node, res->status, res->message);
    schedule_tick(a, 2000);
}

static void node_got(const k1s_client_result_t *res, void *arg)
{
    k1s_agent_t *a = arg;
    a->node_req = NULL;
    if (!server_answered(a, res))
        return;
    if (res->status == 200) {
        /* a Node from an earlier run: bring its labels up to date, keep the rest */
        json_t *patch =
            json_pack("{s:{s:o,s:{s:s}}}", "metadata", "labels", node_labels(a), "annotations",
                      "volumes.kubernetes.io/controller-managed-attach-detach", "true");
        char *body = json_dumps(patch, JSON_COMPACT);
        json_decref(patch);
        a->node_req = k1s_client_patch(a->client, &nodes_gvr, NULL, a->node, NULL, K1S_PATCH_MERGE,
                                       body, false, node_written, a);
        free(body);
        return;
    }
    if (res->status != 404) {
        node_written(res, a);
        return;
    }
    k1s_node_facts_t f;
    k1s_err_t err = {0};
    if (k1s_node_facts_read(a->dir, &f, &err) < 0) {
        k1s_agent_fail(a, 1, "k1s: %s", err.msg);
        return;
    }
    char now[32];
    k1s_time_rfc3339(now);
    bool mem, disk;
    k1s_eviction_pressure(a->eviction, &mem, &disk);
    json_t *conds = k1s_node_conditions_pressure(mem, disk, NULL, now);
    json_t *node =
        json_pack("{s:s,s:s,s:{s:s,s:o,s:{s:s}},s:{},s:o}", "apiVersion", "v1", "kind", "Node",
                  "metadata", "name", a->node, "labels", node_labels(a), "annotations",
                  "volumes.kubernetes.io/controller-managed-attach-detach", "true", "spec",
                  "status", node_status(a, &f, conds));
    if (json_array_size(a->taints))
        json_object_set(json_object_get(node, "spec"), "taints", a->taints);
    a->node_req = k1s_client_create(a->client, &nodes_gvr, NULL, node, node_written, a);
    json_decref(node);
}

static void register_node(k1s_agent_t *a)
{
    if (a->node_req)
        return;
    a->node_req = k1s_client_get(a->client, &nodes_gvr, NULL, a->node, node_got, a);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_agent_t *a = arg;
    if (!a->client)
        return;
    if (!a->registered) {
        /* node_written schedules the next tick */
        register_node(a);
        return;
    }
    eviction_tick(a);
    if (a->lost) {
        /* the Lease renewal is the probe; its answer schedules the next tick */
        if (a->lease_req)
            schedule_tick(a, a->backoff_ms);
        renew_lease(a);
        return;
    }
    renew_lease(a);
    update_status(a, false);
    start_podcidr_watch(a);
    schedule_tick(a, LEASE_RENEW_S * 1000);
}

void k1s_agent_connect(k1s_agent_t *a)
{
    /* a new client for new certificates; outstanding requests go with the old one */
    if (a->client) {
        k1s_client_free(a->client);
        a->node_req = a->lease_req = a->status_req = a->watch = NULL;
    }
    _k1s_cleanup_free_ char *ca = k1s_xasprintf("%s/server-ca.crt", a->dir);
    _k1s_cleanup_free_ char *crt = k1s_xasprintf("%s/client-kubelet.crt", a->dir);
    _k1s_cleanup_free_ char *key = k1s_xasprintf("%s/client-kubelet.key", a->dir);
    _k1s_cleanup_free_ char *user = k1s_xasprintf("system:node:%s", a->node);
    k1s_client_http_opts_t o = {.addr = a->addr,
                                .port = a->port,
                                .ca_file = ca,
                                .cert_file = crt,
                                .key_file = key,
                                .user = user};
    k1s_err_t err = {0};
    a->client = k1s_client_new_http(a->base, &o, &err);
    if (!a->client) {
        k1s_agent_fail(a, 1, "k1s: cannot use the node certificates in %s: %s", a->dir, err.msg);
        return;
    }
    k1s_client_set_user_agent(a->client, "kubelet/" K1S_KUBE_GIT_VERSION " (linux) k1s");
    a->registered = false;
    json_decref(a->lease);
    a->lease = NULL;
    register_node(a);
}

/* ---------- lifecycle ---------- */

static int read_token(const k1s_agent_config_t *c, char **out, k1s_err_t *err)
{
    if (c->token && *c->token) {
        *out = k1s_xstrdup(c->token);
        return 0;
    }
    if (c->token_file && *c->token_file) {
        char *data;
        int r = k1s_read_file(c->token_file, &data, NULL);
        if (r < 0)
            return k1s_err_set(err, -r, "cannot read --token-file %s: %s", c->token_file,
                               strerror(-r));
        data[strcspn(data, "\r\n")] = 0;
        *out = data;
        return 0;
    }
    return k1s_err_set(err, EINVAL,
                       "a token is needed to join the server: pass --token or --token-file, or "
                       "set K1S_TOKEN (the server keeps it in <data-dir>/server/token)");
}

k1s_agent_t *k1s_agent_new(struct event_base *base, const k1s_agent_config_t *c, k1s_err_t *err)
{
    k1s_agent_t *a = k1s_xcalloc(1, sizeof(*a));
    a->base = base;
    a->labels = json_object();
    a->taints = json_array();
    char *token = NULL;
    int r;
    if (!c->server_url || !*c->server_url) {
        k1s_err_set(err, EINVAL,
                    "the server to join is needed: pass --server https://<server>:6443 or set "
                    "K1S_URL");
        goto fail;
    }
    a->url = k1s_xstrdup(c->server_url);
    if (parse_url(c->server_url, &a->host, &a->port, err) < 0)
        goto fail;
    if (read_token(c, &token, err) < 0)
        goto fail;
    const char *secret = NULL;
    if (!k1s_pki_token_parse(token, a->ca_hash, &secret)) {
        k1s_err_set(err, EINVAL,
                    "the token is malformed: expected K10<ca-hash>::server:<secret> or a bare "
                    "secret without spaces");
        goto fail;
    }
    a->secret = k1s_xstrdup(secret);
    a->node = c->node_name && *c->node_name ? k1s_xstrdup(c->node_name) : default_node_name();
    a->node_ip = c->node_ip && *c->node_ip ? k1s_xstrdup(c->node_ip) : default_node_ip();
    {
        struct in_addr ia;
        struct in6_addr i6;
        if (inet_pton(AF_INET, a->node_ip, &ia) != 1 && inet_pton(AF_INET6, a->node_ip, &i6) != 1) {
            k1s_err_set(err, EINVAL, "--node-ip \"%s\" is not an IP address", a->node_ip);
            goto fail;
        }
    }
    a->runtime = k1s_xstrdup(c->runtime && *c->runtime ? c->runtime : default_runtime());
    if (strcmp(a->runtime, "runc") && strcmp(a->runtime, "crun")) {
        k1s_err_set(err, EINVAL, "--runtime wants runc or crun, got \"%s\"", a->runtime);
        goto fail;
    }
    a->kubelet_port = c->kubelet_port;
    for (int i = 0; c->node_labels[i]; i++) {
        char *k, *v;
        if (k1s_node_parse_label(c->node_labels[i], &k, &v, err) < 0)
            goto fail;
        json_object_set_new(a->labels, k, json_string(v));
        free(k);
        free(v);
    }
    for (int i = 0; c->node_taints[i]; i++) {
        json_t *t;
        if (k1s_node_parse_taint(c->node_taints[i], &t, err) < 0)
            goto fail;
        json_array_append_new(a->taints, t);
    }
    {
        k1s_kubelet_config_t kc;
        char *warnings = NULL;
        if (k1s_kubelet_config_parse(c->kubelet_args, &kc, &warnings, err) < 0)
            goto fail;
        if (warnings)
            k1s_warn("%s", warnings);
        free(warnings);
        _k1s_cleanup_free_ char *adir = k1s_xasprintf("%s/agent", c->data_dir);
        a->eviction = k1s_eviction_new(&kc, a->node, adir);
    }
    a->dir = k1s_xasprintf("%s/agent", c->data_dir);
    if ((r = k1s_mkdir_p(a->dir, 0700)) < 0) {
        k1s_err_set(err, -r, "cannot create data directory %s: %s%s", a->dir, strerror(-r),
                    r == -EACCES ? " (run as root, or pass --data-dir to a directory you own)"
                                 : "");
        goto fail;
    }
    if (ensure_password(a, err) < 0 || k1s_agent_ensure_key(a, "client-kubelet.key", err) < 0 ||
        k1s_agent_ensure_key(a, "serving-kubelet.key", err) < 0)
        goto fail;
    if (c->private_registry) {
        _k1s_cleanup_free_ char *p = k1s_xasprintf("%s/private-registry", a->dir);
        _k1s_cleanup_free_ char *line = k1s_xasprintf("%s\n", c->private_registry);
        k1s_write_file_atomic(p, line, strlen(line), 0644);
    }
    /* a pod CIDR from an earlier run: the network part may use it before the server answers */
    {
        _k1s_cleanup_free_ char *p = k1s_xasprintf("%s/pod-cidr", a->dir);
        char *cidr;
        if (k1s_read_file(p, &cidr, NULL) == 0) {
            cidr[strcspn(cidr, "\r\n")] = 0;
            if (*cidr)
                k1s_debug("pod CIDR %s from the previous run", cidr);
            free(cidr);
        }
    }
    k1s_node_identity_read(&a->id, a->runtime);
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    a->tick = evtimer_new(base, tick_cb, a);
    a->ready_ev = evtimer_new(base, ready_now, a);
    k1s_info("k1s agent %s: node %s (%s), server %s, runtime %s, data in %s", K1S_VERSION, a->node,
             a->node_ip, a->url, a->runtime, a->dir);
    char *why = NULL;
    bool resolved = k1s_agent_resolve(a, &why) == 0;
    free(why); /* joining retries the lookup and says why */
    if (resolved && k1s_agent_certs_usable(a)) {
        k1s_debug("reusing the node certificates in %s", a->dir);
        k1s_agent_schedule_renewal(a);
        k1s_agent_connect(a);
    } else {
        k1s_agent_join_start(a);
    }
    return a;
fail:
    if (token) {
        OPENSSL_cleanse(token, strlen(token));
        free(token);
    }
    k1s_agent_free(a);
    return NULL;
}

void k1s_agent_free(k1s_agent_t *a)
{
    if (!a)
        return;
    k1s_client_free(a->client);
    k1s_fetch_cancel(a->fetch);
    if (a->tick)
        event_free(a->tick);
    if (a->ready_ev)
        event_free(a->ready_ev);
    if (a->join_retry)
        event_free(a->join_retry);
    if (a->renew)
        event_free(a->renew);
    free(a->url);
    free(a->addr);
    free(a->host);
    if (a->secret) {
        OPENSSL_cleanse(a->secret, strlen(a->secret));
        free(a->secret);
    }
    free(a->node);
    free(a->node_ip);
    free(a->dir);
    free(a->runtime);
    json_decref(a->labels);
    json_decref(a->taints);
    free(a->password);
    if (a->id.machine_id)
        k1s_node_identity_free(&a->id);
    free(a->ca_pem);
    free(a->join_err);
    json_decref(a->lease);
    json_decref(a->conditions);
    free(a->node_uid);
    free(a->pod_cidr);
    k1s_eviction_free(a->eviction);
    free(a);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    k1s_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_base_loopbreak(arg);
}

/* Once the Node is registered and has a pod CIDR: the pod workers. */
static void start_kubelet(k1s_agent_t *a, void *arg)
{
    k1s_kubelet_t **kp = arg;
    k1s_err_t err = {0};
    *kp = k1s_kubelet_new(a, &err);
    if (!*kp)
        k1s_error("kubelet: %s; pods bound to node %s will not run", err.msg, a->node);
}

int k1s_agent_run(const k1s_agent_config_t *c)
{
    /* started by `k1s server`: go when the server goes */
    if (getenv("K1S_AGENT_EMBEDDED")) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1)
            return 0;
    }
    /* the shims it starts need no GnuTLS either (see agentproc.c) */
    setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "k1s: cannot create the event loop\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    k1s_err_t err = {0};
    k1s_agent_t *a = k1s_agent_new(base, c, &err);
    if (!a) {
        fprintf(stderr, "k1s: agent: %s\n", err.msg);
        event_base_free(base);
        return 1;
    }
    k1s_kubelet_t *kubelet = NULL;
    k1s_agent_on_ready(a, start_kubelet, &kubelet);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    if (!a->failed)
        event_base_dispatch(base);
    int rc = a->failed;
    k1s_kubelet_free(kubelet);
    k1s_agent_free(a);
    /* canceled requests are released by the loop */
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_free(sigint);
    event_free(sigterm);
    event_base_free(base);
    return rc;
}
