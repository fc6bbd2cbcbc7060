/* Unit tests for src/server/join.c: the node password file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "server/join.h"

static void test_node_password(void **state)
{
    (void)state;
    char dir[] = "/tmp/k1s-join-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = k1s_xasprintf("%s/node-passwd", dir);
    /* first use of a name records it */
    assert_int_equal(k1s_join_node_password(path, "n1", "secret-1", false), 0);
    assert_int_equal(k1s_join_node_password(path, "n1", "secret-1", false), 0);
    assert_int_equal(k1s_join_node_password(path, "n1", "secret-2", false), -EPERM);
    /* a name that is a prefix of another is its own entry */
    assert_int_equal(k1s_join_node_password(path, "n", "other", false), 0);
    assert_int_equal(k1s_join_node_password(path, "n10", "x", false), 0);
    assert_int_equal(k1s_join_node_password(path, "n1", "secret-1", false), 0);
    assert_int_equal(k1s_join_node_password(path, "n", "other", false), 0);
    assert_int_equal(k1s_join_node_password(path, "n", "secret-1", false), -EPERM);
    /* a replaced entry takes the new password; the others stay */
    assert_int_equal(k1s_join_node_password(path, "n1", "secret-3", true), 0);
    assert_int_equal(k1s_join_node_password(path, "n1", "secret-1", false), -EPERM);
    assert_int_equal(k1s_join_node_password(path, "n1", "secret-3", false), 0);
    assert_int_equal(k1s_join_node_password(path, "n10", "x", false), 0);
    assert_int_equal(k1s_join_node_password(path, "n", "other", false), 0);
    /* the file holds hashes, not passwords */
    char *data;
    assert_int_equal(k1s_read_file(path, &data, NULL), 0);
    assert_null(strstr(data, "secret-"));
    assert_non_null(strstr(data, "n1:"));
    free(data);
    unlink(path);
    rmdir(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
