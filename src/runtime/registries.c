/*
 * registries.yaml: parsing k3s's private registry configuration and turning it into the list
 * of endpoints a pull tries (mirrors with their rewrites, then the registry itself).
 */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/buf.h"
#include "lib/yaml.h"
#include "runtime/registries.h"

typedef struct rewrite {
    char *pattern, *replacement;
} rewrite_t;

typedef struct mirror {
    char *name; /* registry name or "*" */
    char **endpoints;
    size_t n_endpoints;
    rewrite_t *rewrites;
    size_t n_rewrites;
} mirror_t;

typedef struct host_config {
    char *name;
    k1s_registry_config_t cfg;
} host_config_t;

struct k1s_registries {
    char *source;
    mirror_t *mirrors;
    size_t n_mirrors;
    host_config_t *configs;
    size_t n_configs;
};

static void config_clear(k1s_registry_config_t *c)
{
    free(c->username);
    free(c->password);
    free(c->identity_token);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
}

void k1s_registries_free(k1s_registries_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_mirrors; i++) {
        mirror_t *m = &r->mirrors[i];
        free(m->name);
        for (size_t j = 0; j < m->n_endpoints; j++)
            free(m->endpoints[j]);
        free(m->endpoints);
        for (size_t j = 0; j < m->n_rewrites; j++) {
            free(m->rewrites[j].pattern);
            free(m->rewrites[j].replacement);
        }
        free(m->rewrites);
    }
    free(r->mirrors);
    for (size_t i = 0; i < r->n_configs; i++) {
        free(r->configs[i].name);
        config_clear(&r->configs[i].cfg);
    }
    free(r->configs);
    free(r->source);
    free(r);
}

const char *k1s_registries_source(const k1s_registries_t *r)
{
    return r && r->source ? r->source : "registries.yaml";
}

/* A string field: absent -> NULL, string -> copy, anything else -> error. */
static int get_str(json_t *obj, const char *key, char **out, const char *where, k1s_err_t *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        *out = k1s_xstrdup(json_string_value(v));
        return 0;
    }
    if (json_is_integer(v)) { /* a password of digits */
        *out = k1s_xasprintf("%lld", (long long)json_integer_value(v));
        return 0;
    }
    return k1s_err_set(err, EINVAL, "%s.%s: must be a string", where, key);
}

static int parse_mirror(k1s_registries_t *r, const char *name, json_t *v, k1s_err_t *err)
{
    if (!json_is_object(v))
        return k1s_err_set(err, EINVAL, "mirrors.%s: must be a mapping", name);
    r->mirrors = k1s_xrealloc(r->mirrors, (r->n_mirrors + 1) * sizeof(*r->mirrors));
    mirror_t *m = &r->mirrors[r->n_mirrors++];
    memset(m, 0, sizeof(*m));
    m->name = k1s_xstrdup(name);
    json_t *eps = json_object_get(v, "endpoint");
    if (eps && !json_is_null(eps)) {
        if (!json_is_array(eps))
            return k1s_err_set(err, EINVAL, "mirrors.%s.endpoint: must be a list of URLs", name);
        m->endpoints = k1s_xcalloc(json_array_size(eps) + 1, sizeof(char *));
        size_t i;
        json_t *e;
        json_array_foreach(eps, i, e)
        {
            if (!json_is_string(e) || !*json_string_value(e))
                return k1s_err_set(err, EINVAL, "mirrors.%s.endpoint[%zu]: must be a URL", name, i);
            m->endpoints[m->n_endpoints++] = k1s_xstrdup(json_string_value(e));
        }
    }
    json_t *rw = json_object_get(v, "rewrite");
    if (rw && !json_is_null(rw)) {
        if (!json_is_object(rw))
            return k1s_err_set(err, EINVAL, "mirrors.%s.rewrite: must be a mapping", name);
        const char *pat;
        json_t *rep;
        m->rewrites = k1s_xcalloc(json_object_size(rw) + 1, sizeof(rewrite_t));
        json_object_foreach(rw, pat, rep)
        {
            if (!json_is_string(rep))
                return k1s_err_set(err, EINVAL, "mirrors.%s.rewrite.%s: must be a string", name,
                                   pat);
            regex_t re;
            if (regcomp(&re, pat, REG_EXTENDED) != 0)
                return k1s_err_set(err, EINVAL,
                                   "mirrors.%s.rewrite: '%s' is not a valid regular expression",
                                   name, pat);
            regfree(&re);
            m->rewrites[m->n_rewrites].pattern = k1s_xstrdup(pat);
            m->rewrites[m->n_rewrites++].replacement = k1s_xstrdup(json_string_value(rep));
        }
    }
    return 0;
}

static int parse_config(k1s_registries_t *r, const char *name, json_t *v, k1s_err_t *err)
{
    if (!json_is_object(v))
        return k1s_err_set(err, EINVAL, "configs.%s: must be a mapping", name);
    r->configs = k1s_xrealloc(r->configs, (r->n_configs + 1) * sizeof(*r->configs));
    host_config_t *h = &r->configs[r->n_configs++];
    memset(h, 0, sizeof(*h));
    h->name = k1s_xstrdup(name);
    k1s_registry_config_t *c = &h->cfg;
    char where[512];
    json_t *auth = json_object_get(v, "auth");
    if (auth && !json_is_null(auth)) {
        snprintf(where, sizeof(where), "configs.%s.auth", name);
        if (!json_is_object(auth))
            return k1s_err_set(err, EINVAL, "%s: must be a mapping", where);
        char *b64 = NULL;
        if (get_str(auth, "username", &c->username, where, err) < 0 ||
            get_str(auth, "password", &c->password, where, err) < 0 ||
            get_str(auth, "identitytoken", &c->identity_token, where, err) < 0 ||
            get_str(auth, "auth", &b64, where, err) < 0)
            return -EINVAL;
        if (b64) {
            /* "auth" is base64("user:password"), as in a docker config.json */
            size_t n = strlen(b64);
            unsigned char *dec = k1s_xmalloc(n + 4);
            int dl = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
            char *colon = dl > 0 ? memchr(dec, ':', (size_t)dl) : NULL;
            if (!colon) {
                free(dec);
                free(b64);
                return k1s_err_set(err, EINVAL, "%s.auth: not base64 of \"user:password\"", where);
            }
            /* EVP_DecodeBlock counts '=' padding as zero bytes */
            while (dl > 0 && dec[dl - 1] == 0)
                dl--;
            free(c->username);
            free(c->password);
            c->username = k1s_xstrndup((char *)dec, (size_t)(colon - (char *)dec));
            c->password = k1s_xstrndup(colon + 1, (size_t)dl - (size_t)(colon + 1 - (char *)dec));
            free(dec);
            free(b64);
        }
    }
    json_t *tls = json_object_get(v, "tls");
    if (tls && !json_is_null(tls)) {
        snprintf(where, sizeof(where), "configs.%s.tls", name);
        if (!json_is_object(tls))
            return k1s_err_set(err, EINVAL, "%s: must be a mapping", where);
        if (get_str(tls, "ca_file", &c->ca_file, where, err) < 0 ||
            get_str(tls, "cert_file", &c->cert_file, where, err) < 0 ||
            get_str(tls, "key_file", &c->key_file, where, err) < 0)
            return -EINVAL;
        json_t *ins = json_object_get(tls, "insecure_skip_verify");
        if (ins && !json_is_boolean(ins) && !json_is_null(ins))
            return k1s_err_set(err, EINVAL, "%s.insecure_skip_verify: must be true or false",
                               where);
        c->insecure_skip_verify = json_is_true(ins);
        if ((c->cert_file != NULL) != (c->key_file != NULL))
            return k1s_err_set(err, EINVAL, "%s: cert_file and key_file go together", where);
    }
    return 0;
}

int k1s_registries_parse(const char *data, size_t len, const char *source, k1s_registries_t **out,
                         k1s_err_t *err)
{
    json_t *root = NULL;
    const char *src = source ? source : "registries.yaml";
    if (k1s_yaml_to_json(data, len, &root, err) < 0)
        return k1s_err_prefix(err, "%s", src);
    k1s_registries_t *r = k1s_xcalloc(1, sizeof(*r));
    r->source = k1s_xstrdup(src);
    int rc = 0;
    if (json_is_null(root))
        goto done;
    if (!json_is_object(root)) {
        rc = k1s_err_set(err, EINVAL, "must be a mapping with mirrors and configs");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "mirrors") && strcmp(key, "configs")) {
            rc = k1s_err_set(err, EINVAL, "unknown key '%s' (expected mirrors, configs)", key);
            goto done;
        }
        if (json_is_null(v))
            continue;
        if (!json_is_object(v)) {
            rc = k1s_err_set(err, EINVAL, "%s: must be a mapping", key);
            goto done;
        }
        const char *name;
        json_t *e;
        json_object_foreach(v, name, e)
        {
            rc = !strcmp(key, "mirrors") ? parse_mirror(r, name, e, err)
                                         : parse_config(r, name, e, err);
            if (rc < 0)
                goto done;
        }
    }
done:
    json_decref(root);
    if (rc < 0) {
        k1s_registries_free(r);
        return k1s_err_prefix(err, "%s", src);
    }
    *out = r;
    return 0;
}

int k1s_registries_load(const char *path, k1s_registries_t **out, k1s_err_t *err)
{
    char *data = NULL;
    size_t len = 0;
    int r = k1s_read_file(path, &data, &len);
    if (r == -ENOENT) {
        k1s_registries_t *reg = k1s_xcalloc(1, sizeof(*reg));
        reg->source = k1s_xstrdup(path);
        *out = reg;
        return 0;
    }
    if (r < 0)
        return k1s_err_set(err, -r, "read %s: %s", path, strerror(-r));
    r = k1s_registries_parse(data, len, path, out, err);
    free(data);
    return r;
}

const k1s_registry_config_t *k1s_registries_config(const k1s_registries_t *r, const char *host)
{
    if (!r || !host)
        return NULL;
    const k1s_registry_config_t *star = NULL;
    for (size_t i = 0; i < r->n_configs; i++) {
        if (!strcmp(r->configs[i].name, host))
            return &r->configs[i].cfg;
        if (!strcmp(r->configs[i].name, "*"))
            star = &r->configs[i].cfg;
    }
    return star;
}

/* Applies the first matching rewrite: the match is replaced, $1..$9 expanded. */
static int apply_rewrites(const mirror_t *m, const char *repo, char **out, k1s_err_t *err)
{
    for (size_t i = 0; i < m->n_rewrites; i++) {
        regex_t re;
        if (regcomp(&re, m->rewrites[i].pattern, REG_EXTENDED) != 0)
            return k1s_err_set(err, EINVAL, "rewrite '%s' is not a valid regular expression",
                               m->rewrites[i].pattern);
        regmatch_t mt[10];
        if (regexec(&re, repo, 10, mt, 0) != 0) {
            regfree(&re);
            continue;
        }
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_append(&b, repo, (size_t)mt[0].rm_so);
        for (const char *p = m->rewrites[i].replacement; *p; p++) {
            if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
                int g = p[1] - '0';
                if (mt[g].rm_so >= 0)
                    k1s_buf_append(&b, repo + mt[g].rm_so, (size_t)(mt[g].rm_eo - mt[g].rm_so));
                p++;
            } else if (*p == '$' && p[1] == '{' && p[2] >= '0' && p[2] <= '9' && p[3] == '}') {
                int g = p[2] - '0';
                if (mt[g].rm_so >= 0)
                    k1s_buf_append(&b, repo + mt[g].rm_so, (size_t)(mt[g].rm_eo - mt[g].rm_so));
                p += 3;
            } else {
                k1s_buf_putc(&b, *p);
            }
        }
        k1s_buf_puts(&b, repo + mt[0].rm_eo);
        regfree(&re);
        *out = k1s_buf_steal(&b);
        return 0;
    }
    *out = k1s_xstrdup(repo);
    return 0;
}

/* Splits an endpoint URL into "scheme://host[:port]/.../v2" and "host[:port]". */
static void endpoint_url(const char *ep, char **url, char **host)
{
    const char *scheme = "https";
    const char *rest = ep;
    const char *sep = strstr(ep, "://");
    char *sch = NULL;
    if (sep) {
        sch = k1s_xstrndup(ep, (size_t)(sep - ep));
        scheme = sch;
        rest = sep + 3;
    }
    size_t hl = strcspn(rest, "/");
    *host = k1s_xstrndup(rest, hl);
    const char *path = rest + hl;
    size_t pl = strlen(path);
    while (pl > 0 && path[pl - 1] == '/')
        pl--;
    if (pl >= 3 && !strncmp(path + pl - 3, "/v2", 3))
        *url = k1s_xasprintf("%s://%s%.*s", scheme, *host, (int)pl, path);
    else
        *url = k1s_xasprintf("%s://%s%.*s/v2", scheme, *host, (int)pl, path);
    free(sch);
}

int k1s_registries_endpoints(const k1s_registries_t *r, const char *registry,
                             const char *repository, k1s_registry_endpoint_t **eps, size_t *n,
                             k1s_err_t *err)
{
    const mirror_t *m = NULL;
    for (size_t i = 0; r && i < r->n_mirrors; i++)
        if (!strcmp(r->mirrors[i].name, registry))
            m = &r->mirrors[i];
    for (size_t i = 0; !m && r && i < r->n_mirrors; i++)
        if (!strcmp(r->mirrors[i].name, "*"))
            m = &r->mirrors[i];
    size_t cnt = 0, cap = (m ? m->n_endpoints : 0) + 1;
    k1s_registry_endpoint_t *out = k1s_xcalloc(cap, sizeof(*out));
    char *def_url = NULL, *def_host = NULL;
    if (!strcmp(registry, "docker.io"))
        endpoint_url("https://registry-1.docker.io", &def_url, &def_host);
    else
        endpoint_url(registry, &def_url, &def_host);
    for (size_t i = 0; m && i < m->n_endpoints; i++) {
        k1s_registry_endpoint_t *e = &out[cnt];
        endpoint_url(m->endpoints[i], &e->url, &e->host);
        if (!strcmp(e->url, def_url)) { /* the registry itself listed as a mirror */
            free(e->url);
            free(e->host);
            e->url = e->host = NULL;
            continue;
        }
        if (apply_rewrites(m, repository, &e->repository, err) < 0) {
            free(def_url);
            free(def_host);
            k1s_registry_endpoints_free(out, cnt + 1);
            return -EINVAL;
        }
        e->config = k1s_registries_config(r, e->host);
        cnt++;
    }
    k1s_registry_endpoint_t *d = &out[cnt++];
    d->url = def_url;
    d->host = def_host;
    d->repository = k1s_xstrdup(repository);
    d->is_default = true;
    d->config = NULL;
    for (size_t i = 0; r && i < r->n_configs && !d->config; i++)
        if (!strcmp(r->configs[i].name, registry) || !strcmp(r->configs[i].name, def_host))
            d->config = &r->configs[i].cfg;
    if (!d->config)
        d->config = k1s_registries_config(r, "*");
    *eps = out;
    *n = cnt;
    return 0;
}

void k1s_registry_endpoints_free(k1s_registry_endpoint_t *eps, size_t n)
{
    if (!eps)
        return;
    for (size_t i = 0; i < n; i++) {
        free(eps[i].url);
        free(eps[i].host);
        free(eps[i].repository);
    }
    free(eps);
}
