/*
 * k1s-load: the load generator and probe behind `make bench` (bench/run.sh).
 *
 * One small program with a subcommand per measurement, so that the shell
 * script only orchestrates and every timing is taken in C with
 * CLOCK_MONOTONIC, not by a tool whose own start-up would dominate:
 *
 *   freeport                      print a free TCP port on 127.0.0.1
 *   start  --port P --log F -- CMD...
 *                                 fork/exec the server, poll https://127.0.0.1:P/readyz
 *                                 every 2 ms, print ready_ms and the pid, then stay
 *                                 as the server's parent until it exits (reaping it and
 *                                 reporting a crash), forwarding SIGTERM/SIGINT to it
 *   rss    --pid P                VmRSS of a process
 *   idle   --pid P --seconds S    CPU (utime+stime) and wakeups of a process over S s
 *   create --port P --tls DIR --clients C --count N [--size B] [--prefix NAME] [--kind cr]
 *                                 N ConfigMap creates of B-byte bodies over C keep-alive
 *                                 HTTPS connections, one request in flight per connection;
 *                                 with --kind cr, custom objects of the CRD `crd` makes
 *   crd    --port P --tls DIR     create the CRD benchmaps.bench.k1s.io (a ConfigMap-shaped
 *                                 custom resource with a schema) and wait until it is served
 *   sqlite --dir D --count N --seconds S [--size B]
 *                                 the reference: a raw SQLite insert loop with the
 *                                 server's durability (WAL, synchronous=FULL, one
 *                                 transaction per insert)
 *   list   --port P --tls DIR --runs R [--path PATH]
 *                                 R full GETs of PATH on one keep-alive connection
 *   watch  --port P --tls DIR --watchers W --rate R --seconds S
 *                                 W watch streams (one connection each, one epoll
 *                                 thread) and one writer thread that alternately creates
 *                                 and merge-patches ConfigMaps at R requests/s; per event,
 *                                 the delay from the writer's receipt of the response
 *                                 (commit done) to each watcher's receipt of the event
 *
 * Results go to stdout as shell assignments (name=value) for run.sh to
 * eval; progress and errors go to stderr. Clients authenticate with the
 * admin client certificate from DIR (the server's TLS directory) and
 * verify the server against DIR/server-ca.crt.
 *
 * Build: cc -O2 -o k1s-load bench/k1s-load.c $(pkg-config --cflags --libs openssl sqlite3)
 * -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sqlite3.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- basics ------------------------------------------------------------------------- */

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "k1s-load: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until_ns(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Percentile p (0..100) of a sorted array, nearest rank. */
static int64_t pct(const int64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (i < 1)
        i = 1;
    if (i > n)
        i = n;
    return v[i - 1];
}

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

/* ---- options ------------------------------------------------------------------------ */

typedef struct opts {
    int port, clients, count, size, runs, watchers, rate, pid;
    double seconds;
    const char *tls, *log, *dir, *path, *prefix, *client, *kind;
    char **cmd; /* after "--" */
} opts_t;

static void parse_opts(int argc, char **argv, opts_t *o)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            o->cmd = argv + i + 1;
            return;
        }
        if (i + 1 >= argc)
            die("%s wants a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--port"))
            o->port = atoi(v);
        else if (!strcmp(a, "--clients"))
            o->clients = atoi(v);
        else if (!strcmp(a, "--count"))
            o->count = atoi(v);
        else if (!strcmp(a, "--size"))
            o->size = atoi(v);
        else if (!strcmp(a, "--runs"))
            o->runs = atoi(v);
        else if (!strcmp(a, "--watchers"))
            o->watchers = atoi(v);
        else if (!strcmp(a, "--rate"))
            o->rate = atoi(v);
        else if (!strcmp(a, "--pid"))
            o->pid = atoi(v);
        else if (!strcmp(a, "--seconds"))
            o->seconds = atof(v);
        else if (!strcmp(a, "--tls"))
            o->tls = v;
        else if (!strcmp(a, "--log"))
            o->log = v;
        else if (!strcmp(a, "--dir"))
            o->dir = v;
        else if (!strcmp(a, "--path"))
            o->path = v;
        else if (!strcmp(a, "--prefix"))
            o->prefix = v;
        else if (!strcmp(a, "--client"))
            o->client = v;
        else if (!strcmp(a, "--kind"))
            o->kind = v;
        else
            die("unknown option %s", a);
    }
}

/* ---- TLS connections and a blocking HTTP/1.1 client ------------------------------------ */

/* A client context: verifies the server against tlsdir/server-ca.crt and
 * presents the admin client certificate. tlsdir NULL: no verification and
 * no client certificate (for /readyz, which needs neither). */
static SSL_CTX *tls_ctx_new(const char *tlsdir)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        die("SSL_CTX_new failed");
    if (!tlsdir) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/server-ca.crt", tlsdir);
    if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1)
        die("cannot load %s", path);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    snprintf(path, sizeof(path), "%s/client-admin.crt", tlsdir);
    if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1)
        die("cannot load %s", path);
    snprintf(path, sizeof(path), "%s/client-admin.key", tlsdir);
    if (SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) != 1)
        die("cannot load %s", path);
    return ctx;
}

typedef struct conn {
    int fd;
    SSL *ssl;
    char *buf; /* received bytes not yet consumed: buf[rpos..wpos) */
    size_t rpos, wpos, cap;
} conn_t;

typedef struct resp {
    int status;
    bool chunked;
    char *body; /* NUL-terminated; owned by the response */
    size_t body_len;
} resp_t;

static void conn_close(conn_t *c)
{
    if (c->ssl) {
        /* say goodbye (close_notify) so the server sees a clean close, not an EOF */
        if (SSL_is_init_finished(c->ssl))
            SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->rpos = c->wpos = c->cap = 0;
}

/* Connects to 127.0.0.1:port and completes the TLS handshake; 0 or -1
 * (errno-style reason in *why when not NULL: ECONNREFUSED while the
 * server is not yet listening). */
static int conn_open(conn_t *c, SSL_CTX *ctx, int port, int *why)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s", strerror(errno));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = 30};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (why)
            *why = errno;
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    if (SSL_connect(c->ssl) != 1) {
        if (why)
            *why = EPROTO;
        conn_close(c);
        return -1;
    }
    return 0;
}

static int conn_send(conn_t *c, const char *data, size_t len)
{
    while (len) {
        int n = SSL_write(c->ssl, data, (int)len);
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void conn_reserve(conn_t *c, size_t more)
{
    if (c->rpos && c->rpos == c->wpos)
        c->rpos = c->wpos = 0;
    if (c->wpos + more + 1 <= c->cap)
        return;
    if (c->rpos) {
        memmove(c->buf, c->buf + c->rpos, c->wpos - c->rpos);
        c->wpos -= c->rpos;
        c->rpos = 0;
    }
    size_t cap = c->cap ? c->cap : 16384;
    while (c->wpos + more + 1 > cap)
        cap *= 2;
    if (cap != c->cap) {
        c->buf = xrealloc(c->buf, cap);
        c->cap = cap;
    }
}

/* Reads what the connection has (blocking for at least one byte); >0 bytes, 0 EOF, -1 error. */
static int conn_fill(conn_t *c, size_t want)
{
    conn_reserve(c, want < 16384 ? 16384 : want);
    int n = SSL_read(c->ssl, c->buf + c->wpos, (int)(c->cap - c->wpos - 1));
    if (n <= 0) {
        int e = SSL_get_error(c->ssl, n);
        return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    c->wpos += (size_t)n;
    c->buf[c->wpos] = 0;
    return n;
}

/* Finds the end of a line starting at buf[c->rpos], filling as needed; returns its length (w/o
 * CRLF). */
static long conn_line(conn_t *c)
{
    for (;;) {
        char *s = c->buf ? memmem(c->buf + c->rpos, c->wpos - c->rpos, "\r\n", 2) : NULL;
        if (s)
            return s - (c->buf + c->rpos);
        if (conn_fill(c, 0) <= 0)
            return -1;
    }
}

static int conn_need(conn_t *c, size_t n)
{
    while (c->wpos - c->rpos < n)
        if (conn_fill(c, n - (c->wpos - c->rpos)) <= 0)
            return -1;
    return 0;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Reads the status line and headers of one response; 0 or -1. */
static int conn_read_head(conn_t *c, resp_t *r, long *content_length)
{
    memset(r, 0, sizeof(*r));
    *content_length = -1;
    long n = conn_line(c);
    if (n < 0)
        return -1;
    char *line = c->buf + c->rpos;
    if (n < 12 || strncmp(line, "HTTP/1.", 7))
        return -1;
    r->status = atoi(line + 9);
    c->rpos += (size_t)n + 2;
    for (;;) {
        n = conn_line(c);
        if (n < 0)
            return -1;
        line = c->buf + c->rpos;
        if (n == 0) {
            c->rpos += 2;
            return 0;
        }
        if (!strncasecmp(line, "Content-Length:", 15))
            *content_length = strtol(line + 15, NULL, 10);
        else if (!strncasecmp(line, "Transfer-Encoding:", 18) &&
                 memmem(line, (size_t)n, "chunked", 7))
            r->chunked = true;
        c->rpos += (size_t)n + 2;
    }
}

/* Reads one whole response (Content-Length or chunked body); 0 or -1. */
static int conn_read_response(conn_t *c, resp_t *r)
{
    long cl;
    if (conn_read_head(c, r, &cl) < 0)
        return -1;
    if (r->chunked) {
        size_t cap = 65536, len = 0;
        char *body = xmalloc(cap);
        for (;;) {
            long n = conn_line(c);
            if (n < 0) {
                free(body);
                return -1;
            }
            unsigned long sz = strtoul(c->buf + c->rpos, NULL, 16);
            c->rpos += (size_t)n + 2;
            if (sz == 0) {
                /* trailers, then the empty line */
                while ((n = conn_line(c)) > 0)
                    c->rpos += (size_t)n + 2;
                if (n < 0) {
                    free(body);
                    return -1;
                }
                c->rpos += 2;
                break;
            }
            if (conn_need(c, sz + 2) < 0) {
                free(body);
                return -1;
            }
            while (len + sz + 1 > cap)
                cap *= 2;
            body = xrealloc(body, cap);
            memcpy(body + len, c->buf + c->rpos, sz);
            len += sz;
            c->rpos += sz + 2;
        }
        body[len] = 0;
        r->body = body;
        r->body_len = len;
        return 0;
    }
    if (cl < 0)
        cl = 0; /* the server always sends one of the two on keep-alive connections */
    /* Read the body straight into the connection buffer, then hand it over. */
    if (conn_need(c, (size_t)cl) < 0)
        return -1;
    r->body = xmalloc((size_t)cl + 1);
    memcpy(r->body, c->buf + c->rpos, (size_t)cl);
    r->body[cl] = 0;
    r->body_len = (size_t)cl;
    c->rpos += (size_t)cl;
    return 0;
}

/* Sends one request and reads its response; 0 or -1 (connection broken). */
static int http_do(conn_t *c, const char *method, const char *path, const char *ctype,
                   const char *body, size_t body_len, resp_t *r)
{
    char head[1024];
    int n;
    if (body)
        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                     "User-Agent: k1s-load\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     method, path, ctype, body_len);
    else
        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                     "User-Agent: k1s-load\r\n\r\n",
                     method, path);
    /* one write for head and body: one TLS record, one segment */
    size_t total = (size_t)n + (body ? body_len : 0);
    char *msg = xmalloc(total);
    memcpy(msg, head, (size_t)n);
    if (body)
        memcpy(msg + n, body, body_len);
    int rc = conn_send(c, msg, total);
    free(msg);
    if (rc < 0)
        return -1;
    return conn_read_response(c, r);
}

/* Extracts the first "resourceVersion":"N" in s; -1 if none. */
static int64_t find_rv(const char *s, size_t len)
{
    static const char key[] = "\"resourceVersion\":\"";
    const char *p = memmem(s, len, key, sizeof(key) - 1);
    if (!p)
        return -1;
    return strtoll(p + sizeof(key) - 1, NULL, 10);
}

/* ---- freeport ---------------------------------------------------------------------- */

static int cmd_freeport(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("bind: %s", strerror(errno));
    printf("%d\n", ntohs(sa.sin_port));
    close(fd);
    return 0;
}

/* ---- start: exec to first 200 on /readyz ----------------------------------------------- */

static volatile pid_t child_pid;

static void forward_signal(int sig)
{
    if (child_pid > 0)
        kill(child_pid, sig);
}

static int readyz_once(SSL_CTX *ctx, int port)
{
    conn_t c;
    if (conn_open(&c, ctx, port, NULL) < 0)
        return -1;
    resp_t r;
    int ok = http_do(&c, "GET", "/readyz", NULL, NULL, 0, &r) == 0 && r.status == 200 &&
             r.body_len >= 2 && !strncmp(r.body, "ok", 2);
    if (r.body)
        resp_free(&r);
    conn_close(&c);
    return ok ? 0 : -1;
}

static const char *describe_status(int st, char *buf, size_t len)
{
    if (WIFEXITED(st))
        snprintf(buf, len, "exit code %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, len, "signal %d (%s)%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
                 WCOREDUMP(st) ? ", core dumped" : "");
    else
        snprintf(buf, len, "status %#x", st);
    return buf;
}

static int cmd_start(opts_t *o)
{
    if (!o->port || !o->cmd || !o->cmd[0])
        die("start: --port P [--log FILE] -- CMD ARGS...");
    SSL_CTX *ctx = tls_ctx_new(NULL);
    struct sigaction sa = {.sa_handler = forward_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int logfd = -1;
    if (o->log && (logfd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
        die("open %s: %s", o->log, strerror(errno));

    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        if (logfd >= 0) {
            dup2(logfd, 1);
            dup2(logfd, 2);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        execv(o->cmd[0], o->cmd);
        fprintf(stderr, "exec %s: %s\n", o->cmd[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    if (logfd >= 0)
        close(logfd);

    /* Poll every 2 ms, counted from the start of each attempt. */
    const uint64_t step = 2000000, deadline = t0 + 60 * 1000000000ull;
    int attempts = 0, st;
    for (;;) {
        uint64_t t = now_ns();
        attempts++;
        if (readyz_once(ctx, o->port) == 0)
            break;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            char why[128];
            die("server exited before it was ready: %s", describe_status(st, why, sizeof(why)));
        }
        if (t > deadline) {
            kill(pid, SIGKILL);
            die("server not ready after 60 s");
        }
        sleep_until_ns(t + step);
    }
    double ready = ms((int64_t)(now_ns() - t0));
    printf("ready_ms=%.1f polls=%d server_pid=%d end=1\n", ready, attempts, (int)pid);
    fflush(stdout);
    SSL_CTX_free(ctx);

    /* Stay the server's parent: reap it and say how it ended. */
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
        !(WIFSIGNALED(st) && (WTERMSIG(st) == SIGTERM || WTERMSIG(st) == SIGINT))) {
        char why[128];
        fprintf(stderr, "k1s-load: server (pid %d) ended with %s\n", (int)pid,
                describe_status(st, why, sizeof(why)));
        return 2;
    }
    return 0;
}

/* ---- rss / idle ------------------------------------------------------------------------ */

/* Reads a "Name:   value" field of /proc/PID[/task/TID]/status; -1 if absent. */
static long proc_status_field(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    size_t nl = strlen(name);
    long v = -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, name, nl) && line[nl] == ':') {
            v = strtol(line + nl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static long rss_kb(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    return proc_status_field(path, "VmRSS");
}

/* utime+stime in clock ticks of the whole process (live and exited threads). */
static long long proc_cpu_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read %s", path);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* fields after the command name, which is in parentheses and may hold spaces */
    char *p = strrchr(buf, ')');
    if (!p)
        die("bad %s", path);
    p += 2;
    long long utime = 0, stime = 0;
    /* p is at field 3 (state); utime and stime are fields 14 and 15 */
    for (int field = 3; field < 14; field++) {
        p = strchr(p, ' ');
        if (!p)
            die("bad %s", path);
        p++;
    }
    if (sscanf(p, "%lld %lld", &utime, &stime) != 2)
        die("bad %s", path);
    return utime + stime;
}

/* Context switches summed over the live threads: how often the process woke up. */
static long long proc_switches(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    long long sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[300];
        snprintf(p, sizeof(p), "/proc/%d/task/%s/status", pid, e->d_name);
        long v = proc_status_field(p, "voluntary_ctxt_switches");
        long nv = proc_status_field(p, "nonvoluntary_ctxt_switches");
        sum += (v > 0 ? v : 0) + (nv > 0 ? nv : 0);
    }
    closedir(d);
    return sum;
}

static int cmd_rss(opts_t *o)
{
    long kb = rss_kb(o->pid);
    if (kb < 0)
        die("no process %d", o->pid);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", o->pid);
    printf("rss_kb=%ld threads=%ld\n", kb, proc_status_field(path, "Threads"));
    return 0;
}

static int cmd_idle(opts_t *o)
{
    if (!o->pid || o->seconds <= 0)
        die("idle: --pid P --seconds S");
    long hz = sysconf(_SC_CLK_TCK);
    long long c0 = proc_cpu_ticks(o->pid), s0 = proc_switches(o->pid);
    uint64_t t0 = now_ns();
    sleep_until_ns(t0 + (uint64_t)(o->seconds * 1e9));
    long long c1 = proc_cpu_ticks(o->pid), s1 = proc_switches(o->pid);
    double wall = (double)(now_ns() - t0) / 1e9;
    double cpu_s = (double)(c1 - c0) / (double)hz;
    printf("idle_cpu_ms=%.0f idle_cpu_pct=%.3f idle_wall_s=%.1f idle_wakeups_per_s=%.2f\n",
           cpu_s * 1e3, cpu_s / wall * 100.0, wall, (double)(s1 - s0) / wall);
    return 0;
}

/* ---- create ---------------------------------------------------------------------------- */

/* A ConfigMap create body of exactly size bytes (when size allows): the data value pads it. */
static char *configmap_body(const char *name, int size, size_t *len, bool cr)
{
    static const char cm_fmt[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
        "\"labels\":{\"app\":\"k1s-bench\"}},\"data\":{\"payload\":\"%s\"}}";
    /* the same object as a custom resource (see cmd_crd) */
    static const char cr_fmt[] =
        "{\"apiVersion\":\"bench.k1s.io/v1\",\"kind\":\"BenchMap\",\"metadata\":{\"name\":"
        "\"%s\",\"labels\":{\"app\":\"k1s-bench\"}},\"data\":{\"payload\":\"%s\"}}";
    const char *fmt = cr ? cr_fmt : cm_fmt;
    int base = snprintf(NULL, 0, fmt, name, "");
    int pad = size > base ? size - base : 1;
    char *val = xmalloc((size_t)pad + 1);
    for (int i = 0; i < pad; i++)
        val[i] = (char)('a' + i % 26);
    val[pad] = 0;
    char *body = xmalloc((size_t)(base + pad) + 1);
    *len = (size_t)snprintf(body, (size_t)(base + pad) + 1, fmt, name, val);
    free(val);
    return body;
}

typedef struct create_run {
    SSL_CTX *ctx;
    opts_t *o;
    atomic_int next, ok, failed, ready;
    atomic_bool go;
    int64_t *lat; /* per request, ns */
    pthread_mutex_t lock;
    char first_error[512];
} create_run_t;

static void *create_thread(void *arg)
{
    create_run_t *cr = arg;
    conn_t c;
    if (conn_open(&c, cr->ctx, cr->o->port, NULL) < 0)
        die("create: cannot connect to the server");
    atomic_fetch_add(&cr->ready, 1);
    while (!atomic_load(&cr->go))
        usleep(100);
    for (;;) {
        int i = atomic_fetch_add(&cr->next, 1);
        if (i >= cr->o->count)
            break;
        char name[128];
        snprintf(name, sizeof(name), "%s-%06d", cr->o->prefix, i);
        size_t len;
        bool is_cr = cr->o->kind && !strcmp(cr->o->kind, "cr");
        char *body = configmap_body(name, cr->o->size, &len, is_cr);
        resp_t r;
        uint64_t t = now_ns();
        if (http_do(&c, "POST",
                    is_cr ? "/apis/bench.k1s.io/v1/namespaces/default/benchmaps"
                          : "/api/v1/namespaces/default/configmaps",
                    "application/json", body, len, &r) < 0) {
            /* the connection broke: count it and reconnect */
            atomic_fetch_add(&cr->failed, 1);
            pthread_mutex_lock(&cr->lock);
            if (!cr->first_error[0])
                snprintf(cr->first_error, sizeof(cr->first_error), "connection broken");
            pthread_mutex_unlock(&cr->lock);
            conn_close(&c);
            if (conn_open(&c, cr->ctx, cr->o->port, NULL) < 0)
                die("create: cannot reconnect to the server");
            free(body);
            continue;
        }
        cr->lat[i] = (int64_t)(now_ns() - t);
        if (r.status == 201) {
            atomic_fetch_add(&cr->ok, 1);
        } else {
            atomic_fetch_add(&cr->failed, 1);
            pthread_mutex_lock(&cr->lock);
            if (!cr->first_error[0])
                snprintf(cr->first_error, sizeof(cr->first_error), "HTTP %d: %.400s", r.status,
                         r.body ? r.body : "");
            pthread_mutex_unlock(&cr->lock);
        }
        resp_free(&r);
        free(body);
    }
    conn_close(&c);
    return NULL;
}

static int cmd_create(opts_t *o)
{
    if (!o->port || !o->tls || o->clients <= 0 || o->count <= 0)
        die("create: --port P --tls DIR --clients C --count N [--size B] [--prefix NAME]");
    if (!o->size)
        o->size = 1024;
    if (!o->prefix)
        o->prefix = "bench";
    create_run_t cr = {.ctx = tls_ctx_new(o->tls), .o = o};
    pthread_mutex_init(&cr.lock, NULL);
    cr.lat = xcalloc((size_t)o->count, sizeof(*cr.lat));
    pthread_t *th = xcalloc((size_t)o->clients, sizeof(*th));
    for (int i = 0; i < o->clients; i++)
        pthread_create(&th[i], NULL, create_thread, &cr);
    while (atomic_load(&cr.ready) < o->clients)
        usleep(1000);
    uint64_t t0 = now_ns();
    atomic_store(&cr.go, true);
    for (int i = 0; i < o->clients; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    int ok = atomic_load(&cr.ok), failed = atomic_load(&cr.failed);
    if (failed)
        fprintf(stderr, "k1s-load: create: %d of %d requests failed; first: %s\n", failed, o->count,
                cr.first_error);
    qsort(cr.lat, (size_t)o->count, sizeof(*cr.lat), cmp_i64);
    printf("create_ok=%d create_failed=%d create_secs=%.2f create_rate=%.0f create_p50_ms=%.2f "
           "create_p99_ms=%.2f create_max_ms=%.2f\n",
           ok, failed, secs, ok / secs, ms(pct(cr.lat, (size_t)o->count, 50)),
           ms(pct(cr.lat, (size_t)o->count, 99)), ms(cr.lat[o->count - 1]));
    free(cr.lat);
    free(th);
    SSL_CTX_free(cr.ctx);
    return failed ? 2 : 0;
}

/* ---- crd: the custom resource the CR creates use ----------------------------------------- */

static int cmd_crd(opts_t *o)
{
    if (!o->port || !o->tls)
        die("crd: --port P --tls DIR");
    static const char crd[] =
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"benchmaps.bench.k1s.io\"},\"spec\":{\"group\":\"bench.k1s.io\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"benchmaps\",\"kind\":\"BenchMap\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{"
        "\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"data\":{\"type\":"
        "\"object\",\"additionalProperties\":{\"type\":\"string\"}}}}}}]}}";
    SSL_CTX *ctx = tls_ctx_new(o->tls);
    conn_t c;
    if (conn_open(&c, ctx, o->port, NULL) < 0)
        die("crd: cannot connect to the server");
    resp_t r;
    uint64_t t0 = now_ns();
    if (http_do(&c, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                "application/json", crd, strlen(crd), &r) < 0 ||
        (r.status != 201 && r.status != 409))
        die("crd: creating the CRD failed");
    resp_free(&r);
    int served = 0;
    while (!served && now_ns() - t0 < 10000000000ull) {
        if (http_do(&c, "GET", "/apis/bench.k1s.io/v1/namespaces/default/benchmaps?limit=1", NULL,
                    NULL, 0, &r) < 0)
            die("crd: the connection broke");
        served = r.status == 200;
        resp_free(&r);
        if (!served)
            usleep(1000);
    }
    if (!served)
        die("crd: benchmaps not served within 10 s");
    printf("crd_served_ms=%.1f\n", (double)(now_ns() - t0) / 1e6);
    conn_close(&c);
    SSL_CTX_free(ctx);
    return 0;
}

/* ---- sqlite: the raw reference --------------------------------------------------------- */

static int cmd_sqlite(opts_t *o)
{
    if (!o->dir || o->count <= 0 || o->seconds <= 0)
        die("sqlite: --dir D --count N --seconds S [--size B]");
    if (!o->size)
        o->size = 1024;
    char path[4096];
    snprintf(path, sizeof(path), "%s/k1s-bench-raw-%d.db", o->dir, (int)getpid());
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("sqlite3_open %s: %s", path, sqlite3_errmsg(db));
    char *err = NULL;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE kv(rev INTEGER PRIMARY KEY, key TEXT, value BLOB)",
                     NULL, NULL, &err) != SQLITE_OK)
        die("sqlite: %s", err);
    sqlite3_stmt *begin, *ins, *commit;
    sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO kv(rev, key, value) VALUES (?, ?, ?)", -1, &ins, NULL);
    sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL);
    char *value = xmalloc((size_t)o->size);
    memset(value, 'x', (size_t)o->size);
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(o->seconds * 1e9);
    int n = 0;
    while (n < o->count && (n % 64 || now_ns() < end)) {
        char key[96];
        snprintf(key, sizeof(key), "/registry/configmaps/default/raw-%06d", n);
        if (sqlite3_step(begin) != SQLITE_DONE)
            die("sqlite BEGIN: %s", sqlite3_errmsg(db));
        sqlite3_reset(begin);
        sqlite3_bind_int64(ins, 1, n + 1);
        sqlite3_bind_text(ins, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 3, value, o->size, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die("sqlite INSERT: %s", sqlite3_errmsg(db));
        sqlite3_reset(ins);
        if (sqlite3_step(commit) != SQLITE_DONE)
            die("sqlite COMMIT: %s", sqlite3_errmsg(db));
        sqlite3_reset(commit);
        n++;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    unlink(path);
    char side[4200];
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    free(value);
    printf("sqlite_inserts=%d sqlite_secs=%.2f sqlite_rate=%.0f\n", n, secs, n / secs);
    return 0;
}

/* ---- list ------------------------------------------------------------------------------ */

static int cmd_list(opts_t *o)
{
    if (!o->port || !o->tls || o->runs <= 0)
        die("list: --port P --tls DIR --runs R [--path PATH]");
    if (!o->path)
        o->path = "/api/v1/configmaps";
    SSL_CTX *ctx = tls_ctx_new(o->tls);
    conn_t c;
    if (conn_open(&c, ctx, o->port, NULL) < 0)
        die("list: cannot connect");
    int64_t *lat = xcalloc((size_t)o->runs, sizeof(*lat));
    size_t bytes = 0, items = 0;
    for (int i = 0; i < o->runs; i++) {
        resp_t r;
        uint64_t t = now_ns();
        if (http_do(&c, "GET", o->path, NULL, NULL, 0, &r) < 0)
            die("list: connection broken");
        lat[i] = (int64_t)(now_ns() - t);
        if (r.status != 200)
            die("list: HTTP %d: %.300s", r.status, r.body ? r.body : "");
        bytes = r.body_len;
        if (i == 0) {
            /* each item is one object with its own "kind" after the list's own */
            items = 0;
            const char *p = r.body, *end = r.body + r.body_len;
            while ((p = memmem(p, (size_t)(end - p), "\"kind\":\"ConfigMap\"", 18))) {
                items++;
                p += 18;
            }
        }
        resp_free(&r);
    }
    conn_close(&c);
    qsort(lat, (size_t)o->runs, sizeof(*lat), cmp_i64);
    printf("list_runs=%d list_median_ms=%.1f list_min_ms=%.1f list_max_ms=%.1f list_bytes=%zu "
           "list_items=%zu\n",
           o->runs, ms(pct(lat, (size_t)o->runs, 50)), ms(lat[0]), ms(lat[o->runs - 1]), bytes,
           items);
    free(lat);
    SSL_CTX_free(ctx);
    return 0;
}

/* ---- get: the cost of authorization ------------------------------------------------ */

/*
 * GETs one object over two keep-alive connections in alternation: one as
 * the admin (system:masters, which the authorizer lets through first) and
 * one as the user whose client certificate is CLIENT.crt/CLIENT.key (its
 * access comes from an RBAC binding). Prints both medians and the
 * difference in percent.
 */
static int cmd_get(opts_t *o)
{
    if (!o->port || !o->tls || o->runs <= 0 || !o->path || !o->client)
        die("get: --port P --tls DIR --runs R --path PATH --client CERT_PREFIX");
    SSL_CTX *admin = tls_ctx_new(o->tls);
    SSL_CTX *user = tls_ctx_new(o->tls);
    char crt[4096], key[4096];
    snprintf(crt, sizeof(crt), "%s.crt", o->client);
    snprintf(key, sizeof(key), "%s.key", o->client);
    if (SSL_CTX_use_certificate_chain_file(user, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(user, key, SSL_FILETYPE_PEM) != 1)
        die("get: cannot load %s / %s", crt, key);
    conn_t ca, cu;
    if (conn_open(&ca, admin, o->port, NULL) < 0 || conn_open(&cu, user, o->port, NULL) < 0)
        die("get: cannot connect");
    int64_t *la = xcalloc((size_t)o->runs, sizeof(*la));
    int64_t *lu = xcalloc((size_t)o->runs, sizeof(*lu));
    for (int i = -o->runs / 10; i < o->runs; i++) { /* the first tenth warms up */
        for (int k = 0; k < 2; k++) {
            /* alternate which one goes first so neither always follows the other */
            conn_t *c = (k ^ (i & 1)) ? &cu : &ca;
            resp_t r;
            uint64_t t = now_ns();
            if (http_do(c, "GET", o->path, NULL, NULL, 0, &r) < 0)
                die("get: connection broken");
            int64_t d = (int64_t)(now_ns() - t);
            if (r.status != 200)
                die("get: HTTP %d as %s: %.300s", r.status, c == &cu ? "user" : "admin",
                    r.body ? r.body : "");
            resp_free(&r);
            if (i >= 0)
                (c == &cu ? lu : la)[i] = d;
        }
    }
    conn_close(&ca);
    conn_close(&cu);
    qsort(la, (size_t)o->runs, sizeof(*la), cmp_i64);
    qsort(lu, (size_t)o->runs, sizeof(*lu), cmp_i64);
    double ma = (double)pct(la, (size_t)o->runs, 50) / 1e3, mu = (double)pct(lu, (size_t)o->runs, 50) / 1e3;
    printf("get_runs=%d get_admin_median_us=%.1f get_rbac_median_us=%.1f get_rbac_overhead_pct=%.1f\n",
           o->runs, ma, mu, (mu - ma) / ma * 100);
    free(la);
    free(lu);
    SSL_CTX_free(admin);
    SSL_CTX_free(user);
    return 0;
}

/* ---- watch ----------------------------------------------------------------------------- */

/*
 * Events are matched to writes by resourceVersion: the writer records, per
 * revision it got back, when its response arrived; each watcher records,
 * per revision, when the event's last byte arrived. The two are combined
 * after both threads are done, so that an event that beats the response to
 * its own client (both leave the server in the same loop turn) is counted,
 * as zero delay, not lost.
 */
typedef struct watcher {
    conn_t c;
    int id;
    /* chunked decoding state over c.buf */
    size_t chunk_left; /* data bytes left in the current chunk; 0: expecting a size line */
    bool chunk_crlf;   /* expecting the CRLF that ends a chunk */
    char *line;        /* the event being assembled */
    size_t line_len, line_cap;
    bool ended;
} watcher_t;

typedef struct watch_run {
    opts_t *o;
    SSL_CTX *ctx;
    int64_t base_rv;
    size_t span;    /* revisions base_rv+1 .. base_rv+span are tracked */
    uint64_t *ack;  /* [span]: when the writer got the response, 0 if not ours */
    uint64_t *sent; /* [span]: when the writer sent the request */
    uint64_t *recv; /* [watchers * span]: when each watcher got the event */
    int64_t *wlat;  /* writer request latencies */
    atomic_int writes_done, write_errors;
    atomic_bool writer_done;
    long events, foreign, bookmarks, errors;
} watch_run_t;

static void watch_event(watch_run_t *wr, watcher_t *w, const char *ev, size_t len, uint64_t t)
{
    if (len < 10)
        return;
    if (memmem(ev, len < 40 ? len : 40, "\"BOOKMARK\"", 10)) {
        wr->bookmarks++;
        return;
    }
    if (memmem(ev, len < 40 ? len : 40, "\"ERROR\"", 7)) {
        wr->errors++;
        fprintf(stderr, "k1s-load: watch %d: %.300s\n", w->id, ev);
        return;
    }
    int64_t rv = find_rv(ev, len);
    if (rv <= wr->base_rv || (size_t)(rv - wr->base_rv) > wr->span) {
        wr->foreign++;
        return;
    }
    wr->events++;
    uint64_t *slot = &wr->recv[(size_t)w->id * wr->span + (size_t)(rv - wr->base_rv - 1)];
    if (!*slot)
        *slot = t;
}

/* Decodes what is buffered: chunks into lines, lines into events. */
static void watcher_consume(watch_run_t *wr, watcher_t *w, uint64_t t)
{
    conn_t *c = &w->c;
    for (;;) {
        size_t avail = c->wpos - c->rpos;
        char *p = c->buf + c->rpos;
        if (w->chunk_crlf) {
            if (avail < 2)
                return;
            c->rpos += 2;
            w->chunk_crlf = false;
            continue;
        }
        if (!w->chunk_left) {
            char *eol = memmem(p, avail, "\r\n", 2);
            if (!eol)
                return;
            unsigned long sz = strtoul(p, NULL, 16);
            c->rpos += (size_t)(eol - p) + 2;
            if (sz == 0) {
                w->ended = true;
                return;
            }
            w->chunk_left = sz;
            continue;
        }
        if (!avail)
            return;
        size_t n = avail < w->chunk_left ? avail : w->chunk_left;
        /* split into newline-terminated events */
        size_t start = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i] != '\n')
                continue;
            size_t seg = i - start;
            if (w->line_len) {
                if (w->line_len + seg + 1 > w->line_cap) {
                    w->line_cap = (w->line_len + seg + 1) * 2;
                    w->line = xrealloc(w->line, w->line_cap);
                }
                memcpy(w->line + w->line_len, p + start, seg);
                w->line_len += seg;
                w->line[w->line_len] = 0;
                watch_event(wr, w, w->line, w->line_len, t);
                w->line_len = 0;
            } else {
                watch_event(wr, w, p + start, seg, t);
            }
            start = i + 1;
        }
        if (start < n) {
            size_t seg = n - start;
            if (w->line_len + seg + 1 > w->line_cap) {
                w->line_cap = (w->line_len + seg + 1) * 2;
                w->line = xrealloc(w->line, w->line_cap);
            }
            memcpy(w->line + w->line_len, p + start, seg);
            w->line_len += seg;
        }
        c->rpos += n;
        w->chunk_left -= n;
        if (!w->chunk_left)
            w->chunk_crlf = true;
    }
}

static void *writer_thread(void *arg)
{
    watch_run_t *wr = arg;
    opts_t *o = wr->o;
    conn_t c;
    if (conn_open(&c, wr->ctx, o->port, NULL) < 0)
        die("watch: writer cannot connect");
    int total = (int)(o->rate * o->seconds);
    uint64_t step = 1000000000ull / (uint64_t)o->rate, t0 = now_ns();
    for (int i = 0; i < total; i++) {
        sleep_until_ns(t0 + (uint64_t)i * step);
        char name[64], path[256];
        snprintf(name, sizeof(name), "watch-%05d", i / 2);
        resp_t r;
        int rc;
        uint64_t t = now_ns();
        if (i % 2 == 0) {
            size_t len;
            char *body = configmap_body(name, 512, &len, false);
            rc = http_do(&c, "POST", "/api/v1/namespaces/default/configmaps", "application/json",
                         body, len, &r);
            free(body);
        } else {
            char body[128];
            int len = snprintf(body, sizeof(body), "{\"data\":{\"update\":\"%d\"}}", i);
            snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s", name);
            rc = http_do(&c, "PATCH", path, "application/merge-patch+json", body, (size_t)len, &r);
        }
        uint64_t done = now_ns();
        if (rc < 0)
            die("watch: writer connection broken");
        wr->wlat[i] = (int64_t)(done - t);
        int want = i % 2 == 0 ? 201 : 200;
        int64_t rv = r.status == want ? find_rv(r.body, r.body_len) : -1;
        if (rv > wr->base_rv && (size_t)(rv - wr->base_rv) <= wr->span) {
            wr->ack[rv - wr->base_rv - 1] = done;
            wr->sent[rv - wr->base_rv - 1] = t;
        } else {
            if (atomic_fetch_add(&wr->write_errors, 1) == 0)
                fprintf(stderr, "k1s-load: watch: writer got HTTP %d: %.300s\n", r.status,
                        r.body ? r.body : "");
        }
        resp_free(&r);
        atomic_fetch_add(&wr->writes_done, 1);
    }
    conn_close(&c);
    atomic_store(&wr->writer_done, true);
    return NULL;
}

static int cmd_watch(opts_t *o)
{
    if (!o->port || !o->tls || o->watchers <= 0 || o->rate <= 0 || o->seconds <= 0)
        die("watch: --port P --tls DIR --watchers W --rate R --seconds S");
    watch_run_t wr = {.o = o, .ctx = tls_ctx_new(o->tls)};
    int total = (int)(o->rate * o->seconds);

    /* The current revision: the watches start there, so they replay nothing older. */
    conn_t c;
    if (conn_open(&c, wr.ctx, o->port, NULL) < 0)
        die("watch: cannot connect");
    resp_t r;
    if (http_do(&c, "GET", "/api/v1/namespaces/default/configmaps?limit=1", NULL, NULL, 0, &r) <
            0 ||
        r.status != 200)
        die("watch: cannot list configmaps");
    wr.base_rv = find_rv(r.body, r.body_len);
    resp_free(&r);
    conn_close(&c);
    if (wr.base_rv < 0)
        die("watch: no resourceVersion in the list");
    /* room for writes by others (controllers) interleaved with ours */
    wr.span = (size_t)total * 2 + 1000;
    wr.ack = xcalloc(wr.span, sizeof(*wr.ack));
    wr.sent = xcalloc(wr.span, sizeof(*wr.sent));
    wr.recv = xcalloc(wr.span * (size_t)o->watchers, sizeof(*wr.recv));
    wr.wlat = xcalloc((size_t)total, sizeof(*wr.wlat));

    int ep = epoll_create1(EPOLL_CLOEXEC);
    watcher_t *ws = xcalloc((size_t)o->watchers, sizeof(*ws));
    char path[256];
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%" PRId64, wr.base_rv);
    uint64_t ts = now_ns();
    for (int i = 0; i < o->watchers; i++) {
        watcher_t *w = &ws[i];
        w->id = i;
        if (conn_open(&w->c, wr.ctx, o->port, NULL) < 0)
            die("watch: watcher %d cannot connect", i);
        char req[512];
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                         "User-Agent: k1s-load\r\n\r\n",
                         path);
        long cl;
        if (conn_send(&w->c, req, (size_t)n) < 0 || conn_read_head(&w->c, &r, &cl) < 0)
            die("watch: watcher %d: no response", i);
        if (r.status != 200 || !r.chunked)
            die("watch: watcher %d: HTTP %d%s", i, r.status, r.chunked ? "" : " (not chunked)");
        watcher_consume(&wr, w, now_ns()); /* anything that came with the head */
        fcntl(w->c.fd, F_SETFL, fcntl(w->c.fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
        epoll_ctl(ep, EPOLL_CTL_ADD, w->c.fd, &ev);
    }
    fprintf(stderr,
            "k1s-load: watch: %d watchers established in %.0f ms from revision %" PRId64 "\n",
            o->watchers, ms((int64_t)(now_ns() - ts)), wr.base_rv);

    pthread_t wt;
    pthread_create(&wt, NULL, writer_thread, &wr);

    /* Read until the writer is done and every watcher has seen every write (or 5 s more). */
    uint64_t grace = 0;
    struct epoll_event evs[128];
    for (;;) {
        int n = epoll_wait(ep, evs, (int)ARRAY_SIZE(evs), 50);
        uint64_t t = now_ns();
        for (int i = 0; i < n; i++) {
            watcher_t *w = evs[i].data.ptr;
            for (;;) {
                conn_reserve(&w->c, 16384);
                int got = SSL_read(w->c.ssl, w->c.buf + w->c.wpos, (int)(w->c.cap - w->c.wpos - 1));
                if (got <= 0) {
                    int e = SSL_get_error(w->c.ssl, got);
                    if (e == SSL_ERROR_WANT_READ)
                        break;
                    if (!w->ended)
                        fprintf(stderr, "k1s-load: watch %d: stream closed by the server\n", w->id);
                    w->ended = true;
                    epoll_ctl(ep, EPOLL_CTL_DEL, w->c.fd, NULL);
                    break;
                }
                w->c.wpos += (size_t)got;
                watcher_consume(&wr, w, t);
                t = now_ns();
            }
        }
        if (atomic_load(&wr.writer_done)) {
            if (!grace)
                grace = now_ns() + 5000000000ull;
            if (wr.events >= (long)total * o->watchers || now_ns() > grace)
                break;
        }
    }
    pthread_join(wt, NULL);

    /* Combine. */
    size_t nd = 0, missing = 0, early = 0;
    int64_t *d = xmalloc(sizeof(*d) * (size_t)total * (size_t)o->watchers + 1);
    int64_t *ds = xmalloc(sizeof(*ds) * (size_t)total * (size_t)o->watchers + 1);
    for (size_t k = 0; k < wr.span; k++) {
        if (!wr.ack[k])
            continue;
        for (int i = 0; i < o->watchers; i++) {
            uint64_t t = wr.recv[(size_t)i * wr.span + k];
            if (!t) {
                missing++;
                continue;
            }
            ds[nd] = (int64_t)(t - wr.sent[k]);
            int64_t delay = (int64_t)(t - wr.ack[k]);
            if (delay < 0) {
                early++;
                delay = 0;
            }
            d[nd++] = delay;
        }
    }
    qsort(d, nd, sizeof(*d), cmp_i64);
    qsort(ds, nd, sizeof(*ds), cmp_i64);
    int writes = atomic_load(&wr.writes_done);
    qsort(wr.wlat, (size_t)writes, sizeof(*wr.wlat), cmp_i64);
    printf("watch_watchers=%d watch_writes=%d watch_write_errors=%d watch_events=%zu "
           "watch_missing=%zu watch_before_response=%zu watch_p50_ms=%.2f watch_p90_ms=%.2f "
           "watch_p99_ms=%.2f watch_max_ms=%.2f watch_write_p50_ms=%.2f watch_write_p99_ms=%.2f "
           "watch_error_events=%ld watch_foreign_events=%ld watch_sent_p50_ms=%.2f "
           "watch_sent_p99_ms=%.2f\n",
           o->watchers, writes, atomic_load(&wr.write_errors), nd, missing, early,
           ms(pct(d, nd, 50)), ms(pct(d, nd, 90)), ms(pct(d, nd, 99)), nd ? ms(d[nd - 1]) : 0.0,
           ms(pct(wr.wlat, (size_t)writes, 50)), ms(pct(wr.wlat, (size_t)writes, 99)), wr.errors,
           wr.foreign, ms(pct(ds, nd, 50)), ms(pct(ds, nd, 99)));
    for (int i = 0; i < o->watchers; i++) {
        conn_close(&ws[i].c);
        free(ws[i].line);
    }
    free(ws);
    free(d);
    free(ds);
    free(wr.ack);
    free(wr.sent);
    free(wr.recv);
    free(wr.wlat);
    close(ep);
    SSL_CTX_free(wr.ctx);
    return missing || wr.errors ? 2 : 0;
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: k1s-load freeport|start|rss|idle|create|crd|sqlite|list|get|watch [options]");
    signal(SIGPIPE, SIG_IGN);
    opts_t o = {0};
    const char *cmd = argv[1];
    parse_opts(argc - 2, argv + 2, &o);
    if (!strcmp(cmd, "freeport"))
        return cmd_freeport();
    if (!strcmp(cmd, "start"))
        return cmd_start(&o);
    if (!strcmp(cmd, "rss"))
        return cmd_rss(&o);
    if (!strcmp(cmd, "idle"))
        return cmd_idle(&o);
    if (!strcmp(cmd, "create"))
        return cmd_create(&o);
    if (!strcmp(cmd, "sqlite"))
        return cmd_sqlite(&o);
    if (!strcmp(cmd, "crd"))
        return cmd_crd(&o);
    if (!strcmp(cmd, "list"))
        return cmd_list(&o);
    if (!strcmp(cmd, "watch"))
        return cmd_watch(&o);
    if (!strcmp(cmd, "get"))
        return cmd_get(&o);
    die("unknown command %s", cmd);
}
