/*
 * CustomResourceDefinitions (apiextensions.k8s.io/v1) and the custom
 * resources they define.
 *
 * crd.c turns stored CRDs into registry entries (one per version), keeps
 * their status (NamesAccepted, Established, Terminating, acceptedNames,
 * storedVersions) as kube-apiserver's CRD controllers do, validates CRDs,
 * and on deletion removes every custom object before the CRD goes.
 * cr.c holds what the REST handlers, Table output and OpenAPI need for the
 * custom objects themselves: schema defaulting, validation and pruning, the
 * scale subresource, additionalPrinterColumns and the OpenAPI v3 document
 * of a custom group/version.
 */
#ifndef K1S_API_CRD_H
#define K1S_API_CRD_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "api/registry.h"
#include "lib/util.h"

#define K1S_CRD_FINALIZER "customresourcecleanup.apiextensions.k8s.io"

/* What a custom resource version's registry entry points to (k1s_resource_t.crd). Owned by
 * crd.c; replaced in place when the CRD changes, never freed. */
typedef struct k1s_crd_info {
    char *crd_name; /* "widgets.example.com", also the storage key prefix */
    char *group, *kind, *list_kind, *plural, *singular, *openapi_name;
    char *short_names[4], *categories[2];
    char *storage_version;
    json_t *schema;    /* this version's openAPIV3Schema, or NULL */
    bool has_defaults; /* the schema has defaults: applied when objects are read, too */
    bool versions;     /* more than one version defined or stored: apiVersion is rewritten */
    json_t *columns;   /* additionalPrinterColumns (array), or NULL */
    bool status, scale;
    char *spec_replicas_path, *status_replicas_path, *label_selector_path; /* ".spec.replicas" */
    bool terminating; /* deletion in progress: no new objects */
    char *rv;         /* the CRD's resourceVersion (for document hashes) */
} k1s_crd_info_t;

/* True if r is the CustomResourceDefinition resource itself. */
bool k1s_crd_is_crd(const k1s_resource_t *r);

/* A CRD being deleted: adds the cleanup finalizer and the Terminating condition to obj (the
 * stored CRD, modified in place) so that its objects are removed first. */
void k1s_crd_prepare_delete(json_t *obj);

/* The registry entry stored objects under key prefix storage_name belong to, for objects loaded
 * before their CRD is served again at start-up (an unserved placeholder). NULL if
 * storage_name is not a custom resource's ("<plural>.<group>"). */
const k1s_resource_t *k1s_crd_storage_placeholder(const char *storage_name);

/* Validation of a CRD as kube-apiserver's apiextensions validation does it (old is NULL on
 * create). Appends causes; returns their number. */
int k1s_crd_validate(const json_t *obj, const json_t *old, json_t *causes);
/* CRD defaults (conversion strategy, names.singular and listKind). */
void k1s_crd_default(json_t *obj);

/* ---- cr.c: custom objects ---- */

/* Validation of a custom object: metadata, then the version's schema. */
int k1s_cr_validate(const k1s_resource_t *r, const json_t *obj, const json_t *old, json_t *causes);

/* Schema defaults (create, update and when objects are read). */
void k1s_cr_default(const k1s_resource_t *r, json_t *obj);
/* Prunes unknown fields; their paths go to unknown (if non-NULL), metadata's as well. */
int k1s_cr_prune(const k1s_resource_t *r, json_t *obj, json_t *unknown);
/* The autoscaling/v1 Scale of obj (new reference). */
json_t *k1s_cr_scale_of(const k1s_resource_t *r, const json_t *obj);
/* Sets the replicas at specReplicasPath in obj. */
void k1s_cr_scale_set(const k1s_resource_t *r, json_t *obj, json_int_t replicas);
/* Table columns and cells from additionalPrinterColumns. New references. */
json_t *k1s_cr_table_columns(const k1s_resource_t *r);
json_t *k1s_cr_table_cells(const k1s_resource_t *r, const json_t *obj, time_t now);
/* Evaluates the JSONPath subset printer columns use (".spec.x", "[0]",
 * "[?(@.type==\"Ready\")]"); a borrowed value or NULL. */
const json_t *k1s_cr_jsonpath(const json_t *obj, const char *path);
/* The OpenAPI v3 document of a custom group/version ("apis/<group>/<version>"): 0 with a new
 * reference, -ENOENT if gv_path is not one. */
int k1s_cr_openapi_v3_doc(const char *gv_path, k1s_bytes_t **out, const char **etag);
/* The hash of that document, for the /openapi/v3 index; false if gv_path is not one. */
bool k1s_cr_openapi_v3_hash(const char *gv_path, char out[65]);
/* A custom resource's component schema (OpenAPI v3 shape, metadata a reference to ObjectMeta)
 * and that of its list. New references. */
json_t *k1s_cr_openapi_schema(const k1s_resource_t *r);
json_t *k1s_cr_openapi_list_schema(const k1s_resource_t *r);
/* Changes whenever a served custom resource's definition does (for document caches). */
unsigned long k1s_crd_generation(void);

#endif
