/*
 * `k1s kubectl ...`: runs the kubectl on PATH with KUBECONFIG pointing at
 * the admin kubeconfig (as `k3s kubectl` does), unless KUBECONFIG is set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int k1s_cmd_kubectl(int argc, char **argv)
{
    if (!getenv("KUBECONFIG"))
        setenv("KUBECONFIG", "/etc/k1s/k1s.yaml", 1);
    argv[0] = "kubectl";
    execvp("kubectl", argv);
    fprintf(stderr,
            "k1s: cannot run kubectl: %s (install it, e.g. apt-get install kubernetes-client)\n",
            strerror(errno));
    return 127;
}
