/*
 * libFuzzer target for the image store's parsers of outside input: image references
 * (src/runtime/image-ref.c), registries.yaml (src/runtime/registries.c) and image manifests
 * (k1s_manifest_parse in src/runtime/image-store.c). The first byte picks the parser.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson yaml-0.1) tests/fuzz/image.c build/asan/libk1s.a \
 *     $(pkg-config --libs libevent_core libevent_pthreads openssl jansson yaml-0.1 sqlite3 \
 *       zlib libnghttp2 libcurl libarchive) -lm -o /tmp/fuzz-image
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/image-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: {
        char *s = k1s_xstrndup(in, len);
        k1s_image_ref_t r;
        if (k1s_image_ref_parse(s, &r, NULL) == 0) {
            /* what comes out parses again to the same */
            char *norm = k1s_image_ref_string(&r);
            k1s_image_ref_t r2;
            k1s_assert(k1s_image_ref_parse(norm, &r2, NULL) == 0);
            char *again = k1s_image_ref_string(&r2);
            k1s_assert(strcmp(norm, again) == 0);
            free(again);
            free(norm);
            k1s_image_ref_clear(&r2);
            k1s_image_ref_clear(&r);
        }
        free(s);
        break;
    }
    case 1: {
        k1s_registries_t *r;
        if (k1s_registries_parse(in, len, "fuzz", &r, NULL) == 0) {
            k1s_registry_endpoint_t *eps;
            size_t n;
            if (k1s_registries_endpoints(r, "docker.io", "library/busybox", &eps, &n, NULL) == 0)
                k1s_registry_endpoints_free(eps, n);
            k1s_registries_free(r);
        }
        break;
    }
    default: {
        char *cfg;
        k1s_image_layer_t *l;
        size_t n;
        if (k1s_manifest_parse(in, len, &cfg, &l, &n, NULL) == 0) {
            free(cfg);
            k1s_image_layers_free(l, n);
        }
    }
    }
    return 0;
}
