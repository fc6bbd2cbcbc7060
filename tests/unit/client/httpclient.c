/*
 * The client's HTTPS transport (src/client/httpclient.c) against a real TLS
 * HTTP server (net/http.c) on a free loopback port, on one event loop run
 * until each step's answer is in:
 *
 * - sequential requests share one kept-alive connection;
 * - a watch stream read to its end leaves its connection reusable;
 * - an idle connection the server times out leaves the pool, and the next
 *   request opens a new one;
 * - a reused connection the server closes before answering (it raced with
 *   the request) is retried once on a new connection, invisibly;
 * - with the server gone a request fails with status 0 and a reason; once
 *   the server is back, requests work again;
 * - concurrent requests each get a connection; the idle pool keeps a few.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <ftw.h>
#include <sys/stat.h>

#include "client/client.h"
#include "lib/util.h"
#include "net/http.h"
#include "net/tls.h"
#include "server/pki.h"

static char tmpdir[64];
static struct event_base *base;
static k1s_http_server_t *srv;
static int port;
static SSL_CTX *srv_tls;
static int hijack_next; /* the next /get answers by hand, then drops the connection */
static int served;

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

/* ---- a server that hangs up on the next request of a connection ---- */

static void hang_up(struct bufferevent *bev, void *arg)
{
    bufferevent_free(bev); /* closes without answering */
}

static void hang_up_ev(struct bufferevent *bev, short what, void *arg)
{
    bufferevent_free(bev);
}

static void handler(k1s_http_req_t *req, void *arg)
{
    const char *path = req->path;
    served++;
    if (!strcmp(path, "/get") && hijack_next) {
        hijack_next = 0;
        struct bufferevent *bev = k1s_http_hijack(req);
        assert_non_null(bev);
        static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 12\r\n\r\n{\"hijack\":1}";
        bufferevent_write(bev, ans, sizeof(ans) - 1);
        bufferevent_setcb(bev, hang_up, NULL, hang_up_ev, NULL);
        bufferevent_enable(bev, EV_READ);
        return;
    }
    if (!strcmp(path, "/get")) {
        char body[64];
        snprintf(body, sizeof(body), "{\"n\":%d}", served);
        k1s_http_respond(req, 200, "application/json", body, strlen(body));
        return;
    }
    if (!strcmp(path, "/api/v1/things")) { /* a watch: two events, then the end */
        k1s_http_stream_start(req, 200, "application/json", NULL, NULL);
        static const char e1[] = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Thing\"}}\n";
        static const char e2[] = "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Thing\"}}\n";
        k1s_http_stream_write(req, e1, sizeof(e1) - 1);
        k1s_http_stream_write(req, e2, sizeof(e2) - 1);
        k1s_http_stream_end(req);
        return;
    }
    k1s_http_respond(req, 404, "text/plain", "no\n", 3);
}

static void server_start(void)
{
    k1s_http_opts_t o = {.idle_timeout_s = 1};
    srv = k1s_http_server_new(base, srv_tls, &o, handler, NULL);
    k1s_err_t err = {0};
    assert_int_equal(k1s_http_server_listen(srv, "127.0.0.1", port, &err), 0);
    port = k1s_http_server_port(srv);
}

/* ---- the client side ---- */

typedef struct answer {
    int n;      /* answers received */
    int status; /* the last one's */
    char body[256];
    int events; /* watch events */
    bool closed;
} answer_t;

static void on_answer(const k1s_client_result_t *res, void *arg)
{
    answer_t *a = arg;
    a->n++;
    a->status = res->status;
    snprintf(a->body, sizeof(a->body), "%.*s", (int)res->len, res->body ? res->body : "");
}

static void on_event(k1s_watch_type_t t, json_t *obj, int status, void *arg)
{
    answer_t *a = arg;
    if (t == K1S_WATCH_CLOSED)
        a->closed = true;
    else
        a->events++;
}

/* Runs the loop until *n reaches want or 10 s pass. */
static void run_until(const int *n, int want)
{
    uint64_t deadline = k1s_now_ns() + 10000000000ull;
    while (*n < want && k1s_now_ns() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
    assert_true(*n >= want);
}

static void run_for_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static k1s_client_t *client_new(void)
{
    char *ca = k1s_xasprintf("%s/server-ca.crt", tmpdir);
    char *crt = k1s_xasprintf("%s/client-admin.crt", tmpdir);
    char *key = k1s_xasprintf("%s/client-admin.key", tmpdir);
    k1s_client_http_opts_t o = {.addr = "127.0.0.1",
                                .port = port,
                                .ca_file = ca,
                                .cert_file = crt,
                                .key_file = key,
                                .user = "admin"};
    k1s_err_t err = {0};
    k1s_client_t *c = k1s_client_new_http(base, &o, &err);
    assert_non_null(c);
    free(ca);
    free(crt);
    free(key);
    return c;
}

static void get(k1s_client_t *c, answer_t *a)
{
    int want = a->n + 1;
    k1s_client_request(c, "GET", "/get", NULL, NULL, on_answer, a);
    run_until(&a->n, want);
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/k1s-httpc-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    k1s_err_t err = {0};
    if (k1s_pki_ensure(tmpdir, NULL, &err) < 0)
        return -1;
    char *crt = k1s_xasprintf("%s/serving-kube-apiserver.crt", tmpdir);
    char *key = k1s_xasprintf("%s/serving-kube-apiserver.key", tmpdir);
    char *ca = k1s_xasprintf("%s/client-ca.crt", tmpdir);
    srv_tls = k1s_tls_server_ctx(crt, key, ca, &err);
    free(crt);
    free(key);
    free(ca);
    base = event_base_new();
    return srv_tls && base ? 0 : -1;
}

static int teardown(void **state)
{
    k1s_http_server_free(srv);
    SSL_CTX_free(srv_tls);
    event_base_free(base);
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void test_keepalive(void **state)
{
    server_start();
    k1s_client_t *c = client_new();
    answer_t a = {0};
    for (int i = 0; i < 20; i++) {
        get(c, &a);
        assert_int_equal(a.status, 200);
    }
    assert_int_equal(k1s_client_connects(c), 1);
    assert_int_equal(k1s_http_server_connections(srv), 1);

    /* a watch read to its end: its connection goes back to the pool */
    answer_t w = {0};
    k1s_gvr_t things = {"", "v1", "things", false};
    k1s_client_watch(c, &things, NULL, NULL, on_event, &w);
    uint64_t deadline = k1s_now_ns() + 10000000000ull;
    while (!w.closed && k1s_now_ns() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
    assert_true(w.closed);
    assert_int_equal(w.events, 2);
    get(c, &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(k1s_client_connects(c), 1);

    /* the server times the idle connection out (1 s): the pool lets it go */
    run_for_ms(1600);
    assert_int_equal(k1s_http_server_connections(srv), 0);
    get(c, &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(k1s_client_connects(c), 2);

    /* the server hangs up on the next request of a connection it answered: the request
     * goes again on a new connection, and the caller sees one answer */
    hijack_next = 1;
    get(c, &a);
    assert_string_equal(a.body, "{\"hijack\":1}");
    assert_int_equal(k1s_client_connects(c), 2);
    int before = a.n;
    get(c, &a);
    assert_int_equal(a.n, before + 1);
    assert_int_equal(a.status, 200);
    assert_string_not_equal(a.body, "{\"hijack\":1}");
    assert_int_equal(k1s_client_connects(c), 3);

    /* concurrent requests: one connection each, a few kept */
    answer_t many = {0};
    for (int i = 0; i < 8; i++)
        k1s_client_request(c, "GET", "/get", NULL, NULL, on_answer, &many);
    run_until(&many.n, 8);
    assert_int_equal(many.status, 200);
    run_for_ms(50);
    assert_true(k1s_http_server_connections(srv) <= 4);
    k1s_client_free(c);
}

static void test_server_restart(void **state)
{
    k1s_client_t *c = client_new();
    answer_t a = {0};
    get(c, &a);
    assert_int_equal(a.status, 200);
    /* the server goes away (its connections with it) */
    k1s_http_server_free(srv);
    srv = NULL;
    run_for_ms(50);
    get(c, &a);
    assert_int_equal(a.status, 0);
    assert_true(strlen(a.body) > 0);
    printf("with the server away: %s\n", a.body);
    /* and comes back on the same port */
    server_start();
    get(c, &a);
    assert_int_equal(a.status, 200);
    get(c, &a);
    assert_int_equal(a.status, 200);
    k1s_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_server_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
