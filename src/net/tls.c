/*
 * TLS contexts and peer identity; see tls.h. Thin policy over OpenSSL 3:
 * which protocol versions, ciphers, groups and ALPN k1s speaks, and how a
 * client certificate becomes a user name and groups.
 */
#include "net/tls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/log.h"

/* Go's default TLS 1.2 suites minus the CBC ones: ECDHE with AEAD only. */
static const char tls12_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char tls_groups[] = "X25519:P-256:P-384";

int k1s_tls_err(k1s_err_t *err, int code, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_error();
    char reason[256] = "";
    if (e) {
        const char *r = ERR_reason_error_string(e);
        if (r)
            snprintf(reason, sizeof(reason), "%s", r);
        else
            ERR_error_string_n(e, reason, sizeof(reason));
    }
    ERR_clear_error();
    if (reason[0])
        return k1s_err_set(err, code, "%s: %s", what, reason);
    return k1s_err_set(err, code, "%s", what);
}

/*
 * ALPN: the first of "h2", "http/1.1" the client offers, in that order, as
 * Go servers choose; a client offering neither gets no ALPN (HTTP/1.1).
 * client-go offers only "http/1.1" for upgrades (exec, attach, port-forward).
 */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const char *const ours[] = {"h2", "http/1.1"};
    for (size_t k = 0; k < sizeof(ours) / sizeof(ours[0]); k++) {
        size_t want = strlen(ours[k]);
        unsigned int i = 0;
        while (i < inlen) {
            unsigned int n = in[i];
            if (i + 1 + n > inlen)
                break;
            if (n == want && memcmp(in + i + 1, ours[k], n) == 0) {
                *out = in + i + 1;
                *outlen = (unsigned char)n;
                return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + n;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/*
 * Accept the handshake even when the client certificate does not verify:
 * OpenSSL records the failure (SSL_get_verify_result) and the connection is
 * treated as anonymous, like kube-apiserver's RequestClientCert mode.
 */
static int verify_tolerant(int ok, X509_STORE_CTX *ctx)
{
    if (!ok)
        k1s_debug("tls: client certificate not verified: %s",
                  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    return 1;
}

static SSL_CTX *ctx_common(const SSL_METHOD *method, k1s_err_t *err)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx) {
        k1s_tls_err(err, ENOMEM, "create TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    /* Idle connections give their 16+ KiB record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 ||
        SSL_CTX_set1_groups_list(ctx, tls_groups) != 1) {
        k1s_tls_err(err, EINVAL, "configure TLS ciphers");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *k1s_tls_server_ctx(const char *cert_file, const char *key_file, const char *client_ca_file,
                            k1s_err_t *err)
{
    SSL_CTX *ctx = ctx_common(TLS_server_method(), err);
    if (!ctx)
        return NULL;
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        k1s_tls_err(err, EINVAL, "load certificate %s", cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        k1s_tls_err(err, EINVAL, "load key %s", key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        k1s_tls_err(err, EINVAL, "key %s does not match certificate %s", key_file, cert_file);
        goto fail;
    }
    if (client_ca_file) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca_file);
        if (!names) {
            k1s_tls_err(err, EINVAL, "load client CA %s", client_ca_file);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        if (SSL_CTX_load_verify_locations(ctx, client_ca_file, NULL) != 1) {
            k1s_tls_err(err, EINVAL, "load client CA %s", client_ca_file);
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_tolerant);
        SSL_CTX_set_verify_depth(ctx, 4);
    }
    /* Needed for session resumption when client certificates are requested. */
    static const unsigned char sid_ctx[] = "k1s";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 4096);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *k1s_tls_client_ctx(const char *ca_file, const char *cert_file, const char *key_file,
                            k1s_err_t *err)
{
    SSL_CTX *ctx = ctx_common(TLS_client_method(), err);
    if (!ctx)
        return NULL;
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        k1s_tls_err(err, EINVAL, "load CA %s", ca_file ? ca_file : "(system)");
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (cert_file && key_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
            k1s_tls_err(err, EINVAL, "load certificate %s", cert_file);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            k1s_tls_err(err, EINVAL, "load key %s", key_file);
            goto fail;
        }
    }
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static char *name_entry_utf8(X509_NAME_ENTRY *e)
{
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
    if (n < 0)
        return NULL;
    char *s = k1s_xstrndup((const char *)u, (size_t)n);
    OPENSSL_free(u);
    return s;
}

char *k1s_tls_cert_cn(X509 *cert)
{
    X509_NAME *name = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0)
        return NULL;
    return name_entry_utf8(X509_NAME_get_entry(name, i));
}

char **k1s_tls_cert_orgs(X509 *cert)
{
    X509_NAME *name = X509_get_subject_name(cert);
    int n = 0;
    for (int i = -1; (i = X509_NAME_get_index_by_NID(name, NID_organizationName, i)) >= 0;)
        n++;
    char **v = k1s_xcalloc((size_t)n + 1, sizeof(*v));
    int k = 0;
    for (int i = -1; (i = X509_NAME_get_index_by_NID(name, NID_organizationName, i)) >= 0;) {
        char *s = name_entry_utf8(X509_NAME_get_entry(name, i));
        if (s)
            v[k++] = s;
    }
    return v;
}

void k1s_tls_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

bool k1s_tls_peer_identity(SSL *ssl, char **cn, char ***orgs)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
        return false;
    char *c = k1s_tls_cert_cn(cert);
    *cn = c ? c : k1s_xstrdup("");
    *orgs = k1s_tls_cert_orgs(cert);
    return true;
}
