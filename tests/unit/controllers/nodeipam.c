/* Unit tests for the node IPAM allocator in src/controllers/nodeipam.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../../src/controllers/nodeipam.c"

static void test_allocate_in_order_and_wrap(void **state)
{
    (void)state;
    k1s_cidrset_t s;
    char out[32];
    assert_int_equal(cidrset_init(&s, "10.42.0.0/16", 24), 0);
    assert_int_equal(s.n, 256);
    assert_int_equal(cidrset_allocate(&s, out), 0);
    assert_string_equal(out, "10.42.0.0/24");
    assert_int_equal(cidrset_allocate(&s, out), 0);
    assert_string_equal(out, "10.42.1.0/24");
    /* taken ones (rebuilt from Nodes) are skipped */
    assert_true(cidrset_occupy(&s, "10.42.2.0/24"));
    assert_int_equal(cidrset_allocate(&s, out), 0);
    assert_string_equal(out, "10.42.3.0/24");
    /* a freed one is found again once the search wraps around */
    cidrset_release(&s, "10.42.0.0/24");
    for (int i = 4; i < 256; i++)
        assert_int_equal(cidrset_allocate(&s, out), 0);
    assert_string_equal(out, "10.42.255.0/24");
    assert_int_equal(cidrset_allocate(&s, out), 0);
    assert_string_equal(out, "10.42.0.0/24");
    assert_int_equal(s.taken, 256);
    assert_int_equal(cidrset_allocate(&s, out), -ENOSPC);
    cidrset_release(&s, "10.42.77.0/24");
    assert_int_equal(cidrset_allocate(&s, out), 0);
    assert_string_equal(out, "10.42.77.0/24");
    cidrset_free(&s);
}

static void test_foreign_and_bad_cidrs(void **state)
{
    (void)state;
    k1s_cidrset_t s;
    char out[32];
    assert_int_equal(cidrset_init(&s, "10.42.0.0/16", 24), 0);
    assert_false(cidrset_occupy(&s, "10.43.0.0/24"));   /* another network */
    assert_false(cidrset_occupy(&s, "10.42.0.0/25"));   /* another size */
    assert_false(cidrset_occupy(&s, "10.42.0.128/24")); /* not a subnet boundary */
    assert_false(cidrset_occupy(&s, "garbage"));
    cidrset_release(&s, "10.43.0.0/24"); /* harmless */
    assert_int_equal(s.taken, 0);
    cidrset_free(&s);
    /* a small cluster CIDR: /22 holds four /24s */
    assert_int_equal(cidrset_init(&s, "192.168.4.0/22", 24), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(cidrset_allocate(&s, out), 0);
    assert_string_equal(out, "192.168.7.0/24");
    assert_int_equal(cidrset_allocate(&s, out), -ENOSPC);
    cidrset_free(&s);
    /* host bits in the cluster CIDR are ignored, as net.ParseCIDR does */
    assert_int_equal(cidrset_init(&s, "10.42.3.4/16", 24), 0);
    assert_int_equal(cidrset_allocate(&s, out), 0);
    assert_string_equal(out, "10.42.0.0/24");
    cidrset_free(&s);
    assert_int_equal(cidrset_init(&s, "10.42.0.0/25", 24), -EINVAL);
    assert_int_equal(cidrset_init(&s, "10.42.0.0", 24), -EINVAL);
    assert_int_equal(cidrset_init(&s, "fd00::/48", 24), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocate_in_order_and_wrap),
        cmocka_unit_test(test_foreign_and_bad_cidrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
