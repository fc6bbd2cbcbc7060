/* Unit tests for src/runtime/image-creds.c: imagePullSecrets' docker config JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "runtime/image.h"

static void test_dockerconfigjson(void **state)
{
    /* ZWRnZTpwYTpzcw== is "edge:pa:ss" */
    const char *j = "{\"auths\": {"
                    "\"https://index.docker.io/v1/\": {\"auth\": \"ZWRnZTpwYTpzcw==\"},"
                    "\"registry.local:5000\": {\"username\": \"u\", \"password\": \"p\"},"
                    "\"http://10.0.0.5:5000/v2/\": {\"username\": \"x\"},"
                    "\"broken.example\": {\"auth\": \"not base64 at all\"}}}";
    k1s_image_cred_t *c;
    size_t n;
    assert_int_equal(k1s_image_creds_from_dockerconfig(j, strlen(j), &c, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(c[0].registry, "docker.io");
    assert_string_equal(c[0].username, "edge");
    assert_string_equal(c[0].password, "pa:ss");
    assert_string_equal(c[1].registry, "registry.local:5000");
    assert_string_equal(c[1].username, "u");
    assert_string_equal(c[1].password, "p");
    assert_string_equal(c[2].registry, "10.0.0.5:5000");
    assert_string_equal(c[2].password, "");
    k1s_image_creds_free(c, n);
}

static void test_dockercfg_and_errors(void **state)
{
    const char *j = "{\"quay.io\": {\"auth\": \"dTpw\"}}"; /* u:p */
    k1s_image_cred_t *c;
    size_t n;
    assert_int_equal(k1s_image_creds_from_dockerconfig(j, strlen(j), &c, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].registry, "quay.io");
    assert_string_equal(c[0].username, "u");
    assert_string_equal(c[0].password, "p");
    k1s_image_creds_free(c, n);
    assert_int_equal(k1s_image_creds_from_dockerconfig("[]", 2, &c, &n), -EINVAL);
    assert_int_equal(k1s_image_creds_from_dockerconfig("{", 1, &c, &n), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dockerconfigjson),
        cmocka_unit_test(test_dockercfg_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
