/*
 * The store's in-memory indexes (see index.h): an open-addressing hash
 * table and an ordered skiplist with spans over the live keys.
 */
#include "store/index.h"

#include <stdlib.h>

/* ---- hash table ---------------------------------------------------------- */

uint64_t k1s_store_hash(const char *key)
{
    /* FNV-1a, with a final mix so the low bits (the slot) depend on every byte. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* The slot holding key, or the empty slot where it would go. m->cap > 0. */
static size_t hmap_slot(const k1s_store_hmap_t *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (;;) {
        const k1s_store_hent_t *e = &m->slots[i];
        if (!e->key || (e->hash == h && strcmp(e->key, key) == 0))
            return i;
        i = (i + 1) & mask;
    }
}

static void hmap_grow(k1s_store_hmap_t *m)
{
    k1s_store_hmap_t n = {k1s_xcalloc(m->cap ? m->cap * 2 : 16, sizeof(k1s_store_hent_t)),
                          m->cap ? m->cap * 2 : 16, m->count};
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key)
            n.slots[hmap_slot(&n, m->slots[i].key, m->slots[i].hash)] = m->slots[i];
    }
    free(m->slots);
    *m = n;
}

void *k1s_store_hmap_get(const k1s_store_hmap_t *m, const char *key)
{
    if (!m->count)
        return NULL;
    const k1s_store_hent_t *e = &m->slots[hmap_slot(m, key, k1s_store_hash(key))];
    return e->key ? e->val : NULL;
}

void *k1s_store_hmap_set(k1s_store_hmap_t *m, const char *key, void *val)
{
    if ((m->count + 1) * 4 > m->cap * 3)
        hmap_grow(m);
    uint64_t h = k1s_store_hash(key);
    k1s_store_hent_t *e = &m->slots[hmap_slot(m, key, h)];
    void *old = e->key ? e->val : NULL;
    if (!e->key)
        m->count++;
    e->hash = h;
    e->key = key;
    e->val = val;
    return old;
}

void *k1s_store_hmap_del(k1s_store_hmap_t *m, const char *key)
{
    if (!m->count)
        return NULL;
    size_t mask = m->cap - 1, i = hmap_slot(m, key, k1s_store_hash(key));
    if (!m->slots[i].key)
        return NULL;
    void *val = m->slots[i].val;
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].key)
            break;
        size_t k = (size_t)m->slots[j].hash & mask;
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = NULL;
    m->count--;
    return val;
}

void k1s_store_hmap_clear(k1s_store_hmap_t *m)
{
    if (m->count)
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
    m->count = 0;
}

void k1s_store_hmap_free(k1s_store_hmap_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

/* ---- ordered index: skiplist with spans ----------------------------------- */

#define SL_MAXLEVEL 32

typedef struct sl_node {
    k1s_kv_t *kv; /* NULL in the head */
    struct sl_link {
        struct sl_node *next;
        size_t span; /* nodes passed when following next (rank distance) */
    } level[];
} sl_node_t;

struct k1s_store_index {
    sl_node_t *head;
    int level;
    size_t count;
    uint64_t rng;
    k1s_store_hmap_t map; /* key -> node */
};

static sl_node_t *sl_node_new(int level, k1s_kv_t *kv)
{
    sl_node_t *n = k1s_xcalloc(1, sizeof(*n) + (size_t)level * sizeof(struct sl_link));
    n->kv = kv;
    return n;
}

/* Level with P(level > k) = 4^-k, as in redis. */
static int sl_random_level(k1s_store_index_t *ix)
{
    ix->rng ^= ix->rng << 13;
    ix->rng ^= ix->rng >> 7;
    ix->rng ^= ix->rng << 17;
    uint64_t r = ix->rng;
    int level = 1;
    while ((r & 3) == 0 && level < SL_MAXLEVEL) {
        level++;
        r >>= 2;
    }
    return level;
}

k1s_store_index_t *k1s_store_index_new(void)
{
    k1s_store_index_t *ix = k1s_xcalloc(1, sizeof(*ix));
    ix->head = sl_node_new(SL_MAXLEVEL, NULL);
    ix->level = 1;
    ix->rng = 0x9e3779b97f4a7c15ull;
    return ix;
}

void k1s_store_index_free(k1s_store_index_t *ix)
{
    if (!ix)
        return;
    sl_node_t *n = ix->head->level[0].next;
    while (n) {
        sl_node_t *next = n->level[0].next;
        k1s_kv_unref(n->kv);
        free(n);
        n = next;
    }
    free(ix->head);
    k1s_store_hmap_free(&ix->map);
    free(ix);
}

size_t k1s_store_index_count(const k1s_store_index_t *ix)
{
    return ix->count;
}

k1s_kv_t *k1s_store_index_get(const k1s_store_index_t *ix, const char *key)
{
    sl_node_t *n = k1s_store_hmap_get(&ix->map, key);
    return n ? n->kv : NULL;
}

/*
 * Finds, on every level, the last node before key (strictly less, or less
 * or equal when inclusive), filling update[] and rank[] if given. Returns
 * the number of nodes that sort before the position (its rank).
 */
static size_t sl_find(const k1s_store_index_t *ix, const char *key, bool inclusive,
                      sl_node_t **update, size_t *rank)
{
    sl_node_t *x = ix->head;
    size_t r = 0;
    for (int i = ix->level - 1; i >= 0; i--) {
        for (;;) {
            sl_node_t *next = x->level[i].next;
            if (!next)
                break;
            int c = strcmp(next->kv->key, key);
            if (c > 0 || (c == 0 && !inclusive))
                break;
            r += x->level[i].span;
            x = next;
        }
        if (update)
            update[i] = x;
        if (rank)
            rank[i] = r;
    }
    return r;
}

k1s_kv_t *k1s_store_index_set(k1s_store_index_t *ix, k1s_kv_t *kv)
{
    sl_node_t *n = k1s_store_hmap_get(&ix->map, kv->key);
    if (n) {
        k1s_kv_t *old = n->kv;
        n->kv = kv;
        k1s_store_hmap_set(&ix->map, kv->key, n); /* the old key string goes with old */
        return old;
    }
    sl_node_t *update[SL_MAXLEVEL];
    size_t rank[SL_MAXLEVEL];
    sl_find(ix, kv->key, false, update, rank);
    int level = sl_random_level(ix);
    if (level > ix->level) {
        for (int i = ix->level; i < level; i++) {
            rank[i] = 0;
            update[i] = ix->head;
            update[i]->level[i].span = ix->count;
        }
        ix->level = level;
    }
    n = sl_node_new(level, kv);
    for (int i = 0; i < level; i++) {
        n->level[i].next = update[i]->level[i].next;
        update[i]->level[i].next = n;
        n->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = rank[0] - rank[i] + 1;
    }
    for (int i = level; i < ix->level; i++)
        update[i]->level[i].span++;
    ix->count++;
    k1s_store_hmap_set(&ix->map, kv->key, n);
    return NULL;
}

k1s_kv_t *k1s_store_index_del(k1s_store_index_t *ix, const char *key)
{
    sl_node_t *n = k1s_store_hmap_get(&ix->map, key);
    if (!n)
        return NULL;
    sl_node_t *update[SL_MAXLEVEL];
    sl_find(ix, key, false, update, NULL);
    k1s_assert(update[0]->level[0].next == n);
    for (int i = 0; i < ix->level; i++) {
        if (update[i]->level[i].next == n) {
            update[i]->level[i].span += n->level[i].span - 1;
            update[i]->level[i].next = n->level[i].next;
        } else {
            update[i]->level[i].span--;
        }
    }
    while (ix->level > 1 && !ix->head->level[ix->level - 1].next)
        ix->level--;
    ix->count--;
    k1s_store_hmap_del(&ix->map, key);
    k1s_kv_t *kv = n->kv;
    free(n);
    return kv;
}

void k1s_store_index_range(const k1s_store_index_t *ix, const char *prefix, const char *start_after,
                           k1s_store_iter_fn fn, void *arg)
{
    if (!prefix)
        prefix = "";
    size_t plen = strlen(prefix);
    sl_node_t *update[SL_MAXLEVEL];
    if (start_after && *start_after && strcmp(start_after, prefix) >= 0)
        sl_find(ix, start_after, true, update, NULL);
    else
        sl_find(ix, prefix, false, update, NULL);
    for (sl_node_t *x = update[0]->level[0].next; x;) {
        if (strncmp(x->kv->key, prefix, plen) != 0)
            break;
        sl_node_t *next = x->level[0].next;
        if (fn(x->kv, arg))
            break;
        x = next;
    }
}

size_t k1s_store_index_count_prefix(const k1s_store_index_t *ix, const char *prefix)
{
    if (!prefix || !*prefix)
        return ix->count;
    size_t lo = sl_find(ix, prefix, false, NULL, NULL);
    /* The smallest string above every key with the prefix: drop trailing 0xff, bump the last. */
    char *upper = k1s_xstrdup(prefix);
    size_t len = strlen(upper);
    while (len > 0 && (unsigned char)upper[len - 1] == 0xff)
        len--;
    size_t hi = ix->count;
    if (len > 0) {
        upper[len - 1] = (char)((unsigned char)upper[len - 1] + 1);
        upper[len] = 0;
        hi = sl_find(ix, upper, false, NULL, NULL);
    }
    free(upper);
    return hi - lo;
}
