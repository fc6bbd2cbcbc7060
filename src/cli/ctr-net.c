/*
 * `k1s ctr net`: drives the agent's CNI driver and network namespaces by
 * hand, for debugging a node's pod network and for the end-to-end tests.
 *
 *   k1s ctr net config --pod-cidr CIDR          write the node's conflist
 *   k1s ctr net add|del|check --id ID [--netns PATH] [--pod NS/NAME] [--uid UID]
 *                                [--port [IP:]HOST:CTR[/PROTO]]...
 *   k1s ctr net ls                               attachments and their IPs
 *   k1s ctr net netns add [NAME] | rm PATH... | ls | clean
 *
 * add prints the pod network's CNI result as JSON. Paths default to the
 * agent's: <data-dir>/agent/etc/cni/net.d (config), agent/cni/results (the
 * attachment cache), agent/cni/networks (host-local's allocations).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "network/cni.h"
#include "network/netns.h"

#define MAX_PORTS 32

typedef struct {
    const char *data_dir, *conf_dir, *bin_dir, *cache_dir, *ipam_dir, *netns_dir;
    const char *id, *netns, *pod, *uid, *pod_cidr;
    int timeout_ms;
    char *conf_dir_buf, *cache_dir_buf, *ipam_dir_buf;
    k1s_cni_port_t ports[MAX_PORTS];
    char port_bufs[MAX_PORTS][96];
    size_t n_ports;
} net_args_t;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: k1s ctr net COMMAND [OPTIONS]\n\n"
            "Commands:\n"
            "  config --pod-cidr CIDR   Write the node's CNI config (10-k1s.conflist)\n"
            "  add                      Attach a pod's network namespace (prints the CNI result)\n"
            "  del                      Detach it (idempotent)\n"
            "  check                    Check an attachment\n"
            "  ls                       List attachments (from the cache) and their IPs\n"
            "  netns add [NAME]         Create a named network namespace (prints its path)\n"
            "  netns rm PATH...         Remove network namespaces\n"
            "  netns ls                 List them\n"
            "  netns clean              Remove all of them\n\n"
            "Options:\n"
            "  --id ID                  Sandbox (container) id\n"
            "  --netns PATH             Network namespace of the pod\n"
            "  --pod NAMESPACE/NAME     The pod, for CNI_ARGS and messages\n"
            "  --uid UID                The pod's UID\n"
            "  --port [IP:]HOST:CTR[/tcp|udp|sctp]  hostPort mapping (repeatable)\n"
            "  --pod-cidr CIDR          The node's podCIDR (config; add writes the config too)\n"
            "  --data-dir DIR           Agent data dir (default /var/lib/k1s)\n"
            "  --cni-conf-dir DIR       CNI config dir (default DATA/agent/etc/cni/net.d)\n"
            "  --cni-bin-dir DIRS       Plugin dirs, ':'-separated (default /usr/lib/cni)\n"
            "  --cni-cache-dir DIR      Attachment cache (default DATA/agent/cni/results)\n"
            "  --ipam-dir DIR           host-local's data dir (default DATA/agent/cni/networks)\n"
            "  --netns-dir DIR          Where netns creates namespaces (default /run/k1s/netns)\n"
            "  --timeout DURATION       Limit for one operation (default 60s)\n"
            "  --log-level LEVEL        error, warn, info, debug, trace\n");
}

enum {
    O_ID = 1000,
    O_NETNS,
    O_POD,
    O_UID,
    O_PORT,
    O_CIDR,
    O_DATA,
    O_CONF,
    O_BIN,
    O_CACHE,
    O_IPAM,
    O_NSDIR,
    O_TIMEOUT,
    O_LOG,
    O_HELP
};

static const struct option long_opts[] = {
    {"id", required_argument, NULL, O_ID},
    {"netns", required_argument, NULL, O_NETNS},
    {"pod", required_argument, NULL, O_POD},
    {"uid", required_argument, NULL, O_UID},
    {"port", required_argument, NULL, O_PORT},
    {"pod-cidr", required_argument, NULL, O_CIDR},
    {"data-dir", required_argument, NULL, O_DATA},
    {"cni-conf-dir", required_argument, NULL, O_CONF},
    {"cni-bin-dir", required_argument, NULL, O_BIN},
    {"cni-cache-dir", required_argument, NULL, O_CACHE},
    {"ipam-dir", required_argument, NULL, O_IPAM},
    {"netns-dir", required_argument, NULL, O_NSDIR},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"log-level", required_argument, NULL, O_LOG},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* Parses options from argv[first]; leaves positional arguments at argv[optind..]. */
static int parse(int argc, char **argv, net_args_t *a)
{
    optind = 1;
    opterr = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        k1s_err_t err = {0};
        switch (c) {
        case O_ID: a->id = optarg; break;
        case O_NETNS: a->netns = optarg; break;
        case O_POD: a->pod = optarg; break;
        case O_UID: a->uid = optarg; break;
        case O_CIDR: a->pod_cidr = optarg; break;
        case O_DATA: a->data_dir = optarg; break;
        case O_CONF: a->conf_dir = optarg; break;
        case O_BIN: a->bin_dir = optarg; break;
        case O_CACHE: a->cache_dir = optarg; break;
        case O_IPAM: a->ipam_dir = optarg; break;
        case O_NSDIR: a->netns_dir = optarg; break;
        case O_PORT:
            if (a->n_ports == MAX_PORTS) {
                fprintf(stderr, "k1s: at most %d --port options\n", MAX_PORTS);
                return 2;
            }
            if (k1s_cni_port_parse(optarg, a->port_bufs[a->n_ports], sizeof(a->port_bufs[0]),
                                   &a->ports[a->n_ports], &err) < 0) {
                fprintf(stderr, "k1s: %s\n", err.msg);
                return 2;
            }
            a->n_ports++;
            break;
        case O_TIMEOUT:
            if (k1s_parse_duration_ms(optarg, &a->timeout_ms) < 0 || a->timeout_ms <= 0) {
                fprintf(stderr, "k1s: --timeout: '%s' is not a duration such as 30s\n", optarg);
                return 2;
            }
            break;
        case O_LOG:
            if (k1s_log_set_level(optarg) < 0) {
                fprintf(stderr, "k1s: --log-level: unknown level '%s'\n", optarg);
                return 2;
            }
            break;
        case O_HELP: usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (!a->data_dir)
        a->data_dir = "/var/lib/k1s";
    if (!a->conf_dir)
        a->conf_dir = a->conf_dir_buf = k1s_xasprintf("%s/agent/etc/cni/net.d", a->data_dir);
    if (!a->cache_dir)
        a->cache_dir = a->cache_dir_buf = k1s_xasprintf("%s/agent/cni/results", a->data_dir);
    if (!a->ipam_dir)
        a->ipam_dir = a->ipam_dir_buf = k1s_xasprintf("%s/agent/cni/networks", a->data_dir);
    return 0;
}

static void args_free(net_args_t *a)
{
    free(a->conf_dir_buf);
    free(a->cache_dir_buf);
    free(a->ipam_dir_buf);
}

static int write_config(net_args_t *a)
{
    k1s_cni_netconf_opts_t o = {.pod_cidr = a->pod_cidr, .ipam_data_dir = a->ipam_dir};
    k1s_err_t err = {0};
    bool changed = false;
    if (k1s_cni_write_conf(a->conf_dir, &o, &changed, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int cmd_config(net_args_t *a)
{
    if (!a->pod_cidr) {
        fprintf(stderr, "k1s: ctr net config: --pod-cidr is required\n");
        return 2;
    }
    int r = write_config(a);
    if (r == 0)
        printf("%s/%s\n", a->conf_dir, K1S_CNI_CONF_FILE);
    return r;
}

static int cmd_attach(net_args_t *a, k1s_cni_cmd_t cmd)
{
    if (!a->id) {
        fprintf(stderr, "k1s: ctr net %s: --id is required\n", k1s_cni_cmd_name(cmd));
        return 2;
    }
    if (a->pod_cidr && write_config(a) != 0)
        return 1;
    char *ns = NULL, *name = NULL;
    if (a->pod) {
        const char *slash = strchr(a->pod, '/');
        if (!slash || slash == a->pod || !slash[1]) {
            fprintf(stderr, "k1s: --pod: expected NAMESPACE/NAME, got '%s'\n", a->pod);
            return 2;
        }
        ns = k1s_xstrndup(a->pod, (size_t)(slash - a->pod));
        name = k1s_xstrdup(slash + 1);
    }
    k1s_cni_opts_t o = {.conf_dir = a->conf_dir,
                        .bin_dirs = a->bin_dir,
                        .cache_dir = a->cache_dir,
                        .timeout_ms = a->timeout_ms};
    k1s_err_t err = {0};
    int rc = 1;
    k1s_cni_t *cni = k1s_cni_new(&o, &err);
    if (cni) {
        k1s_cni_pod_t pod = {.id = a->id,
                             .netns = a->netns,
                             .namespace_ = ns,
                             .name = name,
                             .uid = a->uid,
                             .ports = a->ports,
                             .n_ports = a->n_ports};
        k1s_cni_result_t *res = NULL;
        if (k1s_cni_run(cni, cmd, &pod, &res, &err) == 0) {
            if (res)
                printf("%s\n", res->json);
            k1s_cni_result_free(res);
            rc = 0;
        }
    }
    if (rc != 0)
        fprintf(stderr, "k1s: %s\n", err.msg);
    k1s_cni_free(cni);
    free(ns);
    free(name);
    return rc;
}

static int cmd_ls(net_args_t *a)
{
    k1s_cni_opts_t o = {.conf_dir = a->conf_dir, .bin_dirs = a->bin_dir, .cache_dir = a->cache_dir};
    k1s_err_t err = {0};
    k1s_cni_t *cni = k1s_cni_new(&o, &err);
    char **ids = NULL;
    if (!cni || k1s_cni_list_ids(cni, &ids, NULL, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        k1s_cni_free(cni);
        return 1;
    }
    printf("%-40s %s\n", "SANDBOX", "IP");
    for (char **p = ids; *p; p++) {
        k1s_cni_result_t *res = NULL;
        char ip[64];
        const char *shown = "(incomplete: DEL it)";
        if (k1s_cni_cached_result(cni, *p, &res, NULL) == 0)
            shown = k1s_cni_result_pod_ip(res, 0, ip, sizeof(ip));
        printf("%-40s %s\n", *p, shown ? shown : "-");
        k1s_cni_result_free(res);
    }
    k1s_cni_ids_free(ids);
    k1s_cni_free(cni);
    return 0;
}

static int cmd_netns(net_args_t *a, int argc, char **argv)
{
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    k1s_err_t err = {0};
    const char *sub = argv[0];
    if (!strcmp(sub, "add")) {
        char *path;
        if (k1s_netns_create(a->netns_dir, argc > 1 ? argv[1] : NULL, &path, &err) < 0) {
            fprintf(stderr, "k1s: %s\n", err.msg);
            return 1;
        }
        printf("%s\n", path);
        free(path);
        return 0;
    }
    if (!strcmp(sub, "rm")) {
        int rc = 0;
        for (int i = 1; i < argc; i++)
            if (k1s_netns_remove(argv[i], &err) < 0) {
                fprintf(stderr, "k1s: %s\n", err.msg);
                rc = 1;
            }
        return rc;
    }
    if (!strcmp(sub, "ls")) {
        char **names;
        if (k1s_netns_list(a->netns_dir, &names, NULL, &err) < 0) {
            fprintf(stderr, "k1s: %s\n", err.msg);
            return 1;
        }
        for (char **p = names; *p; p++)
            printf("%s\n", *p);
        k1s_netns_names_free(names);
        return 0;
    }
    if (!strcmp(sub, "clean")) {
        int n = k1s_netns_cleanup(a->netns_dir, NULL, NULL, &err);
        if (n < 0) {
            fprintf(stderr, "k1s: %s\n", err.msg);
            return 1;
        }
        printf("removed %d\n", n);
        return 0;
    }
    fprintf(stderr, "k1s: ctr net netns: unknown command '%s'\n", sub);
    return 2;
}

int k1s_cmd_ctr_net(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    net_args_t a = {0};
    int r = parse(argc - 1, argv + 1, &a);
    if (r != 0) {
        args_free(&a);
        return r == 1 ? 0 : r;
    }
    /* getopt_long permutes: positional arguments are now after the options. */
    int npos = argc - 1 - optind;
    char **pos = argv + 1 + optind;
    if (!strcmp(cmd, "config"))
        r = cmd_config(&a);
    else if (!strcmp(cmd, "add"))
        r = cmd_attach(&a, K1S_CNI_ADD);
    else if (!strcmp(cmd, "del"))
        r = cmd_attach(&a, K1S_CNI_DEL);
    else if (!strcmp(cmd, "check"))
        r = cmd_attach(&a, K1S_CNI_CHECK);
    else if (!strcmp(cmd, "ls"))
        r = cmd_ls(&a);
    else if (!strcmp(cmd, "netns"))
        r = cmd_netns(&a, npos, pos);
    else {
        fprintf(stderr, "k1s: ctr net: unknown command '%s'\n\n", cmd);
        usage(stderr);
        r = 2;
    }
    args_free(&a);
    return r;
}
