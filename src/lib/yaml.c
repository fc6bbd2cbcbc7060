/*
 * YAML <-> JSON (see yaml.h). Decoding walks libyaml's event stream and
 * builds jansson trees with an explicit stack (no recursion on input depth),
 * resolving plain scalars with go-yaml v2's YAML 1.1 rules so manifests
 * decode exactly as kubectl and the Kubernetes API server decode them.
 * Encoding drives libyaml's emitter and quotes any string the decoder would
 * otherwise read back as a different type.
 */
#include "lib/yaml.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/buf.h"
#include "lib/util.h"

#define MAX_DEPTH 1000
/* Nodes that alias expansion may create in one stream ("billion laughs" guard). */
#define MAX_ALIAS_NODES 200000

#define TAG_PREFIX "tag:yaml.org,2002:"

/* ---------- scalar resolution (go-yaml v2 resolve.go) ---------- */

typedef enum { R_STR, R_NULL, R_BOOL, R_INT, R_UINT, R_FLOAT } rkind_t;

typedef struct resolved {
    rkind_t kind;
    bool b;
    long long i;
    unsigned long long u;
    double f;
} resolved_t;

static bool in_list(const char *s, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, s, n) == 0)
            return true;
    return false;
}

static int digit_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/*
 * strconv.ParseUint(s, 0, 64)-style parsing of the digits after an optional
 * sign: base prefixes 0x, 0o, 0b and a bare leading 0 (octal). Returns false
 * on a syntax error; *range is set on overflow.
 */
static bool parse_base0(const char *p, unsigned long long *out, bool *range)
{
    int base = 10;
    if (p[0] == '0' && p[1]) {
        char c = (char)(p[1] | 0x20);
        if (c == 'x') {
            base = 16;
            p += 2;
        } else if (c == 'b') {
            base = 2;
            p += 2;
        } else if (c == 'o') {
            base = 8;
            p += 2;
        } else {
            base = 8;
            p += 1;
        }
    }
    if (!*p)
        return false;
    unsigned long long v = 0;
    *range = false;
    for (; *p; p++) {
        int d = digit_val(*p);
        if (d >= base)
            return false;
        if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
            *range = true;
        v = v * (unsigned)base + (unsigned)d;
    }
    *out = v;
    return true;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool yaml_style_float(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    } else {
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9')
                p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == 0;
}

/* strconv.ParseFloat for the decimal forms above; false on overflow. */
static bool parse_float(const char *s, double *out)
{
    errno = 0;
    char *end;
    double d = strtod(s, &end);
    if (*end || (errno == ERANGE && isinf(d)))
        return false;
    *out = d;
    return true;
}

static const char *const yes_list[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                       "True", "TRUE", "on",  "On",  "ON",  NULL};
static const char *const no_list[] = {"n",     "N",     "no",  "No",  "NO",  "false",
                                      "False", "FALSE", "off", "Off", "OFF", NULL};
static const char *const null_list[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const nan_list[] = {".nan", ".NaN", ".NAN", NULL};
static const char *const inf_list[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
static const char *const ninf_list[] = {"-.inf", "-.Inf", "-.INF", NULL};

/* go-yaml v2's resolve() for an untagged plain scalar s[0..n). */
static rkind_t resolve_plain(const char *s, size_t n, resolved_t *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = R_STR;
    char c = n ? s[0] : 0;
    bool sign = c == '+' || c == '-';
    bool digit = c >= '0' && c <= '9';
    bool in_map = n == 0 || strchr("yYnNtTfFoO~", c) != NULL;
    if (!(sign || digit || in_map || c == '.'))
        return R_STR;
    if (in_list(s, n, yes_list) || in_list(s, n, no_list)) {
        r->b = in_list(s, n, yes_list);
        return r->kind = R_BOOL;
    }
    if (in_list(s, n, null_list))
        return r->kind = R_NULL;
    if (in_list(s, n, nan_list)) {
        r->f = NAN;
        return r->kind = R_FLOAT;
    }
    if (in_list(s, n, inf_list) || in_list(s, n, ninf_list)) {
        r->f = in_list(s, n, inf_list) ? INFINITY : -INFINITY;
        return r->kind = R_FLOAT;
    }
    if (in_map || memchr(s, 0, n))
        return R_STR;
    if (c == '.') {
        /* ParseFloat of the text as it is: ".5", ".5e3" */
        char *t = k1s_xstrndup(s, n);
        double d;
        bool ok = t[1] >= '0' && t[1] <= '9' && yaml_style_float(t) && parse_float(t, &d);
        free(t);
        if (ok) {
            r->f = d;
            return r->kind = R_FLOAT;
        }
        return R_STR;
    }
    /* digits or sign: int, uint, then float; underscores are ignored */
    char *plain = k1s_xmalloc(n + 1);
    size_t pn = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            plain[pn++] = s[i];
    plain[pn] = 0;
    const char *p = plain;
    bool neg = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    unsigned long long u;
    bool range;
    if (parse_base0(p, &u, &range) && !range) {
        if (!neg && u <= (unsigned long long)LLONG_MAX) {
            r->i = (long long)u;
            r->kind = R_INT;
        } else if (neg && u <= (unsigned long long)LLONG_MAX + 1) {
            r->i = u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)u;
            r->kind = R_INT;
        } else if (!neg && plain[0] != '+') {
            r->u = u; /* ParseUint: no sign allowed */
            r->kind = R_UINT;
        }
    }
    if (r->kind == R_STR && yaml_style_float(plain)) {
        double d;
        if (parse_float(plain, &d)) {
            r->f = d;
            r->kind = R_FLOAT;
        }
    }
    free(plain);
    return r->kind;
}

static const char *rkind_tag(rkind_t k)
{
    switch (k) {
    case R_NULL: return "!!null";
    case R_BOOL: return "!!bool";
    case R_INT:
    case R_UINT: return "!!int";
    case R_FLOAT: return "!!float";
    default: return "!!str";
    }
}

/* A JSON number for a float, as Go's encoder would print it and Kubernetes read it back. */
static json_t *json_from_float(double f)
{
    if (f == floor(f) && fabs(f) < 1e21 && f >= -9223372036854775808.0 && f < 9223372036854775808.0)
        return json_integer((json_int_t)f);
    return json_real(f);
}

static json_t *json_from_resolved(const resolved_t *r, const char *s, size_t n)
{
    switch (r->kind) {
    case R_NULL: return json_null();
    case R_BOOL: return json_boolean(r->b);
    case R_INT: return json_integer(r->i);
    case R_UINT: return json_real((double)r->u);
    case R_FLOAT: return json_from_float(r->f);
    default: return json_stringn(s, n);
    }
}

/* ---------- decoding ---------- */

typedef struct anchor {
    char *name;
    json_t *value;
    size_t nodes;
} anchor_t;

typedef struct frame {
    json_t *node; /* array or object under construction */
    char *anchor;
    char *key; /* pending key of an object frame */
    size_t keylen;
    bool merge; /* the pending key is "<<" */
} frame_t;

typedef struct builder {
    frame_t *st;
    size_t n, cap;
    anchor_t *anchors;
    size_t nanchors, canchors;
    size_t alias_nodes;
    json_t *root;
    bool have_root;
    json_t *docs;
    size_t doc_line; /* 1-based line where the current document starts */
    k1s_err_t *err;
} builder_t;

static int fail_at(builder_t *b, const yaml_mark_t *m, const char *fmt, ...) K1S_PRINTF(3, 4);
static int fail_at(builder_t *b, const yaml_mark_t *m, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return k1s_err_set(b->err, EINVAL, "yaml: line %zu: %s", m->line + 1, msg);
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

static void anchors_clear(builder_t *b)
{
    for (size_t i = 0; i < b->nanchors; i++) {
        free(b->anchors[i].name);
        json_decref(b->anchors[i].value);
    }
    b->nanchors = 0;
}

static void anchor_set(builder_t *b, const char *name, json_t *v)
{
    if (b->nanchors == b->canchors) {
        b->canchors = b->canchors ? b->canchors * 2 : 8;
        b->anchors = k1s_xrealloc(b->anchors, b->canchors * sizeof(*b->anchors));
    }
    anchor_t *a = &b->anchors[b->nanchors++];
    a->name = k1s_xstrdup(name);
    a->value = json_incref(v);
    a->nodes = count_nodes(v);
}

static const anchor_t *anchor_get(const builder_t *b, const char *name)
{
    for (size_t i = b->nanchors; i > 0; i--)
        if (!strcmp(b->anchors[i - 1].name, name))
            return &b->anchors[i - 1];
    return NULL;
}

static void frames_clear(builder_t *b)
{
    while (b->n) {
        frame_t *f = &b->st[--b->n];
        json_decref(f->node);
        free(f->anchor);
        free(f->key);
    }
    json_decref(b->root);
    b->root = NULL;
    b->have_root = false;
}

/* Copies the members of src into dst, replacing existing keys (go-yaml v2 merge). */
static void merge_into(json_t *dst, json_t *src)
{
    const char *k;
    size_t klen;
    json_t *v;
    void *tmp;
    json_object_keylen_foreach_safe(src, tmp, k, klen, v)
    {
        json_object_setn(dst, k, klen, v);
    }
}

/* Hands a finished value (stolen) to the enclosing node. */
static int deliver(builder_t *b, json_t *v, const yaml_mark_t *m)
{
    if (!v)
        return fail_at(b, m, "invalid UTF-8 in string");
    if (b->n == 0) {
        json_decref(b->root);
        b->root = v;
        b->have_root = true;
        return 0;
    }
    frame_t *f = &b->st[b->n - 1];
    if (json_is_array(f->node)) {
        json_array_append_new(f->node, v);
        return 0;
    }
    k1s_assert(f->key);
    if (f->merge) {
        int rc = 0;
        if (json_is_object(v)) {
            merge_into(f->node, v);
        } else if (json_is_array(v)) {
            /* earlier maps take precedence: apply them last */
            for (size_t i = json_array_size(v); i > 0 && rc == 0; i--) {
                json_t *e = json_array_get(v, i - 1);
                if (!json_is_object(e))
                    rc = fail_at(b, m, "map merge requires map or sequence of maps as the value");
                else
                    merge_into(f->node, e);
            }
        } else {
            rc = fail_at(b, m, "map merge requires map or sequence of maps as the value");
        }
        json_decref(v);
        free(f->key);
        f->key = NULL;
        f->merge = false;
        return rc;
    }
    json_object_setn_new(f->node, f->key, f->keylen, v);
    free(f->key);
    f->key = NULL;
    return 0;
}

/* Go's strconv.FormatFloat(f, 'g', -1, 32), which sigs.k8s.io/yaml uses for float keys. */
static void format_float32_key(double d, char *buf, size_t len)
{
    float f = (float)d;
    if (isnan(f)) {
        snprintf(buf, len, ".nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, len, f > 0 ? ".inf" : "-.inf");
        return;
    }
    char e[64];
    int prec = 1;
    for (; prec < 9; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, (double)f);
        if ((float)strtod(e, NULL) == f)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", prec - 1, (double)f);
    int exp = atoi(strchr(e, 'e') + 1);
    if (exp < -4 || exp >= 6)
        snprintf(buf, len, "%s", e);
    else
        snprintf(buf, len, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, (double)f);
}

/* Sets the pending key of object frame f from a JSON scalar (an aliased key). */
static int key_from_json(builder_t *b, frame_t *f, const json_t *v, const yaml_mark_t *m)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        f->keylen = json_string_length(v);
        f->key = k1s_xmalloc(f->keylen + 1);
        memcpy(f->key, json_string_value(v), f->keylen + 1);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE: snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false"); break;
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL: format_float32_key(json_real_value(v), buf, sizeof(buf)); break;
    case JSON_NULL: return fail_at(b, m, "unsupported map key: null");
    default:
        return fail_at(b, m, "unsupported map key of type %s",
                       json_is_object(v) ? "map" : "sequence");
    }
    f->key = k1s_xstrdup(buf);
    f->keylen = strlen(buf);
    return 0;
}

static bool tag_is(const char *tag, const char *name)
{
    return tag && k1s_str_has_prefix(tag, TAG_PREFIX) && !strcmp(tag + strlen(TAG_PREFIX), name);
}

/*
 * Resolves a scalar event: returns the kind and fills r, or -1 after setting
 * the error for a value its explicit tag cannot hold.
 */
static int scalar_resolve(builder_t *b, const yaml_event_t *ev, resolved_t *r)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    memset(r, 0, sizeof(*r));
    if (!tag) {
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.plain_implicit)
            return resolve_plain(s, n, r);
        return r->kind = R_STR;
    }
    if (tag_is(tag, "null"))
        return r->kind = R_NULL;
    rkind_t want;
    if (tag_is(tag, "bool"))
        want = R_BOOL;
    else if (tag_is(tag, "int"))
        want = R_INT;
    else if (tag_is(tag, "float"))
        want = R_FLOAT;
    else /* !!str, !!timestamp, !!binary, "!" and unknown tags: a string */
        return r->kind = R_STR;
    rkind_t k = resolve_plain(s, n, r);
    if (k == want || (want == R_INT && k == R_UINT))
        return k;
    if (want == R_FLOAT && (k == R_INT || k == R_UINT)) {
        r->f = k == R_INT ? (double)r->i : (double)r->u;
        return r->kind = R_FLOAT;
    }
    fail_at(b, &ev->start_mark, "cannot decode %s `%.*s` as a %s", rkind_tag(k),
            (int)(n > 100 ? 100 : n), s, rkind_tag(want));
    return -1;
}

static int on_scalar(builder_t *b, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *anchor = (const char *)ev->data.scalar.anchor;
    resolved_t r;
    if (scalar_resolve(b, ev, &r) < 0)
        return -EINVAL;
    frame_t *f = b->n ? &b->st[b->n - 1] : NULL;
    if (!f || !json_is_object(f->node) || f->key) {
        /* a value */
        if (r.kind == R_FLOAT && (isinf(r.f) || isnan(r.f)))
            return fail_at(b, &ev->start_mark, "json: unsupported value: %s",
                           isnan(r.f) ? "NaN"
                           : r.f > 0  ? "+Inf"
                                      : "-Inf");
        json_t *v = json_from_resolved(&r, s, n);
        if (v && anchor)
            anchor_set(b, anchor, v);
        return deliver(b, v, &ev->start_mark);
    }
    /* a key: strings stay, other scalars are printed as sigs.k8s.io/yaml prints them */
    char buf[64];
    const char *tag = (const char *)ev->data.scalar.tag;
    f->merge = n == 2 && !memcmp(s, "<<", 2) &&
               ((!tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) || tag_is(tag, "merge"));
    switch (r.kind) {
    case R_STR:
        f->key = k1s_xmalloc(n + 1);
        memcpy(f->key, s, n);
        f->key[n] = 0;
        f->keylen = n;
        break;
    case R_NULL: return fail_at(b, &ev->start_mark, "unsupported map key: null");
    case R_BOOL: snprintf(buf, sizeof(buf), "%s", r.b ? "true" : "false"); break;
    case R_INT: snprintf(buf, sizeof(buf), "%lld", r.i); break;
    case R_UINT: snprintf(buf, sizeof(buf), "%llu", r.u); break;
    case R_FLOAT: format_float32_key(r.f, buf, sizeof(buf)); break;
    }
    if (r.kind != R_STR) {
        f->key = k1s_xstrdup(buf);
        f->keylen = strlen(buf);
    }
    if (anchor) {
        json_t *v = json_from_resolved(&r, s, n);
        if (!v)
            return fail_at(b, &ev->start_mark, "unsupported anchored key");
        anchor_set(b, anchor, v);
        json_decref(v);
    }
    return 0;
}

static int on_start(builder_t *b, const yaml_event_t *ev, bool map)
{
    frame_t *f = b->n ? &b->st[b->n - 1] : NULL;
    if (f && json_is_object(f->node) && !f->key)
        return fail_at(b, &ev->start_mark, "unsupported map key of type %s",
                       map ? "map" : "sequence");
    if (b->n >= MAX_DEPTH)
        return fail_at(b, &ev->start_mark, "exceeded max depth of %d", MAX_DEPTH);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->st = k1s_xrealloc(b->st, b->cap * sizeof(*b->st));
    }
    const yaml_char_t *anchor =
        map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    frame_t *nf = &b->st[b->n++];
    memset(nf, 0, sizeof(*nf));
    nf->node = map ? json_object() : json_array();
    nf->anchor = anchor ? k1s_xstrdup((const char *)anchor) : NULL;
    return 0;
}

static int on_end(builder_t *b, const yaml_event_t *ev)
{
    k1s_assert(b->n > 0);
    frame_t f = b->st[--b->n];
    free(f.key);
    if (f.anchor) {
        anchor_set(b, f.anchor, f.node);
        free(f.anchor);
    }
    return deliver(b, f.node, &ev->start_mark);
}

static int on_alias(builder_t *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    const anchor_t *a = anchor_get(b, name);
    if (!a)
        return fail_at(b, &ev->start_mark, "unknown anchor '%s' referenced", name);
    frame_t *f = b->n ? &b->st[b->n - 1] : NULL;
    if (f && json_is_object(f->node) && !f->key) {
        f->merge = false;
        return key_from_json(b, f, a->value, &ev->start_mark);
    }
    b->alias_nodes += a->nodes;
    if (b->alias_nodes > MAX_ALIAS_NODES)
        return fail_at(b, &ev->start_mark, "document contains excessive aliasing");
    return deliver(b, json_deep_copy(a->value), &ev->start_mark);
}

/* go-yaml v2's parser.fail(): where libyaml's problem was, and what. */
static int parser_error(const yaml_parser_t *p, k1s_err_t *err)
{
    size_t line = 0;
    if (p->problem_mark.line != 0) {
        line = p->problem_mark.line;
        /* scanner errors don't advance the line before reporting */
        if (p->error == YAML_SCANNER_ERROR)
            line++;
    } else if (p->context_mark.line != 0) {
        line = p->context_mark.line;
    }
    const char *msg = p->problem ? p->problem : "unknown problem parsing YAML content";
    if (line)
        return k1s_err_set(err, EINVAL, "yaml: line %zu: %s", line, msg);
    return k1s_err_set(err, EINVAL, "yaml: %s", msg);
}

/* Parses the whole stream into b->docs (non-null documents only). */
static int load_stream(const char *data, size_t len, builder_t *b, size_t max_docs)
{
    yaml_parser_t p;
    k1s_assert(yaml_parser_initialize(&p));
    if (!data) { /* libyaml asserts on a NULL input */
        data = "";
        len = 0;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = parser_error(&p, b->err);
            break;
        }
        yaml_event_type_t type = ev.type;
        switch (type) {
        case YAML_DOCUMENT_START_EVENT:
            frames_clear(b);
            anchors_clear(b);
            b->doc_line = ev.start_mark.line + 1;
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (b->root && !json_is_null(b->root)) {
                if (json_array_size(b->docs) >= max_docs)
                    rc = k1s_err_set(b->err, EINVAL,
                                     "yaml: line %zu: expected a single document, found more",
                                     b->doc_line);
                else
                    json_array_append(b->docs, b->root);
            }
            frames_clear(b);
            anchors_clear(b);
            break;
        case YAML_SCALAR_EVENT: rc = on_scalar(b, &ev); break;
        case YAML_SEQUENCE_START_EVENT: rc = on_start(b, &ev, false); break;
        case YAML_MAPPING_START_EVENT: rc = on_start(b, &ev, true); break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: rc = on_end(b, &ev); break;
        case YAML_ALIAS_EVENT: rc = on_alias(b, &ev); break;
        default: break;
        }
        yaml_event_delete(&ev);
        if (rc < 0 || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    frames_clear(b);
    anchors_clear(b);
    free(b->st);
    free(b->anchors);
    return rc;
}

int k1s_yaml_to_json_all(const char *data, size_t len, json_t **out, k1s_err_t *err)
{
    builder_t b = {.err = err, .docs = json_array()};
    int rc = load_stream(data, len, &b, SIZE_MAX);
    if (rc < 0) {
        json_decref(b.docs);
        return rc;
    }
    *out = b.docs;
    return 0;
}

int k1s_yaml_to_json(const char *data, size_t len, json_t **out, k1s_err_t *err)
{
    builder_t b = {.err = err, .docs = json_array()};
    int rc = load_stream(data, len, &b, 1);
    if (rc < 0) {
        json_decref(b.docs);
        return rc;
    }
    json_t *v = json_array_size(b.docs) ? json_incref(json_array_get(b.docs, 0)) : json_null();
    json_decref(b.docs);
    *out = v;
    return 0;
}

/* ---------- encoding ---------- */

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    k1s_buf_append(data, buffer, size);
    return 1;
}

/* Strings that a YAML 1.1 reader would not read back as the same plain string. */
static bool needs_quotes(const char *s, size_t n)
{
    resolved_t r;
    if (n == 0 || memchr(s, 0, n))
        return true;
    if (resolve_plain(s, n, &r) != R_STR)
        return true;
    if (n == 2 && !memcmp(s, "<<", 2))
        return true;
    /* timestamps (2006-1-2...) decode as strings in Kubernetes, but not in other readers */
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == 4 && i < n && s[i] == '-' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
        return true;
    return false;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev, k1s_err_t *err)
{
    if (!yaml_emitter_emit(e, ev))
        return k1s_err_set(err, EINVAL, "yaml: %s", e->problem ? e->problem : "emitter error");
    return 0;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t n, yaml_scalar_style_t style,
                       k1s_err_t *err)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style))
        return k1s_err_set(err, EINVAL, "yaml: cannot emit a scalar");
    return emit(e, &ev, err);
}

static int emit_string(yaml_emitter_t *e, const char *s, size_t n, k1s_err_t *err)
{
    if (n > INT_MAX)
        return k1s_err_set(err, EINVAL, "yaml: string too long");
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    if (needs_quotes(s, n))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    else if (memchr(s, '\n', n))
        style = YAML_LITERAL_SCALAR_STYLE;
    return emit_scalar(e, s, n, style, err);
}

static int emit_node(yaml_emitter_t *e, const json_t *v, k1s_err_t *err)
{
    char buf[64];
    yaml_event_t ev;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (emit(e, &ev, err) < 0)
            return -EINVAL;
        const char *k;
        size_t klen;
        json_t *c;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)v, tmp, k, klen, c)
        {
            if (emit_string(e, k, klen, err) < 0 || emit_node(e, c, err) < 0)
                return -EINVAL;
        }
        yaml_mapping_end_event_initialize(&ev);
        return emit(e, &ev, err);
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (emit(e, &ev, err) < 0)
            return -EINVAL;
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            if (emit_node(e, c, err) < 0)
                return -EINVAL;
        }
        yaml_sequence_end_event_initialize(&ev);
        return emit(e, &ev, err);
    }
    case JSON_STRING: return emit_string(e, json_string_value(v), json_string_length(v), err);
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(e, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_REAL: {
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        /* keep it a float when read back */
        if (!strpbrk(buf, ".eEn"))
            strcat(buf, ".0");
        return emit_scalar(e, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE, err);
    }
    case JSON_TRUE: return emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_FALSE: return emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE, err);
    default: return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE, err);
    }
}

int k1s_json_to_yaml(const json_t *v, char **out, k1s_err_t *err)
{
    yaml_emitter_t e;
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_assert(yaml_emitter_initialize(&e));
    yaml_emitter_set_output(&e, write_handler, &b);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    yaml_event_t ev;
    int rc;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    rc = emit(&e, &ev, err);
    if (rc == 0) {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        rc = emit(&e, &ev, err);
    }
    if (rc == 0)
        rc = emit_node(&e, v ? v : json_null(), err);
    if (rc == 0) {
        yaml_document_end_event_initialize(&ev, 1);
        rc = emit(&e, &ev, err);
    }
    if (rc == 0) {
        yaml_stream_end_event_initialize(&ev);
        rc = emit(&e, &ev, err);
    }
    if (rc == 0 && !yaml_emitter_flush(&e))
        rc = k1s_err_set(err, EINVAL, "yaml: cannot flush the emitter");
    yaml_emitter_delete(&e);
    if (rc < 0) {
        k1s_buf_free(&b);
        return rc;
    }
    k1s_buf_puts(&b, "");
    *out = k1s_buf_steal(&b);
    return 0;
}
