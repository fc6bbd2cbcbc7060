/*
 * The kubelet's side of the eviction manager (agent/eviction.h): image garbage collection
 * above image-gc-high-threshold with kubelet's events, reclaiming unused images under disk
 * pressure, the pods' usage for ranking (working set from their cgroups; bytes and inodes
 * of what their containers wrote, their logs and their emptyDir volumes) and the eviction
 * itself (pods.c). Pod usage is measured only when a threshold is met, and image GC reads
 * the store only above its threshold, so a healthy node pays a statvfs per status sync.
 */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "agent/eviction.h"
#include "agent/kubelet-int.h"
#include "controllers/events.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/image-gc.h"
#include "runtime/runtime.h"
#include "runtime/snapshot.h"

#define POD_LOG_DIR "/var/log/pods"

struct k1s_kpressure {
    k1s_kubelet_t *k;
    k1s_agent_t *agent;
    k1s_image_store_t *st;
    k1s_rt_t *rt;
    k1s_recorder_t *rec;
    json_t *node_ref; /* the Node as events name it */
    bool gc_failed;   /* the last image GC could not free enough */
};

static void node_event(void *arg, const char *type, const char *reason, const char *message)
{
    k1s_kpressure_t *kp = arg;
    k1s_recorder_event(kp->rec, kp->node_ref, type, reason, "%s", message);
}

static void image_gc(void *arg)
{
    k1s_kpressure_t *kp = arg;
    const k1s_kubelet_config_t *c = k1s_eviction_config(k1s_agent_eviction(kp->agent));
    k1s_image_gc_policy_t pol = {c->image_gc_high_pct, c->image_gc_low_pct, c->min_image_ttl_s};
    k1s_image_gc_result_t res;
    k1s_err_t err = {0};
    int r = k1s_image_gc(kp->st, &pol, &res, &err);
    if (r == 0) {
        if (res.ran)
            k1s_info("image GC: usage of the image filesystem was %d%% (high threshold %d%%); "
                     "%zu image%s removed, %llu bytes freed",
                     res.usage_pct, pol.high_pct, res.removed, res.removed == 1 ? "" : "s",
                     (unsigned long long)res.freed);
        kp->gc_failed = false;
        return;
    }
    /* as kubelet: FreeDiskSpaceFailed each time, ImageGCFailed when it fails again */
    node_event(kp, "Warning", "FreeDiskSpaceFailed", err.msg);
    if (kp->gc_failed) {
        node_event(kp, "Warning", "ImageGCFailed", err.msg);
        k1s_debug("image GC failed again: %s", err.msg);
    } else {
        k1s_warn("image GC: %s (usage %d%% of the image filesystem, high threshold %d%%, low "
                 "%d%%; images in use by containers are kept: free space under %s or remove "
                 "pods)",
                 err.msg, res.usage_pct, pol.high_pct, pol.low_pct, k1s_agent_dir(kp->agent));
    }
    kp->gc_failed = true;
}

static int reclaim_images(void *arg, uint64_t *freed)
{
    k1s_kpressure_t *kp = arg;
    const k1s_kubelet_config_t *c = k1s_eviction_config(k1s_agent_eviction(kp->agent));
    k1s_err_t err = {0};
    int n = k1s_image_gc_unused(kp->st, c->min_image_ttl_s, freed, &err);
    if (n < 0)
        k1s_warn("eviction manager: deleting unused images: %s", err.msg);
    return n;
}

/* Bytes and inodes under a directory (not following symlinks or crossing mounts). */
static __thread uint64_t walk_bytes, walk_inodes;

static int walk_cb(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)path;
    (void)flag;
    (void)f;
    walk_bytes += (uint64_t)sb->st_blocks * 512;
    walk_inodes++;
    return 0;
}

static void du(const char *dir, uint64_t *bytes, uint64_t *inodes)
{
    walk_bytes = walk_inodes = 0;
    nftw(dir, walk_cb, 16, FTW_PHYS | FTW_MOUNT);
    *bytes += walk_bytes;
    *inodes += walk_inodes;
}

static size_t pods(void *arg, k1s_evict_pod_t **out)
{
    k1s_kpressure_t *kp = arg;
    k1s_kubelet_pod_ref_t *refs = NULL;
    size_t n = k1s_kubelet_active_pods(kp->k, &refs);
    k1s_evict_pod_t *v = k1s_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        const k1s_kubelet_pod_ref_t *r = &refs[i];
        k1s_evict_pod_t *p = &v[i];
        p->pod = json_incref((json_t *)r->pod);
        p->has_stats = true;
        p->ctrs = k1s_xcalloc(r->nctrs + 1, sizeof(*p->ctrs));
        const char *ns = k1s_jpath_str(r->pod, "metadata.namespace");
        const char *name = k1s_jpath_str(r->pod, "metadata.name");
        for (size_t j = 0; j < r->nctrs; j++) {
            k1s_evict_ctr_t *c = &p->ctrs[p->nctrs++];
            c->name = k1s_xstrdup(r->ctrs[j].name);
            k1s_rt_stats_t st;
            if (r->ctrs[j].running && k1s_rt_stats(kp->rt, r->ctrs[j].id, &st, NULL) == 0) {
                c->have_memory = true;
                c->memory = st.memory_working_set_bytes;
                p->memory += c->memory;
            }
            uint64_t inodes = 0;
            char *upper = k1s_snapshot_upper_dir(kp->st, r->ctrs[j].id);
            char *logs = k1s_xasprintf("%s/%s_%s_%s/%s", POD_LOG_DIR, ns ? ns : "",
                                       name ? name : "", r->uid, c->name);
            du(upper, &c->disk, &inodes);
            du(logs, &c->disk, &inodes);
            c->have_disk = true;
            p->disk += c->disk;
            p->inodes += inodes;
            free(upper);
            free(logs);
        }
        /* local volumes: emptyDir on disk */
        size_t k;
        const json_t *vol;
        json_array_foreach(k1s_jpath(r->pod, "spec.volumes"), k, vol)
        {
            const json_t *ed = json_object_get(vol, "emptyDir");
            if (!ed || k1s_streq(k1s_js(ed, "medium"), "Memory") || !k1s_js(vol, "name"))
                continue;
            char *path = k1s_xasprintf("%s/volumes/%s", r->dir, k1s_js(vol, "name"));
            du(path, &p->disk, &p->inodes);
            free(path);
        }
        free(refs[i].ctrs);
    }
    free(refs);
    *out = v;
    return n;
}

static int evict(void *arg, const json_t *pod, const char *message)
{
    k1s_kpressure_t *kp = arg;
    return k1s_kubelet_evict(kp->k, k1s_jpath_str(pod, "metadata.uid"), message);
}

k1s_kpressure_t *k1s_kpressure_new(k1s_kubelet_t *k, k1s_agent_t *a, k1s_image_store_t *st,
                                   k1s_rt_t *rt, k1s_recorder_t *rec)
{
    k1s_kpressure_t *kp = k1s_xcalloc(1, sizeof(*kp));
    kp->k = k;
    kp->agent = a;
    kp->st = st;
    kp->rt = rt;
    kp->rec = rec;
    /* kubelet's nodeRef: the Node with its name as UID */
    const char *node = k1s_agent_node_name(a);
    kp->node_ref = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "Node",
                             "metadata", "name", node, "uid", node);
    k1s_eviction_ops_t ops = {.arg = kp,
                              .image_gc = image_gc,
                              .reclaim_images = reclaim_images,
                              .pods = pods,
                              .evict = evict,
                              .node_event = node_event};
    k1s_eviction_set_ops(k1s_agent_eviction(a), &ops);
    return kp;
}

void k1s_kpressure_free(k1s_kpressure_t *kp)
{
    if (!kp)
        return;
    k1s_eviction_set_ops(k1s_agent_eviction(kp->agent), NULL);
    json_decref(kp->node_ref);
    free(kp);
}
