/*
 * Label and field selectors, with Kubernetes' syntax and semantics
 * (k8s.io/apimachinery/pkg/labels and pkg/fields).
 *
 * Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`,
 * `!a`, `a>1`, `a<1`, comma-separated and ANDed, whitespace tolerant; keys
 * and values are validated as Kubernetes validates them. They can also be
 * built from a metav1.LabelSelector object (matchLabels/matchExpressions),
 * as Deployments, ReplicaSets and Services carry them.
 *
 * Field selectors: `f=v`, `f==v`, `f!=v`, comma-separated and ANDed, with
 * `\` escaping `\`, `,` and `=` in values. The caller checks each field
 * against what the resource supports, then matches objects through a lookup
 * function so that it can serve values from its cache without parsing JSON.
 *
 * Error messages carry no "unable to parse requirement:" / "invalid field
 * selector:" prefix; the API layer adds its own.
 */
#ifndef K1S_API_SELECTOR_H
#define K1S_API_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

/* ---------- label selectors ---------- */

typedef enum {
    K1S_LABEL_IN,
    K1S_LABEL_NOT_IN,
    K1S_LABEL_EQUALS,         /* = */
    K1S_LABEL_DOUBLE_EQUALS,  /* == */
    K1S_LABEL_NOT_EQUALS,     /* != */
    K1S_LABEL_EXISTS,         /* key */
    K1S_LABEL_DOES_NOT_EXIST, /* !key */
    K1S_LABEL_GT,             /* key>N */
    K1S_LABEL_LT,             /* key<N */
} k1s_label_op_t;

typedef struct k1s_label_selector k1s_label_selector_t;

/*
 * Parses a label selector string. An empty (or all-blank) string gives the
 * selector that matches everything. Returns a new selector, or NULL with err
 * set (EINVAL) and a Kubernetes-style message, e.g.
 * "found '=', expected: !, identifier, or 'end of string'".
 */
k1s_label_selector_t *k1s_label_selector_parse(const char *s, k1s_err_t *err);

/*
 * Builds a selector from a metav1.LabelSelector JSON object, as
 * metav1.LabelSelectorAsSelector does: NULL or JSON null gives a selector that
 * matches nothing; {} gives one that matches everything. Returns a new
 * selector, or NULL with err set (EINVAL) for a bad operator, key or value.
 */
k1s_label_selector_t *k1s_label_selector_from_json(const json_t *sel, k1s_err_t *err);

/* labels is the object's metadata.labels (an object of strings) or NULL. */
bool k1s_label_selector_matches(const k1s_label_selector_t *sel, const json_t *labels);

/* True if the selector has no requirements and matches everything. */
bool k1s_label_selector_empty(const k1s_label_selector_t *sel);

/* True for the "nothing" selector (from a missing metav1.LabelSelector). */
bool k1s_label_selector_nothing(const k1s_label_selector_t *sel);

/*
 * Canonical string form, requirements sorted by key, as labels.Selector's
 * String() prints it ("app=web,tier in (a,b)"); "" for everything. Useful for
 * Scale's status.selector. Returns a newly allocated string.
 */
char *k1s_label_selector_string(const k1s_label_selector_t *sel);

/* Requirement accessors, in parse order. */
size_t k1s_label_selector_count(const k1s_label_selector_t *sel);
const char *k1s_label_selector_key(const k1s_label_selector_t *sel, size_t i);
k1s_label_op_t k1s_label_selector_op(const k1s_label_selector_t *sel, size_t i);
/* Values of requirement i (sorted, unique); *n receives their number. */
const char *const *k1s_label_selector_values(const k1s_label_selector_t *sel, size_t i, size_t *n);

void k1s_label_selector_free(k1s_label_selector_t *sel);

/*
 * Validation of label keys (optional DNS-1123 subdomain prefix and '/', then a
 * name of at most 63 characters [A-Za-z0-9-_.] starting and ending with an
 * alphanumeric) and label values (empty, or the same form as a name). Return 0
 * or -EINVAL with err->msg holding Kubernetes' explanation (no prefix), e.g.
 * "name part must be no more than 63 characters".
 */
int k1s_label_validate_key(const char *key, k1s_err_t *err);
int k1s_label_validate_value(const char *value, k1s_err_t *err);

/* ---------- field selectors ---------- */

typedef enum {
    K1S_FIELD_EQUALS,     /* = or == */
    K1S_FIELD_NOT_EQUALS, /* != */
} k1s_field_op_t;

typedef struct k1s_field_selector k1s_field_selector_t;

/*
 * Returns the object's value of field (e.g. "spec.nodeName") as a string, or
 * NULL when it has none (matched as ""). The pointer must stay valid until
 * the next call or until k1s_field_selector_matches returns.
 */
typedef const char *(*k1s_field_lookup_fn)(const char *field, void *arg);

/*
 * Parses a field selector. An empty string gives the selector that matches
 * everything. Terms are kept sorted as Kubernetes sorts them. Returns a new
 * selector, or NULL with err set (EINVAL), e.g. "can't understand 'foo'" or
 * "invalid escape sequence: \x".
 */
k1s_field_selector_t *k1s_field_selector_parse(const char *s, k1s_err_t *err);
void k1s_field_selector_free(k1s_field_selector_t *sel);
bool k1s_field_selector_empty(const k1s_field_selector_t *sel);

/* Requirement accessors; value is unescaped. */
size_t k1s_field_selector_count(const k1s_field_selector_t *sel);
const char *k1s_field_selector_field(const k1s_field_selector_t *sel, size_t i);
k1s_field_op_t k1s_field_selector_op(const k1s_field_selector_t *sel, size_t i);
const char *k1s_field_selector_value(const k1s_field_selector_t *sel, size_t i);

/*
 * If the selector requires field to equal one value (an `=`/`==` term), returns
 * that value, else NULL: lets a caller use an index (e.g. pods by spec.nodeName).
 */
const char *k1s_field_selector_exact(const k1s_field_selector_t *sel, const char *field);

/* True if every requirement holds; a NULL selector matches everything. */
bool k1s_field_selector_matches(const k1s_field_selector_t *sel, k1s_field_lookup_fn lookup,
                                void *arg);
/* Same, looking the fields up in a JSON object with k1s_json_field_string. */
bool k1s_field_selector_matches_json(const k1s_field_selector_t *sel, const json_t *obj);

/* Canonical string form ("metadata.name=a,spec.nodeName!=b"), values escaped; newly allocated. */
char *k1s_field_selector_string(const k1s_field_selector_t *sel);

/*
 * Extracts a dotted field path ("spec.nodeName", "metadata.name",
 * "status.phase", "involvedObject.kind") from obj as a string: strings as
 * they are (the result points into obj), booleans as "true"/"false" and
 * numbers in decimal (written into buf). Returns NULL if the path is missing
 * or leads to null, an object or an array.
 */
const char *k1s_json_field_string(const json_t *obj, const char *path, char *buf, size_t len);

#endif
