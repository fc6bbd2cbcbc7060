/*
 * The Kubernetes API server: routes HTTP requests to discovery, health,
 * metrics, OpenAPI and the REST handlers for every registered resource, on
 * top of the revisioned store. One instance per `k1s server`; everything
 * runs on the server's event loop.
 */
#ifndef K1S_API_APISERVER_H
#define K1S_API_APISERVER_H

#include <event2/event.h>

#include "lib/err.h"
#include "net/http.h"
#include "store/store.h"

typedef struct k1s_apiserver k1s_apiserver_t;

typedef struct k1s_apiserver_opts {
    const char *advertise_address; /* IP for the kubernetes Endpoints, e.g. 127.0.0.1 */
    int advertise_port;            /* 6443 */
    const char *service_cidr;      /* "10.43.0.0/16" */
    const char *tokens_file;       /* static bearer tokens (token,user,uid,"groups"); may be NULL */
    const char *audit_log_path;    /* audit log file, "-" for stdout; NULL: no audit log */
    int audit_log_maxage;          /* days to keep rotated files (0: no limit) */
    int audit_log_maxbackup;       /* rotated files to keep (0: no limit) */
    int audit_log_maxsize;         /* megabytes before rotating (0: never) */
    const char *tls_dir; /* service.key, server-ca.crt, client-ca.crt/.key; NULL: no service-account
                            tokens nor CSR signing */
} k1s_apiserver_opts_t;

/* Creates the API server over an open store (not owned). */
int k1s_apiserver_new(struct event_base *base, k1s_store_t *store, const k1s_apiserver_opts_t *opts,
                      k1s_apiserver_t **out, k1s_err_t *err);
/* Creates what must exist from the start (namespaces, the kubernetes Service and Endpoints). */
int k1s_apiserver_bootstrap(k1s_apiserver_t *api, k1s_err_t *err);
/* The HTTP handler; arg is the apiserver. */
void k1s_apiserver_handle(k1s_http_req_t *req, void *arg);
/* Marks the server ready (/readyz) once bootstrap is committed. */
void k1s_apiserver_set_http(k1s_apiserver_t *api, k1s_http_server_t *http);
/* Ends all watches (at shutdown) and frees. Accepts NULL. */
void k1s_apiserver_free(k1s_apiserver_t *api);

/* Store hooks that attach the selector fields (k1s_obj_aux_t) to each value. */
extern const k1s_store_hooks_t k1s_apiserver_store_hooks;

#endif
