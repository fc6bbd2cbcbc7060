/*
 * Image references, parsed and normalised as docker's reference package
 * (ParseNormalizedNamed) does, which is what containerd's CRI and kubelet use.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/image.h"

void k1s_image_ref_clear(k1s_image_ref_t *r)
{
    if (!r)
        return;
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool valid_component(const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        size_t run = i;
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == run)
            return false;
        if (i == n)
            return true;
        if (s[i] == '.')
            i++;
        else if (s[i] == '_')
            i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        else if (s[i] == '-')
            while (i < n && s[i] == '-')
                i++;
        else
            return false;
    }
}

static bool valid_domain(const char *s)
{
    if (!*s)
        return false;
    const char *port = NULL;
    if (s[0] == '[') { /* IPv6 literal */
        const char *e = strchr(s, ']');
        if (!e || e == s + 1)
            return false;
        for (const char *p = s + 1; p < e; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':')
                return false;
        if (e[1] == ':')
            port = e + 2;
        else if (e[1])
            return false;
    } else {
        const char *colon = strchr(s, ':');
        size_t hl = colon ? (size_t)(colon - s) : strlen(s);
        if (hl == 0)
            return false;
        for (size_t i = 0; i < hl; i++) {
            char c = s[i];
            if (!isalnum((unsigned char)c) && c != '-' && c != '.')
                return false;
            if ((c == '-' || c == '.') && (i == 0 || i == hl - 1))
                return false;
        }
        if (colon)
            port = colon + 1;
    }
    if (port) {
        if (!*port || strlen(port) > 5)
            return false;
        for (const char *p = port; *p; p++)
            if (!isdigit((unsigned char)*p))
                return false;
    }
    return true;
}

static bool valid_tag(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
            return false;
    return true;
}

static bool valid_digest(const char *d)
{
    if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
        return false;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

int k1s_image_ref_parse(const char *s, k1s_image_ref_t *out, k1s_err_t *err)
{
    if (!s || !*s)
        return k1s_err_set(err, EINVAL, "invalid image reference '': empty");
    if (strlen(s) > 4096)
        return k1s_err_set(err, EINVAL, "invalid image reference: longer than 4096 characters");
    k1s_image_ref_t r = {0};
    char *buf = k1s_xstrdup(s);
    const char *why = NULL;
    char *at = strrchr(buf, '@');
    if (at) {
        *at = 0;
        if (!valid_digest(at + 1)) {
            why = "the digest must be sha256: and 64 lowercase hex digits";
            goto bad;
        }
        r.digest = k1s_xstrdup(at + 1);
    }
    char *slash = strrchr(buf, '/');
    char *colon = strrchr(slash ? slash : buf, ':');
    if (colon) {
        *colon = 0;
        if (!valid_tag(colon + 1)) {
            why = "invalid tag";
            goto bad;
        }
        r.tag = k1s_xstrdup(colon + 1);
    }
    char *name = buf;
    char *first = strchr(name, '/');
    if (first) {
        size_t fl = (size_t)(first - name);
        bool domain = memchr(name, '.', fl) || memchr(name, ':', fl) ||
                      (fl == 9 && !strncmp(name, "localhost", 9));
        for (size_t i = 0; i < fl && !domain; i++)
            if (isupper((unsigned char)name[i]))
                domain = true;
        if (domain) {
            r.domain = k1s_xstrndup(name, fl);
            name = first + 1;
        }
    }
    if (!r.domain)
        r.domain = k1s_xstrdup("docker.io");
    if (!strcmp(r.domain, "index.docker.io")) {
        free(r.domain);
        r.domain = k1s_xstrdup("docker.io");
    }
    if (!valid_domain(r.domain)) {
        why = "invalid registry host";
        goto bad;
    }
    for (const char *p = name; *p; p++)
        if (isupper((unsigned char)*p)) {
            why = "repository name must be lowercase";
            goto bad;
        }
    for (const char *p = name;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (!valid_component(p, n)) {
            why = "invalid repository name";
            goto bad;
        }
        if (!e)
            break;
        p = e + 1;
    }
    if (!strcmp(r.domain, "docker.io") && !strchr(name, '/'))
        r.path = k1s_xasprintf("library/%s", name);
    else
        r.path = k1s_xstrdup(name);
    if (strlen(r.domain) + strlen(r.path) + 1 > 255) {
        why = "repository name must not be longer than 255 characters";
        goto bad;
    }
    if (!r.tag && !r.digest)
        r.tag = k1s_xstrdup("latest");
    free(buf);
    *out = r;
    return 0;
bad:
    free(buf);
    k1s_image_ref_clear(&r);
    return k1s_err_set(err, EINVAL, "invalid image reference '%s': %s", s, why);
}

char *k1s_image_ref_string(const k1s_image_ref_t *r)
{
    return k1s_xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
                         r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *k1s_image_ref_name(const k1s_image_ref_t *r)
{
    return k1s_xasprintf("%s/%s", r->domain, r->path);
}

void k1s_image_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}
