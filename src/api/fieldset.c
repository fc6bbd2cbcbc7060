/*
 * Field sets and their FieldsV1 encoding (see fieldset.h): the bookkeeping
 * under server-side apply's managedFields. The tree is a jansson object per
 * node, which keeps the code small and makes sets easy to compare and dump.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/fieldset.h"
#include "lib/util.h"

#define MEMBER "."

json_t *k1s_fset_new(void)
{
    return json_object();
}

char *k1s_fset_pe_key(const json_t *keyfields)
{
    char *s = json_dumps(keyfields, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        abort();
    char *out = k1s_xasprintf("k:%s", s);
    free(s);
    return out;
}

char *k1s_fset_pe_value(const json_t *value)
{
    char *s = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!s)
        abort();
    char *out = k1s_xasprintf("v:%s", s);
    free(s);
    return out;
}

/* The canonical spelling of a path element from FieldsV1, or NULL if it is not one. */
static char *canonical_pe(const char *k, k1s_err_t *err)
{
    if (k1s_str_has_prefix(k, "f:"))
        return k1s_xstrdup(k);
    if (k1s_str_has_prefix(k, "i:")) {
        char *end;
        long n = strtol(k + 2, &end, 10);
        if (!k[2] || *end || n < 0) {
            k1s_err_set(err, EINVAL, "invalid index path element %s", k);
            return NULL;
        }
        return k1s_xasprintf("i:%ld", n);
    }
    if (k1s_str_has_prefix(k, "k:") || k1s_str_has_prefix(k, "v:")) {
        json_error_t je;
        json_t *v = json_loads(k + 2, JSON_DECODE_ANY, &je);
        if (!v || (k[0] == 'k' && !json_is_object(v))) {
            json_decref(v);
            k1s_err_set(err, EINVAL, "invalid path element %s: %s", k,
                        v ? "not an object" : je.text);
            return NULL;
        }
        char *out = k[0] == 'k' ? k1s_fset_pe_key(v) : k1s_fset_pe_value(v);
        json_decref(v);
        return out;
    }
    k1s_err_set(err, EINVAL, "unknown path element %s", k);
    return NULL;
}

static void prune_empty(json_t *node)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(node, tmp, k, v)
    {
        if (!strcmp(k, MEMBER))
            continue;
        prune_empty(v);
        if (json_object_size(v) == 0)
            json_object_del(node, k);
    }
}

static int from_v1(const json_t *v1, json_t *out, k1s_err_t *err)
{
    if (!json_is_object(v1))
        return k1s_err_set(err, EINVAL, "FieldsV1 nodes must be objects");
    if (json_object_size(v1) == 0) {
        json_object_set_new(out, MEMBER, json_object());
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)v1, k, v)
    {
        if (!strcmp(k, MEMBER)) {
            json_object_set_new(out, MEMBER, json_object());
            continue;
        }
        char *pe = canonical_pe(k, err);
        if (!pe)
            return -EINVAL;
        json_t *child = json_object_get(out, pe);
        if (!child) {
            child = json_object();
            json_object_set_new(out, pe, child);
        }
        free(pe);
        if (from_v1(v, child, err) < 0)
            return -EINVAL;
    }
    return 0;
}

int k1s_fset_from_v1(const json_t *v1, json_t **out, k1s_err_t *err)
{
    json_t *set = json_object();
    if (!json_is_object(v1) || json_object_size(v1) == 0) {
        /* the top of FieldsV1 is never a member by itself */
        if (!json_is_object(v1)) {
            json_decref(set);
            return k1s_err_set(err, EINVAL, "fieldsV1 must be an object");
        }
        *out = set;
        return 0;
    }
    if (from_v1(v1, set, err) < 0) {
        json_decref(set);
        return -EINVAL;
    }
    prune_empty(set);
    *out = set;
    return 0;
}

static int pe_rank(const char *k)
{
    switch (k[0]) {
    case '.': return 0;
    case 'f': return 1;
    case 'k': return 2;
    case 'v': return 3;
    default: return 4;
    }
}

static int cmp_pe(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int rx = pe_rank(x), ry = pe_rank(y);
    if (rx != ry)
        return rx - ry;
    if (rx == 4)
        return atol(x + 2) < atol(y + 2) ? -1 : atol(x + 2) > atol(y + 2);
    return strcmp(x, y);
}

/* The keys of node in FieldsV1 order (a new array of borrowed strings). */
static const char **sorted_keys(const json_t *node, size_t *n)
{
    *n = json_object_size(node);
    const char **keys = k1s_xmalloc((*n + 1) * sizeof(*keys));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)node, k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, *n, sizeof(*keys), cmp_pe);
    return keys;
}

static json_t *to_v1(const json_t *node)
{
    json_t *out = json_object();
    if (json_object_size(node) == 1 && json_object_get(node, MEMBER))
        return out;
    size_t n;
    const char **keys = sorted_keys(node, &n);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(keys[i], MEMBER))
            json_object_set_new(out, MEMBER, json_object());
        else
            json_object_set_new(out, keys[i], to_v1(json_object_get(node, keys[i])));
    }
    free(keys);
    return out;
}

json_t *k1s_fset_to_v1(const json_t *set)
{
    if (!set || json_object_size(set) == 0)
        return json_object();
    return to_v1(set);
}

static void union_into(json_t *a, const json_t *b)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b, k, v)
    {
        json_t *c = json_object_get(a, k);
        if (!c) {
            json_object_set_new(a, k, json_deep_copy(v));
            continue;
        }
        union_into(c, v);
    }
}

void k1s_fset_add(json_t *a, const json_t *b)
{
    if (b)
        union_into(a, b);
}

json_t *k1s_fset_union(const json_t *a, const json_t *b)
{
    json_t *out = a ? json_deep_copy(a) : json_object();
    if (b)
        union_into(out, b);
    return out;
}

static void diff_into(json_t *a, const json_t *b)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(a, tmp, k, v)
    {
        json_t *bc = json_object_get(b, k);
        if (!bc)
            continue;
        if (!strcmp(k, MEMBER)) {
            json_object_del(a, k);
            continue;
        }
        diff_into(v, bc);
        if (json_object_size(v) == 0)
            json_object_del(a, k);
    }
}

json_t *k1s_fset_difference(const json_t *a, const json_t *b)
{
    json_t *out = a ? json_deep_copy(a) : json_object();
    if (b)
        diff_into(out, b);
    return out;
}

static json_t *intersect(const json_t *a, const json_t *b)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        json_t *bc = json_object_get(b, k);
        if (!bc)
            continue;
        if (!strcmp(k, MEMBER)) {
            json_object_set_new(out, MEMBER, json_object());
            continue;
        }
        json_t *c = intersect(v, bc);
        if (json_object_size(c))
            json_object_set_new(out, k, c);
        else
            json_decref(c);
    }
    return out;
}

json_t *k1s_fset_intersection(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return json_object();
    return intersect(a, b);
}

bool k1s_fset_empty(const json_t *set)
{
    /* pruned trees have a member at every leaf */
    return !set || json_object_size(set) == 0;
}

void k1s_fset_insert(json_t *set, const char *const *path, size_t n)
{
    json_t *node = set;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_object_get(node, path[i]);
        if (!c) {
            c = json_object();
            json_object_set_new(node, path[i], c);
        }
        node = c;
    }
    if (n > 0)
        json_object_set_new(node, MEMBER, json_object());
}

bool k1s_fset_has(const json_t *set, const char *const *path, size_t n)
{
    const json_t *node = set;
    for (size_t i = 0; i < n && node; i++)
        node = json_object_get(node, path[i]);
    return node && n > 0 && json_object_get(node, MEMBER);
}

/* Appends a scalar as Go's value.ToString writes it: strings quoted. */
static void put_scalar(k1s_buf_t *b, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    k1s_buf_puts(b, s ? s : "");
    free(s);
}

static void put_pe(k1s_buf_t *b, const char *pe)
{
    switch (pe[0]) {
    case 'f': k1s_buf_printf(b, ".%s", pe + 2); return;
    case 'i': k1s_buf_printf(b, "[%s]", pe + 2); return;
    case 'v': {
        k1s_buf_puts(b, "[=");
        json_t *v = json_loads(pe + 2, JSON_DECODE_ANY, NULL);
        put_scalar(b, v);
        json_decref(v);
        k1s_buf_putc(b, ']');
        return;
    }
    case 'k': {
        /* k: elements are canonical: their keys are already sorted */
        json_t *v = json_loads(pe + 2, JSON_DECODE_ANY, NULL);
        k1s_buf_putc(b, '[');
        const char *k;
        json_t *kv;
        bool first = true;
        if (json_is_object(v))
            json_object_foreach(v, k, kv)
            {
                if (!first)
                    k1s_buf_putc(b, ',');
                first = false;
                k1s_buf_printf(b, "%s=", k);
                put_scalar(b, kv);
            }
        json_decref(v);
        k1s_buf_putc(b, ']');
        return;
    }
    default: k1s_buf_puts(b, pe); return;
    }
}

static void foreach (const json_t *node, k1s_buf_t * path, void (*fn)(const char *, void *),
                     void *arg)
{
    size_t n;
    const char **keys = sorted_keys(node, &n);
    size_t mark = path->len;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(keys[i], MEMBER)) {
            fn(path->data ? path->data : "", arg);
            continue;
        }
        put_pe(path, keys[i]);
        foreach (json_object_get(node, keys[i]), path, fn, arg)
            ;
        path->len = mark;
        if (path->data)
            path->data[mark] = 0;
    }
    free(keys);
}

void k1s_fset_foreach(const json_t *set, void (*fn)(const char *path, void *arg), void *arg)
{
    if (!set)
        return;
    k1s_buf_t path = K1S_BUF_INIT;
    foreach (set, &path, fn, arg)
        ;
    k1s_buf_free(&path);
}
