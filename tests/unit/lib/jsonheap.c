/*
 * Unit tests for the JSON heap (src/lib/jsonheap.c, included to reach its
 * internals; sanitizer builds do not install it, so the tests drive its
 * allocation functions directly): size classes, alignment, reuse of freed
 * objects, empty slabs given back and reused, objects too large for a
 * class and objects from outside the heap going to malloc, and a tree
 * parsed with the functions installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../src/lib/jsonheap.c"

static bool in_heap(const void *p)
{
    return (const char *)p >= region && (const char *)p < region_end;
}

static void test_classes(void **state)
{
    assert_int_equal(class_of(0), 0);
    assert_int_equal(class_of(1), 0);
    assert_int_equal(class_of(16), 0);
    assert_int_equal(class_of(17), 1);
    assert_int_equal(class_of(128), 7);
    assert_int_equal(class_of(129), 8);
    assert_int_equal(class_of(160), 8);
    assert_int_equal(class_of(161), 9);
    assert_int_equal(class_of(512), 15);
    assert_int_equal(class_of(513), -1);
    for (size_t n = 1; n <= 512; n++)
        assert_true(class_size[class_of(n)] >= n);
}

#define N 20000

static void test_alloc_free(void **state)
{
    assert_true(reserve());
    static void *p[N];
    k1s_json_heap_enter();
    for (int i = 0; i < N; i++) {
        size_t n = 1 + (size_t)(i * 37) % 600;
        p[i] = json_heap_malloc(n);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        assert_true(in_heap(p[i]) == (n <= 512));
        memset(p[i], i & 0xff, n);
    }
    k1s_json_heap_leave();
    /* nothing was handed out twice: every object still holds its own pattern */
    for (int i = 0; i < N; i++) {
        size_t n = 1 + (size_t)(i * 37) % 600;
        unsigned char *b = p[i];
        assert_int_equal(b[0], i & 0xff);
        assert_int_equal(b[n - 1], i & 0xff);
    }
    size_t used = k1s_json_heap_bytes();
    assert_true(used >= (size_t)N / 2 * 16);
    /* free every other one: slabs stay; the freed objects are handed out again */
    for (int i = 0; i < N; i += 2)
        json_heap_free(p[i]);
    assert_int_equal(k1s_json_heap_bytes(), used);
    char *top = region_top;
    k1s_json_heap_enter();
    for (int i = 0; i < N; i += 2)
        p[i] = json_heap_malloc(1 + (size_t)(i * 37) % 600);
    k1s_json_heap_leave();
    assert_ptr_equal(region_top, top);
    /* free all: the slabs go back, but for the few kept ready */
    for (int i = 0; i < N; i++)
        json_heap_free(p[i]);
    assert_int_equal(k1s_json_heap_bytes(), KEEP_EMPTY * SLAB_SIZE);
    assert_true(nreleased > 0);
    /* given-back slabs are used again before new address space */
    k1s_json_heap_enter();
    for (int i = 0; i < N; i++)
        p[i] = json_heap_malloc(64);
    k1s_json_heap_leave();
    assert_ptr_equal(region_top, top);
    for (int i = 0; i < N; i++)
        json_heap_free(p[i]);
    /* outside enter/leave, allocations are malloc's */
    void *m = json_heap_malloc(32);
    assert_false(in_heap(m));
    json_heap_free(m);
}

static void test_json_tree(void **state)
{
    assert_true(reserve());
    json_set_alloc_funcs(json_heap_malloc, json_heap_free);
    k1s_json_heap_enter();
    json_t *t = json_loads("{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\"}},"
                           "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}",
                           0, NULL);
    k1s_json_heap_leave();
    assert_non_null(t);
    assert_true(in_heap(t));
    /* changed outside: new values come from malloc, and both kinds free correctly */
    json_object_set_new(t, "kind", json_string("Pod"));
    json_t *copy = json_deep_copy(t);
    assert_false(in_heap(copy));
    assert_true(json_equal(t, copy));
    json_decref(t);
    json_decref(copy);
    json_set_alloc_funcs(malloc, free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_alloc_free),
        cmocka_unit_test(test_json_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
