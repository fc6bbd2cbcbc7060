/*
 * The node IPAM controller (kube-controller-manager's "node-ipam" with the
 * RangeAllocator, running as the node-controller service account as
 * upstream does): gives every Node one pod CIDR (spec.podCIDR and
 * spec.podCIDRs) carved from --cluster-cidr, a /24 each (upstream's
 * --node-cidr-mask-size for IPv4).
 *
 * Which CIDRs are taken is rebuilt from the Nodes themselves when the
 * informer has synced, so assignments are stable across restarts; a
 * deleted Node's CIDR is free again. When the range is exhausted the Node
 * gets a CIDRNotAvailable Event and is tried again with back-off.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/strmap.h"
#include "controllers/controller.h"
#include "lib/log.h"
#include "lib/util.h"

#define NODE_MASK 24

/* ---------- the allocator (pure) ---------- */

/* A set of /mask subnets of one IPv4 network (upstream's cidrset). */
typedef struct k1s_cidrset {
    uint32_t base; /* network address, host order */
    int prefix;    /* the cluster CIDR's prefix length */
    int mask;      /* each subnet's prefix length */
    size_t n;      /* subnets: 2^(mask - prefix) */
    uint8_t *used; /* one byte per subnet */
    size_t next;   /* where the search for a free one starts (round-robin, as upstream) */
    size_t taken;
} k1s_cidrset_t;

/* Parses "a.b.c.d/p" into host-order address and prefix. 0 or -EINVAL. */
static int parse_cidr(const char *s, uint32_t *addr, int *prefix)
{
    char ip[32];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof(ip))
        return -EINVAL;
    snprintf(ip, sizeof(ip), "%.*s", (int)(slash - s), s);
    struct in_addr ia;
    char *end;
    long p = strtol(slash + 1, &end, 10);
    if (inet_pton(AF_INET, ip, &ia) != 1 || end == slash + 1 || *end || p < 0 || p > 32)
        return -EINVAL;
    *addr = ntohl(ia.s_addr);
    *prefix = (int)p;
    return 0;
}

/* Sets up set for cidr cut into /mask subnets. 0, or -EINVAL for a bad CIDR or a mask too small. */
static int cidrset_init(k1s_cidrset_t *set, const char *cidr, int mask)
{
    memset(set, 0, sizeof(*set));
    uint32_t a;
    int p;
    if (parse_cidr(cidr, &a, &p) < 0 || mask < p || mask > 32 || mask - p > 16)
        return -EINVAL;
    set->prefix = p;
    set->mask = mask;
    set->base = p ? a & (0xffffffffu << (32 - p)) : 0;
    set->n = (size_t)1 << (mask - p);
    set->used = k1s_xcalloc(set->n, 1);
    return 0;
}

static void cidrset_free(k1s_cidrset_t *set)
{
    free(set->used);
    set->used = NULL;
}

/* The index of subnet cidr in set, or -1 if it is not one of its subnets. */
static long cidrset_index(const k1s_cidrset_t *set, const char *cidr)
{
    uint32_t a;
    int p;
    if (parse_cidr(cidr, &a, &p) < 0 || p != set->mask)
        return -1;
    uint32_t netmask = set->prefix ? 0xffffffffu << (32 - set->prefix) : 0;
    if ((a & netmask) != set->base)
        return -1;
    uint32_t off = (a - set->base) >> (32 - set->mask);
    if (set->mask < 32 && (a & ((1u << (32 - set->mask)) - 1)))
        return -1;
    return off < set->n ? (long)off : -1;
}

static void cidrset_format(const k1s_cidrset_t *set, size_t i, char out[32])
{
    uint32_t a = set->base + (uint32_t)(i << (32 - set->mask));
    snprintf(out, 32, "%u.%u.%u.%u/%d", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
             set->mask);
}

/* Marks cidr taken; false if it is not a subnet of set. */
static bool cidrset_occupy(k1s_cidrset_t *set, const char *cidr)
{
    long i = cidrset_index(set, cidr);
    if (i < 0)
        return false;
    if (!set->used[i]) {
        set->used[i] = 1;
        set->taken++;
    }
    return true;
}

static void cidrset_release(k1s_cidrset_t *set, const char *cidr)
{
    long i = cidrset_index(set, cidr);
    if (i >= 0 && set->used[i]) {
        set->used[i] = 0;
        set->taken--;
    }
}

/* Takes a free subnet and writes it to out; -ENOSPC when all are taken. */
static int cidrset_allocate(k1s_cidrset_t *set, char out[32])
{
    for (size_t k = 0; k < set->n; k++) {
        size_t i = (set->next + k) % set->n;
        if (!set->used[i]) {
            set->used[i] = 1;
            set->taken++;
            set->next = (i + 1) % set->n;
            cidrset_format(set, i, out);
            return 0;
        }
    }
    return -ENOSPC;
}

/* ---------- the controller ---------- */

static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};

typedef struct {
    k1s_ctrl_ctx_t *ctx;
    k1s_informer_t *nodes;
    k1s_workqueue_t *queue;
    k1s_cidrset_t set;
    bool ok;              /* the cluster CIDR parsed */
    bool rebuilt;         /* occupancy read from the synced cache */
    k1s_strmap_t pending; /* node name -> CIDR (malloc'd) being written */
} ipam_t;

static const char *node_cidr(const json_t *node)
{
    return json_string_value(json_object_get(json_object_get(node, "spec"), "podCIDR"));
}

static void rebuild(ipam_t *c)
{
    json_t **all;
    size_t n = k1s_informer_list(c->nodes, &all);
    for (size_t i = 0; i < n; i++) {
        const char *cidr = node_cidr(all[i]);
        if (cidr && !cidrset_occupy(&c->set, cidr))
            k1s_debug("node-ipam: node %s has pod CIDR %s outside the cluster CIDR",
                      k1s_ctrl_name(all[i]), cidr);
    }
    free(all);
    c->rebuilt = true;
}

typedef struct {
    ipam_t *c;
    char *name;
    char cidr[32];
} op_t;

static void patched(const k1s_client_result_t *res, void *arg)
{
    op_t *op = arg;
    ipam_t *c = op->c;
    free(k1s_strmap_del(&c->pending, op->name));
    bool retry = false;
    if (res->status == 200) {
        k1s_debug("node-ipam: node %s gets pod CIDR %s", op->name, op->cidr);
    } else {
        /* not ours after all: free it; the Node is looked at again */
        cidrset_release(&c->set, op->cidr);
        retry = res->status != 404;
        if (retry)
            k1s_debug("node-ipam: patch node %s: %d %s", op->name, res->status, res->message);
    }
    if (retry)
        k1s_workqueue_add_rate_limited(c->queue, op->name);
    else
        k1s_workqueue_forget(c->queue, op->name);
    k1s_workqueue_done(c->queue, op->name);
    free(op->name);
    free(op);
}

static void process(k1s_workqueue_t *q, const char *key, void *arg)
{
    ipam_t *c = arg;
    k1s_informer_t *infs[] = {c->nodes, NULL};
    if (!k1s_ctrl_synced(q, key, infs))
        return;
    if (!c->rebuilt)
        rebuild(c);
    json_t *node = k1s_ctrl_get_by_key(c->nodes, key);
    if (!c->ok || !node || node_cidr(node) || k1s_strmap_has(&c->pending, key) ||
        k1s_ctrl_deleting(node)) {
        if (node && node_cidr(node))
            cidrset_occupy(&c->set, node_cidr(node));
        k1s_workqueue_forget(q, key);
        k1s_workqueue_done(q, key);
        return;
    }
    op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->c = c;
    op->name = k1s_xstrdup(key);
    if (cidrset_allocate(&c->set, op->cidr) < 0) {
        k1s_recorder_event(c->ctx->recorder, node, "Normal", "CIDRNotAvailable",
                           "Node %s status is now: CIDRNotAvailable", key);
        /* once per node; the retries back off */
        if (k1s_workqueue_num_requeues(q, key) == 0)
            k1s_warn("node-ipam: no pod CIDR left in %s for node %s",
                     c->ctx->opts->cluster_cidr ? c->ctx->opts->cluster_cidr : "10.42.0.0/16", key);
        free(op->name);
        free(op);
        k1s_workqueue_add_rate_limited(q, key);
        k1s_workqueue_done(q, key);
        return;
    }
    k1s_strmap_set(&c->pending, key, k1s_xstrdup(op->cidr));
    char *patch =
        k1s_xasprintf("{\"spec\":{\"podCIDR\":\"%s\",\"podCIDRs\":[\"%s\"]}}", op->cidr, op->cidr);
    k1s_client_patch(c->ctx->client, &nodes_gvr, NULL, key, NULL, K1S_PATCH_STRATEGIC, patch, false,
                     patched, op);
    free(patch);
}

static void node_add(json_t *obj, void *arg)
{
    ipam_t *c = arg;
    k1s_workqueue_add(c->queue, k1s_ctrl_name(obj));
}

static void node_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    ipam_t *c = arg;
    const char *o = node_cidr(old_obj), *n = node_cidr(new_obj);
    if (!n || (o && strcmp(o, n)))
        k1s_workqueue_add(c->queue, k1s_ctrl_name(new_obj));
}

static void node_delete(json_t *obj, void *arg)
{
    ipam_t *c = arg;
    const char *cidr = node_cidr(obj);
    if (!cidr || !c->rebuilt)
        return;
    cidrset_release(&c->set, cidr);
    /* a Node waiting for a CIDR need not wait for its back-off */
    json_t **all;
    size_t n = k1s_informer_list(c->nodes, &all);
    for (size_t i = 0; i < n; i++)
        if (!node_cidr(all[i]) && strcmp(k1s_ctrl_name(all[i]), k1s_ctrl_name(obj)))
            k1s_workqueue_add(c->queue, k1s_ctrl_name(all[i]));
    free(all);
}

static void *ipam_start(k1s_ctrl_ctx_t *ctx)
{
    ipam_t *c = k1s_xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    const char *cidr = ctx->opts->cluster_cidr ? ctx->opts->cluster_cidr : "10.42.0.0/16";
    c->ok = cidrset_init(&c->set, cidr, NODE_MASK) == 0;
    if (!c->ok)
        k1s_warn("node-ipam: --cluster-cidr %s is not an IPv4 CIDR of /8 to /%d: nodes get no pod "
                 "CIDR",
                 cidr, NODE_MASK);
    c->nodes = k1s_informer_factory_get(ctx->factory, &nodes_gvr);
    c->queue = k1s_workqueue_new(ctx->base, 1, process, c);
    k1s_informer_handlers_t h = {node_add, node_update, node_delete, c};
    k1s_informer_add_handlers(c->nodes, &h);
    return c;
}

static void ipam_stop(void *state)
{
    ipam_t *c = state;
    if (!c)
        return;
    k1s_workqueue_free(c->queue);
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(&c->pending, &i, &k, &v);)
        free(v);
    k1s_strmap_free(&c->pending);
    cidrset_free(&c->set);
    free(c);
}

const k1s_controller_def_t k1s_ctrl_nodeipam = {
    .name = "node-ipam",
    .service_account = "node-controller",
    .component = "node-controller",
    .start = ipam_start,
    .stop = ipam_stop,
};
