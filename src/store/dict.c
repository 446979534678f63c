/* The keyspace hash table (redis dict.c, reshaped): XXH3-hashed, intrusive
 * chaining, power-of-two tables, incremental rehashing with two tables.
 * Every find/add/unlink moves DICT_REHASH_PER_OP buckets and the cron calls
 * dict_rehash_steps(), so a resize never stops the world; shrinking starts
 * from the cron when the fill drops below 1/8. SCAN walks a reverse-binary
 * cursor (Redis dictScan) so a resize between two calls neither skips nor
 * loops forever. Knows nothing of values, expiry or memory limits. */
#include <string.h>

#include "err.h"
#include "hash/hash.h"
#include "store/dict.h"

void dict_init(struct dict *d, dict_key_cb key_of, uint64_t seed,
               const struct mem_allocator *alloc)
{
    memset(d, 0, sizeof(*d));
    d->rehash_idx = -1;
    d->key_of = key_of;
    d->seed = seed;
    d->alloc = alloc;
}

void dict_clear(struct dict *d)
{
    for (int t = 0; t < 2; t++) {
        mem_free(d->alloc, d->table[t]);
        d->table[t] = NULL;
        d->size[t] = 0;
        d->used[t] = 0;
    }
    d->rehash_idx = -1;
}

void dict_free(struct dict *d)
{
    dict_clear(d);
}

uint64_t dict_hash(const struct dict *d, const void *key, size_t len)
{
    return hash_bytes(key, len, d->seed);
}

size_t dict_table_bytes(const struct dict *d)
{
    return (size_t)(d->size[0] + d->size[1]) * sizeof(struct dict_node *);
}

uint64_t dict_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x ? x : 0x9E3779B97F4A7C15ull;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t next_power(uint64_t n)
{
    uint64_t s = DICT_INITIAL_SIZE;
    while (s < n)
        s <<= 1;
    return s;
}

/* Allocates a table of `size` buckets: the main table if there is none,
 * else the rehash target. Returns 0 or ERR_NOMEM (nothing changed). */
static int dict_resize_to(struct dict *d, uint64_t size)
{
    struct dict_node **t = mem_calloc(d->alloc, size * sizeof(*t));
    if (t == NULL)
        return ERR_NOMEM;
    if (d->table[0] == NULL) {
        d->table[0] = t;
        d->size[0] = size;
        return 0;
    }
    d->table[1] = t;
    d->size[1] = size;
    d->used[1] = 0;
    d->rehash_idx = 0;
    return 0;
}

/* Moves bucket rehash_idx of table 0 to table 1. */
static void move_bucket(struct dict *d, uint64_t idx)
{
    struct dict_node *n = d->table[0][idx];
    uint64_t mask = d->size[1] - 1;
    while (n != NULL) {
        struct dict_node *next = n->next;
        size_t len;
        const void *key = d->key_of(n, &len);
        uint64_t h = dict_hash(d, key, len) & mask;
        n->next = d->table[1][h];
        d->table[1][h] = n;
        d->used[0]--;
        d->used[1]++;
        n = next;
    }
    d->table[0][idx] = NULL;
}

/* Table 1 becomes table 0 once table 0 is empty. */
static void finish_rehash(struct dict *d)
{
    mem_free(d->alloc, d->table[0]);
    d->table[0] = d->table[1];
    d->size[0] = d->size[1];
    d->used[0] = d->used[1];
    d->table[1] = NULL;
    d->size[1] = 0;
    d->used[1] = 0;
    d->rehash_idx = -1;
}

/* Redis dictRehash: n non-empty buckets, at most 10*n empty visits. */
static int rehash(struct dict *d, size_t n)
{
    size_t empty_visits = n * 10;
    if (!dict_is_rehashing(d))
        return 0;
    while (n-- > 0 && d->used[0] != 0) {
        while (d->table[0][d->rehash_idx] == NULL) {
            d->rehash_idx++;
            if (--empty_visits == 0)
                return 1;
        }
        move_bucket(d, (uint64_t)d->rehash_idx);
        d->rehash_idx++;
    }
    if (d->used[0] == 0) {
        finish_rehash(d);
        return 0;
    }
    return 1;
}

static void rehash_step(struct dict *d)
{
    if (d->pause_rehash == 0 && dict_is_rehashing(d))
        rehash(d, DICT_REHASH_PER_OP);
}

int dict_rehash_steps(struct dict *d, size_t n)
{
    if (d->pause_rehash > 0)
        return dict_is_rehashing(d);
    if (!dict_is_rehashing(d) && d->size[0] > DICT_INITIAL_SIZE &&
        d->used[0] * 8 < d->size[0]) {
        /* Shrink: Redis tryResizeHashTables, from the cron only. A failed
         * allocation just keeps the big table. */
        dict_resize_to(d, next_power(d->used[0]));
    }
    return rehash(d, n);
}

/* Grows at load factor 1 (Redis: dict_can_resize). A failed grow is not an
 * error as long as there is a table: chains just get longer. */
static int expand_if_needed(struct dict *d)
{
    if (d->size[0] == 0)
        return dict_resize_to(d, DICT_INITIAL_SIZE);
    if (dict_is_rehashing(d) || d->used[0] < d->size[0])
        return 0;
    dict_resize_to(d, next_power(d->used[0] + 1));
    return 0;
}

/* The link that points at key's node, or NULL; *pt is the table holding
 * it. Steps the rehash first, as every lookup does (Redis dictFind). */
static struct dict_node **find_link(struct dict *d, const void *key,
                                    size_t len, uint64_t h, int *pt)
{
    if (dict_count(d) == 0)
        return NULL;
    rehash_step(d);
    for (int t = 0; t <= 1; t++) {
        if (d->size[t] == 0)
            continue;
        struct dict_node **pp = &d->table[t][h & (d->size[t] - 1)];
        for (; *pp != NULL; pp = &(*pp)->next) {
            size_t nlen;
            const void *nkey = d->key_of(*pp, &nlen);
            if (nlen == len && memcmp(nkey, key, len) == 0) {
                *pt = t;
                return pp;
            }
        }
        if (!dict_is_rehashing(d))
            break;
    }
    return NULL;
}

void dict_prefetch(const struct dict *d, uint64_t h, int stage)
{
    /* The newer table during a rehash: where most keys end up. */
    int t = d->size[1] ? 1 : 0;
    if (d->size[t] == 0)
        return;
    struct dict_node *const *b = &d->table[t][h & (d->size[t] - 1)];
    if (stage == 0)
        __builtin_prefetch(b);
    else if (*b != NULL)
        __builtin_prefetch(*b);
}

struct dict_node *dict_find(struct dict *d, const void *key, size_t len,
                            uint64_t h)
{
    int t;
    struct dict_node **pp = find_link(d, key, len, h, &t);
    return pp != NULL ? *pp : NULL;
}

int dict_add(struct dict *d, struct dict_node *n, uint64_t h)
{
    rehash_step(d);
    int rv = expand_if_needed(d);
    if (rv != 0)
        return rv;
    int t = dict_is_rehashing(d) ? 1 : 0;
    struct dict_node **b = &d->table[t][h & (d->size[t] - 1)];
    n->next = *b;
    *b = n;
    d->used[t]++;
    return 0;
}

int dict_upsert(struct dict *d, struct dict_node *n, const void *key,
                size_t len, uint64_t h, struct dict_node **old)
{
    int t;
    struct dict_node **pp = find_link(d, key, len, h, &t);
    if (pp == NULL) {
        *old = NULL;
        return dict_add(d, n, h);
    }
    /* Overwrite in place: one chain walk instead of find + replace. */
    *old = *pp;
    n->next = (*pp)->next;
    *pp = n;
    return 0;
}

struct dict_node *dict_unlink(struct dict *d, const void *key, size_t len,
                              uint64_t h)
{
    int t;
    struct dict_node **pp = find_link(d, key, len, h, &t);
    if (pp == NULL)
        return NULL;
    struct dict_node *n = *pp;
    *pp = n->next;
    d->used[t]--;
    return n;
}

void dict_replace(struct dict *d, struct dict_node *old,
                  struct dict_node *repl, uint64_t h)
{
    for (int t = 0; t <= 1; t++) {
        if (d->size[t] == 0)
            continue;
        struct dict_node **pp = &d->table[t][h & (d->size[t] - 1)];
        for (; *pp != NULL; pp = &(*pp)->next) {
            if (*pp != old)
                continue;
            repl->next = old->next;
            *pp = repl;
            return;
        }
    }
}

static uint64_t rev(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    return __builtin_bswap64(v);
}

static void scan_bucket(struct dict_node *n, dict_scan_cb fn, void *ctx)
{
    while (n != NULL) {
        struct dict_node *next = n->next;
        fn(ctx, n);
        n = next;
    }
}

/* Redis dictScan: the cursor's high bits are incremented (reverse-binary)
 * so that the buckets of a smaller table map to contiguous runs of the
 * larger one; while rehashing every expansion of the small table's bucket
 * in the large table is emitted in the same call. */
uint64_t dict_scan(struct dict *d, uint64_t v, dict_scan_cb fn, void *ctx)
{
    if (dict_count(d) == 0)
        return 0;
    d->pause_rehash++;
    if (!dict_is_rehashing(d)) {
        uint64_t m0 = d->size[0] - 1;
        scan_bucket(d->table[0][v & m0], fn, ctx);
        v |= ~m0;
        v = rev(rev(v) + 1);
    } else {
        int small = d->size[0] <= d->size[1] ? 0 : 1;
        int big = 1 - small;
        uint64_t m0 = d->size[small] - 1, m1 = d->size[big] - 1;
        scan_bucket(d->table[small][v & m0], fn, ctx);
        do {
            scan_bucket(d->table[big][v & m1], fn, ctx);
            v |= ~m1;
            v = rev(rev(v) + 1);
        } while (v & (m0 ^ m1));
    }
    d->pause_rehash--;
    return v;
}

/* Redis dictGetRandomKey: a random non-empty bucket, then a random entry
 * of its chain. Buckets of table 0 below rehash_idx are empty: skipped. */
static struct dict_node *random_entry(struct dict *d, uint64_t *rng)
{
    struct dict_node *n = NULL;
    while (n == NULL) {
        if (dict_is_rehashing(d)) {
            uint64_t span = d->size[0] + d->size[1] - (uint64_t)d->rehash_idx;
            uint64_t i = (uint64_t)d->rehash_idx + dict_rand(rng) % span;
            n = i >= d->size[0] ? d->table[1][i - d->size[0]] : d->table[0][i];
        } else {
            n = d->table[0][dict_rand(rng) & (d->size[0] - 1)];
        }
    }
    size_t len = 0;
    for (struct dict_node *c = n; c != NULL; c = c->next)
        len++;
    for (size_t k = dict_rand(rng) % len; k > 0; k--)
        n = n->next;
    return n;
}

#define DICT_FAIR_SAMPLES 20

struct dict_node *dict_random(struct dict *d, uint64_t *rng)
{
    struct dict_node *sample[DICT_FAIR_SAMPLES];
    if (dict_count(d) == 0)
        return NULL;
    rehash_step(d);
    /* Long chains make a chain-first pick unfair; sampling 20 entries
     * spread over several buckets and picking one of them is fairer
     * (Redis dictGetFairRandomKey). */
    size_t n = dict_sample(d, sample, DICT_FAIR_SAMPLES, rng);
    if (n == 0)
        return random_entry(d, rng);
    return sample[dict_rand(rng) % n];
}

size_t dict_sample(struct dict *d, struct dict_node **out, size_t count,
                   uint64_t *rng)
{
    uint64_t total = dict_count(d);
    if (total == 0 || count == 0)
        return 0;
    if (count > total)
        count = total;
    size_t maxsteps = count * 10, stored = 0, emptylen = 0;
    int tables = dict_is_rehashing(d) ? 2 : 1;
    uint64_t maxmask = d->size[0] - 1;
    if (tables == 2 && d->size[1] - 1 > maxmask)
        maxmask = d->size[1] - 1;
    uint64_t i = dict_rand(rng) & maxmask;
    while (stored < count && maxsteps-- > 0) {
        for (int j = 0; j < tables; j++) {
            if (tables == 2 && j == 0 && i < (uint64_t)d->rehash_idx) {
                /* Already moved; past table 1's end, jump to the rest. */
                if (i >= d->size[1])
                    i = (uint64_t)d->rehash_idx;
                else
                    continue;
            }
            if (i >= d->size[j])
                continue;
            struct dict_node *n = d->table[j][i];
            if (n == NULL) {
                if (++emptylen >= 5 && emptylen > count) {
                    i = dict_rand(rng) & maxmask;
                    emptylen = 0;
                }
                continue;
            }
            emptylen = 0;
            for (; n != NULL; n = n->next) {
                out[stored++] = n;
                if (stored == count)
                    return stored;
            }
        }
        i = (i + 1) & maxmask;
    }
    return stored;
}

int dict_foreach(struct dict *d, int (*fn)(void *ctx, struct dict_node *n),
                 void *ctx)
{
    int rv = 0;
    d->pause_rehash++;
    for (int t = 0; t <= 1 && rv == 0; t++) {
        for (uint64_t i = 0; i < d->size[t] && rv == 0; i++) {
            struct dict_node *n = d->table[t][i];
            while (n != NULL && rv == 0) {
                struct dict_node *next = n->next;
                rv = fn(ctx, n);
                n = next;
            }
        }
    }
    d->pause_rehash--;
    return rv;
}
