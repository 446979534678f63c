/* Fixed-size chunk allocator for keyspace entries (memcached slabs.c).
 * Classes grow by `slab-growth-factor` (default 1.25) from a small minimum,
 * 8-byte aligned, up to half a 1 MiB page; bigger requests are plain
 * allocations rounded up to 1/8 of their power of two, still accounted.
 * Why: O(1) alloc and free off the hot path, bounded fragmentation, and a
 * capacity (slab_chunk_size) that lets a value grow in place.
 * A page whose chunks are all free (or every page, on slab_reset) goes to a
 * free-page list that any class takes from, so memory follows the sizes in
 * use; slab_release_free_pages gives free pages back to malloc (MEMORY
 * PURGE). Knows nothing of keys. */
#ifndef RAFTCACHE_SLAB_H
#define RAFTCACHE_SLAB_H

#include <stddef.h>
#include <stdint.h>

#include "mem/mem.h"

#define SLAB_PAGE_SIZE (1024 * 1024)
#define SLAB_MAX_CLASSES 64
#define SLAB_DEFAULT_GROWTH 1.25
/* The smallest chunk. 48 with factor 1.25 gives 48 64 80 104 136 176 ...;
 * a 16-byte key and 64-byte value entry (98 bytes) fits the 104 class. */
#define SLAB_DEFAULT_MIN_CHUNK 48
#define SLAB_ALIGN 8

struct slab;

struct slab_config {
    double growth_factor;  /* > 1.0; 0 means SLAB_DEFAULT_GROWTH */
    size_t min_chunk;      /* >= 16; 0 means SLAB_DEFAULT_MIN_CHUNK */
    const struct mem_allocator *alloc; /* NULL: malloc/free */
};

/* One slab class, as MEMORY SLABS prints it. */
struct slab_class_stats {
    size_t chunk_size;   /* bytes per chunk */
    size_t chunks_per_page;
    size_t pages;        /* pages owned by the class */
    size_t used_chunks;  /* chunks handed out */
    size_t free_chunks;  /* chunks in pages of this class not handed out */
    size_t requested;    /* sum of the sizes asked for (shows fit) */
};

/* The whole allocator. */
struct slab_totals {
    size_t held;         /* pages (class + free) * page size + large bytes:
                          * what the allocator holds from malloc */
    size_t used;         /* used chunks * chunk size + large bytes: what is
                          * handed out (Redis' used_memory counts jemalloc
                          * size classes the same way) */
    size_t pages;        /* pages allocated, including free pages */
    size_t free_pages;   /* pages on the free-page list */
    size_t large_count;  /* live allocations above the largest class */
    size_t large_bytes;  /* their rounded sizes */
    size_t requested;    /* sum of sizes asked for (slab + large) */
};

/* Creates an allocator; cfg may be NULL for the defaults.
 * Returns 0 and an owned *out, ERR_NOMEM, or ERR_INVALID for a growth
 * factor <= 1 or a min_chunk < 16. */
int slab_create(struct slab **out, const struct slab_config *cfg);
/* Frees every page; large allocations still live are the caller's to free
 * first (slab_free) or they leak. Pages are SLAB_PAGE_SIZE-aligned: with
 * the default allocator through posix_memalign, through a hook by
 * over-allocating two pages. */
void slab_destroy(struct slab *s);

/* Returns a chunk of at least `size` bytes (aligned to 8), or NULL when the
 * allocator hook fails. size must be > 0. O(1). */
void *slab_alloc(struct slab *s, size_t size);
/* Frees p, which slab_alloc returned for a request of `size` bytes, or of
 * any size with the same slab_chunk_size() (a value grown in place).
 * O(1). p may be NULL. */
void slab_free(struct slab *s, void *p, size_t size);
/* The capacity slab_alloc(size) really provides: the chunk size of its
 * class, or the rounded size of a large allocation. A value that grows
 * from `size` to n <= slab_chunk_size(size) may stay in its chunk. */
size_t slab_chunk_size(const struct slab *s, size_t size);
/* The largest request served from a class (half a page, aligned). */
size_t slab_max_chunk(const struct slab *s);

/* Returns every page to the free-page list and forgets all chunks (used by
 * FLUSHALL after the caller freed its large allocations). */
void slab_reset(struct slab *s);
/* Frees pages of the free-page list beyond `keep`; returns the bytes
 * given back. */
size_t slab_release_free_pages(struct slab *s, size_t keep);

/* Number of classes (>= 1). */
int slab_class_count(const struct slab *s);
/* Fills *out for class i in [0, slab_class_count()); ERR_INVALID if not. */
int slab_class_stats(const struct slab *s, int i, struct slab_class_stats *out);
void slab_totals(const struct slab *s, struct slab_totals *out);
/* slab_totals().used in O(1), for the maxmemory check on every write. */
size_t slab_used_bytes(const struct slab *s);

#endif
