/*
 * The kubelet's resource statistics (see stats.h): cgroup and /proc parsers,
 * the Summary and the /metrics/resource text built from it.
 */
#include "agent/stats.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "agent/kubelet-api-int.h"
#include "client/strmap.h"
#include "lib/buf.h"
#include "lib/util.h"

#define NS_PER_S 1000000000ll
/* A sample younger than this is kept (not replaced) so that the next rate has a window. */
#define MIN_WINDOW_NS (1 * NS_PER_S)
#define MAX_IFS 32

/* The previous CPU sample of one cgroup (or of the node, key ""). */
typedef struct sample {
    unsigned gen; /* the summary that last saw it (first: see prune) */
    int64_t ts;
    uint64_t cpu_ns;
    uint64_t rate; /* the last rate computed from it, nanocores */
    bool has_rate;
} sample_t;

/* A volume's usage, walked at most once a minute (kubelet's volume stats period). */
#define VOLUME_PERIOD_NS (60 * NS_PER_S)
typedef struct volume_use {
    unsigned gen; /* the summary that last saw it (first: see prune) */
    int64_t ts;
    uint64_t bytes, inodes;
} volume_use_t;

struct k1s_stats {
    char *node_name, *fs_dir, *image_fs_dir, *cg_root, *proc_root, *pods_dir;
    k1s_strmap_t samples; /* cgroup path -> sample_t */
    k1s_strmap_t volumes; /* "<pod uid>/<volume>" -> volume_use_t */
    unsigned gen;
};

k1s_stats_t *k1s_stats_new(const k1s_stats_opts_t *o)
{
    k1s_stats_t *s = k1s_xcalloc(1, sizeof(*s));
    s->node_name = k1s_xstrdup(o->node_name ? o->node_name : "");
    s->fs_dir = k1s_xstrdup(o->fs_dir ? o->fs_dir : "/");
    s->image_fs_dir = k1s_xstrdup(o->image_fs_dir ? o->image_fs_dir : s->fs_dir);
    s->cg_root = k1s_xstrdup(o->cgroup_root ? o->cgroup_root : "/sys/fs/cgroup");
    s->proc_root = k1s_xstrdup(o->proc_root ? o->proc_root : "/proc");
    s->pods_dir = o->pods_dir ? k1s_xstrdup(o->pods_dir) : k1s_xasprintf("%s/pods", s->fs_dir);
    return s;
}

void k1s_stats_free(k1s_stats_t *s)
{
    if (!s)
        return;
    const char *key;
    void *val;
    for (size_t i = 0; k1s_strmap_next(&s->samples, &i, &key, &val);)
        free(val);
    k1s_strmap_free(&s->samples);
    for (size_t i = 0; k1s_strmap_next(&s->volumes, &i, &key, &val);)
        free(val);
    k1s_strmap_free(&s->volumes);
    free(s->pods_dir);
    free(s->node_name);
    free(s->fs_dir);
    free(s->image_fs_dir);
    free(s->cg_root);
    free(s->proc_root);
    free(s);
}

/* ---- parsers ---- */

static char *read_text(const char *dir, const char *file)
{
    char *path = k1s_xasprintf("%s/%s", dir, file);
    char *text = NULL;
    size_t len;
    int r = k1s_read_file(path, &text, &len);
    free(path);
    return r == 0 ? text : NULL;
}

/* The value of "key value" in a flat-keyed file (memory.stat, cpu.stat). */
static bool flat_key(const char *text, const char *key, uint64_t *out)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, key, kl) && p[kl] == ' ') {
            *out = strtoull(p + kl + 1, NULL, 10);
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

static bool read_u64(const char *dir, const char *file, uint64_t *out)
{
    char *t = read_text(dir, file);
    if (!t)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(t, &end, 10);
    bool ok = end != t && errno == 0;
    free(t);
    if (ok)
        *out = v;
    return ok;
}

int k1s_stats_read_cgroup(const char *root, const char *path, k1s_cg_stats_t *out)
{
    k1s_cg_stats_t st = {0};
    _k1s_cleanup_free_ char *v2 = k1s_xasprintf("%s%s", root, path);
    _k1s_cleanup_free_ char *ctl = k1s_xasprintf("%s/cgroup.controllers", v2);
    uint64_t inactive = 0;
    if (access(ctl, F_OK) == 0) {
        char *cpu = read_text(v2, "cpu.stat");
        uint64_t usec;
        if (cpu && flat_key(cpu, "usage_usec", &usec)) {
            st.cpu_ns = usec * 1000;
            st.has_cpu = true;
        }
        free(cpu);
        if (read_u64(v2, "memory.current", &st.mem_usage)) {
            st.has_mem = true;
            char *ms = read_text(v2, "memory.stat");
            if (ms) {
                flat_key(ms, "inactive_file", &inactive);
                flat_key(ms, "anon", &st.mem_rss);
                flat_key(ms, "pgfault", &st.pgfault);
                flat_key(ms, "pgmajfault", &st.pgmajfault);
            }
            free(ms);
        }
        st.has_pids = read_u64(v2, "pids.current", &st.pids);
    } else {
        _k1s_cleanup_free_ char *cpu = k1s_xasprintf("%s/cpuacct%s", root, path);
        _k1s_cleanup_free_ char *mem = k1s_xasprintf("%s/memory%s", root, path);
        _k1s_cleanup_free_ char *pids = k1s_xasprintf("%s/pids%s", root, path);
        st.has_pids = read_u64(pids, "pids.current", &st.pids);
        st.has_cpu = read_u64(cpu, "cpuacct.usage", &st.cpu_ns);
        if (read_u64(mem, "memory.usage_in_bytes", &st.mem_usage)) {
            st.has_mem = true;
            char *ms = read_text(mem, "memory.stat");
            if (ms) {
                flat_key(ms, "total_inactive_file", &inactive);
                flat_key(ms, "total_rss", &st.mem_rss);
                flat_key(ms, "total_pgfault", &st.pgfault);
                flat_key(ms, "total_pgmajfault", &st.pgmajfault);
            }
            free(ms);
        }
    }
    if (!st.has_cpu && !st.has_mem)
        return -ENOENT;
    /* kubelet's (cadvisor's) working set: usage minus the inactive file cache */
    st.mem_ws = st.mem_usage > inactive ? st.mem_usage - inactive : 0;
    *out = st;
    return 0;
}

int k1s_stats_parse_proc_stat(const char *text, long clk_tck, uint64_t *busy_ns, int64_t *btime)
{
    if (!text || strncmp(text, "cpu ", 4) || clk_tck <= 0)
        return -EINVAL;
    unsigned long long v[8] = {0};
    int n = sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    if (n < 4)
        return -EINVAL;
    /* user nice system idle iowait irq softirq steal: busy is all but idle and iowait
     * (guest time is already counted in user) */
    unsigned long long ticks = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *busy_ns = (uint64_t)(ticks * (unsigned long long)(NS_PER_S / clk_tck));
    *btime = 0;
    const char *b = strstr(text, "\nbtime ");
    if (b)
        *btime = strtoll(b + 7, NULL, 10);
    return 0;
}

/* "Key:   1234 kB" in /proc/meminfo, in bytes. */
static bool meminfo_key(const char *text, const char *key, uint64_t *out)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, key, kl) && p[kl] == ':') {
            char *end;
            unsigned long long v = strtoull(p + kl + 1, &end, 10);
            while (*end == ' ')
                end++;
            *out = !strncmp(end, "kB", 2) ? v * 1024 : v;
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

int k1s_stats_parse_meminfo(const char *text, k1s_node_mem_t *out)
{
    uint64_t total, free_b, inactive = 0, anon = 0;
    if (!text || !meminfo_key(text, "MemTotal", &total) || !meminfo_key(text, "MemFree", &free_b))
        return -EINVAL;
    meminfo_key(text, "Inactive(file)", &inactive);
    meminfo_key(text, "AnonPages", &anon);
    k1s_node_mem_t m = {.total = total};
    m.usage = total > free_b ? total - free_b : 0;
    m.ws = m.usage > inactive ? m.usage - inactive : 0;
    m.rss = anon;
    m.available = total > m.ws ? total - m.ws : 0;
    *out = m;
    return 0;
}

int k1s_stats_parse_net_dev(const char *text, k1s_net_if_t *out, int max)
{
    if (!text)
        return -EINVAL;
    int n = 0;
    const char *p = text;
    for (int line = 0; p && *p && n < max; line++) {
        const char *nl = strchr(p, '\n');
        const char *colon = strchr(p, ':');
        if (line >= 2 && colon && (!nl || colon < nl)) {
            const char *name = p;
            while (*name == ' ')
                name++;
            size_t len = (size_t)(colon - name);
            unsigned long long f[16] = {0};
            int got = sscanf(
                colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &f[0],
                &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11]);
            if (got >= 11 && len > 0 && len < sizeof(out[n].name) &&
                !(len == 2 && !strncmp(name, "lo", 2))) {
                k1s_net_if_t *i = &out[n++];
                memcpy(i->name, name, len);
                i->name[len] = 0;
                i->rx_bytes = f[0];
                i->rx_errors = f[2];
                i->tx_bytes = f[8];
                i->tx_errors = f[10];
            }
        } else if (line < 2 && !colon && strstr(p, "|") == NULL) {
            return -EINVAL; /* not /proc/net/dev */
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

/* ---- the summary ---- */

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static json_t *rfc3339(int64_t ns)
{
    char buf[32];
    k1s_time_format_rfc3339(ns / NS_PER_S, buf);
    return json_string(buf);
}

/* A sample's time, with nanoseconds (RFC3339Nano): rates are computed over windows of about
 * a second. */
static json_t *rfc3339_nano(int64_t ns)
{
    time_t t = (time_t)(ns / NS_PER_S);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[48];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%09dZ", (int)(ns % NS_PER_S));
    return json_string(buf);
}

static json_t *uint_json(uint64_t v)
{
    return json_integer((json_int_t)(v > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : v));
}

/* Records a CPU sample of key at ts and returns the rate since the previous one. */
static bool cpu_rate(k1s_stats_t *s, const char *key, int64_t ts, uint64_t cpu, uint64_t *rate)
{
    sample_t *sm = k1s_strmap_get(&s->samples, key);
    if (!sm) {
        sm = k1s_xcalloc(1, sizeof(*sm));
        sm->ts = ts;
        sm->cpu_ns = cpu;
        sm->gen = s->gen;
        k1s_strmap_set(&s->samples, key, sm);
        return false;
    }
    sm->gen = s->gen;
    if (cpu < sm->cpu_ns) { /* a new cgroup under the same name: start over */
        sm->ts = ts;
        sm->cpu_ns = cpu;
        sm->has_rate = false;
        return false;
    }
    if (ts - sm->ts >= MIN_WINDOW_NS) {
        sm->rate =
            (uint64_t)((double)(cpu - sm->cpu_ns) * (double)NS_PER_S / (double)(ts - sm->ts));
        sm->has_rate = true;
        sm->ts = ts;
        sm->cpu_ns = cpu;
    }
    if (sm->has_rate)
        *rate = sm->rate;
    return sm->has_rate;
}

/* Drops the samples of cgroups the last summary did not see. */
/* Drops the entries of m (each starting with its unsigned generation) not seen by summary gen. */
static void prune_map(k1s_strmap_t *m, unsigned gen)
{
    const char *key;
    void *val;
    char **gone = NULL;
    size_t n = 0;
    for (size_t i = 0; k1s_strmap_next(m, &i, &key, &val);) {
        if (*(unsigned *)val != gen) {
            gone = k1s_xrealloc(gone, (n + 1) * sizeof(char *));
            gone[n++] = k1s_xstrdup(key);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(k1s_strmap_del(m, gone[i]));
        free(gone[i]);
    }
    free(gone);
}

static void prune(k1s_stats_t *s)
{
    prune_map(&s->samples, s->gen);
    prune_map(&s->volumes, s->gen);
}

static json_t *cpu_json(k1s_stats_t *s, const char *key, int64_t ts, uint64_t cpu)
{
    json_t *j =
        json_pack("{s:o, s:o}", "time", rfc3339_nano(ts), "usageCoreNanoSeconds", uint_json(cpu));
    uint64_t rate;
    if (cpu_rate(s, key, ts, cpu, &rate))
        json_object_set_new(j, "usageNanoCores", uint_json(rate));
    return j;
}

static json_t *cg_memory_json(const k1s_cg_stats_t *c, int64_t ts)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "time", rfc3339_nano(ts), "usageBytes",
                     uint_json(c->mem_usage), "workingSetBytes", uint_json(c->mem_ws), "rssBytes",
                     uint_json(c->mem_rss), "pageFaults", uint_json(c->pgfault), "majorPageFaults",
                     uint_json(c->pgmajfault));
}

static json_t *fs_json(const char *dir, int64_t ts)
{
    struct statvfs v;
    if (statvfs(dir, &v) < 0)
        return NULL;
    uint64_t bs = v.f_frsize ? v.f_frsize : v.f_bsize;
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "time", rfc3339_nano(ts), "availableBytes",
        uint_json(v.f_bavail * bs), "capacityBytes", uint_json(v.f_blocks * bs), "usedBytes",
        uint_json((v.f_blocks - v.f_bfree) * bs), "inodesFree", uint_json(v.f_ffree), "inodes",
        uint_json(v.f_files), "inodesUsed", uint_json(v.f_files - v.f_ffree));
}

/* What a walk of one volume counts (nftw has no argument for its callback; one thread). */
static uint64_t walk_bytes, walk_inodes;

static int walk_fn(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    walk_bytes += (uint64_t)st->st_blocks * 512;
    walk_inodes++;
    return 0;
}

/* The pod's volumes as kubelet reports them: each directory under <pod>/volumes, its usage
 * from a walk (as kubelet's du, at most once a minute) and its filesystem's capacity. */
static json_t *volumes_json(k1s_stats_t *s, const char *uid, int64_t ts)
{
    char *dir = k1s_xasprintf("%s/%s/volumes", s->pods_dir, uid);
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return NULL;
    }
    json_t *list = json_array();
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *link = k1s_xasprintf("%s/%s", dir, e->d_name);
        char *path = realpath(link, NULL); /* a claim's volume links to its PersistentVolume */
        free(link);
        if (!path)
            continue;
        json_t *v = fs_json(path, ts);
        char *key = k1s_xasprintf("%s/%s", uid, e->d_name);
        volume_use_t *u = k1s_strmap_get(&s->volumes, key);
        if (!u) {
            u = k1s_xcalloc(1, sizeof(*u));
            k1s_strmap_set(&s->volumes, key, u);
        }
        free(key);
        u->gen = s->gen;
        if (!u->ts || ts - u->ts >= VOLUME_PERIOD_NS) {
            walk_bytes = walk_inodes = 0;
            if (nftw(path, walk_fn, 16, FTW_PHYS | FTW_MOUNT) == 0) {
                u->bytes = walk_bytes;
                u->inodes = walk_inodes;
                u->ts = ts;
            }
        }
        free(path);
        if (!v || !u->ts) {
            json_decref(v);
            continue;
        }
        json_object_set_new(v, "usedBytes", uint_json(u->bytes));
        json_object_set_new(v, "inodesUsed", uint_json(u->inodes));
        json_object_set_new(v, "name", json_string(e->d_name));
        json_array_append_new(list, v);
    }
    closedir(d);
    free(dir);
    if (!json_array_size(list)) {
        json_decref(list);
        return NULL;
    }
    return list;
}

/* Interfaces cadvisor leaves out of a node's network figures. */
static bool virtual_if(const char *name)
{
    static const char *const skip[] = {"veth", "cni",  "docker", "flannel", "vxlan",
                                       "ifb",  "tunl", "kube-",  NULL};
    for (int i = 0; skip[i]; i++)
        if (k1s_str_has_prefix(name, skip[i]))
            return true;
    return false;
}

/* The network figures from a /proc/net/dev; NULL if unreadable or no interface. The
 * summary's top-level figures are those of eth0 if there is one, else the first. */
static json_t *net_json(const char *path, int64_t ts, bool skip_virtual)
{
    char *text = NULL;
    size_t len;
    if (k1s_read_file(path, &text, &len) < 0)
        return NULL;
    k1s_net_if_t ifs[MAX_IFS];
    int n = k1s_stats_parse_net_dev(text, ifs, MAX_IFS);
    free(text);
    json_t *list = json_array();
    int main_if = -1;
    for (int i = 0; i < n; i++) {
        if (skip_virtual && virtual_if(ifs[i].name))
            continue;
        json_array_append_new(list, json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", ifs[i].name,
                                              "rxBytes", uint_json(ifs[i].rx_bytes), "rxErrors",
                                              uint_json(ifs[i].rx_errors), "txBytes",
                                              uint_json(ifs[i].tx_bytes), "txErrors",
                                              uint_json(ifs[i].tx_errors)));
        if (main_if < 0 || !strcmp(ifs[i].name, "eth0"))
            main_if = i;
    }
    if (main_if < 0) {
        json_decref(list);
        return NULL;
    }
    const k1s_net_if_t *m = &ifs[main_if];
    return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "time", rfc3339_nano(ts), "name",
                     m->name, "rxBytes", uint_json(m->rx_bytes), "rxErrors",
                     uint_json(m->rx_errors), "txBytes", uint_json(m->tx_bytes), "txErrors",
                     uint_json(m->tx_errors), "interfaces", list);
}

/* The pod's cgroup path ("/kubepods/burstable/pod<uid>") by its QoS directory; NULL if
 * none exists. */
static char *pod_cgroup(const k1s_stats_t *s, const char *uid)
{
    static const char *const qos[] = {"", "burstable/", "besteffort/"};
    for (int v2 = 1; v2 >= 0; v2--)
        for (size_t i = 0; i < 3; i++) {
            char *path = k1s_xasprintf("/kubepods/%spod%s", qos[i], uid);
            char *dir = k1s_xasprintf("%s%s%s", s->cg_root, v2 ? "" : "/cpuacct", path);
            bool ok = access(dir, F_OK) == 0;
            free(dir);
            if (ok)
                return path;
            free(path);
        }
    return NULL;
}

/* A process of cgroup path (its first), for the pod's network namespace; 0 if none. */
static int cgroup_pid(const k1s_stats_t *s, const char *path)
{
    const char *hier[] = {"", "/cpuacct", "/memory", "/pids"};
    for (size_t i = 0; i < sizeof(hier) / sizeof(hier[0]); i++) {
        char *dir = k1s_xasprintf("%s%s%s", s->cg_root, hier[i], path);
        char *t = read_text(dir, "cgroup.procs");
        free(dir);
        int pid = t ? atoi(t) : 0;
        free(t);
        if (pid > 0)
            return pid;
    }
    return 0;
}

static json_t *node_json(k1s_stats_t *s, int64_t ts)
{
    json_t *node = json_pack("{s:s}", "nodeName", s->node_name);
    char *text = read_text(s->proc_root, "stat");
    uint64_t busy;
    int64_t btime;
    if (text && k1s_stats_parse_proc_stat(text, sysconf(_SC_CLK_TCK), &busy, &btime) == 0) {
        if (btime > 0)
            json_object_set_new(node, "startTime", rfc3339(btime * NS_PER_S));
        json_object_set_new(node, "cpu", cpu_json(s, "", ts, busy));
    }
    free(text);
    text = read_text(s->proc_root, "meminfo");
    k1s_node_mem_t m;
    if (text && k1s_stats_parse_meminfo(text, &m) == 0)
        json_object_set_new(node, "memory",
                            json_pack("{s:o, s:o, s:o, s:o, s:o}", "time", rfc3339_nano(ts),
                                      "availableBytes", uint_json(m.available), "usageBytes",
                                      uint_json(m.usage), "workingSetBytes", uint_json(m.ws),
                                      "rssBytes", uint_json(m.rss)));
    free(text);
    char *netdev = k1s_xasprintf("%s/net/dev", s->proc_root);
    json_t *net = net_json(netdev, ts, true);
    free(netdev);
    if (net)
        json_object_set_new(node, "network", net);
    json_t *fs = fs_json(s->fs_dir, ts);
    if (fs)
        json_object_set_new(node, "fs", fs);
    /* kubelet's rlimit: the PID limit and the processes running (PIDPressure) */
    struct sysinfo si;
    uint64_t pid_max;
    if (sysinfo(&si) == 0 && read_u64(s->proc_root, "sys/kernel/pid_max", &pid_max))
        json_object_set_new(node, "rlimit",
                            json_pack("{s:o, s:o, s:o}", "time", rfc3339_nano(ts), "maxpid",
                                      uint_json(pid_max), "curproc", uint_json(si.procs)));
    json_t *ifs = fs_json(s->image_fs_dir, ts);
    if (ifs)
        json_object_set_new(node, "runtime",
                            json_pack("{s:o, s:O}", "imageFs", ifs, "containerFs", ifs));
    return node;
}

/* The entry of one pod (containers ctrs[0..n), all of the same uid); NULL if its cgroup is
 * gone. */
static json_t *pod_json(k1s_stats_t *s, const k1s_stats_ctr_t *ctrs, size_t n, int64_t ts)
{
    const k1s_stats_ctr_t *c0 = &ctrs[0];
    char *pcg = pod_cgroup(s, c0->uid);
    if (!pcg)
        return NULL;
    json_t *pod = json_pack("{s:{s:s, s:s, s:s}}", "podRef", "name", c0->pod, "namespace", c0->ns,
                            "uid", c0->uid);
    if (c0->pod_start_ns > 0)
        json_object_set_new(pod, "startTime", rfc3339(c0->pod_start_ns));
    json_t *list = json_array();
    int pid = 0;
    for (size_t i = 0; i < n; i++) {
        const k1s_stats_ctr_t *c = &ctrs[i];
        if (!c->id || !*c->id || !c->running)
            continue;
        char *cg = k1s_xasprintf("%s/%s", pcg, c->id);
        k1s_cg_stats_t st;
        if (k1s_stats_read_cgroup(s->cg_root, cg, &st) == 0) {
            json_t *e = json_pack("{s:s}", "name", c->name);
            if (c->started_ns > 0)
                json_object_set_new(e, "startTime", rfc3339(c->started_ns));
            if (st.has_cpu)
                json_object_set_new(e, "cpu", cpu_json(s, cg, ts, st.cpu_ns));
            if (st.has_mem)
                json_object_set_new(e, "memory", cg_memory_json(&st, ts));
            json_array_append_new(list, e);
            if (!pid)
                pid = cgroup_pid(s, cg);
        }
        free(cg);
    }
    json_object_set_new(pod, "containers", list);
    k1s_cg_stats_t pst;
    if (k1s_stats_read_cgroup(s->cg_root, pcg, &pst) == 0) {
        if (pst.has_cpu)
            json_object_set_new(pod, "cpu", cpu_json(s, pcg, ts, pst.cpu_ns));
        if (pst.has_mem)
            json_object_set_new(pod, "memory", cg_memory_json(&pst, ts));
        if (pst.has_pids)
            json_object_set_new(pod, "process_stats",
                                json_pack("{s:o}", "process_count", uint_json(pst.pids)));
    }
    json_t *vols = volumes_json(s, c0->uid, ts);
    if (vols)
        json_object_set_new(pod, "volume", vols);
    if (pid > 0) {
        char *path = k1s_xasprintf("%s/%d/net/dev", s->proc_root, pid);
        json_t *net = net_json(path, ts, false);
        free(path);
        if (net)
            json_object_set_new(pod, "network", net);
    }
    free(pcg);
    return pod;
}

json_t *k1s_stats_summary(k1s_stats_t *s, const k1s_stats_ctr_t *ctrs, size_t n)
{
    s->gen++;
    int64_t ts = wall_ns();
    json_t *pods = json_array();
    bool *done = k1s_xcalloc(n ? n : 1, sizeof(bool));
    k1s_stats_ctr_t *group = k1s_xcalloc(n ? n : 1, sizeof(*group));
    for (size_t i = 0; i < n; i++) {
        if (done[i] || !ctrs[i].uid || !ctrs[i].pod || !*ctrs[i].pod)
            continue; /* a pod the agent knows only from the runtime, not from the API */
        size_t g = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && k1s_streq(ctrs[j].uid, ctrs[i].uid)) {
                done[j] = true;
                group[g++] = ctrs[j];
            }
        json_t *p = pod_json(s, group, g, ts);
        if (p)
            json_array_append_new(pods, p);
    }
    free(done);
    free(group);
    json_t *sum = json_pack("{s:o, s:o}", "node", node_json(s, ts), "pods", pods);
    prune(s);
    return sum;
}

/* ---- /metrics/resource ---- */

static int64_t parse_time_ms(const json_t *t)
{
    const char *v = json_string_value(t);
    return v ? k1s_kapi_parse_time(v, strlen(v)) / 1000000 : 0;
}

static void label_value(k1s_buf_t *b, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            k1s_buf_putc(b, '\\');
        if (*v == '\n') {
            k1s_buf_puts(b, "\\n");
            continue;
        }
        k1s_buf_putc(b, *v);
    }
}

static void sample_line(k1s_buf_t *b, const char *name, const char *ctr, const json_t *podref,
                        double v, const json_t *time)
{
    k1s_buf_puts(b, name);
    if (podref) {
        k1s_buf_puts(b, "{");
        if (ctr) {
            k1s_buf_puts(b, "container=\"");
            label_value(b, ctr);
            k1s_buf_puts(b, "\",");
        }
        k1s_buf_puts(b, "namespace=\"");
        label_value(b, json_string_value(json_object_get(podref, "namespace")));
        k1s_buf_puts(b, "\",pod=\"");
        label_value(b, json_string_value(json_object_get(podref, "name")));
        k1s_buf_puts(b, "\"}");
    }
    k1s_buf_printf(b, " %.15g %" PRId64 "\n", v, parse_time_ms(time));
}

static void header(k1s_buf_t *b, const char *name, const char *type, const char *help)
{
    k1s_buf_printf(b, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", name, help, name, type);
}

char *k1s_stats_resource_metrics(const json_t *sum)
{
    k1s_buf_t b = K1S_BUF_INIT;
    const json_t *pods = json_object_get(sum, "pods");
    size_t i, j;
    const json_t *p, *c;
    enum { CTR_CPU, CTR_MEM, CTR_START, POD_CPU, POD_MEM, N_FAMILIES };
    static const char *const names[] = {
        "container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
        "container_start_time_seconds", "pod_cpu_usage_seconds_total",
        "pod_memory_working_set_bytes"};
    static const char *const types[] = {"counter", "gauge", "gauge", "counter", "gauge"};
    static const char *const helps[] = {
        "Cumulative cpu time consumed by the container in core-seconds",
        "Current working set of the container in bytes",
        "Start time of the container since unix epoch in seconds",
        "Cumulative cpu time consumed by the pod in core-seconds",
        "Current working set of the pod in bytes"};
    for (int f = 0; f < N_FAMILIES; f++) {
        header(&b, names[f], types[f], helps[f]);
        json_array_foreach(pods, i, p)
        {
            const json_t *ref = json_object_get(p, "podRef");
            if (f == POD_CPU || f == POD_MEM) {
                const json_t *x = json_object_get(p, f == POD_CPU ? "cpu" : "memory");
                const json_t *v =
                    json_object_get(x, f == POD_CPU ? "usageCoreNanoSeconds" : "workingSetBytes");
                if (v)
                    sample_line(&b, names[f], NULL, ref,
                                (double)json_integer_value(v) / (f == POD_CPU ? 1e9 : 1),
                                json_object_get(x, "time"));
                continue;
            }
            json_array_foreach(json_object_get(p, "containers"), j, c)
            {
                const char *cn = json_string_value(json_object_get(c, "name"));
                if (f == CTR_START) {
                    const json_t *st = json_object_get(c, "startTime");
                    if (st)
                        sample_line(&b, names[f], cn, ref, (double)parse_time_ms(st) / 1000,
                                    json_object_get(json_object_get(c, "cpu"), "time"));
                    continue;
                }
                const json_t *x = json_object_get(c, f == CTR_CPU ? "cpu" : "memory");
                const json_t *v =
                    json_object_get(x, f == CTR_CPU ? "usageCoreNanoSeconds" : "workingSetBytes");
                if (v)
                    sample_line(&b, names[f], cn, ref,
                                (double)json_integer_value(v) / (f == CTR_CPU ? 1e9 : 1),
                                json_object_get(x, "time"));
            }
        }
    }
    const json_t *node = json_object_get(sum, "node");
    const json_t *ncpu = json_object_get(node, "cpu"), *nmem = json_object_get(node, "memory");
    header(&b, "node_cpu_usage_seconds_total", "counter",
           "Cumulative cpu time consumed by the node in core-seconds");
    if (ncpu)
        sample_line(&b, "node_cpu_usage_seconds_total", NULL, NULL,
                    (double)json_integer_value(json_object_get(ncpu, "usageCoreNanoSeconds")) / 1e9,
                    json_object_get(ncpu, "time"));
    header(&b, "node_memory_working_set_bytes", "gauge",
           "Current working set of the node in bytes");
    if (nmem)
        sample_line(&b, "node_memory_working_set_bytes", NULL, NULL,
                    (double)json_integer_value(json_object_get(nmem, "workingSetBytes")),
                    json_object_get(nmem, "time"));
    header(&b, "scrape_error", "gauge",
           "1 if there was an error while getting container metrics, 0 otherwise");
    k1s_buf_printf(&b, "scrape_error %d\n", ncpu && nmem ? 0 : 1);
    return k1s_buf_steal(&b);
}
