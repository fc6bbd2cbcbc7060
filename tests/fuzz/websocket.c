/*
 * libFuzzer target for src/net/websocket.c and src/net/spdy.c: the frames a
 * client sends to the kubelet API. The input is parsed as a sequence of
 * WebSocket frames (client side: masked), and the same bytes are fed to a
 * SPDY/3.1 server connection in pieces of varying size.
 *
 * Built against the ASan library for everything else (make asan first):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/websocket.c src/net/websocket.c src/net/spdy.c build/asan/libk1s.a \
 *     $(pkg-config --libs libevent_core libevent_openssl libevent_pthreads libevent openssl \
 *     jansson yaml-0.1 sqlite3 zlib libnghttp2) -lpthread -lm -o /tmp/fuzz-websocket
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/spdy.h"
#include "net/websocket.h"

static void sink(const void *d, size_t n, void *arg)
{
    (void)d;
    *(size_t *)arg += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    size_t off = 0;
    while (off < size) {
        k1s_ws_frame_t f;
        long n = k1s_ws_parse(buf + off, size - off, true, 1 << 16, &f);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(buf);
    size_t out = 0;
    k1s_spdy_cbs_t cbs = {.write = sink};
    k1s_spdy_t *s = k1s_spdy_new(&cbs, &out);
    size_t step = size ? (size_t)data[0] % 17 + 1 : 1;
    for (size_t i = 0; i < size; i += step)
        if (k1s_spdy_feed(s, data + i, size - i < step ? size - i : step) < 0)
            break;
    k1s_spdy_free(s);
    return 0;
}
