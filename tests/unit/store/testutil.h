/*
 * Helpers shared by the store's unit tests: temporary directories, running
 * the event loop until the store is idle, and a done callback that records
 * completions.
 */
#ifndef K1S_TESTS_STORE_TESTUTIL_H
#define K1S_TESTS_STORE_TESTUTIL_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/util.h"
#include "store/store.h"

static K1S_UNUSED int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* rm -rf dir */
static inline void tu_rmrf(const char *dir)
{
    nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Returns a new empty directory (free it with tu_rmrf + free). */
static inline char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = k1s_xasprintf("%s/k1s-store-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        abort();
    return tmpl;
}

/* Runs the loop until no event is left: the store's events are only ever activated (the
 * tests open stores with history_age_ms = -1: no history-expiry timer). */
static inline void tu_run(struct event_base *base)
{
    event_base_dispatch(base);
}

/* Records completions of writes. */
typedef struct tu_done {
    int calls;
    int err;            /* of the last call */
    int64_t revs[4096]; /* mod_rev of the kv of each call, -1 for NULL */
    int errs[4096];
} tu_done_t;

static K1S_UNUSED void tu_done_cb(int err, k1s_kv_t *kv, void *arg)
{
    tu_done_t *d = arg;
    if (d->calls < 4096) {
        d->revs[d->calls] = kv ? kv->mod_rev : -1;
        d->errs[d->calls] = err;
    }
    d->calls++;
    d->err = err;
}

static inline k1s_bytes_t *tu_val(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    k1s_bytes_t *b = k1s_bytes_from_str(s);
    free(s);
    return b;
}

static inline int64_t tu_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

#endif
