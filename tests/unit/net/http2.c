/*
 * Unit tests for src/net/http2.c: a real TLS server on 127.0.0.1:0 runs its
 * event loop in a thread; the test body is an HTTP/2 client on libnghttp2
 * over a blocking OpenSSL socket, so windows, resets and timing are the
 * test's choice: flow control shows in k1s_http_stream_pending(), a reset
 * stream gets on_close, idle connections get GOAWAY, the per-connection
 * identity holds for every stream, and freeing the server with requests
 * still held is safe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "net/http.h"
#include "net/tls.h"
#include "server/pki.h"

#define STREAM_BYTES (1u << 20)

/* ---- server side (runs on the server thread) ---- */

typedef struct srvctx {
    struct event_base *base;
    k1s_http_server_t *srv;
    struct event *poll;
    pthread_t th;
    int port;
    atomic_bool stop;
    atomic_int release, nheld, on_close_calls, closed_in_on_close, free_server, freed, conns;
    atomic_long pending; /* k1s_http_stream_pending of the open stream, sampled */
    k1s_http_req_t *held[8];
    k1s_http_req_t *stream;
} srvctx_t;

static void on_close(k1s_http_req_t *req, void *arg)
{
    srvctx_t *s = arg;
    atomic_fetch_add(&s->on_close_calls, 1);
    if (k1s_http_req_closed(req))
        atomic_fetch_add(&s->closed_in_on_close, 1);
    if (s->stream == req)
        s->stream = NULL;
    k1s_http_stream_end(req);
}

static void handler(k1s_http_req_t *req, void *arg)
{
    srvctx_t *s = arg;
    if (strcmp(req->path, "/info") == 0) {
        k1s_buf_t b = K1S_BUF_INIT;
        const char *host = k1s_http_req_header(req, "Host");
        const char *x = k1s_http_req_query(req, "x");
        k1s_buf_printf(&b, "%s %s|x=%s|host=%s|cert=%d|cn=%s", req->method, req->path,
                       x ? x : "(null)", host ? host : "(null)", req->peer->has_cert,
                       req->peer->cn ? req->peer->cn : "");
        k1s_http_respond(req, 200, "text/plain", b.data, b.len);
        k1s_buf_free(&b);
    } else if (strcmp(req->path, "/echo") == 0) {
        k1s_http_add_header(req, "X-Custom", "Value");
        k1s_http_add_header(req, "Content-Length", "999"); /* ignored: the server frames */
        k1s_http_add_header(req, "Connection", "close");   /* ignored: not on HTTP/2 */
        k1s_http_respond(req, 200, "application/octet-stream", req->body, req->body_len);
    } else if (strcmp(req->path, "/hold") == 0) {
        int n = atomic_load(&s->nheld);
        s->held[n] = req;
        atomic_store(&s->nheld, n + 1);
    } else if (strcmp(req->path, "/stream") == 0) {
        k1s_http_stream_start(req, 200, "application/json", on_close, s);
        static char chunk[65536];
        memset(chunk, 'x', sizeof(chunk));
        for (size_t i = 0; i < STREAM_BYTES / sizeof(chunk); i++)
            assert_int_equal(k1s_http_stream_write(req, chunk, sizeof(chunk)), 0);
        s->stream = req;
    } else {
        k1s_http_respond_status(req, 404, "NotFound", "no");
    }
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    srvctx_t *s = arg;
    if (s->srv)
        atomic_store(&s->conns, k1s_http_server_connections(s->srv));
    atomic_store(&s->pending, s->stream ? (long)k1s_http_stream_pending(s->stream) : -1);
    if (atomic_exchange(&s->release, 0)) {
        int n = atomic_load(&s->nheld);
        for (int i = 0; i < n; i++)
            k1s_http_respond(s->held[i], 200, "text/plain", "released", 8);
        atomic_store(&s->nheld, 0);
    }
    if (atomic_exchange(&s->free_server, 0)) {
        k1s_http_server_free(s->srv);
        s->srv = NULL;
        atomic_store(&s->freed, 1);
    }
    if (atomic_load(&s->stop)) {
        if (s->stream) {
            k1s_http_stream_end(s->stream);
            s->stream = NULL;
        }
        k1s_http_server_free(s->srv);
        s->srv = NULL;
        event_del(s->poll);
        struct timeval tv = {0, 20000};
        event_base_loopexit(s->base, &tv);
    }
}

static void *server_main(void *arg)
{
    srvctx_t *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

static char tmpdir[64];

static SSL_CTX *server_tls(void)
{
    char *crt = k1s_xasprintf("%s/serving-kube-apiserver.crt", tmpdir);
    char *key = k1s_xasprintf("%s/serving-kube-apiserver.key", tmpdir);
    char *ca = k1s_xasprintf("%s/client-ca.crt", tmpdir);
    k1s_err_t err = {0};
    SSL_CTX *ctx = k1s_tls_server_ctx(crt, key, ca, &err);
    assert_non_null(ctx);
    free(crt);
    free(key);
    free(ca);
    return ctx;
}

static srvctx_t *server_start(const k1s_http_opts_t *opts)
{
    srvctx_t *s = k1s_xcalloc(1, sizeof(*s));
    s->base = event_base_new();
    SSL_CTX *ctx = server_tls();
    s->srv = k1s_http_server_new(s->base, ctx, opts, handler, s);
    SSL_CTX_free(ctx);
    k1s_err_t err = {0};
    assert_int_equal(k1s_http_server_listen(s->srv, "127.0.0.1", 0, &err), 0);
    s->port = k1s_http_server_port(s->srv);
    atomic_store(&s->pending, -1);
    s->poll = event_new(s->base, -1, EV_PERSIST, poll_cb, s);
    struct timeval tv = {0, 1000};
    event_add(s->poll, &tv);
    pthread_create(&s->th, NULL, server_main, s);
    return s;
}

static void server_stop(srvctx_t *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    event_free(s->poll);
    event_base_free(s->base);
    free(s);
}

static bool wait_int(atomic_int *v, int want, int ms)
{
    for (int i = 0; i < ms && atomic_load(v) != want; i++)
        usleep(1000);
    return atomic_load(v) == want;
}

/* ---- client side (the test thread) ---- */

typedef struct cstream {
    int32_t id;
    int status;
    bool closed;
    uint32_t error;
    k1s_buf_t body;
    char hdrs[1024]; /* "name: value\n" of the response */
} cstream_t;

typedef struct cl {
    int fd;
    SSL *ssl;
    nghttp2_session *ng;
    bool dead, goaway;
    uint32_t max_streams;
    const char *upload;
    size_t upload_len;
} cl_t;

static ssize_t cl_send(nghttp2_session *ng, const uint8_t *d, size_t n, int flags, void *ud)
{
    cl_t *c = ud;
    int w = SSL_write(c->ssl, d, (int)n);
    return w > 0 ? w : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int cl_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    cstream_t *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!s)
        return 0;
    if (nl == 7 && !memcmp(name, ":status", 7))
        s->status = atoi((const char *)value);
    size_t used = strlen(s->hdrs);
    snprintf(s->hdrs + used, sizeof(s->hdrs) - used, "%.*s: %.*s\n", (int)nl, name, (int)vl, value);
    return 0;
}

static int cl_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                   void *ud)
{
    cstream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (s)
        k1s_buf_append(&s->body, (const char *)d, n);
    return 0;
}

static int cl_stream_close(nghttp2_session *ng, int32_t id, uint32_t err, void *ud)
{
    cstream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (s) {
        s->closed = true;
        s->error = err;
    }
    return 0;
}

static int cl_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    cl_t *c = ud;
    if (f->hd.type == NGHTTP2_GOAWAY)
        c->goaway = true;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK))
        for (size_t i = 0; i < f->settings.niv; i++)
            if (f->settings.iv[i].settings_id == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                c->max_streams = f->settings.iv[i].value;
    return 0;
}

/* Connects with ALPN offer alpn; h2: start an HTTP/2 session (manual window updates). */
static cl_t *cl_connect(int port, const char *alpn, size_t alpn_len, bool h2)
{
    cl_t *c = k1s_xcalloc(1, sizeof(*c));
    char *ca = k1s_xasprintf("%s/server-ca.crt", tmpdir);
    char *crt = k1s_xasprintf("%s/client-admin.crt", tmpdir);
    char *key = k1s_xasprintf("%s/client-admin.key", tmpdir);
    k1s_err_t err = {0};
    SSL_CTX *ctx = k1s_tls_client_ctx(ca, crt, key, &err);
    assert_non_null(ctx);
    free(ca);
    free(crt);
    free(key);
    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)alpn, (unsigned)alpn_len);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), "127.0.0.1");
    SSL_set_fd(c->ssl, c->fd);
    assert_int_equal(SSL_connect(c->ssl), 1);
    if (!h2)
        return c;
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, cl_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, cl_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cl_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cl_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cl_frame);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    /* the test decides when the server's window opens */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&c->ng, cbs, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
    return c;
}

static const char *cl_alpn(cl_t *c)
{
    const unsigned char *p;
    unsigned n;
    SSL_get0_alpn_selected(c->ssl, &p, &n);
    static char buf[32];
    snprintf(buf, sizeof(buf), "%.*s", (int)n, p ? (const char *)p : "");
    return buf;
}

static void cl_free(cl_t *c)
{
    if (c->ng)
        nghttp2_session_del(c->ng);
    SSL_free(c->ssl);
    close(c->fd);
    free(c);
}

/* Sends what is queued and reads for up to ms; false once the connection is gone. */
static bool cl_pump(cl_t *c, int ms)
{
    if (c->dead)
        return false;
    if (nghttp2_session_send(c->ng) != 0)
        return !(c->dead = true);
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (SSL_pending(c->ssl) == 0 && poll(&p, 1, ms) <= 0)
        return true;
    uint8_t buf[16384];
    do {
        int n = SSL_read(c->ssl, buf, sizeof(buf));
        if (n <= 0 || nghttp2_session_mem_recv(c->ng, buf, (size_t)n) < 0)
            return !(c->dead = true);
    } while (SSL_pending(c->ssl) > 0);
    if (nghttp2_session_send(c->ng) != 0)
        c->dead = true;
    return !c->dead;
}

static ssize_t cl_upload(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
                         nghttp2_data_source *src, void *ud)
{
    cl_t *c = ud;
    size_t n = c->upload_len < len ? c->upload_len : len;
    memcpy(buf, c->upload, n);
    c->upload += n;
    c->upload_len -= n;
    if (!c->upload_len)
        *fl |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static cstream_t *cl_request(cl_t *c, const char *method, const char *path, const char *body)
{
    cstream_t *s = k1s_xcalloc(1, sizeof(*s));
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0},
        {(uint8_t *)":authority", (uint8_t *)"k1s.test:6443", 10, 13, 0},
    };
    nghttp2_data_provider prd = {.read_callback = cl_upload};
    c->upload = body;
    c->upload_len = body ? strlen(body) : 0;
    s->id = nghttp2_submit_request(c->ng, NULL, nv, 4, body ? &prd : NULL, s);
    assert_true(s->id > 0);
    return s;
}

static bool cl_wait(cl_t *c, cstream_t *s, int ms)
{
    for (int i = 0; i < ms / 10 && !s->closed && cl_pump(c, 10); i++)
        ;
    return s->closed;
}

static void cs_free(cstream_t *s)
{
    k1s_buf_free(&s->body);
    free(s);
}

/* ---- tests ---- */

static void test_alpn_and_requests(void **state)
{
    srvctx_t *s = server_start(NULL);
    /* offered h2: HTTP/2; offered only http/1.1 (client-go's upgrades): HTTP/1.1 */
    cl_t *h1 = cl_connect(s->port, "\x08http/1.1", 9, false);
    assert_string_equal(cl_alpn(h1), "http/1.1");
    cl_free(h1);
    cl_t *c = cl_connect(s->port, "\x08http/1.1\x02h2", 12, true);
    assert_string_equal(cl_alpn(c), "h2");
    /* two concurrent streams, the connection's client certificate on each */
    cstream_t *a = cl_request(c, "GET", "/info?x=a%20b", NULL);
    cstream_t *b = cl_request(c, "GET", "/info", NULL);
    assert_true(cl_wait(c, a, 3000) && cl_wait(c, b, 3000));
    assert_int_equal(a->status, 200);
    assert_string_equal(a->body.data, "GET /info|x=a b|host=k1s.test:6443|cert=1|cn=system:admin");
    assert_non_null(strstr(b->body.data, "cert=1|cn=system:admin"));
    assert_non_null(strstr(a->hdrs, "content-length: 57\n"));
    assert_non_null(strstr(a->hdrs, "cache-control: no-cache, private\n"));
    cs_free(a);
    cs_free(b);
    /* a body, the handler's headers lowercased, framing headers dropped */
    cstream_t *e = cl_request(c, "POST", "/echo", "hello body");
    assert_true(cl_wait(c, e, 3000));
    assert_string_equal(e->body.data, "hello body");
    assert_non_null(strstr(e->hdrs, "x-custom: Value\n"));
    assert_non_null(strstr(e->hdrs, "content-length: 10\n"));
    assert_null(strstr(e->hdrs, "999"));
    assert_null(strstr(e->hdrs, "connection"));
    cs_free(e);
    /* HEAD: the length, no body */
    cstream_t *h = cl_request(c, "HEAD", "/info", NULL);
    assert_true(cl_wait(c, h, 3000));
    assert_int_equal(h->status, 200);
    assert_int_equal(h->body.len, 0);
    assert_non_null(strstr(h->hdrs, "content-length: 61\n")); /* "HEAD /info|x=(null)|..." */
    cs_free(h);
    cl_free(c);
    server_stop(s);
}

static void test_flow_control_and_reset(void **state)
{
    srvctx_t *s = server_start(NULL);
    cl_t *c = cl_connect(s->port, "\x02h2", 3, true);
    cstream_t *st = cl_request(c, "GET", "/stream", NULL);
    /* the client's windows (64 KiB) let only so much out: the rest is pending */
    for (int i = 0; i < 100; i++)
        cl_pump(c, 10);
    assert_int_equal(st->status, 200);
    assert_true(st->body.len <= 65535);
    long pending = atomic_load(&s->pending);
    assert_true(pending >= (long)(STREAM_BYTES - 65535));
    assert_true(pending <= (long)STREAM_BYTES);
    /* open the windows: everything arrives and nothing stays pending */
    for (int i = 0; i < 400 && st->body.len < STREAM_BYTES; i++) {
        nghttp2_session_consume(c->ng, st->id, st->body.len);
        nghttp2_submit_window_update(c->ng, NGHTTP2_FLAG_NONE, 0, 1 << 20);
        nghttp2_submit_window_update(c->ng, NGHTTP2_FLAG_NONE, st->id, 1 << 20);
        cl_pump(c, 10);
    }
    assert_int_equal(st->body.len, STREAM_BYTES);
    for (int i = 0; i < 100 && atomic_load(&s->pending) != 0; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&s->pending), 0);
    assert_false(st->closed);
    /* RST_STREAM: the server's on_close runs once, with the request closed */
    nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    cl_pump(c, 10);
    assert_true(wait_int(&s->on_close_calls, 1, 3000));
    assert_int_equal(atomic_load(&s->closed_in_on_close), 1);
    /* the connection still serves */
    cstream_t *a = cl_request(c, "GET", "/info", NULL);
    assert_true(cl_wait(c, a, 3000));
    assert_int_equal(a->status, 200);
    cs_free(a);
    cs_free(st);
    cl_free(c);
    assert_true(wait_int(&s->conns, 0, 3000));
    assert_int_equal(atomic_load(&s->on_close_calls), 1);
    server_stop(s);
}

static void test_idle_goaway_and_max_streams(void **state)
{
    k1s_http_opts_t o = {.idle_timeout_s = 1, .h2_max_streams = 2};
    srvctx_t *s = server_start(&o);
    cl_t *c = cl_connect(s->port, "\x02h2", 3, true);
    /* three held requests before the client knows the limit of two: the third is refused */
    cstream_t *r[3];
    for (int i = 0; i < 3; i++)
        r[i] = cl_request(c, "GET", "/hold", NULL);
    for (int i = 0; i < 200 && (atomic_load(&s->nheld) < 2 || !r[2]->closed); i++)
        cl_pump(c, 10);
    assert_int_equal(c->max_streams, 2);
    assert_int_equal(atomic_load(&s->nheld), 2);
    assert_true(r[2]->closed);
    assert_int_equal(r[2]->error, NGHTTP2_REFUSED_STREAM);
    cs_free(r[2]);
    atomic_store(&s->release, 1);
    for (int k = 0; k < 2; k++) {
        assert_true(cl_wait(c, r[k], 3000));
        assert_string_equal(r[k]->body.data, "released");
        cs_free(r[k]);
    }
    /* knowing the limit, the client queues the third until a stream is free */
    for (int i = 0; i < 3; i++)
        r[i] = cl_request(c, "GET", "/hold", NULL);
    for (int i = 0; i < 200 && atomic_load(&s->nheld) < 2; i++)
        cl_pump(c, 10);
    for (int i = 0; i < 20; i++)
        cl_pump(c, 10);
    assert_int_equal(atomic_load(&s->nheld), 2);
    atomic_store(&s->release, 1);
    for (int i = 0; i < 200 && atomic_load(&s->release); i++)
        cl_pump(c, 10);
    for (int i = 0; i < 200 && atomic_load(&s->nheld) < 1; i++)
        cl_pump(c, 10);
    assert_int_equal(atomic_load(&s->nheld), 1);
    atomic_store(&s->release, 1);
    for (int k = 0; k < 3; k++) {
        assert_true(cl_wait(c, r[k], 3000));
        assert_int_equal(r[k]->status, 200);
        assert_string_equal(r[k]->body.data, "released");
        cs_free(r[k]);
    }
    /* no streams for idle_timeout: GOAWAY, then the server closes */
    uint64_t t0 = k1s_now_ns();
    for (int i = 0; i < 300 && !c->dead; i++)
        cl_pump(c, 10);
    assert_true(c->goaway);
    assert_true(c->dead);
    assert_true(k1s_now_ns() - t0 > 500000000ull);
    cl_free(c);
    assert_true(wait_int(&s->conns, 0, 2000));
    server_stop(s);
}

static ssize_t stall_upload(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
                            nghttp2_data_source *src, void *ud)
{
    int *sent = src->ptr;
    if (*sent)
        return NGHTTP2_ERR_DEFERRED; /* never more */
    *sent = 1;
    memcpy(buf, "{", 1);
    return 1;
}

static void test_stalled_body_is_reset(void **state)
{
    k1s_http_opts_t o = {.body_timeout_s = 1};
    srvctx_t *s = server_start(&o);
    cl_t *c = cl_connect(s->port, "\x02h2", 3, true);
    cstream_t *st = k1s_xcalloc(1, sizeof(*st));
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":path", (uint8_t *)"/echo", 5, 5, 0},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0},
        {(uint8_t *)":authority", (uint8_t *)"x", 10, 1, 0},
    };
    int sent = 0;
    nghttp2_data_provider prd = {.source.ptr = &sent, .read_callback = stall_upload};
    st->id = nghttp2_submit_request(c->ng, NULL, nv, 4, &prd, st);
    /* one byte of body, then nothing: the server resets the stream (checked every 5 s) */
    assert_true(cl_wait(c, st, 9000));
    assert_int_equal(st->status, 0);
    assert_int_equal(st->error, NGHTTP2_CANCEL);
    /* the connection is fine */
    cstream_t *a = cl_request(c, "GET", "/info", NULL);
    assert_true(cl_wait(c, a, 3000));
    assert_int_equal(a->status, 200);
    cs_free(a);
    cs_free(st);
    cl_free(c);
    server_stop(s);
}

static void test_free_with_pending(void **state)
{
    srvctx_t *s = server_start(NULL);
    cl_t *c = cl_connect(s->port, "\x02h2", 3, true);
    cstream_t *held = cl_request(c, "GET", "/hold", NULL);
    cstream_t *st = cl_request(c, "GET", "/stream", NULL);
    for (int i = 0; i < 200 && (atomic_load(&s->nheld) < 1 || st->status == 0); i++)
        cl_pump(c, 10);
    assert_int_equal(st->status, 200);
    /* freeing the server closes the connection; the stream's on_close runs */
    atomic_store(&s->free_server, 1);
    assert_true(wait_int(&s->freed, 1, 2000));
    assert_int_equal(atomic_load(&s->on_close_calls), 1);
    for (int i = 0; i < 200 && !c->dead; i++)
        cl_pump(c, 10);
    assert_true(c->dead);
    /* answering the held request afterwards is safe (and frees the connection) */
    atomic_store(&s->release, 1);
    assert_true(wait_int(&s->nheld, 0, 2000));
    cs_free(held);
    cs_free(st);
    cl_free(c);
    server_stop(s);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int group_setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/k1s-http2-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    k1s_err_t err = {0};
    return k1s_pki_ensure(tmpdir, NULL, &err) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alpn_and_requests),
        cmocka_unit_test(test_flow_control_and_reset),
        cmocka_unit_test(test_idle_goaway_and_max_streams),
        cmocka_unit_test(test_stalled_body_is_reset),
        cmocka_unit_test(test_free_with_pending),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
