/*
 * The client's HTTPS transport (see k1s_client_new_http in client.h): calls
 * are HTTP/1.1 requests on TLS connections (libevent OpenSSL bufferevents)
 * that are kept alive and reused, as Go's http.Transport does for kubelet:
 * a connection whose answer was read to its end goes back to a small idle
 * pool, and the next call takes it instead of paying for a new TCP and TLS
 * handshake. New connections resume the last TLS session when they can.
 *
 * An answer is read by Content-Length (a whole answer) or chunked encoding
 * (each chunk handed on as it arrives, so watch events flow). An idle
 * connection the server closes (its idle timeout, a restart) leaves the pool
 * at once; a request that finds its reused connection closed before any
 * byte of the answer came is sent once more on a new connection. The server
 * certificate must chain to the given CA and name the server's address.
 * ALPN offers only http/1.1.
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

/* Idle connections kept per client: enough for the agent's bursts of status writes to
 * reuse most of them, few enough that an idle agent holds one or two. */
#define MAX_IDLE 4

typedef struct hconn hconn_t;
typedef struct hcall hcall_t;

typedef struct hctx {
    struct event_base *base;
    SSL_CTX *ssl;
    SSL_SESSION *session; /* the newest resumable session, or NULL */
    char *addr;
    int port;
    char *auth;    /* "Bearer ..." or NULL */
    hconn_t *idle; /* idle connections, newest first */
    int nidle;
    unsigned connects; /* connections opened (k1s_client_connects) */
} hctx_t;

/* One TLS connection: idle in ctx->idle, or carrying one call. */
struct hconn {
    hctx_t *ctx;
    struct bufferevent *bev;
    hconn_t *next; /* in ctx->idle */
    hcall_t *call; /* the call on it, NULL while idle */
    unsigned uses; /* requests sent on it */
};

typedef enum {
    H_HEAD,
    H_LENGTH,
    H_EOF,
    H_CHUNK_SIZE,
    H_CHUNK_DATA,
    H_CHUNK_CRLF,
    H_TRAILER
} hstate_t;

struct hcall {
    hctx_t *ctx;
    hconn_t *conn; /* NULL once the answer is complete */
    k1s_http_lb_fn cb;
    void *arg;
    k1s_buf_t req; /* the request as sent, kept for one retry until the answer starts */
    hstate_t st;
    int status;
    size_t clen, chunk_left;
    k1s_buf_t body;
    bool in_cb, canceled, over;
    bool started;    /* a byte of the answer came */
    bool retried;    /* sent again after a reused connection failed */
    bool keep_alive; /* the answer allows reusing the connection */
};

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

/* ---- connections ---- */

static void conn_free(hconn_t *c)
{
    if (!c)
        return;
    if (c->bev)
        bufferevent_free(c->bev);
    free(c);
}

static void idle_remove(hctx_t *ctx, hconn_t *c)
{
    for (hconn_t **pp = &ctx->idle; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            c->next = NULL;
            ctx->nidle--;
            return;
        }
}

/* Keeps a session the server issued (TLS 1.3 sends them after the handshake). */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    hctx_t *ctx = SSL_get_app_data(ssl);
    if (!ctx || !SSL_SESSION_is_resumable(sess))
        return 0;
    if (ctx->session)
        SSL_SESSION_free(ctx->session);
    ctx->session = sess;
    return 1; /* we keep the reference */
}

/* A new connection, connecting (errors are reported through event_cb, from the loop). */
static hconn_t *conn_new(hctx_t *ctx)
{
    hconn_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    SSL *ssl = SSL_new(ctx->ssl);
    SSL_set_app_data(ssl, ctx);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ctx->addr);
    if (ctx->session)
        SSL_set_session(ssl, ctx->session);
    c->bev = bufferevent_openssl_socket_new(ctx->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ctx->port)};
    inet_pton(AF_INET, ctx->addr, &sin.sin_addr);
    bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof(sin));
    ctx->connects++;
    return c;
}

/* Puts h's request on a connection: an idle one if there is one, else a new one. */
static void send_request(hcall_t *h, bool fresh)
{
    hctx_t *ctx = h->ctx;
    hconn_t *c = fresh ? NULL : ctx->idle;
    if (c)
        idle_remove(ctx, c);
    else
        c = conn_new(ctx);
    c->call = h;
    c->uses++;
    h->conn = c;
    bufferevent_write(c->bev, h->req.data, h->req.len);
}

/* The answer on h's connection is complete: the connection goes back to the pool when the
 * answer allows it and nothing else came after it; otherwise it is closed. */
static void conn_release(hcall_t *h)
{
    hconn_t *c = h->conn;
    hctx_t *ctx = h->ctx;
    h->conn = NULL;
    if (!c)
        return;
    c->call = NULL;
    if (!h->keep_alive || evbuffer_get_length(bufferevent_get_input(c->bev)) ||
        ctx->nidle >= MAX_IDLE) {
        conn_free(c);
        return;
    }
    c->next = ctx->idle;
    ctx->idle = c;
    ctx->nidle++;
}

/* ---- calls ---- */

static void call_free(hcall_t *h)
{
    conn_free(h->conn); /* an answer not read to its end: the connection cannot be reused */
    k1s_buf_free(&h->req);
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
    h->keep_alive = false;
    deliver(h, K1S_LB_RESPONSE, 0, msg, strlen(msg));
}

static int parse_head(hcall_t *h, char *head)
{
    char *save = NULL;
    char *line = strtok_r(head, "\r\n", &save);
    if (!line || strncmp(line, "HTTP/1.", 7) || strlen(line) < 12)
        return -1;
    h->status = atoi(line + 9);
    h->keep_alive = line[7] == '1'; /* HTTP/1.1 keeps the connection unless it says close */
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
        } else if (!strcasecmp(line, "Connection") && strcasestr(v, "close")) {
            h->keep_alive = false;
        }
    }
    h->st = chunked ? H_CHUNK_SIZE : has_len ? H_LENGTH : H_EOF;
    if (h->st == H_EOF)
        h->keep_alive = false; /* the end of the connection is the end of the answer */
    return 0;
}

/* Reads what came for h on its connection; false once h is over (or freed). */
static bool read_answer(hcall_t *h, struct evbuffer *in)
{
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        switch (h->st) {
        case H_HEAD: {
            struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            if (p.pos < 0) {
                if (avail > (1u << 20)) {
                    fail(h, "%s", "response head too large");
                    return false;
                }
                return true;
            }
            char *head = k1s_xmalloc((size_t)p.pos + 1);
            evbuffer_remove(in, head, (size_t)p.pos);
            head[p.pos] = 0;
            evbuffer_drain(in, 4);
            int rc = parse_head(h, head);
            free(head);
            if (rc < 0) {
                fail(h, "%s", "malformed HTTP response");
                return false;
            }
            break;
        }
        case H_LENGTH:
            if (avail < h->clen)
                return true;
            k1s_buf_append(&h->body, evbuffer_pullup(in, (ssize_t)h->clen), h->clen);
            evbuffer_drain(in, h->clen);
            conn_release(h);
            deliver(h, K1S_LB_RESPONSE, h->status, h->body.data ? h->body.data : "", h->body.len);
            return false;
        case H_EOF:
            if (avail) {
                k1s_buf_append(&h->body, evbuffer_pullup(in, (ssize_t)avail), avail);
                evbuffer_drain(in, avail);
            }
            return true;
        case H_CHUNK_SIZE: {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line)
                return true;
            h->chunk_left = strtoull(line, NULL, 16);
            free(line);
            h->st = h->chunk_left ? H_CHUNK_DATA : H_TRAILER;
            break;
        }
        case H_CHUNK_DATA: {
            if (!avail)
                return true;
            size_t n = avail < h->chunk_left ? avail : h->chunk_left;
            const char *d = (const char *)evbuffer_pullup(in, (ssize_t)n);
            if (!deliver(h, K1S_LB_DATA, h->status, d, n))
                return false;
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
                return true;
            free(line);
            h->st = H_CHUNK_SIZE;
            break;
        }
        case H_TRAILER: {
            /* trailer fields, if any, up to the empty line that ends the answer */
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line)
                return true;
            free(line);
            if (n)
                break;
            conn_release(h);
            deliver(h, K1S_LB_END, h->status, "", 0);
            return false;
        }
        }
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    hconn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    hcall_t *h = c->call;
    if (!h) {
        /* bytes on an idle connection: nothing we asked for; it cannot be trusted */
        idle_remove(c->ctx, c);
        conn_free(c);
        return;
    }
    if (evbuffer_get_length(in) && !h->started) {
        h->started = true;
        k1s_buf_free(&h->req);
    }
    read_answer(h, in);
}

/* Why a connection failed, in words: a TLS error (a certificate that does not verify), the
 * socket's error (connection refused), or the server hanging up. */
static void describe(struct bufferevent *bev, short what, char *out, size_t n)
{
    int serr = EVUTIL_SOCKET_ERROR();
    unsigned long e;
    /* libevent also queues SSL_get_error() codes (SSL_ERROR_SYSCALL), which name no library */
    while ((e = bufferevent_get_openssl_error(bev)))
        if (ERR_GET_LIB(e)) {
            ERR_error_string_n(e, out, n);
            return;
        }
    if (what & BEV_EVENT_EOF)
        snprintf(out, n, "the server closed the connection");
    else if (serr)
        snprintf(out, n, "%s", evutil_socket_error_to_string(serr));
    else
        snprintf(out, n, "connection closed");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    hconn_t *c = arg;
    hcall_t *h = c->call;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (!h) { /* an idle connection ended (the server's idle timeout, a restart) */
        idle_remove(c->ctx, c);
        conn_free(c);
        return;
    }
    if (!h->started && c->uses > 1 && !h->retried && h->req.len) {
        /* the server closed a connection we reused before answering on it: it raced
         * with this request and did not read it; the request goes on a new one */
        k1s_debug("https %s:%d: reused connection closed before the answer; sending again",
                  h->ctx->addr, h->ctx->port);
        h->retried = true;
        h->conn = NULL;
        conn_free(c);
        send_request(h, true);
        return;
    }
    /* the connection ended: what we have is the answer */
    if (h->st == H_EOF && (what & BEV_EVENT_EOF)) {
        read_answer(h, bufferevent_get_input(bev));
        deliver(h, K1S_LB_RESPONSE, h->status, h->body.data ? h->body.data : "", h->body.len);
        return;
    }
    if (h->st == H_CHUNK_SIZE || h->st == H_CHUNK_DATA || h->st == H_CHUNK_CRLF ||
        h->st == H_TRAILER) {
        deliver(h, K1S_LB_END, h->status, "", 0); /* a stream cut short */
        return;
    }
    char detail[256];
    describe(bev, what, detail, sizeof(detail));
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
    k1s_buf_t *req = &h->req;
    k1s_buf_printf(req, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", method, target, ctx->addr, ctx->port);
    for (int i = 0; headers && headers[2 * i]; i++)
        k1s_buf_printf(req, "%s: %s\r\n", headers[2 * i], headers[2 * i + 1]);
    if (ctx->auth)
        k1s_buf_printf(req, "Authorization: %s\r\n", ctx->auth);
    k1s_buf_printf(req, "Content-Length: %zu\r\n\r\n", len);
    if (len)
        k1s_buf_append(req, body, len);
    free(body);
    send_request(h, false);
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
    while (ctx->idle) {
        hconn_t *c = ctx->idle;
        ctx->idle = c->next;
        conn_free(c);
    }
    if (ctx->session)
        SSL_SESSION_free(ctx->session);
    SSL_CTX_free(ctx->ssl);
    free(ctx->addr);
    free(ctx->auth);
    free(ctx);
}

static unsigned h_connects(void *vctx)
{
    return ((hctx_t *)vctx)->connects;
}

static const k1s_client_transport_t https_transport = {h_start, h_cancel, h_free, h_connects};

k1s_client_t *k1s_client_new_http(struct event_base *base, const k1s_client_http_opts_t *o,
                                  k1s_err_t *err)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    /* idle connections give their read and write buffers back */
    SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ssl, new_session_cb);
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
