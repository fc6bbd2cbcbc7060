/*
 * k1s-h2: an HTTP/2 client for the k1s API server on libnghttp2, for the
 * HTTP/2 figures of `make bench` (bench/run.sh) and the HTTP/2 end-to-end
 * tests (tests/e2e/test_http2.py). Everything a subcommand does happens on
 * ONE TLS connection (ALPN h2), which is the point:
 *
 *   watches --port P --tls DIR --pid PID --watchers N [--settle S]
 *       N watch streams of ConfigMaps in "default" on one connection. Prints
 *       the server's VmRSS before and after opening them (h2_watch_rss_*),
 *       checks that one create reaches every watcher, resets every stream
 *       (RST_STREAM CANCEL) and prints the server's registered watchers
 *       before and after the resets (from /metrics).
 *   latency --port P --tls DIR --runs N [--path PATH] [--proto h2|h1]
 *       N sequential GETs of PATH on one keep-alive connection (HTTP/2, or
 *       HTTP/1.1 for comparison); prints p50/p99/min in microseconds.
 *   get --port P --tls DIR --path PATH [--header-bytes B] [--body-bytes B]
 *       One request: GET, or POST of B bytes sent without content-length
 *       (so only the stream's DATA tells the size); an extra header of B
 *       bytes. Prints the status and the body. For the 413/431 tests.
 *   streams --port P --tls DIR --path PATH --count N
 *       N concurrent GETs on one connection; prints how many got 200, how
 *       many were refused, and the server's SETTINGS_MAX_CONCURRENT_STREAMS.
 *   slowwatch --port P --tls DIR --pid PID --ns NS [--count N] [--body-bytes B]
 *       A watch in NS whose reader stalls (windows never reopened) while N
 *       ConfigMaps of B bytes are created: prints whether the server ended
 *       the watch and how much its RSS grew meanwhile.
 *   goaway --port P --tls DIR
 *       Opens a watch, prints ready=1 and waits up to 30 s for the server's
 *       GOAWAY (the test then stops the server); prints its error code.
 *
 * Results go to stdout as shell assignments (name=value); errors to stderr.
 * Clients use the admin client certificate in DIR (the server's TLS
 * directory) and verify the server against DIR/server-ca.crt.
 *
 * Build: cc -O2 -o k1s-h2 bench/k1s-h2.c $(pkg-config --cflags --libs openssl libnghttp2)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "k1s-h2: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- options ---- */

typedef struct opts {
    int port, pid, watchers, runs, count;
    double settle_s;
    const char *tls, *path, *proto, *ns;
    size_t header_bytes, body_bytes;
} opts_t;

/* ---- TLS ---- */

static SSL *tls_connect(const opts_t *o, const char *alpn, size_t alpn_len, int *fdp)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        die("SSL_CTX_new failed");
    char path[4096];
    snprintf(path, sizeof(path), "%s/server-ca.crt", o->tls);
    if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1)
        die("cannot load %s", path);
    snprintf(path, sizeof(path), "%s/client-admin.crt", o->tls);
    if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1)
        die("cannot load %s", path);
    snprintf(path, sizeof(path), "%s/client-admin.key", o->tls);
    if (SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) != 1)
        die("cannot load %s", path);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)alpn, (unsigned)alpn_len);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect to port %d: %s", o->port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        ERR_print_errors_fp(stderr);
        die("TLS handshake failed");
    }
    *fdp = fd;
    return ssl;
}

/* ---- HTTP/2 session ---- */

typedef struct stream {
    int32_t id;
    int status;
    size_t bytes, lines;
    bool closed;
    uint32_t error;
    char body[1 << 20]; /* /metrics of a long-running server is well past 64 KiB */
    size_t body_len;
    /* request body to send */
    const char *up;
    size_t up_len, up_off;
} stream_t;

typedef struct h2 {
    SSL *ssl;
    int fd;
    nghttp2_session *ng;
    uint32_t peer_max_streams;
    bool dead, goaway;
    uint32_t goaway_error;
    int32_t goaway_last_id;
} h2_t;

static ssize_t send_cb(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud)
{
    h2_t *h = ud;
    int n = SSL_write(h->ssl, data, (int)len);
    if (n <= 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return n;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    stream_t *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (s && namelen == 7 && memcmp(name, ":status", 7) == 0)
        s->status = atoi((const char *)value);
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *ud)
{
    stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (!s)
        return 0;
    s->bytes += len;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n')
            s->lines++;
    size_t room = sizeof(s->body) - 1 - s->body_len;
    size_t n = len < room ? len : room;
    memcpy(s->body + s->body_len, data, n);
    s->body_len += n;
    s->body[s->body_len] = 0;
    return 0;
}

static int on_close(nghttp2_session *ng, int32_t id, uint32_t error, void *ud)
{
    stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
    if (s) {
        s->closed = true;
        s->error = error;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    h2_t *h = ud;
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        for (size_t i = 0; i < frame->settings.niv; i++)
            if (frame->settings.iv[i].settings_id == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                h->peer_max_streams = frame->settings.iv[i].value;
    }
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        h->goaway = true;
        h->goaway_error = frame->goaway.error_code;
        h->goaway_last_id = frame->goaway.last_stream_id;
    }
    return 0;
}

static h2_t *h2_connect_opt(const opts_t *o, bool manual_windows);

static h2_t *h2_connect(const opts_t *o)
{
    return h2_connect_opt(o, false);
}

/* manual_windows: the client never opens its windows again (a reader that stalls) */
static h2_t *h2_connect_opt(const opts_t *o, bool manual_windows)
{
    h2_t *h = calloc(1, sizeof(*h));
    h->ssl = tls_connect(o, "\x02h2\x08http/1.1", 12, &h->fd);
    const unsigned char *sel = NULL;
    unsigned sellen = 0;
    SSL_get0_alpn_selected(h->ssl, &sel, &sellen);
    if (sellen != 2 || memcmp(sel, "h2", 2) != 0)
        die("the server did not choose h2 by ALPN");
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    /* let the 431 test send more than nghttp2's default 64 KiB of headers */
    nghttp2_option_set_max_send_header_block_length(opt, 1u << 20);
    nghttp2_option_set_no_auto_window_update(opt, manual_windows);
    nghttp2_session_client_new2(&h->ng, cbs, h, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    /* a big window, like Go clients, so the server's flow control is ours to test */
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 4u << 20}};
    nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, manual_windows ? 0 : 1);
    if (!manual_windows)
        nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, 1 << 30);
    return h;
}

/* Sends what is queued, then reads for up to wait_ms (or until a read). */
static void h2_pump(h2_t *h, int wait_ms)
{
    if (h->dead)
        return;
    if (nghttp2_session_send(h->ng) != 0) {
        h->dead = true;
        return;
    }
    struct pollfd p = {.fd = h->fd, .events = POLLIN};
    /* wait_ms < 0: block in SSL_read, as the HTTP/1.1 client does (no poll) */
    if (wait_ms >= 0 && SSL_pending(h->ssl) == 0 && poll(&p, 1, wait_ms) <= 0)
        return;
    uint8_t buf[65536];
    do {
        int n = SSL_read(h->ssl, buf, sizeof(buf));
        if (n <= 0) {
            h->dead = true;
            return;
        }
        if (nghttp2_session_mem_recv(h->ng, buf, (size_t)n) < 0) {
            h->dead = true;
            return;
        }
    } while (SSL_pending(h->ssl) > 0);
    if (nghttp2_session_send(h->ng) != 0)
        h->dead = true;
}

static ssize_t upload_cb(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    stream_t *s = src->ptr;
    size_t n = s->up_len - s->up_off;
    if (n > len)
        n = len;
    memcpy(buf, s->up + s->up_off, n);
    s->up_off += n;
    if (s->up_off == s->up_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* Starts a request; extra is an optional header value for "x-extra". */
static stream_t *h2_request(h2_t *h, const char *method, const char *path, const char *body,
                            size_t body_len, const char *extra)
{
    stream_t *s = calloc(1, sizeof(*s));
    nghttp2_nv nv[8];
    int n = 0;
#define NVS(a, b)                                                                                  \
    nv[n++] = (nghttp2_nv){(uint8_t *)(a), (uint8_t *)(b), strlen(a), strlen(b), NGHTTP2_NV_FLAG_NONE}
    NVS(":method", method);
    NVS(":path", path);
    NVS(":scheme", "https");
    NVS(":authority", "127.0.0.1");
    NVS("accept", "application/json");
    if (body)
        NVS("content-type", "application/json");
    if (extra)
        NVS("x-extra", extra);
#undef NVS
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = upload_cb};
    s->up = body;
    s->up_len = body_len;
    s->id = nghttp2_submit_request(h->ng, NULL, nv, (size_t)n, body ? &prd : NULL, s);
    if (s->id < 0)
        die("submit request: %s", nghttp2_strerror(s->id));
    return s;
}

/* Pumps until s is closed or timeout_ms passes. */
static bool h2_wait(h2_t *h, stream_t *s, int timeout_ms)
{
    double end = now_ms() + timeout_ms;
    while (!s->closed && !h->dead && now_ms() < end)
        h2_pump(h, 50);
    return s->closed;
}

static long rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read %s", path);
    long v = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = atol(line + 6);
    fclose(f);
    return v;
}

/* apiserver_registered_watchers from /metrics, over h. */
static long watchers(h2_t *h)
{
    stream_t *s = h2_request(h, "GET", "/metrics", NULL, 0, NULL);
    if (!h2_wait(h, s, 10000) || s->status != 200)
        die("GET /metrics failed: status %d closed %d error %u dead %d", s->status, s->closed,
            s->error, h->dead);
    const char *p = strstr(s->body, "\napiserver_registered_watchers ");
    long v = p ? atol(p + strlen("\napiserver_registered_watchers ")) : -1;
    free(s);
    return v;
}

static void sleep_pumping(h2_t *h, double seconds)
{
    double end = now_ms() + seconds * 1e3;
    while (now_ms() < end && !h->dead)
        h2_pump(h, 20);
}

static int cmd_watches(const opts_t *o)
{
    if (!o->pid || o->watchers <= 0)
        die("watches needs --pid and --watchers");
    h2_t *h = h2_connect(o);
    /* /metrics and the create go on a second connection: the watches may
     * take every stream the server allows on the first */
    h2_t *ctl = h2_connect(o);
    /* warm up the connection and the server's code paths first */
    stream_t *warm =
        h2_request(h, "GET", "/api/v1/namespaces/default/configmaps?limit=1", NULL, 0, NULL);
    h2_wait(h, warm, 10000);
    /* watch from the current revision: no initial ADDED flood on a full store */
    const char *rvp = strstr(warm->body, "\"resourceVersion\":\"");
    char path[256] = "/api/v1/namespaces/default/configmaps?watch=1";
    if (rvp)
        snprintf(path, sizeof(path),
                 "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%ld",
                 atol(rvp + strlen("\"resourceVersion\":\"")));
    long w0 = watchers(ctl);
    sleep_pumping(h, o->settle_s);
    sleep_pumping(ctl, 0.01);
    long before = rss_kb(o->pid);
    stream_t **ws = calloc((size_t)o->watchers, sizeof(*ws));
    for (int i = 0; i < o->watchers; i++)
        ws[i] = h2_request(h, "GET", path, NULL, 0, NULL);
    double end = now_ms() + 20000;
    int ok = 0;
    while (now_ms() < end && !h->dead) {
        h2_pump(h, 20);
        ok = 0;
        for (int i = 0; i < o->watchers; i++)
            ok += ws[i]->status == 200;
        if (ok == o->watchers)
            break;
    }
    sleep_pumping(h, o->settle_s);
    long after = rss_kb(o->pid);
    long w1 = watchers(ctl);
    /* one create must reach every watcher */
    char body[256];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"h2-%d-%ld\"}}",
             getpid(), (long)now_ms());
    size_t lines0 = 0;
    for (int i = 0; i < o->watchers; i++)
        lines0 += ws[i]->lines;
    stream_t *c = h2_request(ctl, "POST", "/api/v1/namespaces/default/configmaps", body,
                             strlen(body), NULL);
    h2_wait(ctl, c, 10000);
    int got = 0;
    end = now_ms() + 10000;
    while (now_ms() < end && !h->dead) {
        h2_pump(h, 20);
        size_t lines = 0;
        for (int i = 0; i < o->watchers; i++)
            lines += ws[i]->lines;
        got = (int)(lines - lines0);
        if (got >= o->watchers)
            break;
    }
    /* reset every watch stream, keep the connection */
    for (int i = 0; i < o->watchers; i++)
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, ws[i]->id, NGHTTP2_CANCEL);
    long w2 = -1;
    end = now_ms() + 10000;
    while (now_ms() < end && !h->dead) {
        sleep_pumping(h, 0.1);
        w2 = watchers(ctl);
        if (w2 == w0)
            break;
    }
    printf("h2_watchers=%d\nh2_watch_ok=%d\nh2_watch_create_status=%d\nh2_watch_events=%d\n",
           o->watchers, ok, c->status, got);
    printf("h2_watch_rss_before_kb=%ld\nh2_watch_rss_after_kb=%ld\nh2_watch_rss_delta_kb=%ld\n",
           before, after, after - before);
    printf("h2_registered_watchers_idle=%ld\nh2_registered_watchers_open=%ld\n"
           "h2_registered_watchers_after_reset=%ld\nh2_connection_alive=%d\n",
           w0, w1, w2, !h->dead);
    return ok == o->watchers && got >= o->watchers && w2 == w0 && !h->dead ? 0 : 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One HTTP/1.1 GET on ssl; returns the status (body read by Content-Length). */
static int h1_get(SSL *ssl, const char *path)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n", path);
    if (SSL_write(ssl, req, n) != n)
        die("write failed");
    static char buf[1 << 20];
    size_t len = 0;
    char *eoh = NULL;
    while (!eoh) {
        int r = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
        if (r <= 0)
            die("read failed");
        len += (size_t)r;
        buf[len] = 0;
        eoh = strstr(buf, "\r\n\r\n");
    }
    int status = atoi(buf + 9);
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
    size_t have = len - (size_t)(eoh + 4 - buf);
    while (have < want) {
        int r = SSL_read(ssl, buf, (int)(sizeof(buf) < want - have ? sizeof(buf) : want - have));
        if (r <= 0)
            die("read failed");
        have += (size_t)r;
    }
    return status;
}

static int cmd_latency(const opts_t *o)
{
    bool h1 = o->proto && strcmp(o->proto, "h1") == 0;
    int runs = o->runs > 0 ? o->runs : 1000;
    double *t = calloc((size_t)runs, sizeof(*t));
    int failed = 0;
    if (h1) {
        int fd;
        SSL *ssl = tls_connect(o, "\x08http/1.1", 9, &fd);
        for (int i = 0; i < 20; i++)
            h1_get(ssl, o->path);
        for (int i = 0; i < runs; i++) {
            double t0 = now_ms();
            failed += h1_get(ssl, o->path) != 200;
            t[i] = now_ms() - t0;
        }
    } else {
        h2_t *h = h2_connect(o);
        for (int i = 0; i < runs + 20; i++) {
            double t0 = now_ms();
            stream_t *s = h2_request(h, "GET", o->path, NULL, 0, NULL);
            while (!s->closed && !h->dead)
                h2_pump(h, -1);
            if (s->status != 200)
                failed++;
            if (i >= 20)
                t[i - 20] = now_ms() - t0;
            free(s);
        }
    }
    qsort(t, (size_t)runs, sizeof(*t), cmp_double);
    const char *p = h1 ? "h1" : "h2";
    printf("%s_get_p50_us=%.0f\n%s_get_p99_us=%.0f\n%s_get_min_us=%.0f\n%s_get_failed=%d\n", p,
           t[runs / 2] * 1e3, p, t[(runs * 99) / 100] * 1e3, p, t[0] * 1e3, p, failed);
    return failed ? 1 : 0;
}

static int cmd_get(const opts_t *o)
{
    h2_t *h = h2_connect(o);
    char *extra = NULL, *body = NULL;
    if (o->header_bytes) {
        extra = malloc(o->header_bytes + 1);
        memset(extra, 'x', o->header_bytes);
        extra[o->header_bytes] = 0;
    }
    if (o->body_bytes) {
        body = malloc(o->body_bytes);
        memset(body, ' ', o->body_bytes);
    }
    stream_t *s = h2_request(h, body ? "POST" : "GET", o->path, body, o->body_bytes, extra);
    bool done = h2_wait(h, s, 20000);
    /* after the answer the connection must still serve requests */
    stream_t *v = h2_request(h, "GET", "/version", NULL, 0, NULL);
    h2_wait(h, v, 10000);
    printf("status=%d\nclosed=%d\nrst_error=%u\nafter_status=%d\n", s->status, done, s->error,
           v->status);
    printf("body='");
    for (const char *p = s->body; *p; p++)
        fputs(*p == '\'' ? "'\\''" : (char[]){*p, 0}, stdout);
    printf("'\n");
    return 0;
}

static int cmd_streams(const opts_t *o)
{
    h2_t *h = h2_connect(o);
    int n = o->count > 0 ? o->count : 100;
    stream_t **ss = calloc((size_t)n, sizeof(*ss));
    /* wait for the server's SETTINGS first, so its limit is known */
    sleep_pumping(h, 0.2);
    for (int i = 0; i < n; i++)
        ss[i] = h2_request(h, "GET", o->path, NULL, 0, NULL);
    double end = now_ms() + 30000;
    int closed = 0;
    while (now_ms() < end && !h->dead) {
        h2_pump(h, 20);
        closed = 0;
        for (int i = 0; i < n; i++)
            closed += ss[i]->closed;
        if (closed == n)
            break;
    }
    int ok = 0, refused = 0;
    for (int i = 0; i < n; i++) {
        ok += ss[i]->status == 200;
        refused += ss[i]->error == NGHTTP2_REFUSED_STREAM;
    }
    printf("streams=%d\nstreams_ok=%d\nstreams_refused=%d\nmax_concurrent_streams=%u\n", n, ok,
           refused, h->peer_max_streams);
    return ok == n ? 0 : 1;
}

/* Opens a watch, says ready=1, waits for the server's GOAWAY (SIGTERM it). */
static int cmd_goaway(const opts_t *o)
{
    h2_t *h = h2_connect(o);
    stream_t *w =
        h2_request(h, "GET", "/api/v1/namespaces/default/configmaps?watch=1", NULL, 0, NULL);
    double end = now_ms() + 10000;
    while (w->status == 0 && !h->dead && now_ms() < end)
        h2_pump(h, 20);
    printf("ready=%d\n", w->status == 200);
    end = now_ms() + 30000;
    while (!h->goaway && !h->dead && now_ms() < end)
        h2_pump(h, 20);
    printf("goaway=%d\ngoaway_error=%u\ngoaway_last_stream_id=%d\nwatch_stream_id=%d\n",
           h->goaway, h->goaway_error, h->goaway_last_id, w->id);
    return h->goaway ? 0 : 1;
}

/*
 * A watch whose reader stalls (64 KiB windows, never reopened) while NS gets
 * --count ConfigMaps of --body-bytes each: the server must end the watch
 * (watch.c's back-pressure, fed by k1s_http_stream_pending) instead of
 * buffering without bound.
 */
static int cmd_slowwatch(const opts_t *o)
{
    if (!o->ns || !o->pid)
        die("slowwatch needs --ns and --pid");
    h2_t *w = h2_connect_opt(o, true);
    h2_t *ctl = h2_connect(o);
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps?limit=1", o->ns);
    stream_t *l = h2_request(ctl, "GET", path, NULL, 0, NULL);
    h2_wait(ctl, l, 10000);
    const char *rvp = strstr(l->body, "\"resourceVersion\":\"");
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps?watch=1&resourceVersion=%ld",
             o->ns, rvp ? atol(rvp + strlen("\"resourceVersion\":\"")) : 0L);
    long w0 = watchers(ctl);
    stream_t *ws = h2_request(w, "GET", path, NULL, 0, NULL);
    double end = now_ms() + 10000;
    while (ws->status == 0 && !w->dead && now_ms() < end)
        h2_pump(w, 20);
    long w1 = watchers(ctl);
    long rss0 = rss_kb(o->pid);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", o->ns);
    size_t size = o->body_bytes ? o->body_bytes : 900000;
    char *body = malloc(size + 256);
    int created = 0;
    for (int i = 0; i < (o->count ? o->count : 24); i++) {
        int n = snprintf(body, 256,
                         "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{"
                         "\"name\":\"big-%d\"},\"data\":{\"x\":\"",
                         i);
        memset(body + n, 'x', size);
        memcpy(body + n + size, "\"}}", 4);
        stream_t *c = h2_request(ctl, "POST", path, body, (size_t)n + size + 3, NULL);
        h2_wait(ctl, c, 30000);
        created += c->status == 201;
        free(c);
        h2_pump(w, 0); /* read what the server sends, but never reopen the window */
    }
    long w2 = -1;
    end = now_ms() + 15000;
    while (now_ms() < end) {
        h2_pump(w, 50);
        w2 = watchers(ctl);
        if (w2 == w0 && ws->closed)
            break;
    }
    long rss1 = rss_kb(o->pid);
    printf("slow_watch_status=%d\ncreated=%d\nreceived_bytes=%zu\n", ws->status, created,
           ws->bytes);
    printf("watchers_idle=%ld\nwatchers_open=%ld\nwatchers_after=%ld\n", w0, w1, w2);
    printf("stream_closed=%d\nstream_error=%u\nrss_growth_kb=%ld\n", ws->closed, ws->error,
           rss1 - rss0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: k1s-h2 watches|latency|get|streams|slowwatch|goaway [options]");
    opts_t o = {.settle_s = 1, .path = "/version"};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("%s needs a value", a);
        i++;
        if (!strcmp(a, "--port"))
            o.port = atoi(v);
        else if (!strcmp(a, "--tls"))
            o.tls = v;
        else if (!strcmp(a, "--pid"))
            o.pid = atoi(v);
        else if (!strcmp(a, "--watchers"))
            o.watchers = atoi(v);
        else if (!strcmp(a, "--settle"))
            o.settle_s = atof(v);
        else if (!strcmp(a, "--runs"))
            o.runs = atoi(v);
        else if (!strcmp(a, "--count"))
            o.count = atoi(v);
        else if (!strcmp(a, "--path"))
            o.path = v;
        else if (!strcmp(a, "--ns"))
            o.ns = v;
        else if (!strcmp(a, "--proto"))
            o.proto = v;
        else if (!strcmp(a, "--header-bytes"))
            o.header_bytes = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--body-bytes"))
            o.body_bytes = strtoul(v, NULL, 10);
        else
            die("unknown option %s", a);
    }
    if (!o.port || !o.tls)
        die("--port and --tls are required");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(argv[1], "watches"))
        return cmd_watches(&o);
    if (!strcmp(argv[1], "latency"))
        return cmd_latency(&o);
    if (!strcmp(argv[1], "get"))
        return cmd_get(&o);
    if (!strcmp(argv[1], "streams"))
        return cmd_streams(&o);
    if (!strcmp(argv[1], "goaway"))
        return cmd_goaway(&o);
    if (!strcmp(argv[1], "slowwatch"))
        return cmd_slowwatch(&o);
    die("unknown command %s", argv[1]);
}
