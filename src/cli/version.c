/* `k1s version`: prints the k1s version and the Kubernetes version it serves. */
#include <stdio.h>

#include "api/version.h"
#include "cli/cli.h"

int k1s_cmd_version(int argc, char **argv)
{
    printf("k1s version %s (Kubernetes %s)\n", K1S_VERSION, K1S_KUBE_VERSION);
    return 0;
}
