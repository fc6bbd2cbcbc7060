/*
 * The PersistentVolumeClaimResize admission plugin
 * (plugin/pkg/admission/storage/persistentvolume/resize): a claim's storage
 * request may grow only once the claim is Bound, and only if its
 * StorageClass (unchanged, and not "") sets allowVolumeExpansion: true.
 * Shrinking is refused by validation.
 */
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/quantity.h"

/* The class of a claim: the beta annotation, else spec.storageClassName; "" if none. */
static const char *claim_class(const json_t *pvc)
{
    const json_t *a = json_object_get(json_object_get(pvc, "metadata"), "annotations");
    const char *beta =
        json_string_value(json_object_get(a, "volume.beta.kubernetes.io/storage-class"));
    if (beta)
        return beta;
    const char *s =
        json_string_value(json_object_get(json_object_get(pvc, "spec"), "storageClassName"));
    return s ? s : "";
}

static bool class_allows_expansion(k1s_apiserver_t *api, const char *name)
{
    const k1s_resource_t *scr = k1s_registry_find("storage.k8s.io", "v1", "storageclasses");
    char *key = k1s_obj_key(scr, NULL, name);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    free(key);
    if (!kv)
        return false;
    json_t *sc = k1s_obj_decode(kv->value);
    bool ok = json_is_true(json_object_get(sc, "allowVolumeExpansion"));
    json_decref(sc);
    return ok;
}

static const json_t *storage_request(const json_t *pvc)
{
    return json_object_get(
        json_object_get(json_object_get(json_object_get(pvc, "spec"), "resources"), "requests"),
        "storage");
}

int k1s_admit_pvc_resize(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    if (strcmp(r->res->plural, "persistentvolumeclaims") || r->res->group[0] || r->sub || !r->obj ||
        !r->old || strcmp(k1s_admit_operation(r), "UPDATE"))
        return 0;
    k1s_quantity_t now, before;
    if (k1s_quantity_from_json(storage_request(r->obj), &now, NULL) < 0 ||
        k1s_quantity_from_json(storage_request(r->old), &before, NULL) < 0 ||
        k1s_quantity_cmp(&now, &before) <= 0)
        return 0;
    const char *phase =
        json_string_value(json_object_get(json_object_get(r->old, "status"), "phase"));
    if (!phase || strcmp(phase, "Bound"))
        return k1s_admit_denyf(deny, "Only bound persistent volume claims can be expanded");
    const char *cls = claim_class(r->obj);
    if (!*cls || strcmp(cls, claim_class(r->old)) || !class_allows_expansion(r->api, cls))
        return k1s_admit_denyf(deny, "only dynamically provisioned pvc can be resized and the "
                                     "storageclass that provisions the pvc must support resize");
    return 0;
}
