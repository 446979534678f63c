/* An arena for bytes that die roughly in the order they were born: the
 * Raft log's entries, which a snapshot releases from the oldest on. Chunks
 * are mapped apart from the malloc heap, bump-allocated, and recycled
 * whole once their last buffer is released, so a node that writes the log
 * at full speed reuses warm pages instead of faulting in fresh ones every
 * cycle. With dontfork the chunks are left out of fork()ed children
 * (MADV_DONTFORK): the snapshot child never reads the log, so the fork
 * copies fewer page tables and the parent takes no copy-on-write faults on
 * log memory. Buffers larger than a quarter chunk get a mapping of their
 * own. With prefault a thread maps the next chunk (in transparent huge
 * pages when the chunk is a whole number of them) and faults it in while
 * the current one fills. Called from one thread; knows nothing of what is
 * stored. */
#ifndef RAFTCACHE_ARENA_H
#define RAFTCACHE_ARENA_H

#include <stddef.h>

#define ARENA_DEFAULT_CHUNK (4u << 20)

struct arena;

struct arena_config {
    size_t chunk_size; /* 0: ARENA_DEFAULT_CHUNK; rounded up to pages */
    size_t max_cached; /* bytes of empty chunks kept for reuse */
    int dontfork;      /* 1: chunks are not inherited by fork() */
    int prefault;      /* 1: a thread prepares the next chunk (arena.c) */
};

struct arena_stats {
    size_t mapped;     /* bytes mapped: chunks in use, cached, large, and
                        * the prefault thread's spare */
    size_t cached;     /* of which empty chunks kept for reuse */
    size_t live;       /* buffers not yet released */
    unsigned long long maps; /* chunks mapped so far (reuse saves them) */
    unsigned long long prefaulted; /* of which taken ready from the thread */
};

/* Returns NULL when out of memory. */
struct arena *arena_create(const struct arena_config *cfg);
/* Unmaps everything. Buffers still held become invalid. */
void arena_destroy(struct arena *a);
/* len bytes aligned to 16, or NULL (no memory). */
void *arena_alloc(struct arena *a, size_t len);
/* Gives back a buffer from arena_alloc; p may be NULL. */
void arena_release(void *p);
void arena_stats(const struct arena *a, struct arena_stats *st);

#endif
