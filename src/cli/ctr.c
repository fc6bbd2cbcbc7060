/*
 * `k1s ctr`: the node-local runtime tool (the ctr/crictl role). It works on
 * the agent's data directory directly, so it also works while the agent is
 * down. Each group of subcommands lives in its own file; this file only
 * dispatches.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} subcommands[] = {
    {"net", k1s_cmd_ctr_net, "Pod network: CNI add/del/check, network namespaces (debugging)"},
    {"images", k1s_ctr_images, "Pull, list, import, inspect and remove images"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: k1s ctr SUBCOMMAND [OPTIONS]\n\nSubcommands:\n");
    for (size_t i = 0; subcommands[i].name; i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].help);
    fprintf(f, "\nRun 'k1s ctr SUBCOMMAND --help' for a subcommand's options.\n");
}

int k1s_cmd_ctr(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; subcommands[i].name; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "k1s ctr: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
