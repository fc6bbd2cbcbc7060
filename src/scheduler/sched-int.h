/*
 * Internals shared by the scheduler's files: the node summary, the per-pod
 * PreFilter state, and helpers for labels, selectors and terms.
 */
#ifndef K1S_SCHEDULER_SCHED_INT_H
#define K1S_SCHEDULER_SCHED_INT_H

#include "api/selector.h"
#include "scheduler/sched.h"

typedef struct {
    char ip[48];
    char proto[8];
    int port;
} k1s_sched_port_t;

/* What a node keeps of a bound pod beyond the figures in k1s_sched_pinfo_t, in one block that
 * the copies preemption's dry runs make share: its labels, and its view (see bound_pod_view() in
 * node.c) as compact JSON text, parsed again only by the few checks that read more of it (host
 * ports, volumes, preemption's victims). A tree per pod would cost three times the memory, for
 * every pod of the cluster. */
typedef struct k1s_sched_pdata {
    int refs;
    json_t *labels;       /* or NULL */
    json_t *affinity_pod; /* {"spec": {"affinity": ...}} of a pod with pod (anti-)affinity */
    const char *text;
    char buf[]; /* namespace, name, controller uid, start time, then text; NUL-terminated */
} k1s_sched_pdata_t;

/* A pod bound to a node, with what the filters and scores read from it taken out once. */
typedef struct {
    k1s_sched_pdata_t *data;
    const char *ns, *name;      /* in data */
    const json_t *labels;       /* data->labels */
    const json_t *affinity_pod; /* data->affinity_pod: what the affinity checks read */
    const char *owner_uid;      /* the controller ownerReference's uid, or NULL */
    const char *start_time;     /* status.startTime, "" if none */
    int64_t priority;
    bool affinity;    /* carries pod affinity or anti-affinity */
    bool terminating; /* has a deletionTimestamp */
    bool host_ports;  /* asks for host ports */
    bool volumes;     /* has volumes that VolumeRestrictions or NodeVolumeLimits compare */
    bool preempted;   /* has a DisruptionTarget condition True for PreemptionByScheduler */
    k1s_sched_res_t req, nonzero;
    json_t *scalars; /* extended resources and hugepages requested, or NULL */
} k1s_sched_pinfo_t;

/* The pod's view (metadata, nodeName, priority, affinity, volumes, host-port containers,
 * startTime, DisruptionTarget condition), parsed from its text: a new reference. */
json_t *k1s_sched_pinfo_pod(const k1s_sched_pinfo_t *pi);

struct k1s_sched_node {
    json_t *node;
    const char *name;
    json_t *labels; /* borrowed from node; may be NULL */
    k1s_sched_res_t alloc;
    int64_t alloc_pods;
    k1s_sched_res_t requested;         /* sum of the pods' requests */
    json_t *scalar_alloc, *scalar_req; /* extended resources: name -> integer */
    json_t *images;                    /* image name -> size in bytes */
    k1s_sched_res_t nonzero; /* same with kube-scheduler's defaults for missing cpu/memory */
    k1s_sched_pinfo_t *pods;
    size_t n_pods, cap_pods;
    k1s_sched_port_t *ports; /* host ports in use */
    size_t n_ports, cap_ports;
    size_t n_affinity_pods; /* pods carrying any pod (anti-)affinity */
    json_t *owners; /* controller uid -> running (not terminating) pods, for default spreading */
};

/* A pod (anti-)affinity term, parsed. */
typedef struct {
    k1s_label_selector_t *sel;
    json_t *namespaces; /* array of names, JSON null for the pod's own, or NULL for "all" */
    k1s_label_selector_t *ns_sel; /* a non-empty namespaceSelector, or NULL */
    const k1s_sched_cluster_t *c; /* to look Namespaces up for ns_sel */
    const char *topology_key;
    int weight; /* preferred terms; negative for anti-affinity */
} k1s_sched_term_t;

typedef struct {
    int max_skew;
    const char *topology_key;
    bool do_not_schedule;
    int min_domains;
    bool ignore_affinity;      /* nodeAffinityPolicy: Ignore (default Honor) */
    bool honor_taints;         /* nodeTaintsPolicy: Honor (default Ignore) */
    k1s_label_selector_t *sel; /* NULL for the default constraints: */
    const char *owner_uid;     /* they match pods of the same controller */
    bool self_match;
    /* filled per attempt: matching pods per domain */
    json_t *counts; /* object: topology value -> integer */
    int64_t min_match;
} k1s_sched_spread_t;

/* An unbound claim of a WaitForFirstConsumer class, with the PVs that could bind it. */
typedef struct {
    const json_t *pvc;
    const char *name;
    const json_t *sc;
    const json_t **pvs; /* candidate PVs of the class, smallest first */
    size_t n_pvs;
    const char *selected_node; /* volume.kubernetes.io/selected-node already set, or NULL */
    bool provision;            /* the class has a provisioner */
} k1s_sched_claim_t;

struct k1s_sched_pod {
    const k1s_sched_cluster_t *c; /* the cluster the pod was prepared against */
    const json_t *pod;
    const char *ns;
    const json_t *labels;
    const json_t *spec;
    k1s_sched_res_t req, nonzero;
    json_t *scalars; /* or NULL */
    k1s_sched_port_t *ports;
    size_t n_ports;
    int64_t priority;
    /* inter-pod affinity */
    k1s_sched_term_t *aff, *anti;
    size_t n_aff, n_anti;
    json_t *aff_counts;    /* "key\tvalue" -> pods matching all affinity terms */
    json_t *anti_counts;   /* "key\tvalue" -> pods matching an anti-affinity term */
    json_t *existing_anti; /* "key\tvalue" -> existing pods whose anti-affinity forbids this pod */
    bool aff_no_match_anywhere; /* no pod matches the affinity terms (first pod of a group) */
    /* topology spread */
    k1s_sched_spread_t *spread;
    size_t n_spread;
    bool spread_default; /* system default constraints (ScheduleAnyway only) */
    /* NodeAffinity PreFilterResult: the only node names matchFields metadata.name In allows
     * (object used as a set), or NULL for all nodes */
    json_t *node_names;
    /* volumes: required node selector terms of bound PVs */
    json_t *pv_terms; /* array of nodeSelectorTerms arrays */
    /* VolumeBinding: unbound claims of WaitForFirstConsumer classes */
    k1s_sched_claim_t *claims;
    size_t n_claims;
    /* VolumeZone: the zone and region labels of bound PVs, [{"key": label, "values": {zone:
     * true}}], or NULL */
    json_t *pv_zones;
    /* NodeVolumeLimits: the pod's CSI volumes, "driver/handle" -> driver, or NULL */
    json_t *csi_vols;
    /* VolumeRestrictions: the pod's ReadWriteOncePod claims (name -> true) or NULL, how many
     * uses of them the pods of the cluster make, and of these per node name */
    json_t *rwop_claims;
    int64_t rwop_uses;
    json_t *rwop_node_uses;
};

/* VolumeBinding PreFilter for one unbound WaitForFirstConsumer claim (volume.c). */
void k1s_sched_claim_prepare(const k1s_sched_cluster_t *c, k1s_sched_claim_t *cl, const json_t *pvc,
                             const json_t *sc);
void k1s_sched_claims_free(k1s_sched_claim_t *cl, size_t n);
/* VolumeBinding Filter for the pod's unbound claims on node n: true if each can be bound to an
 * available PV there or provisioned for it; pvs_out (optional, n_claims entries) gets the PV
 * chosen per claim, NULL for provisioning. */
bool k1s_sched_claims_fit(const k1s_sched_pod_t *p, const k1s_sched_node_t *n,
                          const json_t **pvs_out);

/* ephemeral.VolumeIsForPod: true if the claim's controller is the pod (filter.c). */
bool k1s_sched_claim_is_for_pod(const json_t *pvc, const json_t *pod);
/* VolumeZone PreFilter for one bound PV / Filter (volumezone.c). */
void k1s_sched_zone_add_pv(k1s_sched_pod_t *p, const json_t *pv);
bool k1s_sched_zone_fits(const k1s_sched_pod_t *p, const k1s_sched_node_t *n);
/* VolumeRestrictions PreFilter / Filter (volumerestrictions.c): inline disks in use by a pod on
 * the node, and ReadWriteOncePod claims in use anywhere. */
void k1s_sched_restrictions_prepare(const k1s_sched_cluster_t *c, k1s_sched_pod_t *p);
bool k1s_sched_disk_fits(const k1s_sched_pod_t *p, const k1s_sched_node_t *n);
bool k1s_sched_rwop_fits(const k1s_sched_pod_t *p, const k1s_sched_node_t *n);
/* NodeVolumeLimits PreFilter / Filter (volumelimits.c): the Filter is true when the pod's new CSI
 * volumes stay within the node's CSINode allocatable counts. */
void k1s_sched_csi_prepare(const k1s_sched_cluster_t *c, k1s_sched_pod_t *p);
bool k1s_sched_csi_fits(const k1s_sched_pod_t *p, const k1s_sched_node_t *n);

/* A node summary sharing o's Node object, without pods (preemption's dry runs). */
k1s_sched_node_t *k1s_sched_node_clone_empty(const k1s_sched_node_t *o);
/* Adds a pod summarised on another node (preemption's dry runs); takes a new reference. */
void k1s_sched_node_add_pinfo(k1s_sched_node_t *n, const k1s_sched_pinfo_t *pi);
/* The next number of the seedable generator (xorshift64; state 0 is replaced by a constant). */
uint64_t k1s_sched_rand(uint64_t *state);
/* Running pods of the controller uid on the node. */
int64_t k1s_sched_node_owner_count(const k1s_sched_node_t *n, const char *uid);
/* Label value of key on the node, or NULL. */
const char *k1s_sched_node_label(const k1s_sched_node_t *n, const char *key);
/* True if the node matches a v1 NodeSelector's terms array (ORed terms). */
bool k1s_sched_node_selector_terms_match(const json_t *terms, const k1s_sched_node_t *n);
/* True if the node matches one NodeSelectorTerm. */
bool k1s_sched_node_selector_term_match(const json_t *term, const k1s_sched_node_t *n);
/* True if toleration tolerates taint (v1helper.ToleratesTaint). */
bool k1s_sched_tolerates(const json_t *toleration, const json_t *taint);
/* Parses an array of PodAffinityTerm (weighted when weighted is true); sign 1 or -1. */
k1s_sched_term_t *k1s_sched_terms_parse(const k1s_sched_cluster_t *c, const json_t *arr,
                                        bool weighted, int sign, size_t *n);
void k1s_sched_terms_free(k1s_sched_term_t *t, size_t n);
/* True if a pod in namespace ns with labels matches term, taken from a pod in term_ns. */
bool k1s_sched_term_matches(const k1s_sched_term_t *t, const char *term_ns, const char *ns,
                            const json_t *labels);
const char *k1s_sched_pod_ns(const json_t *pod);
int64_t k1s_sched_pod_priority(const json_t *pod);
bool k1s_sched_pod_has_affinity(const json_t *pod);
/* Node inclusion policies of a spread constraint: whether node n's pods count for s. aff is
 * whether n passes the pod's node affinity. */
bool k1s_sched_spread_includes(const k1s_sched_pod_t *p, const k1s_sched_spread_t *s,
                               const k1s_sched_node_t *n, bool aff);
/* True if the PreFilter results let node n be evaluated at all. */
bool k1s_sched_pod_prefilter_allows(const k1s_sched_pod_t *p, const k1s_sched_node_t *n);

#endif
