/*
 * The admission chain (see "admission.c" in apiserver-int.h): the table of
 * built-in admission plugins in kube-apiserver's order, and the runner that
 * steps through it for one phase, synchronously for built-ins and
 * asynchronously where the admission webhooks are called, then continues
 * the write in rest.c or answers the refusal as Kubernetes does
 * (`pods "x" is forbidden: ...`).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/csr.h"
#include "api/satoken.h"

/*
 * The built-in plugins, in the order of kube-apiserver's
 * AllOrderedPlugins. NamespaceLifecycle is done by rest.c (namespace_usable
 * and the protected namespaces on delete) before the chain starts.
 */
const k1s_admit_plugin_t k1s_admit_plugins[] = {
    {"LimitRanger", k1s_admit_limitranger_mutate, k1s_admit_limitranger_validate, false},
    {"ServiceAccount", k1s_sa_admit_pod, NULL, false},
    /* NodeRestriction runs before decoding, in rest.c (k1s_node_restriction_admit) */
    {"PodSecurity", NULL, k1s_admit_podsecurity, false},
    {"Priority", k1s_admit_priority, NULL, false},
    {"DefaultTolerationSeconds", k1s_admit_default_tolerations, NULL, false},
    {"DefaultStorageClass", k1s_admit_default_storageclass, NULL, false},
    {"StorageObjectInUseProtection", k1s_admit_storage_protection, NULL, false},
    {"PersistentVolumeClaimResize", NULL, k1s_admit_pvc_resize, false},
    {"CertificateApproval", NULL, k1s_csr_admit_approval, false},
    {"CertificateSigning", NULL, k1s_csr_admit_signing, false},
    {"CertificateSubjectRestriction", NULL, k1s_csr_admit_subject, false},
    {"MutatingAdmissionWebhook", NULL, NULL, true},
    {"ValidatingAdmissionWebhook", NULL, NULL, true},
    {"ResourceQuota", NULL, k1s_admit_quota, false},
};
const size_t k1s_admit_nplugins = sizeof(k1s_admit_plugins) / sizeof(k1s_admit_plugins[0]);

/* ---------- helpers for plugins ---------- */

const char *k1s_admit_operation(const k1s_api_req_t *r)
{
    if (!r->verb)
        return "CREATE";
    if (!strcmp(r->verb, "create"))
        return "CREATE";
    if (!strcmp(r->verb, "delete") || !strcmp(r->verb, "deletecollection"))
        return "DELETE";
    /* a server-side apply (PATCH) to an object that does not exist creates it */
    if (!r->old)
        return "CREATE";
    return "UPDATE";
}

int k1s_admit_denyf(k1s_admit_deny_t *deny, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(deny->msg);
    deny->msg = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    return -EPERM;
}

void k1s_admit_warn(k1s_api_req_t *r, const char *text)
{
    /* status.c sends each warning as `299 - "<text>"`: escape quotes and backslashes */
    k1s_buf_t b = K1S_BUF_INIT;
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            k1s_buf_putc(&b, '\\');
        k1s_buf_putc(&b, *p);
    }
    if (!r->warnings)
        r->warnings = json_array();
    json_array_append_new(r->warnings, json_string(b.data ? b.data : ""));
    k1s_buf_free(&b);
}

void k1s_admit_audit(k1s_api_req_t *r, const char *key, const char *value)
{
    if (!r->audit_annotations)
        r->audit_annotations = json_object();
    json_object_set_new(r->audit_annotations, key, json_string(value));
}

json_t *k1s_admit_ns_object(k1s_apiserver_t *api, const char *ns)
{
    if (!ns)
        return NULL;
    const k1s_resource_t *nsr = k1s_registry_find("", "v1", "namespaces");
    char *key = k1s_obj_key(nsr, NULL, ns);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    free(key);
    return kv ? k1s_obj_decode(kv->value) : NULL;
}

/* The name Kubernetes puts in an admission error: the object's name, else its generateName. */
static const char *object_name(const k1s_api_req_t *r)
{
    const json_t *o = r->obj ? r->obj : r->old;
    const char *n = o ? k1s_obj_str(o, "metadata.name") : NULL;
    if (n && *n)
        return n;
    const char *g = o ? k1s_obj_str(o, "metadata.generateName") : NULL;
    if (g && *g)
        return g;
    return r->name ? r->name : "Unknown";
}

void k1s_admission_refuse(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    int code = deny->code ? deny->code : 403;
    const char *reason = deny->reason ? deny->reason : "Forbidden";
    char *msg;
    if (deny->raw) {
        msg = k1s_xstrdup(deny->msg ? deny->msg : "");
    } else {
        char q[256];
        k1s_resource_qualified(r->res, q, sizeof(q));
        msg = k1s_xasprintf("%s \"%s\" is forbidden: %s", q, object_name(r),
                            deny->msg ? deny->msg : "");
    }
    json_t *s = k1s_status_new(code, reason, msg);
    json_t *d = deny->details;
    if (!d) {
        d = json_object();
        json_object_set_new(d, "name", json_string(object_name(r)));
        if (r->res->group[0])
            json_object_set_new(d, "group", json_string(r->res->group));
        json_object_set_new(d, "kind", json_string(r->res->plural));
    }
    json_object_set_new(s, "details", d);
    free(msg);
    free(deny->msg);
    deny->msg = NULL;
    deny->details = NULL;
    k1s_api_send_json(r, code, s);
}

/* ---------- the runner ---------- */

typedef struct chain {
    k1s_api_req_t *r;
    bool mutating;
    size_t at;
    k1s_admit_next_fn next;
} chain_t;

static void chain_step(chain_t *c);

static void chain_resume(k1s_api_req_t *r)
{
    chain_t *c = r->admit_chain;
    k1s_assert(c);
    if (!c)
        return;
    r->admit_chain = NULL;
    c->at++;
    chain_step(c);
}

static void chain_step(chain_t *c)
{
    k1s_api_req_t *r = c->r;
    for (; c->at < k1s_admit_nplugins; c->at++) {
        const k1s_admit_plugin_t *p = &k1s_admit_plugins[c->at];
        if (p->webhooks) {
            bool mutating_row = !strcmp(p->name, "MutatingAdmissionWebhook");
            if (mutating_row != c->mutating)
                continue;
            /* answers r itself when refused; k1s_admission_req_done frees c then */
            r->admit_chain = c;
            k1s_webhooks_run(r, c->mutating, chain_resume);
            return;
        }
        k1s_admit_fn fn = c->mutating ? p->mutate : p->validate;
        if (!fn)
            continue;
        k1s_admit_deny_t deny = {0};
        if (fn(r, &deny) < 0) {
            free(c);
            k1s_admission_refuse(r, &deny);
            return;
        }
    }
    k1s_admit_next_fn next = c->next;
    free(c);
    next(r);
}

static void chain_start(k1s_api_req_t *r, bool mutating, k1s_admit_next_fn next)
{
    chain_t *c = k1s_xcalloc(1, sizeof(*c));
    c->r = r;
    c->mutating = mutating;
    c->next = next;
    chain_step(c);
}

void k1s_admission_mutate(k1s_api_req_t *r, k1s_admit_next_fn next)
{
    chain_start(r, true, next);
}

void k1s_admission_validate(k1s_api_req_t *r, k1s_admit_next_fn next)
{
    chain_start(r, false, next);
}

void k1s_admission_init(k1s_apiserver_t *api)
{
    api->admission = k1s_xcalloc(1, sizeof(*api->admission));
    api->admission->webhooks = k1s_webhooks_new(api);
    k1s_quota_init(api);
}

void k1s_admission_free(k1s_apiserver_t *api)
{
    if (!api->admission)
        return;
    k1s_quota_free(api);
    k1s_webhooks_free(api->admission->webhooks);
    free(api->admission);
    api->admission = NULL;
}

void k1s_admission_req_done(k1s_api_req_t *r)
{
    k1s_quota_release(r);
    json_decref(r->audit_annotations);
    r->audit_annotations = NULL;
    free(r->admit_chain);
    r->admit_chain = NULL;
}
