/*
 * The node's pod egress masquerade (see k1s_cni_masq_ensure in cni.h): one
 * chain for all of the node's pods, written once when the agent starts,
 * instead of the bridge plugin's ipMasq, which execs iptables about nine
 * times for every pod added and five for every pod deleted (a chain and two
 * rules per pod IP). flannel does the same with --ip-masq: a rule per node,
 * not per pod.
 *
 * The chain K1S-POSTRTG in the nat table holds, per pod CIDR: traffic that
 * stays in the node's pod network returns untouched, traffic from it to
 * anywhere else but multicast is masqueraded, which is what the bridge
 * plugin's per-pod rules do. It is written with iptables-restore --noflush
 * (the chain is replaced as a whole, other chains are left alone); POSTROUTING
 * gets one jump to it. iptables and ip6tables are the binaries the bridge
 * plugin itself would run.
 */
#include "network/cni.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

extern char **environ;

#define MASQ_CHAIN "K1S-POSTRTG"
#define MASQ_COMMENT "k1s: masquerade traffic leaving the node's pod network"

static const char *find_tool(const char *name, char buf[64])
{
    static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(dirs); i++) {
        snprintf(buf, 64, "%s/%s", dirs[i], name);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

/* Runs argv with input on stdin (NULL: none); returns the exit status (0-255) or -errno, with
 * what the tool said on stderr in out_err (new string) when it failed. */
static int run_tool(char *const argv[], const char *input, char **out_err)
{
    int in[2] = {-1, -1}, errp[2];
    if ((input && pipe2(in, O_CLOEXEC) < 0) || pipe2(errp, O_CLOEXEC) < 0) {
        int e = errno;
        if (in[0] >= 0) {
            close(in[0]);
            close(in[1]);
        }
        return -e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (input)
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (input)
        close(in[0]);
    close(errp[1]);
    if (r != 0) {
        if (input)
            close(in[1]);
        close(errp[0]);
        return -r;
    }
    if (input) {
        /* the rules are a few hundred bytes: well within a pipe's buffer */
        size_t len = strlen(input);
        ssize_t w = write(in[1], input, len);
        (void)w;
        close(in[1]);
    }
    k1s_buf_t msg = K1S_BUF_INIT;
    char buf[512];
    ssize_t n;
    while ((n = read(errp[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && msg.len < 4096)
            k1s_buf_append(&msg, buf, (size_t)n);
    close(errp[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            k1s_buf_free(&msg);
            return -errno;
        }
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (rc && out_err) {
        k1s_buf_putc(&msg, 0);
        char *m = k1s_buf_steal(&msg);
        for (size_t i = strlen(m); i > 0 && (m[i - 1] == '\n' || m[i - 1] == ' '); i--)
            m[i - 1] = 0;
        *out_err = m;
    } else {
        k1s_buf_free(&msg);
    }
    return rc;
}

/* The chain and its jump for one family's CIDR. */
static int ensure_one(const char *cidr, bool v6, k1s_err_t *err)
{
    char tool[64], restore[64];
    const char *name = v6 ? "ip6tables" : "iptables";
    if (!find_tool(name, tool) ||
        !find_tool(v6 ? "ip6tables-restore" : "iptables-restore", restore))
        return k1s_err_set(err, ENOENT,
                           "%s is not installed (Debian: apt-get install iptables); pods cannot "
                           "reach beyond the node without it",
                           name);
    _k1s_cleanup_free_ char *rules = k1s_xasprintf(
        "*nat\n:" MASQ_CHAIN " - [0:0]\n"
        "-A " MASQ_CHAIN " -s %s -d %s -m comment --comment \"" MASQ_COMMENT "\" -j RETURN\n"
        "-A " MASQ_CHAIN " -s %s ! -d %s -m comment --comment \"" MASQ_COMMENT
        "\" -j MASQUERADE\nCOMMIT\n",
        cidr, cidr, cidr, v6 ? "ff00::/8" : "224.0.0.0/4");
    char *said = NULL;
    char *rargv[] = {restore, "--noflush", "--wait", NULL};
    int rc = run_tool(rargv, rules, &said);
    if (rc != 0) {
        k1s_err_set(err, rc < 0 ? -rc : EIO, "%s --noflush: %s", restore,
                    rc < 0          ? strerror(-rc)
                    : said && *said ? said
                                    : "failed");
        free(said);
        return -EIO;
    }
    char *check[] = {tool,      "--wait",    "-t",         "nat", "-C",       "POSTROUTING", "-m",
                     "comment", "--comment", MASQ_COMMENT, "-j",  MASQ_CHAIN, NULL};
    if (run_tool(check, NULL, NULL) == 0)
        return 0;
    check[4] = "-A";
    rc = run_tool(check, NULL, &said);
    if (rc != 0) {
        k1s_err_set(err, rc < 0 ? -rc : EIO, "%s -t nat -A POSTROUTING: %s", tool,
                    rc < 0          ? strerror(-rc)
                    : said && *said ? said
                                    : "failed");
        free(said);
        return -EIO;
    }
    return 0;
}

int k1s_cni_masq_ensure(const char *pod_cidr, k1s_err_t *err)
{
    const char *p = pod_cidr ? pod_cidr : "";
    do {
        size_t n = strcspn(p, ",");
        char cidr[80];
        if (n == 0 || n >= sizeof(cidr))
            return k1s_err_set(err, EINVAL, "pod CIDR \"%s\" is not a CIDR list",
                               pod_cidr ? pod_cidr : "");
        memcpy(cidr, p, n);
        cidr[n] = 0;
        int r = ensure_one(cidr, strchr(cidr, ':') != NULL, err);
        if (r < 0)
            return k1s_err_prefix(err, "masquerade for pod CIDR %s", cidr);
        p += n;
    } while (*p++ == ',');
    k1s_debug("cni: pods of %s are masqueraded by chain " MASQ_CHAIN, pod_cidr);
    return 0;
}
