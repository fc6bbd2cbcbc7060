/*
 * OpenAPI v3 for the built-in types: the /openapi/v3 discovery and
 * per-group-version documents kubectl reads (explain, and deciding whether
 * the server validates fields itself), schema lookup for strategic merge
 * patch, and server-side field validation (?fieldValidation=Strict|Warn).
 *
 * The component schemas are generated at build time by tools/gen-openapi.py
 * from python3-kubernetes plus tools/openapi-extra.json, and compiled in
 * zlib-compressed (build/gen/openapi_data.c). Nothing is inflated until the
 * first call that needs a schema, so an idle server pays nothing for them.
 *
 * Schemas have the shape Kubernetes publishes in OpenAPI v3: a field of
 * another type is {"allOf": [{"$ref": "#/components/schemas/X"}],
 * "description": ...} (or a bare {"$ref"} inside "items" and
 * "additionalProperties"); strategic-merge metadata sits on the field:
 * "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key",
 * "x-kubernetes-list-type", "x-kubernetes-list-map-keys". Use
 * k1s_openapi_deref() to get from a field to the schema of its type.
 *
 * Thread-safe. Returned schemas are immutable and live as long as the
 * process; callers must not modify them or change their reference counts.
 */
#ifndef K1S_API_OPENAPI_H
#define K1S_API_OPENAPI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"

/* Returns the component schema called name ("io.k8s.api.apps.v1.Deployment"),
 * or NULL if there is none. Borrowed; valid for the life of the process. */
const json_t *k1s_openapi_schema(const char *name);

/* The schema of a resource's objects: its built-in component schema, or for a custom resource
 * (crd.h) the version's openAPIV3Schema. NULL if none. Borrowed; a custom resource's is valid
 * until its CRD changes. */
struct k1s_resource;
const json_t *k1s_resource_schema(const struct k1s_resource *r);

/* Resolves a reference "#/components/schemas/X" (or "#/definitions/X") to
 * schema X; NULL if unknown. arg is unused. Matches k1s_schema_resolve_fn,
 * the resolver type the strategic merge patch code takes. */
const json_t *k1s_openapi_resolve(const char *ref, void *arg);

/* Follows "$ref" and single-element "allOf" wrappers from a field's schema
 * to the schema of its type. Returns schema itself if it is neither, NULL if
 * a reference is dangling. */
const json_t *k1s_openapi_deref(const json_t *schema);

/* The /openapi/v3 discovery document: {"paths": {"api/v1": {"serverRelativeURL":
 * "/openapi/v3/api/v1?hash=..."}, "apis/apps/v1": ..., "api", "apis",
 * "apis/<group>"}}, for the group/versions of the registry. *out is a new
 * NUL-terminated string the caller frees. Cheap: builds no schema documents. */
int k1s_openapi_v3_index(char **out, size_t *len);

/* The document behind one entry of the index: gv_path is "api/v1",
 * "apis/apps/v1", "api", "apis" or "apis/apps" (a leading "/" and a
 * "?hash=..." query are ignored). Returns 0 and a new reference in *out, and in *etag
 * (if non-NULL) the document's hash, the same as in the index's
 * serverRelativeURL, valid for the life of the process. Documents are built
 * on first request and cached. -ENOENT for a group/version the registry does
 * not serve, -EIO if the compiled-in schemas are corrupt. */
int k1s_openapi_v3_doc(const char *gv_path, k1s_bytes_t **out, const char **etag);

/* Strict field validation: walks obj against schema_name and appends to the
 * array `unknown` the path of every field the schema does not declare, in
 * the form kube-apiserver reports them ("spec.replicass",
 * "spec.template.spec.containers[0].imagee", "metadata.labelz"), so that
 * the caller can answer `strict decoding error: unknown field "<path>", ...`
 * (Strict) or send each as a warning (Warn). Fields are matched
 * case-sensitively; maps, arrays, int-or-string, quantities and
 * preserve-unknown-fields schemas (RawExtension, JSON) are handled; the
 * contents of an unknown field are not searched. At most 100 paths are
 * appended, as in Kubernetes. Returns 0, or -ENOENT if schema_name is not a
 * schema. */
int k1s_openapi_check_fields(const char *schema_name, const json_t *obj, json_t *unknown);

/* Type checking, as Kubernetes' JSON decoding does it before any validation:
 * a string where an integer is expected, an int32 out of range, an object
 * where a list is expected, bad base64 in a []byte field. Returns 0, or
 * -EINVAL with err set to the first problem in Go's wording, e.g.
 * "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas
 * of type int32", which kube-apiserver prefixes with
 * `Deployment in version "v1" cannot be handled as a Deployment: `.
 * -ENOENT if schema_name is not a schema. */
/*
 * Removes the fields the schema does not know from obj (in place), as
 * decoding into Kubernetes' typed structs drops them. 0 or -ENOENT for an
 * unknown schema.
 */
int k1s_openapi_prune(const char *schema_name, json_t *obj);

int k1s_openapi_check_types(const char *schema_name, const json_t *obj, k1s_err_t *err);

/*
 * Generated data (build/gen/openapi_data.c, see tools/gen-openapi.py): the
 * zlib stream of one JSON object {"<name>": <schema>, ...} with names
 * sorted, the [offset, length) of each schema in the inflated text, the
 * direct references of each schema (indices), and a sha256 of the text.
 */
extern const unsigned char k1s_openapi_blob[];
extern const size_t k1s_openapi_blob_len;
extern const size_t k1s_openapi_text_len;
extern const size_t k1s_openapi_count;
extern const char k1s_openapi_digest[];
extern const char *const k1s_openapi_names[];
extern const uint32_t k1s_openapi_spans[][2];
extern const uint16_t k1s_openapi_ref_start[];
extern const uint16_t k1s_openapi_refs[];

#endif
