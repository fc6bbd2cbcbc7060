/*
 * Internals shared by the client's transports: the in-process client
 * (client.c, over net/loopback) and the HTTPS client (httpclient.c). A
 * transport starts a call and reports its answer with the loopback's
 * events (whole answer, stream pieces, stream end), so client.c parses
 * answers and watch streams the same way whichever way they came.
 */
#ifndef K1S_CLIENT_CLIENT_INT_H
#define K1S_CLIENT_CLIENT_INT_H

#include "client/client.h"
#include "net/loopback.h"

typedef struct k1s_client_transport {
    /* Starts a call (headers: name, value, ..., NULL; takes body); cb as for loopback calls.
     * A call that fails before an answer reports K1S_LB_RESPONSE with status 0 and a message. */
    void *(*start)(void *ctx, const char *method, const char *target, const char *const *headers,
                   char *body, size_t len, k1s_http_lb_fn cb, void *arg);
    /* No callback after this. */
    void (*cancel)(void *call);
    /* Frees ctx (no calls outstanding). */
    void (*free)(void *ctx);
    /* Connections opened so far (NULL: the transport has none). */
    unsigned (*connects)(void *ctx);
} k1s_client_transport_t;

/* A client over transport tr with context ctx (owned); user is what k1s_client_user says. */
k1s_client_t *k1s_client_new_transport(struct event_base *base, const k1s_client_transport_t *tr,
                                       void *ctx, const char *user);

#endif
