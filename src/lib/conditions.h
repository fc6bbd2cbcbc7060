/*
 * Status conditions of Kubernetes objects as JSON (metav1.Condition,
 * PodCondition, DeploymentCondition...): a list under status.conditions of
 * objects told apart by their "type". Shared by the API server (the
 * eviction subresource) and the controllers.
 */
#ifndef K1S_LIB_CONDITIONS_H
#define K1S_LIB_CONDITIONS_H

#include <jansson.h>

/* The first condition of type in status's conditions, borrowed; NULL if none. */
json_t *k1s_cond_get(const json_t *status, const char *type);

/*
 * The condition of type in status (an object), borrowed; a new one holding
 * only the type is appended first (and the conditions list created) if
 * there is none.
 */
json_t *k1s_cond_ensure(json_t *status, const char *type);

#endif
