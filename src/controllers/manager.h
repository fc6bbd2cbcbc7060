/*
 * The controller manager, run inside `k1s server` as kube-controller-manager
 * runs beside kube-apiserver: it campaigns for the Lease
 * kube-system/kube-controller-manager as user system:kube-controller-manager
 * and, while it holds it, runs every enabled controller (controller.h) over
 * one shared informer factory. Losing the Lease stops them all; they start
 * again, with fresh caches, if it is won back. So when several servers share
 * a datastore, only one runs the controllers.
 */
#ifndef K1S_CONTROLLERS_MANAGER_H
#define K1S_CONTROLLERS_MANAGER_H

#include <event2/event.h>

#include "controllers/controller.h"
#include "net/http.h"

typedef struct k1s_ctrl_manager k1s_ctrl_manager_t;

/*
 * Starts campaigning against the API server handler(handler_arg) on base.
 * identity names this server in the Lease (stable across restarts of the
 * same server, so that a restarted server takes its Lease back at once).
 * With identity NULL there is no leader election: the controllers start at
 * once and no Lease is written. opts is copied.
 */
k1s_ctrl_manager_t *k1s_ctrl_manager_start(struct event_base *base, k1s_http_handler_fn handler,
                                           void *handler_arg, const k1s_ctrl_opts_t *opts,
                                           const char *identity);
/* True while the controllers run here. */
bool k1s_ctrl_manager_leading(const k1s_ctrl_manager_t *m);
/* Stops the controllers, releases the Lease (in the background) and frees. Accepts NULL. */
void k1s_ctrl_manager_free(k1s_ctrl_manager_t *m);

#endif
