/*
 * Internals shared by the HTTP/1.1 server (http.c) and its HTTP/2 half
 * (http2.c). Not for other modules: they see only http.h.
 *
 * A connection (conn_t) is one socket; it speaks HTTP/1.1 with the state
 * machine in http.c, or, once TLS negotiated "h2" by ALPN, HTTP/2 driven by
 * http2.c (state ST_H2). A request (req_t) is what a handler owns between
 * the handler call and its answer; on HTTP/2 a connection has many at once.
 * The public functions in http.c check req->h2 and hand HTTP/2 requests to
 * the k1s_http2_* functions below.
 */
#ifndef K1S_NET_HTTP_INT_H
#define K1S_NET_HTTP_INT_H

#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/buf.h"
#include "net/http.h"

/* kube-apiserver's default (--http2-max-streams-per-connection=0) */
#define K1S_HTTP_H2_MAX_STREAMS 100
/* default inactivity limit while a request body is arriving */
#define K1S_HTTP_BODY_TIMEOUT_S 60

typedef enum {
    ST_HEAD,       /* waiting for / reading a request head */
    ST_BODY,       /* Content-Length body */
    ST_CHUNK_SIZE, /* chunked body: size line */
    ST_CHUNK_DATA, /* chunked body: data */
    ST_CHUNK_CRLF, /* chunked body: CRLF after data */
    ST_TRAILER,    /* chunked body: trailer section */
    ST_HANDLING,   /* handler owns the request */
    ST_STREAMING,  /* handler is streaming an answer */
    ST_CLOSING,    /* final answer queued; close once it is written */
    ST_LINGER,     /* final answer written; discard input briefly, then close */
    ST_H2,         /* HTTP/2: http2.c drives the connection */
} conn_state_t;

typedef struct arena_blk {
    struct arena_blk *next;
    size_t used, cap;
    _Alignas(max_align_t) char data[];
} arena_blk_t;

typedef struct hdr {
    const char *name, *value;
} hdr_t;

typedef struct conn conn_t;
typedef struct k1s_http2 k1s_http2_t;
typedef struct k1s_http2_stream k1s_http2_stream_t;

typedef struct req {
    k1s_http_req_t pub; /* first: handlers see only this */
    conn_t *conn;
    arena_blk_t *arena;
    hdr_t *hdrs;
    int nhdrs;
    /* query parameters, decoded lazily */
    hdr_t *params;
    int nparams;
    bool params_parsed;
    /* body */
    char *body;
    size_t body_len, body_cap, content_length, chunk_left, trailer_len;
    bool chunked;
    /* request flags */
    bool http10, keepalive, is_head, expect_continue;
    /* answer */
    k1s_buf_t resp_hdrs;
    bool user_cache_control, user_content_type, user_date;
    bool counted;  /* counts toward srv->inflight */
    bool answered; /* respond() or stream_start() called */
    bool streaming, stream_chunked, ended, close_called;
    k1s_http_close_fn on_close;
    void *close_arg;
    /* HTTP/2 (http2.c): the stream (NULL once it is closed or reset), the
     * connection's list of requests the handler owns, the ready queue */
    bool h2, h2_queued, h2_owned; /* came on HTTP/2; in the ready queue; handler owns it */
    int h2_error;                 /* 413 or 431 found while receiving: answered at dispatch */
    int hdrs_cap;
    size_t hdr_bytes;
    k1s_http2_stream_t *h2s;
    struct req *h2_prev, *h2_next, *h2_ready_next;
    /* loopback (loopback.c): the in-memory call this request belongs to; NULL otherwise */
    struct k1s_http_lb_call *lb;
} req_t;

struct conn {
    k1s_http_server_t *srv;
    conn_t *prev, *next;     /* srv->conns while the socket is open */
    struct bufferevent *bev; /* NULL once closed (zombie) */
    struct event *timer;     /* timeouts */
    struct event *kick;      /* deferred work: next request, late on_close */
    evutil_socket_t fd;
    k1s_http_peer_t peer;
    req_t *req;
    conn_state_t state;
    size_t scan;       /* bytes of the head already scanned for its end */
    bool head_started; /* header deadline armed for the current request */
    bool peer_eof;     /* client closed its side */
    bool wait_drain;   /* too much unsent output: wait before parsing more */
    bool tls;
    bool alpn_checked; /* ALPN looked at after the handshake */
    k1s_http2_t *h2;   /* HTTP/2 state (http2.c); NULL for HTTP/1.1 */
};

typedef struct listener {
    struct evconnlistener *l;
    struct event *retry; /* re-enables accepting after EMFILE */
} listener_t;

struct k1s_http_server {
    struct event_base *base;
    SSL_CTX *ssl_ctx;
    k1s_http_opts_t opts;
    k1s_http_handler_fn handler;
    void *arg;
    listener_t **listeners;
    int nlisteners;
    int port;
    conn_t *conns;
    int nconns, nzombies, inflight;
    bool dead;
};

/* ---- shared helpers (http.c) ---- */

/* Allocates n bytes from r's arena (freed with r). */
void *k1s_http_int_alloc(req_t *r, size_t n);
/* A new request on c (peer from c, empty body and query). */
req_t *k1s_http_int_req_new(conn_t *c);
void k1s_http_int_req_free(req_t *r);
/* Frees a connection struct whose socket is closed; frees a dead server with it. */
void k1s_http_int_conn_free(conn_t *c);
/* (Re)arms c's timer. */
void k1s_http_int_timer(conn_t *c, int seconds);
/* Runs c's kick callback from the event loop, outside any caller's stack. */
void k1s_http_int_kick(conn_t *c);
/* Closes c once its queued output has been written. */
void k1s_http_int_closing(conn_t *c);
/* Closes c's socket now; see conn_shutdown in http.c. */
void k1s_http_int_shutdown(conn_t *c);
/* The Date header value for now. */
const char *k1s_http_int_date(void);
/*
 * Splits a request target (writable, in r's arena) into r->pub.path
 * (percent-decoded) and r->pub.query. Returns NULL, or a message for 400.
 */
const char *k1s_http_int_parse_target(req_t *r, char *target);

/* ---- HTTP/2 (http2.c) ---- */

/* ALPN chose "h2": takes over c (sends the server SETTINGS). */
void k1s_http2_start(conn_t *c);
/* libevent callbacks of an ST_H2 connection. */
void k1s_http2_on_read(conn_t *c);
void k1s_http2_on_write(conn_t *c);
void k1s_http2_on_kick(conn_t *c);
void k1s_http2_on_timer(conn_t *c);
/* The socket is gone: ends every stream (on_close for the streaming ones). */
void k1s_http2_on_shutdown(conn_t *c);
/* Frees c->h2 with c. */
void k1s_http2_free(conn_t *c);
/* Server shutdown: sends GOAWAY; returns false if c does not speak HTTP/2. */
bool k1s_http2_goaway(conn_t *c);
/* The public request functions for a request that came on HTTP/2. */
void k1s_http2_respond(req_t *r, int status, const char *content_type, const char *body,
                       size_t len);
void k1s_http2_stream_start(req_t *r, int status, const char *content_type);
int k1s_http2_stream_write(req_t *r, const char *data, size_t len, k1s_bytes_t *b);
size_t k1s_http2_stream_pending(const req_t *r);
void k1s_http2_stream_end(req_t *r);
bool k1s_http2_req_closed(const req_t *r);

/* ---- loopback (loopback.c) ---- */

/* The public request functions for a loopback request (r->lb set). */
void k1s_http_lb_respond(req_t *r, int status, const char *body, size_t len);
void k1s_http_lb_stream_start(req_t *r, int status);
int k1s_http_lb_stream_write(req_t *r, const char *data, size_t len);
int k1s_http_lb_stream_write_bytes(req_t *r, k1s_bytes_t *b);
size_t k1s_http_lb_stream_pending(const req_t *r);
void k1s_http_lb_stream_end(req_t *r);
bool k1s_http_lb_closed(const req_t *r);

#endif
