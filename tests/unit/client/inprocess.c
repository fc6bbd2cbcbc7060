/*
 * Integration test of the client framework against a real API server:
 * this program opens a store and an API server in a temp dir, serves HTTP
 * on a free port for kubectl, and runs the event loop in a second thread.
 * The test (main thread) drives kubectl and posts work to the loop:
 *
 * - an informer lists (sees an object made before it started), then sees
 *   kubectl's create, update and delete, with old and new objects;
 * - its watch broken, 70 writes of a 1 MiB ConfigMap push its
 *   resourceVersion out of the history: the resumed watch gets 410 Gone,
 *   the informer lists again and notices a delete it had missed;
 * - the in-process client is refused by RBAC as a user without rights
 *   (403 in kube-apiserver's words) and admitted as
 *   system:kube-controller-manager; kubectl sees what it wrote;
 * - list with limit/continue and a label selector, get, patch and delete
 *   with preconditions through the in-process client;
 * - two leader electors on one Lease: one leads, the other takes over
 *   once the first stops; kubectl shows the holder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/thread.h>
#include <pthread.h>
#include <unistd.h>

#include "../store/testutil.h"
#include "api/apiserver.h"
#include "client/client.h"
#include "client/informer.h"
#include "client/leaderelection.h"
#include "lib/buf.h"
#include "net/http.h"
#include "net/loopback.h"
#include "net/tls.h"
#include "server/pki.h"

static const k1s_gvr_t configmaps = {"", "v1", "configmaps", true};
static const k1s_gvr_t leases = {"coordination.k8s.io", "v1", "leases", true};

static struct event_base *base;
static k1s_store_t *store;
static k1s_apiserver_t *api;
static k1s_http_server_t *http;
static pthread_t loop_thread;
static char *dir, *kubeconfig;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

/* ---- running things on the loop thread ---- */

typedef struct post {
    void (*fn)(void *);
    void *arg;
    bool done;
} post_t;

static void post_cb(evutil_socket_t fd, short what, void *arg)
{
    post_t *p = arg;
    p->fn(p->arg);
    pthread_mutex_lock(&mu);
    p->done = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Runs fn(arg) on the loop thread and waits for it. */
static void on_loop(void (*fn)(void *), void *arg)
{
    post_t p = {fn, arg, false};
    struct timeval tv = {0, 0};
    event_base_once(base, -1, EV_TIMEOUT, post_cb, &p, &tv);
    pthread_mutex_lock(&mu);
    while (!p.done)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void *loop_main(void *arg)
{
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* Waits up to ms for cond(arg) (evaluated on the loop thread) to hold. */
typedef struct cond_call {
    bool (*cond)(void *);
    void *arg;
    bool result;
} cond_call_t;

static void eval_cond(void *arg)
{
    cond_call_t *c = arg;
    c->result = c->cond(c->arg);
}

static bool wait_for(bool (*cond)(void *), void *arg, int ms)
{
    for (int waited = 0;; waited += 20) {
        cond_call_t c = {cond, arg, false};
        on_loop(eval_cond, &c);
        if (c.result)
            return true;
        if (waited >= ms)
            return false;
        usleep(20000);
    }
}

/* ---- kubectl ---- */

static int kubectl(char **out, const char *fmt, ...) K1S_PRINTF(2, 3);
static int kubectl(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    char *cmd = k1s_xasprintf("HOME=%s kubectl --kubeconfig %s %s 2>&1", dir, kubeconfig, args);
    FILE *p = popen(cmd, "r");
    k1s_buf_t b = K1S_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        k1s_buf_append(&b, chunk, n);
    int rc = pclose(p);
    k1s_buf_putc(&b, 0);
    if (rc != 0)
        fprintf(stderr, "kubectl %s: exit %d: %s\n", args, rc, b.data);
    if (out)
        *out = k1s_buf_steal(&b);
    else
        k1s_buf_free(&b);
    free(cmd);
    free(args);
    return rc;
}

/* ---- server ---- */

static int setup(void **state)
{
    evthread_use_pthreads();
    dir = tu_tmpdir();
    base = event_base_new();
    char *db = k1s_xasprintf("%s/db/state.db", dir);
    char *tokens = k1s_xasprintf("%s/tokens.csv", dir);
    const char *line = "admintoken,admin,admin-uid,\"system:masters\"\n"
                       "janetoken,jane,jane-uid,\"system:authenticated\"\n";
    assert_int_equal(k1s_write_file_atomic(tokens, line, strlen(line), 0600), 0);
    k1s_err_t err = {0};
    k1s_store_opts_t so = {.path = db, .hooks = &k1s_apiserver_store_hooks, .history_age_ms = -1};
    assert_int_equal(k1s_store_open(base, &so, &store, &err), 0);
    /* TLS as `k1s server` sets it up: kubectl comes with the admin client certificate */
    char *tls = k1s_xasprintf("%s/tls", dir);
    const char *sans[] = {"127.0.0.1", NULL};
    assert_int_equal(k1s_pki_ensure(tls, sans, &err), 0);
    k1s_apiserver_opts_t ao = {.advertise_address = "127.0.0.1",
                               .advertise_port = 6443,
                               .service_cidr = "10.43.0.0/16",
                               .tokens_file = tokens,
                               .tls_dir = tls};
    assert_int_equal(k1s_apiserver_new(base, store, &ao, &api, &err), 0);
    char *crt = k1s_xasprintf("%s/serving-kube-apiserver.crt", tls);
    char *key = k1s_xasprintf("%s/serving-kube-apiserver.key", tls);
    char *cca = k1s_xasprintf("%s/client-ca.crt", tls);
    SSL_CTX *ctx = k1s_tls_server_ctx(crt, key, cca, &err);
    assert_non_null(ctx);
    http = k1s_http_server_new(base, ctx, NULL, k1s_apiserver_handle, api);
    SSL_CTX_free(ctx);
    assert_int_equal(k1s_http_server_listen(http, "127.0.0.1", 0, &err), 0);
    k1s_apiserver_set_http(api, http);
    assert_int_equal(k1s_apiserver_bootstrap(api, &err), 0);
    kubeconfig = k1s_xasprintf("%s/kubeconfig", dir);
    char *url = k1s_xasprintf("https://127.0.0.1:%d", k1s_http_server_port(http));
    assert_int_equal(k1s_pki_write_kubeconfig(kubeconfig, 0600, url, tls, &err), 0);
    free(url);
    free(crt);
    free(key);
    free(cca);
    free(tls);
    free(db);
    free(tokens);
    pthread_create(&loop_thread, NULL, loop_main, NULL);
    /* ready once bootstrap committed */
    for (int i = 0; i < 200 && kubectl(NULL, "get --raw /readyz") != 0; i++)
        usleep(50000);
    return 0;
}

static void stop_loop(void *arg)
{
    event_base_loopbreak(base);
}

static int teardown(void **state)
{
    on_loop(stop_loop, NULL);
    pthread_join(loop_thread, NULL);
    /* let canceled calls see their watches end, and be freed */
    event_base_loop(base, EVLOOP_NONBLOCK);
    k1s_apiserver_free(api);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(k1s_http_lb_active(), 0);
    k1s_http_server_free(http);
    k1s_store_free(store);
    event_base_free(base);
    tu_rmrf(dir);
    free(dir);
    free(kubeconfig);
    return 0;
}

/* ---- informer ---- */

typedef struct events {
    k1s_buf_t log; /* "+ns/name rv\n", "~ns/name oldrv->newrv\n", "-ns/name\n" */
    int adds, updates, deletes;
} events_t;

static const char *md_str(json_t *o, const char *f)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), f));
    return s ? s : "";
}

static void ev_add(json_t *o, void *arg)
{
    events_t *e = arg;
    e->adds++;
    k1s_buf_printf(&e->log, "+%s/%s %s\n", md_str(o, "namespace"), md_str(o, "name"),
                   md_str(o, "resourceVersion"));
}

static void ev_update(json_t *old, json_t *o, void *arg)
{
    events_t *e = arg;
    e->updates++;
    k1s_buf_printf(&e->log, "~%s/%s %s->%s\n", md_str(o, "namespace"), md_str(o, "name"),
                   md_str(old, "resourceVersion"), md_str(o, "resourceVersion"));
}

static void ev_delete(json_t *o, void *arg)
{
    events_t *e = arg;
    e->deletes++;
    k1s_buf_printf(&e->log, "-%s/%s\n", md_str(o, "namespace"), md_str(o, "name"));
}

typedef struct world {
    k1s_client_t *kcm, *jane, *admin;
    k1s_informer_factory_t *factory;
    k1s_informer_t *cms;
    events_t ev;
    /* one in-process request's result */
    int status;
    char reason[64], message[512], rv[32];
    json_t *obj;
    bool answered;
    /* the 1 MiB writes */
    char *big;
    int writes_left, writes_done, write_errors;
} world_t;

static world_t W;

static void start_informer(void *arg)
{
    const char *groups[] = {"system:authenticated", NULL};
    W.kcm = k1s_client_new_inprocess(base, k1s_apiserver_handle, api,
                                     "system:kube-controller-manager", groups);
    W.jane = k1s_client_new_inprocess(base, k1s_apiserver_handle, api, "jane", groups);
    const char *masters[] = {"system:masters", "system:authenticated", NULL};
    W.admin = k1s_client_new_inprocess(base, k1s_apiserver_handle, api, "root", masters);
    k1s_client_set_user_agent(W.kcm, "kube-controller-manager/v1.31.0 (linux/amd64) k1s");
    W.factory = k1s_informer_factory_new(W.kcm);
    W.cms = k1s_informer_factory_get(W.factory, &configmaps);
    /* a second user of the resource shares the same informer */
    assert_ptr_equal(k1s_informer_factory_get(W.factory, &configmaps), W.cms);
    k1s_informer_add_indexer(W.cms, "namespace", k1s_index_by_namespace);
    k1s_informer_handlers_t h = {ev_add, ev_update, ev_delete, &W.ev};
    k1s_informer_add_handlers(W.cms, &h);
    k1s_informer_factory_start(W.factory);
}

static bool synced(void *arg)
{
    return k1s_informer_factory_synced(W.factory);
}

static bool log_has(void *arg)
{
    return W.ev.log.data && strstr(W.ev.log.data, arg);
}

typedef struct cache_q {
    const char *ns, *name, *key, *value;
    bool present;
    int in_ns;
} cache_q_t;

static void query_cache(void *arg)
{
    cache_q_t *q = arg;
    json_t *o = k1s_informer_get(W.cms, q->ns, q->name);
    q->present = o != NULL;
    q->value = NULL;
    if (o && q->key)
        q->value = json_string_value(json_object_get(json_object_get(o, "data"), q->key));
    json_t **objs;
    q->in_ns = k1s_informer_by_index(W.cms, "namespace", q->ns, &objs);
    if (q->in_ns >= 0)
        free(objs);
}

static void test_informer_follows_kubectl(void **state)
{
    assert_int_equal(kubectl(NULL, "create configmap before -n default --from-literal=k=0"), 0);
    on_loop(start_informer, NULL);
    assert_true(wait_for(synced, NULL, 10000));
    /* listed: the object made before the informer started */
    assert_true(wait_for(log_has, "+default/before ", 100));
    assert_int_equal(k1s_informer_lists(W.cms), 1);

    assert_int_equal(kubectl(NULL, "create configmap c1 -n default --from-literal=k=v1"), 0);
    assert_true(wait_for(log_has, "+default/c1 ", 10000));
    cache_q_t q = {"default", "c1", "k"};
    on_loop(query_cache, &q);
    assert_true(q.present);
    assert_string_equal(q.value, "v1");
    assert_true(q.in_ns >= 2);

    assert_int_equal(kubectl(NULL, "patch configmap c1 -n default -p '{\"data\":{\"k\":\"v2\"}}'"),
                     0);
    assert_true(wait_for(log_has, "~default/c1 ", 10000));
    on_loop(query_cache, &q);
    assert_string_equal(q.value, "v2");

    assert_int_equal(kubectl(NULL, "delete configmap c1 -n default"), 0);
    assert_true(wait_for(log_has, "-default/c1\n", 10000));
    on_loop(query_cache, &q);
    assert_false(q.present);
    /* one list so far: everything came by the watch */
    assert_int_equal(k1s_informer_lists(W.cms), 1);
}

/* ---- 410 Gone ---- */

static void break_watch(void *arg)
{
    k1s_informer_break_watch(W.cms, (unsigned)(uintptr_t)arg);
}

static void write_next(void);

static void on_big_write(const k1s_client_result_t *res, void *arg)
{
    if (res->status != 200 && res->status != 201) {
        fprintf(stderr, "big write: %d %s\n", res->status, res->message);
        W.write_errors++;
    }
    W.writes_done++;
    if (--W.writes_left > 0)
        write_next();
}

static void write_next(void)
{
    /* each write changes the value, so each one is a new 1 MiB revision */
    W.big[0] = (char)('a' + W.writes_left % 26);
    json_t *cm = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                           "metadata", "name", "big", "namespace", "other", "data", "blob", W.big);
    if (W.writes_done == 0)
        k1s_client_create(W.admin, &configmaps, "other", cm, on_big_write, NULL);
    else
        k1s_client_update(W.admin, &configmaps, "other", cm, on_big_write, NULL);
    json_decref(cm);
}

static void start_big_writes(void *arg)
{
    W.big = k1s_xmalloc((1 << 20) + 1);
    memset(W.big, 'x', 1 << 20);
    W.big[1 << 20] = 0;
    W.writes_left = 70;
    write_next();
}

static bool writes_finished(void *arg)
{
    return W.writes_left == 0;
}

static bool relisted(void *arg)
{
    return k1s_informer_lists(W.cms) >= 2 && strstr(W.ev.log.data, "-default/victim\n");
}

static void test_informer_relists_after_410(void **state)
{
    assert_int_equal(kubectl(NULL, "create namespace other"), 0);
    assert_int_equal(kubectl(NULL, "create configmap victim -n default"), 0);
    assert_true(wait_for(log_has, "+default/victim ", 10000));
    /* the watch breaks and stays away (10 minutes) while the history moves on */
    on_loop(break_watch, (void *)(uintptr_t)600000);
    assert_int_equal(kubectl(NULL, "delete configmap victim -n default"), 0);
    on_loop(start_big_writes, NULL);
    assert_true(wait_for(writes_finished, NULL, 120000));
    assert_int_equal(W.write_errors, 0);
    assert_null(strstr(W.ev.log.data, "-default/victim\n")); /* not heard: no watch */
    /* resume now: the watch gets 410 Gone, the informer lists again */
    on_loop(break_watch, (void *)(uintptr_t)0);
    assert_true(wait_for(relisted, NULL, 20000));
    assert_int_equal(k1s_informer_lists(W.cms), 2);
    cache_q_t q = {"other", "big", "blob"};
    on_loop(query_cache, &q);
    assert_true(q.present);
    assert_int_equal(strlen(q.value), 1 << 20);
    cache_q_t v = {"default", "victim"};
    on_loop(query_cache, &v);
    assert_false(v.present);
    /* and it watches again: a later change arrives as an event */
    assert_int_equal(kubectl(NULL, "create configmap after -n default"), 0);
    assert_true(wait_for(log_has, "+default/after ", 10000));
    assert_int_equal(k1s_informer_lists(W.cms), 2);
    free(W.big);
}

/* a watch from a revision that left the history: one ERROR event, 410 Expired, then the end */
typedef struct wlog {
    int errors, closed, code;
    char reason[32], message[128];
} wlog_t;

static wlog_t WL;

static void on_old_watch(k1s_watch_type_t t, json_t *obj, int status, void *arg)
{
    if (t == K1S_WATCH_ERROR) {
        WL.errors++;
        WL.code = (int)json_integer_value(json_object_get(obj, "code"));
        snprintf(WL.reason, sizeof(WL.reason), "%s",
                 json_string_value(json_object_get(obj, "reason")));
        snprintf(WL.message, sizeof(WL.message), "%s",
                 json_string_value(json_object_get(obj, "message")));
    } else if (t == K1S_WATCH_CLOSED) {
        WL.closed++;
    }
}

static void watch_from_2(void *arg)
{
    k1s_list_opts_t o = {.resource_version = "2"};
    k1s_client_watch(W.kcm, &configmaps, NULL, &o, on_old_watch, NULL);
}

static bool watch_closed(void *arg)
{
    return WL.closed > 0;
}

static void test_watch_410(void **state)
{
    on_loop(watch_from_2, NULL);
    assert_true(wait_for(watch_closed, NULL, 10000));
    assert_int_equal(WL.errors, 1);
    assert_int_equal(WL.code, 410);
    assert_string_equal(WL.reason, "Expired");
    assert_true(!strncmp(WL.message, "too old resource version: 2 (", 29));
}

/* ---- RBAC and the in-process client's verbs ---- */

static void on_result(const k1s_client_result_t *res, void *arg)
{
    W.status = res->status;
    snprintf(W.reason, sizeof(W.reason), "%s", res->reason);
    snprintf(W.message, sizeof(W.message), "%s", res->message);
    json_decref(W.obj);
    W.obj = json_incref(res->obj);
    snprintf(W.rv, sizeof(W.rv), "%s", md_str(res->obj, "resourceVersion"));
    W.answered = true;
}

static bool answered(void *arg)
{
    return W.answered;
}

typedef struct call {
    void (*start)(struct call *);
    k1s_client_t *c;
    const char *name, *arg;
} call_t;

static void run_call(void *arg)
{
    call_t *c = arg;
    W.answered = false;
    c->start(c);
}

/* Runs a request on the loop and waits for its answer in W. */
static void call(call_t *c)
{
    on_loop(run_call, c);
    assert_true(wait_for(answered, NULL, 10000));
}

static void create_lease(call_t *c)
{
    json_t *l =
        json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind",
                  "Lease", "metadata", "name", c->name, "spec", "holderIdentity", "someone");
    k1s_client_create(c->c, &leases, "kube-system", l, on_result, NULL);
    json_decref(l);
}

static void test_rbac(void **state)
{
    call_t c = {create_lease, W.jane, "probe"};
    call(&c);
    assert_int_equal(W.status, 403);
    assert_string_equal(W.reason, "Forbidden");
    assert_string_equal(W.message,
                        "leases.coordination.k8s.io is forbidden: User \"jane\" cannot create "
                        "resource \"leases\" in API group \"coordination.k8s.io\" in the "
                        "namespace \"kube-system\"");
    c.c = W.kcm;
    call(&c);
    assert_int_equal(W.status, 201);
    /* defaulting and managedFields ran as for HTTP */
    assert_non_null(json_object_get(json_object_get(W.obj, "metadata"), "uid"));
    json_t *mf = json_object_get(json_object_get(W.obj, "metadata"), "managedFields");
    assert_int_equal(json_array_size(mf), 1);
    /* the manager comes from the User-Agent, as for kube-controller-manager's own writes */
    assert_string_equal(json_string_value(json_object_get(json_array_get(mf, 0), "manager")),
                        "kube-controller-manager");
    char *out;
    assert_int_equal(kubectl(&out, "get lease probe -n kube-system -o "
                                   "jsonpath='{.spec.holderIdentity}'"),
                     0);
    assert_string_equal(out, "someone");
    free(out);
    /* the same create again: 409 AlreadyExists in kube-apiserver's words */
    call(&c);
    assert_int_equal(W.status, 409);
    assert_string_equal(W.reason, "AlreadyExists");
    assert_string_equal(W.message, "leases.coordination.k8s.io \"probe\" already exists");
}

static void list_cms(call_t *c)
{
    k1s_list_opts_t o = {.label_selector = "tier=web", .limit = 1, .continue_token = c->arg};
    k1s_client_list(c->c, &configmaps, "default", &o, on_result, NULL);
}

static void get_cm(call_t *c)
{
    k1s_client_get(c->c, &configmaps, "default", c->name, on_result, NULL);
}

static void patch_cm(call_t *c)
{
    k1s_client_patch(c->c, &configmaps, "default", c->name, NULL, K1S_PATCH_MERGE, c->arg, false,
                     on_result, NULL);
}

static void delete_cm(call_t *c)
{
    k1s_delete_opts_t o = {
        .precondition_rv = c->arg, .grace_period_s = -1, .propagation_policy = "Background"};
    k1s_client_delete(c->c, &configmaps, "default", c->name, &o, on_result, NULL);
}

static void apply_cm(call_t *c)
{
    k1s_client_set_field_manager(c->c, "k1s-test");
    k1s_client_patch(c->c, &configmaps, "default", c->name, NULL, K1S_PATCH_APPLY, c->arg, true,
                     on_result, NULL);
    k1s_client_set_field_manager(c->c, NULL);
}

static const k1s_gvr_t namespaces = {"", "v1", "namespaces", false};

static void get_ns(call_t *c)
{
    k1s_client_get(c->c, &namespaces, NULL, c->name, on_result, NULL);
}

static void update_ns_status(call_t *c)
{
    k1s_client_update_status(c->c, &namespaces, NULL, (json_t *)c->arg, on_result, NULL);
}

#define MANY 2000
static int many_left;
static call_t *many_call;

static void many_next(const k1s_client_result_t *res, void *arg)
{
    if (res->status != 200 || --many_left == 0) {
        on_result(res, arg);
        return;
    }
    k1s_client_get(many_call->c, &configmaps, "default", many_call->name, many_next, NULL);
}

static void many_gets(call_t *c)
{
    many_left = c->arg ? atoi(c->arg) : MANY;
    many_call = c;
    k1s_client_get(c->c, &configmaps, "default", c->name, many_next, NULL);
}

static void test_client_verbs(void **state)
{
    /* kcm may only list configmaps, jane not even that */
    assert_int_equal(kubectl(NULL, "create configmap w1 -n default"), 0);
    assert_int_equal(kubectl(NULL, "create configmap w2 -n default"), 0);
    assert_int_equal(kubectl(NULL, "label configmap w1 w2 -n default tier=web"), 0);
    call_t c = {list_cms, W.kcm, NULL, NULL};
    call(&c);
    assert_int_equal(W.status, 200);
    assert_int_equal(json_array_size(json_object_get(W.obj, "items")), 1);
    const char *cont =
        json_string_value(json_object_get(json_object_get(W.obj, "metadata"), "continue"));
    assert_non_null(cont);
    char *tok = k1s_xstrdup(cont);
    c.arg = tok;
    call(&c);
    assert_int_equal(W.status, 200);
    assert_int_equal(json_array_size(json_object_get(W.obj, "items")), 1);
    assert_string_equal(md_str(json_array_get(json_object_get(W.obj, "items"), 0), "name"), "w2");
    free(tok);
    c.c = W.jane;
    c.arg = NULL;
    call(&c);
    assert_int_equal(W.status, 403);

    /* get as kcm (allowed), patch as kcm (refused), then as an admin-like client */
    call_t g = {get_cm, W.kcm, "w1"};
    call(&g);
    assert_int_equal(W.status, 200);
    call_t p = {patch_cm, W.kcm, "w1", "{\"data\":{\"x\":\"1\"}}"};
    call(&p);
    assert_int_equal(W.status, 403);
    k1s_client_t *admin = W.admin;
    p.c = admin;
    call(&p);
    assert_int_equal(W.status, 200);
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", W.rv);
    char *out;
    assert_int_equal(kubectl(&out, "get configmap w1 -n default -o jsonpath='{.data.x}'"), 0);
    assert_string_equal(out, "1");
    free(out);
    /* a delete whose precondition does not hold is refused as kube-apiserver does */
    call_t d = {delete_cm, admin, "w1", "1"};
    call(&d);
    assert_int_equal(W.status, 409);
    assert_string_equal(W.reason, "Conflict");
    char *want = k1s_xasprintf("Precondition failed: ResourceVersion in precondition: 1, "
                               "ResourceVersion in object meta: %s",
                               rv);
    assert_string_equal(W.message, want);
    free(want);
    d.arg = rv;
    call(&d);
    assert_int_equal(W.status, 200);
    call(&g);
    assert_int_equal(W.status, 404);
    assert_string_equal(W.reason, "NotFound");
    assert_string_equal(W.message, "configmaps \"w1\" not found");

    /* server-side apply records the client's field manager */
    call_t a = {apply_cm, admin, "applied",
                "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
                "\"metadata\":{\"name\":\"applied\"},"
                "\"data\":{\"a\":\"1\"}}"};
    call(&a);
    assert_int_equal(W.status, 201);
    json_t *mf =
        json_array_get(json_object_get(json_object_get(W.obj, "metadata"), "managedFields"), 0);
    assert_string_equal(json_string_value(json_object_get(mf, "manager")), "k1s-test");
    assert_string_equal(json_string_value(json_object_get(mf, "operation")), "Apply");
    assert_int_equal(kubectl(&out, "get configmap applied -n default -o "
                                   "jsonpath='{.metadata.managedFields[0].manager}'"),
                     0);
    assert_string_equal(out, "k1s-test");
    free(out);

    /* status subresource: a namespace's status */
    call_t ns = {get_ns, admin, "other"};
    call(&ns);
    assert_int_equal(W.status, 200);
    json_t *nsobj = json_deep_copy(W.obj);
    json_object_set_new(json_object_get(nsobj, "status"), "phase", json_string("Active"));
    call_t us = {update_ns_status, admin, NULL, (const char *)nsobj};
    call(&us);
    if (W.status != 200)
        fprintf(stderr, "update status: %d %s\n", W.status, W.message);
    assert_int_equal(W.status, 200);
    json_decref(nsobj);

    /* in-process round trip cost: sequential GETs */
    call_t m = {many_gets, admin, "applied"};
    uint64_t t0 = k1s_now_ns();
    call(&m);
    assert_int_equal(W.status, 200);
    printf("in-process GET round trip (ASan build): %.1f us\n",
           (double)(k1s_now_ns() - t0) / 1e3 / MANY);
}

/* ---- leader election ---- */

typedef struct le_state {
    k1s_leader_elector_t *a, *b;
    int a_started, a_stopped, b_started, b_stopped;
} le_state_t;

static le_state_t L;

static void a_start(void *arg)
{
    L.a_started++;
}
static void a_stop(void *arg)
{
    L.a_stopped++;
}
static void b_start(void *arg)
{
    L.b_started++;
}
static void b_stop(void *arg)
{
    L.b_stopped++;
}

static void start_a(void *arg)
{
    k1s_leader_election_config_t cfg = {.namespace_ = "kube-system",
                                        .name = "kube-controller-manager",
                                        .identity = "node-a",
                                        .started_leading = a_start,
                                        .stopped_leading = a_stop};
    L.a = k1s_leader_elector_new(W.kcm, &cfg);
    k1s_leader_elector_start(L.a);
}

static void start_b(void *arg)
{
    k1s_leader_election_config_t cfg = {.namespace_ = "kube-system",
                                        .name = "kube-controller-manager",
                                        .identity = "node-b",
                                        .started_leading = b_start,
                                        .stopped_leading = b_stop};
    L.b = k1s_leader_elector_new(W.kcm, &cfg);
    k1s_leader_elector_start(L.b);
}

static void stop_a(void *arg)
{
    k1s_leader_elector_stop(L.a);
}

static bool a_leads(void *arg)
{
    return k1s_leader_elector_is_leader(L.a);
}

static bool b_leads(void *arg)
{
    return k1s_leader_elector_is_leader(L.b);
}

static bool b_saw_a(void *arg)
{
    return !strcmp(k1s_leader_elector_holder(L.b), "node-a");
}

static bool both_lead(void *arg)
{
    return k1s_leader_elector_is_leader(L.a) && k1s_leader_elector_is_leader(L.b);
}

/* a holder that went away without releasing: taken over once its lease has run out */
static k1s_client_t *sched;
static k1s_leader_elector_t *S;
static uint64_t s_started_ns;

static void s_start(void *arg)
{
    s_started_ns = k1s_now_ns();
}

static void start_s(void *arg)
{
    const char *groups[] = {"system:authenticated", NULL};
    sched =
        k1s_client_new_inprocess(base, k1s_apiserver_handle, api, "system:kube-scheduler", groups);
    k1s_leader_election_config_t cfg = {.namespace_ = "kube-system",
                                        .name = "kube-scheduler",
                                        .identity = "sched-1",
                                        .retry_period_ms = 200,
                                        .renew_deadline_ms = 1000,
                                        .lease_duration_ms = 2000,
                                        .started_leading = s_start};
    S = k1s_leader_elector_new(sched, &cfg);
    k1s_leader_elector_start(S);
}

static bool s_leads(void *arg)
{
    return k1s_leader_elector_is_leader(S);
}

static void free_s(void *arg)
{
    k1s_leader_elector_free(S);
    k1s_client_free(sched);
}

static void test_leader_expiry(void **state)
{
    const char *lease = "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n"
                        "  name: kube-scheduler\n  namespace: kube-system\nspec:\n"
                        "  holderIdentity: ghost\n  leaseDurationSeconds: 3\n";
    char *path = k1s_xasprintf("%s/lease.yaml", dir);
    assert_int_equal(k1s_write_file_atomic(path, lease, strlen(lease), 0600), 0);
    assert_int_equal(kubectl(NULL, "create -f %s", path), 0);
    free(path);
    uint64_t t0 = k1s_now_ns();
    on_loop(start_s, NULL);
    /* the ghost's 3 s, counted from when this candidate first saw the record */
    assert_true(wait_for(s_leads, NULL, 8000));
    double waited = (double)(s_started_ns - t0) / 1e9;
    printf("took over an abandoned lease after %.2f s (leaseDurationSeconds 3)\n", waited);
    assert_true(waited >= 3.0);
    assert_true(waited < 4.5);
    char *out;
    assert_int_equal(kubectl(&out, "get lease kube-scheduler -n kube-system -o "
                                   "jsonpath='{.spec.holderIdentity} {.spec.leaseTransitions}'"),
                     0);
    assert_string_equal(out, "sched-1 1");
    free(out);
    on_loop(free_s, NULL);
}

/* ---- the same client over HTTPS ---- */

static k1s_client_t *hadmin, *hjane;
static k1s_informer_t *hinf;
static events_t hev;

static void start_http(void *arg)
{
    char *ca = k1s_xasprintf("%s/tls/server-ca.crt", dir);
    char *crt = k1s_xasprintf("%s/tls/client-admin.crt", dir);
    char *key = k1s_xasprintf("%s/tls/client-admin.key", dir);
    k1s_err_t err = {0};
    k1s_client_http_opts_t o = {.addr = "127.0.0.1",
                                .port = k1s_http_server_port(http),
                                .ca_file = ca,
                                .cert_file = crt,
                                .key_file = key,
                                .user = "admin"};
    hadmin = k1s_client_new_http(base, &o, &err);
    k1s_client_http_opts_t j = {.addr = "127.0.0.1",
                                .port = k1s_http_server_port(http),
                                .ca_file = ca,
                                .token = "janetoken",
                                .user = "jane"};
    hjane = k1s_client_new_http(base, &j, &err);
    free(ca);
    free(crt);
    free(key);
    hinf = k1s_informer_new(hadmin, &configmaps, "httpns");
    k1s_informer_handlers_t h = {ev_add, ev_update, ev_delete, &hev};
    k1s_informer_add_handlers(hinf, &h);
    k1s_informer_start(hinf);
}

static bool http_synced(void *arg)
{
    return k1s_informer_has_synced(hinf);
}

static bool http_log_has(void *arg)
{
    return hev.log.data && strstr(hev.log.data, arg);
}

static void create_cm_as(call_t *c)
{
    json_t *cm = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
                           "name", c->name);
    k1s_client_create(c->c, &configmaps, "httpns", cm, on_result, NULL);
    json_decref(cm);
}

static void free_http(void *arg)
{
    k1s_informer_free(hinf);
    k1s_client_free(hadmin);
    k1s_client_free(hjane);
    k1s_buf_free(&hev.log);
}

static void test_http_client(void **state)
{
    assert_int_equal(kubectl(NULL, "create namespace httpns"), 0);
    assert_int_equal(kubectl(NULL, "create configmap h0 -n httpns"), 0);
    on_loop(start_http, NULL);
    assert_non_null(hadmin);
    assert_non_null(hjane);
    assert_true(wait_for(http_synced, NULL, 10000));
    assert_true(wait_for(http_log_has, "+httpns/h0 ", 1000));
    /* watch events arrive over the chunked HTTP stream */
    assert_int_equal(kubectl(NULL, "create configmap h1 -n httpns --from-literal=a=1"), 0);
    assert_true(wait_for(http_log_has, "+httpns/h1 ", 10000));
    assert_int_equal(kubectl(NULL, "label configmap h1 -n httpns x=y"), 0);
    assert_true(wait_for(http_log_has, "~httpns/h1 ", 10000));
    assert_int_equal(kubectl(NULL, "delete configmap h1 -n httpns"), 0);
    assert_true(wait_for(http_log_has, "-httpns/h1\n", 10000));
    /* the same refusal as in process, by bearer token */
    call_t c = {create_cm_as, hjane, "nope"};
    call(&c);
    assert_int_equal(W.status, 403);
    assert_string_equal(W.message, "configmaps is forbidden: User \"jane\" cannot create resource "
                                   "\"configmaps\" in API group \"\" in the namespace \"httpns\"");
    c.c = hadmin;
    call(&c);
    assert_int_equal(W.status, 201);
    assert_true(wait_for(http_log_has, "+httpns/nope ", 10000));
    /* cost of a GET over HTTPS, on a kept-alive connection */
    call_t m = {many_gets, hadmin, "applied", "100"};
    unsigned conns = k1s_client_connects(hadmin);
    uint64_t t0 = k1s_now_ns();
    call(&m);
    assert_int_equal(W.status, 200);
    printf("HTTPS GET round trip, kept-alive connection (ASan build): %.1f us\n",
           (double)(k1s_now_ns() - t0) / 1e3 / 100);
    assert_true(k1s_client_connects(hadmin) <= conns + 1);
    on_loop(free_http, NULL);
}

/* ---- a second informer over many objects: paged list and sync time ---- */

#define NOBJ 1200
static int made;
static k1s_informer_t *second;
static uint64_t sync_t0;

static void make_next(const k1s_client_result_t *res, void *arg)
{
    if (res && res->status != 201) {
        fprintf(stderr, "create: %d %s\n", res->status, res->message);
        made = -1;
        return;
    }
    if (res && ++made == NOBJ)
        return;
    char name[32];
    snprintf(name, sizeof(name), "many-%04d", made);
    json_t *cm =
        json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                  "metadata", "name", name, "labels", "set", "many", "data", "k", "v");
    k1s_client_create(W.admin, &configmaps, "many", cm, make_next, NULL);
    json_decref(cm);
}

static void start_making(void *arg)
{
    make_next(NULL, NULL);
}

static bool all_made(void *arg)
{
    return made == NOBJ || made < 0;
}

static void start_second(void *arg)
{
    sync_t0 = k1s_now_ns();
    second = k1s_informer_new(W.kcm, &configmaps, "many");
    k1s_informer_start(second);
}

static bool second_synced(void *arg)
{
    return k1s_informer_has_synced(second);
}

typedef struct stat_q {
    size_t len;
    double ms;
} stat_q_t;

static void second_stats(void *arg)
{
    stat_q_t *q = arg;
    /* the namespace's kube-root-ca.crt is there too */
    q->len =
        k1s_informer_len(second) - (k1s_informer_get(second, "many", "kube-root-ca.crt") != NULL);
    q->ms = (double)(k1s_now_ns() - sync_t0) / 1e6;
    k1s_informer_free(second);
}

static void test_informer_pages(void **state)
{
    assert_int_equal(kubectl(NULL, "create namespace many"), 0);
    on_loop(start_making, NULL);
    assert_true(wait_for(all_made, NULL, 120000));
    assert_int_equal(made, NOBJ);
    on_loop(start_second, NULL);
    assert_true(wait_for(second_synced, NULL, 20000));
    stat_q_t q;
    on_loop(second_stats, &q);
    /* three pages of 500 */
    assert_int_equal(q.len, NOBJ);
    printf("informer synced %d objects (3 pages) in <= %.1f ms (ASan build)\n", NOBJ, q.ms);
    /* the shared informer saw every one of them as an add */
    char want[64];
    snprintf(want, sizeof(want), "+many/many-%04d ", NOBJ - 1);
    assert_true(wait_for(log_has, want, 10000));
}

static void free_all(void *arg)
{
    k1s_leader_elector_free(L.a);
    k1s_leader_elector_free(L.b);
    k1s_informer_factory_free(W.factory);
    k1s_client_free(W.kcm);
    k1s_client_free(W.jane);
    k1s_client_free(W.admin);
    json_decref(W.obj);
    k1s_buf_free(&W.ev.log);
}

static void test_leader_election(void **state)
{
    on_loop(start_a, NULL);
    assert_true(wait_for(a_leads, NULL, 10000));
    on_loop(start_b, NULL);
    assert_true(wait_for(b_saw_a, NULL, 10000));
    /* for more than a lease duration's worth of renewals, b stays a follower */
    assert_false(wait_for(both_lead, NULL, 1000));
    assert_false(wait_for(b_leads, NULL, 16000));
    assert_int_equal(L.a_started, 1);
    assert_int_equal(L.a_stopped, 0);
    assert_int_equal(L.b_started, 0);
    char *out;
    assert_int_equal(kubectl(&out, "get lease kube-controller-manager -n kube-system -o "
                                   "jsonpath='{.spec.holderIdentity} "
                                   "{.spec.leaseDurationSeconds}'"),
                     0);
    assert_string_equal(out, "node-a 15");
    free(out);
    /* a stops (and releases): b takes over within a retry period or two */
    on_loop(stop_a, NULL);
    assert_int_equal(L.a_stopped, 1);
    assert_true(wait_for(b_leads, NULL, 6000));
    assert_int_equal(L.b_started, 1);
    assert_int_equal(kubectl(&out, "get lease kube-controller-manager -n kube-system -o "
                                   "jsonpath='{.spec.holderIdentity} {.spec.leaseTransitions}'"),
                     0);
    assert_string_equal(out, "node-b 1");
    free(out);
    on_loop(free_all, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_informer_follows_kubectl),
        cmocka_unit_test(test_informer_relists_after_410),
        cmocka_unit_test(test_watch_410),
        cmocka_unit_test(test_rbac),
        cmocka_unit_test(test_client_verbs),
        cmocka_unit_test(test_leader_expiry),
        cmocka_unit_test(test_informer_pages),
        cmocka_unit_test(test_http_client),
        cmocka_unit_test(test_leader_election),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
