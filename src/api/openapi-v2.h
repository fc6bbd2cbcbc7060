/*
 * OpenAPI v2 (Swagger 2.0): the single /openapi/v2 document that kubectl
 * before 1.27 reads for client-side validation (apply/create --validate),
 * `kubectl explain` and strategic-merge-patch metadata. Newer clients use
 * /openapi/v3 (openapi.h).
 *
 * The document is derived from the same compiled-in component schemas as
 * the v3 documents, converted to v2 form the way kube-apiserver publishes
 * them: "#/definitions/X" references, single-reference allOf wrappers
 * unwrapped into a plain "$ref", int-or-string and quantity types as
 * {"type": "string"[, "format": "int-or-string"]}, vendor extensions
 * (x-kubernetes-group-version-kind, -patch-strategy, -patch-merge-key,
 * -list-type, ...) kept. It is served as JSON or in the protobuf encoding
 * of gnostic's openapi.v2.Document message
 * (Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf),
 * which is what kubectl asks for.
 *
 * Each encoding is built on its first request and cached for the life of
 * the process; an idle server pays nothing for it.
 */
#ifndef K1S_API_OPENAPI_V2_H
#define K1S_API_OPENAPI_V2_H

#include <stdbool.h>

#include "lib/util.h"

/* Content types of the two encodings. Clients ask for the protobuf one as
 * "application/com.github.proto-openapi.spec.v2@v1.0+protobuf", but "@" is
 * not allowed in a media type and client-go fails to parse a response that
 * carries it ("mime: unexpected content after media subtype"), so the
 * answer says ".v1.0", as kube-apiserver's does. */
#define K1S_OPENAPI_V2_PROTOBUF_TYPE "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
#define K1S_OPENAPI_V2_JSON_TYPE "application/json"

/*
 * The Swagger 2.0 document for every resource of the registry, as JSON
 * (protobuf = false) or gnostic protobuf (protobuf = true). Returns 0 and a
 * new reference in *out (the caller unrefs it), and in *etag (if non-NULL)
 * the hex sha256 of those bytes, valid for the life of the process.
 * Built on first request per encoding, then shared. -EIO if the
 * compiled-in schemas are corrupt. Thread-safe.
 */
int k1s_openapi_v2_doc(bool protobuf, k1s_bytes_t **out, const char **etag);

#endif
