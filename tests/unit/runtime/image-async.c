/*
 * Unit tests for src/runtime/image-async.c: completions arrive on the loop thread, requests
 * for one reference share a worker, a cancelled request is not called back. The pulls go to
 * 127.0.0.1:1, where nothing listens, so they fail fast without leaving the machine.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <event2/event.h>

#include "runtime/image-int.h"

static pthread_t loop_thread;
static int calls, refused, invalid;
static struct event_base *base;

static void done(int rc, const k1s_image_t *img, const k1s_err_t *err, void *arg)
{
    assert_true(pthread_equal(pthread_self(), loop_thread));
    assert_null(img);
    assert_non_null(err);
    if (rc == -EINVAL)
        invalid++;
    else
        refused++;
    if (arg)
        assert_non_null(strstr(err->msg, (const char *)arg));
    if (++calls == 3)
        event_base_loopbreak(base);
}

static void test_async(void **state)
{
    char dir[] = "/tmp/k1s-unit-async-XXXXXX";
    assert_non_null(mkdtemp(dir));
    k1s_image_store_t *st;
    k1s_err_t err = {0};
    assert_int_equal(k1s_image_store_open(dir, NULL, &st, &err), 0);
    base = event_base_new();
    loop_thread = pthread_self();
    k1s_image_pull_req_t *a, *b, *c, *d;
    assert_int_equal(k1s_image_pull_async(st, base, "127.0.0.1:1/x/y:1", NULL, done,
                                          "pull 127.0.0.1:1/x/y:1", &a),
                     0);
    assert_int_equal(k1s_image_pull_async(st, base, "127.0.0.1:1/x/y:1", NULL, done, NULL, &b), 0);
    assert_int_equal(k1s_image_pull_async(st, base, "127.0.0.1:1/x/y", NULL, done, NULL, &c), 0);
    assert_int_equal(k1s_image_pull_async(st, base, "Not/Valid", NULL, done, "lowercase", &d), 0);
    /* one worker for a and b (a request starts with its job); ":latest" is another
     * reference, so c has its own */
    assert_ptr_equal(*(void **)a, *(void **)b);
    assert_ptr_not_equal(*(void **)a, *(void **)c);
    k1s_image_pull_cancel(c);
    assert_int_equal(calls, 0); /* never from inside the call */
    event_base_dispatch(base);
    assert_int_equal(calls, 3);
    assert_int_equal(refused, 2);
    assert_int_equal(invalid, 1);
    k1s_image_store_free(st); /* waits for c's worker */
    event_base_free(base);
    k1s_rmtree(dir);
}

static int dir_failed = -1;

static void dir_done(int failed, const k1s_err_t *err, void *arg)
{
    assert_true(pthread_equal(pthread_self(), loop_thread));
    dir_failed = failed;
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "junk.tar"));
    event_base_loopbreak(base);
}

/* The air-gap dir imported on a worker: a file that is not an image archive counts as failed. */
static void test_import_dir_async(void **state)
{
    char dir[] = "/tmp/k1s-unit-async-XXXXXX";
    assert_non_null(mkdtemp(dir));
    k1s_image_store_t *st;
    k1s_err_t err = {0};
    assert_int_equal(k1s_image_store_open(dir, NULL, &st, &err), 0);
    char *junk = k1s_xasprintf("%s/images/junk.tar", dir);
    assert_int_equal(k1s_write_file_atomic(junk, "junk", 4, 0644), 0);
    char *skipped = k1s_xasprintf("%s/images/notes.txt", dir);
    assert_int_equal(k1s_write_file_atomic(skipped, "x", 1, 0644), 0);
    base = event_base_new();
    loop_thread = pthread_self();
    assert_int_equal(k1s_image_import_dir_async(st, base, dir_done, NULL), 0);
    event_base_dispatch(base);
    assert_int_equal(dir_failed, 1);
    k1s_image_store_free(st);
    event_base_free(base);
    k1s_rmtree(dir);
    free(junk);
    free(skipped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async),
        cmocka_unit_test(test_import_dir_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
