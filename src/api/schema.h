/*
 * Structural OpenAPI v3 schemas, as CustomResourceDefinitions carry them
 * (spec.versions[].schema.openAPIV3Schema): validation of a value with
 * kube-apiserver's messages and field paths, defaulting, pruning of unknown
 * fields, and the structural checks a CRD's schema must pass. The custom
 * resource handlers (crd.c) use it; so can anything that reads list types
 * (x-kubernetes-list-type, -list-map-keys) from the same schemas.
 *
 * Schemas are plain JSON trees and are never modified. Patterns are POSIX
 * extended regular expressions after translating the ECMA-262 escapes that
 * CRDs use in practice (\d \w \s and their negations).
 */
#ifndef K1S_API_SCHEMA_H
#define K1S_API_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>

/*
 * Validates value against schema. Appends metav1.StatusCause objects
 * ({reason, message, field}) to causes, with paths below path ("" for the
 * root, where apiVersion, kind and metadata are skipped). Returns the number
 * of causes added.
 */
int k1s_schema_validate(const json_t *schema, const json_t *value, const char *path,
                        json_t *causes);

/*
 * Applies the schema's defaults to value in place, and drops nulls where the
 * schema is not nullable and has no default (as Kubernetes does). At the
 * root, metadata is left alone.
 */
void k1s_schema_default(const json_t *schema, json_t *value, bool root);

/*
 * Removes fields the schema does not declare, in place (kept under
 * x-kubernetes-preserve-unknown-fields; apiVersion, kind and metadata kept
 * at the root and in embedded resources). If unknown is non-NULL, appends
 * the path of each removed field ("spec.foo", "spec.items[0].bar") to it,
 * at most 100. Returns the number of fields removed.
 */
int k1s_schema_prune(const json_t *schema, json_t *value, bool root, json_t *unknown);

/*
 * The structural-schema checks of a CRD version's openAPIV3Schema (types
 * set, no $ref, allOf/anyOf/oneOf/not only for value validation, defaults
 * that validate and are already pruned, no uniqueItems, list-map-keys that
 * are required or defaulted scalars). path is where the schema sits, e.g.
 * "spec.versions[0].schema.openAPIV3Schema". Appends causes; returns their
 * number.
 */
int k1s_schema_check_structural(const json_t *schema, const char *path, json_t *causes);

/* The schema of property key of an object schema (NULL if none; additionalProperties
 * when it is a schema). Borrowed. */
const json_t *k1s_schema_property(const json_t *schema, const char *key);
/* The items schema of an array schema, or NULL. Borrowed. */
const json_t *k1s_schema_items(const json_t *schema);
/* x-kubernetes-list-type ("atomic", "set", "map") or NULL. */
const char *k1s_schema_list_type(const json_t *schema);

/* True if s matches the pattern (see the file comment); false also when the pattern does not
 * compile, with *bad set. */
bool k1s_schema_pattern_match(const char *pattern, const char *s, bool *bad);
/* True if s is valid for the OpenAPI format (unknown formats accept anything). */
bool k1s_schema_format_ok(const char *format, const char *s);

#endif
