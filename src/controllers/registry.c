/*
 * The controllers k1s runs, in the order they start. Names and service
 * accounts are kube-controller-manager's.
 */
#include "controllers/controller.h"

const k1s_controller_def_t *const k1s_controllers[] = {
    NULL,
};
