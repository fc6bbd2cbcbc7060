/*
 * Named, persistent network namespaces for pods (the role of containerd's
 * pkg/netns and `ip netns add`).
 *
 * A pod's namespace is a file under a runtime directory (by default
 * /run/k1s/netns/cni-<uuid>) onto which a child process bind-mounts its own
 * new network namespace before it exits. The bind mount keeps the namespace
 * alive with no process in it, so CNI plugins and the OCI runtime can join it
 * by path and the pod's network outlives agent restarts. No thread of the
 * calling process ever changes namespace: the unshare happens in a short-lived
 * child, so the function is safe to call from the agent's event loop: it
 * forks and waits for the child, about a millisecond in all.
 *
 * Mounts made here live in the caller's mount namespace: callers that run in
 * a private mount namespace (`ip netns exec`) see them vanish with it.
 */
#ifndef K1S_NETWORK_NETNS_H
#define K1S_NETWORK_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define K1S_NETNS_DIR_DEFAULT "/run/k1s/netns"

/*
 * Creates a new network namespace and pins it at dir/name (dir NULL: the
 * default directory; name NULL: "cni-<uuid>", as containerd names them). The
 * directory is created (0711) if missing; an existing file of that name is an
 * error (EEXIST). On success *path_out is a new string the caller frees. On
 * failure nothing is left behind and err says what failed ("create network
 * namespace /run/k1s/netns/cni-...: mount: Permission denied").
 */
int k1s_netns_create(const char *dir, const char *name, char **path_out, k1s_err_t *err);

/*
 * Removes a namespace made by k1s_netns_create: detaches the bind mount and
 * unlinks the file. The namespace itself goes away once no process and no
 * open fd refers to it. A path that does not exist, or that is a plain file
 * (half-made), is fine: removal is idempotent. 0 or -errno with err set.
 */
int k1s_netns_remove(const char *path, k1s_err_t *err);

/* True if path is a mounted network namespace (nsfs), false otherwise. */
bool k1s_netns_is_mounted(const char *path);

/*
 * Lists the names of the entries of dir (NULL: the default) in sorted order:
 * *names_out is a new NULL-terminated array of new strings, free it with
 * k1s_netns_names_free. A missing directory gives an empty list. 0 or -errno.
 */
int k1s_netns_list(const char *dir, char ***names_out, size_t *n_out, k1s_err_t *err);
void k1s_netns_names_free(char **names);

/*
 * Removes every namespace in dir (NULL: the default) for which keep (if
 * non-NULL) returns false, e.g. the leftovers of pods that no longer exist
 * after an agent restart. Returns the number removed, or -errno for the first
 * failure (the others are still tried).
 */
int k1s_netns_cleanup(const char *dir, bool (*keep)(const char *path, void *ud), void *ud,
                      k1s_err_t *err);

#endif
