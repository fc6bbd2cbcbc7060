/*
 * Unit tests for src/net/http.c and src/net/tls.c: a real server on
 * 127.0.0.1:0 runs its event loop in a thread; the test body is the client,
 * talking raw HTTP/1.1 over blocking sockets (plain or OpenSSL), so every
 * byte on the wire is the test's choice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "net/http.h"
#include "net/tls.h"
#include "server/pki.h"

/* ---- server side (runs on the server thread) ---- */

typedef struct srvctx {
    struct event_base *base;
    k1s_http_server_t *srv;
    struct event *poll;
    pthread_t th;
    int port;
    atomic_bool stop;
    atomic_int release;     /* test asks: answer held requests */
    atomic_int nheld;       /* requests parked by /hold */
    atomic_int stream_step; /* test asks: next chunk + end of /stream */
    atomic_int on_close_calls;
    atomic_int closed_in_on_close;
    atomic_int free_server; /* test asks: free the server now */
    atomic_int freed;
    atomic_int conns, inflight; /* sampled by the poll timer */
    k1s_http_req_t *held[16];
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
    if (strcmp(req->path, "/hello") == 0) {
        k1s_http_respond(req, 200, "text/plain", "hello", 5);
    } else if (strcmp(req->path, "/echo") == 0) {
        k1s_http_add_header(req, "X-Method", req->method);
        k1s_http_add_header(req, "Content-Type", "text/x-echo");
        k1s_http_add_header(req, "Content-Length", "999"); /* ignored */
        k1s_http_add_header(req, "X-Evil", "a\r\nInjected: 1");
        k1s_http_respond(req, 200, "application/octet-stream", req->body, req->body_len);
    } else if (strcmp(req->path, "/info") == 0) {
        k1s_buf_t b = K1S_BUF_INIT;
        const char *x = k1s_http_req_query(req, "x"), *y = k1s_http_req_query(req, "y"),
                   *z = k1s_http_req_query(req, "z"), *w = k1s_http_req_query(req, "w");
        k1s_buf_printf(&b, "path=%s|x=%s|y=%s|z=%s|w=%s|cert=%d|cn=%s|orgs=", req->path,
                       x ? x : "(null)", y ? y : "(null)", z ? z : "(null)", w ? w : "(null)",
                       req->peer->has_cert, req->peer->cn ? req->peer->cn : "");
        for (char **o = req->peer->orgs; *o; o++)
            k1s_buf_printf(&b, "%s%s", o == req->peer->orgs ? "" : ",", *o);
        const char *ua = k1s_http_req_header(req, "user-AGENT");
        k1s_buf_printf(&b, "|ua=%s", ua ? ua : "(null)");
        k1s_http_respond(req, 200, "text/plain", b.data, b.len);
        k1s_buf_free(&b);
    } else if (strcmp(req->path, "/hold") == 0) {
        int n = atomic_load(&s->nheld);
        k1s_assert(n < (int)K1S_ARRAY_SIZE(s->held));
        s->held[n] = req;
        atomic_store(&s->nheld, n + 1);
    } else if (strcmp(req->path, "/stream") == 0) {
        k1s_http_stream_start(req, 200, "application/json", on_close, s);
        k1s_http_stream_write(req, "{\"n\":1}\n", 8);
        s->stream = req;
    } else if (strcmp(req->path, "/status") == 0) {
        k1s_http_respond_status(req, 404, "NotFound", "thing \"x\" not found");
    } else if (strcmp(req->path, "/nocontent") == 0) {
        k1s_http_respond(req, 204, NULL, NULL, 0);
    } else {
        k1s_http_respond(req, 404, "text/plain", "no", 2);
    }
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    srvctx_t *s = arg;
    if (s->srv) {
        atomic_store(&s->conns, k1s_http_server_connections(s->srv));
        atomic_store(&s->inflight, k1s_http_server_inflight(s->srv));
    }
    if (atomic_exchange(&s->release, 0)) {
        int n = atomic_load(&s->nheld);
        for (int i = 0; i < n; i++)
            k1s_http_respond(s->held[i], 200, "text/plain", "released", 8);
        atomic_store(&s->nheld, 0);
    }
    if (atomic_exchange(&s->stream_step, 0) && s->stream) {
        k1s_http_req_t *r = s->stream;
        s->stream = NULL;
        k1s_http_stream_write(r, "{\"n\":2}\n", 8);
        k1s_http_stream_end(r);
    }
    if (atomic_exchange(&s->free_server, 0)) {
        k1s_http_server_free(s->srv);
        s->srv = NULL;
        atomic_store(&s->freed, 1);
    }
    if (atomic_load(&s->stop)) {
        k1s_http_server_free(s->srv);
        s->srv = NULL;
        event_del(s->poll);
        /* one more short turn lets libevent finalize freed bufferevents */
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

static srvctx_t *server_start(SSL_CTX *ctx, const k1s_http_opts_t *opts)
{
    srvctx_t *s = k1s_xcalloc(1, sizeof(*s));
    s->base = event_base_new();
    assert_non_null(s->base);
    s->srv = k1s_http_server_new(s->base, ctx, opts, handler, s);
    k1s_err_t err = {0};
    assert_int_equal(k1s_http_server_listen(s->srv, "127.0.0.1", 0, &err), 0);
    s->port = k1s_http_server_port(s->srv);
    assert_true(s->port > 0);
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

/* Waits up to ms for *v to become want. */
static bool wait_int(atomic_int *v, int want, int ms)
{
    for (int i = 0; i < ms; i++) {
        if (atomic_load(v) == want)
            return true;
        usleep(1000);
    }
    return atomic_load(v) == want;
}

/* ---- client side (the test thread) ---- */

typedef struct cl {
    int fd;
    SSL *ssl;
    char buf[1 << 17];
    size_t len;
} cl_t;

static cl_t *cl_connect(int port, SSL_CTX *ctx)
{
    cl_t *c = k1s_xcalloc(1, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (ctx) {
        c->ssl = SSL_new(ctx);
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), "127.0.0.1");
        /* what client-go offers for upgrades; h2 is tested in tests/unit/net/http2.c */
        static const unsigned char alpn[] = "\x08http/1.1";
        SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn) - 1);
        SSL_set_fd(c->ssl, c->fd);
        int r = SSL_connect(c->ssl);
        if (r != 1)
            ERR_print_errors_fp(stderr);
        assert_int_equal(r, 1);
        const unsigned char *sel;
        unsigned int sellen;
        SSL_get0_alpn_selected(c->ssl, &sel, &sellen);
        assert_int_equal(sellen, 8);
        assert_memory_equal(sel, "http/1.1", 8);
    }
    return c;
}

static void cl_close(cl_t *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    free(c);
}

static void cl_send(cl_t *c, const char *data, size_t len)
{
    while (len) {
        ssize_t n =
            c->ssl ? SSL_write(c->ssl, data, (int)len) : send(c->fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void cl_sends(cl_t *c, const char *s)
{
    cl_send(c, s, strlen(s));
}

/* Reads more bytes into the buffer: >0 bytes, 0 EOF, -1 error/timeout. */
static ssize_t cl_fill(cl_t *c)
{
    if (c->len == sizeof(c->buf))
        return -1;
    ssize_t n;
    if (c->ssl) {
        n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, (int)n);
            ERR_clear_error();
            n = e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0) ? 0 : -1;
        }
    } else {
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (n < 0 && errno == ECONNRESET)
            n = 0;
    }
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

static void cl_consume(cl_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Returns the offset just past delim, reading as needed; -1 on EOF. */
static long cl_until(cl_t *c, const char *delim)
{
    for (;;) {
        char *p = memmem(c->buf, c->len, delim, strlen(delim));
        if (p)
            return (long)(p - c->buf + (long)strlen(delim));
        if (cl_fill(c) <= 0)
            return -1;
    }
}

static void cl_need(cl_t *c, size_t n)
{
    while (c->len < n)
        assert_true(cl_fill(c) > 0);
}

typedef struct resp {
    int status;
    char head[4096];
    k1s_buf_t body;
    int chunks;
} resp_t;

static const char *resp_header(resp_t *r, const char *name)
{
    static char val[512];
    char *p = r->head;
    while ((p = strstr(p, "\r\n"))) {
        p += 2;
        if (strncasecmp(p, name, strlen(name)) == 0 && p[strlen(name)] == ':') {
            const char *v = p + strlen(name) + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r");
            snprintf(val, sizeof(val), "%.*s", (int)n, v);
            return val;
        }
    }
    return NULL;
}

/* Reads one response; no_body for answers to HEAD. Returns false on EOF first. */
static bool cl_response(cl_t *c, resp_t *r, bool no_body)
{
    memset(r, 0, sizeof(*r));
    long end = cl_until(c, "\r\n\r\n");
    if (end < 0)
        return false;
    assert_true(end < (long)sizeof(r->head));
    memcpy(r->head, c->buf, (size_t)end);
    r->head[end] = 0;
    cl_consume(c, (size_t)end);
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    if (no_body || r->status == 204 || r->status == 100)
        return true;
    const char *te = resp_header(r, "Transfer-Encoding");
    if (te && strcmp(te, "chunked") == 0) {
        for (;;) {
            long e = cl_until(c, "\r\n");
            assert_true(e > 0);
            size_t n = strtoul(c->buf, NULL, 16);
            cl_consume(c, (size_t)e);
            cl_need(c, n + 2);
            k1s_buf_append(&r->body, c->buf, n);
            assert_memory_equal(c->buf + n, "\r\n", 2);
            cl_consume(c, n + 2);
            if (n == 0)
                break;
            r->chunks++;
        }
        return true;
    }
    const char *cl = resp_header(r, "Content-Length");
    assert_non_null(cl);
    size_t n = strtoul(cl, NULL, 10);
    cl_need(c, n);
    k1s_buf_append(&r->body, c->buf, n);
    cl_consume(c, n);
    return true;
}

/* True if the server closes the connection within ms. */
static bool cl_closed_within(cl_t *c, int ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    uint64_t end = k1s_now_ns() + (uint64_t)ms * 1000000;
    while (k1s_now_ns() < end) {
        if (poll(&p, 1, 50) == 1) {
            ssize_t n = cl_fill(c);
            if (n <= 0)
                return true;
        }
    }
    return false;
}

/* ---- PKI fixture for TLS ---- */

static char tmpdir[64];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int group_setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/k1s-http-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    k1s_err_t err = {0};
    char *a = k1s_xasprintf("%s/a", tmpdir), *b = k1s_xasprintf("%s/b", tmpdir);
    int r = k1s_pki_ensure(a, NULL, &err) | k1s_pki_ensure(b, NULL, &err);
    free(a);
    free(b);
    return r;
}

static int group_teardown(void **state)
{
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static SSL_CTX *server_tls(void)
{
    char *crt = k1s_xasprintf("%s/a/serving-kube-apiserver.crt", tmpdir);
    char *key = k1s_xasprintf("%s/a/serving-kube-apiserver.key", tmpdir);
    char *ca = k1s_xasprintf("%s/a/client-ca.crt", tmpdir);
    k1s_err_t err = {0};
    SSL_CTX *ctx = k1s_tls_server_ctx(crt, key, ca, &err);
    if (!ctx)
        fprintf(stderr, "%s\n", err.msg);
    assert_non_null(ctx);
    free(crt);
    free(key);
    free(ca);
    return ctx;
}

/* A client trusting pki "a"; with the admin cert of pki `who` ("a", "b" or NULL). */
static SSL_CTX *client_tls(const char *who)
{
    char *ca = k1s_xasprintf("%s/a/server-ca.crt", tmpdir);
    char *crt = who ? k1s_xasprintf("%s/%s/client-admin.crt", tmpdir, who) : NULL;
    char *key = who ? k1s_xasprintf("%s/%s/client-admin.key", tmpdir, who) : NULL;
    k1s_err_t err = {0};
    SSL_CTX *ctx = k1s_tls_client_ctx(ca, crt, key, &err);
    assert_non_null(ctx);
    free(ca);
    free(crt);
    free(key);
    return ctx;
}

/* ---- tests ---- */

static void test_keepalive(void **state)
{
    srvctx_t *s = server_start(NULL, NULL);
    cl_t *c = cl_connect(s->port, NULL);
    resp_t r;
    for (int i = 0; i < 2; i++) {
        cl_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_true(cl_response(c, &r, false));
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body.data, "hello");
        assert_string_equal(resp_header(&r, "Content-Type"), "text/plain");
        assert_string_equal(resp_header(&r, "Content-Length"), "5");
        assert_string_equal(resp_header(&r, "Cache-Control"), "no-cache, private");
        assert_non_null(resp_header(&r, "Date"));
        assert_null(resp_header(&r, "Connection"));
        k1s_buf_free(&r.body);
    }
    assert_true(wait_int(&s->conns, 1, 1000));
    /* Connection: close is honoured */
    cl_sends(c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_true(cl_response(c, &r, false));
    assert_string_equal(resp_header(&r, "Connection"), "close");
    k1s_buf_free(&r.body);
    assert_true(cl_closed_within(c, 2000));
    cl_close(c);

    /* HTTP/1.0 closes unless asked to keep alive */
    c = cl_connect(s->port, NULL);
    cl_sends(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(cl_response(c, &r, false));
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
    k1s_buf_free(&r.body);
    cl_sends(c, "GET /hello HTTP/1.0\r\n\r\n");
    assert_true(cl_response(c, &r, false));
    assert_string_equal(resp_header(&r, "Connection"), "close");
    k1s_buf_free(&r.body);
    assert_true(cl_closed_within(c, 2000));
    cl_close(c);
    server_stop(s);
}

static void test_pipelining_and_head(void **state)
{
    srvctx_t *s = server_start(NULL, NULL);
    cl_t *c = cl_connect(s->port, NULL);
    cl_sends(c, "\r\nPOST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                "HEAD /hello HTTP/1.1\r\n\r\n"
                "GET /info?x=1+2&y=%41%42&z&w=a%zz HTTP/1.1\nUser-Agent: t/1\n\n"
                "GET /a%20b/%2Fc HTTP/1.1\r\n\r\n"
                "GET /nocontent HTTP/1.1\r\n\r\n"
                "GET /status HTTP/1.1\r\n\r\n");
    resp_t r;
    assert_true(cl_response(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "abc");
    assert_string_equal(resp_header(&r, "X-Method"), "POST");
    assert_string_equal(resp_header(&r, "Content-Type"), "text/x-echo");
    assert_string_equal(resp_header(&r, "Content-Length"), "3");
    assert_string_equal(resp_header(&r, "X-Evil"), "a  Injected: 1");
    assert_null(resp_header(&r, "Injected"));
    /* the handler's Content-Type replaces the default: sent once */
    assert_null(strstr(strstr(r.head, "\r\nContent-Type:") + 1, "\r\nContent-Type:"));
    k1s_buf_free(&r.body);

    assert_true(cl_response(c, &r, true));
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Content-Length"), "5");

    assert_true(cl_response(c, &r, false));
    assert_string_equal(r.body.data, "path=/info|x=1 2|y=AB|z=|w=a%zz|cert=0|cn=|orgs=|ua=t/1");
    k1s_buf_free(&r.body);

    assert_true(cl_response(c, &r, false));
    assert_int_equal(r.status, 404); /* decoded path "/a b//c" is not a route */
    k1s_buf_free(&r.body);

    assert_true(cl_response(c, &r, false));
    assert_int_equal(r.status, 204);
    assert_null(resp_header(&r, "Content-Length"));

    assert_true(cl_response(c, &r, false));
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body.data,
                        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                        "\"Failure\",\"message\":\"thing \\\"x\\\" not found\",\"reason\":"
                        "\"NotFound\",\"code\":404}");
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    k1s_buf_free(&r.body);
    cl_close(c);
    server_stop(s);
}

static void test_chunked_body_and_continue(void **state)
{
    srvctx_t *s = server_start(NULL, NULL);
    cl_t *c = cl_connect(s->port, NULL);
    cl_sends(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n");
    resp_t r;
    assert_true(cl_response(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "hello world");
    k1s_buf_free(&r.body);

    /* Expect: 100-continue gets an interim answer before the body is sent */
    cl_sends(c, "PUT /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    long e = cl_until(c, "\r\n\r\n");
    assert_true(e > 0);
    assert_memory_equal(c->buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    cl_consume(c, (size_t)e);
    cl_sends(c, "data");
    assert_true(cl_response(c, &r, false));
    assert_string_equal(r.body.data, "data");
    k1s_buf_free(&r.body);
    cl_close(c);
    server_stop(s);
}

static const char too_large[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"the request is too large\",\"reason\":\"RequestEntityTooLarge\",\"code\":413}";

static void test_413(void **state)
{
    k1s_http_opts_t o = {.max_body = 1024};
    srvctx_t *s = server_start(NULL, &o);

    /* announced too large: answered at once, body never read */
    cl_t *c = cl_connect(s->port, NULL);
    cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 10485760\r\n\r\n");
    char junk[32768];
    memset(junk, 'x', sizeof(junk));
    cl_send(c, junk, sizeof(junk));
    resp_t r;
    assert_true(cl_response(c, &r, false));
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body.data, too_large);
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    assert_string_equal(resp_header(&r, "Connection"), "close");
    k1s_buf_free(&r.body);
    assert_true(cl_closed_within(c, 3000));
    cl_close(c);

    /* chunked: noticed when the sum passes the limit */
    c = cl_connect(s->port, NULL);
    cl_sends(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n");
    cl_send(c, junk, 0x200);
    cl_sends(c, "\r\n400\r\n");
    assert_true(cl_response(c, &r, false));
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body.data, too_large);
    k1s_buf_free(&r.body);
    assert_true(cl_closed_within(c, 3000));
    cl_close(c);

    /* at the limit is fine */
    c = cl_connect(s->port, NULL);
    cl_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 1024\r\n\r\n");
    cl_send(c, junk, 1024);
    assert_true(cl_response(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 1024);
    k1s_buf_free(&r.body);
    cl_close(c);
    server_stop(s);
}

static void test_400(void **state)
{
    k1s_http_opts_t o = {.max_header = 2048};
    srvctx_t *s = server_start(NULL, &o);
    static const char *const bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /x HTTP/1.1\r\nbad header\r\n\r\n",
        "GET /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /x HTTP/1.1\r\n folded: x\r\n\r\n",
        "GET /%zz HTTP/1.1\r\n\r\n",
        "GET /a%00 HTTP/1.1\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(bad); i++) {
        cl_t *c = cl_connect(s->port, NULL);
        cl_sends(c, bad[i]);
        resp_t r;
        assert_true(cl_response(c, &r, false));
        if (r.status != 400)
            fprintf(stderr, "case %zu: %d\n", i, r.status);
        assert_int_equal(r.status, 400);
        assert_non_null(strstr(r.body.data, "\"reason\":\"BadRequest\""));
        k1s_buf_free(&r.body);
        assert_true(cl_closed_within(c, 3000));
        cl_close(c);
    }
    /* oversized head */
    cl_t *c = cl_connect(s->port, NULL);
    cl_sends(c, "GET /x HTTP/1.1\r\n");
    char big[4096];
    memset(big, 'a', sizeof(big));
    memcpy(big, "X-Big: ", 7);
    cl_send(c, big, sizeof(big));
    resp_t r;
    assert_true(cl_response(c, &r, false));
    assert_int_equal(r.status, 431);
    k1s_buf_free(&r.body);
    cl_close(c);
    server_stop(s);
}

static void test_stream(void **state)
{
    srvctx_t *s = server_start(NULL, NULL);
    cl_t *c = cl_connect(s->port, NULL);
    cl_sends(c, "GET /stream HTTP/1.1\r\n\r\n");
    long e = cl_until(c, "\r\n\r\n");
    assert_true(e > 0);
    c->buf[e - 1] = 0;
    assert_non_null(strstr(c->buf, "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(c->buf, "Content-Type: application/json\r\n"));
    assert_null(strstr(c->buf, "Content-Length"));
    cl_consume(c, (size_t)e);
    /* the first chunk arrives before the stream ends */
    long f = cl_until(c, "{\"n\":1}\n\r\n");
    assert_true(f > 0);
    assert_memory_equal(c->buf, "8\r\n{\"n\":1}\n\r\n", (size_t)f);
    cl_consume(c, (size_t)f);
    atomic_store(&s->stream_step, 1);
    f = cl_until(c, "0\r\n\r\n");
    assert_true(f > 0);
    assert_memory_equal(c->buf, "8\r\n{\"n\":2}\n\r\n0\r\n\r\n", (size_t)f);
    cl_consume(c, (size_t)f);
    /* the connection is reused afterwards */
    cl_sends(c, "GET /hello HTTP/1.1\r\n\r\n");
    resp_t r;
    assert_true(cl_response(c, &r, false));
    assert_string_equal(r.body.data, "hello");
    k1s_buf_free(&r.body);
    assert_int_equal(atomic_load(&s->on_close_calls), 0);
    cl_close(c);
    server_stop(s);
}

static void test_stream_disconnect(void **state)
{
    SSL_CTX *sctx = server_tls();
    SSL_CTX *cctx = client_tls("a");
    for (int tls = 0; tls < 2; tls++) {
        srvctx_t *s = server_start(tls ? sctx : NULL, NULL);
        cl_t *c = cl_connect(s->port, tls ? cctx : NULL);
        cl_sends(c, "GET /stream HTTP/1.1\r\n\r\n");
        assert_true(cl_until(c, "{\"n\":1}\n") > 0);
        cl_close(c);
        assert_true(wait_int(&s->on_close_calls, 1, 3000));
        usleep(50000);
        assert_int_equal(atomic_load(&s->on_close_calls), 1);
        assert_int_equal(atomic_load(&s->closed_in_on_close), 1);
        assert_true(wait_int(&s->conns, 0, 1000));
        server_stop(s);
    }
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
}

static void test_429(void **state)
{
    k1s_http_opts_t o = {.max_inflight = 1};
    srvctx_t *s = server_start(NULL, &o);
    cl_t *a = cl_connect(s->port, NULL);
    cl_sends(a, "GET /hold HTTP/1.1\r\n\r\n");
    assert_true(wait_int(&s->nheld, 1, 2000));
    assert_true(wait_int(&s->inflight, 1, 1000));

    cl_t *b = cl_connect(s->port, NULL);
    cl_sends(b, "GET /hello HTTP/1.1\r\n\r\n");
    resp_t r;
    assert_true(cl_response(b, &r, false));
    assert_int_equal(r.status, 429);
    assert_string_equal(resp_header(&r, "Retry-After"), "1");
    assert_non_null(strstr(r.body.data, "\"reason\":\"TooManyRequests\""));
    assert_non_null(strstr(r.body.data, "\"code\":429"));
    k1s_buf_free(&r.body);

    /* a stream does not count as in flight */
    atomic_store(&s->release, 1);
    assert_true(cl_response(a, &r, false));
    assert_string_equal(r.body.data, "released");
    k1s_buf_free(&r.body);
    cl_sends(a, "GET /stream HTTP/1.1\r\n\r\n");
    assert_true(cl_until(a, "{\"n\":1}\n") > 0);
    cl_sends(b, "GET /hello HTTP/1.1\r\n\r\n");
    assert_true(cl_response(b, &r, false));
    assert_int_equal(r.status, 200);
    k1s_buf_free(&r.body);
    cl_close(a);
    cl_close(b);
    assert_true(wait_int(&s->on_close_calls, 1, 3000));
    server_stop(s);
}

static void test_tls_identity(void **state)
{
    SSL_CTX *sctx = server_tls();
    srvctx_t *s = server_start(sctx, NULL);
    SSL_CTX_free(sctx); /* the server holds its own reference */
    static const struct {
        const char *who, *want;
    } cases[] = {
        {"a", "cert=1|cn=system:admin|orgs=system:masters"},
        {NULL, "cert=0|cn=|orgs="},
        {"b", "cert=0|cn=|orgs="}, /* valid cert from another CA: anonymous */
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(cases); i++) {
        SSL_CTX *cctx = client_tls(cases[i].who);
        for (int round = 0; round < 2; round++) {
            cl_t *c = cl_connect(s->port, cctx);
            cl_sends(c, "GET /info HTTP/1.1\r\n\r\n");
            resp_t r;
            assert_true(cl_response(c, &r, false));
            assert_int_equal(r.status, 200);
            assert_non_null(strstr(r.body.data, cases[i].want));
            k1s_buf_free(&r.body);
            cl_close(c);
        }
        SSL_CTX_free(cctx);
    }
    server_stop(s);
}

static void test_timeouts(void **state)
{
    k1s_http_opts_t o = {.idle_timeout_s = 1, .header_timeout_s = 1};
    srvctx_t *s = server_start(NULL, &o);
    /* idle keep-alive connection */
    cl_t *c = cl_connect(s->port, NULL);
    cl_sends(c, "GET /hello HTTP/1.1\r\n\r\n");
    resp_t r;
    assert_true(cl_response(c, &r, false));
    k1s_buf_free(&r.body);
    uint64_t t0 = k1s_now_ns();
    assert_true(cl_closed_within(c, 3000));
    assert_true(k1s_now_ns() - t0 > 500000000ull);
    cl_close(c);
    /* slowloris: a head that never completes */
    c = cl_connect(s->port, NULL);
    cl_sends(c, "GET /hello HTTP/1.1\r\nX-A: 1\r\n");
    assert_true(cl_closed_within(c, 3000));
    cl_close(c);
    /* a connection that never speaks */
    c = cl_connect(s->port, NULL);
    assert_true(cl_closed_within(c, 3000));
    cl_close(c);
    assert_true(wait_int(&s->conns, 0, 1000));
    server_stop(s);
}

static void test_free_with_pending(void **state)
{
    srvctx_t *s = server_start(NULL, NULL);
    cl_t *a = cl_connect(s->port, NULL);
    cl_t *b = cl_connect(s->port, NULL);
    cl_sends(a, "GET /hold HTTP/1.1\r\n\r\n");
    cl_sends(b, "GET /stream HTTP/1.1\r\n\r\n");
    assert_true(wait_int(&s->nheld, 1, 2000));
    assert_true(cl_until(b, "{\"n\":1}\n") > 0);
    /* freeing the server closes both; the stream's on_close runs */
    atomic_store(&s->free_server, 1);
    assert_true(wait_int(&s->freed, 1, 2000));
    assert_int_equal(atomic_load(&s->on_close_calls), 1);
    assert_true(cl_closed_within(a, 2000));
    assert_true(cl_closed_within(b, 2000));
    /* answering the held request afterwards is safe (and frees the rest) */
    atomic_store(&s->release, 1);
    assert_true(wait_int(&s->nheld, 0, 2000));
    cl_close(a);
    cl_close(b);
    server_stop(s);
}

static void test_listen_errors(void **state)
{
    struct event_base *base = event_base_new();
    k1s_http_server_t *a = k1s_http_server_new(base, NULL, NULL, handler, NULL);
    k1s_http_server_t *b = k1s_http_server_new(base, NULL, NULL, handler, NULL);
    k1s_err_t err = {0};
    assert_int_equal(k1s_http_server_listen(a, "127.0.0.1", 0, &err), 0);
    assert_int_equal(k1s_http_server_listen(b, "127.0.0.1", k1s_http_server_port(a), &err),
                     -EADDRINUSE);
    assert_non_null(strstr(err.msg, "already in use"));
    assert_int_equal(k1s_http_server_listen(b, "not-an-ip", 0, &err), -EINVAL);
    assert_int_equal(k1s_http_server_listen(b, "::1", 0, &err), 0);
    k1s_http_server_free(a);
    k1s_http_server_free(b);
    k1s_http_server_free(NULL);
    event_base_free(base);
    assert_string_equal(k1s_http_reason(404), "Not Found");
}

int main(void)
{
    if (getenv("K1S_TEST_DEBUG"))
        k1s_log_set_level("debug");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_pipelining_and_head),
        cmocka_unit_test(test_chunked_body_and_continue),
        cmocka_unit_test(test_413),
        cmocka_unit_test(test_400),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_stream_disconnect),
        cmocka_unit_test(test_429),
        cmocka_unit_test(test_tls_identity),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_free_with_pending),
        cmocka_unit_test(test_listen_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
