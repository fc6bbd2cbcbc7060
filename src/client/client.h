/*
 * The API client every in-process component (controllers, scheduler) uses
 * to talk to the API server: get, list, watch, create, update, update
 * status, patch, delete, all asynchronous on the event loop, answered
 * through callbacks.
 *
 * The in-process client sends each request through the loopback transport
 * (net/loopback.h) to the API server's HTTP handler, as the given user
 * with the given groups, so it passes the same authentication, RBAC,
 * admission, validation, defaulting and managedFields code an HTTP client
 * does and sees the same answers. The client does not depend on the API
 * server's headers: it takes the handler and its argument
 * (k1s_apiserver_handle, api).
 *
 * Callbacks are never made from inside the call that started a request,
 * and never after k1s_client_cancel() or k1s_client_free().
 */
#ifndef K1S_CLIENT_CLIENT_H
#define K1S_CLIENT_CLIENT_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "net/http.h"

typedef struct k1s_client k1s_client_t;
typedef struct k1s_client_req k1s_client_req_t;

/* A resource: group ("" for the core group), version, plural name, scope. */
typedef struct k1s_gvr {
    const char *group;
    const char *version;
    const char *resource;
    bool namespaced;
} k1s_gvr_t;

/* The answer to a request other than a watch; valid during the callback only. */
typedef struct k1s_client_result {
    int status;       /* HTTP status; 0 if the request could not be made */
    json_t *obj;      /* the parsed body (object, list or Status); may be NULL */
    const char *body; /* the raw body */
    size_t len;
    const char *reason;  /* a failure's Status reason ("NotFound", "Forbidden"), else "" */
    const char *message; /* a failure's Status message, else "" */
} k1s_client_result_t;

typedef void (*k1s_client_fn)(const k1s_client_result_t *res, void *arg);

typedef enum {
    K1S_WATCH_ADDED,
    K1S_WATCH_MODIFIED,
    K1S_WATCH_DELETED,
    K1S_WATCH_BOOKMARK,
    K1S_WATCH_ERROR,  /* obj is a Status; code 410 means resourceVersion too old */
    K1S_WATCH_CLOSED, /* the stream ended (obj NULL; status is the HTTP status if the
                         watch was refused, with obj the Status) - no more events */
} k1s_watch_type_t;

/* One watch event; obj is borrowed (json_incref to keep it). */
typedef void (*k1s_watch_fn)(k1s_watch_type_t type, json_t *obj, int status, void *arg);

typedef struct k1s_list_opts {
    const char *label_selector;
    const char *field_selector;
    const char *resource_version; /* list: "0" means any (cache); watch: resume after */
    const char *continue_token;
    int64_t limit;        /* 0: no limit */
    int timeout_s;        /* watch: timeoutSeconds (0: server default) */
    bool allow_bookmarks; /* watch: allowWatchBookmarks */
} k1s_list_opts_t;

typedef enum {
    K1S_PATCH_MERGE,     /* application/merge-patch+json */
    K1S_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
    K1S_PATCH_JSON,      /* application/json-patch+json */
    K1S_PATCH_APPLY,     /* application/apply-patch+yaml (server-side apply) */
} k1s_patch_type_t;

typedef struct k1s_delete_opts {
    const char *propagation_policy; /* "Orphan", "Background", "Foreground" or NULL */
    const char *precondition_uid;   /* or NULL */
    const char *precondition_rv;    /* or NULL */
    int64_t grace_period_s;         /* -1: not given */
} k1s_delete_opts_t;

/*
 * A client that calls handler(req, handler_arg) in process, authenticated
 * as user with groups (NULL-terminated, may be NULL). Everything runs on base.
 */
k1s_client_t *k1s_client_new_inprocess(struct event_base *base, k1s_http_handler_fn handler,
                                       void *handler_arg, const char *user,
                                       const char *const *groups);
typedef struct k1s_client_http_opts {
    const char *addr; /* the API server's IP address */
    int port;
    const char *ca_file;   /* PEM bundle the server certificate must chain to */
    const char *cert_file; /* client certificate (PEM), or NULL */
    const char *key_file;  /* its key, or NULL */
    const char *token;     /* bearer token, or NULL */
    const char *user;      /* the name k1s_client_user() returns (informational) */
} k1s_client_http_opts_t;

/*
 * The same client over HTTPS (HTTP/1.1 on kept-alive connections that are
 * reused, the server certificate verified against ca_file and addr), for
 * components that run in another process. Returns NULL with err set if the
 * TLS files cannot be loaded.
 */
k1s_client_t *k1s_client_new_http(struct event_base *base, const k1s_client_http_opts_t *opts,
                                  k1s_err_t *err);
/* How many connections the client has opened so far (0 for the in-process client). */
unsigned k1s_client_connects(const k1s_client_t *c);
/* Cancels outstanding requests (no callbacks) and frees. Accepts NULL. */
void k1s_client_free(k1s_client_t *c);
struct event_base *k1s_client_base(const k1s_client_t *c);
/* The user the client acts as. */
const char *k1s_client_user(const k1s_client_t *c);
/*
 * Sets the User-Agent (default "k1s-client"). Writes without a fieldManager
 * are recorded in managedFields under its part before the first '/', as
 * kube-apiserver does: "kube-controller-manager/v1.31.0 (linux/amd64) k1s".
 */
void k1s_client_set_user_agent(k1s_client_t *c, const char *ua);
/* Sets the fieldManager query parameter sent with writes (NULL: none; apply then sends
 * "k1s-client"). */
void k1s_client_set_field_manager(k1s_client_t *c, const char *manager);
/* Requests started and not yet answered or canceled. */
int k1s_client_pending(const k1s_client_t *c);

/*
 * Every request returns a handle, valid until its callback reports the end
 * (the result callback, or K1S_WATCH_CLOSED) or until it is canceled.
 */
k1s_client_req_t *k1s_client_get(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                 const char *name, k1s_client_fn cb, void *arg);
k1s_client_req_t *k1s_client_list(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                  const k1s_list_opts_t *opts, k1s_client_fn cb, void *arg);
k1s_client_req_t *k1s_client_watch(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                   const k1s_list_opts_t *opts, k1s_watch_fn cb, void *arg);
/* obj is not modified; its namespace (if any) must match ns. */
k1s_client_req_t *k1s_client_create(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                    json_t *obj, k1s_client_fn cb, void *arg);
/* PUT of obj (carrying metadata.resourceVersion for optimistic concurrency). */
k1s_client_req_t *k1s_client_update(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                    json_t *obj, k1s_client_fn cb, void *arg);
/* PUT to the status subresource. */
k1s_client_req_t *k1s_client_update_status(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                           json_t *obj, k1s_client_fn cb, void *arg);
/* PATCH; subresource may be NULL ("status", "scale"); force is for apply only. */
k1s_client_req_t *k1s_client_patch(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                   const char *name, const char *subresource, k1s_patch_type_t type,
                                   const char *patch, bool force, k1s_client_fn cb, void *arg);
/* DELETE with DeleteOptions (opts may be NULL). */
k1s_client_req_t *k1s_client_delete(k1s_client_t *c, const k1s_gvr_t *res, const char *ns,
                                    const char *name, const k1s_delete_opts_t *opts,
                                    k1s_client_fn cb, void *arg);
/*
 * Any request: method, path with query, content type and body (taken, a
 * malloc'd NUL-terminated string; may be NULL).
 */
k1s_client_req_t *k1s_client_request(k1s_client_t *c, const char *method, const char *target,
                                     const char *content_type, char *body, k1s_client_fn cb,
                                     void *arg);
/* Cancels a request: no callback follows. A watch's server side sees a closed client. */
void k1s_client_cancel(k1s_client_req_t *r);

/* The path of a resource collection or object ("/api/v1/namespaces/ns/pods/name"); new string. */
char *k1s_client_path(const k1s_gvr_t *res, const char *ns, const char *name,
                      const char *subresource);

#endif
