/*
 * Server-side apply's typed operations (see apply.h): walking an object with
 * its schema to list, compare, merge and remove fields. The walk follows
 * structured-merge-diff (sigs.k8s.io/structured-merge-diff/v4/typed) so that
 * managedFields read as they do on a Kubernetes API server.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apply.h"
#include "api/fieldset.h"
#include "api/openapi.h"
#include "lib/util.h"

/* ---------- schema ---------- */

/* A position in the schema: the field's own schema (which carries the list
 * and map extensions) and the type it refers to. Both NULL: deduced. */
typedef struct tref {
    const json_t *field;
    const json_t *type;
} tref_t;

enum { K_LEAF, K_STRUCT, K_MAP, K_LIST_ATOMIC, K_LIST_SET, K_LIST_MAP };

static tref_t tref_of(const json_t *field)
{
    tref_t t = {field, field ? k1s_openapi_deref(field) : NULL};
    if (!t.type)
        t.field = NULL;
    return t;
}

static const char *ext_str(const tref_t *t, const char *name)
{
    const char *v = t->field ? json_string_value(json_object_get(t->field, name)) : NULL;
    if (!v && t->type)
        v = json_string_value(json_object_get(t->type, name));
    return v;
}

static const json_t *ext(const tref_t *t, const char *name)
{
    const json_t *v = t->field ? json_object_get(t->field, name) : NULL;
    if (!v && t->type)
        v = json_object_get(t->type, name);
    return v;
}

/* Built-in structs that Kubernetes marks +structType=atomic or +mapType=atomic. */
static const char *const atomic_names[] = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.TypedObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.ConfigMapEnvSource",
    "io.k8s.api.core.v1.SecretEnvSource",
};
static const json_t *atomic_types[K1S_ARRAY_SIZE(atomic_names)];
static pthread_once_t atomic_once = PTHREAD_ONCE_INIT;

static void resolve_atomic_types(void)
{
    for (size_t i = 0; i < K1S_ARRAY_SIZE(atomic_names); i++)
        atomic_types[i] = k1s_openapi_schema(atomic_names[i]);
}

static bool atomic_type(const json_t *type)
{
    /* resolved once: every node of every write asks */
    pthread_once(&atomic_once, resolve_atomic_types);
    for (size_t i = 0; i < K1S_ARRAY_SIZE(atomic_types); i++)
        if (type == atomic_types[i])
            return true;
    return false;
}

/* What kind of node v is at t. */
static int kind_of(const json_t *v, const tref_t *t)
{
    if (json_is_object(v)) {
        if (t->type) {
            const char *mt = ext_str(t, "x-kubernetes-map-type");
            if ((mt && !strcmp(mt, "atomic")) || atomic_type(t->type))
                return K_LEAF;
            if (json_object_get(t->type, "properties"))
                return K_STRUCT;
        }
        return K_MAP;
    }
    if (json_is_array(v)) {
        if (!t->type)
            return K_LIST_ATOMIC;
        const char *lt = ext_str(t, "x-kubernetes-list-type");
        if (lt) {
            if (!strcmp(lt, "map"))
                return K_LIST_MAP;
            if (!strcmp(lt, "set"))
                return K_LIST_SET;
            return K_LIST_ATOMIC;
        }
        const char *ps = ext_str(t, "x-kubernetes-patch-strategy");
        if (ps && strstr(ps, "merge")) {
            const char *mk = ext_str(t, "x-kubernetes-patch-merge-key");
            return mk && *mk ? K_LIST_MAP : K_LIST_SET;
        }
        return K_LIST_ATOMIC;
    }
    return K_LEAF;
}

/* The schema of field key of a struct or map at t; *declared tells a struct's own field. */
static tref_t field_of(const tref_t *t, const char *key, bool *declared)
{
    tref_t none = {NULL, NULL};
    if (declared)
        *declared = false;
    if (!t->type)
        return none;
    const json_t *props = json_object_get(t->type, "properties");
    const json_t *p = json_is_object(props) ? json_object_get(props, key) : NULL;
    if (p) {
        if (declared)
            *declared = true;
        return tref_of(p);
    }
    const json_t *ap = json_object_get(t->type, "additionalProperties");
    if (json_is_object(ap))
        return tref_of(ap);
    return none;
}

static tref_t items_of(const tref_t *t)
{
    tref_t none = {NULL, NULL};
    const json_t *it = t->type ? json_object_get(t->type, "items") : NULL;
    return it ? tref_of(it) : none;
}

/* The path element of item i of a granular list (new string). */
static char *item_pe(const json_t *item, size_t i, int kind, const tref_t *list)
{
    if (kind == K_LIST_SET)
        return k1s_fset_pe_value(item);
    if (kind == K_LIST_MAP && json_is_object(item)) {
        json_t *keyf = json_object();
        const json_t *keys = ext(list, "x-kubernetes-list-map-keys");
        const char *mk = ext_str(list, "x-kubernetes-patch-merge-key");
        tref_t it = items_of(list);
        size_t n = json_is_array(keys) ? json_array_size(keys) : (mk ? 1 : 0);
        for (size_t k = 0; k < n; k++) {
            const char *name =
                json_is_array(keys) ? json_string_value(json_array_get(keys, k)) : mk;
            if (!name)
                continue;
            const json_t *v = json_object_get(item, name);
            if (!v) {
                /* a key field left out takes its default, as the typed decoding fills it in */
                tref_t f = field_of(&it, name, NULL);
                v = f.field ? json_object_get(f.field, "default") : NULL;
                if (!v && !strcmp(name, "protocol")) {
                    json_object_set_new(keyf, name, json_string("TCP"));
                    continue;
                }
            }
            if (v)
                json_object_set(keyf, name, (json_t *)v);
        }
        if (json_object_size(keyf)) {
            char *pe = k1s_fset_pe_key(keyf);
            json_decref(keyf);
            return pe;
        }
        json_decref(keyf);
    }
    return k1s_xasprintf("i:%zu", i);
}

/* ---------- paths ---------- */

typedef struct path {
    char **v;
    size_t n, cap;
} path_t;

/* "f:<name>" (new string); hot enough that printf shows in profiles */
static char *pe_field(const char *name)
{
    size_t n = strlen(name);
    char *s = k1s_xmalloc(n + 3);
    s[0] = 'f';
    s[1] = ':';
    memcpy(s + 2, name, n + 1);
    return s;
}

static void push(path_t *p, char *pe)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = k1s_xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n++] = pe;
}

static void pop(path_t *p)
{
    free(p->v[--p->n]);
}

static void insert(json_t *set, const path_t *p)
{
    if (p->n)
        k1s_fset_insert(set, (const char *const *)p->v, p->n);
}

/* Indexes a granular list: parallel arrays of path elements and items (first of duplicates). */
typedef struct index {
    char **pe;
    const json_t **item;
    size_t n;
} index_t;

static void index_list(const json_t *list, int kind, const tref_t *t, index_t *ix)
{
    size_t n = json_array_size(list);
    ix->pe = k1s_xcalloc(n + 1, sizeof(char *));
    ix->item = k1s_xcalloc(n + 1, sizeof(json_t *));
    ix->n = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(list, i);
        char *pe = item_pe(item, i, kind, t);
        bool dup = false;
        for (size_t j = 0; j < ix->n && !dup; j++)
            dup = !strcmp(ix->pe[j], pe);
        if (dup) {
            free(pe);
            continue;
        }
        ix->pe[ix->n] = pe;
        ix->item[ix->n++] = item;
    }
}

static void index_free(index_t *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        free(ix->pe[i]);
    free(ix->pe);
    free(ix->item);
}

static long index_find(const index_t *ix, const char *pe)
{
    for (size_t i = 0; i < ix->n; i++)
        if (!strcmp(ix->pe[i], pe))
            return (long)i;
    return -1;
}

/* ---------- field sets ---------- */

static void to_fset(const json_t *v, const tref_t *t, path_t *p, json_t *set)
{
    int kind = kind_of(v, t);
    if (kind == K_LEAF || kind == K_LIST_ATOMIC) {
        insert(set, p);
        return;
    }
    if (kind == K_STRUCT || kind == K_MAP) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            bool declared;
            tref_t ct = field_of(t, k, &declared);
            push(p, pe_field(k));
            to_fset(c, &ct, p, set);
            if (json_is_null(c) || (json_is_object(c) && json_object_size(c) == 0) || !declared)
                insert(set, p);
            pop(p);
        }
        return;
    }
    tref_t it = items_of(t);
    index_t ix;
    index_list(v, kind, t, &ix);
    for (size_t i = 0; i < ix.n; i++) {
        push(p, k1s_xstrdup(ix.pe[i]));
        to_fset(ix.item[i], &it, p, set);
        insert(set, p);
        pop(p);
    }
    index_free(&ix);
}

json_t *k1s_apply_fieldset(const json_t *obj, const json_t *schema)
{
    json_t *set = k1s_fset_new();
    tref_t t = tref_of(schema);
    path_t p = {0};
    if (obj)
        to_fset(obj, &t, &p, set);
    free(p.v);
    return set;
}

/* ---------- compare ---------- */

/*
 * Whether a new granular container counts as added itself. Kubernetes
 * compares against its Go objects, where a struct held by value (metadata,
 * spec, a pod template...) always exists, even empty, while maps, list items
 * and structs held by pointer (rollingUpdate, probes, affinity...) appear
 * when set. The schemas do not say which structs are values; these field
 * names are the value structs of the built-in types.
 */
static bool added_as_node(int kind, const char *pe)
{
    static const char *const value_structs[] = {
        "f:metadata",     "f:spec",           "f:status",          "f:template",
        "f:strategy",     "f:updateStrategy", "f:resources",       "f:jobTemplate",
        "f:loadBalancer", "f:nodeInfo",       "f:daemonEndpoints", "f:kubeletEndpoint",
        "f:roleRef",      "f:target"};
    if (kind == K_MAP || pe[0] == 'k' || pe[0] == 'v' || pe[0] == 'i')
        return true;
    if (kind != K_STRUCT)
        return false;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(value_structs); i++)
        if (!strcmp(pe, value_structs[i]))
            return false;
    return true;
}

typedef struct cmp {
    json_t *added, *modified, *removed;
} cmp_t;

static bool empty_container(const json_t *v)
{
    return !v || (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

static void compare(const json_t *l, const json_t *r, const tref_t *t, path_t *p, cmp_t *c)
{
    int lk = l ? kind_of(l, t) : -1, rk = r ? kind_of(r, t) : -1;
    int kind = r ? rk : lk;
    bool leaf = kind == K_LEAF || kind == K_LIST_ATOMIC || (l && r && lk != rk) ||
                (empty_container(l) && empty_container(r));
    if (leaf) {
        if (!l)
            insert(c->added, p);
        else if (!r)
            insert(c->removed, p);
        else if (!json_equal((json_t *)l, (json_t *)r))
            insert(c->modified, p);
        return;
    }
    if (kind == K_STRUCT || kind == K_MAP) {
        const char *k;
        json_t *v;
        if (l)
            json_object_foreach((json_t *)l, k, v)
            {
                tref_t ct = field_of(t, k, NULL);
                push(p, pe_field(k));
                compare(v, r ? json_object_get(r, k) : NULL, &ct, p, c);
                pop(p);
            }
        if (r)
            json_object_foreach((json_t *)r, k, v)
            {
                if (l && json_object_get(l, k))
                    continue;
                tref_t ct = field_of(t, k, NULL);
                push(p, pe_field(k));
                compare(NULL, v, &ct, p, c);
                pop(p);
            }
    } else {
        tref_t it = items_of(t);
        index_t li = {0}, ri = {0};
        if (l)
            index_list(l, kind, t, &li);
        if (r)
            index_list(r, kind, t, &ri);
        for (size_t i = 0; i < li.n; i++) {
            long j = index_find(&ri, li.pe[i]);
            push(p, k1s_xstrdup(li.pe[i]));
            compare(li.item[i], j >= 0 ? ri.item[j] : NULL, &it, p, c);
            pop(p);
        }
        for (size_t j = 0; j < ri.n; j++) {
            if (index_find(&li, ri.pe[j]) >= 0)
                continue;
            push(p, k1s_xstrdup(ri.pe[j]));
            compare(NULL, ri.item[j], &it, p, c);
            pop(p);
        }
        index_free(&li);
        index_free(&ri);
    }
    /* the container itself: added (".") when it is new, removed when it goes */
    if (!l && p->n && added_as_node(kind, p->v[p->n - 1]))
        insert(c->added, p);
    else if (!r)
        insert(c->removed, p);
}

void k1s_apply_compare(const json_t *lhs, const json_t *rhs, const json_t *schema, json_t *added,
                       json_t *modified, json_t *removed)
{
    if (!lhs && !rhs)
        return;
    tref_t t = tref_of(schema);
    path_t p = {0};
    cmp_t c = {added, modified, removed};
    compare(lhs, rhs, &t, &p, &c);
    free(p.v);
}

/* ---------- merge ---------- */

static json_t *merge(const json_t *l, const json_t *r, const tref_t *t)
{
    if (!r)
        return json_deep_copy(l);
    if (!l)
        return json_deep_copy(r);
    int lk = kind_of(l, t), rk = kind_of(r, t);
    if (lk != rk || rk == K_LEAF || rk == K_LIST_ATOMIC)
        return json_deep_copy(r);
    if (rk == K_STRUCT || rk == K_MAP) {
        json_t *out = json_deep_copy(l);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)r, k, v)
        {
            tref_t ct = field_of(t, k, NULL);
            json_object_set_new(out, k, merge(json_object_get(l, k), v, &ct));
        }
        return out;
    }
    /* granular list: the applied items in their order, the live-only items where they were */
    tref_t it = items_of(t);
    index_t li, ri;
    index_list(l, rk, t, &li);
    index_list(r, rk, t, &ri);
    json_t *out = json_array();
    bool *done = k1s_xcalloc(ri.n + 1, sizeof(bool));
    size_t next = 0;
    for (size_t i = 0; i < li.n; i++) {
        long j = index_find(&ri, li.pe[i]);
        if (j < 0) {
            json_array_append_new(out, json_deep_copy(li.item[i]));
            continue;
        }
        for (; next <= (size_t)j; next++) {
            if (done[next])
                continue;
            long lj = index_find(&li, ri.pe[next]);
            json_array_append_new(out, merge(lj >= 0 ? li.item[lj] : NULL, ri.item[next], &it));
            done[next] = true;
        }
    }
    for (; next < ri.n; next++) {
        if (done[next])
            continue;
        long lj = index_find(&li, ri.pe[next]);
        json_array_append_new(out, merge(lj >= 0 ? li.item[lj] : NULL, ri.item[next], &it));
    }
    free(done);
    index_free(&li);
    index_free(&ri);
    return out;
}

json_t *k1s_apply_merge(const json_t *live, const json_t *cfg, const json_t *schema)
{
    tref_t t = tref_of(schema);
    return merge(live, cfg, &t);
}

/* ---------- prune ---------- */

static void prune(json_t *v, const json_t *rm, const json_t *keep, const tref_t *t)
{
    int kind = kind_of(v, t);
    if (kind == K_LEAF || kind == K_LIST_ATOMIC)
        return;
    const char *pe;
    json_t *rc;
    json_object_foreach((json_t *)rm, pe, rc)
    {
        if (!strcmp(pe, "."))
            continue;
        const json_t *kc = keep ? json_object_get(keep, pe) : NULL;
        bool member = json_object_get(rc, ".") != NULL;
        if (kind == K_STRUCT || kind == K_MAP) {
            if (strncmp(pe, "f:", 2))
                continue;
            const char *name = pe + 2;
            json_t *c = json_object_get(v, name);
            if (!c)
                continue;
            if (member && !kc) {
                json_object_del(v, name);
                continue;
            }
            tref_t ct = field_of(t, name, NULL);
            bool was_empty = empty_container(c);
            prune(c, rc, kc, &ct);
            if (!was_empty && empty_container(c) && !kc && (json_is_object(c) || json_is_array(c)))
                json_object_del(v, name);
            continue;
        }
        tref_t it = items_of(t);
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *item = json_array_get(v, i);
            char *ipe = item_pe(item, i, kind, t);
            bool match = !strcmp(ipe, pe);
            free(ipe);
            if (!match)
                continue;
            if (member && !kc) {
                json_array_remove(v, i);
                break;
            }
            /* an item that stays keeps its key fields */
            json_t *keys = kind == K_LIST_MAP ? json_deep_copy(item) : NULL;
            prune(item, rc, kc, &it);
            if (keys && json_is_object(item)) {
                const json_t *names = ext(t, "x-kubernetes-list-map-keys");
                const char *mk = ext_str(t, "x-kubernetes-patch-merge-key");
                size_t nk = json_is_array(names) ? json_array_size(names) : (mk ? 1 : 0);
                for (size_t k = 0; k < nk; k++) {
                    const char *name =
                        json_is_array(names) ? json_string_value(json_array_get(names, k)) : mk;
                    json_t *kv = name ? json_object_get(keys, name) : NULL;
                    if (kv && !json_object_get(item, name))
                        json_object_set(item, name, kv);
                }
            }
            json_decref(keys);
            break;
        }
    }
}

void k1s_apply_prune(json_t *obj, const json_t *rm, const json_t *keep, const json_t *schema)
{
    if (!obj || !rm)
        return;
    tref_t t = tref_of(schema);
    prune(obj, rm, keep, &t);
}
