/*
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection package does it for kube-controller-manager and
 * kube-scheduler: a candidate takes the Lease when it does not exist, is
 * unheld, or its holder has not renewed it within leaseDurationSeconds (as
 * measured by this candidate's clock since it last saw the record change);
 * the leader renews every retry period and gives up leading if it has not
 * renewed within the renew deadline. Every write carries the
 * resourceVersion it read, so two candidates cannot both win. Stopping
 * while leading releases the Lease (holderIdentity emptied) so another
 * candidate takes over at once.
 *
 * Defaults are kube-controller-manager's: lease 15 s, renew deadline 10 s,
 * retry period 2 s.
 */
#ifndef K1S_CLIENT_LEADERELECTION_H
#define K1S_CLIENT_LEADERELECTION_H

#include <stdbool.h>

#include "client/client.h"

typedef struct k1s_leader_elector k1s_leader_elector_t;

typedef struct k1s_leader_election_config {
    const char *namespace_; /* of the Lease, e.g. "kube-system" */
    const char *name;       /* e.g. "kube-controller-manager" */
    const char *identity;   /* this candidate, e.g. "<hostname>_<uuid>" */
    int lease_duration_ms;  /* 0: 15000 */
    int renew_deadline_ms;  /* 0: 10000 */
    int retry_period_ms;    /* 0: 2000 */
    void (*started_leading)(void *arg);
    void (*stopped_leading)(void *arg);
    void *arg;
} k1s_leader_election_config_t;

/* A candidate (strings copied); it does nothing until started. */
k1s_leader_elector_t *k1s_leader_elector_new(k1s_client_t *client,
                                             const k1s_leader_election_config_t *cfg);
/* Starts trying to acquire the Lease. */
void k1s_leader_elector_start(k1s_leader_elector_t *le);
/*
 * Stops: a leader releases the Lease and its stopped_leading is called.
 * The elector stays valid (free it later); its release write goes on in
 * the background.
 */
void k1s_leader_elector_stop(k1s_leader_elector_t *le);
/* Frees (stops first, without waiting for the release). Accepts NULL. */
void k1s_leader_elector_free(k1s_leader_elector_t *le);
bool k1s_leader_elector_is_leader(const k1s_leader_elector_t *le);
/* The holder seen last in the Lease ("" if none). */
const char *k1s_leader_elector_holder(const k1s_leader_elector_t *le);

#endif
