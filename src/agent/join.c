/*
 * Joining a server (see agent.h): pin the server CA against the token,
 * then get the node's client and serving certificates for keys made here.
 * Each step is one request on the loop (fetch.h); an unreachable server is
 * retried every 2 s with one log line, a refusal ends the agent with the
 * server's explanation.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent-int.h"
#include "lib/log.h"
#include "net/http.h"
#include "lib/util.h"

#define RENEW_DAYS 90
#define RETRY_S 2

enum { STEP_CA, STEP_CLIENT_CA, STEP_CLIENT_CERT, STEP_SERVING_CERT, STEP_DONE };

static char *agent_path(k1s_agent_t *a, const char *name)
{
    return k1s_xasprintf("%s/%s", a->dir, name);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    k1s_assert(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) == 1);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

int k1s_agent_ensure_key(k1s_agent_t *a, const char *name, k1s_err_t *err)
{
    _k1s_cleanup_free_ char *path = agent_path(a, name);
    EVP_PKEY *k = load_key(path);
    if (k) {
        EVP_PKEY_free(k);
        return 0;
    }
    k = EVP_EC_gen("P-256");
    k1s_assert(k);
    BIO *b = BIO_new(BIO_s_mem());
    k1s_assert(b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    int r = k1s_write_file_atomic(path, data, (size_t)n, 0600);
    OPENSSL_cleanse(data, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    if (r < 0)
        return k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
    return 0;
}

/* The public key of agent/<name> as PEM; new string, NULL if the key cannot be read. */
static char *public_pem(k1s_agent_t *a, const char *name)
{
    _k1s_cleanup_free_ char *path = agent_path(a, name);
    EVP_PKEY *k = load_key(path);
    if (!k)
        return NULL;
    BIO *b = BIO_new(BIO_s_mem());
    k1s_assert(b && PEM_write_bio_PUBKEY(b, k) == 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = k1s_xstrndup(data, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    return s;
}

/* Whether cert agent/<crt> is for key agent/<key> and good for RENEW_DAYS more days. */
static bool cert_fresh(k1s_agent_t *a, const char *crt, const char *key, X509 **out)
{
    _k1s_cleanup_free_ char *cp = agent_path(a, crt);
    _k1s_cleanup_free_ char *kp = agent_path(a, key);
    X509 *x = load_cert(cp);
    EVP_PKEY *k = load_key(kp);
    bool ok = x && k && X509_check_private_key(x, k) == 1;
    time_t limit = time(NULL) + (time_t)RENEW_DAYS * 86400;
    ok = ok && X509_cmp_time(X509_get0_notAfter(x), &limit) > 0;
    EVP_PKEY_free(k);
    ERR_clear_error();
    if (ok && out)
        *out = x;
    else
        X509_free(x);
    return ok;
}

bool k1s_agent_certs_usable(k1s_agent_t *a)
{
    _k1s_cleanup_free_ char *cap = agent_path(a, "server-ca.crt");
    char *ca;
    size_t calen;
    if (k1s_read_file(cap, &ca, &calen) < 0)
        return false;
    char h[65];
    sha256_hex(ca, calen, h);
    free(ca);
    if (a->ca_hash[0] && strcmp(h, a->ca_hash)) {
        k1s_info("the token's CA hash does not match agent/server-ca.crt: joining again");
        return false;
    }
    _k1s_cleanup_free_ char *ccap = agent_path(a, "client-ca.crt");
    if (access(ccap, R_OK) < 0)
        return false;
    X509 *client = NULL, *serving = NULL;
    if (!cert_fresh(a, "client-kubelet.crt", "client-kubelet.key", &client))
        return false;
    bool ok = cert_fresh(a, "serving-kubelet.crt", "serving-kubelet.key", &serving);
    /* made for this node name and IP? */
    if (ok) {
        X509_NAME *sn = X509_get_subject_name(client);
        char cn[300] = "";
        X509_NAME_get_text_by_NID(sn, NID_commonName, cn, sizeof(cn));
        char *want = k1s_xasprintf("system:node:%s", a->node);
        ok = !strcmp(cn, want);
        free(want);
    }
    ok = ok && X509_check_host(serving, a->node, 0, 0, NULL) == 1 &&
         X509_check_ip_asc(serving, a->node_ip, 0) == 1;
    ERR_clear_error();
    X509_free(client);
    X509_free(serving);
    return ok;
}

static void renew_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_agent_t *a = arg;
    k1s_info("the node certificates expire within %d days: renewing them", RENEW_DAYS);
    k1s_agent_join_start(a);
}

void k1s_agent_schedule_renewal(k1s_agent_t *a)
{
    _k1s_cleanup_free_ char *cp = agent_path(a, "client-kubelet.crt");
    X509 *x = load_cert(cp);
    if (!x)
        return;
    int days = 0, secs = 0;
    /* from now to notAfter, minus the renewal window */
    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
    X509_free(x);
    long long left = (long long)days * 86400 + secs - (long long)RENEW_DAYS * 86400;
    if (left < 60)
        left = 60;
    if (!a->renew)
        a->renew = evtimer_new(a->base, renew_cb, a);
    struct timeval tv = {(time_t)left, 0};
    evtimer_add(a->renew, &tv);
}

static void join_step(k1s_agent_t *a);

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    join_step(arg);
}

static void retry_later(k1s_agent_t *a, const char *msg)
{
    if (!a->join_err || strcmp(a->join_err, msg)) {
        k1s_warn("cannot reach server %s: %s; retrying every %d s", a->url, msg, RETRY_S);
        free(a->join_err);
        a->join_err = k1s_xstrdup(msg);
    }
    struct timeval tv = {RETRY_S, 0};
    evtimer_add(a->join_retry, &tv);
}

static int save(k1s_agent_t *a, const char *name, const char *data, size_t len)
{
    _k1s_cleanup_free_ char *path = agent_path(a, name);
    int r = k1s_write_file_atomic(path, data, len, 0644);
    if (r < 0)
        k1s_agent_fail(a, 1, "k1s: cannot write %s: %s", path, strerror(-r));
    return r;
}

/* Trims the server's plain-text message for quoting. */
static char *message_of(const char *body, size_t len)
{
    const char *b = body;
    if (!strncmp(b, "k1s: ", 5))
        b += 5;
    size_t n = strnlen(b, len);
    while (n && (b[n - 1] == '\n' || b[n - 1] == ' '))
        n--;
    return k1s_xstrndup(b, n);
}

static void fetched(int err, int status, const char *body, size_t len, const char *msg, void *arg)
{
    k1s_agent_t *a = arg;
    a->fetch = NULL;
    static const char *const steps[] = {"/cacerts", "/v1-k1s/client-ca.crt",
                                        "/v1-k1s/client-kubelet.crt",
                                        "/v1-k1s/serving-kubelet.crt"};
    k1s_debug("join: %s: %s", steps[a->join_step], err < 0 ? msg : k1s_http_reason(status));
    if (err < 0) {
        retry_later(a, msg);
        return;
    }
    if (a->join_err) {
        k1s_info("reached server %s", a->url);
        free(a->join_err);
        a->join_err = NULL;
    }
    if (status == 401 || status == 403 || status == 400) {
        char *m = message_of(body, len);
        if (status == 401)
            k1s_agent_fail(a, 1,
                           "k1s: join %s refused: %s (401 Unauthorized; check --token or "
                           "K1S_TOKEN)",
                           a->url, m);
        else
            k1s_agent_fail(a, 1, "k1s: join %s refused: %s (%d)", a->url, m, status);
        free(m);
        return;
    }
    if (status != 200) {
        char *m = message_of(body, len);
        char *why = k1s_xasprintf("the server answered %d: %s", status, m);
        retry_later(a, why);
        free(why);
        free(m);
        return;
    }
    switch (a->join_step) {
    case STEP_CA: {
        char h[65];
        sha256_hex(body, len, h);
        if (a->ca_hash[0] && strcmp(h, a->ca_hash)) {
            k1s_agent_fail(a, 1,
                           "k1s: the server %s presents a CA with hash %.16s..., but the token "
                           "expects %.16s...: the token belongs to another cluster (or something "
                           "between this machine and the server is intercepting TLS); refusing "
                           "to join",
                           a->url, h, a->ca_hash);
            return;
        }
        if (!strstr(body, "-----BEGIN CERTIFICATE-----")) {
            k1s_agent_fail(a, 1, "k1s: %s/cacerts holds no certificate: is this a k1s server?",
                           a->url);
            return;
        }
        free(a->ca_pem);
        a->ca_pem = k1s_xstrndup(body, len);
        if (save(a, "server-ca.crt", body, len) < 0)
            return;
        break;
    }
    case STEP_CLIENT_CA:
        if (save(a, "client-ca.crt", body, len) < 0)
            return;
        break;
    case STEP_CLIENT_CERT:
        if (save(a, "client-kubelet.crt", body, len) < 0)
            return;
        break;
    case STEP_SERVING_CERT:
        if (save(a, "serving-kubelet.crt", body, len) < 0)
            return;
        break;
    }
    a->join_step++;
    join_step(a);
}

static void join_step(k1s_agent_t *a)
{
    if (a->join_step == STEP_DONE) {
        k1s_info("joined server %s as node %s", a->url, a->node);
        k1s_agent_schedule_renewal(a);
        k1s_agent_connect(a);
        return;
    }
    char *why = NULL;
    if (k1s_agent_resolve(a, &why) < 0) {
        retry_later(a, why);
        free(why);
        return;
    }
    char basic[600];
    {
        char *cred = k1s_xasprintf("node:%s", a->secret);
        unsigned char enc[600];
        size_t cl = strlen(cred);
        k1s_assert(cl < 400);
        EVP_EncodeBlock(enc, (const unsigned char *)cred, (int)cl);
        snprintf(basic, sizeof(basic), "Basic %s", enc);
        OPENSSL_cleanse(cred, cl);
        free(cred);
    }
    const char *headers[] = {
        "Authorization", basic,         "k1s-Node-Name", a->node, "k1s-Node-Password",
        a->password,     "k1s-Node-IP", a->node_ip,      NULL};
    k1s_fetch_req_t req = {
        .addr = a->addr, .port = a->port, .method = "GET", .ca_pem = a->ca_pem, .headers = headers};
    char *pub = NULL;
    switch (a->join_step) {
    case STEP_CA:
        req.target = "/cacerts";
        req.ca_pem = NULL; /* not trusted yet: checked against the token's hash */
        req.headers = NULL;
        break;
    case STEP_CLIENT_CA: req.target = "/v1-k1s/client-ca.crt"; break;
    case STEP_CLIENT_CERT:
    case STEP_SERVING_CERT: {
        bool client = a->join_step == STEP_CLIENT_CERT;
        req.method = "POST";
        req.target = client ? "/v1-k1s/client-kubelet.crt" : "/v1-k1s/serving-kubelet.crt";
        pub = public_pem(a, client ? "client-kubelet.key" : "serving-kubelet.key");
        if (!pub) {
            k1s_agent_fail(a, 1, "k1s: cannot read the node key in %s", a->dir);
            return;
        }
        req.body = pub;
        req.body_len = strlen(pub);
        break;
    }
    }
    a->fetch = k1s_fetch(a->base, &req, fetched, a);
    OPENSSL_cleanse(basic, sizeof(basic));
    free(pub);
}

void k1s_agent_join_start(k1s_agent_t *a)
{
    if (!a->join_retry)
        a->join_retry = evtimer_new(a->base, retry_cb, a);
    k1s_fetch_cancel(a->fetch);
    a->fetch = NULL;
    a->join_step = STEP_CA;
    join_step(a);
}
