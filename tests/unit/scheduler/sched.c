/* Unit tests for src/scheduler: every filter with its reason and status code, every score plugin,
 * the FailedScheduling message, preemption and the seedable tie-break. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "scheduler/sched-int.h"

/* JSON from a printf format written with ' for " (test readability). New reference. */
static json_t *J(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t je;
    json_t *v = json_loads(buf, 0, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s", buf, je.text);
    return v;
}

/* A node with cpu/memory/pods allocatable, extra JSON members for metadata (labels) and spec. */
static json_t *mknode(const char *name, const char *cpu, const char *mem, int pods,
                      const char *labels, const char *spec)
{
    return J("{'metadata':{'name':'%s','labels':{'kubernetes.io/hostname':'%s'%s%s}},"
             "'spec':{%s},'status':{'allocatable':{'cpu':'%s','memory':'%s','pods':'%d',"
             "'ephemeral-storage':'10Gi'}}}",
             name, name, labels && *labels ? "," : "", labels ? labels : "", spec ? spec : "", cpu,
             mem, pods);
}

static json_t *mkpod(const char *name, const char *cpu, const char *mem, const char *extra_spec,
                     const char *extra_meta)
{
    char req[256] = "";
    if (cpu || mem)
        snprintf(req, sizeof(req), "'resources':{'requests':{%s%s%s%s%s%s%s}},",
                 cpu ? "'cpu':'" : "", cpu ? cpu : "", cpu ? "'" : "", cpu && mem ? "," : "",
                 mem ? "'memory':'" : "", mem ? mem : "", mem ? "'" : "");
    return J("{'metadata':{'name':'%s','namespace':'default'%s%s},'spec':{'containers':[{%s"
             "'name':'c','image':'nginx'}]%s%s}}",
             name, extra_meta && *extra_meta ? "," : "", extra_meta ? extra_meta : "", req,
             extra_spec && *extra_spec ? "," : "", extra_spec ? extra_spec : "");
}

typedef struct {
    k1s_sched_cluster_t c;
    k1s_sched_node_t *nodes[256];
} cluster_t;

static void cl_init(cluster_t *cl)
{
    memset(cl, 0, sizeof(*cl));
    cl->c.nodes = cl->nodes;
    cl->c.rng = 42;
}

static k1s_sched_node_t *cl_add(cluster_t *cl, json_t *node)
{
    k1s_sched_node_t *n = k1s_sched_node_new(node);
    json_decref(node);
    cl->nodes[cl->c.n_nodes++] = n;
    return n;
}

static void bind(k1s_sched_node_t *n, json_t *pod)
{
    k1s_sched_node_add_pod(n, pod);
    json_decref(pod);
}

static void cl_free(cluster_t *cl)
{
    for (size_t i = 0; i < cl->c.n_nodes; i++)
        k1s_sched_node_free(cl->nodes[i]);
}

/* The status of node i for pod, as "code:reason|reason". New string. */
static char *filter_one(cluster_t *cl, json_t *pod, size_t i)
{
    char *pre = NULL;
    k1s_sched_pod_t *p = k1s_sched_pod_new(&cl->c, pod, &pre);
    if (!p)
        return pre;
    k1s_sched_status_t st;
    k1s_sched_filter(&cl->c, p, i, &st);
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b, "%d:", st.code);
    for (int r = 0; r < st.n_reasons; r++)
        k1s_buf_printf(&b, "%s%s", r ? "|" : "", st.reasons[r]);
    k1s_sched_status_clear(&st);
    k1s_sched_pod_free(p);
    return k1s_buf_steal(&b);
}

static void expect_filter(cluster_t *cl, json_t *pod, size_t i, const char *want)
{
    char *got = filter_one(cl, pod, i);
    assert_string_equal(got, want);
    free(got);
    json_decref(pod);
}

/* Scheduling result: node name, or the message. New string. */
static char *schedule(cluster_t *cl, json_t *pod)
{
    k1s_sched_result_t r;
    k1s_sched_schedule(&cl->c, pod, &r);
    char *s = r.scheduled ? k1s_xstrdup(cl->nodes[r.node]->name) : k1s_xstrdup(r.message);
    k1s_sched_result_free(&r);
    json_decref(pod);
    return s;
}

static void expect_schedule(cluster_t *cl, json_t *pod, const char *want)
{
    char *got = schedule(cl, pod);
    assert_string_equal(got, want);
    free(got);
}

/* Scores of all nodes (all feasible) for one plugin. */
static void scores(cluster_t *cl, json_t *pod, k1s_sched_score_plugin_t pl, int64_t *out)
{
    char *pre = NULL;
    k1s_sched_pod_t *p = k1s_sched_pod_new(&cl->c, pod, &pre);
    assert_non_null(p);
    size_t idx[64];
    for (size_t i = 0; i < cl->c.n_nodes; i++)
        idx[i] = i;
    k1s_sched_score(&cl->c, p, pl, idx, cl->c.n_nodes, out);
    k1s_sched_pod_free(p);
    json_decref(pod);
}

/* ---------- requests ---------- */

static void test_requests(void **state)
{
    json_t *pod = J("{'spec':{'containers':[{'resources':{'requests':{'cpu':'100m','memory':"
                    "'64Mi'}}},{'resources':{'requests':{'cpu':'200m'}}}],'initContainers':[{"
                    "'resources':{'requests':{'cpu':'1','memory':'1Mi'}}}],'overhead':{'cpu':"
                    "'10m'}}}");
    k1s_sched_res_t r = k1s_sched_pod_requests(pod);
    assert_int_equal(r.milli_cpu, 1010); /* the init container dominates cpu, plus overhead */
    assert_int_equal(r.memory, 64 * 1024 * 1024);
    json_decref(pod);
    /* a sidecar (restartPolicy Always) adds to the containers and to later init containers */
    pod = J("{'spec':{'containers':[{'resources':{'requests':{'cpu':'500m'}}}],"
            "'initContainers':[{'restartPolicy':'Always','resources':{'requests':{'cpu':'300m'}}},"
            "{'resources':{'requests':{'cpu':'700m'}}}]}}");
    r = k1s_sched_pod_requests(pod);
    assert_int_equal(r.milli_cpu, 1000); /* max(500+300, 700+300) */
    json_decref(pod);

    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *n = cl_add(&cl, mknode("n1", "4", "8Gi", 110, NULL, NULL));
    bind(n, mkpod("a", "1", "1Gi", NULL, NULL));
    bind(n, mkpod("b", "500m", NULL, NULL, NULL));
    assert_int_equal(k1s_sched_node_requested(n).milli_cpu, 1500);
    assert_int_equal(n->nonzero.memory, 1024LL * 1024 * 1024 + 200LL * 1024 * 1024);
    assert_int_equal(k1s_sched_node_remove_pod(n, "default", "a"), 0);
    assert_int_equal(k1s_sched_node_remove_pod(n, "default", "a"), -ENOENT);
    assert_int_equal(k1s_sched_node_requested(n).milli_cpu, 500);
    assert_int_equal(k1s_sched_node_pod_count(n), 1);
    cl_free(&cl);
}

/* ---------- filters ---------- */

static void test_filter_unschedulable_and_name(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    cl_add(&cl, mknode("n1", "4", "8Gi", 110, NULL, "'unschedulable':true"));
    expect_filter(&cl, mkpod("p", NULL, NULL, NULL, NULL), 0, "2:node(s) were unschedulable");
    expect_filter(&cl,
                  mkpod("p", NULL, NULL,
                        "'tolerations':[{'key':'node.kubernetes.io/unschedulable','operator':"
                        "'Exists','effect':'NoSchedule'}]",
                        NULL),
                  0, "0:");
    cl_add(&cl, mknode("n2", "4", "8Gi", 110, NULL, NULL));
    expect_filter(&cl, mkpod("p", NULL, NULL, "'nodeName':'n3'", NULL), 1,
                  "2:node(s) didn't match the requested node name");
    expect_filter(&cl, mkpod("p", NULL, NULL, "'nodeName':'n2'", NULL), 1, "0:");
    /* the first failing filter decides: unschedulable before node name and resources */
    expect_filter(&cl, mkpod("p", "100", NULL, "'nodeName':'n3'", NULL), 0,
                  "2:node(s) were unschedulable");
    expect_filter(&cl, mkpod("p", "100", NULL, "'nodeName':'n3'", NULL), 1,
                  "2:node(s) didn't match the requested node name");
    /* a node update (uncordon, new labels) keeps the pods and their requests */
    bind(cl.nodes[0], mkpod("x", "1", NULL, NULL, NULL));
    json_t *upd = mknode("n1", "4", "8Gi", 110, "'disk':'ssd'", NULL);
    k1s_sched_node_set(cl.nodes[0], upd);
    json_decref(upd);
    assert_int_equal(k1s_sched_node_pod_count(cl.nodes[0]), 1);
    assert_int_equal(k1s_sched_node_requested(cl.nodes[0]).milli_cpu, 1000);
    expect_filter(&cl, mkpod("p", "3", NULL, "'nodeSelector':{'disk':'ssd'}", NULL), 0, "0:");
    expect_filter(&cl, mkpod("p", "3500m", NULL, NULL, NULL), 0, "1:Insufficient cpu");
    cl_free(&cl);
}

static void test_filter_taints(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    cl_add(&cl, mknode("n1", "4", "8Gi", 110, NULL,
                       "'taints':[{'key':'a','value':'x','effect':'PreferNoSchedule'},"
                       "{'key':'node-role.kubernetes.io/control-plane','effect':'NoSchedule'},"
                       "{'key':'b','value':'y','effect':'NoExecute'}]"));
    expect_filter(&cl, mkpod("p", NULL, NULL, NULL, NULL), 0,
                  "2:node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }");
    expect_filter(&cl,
                  mkpod("p", NULL, NULL,
                        "'tolerations':[{'key':'node-role.kubernetes.io/control-plane',"
                        "'operator':'Exists'}]",
                        NULL),
                  0, "2:node(s) had untolerated taint {b: y}");
    /* Equal needs the value; a wrong effect does not tolerate */
    expect_filter(&cl,
                  mkpod("p", NULL, NULL,
                        "'tolerations':[{'key':'node-role.kubernetes.io/control-plane',"
                        "'operator':'Exists'},{'key':'b','value':'z'},"
                        "{'key':'b','value':'y','effect':'NoSchedule'}]",
                        NULL),
                  0, "2:node(s) had untolerated taint {b: y}");
    expect_filter(&cl,
                  mkpod("p", NULL, NULL,
                        "'tolerations':[{'key':'node-role.kubernetes.io/control-plane',"
                        "'operator':'Exists'},{'key':'b','operator':'Equal','value':'y'}]",
                        NULL),
                  0, "0:");
    /* an empty key with Exists tolerates everything */
    expect_filter(&cl, mkpod("p", NULL, NULL, "'tolerations':[{'operator':'Exists'}]", NULL), 0,
                  "0:");
    cl_free(&cl);
}

static void test_filter_node_affinity(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    cl_add(&cl, mknode("n1", "4", "8Gi", 110, "'disk':'ssd','gen':'5'", NULL));
    const char *na = "2:node(s) didn't match Pod's node affinity/selector";
    expect_filter(&cl, mkpod("p", NULL, NULL, "'nodeSelector':{'disk':'ssd'}", NULL), 0, "0:");
    expect_filter(&cl, mkpod("p", NULL, NULL, "'nodeSelector':{'disk':'hdd'}", NULL), 0, na);
    struct {
        const char *expr;
        bool ok;
    } cases[] = {
        {"{'key':'disk','operator':'In','values':['hdd','ssd']}", true},
        {"{'key':'disk','operator':'In','values':['hdd']}", false},
        {"{'key':'disk','operator':'NotIn','values':['hdd']}", true},
        {"{'key':'nope','operator':'NotIn','values':['hdd']}", true},
        {"{'key':'disk','operator':'NotIn','values':['ssd']}", false},
        {"{'key':'disk','operator':'Exists'}", true},
        {"{'key':'nope','operator':'Exists'}", false},
        {"{'key':'nope','operator':'DoesNotExist'}", true},
        {"{'key':'disk','operator':'DoesNotExist'}", false},
        {"{'key':'gen','operator':'Gt','values':['4']}", true},
        {"{'key':'gen','operator':'Gt','values':['5']}", false},
        {"{'key':'gen','operator':'Lt','values':['6']}", true},
        {"{'key':'disk','operator':'Lt','values':['6']}", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char spec[512];
        snprintf(spec, sizeof(spec),
                 "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':{"
                 "'nodeSelectorTerms':[{'matchExpressions':[%s]}]}}}",
                 cases[i].expr);
        expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 0, cases[i].ok ? "0:" : na);
    }
    /* matchFields on metadata.name; terms are ORed; an empty term matches nothing */
    expect_filter(&cl,
                  mkpod("p", NULL, NULL,
                        "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring"
                        "Execution':{'nodeSelectorTerms':[{'matchFields':[{'key':'metadata.name',"
                        "'operator':'In','values':['n1']}]}]}}}",
                        NULL),
                  0, "0:");
    expect_filter(&cl,
                  mkpod("p", NULL, NULL,
                        "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring"
                        "Execution':{'nodeSelectorTerms':[{'matchFields':[{'key':'metadata.name',"
                        "'operator':'In','values':['n2']}]},{'matchExpressions':[{'key':'disk',"
                        "'operator':'In','values':['ssd']}]}]}}}",
                        NULL),
                  0, "0:");
    expect_filter(&cl,
                  mkpod("p", NULL, NULL,
                        "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring"
                        "Execution':{'nodeSelectorTerms':[{}]}}}",
                        NULL),
                  0, na);
    cl_free(&cl);
}

static void test_filter_resources(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *n = cl_add(&cl, mknode("n1", "2", "4Gi", 2, NULL, NULL));
    bind(n, mkpod("a", "1500m", "3Gi", NULL, NULL));
    expect_filter(&cl, mkpod("p", "500m", "1Gi", NULL, NULL), 0, "0:");
    expect_filter(&cl, mkpod("p", "600m", NULL, NULL, NULL), 0, "1:Insufficient cpu");
    expect_filter(&cl, mkpod("p", "600m", "2Gi", NULL, NULL), 0,
                  "1:Insufficient cpu|Insufficient memory");
    /* more than the node has at all: preemption cannot help */
    expect_filter(&cl, mkpod("p", "3", NULL, NULL, NULL), 0, "2:Insufficient cpu");
    json_t *eph = J("{'metadata':{'name':'e'},'spec':{'containers':[{'resources':{'requests':{"
                    "'ephemeral-storage':'20Gi'}}}]}}");
    expect_filter(&cl, eph, 0, "2:Insufficient ephemeral-storage");
    /* extended resources: against allocatable minus the other pods' requests */
    json_t *nn = J("{'metadata':{'name':'n1'},'status':{'allocatable':{'cpu':'2','memory':'4Gi',"
                   "'pods':'3','example.com/gpu':'2'}}}");
    k1s_sched_node_set(n, nn);
    json_decref(nn);
    const char *gpu = "{'metadata':{'name':'%s'},'spec':{'containers':[{'resources':{'requests':"
                      "{'example.com/gpu':'%d'}}}]}}";
    bind(n, J(gpu, "g", 1));
    expect_filter(&cl, J(gpu, "p", 1), 0, "0:");
    expect_filter(&cl, J(gpu, "p", 2), 0, "1:Insufficient example.com/gpu");
    expect_filter(&cl, J(gpu, "p", 3), 0, "2:Insufficient example.com/gpu");
    expect_filter(&cl,
                  J("{'metadata':{'name':'p'},'spec':{'containers':[{'resources':{'requests':{"
                    "'hugepages-2Mi':'2Mi'}}}]}}"),
                  0, "2:Insufficient hugepages-2Mi");
    assert_int_equal(k1s_sched_node_remove_pod(n, "default", "g"), 0);
    assert_int_equal(json_integer_value(json_object_get(n->scalar_req, "example.com/gpu")), 0);
    bind(n, mkpod("b", NULL, NULL, NULL, NULL));
    expect_filter(&cl, mkpod("p", NULL, NULL, NULL, NULL), 0, "0:");
    bind(n, mkpod("c", NULL, NULL, NULL, NULL));
    expect_filter(&cl, mkpod("p", NULL, NULL, NULL, NULL), 0, "1:Too many pods");
    cl_free(&cl);
}

static void test_filter_ports(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *n = cl_add(&cl, mknode("n1", "4", "8Gi", 110, NULL, NULL));
    bind(n, J("{'metadata':{'name':'a'},'spec':{'containers':[{'ports':[{'containerPort':80,"
              "'hostPort':8080},{'containerPort':53,'hostPort':53,'protocol':'UDP','hostIP':"
              "'10.0.0.1'}]}]}}"));
    const char *busy = "1:node(s) didn't have free ports for the requested pod ports";
    expect_filter(&cl,
                  J("{'metadata':{'name':'p'},'spec':{'containers':[{'ports':[{'containerPort':"
                    "1,'hostPort':8080}]}]}}"),
                  0, busy);
    expect_filter(&cl,
                  J("{'metadata':{'name':'p'},'spec':{'containers':[{'ports':[{'containerPort':"
                    "1,'hostPort':8080,'protocol':'UDP'}]}]}}"),
                  0, "0:");
    expect_filter(&cl,
                  J("{'metadata':{'name':'p'},'spec':{'containers':[{'ports':[{'containerPort':"
                    "1,'hostPort':53,'protocol':'UDP','hostIP':'10.0.0.2'}]}]}}"),
                  0, "0:");
    expect_filter(&cl,
                  J("{'metadata':{'name':'p'},'spec':{'containers':[{'ports':[{'containerPort':"
                    "1,'hostPort':53,'protocol':'UDP'}]}]}}"),
                  0, busy);
    /* a containerPort without hostPort takes nothing */
    expect_filter(&cl,
                  J("{'metadata':{'name':'p'},'spec':{'containers':[{'ports':[{'containerPort':"
                    "8080}]}]}}"),
                  0, "0:");
    assert_int_equal(k1s_sched_node_remove_pod(n, "default", "a"), 0);
    assert_int_equal(n->n_ports, 0);
    cl_free(&cl);
}

static const json_t *lookup(void *arg, const char *kind, const char *ns, const char *name);

#define AFF(kind, key, app)                                                                        \
    "'affinity':{'" kind "':{'requiredDuringSchedulingIgnoredDuringExecution':[{"                  \
    "'labelSelector':{'matchLabels':{'app':'" app "'}},'topologyKey':'" key "'}]}}"

static void test_filter_inter_pod(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *a =
        cl_add(&cl, mknode("a", "4", "8Gi", 110, "'topology.kubernetes.io/zone':'z1'", NULL));
    cl_add(&cl, mknode("b", "4", "8Gi", 110, "'topology.kubernetes.io/zone':'z1'", NULL));
    cl_add(&cl, mknode("c", "4", "8Gi", 110, "'topology.kubernetes.io/zone':'z2'", NULL));
    cl_add(&cl, mknode("d", "4", "8Gi", 110, NULL, NULL));
    bind(a, mkpod("db", NULL, NULL, NULL, "'labels':{'app':'db'}"));
    const char *zone = "topology.kubernetes.io/zone", *host = "kubernetes.io/hostname";
    (void)zone;
    (void)host;
    /* affinity to app=db by zone: a and b, not c (other zone) nor d (no zone label) */
    const char *aff_fail = "2:node(s) didn't match pod affinity rules";
    for (size_t i = 0; i < 4; i++)
        expect_filter(
            &cl,
            mkpod("p", NULL, NULL, AFF("podAffinity", "topology.kubernetes.io/zone", "db"), NULL),
            i, i < 2 ? "0:" : aff_fail);
    /* by hostname: a only */
    expect_filter(&cl,
                  mkpod("p", NULL, NULL, AFF("podAffinity", "kubernetes.io/hostname", "db"), NULL),
                  1, aff_fail);
    /* other namespaces do not count */
    expect_filter(&cl,
                  J("{'metadata':{'name':'p','namespace':'other'},'spec':{'containers':[{}]," AFF(
                      "podAffinity", "kubernetes.io/hostname", "db") "}}"),
                  0, aff_fail);
    /* namespaceSelector: namespaces whose labels match (looked up), or every namespace for {} */
    json_t *objs = J("{'Namespace//default':{'metadata':{'labels':{'team':'a'}}}}");
    cl.c.lookup = lookup;
    cl.c.lookup_arg = objs;
    const char *nssel = "{'metadata':{'name':'p','namespace':'other'},'spec':{'containers':[{}],"
                        "'affinity':{'podAffinity':{'requiredDuringSchedulingIgnoredDuring"
                        "Execution':[{'labelSelector':{'matchLabels':{'app':'db'}},'topologyKey':"
                        "'kubernetes.io/hostname','namespaceSelector':%s}]}}}}";
    expect_filter(&cl, J(nssel, "{'matchLabels':{'team':'a'}}"), 0, "0:");
    expect_filter(&cl, J(nssel, "{'matchLabels':{'team':'b'}}"), 0, aff_fail);
    expect_filter(&cl, J(nssel, "{}"), 0, "0:");
    cl.c.lookup = NULL;
    json_decref(objs);
    /* the first pod of a self-affine group may go anywhere */
    expect_filter(&cl,
                  mkpod("p", NULL, NULL, AFF("podAffinity", "kubernetes.io/hostname", "web"),
                        "'labels':{'app':'web'}"),
                  2, "0:");
    expect_filter(&cl,
                  mkpod("p", NULL, NULL, AFF("podAffinity", "kubernetes.io/hostname", "web"), NULL),
                  2, aff_fail);
    /* anti-affinity: not in the zone of app=db */
    const char *anti_fail = "1:node(s) didn't match pod anti-affinity rules";
    for (size_t i = 0; i < 4; i++)
        expect_filter(&cl,
                      mkpod("p", NULL, NULL,
                            AFF("podAntiAffinity", "topology.kubernetes.io/zone", "db"), NULL),
                      i, i < 2 ? anti_fail : "0:");
    /* an existing pod's anti-affinity keeps matching pods off its host */
    bind(a,
         mkpod("solo", NULL, NULL, AFF("podAntiAffinity", "kubernetes.io/hostname", "web"), NULL));
    expect_filter(&cl, mkpod("p", NULL, NULL, NULL, "'labels':{'app':'web'}"), 0,
                  "1:node(s) didn't satisfy existing pods anti-affinity rules");
    expect_filter(&cl, mkpod("p", NULL, NULL, NULL, "'labels':{'app':'web'}"), 1, "0:");
    expect_filter(&cl, mkpod("p", NULL, NULL, NULL, "'labels':{'app':'api'}"), 0, "0:");
    cl_free(&cl);
}

static const json_t *lookup(void *arg, const char *kind, const char *ns, const char *name)
{
    json_t *objs = arg;
    char key[256];
    snprintf(key, sizeof(key), "%s/%s/%s", kind, ns ? ns : "", name);
    return json_object_get(objs, key);
}

static void test_filter_volumes(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    cl_add(&cl, mknode("a", "4", "8Gi", 110, NULL, NULL));
    cl_add(&cl, mknode("b", "4", "8Gi", 110, NULL, NULL));
    json_t *objs = J("{'PersistentVolumeClaim/default/data':{'spec':{'volumeName':'pv1'}},"
                     "'PersistentVolumeClaim/default/new':{'spec':{'storageClassName':'local'}},"
                     "'PersistentVolumeClaim/default/imm':{'spec':{'storageClassName':'fast'}},"
                     "'PersistentVolumeClaim/default/nocls':{'spec':{}},"
                     "'StorageClass//local':{'volumeBindingMode':'WaitForFirstConsumer',"
                     "'provisioner':'example.com/none'},"
                     "'StorageClass//fast':{'volumeBindingMode':'Immediate'},"
                     "'PersistentVolume//pv1':{'spec':{'nodeAffinity':{'required':{"
                     "'nodeSelectorTerms':[{'matchExpressions':[{'key':'kubernetes.io/hostname',"
                     "'operator':'In','values':['b']}]}]}}}}}");
    cl.c.lookup = lookup;
    cl.c.lookup_arg = objs;
    const char *vol = "'volumes':[{'name':'v','persistentVolumeClaim':{'claimName':'%s'}}]";
    char spec[256];
    snprintf(spec, sizeof(spec), vol, "data");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 0,
                  "2:node(s) had volume node affinity conflict");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 1, "0:");
    snprintf(spec, sizeof(spec), vol, "new");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 0, "0:");
    snprintf(spec, sizeof(spec), vol, "imm");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 0,
                  "pod has unbound immediate PersistentVolumeClaims");
    snprintf(spec, sizeof(spec), vol, "nocls");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 0,
                  "pod has unbound immediate PersistentVolumeClaims");
    snprintf(spec, sizeof(spec), vol, "gone");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 0,
                  "persistentvolumeclaim \"gone\" not found");
    expect_schedule(&cl, mkpod("p", NULL, NULL, spec, NULL),
                    "0/2 nodes are available: persistentvolumeclaim \"gone\" not found. "
                    "preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
                    "scheduling..");
    /* a bound claim whose PV is missing: VolumeZone's PreFilter stops the pod */
    json_object_set_new(objs, "PersistentVolumeClaim/default/lost",
                        J("{'spec':{'volumeName':'pv-lost'}}"));
    snprintf(spec, sizeof(spec), vol, "lost");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 0,
                  "persistentvolume \"pv-lost\" not found");
    json_decref(objs);
    cl_free(&cl);
}

static size_t list_pvs(void *arg, const char *cls, const json_t ***out)
{
    json_t *objs = arg;
    *out = calloc(json_object_size(objs) + 1, sizeof(**out));
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(objs, k, v)
    {
        const char *c =
            json_string_value(json_object_get(json_object_get(v, "spec"), "storageClassName"));
        if (k1s_str_has_prefix(k, "PersistentVolume//") && c && !strcmp(c, cls))
            (*out)[n++] = v;
    }
    return n;
}

#define PV(name, cls, size, node, extra)                                                           \
    "'PersistentVolume//" name "':{'metadata':{'name':'" name                                      \
    "'},'spec':{'storageClassName':'" cls "','capacity':{'storage':'" size                         \
    "'},'accessModes':['ReadWriteOnce'],'nodeAffinity':{"                                          \
    "'required':{'nodeSelectorTerms':[{'matchExpressions':[{'key':'kubernetes.io/hostname',"       \
    "'operator':'In','values':['" node "']}]}]}}" extra "},'status':{'phase':'Available'}}"

/* WaitForFirstConsumer claims: available PVs' node affinity, provisioning, selected-node. */
static void test_volume_binding(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    cl_add(&cl, mknode("a", "4", "8Gi", 110, "'zone':'z1'", NULL));
    cl_add(&cl, mknode("b", "4", "8Gi", 110, "'zone':'z2'", NULL));
    cl_add(&cl, mknode("c", "4", "8Gi", 110, "'zone':'z2'", NULL));
    json_t *objs =
        J("{'PersistentVolumeClaim/default/s1':{'metadata':{'name':'s1','namespace':'default'},"
          "'spec':{'storageClassName':'static','accessModes':['ReadWriteOnce'],"
          "'resources':{'requests':{'storage':'1Gi'}}}},"
          "'PersistentVolumeClaim/default/s2':{'metadata':{'name':'s2','namespace':'default'},"
          "'spec':{'storageClassName':'static','accessModes':['ReadWriteOnce'],"
          "'resources':{'requests':{'storage':'1Gi'}}}},"
          "'PersistentVolumeClaim/default/big':{'metadata':{'name':'big','namespace':'default'},"
          "'spec':{'storageClassName':'static','accessModes':['ReadWriteOnce'],"
          "'resources':{'requests':{'storage':'50Gi'}}}},"
          "'PersistentVolumeClaim/default/d':{'metadata':{'name':'d','namespace':'default'},"
          "'spec':{'storageClassName':'dyn','resources':{'requests':{'storage':'1Gi'}}}},"
          "'PersistentVolumeClaim/default/sel':{'metadata':{'name':'sel','namespace':'default',"
          "'annotations':{'volume.kubernetes.io/selected-node':'c'}},"
          "'spec':{'storageClassName':'dyn','resources':{'requests':{'storage':'1Gi'}}}},"
          "'StorageClass//static':{'volumeBindingMode':'WaitForFirstConsumer',"
          "'provisioner':'kubernetes.io/no-provisioner'},"
          "'StorageClass//dyn':{'volumeBindingMode':'WaitForFirstConsumer',"
          "'provisioner':'example.com/p','allowedTopologies':[{'matchLabelExpressions':"
          "[{'key':'zone','values':['z2']}]}]}," PV("pv-b-big", "static", "10Gi", "b", "") "," PV(
              "pv-b", "static", "2Gi", "b", "") "," PV("pv-c-taken", "static", "2Gi", "c",
                                                       ",'claimRef':{'namespace':'default',"
                                                       "'name':'other'}") "}");
    cl.c.lookup = lookup;
    cl.c.list_pvs = list_pvs;
    cl.c.lookup_arg = objs;
    const char *vol = "'volumes':[{'name':'v','persistentVolumeClaim':{'claimName':'%s'}}]";
    const char *vol2 = "'volumes':[{'name':'v','persistentVolumeClaim':{'claimName':'%s'}},"
                       "{'name':'w','persistentVolumeClaim':{'claimName':'%s'}}]";
    const char *none = "2:node(s) didn't find available persistent volumes to bind";
    char spec[512];
    /* a static claim fits only where an available PV is: b (c's is claimed by another) */
    snprintf(spec, sizeof(spec), vol, "s1");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 0, none);
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 1, "0:");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 2, none);
    expect_schedule(&cl, mkpod("p", NULL, NULL, spec, NULL), "b");
    /* the plan takes the smallest PV that is large enough */
    json_t *pod = mkpod("p", NULL, NULL, spec, NULL);
    json_t *plan = k1s_sched_volume_plan(&cl.c, pod, 1);
    char *got = json_dumps(plan, JSON_COMPACT);
    assert_string_equal(got, "[{\"claim\":\"s1\",\"pv\":\"pv-b\"}]");
    free(got);
    json_decref(plan);
    assert_null(k1s_sched_volume_plan(&cl.c, pod, 0));
    json_decref(pod);
    /* two claims need two PVs: b has two */
    snprintf(spec, sizeof(spec), vol2, "s1", "s2");
    pod = mkpod("p", NULL, NULL, spec, NULL);
    plan = k1s_sched_volume_plan(&cl.c, pod, 1);
    got = json_dumps(plan, JSON_COMPACT);
    assert_string_equal(got, "[{\"claim\":\"s1\",\"pv\":\"pv-b\"},{\"claim\":\"s2\","
                             "\"pv\":\"pv-b-big\"}]");
    free(got);
    json_decref(plan);
    json_decref(pod);
    /* too big for every PV, and the class cannot provision */
    snprintf(spec, sizeof(spec), vol, "big");
    expect_schedule(&cl, mkpod("p", NULL, NULL, spec, NULL),
                    "0/3 nodes are available: 3 node(s) didn't find available persistent volumes "
                    "to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful "
                    "for scheduling..");
    /* provisioning: where the class's allowedTopologies admit the node */
    snprintf(spec, sizeof(spec), vol, "d");
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 0, none);
    expect_filter(&cl, mkpod("p", NULL, NULL, spec, NULL), 1, "0:");
    pod = mkpod("p", NULL, NULL, spec, NULL);
    plan = k1s_sched_volume_plan(&cl.c, pod, 2);
    got = json_dumps(plan, JSON_COMPACT);
    assert_string_equal(got, "[{\"claim\":\"d\",\"pv\":null}]");
    free(got);
    json_decref(plan);
    json_decref(pod);
    /* a claim with a selected node already fits that node only */
    snprintf(spec, sizeof(spec), vol, "sel");
    expect_schedule(&cl, mkpod("p", NULL, NULL, spec, NULL), "c");
    json_decref(objs);
    cl_free(&cl);
}

#define SPREAD(key, skew, when)                                                                    \
    "'topologySpreadConstraints':[{'maxSkew':" #skew ",'topologyKey':'" key "',"                   \
    "'whenUnsatisfiable':'" when "','labelSelector':{'matchLabels':{'app':'web'}}}]"

static void test_filter_spread(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *a =
        cl_add(&cl, mknode("a", "4", "8Gi", 110, "'topology.kubernetes.io/zone':'z1'", NULL));
    cl_add(&cl, mknode("b", "4", "8Gi", 110, "'topology.kubernetes.io/zone':'z2'", NULL));
    cl_add(&cl, mknode("c", "4", "8Gi", 110, NULL, NULL));
    bind(a, mkpod("w1", NULL, NULL, NULL, "'labels':{'app':'web'}"));
    const char *skew = "1:node(s) didn't match pod topology spread constraints";
    expect_filter(&cl,
                  mkpod("p", NULL, NULL, SPREAD("topology.kubernetes.io/zone", 1, "DoNotSchedule"),
                        "'labels':{'app':'web'}"),
                  0, skew);
    expect_filter(&cl,
                  mkpod("p", NULL, NULL, SPREAD("topology.kubernetes.io/zone", 1, "DoNotSchedule"),
                        "'labels':{'app':'web'}"),
                  1, "0:");
    expect_filter(&cl,
                  mkpod("p", NULL, NULL, SPREAD("topology.kubernetes.io/zone", 1, "DoNotSchedule"),
                        "'labels':{'app':'web'}"),
                  2,
                  "2:node(s) didn't match pod topology spread constraints (missing required "
                  "label)");
    /* maxSkew 2 allows a second pod in z1 */
    expect_filter(&cl,
                  mkpod("p", NULL, NULL, SPREAD("topology.kubernetes.io/zone", 2, "DoNotSchedule"),
                        "'labels':{'app':'web'}"),
                  0, "0:");
    /* ScheduleAnyway never filters */
    expect_filter(&cl,
                  mkpod("p", NULL, NULL, SPREAD("topology.kubernetes.io/zone", 1, "ScheduleAnyway"),
                        "'labels':{'app':'web'}"),
                  0, "0:");
    /* matchLabelKeys narrow the selector to the pod's own values (here: another revision) */
    expect_filter(&cl,
                  mkpod("p", NULL, NULL,
                        "'topologySpreadConstraints':[{'maxSkew':1,'topologyKey':"
                        "'topology.kubernetes.io/zone','whenUnsatisfiable':'DoNotSchedule',"
                        "'labelSelector':{'matchLabels':{'app':'web'}},'matchLabelKeys':["
                        "'pod-template-hash']}]",
                        "'labels':{'app':'web','pod-template-hash':'v2'}"),
                  0, "0:");
    /* nodeAffinityPolicy: Honor (default) ignores pods on nodes the pod may not use */
    const char *pol = "'nodeSelector':{'topology.kubernetes.io/zone':'z2'},"
                      "'topologySpreadConstraints':[{'maxSkew':1,'topologyKey':"
                      "'topology.kubernetes.io/zone','whenUnsatisfiable':'DoNotSchedule',"
                      "'labelSelector':{'matchLabels':{'app':'web'}}%s}]";
    char polspec[1024];
    snprintf(polspec, sizeof(polspec), pol, "");
    k1s_sched_node_t *bn = cl.nodes[1];
    bind(bn, mkpod("w2", NULL, NULL, NULL, "'labels':{'app':'web'}"));
    /* z2 has 1, z1 is not counted: skew 1+1-1 = 1 */
    expect_filter(&cl, mkpod("p", NULL, NULL, polspec, "'labels':{'app':'web'}"), 1, "0:");
    snprintf(polspec, sizeof(polspec), pol, ",'nodeAffinityPolicy':'Ignore'");
    bind(bn, mkpod("w3", NULL, NULL, NULL, "'labels':{'app':'web'}"));
    /* counting z1 (1) too: z2 has 2, skew 2+1-1 = 2 */
    expect_filter(&cl, mkpod("p", NULL, NULL, polspec, "'labels':{'app':'web'}"), 1, skew);
    k1s_sched_node_remove_pod(bn, "default", "w2");
    k1s_sched_node_remove_pod(bn, "default", "w3");
    /* minDomains 3 with only 2 zones: the global minimum counts as 0 */
    expect_filter(&cl,
                  mkpod("p", NULL, NULL,
                        "'topologySpreadConstraints':[{'maxSkew':1,'minDomains':3,'topologyKey':"
                        "'topology.kubernetes.io/zone','whenUnsatisfiable':'DoNotSchedule',"
                        "'labelSelector':{'matchLabels':{'app':'web'}}}]",
                        "'labels':{'app':'web'}"),
                  1, "0:");
    cl_free(&cl);
}

/* ---------- scores ---------- */

static void test_score_resources(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *a = cl_add(&cl, mknode("a", "4", "8Gi", 110, NULL, NULL));
    cl_add(&cl, mknode("b", "4", "8Gi", 110, NULL, NULL));
    bind(a, mkpod("x", "2", "2Gi", NULL, NULL));
    int64_t s[2];
    scores(&cl, mkpod("p", "1", "2Gi", NULL, NULL), K1S_SCORE_RESOURCES_FIT, s);
    /* a: cpu (4-3)/4 = 25, mem (8-4)/8 = 50 -> 37; b: cpu 75, mem 75 */
    assert_int_equal(s[0], 37);
    assert_int_equal(s[1], 75);
    /* no requests: 100m and 200Mi count when scoring */
    scores(&cl, mkpod("p", NULL, NULL, NULL, NULL), K1S_SCORE_RESOURCES_FIT, s);
    assert_int_equal(s[1], (3900 * 100 / 4000 + (8192 - 200) * 100 / 8192) / 2);
    scores(&cl, mkpod("p", "1", "2Gi", NULL, NULL), K1S_SCORE_BALANCED_ALLOCATION, s);
    /* a: cpu 3/4, mem 4/8 -> 1 - 0.25/2; b: 1/4 and 2/8 -> 100 */
    assert_int_equal(s[0], 87);
    assert_int_equal(s[1], 100);
    cl_free(&cl);
}

static void test_score_node_affinity_and_taints(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    cl_add(&cl, mknode("a", "4", "8Gi", 110, "'disk':'ssd'",
                       "'taints':[{'key':'x','effect':'PreferNoSchedule'},{'key':'y','effect':"
                       "'PreferNoSchedule'}]"));
    cl_add(&cl, mknode("b", "4", "8Gi", 110, "'disk':'ssd','gpu':'1'",
                       "'taints':[{'key':'x','effect':'PreferNoSchedule'}]"));
    cl_add(&cl, mknode("c", "4", "8Gi", 110, NULL, NULL));
    int64_t s[3];
    scores(&cl,
           mkpod("p", NULL, NULL,
                 "'affinity':{'nodeAffinity':{'preferredDuringSchedulingIgnoredDuringExecution':"
                 "[{'weight':10,'preference':{'matchExpressions':[{'key':'disk','operator':'In',"
                 "'values':['ssd']}]}},{'weight':30,'preference':{'matchExpressions':[{'key':"
                 "'gpu','operator':'Exists'}]}}]}}",
                 NULL),
           K1S_SCORE_NODE_AFFINITY, s);
    assert_int_equal(s[0], 25); /* 10 of 40 */
    assert_int_equal(s[1], 100);
    assert_int_equal(s[2], 0);
    scores(&cl, mkpod("p", NULL, NULL, NULL, NULL), K1S_SCORE_TAINT_TOLERATION, s);
    assert_int_equal(s[0], 0);   /* 2 of 2 untolerated */
    assert_int_equal(s[1], 50);  /* 1 of 2 */
    assert_int_equal(s[2], 100); /* none */
    scores(&cl, mkpod("p", NULL, NULL, "'tolerations':[{'key':'x','operator':'Exists'}]", NULL),
           K1S_SCORE_TAINT_TOLERATION, s);
    assert_int_equal(s[0], 0);
    assert_int_equal(s[1], 100);
    /* the schedule picks the untainted node with the preferred label */
    cl_free(&cl);
}

static void test_score_images(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    cl_add(&cl, J("{'metadata':{'name':'a'},'status':{'allocatable':{'cpu':'4','memory':'8Gi',"
                  "'pods':'110'},'images':[{'names':['docker.io/library/nginx:latest',"
                  "'nginx:latest'],'sizeBytes':524288000},{'names':['busybox:1.36'],"
                  "'sizeBytes':2097152000}]}}"));
    cl_add(&cl, J("{'metadata':{'name':'b'},'status':{'allocatable':{'cpu':'4','memory':'8Gi',"
                  "'pods':'110'}}}"));
    int64_t s[2];
    scores(&cl, mkpod("p", NULL, NULL, NULL, NULL), K1S_SCORE_IMAGE_LOCALITY, s);
    /* 500MB scaled by 1 of 2 nodes = 250MB: (250-23)/(1000-23) */
    assert_int_equal(s[0], 100 * (250 * 1048576LL - 23 * 1048576LL) / (977 * 1048576LL));
    assert_int_equal(s[1], 0);
    expect_schedule(&cl, mkpod("p", NULL, NULL, NULL, NULL), "a");
    /* names match exactly; init containers count, and raise the ceiling */
    scores(&cl,
           J("{'spec':{'containers':[{'image':'docker.io/nginx'}],'initContainers':[{'image':"
             "'busybox:1.36'}]}}"),
           K1S_SCORE_IMAGE_LOCALITY, s);
    /* busybox: 2000MB * 1/2 = 1000MB of a 2000MB ceiling for two containers */
    assert_int_equal(s[0], 100 * (1000 * 1048576LL - 23 * 1048576LL) / (1977 * 1048576LL));
    cl_free(&cl);
}

static void test_score_inter_pod(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *a = cl_add(&cl, mknode("a", "4", "8Gi", 110, NULL, NULL));
    k1s_sched_node_t *b = cl_add(&cl, mknode("b", "4", "8Gi", 110, NULL, NULL));
    cl_add(&cl, mknode("c", "4", "8Gi", 110, NULL, NULL));
    bind(a, mkpod("db", NULL, NULL, NULL, "'labels':{'app':'db'}"));
    bind(b, mkpod("cache", NULL, NULL, NULL, "'labels':{'app':'cache'}"));
    int64_t s[3];
    scores(&cl,
           mkpod("p", NULL, NULL,
                 "'affinity':{'podAffinity':{'preferredDuringSchedulingIgnoredDuringExecution':[{"
                 "'weight':50,'podAffinityTerm':{'labelSelector':{'matchLabels':{'app':'db'}},"
                 "'topologyKey':'kubernetes.io/hostname'}}]},'podAntiAffinity':{"
                 "'preferredDuringSchedulingIgnoredDuringExecution':[{'weight':50,"
                 "'podAffinityTerm':{'labelSelector':{'matchLabels':{'app':'cache'}},"
                 "'topologyKey':'kubernetes.io/hostname'}}]}}",
                 NULL),
           K1S_SCORE_INTER_POD_AFFINITY, s);
    assert_int_equal(s[0], 100); /* +50 */
    assert_int_equal(s[1], 0);   /* -50 */
    assert_int_equal(s[2], 50);  /* 0 */
    /* symmetry: an existing pod's preferred affinity to the incoming pod counts */
    bind(b, mkpod("fan", NULL, NULL,
                  "'affinity':{'podAffinity':{'preferredDuringSchedulingIgnoredDuringExecution':"
                  "[{'weight':20,'podAffinityTerm':{'labelSelector':{'matchLabels':{'app':"
                  "'web'}},'topologyKey':'kubernetes.io/hostname'}}]}}",
                  NULL));
    scores(&cl, mkpod("p", NULL, NULL, NULL, "'labels':{'app':'web'}"),
           K1S_SCORE_INTER_POD_AFFINITY, s);
    assert_int_equal(s[0], 0);
    assert_int_equal(s[1], 100);
    expect_schedule(&cl, mkpod("p", NULL, NULL, NULL, "'labels':{'app':'web'}"), "b");
    cl_free(&cl);
}

static void test_score_spread(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *a = cl_add(&cl, mknode("a", "4", "8Gi", 110, NULL, NULL));
    k1s_sched_node_t *b = cl_add(&cl, mknode("b", "4", "8Gi", 110, NULL, NULL));
    cl_add(&cl, mknode("c", "4", "8Gi", 110, NULL, NULL));
    bind(a, mkpod("w1", NULL, NULL, NULL, "'labels':{'app':'web'}"));
    bind(a, mkpod("w2", NULL, NULL, NULL, "'labels':{'app':'web'}"));
    bind(b, mkpod("w3", NULL, NULL, NULL, "'labels':{'app':'web'}"));
    int64_t s[3];
    scores(&cl,
           mkpod("p", NULL, NULL, SPREAD("kubernetes.io/hostname", 1, "ScheduleAnyway"),
                 "'labels':{'app':'web'}"),
           K1S_SCORE_TOPOLOGY_SPREAD, s);
    /* raw: cnt*ln(3+2) + 0 = round(3.22)=3, round(1.61)=2, 0; 100*(3+0-raw)/3 */
    assert_int_equal(s[0], 0);
    assert_int_equal(s[1], 33);
    assert_int_equal(s[2], 100);
    /* default spreading: pods of the same controller, with no constraints of their own */
    const char *owner = "'ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':"
                        "'rs','uid':'u1','controller':true}]";
    char meta[512];
    snprintf(meta, sizeof(meta), "%s", owner);
    bind(a, mkpod("r1", NULL, NULL, NULL, meta));
    bind(a, mkpod("r2", NULL, NULL, NULL, meta));
    bind(b, mkpod("r3", NULL, NULL, NULL, meta));
    bind(b, mkpod("r4", NULL, NULL, NULL, meta));
    scores(&cl, mkpod("p", NULL, NULL, NULL, meta), K1S_SCORE_TOPOLOGY_SPREAD, s);
    assert_true(s[2] > s[0]);
    assert_int_equal(s[2], 100);
    assert_int_equal(s[0], s[1]);
    expect_schedule(&cl, mkpod("p", NULL, NULL, NULL, meta), "c");
    /* Jobs get no default spreading */
    scores(&cl,
           mkpod("p", NULL, NULL, NULL,
                 "'ownerReferences':[{'apiVersion':'batch/v1','kind':'Job','name':'j','uid':"
                 "'u1','controller':true}]"),
           K1S_SCORE_TOPOLOGY_SPREAD, s);
    assert_int_equal(s[0], 0);
    assert_int_equal(s[2], 0);
    cl_free(&cl);
}

/* ---------- the whole attempt ---------- */

static void test_message(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    const char *cp = "'taints':[{'key':'node-role.kubernetes.io/control-plane','effect':"
                     "'NoSchedule'}]";
    cl_add(&cl, mknode("a", "2", "8Gi", 110, NULL, NULL));
    cl_add(&cl, mknode("b", "4", "8Gi", 110, NULL, cp));
    cl_add(&cl, mknode("c", "4", "8Gi", 110, NULL, cp));
    expect_schedule(&cl, mkpod("p", "3", NULL, NULL, NULL),
                    "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
                    "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are "
                    "available: 3 Preemption is not helpful for scheduling..");
    /* which plugins rejected nodes: what a cluster event must change to help */
    k1s_sched_result_t rr;
    json_t *big = mkpod("p", "3", NULL, NULL, NULL);
    k1s_sched_schedule(&cl.c, big, &rr);
    assert_int_equal(rr.rejected_by,
                     (1u << K1S_SCHED_NODE_RESOURCES_FIT) | (1u << K1S_SCHED_TAINT_TOLERATION));
    k1s_sched_result_free(&rr);
    json_decref(big);
    /* resolvable by preemption but nothing to preempt */
    k1s_sched_node_t *a = cl.nodes[0];
    bind(a, mkpod("x", "1500m", NULL, NULL, NULL));
    expect_schedule(&cl, mkpod("p", "1", NULL, NULL, NULL),
                    "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
                    "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are "
                    "available: 1 No preemption victims found for incoming pod, 2 Preemption is "
                    "not helpful for scheduling..");
    expect_schedule(&cl, mkpod("p", "1", NULL, "'preemptionPolicy':'Never','priority':10", NULL),
                    "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
                    "{node-role.kubernetes.io/control-plane: }. preemption: not eligible due to "
                    "preemptionPolicy=Never..");
    /* reasons are counted over nodes and sorted as strings */
    k1s_sched_status_t st[12] = {0};
    for (int i = 0; i < 12; i++) {
        st[i].code = K1S_SCHED_UNSCHEDULABLE;
        st[i].reasons[st[i].n_reasons++] =
            k1s_xstrdup(i < 10 ? "Insufficient cpu" : "Too many pods");
        if (i == 0)
            st[i].reasons[st[i].n_reasons++] = k1s_xstrdup("Insufficient memory");
    }
    char *m = k1s_sched_fit_error(12, st, NULL, NULL);
    assert_string_equal(m, "0/12 nodes are available: 1 Insufficient memory, 10 Insufficient cpu, "
                           "2 Too many pods.");
    free(m);
    for (int i = 0; i < 12; i++)
        k1s_sched_status_clear(&st[i]);
    cl_free(&cl);
    cl_init(&cl);
    expect_schedule(&cl, mkpod("p", NULL, NULL, NULL, NULL), "no nodes available to schedule pods");
    cl_free(&cl);
    /* a DaemonSet-style pod pinned by matchFields: the other nodes are left out by PreFilter */
    cl_init(&cl);
    k1s_sched_node_t *full = cl_add(&cl, mknode("a", "4", "8Gi", 1, NULL, NULL));
    bind(full, mkpod("x", NULL, NULL, NULL, NULL));
    cl_add(&cl, mknode("b", "4", "8Gi", 110, NULL, NULL));
    cl_add(&cl, mknode("c", "4", "8Gi", 110, NULL, NULL));
    const char *pin = "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring"
                      "Execution':{'nodeSelectorTerms':[{'matchFields':[{'key':'metadata.name',"
                      "'operator':'In','values':['%s']}]}]}}}";
    char spec[512];
    snprintf(spec, sizeof(spec), pin, "a");
    expect_schedule(&cl, mkpod("p", NULL, NULL, spec, NULL),
                    "0/3 nodes are available: 1 Too many pods, 2 node(s) didn't satisfy plugin(s) "
                    "[NodeAffinity]. preemption: 0/3 nodes are available: 1 No preemption victims "
                    "found for incoming pod, 2 Preemption is not helpful for scheduling..");
    snprintf(spec, sizeof(spec), pin, "c");
    expect_schedule(&cl, mkpod("p", NULL, NULL, spec, NULL), "c");
    cl_free(&cl);
}

static void test_preemption(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *a = cl_add(&cl, mknode("a", "4", "8Gi", 110, NULL, NULL));
    k1s_sched_node_t *b = cl_add(&cl, mknode("b", "4", "8Gi", 110, NULL, NULL));
    bind(a, mkpod("a-hi", "2", NULL, "'priority':1000", NULL));
    bind(a, mkpod("a-lo1", "1", NULL, "'priority':5", NULL));
    bind(a, mkpod("a-lo2", "1", NULL, "'priority':1", NULL));
    bind(b, mkpod("b-mid", "3", NULL, "'priority':50", NULL));
    bind(b, mkpod("b-lo", "1", NULL, "'priority':1", NULL));
    json_t *pod = mkpod("p", "2", NULL, "'priority':100", NULL);
    k1s_sched_result_t r;
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_false(r.scheduled);
    assert_true(r.nominated);
    /* on a, evicting a-lo1 and a-lo2 (highest victim priority 5) beats b-mid (50) on b */
    assert_string_equal(cl.nodes[r.nominated_node]->name, "a");
    assert_int_equal(json_array_size(r.victims), 2);
    assert_string_equal(r.message, "0/2 nodes are available: 2 Insufficient cpu.");
    k1s_sched_result_free(&r);
    json_decref(pod);
    /* a smaller pod needs only one victim: the lower-priority one goes, the other is reprieved */
    pod = mkpod("p", "1", NULL, "'priority':100", NULL);
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_true(r.nominated);
    assert_string_equal(cl.nodes[r.nominated_node]->name, "a");
    assert_int_equal(json_array_size(r.victims), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(r.victims, 0), "metadata"), "name")),
                        "a-lo2");
    k1s_sched_result_free(&r);
    json_decref(pod);
    /* a pod of equal or lower priority preempts nobody */
    pod = mkpod("p", "1", NULL, "'priority':1", NULL);
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_false(r.nominated);
    assert_string_equal(r.message, "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 "
                                   "nodes are available: 2 No preemption victims found for "
                                   "incoming pod..");
    k1s_sched_result_free(&r);
    json_decref(pod);
    cl_free(&cl);
}

static void test_pick_and_ties(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    for (int i = 0; i < 8; i++) {
        char name[8];
        snprintf(name, sizeof(name), "n%d", i);
        cl_add(&cl, mknode(name, "4", "8Gi", 110, NULL, NULL));
    }
    /* the emptiest node wins */
    for (int i = 0; i < 8; i++)
        if (i != 5)
            bind(cl.nodes[i], mkpod("x", "1", "1Gi", NULL, NULL));
    expect_schedule(&cl, mkpod("p", "100m", "100Mi", NULL, NULL), "n5");
    bind(cl.nodes[5], mkpod("x", "1", "1Gi", NULL, NULL));
    /* equal nodes: the choice is random but repeatable for a seed, and spreads */
    int seen[8] = {0};
    char first[16] = "";
    for (int round = 0; round < 64; round++) {
        cl.c.rng = (uint64_t)round + 1;
        char *got = schedule(&cl, mkpod("p", "100m", "100Mi", NULL, NULL));
        seen[got[1] - '0']++;
        if (round == 0)
            snprintf(first, sizeof(first), "%s", got);
        free(got);
    }
    int distinct = 0;
    for (int i = 0; i < 8; i++)
        distinct += seen[i] > 0;
    assert_true(distinct >= 4);
    cl.c.rng = 1;
    expect_schedule(&cl, mkpod("p", "100m", "100Mi", NULL, NULL), first);
    cl_free(&cl);
}

static void test_sampling(void **state)
{
    /* 200 nodes: 100 feasible ones are enough, taken round robin between attempts */
    cluster_t cl;
    cl_init(&cl);
    for (int i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%03d", i);
        cl_add(&cl, mknode(name, "4", "8Gi", 110, NULL, NULL));
    }
    for (int round = 0; round < 4; round++) {
        k1s_sched_result_t r;
        json_t *pod = mkpod("p", "100m", NULL, NULL, NULL);
        k1s_sched_schedule(&cl.c, pod, &r);
        assert_true(r.scheduled);
        if (round % 2 == 0)
            assert_true(r.node < 100);
        else
            assert_true(r.node >= 100);
        k1s_sched_result_free(&r);
        json_decref(pod);
    }
    /* unschedulable: every node is looked at, and counted in the message */
    expect_schedule(&cl, mkpod("p", "5", NULL, NULL, NULL),
                    "0/200 nodes are available: 200 Insufficient cpu. preemption: 0/200 nodes are "
                    "available: 200 Preemption is not helpful for scheduling..");
    cl_free(&cl);
}

/* Random clusters and pods: a chosen node passes every filter, an unschedulable pod fails on every
 * node, and evicting the victims of a preemption makes the pod fit on the nominated node. */
static void test_random_consistency(void **state)
{
    uint64_t rng = 12345;
    const char *zones[] = {"z1", "z2", "z3"};
    for (int round = 0; round < 6; round++) {
        cluster_t cl;
        cl_init(&cl);
        cl.c.rng = (uint64_t)round + 7;
        int nn = 5 + (int)(k1s_sched_rand(&rng) % 20);
        for (int i = 0; i < nn; i++) {
            char name[16], labels[128], spec[256] = "";
            snprintf(name, sizeof(name), "n%d", i);
            snprintf(labels, sizeof(labels), "'topology.kubernetes.io/zone':'%s','disk':'%s'",
                     zones[k1s_sched_rand(&rng) % 3], k1s_sched_rand(&rng) % 2 ? "ssd" : "hdd");
            if (k1s_sched_rand(&rng) % 4 == 0)
                snprintf(spec, sizeof(spec), "'taints':[{'key':'t','value':'v','effect':'%s'}]",
                         k1s_sched_rand(&rng) % 2 ? "NoSchedule" : "PreferNoSchedule");
            char cpu[8];
            snprintf(cpu, sizeof(cpu), "%d", 1 + (int)(k1s_sched_rand(&rng) % 4));
            cl_add(&cl,
                   mknode(name, cpu, "4Gi", 4 + (int)(k1s_sched_rand(&rng) % 8), labels, spec));
        }
        for (int k = 0; k < 80; k++) {
            char name[16], cpu[16], spec[1024] = "", meta[128];
            snprintf(name, sizeof(name), "p%d", k);
            snprintf(cpu, sizeof(cpu), "%dm", 100 * (1 + (int)(k1s_sched_rand(&rng) % 15)));
            snprintf(meta, sizeof(meta), "'labels':{'app':'a%d'}", (int)(k1s_sched_rand(&rng) % 3));
            size_t off = (size_t)snprintf(spec, sizeof(spec), "'priority':%d",
                                          (int)(k1s_sched_rand(&rng) % 3) * 100);
            switch (k1s_sched_rand(&rng) % 6) {
            case 0:
                snprintf(spec + off, sizeof(spec) - off, ",'nodeSelector':{'disk':'ssd'}");
                break;
            case 1:
                snprintf(spec + off, sizeof(spec) - off,
                         "," AFF("podAntiAffinity", "kubernetes.io/hostname", "a1"));
                break;
            case 2:
                snprintf(spec + off, sizeof(spec) - off,
                         "," SPREAD("topology.kubernetes.io/zone", 1, "DoNotSchedule"));
                break;
            case 3:
                snprintf(spec + off, sizeof(spec) - off,
                         ",'tolerations':[{'key':'t','operator':'Exists'}]");
                break;
            default: break;
            }
            if (k1s_sched_rand(&rng) % 5 == 0)
                strcat(spec, ",'containers':[{'name':'c','ports':[{'containerPort':80,'hostPort':"
                             "8080}],'resources':{'requests':{'cpu':'100m'}}}]");
            json_t *pod = strstr(spec, "'containers'")
                              ? J("{'metadata':{'name':'%s','namespace':'default',%s},'spec':{%s}}",
                                  name, meta, spec)
                              : mkpod(name, cpu, NULL, spec, meta);
            k1s_sched_result_t r;
            k1s_sched_schedule(&cl.c, pod, &r);
            char *pre = NULL;
            k1s_sched_pod_t *p = k1s_sched_pod_new(&cl.c, pod, &pre);
            assert_non_null(p);
            if (r.scheduled) {
                k1s_sched_status_t st;
                k1s_sched_filter(&cl.c, p, r.node, &st);
                assert_int_equal(st.code, K1S_SCHED_OK);
                k1s_sched_node_add_pod(cl.nodes[r.node], pod);
            } else {
                char head[64];
                snprintf(head, sizeof(head), "0/%d nodes are available: ", nn);
                assert_true(k1s_str_has_prefix(r.message, head));
                for (size_t i = 0; i < cl.c.n_nodes; i++) {
                    k1s_sched_status_t st;
                    k1s_sched_filter(&cl.c, p, i, &st);
                    assert_int_not_equal(st.code, K1S_SCHED_OK);
                    k1s_sched_status_clear(&st);
                }
                if (r.nominated) {
                    k1s_sched_node_t *n = cl.nodes[r.nominated_node];
                    assert_true(json_array_size(r.victims) > 0);
                    size_t i;
                    const json_t *v;
                    json_array_foreach(r.victims, i, v)
                    {
                        assert_true(k1s_sched_pod_priority(v) < k1s_sched_pod_priority(pod));
                        const char *vn = json_string_value(
                            json_object_get(json_object_get(v, "metadata"), "name"));
                        assert_int_equal(k1s_sched_node_remove_pod(n, "default", vn), 0);
                    }
                    k1s_sched_pod_t *p2 = k1s_sched_pod_new(&cl.c, pod, &pre);
                    k1s_sched_status_t st;
                    k1s_sched_filter(&cl.c, p2, r.nominated_node, &st);
                    assert_int_equal(st.code, K1S_SCHED_OK);
                    k1s_sched_pod_free(p2);
                    k1s_sched_node_add_pod(n, pod);
                }
            }
            k1s_sched_pod_free(p);
            k1s_sched_result_free(&r);
            json_decref(pod);
        }
        cl_free(&cl);
    }
}

/* Nominated pods hold their room for pods of lower or equal priority; a nominated pod is tried
 * on its node first; victims still terminating by preemption make the preemptor wait. */
static void test_nominated(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *a = cl_add(&cl, mknode("a", "2", "8Gi", 110, NULL, NULL));
    cl_add(&cl, mknode("b", "2", "8Gi", 110, NULL, NULL));
    bind(a, mkpod("a-1", "1", NULL, NULL, NULL));
    /* a pod of priority 100 nominated to a with 1 cpu */
    json_t *nom = mkpod("nom", "1", NULL, "'priority':100", NULL);
    json_object_set_new(nom, "status", J("{'nominatedNodeName':'a'}"));
    k1s_sched_nominated_t n1 = {"a", nom};
    cl.c.nominated = &n1;
    cl.c.n_nominated = 1;
    /* lower or equal priority: a is full with the nomination, b is taken */
    char *m =
        schedule(&cl, mkpod("lo", "1", NULL,
                            "'priority':100,'nodeSelector':{'kubernetes.io/hostname':'a'}", NULL));
    assert_true(k1s_str_has_prefix(m, "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) "
                                      "didn't match Pod's node affinity/selector."));
    free(m);
    /* higher priority ignores the nomination: a fits beside a-1; b (empty) scores higher */
    json_t *hi = mkpod("hi", "1", NULL,
                       "'priority':1000,'nodeSelector':{'kubernetes.io/hostname':"
                       "'a'}",
                       NULL);
    expect_schedule(&cl, hi, "a");
    /* the nominated pod itself is not held against itself, and goes to its node first even
     * though b would score higher */
    k1s_sched_result_t r;
    k1s_sched_schedule(&cl.c, nom, &r);
    assert_true(r.scheduled);
    assert_string_equal(cl.nodes[r.node]->name, "a");
    k1s_sched_result_free(&r);
    /* the nodes are the originals again */
    assert_ptr_equal(cl.nodes[0], a);
    assert_int_equal(k1s_sched_node_pod_count(a), 1);
    cl.c.nominated = NULL;
    cl.c.n_nominated = 0;
    json_decref(nom);
    cl_free(&cl);

    /* victims of an earlier preemption still terminating: no new preemption, nomination kept */
    cl_init(&cl);
    a = cl_add(&cl, mknode("a", "1", "8Gi", 110, NULL, NULL));
    json_t *victim =
        mkpod("victim", "1", NULL, "'priority':1", "'deletionTimestamp':'2026-01-01T00:00:00Z'");
    json_object_set_new(victim, "status",
                        J("{'conditions':[{'type':'DisruptionTarget','status':'True',"
                          "'reason':'PreemptionByScheduler'}]}"));
    bind(a, victim);
    json_t *pre = mkpod("pre", "1", NULL, "'priority':10", NULL);
    json_object_set_new(pre, "status", J("{'nominatedNodeName':'a'}"));
    k1s_sched_schedule(&cl.c, pre, &r);
    assert_false(r.scheduled);
    assert_false(r.nominated);
    assert_false(r.clear_nomination);
    assert_string_equal(r.message, "0/1 nodes are available: 1 Insufficient cpu. preemption: not "
                                   "eligible due to a terminating pod on the nominated node..");
    k1s_sched_result_free(&r);
    /* without the nomination it may preempt (the terminating pod is still a victim) */
    json_object_del(pre, "status");
    k1s_sched_schedule(&cl.c, pre, &r);
    assert_true(r.nominated);
    k1s_sched_result_free(&r);
    /* nothing to preempt: the nomination is to be cleared */
    json_t *low = mkpod("low", "1", NULL, "'priority':0", NULL);
    json_object_set_new(low, "status", J("{'nominatedNodeName':'a'}"));
    k1s_sched_schedule(&cl.c, low, &r);
    assert_false(r.nominated);
    assert_true(r.clear_nomination);
    k1s_sched_result_free(&r);
    json_decref(low);
    json_decref(pre);
    cl_free(&cl);
}

static const char *victim0(const k1s_sched_result_t *r)
{
    return json_string_value(
        json_object_get(json_object_get(json_array_get(r->victims, 0), "metadata"), "name"));
}

/* Preemption avoids evicting pods a PodDisruptionBudget protects. */
static void test_preemption_pdb(void **state)
{
    cluster_t cl;
    cl_init(&cl);
    k1s_sched_node_t *a = cl_add(&cl, mknode("a", "2", "8Gi", 110, NULL, NULL));
    bind(a, mkpod("db", "1", NULL, "'priority':1", "'labels':{'app':'db'}"));
    bind(a, mkpod("web", "1", NULL, "'priority':2", "'labels':{'app':'web'}"));
    json_t *pod = mkpod("p", "1", NULL, "'priority':100", NULL);
    k1s_sched_result_t r;
    /* without a PDB the least important pod goes */
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_true(r.nominated);
    assert_string_equal(victim0(&r), "db");
    k1s_sched_result_free(&r);
    /* with db protected (no disruption allowed) web goes instead */
    json_t *pdb = J("{'metadata':{'name':'db','namespace':'default'},'spec':{'selector':"
                    "{'matchLabels':{'app':'db'}}},'status':{'disruptionsAllowed':0}}");
    const json_t *pdbs[] = {pdb};
    cl.c.pdbs = pdbs;
    cl.c.n_pdbs = 1;
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_true(r.nominated);
    assert_int_equal(json_array_size(r.victims), 1);
    assert_string_equal(victim0(&r), "web");
    k1s_sched_result_free(&r);
    /* a node where the eviction violates the PDB loses to one where it does not, even with a
     * more important victim there */
    k1s_sched_node_t *b = cl_add(&cl, mknode("b", "1", "8Gi", 110, NULL, NULL));
    bind(b, mkpod("db2", "1", NULL, "'priority':1", "'labels':{'app':'db'}"));
    k1s_sched_node_t *c = cl_add(&cl, mknode("c", "1", "8Gi", 110, NULL, NULL));
    bind(c, mkpod("batch", "1", NULL, "'priority':50", "'labels':{'app':'batch'}"));
    json_decref(pod);
    pod =
        mkpod("p", "1", NULL, "'priority':100,'nodeSelector':{'kubernetes.io/hostname':'b'}", NULL);
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_true(r.nominated); /* b is the only choice: the PDB does not forbid, it discourages */
    assert_string_equal(victim0(&r), "db2");
    k1s_sched_result_free(&r);
    json_decref(pod);
    pod = mkpod("p", "1", NULL,
                "'priority':100,'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnored"
                "DuringExecution':{'nodeSelectorTerms':[{'matchExpressions':[{'key':"
                "'kubernetes.io/hostname','operator':'In','values':['b','c']}]}]}}}",
                NULL);
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_true(r.nominated);
    assert_string_equal(cl.nodes[r.nominated_node]->name, "c");
    k1s_sched_result_free(&r);
    cl.c.pdbs = NULL;
    cl.c.n_pdbs = 0;
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_string_equal(cl.nodes[r.nominated_node]->name, "b");
    k1s_sched_result_free(&r);
    json_decref(pod);
    json_decref(pdb);
    cl_free(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_filter_unschedulable_and_name),
        cmocka_unit_test(test_filter_taints),
        cmocka_unit_test(test_filter_node_affinity),
        cmocka_unit_test(test_filter_resources),
        cmocka_unit_test(test_filter_ports),
        cmocka_unit_test(test_filter_inter_pod),
        cmocka_unit_test(test_filter_volumes),
        cmocka_unit_test(test_volume_binding),
        cmocka_unit_test(test_filter_spread),
        cmocka_unit_test(test_score_resources),
        cmocka_unit_test(test_score_node_affinity_and_taints),
        cmocka_unit_test(test_score_images),
        cmocka_unit_test(test_score_inter_pod),
        cmocka_unit_test(test_score_spread),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_preemption),
        cmocka_unit_test(test_nominated),
        cmocka_unit_test(test_preemption_pdb),
        cmocka_unit_test(test_pick_and_ties),
        cmocka_unit_test(test_sampling),
        cmocka_unit_test(test_random_consistency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
