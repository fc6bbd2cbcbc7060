/*
 * Unit tests for src/api/validate*.c: each rule with the exact message
 * kube-apiserver v1.32 gives, the Status message and the format checks.
 * The quantity parser's tests are in quantity.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/defaults.h"
#include "api/registry.h"
#include "api/validate.h"
#include "lib/util.h"

/* ---- helpers ---- */

static const k1s_resource_t *res(const char *group, const char *kind)
{
    const k1s_resource_t *r = k1s_registry_find_kind(group, kind);
    assert_non_null(r);
    return r;
}

static json_t *load(const char *js)
{
    json_error_t e;
    json_t *o = json_loads(js, 0, &e);
    if (!o)
        fail_msg("bad JSON in test: %s: %s", e.text, js);
    return o;
}

/* Defaults then validates js (against oldjs, defaulted too, if non-NULL); returns the causes. */
static json_t *check(const char *group, const char *kind, const char *js, const char *oldjs)
{
    const k1s_resource_t *r = res(group, kind);
    json_t *o = load(js), *old = oldjs ? load(oldjs) : NULL;
    k1s_defaults_apply(r, o);
    if (old)
        k1s_defaults_apply(r, old);
    json_t *causes = json_array();
    int n = k1s_validate(r, o, old, causes);
    assert_int_equal(n, (int)json_array_size(causes));
    json_decref(o);
    json_decref(old);
    return causes;
}

static char *dump_causes(const json_t *causes)
{
    return json_dumps(causes, JSON_INDENT(1));
}

/* Asserts that causes holds {field, reason, message}; field "" means no field. */
static void has(const json_t *causes, const char *field, const char *reason, const char *message)
{
    size_t i;
    json_t *c;
    json_array_foreach(causes, i, c)
    {
        const char *f = json_string_value(json_object_get(c, "field"));
        if (strcmp(f ? f : "", field) == 0 &&
            strcmp(json_string_value(json_object_get(c, "reason")), reason) == 0 &&
            strcmp(json_string_value(json_object_get(c, "message")), message) == 0)
            return;
    }
    char *d = dump_causes(causes);
    fail_msg("no cause %s %s %s in %s", field, reason, message, d);
}

static void none(const json_t *causes)
{
    if (json_array_size(causes)) {
        char *d = dump_causes(causes);
        fail_msg("unexpected causes: %s", d);
    }
}

static void count(const json_t *causes, size_t n)
{
    if (json_array_size(causes) != n) {
        char *d = dump_causes(causes);
        fail_msg("want %zu causes, got %s", n, d);
    }
}

#define SUBDOMAIN_MSG                                                                              \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "   \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "  \
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define LABEL_MSG                                                                                  \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "   \
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "     \
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS1035_MSG                                                                                \
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "   \
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "           \
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define QNAME_REGEX                                                                                \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "         \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define LABEL_VALUE_MSG                                                                            \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "    \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "             \
    "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?"        \
    "[A-Za-z0-9])?')"

#define POD(meta, spec) "{\"metadata\":" meta ",\"spec\":" spec "}"
#define M(name) "{\"name\":\"" name "\",\"namespace\":\"default\"}"
#define CTR "{\"name\":\"c\",\"image\":\"nginx\"}"

/* ---- format checks ---- */

static void test_formats(void **state)
{
    const char *m[K1S_VALIDATE_MAX_MSGS];
    assert_int_equal(k1s_is_dns1123_label("my-name", m), 0);
    assert_int_equal(k1s_is_dns1123_label("a.b", m), 1);
    assert_string_equal(m[0], "must not contain dots");
    assert_int_equal(k1s_is_dns1123_label("Abc", m), 1);
    assert_string_equal(m[0], LABEL_MSG);
    char long64[65];
    memset(long64, 'a', 64);
    long64[64] = 0;
    assert_int_equal(k1s_is_dns1123_label(long64, m), 1);
    assert_string_equal(m[0], "must be no more than 63 characters");
    assert_int_equal(k1s_is_dns1123_subdomain("example.com", m), 0);
    assert_int_equal(k1s_is_dns1123_subdomain("a..b", m), 1);
    assert_string_equal(m[0], SUBDOMAIN_MSG);
    assert_int_equal(k1s_is_dns1035_label("1abc", m), 1);
    assert_string_equal(m[0], DNS1035_MSG);
    assert_int_equal(k1s_is_qualified_name("example.com/MyName", m), 0);
    assert_int_equal(k1s_is_qualified_name("/a", m), 1);
    assert_string_equal(m[0], "prefix part must be non-empty");
    assert_int_equal(k1s_is_qualified_name("a/b/c", m), 1);
    assert_string_equal(m[0], "a qualified name " QNAME_REGEX
                              " with an optional DNS subdomain prefix and '/' (e.g. "
                              "'example.com/MyName')");
    assert_int_equal(k1s_is_qualified_name("Ex_ample/-x", m), 2);
    assert_string_equal(m[0], "prefix part " SUBDOMAIN_MSG);
    assert_string_equal(m[1], "name part " QNAME_REGEX);
    assert_int_equal(k1s_is_qualified_name("a/", m), 2);
    assert_string_equal(m[0], "name part must be non-empty");
    assert_int_equal(k1s_is_label_value("", m), 0);
    assert_int_equal(k1s_is_label_value("-x", m), 1);
    assert_string_equal(m[0], LABEL_VALUE_MSG);
    assert_int_equal(k1s_is_config_map_key("..a", m), 1);
    assert_string_equal(m[0], "must not start with '..'");
    assert_int_equal(k1s_is_config_map_key("a b", m), 1);
    assert_int_equal(k1s_is_path_segment_name("..", false, m), 1);
    assert_string_equal(m[0], "may not be '..'");
    assert_int_equal(k1s_is_path_segment_name("a/b%", false, m), 2);
    assert_string_equal(m[1], "may not contain '%'");
    assert_null(k1s_validate_dns1123_subdomain("ok.example"));
    assert_string_equal(k1s_validate_dns1123_label("UP"), LABEL_MSG);
    assert_non_null(k1s_validate_dns1035_label("9"));
    assert_null(k1s_validate_qualified_name("app.kubernetes.io/name"));
    assert_null(k1s_validate_label_value("v1.2_3"));

    /* the name rule of each resource; generateName masks a trailing dash */
    assert_int_equal(k1s_validate_object_name(res("", "Service"), "web-", true, m), 0);
    assert_int_equal(k1s_validate_object_name(res("", "Service"), "1web", false, m), 1);
    assert_int_equal(k1s_validate_object_name(res("", "Namespace"), "a.b", false, m), 1);
    assert_int_equal(k1s_validate_object_name(res("", "Pod"), "a.b", false, m), 0);
    assert_int_equal(k1s_validate_object_name(res("rbac.authorization.k8s.io", "ClusterRole"),
                                              "system:Aa", false, m),
                     0);
    assert_int_equal(k1s_validate_object_name(res("", "Event"), "Any Thing", false, m), 0);
}

/* ---- the Status message ---- */

static void test_message(void **state)
{
    json_t *c = json_array();
    char *m = k1s_validate_message("Pod", "x", c);
    assert_string_equal(m, "Pod \"x\" is invalid");
    free(m);
    json_array_append_new(c, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid", "message",
                                       "Invalid value: -1: must be greater than or equal to 0",
                                       "field", "spec.replicas"));
    m = k1s_validate_message("Deployment.apps", "web", c);
    assert_string_equal(m, "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: "
                           "must be greater than or equal to 0");
    free(m);
    json_array_append_new(c, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid", "message",
                                       "Invalid value: -1: must be greater than or equal to 0",
                                       "field", "spec.replicas"));
    json_array_append_new(c, json_pack("{s:s, s:s}", "reason", "FieldValueTooLong", "message",
                                       "Too long: may not be more than 1048576 bytes"));
    m = k1s_validate_message("ConfigMap", "c", c);
    assert_string_equal(m, "ConfigMap \"c\" is invalid: [spec.replicas: Invalid value: -1: must be "
                           "greater than or equal to 0, : Too long: may not be more than 1048576 "
                           "bytes]");
    free(m);
    json_decref(c);
}

/* ---- ObjectMeta ---- */

static void test_meta_create(void **state)
{
    json_t *c = check("", "ConfigMap",
                      "{\"metadata\":{\"name\":\"Bad_Name\",\"namespace\":\"default\"}}", NULL);
    count(c, 1);
    has(c, "metadata.name", "FieldValueInvalid", "Invalid value: \"Bad_Name\": " SUBDOMAIN_MSG);
    json_decref(c);

    c = check("", "ConfigMap", "{\"metadata\":{\"namespace\":\"default\"}}", NULL);
    has(c, "metadata.name", "FieldValueRequired",
        "Required value: name or generateName is required");
    json_decref(c);

    c = check("", "ConfigMap", "{\"metadata\":{\"name\":\"x\"}}", NULL);
    has(c, "metadata.namespace", "FieldValueRequired", "Required value");
    json_decref(c);

    c = check("", "ConfigMap", "{\"metadata\":{\"name\":\"x\",\"namespace\":\"Default\"}}", NULL);
    has(c, "metadata.namespace", "FieldValueInvalid", "Invalid value: \"Default\": " LABEL_MSG);
    json_decref(c);

    c = check("", "Node", "{\"metadata\":{\"name\":\"n\",\"namespace\":\"x\"}}", NULL);
    has(c, "metadata.namespace", "FieldValueForbidden", "Forbidden: not allowed on this type");
    json_decref(c);

    c = check("", "ConfigMap",
              "{\"metadata\":{\"name\":\"x-1\",\"generateName\":\"X_-\",\"namespace\":\"default\","
              "\"generation\":-2}}",
              NULL);
    has(c, "metadata.generateName", "FieldValueInvalid", "Invalid value: \"X_-\": " SUBDOMAIN_MSG);
    has(c, "metadata.generation", "FieldValueInvalid",
        "Invalid value: -2: must be greater than or equal to 0");
    json_decref(c);

    /* labels: keys and values, reported at metadata.labels */
    c = check(
        "", "ConfigMap",
        "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"labels\":{\"a/b/c\":\"ok\","
        "\"good\":\"-bad\"}}}",
        NULL);
    count(c, 2);
    has(c, "metadata.labels", "FieldValueInvalid",
        "Invalid value: \"a/b/c\": a qualified name " QNAME_REGEX
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    has(c, "metadata.labels", "FieldValueInvalid", "Invalid value: \"-bad\": " LABEL_VALUE_MSG);
    json_decref(c);

    /* annotations: keys are checked lowercased, values are free, 256 KiB in total */
    c = check("", "ConfigMap",
              "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"annotations\":"
              "{\"Example.COM/Key\":\"any value at all!\",\"bad key\":\"\"}}}",
              NULL);
    count(c, 1);
    has(c, "metadata.annotations", "FieldValueInvalid",
        "Invalid value: \"bad key\": name part " QNAME_REGEX);
    json_decref(c);
    char *big = malloc(300 * 1024);
    memset(big, 'x', 300 * 1024 - 1);
    big[300 * 1024 - 1] = 0;
    json_t *o = json_pack("{s:{s:s, s:s, s:{s:s}}}", "metadata", "name", "x", "namespace", "d",
                          "annotations", "k", big);
    free(big);
    c = json_array();
    k1s_validate(res("", "ConfigMap"), o, NULL, c);
    count(c, 1);
    has(c, "metadata.annotations", "FieldValueTooLong",
        "Too long: may not be more than 262144 bytes");
    json_decref(c);
    json_decref(o);

    /* ownerReferences and finalizers */
    c = check("", "ConfigMap",
              "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"ownerReferences\":["
              "{\"apiVersion\":\"apps/\",\"kind\":\"\",\"name\":\"\",\"uid\":\"\"},"
              "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"name\":\"e\",\"uid\":\"u\"},"
              "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"a\",\"uid\":\"1\","
              "\"controller\":true},"
              "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"b\",\"uid\":\"2\","
              "\"controller\":true}],"
              "\"finalizers\":[\"foo\",\"example.com/ok\",\"orphan\",\"foregroundDeletion\"]}}",
              NULL);
    has(c, "metadata.ownerReferences.apiVersion", "FieldValueInvalid",
        "Invalid value: \"apps/\": version must not be empty");
    has(c, "metadata.ownerReferences.kind", "FieldValueInvalid",
        "Invalid value: \"\": kind must not be empty");
    has(c, "metadata.ownerReferences.name", "FieldValueInvalid",
        "Invalid value: \"\": name must not be empty");
    has(c, "metadata.ownerReferences.uid", "FieldValueInvalid",
        "Invalid value: \"\": uid must not be empty");
    has(c, "metadata.ownerReferences", "FieldValueInvalid",
        "Invalid value: v1.OwnerReference{APIVersion:\"v1\", Kind:\"Event\", Name:\"e\", "
        "UID:\"u\", "
        "Controller:(*bool)(nil), BlockOwnerDeletion:(*bool)(nil)}: /v1, Kind=Event is disallowed "
        "from being an owner");
    json_t *x;
    size_t i;
    bool found = false;
    json_array_foreach(c, i, x)
    {
        const char *msg = json_string_value(json_object_get(x, "message"));
        found |=
            strstr(msg, "Only one reference can have Controller set to true. Found \"true\" in "
                        "references for ReplicaSet/a and ReplicaSet/b") != NULL;
    }
    assert_true(found);
    has(c, "metadata.finalizers", "FieldValueInvalid",
        "Invalid value: []string{\"foo\", \"example.com/ok\", \"orphan\", \"foregroundDeletion\"}: "
        "finalizer orphan and foregroundDeletion cannot be both set");
    has(c, "metadata.finalizers[0]", "FieldValueInvalid",
        "Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully "
        "qualified");
    json_decref(c);

    c = check("", "ConfigMap",
              "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"managedFields\":["
              "{\"manager\":\"m\",\"operation\":\"Patch\",\"fieldsType\":\"FieldsV2\"}]}}",
              NULL);
    has(c, "metadata.managedFields[0].operation", "FieldValueInvalid",
        "Invalid value: \"Patch\": must be `Apply` or `Update`");
    has(c, "metadata.managedFields[0].fieldsType", "FieldValueInvalid",
        "Invalid value: \"FieldsV2\": must be `FieldsV1`");
    json_decref(c);
}

static void test_meta_update(void **state)
{
    const char *old = "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"uid\":\"u1\","
                      "\"resourceVersion\":\"5\",\"generation\":3,"
                      "\"creationTimestamp\":\"2026-01-02T03:04:05Z\"}}";
    json_t *c = check("", "ConfigMap",
                      "{\"metadata\":{\"name\":\"y\",\"namespace\":\"other\",\"uid\":\"u2\","
                      "\"resourceVersion\":\"5\",\"generation\":2,"
                      "\"creationTimestamp\":\"2026-01-03T03:04:05Z\"}}",
                      old);
    has(c, "metadata.name", "FieldValueInvalid", "Invalid value: \"y\": field is immutable");
    has(c, "metadata.namespace", "FieldValueInvalid",
        "Invalid value: \"other\": field is immutable");
    has(c, "metadata.uid", "FieldValueInvalid", "Invalid value: \"u2\": field is immutable");
    has(c, "metadata.generation", "FieldValueInvalid", "Invalid value: 2: must not be decremented");
    has(c, "metadata.creationTimestamp", "FieldValueInvalid",
        "Invalid value: 2026-01-03 03:04:05 +0000 UTC: field is immutable");
    json_decref(c);

    c = check("", "ConfigMap",
              "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"uid\":\"u1\","
              "\"generation\":3,\"creationTimestamp\":\"2026-01-02T03:04:05Z\"}}",
              old);
    count(c, 1);
    has(c, "metadata.resourceVersion", "FieldValueInvalid",
        "Invalid value: \"\": must be specified for an update");
    json_decref(c);

    /* no new finalizers once deletion started */
    c = check(
        "", "ConfigMap",
        "{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"resourceVersion\":\"2\","
        "\"deletionTimestamp\":\"2026-01-02T03:04:05Z\",\"finalizers\":[\"a.io/x\",\"b.io/y\"]}}",
        "{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"resourceVersion\":\"2\","
        "\"deletionTimestamp\":\"2026-01-02T03:04:05Z\",\"finalizers\":[\"a.io/x\"]}}");
    count(c, 1);
    has(c, "metadata.finalizers", "FieldValueForbidden",
        "Forbidden: no new finalizers can be added if the object is being deleted, found new "
        "finalizers []string{\"b.io/y\"}");
    json_decref(c);
}

/* ---- Namespace ---- */

static void test_namespace(void **state)
{
    json_t *c = check("", "Namespace", "{\"metadata\":{\"name\":\"team.a\"}}", NULL);
    count(c, 1);
    has(c, "metadata.name", "FieldValueInvalid",
        "Invalid value: \"team.a\": must not contain dots");
    json_decref(c);
    c = check("", "Namespace",
              "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"finalizers\":[\"bad\",\"a/b/c\"]}}",
              NULL);
    has(c, "spec.finalizers", "FieldValueInvalid",
        "Invalid value: \"bad\": name is neither a standard finalizer name nor is it fully "
        "qualified");
    json_decref(c);
    c = check("", "Namespace", "{\"metadata\":{\"name\":\"ok\"}}", NULL);
    none(c);
    json_decref(c);
}

/* ---- Pods ---- */

static void test_pod_basics(void **state)
{
    json_t *c = check("", "Pod", POD(M("p"), "{}"), NULL);
    count(c, 1);
    has(c, "spec.containers", "FieldValueRequired", "Required value");
    json_decref(c);

    c = check("", "Pod", POD(M("p"), "{\"containers\":[" CTR "]}"), NULL);
    none(c);
    json_decref(c);

    c = check("", "Pod",
              POD(M("p"), "{\"containers\":[{\"name\":\"Web\",\"image\":\"\"},{\"name\":\"Web\","
                          "\"image\":\"x\"}],\"restartPolicy\":\"Sometimes\",\"dnsPolicy\":\"X\"}"),
              NULL);
    has(c, "spec.containers[0].name", "FieldValueInvalid", "Invalid value: \"Web\": " LABEL_MSG);
    has(c, "spec.containers[0].image", "FieldValueRequired", "Required value");
    has(c, "spec.containers[1].name", "FieldValueDuplicate", "Duplicate value: \"Web\"");
    has(c, "spec.restartPolicy", "FieldValueNotSupported",
        "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
    has(c, "spec.dnsPolicy", "FieldValueNotSupported",
        "Unsupported value: \"X\": supported values: \"ClusterFirstWithHostNet\", "
        "\"ClusterFirst\", "
        "\"Default\", \"None\"");
    json_decref(c);

    c = check(
        "", "Pod",
        POD(M("p"),
            "{\"containers\":[{\"name\":\"c\",\"image\":\" nginx\","
            "\"imagePullPolicy\":\"Sometimes\",\"terminationMessagePolicy\":\"X\","
            "\"ports\":[{\"containerPort\":0},{\"containerPort\":70000,\"hostPort\":-1,"
            "\"name\":\"HTTP\",\"protocol\":\"ICMP\"},{\"containerPort\":8080,\"name\":\"web\"},"
            "{\"containerPort\":8081,\"name\":\"web\"}]}]}"),
        NULL);
    has(c, "spec.containers[0].image", "FieldValueInvalid",
        "Invalid value: \" nginx\": must not have leading or trailing whitespace");
    has(c, "spec.containers[0].imagePullPolicy", "FieldValueNotSupported",
        "Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", "
        "\"Never\"");
    has(c, "spec.containers[0].terminationMessagePolicy", "FieldValueNotSupported",
        "Unsupported value: \"X\": supported values: \"File\", \"FallbackToLogsOnError\"");
    has(c, "spec.containers[0].ports[0].containerPort", "FieldValueRequired", "Required value");
    has(c, "spec.containers[0].ports[1].containerPort", "FieldValueInvalid",
        "Invalid value: 70000: must be between 1 and 65535, inclusive");
    has(c, "spec.containers[0].ports[1].hostPort", "FieldValueInvalid",
        "Invalid value: -1: must be between 1 and 65535, inclusive");
    has(c, "spec.containers[0].ports[1].name", "FieldValueInvalid",
        "Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and "
        "hyphens (-)");
    has(c, "spec.containers[0].ports[1].protocol", "FieldValueNotSupported",
        "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
    has(c, "spec.containers[0].ports[3].name", "FieldValueDuplicate", "Duplicate value: \"web\"");
    json_decref(c);
}

static void test_pod_volumes_env(void **state)
{
    json_t *c = check(
        "", "Pod",
        POD(M("p"),
            "{\"volumes\":[{\"name\":\"data\"},{\"name\":\"data\"},{\"name\":\"Bad\"},"
            "{\"name\":\"two\",\"emptyDir\":{},\"hostPath\":{\"path\":\"/x\"}},"
            "{\"name\":\"cm\",\"configMap\":{\"defaultMode\":1000}},"
            "{\"name\":\"hp\",\"hostPath\":{\"path\":\"/a/../b\",\"type\":\"Weird\"}},"
            "{\"name\":\"sec\",\"secret\":{\"secretName\":\"s\",\"items\":[{\"key\":\"\",\"path\":"
            "\"/abs\"}]}}],"
            "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":["
            "{\"name\":\"data\",\"mountPath\":\"/d\"},{\"name\":\"missing\",\"mountPath\":\"/d\"}],"
            "\"env\":[{\"name\":\"\"},{\"name\":\"A=B\"},{\"name\":\"ok\",\"valueFrom\":{}},"
            "{\"name\":\"f\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.foo\"}}},"
            "{\"name\":\"k\",\"value\":\"v\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\","
            "\"key\":\"a b\"}}}],"
            "\"envFrom\":[{}]}]}"),
        NULL);
    has(c, "spec.volumes[1].name", "FieldValueDuplicate", "Duplicate value: \"data\"");
    has(c, "spec.volumes[2].name", "FieldValueInvalid", "Invalid value: \"Bad\": " LABEL_MSG);
    has(c, "spec.volumes[3].hostPath", "FieldValueForbidden",
        "Forbidden: may not specify more than 1 volume type");
    has(c, "spec.volumes[4].configMap.name", "FieldValueRequired", "Required value");
    has(c, "spec.volumes[4].configMap.defaultMode", "FieldValueInvalid",
        "Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive");
    has(c, "spec.volumes[5].hostPath.path", "FieldValueInvalid",
        "Invalid value: \"/a/../b\": must not contain '..'");
    has(c, "spec.volumes[5].hostPath.type", "FieldValueNotSupported",
        "Unsupported value: \"Weird\": supported values: \"\", \"BlockDevice\", \"CharDevice\", "
        "\"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"");
    has(c, "spec.volumes[6].secret.items[0].key", "FieldValueRequired", "Required value");
    has(c, "spec.volumes[6].secret.items[0].path", "FieldValueInvalid",
        "Invalid value: \"/abs\": must be a relative path");
    has(c, "spec.containers[0].volumeMounts[1].name", "FieldValueNotFound",
        "Not found: \"missing\"");
    has(c, "spec.containers[0].volumeMounts[1].mountPath", "FieldValueInvalid",
        "Invalid value: \"/d\": must be unique");
    has(c, "spec.containers[0].env[0].name", "FieldValueRequired", "Required value");
    has(c, "spec.containers[0].env[1].name", "FieldValueInvalid",
        "Invalid value: \"A=B\": a valid environment variable name must consist only of printable "
        "ASCII characters other than '='");
    has(c, "spec.containers[0].env[2].valueFrom", "FieldValueInvalid",
        "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, "
        "`configMapKeyRef` "
        "or `secretKeyRef`");
    has(c, "spec.containers[0].env[3].valueFrom.fieldRef.fieldPath", "FieldValueInvalid",
        "Invalid value: \"spec.foo\": error converting fieldPath: field label not supported: "
        "spec.foo");
    has(c, "spec.containers[0].env[4].valueFrom.secretKeyRef.key", "FieldValueInvalid",
        "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', "
        "'_' "
        "or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')");
    has(c, "spec.containers[0].env[4].valueFrom", "FieldValueInvalid",
        "Invalid value: \"\": may not be specified when `value` is not empty");
    has(c, "spec.containers[0].envFrom", "FieldValueInvalid",
        "Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`");
    json_decref(c);

    /* a fieldRef that is valid but not allowed for env vars */
    c = check("", "Pod",
              POD(M("p"),
                  "{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"env\":[{\"name\":\"p\","
                  "\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.phase\"}}}]}]}"),
              NULL);
    has(c, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", "FieldValueNotSupported",
        "Unsupported value: \"status.phase\": supported values: \"metadata.name\", "
        "\"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", "
        "\"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"");
    json_decref(c);
}

static void test_pod_resources_probes(void **state)
{
    json_t *c = check("", "Pod",
                      POD(M("p"), "{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{"
                                  "\"limits\":{\"cpu\":\"1\",\"memory\":\"-1Gi\",\"gpu\":\"1\","
                                  "\"example.com/dev\":\"500m\"},"
                                  "\"requests\":{\"cpu\":\"2\",\"memory\":\"abc\"}},"
                                  "\"livenessProbe\":{\"successThreshold\":2,\"periodSeconds\":-1},"
                                  "\"readinessProbe\":{\"httpGet\":{\"port\":0,\"scheme\":\"FTP\"},"
                                  "\"terminationGracePeriodSeconds\":5},"
                                  "\"lifecycle\":{\"preStop\":{\"sleep\":{\"seconds\":100}}},"
                                  "\"restartPolicy\":\"Always\"}]}"),
                      NULL);
    has(c, "spec.containers[0].resources.limits[memory]", "FieldValueInvalid",
        "Invalid value: \"-1Gi\": must be greater than or equal to 0");
    has(c, "spec.containers[0].resources.limits[gpu]", "FieldValueInvalid",
        "Invalid value: \"gpu\": must be a standard resource type or fully qualified");
    has(c, "spec.containers[0].resources.limits[gpu]", "FieldValueInvalid",
        "Invalid value: \"gpu\": must be a standard resource for containers");
    has(c, "spec.containers[0].resources.limits[example.com/dev]", "FieldValueInvalid",
        "Invalid value: resource.Quantity{i:resource.int64Amount{value:500, scale:-3}, "
        "d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"500m\", Format:\"DecimalSI\"}: must be "
        "an "
        "integer");
    has(c, "spec.containers[0].resources.requests", "FieldValueInvalid",
        "Invalid value: \"2\": must be less than or equal to cpu limit of 1");
    has(c, "spec.containers[0].resources.requests[memory]", "FieldValueInvalid",
        "Invalid value: \"abc\": quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    has(c, "spec.containers[0].livenessProbe", "FieldValueRequired",
        "Required value: must specify a handler type");
    has(c, "spec.containers[0].livenessProbe.periodSeconds", "FieldValueInvalid",
        "Invalid value: -1: must be greater than or equal to 0");
    has(c, "spec.containers[0].livenessProbe.successThreshold", "FieldValueInvalid",
        "Invalid value: 2: must be 1");
    has(c, "spec.containers[0].readinessProbe.httpGet.port", "FieldValueInvalid",
        "Invalid value: 0: must be between 1 and 65535, inclusive");
    has(c, "spec.containers[0].readinessProbe.httpGet.scheme", "FieldValueNotSupported",
        "Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"");
    has(c, "spec.containers[0].readinessProbe.terminationGracePeriodSeconds", "FieldValueInvalid",
        "Invalid value: 5: must not be set for readinessProbes");
    has(c, "spec.containers[0].lifecycle.preStop.sleep", "FieldValueInvalid",
        "Invalid value: 100: must be greater than 0 and less than terminationGracePeriodSeconds "
        "(30). "
        "Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.");
    has(c, "spec.containers[0].restartPolicy", "FieldValueForbidden",
        "Forbidden: may not be set for non-init containers");
    json_decref(c);

    /* extended resources must have equal requests and limits */
    c = check(
        "", "Pod",
        POD(M("p"),
            "{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{"
            "\"limits\":{\"example.com/gpu\":\"2\"},\"requests\":{\"example.com/gpu\":\"1\"}}}]}"),
        NULL);
    count(c, 1);
    has(c, "spec.containers[0].resources.requests", "FieldValueInvalid",
        "Invalid value: \"1\": must be equal to example.com/gpu limit of 2");
    json_decref(c);
    c = check("", "Pod",
              POD(M("p"), "{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{"
                          "\"requests\":{\"example.com/gpu\":\"1\"}}}]}"),
              NULL);
    has(c, "spec.containers[0].resources.limits", "FieldValueRequired",
        "Required value: Limit must be set for non overcommitable resources");
    json_decref(c);
}

static void test_pod_spec_misc(void **state)
{
    json_t *c =
        check("", "Pod",
              POD(M("p"),
                  "{\"containers\":[" CTR "],\"initContainers\":[{\"name\":\"c\",\"image\":\"x\","
                  "\"livenessProbe\":{\"exec\":{\"command\":[\"true\"]}}},{\"name\":\"s\","
                  "\"image\":\"x\","
                  "\"restartPolicy\":\"OnFailure\"}],"
                  "\"tolerations\":[{\"operator\":\"Equal\",\"value\":\"x\"},{\"key\":\"k\","
                  "\"operator\":\"Exists\","
                  "\"value\":\"v\",\"tolerationSeconds\":5,\"effect\":\"NoSchedule\"},{\"key\":"
                  "\"k\",\"operator\":\"In\"}],"
                  "\"activeDeadlineSeconds\":0,\"hostname\":\"Host\",\"serviceAccountName\":\"SA\","
                  "\"nodeSelector\":{\"disk\":\"fast ssd\"},\"dnsPolicy\":\"None\","
                  "\"securityContext\":{\"runAsUser\":-1,\"sysctls\":[{\"name\":\"net.Bad\"}]},"
                  "\"topologySpreadConstraints\":[{\"maxSkew\":0,\"topologyKey\":\"\","
                  "\"whenUnsatisfiable\":\"Never\"}]}"),
              NULL);
    has(c, "spec.initContainers[0].name", "FieldValueDuplicate", "Duplicate value: \"c\"");
    has(c, "spec.initContainers[0].livenessProbe", "FieldValueForbidden",
        "Forbidden: may not be set for init containers without restartPolicy=Always");
    has(c, "spec.initContainers[1].restartPolicy", "FieldValueNotSupported",
        "Unsupported value: \"OnFailure\": supported values: \"Always\"");
    has(c, "spec.tolerations[0].operator", "FieldValueInvalid",
        "Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means "
        "\"match "
        "all values and all keys\"");
    has(c, "spec.tolerations[1].effect", "FieldValueInvalid",
        "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is "
        "set");
    has(c, "spec.tolerations[1].operator", "FieldValueInvalid",
        "Invalid value: \"v\": value must be empty when `operator` is 'Exists'");
    has(c, "spec.tolerations[2].operator", "FieldValueNotSupported",
        "Unsupported value: \"In\": supported values: \"Equal\", \"Exists\"");
    has(c, "spec.activeDeadlineSeconds", "FieldValueInvalid",
        "Invalid value: 0: must be between 1 and 2147483647, inclusive");
    has(c, "spec.hostname", "FieldValueInvalid", "Invalid value: \"Host\": " LABEL_MSG);
    has(c, "spec.serviceAccountName", "FieldValueInvalid", "Invalid value: \"SA\": " SUBDOMAIN_MSG);
    has(c, "spec.nodeSelector", "FieldValueInvalid",
        "Invalid value: \"fast ssd\": " LABEL_VALUE_MSG);
    has(c, "spec.dnsConfig", "FieldValueRequired",
        "Required value: must provide `dnsConfig` when `dnsPolicy` is None");
    has(c, "spec.securityContext.runAsUser", "FieldValueInvalid",
        "Invalid value: -1: must be between 0 and 2147483647, inclusive");
    has(c, "spec.securityContext.sysctls[0].name", "FieldValueInvalid",
        "Invalid value: \"net.Bad\": must have at most 253 characters and match regex "
        "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$");
    has(c, "spec.topologySpreadConstraints[0].maxSkew", "FieldValueInvalid",
        "Invalid value: 0: must be greater than zero");
    has(c, "spec.topologySpreadConstraints[0].topologyKey", "FieldValueRequired",
        "Required value: can not be empty");
    has(c, "spec.topologySpreadConstraints[0].whenUnsatisfiable", "FieldValueNotSupported",
        "Unsupported value: \"Never\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"");
    json_decref(c);

    /* host ports conflict across containers; hostNetwork wants hostPort == containerPort */
    c = check(
        "", "Pod",
        POD(M("p"),
            "{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"ports\":[{\"containerPort\":80,"
            "\"hostPort\":8080}]},{\"name\":\"b\",\"image\":\"x\",\"ports\":[{\"containerPort\":81,"
            "\"hostPort\":8080}]}]}"),
        NULL);
    count(c, 1);
    has(c, "spec.containers[1].ports[0].hostPort", "FieldValueDuplicate",
        "Duplicate value: \"TCP//8080\"");
    json_decref(c);
    c = check("", "Pod",
              POD(M("p"), "{\"hostNetwork\":true,\"containers\":[{\"name\":\"a\",\"image\":\"x\","
                          "\"ports\":[{\"containerPort\":80,\"hostPort\":81}]}]}"),
              NULL);
    has(c, "spec.containers[0].ports[0].hostPort", "FieldValueInvalid",
        "Invalid value: 81: must match `containerPort` when `hostNetwork` is true");
    json_decref(c);

    /* create-only rules and annotations */
    c = check(
        "", "Pod",
        "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"annotations\":{"
        "\"controller.kubernetes.io/pod-deletion-cost\":\"007\"}},\"spec\":{\"nodeName\":\"n\","
        "\"schedulingGates\":[{\"name\":\"g\"}],\"containers\":[" CTR "],"
        "\"ephemeralContainers\":[{\"name\":\"e\",\"image\":\"x\"}]}}",
        NULL);
    has(c, "spec.ephemeralContainers", "FieldValueForbidden", "Forbidden: cannot be set on create");
    has(c, "spec.nodeName", "FieldValueForbidden",
        "Forbidden: cannot be set until all schedulingGates have been cleared");
    has(c, "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]", "FieldValueInvalid",
        "Invalid value: \"007\": must be a 32bit integer");
    json_decref(c);
    c = check("", "Pod",
              "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"annotations\":{"
              "\"seccomp.security.alpha.kubernetes.io/pod\":\"strict\","
              "\"container.apparmor.security.beta.kubernetes.io/x\":\"enforce\"}},"
              "\"spec\":{\"containers\":[" CTR "]}}",
              NULL);
    count(c, 3);
    has(c, "metadata.annotations.seccomp.security.alpha.kubernetes.io/pod", "FieldValueInvalid",
        "Invalid value: \"strict\": must be a valid seccomp profile");
    has(c, "metadata.annotations[container.apparmor.security.beta.kubernetes.io/x]",
        "FieldValueInvalid", "Invalid value: \"x\": container not found");
    has(c, "metadata.annotations[container.apparmor.security.beta.kubernetes.io/x]",
        "FieldValueInvalid",
        "Invalid value: \"enforce\": invalid AppArmor profile name: \"enforce\"");
    json_decref(c);
}

static void test_pod_update(void **state)
{
    const char *old =
        "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"resourceVersion\":\"1\"},"
        "\"spec\":{\"activeDeadlineSeconds\":100,\"tolerations\":[{\"key\":\"a\","
        "\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":5}],"
        "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}";
    /* image, shorter deadline, tolerationSeconds and added tolerations are fine */
    json_t *c =
        check("", "Pod",
              "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"resourceVersion\":\"1\"},"
              "\"spec\":{\"activeDeadlineSeconds\":50,\"tolerations\":[{\"key\":\"a\","
              "\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":9},"
              "{\"key\":\"b\",\"operator\":\"Exists\"}],"
              "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:2\"}]}}",
              old);
    none(c);
    json_decref(c);

    c = check("", "Pod",
              "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"resourceVersion\":\"1\"},"
              "\"spec\":{\"activeDeadlineSeconds\":200,\"tolerations\":[],"
              "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\",\"env\":[{\"name\":\"A\","
              "\"value\":\"1\"}]}]}}",
              old);
    has(c, "spec.activeDeadlineSeconds", "FieldValueInvalid",
        "Invalid value: 200: must be less than or equal to previous value");
    json_decref(c);

    c = check("", "Pod",
              "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"resourceVersion\":\"1\"},"
              "\"spec\":{\"activeDeadlineSeconds\":100,\"tolerations\":[],"
              "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\",\"env\":[{\"name\":\"A\","
              "\"value\":\"1\"}]}]}}",
              old);
    has(c, "spec.tolerations", "FieldValueForbidden",
        "Forbidden: existing toleration can not be modified except its tolerationSeconds");
    size_t i;
    json_t *x;
    bool found = false;
    json_array_foreach(c, i, x)
    {
        const char *msg = json_string_value(json_object_get(x, "message"));
        if (strcmp(json_string_value(json_object_get(x, "field")), "spec") == 0 &&
            k1s_str_has_prefix(msg,
                               "Forbidden: pod updates may not change fields other than "
                               "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                               "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                               "to existing tolerations),`spec.terminationGracePeriodSeconds` "
                               "(allow it to be set to 1 if it was previously negative)\n"))
            found = strstr(msg, "Containers") != NULL;
    }
    assert_true(found);
    json_decref(c);

    c = check("", "Pod",
              "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"resourceVersion\":\"1\"},"
              "\"spec\":{\"containers\":[" CTR "," CTR "]}}",
              old);
    has(c, "spec.containers", "FieldValueForbidden",
        "Forbidden: pod updates may not add or remove containers");
    has(c, "spec.containers[1].name", "FieldValueDuplicate", "Duplicate value: \"c\"");
    json_decref(c);
}

/* ---- Deployments and ReplicaSets ---- */

#define DEPLOY(spec) "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":" spec "}"
#define TMPL(labels)                                                                               \
    "\"template\":{\"metadata\":{\"labels\":" labels "},\"spec\":{\"containers\":[" CTR "]}}"

static void test_deployment(void **state)
{
    json_t *c =
        check("apps", "Deployment",
              DEPLOY("{\"replicas\":-1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TMPL(
                  "{\"app\":\"x\"}") "}"),
              NULL);
    count(c, 2);
    has(c, "spec.replicas", "FieldValueInvalid",
        "Invalid value: -1: must be greater than or equal to 0");
    has(c, "spec.template.metadata.labels", "FieldValueInvalid",
        "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template "
        "`labels`");
    char *m = k1s_validate_message("Deployment.apps", "web", c);
    assert_string_equal(
        m, "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: "
           "must be greater than or equal to 0, spec.template.metadata.labels: Invalid "
           "value: map[string]string{\"app\":\"x\"}: `selector` does not match template "
           "`labels`]");
    free(m);
    json_decref(c);

    c = check("apps", "Deployment", DEPLOY("{" TMPL("{\"app\":\"x\"}") "}"), NULL);
    count(c, 2);
    has(c, "spec.selector", "FieldValueRequired", "Required value");
    has(c, "spec.template.metadata.labels", "FieldValueInvalid",
        "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template "
        "`labels`");
    json_decref(c);

    c = check("apps", "Deployment", DEPLOY("{\"selector\":{}," TMPL("{\"app\":\"x\"}") "}"), NULL);
    count(c, 1);
    has(c, "spec.selector", "FieldValueInvalid",
        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
        "deployment");
    json_decref(c);

    c = check(
        "apps", "Deployment",
        DEPLOY(
            "{\"selector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Has\"}]}," TMPL(
                "{\"app\":\"x\"}") ",\"strategy\":{\"rollingUpdate\":{\"maxUnavailable\":0,"
                                   "\"maxSurge\":\"0%\"}},"
                                   "\"minReadySeconds\":700,\"template\":{\"metadata\":{\"labels\":"
                                   "{\"app\":\"x\"}},"
                                   "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[" CTR
                                   "]}}}"),
        NULL);
    has(c, "spec.selector.matchExpressions[0].operator", "FieldValueInvalid",
        "Invalid value: \"Has\": not a valid selector operator");
    has(c, "spec.selector", "FieldValueInvalid",
        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", "
        "Operator:\"Has\", Values:[]string(nil)}}}: invalid label selector");
    has(c, "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
        "Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when "
        "`maxSurge` is 0");
    has(c, "spec.progressDeadlineSeconds", "FieldValueInvalid",
        "Invalid value: 600: must be greater than minReadySeconds");
    json_decref(c);

    c = check(
        "apps", "Deployment",
        DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"x\"}},\"template\":{\"metadata\":{"
               "\"labels\":"
               "{\"app\":\"x\"}},\"spec\":{\"restartPolicy\":\"Never\",\"activeDeadlineSeconds\":5,"
               "\"containers\":[" CTR "]}},\"strategy\":{\"type\":\"BlueGreen\"}}"),
        NULL);
    has(c, "spec.template.spec.restartPolicy", "FieldValueNotSupported",
        "Unsupported value: \"Never\": supported values: \"Always\"");
    has(c, "spec.template.spec.activeDeadlineSeconds", "FieldValueForbidden",
        "Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported");
    has(c, "spec.strategy", "FieldValueNotSupported",
        "Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", "
        "RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", "
        "\"RollingUpdate\"");
    json_decref(c);

    c = check("apps", "Deployment",
              DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"x\"}}," TMPL(
                  "{\"app\":\"x\"}") ",\"strategy\":{\"rollingUpdate\":{\"maxUnavailable\":\"150%"
                                     "\",\"maxSurge\":\"x\"}}}"),
              NULL);
    has(c, "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
        "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater "
        "than 100%");
    has(c, "spec.strategy.rollingUpdate.maxSurge", "FieldValueInvalid",
        "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x\"}: a valid percent string "
        "must "
        "be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
        "validation is '[0-9]+%')");
    json_decref(c);

    /* the selector is immutable */
    c = check("apps", "Deployment",
              "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"resourceVersion\":\"3\"}"
              ",\"spec\":"
              "{\"selector\":{\"matchLabels\":{\"app\":\"y\"}}," TMPL("{\"app\":\"y\"}") "}}",
              "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"resourceVersion\":\"3\"}"
              ",\"spec\":"
              "{\"selector\":{\"matchLabels\":{\"app\":\"x\"}}," TMPL("{\"app\":\"x\"}") "}}");
    count(c, 1);
    has(c, "spec.selector", "FieldValueInvalid",
        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"y\"}, "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable");
    json_decref(c);

    c = check("apps", "ReplicaSet",
              DEPLOY("{\"replicas\":-3,\"selector\":{\"matchLabels\":{\"app\":\"x\"}},"
                     "\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},\"spec\":{"
                     "\"containers\":[]}}}"),
              NULL);
    count(c, 2);
    has(c, "spec.replicas", "FieldValueInvalid",
        "Invalid value: -3: must be greater than or equal to 0");
    has(c, "spec.template.spec.containers", "FieldValueRequired", "Required value");
    json_decref(c);
}

static void test_statefulset_daemonset(void **state)
{
    json_t *c =
        check("apps", "StatefulSet",
              DEPLOY("{\"serviceName\":\"Web\",\"podManagementPolicy\":\"Fast\",\"selector\":{"
                     "\"matchLabels\":{\"app\":\"w\"}}," TMPL(
                         "{\"app\":\"w\"}") ",\"updateStrategy\":{\"type\":\"Manual\"},"
                                            "\"persistentVolumeClaimRetentionPolicy\":"
                                            "{\"whenDeleted\":\"Keep\"},\"volumeClaimTemplates\":[{"
                                            "\"metadata\":{\"name\":\"d\"},"
                                            "\"spec\":{\"resources\":{\"requests\":{\"storage\":"
                                            "\"1Gi\"}}}}]}"),
              NULL);
    has(c, "spec.podManagementPolicy", "FieldValueInvalid",
        "Invalid value: \"Fast\": must be 'OrderedReady' or 'Parallel'");
    has(c, "spec.updateStrategy", "FieldValueInvalid",
        "Invalid value: apps.StatefulSetUpdateStrategy{Type:\"Manual\", "
        "RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or "
        "'OnDelete'");
    has(c, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", "FieldValueNotSupported",
        "Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"");
    has(c, "spec.volumeClaimTemplates[0].spec.accessModes", "FieldValueRequired",
        "Required value: at least 1 access mode is required");
    has(c, "spec.serviceName", "FieldValueInvalid", "Invalid value: \"Web\": " LABEL_MSG);
    json_decref(c);

    /* a mount of a claim template is valid */
    c = check(
        "apps", "StatefulSet",
        DEPLOY(
            "{\"selector\":{\"matchLabels\":{\"app\":\"w\"}},\"template\":{\"metadata\":{"
            "\"labels\":"
            "{\"app\":\"w\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\","
            "\"volumeMounts\":"
            "[{\"name\":\"d\",\"mountPath\":\"/d\"}]}]}},\"volumeClaimTemplates\":[{\"metadata\":"
            "{\"name\":\"d\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":"
            "{\"requests\":{\"storage\":\"1Gi\"}}}}]}"),
        NULL);
    none(c);
    json_decref(c);

    const char *old =
        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"resourceVersion\":\"1\"},"
        "\"spec\":{\"serviceName\":\"a\",\"replicas\":1,\"selector\":{\"matchLabels\":"
        "{\"app\":\"w\"}}," TMPL("{\"app\":\"w\"}") "}}";
    c = check(
        "apps", "StatefulSet",
        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"resourceVersion\":\"1\"},"
        "\"spec\":{\"serviceName\":\"b\",\"replicas\":5,\"selector\":{\"matchLabels\":"
        "{\"app\":\"w\"}}," TMPL("{\"app\":\"w\"}") "}}",
        old);
    count(c, 1);
    has(c, "spec", "FieldValueForbidden",
        "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
        "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' "
        "are forbidden");
    json_decref(c);

    c = check("apps", "DaemonSet",
              DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"d\"}}," TMPL(
                  "{\"app\":\"e\"}") ",\"updateStrategy\":{\"rollingUpdate\":{\"maxUnavailable\":0,"
                                     "\"maxSurge\":0}}}"),
              NULL);
    has(c, "spec.template.metadata.labels", "FieldValueInvalid",
        "Invalid value: map[string]string{\"app\":\"e\"}: `selector` does not match template "
        "`labels`");
    has(c, "spec.updateStrategy.rollingUpdate.maxUnavailable", "FieldValueRequired",
        "Required value: cannot be 0 when maxSurge is 0");
    json_decref(c);
    c = check("apps", "DaemonSet",
              DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"d\"}}," TMPL(
                  "{\"app\":\"d\"}") ",\"updateStrategy\":{\"rollingUpdate\":{\"maxUnavailable\":1,"
                                     "\"maxSurge\":1}}}"),
              NULL);
    count(c, 1);
    has(c, "spec.updateStrategy.rollingUpdate.maxSurge", "FieldValueInvalid",
        "Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}: may not be set when "
        "maxUnavailable is non-zero");
    json_decref(c);
}

/* ---- Jobs and CronJobs ---- */

#define JOB(meta, spec) "{\"metadata\":" meta ",\"spec\":" spec "}"
#define JMETA "{\"name\":\"pi\",\"namespace\":\"default\",\"uid\":\"u-1\"}"
#define JTMPL(rp) "\"template\":{\"spec\":{\"restartPolicy\":\"" rp "\",\"containers\":[" CTR "]}}"

static void test_job(void **state)
{
    json_t *c = check("batch", "Job", JOB(JMETA, "{" JTMPL("Never") "}"), NULL);
    none(c);
    json_decref(c);

    c = check("batch", "Job", JOB(JMETA, "{\"template\":{\"spec\":{\"containers\":[" CTR "]}}}"),
              NULL);
    count(c, 1);
    has(c, "spec.template.spec.restartPolicy", "FieldValueRequired",
        "Required value: valid values: \"OnFailure\", \"Never\"");
    json_decref(c);

    c = check("batch", "Job",
              JOB(JMETA, "{\"parallelism\":-1,\"backoffLimit\":-2,\"completionMode\":\"Indexed\","
                         "\"podReplacementPolicy\":\"Sometimes\"," JTMPL("OnFailure") "}"),
              NULL);
    has(c, "spec.parallelism", "FieldValueInvalid",
        "Invalid value: -1: must be greater than or equal to 0");
    has(c, "spec.backoffLimit", "FieldValueInvalid",
        "Invalid value: -2: must be greater than or equal to 0");
    has(c, "spec.completions", "FieldValueRequired",
        "Required value: when completion mode is Indexed");
    has(c, "spec.podReplacementPolicy", "FieldValueNotSupported",
        "Unsupported value: \"Sometimes\": supported values: \"Failed\", \"TerminatingOrFailed\"");
    json_decref(c);

    /* a label that contradicts the generated selector */
    c = check("batch", "Job",
              JOB(JMETA, "{\"template\":{\"metadata\":{\"labels\":{\"controller-uid\":\"other\"}},"
                         "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[" CTR "]}}}"),
              NULL);
    has(c, "spec.template.metadata.labels[controller-uid]", "FieldValueInvalid",
        "Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u-1\", "
        "\"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"other\", "
        "\"job-name\":\"pi\"}: "
        "must be 'u-1'");
    json_decref(c);

    /* manual selectors must match the template */
    c = check(
        "batch", "Job",
        JOB(JMETA,
            "{\"manualSelector\":true,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
            "\"template\":{\"metadata\":{\"labels\":{\"a\":\"c\"}},\"spec\":{\"restartPolicy\":"
            "\"Never\",\"containers\":[" CTR "]}}}"),
        NULL);
    count(c, 1);
    has(c, "spec.template.metadata.labels", "FieldValueInvalid",
        "Invalid value: map[string]string{\"a\":\"c\"}: `selector` does not match template "
        "`labels`");
    json_decref(c);

    /* the template and completions are immutable */
    const char *old =
        JOB("{\"name\":\"pi\",\"namespace\":\"default\",\"uid\":\"u-1\",\"resourceVersion\":\"1\"}",
            "{\"completions\":2," JTMPL("Never") "}");
    c = check(
        "batch", "Job",
        JOB("{\"name\":\"pi\",\"namespace\":\"default\",\"uid\":\"u-1\",\"resourceVersion\":\"1\"}",
            "{\"completions\":3," JTMPL("OnFailure") "}"),
        old);
    has(c, "spec.completions", "FieldValueInvalid", "Invalid value: 3: field is immutable");
    has(c, "spec.template", "FieldValueInvalid",
        "Invalid value: core.PodTemplateSpec{...}: field is immutable");
    json_decref(c);
}

#define CJ(spec) "{\"metadata\":{\"name\":\"cj\",\"namespace\":\"default\"},\"spec\":" spec "}"
#define JT "\"jobTemplate\":{\"spec\":{" JTMPL("OnFailure") "}}"

static void test_cronjob(void **state)
{
    json_t *c = check("batch", "CronJob", CJ("{\"schedule\":\"*/5 * * * *\"," JT "}"), NULL);
    none(c);
    json_decref(c);
    c = check("batch", "CronJob",
              CJ("{\"schedule\":\"@hourly\",\"timeZone\":\"Europe/Paris\"," JT "}"), NULL);
    none(c);
    json_decref(c);

    c = check("batch", "CronJob", CJ("{" JT "}"), NULL);
    count(c, 1);
    has(c, "spec.schedule", "FieldValueRequired", "Required value");
    json_decref(c);

    static const struct {
        const char *sched, *msg;
    } bad[] = {
        {"* * *", "Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]"},
        {"61 * * * *", "Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"},
        {"* * 0 * *", "Invalid value: \"* * 0 * *\": beginning of range (0) below minimum (1): 0"},
        {"5-1 * * * *",
         "Invalid value: \"5-1 * * * *\": beginning of range (5) beyond end of range "
         "(1): 5-1"},
        {"x * * * *",
         "Invalid value: \"x * * * *\": failed to parse int from x: strconv.Atoi: parsing "
         "\"x\": invalid syntax"},
        {"*/0 * * * *",
         "Invalid value: \"*/0 * * * *\": step of range should be a positive number: */0"},
        {"@sometimes", "Invalid value: \"@sometimes\": unrecognized descriptor: @sometimes"},
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(bad); i++) {
        char *js = k1s_xasprintf(CJ("{\"schedule\":\"%s\"," JT "}"), bad[i].sched);
        c = check("batch", "CronJob", js, NULL);
        count(c, 1);
        has(c, "spec.schedule", "FieldValueInvalid", bad[i].msg);
        json_decref(c);
        free(js);
    }
    c = check("batch", "CronJob", CJ("{\"schedule\":\"TZ=UTC 0 * * * *\"," JT "}"), NULL);
    count(c, 1);
    has(c, "spec.schedule", "FieldValueInvalid",
        "Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone "
        "field "
        "instead");
    json_decref(c);
    c = check(
        "batch", "CronJob",
        CJ("{\"schedule\":\"0 * * * "
           "*\",\"timeZone\":\"Mars/Olympus\",\"concurrencyPolicy\":\"Never\","
           "\"jobTemplate\":{\"spec\":{\"selector\":{},\"template\":{\"spec\":{\"restartPolicy\":"
           "\"Never\",\"containers\":[" CTR "]}}}}}"),
        NULL);
    has(c, "spec.timeZone", "FieldValueInvalid",
        "Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus");
    has(c, "spec.concurrencyPolicy", "FieldValueNotSupported",
        "Unsupported value: \"Never\": supported values: \"Allow\", \"Forbid\", \"Replace\"");
    has(c, "spec.jobTemplate.spec.selector", "FieldValueInvalid",
        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated");
    json_decref(c);
    c = check("batch", "CronJob",
              "{\"metadata\":{\"name\":\"a-very-long-cronjob-name-that-is-longer-than-fifty-two\","
              "\"namespace\":\"default\"},\"spec\":{\"schedule\":\"0 0 * * *\"," JT "}}",
              NULL);
    count(c, 1);
    has(c, "metadata.name", "FieldValueInvalid",
        "Invalid value: \"a-very-long-cronjob-name-that-is-longer-than-fifty-two\": must be no "
        "more "
        "than 52 characters");
    json_decref(c);
}

/* ---- Services ---- */

#define SVC(spec) "{\"metadata\":{\"name\":\"svc\",\"namespace\":\"default\"},\"spec\":" spec "}"

static void test_service(void **state)
{
    json_t *c =
        check("", "Service", SVC("{\"selector\":{\"app\":\"x\"},\"ports\":[{\"port\":80}]}"), NULL);
    none(c);
    json_decref(c);

    c = check("", "Service", SVC("{}"), NULL);
    count(c, 1);
    has(c, "spec.ports", "FieldValueRequired", "Required value");
    json_decref(c);
    c = check("", "Service", SVC("{\"clusterIP\":\"None\"}"), NULL);
    none(c);
    json_decref(c);

    c = check(
        "", "Service",
        SVC("{\"type\":\"Magic\",\"sessionAffinity\":\"Sticky\",\"ports\":[{\"port\":80},"
            "{\"port\":80,\"name\":\"Web\"},{\"port\":0,\"name\":\"web2\",\"protocol\":\"HTTP\","
            "\"targetPort\":\"a--b\"}]}"),
        NULL);
    has(c, "spec.ports[0].name", "FieldValueRequired", "Required value");
    has(c, "spec.ports[1].name", "FieldValueInvalid", "Invalid value: \"Web\": " LABEL_MSG);
    has(c, "spec.ports[2].port", "FieldValueInvalid",
        "Invalid value: 0: must be between 1 and 65535, inclusive");
    has(c, "spec.ports[2].protocol", "FieldValueNotSupported",
        "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
    has(c, "spec.ports[2].targetPort", "FieldValueInvalid",
        "Invalid value: \"a--b\": must not contain consecutive hyphens");
    has(c, "spec.sessionAffinity", "FieldValueNotSupported",
        "Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"");
    has(c, "spec.type", "FieldValueNotSupported",
        "Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", "
        "\"LoadBalancer\", \"NodePort\"");
    has(c, "spec.ports[1]", "FieldValueDuplicate",
        "Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", "
        "AppProtocol:(*string)(nil), "
        "Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}");
    json_decref(c);

    c = check(
        "", "Service",
        SVC("{\"ports\":[{\"port\":80,\"nodePort\":30001}],\"externalTrafficPolicy\":\"Local\","
            "\"clusterIP\":\"10.43.0.300\",\"externalIPs\":[\"127.0.0.1\"]}"),
        NULL);
    has(c, "spec.ports[0].nodePort", "FieldValueForbidden",
        "Forbidden: may not be used when `type` is 'ClusterIP'");
    has(c, "spec.clusterIPs[0]", "FieldValueInvalid",
        "Invalid value: \"10.43.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or "
        "2001:db8::ffff)");
    has(c, "spec.externalIPs[0]", "FieldValueInvalid",
        "Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)");
    json_decref(c);

    c = check("", "Service", SVC("{\"ports\":[{\"port\":80}],\"externalTrafficPolicy\":\"Local\"}"),
              NULL);
    count(c, 1);
    has(c, "spec.externalTrafficPolicy", "FieldValueInvalid",
        "Invalid value: \"Local\": may only be set for externally-accessible services");
    json_decref(c);

    c = check("", "Service",
              SVC("{\"type\":\"NodePort\",\"clusterIP\":\"None\",\"ports\":[{\"port\":80,"
                  "\"nodePort\":30001},"
                  "{\"port\":81,\"name\":\"b\",\"nodePort\":30001}]}"),
              NULL);
    has(c, "spec.clusterIPs[0]", "FieldValueInvalid",
        "Invalid value: \"None\": may not be set to 'None' for NodePort services");
    has(c, "spec.ports[1].nodePort", "FieldValueDuplicate", "Duplicate value: 30001");
    json_decref(c);

    c = check("", "Service", SVC("{\"type\":\"ExternalName\",\"externalName\":\"Bad_Host.\"}"),
              NULL);
    count(c, 1);
    has(c, "spec.externalName", "FieldValueInvalid", "Invalid value: \"Bad_Host\": " SUBDOMAIN_MSG);
    json_decref(c);

    /* clusterIP may not change; omitting it on update keeps the allocated one */
    const char *old =
        "{\"metadata\":{\"name\":\"svc\",\"namespace\":\"default\",\"resourceVersion\":\"1\"},"
        "\"spec\":{\"clusterIP\":\"10.43.0.10\",\"clusterIPs\":[\"10.43.0.10\"],"
        "\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":\"SingleStack\",\"ports\":[{\"port\":80}]}}";
    c = check(
        "", "Service",
        "{\"metadata\":{\"name\":\"svc\",\"namespace\":\"default\",\"resourceVersion\":\"1\"},"
        "\"spec\":{\"clusterIP\":\"10.43.0.11\",\"clusterIPs\":[\"10.43.0.11\"],\"ports\":[{"
        "\"port\":80}]}}",
        old);
    has(c, "spec.clusterIPs[0]", "FieldValueInvalid",
        "Invalid value: []string{\"10.43.0.11\"}: may not change once set");
    json_decref(c);
    c = check(
        "", "Service",
        "{\"metadata\":{\"name\":\"svc\",\"namespace\":\"default\",\"resourceVersion\":\"1\"},"
        "\"spec\":{\"ports\":[{\"port\":8080}]}}",
        old);
    none(c);
    json_decref(c);
}

/* ---- ConfigMaps and Secrets ---- */

static void test_configmap_secret(void **state)
{
    json_t *c = check(
        "", "ConfigMap",
        "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"data\":{\"a b\":\"1\",\"dup\":\"2\"},"
        "\"binaryData\":{\"dup\":\"AA==\",\"..x\":\"AA==\"}}",
        NULL);
    has(c, "data[a b]", "FieldValueInvalid",
        "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', "
        "'_' "
        "or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')");
    has(c, "data[dup]", "FieldValueInvalid",
        "Invalid value: \"dup\": duplicate of key present in binaryData");
    has(c, "binaryData[..x]", "FieldValueInvalid",
        "Invalid value: \"..x\": must not start with '..'");
    json_decref(c);

    char *big = malloc(1024 * 1024 + 2);
    memset(big, 'x', 1024 * 1024 + 1);
    big[1024 * 1024 + 1] = 0;
    json_t *o = json_pack("{s:{s:s, s:s}, s:{s:s}}", "metadata", "name", "c", "namespace", "d",
                          "data", "k", big);
    free(big);
    c = json_array();
    k1s_validate(res("", "ConfigMap"), o, NULL, c);
    count(c, 1);
    has(c, "[]", "FieldValueTooLong", "Too long: may not be more than 1048576 bytes");
    json_decref(c);
    json_decref(o);

    /* immutable ConfigMaps and Secrets */
    c = check("", "ConfigMap",
              "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\",\"resourceVersion\":\"1\"},"
              "\"data\":{\"a\":\"2\"}}",
              "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\",\"resourceVersion\":\"1\"},"
              "\"immutable\":true,"
              "\"data\":{\"a\":\"1\"}}");
    count(c, 2);
    has(c, "immutable", "FieldValueForbidden",
        "Forbidden: field is immutable when `immutable` is set");
    has(c, "data", "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set");
    json_decref(c);
    c = check("", "Secret",
              "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\",\"resourceVersion\":\"1\"},"
              "\"type\":\"x/y\"}",
              "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\",\"resourceVersion\":\"1\"}}");
    count(c, 1);
    has(c, "type", "FieldValueInvalid", "Invalid value: \"x/y\": field is immutable");
    json_decref(c);

    c = check("", "Secret",
              "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"type\":\"kubernetes.io/tls\","
              "\"data\":{\"tls.crt\":\"QQ==\"}}",
              NULL);
    count(c, 1);
    has(c, "data[tls.key]", "FieldValueRequired", "Required value");
    json_decref(c);
    c = check(
        "", "Secret",
        "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"type\":\"kubernetes.io/basic-auth\"}",
        NULL);
    count(c, 2);
    has(c, "data[username]", "FieldValueRequired", "Required value");
    has(c, "data[password]", "FieldValueRequired", "Required value");
    json_decref(c);
    c = check("", "Secret",
              "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"type\":\"kubernetes.io/"
              "service-account-token\"}",
              NULL);
    has(c, "metadata.annotations[kubernetes.io/service-account.name]", "FieldValueRequired",
        "Required value");
    json_decref(c);
    c = check("", "Secret",
              "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"type\":\"kubernetes.io/"
              "dockerconfigjson\","
              "\"stringData\":{\".dockerconfigjson\":\"{\\\"auths\\\":{}}\"}}",
              NULL);
    none(c);
    json_decref(c);
    c = check(
        "", "Secret",
        "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"stringData\":{\"bad key\":\"v\"}}",
        NULL);
    count(c, 1);
    json_decref(c);
}

/* ---- Nodes, Leases, PVCs, PriorityClasses ---- */

static void test_other_kinds(void **state)
{
    json_t *c = check(
        "", "Node",
        "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDRs\":[\"10.42.0.0/33\"],\"taints\":["
        "{\"key\":\"k\",\"effect\":\"NoSchedule\"},{\"key\":\"k\",\"effect\":\"NoSchedule\"},"
        "{\"key\":\"x\",\"effect\":\"Sometimes\"}]},\"status\":{\"capacity\":{\"cpu\":\"-1\"}}}",
        NULL);
    has(c, "spec.podCIDRs[0]", "FieldValueInvalid",
        "Invalid value: \"10.42.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
        "2001:db8::/64)");
    has(c, "metadata.taints[1]", "FieldValueDuplicate",
        "Duplicate value: core.Taint{Key:\"k\", Value:\"\", Effect:\"NoSchedule\", "
        "TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair");
    has(c, "metadata.taints[2].effect", "FieldValueNotSupported",
        "Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", "
        "\"NoExecute\"");
    has(c, "status.capacity.cpu", "FieldValueInvalid",
        "Invalid value: \"-1\": must be greater than or equal to 0");
    json_decref(c);
    c = check("", "Node",
              "{\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"1\"},\"spec\":{\"podCIDRs\":["
              "\"10.42.1.0/24\"],"
              "\"providerID\":\"b\"}}",
              "{\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"1\"},\"spec\":{\"podCIDRs\":["
              "\"10.42.0.0/24\"],"
              "\"providerID\":\"a\"}}");
    has(c, "spec.podCIDRs", "FieldValueForbidden",
        "Forbidden: node updates may not change podCIDR except from \"\" to valid");
    has(c, "spec.providerID", "FieldValueForbidden",
        "Forbidden: node updates may not change providerID except from \"\" to valid");
    json_decref(c);

    c = check(
        "coordination.k8s.io", "Lease",
        "{\"metadata\":{\"name\":\"l\",\"namespace\":\"d\",\"finalizers\":[\"plain\"]},\"spec\":"
        "{\"leaseDurationSeconds\":0,\"leaseTransitions\":-1,\"preferredHolder\":\"me\"}}",
        NULL);
    count(c, 3);
    has(c, "spec.leaseDurationSeconds", "FieldValueInvalid",
        "Invalid value: 0: must be greater than 0");
    has(c, "spec.leaseTransitions", "FieldValueInvalid",
        "Invalid value: -1: must be greater than or equal to 0");
    has(c, "spec.preferredHolder", "FieldValueForbidden",
        "Forbidden: may only be specified if `strategy` is defined");
    json_decref(c);

    c = check("", "PersistentVolumeClaim",
              "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"spec\":{\"accessModes\":["
              "\"ReadWriteOncePod\","
              "\"ReadWriteOnce\",\"Sometimes\"],\"resources\":{\"requests\":{\"storage\":\"0\"}},"
              "\"volumeMode\":\"Raw\"}}",
              NULL);
    has(c, "spec.accessModes", "FieldValueNotSupported",
        "Unsupported value: \"Sometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", "
        "\"ReadWriteOnce\", \"ReadWriteOncePod\"");
    has(c, "spec.accessModes", "FieldValueForbidden",
        "Forbidden: may not use ReadWriteOncePod with other access modes");
    has(c, "spec.resources[storage]", "FieldValueInvalid",
        "Invalid value: \"0\": must be greater than zero");
    has(c, "spec.volumeMode", "FieldValueNotSupported",
        "Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\"");
    json_decref(c);

    c = check(
        "scheduling.k8s.io", "PriorityClass",
        "{\"metadata\":{\"name\":\"system-mine\"},\"value\":5,\"preemptionPolicy\":\"Always\"}",
        NULL);
    has(c, "metadata.name", "FieldValueForbidden",
        "Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: system-mine is not a known system priority class");
    has(c, "preemptionPolicy", "FieldValueNotSupported",
        "Unsupported value: \"Always\": supported values: \"PreemptLowerPriority\", \"Never\"");
    json_decref(c);
    c = check("scheduling.k8s.io", "PriorityClass",
              "{\"metadata\":{\"name\":\"high\"},\"value\":2000000000}", NULL);
    has(c, "value", "FieldValueForbidden",
        "Forbidden: maximum allowed value of a user defined priority is 1000000000");
    json_decref(c);

    c = check("rbac.authorization.k8s.io", "ClusterRole", "{\"metadata\":{\"name\":\"a/b\"}}",
              NULL);
    count(c, 1);
    has(c, "metadata.name", "FieldValueInvalid", "Invalid value: \"a/b\": may not contain '/'");
    json_decref(c);

    /* core Events skip ObjectMeta validation */
    c = check("", "Event",
              "{\"metadata\":{\"name\":\"Any "
              "Name\",\"namespace\":\"d\"},\"involvedObject\":{\"namespace\":\"e\"}}",
              NULL);
    count(c, 1);
    has(c, "involvedObject.namespace", "FieldValueInvalid",
        "Invalid value: \"e\": does not match event.namespace");
    json_decref(c);

    /* kinds without specific rules get the ObjectMeta checks */
    c = check("networking.k8s.io", "Ingress",
              "{\"metadata\":{\"name\":\"-x\",\"namespace\":\"d\"}}", NULL);
    count(c, 1);
    has(c, "metadata.name", "FieldValueInvalid", "Invalid value: \"-x\": " SUBDOMAIN_MSG);
    json_decref(c);
}

static void test_qos(void **state)
{
    json_t *p = load("{\"spec\":{\"containers\":[{\"resources\":{}}]}}");
    assert_string_equal(k1s_pod_qos_class(p), "BestEffort");
    json_decref(p);
    p = load("{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}}");
    assert_string_equal(k1s_pod_qos_class(p), "Burstable");
    json_decref(p);
    p = load(
        "{\"spec\":{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
        "\"requests\":{\"cpu\":\"1000m\",\"memory\":\"1024Mi\"}}}]}}");
    assert_string_equal(k1s_pod_qos_class(p), "Guaranteed");
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_meta_create),
        cmocka_unit_test(test_meta_update),
        cmocka_unit_test(test_namespace),
        cmocka_unit_test(test_pod_basics),
        cmocka_unit_test(test_pod_volumes_env),
        cmocka_unit_test(test_pod_resources_probes),
        cmocka_unit_test(test_pod_spec_misc),
        cmocka_unit_test(test_pod_update),
        cmocka_unit_test(test_deployment),
        cmocka_unit_test(test_statefulset_daemonset),
        cmocka_unit_test(test_job),
        cmocka_unit_test(test_cronjob),
        cmocka_unit_test(test_service),
        cmocka_unit_test(test_configmap_secret),
        cmocka_unit_test(test_other_kinds),
        cmocka_unit_test(test_qos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
