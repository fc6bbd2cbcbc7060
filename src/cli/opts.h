/*
 * The option machinery the long-running subcommands share (`k1s server`,
 * `k1s agent`): a table of options with k3s's flag names, each stored at an
 * offset in the command's config struct, filled from (lowest precedence
 * first) environment variables, the config file (--config, default
 * /etc/k1s/config.yaml, with the flags' names as keys, e.g.
 * `node-label: [a=b]`) and the command line. A list given on the command
 * line replaces the config file's.
 */
#ifndef K1S_CLI_OPTS_H
#define K1S_CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

/* Every OPT_LIST field is an array of K1S_OPT_MAX_LIST + 1 strings, NULL-terminated. */
#define K1S_OPT_MAX_LIST 32

typedef enum { OPT_STR, OPT_INT, OPT_MODE, OPT_BOOL, OPT_LIST } k1s_opt_kind_t;

typedef struct k1s_opt {
    const char *name;
    const char *alias;
    k1s_opt_kind_t kind;
    size_t offset; /* in the config struct; (size_t)-1 for --config */
    const char *help;
    const char *env; /* environment variable read as a default, or NULL */
} k1s_opt_t;

typedef struct k1s_opts_cmd {
    const char *name;    /* "server" */
    const char *summary; /* one line for --help */
    const k1s_opt_t *opts;
    size_t nopts;
} k1s_opts_cmd_t;

/* Prints the usage of cmd. */
void k1s_opts_usage(const k1s_opts_cmd_t *cmd, FILE *f);

/*
 * Fills cfg from the environment, the config file and argv (argv[0] is the
 * subcommand). Returns 0 to go on, 1 if --help was printed (exit 0), or
 * a process exit code > 1 after printing why.
 */
int k1s_opts_parse(const k1s_opts_cmd_t *cmd, void *cfg, int argc, char **argv);

#endif
