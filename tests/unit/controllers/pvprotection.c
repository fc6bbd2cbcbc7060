/* Unit tests for the pvc-protection controller's idea of a claim in use
 * (src/controllers/pvprotection.c, included to reach its statics). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../src/controllers/pvprotection.c"

static json_t *pod(const char *node, const char *phase, const char *claim, const char *eph)
{
    json_t *p = json_pack("{s:{s:s,s:s,s:s},s:{s:s,s:[]},s:{s:s}}", "metadata", "name", "web",
                          "namespace", "ns", "uid", "pod-uid", "spec", "nodeName", node, "volumes",
                          "status", "phase", phase);
    json_t *vols = json_object_get(json_object_get(p, "spec"), "volumes");
    if (claim)
        json_array_append_new(vols, json_pack("{s:s,s:{s:s}}", "name", "v", "persistentVolumeClaim",
                                              "claimName", claim));
    if (eph)
        json_array_append_new(vols, json_pack("{s:s,s:{}}", "name", eph, "ephemeral"));
    return p;
}

static json_t *claim(const char *name, const char *owner_uid)
{
    json_t *c = json_pack("{s:{s:s,s:s}}", "metadata", "name", name, "namespace", "ns");
    if (owner_uid)
        json_object_set_new(json_object_get(c, "metadata"), "ownerReferences",
                            json_pack("[{s:s,s:s,s:s,s:b}]", "kind", "Pod", "name", "web", "uid",
                                      owner_uid, "controller", 1));
    return c;
}

static void test_pod_uses(void **state)
{
    json_t *data = claim("data", NULL);
    json_t *p = pod("n1", "Running", "data", NULL);
    assert_true(pod_uses(p, data));
    json_decref(p);
    /* not scheduled: the kubelet has not seen it, and will not start it with a deleted claim */
    p = pod("", "Pending", "data", NULL);
    assert_false(pod_uses(p, data));
    json_decref(p);
    /* finished pods still count, as upstream */
    p = pod("n1", "Succeeded", "data", NULL);
    assert_true(pod_uses(p, data));
    json_decref(p);
    p = pod("n1", "Running", "other", NULL);
    assert_false(pod_uses(p, data));
    json_decref(p);

    /* an ephemeral claim counts only if the pod owns it, until the pod is shut down */
    json_t *mine = claim("web-scratch", "pod-uid"), *theirs = claim("web-scratch", "x");
    p = pod("n1", "Running", NULL, "scratch");
    assert_true(pod_uses(p, mine));
    assert_false(pod_uses(p, theirs));
    json_t *md = json_object_get(p, "metadata");
    json_object_set_new(md, "deletionTimestamp", json_string("2026-11-30T08:00:00Z"));
    json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(30));
    assert_true(pod_uses(p, mine));
    json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
    assert_false(pod_uses(p, mine));
    json_decref(p);
    json_decref(mine);
    json_decref(theirs);
    json_decref(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_uses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
