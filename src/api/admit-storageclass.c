/*
 * The DefaultStorageClass admission plugin
 * (plugin/pkg/admission/storage/storageclass/setdefault): a
 * PersistentVolumeClaim created without a class (no spec.storageClassName,
 * not even "", and no volume.beta.kubernetes.io/storage-class annotation)
 * gets the default StorageClass, the one annotated
 * storageclass.kubernetes.io/is-default-class: "true" (the newest if there
 * are several, as Kubernetes 1.26+ picks).
 */
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"

typedef struct pick {
    char *name;
    char *created;
} pick_t;

static bool is_default(const json_t *sc)
{
    const json_t *a = json_object_get(json_object_get(sc, "metadata"), "annotations");
    const char *v =
        json_string_value(json_object_get(a, "storageclass.kubernetes.io/is-default-class"));
    if (!v)
        v = json_string_value(
            json_object_get(a, "storageclass.beta.kubernetes.io/is-default-class"));
    return v && !strcmp(v, "true");
}

static int each_class(k1s_kv_t *kv, void *arg)
{
    pick_t *p = arg;
    json_t *sc = k1s_obj_decode(kv->value);
    if (is_default(sc)) {
        const char *name = k1s_obj_str(sc, "metadata.name");
        const char *ts = k1s_obj_str(sc, "metadata.creationTimestamp");
        if (!ts)
            ts = "";
        /* newest first; between equals the first name in order (the range is sorted) */
        if (name && (!p->name || strcmp(ts, p->created) > 0)) {
            free(p->name);
            free(p->created);
            p->name = k1s_xstrdup(name);
            p->created = k1s_xstrdup(ts);
        }
    }
    json_decref(sc);
    return 0;
}

int k1s_admit_default_storageclass(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    if (strcmp(r->res->plural, "persistentvolumeclaims") || r->res->group[0] || r->sub ||
        strcmp(k1s_admit_operation(r), "CREATE") || !r->obj)
        return 0;
    json_t *spec = json_object_get(r->obj, "spec");
    const json_t *ann = json_object_get(json_object_get(r->obj, "metadata"), "annotations");
    if (!json_is_object(spec) || json_object_get(spec, "storageClassName") ||
        json_object_get(ann, "volume.beta.kubernetes.io/storage-class"))
        return 0;
    const k1s_resource_t *scr = k1s_registry_find("storage.k8s.io", "v1", "storageclasses");
    char *prefix = k1s_obj_prefix(scr, NULL);
    pick_t p = {0};
    k1s_store_range(r->api->store, prefix, NULL, each_class, &p);
    free(prefix);
    if (p.name)
        json_object_set_new(spec, "storageClassName", json_string(p.name));
    free(p.name);
    free(p.created);
    return 0;
}
