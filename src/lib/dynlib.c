/*
 * Loading libraries on first use; see dynlib.h. One mutex serialises the
 * first loads; afterwards the state is read with an acquire load, so a
 * forwarding function costs one predictable branch.
 */
#include "lib/dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;

static int load_locked(k1s_dynlib_t *l)
{
    /* RTLD_LOCAL: its symbols serve only the lookups below, never other libraries. */
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(l->error, sizeof(l->error),
                 "cannot %s: loading %s failed: %s (install the Debian package %s)", l->purpose,
                 l->soname, why ? why : "unknown error", l->package);
        return -ELIBACC;
    }
    for (size_t i = 0; i < l->n_syms; i++) {
        dlerror();
        void *p = dlsym(h, l->syms[i].name);
        if (!p) {
            snprintf(l->error, sizeof(l->error),
                     "cannot %s: %s has no %s (too old a version? install the Debian package %s)",
                     l->purpose, l->soname, l->syms[i].name, l->package);
            /* Keep h: pointers already resolved stay valid, though nothing will call them. */
            return -ELIBBAD;
        }
        *l->syms[i].slot = p;
    }
    return 1;
}

int k1s_dynlib_load(k1s_dynlib_t *l, k1s_err_t *err)
{
    int state = __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);
    if (state == 0) {
        pthread_mutex_lock(&load_mu);
        state = l->state;
        if (state == 0) {
            state = load_locked(l);
            if (state == 1 && l->init)
                l->init();
            __atomic_store_n(&l->state, state, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&load_mu);
    }
    if (state < 0)
        return k1s_err_set(err, -state, "%s", l->error);
    return 0;
}

void k1s_dynlib_ensure(k1s_dynlib_t *l)
{
    if (__builtin_expect(__atomic_load_n(&l->state, __ATOMIC_ACQUIRE) == 1, 1))
        return;
    k1s_err_t err;
    if (k1s_dynlib_load(l, &err) < 0) {
        fprintf(stderr, "k1s: %s\n", err.msg);
        abort();
    }
}
