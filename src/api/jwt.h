/*
 * JSON Web Tokens signed with RS256 (RFC 7515/7519), as Kubernetes'
 * service-account tokens are: a compact "header.payload.signature" with
 * header {"alg":"RS256","kid":...}, and the JWKS document that publishes the
 * public key for OIDC discovery. Key ids are Kubernetes' own: the unpadded
 * base64url SHA-256 of the public key's DER SubjectPublicKeyInfo.
 *
 * Pure functions over OpenSSL keys; no state, thread-safe.
 */
#ifndef K1S_API_JWT_H
#define K1S_API_JWT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>

#include "lib/err.h"

/* Unpadded base64url of data[0..len). New string. */
char *k1s_b64url_encode(const void *data, size_t len);
/* Decodes unpadded (or padded) base64url; sets *out (new buffer, NUL-terminated) and *len.
 * Returns 0 or -EINVAL. */
int k1s_b64url_decode(const char *s, size_t slen, unsigned char **out, size_t *len);

/* Kubernetes' key id of key's public half into out (43 chars + NUL). 0 or -EINVAL. */
int k1s_jwt_key_id(EVP_PKEY *key, char out[64]);

/*
 * Signs claims (a JSON object, not modified) with the RSA private key, header
 * {"alg":"RS256","kid":kid}. Sets *out to the new compact token. 0 or -errno.
 */
int k1s_jwt_sign(EVP_PKEY *key, const char *kid, const json_t *claims, char **out);

/*
 * Checks a compact RS256 token's form, header (alg must be RS256; a kid, if
 * present, must equal kid when kid is non-NULL) and signature against the
 * public key. On success sets *claims to the payload (new reference) and
 * returns 0; otherwise -EINVAL (malformed), -EBADMSG (bad signature, wrong
 * alg or kid) with err set. Time claims are the caller's to check.
 */
int k1s_jwt_verify(EVP_PKEY *key, const char *kid, const char *token, json_t **claims,
                   k1s_err_t *err);

/* The public JWK of an RSA key: {"use":"sig","kty":"RSA","kid","alg":"RS256","n","e"}. New
 * reference, or NULL if key is not RSA. */
json_t *k1s_jwt_jwk(EVP_PKEY *key, const char *kid);

#endif
