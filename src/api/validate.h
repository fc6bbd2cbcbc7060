/*
 * Validation of built-in objects, reproducing kube-apiserver v1.32: the same
 * rules, the same field paths and the same messages (field.Error.ErrorBody()),
 * so kubectl, client libraries and users see what Kubernetes would say.
 *
 * Also here, because validation needs them and other components reuse them:
 * the name/label/key format checks (apimachinery's util/validation, in
 * validate-format.c) and the pod QoS class. The Kubernetes Quantity parser
 * and canonicalizer validation uses is in quantity.h, included from here.
 */
#ifndef K1S_API_VALIDATE_H
#define K1S_API_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/quantity.h"
#include "api/registry.h"

/*
 * Validates obj, a decoded and defaulted object of resource r (old is the
 * stored object on update, NULL on create). Appends one cause per problem to
 * causes (a JSON array) as {"reason": "FieldValueInvalid", "message":
 * "Invalid value: \"Foo\": ...", "field": "metadata.name"}; "field" is left
 * out when Kubernetes reports an empty path. Returns the number of causes
 * appended. Neither obj nor old is modified.
 */
int k1s_validate(const k1s_resource_t *r, const json_t *obj, const json_t *old, json_t *causes);

/*
 * Builds the Status message kube-apiserver gives for these causes:
 * `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be
 * greater than or equal to 0` for one cause, `... is invalid: [a, b]` for
 * several (duplicates collapsed) and `... is invalid` for none. kind_group is
 * "Deployment.apps", or "Pod" for the core group. Returns a new string.
 */
char *k1s_validate_message(const char *kind_group, const char *name, const json_t *causes);

/*
 * Format checks. Each fills msgs[] with up to K1S_VALIDATE_MAX_MSGS static
 * strings, the messages Kubernetes gives (IsDNS1123Subdomain & co), and
 * returns their number; 0 means valid.
 */
#define K1S_VALIDATE_MAX_MSGS 8
int k1s_is_dns1123_label(const char *s, const char **msgs);
int k1s_is_dns1123_subdomain(const char *s, const char **msgs);
int k1s_is_dns1035_label(const char *s, const char **msgs);
int k1s_is_qualified_name(const char *s, const char **msgs); /* label keys, finalizers */
int k1s_is_label_value(const char *s, const char **msgs);
int k1s_is_config_map_key(const char *s, const char **msgs);
/* path.ValidatePathSegmentName: names that must be safe in a URL path (RBAC objects) */
int k1s_is_path_segment_name(const char *s, bool prefix, const char **msgs);
/*
 * The name rule of resource r (NameIsDNSSubdomain for most, DNS-1123 label for
 * namespaces, DNS-1035 label for services, path segment for RBAC); prefix is
 * true when validating a generateName. Events have no name rule (returns 0).
 */
int k1s_validate_object_name(const k1s_resource_t *r, const char *name, bool prefix,
                             const char **msgs);

/* Convenience forms for the REST layer: NULL if valid, else the first (static) message. */
const char *k1s_validate_dns1123_subdomain(const char *s);
const char *k1s_validate_dns1123_label(const char *s);
const char *k1s_validate_dns1035_label(const char *s);
const char *k1s_validate_qualified_name(const char *s);
const char *k1s_validate_label_value(const char *s);

/*
 * The pod's QoS class ("Guaranteed", "Burstable" or "BestEffort") from its
 * containers' requests and limits, as kubelet and the API server compute it.
 */
const char *k1s_pod_qos_class(const json_t *pod);

#endif
