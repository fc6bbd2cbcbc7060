/*
 * Cluster PKI; see pki.h. Everything is plain OpenSSL 3: EC P-256 keys from
 * EVP_EC_gen, X.509 v3 certificates built field by field, SANs built as
 * GENERAL_NAMEs (no string parsing of user input), PEM on disk.
 *
 * The checks that decide whether a file is reused are deliberately few and
 * cheap: it parses, the key matches the certificate, the certificate is
 * signed by the current CA, it is valid for 90 more days, and (serving
 * certificate) its SANs cover the wanted set.
 */
#include "server/pki.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "net/tls.h"

#define CA_DAYS 3650
#define LEAF_DAYS 365
#define RENEW_DAYS 90
#define BACKDATE_S 3600 /* tolerate clocks a little behind ours */

static const char serving_name[] = "serving-kube-apiserver";
static const char admin_name[] = "client-admin";

/* ---- string sets (SANs), kept canonical: "DNS:name" lower-case, "IP:addr" ---- */

typedef struct strv {
    char **v;
    size_t n, cap;
} strv_t;

static bool strv_has(const strv_t *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return true;
    return false;
}

/* Takes ownership of x. */
static void strv_add(strv_t *s, char *x)
{
    if (strv_has(s, x)) {
        free(x);
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = k1s_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = x;
}

static void strv_free(strv_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static bool valid_dns(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '*')
            return false;
    return true;
}

/* Adds one SAN from user-style text: an IP address or a DNS name. */
static int san_add(strv_t *s, const char *text, k1s_err_t *err)
{
    unsigned char a[16];
    char ip[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, text, a) == 1) {
        inet_ntop(AF_INET, a, ip, sizeof(ip));
        strv_add(s, k1s_xasprintf("IP:%s", ip));
    } else if (inet_pton(AF_INET6, text, a) == 1) {
        inet_ntop(AF_INET6, a, ip, sizeof(ip));
        strv_add(s, k1s_xasprintf("IP:%s", ip));
    } else if (valid_dns(text)) {
        char *d = k1s_xasprintf("DNS:%s", text);
        for (char *p = d + 4; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        strv_add(s, d);
    } else {
        return k1s_err_set(err, EINVAL, "invalid SAN \"%s\": not an IP address or DNS name", text);
    }
    return 0;
}

/* The SANs the serving certificate must cover right now. */
static int wanted_sans(strv_t *s, const char *const *extra, k1s_err_t *err)
{
    static const char *const fixed[] = {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "127.0.0.1",
        "::1",
        K1S_PKI_SERVICE_IP,
    };
    for (size_t i = 0; i < K1S_ARRAY_SIZE(fixed); i++)
        san_add(s, fixed[i], NULL);
    char host[256];
    if (gethostname(host, sizeof(host)) == 0) {
        host[sizeof(host) - 1] = 0;
        if (valid_dns(host))
            san_add(s, host, NULL);
    }
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
                continue;
            char ip[INET6_ADDRSTRLEN];
            if (i->ifa_addr->sa_family == AF_INET) {
                const struct in_addr *a = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
                if ((ntohl(a->s_addr) >> 24) == 127)
                    continue;
                inet_ntop(AF_INET, a, ip, sizeof(ip));
            } else if (i->ifa_addr->sa_family == AF_INET6) {
                const struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
                /* link-local addresses need a zone to be used, and come and go
                 * with every veth: they would only churn the certificate */
                if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a))
                    continue;
                inet_ntop(AF_INET6, a, ip, sizeof(ip));
            } else {
                continue;
            }
            san_add(s, ip, NULL);
        }
        freeifaddrs(ifs);
    }
    for (size_t i = 0; extra && extra[i]; i++) {
        if (!*extra[i])
            continue;
        int r = san_add(s, extra[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The SANs an existing certificate has, canonicalized like wanted_sans(). */
static void cert_sans(X509 *x, strv_t *s)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (!gens)
        return;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS) {
            const ASN1_STRING *a = g->d.dNSName;
            char *d = k1s_xasprintf("DNS:%.*s", ASN1_STRING_length(a),
                                    (const char *)ASN1_STRING_get0_data(a));
            for (char *p = d + 4; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            strv_add(s, d);
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *a = g->d.iPAddress;
            char ip[INET6_ADDRSTRLEN];
            int len = ASN1_STRING_length(a);
            if ((len == 4 || len == 16) &&
                inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(a), ip, sizeof(ip)))
                strv_add(s, k1s_xasprintf("IP:%s", ip));
        }
    }
    GENERAL_NAMES_free(gens);
}

static GENERAL_NAMES *make_gens(const strv_t *s)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    k1s_assert(gens);
    /* DNS names first, then IPs, as Go's x509 writes them */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < s->n; i++) {
            const char *v = s->v[i];
            GENERAL_NAME *g = GENERAL_NAME_new();
            k1s_assert(g);
            if (pass == 0 && k1s_str_has_prefix(v, "DNS:")) {
                ASN1_IA5STRING *a = ASN1_IA5STRING_new();
                k1s_assert(a && ASN1_STRING_set(a, v + 4, (int)strlen(v + 4)) == 1);
                GENERAL_NAME_set0_value(g, GEN_DNS, a);
            } else if (pass == 1 && k1s_str_has_prefix(v, "IP:")) {
                unsigned char b[16];
                int len = 0;
                if (inet_pton(AF_INET, v + 3, b) == 1)
                    len = 4;
                else if (inet_pton(AF_INET6, v + 3, b) == 1)
                    len = 16;
                k1s_assert(len);
                ASN1_OCTET_STRING *a = ASN1_OCTET_STRING_new();
                k1s_assert(a && ASN1_OCTET_STRING_set(a, b, len) == 1);
                GENERAL_NAME_set0_value(g, GEN_IPADD, a);
            } else {
                GENERAL_NAME_free(g);
                continue;
            }
            sk_GENERAL_NAME_push(gens, g);
        }
    }
    return gens;
}

/* ---- files ---- */

static char *path_join(const char *dir, const char *name, const char *ext)
{
    return k1s_xasprintf("%s/%s%s", dir, name, ext);
}

static int load_cert(const char *path, X509 **out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (!x)
        return -EINVAL;
    *out = x;
    return 0;
}

static int load_key(const char *path, EVP_PKEY **out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (!k)
        return -EINVAL;
    *out = k;
    return 0;
}

static char *bio_steal(BIO *b, size_t *len)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = k1s_xstrndup(data, (size_t)n);
    if (len)
        *len = (size_t)n;
    BIO_free(b);
    return s;
}

static char *cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    k1s_assert(b && PEM_write_bio_X509(b, x) == 1);
    return bio_steal(b, NULL);
}

static char *key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    k1s_assert(b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    return bio_steal(b, NULL);
}

static int write_pem(const char *path, char *pem, int mode, k1s_err_t *err)
{
    int r = k1s_write_file_atomic(path, pem, strlen(pem), mode);
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    if (r < 0)
        return k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
    return 0;
}

/* ---- certificates ---- */

enum { CERT_CA = 1, CERT_SERVER = 2, CERT_CLIENT = 4 };

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    if (!e)
        return -1;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok == 1 ? 0 : -1;
}

/*
 * Builds and signs a certificate for key. issuer NULL means self-signed
 * (with key as the issuer key). Returns NULL on an OpenSSL failure.
 */
static X509 *make_cert(const char *cn, const char *const *orgs, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key, int days, int kind, const strv_t *sans)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    BIGNUM *bn = BN_new();
    k1s_assert(x && name && bn);
    bool ok = X509_set_version(x, 2) == 1;
    ok = ok && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_S) != NULL &&
         X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) != NULL;
    for (size_t i = 0; ok && orgs && orgs[i]; i++)
        ok = X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
                                        (const unsigned char *)orgs[i], -1, -1, 0) == 1;
    ok = ok && X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                          (const unsigned char *)cn, -1, -1, 0) == 1;
    ok = ok && X509_set_subject_name(x, name) == 1;
    ok = ok && X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1;
    ok = ok && X509_set_pubkey(x, key) == 1;

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    if (kind & CERT_CA) {
        ok = ok && add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") == 0;
        ok = ok &&
             add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign") == 0;
        ok = ok && add_ext(x, &ctx, NID_subject_key_identifier, "hash") == 0;
    } else {
        const char *eku = (kind & CERT_SERVER) && (kind & CERT_CLIENT) ? "serverAuth,clientAuth"
                          : (kind & CERT_SERVER)                       ? "serverAuth"
                                                                       : "clientAuth";
        ok = ok && add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") == 0;
        ok =
            ok && add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment") == 0;
        ok = ok && add_ext(x, &ctx, NID_ext_key_usage, eku) == 0;
        ok = ok && add_ext(x, &ctx, NID_subject_key_identifier, "hash") == 0;
        ok = ok && add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") == 0;
        if (ok && sans && sans->n) {
            GENERAL_NAMES *gens = make_gens(sans);
            ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
            GENERAL_NAMES_free(gens);
        }
    }
    ok = ok && X509_sign(x, issuer ? issuer_key : key, EVP_sha256()) > 0;
    BN_free(bn);
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static EVP_PKEY *gen_key(void)
{
    return EVP_EC_gen("P-256");
}

/* True if cert is good for RENEW_DAYS more days. */
static bool fresh(X509 *cert)
{
    time_t limit = time(NULL) + (time_t)RENEW_DAYS * 86400;
    return X509_cmp_time(X509_get0_notAfter(cert), &limit) > 0;
}

static bool signed_by(X509 *cert, X509 *ca)
{
    bool ok =
        X509_check_issued(ca, cert) == X509_V_OK && X509_verify(cert, X509_get0_pubkey(ca)) == 1;
    ERR_clear_error();
    return ok;
}

/* Loads tls_dir/name.crt/.key, creating a new self-signed CA if there is none. */
static int ensure_ca(const char *dir, const char *name, X509 **ca_out, EVP_PKEY **key_out,
                     k1s_err_t *err)
{
    _k1s_cleanup_free_ char *crt = path_join(dir, name, ".crt");
    _k1s_cleanup_free_ char *keyp = path_join(dir, name, ".key");
    X509 *ca = NULL;
    EVP_PKEY *key = NULL;
    int rc = load_cert(crt, &ca);
    int rk = load_key(keyp, &key);
    if (rc == 0 && rk == 0) {
        if (X509_check_private_key(ca, key) != 1) {
            ERR_clear_error();
            X509_free(ca);
            EVP_PKEY_free(key);
            return k1s_err_set(err, EINVAL, "%s does not match %s", keyp, crt);
        }
        *ca_out = ca;
        *key_out = key;
        return 0;
    }
    X509_free(ca);
    EVP_PKEY_free(key);
    if (rc == 0)
        return k1s_err_set(err, -rk,
                           "read CA key %s: %s (the CA certificate exists; refusing to "
                           "replace it)",
                           keyp, rk == -EINVAL ? "not a PEM private key" : strerror(-rk));
    if (rc != -ENOENT)
        return k1s_err_set(err, -rc, "read CA certificate %s: %s", crt,
                           rc == -EINVAL ? "not a PEM certificate" : strerror(-rc));

    /* No certificate (a key without one is a creation cut short): make both. */
    key = gen_key();
    if (!key)
        return k1s_tls_err(err, ENOMEM, "generate key for %s", name);
    char *cn = k1s_xasprintf("k1s-%s@%lld", name, (long long)time(NULL));
    ca = make_cert(cn, NULL, key, NULL, NULL, CA_DAYS, CERT_CA, NULL);
    free(cn);
    if (!ca) {
        EVP_PKEY_free(key);
        return k1s_tls_err(err, EINVAL, "create %s", crt);
    }
    int r = write_pem(keyp, key_pem(key), 0600, err);
    if (r == 0)
        r = write_pem(crt, cert_pem(ca), 0644, err);
    if (r < 0) {
        X509_free(ca);
        EVP_PKEY_free(key);
        return r;
    }
    *ca_out = ca;
    *key_out = key;
    return 0;
}

/*
 * Makes sure tls_dir/name.crt/.key is a usable leaf certificate from ca;
 * (re)issues it if missing, mismatched, not from ca, expiring, or (want
 * non-NULL) not covering every wanted SAN.
 */
static int ensure_leaf(const char *dir, const char *name, const char *cn, const char *const *orgs,
                       int kind, X509 *ca, EVP_PKEY *ca_key, const strv_t *want, k1s_err_t *err)
{
    _k1s_cleanup_free_ char *crt = path_join(dir, name, ".crt");
    _k1s_cleanup_free_ char *keyp = path_join(dir, name, ".key");
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    bool ok = load_cert(crt, &cert) == 0 && load_key(keyp, &key) == 0;
    ok = ok && X509_check_private_key(cert, key) == 1;
    ERR_clear_error();
    ok = ok && signed_by(cert, ca) && fresh(cert);
    if (ok && want) {
        strv_t have = {0};
        cert_sans(cert, &have);
        for (size_t i = 0; ok && i < want->n; i++)
            ok = strv_has(&have, want->v[i]);
        strv_free(&have);
    }
    X509_free(cert);
    if (ok) {
        EVP_PKEY_free(key);
        return 0;
    }
    /* Reuse a good existing key: clients pinning it keep working. */
    if (!key) {
        key = gen_key();
        if (!key)
            return k1s_tls_err(err, ENOMEM, "generate key for %s", name);
    }
    cert = make_cert(cn, orgs, key, ca, ca_key, LEAF_DAYS, kind, want);
    if (!cert) {
        EVP_PKEY_free(key);
        return k1s_tls_err(err, EINVAL, "create %s", crt);
    }
    int r = write_pem(keyp, key_pem(key), 0600, err);
    if (r == 0)
        r = write_pem(crt, cert_pem(cert), 0644, err);
    X509_free(cert);
    EVP_PKEY_free(key);
    return r;
}

/* The service-account signing key (RSA 2048, as k3s's service.key): made once, never rotated
 * here, since every issued token would stop verifying. */
static int ensure_sa_key(const char *dir, k1s_err_t *err)
{
    _k1s_cleanup_free_ char *path = path_join(dir, "service", ".key");
    EVP_PKEY *key = NULL;
    int r = load_key(path, &key);
    if (r == 0) {
        bool rsa = EVP_PKEY_is_a(key, "RSA");
        EVP_PKEY_free(key);
        if (!rsa)
            return k1s_err_set(err, EINVAL, "%s is not an RSA private key", path);
        return 0;
    }
    if (r != -ENOENT)
        return k1s_err_set(err, -r, "read %s: %s", path,
                           r == -EINVAL ? "not a PEM private key" : strerror(-r));
    key = EVP_RSA_gen(2048);
    if (!key)
        return k1s_tls_err(err, ENOMEM, "generate %s", path);
    r = write_pem(path, key_pem(key), 0600, err);
    EVP_PKEY_free(key);
    return r;
}

int k1s_pki_ensure(const char *tls_dir, const char *const *sans, k1s_err_t *err)
{
    strv_t want = {0};
    int r = wanted_sans(&want, sans, err);
    if (r < 0) {
        strv_free(&want);
        return r;
    }
    r = k1s_mkdir_p(tls_dir, 0700);
    if (r == 0 && chmod(tls_dir, 0700) < 0)
        r = -errno;
    if (r < 0) {
        strv_free(&want);
        return k1s_err_set(err, -r, "create %s: %s", tls_dir, strerror(-r));
    }
    X509 *sca = NULL, *cca = NULL;
    EVP_PKEY *skey = NULL, *ckey = NULL;
    r = ensure_ca(tls_dir, "server-ca", &sca, &skey, err);
    if (r == 0)
        r = ensure_ca(tls_dir, "client-ca", &cca, &ckey, err);
    if (r == 0)
        r = ensure_leaf(tls_dir, serving_name, "kube-apiserver", NULL, CERT_SERVER, sca, skey,
                        &want, err);
    static const char *const admin_orgs[] = {"system:masters", NULL};
    if (r == 0)
        r = ensure_leaf(tls_dir, admin_name, "system:admin", admin_orgs, CERT_CLIENT, cca, ckey,
                        NULL, err);
    if (r == 0)
        r = ensure_sa_key(tls_dir, err);
    X509_free(sca);
    X509_free(cca);
    EVP_PKEY_free(skey);
    EVP_PKEY_free(ckey);
    strv_free(&want);
    return r;
}

/* Issues a certificate for key (see k1s_pki_issue); sets *cert_pem_out. */
static int issue_for(const char *tls_dir, const char *ca, const char *cn, const char *const *orgs,
                     const char *const *sans, bool server_auth, bool client_auth, int days,
                     EVP_PKEY *key, char **cert_pem_out, k1s_err_t *err)
{
    _k1s_cleanup_free_ char *crt = path_join(tls_dir, ca, ".crt");
    _k1s_cleanup_free_ char *keyp = path_join(tls_dir, ca, ".key");
    X509 *cax = NULL;
    EVP_PKEY *cak = NULL;
    int r = load_cert(crt, &cax);
    if (r < 0)
        return k1s_err_set(err, -r, "read %s: %s", crt, strerror(-r));
    r = load_key(keyp, &cak);
    if (r < 0) {
        X509_free(cax);
        return k1s_err_set(err, -r, "read %s: %s", keyp, strerror(-r));
    }
    strv_t s = {0};
    for (size_t i = 0; sans && sans[i]; i++) {
        r = san_add(&s, sans[i], err);
        if (r < 0)
            goto out;
    }
    int kind = (server_auth ? CERT_SERVER : 0) | (client_auth || !server_auth ? CERT_CLIENT : 0);
    X509 *x = make_cert(cn, orgs, key, cax, cak, days > 0 ? days : LEAF_DAYS, kind, &s);
    if (!x) {
        r = k1s_tls_err(err, EINVAL, "issue certificate for %s", cn);
        goto out;
    }
    *cert_pem_out = cert_pem(x);
    X509_free(x);
out:
    strv_free(&s);
    X509_free(cax);
    EVP_PKEY_free(cak);
    return r;
}

int k1s_pki_issue(const char *tls_dir, const char *ca, const char *cn, const char *const *orgs,
                  const char *const *sans, bool server_auth, bool client_auth, int days,
                  char **cert_pem_out, char **key_pem_out, k1s_err_t *err)
{
    EVP_PKEY *key = gen_key();
    if (!key)
        return k1s_tls_err(err, ENOMEM, "generate key");
    char *crt = NULL;
    int r = issue_for(tls_dir, ca, cn, orgs, sans, server_auth, client_auth, days, key, &crt, err);
    if (r == 0) {
        *cert_pem_out = crt;
        *key_pem_out = key_pem(key);
    }
    EVP_PKEY_free(key);
    return r;
}

int k1s_pki_issue_for_key(const char *tls_dir, const char *ca, const char *cn,
                          const char *const *orgs, const char *const *sans, bool server_auth,
                          bool client_auth, int days, const char *pubkey_pem, char **cert_pem_out,
                          k1s_err_t *err)
{
    BIO *b = BIO_new_mem_buf(pubkey_pem, -1);
    k1s_assert(b);
    EVP_PKEY *key = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!key)
        return k1s_tls_err(err, EINVAL, "the request holds no PEM public key");
    int r = issue_for(tls_dir, ca, cn, orgs, sans, server_auth, client_auth, days, key,
                      cert_pem_out, err);
    EVP_PKEY_free(key);
    return r;
}

static char *b64(const char *data, size_t len)
{
    char *out = k1s_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

static int read_b64(const char *dir, const char *name, char **out, k1s_err_t *err)
{
    _k1s_cleanup_free_ char *p = k1s_xasprintf("%s/%s", dir, name);
    char *data;
    size_t len;
    int r = k1s_read_file(p, &data, &len);
    if (r < 0)
        return k1s_err_set(err, -r, "read %s: %s", p, strerror(-r));
    *out = b64(data, len);
    OPENSSL_cleanse(data, len);
    free(data);
    return 0;
}

int k1s_pki_write_kubeconfig(const char *path, int mode, const char *server_url,
                             const char *tls_dir, k1s_err_t *err)
{
    char *ca = NULL, *crt = NULL, *key = NULL;
    int r = read_b64(tls_dir, "server-ca.crt", &ca, err);
    if (r == 0)
        r = read_b64(tls_dir, "client-admin.crt", &crt, err);
    if (r == 0)
        r = read_b64(tls_dir, "client-admin.key", &key, err);
    if (r < 0)
        goto out;

    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char *dir = k1s_xstrndup(path, (size_t)(slash - path));
        r = k1s_mkdir_p(dir, 0755);
        if (r < 0)
            k1s_err_set(err, -r, "create %s: %s", dir, strerror(-r));
        free(dir);
        if (r < 0)
            goto out;
    }

    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: ");
    k1s_buf_puts(&b, ca);
    /* A JSON string is a valid YAML double-quoted scalar. */
    k1s_buf_puts(&b, "\n    server: ");
    k1s_buf_json_str(&b, server_url);
    k1s_buf_puts(&b, "\n  name: default\n"
                     "contexts:\n- context:\n    cluster: default\n    user: default\n"
                     "  name: default\n"
                     "current-context: default\n"
                     "kind: Config\n"
                     "preferences: {}\n"
                     "users:\n- name: default\n  user:\n    client-certificate-data: ");
    k1s_buf_puts(&b, crt);
    k1s_buf_puts(&b, "\n    client-key-data: ");
    k1s_buf_puts(&b, key);
    k1s_buf_puts(&b, "\n");
    r = k1s_write_file_atomic(path, b.data, b.len, mode);
    OPENSSL_cleanse(b.data, b.len);
    k1s_buf_free(&b);
    if (r < 0)
        k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
out:
    free(ca);
    free(crt);
    if (key)
        OPENSSL_cleanse(key, strlen(key));
    free(key);
    return r;
}

int k1s_pki_ca_hash(const char *tls_dir, char out[65])
{
    _k1s_cleanup_free_ char *p = k1s_xasprintf("%s/server-ca.crt", tls_dir);
    char *data;
    size_t len;
    int r = k1s_read_file(p, &data, &len);
    if (r < 0)
        return r;
    unsigned char md[32];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    free(data);
    if (ok != 1 || mdlen != 32)
        return -EIO;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static bool valid_secret(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

/*
 * Splits a token into its CA hash (NULL for a bare secret) and secret,
 * pointing into tok. Returns false if tok is malformed.
 */
static bool parse_token(const char *tok, char hash[65], const char **secret)
{
    return k1s_pki_token_parse(tok, hash, secret);
}

bool k1s_pki_token_parse(const char *tok, char hash[65], const char **secret)
{
    hash[0] = 0;
    if (!k1s_str_has_prefix(tok, "K10")) {
        *secret = tok;
        return valid_secret(tok);
    }
    const char *h = tok + 3;
    size_t hn = strspn(h, "0123456789abcdefABCDEF");
    if (hn != 64 || strncmp(h + 64, "::", 2) != 0)
        return false;
    for (int i = 0; i < 64; i++)
        hash[i] = (char)tolower((unsigned char)h[i]);
    hash[64] = 0;
    const char *cred = h + 66;
    const char *colon = strchr(cred, ':'); /* "server:<secret>" */
    *secret = colon ? colon + 1 : cred;
    return valid_secret(*secret);
}

int k1s_pki_ensure_token(const char *server_dir, const char *wanted, char **token_out,
                         k1s_err_t *err)
{
    _k1s_cleanup_free_ char *tls_dir = k1s_xasprintf("%s/tls", server_dir);
    _k1s_cleanup_free_ char *path = k1s_xasprintf("%s/token", server_dir);
    char ca_hash[65];
    int r = k1s_pki_ca_hash(tls_dir, ca_hash);
    if (r < 0)
        return k1s_err_set(err, -r, "read %s/server-ca.crt: %s", tls_dir, strerror(-r));

    char hash[65];
    const char *secret = NULL;
    _k1s_cleanup_free_ char *existing = NULL;
    char *data = NULL;
    if (k1s_read_file(path, &data, NULL) == 0) {
        size_t n = strlen(data);
        while (n && isspace((unsigned char)data[n - 1]))
            data[--n] = 0;
        existing = data;
    }
    if (wanted && *wanted) {
        if (!parse_token(wanted, hash, &secret))
            return k1s_err_set(err, EINVAL,
                               "invalid token: expected a secret without spaces or "
                               "K10<ca-hash>::server:<secret>");
        if (hash[0] && strcmp(hash, ca_hash) != 0)
            return k1s_err_set(err, EINVAL,
                               "token CA hash %.12s... does not match this server's CA %.12s... "
                               "(the token belongs to another cluster)",
                               hash, ca_hash);
    } else if (existing && *existing) {
        if (!parse_token(existing, hash, &secret))
            return k1s_err_set(err, EINVAL, "%s: malformed token", path);
    }
    char rnd[33];
    if (!secret) {
        unsigned char b[16];
        k1s_random_bytes(b, sizeof(b));
        for (int i = 0; i < 16; i++)
            snprintf(rnd + 2 * i, 3, "%02x", b[i]);
        secret = rnd;
    }
    char *token = k1s_xasprintf("K10%s::server:%s", ca_hash, secret);
    if (!existing || strcmp(existing, token) != 0) {
        r = k1s_mkdir_p(server_dir, 0700);
        char *line = k1s_xasprintf("%s\n", token);
        if (r == 0)
            r = k1s_write_file_atomic(path, line, strlen(line), 0600);
        free(line);
        if (r < 0) {
            free(token);
            return k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
        }
    }
    *token_out = token;
    return 0;
}
