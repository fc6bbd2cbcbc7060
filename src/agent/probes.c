/*
 * One run of a container probe (exec, httpGet over HTTP or HTTPS, tcpSocket;
 * grpc in probes-grpc.c), with kubelet's result messages. The schedule
 * (initialDelaySeconds, periodSeconds, thresholds) is the pod worker's; see
 * probes.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/kubelet-int.h"
#include "agent/probes.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "net/httpc.h"

#define MAX_OUTPUT 10240

struct k1s_probe {
    struct event_base *base;
    k1s_probe_done_fn done;
    void *arg;
    bool cancelled, exec_out;
    int memfd;
    struct bufferevent *bev;
    struct event *timeout;
    char *desc; /* "http://10.42.0.5:8080/healthz" or "10.42.0.5:8080" */
    char *hostport;
    char *dns_host; /* the host to look up, when the probe names one */
    bool http, https;
    k1s_buf_t resp;
    k1s_grpc_probe_t *grpc;
};

static void probe_free(k1s_probe_t *p)
{
    k1s_grpc_probe_cancel(p->grpc);
    if (p->bev)
        bufferevent_free(p->bev);
    if (p->timeout)
        event_free(p->timeout);
    if (p->memfd >= 0)
        close(p->memfd);
    free(p->desc);
    free(p->hostport);
    free(p->dns_host);
    k1s_buf_free(&p->resp);
    free(p);
}

static void finish(k1s_probe_t *p, bool ok, const char *msg)
{
    if (!p->cancelled)
        p->done(p->arg, ok, msg);
    probe_free(p);
}

/* ---- exec ---- */

static void exec_done(void *arg, const char *id, int rc, const k1s_err_t *err)
{
    k1s_probe_t *p = arg;
    char out[MAX_OUTPUT + 1] = "";
    ssize_t n = pread(p->memfd, out, MAX_OUTPUT, 0);
    out[n > 0 ? n : 0] = 0;
    if (rc == 0) {
        finish(p, true, out);
        return;
    }
    char *msg = rc > 0 ? k1s_xstrdup(out)
                       : k1s_xasprintf("%s", err && *err->msg ? err->msg : "exec failed");
    if (rc > 0 && !*msg) {
        free(msg);
        msg = k1s_xasprintf("command exited with %d", rc);
    }
    finish(p, false, msg);
    free(msg);
}

/* ---- tcp and http ---- */

/* A DNS name: letters, digits, '-' and '.', at most 253 characters. */
static bool host_name_ok(const char *h)
{
    size_t n = strlen(h);
    if (!n || n > 253)
        return false;
    for (const char *c = h; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.'))
            return false;
    return true;
}

static void net_fail(k1s_probe_t *p, const char *why)
{
    char *msg = p->http ? k1s_xasprintf("Get \"%s\": %s", p->desc, why)
                        : k1s_xasprintf("dial tcp %s: %s", p->hostport, why);
    finish(p, false, msg);
    free(msg);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    k1s_probe_t *p = arg;
    if (p->http)
        net_fail(p, "context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
    else
        net_fail(p, "i/o timeout");
}

/* The status line is all a probe needs: 200-399 is success. */
static void on_read(struct bufferevent *bev, void *arg)
{
    k1s_probe_t *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    char buf[256];
    size_t take = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
    evbuffer_copyout(in, buf, take);
    buf[take] = 0;
    char *eol = strstr(buf, "\r\n");
    if (!eol && take < sizeof(buf) - 1)
        return;
    int code = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1) {
        net_fail(p, "malformed HTTP response");
        return;
    }
    if (code >= 200 && code < 400) {
        finish(p, true, "");
    } else {
        char *msg = k1s_xasprintf("HTTP probe failed with statuscode: %d", code);
        finish(p, false, msg);
        free(msg);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    k1s_probe_t *p = arg;
    if (what & BEV_EVENT_CONNECTED) {
        if (!p->http) {
            finish(p, true, "");
            return;
        }
        bufferevent_write(bev, p->resp.data, p->resp.len);
        k1s_buf_reset(&p->resp);
        bufferevent_enable(bev, EV_READ);
        return;
    }
    int e = EVUTIL_SOCKET_ERROR();
    if (p->dns_host && bufferevent_socket_get_dns_error(bev)) {
        /* kubelet (Go): dial tcp: lookup NAME on SERVER:53: no such host */
        char *msg = p->http ? k1s_xasprintf("Get \"%s\": dial tcp: lookup %s: no such host",
                                            p->desc, p->dns_host)
                            : k1s_xasprintf("dial tcp: lookup %s: no such host", p->dns_host);
        finish(p, false, msg);
        free(msg);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        net_fail(p, "EOF");
        return;
    }
    unsigned long ssl_err = p->https ? bufferevent_get_openssl_error(bev) : 0;
    if (ssl_err) {
        char why[300], detail[256];
        ERR_error_string_n(ssl_err, detail, sizeof(detail));
        snprintf(why, sizeof(why), "tls: %s", detail);
        net_fail(p, why);
        return;
    }
    char why[128];
    snprintf(why, sizeof(why), "connect: %s",
             e == ECONNREFUSED ? "connection refused"
             : e               ? strerror(e)
                               : "connection failed");
    for (char *c = why + 9; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    net_fail(p, why);
}

/* The request line and headers: kubelet's Host, User-Agent and Accept unless httpHeaders
 * gives its own (a "Host" header sets the virtual host, as in kubelet). */
static void http_request(k1s_buf_t *b, const json_t *hg, const char *path, const char *hostport)
{
    const json_t *hs = json_object_get(hg, "httpHeaders");
    bool host = false, ua = false, accept = false;
    size_t i;
    const json_t *h;
    json_array_foreach(hs, i, h)
    {
        const char *n = k1s_js(h, "name");
        host |= n && !strcasecmp(n, "Host");
        ua |= n && !strcasecmp(n, "User-Agent");
        accept |= n && !strcasecmp(n, "Accept");
    }
    k1s_buf_printf(b, "GET %s%s HTTP/1.1\r\n", *path == '/' ? "" : "/", path);
    if (!host)
        k1s_buf_printf(b, "Host: %s\r\n", hostport);
    if (!ua)
        k1s_buf_puts(b, "User-Agent: kube-probe/1.32\r\n");
    if (!accept)
        k1s_buf_puts(b, "Accept: */*\r\n");
    json_array_foreach(hs, i, h)
    {
        const char *n = k1s_js(h, "name"), *v = k1s_js(h, "value");
        /* no header splitting through a value */
        if (n && *n && !strpbrk(n, "\r\n:") && (!v || !strpbrk(v, "\r\n")))
            k1s_buf_printf(b, "%s: %s\r\n", n, v ? v : "");
    }
    k1s_buf_puts(b, "Connection: close\r\n\r\n");
}

/* kubelet's probe client does not verify certificates (InsecureSkipVerify). One context for
 * all probes, made on first use. */
static SSL_CTX *probe_tls_ctx(void)
{
    static SSL_CTX *ctx;
    if (!ctx) {
        ctx = SSL_CTX_new(TLS_client_method());
        k1s_assert(ctx);
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        static const unsigned char alpn[] = "\x08http/1.1";
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    }
    return ctx;
}

static void sleep_done(evutil_socket_t fd, short what, void *arg)
{
    finish(arg, true, "");
}

static void grpc_done(void *arg, bool ok, const char *msg)
{
    k1s_probe_t *p = arg;
    p->grpc = NULL; /* it freed itself */
    finish(p, ok, msg);
}

/* A port given by number or by the name of one of the container's ports. */
static int resolve_port(const json_t *v, const json_t *container)
{
    if (json_is_integer(v))
        return (int)json_integer_value(v);
    const char *name = json_string_value(v);
    if (!name)
        return -1;
    if (*name >= '0' && *name <= '9')
        return atoi(name);
    size_t i;
    const json_t *port;
    json_array_foreach(json_object_get(container, "ports"), i, port)
    {
        if (k1s_streq(k1s_js(port, "name"), name))
            return (int)json_integer_value(json_object_get(port, "containerPort"));
    }
    return -1;
}

k1s_probe_t *k1s_probe_run(struct event_base *base, k1s_rt_t *rt, const char *ctr_id,
                           const char *pod_ip, const json_t *container, const json_t *probe,
                           k1s_probe_done_fn done, void *arg, k1s_err_t *err)
{
    k1s_probe_t *p = k1s_xcalloc(1, sizeof(*p));
    p->base = base;
    p->done = done;
    p->arg = arg;
    p->memfd = -1;
    const json_t *to = json_object_get(probe, "timeoutSeconds");
    int timeout_s =
        json_is_integer(to) && json_integer_value(to) > 0 ? (int)json_integer_value(to) : 1;
    const json_t *sl = json_object_get(probe, "sleep");
    if (sl) { /* a lifecycle hook's sleep action, cut short by the grace period */
        const json_t *secs = json_object_get(sl, "seconds");
        int s = json_is_integer(secs) && json_integer_value(secs) > 0
                    ? (int)json_integer_value(secs)
                    : 0;
        p->timeout = evtimer_new(base, sleep_done, p);
        struct timeval tv = {s < timeout_s ? s : timeout_s, 0};
        evtimer_add(p->timeout, &tv);
        return p;
    }
    const json_t *ex = json_object_get(probe, "exec");
    if (ex) {
        const json_t *cmd = json_object_get(ex, "command");
        size_t n = json_array_size(cmd);
        if (!n) {
            k1s_err_set(err, EINVAL, "exec probe without a command");
            probe_free(p);
            return NULL;
        }
        char **args = k1s_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            args[i] = (char *)json_string_value(json_array_get(cmd, i));
        p->memfd = memfd_create("k1s-probe", MFD_CLOEXEC);
        k1s_rt_exec_req_t req = {.args = args,
                                 .stdin_fd = -1,
                                 .stdout_fd = p->memfd,
                                 .stderr_fd = p->memfd,
                                 .timeout_ms = timeout_s * 1000};
        int r = k1s_rt_exec(rt, ctr_id, &req, exec_done, NULL, p, err);
        free(args);
        if (r < 0) {
            probe_free(p);
            return NULL;
        }
        p->exec_out = true;
        return p;
    }
    const json_t *hg = json_object_get(probe, "httpGet"), *ts = json_object_get(probe, "tcpSocket");
    const json_t *gr = json_object_get(probe, "grpc");
    const json_t *spec = hg ? hg : ts ? ts : gr;
    if (!spec) {
        k1s_err_set(err, ENOTSUP,
                    "handler type not supported (exec, httpGet, tcpSocket, grpc and sleep are)");
        probe_free(p);
        return NULL;
    }
    const char *host = k1s_js(spec, "host");
    if (!host || !*host)
        host = pod_ip;
    int port = resolve_port(json_object_get(spec, "port"), container);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    /* a host given by name is looked up by the node's resolver, as kubelet does (grpc probes
     * have no host: always the pod's IP) */
    bool by_name =
        !gr && host && host_name_ok(host) && inet_pton(AF_INET, host, &sin.sin_addr) != 1;
    if (port <= 0 || port > 65535 || !host ||
        (!by_name && inet_pton(AF_INET, host, &sin.sin_addr) != 1)) {
        k1s_err_set(err, EINVAL, "probe: bad host or port (%s:%d)", host ? host : "", port);
        probe_free(p);
        return NULL;
    }
    if (by_name)
        p->dns_host = k1s_xstrdup(host);
    p->hostport = k1s_xasprintf("%s:%d", host, port);
    if (gr) {
        const char *service = k1s_js(gr, "service");
        p->grpc = k1s_grpc_probe_start(base, &sin, p->hostport, service ? service : "", timeout_s,
                                       grpc_done, p, err);
        if (!p->grpc) {
            probe_free(p);
            return NULL;
        }
        return p;
    }
    if (hg) {
        const char *scheme = k1s_js(hg, "scheme");
        if (scheme && strcmp(scheme, "HTTP") && strcmp(scheme, "HTTPS")) {
            k1s_err_set(err, EINVAL, "httpGet probe scheme \"%s\" is neither HTTP nor HTTPS",
                        scheme);
            probe_free(p);
            return NULL;
        }
        p->https = k1s_streq(scheme, "HTTPS");
        const char *path = k1s_js(hg, "path");
        if (!path || !*path)
            path = "/";
        p->http = true;
        p->desc = k1s_xasprintf("%s://%s%s%s", p->https ? "https" : "http", p->hostport,
                                *path == '/' ? "" : "/", path);
        http_request(&p->resp, hg, path, p->hostport);
    }
    if (p->https) {
        SSL *ssl = SSL_new(probe_tls_ctx());
        k1s_assert(ssl);
        p->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                BEV_OPT_CLOSE_ON_FREE);
        k1s_assert(p->bev);
        bufferevent_openssl_set_allow_dirty_shutdown(p->bev, 1);
    } else {
        p->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    bufferevent_setcb(p->bev, on_read, NULL, on_event, p);
    p->timeout = evtimer_new(base, on_timeout, p);
    struct timeval tv = {timeout_s, 0};
    evtimer_add(p->timeout, &tv);
    if (by_name) {
        if (bufferevent_socket_connect_hostname(p->bev, k1s_httpc_resolver(base), AF_INET, host,
                                                port) < 0) {
            k1s_err_set(err, errno, "probe: look up %s: %s", host, strerror(errno));
            probe_free(p);
            return NULL;
        }
    } else if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        k1s_err_set(err, errno, "probe: connect %s: %s", p->hostport, strerror(errno));
        probe_free(p);
        return NULL;
    }
    return p;
}

void k1s_probe_cancel(k1s_probe_t *p)
{
    if (!p)
        return;
    if (p->exec_out) { /* the exec's completion frees it */
        p->cancelled = true;
        return;
    }
    probe_free(p);
}
