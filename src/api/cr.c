/*
 * Custom objects: what the REST handlers, Table output and the OpenAPI
 * documents need for the resources CRDs define (see crd.h). Validation,
 * defaulting and pruning go to schema.c with the version's
 * openAPIV3Schema; the scale subresource reads and writes the CRD's
 * replicas paths; Table rows follow apiextensions-apiserver's
 * tableconvertor; the OpenAPI v3 document of a custom group/version is built
 * from the CRD schemas plus the built-in ObjectMeta family.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "api/apiserver-int.h"
#include "api/crd.h"
#include "api/openapi.h"
#include "api/schema.h"
#include "api/table.h"
#include "api/validate-int.h"
#include "api/version.h"

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."
#define OBJECT_META META "ObjectMeta"

/* ---------- validation, defaults, pruning ---------- */

int k1s_cr_validate(const k1s_resource_t *r, const json_t *obj, const json_t *old, json_t *causes)
{
    vctx_t v = {causes, 0, K1S_BUF_INIT};
    k1s_buf_reserve(&v.path, 256);
    v.path.data[0] = 0;
    if (old)
        k1s_v_meta_update(&v, r, obj, old);
    else
        k1s_v_meta_create(&v, r, obj);
    k1s_buf_free(&v.path);
    int n = v.n;
    if (r->crd->schema)
        n += k1s_schema_validate(r->crd->schema, obj, "", causes);
    return n;
}

void k1s_cr_default(const k1s_resource_t *r, json_t *obj)
{
    if (r->crd->schema)
        k1s_schema_default(r->crd->schema, obj, true);
}

int k1s_cr_prune(const k1s_resource_t *r, json_t *obj, json_t *unknown)
{
    int n = 0;
    if (r->crd->schema)
        n += k1s_schema_prune(r->crd->schema, obj, true, unknown);
    json_t *meta = json_object_get(obj, "metadata");
    if (json_is_object(meta)) {
        json_t *mu = json_array();
        k1s_openapi_check_fields(OBJECT_META, meta, mu);
        size_t i;
        json_t *u;
        json_array_foreach(mu, i, u)
        {
            if (unknown) {
                char *p = k1s_xasprintf("metadata.%s", json_string_value(u));
                json_array_append_new(unknown, json_string(p));
                free(p);
            }
            n++;
        }
        if (json_array_size(mu) > 0)
            k1s_openapi_prune(OBJECT_META, meta);
        json_decref(mu);
    }
    return n;
}

/* ---------- JSONPath subset ---------- */

static const json_t *filter_match(const json_t *arr, const char *expr, size_t len)
{
    /* ?(@.field=="value") or ?(@.field==value) */
    char buf[256];
    if (len >= sizeof(buf))
        return NULL;
    memcpy(buf, expr, len);
    buf[len] = 0;
    char *p = buf;
    if (strncmp(p, "?(@.", 4))
        return NULL;
    p += 4;
    char *eq = strstr(p, "==");
    char *close = strrchr(p, ')');
    if (!eq || !close || close < eq)
        return NULL;
    *eq = 0;
    *close = 0;
    const char *field = p;
    char *want = eq + 2;
    size_t wl = strlen(want);
    if (wl >= 2 && (want[0] == '"' || want[0] == '\'') && want[wl - 1] == want[0]) {
        want[wl - 1] = 0;
        want++;
    }
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it)
    {
        const json_t *fv = k1s_cr_jsonpath(it, field);
        char num[64];
        const char *s = json_string_value(fv);
        if (!s && json_is_integer(fv)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(fv));
            s = num;
        } else if (!s && json_is_boolean(fv)) {
            s = json_is_true(fv) ? "true" : "false";
        }
        if (s && !strcmp(s, want))
            return it;
    }
    return NULL;
}

const json_t *k1s_cr_jsonpath(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    const char *p = path;
    if (*p == '{') /* "{.spec.x}" */
        p++;
    while (cur && *p && *p != '}') {
        if (*p == '.') {
            p++;
            continue;
        }
        if (*p == '[') {
            const char *end = strchr(p, ']');
            if (!end)
                return NULL;
            /* a filter may contain ']' only inside quotes; the subset used has none */
            if (p[1] == '?') {
                cur = json_is_array(cur) ? filter_match(cur, p + 1, (size_t)(end - p - 1)) : NULL;
            } else if (p[1] == '\'' || p[1] == '"') {
                char key[256];
                size_t n = (size_t)(end - p - 3);
                if (end - p < 3 || n >= sizeof(key))
                    return NULL;
                memcpy(key, p + 2, n);
                key[n] = 0;
                cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
            } else {
                long idx = strtol(p + 1, NULL, 10);
                if (!json_is_array(cur))
                    return NULL;
                if (idx < 0)
                    idx += (long)json_array_size(cur);
                cur = idx >= 0 ? json_array_get(cur, (size_t)idx) : NULL;
            }
            p = end + 1;
            continue;
        }
        size_t n = strcspn(p, ".[}");
        cur = json_is_object(cur) ? json_object_getn(cur, p, n) : NULL;
        p += n;
    }
    return cur;
}

/* ---------- scale ---------- */

json_t *k1s_cr_scale_of(const k1s_resource_t *r, const json_t *obj)
{
    const k1s_crd_info_t *c = r->crd;
    json_t *sm = k1s_obj_scale_meta(obj);
    const json_t *want = c->spec_replicas_path ? k1s_cr_jsonpath(obj, c->spec_replicas_path) : NULL;
    const json_t *have =
        c->status_replicas_path ? k1s_cr_jsonpath(obj, c->status_replicas_path) : NULL;
    json_t *scale = json_pack("{s:s, s:s, s:o, s:{s:I}, s:{s:I}}", "kind", "Scale", "apiVersion",
                              "autoscaling/v1", "metadata", sm, "spec", "replicas",
                              (json_int_t)json_number_value(want), "status", "replicas",
                              (json_int_t)json_number_value(have));
    const json_t *sel =
        c->label_selector_path ? k1s_cr_jsonpath(obj, c->label_selector_path) : NULL;
    if (json_is_string(sel))
        json_object_set(json_object_get(scale, "status"), "selector", (json_t *)sel);
    return scale;
}

void k1s_cr_scale_set(const k1s_resource_t *r, json_t *obj, json_int_t replicas)
{
    const char *path = r->crd->spec_replicas_path;
    if (!path)
        return;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path[0] == '.' ? path + 1 : path);
    json_t *cur = obj;
    char *save = NULL;
    char *part = strtok_r(buf, ".", &save);
    while (part) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            json_object_set_new(cur, part, json_integer(replicas));
            return;
        }
        json_t *child = json_object_get(cur, part);
        if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(cur, part, child);
        }
        cur = child;
        part = next;
    }
}

/* ---------- Table ---------- */

/* The CRD's columns, or Kubernetes' default (Age) when it has none. New reference. */
static json_t *columns_of(const k1s_resource_t *r)
{
    if (json_array_size(r->crd->columns) > 0)
        return json_incref(r->crd->columns);
    return json_pack("[{s:s, s:s, s:s, s:s}]", "name", "Age", "type", "date", "jsonPath",
                     ".metadata.creationTimestamp", "description", k1s_table_desc_created);
}

json_t *k1s_cr_table_columns(const k1s_resource_t *r)
{
    json_t *out = json_array();
    json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", "Name", "type",
                                         "string", "format", "name", "description",
                                         k1s_table_desc_name, "priority", 0));
    json_t *cols = columns_of(r);
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        const char *jp = jstr0(c, "jsonPath");
        char *desc =
            jstr(c, "description") && *jstr(c, "description")
                ? k1s_xstrdup(jstr(c, "description"))
                : k1s_xasprintf("Custom resource definition column (in JSONPath format): %s", jp);
        long long prio = 0;
        jint(c, "priority", &prio);
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", jstr0(c, "name"),
                                             "type", jstr0(c, "type"), "format", jstr0(c, "format"),
                                             "description", desc, "priority", (int)prio));
        free(desc);
    }
    json_decref(cols);
    return out;
}

static json_t *cell_for(const char *type, const json_t *v, time_t now)
{
    if (!v || json_is_null(v))
        return json_null();
    if (!strcmp(type, "string")) {
        if (json_is_string(v))
            return json_incref((json_t *)v);
        /* the JSONPath printer's text of other values */
        if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v) || json_is_array(v) ||
            json_is_object(v)) {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            json_t *out = json_string(s ? s : "");
            free(s);
            return out;
        }
        return json_null();
    }
    if (!strcmp(type, "integer") && json_is_number(v))
        return json_integer((json_int_t)json_number_value(v));
    if (!strcmp(type, "number") && json_is_number(v))
        return json_real(json_number_value(v));
    if (!strcmp(type, "boolean") && json_is_boolean(v))
        return json_incref((json_t *)v);
    if (!strcmp(type, "date") && json_is_string(v)) {
        struct tm tm = {0};
        const char *end = strptime(json_string_value(v), "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end)
            return json_string("<invalid>");
        char buf[32];
        k1s_table_age(buf, sizeof(buf), difftime(now, timegm(&tm)));
        return json_string(buf);
    }
    return json_null();
}

json_t *k1s_cr_table_cells(const k1s_resource_t *r, const json_t *obj, time_t now)
{
    json_t *cells = json_array();
    json_array_append_new(
        cells,
        json_string(k1s_obj_str(obj, "metadata.name") ? k1s_obj_str(obj, "metadata.name") : ""));
    json_t *cols = columns_of(r);
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        const json_t *v = k1s_cr_jsonpath(obj, jstr0(c, "jsonPath"));
        json_array_append_new(cells, cell_for(jstr0(c, "type"), v, now));
    }
    json_decref(cols);
    return cells;
}

/* ---------- OpenAPI v3 ---------- */

typedef struct cr_doc {
    struct cr_doc *next;
    char *path;
    char *sig;
    char hash[65];
    k1s_bytes_t *doc;
} cr_doc_t;

static cr_doc_t *docs;

/* "apis/<group>/<version>" of a group/version that only custom resources serve. */
static bool parse_gv(const char *p, char *group, size_t gl, char *version, size_t vl)
{
    while (*p == '/')
        p++;
    if (strncmp(p, "apis/", 5))
        return false;
    p += 5;
    size_t n = strcspn(p, "?#");
    const char *slash = memchr(p, '/', n);
    if (!slash)
        return false;
    size_t g = (size_t)(slash - p), v = n - g - 1;
    while (v && slash[v] == '/')
        v--;
    if (g == 0 || g >= gl || v == 0 || v >= vl || memchr(slash + 1, '/', v))
        return false;
    memcpy(group, p, g);
    group[g] = 0;
    memcpy(version, slash + 1, v);
    version[v] = 0;
    size_t nr;
    const k1s_resource_t *const *rs = k1s_registry_all(&nr);
    bool any = false;
    for (size_t i = 0; i < nr; i++) {
        if (strcmp(rs[i]->group, group) || strcmp(rs[i]->version, version))
            continue;
        if (!rs[i]->crd)
            return false;
        any = true;
    }
    return any;
}

static json_t *ref(const char *name)
{
    char *r = k1s_xasprintf("#/components/schemas/%s", name);
    json_t *o = json_pack("{s:s}", "$ref", r);
    free(r);
    return o;
}

static json_t *content_of(const char *name)
{
    json_t *c = json_object();
    static const char *const types[] = {"application/json", "application/yaml"};
    for (size_t i = 0; i < 2; i++)
        json_object_set_new(c, types[i], json_pack("{s:o}", "schema", ref(name)));
    return c;
}

static json_t *qparam(const char *name, const char *desc)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s}, s:b}", "name", name, "in", "query", "description",
                     desc, "schema", "type", "string", "uniqueItems", 1);
}

static json_t *op(const k1s_resource_t *r, const char *action, const char *id, const char *resp,
                  const char *body, bool write)
{
    json_t *o = json_pack("{s:s, s:[s], s:s, s:{}}", "operationId", id, "tags", r->group,
                          "x-kubernetes-action", action, "responses");
    json_object_set_new(json_object_get(o, "responses"), "200",
                        json_pack("{s:s, s:o}", "description", "OK", "content", content_of(resp)));
    json_object_set_new(json_object_get(o, "responses"), "401",
                        json_pack("{s:s}", "description", "Unauthorized"));
    json_object_set_new(
        o, "x-kubernetes-group-version-kind",
        json_pack("{s:s, s:s, s:s}", "group", r->group, "version", r->version, "kind", r->kind));
    json_t *params = json_array();
    if (write) {
        json_array_append_new(params, qparam("dryRun", "When present, indicates that "
                                                       "modifications should not be persisted."));
        json_array_append_new(params,
                              qparam("fieldManager", "fieldManager is a name associated with the "
                                                     "actor or entity that is making these "
                                                     "changes."));
        json_array_append_new(params,
                              qparam("fieldValidation",
                                     "fieldValidation instructs the server on how to handle "
                                     "objects in the request containing unknown or duplicate "
                                     "fields. Valid values are: Ignore, Warn (default), Strict."));
    }
    if (!strcmp(action, "patch")) {
        json_array_append_new(params, qparam("force", "Force is going to \"force\" Apply "
                                                      "requests."));
        json_t *rb = json_object();
        static const char *const pts[] = {"application/json-patch+json",
                                          "application/merge-patch+json",
                                          "application/apply-patch+yaml"};
        for (size_t i = 0; i < 3; i++)
            json_object_set_new(rb, pts[i], json_pack("{s:o}", "schema", ref(META "Patch")));
        json_object_set_new(o, "requestBody",
                            json_pack("{s:o, s:b}", "content", rb, "required", 1));
    } else if (body) {
        json_object_set_new(o, "requestBody",
                            json_pack("{s:o, s:b}", "content", content_of(body), "required", 1));
    }
    json_object_set_new(o, "parameters", params);
    return o;
}

static json_t *path_param(const char *name, const char *desc)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:b}}", "name", name, "in", "path",
                     "description", desc, "required", 1, "schema", "type", "string", "uniqueItems",
                     1);
}

static void add_paths(json_t *paths, const k1s_resource_t *r)
{
    const char *s = r->crd->openapi_name, *k = r->kind;
    char *list = k1s_xasprintf("%sList", s);
    char *base = r->namespaced ? k1s_xasprintf("/apis/%s/%s/namespaces/{namespace}/%s", r->group,
                                               r->version, r->plural)
                               : k1s_xasprintf("/apis/%s/%s/%s", r->group, r->version, r->plural);
    const char *ns = r->namespaced ? "Namespaced" : "";
    char id[256];
    json_t *coll = json_object();
    snprintf(id, sizeof(id), "list%s%s", ns, k);
    json_object_set_new(coll, "get", op(r, "list", id, list, NULL, false));
    snprintf(id, sizeof(id), "create%s%s", ns, k);
    json_object_set_new(coll, "post", op(r, "post", id, s, s, true));
    snprintf(id, sizeof(id), "deletecollection%s%s", ns, k);
    json_object_set_new(coll, "delete", op(r, "deletecollection", id, META "Status", NULL, false));
    json_t *cparams = json_array();
    if (r->namespaced)
        json_array_append_new(cparams, path_param("namespace", "object name and auth scope, such "
                                                               "as for teams and projects"));
    json_object_set_new(coll, "parameters", json_deep_copy(cparams));
    json_object_set_new(paths, base, coll);
    char *item_url = k1s_xasprintf("%s/{name}", base);
    json_t *item = json_object();
    snprintf(id, sizeof(id), "read%s%s", ns, k);
    json_object_set_new(item, "get", op(r, "get", id, s, NULL, false));
    snprintf(id, sizeof(id), "replace%s%s", ns, k);
    json_object_set_new(item, "put", op(r, "put", id, s, s, true));
    snprintf(id, sizeof(id), "patch%s%s", ns, k);
    json_object_set_new(item, "patch", op(r, "patch", id, s, NULL, true));
    snprintf(id, sizeof(id), "delete%s%s", ns, k);
    json_object_set_new(item, "delete", op(r, "delete", id, META "Status", NULL, false));
    json_t *iparams = json_deep_copy(cparams);
    json_array_insert_new(iparams, 0, path_param("name", "name of the resource"));
    json_object_set_new(item, "parameters", iparams);
    json_object_set_new(paths, item_url, item);
    static const char *const subs[] = {"status", "scale"};
    for (size_t i = 0; i < 2; i++) {
        if (!(r->subresources & (i == 0 ? K1S_SUB_STATUS : K1S_SUB_SCALE)))
            continue;
        const char *sch = i == 0 ? s : "io.k8s.api.autoscaling.v1.Scale";
        char *url = k1s_xasprintf("%s/%s", item_url, subs[i]);
        char cap[16];
        snprintf(cap, sizeof(cap), "%s", i == 0 ? "Status" : "Scale");
        json_t *sp = json_object();
        snprintf(id, sizeof(id), "read%s%s%s", ns, k, cap);
        json_object_set_new(sp, "get", op(r, "get", id, sch, NULL, false));
        snprintf(id, sizeof(id), "replace%s%s%s", ns, k, cap);
        json_object_set_new(sp, "put", op(r, "put", id, sch, sch, true));
        snprintf(id, sizeof(id), "patch%s%s%s", ns, k, cap);
        json_object_set_new(sp, "patch", op(r, "patch", id, sch, NULL, true));
        json_object_set_new(sp, "parameters", json_deep_copy(json_object_get(item, "parameters")));
        json_object_set_new(paths, url, sp);
        free(url);
    }
    if (r->namespaced) {
        char *all = k1s_xasprintf("/apis/%s/%s/%s", r->group, r->version, r->plural);
        json_t *ap = json_object();
        snprintf(id, sizeof(id), "list%sForAllNamespaces", k);
        json_object_set_new(ap, "get", op(r, "list", id, list, NULL, false));
        json_object_set_new(paths, all, ap);
        free(all);
    }
    json_decref(cparams);
    free(item_url);
    free(base);
    free(list);
}

/* Adds name and every schema it references (from the built-in schemas) to schemas. */
static void add_builtin(json_t *schemas, const char *name);

static void add_refs(json_t *schemas, const json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            if (!strcmp(k, "$ref") && json_is_string(c)) {
                const char *r = json_string_value(c);
                const char *slash = strrchr(r, '/');
                if (slash)
                    add_builtin(schemas, slash + 1);
            } else {
                add_refs(schemas, c);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            add_refs(schemas, c);
        }
    }
}

static void add_builtin(json_t *schemas, const char *name)
{
    if (json_object_get(schemas, name))
        return;
    const json_t *s = k1s_openapi_schema(name);
    if (!s)
        return;
    json_object_set_new(schemas, name, json_deep_copy(s));
    add_refs(schemas, s);
}

/* The component schema of a custom resource: its openAPIV3Schema with the type meta fields and
 * metadata as ObjectMeta, and the group/version/kind. New reference. */
static json_t *cr_schema(const k1s_resource_t *r, bool v2)
{
    json_t *s =
        r->crd->schema ? json_deep_copy(r->crd->schema) : json_pack("{s:s}", "type", "object");
    json_t *props = json_object_get(s, "properties");
    if (!json_is_object(props)) {
        props = json_object();
        json_object_set_new(s, "properties", props);
    }
    json_object_set_new(props, "apiVersion",
                        json_pack("{s:s, s:s}", "type", "string", "description",
                                  "APIVersion defines the versioned schema of this representation "
                                  "of an object."));
    json_object_set_new(props, "kind",
                        json_pack("{s:s, s:s}", "type", "string", "description",
                                  "Kind is a string value representing the REST "
                                  "resource this object represents."));
    char *mref =
        k1s_xasprintf("%s%s", v2 ? "#/definitions/" : "#/components/schemas/", OBJECT_META);
    json_object_set_new(
        props, "metadata",
        v2 ? json_pack("{s:s, s:s}", "$ref", mref, "description", "Standard object's metadata.")
           : json_pack("{s:[{s:s}], s:s}", "allOf", "$ref", mref, "description",
                       "Standard object's metadata."));
    free(mref);
    json_object_set_new(
        s, "x-kubernetes-group-version-kind",
        json_pack("[{s:s, s:s, s:s}]", "group", r->group, "kind", r->kind, "version", r->version));
    return s;
}

static json_t *cr_list_schema(const k1s_resource_t *r, bool v2)
{
    const char *pre = v2 ? "#/definitions/" : "#/components/schemas/";
    char *item = k1s_xasprintf("%s%s", pre, r->crd->openapi_name);
    char *lm = k1s_xasprintf("%s%sListMeta", pre, META);
    char *lk = k1s_xasprintf("%sList", r->kind);
    json_t *s = json_pack(
        "{s:s, s:[s], s:{s:{s:s}, s:{s:s, s:{s:s}}, s:{s:s}, s:{s:s}}, s:[{s:s, s:s, s:s}]}",
        "type", "object", "required", "items", "properties", "apiVersion", "type", "string",
        "items", "type", "array", "items", "$ref", item, "kind", "type", "string", "metadata",
        "$ref", lm, "x-kubernetes-group-version-kind", "group", r->group, "kind", lk, "version",
        r->version);
    free(item);
    free(lm);
    free(lk);
    return s;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02X", md[i]);
}

/* What the document depends on: the CRDs' resourceVersions and the registry. */
static char *doc_sig(const char *group, const char *version)
{
    k1s_buf_t b = K1S_BUF_INIT;
    size_t nr;
    const k1s_resource_t *const *rs = k1s_registry_all(&nr);
    for (size_t i = 0; i < nr; i++)
        if (!strcmp(rs[i]->group, group) && !strcmp(rs[i]->version, version) && rs[i]->crd)
            k1s_buf_printf(&b, "%s/%s/%s;", rs[i]->crd->crd_name,
                           rs[i]->crd->rv ? rs[i]->crd->rv : "", rs[i]->plural);
    return b.data ? k1s_buf_steal(&b) : k1s_xstrdup("");
}

static cr_doc_t *get_doc(const char *gv_path)
{
    char group[256], version[64];
    if (!parse_gv(gv_path, group, sizeof(group), version, sizeof(version)))
        return NULL;
    char *path = k1s_xasprintf("apis/%s/%s", group, version);
    char *sig = doc_sig(group, version);
    cr_doc_t *d;
    for (d = docs; d; d = d->next)
        if (!strcmp(d->path, path))
            break;
    if (d && !strcmp(d->sig, sig)) {
        free(path);
        free(sig);
        return d;
    }
    if (!d) {
        d = k1s_xcalloc(1, sizeof(*d));
        d->path = path;
        d->next = docs;
        docs = d;
    } else {
        free(path);
        k1s_bytes_unref(d->doc);
        free(d->sig);
    }
    d->sig = sig;
    json_t *paths = json_object(), *schemas = json_object();
    size_t nr;
    const k1s_resource_t *const *rs = k1s_registry_all(&nr);
    for (size_t i = 0; i < nr; i++) {
        if (strcmp(rs[i]->group, group) || strcmp(rs[i]->version, version) || !rs[i]->crd)
            continue;
        add_paths(paths, rs[i]);
        json_object_set_new(schemas, rs[i]->crd->openapi_name, cr_schema(rs[i], false));
        char *ln = k1s_xasprintf("%sList", rs[i]->crd->openapi_name);
        json_object_set_new(schemas, ln, cr_list_schema(rs[i], false));
        free(ln);
        if (rs[i]->subresources & K1S_SUB_SCALE)
            add_builtin(schemas, "io.k8s.api.autoscaling.v1.Scale");
    }
    static const char *const meta[] = {OBJECT_META, META "ListMeta", META "Status",
                                       META "DeleteOptions", META "Patch"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(meta); i++)
        add_builtin(schemas, meta[i]);
    json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info",
                            "title", "Kubernetes CRD Swagger", "version", "v0.1.0", "paths", paths,
                            "components", "schemas", schemas);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    d->doc = k1s_bytes_new(text, strlen(text));
    sha256_hex(text, strlen(text), d->hash);
    free(text);
    return d;
}

int k1s_cr_openapi_v3_doc(const char *gv_path, k1s_bytes_t **out, const char **etag)
{
    cr_doc_t *d = get_doc(gv_path);
    if (!d)
        return -ENOENT;
    *out = k1s_bytes_ref(d->doc);
    if (etag)
        *etag = d->hash;
    return 0;
}

bool k1s_cr_openapi_v3_hash(const char *gv_path, char out[65])
{
    cr_doc_t *d = get_doc(gv_path);
    if (!d)
        return false;
    memcpy(out, d->hash, 65);
    return true;
}

json_t *k1s_cr_openapi_schema(const k1s_resource_t *r)
{
    return cr_schema(r, false);
}

json_t *k1s_cr_openapi_list_schema(const k1s_resource_t *r)
{
    return cr_list_schema(r, false);
}
