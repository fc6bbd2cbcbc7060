/*
 * libFuzzer target for src/api/protobuf.c: any request body must decode to
 * JSON or fail with -EINVAL, never crash or leak.
 *
 *   make build/gen/proto_data.c
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc -Ibuild/gen \
 *     $(pkg-config --cflags jansson) tests/fuzz/protobuf.c src/api/protobuf.c \
 *     build/gen/proto_data.c src/lib/buf.c src/lib/err.c src/lib/util.c src/lib/log.c \
 *     $(pkg-config --libs jansson) -lm -o /tmp/fuzz-protobuf
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "api/protobuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *out = NULL;
    k1s_err_t err = {0};
    int r = k1s_protobuf_decode((const char *)data, size, &out, &err);
    if (r == 0) {
        if (!json_is_object(out))
            abort();
        json_decref(out);
    } else if (r != -EINVAL || out) {
        abort();
    }
    return 0;
}
