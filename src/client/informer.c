/*
 * Shared informers; see informer.h. The cache is a string map from
 * "namespace/name" to an entry: the object as compact JSON bytes, the
 * object's index values, and, while the object is in use, its parsed tree.
 * Each index is a map from index value to the set of cache keys that have
 * it. One timer drives retries: the next list (after a failure, with
 * back-off from 1 s doubling to 30 s) or the next watch. Another, armed
 * only while trees are held, drops the trees nobody asked for during a
 * whole sweep period, so an idle cache costs its bytes (about a tenth of
 * the trees) and no CPU.
 */
#include "client/informer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "lib/jsonheap.h"
#include "lib/log.h"
#include "lib/util.h"

#define LIST_PAGE 100
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define SWEEP_MS_DEFAULT 10000
/* a tree takes about this many times its JSON bytes (jansson's per-value overhead) */
#define TREE_BYTES_FACTOR 9
/* release freed memory to the system once a sweep has dropped this much */
#define TRIM_BYTES (1u << 20)

/* One cached object. */
typedef struct entry {
    char *bytes; /* compact JSON of the object as cached (after trim) */
    size_t len;
    json_t *tree; /* the parsed object while in use, else NULL */
    unsigned gen; /* the sweep generation in which the tree was last used */
    char **ivals; /* per indexer: its values, each NUL-terminated, then an empty string */
    int nivals;
} entry_t;

typedef struct indexer {
    char *name;
    k1s_index_fn fn;
    k1s_strmap_t map; /* value -> k1s_strmap_t * (set of cache keys) */
} indexer_t;

struct k1s_informer {
    k1s_client_t *client;
    k1s_gvr_t res;
    char *ns;
    char *field_selector; /* or NULL */
    char *kind;           /* from the list, set on listed items that lack it */
    char *api_version;
    k1s_strmap_t cache; /* key -> entry_t * */
    indexer_t *idx;
    int nidx;
    k1s_informer_handlers_t *h;
    int nh;
    bool started, synced;
    char *rv;
    k1s_client_req_t *list_req, *watch_req;
    k1s_strmap_t listing; /* the list in progress: key -> entry_t * without a tree */
    struct event *timer;
    bool timer_lists; /* the timer starts a list (else a watch) */
    unsigned backoff_ms;
    int nlists;
    k1s_informer_transform_fn transform;
    bool meta_only; /* keeps apiVersion, kind and metadata only (metadata informers) */
    struct event *sweep;
    unsigned sweep_ms;
    unsigned gen;  /* the current sweep generation */
    size_t ntrees; /* entries holding a tree */
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

/* ix's values for obj, as "v1\0v2\0\0" (a new string). */
static char *index_values(const indexer_t *ix, json_t *obj)
{
    const char *vals[K1S_INDEX_MAX_VALUES];
    int n = ix->fn(obj, vals);
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(vals[i]) + 1;
    char *out = k1s_xmalloc(len), *p = out;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(vals[i]) + 1;
        memcpy(p, vals[i], l);
        p += l;
    }
    *p = 0;
    return out;
}

static void index_add(indexer_t *ix, const char *key, const char *vals)
{
    for (const char *v = vals; *v; v += strlen(v) + 1) {
        k1s_strmap_t *set = k1s_strmap_get(&ix->map, v);
        if (!set) {
            set = k1s_xcalloc(1, sizeof(*set));
            k1s_strmap_set(&ix->map, v, set);
        }
        k1s_strmap_set(set, key, NULL);
    }
}

static void index_del(indexer_t *ix, const char *key, const char *vals)
{
    for (const char *v = vals; *v; v += strlen(v) + 1) {
        k1s_strmap_t *set = k1s_strmap_get(&ix->map, v);
        if (!set)
            continue;
        k1s_strmap_del(set, key);
        if (!k1s_strmap_len(set)) {
            k1s_strmap_del(&ix->map, v);
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

/* ---- entries ---- */

static void sweep_arm(k1s_informer_t *inf)
{
    if (!evtimer_pending(inf->sweep, NULL)) {
        struct timeval tv = {inf->sweep_ms / 1000, (suseconds_t)(inf->sweep_ms % 1000) * 1000};
        evtimer_add(inf->sweep, &tv);
    }
}

/* Makes tree (reference taken) the entry's tree, used now. */
static void entry_hold(k1s_informer_t *inf, entry_t *e, json_t *tree)
{
    if (!e->tree) {
        inf->ntrees++;
        sweep_arm(inf);
    }
    e->tree = tree;
    e->gen = inf->gen;
}

/* The entry's object parsed from its bytes (a new tree). */
static json_t *entry_parse(const k1s_informer_t *inf, const entry_t *e)
{
    json_error_t err;
    k1s_json_heap_enter();
    json_t *t = json_loadb(e->bytes, e->len, 0, &err);
    k1s_json_heap_leave();
    if (!t) {
        /* the bytes are our own json_dumps output: only memory can be missing */
        fprintf(stderr, "k1s: informer %s: cannot parse a cached object: %s\n", inf->res.resource,
                err.text);
        abort();
    }
    return t;
}

/* The entry's object as a tree (borrowed), parsed from its bytes unless held. */
static json_t *entry_tree(k1s_informer_t *inf, entry_t *e)
{
    if (e->tree) {
        e->gen = inf->gen;
        return e->tree;
    }
    json_t *t = entry_parse(inf, e);
    entry_hold(inf, e, t);
    return t;
}

static void entry_drop_tree(k1s_informer_t *inf, entry_t *e)
{
    if (e->tree) {
        json_decref(e->tree);
        e->tree = NULL;
        inf->ntrees--;
    }
}

/* A new entry for obj (reference taken, kept as the entry's tree). */
static entry_t *entry_new(k1s_informer_t *inf, json_t *obj)
{
    entry_t *e = k1s_xcalloc(1, sizeof(*e));
    e->bytes = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
    k1s_assert(e->bytes);
    e->len = strlen(e->bytes);
    e->nivals = inf->nidx;
    e->ivals = inf->nidx ? k1s_xcalloc((size_t)inf->nidx, sizeof(char *)) : NULL;
    for (int i = 0; i < inf->nidx; i++)
        e->ivals[i] = index_values(&inf->idx[i], obj);
    entry_hold(inf, e, json_incref(obj));
    return e;
}

static void entry_free(k1s_informer_t *inf, entry_t *e)
{
    if (!e)
        return;
    entry_drop_tree(inf, e);
    for (int i = 0; i < e->nivals; i++)
        free(e->ivals[i]);
    free(e->ivals);
    free(e->bytes);
    free(e);
}

/* Drops the trees not used since the last sweep. */
static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_informer_t *inf = arg;
    size_t freed = 0;
    void *v;
    for (size_t it = 0; k1s_strmap_next(&inf->cache, &it, NULL, &v);) {
        entry_t *e = v;
        if (e->tree && e->gen != inf->gen) {
            freed += e->len * TREE_BYTES_FACTOR;
            entry_drop_tree(inf, e);
        }
    }
    inf->gen++;
    if (inf->ntrees)
        sweep_arm(inf);
    if (freed >= TRIM_BYTES)
        k1s_release_free_memory();
}

/* ---- the cache ---- */

/* Puts e under key; returns the previous entry (owned) or NULL. */
static entry_t *cache_insert(k1s_informer_t *inf, const char *key, entry_t *e)
{
    entry_t *old = k1s_strmap_set(&inf->cache, key, e);
    for (int i = 0; i < inf->nidx; i++) {
        if (old)
            index_del(&inf->idx[i], key, old->ivals[i]);
        index_add(&inf->idx[i], key, e->ivals[i]);
    }
    return old;
}

/* Puts obj (reference taken) under key; returns the previous entry (owned) or NULL. */
static entry_t *cache_put(k1s_informer_t *inf, const char *key, json_t *obj)
{
    return cache_insert(inf, key, entry_new(inf, obj));
}

/* Removes key; returns its entry (owned) or NULL. */
static entry_t *cache_del(k1s_informer_t *inf, const char *key)
{
    entry_t *old = k1s_strmap_del(&inf->cache, key);
    if (old)
        for (int i = 0; i < inf->nidx; i++)
            index_del(&inf->idx[i], key, old->ivals[i]);
    return old;
}

static bool wants_updates(const k1s_informer_t *inf)
{
    for (int i = 0; i < inf->nh; i++)
        if (inf->h[i].on_update)
            return true;
    return false;
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
    if (inf->meta_only) {
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(obj, tmp, key, v)
        {
            if (strcmp(key, "metadata") && strcmp(key, "kind") && strcmp(key, "apiVersion"))
                json_object_del(obj, key);
        }
    }
    if (inf->transform)
        inf->transform(obj);
}

void k1s_informer_set_transform(k1s_informer_t *inf, k1s_informer_transform_fn fn)
{
    inf->transform = fn;
}

void k1s_informer_set_field_selector(k1s_informer_t *inf, const char *selector)
{
    free(inf->field_selector);
    inf->field_selector = selector && *selector ? k1s_xstrdup(selector) : NULL;
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

static void listing_clear(k1s_informer_t *inf)
{
    void *v;
    for (size_t it = 0; k1s_strmap_next(&inf->listing, &it, NULL, &v);)
        entry_free(inf, v);
    k1s_strmap_free(&inf->listing);
}

/* Adds a page of listed items to the listing, as bytes: a list of many objects never holds them
 * all as trees at once. */
static void listing_add(k1s_informer_t *inf, json_t *items)
{
    size_t i;
    json_t *obj;
    json_array_foreach(items, i, obj)
    {
        char *key = key_of(obj);
        if (!key)
            continue;
        trim(inf, obj);
        entry_t *e = entry_new(inf, obj);
        entry_drop_tree(inf, e);
        entry_free(inf, k1s_strmap_set(&inf->listing, key, e));
        free(key);
    }
}

/* The list is complete: the cache becomes its items, handlers hear the difference. Objects
 * are parsed one at a time for the handlers and not kept as trees. */
static void replace(k1s_informer_t *inf)
{
    const char *key;
    void *v;
    bool updates = wants_updates(inf);
    for (size_t it = 0; k1s_strmap_next(&inf->listing, &it, &key, &v);) {
        entry_t *e = v, *old = k1s_strmap_get(&inf->cache, key);
        if (old && old->len == e->len && !memcmp(old->bytes, e->bytes, e->len)) {
            entry_free(inf, e); /* unchanged */
            continue;
        }
        json_t *old_tree = old && updates ? json_incref(entry_tree(inf, old)) : NULL;
        json_t *obj = entry_parse(inf, e);
        entry_free(inf, cache_insert(inf, key, e));
        if (!old)
            notify_add(inf, obj);
        else if (old_tree)
            notify_update(inf, old_tree, obj);
        json_decref(obj);
        json_decref(old_tree);
    }
    /* what the list no longer has was deleted while we were away */
    size_t n = k1s_strmap_len(&inf->cache) - k1s_strmap_len(&inf->listing);
    if (n) {
        char **gone = k1s_xcalloc(n, sizeof(char *));
        size_t ng = 0;
        const char *k;
        for (size_t it = 0; k1s_strmap_next(&inf->cache, &it, &k, NULL);)
            if (!k1s_strmap_has(&inf->listing, k) && ng < n)
                gone[ng++] = k1s_xstrdup(k);
        for (size_t j = 0; j < ng; j++) {
            entry_t *old = cache_del(inf, gone[j]);
            json_t *t = json_incref(entry_tree(inf, old));
            notify_delete(inf, t);
            json_decref(t);
            entry_free(inf, old);
            free(gone[j]);
        }
        free(gone);
    }
    k1s_strmap_free(&inf->listing); /* its entries are in the cache or freed */
}

static void list_page(k1s_informer_t *inf, const char *cont);

static void on_list(const k1s_client_result_t *res, void *arg)
{
    k1s_informer_t *inf = arg;
    inf->list_req = NULL;
    if (res->status != 200 || !json_is_object(res->obj)) {
        k1s_debug("informer %s: list failed: %d %s", inf->res.resource, res->status, res->message);
        listing_clear(inf);
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
    listing_add(inf, json_object_get(res->obj, "items"));
    json_t *md = json_object_get(res->obj, "metadata");
    const char *cont = json_string_value(json_object_get(md, "continue"));
    if (cont && *cont) {
        list_page(inf, cont);
        return;
    }
    set_rv(inf, json_string_value(json_object_get(md, "resourceVersion")));
    inf->synced = true;
    inf->nlists++;
    inf->backoff_ms = 0;
    replace(inf);
    start_watch(inf);
}

static void list_page(k1s_informer_t *inf, const char *cont)
{
    k1s_list_opts_t o = {
        .limit = LIST_PAGE, .continue_token = cont, .field_selector = inf->field_selector};
    inf->list_req = k1s_client_list(inf->client, &inf->res, inf->ns, &o, on_list, inf);
}

static void start_list(k1s_informer_t *inf)
{
    if (inf->watch_req) {
        k1s_client_cancel(inf->watch_req);
        inf->watch_req = NULL;
    }
    listing_clear(inf);
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
        json_t *old_tree = NULL;
        entry_t *old = k1s_strmap_get(&inf->cache, key);
        if (old && wants_updates(inf))
            old_tree = json_incref(entry_tree(inf, old));
        old = cache_put(inf, key, obj);
        set_rv(inf, obj_rv(obj));
        if (old_tree)
            notify_update(inf, old_tree, obj);
        else if (!old)
            notify_add(inf, obj);
        json_decref(old_tree);
        entry_free(inf, old);
        if (inf->meta_only) {
            /* its user (the garbage collector) seldom reads an object again: keep the bytes
             * only, so a burst of writes does not hold a tree per object until the sweep */
            entry_t *e = k1s_strmap_get(&inf->cache, key);
            if (e)
                entry_drop_tree(inf, e);
        }
        free(key);
        return;
    }
    case K1S_WATCH_DELETED: {
        char *key = key_of(obj);
        if (!key)
            return;
        trim(inf, obj);
        entry_t *old = cache_del(inf, key);
        set_rv(inf, obj_rv(obj));
        if (old)
            notify_delete(inf, obj);
        entry_free(inf, old);
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
    k1s_list_opts_t o = {.resource_version = inf->rv,
                         .field_selector = inf->field_selector,
                         .allow_bookmarks = true,
                         .timeout_s = 300 + (int)(r % 300)};
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
    inf->sweep = evtimer_new(k1s_client_base(client), sweep_cb, inf);
    inf->sweep_ms = SWEEP_MS_DEFAULT;
    const char *env = getenv("K1S_INFORMER_SWEEP_MS");
    if (env && atoi(env) > 0)
        inf->sweep_ms = (unsigned)atoi(env);
    return inf;
}

void k1s_informer_free(k1s_informer_t *inf)
{
    if (!inf)
        return;
    k1s_client_cancel(inf->list_req);
    k1s_client_cancel(inf->watch_req);
    event_free(inf->timer);
    event_free(inf->sweep);
    void *v;
    for (size_t i = 0; k1s_strmap_next(&inf->cache, &i, NULL, &v);)
        entry_free(inf, v);
    k1s_strmap_free(&inf->cache);
    for (int i = 0; i < inf->nidx; i++)
        indexer_free(&inf->idx[i]);
    free(inf->idx);
    free(inf->h);
    listing_clear(inf);
    free((char *)inf->res.group);
    free((char *)inf->res.version);
    free((char *)inf->res.resource);
    free(inf->ns);
    free(inf->field_selector);
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
    for (size_t i = 0; k1s_strmap_next(&inf->cache, &i, &k, &v);) {
        entry_t *e = v;
        e->ivals = k1s_xrealloc(e->ivals, (size_t)inf->nidx * sizeof(char *));
        e->nivals = inf->nidx;
        e->ivals[inf->nidx - 1] = index_values(ix, entry_tree(inf, e));
        index_add(ix, k, e->ivals[inf->nidx - 1]);
    }
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
    k1s_informer_t *mi = (k1s_informer_t *)inf; /* trees are parsed and held on demand */
    entry_t *e;
    if (!ns || !*ns) {
        e = k1s_strmap_get(&inf->cache, name);
    } else {
        char *key = k1s_xasprintf("%s/%s", ns, name);
        e = k1s_strmap_get(&inf->cache, key);
        free(key);
    }
    return e ? entry_tree(mi, e) : NULL;
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
            (*out)[j++] = entry_tree((k1s_informer_t *)inf, k1s_strmap_get(&inf->cache, k));
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
        (*out)[j++] = entry_tree((k1s_informer_t *)inf, v);
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

static k1s_informer_t *factory_find(k1s_informer_factory_t *f, const k1s_gvr_t *res, bool meta_only)
{
    const char *g = res->group ? res->group : "";
    for (int i = 0; i < f->n; i++) {
        k1s_gvr_t *r = &f->infs[i]->res;
        if (!strcmp(r->group, g) && !strcmp(r->version, res->version) &&
            !strcmp(r->resource, res->resource))
            return f->infs[i];
    }
    f->infs = k1s_xrealloc(f->infs, (size_t)(f->n + 1) * sizeof(*f->infs));
    k1s_informer_t *inf = f->infs[f->n++] = k1s_informer_new(f->client, res, NULL);
    inf->meta_only = meta_only;
    return inf;
}

k1s_informer_t *k1s_informer_factory_get(k1s_informer_factory_t *f, const k1s_gvr_t *res)
{
    k1s_informer_t *inf = factory_find(f, res, false);
    if (inf->meta_only) {
        /* A metadata informer now wanted whole: list again, this time keeping everything. */
        inf->meta_only = false;
        if (inf->started) {
            k1s_client_cancel(inf->list_req);
            inf->list_req = NULL;
            evtimer_del(inf->timer);
            start_list(inf);
        }
    }
    return inf;
}

k1s_informer_t *k1s_informer_factory_get_metadata(k1s_informer_factory_t *f, const k1s_gvr_t *res)
{
    return factory_find(f, res, true);
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
