/*
 * Kubernetes quantities (k8s.io/apimachinery/pkg/api/resource): a parser and
 * canonicalizer for "100m", "1Gi", "0.5", "1e3", with comparison, rounding
 * and integer values. Validation, defaulting and the QoS class use it.
 */
#ifndef K1S_API_QUANTITY_H
#define K1S_API_QUANTITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

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

#endif
