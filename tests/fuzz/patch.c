/*
 * libFuzzer target for src/api/patch.c. The input is "document\0patch"; both
 * halves are parsed as JSON and the patch is applied as a JSON Patch, a merge
 * patch and a strategic merge patch (with a small Pod-like schema).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson) tests/fuzz/patch.c src/api/patch.c \
 *     src/lib/buf.c src/lib/err.c src/lib/util.c $(pkg-config --libs jansson) -o /tmp/fuzz-patch
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/patch.h"

static const char schema_text[] =
    "{\"Pod\":{\"properties\":{\"metadata\":{\"allOf\":[{\"$ref\":\"#/components/schemas/Meta\"}]},"
    "\"spec\":{\"$ref\":\"#/components/schemas/Spec\"}}},"
    "\"Meta\":{\"properties\":{\"finalizers\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
    "\"x-kubernetes-patch-strategy\":\"merge\"},\"labels\":{\"additionalProperties\":{}}}},"
    "\"Spec\":{\"properties\":{\"containers\":{\"type\":\"array\",\"items\":{\"allOf\":[{\"$ref\":"
    "\"#/components/schemas/Container\"}]},\"x-kubernetes-patch-merge-key\":\"name\","
    "\"x-kubernetes-patch-strategy\":\"merge\"},\"volumes\":{\"type\":\"array\",\"items\":{},"
    "\"x-kubernetes-patch-merge-key\":\"name\",\"x-kubernetes-patch-strategy\":\"merge,"
    "retainKeys\"},"
    "\"strategy\":{\"x-kubernetes-patch-strategy\":\"retainKeys\"},"
    "\"loop\":{\"$ref\":\"#/components/schemas/Loop\"}}},"
    "\"Loop\":{\"$ref\":\"#/components/schemas/Loop\"},"
    "\"Container\":{\"properties\":{\"ports\":{\"type\":\"array\",\"items\":{},"
    "\"x-kubernetes-patch-merge-key\":\"containerPort\",\"x-kubernetes-patch-strategy\":\"merge\"},"
    "\"env\":{\"type\":\"array\",\"items\":{},\"x-kubernetes-patch-merge-key\":\"name\","
    "\"x-kubernetes-patch-strategy\":\"merge\"}}}}";

static json_t *schemas;

static const json_t *resolve(const char *ref, void *arg)
{
    const char *p = "#/components/schemas/";
    return strncmp(ref, p, strlen(p)) ? NULL : json_object_get(schemas, ref + strlen(p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!schemas)
        schemas = json_loads(schema_text, 0, NULL);
    const uint8_t *sep = memchr(data, 0, size);
    if (!sep)
        return 0;
    size_t dlen = (size_t)(sep - data);
    json_t *doc = json_loadb((const char *)data, dlen, JSON_DECODE_ANY, NULL);
    if (!doc)
        return 0;
    json_t *doc0 = json_deep_copy(doc);
    const char *body = (const char *)sep + 1;
    size_t blen = size - dlen - 1;
    static const char *const types[] = {"application/json-patch+json",
                                        "application/merge-patch+json",
                                        "application/strategic-merge-patch+json"};
    for (size_t i = 0; i < 3; i++) {
        json_t *out = NULL;
        k1s_err_t err = {0};
        if (k1s_patch_apply(types[i], doc, body, blen, json_object_get(schemas, "Pod"), resolve,
                            NULL, &out, &err) == 0)
            json_decref(out);
        else if (err.code == 0)
            abort(); /* failures always say why */
        if (!json_equal(doc, doc0))
            abort(); /* inputs are never modified */
    }
    json_decref(doc0);
    json_decref(doc);
    return 0;
}
