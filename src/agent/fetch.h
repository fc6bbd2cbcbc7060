/*
 * One HTTPS request on the event loop, for the agent's join: unlike the API
 * client (client/client.h) it can talk to a server it does not trust yet
 * (to fetch the CA it will then pin), and it sends any headers the join
 * endpoints want (basic auth, node name and password). One connection per
 * request ("Connection: close"), IPv4 or IPv6 literal addresses, the whole
 * call bounded by a deadline.
 */
#ifndef K1S_AGENT_FETCH_H
#define K1S_AGENT_FETCH_H

#include <event2/event.h>
#include <stddef.h>

typedef struct k1s_fetch k1s_fetch_t;

typedef struct k1s_fetch_req {
    const char *addr; /* IP literal to connect to */
    int port;
    const char *method; /* "GET", "POST" */
    const char *target; /* path and query */
    const char *ca_pem; /* PEM CA the server must chain to (and name addr), or NULL: no checks */
    const char *const *headers; /* name, value, ..., NULL; may be NULL */
    const char *body;           /* may be NULL */
    size_t body_len;
    int timeout_ms; /* 0: 10 s */
} k1s_fetch_req_t;

/*
 * Completion, called exactly once from the loop: err 0 with the answer's
 * status and body (borrowed, NUL-terminated), or -errno with msg saying why
 * in Go's words ("dial tcp 127.0.0.1:6443: connect: connection refused",
 * "tls: failed to verify certificate: x509: certificate signed by unknown
 * authority", "i/o timeout").
 */
typedef void (*k1s_fetch_fn)(int err, int status, const char *body, size_t len, const char *msg,
                             void *arg);

/* Starts a request (everything in req is copied); returns its handle, valid until fn runs. */
k1s_fetch_t *k1s_fetch(struct event_base *base, const k1s_fetch_req_t *req, k1s_fetch_fn fn,
                       void *arg);
/* Abandons a request: fn is not called. Accepts NULL. */
void k1s_fetch_cancel(k1s_fetch_t *f);

#endif
