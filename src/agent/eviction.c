/*
 * The eviction manager (see eviction.h): signal observation, thresholds, the pressure
 * conditions with their transition period, ranking and the one-pod-per-cycle eviction.
 */
#include "agent/eviction.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "agent/node.h"
#include "api/quantity.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

/* scheduling.SystemCriticalPriority */
#define SYSTEM_CRITICAL_PRIORITY 2000000000LL

/* ---- signals ---- */

static bool read_u64(const char *path, uint64_t *out)
{
    char *s;
    if (k1s_read_file(path, &s, NULL) < 0)
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    bool ok = end != s;
    free(s);
    if (ok)
        *out = v;
    return ok;
}

static bool stat_field(const char *text, const char *key, uint64_t *out)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, key, kl) && (p[kl] == ' ' || p[kl] == ':')) {
            const char *v = p + kl + 1;
            while (*v == ' ')
                v++;
            *out = strtoull(v, NULL, 10);
            if (strstr(v, "kB") && strstr(v, "kB") < strchr(v, '\n'))
                *out *= 1024;
            return true;
        }
    }
    return false;
}

/* The root cgroup's working set (cgroup v1), or MemTotal - MemFree - Inactive(file). */
static void observe_memory(k1s_evict_obs_t *o)
{
    char *mi;
    if (k1s_read_file("/proc/meminfo", &mi, NULL) < 0)
        return;
    uint64_t total = 0, freemem = 0, inactive = 0;
    bool ok = stat_field(mi, "MemTotal", &total);
    uint64_t usage = 0, ws;
    char *st = NULL;
    if (ok && read_u64("/sys/fs/cgroup/memory/memory.usage_in_bytes", &usage) &&
        k1s_read_file("/sys/fs/cgroup/memory/memory.stat", &st, NULL) == 0 &&
        stat_field(st, "total_inactive_file", &inactive)) {
        ws = usage > inactive ? usage - inactive : 0;
    } else if (ok && stat_field(mi, "MemFree", &freemem) &&
               stat_field(mi, "Inactive(file)", &inactive)) {
        uint64_t used = total > freemem ? total - freemem : 0;
        ws = used > inactive ? used - inactive : 0;
    } else {
        ok = false;
        ws = 0;
    }
    free(st);
    free(mi);
    if (!ok)
        return;
    o->have = true;
    o->capacity = total;
    o->available = total > ws ? total - ws : 0;
}

void k1s_eviction_observe(const char *dir, k1s_evict_obs_t obs[K1S_SIG_N])
{
    memset(obs, 0, sizeof(obs[0]) * K1S_SIG_N);
    observe_memory(&obs[K1S_SIG_MEMORY_AVAILABLE]);
    struct statvfs v;
    if (statvfs(dir, &v) == 0) {
        k1s_evict_obs_t bytes = {true, (uint64_t)v.f_bavail * v.f_frsize,
                                 (uint64_t)v.f_blocks * v.f_frsize};
        k1s_evict_obs_t inodes = {v.f_files > 0, (uint64_t)v.f_ffree, (uint64_t)v.f_files};
        obs[K1S_SIG_NODEFS_AVAILABLE] = obs[K1S_SIG_IMAGEFS_AVAILABLE] = bytes;
        obs[K1S_SIG_NODEFS_INODES_FREE] = obs[K1S_SIG_IMAGEFS_INODES_FREE] = inodes;
    }
}

uint64_t k1s_evict_threshold_value(const k1s_evict_threshold_t *t, uint64_t capacity)
{
    if (t->pct > 0)
        return (uint64_t)((double)capacity * t->pct);
    return t->quantity;
}

int k1s_eviction_met(const k1s_evict_threshold_t hard[K1S_SIG_N],
                     const k1s_evict_obs_t obs[K1S_SIG_N], bool met[K1S_SIG_N])
{
    int n = 0;
    for (int s = 0; s < K1S_SIG_N; s++) {
        met[s] = hard[s].set && obs[s].have &&
                 obs[s].available < k1s_evict_threshold_value(&hard[s], obs[s].capacity);
        n += met[s];
    }
    return n;
}

k1s_evict_resource_t k1s_evict_signal_resource(k1s_evict_signal_t s)
{
    switch (s) {
    case K1S_SIG_MEMORY_AVAILABLE: return K1S_RES_MEMORY;
    case K1S_SIG_NODEFS_INODES_FREE:
    case K1S_SIG_IMAGEFS_INODES_FREE: return K1S_RES_INODES;
    default: return K1S_RES_EPHEMERAL_STORAGE;
    }
}

const char *k1s_evict_resource_name(k1s_evict_resource_t r)
{
    return r == K1S_RES_MEMORY ? "memory" : r == K1S_RES_INODES ? "inodes" : "ephemeral-storage";
}

/* ---- pods ---- */

void k1s_evict_pods_free(k1s_evict_pod_t *pods, size_t n)
{
    if (!pods)
        return;
    for (size_t i = 0; i < n; i++) {
        json_decref(pods[i].pod);
        for (size_t j = 0; j < pods[i].nctrs; j++)
            free(pods[i].ctrs[j].name);
        free(pods[i].ctrs);
    }
    free(pods);
}

static uint64_t ctr_request(const json_t *c, const char *res)
{
    const json_t *v =
        json_object_get(json_object_get(json_object_get(c, "resources"), "requests"), res);
    k1s_quantity_t q;
    if (!v || k1s_quantity_from_json(v, &q, NULL) < 0 || k1s_quantity_sign(&q) <= 0)
        return 0;
    return (uint64_t)k1s_quantity_value(&q);
}

uint64_t k1s_evict_pod_request(const json_t *pod, k1s_evict_resource_t r)
{
    if (r == K1S_RES_INODES)
        return 0;
    const char *res = r == K1S_RES_MEMORY ? "memory" : "ephemeral-storage";
    const json_t *spec = json_object_get(pod, "spec");
    uint64_t sum = 0, init_max = 0;
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        sum += ctr_request(c, res);
    }
    json_array_foreach(json_object_get(spec, "initContainers"), i, c)
    {
        uint64_t v = ctr_request(c, res);
        if (v > init_max)
            init_max = v;
    }
    return sum > init_max ? sum : init_max;
}

static uint64_t pod_usage(const k1s_evict_pod_t *p, k1s_evict_resource_t r)
{
    return r == K1S_RES_MEMORY ? p->memory : r == K1S_RES_INODES ? p->inodes : p->disk;
}

static int64_t pod_priority(const json_t *pod)
{
    const json_t *v = json_object_get(json_object_get(pod, "spec"), "priority");
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

bool k1s_eviction_critical(const json_t *pod)
{
    const json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
    const char *src = json_string_value(json_object_get(ann, "kubernetes.io/config.source"));
    if (src && strcmp(src, "api") != 0)
        return true; /* static pods */
    return pod_priority(pod) >= SYSTEM_CRITICAL_PRIORITY;
}

static int cmp_rank(const void *a, const void *b, void *arg)
{
    const k1s_evict_pod_t *x = a, *y = b;
    k1s_evict_resource_t r = *(const k1s_evict_resource_t *)arg;
    /* exceedsRequests: pods without stats first, then those above their request */
    if (x->has_stats != y->has_stats)
        return !x->has_stats ? -1 : 1;
    uint64_t rx = k1s_evict_pod_request(x->pod, r), ry = k1s_evict_pod_request(y->pod, r);
    uint64_t ux = pod_usage(x, r), uy = pod_usage(y, r);
    if (x->has_stats) {
        bool ex = ux > rx, ey = uy > ry;
        if (ex != ey)
            return ex ? -1 : 1;
    }
    /* priority: lower first */
    int64_t px = pod_priority(x->pod), py = pod_priority(y->pod);
    if (px != py)
        return px < py ? -1 : 1;
    /* usage above the request: larger first */
    int64_t dx = (int64_t)ux - (int64_t)rx, dy = (int64_t)uy - (int64_t)ry;
    if (dx != dy)
        return dx > dy ? -1 : 1;
    return 0;
}

void k1s_eviction_rank(k1s_evict_pod_t *pods, size_t n, k1s_evict_resource_t r)
{
    if (n > 1)
        qsort_r(pods, n, sizeof(*pods), cmp_rank, &r);
}

char *k1s_evict_bytes_string(uint64_t bytes)
{
    static const char *const sfx[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    size_t k = 0;
    uint64_t v = bytes;
    /* Quantity.String() of a BinarySI value: the largest power of 1024 that divides it */
    while (v && v % 1024 == 0 && k + 1 < K1S_ARRAY_SIZE(sfx)) {
        v /= 1024;
        k++;
    }
    return k1s_xasprintf("%llu%s", (unsigned long long)v, sfx[k]);
}

char *k1s_eviction_message(k1s_evict_resource_t r, const k1s_evict_pod_t *p,
                           const k1s_evict_threshold_t *t, const k1s_evict_obs_t *obs)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b, "The node was low on resource: %s. ", k1s_evict_resource_name(r));
    if (t && obs && obs->have) {
        uint64_t q = k1s_evict_threshold_value(t, obs->capacity);
        char *qs = r == K1S_RES_INODES ? k1s_xasprintf("%llu", (unsigned long long)q)
                                       : k1s_evict_bytes_string(q);
        char *as = r == K1S_RES_INODES ? k1s_xasprintf("%llu", (unsigned long long)obs->available)
                                       : k1s_evict_bytes_string(obs->available);
        k1s_buf_printf(&b, "Threshold quantity: %s, available: %s. ", qs, as);
        free(qs);
        free(as);
    }
    if (r == K1S_RES_INODES || !p)
        return k1s_buf_steal(&b);
    const char *res = r == K1S_RES_MEMORY ? "memory" : "ephemeral-storage";
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(p->pod, "spec"), "containers"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        for (size_t j = 0; name && j < p->nctrs; j++) {
            const k1s_evict_ctr_t *s = &p->ctrs[j];
            if (strcmp(s->name, name))
                continue;
            bool have = r == K1S_RES_MEMORY ? s->have_memory : s->have_disk;
            uint64_t usage = r == K1S_RES_MEMORY ? s->memory : s->disk;
            uint64_t req = ctr_request(c, res);
            if (!have || usage <= req)
                continue;
            char *us = k1s_evict_bytes_string(usage), *rs = k1s_evict_bytes_string(req);
            k1s_buf_printf(&b,
                           "Container %s was using %s, request is %s, has larger consumption of "
                           "%s. ",
                           name, us, rs, res);
            free(us);
            free(rs);
        }
    }
    return k1s_buf_steal(&b);
}

/* Whether a toleration tolerates the memory-pressure NoSchedule taint. */
static bool tolerates_memory_pressure(const json_t *pod)
{
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "tolerations"), i, t)
    {
        const char *key = json_string_value(json_object_get(t, "key"));
        const char *op = json_string_value(json_object_get(t, "operator"));
        const char *effect = json_string_value(json_object_get(t, "effect"));
        const char *value = json_string_value(json_object_get(t, "value"));
        if (effect && *effect && strcmp(effect, "NoSchedule"))
            continue;
        if (op && !strcmp(op, "Exists")) {
            if (!key || !*key || !strcmp(key, "node.kubernetes.io/memory-pressure"))
                return true;
        } else if (key && !strcmp(key, "node.kubernetes.io/memory-pressure") &&
                   (!value || !*value)) {
            return true;
        }
    }
    return false;
}

char *k1s_eviction_admit(bool memory, bool disk, const json_t *pod, const char *qos)
{
    if ((!memory && !disk) || k1s_eviction_critical(pod))
        return NULL;
    if (!disk && (strcmp(qos, "BestEffort") || tolerates_memory_pressure(pod)))
        return NULL;
    return k1s_xasprintf("The node had condition: [%s%s%s]. ", memory ? "MemoryPressure" : "",
                         memory && disk ? " " : "", disk ? "DiskPressure" : "");
}

/* ---- the manager ---- */

enum { COND_MEMORY, COND_DISK, NCOND };
static const char *const cond_name[NCOND] = {"MemoryPressure", "DiskPressure"};

struct k1s_eviction {
    k1s_kubelet_config_t cfg;
    char *node, *dir;
    k1s_eviction_ops_t ops;
    k1s_eviction_observe_fn observe;
    bool attached;
    bool pressure[NCOND];
    int64_t last_met[NCOND]; /* monotonic seconds a threshold of it was last met; 0: never */
};

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec + 1; /* never 0 */
}

k1s_eviction_t *k1s_eviction_new(const k1s_kubelet_config_t *cfg, const char *node_name,
                                 const char *dir)
{
    k1s_eviction_t *ev = k1s_xcalloc(1, sizeof(*ev));
    ev->cfg = *cfg;
    ev->node = k1s_xstrdup(node_name);
    ev->dir = k1s_xstrdup(dir);
    ev->observe = k1s_eviction_observe;
    return ev;
}

void k1s_eviction_free(k1s_eviction_t *ev)
{
    if (!ev)
        return;
    free(ev->node);
    free(ev->dir);
    free(ev);
}

static void node_event(k1s_eviction_t *ev, const char *type, const char *reason, const char *fmt,
                       ...) K1S_PRINTF(4, 5);

static const char *status_reason(int c, bool p)
{
    return p ? (c ? "NodeHasDiskPressure" : "NodeHasInsufficientMemory")
             : (c ? "NodeHasNoDiskPressure" : "NodeHasSufficientMemory");
}

void k1s_eviction_set_ops(k1s_eviction_t *ev, const k1s_eviction_ops_t *ops)
{
    ev->attached = ops != NULL;
    if (ops)
        ev->ops = *ops;
    else
        memset(&ev->ops, 0, sizeof(ev->ops));
    /* a pressure that began before the kubelet could record events */
    for (int c = 0; ops && c < NCOND; c++)
        if (ev->pressure[c])
            node_event(ev, "Normal", status_reason(c, true), "Node %s status is now: %s", ev->node,
                       status_reason(c, true));
}

void k1s_eviction_pressure(const k1s_eviction_t *ev, bool *memory, bool *disk)
{
    *memory = ev->pressure[COND_MEMORY];
    *disk = ev->pressure[COND_DISK];
}

const k1s_kubelet_config_t *k1s_eviction_config(const k1s_eviction_t *ev)
{
    return &ev->cfg;
}

void k1s_eviction_set_observer(k1s_eviction_t *ev, k1s_eviction_observe_fn fn)
{
    ev->observe = fn ? fn : k1s_eviction_observe;
}

static void node_event(k1s_eviction_t *ev, const char *type, const char *reason, const char *fmt,
                       ...)
{
    if (!ev->attached || !ev->ops.node_event)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    ev->ops.node_event(ev->ops.arg, type, reason, msg);
    free(msg);
}

/* Evicts the first pod of the ranking for the threshold of signal s. */
static void evict_one(k1s_eviction_t *ev, k1s_evict_signal_t s, const k1s_evict_obs_t *obs)
{
    k1s_evict_resource_t r = k1s_evict_signal_resource(s);
    k1s_evict_pod_t *pods = NULL;
    size_t n = ev->ops.pods ? ev->ops.pods(ev->ops.arg, &pods) : 0;
    if (n == 0) {
        k1s_evict_pods_free(pods, n);
        k1s_debug("eviction manager: %s is below its threshold and there are no pods to evict",
                  k1s_evict_signal_name(s));
        return;
    }
    k1s_eviction_rank(pods, n, r);
    for (size_t i = 0; i < n; i++) {
        const json_t *meta = json_object_get(pods[i].pod, "metadata");
        const char *ns = json_string_value(json_object_get(meta, "namespace"));
        const char *name = json_string_value(json_object_get(meta, "name"));
        if (k1s_eviction_critical(pods[i].pod)) {
            k1s_debug("eviction manager: pod %s/%s is critical; not evicted", ns, name);
            continue;
        }
        char *msg = k1s_eviction_message(r, &pods[i], &ev->cfg.hard[s], obs);
        int rc = ev->ops.evict(ev->ops.arg, pods[i].pod, msg);
        if (rc == 0)
            k1s_warn("eviction manager: evicted pod %s/%s to reclaim %s: %s", ns, name,
                     k1s_evict_resource_name(r), msg);
        free(msg);
        if (rc == 0)
            break; /* one pod per cycle, as kubelet */
    }
    k1s_evict_pods_free(pods, n);
}

bool k1s_eviction_sync(k1s_eviction_t *ev)
{
    k1s_evict_obs_t obs[K1S_SIG_N];
    bool met[K1S_SIG_N];
    ev->observe(ev->dir, obs);
    int nmet = k1s_eviction_met(ev->cfg.hard, obs, met);
    int64_t now = mono_s();
    bool met_cond[NCOND] = {met[K1S_SIG_MEMORY_AVAILABLE],
                            met[K1S_SIG_NODEFS_AVAILABLE] || met[K1S_SIG_NODEFS_INODES_FREE] ||
                                met[K1S_SIG_IMAGEFS_AVAILABLE] || met[K1S_SIG_IMAGEFS_INODES_FREE]};
    bool changed = false;
    for (int c = 0; c < NCOND; c++) {
        if (met_cond[c])
            ev->last_met[c] = now;
        bool p = ev->last_met[c] && now - ev->last_met[c] < ev->cfg.pressure_transition_s;
        if (met_cond[c])
            p = true;
        if (p == ev->pressure[c])
            continue;
        ev->pressure[c] = p;
        changed = true;
        k1s_info("eviction manager: node %s %s %s", ev->node, p ? "has" : "no longer has",
                 cond_name[c]);
        node_event(ev, "Normal", status_reason(c, p), "Node %s status is now: %s", ev->node,
                   status_reason(c, p));
    }
    if (!ev->attached)
        return changed;
    if (ev->ops.image_gc)
        ev->ops.image_gc(ev->ops.arg);
    if (!nmet)
        return changed;
    /* memory first, then the filesystem signals in declaration order */
    k1s_evict_signal_t s = 0;
    while (!met[s])
        s++;
    k1s_evict_resource_t r = k1s_evict_signal_resource(s);
    node_event(ev, "Warning", "EvictionThresholdMet", "Attempting to reclaim %s",
               k1s_evict_resource_name(r));
    if (r != K1S_RES_MEMORY && ev->ops.reclaim_images) {
        uint64_t freed = 0;
        int n = ev->ops.reclaim_images(ev->ops.arg, &freed);
        if (n > 0) {
            k1s_evict_obs_t again[K1S_SIG_N];
            bool met2[K1S_SIG_N];
            ev->observe(ev->dir, again);
            k1s_eviction_met(ev->cfg.hard, again, met2);
            if (!met2[s]) {
                k1s_info("eviction manager: able to reduce %s pressure without evicting pods "
                         "(%d unused image%s removed, %llu bytes)",
                         k1s_evict_resource_name(r), n, n == 1 ? "" : "s",
                         (unsigned long long)freed);
                return changed;
            }
            obs[s] = again[s];
        }
    }
    evict_one(ev, s, &obs[s]);
    return changed;
}
