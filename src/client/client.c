/*
 * The in-process API client; see client.h. A request becomes a loopback
 * call (net/loopback.c) to the API server's handler; plain answers are
 * parsed once into JSON for the callback, watch streams are split into
 * their newline-delimited events as the pieces arrive.
 */
#include "client/client.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonheap.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "client/client-int.h"
#include "net/loopback.h"

struct k1s_client {
    struct event_base *base;
    const k1s_client_transport_t *tr; /* NULL: loopback */
    void *tr_ctx;
    k1s_http_handler_fn handler;
    void *handler_arg;
    k1s_http_peer_t peer;
    char *field_manager;
    char *user_agent;
    k1s_client_req_t *reqs; /* outstanding */
    int npending;
};

struct k1s_client_req {
    k1s_client_req_t *prev, *next;
    k1s_client_t *c;
    void *call; /* the transport's call */
    k1s_client_fn cb;
    k1s_watch_fn wcb;
    void *arg;
    k1s_buf_t line;       /* watch: a partial event line */
    bool in_cb, canceled; /* canceled from inside its own watch callback: freed after it */
};

k1s_client_t *k1s_client_new_inprocess(struct event_base *base, k1s_http_handler_fn handler,
                                       void *handler_arg, const char *user,
                                       const char *const *groups)
{
    k1s_client_t *c = k1s_xcalloc(1, sizeof(*c));
    c->base = base;
    c->handler = handler;
    c->handler_arg = handler_arg;
    c->peer.has_cert = true;
    c->peer.cn = k1s_xstrdup(user);
    int n = 0;
    while (groups && groups[n])
        n++;
    c->peer.orgs = k1s_xcalloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++)
        c->peer.orgs[i] = k1s_xstrdup(groups[i]);
    /* what kube-apiserver's own loopback clients show in audit events */
    snprintf(c->peer.addr, sizeof(c->peer.addr), "127.0.0.1:0");
    return c;
}

k1s_client_t *k1s_client_new_transport(struct event_base *base, const k1s_client_transport_t *tr,
                                       void *ctx, const char *user)
{
    k1s_client_t *c = k1s_xcalloc(1, sizeof(*c));
    c->base = base;
    c->tr = tr;
    c->tr_ctx = ctx;
    c->peer.cn = k1s_xstrdup(user ? user : "");
    c->peer.orgs = k1s_xcalloc(1, sizeof(char *));
    return c;
}

static void req_detach(k1s_client_req_t *r)
{
    k1s_client_t *c = r->c;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    c->npending--;
}

static void req_unlink(k1s_client_req_t *r)
{
    req_detach(r);
    k1s_buf_free(&r->line);
    free(r);
}

void k1s_client_free(k1s_client_t *c)
{
    if (!c)
        return;
    while (c->reqs)
        k1s_client_cancel(c->reqs);
    free(c->peer.cn);
    for (int i = 0; c->peer.orgs[i]; i++)
        free(c->peer.orgs[i]);
    free(c->peer.orgs);
    free(c->field_manager);
    free(c->user_agent);
    if (c->tr)
        c->tr->free(c->tr_ctx);
    free(c);
}

struct event_base *k1s_client_base(const k1s_client_t *c)
{
    return c->base;
}

const char *k1s_client_user(const k1s_client_t *c)
{
    return c->peer.cn;
}

void k1s_client_set_field_manager(k1s_client_t *c, const char *manager)
{
    free(c->field_manager);
    c->field_manager = manager ? k1s_xstrdup(manager) : NULL;
}

void k1s_client_set_user_agent(k1s_client_t *c, const char *ua)
{
    free(c->user_agent);
    c->user_agent = ua ? k1s_xstrdup(ua) : NULL;
}

unsigned k1s_client_connects(const k1s_client_t *c)
{
    return c->tr && c->tr->connects ? c->tr->connects(c->tr_ctx) : 0;
}

int k1s_client_pending(const k1s_client_t *c)
{
    return c->npending;
}

void k1s_client_cancel(k1s_client_req_t *r)
{
    if (!r)
        return;
    if (r->c->tr)
        r->c->tr->cancel(r->call);
    else
        k1s_http_lb_cancel(r->call);
    if (r->in_cb) {
        r->canceled = true;
        req_detach(r);
        return;
    }
    req_unlink(r);
}

/* ---- paths ---- */

static void put_escaped(k1s_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            k1s_buf_putc(b, (char)*p);
        } else {
            k1s_buf_putc(b, '%');
            k1s_buf_putc(b, hex[*p >> 4]);
            k1s_buf_putc(b, hex[*p & 15]);
        }
    }
}

static void put_path(k1s_buf_t *b, const k1s_gvr_t *res, const char *ns, const char *name,
                     const char *sub)
{
    if (!res->group || !*res->group)
        k1s_buf_printf(b, "/api/%s", res->version);
    else
        k1s_buf_printf(b, "/apis/%s/%s", res->group, res->version);
    if (res->namespaced && ns && *ns) {
        k1s_buf_puts(b, "/namespaces/");
        put_escaped(b, ns);
    }
    k1s_buf_putc(b, '/');
    k1s_buf_puts(b, res->resource);
    if (name) {
        k1s_buf_putc(b, '/');
        put_escaped(b, name);
        if (sub) {
            k1s_buf_putc(b, '/');
            k1s_buf_puts(b, sub);
        }
    }
}

char *k1s_client_path(const k1s_gvr_t *res, const char *ns, const char *name,
                      const char *subresource)
{
    k1s_buf_t b = K1S_BUF_INIT;
    put_path(&b, res, ns, name, subresource);
    return k1s_buf_steal(&b);
}

static void put_param(k1s_buf_t *b, const char *name, const char *value)
{
    k1s_buf_putc(b, strchr(b->data, '?') ? '&' : '?');
    k1s_buf_puts(b, name);
    k1s_buf_putc(b, '=');
    put_escaped(b, value);
}

static void put_list_opts(k1s_buf_t *b, const k1s_list_opts_t *o, bool watch)
{
    if (watch)
        put_param(b, "watch", "1");
    if (!o)
        return;
    if (o->label_selector && *o->label_selector)
        put_param(b, "labelSelector", o->label_selector);
    if (o->field_selector && *o->field_selector)
        put_param(b, "fieldSelector", o->field_selector);
    if (o->resource_version && *o->resource_version)
        put_param(b, "resourceVersion", o->resource_version);
    if (o->continue_token && *o->continue_token)
        put_param(b, "continue", o->continue_token);
    char num[32];
    if (o->limit > 0) {
        snprintf(num, sizeof(num), "%" PRId64, o->limit);
        put_param(b, "limit", num);
    }
    if (watch && o->timeout_s > 0) {
        snprintf(num, sizeof(num), "%d", o->timeout_s);
        put_param(b, "timeoutSeconds", num);
    }
    if (watch && o->allow_bookmarks)
        put_param(b, "allowWatchBookmarks", "true");
}

/* ---- answers ---- */

static void on_answer(k1s_http_lb_ev_t ev, int status, const char *data, size_t len, void *arg)
{
    k1s_client_req_t *r = arg;
    /* a plain request never streams; a stray piece is collected */
    if (ev == K1S_LB_DATA) {
        k1s_buf_append(&r->line, data, len);
        return;
    }
    if (ev == K1S_LB_END) {
        data = r->line.data ? r->line.data : "";
        len = r->line.len;
    }
    k1s_client_result_t res = {
        .status = status, .body = data, .len = len, .reason = "", .message = ""};
    k1s_json_heap_enter(); /* answers are read and dropped, or cached by informers */
    res.obj = len ? json_loadb(data, len, 0, NULL) : NULL;
    k1s_json_heap_leave();
    if (status >= 300 && json_is_object(res.obj)) {
        const char *s = json_string_value(json_object_get(res.obj, "reason"));
        res.reason = s ? s : "";
        s = json_string_value(json_object_get(res.obj, "message"));
        res.message = s ? s : "";
    }
    k1s_client_fn cb = r->cb;
    void *cbarg = r->arg;
    req_unlink(r);
    cb(&res, cbarg);
    json_decref(res.obj);
}

static k1s_client_req_t *start(k1s_client_t *c, const char *method, const char *target,
                               const char *content_type, char *body, k1s_http_lb_fn fn,
                               k1s_client_fn cb, k1s_watch_fn wcb, void *arg)
{
    k1s_client_req_t *r = k1s_xcalloc(1, sizeof(*r));
    r->c = c;
    r->cb = cb;
    r->wcb = wcb;
    r->arg = arg;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->npending++;
    const char *hdrs[] = {"Accept",
                          "application/json",
                          "User-Agent",
                          c->user_agent ? c->user_agent : "k1s-client",
                          content_type ? "Content-Type" : NULL,
                          content_type,
                          NULL};
    if (c->tr) {
        r->call =
            c->tr->start(c->tr_ctx, method, target, hdrs, body, body ? strlen(body) : 0, fn, r);
        return r;
    }
    r->call = k1s_http_lb_call(c->base, c->handler, c->handler_arg, &c->peer, method, target, hdrs,
                               body, body ? strlen(body) : 0, fn, r);
    return r;
}

k1s_client_req_t *k1s_client_request(k1s_client_t *c, const char *method, const char *target,
                                     const char *content_type, char *body, k1s_client_fn cb,
                                     void *arg)
{
    return start(c, method, target, content_type, body, on_answer, cb, NULL, arg);
}

/* starts a request to b's path (consumed) */
static k1s_client_req_t *start_buf(k1s_client_t *c, const char *method, k1s_buf_t *b,
                                   const char *content_type, char *body, k1s_client_fn cb,
                                   void *arg)
{
    k1s_client_req_t *r = k1s_client_request(c, method, b->data, content_type, body, cb, arg);
    k1s_buf_free(b);
    return r;
}

k1s_client_req_t *k1s_client_get(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                 const char *name, k1s_client_fn cb, void *arg)
{
    k1s_buf_t b = K1S_BUF_INIT;
    put_path(&b, res, ns, name, NULL);
    return start_buf(c, "GET", &b, NULL, NULL, cb, arg);
}

k1s_client_req_t *k1s_client_list(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                  const k1s_list_opts_t *opts, k1s_client_fn cb, void *arg)
{
    k1s_buf_t b = K1S_BUF_INIT;
    put_path(&b, res, ns, NULL, NULL);
    put_list_opts(&b, opts, false);
    return start_buf(c, "GET", &b, NULL, NULL, cb, arg);
}

static void put_manager(k1s_client_t *c, k1s_buf_t *b, bool need)
{
    if (c->field_manager)
        put_param(b, "fieldManager", c->field_manager);
    else if (need)
        put_param(b, "fieldManager", "k1s-client");
}

static k1s_client_req_t *write_obj(k1s_client_t *c, const char *method, const k1s_gvr_t *res,
                                   const char *ns, json_t *obj, const char *sub, bool named,
                                   k1s_client_fn cb, void *arg)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    k1s_buf_t b = K1S_BUF_INIT;
    put_path(&b, res, ns, named ? (name ? name : "") : NULL, sub);
    put_manager(c, &b, false);
    char *body = json_dumps(obj, JSON_COMPACT);
    return start_buf(c, method, &b, "application/json", body, cb, arg);
}

k1s_client_req_t *k1s_client_create(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                    json_t *obj, k1s_client_fn cb, void *arg)
{
    return write_obj(c, "POST", res, ns, obj, NULL, false, cb, arg);
}

k1s_client_req_t *k1s_client_update(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                    json_t *obj, k1s_client_fn cb, void *arg)
{
    return write_obj(c, "PUT", res, ns, obj, NULL, true, cb, arg);
}

k1s_client_req_t *k1s_client_update_status(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                           json_t *obj, k1s_client_fn cb, void *arg)
{
    return write_obj(c, "PUT", res, ns, obj, "status", true, cb, arg);
}

k1s_client_req_t *k1s_client_patch(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                   const char *name, const char *subresource, k1s_patch_type_t type,
                                   const char *patch, bool force, k1s_client_fn cb, void *arg)
{
    static const char *const types[] = {
        [K1S_PATCH_MERGE] = "application/merge-patch+json",
        [K1S_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
        [K1S_PATCH_JSON] = "application/json-patch+json",
        [K1S_PATCH_APPLY] = "application/apply-patch+yaml",
    };
    k1s_buf_t b = K1S_BUF_INIT;
    put_path(&b, res, ns, name, subresource);
    put_manager(c, &b, type == K1S_PATCH_APPLY);
    if (type == K1S_PATCH_APPLY && force)
        put_param(&b, "force", "true");
    return start_buf(c, "PATCH", &b, types[type], k1s_xstrdup(patch), cb, arg);
}

k1s_client_req_t *k1s_client_delete(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                    const char *name, const k1s_delete_opts_t *opts,
                                    k1s_client_fn cb, void *arg)
{
    k1s_buf_t b = K1S_BUF_INIT;
    put_path(&b, res, ns, name, NULL);
    char *body = NULL;
    if (opts) {
        json_t *o = json_pack("{s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
        if (opts->propagation_policy)
            json_object_set_new(o, "propagationPolicy", json_string(opts->propagation_policy));
        if (opts->grace_period_s >= 0)
            json_object_set_new(o, "gracePeriodSeconds", json_integer(opts->grace_period_s));
        if (opts->precondition_uid || opts->precondition_rv) {
            json_t *p = json_object();
            if (opts->precondition_uid)
                json_object_set_new(p, "uid", json_string(opts->precondition_uid));
            if (opts->precondition_rv)
                json_object_set_new(p, "resourceVersion", json_string(opts->precondition_rv));
            json_object_set_new(o, "preconditions", p);
        }
        body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    return start_buf(c, "DELETE", &b, body ? "application/json" : NULL, body, cb, arg);
}

/* ---- watch ---- */

static k1s_watch_type_t watch_type(const char *t)
{
    if (!t)
        return K1S_WATCH_ERROR;
    if (!strcmp(t, "ADDED"))
        return K1S_WATCH_ADDED;
    if (!strcmp(t, "MODIFIED"))
        return K1S_WATCH_MODIFIED;
    if (!strcmp(t, "DELETED"))
        return K1S_WATCH_DELETED;
    if (!strcmp(t, "BOOKMARK"))
        return K1S_WATCH_BOOKMARK;
    return K1S_WATCH_ERROR;
}

static void on_watch(k1s_http_lb_ev_t ev, int status, const char *data, size_t len, void *arg)
{
    k1s_client_req_t *r = arg;
    if (ev == K1S_LB_RESPONSE) {
        /* refused (or a non-streamed answer): report the Status and end */
        json_t *obj = len ? json_loadb(data, len, 0, NULL) : NULL;
        k1s_watch_fn cb = r->wcb;
        void *cbarg = r->arg;
        req_unlink(r);
        cb(K1S_WATCH_CLOSED, obj, status, cbarg);
        json_decref(obj);
        return;
    }
    if (ev == K1S_LB_END) {
        k1s_watch_fn cb = r->wcb;
        void *cbarg = r->arg;
        req_unlink(r);
        cb(K1S_WATCH_CLOSED, NULL, status, cbarg);
        return;
    }
    /* whole events are parsed where they lie; only a partial line is kept */
    const char *buf = data;
    size_t blen = len;
    if (r->line.len) {
        k1s_buf_append(&r->line, data, len);
        buf = r->line.data;
        blen = r->line.len;
    }
    size_t off = 0;
    /* the callback may cancel r: note the request count to notice it */
    for (;;) {
        const char *nl = memchr(buf + off, '\n', blen - off);
        if (!nl)
            break;
        size_t n = (size_t)(nl - (buf + off));
        k1s_json_heap_enter();
        json_t *e = json_loadb(buf + off, n, 0, NULL);
        k1s_json_heap_leave();
        off += n + 1;
        if (!e)
            continue;
        k1s_watch_type_t t = watch_type(json_string_value(json_object_get(e, "type")));
        json_t *obj = json_object_get(e, "object");
        r->in_cb = true;
        r->wcb(t, obj, status, r->arg);
        r->in_cb = false;
        json_decref(e);
        if (r->canceled) {
            k1s_buf_free(&r->line);
            free(r);
            return;
        }
    }
    if (buf == r->line.data) {
        memmove(r->line.data, r->line.data + off, r->line.len - off);
        r->line.len -= off;
        r->line.data[r->line.len] = 0;
    } else if (off < blen) {
        k1s_buf_append(&r->line, buf + off, blen - off);
    }
}

k1s_client_req_t *k1s_client_watch(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                   const k1s_list_opts_t *opts, k1s_watch_fn cb, void *arg)
{
    k1s_buf_t b = K1S_BUF_INIT;
    put_path(&b, res, ns, NULL, NULL);
    put_list_opts(&b, opts, true);
    k1s_client_req_t *r = start(c, "GET", b.data, NULL, NULL, on_watch, NULL, cb, arg);
    k1s_buf_free(&b);
    return r;
}
