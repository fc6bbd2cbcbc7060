/*
 * The client's HTTPS transport (see k1s_client_new_http in client.h): each
 * call is one TLS connection on a libevent OpenSSL bufferevent, an
 * HTTP/1.1 request with "Connection: close", and an answer read by
 * Content-Length (a whole answer) or chunked encoding (each chunk handed
 * on as it arrives, so watch events flow). The server certificate must
 * chain to the given CA and name the server's address. ALPN offers only
 * http/1.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "client/client-int.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

typedef struct hctx {
    struct event_base *base;
    SSL_CTX *ssl;
    char *addr;
    int port;
    char *auth; /* "Bearer ..." or NULL */
} hctx_t;

typedef enum { H_HEAD, H_LENGTH, H_EOF, H_CHUNK_SIZE, H_CHUNK_DATA, H_CHUNK_CRLF } hstate_t;

typedef struct hcall {
    hctx_t *ctx;
    struct bufferevent *bev;
    k1s_http_lb_fn cb;
    void *arg;
    hstate_t st;
    int status;
    size_t clen, chunk_left;
    k1s_buf_t body;
    bool in_cb, canceled, over;
} hcall_t;

static void call_free(hcall_t *h)
{
    if (h->bev)
        bufferevent_free(h->bev);
    k1s_buf_free(&h->body);
    free(h);
}

/* Calls the callback; returns false if the call was canceled meanwhile (then it is freed). */
static bool deliver(hcall_t *h, k1s_http_lb_ev_t ev, int status, const char *data, size_t len)
{
    if (ev != K1S_LB_DATA)
        h->over = true;
    h->in_cb = true;
    h->cb(ev, status, data, len, h->arg);
    h->in_cb = false;
    if (h->canceled || h->over) {
        call_free(h);
        return false;
    }
    return true;
}

static void fail(hcall_t *h, const char *fmt, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof(msg), fmt, detail);
    deliver(h, K1S_LB_RESPONSE, 0, msg, strlen(msg));
}

static int parse_head(hcall_t *h, char *head)
{
    char *save = NULL;
    char *line = strtok_r(head, "\r\n", &save);
    if (!line || strncmp(line, "HTTP/1.", 7) || strlen(line) < 12)
        return -1;
    h->status = atoi(line + 9);
    bool chunked = false, has_len = false;
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!strcasecmp(line, "Content-Length")) {
            h->clen = strtoull(v, NULL, 10);
            has_len = true;
        } else if (!strcasecmp(line, "Transfer-Encoding") && strcasestr(v, "chunked")) {
            chunked = true;
        }
    }
    h->st = chunked ? H_CHUNK_SIZE : has_len ? H_LENGTH : H_EOF;
    return 0;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    hcall_t *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        switch (h->st) {
        case H_HEAD: {
            struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            if (p.pos < 0) {
                if (avail > (1u << 20))
                    fail(h, "%s", "response head too large");
                return;
            }
            char *head = k1s_xmalloc((size_t)p.pos + 1);
            evbuffer_remove(in, head, (size_t)p.pos);
            head[p.pos] = 0;
            evbuffer_drain(in, 4);
            int rc = parse_head(h, head);
            free(head);
            if (rc < 0) {
                fail(h, "%s", "malformed HTTP response");
                return;
            }
            break;
        }
        case H_LENGTH:
            if (avail < h->clen)
                return;
            k1s_buf_append(&h->body, evbuffer_pullup(in, (ssize_t)h->clen), h->clen);
            evbuffer_drain(in, h->clen);
            deliver(h, K1S_LB_RESPONSE, h->status, h->body.data ? h->body.data : "", h->body.len);
            return;
        case H_EOF:
            if (avail) {
                k1s_buf_append(&h->body, evbuffer_pullup(in, (ssize_t)avail), avail);
                evbuffer_drain(in, avail);
            }
            return;
        case H_CHUNK_SIZE: {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line)
                return;
            h->chunk_left = strtoull(line, NULL, 16);
            free(line);
            if (h->chunk_left == 0) {
                deliver(h, K1S_LB_END, h->status, "", 0);
                return;
            }
            h->st = H_CHUNK_DATA;
            break;
        }
        case H_CHUNK_DATA: {
            if (!avail)
                return;
            size_t n = avail < h->chunk_left ? avail : h->chunk_left;
            const char *d = (const char *)evbuffer_pullup(in, (ssize_t)n);
            bool alive = deliver(h, K1S_LB_DATA, h->status, d, n);
            if (!alive)
                return;
            evbuffer_drain(in, n);
            h->chunk_left -= n;
            if (!h->chunk_left)
                h->st = H_CHUNK_CRLF;
            break;
        }
        case H_CHUNK_CRLF: {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line)
                return;
            free(line);
            h->st = H_CHUNK_SIZE;
            break;
        }
        }
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    hcall_t *h = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    /* the connection ended: what we have is the answer */
    if (h->st == H_EOF && (what & BEV_EVENT_EOF)) {
        read_cb(bev, h);
        deliver(h, K1S_LB_RESPONSE, h->status, h->body.data ? h->body.data : "", h->body.len);
        return;
    }
    if (h->st == H_CHUNK_SIZE || h->st == H_CHUNK_DATA || h->st == H_CHUNK_CRLF) {
        deliver(h, K1S_LB_END, h->status, "", 0); /* a stream cut short */
        return;
    }
    unsigned long e = bufferevent_get_openssl_error(bev);
    char detail[256];
    if (e)
        ERR_error_string_n(e, detail, sizeof(detail));
    else
        snprintf(detail, sizeof(detail), "%s",
                 EVUTIL_SOCKET_ERROR() ? evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR())
                                       : "connection closed");
    fail(h, "%s", detail);
}

static void *h_start(void *vctx, const char *method, const char *target, const char *const *headers,
                     char *body, size_t len, k1s_http_lb_fn cb, void *arg)
{
    hctx_t *ctx = vctx;
    hcall_t *h = k1s_xcalloc(1, sizeof(*h));
    h->ctx = ctx;
    h->cb = cb;
    h->arg = arg;
    SSL *ssl = SSL_new(ctx->ssl);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ctx->addr);
    h->bev = bufferevent_openssl_socket_new(ctx->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    bufferevent_setcb(h->bev, read_cb, NULL, event_cb, h);
    bufferevent_enable(h->bev, EV_READ | EV_WRITE);
    k1s_buf_t req = K1S_BUF_INIT;
    k1s_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n", method, target,
                   ctx->addr, ctx->port);
    for (int i = 0; headers && headers[2 * i]; i++)
        k1s_buf_printf(&req, "%s: %s\r\n", headers[2 * i], headers[2 * i + 1]);
    if (ctx->auth)
        k1s_buf_printf(&req, "Authorization: %s\r\n", ctx->auth);
    k1s_buf_printf(&req, "Content-Length: %zu\r\n\r\n", len);
    if (len)
        k1s_buf_append(&req, body, len);
    free(body);
    bufferevent_write(h->bev, req.data, req.len);
    k1s_buf_free(&req);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ctx->port)};
    inet_pton(AF_INET, ctx->addr, &sin.sin_addr);
    /* a refused connection is reported through event_cb, from the loop */
    bufferevent_socket_connect(h->bev, (struct sockaddr *)&sin, sizeof(sin));
    return h;
}

static void h_cancel(void *call)
{
    hcall_t *h = call;
    if (!h || h->canceled)
        return;
    h->canceled = true;
    if (!h->in_cb)
        call_free(h);
}

static void h_free(void *vctx)
{
    hctx_t *ctx = vctx;
    SSL_CTX_free(ctx->ssl);
    free(ctx->addr);
    free(ctx->auth);
    free(ctx);
}

static const k1s_client_transport_t https_transport = {h_start, h_cancel, h_free};

k1s_client_t *k1s_client_new_http(struct event_base *base, const k1s_client_http_opts_t *o,
                                  k1s_err_t *err)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1);
    if (!o->ca_file || SSL_CTX_load_verify_locations(ssl, o->ca_file, NULL) != 1) {
        SSL_CTX_free(ssl);
        k1s_err_set(err, EINVAL, "cannot load CA file %s", o->ca_file ? o->ca_file : "(none)");
        return NULL;
    }
    if (o->cert_file && (SSL_CTX_use_certificate_chain_file(ssl, o->cert_file) != 1 ||
                         SSL_CTX_use_PrivateKey_file(ssl, o->key_file, SSL_FILETYPE_PEM) != 1)) {
        SSL_CTX_free(ssl);
        k1s_err_set(err, EINVAL, "cannot load client certificate %s", o->cert_file);
        return NULL;
    }
    struct in_addr a;
    if (!o->addr || inet_pton(AF_INET, o->addr, &a) != 1) {
        SSL_CTX_free(ssl);
        k1s_err_set(err, EINVAL, "not an IPv4 address: %s", o->addr ? o->addr : "(none)");
        return NULL;
    }
    hctx_t *ctx = k1s_xcalloc(1, sizeof(*ctx));
    ctx->base = base;
    ctx->ssl = ssl;
    ctx->addr = k1s_xstrdup(o->addr);
    ctx->port = o->port;
    ctx->auth = o->token ? k1s_xasprintf("Bearer %s", o->token) : NULL;
    return k1s_client_new_transport(base, &https_transport, ctx, o->user);
}
