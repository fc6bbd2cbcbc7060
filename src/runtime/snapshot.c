/*
 * Snapshots: unpacking layer tarballs (tar, gzip, zstd, via libarchive) into one directory
 * per layer, keyed by chain ID, with OCI whiteouts turned into overlayfs whiteouts; and
 * mounting a chain of them as a container's root filesystem with overlayfs.
 *
 * Each layer is unpacked into an empty directory, as containerd's overlay snapshotter does:
 * `.wh.name` becomes a 0/0 character device `name`, `.wh..wh..opq` the trusted.overlay.opaque
 * xattr on its directory. Paths are cleaned and `..` refused; libarchive's secure-symlink
 * check refuses to write through a symlink, and whiteouts are made with openat(O_NOFOLLOW)
 * walks, so a layer can never write outside its directory.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "runtime/image-int.h"
#include "runtime/libs.h"
#include "runtime/snapshot.h"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)f;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

int k1s_rmtree(const char *path)
{
    if (nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* ---- unpacking ----------------------------------------------------------------------------- */

typedef struct stream {
    struct archive *outer; /* decompresses the blob ("raw" format) */
    EVP_MD_CTX *md;        /* over the uncompressed stream: the diff ID */
    char buf[64 * 1024];
    bool eof;
} stream_t;

static la_ssize_t stream_read(struct archive *a, void *ud, const void **out)
{
    (void)a;
    stream_t *s = ud;
    if (s->eof)
        return 0;
    la_ssize_t n = archive_read_data(s->outer, s->buf, sizeof(s->buf));
    if (n < 0) {
        archive_set_error(a, EIO, "%s", archive_error_string(s->outer));
        return -1;
    }
    if (n == 0)
        s->eof = true;
    EVP_DigestUpdate(s->md, s->buf, (size_t)n);
    *out = s->buf;
    return n;
}

/* Cleans a tar path: strips leading "/" and "./", drops "." components, refuses "..".
 * Returns a new string ("" for the root) or NULL. */
static char *clean_path(const char *p)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "");
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        if (n == 2 && !strncmp(p, "..", 2)) {
            k1s_buf_free(&b);
            return NULL;
        }
        if (!(n == 1 && p[0] == '.')) {
            if (b.len)
                k1s_buf_putc(&b, '/');
            k1s_buf_append(&b, p, n);
        }
        p += n;
    }
    return k1s_buf_steal(&b);
}

/* Opens directory rel under rootfd, creating missing components, never following symlinks. */
static int open_dir_nofollow(int rootfd, const char *rel)
{
    int fd = dup(rootfd);
    if (fd < 0)
        return -errno;
    char *copy = k1s_xstrdup(rel), *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        int nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT) {
            if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
                int e = -errno;
                close(fd);
                free(copy);
                return e;
            }
            nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int e = -errno;
        close(fd);
        if (nfd < 0) {
            free(copy);
            return e == -ELOOP ? -ENOTDIR : e;
        }
        fd = nfd;
    }
    free(copy);
    return fd;
}

static int whiteout(int rootfd, const char *dir, const char *base, k1s_err_t *err)
{
    int dfd = open_dir_nofollow(rootfd, dir);
    if (dfd < 0)
        return k1s_err_set(err, -dfd, "whiteout in '%s': %s", dir, strerror(-dfd));
    int r = 0;
    if (!strcmp(base, ".wh..wh..opq")) {
        if (fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
            r = k1s_err_set(err, errno, "mark '%s' opaque: %s", dir, strerror(errno));
    } else if (!strncmp(base, ".wh..wh.", 8)) {
        /* other AUFS metadata (.wh..wh.plnk, ...): nothing to do */
    } else {
        const char *name = base + 4;
        if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
            r = k1s_err_set(err, EBADMSG, "invalid whiteout '%s/%s'", dir, base);
        } else {
            unlinkat(dfd, name, 0);
            if (mknodat(dfd, name, S_IFCHR | 0, makedev(0, 0)) < 0 && errno != EEXIST)
                r = k1s_err_set(err, errno, "whiteout '%s/%s': %s", dir, name, strerror(errno));
        }
    }
    close(dfd);
    return r;
}

int k1s_layer_unpack(const char *blob_path, const char *dir, char diff_id[72], uint64_t *bytes,
                     uint64_t *inodes, k1s_err_t *err)
{
    int r = k1s_rt_archive_load(err);
    if (r < 0)
        return r;
    stream_t *s = k1s_xcalloc(1, sizeof(*s));
    struct archive *in = NULL, *ext = NULL;
    struct archive_entry *e;
    int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        r = k1s_err_set(err, errno, "open %s: %s", dir, strerror(errno));
        free(s);
        return r;
    }
    *bytes = *inodes = 0;
    s->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
    s->outer = archive_read_new();
    archive_read_support_filter_all(s->outer);
    archive_read_support_format_raw(s->outer);
    struct stat sb;
    if (stat(blob_path, &sb) < 0) {
        r = k1s_err_set(err, errno, "open %s: %s", blob_path, strerror(errno));
        goto out;
    }
    if (sb.st_size == 0) { /* an empty layer */
        s->eof = true;
        goto done;
    }
    if (archive_read_open_filename(s->outer, blob_path, 64 * 1024) != ARCHIVE_OK ||
        archive_read_next_header(s->outer, &e) != ARCHIVE_OK) {
        r = k1s_err_set(err, EBADMSG, "not a tar stream: %s", archive_error_string(s->outer));
        goto out;
    }
    in = archive_read_new();
    archive_read_support_format_tar(in);
    archive_read_support_format_empty(in);
    if (archive_read_open(in, s, NULL, stream_read, NULL) != ARCHIVE_OK) {
        r = k1s_err_set(err, EBADMSG, "not a tar stream: %s", archive_error_string(in));
        goto out;
    }
    ext = archive_write_disk_new();
    archive_write_disk_set_options(ext, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                            ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR |
                                            ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    archive_write_disk_set_standard_lookup(ext);
    for (;;) {
        int ar = archive_read_next_header(in, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = k1s_err_set(err, EBADMSG, "read tar: %s", archive_error_string(in));
            goto out;
        }
        const char *raw = archive_entry_pathname(e);
        char *rel = clean_path(raw ? raw : "");
        if (!rel) {
            r = k1s_err_set(err, EBADMSG, "tar entry '%s' points outside the layer", raw);
            goto out;
        }
        if (!*rel) { /* the root itself */
            free(rel);
            continue;
        }
        char *slash = strrchr(rel, '/');
        const char *base = slash ? slash + 1 : rel;
        if (!strncmp(base, ".wh.", 4)) {
            char *d = slash ? k1s_xstrndup(rel, (size_t)(slash - rel)) : k1s_xstrdup("");
            r = whiteout(rootfd, d, base, err);
            free(d);
            free(rel);
            if (r < 0)
                goto out;
            (*inodes)++;
            continue;
        }
        char *abs = k1s_xasprintf("%s/%s", dir, rel);
        archive_entry_set_pathname(e, abs);
        const char *hl = archive_entry_hardlink(e);
        char *habs = NULL;
        if (hl) {
            char *hrel = clean_path(hl);
            if (!hrel || !*hrel) {
                r = k1s_err_set(err, EBADMSG, "hard link '%s' points outside the layer", hl);
                free(hrel);
                free(abs);
                free(rel);
                goto out;
            }
            habs = k1s_xasprintf("%s/%s", dir, hrel);
            free(hrel);
            archive_entry_set_hardlink(e, habs);
        }
        ar = archive_write_header(ext, e);
        if (ar < ARCHIVE_WARN) {
            int en = archive_errno(ext);
            r = k1s_err_set(err, en == ENOSPC || en == EIO || en == EDQUOT ? en : EBADMSG,
                            "unpack '%s': %s%s%s", rel, archive_error_string(ext),
                            en > 0 ? ": " : "", en > 0 ? strerror(en) : "");
        } else if (archive_entry_size(e) > 0 && !hl) {
            const void *buf;
            size_t len;
            la_int64_t off;
            bool wfail = false;
            /* libarchive reports a failed write(2) (ENOSPC, EIO) as a mere ARCHIVE_WARN */
            while ((ar = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
                if (archive_write_data_block(ext, buf, len, off) != ARCHIVE_OK) {
                    wfail = true;
                    break;
                }
            if (wfail) {
                int en = archive_errno(ext) > 0 ? archive_errno(ext) : EIO;
                r = k1s_err_set(err, en, "unpack '%s': %s: %s", rel, archive_error_string(ext),
                                strerror(en));
            } else if (ar != ARCHIVE_EOF) {
                r = k1s_err_set(err, EBADMSG, "unpack '%s': %s", rel, archive_error_string(in));
            }
            *bytes += (uint64_t)archive_entry_size(e);
        }
        if (r == 0 && archive_write_finish_entry(ext) < ARCHIVE_WARN)
            r = k1s_err_set(err, EIO, "unpack '%s': %s", rel, archive_error_string(ext));
        (*inodes)++;
        free(habs);
        free(abs);
        free(rel);
        if (r < 0)
            goto out;
    }
    if (archive_write_close(ext) < ARCHIVE_WARN) {
        r = k1s_err_set(err, EIO, "unpack: %s", archive_error_string(ext));
        goto out;
    }
    /* on disk before the index names it: a gateway may lose power right after the pull */
    if (syncfs(rootfd) < 0) {
        r = k1s_err_set(err, errno, "sync %s: %s", dir, strerror(errno));
        goto out;
    }
    /* the rest of the stream (tar padding) counts for the diff ID */
    {
        const void *dummy;
        while (stream_read(in, s, &dummy) > 0)
            ;
    }
done:
    k1s_sha256_final(s->md, diff_id);
    s->md = NULL;
out:
    if (ext)
        archive_write_free(ext);
    if (in)
        archive_read_free(in);
    archive_read_free(s->outer);
    if (s->md)
        EVP_MD_CTX_free(s->md);
    free(s);
    close(rootfd);
    return r;
}

int k1s_snapshot_unpack(k1s_image_store_t *st, const char *blob_path, const char *parent,
                        const char *chain_id, const char *diff_id, k1s_err_t *err)
{
    char *tmp = k1s_xasprintf("%s/tmp-XXXXXX", st->snap_dir);
    if (!mkdtemp(tmp)) {
        int e = errno;
        free(tmp);
        return k1s_err_set(err, e, "create a directory in %s: %s", st->snap_dir, strerror(e));
    }
    char *fs = k1s_xasprintf("%s/fs", tmp);
    char real[PATH_MAX];
    int r = 0;
    if (mkdir(fs, 0755) < 0 || !realpath(fs, real)) {
        r = k1s_err_set(err, errno, "create %s: %s", fs, strerror(errno));
        goto fail;
    }
    char got[72];
    uint64_t bytes = 0, inodes = 0;
    r = k1s_layer_unpack(blob_path, real, got, &bytes, &inodes, err);
    if (r < 0)
        goto fail;
    if (strcmp(got, diff_id) != 0) {
        r = k1s_err_set(err, EBADMSG,
                        "uncompressed content has digest %s, the image config says %s", got,
                        diff_id);
        goto fail;
    }
    json_t *idx;
    r = k1s_index_lock(st, &idx, err);
    if (r < 0)
        goto fail;
    json_t *snaps = json_object_get(idx, "snapshots");
    if (json_object_get(snaps, chain_id)) { /* another pull was quicker */
        k1s_index_unlock(st);
        json_decref(idx);
        goto fail;
    }
    json_int_t id = json_integer_value(json_object_get(idx, "next"));
    if (id < 1)
        id = 1;
    for (;; id++) {
        char *dst = k1s_xasprintf("%s/%lld", st->snap_dir, (long long)id);
        int rr = rename(tmp, dst);
        int e = errno;
        free(dst);
        if (rr == 0)
            break;
        if (e != EEXIST && e != ENOTEMPTY) { /* a leftover of a crash: take the next */
            k1s_index_unlock(st);
            json_decref(idx);
            r = k1s_err_set(err, e, "rename snapshot: %s", strerror(e));
            goto fail;
        }
    }
    json_object_set_new(idx, "next", json_integer(id + 1));
    json_object_set_new(snaps, chain_id,
                        json_pack("{s:I,s:s,s:I,s:I}", "id", id, "parent", parent ? parent : "",
                                  "size", (json_int_t)bytes, "inodes", (json_int_t)inodes));
    r = k1s_index_save(st, idx, err);
    k1s_index_unlock(st);
    json_decref(idx);
    if (r < 0) {
        char *dst = k1s_xasprintf("%s/%lld", st->snap_dir, (long long)id);
        k1s_rmtree(dst);
        free(dst);
    } else {
        k1s_debug("image store: unpacked %s as snapshot %lld", chain_id, (long long)id);
    }
    free(fs);
    free(tmp);
    return r;
fail:
    k1s_rmtree(tmp);
    free(fs);
    free(tmp);
    return r;
}

/* ---- mounting ------------------------------------------------------------------------------ */

static bool valid_key(const char *k)
{
    if (!k || !*k || strlen(k) > 128 || k[0] == '.')
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* Whether path is a mount point, from /proc/self/mountinfo (a bind mount on the same
 * filesystem has the same st_dev, so stat cannot tell). */
static bool is_mountpoint(const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return false;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char *line = NULL;
    size_t cap = 0;
    bool found = false;
    while (!found && getline(&line, &cap, f) > 0) {
        char mp[PATH_MAX];
        /* id parent major:minor root mountpoint ... */
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1) {
            /* octal escapes (\040) in mountinfo are not undone: our paths have none */
            found = !strcmp(mp, real);
        }
    }
    free(line);
    fclose(f);
    return found;
}

static int cmp_mount(const void *a, const void *b)
{
    return strcmp(((const k1s_snapshot_mount_info_t *)a)->key,
                  ((const k1s_snapshot_mount_info_t *)b)->key);
}

int k1s_snapshot_mounts(k1s_image_store_t *st, k1s_snapshot_mount_info_t **out, size_t *n,
                        k1s_err_t *err)
{
    json_t *idx;
    int r = k1s_index_lock(st, &idx, err);
    if (r < 0)
        return r;
    json_t *mounts = json_object_get(idx, "mounts");
    k1s_snapshot_mount_info_t *v = k1s_xcalloc(json_object_size(mounts) + 1, sizeof(*v));
    size_t cnt = 0;
    const char *k;
    json_t *m;
    json_object_foreach(mounts, k, m)
    {
        const char *t = json_string_value(json_object_get(m, "target"));
        const char *im = json_string_value(json_object_get(m, "image"));
        const char *id = json_string_value(json_object_get(m, "imageID"));
        v[cnt].key = k1s_xstrdup(k);
        v[cnt].target = k1s_xstrdup(t ? t : "");
        v[cnt].image = k1s_xstrdup(im ? im : "");
        v[cnt].image_id = k1s_xstrdup(id ? id : "");
        v[cnt].readonly = json_is_true(json_object_get(m, "readonly"));
        cnt++;
    }
    k1s_index_unlock(st);
    json_decref(idx);
    qsort(v, cnt, sizeof(*v), cmp_mount);
    *out = v;
    *n = cnt;
    return 0;
}

void k1s_snapshot_mounts_free(k1s_snapshot_mount_info_t *m, size_t n)
{
    if (!m)
        return;
    for (size_t i = 0; i < n; i++) {
        free(m[i].key);
        free(m[i].target);
        free(m[i].image);
        free(m[i].image_id);
    }
    free(m);
}

char *k1s_snapshot_upper_dir(const k1s_image_store_t *st, const char *key)
{
    return k1s_xasprintf("%s/rw/%s/upper", st->snap_dir, key);
}

int k1s_snapshot_mount(k1s_image_store_t *st, const char *image, const char *key,
                       const char *target, bool readonly, k1s_err_t *err)
{
    if (!valid_key(key))
        return k1s_err_set(err, EINVAL,
                           "invalid snapshot key '%s' (letters, digits, '-', '_', '.')",
                           key ? key : "");
    k1s_image_t *img = NULL;
    int r = k1s_image_get(st, image, &img, err);
    if (r < 0)
        return r;
    json_t *idx = NULL;
    k1s_buf_t lower = K1S_BUF_INIT;
    char *rw = k1s_xasprintf("%s/rw/%s", st->snap_dir, key);
    char *upper = k1s_xasprintf("%s/upper", rw), *work = k1s_xasprintf("%s/work", rw);
    char *empty = k1s_xasprintf("%s/empty", rw);
    r = k1s_index_lock(st, &idx, err);
    if (r < 0)
        goto out;
    json_t *mounts = json_object_get(idx, "mounts");
    json_t *m = json_object_get(mounts, key);
    if (m && k1s_streq(json_string_value(json_object_get(m, "target")), target) &&
        is_mountpoint(target)) {
        k1s_index_unlock(st);
        goto out; /* already there: re-adoption */
    }
    const char *other = json_string_value(json_object_get(m, "target"));
    if (m && other && strcmp(other, target) != 0 && is_mountpoint(other)) {
        k1s_index_unlock(st);
        r = k1s_err_set(err, EBUSY, "snapshot key %s is mounted on %s (unmount it first)", key,
                        other);
        goto out;
    }
    json_t *snaps = json_object_get(idx, "snapshots");
    json_t *chain = json_array();
    for (size_t i = img->n_layers; i-- > 0;) {
        json_t *s = json_object_get(snaps, img->layers[i].chain_id);
        if (!s) {
            json_decref(chain);
            k1s_index_unlock(st);
            r = k1s_err_set(err, ENOENT, "image %s: layer %s is not unpacked (pull it again)",
                            img->name, img->layers[i].digest);
            goto out;
        }
        json_array_append_new(chain, json_string(img->layers[i].chain_id));
        if (lower.len)
            k1s_buf_putc(&lower, ':');
        k1s_buf_printf(&lower, "%s/%lld/fs", st->snap_dir,
                       (long long)json_integer_value(json_object_get(s, "id")));
    }
    json_object_set_new(mounts, key,
                        json_pack("{s:o,s:s,s:s,s:s,s:b}", "chain", chain, "target", target,
                                  "image", img->name, "imageID", img->id, "readonly", readonly));
    /* last use, for image GC's least-recently-used order (containers only) */
    json_t *ientry = json_object_get(json_object_get(idx, "images"), img->name);
    if (ientry && !readonly) {
        char now[32];
        k1s_time_rfc3339(now);
        json_object_set_new(ientry, "lastUsed", json_string(now));
    }
    /* recorded before mounting: a crash leaves a record (a lease) that unmount clears */
    r = k1s_index_save(st, idx, err);
    k1s_index_unlock(st);
    if (r < 0)
        goto out;
    k1s_rmtree(rw);
    if ((r = k1s_mkdir_p(rw, 0700)) < 0 ||
        (!readonly && ((r = k1s_mkdir_p(upper, 0755)) < 0 || (r = k1s_mkdir_p(work, 0700)) < 0))) {
        k1s_err_set(err, -r, "create %s: %s", rw, strerror(-r));
        goto undo;
    }
    size_t nlow = img->n_layers;
    if (nlow == 0) {
        mkdir(empty, 0755);
        k1s_buf_puts(&lower, empty);
        nlow = 1;
    }
    if (readonly && nlow == 1) {
        /* overlayfs wants two lowers without an upper: a read-only bind mount instead */
        if (mount(lower.data, target, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
            r = k1s_err_set(err, errno, "bind-mount %s on %s: %s", lower.data, target,
                            strerror(errno));
            umount2(target, MNT_DETACH);
            goto undo;
        }
        goto out;
    }
    char *opts = readonly
                     ? k1s_xasprintf("lowerdir=%s", lower.data)
                     : k1s_xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower.data, upper, work);
    if (strlen(opts) >= 4096) {
        r = k1s_err_set(err, E2BIG,
                        "image %s has too many layers (%zu) for an overlayfs mount with a data "
                        "dir this long",
                        img->name, img->n_layers);
    } else if (mount("overlay", target, "overlay", readonly ? MS_RDONLY : 0, opts) < 0) {
        int e = errno;
        r = k1s_err_set(err, e, "mount overlayfs on %s: %s%s", target, strerror(e),
                        e == EINVAL   ? " (the filesystem under the data dir must support "
                                        "overlayfs upper dirs: ext4 or xfs, not overlayfs or nfs)"
                        : e == ENODEV ? " (load the overlay kernel module: modprobe overlay)"
                                      : "");
    }
    free(opts);
    if (r == 0)
        goto out;
undo:
    k1s_snapshot_unmount(st, key, NULL, NULL);
out:
    json_decref(idx);
    k1s_buf_free(&lower);
    free(rw);
    free(upper);
    free(work);
    free(empty);
    k1s_image_free(img);
    return r;
}

int k1s_snapshot_unmount(k1s_image_store_t *st, const char *key, const char *target, k1s_err_t *err)
{
    if (!valid_key(key))
        return k1s_err_set(err, EINVAL, "invalid snapshot key '%s'", key ? key : "");
    if (target && umount2(target, 0) < 0) {
        if (errno == EBUSY) {
            if (umount2(target, MNT_DETACH) < 0)
                return k1s_err_set(err, errno, "unmount %s: %s", target, strerror(errno));
        } else if (errno != EINVAL && errno != ENOENT) {
            return k1s_err_set(err, errno, "unmount %s: %s", target, strerror(errno));
        }
    }
    char *rw = k1s_xasprintf("%s/rw/%s", st->snap_dir, key);
    k1s_rmtree(rw);
    free(rw);
    json_t *idx;
    int r = k1s_index_lock(st, &idx, err);
    if (r < 0)
        return r;
    json_t *mounts = json_object_get(idx, "mounts");
    if (json_object_get(mounts, key)) {
        json_object_del(mounts, key);
        r = k1s_index_save(st, idx, err);
    }
    k1s_index_unlock(st);
    json_decref(idx);
    return r;
}
