/*
 * The Event recorder (see events.h), with client-go's EventCorrelator
 * rules. Repeats are found by a key of the involved object's uid, type,
 * reason and message, and counted on one Event. Events of one object, type
 * and reason with AGG_MAX_MESSAGES different messages within
 * AGG_INTERVAL_S (a ReplicaSet's "Created pod: ..." for each pod) turn into
 * one Event "(combined from similar events): <latest message>" counted
 * from then on. The caches are bounded (emptied when they grow past
 * EVENT_CACHE_MAX, as client-go's LRUs of 4096 would forget the oldest).
 */
#include "controllers/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/strmap.h"
#include "lib/log.h"
#include "lib/util.h"

#define EVENT_CACHE_MAX 4096
#define AGG_MAX_MESSAGES 10
#define AGG_INTERVAL_S 600

static const k1s_gvr_t events_gvr = {"", "v1", "events", true};

typedef struct {
    char *ns, *name;
    int64_t count;
    char first[32];
} seen_t;

/* The different messages seen for one object, type and reason. */
typedef struct {
    k1s_strmap_t msgs;
    int64_t last; /* when the last of them came, Unix seconds */
} agg_t;

struct k1s_recorder {
    k1s_client_t *client;
    char *component;
    k1s_strmap_t seen; /* correlation key -> seen_t */
    k1s_strmap_t aggs; /* object, type, reason -> agg_t */
};

k1s_recorder_t *k1s_recorder_new(k1s_client_t *client, const char *component)
{
    k1s_recorder_t *r = k1s_xcalloc(1, sizeof(*r));
    r->client = client;
    r->component = k1s_xstrdup(component);
    return r;
}

static void clear_seen(k1s_recorder_t *r)
{
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&r->seen, &i, &k, &v);) {
        seen_t *s = v;
        free(s->ns);
        free(s->name);
        free(s);
    }
    k1s_strmap_free(&r->seen);
    memset(&r->seen, 0, sizeof(r->seen));
}

static void clear_aggs(k1s_recorder_t *r)
{
    void *v;
    for (size_t i = 0; k1s_strmap_next(&r->aggs, &i, NULL, &v);) {
        agg_t *a = v;
        k1s_strmap_free(&a->msgs);
        free(a);
    }
    k1s_strmap_free(&r->aggs);
}

/* EventAggregate: whether an Event with msg about the object/type/reason agg_key is to be
 * combined with the similar ones (too many different messages lately). */
static bool aggregate(k1s_recorder_t *r, const char *agg_key, const char *msg)
{
    agg_t *a = k1s_strmap_get(&r->aggs, agg_key);
    int64_t now = (int64_t)time(NULL);
    if (!a) {
        if (k1s_strmap_len(&r->aggs) >= EVENT_CACHE_MAX)
            clear_aggs(r);
        a = k1s_xcalloc(1, sizeof(*a));
        k1s_strmap_set(&r->aggs, agg_key, a);
    } else if (now - a->last > AGG_INTERVAL_S) {
        k1s_strmap_free(&a->msgs);
    }
    a->last = now;
    k1s_strmap_set(&a->msgs, msg, NULL);
    if (k1s_strmap_len(&a->msgs) < AGG_MAX_MESSAGES)
        return false;
    /* keep the set below the limit, as client-go does (it drops any one) */
    const char *k;
    size_t it = 0;
    if (k1s_strmap_next(&a->msgs, &it, &k, NULL)) {
        char *drop = k1s_xstrdup(k);
        k1s_strmap_del(&a->msgs, drop);
        free(drop);
    }
    return true;
}

void k1s_recorder_free(k1s_recorder_t *r)
{
    if (!r)
        return;
    clear_seen(r);
    clear_aggs(r);
    free(r->component);
    free(r);
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void logged(const k1s_client_result_t *res, void *arg)
{
    if (res->status == 0 || res->status >= 300)
        k1s_debug("event write failed: %d %s", res->status, res->message);
}

void k1s_recorder_event(k1s_recorder_t *r, const json_t *obj, const char *type, const char *reason,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg)
        return;
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = *jstr(md, "namespace") ? jstr(md, "namespace") : "default";
    char ts[32];
    k1s_time_rfc3339(ts);
    char *agg_key =
        k1s_xasprintf("%s\x1f%s\x1f%s\x1f%s", jstr(md, "uid"), jstr(md, "name"), type, reason);
    char *key;
    if (aggregate(r, agg_key, msg)) {
        char *combined = k1s_xasprintf("(combined from similar events): %s", msg);
        free(msg);
        msg = combined;
        key = agg_key;
    } else {
        key = k1s_xasprintf("%s\x1f%s", agg_key, msg);
        free(agg_key);
    }
    seen_t *s = k1s_strmap_get(&r->seen, key);
    if (s) {
        s->count++;
        json_t *patch = json_pack("{s:I,s:s,s:s}", "count", (json_int_t)s->count, "lastTimestamp",
                                  ts, "message", msg);
        char *body = json_dumps(patch, JSON_COMPACT);
        json_decref(patch);
        k1s_client_patch(r->client, &events_gvr, s->ns, s->name, NULL, K1S_PATCH_MERGE, body, false,
                         logged, NULL);
        free(body);
        free(key);
        free(msg);
        return;
    }
    if (k1s_strmap_len(&r->seen) >= EVENT_CACHE_MAX)
        clear_seen(r);
    /* client-go names Events after the wall clock in nanoseconds */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char *name = k1s_xasprintf("%s.%llx", jstr(md, "name"),
                               (unsigned long long)now.tv_sec * 1000000000ull +
                                   (unsigned long long)now.tv_nsec);
    json_t *involved = json_pack("{s:s,s:s,s:s,s:s,s:s}", "apiVersion", jstr(obj, "apiVersion"),
                                 "kind", jstr(obj, "kind"), "name", jstr(md, "name"), "uid",
                                 jstr(md, "uid"), "resourceVersion", jstr(md, "resourceVersion"));
    if (*jstr(md, "namespace"))
        json_object_set_new(involved, "namespace", json_string(jstr(md, "namespace")));
    json_t *ev =
        json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s,s:s,s:{s:s},s:s,s:s,s:i,s:s,s:s}", "apiVersion",
                  "v1", "kind", "Event", "metadata", "name", name, "namespace", ns,
                  "involvedObject", involved, "type", type, "reason", reason, "message", msg,
                  "source", "component", r->component, "firstTimestamp", ts, "lastTimestamp", ts,
                  "count", 1, "reportingComponent", r->component, "reportingInstance", "");
    if (ev) {
        k1s_client_create(r->client, &events_gvr, ns, ev, logged, NULL);
        seen_t *sn = k1s_xcalloc(1, sizeof(*sn));
        sn->ns = k1s_xstrdup(ns);
        sn->name = k1s_xstrdup(name);
        sn->count = 1;
        snprintf(sn->first, sizeof(sn->first), "%s", ts);
        k1s_strmap_set(&r->seen, key, sn);
    }
    json_decref(ev);
    free(name);
    free(key);
    free(msg);
}
