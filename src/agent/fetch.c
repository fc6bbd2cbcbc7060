/*
 * One-shot HTTPS requests for the agent's join (see fetch.h), on a libevent
 * OpenSSL bufferevent. The answer is read until the server closes the
 * connection, then split into status line, headers and body.
 */
#include "agent/fetch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/buf.h"
#include "lib/util.h"

struct k1s_fetch {
    struct event_base *base;
    struct bufferevent *bev;
    struct event *timer;
    SSL_CTX *ctx;
    k1s_fetch_fn fn;
    void *arg;
    char where[128]; /* "127.0.0.1:6443" */
    bool connected;
    k1s_buf_t in;
};

static void fetch_free(k1s_fetch_t *f)
{
    if (f->bev)
        bufferevent_free(f->bev);
    if (f->timer)
        event_free(f->timer);
    if (f->ctx)
        SSL_CTX_free(f->ctx);
    k1s_buf_free(&f->in);
    free(f);
}

void k1s_fetch_cancel(k1s_fetch_t *f)
{
    if (f)
        fetch_free(f);
}

static void finish(k1s_fetch_t *f, int err, int status, const char *body, size_t len,
                   const char *msg)
{
    k1s_fetch_fn fn = f->fn;
    void *arg = f->arg;
    /* the body may point into f->in: hand it over first */
    k1s_buf_t in = f->in;
    f->in = (k1s_buf_t)K1S_BUF_INIT;
    fetch_free(f);
    fn(err, status, body ? body : "", len, msg ? msg : "", arg);
    k1s_buf_free(&in);
}

static void fail(k1s_fetch_t *f, int err, const char *msg)
{
    finish(f, err, 0, NULL, 0, msg);
}

/* Parses what the server sent (all of it, or the connection has ended). */
static void parse_answer(k1s_fetch_t *f)
{
    char *d = f->in.data;
    if (!d || strncmp(d, "HTTP/1.", 7) || f->in.len < 12) {
        fail(f, -EPROTO, "malformed HTTP response (is this a k1s server?)");
        return;
    }
    /* "HTTP/1.x NNN ..." */
    if (d[8] != ' ' || !isdigit((unsigned char)d[9]) || !isdigit((unsigned char)d[10]) ||
        !isdigit((unsigned char)d[11])) {
        fail(f, -EPROTO, "malformed HTTP response (is this a k1s server?)");
        return;
    }
    int status = (d[9] - '0') * 100 + (d[10] - '0') * 10 + (d[11] - '0');
    char *end = strstr(d, "\r\n\r\n");
    if (!end) {
        fail(f, -EPROTO, "unexpected EOF");
        return;
    }
    *end = 0;
    char *body = end + 4;
    size_t blen = f->in.len - (size_t)(body - d);
    char *cl = strcasestr(d, "\r\nContent-Length:");
    if (cl) {
        size_t n = strtoull(cl + 17, NULL, 10);
        if (n < blen)
            blen = n;
        else if (n > blen) {
            fail(f, -EPROTO, "unexpected EOF");
            return;
        }
    }
    body[blen] = 0;
    finish(f, 0, status, body, blen, NULL);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    k1s_fetch_t *f = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    if (f->in.len + n > (4u << 20)) {
        fail(f, -EFBIG, "response too large");
        return;
    }
    k1s_buf_reserve(&f->in, n);
    evbuffer_remove(in, f->in.data + f->in.len, n);
    f->in.len += n;
    f->in.data[f->in.len] = 0;
    /* done once Content-Length bytes of body are in: servers may linger before closing */
    char *end = strstr(f->in.data, "\r\n\r\n");
    if (!end)
        return;
    char *cl = strcasestr(f->in.data, "\r\nContent-Length:");
    if (cl && cl < end && f->in.len - (size_t)(end + 4 - f->in.data) >= strtoull(cl + 17, NULL, 10))
        parse_answer(f);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    k1s_fetch_t *f = arg;
    if (what & BEV_EVENT_CONNECTED) {
        f->connected = true;
        return;
    }
    if (f->connected && ((what & BEV_EVENT_EOF) || (f->in.len && !(what & BEV_EVENT_TIMEOUT)))) {
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t n = evbuffer_get_length(in);
        k1s_buf_reserve(&f->in, n);
        evbuffer_remove(in, f->in.data + f->in.len, n);
        f->in.len += n;
        if (f->in.data)
            f->in.data[f->in.len] = 0;
        parse_answer(f);
        return;
    }
    char msg[512];
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = bufferevent_get_openssl_error(bev);
    int serr = EVUTIL_SOCKET_ERROR();
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
        serr = soerr;
    if (!f->connected && !serr && (what & BEV_EVENT_EOF))
        serr = ECONNRESET;
    if (vr != X509_V_OK) {
        snprintf(msg, sizeof(msg), "tls: failed to verify certificate: x509: %s",
                 vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                         vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                         vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
                     ? "certificate signed by unknown authority"
                     : X509_verify_cert_error_string(vr));
    } else if (!f->connected && serr) {
        /* Go's words: "connect: connection refused" */
        snprintf(msg, sizeof(msg), "dial tcp %s: connect: %s", f->where, strerror(serr));
        char *c = strstr(msg, ": connect: ") + 11;
        *c = (char)tolower((unsigned char)*c);
    } else if (e) {
        char detail[256];
        ERR_error_string_n(e, detail, sizeof(detail));
        snprintf(msg, sizeof(msg), "tls: %s", detail);
    } else {
        snprintf(msg, sizeof(msg), "read tcp %s: connection reset by peer", f->where);
    }
    ERR_clear_error();
    fail(f, !f->connected && serr ? -serr : -EPROTO, msg);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_fetch_t *f = arg;
    char msg[256];
    snprintf(msg, sizeof(msg), "dial tcp %s: i/o timeout", f->where);
    fail(f, -ETIMEDOUT, msg);
}

/* Loads a PEM bundle into ctx's trust store; false if it holds no certificate. */
static bool trust_pem(SSL_CTX *ctx, const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    int n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        X509_STORE_add_cert(st, x);
        X509_free(x);
        n++;
    }
    ERR_clear_error();
    BIO_free(b);
    return n > 0;
}

k1s_fetch_t *k1s_fetch(struct event_base *base, const k1s_fetch_req_t *req, k1s_fetch_fn fn,
                       void *arg)
{
    k1s_fetch_t *f = k1s_xcalloc(1, sizeof(*f));
    f->base = base;
    f->fn = fn;
    f->arg = arg;
    bool v6 = strchr(req->addr, ':') != NULL;
    snprintf(f->where, sizeof(f->where), v6 ? "[%s]:%d" : "%s:%d", req->addr, req->port);
    f->timer = evtimer_new(base, timeout_cb, f);
    struct timeval tv = {(req->timeout_ms ? req->timeout_ms : 10000) / 1000,
                         ((req->timeout_ms ? req->timeout_ms : 10000) % 1000) * 1000};
    evtimer_add(f->timer, &tv);

    f->ctx = SSL_CTX_new(TLS_client_method());
    k1s_assert(f->ctx);
    SSL_CTX_set_min_proto_version(f->ctx, TLS1_2_VERSION);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(f->ctx, alpn, sizeof(alpn) - 1);
    if (req->ca_pem) {
        trust_pem(f->ctx, req->ca_pem);
        SSL_CTX_set_verify(f->ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(f->ctx, SSL_VERIFY_NONE, NULL);
    }
    SSL *ssl = SSL_new(f->ctx);
    k1s_assert(ssl);
    if (req->ca_pem)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), req->addr);
    f->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    k1s_assert(f->bev);
    bufferevent_openssl_set_allow_dirty_shutdown(f->bev, 1);
    bufferevent_setcb(f->bev, read_cb, NULL, event_cb, f);
    bufferevent_enable(f->bev, EV_READ | EV_WRITE);

    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b,
                   "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: k1s-agent\r\n",
                   req->method, req->target, f->where);
    for (int i = 0; req->headers && req->headers[2 * i]; i++)
        k1s_buf_printf(&b, "%s: %s\r\n", req->headers[2 * i], req->headers[2 * i + 1]);
    k1s_buf_printf(&b, "Content-Length: %zu\r\n\r\n", req->body ? req->body_len : 0);
    if (req->body)
        k1s_buf_append(&b, req->body, req->body_len);
    bufferevent_write(f->bev, b.data, b.len);
    OPENSSL_cleanse(b.data, b.len);
    k1s_buf_free(&b);

    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)req->port);
        inet_pton(AF_INET6, req->addr, &s6->sin6_addr);
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)req->port);
        inet_pton(AF_INET, req->addr, &s4->sin_addr);
        sl = sizeof(*s4);
    }
    /* a refused connection is reported through event_cb, from the loop */
    bufferevent_socket_connect(f->bev, (struct sockaddr *)&ss, (int)sl);
    return f;
}
