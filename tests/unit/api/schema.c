/*
 * Unit tests for src/api/schema.c: validation of values against structural
 * schemas with kube-apiserver's messages and field paths, defaulting,
 * pruning, patterns and formats, and the structural checks of CRD schemas.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/schema.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return j;
}

static const char *SCHEMA =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"required\":[\"size\"],"
    "\"properties\":{"
    "\"size\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},"
    "\"ratio\":{\"type\":\"number\",\"exclusiveMaximum\":true,\"maximum\":1.5},"
    "\"color\":{\"type\":\"string\",\"enum\":[\"red\",\"blue\"],\"default\":\"red\"},"
    "\"name\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":4,\"pattern\":\"^[a-z]+\\\\d*$\"},"
    "\"ip\":{\"type\":\"string\",\"format\":\"ipv4\"},"
    "\"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"tags\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"minItems\":1,"
    "\"maxItems\":2,\"items\":{\"type\":\"string\"}},"
    "\"ports\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
    "\"x-kubernetes-list-map-keys\":[\"port\"],\"items\":{\"type\":\"object\",\"required\":"
    "[\"port\"],\"properties\":{\"port\":{\"type\":\"integer\"},\"proto\":{\"type\":\"string\","
    "\"default\":\"TCP\"}}}},"
    "\"labels\":{\"type\":\"object\",\"maxProperties\":1,\"additionalProperties\":{\"type\":"
    "\"string\"}},"
    "\"port\":{\"x-kubernetes-int-or-string\":true},"
    "\"note\":{\"type\":\"string\",\"nullable\":true},"
    "\"free\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true},"
    "\"embedded\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,"
    "\"properties\":{\"spec\":{\"type\":\"object\"}}}"
    "}}}}";

/* Validates spec (JSON text) and returns the causes' "field: message" lines joined by "\n". */
static char *check(const char *spec_text)
{
    json_t *schema = parse(SCHEMA);
    char *doc = NULL;
    if (asprintf(&doc,
                 "{\"apiVersion\":\"x/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"a\"},"
                 "\"spec\":%s}",
                 spec_text) < 0)
        fail();
    json_t *obj = parse(doc);
    free(doc);
    json_t *causes = json_array();
    int n = k1s_schema_validate(schema, obj, "", causes);
    assert_int_equal((size_t)n, json_array_size(causes));
    size_t len = 1;
    char *out = calloc(1, 1);
    size_t i;
    json_t *c;
    json_array_foreach(causes, i, c)
    {
        const char *f = json_string_value(json_object_get(c, "field"));
        const char *m = json_string_value(json_object_get(c, "message"));
        len += strlen(f ? f : "") + strlen(m) + 4;
        out = realloc(out, len);
        strcat(out, f ? f : "");
        strcat(out, ": ");
        strcat(out, m);
        strcat(out, "\n");
    }
    json_decref(causes);
    json_decref(obj);
    json_decref(schema);
    return out;
}

static void expect(const char *spec, const char *want)
{
    char *got = check(spec);
    if (!strstr(got, want))
        fail_msg("spec %s:\nwant: %s\ngot:  %s", spec, want, got);
    free(got);
}

static void expect_ok(const char *spec)
{
    char *got = check(spec);
    if (*got)
        fail_msg("spec %s: unexpected errors:\n%s", spec, got);
    free(got);
}

static void test_validate(void **state)
{
    expect_ok("{\"size\":3}");
    expect_ok(
        "{\"size\":3.0,\"ratio\":1.25,\"color\":\"blue\",\"name\":\"ab1\",\"ip\":\"10.0.0.1\","
        "\"when\":\"2024-01-02T03:04:05Z\",\"tags\":[\"a\",\"b\"],\"ports\":[{\"port\":1},"
        "{\"port\":2}],\"labels\":{\"a\":\"b\"},\"port\":\"http\",\"note\":null,"
        "\"free\":{\"x\":{\"y\":1}},\"embedded\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}}");
    expect("{\"size\":\"big\"}", "spec.size: Invalid value: \"big\": spec.size in body must be "
                                 "of type integer: \"string\"");
    expect("{\"size\":1.5}", "spec.size: Invalid value: 1.5: spec.size in body must be of type "
                             "integer: \"number\"");
    expect("{}", "spec.size: Required value");
    expect("{\"size\":0}", "spec.size: Invalid value: 0: spec.size in body should be greater "
                           "than or equal to 1");
    expect("{\"size\":11}", "spec.size: Invalid value: 11: spec.size in body should be less "
                            "than or equal to 10");
    expect("{\"size\":1,\"ratio\":1.5}", "spec.ratio: Invalid value: 1.5: spec.ratio in body "
                                         "should be less than 1.5");
    expect("{\"size\":1,\"color\":\"pink\"}",
           "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"blue\"");
    expect("{\"size\":1,\"name\":\"a\"}",
           "spec.name: Invalid value: \"a\": spec.name in body should be at least 2 chars long");
    expect("{\"size\":1,\"name\":\"abcde\"}", "spec.name: Too long: may not be more than 4 bytes");
    expect("{\"size\":1,\"name\":\"A1\"}",
           "spec.name: Invalid value: \"A1\": spec.name in body should match '^[a-z]+\\d*$'");
    expect("{\"size\":1,\"ip\":\"10.0.0\"}",
           "spec.ip: Invalid value: \"10.0.0\": spec.ip in body must be of type ipv4: \"10.0.0\"");
    expect("{\"size\":1,\"when\":\"yesterday\"}", "spec.when in body must be of type date-time");
    expect("{\"size\":1,\"tags\":[]}", "spec.tags: Invalid value: 0: spec.tags in body should "
                                       "have at least 1 items");
    expect("{\"size\":1,\"tags\":[\"a\",\"b\",\"c\"]}",
           "spec.tags: Too many: 3: must have at most 2 items");
    expect("{\"size\":1,\"tags\":[\"a\",\"a\"]}", "spec.tags[1]: Duplicate value: \"a\"");
    expect("{\"size\":1,\"ports\":[{\"port\":1},{\"port\":1}]}",
           "spec.ports[1]: Duplicate value: map[string]interface {}{\"port\":1}");
    expect("{\"size\":1,\"ports\":[{}]}", "spec.ports[0].port: Required value");
    expect("{\"size\":1,\"labels\":{\"a\":\"b\",\"c\":\"d\"}}",
           "spec.labels: Too many: 2: must have at most 1 items");
    expect("{\"size\":1,\"labels\":{\"a\":1}}", "spec.labels.a: Invalid value: 1: spec.labels.a "
                                                "in body must be of type string: \"integer\"");
    expect("{\"size\":1,\"port\":true}", "spec.port: Invalid value: true");
    expect("{\"size\":1,\"embedded\":{\"kind\":\"Pod\"}}", "spec.embedded.apiVersion: Required");
    expect("{\"size\":null}", "spec.size: Invalid value: \"null\": spec.size in body must be of "
                              "type integer: \"null\"");
    /* a schema may narrow metadata.name */
    json_t *ms =
        parse("{\"type\":\"object\",\"properties\":{\"metadata\":{\"type\":"
              "\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":3}}}}}");
    json_t *mo = parse("{\"metadata\":{\"name\":\"toolong\",\"labels\":{\"a\":\"b\"}}}");
    json_t *mc = json_array();
    assert_int_equal(k1s_schema_validate(ms, mo, "", mc), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mc, 0), "field")),
                        "metadata.name");
    json_decref(mc);
    json_decref(mo);
    json_decref(ms);
    /* more than one problem: all are reported */
    char *got = check("{\"size\":0,\"color\":\"x\"}");
    assert_non_null(strstr(got, "spec.size"));
    assert_non_null(strstr(got, "spec.color"));
    free(got);
}

static void test_default_and_prune(void **state)
{
    json_t *schema = parse(SCHEMA);
    json_t *obj = parse("{\"apiVersion\":\"x/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"a\","
                        "\"bogus\":1},\"spec\":{\"size\":1,\"unknown\":2,\"ports\":[{\"port\":1,"
                        "\"x\":1}],\"free\":{\"keep\":1},\"note\":null,\"ratio\":null,"
                        "\"embedded\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{},"
                        "\"spec\":{\"a\":1},\"zzz\":1}},\"top\":1}");
    k1s_schema_default(schema, obj, true);
    json_t *spec = json_object_get(obj, "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "color")), "red");
    json_t *port0 = json_array_get(json_object_get(spec, "ports"), 0);
    assert_string_equal(json_string_value(json_object_get(port0, "proto")), "TCP");
    /* nulls: kept where nullable, dropped elsewhere */
    assert_non_null(json_object_get(spec, "note"));
    assert_null(json_object_get(spec, "ratio"));
    json_t *unknown = json_array();
    int n = k1s_schema_prune(schema, obj, true, unknown);
    char *u = json_dumps(unknown, JSON_COMPACT);
    assert_string_equal(u, "[\"spec.unknown\",\"spec.ports[0].x\",\"spec.embedded.spec.a\","
                           "\"spec.embedded.zzz\",\"top\"]");
    assert_int_equal(n, 5);
    free(u);
    assert_null(json_object_get(spec, "unknown"));
    assert_non_null(json_object_get(json_object_get(spec, "free"), "keep"));
    /* the root's metadata is not the schema's business */
    assert_non_null(json_object_get(json_object_get(obj, "metadata"), "bogus"));
    json_t *emb = json_object_get(spec, "embedded");
    assert_non_null(json_object_get(emb, "apiVersion"));
    assert_non_null(json_object_get(emb, "metadata"));
    json_decref(unknown);
    json_decref(obj);
    json_decref(schema);
}

static void test_patterns_formats(void **state)
{
    bool bad = false;
    assert_true(k1s_schema_pattern_match("^\\d{3}-\\w+$", "123-ab_c", &bad));
    assert_false(bad);
    assert_false(k1s_schema_pattern_match("^\\d{3}$", "12a", &bad));
    assert_true(k1s_schema_pattern_match("^[\\w.-]+$", "a.b-c", &bad));
    assert_true(k1s_schema_pattern_match("^(?:ab)+$", "abab", &bad));
    assert_true(k1s_schema_pattern_match("\\s", "a b", &bad));
    assert_false(k1s_schema_pattern_match("(", "x", &bad));
    assert_true(bad);
    /* what RE2 and ECMA-262 refuse, and what would make regcomp copy the expression forever */
    static const char *const refused[] = {
        "a++",     "*a",          "a{2}{3}",
        "a{1001}", "(a{40}){40}", "^Za-z]++++++++++++++++++++++++++++++++\\d$",
        "a*??"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        bad = false;
        assert_false(k1s_schema_pattern_match(refused[i], "aaa", &bad));
        if (!bad)
            fail_msg("pattern %s accepted", refused[i]);
    }
    assert_true(k1s_schema_pattern_match("^a+?b*?c??$", "aab", &bad));
    assert_false(bad);
    assert_true(k1s_schema_pattern_match("^x{2,3}(ab){1,2}$", "xxabab", &bad));
    assert_true(k1s_schema_pattern_match("^a{b$", "a{b", &bad));
    assert_false(bad);
    assert_true(k1s_schema_format_ok("email", "a@b.example"));
    assert_false(k1s_schema_format_ok("email", "ab.example"));
    assert_true(k1s_schema_format_ok("hostname", "a-b.example"));
    assert_false(k1s_schema_format_ok("hostname", "-a"));
    assert_true(k1s_schema_format_ok("ipv6", "::1"));
    assert_false(k1s_schema_format_ok("ipv6", "1.2.3.4"));
    assert_true(k1s_schema_format_ok("cidr", "10.0.0.0/8"));
    assert_false(k1s_schema_format_ok("cidr", "10.0.0.0/33"));
    assert_true(k1s_schema_format_ok("uri", "https://example.com/x"));
    assert_false(k1s_schema_format_ok("uri", "no scheme"));
    assert_true(k1s_schema_format_ok("uuid", "123e4567-e89b-12d3-a456-426614174000"));
    assert_false(k1s_schema_format_ok("uuid", "123e4567"));
    assert_true(k1s_schema_format_ok("byte", "aGVsbG8="));
    assert_false(k1s_schema_format_ok("byte", "a"));
    assert_true(k1s_schema_format_ok("date", "2024-02-29"));
    assert_false(k1s_schema_format_ok("date", "2024-13-01"));
    assert_true(k1s_schema_format_ok("date-time", "2024-02-29T10:00:00.5+02:00"));
    assert_true(k1s_schema_format_ok("duration", "1h30m"));
    assert_true(k1s_schema_format_ok("password", "anything"));
}

static void structural(const char *schema_text, const char *want)
{
    json_t *s = parse(schema_text);
    json_t *causes = json_array();
    k1s_schema_check_structural(s, "schema", causes);
    char got[4096] = "";
    size_t i;
    json_t *c;
    json_array_foreach(causes, i, c)
    {
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s: %s\n",
                 json_string_value(json_object_get(c, "field")),
                 json_string_value(json_object_get(c, "message")));
    }
    if (want && !strstr(got, want))
        fail_msg("%s: want %s, got %s", schema_text, want, got);
    if (!want && json_array_size(causes) > 0)
        fail_msg("%s: unexpected %s", schema_text, got);
    json_decref(causes);
    json_decref(s);
}

static void test_structural(void **state)
{
    structural(SCHEMA, NULL);
    structural("{\"type\":\"object\",\"properties\":{\"metadata\":{\"type\":\"object\","
               "\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":10}}}}}",
               NULL);
    structural("{\"type\":\"object\",\"properties\":{\"metadata\":{\"type\":\"object\","
               "\"properties\":{\"labels\":{\"type\":\"object\"}}}}}",
               "schema.properties[metadata]: Forbidden: must not specify anything other than name "
               "and generateName, but metadata is implicitly specified");
    structural("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":"
               "\"a++\"}}}",
               "schema.properties[a].pattern: Invalid value: \"a++\": must be a valid regular "
               "expression, but isn't");
    structural("{\"type\":\"object\",\"properties\":{\"a\":{}}}",
               "schema.properties[a].type: Required value: must not be empty for specified "
               "object fields");
    structural("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"thing\"}}}",
               "schema.properties[a].type: Unsupported value: \"thing\"");
    structural("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\"}}}",
               "schema.properties[a].items: Required value");
    structural("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"uniqueItems\":"
               "true,\"items\":{\"type\":\"string\"}}}}",
               "schema.properties[a].uniqueItems: Forbidden");
    structural("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"default\":"
               "\"x\"}}}",
               "schema.properties[a].default: Invalid value: \"x\"");
    structural("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\","
               "\"x-kubernetes-list-type\":\"map\",\"items\":{\"type\":\"object\"}}}}",
               "x-kubernetes-list-map-keys: Required value");
    structural("{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/x\",\"type\":"
               "\"string\"}}}",
               "$ref is not supported");
    structural("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\","
               "\"x-kubernetes-preserve-unknown-fields\":true},\"b\":{"
               "\"x-kubernetes-int-or-string\":true},\"c\":{\"type\":\"string\",\"anyOf\":[{"
               "\"pattern\":\"^a\"},{\"maxLength\":3}]}}}",
               NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_default_and_prune),
        cmocka_unit_test(test_patterns_formats),
        cmocka_unit_test(test_structural),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
