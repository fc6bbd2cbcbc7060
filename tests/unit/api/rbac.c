/* Unit tests for src/api/rbac.c: the rule matcher, and the compiled view over a store holding
 * the default policy (rbac-bootstrap.c), a binding and an aggregated role. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/apiserver-int.h"
#include "api/rbac.h"
#include "store/testutil.h"

static k1s_authz_attrs_t res_attrs(const char *verb, const char *group, const char *res,
                                   const char *sub, const char *ns, const char *name)
{
    return (k1s_authz_attrs_t){.user = "u",
                               .verb = verb,
                               .resource_request = true,
                               .group = group,
                               .version = "v1",
                               .resource = res,
                               .sub = sub,
                               .ns = ns,
                               .name = name,
                               .path = ""};
}

static bool allows(const char *rule_json, k1s_authz_attrs_t a)
{
    json_error_t je;
    json_t *j = json_loads(rule_json, 0, &je);
    if (!j)
        fail_msg("bad rule %s: %s", rule_json, je.text);
    k1s_rbac_rule_t r = {0};
    k1s_rbac_rule_compile(&r, j);
    bool ok = k1s_rbac_rule_allows(&r, &a);
    k1s_rbac_rule_clear(&r);
    json_decref(j);
    return ok;
}

static void test_verbs_groups_resources(void **state)
{
    const char *r = "{\"verbs\":[\"get\",\"list\"],\"apiGroups\":[\"\",\"apps\"],"
                    "\"resources\":[\"pods\",\"deployments\"]}";
    assert_true(allows(r, res_attrs("get", "", "pods", "", "ns", "p")));
    assert_true(allows(r, res_attrs("list", "apps", "deployments", "", "ns", "")));
    assert_false(allows(r, res_attrs("watch", "", "pods", "", "ns", "")));
    assert_false(allows(r, res_attrs("get", "batch", "pods", "", "ns", "")));
    assert_false(allows(r, res_attrs("get", "", "secrets", "", "ns", "")));
    /* a subresource needs its own entry */
    assert_false(allows(r, res_attrs("get", "", "pods", "log", "ns", "p")));
    const char *star = "{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],\"resources\":[\"*\"]}";
    assert_true(allows(star, res_attrs("deletecollection", "x.io", "things", "status", "", "")));
    /* no apiGroups means no resource matches */
    assert_false(allows("{\"verbs\":[\"*\"],\"resources\":[\"*\"]}",
                        res_attrs("get", "", "pods", "", "", "")));
    /* and resource rules never match a URL */
    k1s_authz_attrs_t url = {.user = "u",
                             .verb = "get",
                             .path = "/healthz",
                             .group = "",
                             .resource = "",
                             .sub = "",
                             .ns = "",
                             .name = ""};
    assert_false(allows(star, url));
}

static void test_subresources(void **state)
{
    const char *r = "{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods/log\"]}";
    assert_true(allows(r, res_attrs("get", "", "pods", "log", "ns", "p")));
    assert_false(allows(r, res_attrs("get", "", "pods", "", "ns", "p")));
    assert_false(allows(r, res_attrs("get", "", "pods", "exec", "ns", "p")));
    assert_false(allows(r, res_attrs("get", "", "pod", "s/log", "ns", "p")));
    const char *any = "{\"verbs\":[\"get\"],\"apiGroups\":[\"*\"],\"resources\":[\"*/scale\"]}";
    assert_true(allows(any, res_attrs("get", "apps", "deployments", "scale", "ns", "d")));
    assert_false(allows(any, res_attrs("get", "apps", "deployments", "", "ns", "d")));
    assert_false(allows(any, res_attrs("get", "apps", "deployments", "status", "ns", "d")));
}

static void test_resource_names(void **state)
{
    const char *r = "{\"verbs\":[\"get\",\"update\"],\"apiGroups\":[\"coordination.k8s.io\"],"
                    "\"resources\":[\"leases\"],\"resourceNames\":[\"kube-scheduler\"]}";
    assert_true(allows(
        r, res_attrs("get", "coordination.k8s.io", "leases", "", "kube-system", "kube-scheduler")));
    assert_false(
        allows(r, res_attrs("get", "coordination.k8s.io", "leases", "", "kube-system", "other")));
    /* a list has no name, so a rule with resourceNames does not allow it */
    assert_false(
        allows(r, res_attrs("get", "coordination.k8s.io", "leases", "", "kube-system", "")));
    const char *empty = "{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"],"
                        "\"resourceNames\":[]}";
    assert_true(allows(empty, res_attrs("get", "", "pods", "", "ns", "anything")));
}

static void test_non_resource_urls(void **state)
{
    const char *r = "{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/healthz\",\"/apis/*\"]}";
    k1s_authz_attrs_t a = {
        .user = "u", .verb = "get", .group = "", .resource = "", .sub = "", .ns = "", .name = ""};
    a.path = "/healthz";
    assert_true(allows(r, a));
    a.path = "/healthz/ping";
    assert_false(allows(r, a));
    a.path = "/apis/apps/v1";
    assert_true(allows(r, a));
    a.path = "/apis";
    assert_false(allows(r, a));
    a.path = "/api";
    assert_false(allows(r, a));
    a.path = "/healthz";
    a.verb = "post";
    assert_false(allows(r, a));
    const char *all = "{\"verbs\":[\"*\"],\"nonResourceURLs\":[\"*\"]}";
    a.path = "/anything/at/all";
    assert_true(allows(all, a));
    /* URL rules never match resources */
    assert_false(allows(all, res_attrs("get", "", "pods", "", "", "")));
}

/* ---------- the view over a store ---------- */

static void put(k1s_store_t *s, const char *plural, const char *json)
{
    const k1s_resource_t *res = k1s_registry_find("rbac.authorization.k8s.io", "v1", plural);
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (!o)
        fail_msg("bad object %s: %s", json, je.text);
    char *key =
        k1s_obj_key(res, k1s_obj_str(o, "metadata.namespace"), k1s_obj_str(o, "metadata.name"));
    k1s_store_put(s, key, k1s_obj_encode(o), k1s_obj_aux_new(res, o), NULL, NULL);
    free(key);
    json_decref(o);
}

static void test_view(void **state)
{
    char *dir = tu_tmpdir();
    char *db = k1s_xasprintf("%s/state.db", dir);
    struct event_base *base = event_base_new();
    k1s_store_opts_t so = {.path = db, .hooks = &k1s_apiserver_store_hooks, .history_age_ms = -1};
    k1s_store_t *s = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_store_open(base, &so, &s, &err), 0);
    k1s_rbac_t *rb = k1s_rbac_new(base, s);
    k1s_rbac_bootstrap(s);
    put(s, "rolebindings",
        "{\"metadata\":{\"name\":\"v\",\"namespace\":\"team\"},\"roleRef\":{\"apiGroup\":"
        "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},"
        "\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"},{\"kind\":\"ServiceAccount\","
        "\"name\":\"robot\"}]}");
    tu_run(base);

    char *const authed[] = {"system:authenticated", NULL};
    k1s_authz_attrs_t a = res_attrs("list", "", "pods", "", "team", "");
    a.user = "alice";
    a.groups = authed;
    char reason[256];
    assert_true(k1s_rbac_authorize(rb, &a, reason, sizeof(reason)));
    assert_string_equal(reason,
                        "RBAC: allowed by RoleBinding \"v/team\" of ClusterRole \"view\" to User "
                        "\"alice\"");
    a.ns = "other";
    assert_false(k1s_rbac_authorize(rb, &a, NULL, 0));
    a.ns = "team";
    a.verb = "create";
    assert_false(k1s_rbac_authorize(rb, &a, NULL, 0));
    /* a ServiceAccount subject defaults to the binding's namespace */
    a.verb = "get";
    a.user = "system:serviceaccount:team:robot";
    assert_true(k1s_rbac_authorize(rb, &a, NULL, 0));
    a.user = "system:serviceaccount:other:robot";
    assert_false(k1s_rbac_authorize(rb, &a, NULL, 0));
    /* discovery for every authenticated user, not for a user without the group */
    k1s_authz_attrs_t u = {.user = "bob",
                           .groups = authed,
                           .verb = "get",
                           .path = "/apis/apps",
                           .group = "",
                           .resource = "",
                           .sub = "",
                           .ns = "",
                           .name = ""};
    assert_true(k1s_rbac_authorize(rb, &u, NULL, 0));
    u.groups = NULL;
    assert_false(k1s_rbac_authorize(rb, &u, NULL, 0));
    /* cluster-admin through system:masters */
    char *const masters[] = {"system:masters", NULL};
    k1s_authz_attrs_t m = res_attrs("delete", "apps", "deployments", "", "x", "y");
    m.groups = masters;
    assert_true(k1s_rbac_authorize(rb, &m, reason, sizeof(reason)));
    assert_string_equal(reason, "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of "
                                "ClusterRole \"cluster-admin\" to Group \"system:masters\"");

    /* aggregation: a labelled role adds to view, and through view to edit and admin */
    a.user = "alice";
    a.group = "example.com";
    a.resource = "widgets";
    a.verb = "list";
    assert_false(k1s_rbac_authorize(rb, &a, NULL, 0));
    put(s, "clusterroles",
        "{\"metadata\":{\"name\":\"w\",\"labels\":{\"rbac.authorization.k8s.io/aggregate-to-view\":"
        "\"true\"}},\"rules\":[{\"verbs\":[\"list\"],\"apiGroups\":[\"example.com\"],"
        "\"resources\":[\"widgets\"]}]}");
    tu_run(base);
    assert_true(k1s_rbac_authorize(rb, &a, NULL, 0));
    k1s_kv_t *kv = k1s_store_get(s, "/clusterroles/admin");
    assert_non_null(kv);
    assert_non_null(strstr(kv->value->data, "example.com"));
    /* rules for SelfSubjectRulesReview */
    json_t *rr = json_array(), *nr = json_array();
    k1s_rbac_rules_for(rb, "alice", authed, "team", rr, nr);
    assert_true(json_array_size(rr) > 5);
    assert_true(json_array_size(nr) > 1);
    json_decref(rr);
    json_decref(nr);

    k1s_rbac_free(rb);
    k1s_store_free(s);
    event_base_free(base);
    tu_rmrf(dir);
    free(dir);
    free(db);
}

static void test_default_rules(void **state)
{
    json_t *r = k1s_rbac_default_rules("system:node");
    assert_non_null(r);
    assert_true(json_array_size(r) > 10);
    json_decref(r);
    assert_null(k1s_rbac_default_rules("no-such-role"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbs_groups_resources),
        cmocka_unit_test(test_subresources),
        cmocka_unit_test(test_resource_names),
        cmocka_unit_test(test_non_resource_urls),
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_default_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
