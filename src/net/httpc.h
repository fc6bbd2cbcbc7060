/*
 * A small asynchronous HTTPS client on the libevent loop, for calls the API
 * server makes to others (admission webhooks, kubelet stats): one POST or GET
 * per connection ("Connection: close"), the server certificate verified
 * against a PEM CA bundle (or the system roots, or a caller's client context)
 * and the expected host name, the whole call bounded by a deadline. Nothing
 * blocks the loop except the name lookup of a host that is not an IP literal
 * or "localhost".
 *
 * Failures are described as Go's net/http client describes them, since
 * Kubernetes users know those messages: "dial tcp 127.0.0.1:9443: connect:
 * connection refused", "context deadline exceeded", "tls: failed to verify
 * certificate: x509: certificate signed by unknown authority".
 */
#ifndef K1S_NET_HTTPC_H
#define K1S_NET_HTTPC_H

#include <event2/event.h>
#include <stddef.h>

typedef struct k1s_httpc k1s_httpc_t;

typedef struct k1s_httpc_req {
    const char *host; /* name for SNI and certificate verification ("svc.ns.svc", an IP) */
    const char *addr; /* IP literal to connect to, or NULL to resolve host */
    int port;
    const char *target; /* path and query: "/validate?timeout=10s" */
    const char *ca_pem; /* PEM CA bundle, or NULL/"" for the system roots */
    size_t ca_len;
    int timeout_ms;
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *method;         /* NULL: "POST" */
    struct ssl_ctx_st *ssl_ctx; /* a client context to use instead of one made from ca_pem
                                   (say, with a client certificate); the call takes a ref */
} k1s_httpc_req_t;

/*
 * Completion: err is 0 with status and body (borrowed, NUL-terminated) of the
 * answer, or -errno with msg saying why (Go style, see above); borrowed.
 */
typedef void (*k1s_httpc_done_fn)(int err, int status, const char *body, size_t len,
                                  const char *msg, void *arg);

/*
 * Starts a POST (or req->method); done is called exactly once from the event loop (never
 * from inside this call) unless the call is cancelled first. Returns the
 * call handle (owned by the client; valid until done runs or cancel).
 */
k1s_httpc_t *k1s_httpc_post(struct event_base *base, const k1s_httpc_req_t *req,
                            k1s_httpc_done_fn done, void *arg);
/* Abandons a call without calling done. Accepts NULL. */
void k1s_httpc_cancel(k1s_httpc_t *c);

/* The loop's resolver: libevent's evdns with the host's /etc/resolv.conf, so that a slow DNS
 * server never stalls the loop. One per process (it has one loop for its lifetime). */
struct evdns_base;
struct evdns_base *k1s_httpc_resolver(struct event_base *base);

#endif
