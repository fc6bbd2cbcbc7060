/*
 * In-memory indexes of the store (internal to src/store/).
 *
 * k1s_store_index_t holds the committed live keys in key (byte) order: a
 * skiplist with spans (as in redis' zset), so a range starts with an
 * O(log n) seek and then walks in order, and counting the keys under a
 * prefix is O(log n) from two ranks. A hash table next to it answers exact
 * lookups in O(1).
 *
 * k1s_store_hmap_t is that hash table on its own: string keys (borrowed;
 * they must live as long as their entry) to pointers.
 */
#ifndef K1S_STORE_INDEX_H
#define K1S_STORE_INDEX_H

#include "store/store.h"

typedef struct k1s_store_hent {
    uint64_t hash;
    const char *key; /* NULL: empty slot */
    void *val;
} k1s_store_hent_t;

typedef struct k1s_store_hmap {
    k1s_store_hent_t *slots;
    size_t cap, count; /* cap is 0 or a power of two */
} k1s_store_hmap_t;

#define K1S_STORE_HMAP_INIT                                                                        \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

uint64_t k1s_store_hash(const char *key);
void *k1s_store_hmap_get(const k1s_store_hmap_t *m, const char *key);
/* Sets key to val (replacing the stored key pointer too, if key was there); returns the old val. */
void *k1s_store_hmap_set(k1s_store_hmap_t *m, const char *key, void *val);
/* Removes key; returns its val or NULL. */
void *k1s_store_hmap_del(k1s_store_hmap_t *m, const char *key);
/* Removes every entry, keeping the table's memory. */
void k1s_store_hmap_clear(k1s_store_hmap_t *m);
void k1s_store_hmap_free(k1s_store_hmap_t *m);

typedef struct k1s_store_index k1s_store_index_t;

k1s_store_index_t *k1s_store_index_new(void);
/* Frees the index and drops its reference to every kv. Accepts NULL. */
void k1s_store_index_free(k1s_store_index_t *ix);
size_t k1s_store_index_count(const k1s_store_index_t *ix);
/* The kv stored under key (borrowed), or NULL. */
k1s_kv_t *k1s_store_index_get(const k1s_store_index_t *ix, const char *key);
/* Stores kv under kv->key, taking over the caller's reference. Returns the kv it replaced
 * (the caller now owns that reference) or NULL. */
k1s_kv_t *k1s_store_index_set(k1s_store_index_t *ix, k1s_kv_t *kv);
/* Removes key; returns the removed kv (the caller owns the reference) or NULL. */
k1s_kv_t *k1s_store_index_del(k1s_store_index_t *ix, const char *key);
/* See k1s_store_range(). fn must not change the index. */
void k1s_store_index_range(const k1s_store_index_t *ix, const char *prefix, const char *start_after,
                           k1s_store_iter_fn fn, void *arg);
/* Number of keys that start with prefix (NULL or "" = all). */
size_t k1s_store_index_count_prefix(const k1s_store_index_t *ix, const char *prefix);

#endif
