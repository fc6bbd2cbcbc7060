/*
 * The Job controller (kube-controller-manager's "job", service account
 * job-controller): runs a Job's pods to completion.
 *
 * Each sync of a Job reads its pods from the shared pod informer (by owner
 * uid) and, as pkg/controller/job does:
 *   - tracks finished pods with the batch.kubernetes.io/job-tracking
 *     finalizer: a finished pod's uid first goes to
 *     status.uncountedTerminatedPods (or, for Indexed Jobs, its index to
 *     status.completedIndexes), then its finalizer is removed, then it is
 *     moved to the succeeded/failed counters, so that no pod is counted
 *     twice or lost across restarts;
 *   - applies the podFailurePolicy (FailJob / Ignore / Count on exit codes
 *     and pod conditions), backoffLimit, activeDeadlineSeconds (a work-queue
 *     delay to the deadline, not polling);
 *   - decides the Job finished with the interim FailureTarget or
 *     SuccessCriteriaMet condition, deletes the remaining active pods, and
 *     once none is left sets Failed or Complete;
 *   - otherwise creates or deletes pods to have min(parallelism, remaining
 *     completions) running (NonIndexed) or one pod per missing index
 *     (Indexed), with the 10 s doubling (6 min cap) back-off after failures;
 *   - suspend deletes active pods and sets the Suspended condition;
 *   - with backoffLimitPerIndex (Indexed Jobs), each index has its own
 *     failure count (the job-index-failure-count annotation, carried from a
 *     failed pod to its replacement, whose finalizer stays until then) and
 *     back-off; an index past its limit or failed by a FailIndex rule goes to
 *     status.failedIndexes, and the Job fails with MaxFailedIndexesExceeded
 *     or, once every index is done, FailedIndexes;
 *   - orphan pods its selector matches are adopted (controller ref and
 *     finalizer), owned pods it no longer matches released.
 *
 * A Job whose spec.managedBy names another controller is left alone. Pods
 * are created in slow-start batches (1, 2, 4, ...) that stop at the first
 * refusal.
 *
 * A sync writes the status first (PUT to jobs/status with the cached
 * resourceVersion, so that a stale cache ends in a conflict and a retry),
 * then removes finalizers and creates and deletes pods; the key is done when
 * every request has been answered.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"
#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

#define FINALIZER "batch.kubernetes.io/job-tracking"
#define INDEX_KEY "batch.kubernetes.io/job-completion-index"
#define FAILURE_COUNT_KEY "batch.kubernetes.io/job-index-failure-count"
#define IGNORED_COUNT_KEY "batch.kubernetes.io/job-index-ignored-failure-count"
#define OWN_MANAGER "kubernetes.io/job-controller"
#define BACKOFF_BASE_S 10.0
#define BACKOFF_MAX_S 360.0
#define MAX_INDEXES 100000
#define MAX_PODS_PER_SYNC 500 /* creations or deletions, as MaxPodCreateDeletePerSync */
#define MAX_UNCOUNTED 500     /* pods added to uncountedTerminatedPods per sync, as upstream */

static const k1s_gvr_t jobs_gvr = {"batch", "v1", "jobs", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};

typedef struct {
    int failures;        /* pod failures since the last success */
    double last_failure; /* when the last one was counted (Unix seconds) */
} backoff_t;

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *jobs, *pods;
    k1s_workqueue_t *queue;
    k1s_expectations_t *exp;
    k1s_strmap_t backoff;        /* job uid -> backoff_t */
    k1s_strmap_t create_refused; /* job keys whose last pod creations failed (values unused) */
} jobc_t;

/* ---- small JSON helpers ---- */

static json_t *jget(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}

static const char *jstr(const json_t *o, const char *k)
{
    return k1s_ctrl_str(o, k);
}

static int64_t jint(const json_t *o, const char *k, int64_t def)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static json_t *cond_find(const json_t *status, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(jget(status, "conditions"), i, c)
    {
        if (!strcmp(jstr(c, "type"), type))
            return c;
    }
    return NULL;
}

static bool cond_true(const json_t *status, const char *type)
{
    json_t *c = cond_find(status, type);
    return c && !strcmp(jstr(c, "status"), "True");
}

static json_t *new_cond(const char *type, const char *status, const char *reason, const char *msg,
                        const char *now)
{
    json_t *c = json_pack("{s:s,s:s,s:s,s:s}", "type", type, "status", status, "lastProbeTime", now,
                          "lastTransitionTime", now);
    if (reason && *reason)
        json_object_set_new(c, "reason", json_string(reason));
    if (msg && *msg)
        json_object_set_new(c, "message", json_string(msg));
    return c;
}

static json_t *conds_of(json_t *status)
{
    json_t *a = jget(status, "conditions");
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(status, "conditions", a);
    }
    return a;
}

/* Appends a new condition. */
static void add_cond(json_t *status, const char *type, const char *st, const char *reason,
                     const char *msg, const char *now)
{
    json_array_append_new(conds_of(status), new_cond(type, st, reason, msg, now));
}

/*
 * ensureJobConditionStatus: updates an existing condition whose status
 * differs, or adds it if absent and True. Returns whether it changed.
 */
static bool ensure_cond(json_t *status, const char *type, const char *st, const char *reason,
                        const char *msg, const char *now)
{
    json_t *c = cond_find(status, type);
    if (c) {
        if (!strcmp(jstr(c, "status"), st))
            return false;
        json_object_set_new(c, "status", json_string(st));
        json_object_set_new(c, "reason", json_string(reason));
        json_object_set_new(c, "message", json_string(msg));
        json_object_set_new(c, "lastProbeTime", json_string(now));
        json_object_set_new(c, "lastTransitionTime", json_string(now));
        return true;
    }
    if (strcmp(st, "True"))
        return false;
    add_cond(status, type, st, reason, msg, now);
    return true;
}

static bool has_finalizer(const json_t *pod)
{
    size_t i;
    json_t *f;
    json_array_foreach(jget(jget(pod, "metadata"), "finalizers"), i, f)
    {
        if (json_is_string(f) && !strcmp(json_string_value(f), FINALIZER))
            return true;
    }
    return false;
}

static bool in_array(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), s))
            return true;
    }
    return false;
}

static const char *pod_name(const json_t *pod)
{
    return jstr(jget(pod, "metadata"), "name");
}

static const char *pod_uid(const json_t *pod)
{
    return jstr(jget(pod, "metadata"), "uid");
}

static const char *pod_phase(const json_t *pod)
{
    return jstr(jget(pod, "status"), "phase");
}

/* The pod's completion index, or -1. */
static int pod_index(const json_t *pod)
{
    const char *s = jstr(jget(jget(pod, "metadata"), "annotations"), INDEX_KEY);
    if (!*s)
        s = jstr(jget(jget(pod, "metadata"), "labels"), INDEX_KEY);
    if (!*s)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v >= MAX_INDEXES || (s[0] == '0' && s[1]))
        return -1;
    return (int)v;
}

/* ---- completed indexes ("1,3-5,7") ---- */

/* Marks the indexes listed in s below n in set. */
static void parse_indexes(const char *s, bool *set, int n)
{
    while (s && *s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s)
            return;
        if (*end == '-') {
            s = end + 1;
            b = strtol(s, &end, 10);
            if (end == s)
                return;
        }
        for (long i = a; i <= b && i < n; i++)
            if (i >= 0)
                set[i] = true;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return;
    }
}

static char *format_indexes(const bool *set, int n, int *count)
{
    k1s_buf_t b = K1S_BUF_INIT;
    *count = 0;
    for (int i = 0; i < n;) {
        if (!set[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j + 1 < n && set[j + 1])
            j++;
        *count += j - i + 1;
        if (b.len)
            k1s_buf_putc(&b, ',');
        if (j == i)
            k1s_buf_printf(&b, "%d", i);
        else if (j == i + 1)
            k1s_buf_printf(&b, "%d,%d", i, j); /* as orderedIntervals.String() */
        else
            k1s_buf_printf(&b, "%d-%d", i, j);
        i = j + 1;
    }
    char *s = k1s_xstrndup(b.data ? b.data : "", b.len);
    k1s_buf_free(&b);
    return s;
}

/* ---- pod failure policy ---- */

typedef enum { PFP_NONE, PFP_FAIL_JOB, PFP_FAIL_INDEX, PFP_IGNORE, PFP_COUNT } pfp_action_t;

static bool exit_code_matches(const json_t *req, const json_t *statuses, const char **cname,
                              int64_t *code)
{
    const char *want = jstr(req, "containerName");
    bool in = !strcmp(jstr(req, "operator"), "In");
    size_t i;
    json_t *cs;
    json_array_foreach(statuses, i, cs)
    {
        if (*want && strcmp(want, jstr(cs, "name")))
            continue;
        json_t *term = jget(jget(cs, "state"), "terminated");
        if (!term)
            continue;
        int64_t c = jint(term, "exitCode", 0);
        if (c == 0)
            continue;
        bool listed = false;
        size_t j;
        json_t *v;
        json_array_foreach(jget(req, "values"), j, v)
        {
            if (json_integer_value(v) == c)
                listed = true;
        }
        if (listed == in) {
            *cname = jstr(cs, "name");
            *code = c;
            return true;
        }
    }
    return false;
}

/* matchPodFailurePolicy for a failed pod; msg (new string) for FailJob. */
static pfp_action_t match_pfp(const json_t *pfp, const json_t *pod, char **msg)
{
    size_t i;
    json_t *rule;
    const json_t *md = jget(pod, "metadata"), *st = jget(pod, "status");
    json_array_foreach(jget(pfp, "rules"), i, rule)
    {
        const char *action = jstr(rule, "action");
        json_t *oec = jget(rule, "onExitCodes");
        bool matched = false;
        char *m = NULL;
        if (oec) {
            const char *cname = NULL;
            int64_t code = 0;
            if (exit_code_matches(oec, jget(st, "initContainerStatuses"), &cname, &code) ||
                exit_code_matches(oec, jget(st, "containerStatuses"), &cname, &code)) {
                matched = true;
                m = k1s_xasprintf("Container %s for pod %s/%s failed with exit code %lld matching "
                                  "%s rule at index %zu",
                                  cname, jstr(md, "namespace"), jstr(md, "name"), (long long)code,
                                  action, i);
            }
        } else {
            size_t j, k;
            json_t *pat, *c;
            json_array_foreach(jget(rule, "onPodConditions"), j, pat)
            {
                json_array_foreach(jget(st, "conditions"), k, c)
                {
                    const char *want = jstr(pat, "status");
                    if (!matched && !strcmp(jstr(c, "type"), jstr(pat, "type")) &&
                        !strcmp(jstr(c, "status"), *want ? want : "True")) {
                        matched = true;
                        m = k1s_xasprintf(
                            "Pod %s/%s has condition %s matching %s rule at index %zu",
                            jstr(md, "namespace"), jstr(md, "name"), jstr(c, "type"), action, i);
                    }
                }
            }
        }
        if (!matched)
            continue;
        if (!strcmp(action, "FailJob")) {
            *msg = m;
            return PFP_FAIL_JOB;
        }
        free(m);
        if (!strcmp(action, "Ignore"))
            return PFP_IGNORE;
        if (!strcmp(action, "FailIndex"))
            return PFP_FAIL_INDEX; /* counted; the index fails (with backoffLimitPerIndex) */
        return PFP_COUNT;
    }
    return PFP_NONE;
}

/*
 * matchSuccessPolicy for an Indexed Job whose completed indexes below n are
 * done: the index of the first rule met, or -1.
 */
static int match_success_policy(const json_t *policy, const bool *done, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += done[i];
    if (!policy || !total)
        return -1;
    size_t r;
    json_t *rule;
    json_array_foreach(jget(policy, "rules"), r, rule)
    {
        json_t *count = jget(rule, "succeededCount");
        const char *ixs = json_string_value(jget(rule, "succeededIndexes"));
        if (ixs) {
            bool *want = k1s_xcalloc((size_t)n + 1, sizeof(bool));
            parse_indexes(ixs, want, n);
            int required = 0, contains = 0;
            for (int i = 0; i < n; i++) {
                required += want[i];
                contains += want[i] && done[i];
            }
            free(want);
            if (required && (contains == required ||
                             (json_is_integer(count) && contains >= json_integer_value(count))))
                return (int)r;
        } else if (json_is_integer(count) && total >= json_integer_value(count)) {
            return (int)r;
        }
    }
    return -1;
}

/*
 * getFinishedTime: when the pod's last container ended, else when it became
 * not ready, else when it was deleted, else when it was created (never
 * later than now).
 */
static double finish_time(const json_t *pod, double now)
{
    int64_t last = -1;
    const char *lists[] = {"initContainerStatuses", "containerStatuses"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *cs;
        json_array_foreach(jget(jget(pod, "status"), lists[l]), i, cs)
        {
            int64_t t =
                k1s_ctrl_parse_time(jstr(jget(jget(cs, "state"), "terminated"), "finishedAt"));
            if (t > last)
                last = t;
        }
    }
    if (last < 0) {
        /* the kubelet marks a pod Ready=False as it ends */
        json_t *ready = cond_find(jget(pod, "status"), "Ready");
        if (ready && !strcmp(jstr(ready, "status"), "False"))
            last = k1s_ctrl_parse_time(jstr(ready, "lastTransitionTime"));
    }
    const json_t *md = jget(pod, "metadata");
    if (last < 0) {
        last = k1s_ctrl_parse_time(jstr(md, "deletionTimestamp"));
        if (last >= 0)
            last -= jint(md, "deletionGracePeriodSeconds", 0);
    }
    if (last < 0)
        last = k1s_ctrl_parse_time(jstr(md, "creationTimestamp"));
    return last >= 0 && (double)last <= now ? (double)last : now;
}

/* isPodFailed */
static bool pod_failed(const json_t *pod, const json_t *spec)
{
    const char *ph = pod_phase(pod);
    if (!strcmp(ph, "Failed"))
        return true;
    if (jget(spec, "podFailurePolicy") || !strcmp(jstr(spec, "podReplacementPolicy"), "Failed"))
        return false;
    return k1s_ctrl_deleting(pod) && strcmp(ph, "Succeeded");
}

/*
 * pastBackoffLimitOnFailure: with restartPolicy OnFailure failures are
 * container restarts in pods still Pending or Running.
 */
static bool past_backoff_on_failure(const json_t *spec, json_t **pods, int n, int64_t limit)
{
    if (strcmp(jstr(jget(jget(spec, "template"), "spec"), "restartPolicy"), "OnFailure"))
        return false;
    int64_t restarts = 0;
    for (int i = 0; i < n; i++) {
        const char *ph = pod_phase(pods[i]);
        if (strcmp(ph, "Running") && strcmp(ph, "Pending"))
            continue;
        const char *lists[] = {"initContainerStatuses", "containerStatuses"};
        for (size_t l = 0; l < 2; l++) {
            size_t j;
            json_t *cs;
            json_array_foreach(jget(jget(pods[i], "status"), lists[l]), j, cs)
            {
                restarts += jint(cs, "restartCount", 0);
            }
        }
    }
    return limit == 0 ? restarts > 0 : restarts >= limit;
}

/* ---- backoffLimitPerIndex ---- */

/* A pod's count annotation (job-index-failure-count...), 0 if absent or invalid. */
static int64_t ann_count(const json_t *pod, const char *key)
{
    const char *v = jstr(jget(jget(pod, "metadata"), "annotations"), key);
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < 0 || n > INT32_MAX)
        return 0;
    return n;
}

/* isIndexFailed: pod failed for good, its index too (FailIndex, or backoffLimitPerIndex reached).
 */
static bool index_failed(const json_t *pod, const json_t *spec, int64_t bli)
{
    if (!pod_failed(pod, spec))
        return false;
    const json_t *pfp = jget(spec, "podFailurePolicy");
    if (pfp) {
        char *m = NULL;
        pfp_action_t a = match_pfp(pfp, pod, &m);
        free(m);
        if (a == PFP_FAIL_INDEX)
            return true;
        if (a == PFP_IGNORE)
            return false;
    }
    return ann_count(pod, FAILURE_COUNT_KEY) >= bli;
}

/*
 * For Jobs with backoffLimitPerIndex: marks in failed the indexes below nix
 * whose pods failed for good (calculateFailedIndexes), and sets last[ix] to
 * the failed pod the next pod of index ix replaces
 * (getPodsWithDelayedDeletionPerIndex): its finalizer stays until the
 * replacement exists, which carries its failure count. Pods are borrowed.
 */
static void index_failures(json_t **pods, int n, const json_t *spec, int64_t bli, const bool *done,
                           bool *failed, json_t **last, int nix)
{
    bool *busy = k1s_xcalloc((size_t)nix + 1, sizeof(bool));
    for (int i = 0; i < n; i++) {
        int ix = pod_index(pods[i]);
        if (ix < 0 || ix >= nix)
            continue;
        if (k1s_pod_is_active(pods[i]) ||
            (has_finalizer(pods[i]) && !strcmp(pod_phase(pods[i]), "Succeeded")))
            busy[ix] = true;
        if (has_finalizer(pods[i]) && index_failed(pods[i], spec, bli))
            failed[ix] = true;
    }
    for (int i = 0; i < n; i++) {
        json_t *p = pods[i];
        int ix = pod_index(p);
        if (ix < 0 || ix >= nix || done[ix] || failed[ix] || busy[ix] || !has_finalizer(p) ||
            !pod_failed(p, spec))
            continue;
        json_t *l = last[ix];
        if (!l || (ann_count(l, FAILURE_COUNT_KEY) + ann_count(l, IGNORED_COUNT_KEY) <=
                       ann_count(p, FAILURE_COUNT_KEY) + ann_count(p, IGNORED_COUNT_KEY) &&
                   finish_time(p, INFINITY) >= finish_time(l, INFINITY)))
            last[ix] = p;
    }
    free(busy);
}

/* addIndexFailureCountAnnotation: the failure counts of a new pod replacing replaced (or NULL). */
static void set_failure_counts(json_t *pod, const json_t *spec, const json_t *replaced)
{
    int64_t failures = 0, ignored = 0;
    if (replaced) {
        failures = ann_count(replaced, FAILURE_COUNT_KEY);
        ignored = ann_count(replaced, IGNORED_COUNT_KEY);
        const json_t *pfp = jget(spec, "podFailurePolicy");
        char *m = NULL;
        if (pfp && match_pfp(pfp, replaced, &m) == PFP_IGNORE)
            ignored++;
        else
            failures++;
        free(m);
    }
    json_t *ann = jget(jget(pod, "metadata"), "annotations");
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)failures);
    json_object_set_new(ann, FAILURE_COUNT_KEY, json_string(v));
    if (ignored > 0) {
        snprintf(v, sizeof(v), "%lld", (long long)ignored);
        json_object_set_new(ann, IGNORED_COUNT_KEY, json_string(v));
    }
}

/* ---- one sync ---- */

typedef struct {
    jobc_t *c;
    char *key;
    json_t *job; /* a copy, with the new status */
    int pending;
    bool failed;
    bool status_ok;
    json_t *rm_finalizer; /* pod names */
    json_t *del;          /* pod names to delete (finalizer removed first) */
    json_t *del_keep;     /* pod names to delete keeping the finalizer */
    json_t *create;       /* pod objects */
    size_t created;       /* creations started */
    k1s_slow_start_t ss;  /* their batches */
    bool create_failed;   /* a creation failed */
    json_t *events;       /* [type, reason, message] after the status write */
} sync_t;

static void sync_end(sync_t *s)
{
    if (--s->pending > 0)
        return;
    /* while creations are refused (a quota...), status.active does not count on new pods */
    if (s->create_failed)
        k1s_strmap_set(&s->c->create_refused, s->key, (void *)1);
    else if (s->created)
        k1s_strmap_del(&s->c->create_refused, s->key);
    k1s_ctrl_sync_done(s->c->queue, s->key, s->failed);
    free(s->key);
    json_decref(s->job);
    json_decref(s->rm_finalizer);
    json_decref(s->del);
    json_decref(s->del_keep);
    json_decref(s->create);
    json_decref(s->events);
    free(s);
}

typedef struct {
    sync_t *s;
    char *pod;
    bool then_delete;
} pod_op_t;

static void pod_deleted(const k1s_client_result_t *res, void *arg)
{
    pod_op_t *op = arg;
    sync_t *s = op->s;
    if (k1s_ctrl_ok(res)) {
        k1s_recorder_event(s->c->ctx->recorder, s->job, "Normal", "SuccessfulDelete",
                           "Deleted pod: %s", op->pod);
    } else {
        k1s_expect_observe_del(s->c->exp, s->key);
        if (res->status != 404) {
            s->failed = true;
            k1s_recorder_event(s->c->ctx->recorder, s->job, "Warning", "FailedDelete",
                               "Error deleting: %s", res->message);
        }
    }
    free(op->pod);
    free(op);
    sync_end(s);
}

static void delete_pod(sync_t *s, pod_op_t *op)
{
    const char *ns = jstr(jget(s->job, "metadata"), "namespace");
    k1s_client_delete(s->c->ctx->client, &pods_gvr, ns, op->pod, NULL, pod_deleted, op);
}

static void finalizer_removed(const k1s_client_result_t *res, void *arg)
{
    pod_op_t *op = arg;
    sync_t *s = op->s;
    if (!k1s_ctrl_ok(res) && res->status != 404) {
        k1s_debug("job %s: removing the finalizer of pod %s: %d %s", s->key, op->pod, res->status,
                  res->message);
        s->failed = true;
    }
    if (op->then_delete) {
        if (k1s_ctrl_ok(res)) {
            delete_pod(s, op); /* keeps the pending count */
            return;
        }
        k1s_expect_observe_del(s->c->exp, s->key);
    }
    free(op->pod);
    free(op);
    sync_end(s);
}

static void remove_finalizer(sync_t *s, const char *pod, bool then_delete)
{
    static const char patch[] =
        "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"" FINALIZER "\"]}}";
    pod_op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->s = s;
    op->pod = k1s_xstrdup(pod);
    op->then_delete = then_delete;
    s->pending++;
    const char *ns = jstr(jget(s->job, "metadata"), "namespace");
    k1s_client_patch(s->c->ctx->client, &pods_gvr, ns, pod, NULL, K1S_PATCH_STRATEGIC, patch, false,
                     finalizer_removed, op);
}

static void create_pods(sync_t *s, int n);

static void pod_created(const k1s_client_result_t *res, void *arg)
{
    sync_t *s = arg;
    int skipped = 0;
    int next = k1s_slow_start_answered(&s->ss, k1s_ctrl_ok(res), &skipped);
    /* after a failed batch the rest is given up on (retried with back-off): not expected */
    for (; skipped > 0; skipped--)
        k1s_expect_observe_add(s->c->exp, s->key);
    create_pods(s, next);
    if (k1s_ctrl_ok(res)) {
        k1s_recorder_event(s->c->ctx->recorder, s->job, "Normal", "SuccessfulCreate",
                           "Created pod: %s", jstr(jget(res->obj, "metadata"), "name"));
    } else {
        k1s_expect_observe_add(s->c->exp, s->key);
        s->failed = true;
        s->create_failed = true;
        k1s_recorder_event(s->c->ctx->recorder, s->job, "Warning", "FailedCreate",
                           "Error creating: %s", res->message);
    }
    sync_end(s);
}

/* Starts the next n creations of the sync (a slow-start batch). */
static void create_pods(sync_t *s, int n)
{
    const char *ns = jstr(jget(s->job, "metadata"), "namespace");
    for (; n > 0 && s->created < json_array_size(s->create); n--) {
        s->pending++;
        k1s_client_create(s->c->ctx->client, &pods_gvr, ns, json_array_get(s->create, s->created++),
                          pod_created, s);
    }
}

/* The pod writes a sync decided, once its status is written (or unchanged). */
static void run_pod_ops(sync_t *s)
{
    size_t i;
    json_t *v;
    jobc_t *c = s->c;
    json_array_foreach(s->events, i, v)
    {
        k1s_recorder_event(c->ctx->recorder, s->job, json_string_value(json_array_get(v, 0)),
                           json_string_value(json_array_get(v, 1)), "%s",
                           json_string_value(json_array_get(v, 2)));
    }
    json_array_foreach(s->rm_finalizer, i, v)
    {
        remove_finalizer(s, json_string_value(v), false);
    }
    json_array_foreach(s->del, i, v)
    {
        remove_finalizer(s, json_string_value(v), true);
    }
    json_array_foreach(s->del_keep, i, v)
    {
        pod_op_t *op = k1s_xcalloc(1, sizeof(*op));
        op->s = s;
        op->pod = k1s_xstrdup(json_string_value(v));
        s->pending++;
        delete_pod(s, op);
    }
    create_pods(s, k1s_slow_start_begin(&s->ss, (int)json_array_size(s->create)));
}

static void status_written(const k1s_client_result_t *res, void *arg)
{
    sync_t *s = arg;
    if (k1s_ctrl_ok(res)) {
        run_pod_ops(s);
    } else {
        k1s_debug("job %s: status update: %d %s", s->key, res->status, res->message);
        k1s_expect(s->c->exp, s->key, 0, 0);
        if (res->status != 404)
            s->failed = true;
    }
    sync_end(s);
}

static void add_event(sync_t *s, const char *type, const char *reason, const char *msg)
{
    json_array_append_new(s->events, json_pack("[s,s,s]", type, reason, msg));
}

/* ---- adoption ---- */

static void claim_patched(const k1s_client_result_t *res, void *arg)
{
    sync_t *s = arg;
    if (!k1s_ctrl_ok(res) && res->status != 404) {
        k1s_debug("job %s: adopting/releasing a pod: %d %s", s->key, res->status, res->message);
        s->failed = true;
    }
    sync_end(s);
}

/* Patches pod with body (taken). */
static void claim_patch(sync_t *s, const json_t *pod, char *body)
{
    s->pending++;
    k1s_client_patch(s->c->ctx->client, &pods_gvr, jstr(jget(pod, "metadata"), "namespace"),
                     pod_name(pod), NULL, K1S_PATCH_STRATEGIC, body, false, claim_patched, s);
    free(body);
}

/*
 * ClaimPods for a Job neither finished nor being deleted: releases the pods
 * it controls that its selector no longer matches (they leave pods, *npods
 * is updated) and adopts the orphans it matches, with the job-tracking
 * finalizer. Returns how many adoptions were started.
 */
static int claim_pods(sync_t *s, json_t **pods, int *npods)
{
    const json_t *job = s->job;
    k1s_err_t err = {0};
    k1s_label_selector_t *sel =
        k1s_label_selector_from_json(jget(jget(job, "spec"), "selector"), &err);
    if (!sel)
        return 0;
    int kept = 0;
    for (int i = 0; i < *npods; i++) {
        if (k1s_label_selector_matches(sel, jget(jget(pods[i], "metadata"), "labels")))
            pods[kept++] = pods[i];
        else if (!k1s_ctrl_deleting(pods[i]))
            claim_patch(s, pods[i], k1s_ctrl_claim_patch(job, pods[i], false, FINALIZER));
    }
    *npods = kept;
    json_t **orphans = NULL;
    int n = k1s_informer_by_index(s->c->pods, "orphans", jstr(jget(job, "metadata"), "namespace"),
                                  &orphans);
    int adopting = 0;
    for (int i = 0; i < n; i++) {
        if (k1s_ctrl_deleting(orphans[i]) ||
            !k1s_label_selector_matches(sel, jget(jget(orphans[i], "metadata"), "labels")))
            continue;
        k1s_debug("job %s: adopting pod %s", s->key, pod_name(orphans[i]));
        claim_patch(s, orphans[i], k1s_ctrl_claim_patch(job, orphans[i], true, FINALIZER));
        adopting++;
    }
    free(orphans);
    k1s_label_selector_free(sel);
    return adopting;
}

/* A new pod for the job (index -1 for NonIndexed). */
static json_t *new_pod(const json_t *job, int index)
{
    const json_t *md = jget(job, "metadata"), *spec = jget(job, "spec");
    const char *name = jstr(md, "name");
    char *prefix = index < 0 ? k1s_xasprintf("%s-", name) : k1s_xasprintf("%s-%d-", name, index);
    json_t *pod = k1s_ctrl_pod_from_template(jget(spec, "template"), job, prefix, NULL);
    free(prefix);
    json_t *pmd = jget(pod, "metadata");
    json_t *fins = jget(pmd, "finalizers");
    if (!json_is_array(fins)) {
        fins = json_array();
        json_object_set_new(pmd, "finalizers", fins);
    }
    json_array_append_new(fins, json_string(FINALIZER));
    if (index < 0)
        return pod;
    char ix[16];
    snprintf(ix, sizeof(ix), "%d", index);
    const char *keys[] = {"annotations", "labels"};
    for (size_t i = 0; i < 2; i++) {
        json_t *m = jget(pmd, keys[i]);
        if (!json_is_object(m)) {
            m = json_object();
            json_object_set_new(pmd, keys[i], m);
        }
        json_object_set_new(m, INDEX_KEY, json_string(ix));
    }
    json_t *pspec = jget(pod, "spec");
    if (!*jstr(pspec, "hostname")) {
        char *h = k1s_xasprintf("%s-%d", name, index);
        json_object_set_new(pspec, "hostname", json_string(h));
        free(h);
    }
    const char *lists[] = {"initContainers", "containers"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *ctr;
        json_array_foreach(jget(pspec, lists[l]), i, ctr)
        {
            json_t *env = jget(ctr, "env");
            if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(ctr, "env", env);
            }
            size_t j;
            json_t *e;
            bool have = false;
            json_array_foreach(env, j, e)
            {
                have |= !strcmp(jstr(e, "name"), "JOB_COMPLETION_INDEX");
            }
            if (!have)
                json_array_append_new(env,
                                      json_pack("{s:s,s:{s:{s:s}}}", "name", "JOB_COMPLETION_INDEX",
                                                "valueFrom", "fieldRef", "fieldPath",
                                                "metadata.annotations['" INDEX_KEY "']"));
        }
    }
    return pod;
}

static backoff_t *backoff_of(jobc_t *c, const char *uid)
{
    backoff_t *b = k1s_strmap_get(&c->backoff, uid);
    if (!b) {
        b = k1s_xcalloc(1, sizeof(*b));
        k1s_strmap_set(&c->backoff, uid, b);
    }
    return b;
}

/* Seconds to wait before creating replacement pods after failures (0: none). */
static double backoff_remaining(const backoff_t *b, double now)
{
    if (!b || b->failures <= 0)
        return 0;
    double d = BACKOFF_BASE_S * pow(2.0, b->failures - 1);
    if (d > BACKOFF_MAX_S)
        d = BACKOFF_MAX_S;
    double left = b->last_failure + d - now;
    return left > 0 ? left : 0;
}

/*
 * getRemainingTimePerIndex: seconds before index's next pod may start, after
 * last, the failed pod it replaces (NULL: none, 0).
 */
static double index_backoff(const json_t *last, double now)
{
    if (!last)
        return 0;
    int64_t n = ann_count(last, FAILURE_COUNT_KEY) + ann_count(last, IGNORED_COUNT_KEY) + 1;
    backoff_t b = {(int)(n < 64 ? n : 64), finish_time(last, now)};
    return backoff_remaining(&b, now);
}

static int cmp_value_desc(const void *a, const void *b)
{
    /* least valuable first */
    return k1s_pod_cmp_value(*(json_t *const *)a, *(json_t *const *)b);
}

static void sync_job(k1s_workqueue_t *q, const char *key, void *arg)
{
    jobc_t *c = arg;
    bool synced = k1s_informer_has_synced(c->jobs) && k1s_informer_has_synced(c->pods);
    json_t *cached = k1s_ctrl_sync_object(q, key, synced, c->jobs, c->exp);
    if (!cached)
        return;
    const char *manager = jstr(jget(cached, "spec"), "managedBy");
    if (*manager && strcmp(manager, OWN_MANAGER)) {
        /* another controller runs this Job: no pods, no status from here */
        k1s_debug("job %s: managed by %s, skipped", key, manager);
        k1s_ctrl_sync_done(q, key, false);
        return;
    }
    double now = k1s_ctrl_now();
    char now_s[32];
    k1s_ctrl_format_time((int64_t)now, now_s);

    sync_t *s = k1s_xcalloc(1, sizeof(*s));
    s->c = c;
    s->key = k1s_xstrdup(key);
    s->job = json_deep_copy(cached);
    s->pending = 1;
    s->rm_finalizer = json_array();
    s->del = json_array();
    s->del_keep = json_array();
    s->create = json_array();
    s->events = json_array();
    json_t *job = s->job;
    json_t *md = jget(job, "metadata"), *spec = jget(job, "spec");
    const char *uid = jstr(md, "uid");
    json_t *old_status = jget(cached, "status");
    json_t *st = json_is_object(old_status) ? json_deep_copy(old_status) : json_object();
    json_object_set_new(job, "status", st);

    bool finished = cond_true(st, "Complete") || cond_true(st, "Failed");
    bool deleting = k1s_ctrl_deleting(job);
    bool suspended = json_is_true(jget(spec, "suspend"));
    bool indexed = !strcmp(jstr(spec, "completionMode"), "Indexed");
    int64_t completions = jint(spec, "completions", -1);
    int64_t parallelism = jint(spec, "parallelism", 1);
    int64_t backoff_limit = jint(spec, "backoffLimit", 6);
    json_t *pfp = jget(spec, "podFailurePolicy");
    int64_t bli = indexed ? jint(spec, "backoffLimitPerIndex", -1) : -1;
    int64_t max_failed = jint(spec, "maxFailedIndexes", -1);
    bool satisfied = k1s_expect_satisfied(c->exp, key);

    /* the Job's pods: those it controls */
    json_t **all = NULL;
    int nall = k1s_informer_by_index(c->pods, "owner", uid, &all);
    json_t **pods = k1s_xcalloc((size_t)(nall > 0 ? nall : 0) + 1, sizeof(*pods));
    int npods = 0;
    for (int i = 0; i < nall; i++) {
        json_t *ref = k1s_ctrl_controller_ref(all[i]);
        if (ref && !strcmp(jstr(ref, "uid"), uid))
            pods[npods++] = all[i];
    }
    free(all);
    if (!deleting && !finished && claim_pods(s, pods, &npods) > 0) {
        /* the adopted pods come back through the informer, owned: decide then */
        free(pods);
        sync_end(s);
        return;
    }

    /* 1. uncounted pods whose finalizer is gone move to the counters */
    json_t *unc = jget(st, "uncountedTerminatedPods");
    json_t *us = json_array(), *uf = json_array();
    int64_t succeeded = jint(st, "succeeded", 0), failed = jint(st, "failed", 0);
    const char *which[] = {"succeeded", "failed"};
    for (int w = 0; w < 2; w++) {
        size_t i;
        json_t *v;
        json_array_foreach(jget(unc, which[w]), i, v)
        {
            bool with_fin = false;
            for (int p = 0; p < npods && !with_fin; p++)
                with_fin =
                    !strcmp(pod_uid(pods[p]), json_string_value(v)) && has_finalizer(pods[p]);
            if (with_fin)
                json_array_append(w == 0 ? us : uf, v);
            else if (w == 0)
                succeeded++;
            else
                failed++;
        }
    }

    /* the interim or final condition already reached */
    const char *fail_reason = NULL, *fail_msg = NULL;
    bool success = false;
    json_t *ft = cond_find(st, "FailureTarget");
    if (ft && !strcmp(jstr(ft, "status"), "True")) {
        fail_reason = jstr(ft, "reason");
        fail_msg = jstr(ft, "message");
    }
    if (cond_true(st, "SuccessCriteriaMet"))
        success = true;
    char *pfp_msg = NULL;

    /* completed indexes */
    int nix = indexed && completions > 0
                  ? (int)(completions < MAX_INDEXES ? completions : MAX_INDEXES)
                  : 0;
    bool *done_ix = k1s_xcalloc((size_t)nix + 1, sizeof(bool));
    if (indexed)
        parse_indexes(jstr(st, "completedIndexes"), done_ix, nix);
    /* with backoffLimitPerIndex: failed indexes, and the failed pod each index replaces next */
    bool *failed_ix = NULL;
    json_t **last_failed = NULL;
    int nfailed_ix = 0;
    if (bli >= 0) {
        failed_ix = k1s_xcalloc((size_t)nix + 1, sizeof(bool));
        last_failed = k1s_xcalloc((size_t)nix + 1, sizeof(*last_failed));
        parse_indexes(jstr(st, "failedIndexes"), failed_ix, nix);
        index_failures(pods, npods, spec, bli, done_ix, failed_ix, last_failed, nix);
    }

    /* 2. newly finished pods: into uncountedTerminatedPods (or completedIndexes) */
    backoff_t *bo = k1s_strmap_get(&c->backoff, uid);
    int active = 0, ready = 0, terminating = 0;
    json_t **act = k1s_xcalloc((size_t)npods + 1, sizeof(*act));
    bool pending_fin = false; /* finished pods still holding the finalizer */
    int new_ix = 0;           /* indexes newly completed */
    for (int i = 0; i < npods; i++) {
        json_t *p = pods[i];
        bool is_active = k1s_pod_is_active(p);
        if (is_active) {
            act[active++] = p;
            ready += k1s_pod_is_ready(p);
        } else if (k1s_ctrl_deleting(p) && !k1s_pod_is_terminated(p)) {
            terminating++;
        }
        if (!has_finalizer(p))
            continue;
        const char *puid = pod_uid(p);
        if (in_array(us, puid) || in_array(uf, puid)) {
            pending_fin = true;
            json_array_append_new(s->rm_finalizer, json_string(pod_name(p)));
            continue;
        }
        if (json_array_size(us) + json_array_size(uf) + (size_t)new_ix >= MAX_UNCOUNTED) {
            pending_fin = true; /* the rest next time: the status update syncs again */
            continue;
        }
        bool considered_failed = pod_failed(p, spec);
        bool can_remove = deleting || finished || fail_reason || success ||
                          !strcmp(pod_phase(p), "Succeeded") || considered_failed;
        if (!can_remove)
            continue;
        if (is_active && !deleting && !finished && !fail_reason && !success)
            continue;
        if (bli >= 0 && considered_failed && !deleting && !finished && !fail_reason && !success) {
            int ix = pod_index(p);
            if (ix >= 0 && ix < nix && last_failed[ix] == p)
                continue; /* kept until its replacement, which carries its failure count */
        }
        if (!strcmp(pod_phase(p), "Succeeded")) {
            if (indexed) {
                int ix = pod_index(p);
                if (ix >= 0 && ix < nix && !done_ix[ix]) {
                    done_ix[ix] = true;
                    new_ix++;
                }
            } else {
                json_array_append_new(us, json_string(puid));
                pending_fin = true;
            }
            if (bo)
                bo->failures = 0;
        } else if (considered_failed || (fail_reason && !success)) {
            pfp_action_t a = PFP_NONE;
            if (pfp && !strcmp(pod_phase(p), "Failed")) {
                char *m = NULL;
                a = match_pfp(pfp, p, &m);
                if (a == PFP_FAIL_JOB && !pfp_msg)
                    pfp_msg = m;
                else
                    free(m);
            }
            if (a != PFP_IGNORE) {
                json_array_append_new(uf, json_string(puid));
                pending_fin = true;
                if (!fail_reason) {
                    bo = backoff_of(c, uid);
                    bo->failures++;
                    double t = finish_time(p, now);
                    if (t > bo->last_failure)
                        bo->last_failure = t;
                }
            }
        }
        json_array_append_new(s->rm_finalizer, json_string(pod_name(p)));
    }
    int succeeded_total = (int)succeeded + (int)json_array_size(us);
    if (indexed) {
        int n = 0;
        char *ci = format_indexes(done_ix, nix, &n);
        succeeded_total = n;
        succeeded = n;
        if (*ci)
            json_object_set_new(st, "completedIndexes", json_string(ci));
        else
            json_object_set_new(st, "completedIndexes", json_string(""));
        free(ci);
    }
    if (bli >= 0) {
        char *fi = format_indexes(failed_ix, nix, &nfailed_ix);
        json_object_set_new(st, "failedIndexes", json_string(fi));
        free(fi);
    } else {
        json_object_del(st, "failedIndexes");
    }
    int64_t failed_total = failed + (int64_t)json_array_size(uf);

    /* 3. has the Job failed or succeeded? */
    int64_t start = k1s_ctrl_parse_time(jstr(st, "startTime"));
    int64_t ads = jint(spec, "activeDeadlineSeconds", -1);
    int policy_rule = -1;
    if (!finished && !fail_reason && !success && !deleting) {
        if (pfp_msg) {
            fail_reason = "PodFailurePolicy";
            fail_msg = pfp_msg;
        } else if (failed_total > backoff_limit ||
                   past_backoff_on_failure(spec, pods, npods, backoff_limit)) {
            fail_reason = "BackoffLimitExceeded";
            fail_msg = "Job has reached the specified backoff limit";
        } else if (ads >= 0 && start >= 0 && !suspended && now >= (double)(start + ads)) {
            fail_reason = "DeadlineExceeded";
            fail_msg = "Job was active longer than specified deadline";
        } else if (bli >= 0 && max_failed >= 0 && nfailed_ix > max_failed) {
            fail_reason = "MaxFailedIndexesExceeded";
            fail_msg = "Job has exceeded the specified maximal number of failed indexes";
        } else if (bli >= 0 && nfailed_ix > 0 && nfailed_ix + succeeded_total >= completions) {
            fail_reason = "FailedIndexes";
            fail_msg = "Job has failed indexes";
        } else if (indexed && (policy_rule = match_success_policy(jget(spec, "successPolicy"),
                                                                  done_ix, nix)) >= 0) {
            success = true;
        } else if (indexed || completions >= 0) {
            success = completions >= 0 && succeeded_total >= completions && active == 0;
        } else {
            success = succeeded_total > 0 && active == 0;
        }
        if (fail_reason) {
            add_cond(st, "FailureTarget", "True", fail_reason, fail_msg, now_s);
            /* every pod still running now counts as failed (its finalizer goes) */
            for (int i = 0; i < npods; i++) {
                const char *puid = pod_uid(pods[i]);
                if (!has_finalizer(pods[i]) || !strcmp(pod_phase(pods[i]), "Succeeded") ||
                    in_array(us, puid) || in_array(uf, puid) ||
                    in_array(s->rm_finalizer, pod_name(pods[i])))
                    continue;
                json_array_append_new(uf, json_string(puid));
                json_array_append_new(s->rm_finalizer, json_string(pod_name(pods[i])));
                pending_fin = true;
            }
        } else if (success && policy_rule >= 0) {
            char m[64];
            snprintf(m, sizeof(m), "Matched rules at index %d", policy_rule);
            add_cond(st, "SuccessCriteriaMet", "True", "SuccessPolicy", m, now_s);
        } else if (success) {
            add_cond(st, "SuccessCriteriaMet", "True", "CompletionsReached",
                     "Reached expected number of succeeded pods", now_s);
        }
    }

    /* 4. pods to create or delete */
    int to_create = 0, to_delete = 0;
    qsort(act, (size_t)active, sizeof(*act), cmp_value_desc);
    if (finished || deleting) {
        /* nothing runs any more */
    } else if (fail_reason || success) {
        if (satisfied)
            for (int i = 0; i < active; i++) {
                json_array_append_new(s->del_keep, json_string(pod_name(act[i])));
                to_delete++;
            }
    } else if (suspended) {
        if (satisfied)
            for (int i = 0; i < active; i++) {
                json_array_append_new(s->del, json_string(pod_name(act[i])));
                to_delete++;
            }
    } else if (satisfied) {
        /* pods being deleted still hold their place unless terminating ones are replaced */
        bool only_failed = pfp || !strcmp(jstr(spec, "podReplacementPolicy"), "Failed");
        int busy = active + (only_failed ? terminating : 0);
        /* one back-off for the Job, or one per index with backoffLimitPerIndex */
        double wait = bli >= 0 ? 0 : backoff_remaining(bo, now);
        if (indexed) {
            bool *running = k1s_xcalloc((size_t)nix + 1, sizeof(bool));
            for (int i = 0; i < active; i++) {
                int ix = pod_index(act[i]);
                if (ix < 0 || ix >= nix || done_ix[ix] || running[ix]) {
                    /* out of range, done already or a duplicate */
                    json_array_append_new(s->del, json_string(pod_name(act[i])));
                    to_delete++;
                } else {
                    running[ix] = true;
                }
            }
            if (only_failed)
                for (int i = 0; i < npods; i++) {
                    int ix = pod_index(pods[i]);
                    if (ix >= 0 && ix < nix && k1s_ctrl_deleting(pods[i]) &&
                        !k1s_pod_is_terminated(pods[i]))
                        running[ix] = true;
                }
            /* deletions first: creations wait for the next sync */
            double index_wait = 0;
            for (int ix = 0, n = 0;
                 ix < nix && !to_delete && to_create < MAX_PODS_PER_SYNC && busy + n < parallelism;
                 ix++) {
                if (done_ix[ix] || running[ix] || (failed_ix && failed_ix[ix]))
                    continue;
                n++;
                if (bli < 0 && wait > 0)
                    break;
                double w = bli >= 0 ? index_backoff(last_failed[ix], now) : 0;
                if (w > 0) {
                    if (index_wait <= 0 || w < index_wait)
                        index_wait = w;
                    continue;
                }
                json_t *pod = new_pod(job, ix);
                if (bli >= 0)
                    set_failure_counts(pod, spec, last_failed[ix]);
                json_array_append_new(s->create, pod);
                to_create++;
            }
            if (index_wait > 0)
                k1s_workqueue_add_after(q, key, (uint64_t)(index_wait * 1000) + 1);
            free(running);
        } else {
            int64_t want = parallelism;
            if (completions >= 0) {
                int64_t left = completions - succeeded_total;
                if (left < want)
                    want = left > 0 ? left : 0;
            } else if (succeeded_total > 0) {
                want = active; /* let the running ones finish; start none */
            }
            if (busy > want) {
                for (int i = 0;
                     i < active && busy - to_delete > want && to_delete < MAX_PODS_PER_SYNC; i++) {
                    json_array_append_new(s->del, json_string(pod_name(act[i])));
                    to_delete++;
                }
            } else if (busy < want && wait <= 0) {
                for (int64_t i = busy; i < want && to_create < MAX_PODS_PER_SYNC; i++) {
                    json_array_append_new(s->create, new_pod(job, -1));
                    to_create++;
                }
            }
        }
        if (wait > 0 && busy < parallelism)
            k1s_workqueue_add_after(q, key, (uint64_t)(wait * 1000) + 1);
    }
    if (to_create || to_delete)
        k1s_expect(c->exp, key, to_create, to_delete);

    /* 5. the final condition, once no pod runs or holds a finalizer */
    if (!finished && (fail_reason || success) && active == 0 && terminating == 0 && !pending_fin) {
        if (fail_reason) {
            add_cond(st, "Failed", "True", fail_reason, fail_msg, now_s);
            add_event(s, "Warning", fail_reason, fail_msg);
        } else {
            json_t *sc = cond_find(st, "SuccessCriteriaMet");
            add_cond(st, "Complete", "True", jstr(sc, "reason"), jstr(sc, "message"), now_s);
            json_object_set_new(st, "completionTime", json_string(now_s));
            if (completions >= 0 && succeeded_total > completions)
                add_event(s, "Warning", "TooManySucceededPods",
                          "Too many succeeded pods running after completion count reached");
            add_event(s, "Normal", "Completed", "Job completed");
        }
        finished = true;
    }

    /* suspend and resume */
    if (!finished && !fail_reason && !success) {
        if (suspended) {
            if (ensure_cond(st, "Suspended", "True", "JobSuspended", "Job suspended", now_s))
                add_event(s, "Normal", "Suspended", "Job suspended");
        } else if (ensure_cond(st, "Suspended", "False", "JobResumed", "Job resumed", now_s)) {
            add_event(s, "Normal", "Resumed", "Job resumed");
            json_object_set_new(st, "startTime", json_string(now_s));
        }
    }
    if (!suspended && !finished && !jget(st, "startTime"))
        json_object_set_new(st, "startTime", json_string(now_s));

    /* the active deadline, as a delayed sync */
    start = k1s_ctrl_parse_time(jstr(st, "startTime"));
    if (!finished && !fail_reason && !success && !suspended && ads >= 0 && start >= 0) {
        double left = (double)(start + ads) - now;
        if (left > 0)
            k1s_workqueue_add_after(q, key, (uint64_t)(left * 1000) + 1);
    }

    /* the counters */
    int planned = k1s_strmap_has(&c->create_refused, key) ? 0 : to_create;
    json_object_set_new(st, "active", json_integer(active + planned - to_delete));
    json_object_set_new(st, "ready", json_integer(ready));
    json_object_set_new(st, "terminating", json_integer(terminating + to_delete));
    json_object_set_new(st, "succeeded", json_integer(succeeded));
    json_object_set_new(st, "failed", json_integer(failed));
    json_t *nunc = json_object();
    if (json_array_size(us))
        json_object_set(nunc, "succeeded", us);
    if (json_array_size(uf))
        json_object_set(nunc, "failed", uf);
    json_object_set_new(st, "uncountedTerminatedPods", nunc);
    if (!json_array_size(jget(st, "conditions")))
        json_object_del(st, "conditions");
    if (!indexed)
        json_object_del(st, "completedIndexes");
    /* 0 counters are omitted in the API's JSON */
    const char *counters[] = {"active", "succeeded", "failed"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(counters); i++)
        if (jint(st, counters[i], 0) == 0)
            json_object_del(st, counters[i]);

    bool changed = !json_equal(st, old_status ? old_status : json_null());
    if (changed) {
        s->pending++;
        k1s_client_update_status(c->ctx->client, &jobs_gvr, jstr(md, "namespace"), job,
                                 status_written, s);
    } else {
        run_pod_ops(s);
    }
    free(pfp_msg);
    free(done_ix);
    free(failed_ix);
    free(last_failed);
    free(act);
    free(pods);
    json_decref(us);
    json_decref(uf);
    sync_end(s);
}

/* ---- informer handlers ---- */

static void fin_patched(const k1s_client_result_t *res, void *arg)
{
    (void)arg;
    if (!k1s_ctrl_ok(res) && res->status != 404)
        k1s_debug("job: removing an orphan pod's finalizer: %d %s", res->status, res->message);
}

/* A pod whose Job is gone keeps no job-tracking finalizer. */
static void release_pod(jobc_t *c, const json_t *pod)
{
    static const char patch[] =
        "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"" FINALIZER "\"]}}";
    const json_t *md = jget(pod, "metadata");
    k1s_client_patch(c->ctx->client, &pods_gvr, jstr(md, "namespace"), jstr(md, "name"), NULL,
                     K1S_PATCH_STRATEGIC, patch, false, fin_patched, NULL);
}

/* A Job gone: its back-off is forgotten and its pods lose their finalizer. */
static void job_delete(json_t *obj, void *arg)
{
    jobc_t *c = arg;
    char *key = k1s_ctrl_key(obj);
    k1s_strmap_del(&c->create_refused, key);
    free(key);
    const char *uid = jstr(jget(obj, "metadata"), "uid");
    free(k1s_strmap_del(&c->backoff, uid));
    json_t **pods = NULL;
    int n = k1s_informer_by_index(c->pods, "owner", uid, &pods);
    for (int i = 0; i < n; i++)
        if (has_finalizer(pods[i]))
            release_pod(c, pods[i]);
    free(pods);
}

/* The key of the Job controlling pod, if it is one of ours (new string), else NULL. */
static char *pod_job_key(jobc_t *c, const json_t *pod, bool *orphan)
{
    *orphan = false;
    json_t *ref = k1s_ctrl_controller_ref(pod);
    if (!ref) {
        /* released (e.g. its Job deleted with --cascade=orphan) */
        *orphan = k1s_informer_has_synced(c->jobs);
        return NULL;
    }
    if (strcmp(jstr(ref, "kind"), "Job") || strncmp(jstr(ref, "apiVersion"), "batch/", 6))
        return NULL;
    const char *ns = jstr(jget(pod, "metadata"), "namespace");
    json_t *job = k1s_informer_get(c->jobs, ns, jstr(ref, "name"));
    if (!job || strcmp(jstr(jget(job, "metadata"), "uid"), jstr(ref, "uid"))) {
        *orphan = k1s_informer_has_synced(c->jobs);
        return NULL;
    }
    return k1s_xasprintf("%s/%s", ns, jstr(ref, "name"));
}

/* An orphan pod appeared or changed: the Jobs whose selector matches it may adopt it. */
/* Whether this controller runs job (not managed elsewhere) and it is neither finished nor gone. */
static bool job_live(const json_t *job)
{
    const char *manager = jstr(jget(job, "spec"), "managedBy");
    const json_t *st = jget(job, "status");
    return (!*manager || !strcmp(manager, OWN_MANAGER)) && !k1s_ctrl_deleting(job) &&
           !cond_true(st, "Complete") && !cond_true(st, "Failed");
}

/*
 * For a pod without a controller: queues the Jobs whose selector matches
 * it (if enqueue) and returns whether one of them will adopt it, keeping
 * its job-tracking finalizer.
 */
static bool enqueue_selecting(jobc_t *c, const json_t *pod, bool enqueue)
{
    if (k1s_ctrl_controller_ref(pod) || k1s_ctrl_deleting(pod))
        return false;
    json_t **jobs = NULL;
    int n = k1s_informer_by_index(c->jobs, "namespace", jstr(jget(pod, "metadata"), "namespace"),
                                  &jobs);
    const json_t *labels = jget(jget(pod, "metadata"), "labels");
    bool adopter = false;
    for (int i = 0; i < n; i++) {
        if (!k1s_ctrl_selector_matches(jget(jget(jobs[i], "spec"), "selector"), labels))
            continue;
        adopter |= job_live(jobs[i]);
        if (enqueue)
            k1s_ctrl_enqueue(c->queue, jobs[i]);
    }
    free(jobs);
    return adopter;
}

static void pod_add(json_t *obj, void *arg)
{
    jobc_t *c = arg;
    bool adopter = enqueue_selecting(c, obj, true);
    bool orphan;
    char *key = pod_job_key(c, obj, &orphan);
    k1s_ctrl_pod_added(c->queue, c->exp, key, obj);
    if (!key && orphan && !adopter && has_finalizer(obj))
        release_pod(c, obj);
    free(key);
}

static void pod_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    jobc_t *c = arg;
    const json_t *ol = jget(jget(old_obj, "metadata"), "labels");
    const json_t *nl = jget(jget(new_obj, "metadata"), "labels");
    bool adopter = enqueue_selecting(
        c, new_obj, k1s_ctrl_controller_ref(old_obj) || ((ol || nl) && !json_equal(ol, nl)));
    bool orphan;
    char *key = pod_job_key(c, new_obj, &orphan);
    k1s_ctrl_pod_updated(c->queue, c->exp, key, old_obj, new_obj);
    if (!key && orphan && !adopter && has_finalizer(new_obj))
        release_pod(c, new_obj);
    free(key);
}

static void pod_delete(json_t *obj, void *arg)
{
    jobc_t *c = arg;
    bool orphan;
    char *key = pod_job_key(c, obj, &orphan);
    k1s_ctrl_pod_deleted(c->queue, c->exp, key, obj);
    free(key);
}

static void *job_start(k1s_ctrl_ctx_t *ctx)
{
    jobc_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->exp = k1s_expectations_new();
    c->jobs = k1s_informer_factory_get(ctx->factory, &jobs_gvr);
    c->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    k1s_ctrl_index_owner(c->pods);
    k1s_ctrl_index_orphans(c->pods);
    k1s_ctrl_index_namespace(c->jobs);
    c->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, sync_job, c);
    k1s_informer_handlers_t jh = k1s_ctrl_enqueue_handlers(c->queue);
    k1s_informer_handlers_t gone = {NULL, NULL, job_delete, c};
    k1s_informer_handlers_t ph = {pod_add, pod_update, pod_delete, c};
    k1s_informer_add_handlers(c->jobs, &jh);
    k1s_informer_add_handlers(c->jobs, &gone);
    k1s_informer_add_handlers(c->pods, &ph);
    return c;
}

static void job_stop(void *state)
{
    jobc_t *c = state;
    if (!c)
        return;
    k1s_workqueue_free(c->queue);
    k1s_expectations_free(c->exp);
    k1s_ctrl_strmap_free_all(&c->backoff);
    k1s_strmap_free(&c->create_refused);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_job = {
    .name = "job",
    .service_account = "job-controller",
    .component = "job-controller",
    .start = job_start,
    .stop = job_stop,
};
