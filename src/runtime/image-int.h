/*
 * Internals shared by the image store's files: the store struct, blobs, the index and the
 * step that turns downloaded/imported blobs into snapshots and an image record.
 */
#ifndef K1S_RUNTIME_IMAGE_INT_H
#define K1S_RUNTIME_IMAGE_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>

#include "runtime/image.h"

#define K1S_MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define K1S_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define K1S_MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define K1S_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define K1S_MEDIA_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define K1S_MEDIA_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define K1S_MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define K1S_MEDIA_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"

/* Manifests, indexes and configs larger than this are refused (containerd uses 4 MiB). */
#define K1S_IMAGE_META_MAX (4u << 20)

typedef struct k1s_image_async k1s_image_async_t;

struct k1s_image_store {
    char *dir;        /* the agent dir */
    char *blob_dir;   /* content/blobs/sha256 */
    char *ingest_dir; /* content/ingest */
    char *snap_dir;   /* snapshots */
    char *index_path; /* images.json */
    char *lock_path;  /* images.lock */
    char *gc_lock;    /* gc.lock: shared while pulling, exclusive while collecting */
    k1s_registries_t *reg;
    pthread_mutex_t mu; /* guards the index within this process */
    int lock_fd;        /* the flock'ed images.lock while mu is held */
    k1s_image_async_t *async;
};

/* ---- digests ---- */
/* "sha256:<hex>" of data (out must hold 72 bytes). */
void k1s_sha256_digest(const void *data, size_t len, char out[72]);
/* Finishes ctx into "sha256:<hex>" and frees it. */
void k1s_sha256_final(EVP_MD_CTX *ctx, char out[72]);
bool k1s_digest_valid(const char *d);

/* ---- blobs ---- */
char *k1s_blob_path(const k1s_image_store_t *st, const char *digest);
bool k1s_blob_exists(const k1s_image_store_t *st, const char *digest);
/* Reads a blob of at most max bytes (NUL-terminated). */
int k1s_blob_read(const k1s_image_store_t *st, const char *digest, size_t max, char **data,
                  size_t *len, k1s_err_t *err);
/* Stores data as a blob; digest_out (may be NULL) receives its digest; expected (may be NULL)
 * must match. */
int k1s_blob_put(k1s_image_store_t *st, const void *data, size_t len, const char *expected,
                 char digest_out[72], k1s_err_t *err);

/*
 * Writing a blob: begin opens and flocks content/ingest/<hex> (one writer per digest across
 * threads and processes). *have is true when the blob turned out to exist already (nothing to
 * write; call _abort). Otherwise write the bytes with _write and _commit, which checks digest
 * and size (expected_size 0: unknown) and renames into place.
 */
typedef struct k1s_blob_writer {
    int fd;
    char *path;
    char *final;
    char digest[72];
    EVP_MD_CTX *md;
    uint64_t written;
} k1s_blob_writer_t;
int k1s_blob_writer_begin(k1s_image_store_t *st, const char *digest, k1s_blob_writer_t *w,
                          bool *have, k1s_err_t *err);
/* A writer for content whose digest is not known in advance (imports): a temp file. */
int k1s_blob_writer_begin_unknown(k1s_image_store_t *st, k1s_blob_writer_t *w, k1s_err_t *err);
int k1s_blob_writer_write(k1s_blob_writer_t *w, const void *data, size_t len);
/* Resets to empty (retrying a download). */
int k1s_blob_writer_reset(k1s_blob_writer_t *w);
/* digest_out (may be NULL) receives the digest (useful for the unknown form). */
int k1s_blob_writer_commit(k1s_blob_writer_t *w, uint64_t expected_size, char digest_out[72],
                           k1s_err_t *err);
void k1s_blob_writer_abort(k1s_blob_writer_t *w);

/* ---- index (images.json) ---- */
/* Locks the index (mutex + flock) and returns it parsed (new reference). */
int k1s_index_lock(k1s_image_store_t *st, json_t **idx, k1s_err_t *err);
/* Writes idx atomically (lock held). */
int k1s_index_save(k1s_image_store_t *st, json_t *idx, k1s_err_t *err);
void k1s_index_unlock(k1s_image_store_t *st);

/* Shared lock held by pulls and imports so that GC leaves their fresh blobs alone. */
int k1s_gc_hold(k1s_image_store_t *st);
void k1s_gc_release(int fd);

/*
 * Unpacks what is missing of the image whose manifest blob is manifest_digest (config and
 * layer blobs must be in the store unless their snapshot exists) and records it as name.
 * progress may be NULL. Returns 0 and *out (may be NULL), or -errno with err set.
 */
int k1s_image_commit(k1s_image_store_t *st, const char *name, const char *manifest_digest,
                     k1s_image_progress_fn progress, void *parg, k1s_image_t **out, k1s_err_t *err);

/* Parses a manifest (OCI or Docker schema 2) into config digest and layers. */
int k1s_manifest_parse(const char *data, size_t len, char **config_digest,
                       k1s_image_layer_t **layers, size_t *n_layers, k1s_err_t *err);
void k1s_image_layers_free(k1s_image_layer_t *l, size_t n);

/* This node's platform in Go's terms: "amd64", "arm64" (variant "v8"), "arm" ("v7"), ... */
void k1s_image_platform(const char **arch, const char **variant);

/* Builds an image from an index entry (lock held). */
k1s_image_t *k1s_image_from_index(json_t *idx, const char *name, json_t *entry);

/* ---- snapshots (snapshot.c) ---- */
/*
 * Unpacks the layer blob at blob_path as snapshot chain_id on top of parent (NULL for the
 * bottom layer), checking that the uncompressed stream has digest diff_id. Returns 0 (also
 * when another pull committed the same snapshot meanwhile) or -errno with err set.
 */
int k1s_snapshot_unpack(k1s_image_store_t *st, const char *blob_path, const char *parent,
                        const char *chain_id, const char *diff_id, k1s_err_t *err);
/* Unpacks a layer tar stream into dir, converting OCI whiteouts into overlayfs ones; counts
 * bytes and inodes; *diff_id gets the uncompressed digest. */
int k1s_layer_unpack(const char *blob_path, const char *dir, char diff_id[72], uint64_t *bytes,
                     uint64_t *inodes, k1s_err_t *err);
/* rm -rf that does not follow symlinks or cross mounts. */
int k1s_rmtree(const char *path);

#endif
