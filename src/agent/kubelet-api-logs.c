/*
 * GET /containerLogs of the kubelet API: a container's CRI log files read
 * and filtered as the kubelet's ReadLogs does (pkg/kubelet/kuberuntime/logs).
 *
 * The files of one container run are <dir>/<n>.log and its rotated copies
 * <dir>/<n>.log.<timestamp> (older; uncompressed ones are read, in name
 * order, before the current file). Each line is
 * "<RFC3339Nano> stdout|stderr F|P <msg>": P marks a piece of a longer line,
 * the pieces up to the next F are joined. Lines before sinceTime /
 * sinceSeconds are skipped, tailLines keeps the last n (held in a ring until
 * the files are read), limitBytes cuts the output, timestamps puts the time
 * before each line.
 *
 * follow: after the existing lines, the current file is watched with
 * inotify (IN_MODIFY; a new <n>.log in the directory means it was rotated)
 * and the stream ends once the backend says the container stopped (after
 * reading what it wrote last). No timer runs while nothing happens. When
 * the client reads slowly, reading pauses while more than OUT_HIGH bytes
 * wait and resumes from a short timer: a slow client never makes the agent
 * hold more than that.
 */
#include "agent/kubelet-api-int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

#define OUT_HIGH (1u << 20)
#define READ_CHUNK 65536
#define MAX_LINE (16u << 20) /* a joined line longer than this is cut */

typedef struct kapi_log {
    k1s_kapi_t *k;
    struct kapi_log *next;
    k1s_http_req_t *req;
    k1s_kapi_log_opts_t o;
    char *dir, *base; /* directory and current file name ("3.log") */
    char **files;     /* remaining files to read (full paths), the current one last */
    int nfiles, fi;
    int fd;
    k1s_buf_t carry; /* bytes of an incomplete line */
    k1s_buf_t line;  /* joined P pieces */
    int64_t line_ts;
    /* tail ring */
    char **ring;
    long long rn, rhead;
    long long written;
    bool following, ended, cut;
    char *cid;
    int ino, wd_file, wd_dir;
    struct event *ino_ev, *resume;
    void *exit_watch;
    bool exited;
} kapi_log_t;

/* ---------- parsing ---------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int64_t k1s_kapi_parse_time(const char *s, size_t len)
{
    int Y, M, D, h, m, sec;
    if (len < 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &Y, &M, &D, &h, &m, &sec) != 6)
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    size_t i = 19;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        int digits = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (digits < 9) {
                frac = frac * 10 + (s[i] - '0');
                digits++;
            }
        for (; digits < 9; digits++)
            frac *= 10;
    }
    int64_t off = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 <= len && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (sscanf(s + i + 1, "%2d:%2d", &oh, &om) != 2)
            return -1;
        off = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return -1;
    }
    if (i != len)
        return -1;
    int64_t t =
        days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + m * 60 + sec - off;
    return t * 1000000000LL + frac;
}

int k1s_kapi_cri_parse(const char *line, size_t len, int64_t *ts_ns, const char **stream,
                       bool *partial, const char **msg, size_t *msg_len)
{
    const char *end = line + len;
    const char *sp1 = memchr(line, ' ', len);
    if (!sp1)
        return -EINVAL;
    int64_t ts = k1s_kapi_parse_time(line, (size_t)(sp1 - line));
    if (ts < 0)
        return -EINVAL;
    const char *st = sp1 + 1;
    const char *sp2 = memchr(st, ' ', (size_t)(end - st));
    if (!sp2 || (sp2 - st != 6) || (memcmp(st, "stdout", 6) && memcmp(st, "stderr", 6)))
        return -EINVAL;
    const char *tag = sp2 + 1;
    if (tag >= end || (*tag != 'F' && *tag != 'P'))
        return -EINVAL;
    const char *m = tag + 1;
    if (m < end) {
        /* the tag may carry more (future tags separated by ':'), up to a space */
        const char *sp3 = memchr(m, ' ', (size_t)(end - m));
        if (!sp3)
            return -EINVAL;
        m = sp3 + 1;
    }
    *ts_ns = ts;
    *stream = st;
    *partial = *tag == 'P';
    *msg = m;
    *msg_len = (size_t)(end - m);
    return 0;
}

static int parse_bool(const char *v)
{
    return v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "True"));
}

static int parse_ll(const char *name, const char *v, long long *out, k1s_err_t *err)
{
    char *e;
    errno = 0;
    long long n = strtoll(v, &e, 10);
    if (errno || e == v || *e || n < 0)
        return k1s_err_set(err, EINVAL, "invalid %s \"%s\": must be a non-negative integer", name,
                           v);
    *out = n;
    return 0;
}

int k1s_kapi_log_opts_parse(k1s_http_req_t *req, k1s_kapi_log_opts_t *o, k1s_err_t *err)
{
    memset(o, 0, sizeof(*o));
    o->tail = -1;
    o->limit = -1;
    o->follow = parse_bool(k1s_http_req_query(req, "follow"));
    o->previous = parse_bool(k1s_http_req_query(req, "previous"));
    o->timestamps = parse_bool(k1s_http_req_query(req, "timestamps"));
    const char *v;
    if ((v = k1s_http_req_query(req, "tailLines")) && parse_ll("tailLines", v, &o->tail, err) < 0)
        return -EINVAL;
    if ((v = k1s_http_req_query(req, "limitBytes")) &&
        parse_ll("limitBytes", v, &o->limit, err) < 0)
        return -EINVAL;
    if ((v = k1s_http_req_query(req, "sinceSeconds"))) {
        long long s;
        if (parse_ll("sinceSeconds", v, &s, err) < 0)
            return -EINVAL;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        o->since_ns = ((int64_t)now.tv_sec - s) * 1000000000LL + now.tv_nsec;
    }
    if ((v = k1s_http_req_query(req, "sinceTime"))) {
        int64_t t = k1s_kapi_parse_time(v, strlen(v));
        if (t < 0)
            return k1s_err_set(err, EINVAL, "invalid sinceTime \"%s\": not an RFC 3339 time", v);
        o->since_ns = t;
    }
    return 0;
}

/* ---------- output ---------- */

static void log_free(kapi_log_t *l)
{
    kapi_log_t **pp = &l->k->logs;
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp)
        *pp = l->next;
    if (l->exit_watch && l->k->be.unwatch_exit)
        l->k->be.unwatch_exit(l->k->ctx, l->exit_watch);
    if (l->fd >= 0)
        close(l->fd);
    if (l->ino_ev)
        event_free(l->ino_ev);
    if (l->ino >= 0)
        close(l->ino);
    if (l->resume)
        event_free(l->resume);
    for (int i = 0; i < l->nfiles; i++)
        free(l->files[i]);
    free(l->files);
    if (l->ring) {
        for (long long i = 0; i < l->o.tail; i++)
            free(l->ring[i]);
        free(l->ring);
    }
    k1s_buf_free(&l->carry);
    k1s_buf_free(&l->line);
    free(l->dir);
    free(l->base);
    free(l->cid);
    free(l);
}

static void log_end(kapi_log_t *l)
{
    if (l->ended)
        return;
    l->ended = true;
    k1s_http_stream_end(l->req);
    log_free(l);
}

static void on_client_close(k1s_http_req_t *req, void *arg)
{
    log_end(arg);
}

static void emit(kapi_log_t *l, const char *data, size_t len)
{
    if (l->cut)
        return;
    if (l->o.limit >= 0 && l->written + (long long)len > l->o.limit) {
        len = (size_t)(l->o.limit - l->written);
        l->cut = true;
    }
    if (len)
        k1s_http_stream_write(l->req, data, len);
    l->written += (long long)len;
}

/* One complete log entry (a joined line): to the ring (tail, while reading the files) or out. */
static void entry(kapi_log_t *l, int64_t ts, const char *msg, size_t len, bool newline)
{
    if (l->o.since_ns && ts < l->o.since_ns)
        return;
    k1s_buf_t b = K1S_BUF_INIT;
    if (l->o.timestamps) {
        time_t sec = (time_t)(ts / 1000000000LL);
        struct tm tm;
        gmtime_r(&sec, &tm);
        char t[64];
        strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
        k1s_buf_printf(&b, "%s.%09lldZ ", t, (long long)(ts % 1000000000LL));
    }
    k1s_buf_append(&b, msg, len);
    if (newline)
        k1s_buf_putc(&b, '\n');
    if (l->ring && !l->following) {
        if (l->o.tail == 0) {
            k1s_buf_free(&b);
            return;
        }
        long long slot = l->rhead % l->o.tail;
        free(l->ring[slot]);
        l->ring[slot] = k1s_buf_steal(&b);
        l->rhead++;
        return;
    }
    emit(l, b.data ? b.data : "", b.len);
    k1s_buf_free(&b);
}

static void flush_ring(kapi_log_t *l)
{
    if (!l->ring)
        return;
    long long n = l->rhead < l->o.tail ? l->rhead : l->o.tail;
    for (long long i = l->rhead - n; i < l->rhead; i++) {
        char *s = l->ring[i % l->o.tail];
        emit(l, s, strlen(s));
    }
}

static void process_line(kapi_log_t *l, const char *p, size_t n)
{
    int64_t ts;
    const char *st, *msg;
    bool partial;
    size_t ml;
    if (k1s_kapi_cri_parse(p, n, &ts, &st, &partial, &msg, &ml) < 0) {
        k1s_debug("kubelet api: %s/%s: skipping a malformed log line", l->dir, l->base);
        return;
    }
    if (partial || l->line.len) {
        if (!l->line.len)
            l->line_ts = ts;
        if (l->line.len + ml <= MAX_LINE)
            k1s_buf_append(&l->line, msg, ml);
        if (partial)
            return;
        entry(l, l->line_ts, l->line.data, l->line.len, true);
        k1s_buf_reset(&l->line);
        return;
    }
    entry(l, ts, msg, ml, true);
}

/* Reads what the current file has now; returns false at its end. */
static bool read_some(kapi_log_t *l)
{
    char buf[READ_CHUNK];
    ssize_t n = read(l->fd, buf, sizeof(buf));
    if (n <= 0)
        return false;
    k1s_buf_append(&l->carry, buf, (size_t)n);
    size_t start = 0;
    for (;;) {
        char *nl = memchr(l->carry.data + start, '\n', l->carry.len - start);
        if (!nl)
            break;
        process_line(l, l->carry.data + start, (size_t)(nl - (l->carry.data + start)));
        start = (size_t)(nl - l->carry.data) + 1;
    }
    if (start) {
        memmove(l->carry.data, l->carry.data + start, l->carry.len - start);
        l->carry.len -= start;
    }
    return true;
}

static int open_file(kapi_log_t *l, const char *path)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = open(path, O_RDONLY | O_CLOEXEC);
    return l->fd < 0 ? -errno : 0;
}

static void pump(kapi_log_t *l);

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    pump(arg);
}

static void finish(kapi_log_t *l)
{
    /* a last partial line without its F */
    if (l->line.len) {
        entry(l, l->line_ts, l->line.data, l->line.len, false);
        k1s_buf_reset(&l->line);
    }
    log_end(l);
}

static void start_follow(kapi_log_t *l);

/* Reads as far as the files allow and the client's queue permits. */
static void pump(kapi_log_t *l)
{
    int chunks = 0;
    for (;;) {
        if (l->cut) {
            log_end(l);
            return;
        }
        if (k1s_http_stream_pending(l->req) > OUT_HIGH) {
            struct timeval tv = {0, 50000};
            evtimer_add(l->resume, &tv);
            return;
        }
        /* a long read (tailLines of a big file) lets other connections have the loop */
        if (++chunks > 64) {
            struct timeval tv = {0, 0};
            evtimer_add(l->resume, &tv);
            return;
        }
        if (l->fd >= 0 && read_some(l))
            continue;
        if (!l->following && l->fi + 1 < l->nfiles) {
            l->fi++;
            if (open_file(l, l->files[l->fi]) < 0)
                l->fd = -1;
            continue;
        }
        break;
    }
    if (!l->following) {
        flush_ring(l);
        l->following = true;
        if (l->o.follow && !l->exited && !l->cut) {
            start_follow(l);
            if (!l->ended && !l->exited)
                return;
        }
        if (l->ended)
            return;
        finish(l);
        return;
    }
    if (l->exited)
        finish(l);
}

static void ino_cb(evutil_socket_t fd, short what, void *arg)
{
    kapi_log_t *l = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool rotated = false;
    ssize_t n;
    while ((n = read(l->ino, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->wd == l->wd_dir && ev->len && !strcmp(ev->name, l->base))
                rotated = true;
            p += sizeof(*ev) + ev->len;
        }
    }
    if (rotated) {
        /* the old file's last lines, then the new file */
        while (l->fd >= 0 && read_some(l))
            ;
        char *path = k1s_xasprintf("%s/%s", l->dir, l->base);
        if (open_file(l, path) == 0) {
            inotify_rm_watch(l->ino, l->wd_file);
            l->wd_file = inotify_add_watch(l->ino, path, IN_MODIFY);
        }
        free(path);
    }
    pump(l);
}

static void container_exited(void *arg)
{
    kapi_log_t *l = arg;
    l->exit_watch = NULL;
    l->exited = true;
    pump(l);
}

static void start_follow(kapi_log_t *l)
{
    k1s_kapi_t *k = l->k;
    l->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (l->ino < 0) {
        k1s_debug("kubelet api: inotify: %s", strerror(errno));
        l->exited = true;
        return;
    }
    char *path = k1s_xasprintf("%s/%s", l->dir, l->base);
    l->wd_file = inotify_add_watch(l->ino, path, IN_MODIFY);
    l->wd_dir = inotify_add_watch(l->ino, l->dir, IN_CREATE | IN_MOVED_TO);
    free(path);
    if (l->fd < 0) {
        char *p2 = k1s_xasprintf("%s/%s", l->dir, l->base);
        open_file(l, p2);
        free(p2);
    }
    l->ino_ev = event_new(k->base, l->ino, EV_READ | EV_PERSIST, ino_cb, l);
    event_add(l->ino_ev, NULL);
    if (k->be.watch_exit)
        l->exit_watch = k->be.watch_exit(k->ctx, l->cid, container_exited, l);
    if (!l->exit_watch)
        l->exited = true;
    /* anything written between the first read and the watch */
    while (l->fd >= 0 && read_some(l))
        ;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void k1s_kapi_logs(k1s_kapi_t *k, k1s_http_req_t *req, const k1s_kapi_container_t *c,
                   const char *ctr_name, const char *pod)
{
    k1s_kapi_log_opts_t o;
    k1s_err_t err = {0};
    if (k1s_kapi_log_opts_parse(req, &o, &err) < 0) {
        k1s_http_respond_status(req, 400, "BadRequest", err.msg);
        return;
    }
    int n = c->restart_count;
    if (o.previous) {
        if (n == 0) {
            char *m = k1s_xasprintf("previous terminated container \"%s\" in pod \"%s\" not found",
                                    ctr_name, pod);
            k1s_http_respond_status(req, 400, "BadRequest", m);
            free(m);
            return;
        }
        n--;
        o.follow = false;
    }
    kapi_log_t *l = k1s_xcalloc(1, sizeof(*l));
    l->k = k;
    l->req = req;
    l->o = o;
    l->fd = l->ino = -1;
    l->wd_file = l->wd_dir = -1;
    l->dir = k1s_xstrdup(c->log_dir);
    l->base = k1s_xasprintf("%d.log", n);
    l->cid = k1s_xstrdup(c->id ? c->id : "");
    l->exited = !c->running;
    if (o.tail >= 0) {
        if (l->o.tail > 100000)
            l->o.tail = 100000;
        l->ring = k1s_xcalloc(l->o.tail ? (size_t)l->o.tail : 1, sizeof(char *));
    }
    /* rotated files "<n>.log.<stamp>" (not the compressed ones), oldest first, then "<n>.log" */
    DIR *d = opendir(l->dir);
    size_t bl = strlen(l->base);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strncmp(de->d_name, l->base, bl) || de->d_name[bl] != '.' ||
                k1s_str_has_suffix(de->d_name, ".gz") || k1s_str_has_suffix(de->d_name, ".tmp"))
                continue;
            l->files = k1s_xrealloc(l->files, sizeof(char *) * (size_t)(l->nfiles + 2));
            l->files[l->nfiles++] = k1s_xasprintf("%s/%s", l->dir, de->d_name);
        }
        closedir(d);
    }
    if (l->nfiles > 1)
        qsort(l->files, (size_t)l->nfiles, sizeof(char *), cmp_str);
    l->files = k1s_xrealloc(l->files, sizeof(char *) * (size_t)(l->nfiles + 1));
    l->files[l->nfiles++] = k1s_xasprintf("%s/%s", l->dir, l->base);
    l->fi = 0;
    if (open_file(l, l->files[0]) < 0 && l->nfiles == 1 && !o.follow) {
        int e = errno;
        char *m = k1s_xasprintf("failed to open log file %s: %s", l->files[0], strerror(e));
        k1s_http_respond_status(req, e == ENOENT ? 404 : 500,
                                e == ENOENT ? "NotFound" : "InternalError", m);
        free(m);
        l->req = NULL;
        l->ended = true;
        log_free(l);
        return;
    }
    l->resume = evtimer_new(k->base, resume_cb, l);
    l->next = k->logs;
    k->logs = l;
    k1s_http_stream_start(req, 200, "text/plain", on_client_close, l);
    pump(l);
}

void k1s_kapi_logs_stop_all(k1s_kapi_t *k)
{
    while (k->logs)
        log_end(k->logs);
}
