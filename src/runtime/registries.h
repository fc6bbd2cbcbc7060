/*
 * registries.yaml (k3s's format, /etc/k1s/registries.yaml by default): which endpoints serve a
 * registry and with what credentials and TLS settings.
 *
 *   mirrors:
 *     docker.io:                       # or "*" for every registry without an entry
 *       endpoint: ["https://mirror.local:5000", "http://10.0.0.5:5000"]
 *       rewrite:
 *         "^library/(.*)": "mirrored/$1" # applied to the repository for these endpoints
 *   configs:
 *     "mirror.local:5000":             # endpoint host[:port] or registry name, or "*"
 *       auth: {username: u, password: p}  # or auth: base64(u:p), or identitytoken
 *       tls: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false}
 *
 * As in k3s, a registry's own endpoint (https://<host>, registry-1.docker.io for docker.io) is
 * tried after its mirrors. An endpoint without a scheme is https; a plain http:// one works.
 */
#ifndef K1S_RUNTIME_REGISTRIES_H
#define K1S_RUNTIME_REGISTRIES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

typedef struct k1s_registries k1s_registries_t;

/* The settings for one host (an endpoint's host:port or a registry name). */
typedef struct k1s_registry_config {
    char *username, *password; /* NULL when none */
    char *identity_token;      /* OAuth2 refresh token POSTed to the token server, or NULL */
    char *ca_file, *cert_file, *key_file;
    bool insecure_skip_verify;
} k1s_registry_config_t;

/* One place to try, in order. */
typedef struct k1s_registry_endpoint {
    char *url;        /* "https://host:port/v2" (ends in /v2, no trailing slash) */
    char *host;       /* "host:port" as in the URL */
    char *repository; /* the repository to ask this endpoint for, rewrites applied */
    bool is_default;  /* the registry's own endpoint rather than a mirror */
    const k1s_registry_config_t *config; /* settings for this endpoint, or NULL */
} k1s_registry_endpoint_t;

/*
 * Parses registries.yaml text. source names the file in errors. Returns 0 and a new *out, or
 * -EINVAL with err saying where ("registries.yaml: mirrors.docker.io.endpoint: ...").
 */
int k1s_registries_parse(const char *data, size_t len, const char *source, k1s_registries_t **out,
                         k1s_err_t *err);
/*
 * Loads path; a missing file is an empty configuration (0). Returns 0 and a new *out, or
 * -errno with err set.
 */
int k1s_registries_load(const char *path, k1s_registries_t **out, k1s_err_t *err);
void k1s_registries_free(k1s_registries_t *r);
/* The file it was loaded from (for error messages), "registries.yaml" if parsed from text. */
const char *k1s_registries_source(const k1s_registries_t *r);

/*
 * The endpoints to try for repository in registry (normalised: "docker.io", "library/busybox"),
 * mirrors first. *eps is a new array; free with k1s_registry_endpoints_free. r may be NULL.
 * Returns 0, or -EINVAL (a rewrite that is not a valid regular expression) with err set.
 */
int k1s_registries_endpoints(const k1s_registries_t *r, const char *registry,
                             const char *repository, k1s_registry_endpoint_t **eps, size_t *n,
                             k1s_err_t *err);
void k1s_registry_endpoints_free(k1s_registry_endpoint_t *eps, size_t n);

/* Settings for a host or registry name (exact entry, else "*"), or NULL. */
const k1s_registry_config_t *k1s_registries_config(const k1s_registries_t *r, const char *host);

#endif
