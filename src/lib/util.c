/*
 * Allocation, assertions, reference-counted bytes, clocks, random ids and
 * small file helpers shared by every module.
 */
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "k1s: out of memory allocating %zu bytes\n", n);
    abort();
}

void *k1s_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *k1s_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void k1s_release_free_memory(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void *k1s_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *k1s_xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *p = strdup(s);
    if (!p)
        oom(strlen(s));
    return p;
}

char *k1s_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        oom(n);
    return p;
}

char *k1s_xvasprintf(const char *fmt, va_list ap)
{
    char *s;
    if (vasprintf(&s, fmt, ap) < 0)
        oom(0);
    return s;
}

char *k1s_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void k1s_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "k1s: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

bool k1s_str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool k1s_str_has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

void k1s_freep(void *p)
{
    free(*(void **)p);
}

void k1s_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

k1s_bytes_t *k1s_bytes_new(const char *data, size_t len)
{
    k1s_bytes_t *b = k1s_xmalloc(sizeof(*b) + len + 1);
    b->refs = 1;
    b->len = len;
    b->chunk = NULL;
    if (len && data)
        memcpy(b->data, data, len);
    b->data[len] = 0;
    return b;
}

k1s_bytes_t *k1s_bytes_from_str(const char *s)
{
    return k1s_bytes_new(s, strlen(s));
}

k1s_bytes_t *k1s_bytes_ref(k1s_bytes_t *b)
{
    if (b)
        b->refs++;
    return b;
}

void k1s_bytes_unref(k1s_bytes_t *b)
{
    if (b && --b->refs == 0) {
        k1s_bytes_unref(b->chunk);
        free(b);
    }
}

uint64_t k1s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void k1s_time_format_rfc3339(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void k1s_time_rfc3339(char out[32])
{
    k1s_time_format_rfc3339((int64_t)time(NULL), out);
}

void k1s_time_rfc3339_micro(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

void k1s_random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            k1s_assert(!"getrandom failed");
        }
        p += r;
        n -= (size_t)r;
    }
}

void k1s_uuid4(char out[37])
{
    uint8_t b[16];
    k1s_random_bytes(b, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void k1s_random_suffix(char *out, size_t n)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    uint8_t b[64];
    k1s_assert(n < sizeof(b));
    k1s_random_bytes(b, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[b[i] % (sizeof(alphabet) - 1)];
    out[n] = 0;
}

int k1s_read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 4096, n = 0;
    char *buf = k1s_xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = k1s_xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            free(buf);
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int k1s_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
    char *tmp = k1s_xasprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = -errno;
        free(tmp);
        return e;
    }
    const char *p = data;
    size_t left = len;
    int r = 0;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (r == 0 && fchmod(fd, mode) < 0)
        r = -errno;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    close(fd);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    free(tmp);
    return r;
}

int k1s_mkdir_p(const char *path, int mode)
{
    char *p = k1s_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            int e = -errno;
            free(p);
            return e;
        }
        *s = '/';
    }
    int r = 0;
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        r = -errno;
    free(p);
    return r;
}

int k1s_parse_duration_ms(const char *s, int *ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    if (!s || !*s)
        return -EINVAL;
    if (!strcmp(s, "0")) {
        *ms = 0;
        return 0;
    }
    double total = 0;
    const char *p = s;
    while (*p) {
        char *end;
        if ((*p < '0' || *p > '9') && *p != '.')
            return -EINVAL;
        double v = strtod(p, &end);
        if (end == p)
            return -EINVAL;
        p = end;
        size_t best = 0;
        int found = -1;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t n = strlen(units[i].unit);
            if (!strncmp(p, units[i].unit, n) && n > best) {
                best = n;
                found = (int)i;
            }
        }
        if (found < 0)
            return -EINVAL;
        total += v * units[found].ms;
        p += best;
    }
    if (total > 2147483647.0)
        return -EINVAL;
    *ms = (int)total;
    return 0;
}
