/*
 * The JSON heap; see jsonheap.h. Slabs of SLAB_SIZE bytes, aligned to
 * their size, each serving one size class: a header, then objects handed
 * out from a bump pointer and recycled through a free list. A slab with
 * free objects is on its class's list; an empty one is kept for reuse (a
 * few) or its pages are given back with MADV_DONTNEED and its address is
 * remembered for later. Objects larger than the largest class come from
 * malloc. Single-threaded use: only the thread inside enter/leave
 * allocates here, and k1s frees these trees on the thread that made them.
 */
#include "lib/jsonheap.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "lib/util.h"

#define SLAB_SIZE ((size_t)64 * 1024)
#define RESERVE ((size_t)4 << 30) /* address space only: nothing is committed until used */
#define NCLASS 16
#define KEEP_EMPTY 4 /* empty slabs kept ready instead of given back at once */

static const uint16_t class_size[NCLASS] = {16,  32,  48,  64,  80,  96,  112, 128,
                                            160, 192, 224, 256, 320, 384, 448, 512};

typedef struct slab {
    struct slab *next, *prev; /* on its class's list of slabs with room, or the empty list */
    void *free;               /* freed objects, linked through their first word */
    char *bump;               /* objects from here on were never handed out */
    uint32_t used;            /* objects handed out and not freed */
    uint16_t cls;
    bool listed;
} slab_t;

#define HDR ((sizeof(slab_t) + 15) & ~(size_t)15)

static char *region, *region_end, *region_top;
static slab_t *partial[NCLASS];
static slab_t *empty; /* empty slabs with their pages */
static size_t nempty;
static slab_t **released; /* empty slabs whose pages were given back */
static size_t nreleased, released_cap;
static size_t nslabs; /* slabs with pages: in use or kept empty */
static _Thread_local int depth;

static int class_of(size_t n)
{
    if (n <= 128)
        return n ? (int)((n + 15) / 16) - 1 : 0;
    for (int c = 8; c < NCLASS; c++)
        if (n <= class_size[c])
            return c;
    return -1;
}

static slab_t *slab_new(int cls)
{
    slab_t *s;
    if (empty) {
        s = empty;
        empty = s->next;
        nempty--;
    } else if (nreleased) {
        s = released[--nreleased];
        nslabs++;
    } else {
        if (region_top + SLAB_SIZE > region_end ||
            mprotect(region_top, SLAB_SIZE, PROT_READ | PROT_WRITE))
            return NULL;
        s = (slab_t *)region_top;
        region_top += SLAB_SIZE;
        nslabs++;
    }
    s->next = s->prev = NULL;
    s->free = NULL;
    s->bump = (char *)s + HDR;
    s->used = 0;
    s->cls = (uint16_t)cls;
    s->listed = false;
    return s;
}

static void list_add(slab_t *s)
{
    s->prev = NULL;
    s->next = partial[s->cls];
    if (s->next)
        s->next->prev = s;
    partial[s->cls] = s;
    s->listed = true;
}

static void list_del(slab_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        partial[s->cls] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->listed = false;
}

static bool slab_full(const slab_t *s)
{
    return !s->free && s->bump + class_size[s->cls] > (const char *)s + SLAB_SIZE;
}

static void *heap_alloc(size_t n)
{
    int c = class_of(n);
    if (c < 0)
        return NULL;
    slab_t *s = partial[c];
    if (!s) {
        s = slab_new(c);
        if (!s)
            return NULL;
        list_add(s);
    }
    void *p;
    if (s->free) {
        p = s->free;
        s->free = *(void **)p;
    } else {
        p = s->bump;
        s->bump += class_size[c];
    }
    s->used++;
    if (slab_full(s))
        list_del(s);
    return p;
}

static void heap_free(void *p)
{
    slab_t *s = (slab_t *)((uintptr_t)p & ~(uintptr_t)(SLAB_SIZE - 1));
    *(void **)p = s->free;
    s->free = p;
    if (--s->used) {
        if (!s->listed)
            list_add(s);
        return;
    }
    if (s->listed)
        list_del(s);
    if (nempty < KEEP_EMPTY) {
        s->next = empty;
        empty = s;
        nempty++;
        return;
    }
    if (nreleased == released_cap) {
        released_cap = released_cap ? released_cap * 2 : 64;
        released = k1s_xrealloc(released, released_cap * sizeof(*released));
    }
    madvise(s, SLAB_SIZE, MADV_DONTNEED);
    released[nreleased++] = s;
    nslabs--;
}

static void *json_heap_malloc(size_t n)
{
    if (depth) {
        void *p = heap_alloc(n);
        if (p)
            return p;
    }
    return malloc(n);
}

static void json_heap_free(void *p)
{
    if ((char *)p >= region && (char *)p < region_end)
        heap_free(p);
    else
        free(p);
}

/* Reserves the address range; false if the system refuses. */
static bool reserve(void)
{
    if (region)
        return true;
    void *r = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return false;
    region = region_top = (char *)(((uintptr_t)r + SLAB_SIZE - 1) & ~(uintptr_t)(SLAB_SIZE - 1));
    region_end = (char *)r + RESERVE;
    return true;
}

void k1s_json_heap_init(void)
{
#ifdef __SANITIZE_ADDRESS__
    (void)json_heap_malloc; /* everything stays in malloc's heap, where ASan watches it */
    (void)json_heap_free;
    (void)reserve;
#else
    if (reserve()) /* else everything stays in malloc's heap */
        json_set_alloc_funcs(json_heap_malloc, json_heap_free);
#endif
}

void k1s_json_heap_enter(void)
{
    depth++;
}

void k1s_json_heap_leave(void)
{
    k1s_assert(depth > 0);
    depth--;
}

size_t k1s_json_heap_bytes(void)
{
    return nslabs * SLAB_SIZE;
}
