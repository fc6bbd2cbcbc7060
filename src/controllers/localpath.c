/*
 * The built-in local-path provisioner ("local-path-provisioner"), as k3s's
 * local-storage (rancher.io/local-path): volumes are directories on a node,
 * <data-dir>/storage/<pv>_<namespace>_<claim>.
 *
 * At start it makes sure the StorageClass local-path exists (provisioner
 * rancher.io/local-path, volumeBindingMode WaitForFirstConsumer,
 * reclaimPolicy Delete, the default class), creating it if absent; a class
 * an administrator changed is left alone.
 *
 * A claim the PersistentVolume controller handed to this provisioner
 * (annotation volume.kubernetes.io/storage-provisioner:
 * rancher.io/local-path, no volume yet) gets a PersistentVolume
 * "pvc-<claim uid>" pre-bound to it: capacity and access modes of the
 * claim, the class's reclaim policy and mount options, a hostPath volume of
 * type DirectoryOrCreate and, when the scheduler chose a node (annotation
 * volume.kubernetes.io/selected-node, always set for WaitForFirstConsumer
 * classes), a required node affinity on that node's kubernetes.io/hostname.
 * The server does not create the directory: as DirectoryOrCreate says, the
 * node agent creates it when a pod mounts the volume (k3s runs a helper pod
 * on the node instead). The PersistentVolume controller then binds claim
 * and volume.
 *
 * A volume of this provisioner that is Released with reclaim policy Delete
 * is deleted: its directory under <data-dir>/storage is removed if it is
 * there (the server's own node), then the PersistentVolume object.
 *
 * Events come from "rancher.io/local-path_k1s" as the provisioner's: Provisioning,
 * ProvisioningSucceeded, ProvisioningFailed (also for access modes other
 * than ReadWriteOnce and ReadWriteOncePod, which a node's directory cannot
 * offer), VolumeFailedDelete.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

#define PROVISIONER "rancher.io/local-path"
#define CLASS_NAME "local-path"

static const k1s_gvr_t pvs_gvr = {"", "v1", "persistentvolumes", false};
static const k1s_gvr_t pvcs_gvr = {"", "v1", "persistentvolumeclaims", true};
static const k1s_gvr_t classes_gvr = {"storage.k8s.io", "v1", "storageclasses", false};
static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};

typedef struct write_ctx write_ctx_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *pvs, *pvcs, *classes, *nodes;
    k1s_workqueue_t *queue;
    char *storage_dir; /* <data-dir>/storage */
    write_ctx_t *writes;
} lp_t;

struct write_ctx {
    lp_t *l;
    char *key;
    char *pv_name; /* set for a PV creation: the ProvisioningSucceeded Event names it */
    write_ctx_t *prev, *next;
};

static const json_t *meta(const json_t *o)
{
    return json_object_get(o, "metadata");
}

static const json_t *spec(const json_t *o)
{
    return json_object_get(o, "spec");
}

static const char *ann(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(json_object_get(meta(o), "annotations"), k));
}

/* ---- the StorageClass ---- */

static void class_written(const k1s_client_result_t *res, void *arg)
{
    (void)arg;
    if (res->status == 201)
        k1s_debug("local-path-provisioner: created StorageClass " CLASS_NAME);
    else if (res->status != 409)
        k1s_warn("local-path-provisioner: cannot create StorageClass " CLASS_NAME ": %d %s",
                 res->status, res->message);
}

static void class_got(const k1s_client_result_t *res, void *arg)
{
    lp_t *l = arg;
    if (res->status != 404) {
        if (res->status != 200)
            k1s_warn("local-path-provisioner: cannot read StorageClass " CLASS_NAME ": %d %s",
                     res->status, res->message);
        return;
    }
    json_t *sc =
        json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:s,s:s,s:s}", "apiVersion", "storage.k8s.io/v1",
                  "kind", "StorageClass", "metadata", "name", CLASS_NAME, "annotations",
                  "storageclass.kubernetes.io/is-default-class", "true", "provisioner", PROVISIONER,
                  "volumeBindingMode", "WaitForFirstConsumer", "reclaimPolicy", "Delete");
    k1s_client_create(l->ctx->client, &classes_gvr, NULL, sc, class_written, l);
    json_decref(sc);
}

/* ---- queue keys: "c:<namespace>/<claim>" to provision, "v:<pv>" to delete ---- */

static bool wants_volume(const json_t *claim)
{
    const char *a = ann(claim, "volume.kubernetes.io/storage-provisioner");
    if (!a)
        a = ann(claim, "volume.beta.kubernetes.io/storage-provisioner");
    return a && !strcmp(a, PROVISIONER) && !*k1s_ctrl_str(spec(claim), "volumeName") &&
           !k1s_ctrl_deleting(claim);
}

static bool ours_to_delete(const json_t *pv)
{
    const char *by = ann(pv, "pv.kubernetes.io/provisioned-by");
    return by && !strcmp(by, PROVISIONER) &&
           !strcmp(k1s_ctrl_str(json_object_get(pv, "status"), "phase"), "Released") &&
           !strcmp(k1s_ctrl_str(spec(pv), "persistentVolumeReclaimPolicy"), "Delete") &&
           !k1s_ctrl_deleting(pv);
}

static void claim_changed(json_t *claim, lp_t *l)
{
    if (!wants_volume(claim))
        return;
    char *k = k1s_xasprintf("c:%s/%s", k1s_ctrl_str(meta(claim), "namespace"),
                            k1s_ctrl_str(meta(claim), "name"));
    k1s_workqueue_add(l->queue, k);
    free(k);
}

static void pvc_add(json_t *obj, void *arg)
{
    claim_changed(obj, arg);
}

static void pvc_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    claim_changed(new_obj, arg);
}

static void volume_changed(json_t *pv, lp_t *l)
{
    if (!ours_to_delete(pv))
        return;
    char *k = k1s_xasprintf("v:%s", k1s_ctrl_str(meta(pv), "name"));
    k1s_workqueue_add(l->queue, k);
    free(k);
}

static void pv_add(json_t *obj, void *arg)
{
    volume_changed(obj, arg);
}

static void pv_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    volume_changed(new_obj, arg);
}

/* ---- writes ---- */

static void written(const k1s_client_result_t *res, void *arg)
{
    write_ctx_t *w = arg;
    lp_t *l = w->l;
    bool ok = (res->status >= 200 && res->status < 300) || (w->pv_name && res->status == 409) ||
              (!w->pv_name && res->status == 404);
    if (ok) {
        k1s_workqueue_forget(l->queue, w->key);
        json_t *claim = w->pv_name ? k1s_ctrl_get_by_key(l->pvcs, w->key + 2) : NULL;
        if (claim && res->status < 300)
            k1s_recorder_event(l->ctx->recorder, claim, "Normal", "ProvisioningSucceeded",
                               "Successfully provisioned volume %s", w->pv_name);
    } else {
        k1s_debug("local-path-provisioner: %s: write failed: %d %s", w->key, res->status,
                  res->message);
        json_t *claim = w->pv_name ? k1s_ctrl_get_by_key(l->pvcs, w->key + 2) : NULL;
        if (claim)
            k1s_recorder_event(l->ctx->recorder, claim, "Warning", "ProvisioningFailed",
                               "failed to provision volume with StorageClass \"%s\": %s",
                               k1s_ctrl_str(spec(claim), "storageClassName"), res->message);
        k1s_workqueue_add_rate_limited(l->queue, w->key);
    }
    k1s_workqueue_done(l->queue, w->key);
    if (w->prev)
        w->prev->next = w->next;
    else
        l->writes = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w->key);
    free(w->pv_name);
    free(w);
}

static write_ctx_t *new_write(lp_t *l, const char *key, const char *pv_name)
{
    write_ctx_t *w = k1s_xcalloc(1, sizeof(*w));
    w->l = l;
    w->key = k1s_xstrdup(key);
    w->pv_name = pv_name ? k1s_xstrdup(pv_name) : NULL;
    w->next = l->writes;
    if (l->writes)
        l->writes->prev = w;
    l->writes = w;
    return w;
}

/* ---- provisioning ---- */

/*
 * The PersistentVolume for claim of class sc in directory path, on node
 * (NULL: no node affinity) whose kubernetes.io/hostname is hostname. New
 * reference.
 */
static json_t *new_volume(const json_t *claim, const json_t *sc, const char *pv_name,
                          const char *path, const char *node, const char *hostname)
{
    const json_t *cm = meta(claim);
    const char *policy = k1s_ctrl_str(sc, "reclaimPolicy");
    json_t *cap = json_object_get(json_object_get(spec(claim), "resources"), "requests");
    json_t *pv = json_pack(
        "{s:s,s:s,s:{s:s,s:{s:s},s:[s]},s:{s:{s:O},s:O,s:s,s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,"
        "s:s,s:s}}}",
        "apiVersion", "v1", "kind", "PersistentVolume", "metadata", "name", pv_name, "annotations",
        "pv.kubernetes.io/provisioned-by", PROVISIONER, "finalizers", "kubernetes.io/pv-protection",
        "spec", "capacity", "storage", json_object_get(cap, "storage"), "accessModes",
        json_object_get(spec(claim), "accessModes"), "persistentVolumeReclaimPolicy",
        *policy ? policy : "Delete", "storageClassName", k1s_ctrl_str(meta(sc), "name"),
        "volumeMode",
        *k1s_ctrl_str(spec(claim), "volumeMode") ? k1s_ctrl_str(spec(claim), "volumeMode")
                                                 : "Filesystem",
        "hostPath", "path", path, "type", "DirectoryOrCreate", "claimRef", "kind",
        "PersistentVolumeClaim", "namespace", k1s_ctrl_str(cm, "namespace"), "name",
        k1s_ctrl_str(cm, "name"), "uid", k1s_ctrl_str(cm, "uid"), "apiVersion", "v1",
        "resourceVersion", k1s_ctrl_str(cm, "resourceVersion"));
    if (!pv)
        return NULL;
    json_t *opts = json_object_get(sc, "mountOptions");
    if (json_array_size(opts))
        json_object_set(json_object_get(pv, "spec"), "mountOptions", opts);
    if (node) {
        json_object_set_new(json_object_get(json_object_get(pv, "metadata"), "annotations"),
                            "local.path.provisioner/selected-node", json_string(node));
        json_object_set_new(json_object_get(pv, "spec"), "nodeAffinity",
                            json_pack("{s:{s:[{s:[{s:s,s:s,s:[s]}]}]}}", "required",
                                      "nodeSelectorTerms", "matchExpressions", "key",
                                      "kubernetes.io/hostname", "operator", "In", "values",
                                      hostname));
    }
    return pv;
}

/* Starts provisioning claim; returns true if a write was started. */
static bool provision(lp_t *l, const char *key, const json_t *claim)
{
    const char *cls = k1s_ctrl_str(spec(claim), "storageClassName");
    json_t *sc = *cls ? k1s_informer_get(l->classes, NULL, cls) : NULL;
    if (!sc || strcmp(k1s_ctrl_str(sc, "provisioner"), PROVISIONER))
        return false;
    const char *node = ann(claim, "volume.kubernetes.io/selected-node");
    if (!node && !strcmp(k1s_ctrl_str(sc, "volumeBindingMode"), "WaitForFirstConsumer"))
        return false; /* the scheduler has not chosen a node yet */
    const json_t *cm = meta(claim);
    char *pv_name = k1s_xasprintf("pvc-%s", k1s_ctrl_str(cm, "uid"));
    if (k1s_informer_get(l->pvs, NULL, pv_name)) {
        free(pv_name);
        return false; /* provisioned already; the binder binds it */
    }
    /* a directory on one node cannot be shared: as rancher's provisioner, no retry */
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(spec(claim), "accessModes"), i, m)
    {
        const char *mode = json_string_value(m) ? json_string_value(m) : "";
        if (strcmp(mode, "ReadWriteOnce") && strcmp(mode, "ReadWriteOncePod")) {
            k1s_recorder_event(l->ctx->recorder, claim, "Warning", "ProvisioningFailed",
                               "failed to provision volume with StorageClass \"%s\": NodePath "
                               "only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access "
                               "modes",
                               cls);
            free(pv_name);
            return false;
        }
    }
    const char *hostname = node;
    json_t *n = node ? k1s_informer_get(l->nodes, NULL, node) : NULL;
    const char *label = json_string_value(
        json_object_get(json_object_get(meta(n), "labels"), "kubernetes.io/hostname"));
    if (label && *label)
        hostname = label;
    char *path = k1s_xasprintf("%s/%s_%s_%s", l->storage_dir, pv_name,
                               k1s_ctrl_str(cm, "namespace"), k1s_ctrl_str(cm, "name"));
    json_t *pv = new_volume(claim, sc, pv_name, path, node, hostname);
    free(path);
    if (!pv) {
        free(pv_name);
        return false;
    }
    k1s_recorder_event(l->ctx->recorder, claim, "Normal", "Provisioning",
                       "External provisioner is provisioning volume for claim \"%s/%s\"",
                       k1s_ctrl_str(cm, "namespace"), k1s_ctrl_str(cm, "name"));
    k1s_debug("local-path-provisioner: creating volume %s for claim %s", pv_name, key + 2);
    write_ctx_t *w = new_write(l, key, pv_name);
    k1s_client_create(l->ctx->client, &pvs_gvr, NULL, pv, written, w);
    json_decref(pv);
    free(pv_name);
    return true;
}

/* ---- deletion ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/*
 * Removes the volume's directory if it is one of ours under storage_dir
 * (a single path component, no "..") and present. 0 or -errno.
 */
static int remove_dir(const lp_t *l, const char *path)
{
    size_t n = strlen(l->storage_dir);
    if (strncmp(path, l->storage_dir, n) || path[n] != '/' || !path[n + 1] ||
        strchr(path + n + 1, '/') || !strcmp(path + n + 1, "..") || !strcmp(path + n + 1, "."))
        return 0; /* not in our directory: leave it */
    int r = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (r < 0 && errno == ENOENT)
        return 0;
    return r < 0 ? -errno : r;
}

static bool delete_volume(lp_t *l, const char *key, const json_t *pv)
{
    const char *path = k1s_ctrl_str(json_object_get(spec(pv), "hostPath"), "path");
    int r = remove_dir(l, path);
    if (r < 0) {
        k1s_recorder_event(l->ctx->recorder, pv, "Warning", "VolumeFailedDelete",
                           "failed to delete volume %s: remove %s: %s",
                           k1s_ctrl_str(meta(pv), "name"), path, strerror(-r));
        k1s_workqueue_add_rate_limited(l->queue, key);
        return false;
    }
    k1s_debug("local-path-provisioner: deleting volume %s", k1s_ctrl_str(meta(pv), "name"));
    k1s_delete_opts_t o = {.precondition_uid = k1s_ctrl_str(meta(pv), "uid"), .grace_period_s = -1};
    write_ctx_t *w = new_write(l, key, NULL);
    k1s_client_delete(l->ctx->client, &pvs_gvr, NULL, k1s_ctrl_str(meta(pv), "name"), &o, written,
                      w);
    return true;
}

/* ---- the worker ---- */

static void lp_sync(k1s_workqueue_t *q, const char *key, void *arg)
{
    lp_t *l = arg;
    if (!k1s_informer_has_synced(l->pvs) || !k1s_informer_has_synced(l->pvcs) ||
        !k1s_informer_has_synced(l->classes) || !k1s_informer_has_synced(l->nodes)) {
        k1s_workqueue_add_after(q, key, 100);
        k1s_workqueue_done(q, key);
        return;
    }
    bool writing = false;
    if (key[0] == 'c') {
        json_t *claim = k1s_ctrl_get_by_key(l->pvcs, key + 2);
        if (claim && wants_volume(claim))
            writing = provision(l, key, claim);
    } else {
        json_t *pv = k1s_informer_get(l->pvs, NULL, key + 2);
        if (pv && ours_to_delete(pv))
            writing = delete_volume(l, key, pv);
    }
    if (!writing)
        k1s_workqueue_done(q, key);
}

static void *start(k1s_ctrl_ctx_t *ctx)
{
    lp_t *l = k1s_xcalloc(1, sizeof(*l));
    l->ctx = ctx;
    /* hostPath volumes name absolute paths: a relative --data-dir is taken from here */
    char cwd[4096];
    if (ctx->opts->data_dir[0] != '/' && getcwd(cwd, sizeof(cwd)))
        l->storage_dir = k1s_xasprintf("%s/%s/storage", cwd, ctx->opts->data_dir);
    else
        l->storage_dir = k1s_xasprintf("%s/storage", ctx->opts->data_dir);
    l->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, lp_sync, l);
    l->pvs = k1s_informer_factory_get(ctx->factory, &pvs_gvr);
    l->pvcs = k1s_informer_factory_get(ctx->factory, &pvcs_gvr);
    l->classes = k1s_informer_factory_get(ctx->factory, &classes_gvr);
    l->nodes = k1s_informer_factory_get(ctx->factory, &nodes_gvr);
    k1s_informer_handlers_t hv = {pv_add, pv_update, NULL, l};
    k1s_informer_handlers_t hc = {pvc_add, pvc_update, NULL, l};
    k1s_informer_add_handlers(l->pvs, &hv);
    k1s_informer_add_handlers(l->pvcs, &hc);
    k1s_client_get(ctx->client, &classes_gvr, NULL, CLASS_NAME, class_got, l);
    return l;
}

static void stop(void *state)
{
    lp_t *l = state;
    if (!l)
        return;
    while (l->writes) {
        write_ctx_t *w = l->writes;
        l->writes = w->next;
        free(w->key);
        free(w->pv_name);
        free(w);
    }
    k1s_workqueue_free(l->queue);
    free(l->storage_dir);
    free(l);
}

const k1s_controller_def_t k1s_ctrl_localpath = {
    .name = "local-path-provisioner",
    .service_account = "local-path-provisioner",
    .component = "rancher.io/local-path_k1s",
    .start = start,
    .stop = stop,
};
