/*
 * The server process: prepares the data directory (server/tls, server/db,
 * server/cred, server/token), creates or reuses the PKI, opens the store,
 * starts the API server on HTTPS and writes the admin kubeconfig, then runs
 * the event loop until SIGINT/SIGTERM and shuts down cleanly (queued writes
 * are committed first).
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/apiserver.h"
#include "api/version.h"
#include "lib/log.h"
#include "net/http.h"
#include "net/tls.h"
#include "controllers/manager.h"
#include "scheduler/loop.h"
#include "server/agentproc.h"
#include "server/join.h"
#include "server/pki.h"
#include "store/store.h"

void k1s_server_config_init(k1s_server_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->data_dir = k1s_xstrdup("/var/lib/k1s");
    c->bind_address = k1s_xstrdup("0.0.0.0");
    c->https_port = 6443;
    c->write_kubeconfig = k1s_xstrdup("/etc/k1s/k1s.yaml");
    c->write_kubeconfig_mode = 0600;
    c->log_level = k1s_xstrdup("info");
    c->service_cidr = k1s_xstrdup("10.43.0.0/16");
    c->cluster_cidr = k1s_xstrdup("10.42.0.0/16");
}

void k1s_server_config_free(k1s_server_config_t *c)
{
    free(c->data_dir);
    free(c->bind_address);
    free(c->advertise_address);
    free(c->write_kubeconfig);
    for (int i = 0; c->tls_sans[i]; i++)
        free(c->tls_sans[i]);
    free(c->token);
    free(c->token_file);
    free(c->log_level);
    free(c->service_cidr);
    free(c->cluster_cidr);
    free(c->audit_log_path);
    for (int i = 0; c->kcm_args[i]; i++)
        free(c->kcm_args[i]);
    for (int i = 0; c->sched_args[i]; i++)
        free(c->sched_args[i]);
    free(c->node_name);
    free(c->node_ip);
    free(c->private_registry);
    for (int i = 0; c->node_labels[i]; i++)
        free(c->node_labels[i]);
    for (int i = 0; c->node_taints[i]; i++)
        free(c->node_taints[i]);
    for (int i = 0; c->kubelet_args[i]; i++)
        free(c->kubelet_args[i]);
}

/*
 * This server's name in leader-election Leases: "<hostname>_<uuid>", the
 * uuid kept in server/identity so that a restarted server takes its Leases
 * back at once instead of waiting for them to expire.
 */
static char *server_identity(const char *server_dir)
{
    char *path = k1s_xasprintf("%s/identity", server_dir);
    char *id = NULL;
    if (k1s_read_file(path, &id, NULL) == 0) {
        id[strcspn(id, "\r\n")] = 0;
        if (!*id) {
            free(id);
            id = NULL;
        }
    }
    if (!id) {
        char host[256] = "k1s", uuid[37];
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = 0;
        k1s_uuid4(uuid);
        id = k1s_xasprintf("%s_%s", host, uuid);
        char *line = k1s_xasprintf("%s\n", id);
        k1s_write_file_atomic(path, line, strlen(line), 0600);
        free(line);
    }
    free(path);
    return id;
}

/* A boolean flag value as Go's strconv.ParseBool reads it; -1 if it is none. */
static int parse_go_bool(const char *v)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(yes); i++) {
        if (!strcmp(v, yes[i]))
            return 1;
        if (!strcmp(v, no[i]))
            return 0;
    }
    return -1;
}

/* Applies --kube-scheduler-arg values (KEY=VALUE, kube-scheduler's flag names). */
static int scheduler_args(k1s_server_config_t *c, bool *leader_elect)
{
    for (int i = 0; c->sched_args[i]; i++) {
        const char *a = c->sched_args[i];
        while (*a == '-')
            a++;
        const char *eq = strchr(a, '=');
        if (!eq) {
            fprintf(stderr, "k1s: --kube-scheduler-arg wants KEY=VALUE, got \"%s\"\n",
                    c->sched_args[i]);
            return -1;
        }
        if ((size_t)(eq - a) != 12 || strncmp(a, "leader-elect", 12)) {
            fprintf(stderr,
                    "k1s: --kube-scheduler-arg: unknown argument \"%.*s\" (supported: "
                    "leader-elect)\n",
                    (int)(eq - a), a);
            return -1;
        }
        int b = parse_go_bool(eq + 1);
        if (b < 0) {
            fprintf(stderr,
                    "k1s: --kube-scheduler-arg leader-elect wants true or false, got "
                    "\"%s\"\n",
                    eq + 1);
            return -1;
        }
        *leader_elect = b;
    }
    return 0;
}

/* Applies --kube-controller-manager-arg values (KEY=VALUE, kube-controller-manager's flag names).
 */
static int controller_args(k1s_server_config_t *c, k1s_ctrl_opts_t *o)
{
    for (int i = 0; c->kcm_args[i]; i++) {
        const char *a = c->kcm_args[i];
        while (*a == '-')
            a++;
        const char *eq = strchr(a, '=');
        if (!eq) {
            fprintf(stderr, "k1s: --kube-controller-manager-arg wants KEY=VALUE, got \"%s\"\n",
                    c->kcm_args[i]);
            return -1;
        }
        size_t klen = (size_t)(eq - a);
        const char *v = eq + 1;
        int *ms = NULL, *num = NULL;
        if (klen == 11 && !strncmp(a, "controllers", klen)) {
            o->controllers = v;
        } else if (klen == 12 && !strncmp(a, "leader-elect", klen)) {
            int b = parse_go_bool(v);
            if (b < 0) {
                fprintf(stderr,
                        "k1s: --kube-controller-manager-arg leader-elect wants true or false, "
                        "got \"%s\"\n",
                        v);
                return -1;
            }
            o->leader_elect = b;
        } else if (klen == 25 && !strncmp(a, "node-monitor-grace-period", klen))
            ms = &o->node_monitor_grace_period_ms;
        else if (klen == 19 && !strncmp(a, "node-monitor-period", klen))
            ms = &o->node_monitor_period_ms;
        else if (klen == 27 && !strncmp(a, "terminated-pod-gc-threshold", klen))
            num = &o->terminated_pod_gc_threshold;
        else {
            fprintf(stderr,
                    "k1s: --kube-controller-manager-arg: unknown argument \"%.*s\" (supported: "
                    "controllers, leader-elect, node-monitor-grace-period, "
                    "node-monitor-period, terminated-pod-gc-threshold)\n",
                    (int)klen, a);
            return -1;
        }
        if (ms && k1s_parse_duration_ms(v, ms) < 0) {
            fprintf(
                stderr,
                "k1s: --kube-controller-manager-arg %.*s wants a duration such as 40s or 1m30s, "
                "got \"%s\"\n",
                (int)klen, a, v);
            return -1;
        }
        if (num) {
            char *end;
            long n = strtol(v, &end, 10);
            if (!*v || *end || n < 0 || n > 1000000000) {
                fprintf(stderr,
                        "k1s: --kube-controller-manager-arg %.*s wants a number, got \"%s\"\n",
                        (int)klen, a, v);
                return -1;
            }
            *num = (int)n;
        }
    }
    return 0;
}

static char *default_advertise_address(const char *bind)
{
    if (bind && strcmp(bind, "0.0.0.0") && strcmp(bind, "::"))
        return k1s_xstrdup(bind);
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0)
        return k1s_xstrdup("127.0.0.1");
    char *found = NULL;
    for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
        if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
            continue;
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
        found = k1s_xstrdup(buf);
    }
    freeifaddrs(ifs);
    return found ? found : k1s_xstrdup("127.0.0.1");
}

typedef struct signal_ctx {
    struct event_base *base;
    k1s_http_server_t *http;
} signal_ctx_t;

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    signal_ctx_t *sc = arg;
    k1s_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* HTTP/2 clients get a GOAWAY; give the loop a moment to send it */
    if (k1s_http_server_shutdown(sc->http) > 0) {
        struct timeval tv = {0, 50000};
        event_base_loopexit(sc->base, &tv);
    } else {
        event_base_loopbreak(sc->base);
    }
}

/* A static bearer token for the admin, in Kubernetes' token-file format. */
static int ensure_tokens_file(const char *path, k1s_err_t *err)
{
    if (access(path, F_OK) == 0)
        return 0;
    uint8_t raw[20];
    k1s_random_bytes(raw, sizeof(raw));
    char hex[41];
    for (int i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    char *line = k1s_xasprintf("%s,admin,admin,\"system:masters\"\n", hex);
    int r = k1s_write_file_atomic(path, line, strlen(line), 0600);
    free(line);
    if (r < 0)
        return k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
    return 0;
}

/* The embedded agent: `k1s agent` joining this server over loopback with its own token. */
static k1s_agent_proc_t *start_agent(k1s_server_config_t *c, struct event_base *base,
                                     k1s_apiserver_t *api, const char *url, const char *server_dir)
{
    char *node = NULL;
    if (c->node_name && *c->node_name) {
        node = k1s_xstrdup(c->node_name);
    } else {
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = 0;
        for (char *p = host; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        node = k1s_xstrdup(*host ? host : "localhost");
    }
    char *token_file = k1s_xasprintf("%s/token", server_dir);
    const char *argv[20 + 6 * K1S_MAX_SANS];
    int n = 0;
    argv[n++] = "--config";
    argv[n++] = "/dev/null"; /* everything comes from here */
    argv[n++] = "--server";
    argv[n++] = url;
    argv[n++] = "--token-file";
    argv[n++] = token_file;
    argv[n++] = "--data-dir";
    argv[n++] = c->data_dir;
    argv[n++] = "--node-name";
    argv[n++] = node;
    argv[n++] = "--log-level";
    argv[n++] = c->log_level;
    if (c->node_ip) {
        argv[n++] = "--node-ip";
        argv[n++] = c->node_ip;
    }
    if (c->private_registry) {
        argv[n++] = "--private-registry";
        argv[n++] = c->private_registry;
    }
    for (int i = 0; c->node_labels[i]; i++) {
        argv[n++] = "--node-label";
        argv[n++] = c->node_labels[i];
    }
    for (int i = 0; c->node_taints[i]; i++) {
        argv[n++] = "--node-taint";
        argv[n++] = c->node_taints[i];
    }
    for (int i = 0; c->kubelet_args[i]; i++) {
        argv[n++] = "--kubelet-arg";
        argv[n++] = c->kubelet_args[i];
    }
    argv[n] = NULL;
    k1s_agent_proc_t *p = k1s_agent_proc_start(base, argv, node, k1s_apiserver_handle, api);
    free(node);
    free(token_file);
    return p;
}

typedef struct ready_ctx {
    k1s_server_config_t *cfg;
    uint64_t start_ns;
    struct event *ev;
    k1s_apiserver_t *api;
} ready_ctx_t;

int k1s_server_run(k1s_server_config_t *c)
{
    uint64_t t0 = k1s_now_ns();
    k1s_err_t err = {0};
    int rc = 1;
    struct event_base *base = NULL;
    k1s_store_t *store = NULL;
    k1s_apiserver_t *api = NULL;
    k1s_http_server_t *http = NULL;
    k1s_scheduler_t *sched = NULL;
    k1s_ctrl_manager_t *cm = NULL;
    char *identity = NULL;
    k1s_join_t *join = NULL;
    k1s_agent_proc_t *agent = NULL;
    k1s_ctrl_opts_t copts;
    k1s_ctrl_opts_init(&copts);
    copts.data_dir = c->data_dir;
    copts.cluster_cidr = c->cluster_cidr;
    /* The embedded SQLite store has one server, so neither needs a Lease to run (k3s runs
     * them with --leader-elect=false there too); each flag can still turn it on. */
    copts.leader_elect = false;
    bool sched_leader_elect = false;
    if (controller_args(c, &copts) < 0 || scheduler_args(c, &sched_leader_elect) < 0)
        return 1;
    SSL_CTX *ctx = NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    char *server_dir = k1s_xasprintf("%s/server", c->data_dir);
    char *tls_dir = k1s_xasprintf("%s/tls", server_dir);
    char *db_path = k1s_xasprintf("%s/db/state.db", server_dir);
    char *cred_dir = k1s_xasprintf("%s/cred", server_dir);
    char *tokens_path = k1s_xasprintf("%s/tokens.csv", cred_dir);
    char *token = NULL;

    if (!c->advertise_address)
        c->advertise_address = default_advertise_address(c->bind_address);

    int r = k1s_mkdir_p(server_dir, 0700);
    if (r == 0)
        r = k1s_mkdir_p(cred_dir, 0700);
    if (r < 0) {
        fprintf(stderr, "k1s: cannot create data directory %s: %s%s\n", server_dir, strerror(-r),
                r == -EACCES ? " (run as root, or pass --data-dir to a directory you own)" : "");
        goto out;
    }
    chmod(server_dir, 0700);

    /* TLS: SANs are the extra --tls-san values plus the advertise address */
    const char *sans[K1S_MAX_SANS + 2];
    int ns = 0;
    for (int i = 0; c->tls_sans[i] && ns < K1S_MAX_SANS; i++)
        sans[ns++] = c->tls_sans[i];
    sans[ns++] = c->advertise_address;
    sans[ns] = NULL;
    if (k1s_pki_ensure(tls_dir, sans, &err) < 0) {
        fprintf(stderr, "k1s: cannot set up certificates in %s: %s\n", tls_dir, err.msg);
        goto out;
    }
    char *wanted_token = c->token ? k1s_xstrdup(c->token) : NULL;
    if (!wanted_token && c->token_file) {
        char *data;
        if ((r = k1s_read_file(c->token_file, &data, NULL)) < 0) {
            fprintf(stderr, "k1s: cannot read --token-file %s: %s\n", c->token_file, strerror(-r));
            goto out;
        }
        data[strcspn(data, "\r\n")] = 0;
        wanted_token = data;
    }
    r = k1s_pki_ensure_token(server_dir, wanted_token, &token, &err);
    free(wanted_token);
    if (r < 0) {
        fprintf(stderr, "k1s: token: %s\n", err.msg);
        goto out;
    }
    if (ensure_tokens_file(tokens_path, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        goto out;
    }

    base = event_base_new();
    if (!base) {
        fprintf(stderr, "k1s: cannot create the event loop\n");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);

    k1s_store_opts_t so = {.path = db_path, .history = 0, .hooks = &k1s_apiserver_store_hooks};
    if (k1s_store_open(base, &so, &store, &err) < 0) {
        fprintf(stderr, "k1s: cannot open the datastore: %s\n", err.msg);
        goto out;
    }
    k1s_apiserver_opts_t ao = {.advertise_address = c->advertise_address,
                               .advertise_port = c->https_port,
                               .service_cidr = c->service_cidr,
                               .tokens_file = tokens_path,
                               .audit_log_path = c->audit_log_path,
                               .audit_log_maxage = c->audit_log_maxage,
                               .audit_log_maxbackup = c->audit_log_maxbackup,
                               .audit_log_maxsize = c->audit_log_maxsize,
                               .tls_dir = tls_dir};
    if (k1s_apiserver_new(base, store, &ao, &api, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        goto out;
    }

    char *crt = k1s_xasprintf("%s/serving-kube-apiserver.crt", tls_dir);
    char *key = k1s_xasprintf("%s/serving-kube-apiserver.key", tls_dir);
    char *cca = k1s_xasprintf("%s/client-ca.crt", tls_dir);
    ctx = k1s_tls_server_ctx(crt, key, cca, &err);
    free(crt);
    free(key);
    free(cca);
    if (!ctx) {
        fprintf(stderr, "k1s: TLS setup failed: %s\n", err.msg);
        goto out;
    }
    /* the join endpoints (/cacerts, /v1-k1s/...) sit in front of the API */
    join = k1s_join_new(base, server_dir, token, k1s_apiserver_handle, api);
    http = k1s_http_server_new(base, ctx, NULL, k1s_join_handle, join);
    if (k1s_http_server_listen(http, c->bind_address, c->https_port, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        goto out;
    }
    k1s_apiserver_set_http(api, http);
    if (k1s_apiserver_bootstrap(api, &err) < 0) {
        fprintf(stderr, "k1s: bootstrap: %s\n", err.msg);
        goto out;
    }

    /* kubeconfig: localhost works wherever the server listens on all addresses */
    const char *host = c->bind_address;
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
        host = "127.0.0.1";
    char *url = strchr(host, ':') ? k1s_xasprintf("https://[%s]:%d", host, c->https_port)
                                  : k1s_xasprintf("https://%s:%d", host, c->https_port);
    if (c->write_kubeconfig && *c->write_kubeconfig) {
        if (k1s_pki_write_kubeconfig(c->write_kubeconfig, c->write_kubeconfig_mode, url, tls_dir,
                                     &err) < 0) {
            fprintf(stderr, "k1s: cannot write kubeconfig: %s%s\n", err.msg,
                    err.code == EACCES ? " (pass --write-kubeconfig to a path you can write)" : "");
            free(url);
            goto out;
        }
    }
    identity = server_identity(server_dir);
    if (!c->disable_scheduler)
        sched = k1s_scheduler_start(base, k1s_apiserver_handle, api,
                                    sched_leader_elect ? identity : NULL);
    if (!c->disable_controllers)
        cm = k1s_ctrl_manager_start(base, k1s_apiserver_handle, api, &copts,
                                    copts.leader_elect ? identity : NULL);
    if (!c->disable_agent)
        agent = start_agent(c, base, api, url, server_dir);
    k1s_info("k1s server %s: Kubernetes API at %s, data in %s", K1S_VERSION, url, c->data_dir);
    if (c->write_kubeconfig && *c->write_kubeconfig)
        k1s_info("admin kubeconfig written to %s", c->write_kubeconfig);
    k1s_debug("started in %.1f ms", (double)(k1s_now_ns() - t0) / 1e6);
    free(url);

    signal_ctx_t sc = {base, http};
    sigint = evsignal_new(base, SIGINT, on_signal, &sc);
    sigterm = evsignal_new(base, SIGTERM, on_signal, &sc);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    event_base_dispatch(base);
    rc = 0;

out:
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    bool had_agent = agent != NULL;
    k1s_agent_proc_stop(agent);
    /* Close every connection before the API server goes, so nothing the loop
     * still has queued reaches a freed handler. */
    k1s_http_server_free(http);
    if (sched || cm || had_agent) {
        /* canceled in-process watches are released by the loop */
        k1s_ctrl_manager_free(cm);
        k1s_scheduler_free(sched);
        event_base_loop(base, EVLOOP_NONBLOCK);
        k1s_apiserver_free(api);
        event_base_loop(base, EVLOOP_NONBLOCK);
        event_base_loop(base, EVLOOP_NONBLOCK);
    } else {
        k1s_apiserver_free(api);
    }
    k1s_store_free(store);
    k1s_join_free(join);
    if (ctx)
        SSL_CTX_free(ctx);
    if (base)
        event_base_free(base);
    free(token);
    free(server_dir);
    free(tls_dir);
    free(db_path);
    free(cred_dir);
    free(tokens_path);
    free(identity);
    return rc;
}
