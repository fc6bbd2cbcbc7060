/*
 * The API server's way to the kubelets: pods/log, pods/exec, pods/attach,
 * pods/portforward and nodes/proxy are forwarded to the kubelet API of the
 * pod's node, as kube-apiserver does (pkg/registry/core/pod/rest and
 * k8s.io/apimachinery/pkg/util/proxy's upgrade-aware handler).
 *
 * The kubelet is found from its Node object (the InternalIP address, else
 * the first address; status.daemonEndpoints.kubeletEndpoint.Port, else
 * 10250), reached over TLS with its serving certificate verified against the
 * cluster CA (server-ca.crt) for that address, and the API server presents
 * tls_dir/client-kube-apiserver.crt (CN kube-apiserver-kubelet-client, O
 * system:masters). Upgrades (WebSocket or SPDY: exec, attach,
 * port-forward) are spliced byte for byte both ways once the kubelet
 * answers, with back-pressure (a side is read only while the other side's
 * queue is short); other answers (logs, proxied GETs) are streamed to the
 * client as they arrive.
 *
 * As upstream, a WebSocket exec/attach/portforward (a GET) needs the
 * `create` verb on the subresource as well as `get`.
 */
#ifndef K1S_API_PROXY_H
#define K1S_API_PROXY_H

typedef struct k1s_api_req k1s_api_req_t;

/* pods/{log,exec,attach,portforward} of r->ns/r->name (r->sub says which). Answers r. */
void k1s_proxy_pod(k1s_api_req_t *r);
/* nodes/{r->name}/proxy/{path}: path is what follows "proxy" ("" for the root). Answers r. */
void k1s_proxy_node(k1s_api_req_t *r, const char *path);

/* The TLS context the API server reaches kubelets with (its client certificate, the
 * cluster CA); borrowed, made once. NULL with err set if the server has no PKI. */
struct k1s_apiserver;
struct k1s_err;
struct ssl_ctx_st *k1s_proxy_kubelet_ctx(struct k1s_apiserver *api, struct k1s_err *err);

#endif
