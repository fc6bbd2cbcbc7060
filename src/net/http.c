/*
 * HTTP/1.1 server; see http.h for the contract.
 *
 * Each connection is a bufferevent (OpenSSL or plain socket) and a small
 * state machine: read the head, read the body (Content-Length or chunked),
 * hand the request to the handler, wait for the answer, repeat. Only one
 * request per connection is parsed at a time, so pipelined requests wait in
 * the input buffer (bounded by the read watermark) until the one before has
 * been answered. The parser works straight on the evbuffer: the head is
 * copied out once into the request's arena and split in place; bodies are
 * copied into one buffer sized from Content-Length, or grown for chunks.
 *
 * Lifetimes: the server owns connections; the handler owns a request from
 * the handler call until it answers. If the socket dies meanwhile, the
 * connection becomes a "zombie" (no socket, still linked from the request)
 * and is freed when the request is released; the server itself is freed
 * when its last zombie goes. Work that could re-enter a connection's state
 * machine (the next pipelined request after an answer, a late on_close) is
 * deferred through the connection's timer event, so handlers may answer
 * from inside the handler call or any other callback.
 *
 * A TLS connection whose ALPN chose "h2" is handed to http2.c after the
 * handshake; the public request functions below pass HTTP/2 requests on.
 */
#include "net/http-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "net/tls.h"

#define DEFAULT_MAX_BODY (3u << 20)
#define DEFAULT_MAX_HEADER (64u << 10)
#define DEFAULT_MAX_INFLIGHT 400
#define DEFAULT_IDLE_TIMEOUT_S 120
#define DEFAULT_HEADER_TIMEOUT_S 30
#define CLOSE_WRITE_TIMEOUT_S 30 /* to flush a final answer before closing */
#define LINGER_S 2               /* read-and-discard after the final answer */
#define OUT_HIGH (1u << 20)      /* don't parse the next request above this much unsent output */
#define CHUNK_LINE_MAX 1024

/* peer.orgs of a connection without a verified certificate */
static char *no_orgs[] = {NULL};

static void conn_process(conn_t *c);
static void send_error(conn_t *c, int status, const char *reason, const char *message);

/* ---- request memory ---- */

void *k1s_http_int_alloc(req_t *r, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_blk_t *b = r->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 1024 ? n : 1024;
        b = k1s_xmalloc(sizeof(*b) + cap);
        b->used = 0;
        b->cap = cap;
        b->next = r->arena;
        r->arena = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

req_t *k1s_http_int_req_new(conn_t *c)
{
    req_t *r = k1s_xcalloc(1, sizeof(*r));
    r->conn = c;
    r->pub.body = "";
    r->pub.query = "";
    r->pub.peer = &c->peer;
    return r;
}

void k1s_http_int_req_free(req_t *r)
{
    while (r->arena) {
        arena_blk_t *n = r->arena->next;
        free(r->arena);
        r->arena = n;
    }
    free(r->body);
    k1s_buf_free(&r->resp_hdrs);
    free(r);
}

/* ---- small helpers ---- */

const char *k1s_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* RFC 7231 IMF-fixdate, cached per second (C-locale names, no strftime). */
const char *k1s_http_int_date(void)
{
    static _Thread_local time_t cached = -1;
    static _Thread_local char buf[40];
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char mons[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
                 tm.tm_mday, mons[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        cached = now;
    }
    return buf;
}

static bool is_tchar(unsigned char ch)
{
    if (ch >= 'a' && ch <= 'z')
        return true;
    if (ch >= 'A' && ch <= 'Z')
        return true;
    if (ch >= '0' && ch <= '9')
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * Percent-decodes s[0..n) into out (at least n+1 bytes). In strict mode a
 * bad escape or %00 fails (-1); otherwise bad escapes stay literal. plus
 * turns '+' into ' ' (form encoding). Returns the decoded length.
 */
static long pct_decode(const char *s, size_t n, char *out, bool plus, bool strict)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            int h = -1;
            if (i + 2 < n) {
                int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
                if (a >= 0 && b >= 0)
                    h = a * 16 + b;
            }
            if (h < 0 || (h == 0 && strict)) {
                if (strict)
                    return -1;
                out[o++] = ch;
                continue;
            }
            out[o++] = (char)h;
            i += 2;
        } else if (ch == '+' && plus) {
            out[o++] = ' ';
        } else {
            out[o++] = ch;
        }
    }
    out[o] = 0;
    return (long)o;
}

static void append_status_json(k1s_buf_t *b, int status, const char *reason, const char *message)
{
    k1s_buf_printf(b,
                   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"%s\",",
                   status >= 200 && status < 300 ? "Success" : "Failure");
    k1s_buf_puts(b, "\"message\":");
    k1s_buf_json_str(b, message ? message : "");
    if (reason && *reason) {
        k1s_buf_puts(b, ",\"reason\":");
        k1s_buf_json_str(b, reason);
    }
    if (status == 429)
        k1s_buf_puts(b, ",\"details\":{\"retryAfterSeconds\":1}");
    k1s_buf_printf(b, ",\"code\":%d}", status);
}

/* ---- timers ---- */

void k1s_http_int_timer(conn_t *c, int seconds)
{
    struct timeval tv = {seconds, 0};
    evtimer_add(c->timer, &tv);
}

/* Runs kick_cb() from the event loop, outside any caller's stack. */
void k1s_http_int_kick(conn_t *c)
{
    event_active(c->kick, EV_TIMEOUT, 1);
}

static int header_timeout(const k1s_http_server_t *srv)
{
    return srv->opts.header_timeout_s;
}

void k1s_http_int_conn_free(conn_t *c)
{
    k1s_http_server_t *srv = c->srv;
    k1s_http2_free(c);
    event_free(c->timer);
    event_free(c->kick);
    free(c->peer.cn);
    if (c->peer.orgs != no_orgs)
        k1s_tls_strv_free(c->peer.orgs);
    free(c);
    if (srv->dead && srv->nconns == 0 && srv->nzombies == 0) {
        SSL_CTX_free(srv->ssl_ctx);
        free(srv);
    }
}

/* Enters ST_HEAD for the next request on a kept-alive connection. */
static void conn_next_request(conn_t *c)
{
    c->state = ST_HEAD;
    c->scan = 0;
    c->head_started = false;
    if (c->peer_eof && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
        k1s_http_int_shutdown(c);
        return;
    }
    k1s_http_int_timer(c, c->srv->opts.idle_timeout_s);
    k1s_http_int_kick(c);
}

static void conn_linger(conn_t *c)
{
    c->state = ST_LINGER;
    if (!c->tls)
        shutdown(c->fd, SHUT_WR);
    if (c->peer_eof) {
        k1s_http_int_shutdown(c);
        return;
    }
    evbuffer_drain(bufferevent_get_input(c->bev),
                   evbuffer_get_length(bufferevent_get_input(c->bev)));
    bufferevent_enable(c->bev, EV_READ);
    k1s_http_int_timer(c, LINGER_S);
}

/* The final answer is queued: close once it has been written. */
void k1s_http_int_closing(conn_t *c)
{
    c->state = ST_CLOSING;
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        conn_linger(c);
        return;
    }
    k1s_http_int_timer(c, CLOSE_WRITE_TIMEOUT_S);
}

/*
 * Detaches r from its connection after the answer was queued, then moves
 * the connection on: next request, close, or free if it was a zombie.
 */
static void req_release(req_t *r, bool close)
{
    conn_t *c = r->conn;
    k1s_http_server_t *srv = c->srv;
    if (r->counted) {
        srv->inflight--;
        r->counted = false;
    }
    c->req = NULL;
    k1s_http_int_req_free(r);
    if (!c->bev) {
        srv->nzombies--;
        k1s_http_int_conn_free(c);
        return;
    }
    if (close || srv->dead)
        k1s_http_int_closing(c);
    else
        conn_next_request(c);
}

/* ---- writing answers ---- */

static void write_head(req_t *r, k1s_buf_t *h, int status, const char *content_type, bool close)
{
    k1s_buf_printf(h, "HTTP/1.1 %d %s\r\n", status, k1s_http_reason(status));
    if (!r->user_cache_control)
        k1s_buf_puts(h, "Cache-Control: no-cache, private\r\n");
    if (!r->user_content_type)
        k1s_buf_printf(h, "Content-Type: %s\r\n",
                       content_type && *content_type ? content_type : "text/plain; charset=utf-8");
    if (!r->user_date)
        k1s_buf_printf(h, "Date: %s\r\n", k1s_http_int_date());
    k1s_buf_puts(h, "X-Content-Type-Options: nosniff\r\n");
    if (r->resp_hdrs.len)
        k1s_buf_append(h, r->resp_hdrs.data, r->resp_hdrs.len);
    if (close)
        k1s_buf_puts(h, "Connection: close\r\n");
    else if (r->http10)
        k1s_buf_puts(h, "Connection: keep-alive\r\n");
}

void k1s_http_add_header(k1s_http_req_t *req, const char *name, const char *value)
{
    req_t *r = (req_t *)req;
    k1s_assert(!r->answered);
    k1s_assert(is_token(name));
    /* Framing is ours: a handler's own copy would corrupt the stream. */
    if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0 ||
        strcasecmp(name, "Connection") == 0)
        return;
    /* These replace the server's default instead of repeating it. */
    if (strcasecmp(name, "Cache-Control") == 0)
        r->user_cache_control = true;
    else if (strcasecmp(name, "Content-Type") == 0)
        r->user_content_type = true;
    else if (strcasecmp(name, "Date") == 0)
        r->user_date = true;
    k1s_buf_puts(&r->resp_hdrs, name);
    k1s_buf_puts(&r->resp_hdrs, ": ");
    /* No header injection: control characters become spaces. */
    for (const char *p = value ? value : ""; *p; p++)
        k1s_buf_putc(&r->resp_hdrs, (*p == '\r' || *p == '\n') ? ' ' : *p);
    k1s_buf_puts(&r->resp_hdrs, "\r\n");
}

void k1s_http_respond(k1s_http_req_t *req, int status, const char *content_type, const char *body,
                      size_t len)
{
    req_t *r = (req_t *)req;
    k1s_assert(!r->answered);
    r->answered = true;
    if (r->lb) {
        k1s_http_lb_respond(r, status, body, len);
        return;
    }
    if (r->h2) {
        k1s_http2_respond(r, status, content_type, body, len);
        return;
    }
    conn_t *c = r->conn;
    bool close = !r->keepalive || c->peer_eof || c->srv->dead;
    if (c->bev) {
        bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
        bool send_body = !no_body && !r->is_head;
        k1s_buf_t h = K1S_BUF_INIT;
        write_head(r, &h, status, content_type, close);
        if (!no_body)
            k1s_buf_printf(&h, "Content-Length: %zu\r\n", len);
        k1s_buf_puts(&h, "\r\n");
        struct evbuffer *out = bufferevent_get_output(c->bev);
        /* One contiguous chunk: one TLS record for small answers. */
        evbuffer_expand(out, h.len + (send_body ? len : 0));
        evbuffer_add(out, h.data, h.len);
        if (send_body && len)
            evbuffer_add(out, body, len);
        k1s_buf_free(&h);
    }
    req_release(r, close);
}

void k1s_http_respond_status(k1s_http_req_t *req, int status, const char *reason,
                             const char *message)
{
    k1s_buf_t b = K1S_BUF_INIT;
    append_status_json(&b, status, reason, message);
    k1s_http_respond(req, status, "application/json", b.data, b.len);
    k1s_buf_free(&b);
}

void k1s_http_stream_start(k1s_http_req_t *req, int status, const char *content_type,
                           k1s_http_close_fn on_close, void *arg)
{
    req_t *r = (req_t *)req;
    k1s_assert(!r->answered);
    r->answered = true;
    r->streaming = true;
    r->on_close = on_close;
    r->close_arg = arg;
    if (r->lb) {
        k1s_http_lb_stream_start(r, status);
        return;
    }
    conn_t *c = r->conn;
    k1s_http_server_t *srv = c->srv;
    if (r->counted) {
        srv->inflight--;
        r->counted = false;
    }
    if (r->h2) {
        k1s_http2_stream_start(r, status, content_type);
        return;
    }
    c->state = ST_STREAMING;
    /* HTTP/1.0 has no chunked encoding: the body ends when the connection does. */
    r->stream_chunked = !r->http10;
    if (c->bev) {
        k1s_buf_t h = K1S_BUF_INIT;
        write_head(r, &h, status, content_type, !r->stream_chunked || !r->keepalive);
        if (r->stream_chunked)
            k1s_buf_puts(&h, "Transfer-Encoding: chunked\r\n");
        k1s_buf_puts(&h, "\r\n");
        bufferevent_write(c->bev, h.data, h.len);
        k1s_buf_free(&h);
    }
    /* A client already gone gets its on_close from the loop, not from here. */
    if (!c->bev || c->peer_eof)
        k1s_http_int_kick(c);
}

int k1s_http_stream_write(k1s_http_req_t *req, const char *data, size_t len)
{
    req_t *r = (req_t *)req;
    k1s_assert(r->streaming && !r->ended);
    if (r->lb)
        return k1s_http_lb_stream_write(r, data, len);
    if (r->h2)
        return k1s_http2_stream_write(r, data, len, NULL);
    conn_t *c = r->conn;
    if (!c->bev)
        return -EPIPE;
    if (r->is_head || len == 0)
        return 0;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (r->stream_chunked) {
        char line[24];
        int n = snprintf(line, sizeof(line), "%zx\r\n", len);
        evbuffer_expand(out, (size_t)n + len + 2);
        evbuffer_add(out, line, (size_t)n);
        evbuffer_add(out, data, len);
        evbuffer_add(out, "\r\n", 2);
    } else {
        evbuffer_add(out, data, len);
    }
    return 0;
}

static void unref_bytes(const void *data, size_t len, void *arg)
{
    k1s_bytes_unref(arg);
}

int k1s_http_stream_write_bytes(k1s_http_req_t *req, k1s_bytes_t *b)
{
    req_t *r = (req_t *)req;
    /* below this, a copy is cheaper than an evbuffer chain per reference */
    if (r->lb)
        return k1s_http_lb_stream_write_bytes(r, b);
    if (b->len < 512)
        return k1s_http_stream_write(req, b->data, b->len);
    k1s_assert(r->streaming && !r->ended);
    if (r->h2)
        return k1s_http2_stream_write(r, b->data, b->len, b);
    conn_t *c = r->conn;
    if (!c->bev)
        return -EPIPE;
    if (r->is_head)
        return 0;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (r->stream_chunked) {
        /* framed once and shared, like the bytes: separate chunk-size and CRLF writes would
         * cost every watcher a buffer chain of its own per event */
        if (!b->chunk) {
            char line[24];
            int n = snprintf(line, sizeof(line), "%zx\r\n", b->len);
            k1s_bytes_t *f = k1s_bytes_new(NULL, (size_t)n + b->len + 2);
            memcpy(f->data, line, (size_t)n);
            memcpy(f->data + n, b->data, b->len);
            memcpy(f->data + n + b->len, "\r\n", 2);
            b->chunk = f;
        }
        b = b->chunk;
    }
    evbuffer_add_reference(out, b->data, b->len, unref_bytes, k1s_bytes_ref(b));
    return 0;
}

size_t k1s_http_stream_pending(const k1s_http_req_t *req)
{
    const req_t *r = (const req_t *)req;
    if (r->lb)
        return k1s_http_lb_stream_pending(r);
    if (r->h2)
        return k1s_http2_stream_pending(r);
    if (!r->conn->bev)
        return 0;
    return evbuffer_get_length(bufferevent_get_output(r->conn->bev));
}

void k1s_http_stream_end(k1s_http_req_t *req)
{
    req_t *r = (req_t *)req;
    k1s_assert(r->streaming && !r->ended);
    r->ended = true;
    if (r->lb) {
        k1s_http_lb_stream_end(r);
        return;
    }
    if (r->h2) {
        k1s_http2_stream_end(r);
        return;
    }
    conn_t *c = r->conn;
    if (c->bev && r->stream_chunked && !r->is_head)
        bufferevent_write(c->bev, "0\r\n\r\n", 5);
    req_release(r, !r->stream_chunked || !r->keepalive || c->peer_eof);
}

struct bufferevent *k1s_http_hijack(k1s_http_req_t *req)
{
    req_t *r = (req_t *)req;
    k1s_assert(!r->answered);
    if (r->h2 || r->lb || !r->conn->bev)
        return NULL;
    conn_t *c = r->conn;
    k1s_http_server_t *srv = c->srv;
    struct bufferevent *bev = c->bev;
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    c->bev = NULL;
    evtimer_del(c->timer);
    event_del(c->kick);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    if (r->counted)
        srv->inflight--;
    r->answered = true;
    c->req = NULL;
    k1s_http_int_req_free(r);
    k1s_http_int_conn_free(c);
    return bev;
}

/* ---- request accessors ---- */

const char *k1s_http_req_header(const k1s_http_req_t *req, const char *name)
{
    const req_t *r = (const req_t *)req;
    for (int i = 0; i < r->nhdrs; i++)
        if (strcasecmp(r->hdrs[i].name, name) == 0)
            return r->hdrs[i].value;
    return NULL;
}

const char *k1s_http_req_header_n(const k1s_http_req_t *req, const char *name, int n)
{
    const req_t *r = (const req_t *)req;
    for (int i = 0; i < r->nhdrs; i++)
        if (strcasecmp(r->hdrs[i].name, name) == 0 && n-- == 0)
            return r->hdrs[i].value;
    return NULL;
}

const char *k1s_http_req_header_prefixed(const k1s_http_req_t *req, const char *prefix, int n,
                                         const char **name)
{
    const req_t *r = (const req_t *)req;
    size_t pl = strlen(prefix);
    for (int i = 0; i < r->nhdrs; i++)
        if (strncasecmp(r->hdrs[i].name, prefix, pl) == 0 && n-- == 0) {
            *name = r->hdrs[i].name;
            return r->hdrs[i].value;
        }
    return NULL;
}

static void parse_params(req_t *r)
{
    r->params_parsed = true;
    const char *q = r->pub.query;
    if (!*q)
        return;
    int n = 1;
    for (const char *p = q; *p; p++)
        if (*p == '&' || *p == ';')
            n++;
    r->params = k1s_http_int_alloc(r, (size_t)n * sizeof(hdr_t));
    const char *p = q;
    while (*p) {
        size_t len = strcspn(p, "&;");
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            char *name = k1s_http_int_alloc(r, nlen + 1);
            pct_decode(p, nlen, name, true, false);
            const char *value = "";
            if (eq) {
                size_t vlen = len - nlen - 1;
                char *v = k1s_http_int_alloc(r, vlen + 1);
                pct_decode(eq + 1, vlen, v, true, false);
                value = v;
            }
            r->params[r->nparams].name = name;
            r->params[r->nparams].value = value;
            r->nparams++;
        }
        p += len;
        if (*p)
            p++;
    }
}

const char *k1s_http_req_query(k1s_http_req_t *req, const char *name)
{
    req_t *r = (req_t *)req;
    if (!r->params_parsed)
        parse_params(r);
    for (int i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

bool k1s_http_req_closed(const k1s_http_req_t *req)
{
    const req_t *r = (const req_t *)req;
    if (r->lb)
        return k1s_http_lb_closed(r);
    if (r->h2)
        return k1s_http2_req_closed(r);
    return !r->conn->bev || r->conn->peer_eof;
}

/* ---- parsing ---- */

enum { P_WAIT = 0, P_DONE = 1, P_FAIL = -1 };

/* Answers a request that failed before reaching the handler, then closes. */
static void send_error(conn_t *c, int status, const char *reason, const char *message)
{
    req_t *r = c->req;
    if (!r) {
        r = k1s_http_int_req_new(c);
        c->req = r;
    }
    r->keepalive = false;
    r->answered = false;
    r->streaming = false;
    r->resp_hdrs.len = 0;
    c->state = ST_HANDLING;
    k1s_debug("http %s: %d %s", c->peer.addr, status, message);
    k1s_http_respond_status(&r->pub, status, reason, message);
}

const char *k1s_http_int_parse_target(req_t *r, char *target)
{
    /* target: origin-form, absolute-form or "*" */
    char *path = target;
    if (strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0) {
        path = strstr(path, "://") + 3;
        path += strcspn(path, "/?");
        if (!*path || *path == '?') {
            /* "http://host?x" has an empty path: treat as "/" */
            char *fixed = k1s_http_int_alloc(r, strlen(path) + 2); /* "/" + query */
            fixed[0] = '/';
            memcpy(fixed + 1, path, strlen(path) + 1);
            path = fixed;
        }
    } else if (strcmp(path, "*") != 0 && path[0] != '/') {
        return "malformed request target";
    }
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    char *dpath = k1s_http_int_alloc(r, plen + 1);
    if (pct_decode(path, plen, dpath, false, true) < 0) {
        return "invalid escape in request path";
    }
    r->pub.path = dpath;
    if (q) {
        /* real clients never send a fragment; cut one off anyway (in place) */
        char *h = strchr(q + 1, '#');
        if (h)
            *h = 0;
        r->pub.query = q + 1;
    }
    return NULL;
}

/*
 * Splits the request head (NUL-terminated, lines ending in LF or CRLF,
 * ending with an empty line) into method, target, version and headers.
 */
static int parse_head(conn_t *c, req_t *r, char *head, size_t len)
{
    if (memchr(head, 0, len)) {
        send_error(c, 400, "BadRequest", "NUL byte in request head");
        return P_FAIL;
    }
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        if (head[i] == '\n')
            lines++;
    r->hdrs = k1s_http_int_alloc(r, (size_t)lines * sizeof(hdr_t));

    char *p = head;
    char *line = p;
    char *nl = strchr(p, '\n');
    *nl = 0;
    p = nl + 1;
    if (nl > line && nl[-1] == '\r')
        nl[-1] = 0;

    /* request line: method SP target SP version */
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ')) {
        send_error(c, 400, "BadRequest", "malformed request line");
        return P_FAIL;
    }
    *sp1 = 0;
    *sp2 = 0;
    const char *method = line, *target = sp1 + 1, *version = sp2 + 1;
    if (!is_token(method) || !*target) {
        send_error(c, 400, "BadRequest", "malformed request line");
        return P_FAIL;
    }
    for (const unsigned char *t = (const unsigned char *)target; *t; t++) {
        if (*t <= 0x20 || *t == 0x7f) {
            send_error(c, 400, "BadRequest", "malformed request target");
            return P_FAIL;
        }
    }
    if (strcmp(version, "HTTP/1.1") == 0) {
        r->keepalive = true;
    } else if (strcmp(version, "HTTP/1.0") == 0) {
        r->http10 = true;
    } else if (k1s_str_has_prefix(version, "HTTP/")) {
        send_error(c, 505, "", "HTTP version not supported");
        return P_FAIL;
    } else {
        send_error(c, 400, "BadRequest", "malformed request line");
        return P_FAIL;
    }
    r->pub.method = method;
    r->pub.target = target;
    r->is_head = strcmp(method, "HEAD") == 0;

    /* headers */
    bool have_cl = false, have_te = false;
    while (*p) {
        line = p;
        nl = strchr(p, '\n');
        *nl = 0;
        p = nl + 1;
        if (nl > line && nl[-1] == '\r')
            nl[-1] = 0;
        if (!*line)
            break;
        if (strchr(line, '\r') || *line == ' ' || *line == '\t') {
            send_error(c, 400, "BadRequest", "malformed header (line folding or stray CR)");
            return P_FAIL;
        }
        char *colon = strchr(line, ':');
        if (!colon) {
            send_error(c, 400, "BadRequest", "malformed header");
            return P_FAIL;
        }
        *colon = 0;
        if (!is_token(line)) {
            send_error(c, 400, "BadRequest", "malformed header name");
            return P_FAIL;
        }
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
        r->hdrs[r->nhdrs].name = line;
        r->hdrs[r->nhdrs].value = v;
        r->nhdrs++;

        if (strcasecmp(line, "Content-Length") == 0) {
            if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18) {
                send_error(c, 400, "BadRequest", "invalid Content-Length");
                return P_FAIL;
            }
            size_t n = strtoull(v, NULL, 10);
            if (have_cl && n != r->content_length) {
                send_error(c, 400, "BadRequest", "conflicting Content-Length headers");
                return P_FAIL;
            }
            have_cl = true;
            r->content_length = n;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            have_te = true;
            if (strcasecmp(v, "chunked") != 0) {
                send_error(c, 501, "", "only the chunked transfer encoding is supported");
                return P_FAIL;
            }
            r->chunked = true;
        } else if (strcasecmp(line, "Connection") == 0) {
            for (char *tok = v; *tok;) {
                size_t n = strcspn(tok, ",");
                char *t = tok;
                while (t < tok + n && (*t == ' ' || *t == '\t'))
                    t++;
                size_t tn = (size_t)(tok + n - t);
                while (tn && (t[tn - 1] == ' ' || t[tn - 1] == '\t'))
                    tn--;
                if (tn == 5 && strncasecmp(t, "close", 5) == 0)
                    r->keepalive = false;
                else if (tn == 10 && strncasecmp(t, "keep-alive", 10) == 0 && r->http10)
                    r->keepalive = true;
                tok += n;
                if (*tok)
                    tok++;
            }
        } else if (strcasecmp(line, "Expect") == 0) {
            if (strcasecmp(v, "100-continue") != 0) {
                send_error(c, 417, "", "unsupported expectation");
                return P_FAIL;
            }
            r->expect_continue = !r->http10;
        }
    }
    /* Both framings at once is how request smuggling starts: refuse. */
    if (have_te && (have_cl || r->http10)) {
        send_error(c, 400, "BadRequest", "conflicting Transfer-Encoding and Content-Length");
        return P_FAIL;
    }

    const char *msg = k1s_http_int_parse_target(r, (char *)target);
    if (msg) {
        send_error(c, 400, "BadRequest", msg);
        return P_FAIL;
    }
    return P_DONE;
}

/* Finds the end of the request head in the input; copies it out and parses it. */
static int read_head(conn_t *c)
{
    k1s_http_server_t *srv = c->srv;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            return P_WAIT;
        if (!c->head_started) {
            c->head_started = true;
            k1s_http_int_timer(c, header_timeout(srv));
        }
        if (c->scan >= avail)
            return P_WAIT;
        struct evbuffer_ptr start;
        if (evbuffer_ptr_set(in, &start, c->scan, EVBUFFER_PTR_SET) < 0)
            return P_WAIT;
        size_t eol_len = 0;
        struct evbuffer_ptr eol = evbuffer_search_eol(in, &start, &eol_len, EVBUFFER_EOL_CRLF);
        if (eol.pos < 0) {
            if (avail > srv->opts.max_header) {
                send_error(c, 431, "", "request head too large");
                return P_FAIL;
            }
            return P_WAIT;
        }
        size_t line_end = (size_t)eol.pos;
        if (line_end == c->scan) {
            if (c->scan == 0) {
                /* RFC 9112 2.2: ignore empty lines before the request line. */
                evbuffer_drain(in, eol_len);
                continue;
            }
            size_t head_len = line_end + eol_len;
            req_t *r = k1s_http_int_req_new(c);
            c->req = r;
            char *head = k1s_http_int_alloc(r, head_len + 1);
            evbuffer_remove(in, head, head_len);
            head[head_len] = 0;
            c->scan = 0;
            return parse_head(c, r, head, head_len);
        }
        c->scan = line_end + eol_len;
        if (c->scan > srv->opts.max_header) {
            send_error(c, 431, "", "request head too large");
            return P_FAIL;
        }
    }
}

static void send_413(conn_t *c)
{
    send_error(c, 413, "RequestEntityTooLarge", "the request is too large");
}

/* Reads one line (up to CHUNK_LINE_MAX) into buf; P_WAIT if incomplete. */
static int read_line(conn_t *c, char *buf, size_t cap, size_t *len)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t eol_len = 0;
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (eol.pos < 0) {
        if (evbuffer_get_length(in) > cap) {
            send_error(c, 400, "BadRequest", "malformed chunked body");
            return P_FAIL;
        }
        return P_WAIT;
    }
    if ((size_t)eol.pos >= cap) {
        send_error(c, 400, "BadRequest", "malformed chunked body");
        return P_FAIL;
    }
    evbuffer_remove(in, buf, (size_t)eol.pos);
    buf[eol.pos] = 0;
    evbuffer_drain(in, eol_len);
    *len = (size_t)eol.pos;
    return P_DONE;
}

static void body_reserve(req_t *r, size_t extra)
{
    if (r->body_len + extra + 1 <= r->body_cap)
        return;
    size_t cap = r->body_cap ? r->body_cap : 4096;
    while (cap < r->body_len + extra + 1)
        cap *= 2;
    r->body = k1s_xrealloc(r->body, cap);
    r->body_cap = cap;
}

/* Moves up to want bytes of body from the input; returns bytes moved. */
static size_t take_body(conn_t *c, req_t *r, size_t want)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t n = evbuffer_get_length(in);
    if (n > want)
        n = want;
    if (n == 0)
        return 0;
    body_reserve(r, n);
    evbuffer_remove(in, r->body + r->body_len, n);
    r->body_len += n;
    return n;
}

/* Sends "100 Continue" if the client waits for it and the body isn't here yet. */
static void maybe_continue(conn_t *c, req_t *r)
{
    if (!r->expect_continue)
        return;
    r->expect_continue = false;
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
        bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

static int read_body(conn_t *c)
{
    req_t *r = c->req;
    const k1s_http_opts_t *o = &c->srv->opts;
    char line[CHUNK_LINE_MAX + 1];
    size_t len;
    for (;;) {
        switch (c->state) {
        case ST_BODY: {
            size_t got = take_body(c, r, r->content_length - r->body_len);
            if (got)
                k1s_http_int_timer(c, c->srv->opts.body_timeout_s);
            if (r->body_len < r->content_length)
                return P_WAIT;
            return P_DONE;
        }
        case ST_CHUNK_SIZE: {
            int rc = read_line(c, line, sizeof(line) - 1, &len);
            if (rc != P_DONE)
                return rc;
            k1s_http_int_timer(c, c->srv->opts.body_timeout_s);
            line[strcspn(line, "; \t")] = 0; /* drop chunk extensions */
            if (!line[0] || strspn(line, "0123456789abcdefABCDEF") != strlen(line) ||
                strlen(line) > 15) {
                send_error(c, 400, "BadRequest", "malformed chunk size");
                return P_FAIL;
            }
            size_t n = strtoull(line, NULL, 16);
            if (n == 0) {
                c->state = ST_TRAILER;
                continue;
            }
            if (r->body_len + n > o->max_body) {
                send_413(c);
                return P_FAIL;
            }
            r->chunk_left = n;
            body_reserve(r, n);
            c->state = ST_CHUNK_DATA;
            continue;
        }
        case ST_CHUNK_DATA: {
            size_t got = take_body(c, r, r->chunk_left);
            if (got)
                k1s_http_int_timer(c, c->srv->opts.body_timeout_s);
            r->chunk_left -= got;
            if (r->chunk_left)
                return P_WAIT;
            c->state = ST_CHUNK_CRLF;
            continue;
        }
        case ST_CHUNK_CRLF: {
            int rc = read_line(c, line, 8, &len);
            if (rc != P_DONE)
                return rc;
            if (len != 0) {
                send_error(c, 400, "BadRequest", "malformed chunked body");
                return P_FAIL;
            }
            c->state = ST_CHUNK_SIZE;
            continue;
        }
        case ST_TRAILER: {
            int rc = read_line(c, line, sizeof(line) - 1, &len);
            if (rc != P_DONE)
                return rc;
            if (len == 0)
                return P_DONE;
            r->trailer_len += len;
            if (r->trailer_len > o->max_header) {
                send_error(c, 431, "", "request trailers too large");
                return P_FAIL;
            }
            continue;
        }
        default: k1s_assert(!"read_body in wrong state");
        }
    }
}

/* Hands a complete request to the handler (or answers 429). Last thing a caller does. */
static void dispatch(conn_t *c)
{
    k1s_http_server_t *srv = c->srv;
    req_t *r = c->req;
    if (r->body) {
        body_reserve(r, 0);
        r->body[r->body_len] = 0;
        r->pub.body = r->body;
    }
    r->pub.body_len = r->body_len;
    r->pub.start_ns = k1s_now_ns();
    c->state = ST_HANDLING;
    evtimer_del(c->timer);
    if (srv->inflight >= srv->opts.max_inflight) {
        k1s_http_add_header(&r->pub, "Retry-After", "1");
        k1s_http_respond_status(&r->pub, 429, "TooManyRequests",
                                "Too many requests, please try again later.");
        return;
    }
    srv->inflight++;
    r->counted = true;
    srv->handler(&r->pub, srv->arg);
}

/* Advances the connection's state machine as far as its input allows. */
static void conn_process(conn_t *c)
{
    if (!c->bev)
        return;
    k1s_http_server_t *srv = c->srv;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    switch (c->state) {
    case ST_HEAD: {
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUT_HIGH) {
            c->wait_drain = true;
            return;
        }
        int rc = read_head(c);
        if (rc == P_FAIL)
            return;
        if (rc == P_WAIT) {
            if (c->peer_eof)
                k1s_http_int_shutdown(c);
            return;
        }
        req_t *r = c->req;
        if (r->chunked) {
            c->state = ST_CHUNK_SIZE;
        } else if (r->content_length > 0) {
            if (r->content_length > srv->opts.max_body) {
                send_413(c);
                return;
            }
            r->body = k1s_xmalloc(r->content_length + 1);
            r->body_cap = r->content_length + 1;
            c->state = ST_BODY;
        } else {
            dispatch(c);
            return;
        }
        k1s_http_int_timer(c, c->srv->opts.body_timeout_s);
        maybe_continue(c, r);
    }
        __attribute__((fallthrough));
    case ST_BODY:
    case ST_CHUNK_SIZE:
    case ST_CHUNK_DATA:
    case ST_CHUNK_CRLF:
    case ST_TRAILER: {
        int rc = read_body(c);
        if (rc == P_DONE)
            dispatch(c);
        else if (rc == P_WAIT && c->peer_eof)
            k1s_http_int_shutdown(c);
        return;
    }
    case ST_LINGER: evbuffer_drain(in, evbuffer_get_length(in)); return;
    case ST_HANDLING:
    case ST_STREAMING:
    case ST_CLOSING:
    case ST_H2: return;
    }
}

/*
 * Closes the socket. A request the handler still owns keeps the connection
 * struct alive (zombie) until it is answered; a stream's on_close runs last.
 */
void k1s_http_int_shutdown(conn_t *c)
{
    if (!c->bev)
        return;
    k1s_http_server_t *srv = c->srv;
    bufferevent_free(c->bev);
    c->bev = NULL;
    evtimer_del(c->timer);
    event_del(c->kick);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    srv->nconns--;
    if (c->h2) {
        k1s_http2_on_shutdown(c);
        return;
    }
    req_t *r = c->req;
    if (!r || (c->state != ST_HANDLING && c->state != ST_STREAMING)) {
        if (r)
            k1s_http_int_req_free(r);
        c->req = NULL;
        k1s_http_int_conn_free(c);
        return;
    }
    srv->nzombies++;
    if (r->streaming && !r->ended && !r->close_called && r->on_close) {
        r->close_called = true;
        r->on_close(&r->pub, r->close_arg);
    }
}

/* ---- libevent callbacks ---- */

static void check_alpn(conn_t *c);

static void read_cb(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    check_alpn(c);
    if (c->state == ST_H2)
        k1s_http2_on_read(c);
    else
        conn_process(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    if (c->state == ST_H2) {
        k1s_http2_on_write(c);
        return;
    }
    /* libevent also calls this when writing was merely enabled: check */
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (c->state == ST_CLOSING) {
        conn_linger(c);
    } else if (c->wait_drain) {
        c->wait_drain = false;
        conn_process(c);
    }
}

static void fill_peer(conn_t *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    if (!ssl || c->peer.has_cert)
        return;
    char *cn;
    char **orgs;
    if (k1s_tls_peer_identity(ssl, &cn, &orgs)) {
        c->peer.has_cert = true;
        c->peer.cn = cn;
        c->peer.orgs = orgs;
    }
}

/* After the handshake: a client that chose "h2" by ALPN speaks HTTP/2. */
static void check_alpn(conn_t *c)
{
    if (c->alpn_checked || !c->tls)
        return;
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    if (!ssl || !SSL_is_init_finished(ssl))
        return;
    c->alpn_checked = true;
    fill_peer(c);
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl, &p, &n);
    if (n == 2 && memcmp(p, "h2", 2) == 0 && c->state == ST_HEAD && !c->req)
        k1s_http2_start(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        check_alpn(c);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        if (c->tls && k1s_log_enabled(K1S_LOG_DEBUG)) {
            unsigned long e;
            while ((e = bufferevent_get_openssl_error(bev))) {
                char msg[256];
                ERR_error_string_n(e, msg, sizeof(msg));
                k1s_debug("http %s: tls: %s", c->peer.addr, msg);
            }
        }
        k1s_http_int_shutdown(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        c->peer_eof = true;
        switch (c->state) {
        case ST_H2: k1s_http_int_shutdown(c); return;
        case ST_HANDLING:
        case ST_CLOSING: return; /* maybe only half-closed: still try to send the answer */
        case ST_STREAMING:
        case ST_LINGER: k1s_http_int_shutdown(c); return;
        default:
            /* requests complete in the input are still answered */
            conn_process(c);
            return;
        }
    }
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    if (!c->bev && c->h2) {
        k1s_http2_on_kick(c);
        return;
    }
    if (!c->bev) {
        /* zombie: a stream started after the client left still gets on_close */
        req_t *r = c->req;
        if (r && r->streaming && !r->ended && !r->close_called && r->on_close) {
            r->close_called = true;
            r->on_close(&r->pub, r->close_arg);
        }
        return;
    }
    if (c->h2)
        k1s_http2_on_kick(c);
    else if (c->state == ST_STREAMING && c->peer_eof)
        k1s_http_int_shutdown(c);
    else
        conn_process(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    if (!c->bev)
        return;
    switch (c->state) {
    case ST_HEAD:
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 && !c->head_started) {
            /* a slow reader still downloading the last answer isn't idle */
            k1s_http_int_timer(c, c->srv->opts.idle_timeout_s);
            return;
        }
        if (c->head_started)
            k1s_debug("http %s: request head timeout", c->peer.addr);
        k1s_http_int_shutdown(c);
        return;
    case ST_HANDLING:
    case ST_STREAMING: return;
    case ST_H2: k1s_http2_on_timer(c); return;
    default: k1s_http_int_shutdown(c); return;
    }
}

static void format_addr(const struct sockaddr *sa, char out[64])
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
        snprintf(out, 64, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        port = ntohs(s->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
            /* a v4 client of a dual-stack listener: show it as v4 */
            inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], ip, sizeof(ip));
            snprintf(out, 64, "%s:%d", ip, port);
        } else {
            inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
            snprintf(out, 64, "[%s]:%d", ip, port);
        }
    } else {
        snprintf(out, 64, "unknown");
    }
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    k1s_http_server_t *srv = arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int flags = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    struct bufferevent *bev;
    if (srv->ssl_ctx) {
        SSL *ssl = SSL_new(srv->ssl_ctx);
        if (!ssl) {
            ERR_clear_error();
            close(fd);
            return;
        }
        bev = bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, flags);
        if (!bev) {
            SSL_free(ssl);
            close(fd);
            return;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    } else {
        bev = bufferevent_socket_new(srv->base, fd, flags);
        if (!bev) {
            close(fd);
            return;
        }
    }
    conn_t *c = k1s_xcalloc(1, sizeof(*c));
    c->srv = srv;
    c->bev = bev;
    c->fd = fd;
    c->tls = srv->ssl_ctx != NULL;
    format_addr(sa, c->peer.addr);
    c->peer.orgs = no_orgs;
    c->timer = evtimer_new(srv->base, timer_cb, c);
    c->kick = event_new(srv->base, -1, 0, kick_cb, c);
    k1s_assert(c->timer && c->kick);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
    /* Bounded input: a pipelining or slow-to-be-served client stops being read. */
    bufferevent_setwatermark(bev, EV_READ, 0, srv->opts.max_header + (64u << 10));
    bufferevent_enable(bev, EV_READ);
    /* The TLS handshake and the first request head share the header deadline. */
    k1s_http_int_timer(c, header_timeout(srv));
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    listener_t *l = arg;
    evconnlistener_enable(l->l);
}

static void accept_error_cb(struct evconnlistener *evl, void *arg)
{
    k1s_http_server_t *srv = arg;
    int e = EVUTIL_SOCKET_ERROR();
    k1s_debug("http: accept: %s", strerror(e));
    /* Out of descriptors: stop accepting for a moment instead of spinning. */
    for (int i = 0; i < srv->nlisteners; i++) {
        if (srv->listeners[i]->l == evl) {
            evconnlistener_disable(evl);
            struct timeval tv = {1, 0};
            evtimer_add(srv->listeners[i]->retry, &tv);
        }
    }
}

/* ---- server ---- */

k1s_http_server_t *k1s_http_server_new(struct event_base *base, SSL_CTX *ssl_ctx,
                                       const k1s_http_opts_t *opts, k1s_http_handler_fn handler,
                                       void *arg)
{
    /* A peer that went away must cost an EPIPE, not the process. */
    signal(SIGPIPE, SIG_IGN);
    k1s_http_server_t *srv = k1s_xcalloc(1, sizeof(*srv));
    srv->base = base;
    if (ssl_ctx) {
        SSL_CTX_up_ref(ssl_ctx);
        srv->ssl_ctx = ssl_ctx;
    }
    if (opts)
        srv->opts = *opts;
    if (!srv->opts.max_body)
        srv->opts.max_body = DEFAULT_MAX_BODY;
    if (!srv->opts.max_header)
        srv->opts.max_header = DEFAULT_MAX_HEADER;
    if (srv->opts.max_inflight <= 0)
        srv->opts.max_inflight = DEFAULT_MAX_INFLIGHT;
    if (srv->opts.idle_timeout_s <= 0)
        srv->opts.idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S;
    if (srv->opts.header_timeout_s <= 0)
        srv->opts.header_timeout_s = DEFAULT_HEADER_TIMEOUT_S;
    if (srv->opts.body_timeout_s <= 0)
        srv->opts.body_timeout_s = K1S_HTTP_BODY_TIMEOUT_S;
    if (srv->opts.h2_max_streams <= 0)
        srv->opts.h2_max_streams = K1S_HTTP_H2_MAX_STREAMS;
    srv->handler = handler;
    srv->arg = arg;
    return srv;
}

int k1s_http_server_listen(k1s_http_server_t *srv, const char *addr, int port, k1s_err_t *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    const char *a = addr && *addr ? addr : "0.0.0.0";
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof(*s4);
    } else if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*s6);
    } else {
        return k1s_err_set(err, EINVAL, "listen on %s:%d: not an IP address", a, port);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return k1s_err_set(err, errno, "listen on %s:%d: socket: %s", a, port, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            return k1s_err_set(err, e,
                               "listen on %s:%d: address already in use (is another server "
                               "running on this port?)",
                               a, port);
        return k1s_err_set(err, e, "listen on %s:%d: %s", a, port, strerror(e));
    }
    if (listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        return k1s_err_set(err, e, "listen on %s:%d: %s", a, port, strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &bl);
    struct evconnlistener *l = evconnlistener_new(
        srv->base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!l) {
        close(fd);
        return k1s_err_set(err, ENOMEM, "listen on %s:%d: cannot create listener", a, port);
    }
    evconnlistener_set_error_cb(l, accept_error_cb);
    srv->listeners =
        k1s_xrealloc(srv->listeners, (size_t)(srv->nlisteners + 1) * sizeof(*srv->listeners));
    listener_t *li = k1s_xcalloc(1, sizeof(*li));
    li->l = l;
    li->retry = evtimer_new(srv->base, retry_cb, li);
    k1s_assert(li->retry);
    srv->listeners[srv->nlisteners++] = li;
    srv->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                            : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

int k1s_http_server_port(k1s_http_server_t *srv)
{
    return srv->port;
}

int k1s_http_server_connections(k1s_http_server_t *srv)
{
    return srv->nconns;
}

int k1s_http_server_inflight(k1s_http_server_t *srv)
{
    return srv->inflight;
}

static void close_listeners(k1s_http_server_t *srv)
{
    for (int i = 0; i < srv->nlisteners; i++) {
        evconnlistener_free(srv->listeners[i]->l);
        event_free(srv->listeners[i]->retry);
        free(srv->listeners[i]);
    }
    free(srv->listeners);
    srv->listeners = NULL;
    srv->nlisteners = 0;
}

int k1s_http_server_shutdown(k1s_http_server_t *srv)
{
    if (!srv || srv->dead)
        return 0;
    close_listeners(srv);
    int n = 0;
    for (conn_t *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (k1s_http2_goaway(c))
            n++;
    }
    return n;
}

void k1s_http_server_free(k1s_http_server_t *srv)
{
    if (!srv || srv->dead)
        return;
    srv->dead = true;
    close_listeners(srv);
    /* Keep the struct alive while on_close callbacks run. */
    srv->nzombies++;
    while (srv->conns)
        k1s_http_int_shutdown(srv->conns);
    srv->nzombies--;
    if (srv->nconns == 0 && srv->nzombies == 0) {
        SSL_CTX_free(srv->ssl_ctx);
        free(srv);
    }
}
