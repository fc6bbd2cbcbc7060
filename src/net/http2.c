/*
 * HTTP/2 (RFC 9113) for the server in http.c, on libnghttp2: framing,
 * HPACK, flow control and stream states are the library's; this file maps
 * streams onto the request API of http.h, so handlers cannot tell which
 * protocol a request came on.
 *
 * A connection gets here when TLS negotiated "h2" by ALPN. Input is fed to
 * nghttp2; a stream whose request is complete (or refused early: 413, 431)
 * goes to a ready queue, and the queue is handed to the handler after
 * nghttp2 returns, never from inside its callbacks. Likewise on_close
 * callbacks and the sending of frames run from the connection's kick event,
 * so handlers may answer, write and end streams from anywhere.
 *
 * Answers are DATA frames read from a per-stream evbuffer without copying
 * (NGHTTP2_DATA_FLAG_NO_COPY moves its chains, also the shared watch event
 * references, straight into the socket's buffer). nghttp2 asks for data only
 * as far as the client's flow-control windows allow, so what a slow reader
 * has not taken stays in its stream's buffer, where
 * k1s_http_stream_pending() sees it; the socket buffer itself never holds
 * more than H2_OUT_HIGH of framed output. Since one connection carries up to
 * 100 streams, a connection with more than H2_CONN_MAX_PENDING unsent in all
 * its streamed answers reports that total as every stream's pending, so a
 * client that stopped reading altogether loses its watches instead of pinning
 * 100 backlogs. (Complete answers, however large, are not counted: a big
 * list must not cost the watches beside it.)
 *
 * Lifetimes: a stream (k1s_http2_stream_t) lives while nghttp2 has it open;
 * its request lives while the handler owns it. Either may go first: a reset
 * stream leaves the request without a stream (writes fail with EPIPE,
 * k1s_http_req_closed() is true, a streaming request gets on_close); an
 * answered request leaves the stream to drain its buffer. When the socket
 * closes with requests still owned, the connection stays as a zombie until
 * the last one is released, as in http.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#include "lib/log.h"
#include "net/http-int.h"

/* kube-apiserver's per-stream upload buffer and largest frame (256 KiB) */
#define H2_WINDOW (256u << 10)
/* framed output queued for the socket before framing stops; resumes below H2_OUT_LOW */
#define H2_OUT_HIGH (64u << 10)
#define H2_OUT_LOW (16u << 10)
/* DATA payloads up to this are copied next to their frame header, larger ones moved */
#define H2_COPY_MAX 4096
/* an ended stream with more than this unsent is reset instead of drained */
#define H2_END_DISCARD (1u << 20)
/* past this much unsent on a connection, every stream on it reports all of it
 * as pending: a client that reads none of its streams is cut off as a whole */
#define H2_CONN_MAX_PENDING (64u << 20)

struct k1s_http2_stream {
    k1s_http2_stream_t *prev, *next;
    int32_t id;
    req_t *req;                 /* the request, until the handler releases it */
    struct evbuffer *out;       /* answer body not yet framed */
    bool eof;                   /* answer complete: END_STREAM once out is sent */
    bool deferred;              /* the data source waits for more in out */
    bool req_done;              /* the client ended its side of the stream */
    bool streamed;              /* a streamed answer: its out counts in h->queued */
    bool head_done;             /* the request's HEADERS are complete */
    uint64_t start_ns, last_ns; /* stream start; last request bytes */
};

struct k1s_http2 {
    nghttp2_session *ng; /* NULL once the socket is closed */
    k1s_http2_stream_t *streams;
    int nstreams;
    req_t *owned; /* requests the handler owns, linked by h2_prev/h2_next */
    int nowned;
    req_t *ready, **ready_tail; /* complete requests waiting for the handler */
    int hold;                   /* > 0 while walking lists that callbacks change */
    size_t queued;              /* bytes in the out buffers of streamed answers */
    bool zombie;                /* socket gone, requests still owned (in srv->nzombies) */
};

/* how often streams still receiving their request are checked for timeouts */
#define H2_SWEEP_S 5

/* ---- lifetimes ---- */

/* Frees a zombie connection once nothing refers to it. Returns true if freed. */
static bool maybe_free(conn_t *c)
{
    k1s_http2_t *h = c->h2;
    if (!h->zombie || h->nowned > 0 || h->hold > 0)
        return false;
    c->srv->nzombies--;
    k1s_http_int_conn_free(c);
    return true;
}

static void own(k1s_http2_t *h, req_t *r)
{
    r->h2_owned = true;
    r->h2_prev = NULL;
    r->h2_next = h->owned;
    if (h->owned)
        h->owned->h2_prev = r;
    h->owned = r;
    h->nowned++;
}

static void unqueue(k1s_http2_t *h, req_t *r)
{
    for (req_t **p = &h->ready; *p; p = &(*p)->h2_ready_next) {
        if (*p == r) {
            *p = r->h2_ready_next;
            break;
        }
    }
    h->ready_tail = &h->ready;
    while (*h->ready_tail)
        h->ready_tail = &(*h->ready_tail)->h2_ready_next;
    r->h2_queued = false;
}

/* The request is complete (or refused): queue it for the handler. */
static void ready(k1s_http2_t *h, req_t *r)
{
    if (r->h2_queued || r->h2_owned)
        return;
    r->h2_queued = true;
    r->h2_ready_next = NULL;
    *h->ready_tail = r;
    h->ready_tail = &r->h2_ready_next;
}

/* The handler is done with r (answered or ended): free it. */
static void release(req_t *r)
{
    conn_t *c = r->conn;
    k1s_http2_t *h = c->h2;
    if (r->counted) {
        c->srv->inflight--;
        r->counted = false;
    }
    if (r->h2_prev)
        r->h2_prev->h2_next = r->h2_next;
    else
        h->owned = r->h2_next;
    if (r->h2_next)
        r->h2_next->h2_prev = r->h2_prev;
    h->nowned--;
    if (r->h2s)
        r->h2s->req = NULL;
    k1s_http_int_req_free(r);
    if (!maybe_free(c) && c->bev)
        k1s_http_int_kick(c);
}

/* nghttp2 closed stream s (or the socket went): detach or free its request, free s. */
static void stream_gone(conn_t *c, k1s_http2_stream_t *s)
{
    k1s_http2_t *h = c->h2;
    req_t *r = s->req;
    if (r) {
        r->h2s = NULL;
        s->req = NULL;
        if (r->h2_owned) {
            /* like a closed HTTP/1.1 connection: on_close from the loop */
            if (r->streaming && !r->ended && !r->close_called && r->on_close && c->bev)
                k1s_http_int_kick(c);
        } else {
            if (r->h2_queued)
                unqueue(h, r);
            k1s_http_int_req_free(r);
        }
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        h->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->nstreams--;
    if (s->streamed)
        h->queued -= evbuffer_get_length(s->out);
    evbuffer_free(s->out);
    free(s);
}

/* Calls on_close for streaming requests whose stream or socket is gone. */
static void run_on_close(conn_t *c)
{
    k1s_http2_t *h = c->h2;
    h->hold++;
    for (;;) {
        req_t *r = h->owned;
        while (r && !((!r->h2s || !c->bev) && r->streaming && !r->ended && !r->close_called &&
                      r->on_close))
            r = r->h2_next;
        if (!r)
            break;
        /* the callback may release r and others: start over afterwards */
        r->close_called = true;
        r->on_close(&r->pub, r->close_arg);
    }
    h->hold--;
}

/*
 * Lets nghttp2 write what it can. Closes the connection (once the output
 * is written) when the session is over. Returns false if c was shut down.
 * Never called from inside nghttp2 or from handler code.
 */
static bool flush(conn_t *c)
{
    k1s_http2_t *h = c->h2;
    if (!c->bev || !h->ng || c->state != ST_H2)
        return true;
    /* room for small frames in one contiguous chunk: one TLS record for small answers */
    evbuffer_expand(bufferevent_get_output(c->bev), 2 * H2_COPY_MAX);
    int rv = nghttp2_session_send(h->ng);
    if (rv != 0) {
        k1s_debug("http2 %s: send: %s", c->peer.addr, nghttp2_strerror(rv));
        k1s_http_int_shutdown(c);
        return false;
    }
    if (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng))
        k1s_http_int_closing(c);
    return true;
}

/* ---- nghttp2 callbacks ---- */

static ssize_t send_cb(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud)
{
    conn_t *c = ud;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) >= H2_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    evbuffer_add(out, data, len);
    return (ssize_t)len;
}

/* A DATA frame: header from nghttp2, payload moved from the stream's buffer. */
static int send_data_cb(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *source, void *ud)
{
    conn_t *c = ud;
    k1s_http2_stream_t *s = source->ptr;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) >= H2_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    evbuffer_add(out, framehd, 9);
    size_t pad = frame->data.padlen;
    if (pad > 0) {
        uint8_t p = (uint8_t)(pad - 1);
        evbuffer_add(out, &p, 1);
    }
    if (s->streamed)
        c->h2->queued -= length;
    if (length <= H2_COPY_MAX) {
        /* small: next to the frame header, so one TLS record carries both */
        evbuffer_add(out, evbuffer_pullup(s->out, (ssize_t)length), length);
        evbuffer_drain(s->out, length);
    } else {
        evbuffer_remove_buffer(s->out, out, length);
    }
    if (pad > 1) {
        static const uint8_t zeros[256];
        evbuffer_add(out, zeros, pad - 1);
    }
    return 0;
}

static ssize_t data_read_cb(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *source, void *ud)
{
    k1s_http2_stream_t *s = source->ptr;
    size_t avail = evbuffer_get_length(s->out);
    if (avail == 0 && !s->eof) {
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = avail < length ? avail : length;
    if (n)
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (s->eof && n == avail)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    conn_t *c = ud;
    k1s_http2_t *h = c->h2;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    k1s_http2_stream_t *s = k1s_xcalloc(1, sizeof(*s));
    s->id = frame->hd.stream_id;
    s->out = evbuffer_new();
    k1s_assert(s->out);
    s->next = h->streams;
    if (h->streams)
        h->streams->prev = s;
    h->streams = s;
    h->nstreams++;
    req_t *r = k1s_http_int_req_new(c);
    r->h2 = true;
    r->keepalive = true;
    r->h2s = s;
    s->req = r;
    s->start_ns = s->last_ns = k1s_now_ns();
    nghttp2_session_set_stream_user_data(ng, s->id, s);
    /* not idle while a stream is open; the timer now checks request timeouts */
    if (h->nstreams == 1)
        k1s_http_int_timer(c, H2_SWEEP_S);
    return 0;
}

static void add_header(req_t *r, const char *name, const char *value)
{
    if (r->nhdrs == r->hdrs_cap) {
        int cap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;
        hdr_t *n = k1s_http_int_alloc(r, (size_t)cap * sizeof(*n));
        if (r->nhdrs)
            memcpy(n, r->hdrs, (size_t)r->nhdrs * sizeof(*n));
        r->hdrs = n;
        r->hdrs_cap = cap;
    }
    r->hdrs[r->nhdrs].name = name;
    r->hdrs[r->nhdrs].value = value;
    r->nhdrs++;
}

static char *arena_strndup(req_t *r, const uint8_t *s, size_t n)
{
    char *p = k1s_http_int_alloc(r, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    conn_t *c = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers are not used by any API client: dropped */
    k1s_http2_stream_t *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    req_t *r = s ? s->req : NULL;
    if (!r || r->h2_queued || r->h2_owned)
        return 0;
    /* RFC 9113 6.5.2: name + value + 32 per field, as SETTINGS_MAX_HEADER_LIST_SIZE counts */
    r->hdr_bytes += namelen + valuelen + 32;
    if (r->hdr_bytes > c->srv->opts.max_header)
        r->h2_error = 431;
    if (r->h2_error)
        return 0;
    char *v = arena_strndup(r, value, valuelen);
    if (namelen > 0 && name[0] == ':') {
        if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
            r->pub.method = v;
            r->is_head = strcmp(v, "HEAD") == 0;
        } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
            r->pub.target = v;
        } else if (namelen == 10 && memcmp(name, ":authority", 10) == 0) {
            add_header(r, "host", v);
        }
        return 0;
    }
    add_header(r, arena_strndup(r, name, namelen), v);
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    conn_t *c = ud;
    k1s_http2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    req_t *r = s ? s->req : NULL;
    if (!r || r->h2_queued || r->h2_owned || r->h2_error)
        return 0;
    s->last_ns = k1s_now_ns();
    if (r->body_len + len > c->srv->opts.max_body) {
        r->h2_error = 413;
        ready(c->h2, r);
        return 0;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        r->body = k1s_xrealloc(r->body, cap);
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    conn_t *c = ud;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    k1s_http2_stream_t *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!s)
        return 0;
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        s->req_done = true;
    if (frame->hd.type == NGHTTP2_HEADERS)
        s->head_done = true;
    req_t *r = s->req;
    if (!r || r->h2_queued || r->h2_owned)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
        !r->h2_error) {
        /* a body announced too large is refused before it is sent */
        const char *cl = k1s_http_req_header(&r->pub, "content-length");
        if (cl && strtoull(cl, NULL, 10) > c->srv->opts.max_body)
            r->h2_error = 413;
    }
    if (r->h2_error || s->req_done)
        ready(c->h2, r);
    return 0;
}

/* An answer that ended before the request did: ask the client to stop sending. */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    k1s_http2_stream_t *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (s && !s->req_done)
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *ud)
{
    conn_t *c = ud;
    k1s_http2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (!s)
        return 0;
    if (error_code != NGHTTP2_NO_ERROR)
        k1s_debug("http2 %s: stream %d closed: %s", c->peer.addr, id,
                  nghttp2_http2_strerror(error_code));
    stream_gone(c, s);
    if (c->h2->nstreams == 0 && c->bev)
        k1s_http_int_timer(c, c->srv->opts.idle_timeout_s);
    return 0;
}

static int on_error(nghttp2_session *ng, int code, const char *msg, size_t len, void *ud)
{
    conn_t *c = ud;
    k1s_debug("http2 %s: %.*s", c->peer.addr, (int)len, msg);
    return 0;
}

/* ---- answers ---- */

#define MAX_DEFAULT_HEADERS 8

/*
 * Submits the response headers of r's stream: the defaults of http.c's
 * write_head, the handler's headers (names lowercased, connection-specific
 * ones dropped), content-length if with_length. with_data: a body follows
 * from the stream's buffer; otherwise the headers end the stream.
 */
static void submit_response(conn_t *c, req_t *r, int status, const char *content_type,
                            bool with_length, size_t len, bool with_data)
{
    k1s_http2_stream_t *s = r->h2s;
    int cap = MAX_DEFAULT_HEADERS;
    for (size_t i = 0; i < r->resp_hdrs.len; i++)
        if (r->resp_hdrs.data[i] == '\n')
            cap++;
    nghttp2_nv *nv = k1s_xcalloc((size_t)cap, sizeof(*nv));
    int n = 0;
#define NV(name_, nlen_, value_, vlen_)                                                            \
    do {                                                                                           \
        nv[n].name = (uint8_t *)(name_);                                                           \
        nv[n].namelen = (nlen_);                                                                   \
        nv[n].value = (uint8_t *)(value_);                                                         \
        nv[n].valuelen = (vlen_);                                                                  \
        nv[n].flags = NGHTTP2_NV_FLAG_NONE;                                                        \
        n++;                                                                                       \
    } while (0)
#define NVS(name_, value_) NV(name_, strlen(name_), value_, strlen(value_))
    char st[16], cl[32];
    snprintf(st, sizeof(st), "%d", status);
    NVS(":status", st);
    if (!r->user_cache_control)
        NVS("cache-control", "no-cache, private");
    if (!r->user_content_type)
        NVS("content-type",
            content_type && *content_type ? content_type : "text/plain; charset=utf-8");
    if (!r->user_date)
        NVS("date", k1s_http_int_date());
    NVS("x-content-type-options", "nosniff");
    /* the handler's headers, kept by http.c as "Name: value\r\n" lines */
    const char *p = r->resp_hdrs.data, *end = p ? p + r->resp_hdrs.len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (!eol || !colon || colon > eol)
            break;
        size_t nlen = (size_t)(colon - p);
        char *name = k1s_http_int_alloc(r, nlen + 1);
        for (size_t i = 0; i < nlen; i++)
            name[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
        name[nlen] = 0;
        const char *v = colon + 1;
        while (v < eol && *v == ' ')
            v++;
        /* RFC 9113 8.2.2: no connection-specific fields */
        if (strcmp(name, "keep-alive") && strcmp(name, "proxy-connection") &&
            strcmp(name, "upgrade") && strcmp(name, "connection") &&
            strcmp(name, "transfer-encoding"))
            NV(name, nlen, v, (size_t)(eol - v));
        p = eol + 2;
    }
    if (with_length) {
        snprintf(cl, sizeof(cl), "%zu", len);
        NVS("content-length", cl);
    }
#undef NVS
#undef NV
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = data_read_cb};
    int rv = nghttp2_submit_response(c->h2->ng, s->id, nv, (size_t)n, with_data ? &prd : NULL);
    if (rv != 0)
        k1s_debug("http2 %s: stream %d: submit response: %s", c->peer.addr, s->id,
                  nghttp2_strerror(rv));
    free(nv);
}

/* True while r can still be answered on the wire. */
static bool live(const req_t *r)
{
    return r->h2s && r->conn->bev && r->conn->h2->ng && r->conn->state == ST_H2;
}

/* More of s's answer is ready: let nghttp2 frame it. */
static void wake(conn_t *c, k1s_http2_stream_t *s)
{
    if (s->deferred) {
        s->deferred = false;
        nghttp2_session_resume_data(c->h2->ng, s->id);
    }
    k1s_http_int_kick(c);
}

void k1s_http2_respond(req_t *r, int status, const char *content_type, const char *body, size_t len)
{
    if (live(r)) {
        bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
        bool send_body = !no_body && !r->is_head && len > 0;
        k1s_http2_stream_t *s = r->h2s;
        if (send_body)
            evbuffer_add(s->out, body, len);
        s->eof = true;
        submit_response(r->conn, r, status, content_type, !no_body, len, send_body);
    }
    release(r);
}

void k1s_http2_stream_start(req_t *r, int status, const char *content_type)
{
    conn_t *c = r->conn;
    if (live(r)) {
        r->h2s->streamed = true;
        submit_response(c, r, status, content_type, false, 0, true);
    }
    /* a client already gone gets its on_close from the loop, not from here */
    k1s_http_int_kick(c);
}

static void unref_bytes(const void *data, size_t len, void *arg)
{
    k1s_bytes_unref(arg);
}

int k1s_http2_stream_write(req_t *r, const char *data, size_t len, k1s_bytes_t *b)
{
    if (!live(r))
        return -EPIPE;
    if (r->is_head || len == 0)
        return 0;
    k1s_http2_stream_t *s = r->h2s;
    /* below 512 bytes a copy is cheaper than an evbuffer chain per reference */
    if (b && len >= 512)
        evbuffer_add_reference(s->out, b->data, b->len, unref_bytes, k1s_bytes_ref(b));
    else
        evbuffer_add(s->out, data, len);
    r->conn->h2->queued += len;
    wake(r->conn, s);
    return 0;
}

size_t k1s_http2_stream_pending(const req_t *r)
{
    if (!live(r))
        return 0;
    size_t conn = r->conn->h2->queued;
    return conn > H2_CONN_MAX_PENDING ? conn : evbuffer_get_length(r->h2s->out);
}

void k1s_http2_stream_end(req_t *r)
{
    if (live(r)) {
        conn_t *c = r->conn;
        k1s_http2_stream_t *s = r->h2s;
        if (evbuffer_get_length(s->out) > H2_END_DISCARD) {
            /* a reader this far behind would pin the rest: drop it */
            c->h2->queued -= evbuffer_get_length(s->out);
            evbuffer_drain(s->out, evbuffer_get_length(s->out));
            nghttp2_submit_rst_stream(c->h2->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
            k1s_http_int_kick(c);
        } else {
            s->eof = true;
            wake(c, s);
        }
    }
    release(r);
}

bool k1s_http2_req_closed(const req_t *r)
{
    return !live(r);
}

/* ---- dispatch ---- */

static void dispatch(conn_t *c, req_t *r)
{
    k1s_http_server_t *srv = c->srv;
    own(c->h2, r);
    if (r->body) {
        r->body[r->body_len] = 0;
        r->pub.body = r->body;
    }
    r->pub.body_len = r->body_len;
    r->pub.start_ns = k1s_now_ns();
    if (r->h2_error == 431) {
        k1s_http_respond_status(&r->pub, 431, "", "request header fields too large");
        return;
    }
    if (r->h2_error == 413) {
        k1s_http_respond_status(&r->pub, 413, "RequestEntityTooLarge", "the request is too large");
        return;
    }
    if (!r->pub.method || !r->pub.target) {
        r->pub.method = r->pub.method ? r->pub.method : "GET";
        r->pub.target = "";
        k1s_http_respond_status(&r->pub, 400, "BadRequest", "malformed request");
        return;
    }
    for (const unsigned char *t = (const unsigned char *)r->pub.target; *t; t++) {
        if (*t <= 0x20 || *t == 0x7f) {
            k1s_http_respond_status(&r->pub, 400, "BadRequest", "malformed request target");
            return;
        }
    }
    const char *msg = k1s_http_int_parse_target(r, (char *)r->pub.target);
    if (msg) {
        k1s_http_respond_status(&r->pub, 400, "BadRequest", msg);
        return;
    }
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

/* ---- the connection ---- */

void k1s_http2_start(conn_t *c)
{
    k1s_http_server_t *srv = c->srv;
    k1s_http2_t *h = k1s_xcalloc(1, sizeof(*h));
    h->ready_tail = &h->ready;
    c->h2 = h;
    c->state = ST_H2;

    nghttp2_session_callbacks *cbs;
    k1s_assert(nghttp2_session_callbacks_new(&cbs) == 0);
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_send_data_callback(cbs, send_data_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
    k1s_assert(nghttp2_session_server_new(&h->ng, cbs, c) == 0);
    nghttp2_session_callbacks_del(cbs);

    /* kube-apiserver's settings: 100 streams, 256 KiB per stream and frame,
     * a connection window for all of them */
    uint32_t streams = (uint32_t)srv->opts.h2_max_streams;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, H2_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)srv->opts.max_header},
    };
    nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0,
                                          (int32_t)(H2_WINDOW * streams));
    bufferevent_setwatermark(c->bev, EV_WRITE, H2_OUT_LOW, 0);
    k1s_http_int_timer(c, srv->opts.idle_timeout_s);
    k1s_http_int_kick(c);
}

void k1s_http2_on_read(conn_t *c)
{
    k1s_http2_t *h = c->h2;
    if (!c->bev || !h->ng)
        return;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v[8];
        int nv = evbuffer_peek(in, -1, NULL, v, 8);
        if (nv > 8)
            nv = 8;
        size_t used = 0;
        for (int i = 0; i < nv; i++) {
            ssize_t rv = nghttp2_session_mem_recv(h->ng, v[i].iov_base, v[i].iov_len);
            if (rv < 0) {
                k1s_debug("http2 %s: %s", c->peer.addr, nghttp2_strerror((int)rv));
                k1s_http_int_shutdown(c);
                return;
            }
            used += (size_t)rv;
        }
        evbuffer_drain(in, used);
    }
    /* complete requests go to the handler now that nghttp2 has returned */
    h->hold++;
    req_t *r;
    while ((r = h->ready)) {
        h->ready = r->h2_ready_next;
        if (!h->ready)
            h->ready_tail = &h->ready;
        r->h2_queued = false;
        dispatch(c, r);
    }
    h->hold--;
    flush(c);
}

void k1s_http2_on_write(conn_t *c)
{
    flush(c);
}

void k1s_http2_on_kick(conn_t *c)
{
    run_on_close(c);
    if (maybe_free(c))
        return;
    flush(c);
}

/*
 * Streams whose request is still arriving: the head must be complete within
 * header_timeout and the body must not stall for body_timeout, as on
 * HTTP/1.1; a stream that breaks either is reset (a slowloris on one stream
 * would otherwise keep the connection from ever being idle).
 */
static void sweep(conn_t *c)
{
    k1s_http2_t *h = c->h2;
    uint64_t now = k1s_now_ns();
    uint64_t head_ns = (uint64_t)c->srv->opts.header_timeout_s * 1000000000ull;
    uint64_t body_ns = (uint64_t)c->srv->opts.body_timeout_s * 1000000000ull;
    for (k1s_http2_stream_t *s = h->streams; s; s = s->next) {
        req_t *r = s->req;
        if (!r || r->h2_queued || r->h2_owned || s->req_done)
            continue;
        if ((!s->head_done && now - s->start_ns > head_ns) ||
            (s->head_done && now - s->last_ns > body_ns)) {
            k1s_debug("http2 %s: stream %d: request timeout", c->peer.addr, s->id);
            nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        }
    }
}

void k1s_http2_on_timer(conn_t *c)
{
    k1s_http2_t *h = c->h2;
    if (!h->ng)
        return;
    if (h->nstreams > 0) {
        sweep(c);
        k1s_http_int_timer(c, H2_SWEEP_S);
        flush(c);
        return;
    }
    k1s_debug("http2 %s: idle, closing", c->peer.addr);
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
    if (flush(c) && c->state == ST_H2)
        k1s_http_int_closing(c);
}

bool k1s_http2_goaway(conn_t *c)
{
    k1s_http2_t *h = c->h2;
    if (!h || !h->ng || !c->bev || c->state != ST_H2)
        return false;
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
    flush(c);
    return true;
}

void k1s_http2_on_shutdown(conn_t *c)
{
    k1s_http2_t *h = c->h2;
    h->hold++;
    if (h->ng) {
        nghttp2_session_del(h->ng);
        h->ng = NULL;
    }
    while (h->streams)
        stream_gone(c, h->streams);
    if (h->nowned > 0) {
        h->zombie = true;
        c->srv->nzombies++;
    }
    h->hold--;
    run_on_close(c);
    if (!h->zombie)
        k1s_http_int_conn_free(c);
    else
        maybe_free(c);
}

void k1s_http2_free(conn_t *c)
{
    k1s_http2_t *h = c->h2;
    if (!h)
        return;
    if (h->ng)
        nghttp2_session_del(h->ng);
    while (h->streams)
        stream_gone(c, h->streams);
    free(h);
    c->h2 = NULL;
}
