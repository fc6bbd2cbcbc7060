/*
 * Defaulting and validation of admissionregistration.k8s.io/v1
 * MutatingWebhookConfiguration and ValidatingWebhookConfiguration
 * (pkg/apis/admissionregistration/v1/defaults.go and
 * pkg/apis/admissionregistration/validation), the objects webhook.c calls.
 */
#include "api/validate-int.h"

static void def_str(json_t *o, const char *k, const char *v)
{
    if (!json_is_string(json_object_get(o, k)))
        json_object_set_new(o, k, json_string(v));
}

void k1s_defaults_webhook_config(json_t *obj, bool mutating)
{
    json_t *hooks = json_object_get(obj, "webhooks");
    size_t i;
    json_t *h;
    json_array_foreach(hooks, i, h)
    {
        if (!json_is_object(h))
            continue;
        def_str(h, "failurePolicy", "Fail");
        def_str(h, "matchPolicy", "Equivalent");
        if (!json_is_object(json_object_get(h, "namespaceSelector")))
            json_object_set_new(h, "namespaceSelector", json_object());
        if (!json_is_object(json_object_get(h, "objectSelector")))
            json_object_set_new(h, "objectSelector", json_object());
        if (!json_is_integer(json_object_get(h, "timeoutSeconds")))
            json_object_set_new(h, "timeoutSeconds", json_integer(10));
        if (mutating)
            def_str(h, "reinvocationPolicy", "Never");
        size_t j;
        json_t *rule;
        json_array_foreach(json_object_get(h, "rules"), j, rule)
        {
            if (json_is_object(rule))
                def_str(rule, "scope", "*");
        }
        json_t *svc = json_object_get(json_object_get(h, "clientConfig"), "service");
        if (json_is_object(svc) && !json_is_integer(json_object_get(svc, "port")))
            json_object_set_new(svc, "port", json_integer(443));
    }
}

static const char *const FAILURE[] = {"Fail", "Ignore"};
static const char *const MATCH[] = {"Equivalent", "Exact"};
static const char *const SIDE[] = {"None", "NoneOnDryRun"};
static const char *const REINV[] = {"IfNeeded", "Never"};
static const char *const OPS[] = {"*", "CONNECT", "CREATE", "DELETE", "UPDATE"};
static const char *const SCOPES[] = {"*", "Cluster", "Namespaced"};

static void check_enum(vctx_t *v, const json_t *h, const char *key, const char *const *set,
                       size_t n, bool required, const char *required_msg)
{
    const char *s = jstr(h, key);
    if (!s) {
        if (required)
            add(v, key, E_REQUIRED, NULL, required_msg);
        return;
    }
    if (!str_in(s, set, n))
        add_notsupp(v, key, s, set, n);
}

static void check_client_config(vctx_t *v, const json_t *cc)
{
    size_t m = push(v, "clientConfig");
    const char *url = jstr(cc, "url");
    const json_t *svc = jobj(cc, "service");
    if ((url && svc) || (!url && !svc)) {
        add(v, NULL, E_REQUIRED, NULL, "exactly one of url or service is required");
    } else if (url) {
        if (strncmp(url, "https://", 8))
            add_s(v, "url", E_INVALID, url, "'https' is the only allowed URL scheme");
        else if (strchr(url, '?'))
            add_s(v, "url", E_INVALID, url, "query parameters are not allowed");
        else if (strchr(url, '#'))
            add_s(v, "url", E_INVALID, url, "fragments are not allowed");
        else if (url[8] == 0 || url[8] == '/')
            add_s(v, "url", E_INVALID, url, "host must be specified");
    } else {
        size_t ms = push(v, "service");
        if (!jstr(svc, "name") || !*jstr(svc, "name"))
            add(v, "name", E_REQUIRED, NULL, "service name is required");
        if (!jstr(svc, "namespace") || !*jstr(svc, "namespace"))
            add(v, "namespace", E_REQUIRED, NULL, "service namespace is required");
        long long port;
        if (jint(svc, "port", &port) && (port < 1 || port > 65535))
            add_i(v, "port", E_INVALID, port,
                  "port is not valid: must be between 1 and 65535, inclusive");
        const char *p = jstr(svc, "path");
        if (p && *p && p[0] != '/')
            add_s(v, "path", E_INVALID, p, "must start with a '/'");
        pop(v, ms);
    }
    pop(v, m);
}

static void check_rules(vctx_t *v, const json_t *rules)
{
    size_t m = push(v, "rules");
    const json_t *rule;
    ARR_EACH(rules, i, rule)
    {
        size_t mi = push_idx(v, i);
        const json_t *ops = jarr(rule, "operations");
        if (jlen(ops) == 0)
            add(v, "operations", E_REQUIRED, NULL, NULL);
        const json_t *op;
        ARR_EACH(ops, j, op)
        {
            const char *s = json_string_value(op);
            size_t mo = push(v, "operations");
            size_t mj = push_idx(v, j);
            if (!s || !str_in(s, OPS, K1S_ARRAY_SIZE(OPS)))
                add_notsupp(v, NULL, s ? s : "", OPS, K1S_ARRAY_SIZE(OPS));
            pop(v, mj);
            pop(v, mo);
        }
        if (jlen(jarr(rule, "apiGroups")) == 0)
            add(v, "apiGroups", E_REQUIRED, NULL, NULL);
        if (jlen(jarr(rule, "apiVersions")) == 0)
            add(v, "apiVersions", E_REQUIRED, NULL, NULL);
        if (jlen(jarr(rule, "resources")) == 0)
            add(v, "resources", E_REQUIRED, NULL, NULL);
        const char *scope = jstr(rule, "scope");
        if (scope && !str_in(scope, SCOPES, K1S_ARRAY_SIZE(SCOPES)))
            add_notsupp(v, "scope", scope, SCOPES, K1S_ARRAY_SIZE(SCOPES));
        pop(v, mi);
    }
    pop(v, m);
}

/* A qualified name with at least three segments separated by dots. */
static bool three_segments(const char *name)
{
    int dots = 0;
    for (const char *p = name; *p; p++)
        if (*p == '.')
            dots++;
    return dots >= 2;
}

void k1s_v_check_webhook_config(vctx_t *v, const k1s_resource_t *r, const json_t *obj,
                                const json_t *old)
{
    if (old)
        k1s_v_meta_update(v, r, obj, old);
    else
        k1s_v_meta_create(v, r, obj);
    bool mutating = !strcmp(r->kind, "MutatingWebhookConfiguration");
    size_t m = push(v, "webhooks");
    const json_t *h;
    ARR_EACH(jarr(obj, "webhooks"), i, h)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr(h, "name");
        if (!name || !*name)
            add(v, "name", E_REQUIRED, NULL, NULL);
        else if (!three_segments(name))
            add_s(v, "name", E_INVALID, name,
                  "should be a domain with at least three segments separated by dots");
        else {
            const json_t *h2;
            ARR_EACH(jarr(obj, "webhooks"), j, h2)
            {
                if (j < i && !strcmp(jstr0(h2, "name"), name)) {
                    add_s(v, "name", E_DUPLICATE, name, NULL);
                    break;
                }
            }
        }
        check_client_config(v, jobj(h, "clientConfig"));
        check_rules(v, jarr(h, "rules"));
        check_enum(v, h, "failurePolicy", FAILURE, 2, false, NULL);
        check_enum(v, h, "matchPolicy", MATCH, 2, false, NULL);
        check_enum(v, h, "sideEffects", SIDE, 2, true, "must specify one of None, NoneOnDryRun");
        if (mutating)
            check_enum(v, h, "reinvocationPolicy", REINV, 2, false, NULL);
        long long t;
        if (jint(h, "timeoutSeconds", &t) && (t < 1 || t > 30))
            add_i(v, "timeoutSeconds", E_INVALID, t,
                  "the timeout value must be between 1 and 30 seconds");
        const json_t *arv = jarr(h, "admissionReviewVersions");
        bool known = false;
        const json_t *x;
        ARR_EACH(arv, j, x)
        {
            const char *s = json_string_value(x);
            if (s && (!strcmp(s, "v1") || !strcmp(s, "v1beta1")))
                known = true;
        }
        if (!known)
            add(v, "admissionReviewVersions", E_REQUIRED, NULL, "must specify one of v1, v1beta1");
        pop(v, mi);
    }
    pop(v, m);
}
