/*
 * The image store on disk: content-addressed blobs, the images.json index, opening and
 * repairing after a crash, listing, inspecting, removing and garbage collection. Pulling
 * (image-pull.c) and importing (image-import.c) bring blobs in and call k1s_image_commit(),
 * which unpacks the layers (snapshot.c) and records the image.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "runtime/image-int.h"

/* ---- digests ------------------------------------------------------------------------------- */

void k1s_sha256_final(EVP_MD_CTX *ctx, char out[72])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

void k1s_sha256_digest(const void *data, size_t len, char out[72])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    k1s_assert(ctx);
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, data, len);
    k1s_sha256_final(ctx, out);
}

bool k1s_digest_valid(const char *d)
{
    if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
        return false;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* ---- blobs --------------------------------------------------------------------------------- */

char *k1s_blob_path(const k1s_image_store_t *st, const char *digest)
{
    return k1s_xasprintf("%s/%s", st->blob_dir, digest + 7);
}

bool k1s_blob_exists(const k1s_image_store_t *st, const char *digest)
{
    if (!k1s_digest_valid(digest))
        return false;
    char *p = k1s_blob_path(st, digest);
    bool ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

int k1s_blob_read(const k1s_image_store_t *st, const char *digest, size_t max, char **data,
                  size_t *len, k1s_err_t *err)
{
    if (!k1s_digest_valid(digest))
        return k1s_err_set(err, EINVAL, "invalid digest '%s'", digest ? digest : "");
    char *p = k1s_blob_path(st, digest);
    struct stat sb;
    int r;
    if (stat(p, &sb) < 0) {
        r = k1s_err_set(err, errno, "blob %s: %s", digest, strerror(errno));
    } else if ((uint64_t)sb.st_size > max) {
        r = k1s_err_set(err, EFBIG, "blob %s: larger than %zu bytes", digest, max);
    } else {
        r = k1s_read_file(p, data, len);
        if (r < 0)
            k1s_err_set(err, -r, "read %s: %s", p, strerror(-r));
    }
    free(p);
    return r;
}

static void writer_init(k1s_blob_writer_t *w)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    w->md = EVP_MD_CTX_new();
    k1s_assert(w->md);
    EVP_DigestInit_ex(w->md, EVP_sha256(), NULL);
}

int k1s_blob_writer_begin(k1s_image_store_t *st, const char *digest, k1s_blob_writer_t *w,
                          bool *have, k1s_err_t *err)
{
    if (!k1s_digest_valid(digest))
        return k1s_err_set(err, EBADMSG, "invalid digest '%s'", digest ? digest : "");
    writer_init(w);
    snprintf(w->digest, sizeof(w->digest), "%s", digest);
    w->final = k1s_blob_path(st, digest);
    w->path = k1s_xasprintf("%s/%s", st->ingest_dir, digest + 7);
    *have = false;
    for (;;) {
        if (access(w->final, F_OK) == 0) {
            *have = true;
            return 0;
        }
        w->fd = open(w->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (w->fd < 0) {
            int e = errno;
            k1s_blob_writer_abort(w);
            return k1s_err_set(err, e, "create %s: %s", w->path, strerror(e));
        }
        while (flock(w->fd, LOCK_EX) < 0 && errno == EINTR)
            ;
        /* the one who held the lock may have finished (renamed our inode away) */
        struct stat a, b;
        if (fstat(w->fd, &a) == 0 && stat(w->path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            break;
        close(w->fd);
        w->fd = -1;
    }
    if (access(w->final, F_OK) == 0) {
        /* finished by another writer while we opened: the file we created and locked goes */
        unlink(w->path);
        *have = true;
        return 0;
    }
    if (ftruncate(w->fd, 0) < 0) {
        int e = errno;
        k1s_blob_writer_abort(w);
        return k1s_err_set(err, e, "truncate %s: %s", w->path, strerror(e));
    }
    return 0;
}

int k1s_blob_writer_begin_unknown(k1s_image_store_t *st, k1s_blob_writer_t *w, k1s_err_t *err)
{
    writer_init(w);
    w->path = k1s_xasprintf("%s/tmp-XXXXXX", st->ingest_dir);
    w->fd = mkostemp(w->path, O_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        k1s_blob_writer_abort(w);
        return k1s_err_set(err, e, "create a file in %s: %s", st->ingest_dir, strerror(e));
    }
    w->final = k1s_xstrdup(st->blob_dir); /* completed at commit */
    return 0;
}

int k1s_blob_writer_write(k1s_blob_writer_t *w, const void *data, size_t len)
{
    const char *p = data;
    EVP_DigestUpdate(w->md, data, len);
    w->written += len;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int k1s_blob_writer_reset(k1s_blob_writer_t *w)
{
    EVP_DigestInit_ex(w->md, EVP_sha256(), NULL);
    w->written = 0;
    if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
        return -errno;
    return 0;
}

int k1s_blob_writer_commit(k1s_blob_writer_t *w, uint64_t expected_size, char digest_out[72],
                           k1s_err_t *err)
{
    char got[72];
    EVP_MD_CTX *md = w->md;
    w->md = NULL;
    k1s_sha256_final(md, got);
    int r = 0;
    if (expected_size && w->written != expected_size) {
        r = k1s_err_set(err, EBADMSG, "%s: got %llu bytes, expected %llu",
                        w->digest[0] ? w->digest : "blob", (unsigned long long)w->written,
                        (unsigned long long)expected_size);
    } else if (w->digest[0] && strcmp(got, w->digest) != 0) {
        r = k1s_err_set(err, EBADMSG, "digest mismatch: expected %s, content has %s", w->digest,
                        got);
    } else if (fsync(w->fd) < 0) {
        r = k1s_err_set(err, errno, "fsync %s: %s", w->path, strerror(errno));
    } else {
        if (!w->digest[0]) {
            char *f = k1s_xasprintf("%s/%s", w->final, got + 7);
            free(w->final);
            w->final = f;
        }
        if (fchmod(w->fd, 0444) < 0 || rename(w->path, w->final) < 0)
            r = k1s_err_set(err, errno, "rename %s to %s: %s", w->path, w->final, strerror(errno));
        else if (digest_out)
            memcpy(digest_out, got, 72);
    }
    if (r < 0)
        unlink(w->path);
    free(w->path);
    w->path = NULL;
    k1s_blob_writer_abort(w);
    return r;
}

void k1s_blob_writer_abort(k1s_blob_writer_t *w)
{
    /* an ingest file left behind is truncated by the next writer or removed at open */
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->md)
        EVP_MD_CTX_free(w->md);
    w->md = NULL;
    free(w->path);
    free(w->final);
    w->path = w->final = NULL;
}

int k1s_blob_put(k1s_image_store_t *st, const void *data, size_t len, const char *expected,
                 char digest_out[72], k1s_err_t *err)
{
    char d[72];
    k1s_sha256_digest(data, len, d);
    if (expected && strcmp(d, expected) != 0)
        return k1s_err_set(err, EBADMSG, "digest mismatch: expected %s, content has %s", expected,
                           d);
    if (digest_out)
        memcpy(digest_out, d, 72);
    k1s_blob_writer_t w;
    bool have;
    int r = k1s_blob_writer_begin(st, d, &w, &have, err);
    if (r < 0)
        return r;
    if (have) {
        k1s_blob_writer_abort(&w);
        return 0;
    }
    r = k1s_blob_writer_write(&w, data, len);
    if (r < 0) {
        k1s_err_set(err, -r, "write %s: %s", w.path, strerror(-r));
        k1s_blob_writer_abort(&w);
        return r;
    }
    return k1s_blob_writer_commit(&w, len, NULL, err);
}

/* ---- index --------------------------------------------------------------------------------- */

static json_t *index_empty(void)
{
    return json_pack("{s:{},s:{},s:{},s:{},s:I}", "images", "snapshots", "mounts", "imports",
                     "next", (json_int_t)1);
}

int k1s_index_lock(k1s_image_store_t *st, json_t **idx, k1s_err_t *err)
{
    pthread_mutex_lock(&st->mu);
    st->lock_fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0) {
        int e = errno;
        pthread_mutex_unlock(&st->mu);
        return k1s_err_set(err, e, "open %s: %s", st->lock_path, strerror(e));
    }
    while (flock(st->lock_fd, LOCK_EX) < 0 && errno == EINTR)
        ;
    char *data = NULL;
    size_t len = 0;
    int r = k1s_read_file(st->index_path, &data, &len);
    if (r == -ENOENT) {
        *idx = index_empty();
        return 0;
    }
    if (r < 0) {
        k1s_index_unlock(st);
        return k1s_err_set(err, -r, "read %s: %s", st->index_path, strerror(-r));
    }
    json_error_t je;
    json_t *j = json_loadb(data, len, 0, &je);
    free(data);
    if (!json_is_object(j)) {
        /* cannot happen with atomic writes short of disk corruption: start over, the
         * repair pass then removes what the lost index named. Logged here, against the
         * rule for library code, because no caller could tell it happened. */
        k1s_warn("image store: %s is damaged (%s); starting with an empty index", st->index_path,
                 je.text);
        json_decref(j);
        j = index_empty();
    }
    static const char *const objs[] = {"images", "snapshots", "mounts", "imports"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(objs); i++)
        if (!json_is_object(json_object_get(j, objs[i])))
            json_object_set_new(j, objs[i], json_object());
    *idx = j;
    return 0;
}

int k1s_index_save(k1s_image_store_t *st, json_t *idx, k1s_err_t *err)
{
    char *s = json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS);
    int r = k1s_write_file_atomic(st->index_path, s, strlen(s), 0600);
    free(s);
    if (r < 0)
        return k1s_err_set(err, -r, "write %s: %s", st->index_path, strerror(-r));
    return 0;
}

void k1s_index_unlock(k1s_image_store_t *st)
{
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* drops the flock */
    st->lock_fd = -1;
    pthread_mutex_unlock(&st->mu);
}

int k1s_gc_hold(k1s_image_store_t *st)
{
    int fd = open(st->gc_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        while (flock(fd, LOCK_SH) < 0 && errno == EINTR)
            ;
    return fd;
}

void k1s_gc_release(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* ---- open and repair ----------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Removes what an interrupted pull or unpack left: ingest files, temp and unindexed
 * snapshot dirs, rw dirs of mounts no longer recorded, blobs nothing references. */
static void repair(k1s_image_store_t *st)
{
    int gfd = open(st->gc_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (gfd < 0 || flock(gfd, LOCK_EX | LOCK_NB) < 0) {
        k1s_debug("image store: another process is pulling; repair skipped");
        if (gfd >= 0)
            close(gfd);
        return;
    }
    DIR *d = opendir(st->ingest_dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = k1s_xasprintf("%s/%s", st->ingest_dir, de->d_name);
        k1s_debug("image store: removing interrupted download %s", p);
        unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    json_t *idx;
    if (k1s_index_lock(st, &idx, NULL) == 0) {
        json_t *snaps = json_object_get(idx, "snapshots");
        d = opendir(st->snap_dir);
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.' || !strcmp(de->d_name, "rw"))
                continue;
            bool keep = false;
            if (all_digits(de->d_name)) {
                const char *k;
                json_t *v;
                json_object_foreach(snaps, k, v)
                {
                    if (json_integer_value(json_object_get(v, "id")) == atoll(de->d_name))
                        keep = true;
                }
            }
            if (!keep) {
                char *p = k1s_xasprintf("%s/%s", st->snap_dir, de->d_name);
                k1s_debug("image store: removing unindexed snapshot %s", p);
                k1s_rmtree(p);
                free(p);
            }
        }
        if (d)
            closedir(d);
        char *rw = k1s_xasprintf("%s/rw", st->snap_dir);
        d = opendir(rw);
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.' || json_object_get(json_object_get(idx, "mounts"), de->d_name))
                continue;
            char *p = k1s_xasprintf("%s/%s", rw, de->d_name);
            k1s_debug("image store: removing unrecorded container layer %s", p);
            k1s_rmtree(p);
            free(p);
        }
        if (d)
            closedir(d);
        free(rw);
        k1s_index_unlock(st);
        json_decref(idx);
    }
    close(gfd);
    uint64_t freed = 0;
    k1s_image_store_gc(st, &freed, NULL);
    if (freed)
        k1s_debug("image store: freed %llu bytes at open", (unsigned long long)freed);
}

int k1s_image_store_open(const char *agent_dir, k1s_registries_t *registries,
                         k1s_image_store_t **out, k1s_err_t *err)
{
    k1s_image_store_t *st = k1s_xcalloc(1, sizeof(*st));
    st->dir = k1s_xstrdup(agent_dir);
    st->blob_dir = k1s_xasprintf("%s/content/blobs/sha256", agent_dir);
    st->ingest_dir = k1s_xasprintf("%s/content/ingest", agent_dir);
    st->snap_dir = k1s_xasprintf("%s/snapshots", agent_dir);
    st->index_path = k1s_xasprintf("%s/images.json", agent_dir);
    st->lock_path = k1s_xasprintf("%s/images.lock", agent_dir);
    st->gc_lock = k1s_xasprintf("%s/gc.lock", agent_dir);
    st->reg = registries;
    st->lock_fd = -1;
    pthread_mutex_init(&st->mu, NULL);
    char *rw = k1s_xasprintf("%s/rw", st->snap_dir);
    char *imgs = k1s_xasprintf("%s/images", agent_dir);
    const char *dirs[] = {st->blob_dir, st->ingest_dir, st->snap_dir, rw, imgs};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(dirs); i++) {
        int r = k1s_mkdir_p(dirs[i], 0700);
        if (r < 0) {
            k1s_err_set(err, -r, "open image store: create %s: %s", dirs[i], strerror(-r));
            free(rw);
            free(imgs);
            k1s_image_store_free(st);
            return r;
        }
    }
    free(rw);
    free(imgs);
    repair(st);
    *out = st;
    return 0;
}

const char *k1s_image_store_dir(const k1s_image_store_t *st)
{
    return st->dir;
}

void k1s_image_async_free(k1s_image_async_t *a); /* image-async.c */

void k1s_image_store_free(k1s_image_store_t *st)
{
    if (!st)
        return;
    k1s_image_async_free(st->async);
    k1s_registries_free(st->reg);
    pthread_mutex_destroy(&st->mu);
    free(st->dir);
    free(st->blob_dir);
    free(st->ingest_dir);
    free(st->snap_dir);
    free(st->index_path);
    free(st->lock_path);
    free(st->gc_lock);
    free(st);
}

/* ---- images -------------------------------------------------------------------------------- */

void k1s_image_layers_free(k1s_image_layer_t *l, size_t n)
{
    if (!l)
        return;
    for (size_t i = 0; i < n; i++) {
        free(l[i].digest);
        free(l[i].media_type);
        free(l[i].diff_id);
        free(l[i].chain_id);
    }
    free(l);
}

void k1s_image_free(k1s_image_t *img)
{
    if (!img)
        return;
    free(img->name);
    free(img->id);
    free(img->manifest_digest);
    free(img->repo_digest);
    free(img->created);
    free(img->last_used);
    k1s_image_layers_free(img->layers, img->n_layers);
    free(img);
}

void k1s_image_list_free(k1s_image_t **imgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        k1s_image_free(imgs[i]);
    free(imgs);
}

static char *jstrdup(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? k1s_xstrdup(s) : NULL;
}

k1s_image_t *k1s_image_from_index(json_t *idx, const char *name, json_t *e)
{
    k1s_image_t *img = k1s_xcalloc(1, sizeof(*img));
    img->name = k1s_xstrdup(name);
    img->id = jstrdup(e, "config");
    img->manifest_digest = jstrdup(e, "manifest");
    img->created = jstrdup(e, "created");
    img->last_used = jstrdup(e, "lastUsed");
    img->pinned = json_is_true(json_object_get(e, "pinned"));
    img->size = (uint64_t)json_integer_value(json_object_get(e, "size"));
    /* repo digest: the name without tag or digest */
    k1s_image_ref_t ref;
    if (k1s_image_ref_parse(name, &ref, NULL) == 0) {
        char *n = k1s_image_ref_name(&ref);
        img->repo_digest =
            k1s_xasprintf("%s@%s", n, img->manifest_digest ? img->manifest_digest : "");
        free(n);
        k1s_image_ref_clear(&ref);
    } else {
        img->repo_digest = k1s_xstrdup(name);
    }
    json_t *layers = json_object_get(e, "layers");
    img->n_layers = json_array_size(layers);
    img->layers = k1s_xcalloc(img->n_layers + 1, sizeof(*img->layers));
    json_t *snaps = json_object_get(idx, "snapshots");
    for (size_t i = 0; i < img->n_layers; i++) {
        json_t *l = json_array_get(layers, i);
        k1s_image_layer_t *L = &img->layers[i];
        L->digest = jstrdup(l, "digest");
        L->media_type = jstrdup(l, "mediaType");
        L->size = (uint64_t)json_integer_value(json_object_get(l, "size"));
        L->diff_id = jstrdup(l, "diffID");
        L->chain_id = jstrdup(l, "chainID");
        json_t *s = L->chain_id ? json_object_get(snaps, L->chain_id) : NULL;
        img->unpacked += (uint64_t)json_integer_value(json_object_get(s, "size"));
    }
    return img;
}

/* Finds the index names matching ref (see k1s_image_get). Returns a new array (may be
 * empty) of borrowed names. */
static const char **find_names(json_t *idx, const char *ref, size_t *n)
{
    json_t *images = json_object_get(idx, "images");
    const char **out = k1s_xcalloc(json_object_size(images) + 1, sizeof(char *));
    *n = 0;
    const char *k;
    json_t *v;
    k1s_image_ref_t r;
    if (k1s_image_ref_parse(ref, &r, NULL) == 0) {
        char *norm = k1s_image_ref_string(&r);
        char *rname = k1s_image_ref_name(&r);
        json_object_foreach(images, k, v)
        {
            if (!strcmp(k, norm)) {
                out[(*n)++] = k;
                break;
            }
        }
        /* name@digest (with or without tag) finds the image with that manifest */
        if (*n == 0 && r.digest) {
            json_object_foreach(images, k, v)
            {
                k1s_image_ref_t kr;
                if (k1s_image_ref_parse(k, &kr, NULL) < 0)
                    continue;
                char *kn = k1s_image_ref_name(&kr);
                if (!strcmp(kn, rname) &&
                    k1s_streq(json_string_value(json_object_get(v, "manifest")), r.digest))
                    out[(*n)++] = k;
                free(kn);
                k1s_image_ref_clear(&kr);
                if (*n)
                    break;
            }
        }
        free(norm);
        free(rname);
        k1s_image_ref_clear(&r);
    }
    if (*n)
        return out;
    /* an image ID or a prefix of one (at least 6 hex digits) */
    const char *hex = k1s_str_has_prefix(ref, "sha256:") ? ref + 7 : ref;
    size_t hl = strlen(hex);
    bool ishex = hl >= 6 && hl <= 64;
    for (size_t i = 0; ishex && i < hl; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            ishex = false;
    if (ishex) {
        json_object_foreach(images, k, v)
        {
            const char *cfg = json_string_value(json_object_get(v, "config"));
            if (cfg && strlen(cfg) == 71 && !strncmp(cfg + 7, hex, hl))
                out[(*n)++] = k;
        }
    }
    return out;
}

int k1s_image_get(k1s_image_store_t *st, const char *ref, k1s_image_t **out, k1s_err_t *err)
{
    json_t *idx;
    int r = k1s_index_lock(st, &idx, err);
    if (r < 0)
        return r;
    size_t n;
    const char **names = find_names(idx, ref, &n);
    if (n == 0) {
        r = k1s_err_set(err, ENOENT, "image %s not found", ref);
    } else {
        /* an ID matching several names: any of them describes the same image */
        *out = k1s_image_from_index(idx, names[0],
                                    json_object_get(json_object_get(idx, "images"), names[0]));
    }
    free(names);
    k1s_index_unlock(st);
    json_decref(idx);
    return r;
}

static int cmp_img(const void *a, const void *b)
{
    return strcmp((*(k1s_image_t *const *)a)->name, (*(k1s_image_t *const *)b)->name);
}

int k1s_image_list(k1s_image_store_t *st, k1s_image_t ***out, size_t *n, k1s_err_t *err)
{
    json_t *idx;
    int r = k1s_index_lock(st, &idx, err);
    if (r < 0)
        return r;
    json_t *images = json_object_get(idx, "images");
    k1s_image_t **v = k1s_xcalloc(json_object_size(images) + 1, sizeof(*v));
    size_t cnt = 0;
    const char *k;
    json_t *e;
    json_object_foreach(images, k, e)
    {
        v[cnt++] = k1s_image_from_index(idx, k, e);
    }
    k1s_index_unlock(st);
    json_decref(idx);
    qsort(v, cnt, sizeof(*v), cmp_img);
    *out = v;
    *n = cnt;
    return 0;
}

static char **json_strv(json_t *a)
{
    if (!json_is_array(a))
        return NULL;
    char **v = k1s_xcalloc(json_array_size(a) + 1, sizeof(char *));
    size_t i, n = 0;
    json_t *s;
    json_array_foreach(a, i, s)
    {
        if (json_is_string(s))
            v[n++] = k1s_xstrdup(json_string_value(s));
    }
    return v;
}

int k1s_image_config_get(k1s_image_store_t *st, const k1s_image_t *img, k1s_image_config_t **out,
                         k1s_err_t *err)
{
    char *data;
    size_t len;
    int r = k1s_blob_read(st, img->id, K1S_IMAGE_META_MAX, &data, &len, err);
    if (r < 0)
        return k1s_err_prefix(err, "image %s: config", img->name);
    json_error_t je;
    json_t *j = json_loadb(data, len, 0, &je);
    free(data);
    if (!json_is_object(j)) {
        json_decref(j);
        return k1s_err_set(err, EBADMSG, "image %s: config %s is not a JSON object", img->name,
                           img->id);
    }
    k1s_image_config_t *c = k1s_xcalloc(1, sizeof(*c));
    json_t *cfg = json_object_get(j, "config");
    c->entrypoint = json_strv(json_object_get(cfg, "Entrypoint"));
    c->cmd = json_strv(json_object_get(cfg, "Cmd"));
    c->env = json_strv(json_object_get(cfg, "Env"));
    c->working_dir = jstrdup(cfg, "WorkingDir");
    c->user = jstrdup(cfg, "User");
    json_t *ports = json_object_get(cfg, "ExposedPorts");
    if (json_is_object(ports)) {
        c->exposed_ports = k1s_xcalloc(json_object_size(ports) + 1, sizeof(char *));
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach(ports, k, v)
        {
            c->exposed_ports[n++] = k1s_xstrdup(k);
        }
    }
    json_t *labels = json_object_get(cfg, "Labels");
    if (json_is_object(labels))
        c->labels = json_incref(labels);
    c->os = jstrdup(j, "os");
    c->architecture = jstrdup(j, "architecture");
    c->raw = j;
    *out = c;
    return 0;
}

void k1s_image_config_free(k1s_image_config_t *c)
{
    if (!c)
        return;
    k1s_image_strv_free(c->entrypoint);
    k1s_image_strv_free(c->cmd);
    k1s_image_strv_free(c->env);
    k1s_image_strv_free(c->exposed_ports);
    free(c->working_dir);
    free(c->user);
    free(c->os);
    free(c->architecture);
    json_decref(c->labels);
    json_decref(c->raw);
    free(c);
}

int k1s_image_remove(k1s_image_store_t *st, const char *ref, k1s_err_t *err)
{
    json_t *idx;
    int r = k1s_index_lock(st, &idx, err);
    if (r < 0)
        return r;
    size_t n;
    const char **names = find_names(idx, ref, &n);
    if (n == 0) {
        r = k1s_err_set(err, ENOENT, "image %s not found", ref);
    } else {
        json_t *images = json_object_get(idx, "images");
        /* collect first: deleting frees the borrowed keys */
        char **copy = k1s_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            copy[i] = k1s_xstrdup(names[i]);
        for (size_t i = 0; i < n; i++)
            json_object_del(images, copy[i]);
        k1s_image_strv_free(copy);
        r = k1s_index_save(st, idx, err);
    }
    free(names);
    k1s_index_unlock(st);
    json_decref(idx);
    if (r == 0)
        k1s_image_store_gc(st, NULL, NULL);
    return r;
}

static uint64_t file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

int k1s_image_store_gc(k1s_image_store_t *st, uint64_t *freed, k1s_err_t *err)
{
    if (freed)
        *freed = 0;
    int gfd = open(st->gc_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (gfd < 0)
        return k1s_err_set(err, errno, "open %s: %s", st->gc_lock, strerror(errno));
    if (flock(gfd, LOCK_EX | LOCK_NB) < 0) {
        /* a pull or import is bringing in blobs that no image names yet; the next
         * collection frees what is left */
        k1s_debug("image store: a pull is under way; garbage collection deferred");
        close(gfd);
        return 0;
    }
    json_t *idx;
    int r = k1s_index_lock(st, &idx, err);
    if (r < 0) {
        close(gfd);
        return r;
    }
    json_t *keep_blobs = json_object(), *keep_snaps = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(idx, "images"), k, v)
    {
        json_object_set_new(keep_blobs, json_string_value(json_object_get(v, "manifest")) ?: "",
                            json_true());
        json_object_set_new(keep_blobs, json_string_value(json_object_get(v, "config")) ?: "",
                            json_true());
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(v, "layers"), i, l)
        {
            json_object_set_new(keep_blobs, json_string_value(json_object_get(l, "digest")) ?: "",
                                json_true());
            json_object_set_new(keep_snaps, json_string_value(json_object_get(l, "chainID")) ?: "",
                                json_true());
        }
    }
    json_object_foreach(json_object_get(idx, "mounts"), k, v)
    {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(v, "chain"), i, c)
        {
            json_object_set_new(keep_snaps, json_string_value(c) ?: "", json_true());
        }
    }
    /* snapshots: drop from the index first, then delete (a crash in between leaves
     * unindexed dirs, which the next open removes) */
    json_t *snaps = json_object_get(idx, "snapshots");
    json_t *gone = json_array();
    void *tmp;
    json_object_foreach_safe(snaps, tmp, k, v)
    {
        if (json_object_get(keep_snaps, k))
            continue;
        json_array_append_new(gone, json_integer(json_integer_value(json_object_get(v, "id"))));
        if (freed)
            *freed += (uint64_t)json_integer_value(json_object_get(v, "size"));
        json_object_del(snaps, k);
    }
    if (json_array_size(gone) > 0)
        r = k1s_index_save(st, idx, err);
    if (r == 0) {
        size_t i;
        json_array_foreach(gone, i, v)
        {
            char *p = k1s_xasprintf("%s/%lld", st->snap_dir, (long long)json_integer_value(v));
            k1s_rmtree(p);
            free(p);
        }
        DIR *d = opendir(st->blob_dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char dg[80];
            snprintf(dg, sizeof(dg), "sha256:%s", de->d_name);
            if (json_object_get(keep_blobs, dg))
                continue;
            char *p = k1s_xasprintf("%s/%s", st->blob_dir, de->d_name);
            uint64_t sz = file_size(p);
            if (unlink(p) == 0 && freed)
                *freed += sz;
            free(p);
        }
        if (d)
            closedir(d);
    }
    json_decref(gone);
    json_decref(keep_blobs);
    json_decref(keep_snaps);
    k1s_index_unlock(st);
    json_decref(idx);
    close(gfd);
    return r;
}

int k1s_image_store_usage(k1s_image_store_t *st, k1s_image_fs_usage_t *out, k1s_err_t *err)
{
    memset(out, 0, sizeof(*out));
    json_t *idx;
    int r = k1s_index_lock(st, &idx, err);
    if (r < 0)
        return r;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(idx, "snapshots"), k, v)
    {
        out->snapshot_bytes += (uint64_t)json_integer_value(json_object_get(v, "size"));
        out->inodes_used_by_images += (uint64_t)json_integer_value(json_object_get(v, "inodes"));
    }
    k1s_index_unlock(st);
    json_decref(idx);
    DIR *d = opendir(st->blob_dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = k1s_xasprintf("%s/%s", st->blob_dir, de->d_name);
        out->content_bytes += file_size(p);
        free(p);
    }
    if (d)
        closedir(d);
    struct statvfs vfs;
    if (statvfs(st->dir, &vfs) == 0) {
        out->fs_capacity = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        out->fs_available = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    return 0;
}

/* ---- manifests and committing an image ----------------------------------------------------- */

int k1s_manifest_parse(const char *data, size_t len, char **config_digest,
                       k1s_image_layer_t **layers, size_t *n_layers, k1s_err_t *err)
{
    json_error_t je;
    json_t *j = json_loadb(data, len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return k1s_err_set(err, EBADMSG, "manifest is not a JSON object");
    }
    int r = 0;
    json_t *schema = json_object_get(j, "schemaVersion");
    json_t *cfg = json_object_get(j, "config");
    json_t *ls = json_object_get(j, "layers");
    const char *cd = json_string_value(json_object_get(cfg, "digest"));
    if (json_integer_value(schema) == 1) {
        r = k1s_err_set(err, EPROTONOSUPPORT,
                        "manifest is Docker schema 1, which is deprecated and not supported "
                        "(push the image again with a current tool)");
    } else if (!k1s_digest_valid(cd) || !json_is_array(ls)) {
        r = k1s_err_set(err, EBADMSG, "manifest has no valid config digest or layers");
    }
    if (r < 0) {
        json_decref(j);
        return r;
    }
    size_t n = json_array_size(ls);
    k1s_image_layer_t *L = k1s_xcalloc(n + 1, sizeof(*L));
    size_t i;
    json_t *l;
    json_array_foreach(ls, i, l)
    {
        const char *d = json_string_value(json_object_get(l, "digest"));
        json_t *sz = json_object_get(l, "size");
        if (!k1s_digest_valid(d) || !json_is_integer(sz) || json_integer_value(sz) < 0) {
            k1s_image_layers_free(L, n);
            json_decref(j);
            return k1s_err_set(err, EBADMSG, "manifest layer %zu has no valid digest or size", i);
        }
        L[i].digest = k1s_xstrdup(d);
        L[i].size = (uint64_t)json_integer_value(sz);
        L[i].media_type = jstrdup(l, "mediaType");
    }
    *config_digest = k1s_xstrdup(cd);
    *layers = L;
    *n_layers = n;
    json_decref(j);
    return 0;
}

static void report(k1s_image_progress_fn fn, void *arg, const char *name, const char *status,
                   size_t layer, size_t n, const char *digest, uint64_t ld, uint64_t lt,
                   uint64_t done, uint64_t total)
{
    if (!fn)
        return;
    k1s_image_progress_t p = {name, status, layer, n, digest, ld, lt, done, total};
    fn(&p, arg);
}

int k1s_image_commit(k1s_image_store_t *st, const char *name, const char *manifest_digest,
                     k1s_image_progress_fn progress, void *parg, k1s_image_t **out, k1s_err_t *err)
{
    char *mdata = NULL, *cdata = NULL, *config = NULL;
    size_t mlen, clen, n = 0;
    k1s_image_layer_t *L = NULL;
    json_t *cj = NULL, *idx = NULL;
    int r = k1s_blob_read(st, manifest_digest, K1S_IMAGE_META_MAX, &mdata, &mlen, err);
    if (r < 0)
        goto out;
    r = k1s_manifest_parse(mdata, mlen, &config, &L, &n, err);
    if (r < 0)
        goto out;
    r = k1s_blob_read(st, config, K1S_IMAGE_META_MAX, &cdata, &clen, err);
    if (r < 0)
        goto out;
    json_error_t je;
    cj = json_loadb(cdata, clen, 0, &je);
    json_t *diffs = json_object_get(json_object_get(cj, "rootfs"), "diff_ids");
    if (!json_is_array(diffs) || json_array_size(diffs) != n) {
        r = k1s_err_set(err, EBADMSG, "config %s: rootfs.diff_ids does not list the %zu layers",
                        config, n);
        goto out;
    }
    /* chain IDs as the OCI image spec defines them */
    uint64_t size = mlen + clen, total = 0, done = 0;
    for (size_t i = 0; i < n; i++) {
        const char *d = json_string_value(json_array_get(diffs, i));
        if (!k1s_digest_valid(d)) {
            r = k1s_err_set(err, EBADMSG, "config %s: diff_ids[%zu] is not a sha256 digest", config,
                            i);
            goto out;
        }
        L[i].diff_id = k1s_xstrdup(d);
        if (i == 0) {
            L[i].chain_id = k1s_xstrdup(d);
        } else {
            char *s = k1s_xasprintf("%s %s", L[i - 1].chain_id, d);
            char c[72];
            k1s_sha256_digest(s, strlen(s), c);
            free(s);
            L[i].chain_id = k1s_xstrdup(c);
        }
        size += L[i].size;
        total += L[i].size;
    }
    /* unpack what is missing, bottom up */
    for (size_t i = 0; i < n; i++) {
        bool have;
        r = k1s_index_lock(st, &idx, err);
        if (r < 0)
            goto out;
        have = json_object_get(json_object_get(idx, "snapshots"), L[i].chain_id) != NULL;
        k1s_index_unlock(st);
        json_decref(idx);
        idx = NULL;
        if (!have) {
            report(progress, parg, name, "unpacking", i, n, L[i].digest, 0, L[i].size, done, total);
            char *bp = k1s_blob_path(st, L[i].digest);
            r = k1s_snapshot_unpack(st, bp, i ? L[i - 1].chain_id : NULL, L[i].chain_id,
                                    L[i].diff_id, err);
            free(bp);
            if (r < 0) {
                k1s_err_prefix(err, "layer %s", L[i].digest);
                goto out;
            }
        }
        done += L[i].size;
    }
    /* record the image */
    r = k1s_index_lock(st, &idx, err);
    if (r < 0)
        goto out;
    json_t *layers = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(layers, json_pack("{s:s,s:s,s:I,s:s,s:s}", "digest", L[i].digest,
                                                "mediaType", L[i].media_type ? L[i].media_type : "",
                                                "size", (json_int_t)L[i].size, "diffID",
                                                L[i].diff_id, "chainID", L[i].chain_id));
    char now[32];
    k1s_time_rfc3339(now);
    json_t *entry = json_pack("{s:s,s:s,s:I,s:s,s:o}", "manifest", manifest_digest, "config",
                              config, "size", (json_int_t)size, "created", now, "layers", layers);
    json_object_set_new(json_object_get(idx, "images"), name, entry);
    r = k1s_index_save(st, idx, err);
    if (r == 0 && out)
        *out = k1s_image_from_index(idx, name, entry);
    k1s_index_unlock(st);
    if (r == 0)
        report(progress, parg, name, "done", n ? n - 1 : 0, n, NULL, 0, 0, total, total);
out:
    json_decref(idx);
    json_decref(cj);
    free(mdata);
    free(cdata);
    free(config);
    k1s_image_layers_free(L, n);
    return r;
}
