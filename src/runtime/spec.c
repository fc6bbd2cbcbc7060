/*
 * OCI runtime spec generation (see spec.h): containerd's CRI defaults plus
 * the container's own settings, built as a jansson tree and written as the
 * bundle's config.json.
 */
#include "runtime/spec.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/util.h"

/* Capabilities by number (linux/capability.h), for "ALL" and validation. */
static const char *const all_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

/* containerd's default set, in its order. */
static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

static const char *const masked_paths[] = {
    "/proc/acpi",          "/proc/asound",
    "/proc/kcore",         "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats",   "/proc/sched_debug",
    "/sys/firmware",       "/sys/devices/virtual/powercap",
    "/proc/scsi",
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* The devices cgroup allow-list (containerd's WithDefaultUnixDevices): type, major, minor. */
static const struct {
    int major, minor; /* minor -1: all */
} default_devices[] = {
    {1, 3}, {1, 8}, {1, 7}, {5, 0}, {1, 5}, {1, 9}, {5, 1}, {136, -1}, {5, 2},
};

uint64_t k1s_rt_cpu_shares(int64_t milli)
{
    if (milli <= 0)
        return 2;
    uint64_t shares = (uint64_t)milli * 1024 / 1000;
    if (shares < 2)
        return 2;
    if (shares > 262144)
        return 262144;
    return shares;
}

int64_t k1s_rt_cpu_quota(int64_t milli, uint64_t period)
{
    if (milli <= 0)
        return 0;
    int64_t quota = milli * (int64_t)period / 1000;
    return quota < 1000 ? 1000 : quota;
}

/* The capabilities this process may hand on (its bounding set), as containerd's
 * WithAllCurrentCapabilities: "all" is what the host allows, not every name known. */
static uint64_t current_caps(void)
{
    char *s = NULL;
    size_t len;
    uint64_t mask = (2ULL << (K1S_ARRAY_SIZE(all_caps) - 1)) - 1;
    if (k1s_read_file("/proc/self/status", &s, &len) == 0) {
        const char *b = strstr(s, "\nCapBnd:");
        if (b)
            mask &= strtoull(b + 9, NULL, 16);
    }
    free(s);
    return mask;
}

static json_t *caps_from_mask(uint64_t mask)
{
    json_t *a = json_array();
    for (size_t i = 0; i < K1S_ARRAY_SIZE(all_caps); i++)
        if (mask & (1ULL << i))
            json_array_append_new(a, json_string(all_caps[i]));
    return a;
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* Normalises "net_admin"/"NET_ADMIN"/"CAP_NET_ADMIN" to "CAP_NET_ADMIN"; NULL if unknown. */
static const char *cap_name(const char *s)
{
    char buf[64];
    size_t n = 0;
    if (strncasecmp(s, "CAP_", 4) != 0)
        n = (size_t)snprintf(buf, sizeof(buf), "CAP_");
    for (; *s && n + 1 < sizeof(buf); s++)
        buf[n++] = (char)toupper((unsigned char)*s);
    buf[n] = 0;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(all_caps); i++)
        if (!strcmp(all_caps[i], buf))
            return all_caps[i];
    return NULL;
}

static bool list_has(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (!strcasecmp(v[i], s))
            return true;
    return false;
}

static int json_array_find(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (k1s_streq(json_string_value(v), s))
            return (int)i;
    }
    return -1;
}

/* The capability set as containerd's CRI computes it from add/drop/privileged. */
static int build_caps(const k1s_rt_config_t *c, json_t **out, k1s_err_t *err)
{
    json_t *set;
    if (c->privileged || list_has(c->cap_add, "ALL"))
        set = caps_from_mask(current_caps());
    else if (list_has(c->cap_drop, "ALL"))
        set = json_array();
    else
        set = str_array(default_caps, K1S_ARRAY_SIZE(default_caps));
    for (size_t i = 0; !c->privileged && c->cap_add && c->cap_add[i]; i++) {
        if (!strcasecmp(c->cap_add[i], "ALL"))
            continue;
        const char *n = cap_name(c->cap_add[i]);
        if (!n) {
            json_decref(set);
            return k1s_err_set(err, EINVAL, "unknown capability \"%s\" in capabilities.add",
                               c->cap_add[i]);
        }
        if (json_array_find(set, n) < 0)
            json_array_append_new(set, json_string(n));
    }
    for (size_t i = 0; !c->privileged && c->cap_drop && c->cap_drop[i]; i++) {
        if (!strcasecmp(c->cap_drop[i], "ALL"))
            continue;
        const char *n = cap_name(c->cap_drop[i]);
        if (!n) {
            json_decref(set);
            return k1s_err_set(err, EINVAL, "unknown capability \"%s\" in capabilities.drop",
                               c->cap_drop[i]);
        }
        int at = json_array_find(set, n);
        if (at >= 0)
            json_array_remove(set, (size_t)at);
    }
    *out = set;
    return 0;
}

static json_t *mount_obj(const char *dest, const char *type, const char *source,
                         const char *const *opts, size_t n)
{
    json_t *m = json_object();
    json_object_set_new(m, "destination", json_string(dest));
    json_object_set_new(m, "type", json_string(type));
    json_object_set_new(m, "source", json_string(source));
    json_object_set_new(m, "options", str_array(opts, n));
    return m;
}

static bool user_mounts_cover(const k1s_rt_config_t *c, const char *dest)
{
    for (size_t i = 0; i < c->n_mounts; i++)
        if (k1s_streq(c->mounts[i].destination, dest))
            return true;
    return false;
}

static void add_default_mount(json_t *mounts, const k1s_rt_config_t *c, const char *dest,
                              const char *type, const char *source, const char *const *opts,
                              size_t n)
{
    if (!user_mounts_cover(c, dest))
        json_array_append_new(mounts, mount_obj(dest, type, source, opts, n));
}

static size_t path_depth(const char *p)
{
    size_t d = 0;
    for (; *p; p++)
        if (*p == '/' && p[1] && p[1] != '/')
            d++;
    return d;
}

static int user_mount(json_t *mounts, const k1s_rt_mount_t *m, k1s_err_t *err)
{
    if (!m->destination || m->destination[0] != '/')
        return k1s_err_set(err, EINVAL, "mount destination \"%s\" is not an absolute path",
                           m->destination ? m->destination : "");
    json_t *opts = json_array();
    const char *type = m->type ? m->type : "bind";
    const char *source;
    if (!strcmp(type, "bind")) {
        if (!m->source || m->source[0] != '/') {
            json_decref(opts);
            return k1s_err_set(err, EINVAL, "bind mount on %s: source \"%s\" is not absolute",
                               m->destination, m->source ? m->source : "");
        }
        source = m->source;
        json_array_append_new(opts, json_string("rbind"));
        static const char *const prop[] = {"rprivate", "rslave", "rshared"};
        json_array_append_new(opts, json_string(prop[m->propagation]));
    } else if (!strcmp(type, "tmpfs")) {
        source = "tmpfs";
        json_array_append_new(opts, json_string("nosuid"));
        json_array_append_new(opts, json_string("nodev"));
    } else {
        json_decref(opts);
        return k1s_err_set(err, EINVAL, "mount on %s: unsupported type \"%s\" (bind or tmpfs)",
                           m->destination, type);
    }
    json_array_append_new(opts, json_string(m->readonly ? "ro" : "rw"));
    if (m->options && *m->options) {
        char *o = k1s_xstrdup(m->options), *save = NULL;
        for (char *t = strtok_r(o, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(opts, json_string(t));
        free(o);
    }
    json_t *mo = json_object();
    json_object_set_new(mo, "destination", json_string(m->destination));
    json_object_set_new(mo, "type", json_string(type));
    json_object_set_new(mo, "source", json_string(source));
    json_object_set_new(mo, "options", opts);
    json_array_append_new(mounts, mo);
    return 0;
}

static json_t *build_mounts(const k1s_rt_config_t *c, k1s_err_t *err)
{
    json_t *mounts = json_array();
    static const char *const proc_o[] = {"nosuid", "noexec", "nodev"};
    static const char *const dev_o[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
    static const char *const pts_o[] = {"nosuid",        "noexec",    "newinstance",
                                        "ptmxmode=0666", "mode=0620", "gid=5"};
    static const char *const shm_o[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"};
    static const char *const mq_o[] = {"nosuid", "noexec", "nodev"};
    static const char *const sys_ro[] = {"nosuid", "noexec", "nodev", "ro"};
    static const char *const sys_rw[] = {"nosuid", "noexec", "nodev", "rw"};
    static const char *const cg_ro[] = {"nosuid", "noexec", "nodev", "relatime", "ro"};
    static const char *const cg_rw[] = {"nosuid", "noexec", "nodev", "relatime", "rw"};
    add_default_mount(mounts, c, "/proc", "proc", "proc", proc_o, 3);
    add_default_mount(mounts, c, "/dev", "tmpfs", "tmpfs", dev_o, 4);
    add_default_mount(mounts, c, "/dev/pts", "devpts", "devpts", pts_o, 6);
    add_default_mount(mounts, c, "/dev/shm", "tmpfs", "shm", shm_o, 5);
    add_default_mount(mounts, c, "/dev/mqueue", "mqueue", "mqueue", mq_o, 3);
    add_default_mount(mounts, c, "/sys", "sysfs", "sysfs", c->privileged ? sys_rw : sys_ro, 4);
    add_default_mount(mounts, c, "/sys/fs/cgroup", "cgroup", "cgroup",
                      c->privileged ? cg_rw : cg_ro, 5);
    /* User mounts, parents before children (a stable sort by depth, as containerd does). */
    size_t maxd = 0;
    for (size_t i = 0; i < c->n_mounts; i++)
        if (c->mounts[i].destination && path_depth(c->mounts[i].destination) > maxd)
            maxd = path_depth(c->mounts[i].destination);
    for (size_t d = 0; d <= maxd; d++)
        for (size_t i = 0; i < c->n_mounts; i++) {
            if (c->mounts[i].destination && path_depth(c->mounts[i].destination) != d)
                continue;
            if (user_mount(mounts, &c->mounts[i], err) < 0) {
                json_decref(mounts);
                return NULL;
            }
        }
    return mounts;
}

static void add_ns(json_t *nss, const char *type, const char *path)
{
    json_t *ns = json_object();
    json_object_set_new(ns, "type", json_string(type));
    if (path)
        json_object_set_new(ns, "path", json_string(path));
    json_array_append_new(nss, ns);
}

/* Adds every device node under dir (recursively; not pts, shm, mqueue) to devs, as CRI's
 * WithHostDevices does for privileged containers: serial ports, GPIO, USB on a gateway. */
static void host_devices(json_t *devs, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = k1s_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode) && depth < 4 && strcmp(path, "/dev/pts") &&
                strcmp(path, "/dev/shm") && strcmp(path, "/dev/mqueue"))
                host_devices(devs, path, depth + 1);
            else if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && strcmp(path, "/dev/console")) {
                json_t *dv = json_object();
                json_object_set_new(dv, "path", json_string(path));
                json_object_set_new(dv, "type", json_string(S_ISCHR(st.st_mode) ? "c" : "b"));
                json_object_set_new(dv, "major", json_integer(major(st.st_rdev)));
                json_object_set_new(dv, "minor", json_integer(minor(st.st_rdev)));
                json_object_set_new(dv, "fileMode", json_integer(st.st_mode & 07777));
                json_object_set_new(dv, "uid", json_integer(st.st_uid));
                json_object_set_new(dv, "gid", json_integer(st.st_gid));
                json_array_append_new(devs, dv);
            }
        }
        free(path);
    }
    closedir(d);
}

static json_t *build_devices(const k1s_rt_config_t *c)
{
    json_t *devs = json_array();
    json_t *d = json_object();
    json_object_set_new(d, "allow", json_boolean(c->privileged));
    json_object_set_new(d, "access", json_string("rwm"));
    json_array_append_new(devs, d);
    if (c->privileged)
        return devs;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(default_devices); i++) {
        d = json_object();
        json_object_set_new(d, "allow", json_true());
        json_object_set_new(d, "type", json_string("c"));
        json_object_set_new(d, "major", json_integer(default_devices[i].major));
        if (default_devices[i].minor >= 0)
            json_object_set_new(d, "minor", json_integer(default_devices[i].minor));
        json_object_set_new(d, "access", json_string("rwm"));
        json_array_append_new(devs, d);
    }
    return devs;
}

static bool env_has(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; env && env[i]; i++)
        if (!strncmp(env[i], name, n) && env[i][n] == '=')
            return true;
    return false;
}

static json_t *build_process(const k1s_rt_config_t *c, json_t *caps)
{
    json_t *p = json_object();
    json_object_set_new(p, "terminal", json_boolean(c->terminal));
    json_t *user = json_object();
    json_object_set_new(user, "uid", json_integer(c->uid));
    json_object_set_new(user, "gid", json_integer(c->gid));
    if (c->n_additional_gids) {
        json_t *g = json_array();
        for (size_t i = 0; i < c->n_additional_gids; i++)
            json_array_append_new(g, json_integer(c->additional_gids[i]));
        json_object_set_new(user, "additionalGids", g);
    }
    json_object_set_new(p, "user", user);
    json_t *args = json_array();
    for (size_t i = 0; c->args[i]; i++)
        json_array_append_new(args, json_string(c->args[i]));
    json_object_set_new(p, "args", args);
    json_t *env = json_array();
    if (!env_has(c->env, "PATH"))
        json_array_append_new(
            env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    if (c->hostname && !env_has(c->env, "HOSTNAME")) {
        char *h = k1s_xasprintf("HOSTNAME=%s", c->hostname);
        json_array_append_new(env, json_string(h));
        free(h);
    }
    if (c->terminal && !env_has(c->env, "TERM"))
        json_array_append_new(env, json_string("TERM=xterm"));
    for (size_t i = 0; c->env && c->env[i]; i++)
        json_array_append_new(env, json_string(c->env[i]));
    json_object_set_new(p, "env", env);
    json_object_set_new(p, "cwd", json_string(c->cwd && *c->cwd ? c->cwd : "/"));
    json_t *cap = json_object();
    json_object_set(cap, "bounding", caps);
    json_object_set(cap, "effective", caps);
    json_object_set(cap, "permitted", caps);
    json_object_set_new(p, "capabilities", cap);
    json_object_set_new(p, "noNewPrivileges", json_boolean(c->no_new_privileges));
    if (c->oom_score_adj_set)
        json_object_set_new(p, "oomScoreAdj", json_integer(c->oom_score_adj));
    return p;
}

static json_t *build_resources(const k1s_rt_config_t *c)
{
    json_t *r = json_object();
    json_object_set_new(r, "devices", build_devices(c));
    json_t *cpu = json_object();
    if (c->cpu_request_milli >= 0)
        json_object_set_new(cpu, "shares",
                            json_integer((json_int_t)k1s_rt_cpu_shares(c->cpu_request_milli)));
    if (c->cpu_limit_milli > 0) {
        json_object_set_new(cpu, "quota",
                            json_integer(k1s_rt_cpu_quota(c->cpu_limit_milli, K1S_RT_CPU_PERIOD)));
        json_object_set_new(cpu, "period", json_integer(K1S_RT_CPU_PERIOD));
    }
    if (json_object_size(cpu))
        json_object_set_new(r, "cpu", cpu);
    else
        json_decref(cpu);
    if (c->memory_limit_bytes > 0) {
        json_t *mem = json_object();
        json_object_set_new(mem, "limit", json_integer(c->memory_limit_bytes));
        /* As containerd: no swap beyond the limit where swap is accounted (cgroup v1 memsw). */
        if (access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0)
            json_object_set_new(mem, "swap", json_integer(c->memory_limit_bytes));
        json_object_set_new(r, "memory", mem);
    }
    if (c->pids_limit > 0) {
        json_t *pids = json_object();
        json_object_set_new(pids, "limit", json_integer(c->pids_limit));
        json_object_set_new(r, "pids", pids);
    }
    return r;
}

/* Parses "k=v" entries into obj; -EINVAL on an entry without '='. */
static int kv_object(json_t *obj, char *const *kv, const char *what, k1s_err_t *err)
{
    for (size_t i = 0; kv && kv[i]; i++) {
        const char *eq = strchr(kv[i], '=');
        if (!eq || eq == kv[i])
            return k1s_err_set(err, EINVAL, "%s \"%s\" is not name=value", what, kv[i]);
        char *k = k1s_xstrndup(kv[i], (size_t)(eq - kv[i]));
        json_object_set_new(obj, k, json_string(eq + 1));
        free(k);
    }
    return 0;
}

int k1s_rt_spec_build(const k1s_rt_config_t *c, json_t **out, k1s_err_t *err)
{
    if (!c->args || !c->args[0] || !*c->args[0])
        return k1s_err_set(err, EINVAL, "no command to run (empty args)");
    if (!c->rootfs || c->rootfs[0] != '/')
        return k1s_err_set(err, EINVAL, "rootfs \"%s\" is not an absolute path",
                           c->rootfs ? c->rootfs : "");
    json_t *caps = NULL;
    int r = build_caps(c, &caps, err);
    if (r < 0)
        return r;
    json_t *s = json_object();
    json_object_set_new(s, "ociVersion", json_string("1.0.2"));
    json_object_set_new(s, "process", build_process(c, caps));
    json_t *root = json_object();
    json_object_set_new(root, "path", json_string(c->rootfs));
    json_object_set_new(root, "readonly", json_boolean(c->rootfs_readonly));
    json_object_set_new(s, "root", root);
    if (c->hostname && !c->host_network)
        json_object_set_new(s, "hostname", json_string(c->hostname));
    json_t *mounts = build_mounts(c, err);
    if (!mounts) {
        json_decref(caps);
        json_decref(s);
        return -err->code;
    }
    json_object_set_new(s, "mounts", mounts);
    json_t *ann = json_object();
    if ((r = kv_object(ann, c->annotations, "annotation", err)) < 0)
        goto fail_ann;
    json_object_set_new(s, "annotations", ann);

    json_t *linux = json_object();
    json_object_set_new(s, "linux", linux);
    json_t *sysctl = json_object();
    json_object_set_new(linux, "sysctl", sysctl);
    if ((r = kv_object(sysctl, c->sysctls, "sysctl", err)) < 0)
        goto fail;
    json_object_set_new(linux, "resources", build_resources(c));
    if (c->cgroups_path)
        json_object_set_new(linux, "cgroupsPath", json_string(c->cgroups_path));
    if (c->privileged) {
        json_t *devs = json_array();
        host_devices(devs, "/dev", 0);
        json_object_set_new(linux, "devices", devs);
    }
    json_t *nss = json_array();
    if (!c->host_pid)
        add_ns(nss, "pid", c->pid_ns_path);
    if (!c->host_ipc)
        add_ns(nss, "ipc", c->ipc_ns_path);
    /* With the host's network the container also keeps the host's UTS (hostname), as in CRI. */
    if (!c->host_network)
        add_ns(nss, "uts", c->uts_ns_path);
    add_ns(nss, "mount", NULL);
    if (!c->host_network)
        add_ns(nss, "network", c->netns_path);
    json_object_set_new(linux, "namespaces", nss);
    if (!c->privileged) {
        json_object_set_new(linux, "maskedPaths",
                            str_array(masked_paths, K1S_ARRAY_SIZE(masked_paths)));
        json_object_set_new(linux, "readonlyPaths",
                            str_array(readonly_paths, K1S_ARRAY_SIZE(readonly_paths)));
        if (c->seccomp == K1S_RT_SECCOMP_RUNTIME_DEFAULT)
            json_object_set_new(linux, "seccomp", k1s_rt_seccomp_default(caps));
    }
    json_decref(caps);
    *out = s;
    return 0;
fail_ann:
    json_decref(ann);
fail:
    json_decref(caps);
    json_decref(s);
    return r;
}

int k1s_rt_spec_write(const k1s_rt_config_t *c, const char *bundle_dir, k1s_err_t *err)
{
    json_t *s;
    int r = k1s_rt_spec_build(c, &s, err);
    if (r < 0)
        return r;
    if ((r = k1s_mkdir_p(bundle_dir, 0700)) < 0) {
        json_decref(s);
        return k1s_err_set(err, -r, "create bundle directory %s: %s", bundle_dir, strerror(-r));
    }
    char *text = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    char *path = k1s_xasprintf("%s/config.json", bundle_dir);
    r = k1s_write_file_atomic(path, text, strlen(text), 0600);
    free(text);
    if (r < 0)
        k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
    free(path);
    return r;
}
