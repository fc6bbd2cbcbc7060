/*
 * Answers of the API server: metav1.Status errors as Kubernetes reports
 * them, JSON responses, and the per-request bookkeeping (metrics, free).
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/apiserver-int.h"
#include "lib/log.h"

json_t *k1s_status_new(int code, const char *reason, const char *msg)
{
    json_t *s = json_pack("{s:s, s:s, s:{}, s:s, s:s}", "kind", "Status", "apiVersion", "v1",
                          "metadata", "status", code < 400 ? "Success" : "Failure", "message", msg);
    if (reason && *reason)
        json_object_set_new(s, "reason", json_string(reason));
    json_object_set_new(s, "code", json_integer(code));
    return s;
}

static void record_metric(k1s_apiserver_t *api, const char *verb, const char *resource, int code,
                          double secs)
{
    static const double bounds[11] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    k1s_metric_row_t *row = NULL;
    for (size_t i = 0; i < api->nmetrics; i++) {
        k1s_metric_row_t *m = &api->metrics[i];
        if (m->code == code && !strcmp(m->verb, verb) && !strcmp(m->resource, resource)) {
            row = m;
            break;
        }
    }
    if (!row) {
        if (api->nmetrics == api->metrics_cap) {
            api->metrics_cap = api->metrics_cap ? api->metrics_cap * 2 : 32;
            api->metrics = k1s_xrealloc(api->metrics, api->metrics_cap * sizeof(*api->metrics));
        }
        row = &api->metrics[api->nmetrics++];
        memset(row, 0, sizeof(*row));
        row->verb = k1s_xstrdup(verb);
        row->resource = k1s_xstrdup(resource);
        row->code = code;
    }
    row->count++;
    row->sum_s += secs;
    int b = 0;
    while (b < 11 && secs > bounds[b])
        b++;
    row->buckets[b]++;
}

void k1s_api_req_done(k1s_api_req_t *r, int code)
{
    if (r->api) {
        double secs = (double)(k1s_now_ns() - r->start_ns) / 1e9;
        record_metric(r->api, r->verb ? r->verb : "other", r->res ? r->res->plural : "", code,
                      secs);
        k1s_audit_log(r, code);
    }
    k1s_authz_req_free(r->authz);
    k1s_admission_req_done(r);
    json_decref(r->obj);
    json_decref(r->old);
    json_decref(r->warnings);
    free(r->auth_owned);
    json_decref(r->extra);
    free(r->ns);
    free(r->name);
    free(r->sub);
    free(r->key);
    free(r->manager);
    free(r);
}

static void add_warnings(k1s_api_req_t *r)
{
    size_t i;
    json_t *w;
    json_array_foreach(r->warnings, i, w)
    {
        char *h = k1s_xasprintf("299 - \"%s\"", json_string_value(w));
        k1s_http_add_header(r->http, "Warning", h);
        free(h);
    }
}

void k1s_api_send_bytes(k1s_api_req_t *r, int code, const char *data, size_t len)
{
    add_warnings(r);
    k1s_http_respond(r->http, code, "application/json", data, len);
    k1s_api_req_done(r, code);
}

void k1s_api_send_json(k1s_api_req_t *r, int code, json_t *obj)
{
    if (code >= 400 && r->authz)
        k1s_audit_note_status(r, obj);
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    size_t n = strlen(s);
    s = k1s_xrealloc(s, n + 2);
    s[n] = '\n';
    s[n + 1] = 0;
    k1s_api_send_bytes(r, code, s, n + 1);
    free(s);
}

void k1s_api_fail_details(k1s_api_req_t *r, int code, const char *reason, json_t *causes,
                          const char *msg)
{
    json_t *s = k1s_status_new(code, reason, msg);
    if (r->res && (r->name || causes)) {
        json_t *d = json_object();
        const char *name = r->name;
        if (!name && r->obj)
            name = k1s_obj_str(r->obj, "metadata.name");
        if (name)
            json_object_set_new(d, "name", json_string(name));
        if (r->res->group[0])
            json_object_set_new(d, "group", json_string(r->res->group));
        json_object_set_new(d, "kind", json_string(r->res->plural));
        if (causes)
            json_object_set(d, "causes", causes);
        /* Status.details sits before code in Kubernetes' encoding; order does not matter to clients
         */
        json_object_set_new(s, "details", d);
    }
    json_decref(causes);
    if (code >= 500)
        k1s_warn("%s %s: %d %s", r->http->method, r->http->target, code, msg);
    k1s_api_send_json(r, code, s);
}

void k1s_api_fail(k1s_api_req_t *r, int code, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    k1s_api_fail_details(r, code, reason, NULL, msg);
    free(msg);
}

void k1s_api_not_found(k1s_api_req_t *r, const char *name)
{
    char q[256];
    k1s_resource_qualified(r->res, q, sizeof(q));
    k1s_api_fail(r, 404, "NotFound", "%s \"%s\" not found", q, name);
}

void k1s_api_send_stored(k1s_api_req_t *r, int code, k1s_kv_t *kv)
{
    k1s_bytes_t *b = k1s_convert_bytes(r->res, kv->value);
    k1s_api_send_bytes(r, code, b->data, b->len);
    k1s_bytes_unref(b);
}

int64_t k1s_api_query_int(k1s_http_req_t *h, const char *name, int64_t dflt)
{
    const char *v = k1s_http_req_query(h, name);
    if (!v || !*v)
        return dflt;
    return strtoll(v, NULL, 10);
}
