/*
 * The CronJob controller (kube-controller-manager's "cronjob", service
 * account cronjob-controller), as pkg/controller/cronjob's v2 controller:
 * creates a Job from spec.jobTemplate at each time the schedule (cron.h, in
 * spec.timeZone) names, honouring suspend, startingDeadlineSeconds (with
 * the "too many missed start times" warning) and concurrencyPolicy
 * (Allow, Forbid, Replace); keeps status.active, lastScheduleTime and
 * lastSuccessfulTime; deletes finished Jobs beyond
 * successfulJobsHistoryLimit and failedJobsHistoryLimit.
 *
 * Jobs are named "<cronjob>-<scheduled time in minutes since the epoch>"
 * and carry the batch.kubernetes.io/cronjob-scheduled-timestamp
 * annotation. Each CronJob waits for its next schedule time as one delayed
 * work-queue key (no polling); changes to the CronJob or its Jobs sync it
 * at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/workqueue.h"
#include "controllers/controller.h"
#include "controllers/cron.h"
#include "lib/log.h"
#include "lib/util.h"

#define SCHEDULED_ANN "batch.kubernetes.io/cronjob-scheduled-timestamp"
#define MAX_MISSED 100

static const k1s_gvr_t cronjobs_gvr = {"batch", "v1", "cronjobs", true};
static const k1s_gvr_t jobs_gvr = {"batch", "v1", "jobs", true};

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *cronjobs, *jobs;
    k1s_workqueue_t *queue;
    k1s_ctrl_owned_t owned_jobs; /* their event handler's */
} cjc_t;

static json_t *jget(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}

static const char *jstr(const json_t *o, const char *k)
{
    return k1s_ctrl_str(o, k);
}

/* "Complete" or "Failed" if the Job has finished, else NULL. */
static const char *finished_as(const json_t *job)
{
    size_t i;
    json_t *c;
    json_array_foreach(jget(jget(job, "status"), "conditions"), i, c)
    {
        const char *type = jstr(c, "type");
        if ((!strcmp(type, "Complete") || !strcmp(type, "Failed")) &&
            !strcmp(jstr(c, "status"), "True"))
            return !strcmp(type, "Complete") ? "Complete" : "Failed";
    }
    return NULL;
}

static const char *uid_of(const json_t *o)
{
    return jstr(jget(o, "metadata"), "uid");
}

static const char *name_of(const json_t *o)
{
    return jstr(jget(o, "metadata"), "name");
}

/* Index of the active reference with uid, or -1. */
static int active_index(const json_t *active, const char *uid)
{
    size_t i;
    json_t *ref;
    json_array_foreach(active, i, ref)
    {
        if (!strcmp(jstr(ref, "uid"), uid))
            return (int)i;
    }
    return -1;
}

static json_t *job_ref(const json_t *job)
{
    const json_t *md = jget(job, "metadata");
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kind", "Job", "namespace", jstr(md, "namespace"),
                     "name", jstr(md, "name"), "uid", jstr(md, "uid"), "apiVersion", "batch/v1",
                     "resourceVersion", jstr(md, "resourceVersion"));
}

/* ---- one sync ---- */

typedef struct {
    cjc_t *c;
    char *key;
    json_t *cj;         /* a copy, carrying the new status */
    json_t *old_status; /* the cached status (a copy) */
    int pending;
    bool failed;
    json_t *create; /* the Job to create, or NULL */
    int64_t scheduled;
} sync_t;

static void sync_end(sync_t *s)
{
    if (--s->pending > 0)
        return;
    k1s_ctrl_sync_done(s->c->queue, s->key, s->failed);
    free(s->key);
    json_decref(s->cj);
    json_decref(s->old_status);
    json_decref(s->create);
    free(s);
}

static void status_written(const k1s_client_result_t *res, void *arg)
{
    sync_t *s = arg;
    if (!k1s_ctrl_ok(res) && res->status != 404) {
        k1s_debug("cronjob %s: status update: %d %s", s->key, res->status, res->message);
        s->failed = true;
    }
    sync_end(s);
}

static void write_status(sync_t *s)
{
    json_t *st = jget(s->cj, "status");
    if (json_equal(st, s->old_status))
        return;
    s->pending++;
    const char *ns = jstr(jget(s->cj, "metadata"), "namespace");
    k1s_client_update_status(s->c->ctx->client, &cronjobs_gvr, ns, s->cj, status_written, s);
}

typedef struct {
    sync_t *s;
    char *name;
} del_t;

static void job_deleted(const k1s_client_result_t *res, void *arg)
{
    del_t *d = arg;
    if (k1s_ctrl_ok(res))
        k1s_recorder_event(d->s->c->ctx->recorder, d->s->cj, "Normal", "SuccessfulDelete",
                           "Deleted job %s", d->name);
    else if (res->status != 404) {
        k1s_recorder_event(d->s->c->ctx->recorder, d->s->cj, "Warning", "FailedDelete",
                           "Deleted job: %s", res->message);
        d->s->failed = true;
    }
    sync_t *s = d->s;
    free(d->name);
    free(d);
    sync_end(s);
}

static void delete_job(sync_t *s, const char *name)
{
    del_t *d = k1s_xmalloc(sizeof(*d));
    d->s = s;
    d->name = k1s_xstrdup(name);
    s->pending++;
    k1s_delete_opts_t opts = {.propagation_policy = "Background", .grace_period_s = -1};
    k1s_client_delete(s->c->ctx->client, &jobs_gvr, jstr(jget(s->cj, "metadata"), "namespace"),
                      name, &opts, job_deleted, d);
}

static void job_created(const k1s_client_result_t *res, void *arg)
{
    sync_t *s = arg;
    json_t *st = jget(s->cj, "status");
    char ts[32];
    k1s_ctrl_format_time(s->scheduled, ts);
    if (k1s_ctrl_ok(res)) {
        k1s_recorder_event(s->c->ctx->recorder, s->cj, "Normal", "SuccessfulCreate",
                           "Created job %s", name_of(res->obj));
        json_t *active = jget(st, "active");
        if (!json_is_array(active)) {
            active = json_array();
            json_object_set_new(st, "active", active);
        }
        json_array_append_new(active, job_ref(res->obj));
        json_object_set_new(st, "lastScheduleTime", json_string(ts));
        write_status(s);
    } else if (res->status == 409 && !strcmp(res->reason, "AlreadyExists")) {
        /* made by an earlier sync whose status write was lost: the next sync adopts it */
        write_status(s);
    } else {
        k1s_recorder_event(s->c->ctx->recorder, s->cj, "Warning", "FailedCreate",
                           "Error creating job: %s", res->message);
        s->failed = true;
        write_status(s);
    }
    sync_end(s);
}

/* The Job for the schedule time t. */
static json_t *new_job(const json_t *cj, const k1s_cron_t *sched, int64_t t)
{
    const json_t *tmpl = jget(jget(cj, "spec"), "jobTemplate");
    const json_t *tmd = jget(tmpl, "metadata");
    char *name = k1s_xasprintf("%s-%lld", name_of(cj), (long long)(t / 60));
    json_t *md =
        json_pack("{s:s,s:s}", "name", name, "namespace", jstr(jget(cj, "metadata"), "namespace"));
    free(name);
    json_t *labels = jget(tmd, "labels");
    if (json_is_object(labels))
        json_object_set_new(md, "labels", json_deep_copy(labels));
    json_t *ann = json_is_object(jget(tmd, "annotations"))
                      ? json_deep_copy(jget(tmd, "annotations"))
                      : json_object();
    char ts[40];
    k1s_cron_format_rfc3339(sched, t, ts);
    json_object_set_new(ann, SCHEDULED_ANN, json_string(ts));
    json_object_set_new(md, "annotations", ann);
    json_object_set_new(md, "ownerReferences", json_pack("[o]", k1s_ctrl_new_controller_ref(cj)));
    json_t *spec = jget(tmpl, "spec");
    return json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "batch/v1", "kind", "Job", "metadata", md,
                     "spec", spec ? json_deep_copy(spec) : json_object());
}

static int cmp_start(const void *a, const void *b)
{
    const json_t *ja = *(json_t *const *)a, *jb = *(json_t *const *)b;
    int64_t ta = k1s_ctrl_parse_time(jstr(jget(ja, "status"), "startTime"));
    int64_t tb = k1s_ctrl_parse_time(jstr(jget(jb, "status"), "startTime"));
    if (ta != tb) {
        /* not started sorts last */
        if (ta < 0)
            return 1;
        if (tb < 0)
            return -1;
        return ta < tb ? -1 : 1;
    }
    return strcmp(name_of(ja), name_of(jb));
}

/* Deletes the oldest finished Jobs of kind `as` beyond limit. */
static void cleanup_history(sync_t *s, json_t **jobs, int n, const char *as, const json_t *limit)
{
    if (!json_is_integer(limit))
        return;
    json_t **f = k1s_xcalloc((size_t)n + 1, sizeof(*f));
    int nf = 0;
    for (int i = 0; i < n; i++) {
        const char *fa = finished_as(jobs[i]);
        if (fa && !strcmp(fa, as) && !k1s_ctrl_deleting(jobs[i]))
            f[nf++] = jobs[i];
    }
    qsort(f, (size_t)nf, sizeof(*f), cmp_start);
    for (int i = 0; i < nf - (int)json_integer_value(limit); i++)
        delete_job(s, name_of(f[i]));
    free(f);
}

static void requeue_at(cjc_t *c, const char *key, int64_t next, double now)
{
    if (next < 0)
        return;
    double d = (double)next - now + 0.1;
    k1s_workqueue_add_after(c->queue, key, d > 0 ? (uint64_t)(d * 1000) : 0);
}

static void sync_cronjob(k1s_workqueue_t *q, const char *key, void *arg)
{
    cjc_t *c = arg;
    bool synced = k1s_informer_has_synced(c->cronjobs) && k1s_informer_has_synced(c->jobs);
    json_t *cached = k1s_ctrl_sync_object(q, key, synced, c->cronjobs, NULL);
    if (!cached)
        return;
    if (k1s_ctrl_deleting(cached)) {
        k1s_ctrl_sync_done(q, key, false);
        return;
    }
    sync_t *s = k1s_xcalloc(1, sizeof(*s));
    s->c = c;
    s->key = k1s_xstrdup(key);
    s->pending = 1;
    s->cj = json_deep_copy(cached);
    json_t *old = jget(cached, "status");
    s->old_status = json_is_object(old) ? json_deep_copy(old) : json_object();
    json_t *st = json_deep_copy(s->old_status);
    json_object_set_new(s->cj, "status", st);
    json_t *cj = s->cj, *spec = jget(cj, "spec"), *md = jget(cj, "metadata");
    const char *uid = jstr(md, "uid"), *ns = jstr(md, "namespace");
    k1s_recorder_t *rec = c->ctx->recorder;
    double now = k1s_ctrl_now();

    /* the CronJob's Jobs */
    json_t **all = NULL;
    int nall = k1s_informer_by_index(c->jobs, "owner", uid, &all);
    json_t **jobs = k1s_xcalloc((size_t)(nall > 0 ? nall : 0) + 1, sizeof(*jobs));
    int n = 0;
    for (int i = 0; i < nall; i++) {
        json_t *ref = k1s_ctrl_controller_ref(all[i]);
        if (ref && !strcmp(jstr(ref, "uid"), uid))
            jobs[n++] = all[i];
    }
    free(all);

    /* status.active: finished Jobs leave it, missing ones too */
    json_t *active = jget(st, "active");
    for (int i = 0; i < n; i++) {
        const char *fa = finished_as(jobs[i]);
        int ai = active_index(active, uid_of(jobs[i]));
        if (ai < 0 && !fa &&
            !*jstr(jget(jget(jobs[i], "metadata"), "annotations"), SCHEDULED_ANN)) {
            /* upstream says so of Jobs it did not make (kubectl create job --from) */
            k1s_recorder_event(rec, cj, "Warning", "UnexpectedJob",
                               "Saw a job that the controller did not create or forgot: %s",
                               name_of(jobs[i]));
        } else if (ai >= 0 && fa) {
            json_array_remove(active, (size_t)ai);
            k1s_recorder_event(rec, cj, "Normal", "SawCompletedJob",
                               "Saw completed job: %s, status: %s", name_of(jobs[i]), fa);
        } else if (fa && !strcmp(fa, "Complete")) {
            /* a succeeded Job need not have been active (kubectl create job --from) */
            const char *ct = jstr(jget(jobs[i], "status"), "completionTime");
            if (*ct &&
                k1s_ctrl_parse_time(ct) > k1s_ctrl_parse_time(jstr(st, "lastSuccessfulTime")))
                json_object_set_new(st, "lastSuccessfulTime", json_string(ct));
        }
    }
    for (size_t i = json_array_size(active); i-- > 0;) {
        json_t *ref = json_array_get(active, i);
        bool child = false;
        for (int j = 0; j < n && !child; j++)
            child = !strcmp(uid_of(jobs[j]), jstr(ref, "uid"));
        if (!child && !k1s_informer_get(c->jobs, ns, jstr(ref, "name"))) {
            k1s_recorder_event(rec, cj, "Normal", "MissingJob", "Active job went missing: %s",
                               jstr(ref, "name"));
            json_array_remove(active, i);
        }
    }
    if (active && !json_array_size(active))
        json_object_del(st, "active");

    cleanup_history(s, jobs, n, "Complete", jget(spec, "successfulJobsHistoryLimit"));
    cleanup_history(s, jobs, n, "Failed", jget(spec, "failedJobsHistoryLimit"));

    k1s_cron_t sched;
    char *err = NULL;
    const char *schedule = jstr(spec, "schedule");
    const char *tz = json_string_value(jget(spec, "timeZone"));
    bool tz_in_schedule = strstr(schedule, "TZ") != NULL;
    int r = k1s_cron_parse(schedule, tz, &sched, &err);
    if (r == -ENOENT && !tz_in_schedule) {
        k1s_recorder_event(rec, cj, "Warning", "UnknownTimeZone", "invalid timeZone: \"%s\": %s",
                           tz ? tz : "", err);
        goto out;
    }
    if (json_is_true(jget(spec, "suspend"))) {
        if (!r)
            k1s_cron_free(&sched);
        goto out;
    }
    if (tz_in_schedule)
        k1s_recorder_event(rec, cj, "Warning", "UnsupportedSchedule",
                           "CRON_TZ or TZ used in schedule \"%s\" is not officially supported, see "
                           "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ "
                           "for more details",
                           schedule);
    if (r) {
        if (r == -ENOENT) /* robfig/cron's words for a bad TZ= prefix */
            k1s_recorder_event(rec, cj, "Warning", "UnparseableSchedule",
                               "unparseable schedule: \"%s\" : provided bad location %s: %s",
                               schedule, err + strlen("unknown time zone "), err);
        else
            k1s_recorder_event(rec, cj, "Warning", "UnparseableSchedule",
                               "unparseable schedule: \"%s\" : %s", schedule, err);
        goto out;
    }

    int64_t inow = (int64_t)now;
    int64_t earliest = k1s_ctrl_parse_time(jstr(st, "lastScheduleTime"));
    if (earliest < 0)
        earliest = k1s_ctrl_parse_time(jstr(md, "creationTimestamp"));
    json_t *sds = jget(spec, "startingDeadlineSeconds");
    if (json_is_integer(sds) && inow - json_integer_value(sds) > earliest)
        earliest = inow - json_integer_value(sds);
    int missed = 0;
    int64_t t =
        earliest > inow ? -1 : k1s_cron_most_recent(&sched, earliest, inow, MAX_MISSED, &missed);
    int64_t next = k1s_cron_next(&sched, inow);
    if (next < 0) {
        /* e.g. "0 0 30 2 *": never */
        k1s_recorder_event(rec, cj, "Warning", "InvalidSchedule",
                           "invalid schedule: %s : time difference between two schedules is less "
                           "than 1 second",
                           schedule);
        goto out_sched;
    }
    requeue_at(c, key, next, now);
    if (missed > MAX_MISSED)
        k1s_recorder_event(rec, cj, "Warning", "TooManyMissedTimes",
                           "too many missed start times. Set or decrease "
                           ".spec.startingDeadlineSeconds or check clock skew");
    if (t < 0)
        goto out_sched;
    if (json_is_integer(sds) && t + json_integer_value(sds) < inow) {
        char when[48];
        k1s_cron_t utc = {0};
        k1s_cron_format_rfc1123z(&utc, t, when);
        k1s_recorder_event(rec, cj, "Warning", "MissSchedule",
                           "Missed scheduled time to start a job: %s", when);
        goto out_sched;
    }
    if (k1s_ctrl_parse_time(jstr(st, "lastScheduleTime")) == t)
        goto out_sched; /* processed already */
    char *jname = k1s_xasprintf("%s-%lld", name_of(cj), (long long)(t / 60));
    json_t *existing = k1s_informer_get(c->jobs, ns, jname);
    free(jname);
    if (existing) {
        /* created already: make sure the status says so */
        if (!finished_as(existing) && active_index(jget(st, "active"), uid_of(existing)) < 0 &&
            k1s_ctrl_controller_ref(existing) &&
            !strcmp(jstr(k1s_ctrl_controller_ref(existing), "uid"), uid)) {
            if (!json_is_array(jget(st, "active")))
                json_object_set_new(st, "active", json_array());
            json_array_append_new(jget(st, "active"), job_ref(existing));
        }
        if (k1s_ctrl_parse_time(jstr(st, "lastScheduleTime")) < t) {
            char ts[32];
            k1s_ctrl_format_time(t, ts);
            json_object_set_new(st, "lastScheduleTime", json_string(ts));
        }
        goto out_sched;
    }
    const char *policy = jstr(spec, "concurrencyPolicy");
    size_t nactive = json_array_size(jget(st, "active"));
    if (!strcmp(policy, "Forbid") && nactive > 0) {
        k1s_recorder_event(rec, cj, "Normal", "JobAlreadyActive",
                           "Not starting job because prior execution is running and concurrency "
                           "policy is Forbid");
        goto out_sched;
    }
    if (!strcmp(policy, "Replace") && nactive > 0) {
        for (size_t i = 0; i < nactive; i++)
            delete_job(s, jstr(json_array_get(jget(st, "active"), i), "name"));
        json_object_del(st, "active");
    }
    s->scheduled = t;
    s->create = new_job(cj, &sched, t);
    s->pending++;
    k1s_client_create(c->ctx->client, &jobs_gvr, ns, s->create, job_created, s);
    k1s_cron_free(&sched);
    free(jobs);
    sync_end(s);
    return;

out_sched:
    k1s_cron_free(&sched);
out:
    free(err);
    free(jobs);
    write_status(s);
    sync_end(s);
}

static void *cronjob_start(k1s_ctrl_ctx_t *ctx)
{
    cjc_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->cronjobs = k1s_informer_factory_get(ctx->factory, &cronjobs_gvr);
    c->jobs = k1s_informer_factory_get(ctx->factory, &jobs_gvr);
    k1s_ctrl_index_owner(c->jobs);
    c->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, sync_cronjob, c);
    /* a CronJob changed, or one of its Jobs: it syncs */
    k1s_informer_handlers_t ch = k1s_ctrl_enqueue_handlers(c->queue);
    c->owned_jobs = (k1s_ctrl_owned_t){"batch/v1", "CronJob", c->queue, NULL};
    k1s_informer_handlers_t jh = k1s_ctrl_owned_handlers(&c->owned_jobs);
    k1s_informer_add_handlers(c->cronjobs, &ch);
    k1s_informer_add_handlers(c->jobs, &jh);
    return c;
}

static void cronjob_stop(void *state)
{
    cjc_t *c = state;
    if (!c)
        return;
    k1s_workqueue_free(c->queue);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_cronjob = {
    .name = "cronjob",
    .service_account = "cronjob-controller",
    .component = "cronjob-controller",
    .start = cronjob_start,
    .stop = cronjob_stop,
};
