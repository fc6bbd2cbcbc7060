/* `k1s server`: placeholder until the server lands in this change. */
#include <stdio.h>

#include "cli/cli.h"

int k1s_cmd_server(int argc, char **argv)
{
    fprintf(stderr, "k1s: server not built yet\n");
    return 1;
}
