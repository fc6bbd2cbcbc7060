/*
 * The container's user and groups, resolved as containerd's CRI plugin does
 * it (oci.WithUser, WithAdditionalGIDs) in the container's own root
 * filesystem: a user name, or a uid, is looked up in the image's
 * /etc/passwd for its uid and primary group, and /etc/group adds the groups
 * that list the user as a member. The files are opened with openat2's
 * RESOLVE_IN_ROOT, so a symlink in the image cannot make the agent read the
 * node's own /etc/passwd.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/kubelet-int.h"
#include "lib/log.h"

#define MAX_FILE (4 << 20)

/* <rootfs>/<rel> without leaving rootfs; a new string, or NULL (missing, unreadable). */
static char *read_in_root(const char *rootfs, const char *rel)
{
    if (!rootfs)
        return NULL;
    int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return NULL;
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS) {
        /* kernels before 5.6: no symlinks at all on the way */
        int etc = openat(root, "etc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        const char *base = strrchr(rel, '/');
        fd = etc < 0 ? -1 : openat(etc, base ? base + 1 : rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (etc >= 0)
            close(etc);
    }
    close(root);
    if (fd < 0)
        return NULL;
    struct stat st;
    size_t cap = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < MAX_FILE
                     ? (size_t)st.st_size
                     : 0;
    char *buf = k1s_xmalloc(cap + 1);
    size_t len = 0;
    ssize_t n;
    while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = 0;
    return buf;
}

/* Splits a colon-separated line into at most max fields (in place); returns how many. */
static size_t fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    while (n < max) {
        f[n++] = line;
        char *c = strchr(line, ':');
        if (!c)
            break;
        *c = 0;
        line = c + 1;
    }
    return n;
}

static bool parse_id(const char *s, uint32_t *out)
{
    char *end;
    if (!s || !*s || *s < '0' || *s > '9')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* The passwd entry with that name (name != NULL) or that uid; fills uid, gid and the
 * name (new string). false when there is none. */
static bool passwd_find(const char *passwd, const char *name, uint32_t uid, uint32_t *uid_out,
                        uint32_t *gid_out, char **name_out)
{
    if (!passwd)
        return false;
    char *copy = k1s_xstrdup(passwd), *save = NULL;
    bool found = false;
    for (char *line = strtok_r(copy, "\n", &save); line && !found;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[7];
        uint32_t u, g;
        if (fields(line, f, 7) < 4 || !parse_id(f[2], &u) || !parse_id(f[3], &g))
            continue;
        if (name ? strcmp(f[0], name) != 0 : u != uid)
            continue;
        *uid_out = u;
        *gid_out = g;
        *name_out = k1s_xstrdup(f[0]);
        found = true;
    }
    free(copy);
    return found;
}

int k1s_podspec_user(const char *rootfs, const char *user, int64_t run_as_group,
                     k1s_ctr_user_t *out, k1s_err_t *err)
{
    memset(out, 0, sizeof(*out));
    char *passwd = read_in_root(rootfs, "etc/passwd");
    char *name = NULL;
    uint32_t uid = 0, gid = 0;
    if (parse_id(user, &uid)) {
        uint32_t u;
        if (!passwd_find(passwd, NULL, uid, &u, &gid, &name))
            gid = 0; /* a uid the image does not know: group 0, as containerd */
    } else if (!passwd_find(passwd, user, 0, &uid, &gid, &name)) {
        free(passwd);
        return k1s_err_set(err, ENOENT,
                           "unable to find user %s: no matching entries in the image's "
                           "/etc/passwd (set securityContext.runAsUser to a numeric uid)",
                           user);
    }
    free(passwd);
    if (run_as_group >= 0)
        gid = (uint32_t)run_as_group;
    out->uid = uid;
    out->gid = gid;
    /* the primary group first, as containerd has it since 1.6.18, then the groups that
     * list the user */
    size_t cap = 8;
    out->gids = k1s_xmalloc(cap * sizeof(uint32_t));
    out->gids[out->n_gids++] = gid;
    char *group = name ? read_in_root(rootfs, "etc/group") : NULL;
    char *save = NULL;
    for (char *line = group ? strtok_r(group, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[4];
        uint32_t g;
        if (fields(line, f, 4) < 4 || !parse_id(f[2], &g) || !strcmp(f[0], name))
            continue;
        char *msave = NULL;
        bool member = false;
        for (char *m = strtok_r(f[3], ",", &msave); m && !member; m = strtok_r(NULL, ",", &msave))
            member = !strcmp(m, name);
        bool dup = false;
        for (size_t i = 0; i < out->n_gids; i++)
            dup |= out->gids[i] == g;
        if (!member || dup)
            continue;
        if (out->n_gids == cap)
            out->gids = k1s_xrealloc(out->gids, (cap *= 2) * sizeof(uint32_t));
        out->gids[out->n_gids++] = g;
    }
    free(group);
    free(name);
    return 0;
}
