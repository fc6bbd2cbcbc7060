/*
 * Unit tests for src/net/websocket.c: frame parsing and writing (RFC 6455
 * examples), the handshake's accept value, and bad frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "net/websocket.h"

static void test_accept_value(void **state)
{
    char out[29];
    /* RFC 6455 section 1.3 */
    k1s_ws_accept_value("dGhlIHNhbXBsZSBub25jZQ==", out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_parse_masked_hello(void **state)
{
    /* RFC 6455 section 5.7: a masked "Hello" */
    unsigned char f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    k1s_ws_frame_t fr;
    for (size_t n = 0; n < sizeof(f); n++) {
        unsigned char copy[sizeof(f)];
        memcpy(copy, f, sizeof(f));
        assert_int_equal(k1s_ws_parse(copy, n, true, 1024, &fr), 0); /* needs more */
    }
    assert_int_equal(k1s_ws_parse(f, sizeof(f), true, 1024, &fr), sizeof(f));
    assert_true(fr.fin);
    assert_int_equal(fr.opcode, K1S_WS_TEXT);
    assert_int_equal(fr.len, 5);
    assert_memory_equal(fr.payload, "Hello", 5);
}

static void test_parse_fragments_and_errors(void **state)
{
    k1s_ws_frame_t fr;
    /* unmasked "Hel" without FIN, then a continuation (server side parse: no mask needed) */
    unsigned char a[] = {0x01, 0x03, 'H', 'e', 'l'};
    assert_int_equal(k1s_ws_parse(a, sizeof(a), false, 1024, &fr), 5);
    assert_false(fr.fin);
    assert_int_equal(fr.opcode, K1S_WS_TEXT);
    /* a client frame must be masked */
    assert_int_equal(k1s_ws_parse(a, sizeof(a), true, 1024, &fr), -EPROTO);
    /* reserved bits */
    unsigned char rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
    assert_int_equal(k1s_ws_parse(rsv, sizeof(rsv), true, 1024, &fr), -EPROTO);
    /* fragmented control frame */
    unsigned char ping[] = {0x09, 0x80, 0, 0, 0, 0};
    assert_int_equal(k1s_ws_parse(ping, sizeof(ping), true, 1024, &fr), -EPROTO);
    /* unknown opcode */
    unsigned char op[] = {0x83, 0x80, 0, 0, 0, 0};
    assert_int_equal(k1s_ws_parse(op, sizeof(op), true, 1024, &fr), -EPROTO);
    /* too large for max */
    unsigned char big[] = {0x82, 0xfe, 0x10, 0x00, 0, 0, 0, 0};
    assert_int_equal(k1s_ws_parse(big, sizeof(big), true, 1024, &fr), -EMSGSIZE);
}

static void test_header_lengths_round_trip(void **state)
{
    size_t lens[] = {0, 125, 126, 65535, 65536, 300000};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];
        unsigned char *buf = calloc(1, n + 10);
        size_t hl = k1s_ws_frame_header(buf, true, K1S_WS_BINARY, n);
        assert_int_equal(hl, n < 126 ? 2 : n <= 65535 ? 4 : 10);
        if (n)
            buf[hl + n - 1] = 0x5a;
        k1s_ws_frame_t fr;
        assert_int_equal(k1s_ws_parse(buf, hl + n, false, 1 << 20, &fr), (long)(hl + n));
        assert_int_equal(fr.len, n);
        assert_int_equal(fr.opcode, K1S_WS_BINARY);
        if (n)
            assert_int_equal(fr.payload[n - 1], 0x5a);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_value),
        cmocka_unit_test(test_parse_masked_hello),
        cmocka_unit_test(test_parse_fragments_and_errors),
        cmocka_unit_test(test_header_lengths_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
