/*
 * The TTL-after-finished controller (kube-controller-manager's
 * "ttl-after-finished", service account ttl-after-finished-controller):
 * deletes a finished Job (Complete or Failed condition True) once
 * spec.ttlSecondsAfterFinished have passed since it finished (the
 * condition's lastTransitionTime), with background propagation, so that the
 * garbage collector removes its pods.
 *
 * Each Job waiting for its time is a delayed work-queue key (one libevent
 * timer per deadline, no polling). Before deleting, the controller reads
 * the Job from the API rather than its cache, as upstream does, in case the
 * TTL was changed, and deletes with a uid precondition.
 */
#include <stdlib.h>
#include <string.h>

#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

static const k1s_gvr_t jobs_gvr = {"batch", "v1", "jobs", true};

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *jobs;
    k1s_workqueue_t *queue;
} ttlc_t;

/* When job finished (Unix seconds), or -1 if it has not. */
static int64_t finish_time(const json_t *job)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), i, c)
    {
        const char *type = k1s_ctrl_str(c, "type");
        if ((!strcmp(type, "Complete") || !strcmp(type, "Failed")) &&
            !strcmp(k1s_ctrl_str(c, "status"), "True"))
            return k1s_ctrl_parse_time(k1s_ctrl_str(c, "lastTransitionTime"));
    }
    return -1;
}

/*
 * Seconds until job expires: <= 0 if it has, or a large value (INT64_MAX)
 * if it never does (no TTL, not finished or being deleted).
 */
static double expires_in(const json_t *job, double now)
{
    json_t *ttl = json_object_get(json_object_get(job, "spec"), "ttlSecondsAfterFinished");
    if (!json_is_integer(ttl) || k1s_ctrl_deleting(job))
        return (double)INT64_MAX;
    int64_t done = finish_time(job);
    if (done < 0)
        return (double)INT64_MAX;
    return (double)(done + json_integer_value(ttl)) - now;
}

typedef struct {
    ttlc_t *c;
    char *key;
} op_t;

static void op_end(op_t *op, bool retry)
{
    if (retry)
        k1s_workqueue_add_rate_limited(op->c->queue, op->key);
    else
        k1s_workqueue_forget(op->c->queue, op->key);
    k1s_workqueue_done(op->c->queue, op->key);
    free(op->key);
    free(op);
}

static void deleted(const k1s_client_result_t *res, void *arg)
{
    op_t *op = arg;
    bool fail = res->status >= 300 && res->status != 404 && res->status != 409;
    if (res->status < 300)
        k1s_debug("ttl-after-finished: deleted job %s", op->key);
    else if (fail || res->status == 0)
        k1s_debug("ttl-after-finished: deleting job %s: %d %s", op->key, res->status, res->message);
    op_end(op, fail || res->status == 0);
}

/* The Job as the API has it now: delete it if it has still expired. */
static void got_fresh(const k1s_client_result_t *res, void *arg)
{
    op_t *op = arg;
    if (res->status == 404) {
        op_end(op, false);
        return;
    }
    if (res->status != 200) {
        op_end(op, true);
        return;
    }
    double left = expires_in(res->obj, k1s_ctrl_now());
    if (left > 0) {
        if (left < (double)INT64_MAX)
            k1s_workqueue_add_after(op->c->queue, op->key, (uint64_t)(left * 1000) + 1);
        op_end(op, false);
        return;
    }
    const json_t *md = json_object_get(res->obj, "metadata");
    k1s_delete_opts_t opts = {.propagation_policy = "Background",
                              .precondition_uid = k1s_ctrl_str(md, "uid"),
                              .grace_period_s = -1};
    k1s_client_delete(op->c->ctx->client, &jobs_gvr, k1s_ctrl_str(md, "namespace"),
                      k1s_ctrl_str(md, "name"), &opts, deleted, op);
}

static void process(k1s_workqueue_t *q, const char *key, void *arg)
{
    ttlc_t *c = arg;
    json_t *job = k1s_ctrl_get_by_key(c->jobs, key);
    double left = job ? expires_in(job, k1s_ctrl_now()) : (double)INT64_MAX;
    if (left > 0) {
        if (left < (double)INT64_MAX)
            k1s_workqueue_add_after(q, key, (uint64_t)(left * 1000) + 1);
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
        return;
    }
    op_t *op = k1s_xmalloc(sizeof(*op));
    op->c = c;
    op->key = k1s_xstrdup(key);
    const json_t *md = json_object_get(job, "metadata");
    k1s_client_get(c->ctx->client, &jobs_gvr, k1s_ctrl_str(md, "namespace"),
                   k1s_ctrl_str(md, "name"), got_fresh, op);
}

static void enqueue(ttlc_t *c, const json_t *job)
{
    if (expires_in(job, 0) >= (double)INT64_MAX)
        return;
    char *key = k1s_ctrl_key(job);
    k1s_workqueue_add(c->queue, key);
    free(key);
}

static void job_add(json_t *obj, void *arg)
{
    enqueue(arg, obj);
}

static void job_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    enqueue(arg, new_obj);
}

static void *ttl_start(k1s_ctrl_ctx_t *ctx)
{
    ttlc_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->jobs = k1s_informer_factory_get(ctx->factory, &jobs_gvr);
    c->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, process, c);
    k1s_informer_handlers_t h = {job_add, job_update, NULL, c};
    k1s_informer_add_handlers(c->jobs, &h);
    return c;
}

static void ttl_stop(void *state)
{
    ttlc_t *c = state;
    if (!c)
        return;
    k1s_workqueue_free(c->queue);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_ttl_after_finished = {
    .name = "ttl-after-finished",
    .service_account = "ttl-after-finished-controller",
    .component = "ttl-after-finished-controller",
    .start = ttl_start,
    .stop = ttl_stop,
};
