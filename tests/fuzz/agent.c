/*
 * libFuzzer target for what the agent parses from others: the join
 * server's answers (src/agent/fetch.c's response parser, given the input as
 * everything read before the connection ended), and the --node-taint /
 * --node-label values and host files src/agent/node.c reads.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags libevent_openssl openssl jansson) tests/fuzz/agent.c \
 *     src/agent/node.c src/lib/buf.c src/lib/err.c src/lib/util.c \
 *     $(pkg-config --libs libevent_openssl openssl jansson) -o /tmp/fuzz-agent
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/fetch.c"
#include "agent/node.h"

static void done(int err, int status, const char *body, size_t len, const char *msg, void *arg)
{
    (void)arg;
    if (err == 0 && (status < 0 || strlen(body) > len))
        abort();
    if (err < 0 && !msg)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    k1s_fetch_t *f = k1s_xcalloc(1, sizeof(*f));
    f->fn = done;
    k1s_buf_append(&f->in, data, size);
    parse_answer(f);

    char *s = k1s_xstrndup((const char *)data, size);
    json_t *t = NULL;
    k1s_err_t err = {0};
    if (k1s_node_parse_taint(s, &t, &err) == 0)
        json_decref(t);
    char *k, *v;
    if (k1s_node_parse_label(s, &k, &v, &err) == 0) {
        free(k);
        free(v);
    }
    uint64_t a, b;
    k1s_node_parse_meminfo(s, &a, &b);
    free(k1s_node_parse_os_release(s));
    free(k1s_node_parse_runtime_version("runc", s));
    free(s);
    return 0;
}
