/*
 * The loopback transport; see loopback.h. A call owns a req_t (the same
 * request type HTTP/1.1 and HTTP/2 use, with req->lb pointing back here);
 * the public request functions in http.c pass loopback requests to the
 * k1s_http_lb_* functions below. One libevent event per call runs
 * everything that must not happen on a caller's stack: the handler call,
 * delivery of answers and stream pieces, the handler's on_close after a
 * cancel, and freeing the call.
 */
#include "net/loopback.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "net/http-int.h"

typedef struct piece {
    struct piece *next;
    k1s_bytes_t *b;
} piece_t;

struct k1s_http_lb_call {
    req_t *r; /* NULL once the handler has answered (or ended its stream) */
    struct event *ev;
    k1s_http_handler_fn handler;
    void *handler_arg;
    k1s_http_lb_fn cb;
    void *arg;
    k1s_buf_t out;        /* a plain answer's body */
    piece_t *head, *tail; /* stream pieces not yet delivered (shared, not copied) */
    size_t pending;       /* their bytes */
    int status;
    bool dispatched, canceled, in_cb, answered, streaming, ended, close_called;
};

static int nactive;

int k1s_http_lb_active(void)
{
    return nactive;
}

static char *arena_strdup(req_t *r, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = k1s_http_int_alloc(r, n);
    memcpy(p, s, n);
    return p;
}

static void drop_pieces(k1s_http_lb_call_t *c)
{
    while (c->head) {
        piece_t *p = c->head;
        c->head = p->next;
        k1s_bytes_unref(p->b);
        free(p);
    }
    c->tail = NULL;
    c->pending = 0;
}

static void call_free(k1s_http_lb_call_t *c)
{
    drop_pieces(c);
    if (c->r)
        k1s_http_int_req_free(c->r);
    event_free(c->ev);
    k1s_buf_free(&c->out);
    free(c);
    nactive--;
}

static void run_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_http_lb_call_t *c = arg;
    if (!c->dispatched) {
        c->dispatched = true;
        if (c->canceled) {
            call_free(c);
            return;
        }
        /* the handler may answer at once: that activates the event again */
        c->handler(&c->r->pub, c->handler_arg);
        return;
    }
    if (c->canceled) {
        if (!c->r) {
            call_free(c);
        } else if (c->streaming && !c->ended && !c->close_called) {
            c->close_called = true;
            if (c->r->on_close)
                c->r->on_close(&c->r->pub, c->r->close_arg);
        }
        /* else: the handler still owns r and will answer; then we free */
        return;
    }
    /* hand over the pieces; a callback may cancel or cause more */
    while (c->head) {
        piece_t *p = c->head;
        c->head = p->next;
        if (!c->head)
            c->tail = NULL;
        c->pending -= p->b->len;
        c->in_cb = true;
        c->cb(K1S_LB_DATA, c->status, p->b->data, p->b->len, c->arg);
        c->in_cb = false;
        k1s_bytes_unref(p->b);
        free(p);
        if (c->canceled) {
            drop_pieces(c);
            event_active(c->ev, 0, 0);
            return;
        }
    }
    if (c->answered && !c->streaming) {
        c->cb(K1S_LB_RESPONSE, c->status, c->out.data ? c->out.data : "", c->out.len, c->arg);
        call_free(c);
    } else if (c->ended) {
        c->cb(K1S_LB_END, c->status, "", 0, c->arg);
        call_free(c);
    }
}

k1s_http_lb_call_t *k1s_http_lb_call(struct event_base *base, k1s_http_handler_fn handler,
                                     void *handler_arg, const k1s_http_peer_t *peer,
                                     const char *method, const char *target,
                                     const char *const *headers, char *body, size_t len,
                                     k1s_http_lb_fn cb, void *arg)
{
    k1s_http_lb_call_t *c = k1s_xcalloc(1, sizeof(*c));
    req_t *r = k1s_xcalloc(1, sizeof(*r));
    c->r = r;
    c->handler = handler;
    c->handler_arg = handler_arg;
    c->cb = cb;
    c->arg = arg;
    c->ev = event_new(base, -1, 0, run_cb, c);
    r->lb = c;
    r->keepalive = true;
    r->pub.method = arena_strdup(r, method);
    r->pub.target = arena_strdup(r, target);
    r->pub.peer = peer;
    r->pub.query = "";
    /* the target has no scheme or host here; parse_target only splits and decodes */
    const char *bad = k1s_http_int_parse_target(r, arena_strdup(r, target));
    k1s_assert(bad == NULL);
    int n = 0;
    while (headers && headers[2 * n])
        n++;
    r->hdrs = n ? k1s_http_int_alloc(r, (size_t)n * sizeof(hdr_t)) : NULL;
    for (int i = 0; i < n; i++) {
        r->hdrs[i].name = arena_strdup(r, headers[2 * i]);
        r->hdrs[i].value = arena_strdup(r, headers[2 * i + 1]);
    }
    r->nhdrs = n;
    if (body) {
        r->body = body;
        r->body_len = len;
        r->pub.body = body;
        r->pub.body_len = len;
    } else {
        r->pub.body = "";
    }
    r->pub.start_ns = k1s_now_ns();
    nactive++;
    event_active(c->ev, 0, 0);
    return c;
}

void k1s_http_lb_cancel(k1s_http_lb_call_t *c)
{
    if (!c || c->canceled)
        return;
    c->canceled = true;
    if (!c->in_cb)
        event_active(c->ev, 0, 0);
}

/* ---- the request functions of http.c for loopback requests ---- */

/* The handler is done with r: free it now, the call lives on until delivered. */
static void release_req(k1s_http_lb_call_t *c)
{
    k1s_http_int_req_free(c->r);
    c->r = NULL;
    event_active(c->ev, 0, 0);
}

void k1s_http_lb_respond(req_t *r, int status, const char *body, size_t len)
{
    k1s_http_lb_call_t *c = r->lb;
    c->answered = true;
    c->status = status;
    if (!c->canceled && len && strcmp(r->pub.method, "HEAD"))
        k1s_buf_append(&c->out, body, len);
    release_req(c);
}

void k1s_http_lb_stream_start(req_t *r, int status)
{
    k1s_http_lb_call_t *c = r->lb;
    c->answered = c->streaming = true;
    c->status = status;
    if (c->canceled)
        event_active(c->ev, 0, 0); /* on_close from the loop */
}

int k1s_http_lb_stream_write_bytes(req_t *r, k1s_bytes_t *b)
{
    k1s_http_lb_call_t *c = r->lb;
    if (c->canceled)
        return -EPIPE;
    if (!b->len)
        return 0;
    piece_t *p = k1s_xmalloc(sizeof(*p));
    p->next = NULL;
    p->b = k1s_bytes_ref(b);
    if (c->tail)
        c->tail->next = p;
    else
        c->head = p;
    c->tail = p;
    c->pending += b->len;
    event_active(c->ev, 0, 0);
    return 0;
}

int k1s_http_lb_stream_write(req_t *r, const char *data, size_t len)
{
    if (r->lb->canceled)
        return -EPIPE;
    if (!len)
        return 0;
    k1s_bytes_t *b = k1s_bytes_new(data, len);
    int rc = k1s_http_lb_stream_write_bytes(r, b);
    k1s_bytes_unref(b);
    return rc;
}

size_t k1s_http_lb_stream_pending(const req_t *r)
{
    return r->lb->pending;
}

void k1s_http_lb_stream_end(req_t *r)
{
    k1s_http_lb_call_t *c = r->lb;
    c->ended = true;
    release_req(c);
}

bool k1s_http_lb_closed(const req_t *r)
{
    return r->lb->canceled;
}
