/*
 * The scheduler proper, run inside `k1s server`: informers on Nodes and
 * Pods keep one k1s_sched node summary per Node (with the pods bound to
 * it); pods waiting for a node (empty spec.nodeName, schedulerName
 * default-scheduler, not terminating) go through a work queue, are placed
 * with k1s_sched_schedule and bound through pods/<name>/binding. A pod
 * that fits nowhere gets PodScheduled=False (Unschedulable) and a Warning
 * FailedScheduling Event (repeats counted on one Event), and waits until a
 * Node, CSINode, claim, volume or class is added or changed or a bound or nominated
 * pod goes away, then is retried with the queue's back-off. Pods with
 * schedulingGates wait for them to be removed.
 *
 * Preemption: when DefaultPreemption finds room, the victims get the
 * DisruptionTarget condition (PreemptionByScheduler) and are deleted with a
 * Preempted Event, and the pod gets status.nominatedNodeName; nominated pods
 * hold their room for pods of lower or equal priority until they are bound.
 *
 * VolumeBinding: a pod with unbound WaitForFirstConsumer claims is assumed
 * on its node while the PVs chosen get their claimRef and claims to
 * provision get volume.kubernetes.io/selected-node; it is bound once the PV
 * controller has bound every claim (or tried again after 600 s).
 *
 * The pod cache keeps only the fields scheduling reads (trim_pod).
 *
 * It acts as user system:kube-scheduler through the in-process client,
 * and only while it holds the Lease kube-system/kube-scheduler, so that
 * when several servers share a datastore only one schedules.
 */
#ifndef K1S_SCHEDULER_LOOP_H
#define K1S_SCHEDULER_LOOP_H

#include <event2/event.h>

#include "net/http.h"

typedef struct k1s_scheduler k1s_scheduler_t;

/*
 * Starts campaigning for the scheduler's Lease against the API server
 * handler(handler_arg) on base, as identity (copied; stable across restarts
 * of the same server so that it takes its Lease back at once). With identity
 * NULL there is no leader election: it schedules at once and holds no Lease.
 */
k1s_scheduler_t *k1s_scheduler_start(struct event_base *base, k1s_http_handler_fn handler,
                                     void *handler_arg, const char *identity);
/* Stops and frees. Accepts NULL. */
void k1s_scheduler_free(k1s_scheduler_t *s);

#endif
