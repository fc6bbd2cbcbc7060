/*
 * imagePullSecrets: credentials from the docker config JSON that kubernetes.io/dockerconfigjson
 * and kubernetes.io/dockercfg Secrets hold, keyed by registry the way the pull code matches
 * them (a normalised registry host: docker.io, host:port).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "runtime/image.h"

/* "https://index.docker.io/v1/", "registry.local:5000/path", "docker.io" -> registry host. */
static char *registry_of(const char *key)
{
    const char *p = strstr(key, "://");
    p = p ? p + 3 : key;
    size_t n = strcspn(p, "/");
    char *h = k1s_xstrndup(p, n);
    if (!strcmp(h, "index.docker.io") || !strcmp(h, "registry-1.docker.io") ||
        !strcmp(h, "registry.hub.docker.com")) {
        free(h);
        h = k1s_xstrdup("docker.io");
    }
    return h;
}

int k1s_image_creds_from_dockerconfig(const char *data, size_t len, k1s_image_cred_t **creds,
                                      size_t *n)
{
    json_t *j = json_loadb(data, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return -EINVAL;
    }
    json_t *auths = json_object_get(j, "auths");
    if (!json_is_object(auths))
        auths = j; /* .dockercfg */
    k1s_image_cred_t *out = k1s_xcalloc(json_object_size(auths) + 1, sizeof(*out));
    size_t cnt = 0;
    const char *key;
    json_t *v;
    json_object_foreach(auths, key, v)
    {
        const char *u = json_string_value(json_object_get(v, "username"));
        const char *pw = json_string_value(json_object_get(v, "password"));
        const char *a = json_string_value(json_object_get(v, "auth"));
        char *user = NULL, *pass = NULL;
        if (u && *u) {
            user = k1s_xstrdup(u);
            pass = k1s_xstrdup(pw ? pw : "");
        } else if (a && *a) {
            size_t al = strlen(a);
            unsigned char *dec = k1s_xmalloc(al + 4);
            int dl = EVP_DecodeBlock(dec, (const unsigned char *)a, (int)al);
            while (dl > 0 && dec[dl - 1] == 0) /* '=' padding decodes as zero bytes */
                dl--;
            char *colon = dl > 0 ? memchr(dec, ':', (size_t)dl) : NULL;
            if (colon) {
                user = k1s_xstrndup((char *)dec, (size_t)(colon - (char *)dec));
                pass = k1s_xstrndup(colon + 1, (size_t)dl - (size_t)(colon + 1 - (char *)dec));
            }
            free(dec);
        }
        if (!user)
            continue;
        out[cnt].registry = registry_of(key);
        out[cnt].username = user;
        out[cnt].password = pass;
        cnt++;
    }
    json_decref(j);
    *creds = out;
    *n = cnt;
    return 0;
}

void k1s_image_creds_free(k1s_image_cred_t *creds, size_t n)
{
    if (!creds)
        return;
    for (size_t i = 0; i < n; i++) {
        free((char *)creds[i].registry);
        free((char *)creds[i].username);
        free((char *)creds[i].password);
    }
    free(creds);
}
