/* Unit tests for src/runtime/registries.c: k3s's registries.yaml and endpoint selection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "runtime/registries.h"

static k1s_registries_t *parse(const char *y)
{
    k1s_registries_t *r = NULL;
    k1s_err_t err = {0};
    if (k1s_registries_parse(y, strlen(y), "/etc/k1s/registries.yaml", &r, &err) < 0)
        fail_msg("%s", err.msg);
    return r;
}

static const char yaml[] = "mirrors:\n"
                           "  docker.io:\n"
                           "    endpoint:\n"
                           "      - \"https://mirror.local:5000\"\n"
                           "      - \"http://10.0.0.5:5000/\"\n"
                           "      - \"plain.example\"\n"
                           "    rewrite:\n"
                           "      \"^library/(.*)\": \"dockerhub/$1\"\n"
                           "  \"*\":\n"
                           "    endpoint: [\"https://catchall.local/prefix\"]\n"
                           "configs:\n"
                           "  \"mirror.local:5000\":\n"
                           "    auth:\n"
                           "      username: edge\n"
                           "      password: 1234\n"
                           "    tls:\n"
                           "      ca_file: /etc/ssl/mirror.pem\n"
                           "  \"10.0.0.5:5000\":\n"
                           "    auth:\n"
                           "      auth: ZWRnZTpwYTpzcw==\n" /* edge:pa:ss */
                           "    tls:\n"
                           "      insecure_skip_verify: true\n"
                           "  docker.io:\n"
                           "    auth: {username: hub, password: hubpw}\n";

static void test_endpoints(void **state)
{
    k1s_registries_t *r = parse(yaml);
    k1s_registry_endpoint_t *eps;
    size_t n;
    assert_int_equal(k1s_registries_endpoints(r, "docker.io", "library/busybox", &eps, &n, NULL),
                     0);
    assert_int_equal(n, 4);
    assert_string_equal(eps[0].url, "https://mirror.local:5000/v2");
    assert_string_equal(eps[0].host, "mirror.local:5000");
    assert_string_equal(eps[0].repository, "dockerhub/busybox");
    assert_false(eps[0].is_default);
    assert_non_null(eps[0].config);
    assert_string_equal(eps[0].config->username, "edge");
    assert_string_equal(eps[0].config->password, "1234");
    assert_string_equal(eps[0].config->ca_file, "/etc/ssl/mirror.pem");
    assert_string_equal(eps[1].url, "http://10.0.0.5:5000/v2");
    assert_string_equal(eps[1].config->username, "edge");
    assert_string_equal(eps[1].config->password, "pa:ss");
    assert_true(eps[1].config->insecure_skip_verify);
    assert_string_equal(eps[2].url, "https://plain.example/v2");
    assert_null(eps[2].config);
    /* the registry itself last, without rewrites, with the registry's config */
    assert_string_equal(eps[3].url, "https://registry-1.docker.io/v2");
    assert_string_equal(eps[3].repository, "library/busybox");
    assert_true(eps[3].is_default);
    assert_string_equal(eps[3].config->username, "hub");
    k1s_registry_endpoints_free(eps, n);

    /* a rewrite that does not match leaves the repository alone */
    assert_int_equal(k1s_registries_endpoints(r, "docker.io", "rancher/k3s", &eps, &n, NULL), 0);
    assert_string_equal(eps[0].repository, "rancher/k3s");
    k1s_registry_endpoints_free(eps, n);

    /* "*" serves registries without an entry */
    assert_int_equal(k1s_registries_endpoints(r, "quay.io", "a/b", &eps, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(eps[0].url, "https://catchall.local/prefix/v2");
    assert_string_equal(eps[1].url, "https://quay.io/v2");
    k1s_registry_endpoints_free(eps, n);
    k1s_registries_free(r);

    /* no configuration: the registry alone */
    assert_int_equal(k1s_registries_endpoints(NULL, "127.0.0.1:5000", "x", &eps, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(eps[0].url, "https://127.0.0.1:5000/v2");
    k1s_registry_endpoints_free(eps, n);
}

static void test_empty_and_missing(void **state)
{
    k1s_registries_t *r = parse("# nothing\n");
    assert_null(k1s_registries_config(r, "docker.io"));
    k1s_registries_free(r);
    k1s_err_t err = {0};
    assert_int_equal(k1s_registries_load("/nonexistent/registries.yaml", &r, &err), 0);
    assert_string_equal(k1s_registries_source(r), "/nonexistent/registries.yaml");
    k1s_registries_free(r);
}

static void bad(const char *y, const char *want)
{
    k1s_registries_t *r = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_registries_parse(y, strlen(y), "/etc/k1s/registries.yaml", &r, &err),
                     -EINVAL);
    assert_null(r);
    if (!strstr(err.msg, want))
        fail_msg("'%s' lacks '%s'", err.msg, want);
    assert_non_null(strstr(err.msg, "/etc/k1s/registries.yaml"));
}

static void test_errors(void **state)
{
    bad("mirrors: [a]\n", "mirrors: must be a mapping");
    bad("mirror: {}\n", "unknown key 'mirror'");
    bad("mirrors:\n  docker.io:\n    endpoint: https://x\n", "mirrors.docker.io.endpoint");
    bad("mirrors:\n  docker.io:\n    rewrite:\n      \"(\": x\n", "not a valid regular expression");
    bad("configs:\n  x:\n    auth:\n      username: [1]\n", "configs.x.auth.username");
    bad("configs:\n  x:\n    auth:\n      auth: '!!!'\n", "base64");
    bad("configs:\n  x:\n    tls:\n      cert_file: /a\n", "cert_file and key_file");
    bad("configs:\n  x:\n    tls:\n      insecure_skip_verify: maybe\n", "true or false");
    bad("mirrors: {a: [\n", "yaml");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_empty_and_missing),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
