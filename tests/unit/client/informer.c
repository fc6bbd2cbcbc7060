/*
 * Unit tests for src/client/informer.c's cache and indexers (the .c is
 * included to reach the cache functions): the namespace, owner-uid and
 * node-name indexers, a custom indexer, index upkeep on update and delete,
 * an indexer added after objects are cached, the relist replace that
 * reports adds, updates and deletes to handlers, the sweep that drops
 * unused trees (objects are parsed again from their bytes when asked for),
 * removing a factory's informer, and metadata informers (only metadata is
 * cached until somebody wants whole objects).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../src/client/informer.c"

static void no_handler(k1s_http_req_t *req, void *arg)
{
    (void)req;
    (void)arg;
}

static json_t *pod(const char *ns, const char *name, const char *rv, const char *node,
                   const char *owner)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{}}", "kind", "Pod", "apiVersion", "v1",
                          "metadata", "namespace", ns, "name", name, "resourceVersion", rv, "spec");
    if (node)
        json_object_set_new(json_object_get(o, "spec"), "nodeName", json_string(node));
    if (owner)
        json_object_set_new(
            json_object_get(o, "metadata"), "ownerReferences",
            json_pack("[{s:s,s:s,s:s}]", "kind", "ReplicaSet", "name", "rs", "uid", owner));
    json_object_set_new(json_object_get(o, "metadata"), "managedFields", json_array());
    return o;
}

static void put(k1s_informer_t *inf, json_t *o)
{
    char *key = key_of(o);
    trim(inf, o);
    entry_free(inf, cache_put(inf, key, o));
    json_decref(o);
    free(key);
}

static int count(k1s_informer_t *inf, const char *index, const char *value)
{
    json_t **objs;
    int n = k1s_informer_by_index(inf, index, value, &objs);
    if (n >= 0)
        free(objs);
    return n;
}

/* by the labels' "app" value: a pluggable indexer */
static int by_app(json_t *obj, const char **out)
{
    const char *app = json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), "app"));
    if (!app)
        return 0;
    out[0] = app;
    return 1;
}

static const k1s_gvr_t pods = {"", "v1", "pods", true};

static void test_indexers(void **state)
{
    struct event_base *base = event_base_new();
    k1s_client_t *c = k1s_client_new_inprocess(base, no_handler, NULL, "u", NULL);
    k1s_informer_t *inf = k1s_informer_new(c, &pods, NULL);
    assert_int_equal(k1s_informer_add_indexer(inf, "namespace", k1s_index_by_namespace), 0);
    assert_int_equal(k1s_informer_add_indexer(inf, "namespace", k1s_index_by_namespace), -EEXIST);
    assert_int_equal(k1s_informer_add_indexer(inf, "owner", k1s_index_by_owner_uid), 0);
    assert_int_equal(k1s_informer_add_indexer(inf, "node", k1s_index_by_node_name), 0);

    put(inf, pod("a", "p1", "1", "n1", "u1"));
    put(inf, pod("a", "p2", "2", "n2", "u1"));
    put(inf, pod("b", "p1", "3", "n1", NULL));
    put(inf, pod("b", "p3", "4", NULL, "u2"));
    assert_int_equal(k1s_informer_len(inf), 4);
    assert_int_equal(count(inf, "namespace", "a"), 2);
    assert_int_equal(count(inf, "namespace", "b"), 2);
    assert_int_equal(count(inf, "namespace", "c"), 0);
    assert_int_equal(count(inf, "owner", "u1"), 2);
    assert_int_equal(count(inf, "owner", "u2"), 1);
    assert_int_equal(count(inf, "node", "n1"), 2);
    assert_int_equal(count(inf, "node", "n2"), 1);
    assert_int_equal(count(inf, "nope", "x"), -ENOENT);

    json_t *g = k1s_informer_get(inf, "b", "p1");
    assert_non_null(g);
    assert_string_equal(obj_rv(g), "3");
    /* the cache drops managedFields */
    assert_null(json_object_get(json_object_get(g, "metadata"), "managedFields"));
    assert_null(k1s_informer_get(inf, "c", "p1"));

    /* an update moves the object between index values */
    put(inf, pod("a", "p2", "5", "n1", "u2"));
    assert_int_equal(count(inf, "node", "n2"), 0);
    assert_int_equal(count(inf, "node", "n1"), 3);
    assert_int_equal(count(inf, "owner", "u1"), 1);
    assert_int_equal(count(inf, "owner", "u2"), 2);
    assert_int_equal(count(inf, "namespace", "a"), 2);

    /* a delete leaves every index */
    entry_free(inf, cache_del(inf, "a/p1"));
    assert_int_equal(count(inf, "namespace", "a"), 1);
    assert_int_equal(count(inf, "owner", "u1"), 0);
    assert_int_equal(count(inf, "node", "n1"), 2);
    assert_int_equal(k1s_informer_len(inf), 3);

    /* an indexer added later indexes what is cached */
    json_t *l = pod("b", "p4", "6", NULL, NULL);
    json_object_set_new(json_object_get(l, "metadata"), "labels", json_pack("{s:s}", "app", "web"));
    put(inf, l);
    assert_int_equal(k1s_informer_add_indexer(inf, "app", by_app), 0);
    json_t **objs;
    assert_int_equal(k1s_informer_by_index(inf, "app", "web", &objs), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(objs[0], "metadata"), "name")), "p4");
    free(objs);

    /* the sweep keeps trees used since the last sweep, drops the others */
    assert_int_equal(inf->ntrees, 4);
    sweep_cb(-1, 0, inf);
    assert_int_equal(inf->ntrees, 4);
    assert_non_null(k1s_informer_get(inf, "b", "p4"));
    sweep_cb(-1, 0, inf);
    assert_int_equal(inf->ntrees, 1);
    sweep_cb(-1, 0, inf);
    assert_int_equal(inf->ntrees, 0);
    /* a dropped object comes back from its bytes, as it was cached, index values intact */
    g = k1s_informer_get(inf, "a", "p2");
    assert_non_null(g);
    assert_string_equal(obj_rv(g), "5");
    assert_null(json_object_get(json_object_get(g, "metadata"), "managedFields"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(g, "spec"), "nodeName")),
                        "n1");
    assert_int_equal(inf->ntrees, 1);
    assert_int_equal(count(inf, "owner", "u2"), 2);
    assert_int_equal(inf->ntrees, 2);
    /* a tree somebody still holds outlives the sweep */
    json_t *held = json_incref(k1s_informer_get(inf, "b", "p1"));
    sweep_cb(-1, 0, inf);
    sweep_cb(-1, 0, inf);
    assert_int_equal(inf->ntrees, 0);
    assert_string_equal(obj_rv(held), "3");
    json_decref(held);

    k1s_informer_free(inf);
    k1s_client_free(c);
    event_base_free(base);
}

typedef struct seen {
    int adds, updates, deletes;
    char last_deleted[32];
} seen_t;

static void on_add(json_t *o, void *arg)
{
    ((seen_t *)arg)->adds++;
}

static void on_update(json_t *old, json_t *o, void *arg)
{
    assert_string_not_equal(obj_rv(old), obj_rv(o));
    ((seen_t *)arg)->updates++;
}

static void on_delete(json_t *o, void *arg)
{
    seen_t *s = arg;
    s->deletes++;
    snprintf(s->last_deleted, sizeof(s->last_deleted), "%s",
             json_string_value(json_object_get(json_object_get(o, "metadata"), "name")));
}

static void test_replace(void **state)
{
    struct event_base *base = event_base_new();
    k1s_client_t *c = k1s_client_new_inprocess(base, no_handler, NULL, "u", NULL);
    k1s_informer_t *inf = k1s_informer_new(c, &pods, NULL);
    k1s_informer_add_indexer(inf, "node", k1s_index_by_node_name);
    seen_t s = {0};
    k1s_informer_handlers_t h = {on_add, on_update, on_delete, &s};
    k1s_informer_add_handlers(inf, &h);
    put(inf, pod("a", "keep", "1", "n1", NULL));
    put(inf, pod("a", "changed", "2", "n1", NULL));
    put(inf, pod("a", "gone", "3", "n1", NULL));
    /* a relist: one unchanged, one changed, one new, one missing */
    json_t *items = json_array();
    json_array_append_new(items, pod("a", "keep", "1", "n1", NULL));
    json_array_append_new(items, pod("a", "changed", "7", "n2", NULL));
    json_array_append_new(items, pod("a", "new", "8", "n2", NULL));
    listing_add(inf, items);
    json_decref(items);
    replace(inf);
    /* listed objects are kept as bytes only */
    assert_null(((entry_t *)k1s_strmap_get(&inf->cache, "a/new"))->tree);
    assert_null(((entry_t *)k1s_strmap_get(&inf->cache, "a/changed"))->tree);
    assert_int_equal(s.adds, 1);
    assert_int_equal(s.updates, 1);
    assert_int_equal(s.deletes, 1);
    assert_string_equal(s.last_deleted, "gone");
    assert_int_equal(k1s_informer_len(inf), 3);
    assert_int_equal(count(inf, "node", "n1"), 1);
    assert_int_equal(count(inf, "node", "n2"), 2);
    /* handlers added after sync hear about every cached object */
    inf->synced = true;
    seen_t late = {0};
    k1s_informer_handlers_t h2 = {on_add, NULL, NULL, &late};
    k1s_informer_add_handlers(inf, &h2);
    assert_int_equal(late.adds, 3);
    k1s_informer_free(inf);
    k1s_client_free(c);
    event_base_free(base);
}

/* A factory's informer for a resource that went away is freed; the resource can come back. */
static void test_factory_remove(void **state)
{
    static const k1s_gvr_t cms = {"", "v1", "configmaps", true};
    struct event_base *base = event_base_new();
    k1s_client_t *c = k1s_client_new_inprocess(base, no_handler, NULL, "u", NULL);
    k1s_informer_factory_t *f = k1s_informer_factory_new(c);
    k1s_informer_t *p = k1s_informer_factory_get(f, &pods);
    k1s_informer_t *cm = k1s_informer_factory_get(f, &cms);
    k1s_informer_add_indexer(p, "node", k1s_index_by_node_name);
    put(p, pod("a", "x", "1", "n1", NULL));
    k1s_informer_factory_remove(f, p); /* freed with its cache (ASan would tell) */
    assert_int_equal(f->n, 1);
    assert_ptr_equal(k1s_informer_factory_get(f, &cms), cm);
    k1s_informer_t *again = k1s_informer_factory_get(f, &pods);
    assert_int_equal(f->n, 2);
    assert_int_equal(k1s_informer_len(again), 0);
    assert_false(k1s_informer_has_synced(again));
    k1s_informer_t *stranger = k1s_informer_new(c, &pods, NULL);
    k1s_informer_factory_remove(f, stranger); /* not the factory's: left alone */
    assert_int_equal(f->n, 2);
    k1s_informer_free(stranger);
    k1s_informer_factory_free(f);
    k1s_client_free(c);
    event_base_free(base);
}

/* A metadata informer caches apiVersion, kind and metadata only, and no tree after a watch
 * event; once the same resource is asked for whole, whole objects are kept. */
static void test_metadata_informer(void **state)
{
    struct event_base *base = event_base_new();
    k1s_client_t *c = k1s_client_new_inprocess(base, no_handler, NULL, "u", NULL);
    k1s_informer_factory_t *f = k1s_informer_factory_new(c);
    k1s_informer_t *m = k1s_informer_factory_get_metadata(f, &pods);
    assert_ptr_equal(k1s_informer_factory_get_metadata(f, &pods), m);
    k1s_informer_add_indexer(m, "owner", k1s_index_by_owner_uid);
    seen_t s = {0};
    k1s_informer_handlers_t h = {on_add, on_update, on_delete, &s};
    k1s_informer_add_handlers(m, &h);
    json_t *o = pod("a", "x", "1", "n1", "rs-uid");
    on_watch(K1S_WATCH_ADDED, o, 200, m);
    json_decref(o);
    assert_int_equal(s.adds, 1);
    entry_t *e = k1s_strmap_get(&m->cache, "a/x");
    assert_non_null(e);
    assert_null(e->tree);
    assert_null(strstr(e->bytes, "spec"));
    assert_null(strstr(e->bytes, "managedFields"));
    assert_non_null(strstr(e->bytes, "\"kind\":\"Pod\""));
    assert_int_equal(count(m, "owner", "rs-uid"), 1);
    json_t *got = k1s_informer_get(m, "a", "x");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(got, "metadata"), "resourceVersion")),
        "1");
    assert_null(json_object_get(got, "spec"));
    /* wanted whole (not started yet, so no list again): whole objects from now on */
    assert_ptr_equal(k1s_informer_factory_get(f, &pods), m);
    assert_false(m->meta_only);
    put(m, pod("a", "y", "2", "n1", NULL));
    e = k1s_strmap_get(&m->cache, "a/y");
    assert_non_null(strstr(e->bytes, "\"nodeName\":\"n1\""));
    /* and asking for metadata again does not take that back */
    k1s_informer_factory_get_metadata(f, &pods);
    assert_false(m->meta_only);
    k1s_informer_factory_free(f);
    k1s_client_free(c);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indexers),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_factory_remove),
        cmocka_unit_test(test_metadata_informer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
