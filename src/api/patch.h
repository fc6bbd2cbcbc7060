/*
 * PATCH support: RFC 6902 JSON Patch, RFC 7386 JSON Merge Patch and
 * Kubernetes' strategic merge patch, all on jansson trees. None of these
 * functions modify their inputs; results are new references.
 *
 * They follow the libraries the Kubernetes API server uses, so that kubectl
 * and client libraries see the same results and errors: evanphx/json-patch
 * (v4) for JSON Patch and merge patch, and apimachinery's strategicpatch for
 * strategic merge patch (merge keys, `$patch` directives, `$retainKeys`,
 * `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`). The merge
 * keys and strategies come from the type's OpenAPI v3 schema
 * (x-kubernetes-patch-strategy, x-kubernetes-patch-merge-key).
 *
 * Error codes, for the API layer's status mapping:
 *   -EINVAL          the patch document is malformed (400 Bad Request)
 *   -EDOM            well-formed but does not apply to this object, e.g. a
 *                    missing path or a failed "test" (422 Unprocessable Entity)
 *   -E2BIG           more than K1S_PATCH_MAX_OPS JSON Patch operations
 *   -EOPNOTSUPP      application/apply-patch+yaml (server-side apply; 415)
 *   -EPROTONOSUPPORT an unknown patch media type (415)
 * The messages are meant for users (they become Status messages).
 */
#ifndef K1S_API_PATCH_H
#define K1S_API_PATCH_H

#include <jansson.h>
#include <stddef.h>

#include "lib/err.h"

/* Kubernetes' limit on the number of operations in one JSON Patch. */
#define K1S_PATCH_MAX_OPS 10000

typedef enum {
    K1S_PATCH_UNKNOWN = 0,
    K1S_PATCH_JSON,      /* application/json-patch+json */
    K1S_PATCH_MERGE,     /* application/merge-patch+json */
    K1S_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
    K1S_PATCH_APPLY,     /* application/apply-patch+yaml (server-side apply) */
} k1s_patch_type_t;

/* Classifies a Content-Type header value (parameters such as charset are ignored). */
k1s_patch_type_t k1s_patch_type_parse(const char *content_type);

/*
 * Applies an RFC 6902 JSON Patch (ops: an array of operation objects) to doc.
 * Supports add/remove/replace/move/copy/test, JSON pointers with ~0/~1
 * escapes, "-" to append, and (like Kubernetes) negative array indices.
 * Returns 0 with *out a new reference, or an error code as described above,
 * e.g. `jsonpatch remove operation does not apply: doc is missing path:
 * "/metadata/labels/x"`.
 */
int k1s_patch_json(const json_t *doc, const json_t *ops, json_t **out, k1s_err_t *err);

/*
 * Applies an RFC 7386 JSON Merge Patch: objects merge recursively, null
 * deletes, anything else replaces. Cannot fail; returns a new reference.
 */
json_t *k1s_patch_merge(const json_t *doc, const json_t *patch);

/*
 * Resolves an OpenAPI reference such as
 * "#/components/schemas/io.k8s.api.core.v1.PodSpec" to that schema object
 * (borrowed), or NULL if unknown.
 */
typedef const json_t *(*k1s_schema_resolve_fn)(const char *ref, void *arg);

/*
 * Applies a strategic merge patch as apimachinery's StrategicMergePatch does
 * on the server. schema is the OpenAPI v3 schema object of doc's type (may be
 * NULL: then no merge keys are known, lists are replaced, and directives are
 * still honoured); properties may be {"$ref": ...} or {"allOf": [{"$ref":
 * ...}]}, arrays have "items", maps "additionalProperties". doc and patch
 * must be objects. Returns 0 with *out a new reference, or an error code.
 */
int k1s_patch_strategic(const json_t *doc, const json_t *patch, const json_t *schema,
                        k1s_schema_resolve_fn resolve, void *arg, json_t **out, k1s_err_t *err);

/*
 * Parses a PATCH request body and applies it to doc according to
 * content_type: application/json-patch+json, application/merge-patch+json or
 * application/strategic-merge-patch+json (schema, resolve and arg as for
 * k1s_patch_strategic; unused otherwise). Bodies that are not JSON give
 * -EINVAL with the parser's message; a merge or strategic patch must be a
 * JSON object. Returns 0 with *out a new reference, or an error code.
 */
int k1s_patch_apply(const char *content_type, const json_t *doc, const char *patch_body, size_t len,
                    const json_t *schema, k1s_schema_resolve_fn resolve, void *arg, json_t **out,
                    k1s_err_t *err);

#endif
