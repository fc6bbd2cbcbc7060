/*
 * TLS contexts for k1s servers and clients, and helpers to read who a
 * verified peer is.
 *
 * Server contexts speak TLS 1.2 and 1.3 with ECDHE only, pick "h2" or else
 * "http/1.1" by ALPN (the HTTP server serves both), cache sessions,
 * and ask for a client certificate. A client certificate is optional: a
 * client without one is anonymous, and so is a client whose certificate does
 * not verify against the client CA (the handshake still succeeds, as with
 * kube-apiserver, so a stale kubeconfig gets 401 Unauthorized instead of a
 * TLS alert). k1s_tls_peer_identity() tells the two cases apart.
 */
#ifndef K1S_NET_TLS_H
#define K1S_NET_TLS_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>

#include "lib/err.h"

/*
 * Returns a new server SSL_CTX (one reference; free with SSL_CTX_free) that
 * serves cert_file (PEM, may hold a chain) with key_file. If client_ca_file
 * is non-NULL, clients are asked for a certificate and verified against it.
 * Returns NULL and sets err on failure (unreadable file, key mismatch).
 */
SSL_CTX *k1s_tls_server_ctx(const char *cert_file, const char *key_file, const char *client_ca_file,
                            k1s_err_t *err);

/*
 * Returns a new client SSL_CTX that verifies servers against ca_file (the
 * system store if NULL), offers ALPN "http/1.1" and, if cert_file and
 * key_file are given, presents that client certificate. The caller sets the
 * expected host per connection (SSL_set1_host / SSL_set_tlsext_host_name).
 * Returns NULL and sets err on failure.
 */
SSL_CTX *k1s_tls_client_ctx(const char *ca_file, const char *cert_file, const char *key_file,
                            k1s_err_t *err);

/*
 * After a completed handshake: if the peer presented a certificate that
 * verified, sets *cn to a new copy of its subject CN ("" if none) and
 * *orgs to a new NULL-terminated array of its subject O values (free both
 * with free() and k1s_tls_strv_free()) and returns true. Otherwise returns
 * false and leaves the out-parameters alone.
 */
bool k1s_tls_peer_identity(SSL *ssl, char **cn, char ***orgs);

/* Subject CN of cert as a new UTF-8 string, or NULL if it has none. */
char *k1s_tls_cert_cn(X509 *cert);
/* Subject O values of cert as a new NULL-terminated array (never NULL). */
char **k1s_tls_cert_orgs(X509 *cert);
/* Frees a NULL-terminated string array and its strings. Accepts NULL. */
void k1s_tls_strv_free(char **v);

/*
 * Sets err to the formatted message followed by ": <OpenSSL reason>" from
 * the OpenSSL error queue (if any), with errno `code`; clears the queue and
 * returns -code.
 */
int k1s_tls_err(k1s_err_t *err, int code, const char *fmt, ...) K1S_PRINTF(3, 4);

#endif
