/* Unit tests for src/api/openapi-v2.c: the /openapi/v2 document as JSON
 * (definitions converted from the v3 schemas, paths, parameters) and as
 * gnostic protobuf, read back with a small protobuf reader written here
 * from OpenAPIv2.proto, independently of the encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "api/openapi-v2.h"
#include "api/openapi.h"
#include "api/registry.h"
#include "api/version.h"

#define DEF "#/definitions/"
#define DEPLOY "io.k8s.api.apps.v1.Deployment"

/* ---- helpers ------------------------------------------------------------ */

static json_t *json_doc(void)
{
    k1s_bytes_t *b;
    const char *etag;
    assert_int_equal(k1s_openapi_v2_doc(false, &b, &etag), 0);
    json_error_t e;
    json_t *j = json_loadb(b->data, b->len, 0, &e);
    if (!j)
        fail_msg("v2 JSON does not parse: line %d: %s", e.line, e.text);
    k1s_bytes_unref(b);
    return j;
}

static const json_t *def(const json_t *doc, const char *name)
{
    const json_t *d = json_object_get(json_object_get(doc, "definitions"), name);
    if (!d)
        fail_msg("no definition %s", name);
    return d;
}

static const json_t *prop(const json_t *schema, const char *name)
{
    const json_t *p = json_object_get(json_object_get(schema, "properties"), name);
    if (!p)
        fail_msg("no property %s", name);
    return p;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Fails if schema s (or one inside it) still has a v3 shape: a
 * "#/components/" reference, a oneOf, or an allOf wrapper. */
static void assert_v2_schema(const json_t *s, const char *where)
{
    if (!json_is_object(s))
        fail_msg("%s: schema is not an object", where);
    const char *ref = str(s, "$ref");
    if (ref && strncmp(ref, DEF, strlen(DEF)) != 0)
        fail_msg("%s: reference %s", where, ref);
    if (json_object_get(s, "oneOf"))
        fail_msg("%s: oneOf left", where);
    if (json_object_get(s, "allOf"))
        fail_msg("%s: allOf left", where);
    const char *k;
    const json_t *v;
    json_object_foreach(json_object_get(s, "properties"), k, v)
    {
        assert_v2_schema(v, where);
    }
    if (json_is_object(json_object_get(s, "items")))
        assert_v2_schema(json_object_get(s, "items"), where);
    if (json_is_object(json_object_get(s, "additionalProperties")))
        assert_v2_schema(json_object_get(s, "additionalProperties"), where);
}

/* ---- a tiny protobuf reader --------------------------------------------- */

typedef struct pbr {
    const unsigned char *p, *end;
} pbr_t;

typedef struct pbv {
    unsigned field, wt;
    uint64_t u;                /* varint or fixed64 */
    const unsigned char *data; /* length-delimited */
    size_t len;
} pbv_t;

static uint64_t rd_varint(pbr_t *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            fail_msg("truncated varint");
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    fail_msg("varint too long");
    return 0;
}

/* Reads the next field; false at the end of the message. */
static bool pb_next(pbr_t *r, pbv_t *v)
{
    if (r->p >= r->end)
        return false;
    uint64_t key = rd_varint(r);
    v->field = (unsigned)(key >> 3);
    v->wt = (unsigned)(key & 7);
    if (v->field == 0)
        fail_msg("field number 0");
    switch (v->wt) {
    case 0: v->u = rd_varint(r); break;
    case 1:
        if (r->end - r->p < 8)
            fail_msg("truncated fixed64");
        v->u = 0;
        for (int i = 7; i >= 0; i--)
            v->u = v->u << 8 | r->p[i];
        r->p += 8;
        break;
    case 2:
        v->len = (size_t)rd_varint(r);
        if ((size_t)(r->end - r->p) < v->len)
            fail_msg("length %zu past the end of the message", v->len);
        v->data = r->p;
        r->p += v->len;
        break;
    default: fail_msg("unexpected wire type %u", v->wt);
    }
    return true;
}

static pbr_t sub(const pbv_t *v)
{
    assert_int_equal(v->wt, 2);
    return (pbr_t){v->data, v->data + v->len};
}

static bool is_str(const pbv_t *v, const char *s)
{
    return v->wt == 2 && v->len == strlen(s) && memcmp(v->data, s, v->len) == 0;
}

/* The first field `field` of message m; fails if absent. */
static pbv_t get(pbr_t m, unsigned field)
{
    pbv_t v;
    while (pb_next(&m, &v))
        if (v.field == field)
            return v;
    fail_msg("field %u missing", field);
    return v;
}

static size_t count(pbr_t m, unsigned field)
{
    pbv_t v;
    size_t n = 0;
    while (pb_next(&m, &v))
        n += v.field == field;
    return n;
}

/* In a message of repeated Named*{name = 1, value = 2} at `field`, the
 * value called name. */
static pbr_t named(pbr_t m, unsigned field, const char *name)
{
    pbv_t v;
    while (pb_next(&m, &v)) {
        if (v.field != field)
            continue;
        pbr_t e = sub(&v);
        pbv_t n = get(e, 1);
        if (is_str(&n, name)) {
            pbv_t val = get(e, 2);
            return sub(&val);
        }
    }
    fail_msg("no entry %s", name);
    return m;
}

static void assert_field_str(pbr_t m, unsigned field, const char *want)
{
    pbv_t v = get(m, field);
    if (!is_str(&v, want))
        fail_msg("field %u is \"%.*s\", want \"%s\"", field, (int)v.len, (const char *)v.data,
                 want);
}

/* The YAML of vendor extension name on a Schema (field 31). */
static void assert_extension(pbr_t schema, const char *name, const char *yaml)
{
    pbr_t any = named(schema, 31, name);
    assert_field_str(any, 2, yaml);
}

/* Walks every length-delimited field of m that is itself a message in the
 * Schema tree, checking bounds all the way down. */
static void walk_schema(pbr_t m, int depth)
{
    assert_true(depth < 64);
    pbv_t v;
    while (pb_next(&m, &v)) {
        pbr_t s;
        pbv_t e;
        switch (v.field) {
        case 21: /* AdditionalPropertiesItem */
            s = sub(&v);
            while (pb_next(&s, &e))
                if (e.field == 1)
                    walk_schema(sub(&e), depth + 1);
            break;
        case 23: /* ItemsItem */
            s = sub(&v);
            while (pb_next(&s, &e))
                walk_schema(sub(&e), depth + 1);
            break;
        case 24: walk_schema(sub(&v), depth + 1); break;
        case 25: /* Properties */
            s = sub(&v);
            while (pb_next(&s, &e)) {
                pbv_t val = get(sub(&e), 2);
                walk_schema(sub(&val), depth + 1);
            }
            break;
        default: break;
        }
    }
}

/* ---- tests -------------------------------------------------------------- */

static void test_json_definitions(void **state)
{
    json_t *doc = json_doc();
    assert_string_equal(str(doc, "swagger"), "2.0");
    assert_string_equal(str(json_object_get(doc, "info"), "title"), "Kubernetes");
    assert_string_equal(str(json_object_get(doc, "info"), "version"), K1S_KUBE_VERSION);
    assert_int_equal(json_object_size(json_object_get(doc, "definitions")), k1s_openapi_count);

    const json_t *d = def(doc, DEPLOY);
    assert_string_equal(str(d, "type"), "object");
    assert_non_null(str(d, "description"));
    const json_t *gvks = json_object_get(d, "x-kubernetes-group-version-kind");
    assert_int_equal(json_array_size(gvks), 1);
    const json_t *gvk = json_array_get(gvks, 0);
    assert_string_equal(str(gvk, "group"), "apps");
    assert_string_equal(str(gvk, "kind"), "Deployment");
    assert_string_equal(str(gvk, "version"), "v1");

    /* allOf wrappers become a plain $ref next to the field's description. */
    const json_t *spec = prop(d, "spec");
    assert_string_equal(str(spec, "$ref"), DEF "io.k8s.api.apps.v1.DeploymentSpec");
    assert_non_null(str(spec, "description"));
    assert_null(json_object_get(spec, "allOf"));

    const json_t *ds = def(doc, "io.k8s.api.apps.v1.DeploymentSpec");
    const json_t *req = json_object_get(ds, "required");
    assert_int_equal(json_array_size(req), 2);
    assert_string_equal(json_string_value(json_array_get(req, 0)), "selector");
    assert_string_equal(str(prop(ds, "replicas"), "type"), "integer");
    assert_string_equal(str(prop(ds, "replicas"), "format"), "int32");

    /* Strategic-merge metadata and list types stay on the fields. */
    const json_t *ctrs = prop(def(doc, "io.k8s.api.core.v1.PodSpec"), "containers");
    assert_string_equal(str(ctrs, "type"), "array");
    assert_string_equal(str(json_object_get(ctrs, "items"), "$ref"),
                        DEF "io.k8s.api.core.v1.Container");
    assert_string_equal(str(ctrs, "x-kubernetes-patch-strategy"), "merge");
    assert_string_equal(str(ctrs, "x-kubernetes-patch-merge-key"), "name");
    assert_string_equal(str(ctrs, "x-kubernetes-list-type"), "map");

    /* int-or-string and quantity as kube-apiserver's v2 document has them. */
    const json_t *ios = def(doc, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    assert_string_equal(str(ios, "type"), "string");
    assert_string_equal(str(ios, "format"), "int-or-string");
    assert_null(json_object_get(ios, "x-kubernetes-int-or-string"));
    const json_t *q = def(doc, "io.k8s.apimachinery.pkg.api.resource.Quantity");
    assert_string_equal(str(q, "type"), "string");
    assert_null(json_object_get(q, "format"));

    /* Maps keep additionalProperties. */
    const json_t *data = prop(def(doc, "io.k8s.api.core.v1.ConfigMap"), "data");
    assert_string_equal(str(data, "type"), "object");
    assert_string_equal(str(json_object_get(data, "additionalProperties"), "type"), "string");

    /* Core kinds carry group "". */
    gvk = json_array_get(
        json_object_get(def(doc, "io.k8s.api.core.v1.Pod"), "x-kubernetes-group-version-kind"), 0);
    assert_string_equal(str(gvk, "group"), "");

    const char *k;
    const json_t *v;
    json_object_foreach(json_object_get(doc, "definitions"), k, v)
    {
        assert_v2_schema(v, k);
    }
    json_decref(doc);
}

static void test_json_paths(void **state)
{
    json_t *doc = json_doc();
    const json_t *paths = json_object_get(doc, "paths");
    const json_t *coll = json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments");
    assert_non_null(coll);
    const json_t *list = json_object_get(coll, "get");
    assert_string_equal(str(list, "operationId"), "listAppsV1NamespacedDeployment");
    assert_string_equal(str(list, "x-kubernetes-action"), "list");
    const json_t *gvk = json_object_get(list, "x-kubernetes-group-version-kind");
    assert_string_equal(str(gvk, "group"), "apps");
    assert_string_equal(str(gvk, "kind"), "Deployment");
    assert_string_equal(str(gvk, "version"), "v1");
    assert_string_equal(
        str(json_object_get(json_object_get(json_object_get(list, "responses"), "200"), "schema"),
            "$ref"),
        DEF "io.k8s.api.apps.v1.DeploymentList");
    assert_string_equal(str(json_object_get(coll, "post"), "x-kubernetes-action"), "post");
    assert_string_equal(str(json_object_get(coll, "delete"), "x-kubernetes-action"),
                        "deletecollection");

    const json_t *item =
        json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
    assert_non_null(item);
    const json_t *patch = json_object_get(item, "patch");
    assert_string_equal(str(patch, "x-kubernetes-action"), "patch");
    const json_t *body = json_array_get(json_object_get(patch, "parameters"), 0);
    assert_string_equal(str(body, "in"), "body");
    assert_string_equal(str(json_object_get(body, "schema"), "$ref"),
                        DEF "io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
    const json_t *name = json_array_get(json_object_get(item, "parameters"), 0);
    assert_string_equal(str(name, "name"), "name");
    assert_string_equal(str(name, "in"), "path");
    assert_true(json_is_true(json_object_get(name, "required")));

    /* Subresources: scale has autoscaling/v1 Scale's GVK. */
    const json_t *scale =
        json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale");
    gvk = json_object_get(json_object_get(scale, "get"), "x-kubernetes-group-version-kind");
    assert_string_equal(str(gvk, "group"), "autoscaling");
    assert_string_equal(str(gvk, "kind"), "Scale");
    assert_non_null(json_object_get(paths, "/api/v1/pods"));
    assert_non_null(json_object_get(paths, "/api/v1/nodes/{name}/status"));
    assert_null(json_object_get(paths, "/api/v1/namespaces/{namespace}/nodes"));

    /* Every resource of the registry has its collection path, and every
     * parameter reference resolves. */
    size_t n;
    const k1s_resource_t *const *rs = k1s_registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        char url[512];
        if (rs[i]->read_only) /* metrics.k8s.io: no schema (metrics-server's own document) */
            continue;
        snprintf(url, sizeof url, "%s%s/%s%s/%s", rs[i]->group[0] ? "/apis/" : "/api", rs[i]->group,
                 rs[i]->version, rs[i]->namespaced ? "/namespaces/{namespace}" : "", rs[i]->plural);
        if (!json_object_get(paths, url))
            fail_msg("no path %s", url);
    }
    const json_t *params = json_object_get(doc, "parameters");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)paths, k, v)
    {
        const char *m;
        const json_t *op;
        json_object_foreach((json_t *)v, m, op)
        {
            const json_t *ps = strcmp(m, "parameters") ? json_object_get(op, "parameters") : op;
            size_t i;
            const json_t *p;
            json_array_foreach(ps, i, p)
            {
                const char *ref = str(p, "$ref");
                if (ref && !json_object_get(params, ref + strlen("#/parameters/")))
                    fail_msg("%s %s: dangling %s", k, m, ref);
            }
        }
    }
    json_decref(doc);
}

static void test_cached_and_etag(void **state)
{
    for (int pb = 0; pb < 2; pb++) {
        k1s_bytes_t *a, *b;
        const char *ea, *eb;
        assert_int_equal(k1s_openapi_v2_doc(pb, &a, &ea), 0);
        assert_int_equal(k1s_openapi_v2_doc(pb, &b, &eb), 0);
        assert_ptr_equal(a, b); /* one shared copy */
        assert_ptr_equal(ea, eb);
        assert_int_equal(a->data[a->len], 0);
        /* The ETag is the hex sha256 of the bytes. */
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        assert_int_equal(EVP_Digest(a->data, a->len, md, &n, EVP_sha256(), NULL), 1);
        char hex[65];
        for (unsigned int i = 0; i < n; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        assert_string_equal(ea, hex);
        k1s_bytes_unref(a);
        k1s_bytes_unref(b);
        assert_int_equal(k1s_openapi_v2_doc(pb, &a, NULL), 0); /* etag is optional */
        k1s_bytes_unref(a);
    }
    k1s_bytes_t *j, *p;
    const char *ej, *ep;
    assert_int_equal(k1s_openapi_v2_doc(false, &j, &ej), 0);
    assert_int_equal(k1s_openapi_v2_doc(true, &p, &ep), 0);
    assert_ptr_not_equal(j, p);
    assert_string_not_equal(ej, ep);
    assert_int_equal(j->data[0], '{');
    k1s_bytes_unref(j);
    k1s_bytes_unref(p);
}

static void test_protobuf(void **state)
{
    json_t *doc = json_doc();
    k1s_bytes_t *b;
    assert_int_equal(k1s_openapi_v2_doc(true, &b, NULL), 0);
    pbr_t top = {(const unsigned char *)b->data, (const unsigned char *)b->data + b->len};

    /* Document: swagger = 1, info = 2, paths = 8, definitions = 9,
     * parameters = 10, security = 12, security_definitions = 13. */
    pbr_t m = top;
    pbv_t v;
    unsigned seen = 0;
    while (pb_next(&m, &v)) {
        assert_true(v.field == 1 || v.field == 2 || (v.field >= 8 && v.field <= 13));
        assert_int_equal(v.wt, 2);
        seen |= 1u << v.field;
    }
    assert_int_equal(seen, 1u << 1 | 1u << 2 | 1u << 8 | 1u << 9 | 1u << 10 | 1u << 12 | 1u << 13);
    assert_field_str(top, 1, "2.0");
    pbv_t info = get(top, 2);
    assert_field_str(sub(&info), 1, "Kubernetes");
    assert_field_str(sub(&info), 2, K1S_KUBE_VERSION);

    /* Paths{path = 2: NamedPathItem}, Definitions{1: NamedSchema}: as many
     * entries as the JSON document has. */
    pbv_t paths = get(top, 8);
    assert_int_equal(count(sub(&paths), 2), json_object_size(json_object_get(doc, "paths")));
    pbv_t defs = get(top, 9);
    assert_int_equal(count(sub(&defs), 1), json_object_size(json_object_get(doc, "definitions")));
    pbv_t params = get(top, 10);
    assert_int_equal(count(sub(&params), 1), json_object_size(json_object_get(doc, "parameters")));

    /* Every definition is well-formed all the way down. */
    pbr_t dm = sub(&defs);
    while (pb_next(&dm, &v)) {
        pbv_t val = get(sub(&v), 2);
        walk_schema(sub(&val), 0);
    }

    /* Deployment: type = 22 TypeItem{value = 1}, description = 4,
     * properties = 25, vendor extensions = 31 NamedAny{name, Any{yaml = 2}}. */
    pbr_t d = named(sub(&defs), 1, DEPLOY);
    pbv_t type = get(d, 22);
    assert_field_str(sub(&type), 1, "object");
    pbv_t desc = get(d, 4);
    assert_true(is_str(&desc, str(def(doc, DEPLOY), "description")));
    assert_extension(d, "x-kubernetes-group-version-kind",
                     "- group: apps\n  kind: Deployment\n  version: v1\n");
    pbv_t props = get(d, 25);
    pbr_t spec = named(sub(&props), 1, "spec");
    assert_field_str(spec, 1, DEF "io.k8s.api.apps.v1.DeploymentSpec");

    pbr_t pod = named(sub(&defs), 1, "io.k8s.api.core.v1.Pod");
    assert_extension(pod, "x-kubernetes-group-version-kind",
                     "- group: \"\"\n  kind: Pod\n  version: v1\n");

    /* Containers: items = 23 ItemsItem{schema = 1}, patch metadata. */
    pbr_t ps = named(sub(&defs), 1, "io.k8s.api.core.v1.PodSpec");
    props = get(ps, 25);
    pbr_t ctrs = named(sub(&props), 1, "containers");
    pbv_t items = get(ctrs, 23);
    pbv_t item = get(sub(&items), 1);
    assert_field_str(sub(&item), 1, DEF "io.k8s.api.core.v1.Container");
    assert_extension(ctrs, "x-kubernetes-patch-strategy", "merge\n");
    assert_extension(ctrs, "x-kubernetes-patch-merge-key", "name\n");
    assert_extension(ctrs, "x-kubernetes-list-map-keys", "- name\n");

    /* required = 19 */
    pbr_t ds = named(sub(&defs), 1, "io.k8s.api.apps.v1.DeploymentSpec");
    assert_int_equal(count(ds, 19), 2);
    assert_field_str(ds, 19, "selector");

    /* IntOrString: type string, format = 2 int-or-string. */
    pbr_t ios = named(sub(&defs), 1, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    type = get(ios, 22);
    assert_field_str(sub(&type), 1, "string");
    assert_field_str(ios, 2, "int-or-string");

    /* ConfigMap.data: additionalProperties = 21 {schema = 1}. */
    pbr_t cm = named(sub(&defs), 1, "io.k8s.api.core.v1.ConfigMap");
    props = get(cm, 25);
    pbr_t data = named(sub(&props), 1, "data");
    pbv_t ap = get(data, 21);
    pbv_t aps = get(sub(&ap), 1);
    type = get(sub(&aps), 22);
    assert_field_str(sub(&type), 1, "string");

    /* A path item: get = 2 Operation{operation_id = 5, vendor_extension = 13},
     * path-level parameters = 9 ParametersItem{json_reference = 2}. */
    pbr_t pi = named(sub(&paths), 2, "/apis/apps/v1/namespaces/{namespace}/deployments");
    pbv_t op = get(pi, 2);
    assert_field_str(sub(&op), 5, "listAppsV1NamespacedDeployment");
    pbr_t ext = named(sub(&op), 13, "x-kubernetes-action");
    assert_field_str(ext, 2, "list\n");
    ext = named(sub(&op), 13, "x-kubernetes-group-version-kind");
    assert_field_str(ext, 2, "group: apps\nkind: Deployment\nversion: v1\n");
    pbv_t pitem = get(pi, 9);
    pbv_t jref = get(sub(&pitem), 2);
    assert_field_str(sub(&jref), 1, "#/parameters/namespace");
    /* responses = 9 Responses{response_code = 1 NamedResponseValue} */
    pbv_t resp = get(sub(&op), 9);
    pbr_t r200 = named(sub(&resp), 1, "200");
    pbv_t response = get(r200, 1);
    pbv_t schema_item = get(sub(&response), 2);
    pbv_t schema = get(sub(&schema_item), 1);
    assert_field_str(sub(&schema), 1, DEF "io.k8s.api.apps.v1.DeploymentList");

    /* Shared parameters: Parameter{non_body_parameter = 2 {query = 3}}. */
    pbr_t watch = named(sub(&params), 1, "watch");
    pbv_t nb = get(watch, 2);
    pbv_t qp = get(sub(&nb), 3);
    assert_field_str(sub(&qp), 4, "watch");
    assert_field_str(sub(&qp), 6, "boolean");

    k1s_bytes_unref(b);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_definitions),
        cmocka_unit_test(test_json_paths),
        cmocka_unit_test(test_cached_and_etag),
        cmocka_unit_test(test_protobuf),
    };
    return cmocka_run_group_tests_name("api/openapi-v2", tests, NULL, NULL);
}
