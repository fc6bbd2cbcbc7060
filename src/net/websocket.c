/*
 * WebSocket server framing (RFC 6455) over a connection taken from the
 * HTTP/1.1 server. See websocket.h for the contract.
 *
 * A connection moves through: open (callbacks run) -> closing (owner called
 * k1s_ws_close: the last output drains, then the struct is freed). The read
 * loop holds `busy` while it calls the owner, so an owner that closes from a
 * callback gets its free deferred until the loop unwinds.
 */
#include "net/websocket.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "lib/log.h"
#include "lib/util.h"

#define CLOSE_FLUSH_S 5

struct k1s_ws {
    struct bufferevent *bev;
    k1s_ws_cbs_t cbs;
    void *arg;
    bool closing;  /* owner called k1s_ws_close */
    bool gone;     /* on_close delivered (or owner closed): no more callbacks */
    bool in_msg;   /* inside a fragmented text/binary message */
    bool want_wcb; /* owner saw pending output: tell it when drained */
    int busy;      /* nesting of owner callbacks from the read loop */
    bool free_later;
};

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---------- framing ---------- */

long k1s_ws_parse(unsigned char *buf, size_t len, bool need_mask, size_t max, k1s_ws_frame_t *f)
{
    if (len < 2)
        return 0;
    bool fin = buf[0] & 0x80;
    int op = buf[0] & 0x0f;
    if (buf[0] & 0x70)
        return -EPROTO;
    bool masked = buf[1] & 0x80;
    if (need_mask && !masked)
        return -EPROTO;
    uint64_t plen = buf[1] & 0x7f;
    size_t hl = 2;
    if (plen == 126) {
        if (len < 4)
            return 0;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        hl = 4;
    } else if (plen == 127) {
        if (len < 10)
            return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = plen << 8 | buf[2 + i];
        hl = 10;
    }
    if (op >= 0x8 && (plen > 125 || !fin))
        return -EPROTO;
    if ((op > 0x2 && op < 0x8) || op > 0xa)
        return -EPROTO;
    if (plen > max)
        return -EMSGSIZE;
    size_t ml = masked ? 4 : 0;
    if (len < hl + ml + plen)
        return 0;
    unsigned char *p = buf + hl + ml;
    if (masked) {
        const unsigned char *m = buf + hl;
        for (size_t i = 0; i < plen; i++)
            p[i] ^= m[i & 3];
    }
    f->fin = fin;
    f->opcode = op;
    f->len = (size_t)plen;
    f->payload = p;
    return (long)(hl + ml + plen);
}

size_t k1s_ws_frame_header(unsigned char hdr[10], bool fin, int opcode, size_t len)
{
    hdr[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        hdr[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        hdr[1] = 126;
        hdr[2] = (unsigned char)(len >> 8);
        hdr[3] = (unsigned char)len;
        return 4;
    }
    hdr[1] = 127;
    for (int i = 0; i < 8; i++)
        hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* ---------- handshake ---------- */

static bool header_has_token(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    for (const char *p = v; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == tl && !strncasecmp(p, tok, tl))
            return true;
        p = e;
    }
    return false;
}

bool k1s_ws_is_upgrade(const k1s_http_req_t *req)
{
    const char *up = k1s_http_req_header(req, "Upgrade");
    return !strcmp(req->method, "GET") && up && header_has_token(up, "websocket") &&
           k1s_http_req_header(req, "Sec-WebSocket-Key");
}

const char *k1s_ws_pick_protocol(const k1s_http_req_t *req, const char *const *supported)
{
    for (int n = 0;; n++) {
        const char *v = k1s_http_req_header_n(req, "Sec-WebSocket-Protocol", n);
        if (!v)
            break;
        for (int i = 0; supported[i]; i++)
            if (header_has_token(v, supported[i]))
                return supported[i];
    }
    return NULL;
}

void k1s_ws_accept_value(const char *key, char out[29])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    size_t kl = strlen(key);
    char *s = k1s_xmalloc(kl + sizeof(GUID));
    memcpy(s, key, kl);
    memcpy(s + kl, GUID, sizeof(GUID));
    SHA1((const unsigned char *)s, kl + sizeof(GUID) - 1, md);
    free(s);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

/* ---------- the connection ---------- */

static void ws_free(k1s_ws_t *ws)
{
    if (ws->busy) {
        ws->free_later = true;
        return;
    }
    if (ws->bev)
        bufferevent_free(ws->bev);
    free(ws);
}

static void ws_gone(k1s_ws_t *ws)
{
    if (ws->gone)
        return;
    ws->gone = true;
    if (ws->cbs.on_close) {
        ws->busy++;
        ws->cbs.on_close(ws, ws->arg);
        ws->busy--;
    }
}

static void send_frame(k1s_ws_t *ws, int op, const void *a, size_t al, const void *b, size_t bl)
{
    unsigned char hdr[10];
    size_t hl = k1s_ws_frame_header(hdr, true, op, al + bl);
    struct evbuffer *out = bufferevent_get_output(ws->bev);
    evbuffer_add(out, hdr, hl);
    if (al)
        evbuffer_add(out, a, al);
    if (bl)
        evbuffer_add(out, b, bl);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    k1s_ws_t *ws = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    ws->busy++;
    while (!ws->closing && !ws->gone) {
        size_t avail = evbuffer_get_length(in);
        unsigned char head[14];
        size_t hn = avail < sizeof(head) ? avail : sizeof(head);
        if (hn < 2)
            break;
        evbuffer_copyout(in, head, hn);
        k1s_ws_frame_t f;
        /* learn the frame's size from its header first (parse needs it all) */
        size_t need;
        uint64_t plen = head[1] & 0x7f;
        size_t hl = 2 + ((head[1] & 0x80) ? 4 : 0);
        if (plen == 126) {
            if (hn < 4)
                break;
            plen = (uint64_t)head[2] << 8 | head[3];
            hl += 2;
        } else if (plen == 127) {
            if (hn < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | head[2 + i];
            hl += 8;
        }
        if (plen > K1S_WS_MAX_FRAME) {
            k1s_debug("websocket: frame of %llu bytes is too large", (unsigned long long)plen);
            ws_gone(ws);
            break;
        }
        need = hl + (size_t)plen;
        if (avail < need)
            break;
        unsigned char *buf = evbuffer_pullup(in, (ssize_t)need);
        long n = k1s_ws_parse(buf, need, true, K1S_WS_MAX_FRAME, &f);
        if (n <= 0) {
            k1s_debug("websocket: bad frame from client");
            ws_gone(ws);
            break;
        }
        switch (f.opcode) {
        case K1S_WS_PING: send_frame(ws, K1S_WS_PONG, f.payload, f.len, NULL, 0); break;
        case K1S_WS_PONG: break;
        case K1S_WS_CLOSE:
            send_frame(ws, K1S_WS_CLOSE, f.payload, f.len >= 2 ? 2 : 0, NULL, 0);
            ws_gone(ws);
            break;
        default: {
            bool first = f.opcode != K1S_WS_CONT;
            if (first == ws->in_msg) { /* continuation without a start, or a new start inside */
                ws_gone(ws);
                break;
            }
            ws->in_msg = !f.fin;
            if (ws->cbs.on_data)
                ws->cbs.on_data(ws, first, f.fin, f.payload, f.len, ws->arg);
        }
        }
        if (ws->bev)
            evbuffer_drain(in, (size_t)n);
    }
    ws->busy--;
    if (ws->free_later && !ws->busy)
        ws_free(ws);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    k1s_ws_t *ws = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (ws->closing) {
        ws_free(ws);
        return;
    }
    if (ws->want_wcb && !ws->gone && ws->cbs.on_drain) {
        ws->want_wcb = false;
        ws->busy++;
        ws->cbs.on_drain(ws, ws->arg);
        ws->busy--;
        if (ws->free_later && !ws->busy)
            ws_free(ws);
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    k1s_ws_t *ws = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    if (ws->closing) {
        ws_free(ws);
        return;
    }
    bufferevent_disable(bev, EV_READ | EV_WRITE);
    ws_gone(ws);
}

k1s_ws_t *k1s_ws_accept(k1s_http_req_t *req, const char *protocol, const k1s_ws_cbs_t *cbs,
                        void *arg)
{
    const char *key = k1s_ws_is_upgrade(req) ? k1s_http_req_header(req, "Sec-WebSocket-Key") : NULL;
    if (!key || strlen(key) > 64) {
        k1s_http_respond_status(req, 400, "BadRequest", "expected a WebSocket upgrade request");
        return NULL;
    }
    char acc[29];
    k1s_ws_accept_value(key, acc);
    struct bufferevent *bev = k1s_http_hijack(req);
    if (!bev) {
        k1s_http_respond_status(req, 400, "BadRequest",
                                "WebSocket upgrades need HTTP/1.1 (this request came on HTTP/2)");
        return NULL;
    }
    k1s_ws_t *ws = k1s_xcalloc(1, sizeof(*ws));
    ws->bev = bev;
    ws->cbs = *cbs;
    ws->arg = arg;
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     acc, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                     protocol ? "\r\n" : "");
    bufferevent_write(bev, head, (size_t)n);
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, ws);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    /* frames that came with the request head */
    if (evbuffer_get_length(bufferevent_get_input(bev)))
        bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    return ws;
}

int k1s_ws_send(k1s_ws_t *ws, int opcode, const void *prefix, size_t plen, const void *data,
                size_t len)
{
    if (ws->closing || ws->gone)
        return -EPIPE;
    send_frame(ws, opcode, prefix, plen, data, len);
    return 0;
}

size_t k1s_ws_pending(const k1s_ws_t *ws)
{
    size_t n = ws->bev ? evbuffer_get_length(bufferevent_get_output(ws->bev)) : 0;
    if (n)
        ((k1s_ws_t *)ws)->want_wcb = true;
    return n;
}

void k1s_ws_pause(k1s_ws_t *ws, bool pause)
{
    if (ws->closing || ws->gone)
        return;
    if (pause) {
        bufferevent_disable(ws->bev, EV_READ);
    } else {
        bufferevent_enable(ws->bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_input(ws->bev)))
            bufferevent_trigger(ws->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
    }
}

void k1s_ws_close(k1s_ws_t *ws, uint16_t code, const char *reason)
{
    if (!ws || ws->closing)
        return;
    bool was_gone = ws->gone;
    ws->closing = true;
    ws->gone = true;
    if (was_gone) {
        ws_free(ws);
        return;
    }
    if (code) {
        unsigned char c[2] = {(unsigned char)(code >> 8), (unsigned char)code};
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > 123)
            rl = 123;
        send_frame(ws, K1S_WS_CLOSE, c, 2, reason, rl);
    }
    bufferevent_disable(ws->bev, EV_READ);
    struct timeval tv = {CLOSE_FLUSH_S, 0};
    bufferevent_set_timeouts(ws->bev, NULL, &tv);
    if (evbuffer_get_length(bufferevent_get_output(ws->bev)) == 0)
        ws_free(ws);
}

void k1s_ws_abort(k1s_ws_t *ws)
{
    if (!ws)
        return;
    ws->closing = ws->gone = true;
    ws_free(ws);
}
