/*
 * The controllers k1s runs, in the order they start. Names and service
 * accounts are kube-controller-manager's.
 */
#include "controllers/controller.h"

extern const k1s_controller_def_t k1s_ctrl_job;
extern const k1s_controller_def_t k1s_ctrl_cronjob;
extern const k1s_controller_def_t k1s_ctrl_ttl_after_finished;

const k1s_controller_def_t *const k1s_controllers[] = {
    &k1s_ctrl_job,
    &k1s_ctrl_cronjob,
    &k1s_ctrl_ttl_after_finished,
    NULL,
};
