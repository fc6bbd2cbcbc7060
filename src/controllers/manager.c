/*
 * The controller manager (see manager.h): leader election, and while
 * leading, one client, recorder and context per enabled controller over a
 * shared informer factory.
 */
#include "controllers/manager.h"

#include <stdlib.h>
#include <string.h>

#include "client/leaderelection.h"
#include "lib/log.h"
#include "lib/util.h"

typedef struct {
    const k1s_controller_def_t *def;
    k1s_ctrl_ctx_t ctx;
    void *state;
} running_t;

struct k1s_ctrl_manager {
    struct event_base *base;
    k1s_http_handler_fn handler;
    void *handler_arg;
    k1s_ctrl_opts_t opts;
    k1s_client_t *le_client;
    k1s_leader_elector_t *le;
    bool stopping; /* in k1s_ctrl_manager_free: giving the lease up is not news */
    /* while leading */
    k1s_client_t *inf_client;
    k1s_informer_factory_t *factory;
    running_t *running;
    size_t nrunning;
};

void k1s_ctrl_opts_init(k1s_ctrl_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->controllers = "*";
    o->node_monitor_grace_period_ms = 40000;
    o->node_monitor_period_ms = 5000;
    o->terminated_pod_gc_threshold = 12500;
    o->concurrent_syncs = 5;
    o->data_dir = "/var/lib/k1s";
}

bool k1s_ctrl_enabled(const char *controllers, const char *name)
{
    if (!controllers || !*controllers)
        controllers = "*";
    bool star = false;
    size_t n = strlen(name);
    for (const char *p = controllers; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 1 && *p == '*')
            star = true;
        else if (len == n + 1 && *p == '-' && !strncmp(p + 1, name, n))
            return false;
        else if (len == n && !strncmp(p, name, n))
            return true;
        p += len + (e ? 1 : 0);
    }
    return star;
}

static k1s_client_t *new_client(k1s_ctrl_manager_t *m, const char *user, const char *const *groups,
                                const char *agent)
{
    k1s_client_t *c = k1s_client_new_inprocess(m->base, m->handler, m->handler_arg, user, groups);
    char *ua = k1s_xasprintf("kube-controller-manager/v1.31.0 (linux/amd64) k1s/%s", agent);
    k1s_client_set_user_agent(c, ua);
    free(ua);
    return c;
}

static const k1s_gvr_t pods_gvr = {"", "v1", "pods", true};

static void drop_keys(json_t *o, const char *const *keys)
{
    for (int i = 0; keys[i]; i++)
        json_object_del(o, keys[i]);
}

/*
 * What the controllers' shared pod cache leaves out: the parts of a pod
 * that only the kubelet, the scheduler or a user reads (how to run each
 * container, volumes other than claims, DNS and service-account settings,
 * the QoS class, host IPs, image and container ids of container statuses).
 * No controller reads them, and none writes a cached pod back whole: the
 * node lifecycle controller patches the Ready condition.
 */
static void trim_pod(json_t *pod)
{
    static const char *const run[] = {"command",
                                      "args",
                                      "env",
                                      "envFrom",
                                      "volumeMounts",
                                      "volumeDevices",
                                      "livenessProbe",
                                      "readinessProbe",
                                      "startupProbe",
                                      "lifecycle",
                                      "securityContext",
                                      "terminationMessagePath",
                                      "terminationMessagePolicy",
                                      "imagePullPolicy",
                                      "workingDir",
                                      "stdin",
                                      "stdinOnce",
                                      "tty",
                                      "resizePolicy",
                                      NULL};
    json_t *spec = json_object_get(pod, "spec");
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
    size_t i;
    json_t *c;
    for (size_t l = 0; l < K1S_ARRAY_SIZE(lists); l++) {
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            drop_keys(c, run);
        }
    }
    /* claims (persistentVolumeClaim, ephemeral) are what controllers look for */
    json_t *vols = json_object_get(spec, "volumes");
    for (i = json_array_size(vols); i-- > 0;) {
        json_t *v = json_array_get(vols, i);
        if (!json_object_get(v, "persistentVolumeClaim") && !json_object_get(v, "ephemeral"))
            json_array_remove(vols, i);
    }
    /* what only the kubelet, the scheduler or a user reads; no controller writes a pod from the
     * cache back whole */
    static const char *const pod_spec[] = {"dnsPolicy",
                                           "dnsConfig",
                                           "enableServiceLinks",
                                           "securityContext",
                                           "serviceAccount",
                                           "serviceAccountName",
                                           "automountServiceAccountToken",
                                           "terminationGracePeriodSeconds",
                                           "schedulerName",
                                           "topologySpreadConstraints",
                                           "imagePullSecrets",
                                           "hostAliases",
                                           NULL};
    drop_keys(spec, pod_spec);
    json_t *st = json_object_get(pod, "status");
    static const char *const pod_status[] = {"qosClass", "hostIP", "hostIPs", NULL};
    drop_keys(st, pod_status);
    static const char *const cstatus[] = {"image", "imageID", "containerID", NULL};
    static const char *const statuses[] = {"containerStatuses", "initContainerStatuses",
                                           "ephemeralContainerStatuses"};
    for (size_t l = 0; l < K1S_ARRAY_SIZE(statuses); l++) {
        json_array_foreach(json_object_get(st, statuses[l]), i, c)
        {
            drop_keys(c, cstatus);
        }
    }
}

static void started_leading(void *arg)
{
    k1s_ctrl_manager_t *m = arg;
    static const char *const cm_groups[] = {"system:authenticated", NULL};
    m->inf_client = new_client(m, "system:kube-controller-manager", cm_groups, "shared-informers");
    m->factory = k1s_informer_factory_new(m->inf_client);
    k1s_informer_set_transform(k1s_informer_factory_get(m->factory, &pods_gvr), trim_pod);
    size_t n = 0;
    while (k1s_controllers[n])
        n++;
    m->running = k1s_xcalloc(n + 1, sizeof(*m->running));
    m->nrunning = 0;
    static const char *const sa_groups[] = {"system:serviceaccounts",
                                            "system:serviceaccounts:kube-system",
                                            "system:authenticated", NULL};
    for (size_t i = 0; i < n; i++) {
        const k1s_controller_def_t *def = k1s_controllers[i];
        if (!k1s_ctrl_enabled(m->opts.controllers, def->name))
            continue;
        running_t *r = &m->running[m->nrunning++];
        r->def = def;
        char *user = k1s_xasprintf("system:serviceaccount:kube-system:%s", def->service_account);
        r->ctx.base = m->base;
        r->ctx.name = def->name;
        r->ctx.client = new_client(m, user, sa_groups, def->service_account);
        free(user);
        r->ctx.factory = m->factory;
        r->ctx.recorder = k1s_recorder_new(r->ctx.client, def->component);
        r->ctx.opts = &m->opts;
        r->state = def->start(&r->ctx);
    }
    k1s_informer_factory_start(m->factory);
    k1s_debug("controller manager: leading; %zu controllers started", m->nrunning);
}

/* Stops every controller: clients first (no callbacks after), then informers, then state. */
static void stop_controllers(k1s_ctrl_manager_t *m)
{
    if (!m->factory)
        return;
    for (size_t i = 0; i < m->nrunning; i++) {
        k1s_client_free(m->running[i].ctx.client);
        m->running[i].ctx.client = NULL;
    }
    k1s_informer_factory_free(m->factory);
    m->factory = NULL;
    k1s_client_free(m->inf_client);
    m->inf_client = NULL;
    for (size_t i = 0; i < m->nrunning; i++) {
        running_t *r = &m->running[i];
        if (r->def->stop)
            r->def->stop(r->state);
        k1s_recorder_free(r->ctx.recorder);
    }
    free(m->running);
    m->running = NULL;
    m->nrunning = 0;
}

static void stopped_leading(void *arg)
{
    k1s_ctrl_manager_t *m = arg;
    if (m->factory && !m->stopping)
        k1s_warn("controller manager: lost the lease kube-system/kube-controller-manager; "
                 "controllers stopped");
    stop_controllers(m);
}

k1s_ctrl_manager_t *k1s_ctrl_manager_start(struct event_base *base, k1s_http_handler_fn handler,
                                           void *handler_arg, const k1s_ctrl_opts_t *opts,
                                           const char *identity)
{
    k1s_ctrl_manager_t *m = k1s_xcalloc(1, sizeof(*m));
    m->base = base;
    m->handler = handler;
    m->handler_arg = handler_arg;
    m->opts = *opts;
    m->opts.controllers = k1s_xstrdup(opts->controllers ? opts->controllers : "*");
    m->opts.data_dir = k1s_xstrdup(opts->data_dir ? opts->data_dir : "/var/lib/k1s");
    static const char *const groups[] = {"system:authenticated", NULL};
    if (!identity) { /* no leader election: this is the only controller manager */
        started_leading(m);
        return m;
    }
    m->le_client = new_client(m, "system:kube-controller-manager", groups, "leader-election");
    k1s_leader_election_config_t cfg = {.namespace_ = "kube-system",
                                        .name = "kube-controller-manager",
                                        .identity = identity,
                                        .started_leading = started_leading,
                                        .stopped_leading = stopped_leading,
                                        .arg = m};
    m->le = k1s_leader_elector_new(m->le_client, &cfg);
    k1s_leader_elector_start(m->le);
    return m;
}

bool k1s_ctrl_manager_leading(const k1s_ctrl_manager_t *m)
{
    return m && m->factory;
}

void k1s_ctrl_manager_free(k1s_ctrl_manager_t *m)
{
    if (!m)
        return;
    m->stopping = true;
    k1s_leader_elector_free(m->le); /* calls stopped_leading while leading */
    stop_controllers(m);
    k1s_client_free(m->le_client);
    free((char *)m->opts.controllers);
    free((char *)m->opts.data_dir);
    free(m);
}
