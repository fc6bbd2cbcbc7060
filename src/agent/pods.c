/*
 * The kubelet's pod workers (see kubelet.h). One record per pod UID; each
 * record is synced level-triggered by sync_pod(): compare what the pod asks
 * for with what runs, take the next step (which may be asynchronous: CNI,
 * a pull, a container start or stop), and sync again when it completes. A
 * record has at most one step in flight (pod->busy), so steps never race.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/eviction.h"
#include "agent/kubelet-int.h"
#include "agent/kubelet-api.h"
#include "agent/kubelet.h"
#include "agent/probes.h"
#include "agent/stats.h"
#include "agent/volumes.h"
#include "client/informer.h"
#include "client/strmap.h"
#include "controllers/events.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "network/cni.h"
#include "network/netns.h"
#include "runtime/image.h"
#include "runtime/runtime.h"
#include "runtime/snapshot.h"

#define POD_LOG_DIR "/var/log/pods"
#define BACKOFF_INITIAL_S 10
#define BACKOFF_MAX_S 300
#define BACKOFF_RESET_S 600 /* a container that ran this long starts over at 10 s */
#define DEFAULT_GRACE_S 30
/* configMap/secret volumes are re-read this often (kubelet's --sync-frequency, 1 minute);
 * K1S_SYNC_FREQUENCY (seconds) changes it, for tests */
#define REFRESH_S 60

/* Labels on runtime containers: how a restarted agent finds what belongs to which pod. */
#define L_UID "io.kubernetes.pod.uid"
#define L_NS "io.kubernetes.pod.namespace"
#define L_POD "io.kubernetes.pod.name"
#define L_CTR "io.kubernetes.container.name"
#define L_RESTART "k1s.restart-count"
#define L_IMAGE "k1s.image"
#define L_IMAGE_ID "k1s.image-id"

static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};

typedef struct pod pod_t;

/* One probe of one container, run every periodSeconds while the container runs. */
enum { PROBE_STARTUP, PROBE_LIVENESS, PROBE_READINESS, NPROBES };
static const char *const probe_key[NPROBES] = {"startupProbe", "livenessProbe", "readinessProbe"};
static const char *const probe_name[NPROBES] = {"Startup", "Liveness", "Readiness"};

typedef struct prober {
    pod_t *p;
    char *ctr;
    int kind;
    struct event *timer;
    k1s_probe_t *run;
    int successes, failures;
} prober_t;

typedef struct ctr {
    char *name;
    prober_t *probers[NPROBES];
    bool ready;      /* readiness (true without a readiness probe) */
    bool startup_ok; /* the startup probe succeeded (true without one) */
    bool init;
    bool sidecar;  /* an init container with restartPolicy Always (a native sidecar) */
    char *id;      /* the current runtime container, or NULL */
    char *prev_id; /* the one before it (kept for `logs --previous` until replaced) */
    int restarts;
    bool have_state; /* the current container has run (state below is valid) */
    bool running;
    int exit_code;
    char *reason, *message;
    int64_t started_ns, finished_ns;
    json_t *last_state; /* the previous termination ({"terminated": ...}) or NULL */
    char *image, *image_id;
    char *wait_reason, *wait_message; /* why it is not running (when not running) */
    int backoff_s;
    uint64_t backoff_until_ns;
    bool pulled; /* the image was pulled for this start attempt */
    bool stopping;
} ctr_t;

struct k1s_kubelet {
    k1s_agent_t *agent;
    struct event_base *base;
    k1s_client_t *client;
    k1s_informer_t *pods;
    k1s_recorder_t *recorder;
    k1s_rt_t *rt;
    k1s_image_store_t *images;
    k1s_cni_t *cni;
    char *dir, *netns_dir, *pods_dir, *node, *node_ip;
    k1s_strmap_t by_uid;      /* uid -> pod_t */
    k1s_rt_status_t *adopted; /* containers found at start, until the pod informer synced */
    size_t n_adopted;
    struct event *synced_ev;
    bool synced;
    k1s_kapi_t *api;
    /* air-gap images: <agent>/images is imported at start (before any pod starts) and
     * whenever a file is written or moved there (inotify) */
    bool importing, import_again, initial_import_done;
    int inotify_fd;
    struct event *inotify_ev;
    k1s_kpressure_t *pressure; /* image GC and evictions (kubelet-pressure.c) */
};

struct pod {
    k1s_kubelet_t *k;
    char *uid, *ns, *name, *dir;
    json_t *obj; /* the latest Pod (own copy); NULL once it left the API */
    ctr_t *ctrs; /* init containers first */
    size_t nctr, ninit;
    char *netns, *ip, *sandbox;
    bool net_ready, net_down;
    bool busy;        /* a step is in flight */
    int hooks;        /* lifecycle hooks in flight (the record stays until they end) */
    k1s_vols_t *vols; /* fetching the API-backed volumes */
    bool vols_ready;
    json_t *refs;        /* the configMaps and Secrets env refers to (k1s_vols_refs) */
    k1s_vols_t *refresh; /* the periodic re-read of configMap/secret/token volumes */
    struct event *refresh_ev;
    bool deleting_api, forget;
    int64_t start_ns;
    uint64_t seen_ns;   /* when this agent first saw the pod (monotonic), for the step log */
    bool running_noted; /* the step log has shown the first Running status */
    struct event *ev;   /* sync timer */
    json_t *written;    /* status as last written */
    k1s_client_req_t *status_req;
    bool status_again;
    char *evicted; /* the eviction message once the eviction manager evicted it */
    bool rejected; /* refused at admission (evicted holds the message) */
    bool admitted; /* passed admission (or was running when the agent started) */
};

static void sync_pod(pod_t *p);

/* The steps of a pod's start, with the time since the agent saw it, at debug level: where a
 * slow start spends its time. */
static void step(const pod_t *p, const char *fmt, ...) K1S_PRINTF(2, 3);
static void step(const pod_t *p, const char *fmt, ...)
{
    if (!k1s_log_enabled(K1S_LOG_DEBUG))
        return;
    va_list ap;
    va_start(ap, fmt);
    char *what = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    k1s_debug("kubelet: pod %s/%s: %s (+%.1f ms)", p->ns, p->name, what,
              (double)(k1s_now_ns() - p->seen_ns) / 1e6);
    free(what);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fmt_time(int64_t ns, char out[32])
{
    k1s_time_format_rfc3339(ns / 1000000000, out);
}

static void set_str(char **dst, const char *s)
{
    char *n = s ? k1s_xstrdup(s) : NULL;
    free(*dst);
    *dst = n;
}

/* ---- records ---- */

static void schedule(pod_t *p, uint64_t delay_ms)
{
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
    event_add(p->ev, &tv);
}

static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
    sync_pod(arg);
}

static ctr_t *find_ctr(pod_t *p, const char *name)
{
    for (size_t i = 0; i < p->nctr; i++)
        if (!strcmp(p->ctrs[i].name, name))
            return &p->ctrs[i];
    return NULL;
}

static void probers_stop(ctr_t *c)
{
    for (int i = 0; i < NPROBES; i++) {
        prober_t *pr = c->probers[i];
        if (!pr)
            continue;
        k1s_probe_cancel(pr->run);
        event_free(pr->timer);
        free(pr->ctr);
        free(pr);
        c->probers[i] = NULL;
    }
}

static void ctr_clear(ctr_t *c)
{
    probers_stop(c);
    free(c->name);
    free(c->id);
    free(c->prev_id);
    free(c->reason);
    free(c->message);
    json_decref(c->last_state);
    free(c->image);
    free(c->image_id);
    free(c->wait_reason);
    free(c->wait_message);
}

/* kubelet's default waiting reason: PodInitializing in a pod with init containers (kubectl
 * shows Init:N/M, then PodInitializing), else ContainerCreating. */
static const char *default_wait(const pod_t *p)
{
    return json_array_size(k1s_jpath(p->obj, "spec.initContainers")) ? "PodInitializing"
                                                                     : "ContainerCreating";
}

/* Makes the container list follow the spec (containers cannot change in a pod, but a record
 * adopted before its pod was seen has only the containers found running). */
static void ensure_ctrs(pod_t *p)
{
    const json_t *spec = json_object_get(p->obj, "spec");
    const json_t *ic = json_object_get(spec, "initContainers"),
                 *ac = json_object_get(spec, "containers");
    size_t n = json_array_size(ic) + json_array_size(ac);
    ctr_t *cs = k1s_xcalloc(n ? n : 1, sizeof(ctr_t));
    size_t k = 0;
    const json_t *lists[2] = {ic, ac};
    for (int l = 0; l < 2; l++) {
        size_t i;
        const json_t *c;
        json_array_foreach(lists[l], i, c)
        {
            const char *name = k1s_js(c, "name");
            ctr_t *old = find_ctr(p, name ? name : "");
            if (old) {
                cs[k] = *old;
                memset(old, 0, sizeof(*old));
            } else {
                cs[k].name = k1s_xstrdup(name ? name : "");
                set_str(&cs[k].wait_reason, default_wait(p));
            }
            cs[k].init = l == 0;
            cs[k].sidecar = l == 0 && k1s_streq(k1s_js(c, "restartPolicy"), "Always");
            k++;
        }
    }
    for (size_t i = 0; i < p->nctr; i++)
        ctr_clear(&p->ctrs[i]);
    free(p->ctrs);
    p->ctrs = cs;
    p->nctr = k;
    p->ninit = json_array_size(ic);
}

static pod_t *pod_get(k1s_kubelet_t *k, const char *uid, const char *ns, const char *name)
{
    pod_t *p = k1s_strmap_get(&k->by_uid, uid);
    if (p)
        return p;
    p = k1s_xcalloc(1, sizeof(*p));
    p->k = k;
    p->uid = k1s_xstrdup(uid);
    p->ns = k1s_xstrdup(ns ? ns : "");
    p->name = k1s_xstrdup(name ? name : "");
    p->dir = k1s_xasprintf("%s/%s", k->pods_dir, uid);
    p->sandbox = k1s_xasprintf("k1s-%s", uid);
    p->netns = k1s_xasprintf("%s/cni-%s", k->netns_dir, uid);
    p->ev = evtimer_new(k->base, sync_cb, p);
    p->seen_ns = k1s_now_ns();
    k1s_strmap_set(&k->by_uid, uid, p);
    return p;
}

static void pod_free(pod_t *p)
{
    k1s_vols_free(p->vols);
    k1s_vols_free(p->refresh);
    if (p->refresh_ev)
        event_free(p->refresh_ev);
    json_decref(p->refs);
    if (p->status_req)
        k1s_client_cancel(p->status_req);
    for (size_t i = 0; i < p->nctr; i++)
        ctr_clear(&p->ctrs[i]);
    free(p->ctrs);
    json_decref(p->obj);
    json_decref(p->written);
    event_free(p->ev);
    free(p->uid);
    free(p->ns);
    free(p->name);
    free(p->dir);
    free(p->netns);
    free(p->ip);
    free(p->sandbox);
    free(p->evicted);
    free(p);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 ? 0 : 0;
}

/* The pod's cgroup directories (kubepods[/qos]/pod<uid>) in every hierarchy; runc removed
 * the containers' own. */
static void remove_pod_cgroups(const pod_t *p)
{
    DIR *d = opendir("/sys/fs/cgroup");
    if (!d)
        return;
    struct dirent *de;
    static const char *const qos[] = {"", "burstable/", "besteffort/"};
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        for (size_t i = 0; i < 3; i++) {
            char path[512];
            snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/kubepods/%spod%s", de->d_name, qos[i],
                     p->uid);
            rmdir(path);
        }
    }
    closedir(d);
    for (size_t i = 0; i < 3; i++) { /* cgroup v2: one hierarchy */
        char path[512];
        snprintf(path, sizeof(path), "/sys/fs/cgroup/kubepods/%spod%s", qos[i], p->uid);
        rmdir(path);
    }
}

static void pod_forget(pod_t *p)
{
    remove_pod_cgroups(p);
    k1s_strmap_del(&p->k->by_uid, p->uid);
    k1s_podspec_unmount_volumes(p->dir);
    nftw(p->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (*p->name) { /* its logs go with it, as kubelet removes them */
        char *logs = k1s_xasprintf("%s/%s_%s_%s", POD_LOG_DIR, p->ns, p->name, p->uid);
        nftw(logs, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        free(logs);
    }
    k1s_debug("kubelet: pod %s/%s (%s) is gone from this node", p->ns, p->name, p->uid);
    pod_free(p);
}

static void event(pod_t *p, const char *type, const char *reason, const char *fmt, ...)
    K1S_PRINTF(4, 5);
static void event(pod_t *p, const char *type, const char *reason, const char *fmt, ...)
{
    if (!p->obj)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    k1s_recorder_event(p->k->recorder, p->obj, type, reason, "%s", msg);
    free(msg);
}

/* ---- status ---- */

static const char *restart_policy(const pod_t *p)
{
    const char *rp = k1s_jpath_str(p->obj, "spec.restartPolicy");
    return rp ? rp : "Always";
}

static bool should_restart(const pod_t *p, const ctr_t *c)
{
    if (c->sidecar) /* restarted whatever the pod's policy */
        return true;
    const char *rp = restart_policy(p);
    if (c->init && !strcmp(rp, "Always"))
        rp = "OnFailure"; /* init containers that succeeded are done */
    if (!strcmp(rp, "Always"))
        return true;
    if (!strcmp(rp, "OnFailure"))
        return c->exit_code != 0;
    return false;
}

static json_t *terminated_json(const ctr_t *c, const char *id)
{
    char s[32], f[32];
    fmt_time(c->started_ns, s);
    fmt_time(c->finished_ns, f);
    json_t *t = json_pack("{s:i, s:s, s:s, s:s}", "exitCode", c->exit_code, "reason",
                          c->reason ? c->reason : (c->exit_code ? "Error" : "Completed"),
                          "startedAt", s, "finishedAt", f);
    if (c->message && *c->message)
        json_object_set_new(t, "message", json_string(c->message));
    if (id)
        json_object_set_new(t, "containerID", json_sprintf("containerd://%s", id));
    return t;
}

static json_t *ctr_status(const pod_t *p, const ctr_t *c)
{
    const json_t *spec = NULL;
    size_t i;
    const json_t *x;
    json_array_foreach(k1s_jpath(p->obj, c->init ? "spec.initContainers" : "spec.containers"), i, x)
    {
        if (k1s_streq(k1s_js(x, "name"), c->name))
            spec = x;
    }
    const char *image = c->image ? c->image : k1s_js(spec, "image");
    json_t *st = json_pack("{s:s, s:s, s:s, s:i}", "name", c->name, "image", image ? image : "",
                           "imageID", c->image_id ? c->image_id : "", "restartCount", c->restarts);
    json_t *state = json_object();
    bool ready = false;
    if (c->running) {
        char t[32];
        fmt_time(c->started_ns, t);
        json_object_set_new(state, "running", json_pack("{s:s}", "startedAt", t));
        /* not ready before the startup probe passed, as kubelet */
        ready = (!c->init || c->sidecar) && c->ready && c->startup_ok;
    } else if (c->have_state && !(c->wait_reason && c->backoff_until_ns)) {
        json_object_set_new(state, "terminated", terminated_json(c, c->id));
    } else {
        json_t *w = json_object();
        json_object_set_new(w, "reason",
                            json_string(c->wait_reason ? c->wait_reason : default_wait(p)));
        if (c->wait_message)
            json_object_set_new(w, "message", json_string(c->wait_message));
        json_object_set_new(state, "waiting", w);
    }
    json_object_set_new(st, "state", state);
    json_object_set_new(st, "lastState", c->last_state ? json_copy(c->last_state) : json_object());
    json_object_set_new(st, "ready", json_boolean(ready));
    json_object_set_new(st, "started", json_boolean(c->running && c->startup_ok));
    if (c->id && (c->running || c->have_state))
        json_object_set_new(st, "containerID", json_sprintf("containerd://%s", c->id));
    return st;
}

/* Whether the app containers have started (once): sidecars no longer hold the pod back. */
static bool app_started(const pod_t *p)
{
    for (size_t i = p->ninit; i < p->nctr; i++)
        if (p->ctrs[i].running || p->ctrs[i].have_state || p->ctrs[i].last_state)
            return true;
    return false;
}

/* kubelet's getPhase. */
static const char *pod_phase(const pod_t *p, bool *init_done)
{
    *init_done = true;
    if (p->evicted)
        return "Failed";
    for (size_t i = 0; i < p->ninit; i++) {
        const ctr_t *c = &p->ctrs[i];
        if (c->have_state && !c->running && c->exit_code == 0)
            continue;
        if (c->sidecar && ((c->running && c->startup_ok) || app_started(p)))
            continue;
        *init_done = false;
        if (c->have_state && !c->running && !should_restart(p, c))
            return "Failed";
        return "Pending";
    }
    size_t running = 0, waiting = 0, stopped = 0, succeeded = 0, napp = p->nctr - p->ninit;
    for (size_t i = p->ninit; i < p->nctr; i++) {
        const ctr_t *c = &p->ctrs[i];
        if (c->running)
            running++;
        else if (c->have_state && !c->backoff_until_ns) {
            stopped++;
            if (c->exit_code == 0)
                succeeded++;
        } else if (c->have_state || c->last_state)
            running++; /* restarting: counts as running, as kubelet does */
        else
            waiting++;
    }
    if (waiting)
        return "Pending";
    if (running)
        return "Running";
    if (stopped == napp) {
        const char *rp = restart_policy(p);
        if (!strcmp(rp, "Always"))
            return "Running";
        if (succeeded == napp)
            return "Succeeded";
        return !strcmp(rp, "Never") || succeeded + 0 == napp ? "Failed" : "Running";
    }
    return "Pending";
}

static json_t *condition(const char *type, bool status, const char *reason, const json_t *old)
{
    char t[32];
    fmt_time(now_ns(), t);
    const char *st = status ? "True" : "False";
    /* keep the transition time while the status stays */
    size_t i;
    const json_t *c;
    json_array_foreach(old, i, c)
    {
        if (k1s_streq(k1s_js(c, "type"), type) && k1s_streq(k1s_js(c, "status"), st) &&
            k1s_js(c, "lastTransitionTime"))
            snprintf(t, sizeof(t), "%s", k1s_js(c, "lastTransitionTime"));
    }
    json_t *o = json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", st, "lastProbeTime",
                          "lastTransitionTime", t);
    /* null clears a reason an earlier write left (the patch is a strategic merge) */
    json_object_set_new(o, "reason", reason ? json_string(reason) : json_null());
    return o;
}

static void status_done(const k1s_client_result_t *res, void *arg)
{
    pod_t *p = arg;
    p->status_req = NULL;
    if (res->status != 200) {
        if (res->status != 404)
            k1s_warn("kubelet: cannot update status of pod %s/%s: %s", p->ns, p->name,
                     res->message && *res->message ? res->message : "no answer");
        json_decref(p->written);
        p->written = NULL; /* write it again next time */
        if (res->status != 404)
            schedule(p, 2000);
        return;
    }
    if (!p->running_noted && k1s_streq(k1s_js(p->written, "phase"), "Running")) {
        p->running_noted = true;
        step(p, "status Running written");
    }
    if (p->status_again) {
        p->status_again = false;
        schedule(p, 0);
    }
}

static void update_status(pod_t *p)
{
    if (!p->obj || p->deleting_api)
        return;
    bool init_done;
    const char *phase = pod_phase(p, &init_done);
    /* Our conditions keep their transition times from the status we wrote last (kubelet's
     * status manager cache), not from the pod the watch brings: that one may lag behind our
     * own writes, and two writes taking their times from each other went on forever. */
    const json_t *api_conds = k1s_jpath(p->obj, "status.conditions");
    const json_t *old = p->written ? json_object_get(p->written, "conditions") : api_conds;
    json_t *st = json_object();
    json_object_set_new(st, "phase", json_string(phase));
    json_object_set_new(st, "hostIP", json_string(p->k->node_ip));
    json_object_set_new(st, "hostIPs", json_pack("[{s:s}]", "ip", p->k->node_ip));
    if (p->ip && *p->ip && !p->net_down) {
        json_object_set_new(st, "podIP", json_string(p->ip));
        json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", p->ip));
    }
    char t[32];
    fmt_time(p->start_ns, t);
    json_object_set_new(st, "startTime", json_string(t));
    json_object_set_new(st, "qosClass", json_string(k1s_podspec_qos(p->obj)));
    if (p->evicted) {
        json_object_set_new(st, "reason", json_string("Evicted"));
        json_object_set_new(st, "message", json_string(p->evicted));
    }
    json_t *ics = json_array(), *cs = json_array();
    bool all_ready = p->nctr > p->ninit;
    for (size_t i = 0; i < p->nctr; i++) {
        json_t *s = ctr_status(p, &p->ctrs[i]);
        if ((!p->ctrs[i].init || p->ctrs[i].sidecar) && !json_is_true(json_object_get(s, "ready")))
            all_ready = false;
        json_array_append_new(p->ctrs[i].init ? ics : cs, s);
    }
    if (json_array_size(ics))
        json_object_set_new(st, "initContainerStatuses", ics);
    else
        json_decref(ics);
    json_object_set_new(st, "containerStatuses", cs);
    bool terminal = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
    const char *nr = terminal ? "PodCompleted" : "ContainersNotReady";
    json_t *conds = json_array();
    json_array_append_new(
        conds, condition("PodReadyToStartContainers", p->net_ready && !p->net_down, NULL, old));
    json_array_append_new(conds, condition("Initialized", init_done,
                                           init_done ? NULL : "ContainersNotInitialized", old));
    json_array_append_new(conds, condition("Ready", all_ready, all_ready ? NULL : nr, old));
    json_array_append_new(conds,
                          condition("ContainersReady", all_ready, all_ready ? NULL : nr, old));
    if (p->evicted && !p->rejected) {
        json_t *dt = condition("DisruptionTarget", true, "TerminationByKubelet", old);
        json_object_set_new(dt, "message", json_string(p->evicted));
        json_array_append_new(conds, dt);
    }
    /* conditions others own (PodScheduled, DisruptionTarget, readiness gates) stay */
    size_t i;
    const json_t *c;
    json_array_foreach(api_conds, i, c)
    {
        const char *type = k1s_js(c, "type");
        if (!k1s_streq(type, "PodReadyToStartContainers") && !k1s_streq(type, "Initialized") &&
            !k1s_streq(type, "Ready") && !k1s_streq(type, "ContainersReady") &&
            !(p->evicted && k1s_streq(type, "DisruptionTarget")))
            json_array_append(conds, (json_t *)c);
    }
    json_object_set_new(st, "conditions", conds);
    if (p->written && json_equal(p->written, st)) {
        json_decref(st);
        return;
    }
    if (p->status_req) {
        p->status_again = true;
        json_decref(st);
        return;
    }
    json_decref(p->written);
    p->written = st;
    json_t *patch = json_pack("{s:{s:s}, s:O}", "metadata", "uid", p->uid, "status", st);
    char *body = json_dumps(patch, JSON_COMPACT);
    json_decref(patch);
    p->status_req = k1s_client_patch(p->k->client, &pods_gvr, p->ns, p->name, "status",
                                     K1S_PATCH_STRATEGIC, body, false, status_done, p);
    free(body);
}

/* ---- network ---- */

static void net_added(k1s_cni_result_t *res, const k1s_err_t *err, void *arg)
{
    pod_t *p = arg;
    p->busy = false;
    if (err) {
        event(p, "Warning", "FailedCreatePodSandBox",
              "Failed to create pod sandbox: plugin type=\"bridge\" name=\"cbr0\" failed (add): %s",
              err->msg);
        k1s_warn("kubelet: pod %s/%s: %s", p->ns, p->name, err->msg);
        schedule(p, 5000);
        return;
    }
    char ip[64];
    const char *a = k1s_cni_result_pod_ip(res, 4, ip, sizeof(ip));
    if (!a)
        a = k1s_cni_result_pod_ip(res, 6, ip, sizeof(ip));
    set_str(&p->ip, a ? a : "");
    k1s_cni_result_free(res);
    p->net_ready = true;
    step(p, "network ready, IP %s", p->ip);
    sync_pod(p);
}

static bool host_network(const pod_t *p)
{
    return json_is_true(k1s_jpath(p->obj, "spec.hostNetwork"));
}

/* Ports with a hostPort, for portmap. The strings point into the pod object. */
static size_t host_ports(const pod_t *p, k1s_cni_port_t *out, size_t max)
{
    size_t n = 0, i, j;
    const json_t *c, *port;
    json_array_foreach(k1s_jpath(p->obj, "spec.containers"), i, c)
    {
        json_array_foreach(json_object_get(c, "ports"), j, port)
        {
            json_int_t hp = json_integer_value(json_object_get(port, "hostPort"));
            if (hp <= 0 || n == max)
                continue;
            const char *proto = k1s_js(port, "protocol");
            out[n++] = (k1s_cni_port_t){
                .host_port = (int)hp,
                .container_port = (int)json_integer_value(json_object_get(port, "containerPort")),
                .protocol = proto && !strcmp(proto, "UDP")    ? "udp"
                            : proto && !strcmp(proto, "SCTP") ? "sctp"
                                                              : "tcp",
                .host_ip = k1s_js(port, "hostIP")};
        }
    }
    return n;
}

/* Starts the sandbox's network; returns true when it is ready now. */
static bool ensure_network(pod_t *p)
{
    k1s_kubelet_t *k = p->k;
    k1s_err_t err = {0};
    if (p->net_ready)
        return true;
    if (host_network(p)) {
        set_str(&p->ip, k->node_ip);
        if (k1s_podspec_files(p->obj, p->dir, p->ip, &err) < 0) {
            event(p, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s",
                  err.msg);
            schedule(p, 5000);
            return false;
        }
        p->net_ready = true;
        return true;
    }
    k1s_cni_result_t *cached = NULL;
    if (k1s_netns_is_mounted(p->netns) &&
        k1s_cni_cached_result(k->cni, p->sandbox, &cached, NULL) == 0) {
        char ip[64];
        const char *a = k1s_cni_result_pod_ip(cached, 4, ip, sizeof(ip));
        set_str(&p->ip, a ? a : "");
        k1s_cni_result_free(cached);
        p->net_ready = true;
        return true;
    }
    if (!k1s_netns_is_mounted(p->netns)) {
        char *path = NULL;
        char name[128];
        snprintf(name, sizeof(name), "cni-%s", p->uid);
        if (k1s_netns_create(k->netns_dir, name, &path, &err) < 0) {
            event(p, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s",
                  err.msg);
            schedule(p, 5000);
            return false;
        }
        free(path);
    }
    k1s_cni_port_t ports[32];
    k1s_cni_pod_t cp = {.id = p->sandbox,
                        .netns = p->netns,
                        .namespace_ = p->ns,
                        .name = p->name,
                        .uid = p->uid,
                        .ports = ports,
                        .n_ports = host_ports(p, ports, 32)};
    if (k1s_cni_start(k->cni, k->base, K1S_CNI_ADD, &cp, net_added, p, NULL, &err) < 0) {
        if (err.code == EEXIST) { /* completed before: take the cached result */
            return false;
        }
        event(p, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s", err.msg);
        schedule(p, 5000);
        return false;
    }
    p->busy = true;
    return false;
}

static void net_deleted(k1s_cni_result_t *res, const k1s_err_t *err, void *arg)
{
    pod_t *p = arg;
    p->busy = false;
    k1s_cni_result_free(res);
    if (err) {
        k1s_warn("kubelet: pod %s/%s: tearing down the network: %s", p->ns, p->name, err->msg);
        schedule(p, 5000);
        return;
    }
    k1s_err_t e2 = {0};
    if (k1s_netns_remove(p->netns, &e2) < 0)
        k1s_warn("kubelet: pod %s/%s: %s", p->ns, p->name, e2.msg);
    p->net_down = true;
    p->net_ready = false;
    sync_pod(p);
}

/* Starts tearing the network down; returns true when it is down. */
static bool teardown_network(pod_t *p)
{
    if (p->net_down)
        return true;
    if (p->obj && host_network(p)) {
        p->net_down = true;
        return true;
    }
    k1s_cni_pod_t cp = {.id = p->sandbox,
                        .netns = k1s_netns_is_mounted(p->netns) ? p->netns : NULL,
                        .namespace_ = p->ns,
                        .name = p->name,
                        .uid = p->uid};
    k1s_err_t err = {0};
    if (k1s_cni_start(p->k->cni, p->k->base, K1S_CNI_DEL, &cp, net_deleted, p, NULL, &err) < 0) {
        k1s_debug("kubelet: pod %s/%s: CNI DEL: %s", p->ns, p->name, err.msg);
        k1s_netns_remove(p->netns, NULL);
        p->net_down = true;
        return true;
    }
    p->busy = true;
    return false;
}

/* ---- probes ---- */

static void stopped(void *arg, const char *id, int rc, const k1s_err_t *err)
{
    /* the exit itself arrives through on_exit */
}

static int grace_s(const pod_t *p);
enum { HOOK_POST_START, HOOK_PRE_STOP };
static bool run_hook(pod_t *p, ctr_t *c, const json_t *handler, int kind);

static const json_t *ctr_spec(const pod_t *p, const ctr_t *c);

static int probe_int(const json_t *probe, const char *key, int dflt)
{
    const json_t *v = json_object_get(probe, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int)json_integer_value(v) : dflt;
}

static void prober_arm(prober_t *pr, int seconds)
{
    struct timeval tv = {seconds, 0};
    evtimer_add(pr->timer, &tv);
}

static void probe_done(void *arg, bool ok, const char *msg)
{
    prober_t *pr = arg;
    pod_t *p = pr->p;
    pr->run = NULL;
    ctr_t *c = find_ctr(p, pr->ctr);
    if (!c)
        return;
    const json_t *probe = json_object_get(ctr_spec(p, c), probe_key[pr->kind]);
    int period = probe_int(probe, "periodSeconds", 10);
    if (!period)
        period = 10;
    if (ok) {
        pr->failures = 0;
        int need = probe_int(probe, "successThreshold", 1);
        if (++pr->successes >= (need > 0 ? need : 1)) {
            if (pr->kind == PROBE_READINESS && !c->ready) {
                c->ready = true;
                update_status(p);
            } else if (pr->kind == PROBE_STARTUP) {
                c->startup_ok = true;
                update_status(p);
                if (c->sidecar)
                    schedule(p, 0); /* the next init container may start */
                return;             /* done for this container */
            }
        }
        prober_arm(pr, period);
        return;
    }
    pr->successes = 0;
    pr->failures++;
    event(p, "Warning", "Unhealthy", "%s probe failed: %s", probe_name[pr->kind], msg);
    int limit = probe_int(probe, "failureThreshold", 3);
    if (pr->failures >= (limit > 0 ? limit : 3)) {
        if (pr->kind == PROBE_READINESS) {
            if (c->ready) {
                c->ready = false;
                update_status(p);
            }
        } else if (!c->stopping) {
            event(p, "Normal", "Killing", "Container %s failed %s probe, will be restarted",
                  c->name, pr->kind == PROBE_LIVENESS ? "liveness" : "startup");
            c->stopping = true;
            k1s_err_t err = {0};
            /* the probe's own terminationGracePeriodSeconds wins over the pod's */
            const json_t *g = json_object_get(probe, "terminationGracePeriodSeconds");
            if (!json_is_integer(g))
                g = k1s_jpath(p->obj, "spec.terminationGracePeriodSeconds");
            int grace = json_is_integer(g) ? (int)json_integer_value(g) : 30;
            k1s_rt_stop(p->k->rt, c->id, grace * 1000, NULL, NULL, &err);
            return;
        }
    }
    prober_arm(pr, period);
}

static void prober_fire(evutil_socket_t fd, short what, void *arg)
{
    prober_t *pr = arg;
    pod_t *p = pr->p;
    ctr_t *c = find_ctr(p, pr->ctr);
    if (!c || !c->running || c->stopping)
        return;
    const json_t *spec = ctr_spec(p, c);
    const json_t *probe = json_object_get(spec, probe_key[pr->kind]);
    int period = probe_int(probe, "periodSeconds", 10);
    if (pr->kind != PROBE_STARTUP && !c->startup_ok) { /* wait for the startup probe */
        prober_arm(pr, period ? period : 10);
        return;
    }
    k1s_err_t err = {0};
    pr->run = k1s_probe_run(p->k->base, p->k->rt, c->id, p->ip, spec, probe, probe_done, pr, &err);
    if (!pr->run)
        probe_done(pr, false, err.msg);
}

static void probers_start(pod_t *p, ctr_t *c)
{
    probers_stop(c);
    const json_t *spec = ctr_spec(p, c);
    c->ready = !json_object_get(spec, "readinessProbe");
    c->startup_ok = !json_object_get(spec, "startupProbe");
    if (c->init && !c->sidecar)
        return;
    for (int k = 0; k < NPROBES; k++) {
        const json_t *probe = json_object_get(spec, probe_key[k]);
        if (!probe)
            continue;
        prober_t *pr = k1s_xcalloc(1, sizeof(*pr));
        pr->p = p;
        pr->ctr = k1s_xstrdup(c->name);
        pr->kind = k;
        pr->timer = evtimer_new(p->k->base, prober_fire, pr);
        c->probers[k] = pr;
        prober_arm(pr, probe_int(probe, "initialDelaySeconds", 0));
    }
}

/* ---- containers ---- */

static const json_t *ctr_spec(const pod_t *p, const ctr_t *c)
{
    size_t i;
    const json_t *x;
    json_array_foreach(k1s_jpath(p->obj, c->init ? "spec.initContainers" : "spec.containers"), i, x)
    {
        if (k1s_streq(k1s_js(x, "name"), c->name))
            return x;
    }
    return NULL;
}

static char *rootfs_dir(const pod_t *p, const char *id)
{
    return k1s_xasprintf("%s/rootfs/%s", p->dir, id);
}

/* Removes a container that has exited: its state, its rootfs. */
static void remove_container(pod_t *p, const char *id)
{
    k1s_err_t err = {0};
    k1s_rt_remove(p->k->rt, id, &err);
    char *dir = rootfs_dir(p, id);
    k1s_snapshot_unmount(p->k->images, id, dir, &err);
    rmdir(dir);
    free(dir);
}

static void start_failed(pod_t *p, ctr_t *c, const char *reason, const char *msg)
{
    set_str(&c->wait_reason, reason);
    set_str(&c->wait_message, msg);
    if (c->backoff_s == 0)
        c->backoff_s = BACKOFF_INITIAL_S;
    else if ((c->backoff_s *= 2) > BACKOFF_MAX_S)
        c->backoff_s = BACKOFF_MAX_S;
    c->backoff_until_ns = k1s_now_ns() + (uint64_t)c->backoff_s * 1000000000ull;
    schedule(p, (uint64_t)c->backoff_s * 1000);
}

typedef struct start_ctx {
    pod_t *p;
    char *ctr, *id;
    char *image, *image_id;
} start_ctx_t;

static void start_ctx_free(start_ctx_t *s)
{
    free(s->ctr);
    free(s->id);
    free(s->image);
    free(s->image_id);
    free(s);
}

static void started(void *arg, const char *id, int rc, const k1s_err_t *err)
{
    start_ctx_t *s = arg;
    pod_t *p = s->p;
    ctr_t *c = find_ctr(p, s->ctr);
    p->busy = false;
    if (!c) {
        start_ctx_free(s);
        sync_pod(p);
        return;
    }
    if (rc < 0) {
        event(p, "Warning", "Failed", "Error: %s", err ? err->msg : "container start failed");
        /* it exists, exited with StartError: it becomes the current container */
        if (c->have_state && c->id) {
            json_decref(c->last_state);
            c->last_state = json_pack("{s:o}", "terminated", terminated_json(c, c->id));
        }
        set_str(&c->prev_id, c->id);
        set_str(&c->id, s->id);
        c->have_state = true;
        c->running = false;
        c->exit_code = 128;
        set_str(&c->reason, "StartError");
        set_str(&c->message, err ? err->msg : "");
        c->started_ns = c->finished_ns = now_ns();
        start_failed(p, c, "RunContainerError", err ? err->msg : "");
        update_status(p);
        schedule(p, 1000);
        start_ctx_free(s);
        return;
    }
    step(p, "container %s started", c->name);
    event(p, "Normal", "Created", "Created container: %s", c->name);
    event(p, "Normal", "Started", "Started container %s", c->name);
    if (c->have_state && c->id) {
        json_decref(c->last_state);
        c->last_state = json_pack("{s:o}", "terminated", terminated_json(c, c->id));
    }
    if (c->prev_id)
        remove_container(p, c->prev_id);
    set_str(&c->prev_id, c->id);
    set_str(&c->id, s->id);
    set_str(&c->image, s->image);
    set_str(&c->image_id, s->image_id);
    c->have_state = true;
    c->running = true;
    c->exit_code = 0;
    set_str(&c->reason, NULL);
    set_str(&c->message, NULL);
    c->started_ns = now_ns();
    c->finished_ns = 0;
    set_str(&c->wait_reason, NULL);
    set_str(&c->wait_message, NULL);
    c->backoff_until_ns = 0;
    c->pulled = false;
    probers_start(p, c);
    start_ctx_free(s);
    const json_t *post = k1s_jpath(ctr_spec(p, c), "lifecycle.postStart");
    if (post && run_hook(p, c, post, HOOK_POST_START))
        return; /* the pod goes on when the hook is done */
    sync_pod(p);
}

static void pulled(int rc, const k1s_image_t *img, const k1s_err_t *err, void *arg)
{
    start_ctx_t *s = arg;
    pod_t *p = s->p;
    ctr_t *c = find_ctr(p, s->ctr);
    p->busy = false;
    if (c && rc < 0) {
        event(p, "Warning", "Failed", "Failed to pull image \"%s\": %s", s->image,
              err ? err->msg : "");
        event(p, "Warning", "Failed", "Error: ErrImagePull");
        start_failed(p, c, "ErrImagePull", err ? err->msg : "");
        update_status(p);
        schedule(p, 1000);
    } else if (c) {
        event(p, "Normal", "Pulled", "Successfully pulled image \"%s\"", s->image);
        c->pulled = true;
        sync_pod(p);
    }
    start_ctx_free(s);
}

static void random_id(char out[65])
{
    unsigned char b[32];
    k1s_random_bytes(b, sizeof(b));
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static const char *pull_policy(const json_t *spec, const char *image)
{
    const char *pp = k1s_js(spec, "imagePullPolicy");
    if (pp)
        return pp;
    const char *slash = strrchr(image, '/');
    const char *colon = strrchr(slash ? slash : image, ':');
    if (strchr(image, '@'))
        return "IfNotPresent";
    return !colon || !strcmp(colon, ":latest") ? "Always" : "IfNotPresent";
}

/* Credentials from the pod's imagePullSecrets (kubernetes.io/dockerconfigjson or
 * dockercfg Secrets), fetched with its volumes. Returns how many. */
static size_t pull_creds(const pod_t *p, k1s_image_cred_t **out)
{
    k1s_image_cred_t *all = NULL;
    size_t n = 0, i;
    const json_t *r;
    *out = NULL;
    json_array_foreach(k1s_jpath(p->obj, "spec.imagePullSecrets"), i, r)
    {
        const json_t *sec = json_object_get(json_object_get(p->refs, "secrets"),
                                            k1s_js(r, "name") ? k1s_js(r, "name") : "");
        const json_t *data = json_object_get(sec, "data");
        const char *b64 = json_string_value(json_object_get(data, ".dockerconfigjson"));
        if (!b64)
            b64 = json_string_value(json_object_get(data, ".dockercfg"));
        unsigned char *raw = NULL;
        size_t len = 0;
        k1s_image_cred_t *c = NULL;
        size_t nc = 0;
        if (!b64 || k1s_b64_decode(b64, &raw, &len) < 0)
            continue;
        if (k1s_image_creds_from_dockerconfig((char *)raw, len, &c, &nc) == 0 && nc) {
            all = k1s_xrealloc(all, (n + nc) * sizeof(*all));
            for (size_t j = 0; j < nc; j++)
                all[n + j] = (k1s_image_cred_t){k1s_xstrdup(c[j].registry ? c[j].registry : ""),
                                                k1s_xstrdup(c[j].username ? c[j].username : ""),
                                                k1s_xstrdup(c[j].password ? c[j].password : "")};
            n += nc;
            k1s_image_creds_free(c, nc);
        }
        free(raw);
    }
    *out = all;
    return n;
}

/* Starts (or pulls the image of) container c; the pod is busy until it completes. */
static void start_container(pod_t *p, ctr_t *c)
{
    k1s_kubelet_t *k = p->k;
    const json_t *spec = ctr_spec(p, c);
    const char *image = k1s_js(spec, "image");
    k1s_err_t err = {0};
    if (!spec || !image || !*image) {
        start_failed(p, c, "InvalidImageName", "no image given");
        return;
    }
    const char *policy = pull_policy(spec, image);
    k1s_image_t *img = NULL;
    int r = k1s_image_get(k->images, image, &img, &err);
    bool need = !c->pulled && (!strcmp(policy, "Always") || r == -ENOENT);
    if (need && !strcmp(policy, "Never")) {
        char *msg =
            k1s_xasprintf("Container image \"%s\" is not present with pull policy of Never", image);
        event(p, "Warning", "ErrImageNeverPull", "%s", msg);
        start_failed(p, c, "ErrImageNeverPull", msg);
        free(msg);
        return;
    }
    if (need) {
        k1s_image_free(img);
        start_ctx_t *s = k1s_xcalloc(1, sizeof(*s));
        s->p = p;
        s->ctr = k1s_xstrdup(c->name);
        s->image = k1s_xstrdup(image);
        event(p, "Normal", "Pulling", "Pulling image \"%s\"", image);
        set_str(&c->wait_reason, default_wait(p));
        set_str(&c->wait_message, NULL);
        k1s_image_cred_t *creds = NULL;
        size_t ncreds = pull_creds(p, &creds);
        k1s_image_pull_opts_t po = {.creds = creds, .n_creds = ncreds};
        r = k1s_image_pull_async(k->images, k->base, image, &po, pulled, s, NULL);
        k1s_image_creds_free(creds, ncreds);
        if (r < 0) {
            start_failed(p, c, "ErrImagePull", "cannot start a pull");
            start_ctx_free(s);
            return;
        }
        p->busy = true;
        return;
    }
    if (r < 0) {
        start_failed(p, c, "ErrImagePull", err.msg);
        return;
    }
    if (!c->pulled && !strcmp(policy, "IfNotPresent") && !c->have_state)
        event(p, "Normal", "Pulled", "Container image \"%s\" already present on machine", image);
    k1s_image_config_t *icfg = NULL;
    if (k1s_image_config_get(k->images, img, &icfg, &err) < 0) {
        start_failed(p, c, "CreateContainerError", err.msg);
        k1s_image_free(img);
        return;
    }
    char id[65];
    random_id(id);
    char *rootfs = rootfs_dir(p, id);
    k1s_mkdir_p(rootfs, 0755);
    char *cgroup = NULL;
    const char *qos = k1s_podspec_qos(p->obj);
    if (!strcmp(qos, "Guaranteed"))
        cgroup = k1s_xasprintf("/kubepods/pod%s/%s", p->uid, id);
    else
        cgroup = k1s_xasprintf("/kubepods/%s/pod%s/%s",
                               !strcmp(qos, "Burstable") ? "burstable" : "besteffort", p->uid, id);
    k1s_ctr_build_t b;
    k1s_pod_env_t env = {.pod = p->obj,
                         .pod_dir = p->dir,
                         .netns = p->netns,
                         .pod_ip = p->ip ? p->ip : "",
                         .node_name = k->node,
                         .node_ip = k->node_ip,
                         .rootfs = rootfs,
                         .cgroup = cgroup,
                         .container = spec,
                         .refs = p->refs,
                         .image = icfg};
    r = k1s_snapshot_mount(k->images, img->id, id, rootfs, false, &err);
    if (r == 0)
        r = k1s_podspec_container(&env, &b, &err);
    else
        memset(&b, 0, sizeof(b));
    if (r < 0) {
        event(p, "Warning", "Failed", "Error: %s", err.msg);
        start_failed(p, c, "CreateContainerConfigError", err.msg);
        k1s_snapshot_unmount(k->images, id, rootfs, NULL);
        rmdir(rootfs);
    } else {
        char *log = k1s_xasprintf("%s/%s_%s_%s/%s/%d.log", POD_LOG_DIR, p->ns, p->name, p->uid,
                                  c->name, c->restarts + (c->have_state ? 1 : 0));
        char *labels[8];
        labels[0] = k1s_xasprintf(L_UID "=%s", p->uid);
        labels[1] = k1s_xasprintf(L_NS "=%s", p->ns);
        labels[2] = k1s_xasprintf(L_POD "=%s", p->name);
        labels[3] = k1s_xasprintf(L_CTR "=%s", c->name);
        labels[4] = k1s_xasprintf(L_RESTART "=%d", c->restarts + (c->have_state ? 1 : 0));
        labels[5] = k1s_xasprintf(L_IMAGE "=%s", image);
        labels[6] = k1s_xasprintf(L_IMAGE_ID "=%s", img->repo_digest ? img->repo_digest : img->id);
        labels[7] = NULL;
        start_ctx_t *s = k1s_xcalloc(1, sizeof(*s));
        s->p = p;
        s->ctr = k1s_xstrdup(c->name);
        s->id = k1s_xstrdup(id);
        s->image = k1s_xstrdup(image);
        s->image_id = k1s_xstrdup(img->repo_digest ? img->repo_digest : img->id);
        k1s_rt_start_req_t req = {.id = id,
                                  .config = &b.cfg,
                                  .log_path = log,
                                  .stdin_open = json_is_true(json_object_get(spec, "stdin")),
                                  .labels = labels};
        if (c->have_state) {
            c->restarts++;
        }
        step(p, "starting container %s", c->name);
        if (k1s_rt_start(k->rt, &req, started, s, &err) < 0) {
            event(p, "Warning", "Failed", "Error: %s", err.msg);
            start_failed(p, c, "CreateContainerError", err.msg);
            start_ctx_free(s);
            k1s_snapshot_unmount(k->images, id, rootfs, NULL);
            rmdir(rootfs);
        } else {
            p->busy = true;
        }
        for (int i = 0; labels[i]; i++)
            free(labels[i]);
        free(log);
        k1s_ctr_build_clear(&b);
    }
    free(cgroup);
    free(rootfs);
    k1s_image_config_free(icfg);
    k1s_image_free(img);
}

/* Whether c needs (re)starting now; sets its waiting state when it must wait. */
static bool wants_start(pod_t *p, ctr_t *c)
{
    if (c->running)
        return false;
    uint64_t now = k1s_now_ns();
    if (!c->have_state || c->backoff_until_ns) {
        /* a failed pull or start: ErrImagePull becomes ImagePullBackOff and
         * RunContainerError CrashLoopBackOff while kubelet waits, as kubectl shows them */
        if (c->backoff_until_ns && now < c->backoff_until_ns) {
            if (k1s_streq(c->wait_reason, "ErrImagePull")) {
                const char *image = k1s_js(ctr_spec(p, c), "image");
                char *msg = k1s_xasprintf("Back-off pulling image \"%s\"", image ? image : "");
                set_str(&c->wait_reason, "ImagePullBackOff");
                set_str(&c->wait_message, msg);
                event(p, "Normal", "BackOff", "%s", msg);
                free(msg);
            } else if (k1s_streq(c->wait_reason, "RunContainerError")) {
                char *msg =
                    k1s_xasprintf("back-off %ds restarting failed container=%s pod=%s_%s(%s)",
                                  c->backoff_s, c->name, p->name, p->ns, p->uid);
                set_str(&c->wait_reason, "CrashLoopBackOff");
                set_str(&c->wait_message, msg);
                event(p, "Warning", "BackOff",
                      "Back-off restarting failed container %s in pod %s_%s(%s)", c->name, p->name,
                      p->ns, p->uid);
                free(msg);
            }
            schedule(p, (c->backoff_until_ns - now) / 1000000 + 1);
            return false;
        }
        if (!c->have_state)
            return true;
    }
    if (!should_restart(p, c))
        return false;
    if (!c->backoff_until_ns) {
        /* kubelet restarts at once the first time, then backs off 10 s, 20 s, ... 5 min */
        bool long_run = c->finished_ns - c->started_ns >= (int64_t)BACKOFF_RESET_S * 1000000000;
        if (long_run)
            c->backoff_s = 0;
        if (c->backoff_s > 0) {
            c->backoff_until_ns = now + (uint64_t)c->backoff_s * 1000000000ull;
            char *msg = k1s_xasprintf("back-off %ds restarting failed container=%s pod=%s_%s(%s)",
                                      c->backoff_s, c->name, p->name, p->ns, p->uid);
            set_str(&c->wait_reason, "CrashLoopBackOff");
            set_str(&c->wait_message, msg);
            event(p, "Warning", "BackOff",
                  "Back-off restarting failed container %s in pod %s_%s(%s)", c->name, p->name,
                  p->ns, p->uid);
            free(msg);
            if ((c->backoff_s *= 2) > BACKOFF_MAX_S)
                c->backoff_s = BACKOFF_MAX_S;
            schedule(p, (c->backoff_until_ns - now) / 1000000 + 1);
            return false;
        }
        c->backoff_s = BACKOFF_INITIAL_S;
    }
    return true;
}

/* ---- termination ---- */

static int grace_s(const pod_t *p)
{
    const json_t *g = k1s_jpath(p->obj, "metadata.deletionGracePeriodSeconds");
    if (!json_is_integer(g))
        g = k1s_jpath(p->obj, "spec.terminationGracePeriodSeconds");
    return json_is_integer(g) ? (int)json_integer_value(g) : DEFAULT_GRACE_S;
}

static void deleted_api(const k1s_client_result_t *res, void *arg)
{
    pod_t *p = arg;
    p->busy = false;
    if (res->status == 200 || res->status == 404 || res->status == 409) {
        p->forget = true;
        sync_pod(p);
        return;
    }
    k1s_warn("kubelet: cannot delete pod %s/%s: %s", p->ns, p->name,
             res->message && *res->message ? res->message : "no answer");
    p->deleting_api = false;
    schedule(p, 5000);
}

static void stop_now(pod_t *p, ctr_t *c, int grace_ms)
{
    k1s_err_t err = {0};
    if (k1s_rt_stop(p->k->rt, c->id, grace_ms, stopped, p, &err) < 0) {
        k1s_debug("kubelet: stop %s: %s", c->id, err.msg);
        if (err.code == ESRCH || err.code == ENOENT)
            c->running = false;
    }
}

/* ---- lifecycle hooks ---- */

typedef struct hook {
    pod_t *p;
    char *ctr, *id;
    int kind;
    uint64_t t0;
} hook_t;

static void hook_done(void *arg, bool ok, const char *msg)
{
    hook_t *h = arg;
    pod_t *p = h->p;
    p->hooks--;
    ctr_t *c = find_ctr(p, h->ctr);
    if (c && k1s_streq(c->id, h->id)) {
        if (h->kind == HOOK_PRE_STOP) {
            if (!ok)
                event(p, "Warning", "FailedPreStopHook", "PreStopHook failed: %s", msg);
            /* what is left of the grace period, at least 2 s as kubelet gives */
            int64_t left = (int64_t)grace_s(p) * 1000 - (int64_t)((k1s_now_ns() - h->t0) / 1000000);
            stop_now(p, c, left < 2000 ? 2000 : (int)left);
        } else {
            p->busy = false;
            if (!ok) {
                event(p, "Warning", "FailedPostStartHook", "PostStartHook failed: %s", msg);
                c->stopping = true;
                stop_now(p, c, grace_s(p) * 1000);
            }
            sync_pod(p);
        }
    } else if (h->kind == HOOK_POST_START) {
        p->busy = false;
        sync_pod(p);
    }
    free(h->ctr);
    free(h->id);
    free(h);
}

/* Starts a postStart or preStop handler; false if it could not start (it is skipped). */
static bool run_hook(pod_t *p, ctr_t *c, const json_t *handler, int kind)
{
    json_t *h = json_copy((json_t *)handler);
    json_object_set_new(h, "timeoutSeconds", json_integer(grace_s(p) > 0 ? grace_s(p) : 2));
    hook_t *hk = k1s_xcalloc(1, sizeof(*hk));
    hk->p = p;
    hk->ctr = k1s_xstrdup(c->name);
    hk->id = k1s_xstrdup(c->id);
    hk->kind = kind;
    hk->t0 = k1s_now_ns();
    k1s_err_t err = {0};
    k1s_probe_t *run =
        k1s_probe_run(p->k->base, p->k->rt, c->id, p->ip, ctr_spec(p, c), h, hook_done, hk, &err);
    json_decref(h);
    if (!run) {
        event(p, "Warning", kind == HOOK_PRE_STOP ? "FailedPreStopHook" : "FailedPostStartHook",
              "%s", err.msg);
        free(hk->ctr);
        free(hk->id);
        free(hk);
        return false;
    }
    if (kind == HOOK_POST_START)
        p->busy = true;
    p->hooks++;
    return true;
}

/* Stops everything of a pod that is being deleted or has left the API; returns true once
 * nothing of it runs on the node any more. */
static bool terminate(pod_t *p, bool remove_all)
{
    bool any = false, apps = false;
    for (size_t i = p->ninit; i < p->nctr; i++)
        apps |= p->ctrs[i].running;
    for (size_t i = 0; i < p->nctr; i++) {
        ctr_t *c = &p->ctrs[i];
        if (!c->running)
            continue;
        any = true;
        if (c->stopping || (c->sidecar && apps)) /* sidecars go after the app containers */
            continue;
        c->stopping = true;
        event(p, "Normal", "Killing", "Stopping container %s", c->name);
        if (p->evicted) { /* hard eviction: grace period 0, no preStop hook */
            stop_now(p, c, 0);
            continue;
        }
        const json_t *pre = k1s_jpath(ctr_spec(p, c), "lifecycle.preStop");
        if (pre && run_hook(p, c, pre, HOOK_PRE_STOP))
            continue;
        stop_now(p, c, grace_s(p) * 1000);
    }
    if (any)
        return false;
    if (!teardown_network(p))
        return false;
    if (remove_all) {
        for (size_t i = 0; i < p->nctr; i++) {
            ctr_t *c = &p->ctrs[i];
            if (c->prev_id)
                remove_container(p, c->prev_id);
            if (c->id)
                remove_container(p, c->id);
            set_str(&c->prev_id, NULL);
            set_str(&c->id, NULL);
        }
    }
    return true;
}

/* ---- volumes ---- */

static void arm_refresh(pod_t *p);

static void vols_done(void *arg, int rc, const char *msg)
{
    pod_t *p = arg;
    p->busy = false;
    if (rc < 0) {
        event(p, "Warning", "FailedMount", "%s", msg);
        schedule(p, 5000);
        return;
    }
    p->vols_ready = true;
    step(p, "volumes ready");
    json_decref(p->refs);
    p->refs = k1s_vols_refs(p->vols);
    schedule(p, 0);
    arm_refresh(p);
}

static void refresh_done(void *arg, int rc, const char *msg)
{
    pod_t *p = arg;
    if (rc < 0)
        event(p, "Warning", "FailedMount", "%s", msg);
    arm_refresh(p); /* the handle is freed when the timer fires */
}

/* ConfigMap and Secret volumes follow their objects, and tokens are renewed, by a re-read
 * every REFRESH_S (kubelet's sync period); only what changed is rewritten. */
static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
    pod_t *p = arg;
    k1s_vols_free(p->refresh);
    p->refresh = NULL;
    if (!p->obj || k1s_jpath(p->obj, "metadata.deletionTimestamp"))
        return;
    p->refresh = k1s_vols_start(p->k->client, p->obj, p->dir, p->ip, true, refresh_done, p);
}

/* How often the pod's volumes need a re-read: every sync period when a configMap or Secret
 * of its own is mounted; otherwise (the default kube-api-access volume: a token, the
 * cluster's kube-root-ca.crt, the namespace) when the token reaches 80% of its life. 0:
 * never. */
static int refresh_period(const pod_t *p)
{
    const char *env = getenv("K1S_SYNC_FREQUENCY");
    int sync = env && atoi(env) > 0 ? atoi(env) : REFRESH_S;
    int period = 0;
    size_t i;
    const json_t *vol;
    json_array_foreach(k1s_jpath(p->obj, "spec.volumes"), i, vol)
    {
        if (json_object_get(vol, "configMap") || json_object_get(vol, "secret"))
            return sync;
        size_t j;
        const json_t *src;
        json_array_foreach(k1s_jpath(vol, "projected.sources"), j, src)
        {
            const char *cm = k1s_jpath_str(src, "configMap.name");
            if (json_object_get(src, "secret") || (cm && strcmp(cm, "kube-root-ca.crt")))
                return sync;
            const json_t *tok = json_object_get(src, "serviceAccountToken");
            if (tok) {
                const json_t *exp = json_object_get(tok, "expirationSeconds");
                int life = json_is_integer(exp) ? (int)json_integer_value(exp) : 3607;
                int when = life * 8 / 10 + 1;
                if (env && atoi(env) > 0 && sync < when)
                    when = sync; /* tests */
                if (!period || when < period)
                    period = when;
            }
        }
    }
    return period;
}

static void arm_refresh(pod_t *p)
{
    int period = p->obj ? refresh_period(p) : 0;
    if (!period)
        return;
    if (!p->refresh_ev)
        p->refresh_ev = evtimer_new(p->k->base, refresh_cb, p);
    struct timeval tv = {period, 0};
    evtimer_add(p->refresh_ev, &tv);
}

/* ---- the sync ---- */

/* Kubelet's admission of a new pod against node pressure (eviction.h): a pod refused fails
 * at once with reason Evicted. Pods that already ran on the node are not judged again. */
static bool admit(pod_t *p)
{
    p->admitted = true;
    for (size_t i = 0; i < p->nctr; i++)
        if (p->ctrs[i].have_state || p->ctrs[i].id)
            return true;
    bool mem, disk;
    k1s_eviction_pressure(k1s_agent_eviction(p->k->agent), &mem, &disk);
    char *msg = k1s_eviction_admit(mem, disk, p->obj, k1s_podspec_qos(p->obj));
    if (!msg)
        return true;
    k1s_info("kubelet: pod %s/%s refused: %s", p->ns, p->name, msg);
    event(p, "Warning", "Evicted", "%s", msg);
    p->evicted = k1s_xasprintf("Pod was rejected: %s", msg); /* kubelet's rejectPod */
    p->rejected = true;
    free(msg);
    sync_pod(p); /* terminal now */
    return false;
}

static void sync_pod(pod_t *p)
{
    if (p->busy || p->hooks)
        return;
    if (p->forget) {
        pod_forget(p);
        return;
    }
    bool deleting =
        !p->obj || json_object_get(json_object_get(p->obj, "metadata"), "deletionTimestamp");
    if (deleting) {
        if (!terminate(p, true))
            return;
        if (!p->obj) {
            pod_forget(p);
            return;
        }
        if (!p->deleting_api) {
            p->deleting_api = true;
            p->busy = true;
            k1s_delete_opts_t o = {.grace_period_s = 0, .precondition_uid = p->uid};
            k1s_client_delete(p->k->client, &pods_gvr, p->ns, p->name, &o, deleted_api, p);
        }
        return;
    }
    const char *api_phase = k1s_jpath_str(p->obj, "status.phase");
    bool init_done;
    const char *phase = pod_phase(p, &init_done);
    if (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") ||
        k1s_streq(api_phase, "Succeeded") || k1s_streq(api_phase, "Failed")) {
        /* terminal: nothing restarts; the sandbox goes, the containers stay for logs */
        if (!terminate(p, false))
            return;
        update_status(p);
        return;
    }
    if (!p->admitted && !admit(p))
        return;
    if (!p->start_ns)
        p->start_ns = now_ns();
    if (!ensure_network(p)) {
        update_status(p);
        return;
    }
    k1s_kubelet_t *k = p->k;
    k1s_err_t err = {0};
    if (k1s_podspec_files(p->obj, p->dir, p->ip, &err) < 0) {
        k1s_warn("kubelet: pod %s/%s: %s", p->ns, p->name, err.msg);
        schedule(p, 5000);
        return;
    }
    if (p->vols) {
        k1s_vols_free(p->vols);
        p->vols = NULL;
    }
    if (!p->vols_ready) {
        if (!k1s_vols_needed(p->obj)) {
            p->vols_ready = true;
        } else {
            p->busy = true;
            k1s_vols_t *v = k1s_vols_start(k->client, p->obj, p->dir, p->ip, false, vols_done, p);
            p->vols = v;
            update_status(p);
            return;
        }
    }
    /* init containers, one at a time, in order; a sidecar lets the next one start once it
     * runs (and its startup probe passed), and is restarted without holding the pod back
     * once the app containers started */
    for (size_t i = 0; i < p->ninit; i++) {
        ctr_t *c = &p->ctrs[i];
        if (c->sidecar && c->running && c->startup_ok)
            continue;
        if (c->sidecar && !c->running && app_started(p)) {
            if (wants_start(p, c))
                start_container(p, c);
            if (p->busy)
                break;
            continue;
        }
        if (c->have_state && !c->running && c->exit_code == 0 && !c->sidecar)
            continue;
        if (wants_start(p, c))
            start_container(p, c);
        update_status(p);
        return;
    }
    for (size_t i = p->ninit; i < p->nctr && !p->busy; i++) {
        ctr_t *c = &p->ctrs[i];
        if (wants_start(p, c))
            start_container(p, c);
    }
    update_status(p);
}

/* ---- events from the runtime and the API ---- */

static const char *label(char **labels, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; labels && labels[i]; i++)
        if (!strncmp(labels[i], key, n) && labels[i][n] == '=')
            return labels[i] + n + 1;
    return NULL;
}

static char *log_tail(const pod_t *p, const ctr_t *c);

static void on_exit_cb(void *arg, const k1s_rt_status_t *st)
{
    k1s_kubelet_t *k = arg;
    k1s_kubelet_api_exited(k, st->id);
    const char *uid = label(st->labels, L_UID), *name = label(st->labels, L_CTR);
    pod_t *p = uid ? k1s_strmap_get(&k->by_uid, uid) : NULL;
    ctr_t *c = p && name ? find_ctr(p, name) : NULL;
    if (!c || !k1s_streq(c->id, st->id))
        return;
    c->running = false;
    c->stopping = false;
    c->have_state = true;
    c->ready = false;
    probers_stop(c);
    c->exit_code = st->exit_code;
    set_str(&c->reason, st->reason);
    set_str(&c->message, st->message);
    if (st->started_at)
        c->started_ns = st->started_at;
    c->finished_ns = st->finished_at ? st->finished_at : now_ns();
    c->backoff_until_ns = 0;
    /* the termination message, when the container wrote one */
    char *path = k1s_xasprintf("%s/termination-%s", p->dir, c->name);
    char *msg = k1s_podspec_termination_message(path);
    if (msg) {
        set_str(&c->message, msg);
    } else if (st->exit_code != 0 && k1s_streq(k1s_js(ctr_spec(p, c), "terminationMessagePolicy"),
                                               "FallbackToLogsOnError")) {
        char *tail = log_tail(p, c);
        if (tail && *tail)
            set_str(&c->message, tail);
        free(tail);
    }
    free(msg);
    free(path);
    k1s_debug("kubelet: container %s of pod %s/%s exited with %d", c->name, p->ns, p->name,
              st->exit_code);
    sync_pod(p);
}

/* The end of a container's log, as kubelet gives it for FallbackToLogsOnError: the
 * messages of the last 80 lines, at most 2048 bytes. New string or NULL. */
static char *log_tail(const pod_t *p, const ctr_t *c)
{
    char *path = k1s_xasprintf("%s/%s_%s_%s/%s/%d.log", POD_LOG_DIR, p->ns, p->name, p->uid,
                               c->name, c->restarts);
    char *data = NULL;
    size_t len = 0;
    int r = k1s_read_file(path, &data, &len);
    free(path);
    if (r < 0)
        return NULL;
    /* the start of the 80th line from the end */
    size_t start = len, lines = 0;
    while (start > 0) {
        if (data[start - 1] == '\n' && start != len && ++lines == 80)
            break;
        start--;
    }
    k1s_buf_t b = {0};
    for (char *line = strtok(data + start, "\n"); line; line = strtok(NULL, "\n")) {
        /* "<time> <stream> <F|P> <message>" */
        char *m = strchr(line, ' ');
        m = m ? strchr(m + 1, ' ') : NULL;
        m = m ? strchr(m + 1, ' ') : NULL;
        if (!m)
            continue;
        k1s_buf_puts(&b, m + 1);
        if (line[m - line - 1] == 'F')
            k1s_buf_putc(&b, '\n');
    }
    free(data);
    k1s_buf_putc(&b, 0);
    char *out = k1s_buf_steal(&b);
    size_t n = strlen(out);
    if (n > 2048) {
        memmove(out, out + n - 2048, 2049);
    }
    return out;
}

/* A record for each pod's containers found in the runtime at start. */
static void adopt(pod_t *p, const k1s_rt_status_t *st)
{
    const char *name = label(st->labels, L_CTR);
    if (!name)
        return;
    ctr_t *c = find_ctr(p, name);
    if (!c) {
        p->ctrs = k1s_xrealloc(p->ctrs, (p->nctr + 1) * sizeof(ctr_t));
        c = &p->ctrs[p->nctr++];
        memset(c, 0, sizeof(*c));
        c->name = k1s_xstrdup(name);
    }
    const char *rc = label(st->labels, L_RESTART);
    int restarts = rc ? atoi(rc) : 0;
    if (c->id && restarts < c->restarts) { /* an older one: the previous container */
        set_str(&c->prev_id, st->id);
        return;
    }
    if (c->id)
        set_str(&c->prev_id, c->id);
    set_str(&c->id, st->id);
    c->restarts = restarts;
    c->have_state = true;
    c->running = st->state == K1S_RT_RUNNING || st->state == K1S_RT_CREATED;
    c->exit_code = st->exit_code;
    set_str(&c->reason, st->reason);
    set_str(&c->message, st->message);
    c->started_ns = st->started_at;
    c->finished_ns = st->finished_at;
    set_str(&c->image, label(st->labels, L_IMAGE));
    set_str(&c->image_id, label(st->labels, L_IMAGE_ID));
    set_str(&c->wait_reason, NULL);
    if (!p->start_ns || (st->created_at && st->created_at < p->start_ns))
        p->start_ns = st->created_at;
}

static void pod_seen(k1s_kubelet_t *k, json_t *obj)
{
    const char *uid = k1s_jpath_str(obj, "metadata.uid");
    if (!uid)
        return;
    pod_t *p = pod_get(k, uid, k1s_jpath_str(obj, "metadata.namespace"),
                       k1s_jpath_str(obj, "metadata.name"));
    json_decref(p->obj);
    p->obj = json_deep_copy(obj);
    if (!p->ctrs || p->nctr != json_array_size(k1s_jpath(obj, "spec.containers")) +
                                   json_array_size(k1s_jpath(obj, "spec.initContainers")))
        ensure_ctrs(p);
    /* evicted before a restart of the agent: it stays Failed/Evicted */
    if (!p->evicted && k1s_streq(k1s_jpath_str(obj, "status.phase"), "Failed") &&
        k1s_streq(k1s_jpath_str(obj, "status.reason"), "Evicted")) {
        set_str(&p->evicted, k1s_jpath_str(obj, "status.message") ?: "");
        p->rejected = true; /* unless the eviction manager's condition says otherwise */
        size_t i;
        const json_t *cd;
        json_array_foreach(k1s_jpath(obj, "status.conditions"), i, cd)
        {
            if (k1s_streq(k1s_js(cd, "type"), "DisruptionTarget"))
                p->rejected = false;
        }
    }
    const char *st = k1s_jpath_str(obj, "status.startTime");
    if (st && !p->start_ns) {
        struct tm tm = {0};
        if (strptime(st, "%Y-%m-%dT%H:%M:%SZ", &tm))
            p->start_ns = (int64_t)timegm(&tm) * 1000000000;
    }
    if (k->synced)
        schedule(p, 0);
}

static void on_add(json_t *obj, void *arg)
{
    pod_seen(arg, obj);
}

static void on_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    pod_seen(arg, new_obj);
}

static void on_delete(json_t *obj, void *arg)
{
    k1s_kubelet_t *k = arg;
    const char *uid = k1s_jpath_str(obj, "metadata.uid");
    pod_t *p = uid ? k1s_strmap_get(&k->by_uid, uid) : NULL;
    if (!p)
        return;
    json_decref(p->obj);
    p->obj = NULL;
    schedule(p, 0);
}

/* Once the pod list is in: attach the containers found at start to their pods (those of
 * pods that are gone get a record without a pod, which stops and removes them), then sync
 * every pod. */
static void synced_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_kubelet_t *k = arg;
    if (!k1s_informer_has_synced(k->pods) || !k->initial_import_done) {
        struct timeval tv = {0, 100000};
        evtimer_add(k->synced_ev, &tv);
        return;
    }
    k->synced = true;
    for (size_t i = 0; i < k->n_adopted; i++) {
        const k1s_rt_status_t *st = &k->adopted[i];
        const char *uid = label(st->labels, L_UID);
        if (!uid)
            continue;
        pod_t *p = pod_get(k, uid, label(st->labels, L_NS), label(st->labels, L_POD));
        adopt(p, st);
    }
    const char *ukey;
    void *uval;
    for (size_t i = 0; k1s_strmap_next(&k->by_uid, &i, &ukey, &uval);) {
        pod_t *p = uval;
        for (size_t j = 0; p->obj && j < p->nctr; j++)
            if (p->ctrs[j].running)
                probers_start(p, &p->ctrs[j]);
    }
    k1s_rt_status_list_free(k->adopted, k->n_adopted);
    k->adopted = NULL;
    k->n_adopted = 0;
    /* sandboxes of pods that went away while the agent was down */
    char **ids = NULL;
    size_t n = 0;
    if (k1s_cni_list_ids(k->cni, &ids, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++)
            if (!strncmp(ids[i], "k1s-", 4) && !k1s_strmap_get(&k->by_uid, ids[i] + 4))
                pod_get(k, ids[i] + 4, NULL, NULL);
        k1s_cni_ids_free(ids);
    }
    const char *key;
    void *val;
    for (size_t i = 0; k1s_strmap_next(&k->by_uid, &i, &key, &val);)
        schedule(val, 0);
}

/* ---- air-gap images ---- */

static void start_import(k1s_kubelet_t *k);

static void imported(int failed, const k1s_err_t *err, void *arg)
{
    k1s_kubelet_t *k = arg;
    k->importing = false;
    if (failed)
        k1s_warn("kubelet: %d air-gap image file%s in %s/images could not be imported: %s", failed,
                 failed == 1 ? "" : "s", k->dir, err ? err->msg : "");
    if (!k->initial_import_done) {
        k->initial_import_done = true;
        return;
    }
    /* pods that wait for an image may find it now */
    const char *key;
    void *val;
    for (size_t i = 0; k1s_strmap_next(&k->by_uid, &i, &key, &val);) {
        pod_t *p = val;
        for (size_t j = 0; j < p->nctr; j++)
            if (!p->ctrs[j].running && !p->ctrs[j].have_state)
                p->ctrs[j].backoff_until_ns = 0;
        schedule(p, 0);
    }
    if (k->import_again) {
        k->import_again = false;
        start_import(k);
    }
}

static void start_import(k1s_kubelet_t *k)
{
    if (k->importing) {
        k->import_again = true;
        return;
    }
    k->importing = true;
    if (k1s_image_import_dir_async(k->images, k->base, imported, k) < 0) {
        k->importing = false;
        k->initial_import_done = true;
    }
}

static void inotify_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_kubelet_t *k = arg;
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    start_import(k);
}

/* ---- setup ---- */

k1s_kubelet_t *k1s_kubelet_new(k1s_agent_t *a, k1s_err_t *err)
{
    k1s_kubelet_t *k = k1s_xcalloc(1, sizeof(*k));
    k->agent = a;
    k->inotify_fd = -1;
    k->base = k1s_client_base(k1s_agent_client(a));
    k->client = k1s_agent_client(a);
    k->node = k1s_xstrdup(k1s_agent_node_name(a));
    k->node_ip = k1s_xstrdup(k1s_agent_node_ip(a));
    k->dir = k1s_xstrdup(k1s_agent_dir(a));
    k->netns_dir = k1s_xasprintf("%s/netns", k->dir);
    k->pods_dir = k1s_xasprintf("%s/pods", k->dir);
    k1s_mkdir_p(k->netns_dir, 0700);
    k1s_mkdir_p(k->pods_dir, 0700);

    char *state = k1s_xasprintf("%s/containers", k->dir);
    k1s_rt_opts_t ro = {.state_dir = state, .runtime = k1s_agent_runtime(a)};
    int r = k1s_rt_new(k->base, &ro, &k->rt, err);
    free(state);
    if (r < 0) {
        k1s_err_prefix(err, "container runtime");
        k1s_kubelet_free(k);
        return NULL;
    }
    k1s_rt_on_exit(k->rt, on_exit_cb, k);

    char *reg_path = k1s_xasprintf("%s/private-registry", k->dir), *reg_file = NULL;
    k1s_read_file(reg_path, &reg_file, NULL);
    free(reg_path);
    if (reg_file)
        reg_file[strcspn(reg_file, "\n")] = 0;
    k1s_registries_t *reg = NULL;
    r = k1s_registries_load(reg_file && *reg_file ? reg_file : "/etc/k1s/registries.yaml", &reg,
                            err);
    free(reg_file);
    if (r < 0 || k1s_image_store_open(k->dir, reg, &k->images, err) < 0) {
        k1s_err_prefix(err, "image store");
        k1s_kubelet_free(k);
        return NULL;
    }

    char *conf = k1s_xasprintf("%s/etc/cni/net.d", k->dir);
    char *cache = k1s_xasprintf("%s/cni/results", k->dir);
    char *ipam = k1s_xasprintf("%s/cni/networks", k->dir);
    /* one masquerade rule for the node, not iptables runs for every pod (flannel's way) */
    k1s_err_t merr = {0};
    bool node_masq = k1s_cni_masq_ensure(k1s_agent_pod_cidr(a), &merr) == 0;
    if (!node_masq)
        k1s_warn("kubelet: %s; the bridge plugin masquerades for each pod instead", merr.msg);
    k1s_cni_netconf_opts_t no = {
        .pod_cidr = k1s_agent_pod_cidr(a), .ipam_data_dir = ipam, .no_ip_masq = node_masq};
    r = k1s_cni_write_conf(conf, &no, NULL, err);
    if (r == 0) {
        k1s_cni_opts_t co = {.conf_dir = conf, .cache_dir = cache};
        k->cni = k1s_cni_new(&co, err);
    }
    free(conf);
    free(cache);
    free(ipam);
    if (!k->cni) {
        k1s_err_prefix(err, "pod network");
        k1s_kubelet_free(k);
        return NULL;
    }

    k->recorder = k1s_recorder_new(k->client, "kubelet");
    char *airgap = k1s_xasprintf("%s/images", k->dir);
    k1s_mkdir_p(airgap, 0755);
    k->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (k->inotify_fd >= 0 &&
        inotify_add_watch(k->inotify_fd, airgap, IN_CLOSE_WRITE | IN_MOVED_TO) >= 0) {
        k->inotify_ev = event_new(k->base, k->inotify_fd, EV_READ | EV_PERSIST, inotify_cb, k);
        event_add(k->inotify_ev, NULL);
    }
    free(airgap);
    k->pressure = k1s_kpressure_new(k, a, k->images, k->rt, k->recorder);
    start_import(k);
    /* containers that kept running while the agent was away */
    if (k1s_rt_list(k->rt, &k->adopted, &k->n_adopted, err) < 0) {
        k1s_kubelet_free(k);
        return NULL;
    }
    int n = k1s_rt_adopt(k->rt, err);
    if (n < 0) {
        k1s_kubelet_free(k);
        return NULL;
    }
    if (n > 0)
        k1s_info("kubelet: re-adopted %d running container%s", n, n == 1 ? "" : "s");

    k->pods = k1s_informer_new(k->client, &pods_gvr, NULL);
    char *sel = k1s_xasprintf("spec.nodeName=%s", k->node);
    k1s_informer_set_field_selector(k->pods, sel);
    free(sel);
    k1s_informer_handlers_t h = {on_add, on_update, on_delete, k};
    k1s_informer_add_handlers(k->pods, &h);
    k1s_informer_start(k->pods);
    k->synced_ev = evtimer_new(k->base, synced_cb, k);
    struct timeval tv = {0, 0};
    evtimer_add(k->synced_ev, &tv);
    k->api = k1s_kubelet_api_start(k, k->dir, k1s_agent_kubelet_port(a), k->node, k->client, err);
    if (!k->api) {
        k1s_err_prefix(err, "kubelet API");
        k1s_kubelet_free(k);
        return NULL;
    }
    return k;
}

void k1s_kubelet_free(k1s_kubelet_t *k)
{
    if (!k)
        return;
    k1s_kpressure_free(k->pressure);
    k1s_kapi_free(k->api);
    if (k->inotify_ev)
        event_free(k->inotify_ev);
    if (k->inotify_fd >= 0)
        close(k->inotify_fd);
    k1s_informer_free(k->pods);
    const char *key;
    void *val;
    for (size_t i = 0; k1s_strmap_next(&k->by_uid, &i, &key, &val);)
        pod_free(val);
    k1s_strmap_free(&k->by_uid);
    if (k->synced_ev)
        event_free(k->synced_ev);
    k1s_rt_status_list_free(k->adopted, k->n_adopted);
    k1s_recorder_free(k->recorder);
    k1s_cni_free(k->cni);
    k1s_image_store_free(k->images);
    k1s_rt_free(k->rt);
    free(k->node);
    free(k->node_ip);
    free(k->dir);
    free(k->netns_dir);
    free(k->pods_dir);
    free(k);
}

/* ---- for the kubelet API's backend ---- */

static pod_t *pod_by_name(k1s_kubelet_t *k, const char *ns, const char *name)
{
    const char *key;
    void *val;
    for (size_t i = 0; k1s_strmap_next(&k->by_uid, &i, &key, &val);) {
        pod_t *p = val;
        if (p->obj && !strcmp(p->ns, ns) && !strcmp(p->name, name))
            return p;
    }
    return NULL;
}

int k1s_kubelet_find(k1s_kubelet_t *k, const char *ns, const char *pod, const char *ctr,
                     k1s_kubelet_ctr_info_t *out, k1s_err_t *err)
{
    pod_t *p = pod_by_name(k, ns, pod);
    if (!p)
        return k1s_err_set(err, ENOENT, "pod \"%s\" not found", pod);
    ctr_t *c = NULL;
    if (ctr && *ctr)
        c = find_ctr(p, ctr);
    else if (p->nctr > p->ninit)
        c = &p->ctrs[p->ninit];
    if (!c)
        return k1s_err_set(err, ENOENT, "container \"%s\" is not valid for pod \"%s\"",
                           ctr ? ctr : "", pod);
    if (!c->id)
        return k1s_err_set(err, EAGAIN, "container \"%s\" in pod \"%s\" is waiting to start: %s",
                           c->name, pod, c->wait_reason ? c->wait_reason : "ContainerCreating");
    *out = (k1s_kubelet_ctr_info_t){.id = c->id,
                                    .netns = host_network(p) ? "" : p->netns,
                                    .uid = p->uid,
                                    .name = c->name,
                                    .restarts = c->restarts,
                                    .running = c->running};
    return 0;
}

bool k1s_kubelet_running(k1s_kubelet_t *k, const char *id)
{
    const char *key;
    void *val;
    for (size_t i = 0; k1s_strmap_next(&k->by_uid, &i, &key, &val);) {
        pod_t *p = val;
        for (size_t j = 0; j < p->nctr; j++)
            if (p->ctrs[j].running && k1s_streq(p->ctrs[j].id, id))
                return true;
    }
    return false;
}

json_t *k1s_kubelet_pod_list(k1s_kubelet_t *k)
{
    json_t *items = json_array();
    const char *key;
    void *val;
    for (size_t i = 0; k1s_strmap_next(&k->by_uid, &i, &key, &val);) {
        pod_t *p = val;
        if (p->obj)
            json_array_append(items, p->obj);
    }
    return json_pack("{s:s, s:s, s:{}, s:o}", "kind", "PodList", "apiVersion", "v1", "metadata",
                     "items", items);
}

k1s_stats_ctr_t *k1s_kubelet_stats_ctrs(k1s_kubelet_t *k, size_t *n)
{
    size_t cap = 8, len = 0;
    k1s_stats_ctr_t *v = k1s_xcalloc(cap, sizeof(*v));
    const char *key;
    void *val;
    for (size_t i = 0; k1s_strmap_next(&k->by_uid, &i, &key, &val);) {
        pod_t *p = val;
        for (size_t j = 0; j < p->nctr; j++) {
            ctr_t *c = &p->ctrs[j];
            if (len == cap)
                v = k1s_xrealloc(v, (cap *= 2) * sizeof(*v));
            v[len++] = (k1s_stats_ctr_t){.ns = p->ns,
                                         .pod = p->name,
                                         .uid = p->uid,
                                         .name = c->name,
                                         .id = c->id,
                                         .pod_start_ns = p->start_ns,
                                         .started_ns = c->started_ns,
                                         .running = c->running};
        }
    }
    *n = len;
    return v;
}

k1s_rt_t *k1s_kubelet_runtime(k1s_kubelet_t *k)
{
    return k->rt;
}

struct event_base *k1s_kubelet_base(k1s_kubelet_t *k)
{
    return k->base;
}

/* ---- for the eviction manager (kubelet-pressure.c) ---- */

size_t k1s_kubelet_active_pods(k1s_kubelet_t *k, k1s_kubelet_pod_ref_t **out)
{
    k1s_kubelet_pod_ref_t *v = k1s_xcalloc(k1s_strmap_len(&k->by_uid) + 1, sizeof(*v));
    size_t n = 0;
    const char *key;
    void *val;
    for (size_t i = 0; k1s_strmap_next(&k->by_uid, &i, &key, &val);) {
        pod_t *p = val;
        bool init_done;
        const char *phase = p->obj ? pod_phase(p, &init_done) : "";
        const char *api_phase = p->obj ? k1s_jpath_str(p->obj, "status.phase") : NULL;
        if (!p->obj || p->evicted || k1s_jpath(p->obj, "metadata.deletionTimestamp") ||
            !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") ||
            k1s_streq(api_phase, "Succeeded") || k1s_streq(api_phase, "Failed"))
            continue;
        k1s_kubelet_pod_ref_t *r = &v[n++];
        r->pod = p->obj;
        r->uid = p->uid;
        r->dir = p->dir;
        r->ctrs = k1s_xcalloc(p->nctr + 1, sizeof(*r->ctrs));
        for (size_t j = 0; j < p->nctr; j++)
            if (p->ctrs[j].id)
                r->ctrs[r->nctrs++] =
                    (k1s_kubelet_ctr_ref_t){p->ctrs[j].name, p->ctrs[j].id, p->ctrs[j].running};
    }
    *out = v;
    return n;
}

int k1s_kubelet_evict(k1s_kubelet_t *k, const char *uid, const char *message)
{
    pod_t *p = uid ? k1s_strmap_get(&k->by_uid, uid) : NULL;
    if (!p || !p->obj || p->evicted)
        return -ENOENT;
    set_str(&p->evicted, message);
    event(p, "Warning", "Evicted", "%s", message);
    schedule(p, 0); /* phase Failed: the sync stops its containers with grace period 0 */
    return 0;
}
