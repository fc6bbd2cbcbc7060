/*
 * The kubelet API's backend (agent/kubelet-api.h) over the pod workers and
 * the runtime: container look-up, exec (pipes, or a pty relayed through a
 * socket pair since the runtime hands the pty master over asynchronously),
 * attach, resize, exit watches and the pod list.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "agent/kubelet-api.h"
#include "agent/kubelet-int.h"
#include "agent/stats.h"
#include "client/client.h"
#include "lib/log.h"
#include "runtime/runtime.h"

/* An exec'd process or an attach, as the kubelet API holds it. */
typedef struct proc {
    k1s_kubelet_t *k;
    char *id;
    bool attach, tty;
    k1s_kapi_exit_fn exited;
    void *token;
    bool released, done;
    /* tty exec: the pty master arrives later; relayed to the server's socket pair end */
    int master;
    struct bufferevent *bev_sock, *bev_pty;
    int want_w, want_h;
} proc_t;

typedef struct exit_watch {
    struct exit_watch *next;
    char *id;
    void (*fn)(void *arg);
    void *arg;
} exit_watch_t;

static exit_watch_t *watches; /* one kubelet per process */

static void proc_free(proc_t *p)
{
    if (p->bev_sock)
        bufferevent_free(p->bev_sock);
    if (p->bev_pty)
        bufferevent_free(p->bev_pty);
    free(p->id);
    free(p);
}

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- lookup ---- */

static int b_lookup(void *ctx, const char *ns, const char *pod, const char *ctr,
                    k1s_kapi_container_t *out, k1s_err_t *err)
{
    static char log_dir[1024];
    k1s_kubelet_ctr_info_t ci;
    int r = k1s_kubelet_find(ctx, ns, pod, ctr, &ci, err);
    if (r < 0)
        return r;
    snprintf(log_dir, sizeof(log_dir), "/var/log/pods/%s_%s_%s/%s", ns, pod, ci.uid, ci.name);
    *out = (k1s_kapi_container_t){.id = ci.id ? ci.id : "",
                                  .log_dir = log_dir,
                                  .restart_count = ci.restarts,
                                  .running = ci.running,
                                  .netns = ci.netns};
    return 0;
}

/* ---- exec ---- */

static void exec_done(void *arg, const char *id, int rc, const k1s_err_t *err)
{
    proc_t *p = arg;
    p->done = true;
    if (!p->released && p->exited)
        p->exited(p->token, rc >= 0 ? rc : 126);
    if (p->released)
        proc_free(p);
}

static void relay_read(struct bufferevent *bev, void *arg)
{
    proc_t *p = arg;
    struct bufferevent *to = bev == p->bev_sock ? p->bev_pty : p->bev_sock;
    if (to)
        bufferevent_write_buffer(to, bufferevent_get_input(bev));
}

static void relay_event(struct bufferevent *bev, short what, void *arg)
{
    proc_t *p = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    /* either side gone: close both, the server sees EOF on its end */
    if (p->bev_sock) {
        bufferevent_free(p->bev_sock);
        p->bev_sock = NULL;
    }
    if (p->bev_pty) {
        bufferevent_free(p->bev_pty);
        p->bev_pty = NULL;
    }
}

static void apply_size(proc_t *p)
{
    if (p->master < 0 || !p->want_w)
        return;
    struct winsize ws = {.ws_row = (unsigned short)p->want_h, .ws_col = (unsigned short)p->want_w};
    ioctl(p->master, TIOCSWINSZ, &ws);
}

static void got_console(void *arg, int master)
{
    proc_t *p = arg;
    if (!p->bev_sock) { /* the client went away meanwhile */
        close(master);
        return;
    }
    nonblock(master);
    p->master = master;
    p->bev_pty = bufferevent_socket_new(k1s_kubelet_base(p->k), master, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(p->bev_pty, relay_read, NULL, relay_event, p);
    bufferevent_enable(p->bev_pty, EV_READ | EV_WRITE);
    apply_size(p);
    /* what the client typed before the pty arrived */
    relay_read(p->bev_sock, p);
}

static int b_exec(void *ctx, const char *cid, char *const *argv, bool tty, k1s_kapi_proc_t *out,
                  k1s_kapi_exit_fn exited, void *token, k1s_err_t *err)
{
    k1s_kubelet_t *k = ctx;
    proc_t *p = k1s_xcalloc(1, sizeof(*p));
    p->k = k;
    p->id = k1s_xstrdup(cid);
    p->tty = tty;
    p->exited = exited;
    p->token = token;
    p->master = -1;
    int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1}, sp[2] = {-1, -1};
    k1s_rt_exec_req_t req = {
        .args = argv, .tty = tty, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    if (tty) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
            goto fail_errno;
        nonblock(sp[0]);
        nonblock(sp[1]);
        p->bev_sock = bufferevent_socket_new(k1s_kubelet_base(k), sp[1], BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(p->bev_sock, relay_read, NULL, relay_event, p);
        bufferevent_enable(p->bev_sock, EV_READ | EV_WRITE);
        out->stdin_fd = dup(sp[0]);
        out->stdout_fd = sp[0];
        out->stderr_fd = -1;
    } else {
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
            goto fail_errno;
        req.stdin_fd = in[0];
        req.stdout_fd = o[1];
        req.stderr_fd = e[1];
    }
    if (k1s_rt_exec(k1s_kubelet_runtime(k), cid, &req, exec_done, tty ? got_console : NULL, p,
                    err) < 0) {
        if (tty) {
            close(out->stdin_fd);
            close(out->stdout_fd);
        }
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (o[i] >= 0)
                close(o[i]);
            if (e[i] >= 0)
                close(e[i]);
        }
        proc_free(p);
        return -err->code;
    }
    if (!tty) {
        close(in[0]);
        close(o[1]);
        close(e[1]);
        nonblock(in[1]);
        nonblock(o[0]);
        nonblock(e[0]);
        out->stdin_fd = in[1];
        out->stdout_fd = o[0];
        out->stderr_fd = e[0];
    }
    out->handle = p;
    return 0;
fail_errno:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (o[i] >= 0)
            close(o[i]);
        if (e[i] >= 0)
            close(e[i]);
        if (sp[i] >= 0 && !p->bev_sock)
            close(sp[i]);
    }
    proc_free(p);
    return k1s_err_set(err, errno, "exec: %s", strerror(errno));
}

/* ---- attach ---- */

static int b_attach(void *ctx, const char *cid, bool tty, k1s_kapi_proc_t *out, k1s_err_t *err)
{
    k1s_kubelet_t *k = ctx;
    int in[2], o[2], e[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) < 0)
        return k1s_err_set(err, errno, "attach: %s", strerror(errno));
    if (pipe2(o, O_CLOEXEC) < 0 || (!tty && pipe2(e, O_CLOEXEC) < 0)) {
        close(in[0]);
        close(in[1]);
        return k1s_err_set(err, errno, "attach: %s", strerror(errno));
    }
    int r = k1s_rt_attach(k1s_kubelet_runtime(k), cid, in[0], o[1], tty ? -1 : e[1], err);
    close(in[0]);
    close(o[1]);
    if (e[1] >= 0)
        close(e[1]);
    if (r < 0) {
        close(in[1]);
        close(o[0]);
        if (e[0] >= 0)
            close(e[0]);
        return r;
    }
    proc_t *p = k1s_xcalloc(1, sizeof(*p));
    p->k = k;
    p->id = k1s_xstrdup(cid);
    p->attach = true;
    p->tty = tty;
    p->master = -1;
    nonblock(in[1]);
    nonblock(o[0]);
    out->stdin_fd = in[1];
    out->stdout_fd = o[0];
    out->stderr_fd = e[0];
    if (e[0] >= 0)
        nonblock(e[0]);
    out->handle = p;
    return 0;
}

static void b_resize(void *ctx, void *handle, uint16_t w, uint16_t h)
{
    proc_t *p = handle;
    if (!p)
        return;
    if (p->attach) {
        k1s_rt_resize(k1s_kubelet_runtime(p->k), p->id, w, h, NULL);
        return;
    }
    p->want_w = w;
    p->want_h = h;
    apply_size(p);
}

static void b_release(void *ctx, void *handle)
{
    proc_t *p = handle;
    if (!p)
        return;
    p->released = true;
    if (p->attach || p->done)
        proc_free(p);
    /* else freed when the exec ends (the runtime has no way to kill an exec'd process yet) */
}

/* ---- exit watches ---- */

static void *b_watch_exit(void *ctx, const char *cid, void (*fn)(void *arg), void *arg)
{
    if (!k1s_kubelet_running(ctx, cid))
        return NULL;
    exit_watch_t *w = k1s_xcalloc(1, sizeof(*w));
    w->id = k1s_xstrdup(cid);
    w->fn = fn;
    w->arg = arg;
    w->next = watches;
    watches = w;
    return w;
}

static void b_unwatch_exit(void *ctx, void *watch)
{
    for (exit_watch_t **pp = &watches; *pp; pp = &(*pp)->next)
        if (*pp == watch) {
            exit_watch_t *w = *pp;
            *pp = w->next;
            free(w->id);
            free(w);
            return;
        }
}

void k1s_kubelet_api_exited(k1s_kubelet_t *k, const char *id)
{
    exit_watch_t **pp = &watches;
    while (*pp) {
        exit_watch_t *w = *pp;
        if (!strcmp(w->id, id)) {
            *pp = w->next;
            w->fn(w->arg);
            free(w->id);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

static json_t *b_pods(void *ctx)
{
    return k1s_kubelet_pod_list(ctx);
}

/* ---- stats ---- */

static k1s_stats_t *stats; /* one kubelet per process, like the exit watches */

static json_t *b_summary(void *ctx)
{
    size_t n;
    k1s_stats_ctr_t *ctrs = k1s_kubelet_stats_ctrs(ctx, &n);
    json_t *j = k1s_stats_summary(stats, ctrs, n);
    free(ctrs);
    return j;
}

static const k1s_kapi_backend_t backend = {
    .lookup = b_lookup,
    .exec = b_exec,
    .attach = b_attach,
    .resize = b_resize,
    .release = b_release,
    .watch_exit = b_watch_exit,
    .unwatch_exit = b_unwatch_exit,
    .pods = b_pods,
    .summary = b_summary,
};

k1s_kapi_t *k1s_kubelet_api_start(k1s_kubelet_t *k, const char *agent_dir, int port,
                                  const char *node_name, k1s_client_t *api, k1s_err_t *err)
{
    char cert[1024], key[1024], ca[1024];
    snprintf(cert, sizeof(cert), "%s/serving-kubelet.crt", agent_dir);
    snprintf(key, sizeof(key), "%s/serving-kubelet.key", agent_dir);
    snprintf(ca, sizeof(ca), "%s/client-ca.crt", agent_dir);
    k1s_kapi_opts_t o = {.cert_file = cert,
                         .key_file = key,
                         .client_ca_file = ca,
                         .port = port,
                         .node_name = node_name,
                         .api = api};
    if (!stats)
        stats = k1s_stats_new(&(k1s_stats_opts_t){.node_name = node_name, .fs_dir = agent_dir});
    return k1s_kapi_new(k1s_kubelet_base(k), &o, &backend, k, err);
}
