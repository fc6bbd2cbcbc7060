/*
 * The asynchronous HTTPS client (see httpc.h): a bufferevent_openssl
 * connection per call, the request written once the handshake is done, the
 * answer parsed as it arrives (Content-Length, chunked, or up to EOF).
 */
#include "net/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/util.h"

#define MAX_RESPONSE (16u << 20)

struct k1s_httpc {
    struct event_base *base;
    struct bufferevent *bev;
    SSL_CTX *ctx;
    SSL *ssl;
    struct event *timer; /* deadline, also used to report failures from the loop */
    struct event *conn;  /* waits for the TCP connect, before TLS starts */
    struct evdns_getaddrinfo_request *dns; /* a host name being looked up, or NULL */
    bool resolving;                        /* the lookup has not answered yet */
    int port;
    int fd;
    k1s_httpc_done_fn done;
    void *arg;
    char *request;
    size_t request_len;
    char dial[128]; /* "127.0.0.1:9443" for messages */
    char host[256]; /* the name the certificate must be valid for */
    X509 *peer;     /* the server's certificate, kept by the verify callback for messages */
    bool connected;
    bool finished;
    int err;
    char *msg;
    k1s_buf_t in;
};

static void call_free(k1s_httpc_t *c)
{
    if (c->dns) {
        struct evdns_getaddrinfo_request *q = c->dns;
        c->dns = NULL;
        evdns_getaddrinfo_cancel(q); /* its callback sees EVUTIL_EAI_CANCEL and returns */
    }
    if (c->conn)
        event_free(c->conn);
    if (c->bev)
        bufferevent_free(c->bev); /* frees ssl and fd (BEV_OPT_CLOSE_ON_FREE) */
    else {
        if (c->ssl)
            SSL_free(c->ssl);
        if (c->fd >= 0)
            close(c->fd);
    }
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    X509_free(c->peer);
    if (c->timer)
        event_free(c->timer);
    free(c->request);
    free(c->msg);
    k1s_buf_free(&c->in);
    free(c);
}

void k1s_httpc_cancel(k1s_httpc_t *c)
{
    if (c)
        call_free(c);
}

static void finish(k1s_httpc_t *c, int err, int status, const char *body, size_t len,
                   const char *msg)
{
    if (c->finished)
        return;
    c->finished = true;
    c->done(err, status, body, len, msg, c->arg);
    call_free(c);
}

static void fail(k1s_httpc_t *c, int err, const char *fmt, ...) K1S_PRINTF(3, 4);
static void fail(k1s_httpc_t *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    finish(c, err, 0, NULL, 0, m);
    free(m);
}

/* A NUL-terminated copy of n bytes that may themselves hold NULs. */
static char *dupmem(const char *p, size_t n)
{
    char *c = k1s_xmalloc(n + 1);
    memcpy(c, p, n);
    c[n] = 0;
    return c;
}

/* Decodes a chunked body in place; returns its length, or -1 if incomplete/bad. */
static long dechunk(char *p, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *nl = memmem(p + in, len - in, "\r\n", 2);
        if (!nl)
            return -1;
        unsigned long n = strtoul(p + in, NULL, 16);
        in = (size_t)(nl - p) + 2;
        if (n == 0)
            return (long)out;
        if (n > len - in || len - in - n < 2)
            return -1;
        memmove(p + out, p + in, n);
        out += n;
        in += n + 2;
    }
}

/* Tries to parse a complete answer; at_eof: the peer closed. */
static void try_parse(k1s_httpc_t *c, bool at_eof)
{
    char *d = c->in.data;
    size_t len = c->in.len;
    char *end = d ? memmem(d, len, "\r\n\r\n", 4) : NULL;
    if (!end) {
        if (at_eof)
            fail(c, -EPROTO, "EOF");
        return;
    }
    int status = 0;
    if (sscanf(d, "HTTP/%*d.%*d %d", &status) != 1 || status < 100 || status > 999) {
        fail(c, -EPROTO, "malformed HTTP response");
        return;
    }
    size_t hlen = (size_t)(end - d) + 4;
    long clen = -1;
    bool chunked = false;
    /* header lines, bounded by lengths: the answer may hold NUL bytes */
    const char *p = memmem(d, hlen, "\r\n", 2);
    while (p && p < end) {
        const char *line = p + 2;
        const char *eol = memmem(line, (size_t)(d + hlen - line), "\r\n", 2);
        if (!eol)
            break;
        size_t ll = (size_t)(eol - line);
        char h[256];
        snprintf(h, sizeof(h), "%.*s", (int)(ll < sizeof(h) - 1 ? ll : sizeof(h) - 1), line);
        if (!strncasecmp(h, "Content-Length:", 15))
            clen = strtol(h + 15, NULL, 10);
        else if (!strncasecmp(h, "Transfer-Encoding:", 18) && strcasestr(h + 18, "chunked"))
            chunked = true;
        p = eol;
    }
    char *body = d + hlen;
    size_t blen = len - hlen;
    if (chunked) {
        char *copy = dupmem(body, blen);
        long n = dechunk(copy, blen);
        if (n < 0) {
            free(copy);
            if (at_eof)
                fail(c, -EPROTO, "unexpected EOF");
            return;
        }
        copy[n] = 0;
        finish(c, 0, status, copy, (size_t)n, NULL);
        free(copy);
        return;
    }
    if (clen >= 0) {
        if (blen < (size_t)clen) {
            if (at_eof)
                fail(c, -EPROTO, "unexpected EOF");
            return;
        }
        char *copy = dupmem(body, (size_t)clen);
        finish(c, 0, status, copy, (size_t)clen, NULL);
        free(copy);
        return;
    }
    if (at_eof) {
        char *copy = dupmem(body, blen);
        finish(c, 0, status, copy, blen, NULL);
        free(copy);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    k1s_httpc_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    if (c->in.len + n > MAX_RESPONSE) {
        fail(c, -EFBIG, "response too large");
        return;
    }
    k1s_buf_reserve(&c->in, n + 1);
    evbuffer_remove(in, c->in.data + c->in.len, n);
    c->in.len += n;
    c->in.data[c->in.len] = 0;
    try_parse(c, false);
}

static void tls_failure(k1s_httpc_t *c)
{
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long e = bufferevent_get_openssl_error(c->bev);
    if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        /* Go's x509.HostnameError: the names (or IPs) the certificate is valid for */
        bool ip = vr == X509_V_ERR_IP_ADDRESS_MISMATCH;
        k1s_buf_t names = K1S_BUF_INIT;
        X509 *cert = c->peer;
        GENERAL_NAMES *sans =
            cert ? X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL) : NULL;
        for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
            char txt[64] = "";
            if (!ip && g->type == GEN_DNS)
                snprintf(txt, sizeof(txt), "%.*s", ASN1_STRING_length(g->d.dNSName),
                         (const char *)ASN1_STRING_get0_data(g->d.dNSName));
            else if (ip && g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4) {
                const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
                snprintf(txt, sizeof(txt), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
            }
            if (txt[0])
                k1s_buf_printf(&names, "%s%s", names.len ? ", " : "", txt);
        }
        GENERAL_NAMES_free(sans);
        if (names.len)
            fail(c, -EACCES,
                 "tls: failed to verify certificate: x509: certificate is valid for %s, not %s",
                 names.data, c->host);
        else
            fail(c, -EACCES,
                 "tls: failed to verify certificate: x509: certificate is not valid for any names, "
                 "but wanted to match %s",
                 c->host);
        k1s_buf_free(&names);
        return;
    }
    if (vr == X509_V_ERR_CERT_HAS_EXPIRED || vr == X509_V_ERR_CERT_NOT_YET_VALID) {
        fail(c, -EACCES,
             "tls: failed to verify certificate: x509: certificate has expired or is not yet "
             "valid");
        return;
    }
    if (vr != X509_V_OK) {
        fail(c, -EACCES,
             "tls: failed to verify certificate: x509: certificate signed by unknown authority");
        return;
    }
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    fail(c, -EPROTO, "remote error: tls: %s", e ? buf : "handshake failure");
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    k1s_httpc_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        bufferevent_write(bev, c->request, c->request_len);
        bufferevent_enable(bev, EV_READ);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        if (!c->connected) {
            tls_failure(c);
            return;
        }
        on_read(bev, c);
        if (!c->finished)
            try_parse(c, true);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int se = EVUTIL_SOCKET_ERROR();
        if (c->connected) {
            /* a dirty close after the answer was read is an EOF */
            on_read(bev, c);
            if (!c->finished)
                try_parse(c, true);
            if (!c->finished)
                fail(c, -EIO, "read tcp %s: %s", c->dial, strerror(se ? se : EIO));
            return;
        }
        if (bufferevent_get_openssl_error(bev) || SSL_get_verify_result(c->ssl) != X509_V_OK ||
            !se) {
            tls_failure(c);
            return;
        }
        fail(c, -se, "read tcp %s: %s", c->dial, strerror(se));
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    k1s_httpc_t *c = arg;
    if (c->msg) {
        /* a failure found while starting, reported from the loop */
        char *m = c->msg;
        c->msg = NULL;
        finish(c, c->err, 0, NULL, 0, m);
        free(m);
        return;
    }
    fail(c, -ETIMEDOUT, "context deadline exceeded");
}

static void fail_later(k1s_httpc_t *c, int err, char *msg)
{
    c->err = err;
    free(c->msg);
    c->msg = msg;
    struct timeval tv = {0, 0};
    evtimer_del(c->timer);
    evtimer_add(c->timer, &tv);
}

static void dial_failed(k1s_httpc_t *c, int se)
{
    if (se == ECONNREFUSED)
        fail_later(c, -ECONNREFUSED,
                   k1s_xasprintf("dial tcp %s: connect: connection refused", c->dial));
    else
        fail_later(c, -(se ? se : EIO),
                   k1s_xasprintf("dial tcp %s: connect: %s", c->dial, strerror(se ? se : EIO)));
}

/* The TCP connect finished: start TLS over the socket, or report why it failed. */
static void on_connect(evutil_socket_t fd, short what, void *arg)
{
    k1s_httpc_t *c = arg;
    int se = 0;
    socklen_t sl = sizeof(se);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &se, &sl) < 0)
        se = errno;
    event_free(c->conn);
    c->conn = NULL;
    if (se) {
        if (se == ECONNREFUSED)
            fail(c, -ECONNREFUSED, "dial tcp %s: connect: connection refused", c->dial);
        else
            fail(c, -se, "dial tcp %s: connect: %s", c->dial, strerror(se));
        return;
    }
    c->bev = bufferevent_openssl_socket_new(c->base, c->fd, c->ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    c->fd = -1;
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Keeps the leaf certificate (OpenSSL drops it when verification fails). */
static int keep_peer(int ok, X509_STORE_CTX *sctx)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    k1s_httpc_t *c = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
    if (c && leaf && !c->peer) {
        X509_up_ref(leaf);
        c->peer = leaf;
    }
    return ok;
}

static SSL_CTX *make_ctx(const char *pem, size_t len)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    if (!pem || !len) {
        SSL_CTX_set_default_verify_paths(ctx);
        return ctx;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        X509_STORE_add_cert(store, x);
        X509_free(x);
    }
    ERR_clear_error();
    BIO_free(bio);
    return ctx;
}

/* Sets c->dial ("ip:port" for messages) from an address. */
static void set_dial(k1s_httpc_t *c, const struct sockaddr *sa)
{
    char txt[INET6_ADDRSTRLEN] = "";
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    inet_ntop(sa->sa_family, a, txt, sizeof(txt));
    snprintf(c->dial, sizeof(c->dial), sa->sa_family == AF_INET ? "%s:%d" : "[%s]:%d", txt,
             c->port);
}

/* Connects to the resolved address; the handshake and request follow in on_connect. */
static void dial(k1s_httpc_t *c, struct sockaddr *sa, socklen_t sl)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)c->port);
    else
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)c->port);
    set_dial(c, sa);
    c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = c->fd < 0 ? -1 : connect(c->fd, sa, sl);
    if (rc < 0 && errno != EINPROGRESS) {
        dial_failed(c, errno);
        return;
    }
    c->conn = event_new(c->base, c->fd, EV_WRITE, on_connect, c);
    event_add(c->conn, NULL);
}

struct evdns_base *k1s_httpc_resolver(struct event_base *base)
{
    static struct event_base *for_base;
    static struct evdns_base *dns;
    if (!dns || for_base != base) {
        /* one per event loop; the server has one loop for its lifetime */
        dns = evdns_base_new(base,
                             EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        for_base = base;
    }
    return dns;
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    if (result == EVUTIL_EAI_CANCEL) /* the call was freed while looking up */
        return;
    k1s_httpc_t *c = arg;
    c->dns = NULL;
    c->resolving = false;
    if (result != 0 || !res) {
        fail_later(c, -EHOSTUNREACH, k1s_xasprintf("dial tcp: lookup %s: no such host", c->host));
    } else {
        struct sockaddr_storage ss;
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        dial(c, (struct sockaddr *)&ss, (socklen_t)res->ai_addrlen);
    }
    if (res)
        evutil_freeaddrinfo(res);
}

k1s_httpc_t *k1s_httpc_post(struct event_base *base, const k1s_httpc_req_t *req,
                            k1s_httpc_done_fn done, void *arg)
{
    k1s_httpc_t *c = k1s_xcalloc(1, sizeof(*c));
    c->fd = -1;
    c->base = base;
    c->done = done;
    c->arg = arg;
    c->timer = evtimer_new(base, on_timer, c);
    struct timeval tv = {req->timeout_ms / 1000, (req->timeout_ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);

    const char *addr = req->addr;
    snprintf(c->host, sizeof(c->host), "%s", req->host);
    if (req->ssl_ctx) {
        SSL_CTX_up_ref(req->ssl_ctx);
        c->ctx = req->ssl_ctx;
    } else {
        c->ctx = make_ctx(req->ca_pem, req->ca_len);
    }
    c->ssl = SSL_new(c->ctx);
    SSL_set_app_data(c->ssl, c);
    SSL_set_verify(c->ssl, SSL_VERIFY_PEER, keep_peer);
    struct in6_addr tmp;
    bool host_is_ip =
        inet_pton(AF_INET, req->host, &tmp) == 1 || inet_pton(AF_INET6, req->host, &tmp) == 1;
    if (host_is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), req->host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, req->host);
        SSL_set1_host(c->ssl, req->host);
    }
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b,
                   "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: k1s-apiserver\r\n"
                   "Content-Type: %s\r\nAccept: application/json, */*\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   req->method ? req->method : "POST", req->target, req->host,
                   req->content_type ? req->content_type : "application/json", req->body_len);
    k1s_buf_append(&b, req->body, req->body_len);
    c->request_len = b.len;
    c->request = k1s_buf_steal(&b);
    c->port = req->port;
    const char *ip = addr ? addr : req->host;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        dial(c, (struct sockaddr *)&ss, sizeof(*s4));
    } else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        dial(c, (struct sockaddr *)&ss, sizeof(*s6));
    } else {
        /* a name: looked up asynchronously; the call's deadline covers the lookup too */
        snprintf(c->dial, sizeof(c->dial), "%s:%d", ip, req->port);
        struct evutil_addrinfo hints = {0};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        struct evdns_base *dns = k1s_httpc_resolver(base);
        c->resolving = true;
        struct evdns_getaddrinfo_request *q =
            dns ? evdns_getaddrinfo(dns, ip, NULL, &hints, on_resolved, c) : NULL;
        if (!dns)
            on_resolved(EVUTIL_EAI_FAIL, NULL, c);
        else if (c->resolving) /* not answered at once (from /etc/hosts, say) */
            c->dns = q;
    }
    return c;
}
