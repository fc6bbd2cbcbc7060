/*
 * Reads: get, list (label and field selectors, limit/continue pagination
 * with Kubernetes-style continue tokens) and the server-side Table output
 * kubectl asks for. Lists are written from the stored bytes without
 * re-encoding objects, except where Table output or a conversion needs
 * the parsed object.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/apiserver-int.h"
#include "api/selector.h"
#include "api/table.h"

struct k1s_list_filter {
    k1s_label_selector_t *labels;
    k1s_field_selector_t *fields;
    const k1s_resource_t *res;
};

static const char *aux_field(const char *field, void *arg)
{
    const k1s_obj_aux_t *a = arg;
    if (!strcmp(field, "metadata.name"))
        return a->name;
    if (!strcmp(field, "metadata.namespace"))
        return a->ns;
    for (int i = 0; i < 8 && a->res->field_selectors[i]; i++)
        if (!strcmp(field, a->res->field_selectors[i]))
            return a->fields[i] ? a->fields[i] : "";
    return "";
}

static bool field_supported(const k1s_resource_t *res, const char *field)
{
    if (!strcmp(field, "metadata.name") || !strcmp(field, "metadata.namespace"))
        return true;
    for (int i = 0; i < 8 && res->field_selectors[i]; i++)
        if (!strcmp(field, res->field_selectors[i]))
            return true;
    return false;
}

k1s_list_filter_t *k1s_list_filter_new(k1s_api_req_t *r, bool *failed)
{
    *failed = false;
    const char *ls = k1s_http_req_query(r->http, "labelSelector");
    const char *fs = k1s_http_req_query(r->http, "fieldSelector");
    if ((!ls || !*ls) && (!fs || !*fs))
        return NULL;
    k1s_list_filter_t *f = k1s_xcalloc(1, sizeof(*f));
    f->res = r->res;
    k1s_err_t err = {0};
    if (ls && *ls) {
        f->labels = k1s_label_selector_parse(ls, &err);
        if (!f->labels) {
            k1s_list_filter_free(f);
            *failed = true;
            k1s_api_fail(r, 400, "BadRequest", "unable to parse requirement: %s", err.msg);
            return NULL;
        }
    }
    if (fs && *fs) {
        f->fields = k1s_field_selector_parse(fs, &err);
        if (!f->fields) {
            k1s_list_filter_free(f);
            *failed = true;
            k1s_api_fail(r, 400, "BadRequest", "invalid field selector: %s", err.msg);
            return NULL;
        }
        size_t n = k1s_field_selector_count(f->fields);
        for (size_t i = 0; i < n; i++) {
            const char *field = k1s_field_selector_field(f->fields, i);
            if (!field_supported(r->res, field)) {
                *failed = true;
                k1s_api_fail(r, 400, "BadRequest", "field label not supported: %s", field);
                k1s_list_filter_free(f);
                return NULL;
            }
        }
    }
    return f;
}

bool k1s_list_filter_match(const k1s_list_filter_t *f, const k1s_obj_aux_t *aux)
{
    if (!f)
        return true;
    if (!aux)
        return false;
    if (f->labels && !k1s_label_selector_matches(f->labels, aux->labels))
        return false;
    if (f->fields && !k1s_field_selector_matches(f->fields, aux_field, (void *)aux))
        return false;
    return true;
}

void k1s_list_filter_free(k1s_list_filter_t *f)
{
    if (!f)
        return;
    k1s_label_selector_free(f->labels);
    k1s_field_selector_free(f->fields);
    free(f);
}

bool k1s_api_wants_table(k1s_api_req_t *r)
{
    const char *accept = k1s_http_req_header(r->http, "Accept");
    return accept && strstr(accept, "as=Table") && strstr(accept, "g=meta.k8s.io");
}

json_t *k1s_api_table(k1s_api_req_t *r, json_t *objects, const char *rv, const char *cont,
                      bool with_columns)
{
    json_t *rows = json_array();
    time_t now = time(NULL);
    const char *include = k1s_http_req_query(r->http, "includeObject");
    size_t i;
    json_t *o;
    json_array_foreach(objects, i, o)
    {
        json_t *shaped = k1s_convert_for_table(r->res, o);
        json_t *row = json_pack("{s:o}", "cells", k1s_table_cells(r->res, shaped, now));
        json_decref(shaped);
        if (include && !strcmp(include, "Object")) {
            json_object_set(row, "object", o);
        } else if (!include || strcmp(include, "None")) {
            json_t *pm = json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                                   "meta.k8s.io/v1", "metadata", json_object_get(o, "metadata"));
            json_object_set_new(row, "object", pm);
        }
        json_array_append_new(rows, row);
    }
    json_t *meta = json_object();
    if (rv)
        json_object_set_new(meta, "resourceVersion", json_string(rv));
    if (cont && *cont)
        json_object_set_new(meta, "continue", json_string(cont));
    json_t *t = json_pack("{s:s, s:s, s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                          "metadata", meta);
    json_object_set_new(t, "columnDefinitions",
                        with_columns ? k1s_table_columns(r->res) : json_null());
    json_object_set_new(t, "rows", rows);
    return t;
}

/* continue tokens: base64 of {"v":"meta.k8s.io/v1","rv":N,"start":"<key>"} like Kubernetes */
static char *make_continue(int64_t rv, const char *last_key)
{
    json_t *t = json_pack("{s:s, s:I, s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rv, "start",
                          last_key);
    char *s = json_dumps(t, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(t);
    size_t n = strlen(s);
    char *out = k1s_xmalloc(4 * ((n + 2) / 3) + 1);
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = 0;
    free(s);
    return out;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

/* Returns the start key of a continue token (new string) and its revision, or NULL. */
static char *parse_continue(const char *tok, const char *prefix, int64_t *rev)
{
    size_t n = strlen(tok);
    char *dec = k1s_xmalloc(n + 1);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '=')
            break;
        int v = b64val(tok[i]);
        if (v < 0) {
            free(dec);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dec[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    dec[o] = 0;
    json_t *j = json_loads(dec, 0, NULL);
    free(dec);
    const char *start = j ? json_string_value(json_object_get(j, "start")) : NULL;
    json_t *jrv = j ? json_object_get(j, "rv") : NULL;
    char *res = NULL;
    if (start && k1s_str_has_prefix(start, prefix) && json_is_integer(jrv)) {
        res = k1s_xstrdup(start);
        *rev = json_integer_value(jrv);
    }
    json_decref(j);
    return res;
}

/*
 * A list at an older revision (resourceVersionMatch=Exact, or the pages
 * after the first of a paginated list, which Kubernetes serves from the
 * first page's revision). The store's history gives, for every key changed
 * since that revision, its value then (the previous value of its first
 * later change); these overrides are merged with the current keys.
 */
typedef struct override {
    char *key;
    k1s_kv_t *kv; /* value at the snapshot, NULL if the key did not exist */
    size_t seq;
} override_t;

typedef struct snapshot {
    override_t *o;
    size_t n, cap;
} snapshot_t;

static int snap_event(const k1s_store_event_t *ev, void *arg)
{
    snapshot_t *sn = arg;
    if (sn->n == sn->cap) {
        sn->cap = sn->cap ? sn->cap * 2 : 64;
        sn->o = k1s_xrealloc(sn->o, sn->cap * sizeof(*sn->o));
    }
    const char *key = ev->kv ? ev->kv->key : ev->prev->key;
    sn->o[sn->n] = (override_t){k1s_xstrdup(key), k1s_kv_ref(ev->prev), sn->n};
    sn->n++;
    return 0;
}

static int override_cmp(const void *a, const void *b)
{
    const override_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void snapshot_free(snapshot_t *sn)
{
    for (size_t i = 0; i < sn->n; i++) {
        free(sn->o[i].key);
        k1s_kv_unref(sn->o[i].kv);
    }
    free(sn->o);
}

/* Collects the overrides for prefix at rev; -K1S_EGONE if rev left the history window. */
static int snapshot_build(k1s_store_t *store, const char *prefix, int64_t rev, snapshot_t *sn)
{
    k1s_store_watch_t *w = NULL;
    int r = k1s_store_watch(store, prefix, rev, snap_event, sn, &w);
    if (r < 0)
        return r;
    k1s_store_unwatch(w);
    /* keep the first change of each key: its previous value is the value at rev */
    if (sn->n > 1) /* sn->o is NULL when nothing under prefix changed since rev */
        qsort(sn->o, sn->n, sizeof(*sn->o), override_cmp);
    size_t out = 0;
    for (size_t i = 0; i < sn->n; i++) {
        if (out > 0 && !strcmp(sn->o[out - 1].key, sn->o[i].key)) {
            free(sn->o[i].key);
            k1s_kv_unref(sn->o[i].kv);
            continue;
        }
        sn->o[out++] = sn->o[i];
    }
    sn->n = out;
    return 0;
}

typedef struct list_ctx {
    const k1s_resource_t *res;
    k1s_list_filter_t *filter;
    k1s_buf_t *out;
    json_t *objects; /* for Table output */
    int64_t limit, count;
    bool more;
    char *last_key;
    int64_t remaining;
    bool counting;
    /* snapshot merge */
    snapshot_t *snap;
    size_t snap_pos;
    const char *start;
} list_ctx_t;

static int list_iter(k1s_kv_t *kv, void *arg)
{
    list_ctx_t *c = arg;
    if (!k1s_list_filter_match(c->filter, kv->aux) && c->filter)
        return 0;
    if (c->counting) {
        c->remaining++;
        return 0;
    }
    if (c->limit > 0 && c->count >= c->limit) {
        c->more = true;
        if (c->filter)
            return 1;
        c->counting = true;
        c->remaining = 1;
        return 0;
    }
    if (c->objects) {
        json_t *o = k1s_obj_decode(kv->value);
        json_array_append_new(c->objects, k1s_convert_from_storage(c->res, o));
        json_decref(o);
    } else {
        if (c->count > 0)
            k1s_buf_putc(c->out, ',');
        k1s_bytes_t *b = k1s_convert_bytes(c->res, kv->value);
        k1s_buf_append(c->out, b->data, b->len);
        k1s_bytes_unref(b);
    }
    c->count++;
    free(c->last_key);
    c->last_key = k1s_xstrdup(kv->key);
    return 0;
}

/* Feeds list_iter the values at the snapshot: overrides merged into the current keys. */
static int snap_iter(k1s_kv_t *kv, void *arg)
{
    list_ctx_t *c = arg;
    snapshot_t *sn = c->snap;
    while (c->snap_pos < sn->n && strcmp(sn->o[c->snap_pos].key, kv->key) < 0) {
        override_t *o = &sn->o[c->snap_pos++];
        if (o->kv && (!c->start || strcmp(o->key, c->start) > 0) && list_iter(o->kv, c))
            return 1;
    }
    if (c->snap_pos < sn->n && !strcmp(sn->o[c->snap_pos].key, kv->key)) {
        override_t *o = &sn->o[c->snap_pos++];
        return o->kv ? list_iter(o->kv, c) : 0;
    }
    return list_iter(kv, c);
}

static void snap_rest(list_ctx_t *c)
{
    snapshot_t *sn = c->snap;
    while (c->snap_pos < sn->n) {
        override_t *o = &sn->o[c->snap_pos++];
        if (o->kv && (!c->start || strcmp(o->key, c->start) > 0) && list_iter(o->kv, c))
            return;
    }
}

/*
 * Which revision a list is served at: the current one, unless the request
 * names an older one with resourceVersionMatch=Exact or a continue token.
 * Answers and returns -1 on a bad or unservable request.
 */
static int64_t list_revision(k1s_api_req_t *r, int64_t cur, int64_t cont_rev)
{
    const char *rvs = k1s_http_req_query(r->http, "resourceVersion");
    const char *match = k1s_http_req_query(r->http, "resourceVersionMatch");
    bool has_rv = rvs && *rvs;
    if (match && *match && strcmp(match, "Exact") && strcmp(match, "NotOlderThan")) {
        k1s_api_fail(r, 400, "BadRequest",
                     "resourceVersionMatch: Unsupported value: \"%s\": supported values: "
                     "\"Exact\", \"NotOlderThan\"",
                     match);
        return -1;
    }
    if (match && *match && !has_rv) {
        k1s_api_fail(r, 400, "BadRequest",
                     "resourceVersionMatch is forbidden unless resourceVersion is provided");
        return -1;
    }
    if (cont_rev > 0) {
        if (has_rv) {
            k1s_api_fail(r, 400, "BadRequest",
                         "specifying resource version is not allowed when using continue");
            return -1;
        }
        return cont_rev;
    }
    if (!has_rv || !strcmp(rvs, "0"))
        return cur;
    char *end;
    long long n = strtoll(rvs, &end, 10);
    if (*end || n < 0) {
        k1s_api_fail(r, 400, "BadRequest", "invalid resource version: %s", rvs);
        return -1;
    }
    if (n > cur) {
        /* one server holds every write: a newer revision does not exist (yet) */
        k1s_api_fail(r, 504, "Timeout", "Too large resource version: %lld, current: %lld", n,
                     (long long)cur);
        return -1;
    }
    return match && !strcmp(match, "Exact") ? n : cur;
}

void k1s_rest_list(k1s_api_req_t *r)
{
    bool failed;
    k1s_list_filter_t *f = k1s_list_filter_new(r, &failed);
    if (failed)
        return;
    char *prefix = k1s_obj_prefix(r->res, r->ns);
    const char *cont = k1s_http_req_query(r->http, "continue");
    char *start = NULL;
    int64_t cont_rev = 0;
    if (cont && *cont) {
        start = parse_continue(cont, prefix, &cont_rev);
        if (!start) {
            free(prefix);
            k1s_list_filter_free(f);
            k1s_api_fail(r, 400, "BadRequest", "continue key is not valid: invalid token");
            return;
        }
    }
    k1s_buf_t out = K1S_BUF_INIT;
    list_ctx_t c = {0};
    c.res = r->res;
    c.filter = f;
    c.out = &out;
    c.limit = k1s_api_query_int(r->http, "limit", 0);
    bool table = k1s_api_wants_table(r);
    if (table)
        c.objects = json_array();
    int64_t cur = k1s_store_rev(r->api->store);
    int64_t rev = list_revision(r, cur, cont_rev);
    snapshot_t snap = {0};
    if (rev < 0 || (rev < cur && snapshot_build(r->api->store, prefix, rev, &snap) < 0)) {
        if (rev >= 0) {
            char *msg = cont_rev
                            ? k1s_xstrdup("The provided continue parameter is too old to display a "
                                          "consistent list result. You can start a new list "
                                          "without the continue parameter.")
                            : k1s_xasprintf("too old resource version: %lld (%lld)", (long long)rev,
                                            (long long)k1s_store_oldest_rev(r->api->store));
            k1s_api_fail(r, 410, "Expired", "%s", msg);
            free(msg);
        }
        json_decref(c.objects);
        free(start);
        free(prefix);
        k1s_list_filter_free(f);
        return;
    }
    if (rev < cur) {
        c.snap = &snap;
        c.start = start;
    }
    char av[128];
    k1s_resource_api_version(r->res, av, sizeof(av));
    k1s_buf_printf(&out, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{", r->res->kind,
                   av);
    size_t meta_pos = out.len;
    k1s_buf_puts(&out, "},\"items\":[");
    if (c.snap) {
        k1s_store_range(r->api->store, prefix, start, snap_iter, &c);
        if (!(c.more && c.filter))
            snap_rest(&c);
    } else {
        k1s_store_range(r->api->store, prefix, start, list_iter, &c);
    }
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, rev);
    char *tok = c.more && c.last_key ? make_continue(rev, c.last_key) : NULL;
    if (table) {
        json_t *t = k1s_api_table(r, c.objects, rv, tok, true);
        json_decref(c.objects);
        k1s_buf_free(&out);
        k1s_api_send_json(r, 200, t);
    } else {
        k1s_buf_t meta = K1S_BUF_INIT;
        k1s_buf_printf(&meta, "\"resourceVersion\":\"%s\"", rv);
        if (tok) {
            k1s_buf_printf(&meta, ",\"continue\":\"%s\"", tok);
            if (!f)
                k1s_buf_printf(&meta, ",\"remainingItemCount\":%" PRId64, c.remaining);
        }
        k1s_buf_puts(&out, "]}\n");
        /* splice the metadata in */
        k1s_buf_t final = K1S_BUF_INIT;
        k1s_buf_reserve(&final, out.len + meta.len);
        k1s_buf_append(&final, out.data, meta_pos);
        k1s_buf_append(&final, meta.data, meta.len);
        k1s_buf_append(&final, out.data + meta_pos, out.len - meta_pos);
        k1s_api_send_bytes(r, 200, final.data, final.len);
        k1s_buf_free(&final);
        k1s_buf_free(&meta);
        k1s_buf_free(&out);
    }
    free(tok);
    free(c.last_key);
    snapshot_free(&snap);
    free(start);
    free(prefix);
    k1s_list_filter_free(f);
}

void k1s_rest_get(k1s_api_req_t *r)
{
    char *key = k1s_obj_key(r->res, r->ns, r->name);
    k1s_kv_t *kv = k1s_store_get(r->api->store, key);
    free(key);
    if (!kv) {
        k1s_api_not_found(r, r->name);
        return;
    }
    if (k1s_api_wants_table(r)) {
        json_t *objs = json_array();
        json_t *o = k1s_obj_decode(kv->value);
        json_array_append_new(objs, k1s_convert_from_storage(r->res, o));
        json_decref(o);
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRId64, kv->mod_rev);
        json_t *t = k1s_api_table(r, objs, rv, NULL, true);
        json_decref(objs);
        k1s_api_send_json(r, 200, t);
        return;
    }
    k1s_api_send_stored(r, 200, kv);
}
