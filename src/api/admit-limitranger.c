/*
 * The LimitRanger admission plugin (plugin/pkg/admission/limitranger): the
 * LimitRanges of a namespace give containers their default requests and
 * limits (mutating, recorded in the kubernetes.io/limit-ranger annotation)
 * and bound them (validating): min, max and maxLimitRequestRatio per
 * Container, per Pod (the pod's effective requests/limits) and per
 * PersistentVolumeClaim (its storage request), with Kubernetes' messages.
 * Pods are handled on create only (their resources are immutable after),
 * claims on create and update.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admit-int.h"
#include "api/apiserver-int.h"
#include "lib/buf.h"

#define ANNOTATION "kubernetes.io/limit-ranger"

typedef struct lr_list {
    json_t **items;
    size_t n;
} lr_list_t;

static int collect(k1s_kv_t *kv, void *arg)
{
    lr_list_t *l = arg;
    l->items = k1s_xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
    l->items[l->n++] = k1s_obj_decode(kv->value);
    return 0;
}

static void lr_load(k1s_api_req_t *r, lr_list_t *l)
{
    const k1s_resource_t *lrr = k1s_registry_find("", "v1", "limitranges");
    char *prefix = k1s_obj_prefix(lrr, r->ns);
    k1s_store_range(r->api->store, prefix, NULL, collect, l);
    free(prefix);
}

static void lr_free(lr_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->items[i]);
    free(l->items);
}

static bool applies(const k1s_api_req_t *r, bool *is_pod)
{
    if (r->res->group[0] || r->sub || !r->obj)
        return false;
    const char *op = k1s_admit_operation(r);
    *is_pod = !strcmp(r->res->plural, "pods");
    if (*is_pod)
        return !strcmp(op, "CREATE");
    return !strcmp(r->res->plural, "persistentvolumeclaims") &&
           (!strcmp(op, "CREATE") || !strcmp(op, "UPDATE"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sets the missing entries of which ("limits"/"requests") from defaults; appends the note. */
static void merge_one(json_t *c, const char *which, const json_t *defaults, const char *what,
                      const char *prefix, k1s_buf_t *notes)
{
    if (json_object_size(defaults) == 0)
        return;
    json_t *res = json_object_get(c, "resources");
    if (!json_is_object(res)) {
        res = json_object();
        json_object_set_new(c, "resources", res);
    }
    json_t *list = json_object_get(res, which);
    bool created = false;
    if (!json_is_object(list)) {
        list = json_object();
        json_object_set_new(res, which, list);
        created = true;
    }
    const char *set[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)defaults, k, v)
    {
        if (json_object_get(list, k) || n == 64)
            continue;
        json_object_set(list, k, v);
        set[n++] = k;
    }
    if (n == 0) {
        if (created)
            json_object_del(res, which);
        return;
    }
    qsort(set, n, sizeof(set[0]), cmp_str);
    if (notes->len)
        k1s_buf_puts(notes, "; ");
    for (size_t i = 0; i < n; i++)
        k1s_buf_printf(notes, "%s%s", i ? ", " : "", set[i]);
    k1s_buf_printf(notes, " %s for %s %s", what, prefix,
                   json_string_value(json_object_get(c, "name")));
}

int k1s_admit_limitranger_mutate(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    bool is_pod;
    if (!applies(r, &is_pod) || !is_pod)
        return 0;
    lr_list_t l = {0};
    lr_load(r, &l);
    if (l.n == 0) {
        lr_free(&l);
        return 0;
    }
    /* defaultContainerResourceRequirements: later LimitRanges' values win */
    json_t *dreq = json_object(), *dlim = json_object();
    for (size_t i = 0; i < l.n; i++) {
        size_t j;
        json_t *item;
        json_array_foreach(json_object_get(json_object_get(l.items[i], "spec"), "limits"), j, item)
        {
            const char *type = json_string_value(json_object_get(item, "type"));
            if (!type || strcmp(type, "Container"))
                continue;
            json_t *d = json_object_get(item, "defaultRequest");
            if (json_is_object(d))
                json_object_update(dreq, d);
            d = json_object_get(item, "default");
            if (json_is_object(d))
                json_object_update(dlim, d);
        }
    }
    lr_free(&l);
    json_t *spec = json_object_get(r->obj, "spec");
    k1s_buf_t notes = K1S_BUF_INIT;
    static const char *const lists[] = {"containers", "initContainers"};
    static const char *const prefixes[] = {"container", "init container"};
    for (int li = 0; li < 2; li++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[li]), i, c)
        {
            /* requests before limits, as mergeContainerResources notes them */
            k1s_buf_t one = K1S_BUF_INIT;
            merge_one(c, "requests", dreq, "request", prefixes[li], &one);
            merge_one(c, "limits", dlim, "limit", prefixes[li], &one);
            if (one.len) {
                if (notes.len)
                    k1s_buf_puts(&notes, "; ");
                k1s_buf_puts(&notes, one.data);
            }
            k1s_buf_free(&one);
        }
    }
    json_decref(dreq);
    json_decref(dlim);
    if (notes.len) {
        json_t *meta = k1s_obj_meta(r->obj);
        json_t *ann = json_object_get(meta, "annotations");
        if (!json_is_object(ann)) {
            ann = json_object();
            json_object_set_new(meta, "annotations", ann);
        }
        char *v = k1s_xasprintf("LimitRanger plugin set: %s", notes.data);
        json_object_set_new(ann, ANNOTATION, json_string(v));
        free(v);
    }
    k1s_buf_free(&notes);
    return 0;
}

/* ---------- validation ---------- */

typedef struct errs {
    k1s_buf_t b;
    int n;
} errs_t;

static void err_add(errs_t *e, const char *fmt, ...) K1S_PRINTF(2, 3);
static void err_add(errs_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    if (e->n++)
        k1s_buf_puts(&e->b, ", ");
    k1s_buf_puts(&e->b, s);
    free(s);
}

/* A value of a resource list: milli and its string (from a JSON quantity, or a computed sum). */
typedef struct val {
    bool exists;
    int64_t m;
    char *s;
} val_t;

static val_t val_get(const json_t *list, bool summed, const char *k)
{
    val_t v = {0};
    const json_t *j = json_object_get(list, k);
    if (!j)
        return v;
    if (summed) {
        v.exists = true;
        v.m = json_integer_value(j);
        v.s = k1s_res_format(v.m, k1s_res_format_of(k));
        return v;
    }
    if (!k1s_res_milli(j, &v.m))
        return v;
    v.exists = true;
    v.s = k1s_res_string(j);
    return v;
}

/*
 * minConstraint, maxConstraint, maxRequestConstraint and
 * limitRequestRatioConstraint over one requests/limits pair. summed: the
 * lists hold milli integers (a pod's totals) instead of JSON quantities.
 */
static void check_item(errs_t *e, const char *type, const json_t *item, const json_t *req,
                       const json_t *lim, bool summed, bool request_only)
{
    const char *k;
    json_t *q;
    json_object_foreach(json_object_get(item, "min"), k, q)
    {
        int64_t enf;
        if (!k1s_res_milli(q, &enf))
            continue;
        char *es = k1s_res_string(q);
        val_t rq = val_get(req, summed, k), lm = val_get(lim, summed, k);
        if (!rq.exists)
            err_add(e, "minimum %s usage per %s is %s.  No request is specified", k, type, es);
        else if (rq.m < enf)
            err_add(e, "minimum %s usage per %s is %s, but request is %s", k, type, es, rq.s);
        else if (lm.exists && lm.m < enf)
            err_add(e, "minimum %s usage per %s is %s, but limit is %s", k, type, es, lm.s);
        free(es);
        free(rq.s);
        free(lm.s);
    }
    json_object_foreach(json_object_get(item, "max"), k, q)
    {
        int64_t enf;
        if (!k1s_res_milli(q, &enf))
            continue;
        char *es = k1s_res_string(q);
        val_t rq = val_get(req, summed, k), lm = val_get(lim, summed, k);
        if (request_only) {
            if (!rq.exists)
                err_add(e, "maximum %s usage per %s is %s.  No request is specified", k, type, es);
            else if (rq.m > enf)
                err_add(e, "maximum %s usage per %s is %s, but request is %s", k, type, es, rq.s);
        } else if (!lm.exists)
            err_add(e, "maximum %s usage per %s is %s.  No limit is specified", k, type, es);
        else if (lm.m > enf)
            err_add(e, "maximum %s usage per %s is %s, but limit is %s", k, type, es, lm.s);
        else if (rq.exists && rq.m > enf)
            err_add(e, "maximum %s usage per %s is %s, but request is %s", k, type, es, rq.s);
        free(es);
        free(rq.s);
        free(lm.s);
    }
    if (request_only)
        return;
    json_object_foreach(json_object_get(item, "maxLimitRequestRatio"), k, q)
    {
        int64_t enf;
        if (!k1s_res_milli(q, &enf))
            continue;
        char *es = k1s_res_string(q);
        val_t rq = val_get(req, summed, k), lm = val_get(lim, summed, k);
        if (!rq.exists || rq.m == 0)
            err_add(e,
                    "%s max limit to request ratio per %s is %s, but no request is specified or "
                    "request is 0",
                    k, type, es);
        else if (!lm.exists || lm.m == 0)
            err_add(e,
                    "%s max limit to request ratio per %s is %s, but no limit is specified or "
                    "limit is 0",
                    k, type, es);
        else {
            double ratio = (double)lm.m / (double)rq.m;
            if (ratio * 1000 > (double)enf)
                err_add(e, "%s max limit to request ratio per %s is %s, but provided ratio is %f",
                        k, type, es, ratio);
        }
        free(es);
        free(rq.s);
        free(lm.s);
    }
}

static const json_t *res_of(const json_t *c, const char *which)
{
    return json_object_get(json_object_get(c, "resources"), which);
}

int k1s_admit_limitranger_validate(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    bool is_pod;
    if (!applies(r, &is_pod))
        return 0;
    lr_list_t l = {0};
    lr_load(r, &l);
    errs_t e = {K1S_BUF_INIT, 0};
    const json_t *spec = json_object_get(r->obj, "spec");
    for (size_t i = 0; i < l.n; i++) {
        size_t j;
        json_t *item;
        json_array_foreach(json_object_get(json_object_get(l.items[i], "spec"), "limits"), j, item)
        {
            const char *type = json_string_value(json_object_get(item, "type"));
            if (!type)
                continue;
            if (is_pod && !strcmp(type, "Container")) {
                static const char *const lists[] = {"containers", "initContainers"};
                for (int li = 0; li < 2; li++) {
                    size_t ci;
                    json_t *c;
                    json_array_foreach(json_object_get(spec, lists[li]), ci, c)
                    {
                        check_item(&e, type, item, res_of(c, "requests"), res_of(c, "limits"),
                                   false, false);
                    }
                }
            } else if (is_pod && !strcmp(type, "Pod")) {
                json_t *req = k1s_res_pod(r->obj, "requests"), *lim = k1s_res_pod(r->obj, "limits");
                check_item(&e, type, item, req, lim, true, false);
                json_decref(req);
                json_decref(lim);
            } else if (!is_pod && !strcmp(type, "PersistentVolumeClaim")) {
                check_item(&e, type, item, res_of(spec, "requests"), NULL, false, true);
            }
        }
    }
    lr_free(&l);
    int rc = 0;
    if (e.n == 1)
        rc = k1s_admit_denyf(deny, "%s", e.b.data);
    else if (e.n > 1)
        rc = k1s_admit_denyf(deny, "[%s]", e.b.data);
    k1s_buf_free(&e.b);
    return rc;
}
