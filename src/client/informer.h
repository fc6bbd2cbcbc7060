/*
 * Shared informers: one list+watch per resource, shared by every user of
 * that resource, keeping a cache of its objects current and telling
 * registered handlers about adds, updates (old and new) and deletes.
 *
 * An informer lists (in pages of 100), then watches from the list's
 * resourceVersion with bookmarks. A watch that ends is resumed from the
 * last resourceVersion seen; a 410 Gone (the revision left the server's
 * history) or a failed list makes it list again (after a back-off on
 * errors), replacing the cache and telling handlers the difference.
 * has_synced turns true once the first list is in the cache.
 *
 * The cache holds objects without metadata.managedFields (as
 * kube-controller-manager's informers drop them), keyed "namespace/name"
 * (or "name"), as compact JSON bytes. An object is parsed when it is
 * looked up and its tree is kept while it is in use; trees not used for a
 * sweep period (10 s; environment K1S_INFORMER_SWEEP_MS, for tests) are
 * dropped, so an idle cache holds only bytes, about a ninth of what trees
 * take. Indexers map an object to index values; lookups by index value
 * return the matching objects. by-namespace, by-owner-uid and by-node-name
 * indexers are provided, others can be added.
 *
 * Objects handed to handlers and returned by lookups are borrowed: they
 * stay valid until the callback that got them returns (take a reference
 * to keep one longer), and must not be modified (copy with json_deep_copy
 * to change one).
 */
#ifndef K1S_CLIENT_INFORMER_H
#define K1S_CLIENT_INFORMER_H

#include <jansson.h>
#include <stdbool.h>

#include "client/client.h"

typedef struct k1s_informer k1s_informer_t;
typedef struct k1s_informer_factory k1s_informer_factory_t;

typedef struct k1s_informer_handlers {
    void (*on_add)(json_t *obj, void *arg);
    void (*on_update)(json_t *old_obj, json_t *new_obj, void *arg);
    void (*on_delete)(json_t *obj, void *arg);
    void *arg;
} k1s_informer_handlers_t;

#define K1S_INDEX_MAX_VALUES 16
/* Writes up to K1S_INDEX_MAX_VALUES index values (borrowed from obj) to out; returns how many. */
typedef int (*k1s_index_fn)(json_t *obj, const char **out);

/* metadata.namespace */
int k1s_index_by_namespace(json_t *obj, const char **out);
/* metadata.ownerReferences[].uid */
int k1s_index_by_owner_uid(json_t *obj, const char **out);
/* spec.nodeName (pods) */
int k1s_index_by_node_name(json_t *obj, const char **out);

/* ---- factory: one informer per resource ---- */

k1s_informer_factory_t *k1s_informer_factory_new(k1s_client_t *client);
/* Stops and frees every informer. Accepts NULL. */
void k1s_informer_factory_free(k1s_informer_factory_t *f);
/*
 * The factory's informer for res, for a user that reads only apiVersion, kind and metadata
 * (the garbage collector, as upstream's metadata informers): while nobody asks for res
 * through k1s_informer_factory_get, its cache keeps nothing else, so a resource only such
 * users watch (ConfigMaps, Secrets, ...) costs its metadata, not its data. When somebody
 * does, the informer keeps whole objects from then on (listing again if it had started).
 */
k1s_informer_t *k1s_informer_factory_get_metadata(k1s_informer_factory_t *f, const k1s_gvr_t *res);
/* The factory's informer for res (created, not started, on first use). */
k1s_informer_t *k1s_informer_factory_get(k1s_informer_factory_t *f, const k1s_gvr_t *res);
/*
 * Stops and frees inf, one of the factory's informers, for a resource that went away (a
 * deleted CustomResourceDefinition's): no handler hears from it again, and the next
 * k1s_informer_factory_get for its resource creates a new one. Every user of inf must be
 * done with it; not to be called from inf's own handlers. Does nothing if f does not hold inf.
 */
void k1s_informer_factory_remove(k1s_informer_factory_t *f, k1s_informer_t *inf);
/* Starts every informer not yet started. */
void k1s_informer_factory_start(k1s_informer_factory_t *f);
/* True once every informer has synced. */
bool k1s_informer_factory_synced(const k1s_informer_factory_t *f);

/* ---- one informer ---- */

/* An informer for res (strings copied) over client, for namespace ns (NULL: all). */
k1s_informer_t *k1s_informer_new(k1s_client_t *client, const k1s_gvr_t *res, const char *ns);
void k1s_informer_free(k1s_informer_t *inf);
/* Adds handlers; added after sync, they get on_add for every cached object first. */
void k1s_informer_add_handlers(k1s_informer_t *inf, const k1s_informer_handlers_t *h);
/* Adds an index named name (copied); existing objects are indexed. Returns 0 or -EEXIST. */
int k1s_informer_add_indexer(k1s_informer_t *inf, const char *name, k1s_index_fn fn);
/* Trims every object before it is cached (after managedFields are dropped): for a component
 * that reads few fields of many objects (kube-scheduler's pods). Set before starting; it must
 * keep metadata (namespace, name, resourceVersion) and whatever indexers read. */
typedef void (*k1s_informer_transform_fn)(json_t *obj);
void k1s_informer_set_transform(k1s_informer_t *inf, k1s_informer_transform_fn fn);
/* Lists and watches only objects matching a field selector ("spec.nodeName=n1", as the
 * kubelet watches its pods). Set before starting; not for informers from a factory. */
void k1s_informer_set_field_selector(k1s_informer_t *inf, const char *selector);
/* Starts listing and watching. */
void k1s_informer_start(k1s_informer_t *inf);
bool k1s_informer_has_synced(const k1s_informer_t *inf);
/* The cached object ns/name (ns NULL or "" for cluster-scoped), borrowed; NULL if absent. */
json_t *k1s_informer_get(const k1s_informer_t *inf, const char *ns, const char *name);
/* Number of cached objects. */
size_t k1s_informer_len(const k1s_informer_t *inf);
/*
 * The objects whose index `index` holds value, as a new array of borrowed
 * pointers in *out (free() it); returns the count, or -ENOENT for an
 * unknown index.
 */
int k1s_informer_by_index(const k1s_informer_t *inf, const char *index, const char *value,
                          json_t ***out);
/* Every cached object, as above. */
size_t k1s_informer_list(const k1s_informer_t *inf, json_t ***out);
/* The last resourceVersion seen. */
const char *k1s_informer_resource_version(const k1s_informer_t *inf);
/* How many times the informer has listed (1 after the first sync). */
int k1s_informer_lists(const k1s_informer_t *inf);
/*
 * Drops the watch as a broken connection would, and resumes it after
 * delay_ms from the last resourceVersion seen (called again while the
 * watch is away, the new delay replaces the old). For tests of resuming.
 */
void k1s_informer_break_watch(k1s_informer_t *inf, unsigned delay_ms);

#endif
