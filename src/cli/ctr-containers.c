/*
 * `k1s ctr run|ps|inspect|logs|exec|kill|stop|rm`: containers on this node,
 * through the runtime library (src/runtime/runtime.h) on the agent's state
 * directory, so they work with or without the agent running. `run` takes a
 * root filesystem directory (--rootfs); images are `k1s ctr images`'.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/util.h"
#include "runtime/runtime.h"
#include "runtime/shim.h"

/* Options every container subcommand takes. */
typedef struct common {
    const char *data_dir;
    const char *runtime;
    const char *runtime_root;
    char *state_dir;
    struct event_base *base;
    k1s_rt_t *rt;
} common_t;

enum { O_DATA_DIR = 1000, O_RUNTIME, O_RUNTIME_ROOT };

#define COMMON_LONGOPTS                                                                            \
    {"data-dir", required_argument, NULL, O_DATA_DIR},                                             \
        {"runtime", required_argument, NULL, O_RUNTIME},                                           \
    {                                                                                              \
        "runtime-root", required_argument, NULL, O_RUNTIME_ROOT                                    \
    }

static bool common_opt(common_t *c, int opt, const char *arg)
{
    switch (opt) {
    case O_DATA_DIR: c->data_dir = arg; return true;
    case O_RUNTIME: c->runtime = arg; return true;
    case O_RUNTIME_ROOT: c->runtime_root = arg; return true;
    }
    return false;
}

static int common_open(common_t *c, int64_t log_max_size, int log_max_files)
{
    if (!c->data_dir)
        c->data_dir = getenv("K1S_DATA_DIR") ? getenv("K1S_DATA_DIR") : "/var/lib/k1s";
    c->state_dir = k1s_xasprintf("%s/agent/containers", c->data_dir);
    c->base = event_base_new();
    k1s_rt_opts_t o = {.state_dir = c->state_dir,
                       .runtime = c->runtime,
                       .runtime_root = c->runtime_root,
                       .log_max_size = log_max_size,
                       .log_max_files = log_max_files};
    k1s_err_t err = {0};
    if (k1s_rt_new(c->base, &o, &c->rt, &err) < 0) {
        fprintf(stderr, "k1s ctr: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void common_close(common_t *c)
{
    k1s_rt_free(c->rt);
    if (c->base)
        event_base_free(c->base);
    free(c->state_dir);
}

static int parse_signal(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"HUP", SIGHUP},   {"INT", SIGINT},    {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
                {"USR1", SIGUSR1}, {"USR2", SIGUSR2},  {"TERM", SIGTERM}, {"STOP", SIGSTOP},
                {"CONT", SIGCONT}, {"WINCH", SIGWINCH}};
    if (s[0] >= '0' && s[0] <= '9')
        return atoi(s);
    if (!strncasecmp(s, "SIG", 3))
        s += 3;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(sigs); i++)
        if (!strcasecmp(s, sigs[i].name))
            return sigs[i].sig;
    return -1;
}

/* "64m", "1Gi", "1048576" -> bytes; -1 if malformed. */
static int64_t parse_bytes(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    int64_t mult = 1;
    switch (*end) {
    case 0: break;
    case 'k':
    case 'K': mult = 1024; break;
    case 'm':
    case 'M': mult = 1024 * 1024; break;
    case 'g':
    case 'G': mult = 1024 * 1024 * 1024; break;
    default: return -1;
    }
    if (*end && end[1] && strcmp(end + 1, "i") && strcasecmp(end + 1, "b"))
        return -1;
    return (int64_t)(v * (double)mult);
}

/* ---- run ---- */

typedef struct run_state {
    common_t *c;
    const char *id;
    bool started_done, exited;
    int rc;
    int exit_code;
    k1s_err_t err;
    bool wait;
} run_state_t;

static void run_started(void *arg, const char *id, int rc, const k1s_err_t *err)
{
    run_state_t *s = arg;
    s->started_done = true;
    s->rc = rc;
    if (err)
        s->err = *err;
    if (rc < 0 || !s->wait)
        event_base_loopbreak(s->c->base);
}

static void run_exited(void *arg, const k1s_rt_status_t *st)
{
    run_state_t *s = arg;
    if (!k1s_streq(st->id, s->id))
        return;
    s->exited = true;
    s->exit_code = st->exit_code;
    if (s->started_done)
        event_base_loopbreak(s->c->base);
}

static void run_usage(FILE *f)
{
    fprintf(f,
            "Usage: k1s ctr run --rootfs DIR [OPTIONS] [--] COMMAND [ARG...]\n\n"
            "Runs COMMAND in a new container and prints its ID.\n\n"
            "Options:\n"
            "  --rootfs DIR           root filesystem (required)\n"
            "  --id ID                container ID (default: random)\n"
            "  --env NAME=VALUE       environment variable (repeatable)\n"
            "  --cwd DIR              working directory\n"
            "  --user UID[:GID]       user to run as\n"
            "  --hostname NAME        hostname\n"
            "  --read-only            read-only root filesystem\n"
            "  --memory BYTES         memory limit (k, m, g suffixes)\n"
            "  --cpus N               CPU limit (e.g. 0.5)\n"
            "  --cpu-request N        CPU request, for cpu shares\n"
            "  --pids-limit N         maximum number of processes\n"
            "  --netns PATH           join this network namespace (default: a new, empty one)\n"
            "  --host-network         use the host's network\n"
            "  --privileged           all capabilities and devices\n"
            "  --cap-add CAP          add a capability (repeatable)\n"
            "  --cap-drop CAP         drop a capability (repeatable)\n"
            "  --seccomp              apply the RuntimeDefault seccomp profile\n"
            "  --no-new-privileges    allowPrivilegeEscalation: false\n"
            "  --bind SRC:DST[:ro]    bind mount (repeatable)\n"
            "  --tty                  give the process a terminal\n"
            "  --stdin                keep stdin open for attach\n"
            "  --label KEY=VALUE      label kept with the container (repeatable)\n"
            "  --log FILE             CRI log file (default: in the container's state dir)\n"
            "  --log-max-size BYTES   rotate the log at this size (default 10m)\n"
            "  --log-max-files N      log files kept, current included (default 5)\n"
            "  --wait                 wait for the exit; exit with the container's code\n"
            "  --cgroups-path PATH    cgroup of the container (default /k1s/ID)\n"
            "  --data-dir DIR         k1s data directory (default /var/lib/k1s)\n"
            "  --runtime runc|crun    OCI runtime (default runc)\n"
            "  --runtime-root DIR     the OCI runtime's state root (default /run/k1s/RUNTIME)\n");
}

static void push(char ***v, size_t *n, const char *s)
{
    *v = k1s_xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = (char *)s;
    (*v)[*n] = NULL;
}

static int cmd_run(int argc, char **argv)
{
    common_t c = {0};
    k1s_rt_config_t cfg = {0};
    cfg.cpu_request_milli = -1;
    const char *id = NULL, *log_path = NULL;
    char **env = NULL, **cap_add = NULL, **cap_drop = NULL, **labels = NULL;
    size_t n_env = 0, n_add = 0, n_drop = 0, n_labels = 0;
    k1s_rt_mount_t mounts[32];
    char *mount_bufs[32];
    size_t n_mounts = 0;
    int64_t log_max_size = 0;
    int log_max_files = 0;
    bool wait = false, stdin_open = false;
    enum {
        O_ROOTFS = 1,
        O_ID,
        O_ENV,
        O_CWD,
        O_USER,
        O_HOSTNAME,
        O_RO,
        O_MEM,
        O_CPUS,
        O_CPUREQ,
        O_PIDS,
        O_NETNS,
        O_HOSTNET,
        O_PRIV,
        O_CAPADD,
        O_CAPDROP,
        O_SECCOMP,
        O_NNP,
        O_BIND,
        O_TTY,
        O_STDIN,
        O_LABEL,
        O_LOG,
        O_LOGSIZE,
        O_LOGFILES,
        O_WAIT,
        O_CGROUPS,
        O_HELP
    };
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"rootfs", required_argument, NULL, O_ROOTFS},
        {"id", required_argument, NULL, O_ID},
        {"env", required_argument, NULL, O_ENV},
        {"cwd", required_argument, NULL, O_CWD},
        {"user", required_argument, NULL, O_USER},
        {"hostname", required_argument, NULL, O_HOSTNAME},
        {"read-only", no_argument, NULL, O_RO},
        {"memory", required_argument, NULL, O_MEM},
        {"cpus", required_argument, NULL, O_CPUS},
        {"cpu-request", required_argument, NULL, O_CPUREQ},
        {"pids-limit", required_argument, NULL, O_PIDS},
        {"netns", required_argument, NULL, O_NETNS},
        {"host-network", no_argument, NULL, O_HOSTNET},
        {"privileged", no_argument, NULL, O_PRIV},
        {"cap-add", required_argument, NULL, O_CAPADD},
        {"cap-drop", required_argument, NULL, O_CAPDROP},
        {"seccomp", no_argument, NULL, O_SECCOMP},
        {"no-new-privileges", no_argument, NULL, O_NNP},
        {"bind", required_argument, NULL, O_BIND},
        {"tty", no_argument, NULL, O_TTY},
        {"stdin", no_argument, NULL, O_STDIN},
        {"label", required_argument, NULL, O_LABEL},
        {"log", required_argument, NULL, O_LOG},
        {"log-max-size", required_argument, NULL, O_LOGSIZE},
        {"log-max-files", required_argument, NULL, O_LOGFILES},
        {"wait", no_argument, NULL, O_WAIT},
        {"cgroups-path", required_argument, NULL, O_CGROUPS},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt, rc = 1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (common_opt(&c, opt, optarg))
            continue;
        switch (opt) {
        case O_ROOTFS: cfg.rootfs = optarg; break;
        case O_ID: id = optarg; break;
        case O_ENV: push(&env, &n_env, optarg); break;
        case O_CWD: cfg.cwd = optarg; break;
        case O_USER: {
            char *end;
            cfg.uid = (uint32_t)strtoul(optarg, &end, 10);
            cfg.gid = *end == ':' ? (uint32_t)strtoul(end + 1, NULL, 10) : 0;
            break;
        }
        case O_HOSTNAME: cfg.hostname = optarg; break;
        case O_RO: cfg.rootfs_readonly = true; break;
        case O_MEM:
            if ((cfg.memory_limit_bytes = parse_bytes(optarg)) < 0) {
                fprintf(stderr, "k1s ctr run: --memory %s: not a size\n", optarg);
                return 2;
            }
            break;
        case O_CPUS: cfg.cpu_limit_milli = (int64_t)(atof(optarg) * 1000); break;
        case O_CPUREQ: cfg.cpu_request_milli = (int64_t)(atof(optarg) * 1000); break;
        case O_PIDS: cfg.pids_limit = atoll(optarg); break;
        case O_NETNS: cfg.netns_path = optarg; break;
        case O_HOSTNET: cfg.host_network = true; break;
        case O_PRIV: cfg.privileged = true; break;
        case O_CAPADD: push(&cap_add, &n_add, optarg); break;
        case O_CAPDROP: push(&cap_drop, &n_drop, optarg); break;
        case O_SECCOMP: cfg.seccomp = K1S_RT_SECCOMP_RUNTIME_DEFAULT; break;
        case O_NNP: cfg.no_new_privileges = true; break;
        case O_BIND: {
            if (n_mounts == K1S_ARRAY_SIZE(mounts))
                break;
            char *b = mount_bufs[n_mounts] = k1s_xstrdup(optarg);
            char *dst = strchr(b, ':');
            if (!dst) {
                fprintf(stderr, "k1s ctr run: --bind %s: expected SRC:DST[:ro]\n", optarg);
                return 2;
            }
            *dst++ = 0;
            char *mode = strchr(dst, ':');
            if (mode)
                *mode++ = 0;
            mounts[n_mounts++] = (k1s_rt_mount_t){.source = b,
                                                  .destination = dst,
                                                  .type = "bind",
                                                  .readonly = mode && !strcmp(mode, "ro")};
            break;
        }
        case O_TTY: cfg.terminal = true; break;
        case O_STDIN: stdin_open = true; break;
        case O_LABEL: push(&labels, &n_labels, optarg); break;
        case O_LOG: log_path = optarg; break;
        case O_LOGSIZE: log_max_size = parse_bytes(optarg); break;
        case O_LOGFILES: log_max_files = atoi(optarg); break;
        case O_WAIT: wait = true; break;
        case O_CGROUPS: cfg.cgroups_path = optarg; break;
        case O_HELP:
        case 'h': run_usage(stdout); return 0;
        default: run_usage(stderr); return 2;
        }
    }
    if (!cfg.rootfs || optind >= argc) {
        fprintf(stderr, "k1s ctr run: %s\n\n",
                !cfg.rootfs ? "--rootfs is required" : "no command given");
        run_usage(stderr);
        return 2;
    }
    char rootfs[4096];
    if (!realpath(cfg.rootfs, rootfs)) {
        fprintf(stderr, "k1s ctr run: rootfs %s: %s\n", cfg.rootfs, strerror(errno));
        return 1;
    }
    cfg.rootfs = rootfs;
    cfg.args = argv + optind;
    cfg.env = env;
    cfg.cap_add = cap_add;
    cfg.cap_drop = cap_drop;
    cfg.mounts = mounts;
    cfg.n_mounts = n_mounts;
    char idbuf[65];
    if (!id) {
        unsigned char rnd[32];
        k1s_random_bytes(rnd, sizeof(rnd));
        for (int i = 0; i < 32; i++)
            snprintf(idbuf + 2 * i, 3, "%02x", rnd[i]);
        id = idbuf;
    }
    if (common_open(&c, log_max_size, log_max_files) < 0)
        goto out;
    char *log_default = k1s_xasprintf("%s/%s/0.log", c.state_dir, id);
    run_state_t s = {.c = &c, .id = id, .wait = wait};
    k1s_rt_on_exit(c.rt, run_exited, &s);
    k1s_rt_start_req_t req = {.id = id,
                              .config = &cfg,
                              .log_path = log_path ? log_path : log_default,
                              .stdin_open = stdin_open,
                              .labels = labels};
    k1s_err_t err = {0};
    if (k1s_rt_start(c.rt, &req, run_started, &s, &err) < 0) {
        fprintf(stderr, "k1s ctr run: %s\n", err.msg);
        free(log_default);
        goto out;
    }
    event_base_dispatch(c.base);
    free(log_default);
    if (s.rc < 0) {
        fprintf(stderr, "k1s ctr run: %s\n", s.err.msg);
        goto out;
    }
    if (!wait) {
        printf("%s\n", id);
        rc = 0;
        goto out;
    }
    if (!s.exited)
        event_base_dispatch(c.base);
    rc = s.exited ? s.exit_code : 255;
out:
    common_close(&c);
    for (size_t i = 0; i < n_mounts; i++)
        free(mount_bufs[i]);
    free(env);
    free(cap_add);
    free(cap_drop);
    free(labels);
    return rc;
}

/* ---- ps, inspect ---- */

static json_t *status_to_json(const k1s_rt_status_t *st)
{
    char t[40];
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(st->id));
    json_object_set_new(j, "state", json_string(k1s_rt_state_name(st->state)));
    json_object_set_new(j, "pid", json_integer(st->pid));
    if (st->state == K1S_RT_EXITED) {
        json_object_set_new(j, "exitCode", json_integer(st->exit_code));
        json_object_set_new(j, "signal", json_integer(st->signal));
    }
    if (st->reason)
        json_object_set_new(j, "reason", json_string(st->reason));
    if (st->message)
        json_object_set_new(j, "message", json_string(st->message));
    struct {
        const char *k;
        int64_t v;
    } times[] = {{"createdAt", st->created_at},
                 {"startedAt", st->started_at},
                 {"finishedAt", st->finished_at}};
    for (size_t i = 0; i < 3; i++)
        if (times[i].v) {
            k1s_rt_time_format(times[i].v, t);
            json_object_set_new(j, times[i].k, json_string(t));
        }
    if (st->log_path)
        json_object_set_new(j, "logPath", json_string(st->log_path));
    json_t *labels = json_object();
    for (size_t i = 0; st->labels && st->labels[i]; i++) {
        char *eq = strchr(st->labels[i], '=');
        if (!eq)
            continue;
        char *k = k1s_xstrndup(st->labels[i], (size_t)(eq - st->labels[i]));
        json_object_set_new(labels, k, json_string(eq + 1));
        free(k);
    }
    json_object_set_new(j, "labels", labels);
    return j;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    printf("%s\n", s);
    free(s);
}

static void age(int64_t ns, char *out, size_t n)
{
    int64_t s = (k1s_rt_time_now() - ns) / 1000000000;
    if (s < 120)
        snprintf(out, n, "%llds", (long long)s);
    else if (s < 7200)
        snprintf(out, n, "%lldm", (long long)s / 60);
    else
        snprintf(out, n, "%lldh", (long long)s / 3600);
}

static int cmd_ps(int argc, char **argv)
{
    common_t c = {0};
    bool json = false, quiet = false;
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        if (common_opt(&c, opt, optarg))
            continue;
        if (opt == 'j')
            json = true;
        else if (opt == 'q')
            quiet = true;
        else {
            FILE *f = opt == 'h' ? stdout : stderr;
            fprintf(f, "Usage: k1s ctr ps [--json] [-q] [--data-dir DIR]\n\n"
                       "Lists the containers on this node.\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (common_open(&c, 0, 0) < 0) {
        common_close(&c);
        return 1;
    }
    k1s_rt_status_t *list;
    size_t n;
    k1s_err_t err = {0};
    int rc = 0;
    if (k1s_rt_list(c.rt, &list, &n, &err) < 0) {
        fprintf(stderr, "k1s ctr ps: %s\n", err.msg);
        common_close(&c);
        return 1;
    }
    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, status_to_json(&list[i]));
        print_json(a);
        json_decref(a);
    } else if (quiet) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", list[i].id);
    } else {
        printf("%-14s %-8s %-8s %-6s %-10s %s\n", "CONTAINER", "STATE", "PID", "EXIT", "REASON",
               "CREATED");
        for (size_t i = 0; i < n; i++) {
            char a[16], code[8] = "";
            age(list[i].created_at, a, sizeof(a));
            if (list[i].state == K1S_RT_EXITED)
                snprintf(code, sizeof(code), "%d", list[i].exit_code);
            printf("%-14.13s %-8s %-8d %-6s %-10s %s\n", list[i].id,
                   k1s_rt_state_name(list[i].state), list[i].pid, code,
                   list[i].reason ? list[i].reason : "", a);
        }
    }
    k1s_rt_status_list_free(list, n);
    common_close(&c);
    return rc;
}

/* Parses the common options plus none; returns optind or -1 (usage printed). */
static int simple_opts(common_t *c, int argc, char **argv, const char *usage, int min_args)
{
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (common_opt(c, opt, optarg))
            continue;
        fprintf(opt == 'h' ? stdout : stderr, "%s", usage);
        return -1;
    }
    if (argc - optind < min_args) {
        fprintf(stderr, "%s", usage);
        return -1;
    }
    return optind;
}

static int cmd_stats(int argc, char **argv)
{
    common_t c = {0};
    int i = simple_opts(&c, argc, argv,
                        "Usage: k1s ctr stats ID...\n\nPrints running containers' CPU, memory "
                        "and process counts from their cgroups.\n",
                        1);
    if (i < 0)
        return 2;
    if (common_open(&c, 0, 0) < 0) {
        common_close(&c);
        return 1;
    }
    int rc = 0;
    printf("%-14s %12s %12s %12s %6s\n", "CONTAINER", "CPU(ms)", "MEM(KiB)", "WSET(KiB)", "PIDS");
    for (; i < argc; i++) {
        k1s_rt_stats_t st;
        k1s_err_t err = {0};
        if (k1s_rt_stats(c.rt, argv[i], &st, &err) < 0) {
            fprintf(stderr, "k1s ctr stats: %s\n", err.msg);
            rc = 1;
            continue;
        }
        printf("%-14.13s %12llu %12llu %12llu %6llu\n", argv[i],
               (unsigned long long)(st.cpu_usage_ns / 1000000),
               (unsigned long long)(st.memory_usage_bytes / 1024),
               (unsigned long long)(st.memory_working_set_bytes / 1024),
               (unsigned long long)st.pids);
    }
    common_close(&c);
    return rc;
}

static int cmd_inspect(int argc, char **argv)
{
    common_t c = {0};
    int i = simple_opts(&c, argc, argv, "Usage: k1s ctr inspect ID...\n", 1);
    if (i < 0)
        return 2;
    if (common_open(&c, 0, 0) < 0) {
        common_close(&c);
        return 1;
    }
    int rc = 0;
    for (; i < argc; i++) {
        k1s_rt_status_t st;
        k1s_err_t err = {0};
        if (k1s_rt_status(c.rt, argv[i], &st, &err) < 0) {
            fprintf(stderr, "k1s ctr inspect: %s\n", err.msg);
            rc = 1;
            continue;
        }
        json_t *j = status_to_json(&st);
        print_json(j);
        json_decref(j);
        k1s_rt_status_clear(&st);
    }
    common_close(&c);
    return rc;
}

/* ---- logs ---- */

/* A CRI log being printed: the open file, and where each stream's line stands. */
typedef struct log_reader {
    common_t *c;
    const char *id;
    const char *path;
    FILE *f;
    bool timestamps;
    bool at_start[2];
    char *line;
    size_t cap;
    int ino_fd; /* inotify, when following */
    struct event *ev;
    bool exited;
} log_reader_t;

/* Prints the complete records available in the open file. */
static void log_drain(log_reader_t *r)
{
    ssize_t n;
    for (;;) {
        long at = ftell(r->f);
        n = getline(&r->line, &r->cap, r->f);
        if (n <= 0)
            break;
        if (r->line[n - 1] != '\n') {
            /* The writer is mid-record: read it whole next time. */
            fseek(r->f, at, SEEK_SET);
            break;
        }
        r->line[--n] = 0;
        char *ts = r->line, *stream = strchr(ts, ' ');
        if (!stream)
            continue;
        *stream++ = 0;
        char *tag = strchr(stream, ' ');
        if (!tag)
            continue;
        *tag++ = 0;
        char *text = tag[0] && tag[1] == ' ' ? tag + 2 : tag + 1;
        int s = !strcmp(stream, "stderr");
        FILE *out = s ? stderr : stdout;
        if (r->timestamps && r->at_start[s])
            fprintf(out, "%s ", ts);
        fputs(text, out);
        r->at_start[s] = tag[0] == 'F';
        if (tag[0] == 'F')
            fputc('\n', out);
    }
    clearerr(r->f);
    fflush(stdout);
    fflush(stderr);
}

/* After rotations the path names a newer file: finish the one open, print the rotated files
 * newer than it (path.N ... path.1, found by inode), then go on with the current one. */
static void log_follow_rotation(log_reader_t *r)
{
    struct stat a, b;
    if (stat(r->path, &a) < 0 || fstat(fileno(r->f), &b) < 0 || a.st_ino == b.st_ino)
        return;
    log_drain(r);
    int k = 0;
    for (int i = 1; i <= 16 && !k; i++) {
        char *p = k1s_xasprintf("%s.%d", r->path, i);
        struct stat c;
        if (stat(p, &c) == 0 && c.st_ino == b.st_ino)
            k = i;
        free(p);
    }
    for (int i = k - 1; i >= 0; i--) {
        char *p = i ? k1s_xasprintf("%s.%d", r->path, i) : k1s_xstrdup(r->path);
        FILE *f = fopen(p, "re");
        free(p);
        if (!f)
            continue;
        fclose(r->f);
        r->f = f;
        log_drain(r);
    }
    if (!k) {
        FILE *f = fopen(r->path, "re");
        if (f) {
            fclose(r->f);
            r->f = f;
            log_drain(r);
        }
    }
}

static void log_changed(evutil_socket_t fd, short what, void *arg)
{
    log_reader_t *r = arg;
    char buf[4096];
    while (read(r->ino_fd, buf, sizeof(buf)) > 0) {
    }
    log_drain(r);
    log_follow_rotation(r);
}

static void log_exited(void *arg, const k1s_rt_status_t *st)
{
    log_reader_t *r = arg;
    if (!k1s_streq(st->id, r->id))
        return;
    r->exited = true;
    event_base_loopbreak(r->c->base);
}

static int cmd_logs(int argc, char **argv)
{
    common_t c = {0};
    log_reader_t r = {.c = &c, .at_start = {true, true}, .ino_fd = -1};
    bool follow = false;
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"timestamps", no_argument, NULL, 't'},
        {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char usage[] =
        "Usage: k1s ctr logs [--timestamps] [--follow] ID\n\n"
        "Prints a container's log (stdout and stderr as it wrote them); --follow keeps\n"
        "printing until the container exits.\n";
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "tfh", longopts, NULL)) != -1) {
        if (common_opt(&c, opt, optarg))
            continue;
        if (opt == 't' || opt == 'f') {
            *(opt == 't' ? &r.timestamps : &follow) = true;
            continue;
        }
        fprintf(opt == 'h' ? stdout : stderr, "%s", usage);
        return opt == 'h' ? 0 : 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    if (common_open(&c, 0, 0) < 0) {
        common_close(&c);
        return 1;
    }
    k1s_rt_status_t st = {0};
    k1s_err_t err = {0};
    int rc = 0;
    r.id = argv[optind];
    if (k1s_rt_status(c.rt, r.id, &st, &err) < 0) {
        fprintf(stderr, "k1s ctr logs: %s\n", err.msg);
        rc = 1;
    } else if (!(r.f = fopen(st.log_path, "re"))) {
        fprintf(stderr, "k1s ctr logs: %s: %s\n", st.log_path, strerror(errno));
        rc = 1;
    } else {
        r.path = st.log_path;
        if (follow && st.state != K1S_RT_EXITED) {
            /* Watch the directory: rotation replaces the file. */
            char *dir = k1s_xstrdup(st.log_path);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = 0;
            r.ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
            if (r.ino_fd >= 0 &&
                inotify_add_watch(r.ino_fd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) >= 0) {
                r.ev = event_new(c.base, r.ino_fd, EV_READ | EV_PERSIST, log_changed, &r);
                event_add(r.ev, NULL);
            }
            free(dir);
            k1s_rt_on_exit(c.rt, log_exited, &r);
            log_drain(&r);
            if (k1s_rt_adopt(c.rt, &err) >= 0 && !r.exited)
                event_base_dispatch(c.base);
            log_follow_rotation(&r);
        }
        log_drain(&r);
        fclose(r.f);
    }
    if (r.ev)
        event_free(r.ev);
    if (r.ino_fd >= 0)
        close(r.ino_fd);
    free(r.line);
    k1s_rt_status_clear(&st);
    common_close(&c);
    return rc;
}

/* ---- exec ---- */

typedef struct exec_state {
    common_t *c;
    int rc;
    k1s_err_t err;
    int master;
    struct event *in_ev, *out_ev, *winch_ev;
    bool raw;
    struct termios saved;
} exec_state_t;

static void exec_done(void *arg, const char *id, int rc, const k1s_err_t *err)
{
    exec_state_t *s = arg;
    s->rc = rc;
    if (err)
        s->err = *err;
    event_base_loopbreak(s->c->base);
}

static void copy_fd(int from, int to, exec_state_t *s, bool stop_on_eof)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (from == s->master) {
            if (s->out_ev)
                event_del(s->out_ev);
        } else if (s->in_ev)
            event_del(s->in_ev);
        (void)stop_on_eof;
        return;
    }
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += w;
    }
}

static void stdin_to_master(evutil_socket_t fd, short what, void *arg)
{
    exec_state_t *s = arg;
    copy_fd(0, s->master, s, false);
}

static void master_to_stdout(evutil_socket_t fd, short what, void *arg)
{
    exec_state_t *s = arg;
    copy_fd(s->master, 1, s, true);
}

static void on_winch(evutil_socket_t sig, short what, void *arg)
{
    exec_state_t *s = arg;
    struct winsize ws;
    if (s->master >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0)
        ioctl(s->master, TIOCSWINSZ, &ws);
}

static void exec_console(void *arg, int master)
{
    exec_state_t *s = arg;
    s->master = master;
    struct winsize ws;
    if (isatty(0) && ioctl(0, TIOCGWINSZ, &ws) == 0)
        ioctl(master, TIOCSWINSZ, &ws);
    if (isatty(0) && tcgetattr(0, &s->saved) == 0) {
        struct termios raw = s->saved;
        cfmakeraw(&raw);
        tcsetattr(0, TCSANOW, &raw);
        s->raw = true;
        s->winch_ev = evsignal_new(s->c->base, SIGWINCH, on_winch, s);
        event_add(s->winch_ev, NULL);
    }
    /* Regular files and /dev/null cannot be watched (nor need to be): no input then. */
    struct stat sb;
    if (fstat(0, &sb) == 0 && (isatty(0) || S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode))) {
        s->in_ev = event_new(s->c->base, 0, EV_READ | EV_PERSIST, stdin_to_master, s);
        event_add(s->in_ev, NULL);
    }
    s->out_ev = event_new(s->c->base, master, EV_READ | EV_PERSIST, master_to_stdout, s);
    event_add(s->out_ev, NULL);
}

static int cmd_exec(int argc, char **argv)
{
    common_t c = {0};
    bool tty = false;
    int timeout_ms = 0;
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"tty", no_argument, NULL, 't'},
        {"interactive", no_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+tih", longopts, NULL)) != -1) {
        if (common_opt(&c, opt, optarg))
            continue;
        if (opt == 't') {
            tty = true;
            continue;
        }
        if (opt == 'i')
            continue; /* stdin is always passed */
        if (opt == 'T') {
            timeout_ms = (int)(atof(optarg) * 1000);
            continue;
        }
        fprintf(opt == 'h' ? stdout : stderr,
                "Usage: k1s ctr exec [-t] [--timeout SECONDS] ID [--] COMMAND [ARG...]\n\n"
                "Runs COMMAND in a running container; exits with its exit code.\n");
        return opt == 'h' ? 0 : 2;
    }
    if (argc - optind < 2) {
        fprintf(stderr, "Usage: k1s ctr exec [-t] ID [--] COMMAND [ARG...]\n");
        return 2;
    }
    const char *id = argv[optind++];
    if (optind < argc && !strcmp(argv[optind], "--"))
        optind++;
    if (common_open(&c, 0, 0) < 0) {
        common_close(&c);
        return 1;
    }
    exec_state_t s = {.c = &c, .master = -1};
    k1s_rt_exec_req_t req = {.args = argv + optind,
                             .tty = tty,
                             .stdin_fd = 0,
                             .stdout_fd = 1,
                             .stderr_fd = 2,
                             .timeout_ms = timeout_ms};
    k1s_err_t err = {0};
    int rc;
    if (k1s_rt_exec(c.rt, id, &req, exec_done, exec_console, &s, &err) < 0) {
        fprintf(stderr, "k1s ctr exec: %s\n", err.msg);
        rc = 126;
    } else {
        event_base_dispatch(c.base);
        if (s.master >= 0) {
            /* Output still in the pty after the process exited. */
            evutil_make_socket_nonblocking(s.master);
            char buf[8192];
            ssize_t n;
            while ((n = read(s.master, buf, sizeof(buf))) > 0)
                if (write(1, buf, (size_t)n) < 0)
                    break;
        }
        if (s.raw)
            tcsetattr(0, TCSANOW, &s.saved);
        if (s.rc < 0) {
            fprintf(stderr, "k1s ctr exec: %s\n", s.err.msg);
            rc = 126;
        } else
            rc = s.rc;
    }
    if (s.in_ev)
        event_free(s.in_ev);
    if (s.out_ev)
        event_free(s.out_ev);
    if (s.winch_ev)
        event_free(s.winch_ev);
    if (s.master >= 0)
        close(s.master);
    common_close(&c);
    return rc;
}

/* ---- kill, stop, rm ---- */

static int cmd_kill(int argc, char **argv)
{
    common_t c = {0};
    int sig = SIGTERM;
    bool all = false;
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"signal", required_argument, NULL, 's'},
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "s:ah", longopts, NULL)) != -1) {
        if (common_opt(&c, opt, optarg))
            continue;
        if (opt == 's' && (sig = parse_signal(optarg)) > 0)
            continue;
        if (opt == 'a') {
            all = true;
            continue;
        }
        fprintf(opt == 'h' ? stdout : stderr,
                "Usage: k1s ctr kill [--signal SIG] [--all] ID...\n\n"
                "Sends a signal (default TERM) to a container's init (--all: every process).\n");
        return opt == 'h' ? 0 : 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "Usage: k1s ctr kill [--signal SIG] [--all] ID...\n");
        return 2;
    }
    if (common_open(&c, 0, 0) < 0) {
        common_close(&c);
        return 1;
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        k1s_err_t err = {0};
        if (k1s_rt_kill(c.rt, argv[i], sig, all, &err) < 0) {
            fprintf(stderr, "k1s ctr kill: %s\n", err.msg);
            rc = 1;
        }
    }
    common_close(&c);
    return rc;
}

typedef struct stop_state {
    common_t *c;
    int pending;
} stop_state_t;

static void stop_done(void *arg, const char *id, int rc, const k1s_err_t *err)
{
    stop_state_t *s = arg;
    if (--s->pending == 0)
        event_base_loopbreak(s->c->base);
}

/* Stops the given containers concurrently; returns 0 or 1. */
static int stop_all(common_t *c, char **ids, int n, int grace_ms, const char *cmd)
{
    stop_state_t s = {.c = c, .pending = 1};
    int rc = 0;
    for (int i = 0; i < n; i++) {
        k1s_err_t err = {0};
        s.pending++;
        if (k1s_rt_stop(c->rt, ids[i], grace_ms, stop_done, &s, &err) < 0) {
            s.pending--;
            fprintf(stderr, "k1s ctr %s: %s\n", cmd, err.msg);
            rc = 1;
        }
    }
    if (--s.pending > 0)
        event_base_dispatch(c->base);
    return rc;
}

static int cmd_stop(int argc, char **argv)
{
    common_t c = {0};
    int grace_ms = 10000;
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
        if (common_opt(&c, opt, optarg))
            continue;
        if (opt == 't') {
            grace_ms = (int)(atof(optarg) * 1000);
            continue;
        }
        fprintf(opt == 'h' ? stdout : stderr,
                "Usage: k1s ctr stop [--timeout SECONDS] ID...\n\n"
                "Stops containers: SIGTERM, then SIGKILL after the timeout (default 10).\n");
        return opt == 'h' ? 0 : 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "Usage: k1s ctr stop [--timeout SECONDS] ID...\n");
        return 2;
    }
    if (common_open(&c, 0, 0) < 0) {
        common_close(&c);
        return 1;
    }
    int rc = stop_all(&c, argv + optind, argc - optind, grace_ms, "stop");
    common_close(&c);
    return rc;
}

static int cmd_rm(int argc, char **argv)
{
    common_t c = {0};
    bool force = false;
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        if (common_opt(&c, opt, optarg))
            continue;
        if (opt == 'f') {
            force = true;
            continue;
        }
        fprintf(opt == 'h' ? stdout : stderr,
                "Usage: k1s ctr rm [-f] ID...\n\n"
                "Removes exited containers (-f: kills running ones first).\n");
        return opt == 'h' ? 0 : 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "Usage: k1s ctr rm [-f] ID...\n");
        return 2;
    }
    if (common_open(&c, 0, 0) < 0) {
        common_close(&c);
        return 1;
    }
    int rc = 0;
    if (force)
        rc = stop_all(&c, argv + optind, argc - optind, 0, "rm");
    for (int i = optind; i < argc; i++) {
        k1s_err_t err = {0};
        if (k1s_rt_remove(c.rt, argv[i], &err) < 0) {
            fprintf(stderr, "k1s ctr rm: %s\n", err.msg);
            rc = 1;
        }
    }
    common_close(&c);
    return rc;
}

typedef struct wait_state {
    common_t *c;
    const char *id;
    bool done;
    int code;
} wait_state_t;

static void wait_exited(void *arg, const k1s_rt_status_t *st)
{
    wait_state_t *s = arg;
    if (!k1s_streq(st->id, s->id))
        return;
    s->done = true;
    s->code = st->exit_code;
    event_base_loopbreak(s->c->base);
}

/* Waits for a container started by another process: re-adopts its shim as a restarted agent
 * does. Returns the container's exit code, or -1 (message printed). */
static int wait_exit(common_t *c, const char *cmd, const char *id)
{
    wait_state_t s = {.c = c, .id = id};
    k1s_rt_status_t st = {0};
    k1s_err_t err = {0};
    int rc = -1;
    if (k1s_rt_status(c->rt, id, &st, &err) < 0) {
        fprintf(stderr, "k1s ctr %s: %s\n", cmd, err.msg);
    } else if (st.state == K1S_RT_EXITED) {
        rc = st.exit_code;
    } else {
        k1s_rt_on_exit(c->rt, wait_exited, &s);
        if (k1s_rt_adopt(c->rt, &err) < 0)
            fprintf(stderr, "k1s ctr %s: %s\n", cmd, err.msg);
        else {
            if (!s.done)
                event_base_dispatch(c->base);
            rc = s.done ? s.code : -1;
        }
    }
    k1s_rt_status_clear(&st);
    return rc;
}

static int cmd_wait(int argc, char **argv)
{
    common_t c = {0};
    int i = simple_opts(&c, argc, argv,
                        "Usage: k1s ctr wait ID\n\nWaits for a container to exit; exits with "
                        "its exit code.\n",
                        1);
    if (i < 0)
        return 2;
    int rc = common_open(&c, 0, 0) < 0 ? -1 : wait_exit(&c, "wait", argv[i]);
    common_close(&c);
    return rc < 0 ? 1 : rc;
}

/* Attaches this process's stdio to a running container until it exits. */
static int cmd_attach(int argc, char **argv)
{
    common_t c = {0};
    int i = simple_opts(&c, argc, argv,
                        "Usage: k1s ctr attach ID\n\nCopies the container's output to stdout "
                        "and stderr (and stdin to it, if started with --stdin) until it "
                        "exits; exits with its exit code.\n",
                        1);
    if (i < 0)
        return 2;
    int rc = -1;
    if (common_open(&c, 0, 0) == 0) {
        k1s_err_t err = {0};
        if (k1s_rt_attach(c.rt, argv[i], 0, 1, 2, &err) < 0)
            fprintf(stderr, "k1s ctr attach: %s\n", err.msg);
        else
            rc = wait_exit(&c, "attach", argv[i]);
    }
    common_close(&c);
    return rc < 0 ? 1 : rc;
}

int k1s_cmd_ctr_containers(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"run", cmd_run},   {"ps", cmd_ps},         {"inspect", cmd_inspect}, {"logs", cmd_logs},
        {"exec", cmd_exec}, {"kill", cmd_kill},     {"stop", cmd_stop},       {"rm", cmd_rm},
        {"wait", cmd_wait}, {"attach", cmd_attach}, {"stats", cmd_stats},
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(cmds); i++)
        if (!strcmp(argv[0], cmds[i].name))
            return cmds[i].fn(argc, argv);
    return 2;
}
