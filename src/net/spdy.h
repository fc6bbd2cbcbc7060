/*
 * SPDY/3.1 framing, the subset Kubernetes' streaming uses
 * (github.com/moby/spdystream as client-go and the kubelet drive it): the
 * server side of a connection over any byte transport (a socket after an
 * HTTP upgrade, or binary WebSocket messages tunnelling it).
 *
 * Handled: SYN_STREAM (headers through the connection's zlib stream with
 * SPDY/3's dictionary), SYN_REPLY, DATA, RST_STREAM, PING (echoed),
 * GOAWAY; SETTINGS, HEADERS and WINDOW_UPDATE are accepted and ignored
 * (spdystream does not enforce flow-control windows, so neither side
 * stalls on them; back-pressure comes from the transport instead).
 *
 * The connection is a pure protocol engine: bytes go in with
 * k1s_spdy_feed(), frames go out through the `write` callback. Nothing here
 * touches sockets or the event loop. Callbacks must not free the connection
 * (defer that to the loop).
 */
#ifndef K1S_NET_SPDY_H
#define K1S_NET_SPDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K1S_SPDY_MAX_FRAME (1u << 24) /* the 24-bit length field's limit */

enum {
    K1S_SPDY_SYN_STREAM = 1,
    K1S_SPDY_SYN_REPLY = 2,
    K1S_SPDY_RST_STREAM = 3,
    K1S_SPDY_SETTINGS = 4,
    K1S_SPDY_PING = 6,
    K1S_SPDY_GOAWAY = 7,
    K1S_SPDY_HEADERS = 8,
    K1S_SPDY_WINDOW_UPDATE = 9,
};
/* RST_STREAM status codes */
enum { K1S_SPDY_PROTOCOL_ERROR = 1, K1S_SPDY_INVALID_STREAM = 2, K1S_SPDY_CANCEL = 5 };

typedef struct k1s_spdy k1s_spdy_t;

typedef struct k1s_spdy_header {
    char *name, *value; /* name lower-case, as on the wire */
} k1s_spdy_header_t;

typedef struct k1s_spdy_cbs {
    /* Output for the transport (the frame's bytes; copy them). */
    void (*write)(const void *data, size_t len, void *arg);
    /* The peer opened stream id with headers (borrowed for the call); fin: it sends nothing. */
    void (*on_stream)(k1s_spdy_t *s, uint32_t id, const k1s_spdy_header_t *h, int nh, bool fin,
                      void *arg);
    /* Data on stream id; fin: the peer is done sending on it (len may be 0). */
    void (*on_data)(k1s_spdy_t *s, uint32_t id, const unsigned char *data, size_t len, bool fin,
                    void *arg);
    /* The peer reset stream id. */
    void (*on_reset)(k1s_spdy_t *s, uint32_t id, uint32_t status, void *arg);
    /* The peer said GOAWAY or sent something unparseable: stop using the connection. */
    void (*on_goaway)(k1s_spdy_t *s, void *arg);
} k1s_spdy_cbs_t;

/* A new server-side connection. */
k1s_spdy_t *k1s_spdy_new(const k1s_spdy_cbs_t *cbs, void *arg);
void k1s_spdy_free(k1s_spdy_t *s);

/* Feeds bytes from the transport; complete frames are dispatched to the callbacks.
 * Returns 0, or -EPROTO once the stream of frames is broken (then on_goaway was called). */
int k1s_spdy_feed(k1s_spdy_t *s, const void *data, size_t len);

/* Frames out. Header values may hold several values separated by NUL (not used here). */
void k1s_spdy_reply(k1s_spdy_t *s, uint32_t id, const k1s_spdy_header_t *h, int nh, bool fin);
void k1s_spdy_data(k1s_spdy_t *s, uint32_t id, const void *data, size_t len, bool fin);
void k1s_spdy_reset(k1s_spdy_t *s, uint32_t id, uint32_t status);
void k1s_spdy_goaway(k1s_spdy_t *s);

/* The header named name (lower-case) in h, or NULL. */
const char *k1s_spdy_header(const k1s_spdy_header_t *h, int nh, const char *name);

/* SPDY/3's zlib dictionary for header blocks (for tests and clients). */
const unsigned char *k1s_spdy_dictionary(size_t *len);

#endif
