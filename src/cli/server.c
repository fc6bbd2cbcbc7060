/*
 * `k1s server [flags]`: parses flags (k3s's names) and the config file
 * (--config, default /etc/k1s/config.yaml, with the same keys as the flags,
 * e.g. `https-listen-port: 7443`, `tls-san: [a, b]`; see opts.h), then runs
 * the server. Flags given on the command line win over the config file.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/kubelet-args.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "lib/log.h"
#include "lib/yaml.h"
#include "server/server.h"

#define OFF(f) offsetof(k1s_server_config_t, f)

static const k1s_opt_t opts[] = {
    {"config", "c", OPT_STR, (size_t)-1,
     "Load configuration from FILE (default /etc/k1s/config.yaml)"},
    {"data-dir", "d", OPT_STR, OFF(data_dir), "Folder to hold state (default /var/lib/k1s)"},
    {"bind-address", NULL, OPT_STR, OFF(bind_address),
     "Address the API server listens on (default 0.0.0.0)"},
    {"https-listen-port", NULL, OPT_INT, OFF(https_port), "HTTPS listen port (default 6443)"},
    {"advertise-address", NULL, OPT_STR, OFF(advertise_address),
     "Address given to clients for the API server (default: this host's first IPv4 address)"},
    {"write-kubeconfig", "o", OPT_STR, OFF(write_kubeconfig),
     "Write the admin kubeconfig to this file (default /etc/k1s/k1s.yaml)"},
    {"write-kubeconfig-mode", NULL, OPT_MODE, OFF(write_kubeconfig_mode),
     "Write the kubeconfig with this mode (default 0600)"},
    {"tls-san", NULL, OPT_LIST, OFF(tls_sans),
     "Add a hostname or IP as a Subject Alternative Name in the serving certificate (repeatable)"},
    {"token", "t", OPT_STR, OFF(token),
     "Shared secret used to join agents (generated if not given)"},
    {"token-file", NULL, OPT_STR, OFF(token_file), "File holding the token"},
    {"log-level", "v", OPT_STR, OFF(log_level),
     "Log level: error, warn, info, debug, trace (default info)"},
    {"disable-agent", NULL, OPT_BOOL, OFF(disable_agent), "Do not run the embedded node agent"},
    {"node-name", NULL, OPT_STR, OFF(node_name),
     "The embedded agent's node name (default: the host name)", "K1S_NODE_NAME"},
    {"node-ip", "i", OPT_STR, OFF(node_ip),
     "The embedded agent's node IP (default: the default route's interface address)"},
    {"private-registry", NULL, OPT_STR, OFF(private_registry),
     "The embedded agent's registry configuration (default /etc/k1s/registries.yaml)"},
    {"node-label", NULL, OPT_LIST, OFF(node_labels),
     "Register the server's node with a label key=value (repeatable)"},
    {"node-taint", NULL, OPT_LIST, OFF(node_taints),
     "Register the server's node with a taint key=value:Effect (repeatable)"},
    {"kubelet-arg", NULL, OPT_LIST, OFF(kubelet_args),
     "The embedded agent's kubelet setting name=value (repeatable): eviction-hard, "
     "eviction-pressure-transition-period, image-gc-high-threshold, image-gc-low-threshold, "
     "minimum-image-ttl-duration"},
    {"disable-scheduler", NULL, OPT_BOOL, OFF(disable_scheduler),
     "Do not run the embedded scheduler"},
    {"disable-controllers", NULL, OPT_BOOL, OFF(disable_controllers),
     "Do not run the embedded controllers (Deployments, Jobs, ... are not reconciled)"},
    {"kube-controller-manager-arg", NULL, OPT_LIST, OFF(kcm_args),
     "Controller setting KEY=VALUE (repeatable): controllers, leader-elect, "
     "node-monitor-grace-period, node-monitor-period, terminated-pod-gc-threshold"},
    {"kube-scheduler-arg", NULL, OPT_LIST, OFF(sched_args),
     "Scheduler setting KEY=VALUE (repeatable): leader-elect"},
    {"service-cidr", NULL, OPT_STR, OFF(service_cidr),
     "IPv4 network CIDR for service IPs (default 10.43.0.0/16)"},
    {"cluster-cidr", NULL, OPT_STR, OFF(cluster_cidr),
     "IPv4 network CIDR for pod IPs (default 10.42.0.0/16)"},
    {"audit-log-path", NULL, OPT_STR, OFF(audit_log_path),
     "Write an audit log of writes and denied requests to this file (\"-\": standard output)"},
    {"audit-log-maxage", NULL, OPT_INT, OFF(audit_log_maxage),
     "Days to keep rotated audit log files (default: no limit)"},
    {"audit-log-maxbackup", NULL, OPT_INT, OFF(audit_log_maxbackup),
     "Rotated audit log files to keep (default: no limit)"},
    {"audit-log-maxsize", NULL, OPT_INT, OFF(audit_log_maxsize),
     "Megabytes an audit log file may reach before it is rotated (default: no rotation)"},
};

static const k1s_opts_cmd_t cmd = {"server", "Run the Kubernetes API server.", opts,
                                   K1S_ARRAY_SIZE(opts)};

_Static_assert(K1S_MAX_SANS == K1S_OPT_MAX_LIST, "list options hold K1S_OPT_MAX_LIST values");

int k1s_cmd_server(int argc, char **argv)
{
    k1s_server_config_t cfg;
    k1s_server_config_init(&cfg);
    int r = k1s_opts_parse(&cmd, &cfg, argc, argv);
    if (r) {
        k1s_server_config_free(&cfg);
        return r == 1 ? 0 : r;
    }
    if (k1s_log_set_level(cfg.log_level) < 0) {
        fprintf(stderr,
                "k1s: --log-level wants one of error, warn, info, debug, trace; got \"%s\"\n",
                cfg.log_level);
        k1s_server_config_free(&cfg);
        return 2;
    }
    /* a bad kubelet setting stops the server now, not its agent in a restart loop */
    k1s_kubelet_config_t kc;
    k1s_err_t err = {0};
    if (!cfg.disable_agent && k1s_kubelet_config_parse(cfg.kubelet_args, &kc, NULL, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        k1s_server_config_free(&cfg);
        return 2;
    }
    int rc = k1s_server_run(&cfg);
    k1s_server_config_free(&cfg);
    return rc;
}
