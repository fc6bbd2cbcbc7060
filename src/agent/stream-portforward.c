/*
 * Port forwarding of the kubelet API (/portForward/{ns}/{pod}), as the
 * kubelet's portforward SPDY handler serves it (k8s.io/kubelet/pkg/cri/
 * streaming/portforward/httpstream.go), over either transport kubectl uses:
 *
 *   - a WebSocket with subprotocol "SPDY/3.1+portforward.k8s.io", whose
 *     binary messages tunnel a SPDY connection (kubectl 1.30+), or
 *   - a plain "Upgrade: SPDY/3.1" connection (older clients, the fallback), or
 *   - WebSocket channels (v4.channel.k8s.io, ?ports=a,b: channel 2i is port
 *     i's data, 2i+1 its errors, each opened with the port number as two
 *     little-endian bytes; one connection per port, the WebSocket ends with
 *     the last one), as python3-kubernetes uses it.
 *
 * The client opens two SPDY streams per forwarded connection, with headers
 * streamtype=error|data, port and requestid. Once both are there, a TCP
 * socket is made inside the pod's network namespace (a short-lived thread
 * setns()es, creates the socket and returns it: the socket stays in that
 * namespace) and connected to 127.0.0.1:port from the loop; then bytes
 * flow between the data stream and the socket. A failure is written as
 * text on the error stream. When the pod side closes, both streams get
 * FIN; when the client closes its data stream, the socket's write side is
 * shut down.
 *
 * Back-pressure: sockets are read only while the transport's queue is short;
 * the transport is read only while no socket's queue is long.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "agent/stream.h"
#include "lib/log.h"
#include "lib/util.h"
#include "net/spdy.h"
#include "net/websocket.h"

#define HIGH (256u << 10)

typedef struct pf pf_t;

typedef struct pair {
    pf_t *pf;
    struct pair *next;
    char *reqid;
    uint32_t data_id, err_id;
    int port;
    struct bufferevent *conn;
    bool started, connected, client_fin, done;
} pair_t;

struct pf {
    k1s_stream_sess_t sess; /* first: the set's link */
    k1s_stream_set_t *set;
    struct event_base *base;
    k1s_ws_t *ws;            /* the tunnel, or */
    struct bufferevent *bev; /* the upgraded connection */
    k1s_spdy_t *spdy;
    pair_t *pairs;
    char *netns, *pod;
    bool ending;
    struct event *finish;
    bool channels; /* WebSocket channels (v4.channel.k8s.io, ports= in the query) */
    int cur_ch;    /* channels: the channel of the message being received */
};

/* ---------- transport ---------- */

static void tp_write(const void *data, size_t len, void *arg)
{
    pf_t *pf = arg;
    if (pf->ending)
        return;
    if (pf->ws)
        k1s_ws_send(pf->ws, K1S_WS_BINARY, NULL, 0, data, len);
    else if (pf->bev)
        bufferevent_write(pf->bev, data, len);
}

static size_t tp_pending(pf_t *pf)
{
    if (pf->ws)
        return k1s_ws_pending(pf->ws);
    return pf->bev ? evbuffer_get_length(bufferevent_get_output(pf->bev)) : 0;
}

static void tp_pause(pf_t *pf, bool pause)
{
    if (pf->ws)
        k1s_ws_pause(pf->ws, pause);
    else if (pf->bev) {
        if (pause)
            bufferevent_disable(pf->bev, EV_READ);
        else
            bufferevent_enable(pf->bev, EV_READ);
    }
}

static void pair_free(pair_t *p)
{
    if (p->conn)
        bufferevent_free(p->conn);
    free(p->reqid);
    free(p);
}

static void pf_free(pf_t *pf)
{
    if (pf->set)
        k1s_stream_set_del(pf->set, &pf->sess);
    while (pf->pairs) {
        pair_t *p = pf->pairs;
        pf->pairs = p->next;
        pair_free(p);
    }
    k1s_spdy_free(pf->spdy);
    k1s_ws_close(pf->ws, 1000, "");
    if (pf->bev)
        bufferevent_free(pf->bev);
    event_free(pf->finish);
    free(pf->netns);
    free(pf->pod);
    free(pf);
}

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
    pf_free(arg);
}

static void pf_stop(k1s_stream_sess_t *s)
{
    pf_t *pf = (pf_t *)s;
    pf->ending = true;
    k1s_ws_abort(pf->ws);
    pf->ws = NULL;
    pf_free(pf);
}

static void pf_end(pf_t *pf)
{
    if (pf->ending)
        return;
    pf->ending = true;
    event_active(pf->finish, EV_TIMEOUT, 0);
}

/* ---------- one forwarded connection ---------- */

/* Data (or the end, fin) on one of a pair's streams: a SPDY stream, or in channel mode the
 * WebSocket channel id - 1 (channels have no end of their own). */
static void pair_send(pf_t *pf, uint32_t id, const void *data, size_t len, bool fin)
{
    if (!pf->channels) {
        k1s_spdy_data(pf->spdy, id, data, len, fin);
        return;
    }
    unsigned char ch = (unsigned char)(id - 1);
    if (len && pf->ws)
        k1s_ws_send(pf->ws, K1S_WS_BINARY, &ch, 1, data, len);
}

static void pair_done(pair_t *p, const char *error)
{
    if (p->done)
        return;
    p->done = true;
    pf_t *pf = p->pf;
    if (error && p->err_id) {
        k1s_debug("kubelet api: port-forward %s: %s", pf->pod, error);
        pair_send(pf, p->err_id, error, strlen(error), false);
    }
    if (p->data_id)
        pair_send(pf, p->data_id, NULL, 0, true);
    if (p->err_id)
        pair_send(pf, p->err_id, NULL, 0, true);
    if (p->conn) {
        bufferevent_free(p->conn);
        p->conn = NULL;
    }
    /* later frames for its streams (the client's FIN or reset) find no pair: ignored */
    pair_t **pp = &pf->pairs;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    pair_free(p);
    /* channel mode: the WebSocket ends with its last forwarded connection, as upstream */
    if (pf->channels && !pf->pairs)
        pf_end(pf);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
    pair_t *p = arg;
    pf_t *pf = p->pf;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    while ((n = evbuffer_get_length(in)) > 0) {
        size_t take = n > 65536 ? 65536 : n;
        pair_send(pf, p->data_id, evbuffer_pullup(in, (ssize_t)take), take, false);
        evbuffer_drain(in, take);
    }
    if (tp_pending(pf) > HIGH)
        bufferevent_disable(bev, EV_READ);
}

static void conn_write(struct bufferevent *bev, void *arg)
{
    pair_t *p = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (p->client_fin)
        shutdown(bufferevent_getfd(bev), SHUT_WR);
    tp_pause(p->pf, false);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    pair_t *p = arg;
    if (what & BEV_EVENT_CONNECTED) {
        p->connected = true;
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        if (p->client_fin && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            shutdown(bufferevent_getfd(bev), SHUT_WR);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    conn_read(bev, p);
    if ((what & BEV_EVENT_ERROR) && !p->connected) {
        int e = EVUTIL_SOCKET_ERROR();
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "error forwarding port %d to pod %s: dial tcp4 127.0.0.1:%d: connect: %s", p->port,
                 p->pf->pod, p->port, e == ECONNREFUSED ? "connection refused" : strerror(e));
        pair_done(p, msg);
        return;
    }
    pair_done(p, NULL);
}

typedef struct netns_job {
    const char *path;
    int fd, err;
} netns_job_t;

/* In its own thread: join the namespace, make the socket; the thread then ends, and with it
 * the namespace switch (setns affects only the calling thread). */
static void *netns_socket(void *arg)
{
    netns_job_t *j = arg;
    int ns = open(j->path, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
        j->err = errno;
        if (ns >= 0)
            close(ns);
        return NULL;
    }
    close(ns);
    j->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (j->fd < 0)
        j->err = errno;
    return NULL;
}

static void pair_start(pair_t *p)
{
    pf_t *pf = p->pf;
    netns_job_t j = {.path = pf->netns, .fd = -1};
    if (pf->netns && *pf->netns) {
        pthread_t t;
        if (pthread_create(&t, NULL, netns_socket, &j) != 0) {
            j.err = EAGAIN;
        } else {
            /* socket creation does not block: joining at once costs microseconds */
            pthread_join(t, NULL);
        }
    } else {
        j.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (j.fd < 0)
            j.err = errno;
    }
    if (j.fd < 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "error forwarding port %d to pod %s: network namespace %s: %s",
                 p->port, pf->pod, pf->netns, strerror(j.err));
        pair_done(p, msg);
        return;
    }
    p->conn = bufferevent_socket_new(pf->base, j.fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(p->conn, conn_read, conn_write, conn_event, p);
    bufferevent_setwatermark(p->conn, EV_WRITE, HIGH / 2, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bufferevent_socket_connect(p->conn, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "error forwarding port %d to pod %s: dial tcp4 127.0.0.1:%d: connect: %s", p->port,
                 pf->pod, p->port, strerror(errno));
        pair_done(p, msg);
    }
}

/* ---------- SPDY events ---------- */

static pair_t *pair_by_stream(pf_t *pf, uint32_t id)
{
    for (pair_t *p = pf->pairs; p; p = p->next)
        if (p->data_id == id || p->err_id == id)
            return p;
    return NULL;
}

static void on_stream(k1s_spdy_t *s, uint32_t id, const k1s_spdy_header_t *h, int nh, bool fin,
                      void *arg)
{
    pf_t *pf = arg;
    k1s_spdy_reply(s, id, NULL, 0, false);
    const char *type = k1s_spdy_header(h, nh, "streamtype");
    const char *port = k1s_spdy_header(h, nh, "port");
    const char *reqid = k1s_spdy_header(h, nh, "requestid");
    char idbuf[16];
    bool is_data = type && !strcmp(type, "data");
    bool is_err = type && !strcmp(type, "error");
    if (!reqid) { /* old clients: error stream id n, data stream id n+2 */
        snprintf(idbuf, sizeof(idbuf), "%u", is_data ? id - 2 : id);
        reqid = idbuf;
    }
    int portn = port ? atoi(port) : 0;
    if ((!is_data && !is_err) || portn <= 0 || portn > 65535) {
        k1s_spdy_reset(s, id, K1S_SPDY_PROTOCOL_ERROR);
        return;
    }
    pair_t *p = pf->pairs;
    while (p && strcmp(p->reqid, reqid))
        p = p->next;
    if (!p) {
        p = k1s_xcalloc(1, sizeof(*p));
        p->pf = pf;
        p->reqid = k1s_xstrdup(reqid);
        p->next = pf->pairs;
        pf->pairs = p;
    }
    if (is_data) {
        p->data_id = id;
        p->port = portn;
        p->client_fin = fin;
    } else {
        p->err_id = id;
    }
    if (p->data_id && p->err_id && !p->started) {
        p->started = true;
        pair_start(p);
    }
}

static void on_data(k1s_spdy_t *s, uint32_t id, const unsigned char *data, size_t len, bool fin,
                    void *arg)
{
    pf_t *pf = arg;
    pair_t *p = pair_by_stream(pf, id);
    if (!p || id != p->data_id || p->done)
        return; /* the error stream carries nothing from the client */
    if (len && p->conn) {
        bufferevent_write(p->conn, data, len);
        if (evbuffer_get_length(bufferevent_get_output(p->conn)) > HIGH)
            tp_pause(pf, true);
    }
    if (fin) {
        p->client_fin = true;
        if (p->conn && evbuffer_get_length(bufferevent_get_output(p->conn)) == 0)
            shutdown(bufferevent_getfd(p->conn), SHUT_WR);
    }
}

static void on_reset(k1s_spdy_t *s, uint32_t id, uint32_t status, void *arg)
{
    pf_t *pf = arg;
    pair_t *p = pair_by_stream(pf, id);
    if (p && id == p->data_id && p->conn) {
        bufferevent_free(p->conn);
        p->conn = NULL;
        pair_done(p, NULL);
    }
}

static void on_goaway(k1s_spdy_t *s, void *arg)
{
    pf_end(arg);
}

/* ---------- transports in ---------- */

static void ws_data(k1s_ws_t *ws, bool first, bool fin, const unsigned char *data, size_t len,
                    void *arg)
{
    pf_t *pf = arg;
    if (pf->ending)
        return;
    if (!pf->channels) {
        k1s_spdy_feed(pf->spdy, data, len);
        return;
    }
    if (first) {
        pf->cur_ch = len ? data[0] : -1;
        if (len) {
            data++;
            len--;
        }
    }
    /* even channels carry data to the ports; the odd (error) ones nothing from the client */
    if (pf->cur_ch >= 0 && pf->cur_ch % 2 == 0 && len)
        on_data(NULL, (uint32_t)pf->cur_ch + 1, data, len, false, pf);
}

static void ws_closed(k1s_ws_t *ws, void *arg)
{
    pf_end(arg);
}

static void resume_conns(pf_t *pf)
{
    for (pair_t *p = pf->pairs; p; p = p->next)
        if (p->conn && p->connected)
            bufferevent_enable(p->conn, EV_READ);
}

static void ws_drain(k1s_ws_t *ws, void *arg)
{
    resume_conns(arg);
}

static void bev_read(struct bufferevent *bev, void *arg)
{
    pf_t *pf = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    while (!pf->ending && (n = evbuffer_get_length(in)) > 0) {
        size_t take = n > 65536 ? 65536 : n;
        k1s_spdy_feed(pf->spdy, evbuffer_pullup(in, (ssize_t)take), take);
        evbuffer_drain(in, take);
    }
}

static void bev_write(struct bufferevent *bev, void *arg)
{
    resume_conns(arg);
}

static void bev_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        pf_end(arg);
}

const char *const k1s_stream_pf_protocols[] = {"SPDY/3.1+portforward.k8s.io", "v4.channel.k8s.io",
                                               NULL};

void k1s_stream_portforward(struct event_base *base, k1s_stream_set_t *set, k1s_http_req_t *req,
                            const char *netns, const char *pod)
{
    static const k1s_spdy_cbs_t scbs = {.write = tp_write,
                                        .on_stream = on_stream,
                                        .on_data = on_data,
                                        .on_reset = on_reset,
                                        .on_goaway = on_goaway};
    const char *up = k1s_http_req_header(req, "Upgrade");
    bool ws = k1s_ws_is_upgrade(req);
    const char *proto = ws ? k1s_ws_pick_protocol(req, k1s_stream_pf_protocols) : NULL;
    bool spdy = !ws && up && !strcasecmp(up, "SPDY/3.1");
    if ((ws && !proto) || (!ws && !spdy)) {
        k1s_http_respond_status(req, 400, "BadRequest",
                                "port-forward needs an upgrade to SPDY/3.1, or to a WebSocket "
                                "with subprotocol SPDY/3.1+portforward.k8s.io or "
                                "v4.channel.k8s.io");
        return;
    }
    /* the older WebSocket protocol: ports in the query, two channels per port */
    bool channels = ws && !strcmp(proto, "v4.channel.k8s.io");
    int ports[64], nports = 0;
    if (channels) {
        const char *q = k1s_http_req_query(req, "ports");
        for (const char *c = q; c && *c && nports < 64;) {
            char *e;
            long v = strtol(c, &e, 10);
            if (e == c || v <= 0 || v > 65535 || (*e && *e != ','))
                break;
            ports[nports++] = (int)v;
            c = *e ? e + 1 : e;
        }
        if (!nports) {
            k1s_http_respond_status(req, 400, "BadRequest",
                                    "query parameter \"ports\" is required (a comma-separated "
                                    "list of ports from 1 to 65535)");
            return;
        }
    }
    pf_t *pf = k1s_xcalloc(1, sizeof(*pf));
    pf->base = base;
    pf->netns = k1s_xstrdup(netns ? netns : "");
    pf->pod = k1s_xstrdup(pod);
    pf->finish = event_new(base, -1, 0, finish_cb, pf);
    pf->spdy = k1s_spdy_new(&scbs, pf);
    if (ws) {
        static const k1s_ws_cbs_t wcbs = {
            .on_data = ws_data, .on_close = ws_closed, .on_drain = ws_drain};
        pf->ws = k1s_ws_accept(req, proto, &wcbs, pf);
        if (!pf->ws) {
            pf->ending = true;
            pf_free(pf);
            return;
        }
        pf->set = set;
        pf->sess.stop = pf_stop;
        k1s_stream_set_add(set, &pf->sess);
        if (channels) {
            pf->channels = true;
            pf->cur_ch = -1;
            for (int i = nports - 1; i >= 0; i--) {
                pair_t *p = k1s_xcalloc(1, sizeof(*p));
                p->pf = pf;
                p->reqid = k1s_xasprintf("%d", i);
                p->data_id = (uint32_t)(2 * i + 1);
                p->err_id = (uint32_t)(2 * i + 2);
                p->port = ports[i];
                p->next = pf->pairs;
                pf->pairs = p;
                /* each channel starts with its port, little-endian */
                unsigned char pb[2] = {(unsigned char)ports[i], (unsigned char)(ports[i] >> 8)};
                pair_send(pf, p->data_id, pb, 2, false);
                pair_send(pf, p->err_id, pb, 2, false);
            }
            for (pair_t *p = pf->pairs, *next; p; p = next) {
                next = p->next;
                p->started = true;
                pair_start(p);
            }
        }
        return;
    }
    struct bufferevent *bev = k1s_http_hijack(req);
    if (!bev) {
        k1s_http_respond_status(req, 400, "BadRequest", "SPDY upgrades need HTTP/1.1");
        pf->ending = true;
        pf_free(pf);
        return;
    }
    pf->bev = bev;
    pf->set = set;
    pf->sess.stop = pf_stop;
    k1s_stream_set_add(set, &pf->sess);
    static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                               "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
                               "portforward.k8s.io\r\n\r\n";
    bufferevent_write(bev, head, sizeof(head) - 1);
    bufferevent_setwatermark(bev, EV_WRITE, HIGH / 2, 0);
    bufferevent_setcb(bev, bev_read, bev_write, bev_event, pf);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (evbuffer_get_length(bufferevent_get_input(bev)))
        bev_read(bev, pf);
}
