/*
 * Flags, environment and config file for the long-running subcommands (see
 * opts.h). Values are checked as they are set, with a message naming where
 * the bad value came from.
 */
#include "cli/opts.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/yaml.h"

void k1s_opts_usage(const k1s_opts_cmd_t *cmd, FILE *f)
{
    fprintf(f, "Usage: k1s %s [OPTIONS]\n\n%s\n\nOptions:\n", cmd->name, cmd->summary);
    for (size_t i = 0; i < cmd->nopts; i++) {
        const k1s_opt_t *o = &cmd->opts[i];
        char names[64];
        if (o->alias)
            snprintf(names, sizeof(names), "--%s, -%s", o->name, o->alias);
        else
            snprintf(names, sizeof(names), "--%s", o->name);
        if (o->env)
            fprintf(f, "  %-28s %s [$%s]\n", names, o->help, o->env);
        else
            fprintf(f, "  %-28s %s\n", names, o->help);
    }
}

static const k1s_opt_t *find_opt(const k1s_opts_cmd_t *cmd, const char *name)
{
    for (size_t i = 0; i < cmd->nopts; i++) {
        const k1s_opt_t *o = &cmd->opts[i];
        if (!strcmp(o->name, name) || (o->alias && !strcmp(o->alias, name)))
            return o;
    }
    return NULL;
}

/* Sets one option from a string value; 0 or -EINVAL with a message printed. */
static int set_opt(void *c, const k1s_opt_t *o, const char *value, const char *origin)
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
        if (n >= K1S_OPT_MAX_LIST) {
            fprintf(stderr, "k1s: %s: too many --%s values (at most %d)\n", origin, o->name,
                    K1S_OPT_MAX_LIST);
            return -EINVAL;
        }
        list[n] = k1s_xstrdup(value);
        return 0;
    }
    }
    return -EINVAL;
}

static int load_config(const k1s_opts_cmd_t *cmd, void *c, const char *path, bool must_exist)
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
        const k1s_opt_t *o = find_opt(cmd, k);
        if (!o || o->offset == (size_t)-1) {
            fprintf(stderr, "k1s: config file %s: unknown option \"%s\" (see k1s %s --help)\n",
                    path, k, cmd->name);
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

int k1s_opts_parse(const k1s_opts_cmd_t *cmd, void *cfg, int argc, char **argv)
{
    const char *config_path = "/etc/k1s/config.yaml";
    bool config_given = false;
    /* first pass: --config and --help */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            k1s_opts_usage(cmd, stdout);
            return 1;
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
    /* the environment, then the config file, then the command line */
    for (size_t i = 0; i < cmd->nopts; i++) {
        const k1s_opt_t *o = &cmd->opts[i];
        const char *v = o->env ? getenv(o->env) : NULL;
        if (v && *v) {
            char origin[128];
            snprintf(origin, sizeof(origin), "environment variable %s", o->env);
            if (set_opt(cfg, o, v, origin) < 0)
                return 2;
        }
    }
    if (load_config(cmd, cfg, config_path, config_given) < 0)
        return 2;
    bool *from_flags = k1s_xcalloc(cmd->nopts, sizeof(bool));
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            fprintf(stderr, "k1s: unexpected argument \"%s\" (see k1s %s --help)\n", a, cmd->name);
            rc = 2;
            break;
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
        const k1s_opt_t *o = find_opt(cmd, name);
        if (!o) {
            fprintf(stderr, "k1s: unknown flag %s (see k1s %s --help)\n", a, cmd->name);
            rc = 2;
            break;
        }
        if (!value) {
            if (o->kind == OPT_BOOL)
                value = "true";
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                fprintf(stderr, "k1s: flag --%s needs a value\n", o->name);
                rc = 2;
                break;
            }
        }
        if (o->offset == (size_t)-1)
            continue; /* --config, handled above */
        /* a list given on the command line replaces the config file's */
        size_t oi = (size_t)(o - cmd->opts);
        if (o->kind == OPT_LIST && !from_flags[oi]) {
            char **list = (char **)((char *)cfg + o->offset);
            for (int k = 0; list[k]; k++) {
                free(list[k]);
                list[k] = NULL;
            }
            from_flags[oi] = true;
        }
        if (set_opt(cfg, o, value, "command line") < 0)
            rc = 2;
    }
    free(from_flags);
    return rc;
}
