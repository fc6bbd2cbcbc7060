/*
 * Unit tests for src/client/client.c (the .c is included to reach its
 * statics): request paths and query strings, and the watch stream parser
 * given events split across pieces at any byte, several events in one
 * piece, and a cancel from inside an event callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../src/client/client.c"

static void test_paths(void **state)
{
    k1s_gvr_t pods = {"", "v1", "pods", true};
    k1s_gvr_t deps = {"apps", "v1", "deployments", true};
    k1s_gvr_t nodes = {"", "v1", "nodes", false};
    char *p = k1s_client_path(&pods, "default", "web-0", "status");
    assert_string_equal(p, "/api/v1/namespaces/default/pods/web-0/status");
    free(p);
    p = k1s_client_path(&deps, NULL, NULL, NULL);
    assert_string_equal(p, "/apis/apps/v1/deployments");
    free(p);
    p = k1s_client_path(&nodes, "ignored", "n 1/x", NULL);
    assert_string_equal(p, "/api/v1/nodes/n%201%2Fx");
    free(p);
    k1s_buf_t b = K1S_BUF_INIT;
    put_path(&b, &pods, "ns", NULL, NULL);
    k1s_list_opts_t o = {.label_selector = "app in (a,b),tier!=x",
                         .field_selector = "spec.nodeName=n1",
                         .resource_version = "42",
                         .limit = 500,
                         .timeout_s = 300,
                         .allow_bookmarks = true};
    put_list_opts(&b, &o, true);
    assert_string_equal(b.data, "/api/v1/namespaces/ns/pods?watch=1"
                                "&labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Dx"
                                "&fieldSelector=spec.nodeName%3Dn1&resourceVersion=42&limit=500"
                                "&timeoutSeconds=300&allowWatchBookmarks=true");
    k1s_buf_free(&b);
}

typedef struct got {
    k1s_buf_t log;
    int closed;
    k1s_client_req_t *cancel_on_2nd;
    int n;
} got_t;

static void wcb(k1s_watch_type_t t, json_t *obj, int status, void *arg)
{
    got_t *g = arg;
    static const char *names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR", "CLOSED"};
    if (t == K1S_WATCH_CLOSED) {
        g->closed++;
        return;
    }
    g->n++;
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    k1s_buf_printf(&g->log, "%s %s;", names[t], name ? name : "-");
    if (g->n == 2 && g->cancel_on_2nd)
        k1s_client_cancel(g->cancel_on_2nd);
}

static k1s_client_req_t *fake_watch(k1s_client_t *c, got_t *g)
{
    k1s_client_req_t *r = k1s_xcalloc(1, sizeof(*r));
    r->c = c;
    r->wcb = wcb;
    r->arg = g;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->npending++;
    return r;
}

static void noop(k1s_http_req_t *req, void *arg)
{
}

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n";

static void test_watch_split_anywhere(void **state)
{
    struct event_base *base = event_base_new();
    k1s_client_t *c = k1s_client_new_inprocess(base, noop, NULL, "u", NULL);
    size_t len = strlen(stream);
    for (size_t cut = 0; cut <= len; cut += 7) {
        for (size_t cut2 = cut; cut2 <= len; cut2 += 13) {
            got_t g = {0};
            k1s_client_req_t *r = fake_watch(c, &g);
            on_watch(K1S_LB_DATA, 200, stream, cut, r);
            on_watch(K1S_LB_DATA, 200, stream + cut, cut2 - cut, r);
            on_watch(K1S_LB_DATA, 200, stream + cut2, len - cut2, r);
            assert_string_equal(g.log.data, "ADDED a;MODIFIED a;BOOKMARK -;DELETED a;ERROR -;");
            on_watch(K1S_LB_END, 200, "", 0, r);
            assert_int_equal(g.closed, 1);
            assert_int_equal(k1s_client_pending(c), 0);
            k1s_buf_free(&g.log);
        }
    }
    k1s_client_free(c);
    event_base_free(base);
}

static void test_watch_cancel_inside(void **state)
{
    struct event_base *base = event_base_new();
    k1s_client_t *c = k1s_client_new_inprocess(base, noop, NULL, "u", NULL);
    got_t g = {0};
    k1s_client_req_t *r = fake_watch(c, &g);
    g.cancel_on_2nd = r;
    on_watch(K1S_LB_DATA, 200, stream, strlen(stream), r);
    /* nothing after the cancel, and r is gone (ASan would see a use after free) */
    assert_string_equal(g.log.data, "ADDED a;MODIFIED a;");
    assert_int_equal(g.closed, 0);
    assert_int_equal(k1s_client_pending(c), 0);
    k1s_buf_free(&g.log);
    k1s_client_free(c);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_watch_split_anywhere),
        cmocka_unit_test(test_watch_cancel_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
