/*
 * Named network namespaces: a forked child unshares a new network namespace
 * and bind-mounts /proc/self/ns/net onto a file, then exits; see netns.h.
 */
#include "network/netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

enum { STEP_UNSHARE = 1, STEP_MOUNT = 2 };

/* Runs in the child: only async-signal-safe calls. */
static _Noreturn void child_make_ns(const char *path, int report_fd)
{
    int msg[2] = {0, 0};
    if (unshare(CLONE_NEWNET) < 0) {
        msg[0] = STEP_UNSHARE;
        msg[1] = errno;
    } else if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0) {
        msg[0] = STEP_MOUNT;
        msg[1] = errno;
    }
    if (msg[0] && write(report_fd, msg, sizeof(msg)) < 0)
        _exit(2);
    _exit(msg[0] ? 1 : 0);
}

int k1s_netns_create(const char *dir, const char *name, char **path_out, k1s_err_t *err)
{
    if (!dir)
        dir = K1S_NETNS_DIR_DEFAULT;
    char gen[48];
    if (!name) {
        char uuid[37];
        k1s_uuid4(uuid);
        snprintf(gen, sizeof(gen), "cni-%s", uuid);
        name = gen;
    }
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return k1s_err_set(err, EINVAL, "create network namespace: invalid name '%s'", name);
    int r = k1s_mkdir_p(dir, 0711);
    if (r < 0)
        return k1s_err_set(err, -r, "create network namespace: create directory %s: %s", dir,
                           strerror(-r));
    _k1s_cleanup_free_ char *path = k1s_xasprintf("%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return k1s_err_set(err, errno, "create network namespace %s: %s", path, strerror(errno));
    close(fd);

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        r = k1s_err_set(err, errno, "create network namespace %s: pipe: %s", path, strerror(errno));
        unlink(path);
        return r;
    }
    pid_t pid = fork();
    if (pid < 0) {
        r = k1s_err_set(err, errno, "create network namespace %s: fork: %s", path, strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        unlink(path);
        return r;
    }
    if (pid == 0) {
        close(pipefd[0]);
        child_make_ns(path, pipefd[1]);
    }
    close(pipefd[1]);
    int msg[2] = {0, 0};
    ssize_t got;
    do
        got = read(pipefd[0], msg, sizeof(msg));
    while (got < 0 && errno == EINTR);
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got == (ssize_t)sizeof(msg) && msg[0]) {
        r = k1s_err_set(err, msg[1], "create network namespace %s: %s: %s%s", path,
                        msg[0] == STEP_UNSHARE ? "unshare" : "mount", strerror(msg[1]),
                        msg[1] == EPERM ? " (k1s must run as root with CAP_SYS_ADMIN)" : "");
        unlink(path);
        return r;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !k1s_netns_is_mounted(path)) {
        r = k1s_err_set(err, EIO, "create network namespace %s: helper process failed", path);
        k1s_netns_remove(path, NULL);
        return r;
    }
    k1s_debug("netns: created %s", path);
    *path_out = path;
    path = NULL;
    return 0;
}

bool k1s_netns_is_mounted(const char *path)
{
    struct statfs st;
    return statfs(path, &st) == 0 && (unsigned long)st.f_type == (unsigned long)NSFS_MAGIC;
}

int k1s_netns_remove(const char *path, k1s_err_t *err)
{
    /* A namespace bind-mounted more than once (a crash between two tries) has
     * stacked mounts: detach until none is left. */
    for (int i = 0; i < 16; i++) {
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            continue;
        if (errno == EINVAL || errno == ENOENT)
            break;
        return k1s_err_set(err, errno, "remove network namespace %s: unmount: %s", path,
                           strerror(errno));
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return k1s_err_set(err, errno, "remove network namespace %s: %s", path, strerror(errno));
    k1s_debug("netns: removed %s", path);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int k1s_netns_list(const char *dir, char ***names_out, size_t *n_out, k1s_err_t *err)
{
    if (!dir)
        dir = K1S_NETNS_DIR_DEFAULT;
    size_t n = 0, cap = 8;
    char **names = k1s_xcalloc(cap + 1, sizeof(*names));
    DIR *d = opendir(dir);
    if (!d && errno != ENOENT) {
        int r = k1s_err_set(err, errno, "list network namespaces in %s: %s", dir, strerror(errno));
        free(names);
        return r;
    }
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap *= 2;
            names = k1s_xrealloc(names, (cap + 1) * sizeof(*names));
        }
        names[n++] = k1s_xstrdup(de->d_name);
    }
    if (d)
        closedir(d);
    names[n] = NULL;
    qsort(names, n, sizeof(*names), cmp_names);
    *names_out = names;
    if (n_out)
        *n_out = n;
    return 0;
}

void k1s_netns_names_free(char **names)
{
    if (!names)
        return;
    for (char **p = names; *p; p++)
        free(*p);
    free(names);
}

int k1s_netns_cleanup(const char *dir, bool (*keep)(const char *path, void *ud), void *ud,
                      k1s_err_t *err)
{
    if (!dir)
        dir = K1S_NETNS_DIR_DEFAULT;
    char **names;
    int r = k1s_netns_list(dir, &names, NULL, err);
    if (r < 0)
        return r;
    int removed = 0, first = 0;
    for (char **p = names; *p; p++) {
        _k1s_cleanup_free_ char *path = k1s_xasprintf("%s/%s", dir, *p);
        if (keep && keep(path, ud))
            continue;
        k1s_err_t e2 = {0};
        r = k1s_netns_remove(path, &e2);
        if (r < 0) {
            if (!first) {
                first = r;
                if (err)
                    *err = e2;
            }
            continue;
        }
        removed++;
    }
    k1s_netns_names_free(names);
    return first ? first : removed;
}
