/* A pool of I/O buffers for client query and reply buffers. Standard
 * buffers (16 KiB by default) are kept on a bounded free list so that a
 * busy server does not call malloc per read; bigger buffers (a large bulk
 * argument, a big reply) are allocated on demand and returned to malloc.
 * Everything is accounted for INFO (used_memory, client buffers). Knows
 * nothing of sockets or RESP. */
#ifndef RAFTCACHE_POOL_H
#define RAFTCACHE_POOL_H

#include <stddef.h>

#include "mem/mem.h"

#define POOL_DEFAULT_BUF_SIZE (16 * 1024)
#define POOL_DEFAULT_MAX_FREE 1024

struct pool;

struct pool_config {
    size_t buf_size;  /* standard buffer size; 0: POOL_DEFAULT_BUF_SIZE */
    size_t max_free;  /* free-list bound; 0: POOL_DEFAULT_MAX_FREE */
    const struct mem_allocator *alloc; /* NULL: malloc/free */
};

struct pool_stats {
    size_t held;           /* bytes in use + bytes on the free list */
    size_t in_use;         /* bytes of buffers handed out */
    size_t buffers_in_use; /* buffers handed out (standard + large) */
    size_t large_in_use;   /* of which larger than standard */
    size_t free_buffers;   /* standard buffers on the free list */
    unsigned long long allocs;  /* buffers taken from malloc, ever */
    unsigned long long reuses;  /* buffers served from the free list */
};

/* Creates a pool; cfg may be NULL. Returns 0 and an owned *out, or
 * ERR_NOMEM. */
int pool_create(struct pool **out, const struct pool_config *cfg);
/* Frees the free list. Buffers still handed out are the caller's to
 * return first. */
void pool_destroy(struct pool *p);

/* Returns an owned buffer of at least `size` bytes (size 0 means one
 * standard buffer) and its capacity in *cap, or NULL on no memory.
 * Requests up to the standard size get a standard buffer. */
void *pool_get(struct pool *p, size_t size, size_t *cap);
/* Returns a buffer taken with pool_get; cap is the capacity it came with.
 * buf may be NULL. */
void pool_put(struct pool *p, void *buf, size_t cap);
/* Grows buf (capacity *cap, of which `used` bytes are live) to at least
 * `size` bytes, keeping the live bytes. Returns the new buffer and updates
 * *cap, or NULL on no memory (buf is then still valid and owned by the
 * caller). Growth is geometric so appends stay amortised O(1). */
void *pool_grow(struct pool *p, void *buf, size_t *cap, size_t used,
                size_t size);
/* Frees the free list down to `keep` buffers (cron, low memory). */
void pool_trim(struct pool *p, size_t keep);
/* The standard buffer size. */
size_t pool_buf_size(const struct pool *p);
void pool_stats(const struct pool *p, struct pool_stats *out);

#endif
