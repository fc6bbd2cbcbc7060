/*
 * Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf),
 * decoded into the JSON that k1s stores and serves. kubectl's typed clients
 * (create namespace, create deployment, drain, create token, ...) send them;
 * responses stay JSON, which every client accepts.
 *
 * A body is the magic "k8s\0" and a runtime.Unknown message: the envelope's
 * typeMeta {apiVersion, kind} names the type and `raw` holds the object's
 * message (k8s.io.api.core.v1.Namespace, ...). Messages are decoded with the
 * schemas that tools/gen-proto.py extracts at build time from the protobuf
 * descriptors embedded in Debian's kubectl 1.20 (build/gen/proto_data.c),
 * and mapped to JSON as Kubernetes' own JSON encoding would write the same
 * Go object:
 *   - Time -> "2024-01-02T03:04:05Z", MicroTime -> "...05.000001Z",
 *     Duration -> "1h0m0s", Quantity -> its string, IntOrString -> int or
 *     string, RawExtension and FieldsV1 -> the embedded JSON, named slice
 *     types (Verbs, ExtraValue) -> arrays, map entries -> objects, bytes ->
 *     base64 strings, `json:",inline"` structs (Volume.volumeSource, ...)
 *     -> their fields in the parent object;
 *   - a Go pointer field (replicas, maxSurge, ...) present on the wire is
 *     written even when zero; a non-pointer scalar, which Go's marshaller
 *     always writes, is written only when non-zero, as `omitempty` would;
 *     non-pointer structs are written even when empty ("status": {}), an
 *     unset Time is left out;
 *   - fields the 1.20 schema lacks are skipped (logged at debug), so newer
 *     clients work; group/versions newer than 1.20 with the shape of an
 *     older one (autoscaling/v2, policy/v1, batch/v1 CronJob, ...) are
 *     mapped by the generator.
 *
 * Thread-safe; the tables are read-only.
 */
#ifndef K1S_API_PROTOBUF_H
#define K1S_API_PROTOBUF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* True if ct is application/vnd.kubernetes.protobuf, ignoring case,
 * surrounding blanks and parameters (";charset=..."). */
bool k1s_protobuf_content_type(const char *ct);

/*
 * Decodes a Kubernetes protobuf body (magic + runtime.Unknown) of len bytes
 * into a new JSON object, with apiVersion and kind set from the envelope.
 * On success *out receives a new reference and 0 is returned. On bad input
 * returns -EINVAL with err set, e.g. "protobuf: unknown type apps/v1 Foo",
 * "protobuf: truncated message", "protobuf: not a Kubernetes protobuf
 * message (no k8s magic)"; *out is left alone. Safe on any input: lengths
 * are checked and nesting is bounded.
 */
int k1s_protobuf_decode(const char *body, size_t len, json_t **out, k1s_err_t *err);

/*
 * Generated data (build/gen/proto_data.c, see tools/gen-proto.py). Names are
 * offsets into k1s_pb_strings. Messages are sorted by full name
 * ("k8s.io.api.core.v1.Pod"); the fields of message m are
 * k1s_pb_fields[m.first .. m.first + m.nfields), sorted by number.
 */
enum {
    K1S_PB_K_MESSAGE,     /* ordinary message: a JSON object */
    K1S_PB_K_MAP_ENTRY,   /* map<key=1, value=2> entry */
    K1S_PB_K_ARRAY,       /* named slice type: {repeated items = 1} is a JSON array */
    K1S_PB_K_TIME,        /* meta/v1 Time {int64 seconds = 1; int32 nanos = 2} */
    K1S_PB_K_MICROTIME,   /* meta/v1 MicroTime, same fields */
    K1S_PB_K_DURATION,    /* meta/v1 Duration {int64 duration = 1} in ns */
    K1S_PB_K_QUANTITY,    /* resource.Quantity {string string = 1} */
    K1S_PB_K_INTORSTRING, /* intstr.IntOrString {type = 1; intVal = 2; strVal = 3} */
    K1S_PB_K_RAW,         /* RawExtension, FieldsV1: {bytes raw = 1} holding JSON */
};

/* Field flags. */
#define K1S_PB_F_REPEATED 0x1
#define K1S_PB_F_POINTER 0x2 /* a Go pointer (gogoproto.nullable): presence is meaningful */
#define K1S_PB_F_INLINE 0x4  /* `json:",inline"`: the message's fields go into the parent */

#define K1S_PB_NO_MSG 0xffff

typedef struct k1s_pb_field {
    uint32_t name; /* JSON name */
    uint16_t number;
    uint16_t msg;  /* message type index, or K1S_PB_NO_MSG */
    uint8_t type;  /* descriptor.proto FieldDescriptorProto.Type (9 string, 11 message, ...) */
    uint8_t flags; /* K1S_PB_F_* */
} k1s_pb_field_t;

typedef struct k1s_pb_msg {
    uint32_t name; /* full name */
    uint32_t first;
    uint16_t nfields;
    uint8_t kind; /* K1S_PB_K_* */
} k1s_pb_msg_t;

extern const char k1s_pb_strings[];
extern const k1s_pb_msg_t k1s_pb_msgs[];
extern const size_t k1s_pb_nmsgs;
extern const k1s_pb_field_t k1s_pb_fields[];
extern const size_t k1s_pb_nfields;

#endif
