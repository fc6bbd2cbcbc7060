/*
 * `k1s ctr images pull|ls|rm|import|inspect|mount|unmount|gc`: the image store from the
 * command line, working on the agent's data dir directly (so also while the agent is down;
 * the store's lock file keeps the two from stepping on each other). Pull shows per-layer
 * progress when stderr is a terminal and is quiet otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "runtime/image.h"
#include "runtime/snapshot.h"

typedef struct opts {
    const char *data_dir;
    const char *registries;
    const char *user; /* "user:password" for pull */
    bool quiet, rw, progress;
    const char *key;
    char **args;
    int nargs;
} opts_t;

static void usage(FILE *f)
{
    fprintf(
        f,
        "Usage: k1s ctr images COMMAND [OPTIONS] [ARGS]\n\n"
        "Commands:\n"
        "  pull REF...         Pull images (several at once) from registries or mirrors\n"
        "  ls                  List images (-q: names only)\n"
        "  rm REF...           Remove images and free what nothing else uses\n"
        "  import [FILE...]    Import OCI-archive or docker-save tarballs (.tar, .gz, .zst);\n"
        "                      no FILE: the new or changed ones in D/agent/images\n"
        "  inspect REF         Print an image's record and config as JSON\n"
        "  mount REF DIR       Mount the image's root filesystem on DIR (read-only unless --rw)\n"
        "  unmount KEY DIR     Unmount DIR mounted with --key KEY and drop its upper dir\n"
        "  mounts              List the recorded mounts (containers' root filesystems)\n"
        "  gc                  Free blobs and layers no image or container uses\n"
        "  df                  Disk usage of the store and its filesystem, as JSON\n\n"
        "Options:\n"
        "  --data-dir D          k1s data dir (default /var/lib/k1s; the store is in D/agent)\n"
        "  --private-registry F  registries.yaml (default /etc/k1s/registries.yaml)\n"
        "  --user USER:PASSWORD  credentials for pull (else from registries.yaml)\n"
        "  --progress            pull: show progress also when stderr is not a terminal\n"
        "  --key KEY             mount: the key recording the mount (default: the dir's name)\n"
        "  --rw                  mount: writable, with its own upper dir\n"
        "  -q                    ls: names only\n");
}

static int parse(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->data_dir = "/var/lib/k1s";
    o->registries = "/etc/k1s/registries.yaml";
    o->args = calloc((size_t)argc + 1, sizeof(char *));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        const char *names[] = {"--data-dir", "--private-registry", "--user", "--key"};
        const char **dsts[] = {&o->data_dir, &o->registries, &o->user, &o->key};
        for (size_t k = 0; k < 4; k++) {
            size_t n = strlen(names[k]);
            if (!strncmp(a, names[k], n) && a[n] == '=') {
                *dsts[k] = a + n + 1;
                dst = dsts[k];
            } else if (!strcmp(a, names[k])) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "k1s ctr images: %s needs a value\n", a);
                    return -1;
                }
                *dsts[k] = argv[++i];
                dst = dsts[k];
            }
        }
        if (dst)
            continue;
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
            o->quiet = true;
        else if (!strcmp(a, "--rw"))
            o->rw = true;
        else if (!strcmp(a, "--progress"))
            o->progress = true;
        else if (!strcmp(a, "-d") && i + 1 < argc)
            o->data_dir = argv[++i];
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "k1s ctr images: unknown flag %s (see k1s ctr images --help)\n", a);
            return -1;
        } else
            o->args[o->nargs++] = argv[i];
    }
    return 0;
}

static int open_store(const opts_t *o, k1s_image_store_t **st)
{
    k1s_err_t err = {0};
    k1s_registries_t *reg = NULL;
    if (k1s_registries_load(o->registries, &reg, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return -1;
    }
    char *dir = k1s_xasprintf("%s/agent", o->data_dir);
    int r = k1s_image_store_open(dir, reg, st, &err);
    free(dir);
    if (r < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void human(uint64_t n, char out[32])
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, 32, "%llu B", (unsigned long long)n);
    else
        snprintf(out, 32, "%.1f %s", v, u[i]);
}

typedef struct tty_progress {
    size_t layer;
    const char *status;
    bool started;
    bool tty;                 /* else (--progress into a file) one line per layer and step */
    unsigned char seen[1024]; /* layers reported in this step (non-tty) */
} tty_progress_t;

static void on_progress(const k1s_image_progress_t *p, void *arg)
{
    tty_progress_t *t = arg;
    /* layers download in parallel: on a terminal one line per step, showing the layer that
     * moved last; into a file one line per layer and step */
    bool step = !t->started || !k1s_streq(t->status, p->status);
    if (step)
        memset(t->seen, 0, sizeof(t->seen));
    bool first = !t->seen[p->layer % sizeof(t->seen)];
    t->seen[p->layer % sizeof(t->seen)] = 1;
    if (!t->tty && !step && !first)
        return;
    if (t->started && (step || !t->tty))
        fputc('\n', stderr);
    t->started = true;
    t->layer = p->layer;
    t->status = p->status;
    char a[32], b[32], c[32], d[32];
    human(p->layer_done, a);
    human(p->layer_total, b);
    human(p->done, c);
    human(p->total, d);
    if (p->digest)
        fprintf(stderr, "%slayer %zu/%zu %.19s: %-11s %10s / %-10s (total %s / %s)",
                t->tty ? "\r\033[K" : "", p->layer + 1, p->n_layers, p->digest, p->status, a, b, c,
                d);
    else
        fprintf(stderr, "%s%s: %s", t->tty ? "\r\033[K" : "", p->ref, p->status);
    fflush(stderr);
}

/* Several references: pulled in parallel through the agent's asynchronous API. */
static struct event_base *pull_base;

typedef struct multi {
    int left, failed;
    struct event_base *base;
    bool tty;
} multi_t;

typedef struct one {
    multi_t *m;
    const char *ref;
} one_t;

static void multi_progress(const k1s_image_progress_t *p, void *arg)
{
    one_t *one = arg;
    char a[32], b[32];
    human(p->done, a);
    human(p->total, b);
    fprintf(stderr, "%s: %s %s / %s\n", one->ref, p->status, a, b);
}

static void multi_done(int rc, const k1s_image_t *img, const k1s_err_t *err, void *arg)
{
    one_t *one = arg;
    if (rc < 0) {
        fprintf(stderr, "k1s: %s\n", err->msg);
        one->m->failed++;
    } else if (one->m->tty) {
        printf("%s: pulled %s (image ID %s)\n", img->name, img->repo_digest, img->id);
    }
    if (--one->m->left == 0)
        event_base_loopbreak(one->m->base);
}

static int pull_many(k1s_image_store_t *st, const opts_t *o, k1s_image_pull_opts_t *po)
{
    multi_t m = {o->nargs, 0, event_base_new(), isatty(STDOUT_FILENO)};
    one_t *ones = k1s_xcalloc((size_t)o->nargs, sizeof(*ones));
    int started = 0;
    for (int i = 0; i < o->nargs; i++) {
        ones[i].m = &m;
        ones[i].ref = o->args[i];
        k1s_image_pull_opts_t opts = *po;
        opts.progress = o->progress || isatty(STDERR_FILENO) ? multi_progress : NULL;
        opts.progress_arg = &ones[i];
        int r = k1s_image_pull_async(st, m.base, o->args[i], &opts, multi_done, &ones[i], NULL);
        if (r < 0) {
            fprintf(stderr, "k1s: pull %s: %s\n", o->args[i], strerror(-r));
            m.failed++;
            m.left--;
        } else {
            started++;
        }
    }
    if (started && m.left > 0)
        event_base_dispatch(m.base);
    free(ones);
    pull_base = m.base; /* freed after the store, whose event it holds */
    return m.failed ? 1 : 0;
}

static int cmd_pull(k1s_image_store_t *st, const opts_t *o)
{
    if (o->nargs < 1) {
        fprintf(stderr, "Usage: k1s ctr images pull [--user USER:PASSWORD] REF...\n");
        return 2;
    }
    k1s_image_pull_opts_t po = {0};
    tty_progress_t tp = {0};
    k1s_image_cred_t cred = {0};
    char *user = NULL;
    if (o->user) {
        k1s_image_ref_t ref;
        k1s_err_t err = {0};
        if (k1s_image_ref_parse(o->args[0], &ref, &err) < 0) {
            fprintf(stderr, "k1s: %s\n", err.msg);
            return 1;
        }
        user = k1s_xstrdup(o->user);
        char *colon = strchr(user, ':');
        if (colon)
            *colon = 0;
        cred.registry = k1s_xstrdup(ref.domain);
        cred.username = user;
        cred.password = colon ? colon + 1 : "";
        k1s_image_ref_clear(&ref);
        po.creds = &cred;
        po.n_creds = 1;
    }
    if (o->nargs > 1) {
        int r = pull_many(st, o, &po);
        free(user);
        free((char *)cred.registry);
        return r;
    }
    tp.tty = isatty(STDERR_FILENO);
    if (o->progress || tp.tty) {
        po.progress = on_progress;
        po.progress_arg = &tp;
    }
    k1s_err_t err = {0};
    k1s_image_t *img = NULL;
    int r = k1s_image_pull(st, o->args[0], &po, &img, &err);
    if (tp.started)
        fputc('\n', stderr);
    free(user);
    free((char *)cred.registry);
    if (r < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    if (isatty(STDOUT_FILENO))
        printf("%s: pulled %s (image ID %s)\n", img->name, img->repo_digest, img->id);
    k1s_image_free(img);
    return 0;
}

static int cmd_ls(k1s_image_store_t *st, const opts_t *o)
{
    k1s_err_t err = {0};
    k1s_image_t **v;
    size_t n;
    if (k1s_image_list(st, &v, &n, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    if (!o->quiet)
        printf("%-60s %-13s %-10s %s\n", "IMAGE", "IMAGE ID", "SIZE", "UNPACKED");
    for (size_t i = 0; i < n; i++) {
        char a[32], b[32];
        human(v[i]->size, a);
        human(v[i]->unpacked, b);
        if (o->quiet)
            printf("%s\n", v[i]->name);
        else
            printf("%-60s %-13.13s %-10s %s\n", v[i]->name, v[i]->id ? v[i]->id + 7 : "", a, b);
    }
    k1s_image_list_free(v, n);
    return 0;
}

static int cmd_rm(k1s_image_store_t *st, const opts_t *o)
{
    if (o->nargs < 1) {
        fprintf(stderr, "Usage: k1s ctr images rm REF...\n");
        return 2;
    }
    int rc = 0;
    for (int i = 0; i < o->nargs; i++) {
        k1s_err_t err = {0};
        if (k1s_image_remove(st, o->args[i], &err) < 0) {
            fprintf(stderr, "k1s: %s\n", err.msg);
            rc = 1;
        }
    }
    return rc;
}

static int cmd_import(k1s_image_store_t *st, const opts_t *o)
{
    if (o->nargs < 1) { /* what the agent does at start */
        k1s_err_t err = {0};
        if (k1s_image_import_dir(st, &err) == 0)
            return 0;
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < o->nargs; i++) {
        k1s_err_t err = {0};
        char **names = NULL;
        if (k1s_image_import(st, o->args[i], &names, &err) < 0) {
            fprintf(stderr, "k1s: %s\n", err.msg);
            rc = 1;
            continue;
        }
        for (char **n = names; *n; n++)
            printf("imported %s\n", *n);
        k1s_image_strv_free(names);
    }
    return rc;
}

static json_t *strv_json(char **v)
{
    if (!v)
        return json_null();
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static int cmd_inspect(k1s_image_store_t *st, const opts_t *o)
{
    if (o->nargs != 1) {
        fprintf(stderr, "Usage: k1s ctr images inspect REF\n");
        return 2;
    }
    k1s_err_t err = {0};
    k1s_image_t *img;
    k1s_image_config_t *c;
    if (k1s_image_get(st, o->args[0], &img, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    if (k1s_image_config_get(st, img, &c, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        k1s_image_free(img);
        return 1;
    }
    json_t *layers = json_array();
    for (size_t i = 0; i < img->n_layers; i++)
        json_array_append_new(
            layers,
            json_pack("{s:s,s:s,s:I,s:s,s:s}", "digest", img->layers[i].digest, "mediaType",
                      img->layers[i].media_type ?: "", "size", (json_int_t)img->layers[i].size,
                      "diffID", img->layers[i].diff_id, "chainID", img->layers[i].chain_id));
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:s?,s:o,s:{s:o,s:o,s:o,s:s?,s:s?,s:o,s:O?,s:s?,s:s?}}", "name",
        img->name, "id", img->id, "repoDigest", img->repo_digest, "manifestDigest",
        img->manifest_digest, "size", (json_int_t)img->size, "unpacked", (json_int_t)img->unpacked,
        "created", img->created, "layers", layers, "config", "Entrypoint", strv_json(c->entrypoint),
        "Cmd", strv_json(c->cmd), "Env", strv_json(c->env), "WorkingDir", c->working_dir, "User",
        c->user, "ExposedPorts", strv_json(c->exposed_ports), "Labels", c->labels, "os", c->os,
        "architecture", c->architecture);
    char *s = json_dumps(j, JSON_INDENT(2));
    printf("%s\n", s);
    free(s);
    json_decref(j);
    k1s_image_config_free(c);
    k1s_image_free(img);
    return 0;
}

static int cmd_mount(k1s_image_store_t *st, const opts_t *o)
{
    if (o->nargs != 2) {
        fprintf(stderr, "Usage: k1s ctr images mount [--rw] [--key KEY] REF DIR\n");
        return 2;
    }
    const char *key = o->key;
    if (!key) {
        const char *s = strrchr(o->args[1], '/');
        key = s && s[1] ? s + 1 : o->args[1];
    }
    k1s_err_t err = {0};
    if (k1s_snapshot_mount(st, o->args[0], key, o->args[1], !o->rw, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int cmd_unmount(k1s_image_store_t *st, const opts_t *o)
{
    if (o->nargs != 2) {
        fprintf(stderr, "Usage: k1s ctr images unmount KEY DIR\n");
        return 2;
    }
    k1s_err_t err = {0};
    if (k1s_snapshot_unmount(st, o->args[0], o->args[1], &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int cmd_mounts(k1s_image_store_t *st, const opts_t *o)
{
    (void)o;
    k1s_err_t err = {0};
    k1s_snapshot_mount_info_t *m;
    size_t n;
    if (k1s_snapshot_mounts(st, &m, &n, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    printf("%-24s %-13s %-3s %-40s %s\n", "KEY", "IMAGE ID", "RW", "TARGET", "IMAGE");
    for (size_t i = 0; i < n; i++)
        printf("%-24s %-13.13s %-3s %-40s %s\n", m[i].key,
               strlen(m[i].image_id) > 7 ? m[i].image_id + 7 : m[i].image_id,
               m[i].readonly ? "no" : "yes", m[i].target, m[i].image);
    k1s_snapshot_mounts_free(m, n);
    return 0;
}

static int cmd_gc(k1s_image_store_t *st, const opts_t *o)
{
    (void)o;
    k1s_err_t err = {0};
    uint64_t freed = 0;
    if (k1s_image_store_gc(st, &freed, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    char h[32];
    human(freed, h);
    printf("freed %s\n", h);
    return 0;
}

static int cmd_df(k1s_image_store_t *st, const opts_t *o)
{
    (void)o;
    k1s_err_t err = {0};
    k1s_image_fs_usage_t u;
    if (k1s_image_store_usage(st, &u, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        return 1;
    }
    printf("{\"contentBytes\": %llu, \"snapshotBytes\": %llu, \"inodes\": %llu, "
           "\"fsCapacity\": %llu, \"fsAvailable\": %llu}\n",
           (unsigned long long)u.content_bytes, (unsigned long long)u.snapshot_bytes,
           (unsigned long long)u.inodes_used_by_images, (unsigned long long)u.fs_capacity,
           (unsigned long long)u.fs_available);
    return 0;
}

int k1s_ctr_images(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(k1s_image_store_t *st, const opts_t *o);
    } cmds[] = {
        {"pull", cmd_pull},       {"ls", cmd_ls},       {"list", cmd_ls},
        {"rm", cmd_rm},           {"remove", cmd_rm},   {"import", cmd_import},
        {"inspect", cmd_inspect}, {"mount", cmd_mount}, {"unmount", cmd_unmount},
        {"gc", cmd_gc},           {"df", cmd_df},       {"mounts", cmd_mounts},
    };
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < K1S_ARRAY_SIZE(cmds); i++) {
        if (strcmp(argv[1], cmds[i].name) != 0)
            continue;
        opts_t o;
        if (parse(argc, argv, &o) < 0) {
            free(o.args);
            return 2;
        }
        k1s_image_store_t *st;
        if (open_store(&o, &st) < 0) {
            free(o.args);
            return 1;
        }
        int r = cmds[i].fn(st, &o);
        k1s_image_store_free(st);
        if (pull_base)
            event_base_free(pull_base);
        free(o.args);
        return r;
    }
    fprintf(stderr, "k1s ctr images: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
