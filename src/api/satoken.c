/*
 * Service accounts; see satoken.h. Tokens are kube-apiserver's bound
 * service-account tokens: RS256 JWTs signed with server/tls/service.key,
 * issuer https://kubernetes.default.svc.cluster.local, audiences defaulting
 * to the API audiences, and the private "kubernetes.io" claim naming the
 * namespace, the account and the pod or secret the token is bound to. The
 * authenticator re-checks those objects on every request, so deleting one
 * revokes its tokens at once.
 *
 * Secrets of type kubernetes.io/service-account-token get the legacy,
 * non-expiring token (issuer kubernetes/serviceaccount) that kube-controller-
 * manager's tokens controller writes into them, with ca.crt and namespace;
 * such a token authenticates while its secret holds it and its account
 * lives, and the secret goes when its account does.
 *
 * The default objects of each namespace are kept by store watches on
 * namespaces, serviceaccounts and configmaps: their callbacks run after a
 * commit, before the writer is answered, and queue the missing object, so
 * a client that has seen its namespace created can create pods in it.
 */
#include "api/satoken.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "api/jwt.h"
#include "api/protobuf.h"
#include "api/validate.h"
#include "lib/log.h"

#define ROOT_CA_NAME "kube-root-ca.crt"
#define ROOT_CA_DESCRIPTION                                                                        \
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "      \
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "      \
    "guaranteed across distributions of Kubernetes clusters."
#define TOKEN_MOUNT_PATH "/var/run/secrets/kubernetes.io/serviceaccount"
#define MIN_EXPIRATION_S 600
#define DEFAULT_EXPIRATION_S 3600
/* The projected volume's expiry; tokens asked for with it are extended to a year (warnafter). */
#define WARN_ONLY_EXPIRATION_S 3607
#define EXTENDED_EXPIRATION_S (365LL * 24 * 3600)
#define LEEWAY_S 60
#define LEGACY_ISSUER "kubernetes/serviceaccount"
#define SA_TOKEN_TYPE "kubernetes.io/service-account-token"
#define ANN_SA_NAME "kubernetes.io/service-account.name"
#define ANN_SA_UID "kubernetes.io/service-account.uid"
#define LEGACY_CLAIM(x) "kubernetes.io/serviceaccount/" x
#define LABEL_LAST_USED "kubernetes.io/legacy-token-last-used"
#define LABEL_INVALID_SINCE "kubernetes.io/legacy-token-invalid-since"

static const char *const api_audiences[] = {K1S_SA_ISSUER, "k3s", NULL};

/* Tokens whose signature was checked, so a client's next requests skip the RSA operation;
 * the live checks (expiry, account, bound object) still run on every request. */
#define VERIFIED_SLOTS 256

typedef struct verified {
    char *token;
    json_t *claims;
} verified_t;

struct k1s_sa {
    EVP_PKEY *key;
    char kid[64];
    char *ca_pem; /* server-ca.crt, for kube-root-ca.crt */
    k1s_store_watch_t *watches[4];
    verified_t verified[VERIFIED_SLOTS];
};

/* The identity an authenticated token gives a request (r->auth_owned). */
typedef struct sa_ident {
    char *groups[4];
    char user[400];
    char ns_group[100];
    char uid[40];
} sa_ident_t;

/* ---------- lifecycle ---------- */

int k1s_sa_init(k1s_apiserver_t *api, const char *tls_dir, k1s_err_t *err)
{
    char *kp = k1s_xasprintf("%s/service.key", tls_dir);
    char *cp = k1s_xasprintf("%s/server-ca.crt", tls_dir);
    k1s_sa_t *sa = k1s_xcalloc(1, sizeof(*sa));
    int r = 0;
    FILE *f = fopen(kp, "re");
    if (!f) {
        r = k1s_err_set(err, errno, "read %s: %s", kp, strerror(errno));
        goto out;
    }
    sa->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (!sa->key || !EVP_PKEY_is_a(sa->key, "RSA") || k1s_jwt_key_id(sa->key, sa->kid) < 0) {
        r = k1s_err_set(err, EINVAL, "%s is not an RSA private key", kp);
        goto out;
    }
    if ((r = k1s_read_file(cp, &sa->ca_pem, NULL)) < 0) {
        r = k1s_err_set(err, -r, "read %s: %s", cp, strerror(-r));
        goto out;
    }
out:
    free(kp);
    free(cp);
    if (r < 0) {
        EVP_PKEY_free(sa->key);
        free(sa->ca_pem);
        free(sa);
        return r;
    }
    api->sa = sa;
    return 0;
}

void k1s_sa_free(k1s_apiserver_t *api)
{
    k1s_sa_t *sa = api->sa;
    if (!sa)
        return;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(sa->watches); i++)
        k1s_store_unwatch(sa->watches[i]);
    for (size_t i = 0; i < VERIFIED_SLOTS; i++) {
        free(sa->verified[i].token);
        json_decref(sa->verified[i].claims);
    }
    EVP_PKEY_free(sa->key);
    free(sa->ca_pem);
    free(sa);
    api->sa = NULL;
}

/* ---------- helpers ---------- */

static void rfc3339_at(time_t t, char out[32])
{
    k1s_time_format_rfc3339((int64_t)t, out);
}

/* The stored object ns/name of the core resource plural (new reference), or NULL. */
static json_t *get_obj(k1s_apiserver_t *api, const char *plural, const char *ns, const char *name)
{
    const k1s_resource_t *res = k1s_registry_find("", "v1", plural);
    char *key = k1s_obj_key(res, ns, name);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    free(key);
    return kv ? k1s_obj_decode(kv->value) : NULL;
}

static bool is_api_audience(const char *aud)
{
    for (int i = 0; api_audiences[i]; i++)
        if (!strcmp(api_audiences[i], aud))
            return true;
    return false;
}

/* ---------- the default objects of each namespace ---------- */

static bool ns_active(k1s_apiserver_t *api, const char *ns)
{
    bool exists = false;
    bool terminating = k1s_ns_is_terminating(api, ns, &exists);
    return exists && !terminating;
}

static json_t *root_ca_data(k1s_sa_t *sa)
{
    return json_pack("{s:s}", "ca.crt", sa->ca_pem);
}

static void ensure_ns(k1s_apiserver_t *api, const char *ns)
{
    if (!ns_active(api, ns))
        return;
    json_t *o = json_pack("{s:{s:s, s:s}}", "metadata", "name", "default", "namespace", ns);
    k1s_rest_internal_create(api, k1s_registry_find("", "v1", "serviceaccounts"), o);
    json_decref(o);
    o = json_pack("{s:{s:s, s:s, s:{s:s}}, s:o}", "metadata", "name", ROOT_CA_NAME, "namespace", ns,
                  "annotations", "kubernetes.io/description", ROOT_CA_DESCRIPTION, "data",
                  root_ca_data(api->sa));
    k1s_rest_internal_create(api, k1s_registry_find("", "v1", "configmaps"), o);
    json_decref(o);
}

static void put_done(int err, k1s_kv_t *kv, void *arg)
{
    if (err < 0)
        k1s_warn("writing %s failed: %s", ROOT_CA_NAME, strerror(-err));
}

/* Puts the CA back into a kube-root-ca.crt that was changed, as root-ca-cert-publisher does. */
static void fix_root_ca(k1s_apiserver_t *api, k1s_kv_t *kv)
{
    json_t *cm = k1s_obj_decode(kv->value);
    json_t *want = root_ca_data(api->sa);
    if (!json_equal(json_object_get(cm, "data"), want) &&
        !k1s_obj_str(cm, "metadata.deletionTimestamp")) {
        json_object_set(cm, "data", want);
        json_object_del(cm, "binaryData");
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
        json_object_set_new(k1s_obj_meta(cm), "resourceVersion", json_string(rv));
        const k1s_resource_t *res = k1s_registry_find("", "v1", "configmaps");
        k1s_store_put(api->store, kv->key, k1s_obj_encode(cm), k1s_obj_aux_new(res, cm), put_done,
                      NULL);
    }
    json_decref(want);
    json_decref(cm);
}

/* "/<plural>/<ns>/<name>" → ns, name (pointers into buf). */
static bool split_key(const char *key, char *buf, size_t len, const char **ns, const char **name)
{
    snprintf(buf, len, "%s", key);
    char *a = strchr(buf + 1, '/');
    char *b = a ? strchr(a + 1, '/') : NULL;
    if (!b)
        return false;
    *b = 0;
    *ns = a + 1;
    *name = b + 1;
    return true;
}

static int on_namespace(const k1s_store_event_t *ev, void *arg)
{
    k1s_apiserver_t *api = arg;
    if (ev->type == K1S_STORE_PUT && !ev->prev) {
        k1s_obj_aux_t *a = ev->kv->aux;
        if (a && a->name)
            ensure_ns(api, a->name);
    }
    return 0;
}

/* ---------- legacy token secrets ---------- */

static const char *annotation(const json_t *obj, const char *key)
{
    const json_t *a = json_object_get(json_object_get(obj, "metadata"), "annotations");
    return json_string_value(json_object_get(a, key));
}

static bool is_token_secret(k1s_kv_t *kv)
{
    k1s_obj_aux_t *a = kv->aux;
    return a && a->fields[0] && !strcmp(a->fields[0], SA_TOKEN_TYPE); /* fields[0] is "type" */
}

/* The JSON []byte value of a string (standard base64). New string. */
static char *b64_std(const char *s)
{
    char *e = k1s_b64url_encode(s, strlen(s));
    size_t n = strlen(e);
    e = k1s_xrealloc(e, n + 3);
    for (char *p = e; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    while (n % 4)
        e[n++] = '=';
    e[n] = 0;
    return e;
}

/* True if the base64 value v decodes to exactly s. */
static bool b64_is(const json_t *v, const char *s)
{
    const char *b = json_string_value(v);
    if (!b)
        return false;
    char *u = k1s_xstrdup(b);
    for (char *p = u; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    unsigned char *raw = NULL;
    size_t len = 0;
    bool eq = k1s_b64url_decode(u, strlen(u), &raw, &len) == 0 && len == strlen(s) &&
              !memcmp(raw, s, len);
    free(raw);
    free(u);
    return eq;
}

static void token_secret_done(int err, k1s_kv_t *kv, void *arg)
{
    if (err < 0)
        k1s_warn("writing a service-account token secret failed: %s", strerror(-err));
}

/* The tokens controller's syncSecret: fill in the token, or delete a secret whose account is
 * gone. */
static void sync_token_secret(k1s_apiserver_t *api, k1s_kv_t *kv)
{
    json_t *sec = k1s_obj_decode(kv->value);
    const k1s_resource_t *res = k1s_registry_find("", "v1", "secrets");
    const char *ns = k1s_obj_str(sec, "metadata.namespace");
    const char *name = k1s_obj_str(sec, "metadata.name");
    const char *sa_name = annotation(sec, ANN_SA_NAME);
    const char *sa_uid = annotation(sec, ANN_SA_UID);
    json_t *acct = ns && name && sa_name ? get_obj(api, "serviceaccounts", ns, sa_name) : NULL;
    const char *uid = acct ? k1s_obj_str(acct, "metadata.uid") : NULL;
    if (k1s_obj_str(sec, "metadata.deletionTimestamp") || !ns || !name) {
        /* going away, or not ours to fix */
    } else if (!uid || (sa_uid && *sa_uid && strcmp(sa_uid, uid))) {
        k1s_rest_internal_delete(api, res, kv->key);
    } else {
        json_t *data = json_object_get(sec, "data");
        if (!json_is_object(data)) {
            data = json_object();
            json_object_set_new(sec, "data", data);
        }
        bool changed = false;
        if (!sa_uid || !*sa_uid) {
            json_t *meta = k1s_obj_meta(sec);
            json_t *ann = json_object_get(meta, "annotations");
            if (!json_is_object(ann)) {
                ann = json_object();
                json_object_set_new(meta, "annotations", ann);
            }
            json_object_set_new(ann, ANN_SA_UID, json_string(uid));
            changed = true;
        }
        if (!json_string_length(json_object_get(data, "token"))) {
            char *sub = k1s_xasprintf("system:serviceaccount:%s:%s", ns, sa_name);
            json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "iss", LEGACY_ISSUER,
                                       LEGACY_CLAIM("namespace"), ns, LEGACY_CLAIM("secret.name"),
                                       name, LEGACY_CLAIM("service-account.name"), sa_name,
                                       LEGACY_CLAIM("service-account.uid"), uid, "sub", sub);
            char *tok = NULL;
            if (k1s_jwt_sign(api->sa->key, api->sa->kid, claims, &tok) == 0) {
                char *b = b64_std(tok);
                json_object_set_new(data, "token", json_string(b));
                free(b);
                changed = true;
            }
            free(tok);
            free(sub);
            json_decref(claims);
        }
        if (!b64_is(json_object_get(data, "ca.crt"), api->sa->ca_pem)) {
            char *b = b64_std(api->sa->ca_pem);
            json_object_set_new(data, "ca.crt", json_string(b));
            free(b);
            changed = true;
        }
        if (!b64_is(json_object_get(data, "namespace"), ns)) {
            char *b = b64_std(ns);
            json_object_set_new(data, "namespace", json_string(b));
            free(b);
            changed = true;
        }
        if (changed) {
            char rv[32];
            snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
            json_object_set_new(k1s_obj_meta(sec), "resourceVersion", json_string(rv));
            k1s_store_put(api->store, kv->key, k1s_obj_encode(sec), k1s_obj_aux_new(res, sec),
                          token_secret_done, NULL);
        }
    }
    json_decref(acct);
    json_decref(sec);
}

typedef struct token_secrets {
    const char *sa_name;
    json_t *keys;
} token_secrets_t;

static int collect_token_secrets(k1s_kv_t *kv, void *arg)
{
    token_secrets_t *t = arg;
    if (!is_token_secret(kv))
        return 0;
    if (t->sa_name) {
        json_t *sec = k1s_obj_decode(kv->value);
        bool match = k1s_streq(annotation(sec, ANN_SA_NAME), t->sa_name);
        json_decref(sec);
        if (!match)
            return 0;
    }
    json_array_append_new(t->keys, json_string(kv->key));
    return 0;
}

/* Syncs the token secrets under prefix (of account sa_name, or all when NULL). */
static void sync_token_secrets(k1s_apiserver_t *api, const char *prefix, const char *sa_name)
{
    token_secrets_t t = {sa_name, json_array()};
    k1s_store_range(api->store, prefix, NULL, collect_token_secrets, &t);
    size_t i;
    json_t *k;
    json_array_foreach(t.keys, i, k)
    {
        k1s_kv_t *kv = k1s_store_get_latest(api->store, json_string_value(k));
        if (kv)
            sync_token_secret(api, kv);
    }
    json_decref(t.keys);
}

static int on_object(const k1s_store_event_t *ev, void *arg)
{
    k1s_apiserver_t *api = arg;
    char buf[512];
    const char *ns, *name;
    if (!split_key(ev->kv->key, buf, sizeof(buf), &ns, &name))
        return 0;
    if (k1s_str_has_prefix(ev->kv->key, "/secrets/")) {
        if (ev->type == K1S_STORE_PUT && is_token_secret(ev->kv))
            sync_token_secret(api, ev->kv);
        return 0;
    }
    bool sa = k1s_str_has_prefix(ev->kv->key, "/serviceaccounts/");
    if (sa && ev->type == K1S_STORE_DELETE) {
        /* the account's token secrets go with it */
        char *prefix = k1s_xasprintf("/secrets/%s/", ns);
        sync_token_secrets(api, prefix, name);
        free(prefix);
    }
    if (sa ? strcmp(name, "default") : strcmp(name, ROOT_CA_NAME))
        return 0;
    if (ev->type == K1S_STORE_DELETE)
        ensure_ns(api, ns);
    else if (!sa)
        fix_root_ca(api, ev->kv);
    return 0;
}

static int collect_ns(k1s_kv_t *kv, void *arg)
{
    json_t *names = arg;
    k1s_obj_aux_t *a = kv->aux;
    if (a && a->name)
        json_array_append_new(names, json_string(a->name));
    return 0;
}

void k1s_sa_start(k1s_apiserver_t *api)
{
    k1s_sa_t *sa = api->sa;
    if (!sa)
        return;
    int64_t rev = k1s_store_rev(api->store);
    static const char *const prefixes[] = {"/namespaces/", "/serviceaccounts/", "/configmaps/",
                                           "/secrets/"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(prefixes); i++)
        k1s_store_watch(api->store, prefixes[i], rev, i == 0 ? on_namespace : on_object, api,
                        &sa->watches[i]);
    json_t *names = json_array();
    k1s_store_range(api->store, "/namespaces/", NULL, collect_ns, names);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        ensure_ns(api, json_string_value(n));
        /* a CA that changed since the last start */
        char *key = k1s_xasprintf("/configmaps/%s/%s", json_string_value(n), ROOT_CA_NAME);
        k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
        if (kv)
            fix_root_ca(api, kv);
        free(key);
    }
    json_decref(names);
    sync_token_secrets(api, "/secrets/", NULL);
}

/* ---------- authentication ---------- */

static json_int_t claim_int(const json_t *claims, const char *name, bool *ok)
{
    const json_t *v = json_object_get(claims, name);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (json_int_t)json_real_value(v);
    *ok = false;
    return 0;
}

/* The bound object (pod or secret) ref of the claim still names a live object. */
static bool bound_ok(k1s_apiserver_t *api, const char *plural, const char *ns, const json_t *ref,
                     time_t now)
{
    if (!ref)
        return true;
    const char *name = json_string_value(json_object_get(ref, "name"));
    const char *uid = json_string_value(json_object_get(ref, "uid"));
    if (!name || !uid)
        return false;
    json_t *o = get_obj(api, plural, ns, name);
    if (!o)
        return false;
    bool ok = k1s_streq(k1s_obj_str(o, "metadata.uid"), uid);
    /* as kube-apiserver: a token outlives its object's deletionTimestamp by the leeway only */
    const char *dt = k1s_obj_str(o, "metadata.deletionTimestamp");
    if (ok && dt) {
        struct tm tm = {0};
        if (!strptime(dt, "%Y-%m-%dT%H:%M:%SZ", &tm) || timegm(&tm) < now - LEEWAY_S)
            ok = false;
    }
    json_decref(o);
    return ok;
}

/* The claims of a token with a good signature (new reference), or NULL. */
static json_t *verified_claims(k1s_sa_t *sa, const char *token)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = token; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    verified_t *v = &sa->verified[h % VERIFIED_SLOTS];
    if (v->token && !strcmp(v->token, token))
        return json_incref(v->claims);
    json_t *claims = NULL;
    k1s_err_t err = {0};
    if (k1s_jwt_verify(sa->key, sa->kid, token, &claims, &err) < 0) {
        k1s_debug("service-account token refused: %s", err.msg);
        return NULL;
    }
    free(v->token);
    json_decref(v->claims);
    v->token = k1s_xstrdup(token);
    v->claims = json_incref(claims);
    return claims;
}

static void set_identity(k1s_api_req_t *r, const char *ns, const char *sa_name, const char *sa_uid)
{
    sa_ident_t *id = k1s_xcalloc(1, sizeof(*id));
    snprintf(id->user, sizeof(id->user), "system:serviceaccount:%s:%s", ns, sa_name);
    snprintf(id->ns_group, sizeof(id->ns_group), "system:serviceaccounts:%s", ns);
    id->groups[0] = (char *)"system:serviceaccounts";
    id->groups[1] = id->ns_group;
    id->groups[2] = (char *)"system:authenticated";
    id->groups[3] = NULL;
    snprintf(id->uid, sizeof(id->uid), "%s", sa_uid);
    r->uid = id->uid;
    r->auth_owned = id;
    r->user = id->user;
    r->groups = id->groups;
}

/* The user's extra of a bound token: credential id, and the pod and node it names. */
static json_t *token_extra(const json_t *claims, const json_t *podref, const json_t *noderef)
{
    json_t *extra = json_object();
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    if (jti && *jti) {
        char *id = k1s_xasprintf("JTI=%s", jti);
        json_object_set_new(extra, "authentication.kubernetes.io/credential-id",
                            json_pack("[s]", id));
        free(id);
    }
    static const char *const keys[][2] = {{"pod-name", "pod-uid"}, {"node-name", "node-uid"}};
    const json_t *refs[2] = {podref, noderef};
    for (int i = 0; i < 2; i++) {
        const char *name = json_string_value(json_object_get(refs[i], "name"));
        const char *uid = json_string_value(json_object_get(refs[i], "uid"));
        char k[64];
        if (name) {
            snprintf(k, sizeof(k), "authentication.kubernetes.io/%s", keys[i][0]);
            json_object_set_new(extra, k, json_pack("[s]", name));
        }
        if (uid) {
            snprintf(k, sizeof(k), "authentication.kubernetes.io/%s", keys[i][1]);
            json_object_set_new(extra, k, json_pack("[s]", uid));
        }
    }
    return extra;
}

/* LegacyServiceAccountTokenTracking: the secret's last-used label holds the day of last use. */
static void mark_used(k1s_apiserver_t *api, const char *ns, const char *name)
{
    const k1s_resource_t *res = k1s_registry_find("", "v1", "secrets");
    char *key = k1s_obj_key(res, ns, name);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    json_t *sec = kv ? k1s_obj_decode(kv->value) : NULL;
    json_t *meta = sec ? k1s_obj_meta(sec) : NULL;
    json_t *labels = meta ? json_object_get(meta, "labels") : NULL;
    if (sec && !k1s_streq(json_string_value(json_object_get(labels, LABEL_LAST_USED)), today)) {
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(meta, "labels", labels);
        }
        json_object_set_new(labels, LABEL_LAST_USED, json_string(today));
        char rv[32];
        snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
        json_object_set_new(meta, "resourceVersion", json_string(rv));
        k1s_store_put(api->store, key, k1s_obj_encode(sec), k1s_obj_aux_new(res, sec),
                      token_secret_done, NULL);
    }
    json_decref(sec);
    free(key);
}

/* A legacy token is good while its secret holds it (and is not marked invalid) and its account
 * is the one it names. */
static bool legacy_ok(k1s_apiserver_t *api, const json_t *claims, const char *token)
{
    const char *ns = json_string_value(json_object_get(claims, LEGACY_CLAIM("namespace")));
    const char *sname = json_string_value(json_object_get(claims, LEGACY_CLAIM("secret.name")));
    const char *sa_name =
        json_string_value(json_object_get(claims, LEGACY_CLAIM("service-account.name")));
    const char *sa_uid =
        json_string_value(json_object_get(claims, LEGACY_CLAIM("service-account.uid")));
    if (!ns || !sname || !sa_name || !sa_uid || strlen(ns) > 63 || strlen(sa_name) > 253)
        return false;
    json_t *sec = get_obj(api, "secrets", ns, sname);
    const json_t *labels = json_object_get(json_object_get(sec, "metadata"), "labels");
    bool ok = sec && !k1s_obj_str(sec, "metadata.deletionTimestamp") &&
              json_string_length(json_object_get(labels, LABEL_INVALID_SINCE)) == 0 &&
              b64_is(json_object_get(json_object_get(sec, "data"), "token"), token);
    json_decref(sec);
    if (ok) {
        json_t *acct = get_obj(api, "serviceaccounts", ns, sa_name);
        ok = acct && k1s_streq(k1s_obj_str(acct, "metadata.uid"), sa_uid) &&
             !k1s_obj_str(acct, "metadata.deletionTimestamp");
        json_decref(acct);
    }
    if (ok)
        mark_used(api, ns, sname);
    return ok;
}

bool k1s_sa_authenticate(k1s_api_req_t *r, const char *token)
{
    k1s_sa_t *sa = r->api->sa;
    if (!sa || strlen(token) > 16384 || !strchr(token, '.'))
        return false;
    json_t *claims = verified_claims(sa, token);
    if (!claims)
        return false;
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (k1s_streq(iss, LEGACY_ISSUER)) {
        bool ok = legacy_ok(r->api, claims, token);
        if (ok)
            set_identity(
                r, json_string_value(json_object_get(claims, LEGACY_CLAIM("namespace"))),
                json_string_value(json_object_get(claims, LEGACY_CLAIM("service-account.name"))),
                json_string_value(json_object_get(claims, LEGACY_CLAIM("service-account.uid"))));
        json_decref(claims);
        return ok;
    }
    bool ok = k1s_streq(iss, K1S_SA_ISSUER);
    time_t now = time(NULL);
    json_int_t exp = claim_int(claims, "exp", &ok);
    if (ok && now > exp + LEEWAY_S)
        ok = false;
    const json_t *nbf = json_object_get(claims, "nbf");
    if (ok && nbf && now + LEEWAY_S < claim_int(claims, "nbf", &ok))
        ok = false;
    /* one audience must be ours */
    const json_t *aud = json_object_get(claims, "aud");
    bool aud_ok = json_is_string(aud) && is_api_audience(json_string_value(aud));
    size_t i;
    const json_t *a;
    json_array_foreach(aud, i, a)
    {
        if (json_is_string(a) && is_api_audience(json_string_value(a)))
            aud_ok = true;
    }
    ok = ok && aud_ok;
    const json_t *k8s = json_object_get(claims, "kubernetes.io");
    const char *ns = json_string_value(json_object_get(k8s, "namespace"));
    const json_t *sar = json_object_get(k8s, "serviceaccount");
    const char *sa_name = json_string_value(json_object_get(sar, "name"));
    const char *sa_uid = json_string_value(json_object_get(sar, "uid"));
    ok = ok && ns && sa_name && sa_uid && strlen(ns) < 64 && strlen(sa_name) < 254;
    if (ok) {
        json_t *acct = get_obj(r->api, "serviceaccounts", ns, sa_name);
        ok = acct && k1s_streq(k1s_obj_str(acct, "metadata.uid"), sa_uid) &&
             !k1s_obj_str(acct, "metadata.deletionTimestamp");
        json_decref(acct);
    }
    const json_t *podref = json_object_get(k8s, "pod");
    const json_t *noderef = json_object_get(k8s, "node");
    ok = ok && bound_ok(r->api, "pods", ns, podref, now) &&
         bound_ok(r->api, "secrets", ns, json_object_get(k8s, "secret"), now);
    /* for a pod-bound token the node is information only */
    if (ok && !podref)
        ok = bound_ok(r->api, "nodes", NULL, noderef, now);
    if (ok) {
        set_identity(r, ns, sa_name, sa_uid);
        r->extra = token_extra(claims, podref, noderef);
    }
    json_decref(claims);
    return ok;
}

/* ---------- issuer discovery ---------- */

static void send_doc(k1s_api_req_t *r, const char *ct, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    k1s_http_add_header(r->http, "Cache-Control", "public, max-age=3600");
    k1s_http_respond(r->http, 200, ct, s, strlen(s));
    free(s);
    k1s_api_req_done(r, 200);
}

bool k1s_sa_discovery_handle(k1s_api_req_t *r, const char *path)
{
    k1s_sa_t *sa = r->api->sa;
    bool config = !strcmp(path, "/.well-known/openid-configuration");
    bool jwks = !strcmp(path, "/openid/v1/jwks");
    if (!sa || (!config && !jwks))
        return false;
    r->verb = "get";
    if (strcmp(r->http->method, "GET") && strcmp(r->http->method, "HEAD")) {
        k1s_api_fail(r, 405, "MethodNotAllowed",
                     "the server does not allow this method on the requested resource");
        return true;
    }
    if (config) {
        const char *host = r->api->advertise_address;
        char *uri =
            strchr(host, ':')
                ? k1s_xasprintf("https://[%s]:%d/openid/v1/jwks", host, r->api->advertise_port)
                : k1s_xasprintf("https://%s:%d/openid/v1/jwks", host, r->api->advertise_port);
        json_t *doc =
            json_pack("{s:s, s:s, s:[s], s:[s], s:[s]}", "issuer", K1S_SA_ISSUER, "jwks_uri", uri,
                      "response_types_supported", "id_token", "subject_types_supported", "public",
                      "id_token_signing_alg_values_supported", "RS256");
        free(uri);
        send_doc(r, "application/json", doc);
        return true;
    }
    json_t *keys = json_array();
    json_t *jwk = k1s_jwt_jwk(sa->key, sa->kid);
    if (jwk)
        json_array_append_new(keys, jwk);
    send_doc(r, "application/jwk-set+json", json_pack("{s:o}", "keys", keys));
    return true;
}

/* ---------- TokenRequest ---------- */

/* 422 Invalid for a TokenRequest, with one cause. */
static void token_invalid(k1s_api_req_t *r, const char *name, const char *field,
                          const char *message)
{
    json_t *causes = json_pack("[{s:s, s:s, s:s}]", "reason", "FieldValueInvalid", "message",
                               message, "field", field);
    char *msg = k1s_validate_message("TokenRequest.authentication.k8s.io", name, causes);
    json_t *s = k1s_status_new(422, "Invalid", msg);
    json_object_set_new(s, "details",
                        json_pack("{s:s, s:s, s:s, s:o}", "name", name, "group",
                                  "authentication.k8s.io", "kind", "TokenRequest", "causes",
                                  causes));
    free(msg);
    k1s_api_send_json(r, 422, s);
}

static json_t *decode_request(k1s_api_req_t *r)
{
    k1s_http_req_t *h = r->http;
    const char *ct = k1s_http_req_header(h, "Content-Type");
    json_t *obj = NULL;
    if (h->body_len == 0) {
        k1s_api_fail(r, 400, "BadRequest", "the request body is empty");
        return NULL;
    }
    if (ct && k1s_protobuf_content_type(ct)) {
        k1s_err_t err = {0};
        if (k1s_protobuf_decode(h->body, h->body_len, &obj, &err) < 0) {
            k1s_api_fail(r, 400, "BadRequest", "%s", err.msg);
            return NULL;
        }
    } else {
        json_error_t je;
        obj = json_loadb(h->body, h->body_len, 0, &je);
        if (!json_is_object(obj)) {
            json_decref(obj);
            k1s_api_fail(r, 400, "BadRequest", "error decoding JSON: %s", je.text);
            return NULL;
        }
    }
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    if ((kind && strcmp(kind, "TokenRequest")) || (av && strcmp(av, "authentication.k8s.io/v1"))) {
        k1s_api_fail(r, 400, "BadRequest",
                     "the object provided is unrecognized (must be of type TokenRequest): "
                     "%s %s given",
                     av ? av : "", kind ? kind : "");
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* Returns the audiences to use (new reference) or NULL after answering r. */
static json_t *request_audiences(k1s_api_req_t *r, const json_t *spec)
{
    const json_t *auds = json_object_get(spec, "audiences");
    json_t *out = json_array();
    size_t i;
    const json_t *a;
    json_array_foreach(auds, i, a)
    {
        if (!json_is_string(a)) {
            json_decref(out);
            k1s_api_fail(r, 400, "BadRequest", "spec.audiences must be strings");
            return NULL;
        }
        json_array_append(out, (json_t *)a);
    }
    if (json_array_size(out) == 0)
        for (int k = 0; api_audiences[k]; k++)
            json_array_append_new(out, json_string(api_audiences[k]));
    return out;
}

void k1s_sa_token_request(k1s_api_req_t *r)
{
    k1s_apiserver_t *api = r->api;
    k1s_sa_t *sa = api->sa;
    if (!sa) {
        k1s_api_fail(r, 503, "ServiceUnavailable", "service-account token signing is not set up");
        return;
    }
    json_t *req = decode_request(r);
    if (!req)
        return;
    r->obj = req;
    const char *bname = k1s_obj_str(req, "metadata.name");
    const char *bns = k1s_obj_str(req, "metadata.namespace");
    if (bname && *bname && strcmp(bname, r->name)) {
        char *m = k1s_xasprintf("Invalid value: \"%s\": must match the service account name if "
                                "specified",
                                bname);
        token_invalid(r, r->name, "metadata.name", m);
        free(m);
        return;
    }
    if (bns && *bns && strcmp(bns, r->ns)) {
        char *m = k1s_xasprintf("Invalid value: \"%s\": must match the service account namespace "
                                "if specified",
                                bns);
        token_invalid(r, r->name, "metadata.namespace", m);
        free(m);
        return;
    }
    json_t *acct = get_obj(api, "serviceaccounts", r->ns, r->name);
    if (!acct) {
        k1s_api_not_found(r, r->name);
        return;
    }
    json_t *spec = json_object_get(req, "spec");
    json_t *auds = request_audiences(r, spec);
    if (!auds) {
        json_decref(acct);
        return;
    }
    const json_t *es = json_object_get(spec, "expirationSeconds");
    json_int_t expiration = json_is_integer(es) ? json_integer_value(es) : DEFAULT_EXPIRATION_S;
    const char *why = NULL;
    if (expiration < MIN_EXPIRATION_S)
        why = "may not specify a duration less than 10 minutes";
    else if (expiration > (1LL << 32))
        why = "may not specify a duration larger than 2^32 seconds";
    if (why) {
        char *m = k1s_xasprintf("Invalid value: %" JSON_INTEGER_FORMAT ": %s", expiration, why);
        token_invalid(r, "", "spec.expirationSeconds", m);
        free(m);
        json_decref(acct);
        json_decref(auds);
        return;
    }
    /* the object the token is bound to */
    const json_t *ref = json_object_get(spec, "boundObjectRef");
    json_t *pod = NULL, *secret = NULL, *node = NULL;
    if (json_is_object(ref)) {
        const char *kind = json_string_value(json_object_get(ref, "kind"));
        const char *av = json_string_value(json_object_get(ref, "apiVersion"));
        const char *name = json_string_value(json_object_get(ref, "name"));
        const char *uid = json_string_value(json_object_get(ref, "uid"));
        bool core = !av || !*av || !strcmp(av, "v1");
        const char *plural = !core                       ? NULL
                             : k1s_streq(kind, "Pod")    ? "pods"
                             : k1s_streq(kind, "Secret") ? "secrets"
                             : k1s_streq(kind, "Node")   ? "nodes"
                                                         : NULL;
        if (!plural) {
            /* schema.GroupVersionKind.String() */
            k1s_api_fail(r, 400, "BadRequest", "cannot bind token to object of type %s%s, Kind=%s",
                         av && strchr(av, '/') ? "" : "/", av ? av : "", kind ? kind : "");
            goto fail;
        }
        bool cluster = !strcmp(plural, "nodes");
        json_t *o = name ? get_obj(api, plural, cluster ? NULL : r->ns, name) : NULL;
        if (!o) {
            k1s_api_fail(r, 404, "NotFound", "%s \"%s\" not found", plural, name ? name : "");
            goto fail;
        }
        if (!strcmp(plural, "pods")) {
            pod = o;
            const char *psa = k1s_obj_str(pod, "spec.serviceAccountName");
            if (!k1s_streq(psa, r->name)) {
                k1s_api_fail(r, 400, "BadRequest",
                             "cannot bind token for serviceaccount \"%s\" to pod running with "
                             "serviceaccount \"%s\"",
                             r->name, psa ? psa : "");
                goto fail;
            }
            const char *nn = k1s_obj_str(pod, "spec.nodeName");
            if (nn && *nn)
                node = get_obj(api, "nodes", NULL, nn);
        } else if (cluster) {
            node = o;
        } else {
            secret = o;
        }
        if (uid && *uid && !k1s_streq(uid, k1s_obj_str(o, "metadata.uid"))) {
            k1s_api_fail(r, 409, "Conflict",
                         "Operation cannot be fulfilled on %s \"%s\": the UID in the bound "
                         "object reference (%s) does not match the UID in record. The object "
                         "might have been deleted and then recreated",
                         kind, name, uid);
            goto fail;
        }
    }
    /* kube-apiserver's --service-account-extend-token-expiration (on by default) */
    json_int_t exp_s = expiration, warn_after = 0;
    bool kube_auds = json_array_size(auds) > 0;
    size_t i;
    json_t *a;
    json_array_foreach(auds, i, a)
    {
        if (!is_api_audience(json_string_value(a)))
            kube_auds = false;
    }
    if (pod && expiration == WARN_ONLY_EXPIRATION_S && kube_auds) {
        warn_after = expiration;
        exp_s = EXTENDED_EXPIRATION_S;
    }
    time_t now = time(NULL);
    char jti[37];
    k1s_uuid4(jti);
    json_t *k8s = json_pack("{s:s, s:{s:s, s:s}}", "namespace", r->ns, "serviceaccount", "name",
                            r->name, "uid", k1s_obj_str(acct, "metadata.uid"));
    if (pod)
        json_object_set_new(k8s, "pod",
                            json_pack("{s:s, s:s}", "name", k1s_obj_str(pod, "metadata.name"),
                                      "uid", k1s_obj_str(pod, "metadata.uid")));
    /* the node a bound pod runs on, or the node the token is bound to */
    if (node)
        json_object_set_new(k8s, "node",
                            json_pack("{s:s, s:s}", "name", k1s_obj_str(node, "metadata.name"),
                                      "uid", k1s_obj_str(node, "metadata.uid")));
    if (secret)
        json_object_set_new(k8s, "secret",
                            json_pack("{s:s, s:s}", "name", k1s_obj_str(secret, "metadata.name"),
                                      "uid", k1s_obj_str(secret, "metadata.uid")));
    if (warn_after)
        json_object_set_new(k8s, "warnafter", json_integer((json_int_t)now + warn_after));
    char *sub = k1s_xasprintf("system:serviceaccount:%s:%s", r->ns, r->name);
    json_t *claims =
        json_pack("{s:O, s:I, s:I, s:s, s:s, s:o, s:I, s:s}", "aud", auds, "exp",
                  (json_int_t)now + exp_s, "iat", (json_int_t)now, "iss", K1S_SA_ISSUER, "jti", jti,
                  "kubernetes.io", k8s, "nbf", (json_int_t)now, "sub", sub);
    free(sub);
    char *tok = NULL;
    int rc = k1s_jwt_sign(sa->key, sa->kid, claims, &tok);
    json_decref(claims);
    if (rc < 0) {
        k1s_api_fail(r, 500, "InternalError", "failed to generate token: signing failed");
        goto fail;
    }
    char created[32], expires[32];
    rfc3339_at(now, created);
    rfc3339_at(now + (time_t)expiration, expires);
    json_t *out_spec = json_pack("{s:O, s:I, s:O}", "audiences", auds, "expirationSeconds",
                                 expiration, "boundObjectRef", ref ? ref : json_null());
    json_t *out =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:o, s:{s:s, s:s}}", "kind", "TokenRequest",
                  "apiVersion", "authentication.k8s.io/v1", "metadata", "name", r->name,
                  "namespace", r->ns, "creationTimestamp", created, "spec", out_spec, "status",
                  "token", tok, "expirationTimestamp", expires);
    free(tok);
    json_decref(acct);
    json_decref(auds);
    json_decref(pod);
    json_decref(secret);
    json_decref(node);
    k1s_api_send_json(r, 201, out);
    return;
fail:
    json_decref(acct);
    json_decref(auds);
    json_decref(pod);
    json_decref(secret);
    json_decref(node);
}

/* ---------- ServiceAccount admission ---------- */

static json_t *child_arr(json_t *o, const char *key)
{
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(o, key, a);
    }
    return a;
}

/* Adds the token mount to every container of list lacking one; true if any was added. */
static bool add_mounts(json_t *spec, const char *list, const char *volume)
{
    bool added = false;
    size_t i, k;
    json_t *c, *m;
    json_array_foreach(json_object_get(spec, list), i, c)
    {
        bool has = false;
        json_array_foreach(json_object_get(c, "volumeMounts"), k, m)
        {
            if (k1s_streq(json_string_value(json_object_get(m, "mountPath")), TOKEN_MOUNT_PATH))
                has = true;
        }
        if (has)
            continue;
        json_array_append_new(child_arr(c, "volumeMounts"),
                              json_pack("{s:s, s:b, s:s}", "name", volume, "readOnly", 1,
                                        "mountPath", TOKEN_MOUNT_PATH));
        added = true;
    }
    return added;
}

static json_t *token_volume(const char *name)
{
    return json_pack(
        "{s:s, s:{s:[{s:{s:I, s:s}}, {s:{s:s, s:[{s:s, s:s}]}}, {s:{s:[{s:s, s:{s:s, s:s}}]}}],"
        " s:i}}",
        "name", name, "projected", "sources", "serviceAccountToken", "expirationSeconds",
        (json_int_t)WARN_ONLY_EXPIRATION_S, "path", "token", "configMap", "name", ROOT_CA_NAME,
        "items", "key", "ca.crt", "path", "ca.crt", "downwardAPI", "items", "path", "namespace",
        "fieldRef", "apiVersion", "v1", "fieldPath", "metadata.namespace", "defaultMode", 420);
}

static void mount_token(json_t *spec)
{
    /* an existing kube-api-access-* volume is reused */
    const char *vname = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "volumes"), i, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n && k1s_str_has_prefix(n, "kube-api-access-")) {
            vname = n;
            break;
        }
    }
    char gen[32];
    bool have = vname != NULL;
    if (!vname) {
        char suffix[6];
        k1s_random_suffix(suffix, 5);
        snprintf(gen, sizeof(gen), "kube-api-access-%s", suffix);
        vname = gen;
    }
    char *name = k1s_xstrdup(vname);
    bool a = add_mounts(spec, "initContainers", name);
    bool b = add_mounts(spec, "containers", name);
    if (!have && (a || b))
        json_array_append_new(child_arr(spec, "volumes"), token_volume(name));
    free(name);
}

int k1s_sa_admit_pod(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    if (strcmp(r->res->plural, "pods") || r->res->group[0] || r->sub || !r->obj ||
        strcmp(k1s_admit_operation(r), "CREATE"))
        return 0; /* pod creation only */
    json_t *pod = r->obj;
    json_t *spec = json_object_get(pod, "spec");
    if (!json_is_object(spec))
        return 0; /* validation reports it */
    const char *san = json_string_value(json_object_get(spec, "serviceAccountName"));
    const char *dep = json_string_value(json_object_get(spec, "serviceAccount"));
    if (json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
                        "kubernetes.io/config.mirror")) {
        if ((san && *san) || (dep && *dep)) {
            return k1s_admit_denyf(deny, "a mirror pod may not reference service accounts");
        }
        return 0;
    }
    /* spec.serviceAccount is the deprecated alias; Kubernetes keeps both equal */
    if (!san || !*san)
        san = dep && *dep ? dep : "default";
    char *account = k1s_xstrdup(san);
    json_object_set_new(spec, "serviceAccountName", json_string(account));
    json_object_set_new(spec, "serviceAccount", json_string(account));
    json_t *acct = get_obj(r->api, "serviceaccounts", r->ns, account);
    if (!acct) {
        k1s_admit_denyf(deny,
                        "error looking up service account %s/%s: serviceaccount \"%s\" not found",
                        r->ns, account, account);
        free(account);
        return -EPERM;
    }
    free(account);
    /* the pod's choice wins, then the account's, else mount */
    const json_t *pa = json_object_get(spec, "automountServiceAccountToken");
    const json_t *aa = json_object_get(acct, "automountServiceAccountToken");
    bool mount = json_is_boolean(pa)   ? json_is_true(pa)
                 : json_is_boolean(aa) ? json_is_true(aa)
                                       : true;
    if (mount)
        mount_token(spec);
    const json_t *ips = json_object_get(acct, "imagePullSecrets");
    if (json_array_size(json_object_get(spec, "imagePullSecrets")) == 0 &&
        json_array_size(ips) > 0) {
        json_t *out = json_array();
        size_t i;
        json_t *s;
        json_array_foreach(ips, i, s)
        {
            const char *n = json_string_value(json_object_get(s, "name"));
            json_array_append_new(out, json_pack("{s:s}", "name", n ? n : ""));
        }
        json_object_set_new(spec, "imagePullSecrets", out);
    }
    json_decref(acct);
    return 0;
}
