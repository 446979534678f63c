/* maxmemory (Redis evict.c performEvictions): while used memory exceeds
 * the limit, sample maxmemory-samples keys (all keys or the volatile
 * index, by policy), keep the best victims in a pool of 16 sorted by
 * "idle" score (LRU idle time, 255 - LFU counter, or the expire time for
 * volatile-ttl), and reap the best one still present. The pool keeps key
 * copies because entries move and die between calls. Victims are
 * reported through the caller's callback, then deleted or only reported
 * (a replicated leader proposes DELs instead). */
#include <string.h>

#include "err.h"
#include "store/store_internal.h"

/* Work bound of one call: a REPORT round frees nothing by itself, and a
 * DELETE round after maxmemory was lowered a lot must not stall the loop
 * for seconds. Like Redis' EVICT_RUNNING, the write then proceeds and the
 * next writes carry on evicting. */
#define EVICT_MAX_REPORTS 1024
#define EVICT_MAX_DELETES 1024

static int policy_is_volatile(enum store_policy p)
{
    return p == STORE_POLICY_VOLATILE_LRU || p == STORE_POLICY_VOLATILE_LFU ||
           p == STORE_POLICY_VOLATILE_RANDOM || p == STORE_POLICY_VOLATILE_TTL;
}

static const char *pool_key(const struct store_evpool_entry *pe)
{
    return pe->big != NULL ? pe->big : pe->key;
}

static void pool_entry_clear(struct store *st, struct store_evpool_entry *pe)
{
    mem_free(st->alloc, pe->big);
    pe->big = NULL;
    pe->used = 0;
    pe->klen = 0;
    pe->idle = 0;
}

void store__evpool_clear(struct store *st)
{
    for (int i = 0; i < STORE_EVPOOL_SIZE; i++)
        pool_entry_clear(st, &st->evpool[i]);
}

static uint64_t idle_score(struct store *st, const struct store_entry *e,
                           uint64_t now)
{
    switch (st->policy) {
    case STORE_POLICY_ALLKEYS_LFU:
    case STORE_POLICY_VOLATILE_LFU:
        return 255 - store__lfu_decr(st, e, now);
    case STORE_POLICY_VOLATILE_TTL:
        return UINT64_MAX - (uint64_t)store_entry_expire(e);
    default:
        return store__idle_ms(st, e, now);
    }
}

/* Inserts e into the pool kept sorted by ascending idle, the best victim
 * last (Redis evictionPoolPopulate). A full pool drops its worst. */
static void pool_insert(struct store *st, const struct store_entry *e,
                        uint64_t idle)
{
    struct store_evpool_entry *pool = st->evpool;
    int k = 0;
    while (k < STORE_EVPOOL_SIZE && pool[k].used && pool[k].idle < idle)
        k++;
    if (k == 0 && pool[STORE_EVPOOL_SIZE - 1].used)
        return; /* worse than everything in a full pool */
    size_t klen = store_entry_key_len(e);
    char *big = NULL;
    if (klen > STORE_EVPOOL_KEY) {
        big = mem_alloc(st->alloc, klen);
        if (big == NULL)
            return;
    }
    if (k < STORE_EVPOOL_SIZE && !pool[k].used) {
        /* An empty slot: nothing to move. */
    } else if (k < STORE_EVPOOL_SIZE && !pool[STORE_EVPOOL_SIZE - 1].used) {
        /* Room at the end: shift right from k. */
        memmove(&pool[k + 1], &pool[k],
                sizeof(pool[0]) * (size_t)(STORE_EVPOOL_SIZE - 1 - k));
    } else {
        /* Full: drop the worst (slot 0) and shift left up to k - 1. */
        k--;
        mem_free(st->alloc, pool[0].big);
        memmove(&pool[0], &pool[1], sizeof(pool[0]) * (size_t)k);
    }
    struct store_evpool_entry *pe = &pool[k];
    pe->used = 1;
    pe->idle = idle;
    pe->klen = klen;
    pe->big = big;
    memcpy(big != NULL ? big : pe->key, store_entry_key(e), klen);
}

static void pool_populate(struct store *st, uint64_t now)
{
    struct dict_node *sample[64];
    size_t want = st->samples > 64 ? 64 : st->samples;
    size_t n = 0;
    if (policy_is_volatile(st->policy)) {
        for (; n < want && n < st->vol_count; n++)
            sample[n] = &(*store__vol_slot(
                st, (uint32_t)(dict_rand(&st->rng) % st->vol_count)))->node;
    } else {
        n = dict_sample(&st->dict, sample, want, &st->rng);
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_entry *e = (const struct store_entry *)sample[i];
        pool_insert(st, e, idle_score(st, e, now));
    }
}

/* Pops the best victim still alive in the keyspace, or NULL. */
static struct store_entry *pool_pop_best(struct store *st)
{
    for (int k = STORE_EVPOOL_SIZE - 1; k >= 0; k--) {
        struct store_evpool_entry *pe = &st->evpool[k];
        if (!pe->used)
            continue;
        const char *key = pool_key(pe);
        uint64_t h = dict_hash(&st->dict, key, pe->klen);
        struct store_entry *e =
            (struct store_entry *)dict_find(&st->dict, key, pe->klen, h);
        pool_entry_clear(st, pe);
        if (e != NULL && (!policy_is_volatile(st->policy) || e->has_expire))
            return e;
    }
    return NULL;
}

static struct store_entry *pick_victim(struct store *st, uint64_t now)
{
    if (st->policy == STORE_POLICY_ALLKEYS_RANDOM)
        return (struct store_entry *)dict_random(&st->dict, &st->rng);
    if (st->policy == STORE_POLICY_VOLATILE_RANDOM) {
        if (st->vol_count == 0)
            return NULL;
        return *store__vol_slot(
            st, (uint32_t)(dict_rand(&st->rng) % st->vol_count));
    }
    for (int round = 0; round < 16; round++) {
        if (policy_is_volatile(st->policy) ? st->vol_count == 0
                                           : store_count(st) == 0)
            return NULL;
        pool_populate(st, now);
        struct store_entry *e = pool_pop_best(st);
        if (e != NULL)
            return e;
    }
    return NULL;
}

int store_delete_evicted(struct store *st, const struct store_key *k)
{
    struct dict_node *n = dict_find(&st->dict, k->ptr, k->len, k->hash);
    if (n == NULL)
        return 0;
    store__delete_entry(st, (struct store_entry *)n);
    st->stats.evicted_keys++;
    return 1;
}

int store_over_maxmemory(const struct store *st, size_t extra)
{
    return st->maxmemory != 0 && store_used_memory(st) + extra > st->maxmemory;
}

int store_evict(struct store *st, uint64_t now_ms, enum store_reap_mode mode,
                store_reap_cb cb, void *ctx)
{
    if (!store_over_maxmemory(st, 0))
        return 0;
    if (st->policy == STORE_POLICY_NOEVICTION)
        return ERR_NOMEM;
    size_t tofree = store_used_memory(st) - st->maxmemory, reported = 0;
    int limit = mode == STORE_REAP_DELETE ? EVICT_MAX_DELETES
                                          : EVICT_MAX_REPORTS;
    for (int n = 0; n < limit; n++) {
        if (mode == STORE_REAP_DELETE ? !store_over_maxmemory(st, 0)
                                      : reported >= tofree)
            return 0;
        struct store_entry *e = pick_victim(st, now_ms);
        if (e == NULL)
            return ERR_NOMEM;
        reported += store_entry_mem(st, e);
        if (cb != NULL)
            cb(ctx, e, STORE_REAP_EVICTED);
        if (mode == STORE_REAP_DELETE) {
            store__delete_entry(st, e);
            st->stats.evicted_keys++;
        }
    }
    /* Bounded progress was made: let the write through (EVICT_RUNNING). */
    return 0;
}
