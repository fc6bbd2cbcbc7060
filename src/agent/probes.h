/*
 * Container probes: one run of an exec, httpGet (HTTP, status 200-399 is
 * success) or tcpSocket probe, asynchronous on the agent's loop, with the
 * failure messages kubelet gives ("Get \"http://10.42.0.5:8080/\": dial tcp
 * 10.42.0.5:8080: connect: connection refused", "HTTP probe failed with
 * statuscode: 500"). The pod worker schedules runs and applies thresholds.
 */
#ifndef K1S_AGENT_PROBES_H
#define K1S_AGENT_PROBES_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"
#include "runtime/runtime.h"

struct event_base;
typedef struct k1s_probe k1s_probe_t;

/* ok: the probe succeeded; msg: its output or why it failed (borrowed). */
typedef void (*k1s_probe_done_fn)(void *arg, bool ok, const char *msg);

/*
 * Runs probe (the Probe object) against container ctr_id (exec) or pod_ip
 * (httpGet, tcpSocket; named ports are looked up in container). done is
 * called once, from the loop, unless cancelled. NULL with err set when the
 * probe cannot run at all.
 */
k1s_probe_t *k1s_probe_run(struct event_base *base, k1s_rt_t *rt, const char *ctr_id,
                           const char *pod_ip, const json_t *container, const json_t *probe,
                           k1s_probe_done_fn done, void *arg, k1s_err_t *err);
/* No callback after this. Accepts NULL. */
void k1s_probe_cancel(k1s_probe_t *p);

/* ---- probes-grpc.c: the gRPC health check (grpc.health.v1.Health/Check over h2c) ---- */

struct sockaddr_in;
typedef struct k1s_grpc_probe k1s_grpc_probe_t;

/*
 * Calls grpc.health.v1.Health/Check for service ("" = the server as a whole) at sin
 * (addr is its "ip:port", for messages) over HTTP/2 without TLS, as kubelet's grpc probe
 * does. Success is status SERVING; anything else fails with kubelet's message ("service
 * unhealthy (responded with \"NOT_SERVING\")", "timeout: failed to connect service ...").
 * done is called once, from the loop, and the probe frees itself after it. NULL with err
 * set when it cannot start.
 */
k1s_grpc_probe_t *k1s_grpc_probe_start(struct event_base *base, const struct sockaddr_in *sin,
                                       const char *addr, const char *service, int timeout_s,
                                       k1s_probe_done_fn done, void *arg, k1s_err_t *err);
/* Stops it without a callback and frees it. Accepts NULL. */
void k1s_grpc_probe_cancel(k1s_grpc_probe_t *g);

#endif
