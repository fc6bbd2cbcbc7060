/*
 * The cell functions of the Table printers, one per printer of
 * kube-apiserver 1.32's pkg/printers/internalversion/printers.go.
 *
 * kube-apiserver prints internal objects, which it gets by decoding the stored
 * versioned object with defaulting; the cell functions read versioned JSON, so
 * where a printed field has an API default the default is applied here when the
 * field is missing. Each cell function must append exactly one cell per column
 * of its column table (table.c); k1s_table_cells() checks that.
 */
#include "api/table.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/table-int.h"
#include "lib/buf.h"
#include "lib/util.h"

/* ---- Cell functions, one per printer ---- */

void k1s_t_cells_default(json_t *cells, const json_t *o, time_t now)
{
    char buf[40];
    k1s_t_format_rfc3339(buf, sizeof(buf), k1s_t_jtime(o, "metadata.creationTimestamp"));
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, buf);
}

/* Whether the init container called name is a sidecar (restartPolicy: Always). */
static bool init_restartable(const json_t *inits, const char *name)
{
    bool restartable = false; /* the last spec entry of a name wins, as in upstream's map */
    for (size_t i = 0; i < json_array_size(inits); i++) {
        const json_t *c = json_array_get(inits, i);
        if (strcmp(jstr(c, "name"), name) == 0)
            restartable = strcmp(jstr(c, "restartPolicy"), "Always") == 0;
    }
    return restartable;
}

static bool pod_ready(const json_t *status)
{
    const json_t *conds = jarr(status, "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        if (strcmp(jstr(c, "type"), "Ready") == 0 && strcmp(jstr(c, "status"), "True") == 0)
            return true;
    }
    return false;
}

/* The pod's STATUS column: kubectl's aggregate reason (printPod). */
static void pod_status(k1s_buf_t *reason, const json_t *o, long long *restarts_out,
                       long long *ready_out, long long *total_out, double *last_restart_out)
{
    const json_t *status = jobj(o, "status");
    const json_t *inits = jarr(o, "spec.initContainers");
    const char *phase = jstr(status, "phase"), *status_reason = jstr(status, "reason");
    long long restarts = 0, sidecar_restarts = 0, ready = 0;
    long long total = (long long)jlen(o, "spec.containers");
    double last_restart = ZERO_TIME, sidecar_last_restart = ZERO_TIME;

    k1s_t_bset(reason, "%s", *status_reason ? status_reason : phase);
    const json_t *conds = jarr(status, "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        if (strcmp(jstr(c, "type"), "PodScheduled") == 0 &&
            strcmp(jstr(c, "reason"), "SchedulingGated") == 0)
            k1s_t_bset(reason, "SchedulingGated");
    }

    for (size_t i = 0; i < json_array_size(inits); i++)
        if (strcmp(jstr(json_array_get(inits, i), "restartPolicy"), "Always") == 0)
            total++;

    bool initializing = false;
    const json_t *ics = jarr(status, "initContainerStatuses");
    for (size_t i = 0; i < json_array_size(ics); i++) {
        const json_t *cs = json_array_get(ics, i);
        const json_t *term = jobj(cs, "state.terminated"), *wait = jobj(cs, "state.waiting");
        long long rc = jint(cs, "restartCount", 0);
        double finished = k1s_t_jtime(cs, "lastState.terminated.finishedAt");
        bool sidecar = init_restartable(inits, jstr(cs, "name"));
        restarts += rc;
        if (finished > last_restart)
            last_restart = finished;
        if (sidecar) {
            sidecar_restarts += rc;
            if (finished > sidecar_last_restart)
                sidecar_last_restart = finished;
        }
        if (term && jint(term, "exitCode", 0) == 0)
            continue;
        if (sidecar && jtrue(cs, "started")) {
            if (jtrue(cs, "ready"))
                ready++;
            continue;
        }
        const char *wait_reason = jstr(wait, "reason");
        if (term) {
            const char *r = jstr(term, "reason");
            if (*r)
                k1s_t_bset(reason, "Init:%s", r);
            else if (jint(term, "signal", 0) != 0)
                k1s_t_bset(reason, "Init:Signal:%lld", jint(term, "signal", 0));
            else
                k1s_t_bset(reason, "Init:ExitCode:%lld", jint(term, "exitCode", 0));
        } else if (wait && *wait_reason && strcmp(wait_reason, "PodInitializing") != 0) {
            k1s_t_bset(reason, "Init:%s", wait_reason);
        } else {
            k1s_t_bset(reason, "Init:%zu/%zu", i, json_array_size(inits));
        }
        initializing = true;
        break;
    }

    if (!initializing || k1s_t_condition_true(status, "conditions", "Initialized")) {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        bool has_running = false;
        const json_t *css = jarr(status, "containerStatuses");
        for (size_t i = json_array_size(css); i-- > 0;) {
            const json_t *cs = json_array_get(css, i);
            const json_t *term = jobj(cs, "state.terminated"), *wait = jobj(cs, "state.waiting");
            double finished = k1s_t_jtime(cs, "lastState.terminated.finishedAt");
            restarts += jint(cs, "restartCount", 0);
            if (finished > last_restart)
                last_restart = finished;
            if (wait && *jstr(wait, "reason")) {
                k1s_t_bset(reason, "%s", jstr(wait, "reason"));
            } else if (term && *jstr(term, "reason")) {
                k1s_t_bset(reason, "%s", jstr(term, "reason"));
            } else if (term) {
                if (jint(term, "signal", 0) != 0)
                    k1s_t_bset(reason, "Signal:%lld", jint(term, "signal", 0));
                else
                    k1s_t_bset(reason, "ExitCode:%lld", jint(term, "exitCode", 0));
            } else if (jtrue(cs, "ready") && jobj(cs, "state.running")) {
                has_running = true;
                ready++;
            }
        }
        /* a pod whose last container completed but others still run is not "Completed" */
        if (strcmp(k1s_t_bstr(reason), "Completed") == 0 && has_running)
            k1s_t_bset(reason, "%s", pod_ready(status) ? "Running" : "NotReady");
    }

    bool deleting = jset(o, "metadata.deletionTimestamp");
    if (deleting && strcmp(status_reason, "NodeLost") == 0)
        k1s_t_bset(reason, "Unknown");
    else if (deleting && strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0)
        k1s_t_bset(reason, "Terminating");

    *restarts_out = restarts;
    *ready_out = ready;
    *total_out = total;
    *last_restart_out = last_restart;
}

void k1s_t_cells_pod(json_t *cells, const json_t *o, time_t now)
{
    k1s_buf_t reason = K1S_BUF_INIT;
    long long restarts, ready, total;
    double last_restart;
    pod_status(&reason, o, &restarts, &ready, &total, &last_restart);

    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_fmt(cells, "%lld/%lld", ready, total);
    k1s_t_cell_buf(cells, &reason);
    if (restarts != 0 && last_restart != ZERO_TIME) {
        char ago[32];
        k1s_t_since(ago, sizeof(ago), last_restart, now);
        k1s_t_cell_fmt(cells, "%lld (%s ago)", restarts, ago);
    } else {
        k1s_t_cell_fmt(cells, "%lld", restarts);
    }
    k1s_t_cell_age(cells, o, now);
    k1s_buf_free(&reason);

    /* status.podIP wins over podIPs[0] when both are set, as the v1 conversion decides */
    const json_t *status = jobj(o, "status");
    const char *ip = jstr(status, "podIP");
    if (!*ip)
        ip = jstr(json_array_get(jarr(status, "podIPs"), 0), "ip");
    const char *node = jstr(o, "spec.nodeName"), *nominated = jstr(status, "nominatedNodeName");
    k1s_t_cell_str(cells, *ip ? ip : "<none>");
    k1s_t_cell_str(cells, *node ? node : "<none>");
    k1s_t_cell_str(cells, *nominated ? nominated : "<none>");

    const json_t *gates = jarr(o, "spec.readinessGates");
    if (json_array_size(gates)) {
        size_t n_true = 0;
        for (size_t i = 0; i < json_array_size(gates); i++) {
            const char *type = jstr(json_array_get(gates, i), "conditionType");
            const json_t *c = k1s_t_find_condition(status, "conditions", type);
            if (c && strcmp(jstr(c, "status"), "True") == 0)
                n_true++;
        }
        k1s_t_cell_fmt(cells, "%zu/%zu", n_true, json_array_size(gates));
    } else {
        k1s_t_cell_str(cells, "<none>");
    }
}

/* intstr.IntOrString.String(), or unset for a nil pointer. */
static void cell_int_or_string(json_t *cells, const json_t *v, const char *unset)
{
    if (json_is_string(v))
        k1s_t_cell_str(cells, json_string_value(v));
    else if (json_is_number(v))
        k1s_t_cell_fmt(cells, "%lld", jnum(v, 0));
    else
        k1s_t_cell_str(cells, unset);
}

void k1s_t_cells_pdb(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    cell_int_or_string(cells, jget(o, "spec.minAvailable"), "N/A");
    cell_int_or_string(cells, jget(o, "spec.maxUnavailable"), "N/A");
    k1s_t_cell_int(cells, jint(o, "status.disruptionsAllowed", 0));
    k1s_t_cell_age(cells, o, now);
}

void k1s_t_cells_replicaset(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_int(cells, jint(o, "spec.replicas", 1));
    k1s_t_cell_int(cells, jint(o, "status.replicas", 0));
    k1s_t_cell_int(cells, jint(o, "status.readyReplicas", 0));
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_containers(cells, jarr(o, "spec.template.spec.containers"));
    k1s_t_cell_label_selector(cells, jget(o, "spec.selector"));
}

void k1s_t_cells_daemonset(json_t *cells, const json_t *o, time_t now)
{
    k1s_buf_t node_selector = K1S_BUF_INIT;
    k1s_t_format_labels(&node_selector, jget(o, "spec.template.spec.nodeSelector"));
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_int(cells, jint(o, "status.desiredNumberScheduled", 0));
    k1s_t_cell_int(cells, jint(o, "status.currentNumberScheduled", 0));
    k1s_t_cell_int(cells, jint(o, "status.numberReady", 0));
    k1s_t_cell_int(cells, jint(o, "status.updatedNumberScheduled", 0));
    k1s_t_cell_int(cells, jint(o, "status.numberAvailable", 0));
    k1s_t_cell_buf(cells, &node_selector);
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_containers(cells, jarr(o, "spec.template.spec.containers"));
    k1s_t_cell_label_selector(cells, jget(o, "spec.selector"));
    k1s_buf_free(&node_selector);
}

void k1s_t_cells_job(json_t *cells, const json_t *o, time_t now)
{
    long long succeeded = jint(o, "status.succeeded", 0);
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));

    const char *status = "Running";
    if (k1s_t_condition_true(o, "status.conditions", "Complete"))
        status = "Complete";
    else if (k1s_t_condition_true(o, "status.conditions", "Failed"))
        status = "Failed";
    else if (jset(o, "metadata.deletionTimestamp"))
        status = "Terminating";
    else if (k1s_t_condition_true(o, "status.conditions", "Suspended"))
        status = "Suspended";
    else if (k1s_t_condition_true(o, "status.conditions", "FailureTarget"))
        status = "FailureTarget";
    k1s_t_cell_str(cells, status);

    if (jset(o, "spec.completions")) {
        k1s_t_cell_fmt(cells, "%lld/%lld", succeeded, jint(o, "spec.completions", 0));
    } else {
        long long parallelism = jint(o, "spec.parallelism", 1);
        if (parallelism > 1)
            k1s_t_cell_fmt(cells, "%lld/1 of %lld", succeeded, parallelism);
        else
            k1s_t_cell_fmt(cells, "%lld/1", succeeded);
    }

    char duration[32] = "";
    double start = k1s_t_jtime(o, "status.startTime"),
           done = k1s_t_jtime(o, "status.completionTime");
    if (start != ZERO_TIME)
        k1s_table_age(duration, sizeof(duration),
                      done != ZERO_TIME ? done - start : (double)now - start);
    k1s_t_cell_str(cells, duration);
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_containers(cells, jarr(o, "spec.template.spec.containers"));
    k1s_t_cell_label_selector(cells, jget(o, "spec.selector"));
}

void k1s_t_cells_cronjob(json_t *cells, const json_t *o, time_t now)
{
    const json_t *tz = jget(o, "spec.timeZone");
    const json_t *suspend = jget(o, "spec.suspend");
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, jstr(o, "spec.schedule"));
    k1s_t_cell_str(cells, json_is_string(tz) ? json_string_value(tz) : "<none>");
    /* spec.suspend defaults to false */
    k1s_t_cell_str(cells, json_is_true(suspend) ? "True" : "False");
    k1s_t_cell_int(cells, (long long)jlen(o, "status.active"));
    if (jset(o, "status.lastScheduleTime"))
        k1s_t_cell_since(cells, o, "status.lastScheduleTime", now);
    else
        k1s_t_cell_str(cells, "<none>");
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_containers(cells, jarr(o, "spec.jobTemplate.spec.template.spec.containers"));
    k1s_t_cell_label_selector(cells, jget(o, "spec.jobTemplate.spec.selector"));
}

/* getServiceExternalIP(svc, wide=true). */
static void service_external_ip(k1s_buf_t *b, const json_t *o, const char *type)
{
    k1s_buf_t ext = K1S_BUF_INIT;
    const json_t *ips = jarr(o, "spec.externalIPs");
    for (size_t i = 0; i < json_array_size(ips); i++) {
        const json_t *ip = json_array_get(ips, i);
        if (i)
            k1s_buf_putc(&ext, ',');
        k1s_buf_puts(&ext, json_is_string(ip) ? json_string_value(ip) : "");
    }
    if (strcmp(type, "ClusterIP") == 0 || strcmp(type, "NodePort") == 0) {
        k1s_buf_puts(b, json_array_size(ips) ? k1s_t_bstr(&ext) : "<none>");
    } else if (strcmp(type, "LoadBalancer") == 0) {
        k1s_t_format_lb_ingress(b, jarr(o, "status.loadBalancer.ingress"));
        if (json_array_size(ips))
            k1s_t_bjoin(b, ",", k1s_t_bstr(&ext));
        else if (!b->len)
            k1s_buf_puts(b, "<pending>");
    } else if (strcmp(type, "ExternalName") == 0) {
        k1s_buf_puts(b, jstr(o, "spec.externalName"));
    } else {
        k1s_buf_puts(b, "<unknown>");
    }
    k1s_buf_free(&ext);
}

void k1s_t_cells_service(json_t *cells, const json_t *o, time_t now)
{
    const char *type = jstr(o, "spec.type");
    if (!*type)
        type = "ClusterIP"; /* defaulted */

    /* spec.clusterIPs defaults from spec.clusterIP */
    const json_t *cips = jarr(o, "spec.clusterIPs");
    const char *cluster_ip =
        json_array_size(cips) ? jstr(json_array_get(cips, 0), "") : jstr(o, "spec.clusterIP");
    if (!json_array_size(cips) && !*cluster_ip)
        cluster_ip = "<none>";

    k1s_buf_t ext = K1S_BUF_INIT, ports = K1S_BUF_INIT, selector = K1S_BUF_INIT;
    service_external_ip(&ext, o, type);
    const json_t *pa = jarr(o, "spec.ports");
    for (size_t i = 0; i < json_array_size(pa); i++) {
        const json_t *p = json_array_get(pa, i);
        const char *proto = jstr(p, "protocol");
        long long node_port = jint(p, "nodePort", 0);
        if (i)
            k1s_buf_putc(&ports, ',');
        if (node_port > 0)
            k1s_buf_printf(&ports, "%lld:%lld/%s", jint(p, "port", 0), node_port,
                           *proto ? proto : "TCP");
        else
            k1s_buf_printf(&ports, "%lld/%s", jint(p, "port", 0), *proto ? proto : "TCP");
    }
    if (!ports.len)
        k1s_buf_puts(&ports, "<none>");
    k1s_t_format_labels(&selector, jget(o, "spec.selector"));

    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, type);
    k1s_t_cell_str(cells, cluster_ip);
    k1s_t_cell_buf(cells, &ext);
    k1s_t_cell_buf(cells, &ports);
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_buf(cells, &selector);
    k1s_buf_free(&ext);
    k1s_buf_free(&ports);
    k1s_buf_free(&selector);
}

void k1s_t_cells_ingress(json_t *cells, const json_t *o, time_t now)
{
    const json_t *cls = jget(o, "spec.ingressClassName");
    const json_t *rules = jarr(o, "spec.rules");
    k1s_buf_t hosts = K1S_BUF_INIT, address = K1S_BUF_INIT;
    size_t n = 0;
    bool more = false;
    for (size_t i = 0; i < json_array_size(rules); i++) {
        const char *host = jstr(json_array_get(rules, i), "host");
        if (n == 3)
            more = true;
        if (!more && *host) {
            k1s_t_bjoin(&hosts, ",", host);
            n++;
        }
    }
    if (n == 0)
        k1s_buf_puts(&hosts, "*");
    else if (more)
        k1s_buf_printf(&hosts, " + %zu more...", json_array_size(rules) - 3);
    k1s_t_format_lb_ingress(&address, jarr(o, "status.loadBalancer.ingress"));

    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, json_is_string(cls) ? json_string_value(cls) : "<none>");
    k1s_t_cell_buf(cells, &hosts);
    k1s_t_cell_buf(cells, &address);
    k1s_t_cell_str(cells, jlen(o, "spec.tls") ? "80, 443" : "80");
    k1s_t_cell_age(cells, o, now);
    k1s_buf_free(&hosts);
    k1s_buf_free(&address);
}

void k1s_t_cells_ingressclass(json_t *cells, const json_t *o, time_t now)
{
    const json_t *params = jobj(o, "spec.parameters");
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, jstr(o, "spec.controller"));
    if (params) {
        const json_t *group = json_object_get(params, "apiGroup");
        if (json_is_string(group))
            k1s_t_cell_fmt(cells, "%s.%s/%s", jstr(params, "kind"), json_string_value(group),
                           jstr(params, "name"));
        else
            k1s_t_cell_fmt(cells, "%s/%s", jstr(params, "kind"), jstr(params, "name"));
    } else {
        k1s_t_cell_str(cells, "<none>");
    }
    k1s_t_cell_age(cells, o, now);
}

void k1s_t_cells_statefulset(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_fmt(cells, "%lld/%lld", jint(o, "status.readyReplicas", 0),
                   jint(o, "spec.replicas", 1));
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_containers(cells, jarr(o, "spec.template.spec.containers"));
}

/* net.JoinHostPort */
static char *join_host_port(const char *host, long long port)
{
    return strchr(host, ':') ? k1s_xasprintf("[%s]:%lld", host, port)
                             : k1s_xasprintf("%s:%lld", host, port);
}

/* formatEndpoints(endpoints, nil): at most three addresses, then "+ N more...". */
void k1s_t_cells_endpoints(json_t *cells, const json_t *o, time_t now)
{
    const json_t *subsets = jarr(o, "subsets");
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    if (!json_array_size(subsets)) {
        k1s_t_cell_str(cells, "<none>");
        k1s_t_cell_age(cells, o, now);
        return;
    }
    strv_t list = {0};
    const size_t max = 3;
    bool more = false;
    size_t count = 0;
    for (size_t i = 0; i < json_array_size(subsets); i++) {
        const json_t *ss = json_array_get(subsets, i);
        const json_t *addrs = jarr(ss, "addresses"), *ports = jarr(ss, "ports");
        size_t na = json_array_size(addrs);
        if (!json_array_size(ports)) {
            /* headless services may have no ports */
            count += na;
            for (size_t j = 0; j < na; j++) {
                if (list.n == max) {
                    more = true;
                    break;
                }
                k1s_t_strv_add(&list, jstr(json_array_get(addrs, j), "ip"));
            }
            continue;
        }
        for (size_t p = 0; p < json_array_size(ports); p++) {
            long long port = jint(json_array_get(ports, p), "port", 0);
            count += na;
            for (size_t j = 0; j < na; j++) {
                if (list.n == max) {
                    more = true;
                    break;
                }
                k1s_t_strv_add_owned(&list,
                                     join_host_port(jstr(json_array_get(addrs, j), "ip"), port));
            }
        }
    }
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_t_strv_join(&list, &b, ",");
    if (more)
        k1s_buf_printf(&b, " + %zu more...", count - max);
    k1s_t_cell_buf(cells, &b);
    k1s_t_cell_age(cells, o, now);
    k1s_buf_free(&b);
    k1s_t_strv_free(&list);
}

/* listWithMoreString */
static void list_with_more(k1s_buf_t *b, const strv_t *list, bool more, size_t count, size_t max)
{
    k1s_t_strv_join(list, b, ",");
    if (more)
        k1s_buf_printf(b, " + %zu more...", count - max);
    else if (!b->len)
        k1s_buf_puts(b, "<unset>");
}

void k1s_t_cells_endpointslice(json_t *cells, const json_t *o, time_t now)
{
    const size_t max = 3;
    strv_t ports = {0}, addrs = {0};
    bool more_ports = false, more_addrs = false;
    size_t nports = 0, naddrs = 0;

    const json_t *pa = jarr(o, "ports");
    for (size_t i = 0; i < json_array_size(pa); i++, nports++) {
        const json_t *p = json_array_get(pa, i);
        if (ports.n < max) {
            const json_t *num = json_object_get(p, "port"), *name = json_object_get(p, "name");
            if (json_is_number(num))
                k1s_t_strv_add_owned(&ports, k1s_xasprintf("%lld", jnum(num, 0)));
            else if (json_is_string(name))
                k1s_t_strv_add(&ports, json_string_value(name));
            else
                k1s_t_strv_add(&ports, "*");
        } else if (ports.n == max) {
            more_ports = true;
        }
    }
    const json_t *eps = jarr(o, "endpoints");
    for (size_t i = 0; i < json_array_size(eps); i++) {
        const json_t *a = jarr(json_array_get(eps, i), "addresses");
        for (size_t j = 0; j < json_array_size(a); j++, naddrs++) {
            const json_t *addr = json_array_get(a, j);
            if (addrs.n < max)
                k1s_t_strv_add(&addrs, json_is_string(addr) ? json_string_value(addr) : "");
            else if (addrs.n == max)
                more_addrs = true;
        }
    }
    k1s_buf_t pb = K1S_BUF_INIT, ab = K1S_BUF_INIT;
    list_with_more(&pb, &ports, more_ports, nports, max);
    list_with_more(&ab, &addrs, more_addrs, naddrs, max);

    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, jstr(o, "addressType"));
    k1s_t_cell_buf(cells, &pb);
    k1s_t_cell_buf(cells, &ab);
    k1s_t_cell_age(cells, o, now);
    k1s_buf_free(&pb);
    k1s_buf_free(&ab);
    k1s_t_strv_free(&ports);
    k1s_t_strv_free(&addrs);
}

static const char *node_address(const json_t *o, const char *type)
{
    const json_t *addrs = jarr(o, "status.addresses");
    for (size_t i = 0; i < json_array_size(addrs); i++) {
        const json_t *a = json_array_get(addrs, i);
        if (strcmp(jstr(a, "type"), type) == 0)
            return jstr(a, "address");
    }
    return "<none>";
}

void k1s_t_cells_node(json_t *cells, const json_t *o, time_t now)
{
    /* the last Ready condition wins, as upstream keys conditions by type in a map */
    const json_t *ready = NULL, *conds = jarr(o, "status.conditions");
    for (size_t i = 0; i < json_array_size(conds); i++)
        if (strcmp(jstr(json_array_get(conds, i), "type"), "Ready") == 0)
            ready = json_array_get(conds, i);
    k1s_buf_t status = K1S_BUF_INIT, roles = K1S_BUF_INIT;
    if (!ready)
        k1s_buf_puts(&status, "Unknown");
    else
        k1s_buf_puts(&status, strcmp(jstr(ready, "status"), "True") == 0 ? "Ready" : "NotReady");
    if (jtrue(o, "spec.unschedulable"))
        k1s_buf_puts(&status, ",SchedulingDisabled");

    /* roles: node-role.kubernetes.io/<role> label keys and the kubernetes.io/role label value */
    strv_t rs = {0};
    json_t *labels = (json_t *)jobj(o, "metadata.labels");
    const char *prefix = "node-role.kubernetes.io/";
    for (void *it = labels ? json_object_iter(labels) : NULL; it;
         it = json_object_iter_next(labels, it)) {
        const char *k = json_object_iter_key(it);
        const json_t *v = json_object_iter_value(it);
        if (k1s_str_has_prefix(k, prefix)) {
            if (k[strlen(prefix)])
                k1s_t_strv_add(&rs, k + strlen(prefix));
        } else if (strcmp(k, "kubernetes.io/role") == 0 && json_is_string(v) &&
                   *json_string_value(v)) {
            k1s_t_strv_add(&rs, json_string_value(v));
        }
    }
    k1s_t_strv_sort(&rs, true);
    k1s_t_strv_join(&rs, &roles, ",");
    if (!roles.len)
        k1s_buf_puts(&roles, "<none>");

    const char *os = jstr(o, "status.nodeInfo.osImage");
    const char *kernel = jstr(o, "status.nodeInfo.kernelVersion");
    const char *runtime = jstr(o, "status.nodeInfo.containerRuntimeVersion");
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_buf(cells, &status);
    k1s_t_cell_buf(cells, &roles);
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_str(cells, jstr(o, "status.nodeInfo.kubeletVersion"));
    k1s_t_cell_str(cells, node_address(o, "InternalIP"));
    k1s_t_cell_str(cells, node_address(o, "ExternalIP"));
    k1s_t_cell_str(cells, *os ? os : "<unknown>");
    k1s_t_cell_str(cells, *kernel ? kernel : "<unknown>");
    k1s_t_cell_str(cells, *runtime ? runtime : "<unknown>");
    k1s_buf_free(&status);
    k1s_buf_free(&roles);
    k1s_t_strv_free(&rs);
}

/* Field names of an Event in core/v1 and in events.k8s.io/v1, which upstream serves from one store.
 */
typedef struct event_fields {
    const char *first, *last, *count, *regarding, *message, *source, *controller;
} event_fields_t;

static const event_fields_t core_event = {"firstTimestamp",    "lastTimestamp", "count",
                                          "involvedObject",    "message",       "source",
                                          "reportingComponent"};
static const event_fields_t events_event = {
    "deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount", "regarding", "note",
    "deprecatedSource",         "reportingController"};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void cells_event_with(json_t *cells, const json_t *o, time_t now, const event_fields_t *f)
{
    char first[32], last[32];
    double first_t = k1s_t_jtime(o, f->first), last_t = k1s_t_jtime(o, f->last);
    if (first_t != ZERO_TIME)
        k1s_t_since(first, sizeof(first), first_t, now);
    else
        k1s_t_since(first, sizeof(first), k1s_t_jtime(o, "eventTime"), now);
    if (last_t != ZERO_TIME)
        k1s_t_since(last, sizeof(last), last_t, now);
    else
        snprintf(last, sizeof(last), "%s", first);

    long long count = jint(o, f->count, 0);
    if (jset(o, "series")) {
        k1s_t_since(last, sizeof(last), k1s_t_jtime(o, "series.lastObservedTime"), now);
        count = jint(o, "series.count", 0);
    } else if (count == 0) {
        count = 1; /* singleton events have no count in the new API */
    }

    const json_t *ref = jobj(o, f->regarding);
    char *kind = k1s_xstrdup(jstr(ref, "kind"));
    k1s_t_ascii_lower(kind);
    const char *name = jstr(ref, "name");

    const char *component = jstr(jobj(o, f->source), "component");
    const char *host = jstr(jobj(o, f->source), "host");
    if (!*component)
        component = jstr(o, f->controller);
    if (!*host)
        host = jstr(o, "reportingInstance");

    const char *msg = jstr(o, f->message);
    size_t mlen = strlen(msg);
    while (mlen && is_space(msg[mlen - 1]))
        mlen--;
    while (mlen && is_space(*msg)) {
        msg++;
        mlen--;
    }

    k1s_t_cell_str(cells, last);
    k1s_t_cell_str(cells, jstr(o, "type"));
    k1s_t_cell_str(cells, jstr(o, "reason"));
    if (*name)
        k1s_t_cell_fmt(cells, "%s/%s", kind, name);
    else
        k1s_t_cell_str(cells, kind);
    k1s_t_cell_str(cells, jstr(ref, "fieldPath"));
    if (*host)
        k1s_t_cell_fmt(cells, "%s, %s", component, host);
    else
        k1s_t_cell_str(cells, component);
    k1s_t_cell_fmt(cells, "%.*s", (int)mlen, msg);
    k1s_t_cell_str(cells, first);
    k1s_t_cell_int(cells, count);
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    free(kind);
}

void k1s_t_cells_event(json_t *cells, const json_t *o, time_t now)
{
    cells_event_with(cells, o, now, &core_event);
}

void k1s_t_cells_events_event(json_t *cells, const json_t *o, time_t now)
{
    cells_event_with(cells, o, now, &events_event);
}

void k1s_t_cells_namespace(json_t *cells, const json_t *o, time_t now)
{
    const char *phase = jstr(o, "status.phase");
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, *phase ? phase : "Active"); /* defaulted */
    k1s_t_cell_age(cells, o, now);
}

void k1s_t_cells_secret(json_t *cells, const json_t *o, time_t now)
{
    const char *type = jstr(o, "type");
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, *type ? type : "Opaque"); /* defaulted */
    k1s_t_cell_int(cells, (long long)jlen(o, "data"));
    k1s_t_cell_age(cells, o, now);
}

void k1s_t_cells_serviceaccount(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_int(cells, (long long)jlen(o, "secrets"));
    k1s_t_cell_age(cells, o, now);
}

/* helper.GetAccessModesAsString */
static void cell_access_modes(json_t *cells, const json_t *modes)
{
    static const struct {
        const char *mode, *abbrev;
    } known[] = {{"ReadWriteOnce", "RWO"},
                 {"ReadOnlyMany", "ROX"},
                 {"ReadWriteMany", "RWX"},
                 {"ReadWriteOncePod", "RWOP"}};
    k1s_buf_t b = K1S_BUF_INIT;
    for (size_t k = 0; k < K1S_ARRAY_SIZE(known); k++) {
        for (size_t i = 0; i < json_array_size(modes); i++) {
            const json_t *m = json_array_get(modes, i);
            if (json_is_string(m) && strcmp(json_string_value(m), known[k].mode) == 0) {
                k1s_t_bjoin(&b, ",", known[k].abbrev);
                break;
            }
        }
    }
    k1s_t_cell_buf(cells, &b);
    k1s_buf_free(&b);
}

static void cell_quantity(json_t *cells, const json_t *q, const char *unset)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_t_format_quantity(&b, q, unset);
    k1s_t_cell_buf(cells, &b);
    k1s_buf_free(&b);
}

#define BETA_STORAGE_CLASS "volume.beta.kubernetes.io/storage-class"

void k1s_t_cells_pv(json_t *cells, const json_t *o, time_t now)
{
    const json_t *claim = jobj(o, "spec.claimRef");
    const json_t *cls = jkey(o, "metadata.annotations", BETA_STORAGE_CLASS);
    const json_t *vac = jget(o, "spec.volumeAttributesClassName");
    const char *reclaim = jstr(o, "spec.persistentVolumeReclaimPolicy");
    const char *phase = jstr(o, "status.phase"), *mode = jstr(o, "spec.volumeMode");
    if (jset(o, "metadata.deletionTimestamp"))
        phase = "Terminating";

    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    cell_quantity(cells, jkey(o, "spec.capacity", "storage"), "0");
    cell_access_modes(cells, jarr(o, "spec.accessModes"));
    k1s_t_cell_str(cells, *reclaim ? reclaim : "Retain"); /* defaulted */
    k1s_t_cell_str(cells, *phase ? phase : "Pending");    /* defaulted */
    if (claim)
        k1s_t_cell_fmt(cells, "%s/%s", jstr(claim, "namespace"), jstr(claim, "name"));
    else
        k1s_t_cell_str(cells, "");
    k1s_t_cell_str(cells,
                   json_is_string(cls) ? json_string_value(cls) : jstr(o, "spec.storageClassName"));
    k1s_t_cell_str(cells, json_is_string(vac) ? json_string_value(vac) : "<unset>");
    k1s_t_cell_str(cells, jstr(o, "status.reason"));
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_str(cells, *mode ? mode : "Filesystem"); /* defaulted */
}

void k1s_t_cells_pvc(json_t *cells, const json_t *o, time_t now)
{
    const json_t *cls = jkey(o, "metadata.annotations", BETA_STORAGE_CLASS);
    const json_t *vac = jget(o, "spec.volumeAttributesClassName");
    const char *phase = jstr(o, "status.phase"), *mode = jstr(o, "spec.volumeMode");
    const char *volume = jstr(o, "spec.volumeName");
    if (jset(o, "metadata.deletionTimestamp"))
        phase = "Terminating";

    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, *phase ? phase : "Pending"); /* defaulted */
    k1s_t_cell_str(cells, volume);
    if (*volume) {
        cell_quantity(cells, jkey(o, "status.capacity", "storage"), "0");
        cell_access_modes(cells, jarr(o, "status.accessModes"));
    } else {
        k1s_t_cell_str(cells, "");
        k1s_t_cell_str(cells, "");
    }
    k1s_t_cell_str(cells,
                   json_is_string(cls) ? json_string_value(cls) : jstr(o, "spec.storageClassName"));
    k1s_t_cell_str(cells, json_is_string(vac) ? json_string_value(vac) : "<unset>");
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_str(cells, *mode ? mode : "Filesystem"); /* defaulted */
}

void k1s_t_cells_deployment(json_t *cells, const json_t *o, time_t now)
{
    k1s_buf_t selector = K1S_BUF_INIT;
    bool valid = k1s_t_format_selector(&selector, jget(o, "spec.selector"));
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_fmt(cells, "%lld/%lld", jint(o, "status.readyReplicas", 0),
                   jint(o, "spec.replicas", 1));
    k1s_t_cell_int(cells, jint(o, "status.updatedReplicas", 0));
    k1s_t_cell_int(cells, jint(o, "status.availableReplicas", 0));
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_containers(cells, jarr(o, "spec.template.spec.containers"));
    k1s_t_cell_str(cells, valid ? k1s_t_bstr(&selector) : "<invalid>");
    k1s_buf_free(&selector);
}

/* One entry of formatHPAMetrics for the metric spec and its status (may be NULL). */
static void hpa_metric(strv_t *list, const json_t *spec, const json_t *st)
{
    const char *type = jstr(spec, "type");
    k1s_buf_t cur = K1S_BUF_INIT, target = K1S_BUF_INIT;
    char *entry;
    if (strcmp(type, "External") == 0 || strcmp(type, "Object") == 0) {
        const char *field = type[0] == 'E' ? "external" : "object";
        const json_t *src = jobj(spec, field), *sst = jobj(st, field);
        if (jset(src, "target.averageValue")) {
            if (sst && jset(sst, "current.averageValue"))
                k1s_t_format_quantity(&cur, jget(sst, "current.averageValue"), "<nil>");
            else
                k1s_buf_puts(&cur, "<unknown>");
            k1s_t_format_quantity(&target, jget(src, "target.averageValue"), "<nil>");
            entry = k1s_xasprintf("%s/%s (avg)", k1s_t_bstr(&cur), k1s_t_bstr(&target));
        } else {
            if (sst)
                k1s_t_format_quantity(&cur, jget(sst, "current.value"), "<nil>");
            else
                k1s_buf_puts(&cur, "<unknown>");
            k1s_t_format_quantity(&target, jget(src, "target.value"), "<nil>");
            entry = k1s_xasprintf("%s/%s", k1s_t_bstr(&cur), k1s_t_bstr(&target));
        }
    } else if (strcmp(type, "Pods") == 0) {
        const json_t *sst = jobj(st, "pods");
        if (sst)
            k1s_t_format_quantity(&cur, jget(sst, "current.averageValue"), "<nil>");
        else
            k1s_buf_puts(&cur, "<unknown>");
        k1s_t_format_quantity(&target, jget(spec, "pods.target.averageValue"), "<nil>");
        entry = k1s_xasprintf("%s/%s", k1s_t_bstr(&cur), k1s_t_bstr(&target));
    } else if (strcmp(type, "Resource") == 0 || strcmp(type, "ContainerResource") == 0) {
        const char *field = type[0] == 'R' ? "resource" : "containerResource";
        const json_t *src = jobj(spec, field), *sst = jobj(st, field);
        if (jset(src, "target.averageValue")) {
            if (sst)
                k1s_t_format_quantity(&cur, jget(sst, "current.averageValue"), "<nil>");
            else
                k1s_buf_puts(&cur, "<unknown>");
            k1s_t_format_quantity(&target, jget(src, "target.averageValue"), "<nil>");
        } else {
            if (sst && json_is_number(jget(sst, "current.averageUtilization")))
                k1s_buf_printf(&cur, "%lld%%", jint(sst, "current.averageUtilization", 0));
            else
                k1s_buf_puts(&cur, "<unknown>");
            if (json_is_number(jget(src, "target.averageUtilization")))
                k1s_buf_printf(&target, "%lld%%", jint(src, "target.averageUtilization", 0));
            else
                k1s_buf_puts(&target, "<auto>");
        }
        entry =
            k1s_xasprintf("%s: %s/%s", jstr(src, "name"), k1s_t_bstr(&cur), k1s_t_bstr(&target));
    } else {
        entry = k1s_xstrdup("<unknown type>");
    }
    k1s_t_strv_add_owned(list, entry);
    k1s_buf_free(&cur);
    k1s_buf_free(&target);
}

void k1s_t_cells_hpa(json_t *cells, const json_t *o, time_t now)
{
    const json_t *specs = jarr(o, "spec.metrics"), *statuses = jarr(o, "status.currentMetrics");
    json_t *dflt = NULL;
    if (!json_array_size(specs)) {
        /* autoscaling/v2 defaulting: 80% average CPU utilization */
        dflt = json_pack("[{s:s, s:{s:s, s:{s:s, s:i}}}]", "type", "Resource", "resource", "name",
                         "cpu", "target", "type", "Utilization", "averageUtilization", 80);
        k1s_assert(dflt);
        specs = dflt;
    }
    strv_t list = {0};
    for (size_t i = 0; i < json_array_size(specs); i++)
        hpa_metric(&list, json_array_get(specs, i), json_array_get(statuses, i));
    size_t count = list.n;
    if (list.n > 2)
        list.n = 2;
    k1s_buf_t metrics = K1S_BUF_INIT;
    k1s_t_strv_join(&list, &metrics, ", ");
    if (count > 2)
        k1s_buf_printf(&metrics, " + %zu more...", count - 2);

    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_fmt(cells, "%s/%s", jstr(o, "spec.scaleTargetRef.kind"),
                   jstr(o, "spec.scaleTargetRef.name"));
    k1s_t_cell_buf(cells, &metrics);
    k1s_t_cell_fmt(cells, "%lld", jint(o, "spec.minReplicas", 1)); /* defaulted */
    k1s_t_cell_int(cells, jint(o, "spec.maxReplicas", 0));
    k1s_t_cell_int(cells, jint(o, "status.currentReplicas", 0));
    k1s_t_cell_age(cells, o, now);
    k1s_buf_free(&metrics);
    k1s_t_strv_free(&list);
    json_decref(dflt);
}

void k1s_t_cells_configmap(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_int(cells, (long long)(jlen(o, "data") + jlen(o, "binaryData")));
    k1s_t_cell_age(cells, o, now);
}

void k1s_t_cells_networkpolicy(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_label_selector(cells, jget(o, "spec.podSelector"));
    k1s_t_cell_age(cells, o, now);
}

/* Role bindings and cluster role bindings: rbac.SubjectsStrings joined by ", ". */
void k1s_t_cells_binding(json_t *cells, const json_t *o, time_t now)
{
    k1s_buf_t users = K1S_BUF_INIT, groups = K1S_BUF_INIT, sas = K1S_BUF_INIT;
    const json_t *subjects = jarr(o, "subjects");
    for (size_t i = 0; i < json_array_size(subjects); i++) {
        const json_t *s = json_array_get(subjects, i);
        const char *kind = jstr(s, "kind"), *name = jstr(s, "name");
        if (strcmp(kind, "ServiceAccount") == 0) {
            if (sas.len)
                k1s_buf_puts(&sas, ", ");
            k1s_buf_printf(&sas, "%s/%s", jstr(s, "namespace"), name);
        } else if (strcmp(kind, "User") == 0) {
            k1s_t_bjoin(&users, ", ", name);
        } else if (strcmp(kind, "Group") == 0) {
            k1s_t_bjoin(&groups, ", ", name);
        }
    }
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_fmt(cells, "%s/%s", jstr(o, "roleRef.kind"), jstr(o, "roleRef.name"));
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_buf(cells, &users);
    k1s_t_cell_buf(cells, &groups);
    k1s_t_cell_buf(cells, &sas);
    k1s_buf_free(&users);
    k1s_buf_free(&groups);
    k1s_buf_free(&sas);
}

void k1s_t_cells_lease(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, jstr(o, "spec.holderIdentity"));
    k1s_t_cell_age(cells, o, now);
}

void k1s_t_cells_storageclass(json_t *cells, const json_t *o, time_t now)
{
    const json_t *a =
        jkey(o, "metadata.annotations", "storageclass.kubernetes.io/is-default-class");
    const json_t *b =
        jkey(o, "metadata.annotations", "storageclass.beta.kubernetes.io/is-default-class");
    bool is_default = (json_is_string(a) && strcmp(json_string_value(a), "true") == 0) ||
                      (json_is_string(b) && strcmp(json_string_value(b), "true") == 0);
    const char *reclaim = jstr(o, "reclaimPolicy"), *binding = jstr(o, "volumeBindingMode");
    if (is_default)
        k1s_t_cell_fmt(cells, "%s (default)", jstr(o, "metadata.name"));
    else
        k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_str(cells, jstr(o, "provisioner"));
    k1s_t_cell_str(cells, *reclaim ? reclaim : "Delete");
    k1s_t_cell_str(cells, *binding ? binding : "Immediate");
    k1s_t_cell_bool(cells, jtrue(o, "allowVolumeExpansion"));
    k1s_t_cell_age(cells, o, now);
}

void k1s_t_cells_csinode(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_int(cells, (long long)json_array_size(jget(o, "spec.drivers")));
    k1s_t_cell_age(cells, o, now);
}

void k1s_t_cells_controllerrevision(json_t *cells, const json_t *o, time_t now)
{
    const json_t *refs = jarr(o, "metadata.ownerReferences"), *ctrl = NULL;
    for (size_t i = 0; i < json_array_size(refs) && !ctrl; i++)
        if (jtrue(json_array_get(refs, i), "controller"))
            ctrl = json_array_get(refs, i);
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    if (ctrl) {
        /* formatResourceName(GroupKind, name, true): "statefulset.apps/web" */
        const char *kind = jstr(ctrl, "kind"), *api_version = jstr(ctrl, "apiVersion");
        const char *slash = strchr(api_version, '/');
        size_t glen = slash ? (size_t)(slash - api_version) : 0;
        char *gk;
        if (!*kind && !glen)
            gk = NULL;
        else if (!glen)
            gk = k1s_xstrdup(kind);
        else
            gk = k1s_xasprintf("%s.%.*s", kind, (int)glen, api_version);
        if (gk) {
            k1s_t_ascii_lower(gk);
            k1s_t_cell_fmt(cells, "%s/%s", gk, jstr(ctrl, "name"));
            free(gk);
        } else {
            k1s_t_cell_str(cells, jstr(ctrl, "name"));
        }
    } else {
        k1s_t_cell_str(cells, "<none>");
    }
    k1s_t_cell_int(cells, jint(o, "revision", 0));
    k1s_t_cell_age(cells, o, now);
}

void k1s_t_cells_resourcequota(json_t *cells, const json_t *o, time_t now)
{
    const json_t *hard = jobj(o, "status.hard");
    strv_t names = {0};
    k1s_t_sorted_keys(&names, hard);
    k1s_buf_t req = K1S_BUF_INIT, lim = K1S_BUF_INIT;
    for (size_t i = 0; i < names.n; i++) {
        k1s_buf_t *w = k1s_str_has_prefix(names.v[i], "limits.") ? &lim : &req;
        k1s_buf_printf(w, "%s: ", names.v[i]);
        k1s_t_format_quantity(w, jkey(o, "status.used", names.v[i]), "0");
        k1s_buf_putc(w, '/');
        k1s_t_format_quantity(w, json_object_get(hard, names.v[i]), "0");
        k1s_buf_puts(w, ", ");
    }
    /* strings.TrimSuffix(s, ", ") */
    if (req.len >= 2)
        req.data[req.len -= 2] = '\0';
    if (lim.len >= 2)
        lim.data[lim.len -= 2] = '\0';
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_buf(cells, &req);
    k1s_t_cell_buf(cells, &lim);
    k1s_t_cell_age(cells, o, now);
    k1s_buf_free(&req);
    k1s_buf_free(&lim);
    k1s_t_strv_free(&names);
}

void k1s_t_cells_priorityclass(json_t *cells, const json_t *o, time_t now)
{
    const char *policy = jstr(o, "preemptionPolicy");
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_int(cells, jint(o, "value", 0));
    k1s_t_cell_bool(cells, jtrue(o, "globalDefault"));
    k1s_t_cell_age(cells, o, now);
    k1s_t_cell_str(cells, *policy ? policy : "PreemptLowerPriority"); /* defaulted */
}

/* printCertificateSigningRequest */
void k1s_t_cells_csr(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_age(cells, o, now);
    const char *signer = jstr(o, "spec.signerName");
    k1s_t_cell_str(cells, *signer ? signer : "<none>");
    k1s_t_cell_str(cells, jstr(o, "spec.username"));
    const json_t *es = jget(o, "spec.expirationSeconds");
    char dur[64] = "<none>";
    if (json_is_integer(es))
        k1s_table_age(dur, sizeof(dur), (double)json_integer_value(es));
    k1s_t_cell_str(cells, dur);
    /* extractCSRStatus: the condition types present, whatever their status */
    bool approved = false, denied = false, failed = false;
    const json_t *c;
    size_t i;
    json_array_foreach(jarr(o, "status.conditions"), i, c)
    {
        const char *t = jstr(c, "type");
        approved |= !strcmp(t, "Approved");
        denied |= !strcmp(t, "Denied");
        failed |= !strcmp(t, "Failed");
    }
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, denied ? "Denied" : approved ? "Approved" : "Pending");
    if (failed)
        k1s_buf_puts(&b, ",Failed");
    if (*jstr(o, "status.certificate"))
        k1s_buf_puts(&b, ",Issued");
    k1s_t_cell_buf(cells, &b);
    k1s_buf_free(&b);
}

void k1s_t_cells_webhookconfig(json_t *cells, const json_t *o, time_t now)
{
    k1s_t_cell_str(cells, jstr(o, "metadata.name"));
    k1s_t_cell_int(cells, (long long)json_array_size(json_object_get(o, "webhooks")));
    k1s_t_cell_age(cells, o, now);
}
