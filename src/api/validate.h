/*
 * Validation of built-in objects, reproducing kube-apiserver v1.32: the same
 * rules, the same field paths and the same messages (field.Error.ErrorBody()),
 * so kubectl, client libraries and users see what Kubernetes would say.
 *
 * Also here, because validation needs them and other components reuse them:
 * the name/label/key format checks (apimachinery's util/validation) and a
 * Kubernetes Quantity parser and canonicalizer ("100m", "1Gi", "0.5", "1e3").
 */
#ifndef K1S_API_VALIDATE_H
#define K1S_API_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

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
 * Quantities (k8s.io/apimachinery/pkg/api/resource). A parsed quantity is an
 * exact decimal: (-1)^neg * digits * 10^exp, rounded up to nano precision as
 * Kubernetes does, plus the format that decides how it prints.
 */
typedef enum {
    K1S_QTY_DECIMAL_SI = 0,   /* 12M, 500m */
    K1S_QTY_BINARY_SI,        /* 12Mi */
    K1S_QTY_DECIMAL_EXPONENT, /* 12e6 */
} k1s_quantity_format_t;

#define K1S_QTY_MAX_DIGITS 120

typedef struct k1s_quantity {
    bool neg;
    int exp;
    k1s_quantity_format_t format;
    char digits[K1S_QTY_MAX_DIGITS + 1]; /* magnitude, no leading zeros; "0" for zero */
    char keep[48]; /* the input, when Kubernetes keeps it verbatim as the canonical form */
} k1s_quantity_t;

/* The messages of ParseQuantity's errors. */
extern const char k1s_quantity_err_format[]; /* quantities must match the regular expression ... */
extern const char k1s_quantity_err_numeric[];
extern const char k1s_quantity_err_suffix[];

/* Parses s ("100m", "1.5Gi", "1e3", "-2"). 0, or -EINVAL with *err (if non-NULL) set to one of
 * the static messages above. */
int k1s_quantity_parse(const char *s, k1s_quantity_t *q, const char **err);
/* Same from a JSON value: a string, or a number as resource.Quantity.UnmarshalJSON accepts. */
int k1s_quantity_from_json(const json_t *v, k1s_quantity_t *q, const char **err);
/* The string Kubernetes serializes (Quantity.String()). Returns a new string. */
char *k1s_quantity_string(const k1s_quantity_t *q);
/* Canonical form of s, or NULL if s does not parse. Returns a new string. */
char *k1s_quantity_canonical(const char *s);
/* Rounds up (away from zero) so that no digit is below 10^scale (scale -3: milli); Kubernetes'
 * Quantity.RoundUp. Returns true if the value did not change. */
bool k1s_quantity_round_up(k1s_quantity_t *q, int scale);
/* -1, 0 or 1 as a < b, a == b, a > b (by value). */
int k1s_quantity_cmp(const k1s_quantity_t *a, const k1s_quantity_t *b);
int k1s_quantity_sign(const k1s_quantity_t *q);
/* Value() and MilliValue(): rounded up to an integer, saturating at INT64_MIN/MAX. */
int64_t k1s_quantity_value(const k1s_quantity_t *q);
int64_t k1s_quantity_milli_value(const k1s_quantity_t *q);

/*
 * The pod's QoS class ("Guaranteed", "Burstable" or "BestEffort") from its
 * containers' requests and limits, as kubelet and the API server compute it.
 */
const char *k1s_pod_qos_class(const json_t *pod);

#endif
