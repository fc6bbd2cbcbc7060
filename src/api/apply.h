/*
 * Typed operations for server-side apply: the field set of an object, the
 * comparison of two versions of an object, the merge of an applied
 * configuration into a live object and the removal of fields, all driven by
 * the object's OpenAPI schema the way structured-merge-diff drives them by
 * its schema:
 *
 * - a struct (a schema with "properties") and a map ("additionalProperties")
 *   are granular: each field is tracked on its own, unless the field or its
 *   type says `x-kubernetes-map-type: atomic` (as LabelSelector does);
 * - a list is atomic unless `x-kubernetes-list-type` says "map" (items keyed
 *   by `x-kubernetes-list-map-keys`) or "set" (items keyed by value); without
 *   it, a built-in type's strategic-merge metadata decides, as Kubernetes
 *   does: patch strategy "merge" with a merge key makes a map list, without
 *   one a set;
 * - a value with no schema (x-kubernetes-preserve-unknown-fields, unknown
 *   fields) is "deduced": objects granular, lists atomic.
 *
 * Schemas are OpenAPI v3 schema objects: a built-in's component schema
 * (with $ref/allOf resolved by k1s_openapi_deref) or a CRD's inline
 * openAPIV3Schema. schema may be NULL everywhere (all deduced). Sets are
 * fieldset.h trees. Inputs are never modified unless said so.
 */
#ifndef K1S_API_APPLY_H
#define K1S_API_APPLY_H

#include <jansson.h>

/* The set of fields obj sets (structured-merge-diff's ToFieldSet). New reference. */
json_t *k1s_apply_fieldset(const json_t *obj, const json_t *schema);

/*
 * Compares lhs (old) and rhs (new) and adds to the three sets (which must be
 * sets, modified in place) the fields rhs adds, changes and removes. Either
 * of lhs and rhs may be NULL (an object that does not exist).
 */
void k1s_apply_compare(const json_t *lhs, const json_t *rhs, const json_t *schema, json_t *added,
                       json_t *modified, json_t *removed);

/* Merges the applied configuration cfg into live: granular maps and lists
 * merge item by item, everything else is replaced. New reference. */
json_t *k1s_apply_merge(const json_t *live, const json_t *cfg, const json_t *schema);

/*
 * Removes from obj (in place) the members of rm that nobody in keep owns: a
 * member of rm whose path has no member of keep at or below it goes, with its
 * value; containers emptied that way go too. This is how an applier's fields
 * that it no longer applies, and nobody else owns, leave the object.
 */
void k1s_apply_prune(json_t *obj, const json_t *rm, const json_t *keep, const json_t *schema);

#endif
