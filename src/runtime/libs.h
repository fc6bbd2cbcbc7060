/*
 * The libraries only the image code needs, loaded on first use (see
 * lib/dynlib.h): libcurl for pulls, libarchive for unpacking layers and
 * importing image tarballs. Processes that never pull or unpack (the
 * per-container shims, a server without an agent, kubectl) never map them
 * nor the ~25 libraries they depend on. The image code calls libcurl and
 * libarchive as usual, after the load function below has succeeded.
 */
#ifndef K1S_RUNTIME_LIBS_H
#define K1S_RUNTIME_LIBS_H

#include "lib/err.h"

/* Loads libcurl (and runs curl_global_init) once. 0, or -errno with err set. Thread-safe. */
int k1s_rt_curl_load(k1s_err_t *err);
/* Loads libarchive once. 0, or -errno with err set. Thread-safe. */
int k1s_rt_archive_load(k1s_err_t *err);

#endif
