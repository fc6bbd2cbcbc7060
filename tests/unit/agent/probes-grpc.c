/* The grpc probe's hand-made protobuf (src/agent/probes-grpc.c): the HealthCheckRequest it
 * sends and the HealthCheckResponse it reads, behind gRPC's 5-byte message prefix. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/probes-grpc.c"

static void test_request(void **state)
{
    size_t len;
    unsigned char *b = grpc_health_request("", &len);
    static const unsigned char empty[] = {0, 0, 0, 0, 0};
    assert_int_equal(len, 5);
    assert_memory_equal(b, empty, 5);
    free(b);

    b = grpc_health_request("good", &len);
    static const unsigned char good[] = {0, 0, 0, 0, 6, 0x0a, 4, 'g', 'o', 'o', 'd'};
    assert_int_equal(len, sizeof(good));
    assert_memory_equal(b, good, sizeof(good));
    free(b);

    /* a name of 200 bytes: a two-byte length varint (0xc8 0x01) */
    char name[201];
    memset(name, 'x', 200);
    name[200] = 0;
    b = grpc_health_request(name, &len);
    assert_int_equal(len, 5 + 1 + 2 + 200);
    assert_int_equal(b[4], 203);
    assert_int_equal(b[5], 0x0a);
    assert_int_equal(b[6], 0xc8);
    assert_int_equal(b[7], 0x01);
    assert_int_equal(b[8], 'x');
    free(b);
}

static void test_response(void **state)
{
    static const unsigned char serving[] = {0, 0, 0, 0, 2, 0x08, 1};
    static const unsigned char not_serving[] = {0, 0, 0, 0, 2, 0x08, 2};
    static const unsigned char absent[] = {0, 0, 0, 0, 0}; /* UNKNOWN is not sent */
    /* unknown fields first (a string as field 2, a fixed32 as field 3), then the status */
    static const unsigned char extra[] = {0,   0,   0,    0, 11, 0x12, 3, 'a',
                                          'b', 'c', 0x1d, 1, 2,  3,    4, 0x08};
    static const unsigned char extra_full[] = {0,   0,    0, 0, 12, 0x12, 3,    'a', 'b',
                                               'c', 0x1d, 1, 2, 3,  4,    0x08, 3};
    assert_int_equal(grpc_health_status(serving, sizeof(serving)), 1);
    assert_int_equal(grpc_health_status(not_serving, sizeof(not_serving)), 2);
    assert_int_equal(grpc_health_status(absent, sizeof(absent)), 0);
    assert_int_equal(grpc_health_status(extra_full, sizeof(extra_full)), 3);
    /* malformed: truncated varint, compressed flag, length that does not match, too short,
     * a string field longer than the message, an end-group wire type */
    assert_int_equal(grpc_health_status(extra, sizeof(extra)), -EINVAL);
    static const unsigned char compressed[] = {1, 0, 0, 0, 2, 0x08, 1};
    assert_int_equal(grpc_health_status(compressed, sizeof(compressed)), -EINVAL);
    static const unsigned char badlen[] = {0, 0, 0, 0, 3, 0x08, 1};
    assert_int_equal(grpc_health_status(badlen, sizeof(badlen)), -EINVAL);
    assert_int_equal(grpc_health_status(serving, 4), -EINVAL);
    static const unsigned char longstr[] = {0, 0, 0, 0, 3, 0x12, 9, 'a'};
    assert_int_equal(grpc_health_status(longstr, 8), -EINVAL);
    static const unsigned char group[] = {0, 0, 0, 0, 1, 0x0c};
    assert_int_equal(grpc_health_status(group, sizeof(group)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_request),
                                       cmocka_unit_test(test_response)};
    return cmocka_run_group_tests_name("agent/probes-grpc", tests, NULL, NULL);
}
