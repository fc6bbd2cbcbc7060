/*
 * The EndpointSlice controller (kube-controller-manager's "endpointslice",
 * service account endpointslice-controller): for every Service with a
 * selector, discovery.k8s.io/v1 EndpointSlices of addressType IPv4 listing
 * the selected pods, one endpoint per pod with its address, conditions
 * (ready, serving, terminating: a terminating pod stays listed as
 * serving/terminating, not ready), nodeName, zone (its node's
 * topology.kubernetes.io/zone), hostname (pods whose subdomain is the
 * Service) and targetRef; pods on a Node the cache does not know are left
 * out until it comes (unless the Service publishes not-ready addresses).
 * Pods whose named targetPorts resolve to the same port numbers share
 * slices; a slice holds at most 100 endpoints. Slices carry the labels
 * kubernetes.io/service-name and
 * endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io
 * (and the Service's own), and a controller ownerReference to the Service.
 *
 * As upstream's reconciler, a sync changes as little as it can: endpoints
 * that did not change stay in their slice, changed ones are replaced in
 * place, new ones go first into slices being updated anyway, then into new
 * slices, and the last few into an unchanged slice with room; emptied
 * slices are deleted. A Service with no endpoints keeps one empty
 * placeholder slice. Nothing is written when the slices already say what
 * they should. Services without a selector are left alone; a deleted
 * Service's slices are deleted (besides the garbage collector doing so).
 */
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "controllers/endpoints-int.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_ENDPOINTS_PER_SLICE 100
#define CONTROLLER_NAME "endpointslice-controller.k8s.io"
#define LABEL_ZONE "topology.kubernetes.io/zone"
#define INDEX_SERVICE "service-name"

static const k1s_gvr_t services_gvr = {"", "v1", "services", true};
static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};
static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};
static const k1s_gvr_t slices_gvr = {"discovery.k8s.io", "v1", "endpointslices", true};

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *services, *pods, *nodes, *slices;
    k1s_workqueue_t *queue;
    k1s_ep_trigger_t trigger;
    k1s_es_writer_t writer;
    k1s_ep_pod_watch_t pod_watch;
    k1s_es_slice_watch_t slice_watch;
} es_ctrl_t;

static const json_t *md_of(const json_t *o)
{
    return json_object_get(o, "metadata");
}

/* Index of our slices by the name of their Service. */
static int index_service_name(json_t *obj, const char **out)
{
    return k1s_es_index_service(obj, CONTROLLER_NAME, out);
}

/* Our slices of Service ns/name, sorted by name; returns the count, *out to free(). */
static int service_slices(es_ctrl_t *c, const char *ns, const char *name, json_t ***out)
{
    return k1s_es_owner_slices(c->slices, INDEX_SERVICE, ns, name, out);
}

/* ---- what the slices should hold ---- */

/* The slice ports a pod offers for the Service's ports, sorted; new array. */
static json_t *pod_ports(const json_t *pod, const json_t *svc)
{
    json_t *out = json_array();
    size_t i;
    json_t *sp;
    json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, sp)
    {
        int num = k1s_ep_find_port(pod, sp);
        if (num < 0)
            continue;
        json_array_append_new(out, k1s_ep_port(sp, num, true));
    }
    k1s_ep_sort_array(out, k1s_ep_cmp_port);
    return out;
}

/* podToEndpoint */
static json_t *pod_endpoint(es_ctrl_t *c, const json_t *pod, const json_t *svc)
{
    const json_t *spec = json_object_get(pod, "spec");
    bool serving = k1s_pod_is_ready(pod), terminating = k1s_ctrl_deleting(pod);
    /* a terminating pod is never ready, unless the Service publishes not-ready addresses */
    bool ready =
        json_is_true(json_object_get(json_object_get(svc, "spec"), "publishNotReadyAddresses")) ||
        (serving && !terminating);
    json_t *ep =
        json_pack("{s:[s],s:{s:b,s:b,s:b}}", "addresses", k1s_ep_pod_ipv4(pod), "conditions",
                  "ready", ready, "serving", serving, "terminating", terminating);
    if (k1s_ep_should_set_hostname(pod, svc))
        json_object_set_new(ep, "hostname", json_string(k1s_ctrl_str(spec, "hostname")));
    json_object_set_new(ep, "targetRef", k1s_ep_pod_ref(pod));
    const char *node = k1s_ctrl_str(spec, "nodeName");
    if (*node) {
        json_object_set_new(ep, "nodeName", json_string(node));
        json_t *n = k1s_informer_get(c->nodes, NULL, node);
        const char *zone = k1s_ctrl_str(json_object_get(md_of(n), "labels"), LABEL_ZONE);
        if (*zone)
            json_object_set_new(ep, "zone", json_string(zone));
    }
    return ep;
}

/* setEndpointSliceLabels: the Service's labels and ours; new object. */
static json_t *slice_labels(const json_t *svc)
{
    const json_t *l = json_object_get(md_of(svc), "labels");
    json_t *labels = json_is_object(l) ? json_deep_copy(l) : json_object();
    json_object_del(labels, K1S_ES_LABEL_MANAGED_BY);
    json_object_del(labels, K1S_EP_HEADLESS_LABEL);
    json_object_set_new(labels, K1S_ES_LABEL_SERVICE_NAME,
                        json_string(k1s_ctrl_str(md_of(svc), "name")));
    json_object_set_new(labels, K1S_ES_LABEL_MANAGED_BY, json_string(CONTROLLER_NAME));
    if (k1s_ep_headless(svc))
        json_object_set_new(labels, K1S_EP_HEADLESS_LABEL, json_string(""));
    return labels;
}

/* ---- sync ---- */

static bool sync_service(void *arg, const char *key, const char *ns, const char *name)
{
    es_ctrl_t *c = arg;
    json_t *svc = k1s_informer_get(c->services, ns, name);
    json_t **existing = NULL;
    k1s_es_plan_t p = {0};
    bool out;
    if (!svc) {
        k1s_ep_trigger_forget(&c->trigger, key);
        int n = service_slices(c, ns, name, &existing);
        out = k1s_es_reconcile(&c->writer, key, ns, &p, existing, n, NULL, -1);
        free(existing);
        return out;
    }
    const json_t *sel = k1s_ep_selector(svc);
    if (!strcmp(k1s_ctrl_str(json_object_get(svc, "spec"), "type"), "ExternalName") || !sel)
        return false;
    if (!k1s_ep_writes_seen(&c->writer.writes, key, c->slices, ns))
        return false; /* our last writes' events have yet to come, and will queue the key */

    json_t **pods = NULL;
    int np = k1s_ep_selected_pods(c->pods, sel, ns, &pods);
    int64_t trigger = k1s_ep_trigger_compute(&c->trigger, key, svc, pods, np);
    bool pnr =
        json_is_true(json_object_get(json_object_get(svc, "spec"), "publishNotReadyAddresses"));
    for (int i = 0; i < np; i++) {
        if (!k1s_ep_pod_included(pods[i], true))
            continue;
        /* a pod on a Node that does not exist (yet, or any more) is left out until the Node
           comes, unless the Service publishes every address */
        const char *node = k1s_ctrl_str(json_object_get(pods[i], "spec"), "nodeName");
        if (*node && !pnr && !k1s_informer_get(c->nodes, NULL, node)) {
            k1s_debug("endpointslice-controller: %s: skipping pod %s, node %s not found", key,
                      k1s_ctrl_str(md_of(pods[i]), "name"), node);
            continue;
        }
        json_t *ports = pod_ports(pods[i], svc);
        json_t *ep = pod_endpoint(c, pods[i], svc);
        k1s_es_plan_endpoint(&p, ports, ep);
        json_decref(ep);
        json_decref(ports);
    }
    free(pods);
    json_t *labels = slice_labels(svc);
    int ne = service_slices(c, ns, name, &existing);
    k1s_es_plan_opts_t o = {.owner = svc,
                            .labels = labels,
                            .max_per_slice = MAX_ENDPOINTS_PER_SLICE,
                            .placeholder = true};
    out = k1s_es_reconcile(&c->writer, key, ns, &p, existing, ne, &o, trigger);
    json_decref(labels);
    free(existing);
    return out;
}

static void process(k1s_workqueue_t *q, const char *key, void *arg)
{
    es_ctrl_t *c = arg;
    if (k1s_ctrl_synced(q, key,
                        (k1s_informer_t *[]){c->services, c->pods, c->slices, c->nodes, NULL}))
        k1s_ep_run_sync(q, key, sync_service, c);
}

/* ---- informer handlers ---- */

/* A Node that comes, goes or changes zone: the Services of its pods. */
static void node_pods_services(es_ctrl_t *c, const json_t *node)
{
    json_t **pods = NULL;
    int n = k1s_informer_by_index(c->pods, "nodeName", k1s_ctrl_str(md_of(node), "name"), &pods);
    for (int i = 0; i < n; i++)
        k1s_ep_queue_pod_services(c->services, c->queue, pods[i]);
    free(pods);
}

static void node_add(json_t *obj, void *arg)
{
    node_pods_services(arg, obj);
}

static void node_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    if (strcmp(k1s_ctrl_str(json_object_get(md_of(old_obj), "labels"), LABEL_ZONE),
               k1s_ctrl_str(json_object_get(md_of(new_obj), "labels"), LABEL_ZONE)))
        node_pods_services(arg, new_obj);
}

/* ---- lifecycle ---- */

static void *es_start(k1s_ctrl_ctx_t *ctx)
{
    es_ctrl_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->services = k1s_informer_factory_get(ctx->factory, &services_gvr);
    c->pods = k1s_informer_factory_get(ctx->factory, &pods_gvr);
    c->nodes = k1s_informer_factory_get(ctx->factory, &nodes_gvr);
    c->slices = k1s_informer_factory_get(ctx->factory, &slices_gvr);
    k1s_ctrl_index_namespace(c->services);
    k1s_ctrl_index_namespace(c->pods);
    k1s_ctrl_index_node(c->pods);
    k1s_informer_add_indexer(c->slices, INDEX_SERVICE, index_service_name);
    c->queue = k1s_workqueue_new(ctx->base, ctx->opts->concurrent_syncs, process, c);
    c->writer.ctx = ctx;
    c->writer.queue = c->queue;
    c->writer.name = "endpointslice-controller";
    c->pod_watch = (k1s_ep_pod_watch_t){c->services, c->queue};
    c->slice_watch = (k1s_es_slice_watch_t){c->queue, CONTROLLER_NAME};
    k1s_informer_handlers_t nh = {node_add, node_update, node_add, c};
    k1s_ctrl_watch_keys(c->services, c->queue);
    k1s_ep_watch_pods(c->pods, &c->pod_watch);
    k1s_es_watch_slices(c->slices, &c->slice_watch);
    k1s_informer_add_handlers(c->nodes, &nh);
    return c;
}

static void es_stop(void *state)
{
    es_ctrl_t *c = state;
    if (!c)
        return;
    k1s_es_writer_free(&c->writer);
    k1s_workqueue_free(c->queue);
    k1s_ep_trigger_free(&c->trigger);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_endpointslice = {
    .name = "endpointslice",
    .service_account = "endpointslice-controller",
    .component = "endpointslice-controller",
    .start = es_start,
    .stop = es_stop,
};
