/*
 * Conversion between a resource's served shape and its stored shape, for
 * resources served in two forms over one storage. Today that is
 * events.k8s.io/v1 Event, stored as core/v1 Event (as Kubernetes does), so
 * `kubectl get events` and `kubectl get events.v1.events.k8s.io` show the
 * same objects. Field renames follow Kubernetes' conversion functions.
 */
#include <string.h>

#include "api/apiserver-int.h"

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

bool k1s_convert_needed(const k1s_resource_t *r)
{
    return !strcmp(r->group, "events.k8s.io");
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
    if (!k1s_convert_needed(r))
        return json_incref((json_t *)stored);
    return rename_fields(stored, 1, 0, "events.k8s.io/v1");
}

json_t *k1s_convert_to_storage(const k1s_resource_t *r, const json_t *obj)
{
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
