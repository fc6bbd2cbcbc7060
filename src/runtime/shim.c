/*
 * `k1s shim`: the per-container process (see shim.h for its state files and
 * protocol). It is started detached by the runtime library, becomes a child
 * subreaper so that the container's init (whose parent, `runc create`, exits)
 * is reparented to it, runs the OCI runtime, then sits in one epoll loop:
 * signalfd for children, the container's stdout/stderr pipes (or pty), the
 * control socket and its clients. Nothing polls; an idle container's shim
 * sleeps in epoll_wait.
 *
 * It avoids libevent and keeps its buffers static so that it stays small: it
 * runs once per container. For the same reason it gives back the clean file
 * pages that start-up, and later each request it serves, faulted in
 * (shim-trim.c).
 */
#include "runtime/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_CLIENTS 64

enum { K_SIGNAL = 1, K_OUT, K_ERR, K_LISTEN, K_CLIENT, K_CONSOLE_LISTEN, K_ATTACH_IN, K_TIMER };

typedef struct client {
    int fd;
    bool used;
    bool waiting;       /* wants the exit status */
    int exec_pid;       /* the exec'd process (or the runtime starting it), or 0 */
    bool exec_starting; /* exec_pid is `runtime exec --detach`, which reports the pid */
    int timer_fd;       /* exec timeout (timerfd), or -1 */
    bool timed_out;
    char *pid_path;
    int console_listen; /* for exec with tty: where the runtime sends the pty master */
    char *console_path;
    char *process_path;
    int attach_fds[3]; /* attach: stdin, stdout, stderr (-1 if none) */
    int kill_pid;      /* `runtime kill --all` child, or 0 */
    char buf[4096];
    size_t len;
} client_t;

typedef struct shim {
    const k1s_rt_shim_opts_t *o;
    int ep, sfd, listen_fd;
    int out_fd, err_fd; /* read ends (out_fd is the pty master with a terminal) */
    int stdin_w;        /* write end of the container's stdin, or -1 */
    bool terminal;
    int init_pid;
    bool exited;
    int wstatus;
    int64_t created_at, started_at, finished_at;
    char *cgroups_path;
    k1s_rt_crilog_t log;
    client_t clients[MAX_CLIENTS];
    int exec_seq;
    int state_dfd;     /* O_PATH descriptor of the state directory, for runtime_sock_path() */
    bool trim_pending; /* a request was served: give back what it faulted in, once idle */
} shim_t;

static char iobuf[16384];

static void ep_add(shim_t *s, int fd, int kind, int idx)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)kind << 32) | (uint32_t)idx};
    epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void ep_del(shim_t *s, int fd)
{
    epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
}

static char *state_path(shim_t *s, const char *name)
{
    return k1s_xasprintf("%s/%s", s->o->state_dir, name);
}

/* The path the runtime is to connect to for socket `name` of the state directory. A socket
 * address holds at most 107 bytes, and a data directory may be deeper than that leaves room
 * for; then the runtime is given the directory through this process's descriptor of it,
 * /proc/<pid>/fd/<n>/<name>, which is short whatever the directory. */
static const char *runtime_sock_path(shim_t *s, const char *name, char *buf, size_t size)
{
    struct sockaddr_un sa;
    if (strlen(s->o->state_dir) + 1 + strlen(name) < sizeof(sa.sun_path) || s->state_dfd < 0)
        snprintf(buf, size, "%s/%s", s->o->state_dir, name);
    else
        snprintf(buf, size, "/proc/%d/fd/%d/%s", (int)getpid(), s->state_dfd, name);
    return buf;
}

/* Writes status.json from what is known now. */
static json_t *status_json(shim_t *s, const char *state, const char *reason, const char *message)
{
    char t[40];
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(s->o->id));
    json_object_set_new(j, "state", json_string(state));
    json_object_set_new(j, "pid", json_integer(s->init_pid));
    json_object_set_new(j, "shimPid", json_integer(getpid()));
    k1s_rt_time_format(s->created_at, t);
    json_object_set_new(j, "createdAt", json_string(t));
    if (s->started_at) {
        k1s_rt_time_format(s->started_at, t);
        json_object_set_new(j, "startedAt", json_string(t));
    }
    if (s->finished_at) {
        k1s_rt_time_format(s->finished_at, t);
        json_object_set_new(j, "finishedAt", json_string(t));
        int code = 0, sig = 0;
        if (WIFEXITED(s->wstatus))
            code = WEXITSTATUS(s->wstatus);
        else if (WIFSIGNALED(s->wstatus)) {
            sig = WTERMSIG(s->wstatus);
            code = 128 + sig;
        }
        json_object_set_new(j, "exitCode", json_integer(code));
        json_object_set_new(j, "signal", json_integer(sig));
    }
    if (reason)
        json_object_set_new(j, "reason", json_string(reason));
    if (message)
        json_object_set_new(j, "message", json_string(message));
    return j;
}

static void write_status(shim_t *s, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    char *path = state_path(s, "status.json");
    int r = k1s_write_file_atomic(path, text, strlen(text), 0600);
    if (r < 0)
        k1s_error("shim %s: write %s: %s", s->o->id, path, strerror(-r));
    free(path);
    free(text);
}

static void send_json(int fd, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    size_t n = strlen(text);
    text = k1s_xrealloc(text, n + 2);
    text[n] = '\n';
    k1s_rt_sock_send(fd, text, n + 1, NULL, 0);
    free(text);
}

static void send_line(int fd, const char *fmt, ...) K1S_PRINTF(2, 3);
static void send_line(int fd, const char *fmt, ...)
{
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    k1s_rt_sock_send(fd, buf, (size_t)n, NULL, 0);
}

static void send_error(int fd, const char *msg)
{
    json_t *j = json_object();
    json_object_set_new(j, "error", json_string(msg));
    send_json(fd, j);
    json_decref(j);
}

/* The last error message the OCI runtime logged (--log-format json), or NULL. */
static char *runtime_error(shim_t *s)
{
    char *path = state_path(s, "runtime.log");
    char *text = NULL;
    size_t len;
    char *msg = NULL;
    if (k1s_read_file(path, &text, &len) == 0) {
        for (char *line = text, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = 0;
            json_t *j = json_loads(line, 0, NULL);
            if (j && k1s_streq(json_string_value(json_object_get(j, "level")), "error")) {
                free(msg);
                msg = k1s_xstrdup(json_string_value(json_object_get(j, "msg")));
            }
            json_decref(j);
        }
    }
    free(text);
    free(path);
    return msg;
}

/* Makes runc's "runc create failed: unable to start container process: exec: ..." read well. */
static const char *trim_runtime_prefix(const char *m)
{
    static const char *const prefixes[] = {
        "runc create failed: ", "runc run failed: ",  "unable to start container process: ",
        "runc start failed: ",  "runc exec failed: ", "exec failed: "};
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < K1S_ARRAY_SIZE(prefixes); i++)
            if (k1s_str_has_prefix(m, prefixes[i])) {
                m += strlen(prefixes[i]);
                again = true;
            }
    }
    return m;
}

/* argv for the runtime: runtime [--root R] --log L --log-format json <rest...>. */
static char **runtime_argv(shim_t *s, char **rest)
{
    size_t n = 0;
    while (rest[n])
        n++;
    char **argv = k1s_xcalloc(n + 8, sizeof(char *));
    size_t i = 0;
    argv[i++] = (char *)(s->o->runtime ? s->o->runtime : "runc");
    if (s->o->runtime_root) {
        argv[i++] = "--root";
        argv[i++] = (char *)s->o->runtime_root;
    }
    argv[i++] = "--log";
    argv[i++] = state_path(s, "runtime.log"); /* leaked on purpose: the child execs */
    argv[i++] = "--log-format";
    argv[i++] = "json";
    for (size_t k = 0; k < n; k++)
        argv[i++] = rest[k];
    return argv;
}

/* Forks the runtime with the given stdio (-1: /dev/null). Returns the pid or -errno. */
static int spawn(shim_t *s, char **rest, int in, int out, int err)
{
    char **argv = runtime_argv(s, rest);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        free(argv[s->o->runtime_root ? 4 : 2]);
        free(argv);
        return -e;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        int fds[3] = {in < 0 ? null : in, out < 0 ? null : out, err < 0 ? null : err};
        /* Move them out of the way first: dup2 onto 0-2 must not clobber a source. */
        for (int i = 0; i < 3; i++)
            fds[i] = fcntl(fds[i], F_DUPFD, 10);
        for (int i = 0; i < 3; i++)
            dup2(fds[i], i);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        /* Ignored signals stay ignored across exec: give the container default ones. */
        for (int sig = 1; sig < NSIG; sig++)
            signal(sig, SIG_DFL);
        close_range(3, ~0U, 0);
        const char *rt = argv[0];
        execvp(rt, argv);
        dprintf(2, "k1s shim: exec %s: %s\n", rt, strerror(errno));
        _exit(127);
    }
    free(argv[s->o->runtime_root ? 4 : 2]);
    free(argv);
    return pid;
}

static int wait_child(int pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return st;
}

static void runtime_delete(shim_t *s, bool force)
{
    char *rest[] = {"delete", force ? "--force" : (char *)s->o->id, force ? (char *)s->o->id : NULL,
                    NULL};
    int pid = spawn(s, rest, -1, -1, -1);
    if (pid > 0)
        wait_child(pid);
}

/* Reports a failed start: status.json, the ready pipe, then cleans up. */
static int fail_start(shim_t *s, const char *what, int wstatus)
{
    char *msg = runtime_error(s);
    char fallback[256];
    if (!msg) {
        if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127)
            snprintf(fallback, sizeof(fallback), "%s: cannot run the OCI runtime \"%s\"", what,
                     s->o->runtime ? s->o->runtime : "runc");
        else
            snprintf(fallback, sizeof(fallback), "%s failed (status %d)", what, wstatus);
        msg = k1s_xstrdup(fallback);
    }
    const char *m = trim_runtime_prefix(msg);
    s->finished_at = k1s_rt_time_now();
    s->wstatus = 128 << 8; /* exit code 128, as containerd reports a start failure */
    json_t *j = status_json(s, "exited", "StartError", m);
    write_status(s, j);
    json_decref(j);
    if (s->o->ready_fd >= 0) {
        dprintf(s->o->ready_fd, "error %s\n", m);
        close(s->o->ready_fd);
    }
    free(msg);
    runtime_delete(s, true);
    return 1;
}

/* Reads the exit-relevant OOM counter of the container's memory cgroup. */
static long oom_kills(shim_t *s)
{
    if (!s->cgroups_path)
        return 0;
    const char *cg = s->cgroups_path;
    char *paths[2] = {k1s_xasprintf("/sys/fs/cgroup/memory%s/memory.oom_control", cg),
                      k1s_xasprintf("/sys/fs/cgroup%s/memory.events", cg)};
    long n = 0;
    for (int i = 0; i < 2; i++) {
        char *text = NULL;
        size_t len;
        if (k1s_read_file(paths[i], &text, &len) == 0) {
            char *p = strstr(text, "oom_kill ");
            if (p)
                n = atol(p + 9);
            /* v1 without the oom_kill counter (old kernels): under_oom means it happened. */
            if (!p && (p = strstr(text, "under_oom ")))
                n = atol(p + 10);
        }
        free(text);
        free(paths[i]);
        paths[i] = NULL;
        if (n)
            break;
    }
    return n;
}

static void client_close(shim_t *s, int i)
{
    client_t *c = &s->clients[i];
    if (c->fd >= 0) {
        ep_del(s, c->fd);
        close(c->fd);
    }
    if (c->console_listen >= 0) {
        ep_del(s, c->console_listen);
        close(c->console_listen);
    }
    if (c->timer_fd > 0) {
        ep_del(s, c->timer_fd);
        close(c->timer_fd);
    }
    if (c->console_path) {
        unlink(c->console_path);
        free(c->console_path);
    }
    if (c->process_path) {
        unlink(c->process_path);
        free(c->process_path);
    }
    if (c->pid_path) {
        unlink(c->pid_path);
        free(c->pid_path);
    }
    for (int k = 0; k < 3; k++)
        if (c->attach_fds[k] >= 0) {
            if (k == 0)
                ep_del(s, c->attach_fds[k]);
            close(c->attach_fds[k]);
        }
    c->used = false;
    s->trim_pending = true;
    c->fd = c->console_listen = c->timer_fd = -1;
    c->attach_fds[0] = c->attach_fds[1] = c->attach_fds[2] = -1;
    c->console_path = c->process_path = c->pid_path = NULL;
}

/* Copies container output to attached clients; drops a client that cannot keep up. */
static void fan_out(shim_t *s, int stream, const char *data, size_t len)
{
    for (int i = 0; i < MAX_CLIENTS; i++) {
        client_t *c = &s->clients[i];
        int fd = c->used ? c->attach_fds[1 + stream] : -1;
        if (fd < 0 && c->used && stream == 1)
            fd = c->attach_fds[1]; /* no stderr given: both streams to stdout */
        if (fd < 0)
            continue;
        size_t off = 0;
        while (off < len) {
            ssize_t n = write(fd, data + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                client_close(s, i);
                break;
            }
            off += (size_t)n;
        }
    }
}

static void read_output(shim_t *s, int stream)
{
    int *fdp = stream ? &s->err_fd : &s->out_fd;
    ssize_t n = read(*fdp, iobuf, sizeof(iobuf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) { /* EOF (EIO on a pty whose other side closed) */
        k1s_rt_crilog_flush(&s->log, stream);
        ep_del(s, *fdp);
        close(*fdp);
        *fdp = -1;
        return;
    }
    k1s_rt_crilog_write(&s->log, stream, iobuf, (size_t)n);
    fan_out(s, stream, iobuf, (size_t)n);
}

/* The exec process spec: the container's process with new args (what CRI's exec does). */
static json_t *exec_process(shim_t *s, json_t *req, bool tty, k1s_err_t *err)
{
    char *path = k1s_xasprintf("%s/config.json", s->o->bundle);
    json_error_t je;
    json_t *spec = json_load_file(path, 0, &je);
    free(path);
    if (!spec) {
        k1s_err_set(err, EIO, "read bundle config: %s", je.text);
        return NULL;
    }
    json_t *p = json_incref(json_object_get(spec, "process"));
    json_decref(spec);
    json_t *args = json_object_get(req, "args");
    if (!json_is_array(args) || !json_array_size(args)) {
        json_decref(p);
        k1s_err_set(err, EINVAL, "exec: no command");
        return NULL;
    }
    json_object_set(p, "args", args);
    json_object_set_new(p, "terminal", json_boolean(tty));
    json_object_del(p, "oomScoreAdj");
    json_t *env = json_object_get(req, "env");
    if (json_is_array(env))
        json_array_extend(json_object_get(p, "env"), env);
    const char *cwd = json_string_value(json_object_get(req, "cwd"));
    if (cwd && *cwd)
        json_object_set_new(p, "cwd", json_string(cwd));
    return p;
}

static int listen_unix(const char *dir, const char *name)
{
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, name);
    unlink(sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int r = fd < 0 ? -errno : 0;
    if (!r && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        r = -errno;
    if (!r && listen(fd, 16) < 0)
        r = -errno;
    close(dfd);
    if (r < 0) {
        if (fd >= 0)
            close(fd);
        return r;
    }
    return fd;
}

static void do_exec(shim_t *s, int i, json_t *req, int *fds, int n_fds)
{
    client_t *c = &s->clients[i];
    if (s->exited) {
        send_error(c->fd, "container is not running");
        return;
    }
    bool tty = json_is_true(json_object_get(req, "tty"));
    const char *which = json_string_value(json_object_get(req, "fds"));
    int std[3] = {-1, -1, -1};
    for (int k = 0; which && which[k] && k < n_fds; k++) {
        const char *at = strchr("ioe", which[k]);
        if (at)
            std[at - "ioe"] = fds[k];
    }
    k1s_err_t err = {0};
    json_t *p = exec_process(s, req, tty, &err);
    if (!p) {
        send_error(c->fd, err.msg);
        return;
    }
    char name[64];
    snprintf(name, sizeof(name), "exec-%d.json", ++s->exec_seq);
    c->process_path = state_path(s, name);
    if (json_dump_file(p, c->process_path, JSON_COMPACT) < 0) {
        json_decref(p);
        send_error(c->fd, "exec: cannot write the process spec");
        return;
    }
    json_decref(p);
    snprintf(name, sizeof(name), "exec-%d.pid", s->exec_seq);
    c->pid_path = state_path(s, name);
    /* Detached, as containerd does: the runtime reports start errors and exits, and the
     * process becomes our child (we are the subreaper), so we reap it ourselves. */
    char *rest[12] = {"exec", "--detach", "--pid-file", c->pid_path, "--process", c->process_path};
    char console_arg[4096];
    int k = 6;
    if (tty) {
        snprintf(name, sizeof(name), "console-%d.sock", s->exec_seq);
        c->console_listen = listen_unix(s->o->state_dir, name);
        if (c->console_listen < 0) {
            c->console_listen = -1;
            send_error(c->fd, "exec: cannot create the console socket");
            return;
        }
        c->console_path = state_path(s, name);
        ep_add(s, c->console_listen, K_CONSOLE_LISTEN, i);
        rest[k++] = "--tty";
        rest[k++] = "--console-socket";
        rest[k++] = (char *)runtime_sock_path(s, name, console_arg, sizeof(console_arg));
    }
    rest[k++] = (char *)s->o->id;
    rest[k] = NULL;
    int pid = spawn(s, rest, tty ? -1 : std[0], tty ? -1 : std[1], tty ? -1 : std[2]);
    if (pid < 0) {
        send_error(c->fd, "exec: fork failed");
        return;
    }
    c->exec_pid = pid;
    c->exec_starting = true;
    /* A timeout (exec probes, ExecSync): the process is killed when it passes. */
    int64_t timeout_ms = json_integer_value(json_object_get(req, "timeoutMs"));
    if (timeout_ms > 0) {
        c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        struct itimerspec its = {.it_value = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000}};
        if (c->timer_fd >= 0 && timerfd_settime(c->timer_fd, 0, &its, NULL) == 0)
            ep_add(s, c->timer_fd, K_TIMER, i);
    }
}

static void exec_timeout(shim_t *s, int i)
{
    client_t *c = &s->clients[i];
    ep_del(s, c->timer_fd);
    close(c->timer_fd);
    c->timer_fd = -1;
    c->timed_out = true;
    if (c->exec_pid > 0)
        kill(c->exec_pid, SIGKILL); /* the runtime while it starts it, else the process */
}

static void do_kill(shim_t *s, int i, json_t *req)
{
    client_t *c = &s->clients[i];
    int sig = (int)json_integer_value(json_object_get(req, "signal"));
    if (sig <= 0 || sig >= 65)
        sig = SIGTERM;
    if (s->exited) {
        send_line(c->fd, "{\"ok\":true}");
        return;
    }
    if (!json_is_true(json_object_get(req, "all"))) {
        /* The init is our child (we are its subreaper): its pid cannot be reused before we
         * reap it, so signalling it directly is safe. */
        if (kill(s->init_pid, sig) < 0) {
            send_error(c->fd, strerror(errno));
            return;
        }
        send_line(c->fd, "{\"ok\":true}");
        return;
    }
    char signame[16];
    snprintf(signame, sizeof(signame), "%d", sig);
    char *rest[] = {"kill", "--all", (char *)s->o->id, signame, NULL};
    int pid = spawn(s, rest, -1, -1, -1);
    if (pid < 0) {
        kill(s->init_pid, sig);
        send_line(c->fd, "{\"ok\":true}");
        return;
    }
    c->kill_pid = pid;
}

static void handle_request(shim_t *s, int i, int *fds, int n_fds)
{
    client_t *c = &s->clients[i];
    char *nl = memchr(c->buf, '\n', c->len);
    *nl = 0;
    json_t *req = json_loads(c->buf, 0, NULL);
    const char *op = json_string_value(json_object_get(req, "op"));
    k1s_debug("shim %s: request %s", s->o->id, op ? op : "(none)");
    int used_fds = 0;
    if (!op) {
        send_error(c->fd, "bad request");
    } else if (!strcmp(op, "state")) {
        json_t *j = status_json(s, s->exited ? "exited" : "running", NULL, NULL);
        send_json(c->fd, j);
        json_decref(j);
    } else if (!strcmp(op, "wait")) {
        c->waiting = true;
    } else if (!strcmp(op, "kill")) {
        do_kill(s, i, req);
    } else if (!strcmp(op, "exec")) {
        do_exec(s, i, req, fds, n_fds);
    } else if (!strcmp(op, "attach")) {
        const char *which = json_string_value(json_object_get(req, "fds"));
        for (int k = 0; which && which[k] && k < n_fds; k++) {
            const char *at = strchr("ioe", which[k]);
            if (at && c->attach_fds[at - "ioe"] < 0) {
                c->attach_fds[at - "ioe"] = fds[k];
                fds[k] = -1;
            }
        }
        for (int k = 1; k < 3; k++)
            if (c->attach_fds[k] >= 0)
                fcntl(c->attach_fds[k], F_SETFL, fcntl(c->attach_fds[k], F_GETFL) | O_NONBLOCK);
        if (c->attach_fds[0] >= 0) {
            if (s->stdin_w >= 0)
                ep_add(s, c->attach_fds[0], K_ATTACH_IN, i);
            else {
                close(c->attach_fds[0]);
                c->attach_fds[0] = -1;
            }
        }
        c->waiting = true;
        send_line(c->fd, "{\"ok\":true}");
    } else if (!strcmp(op, "close-stdin")) {
        if (s->stdin_w >= 0)
            close(s->stdin_w);
        s->stdin_w = -1;
        send_line(c->fd, "{\"ok\":true}");
    } else if (!strcmp(op, "resize")) {
        struct winsize ws = {
            .ws_col = (unsigned short)json_integer_value(json_object_get(req, "width")),
            .ws_row = (unsigned short)json_integer_value(json_object_get(req, "height"))};
        if (s->terminal && s->out_fd >= 0)
            ioctl(s->out_fd, TIOCSWINSZ, &ws);
        send_line(c->fd, "{\"ok\":true}");
    } else {
        send_error(c->fd, "unknown op");
    }
    (void)used_fds;
    /* exec's fds were dup2'ed by the child; attach took what it keeps. */
    for (int k = 0; k < n_fds; k++)
        if (fds[k] >= 0)
            close(fds[k]);
    json_decref(req);
    c->len = 0;
    s->trim_pending = true;
    /* Waiters hear from finish(), once status.json holds the exit. */
}

static void read_client(shim_t *s, int i)
{
    client_t *c = &s->clients[i];
    int fds[4], n_fds = 0;
    ssize_t n =
        k1s_rt_sock_recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, fds, 4, &n_fds);
    if (n <= 0) {
        for (int k = 0; k < n_fds; k++)
            close(fds[k]);
        /* A client that goes away leaves its exec running (as a dropped stream does), and
         * an attach copying until the container exits or a write fails. */
        if (c->exec_pid || c->attach_fds[0] >= 0 || c->attach_fds[1] >= 0 ||
            c->attach_fds[2] >= 0) {
            ep_del(s, c->fd);
            close(c->fd);
            c->fd = -1;
            return;
        }
        client_close(s, i);
        return;
    }
    c->len += (size_t)n;
    if (memchr(c->buf, '\n', c->len))
        handle_request(s, i, fds, n_fds);
    else if (c->len >= sizeof(c->buf) - 1) {
        for (int k = 0; k < n_fds; k++)
            close(fds[k]);
        client_close(s, i);
    } else
        for (int k = 0; k < n_fds; k++)
            close(fds[k]);
}

static void accept_client(shim_t *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (!s->clients[i].used) {
            client_t *c = &s->clients[i];
            memset(c, 0, sizeof(*c));
            c->used = true;
            c->fd = fd;
            c->console_listen = c->timer_fd = -1;
            c->attach_fds[0] = c->attach_fds[1] = c->attach_fds[2] = -1;
            ep_add(s, fd, K_CLIENT, i);
            return;
        }
    close(fd);
}

/* The runtime connected to an exec's console socket: pass the pty master on to the client. */
static void console_ready(shim_t *s, int i)
{
    client_t *c = &s->clients[i];
    int conn = accept4(c->console_listen, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return;
    char b[256];
    int fds[4], n_fds = 0;
    ssize_t n = k1s_rt_sock_recv(conn, b, sizeof(b), fds, 4, &n_fds);
    close(conn);
    if (n >= 0 && n_fds > 0 && c->fd >= 0)
        k1s_rt_sock_send(c->fd, "{\"console\":true}\n", 17, fds, 1);
    for (int k = 0; k < n_fds; k++)
        close(fds[k]);
    ep_del(s, c->console_listen);
    close(c->console_listen);
    c->console_listen = -1;
}

static void attach_input(shim_t *s, int i)
{
    client_t *c = &s->clients[i];
    ssize_t n = read(c->attach_fds[0], iobuf, sizeof(iobuf));
    if (n <= 0 || s->stdin_w < 0 || write(s->stdin_w, iobuf, (size_t)n) != n) {
        ep_del(s, c->attach_fds[0]);
        close(c->attach_fds[0]);
        c->attach_fds[0] = -1;
    }
}

static struct {
    int pid, status;
} orphans[32];
static unsigned n_orphans;

static void exec_exited(shim_t *s, int i, int st)
{
    client_t *c = &s->clients[i];
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (c->fd >= 0 && c->timed_out)
        send_line(c->fd, "{\"exitCode\":%d,\"timedOut\":true}", code);
    else if (c->fd >= 0)
        send_line(c->fd, "{\"exitCode\":%d}", code);
    client_close(s, i);
}

/* `runtime exec --detach` finished: on success its pid file names the process to wait for. */
static void exec_started(shim_t *s, int i, int st)
{
    client_t *c = &s->clients[i];
    c->exec_starting = false;
    char *text = NULL;
    size_t len;
    int pid = 0;
    if (st == 0 && k1s_read_file(c->pid_path, &text, &len) == 0)
        pid = atoi(text);
    free(text);
    if (pid <= 0) {
        char *msg = runtime_error(s);
        if (c->fd >= 0)
            send_error(c->fd, msg ? trim_runtime_prefix(msg) : "exec failed");
        free(msg);
        client_close(s, i);
        return;
    }
    c->exec_pid = pid;
    if (c->timed_out)
        kill(pid, SIGKILL);
    for (size_t k = 0; k < K1S_ARRAY_SIZE(orphans); k++)
        if (orphans[k].pid == pid) {
            orphans[k].pid = 0;
            exec_exited(s, i, orphans[k].status);
            return;
        }
}

static void reap(shim_t *s)
{
    struct signalfd_siginfo si;
    while (read(s->sfd, &si, sizeof(si)) == sizeof(si)) {
    }
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0)
            break;
        if (pid == s->init_pid) {
            s->exited = true;
            s->wstatus = st;
            s->finished_at = k1s_rt_time_now();
            continue;
        }
        bool known = false;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            client_t *c = &s->clients[i];
            if (c->used && c->exec_pid == pid) {
                known = true;
                if (c->exec_starting)
                    exec_started(s, i, st);
                else
                    exec_exited(s, i, st);
            } else if (c->used && c->kill_pid == pid) {
                known = true;
                c->kill_pid = 0;
                send_line(c->fd, "{\"ok\":true}");
            }
        }
        if (!known) {
            /* Perhaps an exec'd process that exited before its runtime told us its pid. */
            orphans[n_orphans % K1S_ARRAY_SIZE(orphans)].pid = pid;
            orphans[n_orphans % K1S_ARRAY_SIZE(orphans)].status = st;
            n_orphans++;
        }
    }
}

static void finish(shim_t *s)
{
    const char *reason = "Error";
    if (WIFEXITED(s->wstatus) && WEXITSTATUS(s->wstatus) == 0)
        reason = "Completed";
    if (oom_kills(s) > 0)
        reason = "OOMKilled";
    json_t *j = status_json(s, "exited", reason, NULL);
    write_status(s, j);
    k1s_debug("shim %s: container exited (%s)", s->o->id, reason);
    /* Delete before telling anyone: a waiter may remove the container and reuse its ID. */
    runtime_delete(s, false);
    /* Stop taking requests, then tell whoever waits. */
    ep_del(s, s->listen_fd);
    close(s->listen_fd);
    char *sock = state_path(s, "shim.sock");
    unlink(sock);
    free(sock);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        client_t *c = &s->clients[i];
        if (!c->used)
            continue;
        if (c->waiting && c->fd >= 0)
            send_json(c->fd, j);
        else if (c->fd >= 0 && !c->exec_pid)
            send_error(c->fd, "container exited");
        client_close(s, i);
    }
    json_decref(j);
    k1s_rt_crilog_close(&s->log);
}

static int read_config(shim_t *s)
{
    char *path = k1s_xasprintf("%s/config.json", s->o->bundle);
    json_error_t je;
    json_t *spec = json_load_file(path, 0, &je);
    free(path);
    if (!spec)
        return -1;
    s->terminal = json_is_true(json_object_get(json_object_get(spec, "process"), "terminal"));
    const char *cg =
        json_string_value(json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
    if (cg && cg[0] == '/')
        s->cgroups_path = k1s_xstrdup(cg);
    json_decref(spec);
    return 0;
}

int k1s_rt_shim_main(const k1s_rt_shim_opts_t *o)
{
    static shim_t shim;
    shim_t *s = &shim;
    s->o = o;
    s->out_fd = s->err_fd = s->stdin_w = s->listen_fd = -1;
    s->state_dfd = open(o->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    /* clients[] stays untouched (zero pages cost nothing) until a client comes. */
    s->created_at = k1s_rt_time_now();
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (read_config(s) < 0)
        return fail_start(s, "read bundle config.json", 0);
    int r = k1s_rt_crilog_open(&s->log, o->log_path, o->log_max_size, o->log_max_files);
    if (r < 0) {
        char m[512];
        snprintf(m, sizeof(m), "open log %s: %s", o->log_path, strerror(-r));
        if (o->ready_fd >= 0)
            dprintf(o->ready_fd, "error %s\n", m);
        return 1;
    }
    s->listen_fd = listen_unix(o->state_dir, "shim.sock");
    if (s->listen_fd < 0) {
        if (o->ready_fd >= 0)
            dprintf(o->ready_fd, "error listen on %s/shim.sock: %s\n", o->state_dir,
                    strerror(-s->listen_fd));
        return 1;
    }
    json_t *j = status_json(s, "created", NULL, NULL);
    write_status(s, j);
    json_decref(j);

    int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
    int console_listen = -1;
    char pidfile[4096], console_buf[4096];
    const char *console = NULL;
    snprintf(pidfile, sizeof(pidfile), "%s/init.pid", o->state_dir);
    if (s->terminal) {
        console_listen = listen_unix(o->state_dir, "console.sock");
        console = runtime_sock_path(s, "console.sock", console_buf, sizeof(console_buf));
    } else {
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
            return fail_start(s, "create stdio pipes", 0);
    }
    if (o->stdin_open && !s->terminal && pipe2(in, O_CLOEXEC) < 0)
        return fail_start(s, "create stdin pipe", 0);
    char *create[] = {"create",     "--bundle", (char *)o->bundle,
                      "--pid-file", pidfile,    (char *)o->id,
                      NULL,         NULL,       NULL};
    if (console) {
        create[5] = "--console-socket";
        create[6] = (char *)console;
        create[7] = (char *)o->id;
    }
    int pid = spawn(s, create, in[0], out[1], err[1]);
    int st = pid > 0 ? wait_child(pid) : -1;
    if (out[1] >= 0)
        close(out[1]);
    if (err[1] >= 0)
        close(err[1]);
    if (in[0] >= 0)
        close(in[0]);
    s->stdin_w = in[1];
    s->out_fd = out[0];
    s->err_fd = err[0];
    if (st != 0)
        return fail_start(s, "create container", st);
    if (console_listen >= 0) {
        /* The runtime sent the pty master before `create` returned. */
        int conn = accept4(console_listen, NULL, NULL, SOCK_CLOEXEC);
        int fds[4], n_fds = 0;
        char b[256];
        if (conn >= 0) {
            fcntl(conn, F_SETFL, 0);
            k1s_rt_sock_recv(conn, b, sizeof(b), fds, 4, &n_fds);
            close(conn);
        }
        close(console_listen);
        unlink(console);
        if (n_fds < 1)
            return fail_start(s, "receive the container's terminal", 0);
        s->out_fd = fds[0];
        s->stdin_w = dup(fds[0]);
    }
    char *pidtext = NULL;
    size_t plen;
    if (k1s_read_file(pidfile, &pidtext, &plen) == 0)
        s->init_pid = atoi(pidtext);
    free(pidtext);
    char *start[] = {"start", (char *)o->id, NULL};
    pid = spawn(s, start, -1, -1, -1);
    st = pid > 0 ? wait_child(pid) : -1;
    if (st != 0)
        return fail_start(s, "start container", st);
    s->started_at = k1s_rt_time_now();
    j = status_json(s, "running", NULL, NULL);
    write_status(s, j);
    json_decref(j);
    if (o->ready_fd >= 0) {
        dprintf(o->ready_fd, "ok %d\n", s->init_pid);
        close(o->ready_fd);
    }
    /* The loop below needs little of what loading and starting touched: give it back
     * (last thing before the loop, so that nothing faults it in again needlessly). */
    k1s_debug("shim %s: running, releasing start-up pages and unused libraries", o->id);
    k1s_rt_shim_unmap_libraries();
    k1s_rt_shim_trim();

    ep_add(s, s->sfd, K_SIGNAL, 0);
    ep_add(s, s->listen_fd, K_LISTEN, 0);
    if (s->out_fd >= 0)
        ep_add(s, s->out_fd, K_OUT, 0);
    if (s->err_fd >= 0)
        ep_add(s, s->err_fd, K_ERR, 0);
    bool draining = false;
    int64_t drain_deadline = 0;
    for (;;) {
        struct epoll_event evs[16];
        int timeout = -1;
        if (draining) {
            int64_t left = (drain_deadline - (int64_t)k1s_now_ns()) / 1000000;
            timeout = left > 0 ? (int)left : 0;
        }
        int n = epoll_wait(s->ep, evs, 16, timeout);
        if (n < 0 && errno != EINTR)
            break;
        for (int k = 0; k < n; k++) {
            int kind = (int)(evs[k].data.u64 >> 32);
            int idx = (int)(uint32_t)evs[k].data.u64;
            switch (kind) {
            case K_SIGNAL: reap(s); break;
            case K_OUT: read_output(s, 0); break;
            case K_ERR: read_output(s, 1); break;
            case K_LISTEN: accept_client(s); break;
            case K_CLIENT:
                if (s->clients[idx].used && s->clients[idx].fd >= 0)
                    read_client(s, idx);
                break;
            case K_CONSOLE_LISTEN:
                if (s->clients[idx].used && s->clients[idx].console_listen >= 0)
                    console_ready(s, idx);
                break;
            case K_TIMER:
                if (s->clients[idx].used && s->clients[idx].timer_fd >= 0)
                    exec_timeout(s, idx);
                break;
            case K_ATTACH_IN:
                if (s->clients[idx].used && s->clients[idx].attach_fds[0] >= 0)
                    attach_input(s, idx);
                break;
            }
        }
        if (s->trim_pending && !s->exited) {
            /* A request faults in JSON code (the agent's "wait" on every container), an exec
             * (a probe, every few seconds for some pods) also fork and runtime code, ~1.5 MB:
             * give it back once no request is in flight. */
            bool busy = false;
            for (int i = 0; i < MAX_CLIENTS && !busy; i++)
                busy = s->clients[i].used && (s->clients[i].exec_pid || s->clients[i].kill_pid);
            if (!busy) {
                k1s_rt_shim_trim();
                s->trim_pending = false;
            }
        }
        if (s->exited && !draining) {
            /* Collect what is still in the pipes; processes that escaped the container's
             * pid namespace (host PID) may hold them open, so do not wait forever. */
            draining = true;
            drain_deadline = (int64_t)k1s_now_ns() + 2000000000LL;
        }
        if (draining &&
            ((s->out_fd < 0 && s->err_fd < 0) || (int64_t)k1s_now_ns() >= drain_deadline)) {
            if (s->out_fd >= 0) {
                k1s_rt_crilog_flush(&s->log, 0);
                close(s->out_fd);
            }
            if (s->err_fd >= 0) {
                k1s_rt_crilog_flush(&s->log, 1);
                close(s->err_fd);
            }
            break;
        }
    }
    finish(s);
    return 0;
}
