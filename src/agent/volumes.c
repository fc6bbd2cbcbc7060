/*
 * The API-backed volumes of a pod: configMap, secret, downwardAPI and
 * projected (serviceAccountToken, configMap, secret, downwardAPI sources).
 * Their content is fetched through the node's client (the Node authorizer
 * lets a node read only what its pods reference) and written the way
 * kubelet's AtomicWriter does: the files go into a new hidden directory,
 * `..data` is switched to it by a rename, and the visible names are symlinks
 * through `..data`, so a container never sees a half-written update.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/kubelet-int.h"
#include "agent/volumes.h"
#include "lib/buf.h"
#include "lib/log.h"

#define DEFAULT_MODE 0644
#define TOKEN_EXPIRATION_S 3607

static const k1s_gvr_t cm_gvr = {"", "v1", "configmaps", true};
static const k1s_gvr_t secret_gvr = {"", "v1", "secrets", true};
static const k1s_gvr_t pvc_gvr = {"", "v1", "persistentvolumeclaims", true};
static const k1s_gvr_t pv_gvr = {"", "v1", "persistentvolumes", false};

typedef struct fetch {
    char *kind; /* "cm", "secret" or "token:<volume>/<source index>" */
    char *name;
    json_t *obj; /* the answer (ConfigMap, Secret, TokenRequest), NULL if not found */
    int status;
    k1s_client_req_t *req;
    void *ref;  /* the callback's argument while req is out */
    char *keep; /* a token still fresh on disk: reused instead of asking for a new one */
} fetch_t;

struct k1s_vols {
    k1s_client_t *client;
    json_t *pod;
    char *pod_dir, *pod_ip;
    fetch_t *f;
    size_t nf, pending;
    k1s_vols_done_fn done;
    void *arg;
    struct event *later; /* finishes on the next loop turn when nothing was fetched */
    bool refresh;        /* the pod runs already: rewrite only what changed */
};

static fetch_t *find_fetch(k1s_vols_t *v, const char *kind, const char *name)
{
    for (size_t i = 0; i < v->nf; i++)
        if (!strcmp(v->f[i].kind, kind) && !strcmp(v->f[i].name, name))
            return &v->f[i];
    return NULL;
}

static fetch_t *add_fetch(k1s_vols_t *v, const char *kind, const char *name)
{
    fetch_t *f = find_fetch(v, kind, name);
    if (f)
        return NULL;
    v->f = k1s_xrealloc(v->f, (v->nf + 1) * sizeof(*v->f));
    f = &v->f[v->nf++];
    memset(f, 0, sizeof(*f));
    f->kind = k1s_xstrdup(kind);
    f->name = k1s_xstrdup(name);
    return f;
}

/* ---- writing files ---- */

typedef struct file {
    char *path;
    unsigned char *data;
    size_t len;
    int mode;
} file_t;

typedef struct files {
    file_t *v;
    size_t n;
} files_t;

static void files_add(files_t *fs, const char *path, const void *data, size_t len, int mode)
{
    fs->v = k1s_xrealloc(fs->v, (fs->n + 1) * sizeof(file_t));
    file_t *f = &fs->v[fs->n++];
    f->path = k1s_xstrdup(path);
    f->data = k1s_xmalloc(len + 1);
    memcpy(f->data, data, len);
    f->len = len;
    f->mode = mode;
}

static void files_free(files_t *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->v[i].path);
        free(fs->v[i].data);
    }
    free(fs->v);
}

int k1s_b64_decode(const char *s, unsigned char **out, size_t *len)
{
    size_t n = strlen(s);
    unsigned char *d = k1s_xmalloc(n + 4);
    int dl = n ? EVP_DecodeBlock(d, (const unsigned char *)s, (int)n) : 0;
    if (dl < 0 || n % 4) {
        free(d);
        return -EINVAL;
    }
    if (n && s[n - 1] == '=')
        dl--;
    if (n > 1 && s[n - 2] == '=')
        dl--;
    *out = d;
    *len = (size_t)dl;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static int mkdirs_for(const char *path)
{
    char *dir = k1s_xstrdup(path);
    char *slash = strrchr(dir, '/');
    int r = 0;
    if (slash) {
        *slash = 0;
        r = k1s_mkdir_p(dir, 0755);
    }
    free(dir);
    return r;
}

static size_t nfiles;
static int count_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag == FTW_F)
        nfiles++;
    return 0;
}

/* Whether dir/..data already holds exactly these files. */
static bool unchanged(const char *dir, const files_t *fs)
{
    char path[4096], target[1024];
    snprintf(path, sizeof(path), "%s/..data", dir);
    ssize_t tl = readlink(path, target, sizeof(target) - 1);
    if (tl <= 0)
        return false;
    target[tl] = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, target); /* nftw does not follow ..data */
    nfiles = 0;
    if (nftw(path, count_file, 16, FTW_PHYS) < 0 || nfiles != fs->n)
        return false;
    for (size_t i = 0; i < fs->n; i++) {
        char *data = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/..data/%s", dir, fs->v[i].path);
        struct stat st;
        bool same = stat(path, &st) == 0 && (int)(st.st_mode & 07777) == fs->v[i].mode &&
                    k1s_read_file(path, &data, &len) == 0 && len == fs->v[i].len &&
                    !memcmp(data, fs->v[i].data, len);
        free(data);
        if (!same)
            return false;
    }
    return true;
}

/* kubelet's AtomicWriter: write to ..<time>, swap ..data, link the top-level names. */
static int atomic_write(const char *dir, const files_t *fs, k1s_err_t *err)
{
    if (unchanged(dir, fs))
        return 0;
    int r = k1s_mkdir_p(dir, 0777);
    if (r < 0)
        return k1s_err_set(err, -r, "mkdir %s: %s", dir, strerror(-r));
    char ts[64], tsdir[4096], path[4096];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "..%Y_%m_%d_%H_%M_%S", &tm);
    snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%09ld", now.tv_nsec);
    snprintf(tsdir, sizeof(tsdir), "%s/%s", dir, ts);
    if ((r = k1s_mkdir_p(tsdir, 0755)) < 0)
        return k1s_err_set(err, -r, "mkdir %s: %s", tsdir, strerror(-r));
    for (size_t i = 0; i < fs->n; i++) {
        snprintf(path, sizeof(path), "%s/%s", tsdir, fs->v[i].path);
        mkdirs_for(path);
        if ((r = k1s_write_file_atomic(path, fs->v[i].data, fs->v[i].len, fs->v[i].mode)) < 0)
            return k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
        chmod(path, (mode_t)fs->v[i].mode);
    }
    /* the previous ..data target, to remove after the switch */
    char old[4096] = "";
    snprintf(path, sizeof(path), "%s/..data", dir);
    ssize_t n = readlink(path, old, sizeof(old) - 1);
    old[n > 0 ? n : 0] = 0;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s/..data_tmp", dir);
    unlink(tmp);
    if (symlink(ts, tmp) < 0 || rename(tmp, path) < 0)
        return k1s_err_set(err, errno, "switch %s: %s", path, strerror(errno));
    for (size_t i = 0; i < fs->n; i++) {
        char top[1024];
        snprintf(top, sizeof(top), "%s", fs->v[i].path);
        char *slash = strchr(top, '/');
        if (slash)
            *slash = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, top);
        char target[1100];
        snprintf(target, sizeof(target), "..data/%s", top);
        struct stat st;
        if (lstat(path, &st) < 0)
            symlink(target, path);
    }
    if (*old && strcmp(old, ts)) {
        snprintf(path, sizeof(path), "%s/%s", dir, old);
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    return 0;
}

/* ---- ownership (fsGroup) ---- */

#define RW_MASK 0660
#define RO_MASK 0440
#define EXEC_MASK 0110

int64_t k1s_vols_fs_group(const json_t *pod)
{
    const json_t *g = k1s_jpath(pod, "spec.securityContext.fsGroup");
    return json_is_integer(g) && json_integer_value(g) >= 0 ? json_integer_value(g) : -1;
}

static int own_one(int at, const char *name, const char *path, gid_t gid, mode_t mask, int depth,
                   k1s_err_t *err)
{
    struct stat st;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : k1s_err_set(err, errno, "stat %s: %s", path, strerror(errno));
    if (st.st_gid != gid && fchownat(at, name, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return k1s_err_set(err, errno, "chown %s to group %u: %s", path, (unsigned)gid,
                           strerror(errno));
    if (S_ISLNK(st.st_mode)) /* chmod would reach the target: leave it alone, as kubelet */
        return 0;
    mode_t want = (st.st_mode & 07777) | mask;
    if (S_ISDIR(st.st_mode))
        want |= S_ISGID | EXEC_MASK;
    if (want != (st.st_mode & 07777) && fchmodat(at, name, want, 0) < 0)
        return k1s_err_set(err, errno, "chmod %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (depth > 64)
        return k1s_err_set(err, ELOOP, "%s: directories nested too deep", path);
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return k1s_err_set(err, errno, "open %s: %s", path, strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return k1s_err_set(err, errno, "open %s: %s", path, strerror(errno));
    }
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *sub = k1s_xasprintf("%s/%s", path, de->d_name);
        r = own_one(dirfd(d), de->d_name, sub, gid, mask, depth + 1, err);
        free(sub);
    }
    closedir(d);
    return r;
}

int k1s_vols_set_ownership(const json_t *pod, const char *path, int64_t fs_group, bool readonly,
                           k1s_err_t *err)
{
    if (fs_group < 0)
        return 0;
    mode_t mask = readonly ? RO_MASK : RW_MASK;
    const char *policy = k1s_jpath_str(pod, "spec.securityContext.fsGroupChangePolicy");
    struct stat st;
    if (stat(path, &st) < 0)
        return k1s_err_set(err, errno, "stat %s: %s", path, strerror(errno));
    if (k1s_streq(policy, "OnRootMismatch")) {
        /* kubelet's requiresPermissionChange: the root tells for the whole volume */
        mode_t need = mask | (S_ISDIR(st.st_mode) ? S_ISGID | EXEC_MASK : 0);
        if (st.st_gid == (gid_t)fs_group && (st.st_mode & need) == need)
            return 0;
    }
    /* path itself may be a symlink (a claim's volume): its target is the volume */
    char *real = realpath(path, NULL);
    if (!real)
        return k1s_err_set(err, errno, "resolve %s: %s", path, strerror(errno));
    int r = own_one(AT_FDCWD, real, real, (gid_t)fs_group, mask, 0, err);
    free(real);
    return r < 0 ? k1s_err_prefix(err, "applying fsGroup %lld", (long long)fs_group) : 0;
}

/* ---- hostPath ---- */

int k1s_vols_hostpath_check(const json_t *vol, k1s_err_t *err)
{
    const json_t *hp = json_object_get(vol, "hostPath");
    const char *p = k1s_js(hp, "path"), *type = k1s_js(hp, "type");
    if (!p || !*p)
        return k1s_err_set(err, EINVAL, "hostPath volume without a path");
    if (!type || !*type)
        return 0;
    struct stat st;
    bool exists = stat(p, &st) == 0;
    if (!strcmp(type, "DirectoryOrCreate") && !exists) {
        int r = k1s_mkdir_p(p, 0755);
        if (r < 0)
            return k1s_err_set(err, -r, "hostPath: cannot create directory %s: %s", p,
                               strerror(-r));
        return 0;
    }
    if (!strcmp(type, "FileOrCreate") && !exists) {
        int r = mkdirs_for(p);
        int fd = r < 0 ? -1 : open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return k1s_err_set(err, r < 0 ? -r : errno, "hostPath: cannot create file %s: %s", p,
                               strerror(r < 0 ? -r : errno));
        close(fd);
        return 0;
    }
    static const struct {
        const char *type, *what;
        mode_t fmt;
    } types[] = {
        {"Directory", "a directory", S_IFDIR},
        {"DirectoryOrCreate", "a directory", S_IFDIR},
        {"File", "a file", S_IFREG},
        {"FileOrCreate", "a file", S_IFREG},
        {"Socket", "a socket file", S_IFSOCK},
        {"CharDevice", "a character device", S_IFCHR},
        {"BlockDevice", "a block device", S_IFBLK},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(type, types[i].type))
            continue;
        if (!exists || (st.st_mode & S_IFMT) != types[i].fmt)
            return k1s_err_set(err, exists ? EINVAL : ENOENT,
                               "hostPath type check failed: %s is not %s", p, types[i].what);
        return 0;
    }
    return k1s_err_set(err, EINVAL, "%s is an invalid volume type", type);
}

/* ---- content ---- */

static int item_mode(const json_t *item, int dflt)
{
    const json_t *m = json_object_get(item, "mode");
    return json_is_integer(m) ? (int)json_integer_value(m) : dflt;
}

/* configMap or secret keys -> files (items select and rename). */
static int kv_files(files_t *fs, const char *prefix, const json_t *obj, bool secret,
                    const json_t *items, int mode, bool optional, const char *what, k1s_err_t *err)
{
    const json_t *data = json_object_get(obj, "data");
    const json_t *bin = json_object_get(obj, "binaryData");
    char path[2048];
    if (json_array_size(items)) {
        size_t i;
        const json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *key = k1s_js(it, "key"), *p = k1s_js(it, "path");
            const json_t *v = json_object_get(data, key ? key : "");
            if (!v && !secret)
                v = json_object_get(bin, key ? key : "");
            if (!v && optional) /* kubelet skips the missing keys of an optional source */
                continue;
            if (!v)
                return k1s_err_set(err, ENOENT, "%s references non-existent %s key: %s", what,
                                   secret ? "secret" : "config", key ? key : "");
            snprintf(path, sizeof(path), "%s%s", prefix, p ? p : key);
            unsigned char *d = NULL;
            size_t len = 0;
            bool decode = secret || !json_object_get(data, key);
            if (decode) {
                if (k1s_b64_decode(json_string_value(v) ? json_string_value(v) : "", &d, &len) < 0)
                    return k1s_err_set(err, EINVAL, "%s key %s: bad base64", what, key);
                files_add(fs, path, d, len, item_mode(it, mode));
                free(d);
            } else {
                const char *s = json_string_value(v);
                files_add(fs, path, s ? s : "", s ? strlen(s) : 0, item_mode(it, mode));
            }
        }
        return 0;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)data, key, v)
    {
        snprintf(path, sizeof(path), "%s%s", prefix, key);
        if (secret) {
            unsigned char *d = NULL;
            size_t len = 0;
            if (k1s_b64_decode(json_string_value(v) ? json_string_value(v) : "", &d, &len) < 0)
                return k1s_err_set(err, EINVAL, "%s key %s: bad base64", what, key);
            files_add(fs, path, d, len, mode);
            free(d);
        } else {
            const char *s = json_string_value(v);
            files_add(fs, path, s ? s : "", s ? strlen(s) : 0, mode);
        }
    }
    json_object_foreach((json_t *)bin, key, v)
    {
        unsigned char *d = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s%s", prefix, key);
        if (k1s_b64_decode(json_string_value(v) ? json_string_value(v) : "", &d, &len) == 0) {
            files_add(fs, path, d, len, mode);
            free(d);
        }
    }
    return 0;
}

/* labels/annotations in the downward API's format: key="value" lines, sorted. */
static char *map_lines(const json_t *m)
{
    const char *keys[512];
    size_t n = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        if (n < 512)
            keys[n++] = k;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    k1s_buf_t b = {0};
    for (size_t i = 0; i < n; i++) {
        char *q = json_dumps(json_object_get(m, keys[i]), JSON_ENCODE_ANY);
        k1s_buf_printf(&b, "%s%s=%s", i ? "\n" : "", keys[i], q ? q : "\"\"");
        free(q);
    }
    k1s_buf_putc(&b, 0);
    return k1s_buf_steal(&b);
}

static int downward_files(files_t *fs, const char *prefix, const json_t *pod, const char *pod_ip,
                          const char *pod_dir, const json_t *items, int mode, k1s_err_t *err)
{
    size_t i;
    const json_t *it;
    char path[2048];
    json_array_foreach(items, i, it)
    {
        const char *p = k1s_js(it, "path");
        const char *fp = k1s_jpath_str(it, "fieldRef.fieldPath");
        snprintf(path, sizeof(path), "%s%s", prefix, p ? p : "");
        char *val = NULL;
        if (fp && !strcmp(fp, "metadata.labels"))
            val = map_lines(k1s_jpath(pod, "metadata.labels"));
        else if (fp && !strcmp(fp, "metadata.annotations"))
            val = map_lines(k1s_jpath(pod, "metadata.annotations"));
        else if (fp && (!strcmp(fp, "metadata.name") || !strcmp(fp, "metadata.namespace") ||
                        !strcmp(fp, "metadata.uid") || !strcmp(fp, "spec.nodeName") ||
                        !strcmp(fp, "spec.serviceAccountName")))
            val = k1s_xstrdup(k1s_jpath_str(pod, fp) ? k1s_jpath_str(pod, fp) : "");
        else if (fp && !strcmp(fp, "status.podIP"))
            val = k1s_xstrdup(pod_ip ? pod_ip : "");
        else if (fp && !strncmp(fp, "metadata.labels['", 17)) {
            char key[256];
            snprintf(key, sizeof(key), "%s", fp + 17);
            char *e = strstr(key, "']");
            if (e)
                *e = 0;
            const char *v =
                json_string_value(json_object_get(k1s_jpath(pod, "metadata.labels"), key));
            val = k1s_xstrdup(v ? v : "");
        } else if (fp && !strncmp(fp, "metadata.annotations['", 22)) {
            char key[256];
            snprintf(key, sizeof(key), "%s", fp + 22);
            char *e = strstr(key, "']");
            if (e)
                *e = 0;
            const char *v =
                json_string_value(json_object_get(k1s_jpath(pod, "metadata.annotations"), key));
            val = k1s_xstrdup(v ? v : "");
        } else if (fp) {
            return k1s_err_set(err, ENOTSUP, "downwardAPI fieldRef %s is not supported", fp);
        } else if (json_object_get(it, "resourceFieldRef")) {
            if (k1s_podspec_resource_value(pod, NULL, json_object_get(it, "resourceFieldRef"),
                                           pod_dir, &val, err) < 0)
                return k1s_err_prefix(err, "downwardAPI item %s", p ? p : "");
        } else {
            return k1s_err_set(err, EINVAL,
                               "downwardAPI item %s has neither fieldRef nor "
                               "resourceFieldRef",
                               p ? p : "");
        }
        files_add(fs, path, val, strlen(val), item_mode(it, mode));
        free(val);
    }
    return 0;
}

static int volume_files(k1s_vols_t *v, const json_t *vol, files_t *fs, k1s_err_t *err)
{
    const char *vname = k1s_js(vol, "name");
    const json_t *cm = json_object_get(vol, "configMap"), *sec = json_object_get(vol, "secret");
    const json_t *dw = json_object_get(vol, "downwardAPI"), *pr = json_object_get(vol, "projected");
    char what[300];
    if (cm || sec) {
        const json_t *src = cm ? cm : sec;
        const char *name = k1s_js(src, cm ? "name" : "secretName");
        fetch_t *f = find_fetch(v, cm ? "cm" : "secret", name ? name : "");
        snprintf(what, sizeof(what), "%s \"%s\"", cm ? "configmap" : "secret", name ? name : "");
        if (!f || !f->obj) {
            if (json_is_true(json_object_get(src, "optional")))
                return 0;
            return k1s_err_set(err, ENOENT, "%s not found", what);
        }
        const json_t *dm = json_object_get(src, "defaultMode");
        return kv_files(fs, "", f->obj, sec != NULL, json_object_get(src, "items"),
                        json_is_integer(dm) ? (int)json_integer_value(dm) : DEFAULT_MODE,
                        json_is_true(json_object_get(src, "optional")), what, err);
    }
    if (dw) {
        const json_t *dm = json_object_get(dw, "defaultMode");
        return downward_files(fs, "", v->pod, v->pod_ip, v->pod_dir, json_object_get(dw, "items"),
                              json_is_integer(dm) ? (int)json_integer_value(dm) : DEFAULT_MODE,
                              err);
    }
    const json_t *dm = json_object_get(pr, "defaultMode");
    int mode = json_is_integer(dm) ? (int)json_integer_value(dm) : DEFAULT_MODE;
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(pr, "sources"), i, s)
    {
        const json_t *tok = json_object_get(s, "serviceAccountToken");
        const json_t *scm = json_object_get(s, "configMap"), *ssec = json_object_get(s, "secret");
        const json_t *sdw = json_object_get(s, "downwardAPI");
        if (tok) {
            char key[512];
            snprintf(key, sizeof(key), "token:%s/%zu", vname, i);
            fetch_t *f = find_fetch(v, key, "");
            const char *t = f && f->obj ? k1s_jpath_str(f->obj, "status.token") : NULL;
            if (!t && f && f->keep)
                t = f->keep;
            if (!t)
                return k1s_err_set(err, EACCES, "cannot get a service account token (%d)",
                                   f ? f->status : 0);
            const char *p = k1s_js(tok, "path");
            files_add(fs, p ? p : "token", t, strlen(t), mode);
        } else if (scm || ssec) {
            const json_t *src = scm ? scm : ssec;
            const char *name = k1s_js(src, "name");
            fetch_t *f = find_fetch(v, scm ? "cm" : "secret", name ? name : "");
            snprintf(what, sizeof(what), "%s \"%s\"", scm ? "configmap" : "secret",
                     name ? name : "");
            if (!f || !f->obj) {
                if (json_is_true(json_object_get(src, "optional")))
                    continue;
                return k1s_err_set(err, ENOENT, "%s not found", what);
            }
            if (kv_files(fs, "", f->obj, ssec != NULL, json_object_get(src, "items"), mode,
                         json_is_true(json_object_get(src, "optional")), what, err) < 0)
                return -1;
        } else if (sdw) {
            if (downward_files(fs, "", v->pod, v->pod_ip, v->pod_dir, json_object_get(sdw, "items"),
                               mode, err) < 0)
                return -1;
        }
    }
    return 0;
}

/* A claim's volume: <pod_dir>/volumes/<name> becomes a symlink to the PersistentVolume's
 * hostPath or local path (created for hostPath DirectoryOrCreate, as the local-path
 * provisioner's volumes are). */
/* The claim of a persistentVolumeClaim volume, or of a generic ephemeral volume
 * (<pod>-<volume>, made by the ephemeral volume controller). */
static void claim_name(const json_t *pod, const json_t *vol, char *out, size_t size)
{
    const char *claim = k1s_jpath_str(vol, "persistentVolumeClaim.claimName");
    if (claim)
        snprintf(out, size, "%s", claim);
    else if (json_object_get(vol, "ephemeral"))
        snprintf(out, size, "%s-%s", k1s_jpath_str(pod, "metadata.name"), k1s_js(vol, "name"));
    else
        *out = 0;
}

/* Whether the pod (uid) is the controller owner of obj, as an ephemeral volume's claim must
 * be. */
static bool owned_by(const json_t *obj, const char *uid)
{
    size_t i;
    const json_t *o;
    json_array_foreach(k1s_jpath(obj, "metadata.ownerReferences"), i, o)
    {
        if (json_is_true(json_object_get(o, "controller")) && k1s_streq(k1s_js(o, "uid"), uid))
            return true;
    }
    return false;
}

static int claim_link(k1s_vols_t *v, const json_t *vol, k1s_err_t *err)
{
    char claim[512];
    claim_name(v->pod, vol, claim, sizeof(claim));
    fetch_t *f = find_fetch(v, "pvc", claim);
    if (!f || !f->obj)
        return k1s_err_set(err, ENOENT, "persistentvolumeclaim \"%s\" not found", claim);
    if (json_object_get(vol, "ephemeral") &&
        !owned_by(f->obj, k1s_jpath_str(v->pod, "metadata.uid")))
        return k1s_err_set(err, EPERM, "PVC %s/%s was not created for pod %s/%s (pod is not owner)",
                           k1s_jpath_str(v->pod, "metadata.namespace"), claim,
                           k1s_jpath_str(v->pod, "metadata.namespace"),
                           k1s_jpath_str(v->pod, "metadata.name"));
    const char *pvname = k1s_jpath_str(f->obj, "spec.volumeName");
    fetch_t *pf = pvname ? find_fetch(v, "pv", pvname) : NULL;
    if (!pf || !pf->obj || !k1s_streq(k1s_jpath_str(f->obj, "status.phase"), "Bound"))
        return k1s_err_set(err, EAGAIN, "persistentvolumeclaim \"%s\" is not bound yet", claim);
    const char *path = k1s_jpath_str(pf->obj, "spec.hostPath.path");
    const char *type = k1s_jpath_str(pf->obj, "spec.hostPath.type");
    if (!path)
        path = k1s_jpath_str(pf->obj, "spec.local.path");
    if (!path)
        return k1s_err_set(err, ENOTSUP,
                           "persistentvolume \"%s\": only hostPath and local volumes are "
                           "supported by this agent",
                           pvname);
    struct stat st;
    if (stat(path, &st) < 0) {
        if (!k1s_jpath(pf->obj, "spec.hostPath") ||
            (type && *type && strcmp(type, "DirectoryOrCreate")))
            return k1s_err_set(err, ENOENT, "persistentvolume \"%s\": %s does not exist", pvname,
                               path);
        int r = k1s_mkdir_p(path, 0777);
        if (r < 0)
            return k1s_err_set(err, -r, "mkdir %s: %s", path, strerror(-r));
    }
    char link[4096], cur[4096];
    snprintf(link, sizeof(link), "%s/volumes", v->pod_dir);
    k1s_mkdir_p(link, 0750);
    snprintf(link, sizeof(link), "%s/volumes/%s", v->pod_dir, k1s_js(vol, "name"));
    ssize_t n = readlink(link, cur, sizeof(cur) - 1);
    if (!(n > 0 && (size_t)n == strlen(path) && !memcmp(cur, path, (size_t)n))) {
        unlink(link);
        if (symlink(path, link) < 0)
            return k1s_err_set(err, errno, "symlink %s: %s", link, strerror(errno));
    }
    /* kubelet's local volumes support ownership management; hostPath ones do not */
    if (k1s_jpath(pf->obj, "spec.local"))
        return k1s_vols_set_ownership(
            v->pod, path, k1s_vols_fs_group(v->pod),
            json_is_true(k1s_jpath(vol, "persistentVolumeClaim.readOnly")), err);
    return 0;
}

static void finish(k1s_vols_t *v)
{
    k1s_err_t err = {0};
    int rc = 0;
    size_t i;
    const json_t *vol;
    int64_t fs_group = k1s_vols_fs_group(v->pod);
    json_array_foreach(k1s_jpath(v->pod, "spec.volumes"), i, vol)
    {
        if (json_object_get(vol, "hostPath")) {
            /* checked when the pod starts, as kubelet mounts it once */
            if (!v->refresh && (rc = k1s_vols_hostpath_check(vol, &err)) < 0) {
                k1s_err_prefix(&err, "MountVolume.SetUp failed for volume \"%s\"",
                               k1s_js(vol, "name"));
                break;
            }
            continue;
        }
        if (json_object_get(vol, "persistentVolumeClaim") || json_object_get(vol, "ephemeral")) {
            if ((rc = claim_link(v, vol, &err)) < 0) {
                k1s_err_prefix(&err, "MountVolume.SetUp failed for volume \"%s\"",
                               k1s_js(vol, "name"));
                break;
            }
            continue;
        }
        if (!json_object_get(vol, "configMap") && !json_object_get(vol, "secret") &&
            !json_object_get(vol, "downwardAPI") && !json_object_get(vol, "projected"))
            continue;
        files_t fs = {0};
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/volumes/%s", v->pod_dir, k1s_js(vol, "name"));
        rc = volume_files(v, vol, &fs, &err);
        /* with an fsGroup the files are group-readable (kubelet's read-only mask); set here
         * so that an unchanged volume compares equal */
        for (size_t f = 0; fs_group >= 0 && f < fs.n; f++)
            fs.v[f].mode |= RO_MASK;
        if (rc == 0)
            rc = atomic_write(dir, &fs, &err);
        if (rc == 0)
            rc = k1s_vols_set_ownership(v->pod, dir, fs_group, true, &err);
        files_free(&fs);
        if (rc < 0) {
            k1s_err_prefix(&err, "MountVolume.SetUp failed for volume \"%s\"", k1s_js(vol, "name"));
            break;
        }
    }
    v->done(v->arg, rc < 0 ? -1 : 0, rc < 0 ? err.msg : NULL);
}

static void fetched(const k1s_client_result_t *res, fetch_t *f)
{
    f->req = NULL;
    f->ref = NULL;
    f->status = res->status;
    if ((res->status == 200 || res->status == 201) && res->obj)
        f->obj = json_incref(res->obj);
}

typedef struct fetch_ref {
    k1s_vols_t *v;
    size_t i;
} fetch_ref_t;

static void fetched_cb(const k1s_client_result_t *res, void *arg)
{
    fetch_ref_t *fr = arg;
    k1s_vols_t *v = fr->v;
    size_t i = fr->i;
    fetched(res, &v->f[i]);
    free(fr);
    /* a bound claim: its PersistentVolume next */
    const char *pv =
        !strcmp(v->f[i].kind, "pvc") ? k1s_jpath_str(v->f[i].obj, "spec.volumeName") : NULL;
    if (pv && *pv && add_fetch(v, "pv", pv)) {
        fetch_ref_t *nr = k1s_xcalloc(1, sizeof(*nr));
        nr->v = v;
        nr->i = v->nf - 1;
        v->f[nr->i].ref = nr;
        v->pending++;
        v->f[nr->i].req = k1s_client_get(v->client, &pv_gvr, NULL, pv, fetched_cb, nr);
    }
    if (--v->pending == 0)
        finish(v);
}

static void finish_later(evutil_socket_t fd, short what, void *arg)
{
    finish(arg);
}

/* The token a running pod has, if younger than 80% of its lifetime (kubelet's rotation
 * point); new string, or NULL to ask for a new one. */
static char *fresh_token(k1s_vols_t *v, const char *vname, const json_t *tok)
{
    const json_t *exp = json_object_get(tok, "expirationSeconds");
    int64_t life = json_is_integer(exp) ? json_integer_value(exp) : TOKEN_EXPIRATION_S;
    const char *p = k1s_js(tok, "path");
    char path[4096];
    snprintf(path, sizeof(path), "%s/volumes/%s/..data/%s", v->pod_dir, vname, p ? p : "token");
    struct stat st;
    if (stat(path, &st) < 0 || (int64_t)(time(NULL) - st.st_mtime) >= life * 8 / 10)
        return NULL;
    char *data = NULL;
    if (k1s_read_file(path, &data, NULL) < 0)
        return NULL;
    return data;
}

static void request_token(k1s_vols_t *v, fetch_t *f, const json_t *tok, fetch_ref_t *fr)
{
    const char *sa = k1s_jpath_str(v->pod, "spec.serviceAccountName");
    const char *aud = k1s_js(tok, "audience");
    const json_t *exp = json_object_get(tok, "expirationSeconds");
    json_t *body = json_pack(
        "{s:s, s:s, s:{s:I, s:{s:s, s:s, s:s, s:s}}}", "apiVersion", "authentication.k8s.io/v1",
        "kind", "TokenRequest", "spec", "expirationSeconds",
        (json_int_t)(json_is_integer(exp) ? json_integer_value(exp) : TOKEN_EXPIRATION_S),
        "boundObjectRef", "kind", "Pod", "apiVersion", "v1", "name",
        k1s_jpath_str(v->pod, "metadata.name"), "uid", k1s_jpath_str(v->pod, "metadata.uid"));
    if (aud && *aud)
        json_object_set_new(json_object_get(body, "spec"), "audiences", json_pack("[s]", aud));
    char *path =
        k1s_xasprintf("/api/v1/namespaces/%s/serviceaccounts/%s/token",
                      k1s_jpath_str(v->pod, "metadata.namespace"), sa && *sa ? sa : "default");
    f->req = k1s_client_request(v->client, "POST", path, "application/json",
                                json_dumps(body, JSON_COMPACT), fetched_cb, fr);
    free(path);
    json_decref(body);
}

/* Calls fn for every configMap ("cm") and secret the containers' env and envFrom name. */
static void env_refs(const json_t *pod, void (*fn)(void *, const char *, const char *), void *arg)
{
    static const char *const lists[] = {"spec.initContainers", "spec.containers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        const json_t *c;
        json_array_foreach(k1s_jpath(pod, lists[l]), i, c)
        {
            size_t j;
            const json_t *e;
            json_array_foreach(json_object_get(c, "env"), j, e)
            {
                const char *cm = k1s_jpath_str(e, "valueFrom.configMapKeyRef.name");
                const char *sec = k1s_jpath_str(e, "valueFrom.secretKeyRef.name");
                if (cm)
                    fn(arg, "cm", cm);
                if (sec)
                    fn(arg, "secret", sec);
            }
            json_array_foreach(json_object_get(c, "envFrom"), j, e)
            {
                const char *cm = k1s_jpath_str(e, "configMapRef.name");
                const char *sec = k1s_jpath_str(e, "secretRef.name");
                if (cm)
                    fn(arg, "cm", cm);
                if (sec)
                    fn(arg, "secret", sec);
            }
        }
    }
}

/* imagePullSecrets are fetched with the rest, for pulls. */
static void pull_secret_refs(const json_t *pod, void (*fn)(void *, const char *, const char *),
                             void *arg)
{
    size_t i;
    const json_t *r;
    json_array_foreach(k1s_jpath(pod, "spec.imagePullSecrets"), i, r)
    {
        if (k1s_js(r, "name"))
            fn(arg, "secret", k1s_js(r, "name"));
    }
}

static void add_env_ref(void *arg, const char *kind, const char *name)
{
    add_fetch(arg, kind, name);
}

static void count_ref(void *arg, const char *kind, const char *name)
{
    (*(int *)arg)++;
}

json_t *k1s_vols_refs(const k1s_vols_t *v)
{
    json_t *o = json_pack("{s:{}, s:{}}", "configmaps", "secrets");
    for (size_t i = 0; i < v->nf; i++) {
        const fetch_t *f = &v->f[i];
        const char *kind = !strcmp(f->kind, "cm")       ? "configmaps"
                           : !strcmp(f->kind, "secret") ? "secrets"
                                                        : NULL;
        if (kind)
            json_object_set_new(json_object_get(o, kind), f->name,
                                f->obj ? json_incref(f->obj) : json_null());
    }
    return o;
}

k1s_vols_t *k1s_vols_start(k1s_client_t *client, const json_t *pod, const char *pod_dir,
                           const char *pod_ip, bool refresh, k1s_vols_done_fn done, void *arg)
{
    k1s_vols_t *v = k1s_xcalloc(1, sizeof(*v));
    v->refresh = refresh;
    v->client = client;
    v->pod = json_deep_copy(pod);
    v->pod_dir = k1s_xstrdup(pod_dir);
    v->pod_ip = k1s_xstrdup(pod_ip ? pod_ip : "");
    v->done = done;
    v->arg = arg;
    /* what to fetch; the array must not move once requests go out */
    size_t i;
    const json_t *vol;
    json_array_foreach(k1s_jpath(pod, "spec.volumes"), i, vol)
    {
        const json_t *cm = json_object_get(vol, "configMap"), *sec = json_object_get(vol, "secret");
        if (cm && k1s_js(cm, "name"))
            add_fetch(v, "cm", k1s_js(cm, "name"));
        if (sec && k1s_js(sec, "secretName"))
            add_fetch(v, "secret", k1s_js(sec, "secretName"));
        char claim[512];
        claim_name(pod, vol, claim, sizeof(claim));
        if (*claim)
            add_fetch(v, "pvc", claim);
        size_t j;
        const json_t *s;
        json_array_foreach(k1s_jpath(vol, "projected.sources"), j, s)
        {
            if (k1s_jpath_str(s, "configMap.name"))
                add_fetch(v, "cm", k1s_jpath_str(s, "configMap.name"));
            if (k1s_jpath_str(s, "secret.name"))
                add_fetch(v, "secret", k1s_jpath_str(s, "secret.name"));
            if (json_object_get(s, "serviceAccountToken")) {
                char key[512];
                snprintf(key, sizeof(key), "token:%s/%zu", k1s_js(vol, "name"), j);
                add_fetch(v, key, "");
            }
        }
    }
    env_refs(pod, add_env_ref, v);
    pull_secret_refs(pod, add_env_ref, v);
    v->pending = v->nf + 1;
    const char *ns = k1s_jpath_str(pod, "metadata.namespace");
    for (size_t k = 0; k < v->nf; k++) {
        fetch_t *f = &v->f[k];
        fetch_ref_t *fr = k1s_xcalloc(1, sizeof(*fr));
        fr->v = v;
        fr->i = k;
        f->ref = fr;
        if (!strcmp(f->kind, "cm"))
            f->req = k1s_client_get(client, &cm_gvr, ns, f->name, fetched_cb, fr);
        else if (!strcmp(f->kind, "secret"))
            f->req = k1s_client_get(client, &secret_gvr, ns, f->name, fetched_cb, fr);
        else if (!strcmp(f->kind, "pvc"))
            f->req = k1s_client_get(client, &pvc_gvr, ns, f->name, fetched_cb, fr);
        else {
            /* token:<volume>/<index>: find the source again */
            const char *slash = strrchr(f->kind, '/');
            size_t idx = slash ? (size_t)atoi(slash + 1) : 0;
            char vname[256];
            snprintf(vname, sizeof(vname), "%.*s", slash ? (int)(slash - f->kind - 6) : 0,
                     f->kind + 6);
            const json_t *tok = NULL;
            json_array_foreach(k1s_jpath(pod, "spec.volumes"), i, vol)
            {
                if (k1s_streq(k1s_js(vol, "name"), vname))
                    tok = json_object_get(json_array_get(k1s_jpath(vol, "projected.sources"), idx),
                                          "serviceAccountToken");
            }
            char *fresh = v->refresh ? fresh_token(v, vname, tok) : NULL;
            if (fresh) {
                f->keep = fresh;
                f->ref = NULL;
                free(fr);
                v->pending--;
                continue;
            }
            request_token(v, f, tok, fr);
        }
    }
    /* the extra count keeps finish() from running inside this call: with nothing to fetch,
     * it runs on the next turn of the loop */
    if (--v->pending == 0) {
        v->later = evtimer_new(k1s_client_base(client), finish_later, v);
        struct timeval tv = {0, 0};
        evtimer_add(v->later, &tv);
    }
    return v;
}

void k1s_vols_free(k1s_vols_t *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nf; i++) {
        if (v->f[i].req) {
            k1s_client_cancel(v->f[i].req);
            free(v->f[i].ref);
        }
        free(v->f[i].kind);
        free(v->f[i].name);
        free(v->f[i].keep);
        json_decref(v->f[i].obj);
    }
    free(v->f);
    if (v->later)
        event_free(v->later);
    json_decref(v->pod);
    free(v->pod_dir);
    free(v->pod_ip);
    free(v);
}

bool k1s_vols_needed(const json_t *pod)
{
    size_t i;
    const json_t *vol;
    json_array_foreach(k1s_jpath(pod, "spec.volumes"), i, vol)
    {
        if (json_object_get(vol, "configMap") || json_object_get(vol, "secret") ||
            json_object_get(vol, "downwardAPI") || json_object_get(vol, "projected") ||
            json_object_get(vol, "persistentVolumeClaim") || json_object_get(vol, "ephemeral"))
            return true;
        const char *hp_type = k1s_jpath_str(vol, "hostPath.type");
        if (hp_type && *hp_type)
            return true;
    }
    int n = 0;
    env_refs(pod, count_ref, &n);
    pull_secret_refs(pod, count_ref, &n);
    return n > 0;
}
