/*
 * A small open-addressing hash map from strings to pointers, for the
 * client framework's caches, indexes and work-queue sets. Keys are copied;
 * values are not owned.
 */
#ifndef K1S_CLIENT_STRMAP_H
#define K1S_CLIENT_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct k1s_strmap_ent {
    char *key; /* NULL: empty; K1S_STRMAP_TOMB: deleted */
    void *val;
} k1s_strmap_ent_t;

typedef struct k1s_strmap {
    k1s_strmap_ent_t *ents;
    size_t cap, len, used; /* used counts tombstones too */
} k1s_strmap_t;

#define K1S_STRMAP_INIT                                                                            \
    {                                                                                              \
        0                                                                                          \
    }

/* The value for key, or NULL. */
void *k1s_strmap_get(const k1s_strmap_t *m, const char *key);
/* True if key is present. */
bool k1s_strmap_has(const k1s_strmap_t *m, const char *key);
/* Sets key to val; returns the previous value (NULL if none). */
void *k1s_strmap_set(k1s_strmap_t *m, const char *key, void *val);
/* Removes key; returns its value (NULL if absent). */
void *k1s_strmap_del(k1s_strmap_t *m, const char *key);
/* Iteration: for (size_t i = 0; k1s_strmap_next(m, &i, &k, &v);) ...; do not modify meanwhile. */
bool k1s_strmap_next(const k1s_strmap_t *m, size_t *i, const char **key, void **val);
size_t k1s_strmap_len(const k1s_strmap_t *m);
/* Frees the map's memory (not the values). */
void k1s_strmap_free(k1s_strmap_t *m);

#endif
