/*
 * One run of a container probe (exec, httpGet, tcpSocket), with kubelet's
 * result messages. The schedule (initialDelaySeconds, periodSeconds,
 * thresholds) is the pod worker's; see probes.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/kubelet-int.h"
#include "agent/probes.h"
#include "lib/buf.h"
#include "lib/log.h"

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
    bool http;
    k1s_buf_t resp;
};

static void probe_free(k1s_probe_t *p)
{
    if (p->bev)
        bufferevent_free(p->bev);
    if (p->timeout)
        event_free(p->timeout);
    if (p->memfd >= 0)
        close(p->memfd);
    free(p->desc);
    free(p->hostport);
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
    if (what & BEV_EVENT_EOF) {
        net_fail(p, "EOF");
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
    const json_t *spec = hg ? hg : ts;
    if (!spec) {
        k1s_err_set(err, ENOTSUP, "probe type not supported (exec, httpGet and tcpSocket are)");
        probe_free(p);
        return NULL;
    }
    const char *host = k1s_js(spec, "host");
    if (!host || !*host)
        host = pod_ip;
    int port = resolve_port(json_object_get(spec, "port"), container);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (port <= 0 || port > 65535 || !host || inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        k1s_err_set(err, EINVAL, "probe: bad host or port (%s:%d)", host ? host : "", port);
        probe_free(p);
        return NULL;
    }
    p->hostport = k1s_xasprintf("%s:%d", host, port);
    if (hg) {
        const char *scheme = k1s_js(hg, "scheme");
        if (scheme && strcmp(scheme, "HTTP")) {
            k1s_err_set(err, ENOTSUP, "httpGet probe scheme %s is not supported yet", scheme);
            probe_free(p);
            return NULL;
        }
        const char *path = k1s_js(hg, "path");
        if (!path || !*path)
            path = "/";
        p->http = true;
        p->desc = k1s_xasprintf("http://%s%s%s", p->hostport, *path == '/' ? "" : "/", path);
        k1s_buf_printf(&p->resp, "GET %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kube-probe/1.32\r\n",
                       *path == '/' ? "" : "/", path, p->hostport);
        size_t i;
        const json_t *h;
        json_array_foreach(json_object_get(hg, "httpHeaders"), i, h)
        {
            k1s_buf_printf(&p->resp, "%s: %s\r\n", k1s_js(h, "name"), k1s_js(h, "value"));
        }
        k1s_buf_puts(&p->resp, "Accept: */*\r\nConnection: close\r\n\r\n");
    }
    p->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(p->bev, on_read, NULL, on_event, p);
    p->timeout = evtimer_new(base, on_timeout, p);
    struct timeval tv = {timeout_s, 0};
    evtimer_add(p->timeout, &tv);
    if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
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
