/*
 * libFuzzer target for src/api/schema.c. The input is "schema\0value"; both
 * halves are parsed as JSON, the schema is checked as a CRD schema would be,
 * and the value is validated, defaulted and pruned against it: no crash, no
 * leak, whatever the schema (self-nesting, odd types, bad patterns).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson) tests/fuzz/schema.c src/api/schema.c \
 *     src/lib/buf.c src/lib/err.c src/lib/util.c $(pkg-config --libs jansson) -lm \
 *     -o /tmp/fuzz-schema
 *
 * schema.c prints values with validate.c's Go quoting; that one function is
 * included here rather than linking all of validation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/schema.h"
#include "api/validate-int.h"

/* validate.c's strconv.Quote, reduced to what a fuzz run needs (ASCII escapes). */
void k1s_v_go_quote(k1s_buf_t *b, const char *s)
{
    k1s_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            k1s_buf_putc(b, '\\');
        if (*p < 0x20)
            k1s_buf_printf(b, "\\x%02x", *p);
        else
            k1s_buf_putc(b, (char)*p);
    }
    k1s_buf_putc(b, '"');
}

char *k1s_v_quoted(const char *s)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_v_go_quote(&b, s ? s : "");
    return k1s_buf_steal(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul)
        return 0;
    json_t *schema = json_loadb((const char *)data, (size_t)(nul - data), JSON_DECODE_ANY, NULL);
    json_t *value =
        json_loadb((const char *)nul + 1, size - (size_t)(nul - data) - 1, JSON_DECODE_ANY, NULL);
    if (schema && value) {
        json_t *causes = json_array();
        k1s_schema_check_structural(schema, "schema", causes);
        k1s_schema_validate(schema, value, "", causes);
        json_t *copy = json_deep_copy(value);
        k1s_schema_default(schema, copy, true);
        json_t *unknown = json_array();
        k1s_schema_prune(schema, copy, true, unknown);
        json_decref(unknown);
        json_decref(copy);
        json_decref(causes);
    }
    json_decref(schema);
    json_decref(value);
    return 0;
}
