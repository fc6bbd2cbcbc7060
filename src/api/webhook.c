/*
 * Admission webhooks (admissionregistration.k8s.io/v1), as
 * k8s.io/apiserver/pkg/admission/plugin/webhook calls them: for one phase,
 * the webhooks of every Mutating- or ValidatingWebhookConfiguration (in
 * name order) whose rules, namespaceSelector and objectSelector match the
 * request are called (mutating ones one after another, validating ones all at
 * once) with an AdmissionReview v1 over
 * HTTPS (net/httpc.c), verifying the server against the caBundle and the
 * host name. A mutating webhook's JSONPatch is applied to the object;
 * webhooks with reinvocationPolicy IfNeeded are called once more if a later
 * webhook changed the object. A denial, or a failed call under
 * failurePolicy Fail, ends the request with Kubernetes' message; failed
 * calls under Ignore are skipped.
 *
 * clientConfig.service is resolved to a ready endpoint of the Service (no
 * service proxy exists yet), else to its ClusterIP; the certificate must be
 * valid for <service>.<namespace>.svc, as in Kubernetes.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/patch.h"
#include "api/selector.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "net/httpc.h"

typedef struct wh_run wh_run_t;

struct k1s_webhooks {
    k1s_apiserver_t *api;
    wh_run_t *runs; /* phases in progress (for shutdown) */
};

/* One call of one webhook, and its outcome. */
typedef struct wh_call {
    wh_run_t *run;
    size_t idx;     /* in run->hooks */
    k1s_httpc_t *h; /* in flight, or NULL */
    char uid[37];
    char *url;      /* for messages */
    int code;       /* outcome: 0 admitted, else the HTTP code of the refusal */
    json_t *status; /* the refusal's Status */
} wh_call_t;

struct wh_run {
    k1s_webhooks_t *w;
    k1s_api_req_t *r;
    bool mutating;
    k1s_admit_next_fn next;
    json_t *hooks; /* matching webhooks: array of {config, hook} */
    wh_call_t *calls;
    size_t at;      /* mutating: the webhook being called (one at a time) */
    size_t pending; /* validating: calls not answered yet (all run at once) */
    int round;
    bool changed_in_round; /* a webhook changed the object in round 0 */
    wh_run_t *prev, *nextr;
};

k1s_webhooks_t *k1s_webhooks_new(k1s_apiserver_t *api)
{
    k1s_webhooks_t *w = k1s_xcalloc(1, sizeof(*w));
    w->api = api;
    return w;
}

static void run_unlink(wh_run_t *run)
{
    if (run->prev)
        run->prev->nextr = run->nextr;
    else
        run->w->runs = run->nextr;
    if (run->nextr)
        run->nextr->prev = run->prev;
}

static void calls_free(wh_run_t *run)
{
    for (size_t i = 0; run->calls && i < json_array_size(run->hooks); i++) {
        wh_call_t *c = &run->calls[i];
        k1s_httpc_cancel(c->h);
        free(c->url);
        json_decref(c->status);
    }
    free(run->calls);
    run->calls = NULL;
}

static void run_free(wh_run_t *run)
{
    run_unlink(run);
    calls_free(run);
    json_decref(run->hooks);
    free(run);
}

void k1s_webhooks_free(k1s_webhooks_t *w)
{
    if (!w)
        return;
    while (w->runs) {
        wh_run_t *run = w->runs;
        k1s_api_req_t *r = run->r;
        run_free(run);
        k1s_api_fail(r, 503, "ServiceUnavailable", "the server is shutting down");
    }
    free(w);
}

/* ---------- matching ---------- */

static bool str_list_has(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *x = json_string_value(v);
        if (x && (!strcmp(x, "*") || !strcmp(x, s)))
            return true;
    }
    return false;
}

/* rules.go's Matcher.resource: entries "pods", "pods/status", "*", "pods/x", "x/status" where
 * x is "*"; a missing subresource part matches only requests without one. */
static bool resource_matches(const json_t *resources, const char *plural, const char *sub)
{
    size_t i;
    json_t *v;
    json_array_foreach(resources, i, v)
    {
        const char *x = json_string_value(v);
        if (!x)
            continue;
        const char *slash = strchr(x, '/');
        size_t rl = slash ? (size_t)(slash - x) : strlen(x);
        const char *xs = slash ? slash + 1 : "";
        bool res_ok = (rl == 1 && x[0] == '*') || (strlen(plural) == rl && !strncmp(x, plural, rl));
        bool sub_ok = !strcmp(xs, "*") || !strcmp(xs, sub ? sub : "");
        if (res_ok && sub_ok)
            return true;
    }
    return false;
}

/*
 * Does one RuleWithOperations match? op is "CREATE"..., res the resource,
 * sub the subresource or NULL.
 */
bool k1s_webhook_rule_matches(const json_t *rule, const char *op, const char *group,
                              const char *version, const char *plural, const char *sub,
                              bool namespaced);
bool k1s_webhook_rule_matches(const json_t *rule, const char *op, const char *group,
                              const char *version, const char *plural, const char *sub,
                              bool namespaced)
{
    if (!str_list_has(json_object_get(rule, "operations"), op))
        return false;
    if (!str_list_has(json_object_get(rule, "apiGroups"), group))
        return false;
    if (!str_list_has(json_object_get(rule, "apiVersions"), version))
        return false;
    if (!resource_matches(json_object_get(rule, "resources"), plural, sub))
        return false;
    const char *scope = json_string_value(json_object_get(rule, "scope"));
    if (scope && !strcmp(scope, "Cluster") && namespaced)
        return false;
    if (scope && !strcmp(scope, "Namespaced") && !namespaced)
        return false;
    return true;
}

static bool rules_match(const json_t *hook, const k1s_api_req_t *r)
{
    const char *op = k1s_admit_operation(r);
    const json_t *rules = json_object_get(hook, "rules");
    size_t i;
    json_t *rule;
    const char *mp = json_string_value(json_object_get(hook, "matchPolicy"));
    bool equivalent = !mp || strcmp(mp, "Exact");
    /* a namespace is "namespaced" for the scope rule only as itself: Cluster */
    json_array_foreach(rules, i, rule)
    {
        if (k1s_webhook_rule_matches(rule, op, r->res->group, r->res->version, r->res->plural,
                                     r->sub, r->res->namespaced))
            return true;
        if (!equivalent)
            continue;
        /* Equivalent: the same resource served in another version of its group */
        size_t n;
        const k1s_resource_t *const *all = k1s_registry_all(&n);
        for (size_t j = 0; j < n; j++) {
            const k1s_resource_t *o = all[j];
            if (o == r->res || strcmp(o->group, r->res->group) || strcmp(o->plural, r->res->plural))
                continue;
            if (k1s_webhook_rule_matches(rule, op, o->group, o->version, o->plural, r->sub,
                                         o->namespaced))
                return true;
        }
    }
    return false;
}

/* Matches a metav1.LabelSelector against labels; an absent selector matches everything. */
bool k1s_webhook_selector_matches(const json_t *sel, const json_t *labels);
bool k1s_webhook_selector_matches(const json_t *sel, const json_t *labels)
{
    if (!sel || json_is_null(sel))
        return true;
    k1s_err_t err = {0};
    k1s_label_selector_t *s = k1s_label_selector_from_json(sel, &err);
    if (!s)
        return false;
    bool ok = k1s_label_selector_matches(s, labels);
    k1s_label_selector_free(s);
    return ok;
}

static const json_t *labels_of(const json_t *o)
{
    return o ? json_object_get(json_object_get(o, "metadata"), "labels") : NULL;
}

static bool selectors_match(const json_t *hook, k1s_api_req_t *r)
{
    /* objectSelector: the new or the old object */
    const json_t *os = json_object_get(hook, "objectSelector");
    if (json_object_size(os) > 0) {
        bool ok = (r->obj && k1s_webhook_selector_matches(os, labels_of(r->obj))) ||
                  (r->old && k1s_webhook_selector_matches(os, labels_of(r->old)));
        if (!ok)
            return false;
    }
    const json_t *nsel = json_object_get(hook, "namespaceSelector");
    if (json_object_size(nsel) == 0)
        return true;
    if (!strcmp(r->res->plural, "namespaces") && !r->res->group[0]) {
        const json_t *o = r->obj ? r->obj : r->old;
        return k1s_webhook_selector_matches(nsel, labels_of(o));
    }
    if (!r->res->namespaced)
        return true;
    json_t *nso = k1s_admit_ns_object(r->api, r->ns);
    bool ok = k1s_webhook_selector_matches(nsel, labels_of(nso));
    json_decref(nso);
    return ok;
}

typedef struct collect_ctx {
    k1s_api_req_t *r;
    json_t *out;
} collect_ctx_t;

static int collect_config(k1s_kv_t *kv, void *arg)
{
    collect_ctx_t *c = arg;
    json_t *cfg = k1s_obj_decode(kv->value);
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(cfg, "webhooks"), i, h)
    {
        if (rules_match(h, c->r) && selectors_match(h, c->r))
            json_array_append_new(c->out, json_pack("{s:s, s:O}", "config",
                                                    k1s_obj_str(cfg, "metadata.name"), "hook", h));
    }
    json_decref(cfg);
    return 0;
}

/* ---------- the AdmissionReview ---------- */

static json_t *review_request(wh_call_t *call)
{
    wh_run_t *run = call->run;
    k1s_api_req_t *r = run->r;
    const k1s_resource_t *res = r->res;
    json_t *req = json_object();
    json_object_set_new(req, "uid", json_string(call->uid));
    json_t *kind = json_pack("{s:s, s:s, s:s}", "group", res->group, "version", res->version,
                             "kind", res->kind);
    json_t *resource = json_pack("{s:s, s:s, s:s}", "group", res->group, "version", res->version,
                                 "resource", res->plural);
    json_object_set(req, "kind", kind);
    json_object_set(req, "resource", resource);
    if (r->sub)
        json_object_set_new(req, "subResource", json_string(r->sub));
    json_object_set_new(req, "requestKind", kind);
    json_object_set_new(req, "requestResource", resource);
    if (r->sub)
        json_object_set_new(req, "requestSubResource", json_string(r->sub));
    const json_t *o = r->obj ? r->obj : r->old;
    const char *name = o ? k1s_obj_str(o, "metadata.name") : NULL;
    if (!name)
        name = r->name;
    if (name && *name)
        json_object_set_new(req, "name", json_string(name));
    if (res->namespaced && r->ns)
        json_object_set_new(req, "namespace", json_string(r->ns));
    const char *op = k1s_admit_operation(r);
    json_object_set_new(req, "operation", json_string(op));
    json_t *groups = json_array();
    for (size_t i = 0; r->groups && r->groups[i]; i++)
        json_array_append_new(groups, json_string(r->groups[i]));
    json_object_set_new(
        req, "userInfo",
        json_pack("{s:s, s:o}", "username", r->user ? r->user : "", "groups", groups));
    json_object_set(req, "object", r->obj ? r->obj : json_null());
    json_object_set(req, "oldObject", r->old && strcmp(op, "CREATE") ? r->old : json_null());
    json_object_set_new(req, "dryRun", json_boolean(r->dry_run));
    const char *okind = !strcmp(op, "CREATE")   ? "CreateOptions"
                        : !strcmp(op, "DELETE") ? "DeleteOptions"
                                                : "UpdateOptions";
    json_t *opts = json_pack("{s:s, s:s}", "kind", okind, "apiVersion", "meta.k8s.io/v1");
    const char *fm = k1s_http_req_query(r->http, "fieldManager");
    if (fm && strcmp(op, "DELETE"))
        json_object_set_new(opts, "fieldManager", json_string(fm));
    if (r->dry_run)
        json_object_set_new(opts, "dryRun", json_pack("[s]", "All"));
    json_object_set_new(req, "options", opts);
    return json_pack("{s:s, s:s, s:o}", "kind", "AdmissionReview", "apiVersion",
                     "admission.k8s.io/v1", "request", req);
}

/* ---------- calling ---------- */

static void run_step(wh_run_t *run);
static void call_done(wh_call_t *call);

/* The phase is over: admitted. */
static void run_admit(wh_run_t *run)
{
    k1s_api_req_t *r = run->r;
    k1s_admit_next_fn next = run->next;
    run_free(run);
    next(r);
}

/* Ends the request with a Status (takes ownership of status). */
static void run_refuse(wh_run_t *run, int code, json_t *status)
{
    k1s_api_req_t *r = run->r;
    run_free(run);
    k1s_api_send_json(r, code, status);
}

static const json_t *hook_of(const wh_call_t *call)
{
    return json_object_get(json_array_get(call->run->hooks, call->idx), "hook");
}

static const char *hook_name(const wh_call_t *call)
{
    return json_string_value(json_object_get(hook_of(call), "name"));
}

/* Records a refusal (takes ownership of status) and completes the call. */
static void call_refuse(wh_call_t *call, int code, json_t *status)
{
    call->code = code;
    call->status = status;
    call_done(call);
}

/* A failed call: Ignore admits, Fail refuses with Kubernetes' internal error. */
static void call_failed(wh_call_t *call, const char *why)
{
    const char *name = hook_name(call);
    const char *fp = json_string_value(json_object_get(hook_of(call), "failurePolicy"));
    if (fp && !strcmp(fp, "Ignore")) {
        k1s_warn("failed calling webhook, failing open %s: failed calling webhook \"%s\": %s", name,
                 name, why);
        call_done(call);
        return;
    }
    char *err = k1s_xasprintf("failed calling webhook \"%s\": %s", name, why);
    char *msg = k1s_xasprintf("Internal error occurred: %s", err);
    json_t *s = k1s_status_new(500, "InternalError", msg);
    json_object_set_new(s, "details", json_pack("{s:[{s:s}]}", "causes", "message", err));
    free(err);
    free(msg);
    call_refuse(call, 500, s);
}

static json_t *b64_decode(const char *s)
{
    size_t n = strlen(s);
    unsigned char *out = k1s_xmalloc(n / 4 * 3 + 4);
    int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (len < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as bytes */
    while (n > 0 && s[n - 1] == '=') {
        n--;
        len--;
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)out, (size_t)len, 0, &je);
    free(out);
    return j;
}

/* webhookerrors.ToStatusErr: the Status of a denial. New reference. */
static json_t *denial_status(const char *name, const json_t *st, int *code_out)
{
    int code = (int)json_integer_value(json_object_get(st, "code"));
    if (code < 400)
        code = 400;
    const char *m = json_string_value(json_object_get(st, "message"));
    const char *reason = json_string_value(json_object_get(st, "reason"));
    char *full;
    if (m && *m)
        full = k1s_xasprintf("admission webhook \"%s\" denied the request: %s", name, m);
    else if (reason && *reason)
        full = k1s_xasprintf("admission webhook \"%s\" denied the request: %s", name, reason);
    else
        full =
            k1s_xasprintf("admission webhook \"%s\" denied the request without explanation", name);
    json_t *out = json_pack("{s:s, s:s, s:{}, s:s, s:s}", "kind", "Status", "apiVersion", "v1",
                            "metadata", "status", "Failure", "message", full);
    if (reason && *reason)
        json_object_set_new(out, "reason", json_string(reason));
    json_t *d = json_object_get(st, "details");
    if (d)
        json_object_set(out, "details", d);
    json_object_set_new(out, "code", json_integer(code));
    free(full);
    *code_out = code;
    return out;
}

static void on_answer(int err, int status, const char *body, size_t len, const char *msg, void *arg)
{
    wh_call_t *call = arg;
    call->h = NULL;
    wh_run_t *run = call->run;
    k1s_api_req_t *r = run->r;
    const char *name = hook_name(call);
    if (err < 0) {
        char *why = k1s_xasprintf("failed to call webhook: Post \"%s\": %s", call->url, msg);
        call_failed(call, why);
        free(why);
        return;
    }
    if (status != 200) {
        char *why = k1s_xasprintf(
            "failed to call webhook: an error on the server (\"%.*s\") has prevented the request "
            "from succeeding",
            (int)(len > 200 ? 200 : len), body);
        call_failed(call, why);
        free(why);
        return;
    }
    json_error_t je;
    json_t *review = json_loadb(body, len, 0, &je);
    json_t *resp = json_object_get(review, "response");
    const char *uid = json_string_value(json_object_get(resp, "uid"));
    if (!json_is_object(resp)) {
        json_decref(review);
        call_failed(call, "received invalid webhook response: response is nil");
        return;
    }
    if (!uid || strcmp(uid, call->uid)) {
        char *why =
            k1s_xasprintf("received invalid webhook response: expected response.uid=\"%s\", "
                          "got \"%s\"",
                          call->uid, uid ? uid : "");
        json_decref(review);
        call_failed(call, why);
        free(why);
        return;
    }
    /* warnings and audit annotations count whatever the verdict */
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(resp, "warnings"), i, v)
    {
        if (json_is_string(v))
            k1s_admit_warn(r, json_string_value(v));
    }
    const char *k;
    json_object_foreach(json_object_get(resp, "auditAnnotations"), k, v)
    {
        if (!json_is_string(v))
            continue;
        char *key = k1s_xasprintf("%s/%s", name, k);
        k1s_admit_audit(r, key, json_string_value(v));
        free(key);
    }
    if (!json_is_true(json_object_get(resp, "allowed"))) {
        int code;
        json_t *out = denial_status(name, json_object_get(resp, "status"), &code);
        json_decref(review);
        call_refuse(call, code, out);
        return;
    }
    const char *patch = json_string_value(json_object_get(resp, "patch"));
    if (run->mutating && patch && *patch && r->obj) {
        const char *pt = json_string_value(json_object_get(resp, "patchType"));
        if (!pt || strcmp(pt, "JSONPatch")) {
            json_decref(review);
            call_failed(call, "received invalid webhook response: unsupported patch type");
            return;
        }
        json_t *ops = b64_decode(patch);
        json_t *out = NULL;
        k1s_err_t perr = {0};
        if (!json_is_array(ops) || k1s_patch_json(r->obj, ops, &out, &perr) < 0) {
            json_decref(ops);
            json_decref(review);
            char *m = k1s_xasprintf("Internal error occurred: %s",
                                    perr.msg[0] ? perr.msg : "invalid JSON patch");
            call_refuse(call, 500, k1s_status_new(500, "InternalError", m));
            free(m);
            return;
        }
        json_decref(ops);
        bool changed = !json_equal(out, r->obj);
        if (changed) {
            json_decref(r->obj);
            r->obj = out;
            if (run->round == 0)
                run->changed_in_round = true;
        } else {
            json_decref(out);
        }
        char key[96], val[512];
        snprintf(key, sizeof(key), "mutation.webhook.admission.k8s.io/round_%d_index_%zu",
                 run->round, call->idx);
        snprintf(
            val, sizeof(val), "{\"configuration\":\"%s\",\"webhook\":\"%s\",\"mutated\":%s}",
            json_string_value(json_object_get(json_array_get(run->hooks, call->idx), "config")),
            name, changed ? "true" : "false");
        k1s_admit_audit(r, key, val);
    }
    json_decref(review);
    call_done(call);
}

typedef struct target {
    char *host, *addr, *target, *url;
    int port;
} target_t;

static void target_free(target_t *t)
{
    free(t->host);
    free(t->addr);
    free(t->target);
    free(t->url);
}

/* The IP:port of a ready endpoint of Service ns/name for its port `port`, else its ClusterIP. */
static int resolve_service(k1s_apiserver_t *api, const char *ns, const char *name, int port,
                           char **addr, int *tport, char **why)
{
    const k1s_resource_t *sr = k1s_registry_find("", "v1", "services");
    char *key = k1s_obj_key(sr, ns, name);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    free(key);
    if (!kv) {
        *why = k1s_xasprintf("service \"%s\" not found", name);
        return -ENOENT;
    }
    json_t *svc = k1s_obj_decode(kv->value);
    const json_t *sp = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, p)
    {
        if (json_integer_value(json_object_get(p, "port")) == port)
            sp = p;
    }
    const char *pname = sp ? json_string_value(json_object_get(sp, "name")) : NULL;
    const json_t *tp = sp ? json_object_get(sp, "targetPort") : NULL;
    int want = json_is_integer(tp) ? (int)json_integer_value(tp) : port;
    const k1s_resource_t *er = k1s_registry_find("", "v1", "endpoints");
    key = k1s_obj_key(er, ns, name);
    k1s_kv_t *ekv = k1s_store_get_latest(api->store, key);
    free(key);
    int rc = -ENOENT;
    if (ekv) {
        json_t *ep = k1s_obj_decode(ekv->value);
        json_t *ss;
        json_array_foreach(json_object_get(ep, "subsets"), i, ss)
        {
            const json_t *a = json_array_get(json_object_get(ss, "addresses"), 0);
            const char *ip = json_string_value(json_object_get(a, "ip"));
            if (!ip)
                continue;
            int found = 0;
            size_t j;
            json_t *pp;
            json_array_foreach(json_object_get(ss, "ports"), j, pp)
            {
                const char *n = json_string_value(json_object_get(pp, "name"));
                int pn = (int)json_integer_value(json_object_get(pp, "port"));
                if ((pname && n && !strcmp(pname, n)) || (!json_is_string(tp) && pn == want) ||
                    json_array_size(json_object_get(ss, "ports")) == 1)
                    found = pn;
            }
            if (found) {
                *addr = k1s_xstrdup(ip);
                *tport = found;
                rc = 0;
                break;
            }
        }
        json_decref(ep);
    }
    if (rc < 0) {
        const char *cip = k1s_obj_str(svc, "spec.clusterIP");
        if (cip && *cip && strcmp(cip, "None")) {
            *addr = k1s_xstrdup(cip);
            *tport = port;
            rc = 0;
        } else {
            *why = k1s_xasprintf("no endpoints available for service \"%s\"", name);
        }
    }
    json_decref(svc);
    return rc;
}

/* Parses clientConfig into where to connect; *why set on failure. */
static int make_target(k1s_apiserver_t *api, const json_t *cc, int timeout, target_t *t, char **why)
{
    memset(t, 0, sizeof(*t));
    const char *url = json_string_value(json_object_get(cc, "url"));
    if (url) {
        if (strncmp(url, "https://", 8)) {
            *why = k1s_xasprintf("'https' is the only allowed URL scheme");
            return -EINVAL;
        }
        const char *hp = url + 8;
        const char *slash = strchr(hp, '/');
        char *hostport = slash ? k1s_xstrndup(hp, (size_t)(slash - hp)) : k1s_xstrdup(hp);
        const char *path = slash ? slash : "/";
        char *colon = NULL;
        if (hostport[0] == '[') {
            char *rb = strchr(hostport, ']');
            if (rb) {
                *rb = 0;
                colon = rb[1] == ':' ? rb + 1 : NULL;
                memmove(hostport, hostport + 1, strlen(hostport + 1) + 1);
            }
        } else {
            colon = strrchr(hostport, ':');
        }
        t->port = 443;
        if (colon) {
            *colon = 0;
            t->port = atoi(colon + 1);
        }
        t->host = hostport;
        t->target = k1s_xasprintf("%s?timeout=%ds", path, timeout);
        t->url = k1s_xasprintf("%s?timeout=%ds", url, timeout);
        return 0;
    }
    const json_t *svc = json_object_get(cc, "service");
    const char *name = json_string_value(json_object_get(svc, "name"));
    const char *ns = json_string_value(json_object_get(svc, "namespace"));
    const char *path = json_string_value(json_object_get(svc, "path"));
    int port = json_is_integer(json_object_get(svc, "port"))
                   ? (int)json_integer_value(json_object_get(svc, "port"))
                   : 443;
    if (!name || !ns) {
        *why = k1s_xstrdup("clientConfig has neither url nor service");
        return -EINVAL;
    }
    t->host = k1s_xasprintf("%s.%s.svc", name, ns);
    t->target = k1s_xasprintf("%s?timeout=%ds", path && *path ? path : "/", timeout);
    t->url = k1s_xasprintf("https://%s:%d%s", t->host, port, t->target);
    int tport = port;
    int rc = resolve_service(api, ns, name, port, &t->addr, &tport, why);
    t->port = tport;
    return rc;
}

/* Starts the call of webhook idx; its outcome arrives through call_done. */
static void call_start(wh_run_t *run, size_t idx)
{
    wh_call_t *call = &run->calls[idx];
    k1s_httpc_cancel(call->h);
    free(call->url);
    json_decref(call->status);
    memset(call, 0, sizeof(*call));
    call->run = run;
    call->idx = idx;
    k1s_api_req_t *r = run->r;
    const json_t *h = hook_of(call);
    const char *name = hook_name(call);
    if (r->dry_run) {
        const char *se = json_string_value(json_object_get(h, "sideEffects"));
        if (!se || (strcmp(se, "None") && strcmp(se, "NoneOnDryRun"))) {
            char *m = k1s_xasprintf("admission webhook \"%s\" does not support dry run", name);
            call_refuse(call, 400, k1s_status_new(400, "BadRequest", m));
            free(m);
            return;
        }
    }
    int timeout = json_is_integer(json_object_get(h, "timeoutSeconds"))
                      ? (int)json_integer_value(json_object_get(h, "timeoutSeconds"))
                      : 10;
    if (timeout < 1 || timeout > 30)
        timeout = timeout < 1 ? 1 : 30;
    const json_t *cc = json_object_get(h, "clientConfig");
    target_t t;
    char *why = NULL;
    int rc = make_target(r->api, cc, timeout, &t, &why);
    call->url = k1s_xstrdup(t.url ? t.url : "");
    if (rc < 0) {
        char *m = t.url ? k1s_xasprintf("failed to call webhook: Post \"%s\": %s", t.url, why)
                        : k1s_xasprintf("failed to call webhook: %s", why);
        free(why);
        target_free(&t);
        call_failed(call, m);
        free(m);
        return;
    }
    /* caBundle: base64 of PEM */
    const char *ca64 = json_string_value(json_object_get(cc, "caBundle"));
    unsigned char *pem = NULL;
    int pem_len = 0;
    if (ca64 && *ca64) {
        size_t n = strlen(ca64);
        pem = k1s_xmalloc(n / 4 * 3 + 4);
        pem_len = EVP_DecodeBlock(pem, (const unsigned char *)ca64, (int)n);
        if (pem_len < 0)
            pem_len = 0;
    }
    k1s_uuid4(call->uid);
    json_t *review = review_request(call);
    char *body = json_dumps(review, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(review);
    k1s_httpc_req_t hr = {.host = t.host,
                          .addr = t.addr,
                          .port = t.port,
                          .target = t.target,
                          .ca_pem = (const char *)pem,
                          .ca_len = (size_t)pem_len,
                          .timeout_ms = timeout * 1000,
                          .content_type = "application/json",
                          .body = body,
                          .body_len = strlen(body)};
    call->h = k1s_httpc_post(r->api->base, &hr, on_answer, call);
    free(body);
    free(pem);
    target_free(&t);
}

/* All validating calls answered: the first refusal in webhook order decides. */
static void validating_done(wh_run_t *run)
{
    for (size_t i = 0; i < json_array_size(run->hooks); i++) {
        wh_call_t *c = &run->calls[i];
        if (c->code) {
            json_t *st = c->status;
            c->status = NULL;
            run_refuse(run, c->code, st);
            return;
        }
    }
    run_admit(run);
}

static void call_done(wh_call_t *call)
{
    wh_run_t *run = call->run;
    if (!run->mutating) {
        if (--run->pending == 0)
            validating_done(run);
        return;
    }
    if (call->code) {
        json_t *st = call->status;
        call->status = NULL;
        run_refuse(run, call->code, st);
        return;
    }
    run->at++;
    run_step(run);
}

/* Mutating: the next webhook in order (then the reinvocation round). */
static void run_step(wh_run_t *run)
{
    if (run->at < json_array_size(run->hooks)) {
        call_start(run, run->at);
        return;
    }
    /* reinvocation: IfNeeded webhooks once more if the object changed after them */
    if (run->round == 0 && run->changed_in_round) {
        json_t *again = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(run->hooks, i, e)
        {
            const char *rp = json_string_value(
                json_object_get(json_object_get(e, "hook"), "reinvocationPolicy"));
            if (rp && !strcmp(rp, "IfNeeded"))
                json_array_append(again, e);
        }
        if (json_array_size(again) > 0) {
            calls_free(run);
            json_decref(run->hooks);
            run->hooks = again;
            run->calls = k1s_xcalloc(json_array_size(again), sizeof(wh_call_t));
            run->at = 0;
            run->round = 1;
            run_step(run);
            return;
        }
        json_decref(again);
    }
    run_admit(run);
}

void k1s_webhooks_run(k1s_api_req_t *r, bool mutating, k1s_admit_next_fn next)
{
    k1s_webhooks_t *w = r->api->admission->webhooks;
    /* webhook configurations themselves are never sent to webhooks */
    bool exempt = !strcmp(r->res->group, "admissionregistration.k8s.io");
    json_t *hooks = json_array();
    if (!exempt) {
        const k1s_resource_t *cr = k1s_registry_find("admissionregistration.k8s.io", "v1",
                                                     mutating ? "mutatingwebhookconfigurations"
                                                              : "validatingwebhookconfigurations");
        char *prefix = k1s_obj_prefix(cr, NULL);
        collect_ctx_t c = {r, hooks};
        k1s_store_range(r->api->store, prefix, NULL, collect_config, &c);
        free(prefix);
    }
    if (json_array_size(hooks) == 0 || (mutating && !r->obj)) {
        json_decref(hooks);
        next(r);
        return;
    }
    wh_run_t *run = k1s_xcalloc(1, sizeof(*run));
    run->w = w;
    run->r = r;
    run->mutating = mutating;
    run->next = next;
    run->hooks = hooks;
    run->calls = k1s_xcalloc(json_array_size(hooks), sizeof(wh_call_t));
    run->nextr = w->runs;
    if (w->runs)
        w->runs->prev = run;
    w->runs = run;
    if (mutating) {
        run_step(run);
        return;
    }
    /* validating webhooks are called in parallel, as Kubernetes does; the extra count keeps
     * the run alive while calls that fail at once complete during the loop */
    size_t n = json_array_size(hooks);
    run->pending = n + 1;
    for (size_t i = 0; i < n; i++)
        call_start(run, i);
    if (--run->pending == 0)
        validating_done(run);
}
