/*
 * The kubelet API: the HTTPS server a node agent runs (port 10250) for the
 * API server's pods/log, pods/exec, pods/attach, pods/portforward and
 * nodes/proxy, as the kubelet's server does (pkg/kubelet/server):
 *
 *   GET  /healthz                                    "ok"
 *   GET  /containerLogs/{ns}/{pod}/{container}       CRI log files, see below
 *   GET|POST /exec/{ns}/{pod}/{container}?command=..&command=..&stdin=1&stdout=1&stderr=1&tty=1
 *   GET|POST /attach/{ns}/{pod}/{container}?stdin=..&stdout=..&stderr=..&tty=..
 *   GET|POST /portForward/{ns}/{pod}                 SPDY/3.1 streams, see below
 *   GET  /pods                                       PodList of the backend's pods
 *   GET  /stats/summary                              the backend's stats/v1alpha1 Summary
 *   GET  /metrics/resource                           the same as Prometheus text (stats.h)
 *   GET  /metrics                                    minimal: request counters
 *
 * exec and attach speak WebSockets with the channel protocols
 * v5.channel.k8s.io / v4.channel.k8s.io (stdin 0, stdout 1, stderr 2, error 3
 * with a metav1.Status, resize 4, v5's close 255) as kubectl 1.29+ does, or
 * SPDY/3.1 with v4.channel.k8s.io (a stream per channel) as older clients do.
 *
 * portForward speaks SPDY/3.1 (the kubelet's portforward protocol: a data
 * and an error stream per forwarded connection, headers streamtype, port,
 * requestid), either tunnelled in a WebSocket (subprotocol
 * "SPDY/3.1+portforward.k8s.io", kubectl 1.30+) or after a plain
 * "Upgrade: SPDY/3.1"; or the older WebSocket channel protocol
 * (v4.channel.k8s.io with ?ports=a,b: channels 2i and 2i+1 carry port i's
 * data and errors, each starting with the port number; python3-kubernetes
 * uses it). Connections go to 127.0.0.1:<port> inside the pod's network
 * namespace (the backend's lookup gives its path).
 *
 * Authentication: a client certificate signed by the cluster's client CA is
 * required (others get 401). Authorization as the kubelet's webhook mode
 * (pkg/kubelet/server/auth.go): the API server's identity (CN
 * kube-apiserver-kubelet-client) and members of system:masters pass at
 * once; anyone else is asked about with a SubjectAccessReview to the API
 * server (verb from the method: get, create, update, patch, delete;
 * resource nodes named node_name, subresource stats for /stats/..., metrics
 * for /metrics..., log for /logs/..., proxy for everything else), whose
 * answers are cached as the kubelet caches them (allowed 5 minutes, denied
 * 30 seconds). Without an API client (opts.api NULL) others get 403.
 *
 * The server runs on the agent's libevent loop; nothing blocks it except
 * the backend's calls, which must be cheap (look-ups in memory, forking a
 * process). Output to a slow client is bounded: a process's output is read
 * only while the client's queue is short.
 *
 * Logs: /var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log (the
 * backend says which directory and restart count), lines
 * "<RFC3339Nano> stdout|stderr F|P <msg>", partial (P) lines joined. The
 * query parameters are the kubelet's: follow, previous, tailLines,
 * limitBytes, sinceSeconds, sinceTime, timestamps. follow watches the file
 * with inotify and ends when the backend says the container exited.
 */
#ifndef K1S_AGENT_KUBELET_API_H
#define K1S_AGENT_KUBELET_API_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

typedef struct k1s_kapi k1s_kapi_t;

/* What the backend says about one container of a pod (strings owned by the backend's
 * answer; the server copies what it keeps). */
typedef struct k1s_kapi_container {
    const char *id;      /* runtime container id ("" if none yet) */
    const char *log_dir; /* /var/log/pods/<ns>_<pod>_<uid>/<container> */
    int restart_count;   /* the current log is <log_dir>/<restart_count>.log */
    bool running;
    const char *netns; /* the pod's network namespace (/var/run/netns/cni-...), "" for the
                          host's; used by port-forward */
} k1s_kapi_container_t;

/* A started process (exec) or a container's stdio (attach): the backend gives the server
 * non-blocking fds it then owns (-1 for a stream not asked for; with tty only stdout). */
typedef struct k1s_kapi_proc {
    int stdin_fd, stdout_fd, stderr_fd;
    void *handle; /* the backend's, passed back to resize/release */
} k1s_kapi_proc_t;

/* Called by the backend, on the loop, when an exec'd process ends (exit code, or 128+signal);
 * `token` is the one given to exec. Not for attach. */
typedef void (*k1s_kapi_exit_fn)(void *token, int code);

typedef struct k1s_kapi_backend {
    /*
     * Finds container `ctr` of pod ns/pod (ctr NULL or "": the pod's only or first
     * container). Fills *out (valid until the next backend call) and returns 0; or
     * -ENOENT with err saying what is missing ("pod \"web\" not found", "container \"x\"
     * is not valid for pod \"web\""), -EAGAIN if the container has not started.
     */
    int (*lookup)(void *ctx, const char *ns, const char *pod, const char *ctr,
                  k1s_kapi_container_t *out, k1s_err_t *err);
    /*
     * Starts argv in the container (tty: on a pty). On success fills *out and returns 0;
     * the backend then calls exited(token, code) exactly once from the loop, unless
     * release() is called first. -errno with err on failure (e.g. executable not found).
     */
    int (*exec)(void *ctx, const char *container_id, char *const *argv, bool tty,
                k1s_kapi_proc_t *out, k1s_kapi_exit_fn exited, void *token, k1s_err_t *err);
    /* Attaches to the container's stdio (NULL if not supported: 400). Same as exec without
     * an exit callback; the stream ends when the fds reach EOF. */
    int (*attach)(void *ctx, const char *container_id, bool tty, k1s_kapi_proc_t *out,
                  k1s_err_t *err);
    /* Resizes the tty of proc (may be NULL). */
    void (*resize)(void *ctx, void *handle, uint16_t width, uint16_t height);
    /* The server is done with proc (client gone or process ended); the backend frees its
     * handle (and may kill an exec'd process that is still running). */
    void (*release)(void *ctx, void *handle);
    /* Calls fn(arg) once, on the loop, when the container stops running; returns a watch to
     * cancel with unwatch_exit before it fires (once fired, the backend frees it), or NULL if
     * the container is not running now. Used to end log follows. */
    void *(*watch_exit)(void *ctx, const char *container_id, void (*fn)(void *arg), void *arg);
    void (*unwatch_exit)(void *ctx, void *watch);
    /* The node's pods as a v1 PodList (new reference), or NULL (empty list). */
    json_t *(*pods)(void *ctx);
    /* The node's stats/v1alpha1 Summary (new reference; stats.h), or NULL (a minimal one). */
    json_t *(*summary)(void *ctx);
} k1s_kapi_backend_t;

typedef struct k1s_kapi_opts {
    const char *cert_file, *key_file; /* serving certificate (signed by the cluster CA) */
    const char *client_ca_file;       /* the cluster's client CA */
    const char *addr;                 /* default "0.0.0.0" */
    int port;                         /* default 10250; -1 picks a free one */
    const char *node_name;
    struct k1s_client *api; /* for SubjectAccessReviews (not owned), or NULL */
} k1s_kapi_opts_t;

/*
 * Starts the kubelet API on base with backend (copied) and its ctx. Returns the server,
 * or NULL with err set (unreadable certificate, port in use: "listen on 0.0.0.0:10250:
 * address already in use").
 */
k1s_kapi_t *k1s_kapi_new(struct event_base *base, const k1s_kapi_opts_t *opts,
                         const k1s_kapi_backend_t *backend, void *ctx, k1s_err_t *err);
/* The port it listens on. */
int k1s_kapi_port(const k1s_kapi_t *k);
/* Stops listening and closes every stream. Accepts NULL. */
void k1s_kapi_free(k1s_kapi_t *k);

#endif
