/*
 * libFuzzer target for the response parser of src/net/httpc.c (what a
 * webhook server answers: status line, headers, Content-Length, chunked or
 * EOF-delimited bodies). The input is fed as the bytes read so far, then as
 * a complete answer at EOF.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags libevent_openssl openssl) tests/fuzz/httpc.c src/lib/buf.c \
 *     src/lib/err.c src/lib/util.c $(pkg-config --libs libevent_openssl openssl) \
 *     -o /tmp/fuzz-httpc
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/httpc.c"

static int answers;

static void done(int err, int status, const char *body, size_t len, const char *msg, void *arg)
{
    answers++;
    if (err == 0 && status < 0)
        abort();
    if (err == 0 && body && strlen(body) > len)
        abort(); /* the body must be NUL-terminated at its length */
}

static void feed(const uint8_t *data, size_t size, bool at_eof)
{
    k1s_httpc_t *c = k1s_xcalloc(1, sizeof(*c));
    c->fd = -1;
    c->done = done;
    k1s_buf_append(&c->in, data, size);
    k1s_buf_putc(&c->in, 0);
    c->in.len--;
    int before = answers;
    try_parse(c, at_eof); /* an answer (or failure) frees c */
    if (answers == before)
        call_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    feed(data, size, false);
    feed(data, size, true);
    return 0;
}
