/*
 * The agent's image store: a containerd-sized subset written for Kubernetes.
 *
 * Everything lives under the agent directory (`<data-dir>/agent`):
 *
 *   content/blobs/sha256/<hex>   content-addressed blobs (manifests, configs, layers); a blob is
 *                                written to content/ingest/<hex>, its digest checked, then renamed
 *   snapshots/<n>/fs             one unpacked layer each, keyed by chain ID; whiteouts are kept in
 *                                overlayfs form (0/0 character devices, trusted.overlay.opaque)
 *   snapshots/rw/<key>/          per-container upper/work dirs of mounted root filesystems
 *   images.json                  the index: image name -> manifest, config, layers, chain IDs,
 *                                size; chain ID -> snapshot; container key -> mounted chain
 *   images.lock                  flock'ed around every change of the index (the CLI and the
 *                                agent may work on one store at once)
 *   images/                      air-gap tarballs imported at agent start
 *
 * The index is one small JSON file rewritten atomically (temp file, fsync, rename) rather than
 * an SQLite table: it holds tens of entries, changes only on pull/import/remove/mount, and is
 * readable with `jq` on a gateway. Crash-only: blobs and snapshot dirs are complete before the
 * index names them, so a kill -9 at any point leaves at worst files the index does not name;
 * opening the store removes them (unless another process is pulling into the same store).
 *
 * References are normalised as containerd/Kubernetes do: `busybox` is
 * `docker.io/library/busybox:latest`; `host:port/ns/name:tag` and `name@sha256:<hex>` are kept.
 * An image's ID is its config digest; its repo digest is `<name>@<manifest digest>` (what
 * kubelet reports as imageID).
 *
 * Threads: every function here may be called from any thread; the index is guarded by a mutex
 * and the flock. Pulls take long: the agent uses k1s_image_pull_async(), which runs the pull on
 * a worker thread and completes on its libevent loop; the CLI uses the blocking k1s_image_pull().
 * Everything else is cheap (reads of a small JSON file, a mount(2)), except k1s_image_remove()
 * and k1s_image_store_gc(), which delete directory trees, and imports.
 *
 * How the kubelet uses it (see also runtime/snapshot.h):
 *
 *   k1s_registries_load(private_registry, &reg, &err);
 *   k1s_image_store_open("<data-dir>/agent", reg, &st, &err);
 *   k1s_image_import_dir_async(st, base, on_airgap_done, NULL);      // k3s's agent/images
 *   // per container, by imagePullPolicy:
 *   if (k1s_image_get(st, image, &img, NULL) == -ENOENT || policy == Always)
 *       k1s_image_pull_async(st, base, image, &(k1s_image_pull_opts_t){creds, n}, on_pulled,
 *                            pod, &req);   // Pulling/Pulled events; rc < 0: ErrImagePull
 *   k1s_image_config_get(st, img, &cfg, &err);                // Entrypoint, Cmd, Env, ...
 *   k1s_snapshot_mount(st, img->id, container_id, "<bundle>/rootfs", false, &err);
 *   // status: image = img->name, imageID = img->repo_digest
 *   k1s_snapshot_unmount(st, container_id, "<bundle>/rootfs", &err);   // container removed
 *   // image GC: k1s_image_store_usage(), then k1s_image_remove() of unused images
 */
#ifndef K1S_RUNTIME_IMAGE_H
#define K1S_RUNTIME_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "runtime/registries.h"

struct event_base;

/* ---- references ---------------------------------------------------------------------------- */

typedef struct k1s_image_ref {
    char *domain; /* "docker.io", "127.0.0.1:5000" */
    char *path;   /* "library/busybox" */
    char *tag;    /* "latest"; NULL when only a digest was given */
    char *digest; /* "sha256:<64 hex>" or NULL */
} k1s_image_ref_t;

/*
 * Parses and normalises an image reference (docker's ParseNormalizedNamed): the first path
 * component is a registry when it holds a '.' or ':' or is "localhost"; otherwise the registry
 * is docker.io and single names get "library/"; no tag and no digest means ":latest".
 * Returns 0, or -EINVAL with err saying what is wrong. On success clear *out with
 * k1s_image_ref_clear().
 */
int k1s_image_ref_parse(const char *s, k1s_image_ref_t *out, k1s_err_t *err);
void k1s_image_ref_clear(k1s_image_ref_t *r);
/* "domain/path[:tag][@digest]" (new string). */
char *k1s_image_ref_string(const k1s_image_ref_t *r);
/* "domain/path" (new string). */
char *k1s_image_ref_name(const k1s_image_ref_t *r);

/* ---- the store ----------------------------------------------------------------------------- */

typedef struct k1s_image_store k1s_image_store_t;

/*
 * Opens (creating if needed) the store in agent_dir and repairs it: leftovers of interrupted
 * pulls (ingest files, unindexed snapshot dirs) are removed when no other process is pulling.
 * registries: the parsed registries.yaml (taken over; may be NULL for none).
 * Returns 0 and *out, or -errno with err set.
 */
int k1s_image_store_open(const char *agent_dir, k1s_registries_t *registries,
                         k1s_image_store_t **out, k1s_err_t *err);
/* Waits for pulls still running on workers, then frees; with an event base attached
 * (k1s_image_pull_async), free the store before the base. NULL is fine. */
void k1s_image_store_free(k1s_image_store_t *st);
const char *k1s_image_store_dir(const k1s_image_store_t *st);

typedef struct k1s_image_layer {
    char *digest;     /* compressed blob digest */
    char *media_type; /* as in the manifest */
    uint64_t size;    /* compressed size */
    char *diff_id;    /* uncompressed digest, from the config */
    char *chain_id;   /* snapshot key */
} k1s_image_layer_t;

typedef struct k1s_image {
    char *name;            /* normalised reference it is stored under */
    char *id;              /* config digest, "sha256:..." */
    char *manifest_digest; /* "sha256:..." */
    char *repo_digest;     /* "docker.io/library/busybox@sha256:<manifest>" */
    uint64_t size;         /* manifest + config + compressed layers, as `crictl images` */
    uint64_t unpacked;     /* bytes in the image's snapshots */
    char *created;         /* when it was pulled or imported (RFC 3339) */
    char *last_used;       /* when a container was last created from it (RFC 3339), or NULL */
    bool pinned;           /* imported from the air-gap dir: never garbage collected */
    size_t n_layers;
    k1s_image_layer_t *layers; /* bottom first */
} k1s_image_t;

void k1s_image_free(k1s_image_t *img);

/*
 * Finds an image by reference (normalised first: "busybox" finds
 * docker.io/library/busybox:latest), by image ID ("sha256:<hex>" or a prefix of at least 6 hex
 * digits of it), or by repo digest. Returns 0 and a new *out, -ENOENT (err: "image ... not
 * found") or another -errno.
 */
int k1s_image_get(k1s_image_store_t *st, const char *ref, k1s_image_t **out, k1s_err_t *err);

/* All images, sorted by name. *out is a new array of new images; free with k1s_image_list_free. */
int k1s_image_list(k1s_image_store_t *st, k1s_image_t ***out, size_t *n, k1s_err_t *err);
void k1s_image_list_free(k1s_image_t **imgs, size_t n);

/* What the OCI spec generator needs from the image config. Arrays are NULL-terminated. */
typedef struct k1s_image_config {
    char **entrypoint;
    char **cmd;
    char **env; /* "K=V" */
    char *working_dir;
    char *user;
    char **exposed_ports; /* "80/tcp" */
    json_t *labels;       /* object (new reference), or NULL */
    char *os, *architecture;
    json_t *raw; /* the whole config blob (new reference) */
} k1s_image_config_t;

/* Reads the config of img from the store. Returns 0 and a new *out, or -errno with err set. */
int k1s_image_config_get(k1s_image_store_t *st, const k1s_image_t *img, k1s_image_config_t **out,
                         k1s_err_t *err);
void k1s_image_config_free(k1s_image_config_t *c);

/*
 * Removes the name ref (as k1s_image_get finds it; an image ID removes every name of that
 * image) and then frees what nothing references any more (k1s_image_store_gc). Snapshots
 * mounted for containers stay until they are unmounted. -ENOENT when there is no such image.
 */
int k1s_image_remove(k1s_image_store_t *st, const char *ref, k1s_err_t *err);

/*
 * Garbage collection: deletes blobs not referenced by an image and snapshots not used by an
 * image or a mounted container. *freed (may be NULL) receives the bytes given back.
 */
int k1s_image_store_gc(k1s_image_store_t *st, uint64_t *freed, k1s_err_t *err);

typedef struct k1s_image_fs_usage {
    uint64_t content_bytes;  /* blobs */
    uint64_t snapshot_bytes; /* unpacked layers (as recorded when unpacked) */
    uint64_t fs_capacity;    /* the filesystem holding the store (statvfs) */
    uint64_t fs_available;
    uint64_t inodes_used_by_images; /* files in snapshots, as recorded */
} k1s_image_fs_usage_t;

/* Disk usage of the store and its filesystem (kubelet's imagefs stats and image GC input). */
int k1s_image_store_usage(k1s_image_store_t *st, k1s_image_fs_usage_t *out, k1s_err_t *err);

/* ---- pulling ------------------------------------------------------------------------------- */

typedef struct k1s_image_progress {
    const char *ref;    /* the normalised reference being pulled */
    const char *status; /* "resolving", "downloading", "unpacking", "done" */
    size_t layer;       /* index of the layer concerned (bottom = 0) */
    size_t n_layers;
    const char *digest; /* the layer's digest, or NULL */
    uint64_t layer_done, layer_total;
    uint64_t done, total; /* bytes of all layers: downloaded (or already present) / size */
} k1s_image_progress_t;

typedef void (*k1s_image_progress_fn)(const k1s_image_progress_t *p, void *arg);

/* Credentials given with one pull (imagePullSecrets); they win over registries.yaml. */
typedef struct k1s_image_cred {
    const char *registry; /* "docker.io", "host:port" */
    const char *username, *password;
} k1s_image_cred_t;

/*
 * Turns the content of a kubernetes.io/dockerconfigjson Secret (`{"auths": {...}}`) or a
 * legacy .dockercfg (the auths object itself) into credentials, as kubelet does with
 * imagePullSecrets. Keys may be hosts or URLs ("https://index.docker.io/v1/" is docker.io);
 * each entry has username/password or auth (base64 "user:password"). Entries that cannot be
 * used are skipped. *creds is a new array (strings owned by it; free with
 * k1s_image_creds_free); returns 0, or -EINVAL when data is not a JSON object.
 */
int k1s_image_creds_from_dockerconfig(const char *data, size_t len, k1s_image_cred_t **creds,
                                      size_t *n);
void k1s_image_creds_free(k1s_image_cred_t *creds, size_t n);

typedef struct k1s_image_pull_opts {
    const k1s_image_cred_t *creds;
    size_t n_creds;
    /* blocking form: called often (per chunk) on the pulling thread or on one of its layer
     * download threads, never two at once; async form: see k1s_image_pull_async */
    k1s_image_progress_fn progress;
    void *progress_arg;
} k1s_image_pull_opts_t;

/*
 * Pulls ref and unpacks it, blocking: resolves the registry endpoints (mirrors, rewrites and
 * auth from registries.yaml, then the registry itself), fetches the manifest (an index is
 * resolved to linux/<this arch>), the config and every layer whose snapshot is missing,
 * verifying every digest, and records the image under its normalised name. Layers already
 * unpacked are not downloaded again; up to three layers download at once. opts may be NULL.
 * Returns 0 and a new *out (may be NULL if not wanted), or -errno with err telling what to do:
 * "pull docker.io/library/busybox:1.36: registry answered 401 Unauthorized (configure
 * credentials in /etc/k1s/registries.yaml)". -ENOENT: the image does not exist;
 * -EACCES: denied; -EHOSTUNREACH/-ECONNREFUSED/-ETIMEDOUT: registry unreachable; -EBADMSG:
 * a digest did not match or the content is malformed.
 */
int k1s_image_pull(k1s_image_store_t *st, const char *ref, const k1s_image_pull_opts_t *opts,
                   k1s_image_t **out, k1s_err_t *err);

/* Called on the event base's thread when an async pull ends. img is valid only during the
 * call (copy what you keep); err is set when rc < 0. */
typedef void (*k1s_image_pull_done_fn)(int rc, const k1s_image_t *img, const k1s_err_t *err,
                                       void *arg);

typedef struct k1s_image_pull_req k1s_image_pull_req_t;

/*
 * Starts pulling ref on a worker thread and returns at once. done(arg) runs later on base's
 * loop thread (never from inside this call). opts->progress, if set, also runs on the loop
 * thread, coalesced (about once per 64 KiB and per step). Two pulls of the same reference
 * share one worker: the second gets its own callbacks and the same result (the first one's
 * credentials are used).
 * The first call attaches the store to base (one base per store). *req (may be NULL) lets the
 * caller cancel its interest; the worker still finishes the pull.
 * Returns 0, or -errno (thread creation failed).
 */
int k1s_image_pull_async(k1s_image_store_t *st, struct event_base *base, const char *ref,
                         const k1s_image_pull_opts_t *opts, k1s_image_pull_done_fn done, void *arg,
                         k1s_image_pull_req_t **req);
/* The callbacks of req will not be called (call on the loop thread, before done ran). */
void k1s_image_pull_cancel(k1s_image_pull_req_t *req);
/* Bytes done/total of req's pull so far (loop thread). */
void k1s_image_pull_progress(const k1s_image_pull_req_t *req, uint64_t *done, uint64_t *total);

/* ---- import -------------------------------------------------------------------------------- */

/*
 * Imports an image tarball: OCI layout (`skopeo copy ... oci-archive:`) or `docker save`
 * format, plain, gzip or zstd compressed. Every image in it that carries a name
 * (io.containerd.image.name or a full org.opencontainers.image.ref.name annotation; RepoTags)
 * is recorded and unpacked. names (may be NULL) receives a new NULL-terminated array of the
 * names imported. Returns 0, or -errno with err set (-EBADMSG: not an image archive).
 */
int k1s_image_import(k1s_image_store_t *st, const char *path, char ***names, k1s_err_t *err);

/*
 * Imports every tarball (.tar, .tar.gz, .tgz, .tar.zst, ...) in <agent_dir>/images (air-gap
 * images, as k3s does at start). Files whose size and mtime match the last import are
 * skipped. Returns the number of tarballs that failed, 0 when all went well; err (may be
 * NULL) then holds their errors joined by "; ", for the caller to log.
 */
int k1s_image_import_dir(k1s_image_store_t *st, k1s_err_t *err);

/*
 * The same on a worker thread, for the agent's start: done(failed, err, arg) runs on base's
 * loop thread when all files are through (pulls may run meanwhile; err is set when failed > 0
 * and valid during the call). Returns 0 or -errno.
 */
int k1s_image_import_dir_async(k1s_image_store_t *st, struct event_base *base,
                               void (*done)(int failed, const k1s_err_t *err, void *arg),
                               void *arg);

/* Frees a NULL-terminated array of strings (NULL is fine). */
void k1s_image_strv_free(char **v);

#endif
