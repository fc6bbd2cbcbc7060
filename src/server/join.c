/*
 * The join endpoints (see join.h): the server CA for agents to pin, and
 * node certificates signed for the agents' own keys once they prove they
 * hold the join token's secret and the node name's password.
 */
#include "server/join.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "server/pki.h"

struct k1s_join {
    k1s_client_t *client; /* system:masters, in process: does a Node exist? */
    char *tls_dir;
    char *passwd_path;
    char *secret;
    k1s_http_handler_fn next;
    void *next_arg;
};

k1s_join_t *k1s_join_new(struct event_base *base, const char *server_dir, const char *token,
                         k1s_http_handler_fn next, void *next_arg)
{
    k1s_join_t *j = k1s_xcalloc(1, sizeof(*j));
    static const char *const groups[] = {"system:masters", NULL};
    j->client = k1s_client_new_inprocess(base, next, next_arg, "system:k1s-supervisor", groups);
    j->tls_dir = k1s_xasprintf("%s/tls", server_dir);
    j->passwd_path = k1s_xasprintf("%s/cred/node-passwd", server_dir);
    char hash[65];
    const char *secret = NULL;
    j->secret = k1s_xstrdup(k1s_pki_token_parse(token, hash, &secret) ? secret : token);
    j->next = next;
    j->next_arg = next_arg;
    return j;
}

void k1s_join_free(k1s_join_t *j)
{
    if (!j)
        return;
    k1s_client_free(j->client);
    free(j->tls_dir);
    free(j->passwd_path);
    OPENSSL_cleanse(j->secret, strlen(j->secret));
    free(j->secret);
    free(j);
}

static void respond_text(k1s_http_req_t *req, int status, const char *text)
{
    k1s_http_respond(req, status, "text/plain", text, strlen(text));
}

static void respond_file(k1s_http_req_t *req, const char *dir, const char *name)
{
    char *path = k1s_xasprintf("%s/%s", dir, name);
    char *data;
    size_t len;
    int r = k1s_read_file(path, &data, &len);
    if (r < 0) {
        char *msg = k1s_xasprintf("k1s: cannot read %s: %s\n", path, strerror(-r));
        respond_text(req, 500, msg);
        free(msg);
    } else {
        k1s_http_respond(req, 200, "text/plain", data, len);
        free(data);
    }
    free(path);
}

/* Whether the request carries basic auth with the token's secret (any user name, as k3s). */
static bool authorized(k1s_join_t *j, k1s_http_req_t *req)
{
    const char *h = k1s_http_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Basic ", 6))
        return false;
    h += 6;
    size_t n = strlen(h);
    if (n == 0 || n > 1024 || n % 4)
        return false;
    unsigned char dec[800];
    int dl = EVP_DecodeBlock(dec, (const unsigned char *)h, (int)n);
    if (dl < 0)
        return false;
    /* EVP_DecodeBlock counts the padding as zero bytes */
    while (dl > 0 && n && h[n - 1] == '=') {
        dl--;
        n--;
    }
    dec[dl] = 0;
    const char *colon = strchr((char *)dec, ':');
    if (!colon)
        return false;
    const char *pass = colon + 1;
    size_t pl = strlen(pass), sl = strlen(j->secret);
    bool ok = pl == sl && CRYPTO_memcmp(pass, j->secret, sl) == 0;
    OPENSSL_cleanse(dec, sizeof(dec));
    return ok;
}

static void hash_password(const char *salt, const char *password, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    k1s_assert(m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
               EVP_DigestUpdate(m, salt, strlen(salt)) == 1 &&
               EVP_DigestUpdate(m, password, strlen(password)) == 1 &&
               EVP_DigestFinal_ex(m, md, &mdlen) == 1);
    EVP_MD_CTX_free(m);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int k1s_join_node_password(const char *path, const char *node, const char *password, bool replace)
{
    char *data = NULL;
    size_t len = 0;
    int r = k1s_read_file(path, &data, &len);
    if (r < 0 && r != -ENOENT)
        return r;
    /* one line per node: "<node>:<salt>:<sha256(salt password)>"; the others are kept */
    k1s_buf_t keep = K1S_BUF_INIT;
    size_t nl = strlen(node);
    for (char *line = data; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = 0;
        if (!strncmp(line, node, nl) && line[nl] == ':' && !replace) {
            char *salt = line + nl + 1;
            char *hash = strchr(salt, ':');
            bool ok = false;
            if (hash) {
                *hash++ = 0;
                char want[65];
                hash_password(salt, password, want);
                ok = strlen(hash) == 64 && CRYPTO_memcmp(hash, want, 64) == 0;
            }
            free(data);
            k1s_buf_free(&keep);
            return ok ? 0 : -EPERM;
        }
        if (*line && !(!strncmp(line, node, nl) && line[nl] == ':'))
            k1s_buf_printf(&keep, "%s\n", line);
        line = end ? end + 1 : NULL;
    }
    free(data);
    /* a new node name (or one whose Node is gone): record its password */
    unsigned char raw[8];
    char salt[17], hash[65];
    k1s_random_bytes(raw, sizeof(raw));
    for (int i = 0; i < 8; i++)
        snprintf(salt + 2 * i, 3, "%02x", raw[i]);
    hash_password(salt, password, hash);
    k1s_buf_printf(&keep, "%s:%s:%s\n", node, salt, hash);
    r = k1s_write_file_atomic(path, keep.data, keep.len, 0600);
    k1s_buf_free(&keep);
    return r;
}

/* A DNS-1123 subdomain, as Node names are. */
static bool valid_node_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

/* Signs the agent's public key (the request body) and answers with the certificate and its CA. */
static void issue(k1s_join_t *j, k1s_http_req_t *req, bool serving, const char *node,
                  const char *ip)
{
    k1s_err_t err = {0};
    char *cert = NULL;
    int r;
    if (serving) {
        const char *sans[] = {node, "localhost", "127.0.0.1", ip && *ip ? ip : NULL, NULL};
        r = k1s_pki_issue_for_key(j->tls_dir, "server-ca", node, NULL, sans, true, false, 0,
                                  req->body, &cert, &err);
    } else {
        char *cn = k1s_xasprintf("system:node:%s", node);
        const char *orgs[] = {"system:nodes", NULL};
        r = k1s_pki_issue_for_key(j->tls_dir, "client-ca", cn, orgs, NULL, false, true, 0,
                                  req->body, &cert, &err);
        free(cn);
    }
    if (r < 0) {
        char *msg = k1s_xasprintf("k1s: cannot issue the %s certificate for node \"%s\": %s\n",
                                  serving ? "kubelet serving" : "node client", node, err.msg);
        respond_text(req, r == -EINVAL ? 400 : 500, msg);
        free(msg);
        return;
    }
    char *ca;
    size_t calen;
    char *ca_path = k1s_xasprintf("%s/%s", j->tls_dir, serving ? "server-ca.crt" : "client-ca.crt");
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, cert);
    if (k1s_read_file(ca_path, &ca, &calen) == 0) {
        k1s_buf_append(&b, ca, calen);
        free(ca);
    }
    free(ca_path);
    k1s_debug("join: issued the %s certificate of node %s", serving ? "serving" : "client", node);
    k1s_http_respond(req, 200, "text/plain", b.data, b.len);
    k1s_buf_free(&b);
    free(cert);
}

static void password_failed(k1s_join_t *j, k1s_http_req_t *req, const char *node, int r)
{
    char *msg = k1s_xasprintf("k1s: cannot record the node password in %s: %s\n", j->passwd_path,
                              strerror(-r));
    respond_text(req, 500, msg);
    free(msg);
}

/* A certificate request whose node password did not match, waiting to learn if the Node exists. */
typedef struct {
    k1s_join_t *j;
    k1s_http_req_t *req;
    bool serving;
    char *node, *ip, *pass;
} takeover_t;

static void node_looked_up(const k1s_client_result_t *res, void *arg)
{
    takeover_t *t = arg;
    k1s_join_t *j = t->j;
    if (res->status == 404) {
        /* the Node is gone, and its password with it (k3s deletes both) */
        int r = k1s_join_node_password(j->passwd_path, t->node, t->pass, true);
        if (r < 0) {
            password_failed(j, t->req, t->node, r);
        } else {
            k1s_info("join: node \"%s\" joins from another machine (%s): its Node was deleted",
                     t->node, t->req->peer->addr);
            issue(j, t->req, t->serving, t->node, t->ip);
        }
    } else {
        char *msg = k1s_xasprintf(
            "k1s: node password validation failed for node \"%s\": another machine has already "
            "joined with this name (give this agent another --node-name, or delete Node \"%s\" "
            "(kubectl delete node %s) to let this machine take the name over)\n",
            t->node, t->node, t->node);
        k1s_warn("join: refused node \"%s\" from %s: wrong node password", t->node,
                 t->req->peer->addr);
        respond_text(t->req, 403, msg);
        free(msg);
    }
    OPENSSL_cleanse(t->pass, strlen(t->pass));
    free(t->pass);
    free(t->node);
    free(t->ip);
    free(t);
}

static void handle_cert(k1s_join_t *j, k1s_http_req_t *req, bool serving)
{
    const char *node = k1s_http_req_header(req, "k1s-Node-Name");
    const char *pass = k1s_http_req_header(req, "k1s-Node-Password");
    const char *ip = k1s_http_req_header(req, "k1s-Node-IP");
    if (!node || !*node || !valid_node_name(node)) {
        respond_text(req, 400,
                     "k1s: the k1s-Node-Name header must hold a node name (lower-case letters, "
                     "digits, '-' and '.')\n");
        return;
    }
    if (!pass || !*pass) {
        respond_text(req, 400, "k1s: the k1s-Node-Password header is missing\n");
        return;
    }
    int r = k1s_join_node_password(j->passwd_path, node, pass, false);
    if (r == -EPERM) {
        static const k1s_gvr_t nodes = {"", "v1", "nodes", false};
        takeover_t *t = k1s_xcalloc(1, sizeof(*t));
        t->j = j;
        t->req = req;
        t->serving = serving;
        t->node = k1s_xstrdup(node);
        t->ip = ip ? k1s_xstrdup(ip) : NULL;
        t->pass = k1s_xstrdup(pass);
        k1s_client_get(j->client, &nodes, NULL, node, node_looked_up, t);
        return;
    }
    if (r < 0) {
        password_failed(j, req, node, r);
        return;
    }
    issue(j, req, serving, node, ip);
}

void k1s_join_handle(k1s_http_req_t *req, void *arg)
{
    k1s_join_t *j = arg;
    const char *p = req->path;
    bool get = !strcmp(req->method, "GET");
    if (!strcmp(p, "/cacerts") && get) {
        respond_file(req, j->tls_dir, "server-ca.crt");
        return;
    }
    if (!strcmp(p, "/ping") && get) {
        respond_text(req, 200, "pong");
        return;
    }
    if (strncmp(p, "/v1-k1s/", 8)) {
        j->next(req, j->next_arg);
        return;
    }
    if (!authorized(j, req)) {
        k1s_warn("join: refused %s %s from %s: wrong or missing token", req->method, p,
                 req->peer->addr);
        respond_text(req, 401,
                     "k1s: join refused: the token is not this server's (use the token in "
                     "server/token of the server's data directory)\n");
        return;
    }
    p += 8;
    if (!strcmp(p, "client-ca.crt") && get)
        respond_file(req, j->tls_dir, "client-ca.crt");
    else if (!strcmp(p, "client-kubelet.crt") && !strcmp(req->method, "POST"))
        handle_cert(j, req, false);
    else if (!strcmp(p, "serving-kubelet.crt") && !strcmp(req->method, "POST"))
        handle_cert(j, req, true);
    else
        respond_text(req, 404, "k1s: no such join endpoint\n");
}
