/*
 * Pulling over the OCI distribution API with libcurl: endpoint selection from
 * registries.yaml, the Docker/OCI auth flows (anonymous or basic-credential bearer tokens,
 * plain basic auth), manifest and index resolution to this node's platform, and blob
 * downloads straight into the content store with their digests checked. The result goes
 * through k1s_image_commit() like an import.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "runtime/image-int.h"
#include "runtime/libs.h"

typedef struct pull {
    k1s_image_store_t *st;
    const k1s_image_pull_opts_t *opts;
    k1s_image_ref_t ref;
    char *refstr;
    const k1s_registry_endpoint_t *ep;
    CURL *curl;
    char *auth; /* "Authorization: ..." for this endpoint, once known */
    const char *user, *pass;
    /* progress */
    size_t layer, n_layers;
    const char *digest;
    uint64_t layer_done, layer_total, done, total;
    const char *status;
    /* parallel layer downloads share the byte count and serialise progress callbacks */
    pthread_mutex_t *mu;
    uint64_t *donep; /* &done, or the shared count */
} pull_t;

/* Layers downloaded at once (each on its own thread and connection), as containerd's
 * default max_concurrent_downloads is 3. */
#define PULL_PARALLEL 3

typedef struct req {
    const char *url;
    const char *accept;
    const char *post; /* a form to POST, or NULL */
    bool head;
    k1s_buf_t *body; /* small responses */
    size_t max;
    k1s_blob_writer_t *w; /* blob downloads */
    bool w_failed;
    /* response */
    long status;
    char *ctype, *digest, *www_auth;
    char curl_err[CURL_ERROR_SIZE];
    CURLcode cc;
} req_t;

static void progress(pull_t *p)
{
    if (!p->opts || !p->opts->progress)
        return;
    if (p->mu)
        pthread_mutex_lock(p->mu);
    k1s_image_progress_t pr = {p->refstr,     p->status,      p->layer,  p->n_layers, p->digest,
                               p->layer_done, p->layer_total, *p->donep, p->total};
    p->opts->progress(&pr, p->opts->progress_arg);
    if (p->mu)
        pthread_mutex_unlock(p->mu);
}

static void add_done(pull_t *p, int64_t delta)
{
    if (p->mu)
        pthread_mutex_lock(p->mu);
    *p->donep += (uint64_t)delta;
    if (p->mu)
        pthread_mutex_unlock(p->mu);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    req_t *r = ud;
    size_t len = size * n;
    char *line = k1s_xstrndup(buf, len);
    char *colon = strchr(line, ':');
    if (colon) {
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            v[--vl] = 0;
        char **dst = NULL;
        if (!strcasecmp(line, "content-type"))
            dst = &r->ctype;
        else if (!strcasecmp(line, "docker-content-digest"))
            dst = &r->digest;
        else if (!strcasecmp(line, "www-authenticate"))
            dst = &r->www_auth;
        if (dst) {
            free(*dst);
            *dst = k1s_xstrdup(v);
        }
    } else if (!strncmp(line, "HTTP/", 5)) {
        /* a new response (after a redirect): forget the previous one's headers */
        free(r->ctype);
        free(r->digest);
        r->ctype = r->digest = NULL;
    }
    free(line);
    return len;
}

typedef struct wctx {
    pull_t *p;
    req_t *r;
} wctx_t;

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    wctx_t *c = ud;
    req_t *r = c->r;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo(c->p->curl, CURLINFO_RESPONSE_CODE, &code);
    if (r->w && code == 200) {
        if (k1s_blob_writer_write(r->w, buf, len) < 0) {
            r->w_failed = true;
            return 0;
        }
        pull_t *p = c->p;
        p->layer_done += len;
        add_done(p, (int64_t)len);
        progress(p);
        return len;
    }
    if (r->body) {
        if (r->body->len + len > r->max)
            return 0;
        k1s_buf_append(r->body, buf, len);
    }
    return len;
}

static void req_clear(req_t *r)
{
    free(r->ctype);
    free(r->digest);
    free(r->www_auth);
    r->ctype = r->digest = r->www_auth = NULL;
}

static int do_request(pull_t *p, req_t *r, const char *auth_header)
{
    CURL *c = p->curl;
    curl_easy_reset(c);
    req_clear(r);
    r->status = 0;
    r->curl_err[0] = 0;
    wctx_t wc = {p, r};
    struct curl_slist *h = NULL;
    char *accept = NULL;
    if (r->accept) {
        accept = k1s_xasprintf("Accept: %s", r->accept);
        h = curl_slist_append(h, accept);
    }
    if (auth_header)
        h = curl_slist_append(h, auth_header);
    if (r->post)
        h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "k1s/" K1S_VERSION);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    /* a registry that stops sending for a minute is given up on */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &wc);
    if (r->head)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (r->post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->post);
    const k1s_registry_config_t *cfg = p->ep ? p->ep->config : NULL;
    if (cfg) {
        if (cfg->ca_file)
            curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
        if (cfg->cert_file) {
            curl_easy_setopt(c, CURLOPT_SSLCERT, cfg->cert_file);
            curl_easy_setopt(c, CURLOPT_SSLKEY, cfg->key_file);
        }
        if (cfg->insecure_skip_verify) {
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    uint64_t layer_done0 = p->layer_done;
    r->cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->w && r->status != 200) { /* an error body, or a 401 before the retry */
        add_done(p, -(int64_t)(p->layer_done - layer_done0));
        p->layer_done = layer_done0;
    }
    curl_slist_free_all(h);
    free(accept);
    if (r->w_failed)
        return -EIO;
    if (r->cc != CURLE_OK && !(r->cc == CURLE_WRITE_ERROR && r->body))
        return -EIO;
    if (r->cc == CURLE_WRITE_ERROR)
        return -EFBIG;
    return 0;
}

/* Value of key in a WWW-Authenticate challenge (new string or NULL). */
static char *challenge_param(const char *ch, const char *key)
{
    size_t kl = strlen(key);
    const char *s = strchr(ch, ' ');
    while (s && *s) {
        while (*s == ' ' || *s == ',')
            s++;
        const char *eq = strchr(s, '=');
        if (!eq)
            return NULL;
        bool match = (size_t)(eq - s) == kl && !strncasecmp(s, key, kl);
        const char *v = eq + 1, *end;
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "");
        if (*v == '"') {
            v++;
            for (end = v; *end && *end != '"'; end++) {
                if (*end == '\\' && end[1])
                    end++;
                k1s_buf_putc(&b, *end);
            }
            s = *end ? end + 1 : end;
        } else {
            end = v + strcspn(v, ",");
            k1s_buf_append(&b, v, (size_t)(end - v));
            s = end;
        }
        if (match)
            return k1s_buf_steal(&b);
        k1s_buf_free(&b);
    }
    return NULL;
}

static char *basic_header(const char *user, const char *pass)
{
    char *plain = k1s_xasprintf("%s:%s", user, pass ? pass : "");
    size_t n = strlen(plain);
    char *b64 = k1s_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain, (int)n);
    char *h = k1s_xasprintf("Authorization: Basic %s", b64);
    free(plain);
    free(b64);
    return h;
}

static const char *creds_hint(pull_t *p)
{
    (void)p;
    return p->user ? "check the credentials" : "configure credentials";
}

/* Fetches a bearer token for the challenge. */
static int fetch_token(pull_t *p, const char *challenge, k1s_err_t *err)
{
    char *realm = challenge_param(challenge, "realm");
    char *service = challenge_param(challenge, "service");
    char *scope = challenge_param(challenge, "scope");
    int rc = 0;
    if (!realm) {
        rc = k1s_err_set(err, EPROTO, "registry asked for a bearer token without a realm");
        goto out;
    }
    if (!scope)
        scope = k1s_xasprintf("repository:%s:pull", p->ep->repository);
    /* an identity token (registries.yaml's identitytoken) is an OAuth2 refresh token that
     * is POSTed, as docker does; otherwise GET, with basic credentials if there are any */
    const char *identity = !p->user && p->ep->config ? p->ep->config->identity_token : NULL;
    k1s_buf_t url = K1S_BUF_INIT, form = K1S_BUF_INIT;
    k1s_buf_puts(&url, realm);
    k1s_buf_t *q = identity ? &form : &url;
    char sep = identity ? 0 : strchr(realm, '?') ? '&' : '?';
    if (service) {
        char *e = curl_easy_escape(p->curl, service, 0);
        if (sep)
            k1s_buf_putc(q, sep);
        k1s_buf_printf(q, "service=%s", e);
        curl_free(e);
        sep = '&';
    }
    char *e = curl_easy_escape(p->curl, scope, 0);
    if (sep)
        k1s_buf_putc(q, sep);
    k1s_buf_printf(q, "scope=%s", e);
    curl_free(e);
    if (identity) {
        e = curl_easy_escape(p->curl, identity, 0);
        k1s_buf_printf(q, "&grant_type=refresh_token&client_id=k1s&refresh_token=%s", e);
        curl_free(e);
    }
    k1s_buf_t body = K1S_BUF_INIT;
    req_t r = {.url = url.data, .body = &body, .max = 1 << 20, .post = form.data};
    char *basic = p->user ? basic_header(p->user, p->pass) : NULL;
    rc = do_request(p, &r, basic);
    free(basic);
    if (rc < 0) {
        rc = k1s_err_set(err, ECONNREFUSED, "token server %s: %s", realm,
                         r.curl_err[0] ? r.curl_err : curl_easy_strerror(r.cc));
    } else if (r.status == 401 || r.status == 403) {
        rc = k1s_err_set(err, EACCES, "token server answered %ld %s (%s in %s)", r.status,
                         r.status == 401 ? "Unauthorized" : "Forbidden", creds_hint(p),
                         k1s_registries_source(p->st->reg));
    } else if (r.status != 200) {
        rc = k1s_err_set(err, EPROTO, "token server %s answered %ld", realm, r.status);
    } else {
        json_t *j = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
        const char *tok = json_string_value(json_object_get(j, "token"));
        if (!tok || !*tok)
            tok = json_string_value(json_object_get(j, "access_token"));
        if (!tok || !*tok) {
            rc = k1s_err_set(err, EPROTO, "token server %s answered without a token", realm);
        } else {
            free(p->auth);
            p->auth = k1s_xasprintf("Authorization: Bearer %s", tok);
        }
        json_decref(j);
    }
    req_clear(&r);
    k1s_buf_free(&body);
    k1s_buf_free(&url);
    k1s_buf_free(&form);
out:
    free(realm);
    free(service);
    free(scope);
    return rc;
}

/* A request with the auth dance: on 401, obtain what the challenge asks for, retry once. */
static int request(pull_t *p, req_t *r, k1s_err_t *err)
{
    for (int attempt = 0;; attempt++) {
        if (r->body)
            k1s_buf_reset(r->body);
        if (r->w && k1s_blob_writer_reset(r->w) < 0)
            return k1s_err_set(err, errno, "truncate download: %s", strerror(errno));
        int rc = do_request(p, r, p->auth);
        if (rc == -EFBIG)
            return k1s_err_set(err, EFBIG, "%s: response larger than %zu bytes", r->url, r->max);
        if (rc < 0 && r->w_failed)
            return k1s_err_set(err, EIO, "write to the content store: %s", strerror(errno));
        if (rc < 0) {
            int e = ECONNREFUSED;
            const char *msg = r->curl_err[0] ? r->curl_err : curl_easy_strerror(r->cc);
            const char *src = k1s_registries_source(p->st->reg);
            char hint[512] = "";
            /* a server refusing our (missing) client certificate after a TLS 1.3 handshake
             * shows as a reset on the first write or read */
            bool ssl = strstr(msg, "SSL") || strstr(msg, "TLS") ||
                       ((r->cc == CURLE_SEND_ERROR || r->cc == CURLE_RECV_ERROR) &&
                        k1s_str_has_prefix(r->url, "https://"));
            if (r->cc == CURLE_OPERATION_TIMEDOUT) {
                e = ETIMEDOUT;
            } else if (r->cc == CURLE_COULDNT_RESOLVE_HOST) {
                e = EHOSTUNREACH;
            } else if (r->cc == CURLE_PEER_FAILED_VERIFICATION) {
                e = EPROTO;
                snprintf(hint, sizeof(hint),
                         " (for a registry with a private CA set tls.ca_file for it in %s)", src);
            } else if (strstr(msg, "wrong version number")) {
                e = EPROTO;
                snprintf(hint, sizeof(hint),
                         " (a registry serving plain HTTP needs an http:// endpoint under mirrors "
                         "in %s)",
                         src);
            } else if (r->cc == CURLE_SSL_CERTPROBLEM || r->cc == CURLE_SSL_CACERT_BADFILE) {
                e = EPROTO;
                snprintf(hint, sizeof(hint), " (check the tls files for this registry in %s)", src);
            } else if (ssl || r->cc == CURLE_SSL_CONNECT_ERROR) {
                e = EPROTO;
                snprintf(hint, sizeof(hint),
                         " (if the registry wants a client certificate, set tls.cert_file and "
                         "tls.key_file for it in %s)",
                         src);
            }
            return k1s_err_set(err, e, "%s%s", msg, hint);
        }
        if (r->status != 401 || attempt > 0)
            break;
        const char *ch = r->www_auth ? r->www_auth : "";
        if (!strncasecmp(ch, "Bearer", 6)) {
            rc = fetch_token(p, ch, err);
            if (rc < 0)
                return rc;
        } else if (!strncasecmp(ch, "Basic", 5) && p->user) {
            free(p->auth);
            p->auth = basic_header(p->user, p->pass);
        } else {
            break;
        }
    }
    if (r->status == 401)
        return k1s_err_set(err, EACCES, "registry answered 401 Unauthorized (%s in %s)",
                           creds_hint(p), k1s_registries_source(p->st->reg));
    if (r->status == 403)
        return k1s_err_set(err, EACCES, "registry answered 403 Forbidden (%s in %s)", creds_hint(p),
                           k1s_registries_source(p->st->reg));
    return 0;
}

/* An unexpected HTTP status, with what to do about the common ones. */
static int status_error(pull_t *p, long status, const char *url, k1s_err_t *err)
{
    if (status == 429)
        return k1s_err_set(err, EAGAIN,
                           "registry answered 429 Too Many Requests (pull limit reached: "
                           "configure credentials or a mirror in %s, or retry later)",
                           k1s_registries_source(p->st->reg));
    return k1s_err_set(err, EPROTO, "registry answered %ld to GET %s%s", status, url,
                       status >= 500 ? " (the registry has a problem; retry later)" : "");
}

static const char *manifest_accept = K1S_MEDIA_OCI_INDEX
    ", " K1S_MEDIA_OCI_MANIFEST ", " K1S_MEDIA_DOCKER_LIST ", " K1S_MEDIA_DOCKER_MANIFEST;

void k1s_image_platform(const char **arch, const char **variant)
{
    struct utsname u;
    *variant = NULL;
    *arch = "amd64";
    if (uname(&u) < 0)
        return;
    if (!strcmp(u.machine, "x86_64"))
        *arch = "amd64";
    else if (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64"))
        *arch = "arm64", *variant = "v8";
    else if (!strncmp(u.machine, "armv7", 5))
        *arch = "arm", *variant = "v7";
    else if (!strncmp(u.machine, "armv6", 5))
        *arch = "arm", *variant = "v6";
    else if (!strcmp(u.machine, "i686") || !strcmp(u.machine, "i386"))
        *arch = "386";
    else if (!strcmp(u.machine, "riscv64"))
        *arch = "riscv64";
    else if (!strcmp(u.machine, "ppc64le"))
        *arch = "ppc64le";
    else if (!strcmp(u.machine, "s390x"))
        *arch = "s390x";
}

/* Picks this platform's manifest from an index (new string). */
static char *select_platform(json_t *index, k1s_err_t *err)
{
    const char *arch, *variant;
    k1s_image_platform(&arch, &variant);
    json_t *ms = json_object_get(index, "manifests");
    size_t i;
    json_t *m;
    const char *best = NULL;
    int best_score = -1;
    json_array_foreach(ms, i, m)
    {
        json_t *pl = json_object_get(m, "platform");
        const char *os = json_string_value(json_object_get(pl, "os"));
        const char *a = json_string_value(json_object_get(pl, "architecture"));
        const char *v = json_string_value(json_object_get(pl, "variant"));
        const char *d = json_string_value(json_object_get(m, "digest"));
        if (!k1s_streq(os, "linux") || !k1s_streq(a, arch) || !k1s_digest_valid(d))
            continue;
        int score = 1;
        if (variant && v && !strcmp(v, variant))
            score = 2;
        else if (variant && v && strcmp(v, variant) != 0 && strcmp(arch, "arm64") != 0)
            continue; /* arm v6 cannot run v7 */
        if (score > best_score) {
            best = d;
            best_score = score;
        }
    }
    if (!best) {
        k1s_err_set(err, ENOENT, "no image for linux/%s%s%s in the index", arch, variant ? "/" : "",
                    variant ? variant : "");
        return NULL;
    }
    return k1s_xstrdup(best);
}

static bool is_index(const char *ctype, json_t *j)
{
    const char *mt = json_string_value(json_object_get(j, "mediaType"));
    if (mt && (!strcmp(mt, K1S_MEDIA_OCI_INDEX) || !strcmp(mt, K1S_MEDIA_DOCKER_LIST)))
        return true;
    if (ctype && (k1s_str_has_prefix(ctype, K1S_MEDIA_OCI_INDEX) ||
                  k1s_str_has_prefix(ctype, K1S_MEDIA_DOCKER_LIST)))
        return true;
    return !json_object_get(j, "layers") && json_is_array(json_object_get(j, "manifests"));
}

/* Fetches manifest `what` (tag or digest) into the store; *digest receives its digest. A HEAD
 * first avoids downloading a manifest that is already here. */
static int fetch_manifest(pull_t *p, const char *what, char digest[72], bool *index, k1s_err_t *err)
{
    char *url = k1s_xasprintf("%s/%s/manifests/%s", p->ep->url, p->ep->repository, what);
    k1s_buf_t body = K1S_BUF_INIT;
    req_t r = {.url = url, .accept = manifest_accept, .head = true};
    int rc = 0;
    char kbuf[72];
    const char *known = k1s_digest_valid(what) ? what : NULL;
    char *data = NULL;
    size_t len = 0;
    if (!known) {
        rc = request(p, &r, err);
        if (rc == 0 && r.status == 200 && k1s_digest_valid(r.digest)) {
            snprintf(kbuf, sizeof(kbuf), "%s", r.digest);
            known = kbuf;
        } else {
            rc = 0; /* some registries do not answer HEAD well: GET decides */
        }
    }
    if (known && k1s_blob_read(p->st, known, K1S_IMAGE_META_MAX, &data, &len, NULL) == 0) {
        k1s_debug("pull %s: manifest %s already present", p->refstr, known);
        snprintf(digest, 72, "%s", known);
    } else {
        r.head = false;
        r.body = &body;
        r.max = K1S_IMAGE_META_MAX;
        rc = request(p, &r, err);
        if (rc < 0)
            goto out;
        if (r.status == 404) {
            rc = k1s_err_set(err, ENOENT, "manifest %s not found", what);
            goto out;
        }
        if (r.status != 200) {
            rc = status_error(p, r.status, url, err);
            goto out;
        }
        k1s_sha256_digest(body.data ? body.data : "", body.len, digest);
        if (known && strcmp(known, digest) != 0) {
            rc = k1s_err_set(err, EBADMSG, "manifest %s: content has digest %s", known, digest);
            goto out;
        }
        rc = k1s_blob_put(p->st, body.data ? body.data : "", body.len, digest, NULL, err);
        if (rc < 0)
            goto out;
        data = k1s_buf_steal(&body);
        len = strlen(data);
    }
    json_t *j = json_loadb(data, len, 0, NULL);
    if (!json_is_object(j))
        rc = k1s_err_set(err, EBADMSG, "manifest %s is not JSON", digest);
    else
        *index = is_index(r.ctype, j);
    json_decref(j);
out:
    free(data);
    req_clear(&r);
    k1s_buf_free(&body);
    free(url);
    return rc;
}

static int fetch_blob(pull_t *p, const char *digest, uint64_t size, k1s_err_t *err)
{
    k1s_blob_writer_t w;
    bool have;
    int rc = k1s_blob_writer_begin(p->st, digest, &w, &have, err);
    if (rc < 0)
        return rc;
    if (have) {
        k1s_blob_writer_abort(&w);
        add_done(p, (int64_t)size);
        return 0;
    }
    char *url = k1s_xasprintf("%s/%s/blobs/%s", p->ep->url, p->ep->repository, digest);
    req_t r = {.url = url, .w = &w};
    p->layer_done = 0;
    p->layer_total = size;
    rc = request(p, &r, err);
    if (rc == 0 && r.status == 404)
        rc = k1s_err_set(err, ENOENT, "blob %s not found", digest);
    else if (rc == 0 && r.status != 200)
        rc = status_error(p, r.status, url, err);
    if (rc == 0)
        rc = k1s_blob_writer_commit(&w, size, NULL, err);
    else
        k1s_blob_writer_abort(&w);
    req_clear(&r);
    free(url);
    return rc;
}

typedef struct dl {
    pthread_mutex_t mu;
    pull_t *parent;
    const k1s_image_layer_t *L;
    size_t n, next;
    const bool *have;
    uint64_t done;
    int rc;
    k1s_err_t err;
} dl_t;

/* Downloads layers not yet taken by another worker until none is left or one failed. */
static void *dl_worker(void *arg)
{
    dl_t *d = arg;
    pull_t p = *d->parent;
    p.curl = curl_easy_init();
    k1s_assert(p.curl);
    p.auth = d->parent->auth ? k1s_xstrdup(d->parent->auth) : NULL;
    p.mu = &d->mu;
    p.donep = &d->done;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (d->next < d->n && d->have[d->next])
            d->next++;
        size_t i = d->next++;
        bool stop = i >= d->n || d->rc < 0;
        pthread_mutex_unlock(&d->mu);
        if (stop)
            break;
        p.layer = i;
        p.digest = d->L[i].digest;
        p.layer_done = 0;
        p.layer_total = d->L[i].size;
        progress(&p);
        k1s_err_t e = {0};
        int rc = fetch_blob(&p, d->L[i].digest, d->L[i].size, &e);
        if (rc < 0) {
            k1s_err_prefix(&e, "layer %s", d->L[i].digest);
            pthread_mutex_lock(&d->mu);
            if (d->rc == 0) {
                d->rc = rc;
                d->err = e;
            }
            pthread_mutex_unlock(&d->mu);
            break;
        }
    }
    curl_easy_cleanup(p.curl);
    free(p.auth);
    return NULL;
}

/* The whole pull from one endpoint. */
static int pull_from(pull_t *p, const char *name, k1s_image_t **out, k1s_err_t *err)
{
    char mdigest[72], *config = NULL;
    bool index = false;
    k1s_image_layer_t *L = NULL;
    size_t n = 0;
    char *mdata = NULL;
    size_t mlen;
    free(p->auth);
    p->auth = NULL;
    p->status = "resolving";
    progress(p);
    int rc = fetch_manifest(p, p->ref.digest ? p->ref.digest : p->ref.tag, mdigest, &index, err);
    if (rc < 0)
        return rc;
    if (index) {
        char *data;
        size_t len;
        rc = k1s_blob_read(p->st, mdigest, K1S_IMAGE_META_MAX, &data, &len, err);
        if (rc < 0)
            return rc;
        json_t *j = json_loadb(data, len, 0, NULL);
        free(data);
        char *sel = select_platform(j, err);
        json_decref(j);
        if (!sel)
            return -ENOENT;
        rc = fetch_manifest(p, sel, mdigest, &index, err);
        free(sel);
        if (rc < 0)
            return rc;
        if (index)
            return k1s_err_set(err, EBADMSG, "an index inside an index is not supported");
    }
    rc = k1s_blob_read(p->st, mdigest, K1S_IMAGE_META_MAX, &mdata, &mlen, err);
    if (rc == 0)
        rc = k1s_manifest_parse(mdata, mlen, &config, &L, &n, err);
    free(mdata);
    if (rc < 0)
        return rc;
    p->n_layers = n;
    p->total = p->done = 0;
    for (size_t i = 0; i < n; i++)
        p->total += L[i].size;
    rc = fetch_blob(p, config, 0, err);
    if (rc < 0) {
        k1s_err_prefix(err, "config");
        goto out;
    }
    p->done = 0;
    /* layers whose snapshot exists need no download: chain IDs come from the config */
    char *cdata;
    size_t clen;
    rc = k1s_blob_read(p->st, config, K1S_IMAGE_META_MAX, &cdata, &clen, err);
    if (rc < 0)
        goto out;
    json_t *cj = json_loadb(cdata, clen, 0, NULL);
    free(cdata);
    json_t *diffs = json_object_get(json_object_get(cj, "rootfs"), "diff_ids");
    json_t *idx = NULL;
    if (json_array_size(diffs) == n)
        rc = k1s_index_lock(p->st, &idx, err);
    if (rc < 0) {
        json_decref(cj);
        goto out;
    }
    bool *have = k1s_xcalloc(n + 1, sizeof(bool));
    char chain[72] = "";
    for (size_t i = 0; idx && i < n; i++) {
        const char *d = json_string_value(json_array_get(diffs, i));
        if (!d)
            break;
        if (i == 0) {
            snprintf(chain, sizeof(chain), "%s", d);
        } else {
            char *s = k1s_xasprintf("%s %s", chain, d);
            k1s_sha256_digest(s, strlen(s), chain);
            free(s);
        }
        have[i] = json_object_get(json_object_get(idx, "snapshots"), chain) != NULL;
    }
    if (idx) {
        k1s_index_unlock(p->st);
        json_decref(idx);
    }
    json_decref(cj);
    p->status = "downloading";
    dl_t d = {.parent = p, .L = L, .n = n, .have = have};
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        if (have[i])
            d.done += L[i].size;
        else
            missing++;
    }
    pthread_mutex_init(&d.mu, NULL);
    pthread_t th[PULL_PARALLEL];
    size_t nth = 0;
    for (; missing > 1 && nth < PULL_PARALLEL && nth < missing; nth++)
        if (pthread_create(&th[nth], NULL, dl_worker, &d) != 0)
            break;
    if (nth == 0 && missing > 0)
        dl_worker(&d); /* one layer, or no thread to be had: on this one */
    for (size_t i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&d.mu);
    p->done = d.done;
    rc = d.rc;
    if (rc < 0 && err)
        *err = d.err;
    free(have);
    p->digest = NULL;
    if (rc == 0)
        rc = k1s_image_commit(p->st, name, mdigest, p->opts ? p->opts->progress : NULL,
                              p->opts ? p->opts->progress_arg : NULL, out, err);
out:
    free(config);
    k1s_image_layers_free(L, n);
    return rc;
}

/* Ranks failures so the one most useful to the user is reported: auth and "not found" from a
 * registry that answered beat "could not connect". */
static int rank(int rc)
{
    switch (-rc) {
    case EACCES: return 4;
    case EBADMSG: return 3;
    case ENOENT: return 2;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ETIMEDOUT: return 0;
    default: return 1;
    }
}

int k1s_image_pull(k1s_image_store_t *st, const char *ref, const k1s_image_pull_opts_t *opts,
                   k1s_image_t **out, k1s_err_t *err)
{
    int rc = k1s_rt_curl_load(err);
    if (rc < 0)
        return k1s_err_prefix(err, "pull %s", ref);
    pull_t p = {.st = st, .opts = opts};
    p.donep = &p.done;
    rc = k1s_image_ref_parse(ref, &p.ref, err);
    if (rc < 0)
        return rc;
    p.refstr = k1s_image_ref_string(&p.ref);
    k1s_registry_endpoint_t *eps = NULL;
    size_t n_eps = 0;
    rc = k1s_registries_endpoints(st->reg, p.ref.domain, p.ref.path, &eps, &n_eps, err);
    if (rc < 0) {
        k1s_err_prefix(err, "pull %s", p.refstr);
        goto out;
    }
    p.curl = curl_easy_init();
    k1s_assert(p.curl);
    int gfd = k1s_gc_hold(st);
    k1s_err_t best = {0};
    int best_rc = 0;
    rc = -ENOENT;
    for (size_t i = 0; i < n_eps; i++) {
        p.ep = &eps[i];
        p.user = p.pass = NULL;
        for (size_t c = 0; opts && c < opts->n_creds; c++)
            if (k1s_streq(opts->creds[c].registry, p.ref.domain) ||
                k1s_streq(opts->creds[c].registry, p.ep->host)) {
                p.user = opts->creds[c].username;
                p.pass = opts->creds[c].password;
            }
        if (!p.user && p.ep->config && p.ep->config->username) {
            p.user = p.ep->config->username;
            p.pass = p.ep->config->password;
        }
        k1s_err_t e = {0};
        k1s_debug("pull %s: trying %s/%s", p.refstr, p.ep->url, p.ep->repository);
        rc = pull_from(&p, p.refstr, out, &e);
        if (rc == 0)
            break;
        k1s_err_prefix(&e, "%s%s", p.ep->is_default ? "" : "mirror ", p.ep->host);
        k1s_debug("pull %s: %s", p.refstr, e.msg);
        if (best_rc == 0 || rank(rc) > rank(best_rc)) {
            best = e;
            best_rc = rc;
        }
    }
    k1s_gc_release(gfd);
    /* a tag that moved leaves the old image's blobs and layers behind */
    if (rc == 0)
        k1s_image_store_gc(st, NULL, NULL);
    if (rc < 0) {
        rc = best_rc;
        if (err) {
            *err = best;
            k1s_err_prefix(err, "pull %s", p.refstr);
        }
    }
out:
    if (p.curl)
        curl_easy_cleanup(p.curl);
    k1s_registry_endpoints_free(eps, n_eps);
    free(p.auth);
    free(p.refstr);
    k1s_image_ref_clear(&p.ref);
    return rc;
}
