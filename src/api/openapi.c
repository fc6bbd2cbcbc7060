/*
 * OpenAPI v3 documents, schema lookup and field validation; see openapi.h.
 *
 * The compiled-in text (build/gen/openapi_data.c) is one JSON object of all
 * component schemas, zlib-compressed, plus an index: the byte span of each
 * schema in the inflated text and the schemas each one references. That lets
 * this module
 *   - inflate the text once, on first use (~0.5 MB), and never before;
 *   - parse a schema into a jansson tree only when validation or patching
 *     asks for it, one schema at a time;
 *   - assemble a per-group-version document by copying the spans of the
 *     schemas reachable from its resources, without parsing them;
 *   - hash documents from their inputs (schema digest, registry, build), so
 *     the /openapi/v3 index never has to build the documents it lists.
 */
#include "api/openapi.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "api/crd.h"
#include "api/registry.h"
#include "api/version.h"
#include "lib/buf.h"
#include "lib/log.h"

#define REF_PREFIX "#/components/schemas/"
#define REF_PREFIX_V2 "#/definitions/"
/* Bump when the shape of the generated documents changes, so that clients
 * that cache documents by hash fetch them again. */
#define DOC_FORMAT "k1s-openapi-v3/1"
#define MAX_UNKNOWN 100
#define MAX_DEPTH 128

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."

/* ---- the compiled-in schemas ------------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *text; /* inflated schema text; NULL until first use */
static bool load_failed;
static json_t **parsed; /* parsed[i]: schema i once parsed */

/* Inflates the schema text. Called with lock held. */
static int load_locked(void)
{
    if (text)
        return 0;
    if (load_failed)
        return -EIO;
    uLongf n = (uLongf)k1s_openapi_text_len;
    char *t = k1s_xmalloc(k1s_openapi_text_len + 1);
    int r = uncompress((Bytef *)t, &n, k1s_openapi_blob, (uLong)k1s_openapi_blob_len);
    if (r != Z_OK || n != k1s_openapi_text_len) {
        k1s_debug("openapi: cannot inflate schemas: zlib %d", r);
        free(t);
        load_failed = true;
        return -EIO;
    }
    t[n] = 0;
    text = t;
    /* schema_at() reads parsed without the lock once it is set. */
    __atomic_store_n(&parsed, k1s_xcalloc(k1s_openapi_count, sizeof(*parsed)), __ATOMIC_RELEASE);
    return 0;
}

static int load(void)
{
    pthread_mutex_lock(&lock);
    int r = load_locked();
    pthread_mutex_unlock(&lock);
    return r;
}

/* Index of schema name[0..len), or -1. */
static long schema_index(const char *name, size_t len)
{
    size_t lo = 0, hi = k1s_openapi_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = k1s_openapi_names[mid];
        int c = strncmp(m, name, len);
        if (c == 0)
            c = m[len] ? 1 : 0;
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static const json_t *schema_at(long i)
{
    json_t **p = __atomic_load_n(&parsed, __ATOMIC_ACQUIRE);
    json_t *s = p ? __atomic_load_n(&p[i], __ATOMIC_ACQUIRE) : NULL;
    if (s)
        return s;
    pthread_mutex_lock(&lock);
    if (load_locked() == 0 && !(s = parsed[i])) {
        json_error_t jerr;
        s = json_loadb(text + k1s_openapi_spans[i][0], k1s_openapi_spans[i][1], 0, &jerr);
        if (!s)
            k1s_debug("openapi: schema %s: %s", k1s_openapi_names[i], jerr.text);
        __atomic_store_n(&parsed[i], s, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lock);
    return s;
}

const json_t *k1s_openapi_schema(const char *name)
{
    if (!name)
        return NULL;
    long i = schema_index(name, strlen(name));
    return i < 0 ? NULL : schema_at(i);
}

const json_t *k1s_resource_schema(const k1s_resource_t *r)
{
    if (r->crd)
        return r->crd->schema;
    return r->openapi_name ? k1s_openapi_schema(r->openapi_name) : NULL;
}

const json_t *k1s_openapi_resolve(const char *ref, void *arg)
{
    (void)arg;
    if (!ref)
        return NULL;
    if (k1s_str_has_prefix(ref, REF_PREFIX))
        return k1s_openapi_schema(ref + strlen(REF_PREFIX));
    if (k1s_str_has_prefix(ref, REF_PREFIX_V2))
        return k1s_openapi_schema(ref + strlen(REF_PREFIX_V2));
    return NULL;
}

/* Like k1s_openapi_deref, also reporting the name of the last schema
 * reached through a reference (NULL if none). */
static const json_t *deref_named(const json_t *s, const char **name)
{
    for (int hops = 0; s && hops < 32; hops++) {
        const char *ref = json_string_value(json_object_get(s, "$ref"));
        if (ref) {
            const char *n = k1s_str_has_prefix(ref, REF_PREFIX) ? ref + strlen(REF_PREFIX) : ref;
            s = k1s_openapi_resolve(ref, NULL);
            if (name)
                *name = n;
            continue;
        }
        const json_t *all = json_object_get(s, "allOf");
        if (json_is_array(all) && json_array_size(all) == 1 && !json_object_get(s, "properties") &&
            !json_object_get(s, "items") && !json_object_get(s, "additionalProperties")) {
            s = json_array_get(all, 0);
            continue;
        }
        return s;
    }
    return NULL;
}

const json_t *k1s_openapi_deref(const json_t *schema)
{
    return deref_named(schema, NULL);
}

/* ---- document hashes and the index ----------------------------------- */

/* json_dumps, aborting when memory runs out (it fails for no other reason
 * on the trees built here), as k1s_xmalloc does. */
static char *xdumps(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s)
        abort();
    return s;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        k1s_assert(!"sha256 failed");
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A document is a function of the schemas, the registry, the build and the
 * path; hash those rather than the document, so listing documents in the
 * index does not require building them. */
static void doc_hash(const char *path, char out[65])
{
    if (k1s_cr_openapi_v3_hash(path, out)) /* a custom resource's group/version */
        return;
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b, "%s\n%s\n%s\n%s\n", DOC_FORMAT, k1s_openapi_digest, K1S_VERSION, path);
    size_t n;
    const k1s_resource_t *const *rs = k1s_registry_all(&n);
    /* custom resources have documents of their own (crd.h): they leave these hashes alone */
    for (size_t i = 0; i < n; i++)
        if (!rs[i]->crd)
            k1s_buf_printf(&b, "%s|%s|%s|%s|%d|%u|%s\n", rs[i]->group, rs[i]->version, rs[i]->kind,
                           rs[i]->plural, rs[i]->namespaced, rs[i]->subresources,
                           rs[i]->openapi_name);
    size_t ngv;
    const k1s_group_version_t *gvs = k1s_registry_group_versions(&ngv);
    for (size_t i = 0; i < ngv; i++) {
        bool builtin = false;
        for (size_t j = 0; j < n && !builtin; j++)
            builtin = !rs[j]->crd && !strcmp(rs[j]->group, gvs[i].group) &&
                      !strcmp(rs[j]->version, gvs[i].version);
        if (builtin)
            k1s_buf_printf(&b, "%s/%s\n", gvs[i].group, gvs[i].version);
    }
    sha256_hex(b.data, b.len, out);
    k1s_buf_free(&b);
}

static bool group_served(const char *group)
{
    size_t n;
    const k1s_group_version_t *gvs = k1s_registry_group_versions(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(gvs[i].group, group) == 0)
            return true;
    return false;
}

static bool gv_served(const char *group, const char *version)
{
    size_t n;
    const k1s_group_version_t *gvs = k1s_registry_group_versions(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(gvs[i].group, group) == 0 && strcmp(gvs[i].version, version) == 0)
            return true;
    return false;
}

static void index_entry(json_t *paths, const char *path)
{
    char hash[65];
    doc_hash(path, hash);
    char *url = k1s_xasprintf("/openapi/v3/%s?hash=%s", path, hash);
    json_object_set_new(paths, path, json_pack("{s:s}", "serverRelativeURL", url));
    free(url);
}

int k1s_openapi_v3_index(char **out, size_t *len)
{
    json_t *paths = json_object();
    size_t n;
    const k1s_group_version_t *gvs = k1s_registry_group_versions(&n);
    if (group_served(""))
        index_entry(paths, "api");
    for (size_t i = 0; i < n; i++)
        if (!gvs[i].group[0]) {
            char *p = k1s_xasprintf("api/%s", gvs[i].version);
            index_entry(paths, p);
            free(p);
        }
    index_entry(paths, "apis");
    for (size_t i = 0; i < n; i++) {
        if (!gvs[i].group[0])
            continue;
        char *g = k1s_xasprintf("apis/%s", gvs[i].group);
        if (!json_object_get(paths, g))
            index_entry(paths, g);
        char *p = k1s_xasprintf("%s/%s", g, gvs[i].version);
        index_entry(paths, p);
        free(p);
        free(g);
    }
    json_t *doc = json_pack("{s:o}", "paths", paths);
    char *s = xdumps(doc);
    json_decref(doc);
    *len = strlen(s);
    *out = s;
    return 0;
}

/* ---- per-group-version documents ------------------------------------- */

typedef enum { DOC_CORE_ROOT, DOC_APIS_ROOT, DOC_GROUP, DOC_GV } doc_kind_t;

typedef struct doc_target {
    doc_kind_t kind;
    char path[256]; /* normalized: "apis/apps/v1" */
    char group[200];
    char version[32];
} doc_target_t;

static int parse_target(const char *p, doc_target_t *t)
{
    while (*p == '/')
        p++;
    size_t n = strcspn(p, "?#");
    while (n && p[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof(t->path))
        return -ENOENT;
    memcpy(t->path, p, n);
    t->path[n] = 0;
    t->group[0] = t->version[0] = 0;
    if (strcmp(t->path, "api") == 0) {
        t->kind = DOC_CORE_ROOT;
        return group_served("") ? 0 : -ENOENT;
    }
    if (strcmp(t->path, "apis") == 0) {
        t->kind = DOC_APIS_ROOT;
        return 0;
    }
    const char *rest;
    if (k1s_str_has_prefix(t->path, "api/")) {
        rest = t->path + 4;
        if (!*rest || strchr(rest, '/') || strlen(rest) >= sizeof(t->version))
            return -ENOENT;
        t->kind = DOC_GV;
        snprintf(t->version, sizeof(t->version), "%s", rest);
        return gv_served("", t->version) ? 0 : -ENOENT;
    }
    if (!k1s_str_has_prefix(t->path, "apis/"))
        return -ENOENT;
    rest = t->path + 5;
    const char *slash = strchr(rest, '/');
    size_t glen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (glen == 0 || glen >= sizeof(t->group))
        return -ENOENT;
    memcpy(t->group, rest, glen);
    t->group[glen] = 0;
    if (!slash) {
        t->kind = DOC_GROUP;
        return group_served(t->group) ? 0 : -ENOENT;
    }
    const char *v = slash + 1;
    if (!*v || strchr(v, '/') || strlen(v) >= sizeof(t->version))
        return -ENOENT;
    snprintf(t->version, sizeof(t->version), "%s", v);
    t->kind = DOC_GV;
    return gv_served(t->group, t->version) ? 0 : -ENOENT;
}

/* "AppsV1", "CoreV1", "RbacAuthorizationV1", "NetworkingV1": Kubernetes'
 * operation-id infix for a group/version. */
static void gv_camel(const char *group, const char *version, char *out, size_t size)
{
    k1s_buf_t b = K1S_BUF_INIT;
    if (!group[0]) {
        k1s_buf_puts(&b, "Core");
    } else {
        size_t glen = strlen(group);
        if (k1s_str_has_suffix(group, ".k8s.io"))
            glen -= strlen(".k8s.io");
        bool up = true;
        for (size_t i = 0; i < glen; i++) {
            char c = group[i];
            if (c == '.' || c == '-') {
                up = true;
                continue;
            }
            k1s_buf_putc(&b, up && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c);
            up = false;
        }
    }
    for (const char *p = version; *p; p++)
        k1s_buf_putc(&b, p == version && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p);
    snprintf(out, size, "%s", b.data);
    k1s_buf_free(&b);
}

typedef struct doc_builder {
    json_t *paths;
    bool *want; /* schemas to include */
    const char *group, *version;
    char camel[128]; /* "AppsV1" */
    char tag[128];   /* "apps_v1" */
} doc_builder_t;

static json_t *ref_to(doc_builder_t *b, const char *name)
{
    long i = schema_index(name, strlen(name));
    if (i >= 0)
        b->want[i] = true;
    char *r = k1s_xasprintf(REF_PREFIX "%s", name);
    json_t *o = json_pack("{s:s}", "$ref", r);
    free(r);
    return o;
}

static json_t *param(const char *name, const char *in, const char *type, bool required,
                     const char *desc)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:{s:s, s:b}}", "name", name, "in", in, "description",
                          desc, "schema", "type", type, "uniqueItems", 1);
    if (required)
        json_object_set_new(p, "required", json_true());
    return p;
}

static void add_params(json_t *op, const char *const *names)
{
    static const struct {
        const char *name, *type, *desc;
    } known[] = {
        {"allowWatchBookmarks", "boolean",
         "Asks a watch to send BOOKMARK events, which carry only a resourceVersion to resume from. "
         "Servers may ignore it."},
        {"continue", "string", "The continue token of the previous page of a paged list."},
        {"dryRun", "string",
         "When present, the request is processed and validated but nothing is persisted. The only "
         "value is All."},
        {"fieldManager", "string",
         "Name of the actor making the change; it is recorded in managedFields. Required for apply "
         "requests."},
        {"fieldSelector", "string",
         "Restricts the list to objects whose fields match, for example metadata.name=web."},
        {"fieldValidation", "string",
         "What to do with fields the schema does not declare, and with duplicate fields: Ignore "
         "drops them silently, Warn drops them and returns a warning for each (the default), "
         "Strict fails the request."},
        {"force", "boolean",
         "For apply requests: take over fields owned by other managers instead of failing with a "
         "conflict."},
        {"gracePeriodSeconds", "integer",
         "Seconds before the object is deleted; 0 deletes at once. Defaults to the object's own "
         "grace period."},
        {"labelSelector", "string", "Restricts the list to objects whose labels match."},
        {"limit", "integer",
         "The largest number of objects to return; more can be fetched with the continue token."},
        {"orphanDependents", "boolean",
         "Deprecated: use propagationPolicy. Whether the objects this one owns are orphaned rather "
         "than deleted."},
        {"propagationPolicy", "string",
         "How the objects this one owns are deleted: Orphan, Background or Foreground."},
        {"resourceVersion", "string",
         "The resource version the list or watch starts from; see resourceVersionMatch for how it "
         "is matched."},
        {"resourceVersionMatch", "string",
         "How resourceVersion is matched in a list: Exact or NotOlderThan."},
        {"sendInitialEvents", "boolean",
         "With watch: start the stream with ADDED events for the objects that exist, then a "
         "bookmark."},
        {"timeoutSeconds", "integer", "Ends a list or watch call after this many seconds."},
        {"watch", "boolean",
         "Streams changes (ADDED, MODIFIED, DELETED) instead of returning a list."},
    };
    json_t *ps = json_object_get(op, "parameters");
    if (!ps) {
        ps = json_array();
        json_object_set_new(op, "parameters", ps);
    }
    for (const char *const *n = names; *n; n++)
        for (size_t i = 0; i < K1S_ARRAY_SIZE(known); i++)
            if (strcmp(known[i].name, *n) == 0)
                json_array_append_new(
                    ps, param(known[i].name, "query", known[i].type, false, known[i].desc));
}

static json_t *content(doc_builder_t *b, const char *schema, bool yaml)
{
    json_t *c = json_object();
    json_object_set_new(c, "application/json", json_pack("{s:o}", "schema", ref_to(b, schema)));
    if (yaml)
        json_object_set_new(c, "application/yaml", json_pack("{s:o}", "schema", ref_to(b, schema)));
    return c;
}

static void add_response(doc_builder_t *b, json_t *op, const char *code, const char *desc,
                         const char *schema)
{
    json_t *rs = json_object_get(op, "responses");
    if (!rs) {
        rs = json_object();
        json_object_set_new(op, "responses", rs);
    }
    json_t *r = json_pack("{s:s}", "description", desc);
    if (schema)
        json_object_set_new(r, "content", content(b, schema, true));
    json_object_set_new(rs, code, r);
}

typedef enum {
    OP_LIST,
    OP_LIST_ALL,
    OP_CREATE,
    OP_DELETECOLLECTION,
    OP_READ,
    OP_REPLACE,
    OP_PATCH,
    OP_DELETE,
    OP_POST_SUB,
} op_kind_t;

/* One operation. gvk_* name the kind it operates on; schema is its body. */
static json_t *operation(doc_builder_t *b, op_kind_t kind, const char *id, const char *desc,
                         const char *gvk_group, const char *gvk_version, const char *gvk_kind,
                         const char *schema, const char *list_schema)
{
    static const char *const list_params[] = {"allowWatchBookmarks",
                                              "continue",
                                              "fieldSelector",
                                              "labelSelector",
                                              "limit",
                                              "resourceVersion",
                                              "resourceVersionMatch",
                                              "sendInitialEvents",
                                              "timeoutSeconds",
                                              "watch",
                                              NULL};
    static const char *const write_params[] = {"dryRun", "fieldManager", "fieldValidation", NULL};
    static const char *const patch_params[] = {"dryRun", "fieldManager", "fieldValidation", "force",
                                               NULL};
    static const char *const delete_params[] = {"dryRun", "gracePeriodSeconds", "orphanDependents",
                                                "propagationPolicy", NULL};
    static const char *const deletecollection_params[] = {"continue",
                                                          "dryRun",
                                                          "fieldSelector",
                                                          "gracePeriodSeconds",
                                                          "labelSelector",
                                                          "limit",
                                                          "orphanDependents",
                                                          "propagationPolicy",
                                                          "resourceVersion",
                                                          "resourceVersionMatch",
                                                          "sendInitialEvents",
                                                          "timeoutSeconds",
                                                          NULL};
    static const char *const actions[] = {
        [OP_LIST] = "list",     [OP_LIST_ALL] = "list",
        [OP_CREATE] = "post",   [OP_DELETECOLLECTION] = "deletecollection",
        [OP_READ] = "get",      [OP_REPLACE] = "put",
        [OP_PATCH] = "patch",   [OP_DELETE] = "delete",
        [OP_POST_SUB] = "post",
    };

    json_t *op =
        json_pack("{s:[s], s:s, s:s}", "tags", b->tag, "description", desc, "operationId", id);
    switch (kind) {
    case OP_LIST:
    case OP_LIST_ALL:
        add_params(op, list_params);
        add_response(b, op, "200", "OK", list_schema);
        break;
    case OP_CREATE:
    case OP_POST_SUB:
    case OP_REPLACE:
        add_params(op, write_params);
        json_object_set_new(op, "requestBody",
                            json_pack("{s:{s:{s:o}}, s:b}", "content", "*/*", "schema",
                                      ref_to(b, schema), "required", 1));
        add_response(b, op, "200", "OK", schema);
        add_response(b, op, "201", "Created", schema);
        if (kind != OP_REPLACE)
            add_response(b, op, "202", "Accepted", schema);
        break;
    case OP_PATCH: {
        add_params(op, patch_params);
        json_t *c = json_object();
        static const char *const types[] = {
            "application/apply-patch+yaml", "application/json-patch+json",
            "application/merge-patch+json", "application/strategic-merge-patch+json"};
        for (size_t i = 0; i < K1S_ARRAY_SIZE(types); i++)
            json_object_set_new(c, types[i], json_pack("{s:o}", "schema", ref_to(b, META "Patch")));
        json_object_set_new(op, "requestBody",
                            json_pack("{s:o, s:b}", "content", c, "required", 1));
        add_response(b, op, "200", "OK", schema);
        add_response(b, op, "201", "Created", schema);
        break;
    }
    case OP_READ: add_response(b, op, "200", "OK", schema); break;
    case OP_DELETE:
        add_params(op, delete_params);
        json_object_set_new(op, "requestBody",
                            json_pack("{s:{s:{s:o}}}", "content", "*/*", "schema",
                                      ref_to(b, META "DeleteOptions")));
        add_response(b, op, "200", "OK", schema);
        add_response(b, op, "202", "Accepted", schema);
        break;
    case OP_DELETECOLLECTION:
        add_params(op, deletecollection_params);
        json_object_set_new(op, "requestBody",
                            json_pack("{s:{s:{s:o}}}", "content", "*/*", "schema",
                                      ref_to(b, META "DeleteOptions")));
        add_response(b, op, "200", "OK", META "Status");
        break;
    }
    add_response(b, op, "401", "Unauthorized", NULL);
    if (json_array_size(json_object_get(op, "parameters")) == 0)
        json_object_del(op, "parameters");
    json_object_set_new(op, "x-kubernetes-action", json_string(actions[kind]));
    json_object_set_new(
        op, "x-kubernetes-group-version-kind",
        json_pack("{s:s, s:s, s:s}", "group", gvk_group, "kind", gvk_kind, "version", gvk_version));
    return op;
}

/* The path item at url, created with its path parameters on first use. */
static json_t *path_item(doc_builder_t *b, const char *url, const char *kind, bool namespaced,
                         bool named)
{
    json_t *item = json_object_get(b->paths, url);
    if (item)
        return item;
    item = json_object();
    json_t *ps = json_array();
    if (named) {
        char *d = k1s_xasprintf("Name of the %s.", kind);
        json_array_append_new(ps, param("name", "path", "string", true, d));
        free(d);
    }
    if (namespaced)
        json_array_append_new(
            ps, param("namespace", "path", "string", true, "The namespace of the object."));
    json_array_append_new(
        ps, param("pretty", "query", "string", false, "If true, the output is indented."));
    json_object_set_new(item, "parameters", ps);
    json_object_set_new(b->paths, url, item);
    return item;
}

static void add_resource(doc_builder_t *b, const k1s_resource_t *r, const char *prefix)
{
    const char *K = r->kind, *S = r->openapi_name;
    const char *ns = r->namespaced ? "Namespaced" : "";
    char *list = k1s_xasprintf("%sList", S);
    if (schema_index(list, strlen(list)) < 0) {
        free(list);
        list = k1s_xstrdup(S);
    }
    char *coll = r->namespaced ? k1s_xasprintf("%s/namespaces/{namespace}/%s", prefix, r->plural)
                               : k1s_xasprintf("%s/%s", prefix, r->plural);
    char *one = k1s_xasprintf("%s/{name}", coll);
    const char *g = r->group, *v = r->version, *C = b->camel;
    char id[256], desc[256];
    b->want[schema_index(S, strlen(S))] = true;

    json_t *item = path_item(b, coll, K, r->namespaced, false);
    snprintf(id, sizeof id, "list%s%s%s", C, ns, K);
    snprintf(desc, sizeof desc, "list or watch objects of kind %s", K);
    json_object_set_new(item, "get", operation(b, OP_LIST, id, desc, g, v, K, S, list));
    snprintf(id, sizeof id, "create%s%s%s", C, ns, K);
    snprintf(desc, sizeof desc, "create a %s", K);
    json_object_set_new(item, "post", operation(b, OP_CREATE, id, desc, g, v, K, S, NULL));
    if (r->create_only) {
        /* a review: POST only (review.c) */
        json_object_del(item, "get");
        free(one);
        free(coll);
        free(list);
        return;
    }
    snprintf(id, sizeof id, "delete%sCollection%s%s", C, ns, K);
    snprintf(desc, sizeof desc, "delete collection of %s", K);
    json_object_set_new(item, "delete",
                        operation(b, OP_DELETECOLLECTION, id, desc, g, v, K, S, NULL));

    item = path_item(b, one, K, r->namespaced, true);
    snprintf(id, sizeof id, "read%s%s%s", C, ns, K);
    snprintf(desc, sizeof desc, "read the specified %s", K);
    json_object_set_new(item, "get", operation(b, OP_READ, id, desc, g, v, K, S, NULL));
    snprintf(id, sizeof id, "replace%s%s%s", C, ns, K);
    snprintf(desc, sizeof desc, "replace the specified %s", K);
    json_object_set_new(item, "put", operation(b, OP_REPLACE, id, desc, g, v, K, S, NULL));
    snprintf(id, sizeof id, "patch%s%s%s", C, ns, K);
    snprintf(desc, sizeof desc, "partially update the specified %s", K);
    json_object_set_new(item, "patch", operation(b, OP_PATCH, id, desc, g, v, K, S, NULL));
    snprintf(id, sizeof id, "delete%s%s%s", C, ns, K);
    snprintf(desc, sizeof desc, "delete a %s", K);
    json_object_set_new(item, "delete",
                        operation(b, OP_DELETE, id, desc, g, v, K, META "Status", NULL));

    if (r->namespaced) {
        char *all = k1s_xasprintf("%s/%s", prefix, r->plural);
        item = path_item(b, all, K, false, false);
        snprintf(id, sizeof id, "list%s%sForAllNamespaces", C, K);
        snprintf(desc, sizeof desc, "list or watch objects of kind %s", K);
        json_object_set_new(item, "get", operation(b, OP_LIST_ALL, id, desc, g, v, K, S, list));
        free(all);
    }

    /* Subresources. status has the kind's own GVK; scale, binding and
     * eviction have their own types. */
    static const struct {
        unsigned flag;
        const char *path, *suffix, *group, *version, *kind, *schema;
        bool rw;
    } subs[] = {
        {K1S_SUB_STATUS, "status", "Status", NULL, NULL, NULL, NULL, true},
        {K1S_SUB_SCALE, "scale", "Scale", "autoscaling", "v1", "Scale",
         "io.k8s.api.autoscaling.v1.Scale", true},
        {K1S_SUB_BINDING, "binding", "Binding", "", "v1", "Binding", "io.k8s.api.core.v1.Binding",
         false},
        {K1S_SUB_EVICTION, "eviction", "Eviction", "policy", "v1", "Eviction",
         "io.k8s.api.policy.v1.Eviction", false},
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(subs); i++) {
        if (!(r->subresources & subs[i].flag))
            continue;
        const char *sg = subs[i].group ? subs[i].group : g,
                   *sv = subs[i].version ? subs[i].version : v;
        const char *sk = subs[i].kind ? subs[i].kind : K, *ss = subs[i].schema ? subs[i].schema : S;
        if (schema_index(ss, strlen(ss)) < 0)
            continue;
        char *url = k1s_xasprintf("%s/%s", one, subs[i].path);
        item = path_item(b, url, K, r->namespaced, true);
        if (subs[i].rw) {
            snprintf(id, sizeof id, "read%s%s%s%s", C, ns, K, subs[i].suffix);
            snprintf(desc, sizeof desc, "read %s of the specified %s", subs[i].path, K);
            json_object_set_new(item, "get", operation(b, OP_READ, id, desc, sg, sv, sk, ss, NULL));
            snprintf(id, sizeof id, "replace%s%s%s%s", C, ns, K, subs[i].suffix);
            snprintf(desc, sizeof desc, "replace %s of the specified %s", subs[i].path, K);
            json_object_set_new(item, "put",
                                operation(b, OP_REPLACE, id, desc, sg, sv, sk, ss, NULL));
            snprintf(id, sizeof id, "patch%s%s%s%s", C, ns, K, subs[i].suffix);
            snprintf(desc, sizeof desc, "partially update %s of the specified %s", subs[i].path, K);
            json_object_set_new(item, "patch",
                                operation(b, OP_PATCH, id, desc, sg, sv, sk, ss, NULL));
        } else {
            snprintf(id, sizeof id, "create%s%s%s%s", C, ns, K, subs[i].suffix);
            snprintf(desc, sizeof desc, "create %s of a %s", subs[i].path, K);
            json_object_set_new(item, "post",
                                operation(b, OP_POST_SUB, id, desc, sg, sv, sk, ss, NULL));
        }
        free(url);
    }
    free(one);
    free(coll);
    free(list);
}

/* A discovery endpoint ("/apis/apps/") returning one of the meta types. */
static void add_discovery(doc_builder_t *b, const char *url, const char *id, const char *desc,
                          const char *schema)
{
    json_t *op =
        json_pack("{s:[s], s:s, s:s}", "tags", b->tag, "description", desc, "operationId", id);
    add_response(b, op, "200", "OK", schema);
    add_response(b, op, "401", "Unauthorized", NULL);
    json_object_set_new(b->paths, url, json_pack("{s:o}", "get", op));
}

static k1s_bytes_t *build_doc(const doc_target_t *t)
{
    doc_builder_t b = {.paths = json_object(),
                       .want = k1s_xcalloc(k1s_openapi_count, sizeof(bool))};
    char *url;
    switch (t->kind) {
    case DOC_CORE_ROOT:
        snprintf(b.tag, sizeof b.tag, "core");
        add_discovery(&b, "/api/", "getCoreAPIVersions", "get available API versions",
                      META "APIVersions");
        break;
    case DOC_APIS_ROOT:
        snprintf(b.tag, sizeof b.tag, "apis");
        add_discovery(&b, "/apis/", "getAPIVersions", "get available API versions",
                      META "APIGroupList");
        break;
    case DOC_GROUP: {
        gv_camel(t->group, "", b.camel, sizeof b.camel);
        snprintf(b.tag, sizeof b.tag, "%c%s", b.camel[0] + ('a' - 'A'), b.camel + 1);
        char *id = k1s_xasprintf("get%sAPIGroup", b.camel);
        url = k1s_xasprintf("/apis/%s/", t->group);
        add_discovery(&b, url, id, "get information of a group", META "APIGroup");
        free(url);
        free(id);
        break;
    }
    case DOC_GV: {
        gv_camel(t->group, t->version, b.camel, sizeof b.camel);
        char gc[128];
        gv_camel(t->group, "", gc, sizeof gc);
        snprintf(b.tag, sizeof b.tag, "%c%s_%s", gc[0] + ('a' - 'A'), gc + 1, t->version);
        char *prefix = t->group[0] ? k1s_xasprintf("/apis/%s/%s", t->group, t->version)
                                   : k1s_xasprintf("/api/%s", t->version);
        char *id = k1s_xasprintf("get%sAPIResources", b.camel);
        url = k1s_xasprintf("%s/", prefix);
        add_discovery(&b, url, id, "get available resources", META "APIResourceList");
        free(url);
        free(id);
        size_t n;
        const k1s_resource_t *const *rs = k1s_registry_all(&n);
        for (size_t i = 0; i < n; i++)
            if (strcmp(rs[i]->group, t->group) == 0 && strcmp(rs[i]->version, t->version) == 0 &&
                schema_index(rs[i]->openapi_name, strlen(rs[i]->openapi_name)) >= 0)
                add_resource(&b, rs[i], prefix);
        free(prefix);
        break;
    }
    }

    /* Every schema reachable from the ones the operations name. */
    long *queue = k1s_xmalloc(k1s_openapi_count * sizeof(long));
    size_t qn = 0;
    for (size_t i = 0; i < k1s_openapi_count; i++)
        if (b.want[i])
            queue[qn++] = (long)i;
    for (size_t qi = 0; qi < qn; qi++) {
        long i = queue[qi];
        for (unsigned j = k1s_openapi_ref_start[i]; j < k1s_openapi_ref_start[i + 1]; j++) {
            uint16_t r = k1s_openapi_refs[j];
            if (!b.want[r]) {
                b.want[r] = true;
                queue[qn++] = r;
            }
        }
    }
    free(queue);

    char *paths = xdumps(b.paths);
    json_decref(b.paths);
    k1s_buf_t d = K1S_BUF_INIT;
    k1s_buf_puts(
        &d,
        "{\"openapi\":\"3.0.0\",\"info\":{\"title\":\"Kubernetes\",\"version\":\"" K1S_KUBE_VERSION
        "\"},\"paths\":");
    k1s_buf_puts(&d, paths);
    free(paths);
    k1s_buf_puts(&d, ",\"components\":{\"schemas\":{");
    bool first = true;
    for (size_t i = 0; i < k1s_openapi_count; i++) {
        if (!b.want[i])
            continue;
        if (!first)
            k1s_buf_putc(&d, ',');
        first = false;
        k1s_buf_json_str(&d, k1s_openapi_names[i]);
        k1s_buf_putc(&d, ':');
        k1s_buf_append(&d, text + k1s_openapi_spans[i][0], k1s_openapi_spans[i][1]);
    }
    k1s_buf_puts(&d,
                 "},\"securitySchemes\":{\"BearerToken\":{\"type\":\"apiKey\",\"description\":"
                 "\"Bearer Token authentication\",\"name\":\"authorization\",\"in\":\"header\"}}},"
                 "\"security\":[{\"BearerToken\":[]}]}");
    free(b.want);
    k1s_bytes_t *out = k1s_bytes_new(d.data, d.len);
    k1s_buf_free(&d);
    return out;
}

typedef struct doc_cache {
    struct doc_cache *next;
    char path[256];
    char hash[65];
    k1s_bytes_t *doc;
} doc_cache_t;

static doc_cache_t *docs;

int k1s_openapi_v3_doc(const char *gv_path, k1s_bytes_t **out, const char **etag)
{
    if (gv_path && k1s_cr_openapi_v3_doc(gv_path, out, etag) == 0)
        return 0;
    doc_target_t t;
    int r = parse_target(gv_path ? gv_path : "", &t);
    if (r < 0)
        return r;
    pthread_mutex_lock(&lock);
    doc_cache_t *c;
    for (c = docs; c; c = c->next)
        if (strcmp(c->path, t.path) == 0)
            break;
    if (!c) {
        if ((r = load_locked()) < 0) {
            pthread_mutex_unlock(&lock);
            return r;
        }
        c = k1s_xcalloc(1, sizeof(*c));
        snprintf(c->path, sizeof c->path, "%s", t.path);
        doc_hash(c->path, c->hash);
        c->doc = build_doc(&t);
        c->next = docs;
        docs = c;
    }
    *out = k1s_bytes_ref(c->doc);
    if (etag)
        *etag = c->hash;
    pthread_mutex_unlock(&lock);
    return 0;
}

/* ---- field validation ------------------------------------------------ */

typedef struct walk {
    json_t *unknown; /* check_fields: where unknown paths go */
    k1s_err_t *err;  /* check_types: the first type error */
    bool failed;
    k1s_buf_t path;        /* strict-decoding path: spec.containers[0].name */
    k1s_buf_t fields;      /* Go's field stack: struct field names only */
    const char *go_struct; /* Go name of the struct holding the current field */
    bool prune;            /* prune: remove unknown fields instead of reporting them */
} walk_t;

/* Appends Go's name for the type of a field, as encoding/json prints it in
 * errors: "v1.DeploymentSpec", "intstr.IntOrString", "int32", "[]v1.Container". */
static void go_type(const json_t *field, k1s_buf_t *out)
{
    const char *name = NULL;
    const json_t *s = deref_named(field, &name);
    if (!s) {
        k1s_buf_puts(out, "interface {}");
        return;
    }
    const char *type = json_string_value(json_object_get(s, "type"));
    const char *format = json_string_value(json_object_get(s, "format"));
    if (name && (json_object_get(s, "properties") || !type || strcmp(type, "object") == 0 ||
                 k1s_str_has_suffix(name, ".Time") || k1s_str_has_suffix(name, ".MicroTime"))) {
        /* The last two components of the schema name: package and type. */
        const char *dot = strrchr(name, '.');
        const char *p = dot;
        while (p && p > name && p[-1] != '.')
            p--;
        k1s_buf_puts(out, p ? p : name);
        return;
    }
    if (!type) {
        k1s_buf_puts(out, "interface {}");
    } else if (strcmp(type, "array") == 0) {
        k1s_buf_puts(out, "[]");
        go_type(json_object_get(s, "items"), out);
    } else if (strcmp(type, "object") == 0) {
        const json_t *ap = json_object_get(s, "additionalProperties");
        if (json_is_object(ap)) {
            k1s_buf_puts(out, "map[string]");
            go_type(ap, out);
        } else {
            k1s_buf_puts(out, "map[string]interface {}");
        }
    } else if (strcmp(type, "integer") == 0) {
        k1s_buf_puts(out, format && strcmp(format, "int64") == 0 ? "int64" : "int32");
    } else if (strcmp(type, "number") == 0) {
        k1s_buf_puts(out, "float64");
    } else if (strcmp(type, "boolean") == 0) {
        k1s_buf_puts(out, "bool");
    } else if (strcmp(type, "string") == 0) {
        k1s_buf_puts(out, format && strcmp(format, "byte") == 0 ? "[]uint8" : "string");
    } else {
        k1s_buf_puts(out, type);
    }
}

static void type_error(walk_t *w, const json_t *field, const json_t *v, const char *what)
{
    if (!w->err || w->failed)
        return;
    w->failed = true;
    k1s_buf_t t = K1S_BUF_INIT;
    go_type(field, &t);
    if (!what)
        what = json_is_string(v)    ? "string"
               : json_is_boolean(v) ? "bool"
               : json_is_number(v)  ? "number"
               : json_is_array(v)   ? "array"
                                    : "object";
    if (w->go_struct)
        k1s_err_set(w->err, EINVAL,
                    "json: cannot unmarshal %s into Go struct field %s.%s of type %s", what,
                    w->go_struct, w->fields.data, t.data);
    else
        k1s_err_set(w->err, EINVAL, "json: cannot unmarshal %s into Go value of type %s", what,
                    t.data);
    k1s_buf_free(&t);
}

static bool is_base64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Go's encoding/json decodes []byte with base64.StdEncoding: CR and LF are
 * skipped and padding is required. Returns the offset Go would report in
 * "illegal base64 data at input byte N", or -1 if s decodes. */
static long bad_base64(const char *s)
{
    size_t n = strlen(s), si = 0;
    for (;;) {
        for (int j = 0; j < 4; j++) {
            if (si == n)
                return j == 0 ? -1 : (long)(si - (size_t)j);
            unsigned char in = (unsigned char)s[si++];
            if (is_base64(in))
                continue;
            if (in == '\n' || in == '\r') {
                j--;
                continue;
            }
            if (in != '=' || j < 2)
                return (long)(si - 1);
            if (j == 2) { /* "==" expected */
                while (si < n && (s[si] == '\n' || s[si] == '\r'))
                    si++;
                if (si == n)
                    return (long)n;
                if (s[si] != '=')
                    return (long)(si - 1);
                si++;
            }
            while (si < n && (s[si] == '\n' || s[si] == '\r'))
                si++;
            return si < n ? (long)si : -1;
        }
    }
}

static void walk(walk_t *w, const json_t *field, const json_t *v, int depth);

static void push_key(walk_t *w, const char *key, size_t *plen)
{
    *plen = w->path.len;
    if (w->path.len)
        k1s_buf_putc(&w->path, '.');
    k1s_buf_puts(&w->path, key);
}

static void unknown_field(walk_t *w, const char *key)
{
    if (!w->unknown || json_array_size(w->unknown) >= MAX_UNKNOWN)
        return;
    size_t plen;
    push_key(w, key, &plen);
    json_array_append_new(w->unknown, json_string(w->path.data));
    w->path.len = plen;
    w->path.data[plen] = 0;
}

static bool is_true(const json_t *s, const char *key)
{
    return json_is_true(json_object_get(s, key));
}

/* Whether v has one of the types of a oneOf (Quantity, IntOrString). */
static bool one_of_matches(const json_t *alts, const json_t *v)
{
    size_t i;
    const json_t *a;
    json_array_foreach(alts, i, a)
    {
        const char *t = json_string_value(json_object_get(a, "type"));
        if (!t || (strcmp(t, "string") == 0 && json_is_string(v)) ||
            (strcmp(t, "integer") == 0 && json_is_integer(v)) ||
            (strcmp(t, "number") == 0 && json_is_number(v)) ||
            (strcmp(t, "boolean") == 0 && json_is_boolean(v)) ||
            (strcmp(t, "object") == 0 && json_is_object(v)) ||
            (strcmp(t, "array") == 0 && json_is_array(v)))
            return true;
    }
    return false;
}

static void walk_struct(walk_t *w, const json_t *props, const char *struct_name, const json_t *obj,
                        int depth)
{
    const char *key;
    const json_t *v;
    const char *saved_struct = w->go_struct;
    void *tmp;
    json_object_foreach_safe((json_t *)obj, tmp, key, v)
    {
        const json_t *p = json_object_get(props, key);
        if (!p) {
            if (w->prune)
                json_object_del((json_t *)obj, key); /* the object is the caller's, not const */
            else
                unknown_field(w, key);
            continue;
        }
        size_t plen, flen = w->fields.len;
        push_key(w, key, &plen);
        if (w->fields.len)
            k1s_buf_putc(&w->fields, '.');
        k1s_buf_puts(&w->fields, key);
        w->go_struct = struct_name;
        walk(w, p, v, depth + 1);
        w->go_struct = saved_struct;
        w->path.len = plen;
        w->path.data[plen] = 0;
        w->fields.len = flen;
        w->fields.data[flen] = 0;
        if (w->failed)
            return;
    }
}

static void walk(walk_t *w, const json_t *field, const json_t *v, int depth)
{
    if (json_is_null(v) || w->failed || depth > MAX_DEPTH)
        return;
    const char *name = NULL;
    const json_t *s = deref_named(field, &name);
    if (!s || is_true(s, "x-kubernetes-preserve-unknown-fields") ||
        is_true(field, "x-kubernetes-preserve-unknown-fields"))
        return;
    if (is_true(s, "x-kubernetes-int-or-string")) {
        if (!json_is_integer(v) && !json_is_string(v))
            type_error(w, field, v, NULL);
        return;
    }
    const json_t *one_of = json_object_get(s, "oneOf");
    if (json_is_array(one_of)) {
        if (!one_of_matches(one_of, v))
            type_error(w, field, v, NULL);
        return;
    }
    const char *type = json_string_value(json_object_get(s, "type"));
    const json_t *props = json_object_get(s, "properties");
    const json_t *items = json_object_get(s, "items");
    const json_t *ap = json_object_get(s, "additionalProperties");

    if (json_is_object(props) || (type && strcmp(type, "object") == 0 && !json_is_object(ap))) {
        if (!json_is_object(v)) {
            type_error(w, field, v, NULL);
            return;
        }
        const char *sname = name ? strrchr(name, '.') : NULL;
        walk_struct(w, json_is_object(props) ? props : NULL, sname ? sname + 1 : name, v, depth);
        return;
    }
    if (json_is_object(ap)) {
        if (!json_is_object(v)) {
            type_error(w, field, v, NULL);
            return;
        }
        const char *key;
        const json_t *e;
        json_object_foreach((json_t *)v, key, e)
        {
            size_t plen;
            push_key(w, key, &plen);
            walk(w, ap, e, depth + 1);
            w->path.len = plen;
            w->path.data[plen] = 0;
            if (w->failed)
                return;
        }
        return;
    }
    if (json_is_object(items) || (type && strcmp(type, "array") == 0)) {
        if (!json_is_array(v)) {
            type_error(w, field, v, NULL);
            return;
        }
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            size_t plen = w->path.len;
            k1s_buf_printf(&w->path, "[%zu]", i);
            if (items)
                walk(w, items, e, depth + 1);
            w->path.len = plen;
            w->path.data[plen] = 0;
            if (w->failed)
                return;
        }
        return;
    }
    if (!type || !w->err)
        return;
    const char *format = json_string_value(json_object_get(s, "format"));
    if (strcmp(type, "string") == 0) {
        if (!json_is_string(v)) {
            type_error(w, field, v, NULL);
        } else if (format && strcmp(format, "byte") == 0) {
            long at = bad_base64(json_string_value(v));
            if (at >= 0) {
                w->failed = true;
                k1s_err_set(w->err, EINVAL, "illegal base64 data at input byte %ld", at);
            }
        }
    } else if (strcmp(type, "integer") == 0) {
        if (json_is_integer(v)) {
            json_int_t n = json_integer_value(v);
            if ((!format || strcmp(format, "int64") != 0) && (n < INT32_MIN || n > INT32_MAX)) {
                char what[64];
                snprintf(what, sizeof what, "number %" JSON_INTEGER_FORMAT, n);
                type_error(w, field, v, what);
            }
        } else if (json_is_real(v)) {
            char what[64];
            snprintf(what, sizeof what, "number %.17g", json_real_value(v));
            type_error(w, field, v, what);
        } else {
            type_error(w, field, v, NULL);
        }
    } else if (strcmp(type, "number") == 0) {
        if (!json_is_number(v))
            type_error(w, field, v, NULL);
    } else if (strcmp(type, "boolean") == 0) {
        if (!json_is_boolean(v))
            type_error(w, field, v, NULL);
    }
}

static int check(const char *schema_name, const json_t *obj, walk_t *w)
{
    if (!schema_name)
        return -ENOENT;
    const json_t *s = k1s_openapi_schema(schema_name);
    if (!s)
        return load() < 0 ? -EIO : -ENOENT;
    /* The root is reached as if through a reference, so errors name its type. */
    char *ref = k1s_xasprintf(REF_PREFIX "%s", schema_name);
    json_t *root = json_pack("{s:s}", "$ref", ref);
    free(ref);
    walk(w, root, obj, 0);
    json_decref(root);
    k1s_buf_free(&w->path);
    k1s_buf_free(&w->fields);
    return 0;
}

int k1s_openapi_check_fields(const char *schema_name, const json_t *obj, json_t *unknown)
{
    walk_t w = {.unknown = unknown};
    return check(schema_name, obj, &w);
}

int k1s_openapi_prune(const char *schema_name, json_t *obj)
{
    walk_t w = {.prune = true};
    return check(schema_name, obj, &w);
}

int k1s_openapi_check_types(const char *schema_name, const json_t *obj, k1s_err_t *err)
{
    k1s_err_t local = {0};
    walk_t w = {.err = err ? err : &local};
    int r = check(schema_name, obj, &w);
    if (r < 0)
        return r;
    return w.failed ? -EINVAL : 0;
}
