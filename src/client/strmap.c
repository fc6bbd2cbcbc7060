/*
 * String-keyed hash map (FNV-1a, linear probing, tombstones); see strmap.h.
 */
#include "client/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static char tomb;
#define TOMB (&tomb)

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static k1s_strmap_ent_t *find(const k1s_strmap_t *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
        k1s_strmap_ent_t *e = &m->ents[i];
        if (!e->key)
            return NULL;
        if (e->key != TOMB && strcmp(e->key, key) == 0)
            return e;
    }
}

static void grow(k1s_strmap_t *m)
{
    size_t ncap = m->cap ? m->cap : 16;
    while ((m->len + 1) * 2 > ncap)
        ncap *= 2;
    if (ncap == m->cap && (m->used + 1) * 4 < m->cap * 3)
        return;
    k1s_strmap_ent_t *old = m->ents;
    size_t ocap = m->cap;
    m->ents = k1s_xcalloc(ncap, sizeof(*m->ents));
    m->cap = ncap;
    m->used = m->len;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].key || old[i].key == TOMB)
            continue;
        size_t j = hash(old[i].key) & (ncap - 1);
        while (m->ents[j].key)
            j = (j + 1) & (ncap - 1);
        m->ents[j] = old[i];
    }
    free(old);
}

void *k1s_strmap_get(const k1s_strmap_t *m, const char *key)
{
    k1s_strmap_ent_t *e = find(m, key);
    return e ? e->val : NULL;
}

bool k1s_strmap_has(const k1s_strmap_t *m, const char *key)
{
    return find(m, key) != NULL;
}

void *k1s_strmap_set(k1s_strmap_t *m, const char *key, void *val)
{
    k1s_strmap_ent_t *e = find(m, key);
    if (e) {
        void *old = e->val;
        e->val = val;
        return old;
    }
    if ((m->used + 1) * 4 >= m->cap * 3)
        grow(m);
    size_t mask = m->cap - 1;
    size_t i = hash(key) & mask;
    while (m->ents[i].key && m->ents[i].key != TOMB)
        i = (i + 1) & mask;
    if (!m->ents[i].key)
        m->used++;
    m->ents[i].key = k1s_xstrdup(key);
    m->ents[i].val = val;
    m->len++;
    return NULL;
}

void *k1s_strmap_del(k1s_strmap_t *m, const char *key)
{
    k1s_strmap_ent_t *e = find(m, key);
    if (!e)
        return NULL;
    void *v = e->val;
    free(e->key);
    e->key = TOMB;
    e->val = NULL;
    m->len--;
    return v;
}

bool k1s_strmap_next(const k1s_strmap_t *m, size_t *i, const char **key, void **val)
{
    for (; *i < m->cap; (*i)++) {
        k1s_strmap_ent_t *e = &m->ents[*i];
        if (e->key && e->key != TOMB) {
            if (key)
                *key = e->key;
            if (val)
                *val = e->val;
            (*i)++;
            return true;
        }
    }
    return false;
}

size_t k1s_strmap_len(const k1s_strmap_t *m)
{
    return m->len;
}

void k1s_strmap_free(k1s_strmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->ents[i].key && m->ents[i].key != TOMB)
            free(m->ents[i].key);
    free(m->ents);
    *m = (k1s_strmap_t)K1S_STRMAP_INIT;
}
