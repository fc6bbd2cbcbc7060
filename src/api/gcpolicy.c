/*
 * Garbage-collection policy of a delete (kube-apiserver's
 * deletionFinalizersForGarbageCollection): DeleteOptions' propagationPolicy
 * (or the deprecated orphanDependents), the object's own "orphan" and
 * "foregroundDeletion" finalizers and the resource's default policy decide
 * which of the two finalizers the object keeps while it is deleted. The
 * garbage collector (controllers/gc.c) does the rest: it orphans or deletes
 * the dependents and then removes the finalizer, which lets the object go.
 */
#include <errno.h>
#include <string.h>

#include "api/apiserver-int.h"

#define FIN_ORPHAN "orphan"
#define FIN_FOREGROUND "foregroundDeletion"

int k1s_gc_parse_delete_options(const json_t *opts, const char **policy, char **msg)
{
    *policy = NULL;
    const json_t *pp = json_object_get(opts, "propagationPolicy");
    const json_t *od = json_object_get(opts, "orphanDependents");
    if (pp && !json_is_null(pp)) {
        const char *v = json_string_value(pp);
        static const char *const ok[] = {"Foreground", "Background", "Orphan"};
        for (size_t i = 0; v && i < sizeof(ok) / sizeof(ok[0]); i++)
            if (!strcmp(v, ok[i]))
                *policy = ok[i];
        if (!*policy) {
            *msg = k1s_xasprintf("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
                                 "Unsupported value: \"%s\": supported values: \"Foreground\", "
                                 "\"Background\", \"Orphan\"",
                                 v ? v : "");
            return -EINVAL;
        }
        if (od && !json_is_null(od)) {
            *msg = k1s_xasprintf("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
                                 "Invalid value: \"%s\": orphanDependents and deletionPropagation "
                                 "cannot be both set",
                                 *policy);
            return -EINVAL;
        }
        return 0;
    }
    if (json_is_boolean(od))
        *policy = json_is_true(od) ? "Orphan" : "Background";
    return 0;
}

/* The resource's default: Orphan where kube-apiserver keeps it for compatibility (core/v1
 * ReplicationControllers, batch/v1 Jobs), Background (delete dependents) elsewhere. */
static bool default_orphans(const k1s_resource_t *res)
{
    return (!res->group[0] && !strcmp(res->plural, "replicationcontrollers")) ||
           (!strcmp(res->group, "batch") && !strcmp(res->plural, "jobs"));
}

static bool has_finalizer(const json_t *fins, const char *f, const char *other, bool *seen)
{
    size_t i;
    json_t *v;
    json_array_foreach(fins, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            continue;
        if (!strcmp(s, f)) {
            *seen = true;
            return true;
        }
        if (!strcmp(s, other)) {
            *seen = true;
            return false;
        }
    }
    return false;
}

bool k1s_gc_delete_finalizers(const k1s_resource_t *res, json_t *obj, const char *policy)
{
    json_t *meta = k1s_obj_meta(obj);
    json_t *fins = json_object_get(meta, "finalizers");
    if (!json_is_array(fins))
        fins = NULL;
    bool orphan, foreground, seen = false;
    if (policy) {
        orphan = !strcmp(policy, "Orphan");
        foreground = !strcmp(policy, "Foreground");
    } else {
        /* a finalizer already on the object overrides the default */
        orphan = has_finalizer(fins, FIN_ORPHAN, FIN_FOREGROUND, &seen);
        if (!seen)
            orphan = default_orphans(res);
        seen = false;
        foreground = has_finalizer(fins, FIN_FOREGROUND, FIN_ORPHAN, &seen);
    }
    json_t *out = json_array();
    bool had_orphan = false, had_fg = false;
    size_t i;
    json_t *v;
    json_array_foreach(fins, i, v)
    {
        const char *s = json_string_value(v);
        if (s && !strcmp(s, FIN_ORPHAN))
            had_orphan = true;
        else if (s && !strcmp(s, FIN_FOREGROUND))
            had_fg = true;
        else
            json_array_append(out, v);
    }
    if (orphan)
        json_array_append_new(out, json_string(FIN_ORPHAN));
    if (foreground)
        json_array_append_new(out, json_string(FIN_FOREGROUND));
    if (had_orphan == orphan && had_fg == foreground) {
        json_decref(out);
        return false;
    }
    if (json_array_size(out) > 0)
        json_object_set_new(meta, "finalizers", out);
    else {
        json_decref(out);
        json_object_del(meta, "finalizers");
    }
    return true;
}
