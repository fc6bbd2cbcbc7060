/*
 * The cluster PKI: certificate authorities, the API server's serving
 * certificate, the admin client certificate, the admin kubeconfig and the
 * join token. Created on first start and reused afterwards, like k3s's
 * server/tls directory:
 *
 *   server-ca.crt/.key               cluster CA (serving certs), 10 years
 *   client-ca.crt/.key               client CA (user and node certs), 10 years
 *   serving-kube-apiserver.crt/.key  signed by server-ca, 1 year
 *   client-admin.crt/.key            CN=system:admin, O=system:masters, by client-ca, 1 year
 *   service.key                      service-account token signing key (RSA 2048), never renewed
 *
 * Other keys are EC P-256 (PKCS#8 PEM, mode 0600), certificates PEM (0644), the
 * directory 0700. Every file is written atomically. Leaf certificates are
 * renewed when they expire within 90 days, when they no longer chain to
 * their CA (a CA was recreated), and, for the serving certificate, when its
 * SANs no longer cover the wanted set (host name and addresses changed, or
 * a new --tls-san).
 */
#ifndef K1S_SERVER_PKI_H
#define K1S_SERVER_PKI_H

#include <stdbool.h>

#include "lib/err.h"

/* The kubernetes Service's cluster IP: always a SAN of the serving certificate. */
#define K1S_PKI_SERVICE_IP "10.43.0.1"

/*
 * Makes sure tls_dir holds a complete, valid PKI (see above), creating or
 * renewing what is missing. sans is a NULL-terminated list of extra SANs
 * (may be NULL): an entry that parses as an IPv4/IPv6 address becomes an IP
 * SAN, anything else a DNS SAN (letters, digits, '-', '.', '*' only).
 * Returns 0 or -errno with err set.
 */
int k1s_pki_ensure(const char *tls_dir, const char *const *sans, k1s_err_t *err);

/*
 * Writes a kubeconfig at path (creating its parent directory) whose cluster,
 * user and context are all named "default", like k3s's k3s.yaml: server
 * server_url, certificate-authority-data = server-ca.crt, client
 * certificate/key data = client-admin, all base64-embedded. The file gets
 * exactly `mode`, also when it existed before. Returns 0 or -errno.
 */
int k1s_pki_write_kubeconfig(const char *path, int mode, const char *server_url,
                             const char *tls_dir, k1s_err_t *err);

/*
 * The join token, kept in server_dir/token (0600) in k3s's secure format
 * "K10<sha256 hex of server_dir/tls/server-ca.crt>::server:<secret>".
 * wanted (may be NULL) is a user-given --token: a bare secret, or a full
 * K10 token whose CA hash must match this server's CA (else -EINVAL with a
 * clear message). Without wanted, an existing token file is reused, else a
 * random 32-hex-character secret is made. A token file with a stale CA hash
 * is rewritten with the same secret. Sets *token_out to a new string (the
 * full token) on success. Requires k1s_pki_ensure(server_dir/tls) first.
 */
int k1s_pki_ensure_token(const char *server_dir, const char *wanted, char **token_out,
                         k1s_err_t *err);

/* Hex sha256 of tls_dir/server-ca.crt's bytes (the K10 token's CA hash). 0 or -errno. */
int k1s_pki_ca_hash(const char *tls_dir, char out[65]);

/*
 * Issues a certificate signed by tls_dir/<ca>.crt/.key (ca is "server-ca" or
 * "client-ca") for a new P-256 key: subject CN=cn with one O per entry of
 * orgs (NULL-terminated, may be NULL), SANs as for k1s_pki_ensure (may be
 * NULL), extended key usage serverAuth and/or clientAuth, valid `days`.
 * On success sets *cert_pem and *key_pem to new PEM strings. For node and
 * component certificates (kubelet, agents). Returns 0 or -errno.
 */
int k1s_pki_issue(const char *tls_dir, const char *ca, const char *cn, const char *const *orgs,
                  const char *const *sans, bool server_auth, bool client_auth, int days,
                  char **cert_pem, char **key_pem, k1s_err_t *err);

/*
 * Same as k1s_pki_issue for a key the requester holds: pubkey_pem is its
 * public key (PEM "PUBLIC KEY"); only the certificate is made. For agents,
 * which keep their private keys. Returns 0 or -errno (-EINVAL for a bad key).
 */
int k1s_pki_issue_for_key(const char *tls_dir, const char *ca, const char *cn,
                          const char *const *orgs, const char *const *sans, bool server_auth,
                          bool client_auth, int days, const char *pubkey_pem, char **cert_pem,
                          k1s_err_t *err);

/*
 * Splits a join token into its CA hash (hash[0] == 0 for a bare secret; else
 * 64 lower-case hex digits) and its secret (*secret points into tok).
 * Returns false if tok is malformed.
 */
bool k1s_pki_token_parse(const char *tok, char hash[65], const char **secret);

#endif
