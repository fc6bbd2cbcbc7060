/*
 * libFuzzer target for src/api/jwt.c: any bearer token must verify or fail
 * with -EINVAL/-EBADMSG, never crash or leak; base64url decoding must
 * round-trip (it accepts only canonical input).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson openssl) tests/fuzz/jwt.c src/api/jwt.c src/lib/err.c \
 *     src/lib/util.c src/lib/log.c src/lib/buf.c $(pkg-config --libs jansson openssl) \
 *     -o /tmp/fuzz-jwt
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>

#include "api/jwt.h"
#include "lib/util.h"

static EVP_PKEY *key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!key)
        key = EVP_RSA_gen(1024);
    char *s = k1s_xstrndup((const char *)data, size);
    json_t *claims = NULL;
    k1s_err_t err = {0};
    int r = k1s_jwt_verify(key, NULL, s, &claims, &err);
    if (r == 0 || (r != -EINVAL && r != -EBADMSG) || claims)
        abort(); /* nobody but the key's holder can sign */
    unsigned char *raw;
    size_t len;
    size_t n = strlen(s);
    if (k1s_b64url_decode(s, n, &raw, &len) == 0) {
        char *back = k1s_b64url_encode(raw, len);
        size_t m = n;
        while (m > 0 && s[m - 1] == '=')
            m--;
        if (strlen(back) != m || memcmp(back, s, m))
            abort();
        free(back);
        free(raw);
    }
    free(s);
    return 0;
}
