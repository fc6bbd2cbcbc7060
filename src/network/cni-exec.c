/*
 * CNI driver, the running half: an operation (ADD, DEL, CHECK) is a list of
 * steps, one plugin run each, over the pod's two networks (loopback, then
 * the node's network). Each plugin is a child process started with
 * posix_spawn; its exit is watched through a pidfd and its stdin, stdout and
 * stderr through non-blocking fds, all as events on the caller's libevent
 * loop, so nothing blocks and no SIGCHLD handler is needed. stdin is a
 * socket pair written with MSG_NOSIGNAL, so a plugin that exits without
 * reading cannot SIGPIPE the agent.
 *
 * Before a network's first ADD plugin runs, the attachment is recorded in
 * the cache (config, netns, port mappings, pod) so that a DEL after a crash
 * knows what to undo; after its last plugin, the result is added. A
 * successful DEL removes the cache file.
 */
#include "network/cni-int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/buf.h"
#include "lib/log.h"

extern char **environ;

#define MAX_STEPS (CNI_PLUGINS_MAX + 1)
#define N_NETS 2 /* 0: loopback, 1: the node's network */

typedef struct op_net {
    json_t *conf; /* the conflist this attachment uses (the cached one for DEL) */
    const char *ifname;
    char *cache_path;
    json_t *cache; /* the cache entry, NULL if none */
    json_t *prev;  /* prevResult for the next plugin */
    bool del_failed;
} op_net_t;

struct k1s_cni_op {
    k1s_cni_t *cni;
    struct event_base *base;
    k1s_cni_cmd_t cmd;     /* what was asked */
    k1s_cni_cmd_t cur_cmd; /* what the current steps do: DEL while rolling back an ADD */
    bool rolling_back;
    char *id, *netns, *pod_ns, *pod_name, *uid, *cni_args, *label;
    json_t *ports;
    op_net_t nets[N_NETS];
    struct {
        int net, plugin;
    } steps[MAX_STEPS];
    int n_steps, step;

    /* the running plugin */
    pid_t pid;
    int pidfd, in_fd, out_fd, err_fd;
    struct event *ev_pid, *ev_in, *ev_out, *ev_err;
    char *in_data;
    size_t in_len, in_off;
    k1s_buf_t out, errout;
    bool exited, overflow, timed_out, status_lost;
    int status; /* exit code, or -signal */
    const char *plugin_type;

    struct event *ev_next, *ev_timer;
    bool failed;
    k1s_err_t err, add_err;
    k1s_cni_cb cb;
    void *ud;
};

static void advance(k1s_cni_op_t *op);
static void step_done(k1s_cni_op_t *op);

/* ---- setup and teardown ---- */

static void child_close(k1s_cni_op_t *op)
{
    struct event **evs[] = {&op->ev_pid, &op->ev_in, &op->ev_out, &op->ev_err};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(evs); i++)
        if (*evs[i]) {
            event_free(*evs[i]);
            *evs[i] = NULL;
        }
    int *fds[] = {&op->pidfd, &op->in_fd, &op->out_fd, &op->err_fd};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(fds); i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    free(op->in_data);
    op->in_data = NULL;
    k1s_buf_free(&op->out);
    k1s_buf_free(&op->errout);
    op->pid = 0;
}

static void op_free(k1s_cni_op_t *op)
{
    child_close(op);
    if (op->ev_next)
        event_free(op->ev_next);
    if (op->ev_timer)
        event_free(op->ev_timer);
    for (int i = 0; i < N_NETS; i++) {
        json_decref(op->nets[i].conf);
        json_decref(op->nets[i].cache);
        json_decref(op->nets[i].prev);
        free(op->nets[i].cache_path);
    }
    json_decref(op->ports);
    free(op->id);
    free(op->netns);
    free(op->pod_ns);
    free(op->pod_name);
    free(op->uid);
    free(op->cni_args);
    free(op->label);
    free(op);
}

static char *opt_dup(const char *s)
{
    return s && *s ? k1s_xstrdup(s) : NULL;
}

static void finish(k1s_cni_op_t *op)
{
    k1s_cni_result_t *result = NULL;
    if (!op->failed && op->cmd == K1S_CNI_ADD) {
        json_t *prev = op->nets[N_NETS - 1].prev;
        char *s = prev ? json_dumps(prev, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        k1s_err_t e = {0};
        if (!s || k1s_cni_result_parse(s, strlen(s), &result, &e) < 0) {
            op->failed = true;
            k1s_err_set(&op->err, EINVAL, "CNI ADD for %s: %s", op->label,
                        s ? e.msg : "the network gave no result");
        }
        free(s);
    }
    k1s_debug("cni: %s for %s %s", k1s_cni_cmd_name(op->cmd), op->label,
              op->failed ? op->err.msg : "done");
    /* Freed first, so the callback may free the loop or the driver. */
    k1s_cni_cb cb = op->cb;
    void *ud = op->ud;
    bool failed = op->failed;
    k1s_err_t err = op->err;
    op_free(op);
    cb(result, failed ? &err : NULL, ud);
}

static void on_next(evutil_socket_t fd, short what, void *arg)
{
    advance(arg);
}

/* Steps in order: ADD and CHECK go forward over the networks and plugins, DEL
 * backwards over the networks up to last_net. */
static void plan(k1s_cni_op_t *op, k1s_cni_cmd_t cmd, int last_net)
{
    op->cur_cmd = cmd;
    op->n_steps = 0;
    op->step = 0;
    for (int k = 0; k <= last_net; k++) {
        int n = cmd == K1S_CNI_DEL ? last_net - k : k;
        const json_t *plugins = json_object_get(op->nets[n].conf, "plugins");
        int np = (int)json_array_size(plugins);
        for (int j = 0; j < np && op->n_steps < MAX_STEPS; j++) {
            int idx = cmd == K1S_CNI_DEL ? np - 1 - j : j;
            /* portmap without port mappings hands prevResult on (ADD, CHECK) or does
             * nothing (DEL): not running it saves a process per pod */
            const char *type =
                json_string_value(json_object_get(json_array_get(plugins, idx), "type"));
            if (type && !strcmp(type, "portmap") && !json_array_size(op->ports))
                continue;
            op->steps[op->n_steps].net = n;
            op->steps[op->n_steps].plugin = idx;
            op->n_steps++;
        }
    }
}

/* Whether the current step is its network's first or last (plan() may skip plugins). */
static bool first_of_net(const k1s_cni_op_t *op)
{
    return op->step == 0 || op->steps[op->step - 1].net != op->steps[op->step].net;
}

static bool last_of_net(const k1s_cni_op_t *op)
{
    return op->step + 1 >= op->n_steps || op->steps[op->step + 1].net != op->steps[op->step].net;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    k1s_cni_op_t *op = arg;
    op->timed_out = true;
    if (op->pid > 0) {
        kill(op->pid, SIGKILL);
        if (op->exited)
            step_done(op);
    }
}

/* Ends the operation with an error; an ADD first undoes what it did. */
static void fail(k1s_cni_op_t *op, int code, const char *fmt, ...) K1S_PRINTF(3, 4);
static void fail(k1s_cni_op_t *op, int code, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (op->rolling_back) {
        /* Keep going: every plugin gets its DEL; the cache stays for a later DEL. */
        k1s_debug("cni: rollback of ADD for %s: %s", op->label, msg);
        op->nets[op->steps[op->step].net].del_failed = true;
        op->step++;
        event_active(op->ev_next, 0, 0);
        return;
    }
    op->failed = true;
    k1s_err_set(&op->err, code, "%s", msg);
    if (op->cur_cmd == K1S_CNI_ADD) {
        op->rolling_back = true;
        op->add_err = op->err;
        int net = op->step < op->n_steps ? op->steps[op->step].net : N_NETS - 1;
        plan(op, K1S_CNI_DEL, net);
        op->timed_out = false;
        struct timeval tv = {op->cni->timeout_ms / 1000, (op->cni->timeout_ms % 1000) * 1000};
        event_add(op->ev_timer, &tv);
        event_active(op->ev_next, 0, 0);
        return;
    }
    finish(op);
}

/* ---- running one plugin ---- */

static char *find_plugin(const k1s_cni_t *cni, const char *type)
{
    const char *p = cni->bin_dirs;
    while (*p) {
        size_t n = strcspn(p, ":");
        if (n) {
            char *path = k1s_xasprintf("%.*s/%s", (int)n, p, type);
            if (access(path, X_OK) == 0)
                return path;
            free(path);
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return NULL;
}

static char **plugin_env(const k1s_cni_op_t *op, const char *ifname, k1s_buf_t *store)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = k1s_xcalloc(n + 8, sizeof(*env));
    size_t k = 0;
    bool have_path = false;
    for (size_t i = 0; i < n; i++) {
        if (k1s_str_has_prefix(environ[i], "CNI_"))
            continue;
        have_path |= k1s_str_has_prefix(environ[i], "PATH=");
        env[k++] = environ[i];
    }
    /* Pointers into store are fixed up after it stops growing. */
    size_t offs[7];
    int m = 0;
    offs[m++] = store->len;
    k1s_buf_printf(store, "CNI_COMMAND=%s%c", k1s_cni_cmd_name(op->cur_cmd), 0);
    offs[m++] = store->len;
    k1s_buf_printf(store, "CNI_CONTAINERID=%s%c", op->id, 0);
    offs[m++] = store->len;
    k1s_buf_printf(store, "CNI_NETNS=%s%c", op->netns ? op->netns : "", 0);
    offs[m++] = store->len;
    k1s_buf_printf(store, "CNI_IFNAME=%s%c", ifname, 0);
    offs[m++] = store->len;
    k1s_buf_printf(store, "CNI_ARGS=%s%c", op->cni_args, 0);
    offs[m++] = store->len;
    k1s_buf_printf(store, "CNI_PATH=%s%c", op->cni->bin_dirs, 0);
    if (!have_path) {
        offs[m++] = store->len;
        k1s_buf_printf(store, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin%c",
                       0);
    }
    for (int i = 0; i < m; i++)
        env[k++] = store->data + offs[i];
    env[k] = NULL;
    return env;
}

static void child_maybe_done(k1s_cni_op_t *op)
{
    if (op->exited && ((op->out_fd < 0 && op->err_fd < 0) || op->timed_out))
        step_done(op);
}

static void reap(k1s_cni_op_t *op, int flags)
{
    int st;
    pid_t r;
    do
        r = waitpid(op->pid, &st, flags);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ECHILD) {
        /* Someone else in this process reaped it (a waitpid(-1) elsewhere). */
        op->exited = true;
        op->status_lost = true;
        return;
    }
    if (r != op->pid)
        return;
    op->exited = true;
    op->status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg)
{
    k1s_cni_op_t *op = arg;
    reap(op, WNOHANG);
    if (op->exited) {
        event_del(op->ev_pid);
        child_maybe_done(op);
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    k1s_cni_op_t *op = arg;
    bool is_out = fd == op->out_fd;
    k1s_buf_t *b = is_out ? &op->out : &op->errout;
    char tmp[8192];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n > 0) {
            if (b->len + (size_t)n > CNI_OUTPUT_MAX)
                op->overflow = true;
            else
                k1s_buf_append(b, tmp, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        break; /* EOF or error: this stream is done */
    }
    struct event **ev = is_out ? &op->ev_out : &op->ev_err;
    event_free(*ev);
    *ev = NULL;
    close(fd);
    if (is_out)
        op->out_fd = -1;
    else
        op->err_fd = -1;
    /* Without a pidfd (kernels before 5.3) the end of output stands for the exit. */
    if (op->pidfd < 0 && op->out_fd < 0 && op->err_fd < 0 && !op->exited)
        reap(op, 0);
    child_maybe_done(op);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    k1s_cni_op_t *op = arg;
    while (op->in_off < op->in_len) {
        ssize_t n = send(fd, op->in_data + op->in_off, op->in_len - op->in_off, MSG_NOSIGNAL);
        if (n > 0) {
            op->in_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        break; /* the plugin closed stdin: it will say why on stdout */
    }
    event_free(op->ev_in);
    op->ev_in = NULL;
    close(op->in_fd);
    op->in_fd = -1;
}

/* Starts plugin step op->step; returns 0 or fails the op. */
static int spawn_plugin(k1s_cni_op_t *op, const char *path, json_t *conf, const char *ifname)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
        pipe2(errp, O_CLOEXEC) < 0) {
        int e = errno;
        int fds[] = {in[0], in[1], out[0], out[1], errp[0], errp[1]};
        for (size_t i = 0; i < K1S_ARRAY_SIZE(fds); i++)
            if (fds[i] >= 0)
                close(fds[i]);
        return -e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[1], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    k1s_buf_t store = K1S_BUF_INIT;
    char **env = plugin_env(op, ifname, &store);
    char *argv[] = {(char *)path, NULL};
    pid_t pid;
    int r = posix_spawn(&pid, path, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    k1s_buf_free(&store);
    close(in[1]);
    close(out[1]);
    close(errp[1]);
    if (r != 0) {
        close(in[0]);
        close(out[0]);
        close(errp[0]);
        return -r;
    }
    op->pid = pid;
    op->exited = false;
    op->overflow = false;
    op->status_lost = false;
    op->in_fd = in[0];
    op->out_fd = out[0];
    op->err_fd = errp[0];
    fcntl(op->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(op->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(op->err_fd, F_SETFL, O_NONBLOCK);
    op->in_data = json_dumps(conf, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!op->in_data)
        op->in_data = k1s_xstrdup("{}");
    op->in_len = strlen(op->in_data);
    op->in_off = 0;
    op->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (op->pidfd >= 0) {
        op->ev_pid = event_new(op->base, op->pidfd, EV_READ | EV_PERSIST, on_pidfd, op);
        event_add(op->ev_pid, NULL);
    }
    op->ev_in = event_new(op->base, op->in_fd, EV_WRITE | EV_PERSIST, on_write, op);
    op->ev_out = event_new(op->base, op->out_fd, EV_READ | EV_PERSIST, on_read, op);
    op->ev_err = event_new(op->base, op->err_fd, EV_READ | EV_PERSIST, on_read, op);
    event_add(op->ev_in, NULL);
    event_add(op->ev_out, NULL);
    event_add(op->ev_err, NULL);
    return 0;
}

static json_t *cache_entry(k1s_cni_op_t *op, int n)
{
    op_net_t *net = &op->nets[n];
    json_t *e =
        json_pack("{s:s, s:s, s:s, s:O, s:s}", "kind", "k1s-cni-cache/v1", "containerId", op->id,
                  "ifName", net->ifname, "config", net->conf, "cniArgs", op->cni_args);
    json_object_set_new(e, "networkName", json_copy(json_object_get(net->conf, "name")));
    if (op->netns)
        json_object_set_new(e, "netns", json_string(op->netns));
    if (op->pod_ns)
        json_object_set_new(e, "podNamespace", json_string(op->pod_ns));
    if (op->pod_name)
        json_object_set_new(e, "podName", json_string(op->pod_name));
    if (op->uid)
        json_object_set_new(e, "podUid", json_string(op->uid));
    if (json_array_size(op->ports))
        json_object_set(e, "portMappings", op->ports);
    return e;
}

static void advance(k1s_cni_op_t *op)
{
    if (op->step >= op->n_steps) {
        if (op->rolling_back) {
            op->err = op->add_err;
            op->failed = true;
        }
        event_del(op->ev_timer);
        finish(op);
        return;
    }
    int n = op->steps[op->step].net, p = op->steps[op->step].plugin;
    op_net_t *net = &op->nets[n];
    json_t *pconf = json_array_get(json_object_get(net->conf, "plugins"), (size_t)p);
    op->plugin_type = json_string_value(json_object_get(pconf, "type"));
    const char *cmd = k1s_cni_cmd_name(op->cur_cmd);
    if (op->timed_out) {
        fail(op, ETIMEDOUT, "CNI %s %s for %s: timed out after %d ms", op->plugin_type, cmd,
             op->label, op->cni->timeout_ms);
        return;
    }
    if (op->cur_cmd == K1S_CNI_ADD && first_of_net(op)) {
        /* Recorded before the first plugin runs, so a DEL after a crash finds it. */
        json_t *e = cache_entry(op, n);
        k1s_err_t e2 = {0};
        int r = cni_cache_write(net->cache_path, e, &e2);
        json_decref(e);
        if (r < 0) {
            fail(op, -r, "CNI ADD for %s: %s", op->label, e2.msg);
            return;
        }
    }
    _k1s_cleanup_free_ char *path = find_plugin(op->cni, op->plugin_type);
    if (!path) {
        fail(op, ENOENT,
             "CNI %s %s for %s: plugin \"%s\" not found in %s (install "
             "containernetworking-plugins, or set the CNI bin dir)",
             op->plugin_type, cmd, op->label, op->plugin_type, op->cni->bin_dirs);
        return;
    }
    json_t *conf = cni_plugin_conf(net->conf, (size_t)p, net->prev, op->ports);
    k1s_debug("cni: %s %s %s for %s", path, cmd, net->ifname, op->label);
    int r = spawn_plugin(op, path, conf, net->ifname);
    json_decref(conf);
    if (r < 0)
        fail(op, -r, "CNI %s %s for %s: run %s: %s", op->plugin_type, cmd, op->label, path,
             strerror(-r));
}

static void step_done(k1s_cni_op_t *op)
{
    int n = op->steps[op->step].net;
    op_net_t *net = &op->nets[n];
    const char *cmd = k1s_cni_cmd_name(op->cur_cmd);
    const char *type = op->plugin_type;
    if (op->timed_out) {
        child_close(op);
        fail(op, ETIMEDOUT, "CNI %s %s for %s: timed out after %d ms (plugin killed)", type, cmd,
             op->label, op->cni->timeout_ms);
        return;
    }
    if (op->status != 0 || op->overflow || op->status_lost) {
        char *msg = op->status_lost ? k1s_xstrdup("its exit status was collected by another "
                                                  "waitpid() in this process (a bug: the agent "
                                                  "must only reap the children it started)")
                    : op->overflow  ? k1s_xstrdup("printed more than 1 MiB")
                                    : cni_plugin_error_msg(op->out.data, op->out.len,
                                                           op->errout.data, op->status);
        child_close(op);
        fail(op, EIO, "CNI %s %s for %s: %s", type, cmd, op->label, msg);
        free(msg);
        return;
    }
    if (op->errout.len)
        k1s_debug("cni: %s %s for %s said: %.*s", type, cmd, op->label, (int)op->errout.len,
                  op->errout.data);
    if (op->cur_cmd == K1S_CNI_ADD) {
        json_error_t jerr;
        json_t *res = json_loadb(op->out.data ? op->out.data : "", op->out.len, 0, &jerr);
        if (!json_is_object(res)) {
            json_decref(res);
            child_close(op);
            fail(op, EINVAL, "CNI %s ADD for %s: the plugin printed no valid result: %s", type,
                 op->label, jerr.text);
            return;
        }
        json_decref(net->prev);
        net->prev = res;
        if (last_of_net(op)) {
            json_t *e = cache_entry(op, n);
            json_object_set(e, "result", res);
            k1s_err_t e2 = {0};
            int r = cni_cache_write(net->cache_path, e, &e2);
            json_decref(e);
            if (r < 0) {
                child_close(op);
                fail(op, -r, "CNI ADD for %s: %s", op->label, e2.msg);
                return;
            }
        }
    } else if (op->cur_cmd == K1S_CNI_DEL && last_of_net(op) && !net->del_failed) {
        if (unlink(net->cache_path) < 0 && errno != ENOENT)
            k1s_debug("cni: remove %s: %s", net->cache_path, strerror(errno));
    }
    child_close(op);
    op->step++;
    advance(op);
}

/* ---- public ---- */

int k1s_cni_start(k1s_cni_t *cni, struct event_base *base, k1s_cni_cmd_t cmd,
                  const k1s_cni_pod_t *pod, k1s_cni_cb cb, void *ud, k1s_cni_op_t **op_out,
                  k1s_err_t *err)
{
    int r = k1s_cni_check_id(pod->id, err);
    if (r < 0)
        return r;
    char *args = k1s_cni_args(pod, err);
    if (!args)
        return -EINVAL;
    k1s_cni_op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->cni = cni;
    op->base = base;
    op->cmd = cmd;
    op->cb = cb;
    op->ud = ud;
    op->pidfd = op->in_fd = op->out_fd = op->err_fd = -1;
    op->id = k1s_xstrdup(pod->id);
    op->cni_args = args;
    op->netns = opt_dup(pod->netns);
    op->pod_ns = opt_dup(pod->namespace_);
    op->pod_name = opt_dup(pod->name);
    op->uid = opt_dup(pod->uid);
    op->ports = cni_ports_json(pod->ports, pod->n_ports);
    json_t *confs[N_NETS] = {cni->lo, cni->net};
    const char *ifnames[N_NETS] = {"lo", K1S_CNI_IFNAME};
    for (int i = 0; i < N_NETS; i++) {
        op_net_t *net = &op->nets[i];
        net->ifname = ifnames[i];
        net->cache_path = cni_cache_path(
            cni->cache_dir, i == 0 ? CNI_LOOPBACK_NAME : cni_net_name(cni), op->id, ifnames[i]);
        if (cmd != K1S_CNI_ADD)
            net->cache = i == 0
                             ? cni_cache_read(net->cache_path)
                             : cni_cache_find(cni->cache_dir, op->id, ifnames[i], &net->cache_path);
        json_t *cached = json_object_get(net->cache, "config");
        /* NULL (no config loaded, nothing cached): a DEL has nothing to do there. */
        net->conf = json_incref(cached ? cached : confs[i]);
        /* DEL and CHECK get the cached result from spec 0.4.0 on, as libcni does. */
        if (cni_version_ge(json_string_value(json_object_get(net->conf, "cniVersion")), 0, 4, 0))
            net->prev = json_incref(json_object_get(net->cache, "result"));
        else if (cmd == K1S_CNI_CHECK) {
            r = k1s_err_set(err, ENOTSUP,
                            "CNI CHECK: network %s has cniVersion %s, which has no CHECK (0.4.0 "
                            "or later)",
                            json_string_value(json_object_get(net->conf, "name")),
                            json_string_value(json_object_get(net->conf, "cniVersion")));
            op_free(op);
            return r;
        }
    }
    /* DEL works from what ADD recorded: its netns, pod and port mappings. */
    json_t *c = op->nets[1].cache ? op->nets[1].cache : op->nets[0].cache;
    if (cmd == K1S_CNI_DEL && c) {
        if (!op->netns)
            op->netns = opt_dup(json_string_value(json_object_get(c, "netns")));
        if (!op->pod_ns)
            op->pod_ns = opt_dup(json_string_value(json_object_get(c, "podNamespace")));
        if (!op->pod_name)
            op->pod_name = opt_dup(json_string_value(json_object_get(c, "podName")));
        json_t *ports = json_object_get(c, "portMappings");
        if (json_array_size(ports)) {
            json_decref(op->ports);
            op->ports = json_incref(ports);
        }
        const char *cargs = json_string_value(json_object_get(c, "cniArgs"));
        if (cargs && !pod->namespace_ && !pod->name) {
            free(op->cni_args);
            op->cni_args = k1s_xstrdup(cargs);
        }
    }
    if (op->pod_ns && op->pod_name)
        op->label = k1s_xasprintf("pod %s/%s", op->pod_ns, op->pod_name);
    else
        op->label = k1s_xasprintf("container %s", op->id);
    if (cmd == K1S_CNI_ADD && !cni->net) {
        r = k1s_err_set(err, ENOENT,
                        "CNI ADD for %s: no network config in %s (the agent writes %s there once "
                        "its node has a podCIDR)",
                        op->label, cni->conf_dir, K1S_CNI_CONF_FILE);
        op_free(op);
        return r;
    }
    if (cmd != K1S_CNI_DEL && !op->netns) {
        r = k1s_err_set(err, EINVAL, "CNI %s for %s: no network namespace given",
                        k1s_cni_cmd_name(cmd), op->label);
        op_free(op);
        return r;
    }
    if (cmd == K1S_CNI_ADD) {
        /* A second ADD would fail on the existing eth0 and its rollback would
         * tear down a working attachment; a half-made one is fine to redo. */
        json_t *done = cni_cache_read(op->nets[N_NETS - 1].cache_path);
        bool complete = json_object_get(done, "result") != NULL;
        json_decref(done);
        if (complete) {
            r = k1s_err_set(err, EEXIST,
                            "CNI ADD for %s: the network is already attached to sandbox %s (DEL "
                            "it first)",
                            op->label, op->id);
            op_free(op);
            return r;
        }
    }
    if (cmd == K1S_CNI_CHECK && (!op->nets[0].prev || !op->nets[1].prev)) {
        r = k1s_err_set(err, ENOENT,
                        "CNI CHECK for %s: no completed attachment in %s (was the pod's network "
                        "added on this node?)",
                        op->label, cni->cache_dir);
        op_free(op);
        return r;
    }
    plan(op, cmd, N_NETS - 1);
    op->ev_next = event_new(base, -1, 0, on_next, op);
    op->ev_timer = event_new(base, -1, 0, on_timeout, op);
    struct timeval tv = {cni->timeout_ms / 1000, (cni->timeout_ms % 1000) * 1000};
    event_add(op->ev_timer, &tv);
    event_active(op->ev_next, 0, 0);
    if (op_out)
        *op_out = op;
    return 0;
}

void k1s_cni_op_cancel(k1s_cni_op_t *op)
{
    if (!op)
        return;
    if (op->pid > 0 && !op->exited) {
        kill(op->pid, SIGKILL);
        reap(op, 0);
    }
    op_free(op);
}

typedef struct {
    bool done;
    int rc;
    k1s_err_t *err;
    k1s_cni_result_t *result;
} sync_t;

static void sync_cb(k1s_cni_result_t *result, const k1s_err_t *err, void *ud)
{
    sync_t *s = ud;
    s->done = true;
    s->result = result;
    if (err) {
        s->rc = -(err->code ? err->code : EIO);
        if (s->err)
            *s->err = *err;
    }
}

int k1s_cni_run(k1s_cni_t *cni, k1s_cni_cmd_t cmd, const k1s_cni_pod_t *pod,
                k1s_cni_result_t **result, k1s_err_t *err)
{
    struct event_base *base = event_base_new();
    k1s_assert(base);
    sync_t s = {.err = err};
    int r = k1s_cni_start(cni, base, cmd, pod, sync_cb, &s, NULL, err);
    if (r == 0) {
        while (!s.done)
            event_base_loop(base, EVLOOP_ONCE);
        r = s.rc;
    }
    event_base_free(base);
    if (r == 0 && result)
        *result = s.result;
    else
        k1s_cni_result_free(s.result);
    return r;
}
