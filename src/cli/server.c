/*
 * `k1s server [flags]`: parses flags (k3s's names) and the config file
 * (--config, default /etc/k1s/config.yaml, with the same keys as the flags,
 * e.g. `https-listen-port: 7443`, `tls-san: [a, b]`), then runs the server.
 * Flags given on the command line win over the config file.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "lib/yaml.h"
#include "server/server.h"

typedef enum { OPT_STR, OPT_INT, OPT_MODE, OPT_BOOL, OPT_LIST } opt_kind_t;

typedef struct opt {
    const char *name;
    const char *alias;
    opt_kind_t kind;
    size_t offset;
    const char *help;
} opt_t;

#define OFF(f) offsetof(k1s_server_config_t, f)

static const opt_t opts[] = {
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
    {"disable-scheduler", NULL, OPT_BOOL, OFF(disable_scheduler),
     "Do not run the embedded scheduler"},
    {"disable-controllers", NULL, OPT_BOOL, OFF(disable_controllers),
     "Do not run the embedded controllers (Deployments, Jobs, ... are not reconciled)"},
    {"kube-controller-manager-arg", NULL, OPT_LIST, OFF(kcm_args),
     "Controller setting KEY=VALUE (repeatable): controllers, node-monitor-grace-period, "
     "node-monitor-period, terminated-pod-gc-threshold"},
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

static void usage(FILE *f)
{
    fprintf(f, "Usage: k1s server [OPTIONS]\n\nRun the Kubernetes API server.\n\nOptions:\n");
    for (size_t i = 0; i < K1S_ARRAY_SIZE(opts); i++) {
        char names[64];
        if (opts[i].alias)
            snprintf(names, sizeof(names), "--%s, -%s", opts[i].name, opts[i].alias);
        else
            snprintf(names, sizeof(names), "--%s", opts[i].name);
        fprintf(f, "  %-28s %s\n", names, opts[i].help);
    }
}

static const opt_t *find_opt(const char *name)
{
    for (size_t i = 0; i < K1S_ARRAY_SIZE(opts); i++)
        if (!strcmp(opts[i].name, name) || (opts[i].alias && !strcmp(opts[i].alias, name)))
            return &opts[i];
    return NULL;
}

/* Sets one option from a string value; 0 or -EINVAL with a message printed. */
static int set_opt(k1s_server_config_t *c, const opt_t *o, const char *value, const char *origin)
{
    void *field = (char *)c + o->offset;
    char *end;
    switch (o->kind) {
    case OPT_STR:
        free(*(char **)field);
        *(char **)field = k1s_xstrdup(value);
        return 0;
    case OPT_INT: {
        long v = strtol(value, &end, 10);
        if (!*value || *end || v < 0 || v > 65535) {
            fprintf(stderr, "k1s: %s: --%s wants a port number, got \"%s\"\n", origin, o->name,
                    value);
            return -EINVAL;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_MODE: {
        long v = strtol(value, &end, 8);
        if (!*value || *end || v < 0 || v > 0777) {
            fprintf(stderr, "k1s: %s: --%s wants an octal file mode such as 0644, got \"%s\"\n",
                    origin, o->name, value);
            return -EINVAL;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1"))
            *(bool *)field = true;
        else if (!strcmp(value, "false") || !strcmp(value, "0"))
            *(bool *)field = false;
        else {
            fprintf(stderr, "k1s: %s: --%s wants true or false, got \"%s\"\n", origin, o->name,
                    value);
            return -EINVAL;
        }
        return 0;
    case OPT_LIST: {
        char **list = (char **)field;
        int n = 0;
        while (list[n])
            n++;
        if (n >= K1S_MAX_SANS) {
            fprintf(stderr, "k1s: %s: too many --%s values (at most %d)\n", origin, o->name,
                    K1S_MAX_SANS);
            return -EINVAL;
        }
        list[n] = k1s_xstrdup(value);
        return 0;
    }
    }
    return -EINVAL;
}

static int load_config(k1s_server_config_t *c, const char *path, bool must_exist)
{
    char *data;
    size_t len;
    int r = k1s_read_file(path, &data, &len);
    if (r == -ENOENT && !must_exist)
        return 0;
    if (r < 0) {
        fprintf(stderr, "k1s: cannot read config file %s: %s\n", path, strerror(-r));
        return r;
    }
    json_t *doc = NULL;
    k1s_err_t err = {0};
    r = k1s_yaml_to_json(data, len, &doc, &err);
    free(data);
    if (r < 0) {
        fprintf(stderr, "k1s: config file %s: %s\n", path, err.msg);
        return r;
    }
    if (json_is_null(doc)) {
        json_decref(doc);
        return 0;
    }
    if (!json_is_object(doc)) {
        fprintf(stderr, "k1s: config file %s: expected a mapping of option names to values\n",
                path);
        json_decref(doc);
        return -EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        const opt_t *o = find_opt(k);
        if (!o || o->offset == (size_t)-1) {
            fprintf(stderr, "k1s: config file %s: unknown option \"%s\" (see k1s server --help)\n",
                    path, k);
            json_decref(doc);
            return -EINVAL;
        }
        json_t *items = json_is_array(v) ? v : NULL;
        size_t n = items ? json_array_size(items) : 1;
        if (items && o->kind != OPT_LIST) {
            fprintf(stderr, "k1s: config file %s: \"%s\" takes a single value\n", path, k);
            json_decref(doc);
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *item = items ? json_array_get(items, i) : v;
            char buf[64];
            const char *s;
            if (json_is_string(item))
                s = json_string_value(item);
            else if (json_is_integer(item)) {
                /* YAML 1.1 reads 0644 as the octal number 420; 644 stays decimal */
                long long iv = (long long)json_integer_value(item);
                if (o->kind == OPT_MODE && iv >= 0 && iv <= 0777)
                    snprintf(buf, sizeof(buf), "%llo", iv);
                else
                    snprintf(buf, sizeof(buf), "%lld", iv);
                s = buf;
            } else if (json_is_boolean(item))
                s = json_is_true(item) ? "true" : "false";
            else {
                fprintf(stderr, "k1s: config file %s: \"%s\" has a value of the wrong type\n", path,
                        k);
                json_decref(doc);
                return -EINVAL;
            }
            char origin[512];
            snprintf(origin, sizeof(origin), "config file %s", path);
            if (set_opt(c, o, s, origin) < 0) {
                json_decref(doc);
                return -EINVAL;
            }
        }
    }
    json_decref(doc);
    return 0;
}

int k1s_cmd_server(int argc, char **argv)
{
    k1s_server_config_t cfg;
    k1s_server_config_init(&cfg);
    const char *config_path = "/etc/k1s/config.yaml";
    bool config_given = false;
    /* first pass: --config and --help */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            k1s_server_config_free(&cfg);
            return 0;
        }
        if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) {
            if (i + 1 < argc) {
                config_path = argv[i + 1];
                config_given = true;
            }
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config_path = argv[i] + 9;
            config_given = true;
        }
    }
    if (load_config(&cfg, config_path, config_given) < 0) {
        k1s_server_config_free(&cfg);
        return 1;
    }
    /* the config file's list values are replaced, not extended, by flags */
    unsigned lists_from_flags = 0; /* bit i: option i was given on the command line */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            fprintf(stderr, "k1s: unexpected argument \"%s\" (see k1s server --help)\n", a);
            k1s_server_config_free(&cfg);
            return 2;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        char namebuf[64];
        const char *value = NULL;
        const char *eq = strchr(name, '=');
        if (eq) {
            snprintf(namebuf, sizeof(namebuf), "%.*s", (int)(eq - name), name);
            name = namebuf;
            value = eq + 1;
        }
        const opt_t *o = find_opt(name);
        if (!o) {
            fprintf(stderr, "k1s: unknown flag %s (see k1s server --help)\n", a);
            k1s_server_config_free(&cfg);
            return 2;
        }
        if (!value) {
            if (o->kind == OPT_BOOL)
                value = "true";
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                fprintf(stderr, "k1s: flag --%s needs a value\n", o->name);
                k1s_server_config_free(&cfg);
                return 2;
            }
        }
        if (o->offset == (size_t)-1)
            continue; /* --config, handled above */
        /* a list given on the command line replaces the config file's */
        size_t oi = (size_t)(o - opts);
        if (o->kind == OPT_LIST && !(lists_from_flags & (1u << oi))) {
            char **list = (char **)((char *)&cfg + o->offset);
            for (int k = 0; list[k]; k++) {
                free(list[k]);
                list[k] = NULL;
            }
            lists_from_flags |= 1u << oi;
        }
        if (set_opt(&cfg, o, value, "command line") < 0) {
            k1s_server_config_free(&cfg);
            return 2;
        }
    }
    if (k1s_log_set_level(cfg.log_level) < 0) {
        fprintf(stderr,
                "k1s: --log-level wants one of error, warn, info, debug, trace; got \"%s\"\n",
                cfg.log_level);
        k1s_server_config_free(&cfg);
        return 2;
    }
    int rc = k1s_server_run(&cfg);
    k1s_server_config_free(&cfg);
    return rc;
}
