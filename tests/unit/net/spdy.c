/*
 * Unit tests for src/net/spdy.c: the dictionary, a client's SYN_STREAM
 * (headers compressed with the dictionary, as spdystream writes them), DATA
 * with FIN, PING echo, RST_STREAM, and the server's SYN_REPLY and DATA
 * frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "lib/buf.h"
#include "net/spdy.h"

typedef struct rec {
    k1s_buf_t out;
    uint32_t stream_id;
    char type[32], port[16], reqid[16];
    bool fin;
    k1s_buf_t data;
    bool data_fin;
    uint32_t reset_id;
    int goaways;
} rec_t;

static void wr(const void *d, size_t n, void *arg)
{
    k1s_buf_append(&((rec_t *)arg)->out, d, n);
}

static void on_stream(k1s_spdy_t *s, uint32_t id, const k1s_spdy_header_t *h, int nh, bool fin,
                      void *arg)
{
    rec_t *r = arg;
    r->stream_id = id;
    r->fin = fin;
    snprintf(r->type, sizeof(r->type), "%s", k1s_spdy_header(h, nh, "streamtype"));
    snprintf(r->port, sizeof(r->port), "%s", k1s_spdy_header(h, nh, "port"));
    snprintf(r->reqid, sizeof(r->reqid), "%s", k1s_spdy_header(h, nh, "requestid"));
}

static void on_data(k1s_spdy_t *s, uint32_t id, const unsigned char *d, size_t n, bool fin,
                    void *arg)
{
    rec_t *r = arg;
    k1s_buf_append(&r->data, d, n);
    r->data_fin = fin;
}

static void on_reset(k1s_spdy_t *s, uint32_t id, uint32_t st, void *arg)
{
    ((rec_t *)arg)->reset_id = id;
}

static void on_goaway(k1s_spdy_t *s, void *arg)
{
    ((rec_t *)arg)->goaways++;
}

static const k1s_spdy_cbs_t cbs = {.write = wr,
                                   .on_stream = on_stream,
                                   .on_data = on_data,
                                   .on_reset = on_reset,
                                   .on_goaway = on_goaway};

static void put32(k1s_buf_t *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    k1s_buf_append(b, p, 4);
}

/* A client's SYN_STREAM for id with the given name/value pairs, compressed on zs. */
static void syn_stream(z_stream *zs, k1s_buf_t *f, uint32_t id, const char *const *kv, int n,
                       bool fin)
{
    k1s_buf_t raw = K1S_BUF_INIT;
    put32(&raw, (uint32_t)n);
    for (int i = 0; i < 2 * n; i++) {
        put32(&raw, (uint32_t)strlen(kv[i]));
        k1s_buf_puts(&raw, kv[i]);
    }
    unsigned char z[4096];
    zs->next_in = (unsigned char *)raw.data;
    zs->avail_in = (uInt)raw.len;
    zs->next_out = z;
    zs->avail_out = sizeof(z);
    assert_int_equal(deflate(zs, Z_SYNC_FLUSH), Z_OK);
    size_t zl = sizeof(z) - zs->avail_out;
    put32(f, 0x80030001);
    put32(f, (uint32_t)((fin ? 1u : 0u) << 24 | (10 + zl)));
    put32(f, id);
    put32(f, 0);
    k1s_buf_append(f, "\0\0", 2);
    k1s_buf_append(f, z, zl);
    k1s_buf_free(&raw);
}

static void test_dictionary(void **state)
{
    size_t n;
    const unsigned char *d = k1s_spdy_dictionary(&n);
    assert_int_equal(n, 1423); /* the SPDY/3 dictionary's size */
    assert_memory_equal(d, "\0\0\0\7options", 11);
    assert_memory_equal(d + n - 6, "enq=0.", 6);
}

static void test_streams(void **state)
{
    rec_t r = {0};
    k1s_spdy_t *s = k1s_spdy_new(&cbs, &r);
    z_stream zs = {0};
    assert_int_equal(deflateInit(&zs, Z_DEFAULT_COMPRESSION), Z_OK);
    size_t dl;
    const unsigned char *d = k1s_spdy_dictionary(&dl);
    deflateSetDictionary(&zs, d, (uInt)dl);
    k1s_buf_t f = K1S_BUF_INIT;
    static const char *const err[] = {"streamtype", "error", "port", "8080", "requestid", "0"};
    syn_stream(&zs, &f, 1, err, 3, true);
    static const char *const data[] = {"streamtype", "data", "port", "8080", "requestid", "0"};
    syn_stream(&zs, &f, 3, data, 3, false);
    /* fed one byte at a time: frames are reassembled */
    for (size_t i = 0; i < f.len; i++) {
        assert_int_equal(k1s_spdy_feed(s, f.data + i, 1), 0);
        if (i + 1 < f.len / 2)
            assert_int_equal(r.stream_id, 0);
    }
    assert_int_equal(r.stream_id, 3);
    assert_string_equal(r.type, "data");
    assert_string_equal(r.port, "8080");
    assert_string_equal(r.reqid, "0");
    assert_false(r.fin);
    /* DATA with FIN */
    k1s_buf_reset(&f);
    put32(&f, 3);
    put32(&f, 1u << 24 | 5);
    k1s_buf_append(&f, "hello", 5);
    assert_int_equal(k1s_spdy_feed(s, f.data, f.len), 0);
    assert_int_equal(r.data.len, 5);
    assert_memory_equal(r.data.data, "hello", 5);
    assert_true(r.data_fin);
    /* PING is echoed */
    k1s_buf_reset(&f);
    put32(&f, 0x80030006);
    put32(&f, 4);
    put32(&f, 7);
    assert_int_equal(k1s_spdy_feed(s, f.data, f.len), 0);
    assert_int_equal(r.out.len, 12);
    assert_memory_equal(r.out.data, f.data, 12);
    /* RST_STREAM */
    k1s_buf_reset(&f);
    put32(&f, 0x80030003);
    put32(&f, 8);
    put32(&f, 3);
    put32(&f, 5);
    assert_int_equal(k1s_spdy_feed(s, f.data, f.len), 0);
    assert_int_equal(r.reset_id, 3);
    /* the server's SYN_REPLY: a control frame whose block inflates with the dictionary */
    k1s_buf_reset(&r.out);
    k1s_spdy_reply(s, 3, NULL, 0, false);
    const unsigned char *o = (const unsigned char *)r.out.data;
    assert_int_equal(o[0], 0x80);
    assert_int_equal(o[1], 3);
    assert_int_equal(o[3], 2);
    size_t flen = (size_t)o[5] << 16 | (size_t)o[6] << 8 | o[7];
    assert_int_equal(flen + 8, r.out.len);
    z_stream in = {0};
    inflateInit(&in);
    unsigned char plain[64];
    in.next_in = (unsigned char *)o + 12;
    in.avail_in = (uInt)(flen - 4);
    in.next_out = plain;
    in.avail_out = sizeof(plain);
    int zr = inflate(&in, Z_SYNC_FLUSH);
    assert_int_equal(zr, Z_NEED_DICT);
    inflateSetDictionary(&in, d, (uInt)dl);
    inflate(&in, Z_SYNC_FLUSH);
    assert_int_equal(sizeof(plain) - in.avail_out, 4); /* zero headers */
    inflateEnd(&in);
    /* DATA out, split at 64 KiB, FIN on the last piece */
    k1s_buf_reset(&r.out);
    char *big = calloc(1, 70000);
    k1s_spdy_data(s, 3, big, 70000, true);
    assert_int_equal(r.out.len, 70000 + 16);
    o = (const unsigned char *)r.out.data;
    assert_int_equal(o[4], 0);
    assert_int_equal(o[8 + 65536 + 4], 1);
    free(big);
    /* garbage: a control frame of another version breaks the connection */
    k1s_buf_reset(&f);
    put32(&f, 0x80020001);
    put32(&f, 0);
    assert_int_equal(k1s_spdy_feed(s, f.data, f.len), -EPROTO);
    assert_int_equal(r.goaways, 1);
    deflateEnd(&zs);
    k1s_buf_free(&f);
    k1s_buf_free(&r.out);
    k1s_buf_free(&r.data);
    k1s_spdy_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dictionary),
        cmocka_unit_test(test_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
