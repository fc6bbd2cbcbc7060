/*
 * libFuzzer target for src/lib/yaml.c: YAML -> JSON, and JSON -> YAML -> JSON
 * for whatever converts (numbers compare by value: an integral float reads
 * back as an integer, as it does in Kubernetes).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson yaml-0.1) tests/fuzz/yaml.c src/lib/yaml.c \
 *     src/lib/buf.c src/lib/err.c src/lib/util.c $(pkg-config --libs jansson yaml-0.1) -lm \
 *     -o /tmp/fuzz-yaml
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/yaml.h"

static int same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_object(a)) {
        const char *k;
        size_t klen;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_keylen_foreach((json_t *)a, k, klen, v)
        {
            if (!same(v, json_object_getn(b, k, klen)))
                return 0;
        }
        return 1;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    return json_equal(a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *docs = NULL;
    k1s_err_t err = {0};
    if (k1s_yaml_to_json_all((const char *)data, size, &docs, &err) < 0)
        return 0;
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        char *y = NULL;
        if (k1s_json_to_yaml(d, &y, &err) < 0)
            abort(); /* any JSON value can be written */
        json_t *back = NULL;
        if (k1s_yaml_to_json(y, strlen(y), &back, &err) < 0 || !same(d, back))
            abort(); /* and reads back the same */
        json_decref(back);
        free(y);
    }
    json_decref(docs);
    json_t *one = NULL;
    if (k1s_yaml_to_json((const char *)data, size, &one, &err) == 0)
        json_decref(one);
    return 0;
}
