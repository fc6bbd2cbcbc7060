/*
 * Basic helpers every k1s module uses: allocation that aborts on failure
 * (as redis, crun and h2o do, keeping untestable error paths out of the
 * code), always-on assertions, string helpers and a reference-counted byte
 * string used to share serialized objects between the cache and watchers.
 */
#ifndef K1S_LIB_UTIL_H
#define K1S_LIB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define K1S_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define K1S_UNUSED __attribute__((unused))
#define K1S_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Allocation: never returns NULL; aborts the process when memory runs out. */
void *k1s_xmalloc(size_t n);
void *k1s_xcalloc(size_t n, size_t size);
void *k1s_xrealloc(void *p, size_t n);
char *k1s_xstrdup(const char *s);
char *k1s_xstrndup(const char *s, size_t n);
/* Gives memory freed earlier back to the system, which glibc's malloc otherwise keeps for
 * reuse: for after a large cache has shrunk. */
void k1s_release_free_memory(void);
/* Returns a newly allocated formatted string. */
char *k1s_xasprintf(const char *fmt, ...) K1S_PRINTF(1, 2);
char *k1s_xvasprintf(const char *fmt, va_list ap);

/* Assertion that stays on in release builds and prints file and line. */
#define k1s_assert(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            k1s_assert_fail(#cond, __FILE__, __LINE__);                                            \
    } while (0)
_Noreturn void k1s_assert_fail(const char *expr, const char *file, int line);

bool k1s_str_has_prefix(const char *s, const char *prefix);
bool k1s_str_has_suffix(const char *s, const char *suffix);
static inline bool k1s_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* cleanup helpers for __attribute__((cleanup)) */
void k1s_freep(void *p);
void k1s_closep(int *fd);
#define _k1s_cleanup_free_ __attribute__((cleanup(k1s_freep)))
#define _k1s_cleanup_close_ __attribute__((cleanup(k1s_closep)))

/*
 * k1s_bytes_t: an immutable, reference-counted byte string (NUL-terminated
 * for convenience; len excludes the NUL). Serialized objects live in these so
 * that the store cache, list responses and watch streams share one copy.
 */
typedef struct k1s_bytes {
    int refs;
    size_t len;
    struct k1s_bytes *chunk; /* NULL, or the same bytes framed as an HTTP/1.1 chunk, made by the
                                first chunked stream that sends them and shared by the others */
    char data[];
} k1s_bytes_t;

/* Returns a new reference to a copy of data[0..len) (data NULL: len bytes to fill in). */
k1s_bytes_t *k1s_bytes_new(const char *data, size_t len);
/* Takes ownership of nothing; returns a new reference. */
k1s_bytes_t *k1s_bytes_from_str(const char *s);
k1s_bytes_t *k1s_bytes_ref(k1s_bytes_t *b);
void k1s_bytes_unref(k1s_bytes_t *b);

/* Monotonic clock in nanoseconds, and wall clock helpers. */
uint64_t k1s_now_ns(void);
/* Writes now (UTC) as RFC 3339 with second precision, e.g. 2026-01-02T03:04:05Z. */
void k1s_time_rfc3339(char out[32]);
/* Writes the Unix time t (seconds, UTC) the same way. */
void k1s_time_format_rfc3339(int64_t t, char out[32]);
/* Same with microseconds (for managedFields-style MicroTime). */
void k1s_time_rfc3339_micro(char out[40]);

/*
 * Parses a Go duration ("40s", "1m30s", "500ms", "2h", "1.5s") into
 * milliseconds; 0 or -EINVAL.
 */
int k1s_parse_duration_ms(const char *s, int *ms);

/* Random identifiers. */
void k1s_random_bytes(void *buf, size_t n);
/* Writes a random RFC 4122 v4 UUID (36 chars + NUL). */
void k1s_uuid4(char out[37]);
/* Writes n random characters from [bcdfghjklmnpqrstvwxz2456789] (Kubernetes' generateName
 * alphabet). */
void k1s_random_suffix(char *out, size_t n);

/* File helpers: 0 or -errno. */
int k1s_read_file(const char *path, char **out, size_t *len);
/* Writes atomically (temp file + fsync + rename) with the given mode. */
int k1s_write_file_atomic(const char *path, const void *data, size_t len, int mode);
/* mkdir -p with mode for created directories. */
int k1s_mkdir_p(const char *path, int mode);

#endif
