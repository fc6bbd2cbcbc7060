/*
 * The join endpoints agents use before they have credentials, served on the
 * API server's port beside (not under) /api and /apis, with k3s's shapes:
 *
 *   GET  /cacerts                      the server CA (PEM), unauthenticated: the
 *                                      agent checks its sha256 against the
 *                                      K10<hash> token before trusting it
 *   GET  /ping                         "pong"
 *   GET  /v1-k1s/client-ca.crt         the client CA (kubelet API client auth)
 *   POST /v1-k1s/client-kubelet.crt    the node client certificate
 *                                      (CN system:node:<name>, O system:nodes)
 *   POST /v1-k1s/serving-kubelet.crt   the kubelet serving certificate (SANs:
 *                                      node name, localhost, 127.0.0.1, node IP)
 *
 * The /v1-k1s/ endpoints need HTTP basic auth "node:<secret>" with the join
 * token's secret (401 otherwise). The certificate requests carry headers
 * k1s-Node-Name and k1s-Node-Password (and k1s-Node-IP for the serving
 * certificate) and the agent's public key (PEM) as the body; the answer is
 * the certificate followed by its CA, PEM. Private keys never leave the
 * agent.
 *
 * Node passwords: the first request for a node name records a salted hash
 * of its k1s-Node-Password in server/cred/node-passwd; later requests for
 * that name with another password get 403, so another machine cannot take
 * over a node's name (k3s's node-passwd check) - unless the Node object no
 * longer exists: as k3s drops a node's password with its Node, deleting
 * the Node (`kubectl delete node`) lets a reinstalled machine join again.
 */
#ifndef K1S_SERVER_JOIN_H
#define K1S_SERVER_JOIN_H

#include <event2/event.h>
#include <stdbool.h>

#include "net/http.h"

typedef struct k1s_join k1s_join_t;

/*
 * Creates the join handler for a server whose data is in server_dir
 * (server_dir/tls for the CAs, server_dir/cred/node-passwd), accepting
 * token's secret (a full K10 token or a bare secret; copied). Requests for
 * other paths go to next(req, next_arg), which it also asks, as
 * system:masters, whether a Node exists.
 */
k1s_join_t *k1s_join_new(struct event_base *base, const char *server_dir, const char *token,
                         k1s_http_handler_fn next, void *next_arg);
/* The HTTP handler; arg is the k1s_join_t. */
void k1s_join_handle(k1s_http_req_t *req, void *arg);
/* Accepts NULL. */
void k1s_join_free(k1s_join_t *j);

/*
 * Checks password against the entry for node in the node-passwd file at
 * path, adding an entry if there is none; with replace, the entry is
 * replaced by one for password whatever it was. Returns 0, -EPERM on a
 * mismatch, or another -errno if the file cannot be read or written.
 */
int k1s_join_node_password(const char *path, const char *node, const char *password, bool replace);

#endif
