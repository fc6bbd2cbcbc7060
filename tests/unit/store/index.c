/*
 * Unit tests for src/store/index.c: the hash table and the ordered skiplist
 * index, checked against a plain sorted reference under random operations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/index.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A key space with shared prefixes, bytes >= 0x80 and prefixes of other keys. */
#define NKEYS 3000
static char *keys[NKEYS]; /* sorted */

static void make_keys(void)
{
    static const char *const parts[] = {"a", "b", "ab", "pods", "pod", "\xff", "\xfe\xff", "z"};
    for (int i = 0; i < NKEYS; i++) {
        char buf[64];
        int n = 0;
        int depth = 1 + rnd(4);
        for (int d = 0; d < depth; d++)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "/%s", parts[rnd(8)]);
        snprintf(buf + n, sizeof(buf) - (size_t)n, "%d", i);
        keys[i] = strdup(buf);
    }
    qsort(keys, NKEYS, sizeof(keys[0]), cmp_str);
}

static void free_keys(void)
{
    for (int i = 0; i < NKEYS; i++)
        free(keys[i]);
}

typedef struct it {
    int n;
    const char *got[NKEYS];
    int limit;
} it_t;

static int it_fn(k1s_kv_t *kv, void *arg)
{
    it_t *t = arg;
    t->got[t->n++] = kv->key;
    return t->limit && t->n >= t->limit;
}

static void check_range(k1s_store_index_t *ix, const bool *present, const char *prefix,
                        const char *after, int limit)
{
    it_t t = {.limit = limit};
    k1s_store_index_range(ix, prefix, after, it_fn, &t);
    int want = 0;
    size_t plen = strlen(prefix);
    for (int i = 0; i < NKEYS; i++) {
        if (!present[i] || strncmp(keys[i], prefix, plen) != 0)
            continue;
        if (after && strcmp(keys[i], after) <= 0)
            continue;
        if (limit && want >= limit)
            break;
        assert_true(want < t.n);
        assert_string_equal(t.got[want], keys[i]);
        want++;
    }
    assert_int_equal(t.n, want);
}

static void test_index_random(void **state)
{
    make_keys();
    bool present[NKEYS] = {0};
    int64_t revs[NKEYS] = {0};
    size_t count = 0;
    k1s_store_index_t *ix = k1s_store_index_new();
    for (int round = 0; round < 40; round++) {
        for (int op = 0; op < 500; op++) {
            int i = (int)rnd(NKEYS);
            int64_t rev = round * 1000 + op + 1;
            if (rnd(3) == 0) {
                k1s_kv_t *old = k1s_store_index_del(ix, keys[i]);
                assert_true((old != NULL) == present[i]);
                if (old) {
                    assert_int_equal(old->mod_rev, revs[i]);
                    count--;
                }
                k1s_kv_unref(old);
                present[i] = false;
            } else {
                /* a fresh copy of the key: the index must not keep the old string */
                k1s_kv_t *kv = k1s_kv_new(keys[i], 1, rev, k1s_bytes_from_str("v"));
                k1s_kv_t *old = k1s_store_index_set(ix, kv);
                assert_true((old != NULL) == present[i]);
                if (!old)
                    count++;
                k1s_kv_unref(old);
                present[i] = true;
                revs[i] = rev;
            }
        }
        assert_int_equal(k1s_store_index_count(ix), count);
        for (int i = 0; i < NKEYS; i++) {
            k1s_kv_t *kv = k1s_store_index_get(ix, keys[i]);
            assert_true((kv != NULL) == present[i]);
            if (kv)
                assert_int_equal(kv->mod_rev, revs[i]);
        }
        assert_null(k1s_store_index_get(ix, "/nope"));
        static const char *const prefixes[] = {
            "", "/", "/a", "/a/", "/ab", "/pod", "/pods/", "/\xff", "/\xff/\xfe", "/z/z", "/q"};
        for (size_t p = 0; p < K1S_ARRAY_SIZE(prefixes); p++) {
            size_t want = 0;
            for (int i = 0; i < NKEYS; i++)
                want += present[i] && k1s_str_has_prefix(keys[i], prefixes[p]);
            assert_int_equal(k1s_store_index_count_prefix(ix, prefixes[p]), want);
            check_range(ix, present, prefixes[p], NULL, 0);
            check_range(ix, present, prefixes[p], keys[rnd(NKEYS)], 0);
            check_range(ix, present, prefixes[p], keys[rnd(NKEYS)], 1 + (int)rnd(20));
            char after[80];
            snprintf(after, sizeof(after), "%sm", keys[rnd(NKEYS)]);
            check_range(ix, present, prefixes[p], after, 0);
        }
    }
    k1s_store_index_free(ix);
    k1s_store_index_free(NULL);
    free_keys();
}

static void test_hmap_random(void **state)
{
    k1s_store_hmap_t m = K1S_STORE_HMAP_INIT;
    char *names[500];
    void *vals[500] = {0};
    for (int i = 0; i < 500; i++)
        names[i] = k1s_xasprintf("k%d", i);
    assert_null(k1s_store_hmap_get(&m, "k1"));
    assert_null(k1s_store_hmap_del(&m, "k1"));
    size_t count = 0;
    for (int op = 0; op < 200000; op++) {
        int i = (int)rnd(op < 100000 ? 500 : 40);
        if (rnd(2)) {
            void *v = (void *)(uintptr_t)(op + 1);
            void *old = k1s_store_hmap_set(&m, names[i], v);
            assert_ptr_equal(old, vals[i]);
            count += !vals[i];
            vals[i] = v;
        } else {
            void *old = k1s_store_hmap_del(&m, names[i]);
            assert_ptr_equal(old, vals[i]);
            count -= !!vals[i];
            vals[i] = NULL;
        }
        assert_int_equal(m.count, count);
        if (op % 1000 == 0) {
            for (int j = 0; j < 500; j++)
                assert_ptr_equal(k1s_store_hmap_get(&m, names[j]), vals[j]);
        }
    }
    k1s_store_hmap_clear(&m);
    assert_null(k1s_store_hmap_get(&m, names[0]));
    assert_int_equal(m.count, 0);
    k1s_store_hmap_free(&m);
    for (int i = 0; i < 500; i++)
        free(names[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_random),
        cmocka_unit_test(test_hmap_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
