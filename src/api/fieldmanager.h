/*
 * The field manager: metadata.managedFields for every write, and
 * server-side apply (PATCH with application/apply-patch+yaml), as
 * Kubernetes' apimachinery managedfields package does them.
 *
 * rest.c calls into it at three points of a write:
 *   k1s_fm_begin   when the request starts: reads and checks the
 *                  fieldManager and force query parameters (422 as
 *                  Kubernetes answers for bad CreateOptions/UpdateOptions/
 *                  PatchOptions);
 *   k1s_fm_update  for create, update, patch and the status and scale
 *                  subresources, once the new object is final (defaulted and
 *                  validated) and before it is committed: records which
 *                  fields the request's manager changed;
 *   k1s_fm_apply   for an apply, in place of a patch: merges the applied
 *                  configuration into the live object (or a new one), takes
 *                  ownership, removes fields the manager no longer applies,
 *                  and answers 409 on conflicts. The result then goes through
 *                  the normal update or create path (defaulting, validation).
 */
#ifndef K1S_API_FIELDMANAGER_H
#define K1S_API_FIELDMANAGER_H

#include <jansson.h>
#include <stdbool.h>

#include "api/apiserver-int.h"

/*
 * Reads fieldManager (or derives it from the User-Agent) and force into r.
 * options_kind is "CreateOptions", "UpdateOptions" or "PatchOptions"; apply
 * tells an apply patch (which requires fieldManager). Returns false after
 * answering 422 for an invalid value.
 */
bool k1s_fm_begin(k1s_api_req_t *r, const char *options_kind, bool apply);

/*
 * Sets obj's metadata.managedFields for a non-apply write: old is the stored
 * object (NULL for a create), obj the object about to be stored. Managed
 * fields the request sets replace the stored ones (an empty list resets
 * them); fields this write adds or changes move to the request's manager
 * (one entry per manager, operation Update, API version and subresource);
 * removed fields leave every entry. Does nothing after k1s_fm_apply.
 */
void k1s_fm_update(k1s_api_req_t *r, const json_t *old, json_t *obj);

/*
 * Server-side apply of the configuration cfg (the decoded request body) onto
 * live (the stored object, or NULL if there is none). Returns the merged
 * object (new reference) with its managedFields set, or NULL after answering
 * the request (400 for a bad configuration, 409 for conflicts unless
 * force). The caller still checks the type and name and runs the normal
 * update or create path on the result.
 */
json_t *k1s_fm_apply(k1s_api_req_t *r, const json_t *live, const json_t *cfg);

/*
 * The workload configuration an apply to the scale subresource stands for:
 * the applied autoscaling/v1 Scale's spec.replicas (and resourceVersion) in
 * the shape of r's resource. Returns a new reference, or NULL after answering
 * 400 for something that is not a Scale.
 */
json_t *k1s_fm_scale_config(k1s_api_req_t *r, const json_t *scale);

#endif
