/*
 * Field sets, as server-side apply tracks them: the set of fields a manager
 * owns in an object, and their wire form, FieldsV1 (the `fieldsV1` of a
 * metadata.managedFields entry).
 *
 * A set is a tree of path elements, the same as structured-merge-diff's
 * fieldpath.Set. Each element is a string in FieldsV1 spelling:
 *   "f:<name>"        a field of a struct or a key of a map
 *   "k:{...}"         an item of an associative list, by its key fields (JSON,
 *                     keys sorted, compact)
 *   "v:<json>"        an item of a set list, by its value
 *   "i:<n>"           an item of another list, by position
 * Here a set is a jansson object whose keys are path elements mapping to the
 * child nodes; the key "." marks the node itself as a member. (FieldsV1
 * writes a member with no children as {}; k1s_fset_from_v1 and
 * k1s_fset_to_v1 convert.) Nodes with no members below them are pruned, so
 * two equal sets are json_equal.
 *
 * All functions leave their inputs alone and return new references.
 */
#ifndef K1S_API_FIELDSET_H
#define K1S_API_FIELDSET_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/buf.h"
#include "lib/err.h"

/* An empty set. */
json_t *k1s_fset_new(void);

/* Parses FieldsV1 (an object). Keys of k: and v: elements are re-encoded in
 * canonical form. Returns 0 and *out, or -EINVAL with err set for something
 * that is not FieldsV1 (a non-object node, an unknown element prefix, bad
 * JSON in a k:/v: element). */
int k1s_fset_from_v1(const json_t *v1, json_t **out, k1s_err_t *err);

/* The FieldsV1 form of set: "." first, then f:, k:, v:, i: elements, each
 * group sorted. */
json_t *k1s_fset_to_v1(const json_t *set);

/* Set algebra on members (a node's "." and the members below it). Difference
 * and intersection are not recursive in the sense of structured-merge-diff's
 * RecursiveDifference: a member of b removes only that member from a, not
 * a's members below it. */
json_t *k1s_fset_union(const json_t *a, const json_t *b);
json_t *k1s_fset_difference(const json_t *a, const json_t *b);
json_t *k1s_fset_intersection(const json_t *a, const json_t *b);
/* a ∪= b, in place (cheaper than k1s_fset_union where a may change). */
void k1s_fset_add(json_t *a, const json_t *b);
/* True if the set has no members. */
bool k1s_fset_empty(const json_t *set);

/* Adds the member at the path of n elements to set (modified in place). */
void k1s_fset_insert(json_t *set, const char *const *path, size_t n);
/* True if the path (n elements) is a member of set. */
bool k1s_fset_has(const json_t *set, const char *const *path, size_t n);

/* Path element spellings (new strings): "k:{...}" for the key fields of an
 * associative-list item (an object of field -> scalar), "v:<json>" for a
 * set item. */
char *k1s_fset_pe_key(const json_t *keyfields);
char *k1s_fset_pe_value(const json_t *value);

/* Calls fn for every member of set, in FieldsV1 order, with the member's
 * path in structured-merge-diff's spelling (".spec.replicas",
 * ".spec.containers[name=\"web\"].image", ".spec.args[=\"x\"]", "[2]"). */
void k1s_fset_foreach(const json_t *set, void (*fn)(const char *path, void *arg), void *arg);

#endif
