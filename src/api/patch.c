/*
 * JSON Patch, JSON Merge Patch and strategic merge patch (see patch.h).
 *
 * Every entry point deep-copies its inputs and then works destructively on
 * the private copies, which keeps the algorithms close to the Go code they
 * mirror (evanphx/json-patch, apimachinery's strategicpatch) while leaving
 * the caller's trees untouched.
 */
#include "api/patch.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/util.h"

/* ---------- shared helpers ---------- */

/* Deep equality where 1 and 1.0 are equal, as they are after Go's JSON decoding. */
static bool jv_equal(const json_t *a, const json_t *b)
{
    if (a == b)
        return true;
    if (!a || !b)
        return false;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)a, k, klen, v)
        {
            if (!jv_equal(v, json_object_getn(b, k, klen)))
                return false;
        }
        return true;
    }
    case JSON_ARRAY: {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!jv_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    case JSON_STRING: return json_equal(a, b);
    default: return true; /* true, false, null */
    }
}

/* Compact JSON for messages, cut to a readable length; the caller frees it. */
static char *describe(const json_t *v)
{
    if (!v)
        return k1s_xstrdup("<nothing>");
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!s)
        return k1s_xstrdup("<unprintable>");
    if (strlen(s) > 200) {
        char *t = k1s_xasprintf("%.197s...", s);
        free(s);
        return t;
    }
    char *t = k1s_xstrdup(s);
    free(s);
    return t;
}

static size_t count_nodes(const json_t *v)
{
    size_t n = 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            n += count_nodes(c);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            n += count_nodes(c);
        }
    }
    return n;
}

/* ---------- RFC 6902 JSON Patch ---------- */

/* Total size of the values that "copy" operations may add in one patch. */
#define COPY_NODE_LIMIT (1u << 18)

typedef struct jptr {
    char **tok;
    size_t n;
} jptr_t;

static void jptr_free(jptr_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->tok[i]);
    free(p->tok);
    p->tok = NULL;
    p->n = 0;
}

/* Splits a JSON pointer into unescaped tokens (~1 is '/', ~0 is '~'). -1 if malformed. */
static int jptr_parse(const char *s, jptr_t *p)
{
    p->tok = NULL;
    p->n = 0;
    if (!*s)
        return 0;
    if (s[0] != '/')
        return -1;
    size_t cap = 0;
    const char *seg = s + 1;
    for (;;) {
        size_t len = strcspn(seg, "/");
        char *t = k1s_xmalloc(len + 1), *o = t;
        for (size_t i = 0; i < len; i++) {
            if (seg[i] == '~' && i + 1 < len && (seg[i + 1] == '0' || seg[i + 1] == '1')) {
                *o++ = seg[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                *o++ = seg[i];
            }
        }
        *o = 0;
        if (p->n == cap) {
            cap = cap ? cap * 2 : 8;
            p->tok = k1s_xrealloc(p->tok, cap * sizeof(*p->tok));
        }
        p->tok[p->n++] = t;
        if (!seg[len])
            break;
        seg += len + 1;
    }
    return 0;
}

/*
 * An array index token: decimal, negative counting from the end (as
 * evanphx/json-patch v4 allows), "-" for the end when adding. For add the
 * valid range is [0, size], otherwise [0, size).
 */
static bool array_index(const char *tok, size_t size, bool for_add, size_t *out)
{
    if (for_add && !strcmp(tok, "-")) {
        *out = size;
        return true;
    }
    const char *p = tok;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (!*p)
        return false;
    long long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > 1000000000000LL)
            return false;
        v = v * 10 + (*p - '0');
    }
    long long lim = (long long)size + (for_add ? 1 : 0);
    long long idx = neg ? -v : v;
    if (idx >= lim || idx < -lim)
        return false;
    if (idx < 0)
        idx += lim;
    *out = (size_t)idx;
    return true;
}

/* The value at the first n tokens of p, or NULL. Borrowed. */
static json_t *jptr_walk(json_t *root, const jptr_t *p, size_t n)
{
    json_t *cur = root;
    for (size_t i = 0; i < n && cur; i++) {
        if (json_is_object(cur)) {
            cur = json_object_get(cur, p->tok[i]);
        } else if (json_is_array(cur)) {
            size_t idx;
            cur = array_index(p->tok[i], json_array_size(cur), false, &idx)
                      ? json_array_get(cur, idx)
                      : NULL;
        } else {
            cur = NULL;
        }
    }
    return cur;
}

static int missing(k1s_err_t *err, const char *op, const char *what, const char *path)
{
    return k1s_err_set(err, EDOM,
                       "jsonpatch %s operation does not apply: doc is missing %s: \"%s\"", op, what,
                       path);
}

/* Adds val (stolen) at p. */
static int jp_add(json_t **root, const jptr_t *p, json_t *val, const char *op, const char *path,
                  k1s_err_t *err)
{
    if (p->n == 0) {
        json_decref(*root);
        *root = val;
        return 0;
    }
    json_t *parent = jptr_walk(*root, p, p->n - 1);
    const char *key = p->tok[p->n - 1];
    if (json_is_object(parent)) {
        json_object_set_new(parent, key, val);
        return 0;
    }
    if (json_is_array(parent)) {
        size_t idx;
        if (!array_index(key, json_array_size(parent), true, &idx)) {
            json_decref(val);
            return k1s_err_set(err, EDOM,
                               "jsonpatch %s operation does not apply: invalid array index in "
                               "path: \"%s\"",
                               op, path);
        }
        json_array_insert_new(parent, idx, val);
        return 0;
    }
    json_decref(val);
    return missing(err, op, "path", path);
}

/* Removes the value at p; *removed (if given) receives a new reference to it. */
static int jp_remove(json_t **root, const jptr_t *p, json_t **removed, const char *op,
                     const char *what, const char *path, k1s_err_t *err)
{
    if (p->n == 0)
        return k1s_err_set(
            err, EDOM, "jsonpatch %s operation does not apply: cannot remove the whole document",
            op);
    json_t *parent = jptr_walk(*root, p, p->n - 1);
    const char *key = p->tok[p->n - 1];
    if (json_is_object(parent)) {
        json_t *v = json_object_get(parent, key);
        if (!v)
            return missing(err, op, what, path);
        if (removed)
            *removed = json_incref(v);
        json_object_del(parent, key);
        return 0;
    }
    if (json_is_array(parent)) {
        size_t idx;
        if (!array_index(key, json_array_size(parent), false, &idx))
            return missing(err, op, what, path);
        if (removed)
            *removed = json_incref(json_array_get(parent, idx));
        json_array_remove(parent, idx);
        return 0;
    }
    return missing(err, op, what, path);
}

/* Replaces the existing value at p with val (stolen). */
static int jp_replace(json_t **root, const jptr_t *p, json_t *val, const char *path, k1s_err_t *err)
{
    if (p->n == 0) {
        json_decref(*root);
        *root = val;
        return 0;
    }
    json_t *parent = jptr_walk(*root, p, p->n - 1);
    const char *key = p->tok[p->n - 1];
    if (json_is_object(parent) && json_object_get(parent, key)) {
        json_object_set_new(parent, key, val);
        return 0;
    }
    size_t idx;
    if (json_is_array(parent) && array_index(key, json_array_size(parent), false, &idx)) {
        json_array_set_new(parent, idx, val);
        return 0;
    }
    json_decref(val);
    return missing(err, "replace", "path", path);
}

typedef enum { OP_ADD, OP_REMOVE, OP_REPLACE, OP_MOVE, OP_COPY, OP_TEST } jp_op_t;

/* Checks the shape of operation i; fills op/path/from/value (borrowed). */
static int jp_check(const json_t *o, size_t i, jp_op_t *op, const char **path, const char **from,
                    const json_t **value, k1s_err_t *err)
{
    static const char *const names[] = {"add", "remove", "replace", "move", "copy", "test"};
    if (!json_is_object(o))
        return k1s_err_set(err, EINVAL, "invalid JSON Patch: operation %zu is not an object", i);
    const char *name = json_string_value(json_object_get(o, "op"));
    if (!name)
        return k1s_err_set(err, EINVAL, "invalid JSON Patch: operation %zu has no \"op\"", i);
    size_t k = 0;
    while (k < K1S_ARRAY_SIZE(names) && strcmp(names[k], name) != 0)
        k++;
    if (k == K1S_ARRAY_SIZE(names))
        return k1s_err_set(err, EINVAL, "invalid JSON Patch: operation %zu: unknown op \"%s\"", i,
                           name);
    *op = (jp_op_t)k;
    *path = json_string_value(json_object_get(o, "path"));
    if (!*path)
        return k1s_err_set(err, EINVAL, "invalid JSON Patch: %s operation %zu has no \"path\"",
                           name, i);
    if (**path && **path != '/')
        return k1s_err_set(err, EINVAL,
                           "invalid JSON Patch: %s operation %zu: invalid path \"%s\": a JSON "
                           "pointer must be empty or start with '/'",
                           name, i, *path);
    *from = NULL;
    if (*op == OP_MOVE || *op == OP_COPY) {
        *from = json_string_value(json_object_get(o, "from"));
        if (!*from)
            return k1s_err_set(err, EINVAL, "invalid JSON Patch: %s operation %zu has no \"from\"",
                               name, i);
        if (**from && **from != '/')
            return k1s_err_set(err, EINVAL,
                               "invalid JSON Patch: %s operation %zu: invalid from path \"%s\": a "
                               "JSON pointer must be empty or start with '/'",
                               name, i, *from);
    }
    *value = json_object_get(o, "value");
    if (!*value && (*op == OP_ADD || *op == OP_REPLACE || *op == OP_TEST))
        return k1s_err_set(err, EINVAL, "invalid JSON Patch: %s operation %zu has no \"value\"",
                           name, i);
    return 0;
}

int k1s_patch_json(const json_t *doc, const json_t *ops, json_t **out, k1s_err_t *err)
{
    if (!json_is_array(ops))
        return k1s_err_set(err, EINVAL,
                           "invalid JSON Patch: the patch must be a JSON array of operations");
    size_t n = json_array_size(ops);
    if (n > K1S_PATCH_MAX_OPS)
        return k1s_err_set(err, E2BIG,
                           "The allowed maximum operations in a JSON patch is %d, got %zu",
                           K1S_PATCH_MAX_OPS, n);
    for (size_t i = 0; i < n; i++) {
        jp_op_t op;
        const char *path, *from;
        const json_t *value;
        if (jp_check(json_array_get(ops, i), i, &op, &path, &from, &value, err) < 0)
            return -EINVAL;
    }

    json_t *root = json_deep_copy(doc);
    size_t copied = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        jp_op_t op;
        const char *path, *from;
        const json_t *value;
        jp_check(json_array_get(ops, i), i, &op, &path, &from, &value, err);
        jptr_t p, f = {0};
        jptr_parse(path, &p);
        if (from)
            jptr_parse(from, &f);
        switch (op) {
        case OP_ADD: rc = jp_add(&root, &p, json_deep_copy(value), "add", path, err); break;
        case OP_REMOVE: rc = jp_remove(&root, &p, NULL, "remove", "path", path, err); break;
        case OP_REPLACE: rc = jp_replace(&root, &p, json_deep_copy(value), path, err); break;
        case OP_MOVE: {
            if (!strcmp(from, path)) {
                if (!jptr_walk(root, &f, f.n))
                    rc = missing(err, "move", "from path", from);
                break;
            }
            size_t fl = strlen(from);
            if (k1s_str_has_prefix(path, from) && path[fl] == '/') {
                rc = k1s_err_set(err, EDOM,
                                 "jsonpatch move operation does not apply: cannot move \"%s\" "
                                 "into its own child \"%s\"",
                                 from, path);
                break;
            }
            json_t *v = NULL;
            rc = jp_remove(&root, &f, &v, "move", "from path", from, err);
            if (rc == 0)
                rc = jp_add(&root, &p, v, "move", path, err);
            break;
        }
        case OP_COPY: {
            json_t *v = jptr_walk(root, &f, f.n);
            if (!v) {
                rc = missing(err, "copy", "from path", from);
                break;
            }
            copied += count_nodes(v);
            if (copied > COPY_NODE_LIMIT) {
                rc = k1s_err_set(err, EDOM,
                                 "jsonpatch copy operation does not apply: the copies would add "
                                 "more than %u values to the document",
                                 COPY_NODE_LIMIT);
                break;
            }
            rc = jp_add(&root, &p, json_deep_copy(v), "copy", path, err);
            break;
        }
        case OP_TEST: {
            json_t *v = jptr_walk(root, &p, p.n);
            /* a missing value passes a test for null, as in evanphx/json-patch */
            if (v ? !jv_equal(v, value) : !json_is_null(value)) {
                char *want = describe(value);
                rc = k1s_err_set(err, EDOM,
                                 "jsonpatch test operation does not apply: the value at \"%s\" is "
                                 "not %s",
                                 path, want);
                free(want);
            }
            break;
        }
        }
        jptr_free(&p);
        jptr_free(&f);
    }
    if (rc < 0) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

/* ---------- RFC 7386 JSON Merge Patch ---------- */

/* Drops null members of objects, recursively (evanphx/json-patch's pruneNulls). */
static void prune_nulls(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, c)
        {
            if (json_is_null(c))
                json_object_del(v, k);
            else
                prune_nulls(c);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            prune_nulls(c);
        }
    }
}

/* Merges patch into target (stolen, may be NULL); returns a new reference. */
static json_t *merge_value(json_t *target, const json_t *patch)
{
    if (!json_is_object(patch)) {
        json_decref(target);
        json_t *c = json_deep_copy(patch);
        prune_nulls(c);
        return c;
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
    }
    const char *k;
    size_t klen;
    json_t *pv;
    json_object_keylen_foreach((json_t *)patch, k, klen, pv)
    {
        if (json_is_null(pv)) {
            /* keys with NUL bytes cannot be deleted by name; there are none in parsed JSON */
            json_object_del(target, k);
            continue;
        }
        json_t *cur = json_incref(json_object_getn(target, k, klen));
        json_object_setn_new(target, k, klen, merge_value(cur, pv));
    }
    return target;
}

json_t *k1s_patch_merge(const json_t *doc, const json_t *patch)
{
    return merge_value(doc ? json_deep_copy(doc) : NULL, patch);
}

/* ---------- strategic merge patch ---------- */

#define DIRECTIVE "$patch"
#define RETAIN_KEYS "$retainKeys"
#define DELETE_PRIMITIVE "$deleteFromPrimitiveList"
#define SET_ORDER "$setElementOrder"

typedef struct smp {
    k1s_schema_resolve_fn resolve;
    void *arg;
    k1s_err_t *err;
    int rc;
} smp_t;

typedef struct smp_meta {
    const json_t *schema; /* the field's value type, or the list's item type */
    char strategy[16];    /* "merge", "replace" or "" */
    bool retain_keys;
    const char *merge_key; /* NULL if none */
} smp_meta_t;

enum { C_NULL, C_BOOL, C_NUM, C_STR, C_ARR, C_OBJ };

static int jclass(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return C_OBJ;
    case JSON_ARRAY: return C_ARR;
    case JSON_STRING: return C_STR;
    case JSON_INTEGER:
    case JSON_REAL: return C_NUM;
    case JSON_TRUE:
    case JSON_FALSE: return C_BOOL;
    default: return C_NULL;
    }
}

static int smp_fail(smp_t *c, int code, const char *fmt, ...) K1S_PRINTF(3, 4);
static int smp_fail(smp_t *c, int code, const char *fmt, ...)
{
    char msg[sizeof(c->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->rc = k1s_err_set(c->err, code, "%s", msg);
    return c->rc;
}

/* mergepatch.ErrNoMergeKey */
static int no_merge_key(smp_t *c, int code, const json_t *m, const char *key)
{
    char *d = describe(m);
    smp_fail(c, code, "map: %s does not contain declared merge key: %s", d, key);
    free(d);
    return c->rc;
}

/* mergepatch.ErrBadPatchType */
static int bad_patch_type(smp_t *c, const json_t *directive, const json_t *m)
{
    char *d = describe(directive), *dm = describe(m);
    smp_fail(c, EINVAL, "unknown patch type: %s in map: %s", d, dm);
    free(d);
    free(dm);
    return c->rc;
}

static bool is_directive_key(const char *k)
{
    return !strcmp(k, DIRECTIVE) || !strcmp(k, RETAIN_KEYS) ||
           k1s_str_has_prefix(k, SET_ORDER "/") || k1s_str_has_prefix(k, DELETE_PRIMITIVE "/");
}

/*
 * Readies a patch value that is stored as it is (no original to merge with):
 * drops maps carrying a $patch directive (apimachinery's removeDirectives),
 * null members (discardNullValuesFromPatch) and the other directive keys,
 * which Go's typed decoding would drop. Modifies v; false if v itself must go.
 */
static bool sanitize(json_t *v)
{
    if (json_is_object(v)) {
        if (json_object_get(v, DIRECTIVE))
            return false;
        const char *k;
        json_t *c;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, c)
        {
            if (json_is_null(c) || is_directive_key(k) || !sanitize(c))
                json_object_del(v, k);
        }
    } else if (json_is_array(v)) {
        for (size_t i = json_array_size(v); i > 0; i--)
            if (!sanitize(json_array_get(v, i - 1)))
                json_array_remove(v, i - 1);
    }
    return true;
}

/* Follows $ref and single-schema allOf wrappers to the schema that describes a value. */
static const json_t *schema_deref(const smp_t *c, const json_t *s)
{
    for (int i = 0; i < 32; i++) {
        if (!json_is_object(s))
            return NULL;
        const json_t *ref = json_object_get(s, "$ref");
        if (json_is_string(ref)) {
            s = c->resolve ? c->resolve(json_string_value(ref), c->arg) : NULL;
            continue;
        }
        const json_t *all = json_object_get(s, "allOf");
        if (json_is_array(all) && json_array_size(all) > 0 && !json_object_get(s, "properties") &&
            !json_object_get(s, "items") && !json_object_get(s, "additionalProperties")) {
            s = json_array_get(all, 0);
            continue;
        }
        return s;
    }
    return NULL; /* a reference cycle */
}

/*
 * Patch metadata of field key in an object of type schema: its strategy and
 * merge key, and the schema of its value (list=false) or items (list=true).
 * Unknown fields have no metadata. Returns 0 or -1 (bad strategy).
 */
static int smp_lookup(smp_t *c, const json_t *schema, const char *key, bool list, smp_meta_t *m)
{
    memset(m, 0, sizeof(*m));
    const json_t *s = schema_deref(c, schema);
    if (!s)
        return 0;
    const json_t *props = json_object_get(s, "properties");
    const json_t *prop = json_is_object(props) ? json_object_get(props, key) : NULL;
    if (!prop) {
        const json_t *ap = json_object_get(s, "additionalProperties");
        if (json_is_object(ap))
            prop = ap;
    }
    if (!json_is_object(prop))
        return 0;
    const char *st = json_string_value(json_object_get(prop, "x-kubernetes-patch-strategy"));
    if (st && *st) {
        /* extractRetainKeysPatchStrategy: at most "retainKeys" plus one other */
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", st);
        char *save = NULL;
        int n = 0, others = 0;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), n++) {
            if (!strcmp(t, "retainKeys")) {
                m->retain_keys = true;
            } else {
                others++;
                snprintf(m->strategy, sizeof(m->strategy), "%s", t);
            }
        }
        if (n > 2 || others > 1)
            return smp_fail(c, EDOM, "unexpected patch strategy: %s", st);
    }
    const char *mk = json_string_value(json_object_get(prop, "x-kubernetes-patch-merge-key"));
    m->merge_key = mk && *mk ? mk : NULL;
    const json_t *t = schema_deref(c, prop);
    /* a list's items; a struct-typed field used as a list stands for its own items */
    if (list && t && json_object_get(t, "items"))
        t = schema_deref(c, json_object_get(t, "items"));
    m->schema = t;
    return 0;
}

/* The key after "prefix/", or NULL. */
static const char *extract_key(const char *k, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(k, prefix, n) != 0 || k[n] != '/')
        return NULL;
    return k + n + 1;
}

/* The item's merge key value (maps) or the item itself (primitives). */
static const json_t *item_key(const json_t *item, const char *mk)
{
    return mk ? json_object_get(item, mk) : item;
}

static long index_of(const json_t *list, const json_t *item, const char *mk)
{
    const json_t *k = item_key(item, mk);
    if (!k)
        return -1;
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        const json_t *ek = item_key(e, mk);
        if (ek && jv_equal(k, ek))
            return (long)i;
    }
    return -1;
}

/* sliceElementType: the common type of the items of a and b, or -1 after an error. */
static int elem_class(smp_t *c, const json_t *a, const json_t *b, const char *field)
{
    int kind = -2;
    const json_t *lists[2] = {a, b};
    for (int l = 0; l < 2; l++) {
        size_t i;
        const json_t *e;
        json_array_foreach(lists[l], i, e)
        {
            int k = jclass(e);
            if (kind == -2) {
                kind = k;
                if (k == C_ARR)
                    return smp_fail(c, EDOM, "lists of lists are not supported");
            } else if (k != kind) {
                return smp_fail(c, EDOM, "list element types are not identical in \"%s\"", field);
            }
        }
    }
    return kind == -2 ? C_NULL : kind;
}

/* validateMergeKeyInLists */
static int check_merge_keys(smp_t *c, const json_t *list, const char *mk, int code)
{
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!json_is_object(e)) {
            char *d = describe(e);
            smp_fail(c, code, "expected a map, but received %s", d);
            free(d);
            return c->rc;
        }
        if (!json_object_get(e, mk))
            return no_merge_key(c, code, e, mk);
    }
    return 0;
}

typedef struct ordered {
    json_t *v;
    long ord;
    size_t pos;
} ordered_t;

static int cmp_ordered(const void *a, const void *b)
{
    const ordered_t *x = a, *y = b;
    long ox = x->ord < 0 ? LONG_MAX : x->ord, oy = y->ord < 0 ? LONG_MAX : y->ord;
    if (ox != oy)
        return ox < oy ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * normalizeElementOrder: items of merged that appear in patch_order keep the
 * patch's order, the others keep the server's order, and the two runs are
 * interleaved by their positions in server_order (a server item goes first
 * only when both are known to the server and it came first there). Returns
 * a new array, or NULL after an error.
 */
static json_t *normalize_order(smp_t *c, const json_t *merged, const json_t *patch_order,
                               const json_t *server_order, const char *mk)
{
    if (mk && (check_merge_keys(c, merged, mk, EDOM) < 0 ||
               check_merge_keys(c, patch_order, mk, EINVAL) < 0 ||
               check_merge_keys(c, server_order, mk, EDOM) < 0))
        return NULL;
    size_t n = json_array_size(merged), np = 0, ns = 0;
    ordered_t *pi = k1s_xcalloc(n + 1, sizeof(*pi)), *si = k1s_xcalloc(n + 1, sizeof(*si));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(merged, i);
        long ip = index_of(patch_order, e, mk);
        if (ip >= 0)
            pi[np++] = (ordered_t){e, ip, i};
        else
            si[ns++] = (ordered_t){e, index_of(server_order, e, mk), i};
    }
    qsort(pi, np, sizeof(*pi), cmp_ordered);
    qsort(si, ns, sizeof(*si), cmp_ordered);
    json_t *out = json_array();
    size_t i = 0, j = 0;
    while (i < ns || j < np) {
        bool left;
        if (i >= ns) {
            left = false;
        } else if (j >= np) {
            left = true;
        } else {
            long li = index_of(server_order, si[i].v, mk);
            long ri = index_of(server_order, pi[j].v, mk);
            left = li >= 0 && ri >= 0 && li < ri;
        }
        json_array_append(out, left ? si[i++].v : pi[j++].v);
    }
    free(pi);
    free(si);
    return out;
}

static json_t *smp_merge_map(smp_t *c, json_t *orig, json_t *patch, const json_t *schema);

/*
 * Merges the list patch into orig (stolen) under the field's metadata, or
 * replaces it when the field does not merge. Returns a new reference or
 * NULL after an error.
 *
 * If view is given it receives (a new reference to) the original list as Go's
 * mergeSlice leaves its backing array: deletions shift later items left in
 * place and appended items overwrite the tail. apimachinery orders a
 * $setElementOrder list against that array, so reproducing it reproduces
 * Kubernetes' element order exactly.
 */
static json_t *smp_merge_list(smp_t *c, json_t *orig, json_t *patch, const smp_meta_t *m,
                              bool del_list, const char *field, json_t **view)
{
    if (view)
        *view = NULL;
    if (strcmp(m->strategy, "merge") != 0 && !del_list) {
        if (view)
            *view = json_incref(orig);
        json_decref(orig);
        sanitize(patch);
        return json_incref(patch);
    }
    if (json_array_size(orig) == 0 && json_array_size(patch) == 0) {
        if (view)
            *view = json_incref(orig);
        return orig;
    }
    int kind = elem_class(c, orig, patch, field);
    if (kind < 0) {
        json_decref(orig);
        return NULL;
    }
    json_t *merged = NULL, *server = NULL, *plist = NULL, *result = NULL;
    json_t **bk = NULL; /* Go's backing array of the original list */
    size_t n = json_array_size(orig);
    const char *mk = NULL;
    if (kind != C_OBJ) {
        if (view)
            *view = json_incref(orig);
        if (del_list) {
            /* $deleteFromPrimitiveList: drop every item equal to one in the patch */
            merged = json_array();
            size_t i;
            json_t *e;
            json_array_foreach(orig, i, e)
            {
                if (index_of(patch, e, NULL) < 0)
                    json_array_append(merged, e);
            }
            json_decref(orig);
            return merged;
        }
        /* union, without duplicates */
        merged = json_array();
        const json_t *lists[2] = {orig, patch};
        for (int l = 0; l < 2; l++) {
            size_t i;
            json_t *e;
            json_array_foreach(lists[l], i, e)
            {
                if (index_of(merged, e, NULL) < 0)
                    json_array_append(merged, e);
            }
        }
        server = json_incref(orig);
        plist = json_incref(patch);
    } else {
        mk = m->merge_key;
        if (!mk) {
            smp_fail(c, EDOM, "cannot merge lists without merge key for \"%s\"", field);
            json_decref(orig);
            return NULL;
        }
        bk = k1s_xcalloc(n + 1, sizeof(*bk));
        for (size_t i = 0; i < n; i++)
            bk[i] = json_array_get(orig, i);
        size_t cur = n;
        /* elements with directives: deletions and replacement */
        json_t *plain = json_array();
        bool replace = false;
        size_t i;
        json_t *e;
        json_array_foreach(patch, i, e)
        {
            json_t *d = json_object_get(e, DIRECTIVE);
            if (!d) {
                json_array_append(plain, e);
                continue;
            }
            const char *ds = json_string_value(d);
            if (ds && !strcmp(ds, "delete")) {
                const json_t *kv = json_object_get(e, mk);
                if (!kv) {
                    no_merge_key(c, EINVAL, e, mk);
                    break;
                }
                for (;;) { /* deleteMatchingEntries, shifting in place */
                    size_t j = 0;
                    while (j < cur && !(json_object_get(bk[j], mk) &&
                                        jv_equal(json_object_get(bk[j], mk), kv)))
                        j++;
                    if (j == cur)
                        break;
                    memmove(bk + j, bk + j + 1, (cur - j - 1) * sizeof(*bk));
                    cur--;
                }
            } else if (ds && !strcmp(ds, "replace")) {
                replace = true;
            } else if (ds && !strcmp(ds, "merge")) {
                smp_fail(c, EINVAL, "merging lists cannot yet be specified in the patch");
                break;
            } else {
                bad_patch_type(c, d, e);
                break;
            }
        }
        if (c->rc < 0) {
            json_decref(plain);
            goto out;
        }
        json_t *base = json_array();
        for (size_t j = 0; j < cur; j++)
            json_array_append(base, bk[j]);
        bool aliased = true; /* does Go's slice still share bk? */
        if (replace) {
            json_decref(base);
            base = plain;
            plain = json_array();
            aliased = false;
            size_t k;
            json_t *be;
            json_array_foreach(base, k, be)
            {
                sanitize(be);
            }
        }
        /* merge items with equal keys, append the others */
        merged = json_copy(base);
        json_array_foreach(plain, i, e)
        {
            const json_t *kv = json_object_get(e, mk);
            if (!kv) {
                no_merge_key(c, EINVAL, e, mk);
                break;
            }
            size_t j, found = SIZE_MAX;
            json_t *me;
            json_array_foreach(merged, j, me)
            {
                const json_t *mkv = json_object_get(me, mk);
                if (mkv && jv_equal(mkv, kv)) {
                    found = j;
                    break;
                }
            }
            if (found != SIZE_MAX) {
                json_t *r =
                    smp_merge_map(c, json_incref(json_array_get(merged, found)), e, m->schema);
                if (!r)
                    break;
                json_array_set_new(merged, found, r);
                if (aliased && found < n)
                    bk[found] = r;
            } else if (sanitize(e)) {
                size_t len = json_array_size(merged);
                if (aliased && len < n)
                    bk[len] = e;
                else
                    aliased = false; /* Go's append reallocates here */
                json_array_append(merged, e);
            }
        }
        server = base;
        plist = plain;
        if (c->rc < 0)
            goto out;
    }
    result = normalize_order(c, merged, plist, server, mk);
    if (result && view && !*view) {
        *view = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append(*view, bk ? bk[i] : json_array_get(orig, i));
    }
out:
    if (!result && view) {
        json_decref(*view);
        *view = NULL;
    }
    free(bk);
    json_decref(merged);
    json_decref(server);
    json_decref(plist);
    json_decref(orig);
    return result;
}

/* $retainKeys: clears the fields of orig that the list does not name. */
static int smp_retain_keys(smp_t *c, json_t *orig, json_t *patch)
{
    json_t *rk = json_object_get(patch, RETAIN_KEYS);
    if (!rk)
        return 0;
    json_incref(rk);
    json_object_del(patch, RETAIN_KEYS);
    int rc = 0;
    if (!json_is_array(rk)) {
        rc = smp_fail(c, EINVAL, "invalid patch format of retainKeys");
        goto out;
    }
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach(patch, k, v)
    {
        if (json_is_null(v) || k1s_str_has_prefix(k, DELETE_PRIMITIVE) ||
            k1s_str_has_prefix(k, SET_ORDER))
            continue;
        json_t *key = json_string(k);
        bool found = index_of(rk, key, NULL) >= 0;
        json_decref(key);
        if (!found) {
            rc = smp_fail(c, EINVAL, "invalid patch format of retainKeys");
            goto out;
        }
    }
    json_object_foreach_safe(orig, tmp, k, v)
    {
        json_t *key = json_string(k);
        if (index_of(rk, key, NULL) < 0)
            json_object_del(orig, k);
        json_decref(key);
    }
out:
    json_decref(rk);
    return rc;
}

/* validatePatchWithSetOrderList */
static int smp_validate_order(smp_t *c, const json_t *plist, const json_t *order, const char *mk)
{
    if (!plist || json_array_size(order) == 0 || json_array_size(plist) == 0)
        return 0;
    size_t np = json_array_size(plist), no = json_array_size(order);
    size_t pi = 0, oi = 0;
    while (pi < np && oi < no) {
        const json_t *p = json_array_get(plist, pi), *o = json_array_get(order, oi);
        if (json_is_object(p) && json_object_get(p, DIRECTIVE)) {
            pi++; /* deletions and other directives do not take part */
            continue;
        }
        bool eq;
        if (mk) {
            if (!json_is_object(p) || !json_is_object(o))
                return smp_fail(c, EINVAL, "invalid patch format of setElementOrder list");
            const json_t *pk = json_object_get(p, mk), *ok = json_object_get(o, mk);
            if (!pk)
                return no_merge_key(c, EINVAL, p, mk);
            if (!ok)
                return no_merge_key(c, EINVAL, o, mk);
            eq = jv_equal(pk, ok);
        } else {
            eq = jv_equal(p, o);
        }
        if (eq)
            pi++;
        oi++;
    }
    while (pi < np && json_is_object(json_array_get(plist, pi)) &&
           json_object_get(json_array_get(plist, pi), DIRECTIVE))
        pi++;
    if (pi < np) {
        char *dp = describe(plist), *dord = describe(order);
        smp_fail(c, EINVAL, "the order in patch list: %s doesn't match $setElementOrder list: %s",
                 dp, dord);
        free(dp);
        free(dord);
        return c->rc;
    }
    return 0;
}

/* One $setElementOrder/<field> directive (mergePatchIntoOriginal). */
static int smp_set_order_one(smp_t *c, json_t *orig, json_t *patch, const json_t *schema,
                             const char *key, json_t *order)
{
    const char *okey = extract_key(key, SET_ORDER);
    if (!okey || !json_is_array(order))
        return smp_fail(c, EINVAL, "invalid patch format of setElementOrder list");
    json_t *olist = json_object_get(orig, okey), *plist = json_object_get(patch, okey);
    if (olist && !json_is_array(olist))
        return smp_fail(c, EDOM, "%s: the object's \"%s\" is not a list", key, okey);
    if (plist && !json_is_array(plist))
        return smp_fail(c, EINVAL, "%s: the patch's \"%s\" is not a list", key, okey);
    smp_meta_t m;
    if (smp_lookup(c, schema, okey, true, &m) < 0)
        return -1;
    if (smp_validate_order(c, plist, order, m.merge_key) < 0)
        return -1;
    if (!olist && !plist)
        return 0;
    json_t *merged, *server = NULL;
    if (olist && !plist) {
        merged = json_incref(olist);
    } else if (!olist) {
        sanitize(plist);
        merged = json_incref(plist);
    } else {
        merged = smp_merge_list(c, json_incref(olist), plist, &m, false, okey, &server);
        if (!merged)
            return -1;
    }
    if (!server)
        server = olist ? json_incref(olist) : json_array();
    json_t *empty = json_array();
    json_t *result = NULL;
    if (elem_class(c, server, plist ? plist : empty, okey) >= 0)
        result = normalize_order(c, merged, order, server, m.merge_key);
    json_decref(empty);
    json_decref(server);
    json_decref(merged);
    if (!result)
        return -1;
    json_object_set_new(orig, okey, result);
    json_object_del(patch, okey);
    return 0;
}

static int smp_set_order(smp_t *c, json_t *orig, json_t *patch, const json_t *schema)
{
    size_t n = 0;
    char **keys = k1s_xcalloc(json_object_size(patch) + 1, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v)
    {
        if (k1s_str_has_prefix(k, SET_ORDER))
            keys[n++] = k1s_xstrdup(k);
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            json_t *order = json_incref(json_object_get(patch, keys[i]));
            json_object_del(patch, keys[i]);
            rc = smp_set_order_one(c, orig, patch, schema, keys[i], order);
            json_decref(order);
        }
        free(keys[i]);
    }
    free(keys);
    return rc;
}

/*
 * mergeMap: merges patch (ours to modify) into orig (stolen; NULL for an
 * empty object). Returns a new reference or NULL after an error.
 */
static json_t *smp_merge_map(smp_t *c, json_t *orig, json_t *patch, const json_t *schema)
{
    json_t *d = json_object_get(patch, DIRECTIVE);
    if (d) {
        const char *ds = json_string_value(d);
        json_decref(orig);
        if (ds && !strcmp(ds, "replace")) {
            json_object_del(patch, DIRECTIVE);
            sanitize(patch);
            return json_incref(patch);
        }
        if (ds && !strcmp(ds, "delete"))
            return json_object();
        bad_patch_type(c, d, patch);
        return NULL;
    }
    if (!orig)
        orig = json_object();
    if (smp_retain_keys(c, orig, patch) < 0 || smp_set_order(c, orig, patch, schema) < 0) {
        json_decref(orig);
        return NULL;
    }

    size_t n = 0;
    char **keys = k1s_xcalloc(json_object_size(patch) + 1, sizeof(*keys));
    const char *pk;
    json_t *pv;
    json_object_foreach(patch, pk, pv)
    {
        keys[n++] = k1s_xstrdup(pk);
    }

    for (size_t i = 0; i < n && c->rc == 0; i++) {
        pv = json_object_get(patch, keys[i]);
        if (!pv)
            continue;
        const char *k = keys[i];
        bool del_list = false;
        if (k1s_str_has_prefix(k, DELETE_PRIMITIVE)) {
            k = extract_key(k, DELETE_PRIMITIVE);
            if (!k) {
                smp_fail(c, EINVAL, "invalid patch format of primitive list");
                break;
            }
            del_list = true;
        }
        if (json_is_null(pv)) {
            json_object_del(orig, k);
            continue;
        }
        json_t *ov = json_object_get(orig, k);
        if (!ov || jclass(ov) != jclass(pv)) {
            if (!del_list) {
                if (sanitize(pv))
                    json_object_set(orig, k, pv);
                else
                    json_object_del(orig, k);
            }
            continue;
        }
        smp_meta_t m;
        json_t *r;
        switch (jclass(ov)) {
        case C_OBJ:
            if (smp_lookup(c, schema, k, false, &m) < 0)
                break;
            if (!strcmp(m.strategy, "replace")) {
                sanitize(pv);
                json_object_set(orig, k, pv);
                break;
            }
            r = smp_merge_map(c, json_incref(ov), pv, m.schema);
            if (r)
                json_object_set_new(orig, k, r);
            break;
        case C_ARR:
            if (smp_lookup(c, schema, k, true, &m) < 0)
                break;
            r = smp_merge_list(c, json_incref(ov), pv, &m, del_list, k, NULL);
            if (r)
                json_object_set_new(orig, k, r);
            break;
        default: json_object_set(orig, k, pv); break;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    if (c->rc < 0) {
        json_decref(orig);
        return NULL;
    }
    return orig;
}

int k1s_patch_strategic(const json_t *doc, const json_t *patch, const json_t *schema,
                        k1s_schema_resolve_fn resolve, void *arg, json_t **out, k1s_err_t *err)
{
    if (!json_is_object(doc))
        return k1s_err_set(err, EINVAL, "invalid JSON document");
    if (!json_is_object(patch))
        return k1s_err_set(err, EINVAL, "a strategic merge patch must be a JSON object");
    k1s_err_t local = {0};
    smp_t c = {.resolve = resolve, .arg = arg, .err = err ? err : &local};
    json_t *p = json_deep_copy(patch);
    json_t *r = smp_merge_map(&c, json_deep_copy(doc), p, schema);
    json_decref(p);
    if (!r)
        return c.rc < 0 ? c.rc : -EDOM;
    *out = r;
    return 0;
}

/* ---------- dispatch on the media type ---------- */

k1s_patch_type_t k1s_patch_type_parse(const char *ct)
{
    if (!ct)
        return K1S_PATCH_UNKNOWN;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    static const struct {
        const char *name;
        k1s_patch_type_t type;
    } types[] = {
        {"application/json-patch+json", K1S_PATCH_JSON},
        {"application/merge-patch+json", K1S_PATCH_MERGE},
        {"application/strategic-merge-patch+json", K1S_PATCH_STRATEGIC},
        {"application/apply-patch+yaml", K1S_PATCH_APPLY},
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(types); i++)
        if (strlen(types[i].name) == n && !strncasecmp(ct, types[i].name, n))
            return types[i].type;
    return K1S_PATCH_UNKNOWN;
}

int k1s_patch_apply(const char *content_type, const json_t *doc, const char *patch_body, size_t len,
                    const json_t *schema, k1s_schema_resolve_fn resolve, void *arg, json_t **out,
                    k1s_err_t *err)
{
    k1s_patch_type_t t = k1s_patch_type_parse(content_type);
    if (t == K1S_PATCH_UNKNOWN)
        return k1s_err_set(err, EPROTONOSUPPORT,
                           "the body of the request was in an unknown format - accepted media "
                           "types include: application/json-patch+json, "
                           "application/merge-patch+json, application/strategic-merge-patch+json");
    if (t == K1S_PATCH_APPLY)
        return k1s_err_set(err, EOPNOTSUPP,
                           "server-side apply (application/apply-patch+yaml) is not supported "
                           "yet; use client-side apply (kubectl apply without --server-side)");
    json_error_t je;
    json_t *p =
        json_loadb(patch_body ? patch_body : "", patch_body ? len : 0, JSON_DECODE_ANY, &je);
    if (!p)
        return k1s_err_set(err, EINVAL, "error decoding patch: %s (line %d, column %d)", je.text,
                           je.line, je.column);
    int rc;
    switch (t) {
    case K1S_PATCH_JSON: rc = k1s_patch_json(doc, p, out, err); break;
    case K1S_PATCH_MERGE:
        if (!json_is_object(p)) {
            rc = k1s_err_set(err, EINVAL, "a merge patch must be a JSON object");
            break;
        }
        *out = k1s_patch_merge(doc, p);
        rc = 0;
        break;
    default: rc = k1s_patch_strategic(doc, p, schema, resolve, arg, out, err); break;
    }
    json_decref(p);
    return rc;
}
