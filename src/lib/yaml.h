/*
 * YAML <-> JSON with libyaml, decoding YAML the way Kubernetes does
 * (sigs.k8s.io/yaml on top of go-yaml v2, i.e. YAML 1.1 for untyped values):
 *
 *   - plain scalars resolve to null (``, `~`, null/Null/NULL), booleans
 *     (true/True/TRUE, false/..., yes/Yes/YES, no/..., on/..., off/..., and
 *     y/Y/n/N), integers (decimal, 0x hex, 0o and leading-0 octal, 0b binary,
 *     `_` separators ignored) and floats (`1.5`, `1e3`, `.5`); anything else,
 *     timestamps included, is a string; quoted scalars are always strings;
 *   - floats with an integral value become JSON integers (Go's encoder prints
 *     them without a fraction); .inf/.nan cannot be represented and are errors;
 *   - explicit tags !!str, !!int, !!float, !!bool, !!null are honoured;
 *   - anchors and aliases are expanded (with a budget against alias bombs),
 *     `<<` merge keys are applied as go-yaml v2 applies them;
 *   - map keys become strings (true -> "true", 1 -> "1"); null and
 *     non-scalar keys are errors.
 *
 * Errors read like go-yaml's: "yaml: line 3: mapping values are not allowed
 * in this context".
 */
#ifndef K1S_LIB_YAML_H
#define K1S_LIB_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "lib/err.h"

/*
 * Converts a YAML stream holding one document to JSON. Empty documents
 * (nothing, or only comments/`---`) are ignored; if none is left the result
 * is JSON null. More than one non-empty document is an error. On success
 * *out receives a new reference; returns 0 or -EINVAL with err set.
 */
int k1s_yaml_to_json(const char *data, size_t len, json_t **out, k1s_err_t *err);

/*
 * Converts a multi-document YAML stream into a JSON array with one element
 * per non-empty document (documents that are empty or null are skipped, as
 * kubectl skips them). Returns 0 or -EINVAL with err set.
 */
int k1s_yaml_to_json_all(const char *data, size_t len, json_t **out, k1s_err_t *err);

/*
 * Emits a JSON value as a block-style YAML document ending in a newline.
 * Strings that would read back as something else (e.g. "true", "123", "",
 * "null", "yes", "2024-01-01") are quoted; multi-line strings use literal
 * block style. *out receives a newly allocated NUL-terminated string.
 * Returns 0 or -EINVAL with err set.
 */
int k1s_json_to_yaml(const json_t *v, char **out, k1s_err_t *err);

#endif
