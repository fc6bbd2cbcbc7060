/*
 * The StorageObjectInUseProtection admission plugin
 * (plugin/pkg/admission/storageobjectinuseprotection): a new
 * PersistentVolumeClaim gets the kubernetes.io/pvc-protection finalizer and
 * a new PersistentVolume kubernetes.io/pv-protection, so that neither goes
 * while in use; the pvc-protection and pv-protection controllers remove
 * them when it is safe (src/controllers/pvprotection.c).
 */
#include <string.h>

#include "api/apiserver-int.h"

int k1s_admit_storage_protection(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    (void)deny;
    if (r->res->group[0] || r->sub || !r->obj || strcmp(k1s_admit_operation(r), "CREATE"))
        return 0;
    const char *f;
    if (!strcmp(r->res->plural, "persistentvolumeclaims"))
        f = "kubernetes.io/pvc-protection";
    else if (!strcmp(r->res->plural, "persistentvolumes"))
        f = "kubernetes.io/pv-protection";
    else
        return 0;
    json_t *md = json_object_get(r->obj, "metadata");
    if (!json_is_object(md))
        return 0;
    json_t *fins = json_object_get(md, "finalizers");
    if (!json_is_array(fins)) {
        fins = json_array();
        json_object_set_new(md, "finalizers", fins);
    }
    size_t i;
    json_t *v;
    json_array_foreach(fins, i, v)
    {
        if (json_string_value(v) && !strcmp(json_string_value(v), f))
            return 0;
    }
    json_array_append_new(fins, json_string(f));
    return 0;
}
