/*
 * The resource registry: one table entry per served resource, read by
 * discovery, the REST handlers, Table output, OpenAPI and patching
 * (ARCHITECTURE.md principle 2, "types are data").
 */
#ifndef K1S_API_REGISTRY_H
#define K1S_API_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#define K1S_SUB_STATUS 0x1
#define K1S_SUB_SCALE 0x2
#define K1S_SUB_BINDING 0x4
#define K1S_SUB_EVICTION 0x8
#define K1S_SUB_TOKEN 0x10    /* serviceaccounts/token (TokenRequest) */
#define K1S_SUB_APPROVAL 0x20 /* certificatesigningrequests/approval */

typedef struct k1s_resource {
    const char *group;    /* "" for the core group */
    const char *version;  /* "v1", "v2" */
    const char *kind;     /* "Pod" */
    const char *plural;   /* "pods" */
    const char *singular; /* "pod" */
    const char *short_names[4];
    const char *categories[2];
    bool namespaced;
    unsigned subresources;    /* K1S_SUB_* */
    bool has_status;          /* spec/status split: status is ignored on main-resource writes */
    const char *openapi_name; /* "io.k8s.api.core.v1.Pod" */
    const char *field_selectors[8]; /* per-type selectable fields beyond metadata.name/namespace */
    const char
        *storage_name; /* key prefix name; usually == plural (events.k8s.io shares "events") */
    bool create_only;  /* a review: only POST, answered by review.c and never stored */
    const struct k1s_crd_info *crd; /* custom resources only (crd.h); NULL for built-ins */
    bool read_only; /* get and list only, answered from the kubelets by metrics.c, never stored */
} k1s_resource_t;

/* All served resources, in discovery order: built-ins, then custom resources.
 * The array is valid until the next k1s_registry_update(). */
const k1s_resource_t *const *k1s_registry_all(size_t *n);

/*
 * Run-time resources (custom resources). k1s_registry_claim returns the entry
 * for storage_name and version, creating an unserved one (zeroed but for
 * storage_name and version) on first use. Entries are never freed, because
 * stored objects' aux records and watches point at them: an entry that stops
 * being served is kept and handed out again if the same resource comes back.
 * The caller fills in the entry's fields (and owns what they point to) and
 * then calls k1s_registry_update to publish the served set.
 */
k1s_resource_t *k1s_registry_claim(const char *storage_name, const char *version);
/* Marks a claimed entry served or not; takes effect at k1s_registry_update. */
void k1s_registry_set_served(k1s_resource_t *r, bool served);
bool k1s_registry_is_served(const k1s_resource_t *r);
/* Rebuilds the served list and group/versions after claims and set_served. */
void k1s_registry_update(void);
/* Kubernetes' version order: <0 if a sorts before b (v2, v1, v1beta2, v1beta1, v1alpha1, ...). */
int k1s_registry_version_cmp(const char *a, const char *b);
/* Bumped by each k1s_registry_update (for caches keyed on the registry). */
unsigned long k1s_registry_generation(void);
/* Finds by group ("" for core), version and plural; NULL if not served. */
const k1s_resource_t *k1s_registry_find(const char *group, const char *version, const char *plural);
/* Finds by group and kind (any served version); NULL if none. */
const k1s_resource_t *k1s_registry_find_kind(const char *group, const char *kind);
/* "apps/v1" or "v1" into buf. */
const char *k1s_resource_api_version(const k1s_resource_t *r, char *buf, size_t len);

/* Group/versions served, in discovery order ("" group = core). */
typedef struct k1s_group_version {
    const char *group;
    const char *version;
} k1s_group_version_t;
const k1s_group_version_t *k1s_registry_group_versions(size_t *n);

#endif
