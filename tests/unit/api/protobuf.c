/* Unit tests for src/api/protobuf.c: Kubernetes protobuf bodies to JSON.
 * Bodies are hand-encoded with a tiny encoder below, plus bodies kubectl
 * 1.32 really sent (captured from our own `kubectl create ...` runs against
 * a k1s server). Includes the .c to reach the Duration formatter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/protobuf.c"

/* ---- a tiny protobuf encoder ------------------------------------------- */

static void put_varint(k1s_buf_t *b, uint64_t v)
{
    while (v >= 0x80) {
        k1s_buf_putc(b, (char)(v | 0x80));
        v >>= 7;
    }
    k1s_buf_putc(b, (char)v);
}

static void put_tag(k1s_buf_t *b, uint32_t num, int wt)
{
    put_varint(b, (uint64_t)num << 3 | (uint64_t)wt);
}

/* varint field */
static void put_int(k1s_buf_t *b, uint32_t num, int64_t v)
{
    put_tag(b, num, 0);
    put_varint(b, (uint64_t)v);
}

static void put_bytes(k1s_buf_t *b, uint32_t num, const void *data, size_t len)
{
    put_tag(b, num, 2);
    put_varint(b, len);
    k1s_buf_append(b, data, len);
}

static void put_str(k1s_buf_t *b, uint32_t num, const char *s)
{
    put_bytes(b, num, s, strlen(s));
}

/* Appends sub as a length-delimited field and frees it. */
static void put_msg(k1s_buf_t *b, uint32_t num, k1s_buf_t *sub)
{
    put_bytes(b, num, sub->data ? sub->data : "", sub->len);
    k1s_buf_free(sub);
}

/* map<string, string> entry */
static void put_entry(k1s_buf_t *b, uint32_t num, const char *k, const char *v)
{
    k1s_buf_t e = K1S_BUF_INIT;
    put_str(&e, 1, k);
    put_str(&e, 2, v);
    put_msg(b, num, &e);
}

/* A whole body: magic + runtime.Unknown; frees raw. */
static k1s_buf_t envelope(const char *api_version, const char *kind, k1s_buf_t *raw)
{
    k1s_buf_t b = K1S_BUF_INIT, tm = K1S_BUF_INIT;
    k1s_buf_append(&b, "k8s\0", 4);
    put_str(&tm, 1, api_version);
    put_str(&tm, 2, kind);
    put_msg(&b, 1, &tm);
    put_msg(&b, 2, raw);
    put_str(&b, 3, "");
    put_str(&b, 4, "");
    return b;
}

/* ObjectMeta as Go's marshaller writes it: every non-pointer field, zero or
 * not, and an empty creationTimestamp. */
static void put_meta(k1s_buf_t *b, const char *name, const char *ns)
{
    k1s_buf_t m = K1S_BUF_INIT;
    put_str(&m, 1, name);
    put_str(&m, 2, "");
    put_str(&m, 3, ns);
    put_str(&m, 4, "");
    put_str(&m, 5, "");
    put_str(&m, 6, "");
    put_int(&m, 7, 0);
    put_bytes(&m, 8, "", 0);
    put_str(&m, 15, "");
    put_msg(b, 1, &m);
}

/* ---- helpers ------------------------------------------------------------- */

static char *canon(const json_t *j)
{
    return json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
}

static void assert_json(const json_t *got, const char *want)
{
    json_error_t e;
    json_t *w = json_loads(want, 0, &e);
    if (!w)
        fail_msg("bad test JSON at column %d: %s", e.column, e.text);
    char *gs = canon(got), *ws = canon(w);
    if (strcmp(gs, ws) != 0)
        fail_msg("JSON differs:\n got: %s\nwant: %s", gs, ws);
    free(gs);
    free(ws);
    json_decref(w);
}

/* Decodes b (and frees it), expecting success and JSON want. */
static void assert_decodes(k1s_buf_t *b, const char *want)
{
    json_t *out = NULL;
    k1s_err_t err = {0};
    int r = k1s_protobuf_decode(b->data, b->len, &out, &err);
    if (r != 0)
        fail_msg("decode failed: %s", err.msg);
    assert_json(out, want);
    json_decref(out);
    k1s_buf_free(b);
}

/* Decodes data, expecting -EINVAL with message want (NULL: any message). */
static void assert_fails(const void *data, size_t len, const char *want)
{
    json_t *out = NULL;
    k1s_err_t err = {0};
    int r = k1s_protobuf_decode(data, len, &out, &err);
    if (r != -EINVAL)
        fail_msg("decode returned %d, want -EINVAL (%s)", r, want ? want : "");
    assert_null(out);
    assert_int_equal(err.code, EINVAL);
    assert_true(err.msg[0] != 0);
    if (want)
        assert_string_equal(err.msg, want);
}

static k1s_buf_t from_hex(const char *hex)
{
    k1s_buf_t b = K1S_BUF_INIT;
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
        unsigned v;
        sscanf(hex + i, "%2x", &v);
        k1s_buf_putc(&b, (char)v);
    }
    return b;
}

/* ---- tests ------------------------------------------------------------ */

static void test_content_type(void **state)
{
    assert_true(k1s_protobuf_content_type("application/vnd.kubernetes.protobuf"));
    assert_true(k1s_protobuf_content_type("Application/VND.Kubernetes.Protobuf"));
    assert_true(k1s_protobuf_content_type(" application/vnd.kubernetes.protobuf ; charset=x"));
    assert_true(k1s_protobuf_content_type("application/vnd.kubernetes.protobuf;stream=watch"));
    assert_false(k1s_protobuf_content_type("application/vnd.kubernetes.protobufx"));
    assert_false(k1s_protobuf_content_type("application/json"));
    assert_false(k1s_protobuf_content_type(""));
    assert_false(k1s_protobuf_content_type(NULL));
}

static void test_tables(void **state)
{
    static const char *const want[] = {
        "k8s.io.api.core.v1.Pod",
        "k8s.io.api.core.v1.Namespace",
        "k8s.io.api.core.v1.ConfigMap",
        "k8s.io.api.core.v1.Secret",
        "k8s.io.api.apps.v1.Deployment",
        "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler",
        "k8s.io.api.batch.v1.CronJob",
        "k8s.io.api.policy.v1.PodDisruptionBudget",
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(want); i++)
        if (!find_msg(want[i]))
            fail_msg("missing %s", want[i]);
    for (size_t i = 1; i < k1s_pb_nmsgs; i++)
        assert_true(strcmp(str_at(k1s_pb_msgs[i - 1].name), str_at(k1s_pb_msgs[i].name)) < 0);
    const k1s_pb_msg_t *m = find_msg("k8s.io.apimachinery.pkg.apis.meta.v1.Time");
    assert_int_equal(m->kind, K1S_PB_K_TIME);
    m = find_msg("k8s.io.api.core.v1.Volume");
    const k1s_pb_field_t *f = find_field(m, 2);
    assert_non_null(f);
    assert_true(f->flags & K1S_PB_F_INLINE);
    /* json:"apiVersion" on a field protobuf calls aPIVersion */
    m = find_msg("k8s.io.api.authentication.v1.BoundObjectReference");
    assert_string_equal(str_at(find_field(m, 2)->name), "apiVersion");
    assert_string_equal(str_at(find_field(m, 4)->name), "uid");
}

static void test_namespace(void **state)
{
    k1s_buf_t raw = K1S_BUF_INIT, spec = K1S_BUF_INIT, status = K1S_BUF_INIT;
    put_meta(&raw, "foo", "");
    put_msg(&raw, 2, &spec);
    put_str(&status, 1, "");
    put_msg(&raw, 3, &status);
    k1s_buf_t b = envelope("v1", "Namespace", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
                       "\"metadata\":{\"name\":\"foo\"},\"spec\":{},\"status\":{}}");
}

static void test_configmap(void **state)
{
    k1s_buf_t raw = K1S_BUF_INIT;
    put_meta(&raw, "cm", "default");
    put_entry(&raw, 2, "a", "1");
    put_entry(&raw, 2, "b.txt", "two\nlines");
    k1s_buf_t e = K1S_BUF_INIT;
    put_str(&e, 1, "bin");
    put_bytes(&e, 2, "\x00\x01\xff", 3);
    put_msg(&raw, 3, &e);
    /* a map entry without a value: the zero value */
    e = (k1s_buf_t)K1S_BUF_INIT;
    put_str(&e, 1, "empty");
    put_msg(&raw, 3, &e);
    k1s_buf_t b = envelope("v1", "ConfigMap", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
                       "\"metadata\":{\"name\":\"cm\",\"namespace\":\"default\"},"
                       "\"data\":{\"a\":\"1\",\"b.txt\":\"two\\nlines\"},"
                       "\"binaryData\":{\"bin\":\"AAH/\",\"empty\":\"\"}}");
}

static void test_secret(void **state)
{
    k1s_buf_t raw = K1S_BUF_INIT;
    put_meta(&raw, "s", "ns1");
    k1s_buf_t e = K1S_BUF_INIT;
    put_str(&e, 1, "password");
    put_bytes(&e, 2, "hunter2", 7);
    put_msg(&raw, 2, &e);
    put_str(&raw, 3, "Opaque");
    put_entry(&raw, 4, "user", "admin");
    put_int(&raw, 5, 0); /* immutable is a *bool: false is kept */
    k1s_buf_t b = envelope("v1", "Secret", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
                       "\"metadata\":{\"name\":\"s\",\"namespace\":\"ns1\"},"
                       "\"data\":{\"password\":\"aHVudGVyMg==\"},\"type\":\"Opaque\","
                       "\"stringData\":{\"user\":\"admin\"},\"immutable\":false}");
}

/* IntOrString {type = 1; intVal = 2; strVal = 3}, all written */
static void put_intstr(k1s_buf_t *b, uint32_t num, int type, int i, const char *s)
{
    k1s_buf_t m = K1S_BUF_INIT;
    put_int(&m, 1, type);
    put_int(&m, 2, i);
    put_str(&m, 3, s);
    put_msg(b, num, &m);
}

static void put_quantity(k1s_buf_t *b, const char *key, const char *q)
{
    k1s_buf_t e = K1S_BUF_INIT, v = K1S_BUF_INIT;
    put_str(&e, 1, key);
    put_str(&v, 1, q);
    put_msg(&e, 2, &v);
    put_msg(b, 1, &e);
}

static void test_deployment(void **state)
{
    k1s_buf_t raw = K1S_BUF_INIT, meta = K1S_BUF_INIT, spec = K1S_BUF_INIT;
    put_str(&meta, 1, "web");
    put_str(&meta, 3, "default");
    put_int(&meta, 7, 0);
    k1s_buf_t ts = K1S_BUF_INIT;
    put_int(&ts, 1, 1704164645); /* 2024-01-02T03:04:05Z */
    put_int(&ts, 2, 0);
    put_msg(&meta, 8, &ts);
    put_entry(&meta, 11, "app", "web");
    put_msg(&raw, 1, &meta);

    put_int(&spec, 1, 0); /* replicas: *int32 = 0, must stay */
    k1s_buf_t sel = K1S_BUF_INIT;
    put_entry(&sel, 1, "app", "web");
    put_msg(&spec, 2, &sel);

    k1s_buf_t tmpl = K1S_BUF_INIT, tmeta = K1S_BUF_INIT, pspec = K1S_BUF_INIT, ctr = K1S_BUF_INIT;
    put_entry(&tmeta, 11, "app", "web");
    put_bytes(&tmeta, 8, "", 0);
    put_msg(&tmpl, 1, &tmeta);
    put_str(&ctr, 1, "nginx");
    put_str(&ctr, 2, "nginx:1.25");
    put_str(&ctr, 3, "nginx");
    put_str(&ctr, 3, "-g");
    k1s_buf_t port = K1S_BUF_INIT;
    put_str(&port, 1, "");
    put_int(&port, 2, 0);
    put_int(&port, 3, 80);
    put_str(&port, 4, "TCP");
    put_str(&port, 5, "");
    put_msg(&ctr, 6, &port);
    k1s_buf_t res = K1S_BUF_INIT, limits = K1S_BUF_INIT;
    put_quantity(&limits, "cpu", "500m");
    put_quantity(&limits, "memory", "128Mi");
    /* limits is map<string, Quantity> = 1 of ResourceRequirements */
    k1s_buf_append(&res, limits.data, limits.len);
    k1s_buf_free(&limits);
    put_msg(&ctr, 8, &res);
    put_int(&ctr, 16, 0); /* stdin: false, non-pointer: left out */
    put_msg(&pspec, 2, &ctr);
    put_msg(&tmpl, 2, &pspec);
    put_msg(&spec, 3, &tmpl);

    k1s_buf_t strat = K1S_BUF_INIT, ru = K1S_BUF_INIT;
    put_str(&strat, 1, "RollingUpdate");
    put_intstr(&ru, 1, 0, 1, "");    /* maxUnavailable: 1 */
    put_intstr(&ru, 2, 1, 0, "25%"); /* maxSurge: "25%" */
    put_msg(&strat, 2, &ru);
    put_msg(&spec, 4, &strat);
    put_int(&spec, 5, 0); /* minReadySeconds: int32, zero: left out */
    put_int(&spec, 7, 0); /* paused: bool, false: left out */
    put_msg(&raw, 2, &spec);
    k1s_buf_t status = K1S_BUF_INIT;
    put_int(&status, 2, 0);
    put_msg(&raw, 3, &status);

    k1s_buf_t b = envelope("apps/v1", "Deployment", &raw);
    assert_decodes(&b,
                   "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                   "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
                   "  \"creationTimestamp\":\"2024-01-02T03:04:05Z\",\"labels\":{\"app\":\"web\"}},"
                   "\"spec\":{\"replicas\":0,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
                   "  \"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
                   "    \"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.25\","
                   "      \"command\":[\"nginx\",\"-g\"],"
                   "      \"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],"
                   "      \"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"128Mi\"}}}]}},"
                   "  \"strategy\":{\"type\":\"RollingUpdate\","
                   "    \"rollingUpdate\":{\"maxUnavailable\":1,\"maxSurge\":\"25%\"}}},"
                   "\"status\":{}}");
}

static void test_special_types(void **state)
{
    /* Volume's volumeSource is inline; a pointer IntOrString of 0 stays, a
     * non-pointer one (targetPort) of 0 means unset. */
    k1s_buf_t raw = K1S_BUF_INIT, spec = K1S_BUF_INIT, vol = K1S_BUF_INIT, src = K1S_BUF_INIT;
    k1s_buf_t ed = K1S_BUF_INIT, q = K1S_BUF_INIT;
    put_meta(&raw, "p", "default");
    put_str(&vol, 1, "cache");
    put_str(&ed, 1, "Memory");
    put_str(&q, 1, "1Gi");
    put_msg(&ed, 2, &q);
    put_msg(&src, 2, &ed);
    put_msg(&vol, 2, &src);
    put_msg(&spec, 1, &vol);
    k1s_buf_t ctr = K1S_BUF_INIT, probe = K1S_BUF_INIT, handler = K1S_BUF_INIT, get = K1S_BUF_INIT;
    put_str(&ctr, 1, "c");
    put_str(&get, 1, "/healthz");
    put_intstr(&get, 2, 1, 0, "http");
    put_msg(&handler, 2, &get);
    put_msg(&probe, 1, &handler);
    put_int(&probe, 2, 5);
    put_msg(&ctr, 10, &probe);
    put_msg(&spec, 2, &ctr);
    /* packed and unpacked repeated int64 (securityContext.supplementalGroups) */
    k1s_buf_t psc = K1S_BUF_INIT, packed = K1S_BUF_INIT;
    put_varint(&packed, 1000);
    put_varint(&packed, 2000);
    put_msg(&psc, 4, &packed);
    put_int(&psc, 4, 3000);
    put_msg(&spec, 14, &psc);
    put_msg(&raw, 2, &spec);
    k1s_buf_t b = envelope("v1", "Pod", &raw);
    assert_decodes(
        &b,
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
        "\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},"
        "\"spec\":{\"volumes\":[{\"name\":\"cache\",\"emptyDir\":{\"medium\":\"Memory\","
        "\"sizeLimit\":\"1Gi\"}}],"
        "  \"containers\":[{\"name\":\"c\",\"livenessProbe\":{\"httpGet\":{\"path\":\"/healthz\","
        "    \"port\":\"http\"},\"initialDelaySeconds\":5}}],"
        "  \"securityContext\":{\"supplementalGroups\":[1000,2000,3000]}}}");

    /* Service: targetPort (non-pointer IntOrString) 0 is left out */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    spec = (k1s_buf_t)K1S_BUF_INIT;
    k1s_buf_t port = K1S_BUF_INIT;
    put_meta(&raw, "s", "default");
    put_int(&port, 3, 80);
    put_intstr(&port, 4, 0, 0, "");
    put_msg(&spec, 1, &port);
    put_msg(&raw, 2, &spec);
    b = envelope("v1", "Service", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"v1\",\"kind\":\"Service\","
                       "\"metadata\":{\"name\":\"s\",\"namespace\":\"default\"},"
                       "\"spec\":{\"ports\":[{\"port\":80}]}}");

    /* PDB (policy/v1 is mapped onto 1.20's v1beta1): maxUnavailable 0 stays */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    spec = (k1s_buf_t)K1S_BUF_INIT;
    put_meta(&raw, "pdb", "default");
    put_intstr(&spec, 3, 0, 0, "");
    put_msg(&raw, 2, &spec);
    b = envelope("policy/v1", "PodDisruptionBudget", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\","
                       "\"metadata\":{\"name\":\"pdb\",\"namespace\":\"default\"},"
                       "\"spec\":{\"maxUnavailable\":0}}");

    /* events.k8s.io/v1 Event: MicroTime with microseconds */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    k1s_buf_t mt = K1S_BUF_INIT;
    put_meta(&raw, "ev", "default");
    put_int(&mt, 1, 1704164645);
    put_int(&mt, 2, 123456789);
    put_msg(&raw, 2, &mt);
    put_str(&raw, 7, "Started");
    b = envelope("events.k8s.io/v1", "Event", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"events.k8s.io/v1\",\"kind\":\"Event\","
                       "\"metadata\":{\"name\":\"ev\",\"namespace\":\"default\"},"
                       "\"eventTime\":\"2024-01-02T03:04:05.123456Z\",\"reason\":\"Started\"}");

    /* ControllerRevision: RawExtension holds JSON */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    k1s_buf_t re = K1S_BUF_INIT;
    put_meta(&raw, "rev", "default");
    put_str(&re, 1, "{\"spec\":{\"x\":[1,2]}}");
    put_msg(&raw, 2, &re);
    put_int(&raw, 3, 7);
    b = envelope("apps/v1", "ControllerRevision", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"apps/v1\",\"kind\":\"ControllerRevision\","
                       "\"metadata\":{\"name\":\"rev\",\"namespace\":\"default\"},"
                       "\"data\":{\"spec\":{\"x\":[1,2]}},\"revision\":7}");
}

static void test_delete_options_and_versions(void **state)
{
    k1s_buf_t raw = K1S_BUF_INIT;
    put_int(&raw, 1, 30);
    put_str(&raw, 4, "Foreground");
    put_str(&raw, 5, "All");
    k1s_buf_t copy = K1S_BUF_INIT;
    k1s_buf_append(&copy, raw.data, raw.len);
    k1s_buf_t b = envelope("v1", "DeleteOptions", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\","
                       "\"gracePeriodSeconds\":30,\"propagationPolicy\":\"Foreground\","
                       "\"dryRun\":[\"All\"]}");
    b = envelope("meta.k8s.io/v1", "DeleteOptions", &copy);
    assert_decodes(&b, "{\"apiVersion\":\"meta.k8s.io/v1\",\"kind\":\"DeleteOptions\","
                       "\"gracePeriodSeconds\":30,\"propagationPolicy\":\"Foreground\","
                       "\"dryRun\":[\"All\"]}");

    /* policy/v1 Eviction with deleteOptions */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    k1s_buf_t del = K1S_BUF_INIT;
    put_meta(&raw, "web-0", "default");
    put_int(&del, 1, 0);
    put_msg(&raw, 2, &del);
    b = envelope("policy/v1", "Eviction", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\","
                       "\"metadata\":{\"name\":\"web-0\",\"namespace\":\"default\"},"
                       "\"deleteOptions\":{\"gracePeriodSeconds\":0}}");

    /* autoscaling/v2 HPA (1.20 has v2beta2 of the same shape) */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    k1s_buf_t spec = K1S_BUF_INIT, ref = K1S_BUF_INIT;
    put_meta(&raw, "web", "default");
    put_str(&ref, 1, "Deployment");
    put_str(&ref, 2, "web");
    put_str(&ref, 3, "apps/v1");
    put_msg(&spec, 1, &ref);
    put_int(&spec, 2, 1);
    put_int(&spec, 3, 5);
    put_msg(&raw, 2, &spec);
    b = envelope("autoscaling/v2", "HorizontalPodAutoscaler", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\","
                       "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
                       "\"spec\":{\"scaleTargetRef\":{\"kind\":\"Deployment\",\"name\":\"web\","
                       "\"apiVersion\":\"apps/v1\"},\"minReplicas\":1,\"maxReplicas\":5}}");

    /* autoscaling/v1 Scale; an absent raw is an empty object */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    spec = (k1s_buf_t)K1S_BUF_INIT;
    put_meta(&raw, "web", "default");
    put_int(&spec, 1, 3);
    put_msg(&raw, 2, &spec);
    b = envelope("autoscaling/v1", "Scale", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"Scale\","
                       "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
                       "\"spec\":{\"replicas\":3}}");
    k1s_buf_t tm = K1S_BUF_INIT;
    b = (k1s_buf_t)K1S_BUF_INIT;
    k1s_buf_append(&b, "k8s\0", 4);
    put_str(&tm, 1, "v1");
    put_str(&tm, 2, "Namespace");
    put_msg(&b, 1, &tm);
    assert_decodes(&b, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\"}");
}

static void test_unknown_fields_and_utf8(void **state)
{
    /* Fields newer than the 1.20 schema are skipped, whatever their wire type. */
    k1s_buf_t raw = K1S_BUF_INIT, meta = K1S_BUF_INIT;
    put_str(&meta, 1, "x\xff");
    put_int(&meta, 999, 5);
    put_str(&meta, 1000, "new");
    put_tag(&meta, 1001, 5);
    k1s_buf_append(&meta, "\x01\x02\x03\x04", 4);
    put_tag(&meta, 1002, 1);
    k1s_buf_append(&meta, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    put_msg(&raw, 1, &meta);
    put_int(&raw, 77, 1);
    k1s_buf_t b = envelope("v1", "Namespace", &raw);
    assert_decodes(&b, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
                       "\"metadata\":{\"name\":\"x\\ufffd\"}}");
}

static void test_duration(void **state)
{
    static const struct {
        int64_t ns;
        const char *want;
    } cases[] = {
        {0, "0s"},
        {1, "1ns"},
        {1100, "1.1\xc2\xb5s"},
        {2200000, "2.2ms"},
        {1000000000, "1s"},
        {1500000000, "1.5s"},
        {60000000000LL, "1m0s"},
        {3600000000000LL, "1h0m0s"},
        {3723000000001LL, "1h2m3.000000001s"},
        {-90000000000LL, "-1m30s"},
        {INT64_MIN, "-2562047h47m16.854775808s"},
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(cases); i++) {
        char s[40];
        go_duration(cases[i].ns, s);
        assert_string_equal(s, cases[i].want);
    }
    /* through the table: Duration {int64 duration = 1} */
    const k1s_pb_msg_t *m = find_msg("k8s.io.apimachinery.pkg.apis.meta.v1.Duration");
    assert_non_null(m);
    k1s_buf_t d = K1S_BUF_INIT;
    put_int(&d, 1, 3600000000000LL);
    k1s_err_t err = {0};
    pb_ctx_t c = {&err};
    json_t *v = NULL;
    assert_int_equal(decode_message_value(&c, m, (const uint8_t *)d.data, d.len, 0, &v), 0);
    assert_string_equal(json_string_value(v), "1h0m0s");
    json_decref(v);
    k1s_buf_free(&d);
}

static void test_errors(void **state)
{
    assert_fails("", 0, "protobuf: not a Kubernetes protobuf message (no k8s magic)");
    assert_fails("{\"kind\":\"Pod\"}", 14,
                 "protobuf: not a Kubernetes protobuf message (no k8s magic)");
    assert_fails("k8s\0", 4, "protobuf: the envelope has no kind");

    k1s_buf_t raw = K1S_BUF_INIT;
    k1s_buf_t b = envelope("apps/v1", "Foo", &raw);
    assert_fails(b.data, b.len, "protobuf: unknown type apps/v1 Foo");
    k1s_buf_free(&b);
    raw = (k1s_buf_t)K1S_BUF_INIT;
    b = envelope("apps.example.com/v1", "Deployment", &raw);
    assert_fails(b.data, b.len, "protobuf: unknown type apps.example.com/v1 Deployment");
    k1s_buf_free(&b);
    raw = (k1s_buf_t)K1S_BUF_INIT;
    b = envelope("v1", "Time", &raw); /* not an object */
    assert_fails(b.data, b.len, "protobuf: unknown type v1 Time");
    k1s_buf_free(&b);
    raw = (k1s_buf_t)K1S_BUF_INIT;
    b = envelope("v1", "ConfigMap.DataEntry", &raw);
    assert_fails(b.data, b.len, "protobuf: unknown type v1 ConfigMap.DataEntry");
    k1s_buf_free(&b);

    /* every truncation of a valid body fails cleanly */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    put_meta(&raw, "foo", "");
    put_entry(&raw, 2, "k", "v");
    b = envelope("v1", "ConfigMap", &raw);
    assert_fails(b.data, b.len - 3, "protobuf: truncated message");
    for (size_t n = 0; n < b.len; n++) {
        json_t *out = NULL;
        k1s_err_t err = {0};
        int r = k1s_protobuf_decode(b.data, n, &out, &err);
        if (r == 0)
            json_decref(out); /* a prefix ending on a field boundary is valid */
        else
            assert_int_equal(r, -EINVAL);
    }
    k1s_buf_free(&b);

    /* wrong wire type: name as a varint */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    k1s_buf_t meta = K1S_BUF_INIT;
    put_int(&meta, 1, 5);
    put_msg(&raw, 1, &meta);
    b = envelope("v1", "Namespace", &raw);
    assert_fails(
        b.data, b.len,
        "protobuf: k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta.name: wrong wire type 0");
    k1s_buf_free(&b);

    /* bad IntOrString type, bad RawExtension, over-long varint, groups */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    k1s_buf_t spec = K1S_BUF_INIT;
    put_intstr(&spec, 3, 7, 0, "");
    put_msg(&raw, 2, &spec);
    b = envelope("policy/v1", "PodDisruptionBudget", &raw);
    assert_fails(b.data, b.len, "protobuf: IntOrString of unknown type 7");
    k1s_buf_free(&b);
    raw = (k1s_buf_t)K1S_BUF_INIT;
    k1s_buf_t re = K1S_BUF_INIT;
    put_str(&re, 1, "{not json");
    put_msg(&raw, 2, &re);
    b = envelope("apps/v1", "ControllerRevision", &raw);
    assert_fails(b.data, b.len, NULL);
    k1s_buf_free(&b);
    assert_fails("k8s\0\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 16,
                 "protobuf: malformed varint");
    assert_fails("k8s\0\x0b\x0c", 6, "protobuf: unsupported wire type 3");
    assert_fails("k8s\0\x0a\x05\x0a", 7, "protobuf: truncated message");
}

/* An envelope of a meta/v1 List whose one item is the envelope inner. */
static k1s_buf_t nest_list(k1s_buf_t *inner)
{
    k1s_buf_t raw = K1S_BUF_INIT, item = K1S_BUF_INIT;
    put_msg(&item, 1, inner);
    put_msg(&raw, 2, &item);
    return envelope("v1", "List", &raw);
}

static void test_nesting(void **state)
{
    /* A List item may be an embedded protobuf object. */
    k1s_buf_t raw = K1S_BUF_INIT;
    put_meta(&raw, "a", "");
    k1s_buf_t inner = envelope("v1", "Namespace", &raw);
    k1s_buf_t b = nest_list(&inner);
    assert_decodes(
        &b, "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}]}");

    /* Deep nesting is refused, not a stack overflow. */
    raw = (k1s_buf_t)K1S_BUF_INIT;
    b = envelope("v1", "Namespace", &raw);
    for (int i = 0; i < 200; i++)
        b = nest_list(&b);
    assert_fails(b.data, b.len, "protobuf: message nested too deeply");
    k1s_buf_free(&b);
}

/* Bodies kubectl 1.32 sent to a k1s server (our own traffic), and the JSON
 * kubectl writes for the same objects with --dry-run=client -o json
 * (less its "creationTimestamp": null). */
static const struct {
    const char *cmd, *hex, *json;
} captured[] = {
    {"kubectl create namespace foo",
     "6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a00320038004200"
     "12001a020a001a002200",
     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"foo\"},\"spec\":{},"
     "\"status\":{}}"},
    {"kubectl create deployment web -n default --image=nginx --replicas=0",
     "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b2010a260a0377656212001a0764656661"
     "756c7422002a003200380042005a0a0a036170701203776562127a0800120c0a0a0a0361707012037765621a60"
     "0a1c0a0012001a0022002a003200380042005a0a0a036170701203776562124012220a056e67696e7812056e67"
     "696e782a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a0100"
     "9a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
     "{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"web\","
     "\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"replicas\":0,"
     "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":"
     "{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx\","
     "\"resources\":{}}]}},\"strategy\":{}},\"status\":{}}"},
    {"kubectl create cronjob cj -n default --image=busybox --schedule='*/5 * * * *'",
     "6b3873000a130a0862617463682f7631120743726f6e4a6f6212a5010a190a02636a12001a0764656661756c74"
     "22002a003200380042001285010a0b2a2f35202a202a202a202a1a002a740a120a02636a12001a0022002a0032"
     "0038004200125e325c0a100a0012001a0022002a00320038004200124812210a02636a120762757379626f782a"
     "0042006a007200800100880100900100a201001a094f6e4661696c757265320042004a00520058006000680082"
     "01008a01009a0100c201001a001a002200",
     "{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"cj\","
     "\"namespace\":\"default\"},\"spec\":{\"schedule\":\"*/5 * * * *\",\"jobTemplate\":"
     "{\"metadata\":{\"name\":\"cj\"},\"spec\":{\"template\":{\"metadata\":{},\"spec\":"
     "{\"containers\":[{\"name\":\"cj\",\"image\":\"busybox\",\"resources\":{}}],"
     "\"restartPolicy\":\"OnFailure\"}}}}},\"status\":{}}"},
    {"kubectl create service clusterip svc1 -n default --tcp=80:8080",
     "6b3873000a0d0a02763112075365727669636512730a280a047376633112001a0764656661756c7422002a0032"
     "00380042005a0b0a0361707012047376633112430a1b0a0738302d38303830120354435018502207080010903f"
     "1a002800120b0a036170701204737663311a002209436c757374657249503a00420052005a00600068001a020a"
     "001a002200",
     "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"svc1\",\"namespace\":"
     "\"default\",\"labels\":{\"app\":\"svc1\"}},\"spec\":{\"ports\":[{\"name\":\"80-8080\","
     "\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080}],\"selector\":{\"app\":\"svc1\"},"
     "\"type\":\"ClusterIP\"},\"status\":{\"loadBalancer\":{}}}"},
    {"kubectl create token default --duration=1h --audience=foo --audience=bar "
     "--bound-object-kind=Pod --bound-object-name=pe --bound-object-uid=...",
     "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e52657175657374"
     "125c0a100a0012001a0022002a0032003800420012420a03666f6f0a036261721a330a03506f64120276311a02"
     "7065222434316539333662352d653531642d346266332d616530332d3561306432396332623631642090"
     "1c1a040a0012001a002200",
     "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"metadata\":{},"
     "\"spec\":{\"audiences\":[\"foo\",\"bar\"],\"boundObjectRef\":{\"kind\":\"Pod\","
     "\"apiVersion\":\"v1\",\"name\":\"pe\",\"uid\":\"41e936b5-e51d-4bf3-ae03-5a0d29c2b61d\"},"
     "\"expirationSeconds\":3600},\"status\":{}}"},
};

static void test_captured(void **state)
{
    for (size_t i = 0; i < K1S_ARRAY_SIZE(captured); i++) {
        k1s_buf_t b = from_hex(captured[i].hex);
        json_t *out = NULL;
        k1s_err_t err = {0};
        if (k1s_protobuf_decode(b.data, b.len, &out, &err) != 0)
            fail_msg("%s: %s", captured[i].cmd, err.msg);
        assert_json(out, captured[i].json);
        json_decref(out);
        k1s_buf_free(&b);
    }
}

/* Random corruptions of real bodies: never a crash, and an error message
 * whenever decoding fails. */
static void test_garbage(void **state)
{
    uint32_t seed = 12345;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(captured); i++) {
        k1s_buf_t orig = from_hex(captured[i].hex);
        for (int round = 0; round < 3000; round++) {
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_append(&b, orig.data, orig.len);
            int flips = 1 + round % 4;
            for (int f = 0; f < flips; f++) {
                seed = seed * 1103515245u + 12345u;
                size_t pos = 4 + (seed >> 8) % (b.len - 4);
                seed = seed * 1103515245u + 12345u;
                b.data[pos] = (char)(seed >> 16);
            }
            seed = seed * 1103515245u + 12345u;
            size_t len = round % 5 == 0 ? (seed >> 8) % (b.len + 1) : b.len;
            json_t *out = NULL;
            k1s_err_t err = {0};
            int r = k1s_protobuf_decode(b.data, len, &out, &err);
            if (r == 0) {
                assert_true(json_is_object(out));
                char *s = json_dumps(out, 0);
                assert_non_null(s);
                free(s);
                json_decref(out);
            } else {
                assert_int_equal(r, -EINVAL);
                assert_true(err.msg[0] != 0);
            }
            k1s_buf_free(&b);
        }
        k1s_buf_free(&orig);
    }
    /* pure noise */
    for (int round = 0; round < 20000; round++) {
        char buf[64] = "k8s";
        size_t len = 4 + round % 60;
        for (size_t j = 4; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            buf[j] = (char)(seed >> 16);
        }
        json_t *out = NULL;
        k1s_err_t err = {0};
        if (k1s_protobuf_decode(buf, len, &out, &err) == 0)
            json_decref(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_namespace),
        cmocka_unit_test(test_configmap),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_deployment),
        cmocka_unit_test(test_special_types),
        cmocka_unit_test(test_delete_options_and_versions),
        cmocka_unit_test(test_unknown_fields_and_utf8),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_captured),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
