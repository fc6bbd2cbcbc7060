/*
 * Watch streams: `?watch=1` on a collection. Each API watch is a store
 * watch on the resource's key prefix, filtered by label/field selectors,
 * written to the client as newline-delimited watch events
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}, or as
 * Table rows when the client asked for Table output (kubectl get -w).
 *
 * A watch without resourceVersion (or "0") first sends the current objects
 * as ADDED; with a resourceVersion it resumes after it, or reports 410 Gone
 * as an ERROR event when that revision has left the history window. Streams
 * end after timeoutSeconds (default: a random 30-60 minutes, as
 * kube-apiserver does, so clients spread their re-watches), and a client
 * that stops reading is disconnected before it can pile up memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "lib/log.h"

#define WATCH_MAX_PENDING (16u * 1024 * 1024)
#define BOOKMARK_INTERVAL_S 60

struct k1s_api_watch {
    k1s_api_watch_t *next, *prev;
    k1s_apiserver_t *api;
    k1s_api_req_t *r;
    k1s_store_watch_t *sw;
    k1s_list_filter_t *filter;
    char *name; /* watch of one named object */
    bool table, sent_columns, bookmarks;
    struct event *timeout_ev, *bookmark_ev;
    int64_t last_rev;
};

static void unlink_watch(k1s_api_watch_t *w)
{
    k1s_apiserver_t *api = w->api;
    if (w->prev)
        w->prev->next = w->next;
    else if (api->watches == w)
        api->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    api->nwatches--;
}

/* Ends the stream and frees the watch. from_store: called inside the store callback. */
static void watch_end(k1s_api_watch_t *w, bool from_store)
{
    unlink_watch(w);
    if (w->sw && !from_store)
        k1s_store_unwatch(w->sw);
    w->sw = NULL;
    if (w->timeout_ev)
        event_free(w->timeout_ev);
    if (w->bookmark_ev)
        event_free(w->bookmark_ev);
    k1s_list_filter_free(w->filter);
    free(w->name);
    k1s_api_req_t *r = w->r;
    k1s_http_stream_end(r->http);
    r->http = NULL;
    k1s_api_req_done(r, 200);
    free(w);
}

static bool matches(k1s_api_watch_t *w, k1s_kv_t *kv)
{
    if (!kv)
        return false;
    k1s_obj_aux_t *a = kv->aux;
    if (w->name && (!a || strcmp(a->name, w->name)))
        return false;
    return k1s_list_filter_match(w->filter, a);
}

/* Writes one event with a Table object (kubectl get -w). */
static int send_table_event(k1s_api_watch_t *w, const char *type, const char *data, size_t len)
{
    json_t *objs = json_array();
    json_t *o = json_loadb(data, len, 0, NULL);
    json_array_append_new(objs, o ? o : json_object());
    const char *rv = k1s_obj_str(json_array_get(objs, 0), "metadata.resourceVersion");
    json_t *t = k1s_api_table(w->r, objs, rv, NULL, !w->sent_columns);
    w->sent_columns = true;
    json_decref(objs);
    json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", t);
    char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
    size_t n = strlen(s);
    s = k1s_xrealloc(s, n + 2);
    s[n] = '\n';
    int rc = k1s_http_stream_write(w->r->http, s, n + 1);
    free(s);
    return rc;
}

/* {"type":type,"object":data}\n as new bytes. */
static k1s_bytes_t *encode_event(const char *type, const char *data, size_t len)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_reserve(&b, len + 48);
    k1s_buf_printf(&b, "{\"type\":\"%s\",\"object\":", type);
    k1s_buf_append(&b, data, len);
    k1s_buf_puts(&b, "}\n");
    k1s_bytes_t *e = k1s_bytes_new(b.data, b.len);
    k1s_buf_free(&b);
    return e;
}

/* Events that are not objects (BOOKMARK, ERROR). */
static int send_event(k1s_api_watch_t *w, const char *type, const char *data, size_t len)
{
    k1s_bytes_t *e = encode_event(type, data, len);
    int rc = k1s_http_stream_write_bytes(w->r->http, e);
    k1s_bytes_unref(e);
    return rc;
}

/*
 * The object of an event in the watched resource's shape: the stored value,
 * or for a deletion the last stored value with the deletion's revision as
 * its resourceVersion (deleted_rev > 0). New reference.
 */
static k1s_bytes_t *event_object(const k1s_resource_t *res, k1s_kv_t *kv, int64_t deleted_rev)
{
    if (!deleted_rev)
        return k1s_convert_bytes(res, kv->value);
    json_t *stored = k1s_obj_decode(kv->value);
    json_t *o = k1s_convert_from_storage(res, stored);
    json_decref(stored);
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, deleted_rev);
    json_object_set_new(k1s_obj_meta(o), "resourceVersion", json_string(rv));
    k1s_bytes_t *b = k1s_obj_encode(o);
    json_decref(o);
    return b;
}

/*
 * Sends an object event. Every watcher of the same resource gets the same
 * encoded bytes for a change: the first encodes them, the others share them
 * by reference, also in their output buffers, so a hundred watchers cost one
 * copy of each event.
 */
static int emit(k1s_api_watch_t *w, const char *type, k1s_kv_t *kv, int64_t rev, bool deleted)
{
    k1s_apiserver_t *api = w->api;
    const k1s_resource_t *res = w->r->res;
    if (w->table) {
        k1s_bytes_t *o = event_object(res, kv, deleted ? rev : 0);
        int rc = send_table_event(w, type, o->data, o->len);
        k1s_bytes_unref(o);
        return rc;
    }
    if (!api->wc_bytes || api->wc_rev != rev || api->wc_res != res || strcmp(api->wc_type, type)) {
        k1s_bytes_t *o = event_object(res, kv, deleted ? rev : 0);
        k1s_bytes_unref(api->wc_bytes);
        api->wc_bytes = encode_event(type, o->data, o->len);
        k1s_bytes_unref(o);
        api->wc_rev = rev;
        api->wc_res = res;
        api->wc_type = type;
    }
    return k1s_http_stream_write_bytes(w->r->http, api->wc_bytes);
}

static int on_store_event(const k1s_store_event_t *ev, void *arg)
{
    k1s_api_watch_t *w = arg;
    int rc = 0;
    if (ev->type == K1S_STORE_PUT) {
        bool now = matches(w, ev->kv);
        bool before = ev->prev && matches(w, ev->prev);
        if (now && before)
            rc = emit(w, "MODIFIED", ev->kv, ev->rev, false);
        else if (now)
            rc = emit(w, "ADDED", ev->kv, ev->rev, false);
        else if (before)
            rc = emit(w, "DELETED", ev->kv, ev->rev, true);
    } else {
        k1s_kv_t *last = ev->prev ? ev->prev : ev->kv;
        if (matches(w, last))
            rc = emit(w, "DELETED", last, ev->rev, true);
    }
    w->last_rev = ev->rev;
    if (rc < 0)
        return 0; /* client gone: on_close ends the watch */
    if (k1s_http_stream_pending(w->r->http) > WATCH_MAX_PENDING) {
        k1s_warn("watch %s from %s: client is not reading; closing the watch", w->r->http->target,
                 w->r->http->peer ? w->r->http->peer->addr : "?");
        watch_end(w, true);
        return 1;
    }
    return 0;
}

static void on_close(k1s_http_req_t *h, void *arg)
{
    k1s_api_watch_t *w = arg;
    watch_end(w, false);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    watch_end(arg, false);
}

static void on_bookmark(evutil_socket_t fd, short what, void *arg)
{
    k1s_api_watch_t *w = arg;
    char av[128];
    k1s_resource_api_version(w->r->res, av, sizeof(av));
    int64_t rev = k1s_store_rev(w->api->store);
    char *s = k1s_xasprintf("{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{"
                            "\"resourceVersion\":\"%" PRId64 "\",\"creationTimestamp\":null}}",
                            w->r->res->kind, av, rev);
    send_event(w, "BOOKMARK", s, strlen(s));
    free(s);
}

typedef struct initial_ctx {
    k1s_api_watch_t *w;
} initial_ctx_t;

static int initial_iter(k1s_kv_t *kv, void *arg)
{
    k1s_api_watch_t *w = arg;
    if (matches(w, kv))
        emit(w, "ADDED", kv, kv->mod_rev, false);
    return 0;
}

void k1s_watch_start(k1s_api_req_t *r, const char *prefix)
{
    bool failed;
    k1s_list_filter_t *f = k1s_list_filter_new(r, &failed);
    if (failed)
        return;
    const char *rvs = k1s_http_req_query(r->http, "resourceVersion");
    bool initial = !rvs || !*rvs || !strcmp(rvs, "0");
    int64_t from = 0;
    if (!initial) {
        char *end;
        from = strtoll(rvs, &end, 10);
        if (*end || from < 0) {
            k1s_list_filter_free(f);
            k1s_api_fail(r, 400, "BadRequest", "invalid resource version: %s", rvs);
            return;
        }
    }
    k1s_apiserver_t *api = r->api;
    k1s_api_watch_t *w = k1s_xcalloc(1, sizeof(*w));
    w->api = api;
    w->r = r;
    w->filter = f;
    w->table = k1s_api_wants_table(r);
    if (r->name) {
        w->name = k1s_xstrdup(r->name);
    }
    const char *bm = k1s_http_req_query(r->http, "allowWatchBookmarks");
    w->bookmarks = bm && (!strcmp(bm, "true") || !strcmp(bm, "1"));
    w->next = api->watches;
    if (api->watches)
        api->watches->prev = w;
    api->watches = w;
    api->nwatches++;

    k1s_http_add_header(r->http, "Content-Type", "application/json");
    k1s_http_stream_start(r->http, 200, "application/json", on_close, w);

    int64_t cur = k1s_store_rev(api->store);
    if (initial) {
        k1s_store_range(api->store, prefix, NULL, initial_iter, w);
        from = cur;
    }
    int rc = k1s_store_watch(api->store, prefix, from, on_store_event, w, &w->sw);
    if (rc == -K1S_EGONE) {
        char *msg = k1s_xasprintf("too old resource version: %" PRId64 " (%" PRId64 ")", from,
                                  k1s_store_oldest_rev(api->store));
        json_t *st = k1s_status_new(410, "Expired", msg);
        free(msg);
        char *s = json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(st);
        send_event(w, "ERROR", s, strlen(s));
        free(s);
        w->sw = NULL;
        watch_end(w, false);
        return;
    }
    if (rc < 0) {
        w->sw = NULL;
        watch_end(w, false);
        return;
    }
    const char *ts = k1s_http_req_query(r->http, "timeoutSeconds");
    int64_t timeout = ts ? strtoll(ts, NULL, 10) : 0;
    if (timeout <= 0) {
        uint32_t rnd;
        k1s_random_bytes(&rnd, sizeof(rnd));
        timeout = 1800 + rnd % 1800;
    }
    w->timeout_ev = evtimer_new(api->base, on_timeout, w);
    struct timeval tv = {(time_t)timeout, 0};
    evtimer_add(w->timeout_ev, &tv);
    if (w->bookmarks) {
        w->bookmark_ev = event_new(api->base, -1, EV_PERSIST, on_bookmark, w);
        struct timeval bt = {BOOKMARK_INTERVAL_S, 0};
        evtimer_add(w->bookmark_ev, &bt);
    }
}

void k1s_watch_close_unserved(k1s_apiserver_t *api)
{
    k1s_api_watch_t *w = api->watches;
    while (w) {
        k1s_api_watch_t *next = w->next;
        if (w->r->res && !k1s_registry_is_served(w->r->res))
            watch_end(w, false);
        w = next;
    }
}

void k1s_watch_close_all(k1s_apiserver_t *api)
{
    while (api->watches)
        watch_end(api->watches, false);
}
