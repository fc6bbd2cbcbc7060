/*
 * Internals shared by the kubelet API's files: the server (kubelet-api.c)
 * and its container log streaming (kubelet-api-logs.c).
 */
#ifndef K1S_AGENT_KUBELET_API_INT_H
#define K1S_AGENT_KUBELET_API_INT_H

#include <stdint.h>

#include "agent/kubelet-api.h"
#include "agent/stream.h"
#include "net/http.h"

struct k1s_kapi {
    struct event_base *base;
    k1s_http_server_t *http;
    k1s_kapi_backend_t be;
    void *ctx;
    char *node_name;
    struct k1s_client *api;            /* SubjectAccessReviews, or NULL */
    struct kapi_sar *sars;             /* reviews in flight */
    struct kapi_sar_cached *sar_cache; /* recent decisions, newest first */
    uint64_t requests, denied;
    struct kapi_log *logs;     /* log streams in progress (freed with the server) */
    k1s_stream_set_t sessions; /* exec, attach and port-forward sessions */
};

/* Options of one containerLogs request, as the kubelet reads them (PodLogOptions). */
typedef struct k1s_kapi_log_opts {
    bool follow, previous, timestamps;
    long long tail;   /* -1: all */
    long long limit;  /* bytes, -1: no limit */
    int64_t since_ns; /* entries from this time on (0: all) */
} k1s_kapi_log_opts_t;

/* Parses the query of a containerLogs request. 0, or -EINVAL with err saying which value. */
int k1s_kapi_log_opts_parse(k1s_http_req_t *req, k1s_kapi_log_opts_t *o, k1s_err_t *err);

/* Parses a CRI log line "<RFC3339Nano> <stream> <F|P> <msg>" (line without its newline).
 * Returns 0 with the parts (pointers into line), or -EINVAL. */
int k1s_kapi_cri_parse(const char *line, size_t len, int64_t *ts_ns, const char **stream,
                       bool *partial, const char **msg, size_t *msg_len);

/* RFC 3339 (with optional fraction and Z or an offset) to Unix nanoseconds; -1 if malformed. */
int64_t k1s_kapi_parse_time(const char *s, size_t len);

/* Serves GET /containerLogs for container c of the pod (answers and releases req). */
void k1s_kapi_logs(k1s_kapi_t *k, k1s_http_req_t *req, const k1s_kapi_container_t *c,
                   const char *ctr_name, const char *pod);
/* Ends every log stream (server shutdown). */
void k1s_kapi_logs_stop_all(k1s_kapi_t *k);

#endif
