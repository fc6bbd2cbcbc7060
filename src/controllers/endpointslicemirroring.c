/*
 * The EndpointSlice mirroring controller (kube-controller-manager's
 * "endpointslicemirroring", service account
 * endpointslicemirroring-controller): Endpoints that users write for a
 * Service without a selector are mirrored into EndpointSlices, so that
 * whatever reads slices sees them too. Each subset's addresses (at most
 * 1000 per subset) become endpoints with the ready condition (addresses:
 * true, notReadyAddresses: false), their targetRef, nodeName and hostname;
 * slices carry the Endpoints' labels and annotations (except the
 * last-change-trigger-time and kubectl's last-applied-configuration), the
 * labels kubernetes.io/service-name and
 * endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io,
 * and a controller ownerReference to the Endpoints.
 *
 * Endpoints labelled endpointslice.kubernetes.io/skip-mirror=true (the API
 * server's own default/kubernetes), leader-election records, Endpoints of
 * Services with a selector (the EndpointSlice controller's) or without a
 * Service are not mirrored, and their mirrored slices are deleted. Only
 * IPv4 addresses are mirrored (k1s is single-stack IPv4).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "client/workqueue.h"
#include "controllers/controller.h"
#include "controllers/endpoints-int.h"
#include "lib/log.h"
#include "lib/util.h"

#define CONTROLLER_NAME "endpointslicemirroring-controller.k8s.io"
#define MAX_ENDPOINTS_PER_SUBSET 1000
#define INDEX_MIRRORED "mirrored-service-name"
#define LABEL_SKIP_MIRROR "endpointslice.kubernetes.io/skip-mirror"

static const k1s_gvr_t services_gvr = {"", "v1", "services", true};
static const k1s_gvr_t endpoints_gvr = {"", "v1", "endpoints", true};
static const k1s_gvr_t slices_gvr = {"discovery.k8s.io", "v1", "endpointslices", true};

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *services, *endpoints, *slices;
    k1s_workqueue_t *queue;
    k1s_es_writer_t writer;
    k1s_es_slice_watch_t slice_watch;
} mirror_ctrl_t;

static const json_t *md_of(const json_t *o)
{
    return json_object_get(o, "metadata");
}

/* Index of mirrored slices by the name of their Service. */
static int index_mirrored(json_t *obj, const char **out)
{
    return k1s_es_index_service(obj, CONTROLLER_NAME, out);
}

/* shouldMirror */
static bool should_mirror(const json_t *ep)
{
    const json_t *md = md_of(ep);
    if (!strcmp(k1s_ctrl_str(json_object_get(md, "labels"), LABEL_SKIP_MIRROR), "true"))
        return false;
    return !json_object_get(json_object_get(md, "annotations"),
                            "control-plane.alpha.kubernetes.io/leader");
}

/* Slice ports for an Endpoints subset's ports; new array. */
static json_t *slice_ports(const json_t *ports)
{
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        json_int_t port = json_integer_value(json_object_get(p, "port"));
        json_array_append_new(out, k1s_ep_port(p, port, true));
    }
    return out;
}

/* addressToEndpoint; NULL for an address that is not IPv4. */
static json_t *address_endpoint(const json_t *a, bool ready)
{
    struct in_addr in;
    const char *ip = k1s_ctrl_str(a, "ip");
    if (inet_pton(AF_INET, ip, &in) != 1)
        return NULL;
    char canon[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in, canon, sizeof(canon));
    json_t *ep = json_pack("{s:[s],s:{s:b}}", "addresses", canon, "conditions", "ready", ready);
    const json_t *ref = json_object_get(a, "targetRef");
    if (json_is_object(ref))
        json_object_set(ep, "targetRef", (json_t *)ref);
    if (*k1s_ctrl_str(a, "nodeName"))
        json_object_set_new(ep, "nodeName", json_string(k1s_ctrl_str(a, "nodeName")));
    if (*k1s_ctrl_str(a, "hostname"))
        json_object_set_new(ep, "hostname", json_string(k1s_ctrl_str(a, "hostname")));
    return ep;
}

static bool sync_endpoints(void *arg, const char *key, const char *ns, const char *name)
{
    mirror_ctrl_t *c = arg;
    json_t *ep = k1s_informer_get(c->endpoints, ns, name);
    json_t *svc = k1s_informer_get(c->services, ns, name);
    json_t **existing = NULL;
    k1s_es_plan_t p = {0};
    int ne = k1s_es_owner_slices(c->slices, INDEX_MIRRORED, ns, name, &existing);
    bool out;
    if (!ep || !should_mirror(ep) || !svc || k1s_ep_selector(svc)) {
        out = k1s_es_reconcile(&c->writer, key, ns, &p, existing, ne, NULL, -2);
        free(existing);
        return out;
    }
    if (!k1s_ep_writes_seen(&c->writer.writes, key, c->slices, ns)) {
        free(existing);
        return false; /* our last writes' events have yet to come, and will queue the key */
    }
    int invalid = 0, skipped = 0;
    size_t i, j;
    json_t *ss, *a;
    json_array_foreach(json_object_get(ep, "subsets"), i, ss)
    {
        json_t *ports = slice_ports(json_object_get(ss, "ports"));
        int added = 0;
        for (int ready = 1; ready >= 0; ready--) {
            json_array_foreach(json_object_get(ss, ready ? "addresses" : "notReadyAddresses"), j, a)
            {
                if (added >= MAX_ENDPOINTS_PER_SUBSET) {
                    skipped++;
                    continue;
                }
                json_t *e = address_endpoint(a, ready);
                if (!e) {
                    invalid++;
                    continue;
                }
                k1s_es_plan_endpoint(&p, ports, e);
                json_decref(e);
                added++;
            }
        }
        json_decref(ports);
    }
    if (invalid)
        k1s_recorder_event(c->ctx->recorder, ep, "Warning", "InvalidIPAddress",
                           "Skipped %d invalid IP addresses when mirroring to EndpointSlices",
                           invalid);
    if (skipped)
        k1s_recorder_event(c->ctx->recorder, ep, "Warning", "TooManyAddressesToMirror",
                           "A max of %d addresses can be mirrored to EndpointSlices per Endpoints "
                           "subset. %d addresses were skipped",
                           MAX_ENDPOINTS_PER_SUBSET, skipped);

    const json_t *md = md_of(ep);
    const json_t *l = json_object_get(md, "labels"), *an = json_object_get(md, "annotations");
    json_t *labels = json_is_object(l) ? json_deep_copy(l) : json_object();
    json_object_set_new(labels, K1S_ES_LABEL_SERVICE_NAME, json_string(name));
    json_object_set_new(labels, K1S_ES_LABEL_MANAGED_BY, json_string(CONTROLLER_NAME));
    json_t *ann = json_is_object(an) ? json_deep_copy(an) : json_object();
    json_object_del(ann, K1S_EP_TRIGGER_ANNOTATION);
    json_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
    k1s_es_plan_opts_t o = {.owner = ep,
                            .labels = labels,
                            .annotations = ann,
                            .max_per_slice = MAX_ENDPOINTS_PER_SUBSET,
                            .placeholder = false};
    out = k1s_es_reconcile(&c->writer, key, ns, &p, existing, ne, &o, -2);
    json_decref(labels);
    json_decref(ann);
    free(existing);
    return out;
}

static void process(k1s_workqueue_t *q, const char *key, void *arg)
{
    mirror_ctrl_t *c = arg;
    if (k1s_ctrl_synced(q, key, (k1s_informer_t *[]){c->services, c->endpoints, c->slices, NULL}))
        k1s_ep_run_sync(q, key, sync_endpoints, c);
}

/* ---- informer handlers ---- */

/* A Service matters when it comes, goes, or gains or loses its selector (arg: the queue). */
static void svc_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    if (!k1s_ep_selector(old_obj) != !k1s_ep_selector(new_obj))
        k1s_ctrl_enqueue(arg, new_obj);
}

/* ---- lifecycle ---- */

static void *mirror_start(k1s_ctrl_ctx_t *ctx)
{
    mirror_ctrl_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->services = k1s_informer_factory_get(ctx->factory, &services_gvr);
    c->endpoints = k1s_informer_factory_get(ctx->factory, &endpoints_gvr);
    c->slices = k1s_informer_factory_get(ctx->factory, &slices_gvr);
    k1s_informer_add_indexer(c->slices, INDEX_MIRRORED, index_mirrored);
    c->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, process, c);
    c->writer.ctx = ctx;
    c->writer.queue = c->queue;
    c->writer.name = "endpointslicemirroring-controller";
    c->slice_watch = (k1s_es_slice_watch_t){c->queue, CONTROLLER_NAME};
    k1s_informer_handlers_t sh = {k1s_ctrl_enqueue_obj, svc_update, k1s_ctrl_enqueue_obj, c->queue};
    k1s_informer_add_handlers(c->services, &sh);
    k1s_ctrl_watch_keys(c->endpoints, c->queue);
    k1s_es_watch_slices(c->slices, &c->slice_watch);
    return c;
}

static void mirror_stop(void *state)
{
    mirror_ctrl_t *c = state;
    if (!c)
        return;
    k1s_es_writer_free(&c->writer);
    k1s_workqueue_free(c->queue);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_endpointslicemirroring = {
    .name = "endpointslicemirroring",
    .service_account = "endpointslicemirroring-controller",
    .component = "endpointslicemirroring-controller",
    .start = mirror_start,
    .stop = mirror_stop,
};
