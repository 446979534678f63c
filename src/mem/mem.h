/* The allocator hook shared by the mem and store rooms. Every allocation of
 * slab pages, large values, I/O buffers and dict tables goes through one
 * `struct mem_allocator`, so a test can fail the Nth allocation and check
 * that the caller gets NULL / ERR_NOMEM and that nothing leaks. Production
 * code passes NULL and gets malloc/free. Knows nothing of what is stored. */
#ifndef RAFTCACHE_MEM_H
#define RAFTCACHE_MEM_H

#include <stddef.h>

struct mem_allocator {
    /* Returns `size` bytes aligned for any object, or NULL. */
    void *(*malloc_fn)(void *ctx, size_t size);
    /* Frees what malloc_fn returned; p is never NULL. */
    void (*free_fn)(void *ctx, void *p);
    void *ctx;
};

/* The default allocator (plain malloc/free). */
extern const struct mem_allocator mem_default_allocator;

/* Allocates through `a` (NULL: the default allocator). */
void *mem_alloc(const struct mem_allocator *a, size_t size);
/* Zeroed memory through `a`. With the default allocator this is calloc,
 * whose big blocks are fresh zero pages from mmap: a 256 MiB dict table
 * costs no memset (no latency spike when the keyspace doubles). */
void *mem_calloc(const struct mem_allocator *a, size_t size);
/* Frees through `a`; p may be NULL. */
void mem_free(const struct mem_allocator *a, void *p);

#endif
