/*
 * Leader election; see leaderelection.h. One timer drives the candidate:
 * every retry period it reads the Lease and, if it may, writes itself as
 * holder (create when absent, update with the read resourceVersion
 * otherwise). The expiry of another holder is judged by the local clock
 * from when this candidate last saw the Lease's spec change, as client-go
 * does, so clocks of different hosts need not agree.
 */
#include "client/leaderelection.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

static const k1s_gvr_t leases = {"coordination.k8s.io", "v1", "leases", true};

struct k1s_leader_elector {
    k1s_client_t *client;
    k1s_leader_election_config_t cfg;
    struct event *timer;
    k1s_client_req_t *req;
    bool running, leader;
    char *observed;       /* the Lease spec seen last, serialized */
    uint64_t observed_ns; /* when it last changed */
    uint64_t renewed_ns;  /* last successful write as leader */
    char *holder;
    json_t *lease; /* the Lease as last read or written */
};

static uint64_t ms_ns(int ms)
{
    return (uint64_t)ms * 1000000ull;
}

static void set_holder(k1s_leader_elector_t *le, const char *h)
{
    free(le->holder);
    le->holder = k1s_xstrdup(h ? h : "");
}

static void schedule(k1s_leader_elector_t *le, int ms)
{
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(le->timer, &tv);
}

static void lose(k1s_leader_elector_t *le)
{
    if (!le->leader)
        return;
    le->leader = false;
    k1s_debug("leader election: %s stopped leading %s/%s", le->cfg.identity, le->cfg.namespace_,
              le->cfg.name);
    if (le->cfg.stopped_leading)
        le->cfg.stopped_leading(le->cfg.arg);
}

/* A round failed: a leader that has not renewed within the deadline gives up. */
static void failed(k1s_leader_elector_t *le)
{
    if (le->leader && k1s_now_ns() - le->renewed_ns > ms_ns(le->cfg.renew_deadline_ms))
        lose(le);
    schedule(le, le->cfg.retry_period_ms);
}

static void observe(k1s_leader_elector_t *le, json_t *lease)
{
    json_t *spec = json_object_get(lease, "spec");
    char *s = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    if (!le->observed || strcmp(s, le->observed)) {
        free(le->observed);
        le->observed = s;
        le->observed_ns = k1s_now_ns();
    } else {
        free(s);
    }
    set_holder(le, json_string_value(json_object_get(spec, "holderIdentity")));
    json_decref(le->lease);
    le->lease = json_incref(lease);
}

static void on_write(const k1s_client_result_t *res, void *arg)
{
    k1s_leader_elector_t *le = arg;
    le->req = NULL;
    if (res->status != 200 && res->status != 201) {
        k1s_debug("leader election %s: write: %d %s", le->cfg.identity, res->status, res->message);
        failed(le);
        return;
    }
    observe(le, res->obj);
    le->renewed_ns = k1s_now_ns();
    schedule(le, le->cfg.retry_period_ms);
    if (!le->leader) {
        le->leader = true;
        k1s_debug("leader election: %s acquired lease %s/%s", le->cfg.identity, le->cfg.namespace_,
                  le->cfg.name);
        if (le->cfg.started_leading)
            le->cfg.started_leading(le->cfg.arg);
    }
}

static void fill_spec(k1s_leader_elector_t *le, json_t *spec, const char *old_holder)
{
    char now[40];
    k1s_time_rfc3339_micro(now);
    json_object_set_new(spec, "holderIdentity", json_string(le->cfg.identity));
    json_object_set_new(spec, "leaseDurationSeconds",
                        json_integer(le->cfg.lease_duration_ms / 1000));
    json_object_set_new(spec, "renewTime", json_string(now));
    if (!old_holder || strcmp(old_holder, le->cfg.identity)) {
        json_object_set_new(spec, "acquireTime", json_string(now));
        json_int_t t = json_integer_value(json_object_get(spec, "leaseTransitions"));
        json_object_set_new(spec, "leaseTransitions", json_integer(old_holder ? t + 1 : 0));
    }
}

static void on_get(const k1s_client_result_t *res, void *arg)
{
    k1s_leader_elector_t *le = arg;
    le->req = NULL;
    if (res->status == 404) {
        json_t *spec = json_object();
        fill_spec(le, spec, NULL);
        json_t *lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion",
                                  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
                                  le->cfg.name, "namespace", le->cfg.namespace_, "spec", spec);
        le->req = k1s_client_create(le->client, &leases, le->cfg.namespace_, lease, on_write, le);
        json_decref(lease);
        return;
    }
    if (res->status != 200 || !json_is_object(res->obj)) {
        k1s_debug("leader election %s: get: %d %s", le->cfg.identity, res->status, res->message);
        failed(le);
        return;
    }
    observe(le, res->obj);
    json_t *spec = json_object_get(res->obj, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    bool mine = holder && !strcmp(holder, le->cfg.identity);
    if (holder && *holder && !mine) {
        json_int_t dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
        if (dur <= 0)
            dur = le->cfg.lease_duration_ms / 1000;
        if (k1s_now_ns() < le->observed_ns + (uint64_t)dur * 1000000000ull) {
            /* held by another, and renewed recently enough */
            lose(le);
            schedule(le, le->cfg.retry_period_ms);
            return;
        }
    }
    if (!mine && le->leader)
        lose(le); /* someone else took it over meanwhile */
    json_t *lease = json_deep_copy(res->obj);
    json_t *nspec = json_object_get(lease, "spec");
    if (!nspec) {
        nspec = json_object();
        json_object_set_new(lease, "spec", nspec);
    }
    fill_spec(le, nspec, holder && *holder ? holder : (holder ? "" : NULL));
    le->req = k1s_client_update(le->client, &leases, le->cfg.namespace_, lease, on_write, le);
    json_decref(lease);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    k1s_leader_elector_t *le = arg;
    if (!le->running || le->req)
        return;
    le->req = k1s_client_get(le->client, &leases, le->cfg.namespace_, le->cfg.name, on_get, le);
}

k1s_leader_elector_t *k1s_leader_elector_new(k1s_client_t *client,
                                             const k1s_leader_election_config_t *cfg)
{
    k1s_leader_elector_t *le = k1s_xcalloc(1, sizeof(*le));
    le->client = client;
    le->cfg = *cfg;
    le->cfg.namespace_ = k1s_xstrdup(cfg->namespace_);
    le->cfg.name = k1s_xstrdup(cfg->name);
    le->cfg.identity = k1s_xstrdup(cfg->identity);
    if (le->cfg.lease_duration_ms <= 0)
        le->cfg.lease_duration_ms = 15000;
    if (le->cfg.renew_deadline_ms <= 0)
        le->cfg.renew_deadline_ms = 10000;
    if (le->cfg.retry_period_ms <= 0)
        le->cfg.retry_period_ms = 2000;
    le->timer = evtimer_new(k1s_client_base(client), tick, le);
    le->holder = k1s_xstrdup("");
    return le;
}

void k1s_leader_elector_start(k1s_leader_elector_t *le)
{
    if (le->running)
        return;
    le->running = true;
    schedule(le, 0);
}

static void on_released(const k1s_client_result_t *res, void *arg)
{
    k1s_leader_elector_t *le = arg;
    le->req = NULL;
    if (res->status == 200)
        observe(le, res->obj);
}

void k1s_leader_elector_stop(k1s_leader_elector_t *le)
{
    if (!le->running)
        return;
    le->running = false;
    evtimer_del(le->timer);
    k1s_client_cancel(le->req);
    le->req = NULL;
    if (!le->leader)
        return;
    /* release, as client-go's ReleaseOnCancel: empty holder, one-second lease */
    json_t *lease = json_deep_copy(le->lease);
    json_t *spec = json_object_get(lease, "spec");
    char now[40];
    k1s_time_rfc3339_micro(now);
    json_object_set_new(spec, "holderIdentity", json_string(""));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
    json_object_set_new(spec, "renewTime", json_string(now));
    json_object_set_new(spec, "acquireTime", json_string(now));
    le->req = k1s_client_update(le->client, &leases, le->cfg.namespace_, lease, on_released, le);
    json_decref(lease);
    lose(le);
}

void k1s_leader_elector_free(k1s_leader_elector_t *le)
{
    if (!le)
        return;
    k1s_leader_elector_stop(le);
    k1s_client_cancel(le->req);
    event_free(le->timer);
    free((char *)le->cfg.namespace_);
    free((char *)le->cfg.name);
    free((char *)le->cfg.identity);
    free(le->observed);
    free(le->holder);
    json_decref(le->lease);
    free(le);
}

bool k1s_leader_elector_is_leader(const k1s_leader_elector_t *le)
{
    return le->leader;
}

const char *k1s_leader_elector_holder(const k1s_leader_elector_t *le)
{
    return le->holder;
}
