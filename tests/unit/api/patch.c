/*
 * Unit tests for src/api/patch.c: JSON Patch, merge patch and strategic merge
 * patch against a small hand-written OpenAPI v3 schema shaped like
 * Kubernetes' own (allOf-wrapped $refs, x-kubernetes-patch-* extensions).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/patch.h"

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s (col %d)", s, je.text, je.column);
    return v;
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

#define REF(t) "{\"allOf\":[{\"$ref\":\"#/components/schemas/" t "\"}],\"default\":{}}"
#define MERGE_LIST(t, key)                                                                         \
    "{\"type\":\"array\",\"items\":" REF(t) ",\"x-kubernetes-patch-merge-key\":\"" key "\","       \
                                            "\"x-kubernetes-patch-strategy\":\"merge\"}"

static const char *schema_text =
    "{"
    "\"io.k8s.api.core.v1.Pod\":{\"type\":\"object\",\"properties\":{"
    "  "
    "\"apiVersion\":{\"type\":\"string\"},\"kind\":{\"type\":"
    "\"string\"},"
    "  \"metadata\":" REF(
        "io.k8s.apimachinery.pkg.apis.meta.v1."
        "ObjectMeta") ","
                      "  \"spec\":" REF("io.k8s.api.core.v1."
                                        "PodSpec") ","
                                                   "  "
                                                   "\"status\":{"
                                                   "\"$ref\":\"#/"
                                                   "components/"
                                                   "schemas/"
                                                   "io.k8s.api."
                                                   "core.v1."
                                                   "PodStatus\"}}}"
                                                   ","
                                                   "\"io.k8s."
                                                   "apimachinery."
                                                   "pkg.apis.meta."
                                                   "v1."
                                                   "ObjectMeta\":{"
                                                   "\"type\":"
                                                   "\"object\","
                                                   "\"properties\""
                                                   ":{"
                                                   "  "
                                                   "\"name\":{"
                                                   "\"type\":"
                                                   "\"string\"},"
                                                   "  "
                                                   "\"labels\":{"
                                                   "\"type\":"
                                                   "\"object\","
                                                   "\"additionalPr"
                                                   "operties\":{"
                                                   "\"type\":"
                                                   "\"string\","
                                                   "\"default\":"
                                                   "\"\"}},"
                                                   "  "
                                                   "\"annotations"
                                                   "\":{\"type\":"
                                                   "\"object\","
                                                   "\"additionalPr"
                                                   "operties\":{"
                                                   "\"type\":"
                                                   "\"string\"}},"
                                                   "  "
                                                   "\"finalizers\""
                                                   ":{\"type\":"
                                                   "\"array\","
                                                   "\"items\":{"
                                                   "\"type\":"
                                                   "\"string\","
                                                   "\"default\":"
                                                   "\"\"},"
                                                   "     "
                                                   "\"x-"
                                                   "kubernetes-"
                                                   "list-type\":"
                                                   "\"set\",\"x-"
                                                   "kubernetes-"
                                                   "patch-"
                                                   "strategy\":"
                                                   "\"merge\"},"
                                                   "  "
                                                   "\"ownerReferen"
                                                   "ces\""
                                                   ":" MERGE_LIST(
                                                       "io.k8s."
                                                       "apimachine"
                                                       "ry.pkg."
                                                       "apis.meta."
                                                       "v1."
                                                       "OwnerRefer"
                                                       "ence",
                                                       "uid") "}},"
                                                              "\"i"
                                                              "o."
                                                              "k8s"
                                                              ".ap"
                                                              "ima"
                                                              "chi"
                                                              "ner"
                                                              "y."
                                                              "pkg"
                                                              ".ap"
                                                              "is."
                                                              "met"
                                                              "a."
                                                              "v1."
                                                              "Own"
                                                              "erR"
                                                              "efe"
                                                              "ren"
                                                              "ce"
                                                              "\":"
                                                              "{\""
                                                              "typ"
                                                              "e\""
                                                              ":\""
                                                              "obj"
                                                              "ect"
                                                              "\","
                                                              "\"p"
                                                              "rop"
                                                              "ert"
                                                              "ies"
                                                              "\":"
                                                              "{"
                                                              "  "
                                                              "\"u"
                                                              "id"
                                                              "\":"
                                                              "{\""
                                                              "typ"
                                                              "e\""
                                                              ":\""
                                                              "str"
                                                              "ing"
                                                              "\"}"
                                                              ",\""
                                                              "nam"
                                                              "e\""
                                                              ":{"
                                                              "\"t"
                                                              "ype"
                                                              "\":"
                                                              "\"s"
                                                              "tri"
                                                              "ng"
                                                              "\"}"
                                                              "}},"
                                                              "\"i"
                                                              "o."
                                                              "k8s"
                                                              ".ap"
                                                              "i."
                                                              "cor"
                                                              "e."
                                                              "v1."
                                                              "Pod"
                                                              "Spe"
                                                              "c\""
                                                              ":{"
                                                              "\"t"
                                                              "ype"
                                                              "\":"
                                                              "\"o"
                                                              "bje"
                                                              "ct"
                                                              "\","
                                                              "\"p"
                                                              "rop"
                                                              "ert"
                                                              "ies"
                                                              "\":"
                                                              "{"
                                                              "  "
                                                              "\"c"
                                                              "ont"
                                                              "ain"
                                                              "ers"
                                                              "\""
                                                              ":" MERGE_LIST(
                                                                  "io.k8s.api.core.v1.Container", "name") ","
                                                                                                          "  \"initContainers\":" MERGE_LIST(
                                                                                                              "io.k8s.api.core.v1.Container",
                                                                                                              "name") ","
                                                                                                                      "  \"volumes\":{\"type\":\"array\",\"items\":" REF("io.k8s.api.core.v1.Volume") ","
                                                                                                                                                                                                      "     \"x-kubernetes-patch-merge-key\":\"name\","
                                                                                                                                                                                                      "     \"x-kubernetes-patch-strategy\":\"merge,retainKeys\"},"
                                                                                                                                                                                                      "  \"nodeSelector\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},"
                                                                                                                                                                                                      "     \"x-kubernetes-map-type\":\"atomic\"},"
                                                                                                                                                                                                      "  \"tolerations\":{\"type\":\"array\",\"items\":" REF(
                                                                                                                                                                                                          "io.k8s.api.core.v1.Toleration") ","
                                                                                                                                                                                                                                           "     \"x-kubernetes-list-type\":\"atomic\"},"
                                                                                                                                                                                                                                           "  \"affinity\":" REF("io.k8s.api.core.v1.Affinity") ","
                                                                                                                                                                                                                                                                                                "  \"strategy\":{\"allOf\":[{\"$ref\":\"#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy\"}],"
                                                                                                                                                                                                                                                                                                "     \"x-kubernetes-patch-strategy\":\"retainKeys\"},"
                                                                                                                                                                                                                                                                                                "  \"securityContext\":{\"allOf\":[{\"$ref\":\"#/components/schemas/io.k8s.api.core.v1.PodSecurityContext\"}],"
                                                                                                                                                                                                                                                                                                "     \"x-kubernetes-patch-strategy\":\"replace\"},"
                                                                                                                                                                                                                                                                                                "  \"sidecarPtr\":{\"allOf\":[{\"$ref\":\"#/components/schemas/io.k8s.api.core.v1.Container\"}],"
                                                                                                                                                                                                                                                                                                "     \"x-kubernetes-patch-merge-key\":\"name\",\"x-kubernetes-patch-strategy\":\"merge\"}"
                                                                                                                                                                                                                                                                                                "}},"
                                                                                                                                                                                                                                                                                                "\"io.k8s.api.core.v1.Container\":{\"type\":\"object\",\"properties\":{"
                                                                                                                                                                                                                                                                                                "  \"name\":{\"type\":\"string\"},\"image\":{\"type\":\"string\"},"
                                                                                                                                                                                                                                                                                                "  \"args\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
                                                                                                                                                                                                                                                                                                "  \"ports\":{\"type\":\"array\",\"items\":" REF("io.k8s.api.core.v1.ContainerPort") ","
                                                                                                                                                                                                                                                                                                                                                                                     "     \"x-kubernetes-list-map-keys\":[\"containerPort\",\"protocol\"],"
                                                                                                                                                                                                                                                                                                                                                                                     "     \"x-kubernetes-list-type\":\"map\","
                                                                                                                                                                                                                                                                                                                                                                                     "     \"x-kubernetes-patch-merge-key\":\"containerPort\",\"x-kubernetes-patch-strategy\":\"merge\"},"
                                                                                                                                                                                                                                                                                                                                                                                     "  \"env\":" MERGE_LIST(
                                                                                                                                                                                                                                                                                                                                                                                         "io.k8s.api.core.v1.EnvVar",
                                                                                                                                                                                                                                                                                                                                                                                         "name") ","
                                                                                                                                                                                                                                                                                                                                                                                                 "  \"volumeMounts\":" MERGE_LIST("io.k8s.api.core.v1.VolumeMount",
                                                                                                                                                                                                                                                                                                                                                                                                                                  "mountPath") ","
                                                                                                                                                                                                                                                                                                                                                                                                                                               "  \"resources\":" REF("io.k8s.api.core.v1.ResourceRequirements") "}},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "\"io.k8s.api.core.v1.ContainerPort\":{\"type\":\"object\",\"properties\":{"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "  \"containerPort\":{\"type\":\"integer\"},\"protocol\":{\"type\":\"string\"}}},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "\"io.k8s.api.core.v1.EnvVar\":{\"type\":\"object\",\"properties\":{"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "  \"name\":{\"type\":\"string\"},\"value\":{\"type\":\"string\"}}},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "\"io.k8s.api.core.v1.VolumeMount\":{\"type\":\"object\",\"properties\":{"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "  \"name\":{\"type\":\"string\"},\"mountPath\":{\"type\":\"string\"}}},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "\"io.k8s.api.core.v1.Volume\":{\"type\":\"object\",\"properties\":{"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "  \"name\":{\"type\":\"string\"},\"emptyDir\":{\"type\":\"object\"},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "  \"configMap\":{\"type\":\"object\"},\"secret\":{\"type\":\"object\"}}},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "\"io.k8s.api.core.v1.ResourceRequirements\":{\"type\":\"object\",\"properties\":{"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "  \"limits\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "  \"requests\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}}},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "\"io.k8s.api.apps.v1.DeploymentStrategy\":{\"type\":\"object\",\"properties\":{"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "  \"type\":{\"type\":\"string\"},\"rollingUpdate\":{\"type\":\"object\"}}}"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "}";

static json_t *schemas;

static const json_t *resolve(const char *ref, void *arg)
{
    const char *prefix = "#/components/schemas/";
    if (strncmp(ref, prefix, strlen(prefix)) != 0)
        return NULL;
    return json_object_get(arg, ref + strlen(prefix));
}

static const json_t *pod_schema(void)
{
    return json_object_get(schemas, "io.k8s.api.core.v1.Pod");
}

/* Applies a strategic merge patch and compares with want; checks the inputs are unchanged. */
static void smp_with(const json_t *schema, const char *doc, const char *patch, const char *want)
{
    json_t *d = J(doc), *p = J(patch), *w = J(want);
    json_t *d0 = json_deep_copy(d), *p0 = json_deep_copy(p);
    json_t *out = NULL;
    k1s_err_t err = {0};
    if (k1s_patch_strategic(d, p, schema, resolve, schemas, &out, &err) < 0)
        fail_msg("strategic patch %s failed: %s", patch, err.msg);
    if (!json_equal(out, w)) {
        char *got = dump(out);
        fail_msg("strategic patch %s\n got  %s\n want %s", patch, got, want);
    }
    assert_true(json_equal(d, d0));
    assert_true(json_equal(p, p0));
    json_decref(d);
    json_decref(p);
    json_decref(w);
    json_decref(d0);
    json_decref(p0);
    json_decref(out);
}

static void smp(const char *doc, const char *patch, const char *want)
{
    smp_with(pod_schema(), doc, patch, want);
}

static void smp_err(const char *doc, const char *patch, int code, const char *want)
{
    json_t *d = J(doc), *p = J(patch);
    json_t *out = NULL;
    k1s_err_t err = {0};
    int rc = k1s_patch_strategic(d, p, pod_schema(), resolve, schemas, &out, &err);
    if (rc == 0) {
        char *got = dump(out);
        fail_msg("strategic patch %s succeeded (%s), want error %s", patch, got, want);
    }
    assert_int_equal(rc, -code);
    if (!strstr(err.msg, want))
        fail_msg("strategic patch %s: error\n  %s\nwant\n  %s", patch, err.msg, want);
    json_decref(d);
    json_decref(p);
}

static const char *pod =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
    "\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"},"
    "  \"annotations\":{\"a\":\"1\",\"old\":\"x\"},\"finalizers\":[\"f1\",\"f2\"]},"
    "\"spec\":{\"containers\":["
    "  {\"name\":\"web\",\"image\":\"nginx:1\",\"args\":[\"-a\",\"-b\"],"
    "   \"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],"
    "   \"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]},"
    "  {\"name\":\"sidecar\",\"image\":\"busybox\"}],"
    " \"volumes\":[{\"name\":\"data\",\"emptyDir\":{}}],"
    " \"tolerations\":[{\"key\":\"k\"}]}}";

/* The pod with some parts replaced, to keep the expectations readable. */
static char *pod_with(const char *meta, const char *containers, const char *rest)
{
    char *s;
    if (asprintf(
            &s,
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":%s,\"spec\":{\"containers\":%s%s}"
            "}",
            meta ? meta
                 : "{\"name\":\"web\",\"labels\":{\"app\":\"web\"},\"annotations\":{\"a\":\"1\","
                   "\"old\":\"x\"},\"finalizers\":[\"f1\",\"f2\"]}",
            containers,
            rest ? rest
                 : ",\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}}],"
                   "\"tolerations\":[{\"key\":\"k\"}]") < 0)
        abort();
    return s;
}

#define WEB_C                                                                                      \
    "{\"name\":\"web\",\"image\":\"nginx:1\",\"args\":[\"-a\",\"-b\"],"                            \
    "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],"                                     \
    "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]}"
#define SIDECAR_C "{\"name\":\"sidecar\",\"image\":\"busybox\"}"

static void test_smp_basics(void **state)
{
    /* change an image: merged by name, other fields and containers untouched */
    char *w = pod_with(
        NULL,
        "[{\"name\":\"web\",\"image\":\"nginx:2\",\"args\":[\"-a\",\"-b\"],"
        "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],"
        "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]}," SIDECAR_C
        "]",
        NULL);
    smp(pod, "{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:2\"}]}}", w);
    free(w);

    /* labels merge, null deletes an annotation, a new field is added */
    w = pod_with("{\"name\":\"web\",\"labels\":{\"app\":\"web\",\"tier\":\"front\"},"
                 "\"annotations\":{\"a\":\"1\"},\"finalizers\":[\"f1\",\"f2\"]}",
                 "[" WEB_C "," SIDECAR_C "]",
                 ",\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}}],"
                 "\"tolerations\":[{\"key\":\"k\"}],\"nodeName\":\"n1\"");
    smp(pod,
        "{\"metadata\":{\"labels\":{\"tier\":\"front\"},\"annotations\":{\"old\":null,"
        "\"missing\":null}},\"spec\":{\"nodeName\":\"n1\"}}",
        w);
    free(w);

    /* non-merge lists are replaced atomically */
    w = pod_with(
        NULL,
        "[{\"name\":\"web\",\"image\":\"nginx:1\",\"args\":[\"-c\"],"
        "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],"
        "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]}," SIDECAR_C
        "]",
        ",\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}}],\"tolerations\":[]");
    smp(pod,
        "{\"spec\":{\"tolerations\":[],\"containers\":[{\"name\":\"web\",\"args\":[\"-c\"]}]}}", w);
    free(w);

    /* a new container goes before the server's ones (no $setElementOrder) */
    w = pod_with(NULL, "[{\"name\":\"new\",\"image\":\"x\"}," WEB_C "," SIDECAR_C "]", NULL);
    smp(pod, "{\"spec\":{\"containers\":[{\"name\":\"new\",\"image\":\"x\"}]}}", w);
    free(w);

    /* null inside a newly added value is dropped; a type change replaces */
    smp("{\"a\":{\"b\":1},\"c\":[1]}",
        "{\"n\":{\"x\":null,\"y\":1},\"a\":\"s\",\"c\":{\"k\":null}}",
        "{\"a\":\"s\",\"c\":{},\"n\":{\"y\":1}}");
    /* fields the schema does not know merge as plain maps; lists replace */
    smp("{\"x\":{\"l\":[1,2],\"m\":{\"a\":1}}}", "{\"x\":{\"l\":[3],\"m\":{\"b\":2}}}",
        "{\"x\":{\"l\":[3],\"m\":{\"a\":1,\"b\":2}}}");
    /* the replace strategy on a map field */
    smp("{\"spec\":{\"securityContext\":{\"runAsUser\":1,\"fsGroup\":2}}}",
        "{\"spec\":{\"securityContext\":{\"runAsUser\":3}}}",
        "{\"spec\":{\"securityContext\":{\"runAsUser\":3}}}");
}

static void test_smp_kubectl_apply(void **state)
{
    /* what kubectl apply sends after editing the manifest: new image, env C added, env B
     * removed, a label added, an annotation removed */
    const char *patch =
        "{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
        "\"{}\\n\",\"old\":null},\"labels\":{\"tier\":\"front\"}},"
        "\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"web\"},{\"name\":\"sidecar\"}],"
        "\"containers\":[{\"$setElementOrder/env\":[{\"name\":\"A\"},{\"name\":\"C\"}],"
        "\"env\":[{\"name\":\"C\",\"value\":\"3\"},{\"$patch\":\"delete\",\"name\":\"B\"}],"
        "\"image\":\"nginx:2\",\"name\":\"web\"}]}}";
    char *w = pod_with(
        "{\"name\":\"web\",\"labels\":{\"app\":\"web\",\"tier\":\"front\"},"
        "\"annotations\":{\"a\":\"1\",\"kubectl.kubernetes.io/"
        "last-applied-configuration\":\"{}\\n\"},"
        "\"finalizers\":[\"f1\",\"f2\"]}",
        "[{\"name\":\"web\",\"image\":\"nginx:2\",\"args\":[\"-a\",\"-b\"],"
        "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],"
        "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"C\",\"value\":\"3\"}]}," SIDECAR_C
        "]",
        NULL);
    smp(pod, patch, w);
    free(w);

    /* reordering containers with $setElementOrder alone */
    w = pod_with(NULL, "[" SIDECAR_C "," WEB_C "]", NULL);
    smp(pod,
        "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"sidecar\"},{\"name\":\"web\"}]}}",
        w);
    free(w);

    /* adding a container at the end with $setElementOrder, as kubectl does */
    w = pod_with(NULL, "[" WEB_C "," SIDECAR_C ",{\"name\":\"new\",\"image\":\"x\"}]", NULL);
    smp(pod,
        "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"web\"},{\"name\":\"sidecar\"},"
        "{\"name\":\"new\"}],\"containers\":[{\"name\":\"new\",\"image\":\"x\"}]}}",
        w);
    free(w);

    /* $setElementOrder for a list the object does not have yet */
    smp("{\"spec\":{}}",
        "{\"spec\":{\"$setElementOrder/initContainers\":[{\"name\":\"i\"}],"
        "\"initContainers\":[{\"name\":\"i\",\"image\":\"x\",\"env\":null}]}}",
        "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"image\":\"x\"}]}}");

    /* $setElementOrder whose patch list names an element the order list lacks */
    smp_err(pod,
            "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"web\"}],"
            "\"containers\":[{\"name\":\"sidecar\",\"image\":\"x\"}]}}",
            EINVAL, "doesn't match $setElementOrder list");
}

static void test_smp_primitive_lists(void **state)
{
    /* merge strategy on a primitive list: union, patch items first */
    smp("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
        "{\"metadata\":{\"finalizers\":[\"c\",\"a\"]}}",
        "{\"metadata\":{\"finalizers\":[\"c\",\"a\",\"b\"]}}");
    smp("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
        "{\"metadata\":{\"finalizers\":[\"b\",\"c\"]}}",
        "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}");
    /* parallel deletion list */
    smp("{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
        "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\",\"x\"]}}",
        "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}");
    smp("{\"metadata\":{}}", "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
        "{\"metadata\":{}}");
    /* with $setElementOrder, as kubectl sends after removing one */
    smp("{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
        "{\"metadata\":{\"$setElementOrder/finalizers\":[\"c\",\"a\"],"
        "\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
        "{\"metadata\":{\"finalizers\":[\"c\",\"a\"]}}");
    smp_err("{\"metadata\":{\"finalizers\":[\"a\"]}}",
            "{\"metadata\":{\"$deleteFromPrimitiveList\":[\"a\"]}}", EINVAL,
            "invalid patch format of primitive list");
}

static void test_smp_merge_keys(void **state)
{
    /* numeric merge key; 443.0 and 443 are the same key */
    smp("{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80,"
        "\"protocol\":\"TCP\"}]}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":443},"
        "{\"containerPort\":80.0,\"name\":\"http\"}]}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":443},"
        "{\"containerPort\":80.0,\"protocol\":\"TCP\",\"name\":\"http\"}]}]}}");
    /* mountPath as the merge key */
    smp("{\"spec\":{\"containers\":[{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"a\","
        "\"mountPath\":\"/a\"}]}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"b\","
        "\"mountPath\":\"/a\"}]}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"c\",\"volumeMounts\":[{\"name\":\"b\","
        "\"mountPath\":\"/a\"}]}]}}");
    /* ownerReferences merge on uid */
    smp("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\"}]}}",
        "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"$patch\":\"delete\"}]}}",
        "{\"metadata\":{\"ownerReferences\":[]}}");
    smp_err(pod, "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}", EINVAL,
            "map: {\"image\":\"x\"} does not contain declared merge key: name");
    smp_err(pod, "{\"spec\":{\"containers\":[{\"$patch\":\"delete\"}]}}", EINVAL,
            "does not contain declared merge key: name");
    smp_err("{\"spec\":{\"containers\":[[1]]}}", "{\"spec\":{\"containers\":[[2]]}}", EDOM,
            "lists of lists are not supported");
    smp_err("{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", "{\"spec\":{\"containers\":[\"b\"]}}",
            EDOM, "list element types are not identical");
}

static void test_smp_directives(void **state)
{
    /* $patch: replace as a list element replaces the whole list */
    char *w = pod_with(NULL, "[{\"name\":\"only\",\"image\":\"x\"}]", NULL);
    smp(pod,
        "{\"spec\":{\"containers\":[{\"name\":\"only\",\"image\":\"x\"},{\"$patch\":\"replace\"}]}"
        "}",
        w);
    free(w);
    /* $patch: delete as a list element */
    w = pod_with(NULL, "[" WEB_C "]", NULL);
    smp(pod, "{\"spec\":{\"containers\":[{\"name\":\"sidecar\",\"$patch\":\"delete\"}]}}", w);
    free(w);
    /* $patch: replace in a map */
    smp("{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
        "{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"c\":\"3\"}}}",
        "{\"metadata\":{\"labels\":{\"c\":\"3\"}}}");
    /* $patch: delete in a map leaves it empty */
    smp("{\"spec\":{\"affinity\":{\"nodeAffinity\":{}}}}",
        "{\"spec\":{\"affinity\":{\"$patch\":\"delete\"}}}", "{\"spec\":{\"affinity\":{}}}");
    /* at the top */
    smp("{\"a\":1}", "{\"$patch\":\"replace\",\"b\":2}", "{\"b\":2}");
    /* a directive map for a field the object lacks is dropped */
    smp("{\"spec\":{}}", "{\"spec\":{\"affinity\":{\"$patch\":\"replace\",\"x\":1}}}",
        "{\"spec\":{}}");
    smp_err(pod, "{\"spec\":{\"containers\":[{\"name\":\"web\"},{\"$patch\":\"merge\"}]}}", EINVAL,
            "merging lists cannot yet be specified in the patch");
    smp_err(pod, "{\"metadata\":{\"$patch\":\"bogus\"}}", EINVAL,
            "unknown patch type: \"bogus\" in map");
}

static void test_smp_retain_keys(void **state)
{
    /* volumes are merge,retainKeys: switching a volume's source */
    char *w = pod_with(NULL, "[" WEB_C "," SIDECAR_C "]",
                       ",\"volumes\":[{\"name\":\"data\",\"configMap\":{\"name\":\"cm\"}}],"
                       "\"tolerations\":[{\"key\":\"k\"}]");
    smp(pod,
        "{\"spec\":{\"volumes\":[{\"$retainKeys\":[\"configMap\",\"name\"],\"name\":\"data\","
        "\"configMap\":{\"name\":\"cm\"}}]}}",
        w);
    free(w);
    /* retainKeys on a struct (Deployment strategy) */
    smp("{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}}}}",
        "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}",
        "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}");
    smp_err(pod, "{\"spec\":{\"$retainKeys\":[\"x\"],\"nodeName\":\"n\"}}", EINVAL,
            "invalid patch format of retainKeys");
    smp_err(pod, "{\"spec\":{\"$retainKeys\":\"x\"}}", EINVAL,
            "invalid patch format of retainKeys");
}

/* Orderings and corner cases that apimachinery's own tests pin down. */
static void test_smp_upstream_semantics(void **state)
{
    /* patch order wins for the items it names; the others keep their place */
    smp("{\"spec\":{\"containers\":[{\"name\":\"1\"},{\"name\":\"2\",\"image\":\"b\"},{\"name\":"
        "\"3\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"3\",\"image\":\"c\"},{\"name\":\"1\",\"image\":"
        "\"a\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"2\",\"image\":\"b\"},{\"name\":\"3\",\"image\":"
        "\"c\"},"
        "{\"name\":\"1\",\"image\":\"a\"}]}}");
    smp("{\"metadata\":{\"finalizers\":[1,2,3]}}", "{\"metadata\":{\"finalizers\":[3,1]}}",
        "{\"metadata\":{\"finalizers\":[2,3,1]}}");
    /* deleting one item and adding another under $setElementOrder: Kubernetes orders against
     * the original list as its in-place deletion and append left it */
    smp("{\"spec\":{\"containers\":[{\"name\":\"1\"},{\"name\":\"2\",\"image\":\"b\"},"
        "{\"name\":\"4\",\"image\":\"c\"}]}}",
        "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"2\"},{\"name\":\"3\"}],"
        "\"containers\":[{\"name\":\"3\"},{\"$patch\":\"delete\",\"name\":\"1\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"2\",\"image\":\"b\"},{\"name\":\"4\",\"image\":"
        "\"c\"},"
        "{\"name\":\"3\"}]}}");
    /* $setElementOrder may name items that are not in the list */
    smp("{\"spec\":{\"containers\":[{\"name\":\"1\"},{\"name\":\"3\"}]}}",
        "{\"spec\":{\"$setElementOrder/"
        "containers\":[{\"name\":\"3\"},{\"name\":\"2\"},{\"name\":\"1\"}],"
        "\"containers\":[{\"name\":\"3\",\"image\":\"x\"},{\"name\":\"1\",\"image\":\"y\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"3\",\"image\":\"x\"},{\"name\":\"1\",\"image\":"
        "\"y\"}]}}");
    /* a deletion removes every item with that key */
    smp("{\"spec\":{\"containers\":[{\"name\":\"1\"},{\"name\":\"1\"},{\"name\":\"2\",\"image\":"
        "\"a\"},"
        "{\"name\":\"3\"},{\"name\":\"3\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"1\",\"$patch\":\"delete\"},"
        "{\"name\":\"3\",\"$patch\":\"delete\"}]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"2\",\"image\":\"a\"}]}}");
    /* a new list keeps its items but not its directives */
    smp("{\"spec\":{}}",
        "{\"spec\":{\"containers\":[{\"name\":\"hello\"},{\"$patch\":\"delete\",\"name\":\"gone\"}]"
        "}}",
        "{\"spec\":{\"containers\":[{\"name\":\"hello\"}]}}");
    /* an empty patch list leaves the list alone; "$patch: replace" alone empties it */
    smp("{\"spec\":{\"containers\":[{\"name\":\"1\"}]}}", "{\"spec\":{\"containers\":[]}}",
        "{\"spec\":{\"containers\":[{\"name\":\"1\"}]}}");
    smp("{\"spec\":{\"containers\":[{\"name\":\"1\"}]}}",
        "{\"spec\":{\"containers\":[{\"$patch\":\"replace\"}]}}", "{\"spec\":{\"containers\":[]}}");
    /* a struct-typed field with a merge key that holds a list: its items are of its own type */
    smp("{\"spec\":{\"sidecarPtr\":[{\"name\":\"1\",\"env\":[{\"name\":\"a\"},{\"name\":\"b\","
        "\"value\":\"2\"}]},"
        "{\"name\":\"2\"}]}}",
        "{\"spec\":{\"$setElementOrder/sidecarPtr\":[{\"name\":\"1\"},{\"name\":\"2\"}],"
        "\"sidecarPtr\":[{\"$setElementOrder/env\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
        "\"env\":[{\"name\":\"a\",\"value\":\"1\"}],\"name\":\"1\"}]}}",
        "{\"spec\":{\"sidecarPtr\":[{\"name\":\"1\",\"env\":[{\"name\":\"a\",\"value\":\"1\"},"
        "{\"name\":\"b\",\"value\":\"2\"}]},{\"name\":\"2\"}]}}");
}

static void test_smp_no_schema(void **state)
{
    /* without a schema, lists are replaced and directives still honoured */
    smp_with(
        NULL, pod,
        "{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"x\":\"y\"},\"finalizers\":[\"z\"]},"
        "\"spec\":{\"containers\":[{\"name\":\"c\"}]}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\",\"labels\":"
        "{\"x\":\"y\"},\"annotations\":{\"a\":\"1\",\"old\":\"x\"},\"finalizers\":[\"z\"]},"
        "\"spec\":{\"containers\":[{\"name\":\"c\"}],\"volumes\":[{\"name\":\"data\","
        "\"emptyDir\":{}}],\"tolerations\":[{\"key\":\"k\"}]}}");
    json_t *d = J("[]"), *p = J("{}"), *out;
    k1s_err_t err = {0};
    assert_int_equal(k1s_patch_strategic(d, p, NULL, NULL, NULL, &out, &err), -EINVAL);
    json_decref(d);
    json_decref(p);
}

/* ---------- JSON Patch ---------- */

static void jp(const char *doc, const char *ops, const char *want)
{
    json_t *d = J(doc), *o = J(ops), *w = J(want), *d0 = json_deep_copy(d), *out = NULL;
    k1s_err_t err = {0};
    if (k1s_patch_json(d, o, &out, &err) < 0)
        fail_msg("json patch %s failed: %s", ops, err.msg);
    if (!json_equal(out, w)) {
        char *got = dump(out);
        fail_msg("json patch %s\n got  %s\n want %s", ops, got, want);
    }
    assert_true(json_equal(d, d0));
    json_decref(d);
    json_decref(o);
    json_decref(w);
    json_decref(d0);
    json_decref(out);
}

static void jp_err(const char *doc, const char *ops, int code, const char *want)
{
    json_t *d = J(doc), *o = J(ops), *out = NULL;
    k1s_err_t err = {0};
    int rc = k1s_patch_json(d, o, &out, &err);
    if (rc == 0) {
        char *got = dump(out);
        fail_msg("json patch %s succeeded (%s), want %s", ops, got, want);
    }
    assert_int_equal(rc, -code);
    if (strcmp(err.msg, want) != 0)
        fail_msg("json patch %s: error\n  %s\nwant\n  %s", ops, err.msg, want);
    json_decref(d);
    json_decref(o);
}

static void test_json_patch(void **state)
{
    const char *doc = "{\"metadata\":{\"labels\":{\"a\":\"1\",\"x/y\":\"2\",\"t~\":\"3\"}},"
                      "\"spec\":{\"list\":[1,2,3]}}";
    jp(doc, "[{\"op\":\"add\",\"path\":\"/metadata/labels/b\",\"value\":\"n\"}]",
       "{\"metadata\":{\"labels\":{\"a\":\"1\",\"x/y\":\"2\",\"t~\":\"3\",\"b\":\"n\"}},"
       "\"spec\":{\"list\":[1,2,3]}}");
    jp(doc,
       "[{\"op\":\"remove\",\"path\":\"/metadata/labels/x~1y\"},"
       "{\"op\":\"replace\",\"path\":\"/metadata/labels/t~0\",\"value\":\"9\"}]",
       "{\"metadata\":{\"labels\":{\"a\":\"1\",\"t~\":\"9\"}},\"spec\":{\"list\":[1,2,3]}}");
    jp("[1,2,3]",
       "[{\"op\":\"add\",\"path\":\"/1\",\"value\":9},{\"op\":\"add\",\"path\":\"/-\",\"value\":8},"
       "{\"op\":\"add\",\"path\":\"/0\",\"value\":7}]",
       "[7,1,9,2,3,8]");
    /* negative indices, as evanphx/json-patch v4 allows */
    jp("[1,2,3]", "[{\"op\":\"add\",\"path\":\"/-1\",\"value\":9}]", "[1,2,3,9]");
    jp("[1,2,3]", "[{\"op\":\"remove\",\"path\":\"/-1\"}]", "[1,2]");
    jp("[1,2,3]", "[{\"op\":\"replace\",\"path\":\"/1\",\"value\":{\"a\":null}}]",
       "[1,{\"a\":null},3]");
    jp(doc, "[{\"op\":\"move\",\"from\":\"/metadata/labels/a\",\"path\":\"/spec/a\"}]",
       "{\"metadata\":{\"labels\":{\"x/"
       "y\":\"2\",\"t~\":\"3\"}},\"spec\":{\"list\":[1,2,3],\"a\":\"1\"}}");
    jp("[1,2,3]", "[{\"op\":\"move\",\"from\":\"/0\",\"path\":\"/-\"}]", "[2,3,1]");
    jp("{\"a\":{\"b\":1}}",
       "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"},"
       "{\"op\":\"add\",\"path\":\"/c/d\",\"value\":2}]",
       "{\"a\":{\"b\":1},\"c\":{\"b\":1,\"d\":2}}");
    jp("{\"a\":1,\"b\":[1,{\"c\":2.0}]}",
       "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1.0},"
       "{\"op\":\"test\",\"path\":\"/b\",\"value\":[1,{\"c\":2}]},"
       "{\"op\":\"test\",\"path\":\"/missing\",\"value\":null}]",
       "{\"a\":1,\"b\":[1,{\"c\":2.0}]}");
    jp("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]", "[1]");
    jp("{\"\":1}", "[{\"op\":\"replace\",\"path\":\"/\",\"value\":2}]", "{\"\":2}");
    jp("{\"a\":1}", "[]", "{\"a\":1}");

    jp_err(doc, "[{\"op\":\"remove\",\"path\":\"/metadata/labels/x\"}]", EDOM,
           "jsonpatch remove operation does not apply: doc is missing path: "
           "\"/metadata/labels/x\"");
    jp_err(doc, "[{\"op\":\"add\",\"path\":\"/metadata/annotations/x\",\"value\":1}]", EDOM,
           "jsonpatch add operation does not apply: doc is missing path: "
           "\"/metadata/annotations/x\"");
    jp_err(doc, "[{\"op\":\"replace\",\"path\":\"/spec/nope\",\"value\":1}]", EDOM,
           "jsonpatch replace operation does not apply: doc is missing path: \"/spec/nope\"");
    jp_err(doc, "[{\"op\":\"add\",\"path\":\"/spec/list/4\",\"value\":1}]", EDOM,
           "jsonpatch add operation does not apply: invalid array index in path: "
           "\"/spec/list/4\"");
    jp_err(doc, "[{\"op\":\"remove\",\"path\":\"/spec/list/3\"}]", EDOM,
           "jsonpatch remove operation does not apply: doc is missing path: \"/spec/list/3\"");
    jp_err(doc, "[{\"op\":\"remove\",\"path\":\"/spec/list/x\"}]", EDOM,
           "jsonpatch remove operation does not apply: doc is missing path: \"/spec/list/x\"");
    jp_err(doc, "[{\"op\":\"move\",\"from\":\"/nope\",\"path\":\"/x\"}]", EDOM,
           "jsonpatch move operation does not apply: doc is missing from path: \"/nope\"");
    jp_err(doc, "[{\"op\":\"move\",\"from\":\"/spec\",\"path\":\"/spec/x\"}]", EDOM,
           "jsonpatch move operation does not apply: cannot move \"/spec\" into its own child "
           "\"/spec/x\"");
    jp_err(doc, "[{\"op\":\"copy\",\"from\":\"/nope\",\"path\":\"/x\"}]", EDOM,
           "jsonpatch copy operation does not apply: doc is missing from path: \"/nope\"");
    jp_err(doc, "[{\"op\":\"test\",\"path\":\"/spec/list/0\",\"value\":2}]", EDOM,
           "jsonpatch test operation does not apply: the value at \"/spec/list/0\" is not 2");
    /* a failed operation leaves nothing half-done: the input is untouched (checked in jp) and
     * there is no output */
    jp_err(doc,
           "[{\"op\":\"add\",\"path\":\"/z\",\"value\":1},{\"op\":\"test\",\"path\":\"/"
           "z\",\"value\":2}]",
           EDOM, "jsonpatch test operation does not apply: the value at \"/z\" is not 2");

    jp_err(doc, "{\"op\":\"add\"}", EINVAL,
           "invalid JSON Patch: the patch must be a JSON array of operations");
    jp_err(doc, "[1]", EINVAL, "invalid JSON Patch: operation 0 is not an object");
    jp_err(doc, "[{\"path\":\"/a\"}]", EINVAL, "invalid JSON Patch: operation 0 has no \"op\"");
    jp_err(doc, "[{\"op\":\"frob\",\"path\":\"/a\"}]", EINVAL,
           "invalid JSON Patch: operation 0: unknown op \"frob\"");
    jp_err(doc, "[{\"op\":\"add\",\"value\":1}]", EINVAL,
           "invalid JSON Patch: add operation 0 has no \"path\"");
    jp_err(doc, "[{\"op\":\"add\",\"path\":\"/a\"}]", EINVAL,
           "invalid JSON Patch: add operation 0 has no \"value\"");
    jp_err(doc, "[{\"op\":\"move\",\"path\":\"/a\"}]", EINVAL,
           "invalid JSON Patch: move operation 0 has no \"from\"");
    jp_err(doc, "[{\"op\":\"remove\",\"path\":\"a\"}]", EINVAL,
           "invalid JSON Patch: remove operation 0: invalid path \"a\": a JSON pointer must be "
           "empty or start with '/'");

    /* too many operations */
    json_t *ops = json_array();
    for (int i = 0; i <= K1S_PATCH_MAX_OPS; i++)
        json_array_append_new(ops,
                              json_pack("{s:s,s:s,s:i}", "op", "test", "path", "", "value", 1));
    json_t *d = J("{}"), *out;
    k1s_err_t err = {0};
    assert_int_equal(k1s_patch_json(d, ops, &out, &err), -E2BIG);
    assert_string_equal(err.msg,
                        "The allowed maximum operations in a JSON patch is 10000, got 10001");
    json_decref(ops);
    /* copies cannot blow the document up */
    ops = json_array();
    json_array_append_new(ops, J("{\"op\":\"add\",\"path\":\"/a\",\"value\":[1,2,3,4,5,6,7,8]}"));
    for (int i = 0; i < 40; i++)
        json_array_append_new(ops, J("{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/a/0\"}"));
    assert_int_equal(k1s_patch_json(d, ops, &out, &err), -EDOM);
    assert_non_null(strstr(err.msg, "copy"));
    json_decref(ops);
    json_decref(d);
}

/* ---------- merge patch ---------- */

static void mp(const char *doc, const char *patch, const char *want)
{
    json_t *d = J(doc), *p = J(patch), *w = J(want), *d0 = json_deep_copy(d);
    json_t *out = k1s_patch_merge(d, p);
    if (!json_equal(out, w)) {
        char *got = dump(out);
        fail_msg("merge %s into %s\n got  %s\n want %s", patch, doc, got, want);
    }
    assert_true(json_equal(d, d0));
    json_decref(d);
    json_decref(p);
    json_decref(w);
    json_decref(d0);
    json_decref(out);
}

static void test_merge_patch(void **state)
{
    /* RFC 7386 appendix A */
    mp("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    mp("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    mp("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    mp("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    mp("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    mp("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    mp("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
    mp("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    mp("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
    mp("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
    mp("{\"a\":\"foo\"}", "null", "null");
    mp("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
    mp("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    mp("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
    mp("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
    /* labels, as kubectl patch --type=merge sends them */
    mp("{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
       "{\"metadata\":{\"labels\":{\"b\":null,\"c\":\"3\"}}}",
       "{\"metadata\":{\"labels\":{\"a\":\"1\",\"c\":\"3\"}}}");
}

/* ---------- dispatch ---------- */

static void test_apply(void **state)
{
    assert_int_equal(k1s_patch_type_parse("application/json-patch+json"), K1S_PATCH_JSON);
    assert_int_equal(k1s_patch_type_parse(" Application/Merge-Patch+JSON ; charset=utf-8"),
                     K1S_PATCH_MERGE);
    assert_int_equal(k1s_patch_type_parse("application/strategic-merge-patch+json"),
                     K1S_PATCH_STRATEGIC);
    assert_int_equal(k1s_patch_type_parse("application/apply-patch+yaml"), K1S_PATCH_APPLY);
    assert_int_equal(k1s_patch_type_parse("application/json"), K1S_PATCH_UNKNOWN);
    assert_int_equal(k1s_patch_type_parse(NULL), K1S_PATCH_UNKNOWN);

    json_t *doc = J(pod), *out = NULL;
    k1s_err_t err = {0};
    const char *body = "[{\"op\":\"replace\",\"path\":\"/metadata/name\",\"value\":\"x\"}]";
    assert_int_equal(k1s_patch_apply("application/json-patch+json", doc, body, strlen(body), NULL,
                                     NULL, NULL, &out, &err),
                     0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "metadata"), "name")), "x");
    json_decref(out);

    body = "{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:3\"}]}}";
    assert_int_equal(k1s_patch_apply("application/strategic-merge-patch+json", doc, body,
                                     strlen(body), pod_schema(), resolve, schemas, &out, &err),
                     0);
    json_t *cs = json_object_get(json_object_get(out, "spec"), "containers");
    assert_int_equal(json_array_size(cs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cs, 0), "image")),
                        "nginx:3");
    json_decref(out);

    assert_int_equal(k1s_patch_apply("application/merge-patch+json", doc, body, strlen(body), NULL,
                                     NULL, NULL, &out, &err),
                     0);
    cs = json_object_get(json_object_get(out, "spec"), "containers");
    assert_int_equal(json_array_size(cs), 1); /* merge patch replaces lists */
    json_decref(out);

    assert_int_equal(k1s_patch_apply("application/merge-patch+json", doc, "[1]", 3, NULL, NULL,
                                     NULL, &out, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "a merge patch must be a JSON object");
    assert_int_equal(k1s_patch_apply("application/merge-patch+json", doc, "{\"a\":", 5, NULL, NULL,
                                     NULL, &out, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "error decoding patch: "));
    assert_int_equal(k1s_patch_apply("application/strategic-merge-patch+json", doc, "", 0, NULL,
                                     NULL, NULL, &out, &err),
                     -EINVAL);
    assert_int_equal(k1s_patch_apply("application/apply-patch+yaml", doc, "a: 1", 4, NULL, NULL,
                                     NULL, &out, &err),
                     -EOPNOTSUPP);
    assert_non_null(strstr(err.msg, "server-side apply"));
    assert_int_equal(k1s_patch_apply("text/plain", doc, "{}", 2, NULL, NULL, NULL, &out, &err),
                     -EPROTONOSUPPORT);
    assert_non_null(strstr(err.msg, "unknown format"));
    json_decref(doc);
}

static int setup(void **state)
{
    schemas = J(schema_text);
    return 0;
}

static int teardown(void **state)
{
    json_decref(schemas);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smp_basics),
        cmocka_unit_test(test_smp_kubectl_apply),
        cmocka_unit_test(test_smp_primitive_lists),
        cmocka_unit_test(test_smp_merge_keys),
        cmocka_unit_test(test_smp_directives),
        cmocka_unit_test(test_smp_retain_keys),
        cmocka_unit_test(test_smp_upstream_semantics),
        cmocka_unit_test(test_smp_no_schema),
        cmocka_unit_test(test_json_patch),
        cmocka_unit_test(test_merge_patch),
        cmocka_unit_test(test_apply),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
