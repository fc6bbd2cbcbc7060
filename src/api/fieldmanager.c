/*
 * The field manager (see fieldmanager.h): reads and writes
 * metadata.managedFields around every write and performs server-side apply.
 * It follows k8s.io/apimachinery/pkg/util/managedfields: entries are keyed
 * by manager, operation and subresource (and API version for Update);
 * an Update takes the fields it adds or changes from every other entry;
 * an Apply owns exactly the fields of its configuration, loses the ones it
 * stops applying (which leave the object unless someone else owns them), and
 * fails with a Conflict for fields it would change that others own, unless
 * forced. The "kubectl" manager may take over fields that the object's
 * kubectl.kubernetes.io/last-applied-configuration says client-side apply
 * set to the same value, which is how `kubectl apply --server-side` takes over
 * from client-side apply, and keeps that annotation current.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/apply.h"
#include "api/fieldmanager.h"
#include "api/openapi.h"
#include "api/fieldset.h"
#include "api/validate.h"
#include "lib/buf.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
#define MAX_MANAGER_LEN 128
#define MAX_UPDATE_MANAGERS 10
#define ANCIENT "ancient-changes"
#define BEFORE_FIRST_APPLY "before-first-apply"

/* ---------- managedFields entries ---------- */

typedef struct entry {
    char *manager, *operation, *api_version, *time, *sub;
    json_t *set;
} entry_t;

typedef struct mf {
    entry_t *v;
    size_t n, cap;
} mf_t;

static char *dup_or_null(const char *s)
{
    return s && *s ? k1s_xstrdup(s) : NULL;
}

static entry_t *mf_add(mf_t *m, const char *manager, const char *op, const char *av,
                       const char *time, const char *sub, json_t *set)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->v = k1s_xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    entry_t *e = &m->v[m->n++];
    e->manager = k1s_xstrdup(manager ? manager : "");
    e->operation = k1s_xstrdup(op);
    e->api_version = dup_or_null(av);
    e->time = dup_or_null(time);
    e->sub = dup_or_null(sub);
    e->set = set;
    return e;
}

static void entry_clear(entry_t *e)
{
    free(e->manager);
    free(e->operation);
    free(e->api_version);
    free(e->time);
    free(e->sub);
    json_decref(e->set);
}

static void mf_free(mf_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        entry_clear(&m->v[i]);
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}

static bool same_str(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* The entry for this manager identity, or NULL: Apply entries ignore the API version. */
static entry_t *mf_find(mf_t *m, const char *manager, const char *op, const char *av,
                        const char *sub)
{
    for (size_t i = 0; i < m->n; i++) {
        entry_t *e = &m->v[i];
        if (same_str(e->manager, manager) && !strcmp(e->operation, op) && same_str(e->sub, sub) &&
            (!strcmp(op, "Apply") || same_str(e->api_version, av)))
            return e;
    }
    return NULL;
}

/* Drops entries with empty sets. */
static void mf_compact(mf_t *m)
{
    size_t j = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (k1s_fset_empty(m->v[i].set)) {
            entry_clear(&m->v[i]);
            continue;
        }
        m->v[j++] = m->v[i];
    }
    m->n = j;
}

/* Decodes metadata.managedFields; -EINVAL if it is not a valid list. */
static int mf_decode(const json_t *arr, mf_t *m)
{
    memset(m, 0, sizeof(*m));
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return -EINVAL;
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it)
    {
        const char *op = json_string_value(json_object_get(it, "operation"));
        const char *ft = json_string_value(json_object_get(it, "fieldsType"));
        if (!json_is_object(it) || !op || (strcmp(op, "Apply") && strcmp(op, "Update")) ||
            (ft && strcmp(ft, "FieldsV1"))) {
            mf_free(m);
            return -EINVAL;
        }
        json_t *set = NULL;
        const json_t *v1 = json_object_get(it, "fieldsV1");
        if (!v1) {
            set = k1s_fset_new();
        } else if (k1s_fset_from_v1(v1, &set, NULL) < 0) {
            mf_free(m);
            return -EINVAL;
        }
        const char *mgr = json_string_value(json_object_get(it, "manager"));
        const char *av = json_string_value(json_object_get(it, "apiVersion"));
        const char *sub = json_string_value(json_object_get(it, "subresource"));
        entry_t *e = mf_find(m, mgr, op, av, sub);
        if (e) {
            /* duplicate identities merge, as decoding into a map does */
            json_t *u = k1s_fset_union(e->set, set);
            json_decref(e->set);
            json_decref(set);
            e->set = u;
            continue;
        }
        mf_add(m, mgr, op, av, json_string_value(json_object_get(it, "time")), sub, set);
    }
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry_t *p = a, *q = b;
    int c = strcmp(p->operation, q->operation);
    if (c)
        return c;
    /* RFC 3339 times in UTC sort as strings; entries without a time come first */
    c = strcmp(p->time ? p->time : "", q->time ? q->time : "");
    if (c)
        return c;
    c = strcmp(p->manager, q->manager);
    if (c)
        return c;
    c = strcmp(p->api_version ? p->api_version : "", q->api_version ? q->api_version : "");
    if (c)
        return c;
    return strcmp(p->sub ? p->sub : "", q->sub ? q->sub : "");
}

/*
 * Kubernetes keeps at most ten Update entries: the oldest are merged into an
 * "ancient-changes" entry per API version (its capManagersManager).
 */
static void cap_updates(mf_t *m)
{
    for (;;) {
        size_t n = 0, oldest = (size_t)-1;
        for (size_t i = 0; i < m->n; i++) {
            entry_t *e = &m->v[i];
            if (strcmp(e->operation, "Update"))
                continue;
            n++;
            if (strcmp(e->manager, ANCIENT) &&
                (oldest == (size_t)-1 ||
                 strcmp(e->time ? e->time : "", m->v[oldest].time ? m->v[oldest].time : "") < 0))
                oldest = i;
        }
        if (n <= MAX_UPDATE_MANAGERS || oldest == (size_t)-1)
            return;
        entry_t old = m->v[oldest];
        m->v[oldest] = m->v[--m->n];
        entry_t *b = mf_find(m, ANCIENT, "Update", old.api_version, NULL);
        if (!b)
            b = mf_add(m, ANCIENT, "Update", old.api_version, old.time, NULL, k1s_fset_new());
        json_t *u = k1s_fset_union(b->set, old.set);
        json_decref(b->set);
        b->set = u;
        free(b->time);
        b->time = old.time ? k1s_xstrdup(old.time) : NULL;
        entry_clear(&old);
    }
}

/* Writes m into obj's metadata (sorted as Kubernetes sorts them), or removes the field. */
static void mf_store(mf_t *m, json_t *obj)
{
    mf_compact(m);
    cap_updates(m);
    json_t *meta = k1s_obj_meta(obj);
    if (m->n == 0) {
        json_object_del(meta, "managedFields");
        return;
    }
    qsort(m->v, m->n, sizeof(*m->v), cmp_entry);
    json_t *arr = json_array();
    for (size_t i = 0; i < m->n; i++) {
        entry_t *e = &m->v[i];
        json_t *o = json_object();
        json_object_set_new(o, "manager", json_string(e->manager));
        json_object_set_new(o, "operation", json_string(e->operation));
        if (e->api_version)
            json_object_set_new(o, "apiVersion", json_string(e->api_version));
        if (e->time)
            json_object_set_new(o, "time", json_string(e->time));
        json_object_set_new(o, "fieldsType", json_string("FieldsV1"));
        json_object_set_new(o, "fieldsV1", k1s_fset_to_v1(e->set));
        if (e->sub)
            json_object_set_new(o, "subresource", json_string(e->sub));
        json_array_append_new(arr, o);
    }
    json_object_set_new(meta, "managedFields", arr);
}

/* ---------- what a write may own ---------- */

/*
 * Keeps out of a set what no manager owns: apiVersion, kind, the metadata
 * the server sets, and (structured-merge-diff's reset fields) status for a
 * write to the main resource of a type with a status subresource, and
 * everything but status for a write to its status subresource.
 */
static void filter(const k1s_resource_t *res, const char *sub, json_t *set)
{
    static const char *const meta_fields[] = {"f:name",
                                              "f:namespace",
                                              "f:creationTimestamp",
                                              "f:selfLink",
                                              "f:uid",
                                              "f:generation",
                                              "f:managedFields",
                                              "f:resourceVersion",
                                              "f:clusterName",
                                              "f:deletionTimestamp",
                                              "f:deletionGracePeriodSeconds",
                                              "."};
    if (sub && !strcmp(sub, "status")) {
        json_t *st = json_incref(json_object_get(set, "f:status"));
        json_object_clear(set);
        if (st)
            json_object_set_new(set, "f:status", st);
        return;
    }
    json_object_del(set, "f:apiVersion");
    json_object_del(set, "f:kind");
    json_t *meta = json_object_get(set, "f:metadata");
    if (meta) {
        for (size_t i = 0; i < K1S_ARRAY_SIZE(meta_fields); i++)
            json_object_del(meta, meta_fields[i]);
        if (json_object_size(meta) == 0)
            json_object_del(set, "f:metadata");
    }
    if (res->subresources & K1S_SUB_STATUS)
        json_object_del(set, "f:status");
}

/* A deep copy of obj without metadata.managedFields. */
static json_t *without_mf(const json_t *obj)
{
    json_t *o = json_deep_copy(obj);
    json_t *meta = json_object_get(o, "metadata");
    if (meta)
        json_object_del(meta, "managedFields");
    return o;
}

static const char *write_sub(const k1s_api_req_t *r)
{
    if (r->sub && !strcmp(r->sub, "status"))
        return "status";
    if (r->answer_scale)
        return "scale";
    return NULL;
}

/* ---------- requests ---------- */

bool k1s_fm_begin(k1s_api_req_t *r, const char *options_kind, bool apply)
{
    const char *fm = k1s_http_req_query(r->http, "fieldManager");
    const char *force = k1s_http_req_query(r->http, "force");
    json_t *causes = json_array();
    if (!apply && force && !strcmp(options_kind, "PatchOptions"))
        json_array_append_new(
            causes,
            json_pack("{s:s, s:s, s:s}", "reason", "FieldValueForbidden", "message",
                      "Forbidden: may not be specified for non-apply patch", "field", "force"));
    if (apply && (!fm || !*fm))
        json_array_append_new(causes,
                              json_pack("{s:s, s:s, s:s}", "reason", "FieldValueRequired",
                                        "message", "Required value: is required for apply patch",
                                        "field", "fieldManager"));
    if (fm && strlen(fm) > MAX_MANAGER_LEN) {
        char *m = k1s_xasprintf("Too long: may not be more than %d bytes", MAX_MANAGER_LEN);
        json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueTooLong",
                                                "message", m, "field", "fieldManager"));
        free(m);
    }
    for (const char *p = fm; p && *p && json_array_size(causes) == 0; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            char field[64];
            snprintf(field, sizeof(field), "fieldManager[%d]", (int)(p - fm));
            json_array_append_new(
                causes,
                json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid", "message",
                          "Invalid value: \"\": all characters must be printable", "field", field));
        }
    }
    if (json_array_size(causes)) {
        char kg[64];
        snprintf(kg, sizeof(kg), "%s.meta.k8s.io", options_kind);
        char *msg = k1s_validate_message(kg, "", causes);
        json_t *s = k1s_status_new(422, "Invalid", msg);
        json_object_set_new(s, "details",
                            json_pack("{s:s, s:s, s:o}", "group", "meta.k8s.io", "kind",
                                      options_kind, "causes", causes));
        free(msg);
        k1s_api_send_json(r, 422, s);
        return false;
    }
    json_decref(causes);
    free(r->manager);
    if (fm && *fm) {
        r->manager = k1s_xstrdup(fm);
    } else {
        /* as Kubernetes derives it: the User-Agent up to the first '/' */
        const char *ua = k1s_http_req_header(r->http, "User-Agent");
        size_t n = ua ? strcspn(ua, "/") : 0;
        if (n > MAX_MANAGER_LEN)
            n = MAX_MANAGER_LEN;
        r->manager = k1s_xstrndup(ua ? ua : "", n);
    }
    r->force = force && (!strcmp(force, "true") || !strcmp(force, "1"));
    return true;
}

static bool is_reset(const json_t *arr)
{
    if (!json_is_array(arr))
        return false;
    if (json_array_size(arr) == 0)
        return true;
    const json_t *e = json_array_get(arr, 0);
    return json_array_size(arr) == 1 && json_is_object(e) && json_object_size(e) == 0;
}

/* obj's managedFields with every time removed (new reference). */
static json_t *mf_without_times(const json_t *obj)
{
    json_t *mf = json_deep_copy(json_object_get(json_object_get(obj, "metadata"), "managedFields"));
    size_t i;
    json_t *e;
    json_array_foreach(mf, i, e)
    {
        json_object_del(e, "time");
    }
    return mf;
}

/* obj without managedFields and resourceVersion (new reference). */
static json_t *bare(const json_t *obj)
{
    json_t *o = without_mf(obj);
    json_t *meta = json_object_get(o, "metadata");
    if (meta)
        json_object_del(meta, "resourceVersion");
    return o;
}

/*
 * Kubernetes' IgnoreManagedFieldsTimestampsTransformer: a write that changes
 * nothing but managedFields times (an apply of an unchanged configuration
 * whose merge only differed before defaulting) keeps the stored times, so it
 * stays a no-op.
 */
static void keep_times_if_unchanged(const json_t *old, json_t *obj)
{
    if (!old)
        return;
    json_t *a = bare(old), *b = bare(obj);
    bool same = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (!same)
        return;
    json_t *ma = mf_without_times(old), *mb = mf_without_times(obj);
    same = json_equal(ma, mb);
    json_decref(ma);
    json_decref(mb);
    json_t *omf = json_object_get(json_object_get(old, "metadata"), "managedFields");
    if (same && omf)
        json_object_set_new(k1s_obj_meta(obj), "managedFields", json_deep_copy(omf));
}

void k1s_fm_update(k1s_api_req_t *r, const json_t *old, json_t *obj)
{
    if (r->applied) {
        keep_times_if_unchanged(old, obj);
        return;
    }
    const char *sub = write_sub(r);
    json_t *meta = k1s_obj_meta(obj);
    const json_t *req_mf = json_object_get(meta, "managedFields");
    const json_t *old_mf =
        old ? json_object_get(json_object_get(old, "metadata"), "managedFields") : NULL;
    mf_t m = {0};
    if (!sub && is_reset(req_mf)) {
        /* an empty list resets */
    } else if (sub || mf_decode(req_mf, &m) < 0 || m.n == 0) {
        /* subresources keep the stored entries; so does a request without (valid) ones */
        mf_free(&m);
        if (mf_decode(old_mf, &m) < 0)
            mf_free(&m);
    }
    /* managedFields themselves are compared too, but filter() drops them: cheaper than copies */
    json_t *lo = old ? json_incref((json_t *)old) : json_object();
    json_t *added = k1s_fset_new(), *modified = k1s_fset_new(), *removed = k1s_fset_new();
    const json_t *schema = k1s_resource_schema(r->res);
    k1s_apply_compare(lo, obj, schema, added, modified, removed);
    json_t *changed = json_incref(added);
    k1s_fset_add(changed, modified);
    filter(r->res, sub, changed);
    filter(r->res, sub, removed);
    for (size_t i = 0; i < m.n; i++) {
        json_t *d = k1s_fset_difference(m.v[i].set, changed);
        json_t *d2 = k1s_fset_difference(d, removed);
        json_decref(d);
        json_decref(m.v[i].set);
        m.v[i].set = d2;
    }
    if (!k1s_fset_empty(changed)) {
        char av[128], now[32];
        k1s_resource_api_version(r->res, av, sizeof(av));
        k1s_time_rfc3339(now);
        entry_t *e = mf_find(&m, r->manager, "Update", av, sub);
        if (!e)
            mf_add(&m, r->manager, "Update", av, now, sub, json_incref(changed));
        else
            k1s_fset_add(e->set, changed);
        if (e) {
            free(e->time);
            e->time = k1s_xstrdup(now);
        }
    }
    mf_store(&m, obj);
    mf_free(&m);
    json_decref(changed);
    json_decref(added);
    json_decref(modified);
    json_decref(removed);
    json_decref(lo);
}

/* ---------- apply ---------- */

/*
 * The fields client-side apply set that still hold the values its
 * last-applied-configuration annotation records: the "kubectl" manager
 * may take these over without a conflict. NULL if there is no annotation.
 */
static json_t *csa_allowed(k1s_api_req_t *r, const json_t *live, const char *sub)
{
    const json_t *ann = json_object_get(json_object_get(live, "metadata"), "annotations");
    const char *text = json_string_value(json_object_get(ann, LAST_APPLIED));
    if (!text || !*text)
        return NULL;
    json_t *cfg = json_loads(text, 0, NULL);
    char av[128];
    k1s_resource_api_version(r->res, av, sizeof(av));
    if (!json_is_object(cfg) ||
        !k1s_streq(json_string_value(json_object_get(cfg, "apiVersion")), av)) {
        json_decref(cfg);
        return NULL;
    }
    const json_t *schema = k1s_resource_schema(r->res);
    json_t *set = k1s_apply_fieldset(cfg, schema);
    json_t *added = k1s_fset_new(), *modified = k1s_fset_new(), *removed = k1s_fset_new();
    json_t *lo = without_mf(live);
    k1s_apply_compare(cfg, lo, schema, added, modified, removed);
    json_t *a = k1s_fset_difference(set, modified);
    json_t *b = k1s_fset_difference(a, added);
    json_t *c = k1s_fset_difference(b, removed);
    filter(r->res, sub, c);
    json_decref(a);
    json_decref(b);
    json_decref(set);
    json_decref(added);
    json_decref(modified);
    json_decref(removed);
    json_decref(lo);
    json_decref(cfg);
    return c;
}

typedef struct conflict_ctx {
    const entry_t *e;
    k1s_buf_t *msg;
    json_t *causes;
    bool single;
} conflict_ctx_t;

static void put_manager(k1s_buf_t *b, const entry_t *e)
{
    k1s_buf_printf(b, "\"%s\"", e->manager);
    if (e->sub)
        k1s_buf_printf(b, " with subresource \"%s\"", e->sub);
    if (!strcmp(e->operation, "Update"))
        k1s_buf_printf(b, " using %s", e->api_version ? e->api_version : "");
}

static void add_conflict(const char *path, void *arg)
{
    conflict_ctx_t *c = arg;
    k1s_buf_t who = K1S_BUF_INIT;
    k1s_buf_puts(&who, "conflict with ");
    put_manager(&who, c->e);
    json_array_append_new(c->causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldManagerConflict",
                                               "message", who.data, "field", path));
    if (c->single)
        k1s_buf_printf(c->msg, "%s: %s", who.data, path);
    else
        k1s_buf_printf(c->msg, "\n- %s", path);
    k1s_buf_free(&who);
}

static void count_member(const char *path, void *arg)
{
    (void)path;
    (*(size_t *)arg)++;
}

static int cmp_by_manager(const void *a, const void *b)
{
    const entry_t *const *p = a, *const *q = b;
    return strcmp((*p)->manager, (*q)->manager);
}

/* Answers 409 with the conflicts (conf[i] for m->v[i], NULL for none) as Kubernetes words them. */
static void send_conflicts(k1s_api_req_t *r, mf_t *m, json_t **conf)
{
    size_t total = 0, nmgr = 0;
    const entry_t **order = k1s_xcalloc(m->n + 1, sizeof(*order));
    for (size_t i = 0; i < m->n; i++) {
        if (!conf[i])
            continue;
        k1s_fset_foreach(conf[i], count_member, &total);
        order[nmgr++] = &m->v[i];
    }
    qsort(order, nmgr, sizeof(*order), cmp_by_manager);
    k1s_buf_t msg = K1S_BUF_INIT;
    json_t *causes = json_array();
    if (total == 1)
        k1s_buf_puts(&msg, "Apply failed with 1 conflict: ");
    else
        k1s_buf_printf(&msg, "Apply failed with %zu conflicts: ", total);
    for (size_t k = 0; k < nmgr; k++) {
        size_t i = (size_t)(order[k] - m->v);
        conflict_ctx_t c = {order[k], &msg, causes, total == 1};
        if (total != 1) {
            if (k)
                k1s_buf_putc(&msg, '\n');
            k1s_buf_puts(&msg, "conflicts with ");
            put_manager(&msg, order[k]);
            k1s_buf_putc(&msg, ':');
        }
        k1s_fset_foreach(conf[i], add_conflict, &c);
    }
    free(order);
    json_t *s = k1s_status_new(409, "Conflict", msg.data);
    json_object_set_new(s, "details", json_pack("{s:o}", "causes", causes));
    k1s_buf_free(&msg);
    k1s_api_send_json(r, 409, s);
}

json_t *k1s_fm_apply(k1s_api_req_t *r, const json_t *live, const json_t *cfg)
{
    const json_t *cmeta = json_object_get(cfg, "metadata");
    const json_t *cmf = json_object_get(cmeta, "managedFields");
    if (cmf && !json_is_null(cmf)) {
        k1s_api_fail(r, 400, "BadRequest", "metadata.managedFields must be nil");
        return NULL;
    }
    const char *sub = write_sub(r);
    const json_t *schema = k1s_resource_schema(r->res);
    mf_t m = {0};
    if (live &&
        mf_decode(json_object_get(json_object_get(live, "metadata"), "managedFields"), &m) < 0)
        mf_free(&m);
    json_t *lo = live ? without_mf(live) : json_object();
    if (live && m.n == 0) {
        /* an object nobody manages yet (written before managedFields were kept): its
         * fields go to "before-first-apply", so the apply neither drops nor silently
         * takes them, as Kubernetes' skipNonAppliedManager does */
        json_t *empty = json_object(), *added = k1s_fset_new(), *mod = k1s_fset_new(),
               *rem = k1s_fset_new();
        k1s_apply_compare(empty, lo, schema, added, mod, rem);
        filter(r->res, NULL, added);
        char av[128], now[32];
        k1s_resource_api_version(r->res, av, sizeof(av));
        k1s_time_rfc3339(now);
        if (!k1s_fset_empty(added))
            mf_add(&m, BEFORE_FIRST_APPLY, "Update", av, now, NULL, json_incref(added));
        json_decref(empty);
        json_decref(added);
        json_decref(mod);
        json_decref(rem);
    }
    json_t *merged = k1s_apply_merge(lo, cfg, schema);
    json_t *newset = k1s_apply_fieldset(cfg, schema);
    filter(r->res, sub, newset);

    entry_t *self = mf_find(&m, r->manager, "Apply", NULL, sub);
    size_t self_i = self ? (size_t)(self - m.v) : (size_t)-1;
    /* fields this manager applied before and applies no more leave, unless someone owns them */
    if (self) {
        json_t *keep = json_deep_copy(newset);
        for (size_t i = 0; i < m.n; i++) {
            if (i == self_i)
                continue;
            json_t *u = k1s_fset_union(keep, m.v[i].set);
            json_decref(keep);
            keep = u;
        }
        json_t *rm = k1s_fset_difference(self->set, newset);
        k1s_apply_prune(merged, rm, keep, schema);
        json_decref(rm);
        json_decref(keep);
    }

    json_t *added = k1s_fset_new(), *modified = k1s_fset_new(), *removed = k1s_fset_new();
    k1s_apply_compare(live ? lo : NULL, merged, schema, added, modified, removed);
    json_t *changed = k1s_fset_union(added, modified);
    filter(r->res, sub, changed);
    filter(r->res, sub, removed);
    size_t nconf = m.n;
    json_t **conf = k1s_xcalloc(nconf + 1, sizeof(json_t *));
    bool any = false;
    for (size_t i = 0; i < m.n; i++) {
        if (i == self_i)
            continue;
        json_t *c = k1s_fset_intersection(m.v[i].set, changed);
        if (k1s_fset_empty(c)) {
            json_decref(c);
            continue;
        }
        conf[i] = c;
        any = true;
    }
    if (any && !r->force && !strcmp(r->manager, "kubectl") && live) {
        /* taking over from client-side apply: what its annotation set is not a conflict */
        json_t *allowed = csa_allowed(r, live, sub);
        if (allowed) {
            any = false;
            for (size_t i = 0; i < m.n; i++) {
                if (!conf[i])
                    continue;
                json_t *d = k1s_fset_difference(conf[i], allowed);
                if (!k1s_fset_empty(d))
                    any = true;
                json_decref(d);
            }
            if (any) {
                for (size_t i = 0; i < m.n; i++) {
                    if (!conf[i])
                        continue;
                    json_t *d = k1s_fset_difference(conf[i], allowed);
                    json_decref(conf[i]);
                    conf[i] = k1s_fset_empty(d) ? NULL : d;
                    if (!conf[i])
                        json_decref(d);
                }
            }
            json_decref(allowed);
        }
    }
    json_t *result = NULL;
    if (any && !r->force) {
        send_conflicts(r, &m, conf);
        goto out;
    }
    for (size_t i = 0; i < m.n; i++) {
        if (i == self_i)
            continue;
        json_t *d = k1s_fset_difference(m.v[i].set, changed);
        json_t *d2 = k1s_fset_difference(d, removed);
        json_decref(d);
        json_decref(m.v[i].set);
        m.v[i].set = d2;
    }
    char now[32];
    k1s_time_rfc3339(now);
    bool noop = live && json_equal(lo, merged);
    if (!self) {
        self = mf_add(&m, r->manager, "Apply", NULL, now, sub, json_incref(newset));
    } else {
        json_decref(self->set);
        self->set = json_incref(newset);
        if (!noop || !self->time) {
            free(self->time);
            self->time = k1s_xstrdup(now);
        }
    }
    char av[128];
    free(self->api_version);
    self->api_version = k1s_xstrdup(k1s_resource_api_version(r->res, av, sizeof(av)));
    /* kubectl's server-side apply keeps client-side apply's annotation in step */
    const json_t *ann = json_object_get(json_object_get(merged, "metadata"), "annotations");
    if (!strcmp(r->manager, "kubectl") && json_string_value(json_object_get(ann, LAST_APPLIED))) {
        json_t *c = json_deep_copy(cfg);
        json_t *cann = json_object_get(json_object_get(c, "metadata"), "annotations");
        if (cann) {
            json_object_del(cann, LAST_APPLIED);
            if (json_object_size(cann) == 0)
                json_object_del(json_object_get(c, "metadata"), "annotations");
        }
        char *text = json_dumps(c, JSON_COMPACT);
        json_object_set_new((json_t *)ann, LAST_APPLIED, json_string(text ? text : ""));
        free(text);
        json_decref(c);
    }
    mf_store(&m, merged);
    r->applied = true;
    result = merged;
    merged = NULL;
out:
    for (size_t i = 0; i < nconf; i++)
        json_decref(conf[i]);
    free(conf);
    mf_free(&m);
    json_decref(merged);
    json_decref(lo);
    json_decref(newset);
    json_decref(changed);
    json_decref(added);
    json_decref(modified);
    json_decref(removed);
    return result;
}

json_t *k1s_fm_scale_config(k1s_api_req_t *r, const json_t *scale)
{
    const char *kind = json_string_value(json_object_get(scale, "kind"));
    const char *av = json_string_value(json_object_get(scale, "apiVersion"));
    if ((kind && strcmp(kind, "Scale")) || (av && strcmp(av, "autoscaling/v1"))) {
        k1s_api_fail(r, 400, "BadRequest",
                     "the object provided is unrecognized (must be of type Scale): kind %s given",
                     kind ? kind : "");
        return NULL;
    }
    char wav[128];
    json_t *meta = json_pack("{s:s}", "name", r->name);
    const json_t *rv = json_object_get(json_object_get(scale, "metadata"), "resourceVersion");
    if (json_is_string(rv))
        json_object_set(meta, "resourceVersion", (json_t *)rv);
    json_t *cfg = json_pack("{s:s, s:s, s:o}", "apiVersion",
                            k1s_resource_api_version(r->res, wav, sizeof(wav)), "kind",
                            r->res->kind, "metadata", meta);
    const json_t *rep = json_object_get(json_object_get(scale, "spec"), "replicas");
    if (rep)
        json_object_set_new(cfg, "spec", json_pack("{s:O}", "replicas", rep));
    return cfg;
}
