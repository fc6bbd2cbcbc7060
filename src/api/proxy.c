/*
 * Forwarding to kubelets (see proxy.h). One proxy_t per request:
 *
 *   resolve (pod -> node -> address) -> TCP connect -> TLS handshake
 *     -> upgrade: send the request head, hijack the client, splice
 *     -> other: send an HTTP/1.0 request, stream the answer back
 *
 * Until the client is hijacked or the answer started, failures are answered
 * as kube-apiserver answers them ("error dialing backend: dial tcp
 * 10.0.0.5:10250: connect: connection refused").
 */
#include "api/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "api/apiserver-int.h"
#include "api/authz.h"
#include "api/registry.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "net/tls.h"

#define DIAL_TIMEOUT_S 10
#define SPLICE_HIGH (1u << 20)
#define HEAD_MAX (64u << 10)

typedef struct proxy {
    k1s_api_req_t *r;
    struct event_base *base;
    int fd;
    struct event *ev;    /* connect wait, then the dial deadline */
    struct event *timer; /* dial deadline; later: resume after back-pressure */
    struct bufferevent *up, *down;
    char dial[96];       /* "ip:port" */
    char *head;          /* request head for the kubelet */
    bool upgrade;        /* splice after the handshake */
    bool skip_verify;    /* pods/log?insecureSkipTLSVerifyBackend=true */
    bool streaming;      /* the answer to the client has started */
    long long body_left; /* Content-Length of the kubelet's answer, -1 if none */
    bool up_eof;         /* the kubelet closed; what is buffered still goes out */
    bool chunked;        /* the answer uses chunked encoding (then body_left is the chunk's) */
    int chunk_state;     /* 0 size line, 1 data, 2 CRLF after data, 3 trailer */
} proxy_t;

/* The TLS client context, made once from the server's tls_dir. */
static SSL_CTX *client_ctx(k1s_apiserver_t *api, k1s_err_t *err)
{
    static SSL_CTX *ctx;
    static char *dir;
    const char *tls_dir = api->tls_dir;
    if (!tls_dir) {
        k1s_err_set(err, ENOENT, "this API server has no certificates to reach kubelets with");
        return NULL;
    }
    if (ctx && dir && !strcmp(dir, tls_dir))
        return ctx;
    _k1s_cleanup_free_ char *ca = k1s_xasprintf("%s/server-ca.crt", tls_dir);
    _k1s_cleanup_free_ char *crt = k1s_xasprintf("%s/client-kube-apiserver.crt", tls_dir);
    _k1s_cleanup_free_ char *key = k1s_xasprintf("%s/client-kube-apiserver.key", tls_dir);
    SSL_CTX *c = k1s_tls_client_ctx(ca, crt, key, err);
    if (!c)
        return NULL;
    SSL_CTX_free(ctx);
    free(dir);
    ctx = c;
    dir = k1s_xstrdup(tls_dir);
    return ctx;
}

static void proxy_free(proxy_t *p)
{
    if (p->ev)
        event_free(p->ev);
    if (p->timer)
        event_free(p->timer);
    if (p->fd >= 0)
        close(p->fd);
    if (p->up)
        bufferevent_free(p->up);
    if (p->down)
        bufferevent_free(p->down);
    free(p->head);
    free(p);
}

/* Fails before anything was sent to the client: kube-apiserver's 500. */
static void proxy_fail(proxy_t *p, const char *fmt, ...) K1S_PRINTF(2, 3);
static void proxy_fail(proxy_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    k1s_api_req_t *r = p->r;
    p->r = NULL;
    if (r) {
        if (p->streaming) {
            k1s_http_stream_end(r->http);
            r->http = NULL;
            k1s_api_req_done(r, 200);
        } else {
            k1s_api_fail(r, 500, "InternalError", "%s", m);
        }
    }
    free(m);
    proxy_free(p);
}

/* ---------- splicing (upgrades) ---------- */

static void splice_read(struct bufferevent *src, void *arg)
{
    proxy_t *p = arg;
    struct bufferevent *dst = src == p->up ? p->down : p->up;
    if (!dst)
        return;
    bufferevent_write_buffer(dst, bufferevent_get_input(src));
    if (evbuffer_get_length(bufferevent_get_output(dst)) > SPLICE_HIGH)
        bufferevent_disable(src, EV_READ);
}

static void splice_write(struct bufferevent *dst, void *arg)
{
    proxy_t *p = arg;
    struct bufferevent *src = dst == p->up ? p->down : p->up;
    if (!src) {
        /* the other side is gone: close once this one has its last bytes */
        if (evbuffer_get_length(bufferevent_get_output(dst)) == 0)
            proxy_free(p);
        return;
    }
    bufferevent_enable(src, EV_READ);
}

static void splice_event(struct bufferevent *bev, short what, void *arg)
{
    proxy_t *p = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    struct bufferevent *other = bev == p->up ? p->down : p->up;
    if (other)
        bufferevent_write_buffer(other, bufferevent_get_input(bev));
    bufferevent_free(bev);
    if (bev == p->up)
        p->up = NULL;
    else
        p->down = NULL;
    if (!other || evbuffer_get_length(bufferevent_get_output(other)) == 0) {
        proxy_free(p);
        return;
    }
    /* let the other side's last bytes go out (bounded), then close */
    bufferevent_disable(other, EV_READ);
    struct timeval tv = {10, 0};
    bufferevent_set_timeouts(other, NULL, &tv);
}

static void start_splice(proxy_t *p)
{
    k1s_api_req_t *r = p->r;
    struct bufferevent *down = k1s_http_hijack(r->http);
    if (!down) {
        proxy_fail(p, "upgrade requests need HTTP/1.1");
        return;
    }
    r->http = NULL;
    p->r = NULL;
    k1s_api_req_done(r, 101);
    p->down = down;
    bufferevent_setwatermark(p->up, EV_WRITE, SPLICE_HIGH / 2, 0);
    bufferevent_setwatermark(p->down, EV_WRITE, SPLICE_HIGH / 2, 0);
    bufferevent_setcb(p->up, splice_read, splice_write, splice_event, p);
    bufferevent_setcb(p->down, splice_read, splice_write, splice_event, p);
    bufferevent_enable(p->up, EV_READ | EV_WRITE);
    bufferevent_enable(p->down, EV_READ | EV_WRITE);
    if (evbuffer_get_length(bufferevent_get_input(p->down)))
        splice_read(p->down, p);
    if (evbuffer_get_length(bufferevent_get_input(p->up)))
        splice_read(p->up, p);
}

/* ---------- streaming an answer (logs, proxied GETs) ---------- */

static bool answer_pump(proxy_t *p);
static void finish_answer(proxy_t *p);

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    proxy_t *p = arg;
    if (!p->up_eof)
        bufferevent_enable(p->up, EV_READ);
    if (answer_pump(p) && p->up_eof && !evbuffer_get_length(bufferevent_get_input(p->up)))
        finish_answer(p);
}

static void client_gone(k1s_http_req_t *req, void *arg)
{
    proxy_t *p = arg;
    k1s_api_req_t *r = p->r;
    p->r = NULL;
    k1s_http_stream_end(r->http);
    r->http = NULL;
    k1s_api_req_done(r, 200);
    proxy_free(p);
}

static void finish_answer(proxy_t *p)
{
    k1s_api_req_t *r = p->r;
    p->r = NULL;
    k1s_http_stream_end(r->http);
    r->http = NULL;
    k1s_api_req_done(r, 200);
    proxy_free(p);
}

/* Reads the answer head: 1 read (the answer to the client started), 0 more input needed,
 * -1 failed (p answered and freed). */
static int parse_answer_head(proxy_t *p, struct evbuffer *in)
{
    struct evbuffer_ptr e = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (e.pos < 0) {
        if (evbuffer_get_length(in) <= HEAD_MAX)
            return 0;
        proxy_fail(p, "error reading from the kubelet at %s: answer head too large", p->dial);
        return -1;
    }
    size_t hl = (size_t)e.pos + 4;
    char *h = k1s_xmalloc(hl + 1);
    evbuffer_remove(in, h, hl);
    h[hl] = 0;
    int status = 0;
    if (sscanf(h, "HTTP/1.%*d %d", &status) != 1 || status < 100) {
        free(h);
        proxy_fail(p, "error reading from the kubelet at %s: malformed answer", p->dial);
        return -1;
    }
    char ctype[128] = "text/plain";
    p->body_left = -1;
    for (char *line = strstr(h, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
        char *l = line + 2;
        if (!strncasecmp(l, "Content-Type:", 13)) {
            char *v = l + 13;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r");
            if (n < sizeof(ctype)) {
                memcpy(ctype, v, n);
                ctype[n] = 0;
            }
        } else if (!strncasecmp(l, "Content-Length:", 15)) {
            p->body_left = strtoll(l + 15, NULL, 10);
        } else if (!strncasecmp(l, "Transfer-Encoding:", 18) && strstr(l, "chunked")) {
            p->chunked = true;
        }
    }
    free(h);
    if (p->chunked)
        p->body_left = -1;
    p->streaming = true;
    k1s_http_stream_start(p->r->http, status, ctype, client_gone, p);
    return 1;
}

/* Chunked framing: consumes size lines, CRLFs and the trailer; returns false to wait for
 * more input, true when data (p->body_left bytes) or the end (p->chunk_state 4) is next. */
static bool chunk_step(proxy_t *p, struct evbuffer *in)
{
    for (;;) {
        if (p->chunk_state == 1)
            return true;
        size_t n;
        char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
        if (!line)
            return false;
        if (p->chunk_state == 0) {
            long long size = strtoll(line, NULL, 16);
            p->chunk_state = size > 0 ? 1 : 3;
            p->body_left = size;
        } else if (p->chunk_state == 2) {
            p->chunk_state = 0;
        } else if (p->chunk_state == 3 && n == 0) {
            free(line);
            p->chunk_state = 4;
            return true;
        }
        free(line);
    }
}

/* Moves the answer's body on to the client; returns false if p is gone (answered and freed,
 * or failed). */
static bool answer_pump(proxy_t *p)
{
    struct bufferevent *bev = p->up;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!p->streaming) {
        int r = parse_answer_head(p, in);
        if (r <= 0)
            return r == 0;
    }
    k1s_http_req_t *h = p->r->http;
    size_t n;
    for (;;) {
        if (p->chunked) {
            if (!chunk_step(p, in))
                return true;
            if (p->chunk_state == 4) {
                finish_answer(p);
                return false;
            }
        }
        n = evbuffer_get_length(in);
        if (n == 0)
            break;
        if (p->body_left >= 0 && (long long)n > p->body_left)
            n = (size_t)p->body_left;
        if (n == 0)
            break;
        if (n > 65536)
            n = 65536;
        unsigned char *d = evbuffer_pullup(in, (ssize_t)n);
        k1s_http_stream_write(h, (const char *)d, n);
        evbuffer_drain(in, n);
        if (p->body_left >= 0)
            p->body_left -= (long long)n;
        if (p->chunked && p->body_left == 0)
            p->chunk_state = 2;
        if (k1s_http_stream_pending(h) > SPLICE_HIGH) {
            /* a slow client: stop reading the kubelet for a moment */
            bufferevent_disable(bev, EV_READ);
            struct timeval tv = {0, 50000};
            evtimer_add(p->timer, &tv);
            return true;
        }
    }
    if (p->body_left == 0 && !p->chunked) {
        finish_answer(p);
        return false;
    }
    return true;
}

static void answer_read(struct bufferevent *bev, void *arg)
{
    answer_pump(arg);
}

static void answer_event(struct bufferevent *bev, short what, void *arg)
{
    proxy_t *p = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    if (!p->streaming) {
        int r = parse_answer_head(p, bufferevent_get_input(bev));
        if (r < 0)
            return;
        if (r == 0) {
            proxy_fail(p, "error reading from the kubelet at %s: connection closed", p->dial);
            return;
        }
    }
    /* the connection ended the body (or broke it off); a slow client still gets the rest */
    p->up_eof = true;
    bufferevent_disable(bev, EV_READ);
    if (answer_pump(p) && !evbuffer_get_length(bufferevent_get_input(bev)))
        finish_answer(p);
}

/* ---------- dialing ---------- */

static void tls_event(struct bufferevent *bev, short what, void *arg)
{
    proxy_t *p = arg;
    if (what & BEV_EVENT_CONNECTED) {
        evtimer_del(p->timer);
        bufferevent_write(bev, p->head, strlen(p->head));
        if (p->upgrade) {
            start_splice(p);
            return;
        }
        bufferevent_setcb(bev, answer_read, NULL, answer_event, p);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
        if (vr != X509_V_OK)
            proxy_fail(p,
                       "error dialing backend: tls: failed to verify certificate of %s: x509: %s",
                       p->dial, X509_verify_cert_error_string(vr));
        else if (e)
            proxy_fail(p, "error dialing backend: remote error: tls: %s (%s)",
                       ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "handshake",
                       p->dial);
        else
            proxy_fail(p, "error dialing backend: read tcp %s: connection reset by peer", p->dial);
    }
}

static void dial_timeout(evutil_socket_t fd, short what, void *arg)
{
    proxy_t *p = arg;
    if (p->streaming) {
        resume_cb(fd, what, arg);
        return;
    }
    proxy_fail(p, "error dialing backend: dial tcp %s: i/o timeout", p->dial);
}

static void on_connect(evutil_socket_t fd, short what, void *arg)
{
    proxy_t *p = arg;
    int se = 0;
    socklen_t sl = sizeof(se);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &se, &sl) < 0)
        se = errno;
    event_free(p->ev);
    p->ev = NULL;
    if (se) {
        proxy_fail(p, "error dialing backend: dial tcp %s: connect: %s", p->dial,
                   se == ECONNREFUSED ? "connection refused" : strerror(se));
        return;
    }
    k1s_err_t err = {0};
    SSL_CTX *ctx = client_ctx(p->r->api, &err);
    if (!ctx) {
        proxy_fail(p, "error dialing backend: %s", err.msg);
        return;
    }
    SSL *ssl = SSL_new(ctx);
    char host[64];
    snprintf(host, sizeof(host), "%s", p->dial);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = 0;
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    if (p->skip_verify)
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    int one = 1;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* a session to a node that vanished (power cut) must not stay open forever */
    setsockopt(p->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    p->up = bufferevent_openssl_socket_new(p->base, p->fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                           BEV_OPT_CLOSE_ON_FREE);
    p->fd = -1;
    bufferevent_openssl_set_allow_dirty_shutdown(p->up, 1);
    bufferevent_setcb(p->up, NULL, NULL, tls_event, p);
    bufferevent_enable(p->up, EV_READ | EV_WRITE);
}

static void dial(proxy_t *p, const char *ip, int port)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
        sl = sizeof(*s6);
        snprintf(p->dial, sizeof(p->dial), "[%s]:%d", ip, port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1) {
            proxy_fail(p, "error dialing backend: node address \"%s\" is not an IP address", ip);
            return;
        }
        sl = sizeof(*s4);
        snprintf(p->dial, sizeof(p->dial), "%s:%d", ip, port);
    }
    p->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        proxy_fail(p, "error dialing backend: socket: %s", strerror(errno));
        return;
    }
    p->timer = evtimer_new(p->base, dial_timeout, p);
    struct timeval tv = {DIAL_TIMEOUT_S, 0};
    evtimer_add(p->timer, &tv);
    if (connect(p->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
        int e = errno;
        proxy_fail(p, "error dialing backend: dial tcp %s: connect: %s", p->dial,
                   e == ECONNREFUSED ? "connection refused" : strerror(e));
        return;
    }
    p->ev = event_new(p->base, p->fd, EV_WRITE, on_connect, p);
    event_add(p->ev, NULL);
}

/* ---------- requests ---------- */

static bool skip_header(const char *name, bool upgrade)
{
    static const char *const drop[] = {"Host",
                                       "Authorization",
                                       "Content-Length",
                                       "Transfer-Encoding",
                                       "Keep-Alive",
                                       "Proxy-Connection",
                                       "TE",
                                       "Accept-Encoding",
                                       NULL};
    for (int i = 0; drop[i]; i++)
        if (!strcasecmp(name, drop[i]))
            return true;
    if (!strncasecmp(name, "Impersonate-", 12))
        return true;
    if (!upgrade && (!strcasecmp(name, "Connection") || !strcasecmp(name, "Upgrade")))
        return true;
    return false;
}

/* Finds the kubelet of node `node` and starts forwarding r to `target` there; skip_verify:
 * do not verify the kubelet's certificate. */
static void forward(k1s_api_req_t *r, const char *node, const char *target, bool skip_verify)
{
    const k1s_resource_t *nres = k1s_registry_find("", "v1", "nodes");
    char *key = k1s_obj_key(nres, NULL, node);
    k1s_kv_t *kv = k1s_store_get_latest(r->api->store, key);
    free(key);
    if (!kv) {
        k1s_api_fail(r, 404, "NotFound", "nodes \"%s\" not found", node);
        return;
    }
    json_t *n = k1s_obj_decode(kv->value);
    json_t *st = json_object_get(n, "status");
    /* the InternalIP address, else the first one */
    const char *ip = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(st, "addresses"), i, a)
    {
        const char *t = json_string_value(json_object_get(a, "type"));
        const char *v = json_string_value(json_object_get(a, "address"));
        if (v && k1s_streq(t, "InternalIP")) {
            ip = v;
            break;
        }
        if (v && !ip)
            ip = v;
    }
    json_int_t port = json_integer_value(json_object_get(
        json_object_get(json_object_get(st, "daemonEndpoints"), "kubeletEndpoint"), "Port"));
    if (port <= 0 || port > 65535)
        port = 10250;
    if (!ip) {
        json_decref(n);
        k1s_api_fail(r, 503, "ServiceUnavailable",
                     "error dialing backend: node \"%s\" has no address", node);
        return;
    }
    char *ipc = k1s_xstrdup(ip);
    json_decref(n);

    k1s_http_req_t *h = r->http;
    proxy_t *p = k1s_xcalloc(1, sizeof(*p));
    p->r = r;
    p->base = r->api->base;
    p->fd = -1;
    p->skip_verify = skip_verify;
    const char *up = k1s_http_req_header(h, "Upgrade");
    p->upgrade = up && *up;
    k1s_buf_t b = K1S_BUF_INIT;
    bool v6 = strchr(ipc, ':') != NULL;
    k1s_buf_printf(&b, "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\n%s", h->method, target, v6 ? "[" : "",
                   ipc, v6 ? "]" : "", (int)port, p->upgrade ? "" : "Connection: close\r\n");
    const char *name;
    const char *v;
    for (int k = 0; (v = k1s_http_req_header_prefixed(h, "", k, &name)); k++)
        if (!skip_header(name, p->upgrade))
            k1s_buf_printf(&b, "%s: %s\r\n", name, v);
    k1s_buf_puts(&b, "\r\n");
    p->head = k1s_buf_steal(&b);
    dial(p, ipc, (int)port);
    free(ipc);
}

/* pods/exec etc. over a WebSocket arrive as GET: upstream also wants `create`. */
static bool authorize_connect(k1s_api_req_t *r)
{
    if (strcmp(r->http->method, "GET") || !strcmp(r->sub, "log") || !r->authz)
        return true;
    k1s_authz_attrs_t a = r->authz->a;
    a.verb = "create";
    char reason[256] = "";
    if (k1s_authz_decide(r->api->authz, &a, reason, sizeof(reason)))
        return true;
    char *m = k1s_authz_forbidden_message(&a, reason);
    k1s_authz_fail(r, "pods", "", r->name, m);
    free(m);
    return false;
}

static const char *container_of(k1s_api_req_t *r, const json_t *pod, bool *ok)
{
    const char *c = k1s_http_req_query(r->http, "container");
    const json_t *spec = json_object_get(pod, "spec");
    const json_t *cs = json_object_get(spec, "containers");
    *ok = true;
    if (!c || !*c) {
        if (json_array_size(cs) == 1)
            return json_string_value(json_object_get(json_array_get(cs, 0), "name"));
        k1s_buf_t b = K1S_BUF_INIT;
        size_t i;
        json_t *x;
        json_array_foreach(cs, i, x)
        {
            k1s_buf_puts(&b, i ? " " : "");
            k1s_buf_puts(&b, json_string_value(json_object_get(x, "name")));
        }
        k1s_api_fail(r, 400, "BadRequest",
                     "a container name must be specified for pod %s, choose one of: [%s]", r->name,
                     b.data ? b.data : "");
        k1s_buf_free(&b);
        *ok = false;
        return NULL;
    }
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
    for (size_t l = 0; l < 3; l++) {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(spec, lists[l]), i, x)
        {
            if (k1s_streq(json_string_value(json_object_get(x, "name")), c))
                return c;
        }
    }
    k1s_api_fail(r, 400, "BadRequest", "container %s is not valid for pod %s", c, r->name);
    *ok = false;
    return NULL;
}

void k1s_proxy_pod(k1s_api_req_t *r)
{
    bool is_log = !strcmp(r->sub, "log");
    r->verb = is_log ? "get" : !strcmp(r->http->method, "GET") ? "get" : "create";
    if (strcmp(r->http->method, "GET") && (is_log || strcmp(r->http->method, "POST"))) {
        k1s_api_fail(r, 405, "MethodNotAllowed",
                     "the server does not allow this method on the requested resource");
        return;
    }
    if (!authorize_connect(r))
        return;
    r->key = k1s_obj_key(r->res, r->ns, r->name);
    k1s_kv_t *kv = k1s_store_get_latest(r->api->store, r->key);
    if (!kv) {
        k1s_api_not_found(r, r->name);
        return;
    }
    json_t *stored = k1s_obj_decode(kv->value);
    r->old = k1s_convert_from_storage(r->res, stored);
    json_decref(stored);
    const char *node = k1s_obj_str(r->old, "spec.nodeName");
    bool ok = true;
    const char *ctr = strcmp(r->sub, "portforward") ? container_of(r, r->old, &ok) : "";
    if (!ok)
        return;
    if (!node || !*node) {
        k1s_api_fail(r, 400, "BadRequest",
                     "container \"%s\" in pod \"%s\" is waiting to start: ContainerCreating",
                     ctr ? ctr : "", r->name);
        return;
    }
    const char *phase = k1s_obj_str(r->old, "status.phase");
    if (!is_log && phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
        k1s_api_fail(r, 400, "BadRequest",
                     "cannot %s into a container in a completed pod; current phase is %s",
                     !strcmp(r->sub, "portforward") ? "port-forward" : r->sub, phase);
        return;
    }
    const char *q = r->http->query;
    char *target;
    if (is_log)
        target =
            k1s_xasprintf("/containerLogs/%s/%s/%s%s%s", r->ns, r->name, ctr, *q ? "?" : "", q);
    else if (!strcmp(r->sub, "portforward"))
        target = k1s_xasprintf("/portForward/%s/%s%s%s", r->ns, r->name, *q ? "?" : "", q);
    else
        target = k1s_xasprintf("/%s/%s/%s/%s%s%s", r->sub, r->ns, r->name, ctr, *q ? "?" : "", q);
    char *nodec = k1s_xstrdup(node);
    /* kubectl logs --insecure-skip-tls-verify-backend: for a node whose serving
     * certificate is broken; logs only, as upstream */
    const char *isv = k1s_http_req_query(r->http, "insecureSkipTLSVerifyBackend");
    forward(r, nodec, target, is_log && isv && !strcmp(isv, "true"));
    free(nodec);
    free(target);
}

void k1s_proxy_node(k1s_api_req_t *r, const char *path)
{
    r->verb = "proxy";
    const char *q = r->http->query;
    char *target = k1s_xasprintf("/%s%s%s", path, *q ? "?" : "", q);
    char *node = k1s_xstrdup(r->name);
    forward(r, node, target, false);
    free(node);
    free(target);
}

SSL_CTX *k1s_proxy_kubelet_ctx(k1s_apiserver_t *api, k1s_err_t *err)
{
    return client_ctx(api, err);
}
