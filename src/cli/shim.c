/*
 * `k1s shim`: internal. The runtime library starts one per container (see
 * src/runtime/shim.h); it is not meant to be run by hand.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "runtime/shim.h"

int k1s_cmd_shim(int argc, char **argv)
{
    k1s_rt_shim_opts_t o = {.ready_fd = -1};
    static const struct option longopts[] = {
        {"id", required_argument, NULL, 'i'},
        {"bundle", required_argument, NULL, 'b'},
        {"state", required_argument, NULL, 's'},
        {"log", required_argument, NULL, 'l'},
        {"runtime", required_argument, NULL, 'r'},
        {"runtime-root", required_argument, NULL, 'R'},
        {"log-max-size", required_argument, NULL, 'S'},
        {"log-max-files", required_argument, NULL, 'F'},
        {"ready-fd", required_argument, NULL, 'f'},
        {"stdin", no_argument, NULL, 'I'},
        {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': o.id = optarg; break;
        case 'b': o.bundle = optarg; break;
        case 's': o.state_dir = optarg; break;
        case 'l': o.log_path = optarg; break;
        case 'r': o.runtime = optarg; break;
        case 'R': o.runtime_root = optarg; break;
        case 'S': o.log_max_size = atoll(optarg); break;
        case 'F': o.log_max_files = atoi(optarg); break;
        case 'f': o.ready_fd = atoi(optarg); break;
        case 'I': o.stdin_open = true; break;
        case 'd': k1s_log_set_level("debug"); break;
        case 'h':
            printf("Usage: k1s shim --id ID --bundle DIR --state DIR --log FILE [--runtime runc]\n"
                   "  [--runtime-root DIR] [--log-max-size BYTES] [--log-max-files N]\n"
                   "  [--ready-fd FD] [--stdin]\n\n"
                   "Internal: the per-container process that the node agent starts.\n");
            return 0;
        default: return 2;
        }
    }
    if (!o.id || !o.bundle || !o.state_dir || !o.log_path) {
        fprintf(stderr, "k1s shim: --id, --bundle, --state and --log are required\n");
        return 2;
    }
    int rc = k1s_rt_shim_main(&o);
    /* A running shim has unmapped the libraries it does not call (shim-trim.c): exit()
     * would run their destructors. */
    fflush(NULL);
    _exit(rc);
}
