/*
 * The Node's status as kubelet computes it (see node.h): capacity from the
 * host, allocatable after kubelet's default hard eviction thresholds,
 * pressure conditions against the same thresholds, and nodeInfo.
 */
#include "agent/node.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"

extern char **environ;

#define MEM_EVICTION (100ull << 20) /* memory.available<100Mi */
#define NODEFS_PCT 10               /* nodefs.available<10% */
#define INODES_PCT 5                /* nodefs.inodesFree<5% */
#define IMAGEFS_PCT 15              /* imagefs.available<15% (the same filesystem here) */

static bool meminfo_field(const char *text, const char *name, uint64_t *out)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, name, nl) && p[nl] == ':') {
            char *end;
            unsigned long long v = strtoull(p + nl + 1, &end, 10);
            if (end == p + nl + 1)
                return false;
            while (*end == ' ')
                end++;
            *out = !strncmp(end, "kB", 2) ? v * 1024 : v;
            return true;
        }
    }
    return false;
}

int k1s_node_parse_meminfo(const char *text, uint64_t *total, uint64_t *available)
{
    uint64_t t, a;
    if (!meminfo_field(text, "MemTotal", &t) || !meminfo_field(text, "MemAvailable", &a))
        return -EINVAL;
    *total = t;
    *available = a;
    return 0;
}

char *k1s_node_parse_os_release(const char *text)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, "PRETTY_NAME=", 12))
            continue;
        p += 12;
        size_t n = strcspn(p, "\n");
        if (n && (*p == '"' || *p == '\'')) {
            char q = *p++;
            n--;
            if (n && p[n - 1] == q)
                n--;
        }
        if (n)
            return k1s_xstrndup(p, n);
    }
    return k1s_xstrdup("Linux");
}

char *k1s_node_parse_runtime_version(const char *runtime, const char *text)
{
    /* "runc version 1.1.5\ncommit: ...", "crun version 1.8.1\n..." */
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *v = strstr(p, "version ");
        const char *eol = strchr(p, '\n');
        if (!v || (eol && v > eol))
            continue;
        v += 8;
        size_t n = strcspn(v, " \n\r");
        if (!n || !isdigit((unsigned char)*v))
            continue;
        return k1s_xasprintf("%s://%.*s", runtime, (int)n, v);
    }
    return NULL;
}

const char *k1s_node_goarch(const char *m)
{
    if (!strcmp(m, "x86_64"))
        return "amd64";
    if (!strcmp(m, "aarch64") || !strcmp(m, "arm64"))
        return "arm64";
    if (!strncmp(m, "armv", 4))
        return "arm";
    if (!strcmp(m, "i686") || !strcmp(m, "i386"))
        return "386";
    if (!strcmp(m, "ppc64le") || !strcmp(m, "s390x") || !strcmp(m, "riscv64"))
        return m;
    return m;
}

/* A qualified name (label or taint key): [prefix/]name, name 1-63 of [A-Za-z0-9._-]. */
static bool valid_key(const char *k, size_t n)
{
    const char *slash = memchr(k, '/', n);
    if (slash) {
        size_t pl = (size_t)(slash - k);
        if (!pl || pl > 253)
            return false;
        for (size_t i = 0; i < pl; i++)
            if (!(islower((unsigned char)k[i]) || isdigit((unsigned char)k[i]) || k[i] == '-' ||
                  k[i] == '.'))
                return false;
        n -= pl + 1;
        k = slash + 1;
    }
    if (!n || n > 63 || !isalnum((unsigned char)k[0]) || !isalnum((unsigned char)k[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)k[i]) || k[i] == '-' || k[i] == '_' || k[i] == '.'))
            return false;
    return true;
}

static bool valid_value(const char *v, size_t n)
{
    if (!n)
        return true;
    if (n > 63 || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)v[i]) || v[i] == '-' || v[i] == '_' || v[i] == '.'))
            return false;
    return true;
}

int k1s_node_parse_taint(const char *s, json_t **out, k1s_err_t *err)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return k1s_err_set(err, EINVAL,
                           "invalid taint \"%s\": expected key=value:Effect or key:Effect", s);
    const char *effect = colon + 1;
    if (strcmp(effect, "NoSchedule") && strcmp(effect, "PreferNoSchedule") &&
        strcmp(effect, "NoExecute"))
        return k1s_err_set(err, EINVAL,
                           "invalid taint \"%s\": effect \"%s\" is not one of NoSchedule, "
                           "PreferNoSchedule, NoExecute",
                           s, effect);
    const char *eq = memchr(s, '=', (size_t)(colon - s));
    size_t kl = eq ? (size_t)(eq - s) : (size_t)(colon - s);
    if (!valid_key(s, kl))
        return k1s_err_set(err, EINVAL,
                           "invalid taint \"%s\": the key must be a qualified name such as "
                           "example.com/dedicated",
                           s);
    const char *v = eq ? eq + 1 : "";
    size_t vl = eq ? (size_t)(colon - v) : 0;
    if (!valid_value(v, vl))
        return k1s_err_set(err, EINVAL,
                           "invalid taint \"%s\": the value must be at most 63 letters, digits, "
                           "'-', '_' or '.', starting and ending with a letter or digit",
                           s);
    json_t *t = json_object();
    json_object_set_new(t, "key", json_stringn(s, kl));
    if (vl)
        json_object_set_new(t, "value", json_stringn(v, vl));
    json_object_set_new(t, "effect", json_string(effect));
    *out = t;
    return 0;
}

int k1s_node_parse_label(const char *s, char **key, char **value, k1s_err_t *err)
{
    const char *eq = strchr(s, '=');
    if (!eq)
        return k1s_err_set(err, EINVAL, "invalid node label \"%s\": expected key=value", s);
    size_t kl = (size_t)(eq - s);
    if (!valid_key(s, kl))
        return k1s_err_set(err, EINVAL,
                           "invalid node label \"%s\": the key must be a qualified name such as "
                           "example.com/zone",
                           s);
    if (!valid_value(eq + 1, strlen(eq + 1)))
        return k1s_err_set(err, EINVAL,
                           "invalid node label \"%s\": the value must be at most 63 letters, "
                           "digits, '-', '_' or '.', starting and ending with a letter or digit",
                           s);
    *key = k1s_xstrndup(s, kl);
    *value = k1s_xstrdup(eq + 1);
    return 0;
}

int k1s_node_facts_read(const char *data_dir, k1s_node_facts_t *f, k1s_err_t *err)
{
    memset(f, 0, sizeof(*f));
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    f->cpus = n > 0 ? (int)n : 1;
    char *mi;
    int r = k1s_read_file("/proc/meminfo", &mi, NULL);
    if (r < 0)
        return k1s_err_set(err, -r, "read /proc/meminfo: %s", strerror(-r));
    r = k1s_node_parse_meminfo(mi, &f->mem_total, &f->mem_available);
    free(mi);
    if (r < 0)
        return k1s_err_set(err, EINVAL, "/proc/meminfo has no MemTotal or MemAvailable");
    struct statvfs st;
    if (statvfs(data_dir, &st) < 0)
        return k1s_err_set(err, errno, "statfs %s: %s", data_dir, strerror(errno));
    f->fs_total = (uint64_t)st.f_blocks * st.f_frsize;
    f->fs_available = (uint64_t)st.f_bavail * st.f_frsize;
    f->inodes_total = st.f_files;
    f->inodes_free = st.f_ffree;
    return 0;
}

static char *read_line_file(const char *path)
{
    char *s;
    if (k1s_read_file(path, &s, NULL) < 0)
        return k1s_xstrdup("");
    s[strcspn(s, "\r\n")] = 0;
    return s;
}

/* Runs `<runtime> --version` and returns its output (new string), "" if it cannot run. */
static char *runtime_output(const char *runtime)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return k1s_xstrdup("");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)runtime, (char *)"--version", NULL};
    pid_t pid;
    int r = posix_spawnp(&pid, runtime, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    char buf[4096];
    size_t len = 0;
    if (r == 0) {
        ssize_t n;
        while (len < sizeof(buf) - 1 && (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
            len += (size_t)n;
        waitpid(pid, NULL, 0);
    }
    close(p[0]);
    buf[len] = 0;
    return k1s_xstrdup(buf);
}

void k1s_node_identity_read(k1s_node_identity_t *id, const char *runtime)
{
    memset(id, 0, sizeof(*id));
    id->machine_id = read_line_file("/etc/machine-id");
    id->system_uuid = read_line_file("/sys/class/dmi/id/product_uuid");
    if (!*id->system_uuid) {
        free(id->system_uuid);
        id->system_uuid = k1s_xstrdup(id->machine_id);
    }
    id->boot_id = read_line_file("/proc/sys/kernel/random/boot_id");
    struct utsname u;
    if (uname(&u) == 0) {
        id->kernel_version = k1s_xstrdup(u.release);
        id->arch = k1s_node_goarch(u.machine);
        if (id->arch == u.machine)
            id->arch = "unknown";
    } else {
        id->kernel_version = k1s_xstrdup("");
        id->arch = "unknown";
    }
    char *osr;
    if (k1s_read_file("/etc/os-release", &osr, NULL) == 0) {
        id->os_image = k1s_node_parse_os_release(osr);
        free(osr);
    } else {
        id->os_image = k1s_xstrdup("Linux");
    }
    char *out = runtime_output(runtime);
    id->runtime_version = k1s_node_parse_runtime_version(runtime, out);
    if (!id->runtime_version)
        id->runtime_version = k1s_xasprintf("%s://unknown", runtime);
    free(out);
}

void k1s_node_identity_free(k1s_node_identity_t *id)
{
    free(id->machine_id);
    free(id->system_uuid);
    free(id->boot_id);
    free(id->kernel_version);
    free(id->os_image);
    free(id->runtime_version);
}

static json_t *quantity_ki(uint64_t bytes)
{
    char *s = k1s_xasprintf("%lluKi", (unsigned long long)(bytes / 1024));
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *quantity_bytes(uint64_t bytes)
{
    char *s = k1s_xasprintf("%llu", (unsigned long long)bytes);
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *k1s_node_capacity(const k1s_node_facts_t *f)
{
    json_t *c = json_object();
    char cpu[16];
    snprintf(cpu, sizeof(cpu), "%d", f->cpus);
    json_object_set_new(c, "cpu", json_string(cpu));
    json_object_set_new(c, "ephemeral-storage", quantity_ki(f->fs_total));
    json_object_set_new(c, "hugepages-1Gi", json_string("0"));
    json_object_set_new(c, "hugepages-2Mi", json_string("0"));
    json_object_set_new(c, "memory", quantity_ki(f->mem_total));
    json_object_set_new(c, "pods", json_string("110"));
    return c;
}

json_t *k1s_node_allocatable(const k1s_node_facts_t *f)
{
    return k1s_node_allocatable_evict(f, MEM_EVICTION, f->fs_total / 100 * NODEFS_PCT);
}

json_t *k1s_node_allocatable_evict(const k1s_node_facts_t *f, uint64_t mem_threshold,
                                   uint64_t fs_threshold)
{
    /* capacity minus the hard eviction thresholds (no kube/system reserved by default) */
    json_t *a = k1s_node_capacity(f);
    uint64_t mem = f->mem_total > mem_threshold ? f->mem_total - mem_threshold : 0;
    json_object_set_new(a, "memory", quantity_ki(mem));
    uint64_t fs = f->fs_total > fs_threshold ? f->fs_total - fs_threshold : 0;
    json_object_set_new(a, "ephemeral-storage", quantity_bytes(fs));
    return a;
}

static const json_t *find_cond(const json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, type))
            return c;
    }
    return NULL;
}

static void add_cond(json_t *arr, const json_t *old, const char *type, bool status,
                     const char *reason, const char *message, const char *now)
{
    const char *st = status ? "True" : "False";
    const json_t *o = find_cond(old, type);
    const char *ostatus = o ? json_string_value(json_object_get(o, "status")) : NULL;
    const char *otrans = o ? json_string_value(json_object_get(o, "lastTransitionTime")) : NULL;
    const char *trans = ostatus && otrans && !strcmp(ostatus, st) ? otrans : now;
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", st,
                                         "lastHeartbeatTime", now, "lastTransitionTime", trans,
                                         "reason", reason, "message", message));
}

json_t *k1s_node_conditions(const k1s_node_facts_t *f, const json_t *old, const char *now)
{
    bool mem = f->mem_available < MEM_EVICTION;
    bool disk =
        f->fs_total && (f->fs_available * 100 < f->fs_total * NODEFS_PCT ||
                        f->fs_available * 100 < f->fs_total * IMAGEFS_PCT ||
                        (f->inodes_total && f->inodes_free * 100 < f->inodes_total * INODES_PCT));
    return k1s_node_conditions_pressure(mem, disk, old, now);
}

json_t *k1s_node_conditions_pressure(bool mem, bool disk, const json_t *old, const char *now)
{
    json_t *a = json_array();
    add_cond(a, old, "MemoryPressure", mem,
             mem ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory",
             mem ? "kubelet has insufficient memory available"
                 : "kubelet has sufficient memory available",
             now);
    add_cond(a, old, "DiskPressure", disk,
             disk ? "KubeletHasDiskPressure" : "KubeletHasNoDiskPressure",
             disk ? "kubelet has disk pressure" : "kubelet has no disk pressure", now);
    /* kubelet has no default pid.available threshold on Linux */
    add_cond(a, old, "PIDPressure", false, "KubeletHasSufficientPID",
             "kubelet has sufficient PID available", now);
    add_cond(a, old, "Ready", true, "KubeletReady", "kubelet is posting ready status", now);
    return a;
}

bool k1s_node_conditions_changed(const json_t *a, const json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return true;
    size_t i;
    json_t *c;
    json_array_foreach(a, i, c)
    {
        const json_t *o = find_cond(b, json_string_value(json_object_get(c, "type")));
        if (!o)
            return true;
        static const char *const keys[] = {"status", "reason", "message", "lastTransitionTime"};
        for (size_t k = 0; k < K1S_ARRAY_SIZE(keys); k++)
            if (!json_equal(json_object_get(c, keys[k]), json_object_get(o, keys[k])))
                return true;
    }
    return false;
}
