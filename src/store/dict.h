/* The keyspace hash table (redis dict.c, reshaped): XXH3-hashed, intrusive
 * chaining (the next pointer lives in the caller's entry, so a key costs one
 * bucket pointer and no allocation), power-of-two tables and incremental
 * rehashing with two tables: each add/find/delete moves a bounded number of
 * buckets and the cron calls dict_rehash_steps(), so growing to tens of
 * millions of keys has no latency spike. SCAN uses Redis' reverse-binary
 * cursor: a key present for the whole scan is returned at least once across
 * growth and shrinking. Knows nothing of values, expiry or memory limits. */
#ifndef RAFTCACHE_DICT_H
#define RAFTCACHE_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "mem/mem.h"

/* Embed as the FIRST member of the entry; the dict links through it. */
struct dict_node {
    struct dict_node *next;
};

/* Returns the key bytes of an entry and their length in *len. */
typedef const void *(*dict_key_cb)(const struct dict_node *n, size_t *len);
/* Called for each entry of a SCAN step; must not add or remove entries. */
typedef void (*dict_scan_cb)(void *ctx, struct dict_node *n);

struct dict {
    struct dict_node **table[2];
    uint64_t size[2];        /* 0 or a power of two */
    uint64_t used[2];
    int64_t rehash_idx;      /* -1 when not rehashing */
    unsigned pause_rehash;   /* > 0 while an iterator is live */
    uint64_t seed;
    dict_key_cb key_of;
    const struct mem_allocator *alloc;
};

#define DICT_INITIAL_SIZE 4
/* Buckets moved per operation while rehashing (Redis moves one). */
#define DICT_REHASH_PER_OP 1

/* Initialises an empty dict (no allocation until the first add). */
void dict_init(struct dict *d, dict_key_cb key_of, uint64_t seed,
               const struct mem_allocator *alloc);
/* Frees the tables; the entries are the caller's (unlink them first or
 * walk them with dict_foreach and free them after dict_free). */
void dict_free(struct dict *d);
/* Empties the dict without touching entries (FLUSHALL after the caller has
 * freed them) and frees the tables. */
void dict_clear(struct dict *d);

/* The hash the dict uses for key bytes; compute once, pass it to find, add
 * and unlink for the same key (the hot path hashes each key once). */
uint64_t dict_hash(const struct dict *d, const void *key, size_t len);

static inline uint64_t dict_count(const struct dict *d)
{
    return d->used[0] + d->used[1];
}
static inline int dict_is_rehashing(const struct dict *d)
{
    return d->rehash_idx != -1;
}
/* Bytes held by the bucket arrays (for memory accounting). */
size_t dict_table_bytes(const struct dict *d);

/* A hint that a lookup of hash h comes soon, so that the cache misses of
 * many lookups overlap (Redis 8's batch key prefetching): stage 0 brings
 * in the bucket, stage 1 the first node of its chain (reading the bucket,
 * which stage 0 should have brought in by then). Changes nothing. */
void dict_prefetch(const struct dict *d, uint64_t h, int stage);

/* Returns the entry with this key, or NULL. */
struct dict_node *dict_find(struct dict *d, const void *key, size_t len,
                            uint64_t h);
/* Links n, whose key is absent (the caller checked with dict_find) and
 * hashes to h. Grows the table when the load factor reaches 1; if that
 * allocation fails the add still succeeds (chains get longer) unless the
 * dict has no table at all. Returns 0 or ERR_NOMEM. */
int dict_add(struct dict *d, struct dict_node *n, uint64_t h);
/* Links n (key bytes key/len, hash h) in place of the entry holding the
 * same key, returned in *old, or adds it (*old = NULL) as dict_add does:
 * the SET path's lookup and link in one chain walk. Returns 0 or
 * ERR_NOMEM (only when adding; n is not linked then). */
int dict_upsert(struct dict *d, struct dict_node *n, const void *key,
                size_t len, uint64_t h, struct dict_node **old);
/* Unlinks and returns the entry with this key, or NULL. */
struct dict_node *dict_unlink(struct dict *d, const void *key, size_t len,
                              uint64_t h);
/* Puts `repl` in the place of `old` (same key, hash h): used when an entry
 * moves to another chunk. O(chain). */
void dict_replace(struct dict *d, struct dict_node *old,
                  struct dict_node *repl, uint64_t h);

/* Moves up to n non-empty buckets (visiting at most 10*n empty ones) to the
 * new table; also starts a shrink when the fill is below 1/8. Returns 1 if
 * rehashing is still in progress, 0 when done. Called by the cron. */
int dict_rehash_steps(struct dict *d, size_t n);

/* One SCAN step: calls fn for every entry of the bucket(s) at `cursor` and
 * returns the next cursor (0 when the scan is complete). Reverse-binary
 * cursor increment as Redis dictScan, covering both tables while
 * rehashing. */
uint64_t dict_scan(struct dict *d, uint64_t cursor, dict_scan_cb fn,
                   void *ctx);

/* A random entry, fair-ish: samples a few non-empty buckets and picks a
 * random entry of their chains (Redis dictGetFairRandomKey). *rng is a
 * PRNG state the caller owns (any non-zero seed). NULL if empty. */
struct dict_node *dict_random(struct dict *d, uint64_t *rng);
/* Up to `count` entries from random places (Redis dictGetSomeKeys): fast,
 * not uniform, may repeat none. Returns how many were stored in out[]. */
size_t dict_sample(struct dict *d, struct dict_node **out, size_t count,
                   uint64_t *rng);

/* Calls fn(ctx, n) for every entry; stops early when fn returns non-zero
 * and returns that value. Rehashing is paused for the duration; fn must
 * not add entries but may unlink the entry it is given. */
int dict_foreach(struct dict *d, int (*fn)(void *ctx, struct dict_node *n),
                 void *ctx);

/* xorshift64* step used for sampling; exported for the store's PRNG. */
uint64_t dict_rand(uint64_t *state);

#endif
