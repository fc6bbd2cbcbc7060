/*
 * The review APIs, create-only resources that are answered and never
 * stored: authorization.k8s.io/v1 SelfSubjectAccessReview,
 * SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectRulesReview
 * (`kubectl auth can-i`, `--list`), and authentication.k8s.io
 * SelfSubjectReview (`kubectl auth whoami`, v1, v1beta1, v1alpha1) and
 * TokenReview (the same authenticator requests go through).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/authz.h"
#include "api/satoken.h"

static const char *str_or_empty(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static json_t *groups_json(char *const *groups)
{
    json_t *a = json_array();
    for (size_t i = 0; groups && groups[i]; i++)
        json_array_append_new(a, json_string(groups[i]));
    return a;
}

/* The answer: the request's object with server metadata and status. Takes ownership of both. */
static void answer(k1s_api_req_t *r, json_t *obj, json_t *status)
{
    char av[128];
    json_t *out = json_pack("{s:s, s:s, s:{s:n}}", "kind", r->res->kind, "apiVersion",
                            k1s_resource_api_version(r->res, av, sizeof(av)), "metadata",
                            "creationTimestamp");
    json_t *meta = json_object_get(obj, "metadata");
    if (json_is_object(meta))
        json_object_update(json_object_get(out, "metadata"), meta);
    json_t *spec = json_object_get(obj, "spec");
    if (spec)
        json_object_set(out, "spec", spec);
    json_object_set_new(out, "status", status);
    json_decref(obj);
    k1s_api_send_json(r, 201, out);
}

static void invalid(k1s_api_req_t *r, json_t *obj, const char *field, const char *msg)
{
    json_decref(obj);
    char kg[256];
    k1s_resource_kind_group(r->res, kg, sizeof(kg));
    json_t *s = k1s_status_new(422, "Invalid", "");
    char *m = k1s_xasprintf("%s \"\" is invalid: %s: %s", kg, field, msg);
    json_object_set_new(s, "message", json_string(m));
    free(m);
    json_t *d =
        json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}]}", "group", r->res->group, "kind", r->res->kind,
                  "causes", "reason", "FieldValueInvalid", "message", msg, "field", field);
    json_object_set_new(s, "details", d);
    k1s_api_send_json(r, 422, s);
}

/* Decides spec's resourceAttributes or nonResourceAttributes for user/groups. */
static void access_review(k1s_api_req_t *r, json_t *obj, const char *user, char *const *groups)
{
    json_t *spec = json_object_get(obj, "spec");
    json_t *ra = json_object_get(spec, "resourceAttributes");
    json_t *na = json_object_get(spec, "nonResourceAttributes");
    if ((ra != NULL) == (na != NULL)) {
        invalid(r, obj, "spec.resourceAttributes",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified");
        return;
    }
    if (!strcmp(r->res->plural, "localsubjectaccessreviews")) {
        const char *ns = ra ? str_or_empty(ra, "namespace") : "";
        if (!ra || strcmp(ns, r->ns ? r->ns : "")) {
            json_decref(obj);
            k1s_api_fail(r, 400, "BadRequest",
                         "spec.resourceAttributes.namespace must match namespace: %s",
                         r->ns ? r->ns : "");
            return;
        }
    }
    k1s_authz_attrs_t a = {.user = user, .groups = groups, .path = ""};
    if (ra) {
        a.resource_request = true;
        a.verb = str_or_empty(ra, "verb");
        a.group = str_or_empty(ra, "group");
        a.version = str_or_empty(ra, "version");
        a.resource = str_or_empty(ra, "resource");
        a.sub = str_or_empty(ra, "subresource");
        a.ns = str_or_empty(ra, "namespace");
        a.name = str_or_empty(ra, "name");
    } else {
        a.verb = str_or_empty(na, "verb");
        a.path = str_or_empty(na, "path");
        a.group = a.version = a.resource = a.sub = a.ns = a.name = "";
    }
    char reason[384];
    bool ok = k1s_authz_decide(r->api->authz, &a, reason, sizeof(reason));
    json_t *st = json_pack("{s:b}", "allowed", ok);
    if (*reason)
        json_object_set_new(st, "reason", json_string(reason));
    answer(r, obj, st);
}

static void subject_access_review(k1s_api_req_t *r, json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec");
    const char *user = str_or_empty(spec, "user");
    json_t *gs = json_object_get(spec, "groups");
    if (!*user && !json_array_size(gs)) {
        invalid(r, obj, "spec.user", "at least one of user or group must be specified");
        return;
    }
    size_t n = json_array_size(gs);
    char **groups = k1s_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *g = json_string_value(json_array_get(gs, i));
        groups[i] = (char *)(g ? g : "");
    }
    json_incref(obj);
    access_review(r, obj, user, groups);
    free(groups);
    json_decref(obj);
}

static void rules_review(k1s_api_req_t *r, json_t *obj)
{
    const char *ns = str_or_empty(json_object_get(obj, "spec"), "namespace");
    json_t *res = json_array(), *nonres = json_array();
    k1s_rbac_rules_for(k1s_authz_rbac(r->api->authz), r->user, r->groups, ns, res, nonres);
    answer(r, obj,
           json_pack("{s:o, s:o, s:b}", "resourceRules", res, "nonResourceRules", nonres,
                     "incomplete", 0));
}

static void self_subject_review(k1s_api_req_t *r, json_t *obj)
{
    json_t *ui = json_pack("{s:s, s:o}", "username", r->user, "groups", groups_json(r->groups));
    const char *uid = r->uid;
    const json_t *extra = r->extra;
    if (r->authz && r->authz->imp_user) {
        uid = r->authz->imp_uid;
        extra = r->authz->imp_extra;
    }
    if (uid && *uid)
        json_object_set_new(ui, "uid", json_string(uid));
    if (json_object_size(extra) > 0)
        json_object_set(ui, "extra", (json_t *)extra);
    json_t *out = json_pack("{s:o}", "userInfo", ui);
    json_object_del(obj, "spec");
    answer(r, obj, out);
}

/* The identity a bearer token gives (a static token or a service-account JWT), as TokenReview's
 * status.user; NULL when the token authenticates nobody. */
static json_t *token_user(k1s_apiserver_t *api, const char *tok)
{
    const char *user = NULL, *uid = NULL;
    char *const *groups = NULL;
    k1s_api_req_t probe = {.api = api};
    if (*tok && k1s_api_authenticate_token(api, tok, &user, &uid, &groups)) {
        /* a static token */
    } else if (*tok && k1s_sa_authenticate(&probe, tok)) {
        user = probe.user;
        uid = probe.uid;
        groups = probe.groups;
    }
    json_t *out = NULL;
    json_t *extra = probe.extra;
    if (user) {
        bool has_auth = false;
        for (size_t i = 0; groups && groups[i]; i++)
            has_auth |= !strcmp(groups[i], "system:authenticated");
        json_t *g = groups_json(groups);
        if (!has_auth)
            json_array_append_new(g, json_string("system:authenticated"));
        out = json_pack("{s:s, s:s, s:o}", "username", user, "uid", uid ? uid : "", "groups", g);
        if (json_object_size(extra) > 0)
            json_object_set(out, "extra", extra);
    }
    json_decref(extra);
    free(probe.auth_owned);
    return out;
}

static void token_review(k1s_api_req_t *r, json_t *obj)
{
    const char *tok = str_or_empty(json_object_get(obj, "spec"), "token");
    json_t *user = token_user(r->api, tok);
    if (!user) {
        answer(r, obj, json_pack("{s:{}}", "user"));
        return;
    }
    json_t *st = json_pack("{s:b, s:o}", "authenticated", 1, "user", user);
    json_t *aud = json_object_get(json_object_get(obj, "spec"), "audiences");
    if (json_array_size(aud))
        json_object_set(st, "audiences", aud);
    answer(r, obj, st);
}

void k1s_review_handle(k1s_api_req_t *r)
{
    const char *m = r->http->method;
    r->verb = "create";
    if (strcmp(m, "POST") || r->name) {
        r->verb = !strcmp(m, "GET") ? "get" : "other";
        k1s_api_fail(r, 405, "MethodNotAllowed",
                     "the server does not allow this method on the requested resource");
        return;
    }
    /* a SelfSubjectReview carries nothing to read (and newer than the protobuf
     * schemas k1s knows), so its body is not decoded */
    bool ssr = !strcmp(r->res->plural, "selfsubjectreviews");
    json_t *obj = ssr ? json_object() : k1s_rest_decode_body(r);
    if (!obj)
        return;
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, r->res->kind)) {
        json_decref(obj);
        k1s_api_fail(r, 400, "BadRequest",
                     "the object provided is unrecognized (must be of type %s): kind %s given",
                     r->res->kind, kind);
        return;
    }
    const char *p = r->res->plural;
    if (!strcmp(p, "selfsubjectaccessreviews") || !strcmp(p, "localsubjectaccessreviews")) {
        if (!strcmp(p, "selfsubjectaccessreviews"))
            access_review(r, obj, r->user, r->groups);
        else
            subject_access_review(r, obj);
    } else if (!strcmp(p, "subjectaccessreviews"))
        subject_access_review(r, obj);
    else if (!strcmp(p, "selfsubjectrulesreviews"))
        rules_review(r, obj);
    else if (!strcmp(p, "selfsubjectreviews"))
        self_subject_review(r, obj);
    else if (!strcmp(p, "tokenreviews"))
        token_review(r, obj);
    else {
        json_decref(obj);
        k1s_api_fail(r, 404, "NotFound", "the server could not find the requested resource");
    }
}
