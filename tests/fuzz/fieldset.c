/*
 * libFuzzer target for src/api/fieldset.c and src/api/apply.c: the
 * FieldsV1 a client may send in metadata.managedFields, and the objects
 * server-side apply walks. The input is "fieldsV1\0object"; both halves are
 * parsed as JSON. The FieldsV1 half is decoded, re-encoded and combined with
 * itself; the object half is walked with a CRD-style schema (map, set and
 * atomic lists, an atomic map, free-form fields) and with the built-in
 * Deployment schema: its field set, a comparison, a merge and a prune.
 *
 * Built against the ASan library for everything else (make asan first):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson) tests/fuzz/fieldset.c src/api/fieldset.c src/api/apply.c \
 *     build/asan/libk1s.a \
 *     $(pkg-config --libs libevent_core libevent_openssl libevent_pthreads libevent openssl \
 *     jansson yaml-0.1 sqlite3 zlib) -lpthread -lm -o /tmp/fuzz-fieldset
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/apply.h"
#include "api/fieldset.h"
#include "api/openapi.h"

static const char schema_text[] =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
    "\"ports\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
    "\"x-kubernetes-list-map-keys\":[\"name\",\"protocol\"],\"items\":{\"type\":\"object\","
    "\"properties\":{\"name\":{\"type\":\"string\"},\"protocol\":{\"type\":\"string\","
    "\"default\":\"TCP\"}}}},"
    "\"tags\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"items\":{}},"
    "\"hosts\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"ref\":{\"type\":\"object\",\"x-kubernetes-map-type\":\"atomic\"},"
    "\"labels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
    "\"extra\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}}}";

static void nop(const char *path, void *arg)
{
    (void)path;
    (void)arg;
}

static void walk(const json_t *obj, const json_t *schema, const json_t *set)
{
    json_t *fs = k1s_apply_fieldset(obj, schema);
    json_t *a = k1s_fset_new(), *m = k1s_fset_new(), *r = k1s_fset_new();
    json_t *empty = json_object();
    k1s_apply_compare(empty, obj, schema, a, m, r);
    k1s_apply_compare(obj, NULL, schema, a, m, r);
    json_t *merged = k1s_apply_merge(obj, obj, schema);
    k1s_apply_prune(merged, fs, set, schema);
    k1s_apply_prune(merged, set, NULL, schema);
    json_decref(merged);
    json_decref(empty);
    json_decref(fs);
    json_decref(a);
    json_decref(m);
    json_decref(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sep = memchr(data, 0, size);
    size_t n1 = sep ? (size_t)(sep - (const char *)data) : size;
    json_t *v1 = json_loadb((const char *)data, n1, JSON_DECODE_ANY, NULL);
    json_t *obj = sep ? json_loadb(sep + 1, size - n1 - 1, 0, NULL) : NULL;
    json_t *set = NULL;
    if (v1 && k1s_fset_from_v1(v1, &set, NULL) == 0) {
        json_t *out = k1s_fset_to_v1(set);
        json_t *u = k1s_fset_union(set, set);
        json_t *d = k1s_fset_difference(u, set);
        json_t *i = k1s_fset_intersection(u, set);
        if (!k1s_fset_empty(d) || !json_equal(i, set))
            abort(); /* set algebra identities */
        k1s_fset_foreach(set, nop, NULL);
        json_decref(out);
        json_decref(u);
        json_decref(d);
        json_decref(i);
    }
    if (json_is_object(obj)) {
        json_t *schema = json_loads(schema_text, 0, NULL);
        walk(obj, schema, set);
        walk(obj, k1s_openapi_schema("io.k8s.api.apps.v1.Deployment"), set);
        json_decref(schema);
    }
    json_decref(set);
    json_decref(v1);
    json_decref(obj);
    return 0;
}
