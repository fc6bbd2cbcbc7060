/* Unit tests for src/api/webhook.c: rule and selector matching of admission webhooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/webhook.c"

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s", s, je.text);
    return v;
}

static bool rule(const char *r, const char *op, const char *group, const char *version,
                 const char *plural, const char *sub, bool namespaced)
{
    json_t *j = J(r);
    bool m = k1s_webhook_rule_matches(j, op, group, version, plural, sub, namespaced);
    json_decref(j);
    return m;
}

#define POD_RULE(res)                                                                              \
    "{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],"                  \
    "\"resources\":[" res "]}"

static void test_resources(void **state)
{
    assert_true(rule(POD_RULE("\"pods\""), "CREATE", "", "v1", "pods", NULL, true));
    assert_false(rule(POD_RULE("\"pods\""), "CREATE", "", "v1", "pods", "status", true));
    assert_false(rule(POD_RULE("\"pods\""), "CREATE", "", "v1", "services", NULL, true));
    assert_true(rule(POD_RULE("\"*\""), "CREATE", "", "v1", "services", NULL, true));
    assert_false(rule(POD_RULE("\"*\""), "CREATE", "", "v1", "pods", "status", true));
    assert_true(rule(POD_RULE("\"*/*\""), "CREATE", "", "v1", "pods", "status", true));
    assert_true(rule(POD_RULE("\"*/*\""), "CREATE", "", "v1", "pods", NULL, true));
    assert_true(rule(POD_RULE("\"pods/status\""), "CREATE", "", "v1", "pods", "status", true));
    assert_false(rule(POD_RULE("\"pods/status\""), "CREATE", "", "v1", "pods", NULL, true));
    assert_true(rule(POD_RULE("\"pods/*\""), "CREATE", "", "v1", "pods", "binding", true));
    assert_true(rule(POD_RULE("\"pods/*\""), "CREATE", "", "v1", "pods", NULL, true));
    assert_true(rule(POD_RULE("\"*/status\""), "CREATE", "", "v1", "nodes", "status", false));
    assert_false(rule(POD_RULE("\"*/status\""), "CREATE", "", "v1", "nodes", "scale", false));
}

static void test_operations_groups_scope(void **state)
{
    const char *r = "{\"operations\":[\"CREATE\",\"UPDATE\"],\"apiGroups\":[\"apps\"],"
                    "\"apiVersions\":[\"*\"],\"resources\":[\"deployments\"],"
                    "\"scope\":\"Namespaced\"}";
    assert_true(rule(r, "CREATE", "apps", "v1", "deployments", NULL, true));
    assert_true(rule(r, "UPDATE", "apps", "v1beta2", "deployments", NULL, true));
    assert_false(rule(r, "DELETE", "apps", "v1", "deployments", NULL, true));
    assert_false(rule(r, "CREATE", "", "v1", "deployments", NULL, true));
    assert_false(rule(r, "CREATE", "apps", "v1", "deployments", NULL, false));
    const char *all = "{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],"
                      "\"resources\":[\"*\"],\"scope\":\"Cluster\"}";
    assert_true(
        rule(all, "DELETE", "rbac.authorization.k8s.io", "v1", "clusterroles", NULL, false));
    assert_false(rule(all, "DELETE", "", "v1", "configmaps", NULL, true));
}

static bool sel(const char *s, const char *labels)
{
    json_t *js = s ? J(s) : NULL;
    json_t *jl = labels ? J(labels) : NULL;
    bool m = k1s_webhook_selector_matches(js, jl);
    json_decref(js);
    json_decref(jl);
    return m;
}

static void test_selectors(void **state)
{
    assert_true(sel(NULL, NULL));
    assert_true(sel("{}", "{\"a\":\"b\"}"));
    assert_true(sel("{\"matchLabels\":{\"a\":\"b\"}}", "{\"a\":\"b\",\"c\":\"d\"}"));
    assert_false(sel("{\"matchLabels\":{\"a\":\"b\"}}", "{\"a\":\"c\"}"));
    assert_false(sel("{\"matchLabels\":{\"a\":\"b\"}}", NULL));
    assert_true(sel("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\","
                    "\"values\":[\"prod\"]}]}",
                    "{\"env\":\"dev\"}"));
    assert_false(sel("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\","
                     "\"values\":[\"prod\"]}]}",
                     "{\"env\":\"prod\"}"));
    assert_true(
        sel("{\"matchExpressions\":[{\"key\":\"skip\",\"operator\":\"DoesNotExist\"}]}", "{}"));
    /* a malformed selector matches nothing */
    assert_false(sel("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Bogus\"}]}", "{}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_operations_groups_scope),
        cmocka_unit_test(test_selectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
