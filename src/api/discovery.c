/*
 * API discovery: /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>,
 * built from the resource registry, so `kubectl api-resources`, short names
 * and categories (`kubectl get all`) work. /api and /apis also answer in the
 * aggregated form (apidiscovery.k8s.io/v2) when the client asks for it, so
 * newer kubectl learns every resource in one round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"

static json_t *verbs_all(const k1s_resource_t *r)
{
    if (r->create_only)
        return json_pack("[s]", "create");
    if (r->read_only)
        return json_pack("[s,s]", "get", "list");
    return json_pack("[s,s,s,s,s,s,s,s]", "create", "delete", "deletecollection", "get", "list",
                     "patch", "update", "watch");
}

static json_t *strings(const char *const *list, size_t max)
{
    json_t *a = json_array();
    for (size_t i = 0; i < max && list[i]; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}

static json_t *sub_entry(const k1s_resource_t *r, const char *sub, const char *kind,
                         const char *group, const char *version, json_t *verbs)
{
    char name[128];
    snprintf(name, sizeof(name), "%s/%s", r->plural, sub);
    json_t *e = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name, "singularName", "",
                          "namespaced", r->namespaced, "kind", kind, "verbs", verbs);
    if (group) {
        json_object_set_new(e, "group", json_string(group));
        json_object_set_new(e, "version", json_string(version));
    }
    return e;
}

static json_t *resource_list(const char *group, const char *version)
{
    char gv[128];
    if (*group)
        snprintf(gv, sizeof(gv), "%s/%s", group, version);
    else
        snprintf(gv, sizeof(gv), "%s", version);
    json_t *list = json_array();
    size_t n;
    const k1s_resource_t *const *all = k1s_registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        const k1s_resource_t *r = all[i];
        if (strcmp(r->group, group) || strcmp(r->version, version))
            continue;
        json_t *e =
            json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", r->plural, "singularName", r->singular,
                      "namespaced", r->namespaced, "kind", r->kind, "verbs", verbs_all(r));
        if (r->short_names[0])
            json_object_set_new(e, "shortNames", strings(r->short_names, 4));
        if (r->categories[0])
            json_object_set_new(e, "categories", strings(r->categories, 2));
        json_array_append_new(list, e);
        if (r->subresources & K1S_SUB_BINDING)
            json_array_append_new(
                list, sub_entry(r, "binding", "Binding", NULL, NULL, json_pack("[s]", "create")));
        if (r->subresources & K1S_SUB_EVICTION)
            json_array_append_new(list, sub_entry(r, "eviction", "Eviction", "policy", "v1",
                                                  json_pack("[s]", "create")));
        if (r->subresources & K1S_SUB_SCALE)
            json_array_append_new(list, sub_entry(r, "scale", "Scale", "autoscaling", "v1",
                                                  json_pack("[s,s,s]", "get", "patch", "update")));
        if (r->subresources & K1S_SUB_STATUS)
            json_array_append_new(list, sub_entry(r, "status", r->kind, NULL, NULL,
                                                  json_pack("[s,s,s]", "get", "patch", "update")));
        if (r->subresources & K1S_SUB_TOKEN)
            json_array_append_new(list,
                                  sub_entry(r, "token", "TokenRequest", "authentication.k8s.io",
                                            "v1", json_pack("[s]", "create")));
        if (r->subresources & K1S_SUB_APPROVAL)
            json_array_append_new(list, sub_entry(r, "approval", r->kind, NULL, NULL,
                                                  json_pack("[s,s,s]", "get", "patch", "update")));
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", list);
}

static json_t *group_entry(const char *group)
{
    json_t *versions = json_array();
    size_t n;
    const k1s_group_version_t *gvs = k1s_registry_group_versions(&n);
    const char *preferred = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(gvs[i].group, group))
            continue;
        char gv[128];
        snprintf(gv, sizeof(gv), "%s/%s", group, gvs[i].version);
        json_array_append_new(
            versions, json_pack("{s:s, s:s}", "groupVersion", gv, "version", gvs[i].version));
        if (!preferred)
            preferred = gvs[i].version;
    }
    if (!preferred) {
        json_decref(versions);
        return NULL;
    }
    char pgv[128];
    snprintf(pgv, sizeof(pgv), "%s/%s", group, preferred);
    return json_pack("{s:s, s:o, s:{s:s, s:s}}", "name", group, "versions", versions,
                     "preferredVersion", "groupVersion", pgv, "version", preferred);
}

/* ---- aggregated discovery (apidiscovery.k8s.io/v2) ---- */

#define AGGREGATED_TYPE "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

static bool wants_aggregated(k1s_api_req_t *r)
{
    const char *accept = k1s_http_req_header(r->http, "Accept");
    return accept && strstr(accept, "g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
}

static json_t *gvk(const char *group, const char *version, const char *kind)
{
    return json_pack("{s:s, s:s, s:s}", "group", group, "version", version, "kind", kind);
}

static json_t *aggregated_sub(const char *name, json_t *kind, json_t *verbs)
{
    return json_pack("{s:s, s:o, s:o}", "subresource", name, "responseKind", kind, "verbs", verbs);
}

static json_t *aggregated_version(const char *group, const char *version)
{
    json_t *resources = json_array();
    size_t n;
    const k1s_resource_t *const *all = k1s_registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        const k1s_resource_t *r = all[i];
        if (strcmp(r->group, group) || strcmp(r->version, version))
            continue;
        json_t *e = json_pack("{s:s, s:o, s:s, s:s, s:o}", "resource", r->plural, "responseKind",
                              gvk(group, version, r->kind), "scope",
                              r->namespaced ? "Namespaced" : "Cluster", "singularResource",
                              r->singular, "verbs", verbs_all(r));
        if (r->short_names[0])
            json_object_set_new(e, "shortNames", strings(r->short_names, 4));
        if (r->categories[0])
            json_object_set_new(e, "categories", strings(r->categories, 2));
        json_t *subs = json_array();
        if (r->subresources & K1S_SUB_BINDING)
            json_array_append_new(subs, aggregated_sub("binding", gvk("", "v1", "Binding"),
                                                       json_pack("[s]", "create")));
        if (r->subresources & K1S_SUB_EVICTION)
            json_array_append_new(subs, aggregated_sub("eviction", gvk("policy", "v1", "Eviction"),
                                                       json_pack("[s]", "create")));
        if (r->subresources & K1S_SUB_SCALE)
            json_array_append_new(subs,
                                  aggregated_sub("scale", gvk("autoscaling", "v1", "Scale"),
                                                 json_pack("[s,s,s]", "get", "patch", "update")));
        if (r->subresources & K1S_SUB_STATUS)
            json_array_append_new(subs,
                                  aggregated_sub("status", gvk(group, version, r->kind),
                                                 json_pack("[s,s,s]", "get", "patch", "update")));
        if (r->subresources & K1S_SUB_TOKEN)
            json_array_append_new(
                subs, aggregated_sub("token", gvk("authentication.k8s.io", "v1", "TokenRequest"),
                                     json_pack("[s]", "create")));
        if (r->subresources & K1S_SUB_APPROVAL)
            json_array_append_new(subs,
                                  aggregated_sub("approval", gvk(group, version, r->kind),
                                                 json_pack("[s,s,s]", "get", "patch", "update")));
        if (json_array_size(subs) > 0)
            json_object_set_new(e, "subresources", subs);
        else
            json_decref(subs);
        json_array_append_new(resources, e);
    }
    return json_pack("{s:s, s:o, s:s}", "version", version, "resources", resources, "freshness",
                     "Current");
}

/* The APIGroupDiscoveryList for /api (core=true) or /apis. */
static json_t *aggregated(bool core)
{
    json_t *items = json_array();
    size_t n;
    const k1s_group_version_t *gvs = k1s_registry_group_versions(&n);
    for (size_t i = 0; i < n; i++) {
        if (core != !gvs[i].group[0])
            continue;
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(gvs[j].group, gvs[i].group))
                seen = true;
        if (seen)
            continue;
        /* versions of this group, preferred first (registry order) */
        json_t *versions = json_array();
        for (size_t j = i; j < n; j++)
            if (!strcmp(gvs[j].group, gvs[i].group))
                json_array_append_new(versions, aggregated_version(gvs[j].group, gvs[j].version));
        json_array_append_new(items, json_pack("{s:{s:s}, s:o}", "metadata", "name", gvs[i].group,
                                               "versions", versions));
    }
    return json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
                     "apidiscovery.k8s.io/v2", "metadata", "items", items);
}

static void send_aggregated(k1s_api_req_t *r, bool core)
{
    json_t *doc = aggregated(core);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    k1s_http_respond(r->http, 200, AGGREGATED_TYPE, s, strlen(s));
    free(s);
    k1s_api_req_done(r, 200);
}

bool k1s_discovery_handle(k1s_api_req_t *r, const char *path)
{
    bool core_root = !strcmp(path, "/api") || !strcmp(path, "/api/");
    bool groups_root = !strcmp(path, "/apis") || !strcmp(path, "/apis/");
    if ((core_root || groups_root) && wants_aggregated(r)) {
        send_aggregated(r, core_root);
        return true;
    }
    if (!strcmp(path, "/api") || !strcmp(path, "/api/")) {
        char addr[128];
        snprintf(addr, sizeof(addr), "%s:%d", r->api->advertise_address, r->api->advertise_port);
        k1s_api_send_json(r, 200,
                          json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions",
                                    "versions", "v1", "serverAddressByClientCIDRs", "clientCIDR",
                                    "0.0.0.0/0", "serverAddress", addr));
        return true;
    }
    if (!strcmp(path, "/api/v1") || !strcmp(path, "/api/v1/")) {
        k1s_api_send_json(r, 200, resource_list("", "v1"));
        return true;
    }
    if (!strcmp(path, "/apis") || !strcmp(path, "/apis/")) {
        json_t *groups = json_array();
        size_t n;
        const k1s_group_version_t *gvs = k1s_registry_group_versions(&n);
        for (size_t i = 0; i < n; i++) {
            if (!gvs[i].group[0])
                continue;
            bool seen = false;
            for (size_t j = 0; j < i; j++)
                if (!strcmp(gvs[j].group, gvs[i].group))
                    seen = true;
            if (!seen)
                json_array_append_new(groups, group_entry(gvs[i].group));
        }
        k1s_api_send_json(r, 200,
                          json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1",
                                    "groups", groups));
        return true;
    }
    if (!strncmp(path, "/apis/", 6)) {
        char group[128], version[64];
        const char *p = path + 6;
        const char *slash = strchr(p, '/');
        if (!slash) {
            snprintf(group, sizeof(group), "%s", p);
            json_t *g = group_entry(group);
            if (!g)
                return false;
            json_object_set_new(g, "kind", json_string("APIGroup"));
            json_object_set_new(g, "apiVersion", json_string("v1"));
            k1s_api_send_json(r, 200, g);
            return true;
        }
        snprintf(group, sizeof(group), "%.*s", (int)(slash - p), p);
        snprintf(version, sizeof(version), "%s", slash + 1);
        size_t vl = strlen(version);
        if (vl && version[vl - 1] == '/')
            version[vl - 1] = 0;
        if (strchr(version, '/'))
            return false;
        size_t n;
        const k1s_group_version_t *gvs = k1s_registry_group_versions(&n);
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(gvs[i].group, group) && !strcmp(gvs[i].version, version)) {
                k1s_api_send_json(r, 200, resource_list(group, version));
                return true;
            }
        }
        return false;
    }
    return false;
}
