/* Unit tests for src/server/pki.c: files, modes, reuse, renewal, SANs, kubeconfig, token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/err.h"
#include "lib/util.h"
#include "net/tls.h"
#include "server/pki.h"

static const char *const files[] = {
    "server-ca.crt",
    "server-ca.key",
    "client-ca.crt",
    "client-ca.key",
    "client-admin.crt",
    "client-admin.key",
    "serving-kube-apiserver.crt",
    "serving-kube-apiserver.key",
};

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int setup(void **state)
{
    char *dir = k1s_xstrdup("/tmp/k1s-pki-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    nftw(*state, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(*state);
    return 0;
}

static char *path(const char *dir, const char *name)
{
    return k1s_xasprintf("%s/%s", dir, name);
}

static char *tlsdir(void **state)
{
    return path(*state, "tls");
}

static int mode_of(const char *p)
{
    struct stat st;
    if (stat(p, &st) < 0)
        return -1;
    return st.st_mode & 07777;
}

static char *slurp(const char *p)
{
    char *d = NULL;
    assert_int_equal(k1s_read_file(p, &d, NULL), 0);
    return d;
}

static X509 *load(const char *dir, const char *name)
{
    char *p = path(dir, name);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    free(p);
    assert_non_null(x);
    return x;
}

static bool has_san(X509 *x, int type, const char *value)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    bool found = false;
    for (int i = 0; g && i < sk_GENERAL_NAME_num(g); i++) {
        GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
        if (n->type != type)
            continue;
        if (type == GEN_DNS) {
            found |= strcmp((const char *)ASN1_STRING_get0_data(n->d.dNSName), value) == 0;
        } else {
            unsigned char b[16];
            int len = strchr(value, ':') ? 16 : 4;
            inet_pton(len == 4 ? AF_INET : AF_INET6, value, b);
            found |= ASN1_STRING_length(n->d.iPAddress) == len &&
                     memcmp(ASN1_STRING_get0_data(n->d.iPAddress), b, (size_t)len) == 0;
        }
    }
    GENERAL_NAMES_free(g);
    return found;
}

static void test_ensure_creates_and_reuses(void **state)
{
    char *dir = tlsdir(state);
    k1s_err_t err = {0};
    const char *sans[] = {"192.0.2.10", "K1S.example.com", "2001:db8::7", NULL};
    assert_int_equal(k1s_pki_ensure(dir, sans, &err), 0);
    assert_int_equal(mode_of(dir), 0700);
    char *before[K1S_ARRAY_SIZE(files)];
    for (size_t i = 0; i < K1S_ARRAY_SIZE(files); i++) {
        char *p = path(dir, files[i]);
        assert_int_equal(mode_of(p), k1s_str_has_suffix(p, ".key") ? 0600 : 0644);
        before[i] = slurp(p);
        free(p);
    }

    X509 *sca = load(dir, "server-ca.crt");
    X509 *cca = load(dir, "client-ca.crt");
    X509 *srv = load(dir, "serving-kube-apiserver.crt");
    X509 *adm = load(dir, "client-admin.crt");
    assert_int_equal(X509_check_ca(sca), 1);
    assert_int_equal(X509_verify(srv, X509_get0_pubkey(sca)), 1);
    assert_int_equal(X509_verify(adm, X509_get0_pubkey(cca)), 1);
    assert_int_not_equal(X509_verify(adm, X509_get0_pubkey(sca)), 1);
    assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(srv)), EVP_PKEY_EC);
    assert_true(X509_get_extended_key_usage(srv) & XKU_SSL_SERVER);
    assert_true(X509_get_extended_key_usage(adm) & XKU_SSL_CLIENT);
    for (const char *d = "localhost\0kubernetes\0kubernetes.default\0kubernetes.default.svc\0"
                         "kubernetes.default.svc.cluster.local\0k1s.example.com\0";
         *d; d += strlen(d) + 1)
        assert_true(has_san(srv, GEN_DNS, d));
    for (const char *ip = "127.0.0.1\0::1\0"
                          "10.43.0.1\0"
                          "192.0.2.10\0"
                          "2001:db8::7\0";
         *ip; ip += strlen(ip) + 1)
        assert_true(has_san(srv, GEN_IPADD, ip));
    char host[256];
    gethostname(host, sizeof(host));
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    assert_true(has_san(srv, GEN_DNS, host));
    /* 1 year leaf, 10 year CA */
    time_t in300 = time(NULL) + 300 * 86400, in400 = time(NULL) + 400 * 86400;
    assert_true(X509_cmp_time(X509_get0_notAfter(srv), &in300) > 0);
    assert_true(X509_cmp_time(X509_get0_notAfter(srv), &in400) < 0);
    time_t in9y = time(NULL) + 9L * 365 * 86400;
    assert_true(X509_cmp_time(X509_get0_notAfter(sca), &in9y) > 0);

    char *cn = k1s_tls_cert_cn(adm);
    char **orgs = k1s_tls_cert_orgs(adm);
    assert_string_equal(cn, "system:admin");
    assert_string_equal(orgs[0], "system:masters");
    assert_null(orgs[1]);
    free(cn);
    k1s_tls_strv_free(orgs);

    /* second call: nothing changes */
    assert_int_equal(k1s_pki_ensure(dir, sans, &err), 0);
    for (size_t i = 0; i < K1S_ARRAY_SIZE(files); i++) {
        char *p = path(dir, files[i]);
        char *now = slurp(p);
        assert_string_equal(now, before[i]);
        free(now);
        free(p);
    }

    /* a new SAN re-issues the serving cert only */
    const char *more[] = {"192.0.2.10", "k1s.example.com", "2001:db8::7", "198.51.100.1", NULL};
    assert_int_equal(k1s_pki_ensure(dir, more, &err), 0);
    for (size_t i = 0; i < K1S_ARRAY_SIZE(files); i++) {
        char *p = path(dir, files[i]);
        char *now = slurp(p);
        if (strcmp(files[i], "serving-kube-apiserver.crt") == 0)
            assert_string_not_equal(now, before[i]);
        else
            assert_string_equal(now, before[i]);
        free(now);
        free(p);
    }
    X509 *srv2 = load(dir, "serving-kube-apiserver.crt");
    assert_true(has_san(srv2, GEN_IPADD, "198.51.100.1"));
    assert_int_equal(X509_verify(srv2, X509_get0_pubkey(sca)), 1);

    for (size_t i = 0; i < K1S_ARRAY_SIZE(files); i++)
        free(before[i]);
    X509_free(sca);
    X509_free(cca);
    X509_free(srv);
    X509_free(srv2);
    X509_free(adm);
    free(dir);
}

static void write_str(const char *p, const char *s, int mode)
{
    assert_int_equal(k1s_write_file_atomic(p, s, strlen(s), mode), 0);
}

static void test_renews_expiring_and_foreign(void **state)
{
    char *dir = tlsdir(state);
    k1s_err_t err = {0};
    assert_int_equal(k1s_pki_ensure(dir, NULL, &err), 0);

    /* a serving cert that expires in 30 days is renewed */
    char *crt, *key;
    const char *sans[] = {"localhost", NULL};
    assert_int_equal(k1s_pki_issue(dir, "server-ca", "kube-apiserver", NULL, sans, true, false, 30,
                                   &crt, &key, &err),
                     0);
    char *pc = path(dir, "serving-kube-apiserver.crt"),
         *pk = path(dir, "serving-kube-apiserver.key");
    write_str(pc, crt, 0644);
    write_str(pk, key, 0600);
    assert_int_equal(k1s_pki_ensure(dir, NULL, &err), 0);
    X509 *srv = load(dir, "serving-kube-apiserver.crt");
    time_t in300 = time(NULL) + 300 * 86400;
    assert_true(X509_cmp_time(X509_get0_notAfter(srv), &in300) > 0);
    X509_free(srv);
    free(crt);
    free(key);

    /* an admin cert from the wrong CA is re-issued */
    assert_int_equal(k1s_pki_issue(dir, "server-ca", "system:admin", NULL, NULL, false, true, 365,
                                   &crt, &key, &err),
                     0);
    char *ac = path(dir, "client-admin.crt"), *ak = path(dir, "client-admin.key");
    write_str(ac, crt, 0644);
    write_str(ak, key, 0600);
    assert_int_equal(k1s_pki_ensure(dir, NULL, &err), 0);
    X509 *adm = load(dir, "client-admin.crt");
    X509 *cca = load(dir, "client-ca.crt");
    assert_int_equal(X509_verify(adm, X509_get0_pubkey(cca)), 1);
    X509_free(adm);
    X509_free(cca);
    free(crt);
    free(key);

    /* a CA cert without its key is an error, not silently replaced */
    char *ck = path(dir, "client-ca.key");
    unlink(ck);
    assert_int_not_equal(k1s_pki_ensure(dir, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "client-ca.key"));

    free(pc);
    free(pk);
    free(ac);
    free(ak);
    free(ck);
    free(dir);
}

static void test_bad_san(void **state)
{
    char *dir = tlsdir(state);
    k1s_err_t err = {0};
    const char *sans[] = {"bad name,DNS:evil", NULL};
    assert_int_equal(k1s_pki_ensure(dir, sans, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "invalid SAN"));
    free(dir);
}

static void test_kubeconfig(void **state)
{
    char *dir = tlsdir(state);
    k1s_err_t err = {0};
    assert_int_equal(k1s_pki_ensure(dir, NULL, &err), 0);
    char *kc = k1s_xasprintf("%s/etc/k1s/k1s.yaml", (char *)*state);
    assert_int_equal(k1s_pki_write_kubeconfig(kc, 0600, "https://127.0.0.1:6443", dir, &err), 0);
    assert_int_equal(mode_of(kc), 0600);
    /* mode is applied exactly even when the file exists */
    assert_int_equal(chmod(kc, 0666), 0);
    assert_int_equal(k1s_pki_write_kubeconfig(kc, 0640, "https://127.0.0.1:6443", dir, &err), 0);
    assert_int_equal(mode_of(kc), 0640);

    char *y = slurp(kc);
    assert_non_null(strstr(y, "apiVersion: v1\n"));
    assert_non_null(strstr(y, "kind: Config\n"));
    assert_non_null(strstr(y, "current-context: default\n"));
    assert_non_null(strstr(y, "    server: \"https://127.0.0.1:6443\"\n"));
    assert_non_null(strstr(y, "    cluster: default\n    user: default\n  name: default\n"));
    assert_non_null(strstr(y, "users:\n- name: default\n"));

    /* each embedded blob decodes to the file it came from */
    struct {
        const char *field, *file;
    } blobs[] = {{"certificate-authority-data: ", "server-ca.crt"},
                 {"client-certificate-data: ", "client-admin.crt"},
                 {"client-key-data: ", "client-admin.key"}};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(blobs); i++) {
        char *s = strstr(y, blobs[i].field);
        assert_non_null(s);
        s += strlen(blobs[i].field);
        size_t n = strcspn(s, "\n");
        unsigned char *dec = k1s_xmalloc(n);
        int dn = EVP_DecodeBlock(dec, (unsigned char *)s, (int)n);
        assert_true(dn > 0);
        while (dn > 0 && dec[dn - 1] == 0) /* EVP_DecodeBlock keeps padding bytes */
            dn--;
        char *p = path(dir, blobs[i].file);
        char *want = slurp(p);
        assert_int_equal((size_t)dn, strlen(want));
        assert_memory_equal(dec, want, strlen(want));
        free(want);
        free(p);
        free(dec);
    }
    free(y);
    free(kc);
    free(dir);
}

static void test_token(void **state)
{
    char *dir = tlsdir(state);
    const char *server_dir = *state;
    k1s_err_t err = {0};
    assert_int_equal(k1s_pki_ensure(dir, NULL, &err), 0);
    char hash[65];
    assert_int_equal(k1s_pki_ca_hash(dir, hash), 0);
    assert_int_equal(strlen(hash), 64);

    /* the hash is sha256 of the file bytes */
    char *p = path(dir, "server-ca.crt");
    char *ca;
    size_t calen;
    assert_int_equal(k1s_read_file(p, &ca, &calen), 0);
    unsigned char md[32];
    EVP_Digest(ca, calen, md, NULL, EVP_sha256(), NULL);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(hex, hash);
    free(ca);
    free(p);

    char *t1 = NULL;
    assert_int_equal(k1s_pki_ensure_token(server_dir, NULL, &t1, &err), 0);
    char *prefix = k1s_xasprintf("K10%s::server:", hash);
    assert_true(k1s_str_has_prefix(t1, prefix));
    const char *secret = t1 + strlen(prefix);
    assert_int_equal(strlen(secret), 32);
    assert_int_equal(strspn(secret, "0123456789abcdef"), 32);
    char *tp = path(server_dir, "token");
    assert_int_equal(mode_of(tp), 0600);
    char *file = slurp(tp);
    char *want = k1s_xasprintf("%s\n", t1);
    assert_string_equal(file, want);
    free(file);
    free(want);

    /* reused */
    char *t2 = NULL;
    assert_int_equal(k1s_pki_ensure_token(server_dir, NULL, &t2, &err), 0);
    assert_string_equal(t1, t2);
    free(t2);

    /* a full token of this cluster keeps working */
    assert_int_equal(k1s_pki_ensure_token(server_dir, t1, &t2, &err), 0);
    assert_string_equal(t1, t2);
    free(t2);

    /* a bare secret becomes the secret */
    assert_int_equal(k1s_pki_ensure_token(server_dir, "s3cret", &t2, &err), 0);
    char *exp = k1s_xasprintf("%ss3cret", prefix);
    assert_string_equal(t2, exp);
    free(t2);
    char *t3 = NULL;
    assert_int_equal(k1s_pki_ensure_token(server_dir, NULL, &t3, &err), 0);
    assert_string_equal(t3, exp);
    free(t3);
    free(exp);

    /* a token for another CA is refused */
    char *other = k1s_xasprintf("K10%064d::server:abc", 0);
    assert_int_equal(k1s_pki_ensure_token(server_dir, other, &t3, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "does not match"));
    free(other);
    assert_int_equal(k1s_pki_ensure_token(server_dir, "has space", &t3, &err), -EINVAL);

    free(prefix);
    free(tp);
    free(t1);
    free(dir);
}

static void test_issue(void **state)
{
    char *dir = tlsdir(state);
    k1s_err_t err = {0};
    assert_int_equal(k1s_pki_ensure(dir, NULL, &err), 0);
    char *crt, *key;
    const char *orgs[] = {"system:nodes", "k1s:agents", NULL};
    const char *sans[] = {"node-1", "10.0.0.5", NULL};
    assert_int_equal(k1s_pki_issue(dir, "client-ca", "system:node:node-1", orgs, sans, true, true,
                                   0, &crt, &key, &err),
                     0);
    BIO *b = BIO_new_mem_buf(crt, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    X509 *cca = load(dir, "client-ca.crt");
    assert_int_equal(X509_verify(x, X509_get0_pubkey(cca)), 1);
    char **o = k1s_tls_cert_orgs(x);
    assert_string_equal(o[0], "system:nodes");
    assert_string_equal(o[1], "k1s:agents");
    assert_null(o[2]);
    k1s_tls_strv_free(o);
    assert_true(has_san(x, GEN_DNS, "node-1"));
    assert_true(has_san(x, GEN_IPADD, "10.0.0.5"));
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
    assert_non_null(strstr(key, "PRIVATE KEY"));
    X509_free(x);
    X509_free(cca);
    free(crt);
    free(key);
    free(dir);
}

/* service.key: an RSA key made once, 0600, never replaced; a non-RSA key is refused */
static void test_service_key(void **state)
{
    char *dir = tlsdir(state);
    k1s_err_t err = {0};
    assert_int_equal(k1s_pki_ensure(dir, NULL, &err), 0);
    char *p = path(dir, "service.key");
    assert_int_equal(mode_of(p), 0600);
    char *before;
    assert_int_equal(k1s_read_file(p, &before, NULL), 0);
    FILE *f = fopen(p, "r");
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(k);
    assert_true(EVP_PKEY_is_a(k, "RSA"));
    assert_int_equal(EVP_PKEY_get_bits(k), 2048);
    EVP_PKEY_free(k);
    /* reused on the next start, even when the CAs are renewed */
    char *ca = path(dir, "server-ca.crt");
    unlink(ca);
    assert_int_equal(k1s_pki_ensure(dir, NULL, &err), 0);
    char *after;
    assert_int_equal(k1s_read_file(p, &after, NULL), 0);
    assert_string_equal(before, after);
    /* something else in its place is an error, not silently replaced */
    char *eckey = path(dir, "client-admin.key");
    char *ec;
    assert_int_equal(k1s_read_file(eckey, &ec, NULL), 0);
    assert_int_equal(k1s_write_file_atomic(p, ec, strlen(ec), 0600), 0);
    assert_int_equal(k1s_pki_ensure(dir, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "service.key"));
    free(ec);
    free(eckey);
    free(after);
    free(before);
    free(ca);
    free(p);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ensure_creates_and_reuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renews_expiring_and_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_san, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kubeconfig, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
