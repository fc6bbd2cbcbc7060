/*
 * The CRI log format the shim writes and the kubelet reads: one record per
 * line, "<RFC3339Nano> <stdout|stderr> <F|P> <text>\n". F ends a line the
 * container wrote; P is a piece of a longer line (over 16 KiB) or the
 * unterminated rest at exit. The file is rotated when a record would take it
 * past max_size: path.1, path.2, ... keep the older ones. Also the small
 * socket helpers the shim and its clients share.
 */
#include "runtime/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

int64_t k1s_rt_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Writes v as exactly `width` decimal digits; returns the end. */
static char *put_digits(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/*
 * By hand rather than with gmtime_r and snprintf: a shim formats a time for
 * every log line, and those two alone would keep some 350 KB of libc's stdio
 * and time code resident in every shim (see shim-trim.c). The date is
 * computed from the day number with Howard Hinnant's civil_from_days.
 */
void k1s_rt_time_format(int64_t unix_ns, char out[40])
{
    int64_t sec = unix_ns / 1000000000, ns = unix_ns % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        sec--;
    }
    int64_t days = sec / 86400, rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    char *p = out;
    p = put_digits(p, (uint64_t)(year < 0 ? 0 : year > 9999 ? 9999 : year), 4);
    *p++ = '-';
    p = put_digits(p, (uint64_t)month, 2);
    *p++ = '-';
    p = put_digits(p, (uint64_t)day, 2);
    *p++ = 'T';
    p = put_digits(p, (uint64_t)(rem / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(rem / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(rem % 60), 2);
    *p++ = '.';
    p = put_digits(p, (uint64_t)ns, 9);
    *p++ = 'Z';
    *p = 0;
}

int64_t k1s_rt_time_parse(const char *s)
{
    struct tm tm = {0};
    if (!s)
        return 0;
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return 0;
    int64_t ns = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 9)
                ns = ns * 10 + (*p - '0');
        for (; digits < 9; digits++)
            ns *= 10;
    }
    return (int64_t)timegm(&tm) * 1000000000 + ns;
}

int k1s_rt_crilog_open(k1s_rt_crilog_t *l, const char *path, int64_t max_size, int max_files)
{
    memset(l, 0, sizeof(*l));
    l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (l->fd < 0)
        return -errno;
    struct stat st;
    l->size = fstat(l->fd, &st) == 0 ? st.st_size : 0;
    l->path = k1s_xstrdup(path);
    l->max_size = max_size > 0 ? max_size : K1S_RT_LOG_MAX_SIZE;
    l->max_files = max_files > 0 ? max_files : K1S_RT_LOG_MAX_FILES;
    return 0;
}

static void rotate(k1s_rt_crilog_t *l)
{
    char from[4096], to[4096];
    snprintf(to, sizeof(to), "%s.%d", l->path, l->max_files - 1);
    unlink(to);
    for (int i = l->max_files - 1; i >= 1; i--) {
        if (i == 1)
            snprintf(from, sizeof(from), "%s", l->path);
        else
            snprintf(from, sizeof(from), "%s.%d", l->path, i - 1);
        snprintf(to, sizeof(to), "%s.%d", l->path, i);
        if (l->max_files > 1)
            rename(from, to);
    }
    int fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0) {
        close(l->fd);
        l->fd = fd;
    } else if (ftruncate(l->fd, 0) < 0) {
        /* Nothing better to do: keep appending to what we have. */
    }
    l->size = 0;
}

/* Writes one record made of two pieces (pending bytes, then new ones). */
static void record(k1s_rt_crilog_t *l, int stream, char tag, const char *a, size_t alen,
                   const char *b, size_t blen)
{
    /* "<time> stdout F ", without stdio (see k1s_rt_time_format) */
    char head[64];
    k1s_rt_time_format(k1s_rt_time_now(), head);
    size_t hl = strlen(head);
    memcpy(head + hl, stream ? " stderr " : " stdout ", 8);
    hl += 8;
    head[hl++] = tag;
    head[hl++] = ' ';
    size_t total = hl + alen + blen + 1;
    if (l->size > 0 && l->size + (int64_t)total > l->max_size)
        rotate(l);
    struct iovec iov[4] = {{head, hl}, {(void *)a, alen}, {(void *)b, blen}, {"\n", 1}};
    ssize_t n = writev(l->fd, iov, 4);
    if (n > 0)
        l->size += n;
}

void k1s_rt_crilog_write(k1s_rt_crilog_t *l, int stream, const char *data, size_t len)
{
    while (len > 0) {
        size_t plen = l->pending_len[stream];
        const char *nl = memchr(data, '\n', len);
        size_t upto = nl ? (size_t)(nl - data) : len;
        if (plen + upto >= K1S_RT_LOG_LINE_MAX && !(nl && plen + upto == K1S_RT_LOG_LINE_MAX)) {
            /* A full partial record: the pending bytes and what completes 16 KiB. */
            size_t take = K1S_RT_LOG_LINE_MAX - plen;
            record(l, stream, 'P', l->pending[stream], plen, data, take);
            l->pending_len[stream] = 0;
            data += take;
            len -= take;
            continue;
        }
        if (nl) {
            record(l, stream, 'F', l->pending[stream], plen, data, upto);
            l->pending_len[stream] = 0;
            data += upto + 1;
            len -= upto + 1;
            continue;
        }
        if (!l->pending[stream])
            l->pending[stream] = k1s_xmalloc(K1S_RT_LOG_LINE_MAX);
        memcpy(l->pending[stream] + plen, data, len);
        l->pending_len[stream] = plen + len;
        return;
    }
}

void k1s_rt_crilog_flush(k1s_rt_crilog_t *l, int stream)
{
    if (l->pending_len[stream])
        record(l, stream, 'P', l->pending[stream], l->pending_len[stream], "", 0);
    l->pending_len[stream] = 0;
}

void k1s_rt_crilog_close(k1s_rt_crilog_t *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    free(l->path);
    free(l->pending[0]);
    free(l->pending[1]);
    l->path = l->pending[0] = l->pending[1] = NULL;
}

int k1s_rt_sock_connect(const char *dir, const char *name)
{
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, name);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        int e = errno;
        close(dfd);
        return -e;
    }
    int r = connect(s, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(dfd);
    if (r < 0) {
        close(s);
        return -e;
    }
    return s;
}

int k1s_rt_sock_send(int sock, const void *data, size_t len, const int *fds, int n_fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {(void *)data, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    k1s_assert(n_fds <= 4);
    if (n_fds > 0) {
        memset(&u, 0, sizeof(u));
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n_fds);
    }
    while (len > 0) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        iov.iov_base = (char *)iov.iov_base + n;
        iov.iov_len -= (size_t)n;
        len -= (size_t)n;
        msg.msg_control = NULL;
        msg.msg_controllen = 0;
    }
    return 0;
}

ssize_t k1s_rt_sock_recv(int sock, void *buf, size_t cap, int *fds, int max_fds, int *n_fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {buf, cap};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof(u.buf);
    *n_fds = 0;
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *in = (int *)CMSG_DATA(c);
        for (int i = 0; i < k; i++) {
            if (*n_fds < max_fds)
                fds[(*n_fds)++] = in[i];
            else
                close(in[i]);
        }
    }
    return n;
}
