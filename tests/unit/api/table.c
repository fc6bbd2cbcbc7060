/*
 * Unit tests for src/api/table*.c: column definitions and cells checked
 * against what kube-apiserver 1.32 returns for the same objects.
 *
 * Objects and expected cells are written as JSON with single quotes for
 * readability; J() turns them into double quotes before parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/registry.h"
#include "api/table.h"
#include "lib/util.h"

/* 2024-06-01T12:00:00Z */
#define NOW ((time_t)1717243200)

static json_t *J(const char *s)
{
    char *d = k1s_xstrdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t e;
    json_t *v = json_loads(d, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad test JSON at %d:%d: %s\n%s", e.line, e.column, e.text, d);
    free(d);
    return v;
}

static const k1s_resource_t *R(const char *group, const char *plural)
{
    size_t n;
    const k1s_resource_t *const *all = k1s_registry_all(&n);
    for (size_t i = 0; i < n; i++)
        if (k1s_streq(all[i]->group, group) && k1s_streq(all[i]->plural, plural))
            return all[i];
    fail_msg("no resource %s/%s", group, plural);
    return NULL;
}

static void expect_json(json_t *got, const char *want_src)
{
    json_t *want = J(want_src);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
        print_error("got  %s\nwant %s\n", g, w);
        free(g);
        free(w);
        json_decref(want);
        json_decref(got);
        fail();
    }
    json_decref(want);
    json_decref(got);
}

/* Checks the cells of obj (NULL source: a NULL object) against want. */
static void check(const char *group, const char *plural, const char *obj_src, const char *want)
{
    const k1s_resource_t *r = R(group, plural);
    json_t *obj = obj_src ? J(obj_src) : NULL;
    json_t *cols = k1s_table_columns(r);
    json_t *cells = k1s_table_cells(r, obj, NOW);
    assert_int_equal(json_array_size(cells), json_array_size(cols));
    json_decref(cols);
    json_decref(obj);
    expect_json(cells, want);
}

static void age_is(double seconds, const char *want)
{
    char buf[32];
    k1s_table_age(buf, sizeof(buf), seconds);
    assert_string_equal(buf, want);
}

static void short_age_is(double seconds, const char *want)
{
    char buf[32];
    k1s_table_short_age(buf, sizeof(buf), seconds);
    assert_string_equal(buf, want);
}

static void test_human_duration(void **state)
{
    age_is(-5, "<invalid>");
    age_is(-2, "<invalid>");
    age_is(-1.5, "0s");
    age_is(-1, "0s");
    age_is(0, "0s");
    age_is(0.9, "0s");
    age_is(5, "5s");
    age_is(119.9, "119s");
    age_is(120, "2m");
    age_is(190, "3m10s");
    age_is(599, "9m59s");
    age_is(600, "10m");
    age_is(3 * 3600 - 1, "179m");
    age_is(3 * 3600, "3h");
    age_is(5 * 3600 + 3 * 60 + 7, "5h3m");
    age_is(8 * 3600 - 60, "7h59m");
    age_is(8 * 3600, "8h");
    age_is(47 * 3600 + 3599, "47h");
    age_is(48 * 3600, "2d");
    age_is(51 * 3600, "2d3h");
    age_is(7 * 86400 + 23 * 3600, "7d23h");
    age_is(8 * 86400, "8d");
    age_is(729 * 86400, "729d");
    age_is(730 * 86400, "2y");
    age_is(760 * 86400, "2y30d");
    age_is(8 * 365 * 86400, "8y");
    age_is(1e12, "292y"); /* time.Duration saturates */
    age_is(0.0 / 0.0, "<invalid>");

    short_age_is(-3, "<invalid>");
    short_age_is(-1, "0s");
    short_age_is(59, "59s");
    short_age_is(60, "1m");
    short_age_is(3599, "59m");
    short_age_is(3600, "1h");
    short_age_is(86399, "23h");
    short_age_is(86400, "1d");
    short_age_is(364 * 86400, "364d");
    short_age_is(365 * 86400, "1y");
}

static void test_columns(void **state)
{
    json_t *cols = k1s_table_columns(R("", "pods"));
    expect_json(json_incref(json_array_get(cols, 0)),
                "{'name':'Name','type':'string','format':'name','description':'Name must be unique "
                "within a namespace. Is required when creating resources, although some resources "
                "may allow a client to request the generation of an appropriate name "
                "automatically. Name is primarily intended for creation idempotence and "
                "configuration definition. Cannot be updated. More info: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/"
                "names#names','priority':0}");
    expect_json(json_incref(json_array_get(cols, 3)),
                "{'name':'Restarts','type':'string','format':'','description':'The number of "
                "times the containers in this pod have been restarted and when the last "
                "container in this pod has restarted.','priority':0}");
    /* the keys come in metav1.TableColumnDefinition's order */
    char *s = json_dumps(json_array_get(cols, 5), JSON_COMPACT);
    assert_string_equal(s, "{\"name\":\"IP\",\"type\":\"string\",\"format\":\"\",\"description\":"
                           "\"podIP address allocated to the pod. Routable at least within the "
                           "cluster. Empty if not yet allocated.\",\"priority\":1}");
    free(s);
    const char *names[] = {"Name", "Ready", "Status",         "Restarts",       "Age",
                           "IP",   "Node",  "Nominated Node", "Readiness Gates"};
    assert_int_equal(json_array_size(cols), K1S_ARRAY_SIZE(names));
    for (size_t i = 0; i < K1S_ARRAY_SIZE(names); i++) {
        json_t *c = json_array_get(cols, i);
        assert_string_equal(json_string_value(json_object_get(c, "name")), names[i]);
        assert_int_equal(json_integer_value(json_object_get(c, "priority")), i >= 5 ? 1 : 0);
    }
    json_decref(cols);

    /* the creationTimestamp doc keeps its paragraph break */
    cols = k1s_table_columns(R("apps", "deployments"));
    const char *age = json_string_value(json_object_get(json_array_get(cols, 4), "description"));
    assert_non_null(strstr(age, "in UTC.\n\nPopulated by the system."));
    json_decref(cols);

    /* every resource: well-formed definitions, a Name column with format "name" */
    size_t n;
    const k1s_resource_t *const *all = k1s_registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        cols = k1s_table_columns(all[i]);
        assert_true(json_array_size(cols) >= 2);
        bool has_name = false;
        for (size_t j = 0; j < json_array_size(cols); j++) {
            json_t *c = json_array_get(cols, j);
            assert_int_equal(json_object_size(c), 5);
            assert_true(json_string_length(json_object_get(c, "description")) > 0);
            if (k1s_streq(json_string_value(json_object_get(c, "format")), "name"))
                has_name = true;
        }
        assert_true(has_name);
        json_decref(cols);
    }
}

static void test_default_table(void **state)
{
    json_t *cols = k1s_table_columns(R("rbac.authorization.k8s.io", "clusterroles"));
    assert_int_equal(json_array_size(cols), 2);
    json_t *c = json_array_get(cols, 1);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "Created At");
    assert_string_equal(json_string_value(json_object_get(c, "type")), "date");
    json_decref(cols);

    check("rbac.authorization.k8s.io", "roles",
          "{'metadata':{'name':'admin','creationTimestamp':'2024-01-02T03:04:05Z'}}",
          "['admin','2024-01-02T03:04:05Z']");
    check("", "limitranges",
          "{'metadata':{'name':'limits','creationTimestamp':'2024-01-02T05:04:05.5+02:00'}}",
          "['limits','2024-01-02T03:04:05Z']");
    check("rbac.authorization.k8s.io", "clusterroles", "{}", "['','0001-01-01T00:00:00Z']");
    check("", "limitranges", NULL, "['','0001-01-01T00:00:00Z']");
    check("rbac.authorization.k8s.io", "roles",
          "{'metadata':{'name':'old','creationTimestamp':'1969-12-31T23:59:59-00:30'}}",
          "['old','1970-01-01T00:29:59Z']");
}

#define POD_META(name, created) "'metadata':{'name':'" name "','creationTimestamp':'" created "'}"

static void test_pod_running(void **state)
{
    check("", "pods",
          "{" POD_META("web", "2024-06-01T11:55:00Z") ","
                                                      "'spec':{'nodeName':'node1','containers':[{'"
                                                      "name':'a'},{'name':'b'}]},"
                                                      "'status':{'phase':'Running','podIP':'10.42."
                                                      "0.5','podIPs':[{'ip':'10.42.0.5'}],"
                                                      "'conditions':[{'type':'Ready','status':'"
                                                      "True'}],'containerStatuses':["
                                                      "{'name':'a','ready':true,'restartCount':0,'"
                                                      "state':{'running':{}}},"
                                                      "{'name':'b','ready':true,'restartCount':0,'"
                                                      "state':{'running':{}}}]}}",
          "['web','2/2','Running','0','5m','10.42.0.5','node1','<none>','<none>']");
    /* podIPs only; nominated node */
    check("", "pods",
          "{" POD_META("p6", "2024-06-01T11:59:30Z") ",'spec':{'containers':[{'name':'a'}]},"
                                                     "'status':{'phase':'Pending','podIPs':[{'ip':'"
                                                     "fd00::5'}],'nominatedNodeName':'n2'}}",
          "['p6','0/1','Pending','0','30s','fd00::5','<none>','n2','<none>']");
}

static void test_pod_waiting(void **state)
{
    check(
        "", "pods",
        "{" POD_META(
            "p", "2024-06-01T11:59:30Z") ","
                                         "'spec':{'nodeName':'node1','containers':[{'name':'a'}]},"
                                         "'status':{'phase':'Pending','containerStatuses':[{'name':"
                                         "'a','ready':false,"
                                         "'restartCount':0,'state':{'waiting':{'reason':'"
                                         "ContainerCreating'}}}]}}",
        "['p','0/1','ContainerCreating','0','30s','<none>','node1','<none>','<none>']");
    check("", "pods",
          "{" POD_META(
              "crash",
              "2024-05-30T09:00:00Z") ",'spec':{'containers':[{'name':'a'}]},"
                                      "'status':{'phase':'Running','containerStatuses':[{'name':'a'"
                                      ",'ready':false,"
                                      "'restartCount':5,'state':{'waiting':{'reason':'"
                                      "CrashLoopBackOff','message':'back-off'}},"
                                      "'lastState':{'terminated':{'exitCode':1,'reason':'Error',"
                                      "'finishedAt':'2024-06-01T11:55:00Z'}}}]}}",
          "['crash','0/1','CrashLoopBackOff','5 (5m ago)','2d3h','<none>','<none>','<none>',"
          "'<none>']");
    /* restarts without a recorded termination time: no "ago" */
    check("", "pods",
          "{" POD_META("r", "2024-05-30T09:00:00Z") ",'spec':{'containers':[{'name':'a'}]},"
                                                    "'status':{'phase':'Running','"
                                                    "containerStatuses':[{'name':'a','ready':true,"
                                                    "'restartCount':2,'state':{'running':{}}}]}}",
          "['r','1/1','Running','2','2d3h','<none>','<none>','<none>','<none>']");
}

static void test_pod_terminated(void **state)
{
    const char *complete = "{" POD_META(
        "job-x", "2024-06-01T11:00:00Z") ",'spec':{'containers':[{'name':'a'}]},"
                                         "'status':{'phase':'Succeeded','containerStatuses':[{'"
                                         "name':'a','ready':false,"
                                         "'restartCount':0,'state':{'terminated':{'exitCode':0,'"
                                         "reason':'Completed'}}}]}}";
    check("", "pods", complete,
          "['job-x','0/1','Completed','0','60m','<none>','<none>','<none>','<none>']");
    check(
        "", "pods",
        "{" POD_META("bad", "2024-06-01T11:00:00Z") ",'spec':{'containers':[{'name':'a'}]},"
                                                    "'status':{'phase':'Failed','containerStatuses'"
                                                    ":[{'name':'a','ready':false,"
                                                    "'restartCount':0,'state':{'terminated':{'"
                                                    "exitCode':1,'reason':'Error'}}}]}}",
        "['bad','0/1','Error','0','60m','<none>','<none>','<none>','<none>']");
    check("", "pods",
          "{" POD_META(
              "sig",
              "2024-06-01T11:00:00Z") ",'spec':{'containers':[{'name':'a'}]},"
                                      "'status':{'phase':'Failed','containerStatuses':[{'name':'a',"
                                      "'state':{'terminated':{'exitCode':137,'signal':9}}}]}}",
          "['sig','0/1','Signal:9','0','60m','<none>','<none>','<none>','<none>']");
    check("", "pods",
          "{" POD_META(
              "ex",
              "2024-06-01T11:00:00Z") ",'spec':{'containers':[{'name':'a'}]},"
                                      "'status':{'phase':'Failed','containerStatuses':[{'name':'a',"
                                      "'state':{'terminated':{'exitCode':137}}}]}}",
          "['ex','0/1','ExitCode:137','0','60m','<none>','<none>','<none>','<none>']");
    /* one container completed, another still running: Running or NotReady by the Ready condition */
    const char *mixed = "{" POD_META(
        "mix", "2024-06-01T11:00:00Z") ","
                                       "'spec':{'containers':[{'name':'a'},{'name':'b'}]},"
                                       "'status':{'phase':'Running','conditions':[{'type':'Ready','"
                                       "status':'%s'}],"
                                       "'containerStatuses':[{'name':'a','ready':true,'state':{'"
                                       "running':{}}},"
                                       "{'name':'b','ready':false,'state':{'terminated':{'exitCode'"
                                       ":0,'reason':'Completed'}}}]}}";
    char *obj = k1s_xasprintf(mixed, "False");
    check("", "pods", obj,
          "['mix','1/2','NotReady','0','60m','<none>','<none>','<none>','<none>']");
    free(obj);
    obj = k1s_xasprintf(mixed, "True");
    check("", "pods", obj, "['mix','1/2','Running','0','60m','<none>','<none>','<none>','<none>']");
    free(obj);

    json_t *pod = J(complete);
    expect_json(k1s_table_row_conditions(R("", "pods"), pod),
                "[{'type':'Completed','status':'True','reason':'Succeeded',"
                "'message':'The pod has completed successfully.'}]");
    json_decref(pod);
    pod = J("{'status':{'phase':'Failed'}}");
    expect_json(k1s_table_row_conditions(R("", "pods"), pod),
                "[{'type':'Completed','status':'True','reason':'Failed',"
                "'message':'The pod failed.'}]");
    json_decref(pod);
    pod = J("{'status':{'phase':'Running'}}");
    assert_null(k1s_table_row_conditions(R("", "pods"), pod));
    assert_null(k1s_table_row_conditions(R("", "services"), pod));
    assert_null(k1s_table_row_conditions(R("", "pods"), NULL));
    json_decref(pod);
}

#define INIT_POD(name, init_status, ctr_status, conds)                                             \
    "{" POD_META(                                                                                  \
        name, "2024-06-01T11:50:00Z") ","                                                          \
                                      "'spec':{'initContainers':[{'name':'init'}],'containers':[{" \
                                      "'name':'a'}]},"                                             \
                                      "'status':{'phase':'Pending','conditions':[" conds "],"      \
                                      "'initContainerStatuses':[{'name':'init','ready':"           \
                                      "false," init_status "}],"                                   \
                                      "'containerStatuses':[{'name':'a','ready':false," ctr_status \
                                      "}]}}"

#define WAITING_INIT "'state':{'waiting':{'reason':'PodInitializing'}}"

static void test_pod_init(void **state)
{
    check("", "pods",
          INIT_POD("i1", "'restartCount':0,'state':{'running':{}}", WAITING_INIT,
                   "{'type':'Initialized','status':'False'}"),
          "['i1','0/1','Init:0/1','0','10m','<none>','<none>','<none>','<none>']");
    check("", "pods",
          INIT_POD("i2",
                   "'restartCount':2,'state':{'terminated':{'exitCode':1,'reason':'Error'}},"
                   "'lastState':{'terminated':{'exitCode':1,'finishedAt':'2024-06-01T11:55:00Z'}}",
                   WAITING_INIT, ""),
          "['i2','0/1','Init:Error','2 (5m ago)','10m','<none>','<none>','<none>','<none>']");
    check("", "pods",
          INIT_POD("i3", "'restartCount':3,'state':{'waiting':{'reason':'CrashLoopBackOff'}}",
                   WAITING_INIT, ""),
          "['i3','0/1','Init:CrashLoopBackOff','3','10m','<none>','<none>','<none>','<none>']");
    check("", "pods", INIT_POD("i4", "'state':{'terminated':{'exitCode':2}}", WAITING_INIT, ""),
          "['i4','0/1','Init:ExitCode:2','0','10m','<none>','<none>','<none>','<none>']");
    check("", "pods",
          INIT_POD("i5", "'state':{'terminated':{'exitCode':143,'signal':15}}", WAITING_INIT, ""),
          "['i5','0/1','Init:Signal:15','0','10m','<none>','<none>','<none>','<none>']");
    /* init done, main container waiting on PodInitializing */
    check("", "pods",
          INIT_POD("i6", "'state':{'terminated':{'exitCode':0,'reason':'Completed'}}", WAITING_INIT,
                   "{'type':'Initialized','status':'True'}"),
          "['i6','0/1','PodInitializing','0','10m','<none>','<none>','<none>','<none>']");
}

static void test_pod_sidecar(void **state)
{
    check(
        "", "pods",
        "{" POD_META("side", "2024-06-01T11:00:00Z") ","
                                                     "'spec':{'initContainers':[{'name':'proxy','"
                                                     "restartPolicy':'Always'}],"
                                                     "'containers':[{'name':'app'}]},"
                                                     "'status':{'phase':'Running','conditions':[{'"
                                                     "type':'Initialized','status':'True'},"
                                                     "{'type':'Ready','status':'True'}],"
                                                     "'initContainerStatuses':[{'name':'proxy','"
                                                     "ready':true,'started':true,'restartCount':2,"
                                                     "'state':{'running':{}},"
                                                     "'lastState':{'terminated':{'exitCode':1,'"
                                                     "finishedAt':'2024-06-01T11:50:00Z'}}}],"
                                                     "'containerStatuses':[{'name':'app','ready':"
                                                     "true,'restartCount':1,"
                                                     "'state':{'running':{}},"
                                                     "'lastState':{'terminated':{'exitCode':1,'"
                                                     "finishedAt':'2024-06-01T11:55:00Z'}}}]}}",
        "['side','2/2','Running','3 (5m ago)','60m','<none>','<none>','<none>','<none>']");
}

static void test_pod_special(void **state)
{
    const char *running =
        "'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Running','reason':'%s',"
        "'containerStatuses':[{'name':'a','ready':true,'state':{'running':{}}}]}}";
    char *obj = k1s_xasprintf("{'metadata':{'name':'t','creationTimestamp':'2024-06-01T11:00:00Z',"
                              "'deletionTimestamp':'2024-06-01T11:59:00Z'},%s",
                              running);
    char *filled = k1s_xasprintf(obj, "");
    check("", "pods", filled,
          "['t','1/1','Terminating','0','60m','<none>','<none>','<none>','<none>']");
    free(filled);
    filled = k1s_xasprintf(obj, "NodeLost");
    check("", "pods", filled,
          "['t','1/1','Unknown','0','60m','<none>','<none>','<none>','<none>']");
    free(filled);
    free(obj);
    obj = k1s_xasprintf("{" POD_META("nl", "2024-06-01T11:00:00Z") ",%s", running);
    filled = k1s_xasprintf(obj, "NodeLost");
    check("", "pods", filled,
          "['nl','1/1','NodeLost','0','60m','<none>','<none>','<none>','<none>']");
    free(filled);
    free(obj);

    /* a finished pod being deleted keeps its status */
    check("", "pods",
          "{'metadata':{'name':'d','deletionTimestamp':'2024-06-01T11:59:00Z'},"
          "'status':{'phase':'Succeeded'}}",
          "['d','0/0','Succeeded','0','<unknown>','<none>','<none>','<none>','<none>']");
    check("", "pods",
          "{" POD_META("gated", "2024-06-01T11:59:30Z") ",'spec':{'containers':[{'name':'a'}]},"
                                                        "'status':{'phase':'Pending','conditions':["
                                                        "{'type':'PodScheduled','status':'False',"
                                                        "'reason':'SchedulingGated'}]}}",
          "['gated','0/1','SchedulingGated','0','30s','<none>','<none>','<none>','<none>']");
    check("", "pods",
          "{" POD_META("evicted", "2024-06-01T11:59:30Z") ",'spec':{'containers':[{'name':'a'}]},"
                                                          "'status':{'phase':'Failed','reason':'"
                                                          "Evicted','message':'low on memory'}}",
          "['evicted','0/1','Evicted','0','30s','<none>','<none>','<none>','<none>']");
    check("", "pods",
          "{" POD_META("gates", "2024-06-01T11:59:30Z") ","
                                                        "'spec':{'containers':[{'name':'a'}],'"
                                                        "readinessGates':[{'conditionType':'x'},"
                                                        "{'conditionType':'y'}]},"
                                                        "'status':{'phase':'Running','conditions':["
                                                        "{'type':'x','status':'True'},"
                                                        "{'type':'y','status':'False'}]}}",
          "['gates','0/1','Running','0','30s','<none>','<none>','<none>','1/2']");
    /* partial and odd objects */
    check("", "pods", "{}", "['','0/0','','0','<unknown>','<none>','<none>','<none>','<none>']");
    check("", "pods", NULL, "['','0/0','','0','<unknown>','<none>','<none>','<none>','<none>']");
    check("", "pods", "[1,2]", "['','0/0','','0','<unknown>','<none>','<none>','<none>','<none>']");
    check("", "pods",
          "{'metadata':{'name':7,'creationTimestamp':'yesterday'},'spec':{'containers':5},"
          "'status':{'phase':null,'containerStatuses':[null,5,{'state':5},"
          "{'state':{'terminated':5}},{'restartCount':'x'}],"
          "'initContainerStatuses':{'a':1},'conditions':'x'}}",
          "['','0/0','','0','<unknown>','<none>','<none>','<none>','<none>']");
}

static void test_deployment(void **state)
{
    check("apps", "deployments",
          "{'metadata':{'name':'web','creationTimestamp':'2024-05-30T09:00:00Z'},"
          "'spec':{'replicas':3,'selector':{'matchLabels':{'app':'web'},'matchExpressions':["
          "{'key':'tier','operator':'In','values':['b','a']},"
          "{'key':'canary','operator':'DoesNotExist'}]},"
          "'template':{'spec':{'containers':[{'name':'nginx','image':'nginx:1.25'},"
          "{'name':'log','image':'busybox'}]}}},"
          "'status':{'replicas':3,'updatedReplicas':3,'readyReplicas':2,'availableReplicas':2}}",
          "['web','2/3',3,2,'2d3h','nginx,log','nginx:1.25,busybox',"
          "'app=web,!canary,tier in (a,b)']");
    check("apps", "deployments",
          "{'metadata':{'name':'x'},'spec':{'selector':{'matchExpressions':["
          "{'key':'a','operator':'Foo','values':['b']}]}}}",
          "['x','0/1',0,0,'<unknown>','','','<invalid>']");
    check("apps", "deployments",
          "{'spec':{'selector':{'matchExpressions':[{'key':'a','operator':'In'}]}}}",
          "['','0/1',0,0,'<unknown>','','','<invalid>']");
    check("apps", "deployments", "{'spec':{'replicas':0,'selector':{}}}",
          "['','0/0',0,0,'<unknown>','','','']");
    check("apps", "deployments", "{}", "['','0/1',0,0,'<unknown>','','','']");
}

static void test_workloads(void **state)
{
    check("apps", "replicasets",
          "{'metadata':{'name':'web-abc','creationTimestamp':'2024-05-30T09:00:00Z'},"
          "'spec':{'replicas':3,'selector':{'matchLabels':{'pod-template-hash':'abc','app':'web'}},"
          "'template':{'spec':{'containers':[{'name':'nginx','image':'nginx:1.25'}]}}},"
          "'status':{'replicas':3,'readyReplicas':2}}",
          "['web-abc',3,3,2,'2d3h','nginx','nginx:1.25','app=web,pod-template-hash=abc']");
    check("apps", "replicasets", "{}", "['',1,0,0,'<unknown>','','','<none>']");
    check("apps", "statefulsets",
          "{'metadata':{'name':'db','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'replicas':3,'template':{'spec':{'containers':[{'name':'pg',"
          "'image':'postgres:16'}]}}},'status':{'replicas':3,'readyReplicas':1}}",
          "['db','1/3','45d','pg','postgres:16']");
    check("apps", "daemonsets",
          "{'metadata':{'name':'proxy','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'selector':{'matchLabels':{'app':'proxy'}},'template':{'spec':{"
          "'nodeSelector':{'kubernetes.io/os':'linux'},"
          "'containers':[{'name':'proxy','image':'k1s-proxy'}]}}},"
          "'status':{'desiredNumberScheduled':2,'currentNumberScheduled':2,'numberReady':1,"
          "'updatedNumberScheduled':2,'numberAvailable':1}}",
          "['proxy',2,2,1,2,1,'kubernetes.io/os=linux','45d','proxy','k1s-proxy','app=proxy']");
    check("apps", "controllerrevisions",
          "{'metadata':{'name':'web-7d9','creationTimestamp':'2024-04-17T12:00:00Z',"
          "'ownerReferences':[{'apiVersion':'v1','kind':'Pod','name':'x'},"
          "{'apiVersion':'apps/v1','kind':'StatefulSet','name':'web','controller':true}]},"
          "'revision':2}",
          "['web-7d9','statefulset.apps/web',2,'45d']");
    check("apps", "controllerrevisions",
          "{'metadata':{'name':'r','ownerReferences':[{'apiVersion':'v1','kind':'Pod',"
          "'name':'p','controller':true}]},'revision':1}",
          "['r','pod/p',1,'<unknown>']");
    check("apps", "controllerrevisions", "{'metadata':{'name':'r'}}",
          "['r','<none>',0,'<unknown>']");
}

static void test_service(void **state)
{
    check("", "services",
          "{'metadata':{'name':'kubernetes','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'type':'ClusterIP','clusterIP':'10.43.0.1','clusterIPs':['10.43.0.1'],"
          "'ports':[{'name':'https','port':443,'protocol':'TCP','targetPort':6443}]}}",
          "['kubernetes','ClusterIP','10.43.0.1','<none>','443/TCP','45d','<none>']");
    check("", "services",
          "{'metadata':{'name':'np','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'type':'NodePort','clusterIP':'10.43.12.7','clusterIPs':['10.43.12.7'],"
          "'selector':{'tier':'fe','app':'web'},"
          "'ports':[{'port':80,'nodePort':30080,'protocol':'TCP'},"
          "{'port':53,'nodePort':31053,'protocol':'UDP'}]}}",
          "['np','NodePort','10.43.12.7','<none>','80:30080/TCP,53:31053/UDP','45d',"
          "'app=web,tier=fe']");
    check("", "services",
          "{'metadata':{'name':'lb'},'spec':{'type':'LoadBalancer','clusterIP':'10.43.1.1',"
          "'ports':[{'port':80,'nodePort':31000}]}}",
          "['lb','LoadBalancer','10.43.1.1','<pending>','80:31000/TCP','<unknown>','<none>']");
    check("", "services",
          "{'metadata':{'name':'lb'},'spec':{'type':'LoadBalancer','clusterIPs':['10.43.1.1'],"
          "'externalIPs':['1.2.3.4'],'ports':[{'port':443,'nodePort':31443,'protocol':'TCP'}]},"
          "'status':{'loadBalancer':{'ingress':[{'ip':'192.168.1.20'},"
          "{'hostname':'lb.example.com'},{'ip':'192.168.1.10'},{'ip':'192.168.1.20'}]}}}",
          "['lb','LoadBalancer','10.43.1.1','192.168.1.10,192.168.1.20,lb.example.com,1.2.3.4',"
          "'443:31443/TCP','<unknown>','<none>']");
    check("", "services",
          "{'metadata':{'name':'lb2'},'spec':{'type':'LoadBalancer','clusterIP':'10.43.1.2'},"
          "'status':{'loadBalancer':{'ingress':[{'ip':'192.168.1.30'}]}}}",
          "['lb2','LoadBalancer','10.43.1.2','192.168.1.30','<none>','<unknown>','<none>']");
    check("", "services",
          "{'metadata':{'name':'ext'},'spec':{'type':'ExternalName',"
          "'externalName':'db.example.com'}}",
          "['ext','ExternalName','<none>','db.example.com','<none>','<unknown>','<none>']");
    check("", "services",
          "{'metadata':{'name':'hl'},'spec':{'clusterIP':'None','clusterIPs':['None'],"
          "'selector':{'app':'db'},'ports':[{'port':5432,'protocol':'TCP'}]}}",
          "['hl','ClusterIP','None','<none>','5432/TCP','<unknown>','app=db']");
    check("", "services",
          "{'spec':{'clusterIP':'10.43.0.9','externalIPs':['5.6.7.8','5.6.7.9'],"
          "'ports':[{'port':8080},{'port':9090,'protocol':'SCTP'}]}}",
          "['','ClusterIP','10.43.0.9','5.6.7.8,5.6.7.9','8080/TCP,9090/SCTP','<unknown>',"
          "'<none>']");
    check("", "services", "{'spec':{'type':'Weird'}}",
          "['','Weird','<none>','<unknown>','<none>','<unknown>','<none>']");
    /* selector labels sort as "k=v" strings, as labels.Set.String() does */
    check("", "services", "{'spec':{'selector':{'a':'1','a.b':'2'}}}",
          "['','ClusterIP','<none>','<none>','<none>','<unknown>','a.b=2,a=1']");
}

static void test_node(void **state)
{
    check("", "nodes",
          "{'metadata':{'name':'server1','creationTimestamp':'2023-04-28T12:00:00Z',"
          "'labels':{'node-role.kubernetes.io/master':'true','kubernetes.io/hostname':'server1',"
          "'node-role.kubernetes.io/control-plane':'true'}},"
          "'spec':{'unschedulable':true},"
          "'status':{'conditions':[{'type':'MemoryPressure','status':'False'},"
          "{'type':'Ready','status':'True','reason':'KubeletReady'}],"
          "'addresses':[{'type':'InternalIP','address':'192.168.1.5'},"
          "{'type':'Hostname','address':'server1'}],"
          "'nodeInfo':{'kubeletVersion':'v1.32.0+k1s','osImage':'Debian GNU/Linux 12 (bookworm)',"
          "'kernelVersion':'6.1.0-18-amd64','containerRuntimeVersion':'k1s://0.1.0'}}}",
          "['server1','Ready,SchedulingDisabled','control-plane,master','400d','v1.32.0+k1s',"
          "'192.168.1.5','<none>','Debian GNU/Linux 12 (bookworm)','6.1.0-18-amd64',"
          "'k1s://0.1.0']");
    check("", "nodes",
          "{'metadata':{'name':'w','labels':{'kubernetes.io/role':'worker',"
          "'node-role.kubernetes.io/worker':'','node-role.kubernetes.io/':'x'}},"
          "'status':{'conditions':[{'type':'Ready','status':'Unknown'}],"
          "'addresses':[{'type':'ExternalIP','address':'203.0.113.7'}]}}",
          "['w','NotReady','worker','<unknown>','','<none>','203.0.113.7','<unknown>',"
          "'<unknown>','<unknown>']");
    check("", "nodes", "{'metadata':{'name':'n'}}",
          "['n','Unknown','<none>','<unknown>','','<none>','<none>','<unknown>','<unknown>',"
          "'<unknown>']");
}

static void test_event(void **state)
{
    check("", "events",
          "{'metadata':{'name':'web-1.17d','namespace':'default',"
          "'creationTimestamp':'2024-06-01T11:50:00Z'},"
          "'involvedObject':{'kind':'Pod','name':'web-1','namespace':'default',"
          "'fieldPath':'spec.containers{nginx}'},"
          "'reason':'Pulled','message':'  Container image already present on machine\\n',"
          "'source':{'component':'kubelet','host':'node1'},"
          "'firstTimestamp':'2024-06-01T11:50:00Z','lastTimestamp':'2024-06-01T11:56:50Z',"
          "'count':3,'type':'Normal'}",
          "['3m10s','Normal','Pulled','pod/web-1','spec.containers{nginx}','kubelet, node1',"
          "'Container image already present on machine','10m',3,'web-1.17d']");
    /* new-style event seen through core/v1: eventTime, series, reporting* */
    check("", "events",
          "{'metadata':{'name':'e2'},'involvedObject':{'kind':'Node','name':'node1'},"
          "'reason':'Rebooted','type':'Warning','message':'x',"
          "'eventTime':'2024-06-01T11:00:00.123456Z',"
          "'series':{'count':4,'lastObservedTime':'2024-06-01T11:59:30.000000Z'},"
          "'reportingComponent':'kubelet','reportingInstance':'node1'}",
          "['30s','Warning','Rebooted','node/node1','','kubelet, node1','x','59m',4,'e2']");
    /* no lastTimestamp: Last Seen is First Seen; no count: 1 */
    check("", "events",
          "{'metadata':{'name':'e4'},'involvedObject':{'kind':'Namespace'},"
          "'firstTimestamp':'2024-06-01T11:59:00Z','source':{'component':'ctrl'}}",
          "['60s','','','namespace','','ctrl','','60s',1,'e4']");
    check("", "events", "{}", "['<unknown>','','','','','','','<unknown>',1,'']");
    check(
        "events.k8s.io", "events",
        "{'metadata':{'name':'e3'},'regarding':{'kind':'Deployment','name':'web'},"
        "'reason':'ScalingReplicaSet','type':'Normal',"
        "'note':'Scaled up replica set web-abc to 3','reportingController':'deployment-controller',"
        "'eventTime':null,'deprecatedFirstTimestamp':'2024-06-01T11:55:00Z',"
        "'deprecatedLastTimestamp':'2024-06-01T11:55:00Z','deprecatedCount':1,"
        "'deprecatedSource':{'component':'deployment-controller'}}",
        "['5m','Normal','ScalingReplicaSet','deployment/web','','deployment-controller',"
        "'Scaled up replica set web-abc to 3','5m',1,'e3']");
    json_t *cols = k1s_table_columns(R("", "events"));
    json_t *name = json_array_get(cols, 9);
    assert_string_equal(json_string_value(json_object_get(name, "format")), "name");
    assert_int_equal(json_integer_value(json_object_get(name, "priority")), 1);
    json_decref(cols);
}

static void test_job(void **state)
{
    check("batch", "jobs",
          "{'metadata':{'name':'pi','creationTimestamp':'2024-06-01T11:50:00Z'},"
          "'spec':{'completions':1,'parallelism':1,'selector':{'matchLabels':"
          "{'batch.kubernetes.io/controller-uid':'abc'}},"
          "'template':{'spec':{'containers':[{'name':'pi','image':'perl:5.34'}]}}},"
          "'status':{'startTime':'2024-06-01T11:50:00Z','completionTime':'2024-06-01T11:50:15Z',"
          "'succeeded':1,'conditions':[{'type':'SuccessCriteriaMet','status':'True'},"
          "{'type':'Complete','status':'True'}]}}",
          "['pi','Complete','1/1','15s','10m','pi','perl:5.34',"
          "'batch.kubernetes.io/controller-uid=abc']");
    check("batch", "jobs",
          "{'metadata':{'name':'w','creationTimestamp':'2024-06-01T11:56:50Z'},"
          "'spec':{'parallelism':3},'status':{'startTime':'2024-06-01T11:56:50Z','active':3}}",
          "['w','Running','0/1 of 3','3m10s','3m10s','','','<none>']");
    check("batch", "jobs",
          "{'metadata':{'name':'f'},'spec':{'completions':3},'status':{'succeeded':1,"
          "'conditions':[{'type':'FailureTarget','status':'True'},"
          "{'type':'Failed','status':'True'}]}}",
          "['f','Failed','1/3','','<unknown>','','','<none>']");
    check("batch", "jobs",
          "{'metadata':{'name':'s'},'spec':{'completions':2,'suspend':true},"
          "'status':{'conditions':[{'type':'Suspended','status':'True'}]}}",
          "['s','Suspended','0/2','','<unknown>','','','<none>']");
    check("batch", "jobs",
          "{'metadata':{'name':'t','deletionTimestamp':'2024-06-01T11:59:00Z'},"
          "'status':{'conditions':[{'type':'Complete','status':'False'}]}}",
          "['t','Terminating','0/1','','<unknown>','','','<none>']");
    check("batch", "jobs",
          "{'metadata':{'name':'ft'},'status':{'conditions':[{'type':'FailureTarget',"
          "'status':'True'}]}}",
          "['ft','FailureTarget','0/1','','<unknown>','','','<none>']");
    check("batch", "cronjobs",
          "{'metadata':{'name':'hello','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'schedule':'*/5 * * * *','suspend':false,'jobTemplate':{'spec':{'template':"
          "{'spec':{'containers':[{'name':'hello','image':'busybox'}]}}}}},"
          "'status':{'active':[{'name':'hello-1'}],'lastScheduleTime':'2024-06-01T11:55:00Z'}}",
          "['hello','*/5 * * * *','<none>','False',1,'5m','45d','hello','busybox','<none>']");
    check("batch", "cronjobs",
          "{'metadata':{'name':'tz'},'spec':{'schedule':'0 3 * * *','timeZone':'Europe/Paris',"
          "'suspend':true}}",
          "['tz','0 3 * * *','Europe/Paris','True',0,'<none>','<unknown>','','','<none>']");
}

static void test_config(void **state)
{
    check("", "secrets",
          "{'metadata':{'name':'tls','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'type':'kubernetes.io/tls','data':{'tls.crt':'QQ==','tls.key':'Qg=='}}",
          "['tls','kubernetes.io/tls',2,'45d']");
    check("", "secrets", "{'metadata':{'name':'s'}}", "['s','Opaque',0,'<unknown>']");
    check("", "configmaps",
          "{'metadata':{'name':'cfg','creationTimestamp':'2024-06-01T11:59:55Z'},"
          "'data':{'a':'1','b':'2'},'binaryData':{'c':'AA=='}}",
          "['cfg',3,'5s']");
    check("", "configmaps", "{'metadata':{'name':'empty'}}", "['empty',0,'<unknown>']");
    check("", "serviceaccounts",
          "{'metadata':{'name':'default','creationTimestamp':'2024-04-17T12:00:00Z'}}",
          "['default',0,'45d']");
    check("", "serviceaccounts", "{'metadata':{'name':'old'},'secrets':[{'name':'old-token'}]}",
          "['old',1,'<unknown>']");
    check("", "namespaces",
          "{'metadata':{'name':'default','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'status':{'phase':'Active'}}",
          "['default','Active','45d']");
    check("", "namespaces", "{'metadata':{'name':'gone'},'status':{'phase':'Terminating'}}",
          "['gone','Terminating','<unknown>']");
    check("", "namespaces", "{'metadata':{'name':'new'}}", "['new','Active','<unknown>']");
    check("", "resourcequotas",
          "{'metadata':{'name':'q','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'status':{'hard':{'pods':'10','requests.cpu':'2','limits.memory':'2Gi',"
          "'limits.cpu':'4','limits':'1'},'used':{'pods':'3','requests.cpu':'500m',"
          "'limits.cpu':'1'}}}",
          "['q','limits: 0/1, pods: 3/10, requests.cpu: 500m/2',"
          "'limits.cpu: 1/4, limits.memory: 0/2Gi','45d']");
    check("", "resourcequotas", "{}", "['','','','<unknown>']");
}

static void test_networking(void **state)
{
    check("networking.k8s.io", "ingresses",
          "{'metadata':{'name':'web','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'ingressClassName':'k1s','tls':[{'hosts':['a.example.com']}],"
          "'rules':[{'host':'a.example.com'},{'host':'b.example.com'},{},"
          "{'host':'c.example.com'},{'host':'d.example.com'}]},"
          "'status':{'loadBalancer':{'ingress':[{'ip':'192.168.1.5'}]}}}",
          "['web','k1s','a.example.com,b.example.com,c.example.com + 2 more...','192.168.1.5',"
          "'80, 443','45d']");
    check("networking.k8s.io", "ingresses",
          "{'metadata':{'name':'any'},'spec':{'rules':[{'http':{}}]}}",
          "['any','<none>','*','','80','<unknown>']");
    check("networking.k8s.io", "ingressclasses",
          "{'metadata':{'name':'k1s','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'controller':'k1s.io/router','parameters':{'apiGroup':'k8s.example.com',"
          "'kind':'IngressParameters','name':'external-lb'}}}",
          "['k1s','k1s.io/router','IngressParameters.k8s.example.com/external-lb','45d']");
    check("networking.k8s.io", "ingressclasses",
          "{'metadata':{'name':'c'},'spec':{'controller':'x','parameters':{'kind':'ConfigMap',"
          "'name':'p'}}}",
          "['c','x','ConfigMap/p','<unknown>']");
    check("networking.k8s.io", "ingressclasses", "{'metadata':{'name':'n'}}",
          "['n','','<none>','<unknown>']");
    check("networking.k8s.io", "networkpolicies",
          "{'metadata':{'name':'deny','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'podSelector':{}}}",
          "['deny','<none>','45d']");
    check("networking.k8s.io", "networkpolicies",
          "{'metadata':{'name':'db'},'spec':{'podSelector':{'matchLabels':{'role':'db'},"
          "'matchExpressions':[{'key':'env','operator':'NotIn','values':['test','dev']},"
          "{'key':'app','operator':'Exists'}]}}}",
          "['db','app,env notin (dev,test),role=db','<unknown>']");
    check("networking.k8s.io", "networkpolicies",
          "{'metadata':{'name':'bad'},'spec':{'podSelector':{'matchLabels':{'-bad':'x'}}}}",
          "['bad','<error>','<unknown>']");
    check("", "endpoints",
          "{'metadata':{'name':'web','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'subsets':[{'addresses':[{'ip':'10.42.0.5'},{'ip':'10.42.0.6'}],"
          "'ports':[{'name':'http','port':80},{'name':'https','port':443}]}]}",
          "['web','10.42.0.5:80,10.42.0.6:80,10.42.0.5:443 + 1 more...','45d']");
    check("", "endpoints",
          "{'metadata':{'name':'dns'},'subsets':[{'addresses':[{'ip':'fd00::a'}],"
          "'ports':[{'port':53,'protocol':'UDP'}]},{'addresses':[{'ip':'10.42.0.9'}]}]}",
          "['dns','[fd00::a]:53,10.42.0.9','<unknown>']");
    check("", "endpoints", "{'metadata':{'name':'none'}}", "['none','<none>','<unknown>']");
    check("", "endpoints",
          "{'metadata':{'name':'nr'},'subsets':[{'notReadyAddresses':"
          "[{'ip':'10.42.0.5'}],'ports':[{'port':80}]}]}",
          "['nr','','<unknown>']");
    check("discovery.k8s.io", "endpointslices",
          "{'metadata':{'name':'web-x1','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'addressType':'IPv4','ports':[{'name':'http','port':80},{'name':'named'},{}],"
          "'endpoints':[{'addresses':['10.42.0.5']},{'addresses':['10.42.0.6','10.42.0.7']},"
          "{'addresses':['10.42.0.8']}]}",
          "['web-x1','IPv4','80,named,*','10.42.0.5,10.42.0.6,10.42.0.7 + 1 more...','45d']");
    check("discovery.k8s.io", "endpointslices", "{'metadata':{'name':'e'},'addressType':'IPv6'}",
          "['e','IPv6','<unset>','<unset>','<unknown>']");
}

static void test_storage(void **state)
{
    check("", "persistentvolumes",
          "{'metadata':{'name':'pv1','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'capacity':{'storage':'10Gi'},'accessModes':['ReadWriteMany','ReadWriteOnce',"
          "'ReadWriteOnce'],'persistentVolumeReclaimPolicy':'Delete',"
          "'storageClassName':'local-path','claimRef':{'namespace':'default','name':'data'},"
          "'volumeMode':'Filesystem'},'status':{'phase':'Bound'}}",
          "['pv1','10Gi','RWO,RWX','Delete','Bound','default/data','local-path','<unset>','',"
          "'45d','Filesystem']");
    check("", "persistentvolumes",
          "{'metadata':{'name':'pv2','deletionTimestamp':'2024-06-01T11:00:00Z',"
          "'annotations':{'volume.beta.kubernetes.io/storage-class':'slow'}},"
          "'spec':{'storageClassName':'fast','volumeMode':'Block',"
          "'volumeAttributesClassName':'gold','accessModes':['ReadWriteOncePod','ReadOnlyMany']},"
          "'status':{'phase':'Failed','reason':'VolumeFailedRecycle'}}",
          "['pv2','0','ROX,RWOP','Retain','Terminating','','slow','gold','VolumeFailedRecycle',"
          "'<unknown>','Block']");
    check("", "persistentvolumeclaims",
          "{'metadata':{'name':'data','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'accessModes':['ReadWriteOnce'],'resources':{'requests':{'storage':'1Gi'}},"
          "'storageClassName':'local-path','volumeName':'pv1','volumeMode':'Filesystem'},"
          "'status':{'phase':'Bound','accessModes':['ReadWriteOnce'],"
          "'capacity':{'storage':'10Gi'}}}",
          "['data','Bound','pv1','10Gi','RWO','local-path','<unset>','45d','Filesystem']");
    check("", "persistentvolumeclaims",
          "{'metadata':{'name':'wait'},'spec':{'accessModes':['ReadWriteOnce'],"
          "'resources':{'requests':{'storage':'1Gi'}}}}",
          "['wait','Pending','','','','','<unset>','<unknown>','Filesystem']");
    check("storage.k8s.io", "storageclasses",
          "{'metadata':{'name':'local-path','creationTimestamp':'2024-04-17T12:00:00Z',"
          "'annotations':{'storageclass.kubernetes.io/is-default-class':'true'}},"
          "'provisioner':'rancher.io/local-path','reclaimPolicy':'Delete',"
          "'volumeBindingMode':'WaitForFirstConsumer'}",
          "['local-path (default)','rancher.io/local-path','Delete','WaitForFirstConsumer',false,"
          "'45d']");
    check("storage.k8s.io", "storageclasses",
          "{'metadata':{'name':'nfs','annotations':{"
          "'storageclass.beta.kubernetes.io/is-default-class':'false'}},'provisioner':'nfs',"
          "'allowVolumeExpansion':true}",
          "['nfs','nfs','Delete','Immediate',true,'<unknown>']");
}

static void test_cluster_objects(void **state)
{
    check("autoscaling", "horizontalpodautoscalers",
          "{'metadata':{'name':'web','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
          "'minReplicas':2,'maxReplicas':10,'metrics':["
          "{'type':'Resource','resource':{'name':'cpu','target':{'type':'Utilization',"
          "'averageUtilization':50}}},"
          "{'type':'Pods','pods':{'metric':{'name':'qps'},'target':{'type':'AverageValue',"
          "'averageValue':'1k'}}},"
          "{'type':'Resource','resource':{'name':'memory','target':{'type':'AverageValue',"
          "'averageValue':'500Mi'}}}]},"
          "'status':{'currentReplicas':3,'currentMetrics':[{'type':'Resource','resource':"
          "{'name':'cpu','current':{'averageUtilization':30,'averageValue':'150m'}}}]}}",
          "['web','Deployment/web','cpu: 30%/50%, <unknown>/1k + 1 more...','2',10,3,'45d']");
    check("autoscaling", "horizontalpodautoscalers",
          "{'metadata':{'name':'m'},'spec':{'scaleTargetRef':{'kind':'StatefulSet','name':'db'},"
          "'maxReplicas':4,'metrics':["
          "{'type':'External','external':{'metric':{'name':'q'},'target':{'type':'AverageValue',"
          "'averageValue':'30'}}},"
          "{'type':'Object','object':{'metric':{'name':'rps'},'target':{'type':'Value',"
          "'value':'10k'}}}]},"
          "'status':{'currentReplicas':1,'currentMetrics':["
          "{'type':'External','external':{'current':{'averageValue':'12'}}},"
          "{'type':'Object','object':{'current':{'value':'2k'}}}]}}",
          "['m','StatefulSet/db','12/30 (avg), 2k/10k','1',4,1,'<unknown>']");
    check("autoscaling", "horizontalpodautoscalers",
          "{'metadata':{'name':'c'},'spec':{'maxReplicas':3,'metrics':["
          "{'type':'ContainerResource','containerResource':{'name':'cpu','container':'app',"
          "'target':{'type':'Utilization'}}},{'type':'Mystery'}]},"
          "'status':{'currentMetrics':[{'type':'ContainerResource','containerResource':"
          "{'name':'cpu','container':'app','current':{'averageUtilization':7}}}]}}",
          "['c','/','cpu: 7%/<auto>, <unknown type>','1',3,0,'<unknown>']");
    check("autoscaling", "horizontalpodautoscalers", "{}",
          "['','/','cpu: <unknown>/80%','1',0,0,'<unknown>']");
    check("policy", "poddisruptionbudgets",
          "{'metadata':{'name':'web','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'minAvailable':2},'status':{'disruptionsAllowed':1}}",
          "['web','2','N/A',1,'45d']");
    check("policy", "poddisruptionbudgets",
          "{'metadata':{'name':'db'},'spec':{'maxUnavailable':'25%'}}",
          "['db','N/A','25%',0,'<unknown>']");
    check("rbac.authorization.k8s.io", "rolebindings",
          "{'metadata':{'name':'rb','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'roleRef':{'apiGroup':'rbac.authorization.k8s.io','kind':'ClusterRole','name':'view'},"
          "'subjects':[{'kind':'User','name':'alice'},{'kind':'Group','name':'devs'},"
          "{'kind':'ServiceAccount','name':'default','namespace':'kube-system'},"
          "{'kind':'User','name':'bob'},{'kind':'Robot','name':'r2'}]}",
          "['rb','ClusterRole/view','45d','alice, bob','devs','kube-system/default']");
    check("rbac.authorization.k8s.io", "clusterrolebindings",
          "{'metadata':{'name':'admin'},'roleRef':{'kind':'ClusterRole','name':'cluster-admin'},"
          "'subjects':[{'kind':'Group','name':'system:masters'}]}",
          "['admin','ClusterRole/cluster-admin','<unknown>','','system:masters','']");
    check("scheduling.k8s.io", "priorityclasses",
          "{'metadata':{'name':'system-cluster-critical',"
          "'creationTimestamp':'2024-04-17T12:00:00Z'},'value':2000000000,"
          "'description':'Used for system critical pods.'}",
          "['system-cluster-critical',2000000000,false,'45d','PreemptLowerPriority']");
    check("scheduling.k8s.io", "priorityclasses",
          "{'metadata':{'name':'low'},'value':-10,'globalDefault':true,'preemptionPolicy':'Never'}",
          "['low',-10,true,'<unknown>','Never']");
    check("coordination.k8s.io", "leases",
          "{'metadata':{'name':'node1','creationTimestamp':'2024-04-17T12:00:00Z'},"
          "'spec':{'holderIdentity':'node1','leaseDurationSeconds':40}}",
          "['node1','node1','45d']");
    check("coordination.k8s.io", "leases", "{'metadata':{'name':'free'}}",
          "['free','','<unknown>']");
}

/* Every resource survives missing, null and wrongly typed fields anywhere. */
static void test_odd_objects(void **state)
{
    static const char *odd[] = {
        "{}",
        "[]",
        "'str'",
        "null",
        "{'metadata':null,'spec':null,'status':null}",
        "{'metadata':5,'spec':'x','status':[1,2],'data':5,'subsets':'x','ports':{},'endpoints':7}",
        "{'metadata':{'name':'o','creationTimestamp':'2024-13-45T99:00:00Z',"
        "'deletionTimestamp':5,'labels':{'node-role.kubernetes.io/':5,'kubernetes.io/role':5},"
        "'annotations':5,'ownerReferences':[5,{'controller':true,'apiVersion':5,'kind':5}]},"
        "'spec':{'containers':'x','initContainers':[5,{'restartPolicy':5}],"
        "'template':{'spec':{'containers':[5,{'name':5}],'nodeSelector':{'a':5}}},"
        "'selector':{'matchLabels':5,'matchExpressions':[5,{'operator':5,'values':[5]}]},"
        "'podSelector':{'matchLabels':{'a':5}},"
        "'ports':[5,null,{'port':'x','nodePort':'y'}],'rules':[5,{'host':5}],'tls':5,"
        "'metrics':[5,{'type':'Resource'},{'type':'Pods'},{'type':'External'},{'type':'Object'},"
        "{'type':'ContainerResource','containerResource':5}],'readinessGates':[5,{}],"
        "'capacity':{'storage':5.5},'accessModes':[5],'claimRef':5,'completions':'x',"
        "'replicas':1e300,'minAvailable':true,'clusterIPs':[5],'externalIPs':[5]},"
        "'status':{'conditions':[5,null,{'type':5}],'containerStatuses':[null,{'state':5},"
        "{'state':{'terminated':5,'waiting':{'reason':5}}},{'lastState':{'terminated':"
        "{'finishedAt':5}}}],'initContainerStatuses':[{'state':{'terminated':{'exitCode':'x'}}}],"
        "'addresses':[5],'loadBalancer':{'ingress':[5,{}]},'hard':{'cpu':5},'used':5,"
        "'currentMetrics':5,'podIPs':[5]},"
        "'subsets':[5,{'addresses':5,'ports':[5]},{'addresses':[5],'ports':[{'port':5}]}],"
        "'endpoints':[5,{'addresses':[5]}],'involvedObject':5,'regarding':{'kind':5},"
        "'series':5,'roleRef':5,'subjects':[5,{'kind':'ServiceAccount'}],'data':[1,2],"
        "'revision':'x','value':'x','type':5,'note':5,'message':'  '}",
    };
    size_t n;
    const k1s_resource_t *const *all = k1s_registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *cols = k1s_table_columns(all[i]);
        for (size_t j = 0; j < K1S_ARRAY_SIZE(odd); j++) {
            json_t *obj = J(odd[j]);
            json_t *cells = k1s_table_cells(all[i], obj, NOW);
            assert_int_equal(json_array_size(cells), json_array_size(cols));
            for (size_t k = 0; k < json_array_size(cells); k++) {
                json_t *c = json_array_get(cells, k);
                assert_true(json_is_string(c) || json_is_integer(c) || json_is_boolean(c));
            }
            json_decref(cells);
            json_t *conds = k1s_table_row_conditions(all[i], obj);
            json_decref(conds);
            json_decref(obj);
        }
        json_t *cells = k1s_table_cells(all[i], NULL, NOW);
        assert_int_equal(json_array_size(cells), json_array_size(cols));
        json_decref(cells);
        json_decref(cols);
    }
    /* an unknown resource gets the default table */
    k1s_resource_t crd = {"example.com", "v1", "Widget", "widgets", "widget"};
    json_t *cols = k1s_table_columns(&crd);
    assert_int_equal(json_array_size(cols), 2);
    json_decref(cols);
    cols = k1s_table_columns(NULL);
    assert_int_equal(json_array_size(cols), 2);
    json_decref(cols);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_human_duration),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_default_table),
        cmocka_unit_test(test_pod_running),
        cmocka_unit_test(test_pod_waiting),
        cmocka_unit_test(test_pod_terminated),
        cmocka_unit_test(test_pod_init),
        cmocka_unit_test(test_pod_sidecar),
        cmocka_unit_test(test_pod_special),
        cmocka_unit_test(test_deployment),
        cmocka_unit_test(test_workloads),
        cmocka_unit_test(test_service),
        cmocka_unit_test(test_node),
        cmocka_unit_test(test_event),
        cmocka_unit_test(test_job),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_networking),
        cmocka_unit_test(test_storage),
        cmocka_unit_test(test_cluster_objects),
        cmocka_unit_test(test_odd_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
