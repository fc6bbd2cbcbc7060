/*
 * The loopback transport: a third way, beside HTTP/1.1 and HTTP/2, for a
 * request to reach an HTTP handler. The request is built in memory and
 * handed to the handler (k1s_apiserver_handle) from the event loop; its
 * answer, or the chunks of a streamed answer (watch), come back through a
 * callback instead of a socket. No TCP, no TLS, no encoding of heads or
 * chunked framing: in-process clients (src/client) go through exactly the
 * code an HTTP request takes (authentication from the peer identity, RBAC,
 * admission, validation, ...), so they see the same behaviour.
 *
 * Everything runs on one event loop. The handler is called from the loop,
 * never from inside k1s_http_lb_call(), and answers are delivered from the
 * loop too, never from inside the handler's respond or stream_write, so
 * neither side is re-entered.
 */
#ifndef K1S_NET_LOOPBACK_H
#define K1S_NET_LOOPBACK_H

#include <event2/event.h>
#include <stddef.h>

#include "net/http.h"

typedef struct k1s_http_lb_call k1s_http_lb_call_t;

typedef enum {
    K1S_LB_RESPONSE, /* the complete answer in data/len; the call is over */
    K1S_LB_DATA,     /* one piece of a streamed answer */
    K1S_LB_END,      /* the streamed answer ended (server side); the call is over */
} k1s_http_lb_ev_t;

/* status is the answer's HTTP status; data is valid during the call only. */
typedef void (*k1s_http_lb_fn)(k1s_http_lb_ev_t ev, int status, const char *data, size_t len,
                               void *arg);

/*
 * Starts a request: method, target ("/api/v1/pods?watch=1"), headers as
 * name, value pairs ending with NULL (may be NULL), body (takes ownership of
 * a malloc'd buffer; may be NULL) of len bytes. peer is the identity the
 * handler authenticates (has_cert, cn, orgs) and must outlive the call.
 * cb is called from the loop until RESPONSE or END, or until
 * k1s_http_lb_cancel(). Returns the call (owned by the transport).
 */
k1s_http_lb_call_t *k1s_http_lb_call(struct event_base *base, k1s_http_handler_fn handler,
                                     void *handler_arg, const k1s_http_peer_t *peer,
                                     const char *method, const char *target,
                                     const char *const *headers, char *body, size_t len,
                                     k1s_http_lb_fn cb, void *arg);
/*
 * The client goes away: no callback is made after this (safe from inside
 * the callback). A streaming handler sees its on_close, as for a dropped
 * connection. The call must not be used afterwards.
 */
void k1s_http_lb_cancel(k1s_http_lb_call_t *call);
/* Calls started and not yet over (for tests and metrics). */
int k1s_http_lb_active(void);

#endif
