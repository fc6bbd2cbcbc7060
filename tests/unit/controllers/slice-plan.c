/* Unit tests for EndpointSlice planning (src/controllers/slice-plan.c): unchanged slices are
 * kept, changed endpoints replaced in place, new ones fill slices being written anyway, then
 * full new slices, then the fullest unchanged slice with room; emptied slices are deleted and a
 * Service without endpoints keeps one placeholder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/slice-plan.c"

static json_t *owner(void)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "Service", "metadata",
                     "name", "web", "namespace", "ns", "uid", "svc-uid");
}

static json_t *ports(int port)
{
    return json_pack("[{s:s,s:i,s:s}]", "name", "http", "port", port, "protocol", "TCP");
}

static json_t *endpoint(int i, bool ready)
{
    char ip[32], name[32];
    snprintf(ip, sizeof(ip), "10.42.%d.%d", i / 250, i % 250 + 2);
    snprintf(name, sizeof(name), "pod-%d", i);
    return json_pack("{s:[s],s:{s:b},s:{s:s,s:s,s:s}}", "addresses", ip, "conditions", "ready",
                     ready, "targetRef", "kind", "Pod", "namespace", "ns", "name", name);
}

/* An existing slice of owner with endpoints [from, to). */
static json_t *slice(const char *name, const json_t *labels, int port, int from, int to)
{
    json_t *eps = json_array();
    for (int i = from; i < to; i++)
        json_array_append_new(eps, endpoint(i, true));
    return json_pack("{s:{s:s,s:s,s:O,s:[{s:s,s:s,s:b}]},s:s,s:o,s:o}", "metadata", "name", name,
                     "namespace", "ns", "labels", labels, "ownerReferences", "kind", "Service",
                     "uid", "svc-uid", "controller", 1, "addressType", "IPv4", "endpoints", eps,
                     "ports", ports(port));
}

static int count(const k1s_es_plan_t *p, k1s_es_action_t a)
{
    int n = 0;
    for (size_t i = 0; i < p->nslices; i++)
        n += p->slices[i].action == a;
    return n;
}

static size_t eps_of(const k1s_es_slice_t *s)
{
    return json_array_size(json_object_get(s->slice, "endpoints"));
}

static void test_new_service_splits_at_max(void **state)
{
    (void)state;
    json_t *svc = owner(), *labels = json_pack("{s:s}", "kubernetes.io/service-name", "web");
    json_t *pp = ports(8080);
    k1s_es_plan_t p = {0};
    for (int i = 0; i < 250; i++) {
        json_t *e = endpoint(i, true);
        k1s_es_plan_endpoint(&p, pp, e);
        json_decref(e);
    }
    k1s_es_plan_opts_t o = {.owner = svc, .labels = labels, .max_per_slice = 100, .placeholder = 1};
    k1s_es_plan_slices(&p, NULL, 0, &o);
    assert_int_equal(count(&p, K1S_ES_CREATE), 3);
    assert_int_equal(eps_of(&p.slices[0]), 100);
    assert_int_equal(eps_of(&p.slices[1]), 100);
    assert_int_equal(eps_of(&p.slices[2]), 50);
    json_t *md = json_object_get(p.slices[0].slice, "metadata");
    assert_string_equal(k1s_ctrl_str(md, "generateName"), "web-");
    json_t *ref = json_array_get(json_object_get(md, "ownerReferences"), 0);
    assert_string_equal(k1s_ctrl_str(ref, "uid"), "svc-uid");
    assert_true(json_is_true(json_object_get(ref, "controller")));
    k1s_es_plan_free(&p);
    json_decref(pp);
    json_decref(labels);
    json_decref(svc);
}

static void test_minimal_changes(void **state)
{
    (void)state;
    json_t *svc = owner(), *labels = json_pack("{s:s}", "kubernetes.io/service-name", "web");
    json_t *pp = ports(8080);
    /* a: endpoints 0..99 (full), b: 100..129, c: 130..149; other port: d; other owner: e */
    json_t *a = slice("web-a", labels, 8080, 0, 100), *b = slice("web-b", labels, 8080, 100, 130);
    json_t *c = slice("web-c", labels, 8080, 130, 150), *d = slice("web-d", labels, 9090, 0, 5);
    json_t *e = slice("web-e", labels, 8080, 150, 160);
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(e, "metadata"), "ownerReferences"), 0),
        "uid", json_string("old-uid"));
    json_t *existing[] = {a, b, c, d, e};
    k1s_es_plan_t p = {0};
    /* desired: 0..149 with 5 not ready any more, 130..149 gone, 10 new ones (200..209) */
    for (int i = 0; i < 130; i++) {
        json_t *ep = endpoint(i, !(i >= 100 && i < 105));
        k1s_es_plan_endpoint(&p, pp, ep);
        json_decref(ep);
    }
    for (int i = 200; i < 210; i++) {
        json_t *ep = endpoint(i, true);
        k1s_es_plan_endpoint(&p, pp, ep);
        json_decref(ep);
    }
    k1s_es_plan_opts_t o = {.owner = svc, .labels = labels, .max_per_slice = 100, .placeholder = 1};
    k1s_es_plan_slices(&p, existing, 5, &o);
    /* a kept as is; b updated in place and takes the new ones; c, d and e deleted */
    assert_int_equal(p.nslices, 5);
    assert_int_equal(p.slices[0].action, K1S_ES_KEEP);
    assert_int_equal(p.slices[1].action, K1S_ES_UPDATE);
    assert_int_equal(eps_of(&p.slices[1]), 40);
    json_t *ep100 = json_array_get(json_object_get(p.slices[1].slice, "endpoints"), 0);
    assert_false(json_is_true(json_object_get(json_object_get(ep100, "conditions"), "ready")));
    assert_int_equal(p.slices[2].action, K1S_ES_DELETE);
    assert_int_equal(p.slices[3].action, K1S_ES_DELETE);
    assert_int_equal(p.slices[4].action, K1S_ES_DELETE);
    assert_int_equal(count(&p, K1S_ES_CREATE), 0);
    k1s_es_plan_free(&p);

    /* nothing changed: nothing to do; new endpoints that fit go to the fullest slice with room */
    k1s_es_plan_t q = {0};
    for (int i = 0; i < 130; i++) {
        json_t *ep = endpoint(i, true);
        k1s_es_plan_endpoint(&q, pp, ep);
        json_decref(ep);
    }
    json_t *kept[] = {a, b};
    k1s_es_plan_slices(&q, kept, 2, &o);
    assert_int_equal(count(&q, K1S_ES_KEEP), 2);
    assert_int_equal(q.nslices, 2);
    k1s_es_plan_free(&q);
    k1s_es_plan_t r = {0};
    for (int i = 0; i < 135; i++) {
        json_t *ep = endpoint(i, true);
        k1s_es_plan_endpoint(&r, pp, ep);
        json_decref(ep);
    }
    k1s_es_plan_slices(&r, kept, 2, &o);
    assert_int_equal(r.slices[0].action, K1S_ES_KEEP);
    assert_int_equal(r.slices[1].action, K1S_ES_UPDATE);
    assert_int_equal(eps_of(&r.slices[1]), 35);
    assert_int_equal(r.nslices, 2);
    k1s_es_plan_free(&r);

    /* no endpoints left: everything goes but a placeholder is created */
    k1s_es_plan_t z = {0};
    k1s_es_plan_slices(&z, kept, 2, &o);
    assert_int_equal(count(&z, K1S_ES_DELETE), 2);
    assert_int_equal(count(&z, K1S_ES_CREATE), 1);
    k1s_es_slice_t *ph = &z.slices[2];
    assert_int_equal(eps_of(ph), 0);
    assert_int_equal(json_array_size(json_object_get(ph->slice, "ports")), 0);
    /* ... and an existing placeholder is kept */
    json_t *placeholder = json_deep_copy(ph->slice);
    k1s_es_plan_free(&z);
    json_object_set_new(json_object_get(placeholder, "metadata"), "name", json_string("web-p"));
    json_t *only[] = {placeholder};
    k1s_es_plan_t y = {0};
    k1s_es_plan_slices(&y, only, 1, &o);
    assert_int_equal(y.nslices, 1);
    assert_int_equal(y.slices[0].action, K1S_ES_KEEP);
    k1s_es_plan_free(&y);
    json_decref(placeholder);

    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
    json_decref(e);
    json_decref(pp);
    json_decref(labels);
    json_decref(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_service_splits_at_max),
        cmocka_unit_test(test_minimal_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
