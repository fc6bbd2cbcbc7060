/*
 * A separate heap for JSON trees that are parsed in bulk and dropped in
 * bulk: watch events, list pages and the informers' on-demand trees.
 *
 * Left in malloc's heap, a burst of such trees (a 1,000-pod rollout) is
 * interleaved with long-lived allocations made meanwhile, and the heap
 * cannot give the memory back once the trees are gone. Here they come
 * from 64 KiB slabs of one size class each, carved from a reserved address
 * range; a slab whose objects are all freed is returned to the system at
 * once. jansson's allocation functions are replaced (k1s_json_heap_init)
 * by ones that use this heap between k1s_json_heap_enter and _leave on the
 * calling thread, malloc otherwise; freeing tells the two apart by
 * address. Sanitizer builds keep everything in malloc, so that
 * use-after-free is still caught.
 */
#ifndef K1S_LIB_JSONHEAP_H
#define K1S_LIB_JSONHEAP_H

#include <stddef.h>

/* Installs the allocation functions; call once, first thing in main. */
void k1s_json_heap_init(void);
/* jansson allocations on this thread come from the heap until the matching leave (nests). */
void k1s_json_heap_enter(void);
void k1s_json_heap_leave(void);
/* Bytes of slabs the heap holds now (what it adds to RSS), 0 if not in use. */
size_t k1s_json_heap_bytes(void);

#endif
