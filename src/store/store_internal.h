/* Helpers shared by the store's files (store.c: entries and the keyspace;
 * store_expire.c: expiry and LRU/LFU; store_evict.c: maxmemory;
 * store_snapshot.c: digest and records). Not for other rooms. */
#ifndef RAFTCACHE_STORE_INTERNAL_H
#define RAFTCACHE_STORE_INTERNAL_H

#include "store/store.h"

#define STORE_EVPOOL_SIZE 16
#define STORE_EVPOOL_KEY 255

/* One candidate of the eviction pool (Redis evictionPoolEntry): the key is
 * copied because the entry may move or die before it is popped. */
struct store_evpool_entry {
    uint64_t idle;      /* higher = better victim; 0 with klen 0: empty */
    size_t klen;        /* 0: slot empty (the empty key is in `big`) */
    int used;
    char *big;          /* owned copy when klen > STORE_EVPOOL_KEY */
    char key[STORE_EVPOOL_KEY];
};

#define STORE_VOL_SEG_SHIFT 12
#define STORE_VOL_SEG (1u << STORE_VOL_SEG_SHIFT)

struct store {
    struct dict dict;
    struct slab *slab;
    const struct mem_allocator *alloc;
    /* Volatile keys, each entry holding its own index: segments of
     * STORE_VOL_SEG pointers, so growing never copies the whole index
     * (no latency spike at millions of volatile keys). */
    struct store_entry ***vol;
    uint32_t vol_count;
    uint32_t vol_nseg;          /* segments allocated */
    uint32_t vol_seg_cap;       /* slots of the segment table */
    uint32_t vol_cursor;        /* active expire position */
    uint64_t rng;
    uint64_t last_now;          /* latest now_ms seen (record loading) */
    size_t maxmemory;
    enum store_policy policy;
    unsigned samples;
    unsigned lfu_log_factor;
    unsigned lfu_decay_time;
    int hide_expired_only;
    struct pool *pool;
    struct store_stats stats;
    struct store_evpool_entry evpool[STORE_EVPOOL_SIZE];
    store_delete_hook on_delete;    /* store_set_delete_hook */
    void *on_delete_ctx;
};

static inline size_t store__entry_size_for(size_t klen, size_t vlen,
                                           int has_expire)
{
    return STORE_ENTRY_HEADER + (has_expire ? STORE_EXPIRE_FIELD : 0) +
           (klen >= STORE_KLEN_LONG ? 4 : 0) + klen + vlen;
}

static inline size_t store__entry_size(const struct store_entry *e)
{
    return store__entry_size_for(store_entry_key_len(e), e->vlen,
                                 e->has_expire);
}

/* Logically expired at now (Redis keyIsExpired: now > when). */
static inline int store__expired(const struct store_entry *e, uint64_t now)
{
    return e->has_expire && (int64_t)now > store_entry_expire(e);
}

static inline struct store_entry **store__vol_slot(const struct store *st,
                                                   uint32_t i)
{
    return &st->vol[i >> STORE_VOL_SEG_SHIFT][i & (STORE_VOL_SEG - 1)];
}

static inline size_t store__vol_bytes(const struct store *st)
{
    return (size_t)st->vol_nseg * STORE_VOL_SEG * sizeof(struct store_entry *) +
           (size_t)st->vol_seg_cap * sizeof(struct store_entry **);
}

static inline uint32_t store__vol_index(const struct store_entry *e)
{
    uint32_t i;
    memcpy(&i, e->data + 8, 4);
    return i;
}

static inline void store__set_vol_index(struct store_entry *e, uint32_t i)
{
    memcpy(e->data + 8, &i, 4);
}

static inline uint64_t store__entry_hash(const struct store *st,
                                         const struct store_entry *e)
{
    return dict_hash(&st->dict, store_entry_key(e), store_entry_key_len(e));
}

static inline void store__see_now(struct store *st, uint64_t now)
{
    if (now > st->last_now)
        st->last_now = now;
}

/* store.c */
void store__delete_entry(struct store *st, struct store_entry *e);
int store__insert(struct store *st, const void *key, size_t klen,
                  uint64_t hash, const void *val, size_t vlen,
                  int64_t expire_at, uint64_t now,
                  struct store_entry **out);

/* store_expire.c: LRU/LFU (Redis evict.c) */
uint32_t store__lru_init(struct store *st, uint64_t now);
void store__lru_touch(struct store *st, struct store_entry *e, uint64_t now);
uint64_t store__idle_ms(const struct store *st, const struct store_entry *e,
                        uint64_t now);
unsigned store__lfu_decr(const struct store *st, const struct store_entry *e,
                         uint64_t now);

/* store_evict.c */
void store__evpool_clear(struct store *st);

#endif
