/*
 * The controllers k1s runs, in the order they start. Names and service
 * accounts are kube-controller-manager's.
 */
#include "controllers/controller.h"

extern const k1s_controller_def_t k1s_ctrl_garbagecollector;
extern const k1s_controller_def_t k1s_ctrl_podgc;
extern const k1s_controller_def_t k1s_ctrl_pvbinder;
extern const k1s_controller_def_t k1s_ctrl_pvc_protection;
extern const k1s_controller_def_t k1s_ctrl_pv_protection;
extern const k1s_controller_def_t k1s_ctrl_localpath;
extern const k1s_controller_def_t k1s_ctrl_ephemeral;
extern const k1s_controller_def_t k1s_ctrl_disruption;
extern const k1s_controller_def_t k1s_ctrl_nodelifecycle;
extern const k1s_controller_def_t k1s_ctrl_nodeipam;
extern const k1s_controller_def_t k1s_ctrl_tainteviction;
extern const k1s_controller_def_t k1s_ctrl_endpoints;
extern const k1s_controller_def_t k1s_ctrl_endpointslice;
extern const k1s_controller_def_t k1s_ctrl_endpointslicemirroring;
extern const k1s_controller_def_t k1s_ctrl_replicaset;
extern const k1s_controller_def_t k1s_ctrl_deployment;
extern const k1s_controller_def_t k1s_ctrl_daemonset;
extern const k1s_controller_def_t k1s_ctrl_statefulset;
extern const k1s_controller_def_t k1s_ctrl_job;
extern const k1s_controller_def_t k1s_ctrl_cronjob;
extern const k1s_controller_def_t k1s_ctrl_ttl_after_finished;

/* one line per controller, for easy merges */
/* clang-format off */
const k1s_controller_def_t *const k1s_controllers[] = {
    &k1s_ctrl_garbagecollector,
    &k1s_ctrl_podgc,
    &k1s_ctrl_pvbinder,
    &k1s_ctrl_pvc_protection,
    &k1s_ctrl_pv_protection,
    &k1s_ctrl_localpath,
    &k1s_ctrl_ephemeral,
    &k1s_ctrl_disruption,
    &k1s_ctrl_nodelifecycle,
    &k1s_ctrl_nodeipam,
    &k1s_ctrl_tainteviction,
    &k1s_ctrl_endpoints,
    &k1s_ctrl_endpointslice,
    &k1s_ctrl_endpointslicemirroring,
    &k1s_ctrl_replicaset,
    &k1s_ctrl_deployment,
    &k1s_ctrl_daemonset,
    &k1s_ctrl_statefulset,
    &k1s_ctrl_job,
    &k1s_ctrl_cronjob,
    &k1s_ctrl_ttl_after_finished,
    NULL,
};
/* clang-format on */
