/*
 * Authorization of every authenticated request, as kube-apiserver's
 * --authorization-mode=Node,RBAC does: the request's attributes are read
 * from its URL (k8s.io/apiserver RequestInfoFactory), Impersonate-* headers
 * are honoured for callers allowed to impersonate, members of
 * system:masters pass, node identities go through the Node authorizer,
 * everyone else through RBAC. A denied request gets kube-apiserver's 403.
 *
 * The server-wide state (k1s_authz_t) holds the compiled RBAC view and the
 * Node authorizer's static rules; each request carries a k1s_authz_req_t
 * (its attributes, decision and, for the audit log, its origin).
 */
#ifndef K1S_API_AUTHZ_H
#define K1S_API_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api/rbac.h"

typedef struct k1s_apiserver k1s_apiserver_t;
typedef struct k1s_api_req k1s_api_req_t;
typedef struct k1s_authz k1s_authz_t;

/* Per-request authorization record (r->authz). */
typedef struct k1s_authz_req {
    k1s_authz_attrs_t a; /* the request's attributes, as the effective user */
    bool allowed;
    char reason[384];
    /* who authenticated, and whom they act as (impersonation) */
    const char *auth_user;
    char **auth_groups; /* groups of the authenticated user, with system:authenticated */
    char *imp_user;     /* NULL unless impersonating */
    char *imp_uid;      /* Impersonate-Uid, or NULL */
    json_t *imp_extra;  /* Impersonate-Extra-<key>: {key: [values]}, or NULL */
    char **imp_groups;  /* owned strings */
    char **groups;      /* the effective user's groups: auth_groups, or the impersonated ones */
    /* for the audit log: captured while the HTTP request still exists */
    char *audit_id, *uri, *user_agent, *source_ip;
    char *st_reason, *st_message; /* of a failure answer (audit.c) */
    char received[40];
    char *fs_name; /* a name pinned by fieldSelector=metadata.name=x, or NULL */
    char buf[];    /* storage for the attribute strings (two copies of the path) */
} k1s_authz_req_t;

/* Creates the server-wide authorizer (RBAC view over the store). */
k1s_authz_t *k1s_authz_new(k1s_apiserver_t *api);
void k1s_authz_free(k1s_authz_t *z);
k1s_rbac_t *k1s_authz_rbac(k1s_authz_t *z);

/*
 * Authorizes r (called right after authentication). Applies impersonation
 * (r->user and r->groups then name the impersonated user) and stores the
 * decision in r->authz. Returns true if the request may go on; otherwise
 * it has been answered (400/403) and released.
 */
bool k1s_authz_request(k1s_api_req_t *r);
void k1s_authz_req_free(k1s_authz_req_t *z);

/*
 * Decides attributes a (for reviews as well as requests). Returns true if
 * allowed; reason receives the authorizer's explanation (may be "").
 */
bool k1s_authz_decide(k1s_authz_t *z, const k1s_authz_attrs_t *a, char *reason, size_t len);

/* Kubernetes' forbidden message for a: `User "x" cannot list resource "pods" in API group ""
 * in the namespace "y"`, with ": reason" appended when reason is not empty. New string. */
char *k1s_authz_forbidden_message(const k1s_authz_attrs_t *a, const char *reason);

/* Answers 403 Forbidden `<resource>.<group> "<name>" is forbidden: <why>` (details {name, group,
 * kind}) and releases r; resource NULL gives `forbidden: <why>`. */
void k1s_authz_fail(k1s_api_req_t *r, const char *resource, const char *group, const char *name,
                    const char *why);

/*
 * Admission by the authorization layer for a create or update whose new
 * object is obj: NodeRestriction and RBAC's escalation prevention. Returns
 * true to admit; otherwise r has been answered (403) and released.
 */
bool k1s_authz_admit(k1s_api_req_t *r, const json_t *obj);

/* --- rbac-escalation.c: roles and bindings grant only what their author holds --- */
bool k1s_rbac_escalation_admit(k1s_api_req_t *r, const json_t *obj);

/* --- node-authz.c: the Node authorizer and NodeRestriction --- */

/* If user/groups is a node identity (system:node:<name> in system:nodes), its name; else NULL. */
const char *k1s_node_identity(const char *user, char *const *groups);
/*
 * The Node authorizer for node identities: true to allow; false is "no
 * opinion" with reason set (e.g. "no relationship found between node 'n1'
 * and this object").
 */
bool k1s_node_authorize(k1s_apiserver_t *api, const char *node, const k1s_authz_attrs_t *a,
                        char *reason, size_t len);
/*
 * NodeRestriction admission for a write by r's user (a no-op for others):
 * obj is the object being created or the new state of an update. Returns
 * true to admit; otherwise answers 403 and releases r.
 */
bool k1s_node_restriction_admit(k1s_api_req_t *r, const json_t *obj);

#endif
