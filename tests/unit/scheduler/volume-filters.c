/* Unit tests for src/scheduler/volumerestrictions.c, volumelimits.c and volumezone.c: the
 * VolumeRestrictions, NodeVolumeLimits and VolumeZone filters, with their reasons and status
 * codes, as kube-scheduler's plugins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

static json_t *mknode(const char *name, const char *labels)
{
    return J("{'metadata':{'name':'%s','labels':{'kubernetes.io/hostname':'%s'%s%s}},"
             "'spec':{},'status':{'allocatable':{'cpu':'4','memory':'8Gi','pods':'110'}}}",
             name, name, labels ? "," : "", labels ? labels : "");
}

/* A pod in namespace default with the given volumes (a JSON array body) and extra spec. */
static json_t *mkpod(const char *name, const char *volumes, const char *extra_spec)
{
    return J("{'metadata':{'name':'%s','namespace':'default','uid':'uid-%s'},"
             "'spec':{'containers':[{'name':'c','image':'nginx'}],'volumes':[%s]%s%s}}",
             name, name, volumes ? volumes : "", extra_spec ? "," : "",
             extra_spec ? extra_spec : "");
}

#define CLAIM(vol, claim) "{'name':'" vol "','persistentVolumeClaim':{'claimName':'" claim "'}}"

typedef struct {
    k1s_sched_cluster_t c;
    k1s_sched_node_t *nodes[16];
    json_t *objs; /* "Kind/namespace/name" -> object */
} cluster_t;

static const json_t *lookup(void *arg, const char *kind, const char *ns, const char *name)
{
    cluster_t *cl = arg;
    char key[256];
    snprintf(key, sizeof(key), "%s/%s/%s", kind, ns ? ns : "", name);
    return json_object_get(cl->objs, key);
}

static void cl_init(cluster_t *cl, json_t *objs)
{
    memset(cl, 0, sizeof(*cl));
    cl->c.nodes = cl->nodes;
    cl->c.rng = 42;
    cl->c.lookup = lookup;
    cl->c.lookup_arg = cl;
    cl->objs = objs;
}

static k1s_sched_node_t *cl_add(cluster_t *cl, json_t *node)
{
    k1s_sched_node_t *n = k1s_sched_node_new(node);
    json_decref(node);
    cl->nodes[cl->c.n_nodes++] = n;
    return n;
}

static void cl_free(cluster_t *cl)
{
    for (size_t i = 0; i < cl->c.n_nodes; i++)
        k1s_sched_node_free(cl->nodes[i]);
    json_decref(cl->objs);
}

static void bind(k1s_sched_node_t *n, json_t *pod)
{
    k1s_sched_node_add_pod(n, pod);
    json_decref(pod);
}

/* The status of node i for pod, as "code:plugin:reason", or the PreFilter message. */
static void expect_filter(cluster_t *cl, json_t *pod, size_t i, const char *want)
{
    char *pre = NULL;
    k1s_sched_pod_t *p = k1s_sched_pod_new(&cl->c, pod, &pre);
    char *got;
    if (!p) {
        got = pre;
    } else {
        k1s_sched_status_t st;
        k1s_sched_filter(&cl->c, p, i, &st);
        if (st.code == K1S_SCHED_OK)
            got = k1s_xstrdup("0");
        else
            got = k1s_xasprintf("%d:%d:%s", st.code, st.plugin, st.reasons[0]);
        k1s_sched_status_clear(&st);
        k1s_sched_pod_free(p);
    }
    assert_string_equal(got, want);
    free(got);
    json_decref(pod);
}

static void expect_schedule(cluster_t *cl, json_t *pod, const char *want)
{
    k1s_sched_result_t r;
    k1s_sched_schedule(&cl->c, pod, &r);
    char *got = r.scheduled ? k1s_xstrdup(cl->nodes[r.node]->name) : k1s_xstrdup(r.message);
    k1s_sched_result_free(&r);
    json_decref(pod);
    assert_string_equal(got, want);
    free(got);
}

#define ZONE "topology.kubernetes.io/zone"
#define REGION "topology.kubernetes.io/region"
#define BETA_ZONE "failure-domain.beta.kubernetes.io/zone"

/* A bound claim cN on PV pv-N with the given PV labels. */
#define BOUND(n, labels)                                                                           \
    "'PersistentVolumeClaim/default/c" n "':{'metadata':{'name':'c" n "','namespace':'default'},"  \
    "'spec':{'volumeName':'pv-" n "'}},"                                                           \
    "'PersistentVolume//pv-" n "':{'metadata':{'name':'pv-" n "','labels':{" labels "}},"          \
    "'spec':{'capacity':{'storage':'1Gi'}}}"

static void test_volume_zone(void **state)
{
    cluster_t cl;
    cl_init(
        &cl,
        J("{" BOUND("1", "'" ZONE "':'us-east-1a'") "," BOUND(
            "2",
            "'" BETA_ZONE "':'us-east-"
            "1b'") "," BOUND("3",
                             "'" ZONE
                             "':'us-east-1a__us-east-1b'") "," BOUND("4",
                                                                     "'" REGION
                                                                     "':'us-west-2'") "," BOUND("5",
                                                                                                "'" ZONE
                                                                                                "':"
                                                                                                "'u"
                                                                                                "s-"
                                                                                                "ea"
                                                                                                "st"
                                                                                                "-1"
                                                                                                "a_"
                                                                                                "_"
                                                                                                "'") "," BOUND("6",
                                                                                                               "'app':'db'") ","
                                                                                                                             "'Persistent"
                                                                                                                             "VolumeClaim"
                                                                                                                             "/default/"
                                                                                                                             "wait':{'"
                                                                                                                             "spec':{'"
                                                                                                                             "storageClas"
                                                                                                                             "sName':'"
                                                                                                                             "local'}},"
                                                                                                                             "'StorageCla"
                                                                                                                             "ss//"
                                                                                                                             "local':{'"
                                                                                                                             "volumeBindi"
                                                                                                                             "ngMode':'"
                                                                                                                             "WaitForFirs"
                                                                                                                             "tConsumer',"
                                                                                                                             "'provisione"
                                                                                                                             "r':'"
                                                                                                                             "example."
                                                                                                                             "com/p'}}"));
    cl_add(&cl, mknode("a", "'" ZONE "':'us-east-1a','" REGION "':'us-east-1'"));
    cl_add(&cl, mknode("b", "'" ZONE "':'us-east-1b','" REGION "':'us-east-1'"));
    cl_add(&cl, mknode("c", NULL));                           /* no zone: single-zone cluster */
    cl_add(&cl, mknode("d", "'" BETA_ZONE "':'us-east-1a'")); /* legacy labels only */
    const char *none = "2:9:node(s) had no available volume zone";
    /* a GA zone label */
    expect_filter(&cl, mkpod("p", CLAIM("v", "c1"), NULL), 0, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "c1"), NULL), 1, none);
    expect_filter(&cl, mkpod("p", CLAIM("v", "c1"), NULL), 2, "0");
    /* the PV's GA label is not looked for under the node's legacy name */
    expect_filter(&cl, mkpod("p", CLAIM("v", "c1"), NULL), 3, none);
    /* a PV's legacy label matches the node's legacy or GA label */
    expect_filter(&cl, mkpod("p", CLAIM("v", "c2"), NULL), 0, none);
    expect_filter(&cl, mkpod("p", CLAIM("v", "c2"), NULL), 1, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "c2"), NULL), 3, none);
    /* multi-zone values */
    expect_filter(&cl, mkpod("p", CLAIM("v", "c3"), NULL), 0, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "c3"), NULL), 1, "0");
    /* a region */
    expect_filter(&cl, mkpod("p", CLAIM("v", "c4"), NULL), 0, none);
    expect_filter(&cl, mkpod("p", CLAIM("v", "c4"), NULL), 2, "0");
    /* a malformed value is ignored, other labels do not matter, nor do unbound claims */
    expect_filter(&cl, mkpod("p", CLAIM("v", "c5"), NULL), 1, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "c6"), NULL), 1, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "wait"), NULL), 1, "0");
    /* every volume must fit: zone a and zone b */
    expect_filter(&cl, mkpod("p", CLAIM("v", "c1") "," CLAIM("w", "c2"), NULL), 0, none);
    expect_filter(&cl, mkpod("p", CLAIM("v", "c1") "," CLAIM("w", "c3"), NULL), 0, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "c1") "," CLAIM("w", "c2"), NULL), 2, "0");
    /* the FailedScheduling message; preemption cannot help */
    expect_schedule(&cl, mkpod("p", CLAIM("v", "c2"), "'nodeSelector':{'" REGION "':'us-east-1'}"),
                    "b");
    expect_schedule(&cl, mkpod("p", CLAIM("v", "c4"), "'nodeSelector':{'" REGION "':'us-east-1'}"),
                    "0/4 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, "
                    "2 node(s) had no available volume zone. preemption: 0/4 nodes are available: "
                    "4 Preemption is not helpful for scheduling..");
    cl_free(&cl);
}

#define DRIVER "ebs.csi.example.com"

/* A claim cN bound to a CSI PV of DRIVER with handle hN. */
#define CSI_BOUND(n, driver)                                                                       \
    "'PersistentVolumeClaim/default/c" n "':{'metadata':{'name':'c" n "','namespace':'default'},"  \
    "'spec':{'volumeName':'pv-" n "'}},"                                                           \
    "'PersistentVolume//pv-" n "':{'metadata':{'name':'pv-" n "'},"                                \
    "'spec':{'csi':{'driver':'" driver "','volumeHandle':'h" n "'}}}"

static void test_volume_limits(void **state)
{
    cluster_t cl;
    cl_init(
        &cl,
        J("{" CSI_BOUND("1", DRIVER) "," CSI_BOUND("2", DRIVER) "," CSI_BOUND(
            "3",
            DRIVER) "," CSI_BOUND("4",
                                  "other.csi.example.com") ","
                                                           "'PersistentVolume//"
                                                           "pv-5':{'metadata':{'name':'pv-5'},"
                                                           "'spec':{'csi':{'driver':'" DRIVER
                                                           "','volumeHandle':'h1'}}},"
                                                           "'PersistentVolumeClaim/default/"
                                                           "c5':{'metadata':{'name':'c5',"
                                                           "'namespace':'default'},'spec':{'"
                                                           "volumeName':'pv-5'}},"
                                                           "'PersistentVolumeClaim/default/"
                                                           "wait':{'metadata':{'name':'wait',"
                                                           "'namespace':'default'},'spec':{'"
                                                           "storageClassName':'wffc'}},"
                                                           "'PersistentVolumeClaim/default/"
                                                           "nfs':{'metadata':{'name':'nfs',"
                                                           "'namespace':'default'},'spec':{'"
                                                           "volumeName':'pv-nfs'}},"
                                                           "'PersistentVolume//"
                                                           "pv-nfs':{'metadata':{'name':'pv-nfs'},"
                                                           "'spec':{'nfs':{'server':'x','path':'/"
                                                           "'}}},"
                                                           "'StorageClass//"
                                                           "wffc':{'volumeBindingMode':'"
                                                           "WaitForFirstConsumer',"
                                                           "'provisioner':'" DRIVER "'},"
                                                           "'PersistentVolumeClaim/default/"
                                                           "e-scratch':{'metadata':{'name':'e-"
                                                           "scratch',"
                                                           "'namespace':'default','ownerReferences'"
                                                           ":[{'apiVersion':'v1','kind':'Pod',"
                                                           "'name':'e','uid':'uid-e','controller':"
                                                           "true}]},'spec':{'volumeName':'pv-3'}},"
                                                           "'CSINode//"
                                                           "a':{'metadata':{'name':'a'},'spec':{'"
                                                           "drivers':["
                                                           "{'name':'" DRIVER
                                                           "','nodeID':'a','allocatable':{'count':"
                                                           "2}},"
                                                           "{'name':'other.csi.example.com','"
                                                           "nodeID':'a'}]}},"
                                                           "'CSINode//"
                                                           "b':{'metadata':{'name':'b'},'spec':{'"
                                                           "drivers':["
                                                           "{'name':'" DRIVER
                                                           "','nodeID':'b'}]}}}"));
    k1s_sched_node_t *a = cl_add(&cl, mknode("a", NULL));
    cl_add(&cl, mknode("b", NULL)); /* a CSINode without counts */
    cl_add(&cl, mknode("c", NULL)); /* no CSINode */
    const char *exceed = "1:7:node(s) exceed max volume count";
    /* one volume in use on a: room for one more */
    bind(a, mkpod("p1", CLAIM("v", "c1"), "'nodeName':'a'"));
    expect_filter(&cl, mkpod("p", CLAIM("v", "c2"), NULL), 0, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "c2") "," CLAIM("w", "c3"), NULL), 0, exceed);
    /* a volume already attached counts once (another claim of the same PV handle too) */
    expect_filter(&cl, mkpod("p", CLAIM("v", "c1") "," CLAIM("w", "c2"), NULL), 0, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "c5") "," CLAIM("w", "c2"), NULL), 0, "0");
    /* full */
    bind(a, mkpod("p2", CLAIM("v", "c2"), "'nodeName':'a'"));
    expect_filter(&cl, mkpod("p", CLAIM("v", "c3"), NULL), 0, exceed);
    expect_filter(&cl, mkpod("p", CLAIM("v", "c1"), NULL), 0, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "c3"), NULL), 1, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "c3"), NULL), 2, "0");
    /* other drivers, drivers without a count, and non-CSI volumes are not limited */
    expect_filter(&cl, mkpod("p", CLAIM("v", "c4"), NULL), 0, "0");
    expect_filter(&cl, mkpod("p", CLAIM("v", "nfs"), NULL), 0, "0");
    expect_filter(&cl, mkpod("p", "{'name':'t','emptyDir':{}}", NULL), 0, "0");
    /* an unbound claim counts for its class's provisioner */
    expect_filter(&cl, mkpod("p", CLAIM("v", "wait"), NULL), 0, exceed);
    expect_filter(&cl, mkpod("p", CLAIM("v", "wait"), NULL), 2, "0");
    /* a generic ephemeral volume counts through its claim "<pod>-<volume>" */
    const char *eph = "{'name':'scratch','ephemeral':{'volumeClaimTemplate':{'spec':{}}}}";
    expect_filter(&cl, mkpod("e", eph, NULL), 0, exceed);
    expect_filter(&cl, mkpod("e", eph, NULL), 2, "0");
    expect_filter(&cl, mkpod("f", eph, NULL), 0,
                  "waiting for ephemeral volume controller to create the persistentvolumeclaim "
                  "\"f-scratch\"");
    /* an ephemeral claim that is not the pod's */
    json_object_set_new(cl.objs, "PersistentVolumeClaim/default/f-scratch",
                        J("{'metadata':{'name':'f-scratch','namespace':'default'},"
                          "'spec':{'volumeName':'pv-3'}}"));
    expect_filter(&cl, mkpod("f", eph, NULL), 0,
                  "PVC default/f-scratch was not created for pod default/f (pod is not owner)");
    /* the message: preemption can help when lower-priority pods hold the volumes */
    cl.c.n_nodes = 1;
    expect_schedule(&cl, mkpod("p", CLAIM("v", "c3"), NULL),
                    "0/1 nodes are available: 1 node(s) exceed max volume count. preemption: 0/1 "
                    "nodes are available: 1 No preemption victims found for incoming pod..");
    k1s_sched_result_t r;
    json_t *pod = mkpod("p", CLAIM("v", "c3"), "'priority':1000");
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_false(r.scheduled);
    assert_true(r.nominated);
    assert_int_equal(json_array_size(r.victims), 1);
    k1s_sched_result_free(&r);
    json_decref(pod);
    cl.c.n_nodes = 3;
    /* room again once a pod using a volume goes away */
    assert_int_equal(k1s_sched_node_remove_pod(a, "default", "p2"), 0);
    expect_filter(&cl, mkpod("p", CLAIM("v", "c3"), NULL), 0, "0");
    cl_free(&cl);
}

static void test_volume_restrictions(void **state)
{
    cluster_t cl;
    cl_init(&cl, J("{'PersistentVolumeClaim/default/solo':{'metadata':{'name':'solo'},"
                   "'spec':{'accessModes':['ReadWriteOncePod'],'volumeName':'pv-solo'}},"
                   "'PersistentVolume//pv-solo':{'metadata':{'name':'pv-solo'},'spec':{}},"
                   "'PersistentVolumeClaim/default/shared':{'metadata':{'name':'shared'},"
                   "'spec':{'accessModes':['ReadWriteOnce'],'volumeName':'pv-shared'}},"
                   "'PersistentVolume//pv-shared':{'metadata':{'name':'pv-shared'},'spec':{}}}"));
    k1s_sched_node_t *a = cl_add(&cl, mknode("a", NULL));
    cl_add(&cl, mknode("b", NULL));
    bind(a, mkpod("disks",
                  "{'name':'g','gcePersistentDisk':{'pdName':'d1'}},"
                  "{'name':'e','awsElasticBlockStore':{'volumeID':'vol-1','readOnly':true}},"
                  "{'name':'i','iscsi':{'iqn':'iqn.2001-04.com.example:t','targetPortal':'p',"
                  "'lun':0,'readOnly':true}},"
                  "{'name':'r','rbd':{'monitors':['m1','m2'],'image':'img'}}",
                  "'nodeName':'a'"));
    const char *disk = "1:6:node(s) had no available disk";
    /* the same GCE PD, unless both are read-only (the existing one is not) */
    expect_filter(&cl, mkpod("p", "{'name':'x','gcePersistentDisk':{'pdName':'d1'}}", NULL), 0,
                  disk);
    expect_filter(
        &cl, mkpod("p", "{'name':'x','gcePersistentDisk':{'pdName':'d1','readOnly':true}}", NULL),
        0, disk);
    expect_filter(&cl, mkpod("p", "{'name':'x','gcePersistentDisk':{'pdName':'d2'}}", NULL), 0,
                  "0");
    expect_filter(&cl, mkpod("p", "{'name':'x','gcePersistentDisk':{'pdName':'d1'}}", NULL), 1,
                  "0");
    /* the same EBS volume, read-only or not */
    expect_filter(&cl,
                  mkpod("p",
                        "{'name':'x','awsElasticBlockStore':{'volumeID':'vol-1',"
                        "'readOnly':true}}",
                        NULL),
                  0, disk);
    /* iSCSI: read-only mounts share */
    expect_filter(&cl,
                  mkpod("p",
                        "{'name':'x','iscsi':{'iqn':'iqn.2001-04.com.example:t',"
                        "'targetPortal':'q','lun':1,'readOnly':true}}",
                        NULL),
                  0, "0");
    expect_filter(&cl,
                  mkpod("p",
                        "{'name':'x','iscsi':{'iqn':'iqn.2001-04.com.example:t',"
                        "'targetPortal':'q','lun':1}}",
                        NULL),
                  0, disk);
    /* RBD: a monitor in common, the same pool (default rbd) and image */
    expect_filter(
        &cl,
        mkpod("p", "{'name':'x','rbd':{'monitors':['m2','m3'],'pool':'rbd','image':'img'}}", NULL),
        0, disk);
    expect_filter(
        &cl,
        mkpod("p", "{'name':'x','rbd':{'monitors':['m2'],'pool':'other','image':'img'}}", NULL), 0,
        "0");
    expect_filter(&cl, mkpod("p", "{'name':'x','rbd':{'monitors':['m9'],'image':'img'}}", NULL), 0,
                  "0");
    /* a ReadWriteOncePod claim in use keeps the pod from every node */
    const char *rwop = "1:6:node has pod using PersistentVolumeClaim with the same name and "
                       "ReadWriteOncePod access mode";
    expect_filter(&cl, mkpod("p", CLAIM("v", "solo"), NULL), 0, "0");
    bind(a, mkpod("holder", CLAIM("v", "solo") "," CLAIM("w", "shared"), "'nodeName':'a'"));
    expect_filter(&cl, mkpod("p", CLAIM("v", "solo"), NULL), 0, rwop);
    expect_filter(&cl, mkpod("p", CLAIM("v", "solo"), NULL), 1, rwop);
    expect_filter(&cl, mkpod("p", CLAIM("v", "shared"), NULL), 1, "0");
    /* a claim of the same name in another namespace is another claim */
    json_t *other = J("{'metadata':{'name':'o','namespace':'other'},'spec':{'nodeName':'a',"
                      "'containers':[{'name':'c'}],'volumes':[" CLAIM("v", "solo") "]}}");
    k1s_sched_node_remove_pod(a, "default", "holder");
    bind(a, other);
    expect_filter(&cl, mkpod("p", CLAIM("v", "solo"), NULL), 1, "0");
    /* preemption evicts the holder when it is less important, on its node */
    bind(a, mkpod("holder", CLAIM("v", "solo"), "'nodeName':'a'"));
    expect_schedule(&cl, mkpod("p", CLAIM("v", "solo"), NULL),
                    "0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with the "
                    "same name and ReadWriteOncePod access mode. preemption: 0/2 nodes are "
                    "available: 2 No preemption victims found for incoming pod..");
    k1s_sched_result_t r;
    json_t *pod = mkpod("p", CLAIM("v", "solo"), "'priority':1000");
    k1s_sched_schedule(&cl.c, pod, &r);
    assert_false(r.scheduled);
    assert_true(r.nominated);
    assert_string_equal(cl.nodes[r.nominated_node]->name, "a");
    assert_int_equal(json_array_size(r.victims), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(r.victims, 0), "metadata"), "name")),
                        "holder");
    k1s_sched_result_free(&r);
    json_decref(pod);
    cl_free(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_volume_restrictions),
        cmocka_unit_test(test_volume_zone),
        cmocka_unit_test(test_volume_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
