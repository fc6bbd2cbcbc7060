/*
 * subPath mounts made safe as kubelet makes them (pkg/volume/util/subpath):
 * a container may have put symlinks in a shared volume, so the subPath is
 * opened beneath the volume's root with openat2(RESOLVE_BENEATH) (a path
 * that leaves the volume fails), missing directories are made one at a time
 * without following symlinks, and what was opened is bind-mounted through
 * its /proc/self/fd link onto <pod_dir>/volume-subpaths/..., which is what
 * the runtime mounts into the container. A symlink swapped in after the
 * check changes nothing: the mount is of the inode already opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/kubelet-int.h"
#include "lib/log.h"

static int open_beneath(int dirfd, const char *path, int flags)
{
    struct open_how how = {.flags = (uint64_t)(O_PATH | O_CLOEXEC | flags),
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Makes the missing directories of sub under rootfd, each with mode and group gid (the
 * volume root's, as kubelet does, so that an fsGroup can write there). */
static int make_dirs(int rootfd, const char *sub, mode_t mode, gid_t gid, k1s_err_t *err)
{
    char *copy = k1s_xstrdup(sub), *save = NULL;
    int cur = dup(rootfd), r = 0;
    for (char *c = strtok_r(copy, "/", &save); c && r == 0; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        int next = open_beneath(cur, c, O_DIRECTORY);
        if (next < 0 && errno == ENOENT) {
            if (mkdirat(cur, c, mode) < 0 && errno != EEXIST) {
                r = k1s_err_set(err, errno, "create directory %s of subPath %s: %s", c, sub,
                                strerror(errno));
                break;
            }
            if (fchownat(cur, c, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                fchmodat(cur, c, mode, 0) < 0)
                k1s_debug("kubelet: subPath %s: set mode of %s: %s", sub, c, strerror(errno));
            next = open_beneath(cur, c, O_DIRECTORY);
        }
        if (next < 0) {
            r = k1s_err_set(err, errno, "subPath %s: %s: %s", sub, c,
                            errno == EXDEV ? "leads outside the volume" : strerror(errno));
            break;
        }
        close(cur);
        cur = next;
    }
    close(cur);
    free(copy);
    return r;
}

int k1s_subpath_prepare(const char *root, const char *sub, const char *target, k1s_err_t *err)
{
    int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return k1s_err_set(err, errno, "open volume %s: %s", root, strerror(errno));
    struct stat rst, st;
    int r = 0, fd = -1;
    if (fstat(rootfd, &rst) < 0) {
        r = k1s_err_set(err, errno, "stat %s: %s", root, strerror(errno));
        goto out;
    }
    fd = open_beneath(rootfd, sub, 0);
    if (fd < 0 && errno == ENOSYS) {
        r = k1s_err_set(err, ENOSYS, "subPath needs openat2 (Linux 5.6 or newer) on this node");
        goto out;
    }
    if (fd < 0 && errno == ENOENT) {
        if ((r = make_dirs(rootfd, sub, rst.st_mode & 07777, rst.st_gid, err)) < 0)
            goto out;
        fd = open_beneath(rootfd, sub, 0);
    }
    if (fd < 0) {
        r = k1s_err_set(err, errno, "subPath %s: %s", sub,
                        errno == EXDEV ? "leads outside the volume (through a symlink?)"
                                       : strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        r = k1s_err_set(err, errno, "stat subPath %s: %s", sub, strerror(errno));
        goto out;
    }
    /* the mount point: a directory or an empty file, like what it will show */
    char *dir = k1s_xstrdup(target);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    k1s_mkdir_p(dir, 0750);
    free(dir);
    if (umount2(target, MNT_DETACH) == 0)
        k1s_debug("kubelet: replaced the subPath mount on %s", target);
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(target, 0750) < 0 && errno != EEXIST) {
            r = k1s_err_set(err, errno, "mkdir %s: %s", target, strerror(errno));
            goto out;
        }
    } else {
        int tf = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (tf < 0) {
            r = k1s_err_set(err, errno, "create %s: %s", target, strerror(errno));
            goto out;
        }
        close(tf);
    }
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (mount(proc, target, NULL, MS_BIND, NULL) < 0)
        r = k1s_err_set(err, errno, "bind subPath %s of %s on %s: %s", sub, root, target,
                        strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    close(rootfd);
    return r;
}
