/*
 * RBAC's privilege-escalation prevention, as kube-apiserver's rbac
 * registries enforce it: a Role or ClusterRole may only be written with
 * rules its author holds already (or with the `escalate` verb on it), and a
 * RoleBinding or ClusterRoleBinding may only bind a role whose rules its
 * author holds (or with the `bind` verb on that role). Members of
 * system:masters may do anything. A refusal is the 403 Kubernetes gives:
 * `... is attempting to grant RBAC permissions not currently held:` and
 * the missing permissions, one per line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/authz.h"
#include "lib/buf.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"

/* Go's %q of a []string: ["a" "b"] (the names here need no escaping). */
static void quoted_list(k1s_buf_t *b, const char *const *v, size_t n)
{
    k1s_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++)
        k1s_buf_printf(b, "%s\"%s\"", i ? " " : "", v[i]);
    k1s_buf_puts(b, "]");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Owner rules cover one atom (a single verb on a single group/resource/name, or URL)? */
static bool covered(const k1s_rbac_rule_t *owner, size_t n, const k1s_authz_attrs_t *atom)
{
    for (size_t i = 0; i < n; i++)
        if (k1s_rbac_rule_allows(&owner[i], atom))
            return true;
    return false;
}

static const char *str_at(const json_t *arr, size_t i)
{
    const char *s = json_string_value(json_array_get(arr, i));
    return s ? s : "";
}

/*
 * Appends to missing (one CompactString per line) every atom of rules the
 * owner rules do not cover.
 */
static void add_missing(json_t *missing, k1s_buf_t *b)
{
    json_array_append_new(missing, json_string(b->data));
    k1s_buf_free(b);
}

static void find_missing(const k1s_rbac_rule_t *owner, size_t n, const json_t *rules, json_t *out)
{
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        json_t *verbs = json_object_get(rule, "verbs");
        json_t *urls = json_object_get(rule, "nonResourceURLs");
        json_t *groups = json_object_get(rule, "apiGroups");
        json_t *res = json_object_get(rule, "resources");
        json_t *names = json_object_get(rule, "resourceNames");
        for (size_t v = 0; v < json_array_size(verbs); v++) {
            const char *verb = str_at(verbs, v);
            for (size_t u = 0; u < json_array_size(urls); u++) {
                k1s_authz_attrs_t a = {.verb = verb,
                                       .path = str_at(urls, u),
                                       .group = "",
                                       .version = "",
                                       .resource = "",
                                       .sub = "",
                                       .ns = "",
                                       .name = ""};
                if (covered(owner, n, &a))
                    continue;
                const char *url = a.path;
                k1s_buf_t m = K1S_BUF_INIT;
                k1s_buf_puts(&m, "{NonResourceURLs:");
                quoted_list(&m, &url, 1);
                k1s_buf_puts(&m, ", Verbs:");
                quoted_list(&m, &verb, 1);
                k1s_buf_puts(&m, "}");
                add_missing(out, &m);
            }
            for (size_t g = 0; g < json_array_size(groups); g++)
                for (size_t r = 0; r < json_array_size(res); r++) {
                    size_t nn = json_array_size(names);
                    for (size_t k = 0; k < (nn ? nn : 1); k++) {
                        const char *group = str_at(groups, g), *resource = str_at(res, r);
                        const char *name = nn ? str_at(names, k) : "";
                        char base[256];
                        const char *slash = strchr(resource, '/');
                        snprintf(base, sizeof(base), "%.*s",
                                 (int)(slash ? (size_t)(slash - resource) : strlen(resource)),
                                 resource);
                        k1s_authz_attrs_t a = {.verb = verb,
                                               .resource_request = true,
                                               .group = group,
                                               .version = "",
                                               .resource = base,
                                               .sub = slash ? slash + 1 : "",
                                               .ns = "",
                                               .name = name,
                                               .path = ""};
                        if (covered(owner, n, &a))
                            continue;
                        k1s_buf_t m = K1S_BUF_INIT;
                        k1s_buf_puts(&m, "{APIGroups:");
                        quoted_list(&m, &group, 1);
                        k1s_buf_puts(&m, ", Resources:");
                        quoted_list(&m, &resource, 1);
                        if (nn) {
                            k1s_buf_puts(&m, ", ResourceNames:");
                            quoted_list(&m, &name, 1);
                        }
                        k1s_buf_puts(&m, ", Verbs:");
                        quoted_list(&m, &verb, 1);
                        k1s_buf_puts(&m, "}");
                        add_missing(out, &m);
                    }
                }
        }
    }
}

/* Does r's user hold every rule of rules (in ns, "" = cluster-wide)? Answers 403 if not. */
static bool confirm_no_escalation(k1s_api_req_t *r, const json_t *rules, const char *ns,
                                  const char *name)
{
    json_t *own = json_array(), *own_urls = json_array();
    k1s_rbac_rules_for(k1s_authz_rbac(r->api->authz), r->user, r->groups, ns, own, own_urls);
    json_array_extend(own, own_urls);
    json_decref(own_urls);
    size_t n = json_array_size(own);
    k1s_rbac_rule_t *owner = k1s_xcalloc(n + 1, sizeof(k1s_rbac_rule_t));
    for (size_t i = 0; i < n; i++)
        k1s_rbac_rule_compile(&owner[i], json_array_get(own, i));
    json_t *missing = json_array();
    find_missing(owner, n, rules, missing);
    for (size_t i = 0; i < n; i++)
        k1s_rbac_rule_clear(&owner[i]);
    free(owner);
    json_decref(own);
    size_t nm = json_array_size(missing);
    if (!nm) {
        json_decref(missing);
        return true;
    }
    /* sorted and unique, as Kubernetes lists them */
    const char **lines = k1s_xcalloc(nm, sizeof(char *));
    for (size_t i = 0; i < nm; i++)
        lines[i] = json_string_value(json_array_get(missing, i));
    qsort(lines, nm, sizeof(char *), cmp_str);
    k1s_buf_t why = K1S_BUF_INIT;
    k1s_buf_printf(&why, "user \"%s\" (groups=", r->user);
    size_t ng = 0;
    while (r->groups && r->groups[ng])
        ng++;
    quoted_list(&why, (const char *const *)r->groups, ng);
    k1s_buf_puts(&why, ") is attempting to grant RBAC permissions not currently held:");
    for (size_t i = 0; i < nm; i++)
        if (!i || strcmp(lines[i], lines[i - 1]))
            k1s_buf_printf(&why, "\n%s", lines[i]);
    free(lines);
    k1s_authz_fail(r, r->res->plural, RBAC_GROUP, name, why.data);
    k1s_buf_free(&why);
    json_decref(missing);
    return false;
}

/* May the user do verb (escalate, bind) on the role res/name in ns? */
static bool may(k1s_api_req_t *r, const char *verb, const char *res, const char *ns,
                const char *name)
{
    k1s_authz_attrs_t a = {.user = r->user,
                           .groups = r->groups,
                           .verb = verb,
                           .resource_request = true,
                           .group = RBAC_GROUP,
                           .version = "v1",
                           .resource = res,
                           .sub = "",
                           .ns = ns,
                           .name = name,
                           .path = ""};
    return k1s_authz_decide(r->api->authz, &a, NULL, 0);
}

bool k1s_rbac_escalation_admit(k1s_api_req_t *r, const json_t *obj)
{
    if (!r->authz || !r->res || strcmp(r->res->group, RBAC_GROUP) || r->sub)
        return true;
    for (size_t i = 0; r->groups && r->groups[i]; i++)
        if (!strcmp(r->groups[i], "system:masters"))
            return true;
    const char *p = r->res->plural;
    const char *ns = r->res->namespaced && r->ns ? r->ns : "";
    const char *name = k1s_obj_str(obj, "metadata.name");
    if (!name)
        name = r->name ? r->name : "";
    if (!strcmp(p, "roles") || !strcmp(p, "clusterroles")) {
        if (may(r, "escalate", p, ns, name))
            return true;
        return confirm_no_escalation(r, json_object_get(obj, "rules"), ns, name);
    }
    if (!strcmp(p, "rolebindings") || !strcmp(p, "clusterrolebindings")) {
        const char *kind = k1s_obj_str(obj, "roleRef.kind");
        const char *role = k1s_obj_str(obj, "roleRef.name");
        if (!kind || !role)
            return true; /* validation reports it */
        bool cluster = !strcmp(kind, "ClusterRole");
        const char *rres = cluster ? "clusterroles" : "roles";
        if (may(r, "bind", rres, cluster ? ns : ns, role))
            return true;
        json_t *rules =
            k1s_rbac_role_rules(k1s_authz_rbac(r->api->authz), cluster ? NULL : ns, role);
        if (!rules) {
            k1s_api_fail(r, 404, "NotFound", "%s.%s \"%s\" not found", rres, RBAC_GROUP, role);
            return false;
        }
        bool ok = confirm_no_escalation(r, rules, ns, name);
        json_decref(rules);
        return ok;
    }
    return true;
}
