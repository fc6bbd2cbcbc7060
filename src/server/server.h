/*
 * `k1s server`: the control-plane process. Owns the event loop, the data
 * directory, the PKI, the store and the API server, and runs them until
 * SIGINT/SIGTERM.
 */
#ifndef K1S_SERVER_SERVER_H
#define K1S_SERVER_SERVER_H

#include <stdbool.h>

#define K1S_MAX_SANS 32

typedef struct k1s_server_config {
    char *data_dir;            /* /var/lib/k1s */
    char *bind_address;        /* 0.0.0.0 */
    int https_port;            /* 6443 */
    char *advertise_address;   /* default: first non-loopback IPv4, else 127.0.0.1 */
    char *write_kubeconfig;    /* /etc/k1s/k1s.yaml */
    int write_kubeconfig_mode; /* 0600 */
    char *tls_sans[K1S_MAX_SANS + 1];
    char *token;
    char *token_file;
    char *log_level;
    bool disable_agent;
    bool disable_scheduler;
    bool disable_controllers;
    char *kcm_args[K1S_MAX_SANS + 1];   /* --kube-controller-manager-arg KEY=VALUE */
    char *sched_args[K1S_MAX_SANS + 1]; /* --kube-scheduler-arg KEY=VALUE */
    char *service_cidr;                 /* 10.43.0.0/16 */
    char *cluster_cidr;                 /* 10.42.0.0/16 */
    char *audit_log_path;               /* --audit-log-path; NULL: off */
    int audit_log_maxage, audit_log_maxbackup, audit_log_maxsize;
    /* the embedded agent's (see agent/agent.h) */
    char *node_name; /* default: the host name */
    char *node_ip;
    char *private_registry; /* --private-registry, for the embedded agent */
    char *node_labels[K1S_MAX_SANS + 1];
    char *node_taints[K1S_MAX_SANS + 1];
    char *kubelet_args[K1S_MAX_SANS + 1]; /* --kubelet-arg name=value, for the embedded agent */
} k1s_server_config_t;

/* Fills the defaults. */
void k1s_server_config_init(k1s_server_config_t *c);
void k1s_server_config_free(k1s_server_config_t *c);
/* Runs the server until a termination signal; returns the process exit code. */
int k1s_server_run(k1s_server_config_t *c);

#endif
