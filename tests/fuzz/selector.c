/*
 * libFuzzer target for src/api/selector.c: label and field selector parsing.
 * Whatever parses must print to a canonical string that parses again to the
 * same string.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson) tests/fuzz/selector.c src/api/selector.c \
 *     src/lib/buf.c src/lib/err.c src/lib/util.c $(pkg-config --libs jansson) -o /tmp/fuzz-selector
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/selector.h"

static void check_label(const char *s)
{
    k1s_err_t err = {0};
    k1s_label_selector_t *sel = k1s_label_selector_parse(s, &err);
    if (!sel)
        return;
    json_t *labels = json_pack("{s:s,s:s}", "app", "web", "n", "5");
    (void)k1s_label_selector_matches(sel, labels);
    json_decref(labels);
    char *str = k1s_label_selector_string(sel);
    k1s_label_selector_t *again = k1s_label_selector_parse(str, &err);
    if (!again)
        abort(); /* the canonical form must parse */
    char *str2 = k1s_label_selector_string(again);
    if (strcmp(str, str2) != 0)
        abort();
    free(str);
    free(str2);
    k1s_label_selector_free(again);
    k1s_label_selector_free(sel);
}

static const char *lookup(const char *field, void *arg)
{
    return strcmp(field, "metadata.name") == 0 ? "web" : NULL;
}

static void check_field(const char *s)
{
    k1s_err_t err = {0};
    k1s_field_selector_t *sel = k1s_field_selector_parse(s, &err);
    if (!sel)
        return;
    (void)k1s_field_selector_matches(sel, lookup, NULL);
    char *str = k1s_field_selector_string(sel);
    k1s_field_selector_t *again = k1s_field_selector_parse(str, &err);
    if (!again)
        abort();
    char *str2 = k1s_field_selector_string(again);
    if (strcmp(str, str2) != 0)
        abort();
    free(str);
    free(str2);
    k1s_field_selector_free(again);
    k1s_field_selector_free(sel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    check_label(s);
    check_field(s);
    free(s);
    return 0;
}
