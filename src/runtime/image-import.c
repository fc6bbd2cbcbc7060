/*
 * Air-gap import: image tarballs in OCI layout (`skopeo copy ... oci-archive:`, `ctr export`)
 * or `docker save` format, plain or compressed (anything libarchive's filters read: gzip,
 * zstd, xz, bzip2). Every file of the tarball goes into the content store under its digest in
 * one pass; then the index (index.json) or the docker manifest (manifest.json) says which
 * images it holds and k1s_image_commit() unpacks and records them.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "runtime/image-int.h"
#include "runtime/libs.h"

typedef struct tarball {
    json_t *files;    /* path -> {"digest": d, "size": n} */
    json_t *links;    /* path -> link target (symlinks and hard links) */
    char *index_json; /* contents of index.json, or NULL */
    char *manifest_json;
} tarball_t;

static char *clean(const char *p)
{
    while (k1s_str_has_prefix(p, "./"))
        p += 2;
    while (*p == '/')
        p++;
    return k1s_xstrdup(p);
}

/* path joined to a link target relative to path's directory, normalised. */
static char *resolve_rel(const char *path, const char *target)
{
    if (target[0] == '/')
        return clean(target);
    const char *slash = strrchr(path, '/');
    k1s_buf_t b = K1S_BUF_INIT;
    if (slash)
        k1s_buf_append(&b, path, (size_t)(slash - path + 1));
    k1s_buf_puts(&b, target);
    /* collapse "dir/../" */
    char *s = k1s_buf_steal(&b);
    char *parts[256];
    size_t n = 0;
    char *save = NULL;
    for (char *c = strtok_r(s, "/", &save); c && n < 256; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            if (n)
                n--;
            continue;
        }
        parts[n++] = c;
    }
    k1s_buf_t o = K1S_BUF_INIT;
    k1s_buf_puts(&o, "");
    for (size_t i = 0; i < n; i++) {
        if (i)
            k1s_buf_putc(&o, '/');
        k1s_buf_puts(&o, parts[i]);
    }
    free(s);
    return k1s_buf_steal(&o);
}

static json_t *lookup(tarball_t *t, const char *path)
{
    char *p = clean(path);
    for (int hops = 0; hops < 8; hops++) {
        json_t *f = json_object_get(t->files, p);
        if (f) {
            free(p);
            return f;
        }
        const char *l = json_string_value(json_object_get(t->links, p));
        if (!l)
            break;
        char *np = resolve_rel(p, l);
        free(p);
        p = np;
    }
    free(p);
    return NULL;
}

static int read_tarball(k1s_image_store_t *st, const char *path, tarball_t *t, k1s_err_t *err)
{
    int r = k1s_rt_archive_load(err);
    if (r < 0)
        return r;
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
        r = k1s_err_set(err, errno ? errno : EBADMSG, "%s", archive_error_string(a));
        archive_read_free(a);
        return r;
    }
    struct archive_entry *e;
    char *buf = k1s_xmalloc(64 * 1024);
    for (;;) {
        int ar = archive_read_next_header(a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = k1s_err_set(err, EBADMSG, "not an image archive: %s", archive_error_string(a));
            break;
        }
        char *p = clean(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
        const char *hl = archive_entry_hardlink(e);
        if (hl) {
            char *c = clean(hl);
            json_object_set_new(t->links, p, json_string(c));
            free(c);
            free(p);
            continue;
        }
        if (archive_entry_filetype(e) == AE_IFLNK) {
            json_object_set_new(t->links, p, json_string(archive_entry_symlink(e) ?: ""));
            free(p);
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG) {
            free(p);
            continue;
        }
        bool keep = !strcmp(p, "index.json") || !strcmp(p, "manifest.json");
        k1s_buf_t mem = K1S_BUF_INIT;
        k1s_blob_writer_t w;
        r = k1s_blob_writer_begin_unknown(st, &w, err);
        if (r < 0) {
            free(p);
            break;
        }
        la_ssize_t n;
        while ((n = archive_read_data(a, buf, 64 * 1024)) > 0) {
            if (k1s_blob_writer_write(&w, buf, (size_t)n) < 0) {
                r = k1s_err_set(err, errno, "write to the content store: %s", strerror(errno));
                break;
            }
            if (keep && mem.len < K1S_IMAGE_META_MAX)
                k1s_buf_append(&mem, buf, (size_t)n);
        }
        if (r == 0 && n < 0)
            r = k1s_err_set(err, EBADMSG, "read %s: %s", p, archive_error_string(a));
        char d[72];
        uint64_t size = w.written;
        if (r == 0)
            r = k1s_blob_writer_commit(&w, 0, d, err);
        else
            k1s_blob_writer_abort(&w);
        if (r == 0 && k1s_str_has_prefix(p, "blobs/sha256/") && strcmp(p + 13, d + 7) != 0)
            r = k1s_err_set(err, EBADMSG, "%s: content has digest %s", p, d);
        if (r == 0) {
            json_object_set_new(t->files, p,
                                json_pack("{s:s,s:I}", "digest", d, "size", (json_int_t)size));
            if (!strcmp(p, "index.json"))
                t->index_json = k1s_buf_steal(&mem);
            else if (!strcmp(p, "manifest.json"))
                t->manifest_json = k1s_buf_steal(&mem);
        }
        k1s_buf_free(&mem);
        free(p);
        if (r < 0)
            break;
    }
    free(buf);
    archive_read_free(a);
    return r;
}

/* The name an OCI index entry carries, normalised (new string) or NULL. */
static char *oci_name(json_t *desc)
{
    json_t *ann = json_object_get(desc, "annotations");
    const char *n = json_string_value(json_object_get(ann, "io.containerd.image.name"));
    if (!n) {
        n = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
        /* a bare tag ("latest") names no repository */
        if (n && !strchr(n, ':') && !strchr(n, '/'))
            n = NULL;
    }
    k1s_image_ref_t r;
    if (!n || k1s_image_ref_parse(n, &r, NULL) < 0)
        return NULL;
    char *s = k1s_image_ref_string(&r);
    k1s_image_ref_clear(&r);
    return s;
}

static void add_name(char ***names, size_t *n, const char *s)
{
    *names = k1s_xrealloc(*names, (*n + 2) * sizeof(char *));
    (*names)[(*n)++] = k1s_xstrdup(s);
    (*names)[*n] = NULL;
}

static int import_oci(k1s_image_store_t *st, tarball_t *t, char ***names, size_t *nn,
                      k1s_err_t *err)
{
    json_t *idx = json_loads(t->index_json, 0, NULL);
    json_t *ms = json_object_get(idx, "manifests");
    int r = 0;
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
    {
        char *name = oci_name(m);
        const char *d = json_string_value(json_object_get(m, "digest"));
        if (!name || !k1s_digest_valid(d)) {
            k1s_debug("import: skipping an unnamed image in index.json");
            free(name);
            continue;
        }
        char *data;
        size_t len;
        r = k1s_blob_read(st, d, K1S_IMAGE_META_MAX, &data, &len, err);
        if (r < 0) {
            free(name);
            break;
        }
        json_t *j = json_loadb(data, len, 0, NULL);
        free(data);
        const char *mt = json_string_value(json_object_get(j, "mediaType"));
        char *mdigest = k1s_xstrdup(d);
        if ((mt && (!strcmp(mt, K1S_MEDIA_OCI_INDEX) || !strcmp(mt, K1S_MEDIA_DOCKER_LIST))) ||
            (!json_object_get(j, "layers") && json_object_get(j, "manifests"))) {
            /* a multi-platform image: the first linux entry of this arch that is present */
            const char *arch, *variant;
            k1s_image_platform(&arch, &variant);
            free(mdigest);
            mdigest = NULL;
            size_t k;
            json_t *e;
            json_array_foreach(json_object_get(j, "manifests"), k, e)
            {
                json_t *pl = json_object_get(e, "platform");
                const char *ed = json_string_value(json_object_get(e, "digest"));
                if (k1s_streq(json_string_value(json_object_get(pl, "os")), "linux") &&
                    k1s_streq(json_string_value(json_object_get(pl, "architecture")), arch) &&
                    k1s_blob_exists(st, ed)) {
                    mdigest = k1s_xstrdup(ed);
                    break;
                }
            }
        }
        json_decref(j);
        if (!mdigest) {
            r = k1s_err_set(err, ENOENT, "%s: no image for this platform in the archive", name);
        } else {
            r = k1s_image_commit(st, name, mdigest, NULL, NULL, NULL, err);
            if (r < 0)
                k1s_err_prefix(err, "%s", name);
            else
                add_name(names, nn, name);
        }
        free(mdigest);
        free(name);
        if (r < 0)
            break;
    }
    json_decref(idx);
    return r;
}

static int import_docker(k1s_image_store_t *st, tarball_t *t, char ***names, size_t *nn,
                         k1s_err_t *err)
{
    json_t *man = json_loads(t->manifest_json, 0, NULL);
    if (!json_is_array(man)) {
        json_decref(man);
        return k1s_err_set(err, EBADMSG, "manifest.json is not a list");
    }
    int r = 0;
    size_t i;
    json_t *m;
    json_array_foreach(man, i, m)
    {
        json_t *tags = json_object_get(m, "RepoTags");
        const char *cfgp = json_string_value(json_object_get(m, "Config"));
        json_t *cf = cfgp ? lookup(t, cfgp) : NULL;
        if (!cf) {
            r = k1s_err_set(err, EBADMSG, "manifest.json: config %s is not in the archive",
                            cfgp ? cfgp : "(none)");
            break;
        }
        json_t *layers = json_array();
        size_t k;
        json_t *lp;
        json_array_foreach(json_object_get(m, "Layers"), k, lp)
        {
            json_t *lf = json_is_string(lp) ? lookup(t, json_string_value(lp)) : NULL;
            if (!lf) {
                r = k1s_err_set(err, EBADMSG, "manifest.json: layer %s is not in the archive",
                                json_string_value(lp) ?: "?");
                break;
            }
            json_array_append_new(layers, json_pack("{s:s,s:O,s:O}", "mediaType",
                                                    "application/vnd.docker.image.rootfs.diff.tar",
                                                    "size", json_object_get(lf, "size"), "digest",
                                                    json_object_get(lf, "digest")));
        }
        if (r < 0) {
            json_decref(layers);
            break;
        }
        /* docker save keeps no manifest: make the one the registry would have served */
        json_t *mj = json_pack("{s:i,s:s,s:{s:s,s:O,s:O},s:o}", "schemaVersion", 2, "mediaType",
                               K1S_MEDIA_DOCKER_MANIFEST, "config", "mediaType",
                               K1S_MEDIA_DOCKER_CONFIG, "size", json_object_get(cf, "size"),
                               "digest", json_object_get(cf, "digest"), "layers", layers);
        char *ms = json_dumps(mj, JSON_COMPACT);
        json_decref(mj);
        char md[72];
        r = k1s_blob_put(st, ms, strlen(ms), NULL, md, err);
        free(ms);
        if (r < 0)
            break;
        json_t *tag;
        json_array_foreach(tags, k, tag)
        {
            k1s_image_ref_t ref;
            if (!json_is_string(tag) || k1s_image_ref_parse(json_string_value(tag), &ref, err) < 0)
                continue;
            char *name = k1s_image_ref_string(&ref);
            k1s_image_ref_clear(&ref);
            r = k1s_image_commit(st, name, md, NULL, NULL, NULL, err);
            if (r < 0)
                k1s_err_prefix(err, "%s", name);
            else
                add_name(names, nn, name);
            free(name);
            if (r < 0)
                break;
        }
        if (r < 0)
            break;
    }
    json_decref(man);
    return r;
}

int k1s_image_import(k1s_image_store_t *st, const char *path, char ***names, k1s_err_t *err)
{
    tarball_t t = {json_object(), json_object(), NULL, NULL};
    char **nv = k1s_xcalloc(1, sizeof(char *));
    size_t nn = 0;
    int gfd = k1s_gc_hold(st);
    int r = read_tarball(st, path, &t, err);
    if (r == 0 && t.index_json)
        r = import_oci(st, &t, &nv, &nn, err);
    if (r == 0 && nn == 0 && t.manifest_json)
        r = import_docker(st, &t, &nv, &nn, err);
    if (r == 0 && !t.index_json && !t.manifest_json)
        r = k1s_err_set(err, EBADMSG,
                        "not an image archive (no index.json or manifest.json; expected an "
                        "OCI layout or `docker save` tarball)");
    k1s_gc_release(gfd);
    if (r == 0 && nn == 0)
        r = k1s_err_set(err, ENOENT, "the archive holds no named image");
    /* the tarball's other files (index.json, ...) went into the store too: collect them */
    k1s_image_store_gc(st, NULL, NULL);
    json_decref(t.files);
    json_decref(t.links);
    free(t.index_json);
    free(t.manifest_json);
    if (r < 0) {
        k1s_image_strv_free(nv);
        return k1s_err_prefix(err, "import %s", path);
    }
    if (names)
        *names = nv;
    else
        k1s_image_strv_free(nv);
    return 0;
}

static bool tarball_name(const char *n)
{
    static const char *const sfx[] = {".tar",      ".tar.gz",  ".tgz",    ".tar.zst",
                                      ".tar.zstd", ".tar.bz2", ".tar.xz", ".tar.lz4"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(sfx); i++)
        if (k1s_str_has_suffix(n, sfx[i]))
            return true;
    return false;
}

int k1s_image_import_dir(k1s_image_store_t *st, k1s_err_t *err)
{
    k1s_buf_t msgs = K1S_BUF_INIT;
    char *dir = k1s_xasprintf("%s/images", st->dir);
    DIR *d = opendir(dir);
    int failed = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !tarball_name(de->d_name))
            continue;
        char *p = k1s_xasprintf("%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(p, &sb) < 0 || !S_ISREG(sb.st_mode)) {
            free(p);
            continue;
        }
        char *stamp =
            k1s_xasprintf("%lld:%lld", (long long)sb.st_size, (long long)sb.st_mtim.tv_sec);
        json_t *idx;
        bool seen = false;
        if (k1s_index_lock(st, &idx, NULL) == 0) {
            seen = k1s_streq(
                json_string_value(json_object_get(json_object_get(idx, "imports"), de->d_name)),
                stamp);
            k1s_index_unlock(st);
            json_decref(idx);
        }
        if (!seen) {
            k1s_err_t e = {0};
            char **names = NULL;
            if (k1s_image_import(st, p, &names, &e) < 0) {
                k1s_buf_printf(&msgs, "%s%s", msgs.len ? "; " : "", e.msg);
                failed++;
            } else {
                for (char **n = names; n && *n; n++)
                    k1s_debug("imported %s from %s", *n, p);
                if (k1s_index_lock(st, &idx, NULL) == 0) {
                    /* pinned, as k3s pins air-gap images: a gateway without a registry
                     * could not get them back after image GC */
                    for (char **n = names; n && *n; n++) {
                        json_t *ent = json_object_get(json_object_get(idx, "images"), *n);
                        if (ent)
                            json_object_set_new(ent, "pinned", json_true());
                    }
                    json_object_set_new(json_object_get(idx, "imports"), de->d_name,
                                        json_string(stamp));
                    k1s_index_save(st, idx, NULL);
                    k1s_index_unlock(st);
                    json_decref(idx);
                }
                k1s_image_strv_free(names);
            }
        }
        free(stamp);
        free(p);
    }
    if (d)
        closedir(d);
    free(dir);
    if (failed)
        k1s_err_set(err, EBADMSG, "%s", msgs.data);
    k1s_buf_free(&msgs);
    return failed;
}
