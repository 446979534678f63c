/* Expiry and access tracking. The active expire cycle is Redis'
 * activeExpireCycle over our volatile-key index: sample up to 20 volatile
 * keys, reap the expired ones, repeat while more than 25% of a sample had
 * expired, within a work budget the caller gives (we cannot read the
 * clock), and at most one pass over the index. The LRU/LFU field is Redis' 24 bits (evict.c): an LRU clock in
 * seconds, or 16 bits of minutes and an 8-bit logarithmic counter. */
#include "store/store_internal.h"

#define LRU_CLOCK_MAX ((1u << 24) - 1)
#define LRU_CLOCK_RES_MS 1000
#define LFU_INIT_VAL 5
#define EXPIRE_SAMPLE 20        /* ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP */
#define EXPIRE_REPEAT_PERC 25   /* ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE */

static uint32_t lru_clock(uint64_t now)
{
    return (uint32_t)((now / LRU_CLOCK_RES_MS) & LRU_CLOCK_MAX);
}

static uint32_t lfu_minutes(uint64_t now)
{
    return (uint32_t)((now / 1000 / 60) & 65535);
}

uint32_t store__lru_init(struct store *st, uint64_t now)
{
    if (store_policy_is_lfu(st))
        return (lfu_minutes(now) << 8) | LFU_INIT_VAL;
    return lru_clock(now);
}

/* Redis LFUTimeElapsed / LFUDecrAndReturn: one decrement per
 * lfu-decay-time minutes since the last access. */
unsigned store__lfu_decr(const struct store *st, const struct store_entry *e,
                         uint64_t now)
{
    uint32_t ldt = e->lru >> 8, counter = e->lru & 255;
    uint32_t cur = lfu_minutes(now);
    uint32_t elapsed = cur >= ldt ? cur - ldt : 65535 - ldt + cur;
    uint32_t periods = st->lfu_decay_time ? elapsed / st->lfu_decay_time : 0;
    if (periods > 0)
        counter = periods > counter ? 0 : counter - periods;
    return counter;
}

/* Redis LFULogIncr: the higher the counter, the less likely it grows. */
static unsigned lfu_log_incr(struct store *st, unsigned counter)
{
    if (counter == 255)
        return 255;
    double r = (double)(dict_rand(&st->rng) >> 11) / (double)(1ull << 53);
    double base = counter > LFU_INIT_VAL ? counter - LFU_INIT_VAL : 0;
    double p = 1.0 / (base * st->lfu_log_factor + 1);
    return r < p ? counter + 1 : counter;
}

void store__lru_touch(struct store *st, struct store_entry *e, uint64_t now)
{
    if (store_policy_is_lfu(st)) {
        unsigned counter = lfu_log_incr(st, store__lfu_decr(st, e, now));
        e->lru = (lfu_minutes(now) << 8) | counter;
        return;
    }
    e->lru = lru_clock(now);
}

/* Redis estimateObjectIdleTime: the clock wraps every 194 days. */
uint64_t store__idle_ms(const struct store *st, const struct store_entry *e,
                        uint64_t now)
{
    (void)st;
    uint32_t clock = lru_clock(now);
    if (clock >= e->lru)
        return (uint64_t)(clock - e->lru) * LRU_CLOCK_RES_MS;
    return (uint64_t)(clock + (LRU_CLOCK_MAX - e->lru)) * LRU_CLOCK_RES_MS;
}

uint64_t store_entry_idle_ms(const struct store *st,
                             const struct store_entry *e, uint64_t now_ms)
{
    return store__idle_ms(st, e, now_ms);
}

unsigned store_entry_freq(const struct store *st, const struct store_entry *e,
                          uint64_t now_ms)
{
    return store__lfu_decr(st, e, now_ms);
}

/* One sample of up to n volatile keys from the cursor on; returns how many
 * had expired. In DELETE mode the last key of the index moves into the
 * freed slot, so the cursor stays to look at it. */
/* Redis folds each sample's mean TTL into db->avg_ttl with weight 1/50. */
static void fold_avg_ttl(struct store *st, uint64_t ttl_sum, size_t live)
{
    if (live == 0)
        return;
    uint64_t avg = ttl_sum / live;
    if (st->stats.avg_ttl_ms == 0)
        st->stats.avg_ttl_ms = avg;
    else
        st->stats.avg_ttl_ms = st->stats.avg_ttl_ms / 50 * 49 + avg / 50;
}

static size_t expire_sample(struct store *st, size_t n, uint64_t now,
                            enum store_reap_mode mode, store_reap_cb cb,
                            void *ctx)
{
    size_t expired = 0, live = 0;
    uint64_t ttl_sum = 0;
    uint32_t pos = st->vol_cursor;
    for (size_t k = 0; k < n && st->vol_count > 0; k++) {
        if (pos >= st->vol_count)
            pos = 0;
        struct store_entry *e = *store__vol_slot(st, pos);
        if (!store__expired(e, now)) {
            ttl_sum += (uint64_t)(store_entry_expire(e) - (int64_t)now);
            live++;
            pos++;
            continue;
        }
        expired++;
        if (cb != NULL)
            cb(ctx, e, STORE_REAP_EXPIRED);
        if (mode == STORE_REAP_DELETE) {
            store__delete_entry(st, e);
            st->stats.expired_keys++;
        } else {
            pos++;
        }
    }
    st->vol_cursor = pos;
    fold_avg_ttl(st, ttl_sum, live);
    return expired;
}

size_t store_expire_cycle(struct store *st, uint64_t now_ms, size_t budget,
                          enum store_reap_mode mode, store_reap_cb cb,
                          void *ctx)
{
    size_t sampled = 0, total = 0;
    store__see_now(st, now_ms);
    st->stats.expire_cycles++;
    if (st->vol_count == 0)
        st->stats.avg_ttl_ms = 0; /* as Redis when db->expires is empty */
    /* At most one pass over the index per cycle: in REPORT mode the keys
     * stay, and must not be reported twice by one cycle. */
    if (budget > st->vol_count)
        budget = st->vol_count;
    while (st->vol_count > 0 && sampled < budget) {
        size_t n = EXPIRE_SAMPLE;
        if (n > st->vol_count)
            n = st->vol_count;
        if (n > budget - sampled)
            n = budget - sampled;
        size_t expired = expire_sample(st, n, now_ms, mode, cb, ctx);
        sampled += n;
        total += expired;
        st->stats.expired_stale_perc = n ? expired * 100 / n : 0;
        /* Redis repeats while the sample had more than 25% stale keys. */
        if (expired * 100 <= n * EXPIRE_REPEAT_PERC)
            break;
    }
    return total;
}
