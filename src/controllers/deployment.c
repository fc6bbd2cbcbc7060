/*
 * The Deployment controller (kube-controller-manager's "deployment",
 * pkg/controller/deployment): rolls a Deployment's pod template out
 * through ReplicaSets.
 *
 * Each template gets its own ReplicaSet, named <deployment>-<hash> with a
 * pod-template-hash label and selector (k1s_ctrl_hash of the template and
 * status.collisionCount). A sync follows upstream's syncDeployment step by
 * step: claim ReplicaSets (adopt, release), paused conditions, scaling
 * events (spec.replicas changed: proportional scaling of every active
 * ReplicaSet by its max-replicas annotation), then the strategy's rollout
 * (RollingUpdate with maxSurge/maxUnavailable, or Recreate), revision
 * annotations and history cleanup, and the status with its Available and
 * Progressing conditions; a rollout that makes no progress is synced again
 * when its progressDeadlineSeconds expire (a timer, not polling).
 *
 * Decisions are made on copies of the cached objects; the writes they
 * call for run one after the other (ReplicaSets first, then the
 * Deployment, then its status) and the first failure ends the sync with a
 * rate-limited retry. Every write carries a resourceVersion (or creates a
 * deterministic name), so acting on a stale cache ends in a conflict, not
 * in a second action.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/conditions.h"
#include "lib/log.h"
#include "lib/util.h"

#define ANN_REVISION "deployment.kubernetes.io/revision"
#define ANN_REVISION_HISTORY "deployment.kubernetes.io/revision-history"
#define ANN_DESIRED "deployment.kubernetes.io/desired-replicas"
#define ANN_MAX "deployment.kubernetes.io/max-replicas"
#define HASH_LABEL "pod-template-hash"

static const k1s_gvr_t deploy_gvr = {"apps", "v1", "deployments", true};
static const k1s_gvr_t rs_gvr = {"apps", "v1", "replicasets", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};

typedef struct dsync dsync_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *deps, *rss, *pods;
    k1s_workqueue_t *queue;
    dsync_t *syncs; /* in flight */
} dc_t;

typedef enum { W_RS_CREATE, W_RS_UPDATE, W_RS_DELETE, W_RS_PATCH, W_D_UPDATE, W_D_STATUS } wkind_t;

typedef struct write {
    wkind_t kind;
    json_t *obj;   /* the ReplicaSet (a copy the sync owns), serialized when sent */
    char *patch;   /* W_RS_PATCH body */
    json_t *event; /* ScalingReplicaSet messages to record on success, or NULL */
    struct write *next;
} write_t;

struct dsync {
    dc_t *c;
    dsync_t *prev, *next;
    char *key;
    json_t *cached; /* the Deployment as cached (a reference) */
    json_t *d;      /* a copy the sync changes: annotations and status */
    /* the ReplicaSets it controls (copies) */
    json_t **rs;
    size_t nrs;
    bool got_all;
    json_t *new_rs; /* one of rs[] or a ReplicaSet to create; NULL if none */
    write_t *head, *tail;
    bool retry;
    int64_t after_ms; /* sync again after this long (-1: no) */
};

/* ---- small helpers ---- */

static int64_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static json_t *jobj(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(o, k, v);
    }
    return v;
}

static json_t *md(const json_t *o)
{
    return json_object_get(o, "metadata");
}

static const char *obj_name(const json_t *o)
{
    return k1s_ctrl_str(md(o), "name");
}

static const char *obj_ns(const json_t *o)
{
    return k1s_ctrl_str(md(o), "namespace");
}

static const char *obj_uid(const json_t *o)
{
    return k1s_ctrl_str(md(o), "uid");
}

static json_t *spec(const json_t *o)
{
    return json_object_get(o, "spec");
}

static json_t *status(const json_t *o)
{
    return json_object_get(o, "status");
}

static int64_t replicas(const json_t *o)
{
    const json_t *r = json_object_get(spec(o), "replicas");
    return r ? json_integer_value(r) : 1;
}

static void set_replicas(json_t *o, int64_t n)
{
    json_object_set_new(jobj(o, "spec"), "replicas", json_integer(n));
}

static const char *ann(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(json_object_get(md(o), "annotations"), k));
}

/* Sets an annotation; returns whether it changed. */
static bool set_ann(json_t *o, const char *k, const char *v)
{
    const char *cur = ann(o, k);
    if (cur && !strcmp(cur, v))
        return false;
    json_object_set_new(jobj(jobj(o, "metadata"), "annotations"), k, json_string(v));
    return true;
}

/* An annotation as an integer; false if absent or not a number. */
static bool ann_int(const json_t *o, const char *k, int64_t *out)
{
    const char *v = ann(o, k);
    if (!v || !*v)
        return false;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end)
        return false;
    *out = n;
    return true;
}

static int64_t revision(const json_t *rs)
{
    int64_t r = 0;
    return ann_int(rs, ANN_REVISION, &r) ? r : 0;
}

static double created_at(const json_t *o)
{
    return (double)k1s_ctrl_parse_time(k1s_ctrl_str(md(o), "creationTimestamp"));
}

/* ReplicaSetsByCreationTimestamp: older first, then by name. */
static int cmp_created(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    double ta = created_at(x), tb = created_at(y);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return strcmp(obj_name(x), obj_name(y));
}

static int cmp_created_rev(const void *a, const void *b)
{
    return -cmp_created(a, b);
}

/* ReplicaSetsBySizeNewer: larger first, then newer first. */
static int cmp_size_newer(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    if (replicas(x) != replicas(y))
        return replicas(x) > replicas(y) ? -1 : 1;
    return -cmp_created(a, b);
}

/* ReplicaSetsBySizeOlder: larger first, then older first. */
static int cmp_size_older(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    if (replicas(x) != replicas(y))
        return replicas(x) > replicas(y) ? -1 : 1;
    return cmp_created(a, b);
}

static int cmp_revision(const void *a, const void *b)
{
    int64_t x = revision(*(json_t *const *)a), y = revision(*(json_t *const *)b);
    if (x != y)
        return x < y ? -1 : 1;
    return cmp_created(a, b);
}

static bool rolling(const json_t *d)
{
    const char *t = k1s_ctrl_str(json_object_get(spec(d), "strategy"), "type");
    return !*t || !strcmp(t, "RollingUpdate");
}

/* intstr.GetScaledValueFromIntOrPercent, with def when v is absent. */
static int64_t scaled_value(const json_t *v, const char *def, int64_t total, bool round_up)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    const char *s = v ? json_string_value(v) : def;
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (!n || s[n - 1] != '%')
        return strtoll(s, NULL, 10);
    double x = strtod(s, NULL) * (double)total / 100.0;
    return (int64_t)(round_up ? ceil(x) : floor(x));
}

/* ResolveFenceposts for the Deployment's rolling update. */
static void fenceposts(const json_t *d, int64_t *surge, int64_t *unavail)
{
    const json_t *ru = json_object_get(json_object_get(spec(d), "strategy"), "rollingUpdate");
    int64_t desired = replicas(d);
    *surge = scaled_value(json_object_get(ru, "maxSurge"), "25%", desired, true);
    *unavail = scaled_value(json_object_get(ru, "maxUnavailable"), "25%", desired, false);
    if (*surge == 0 && *unavail == 0)
        *unavail = 1;
}

static int64_t max_surge(const json_t *d)
{
    if (!rolling(d))
        return 0;
    int64_t s, u;
    fenceposts(d, &s, &u);
    return s;
}

static int64_t max_unavailable(const json_t *d)
{
    if (!rolling(d) || replicas(d) == 0)
        return 0;
    int64_t s, u;
    fenceposts(d, &s, &u);
    return u > replicas(d) ? replicas(d) : u;
}

static bool has_deadline(const json_t *d)
{
    const json_t *p = json_object_get(spec(d), "progressDeadlineSeconds");
    return p && json_integer_value(p) != 2147483647;
}

/*
 * Drops null members and empty objects and arrays, recursively: Go's
 * semantic equality does not tell them from absent ones, and clients send
 * "creationTimestamp": null or "resources": {} in templates.
 */
static void normalize(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, x)
        {
            normalize(x);
            if (json_is_null(x) || (json_is_object(x) && !json_object_size(x)) ||
                (json_is_array(x) && !json_array_size(x)))
                json_object_del(v, k);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            normalize(x);
        }
    }
}

/* Whether the pod templates are equal ignoring the pod-template-hash label (EqualIgnoreHash). */
static bool equal_ignore_hash(const json_t *a, const json_t *b)
{
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    json_object_del(json_object_get(md(x), "labels"), HASH_LABEL);
    json_object_del(json_object_get(md(y), "labels"), HASH_LABEL);
    normalize(x);
    normalize(y);
    bool eq = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

/* ---- conditions ---- */

static json_t *cond_new(const char *type, const char *st, const char *reason, const char *msg)
{
    char ts[32];
    k1s_time_rfc3339(ts);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", st, "lastUpdateTime", ts,
                     "lastTransitionTime", ts, "reason", reason, "message", msg);
}

static void cond_remove(json_t *st, const char *type)
{
    json_t *conds = json_object_get(st, "conditions");
    for (size_t i = 0; i < json_array_size(conds);) {
        if (!strcmp(k1s_ctrl_str(json_array_get(conds, i), "type"), type))
            json_array_remove(conds, i);
        else
            i++;
    }
    if (conds && !json_array_size(conds))
        json_object_del(st, "conditions");
}

/* SetDeploymentCondition: takes c; no change if status and reason are the same. */
static void cond_set(json_t *st, json_t *c)
{
    const json_t *cur = k1s_cond_get(st, k1s_ctrl_str(c, "type"));
    if (cur && !strcmp(k1s_ctrl_str(cur, "status"), k1s_ctrl_str(c, "status")) &&
        !strcmp(k1s_ctrl_str(cur, "reason"), k1s_ctrl_str(c, "reason"))) {
        json_decref(c);
        return;
    }
    if (cur && !strcmp(k1s_ctrl_str(cur, "status"), k1s_ctrl_str(c, "status")))
        json_object_set(c, "lastTransitionTime", json_object_get(cur, "lastTransitionTime"));
    cond_remove(st, k1s_ctrl_str(c, "type"));
    json_t *conds = json_object_get(st, "conditions");
    if (!conds) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    json_array_append_new(conds, c);
}

/* ---- the write chain ---- */

static write_t *add_write(dsync_t *s, wkind_t kind, json_t *obj)
{
    /* one write per ReplicaSet: later changes ride on the queued one */
    if (obj)
        for (write_t *w = s->head; w; w = w->next)
            if (w->obj == obj && (w->kind == W_RS_CREATE || w->kind == W_RS_UPDATE) &&
                (kind == W_RS_UPDATE || kind == w->kind))
                return w;
    write_t *w = k1s_xcalloc(1, sizeof(*w));
    w->kind = kind;
    w->obj = obj ? json_incref(obj) : NULL;
    if (s->tail)
        s->tail->next = w;
    else
        s->head = w;
    s->tail = w;
    return w;
}

static void add_event(write_t *w, const char *msg)
{
    if (!w->event)
        w->event = json_array();
    json_array_append_new(w->event, json_string(msg));
}

static void write_free(write_t *w)
{
    json_decref(w->obj);
    json_decref(w->event);
    free(w->patch);
    free(w);
}

static void dsync_free(dsync_t *s)
{
    K1S_LIST_DEL(s->c->syncs, s);
    while (s->head) {
        write_t *w = s->head;
        s->head = w->next;
        write_free(w);
    }
    for (size_t i = 0; i < s->nrs; i++)
        json_decref(s->rs[i]);
    free(s->rs);
    json_decref(s->new_rs);
    json_decref(s->d);
    json_decref(s->cached);
    free(s->key);
    free(s);
}

static void finish(dsync_t *s)
{
    dc_t *c = s->c;
    if (s->retry)
        k1s_workqueue_add_rate_limited(c->queue, s->key);
    else
        k1s_workqueue_forget(c->queue, s->key);
    if (s->after_ms >= 0)
        k1s_workqueue_add_after(c->queue, s->key, (uint64_t)s->after_ms);
    k1s_workqueue_done(c->queue, s->key);
    dsync_free(s);
}

static void run_next(dsync_t *s);

/* A new ReplicaSet's name was taken: the same template (a stale cache) or a hash collision. */
static void name_taken(dsync_t *s, const json_t *want)
{
    json_t *have = k1s_informer_get(s->c->rss, obj_ns(want), obj_name(want));
    const json_t *ref = have ? k1s_ctrl_controller_ref(have) : NULL;
    if (!have) {
        s->retry = true; /* not in the cache yet */
        return;
    }
    if (ref && !strcmp(k1s_ctrl_str(ref, "uid"), obj_uid(s->d)) &&
        equal_ignore_hash(json_object_get(spec(have), "template"),
                          json_object_get(spec(s->d), "template"))) {
        k1s_workqueue_add(s->c->queue, s->key);
        return;
    }
    /* a collision: count it in status and try the next hash */
    json_t *st = json_deep_copy(status(s->cached));
    if (!st)
        st = json_object();
    json_object_set_new(st, "collisionCount", json_integer(jint(st, "collisionCount") + 1));
    json_object_set_new(s->d, "status", st);
    json_t *dm = json_deep_copy(md(s->cached));
    json_object_set_new(s->d, "metadata", dm);
    k1s_debug("deployment %s: hash collision with replica set %s", s->key, obj_name(want));
    add_write(s, W_D_STATUS, NULL);
}

static void write_done(const k1s_client_result_t *res, void *arg)
{
    dsync_t *s = arg;
    write_t *w = s->head;
    s->head = w->next;
    if (!s->head)
        s->tail = NULL;
    bool ok = res->status >= 200 && res->status < 300;
    if (ok) {
        size_t i;
        json_t *m;
        json_array_foreach(w->event, i, m)
        {
            k1s_recorder_event(s->c->ctx->recorder, s->cached, "Normal", "ScalingReplicaSet", "%s",
                               json_string_value(m));
        }
        if ((w->kind == W_D_UPDATE || w->kind == W_D_STATUS) && md(res->obj))
            json_object_set(s->d, "metadata", md(res->obj));
        write_free(w);
        run_next(s);
        return;
    }
    k1s_debug("deployment %s: write %d failed: %d %s", s->key, (int)w->kind, res->status,
              res->message);
    /* the rest of the chain assumed this write: drop it */
    while (s->head) {
        write_t *x = s->head;
        s->head = x->next;
        write_free(x);
    }
    s->tail = NULL;
    if (w->kind == W_RS_CREATE && res->status == 409 && !strcmp(res->reason, "AlreadyExists")) {
        name_taken(s, w->obj);
    } else if (!(w->kind == W_RS_DELETE && res->status == 404) &&
               !((w->kind == W_D_UPDATE || w->kind == W_D_STATUS) && res->status == 404)) {
        s->retry = true;
    }
    s->after_ms = -1;
    write_free(w);
    run_next(s);
}

static void run_next(dsync_t *s)
{
    write_t *w = s->head;
    if (!w) {
        finish(s);
        return;
    }
    k1s_client_t *cl = s->c->ctx->client;
    const char *ns = obj_ns(s->cached);
    switch (w->kind) {
    case W_RS_CREATE: k1s_client_create(cl, &rs_gvr, ns, w->obj, write_done, s); break;
    case W_RS_UPDATE: k1s_client_update(cl, &rs_gvr, ns, w->obj, write_done, s); break;
    case W_RS_DELETE: {
        k1s_delete_opts_t o = {.precondition_uid = obj_uid(w->obj), .grace_period_s = -1};
        k1s_client_delete(cl, &rs_gvr, ns, obj_name(w->obj), &o, write_done, s);
        break;
    }
    case W_RS_PATCH:
        k1s_client_patch(cl, &rs_gvr, ns, obj_name(w->obj), NULL, K1S_PATCH_STRATEGIC, w->patch,
                         false, write_done, s);
        break;
    case W_D_UPDATE: k1s_client_update(cl, &deploy_gvr, ns, s->d, write_done, s); break;
    case W_D_STATUS: k1s_client_update_status(cl, &deploy_gvr, ns, s->d, write_done, s); break;
    }
}

/* ---- replica sets ---- */

/* ReplicaSets of the deployment: old ones (all but new_rs) as a new array in *out. */
static size_t old_rss(const dsync_t *s, json_t ***out)
{
    json_t **v = k1s_xmalloc((s->nrs + 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < s->nrs; i++)
        if (s->rs[i] != s->new_rs)
            v[n++] = s->rs[i];
    *out = v;
    return n;
}

/* Every ReplicaSet, new one included (last), as a new array. */
static size_t all_rss(const dsync_t *s, json_t ***out)
{
    size_t n = old_rss(s, out);
    if (s->new_rs)
        (*out)[n++] = s->new_rs;
    return n;
}

static int64_t sum_replicas(json_t **v, size_t n)
{
    int64_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += replicas(v[i]);
    return t;
}

static int64_t sum_status(json_t **v, size_t n, const char *field)
{
    int64_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += jint(status(v[i]), field);
    return t;
}

/* Keeps the ReplicaSets with spec.replicas > 0; returns how many. */
static size_t filter_active(json_t **v, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (replicas(v[i]) > 0)
            v[m++] = v[i];
    return m;
}

/* Sets desired-replicas and max-replicas; returns whether they changed. */
static bool set_replicas_annotations(json_t *rs, int64_t desired, int64_t max)
{
    char a[24], b[24];
    snprintf(a, sizeof(a), "%lld", (long long)desired);
    snprintf(b, sizeof(b), "%lld", (long long)max);
    bool ch = set_ann(rs, ANN_DESIRED, a);
    return set_ann(rs, ANN_MAX, b) || ch;
}

static bool skip_copy_annotation(const char *k)
{
    return !strcmp(k, "kubectl.kubernetes.io/last-applied-configuration") ||
           !strcmp(k, ANN_REVISION) || !strcmp(k, ANN_REVISION_HISTORY) ||
           !strcmp(k, ANN_DESIRED) || !strcmp(k, ANN_MAX) ||
           !strcmp(k, "deprecated.deployment.rollback.to");
}

/* SetNewReplicaSetAnnotations. */
static bool set_new_rs_annotations(const json_t *d, json_t *rs, int64_t new_rev, bool exists)
{
    bool changed = false;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(md(d), "annotations"), k, v)
    {
        if (!skip_copy_annotation(k) && json_is_string(v) && set_ann(rs, k, json_string_value(v)))
            changed = true;
    }
    const char *old = ann(rs, ANN_REVISION);
    int64_t old_rev = 0;
    if (old && *old && !ann_int(rs, ANN_REVISION, &old_rev))
        return changed;
    if (old_rev < new_rev) {
        char *oldcopy = old ? k1s_xstrdup(old) : NULL;
        char buf[24];
        snprintf(buf, sizeof(buf), "%lld", (long long)new_rev);
        set_ann(rs, ANN_REVISION, buf);
        changed = true;
        if (oldcopy && *oldcopy) {
            /* rolled back to this ReplicaSet: keep its earlier revisions */
            const char *hist = ann(rs, ANN_REVISION_HISTORY);
            char *h = hist && *hist ? k1s_xasprintf("%s,%s", hist, oldcopy) : k1s_xstrdup(oldcopy);
            set_ann(rs, ANN_REVISION_HISTORY, h);
            free(h);
        }
        free(oldcopy);
    }
    if (!exists && set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)))
        changed = true;
    return changed;
}

/* SetDeploymentRevision on the sync's copy. */
static void set_deployment_revision(dsync_t *s, const char *rev)
{
    if (rev)
        set_ann(s->d, ANN_REVISION, rev);
}

/* scaleReplicaSet: queues the update; returns whether the size changed. */
static bool scale_rs(dsync_t *s, json_t *rs, int64_t to)
{
    const json_t *d = s->d;
    int64_t from = replicas(rs);
    bool size = from != to;
    bool annotations = set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d));
    if (!size && !annotations)
        return false;
    set_replicas(rs, to);
    write_t *w = add_write(s, W_RS_UPDATE, rs);
    if (size) {
        char *msg =
            k1s_xasprintf("Scaled %s replica set %s from %lld to %lld", from < to ? "up" : "down",
                          obj_name(rs), (long long)from, (long long)to);
        add_event(w, msg);
        free(msg);
    }
    return size;
}

/* scaleReplicaSetAndRecordEvent. */
static bool scale_rs_if(dsync_t *s, json_t *rs, int64_t to)
{
    if (replicas(rs) == to)
        return false;
    return scale_rs(s, rs, to);
}

/* NewRSNewReplicas. */
static int64_t new_rs_new_replicas(dsync_t *s, json_t **all, size_t n, const json_t *new_rs)
{
    const json_t *d = s->d;
    if (!rolling(d))
        return replicas(d);
    int64_t current = sum_replicas(all, n);
    int64_t max_total = replicas(d) + max_surge(d);
    if (current >= max_total)
        return replicas(new_rs);
    int64_t up = max_total - current;
    int64_t room = replicas(d) - replicas(new_rs);
    if (up > room)
        up = room;
    return replicas(new_rs) + up;
}

/* Creates the ReplicaSet for the current template (queued). */
static void create_new_rs(dsync_t *s, int64_t new_rev)
{
    json_t *d = s->d;
    const json_t *cs = json_object_get(status(d), "collisionCount");
    char *hash =
        k1s_ctrl_hash(json_object_get(spec(d), "template"), cs ? json_integer_value(cs) : -1);
    json_t *tmpl = json_deep_copy(json_object_get(spec(d), "template"));
    json_object_set_new(jobj(jobj(tmpl, "metadata"), "labels"), HASH_LABEL, json_string(hash));
    json_t *sel = json_deep_copy(json_object_get(spec(d), "selector"));
    if (!sel)
        sel = json_object();
    json_object_set_new(jobj(sel, "matchLabels"), HASH_LABEL, json_string(hash));
    char *name = k1s_xasprintf("%s-%s", obj_name(d), hash);
    json_t *rs =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:O,s:[o]},s:{s:i,s:I,s:o,s:o}}", "apiVersion", "apps/v1",
                  "kind", "ReplicaSet", "metadata", "name", name, "namespace", obj_ns(d), "labels",
                  json_object_get(md(tmpl), "labels"), "ownerReferences",
                  k1s_ctrl_new_controller_ref(s->cached), "spec", "replicas", 0, "minReadySeconds",
                  (json_int_t)jint(spec(d), "minReadySeconds"), "selector", sel, "template", tmpl);
    free(name);
    free(hash);
    json_t **all = NULL;
    size_t n = all_rss(s, &all);
    all[n++] = rs;
    int64_t count = new_rs_new_replicas(s, all, n, rs);
    free(all);
    set_replicas(rs, count);
    set_new_rs_annotations(d, rs, new_rev, false);
    write_t *w = add_write(s, W_RS_CREATE, rs);
    if (count > 0) {
        char *msg = k1s_xasprintf("Scaled up replica set %s from 0 to %lld", obj_name(rs),
                                  (long long)count);
        add_event(w, msg);
        free(msg);
    }
    s->new_rs = rs; /* owned by the sync (not in rs[]) */
    set_deployment_revision(s, ann(rs, ANN_REVISION));
    if (has_deadline(d)) {
        char *msg = k1s_xasprintf("Created new replica set \"%s\"", obj_name(rs));
        cond_set(jobj(d, "status"), cond_new("Progressing", "True", "NewReplicaSetCreated", msg));
        free(msg);
    }
}

/*
 * getAllReplicaSetsAndSyncRevision: finds the ReplicaSet of the current
 * template (the oldest if several), brings its revision and annotations up
 * to date, and creates it if missing and create is set.
 */
static void get_all(dsync_t *s, bool create)
{
    json_t *d = s->d;
    const json_t *tmpl = json_object_get(spec(d), "template");
    int64_t max_old = 0;
    if (!s->got_all) {
        s->got_all = true;
        qsort(s->rs, s->nrs, sizeof(*s->rs), cmp_created);
        for (size_t i = 0; i < s->nrs && !s->new_rs; i++)
            if (equal_ignore_hash(json_object_get(spec(s->rs[i]), "template"), tmpl))
                s->new_rs = json_incref(s->rs[i]);
        for (size_t i = 0; i < s->nrs; i++)
            if (s->rs[i] != s->new_rs && revision(s->rs[i]) > max_old)
                max_old = revision(s->rs[i]);
        if (s->new_rs) {
            json_t *rs = s->new_rs;
            bool changed = set_new_rs_annotations(d, rs, max_old + 1, true);
            const json_t *mrs = json_object_get(spec(d), "minReadySeconds");
            if (jint(spec(rs), "minReadySeconds") != jint(spec(d), "minReadySeconds")) {
                json_object_set_new(jobj(rs, "spec"), "minReadySeconds",
                                    json_integer(mrs ? json_integer_value(mrs) : 0));
                changed = true;
            }
            if (changed)
                add_write(s, W_RS_UPDATE, rs);
            set_deployment_revision(s, ann(rs, ANN_REVISION));
            if (has_deadline(d) && !k1s_cond_get(status(d), "Progressing")) {
                char *msg = k1s_xasprintf("Found new replica set \"%s\"", obj_name(rs));
                cond_set(jobj(d, "status"),
                         cond_new("Progressing", "True", "FoundNewReplicaSet", msg));
                free(msg);
            }
            return;
        }
    }
    if (create && !s->new_rs) {
        for (size_t i = 0; i < s->nrs; i++)
            if (revision(s->rs[i]) > max_old)
                max_old = revision(s->rs[i]);
        create_new_rs(s, max_old + 1);
    }
}

/* ---- status ---- */

static json_t *calculate_status(dsync_t *s)
{
    json_t *d = s->d;
    json_t **all = NULL;
    size_t n = all_rss(s, &all);
    int64_t avail = sum_status(all, n, "availableReplicas");
    int64_t unavail = replicas(d) - avail;
    if (unavail < 0)
        unavail = 0;
    json_t *st = json_object();
    const json_t *old = status(d);
    int64_t gen = jint(md(d), "generation");
    int64_t vals[] = {gen,
                      sum_status(all, n, "replicas"),
                      s->new_rs ? jint(status(s->new_rs), "replicas") : 0,
                      sum_status(all, n, "readyReplicas"),
                      avail,
                      unavail};
    static const char *const names[] = {"observedGeneration", "replicas",
                                        "updatedReplicas",    "readyReplicas",
                                        "availableReplicas",  "unavailableReplicas"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(names); i++)
        if (vals[i])
            json_object_set_new(st, names[i], json_integer(vals[i]));
    free(all);
    if (json_object_get(old, "collisionCount"))
        json_object_set(st, "collisionCount", json_object_get(old, "collisionCount"));
    if (json_array_size(json_object_get(old, "conditions")))
        json_object_set_new(st, "conditions", json_deep_copy(json_object_get(old, "conditions")));
    if (avail >= replicas(d) - max_unavailable(d))
        cond_set(st, cond_new("Available", "True", "MinimumReplicasAvailable",
                              "Deployment has minimum availability."));
    else
        cond_set(st, cond_new("Available", "False", "MinimumReplicasUnavailable",
                              "Deployment does not have minimum availability."));
    return st;
}

static bool deployment_complete(const json_t *d, const json_t *st)
{
    int64_t r = replicas(d);
    return jint(st, "updatedReplicas") == r && jint(st, "replicas") == r &&
           jint(st, "availableReplicas") == r &&
           jint(st, "observedGeneration") >= jint(md(d), "generation");
}

static bool deployment_progressing(const json_t *d, const json_t *st)
{
    const json_t *o = status(d);
    int64_t old_old = jint(o, "replicas") - jint(o, "updatedReplicas");
    int64_t new_old = jint(st, "replicas") - jint(st, "updatedReplicas");
    return jint(st, "updatedReplicas") > jint(o, "updatedReplicas") || new_old < old_old ||
           jint(st, "readyReplicas") > jint(o, "readyReplicas") ||
           jint(st, "availableReplicas") > jint(o, "availableReplicas");
}

static bool deployment_timed_out(const json_t *d, const json_t *st)
{
    if (!has_deadline(d))
        return false;
    const json_t *c = k1s_cond_get(st, "Progressing");
    if (!c)
        return false;
    const char *reason = k1s_ctrl_str(c, "reason");
    if (!strcmp(reason, "NewReplicaSetAvailable"))
        return false;
    if (!strcmp(reason, "ProgressDeadlineExceeded"))
        return true;
    int64_t from = k1s_ctrl_parse_time(k1s_ctrl_str(c, "lastUpdateTime"));
    return (double)(from + jint(spec(d), "progressDeadlineSeconds")) < k1s_ctrl_now();
}

static bool status_equal(const json_t *a, const json_t *b)
{
    static const char *const f[] = {"observedGeneration", "replicas",
                                    "updatedReplicas",    "readyReplicas",
                                    "availableReplicas",  "unavailableReplicas"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(f); i++)
        if (jint(a, f[i]) != jint(b, f[i]))
            return false;
    if (!json_equal(json_object_get(a, "collisionCount"), json_object_get(b, "collisionCount")) &&
        (json_object_get(a, "collisionCount") || json_object_get(b, "collisionCount")))
        return false;
    const json_t *ca = json_object_get(a, "conditions"), *cb = json_object_get(b, "conditions");
    if (!json_array_size(ca) && !json_array_size(cb))
        return true;
    return json_equal(ca, cb);
}

/* The sync's status becomes st (taken). */
static void set_status(dsync_t *s, json_t *st)
{
    json_object_set_new(s->d, "status", st);
}

/* syncDeploymentStatus. */
static void sync_deployment_status(dsync_t *s)
{
    set_status(s, calculate_status(s));
}

/* The ReplicaFailure condition of the new (else any) ReplicaSet, as a Deployment condition. */
static json_t *replica_failure(dsync_t *s)
{
    json_t **all = NULL;
    size_t n = all_rss(s, &all);
    json_t *found = NULL;
    if (s->new_rs)
        found = k1s_cond_get(status(s->new_rs), "ReplicaFailure");
    for (size_t i = 0; i < n && !found; i++)
        found = k1s_cond_get(status(all[i]), "ReplicaFailure");
    free(all);
    if (!found)
        return NULL;
    json_t *c = json_pack("{s:s,s:s,s:s,s:s}", "type", "ReplicaFailure", "status",
                          k1s_ctrl_str(found, "status"), "reason", k1s_ctrl_str(found, "reason"),
                          "message", k1s_ctrl_str(found, "message"));
    json_object_set_new(c, "lastUpdateTime",
                        json_string(k1s_ctrl_str(found, "lastTransitionTime")));
    json_object_set_new(c, "lastTransitionTime",
                        json_string(k1s_ctrl_str(found, "lastTransitionTime")));
    return c;
}

/* syncRolloutStatus: status with the Progressing condition, and the deadline's timer. */
static void sync_rollout_status(dsync_t *s)
{
    json_t *d = s->d;
    json_t *st = calculate_status(s);
    if (!has_deadline(d))
        cond_remove(st, "Progressing");
    json_t *cur = k1s_cond_get(st, "Progressing");
    bool complete = jint(st, "replicas") == jint(st, "updatedReplicas") && cur &&
                    !strcmp(k1s_ctrl_str(cur, "reason"), "NewReplicaSetAvailable");
    bool paused = json_is_true(json_object_get(spec(d), "paused"));
    const char *rsname = s->new_rs ? obj_name(s->new_rs) : NULL;
    if (has_deadline(d) && !paused && !complete) {
        if (deployment_complete(d, st)) {
            char *msg =
                rsname ? k1s_xasprintf("ReplicaSet \"%s\" has successfully progressed.", rsname)
                       : k1s_xstrdup("");
            cond_set(st, cond_new("Progressing", "True", "NewReplicaSetAvailable", msg));
            free(msg);
        } else if (deployment_progressing(d, st)) {
            char *msg = rsname ? k1s_xasprintf("ReplicaSet \"%s\" is progressing.", rsname)
                               : k1s_xstrdup("");
            json_t *c = cond_new("Progressing", "True", "ReplicaSetUpdated", msg);
            free(msg);
            if (cur && !strcmp(k1s_ctrl_str(cur, "status"), "True"))
                json_object_set(c, "lastTransitionTime",
                                json_object_get(cur, "lastTransitionTime"));
            cond_remove(st, "Progressing");
            cond_set(st, c);
        } else if (deployment_timed_out(d, st)) {
            char *msg = rsname
                            ? k1s_xasprintf("ReplicaSet \"%s\" has timed out progressing.", rsname)
                            : k1s_xstrdup("");
            cond_set(st, cond_new("Progressing", "False", "ProgressDeadlineExceeded", msg));
            free(msg);
        }
    }
    json_t *rf = replica_failure(s);
    if (rf)
        cond_set(st, rf);
    else
        cond_remove(st, "ReplicaFailure");
    if (status_equal(status(d), st)) {
        /* requeueStuckDeployment: come back when the deadline passes */
        const json_t *c = k1s_cond_get(status(d), "Progressing");
        if (has_deadline(d) && c && !deployment_complete(d, st) &&
            strcmp(k1s_ctrl_str(c, "reason"), "ProgressDeadlineExceeded")) {
            double after = (double)k1s_ctrl_parse_time(k1s_ctrl_str(c, "lastUpdateTime")) +
                           (double)jint(spec(d), "progressDeadlineSeconds") - k1s_ctrl_now();
            if (after < 1)
                s->retry = true;
            else
                s->after_ms = (int64_t)((after + 1) * 1000);
        }
        json_decref(st);
        return;
    }
    set_status(s, st);
}

/* ---- strategies ---- */

/* cleanupDeployment: deletes old ReplicaSets with nothing left beyond revisionHistoryLimit. */
static void cleanup(dsync_t *s)
{
    const json_t *lim = json_object_get(spec(s->d), "revisionHistoryLimit");
    if (!lim)
        return;
    json_t **old = NULL;
    size_t n = old_rss(s, &old), m = 0;
    for (size_t i = 0; i < n; i++)
        if (!k1s_ctrl_deleting(old[i]))
            old[m++] = old[i];
    int64_t diff = (int64_t)m - json_integer_value(lim);
    if (diff > 0) {
        qsort(old, m, sizeof(*old), cmp_revision);
        for (int64_t i = 0; i < diff; i++) {
            json_t *rs = old[i];
            if (jint(status(rs), "replicas") || replicas(rs) ||
                jint(md(rs), "generation") > jint(status(rs), "observedGeneration"))
                continue;
            /* not if a write of this sync changes it */
            bool busy = false;
            for (write_t *w = s->head; w; w = w->next)
                busy |= w->obj == rs;
            if (!busy) {
                k1s_debug("deployment %s: deleting old replica set %s", s->key, obj_name(rs));
                add_write(s, W_RS_DELETE, rs);
            }
        }
    }
    free(old);
}

/* reconcileNewReplicaSet. */
static bool reconcile_new(dsync_t *s)
{
    json_t *d = s->d, *nrs = s->new_rs;
    if (!nrs || replicas(nrs) == replicas(d))
        return false;
    if (replicas(nrs) > replicas(d))
        return scale_rs_if(s, nrs, replicas(d));
    json_t **all = NULL;
    size_t n = all_rss(s, &all);
    int64_t count = new_rs_new_replicas(s, all, n, nrs);
    free(all);
    return scale_rs_if(s, nrs, count);
}

/* reconcileOldReplicaSets. */
static bool reconcile_old(dsync_t *s)
{
    json_t *d = s->d, *nrs = s->new_rs;
    json_t **old = NULL, **all = NULL;
    size_t no = old_rss(s, &old);
    size_t na = all_rss(s, &all);
    bool scaled = false;
    int64_t old_pods = sum_replicas(old, no);
    no = filter_active(old, no);
    if (old_pods == 0 || !nrs)
        goto out;
    int64_t min_avail = replicas(d) - max_unavailable(d);
    int64_t new_unavail = replicas(nrs) - jint(status(nrs), "availableReplicas");
    int64_t max_down = sum_replicas(all, na) - min_avail - new_unavail;
    if (max_down <= 0)
        goto out;
    /* cleanupUnhealthyReplicas: old pods that are not available go first */
    qsort(old, no, sizeof(*old), cmp_created);
    int64_t cleaned = 0;
    for (size_t i = 0; i < no && cleaned < max_down; i++) {
        json_t *rs = old[i];
        int64_t unhealthy = replicas(rs) - jint(status(rs), "availableReplicas");
        if (replicas(rs) == 0 || unhealthy <= 0)
            continue;
        int64_t down = max_down - cleaned < unhealthy ? max_down - cleaned : unhealthy;
        scale_rs_if(s, rs, replicas(rs) - down);
        cleaned += down;
    }
    /* scaleDownOldReplicaSetsForRollingUpdate: then as many as availability allows */
    int64_t avail = sum_status(all, na, "availableReplicas");
    int64_t down_total = 0;
    if (avail > min_avail) {
        int64_t want = avail - min_avail;
        for (size_t i = 0; i < no && down_total < want; i++) {
            json_t *rs = old[i];
            if (replicas(rs) == 0)
                continue;
            int64_t down = replicas(rs) < want - down_total ? replicas(rs) : want - down_total;
            scale_rs_if(s, rs, replicas(rs) - down);
            down_total += down;
        }
    }
    scaled = cleaned + down_total > 0;
out:
    free(old);
    free(all);
    return scaled;
}

static void rollout_rolling(dsync_t *s)
{
    get_all(s, true);
    if (reconcile_new(s) || reconcile_old(s)) {
        sync_rollout_status(s);
        return;
    }
    if (deployment_complete(s->d, status(s->cached)))
        cleanup(s);
    sync_rollout_status(s);
}

/* Whether pods of old ReplicaSets are still there (Recreate waits for them to go). */
static bool old_pods_running(dsync_t *s)
{
    json_t **old = NULL;
    size_t n = old_rss(s, &old);
    bool running = sum_status(old, n, "replicas") > 0;
    for (size_t i = 0; i < n && !running; i++) {
        json_t **pods = NULL;
        int np = k1s_informer_by_index(s->c->pods, "owner", obj_uid(old[i]), &pods);
        for (int j = 0; j < np && !running; j++) {
            const json_t *ref = k1s_ctrl_controller_ref(pods[j]);
            if (ref && !strcmp(k1s_ctrl_str(ref, "uid"), obj_uid(old[i])) &&
                !k1s_pod_is_terminated(pods[j]))
                running = true;
        }
        free(pods);
    }
    free(old);
    return running;
}

static void rollout_recreate(dsync_t *s)
{
    get_all(s, false);
    json_t **old = NULL;
    size_t n = old_rss(s, &old);
    n = filter_active(old, n);
    bool scaled = false;
    for (size_t i = 0; i < n; i++)
        scaled |= scale_rs_if(s, old[i], 0);
    free(old);
    if (scaled || old_pods_running(s)) {
        sync_rollout_status(s);
        return;
    }
    if (!s->new_rs)
        get_all(s, true);
    else
        scale_rs_if(s, s->new_rs, replicas(s->d));
    if (deployment_complete(s->d, status(s->cached)))
        cleanup(s);
    sync_rollout_status(s);
}

/* getReplicaSetFraction. */
static int64_t rs_fraction(dsync_t *s, const json_t *rs)
{
    const json_t *d = s->d;
    if (replicas(d) == 0)
        return -replicas(rs);
    int64_t dep_replicas = replicas(d) + max_surge(d);
    int64_t annotated = 0;
    if (!ann_int(rs, ANN_MAX, &annotated))
        annotated = jint(status(s->cached), "replicas");
    if (annotated == 0)
        return 0;
    double size = (double)(replicas(rs) * dep_replicas) / (double)annotated;
    return (int64_t)round(size) - replicas(rs);
}

/* The deployment's scale: proportional scaling of the active ReplicaSets. */
static void scale(dsync_t *s)
{
    json_t *d = s->d;
    json_t **all = NULL;
    size_t n = all_rss(s, &all);
    json_t **old = NULL;
    size_t no = old_rss(s, &old);
    /* FindActiveOrLatest */
    json_t *aol = NULL;
    size_t na = filter_active(all, n);
    if (na == 1) {
        aol = all[0];
    } else if (na == 0 && (s->new_rs || no)) {
        if (s->new_rs) {
            aol = s->new_rs;
        } else {
            qsort(old, no, sizeof(*old), cmp_created_rev);
            aol = old[0];
        }
    }
    if (aol) {
        if (replicas(aol) != replicas(d))
            scale_rs_if(s, aol, replicas(d));
        goto out;
    }
    int64_t desired = 0;
    const json_t *nrs = s->new_rs;
    if (nrs && ann_int(nrs, ANN_DESIRED, &desired) && replicas(nrs) == replicas(d) &&
        desired == replicas(d) && jint(status(nrs), "availableReplicas") == replicas(d)) {
        /* saturated: the old ones go */
        no = filter_active(old, no);
        for (size_t i = 0; i < no; i++)
            scale_rs_if(s, old[i], 0);
        goto out;
    }
    if (rolling(d)) {
        int64_t allowed = replicas(d) > 0 ? replicas(d) + max_surge(d) : 0;
        int64_t to_add = allowed - sum_replicas(all, na);
        if (to_add > 0)
            qsort(all, na, sizeof(*all), cmp_size_newer);
        else if (to_add < 0)
            qsort(all, na, sizeof(*all), cmp_size_older);
        int64_t *size = k1s_xcalloc(na + 1, sizeof(*size));
        int64_t added = 0;
        for (size_t i = 0; i < na; i++) {
            size[i] = replicas(all[i]);
            if (to_add == 0 || replicas(all[i]) == 0 || to_add == added)
                continue;
            int64_t frac = rs_fraction(s, all[i]), allowed_left = to_add - added;
            int64_t p = to_add > 0 ? (frac < allowed_left ? frac : allowed_left)
                                   : (frac > allowed_left ? frac : allowed_left);
            size[i] += p;
            added += p;
        }
        for (size_t i = 0; i < na; i++) {
            if (i == 0 && to_add != 0) {
                size[i] += to_add - added;
                if (size[i] < 0)
                    size[i] = 0;
            }
            scale_rs(s, all[i], size[i]);
        }
        free(size);
    }
out:
    free(all);
    free(old);
}

/* sync: scaling and paused deployments. */
static void sync_scale(dsync_t *s)
{
    get_all(s, false);
    scale(s);
    if (json_is_true(json_object_get(spec(s->d), "paused")))
        cleanup(s);
    sync_deployment_status(s);
}

/* isScalingEvent: an active ReplicaSet's desired-replicas is not spec.replicas. */
static bool scaling_event(dsync_t *s)
{
    get_all(s, false);
    json_t **all = NULL;
    size_t n = all_rss(s, &all);
    n = filter_active(all, n);
    bool ev = false;
    for (size_t i = 0; i < n && !ev; i++) {
        int64_t desired;
        if (ann_int(all[i], ANN_DESIRED, &desired) && desired != replicas(s->d))
            ev = true;
    }
    free(all);
    return ev;
}

/* checkPausedConditions: returns whether the status changed. */
static bool check_paused(dsync_t *s)
{
    json_t *d = s->d;
    if (!has_deadline(d))
        return false;
    const json_t *c = k1s_cond_get(status(d), "Progressing");
    if (c && !strcmp(k1s_ctrl_str(c, "reason"), "ProgressDeadlineExceeded"))
        return false;
    bool paused_cond = c && !strcmp(k1s_ctrl_str(c, "reason"), "DeploymentPaused");
    bool paused = json_is_true(json_object_get(spec(d), "paused"));
    if (paused && !paused_cond)
        cond_set(jobj(d, "status"),
                 cond_new("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"));
    else if (!paused && paused_cond)
        cond_set(jobj(d, "status"),
                 cond_new("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed"));
    else
        return false;
    return true;
}

/* ---- claiming ReplicaSets ---- */

static void claim(dsync_t *s)
{
    const json_t *d = s->cached;
    const char *uid = obj_uid(d);
    bool deleting = k1s_ctrl_deleting(d);
    k1s_err_t err = {0};
    k1s_label_selector_t *ls =
        k1s_label_selector_from_json(json_object_get(spec(d), "selector"), &err);
    json_t **rss = NULL;
    int n = k1s_informer_by_index(s->c->rss, "namespace", obj_ns(d), &rss);
    s->rs = k1s_xmalloc(((size_t)(n > 0 ? n : 0) + 1) * sizeof(*s->rs));
    for (int i = 0; i < n; i++) {
        const json_t *ref = k1s_ctrl_controller_ref(rss[i]);
        bool match = ls && k1s_label_selector_matches(ls, json_object_get(md(rss[i]), "labels"));
        if (ref && strcmp(k1s_ctrl_str(ref, "uid"), uid))
            continue;
        json_t *copy = json_deep_copy(rss[i]);
        if (ref && !match) {
            if (!deleting) {
                write_t *w = add_write(s, W_RS_PATCH, copy);
                json_t *p = json_pack("{s:{s:[{s:s,s:s}],s:s}}", "metadata", "ownerReferences",
                                      "$patch", "delete", "uid", uid, "uid", obj_uid(rss[i]));
                w->patch = json_dumps(p, JSON_COMPACT);
                json_decref(p);
            }
            json_decref(copy);
            continue;
        }
        if (!ref) {
            if (!match || deleting || k1s_ctrl_deleting(rss[i])) {
                json_decref(copy);
                continue;
            }
            write_t *w = add_write(s, W_RS_PATCH, copy);
            json_t *p = json_pack("{s:{s:[o],s:s}}", "metadata", "ownerReferences",
                                  k1s_ctrl_new_controller_ref(d), "uid", obj_uid(rss[i]));
            w->patch = json_dumps(p, JSON_COMPACT);
            json_decref(p);
            /* the copy counts as owned from now on */
            json_object_set_new(jobj(copy, "metadata"), "ownerReferences",
                                json_pack("[o]", k1s_ctrl_new_controller_ref(d)));
        }
        s->rs[s->nrs++] = copy;
    }
    free(rss);
    k1s_label_selector_free(ls);
}

/* ---- the sync ---- */

static bool selector_empty(const json_t *sel)
{
    return !sel || (!json_object_size(json_object_get(sel, "matchLabels")) &&
                    !json_array_size(json_object_get(sel, "matchExpressions")));
}

static void plan(dsync_t *s)
{
    json_t *d = s->d;
    if (selector_empty(json_object_get(spec(d), "selector"))) {
        k1s_recorder_event(s->c->ctx->recorder, s->cached, "Warning", "SelectingAll",
                           "This deployment is selecting all pods. A non-empty selector is "
                           "required.");
        if (jint(status(d), "observedGeneration") < jint(md(d), "generation"))
            json_object_set_new(jobj(d, "status"), "observedGeneration",
                                json_integer(jint(md(d), "generation")));
        return;
    }
    claim(s);
    if (k1s_ctrl_deleting(d)) {
        get_all(s, false);
        sync_deployment_status(s);
        return;
    }
    if (check_paused(s))
        return;
    if (json_is_true(json_object_get(spec(d), "paused")) || scaling_event(s)) {
        sync_scale(s);
        return;
    }
    if (rolling(d))
        rollout_rolling(s);
    else
        rollout_recreate(s);
}

static void sync_deployment(k1s_workqueue_t *q, const char *key, void *arg)
{
    dc_t *c = arg;
    if (!k1s_ctrl_synced(q, key, (k1s_informer_t *[]){c->deps, c->rss, c->pods, NULL}))
        return;
    json_t *d = k1s_ctrl_get_by_key(c->deps, key);
    if (!d) {
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
        return;
    }
    dsync_t *s = k1s_xcalloc(1, sizeof(*s));
    s->c = c;
    s->key = k1s_xstrdup(key);
    s->cached = json_incref(d);
    s->d = json_deep_copy(d);
    s->after_ms = -1;
    K1S_LIST_ADD(c->syncs, s);
    plan(s);
    /* the Deployment's own writes come last: annotations, then status */
    if (!json_equal(json_object_get(md(s->d), "annotations"),
                    json_object_get(md(d), "annotations")))
        add_write(s, W_D_UPDATE, NULL);
    if (!status_equal(status(s->d), status(d)))
        add_write(s, W_D_STATUS, NULL);
    run_next(s);
}

/* ---- event handlers ---- */

/* The Deployment controlling rs (borrowed), or NULL. */
static json_t *owner_deployment(dc_t *c, const json_t *rs)
{
    return k1s_ctrl_resolve_owner(c->deps, rs, "Deployment");
}

static void rs_add(json_t *obj, void *arg)
{
    dc_t *c = arg;
    json_t *d = owner_deployment(c, obj);
    if (d)
        k1s_ctrl_enqueue(c->queue, d);
    else if (!k1s_ctrl_controller_ref(obj) && !k1s_ctrl_deleting(obj))
        k1s_ctrl_enqueue_selecting(c->deps, c->queue, obj);
}

static void rs_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    dc_t *c = arg;
    if (json_equal(json_object_get(md(old_obj), "resourceVersion"),
                   json_object_get(md(new_obj), "resourceVersion")))
        return;
    k1s_ctrl_enqueue_owners_update(c->deps, c->queue, "Deployment", old_obj, new_obj);
}

static void rs_delete(json_t *obj, void *arg)
{
    dc_t *c = arg;
    json_t *d = owner_deployment(c, obj);
    if (d)
        k1s_ctrl_enqueue(c->queue, d);
}

/* A Recreate rollout waits for the old pods to go: their deletion may let it continue. */
static void pod_delete(json_t *obj, void *arg)
{
    dc_t *c = arg;
    const json_t *ref = k1s_ctrl_controller_ref(obj);
    if (!ref || strcmp(k1s_ctrl_str(ref, "kind"), "ReplicaSet"))
        return;
    json_t *rs = k1s_informer_get(c->rss, obj_ns(obj), k1s_ctrl_str(ref, "name"));
    json_t *d = rs ? owner_deployment(c, rs) : NULL;
    if (d && !rolling(d))
        k1s_ctrl_enqueue(c->queue, d);
}

/* ---- lifecycle ---- */

static void *dc_start(k1s_ctrl_ctx_t *ctx)
{
    dc_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->deps = k1s_informer_factory_get(ctx->factory, &deploy_gvr);
    c->rss = k1s_informer_factory_get(ctx->factory, &rs_gvr);
    c->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    k1s_ctrl_index_namespace(c->deps);
    k1s_ctrl_index_namespace(c->rss);
    k1s_ctrl_index_owner(c->pods);
    c->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, sync_deployment, c);
    k1s_informer_handlers_t rh = {rs_add, rs_update, rs_delete, c};
    k1s_informer_handlers_t ph = {NULL, NULL, pod_delete, c};
    k1s_ctrl_watch_keys(c->deps, c->queue);
    k1s_informer_add_handlers(c->rss, &rh);
    k1s_informer_add_handlers(c->pods, &ph);
    return c;
}

static void dc_stop(void *state)
{
    dc_t *c = state;
    if (!c)
        return;
    while (c->syncs)
        dsync_free(c->syncs);
    k1s_workqueue_free(c->queue);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_deployment = {
    .name = "deployment",
    .service_account = "deployment-controller",
    .component = "deployment-controller",
    .start = dc_start,
    .stop = dc_stop,
};
