/* Unit tests for the Deployment controller's arithmetic (src/controllers/deployment.c):
 * int-or-percent rounding, fenceposts, template equality ignoring the hash, revision
 * annotations, the new ReplicaSet's size in a rolling update, and proportional scaling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/deployment.c"

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, 0, &e);
    assert_non_null(v);
    return v;
}

static json_t *dep(int replicas, const char *surge, const char *unavail)
{
    json_t *d = parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                      "\"web\",\"namespace\":\"default\",\"uid\":\"u1\",\"generation\":1},"
                      "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"strategy\":{"
                      "\"type\":\"RollingUpdate\",\"rollingUpdate\":{}},\"template\":{"
                      "\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
                      "\"name\":\"c\",\"image\":\"a\"}]}}},\"status\":{}}");
    json_object_set_new(spec(d), "replicas", json_integer(replicas));
    json_t *ru = json_object_get(json_object_get(spec(d), "strategy"), "rollingUpdate");
    json_object_set_new(ru, "maxSurge",
                        surge[strlen(surge) - 1] == '%' ? json_string(surge)
                                                        : json_integer(atoi(surge)));
    json_object_set_new(ru, "maxUnavailable",
                        unavail[strlen(unavail) - 1] == '%' ? json_string(unavail)
                                                            : json_integer(atoi(unavail)));
    return d;
}

static json_t *rs(const char *name, int replicas, const char *created, const char *max)
{
    json_t *r =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s},s:{s:i},s:{}}", "apiVersion", "apps/v1", "kind",
                  "ReplicaSet", "metadata", "name", name, "namespace", "default", "uid", name,
                  "creationTimestamp", created, "spec", "replicas", replicas, "status");
    if (max)
        set_ann(r, ANN_MAX, max);
    return r;
}

static dsync_t *new_sync(json_t *d)
{
    static dc_t c;
    dsync_t *s = k1s_xcalloc(1, sizeof(*s));
    s->c = &c;
    s->key = k1s_xstrdup("default/web");
    s->cached = json_incref(d);
    s->d = json_deep_copy(d);
    s->after_ms = -1;
    s->rs = k1s_xcalloc(8, sizeof(*s->rs));
    c.syncs = s;
    return s;
}

static void test_scaled_value(void **state)
{
    json_t *p = json_string("25%"), *i = json_integer(3);
    assert_int_equal(scaled_value(p, NULL, 10, true), 3);
    assert_int_equal(scaled_value(p, NULL, 10, false), 2);
    assert_int_equal(scaled_value(i, NULL, 10, false), 3);
    assert_int_equal(scaled_value(NULL, "25%", 4, false), 1);
    assert_int_equal(scaled_value(NULL, "25%", 1, false), 0);
    assert_int_equal(scaled_value(NULL, "25%", 1, true), 1);
    json_decref(p);
    json_decref(i);
}

static void test_fenceposts(void **state)
{
    json_t *d = dep(10, "0", "0");
    int64_t s, u;
    fenceposts(d, &s, &u);
    assert_int_equal(s, 0);
    assert_int_equal(u, 1); /* both zero: one may be unavailable */
    json_decref(d);
    d = dep(10, "25%", "25%");
    assert_int_equal(max_surge(d), 3);
    assert_int_equal(max_unavailable(d), 2);
    json_decref(d);
    d = dep(2, "1", "5");
    assert_int_equal(max_unavailable(d), 2); /* never more than replicas */
    json_decref(d);
}

static void test_equal_ignore_hash(void **state)
{
    json_t *a = parse("{\"metadata\":{\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"x\"}},"
                      "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"a\"}]}}");
    json_t *b = parse("{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"web\"}},"
                      "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"a\",\"resources\":{}"
                      "}]}}");
    json_t *c = parse("{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
                      "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"b\"}]}}");
    assert_true(equal_ignore_hash(a, b));
    assert_false(equal_ignore_hash(a, c));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_revision_annotations(void **state)
{
    json_t *d = dep(3, "1", "1");
    set_ann(d, "kubernetes.io/change-cause", "because");
    set_ann(d, ANN_REVISION, "9");
    json_t *r = rs("web-1", 0, "2026-01-01T00:00:00Z", NULL);
    assert_true(set_new_rs_annotations(d, r, 1, false));
    assert_string_equal(ann(r, ANN_REVISION), "1");
    assert_string_equal(ann(r, "kubernetes.io/change-cause"), "because");
    assert_string_equal(ann(r, ANN_DESIRED), "3");
    assert_string_equal(ann(r, ANN_MAX), "4");
    assert_null(ann(r, ANN_REVISION_HISTORY));
    /* rolled back to: the revision moves on and the old one goes to the history */
    assert_true(set_new_rs_annotations(d, r, 3, true));
    assert_string_equal(ann(r, ANN_REVISION), "3");
    assert_string_equal(ann(r, ANN_REVISION_HISTORY), "1");
    assert_true(set_new_rs_annotations(d, r, 5, true));
    assert_string_equal(ann(r, ANN_REVISION_HISTORY), "1,3");
    assert_false(set_new_rs_annotations(d, r, 5, true));
    json_decref(r);
    json_decref(d);
}

static void test_new_rs_replicas(void **state)
{
    json_t *d = dep(10, "3", "2");
    dsync_t *s = new_sync(d);
    json_t *old = rs("web-old", 10, "2026-01-01T00:00:00Z", NULL);
    json_t *nrs = rs("web-new", 0, "2026-01-01T00:01:00Z", NULL);
    json_t *all[] = {old, nrs};
    assert_int_equal(new_rs_new_replicas(s, all, 2, nrs), 3);
    set_replicas(old, 8);
    set_replicas(nrs, 3);
    assert_int_equal(new_rs_new_replicas(s, all, 2, nrs), 5);
    set_replicas(nrs, 5);
    assert_int_equal(new_rs_new_replicas(s, all, 2, nrs), 5);
    json_decref(old);
    json_decref(nrs);
    dsync_free(s);
    json_decref(d);
}

/* Upstream's proportional scaling example: 8 old + 5 new of 10 (+3) scaled to 20 (+3). */
static void test_proportional_scaling(void **state)
{
    json_t *d = dep(20, "3", "2");
    json_object_set_new(status(d), "replicas", json_integer(13));
    dsync_t *s = new_sync(d);
    s->rs[s->nrs++] = rs("web-old", 8, "2026-01-01T00:00:00Z", "13");
    s->rs[s->nrs++] = rs("web-new", 5, "2026-01-01T00:01:00Z", "13");
    s->new_rs = json_incref(s->rs[1]);
    s->got_all = true;
    scale(s);
    assert_int_equal(replicas(s->rs[0]), 14);
    assert_int_equal(replicas(s->rs[1]), 9);
    assert_string_equal(ann(s->rs[0], ANN_DESIRED), "20");
    assert_string_equal(ann(s->rs[1], ANN_MAX), "23");
    /* one update per ReplicaSet, each with its Event */
    int n = 0;
    for (write_t *w = s->head; w; w = w->next, n++) {
        assert_int_equal(w->kind, W_RS_UPDATE);
        assert_int_equal(json_array_size(w->event), 1);
    }
    assert_int_equal(n, 2);
    assert_string_equal(json_string_value(json_array_get(s->head->event, 0)),
                        "Scaled up replica set web-old from 8 to 14");
    dsync_free(s);
    json_decref(d);

    /* and back down to 5 (+3): the larger, older one loses most */
    d = dep(5, "3", "2");
    json_object_set_new(status(d), "replicas", json_integer(23));
    s = new_sync(d);
    s->rs[s->nrs++] = rs("web-old", 14, "2026-01-01T00:00:00Z", "23");
    s->rs[s->nrs++] = rs("web-new", 9, "2026-01-01T00:01:00Z", "23");
    s->new_rs = json_incref(s->rs[1]);
    s->got_all = true;
    scale(s);
    assert_int_equal(replicas(s->rs[0]) + replicas(s->rs[1]), 8);
    assert_int_equal(replicas(s->rs[0]), 5);
    assert_int_equal(replicas(s->rs[1]), 3);
    dsync_free(s);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaled_value),      cmocka_unit_test(test_fenceposts),
        cmocka_unit_test(test_equal_ignore_hash), cmocka_unit_test(test_revision_annotations),
        cmocka_unit_test(test_new_rs_replicas),   cmocka_unit_test(test_proportional_scaling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
