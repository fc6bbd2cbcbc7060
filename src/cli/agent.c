/*
 * `k1s agent [flags]`: runs the node agent (src/agent). Flags use k3s's
 * names; K1S_URL, K1S_TOKEN and K1S_NODE_NAME are read as k3s reads
 * K3S_URL, ...; the config file (--config, default /etc/k1s/config.yaml)
 * takes the same keys as the flags (see opts.h).
 */
#include <stdio.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "lib/log.h"

#define OFF(f) offsetof(k1s_agent_config_t, f)

_Static_assert(K1S_AGENT_MAX_LIST == K1S_OPT_MAX_LIST, "list options hold K1S_OPT_MAX_LIST values");

static const k1s_opt_t opts[] = {
    {"config", "c", OPT_STR, (size_t)-1,
     "Load configuration from FILE (default /etc/k1s/config.yaml)"},
    {"server", "s", OPT_STR, OFF(server_url), "Server to connect to (https://<server>:6443)",
     "K1S_URL"},
    {"token", "t", OPT_STR, OFF(token), "Token to use for authentication", "K1S_TOKEN"},
    {"token-file", NULL, OPT_STR, OFF(token_file), "Token file to use for authentication",
     "K1S_TOKEN_FILE"},
    {"node-name", NULL, OPT_STR, OFF(node_name), "Node name (default: the host name)",
     "K1S_NODE_NAME"},
    {"node-ip", "i", OPT_STR, OFF(node_ip),
     "IP address to advertise for the node (default: the default route's interface address)"},
    {"node-label", NULL, OPT_LIST, OFF(node_labels),
     "Register the node with a label key=value (repeatable)"},
    {"node-taint", NULL, OPT_LIST, OFF(node_taints),
     "Register the node with a taint key=value:Effect (repeatable)"},
    {"data-dir", "d", OPT_STR, OFF(data_dir), "Folder to hold state (default /var/lib/k1s)"},
    {"runtime", NULL, OPT_STR, OFF(runtime),
     "OCI runtime: runc or crun (default: crun on pure cgroup v2 hosts, else runc)"},
    {"private-registry", NULL, OPT_STR, OFF(private_registry),
     "Private registry configuration file (default /etc/k1s/registries.yaml)"},
    {"kubelet-port", NULL, OPT_INT, OFF(kubelet_port), "Port of the kubelet API (default 10250)"},
    {"kubelet-arg", NULL, OPT_LIST, OFF(kubelet_args),
     "Kubelet setting name=value (repeatable): eviction-hard, "
     "eviction-pressure-transition-period, image-gc-high-threshold, image-gc-low-threshold, "
     "minimum-image-ttl-duration"},
    {"log-level", "v", OPT_STR, OFF(log_level),
     "Log level: error, warn, info, debug, trace or 0-4 (default info)"},
};

static const k1s_opts_cmd_t cmd = {
    "agent", "Run the node agent: join a k1s server and register this machine as a Node.", opts,
    K1S_ARRAY_SIZE(opts)};

int k1s_cmd_agent(int argc, char **argv)
{
    k1s_agent_config_t cfg;
    k1s_agent_config_init(&cfg);
    int r = k1s_opts_parse(&cmd, &cfg, argc, argv);
    if (r) {
        k1s_agent_config_free(&cfg);
        return r == 1 ? 0 : r;
    }
    if (k1s_log_set_level(cfg.log_level) < 0) {
        fprintf(stderr,
                "k1s: --log-level wants one of error, warn, info, debug, trace; got \"%s\"\n",
                cfg.log_level);
        k1s_agent_config_free(&cfg);
        return 2;
    }
    int rc = k1s_agent_run(&cfg);
    k1s_agent_config_free(&cfg);
    return rc;
}
