/*
 * The grpc probe: one grpc.health.v1.Health/Check call over HTTP/2 without
 * TLS (h2c with prior knowledge, as grpc-go's insecure dial), with kubelet's
 * outcome rules (pkg/probe/grpc): status SERVING is success; another status,
 * a gRPC error, a refused connection or the timeout is a failure with
 * kubelet's message. The two protobuf messages have one field each and are
 * encoded and decoded by hand. See probes.h.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/kubelet-int.h"
#include "agent/probes.h"
#include "lib/buf.h"
#include "lib/log.h"

#define GRPC_PATH "/grpc.health.v1.Health/Check"
#define MAX_BODY 65536

struct k1s_grpc_probe {
    struct bufferevent *bev;
    struct event *timeout;
    nghttp2_session *h2;
    k1s_probe_done_fn done;
    void *arg;
    char *addr;
    int timeout_s;
    unsigned char *req; /* the length-prefixed request message */
    size_t req_len, req_off;
    int32_t stream;
    bool connected, closed;
    int http_status, grpc_status; /* grpc_status -1: none received */
    char *grpc_message;
    k1s_buf_t body;
};

static const char *const code_names[] = {
    "OK",       "Canceled",        "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",   "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",      "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated",
};

static const char *const status_names[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};

/* HealthCheckRequest{service}: field 1, length-delimited, behind gRPC's 5-byte prefix
 * (no compression, big-endian length). A new buffer of *len bytes. */
static unsigned char *grpc_health_request(const char *service, size_t *len)
{
    size_t n = strlen(service), msg = 0;
    unsigned char *b = k1s_xmalloc(5 + 1 + 10 + n);
    if (n) {
        size_t o = 5;
        b[o++] = 0x0a;
        for (size_t v = n;; v >>= 7) {
            b[o++] = (unsigned char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
            if (v < 0x80)
                break;
        }
        memcpy(b + o, service, n);
        msg = o + n - 5;
    }
    b[0] = 0;
    b[1] = (unsigned char)(msg >> 24);
    b[2] = (unsigned char)(msg >> 16);
    b[3] = (unsigned char)(msg >> 8);
    b[4] = (unsigned char)msg;
    *len = 5 + msg;
    return b;
}

static int read_varint(const unsigned char *p, size_t len, size_t *off, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*off >= len)
            return -EINVAL;
        unsigned char c = p[(*off)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -EINVAL;
}

/* The status of a length-prefixed HealthCheckResponse (0, UNKNOWN, when the field is
 * absent); -EINVAL when the body is not one uncompressed message. Unknown fields are
 * skipped, as protobuf readers do. */
static int grpc_health_status(const unsigned char *b, size_t len)
{
    if (len < 5 || b[0] != 0)
        return -EINVAL;
    size_t n = ((size_t)b[1] << 24) | ((size_t)b[2] << 16) | ((size_t)b[3] << 8) | b[4];
    if (n != len - 5)
        return -EINVAL;
    const unsigned char *m = b + 5;
    size_t off = 0;
    int status = 0;
    while (off < n) {
        uint64_t key, v;
        if (read_varint(m, n, &off, &key) < 0)
            return -EINVAL;
        switch (key & 7) {
        case 0:
            if (read_varint(m, n, &off, &v) < 0)
                return -EINVAL;
            if (key >> 3 == 1)
                status = v > 1000 ? 1000 : (int)v;
            break;
        case 1:
            if (n - off < 8)
                return -EINVAL;
            off += 8;
            break;
        case 2:
            if (read_varint(m, n, &off, &v) < 0 || v > n - off)
                return -EINVAL;
            off += v;
            break;
        case 5:
            if (n - off < 4)
                return -EINVAL;
            off += 4;
            break;
        default: return -EINVAL;
        }
    }
    return status;
}

static void grpc_free(k1s_grpc_probe_t *g)
{
    if (g->h2)
        nghttp2_session_del(g->h2);
    if (g->bev)
        bufferevent_free(g->bev);
    if (g->timeout)
        event_free(g->timeout);
    free(g->addr);
    free(g->req);
    free(g->grpc_message);
    k1s_buf_free(&g->body);
    free(g);
}

static void complete(k1s_grpc_probe_t *g, bool ok, const char *msg)
{
    g->done(g->arg, ok, msg);
    grpc_free(g);
}

static void fail_connect(k1s_grpc_probe_t *g)
{
    /* grpc-go's blocking dial retries until the deadline: kubelet reports that */
    char *msg = k1s_xasprintf("timeout: failed to connect service \"%s\" within %ds: context "
                              "deadline exceeded",
                              g->addr, g->timeout_s);
    complete(g, false, msg);
    free(msg);
}

/* The call is over (stream closed, or the connection went): kubelet's verdict. */
static void verdict(k1s_grpc_probe_t *g)
{
    char *msg = NULL;
    bool ok = false;
    int code = g->grpc_status;
    if (code < 0 && g->http_status != 200) {
        msg = k1s_xasprintf("error: health rpc probe failed: rpc error: code = %s desc = %s",
                            g->http_status ? "Unknown" : "Unavailable",
                            g->http_status ? "unexpected HTTP status code received from server"
                                           : "connection closed before server preface received");
    } else if (code < 0) {
        msg = k1s_xstrdup("error: health rpc probe failed: rpc error: code = Internal desc = "
                          "server closed the stream without sending trailers");
    } else if (code == 12) {
        msg = k1s_xasprintf("error: this server does not implement the grpc health protocol "
                            "(grpc.health.v1.Health): %s",
                            g->grpc_message ? g->grpc_message : "");
    } else if (code == 4) {
        msg = k1s_xasprintf("timeout: health rpc did not complete within %ds", g->timeout_s);
    } else if (code != 0) {
        msg = k1s_xasprintf("error: health rpc probe failed: rpc error: code = %s desc = %s",
                            code < (int)K1S_ARRAY_SIZE(code_names) ? code_names[code] : "Unknown",
                            g->grpc_message ? g->grpc_message : "");
    } else {
        int st = grpc_health_status((const unsigned char *)g->body.data, g->body.len);
        if (st < 0)
            msg = k1s_xstrdup("error: health rpc probe failed: rpc error: code = Internal desc = "
                              "grpc: failed to unmarshal the received message");
        else if (st != 1)
            msg = k1s_xasprintf("service unhealthy (responded with \"%s\")",
                                st < (int)K1S_ARRAY_SIZE(status_names) ? status_names[st]
                                                                       : "UNKNOWN");
        else {
            ok = true;
            msg = k1s_xstrdup("service healthy");
        }
    }
    complete(g, ok, msg);
    free(msg);
}

/* ---- nghttp2 ---- */

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *arg)
{
    k1s_grpc_probe_t *g = arg;
    if (bufferevent_write(g->bev, data, len) < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

static ssize_t req_read(nghttp2_session *s, int32_t stream, uint8_t *buf, size_t len,
                        uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    k1s_grpc_probe_t *g = arg;
    size_t n = g->req_len - g->req_off;
    if (n > len)
        n = len;
    memcpy(buf, g->req + g->req_off, n);
    g->req_off += n;
    if (g->req_off == g->req_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *arg)
{
    k1s_grpc_probe_t *g = arg;
    if (frame->hd.stream_id != g->stream)
        return 0;
    char v[512];
    snprintf(v, sizeof(v), "%.*s", (int)valuelen, (const char *)value);
    if (namelen == 7 && !memcmp(name, ":status", 7))
        g->http_status = atoi(v);
    else if (namelen == 11 && !memcmp(name, "grpc-status", 11))
        g->grpc_status = atoi(v);
    else if (namelen == 12 && !memcmp(name, "grpc-message", 12)) {
        free(g->grpc_message);
        g->grpc_message = k1s_xstrdup(v);
    }
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream, const uint8_t *data,
                   size_t len, void *arg)
{
    k1s_grpc_probe_t *g = arg;
    if (stream == g->stream && g->body.len + len <= MAX_BODY)
        k1s_buf_append(&g->body, data, len);
    return 0;
}

static int on_close(nghttp2_session *s, int32_t stream, uint32_t error_code, void *arg)
{
    k1s_grpc_probe_t *g = arg;
    if (stream == g->stream)
        g->closed = true;
    return 0;
}

static int start_call(k1s_grpc_probe_t *g)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    int rv = nghttp2_session_client_new(&g->h2, cbs, g);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
        return -1;
    nghttp2_submit_settings(g->h2, NGHTTP2_FLAG_NONE, NULL, 0);
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%dm", g->timeout_s * 1000);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv hdrs[] = {
        NV(":method", "POST"),
        NV(":scheme", "http"),
        NV(":path", GRPC_PATH),
        NV(":authority", g->addr),
        NV("content-type", "application/grpc"),
        NV("user-agent", "kube-probe/1.32"),
        NV("te", "trailers"),
        NV("grpc-timeout", timeout),
    };
#undef NV
    nghttp2_data_provider prd = {.read_callback = req_read};
    g->stream = nghttp2_submit_request(g->h2, NULL, hdrs, K1S_ARRAY_SIZE(hdrs), &prd, g);
    if (g->stream < 0 || nghttp2_session_send(g->h2) != 0)
        return -1;
    return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    k1s_grpc_probe_t *g = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    unsigned char *data = evbuffer_pullup(in, (ssize_t)n);
    ssize_t r = nghttp2_session_mem_recv(g->h2, data, n);
    evbuffer_drain(in, n);
    if (r < 0) {
        char *msg = k1s_xasprintf("error: health rpc probe failed: rpc error: code = "
                                  "Unavailable desc = connection error: %s",
                                  nghttp2_strerror((int)r));
        complete(g, false, msg);
        free(msg);
        return;
    }
    if (g->closed) {
        verdict(g);
        return;
    }
    nghttp2_session_send(g->h2);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    k1s_grpc_probe_t *g = arg;
    if (what & BEV_EVENT_CONNECTED) {
        g->connected = true;
        bufferevent_enable(bev, EV_READ);
        if (start_call(g) < 0) {
            complete(g, false, "error: health rpc probe failed: cannot start the HTTP/2 call");
        }
        return;
    }
    if (!g->connected) {
        fail_connect(g);
        return;
    }
    /* the connection went before the stream closed */
    verdict(g);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    k1s_grpc_probe_t *g = arg;
    if (!g->connected) {
        fail_connect(g);
        return;
    }
    char *msg = k1s_xasprintf("timeout: health rpc did not complete within %ds", g->timeout_s);
    complete(g, false, msg);
    free(msg);
}

k1s_grpc_probe_t *k1s_grpc_probe_start(struct event_base *base, const struct sockaddr_in *sin,
                                       const char *addr, const char *service, int timeout_s,
                                       k1s_probe_done_fn done, void *arg, k1s_err_t *err)
{
    k1s_grpc_probe_t *g = k1s_xcalloc(1, sizeof(*g));
    g->done = done;
    g->arg = arg;
    g->addr = k1s_xstrdup(addr);
    g->timeout_s = timeout_s > 0 ? timeout_s : 1;
    g->grpc_status = -1;
    g->req = grpc_health_request(service ? service : "", &g->req_len);
    g->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(g->bev, on_read, NULL, on_event, g);
    g->timeout = evtimer_new(base, on_timeout, g);
    struct timeval tv = {g->timeout_s, 0};
    evtimer_add(g->timeout, &tv);
    if (bufferevent_socket_connect(g->bev, (const struct sockaddr *)sin, sizeof(*sin)) < 0) {
        k1s_err_set(err, errno, "grpc probe: connect %s: %s", addr, strerror(errno));
        grpc_free(g);
        return NULL;
    }
    return g;
}

void k1s_grpc_probe_cancel(k1s_grpc_probe_t *g)
{
    if (g)
        grpc_free(g);
}
