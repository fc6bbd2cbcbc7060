/*
 * Libraries loaded on first use (dlopen) rather than by the dynamic loader
 * at start. k1s is one binary for every role; a library that only some
 * roles need (libcurl to pull images, libarchive to unpack them) would
 * otherwise be mapped and relocated, with its whole tree of dependencies,
 * in every process, the per-container shims included.
 *
 * A user of such a library keeps calling it by its own names: a file of
 * forwarding functions (runtime/libs-curl.c, runtime/libs-archive.c)
 * defines each function it uses under the library header's prototype, so
 * a mismatch does not compile, and calls through a table of pointers that
 * k1s_dynlib_load() fills with dlsym. Code that needs the library calls
 * its load function first and reports the error; a forwarding function
 * called without that aborts with the same message.
 */
#ifndef K1S_LIB_DYNLIB_H
#define K1S_LIB_DYNLIB_H

#include <stddef.h>

#include "lib/err.h"

typedef struct k1s_dynlib_sym {
    const char *name;
    void **slot; /* where its address goes */
} k1s_dynlib_sym_t;

typedef struct k1s_dynlib {
    const char *soname;  /* "libcurl.so.4": the ABI the headers describe */
    const char *package; /* the Debian package that provides it, for the error */
    const char *purpose; /* "pull images", for the error */
    const k1s_dynlib_sym_t *syms;
    size_t n_syms;
    void (*init)(void); /* called once after loading (e.g. curl_global_init), or NULL */
    /* private */
    int state; /* 0 not tried yet, 1 loaded, -errno failed (for good) */
    char error[512];
} k1s_dynlib_t;

/*
 * Loads l and resolves all its symbols, once per process (thread-safe; later
 * calls return the first outcome). 0, or -errno with err set to a message
 * that names the library, what needs it and the package to install.
 */
int k1s_dynlib_load(k1s_dynlib_t *l, k1s_err_t *err);

/* For forwarding functions: loads l if need be; aborts with the load error if it fails. */
void k1s_dynlib_ensure(k1s_dynlib_t *l);

#endif
