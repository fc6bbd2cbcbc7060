/*
 * RS256 JSON Web Tokens; see jwt.h. The signature is PKCS#1 v1.5 over
 * SHA-256 of "base64url(header).base64url(payload)", computed with
 * OpenSSL's EVP_DigestSign/Verify. The payload is written compactly with
 * its keys in insertion order, so equal claims give equal tokens.
 */
#include "api/jwt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "lib/util.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *k1s_b64url_encode(const void *data, size_t len)
{
    const unsigned char *p = data;
    char *out = k1s_xmalloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = 0;
    return out;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int k1s_b64url_decode(const char *s, size_t slen, unsigned char **out, size_t *len)
{
    while (slen > 0 && s[slen - 1] == '=')
        slen--;
    if (slen % 4 == 1)
        return -EINVAL;
    unsigned char *buf = k1s_xmalloc(slen / 4 * 3 + 4);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < slen; i++) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            free(buf);
            return -EINVAL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* non-canonical trailing bits */
        free(buf);
        return -EINVAL;
    }
    buf[o] = 0;
    *out = buf;
    *len = o;
    return 0;
}

int k1s_jwt_key_id(EVP_PKEY *key, char out[64])
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    if (n <= 0) {
        ERR_clear_error();
        return -EINVAL;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(der, (size_t)n, md);
    OPENSSL_free(der);
    char *s = k1s_b64url_encode(md, sizeof(md));
    snprintf(out, 64, "%s", s);
    free(s);
    return 0;
}

static char *b64_json(const json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    k1s_assert(s);
    char *e = k1s_b64url_encode(s, strlen(s));
    free(s);
    return e;
}

int k1s_jwt_sign(EVP_PKEY *key, const char *kid, const json_t *claims, char **out)
{
    json_t *hdr = json_pack("{s:s, s:s}", "alg", "RS256", "kid", kid ? kid : "");
    if (!kid)
        json_object_del(hdr, "kid");
    char *h = b64_json(hdr);
    json_decref(hdr);
    char *p = b64_json(claims);
    char *input = k1s_xasprintf("%s.%s", h, p);
    free(h);
    free(p);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = 0;
    unsigned char *sig = NULL;
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)input, strlen(input)) == 1;
    if (ok) {
        sig = k1s_xmalloc(siglen);
        ok = EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input, strlen(input)) == 1;
    }
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        free(sig);
        free(input);
        return -EINVAL;
    }
    char *s = k1s_b64url_encode(sig, siglen);
    *out = k1s_xasprintf("%s.%s", input, s);
    free(s);
    free(sig);
    free(input);
    return 0;
}

static json_t *decode_part(const char *s, size_t n)
{
    unsigned char *raw;
    size_t len;
    if (k1s_b64url_decode(s, n, &raw, &len) < 0)
        return NULL;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int k1s_jwt_verify(EVP_PKEY *key, const char *kid, const char *token, json_t **claims,
                   k1s_err_t *err)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return k1s_err_set(err, EINVAL, "not a compact JWS");
    json_t *hdr = decode_part(token, (size_t)(d1 - token));
    if (!hdr)
        return k1s_err_set(err, EINVAL, "malformed JWT header");
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *hkid = json_string_value(json_object_get(hdr, "kid"));
    if (!alg || strcmp(alg, "RS256")) {
        json_decref(hdr);
        return k1s_err_set(err, EBADMSG, "unexpected signing algorithm");
    }
    if (kid && hkid && strcmp(kid, hkid)) {
        json_decref(hdr);
        return k1s_err_set(err, EBADMSG, "unknown key id");
    }
    json_decref(hdr);
    unsigned char *sig;
    size_t siglen;
    if (k1s_b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &siglen) < 0)
        return k1s_err_set(err, EINVAL, "malformed JWT signature");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok =
        ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)token, (size_t)(d2 - token)) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    free(sig);
    if (!ok)
        return k1s_err_set(err, EBADMSG, "invalid signature");
    json_t *payload = decode_part(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!payload)
        return k1s_err_set(err, EINVAL, "malformed JWT payload");
    *claims = payload;
    return 0;
}

static char *bn_param_b64(EVP_PKEY *key, const char *name)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
        ERR_clear_error();
        return NULL;
    }
    int n = BN_num_bytes(bn);
    unsigned char *buf = k1s_xmalloc(n > 0 ? (size_t)n : 1);
    BN_bn2bin(bn, buf);
    char *s = k1s_b64url_encode(buf, (size_t)n);
    free(buf);
    BN_free(bn);
    return s;
}

json_t *k1s_jwt_jwk(EVP_PKEY *key, const char *kid)
{
    if (!EVP_PKEY_is_a(key, "RSA"))
        return NULL;
    char *n = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N);
    char *e = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E);
    json_t *jwk = NULL;
    if (n && e)
        jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "use", "sig", "kty", "RSA", "kid", kid,
                        "alg", "RS256", "n", n, "e", e);
    free(n);
    free(e);
    return jwk;
}
