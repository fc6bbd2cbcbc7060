/* Unit tests for src/runtime/image-ref.c: normalisation as docker/containerd/kubelet do. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "runtime/image.h"

static void check(const char *in, const char *want)
{
    k1s_image_ref_t r;
    k1s_err_t err = {0};
    int rc = k1s_image_ref_parse(in, &r, &err);
    if (rc != 0)
        fail_msg("%s: %s", in, err.msg);
    char *s = k1s_image_ref_string(&r);
    assert_string_equal(s, want);
    free(s);
    k1s_image_ref_clear(&r);
}

static void bad(const char *in, const char *why)
{
    k1s_image_ref_t r;
    k1s_err_t err = {0};
    assert_int_equal(k1s_image_ref_parse(in, &r, &err), -EINVAL);
    if (!strstr(err.msg, why))
        fail_msg("%s: message '%s' lacks '%s'", in, err.msg, why);
}

static void test_normalise(void **state)
{
    check("busybox", "docker.io/library/busybox:latest");
    check("busybox:1.36", "docker.io/library/busybox:1.36");
    check("library/busybox", "docker.io/library/busybox:latest");
    check("rancher/k3s:v1.30.0-k3s1", "docker.io/rancher/k3s:v1.30.0-k3s1");
    check("docker.io/busybox", "docker.io/library/busybox:latest");
    check("index.docker.io/library/busybox:1", "docker.io/library/busybox:1");
    check("quay.io/coreos/etcd:v3.5", "quay.io/coreos/etcd:v3.5");
    check("localhost/app", "localhost/app:latest");
    check("localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t");
    check("127.0.0.1:5000/ns/name:tag", "127.0.0.1:5000/ns/name:tag");
    check("registry.local/a_b__c-d.e---f:x", "registry.local/a_b__c-d.e---f:x");
    check("[::1]:5000/x", "[::1]:5000/x:latest");
    const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char in[200], want[200];
    snprintf(in, sizeof(in), "busybox@%s", d);
    snprintf(want, sizeof(want), "docker.io/library/busybox@%s", d);
    check(in, want);
    snprintf(in, sizeof(in), "busybox:1.36@%s", d);
    snprintf(want, sizeof(want), "docker.io/library/busybox:1.36@%s", d);
    check(in, want);
}

static void test_parts(void **state)
{
    k1s_image_ref_t r;
    assert_int_equal(k1s_image_ref_parse("myhost:5000/team/app", &r, NULL), 0);
    assert_string_equal(r.domain, "myhost:5000");
    assert_string_equal(r.path, "team/app");
    assert_string_equal(r.tag, "latest");
    assert_null(r.digest);
    char *n = k1s_image_ref_name(&r);
    assert_string_equal(n, "myhost:5000/team/app");
    free(n);
    k1s_image_ref_clear(&r);
    /* a first component without '.' or ':' is a path, not a host */
    assert_int_equal(k1s_image_ref_parse("team/app:1", &r, NULL), 0);
    assert_string_equal(r.domain, "docker.io");
    assert_string_equal(r.path, "team/app");
    k1s_image_ref_clear(&r);
}

static void test_invalid(void **state)
{
    bad("", "empty");
    bad("Busybox", "lowercase");
    bad("docker.io/Library/busybox", "lowercase");
    bad("busybox:", "invalid tag");
    bad("busybox:-x", "invalid tag");
    bad("busybox@sha256:abc", "digest");
    bad("busybox@md5:0123456789abcdef0123456789abcdef", "digest");
    bad("a//b", "invalid repository name");
    bad("-a/b", "invalid repository name");
    bad("a/b_", "invalid repository name");
    bad("a/b___c", "invalid repository name");
    bad("host:99999999/x", "invalid registry host");
    bad("ho_st.com/x", "invalid registry host");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
