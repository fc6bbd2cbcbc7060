/*
 * VolumeZone, as kube-scheduler's plugin: a pod using PersistentVolumes
 * labelled with a zone or region (topology.kubernetes.io/zone and /region,
 * or the legacy failure-domain.beta.kubernetes.io ones) fits only nodes
 * whose label of the same name, or of its GA name for a legacy PV label,
 * is one of the PV's values (a multi-zone label value is "a__b"). A node
 * without any zone or region label fits (single-zone clusters). Only bound
 * claims count: unbound WaitForFirstConsumer claims are VolumeBinding's.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "scheduler/sched-int.h"

#define BETA_ZONE "failure-domain.beta.kubernetes.io/zone"
#define BETA_REGION "failure-domain.beta.kubernetes.io/region"
#define GA_ZONE "topology.kubernetes.io/zone"
#define GA_REGION "topology.kubernetes.io/region"
/* volumehelpers.LabelMultiZoneDelimiter */
#define MULTI_ZONE_DELIM "__"

static const char *const topology_labels[] = {BETA_ZONE, BETA_REGION, GA_ZONE, GA_REGION};

static const char *ga_label(const char *key)
{
    if (!strcmp(key, BETA_REGION))
        return GA_REGION;
    if (!strcmp(key, BETA_ZONE))
        return GA_ZONE;
    return key;
}

/* LabelZonesToSet: "a__b" -> {a, b}; NULL when a zone is empty (the label is then ignored). */
static json_t *zones_to_set(const char *value)
{
    json_t *set = json_object();
    const char *p = value;
    for (;;) {
        const char *end = strstr(p, MULTI_ZONE_DELIM);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!len) {
            json_decref(set);
            return NULL;
        }
        char *zone = k1s_xstrndup(p, len);
        json_object_set_new(set, zone, json_true());
        free(zone);
        if (!end)
            return set;
        p = end + strlen(MULTI_ZONE_DELIM);
    }
}

void k1s_sched_zone_add_pv(k1s_sched_pod_t *p, const json_t *pv)
{
    const json_t *labels = json_object_get(json_object_get(pv, "metadata"), "labels");
    for (size_t i = 0; i < sizeof(topology_labels) / sizeof(topology_labels[0]); i++) {
        const char *v = json_string_value(json_object_get(labels, topology_labels[i]));
        json_t *set = v ? zones_to_set(v) : NULL;
        if (!set)
            continue;
        if (!p->pv_zones)
            p->pv_zones = json_array();
        json_array_append_new(p->pv_zones,
                              json_pack("{s:s,s:o}", "key", topology_labels[i], "values", set));
    }
}

bool k1s_sched_zone_fits(const k1s_sched_pod_t *p, const k1s_sched_node_t *n)
{
    if (!json_array_size(p->pv_zones))
        return true;
    bool constrained = false;
    for (size_t i = 0; i < sizeof(topology_labels) / sizeof(topology_labels[0]); i++)
        if (k1s_sched_node_label(n, topology_labels[i]))
            constrained = true;
    if (!constrained)
        return true;
    size_t i;
    const json_t *z;
    json_array_foreach(p->pv_zones, i, z)
    {
        const char *key = json_string_value(json_object_get(z, "key"));
        const char *v = k1s_sched_node_label(n, key);
        if (!v) /* a PV's legacy label matches the node's GA label */
            v = k1s_sched_node_label(n, ga_label(key));
        if (!v || !json_object_get(json_object_get(z, "values"), v))
            return false;
    }
    return true;
}
