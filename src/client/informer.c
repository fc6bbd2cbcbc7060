/*
 * Shared informers; see informer.h. The cache is a string map from
 * "namespace/name" to the object (one reference); each index is a map
 * from index value to the set of cache keys that have it. One timer drives
 * retries: the next list (after a failure, with back-off from 1 s doubling
 * to 30 s) or the next watch.
 */
#include "client/informer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "lib/log.h"
#include "lib/util.h"

#define LIST_PAGE 500
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

typedef struct indexer {
    char *name;
    k1s_index_fn fn;
    k1s_strmap_t map; /* value -> k1s_strmap_t * (set of cache keys) */
} indexer_t;

struct k1s_informer {
    k1s_client_t *client;
    k1s_gvr_t res;
    char *ns;
    char *kind; /* from the list, set on listed items that lack it */
    char *api_version;
    k1s_strmap_t cache;
    indexer_t *idx;
    int nidx;
    k1s_informer_handlers_t *h;
    int nh;
    bool started, synced;
    char *rv;
    k1s_client_req_t *list_req, *watch_req;
    json_t *listing; /* items of the list in progress */
    struct event *timer;
    bool timer_lists; /* the timer starts a list (else a watch) */
    unsigned backoff_ms;
    int nlists;
    k1s_informer_transform_fn transform;
};

/* ---- indexers ---- */

int k1s_index_by_namespace(json_t *obj, const char **out)
{
    const char *ns =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    if (!ns || !*ns)
        return 0;
    out[0] = ns;
    return 1;
}

int k1s_index_by_owner_uid(json_t *obj, const char **out)
{
    json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    int n = 0;
    for (size_t i = 0; i < json_array_size(refs) && n < K1S_INDEX_MAX_VALUES; i++) {
        const char *uid = json_string_value(json_object_get(json_array_get(refs, i), "uid"));
        if (uid && *uid)
            out[n++] = uid;
    }
    return n;
}

int k1s_index_by_node_name(json_t *obj, const char **out)
{
    const char *n = json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
    if (!n || !*n)
        return 0;
    out[0] = n;
    return 1;
}

static void index_add(indexer_t *ix, const char *key, json_t *obj)
{
    const char *vals[K1S_INDEX_MAX_VALUES];
    int n = ix->fn(obj, vals);
    for (int i = 0; i < n; i++) {
        k1s_strmap_t *set = k1s_strmap_get(&ix->map, vals[i]);
        if (!set) {
            set = k1s_xcalloc(1, sizeof(*set));
            k1s_strmap_set(&ix->map, vals[i], set);
        }
        k1s_strmap_set(set, key, NULL);
    }
}

static void index_del(indexer_t *ix, const char *key, json_t *obj)
{
    const char *vals[K1S_INDEX_MAX_VALUES];
    int n = ix->fn(obj, vals);
    for (int i = 0; i < n; i++) {
        k1s_strmap_t *set = k1s_strmap_get(&ix->map, vals[i]);
        if (!set)
            continue;
        k1s_strmap_del(set, key);
        if (!k1s_strmap_len(set)) {
            k1s_strmap_del(&ix->map, vals[i]);
            k1s_strmap_free(set);
            free(set);
        }
    }
}

static void indexer_free(indexer_t *ix)
{
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&ix->map, &i, &k, &v);) {
        k1s_strmap_free(v);
        free(v);
    }
    k1s_strmap_free(&ix->map);
    free(ix->name);
}

/* ---- the cache ---- */

static char *key_of(json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    if (!name)
        return NULL;
    return ns && *ns ? k1s_xasprintf("%s/%s", ns, name) : k1s_xstrdup(name);
}

/* Puts obj (reference taken) under key; returns the previous object (owned) or NULL. */
static json_t *cache_put(k1s_informer_t *inf, const char *key, json_t *obj)
{
    json_t *old = k1s_strmap_set(&inf->cache, key, json_incref(obj));
    for (int i = 0; i < inf->nidx; i++) {
        if (old)
            index_del(&inf->idx[i], key, old);
        index_add(&inf->idx[i], key, obj);
    }
    return old;
}

/* Removes key; returns the object (owned) or NULL. */
static json_t *cache_del(k1s_informer_t *inf, const char *key)
{
    json_t *old = k1s_strmap_del(&inf->cache, key);
    if (old)
        for (int i = 0; i < inf->nidx; i++)
            index_del(&inf->idx[i], key, old);
    return old;
}

static const char *obj_rv(json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static void set_rv(k1s_informer_t *inf, const char *rv)
{
    if (!rv || !*rv)
        return;
    free(inf->rv);
    inf->rv = k1s_xstrdup(rv);
}

/* Drops what the cache should not hold; sets kind/apiVersion of listed items. */
static void trim(k1s_informer_t *inf, json_t *obj)
{
    json_object_del(json_object_get(obj, "metadata"), "managedFields");
    if (inf->kind && !json_object_get(obj, "kind")) {
        json_object_set_new(obj, "kind", json_string(inf->kind));
        json_object_set_new(obj, "apiVersion", json_string(inf->api_version));
    }
    if (inf->transform)
        inf->transform(obj);
}

void k1s_informer_set_transform(k1s_informer_t *inf, k1s_informer_transform_fn fn)
{
    inf->transform = fn;
}

static void notify_add(k1s_informer_t *inf, json_t *obj)
{
    for (int i = 0; i < inf->nh; i++)
        if (inf->h[i].on_add)
            inf->h[i].on_add(obj, inf->h[i].arg);
}

static void notify_update(k1s_informer_t *inf, json_t *old, json_t *obj)
{
    for (int i = 0; i < inf->nh; i++)
        if (inf->h[i].on_update)
            inf->h[i].on_update(old, obj, inf->h[i].arg);
}

static void notify_delete(k1s_informer_t *inf, json_t *obj)
{
    for (int i = 0; i < inf->nh; i++)
        if (inf->h[i].on_delete)
            inf->h[i].on_delete(obj, inf->h[i].arg);
}

/* ---- list and watch ---- */

static void start_list(k1s_informer_t *inf);
static void start_watch(k1s_informer_t *inf);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_informer_t *inf = arg;
    if (inf->timer_lists)
        start_list(inf);
    else
        start_watch(inf);
}

static void schedule(k1s_informer_t *inf, bool list, unsigned ms)
{
    inf->timer_lists = list;
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(inf->timer, &tv);
}

static void schedule_backoff(k1s_informer_t *inf, bool list)
{
    unsigned ms = inf->backoff_ms ? inf->backoff_ms : BACKOFF_MIN_MS;
    inf->backoff_ms = ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
    schedule(inf, list, ms);
}

/* The list is complete: the cache becomes its items, handlers hear the difference. */
static void replace(k1s_informer_t *inf, json_t *items)
{
    k1s_strmap_t seen = K1S_STRMAP_INIT;
    size_t i;
    json_t *obj;
    json_array_foreach(items, i, obj)
    {
        char *key = key_of(obj);
        if (!key)
            continue;
        trim(inf, obj);
        k1s_strmap_set(&seen, key, NULL);
        json_t *old = cache_put(inf, key, obj);
        if (!old)
            notify_add(inf, obj);
        else if (!k1s_streq(obj_rv(old), obj_rv(obj)))
            notify_update(inf, old, obj);
        json_decref(old);
        free(key);
    }
    /* what the list no longer has was deleted while we were away */
    size_t n = k1s_strmap_len(&inf->cache) - k1s_strmap_len(&seen);
    if (n) {
        char **gone = k1s_xcalloc(n, sizeof(char *));
        size_t ng = 0;
        const char *k;
        for (size_t it = 0; k1s_strmap_next(&inf->cache, &it, &k, NULL);)
            if (!k1s_strmap_has(&seen, k) && ng < n)
                gone[ng++] = k1s_xstrdup(k);
        for (size_t j = 0; j < ng; j++) {
            json_t *old = cache_del(inf, gone[j]);
            notify_delete(inf, old);
            json_decref(old);
            free(gone[j]);
        }
        free(gone);
    }
    k1s_strmap_free(&seen);
}

static void list_page(k1s_informer_t *inf, const char *cont);

static void on_list(const k1s_client_result_t *res, void *arg)
{
    k1s_informer_t *inf = arg;
    inf->list_req = NULL;
    if (res->status != 200 || !json_is_object(res->obj)) {
        k1s_debug("informer %s: list failed: %d %s", inf->res.resource, res->status, res->message);
        json_decref(inf->listing);
        inf->listing = NULL;
        schedule_backoff(inf, true);
        return;
    }
    if (!inf->kind) {
        const char *kind = json_string_value(json_object_get(res->obj, "kind"));
        const char *av = json_string_value(json_object_get(res->obj, "apiVersion"));
        if (kind && k1s_str_has_suffix(kind, "List") && av) {
            inf->kind = k1s_xstrndup(kind, strlen(kind) - 4);
            inf->api_version = k1s_xstrdup(av);
        }
    }
    json_array_extend(inf->listing, json_object_get(res->obj, "items"));
    json_t *md = json_object_get(res->obj, "metadata");
    const char *cont = json_string_value(json_object_get(md, "continue"));
    if (cont && *cont) {
        list_page(inf, cont);
        return;
    }
    set_rv(inf, json_string_value(json_object_get(md, "resourceVersion")));
    json_t *items = inf->listing;
    inf->listing = NULL;
    inf->synced = true;
    inf->nlists++;
    inf->backoff_ms = 0;
    replace(inf, items);
    json_decref(items);
    start_watch(inf);
}

static void list_page(k1s_informer_t *inf, const char *cont)
{
    k1s_list_opts_t o = {.limit = LIST_PAGE, .continue_token = cont};
    inf->list_req = k1s_client_list(inf->client, &inf->res, inf->ns, &o, on_list, inf);
}

static void start_list(k1s_informer_t *inf)
{
    if (inf->watch_req) {
        k1s_client_cancel(inf->watch_req);
        inf->watch_req = NULL;
    }
    json_decref(inf->listing);
    inf->listing = json_array();
    list_page(inf, NULL);
}

static void on_watch(k1s_watch_type_t type, json_t *obj, int status, void *arg)
{
    k1s_informer_t *inf = arg;
    switch (type) {
    case K1S_WATCH_ADDED:
    case K1S_WATCH_MODIFIED: {
        char *key = key_of(obj);
        if (!key)
            return;
        trim(inf, obj);
        json_t *old = cache_put(inf, key, obj);
        set_rv(inf, obj_rv(obj));
        if (old)
            notify_update(inf, old, obj);
        else
            notify_add(inf, obj);
        json_decref(old);
        free(key);
        return;
    }
    case K1S_WATCH_DELETED: {
        char *key = key_of(obj);
        if (!key)
            return;
        trim(inf, obj);
        json_t *old = cache_del(inf, key);
        set_rv(inf, obj_rv(obj));
        if (old)
            notify_delete(inf, obj);
        json_decref(old);
        free(key);
        return;
    }
    case K1S_WATCH_BOOKMARK: set_rv(inf, obj_rv(obj)); return;
    case K1S_WATCH_ERROR: {
        json_int_t code = json_integer_value(json_object_get(obj, "code"));
        k1s_client_cancel(inf->watch_req);
        inf->watch_req = NULL;
        if (code == 410) {
            /* our resourceVersion left the history: list again, now */
            k1s_debug("informer %s: 410 Gone, relisting", inf->res.resource);
            start_list(inf);
        } else {
            schedule_backoff(inf, false);
        }
        return;
    }
    case K1S_WATCH_CLOSED:
        inf->watch_req = NULL;
        if (status == 200)
            schedule(inf, false, 0); /* ended normally (timeout): resume */
        else
            schedule_backoff(inf, true);
        return;
    }
}

static void start_watch(k1s_informer_t *inf)
{
    /* a random 5-10 minutes, as client-go's reflector asks, to spread re-watches */
    unsigned r;
    k1s_random_bytes(&r, sizeof(r));
    k1s_list_opts_t o = {
        .resource_version = inf->rv, .allow_bookmarks = true, .timeout_s = 300 + (int)(r % 300)};
    inf->watch_req = k1s_client_watch(inf->client, &inf->res, inf->ns, &o, on_watch, inf);
}

/* ---- public ---- */

k1s_informer_t *k1s_informer_new(k1s_client_t *client, const k1s_gvr_t *res, const char *ns)
{
    k1s_informer_t *inf = k1s_xcalloc(1, sizeof(*inf));
    inf->client = client;
    inf->res.group = k1s_xstrdup(res->group ? res->group : "");
    inf->res.version = k1s_xstrdup(res->version);
    inf->res.resource = k1s_xstrdup(res->resource);
    inf->res.namespaced = res->namespaced;
    inf->ns = ns && *ns ? k1s_xstrdup(ns) : NULL;
    inf->timer = evtimer_new(k1s_client_base(client), timer_cb, inf);
    return inf;
}

void k1s_informer_free(k1s_informer_t *inf)
{
    if (!inf)
        return;
    k1s_client_cancel(inf->list_req);
    k1s_client_cancel(inf->watch_req);
    event_free(inf->timer);
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&inf->cache, &i, &k, &v);)
        json_decref(v);
    k1s_strmap_free(&inf->cache);
    for (int i = 0; i < inf->nidx; i++)
        indexer_free(&inf->idx[i]);
    free(inf->idx);
    free(inf->h);
    json_decref(inf->listing);
    free((char *)inf->res.group);
    free((char *)inf->res.version);
    free((char *)inf->res.resource);
    free(inf->ns);
    free(inf->kind);
    free(inf->api_version);
    free(inf->rv);
    free(inf);
}

void k1s_informer_add_handlers(k1s_informer_t *inf, const k1s_informer_handlers_t *h)
{
    inf->h = k1s_xrealloc(inf->h, (size_t)(inf->nh + 1) * sizeof(*inf->h));
    inf->h[inf->nh++] = *h;
    if (inf->synced && h->on_add) {
        json_t **objs;
        size_t n = k1s_informer_list(inf, &objs);
        for (size_t i = 0; i < n; i++)
            h->on_add(objs[i], h->arg);
        free(objs);
    }
}

int k1s_informer_add_indexer(k1s_informer_t *inf, const char *name, k1s_index_fn fn)
{
    for (int i = 0; i < inf->nidx; i++)
        if (!strcmp(inf->idx[i].name, name))
            return -EEXIST;
    inf->idx = k1s_xrealloc(inf->idx, (size_t)(inf->nidx + 1) * sizeof(*inf->idx));
    indexer_t *ix = &inf->idx[inf->nidx++];
    memset(ix, 0, sizeof(*ix));
    ix->name = k1s_xstrdup(name);
    ix->fn = fn;
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&inf->cache, &i, &k, &v);)
        index_add(ix, k, v);
    return 0;
}

void k1s_informer_start(k1s_informer_t *inf)
{
    if (inf->started)
        return;
    inf->started = true;
    start_list(inf);
}

bool k1s_informer_has_synced(const k1s_informer_t *inf)
{
    return inf->synced;
}

json_t *k1s_informer_get(const k1s_informer_t *inf, const char *ns, const char *name)
{
    if (!ns || !*ns)
        return k1s_strmap_get(&inf->cache, name);
    char *key = k1s_xasprintf("%s/%s", ns, name);
    json_t *o = k1s_strmap_get(&inf->cache, key);
    free(key);
    return o;
}

size_t k1s_informer_len(const k1s_informer_t *inf)
{
    return k1s_strmap_len(&inf->cache);
}

int k1s_informer_by_index(const k1s_informer_t *inf, const char *index, const char *value,
                          json_t ***out)
{
    for (int i = 0; i < inf->nidx; i++) {
        if (strcmp(inf->idx[i].name, index))
            continue;
        k1s_strmap_t *set = k1s_strmap_get(&inf->idx[i].map, value);
        size_t n = set ? k1s_strmap_len(set) : 0;
        *out = k1s_xcalloc(n ? n : 1, sizeof(json_t *));
        size_t j = 0;
        const char *k;
        for (size_t it = 0; set && k1s_strmap_next(set, &it, &k, NULL);)
            (*out)[j++] = k1s_strmap_get(&inf->cache, k);
        return (int)j;
    }
    return -ENOENT;
}

size_t k1s_informer_list(const k1s_informer_t *inf, json_t ***out)
{
    size_t n = k1s_strmap_len(&inf->cache);
    *out = k1s_xcalloc(n ? n : 1, sizeof(json_t *));
    size_t j = 0;
    void *v;
    for (size_t it = 0; k1s_strmap_next(&inf->cache, &it, NULL, &v);)
        (*out)[j++] = v;
    return j;
}

const char *k1s_informer_resource_version(const k1s_informer_t *inf)
{
    return inf->rv ? inf->rv : "";
}

int k1s_informer_lists(const k1s_informer_t *inf)
{
    return inf->nlists;
}

void k1s_informer_break_watch(k1s_informer_t *inf, unsigned delay_ms)
{
    if (inf->list_req)
        return; /* listing: a watch follows anyway */
    k1s_client_cancel(inf->watch_req);
    inf->watch_req = NULL;
    schedule(inf, false, delay_ms);
}

/* ---- factory ---- */

struct k1s_informer_factory {
    k1s_client_t *client;
    k1s_informer_t **infs;
    int n;
};

k1s_informer_factory_t *k1s_informer_factory_new(k1s_client_t *client)
{
    k1s_informer_factory_t *f = k1s_xcalloc(1, sizeof(*f));
    f->client = client;
    return f;
}

void k1s_informer_factory_free(k1s_informer_factory_t *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++)
        k1s_informer_free(f->infs[i]);
    free(f->infs);
    free(f);
}

k1s_informer_t *k1s_informer_factory_get(k1s_informer_factory_t *f, const k1s_gvr_t *res)
{
    const char *g = res->group ? res->group : "";
    for (int i = 0; i < f->n; i++) {
        k1s_gvr_t *r = &f->infs[i]->res;
        if (!strcmp(r->group, g) && !strcmp(r->version, res->version) &&
            !strcmp(r->resource, res->resource))
            return f->infs[i];
    }
    f->infs = k1s_xrealloc(f->infs, (size_t)(f->n + 1) * sizeof(*f->infs));
    return f->infs[f->n++] = k1s_informer_new(f->client, res, NULL);
}

void k1s_informer_factory_start(k1s_informer_factory_t *f)
{
    for (int i = 0; i < f->n; i++)
        k1s_informer_start(f->infs[i]);
}

bool k1s_informer_factory_synced(const k1s_informer_factory_t *f)
{
    for (int i = 0; i < f->n; i++)
        if (!f->infs[i]->synced)
            return false;
    return true;
}

void k1s_informer_factory_remove(k1s_informer_factory_t *f, k1s_informer_t *inf)
{
    for (int i = 0; i < f->n; i++) {
        if (f->infs[i] != inf)
            continue;
        memmove(&f->infs[i], &f->infs[i + 1], (size_t)(f->n - i - 1) * sizeof(*f->infs));
        f->n--;
        k1s_informer_free(inf);
        return;
    }
}
