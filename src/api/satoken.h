/*
 * Service accounts in the API server (satoken.c): the signing key, the
 * TokenRequest subresource (serviceaccounts/<name>/token), the bearer-token
 * authenticator for the JWTs it issues, service-account issuer discovery
 * (/.well-known/openid-configuration, /openid/v1/jwks), the `default`
 * ServiceAccount and `kube-root-ca.crt` ConfigMap in every namespace, the
 * legacy tokens of kubernetes.io/service-account-token Secrets, and the
 * ServiceAccount admission plugin for pods.
 *
 * Internal to src/api; the API server owns one k1s_sa_t (api->sa).
 */
#ifndef K1S_API_SATOKEN_H
#define K1S_API_SATOKEN_H

#include <jansson.h>
#include <stdbool.h>

#include "api/apiserver-int.h"

/* The issuer and the API audiences, as k3s configures kube-apiserver. */
#define K1S_SA_ISSUER "https://kubernetes.default.svc.cluster.local"

typedef struct k1s_sa k1s_sa_t;

/*
 * Loads tls_dir/service.key (the signing key) and tls_dir/server-ca.crt
 * (published as kube-root-ca.crt). Returns 0 and sets api->sa, or -errno
 * with err set.
 */
int k1s_sa_init(k1s_apiserver_t *api, const char *tls_dir, k1s_err_t *err);
/* Stops the watches and frees api->sa. Accepts api->sa == NULL. */
void k1s_sa_free(k1s_apiserver_t *api);

/*
 * Makes sure every namespace has its `default` ServiceAccount and
 * kube-root-ca.crt ConfigMap, now and from here on: watches namespaces,
 * service accounts and config maps and puts them back after their commits
 * (the work of kube-controller-manager's serviceaccount-controller and
 * root-ca-cert-publisher). Call once at bootstrap, before the bootstrap
 * namespaces are written.
 */
void k1s_sa_start(k1s_apiserver_t *api);

/*
 * Bearer-token authentication: if token is a valid service-account JWT of
 * this server (signature, issuer, exp/nbf, an API audience, the account and
 * any bound pod or secret still there with the same uid; for a legacy
 * token, its secret still holding it), sets r->user, r->uid, r->groups (and
 * r->auth_owned, which holds them) and returns true.
 */
bool k1s_sa_authenticate(k1s_api_req_t *r, const char *token);

/* Serves /.well-known/openid-configuration and /openid/v1/jwks; false for other paths. */
bool k1s_sa_discovery_handle(k1s_api_req_t *r, const char *path);

/* POST .../serviceaccounts/<name>/token (r->res, r->ns, r->name set). Answers r. */
void k1s_sa_token_request(k1s_api_req_t *r);

/*
 * The ServiceAccount admission plugin (a k1s_admit_fn, mutating) for a pod
 * being created (r->obj, changed in place): defaults spec.serviceAccountName
 * to "default", checks the account exists, adds the kube-api-access-xxxxx
 * projected volume and its mounts unless automounting is off, and copies
 * the account's imagePullSecrets. Returns 0, or -EPERM with deny set.
 */
int k1s_sa_admit_pod(k1s_api_req_t *r, k1s_admit_deny_t *deny);

#endif
