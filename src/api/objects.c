/*
 * Object helpers for the API server: store keys, the selector fields kept
 * next to each stored value, and encoding/decoding of stored JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/crd.h"
#include "api/selector.h"
#include "lib/jsonheap.h"
#include "lib/log.h"

char *k1s_obj_key(const k1s_resource_t *r, const char *ns, const char *name)
{
    if (r->namespaced)
        return k1s_xasprintf("/%s/%s/%s", r->storage_name, ns ? ns : "", name);
    return k1s_xasprintf("/%s/%s", r->storage_name, name);
}

char *k1s_obj_prefix(const k1s_resource_t *r, const char *ns)
{
    if (r->namespaced && ns && *ns)
        return k1s_xasprintf("/%s/%s/", r->storage_name, ns);
    return k1s_xasprintf("/%s/", r->storage_name);
}

const char *k1s_obj_str(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    for (const char *p = path; cur;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        cur = json_is_object(cur) ? json_object_getn(cur, p, n) : NULL;
        if (!dot)
            break;
        p = dot + 1;
    }
    return json_is_string(cur) ? json_string_value(cur) : NULL;
}

/* A selector field's value as a new string ("" when absent), as field selectors compare it. */
static char *field_value(const json_t *obj, const char *path)
{
    char buf[64];
    const char *v = k1s_json_field_string(obj, path, buf, sizeof(buf));
    return k1s_xstrdup(v ? v : "");
}

json_t *k1s_obj_meta(json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, "metadata", m);
    }
    return m;
}

/* The resource whose shape is stored (the first registered with that storage name). */
static const k1s_resource_t *storage_resource(const k1s_resource_t *r)
{
    size_t n;
    const k1s_resource_t *const *all = k1s_registry_all(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(all[i]->storage_name, r->storage_name))
            return all[i];
    return r;
}

k1s_obj_aux_t *k1s_obj_aux_new(const k1s_resource_t *r, const json_t *obj)
{
    r = storage_resource(r);
    k1s_obj_aux_t *a = k1s_xcalloc(1, sizeof(*a));
    a->res = r;
    const char *ns = k1s_obj_str(obj, "metadata.namespace");
    const char *name = k1s_obj_str(obj, "metadata.name");
    a->ns = k1s_xstrdup(ns ? ns : "");
    a->name = k1s_xstrdup(name ? name : "");
    json_t *meta = json_object_get(obj, "metadata");
    json_t *labels = meta ? json_object_get(meta, "labels") : NULL;
    if (json_is_object(labels) && json_object_size(labels) > 0)
        a->labels = json_deep_copy(labels);
    for (int i = 0; i < 8 && r->field_selectors[i]; i++)
        a->fields[i] = field_value(obj, r->field_selectors[i]);
    return a;
}

void k1s_obj_aux_free(k1s_obj_aux_t *a)
{
    if (!a)
        return;
    free(a->ns);
    free(a->name);
    json_decref(a->labels);
    for (int i = 0; i < 8; i++)
        free(a->fields[i]);
    free(a);
}

k1s_bytes_t *k1s_obj_encode(const json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s) /* only on allocation failure: abort like k1s_xmalloc */
        abort();
    size_t n = strlen(s);
    k1s_bytes_t *b = k1s_xmalloc(sizeof(*b) + n + 1);
    b->refs = 1;
    b->len = n;
    b->chunk = NULL;
    memcpy(b->data, s, n + 1);
    free(s);
    return b;
}

json_t *k1s_obj_decode(const k1s_bytes_t *b)
{
    json_error_t e;
    k1s_json_heap_enter(); /* decoded to be changed or converted, then dropped */
    json_t *o = json_loadb(b->data, b->len, 0, &e);
    k1s_json_heap_leave();
    if (!o) {
        k1s_error("store holds unparseable JSON: %s", e.text);
        o = json_object();
    }
    return o;
}

static const k1s_resource_t *resource_for_key(const char *key)
{
    /* "/<storage>/..." */
    const char *p = key + 1;
    const char *slash = strchr(p, '/');
    if (!slash)
        return NULL;
    size_t n = (size_t)(slash - p);
    size_t count;
    const k1s_resource_t *const *all = k1s_registry_all(&count);
    for (size_t i = 0; i < count; i++)
        if (strlen(all[i]->storage_name) == n && memcmp(all[i]->storage_name, p, n) == 0)
            return all[i];
    return NULL;
}

/*
 * Loading the store at start builds the selector fields of every object.
 * Parsing whole objects made that the bulk of the start-up time, so this
 * small scanner finds just the members needed (metadata.name, namespace,
 * labels and the per-type selector fields) in the stored JSON and parses
 * only those values. It falls back to a full parse on anything unexpected.
 */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* p at '"'; returns the position after the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

static const char *skip_value(const char *p, const char *end, int depth)
{
    p = skip_ws(p, end);
    if (p >= end || depth > 128)
        return NULL;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = skip_ws(p + 1, end);
        if (p < end && *p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                if (p >= end || *p != '"' || !(p = skip_string(p, end)))
                    return NULL;
                p = skip_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p++;
            }
            if (!(p = skip_value(p, end, depth + 1)))
                return NULL;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                continue;
            }
            return p < end && *p == close ? p + 1 : NULL;
        }
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
        p++;
    return p;
}

/* In the object at [p, end), finds member key: 1 with its value in [*vs, *ve), 0 if absent,
 * -1 if the JSON is not what we expect. */
static int find_member(const char *p, const char *end, const char *key, const char **vs,
                       const char **ve)
{
    size_t klen = strlen(key);
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return 0;
    for (;;) {
        if (p >= end || *p != '"')
            return -1;
        const char *ks = p + 1;
        if (!(p = skip_string(p, end)))
            return -1;
        bool match = (size_t)(p - 1 - ks) == klen && memcmp(ks, key, klen) == 0;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return -1;
        const char *v = skip_ws(p + 1, end);
        if (!(p = skip_value(v, end, 0)))
            return -1;
        if (match) {
            *vs = v;
            *ve = p;
            return 1;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        return p < end && *p == '}' ? 0 : -1;
    }
}

/* Copies the value at dotted path from the stored JSON into small (same path). */
static int scan_path(const char *data, const char *end, const char *path, json_t *small)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const char *s = data, *e = end;
    json_t *dst = small;
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
        const char *vs, *ve;
        int r = find_member(s, e, part, &vs, &ve);
        if (r <= 0)
            return r;
        bool last = save == NULL || *save == 0;
        if (last) {
            json_t *v = json_loadb(vs, (size_t)(ve - vs), JSON_DECODE_ANY, NULL);
            if (!v)
                return -1;
            json_object_set_new(dst, part, v);
            return 1;
        }
        json_t *next = json_object_get(dst, part);
        if (!next) {
            next = json_object();
            json_object_set_new(dst, part, next);
        }
        dst = next;
        s = vs;
        e = ve;
    }
    return 0;
}

static void *make_aux(const char *key, const k1s_bytes_t *value, void *arg)
{
    const k1s_resource_t *r = resource_for_key(key);
    if (!r) {
        /* a custom resource whose CRD is served again once the store is loaded */
        char storage[256];
        const char *slash = strchr(key + 1, '/');
        size_t n = slash ? (size_t)(slash - key - 1) : 0;
        if (n == 0 || n >= sizeof(storage))
            return NULL;
        memcpy(storage, key + 1, n);
        storage[n] = 0;
        r = k1s_crd_storage_placeholder(storage);
    }
    if (!r)
        return NULL;
    r = storage_resource(r);
    const char *end = value->data + value->len;
    json_t *small = json_object();
    static const char *const meta_paths[] = {"metadata.name", "metadata.namespace",
                                             "metadata.labels"};
    bool ok = true;
    for (size_t i = 0; ok && i < K1S_ARRAY_SIZE(meta_paths); i++)
        ok = scan_path(value->data, end, meta_paths[i], small) >= 0;
    for (int i = 0; ok && i < 8 && r->field_selectors[i]; i++)
        ok = scan_path(value->data, end, r->field_selectors[i], small) >= 0;
    if (!ok) {
        json_decref(small);
        small = k1s_obj_decode(value);
    }
    k1s_obj_aux_t *a = k1s_obj_aux_new(r, small);
    json_decref(small);
    return a;
}

static void free_aux(void *aux, void *arg)
{
    k1s_obj_aux_free(aux);
}

const k1s_store_hooks_t k1s_apiserver_store_hooks = {make_aux, free_aux, NULL};

bool k1s_resource_tracks_generation(const k1s_resource_t *r)
{
    static const char *const with_generation[] = {"deployments",
                                                  "replicasets",
                                                  "statefulsets",
                                                  "daemonsets",
                                                  "jobs",
                                                  "cronjobs",
                                                  "ingresses",
                                                  "networkpolicies",
                                                  "poddisruptionbudgets",
                                                  "horizontalpodautoscalers",
                                                  "controllerrevisions",
                                                  "priorityclasses",
                                                  "ingressclasses",
                                                  "storageclasses",
                                                  "customresourcedefinitions",
                                                  NULL};
    if (r->crd) /* custom resources always count generations */
        return true;
    for (int i = 0; with_generation[i]; i++)
        if (!strcmp(r->plural, with_generation[i]))
            return true;
    return false;
}

void k1s_resource_qualified(const k1s_resource_t *r, char *buf, size_t len)
{
    if (r->group[0])
        snprintf(buf, len, "%s.%s", r->plural, r->group);
    else
        snprintf(buf, len, "%s", r->plural);
}

void k1s_resource_kind_group(const k1s_resource_t *r, char *buf, size_t len)
{
    if (r->group[0])
        snprintf(buf, len, "%s.%s", r->kind, r->group);
    else
        snprintf(buf, len, "%s", r->kind);
}

json_t *k1s_obj_scale_meta(const json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    json_t *sm = json_object();
    static const char *const fields[] = {
        "name", "namespace", "uid", "resourceVersion", "creationTimestamp", NULL};
    for (int i = 0; fields[i]; i++) {
        json_t *v = meta ? json_object_get(meta, fields[i]) : NULL;
        if (v)
            json_object_set(sm, fields[i], v);
    }
    return sm;
}
