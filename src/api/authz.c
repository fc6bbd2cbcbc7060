/*
 * Request authorization (see authz.h): the request's attributes from its
 * URL, impersonation, the authorizer chain (system:masters, Node, RBAC) and
 * kube-apiserver's 403 answer.
 */
#include "api/authz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "api/apiserver-int.h"
#include "api/audit.h"
#include "lib/log.h"

struct k1s_authz {
    k1s_apiserver_t *api;
    k1s_rbac_t *rbac;
};

k1s_authz_t *k1s_authz_new(k1s_apiserver_t *api)
{
    k1s_authz_t *z = k1s_xcalloc(1, sizeof(*z));
    z->api = api;
    z->rbac = k1s_rbac_new(api->base, api->store);
    return z;
}

void k1s_authz_free(k1s_authz_t *z)
{
    if (!z)
        return;
    k1s_rbac_free(z->rbac);
    free(z);
}

k1s_rbac_t *k1s_authz_rbac(k1s_authz_t *z)
{
    return z->rbac;
}

void k1s_authz_req_free(k1s_authz_req_t *z)
{
    if (!z)
        return;
    free(z->imp_user);
    free(z->imp_uid);
    json_decref(z->imp_extra);
    if (z->imp_groups)
        for (size_t i = 0; z->imp_groups[i]; i++)
            free(z->imp_groups[i]);
    free(z->imp_groups);
    if (z->groups != z->auth_groups)
        free(z->groups);
    free(z->auth_groups);
    free(z->audit_id);
    free(z->st_reason);
    free(z->st_message);
    free(z->uri);
    free(z->user_agent);
    free(z->source_ip);
    free(z->fs_name);
    free(z);
}

/* ---------- request attributes (k8s.io/apiserver/pkg/endpoints/request) ---------- */

static const char *lower_method(const char *m)
{
    static const char *const map[][2] = {
        {"GET", "get"},       {"POST", "post"}, {"PUT", "put"},        {"PATCH", "patch"},
        {"DELETE", "delete"}, {"HEAD", "head"}, {"OPTIONS", "options"}};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(map); i++)
        if (!strcmp(m, map[i][0]))
            return map[i][1];
    return "";
}

/* The name a fieldSelector pins with metadata.name=x (RequiresExactMatch), or NULL. */
static char *field_selector_name(char *fs)
{
    char *save = NULL;
    for (char *t = strtok_r(fs, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (!strncmp(t, "metadata.name==", 15))
            return t + 15;
        if (!strncmp(t, "metadata.name=", 14))
            return t + 14;
    }
    return NULL;
}

static void parse_attrs(k1s_authz_req_t *z, k1s_http_req_t *h)
{
    k1s_authz_attrs_t *a = &z->a;
    const char *path = h->path;
    size_t pl = strlen(path);
    char *pathcopy = z->buf, *split = z->buf + pl + 1;
    memcpy(pathcopy, path, pl + 1);
    memcpy(split, path, pl + 1);
    a->path = pathcopy;
    a->group = a->version = a->resource = a->sub = a->ns = a->name = "";
    a->verb = lower_method(h->method);
    a->resource_request = false;

    char *p[12];
    int n = 0;
    char *save = NULL;
    for (char *s = strtok_r(split, "/", &save); s && n < 12; s = strtok_r(NULL, "/", &save))
        p[n++] = s;
    if (n < 3 || (strcmp(p[0], "api") && strcmp(p[0], "apis")))
        return;
    int i = 1;
    if (!strcmp(p[0], "apis")) {
        if (n - i < 3)
            return;
        a->group = p[i++];
    }
    a->resource_request = true;
    a->version = p[i++];
    bool by_method = true;
    if (!strcmp(p[i], "watch") || !strcmp(p[i], "proxy")) {
        if (n - i < 2) {
            a->resource_request = false;
            return;
        }
        a->verb = p[i++];
        by_method = false;
    } else {
        const char *m = h->method;
        a->verb = !strcmp(m, "POST")                        ? "create"
                  : !strcmp(m, "GET") || !strcmp(m, "HEAD") ? "get"
                  : !strcmp(m, "PUT")                       ? "update"
                  : !strcmp(m, "PATCH")                     ? "patch"
                  : !strcmp(m, "DELETE")                    ? "delete"
                                                            : "";
    }
    if (!strcmp(p[i], "namespaces") && n - i > 1) {
        a->ns = p[i + 1];
        if (n - i > 2 && strcmp(p[i + 2], "status") && strcmp(p[i + 2], "finalize"))
            i += 2;
    }
    int np = n - i;
    if (np >= 3 && strcmp(a->verb, "proxy"))
        a->sub = p[i + 2];
    if (np >= 2)
        a->name = p[i + 1];
    if (np >= 1)
        a->resource = p[i];
    if (by_method && !*a->name && !strcmp(a->verb, "get")) {
        const char *w = k1s_http_req_query(h, "watch");
        a->verb = w && (!strcmp(w, "1") || !strcasecmp(w, "true")) ? "watch" : "list";
        const char *fs = k1s_http_req_query(h, "fieldSelector");
        if (fs) {
            z->fs_name = k1s_xstrdup(fs);
            char *fname = field_selector_name(z->fs_name);
            if (fname && *fname && !strchr(fname, '/'))
                a->name = fname;
        }
    }
    if (by_method && !*a->name && !strcmp(a->verb, "delete"))
        a->verb = "deletecollection";
}

/* ---------- decisions ---------- */

static bool has_group(char *const *groups, const char *g)
{
    for (size_t i = 0; groups && groups[i]; i++)
        if (!strcmp(groups[i], g))
            return true;
    return false;
}

bool k1s_authz_decide(k1s_authz_t *z, const k1s_authz_attrs_t *a, char *reason, size_t len)
{
    if (reason && len)
        reason[0] = 0;
    if (has_group(a->groups, "system:masters"))
        return true;
    const char *node = k1s_node_identity(a->user, a->groups);
    char nreason[256] = "";
    if (node && k1s_node_authorize(z->api, node, a, nreason, sizeof(nreason)))
        return true;
    if (k1s_rbac_authorize(z->rbac, a, reason, len))
        return true;
    if (reason && len)
        snprintf(reason, len, "%s", nreason);
    return false;
}

char *k1s_authz_forbidden_message(const k1s_authz_attrs_t *a, const char *reason)
{
    char *m;
    if (!a->resource_request)
        m = k1s_xasprintf("User \"%s\" cannot %s path \"%s\"", a->user, a->verb, a->path);
    else {
        char res[256];
        snprintf(res, sizeof(res), "%s%s%s", a->resource, *a->sub ? "/" : "", a->sub);
        if (*a->ns)
            m = k1s_xasprintf(
                "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the namespace \"%s\"",
                a->user, a->verb, res, a->group, a->ns);
        else
            m = k1s_xasprintf(
                "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" at the cluster scope",
                a->user, a->verb, res, a->group);
    }
    if (reason && *reason) {
        char *t = k1s_xasprintf("%s: %s", m, reason);
        free(m);
        m = t;
    }
    return m;
}

void k1s_authz_fail(k1s_api_req_t *r, const char *resource, const char *group, const char *name,
                    const char *why)
{
    char *msg;
    json_t *d = json_object();
    if (!resource || !*resource)
        msg = k1s_xasprintf("forbidden: %s", why);
    else {
        char qr[300];
        snprintf(qr, sizeof(qr), "%s%s%s", resource, *group ? "." : "", group);
        msg = name && *name ? k1s_xasprintf("%s \"%s\" is forbidden: %s", qr, name, why)
                            : k1s_xasprintf("%s is forbidden: %s", qr, why);
        if (name && *name)
            json_object_set_new(d, "name", json_string(name));
        if (*group)
            json_object_set_new(d, "group", json_string(group));
        json_object_set_new(d, "kind", json_string(resource));
    }
    json_t *s = k1s_status_new(403, "Forbidden", msg);
    json_object_set_new(s, "details", d);
    free(msg);
    k1s_api_send_json(r, 403, s);
}

/* Answers 403 for attributes a (the apimachinery NewForbidden shape) and releases r. */
static void forbidden(k1s_api_req_t *r, const k1s_authz_attrs_t *a, const char *reason)
{
    char *why = k1s_authz_forbidden_message(a, reason);
    k1s_authz_fail(r, a->resource_request ? a->resource : NULL, a->group, a->name, why);
    free(why);
}

/* A NULL-terminated copy of groups (pointers) with system:authenticated added if missing. */
static char **with_authenticated(char *const *groups, const char *user)
{
    size_t n = 0;
    while (groups && groups[n])
        n++;
    char **g = k1s_xcalloc(n + 2, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        g[i] = groups[i];
    if (!has_group(groups, "system:authenticated") && strcmp(user, "system:anonymous"))
        g[n] = "system:authenticated";
    return g;
}

/* ---------- impersonation (k8s.io/apiserver/pkg/endpoints/filters/impersonation.go) ---------- */

static bool may_impersonate(k1s_api_req_t *r, k1s_authz_req_t *z, const char *group,
                            const char *resource, const char *ns, const char *name)
{
    k1s_authz_attrs_t a = {.user = z->auth_user,
                           .groups = z->auth_groups,
                           .verb = "impersonate",
                           .resource_request = true,
                           .group = group,
                           .version = "",
                           .resource = resource,
                           .sub = "",
                           .ns = ns,
                           .name = name,
                           .path = z->a.path};
    char reason[256];
    if (k1s_authz_decide(r->api->authz, &a, reason, sizeof(reason)))
        return true;
    r->verb = "impersonate";
    forbidden(r, &a, reason);
    return false;
}

/* Applies Impersonate-* headers; false if the request was answered. */
static bool impersonate(k1s_api_req_t *r, k1s_authz_req_t *z)
{
    k1s_http_req_t *h = r->http;
    const char *user = k1s_http_req_header(h, "Impersonate-User");
    const char *uid = k1s_http_req_header(h, "Impersonate-Uid");
    const char *g0 = k1s_http_req_header_n(h, "Impersonate-Group", 0);
    if (!user) {
        if (g0 || uid) {
            r->verb = "impersonate";
            k1s_api_fail(r, 400, "BadRequest", "requested [%s%s%s] without impersonating a user",
                         g0 ? "group " : "", g0 ? g0 : "", uid ? " uid" : "");
            return false;
        }
        return true;
    }
    const char *sa = "system:serviceaccount:";
    if (!strncmp(user, sa, strlen(sa))) {
        char *copy = k1s_xstrdup(user + strlen(sa));
        char *c = strchr(copy, ':');
        bool ok = true;
        if (c) {
            *c = 0;
            ok = may_impersonate(r, z, "", "serviceaccounts", copy, c + 1);
        } else
            ok = may_impersonate(r, z, "", "users", "", user);
        free(copy);
        if (!ok)
            return false;
    } else if (!may_impersonate(r, z, "", "users", "", user))
        return false;
    int ng = 0;
    while (k1s_http_req_header_n(h, "Impersonate-Group", ng))
        ng++;
    z->imp_groups = k1s_xcalloc((size_t)ng + 4, sizeof(char *));
    for (int i = 0; i < ng; i++) {
        const char *g = k1s_http_req_header_n(h, "Impersonate-Group", i);
        if (!may_impersonate(r, z, "", "groups", "", g))
            return false;
        z->imp_groups[i] = k1s_xstrdup(g);
    }
    if (uid && !may_impersonate(r, z, "authentication.k8s.io", "uids", "", uid))
        return false;
    /* Impersonate-Extra-<key>: the `impersonate` verb on userextras/<key>, named by the value */
    const char *hname, *hval;
    for (int i = 0; (hval = k1s_http_req_header_prefixed(h, "Impersonate-Extra-", i, &hname));
         i++) {
        char *key = k1s_xstrdup(hname + strlen("Impersonate-Extra-"));
        for (char *c = key; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        k1s_authz_attrs_t a = {.user = z->auth_user,
                               .groups = z->auth_groups,
                               .verb = "impersonate",
                               .resource_request = true,
                               .group = "authentication.k8s.io",
                               .version = "",
                               .resource = "userextras",
                               .sub = key,
                               .ns = "",
                               .name = hval,
                               .path = z->a.path};
        char reason[256];
        if (!k1s_authz_decide(r->api->authz, &a, reason, sizeof(reason))) {
            r->verb = "impersonate";
            forbidden(r, &a, reason);
            free(key);
            return false;
        }
        if (!z->imp_extra)
            z->imp_extra = json_object();
        json_t *vals = json_object_get(z->imp_extra, key);
        if (!vals)
            json_object_set_new(z->imp_extra, key, vals = json_array());
        json_array_append_new(vals, json_string(hval));
        free(key);
    }
    if (!strncmp(user, sa, strlen(sa)) && ng == 0) {
        const char *rest = user + strlen(sa);
        const char *c = strchr(rest, ':');
        z->imp_groups[ng++] = k1s_xstrdup("system:serviceaccounts");
        if (c)
            z->imp_groups[ng++] =
                k1s_xasprintf("system:serviceaccounts:%.*s", (int)(c - rest), rest);
    }
    z->imp_user = k1s_xstrdup(user);
    z->imp_uid = uid ? k1s_xstrdup(uid) : NULL;
    z->groups = with_authenticated(z->imp_groups, user);
    r->user = z->imp_user;
    r->groups = z->groups;
    z->a.user = z->imp_user;
    z->a.groups = z->groups;
    return true;
}

bool k1s_authz_admit(k1s_api_req_t *r, const json_t *obj)
{
    return k1s_node_restriction_admit(r, obj) && k1s_rbac_escalation_admit(r, obj);
}

/* ---------- the hook ---------- */

bool k1s_authz_request(k1s_api_req_t *r)
{
    k1s_apiserver_t *api = r->api;
    k1s_http_req_t *h = r->http;
    k1s_authz_req_t *z = k1s_xcalloc(1, sizeof(*z) + 2 * (strlen(h->path) + 1));
    r->authz = z;
    parse_attrs(z, h);
    z->auth_user = r->user;
    z->auth_groups = with_authenticated(r->groups, r->user);
    z->groups = z->auth_groups;
    r->groups = z->groups;
    z->a.user = r->user;
    z->a.groups = z->groups;
    if (k1s_audit_enabled(api->audit))
        k1s_audit_capture(r);
    if (!impersonate(r, z))
        return false;
    z->allowed = k1s_authz_decide(api->authz, &z->a, z->reason, sizeof(z->reason));
    if (z->allowed)
        return true;
    r->verb = z->a.verb;
    forbidden(r, &z->a, z->reason);
    return false;
}
