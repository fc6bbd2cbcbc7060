/*
 * Remote command sessions of the kubelet API (exec and attach): a process's
 * stdio carried over a WebSocket with the channel protocols
 * v4.channel.k8s.io / v5.channel.k8s.io, or over SPDY/3.1 streams
 * (X-Stream-Protocol-Version v4.channel.k8s.io: one stream per channel, named
 * by the streamtype header; kubectl before 1.29), as the kubelet's CRI
 * streaming server (k8s.io/kubelet/pkg/cri/streaming/remotecommand) serves
 * them.
 *
 * Channels: 0 stdin, 1 stdout, 2 stderr, 3 error (one metav1.Status when
 * the command ends: Success, or Failure with reason NonZeroExitCode and the
 * exit code as a cause), 4 resize ({"Width":w,"Height":h}); v5 adds 255
 * (close: the client is done with stdin). All output is sent before the
 * final status. Internal to the agent (kubelet-api.c).
 */
#ifndef K1S_AGENT_STREAM_H
#define K1S_AGENT_STREAM_H

#include <event2/event.h>
#include <stdbool.h>

#include "agent/kubelet-api.h"
#include "net/http.h"

/* The sessions of one kubelet API server, so that they can be ended with it. */
typedef struct k1s_stream_sess {
    struct k1s_stream_sess *prev, *next;
    void (*stop)(struct k1s_stream_sess *s); /* ends and frees the session */
} k1s_stream_sess_t;

typedef struct k1s_stream_set {
    k1s_stream_sess_t *head;
} k1s_stream_set_t;

/* Ends every session in set (server shutdown). */
void k1s_stream_stop_all(k1s_stream_set_t *set);
/* For the session files: joins/leaves set. */
void k1s_stream_set_add(k1s_stream_set_t *set, k1s_stream_sess_t *s);
void k1s_stream_set_del(k1s_stream_set_t *set, k1s_stream_sess_t *s);

extern const char *const k1s_stream_protocols[]; /* the subprotocols served, preferred first */

typedef struct k1s_stream_opts {
    bool in, out, err, tty; /* which streams the client asked for */
    char **argv;            /* exec: the command (NULL-terminated; borrowed for the call);
                               NULL: attach */
    const char *container_id;
} k1s_stream_opts_t;

/*
 * Answers req (a WebSocket upgrade with one of k1s_stream_protocols; otherwise 400) and
 * runs the session: exec or attach through the backend. Failures to start are reported on
 * the error channel as the kubelet does. The session frees itself when done.
 */
void k1s_stream_remotecommand(struct event_base *base, k1s_stream_set_t *set, k1s_http_req_t *req,
                              const k1s_kapi_backend_t *be, void *ctx, const k1s_stream_opts_t *o);

/* "SPDY/3.1+portforward.k8s.io", "v4.channel.k8s.io" */
extern const char *const k1s_stream_pf_protocols[];

/*
 * Answers req (a WebSocket upgrade with subprotocol SPDY/3.1+portforward.k8s.io or
 * v4.channel.k8s.io with ?ports=, or an "Upgrade: SPDY/3.1"; otherwise 400) and serves port
 * forwarding into the network namespace at netns ("" or NULL: this host's) for pod ("ns/name", for
 * messages). See stream-portforward.c. The session frees itself when the client goes.
 */
void k1s_stream_portforward(struct event_base *base, k1s_stream_set_t *set, k1s_http_req_t *req,
                            const char *netns, const char *pod);

#endif
