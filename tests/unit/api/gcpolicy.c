/* Unit tests for src/api/gcpolicy.c: which of the orphan and foregroundDeletion finalizers a
 * delete leaves on an object, as kube-apiserver's deletionFinalizersForGarbageCollection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/apiserver-int.h"

/* Runs a delete of an object with finalizers fins (JSON array or NULL) under policy;
 * returns the resulting finalizers as compact JSON ("null" if none) and *changed. */
static char *run(const char *group, const char *kind, const char *fins, const char *policy,
                 bool *changed)
{
    const k1s_resource_t *res = k1s_registry_find_kind(group, kind);
    assert_non_null(res);
    json_t *obj = json_pack("{s:{s:s}}", "metadata", "name", "x");
    if (fins)
        json_object_set_new(json_object_get(obj, "metadata"), "finalizers",
                            json_loads(fins, 0, NULL));
    *changed = k1s_gc_delete_finalizers(res, obj, policy);
    json_t *f = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    char *s = f ? json_dumps(f, JSON_COMPACT) : strdup("null");
    json_decref(obj);
    return s;
}

static void expect(const char *group, const char *kind, const char *fins, const char *policy,
                   const char *want, bool want_changed)
{
    bool changed;
    char *got = run(group, kind, fins, policy, &changed);
    assert_string_equal(got, want);
    assert_int_equal(changed, want_changed);
    free(got);
}

static void test_policies(void **state)
{
    expect("", "ConfigMap", NULL, NULL, "null", false);
    expect("", "ConfigMap", NULL, "Background", "null", false);
    expect("", "ConfigMap", NULL, "Orphan", "[\"orphan\"]", true);
    expect("", "ConfigMap", NULL, "Foreground", "[\"foregroundDeletion\"]", true);
    expect("", "ConfigMap", "[\"a\"]", "Foreground", "[\"a\",\"foregroundDeletion\"]", true);
    /* a second delete with another policy swaps them; Background drops both */
    expect("", "ConfigMap", "[\"foregroundDeletion\",\"a\"]", "Orphan", "[\"a\",\"orphan\"]", true);
    expect("", "ConfigMap", "[\"orphan\"]", "Background", "null", true);
    /* without a policy, a finalizer already there wins over the default */
    expect("", "ConfigMap", "[\"orphan\"]", NULL, "[\"orphan\"]", false);
    expect("", "ConfigMap", "[\"foregroundDeletion\"]", NULL, "[\"foregroundDeletion\"]", false);
    expect("batch", "Job", "[\"foregroundDeletion\"]", NULL, "[\"foregroundDeletion\"]", false);
    /* batch/v1 Jobs orphan by default; apps/v1 deletes dependents */
    expect("batch", "Job", NULL, NULL, "[\"orphan\"]", true);
    expect("batch", "Job", NULL, "Background", "null", false);
    expect("apps", "ReplicaSet", NULL, NULL, "null", false);
}

static void test_parse(void **state)
{
    struct {
        const char *opts;
        int rc;
        const char *policy;
    } cases[] = {
        {"{}", 0, NULL},
        {"{\"propagationPolicy\":\"Foreground\"}", 0, "Foreground"},
        {"{\"propagationPolicy\":null,\"orphanDependents\":true}", 0, "Orphan"},
        {"{\"orphanDependents\":false}", 0, "Background"},
        {"{\"propagationPolicy\":\"Sideways\"}", -EINVAL, NULL},
        {"{\"propagationPolicy\":\"Orphan\",\"orphanDependents\":false}", -EINVAL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *o = json_loads(cases[i].opts, 0, NULL);
        const char *policy = "unset";
        char *msg = NULL;
        int rc = k1s_gc_parse_delete_options(o, &policy, &msg);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0) {
            if (cases[i].policy)
                assert_string_equal(policy, cases[i].policy);
            else
                assert_null(policy);
        } else {
            assert_non_null(strstr(msg, "DeleteOptions.meta.k8s.io \"\" is invalid"));
        }
        free(msg);
        json_decref(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
