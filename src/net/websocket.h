/*
 * WebSocket server side (RFC 6455) on top of the HTTP/1.1 server: the
 * handshake (k1s_ws_accept takes the connection over with k1s_http_hijack
 * and answers 101 with the chosen subprotocol) and message framing. It is
 * what the kubelet API speaks for exec/attach (channel protocols
 * v4/v5.channel.k8s.io) and port-forward (SPDY/3.1 tunnelled in binary
 * messages).
 *
 * Messages are handed to the owner as they arrive, frame by frame (a
 * fragmented message arrives in pieces, `first` set on its first piece), so
 * nothing is buffered beyond one frame (at most K1S_WS_MAX_FRAME bytes).
 * Pings are answered, a close frame is echoed. Back-pressure: the owner
 * checks k1s_ws_pending() and stops producing above a limit; on_drain tells
 * it when the output has emptied; k1s_ws_pause() stops reading the client.
 */
#ifndef K1S_NET_WEBSOCKET_H
#define K1S_NET_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http.h"

#define K1S_WS_MAX_FRAME (1u << 20)

enum {
    K1S_WS_CONT = 0x0,
    K1S_WS_TEXT = 0x1,
    K1S_WS_BINARY = 0x2,
    K1S_WS_CLOSE = 0x8,
    K1S_WS_PING = 0x9,
    K1S_WS_PONG = 0xa,
};

typedef struct k1s_ws k1s_ws_t;

typedef struct k1s_ws_cbs {
    /* A piece of a text or binary message: `first` on its first piece, `fin` on its last. */
    void (*on_data)(k1s_ws_t *ws, bool first, bool fin, const unsigned char *data, size_t len,
                    void *arg);
    /* The client closed, or the connection failed. No more callbacks follow; the owner must
     * still call k1s_ws_close() to free ws. */
    void (*on_close)(k1s_ws_t *ws, void *arg);
    /* Everything queued has been written (after k1s_ws_pending() was high). May be NULL. */
    void (*on_drain)(k1s_ws_t *ws, void *arg);
} k1s_ws_cbs_t;

/* True if req asks for a WebSocket (GET, Upgrade: websocket, a Sec-WebSocket-Key). */
bool k1s_ws_is_upgrade(const k1s_http_req_t *req);

/*
 * The first of the client's offered subprotocols (Sec-WebSocket-Protocol, a comma
 * separated list) that is in `supported` (NULL-terminated, in the server's order of
 * preference); the returned pointer is into supported. NULL if none matches.
 */
const char *k1s_ws_pick_protocol(const k1s_http_req_t *req, const char *const *supported);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)). */
void k1s_ws_accept_value(const char *key, char out[29]);

/*
 * Accepts the upgrade: answers 101 with `protocol` (may be NULL) and takes the
 * connection over. Returns the new WebSocket (owned by the caller; free it with
 * k1s_ws_close), or NULL if req is not a WebSocket request or came over HTTP/2
 * (then req has been answered with 400).
 */
k1s_ws_t *k1s_ws_accept(k1s_http_req_t *req, const char *protocol, const k1s_ws_cbs_t *cbs,
                        void *arg);

/* Sends one unfragmented message whose payload is prefix followed by data (either may be
 * empty). Returns 0, or -EPIPE once the connection is closing or gone. */
int k1s_ws_send(k1s_ws_t *ws, int opcode, const void *prefix, size_t plen, const void *data,
                size_t len);
/* Bytes queued for the client but not yet written. */
size_t k1s_ws_pending(const k1s_ws_t *ws);
/* Stops (true) or resumes (false) reading from the client. */
void k1s_ws_pause(k1s_ws_t *ws, bool pause);
/*
 * Sends a close frame (code, reason; code 0 sends none), lets queued output go out
 * (bounded by a few seconds) and frees ws. No callbacks after this. Accepts NULL.
 */
void k1s_ws_close(k1s_ws_t *ws, uint16_t code, const char *reason);

/* Closes the connection at once, dropping queued output (server shutdown). Accepts NULL. */
void k1s_ws_abort(k1s_ws_t *ws);

/* ---- framing, for tests and other users ---- */

typedef struct k1s_ws_frame {
    bool fin;
    int opcode;
    size_t len;             /* payload length */
    unsigned char *payload; /* unmasked, inside the buffer given to k1s_ws_parse */
} k1s_ws_frame_t;

/*
 * Parses one frame at the start of buf (len bytes, modified in place: the payload is
 * unmasked). Returns the frame's total size (>0) with *f filled, 0 if more bytes are
 * needed, or -EPROTO (bad frame: reserved bits, an unmasked client frame when
 * need_mask, a control frame over 125 bytes or fragmented) or -EMSGSIZE (payload
 * over max).
 */
long k1s_ws_parse(unsigned char *buf, size_t len, bool need_mask, size_t max, k1s_ws_frame_t *f);
/* Writes a frame header for an unmasked (server) frame into hdr (up to 10 bytes); returns
 * its length. */
size_t k1s_ws_frame_header(unsigned char hdr[10], bool fin, int opcode, size_t len);

#endif
