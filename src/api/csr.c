/*
 * CertificateSigningRequests; see csr.h. The certificate an approved request
 * gets is what kube-controller-manager's csrsigning controller issues with
 * its permissive policy: the request's subject, public key and
 * subjectAltNames, key usages and extended key usages from spec.usages,
 * CA:FALSE, valid from 5 minutes back (less for short lifetimes) for
 * spec.expirationSeconds (default and maximum one year), never past the
 * CA's own end, signed with SHA-256 by the client CA, or for kubelet serving
 * certificates by the server CA (as k3s does).
 */
#include "api/csr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "api/authz.h"
#include "api/jwt.h"
#include "api/table.h"
#include "api/validate-int.h"
#include "lib/log.h"

#define SIGNER_CLIENT "kubernetes.io/kube-apiserver-client"
#define SIGNER_KUBELET "kubernetes.io/kube-apiserver-client-kubelet"
#define SIGNER_SERVING "kubernetes.io/kubelet-serving"
#define MAX_DURATION_S (365LL * 24 * 3600) /* --cluster-signing-duration 8760h */
#define BACKDATE_S 300
#define SHORT_S (8 * 3600)

/* The signing CAs, as k3s configures kube-controller-manager: the client CA for the client
 * signers, the server CA for kubelet serving certificates. */
enum { CA_CLIENT, CA_SERVER };

struct k1s_csr {
    X509 *ca[2];
    EVP_PKEY *ca_key[2];
    k1s_store_watch_t *watch;
};

/* Usage names, their OpenSSL keyUsage / extendedKeyUsage names (pkg/apis/certificates). */
static const struct {
    const char *usage, *key, *ext;
} usages_map[] = {
    {"signing", "digitalSignature", NULL},
    {"digital signature", "digitalSignature", NULL},
    {"content commitment", "nonRepudiation", NULL},
    {"key encipherment", "keyEncipherment", NULL},
    {"key agreement", "keyAgreement", NULL},
    {"data encipherment", "dataEncipherment", NULL},
    {"cert sign", "keyCertSign", NULL},
    {"crl sign", "cRLSign", NULL},
    {"encipher only", "encipherOnly", NULL},
    {"decipher only", "decipherOnly", NULL},
    {"any", NULL, "anyExtendedKeyUsage"},
    {"server auth", NULL, "serverAuth"},
    {"client auth", NULL, "clientAuth"},
    {"code signing", NULL, "codeSigning"},
    {"email protection", NULL, "emailProtection"},
    {"s/mime", NULL, "emailProtection"},
    {"ipsec end system", NULL, "ipsecEndSystem"},
    {"ipsec tunnel", NULL, "ipsecTunnel"},
    {"ipsec user", NULL, "ipsecUser"},
    {"timestamping", NULL, "timeStamping"},
    {"ocsp signing", NULL, "OCSPSigning"},
    {"microsoft sgc", NULL, "msSGC"},
    {"netscape sgc", NULL, "nsSGC"},
};

/* ---------- lifecycle ---------- */

static void *read_pem(const char *path, bool key)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    void *out = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
                    : (void *)PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    return out;
}

static void free_csr(k1s_csr_t *c)
{
    for (int i = 0; i < 2; i++) {
        X509_free(c->ca[i]);
        EVP_PKEY_free(c->ca_key[i]);
    }
    free(c);
}

int k1s_csr_init(k1s_apiserver_t *api, const char *tls_dir, k1s_err_t *err)
{
    static const char *const names[2] = {"client-ca", "server-ca"};
    k1s_csr_t *c = k1s_xcalloc(1, sizeof(*c));
    for (int i = 0; i < 2; i++) {
        char *cp = k1s_xasprintf("%s/%s.crt", tls_dir, names[i]);
        char *kp = k1s_xasprintf("%s/%s.key", tls_dir, names[i]);
        c->ca[i] = read_pem(cp, false);
        c->ca_key[i] = read_pem(kp, true);
        bool ok = c->ca[i] && c->ca_key[i] && X509_check_private_key(c->ca[i], c->ca_key[i]) == 1;
        ERR_clear_error();
        if (!ok)
            k1s_err_set(err, EINVAL, "cannot load a CA from %s and %s", cp, kp);
        free(cp);
        free(kp);
        if (!ok) {
            free_csr(c);
            return -EINVAL;
        }
    }
    api->csr = c;
    return 0;
}

void k1s_csr_free(k1s_apiserver_t *api)
{
    k1s_csr_t *c = api->csr;
    if (!c)
        return;
    k1s_store_unwatch(c->watch);
    free_csr(c);
    api->csr = NULL;
}

/* ---------- PEM request parsing ---------- */

/* Standard base64 (as JSON []byte) → bytes; 0 or -EINVAL. */
static int b64_decode(const char *s, unsigned char **out, size_t *len)
{
    char *u = k1s_xstrdup(s);
    for (char *p = u; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    int r = k1s_b64url_decode(u, strlen(u), out, len);
    free(u);
    return r;
}

static char *b64_encode(const char *data, size_t len)
{
    char *s = k1s_b64url_encode(data, len);
    size_t n = strlen(s);
    s = k1s_xrealloc(s, n + 3);
    for (char *p = s; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    while (n % 4)
        s[n++] = '=';
    s[n] = 0;
    return s;
}

/* Parses spec.request; NULL with *why set to Go's error text. */
static X509_REQ *parse_request(const json_t *obj, unsigned char **raw, size_t *rawlen,
                               const char **why)
{
    const char *b64 = jstr0(jobj(obj, "spec"), "request");
    *raw = NULL;
    *rawlen = 0;
    if (b64_decode(b64, raw, rawlen) < 0) {
        *why = "PEM block type must be CERTIFICATE REQUEST";
        return NULL;
    }
    BIO *b = BIO_new_mem_buf(*raw, (int)*rawlen);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long dlen = 0;
    X509_REQ *req = NULL;
    *why = "PEM block type must be CERTIFICATE REQUEST";
    if (PEM_read_bio(b, &name, &header, &der, &dlen) == 1 && !strcmp(name, "CERTIFICATE REQUEST")) {
        const unsigned char *p = der;
        req = d2i_X509_REQ(NULL, &p, dlen);
        if (!req)
            *why = "asn1: structure error: the certificate request does not parse";
        else if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) {
            X509_REQ_free(req);
            req = NULL;
            *why = "x509: invalid signature on the certificate request";
        }
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(b);
    ERR_clear_error();
    return req;
}

/* ---------- strategy ---------- */

static bool is_csr(const k1s_api_req_t *r)
{
    return r->res && !strcmp(r->res->group, "certificates.k8s.io") &&
           !strcmp(r->res->plural, "certificatesigningrequests");
}

static const json_t *find_cond(const json_t *conds, const char *type, const char *status)
{
    size_t i;
    const json_t *c;
    json_array_foreach(conds, i, c)
    {
        if (k1s_streq(jstr0(c, "type"), type) && (!status || k1s_streq(jstr0(c, "status"), status)))
            return c;
    }
    return NULL;
}

/* populateConditionTimestamps: unset times become now, or the old transition time. */
static void condition_times(json_t *obj, const json_t *old)
{
    char now[32];
    k1s_time_rfc3339(now);
    const json_t *oconds = jarr(jobj(old, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
    {
        if (!json_is_object(c))
            continue;
        if (!json_is_string(json_object_get(c, "lastUpdateTime")))
            json_object_set_new(c, "lastUpdateTime", json_string(now));
        if (!json_is_string(json_object_get(c, "lastTransitionTime"))) {
            const json_t *oc = find_cond(oconds, jstr0(c, "type"), jstr0(c, "status"));
            const json_t *ot = oc ? json_object_get(oc, "lastTransitionTime") : NULL;
            json_object_set_new(c, "lastTransitionTime",
                                json_is_string(ot) ? json_incref((json_t *)ot) : json_string(now));
        }
    }
}

static json_t *ensure_obj(json_t *o, const char *key)
{
    json_t *c = json_object_get(o, key);
    if (!json_is_object(c)) {
        c = json_object();
        json_object_set_new(o, key, c);
    }
    return c;
}

void k1s_csr_prepare(k1s_api_req_t *r, json_t *obj, const json_t *old)
{
    if (!is_csr(r))
        return;
    if (!old) {
        /* the requester, never what the body claims */
        json_t *spec = ensure_obj(obj, "spec");
        json_object_del(spec, "username");
        json_object_del(spec, "uid");
        json_object_del(spec, "groups");
        json_object_del(spec, "extra");
        if (r->user)
            json_object_set_new(spec, "username", json_string(r->user));
        if (r->uid && *r->uid)
            json_object_set_new(spec, "uid", json_string(r->uid));
        json_t *groups = json_array();
        bool authenticated = false;
        for (size_t i = 0; r->groups && r->groups[i]; i++) {
            json_array_append_new(groups, json_string(r->groups[i]));
            authenticated |= !strcmp(r->groups[i], "system:authenticated");
        }
        if (r->user && !authenticated)
            json_array_append_new(groups, json_string("system:authenticated"));
        json_object_set_new(spec, "groups", groups);
        if (json_object_size(r->extra) > 0)
            json_object_set(spec, "extra", r->extra);
        json_object_set_new(obj, "status", json_object());
        return;
    }
    json_t *ospec = json_object_get(old, "spec");
    if (ospec)
        json_object_set_new(obj, "spec", json_deep_copy(ospec));
    const json_t *ostatus = json_object_get(old, "status");
    if (r->sub && !strcmp(r->sub, "approval")) {
        json_t *conds = json_incref(json_object_get(json_object_get(obj, "status"), "conditions"));
        json_object_set_new(obj, "status", ostatus ? json_deep_copy(ostatus) : json_object());
        if (conds)
            json_object_set_new(json_object_get(obj, "status"), "conditions", conds);
        else
            json_object_del(json_object_get(obj, "status"), "conditions");
        condition_times(obj, old);
    } else if (r->sub && !strcmp(r->sub, "status")) {
        /* preserveConditionInstances: Approved and Denied belong to the approval subresource */
        json_t *status = ensure_obj(obj, "status");
        json_t *conds = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(status, "conditions"), i, c)
        {
            const char *t = jstr0(c, "type");
            if (strcmp(t, "Approved") && strcmp(t, "Denied"))
                json_array_append(conds, c);
        }
        json_array_foreach(jarr(ostatus, "conditions"), i, c)
        {
            const char *t = jstr0(c, "type");
            if (!strcmp(t, "Approved") || !strcmp(t, "Denied"))
                json_array_append(conds, c);
        }
        json_object_set_new(status, "conditions", conds);
        condition_times(obj, old);
    } else {
        json_object_set_new(obj, "status", ostatus ? json_deep_copy(ostatus) : json_object());
    }
}

/* ---------- validation (pkg/apis/certificates/validation) ---------- */

static void go_bytes(k1s_buf_t *b, const unsigned char *p, size_t n)
{
    k1s_buf_puts(b, "[]byte{");
    for (size_t i = 0; i < n; i++)
        k1s_buf_printf(b, i ? ", 0x%x" : "0x%x", p[i]);
    k1s_buf_puts(b, "}");
}

static bool valid_signer_name(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1])
        return false;
    char domain[256];
    snprintf(domain, sizeof(domain), "%.*s", (int)(slash - s), s);
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    if (!strchr(domain, '.') || k1s_is_dns1123_subdomain(domain, msgs) > 0)
        return false;
    /* the path part: a qualified name's characters */
    for (const char *p = slash + 1; *p; p++)
        if (!(is_alnum_lower(*p) || (*p >= 'A' && *p <= 'Z') || strchr("-_./", *p)))
            return false;
    return strlen(s) <= 571;
}

static void check_conditions(vctx_t *v, const json_t *status, const json_t *old)
{
    size_t m = push(v, "status");
    const json_t *conds = jarr(status, "conditions");
    bool approved = false, denied = false;
    const json_t *c;
    size_t i;
    size_t mc = push(v, "conditions");
    json_array_foreach(conds, i, c)
    {
        size_t mi = push_idx(v, i);
        const char *t = jstr0(c, "type");
        const char *st = jstr0(c, "status");
        if (!*t)
            add(v, "type", E_REQUIRED, NULL, NULL);
        static const char *const statuses[] = {"False", "True", "Unknown"};
        static const char *const only_true[] = {"True"};
        bool approval = !strcmp(t, "Approved") || !strcmp(t, "Denied");
        if (!*st)
            add(v, "status", E_REQUIRED, NULL, NULL);
        else if (approval && strcmp(st, "True"))
            NOTSUPP(v, "status", st, only_true);
        else if (!IN(st, statuses))
            NOTSUPP(v, "status", st, statuses);
        for (size_t k = 0; k < i; k++)
            if (*t && !strcmp(jstr0(json_array_get(conds, k), "type"), t) &&
                (approval || !strcmp(t, "Failed")))
                add_s(v, "type", E_DUPLICATE, t, NULL);
        approved |= !strcmp(t, "Approved");
        denied |= !strcmp(t, "Denied");
        pop(v, mi);
    }
    pop(v, mc);
    if (approved && denied) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "[]certificates.CertificateSigningRequestCondition{...}");
        add(v, "conditions", E_INVALID, b.data,
            "Approved and Denied conditions are mutually exclusive");
        k1s_buf_free(&b);
    }
    if (old) {
        const json_t *oconds = jarr(jobj(old, "status"), "conditions");
        static const char *const kept[] = {"Approved", "Denied"};
        for (size_t k = 0; k < 2; k++)
            if (find_cond(oconds, kept[k], NULL) && !find_cond(conds, kept[k], NULL))
                add_f(v, "conditions", E_FORBIDDEN, NULL,
                      "updates may not remove a condition of type \"%s\"", kept[k]);
        const char *ocert = jstr0(jobj(old, "status"), "certificate");
        const char *cert = jstr0(status, "certificate");
        if (*ocert && strcmp(ocert, cert))
            add(v, "certificate", E_FORBIDDEN, NULL,
                "updates may not modify existing certificate content");
    }
    pop(v, m);
}

void k1s_v_check_csr(vctx_t *v, const k1s_resource_t *r, const json_t *obj, const json_t *old)
{
    if (old)
        k1s_v_meta_update(v, r, obj, old);
    else
        k1s_v_meta_create(v, r, obj);
    const json_t *spec = jobj(obj, "spec");
    size_t m = push(v, "spec");
    unsigned char *raw;
    size_t rawlen;
    const char *why;
    X509_REQ *req = parse_request(obj, &raw, &rawlen, &why);
    if (!req) {
        k1s_buf_t b = K1S_BUF_INIT;
        if (rawlen)
            go_bytes(&b, raw, rawlen);
        else
            k1s_buf_puts(&b, "[]byte(nil)");
        add(v, "request", E_INVALID, b.data, why);
        k1s_buf_free(&b);
    }
    X509_REQ_free(req);
    free(raw);
    const json_t *us = jarr(spec, "usages");
    if (json_array_size(us) == 0)
        add(v, "usages", E_REQUIRED, NULL, NULL);
    size_t mu = push(v, "usages");
    const json_t *u;
    size_t i;
    json_array_foreach(us, i, u)
    {
        const char *s = json_string_value(u);
        bool known = false;
        for (size_t k = 0; s && k < K1S_ARRAY_SIZE(usages_map); k++)
            known |= !strcmp(s, usages_map[k].usage);
        size_t mi = push_idx(v, i);
        if (!known) {
            static const char *const sorted[] = {"any",
                                                 "cert sign",
                                                 "client auth",
                                                 "code signing",
                                                 "content commitment",
                                                 "crl sign",
                                                 "data encipherment",
                                                 "decipher only",
                                                 "digital signature",
                                                 "email protection",
                                                 "encipher only",
                                                 "ipsec end system",
                                                 "ipsec tunnel",
                                                 "ipsec user",
                                                 "key agreement",
                                                 "key encipherment",
                                                 "microsoft sgc",
                                                 "netscape sgc",
                                                 "ocsp signing",
                                                 "s/mime",
                                                 "server auth",
                                                 "signing",
                                                 "timestamping"};
            NOTSUPP(v, NULL, s ? s : "", sorted);
        }
        for (size_t k = 0; s && k < i; k++)
            if (k1s_streq(json_string_value(json_array_get(us, k)), s))
                add_s(v, NULL, E_DUPLICATE, s, NULL);
        pop(v, mi);
    }
    pop(v, mu);
    const char *signer = jstr0(spec, "signerName");
    if (!*signer)
        add(v, "signerName", E_REQUIRED, NULL, NULL);
    else if (!strcmp(signer, "kubernetes.io/legacy-unknown"))
        add_s(v, "signerName", E_INVALID, signer,
              "the legacy signerName is not allowed via this API version");
    else if (!valid_signer_name(signer))
        add_s(v, "signerName", E_INVALID, signer,
              "must be a fully qualified domain and path of the form 'example.com/signer-name'");
    long long es;
    if (jint(spec, "expirationSeconds", &es) && es < 600)
        add_i(v, "expirationSeconds", E_INVALID, es,
              "may not specify a duration less than 600 seconds (10 minutes)");
    pop(v, m);
    check_conditions(v, jobj(obj, "status"), old);
}

/* ---------- admission: CertificateApproval, CertificateSigning, CertificateSubjectRestriction */

/* IsAuthorizedForSignerName: verb on certificates.k8s.io signers/<signer>, or the domain wildcard.
 */
static bool authorized_for_signer(k1s_api_req_t *r, const char *verb, const char *signer)
{
    if (!r->api->authz)
        return true;
    char *const *groups = r->authz && r->authz->groups ? r->authz->groups : r->groups;
    k1s_authz_attrs_t a = {.user = r->user ? r->user : "",
                           .groups = groups,
                           .verb = verb,
                           .resource_request = true,
                           .group = "certificates.k8s.io",
                           .version = "*",
                           .resource = "signers",
                           .sub = "",
                           .ns = "",
                           .name = signer,
                           .path = ""};
    char reason[384];
    if (k1s_authz_decide(r->api->authz, &a, reason, sizeof(reason)))
        return true;
    char wildcard[300];
    snprintf(wildcard, sizeof(wildcard), "%.*s/*", (int)strcspn(signer, "/"), signer);
    a.name = wildcard;
    return k1s_authz_decide(r->api->authz, &a, reason, sizeof(reason));
}

int k1s_csr_admit_approval(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    if (!is_csr(r) || !k1s_streq(r->sub, "approval") || !r->obj)
        return 0;
    /* the new object's signer: changing it through approval is refused by validation */
    const char *signer = jstr0(jobj(r->obj, "spec"), "signerName");
    if (!authorized_for_signer(r, "approve", signer))
        return k1s_admit_denyf(
            deny, "user not permitted to approve requests with signerName \"%s\"", signer);
    return 0;
}

int k1s_csr_admit_signing(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    if (!is_csr(r) || !k1s_streq(r->sub, "status") || !r->obj || !r->old)
        return 0;
    if (!strcmp(jstr0(jobj(r->obj, "status"), "certificate"),
                jstr0(jobj(r->old, "status"), "certificate")))
        return 0;
    const char *signer = jstr0(jobj(r->old, "spec"), "signerName");
    if (!authorized_for_signer(r, "sign", signer))
        return k1s_admit_denyf(deny, "user not permitted to sign requests with signerName \"%s\"",
                               signer);
    return 0;
}

int k1s_csr_admit_subject(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    if (!is_csr(r) || r->sub || r->old || !r->obj ||
        strcmp(jstr0(jobj(r->obj, "spec"), "signerName"), SIGNER_CLIENT))
        return 0;
    unsigned char *raw;
    size_t rawlen;
    const char *why;
    X509_REQ *req = parse_request(r->obj, &raw, &rawlen, &why);
    free(raw);
    if (!req)
        return k1s_admit_denyf(deny, "failed to parse CSR: %s", why);
    X509_NAME *n = X509_REQ_get_subject_name(req);
    bool masters = false;
    for (int i = -1; (i = X509_NAME_get_index_by_NID(n, NID_organizationName, i)) >= 0;) {
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
        masters |=
            ASN1_STRING_length(v) == 14 && !memcmp(ASN1_STRING_get0_data(v), "system:masters", 14);
    }
    X509_REQ_free(req);
    if (masters)
        return k1s_admit_denyf(deny, "use of %s signer with system:masters group is not allowed",
                               SIGNER_CLIENT);
    return 0;
}

/* ---------- signing ---------- */

/* The kubelet client signer's checks (ValidateKubeletClientCSR); NULL if fine. */
static const char *kubelet_client_problem(X509_REQ *req, const json_t *usages)
{
    X509_NAME *n = X509_REQ_get_subject_name(req);
    int orgs = 0, found = -1;
    char buf[256];
    while ((found = X509_NAME_get_index_by_NID(n, NID_organizationName, found)) >= 0)
        orgs++;
    if (orgs != 1 || X509_NAME_get_text_by_NID(n, NID_organizationName, buf, sizeof(buf)) < 0 ||
        strcmp(buf, "system:nodes"))
        return "subject organization is not system:nodes";
    if (X509_NAME_get_text_by_NID(n, NID_commonName, buf, sizeof(buf)) < 0 ||
        strncmp(buf, "system:node:", 12))
        return "subject common name does not begin with system:node:";
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *sans = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
    const char *why = NULL;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !why; i++) {
        int t = sk_GENERAL_NAME_value(sans, i)->type;
        why = t == GEN_DNS     ? "DNS subjectAltNames are not allowed"
              : t == GEN_EMAIL ? "Email subjectAltNames are not allowed"
              : t == GEN_IPADD ? "IP subjectAltNames are not allowed"
              : t == GEN_URI   ? "URI subjectAltNames are not allowed"
                               : NULL;
    }
    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (why)
        return why;
    bool ds = false, ke = false, ca = false, other = false;
    size_t i;
    const json_t *u;
    json_array_foreach(usages, i, u)
    {
        const char *s = json_string_value(u);
        if (k1s_streq(s, "digital signature"))
            ds = true;
        else if (k1s_streq(s, "key encipherment"))
            ke = true;
        else if (k1s_streq(s, "client auth"))
            ca = true;
        else
            other = true;
    }
    (void)ke;
    if (!ds || !ca || other)
        return "usages did not match [client auth digital signature key encipherment]";
    return NULL;
}

/* The kubelet serving signer's checks (ValidateKubeletServingCSR); NULL if fine. */
static const char *kubelet_serving_problem(X509_REQ *req, const json_t *usages)
{
    X509_NAME *n = X509_REQ_get_subject_name(req);
    int orgs = 0, found = -1;
    char buf[256];
    while ((found = X509_NAME_get_index_by_NID(n, NID_organizationName, found)) >= 0)
        orgs++;
    if (orgs != 1 || X509_NAME_get_text_by_NID(n, NID_organizationName, buf, sizeof(buf)) < 0 ||
        strcmp(buf, "system:nodes"))
        return "subject organization is not system:nodes";
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *sans = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
    const char *why = NULL;
    bool dns_or_ip = false;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !why; i++) {
        int t = sk_GENERAL_NAME_value(sans, i)->type;
        dns_or_ip |= t == GEN_DNS || t == GEN_IPADD;
        why = t == GEN_EMAIL ? "Email subjectAltNames are not allowed"
              : t == GEN_URI ? "URI subjectAltNames are not allowed"
                             : NULL;
    }
    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (!why && !dns_or_ip)
        why = "DNS or IP subjectAltName is required";
    if (why)
        return why;
    bool ds = false, sa = false, other = false;
    size_t i;
    const json_t *u;
    json_array_foreach(usages, i, u)
    {
        const char *s = json_string_value(u);
        if (k1s_streq(s, "digital signature"))
            ds = true;
        else if (k1s_streq(s, "server auth"))
            sa = true;
        else if (!k1s_streq(s, "key encipherment"))
            other = true;
    }
    if (!ds || !sa || other)
        return "usages did not match [digital signature key encipherment server auth]";
    if (X509_NAME_get_text_by_NID(n, NID_commonName, buf, sizeof(buf)) < 0 ||
        strncmp(buf, "system:node:", 12))
        return "subject common name does not begin with system:node:";
    return NULL;
}

/* validAPIServerClientUsages; NULL if fine, else a message (static or in buf). */
static const char *client_usage_problem(const json_t *usages, char *buf, size_t len)
{
    bool ca = false;
    size_t i;
    const json_t *u;
    json_array_foreach(usages, i, u)
    {
        const char *s = json_string_value(u);
        if (k1s_streq(s, "client auth"))
            ca = true;
        else if (!k1s_streq(s, "digital signature") && !k1s_streq(s, "key encipherment")) {
            snprintf(buf, len, "invalid usage for client certificate: %s", s ? s : "");
            return buf;
        }
    }
    return ca ? NULL : "missing required usage for client certificate: client auth";
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    if (!e)
        return -1;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok == 1 ? 0 : -1;
}

/* Issues the certificate for req from ca/ca_key; a new PEM string, or NULL. */
static char *issue(X509 *ca, EVP_PKEY *ca_key, X509_REQ *req, const json_t *usages, long long ttl)
{
    X509 *x = X509_new();
    BIGNUM *bn = BN_new();
    k1s_assert(x && bn);
    time_t now = time(NULL);
    long long back = ttl < SHORT_S ? BACKDATE_S * ttl / SHORT_S : BACKDATE_S;
    time_t nb = now - (time_t)back, na = now + (time_t)ttl;
    /* never past the CA's end */
    time_t ca_end = na;
    if (X509_cmp_time(X509_get0_notAfter(ca), &ca_end) < 0) {
        struct tm tm;
        if (ASN1_TIME_to_tm(X509_get0_notAfter(ca), &tm) == 1)
            na = timegm(&tm);
    }
    bool ok = X509_set_version(x, 2) == 1 &&
              BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
              BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
              X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &nb) != NULL &&
              X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &na) != NULL &&
              X509_set_subject_name(x, X509_REQ_get_subject_name(req)) == 1 &&
              X509_set_issuer_name(x, X509_get_subject_name(ca)) == 1 &&
              X509_set_pubkey(x, X509_REQ_get0_pubkey(req)) == 1;
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    k1s_buf_t ku = K1S_BUF_INIT, eku = K1S_BUF_INIT;
    size_t i;
    const json_t *u;
    json_array_foreach(usages, i, u)
    {
        for (size_t k = 0; k < K1S_ARRAY_SIZE(usages_map); k++) {
            if (!k1s_streq(json_string_value(u), usages_map[k].usage))
                continue;
            k1s_buf_t *b = usages_map[k].key ? &ku : &eku;
            const char *name = usages_map[k].key ? usages_map[k].key : usages_map[k].ext;
            if (b->len && strstr(b->data, name))
                continue;
            k1s_buf_printf(b, "%s%s", b->len ? "," : "", name);
        }
    }
    if (ku.len) {
        char *v = k1s_xasprintf("critical,%s", ku.data);
        ok = ok && add_ext(x, &ctx, NID_key_usage, v) == 0;
        free(v);
    }
    if (eku.len)
        ok = ok && add_ext(x, &ctx, NID_ext_key_usage, eku.data) == 0;
    k1s_buf_free(&ku);
    k1s_buf_free(&eku);
    ok = ok && add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") == 0;
    if (ok && X509_get_ext_by_NID(ca, NID_subject_key_identifier, -1) >= 0)
        ok = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") == 0;
    /* subjectAltNames of the request */
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    int idx = exts ? X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1) : -1;
    if (ok && idx >= 0)
        ok = X509_add_ext(x, X509v3_get_ext(exts, idx), -1) == 1;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ok = ok && X509_sign(x, ca_key, EVP_sha256()) > 0;
    BN_free(bn);
    char *pem = NULL;
    if (ok) {
        BIO *b = BIO_new(BIO_s_mem());
        k1s_assert(b && PEM_write_bio_X509(b, x) == 1);
        char *data;
        long n = BIO_get_mem_data(b, &data);
        pem = k1s_xstrndup(data, (size_t)n);
        BIO_free(b);
    }
    ERR_clear_error();
    X509_free(x);
    return pem;
}

static void sign_done(int err, k1s_kv_t *kv, void *arg)
{
    if (err < 0)
        k1s_warn("storing a signed certificate failed: %s", strerror(-err));
}

/* Signs (or fails) one stored request if it is approved and ours; queues the status write. */
static void handle_csr(k1s_apiserver_t *api, k1s_kv_t *kv)
{
    json_t *o = k1s_obj_decode(kv->value);
    json_t *status = ensure_obj(o, "status");
    const json_t *conds = json_object_get(status, "conditions");
    const char *signer = k1s_obj_str(o, "spec.signerName");
    bool client = k1s_streq(signer, SIGNER_CLIENT), kubelet = k1s_streq(signer, SIGNER_KUBELET);
    bool serving = k1s_streq(signer, SIGNER_SERVING);
    if (!find_cond(conds, "Approved", NULL) || find_cond(conds, "Denied", NULL) ||
        find_cond(conds, "Failed", "True") || *jstr0(status, "certificate") ||
        !(client || kubelet || serving) || k1s_obj_str(o, "metadata.deletionTimestamp")) {
        json_decref(o);
        return;
    }
    unsigned char *raw;
    size_t rawlen;
    const char *why;
    X509_REQ *req = parse_request(o, &raw, &rawlen, &why);
    free(raw);
    const json_t *usages = json_object_get(json_object_get(o, "spec"), "usages");
    char buf[256];
    const char *problem = !req      ? why
                          : client  ? client_usage_problem(usages, buf, sizeof(buf))
                          : serving ? kubelet_serving_problem(req, usages)
                                    : kubelet_client_problem(req, usages);
    char now[32];
    k1s_time_rfc3339(now);
    if (problem) {
        json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "Failed", "status", "True",
                              "reason", "SignerValidationFailure", "message", problem,
                              "lastUpdateTime", now, "lastTransitionTime", now);
        if (!json_is_array(conds))
            json_object_set_new(status, "conditions", json_array());
        json_array_append_new(json_object_get(status, "conditions"), c);
    } else {
        long long ttl = MAX_DURATION_S;
        json_t *es = json_object_get(json_object_get(o, "spec"), "expirationSeconds");
        if (json_is_integer(es) && json_integer_value(es) < ttl)
            ttl = json_integer_value(es);
        int ca = serving ? CA_SERVER : CA_CLIENT;
        char *pem = issue(api->csr->ca[ca], api->csr->ca_key[ca], req, usages, ttl);
        if (!pem) {
            k1s_warn("signing certificate for CSR %s failed", k1s_obj_str(o, "metadata.name"));
            X509_REQ_free(req);
            json_decref(o);
            return;
        }
        char *b64 = b64_encode(pem, strlen(pem));
        json_object_set_new(status, "certificate", json_string(b64));
        free(b64);
        free(pem);
    }
    X509_REQ_free(req);
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
    json_object_set_new(k1s_obj_meta(o), "resourceVersion", json_string(rv));
    const k1s_resource_t *res =
        k1s_registry_find("certificates.k8s.io", "v1", "certificatesigningrequests");
    k1s_store_put(api->store, kv->key, k1s_obj_encode(o), k1s_obj_aux_new(res, o), sign_done, NULL);
    json_decref(o);
}

static int on_csr(const k1s_store_event_t *ev, void *arg)
{
    if (ev->type == K1S_STORE_PUT)
        handle_csr(arg, ev->kv);
    return 0;
}

static int collect(k1s_kv_t *kv, void *arg)
{
    json_array_append_new(arg, json_string(kv->key));
    return 0;
}

void k1s_csr_start(k1s_apiserver_t *api)
{
    k1s_csr_t *c = api->csr;
    if (!c)
        return;
    k1s_store_watch(api->store, "/certificatesigningrequests/", k1s_store_rev(api->store), on_csr,
                    api, &c->watch);
    json_t *keys = json_array();
    k1s_store_range(api->store, "/certificatesigningrequests/", NULL, collect, keys);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        k1s_kv_t *kv = k1s_store_get_latest(api->store, json_string_value(k));
        if (kv)
            handle_csr(api, kv);
    }
    json_decref(keys);
}
