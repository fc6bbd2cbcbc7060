/*
 * HTTP/1.1 and HTTP/2 server over TLS (or plain TCP for tests) on a
 * libevent loop. TLS clients that offer "h2" by ALPN get HTTP/2 (http2.c),
 * with many requests and streams multiplexed on one connection; others get
 * HTTP/1.1. Handlers see the same request API either way.
 *
 * One event loop serves every connection; nothing blocks. A handler is
 * called once per complete request (headers + body) and answers either at
 * once or later (after a store commit): the request object stays valid until
 * the handler has answered with k1s_http_respond() or ended a stream with
 * k1s_http_stream_end(), even if the client went away meanwhile (then the
 * answer is dropped). Streaming answers (watch, logs) use chunked encoding
 * on HTTP/1.1 and DATA frames on HTTP/2.
 *
 * Limits keep one client from hurting others: request bodies over
 * max_body get 413 (as a metav1.Status) without being read in full, headers
 * are bounded, idle keep-alive connections are closed after idle_timeout,
 * and when more than max_inflight requests are being handled a new request
 * gets 429 with Retry-After. Streams are not counted as in-flight. On
 * HTTP/2 the same limits hold per stream, a connection has at most
 * h2_max_streams open streams, streamed answers respect the client's flow
 * control windows, and a stream the client resets counts as a client gone.
 *
 * Every answer carries Content-Type, Content-Length (or chunked encoding
 * for streams), Date and "Cache-Control: no-cache, private". HEAD gets the
 * headers of the GET answer without its body. Creating a server sets
 * SIGPIPE to ignored: a vanished client must cost EPIPE, not the process.
 */
#ifndef K1S_NET_HTTP_H
#define K1S_NET_HTTP_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

typedef struct k1s_http_server k1s_http_server_t;
typedef struct k1s_http_req k1s_http_req_t;

/* What TLS told us about the client. */
typedef struct k1s_http_peer {
    bool has_cert; /* a client certificate verified against the client CA */
    char *cn;      /* subject CN (user name) */
    char **orgs;   /* subject O values (groups), NULL-terminated; never NULL */
    char addr[64]; /* remote address "ip:port" */
} k1s_http_peer_t;

struct k1s_http_req {
    const char *method; /* "GET", ... */
    const char *target; /* raw request target: path + optional "?query" */
    const char *path;   /* percent-decoded path without query */
    const char *query;  /* raw query string after '?', "" if none */
    const char *body;   /* request body (NUL-terminated), "" if none */
    size_t body_len;
    const k1s_http_peer_t *peer;
    uint64_t start_ns; /* when the request was complete */
    void *user;        /* free for the handler */
};

typedef void (*k1s_http_handler_fn)(k1s_http_req_t *req, void *arg);
/* Called once if the client disconnects before a streamed answer has ended. */
typedef void (*k1s_http_close_fn)(k1s_http_req_t *req, void *arg);

typedef struct k1s_http_opts {
    size_t max_body;      /* default 3 MiB */
    size_t max_header;    /* default 64 KiB */
    int max_inflight;     /* default 400 */
    int idle_timeout_s;   /* default 120 */
    int header_timeout_s; /* whole request head must arrive within this; default 30 */
    int body_timeout_s;   /* a request body may not stall longer than this; default 60 */
    int h2_max_streams;   /* HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; default 100 */
} k1s_http_opts_t;

/*
 * Creates a server on base. ssl_ctx may be NULL for plain HTTP; the server
 * takes a reference to it (SSL_CTX_up_ref). opts may be NULL for defaults.
 */
k1s_http_server_t *k1s_http_server_new(struct event_base *base, SSL_CTX *ssl_ctx,
                                       const k1s_http_opts_t *opts, k1s_http_handler_fn handler,
                                       void *arg);
/*
 * Listens on addr:port (addr "0.0.0.0", "::", "127.0.0.1", ...; port 0 picks
 * a free one). On EADDRINUSE the message says so plainly. Returns 0 or -errno.
 */
int k1s_http_server_listen(k1s_http_server_t *srv, const char *addr, int port, k1s_err_t *err);
/* The port actually bound by the last listen (useful with port 0). */
int k1s_http_server_port(k1s_http_server_t *srv);
/*
 * Begins a graceful shutdown: stops accepting and sends GOAWAY on every
 * HTTP/2 connection, so clients retry elsewhere instead of seeing a reset.
 * Returns how many GOAWAYs were queued (the caller may run the loop briefly
 * to flush them before k1s_http_server_free). Accepts NULL.
 */
int k1s_http_server_shutdown(k1s_http_server_t *srv);
/* Closes listeners and all connections; frees the server. Accepts NULL. */
void k1s_http_server_free(k1s_http_server_t *srv);
/* Number of open connections and of requests being handled (for metrics). */
int k1s_http_server_connections(k1s_http_server_t *srv);
int k1s_http_server_inflight(k1s_http_server_t *srv);

/* Request accessors. Header names are case-insensitive; returns NULL if absent. */
const char *k1s_http_req_header(const k1s_http_req_t *req, const char *name);
/* The n-th (from 0) value of a header that may repeat (Impersonate-Group), NULL past the last. */
const char *k1s_http_req_header_n(const k1s_http_req_t *req, const char *name, int n);
/* The n-th (from 0) header whose name starts with prefix (Impersonate-Extra-): its value, and its
 * name in *name; NULL past the last. */
const char *k1s_http_req_header_prefixed(const k1s_http_req_t *req, const char *prefix, int n,
                                         const char **name);
/* Percent-decoded value of a query parameter (first occurrence), NULL if absent. */
const char *k1s_http_req_query(k1s_http_req_t *req, const char *name);
/* True once the client has disconnected. */
bool k1s_http_req_closed(const k1s_http_req_t *req);

/*
 * Adds a response header; call before responding or starting a stream.
 * Content-Type, Cache-Control and Date replace the server's defaults;
 * Content-Length, Transfer-Encoding and Connection are ignored (the server
 * owns framing). CR/LF in value become spaces.
 */
void k1s_http_add_header(k1s_http_req_t *req, const char *name, const char *value);
/*
 * Sends a complete response (copies body) and releases req. Safe to call
 * after the client disconnected (it then only releases req).
 */
void k1s_http_respond(k1s_http_req_t *req, int status, const char *content_type, const char *body,
                      size_t len);

/*
 * Sends a metav1.Status failure (or success for 2xx) as JSON:
 * {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
 *  "message":message,"reason":reason,"code":status} and releases req.
 */
void k1s_http_respond_status(k1s_http_req_t *req, int status, const char *reason,
                             const char *message);

/*
 * Starts a chunked streaming response. on_close (may be NULL) is called
 * once, from the event loop, if the client is or goes away before
 * k1s_http_stream_end(); the handler must still call k1s_http_stream_end().
 */
void k1s_http_stream_start(k1s_http_req_t *req, int status, const char *content_type,
                           k1s_http_close_fn on_close, void *arg);
/* Queues one chunk; returns 0, or -EPIPE if the client is gone. */
int k1s_http_stream_write(k1s_http_req_t *req, const char *data, size_t len);
/* Same as k1s_http_stream_write for b, without copying it: the output buffer
 * holds a reference until the bytes are sent. For data shared by many streams. */
int k1s_http_stream_write_bytes(k1s_http_req_t *req, k1s_bytes_t *b);
/* Bytes queued but not yet sent to this client (to detect slow watchers); on
 * HTTP/2, what this stream's flow-control window has not yet let out. */
size_t k1s_http_stream_pending(const k1s_http_req_t *req);
/* Ends the stream (terminating chunk) and releases req. */
void k1s_http_stream_end(k1s_http_req_t *req);

/*
 * Takes over an HTTP/1.1 request's connection for another protocol (a
 * WebSocket, SPDY, a proxied upgrade). Nothing has been written to the
 * client: the caller writes its own answer (e.g. 101 Switching Protocols)
 * and owns the returned bufferevent (TLS or plain, BEV_OPT_CLOSE_ON_FREE;
 * bytes the client sent after the request head stay in its input buffer)
 * with no callbacks set; it frees it when done. req is released. Returns
 * NULL, leaving req to be answered normally, when the request came on
 * HTTP/2 or in-process (loopback) or its client is gone.
 */
struct bufferevent;
struct bufferevent *k1s_http_hijack(k1s_http_req_t *req);

/* Reason phrase for a status code ("Not Found"). */
const char *k1s_http_reason(int status);

#endif
