/*
 * ControllerRevision helpers shared by the StatefulSet and DaemonSet
 * controllers (see history.h).
 */
#include "controllers/history.h"

#include <stdlib.h>
#include <string.h>

#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

const k1s_gvr_t k1s_history_gvr = {"apps", "v1", "controllerrevisions", true};

json_t *k1s_history_data(const json_t *owner)
{
    const json_t *tmpl = json_object_get(json_object_get(owner, "spec"), "template");
    json_t *t = tmpl ? json_deep_copy(tmpl) : json_object();
    json_object_set_new(t, "$patch", json_string("replace"));
    return json_pack("{s:{s:o}}", "spec", "template", t);
}

json_t *k1s_history_template(const json_t *rev)
{
    const json_t *t =
        json_object_get(json_object_get(json_object_get(rev, "data"), "spec"), "template");
    if (!json_is_object(t))
        return NULL;
    json_t *c = json_deep_copy(t);
    json_object_del(c, "$patch");
    return c;
}

int k1s_history_owned(const k1s_informer_t *inf, const json_t *owner, json_t ***out)
{
    const char *uid = k1s_ctrl_str(json_object_get(owner, "metadata"), "uid");
    json_t **all = NULL;
    int n = k1s_informer_by_index(inf, "owner", uid, &all);
    int j = 0;
    for (int i = 0; i < n; i++) {
        const json_t *ref = k1s_ctrl_controller_ref(all[i]);
        if (ref && !strcmp(k1s_ctrl_str(ref, "uid"), uid))
            all[j++] = all[i];
    }
    *out = all;
    return n < 0 ? n : j;
}

int64_t k1s_history_revision(const json_t *rev)
{
    return json_integer_value(json_object_get(rev, "revision"));
}

int64_t k1s_history_max(json_t *const *revs, int n)
{
    int64_t m = 0;
    for (int i = 0; i < n; i++)
        if (k1s_history_revision(revs[i]) > m)
            m = k1s_history_revision(revs[i]);
    return m;
}

json_t *k1s_history_find_equal(json_t *const *revs, int n, const json_t *data)
{
    json_t *best = NULL;
    for (int i = 0; i < n; i++) {
        if (!json_equal(json_object_get(revs[i], "data"), (json_t *)data))
            continue;
        if (!best || k1s_history_revision(revs[i]) > k1s_history_revision(best))
            best = revs[i];
    }
    return best;
}

json_t *k1s_history_find_name(json_t *const *revs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(k1s_ctrl_str(json_object_get(revs[i], "metadata"), "name"), name))
            return revs[i];
    return NULL;
}

json_t *k1s_history_new(const json_t *owner, json_t *data, int64_t revision,
                        int64_t collision_count, const char *hash_label, char **hash)
{
    const json_t *omd = json_object_get(owner, "metadata");
    char *h = k1s_ctrl_hash(data, collision_count);
    const json_t *tl = json_object_get(
        json_object_get(json_object_get(json_object_get(owner, "spec"), "template"), "metadata"),
        "labels");
    json_t *labels = json_is_object(tl) ? json_deep_copy(tl) : json_object();
    json_object_set_new(labels, hash_label, json_string(h));
    char *name = k1s_xasprintf("%s-%s", k1s_ctrl_str(omd, "name"), h);
    json_t *rev = json_pack("{s:s,s:s,s:{s:s,s:s,s:o,s:[o]},s:O,s:I}", "apiVersion", "apps/v1",
                            "kind", "ControllerRevision", "metadata", "name", name, "namespace",
                            k1s_ctrl_str(omd, "namespace"), "labels", labels, "ownerReferences",
                            k1s_ctrl_new_controller_ref(owner), "data", data, "revision",
                            (json_int_t)revision);
    free(name);
    const json_t *ann = json_object_get(omd, "annotations");
    if (json_object_size(ann))
        json_object_set_new(json_object_get(rev, "metadata"), "annotations", json_deep_copy(ann));
    *hash = h;
    return rev;
}

json_t *k1s_history_ensure(k1s_client_t *client, const k1s_informer_t *inf,
                           const k1s_gvr_t *owner_res, const json_t *owner, json_t *const *revs,
                           int n, const char *hash_label, k1s_client_fn cb, void *arg)
{
    const char *ns = k1s_ctrl_str(json_object_get(owner, "metadata"), "namespace");
    json_t *data = k1s_history_data(owner);
    json_t *found = k1s_history_find_equal(revs, n, data);
    int64_t max = k1s_history_max(revs, n);
    if (found && k1s_history_revision(found) >= max) {
        json_decref(data);
        return found;
    }
    if (found) {
        json_t *copy = json_deep_copy(found);
        json_object_set_new(copy, "revision", json_integer(max + 1));
        k1s_client_update(client, &k1s_history_gvr, ns, copy, cb, arg);
        json_decref(copy);
        json_decref(data);
        return NULL;
    }
    char *hash = NULL;
    const json_t *status = json_object_get(owner, "status");
    int64_t cc = json_integer_value(json_object_get(status, "collisionCount"));
    json_t *rev = k1s_history_new(owner, data, max + 1, cc, hash_label, &hash);
    if (k1s_informer_get(inf, ns, k1s_ctrl_str(json_object_get(rev, "metadata"), "name"))) {
        /* a collision changes the hash, hence the name */
        json_t *copy = json_deep_copy(owner);
        json_t *st = json_is_object(status) ? json_deep_copy(status) : json_object();
        json_object_set_new(st, "collisionCount", json_integer(cc + 1));
        json_object_set_new(copy, "status", st);
        k1s_client_update_status(client, owner_res, ns, copy, cb, arg);
        json_decref(copy);
    } else {
        k1s_client_create(client, &k1s_history_gvr, ns, rev, cb, arg);
    }
    json_decref(rev);
    free(hash);
    json_decref(data);
    return NULL;
}

static void deleted(const k1s_client_result_t *res, void *arg)
{
    (void)arg;
    if (res->status >= 300 && res->status != 404)
        k1s_debug("controller history: deleting a revision: %d %s", res->status, res->message);
}

static int by_revision(const void *a, const void *b)
{
    int64_t ra = k1s_history_revision(*(json_t *const *)a);
    int64_t rb = k1s_history_revision(*(json_t *const *)b);
    return ra < rb ? -1 : ra > rb;
}

void k1s_history_truncate(k1s_client_t *client, json_t *const *revs, int n, int64_t limit,
                          bool (*live)(const json_t *rev, void *arg), void *arg)
{
    if (limit < 0)
        limit = 0;
    json_t **dead = k1s_xmalloc(((size_t)n + 1) * sizeof(*dead));
    int nd = 0;
    for (int i = 0; i < n; i++)
        if (!live(revs[i], arg) && !k1s_ctrl_deleting(revs[i]))
            dead[nd++] = revs[i];
    qsort(dead, (size_t)nd, sizeof(*dead), by_revision);
    for (int i = 0; i < nd - limit; i++) {
        const json_t *md = json_object_get(dead[i], "metadata");
        k1s_client_delete(client, &k1s_history_gvr, k1s_ctrl_str(md, "namespace"),
                          k1s_ctrl_str(md, "name"), NULL, deleted, NULL);
    }
    free(dead);
}

void k1s_history_owner_start(k1s_history_owner_t *o, k1s_ctrl_ctx_t *ctx, const k1s_gvr_t *gvr,
                             const char *kind, k1s_workqueue_fn sync, void *arg)
{
    static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
    o->exp = k1s_expectations_new();
    o->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, sync, arg);
    o->ops.queue = o->queue;
    o->owners = k1s_informer_factory_get(ctx->factory, gvr);
    o->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    o->revs = k1s_informer_factory_get(ctx->factory, &k1s_history_gvr);
    k1s_ctrl_index_namespace(o->owners);
    k1s_ctrl_index_owner(o->pods);
    k1s_ctrl_index_namespace(o->pods);
    k1s_ctrl_index_owner(o->revs);
    o->owned_pods = (k1s_ctrl_owned_t){"apps/v1", kind, o->queue, o->exp};
    o->owned_revs = (k1s_ctrl_owned_t){"apps/v1", kind, o->queue, NULL};
    k1s_informer_handlers_t sh = k1s_ctrl_enqueue_handlers(o->queue);
    k1s_informer_handlers_t ph = k1s_ctrl_owned_handlers(&o->owned_pods);
    k1s_informer_handlers_t rh = k1s_ctrl_owned_handlers(&o->owned_revs);
    k1s_informer_add_handlers(o->owners, &sh);
    k1s_informer_add_handlers(o->pods, &ph);
    k1s_informer_add_handlers(o->revs, &rh);
}

void k1s_history_owner_stop(k1s_history_owner_t *o)
{
    /* the client is gone: what was out is never answered */
    k1s_ctrl_ops_free(&o->ops);
    k1s_workqueue_free(o->queue);
    k1s_expectations_free(o->exp);
}
