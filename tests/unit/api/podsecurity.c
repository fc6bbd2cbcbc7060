/* Unit tests for src/api/admit-podsecurity.c: the Pod Security Standards checks and
 * their messages, one pod spec at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/admit-podsecurity.c"

/* The "reason (detail), ..." text for pod at level, "" if allowed. Returns a new string. */
static char *eval(const char *pod, int level)
{
    json_error_t je;
    json_t *p = json_loads(pod, 0, &je);
    if (!p)
        fail_msg("bad test JSON %s: %s", pod, je.text);
    result_t r = {K1S_BUF_INIT, K1S_BUF_INIT, 0};
    evaluate(json_object_get(p, "metadata"), json_object_get(p, "spec"), level, &r);
    char *s = k1s_xstrdup(r.n ? r.text.data : "");
    result_free(&r);
    json_decref(p);
    return s;
}

static void expect(const char *pod, int level, const char *want)
{
    char *got = eval(pod, level);
    assert_string_equal(got, want);
    free(got);
}

#define OK_CTR                                                                                     \
    "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"runAsNonRoot\":true,"               \
    "\"capabilities\":{\"drop\":[\"ALL\"]},\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}"

static void test_restricted_ok(void **state)
{
    expect("{\"spec\":{\"containers\":[{\"name\":\"a\"," OK_CTR "}]}}", LVL_RESTRICTED, "");
    /* pod-level runAsNonRoot and seccomp cover the containers */
    expect("{\"spec\":{\"securityContext\":{\"runAsNonRoot\":true,\"seccompProfile\":{\"type\":"
           "\"Localhost\"}},\"containers\":[{\"name\":\"a\",\"securityContext\":{"
           "\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"],"
           "\"add\":[\"NET_BIND_SERVICE\"]}}}]}}",
           LVL_RESTRICTED, "");
    expect("{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", LVL_PRIVILEGED, "");
    expect("{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", LVL_BASELINE, "");
}

static void test_baseline(void **state)
{
    expect("{\"spec\":{\"hostPID\":true,\"hostIPC\":true,\"containers\":[{\"name\":\"a\"}]}}",
           LVL_BASELINE, "host namespaces (hostPID=true, hostIPC=true)");
    expect("{\"spec\":{\"volumes\":[{\"name\":\"x\",\"hostPath\":{\"path\":\"/\"}},{\"name\":\"y\","
           "\"hostPath\":{\"path\":\"/\"}}],\"containers\":[{\"name\":\"a\"}]}}",
           LVL_BASELINE, "hostPath volumes (volumes \"x\", \"y\")");
    expect("{\"spec\":{\"containers\":[{\"name\":\"a\",\"securityContext\":{\"procMount\":"
           "\"Unmasked\",\"seLinuxOptions\":{\"type\":\"spc_t\",\"user\":\"u\"}}}]}}",
           LVL_BASELINE,
           "procMount (container \"a\" must not set securityContext.procMount to \"Unmasked\"), "
           "seLinuxOptions (container \"a\" set forbidden securityContext.seLinuxOptions: type "
           "\"spc_t\"; user may not be set)");
    expect("{\"spec\":{\"securityContext\":{\"seccompProfile\":{\"type\":\"Unconfined\"},"
           "\"sysctls\":[{\"name\":\"kernel.msgmax\"},{\"name\":\"net.ipv4.tcp_syncookies\"}]},"
           "\"containers\":[{\"name\":\"a\"}]}}",
           LVL_BASELINE,
           "seccompProfile (pod must not set securityContext.seccompProfile.type to "
           "\"Unconfined\"), forbidden sysctls (kernel.msgmax)");
    expect("{\"metadata\":{\"annotations\":{\"container.apparmor.security.beta.kubernetes.io/a\":"
           "\"unconfined\"}},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
           LVL_BASELINE,
           "forbidden AppArmor profile (container.apparmor.security.beta.kubernetes.io/"
           "a=\"unconfined\")");
}

static void test_restricted(void **state)
{
    expect("{\"spec\":{\"securityContext\":{\"runAsNonRoot\":false,\"runAsUser\":0},"
           "\"containers\":[{\"name\":\"a\"," OK_CTR "},{\"name\":\"b\",\"securityContext\":{"
           "\"allowPrivilegeEscalation\":false,\"runAsNonRoot\":false,\"runAsUser\":0,"
           "\"capabilities\":{\"drop\":[\"ALL\"],\"add\":[\"SYS_ADMIN\",\"CHOWN\"]},"
           "\"seccompProfile\":{\"type\":\"Unconfined\"}}}],\"volumes\":[{\"name\":\"g\","
           "\"gitRepo\":{}},{\"name\":\"e\",\"emptyDir\":{}}]}}",
           LVL_RESTRICTED,
           "unrestricted capabilities (container \"b\" must not include \"CHOWN\", \"SYS_ADMIN\" "
           "in securityContext.capabilities.add), restricted volume types (volume \"g\" uses "
           "restricted volume type \"gitRepo\"), runAsNonRoot != true (pod and container \"b\" "
           "must not set securityContext.runAsNonRoot=false), runAsUser=0 (pod and container "
           "\"b\" must not set runAsUser=0), seccompProfile (container \"b\" must not set "
           "securityContext.seccompProfile.type to \"Unconfined\")");
    /* init containers are named first, as visitContainers walks them */
    expect("{\"spec\":{\"initContainers\":[{\"name\":\"i\"}],\"containers\":[{\"name\":\"a\"}]}}",
           LVL_RESTRICTED,
           "allowPrivilegeEscalation != false (containers \"i\", \"a\" must set "
           "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
           "(containers \"i\", \"a\" must set securityContext.capabilities.drop=[\"ALL\"]), "
           "runAsNonRoot != true (pod or containers \"i\", \"a\" must set "
           "securityContext.runAsNonRoot=true), seccompProfile (pod or containers \"i\", \"a\" "
           "must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")");
}

static void test_policy_labels(void **state)
{
    json_error_t je;
    json_t *l = json_loads("{\"pod-security.kubernetes.io/enforce\":\"baseline\","
                           "\"pod-security.kubernetes.io/enforce-version\":\"v1.29\","
                           "\"pod-security.kubernetes.io/warn\":\"restricted\"}",
                           0, &je);
    policy_t p;
    assert_int_equal(policy_of(l, &p, NULL, NULL), 0);
    assert_int_equal(p.level[0], LVL_BASELINE);
    assert_string_equal(p.version[0], "v1.29");
    assert_int_equal(p.level[1], LVL_RESTRICTED);
    assert_string_equal(p.version[1], "latest");
    assert_int_equal(p.level[2], LVL_PRIVILEGED);
    json_object_set_new(l, "pod-security.kubernetes.io/audit", json_string("Restricted"));
    const char *k = NULL, *v = NULL;
    assert_int_equal(policy_of(l, &p, &k, &v), -EINVAL);
    assert_string_equal(k, "pod-security.kubernetes.io/audit");
    assert_string_equal(v, "Restricted");
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restricted_ok),
        cmocka_unit_test(test_baseline),
        cmocka_unit_test(test_restricted),
        cmocka_unit_test(test_policy_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
