/*
 * Conversion between a resource's served shape and its stored shape, for
 * resources served in two forms over one storage, as Kubernetes does:
 * events.k8s.io/v1 Event is stored as core/v1 Event (so `kubectl get
 * events` and `kubectl get events.v1.events.k8s.io` show the same objects),
 * and autoscaling/v1 HorizontalPodAutoscaler as autoscaling/v2 (so
 * `kubectl autoscale`, which writes v1, and v2 clients share objects). Field
 * mappings follow Kubernetes' conversion functions; v2 metrics that v1
 * cannot express are kept in the annotation Kubernetes uses for them.
 */
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/crd.h"

/* events.k8s.io/v1 name, core/v1 name */
static const char *const event_fields[][2] = {
    {"regarding", "involvedObject"},
    {"note", "message"},
    {"deprecatedSource", "source"},
    {"deprecatedFirstTimestamp", "firstTimestamp"},
    {"deprecatedLastTimestamp", "lastTimestamp"},
    {"deprecatedCount", "count"},
    {"reportingController", "reportingComponent"},
};

static bool is_hpa_v1(const k1s_resource_t *r)
{
    return !strcmp(r->group, "autoscaling") && !strcmp(r->version, "v1");
}

/* Custom resources: versions differ in apiVersion only (conversion strategy None), and schema
 * defaults apply when objects are read as well as written. */
static bool cr_convert_needed(const k1s_resource_t *r)
{
    return r->crd->has_defaults || r->crd->versions || strcmp(r->version, r->crd->storage_version);
}

static json_t *cr_with_version(const k1s_resource_t *r, const json_t *obj, const char *version,
                               bool defaults)
{
    json_t *out = json_deep_copy(obj);
    char *av = k1s_xasprintf("%s/%s", r->group, version);
    json_object_set_new(out, "apiVersion", json_string(av));
    free(av);
    if (defaults)
        k1s_cr_default(r, out);
    return out;
}

bool k1s_convert_needed(const k1s_resource_t *r)
{
    if (r->crd)
        return cr_convert_needed(r);
    return !strcmp(r->group, "events.k8s.io") || is_hpa_v1(r);
}

#define HPA_METRICS_ANNOTATION "autoscaling.alpha.kubernetes.io/metrics"

static bool is_cpu_utilization(const json_t *m)
{
    const json_t *res = json_object_get(m, "resource");
    const json_t *target = res ? json_object_get(res, "target") : NULL;
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *name = res ? json_string_value(json_object_get(res, "name")) : NULL;
    const char *ttype = target ? json_string_value(json_object_get(target, "type")) : NULL;
    return type && !strcmp(type, "Resource") && name && !strcmp(name, "cpu") && ttype &&
           !strcmp(ttype, "Utilization");
}

/* autoscaling/v2 → v1 */
static json_t *hpa_to_v1(const json_t *v2)
{
    json_t *out = json_deep_copy(v2);
    json_object_set_new(out, "apiVersion", json_string("autoscaling/v1"));
    json_t *spec = json_object_get(out, "spec");
    if (json_is_object(spec)) {
        json_t *metrics = json_object_get(spec, "metrics");
        json_t *rest = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(metrics, i, m)
        {
            if (is_cpu_utilization(m) && !json_object_get(spec, "targetCPUUtilizationPercentage"))
                json_object_set(
                    spec, "targetCPUUtilizationPercentage",
                    json_object_get(json_object_get(json_object_get(m, "resource"), "target"),
                                    "averageUtilization"));
            else
                json_array_append(rest, m);
        }
        if (json_array_size(rest) > 0) {
            char *text = json_dumps(rest, JSON_COMPACT);
            json_t *meta = k1s_obj_meta(out);
            json_t *ann = json_object_get(meta, "annotations");
            if (!json_is_object(ann)) {
                ann = json_object();
                json_object_set_new(meta, "annotations", ann);
            }
            json_object_set_new(ann, HPA_METRICS_ANNOTATION, json_string(text));
            free(text);
        }
        json_decref(rest);
        json_object_del(spec, "metrics");
        json_object_del(spec, "behavior");
    }
    json_t *status = json_object_get(out, "status");
    if (json_is_object(status)) {
        json_t *cur = json_object_get(status, "currentMetrics");
        size_t i;
        json_t *m;
        json_array_foreach(cur, i, m)
        {
            json_t *res = json_object_get(m, "resource");
            json_t *c = res ? json_object_get(res, "current") : NULL;
            const char *name = res ? json_string_value(json_object_get(res, "name")) : NULL;
            if (name && !strcmp(name, "cpu") && c && json_object_get(c, "averageUtilization"))
                json_object_set(status, "currentCPUUtilizationPercentage",
                                json_object_get(c, "averageUtilization"));
        }
        json_object_del(status, "currentMetrics");
        json_object_del(status, "conditions");
    }
    return out;
}

/* autoscaling/v1 → v2 */
static json_t *hpa_to_v2(const json_t *v1)
{
    json_t *out = json_deep_copy(v1);
    json_object_set_new(out, "apiVersion", json_string("autoscaling/v2"));
    json_t *spec = json_object_get(out, "spec");
    if (json_is_object(spec)) {
        json_t *metrics = json_array();
        json_t *meta = json_object_get(out, "metadata");
        json_t *ann = meta ? json_object_get(meta, "annotations") : NULL;
        const char *extra =
            ann ? json_string_value(json_object_get(ann, HPA_METRICS_ANNOTATION)) : NULL;
        json_t *t = json_object_get(spec, "targetCPUUtilizationPercentage");
        if (json_is_integer(t))
            json_array_append_new(metrics,
                                  json_pack("{s:s, s:{s:s, s:{s:s, s:O}}}", "type", "Resource",
                                            "resource", "name", "cpu", "target", "type",
                                            "Utilization", "averageUtilization", t));
        if (extra) {
            json_t *more = json_loads(extra, 0, NULL);
            if (json_is_array(more))
                json_array_extend(metrics, more);
            json_decref(more);
            json_object_del(ann, HPA_METRICS_ANNOTATION);
            if (json_object_size(ann) == 0)
                json_object_del(meta, "annotations");
        }
        json_object_del(spec, "targetCPUUtilizationPercentage");
        if (json_array_size(metrics) > 0)
            json_object_set(spec, "metrics", metrics);
        json_decref(metrics);
    }
    json_t *status = json_object_get(out, "status");
    if (json_is_object(status)) {
        json_t *c = json_object_get(status, "currentCPUUtilizationPercentage");
        if (json_is_integer(c))
            json_object_set_new(status, "currentMetrics",
                                json_pack("[{s:s, s:{s:s, s:{s:O}}}]", "type", "Resource",
                                          "resource", "name", "cpu", "current",
                                          "averageUtilization", c));
        json_object_del(status, "currentCPUUtilizationPercentage");
    }
    return out;
}

/* Copies obj renaming fields from column `from` to column `to` of the table. */
static json_t *rename_fields(const json_t *obj, int from, int to, const char *api_version)
{
    json_t *out = json_object();
    json_object_set_new(out, "kind", json_string("Event"));
    json_object_set_new(out, "apiVersion", json_string(api_version));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!strcmp(k, "kind") || !strcmp(k, "apiVersion"))
            continue;
        const char *name = k;
        for (size_t i = 0; i < K1S_ARRAY_SIZE(event_fields); i++)
            if (!strcmp(k, event_fields[i][from]))
                name = event_fields[i][to];
        json_object_set(out, name, v);
    }
    return out;
}

json_t *k1s_convert_from_storage(const k1s_resource_t *r, const json_t *stored)
{
    if (r->crd)
        return cr_convert_needed(r) ? cr_with_version(r, stored, r->version, true)
                                    : json_incref((json_t *)stored);
    if (is_hpa_v1(r))
        return hpa_to_v1(stored);
    if (!k1s_convert_needed(r))
        return json_incref((json_t *)stored);
    return rename_fields(stored, 1, 0, "events.k8s.io/v1");
}

json_t *k1s_convert_to_storage(const k1s_resource_t *r, const json_t *obj)
{
    if (r->crd)
        return strcmp(r->version, r->crd->storage_version)
                   ? cr_with_version(r, obj, r->crd->storage_version, false)
                   : json_incref((json_t *)obj);
    if (is_hpa_v1(r))
        return hpa_to_v2(obj);
    if (!k1s_convert_needed(r))
        return json_incref((json_t *)obj);
    return rename_fields(obj, 0, 1, "v1");
}

k1s_bytes_t *k1s_convert_bytes(const k1s_resource_t *r, k1s_bytes_t *stored)
{
    if (!k1s_convert_needed(r))
        return k1s_bytes_ref(stored);
    json_t *o = k1s_obj_decode(stored);
    json_t *c = k1s_convert_from_storage(r, o);
    k1s_bytes_t *b = k1s_obj_encode(c);
    json_decref(o);
    json_decref(c);
    return b;
}

json_t *k1s_convert_for_table(const k1s_resource_t *r, const json_t *obj)
{
    /* the printers read the autoscaling/v2 shape of an HPA */
    if (is_hpa_v1(r))
        return hpa_to_v2(obj);
    return json_incref((json_t *)obj);
}
