/*
 * Unit tests for src/api/quantity.c: parsing, canonical forms, rounding,
 * comparison and integer values of Kubernetes quantities, as
 * k8s.io/apimachinery/pkg/api/resource gives them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/quantity.h"

/* ---- quantities ---- */

static void canon(const char *in, const char *want)
{
    char *s = k1s_quantity_canonical(in);
    if (!s)
        fail_msg("%s does not parse", in);
    if (strcmp(s, want))
        fail_msg("%s: want %s, got %s", in, want, s);
    free(s);
}

static void test_quantity(void **state)
{
    canon("100m", "100m");
    canon("0.5", "500m");
    canon("1000", "1k");
    canon("1e3", "1e3");
    canon("1E5", "100e3");
    canon("1024Mi", "1Gi");
    canon("1.5Gi", "1536Mi");
    canon("0.5Gi", "512Mi");
    canon("2048", "2048");
    canon("1000m", "1");
    canon("0.1", "100m");
    canon("-1.5Gi", "-1536Mi");
    canon("1e-10", "1e-9");
    canon("1.0", "1");
    canon("+1", "+1"); /* kept verbatim, as Kubernetes does */
    canon("9Ei", "9223372036854775807");
    const char *err;
    k1s_quantity_t q, r;
    assert_int_equal(k1s_quantity_parse("abc", &q, &err), -EINVAL);
    assert_string_equal(err, "quantities must match the regular expression "
                             "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    assert_int_equal(k1s_quantity_parse("1Ki5", &q, &err), -EINVAL);
    assert_string_equal(err, "unable to parse quantity's suffix");
    assert_int_equal(k1s_quantity_parse("", &q, &err), -EINVAL);
    assert_int_equal(k1s_quantity_parse("100u", &q, NULL), 0);
    assert_false(k1s_quantity_round_up(&q, -3));
    char *s = k1s_quantity_string(&q);
    assert_string_equal(s, "1m");
    free(s);
    assert_int_equal(k1s_quantity_parse("1.5", &q, NULL), 0);
    assert_int_equal(k1s_quantity_milli_value(&q), 1500);
    assert_int_equal(k1s_quantity_value(&q), 2);
    assert_int_equal(k1s_quantity_parse("1536Mi", &r, NULL), 0);
    assert_int_equal(k1s_quantity_parse("1.5Gi", &q, NULL), 0);
    assert_int_equal(k1s_quantity_cmp(&q, &r), 0);
    assert_int_equal(k1s_quantity_parse("1G", &r, NULL), 0);
    assert_int_equal(k1s_quantity_cmp(&q, &r), 1);
    assert_int_equal(k1s_quantity_parse("-1", &r, NULL), 0);
    assert_int_equal(k1s_quantity_sign(&r), -1);
    json_t *n = json_real(0.25);
    assert_int_equal(k1s_quantity_from_json(n, &q, NULL), 0);
    json_decref(n);
    s = k1s_quantity_string(&q);
    assert_string_equal(s, "250m");
    free(s);
    n = json_integer(2);
    assert_int_equal(k1s_quantity_from_json(n, &q, NULL), 0);
    json_decref(n);
    assert_int_equal(k1s_quantity_value(&q), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
