/*
 * Namespace termination. Deleting a namespace marks it Terminating (no new
 * objects may be created in it); a pass then deletes every object in it,
 * through the same rules as a user's delete (finalizers, graceful pods),
 * and once nothing is left, removes the "kubernetes" finalizer and the
 * namespace itself. Passes run after deletes commit (event-driven, never on
 * a timer). In Kubernetes this is the namespace controller's work; it moves
 * to src/controllers/ when the controller framework lands.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "lib/log.h"

/* Terminating namespaces carry a deletionTimestamp (namespaces are small to parse). */
static bool has_deletion_timestamp(k1s_kv_t *kv)
{
    json_t *obj = k1s_obj_decode(kv->value);
    bool r = k1s_obj_str(obj, "metadata.deletionTimestamp") != NULL;
    json_decref(obj);
    return r;
}

bool k1s_ns_is_terminating(k1s_apiserver_t *api, const char *ns, bool *exists)
{
    char *key = k1s_xasprintf("/namespaces/%s", ns);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    free(key);
    *exists = kv != NULL;
    if (!kv)
        return false;
    return has_deletion_timestamp(kv);
}

typedef struct ns_ctx {
    char **names;
    size_t n, cap;
} ns_ctx_t;

static int collect_terminating(k1s_kv_t *kv, void *arg)
{
    ns_ctx_t *c = arg;
    if (!has_deletion_timestamp(kv))
        return 0;
    k1s_obj_aux_t *a = kv->aux;
    if (!a)
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->names = k1s_xrealloc(c->names, c->cap * sizeof(char *));
    }
    c->names[c->n++] = k1s_xstrdup(a->name);
    return 0;
}

typedef struct del_ctx {
    char **keys;
    size_t n, cap;
    size_t remaining;
} del_ctx_t;

static int collect_keys(k1s_kv_t *kv, void *arg)
{
    del_ctx_t *c = arg;
    c->remaining++;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->keys = k1s_xrealloc(c->keys, c->cap * sizeof(char *));
    }
    c->keys[c->n++] = k1s_xstrdup(kv->key);
    return 0;
}

static void ns_done(int err, k1s_kv_t *kv, void *arg)
{
    if (err < 0)
        k1s_warn("namespace cleanup write failed: %s", strerror(-err));
}

/* One namespace: delete what is in it; finish it when empty. */
static void pass_one(k1s_apiserver_t *api, const char *ns)
{
    size_t n;
    const k1s_resource_t *const *all = k1s_registry_all(&n);
    size_t remaining = 0;
    for (size_t i = 0; i < n; i++) {
        if (!all[i]->namespaced)
            continue;
        char *prefix = k1s_obj_prefix(all[i], ns);
        del_ctx_t c = {0};
        k1s_store_range(api->store, prefix, NULL, collect_keys, &c);
        free(prefix);
        for (size_t k = 0; k < c.n; k++) {
            /* only objects not already going away in a queued write */
            if (k1s_store_get_latest(api->store, c.keys[k]))
                k1s_rest_internal_delete(api, all[i], c.keys[k]);
            free(c.keys[k]);
        }
        free(c.keys);
        remaining += c.remaining;
    }
    if (remaining > 0)
        return;
    char *key = k1s_xasprintf("/namespaces/%s", ns);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    if (!kv || k1s_store_get(api->store, key) != kv) {
        free(key);
        return; /* a write to it is queued; the next pass sees it */
    }
    json_t *obj = k1s_obj_decode(kv->value);
    json_t *spec = json_object_get(obj, "spec");
    json_t *fins = spec ? json_object_get(spec, "finalizers") : NULL;
    json_t *mfins = json_object_get(k1s_obj_meta(obj), "finalizers");
    if (json_array_size(fins) > 0) {
        json_t *keep = json_array();
        size_t i;
        json_t *f;
        json_array_foreach(fins, i, f)
        {
            if (strcmp(json_string_value(f), "kubernetes"))
                json_array_append(keep, f);
        }
        json_object_set_new(spec, "finalizers", keep);
    }
    bool done =
        json_array_size(json_object_get(spec, "finalizers")) == 0 && json_array_size(mfins) == 0;
    if (done) {
        k1s_store_delete(api->store, key, ns_done, api);
    } else if (!json_equal(fins, json_object_get(spec, "finalizers"))) {
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
        json_object_set_new(k1s_obj_meta(obj), "resourceVersion", json_string(rv));
        size_t nres;
        const k1s_resource_t *res = k1s_registry_find("", "v1", "namespaces");
        (void)nres;
        k1s_store_put(api->store, key, k1s_obj_encode(obj), k1s_obj_aux_new(res, obj), ns_done,
                      api);
    }
    json_decref(obj);
    free(key);
}

static void run_pass(evutil_socket_t fd, short what, void *arg)
{
    k1s_apiserver_t *api = arg;
    api->ns_pass_pending = false;
    ns_ctx_t c = {0};
    k1s_store_range(api->store, "/namespaces/", NULL, collect_terminating, &c);
    for (size_t i = 0; i < c.n; i++) {
        pass_one(api, c.names[i]);
        free(c.names[i]);
    }
    free(c.names);
}

void k1s_ns_schedule(k1s_apiserver_t *api)
{
    if (api->ns_pass_pending)
        return;
    if (!api->ns_event)
        api->ns_event = event_new(api->base, -1, 0, run_pass, api);
    api->ns_pass_pending = true;
    struct timeval tv = {0, 0};
    event_add(api->ns_event, &tv);
}
