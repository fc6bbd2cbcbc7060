/*
 * Exec and attach sessions over WebSockets (see stream.h). A session glues
 * one k1s_ws_t to the process's stdio fds, each wrapped in a bufferevent:
 *
 *   client --ws--> channel 0 --> stdin bufferevent --> process
 *   process --> stdout/stderr bufferevents --> channel 1/2 --ws--> client
 *
 * Back-pressure both ways: a process's output is read only while the
 * WebSocket's queue is under OUT_HIGH, and the client is read only while
 * the stdin queue is under IN_HIGH. The session ends when the output
 * streams reached EOF and (exec) the exit code is known: then the status
 * goes on channel 3 and the WebSocket is closed.
 */
#include "agent/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "net/spdy.h"
#include "net/websocket.h"

#define OUT_HIGH (256u << 10)
#define IN_HIGH (256u << 10)

enum { CH_STDIN = 0, CH_STDOUT = 1, CH_STDERR = 2, CH_ERROR = 3, CH_RESIZE = 4, CH_CLOSE = 255 };

const char *const k1s_stream_protocols[] = {"v5.channel.k8s.io", "v4.channel.k8s.io", NULL};

typedef struct session {
    k1s_stream_sess_t sess; /* first: the set's link */
    k1s_stream_set_t *set;
    struct event_base *base;
    const k1s_kapi_backend_t *be;
    void *ctx;
    k1s_ws_t *ws;            /* WebSocket transport, or */
    struct bufferevent *bev; /* SPDY transport: the upgraded connection */
    k1s_spdy_t *spdy;
    uint32_t sid[5];         /* SPDY: the client's stream per channel (0 if none) */
    int want;                /* SPDY: streams expected before the command starts */
    struct event *spdy_wait; /* SPDY: deadline for the client's streams */
    char *container_id;
    char **argv;
    bool tty, want_in;
    bool v5;
    struct bufferevent *in, *out[3]; /* out[1] stdout, out[2] stderr */
    void *handle;                    /* the backend's, until released */
    bool is_exec, exited, stdin_eof, done, ws_gone;
    int code;
    char *cmdline;        /* for the exit message: "[sh -c exit 3]" */
    int cur_ch;           /* channel of the message being received, -1 if none */
    k1s_buf_t ctl;        /* a resize/close message being assembled */
    struct event *finish; /* deferred end, out of any callback's stack */
} session_t;

static void session_maybe_end(session_t *s);

/* ---------- transports: WebSocket channels or SPDY streams ---------- */

/* Sends data on channel ch. Returns 0, or -EPIPE once the client is gone. */
static int tp_send(session_t *s, unsigned char ch, const void *data, size_t len)
{
    if (s->ws)
        return k1s_ws_send(s->ws, K1S_WS_BINARY, &ch, 1, data, len);
    if (!s->bev || s->ws_gone)
        return -EPIPE;
    if (ch < 5 && s->sid[ch])
        k1s_spdy_data(s->spdy, s->sid[ch], data, len, false);
    return 0;
}

static size_t tp_pending(session_t *s)
{
    if (s->ws)
        return k1s_ws_pending(s->ws);
    return s->bev ? evbuffer_get_length(bufferevent_get_output(s->bev)) : 0;
}

static void tp_pause(session_t *s, bool pause)
{
    if (s->ws)
        k1s_ws_pause(s->ws, pause);
    else if (s->bev && !s->ws_gone) {
        if (pause)
            bufferevent_disable(s->bev, EV_READ);
        else
            bufferevent_enable(s->bev, EV_READ);
    }
}

static void spdy_flush_free(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        bufferevent_free(bev);
}

static void spdy_flush_event(struct bufferevent *bev, short what, void *arg)
{
    bufferevent_free(bev);
}

/* Ends a SPDY session's connection: FIN on our streams, then close once written. */
static void spdy_close(session_t *s)
{
    struct bufferevent *bev = s->bev;
    s->bev = NULL;
    if (s->ws_gone) {
        bufferevent_free(bev);
        return;
    }
    for (int ch = 1; ch <= 3; ch++)
        if (s->sid[ch])
            k1s_spdy_data(s->spdy, s->sid[ch], NULL, 0, true);
    bufferevent_disable(bev, EV_READ);
    struct timeval tv = {5, 0};
    bufferevent_set_timeouts(bev, NULL, &tv);
    bufferevent_setcb(bev, NULL, spdy_flush_free, spdy_flush_event, NULL);
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        bufferevent_free(bev);
}

static void session_free(session_t *s)
{
    k1s_stream_set_del(s->set, &s->sess);
    for (int i = 1; i < 3; i++)
        if (s->out[i])
            bufferevent_free(s->out[i]);
    if (s->in)
        bufferevent_free(s->in);
    if (s->handle && s->be->release)
        s->be->release(s->ctx, s->handle);
    k1s_ws_close(s->ws, s->ws_gone ? 0 : 1000, "");
    if (s->bev)
        spdy_close(s);
    k1s_spdy_free(s->spdy);
    if (s->spdy_wait)
        event_free(s->spdy_wait);
    free(s->container_id);
    for (int i = 0; s->argv && s->argv[i]; i++)
        free(s->argv[i]);
    free(s->argv);
    event_free(s->finish);
    k1s_buf_free(&s->ctl);
    free(s->cmdline);
    free(s);
}

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
    session_free(arg);
}

static void session_stop(k1s_stream_sess_t *ss)
{
    session_t *s = (session_t *)ss;
    k1s_ws_abort(s->ws);
    s->ws = NULL;
    session_free(s);
}

void k1s_stream_set_add(k1s_stream_set_t *set, k1s_stream_sess_t *s)
{
    s->prev = NULL;
    s->next = set->head;
    if (set->head)
        set->head->prev = s;
    set->head = s;
}

void k1s_stream_set_del(k1s_stream_set_t *set, k1s_stream_sess_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else if (set->head == s)
        set->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

void k1s_stream_stop_all(k1s_stream_set_t *set)
{
    while (set->head)
        set->head->stop(set->head);
}

static void session_end_soon(session_t *s)
{
    if (s->done)
        return;
    s->done = true;
    event_active(s->finish, EV_TIMEOUT, 0);
}

/* The final status on the error channel, as the kubelet writes it. */
static void send_status(session_t *s)
{
    if (s->ws_gone)
        return;
    k1s_buf_t b = K1S_BUF_INIT;
    if (!s->is_exec || s->code == 0) {
        k1s_buf_puts(&b, "{\"metadata\":{},\"status\":\"Success\"}");
    } else {
        char msg[4200];
        snprintf(msg, sizeof(msg),
                 "command terminated with non-zero exit code: error executing command %s, exit "
                 "code %d",
                 s->cmdline, s->code);
        k1s_buf_puts(&b, "{\"metadata\":{},\"status\":\"Failure\",\"message\":");
        k1s_buf_json_str(&b, msg);
        k1s_buf_printf(&b,
                       ",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":"
                       "\"ExitCode\",\"message\":\"%d\"}]}}",
                       s->code);
    }
    tp_send(s, CH_ERROR, b.data, b.len);
    k1s_buf_free(&b);
}

static void session_maybe_end(session_t *s)
{
    if (s->done)
        return;
    if (s->ws_gone) {
        session_end_soon(s);
        return;
    }
    if (s->out[1] || s->out[2])
        return;
    if (s->is_exec && !s->exited)
        return;
    send_status(s);
    session_end_soon(s);
}

/* ---------- process -> client ---------- */

static void out_read_cb(struct bufferevent *bev, void *arg)
{
    session_t *s = arg;
    unsigned char ch = bev == s->out[1] ? CH_STDOUT : CH_STDERR;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    while ((n = evbuffer_get_length(in)) > 0) {
        size_t take = n > 32768 ? 32768 : n;
        unsigned char *p = evbuffer_pullup(in, (ssize_t)take);
        if (tp_send(s, ch, p, take) < 0) {
            evbuffer_drain(in, n);
            return;
        }
        evbuffer_drain(in, take);
    }
    if (tp_pending(s) > OUT_HIGH)
        bufferevent_disable(bev, EV_READ);
}

static void out_event_cb(struct bufferevent *bev, short what, void *arg)
{
    session_t *s = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    out_read_cb(bev, s); /* whatever came before EOF (a pty's EIO) */
    int i = bev == s->out[1] ? 1 : 2;
    bufferevent_free(bev);
    s->out[i] = NULL;
    session_maybe_end(s);
}

static void resume_output(session_t *s)
{
    for (int i = 1; i < 3; i++)
        if (s->out[i])
            bufferevent_enable(s->out[i], EV_READ);
}

static void ws_drain(k1s_ws_t *ws, void *arg)
{
    resume_output(arg);
}

/* ---------- client -> process ---------- */

static void close_stdin(session_t *s)
{
    s->stdin_eof = true;
    if (s->in && evbuffer_get_length(bufferevent_get_output(s->in)) == 0) {
        bufferevent_free(s->in);
        s->in = NULL;
    }
}

static void in_write_cb(struct bufferevent *bev, void *arg)
{
    session_t *s = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (s->stdin_eof) {
        bufferevent_free(bev);
        s->in = NULL;
        return;
    }
    tp_pause(s, false);
}

static void in_event_cb(struct bufferevent *bev, short what, void *arg)
{
    session_t *s = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    /* the process closed its stdin (or died): drop what the client still sends */
    bufferevent_free(bev);
    s->in = NULL;
    s->stdin_eof = true;
    tp_pause(s, false);
}

static void control_message(session_t *s, int ch)
{
    if (ch == CH_RESIZE) {
        json_t *j = json_loadb(s->ctl.data ? s->ctl.data : "", s->ctl.len, 0, NULL);
        json_int_t w = json_integer_value(json_object_get(j, "Width"));
        json_int_t h = json_integer_value(json_object_get(j, "Height"));
        if (j && s->handle && s->be->resize && w > 0 && h > 0 && w < 65536 && h < 65536)
            s->be->resize(s->ctx, s->handle, (uint16_t)w, (uint16_t)h);
        json_decref(j);
    } else if (ch == CH_CLOSE && s->v5) {
        if (s->ctl.len >= 1 && (unsigned char)s->ctl.data[0] == CH_STDIN)
            close_stdin(s);
    }
    k1s_buf_reset(&s->ctl);
}

static void ws_data(k1s_ws_t *ws, bool first, bool fin, const unsigned char *data, size_t len,
                    void *arg)
{
    session_t *s = arg;
    if (first) {
        if (len == 0) {
            s->cur_ch = -1;
            return;
        }
        s->cur_ch = data[0];
        data++;
        len--;
    }
    int ch = s->cur_ch;
    if (ch == CH_STDIN) {
        if (s->in && !s->stdin_eof && len) {
            bufferevent_write(s->in, data, len);
            if (evbuffer_get_length(bufferevent_get_output(s->in)) > IN_HIGH)
                tp_pause(s, true);
        }
    } else if (ch == CH_RESIZE || ch == CH_CLOSE) {
        if (s->ctl.len + len < 4096)
            k1s_buf_append(&s->ctl, data, len);
        if (fin)
            control_message(s, ch);
    }
    if (fin)
        s->cur_ch = -1;
}

static void ws_closed(k1s_ws_t *ws, void *arg)
{
    session_t *s = arg;
    s->ws_gone = true;
    session_maybe_end(s);
}

static void exited(void *token, int code)
{
    session_t *s = token;
    s->exited = true;
    s->code = code;
    session_maybe_end(s);
}

/* ---------- start ---------- */

static struct bufferevent *wrap_fd(session_t *s, int fd, bool reading)
{
    if (fd < 0)
        return NULL;
    evutil_make_socket_nonblocking(fd);
    struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (reading) {
        bufferevent_setcb(bev, out_read_cb, NULL, out_event_cb, s);
        bufferevent_enable(bev, EV_READ);
    } else {
        bufferevent_setcb(bev, NULL, in_write_cb, in_event_cb, s);
        bufferevent_enable(bev, EV_WRITE);
    }
    return bev;
}

/* Runs the command (or attaches) once the client's streams are there. */
static void start_process(session_t *s)
{
    const k1s_kapi_backend_t *be = s->be;
    k1s_kapi_proc_t p = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    k1s_err_t err = {0};
    int r;
    if (s->is_exec)
        r = be->exec(s->ctx, s->container_id, s->argv, s->tty, &p, exited, s, &err);
    else if (be->attach)
        r = be->attach(s->ctx, s->container_id, s->tty, &p, &err);
    else
        r = k1s_err_set(&err, EOPNOTSUPP, "attach is not supported by this runtime");
    if (r < 0) {
        /* as the kubelet reports a runtime's failure: a Status on the error channel */
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "{\"metadata\":{},\"status\":\"Failure\",\"message\":");
        k1s_buf_json_str(&b, err.msg);
        k1s_buf_puts(&b, ",\"reason\":\"InternalError\",\"code\":500}");
        tp_send(s, CH_ERROR, b.data, b.len);
        k1s_buf_free(&b);
        s->exited = true;
        session_end_soon(s);
        return;
    }
    s->handle = p.handle;
    /* streams the client did not ask for are closed at once */
    if (!s->want_in && p.stdin_fd >= 0) {
        close(p.stdin_fd);
        p.stdin_fd = -1;
    }
    s->in = wrap_fd(s, p.stdin_fd, false);
    s->out[1] = wrap_fd(s, p.stdout_fd, true);
    s->out[2] = wrap_fd(s, p.stderr_fd, true);
    if (!s->out[1] && !s->out[2])
        session_maybe_end(s);
}

/* ---------- SPDY (kubectl before 1.29, and its fallback) ---------- */

static const char *const spdy_protocols[] = {"v4.channel.k8s.io", NULL};

static void spdy_write(const void *data, size_t len, void *arg)
{
    session_t *s = arg;
    if (s->bev && !s->ws_gone)
        bufferevent_write(s->bev, data, len);
}

static void resize_json(session_t *s)
{
    /* the client writes one JSON object per resize, back to back */
    for (;;) {
        char *end = s->ctl.len ? memchr(s->ctl.data, '}', s->ctl.len) : NULL;
        if (!end)
            return;
        size_t n = (size_t)(end - s->ctl.data) + 1;
        json_t *j = json_loadb(s->ctl.data, n, 0, NULL);
        json_int_t w = json_integer_value(json_object_get(j, "Width"));
        json_int_t h = json_integer_value(json_object_get(j, "Height"));
        if (j && s->handle && s->be->resize && w > 0 && h > 0 && w < 65536 && h < 65536)
            s->be->resize(s->ctx, s->handle, (uint16_t)w, (uint16_t)h);
        json_decref(j);
        memmove(s->ctl.data, s->ctl.data + n, s->ctl.len - n);
        s->ctl.len -= n;
    }
}

static void spdy_stream(k1s_spdy_t *sp, uint32_t id, const k1s_spdy_header_t *h, int nh, bool fin,
                        void *arg)
{
    session_t *s = arg;
    k1s_spdy_reply(sp, id, NULL, 0, false);
    const char *t = k1s_spdy_header(h, nh, "streamtype");
    static const char *const names[] = {"stdin", "stdout", "stderr", "error", "resize"};
    for (int ch = 0; t && ch < 5; ch++)
        if (!strcmp(t, names[ch]) && !s->sid[ch]) {
            s->sid[ch] = id;
            if (ch == CH_STDIN && fin)
                s->stdin_eof = true;
            if (--s->want == 0) {
                evtimer_del(s->spdy_wait);
                start_process(s);
            }
            return;
        }
}

static void spdy_data(k1s_spdy_t *sp, uint32_t id, const unsigned char *data, size_t len, bool fin,
                      void *arg)
{
    session_t *s = arg;
    if (id && id == s->sid[CH_STDIN]) {
        if (s->in && !s->stdin_eof && len) {
            bufferevent_write(s->in, data, len);
            if (evbuffer_get_length(bufferevent_get_output(s->in)) > IN_HIGH)
                tp_pause(s, true);
        }
        if (fin)
            close_stdin(s);
    } else if (id && id == s->sid[CH_RESIZE]) {
        if (s->ctl.len + len < 4096)
            k1s_buf_append(&s->ctl, data, len);
        resize_json(s);
    }
}

static void spdy_gone(k1s_spdy_t *sp, void *arg)
{
    session_t *s = arg;
    if (s->ws_gone)
        return;
    s->ws_gone = true;
    session_maybe_end(s);
}

static void spdy_bev_read(struct bufferevent *bev, void *arg)
{
    session_t *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    while (!s->ws_gone && (n = evbuffer_get_length(in)) > 0) {
        size_t take = n > 65536 ? 65536 : n;
        k1s_spdy_feed(s->spdy, evbuffer_pullup(in, (ssize_t)take), take);
        evbuffer_drain(in, take);
    }
}

static void spdy_bev_write(struct bufferevent *bev, void *arg)
{
    resume_output(arg);
}

static void spdy_bev_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        spdy_gone(NULL, arg);
}

static void spdy_timeout(evutil_socket_t fd, short what, void *arg)
{
    session_t *s = arg;
    k1s_debug("kubelet api: exec: the client did not open its streams in time");
    s->ws_gone = true;
    session_end_soon(s);
}

/* Is req an "Upgrade: SPDY/3.1" with a protocol we speak? Returns it, or NULL. */
static const char *spdy_protocol(k1s_http_req_t *req)
{
    const char *up = k1s_http_req_header(req, "Upgrade");
    if (!up || strcasecmp(up, "SPDY/3.1"))
        return NULL;
    const char *v;
    for (int n = 0; (v = k1s_http_req_header_n(req, "X-Stream-Protocol-Version", n)); n++)
        for (int i = 0; spdy_protocols[i]; i++)
            if (!strcmp(v, spdy_protocols[i]))
                return spdy_protocols[i];
    return NULL;
}

static bool spdy_accept(session_t *s, k1s_http_req_t *req, const char *proto)
{
    struct bufferevent *bev = k1s_http_hijack(req);
    if (!bev) {
        k1s_http_respond_status(req, 400, "BadRequest", "SPDY upgrades need HTTP/1.1");
        return false;
    }
    static const k1s_spdy_cbs_t cbs = {.write = spdy_write,
                                       .on_stream = spdy_stream,
                                       .on_data = spdy_data,
                                       .on_goaway = spdy_gone};
    s->bev = bev;
    s->spdy = k1s_spdy_new(&cbs, s);
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: %s\r\n\r\n",
                     proto);
    bufferevent_write(bev, head, (size_t)n);
    bufferevent_setwatermark(bev, EV_WRITE, OUT_HIGH / 2, 0);
    bufferevent_setcb(bev, spdy_bev_read, spdy_bev_write, spdy_bev_event, s);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    /* the kubelet waits streamCreationTimeout (30 s) for the client's streams */
    s->spdy_wait = evtimer_new(s->base, spdy_timeout, s);
    struct timeval tv = {30, 0};
    evtimer_add(s->spdy_wait, &tv);
    if (evbuffer_get_length(bufferevent_get_input(bev)))
        spdy_bev_read(bev, s);
    return true;
}

static char *format_cmdline(char **argv)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_putc(&b, '[');
    for (int i = 0; argv && argv[i]; i++) {
        if (i)
            k1s_buf_putc(&b, ' ');
        k1s_buf_puts(&b, argv[i]);
        if (b.len > 4000)
            break;
    }
    k1s_buf_putc(&b, ']');
    return k1s_buf_steal(&b);
}

void k1s_stream_remotecommand(struct event_base *base, k1s_stream_set_t *set, k1s_http_req_t *req,
                              const k1s_kapi_backend_t *be, void *ctx, const k1s_stream_opts_t *o)
{
    const char *sproto = spdy_protocol(req);
    if (!k1s_ws_is_upgrade(req) && !sproto) {
        k1s_http_respond_status(req, 400, "BadRequest",
                                "Upgrade request required (this kubelet serves exec and attach "
                                "over WebSockets: v5.channel.k8s.io, v4.channel.k8s.io, or "
                                "SPDY/3.1: v4.channel.k8s.io)");
        return;
    }
    const char *proto = sproto ? sproto : k1s_ws_pick_protocol(req, k1s_stream_protocols);
    if (!proto) {
        k1s_http_respond_status(req, 400, "BadRequest",
                                "no supported WebSocket subprotocol (this kubelet serves "
                                "v5.channel.k8s.io and v4.channel.k8s.io)");
        return;
    }
    session_t *s = k1s_xcalloc(1, sizeof(*s));
    s->set = set;
    s->sess.stop = session_stop;
    s->base = base;
    s->be = be;
    s->ctx = ctx;
    s->v5 = !strcmp(proto, "v5.channel.k8s.io");
    s->is_exec = o->argv != NULL;
    s->cur_ch = -1;
    s->cmdline = format_cmdline(o->argv);
    s->finish = event_new(base, -1, 0, finish_cb, s);
    s->container_id = k1s_xstrdup(o->container_id ? o->container_id : "");
    s->tty = o->tty;
    s->want_in = o->in;
    if (o->argv) {
        int n = 0;
        while (o->argv[n])
            n++;
        s->argv = k1s_xcalloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; i < n; i++)
            s->argv[i] = k1s_xstrdup(o->argv[i]);
    }
    if (sproto) {
        s->v5 = false;
        /* the streams the client will open, as the kubelet expects them */
        s->want = 1 + o->in + o->out + (o->err && !o->tty) + o->tty;
        if (!spdy_accept(s, req, sproto)) {
            s->ws_gone = true;
            session_free(s);
            return;
        }
        k1s_stream_set_add(set, &s->sess);
        return;
    }
    static const k1s_ws_cbs_t cbs = {
        .on_data = ws_data, .on_close = ws_closed, .on_drain = ws_drain};
    s->ws = k1s_ws_accept(req, proto, &cbs, s);
    if (!s->ws) {
        event_free(s->finish);
        free(s->cmdline);
        free(s);
        return;
    }
    k1s_stream_set_add(set, &s->sess);
    start_process(s);
}
