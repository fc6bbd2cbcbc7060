/*
 * Helpers shared by the built-in admission plugins (admit-*.c): resource
 * lists as quota and limit arithmetic needs them. A "resource list" here is
 * a JSON object mapping a resource name ("cpu", "memory",
 * "requests.storage") to an integer number of milli-units (a quantity's
 * MilliValue, saturating), which keeps the sums exact for everything a pod
 * can ask for.
 */
#ifndef K1S_API_ADMIT_INT_H
#define K1S_API_ADMIT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/quantity.h"

/* MilliValue of a quantity in JSON (string or number); false if it does not parse. */
bool k1s_res_milli(const json_t *v, int64_t *out);
/* Quantity.String() of a milli-value in the given format. New string. */
char *k1s_res_format(int64_t milli, k1s_quantity_format_t format);
/* The format a resource's values print in: binary SI for memory and storage, else decimal. */
k1s_quantity_format_t k1s_res_format_of(const char *name);
/* Canonical string of a JSON quantity (Quantity.String()), or a copy of it as is. New string. */
char *k1s_res_string(const json_t *v);
/* Adds the milli-values of list (JSON quantities, e.g. resources.requests) into acc. */
void k1s_res_add_list(json_t *acc, const json_t *list);
/*
 * A pod's effective requests or limits (which: "requests" or "limits"), as
 * resourcehelper.PodRequests/PodLimits compute them: the sum over
 * containers, at least the largest init container, plus spec.overhead.
 * Returns a new resource list.
 */
json_t *k1s_res_pod(const json_t *pod, const char *which);
/* True for a pod in phase Succeeded or Failed (it no longer uses quota). */
bool k1s_res_pod_terminal(const json_t *pod);

#endif
