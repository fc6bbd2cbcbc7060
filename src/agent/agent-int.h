/*
 * The agent's state, shared by agent.c (Node, Lease, status, pod CIDR) and
 * join.c (CA pinning and node certificates).
 */
#ifndef K1S_AGENT_AGENT_INT_H
#define K1S_AGENT_AGENT_INT_H

#include <jansson.h>

#include "agent/agent.h"
#include "agent/fetch.h"
#include "agent/node.h"

struct k1s_agent {
    struct event_base *base;
    char *url;  /* as given, for messages */
    char *host; /* the server's host name or address */
    char *addr; /* its IPv4 address, NULL until looked up */
    int port;
    char *secret;     /* the token's secret */
    char ca_hash[65]; /* the token's CA hash, "" for a bare secret */
    char *node, *node_ip, *dir, *runtime;
    int kubelet_port;
    json_t *labels; /* object */
    json_t *taints; /* array */
    char *password; /* node password */
    k1s_node_identity_t id;
    int failed; /* exit code once given up */

    /* join */
    k1s_fetch_t *fetch;
    int join_step;
    char *ca_pem;
    struct event *join_retry;
    char *join_err;      /* the last "cannot reach" message logged */
    struct event *renew; /* when the certificates enter their renewal window */

    /* the API */
    k1s_client_t *client;
    bool registered, lost;
    int backoff_ms;
    struct event *tick;
    k1s_client_req_t *node_req, *lease_req, *status_req, *watch;
    json_t *lease;      /* the Lease as last written */
    json_t *conditions; /* the conditions as last written */
    uint64_t status_ns; /* when status was last written */
    char *node_uid;
    char *pod_cidr;
    k1s_agent_ready_fn ready_fn;
    void *ready_arg;
    bool ready_called;
    struct event *ready_ev;
    struct k1s_eviction *eviction; /* pressure conditions and evictions (eviction.h) */
    uint64_t eviction_ns;          /* when it last ran */
};

/* join.c: fetches the CA and certificates, then calls k1s_agent_connect(). */
void k1s_agent_join_start(k1s_agent_t *a);
/* join.c: whether the agent's certificates can be used as they are. */
bool k1s_agent_certs_usable(k1s_agent_t *a);
/* join.c: arms a->renew for when the client certificate enters its renewal window. */
void k1s_agent_schedule_renewal(k1s_agent_t *a);
/* join.c: generates agent/<name>.key (P-256) if it does not exist. 0 or -errno with err set. */
int k1s_agent_ensure_key(k1s_agent_t *a, const char *name, k1s_err_t *err);

/* agent.c: looks up a->addr if needed. 0, or -EHOSTUNREACH with *why set (new string). */
int k1s_agent_resolve(k1s_agent_t *a, char **why);
/* agent.c: starts talking to the API with the node's certificates (again, after a renewal). */
void k1s_agent_connect(k1s_agent_t *a);
/* agent.c: gives up: logs the message as an error, records code, breaks the loop. */
void k1s_agent_fail(k1s_agent_t *a, int code, const char *fmt, ...) K1S_PRINTF(3, 4);

#endif
