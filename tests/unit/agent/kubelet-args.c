/* Unit tests for src/agent/kubelet-args.c: --kubelet-arg parsing, eviction thresholds and Go
 * durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "agent/kubelet-args.h"
#include "lib/util.h"

static void test_defaults(void **state)
{
    (void)state;
    k1s_kubelet_config_t c;
    char *warn = (char *)"x";
    assert_int_equal(k1s_kubelet_config_parse(NULL, &c, &warn, NULL), 0);
    assert_null(warn);
    assert_true(c.hard[K1S_SIG_MEMORY_AVAILABLE].set);
    assert_true(c.hard[K1S_SIG_MEMORY_AVAILABLE].quantity == 100ull << 20);
    assert_true(c.hard[K1S_SIG_NODEFS_AVAILABLE].pct > 0.099 &&
                c.hard[K1S_SIG_NODEFS_AVAILABLE].pct < 0.101);
    assert_true(c.hard[K1S_SIG_IMAGEFS_AVAILABLE].pct > 0.149);
    assert_true(c.hard[K1S_SIG_NODEFS_INODES_FREE].pct > 0.049);
    assert_int_equal(c.image_gc_high_pct, 85);
    assert_int_equal(c.image_gc_low_pct, 80);
    assert_int_equal(c.pressure_transition_s, 300);
    assert_int_equal(c.min_image_ttl_s, 120);
}

static void test_args(void **state)
{
    (void)state;
    char *args[] = {(char *)"eviction-hard=memory.available<1Gi,nodefs.available<99%",
                    (char *)"--image-gc-high-threshold=1",
                    (char *)"image-gc-low-threshold=0",
                    (char *)"eviction-pressure-transition-period=1m30s",
                    (char *)"minimum-image-ttl-duration=0s",
                    (char *)"max-pods=50",
                    (char *)"cgroup-driver=systemd",
                    NULL};
    k1s_kubelet_config_t c;
    char *warn = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_kubelet_config_parse(args, &c, &warn, &err), 0);
    assert_true(c.hard[K1S_SIG_MEMORY_AVAILABLE].quantity == 1ull << 30);
    assert_true(c.hard[K1S_SIG_NODEFS_AVAILABLE].pct > 0.989);
    /* eviction-hard replaces the defaults, as kubelet's flag */
    assert_false(c.hard[K1S_SIG_IMAGEFS_AVAILABLE].set);
    assert_false(c.hard[K1S_SIG_NODEFS_INODES_FREE].set);
    assert_int_equal(c.image_gc_high_pct, 1);
    assert_int_equal(c.image_gc_low_pct, 0);
    assert_int_equal(c.pressure_transition_s, 90);
    assert_int_equal(c.min_image_ttl_s, 0);
    assert_non_null(warn);
    assert_non_null(strstr(warn, "max-pods, cgroup-driver"));
    free(warn);
}

static void bad(const char *arg, const char *want)
{
    char *args[] = {(char *)arg, NULL};
    k1s_kubelet_config_t c;
    k1s_err_t err = {0};
    assert_int_equal(k1s_kubelet_config_parse(args, &c, NULL, &err), -EINVAL);
    if (!strstr(err.msg, want))
        fail_msg("%s: got \"%s\", want \"%s\"", arg, err.msg, want);
}

static void test_bad(void **state)
{
    (void)state;
    bad("eviction-hard=disk.available<10%", "unsupported eviction signal disk.available");
    bad("eviction-hard=memory.available>10%", "expected signal<value");
    bad("eviction-hard=memory.available<lots", "must be a positive quantity");
    bad("eviction-hard=memory.available<0", "must be a positive quantity");
    bad("eviction-hard=nodefs.available<120%", "between 0% and 100%");
    bad("image-gc-high-threshold=101", "--kubelet-arg image-gc-high-threshold=101: expected");
    bad("image-gc-high-threshold=", "whole percentage");
    bad("image-gc-low-threshold=90", "must not be above image-gc-high-threshold (85)");
    bad("eviction-pressure-transition-period=5", "expected a duration");
    bad("eviction-hard", "expected name=value");
    /* 0% and 100% are ignored, as kubelet does */
    char *args[] = {(char *)"eviction-hard=nodefs.available<0%,memory.available<100%", NULL};
    k1s_kubelet_config_t c;
    assert_int_equal(k1s_kubelet_config_parse(args, &c, NULL, NULL), 0);
    for (int s = 0; s < K1S_SIG_N; s++)
        assert_false(c.hard[s].set);
}

static void test_duration(void **state)
{
    (void)state;
    int ms = -1;
    assert_int_equal(k1s_parse_duration_ms("5m0s", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(k1s_parse_duration_ms("1h2m3s", &ms), 0);
    assert_int_equal(ms, 3723000);
    assert_int_equal(k1s_parse_duration_ms("1.5m", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(k1s_parse_duration_ms("1500ms", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(k1s_parse_duration_ms("0", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(k1s_parse_duration_ms("10", &ms), -EINVAL);
    assert_int_equal(k1s_parse_duration_ms("", &ms), -EINVAL);
    assert_int_equal(k1s_parse_duration_ms("5d", &ms), -EINVAL);
    assert_int_equal(k1s_parse_duration_ms("-5s", &ms), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
