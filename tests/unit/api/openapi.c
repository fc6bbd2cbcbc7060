/* Unit tests for src/api/openapi.c: schema lookup, the /openapi/v3 documents
 * kubectl reads, and field/type validation. Includes the .c to check that
 * nothing is inflated before first use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/openapi.c"

#define S "io.k8s.api."
#define META_S "io.k8s.apimachinery.pkg.apis.meta.v1."

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("bad test JSON at line %d: %s", e.line, e.text);
    return j;
}

/* Runs check_fields on the JSON text and returns the unknown paths joined by
 * spaces (caller frees). */
static char *unknown_of(const char *schema, const char *obj)
{
    json_t *o = parse(obj);
    json_t *u = json_array();
    assert_int_equal(k1s_openapi_check_fields(schema, o, u), 0);
    k1s_buf_t b = K1S_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(u, i, v)
    {
        if (i)
            k1s_buf_putc(&b, ' ');
        k1s_buf_puts(&b, json_string_value(v));
    }
    json_decref(u);
    json_decref(o);
    return k1s_buf_steal(&b);
}

static void assert_unknown(const char *schema, const char *obj, const char *want)
{
    char *got = unknown_of(schema, obj);
    assert_string_equal(got, want);
    free(got);
}

/* Returns the type error for obj ("" if none). */
static void assert_type_error(const char *schema, const char *obj, const char *want)
{
    json_t *o = parse(obj);
    k1s_err_t err = {0};
    int r = k1s_openapi_check_types(schema, o, &err);
    json_decref(o);
    if (!want[0]) {
        if (r != 0)
            fail_msg("unexpected type error: %s", err.msg);
        return;
    }
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.msg, want);
}

static void test_lazy(void **state)
{
    /* Must run first: nothing is inflated until a schema is asked for. */
    assert_null(text);
    assert_null(parsed);
    char *idx;
    size_t len;
    assert_int_equal(k1s_openapi_v3_index(&idx, &len), 0);
    free(idx);
    assert_null(text); /* the index needs no schema */
    assert_non_null(k1s_openapi_schema(S "apps.v1.Deployment"));
    assert_non_null(text);
}

static void test_schema_lookup(void **state)
{
    const json_t *d = k1s_openapi_schema(S "apps.v1.Deployment");
    assert_non_null(d);
    assert_ptr_equal(d, k1s_openapi_schema(S "apps.v1.Deployment"));
    assert_string_equal(json_string_value(json_object_get(d, "type")), "object");
    const json_t *gvk = json_array_get(json_object_get(d, "x-kubernetes-group-version-kind"), 0);
    assert_string_equal(json_string_value(json_object_get(gvk, "group")), "apps");
    assert_string_equal(json_string_value(json_object_get(gvk, "version")), "v1");
    assert_string_equal(json_string_value(json_object_get(gvk, "kind")), "Deployment");
    assert_non_null(json_string_value(json_object_get(d, "description")));

    const json_t *spec = json_object_get(json_object_get(d, "properties"), "spec");
    assert_non_null(json_string_value(json_object_get(spec, "description")));
    const json_t *ref = json_array_get(json_object_get(spec, "allOf"), 0);
    assert_string_equal(json_string_value(json_object_get(ref, "$ref")),
                        "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec");

    const json_t *ds = k1s_openapi_schema(S "apps.v1.DeploymentSpec");
    const json_t *req = json_object_get(ds, "required");
    assert_int_equal(json_array_size(req), 2);
    assert_string_equal(json_string_value(json_array_get(req, 0)), "selector");
    assert_string_equal(json_string_value(json_array_get(req, 1)), "template");
    const json_t *replicas = json_object_get(json_object_get(ds, "properties"), "replicas");
    assert_string_equal(json_string_value(json_object_get(replicas, "type")), "integer");
    assert_string_equal(json_string_value(json_object_get(replicas, "format")), "int32");

    const json_t *q = k1s_openapi_schema("io.k8s.apimachinery.pkg.api.resource.Quantity");
    assert_non_null(json_object_get(q, "oneOf"));
    const json_t *ios = k1s_openapi_schema("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    assert_true(json_is_true(json_object_get(ios, "x-kubernetes-int-or-string")));
    const json_t *t = k1s_openapi_schema(META_S "Time");
    assert_string_equal(json_string_value(json_object_get(t, "format")), "date-time");
    assert_non_null(k1s_openapi_schema(META_S "ObjectMeta"));
    assert_non_null(k1s_openapi_schema(S "autoscaling.v2.HorizontalPodAutoscaler"));
    assert_non_null(k1s_openapi_schema(S "core.v1.LifecycleHandler"));

    /* Every registry resource has its schema. */
    size_t n;
    const k1s_resource_t *const *rs = k1s_registry_all(&n);
    for (size_t i = 0; i < n; i++)
        /* metrics.k8s.io (read_only) has none: upstream it is metrics-server's own document */
        if (!rs[i]->read_only && !k1s_openapi_schema(rs[i]->openapi_name))
            fail_msg("no schema %s", rs[i]->openapi_name);

    assert_null(k1s_openapi_schema(S "apps.v1.Nope"));
    assert_null(k1s_openapi_schema(S "apps.v1"));
    assert_null(k1s_openapi_schema(""));
    assert_null(k1s_openapi_schema(NULL));
}

static void test_resolve_and_patch_metadata(void **state)
{
    const json_t *ps = k1s_openapi_resolve("#/components/schemas/io.k8s.api.core.v1.PodSpec", NULL);
    assert_non_null(ps);
    assert_ptr_equal(ps, k1s_openapi_schema(S "core.v1.PodSpec"));
    assert_ptr_equal(k1s_openapi_resolve("#/definitions/io.k8s.api.core.v1.PodSpec", NULL), ps);
    assert_null(k1s_openapi_resolve("#/components/schemas/nope", NULL));
    assert_null(k1s_openapi_resolve("io.k8s.api.core.v1.PodSpec", NULL));
    assert_null(k1s_openapi_resolve(NULL, NULL));

    const json_t *props = json_object_get(ps, "properties");
    const json_t *containers = json_object_get(props, "containers");
    assert_string_equal(
        json_string_value(json_object_get(containers, "x-kubernetes-patch-strategy")), "merge");
    assert_string_equal(
        json_string_value(json_object_get(containers, "x-kubernetes-patch-merge-key")), "name");
    assert_string_equal(json_string_value(json_object_get(containers, "x-kubernetes-list-type")),
                        "map");
    const json_t *c = k1s_openapi_deref(json_object_get(containers, "items"));
    assert_ptr_equal(c, k1s_openapi_schema(S "core.v1.Container"));
    const json_t *volumes = json_object_get(props, "volumes");
    assert_string_equal(json_string_value(json_object_get(volumes, "x-kubernetes-patch-strategy")),
                        "merge,retainKeys");

    const json_t *ports = json_object_get(json_object_get(c, "properties"), "ports");
    assert_string_equal(json_string_value(json_object_get(ports, "x-kubernetes-patch-merge-key")),
                        "containerPort");
    const json_t *keys = json_object_get(ports, "x-kubernetes-list-map-keys");
    assert_int_equal(json_array_size(keys), 2);
    assert_string_equal(json_string_value(json_array_get(keys, 1)), "protocol");

    const json_t *om = k1s_openapi_schema(META_S "ObjectMeta");
    const json_t *owners = json_object_get(json_object_get(om, "properties"), "ownerReferences");
    assert_string_equal(json_string_value(json_object_get(owners, "x-kubernetes-patch-merge-key")),
                        "uid");
    const json_t *fin = json_object_get(json_object_get(om, "properties"), "finalizers");
    assert_string_equal(json_string_value(json_object_get(fin, "x-kubernetes-patch-strategy")),
                        "merge");

    /* deref through the allOf wrapper of a described field */
    const json_t *ds = k1s_openapi_schema(S "apps.v1.DeploymentSpec");
    const json_t *tmpl = json_object_get(json_object_get(ds, "properties"), "template");
    assert_ptr_equal(k1s_openapi_deref(tmpl), k1s_openapi_schema(S "core.v1.PodTemplateSpec"));
    const json_t *strategy = json_object_get(json_object_get(ds, "properties"), "strategy");
    assert_string_equal(json_string_value(json_object_get(strategy, "x-kubernetes-patch-strategy")),
                        "retainKeys");

    /* Taints have no strategy upstream: replaced as a whole. */
    const json_t *ns = k1s_openapi_schema(S "core.v1.NodeSpec");
    assert_null(json_object_get(json_object_get(json_object_get(ns, "properties"), "taints"),
                                "x-kubernetes-patch-strategy"));
}

static json_t *get_doc(const char *path, const char **etag)
{
    k1s_bytes_t *b = NULL;
    assert_int_equal(k1s_openapi_v3_doc(path, &b, etag), 0);
    json_t *j = parse(b->data);
    k1s_bytes_unref(b);
    return j;
}

static bool has_query_param(const json_t *op, const char *name)
{
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p)
    {
        if (k1s_streq(json_string_value(json_object_get(p, "name")), name) &&
            k1s_streq(json_string_value(json_object_get(p, "in")), "query"))
            return true;
    }
    return false;
}

static void assert_gvk(const json_t *op, const char *group, const char *version, const char *kind)
{
    const json_t *g = json_object_get(op, "x-kubernetes-group-version-kind");
    assert_true(json_is_object(g));
    assert_string_equal(json_string_value(json_object_get(g, "group")), group);
    assert_string_equal(json_string_value(json_object_get(g, "version")), version);
    assert_string_equal(json_string_value(json_object_get(g, "kind")), kind);
}

/* Every $ref in node resolves within the document's components. */
static void assert_refs_closed(const json_t *node, const json_t *schemas)
{
    if (json_is_object(node)) {
        const char *ref = json_string_value(json_object_get(node, "$ref"));
        if (ref) {
            assert_true(k1s_str_has_prefix(ref, REF_PREFIX));
            if (!json_object_get(schemas, ref + strlen(REF_PREFIX)))
                fail_msg("dangling %s", ref);
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)node, k, v)
        {
            assert_refs_closed(v, schemas);
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach((json_t *)node, i, v)
        {
            assert_refs_closed(v, schemas);
        }
    }
}

static void test_v3_index(void **state)
{
    char *s;
    size_t len;
    assert_int_equal(k1s_openapi_v3_index(&s, &len), 0);
    assert_int_equal(strlen(s), len);
    json_t *idx = parse(s);
    free(s);
    const json_t *paths = json_object_get(idx, "paths");
    size_t n;
    const k1s_group_version_t *gvs = k1s_registry_group_versions(&n);
    for (size_t i = 0; i < n; i++) {
        char *p = gvs[i].group[0] ? k1s_xasprintf("apis/%s/%s", gvs[i].group, gvs[i].version)
                                  : k1s_xasprintf("api/%s", gvs[i].version);
        const json_t *e = json_object_get(paths, p);
        if (!e)
            fail_msg("index lacks %s", p);
        const char *url = json_string_value(json_object_get(e, "serverRelativeURL"));
        char *prefix = k1s_xasprintf("/openapi/v3/%s?hash=", p);
        assert_true(k1s_str_has_prefix(url, prefix));
        assert_int_equal(strlen(url), strlen(prefix) + 64);
        /* the hash in the index is the document's etag */
        k1s_bytes_t *b;
        const char *etag;
        assert_int_equal(k1s_openapi_v3_doc(p, &b, &etag), 0);
        assert_string_equal(url + strlen(prefix), etag);
        k1s_bytes_unref(b);
        free(prefix);
        free(p);
    }
    assert_non_null(json_object_get(paths, "api"));
    assert_non_null(json_object_get(paths, "apis"));
    assert_non_null(json_object_get(paths, "apis/apps"));
    json_decref(idx);
}

static void test_v3_doc_apps(void **state)
{
    const char *etag;
    json_t *doc = get_doc("apis/apps/v1", &etag);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.0.0");
    const json_t *paths = json_object_get(doc, "paths");
    const json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");

    /* What kubectl checks before sending ?fieldValidation=Strict: the PATCH
     * of every path that carries the kind's GVK declares the parameter. */
    const json_t *item =
        json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
    assert_non_null(item);
    const json_t *patch = json_object_get(item, "patch");
    assert_true(has_query_param(patch, "fieldValidation"));
    assert_true(has_query_param(patch, "fieldManager"));
    assert_true(has_query_param(patch, "dryRun"));
    assert_true(has_query_param(patch, "force"));
    assert_gvk(patch, "apps", "v1", "Deployment");
    assert_string_equal(json_string_value(json_object_get(patch, "x-kubernetes-action")), "patch");
    assert_non_null(
        json_object_get(json_object_get(json_object_get(patch, "requestBody"), "content"),
                        "application/strategic-merge-patch+json"));
    assert_true(has_query_param(json_object_get(item, "put"), "fieldValidation"));
    assert_gvk(json_object_get(item, "get"), "apps", "v1", "Deployment");
    assert_gvk(json_object_get(item, "delete"), "apps", "v1", "Deployment");

    const json_t *coll = json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments");
    assert_true(has_query_param(json_object_get(coll, "post"), "fieldValidation"));
    assert_true(has_query_param(json_object_get(coll, "get"), "labelSelector"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(coll, "get"), "x-kubernetes-action")),
        "list");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(coll, "delete"), "x-kubernetes-action")),
        "deletecollection");
    assert_non_null(json_object_get(paths, "/apis/apps/v1/deployments"));

    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(item, "parameters"), i, p)
    {
        if (k1s_streq(json_string_value(json_object_get(p, "name")), "namespace"))
            assert_true(json_is_true(json_object_get(p, "required")));
    }

    const json_t *status =
        json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status");
    assert_true(has_query_param(json_object_get(status, "patch"), "fieldValidation"));
    assert_gvk(json_object_get(status, "patch"), "apps", "v1", "Deployment");
    const json_t *scale =
        json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale");
    assert_gvk(json_object_get(scale, "patch"), "autoscaling", "v1", "Scale");
    assert_true(has_query_param(json_object_get(scale, "patch"), "fieldValidation"));

    /* Components: the closure of what the paths use. */
    const json_t *spec = json_object_get(schemas, S "apps.v1.DeploymentSpec");
    assert_non_null(spec);
    const json_t *replicas = json_object_get(json_object_get(spec, "properties"), "replicas");
    assert_true(strstr(json_string_value(json_object_get(replicas, "description")),
                       "Number of desired pods") != NULL);
    assert_non_null(json_object_get(schemas, S "core.v1.PodSpec"));
    assert_non_null(json_object_get(schemas, S "autoscaling.v1.Scale"));
    assert_non_null(json_object_get(schemas, META_S "Patch"));
    assert_non_null(json_object_get(schemas, META_S "DeleteOptions"));
    assert_null(json_object_get(schemas, S "batch.v1.Job"));
    assert_refs_closed(doc, schemas);
    json_decref(doc);

    /* cached: the same bytes the second time */
    k1s_bytes_t *a, *b;
    assert_int_equal(k1s_openapi_v3_doc("/apis/apps/v1", &a, NULL), 0);
    assert_int_equal(k1s_openapi_v3_doc("apis/apps/v1/", &b, NULL), 0);
    assert_ptr_equal(a, b);
    k1s_bytes_unref(b);
    assert_int_equal(k1s_openapi_v3_doc("apis/apps/v1?hash=0123", &b, NULL), 0);
    assert_ptr_equal(a, b);
    k1s_bytes_unref(a);
    k1s_bytes_unref(b);
}

static void test_v3_doc_core_and_discovery(void **state)
{
    json_t *doc = get_doc("api/v1", NULL);
    const json_t *paths = json_object_get(doc, "paths");
    const json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    /* cluster-scoped */
    const json_t *ns = json_object_get(paths, "/api/v1/namespaces/{name}");
    assert_non_null(ns);
    assert_gvk(json_object_get(ns, "patch"), "", "v1", "Namespace");
    assert_true(has_query_param(json_object_get(ns, "patch"), "fieldValidation"));
    assert_non_null(json_object_get(paths, "/api/v1/nodes/{name}/status"));
    /* namespaced */
    const json_t *pod = json_object_get(paths, "/api/v1/namespaces/{namespace}/pods/{name}");
    assert_gvk(json_object_get(pod, "patch"), "", "v1", "Pod");
    const json_t *evict =
        json_object_get(paths, "/api/v1/namespaces/{namespace}/pods/{name}/eviction");
    assert_gvk(json_object_get(evict, "post"), "policy", "v1", "Eviction");
    assert_non_null(json_object_get(
        json_object_get(paths, "/api/v1/namespaces/{namespace}/pods/{name}/binding"), "post"));
    assert_non_null(json_object_get(schemas, S "core.v1.ConfigMap"));
    assert_non_null(json_object_get(schemas, S "policy.v1.Eviction"));
    assert_refs_closed(doc, schemas);
    json_decref(doc);

    doc = get_doc("apis/autoscaling/v2", NULL);
    assert_non_null(json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
                                    S "autoscaling.v2.HorizontalPodAutoscaler"));
    json_decref(doc);

    doc = get_doc("apis", NULL);
    assert_non_null(json_object_get(json_object_get(doc, "paths"), "/apis/"));
    json_decref(doc);
    doc = get_doc("api", NULL);
    assert_non_null(json_object_get(json_object_get(doc, "paths"), "/api/"));
    json_decref(doc);
    doc = get_doc("apis/rbac.authorization.k8s.io", NULL);
    assert_non_null(
        json_object_get(json_object_get(doc, "paths"), "/apis/rbac.authorization.k8s.io/"));
    json_decref(doc);

    k1s_bytes_t *b = NULL;
    assert_int_equal(k1s_openapi_v3_doc("apis/apps/v2", &b, NULL), -ENOENT);
    assert_int_equal(k1s_openapi_v3_doc("apis/nope/v1", &b, NULL), -ENOENT);
    assert_int_equal(k1s_openapi_v3_doc("apis/nope", &b, NULL), -ENOENT);
    assert_int_equal(k1s_openapi_v3_doc("api/v2", &b, NULL), -ENOENT);
    assert_int_equal(k1s_openapi_v3_doc("apis/apps/v1/deployments", &b, NULL), -ENOENT);
    assert_int_equal(k1s_openapi_v3_doc("", &b, NULL), -ENOENT);
    assert_int_equal(k1s_openapi_v3_doc("version", &b, NULL), -ENOENT);
    assert_null(b);
}

static void test_unknown_fields(void **state)
{
    const char *D = S "apps.v1.Deployment";
    /* top level, nested object, list of objects, unknown inside unknown not searched */
    assert_unknown(D,
                   "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"foo\":{\"bar\":1},"
                   "\"metadata\":{\"name\":\"a\",\"labelz\":{}},"
                   "\"spec\":{\"replicass\":2,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
                   "\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"},"
                   "{\"name\":\"b\",\"imagee\":\"y\",\"ports\":[{\"containerPort\":80,\"proto\":"
                   "\"TCP\"}]}]}}}}",
                   "foo metadata.labelz spec.replicass spec.template.spec.containers[1].imagee "
                   "spec.template.spec.containers[1].ports[0].proto");
    /* case-sensitive, like Kubernetes */
    assert_unknown(D, "{\"Spec\":{},\"spec\":{\"Replicas\":1}}", "Spec spec.Replicas");
    /* maps: keys are data, values are checked against the value schema */
    assert_unknown(
        S "core.v1.Pod",
        "{\"metadata\":{\"labels\":{\"anything\":\"x\"},\"annotations\":{\"a/b\":\"c\"}},"
        "\"spec\":{\"nodeSelector\":{\"k\":\"v\"},\"containers\":[{\"name\":\"a\","
        "\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":1024}}}]}}",
        "");
    /* a map of objects: CRD schema properties */
    assert_unknown(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        "{\"spec\":{\"group\":\"x.io\",\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":"
        "true,"
        "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":"
        "\"object\","
        "\"typo\":1,\"default\":{\"any\":\"thing\"},\"x-kubernetes-preserve-unknown-fields\":true,"
        "\"additionalProperties\":{\"type\":\"string\"},\"items\":{\"type\":\"string\"},"
        "\"x-kubernetes-validations\":[{\"rule\":\"self.a > 0\",\"message\":\"m\"}]}}}}}],"
        "\"names\":{\"plural\":\"xs\",\"kind\":\"X\"},\"scope\":\"Namespaced\"}}",
        "spec.versions[0].schema.openAPIV3Schema.properties.spec.typo");
    /* preserve-unknown-fields: RawExtension holds any object */
    assert_unknown(S "apps.v1.ControllerRevision",
                   "{\"revision\":1,\"data\":{\"spec\":{\"whatever\":[1,{\"a\":2}]}},\"bogus\":1}",
                   "bogus");
    /* int-or-string and quantities in either form */
    assert_unknown(S "core.v1.Service",
                   "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":\"http\"},{\"port\":81,"
                   "\"targetPort\":8081,"
                   "\"nodeport\":1}]}}",
                   "spec.ports[1].nodeport");
    /* status is a known field of the main resource */
    assert_unknown(
        D, "{\"status\":{\"replicas\":1,\"conditions\":[{\"type\":\"Available\",\"x\":1}]}}",
        "status.conditions[0].x");
    /* null values are fine anywhere */
    assert_unknown(
        D, "{\"metadata\":null,\"spec\":{\"template\":null,\"strategy\":{\"rollingUpdate\":null}}}",
        "");

    /* errors */
    json_t *o = parse("{}"), *u = json_array();
    assert_int_equal(k1s_openapi_check_fields(S "apps.v1.Nope", o, u), -ENOENT);
    assert_int_equal(k1s_openapi_check_fields(NULL, o, u), -ENOENT);
    json_decref(o);
    json_decref(u);

    /* at most 100 paths, as Kubernetes */
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "{\"metadata\":{");
    for (int i = 0; i < 150; i++)
        k1s_buf_printf(&b, "%s\"x%d\":1", i ? "," : "", i);
    k1s_buf_puts(&b, "}}");
    o = parse(b.data);
    u = json_array();
    assert_int_equal(k1s_openapi_check_fields(D, o, u), 0);
    assert_int_equal(json_array_size(u), 100);
    assert_string_equal(json_string_value(json_array_get(u, 0)), "metadata.x0");
    json_decref(o);
    json_decref(u);
    k1s_buf_free(&b);
}

/* Realistic objects, as users write them: no unknown fields, no type errors. */
static const struct {
    const char *schema, *obj;
} good[] = {
    {S "apps.v1.Deployment",
     "{\"apiVersion\":\"apps/"
     "v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
     "\"labels\":{\"app\":\"web\"},\"annotations\":{\"deployment.kubernetes.io/revision\":\"1\"},"
     "\"generation\":3,\"resourceVersion\":\"42\",\"uid\":\"0f1e\",\"creationTimestamp\":\"2024-01-"
     "02T03:04:05Z\","
     "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"apiVersion\":\"apps/"
     "v1\","
     "\"time\":\"2024-01-02T03:04:05Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:"
     "replicas\":{}}}}],"
     "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"X\",\"name\":\"o\",\"uid\":\"u\","
     "\"controller\":true}],"
     "\"finalizers\":[\"a/b\"]},"
     "\"spec\":{\"replicas\":3,\"revisionHistoryLimit\":10,\"progressDeadlineSeconds\":600,"
     "\"selector\":{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\","
     "\"operator\":\"In\","
     "\"values\":[\"fe\"]}]},"
     "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\","
     "\"maxUnavailable\":0}},"
     "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
     "\"initContainers\":[{\"name\":\"proxy\",\"image\":\"envoy\",\"restartPolicy\":\"Always\"}],"
     "\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.25\",\"imagePullPolicy\":"
     "\"IfNotPresent\","
     "\"command\":[\"nginx\"],\"args\":[\"-g\",\"daemon off;\"],"
     "\"ports\":[{\"name\":\"http\",\"containerPort\":80,\"protocol\":\"TCP\"}],"
     "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"POD\",\"valueFrom\":{\"fieldRef\":{"
     "\"fieldPath\":"
     "\"metadata.name\"}}},{\"name\":\"P\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":"
     "\"k\","
     "\"optional\":true}}}],"
     "\"envFrom\":[{\"configMapRef\":{\"name\":\"cm\"}}],"
     "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"},\"limits\":{\"cpu\":1,"
     "\"memory\":\"1Gi\"}},"
     "\"livenessProbe\":{\"httpGet\":{\"path\":\"/"
     "healthz\",\"port\":\"http\"},\"initialDelaySeconds\":3,"
     "\"periodSeconds\":10},\"readinessProbe\":{\"tcpSocket\":{\"port\":80}},"
     "\"startupProbe\":{\"grpc\":{\"port\":9000},\"failureThreshold\":30},"
     "\"lifecycle\":{\"preStop\":{\"sleep\":{\"seconds\":5}},\"postStart\":{\"exec\":{\"command\":["
     "\"true\"]}}},"
     "\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/data\",\"readOnly\":true}],"
     "\"securityContext\":{\"runAsNonRoot\":true,\"runAsUser\":1000,\"allowPrivilegeEscalation\":"
     "false,"
     "\"capabilities\":{\"drop\":[\"ALL\"]},\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}}],"
     "\"volumes\":[{\"name\":\"data\",\"emptyDir\":{\"sizeLimit\":\"1Gi\"}},{\"name\":\"cfg\","
     "\"configMap\":"
     "{\"name\":\"cm\",\"defaultMode\":420,\"items\":[{\"key\":\"a\",\"path\":\"a\"}]}},"
     "{\"name\":\"sec\",\"secret\":{\"secretName\":\"s\"}},{\"name\":\"pvc\","
     "\"persistentVolumeClaim\":"
     "{\"claimName\":\"c\"}},{\"name\":\"proj\",\"projected\":{\"sources\":[{"
     "\"serviceAccountToken\":"
     "{\"path\":\"token\",\"expirationSeconds\":3600}}]}}],"
     "\"affinity\":{\"podAntiAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":[{"
     "\"weight\":100,"
     "\"podAffinityTerm\":{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"topologyKey\":"
     "\"kubernetes.io/hostname\"}}]}},"
     "\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\","
     "\"tolerationSeconds\":300}],"
     "\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"zone\",\"whenUnsatisfiable\":"
     "\"DoNotSchedule\","
     "\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"minDomains\":2}],"
     "\"securityContext\":{\"fsGroup\":2000,\"sysctls\":[{\"name\":\"net.ipv4.ip_forward\","
     "\"value\":\"1\"}]},"
     "\"os\":{\"name\":\"linux\"},\"serviceAccountName\":\"sa\",\"terminationGracePeriodSeconds\":"
     "30,"
     "\"dnsPolicy\":\"ClusterFirst\",\"restartPolicy\":\"Always\",\"nodeSelector\":{\"disk\":"
     "\"ssd\"}}}},"
     "\"status\":{\"observedGeneration\":3,\"replicas\":3,\"readyReplicas\":3,\"conditions\":[{"
     "\"type\":"
     "\"Available\",\"status\":\"True\",\"lastUpdateTime\":\"2024-01-02T03:04:05Z\",\"reason\":"
     "\"MinimumReplicasAvailable\"}]}}"},
    {S "core.v1.Pod",
     "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"generateName\":\"p-\"}"
     ","
     "\"spec\":{\"nodeName\":\"n1\",\"hostNetwork\":false,\"containers\":[{\"name\":\"c\","
     "\"image\":\"busybox\","
     "\"stdin\":true,\"tty\":true,\"workingDir\":\"/\",\"terminationMessagePolicy\":\"File\"}],"
     "\"schedulingGates\":[{\"name\":\"g\"}],\"priority\":0,\"enableServiceLinks\":true,"
     "\"hostAliases\":[{\"ip\":\"1.2.3.4\",\"hostnames\":[\"a\"]}],\"imagePullSecrets\":[{\"name\":"
     "\"r\"}]},"
     "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.42.0.5\",\"podIPs\":[{\"ip\":\"10.42.0.5\"}]"
     ","
     "\"hostIPs\":[{\"ip\":\"192.168.1.2\"}],\"startTime\":\"2024-01-02T03:04:05Z\",\"qosClass\":"
     "\"BestEffort\","
     "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastProbeTime\":null}],"
     "\"containerStatuses\":[{\"name\":\"c\",\"ready\":true,\"restartCount\":0,\"image\":"
     "\"busybox\","
     "\"imageID\":\"sha256:x\",\"containerID\":\"k1s://x\",\"started\":true,"
     "\"state\":{\"running\":{\"startedAt\":\"2024-01-02T03:04:05Z\"}},\"lastState\":{}}]}}"},
    {S "core.v1.Service",
     "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":"
     "\"NodePort\","
     "\"selector\":{\"app\":\"web\"},\"clusterIP\":\"10.43.0.10\",\"clusterIPs\":[\"10.43.0.10\"],"
     "\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":\"SingleStack\",\"sessionAffinity\":\"None\","
     "\"externalTrafficPolicy\":\"Cluster\",\"internalTrafficPolicy\":\"Cluster\","
     "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080,\"nodePort\":30080,"
     "\"protocol\":\"TCP\"},"
     "{\"name\":\"dns\",\"port\":53,\"targetPort\":\"dns\",\"protocol\":\"UDP\",\"appProtocol\":"
     "\"dns\"}]},"
     "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"1.2.3.4\",\"ipMode\":\"VIP\"}]}}}"},
    {S "core.v1.ConfigMap", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                            "\"c\",\"namespace\":\"n\"},"
                            "\"data\":{\"a.conf\":\"x=1\\n\",\"b\":\"\"},\"binaryData\":{\"bin\":"
                            "\"AAEC\"},\"immutable\":false}"},
    {S "core.v1.Secret",
     "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},\"type\":\"Opaque\","
     "\"data\":{\"password\":\"aHVudGVyMg==\",\"empty\":\"\",\"wrapped\":\"YWJj\\nZGVm\"},"
     "\"stringData\":{\"user\":\"admin\"}}"},
    {S "batch.v1.CronJob",
     "{\"apiVersion\":\"batch/"
     "v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"cj\"},\"spec\":{\"schedule\":"
     "\"*/5 * * * "
     "*\",\"timeZone\":\"Etc/UTC\",\"concurrencyPolicy\":\"Forbid\",\"startingDeadlineSeconds\":60,"
     "\"jobTemplate\":{\"spec\":{\"backoffLimit\":2,\"ttlSecondsAfterFinished\":100,"
     "\"podFailurePolicy\":"
     "{\"rules\":[{\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]}]},"
     "\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\","
     "\"image\":\"b\"}]}}}}}}"},
    {S "networking.v1.Ingress", "{\"apiVersion\":\"networking.k8s.io/"
                                "v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"i\"},\"spec\":"
                                "{\"ingressClassName\":\"k1s\",\"tls\":[{\"hosts\":[\"a.example\"],"
                                "\"secretName\":\"t\"}],\"rules\":[{\"host\":"
                                "\"a.example\",\"http\":{\"paths\":[{\"path\":\"/"
                                "\",\"pathType\":\"Prefix\",\"backend\":{\"service\":"
                                "{\"name\":\"s\",\"port\":{\"number\":80}}}}]}}]}}"},
    {S "autoscaling.v2.HorizontalPodAutoscaler",
     "{\"apiVersion\":\"autoscaling/"
     "v2\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":{\"name\":\"h\"},"
     "\"spec\":{\"scaleTargetRef\":{\"apiVersion\":\"apps/"
     "v1\",\"kind\":\"Deployment\",\"name\":\"web\"},"
     "\"minReplicas\":1,\"maxReplicas\":5,\"metrics\":[{\"type\":\"Resource\",\"resource\":{"
     "\"name\":\"cpu\","
     "\"target\":{\"type\":\"Utilization\",\"averageUtilization\":80}}},{\"type\":\"Pods\","
     "\"pods\":{\"metric\":"
     "{\"name\":\"rps\"},\"target\":{\"type\":\"AverageValue\",\"averageValue\":\"100m\"}}}],"
     "\"behavior\":{\"scaleDown\":{\"stabilizationWindowSeconds\":300,\"policies\":[{\"type\":"
     "\"Percent\","
     "\"value\":10,\"periodSeconds\":60}]}}}}"},
    {S "apps.v1.StatefulSet",
     "{\"apiVersion\":\"apps/"
     "v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"db\"},\"spec\":{\"serviceName\":"
     "\"db\",\"replicas\":3,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"podManagementPolicy\":"
     "\"Parallel\","
     "\"persistentVolumeClaimRetentionPolicy\":{\"whenDeleted\":\"Delete\"},\"ordinals\":{"
     "\"start\":1},"
     "\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":0,"
     "\"maxUnavailable\":1}},"
     "\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":"
     "\"c\",\"image\":\"x\"}]}},"
     "\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"},\"spec\":{\"accessModes\":["
     "\"ReadWriteOnce\"],"
     "\"storageClassName\":\"local\",\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}]}}"},
    {S "rbac.v1.ClusterRole",
     "{\"apiVersion\":\"rbac.authorization.k8s.io/"
     "v1\",\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"r\"},"
     "\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/"
     "log\"],\"verbs\":[\"get\",\"list\"]},"
     "{\"nonResourceURLs\":[\"/"
     "healthz\"],\"verbs\":[\"get\"]}],\"aggregationRule\":{\"clusterRoleSelectors\":"
     "[{\"matchLabels\":{\"x\":\"y\"}}]}}"},
    {S "core.v1.Node",
     "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"},\"spec\":{\"podCIDR\":"
     "\"10.42.0.0/24\","
     "\"podCIDRs\":[\"10.42.0.0/"
     "24\"],\"taints\":[{\"key\":\"k\",\"effect\":\"NoSchedule\"}]},\"status\":{"
     "\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":"
     "\"3900m\"},"
     "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.1.2\"}],\"daemonEndpoints\":{"
     "\"kubeletEndpoint\":"
     "{\"Port\":10250}},\"nodeInfo\":{\"kubeletVersion\":\"v1.32.0\",\"architecture\":\"amd64\"},"
     "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastHeartbeatTime\":\"2024-01-"
     "02T03:04:05Z\"}]}}"},
    {S "coordination.v1.Lease", "{\"apiVersion\":\"coordination.k8s.io/"
                                "v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"l\"},\"spec\":"
                                "{\"holderIdentity\":\"n\",\"leaseDurationSeconds\":40,"
                                "\"renewTime\":\"2024-01-02T03:04:05.123456Z\"}}"},
    {S "core.v1.Event", "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"e\"},"
                        "\"involvedObject\":{\"kind\":\"Pod\","
                        "\"name\":\"p\",\"namespace\":\"d\"},\"reason\":\"Pulled\",\"message\":"
                        "\"ok\",\"type\":\"Normal\",\"count\":2,"
                        "\"source\":{\"component\":\"kubelet\"},\"firstTimestamp\":\"2024-01-02T03:"
                        "04:05Z\",\"eventTime\":null}"},
};

static void test_no_false_positives(void **state)
{
    for (size_t i = 0; i < K1S_ARRAY_SIZE(good); i++) {
        char *u = unknown_of(good[i].schema, good[i].obj);
        if (u[0])
            fail_msg("%s: unexpected unknown fields: %s", good[i].schema, u);
        free(u);
        assert_type_error(good[i].schema, good[i].obj, "");
    }
}

static void test_type_errors(void **state)
{
    const char *D = S "apps.v1.Deployment";
    assert_type_error(D, "{\"spec\":{\"replicas\":\"3\"}}",
                      "json: cannot unmarshal string into Go struct field "
                      "DeploymentSpec.spec.replicas of type int32");
    assert_type_error(D, "{\"spec\":{\"replicas\":3000000000}}",
                      "json: cannot unmarshal number 3000000000 into Go struct field "
                      "DeploymentSpec.spec.replicas of "
                      "type int32");
    assert_type_error(D, "{\"spec\":{\"replicas\":1.5}}",
                      "json: cannot unmarshal number 1.5 into Go struct field "
                      "DeploymentSpec.spec.replicas of type int32");
    assert_type_error(D, "{\"metadata\":{\"labels\":{\"a\":1}}}",
                      "json: cannot unmarshal number into Go struct field "
                      "ObjectMeta.metadata.labels of type string");
    assert_type_error(D, "{\"metadata\":{\"generation\":\"x\"}}",
                      "json: cannot unmarshal string into Go struct field "
                      "ObjectMeta.metadata.generation of type int64");
    assert_type_error(D, "{\"spec\":\"x\"}",
                      "json: cannot unmarshal string into Go struct field Deployment.spec of type "
                      "v1.DeploymentSpec");
    assert_type_error(D, "{\"spec\":{\"template\":{\"spec\":{\"containers\":{\"name\":\"a\"}}}}}",
                      "json: cannot unmarshal object into Go struct field "
                      "PodSpec.spec.template.spec.containers of type "
                      "[]v1.Container");
    assert_type_error(
        D, "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"args\":[1]}]}}}}",
        "json: cannot unmarshal number into Go struct field "
        "Container.spec.template.spec.containers.args "
        "of type string");
    assert_type_error(D, "{\"spec\":{\"paused\":\"true\"}}",
                      "json: cannot unmarshal string into Go struct field "
                      "DeploymentSpec.spec.paused of type bool");
    assert_type_error(D, "[]", "json: cannot unmarshal array into Go value of type v1.Deployment");
    assert_type_error(
        D, "{\"spec\":{\"strategy\":{\"rollingUpdate\":{\"maxSurge\":true}}}}",
        "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy."
        "rollingUpdate.maxSurge of type intstr.IntOrString");
    assert_type_error(
        S "core.v1.Pod", "{\"spec\":{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":[]}}}]}}",
        "json: cannot unmarshal array into Go struct field ResourceRequirements.spec.containers."
        "resources.limits of type resource.Quantity");
    assert_type_error(S "core.v1.Secret", "{\"data\":{\"k\":\"not base64!\"}}",
                      "illegal base64 data at input byte 3");
    assert_type_error(S "core.v1.Secret", "{\"data\":{\"k\":\"YWJ\"}}",
                      "illegal base64 data at input byte 0");
    assert_type_error(S "core.v1.Secret", "{\"data\":{\"k\":\"YQ=\"}}",
                      "illegal base64 data at input byte 3");
    assert_type_error(S "core.v1.Secret", "{\"data\":{\"k\":\"YQ==YQ==\"}}",
                      "illegal base64 data at input byte 4");
    assert_type_error(S "core.v1.Secret",
                      "{\"data\":{\"k\":\"YQ==\",\"l\":\"YWI=\",\"m\":\"YWJj\"}}", "");
    /* unknown fields are not type errors, and their contents are not checked */
    assert_type_error(D, "{\"spec\":{\"replicass\":\"x\"}}", "");
    /* int64 holds what int32 cannot */
    assert_type_error(D, "{\"metadata\":{\"generation\":3000000000}}", "");

    json_t *o = parse("{}");
    k1s_err_t err;
    assert_int_equal(k1s_openapi_check_types(S "nope", o, &err), -ENOENT);
    json_decref(o);
}

static void *hammer(void *arg)
{
    for (int i = 0; i < 200; i++) {
        size_t k = ((size_t)i * 7919u + (size_t)(uintptr_t)arg) % k1s_openapi_count;
        if (!k1s_openapi_schema(k1s_openapi_names[k]))
            return (void *)1;
    }
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy),
        cmocka_unit_test(test_schema_lookup),
        cmocka_unit_test(test_resolve_and_patch_metadata),
        cmocka_unit_test(test_v3_index),
        cmocka_unit_test(test_v3_doc_apps),
        cmocka_unit_test(test_v3_doc_core_and_discovery),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_no_false_positives),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("api/openapi", tests, NULL, NULL);
}
