/*
 * k1s: one binary, many roles. main() dispatches on the first argument to
 * the subcommand's file in src/cli/.
 */
#include <stdio.h>
#include <string.h>

#include "lib/jsonheap.h"
#include "cli/cli.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"server", k1s_cmd_server, "Run the Kubernetes API server (and, later, the embedded agent)"},
    {"kubectl", k1s_cmd_kubectl, "Run kubectl with the admin kubeconfig"},
    {"version", k1s_cmd_version, "Print the k1s version"},
    {"ctr", k1s_cmd_ctr, "Node-local runtime tool: images, containers, logs, exec"},
    {"agent", k1s_cmd_agent,
     "Run the node agent: join a server and register this machine as a Node"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: k1s COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nRun 'k1s COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    k1s_json_heap_init();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))
        return k1s_cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "k1s: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
