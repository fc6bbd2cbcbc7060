/*
 * certificates.k8s.io/v1 CertificateSigningRequests (csr.c): what the API
 * server does beyond storing them. On create the requester's identity goes
 * into spec.username/uid/groups; main-resource updates keep spec and
 * status, the status subresource keeps spec and the Approved/Denied
 * conditions, the approval subresource changes only status.conditions
 * (kube-apiserver's three CSR strategies). Validation checks the PEM
 * request, signerName, usages and conditions. A signer, driven by a store
 * watch like kube-controller-manager's csrsigning controller, issues the
 * certificate of an approved request for kubernetes.io/kube-apiserver-client
 * and kubernetes.io/kube-apiserver-client-kubelet from the client CA, and
 * for kubernetes.io/kubelet-serving from the server CA (as k3s does).
 *
 * Internal to src/api; the API server owns one k1s_csr_t (api->csr).
 */
#ifndef K1S_API_CSR_H
#define K1S_API_CSR_H

#include <jansson.h>

#include "api/apiserver-int.h"

/* Loads tls_dir/client-ca.crt/.key and server-ca.crt/.key. 0 and api->csr set, or -errno
 * with err set. */
int k1s_csr_init(k1s_apiserver_t *api, const char *tls_dir, k1s_err_t *err);
/* Stops the signer and frees api->csr. Accepts api->csr == NULL. */
void k1s_csr_free(k1s_apiserver_t *api);
/* Starts the signer: signs approved requests now and after every commit from here on. */
void k1s_csr_start(k1s_apiserver_t *api);

/*
 * The strategy step of a write to a CertificateSigningRequest (no-op for
 * other resources), before validation: obj is the object to be stored
 * (changed in place), old the stored one (NULL on create); r->sub tells
 * which subresource is written.
 */
void k1s_csr_prepare(k1s_api_req_t *r, json_t *obj, const json_t *old);

/*
 * Validating admission plugins (kube-apiserver's, by the same names):
 * CertificateApproval (approval needs "approve" on certificates.k8s.io
 * signers/<signerName> or its domain wildcard), CertificateSigning (a changed
 * status.certificate needs "sign" there) and CertificateSubjectRestriction
 * (no kube-apiserver-client certificate for O=system:masters). 0 to admit,
 * -EPERM with deny set to refuse.
 */
int k1s_csr_admit_approval(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_csr_admit_signing(k1s_api_req_t *r, k1s_admit_deny_t *deny);
int k1s_csr_admit_subject(k1s_api_req_t *r, k1s_admit_deny_t *deny);

#endif
