/* Unit tests for the PersistentVolume controller's matching of claims to volumes
 * (src/controllers/pvbinder.c, included to reach its statics). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../src/controllers/pvbinder.c"

static json_t *vol(const char *name, const char *size, const char *cls, const char *modes,
                   const char *phase_)
{
    json_t *m = json_array();
    char *copy = k1s_xstrdup(modes);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(m, json_string(t));
    free(copy);
    return json_pack("{s:{s:s,s:{}},s:{s:{s:s},s:o,s:s},s:{s:s}}", "metadata", "name", name,
                     "labels", "spec", "capacity", "storage", size, "accessModes", m,
                     "storageClassName", cls, "status", "phase", phase_);
}

static json_t *claim(const char *size, const char *cls, const char *mode)
{
    return json_pack("{s:{s:s,s:s,s:s},s:{s:{s:{s:s}},s:[s],s:s}}", "metadata", "name", "c",
                     "namespace", "ns", "uid", "u1", "spec", "resources", "requests", "storage",
                     size, "accessModes", mode, "storageClassName", cls);
}

static const char *match_name(json_t **vols, size_t n, const json_t *c, bool delay)
{
    json_t *pv = best_match(vols, n, c, delay, NULL);
    return pv ? k1s_ctrl_str(meta(pv), "name") : NULL;
}

/* The name of the volume of vols[0..n) a new claim(size, cls, mode) gets, or NULL. */
static const char *claim_match(json_t **vols, size_t n, const char *size, const char *cls,
                               const char *mode)
{
    json_t *c = claim(size, cls, mode);
    const char *name = match_name(vols, n, c, false);
    json_decref(c);
    return name;
}

static void free_vols(json_t **vols, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(vols[i]);
}

static void test_smallest_fit(void **state)
{
    json_t *v[] = {
        vol("big", "10Gi", "fast", "ReadWriteOnce", "Available"),
        vol("small", "1Gi", "fast", "ReadWriteOnce", "Available"),
        vol("mid", "2Gi", "fast", "ReadWriteOnce", "Available"),
        vol("tiny", "100Mi", "fast", "ReadWriteOnce", "Available"),
        vol("other-class", "1Gi", "slow", "ReadWriteOnce", "Available"),
        vol("bound", "1Gi", "fast", "ReadWriteOnce", "Bound"),
    };
    size_t n = sizeof(v) / sizeof(v[0]);
    json_t *c = claim("1000Mi", "fast", "ReadWriteOnce");
    assert_string_equal(match_name(v, n, c, false), "small");
    /* waiting for the first consumer, the controller binds only pre-bound volumes */
    assert_null(match_name(v, n, c, true));
    json_decref(c);
    assert_string_equal(claim_match(v, n, "1.5Gi", "fast", "ReadWriteOnce"), "mid");
    assert_null(claim_match(v, n, "20Gi", "fast", "ReadWriteOnce"));
    assert_null(claim_match(v, n, "1Gi", "", "ReadWriteOnce"));
    free_vols(v, n);
}

static void test_access_modes_and_selector(void **state)
{
    json_t *v[] = {
        vol("rwx-small", "1Gi", "", "ReadWriteOnce,ReadWriteMany", "Available"),
        vol("rwo-big", "5Gi", "", "ReadWriteOnce", "Available"),
        vol("rox", "1Gi", "", "ReadOnlyMany", "Available"),
    };
    size_t n = sizeof(v) / sizeof(v[0]);
    /* fewer access modes first, then the smallest */
    assert_string_equal(claim_match(v, n, "1Gi", "", "ReadWriteOnce"), "rwo-big");
    assert_string_equal(claim_match(v, n, "1Gi", "", "ReadWriteMany"), "rwx-small");
    assert_null(claim_match(v, n, "1Gi", "", "ReadWriteOncePod"));
    /* a selector */
    json_object_set_new(json_object_get(json_object_get(v[2], "metadata"), "labels"), "tier",
                        json_string("gold"));
    json_t *c = claim("1Gi", "", "ReadOnlyMany");
    json_object_set_new(json_object_get(c, "spec"), "selector",
                        json_pack("{s:{s:s}}", "matchLabels", "tier", "silver"));
    assert_null(match_name(v, n, c, false));
    json_object_set_new(json_object_get(c, "spec"), "selector",
                        json_pack("{s:{s:s}}", "matchLabels", "tier", "gold"));
    assert_string_equal(match_name(v, n, c, false), "rox");
    /* a Block claim takes only Block volumes */
    json_object_set_new(json_object_get(c, "spec"), "volumeMode", json_string("Block"));
    assert_null(match_name(v, n, c, false));
    json_decref(c);
    free_vols(v, n);
}

static void test_prebound(void **state)
{
    json_t *v[] = {
        vol("free", "1Gi", "fast", "ReadWriteOnce", "Available"),
        vol("reserved", "5Gi", "fast", "ReadWriteOnce", "Pending"),
        vol("other", "1Gi", "fast", "ReadWriteOnce", "Available"),
    };
    size_t n = sizeof(v) / sizeof(v[0]);
    json_object_set_new(json_object_get(v[1], "spec"), "claimRef",
                        json_pack("{s:s,s:s}", "namespace", "ns", "name", "c"));
    json_object_set_new(json_object_get(v[2], "spec"), "claimRef",
                        json_pack("{s:s,s:s,s:s}", "namespace", "ns", "name", "c", "uid", "old"));
    json_t *c = claim("1Gi", "fast", "ReadWriteOnce");
    /* the volume reserved for the claim wins, even waiting for the first consumer */
    assert_string_equal(match_name(v, n, c, false), "reserved");
    assert_string_equal(match_name(v, n, c, true), "reserved");
    assert_true(bound_to_claim(v[1], c));
    assert_false(bound_to_claim(v[2], c)); /* another claim of that name */
    assert_null(mismatch(c, v[0]));
    json_object_set_new(json_object_get(json_object_get(c, "spec"), "resources"), "requests",
                        json_pack("{s:s}", "storage", "2Gi"));
    assert_string_equal(mismatch(c, v[0]), "requested PV is too small");
    json_decref(c);
    free_vols(v, n);
}

static void test_node_affinity(void **state)
{
    json_t *node = json_pack("{s:{s:s,s:{s:s,s:s,s:s}}}", "metadata", "name", "n1", "labels",
                             "kubernetes.io/hostname", "h1", "zone", "z1", "cores", "8");
    json_t *pv = vol("local", "1Gi", "", "ReadWriteOnce", "Available");
    assert_true(node_affinity_matches(pv, node)); /* no affinity: any node */
    struct {
        const char *term;
        bool want;
    } cases[] = {
        {"{\"matchExpressions\":[{\"key\":\"kubernetes.io/hostname\",\"operator\":\"In\","
         "\"values\":[\"h0\",\"h1\"]}]}",
         true},
        {"{\"matchExpressions\":[{\"key\":\"kubernetes.io/hostname\",\"operator\":\"In\","
         "\"values\":[\"h2\"]}]}",
         false},
        {"{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"z2\"]},"
         "{\"key\":\"cores\",\"operator\":\"Gt\",\"values\":[\"4\"]}]}",
         true},
        {"{\"matchExpressions\":[{\"key\":\"cores\",\"operator\":\"Lt\",\"values\":[\"4\"]}]}",
         false},
        {"{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"}]}", true},
        {"{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Exists\"}]}", false},
        {"{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n1\"]}]}",
         true},
        {"{}", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *term = json_loads(cases[i].term, 0, NULL);
        assert_non_null(term);
        json_object_set_new(json_object_get(pv, "spec"), "nodeAffinity",
                            json_pack("{s:{s:[o]}}", "required", "nodeSelectorTerms", term));
        assert_int_equal(node_affinity_matches(pv, node), cases[i].want);
    }
    /* with a node, a volume it does not meet is no match, even reserved for the claim */
    json_t *c = claim("1Gi", "", "ReadWriteOnce");
    json_t *v[] = {pv};
    assert_null(best_match(v, 1, c, false, node));
    assert_non_null(best_match(v, 1, c, false, NULL));
    json_object_set_new(json_object_get(pv, "spec"), "claimRef",
                        json_pack("{s:s,s:s}", "namespace", "ns", "name", "c"));
    assert_null(best_match(v, 1, c, false, node));
    json_decref(c);
    json_decref(pv);
    json_decref(node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smallest_fit),
        cmocka_unit_test(test_access_modes_and_selector),
        cmocka_unit_test(test_prebound),
        cmocka_unit_test(test_node_affinity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
