/* The keyspace: one dict of entries, each holding key and value inline in
 * one slab chunk. This file owns the entry layout (building, reshaping
 * into another class when the value or the expire field changes), the
 * volatile-key index, lookups with lazy expiry, writes, rename, flush,
 * SCAN and iteration. Expiry cycles and LRU/LFU are in store_expire.c,
 * maxmemory in store_evict.c, digests and records in store_snapshot.c.
 * Never reads the clock; knows nothing of RESP or commands. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem/pool.h"
#include "store/store_internal.h"

_Static_assert(offsetof(struct store_entry, data) == STORE_ENTRY_HEADER,
               "the entry header is 18 bytes");

static const void *entry_key_of(const struct dict_node *n, size_t *len)
{
    const struct store_entry *e = (const struct store_entry *)n;
    *len = store_entry_key_len(e);
    return store_entry_key(e);
}

int store_create(struct store **out, const struct store_config *cfg)
{
    struct store_config defaults = {0};
    if (cfg == NULL)
        cfg = &defaults;
    struct store *st = mem_alloc(cfg->alloc, sizeof(*st));
    if (st == NULL)
        return ERR_NOMEM;
    memset(st, 0, sizeof(*st));
    struct slab_config sc = {
        .growth_factor = cfg->slab_growth_factor,
        .min_chunk = cfg->slab_min_chunk,
        .alloc = cfg->alloc,
    };
    int rv = slab_create(&st->slab, &sc);
    if (rv != 0) {
        mem_free(cfg->alloc, st);
        return rv;
    }
    st->alloc = cfg->alloc;
    dict_init(&st->dict, entry_key_of, cfg->seed ^ 0x5AFEC0DEull, cfg->alloc);
    st->rng = cfg->seed * 0x9E3779B97F4A7C15ull + 1;
    st->maxmemory = cfg->maxmemory;
    st->policy = cfg->policy;
    st->samples = cfg->maxmemory_samples ? cfg->maxmemory_samples : 5;
    st->lfu_log_factor = cfg->lfu_log_factor ? cfg->lfu_log_factor : 10;
    st->lfu_decay_time = cfg->lfu_decay_time ? cfg->lfu_decay_time : 1;
    st->hide_expired_only = cfg->hide_expired_only;
    st->pool = cfg->pool;
    *out = st;
    return 0;
}

void store_destroy(struct store *st)
{
    if (st == NULL)
        return;
    store_flush(st);
    dict_free(&st->dict);
    slab_destroy(st->slab);
    mem_free(st->alloc, st);
}

void store_set_maxmemory(struct store *st, size_t bytes)
{
    st->maxmemory = bytes;
}

void store_set_policy(struct store *st, enum store_policy p)
{
    if (p != st->policy)
        store__evpool_clear(st);
    st->policy = p;
}

void store_set_maxmemory_samples(struct store *st, unsigned n)
{
    st->samples = n ? n : 5;
}

void store_set_lfu_params(struct store *st, unsigned log_factor,
                          unsigned decay_time)
{
    st->lfu_log_factor = log_factor;
    st->lfu_decay_time = decay_time;
}

void store_set_hide_expired_only(struct store *st, int on)
{
    st->hide_expired_only = on;
}

void store_set_delete_hook(struct store *st, store_delete_hook fn, void *ctx)
{
    st->on_delete = fn;
    st->on_delete_ctx = ctx;
}

int store_key_state(struct store *st, const struct store_key *k,
                    uint64_t now_ms, int64_t *expire_at)
{
    struct dict_node *n = dict_find(&st->dict, k->ptr, k->len, k->hash);
    const struct store_entry *e = (const struct store_entry *)n;
    *expire_at = STORE_NO_EXPIRE;
    if (e == NULL)
        return STORE_KEY_ABSENT;
    if (store__expired(e, now_ms))
        return STORE_KEY_STALE;
    *expire_at = store_entry_expire(e);
    return STORE_KEY_LIVE;
}

int store_policy_is_lfu(const struct store *st)
{
    return st->policy == STORE_POLICY_ALLKEYS_LFU ||
           st->policy == STORE_POLICY_VOLATILE_LFU;
}

void store_key_init(const struct store *st, struct store_key *k,
                    const void *ptr, size_t len)
{
    k->ptr = ptr;
    k->len = len;
    k->hash = dict_hash(&st->dict, ptr, len);
}

/* ---- Names ---- */

static const char *const type_names[] = {
    "string", "list", "set", "zset", "hash", "stream",
};

const char *store_type_name(enum store_type t)
{
    if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
        return "unknown";
    return type_names[t];
}

const char *store_encoding_name(enum store_encoding enc)
{
    switch (enc) {
    case STORE_ENC_INT:
        return "int";
    case STORE_ENC_EMBSTR:
        return "embstr";
    case STORE_ENC_RAW:
        break;
    }
    return "raw";
}

static const char *const policy_names[] = {
    "noeviction",     "allkeys-lru",     "allkeys-lfu",
    "allkeys-random", "volatile-lru",    "volatile-lfu",
    "volatile-random", "volatile-ttl",
};

int store_policy_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
        if (strcasecmp(name, policy_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *store_policy_name(enum store_policy p)
{
    if ((unsigned)p >= sizeof(policy_names) / sizeof(policy_names[0]))
        return NULL;
    return policy_names[p];
}

/* Redis string2ll: canonical decimal that fits int64 ("-0", "+1", "01",
 * " 1" are not canonical and stay strings). */
static int is_canonical_int64(const unsigned char *s, size_t len)
{
    if (len == 0 || len > 20)
        return 0;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1)
            return 0;
    }
    if (s[i] == '0')
        return len == 1;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    return neg ? v <= (uint64_t)INT64_MAX + 1 : v <= (uint64_t)INT64_MAX;
}

enum store_encoding store_string_encoding(const void *val, size_t vlen)
{
    if (is_canonical_int64(val, vlen))
        return STORE_ENC_INT;
    return vlen <= STORE_EMBSTR_MAX ? STORE_ENC_EMBSTR : STORE_ENC_RAW;
}

/* ---- The volatile-key index: a dense array, each volatile entry holding
 * its own position, so add/remove are O(1) and sampling never meets a
 * non-volatile key. ---- */

static int vol_grow_table(struct store *st)
{
    uint32_t cap = st->vol_seg_cap ? st->vol_seg_cap * 2 : 8;
    struct store_entry ***t = mem_alloc(st->alloc, cap * sizeof(*t));
    if (t == NULL)
        return ERR_NOMEM;
    if (st->vol_nseg > 0)
        memcpy(t, st->vol, st->vol_nseg * sizeof(*t));
    mem_free(st->alloc, st->vol);
    st->vol = t;
    st->vol_seg_cap = cap;
    return 0;
}

/* Makes room for one more volatile key. Returns 0 or ERR_NOMEM. */
static int vol_reserve(struct store *st)
{
    if (st->vol_count < st->vol_nseg * STORE_VOL_SEG)
        return 0;
    if (st->vol_nseg == st->vol_seg_cap && vol_grow_table(st) != 0)
        return ERR_NOMEM;
    struct store_entry **seg =
        mem_alloc(st->alloc, STORE_VOL_SEG * sizeof(*seg));
    if (seg == NULL)
        return ERR_NOMEM;
    st->vol[st->vol_nseg++] = seg;
    return 0;
}

/* Precondition: vol_reserve succeeded and e->has_expire is set. */
static void vol_add(struct store *st, struct store_entry *e)
{
    store__set_vol_index(e, st->vol_count);
    *store__vol_slot(st, st->vol_count++) = e;
}

/* Fills the hole with the last key; frees a segment once two are unused
 * (one spare avoids churn at a boundary). */
static void vol_remove(struct store *st, uint32_t idx)
{
    struct store_entry *last = *store__vol_slot(st, --st->vol_count);
    if (idx != st->vol_count) {
        *store__vol_slot(st, idx) = last;
        store__set_vol_index(last, idx);
    }
    if (st->vol_nseg > 1 &&
        st->vol_count + 2 * STORE_VOL_SEG <= st->vol_nseg * STORE_VOL_SEG)
        mem_free(st->alloc, st->vol[--st->vol_nseg]);
}

static void vol_free_all(struct store *st)
{
    for (uint32_t i = 0; i < st->vol_nseg; i++)
        mem_free(st->alloc, st->vol[i]);
    mem_free(st->alloc, st->vol);
    st->vol = NULL;
    st->vol_count = 0;
    st->vol_nseg = 0;
    st->vol_seg_cap = 0;
    st->vol_cursor = 0;
}

/* ---- Entries ---- */

static void entry_init(struct store_entry *e, const void *key, size_t klen,
                       size_t vlen, int has_expire)
{
    e->node.next = NULL;
    e->vlen = (uint32_t)vlen;
    e->lru = 0;
    e->type = STORE_TYPE_STRING;
    e->encoding = STORE_ENC_RAW;
    e->has_expire = has_expire ? 1 : 0;
    e->klen = klen >= STORE_KLEN_LONG ? STORE_KLEN_LONG : (uint16_t)klen;
    if (klen >= STORE_KLEN_LONG) {
        uint32_t k32 = (uint32_t)klen;
        memcpy(e->data + (has_expire ? STORE_EXPIRE_FIELD : 0), &k32, 4);
    }
    memcpy((char *)store_entry_key(e), key, klen);
}

static void entry_write_expire(struct store_entry *e, int64_t when)
{
    memcpy(e->data, &when, 8);
}

/* Gives *ep the layout for (has_expire, vlen), keeping key, header and
 * min(old, new) value bytes. In place when the chunk size does not change
 * (slab_free finds the class from the size); else a new chunk takes its
 * place in the dict and in the volatile index. The caller keeps the
 * volatile index right when has_expire changes. */
static int entry_reshape(struct store *st, struct store_entry **ep,
                         int has_expire, size_t vlen)
{
    struct store_entry *e = *ep;
    size_t klen = store_entry_key_len(e);
    size_t old_size = store__entry_size(e);
    size_t new_size = store__entry_size_for(klen, vlen, has_expire);
    size_t keep = e->vlen < vlen ? e->vlen : vlen;
    size_t lk = klen >= STORE_KLEN_LONG ? 4 : 0;
    if (slab_chunk_size(st->slab, old_size) ==
        slab_chunk_size(st->slab, new_size)) {
        size_t from = store__expire_bytes(e);
        size_t to = has_expire ? STORE_EXPIRE_FIELD : 0;
        memmove(e->data + to, e->data + from, lk + klen + keep);
        e->has_expire = has_expire ? 1 : 0;
        e->vlen = (uint32_t)vlen;
        return 0;
    }
    struct store_entry *n = slab_alloc(st->slab, new_size);
    if (n == NULL)
        return ERR_NOMEM;
    memcpy(n, e, STORE_ENTRY_HEADER);
    n->has_expire = has_expire ? 1 : 0;
    n->vlen = (uint32_t)vlen;
    if (has_expire && e->has_expire)
        memcpy(n->data, e->data, STORE_EXPIRE_FIELD);
    memcpy(n->data + (has_expire ? STORE_EXPIRE_FIELD : 0),
           e->data + store__expire_bytes(e), lk + klen + keep);
    dict_replace(&st->dict, &e->node, &n->node, store__entry_hash(st, e));
    if (has_expire && e->has_expire)
        *store__vol_slot(st, store__vol_index(n)) = n;
    slab_free(st->slab, e, old_size);
    *ep = n;
    return 0;
}

/* Unlinks e from the dict and the volatile index and frees its chunk. */
void store__delete_entry(struct store *st, struct store_entry *e)
{
    if (e->has_expire)
        vol_remove(st, store__vol_index(e));
    dict_unlink(&st->dict, store_entry_key(e), store_entry_key_len(e),
                store__entry_hash(st, e));
    if (st->on_delete != NULL)
        st->on_delete(st->on_delete_ctx, store_entry_key(e),
                      store_entry_key_len(e));
    slab_free(st->slab, e, store__entry_size(e));
}

void store_delete_entry(struct store *st, struct store_entry *e)
{
    store__delete_entry(st, e);
}

/* Puts the fully built entry n (key hash h) in place of whatever holds its
 * key: takes over the old entry's dict and volatile slots. Returns 0 or
 * ERR_NOMEM (n is not linked then; vol must be reserved by the caller when
 * n has an expire). */
static int entry_link(struct store *st, struct store_entry *n, uint64_t h)
{
    size_t klen = store_entry_key_len(n);
    const char *key = store_entry_key(n);
    struct dict_node *old;
    int rv = dict_upsert(&st->dict, &n->node, key, klen, h, &old);
    if (rv != 0)
        return rv;
    if (old == NULL) {
        if (n->has_expire)
            vol_add(st, n);
        return 0;
    }
    struct store_entry *o = (struct store_entry *)old;
    if (o->has_expire && n->has_expire) {
        uint32_t idx = store__vol_index(o);
        *store__vol_slot(st, idx) = n;
        store__set_vol_index(n, idx);
    } else if (o->has_expire) {
        vol_remove(st, store__vol_index(o));
    } else if (n->has_expire) {
        vol_add(st, n);
    }
    slab_free(st->slab, o, store__entry_size(o));
    return 0;
}

/* The expire a KEEPTTL write keeps: the old key's, unless the old key is
 * absent or logically expired (then the write sees no key, as Redis'
 * lookupKeyWrite after expireIfNeeded). */
static int64_t kept_expire(struct store *st, const void *key, size_t klen,
                           uint64_t h, uint64_t now)
{
    struct dict_node *old = dict_find(&st->dict, key, klen, h);
    if (old == NULL)
        return STORE_NO_EXPIRE;
    struct store_entry *o = (struct store_entry *)old;
    if (store__expired(o, now))
        return STORE_NO_EXPIRE;
    return store_entry_expire(o);
}

int store__insert(struct store *st, const void *key, size_t klen,
                  uint64_t hash, const void *val, size_t vlen,
                  int64_t expire_at, uint64_t now, struct store_entry **out)
{
    int has_expire = expire_at >= 0;
    if (vlen > UINT32_MAX)
        return ERR_TOOBIG;
    if (has_expire && vol_reserve(st) != 0)
        return ERR_NOMEM;
    size_t size = store__entry_size_for(klen, vlen, has_expire);
    struct store_entry *n = slab_alloc(st->slab, size);
    if (n == NULL)
        return ERR_NOMEM;
    entry_init(n, key, klen, vlen, has_expire);
    if (has_expire)
        entry_write_expire(n, expire_at);
    memcpy(store_entry_value(n), val, vlen);
    n->encoding = store_string_encoding(val, vlen);
    n->lru = store__lru_init(st, now);
    int rv = entry_link(st, n, hash);
    if (rv != 0) {
        slab_free(st->slab, n, size);
        return rv;
    }
    if (out != NULL)
        *out = n;
    return 0;
}

int store_set(struct store *st, const struct store_key *k, const void *val,
              size_t vlen, int64_t expire_at_ms, unsigned flags,
              uint64_t now_ms, struct store_entry **out)
{
    store__see_now(st, now_ms);
    if (flags & STORE_SET_KEEPTTL)
        expire_at_ms = kept_expire(st, k->ptr, k->len, k->hash, now_ms);
    return store__insert(st, k->ptr, k->len, k->hash, val, vlen,
                         expire_at_ms, now_ms, out);
}

/* ---- Reserve / publish ---- */

int store_reserve(struct store *st, const struct store_key *k, size_t vlen,
                  int with_expire, struct store_reservation *r)
{
    if (vlen > UINT32_MAX)
        return ERR_TOOBIG;
    size_t size = store__entry_size_for(k->len, vlen, with_expire);
    struct store_entry *e = slab_alloc(st->slab, size);
    if (e == NULL)
        return ERR_NOMEM;
    entry_init(e, k->ptr, k->len, vlen, with_expire);
    if (with_expire)
        entry_write_expire(e, STORE_NO_EXPIRE);
    r->e = e;
    r->value = store_entry_value(e);
    r->vlen = vlen;
    r->hash = k->hash;
    return 0;
}

void store_cancel(struct store *st, struct store_reservation *r)
{
    if (r->e == NULL)
        return;
    slab_free(st->slab, r->e, store__entry_size(r->e));
    r->e = NULL;
    r->value = NULL;
}

/* Gives an unlinked entry the expire layout it needs; may move it (it is
 * in no dict or index yet, so a plain copy does). */
static int reservation_fit_expire(struct store *st, struct store_entry **ep,
                                  int has_expire)
{
    struct store_entry *e = *ep;
    if (e->has_expire == (has_expire ? 1u : 0u))
        return 0;
    size_t klen = store_entry_key_len(e);
    size_t old_size = store__entry_size(e);
    size_t new_size = store__entry_size_for(klen, e->vlen, has_expire);
    size_t body = (klen >= STORE_KLEN_LONG ? 4 : 0) + klen + e->vlen;
    size_t to = has_expire ? STORE_EXPIRE_FIELD : 0;
    if (slab_chunk_size(st->slab, old_size) ==
        slab_chunk_size(st->slab, new_size)) {
        memmove(e->data + to, e->data + store__expire_bytes(e), body);
        e->has_expire = has_expire ? 1 : 0;
        return 0;
    }
    struct store_entry *n = slab_alloc(st->slab, new_size);
    if (n == NULL)
        return ERR_NOMEM;
    memcpy(n, e, STORE_ENTRY_HEADER);
    n->has_expire = has_expire ? 1 : 0;
    memcpy(n->data + to, e->data + store__expire_bytes(e), body);
    slab_free(st->slab, e, old_size);
    *ep = n;
    return 0;
}

int store_publish(struct store *st, struct store_reservation *r,
                  int64_t expire_at_ms, unsigned flags, uint64_t now_ms,
                  struct store_entry **out)
{
    store__see_now(st, now_ms);
    struct store_entry *e = r->e;
    const char *key = store_entry_key(e);
    size_t klen = store_entry_key_len(e);
    if (flags & STORE_SET_KEEPTTL)
        expire_at_ms = kept_expire(st, key, klen, r->hash, now_ms);
    int has_expire = expire_at_ms >= 0;
    if (has_expire && vol_reserve(st) != 0)
        return ERR_NOMEM;
    int rv = reservation_fit_expire(st, &e, has_expire);
    if (rv != 0)
        return rv;
    r->e = e;
    r->value = store_entry_value(e);
    if (has_expire)
        entry_write_expire(e, expire_at_ms);
    e->encoding = store_string_encoding(r->value, e->vlen);
    e->lru = store__lru_init(st, now_ms);
    rv = entry_link(st, e, r->hash);
    if (rv != 0)
        return rv;
    r->e = NULL;
    r->value = NULL;
    if (out != NULL)
        *out = e;
    return 0;
}

/* ---- Lookups ---- */

struct store_entry *store_lookup(struct store *st, const struct store_key *k,
                                 unsigned flags, uint64_t now_ms)
{
    store__see_now(st, now_ms);
    struct dict_node *n = dict_find(&st->dict, k->ptr, k->len, k->hash);
    struct store_entry *e = (struct store_entry *)n;
    if (e != NULL && store__expired(e, now_ms)) {
        /* A follower only hides the key: the leader's DEL removes it. */
        if (!st->hide_expired_only) {
            store__delete_entry(st, e);
            st->stats.expired_keys++;
        }
        e = NULL;
    }
    int is_read = (flags & STORE_LOOKUP_WRITE) == 0;
    if (e == NULL) {
        if (is_read)
            st->stats.keyspace_misses++;
        return NULL;
    }
    if (is_read)
        st->stats.keyspace_hits++;
    if (!(flags & STORE_LOOKUP_NOTOUCH))
        store__lru_touch(st, e, now_ms);
    return e;
}

int store_exists(struct store *st, const struct store_key *k,
                 uint64_t now_ms)
{
    return store_lookup(st, k, STORE_LOOKUP_READ | STORE_LOOKUP_NOTOUCH,
                        now_ms) != NULL;
}

/* ---- In-place edits ---- */

int store_value_resize(struct store *st, struct store_entry **ep,
                       size_t vlen)
{
    if (vlen > UINT32_MAX)
        return ERR_TOOBIG;
    int rv = entry_reshape(st, ep, (*ep)->has_expire, vlen);
    if (rv != 0)
        return rv;
    (*ep)->encoding = STORE_ENC_RAW;
    return 0;
}

int store_value_replace(struct store *st, struct store_entry **ep,
                        const void *val, size_t vlen)
{
    if (vlen > UINT32_MAX)
        return ERR_TOOBIG;
    int rv = entry_reshape(st, ep, (*ep)->has_expire, vlen);
    if (rv != 0)
        return rv;
    memcpy(store_entry_value(*ep), val, vlen);
    (*ep)->encoding = store_string_encoding(val, vlen);
    return 0;
}

/* ---- Deletes, expire, rename, flush ---- */

int store_delete(struct store *st, const struct store_key *k,
                 uint64_t now_ms)
{
    store__see_now(st, now_ms);
    struct dict_node *n = dict_find(&st->dict, k->ptr, k->len, k->hash);
    if (n == NULL)
        return 0;
    struct store_entry *e = (struct store_entry *)n;
    int live = !store__expired(e, now_ms);
    store__delete_entry(st, e);
    return live;
}

int store_entry_set_expire(struct store *st, struct store_entry **ep,
                           int64_t expire_at_ms)
{
    struct store_entry *e = *ep;
    if (expire_at_ms < 0) {
        int rv = store_entry_persist(st, ep);
        return rv < 0 ? rv : 0;
    }
    if (e->has_expire) {
        entry_write_expire(e, expire_at_ms);
        return 0;
    }
    if (vol_reserve(st) != 0)
        return ERR_NOMEM;
    int rv = entry_reshape(st, ep, 1, e->vlen);
    if (rv != 0)
        return rv;
    entry_write_expire(*ep, expire_at_ms);
    vol_add(st, *ep);
    return 0;
}

int store_entry_persist(struct store *st, struct store_entry **ep)
{
    struct store_entry *e = *ep;
    if (!e->has_expire)
        return 0;
    uint32_t idx = store__vol_index(e);
    int rv = entry_reshape(st, ep, 0, e->vlen);
    if (rv != 0)
        return rv;
    vol_remove(st, idx);
    return 1;
}

static int same_key(const struct store_key *a, const struct store_key *b)
{
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* Builds the renamed copy of src: same header (type, encoding, LRU), same
 * expire, dst's key, same value. */
static struct store_entry *rename_copy(struct store *st,
                                       const struct store_entry *src,
                                       const struct store_key *dst)
{
    size_t size = store__entry_size_for(dst->len, src->vlen, src->has_expire);
    struct store_entry *n = slab_alloc(st->slab, size);
    if (n == NULL)
        return NULL;
    entry_init(n, dst->ptr, dst->len, src->vlen, src->has_expire);
    n->lru = src->lru;
    n->type = src->type;
    n->encoding = src->encoding;
    if (src->has_expire)
        entry_write_expire(n, store_entry_expire(src));
    memcpy(store_entry_value(n), store_entry_value(src), src->vlen);
    return n;
}

int store_rename(struct store *st, const struct store_key *src,
                 const struct store_key *dst, uint64_t now_ms,
                 struct store_entry **out)
{
    struct store_entry *s = store_lookup(st, src, STORE_LOOKUP_WRITE |
                                         STORE_LOOKUP_NOTOUCH, now_ms);
    if (s == NULL)
        return ERR_NOTFOUND;
    if (same_key(src, dst)) {
        if (out != NULL)
            *out = s;
        return 0;
    }
    struct store_entry *n = rename_copy(st, s, dst);
    if (n == NULL)
        return ERR_NOMEM;
    struct dict_node *d = dict_find(&st->dict, dst->ptr, dst->len, dst->hash);
    if (d != NULL)
        store__delete_entry(st, (struct store_entry *)d);
    /* n takes over src's volatile slot (read after dst's removal, which
     * may have moved it), then replaces src in the dict. */
    if (s->has_expire) {
        uint32_t idx = store__vol_index(s);
        *store__vol_slot(st, idx) = n;
        store__set_vol_index(n, idx);
    }
    dict_unlink(&st->dict, src->ptr, src->len, src->hash);
    slab_free(st->slab, s, store__entry_size(s));
    /* The dict still has its table (it held src), so this cannot fail. */
    dict_add(&st->dict, &n->node, dst->hash);
    if (out != NULL)
        *out = n;
    return 0;
}

static int free_entry(void *ctx, struct dict_node *node)
{
    struct store *st = ctx;
    struct store_entry *e = (struct store_entry *)node;
    slab_free(st->slab, e, store__entry_size(e));
    return 0;
}

/* Frees entry by entry rather than resetting the slab: a reservation in
 * flight (a big value still arriving from a socket) owns a chunk that is
 * in no dict, and must survive a FLUSHALL. Emptied pages go to the
 * free-page list for any class. O(keys), as Redis' FLUSHALL. */
void store_flush(struct store *st)
{
    dict_foreach(&st->dict, free_entry, st);
    dict_clear(&st->dict);
    vol_free_all(st);
    store__evpool_clear(st);
}

/* ---- Whole keyspace ---- */

uint64_t store_count(const struct store *st)
{
    return dict_count(&st->dict);
}

uint64_t store_count_volatile(const struct store *st)
{
    return st->vol_count;
}

#define STORE_RANDOM_TRIES 100

struct store_entry *store_random(struct store *st, uint64_t now_ms)
{
    for (int tries = 0; tries < STORE_RANDOM_TRIES || !st->hide_expired_only;
         tries++) {
        struct store_entry *e =
            (struct store_entry *)dict_random(&st->dict, &st->rng);
        if (e == NULL || !store__expired(e, now_ms))
            return e;
        if (!st->hide_expired_only) {
            store__delete_entry(st, e);
            st->stats.expired_keys++;
        }
    }
    return NULL;
}

struct scan_ctx {
    store_scan_cb cb;
    void *ctx;
    uint64_t now;
    size_t seen;
};

static void scan_one(void *ctx, struct dict_node *n)
{
    struct scan_ctx *sc = ctx;
    const struct store_entry *e = (const struct store_entry *)n;
    sc->seen++;
    if (!store__expired(e, sc->now))
        sc->cb(sc->ctx, e);
}

uint64_t store_scan(struct store *st, uint64_t cursor, size_t count,
                    uint64_t now_ms, store_scan_cb cb, void *ctx)
{
    struct scan_ctx sc = {.cb = cb, .ctx = ctx, .now = now_ms, .seen = 0};
    size_t maxiter = count * 10;
    if (count == 0)
        count = 1;
    do {
        cursor = dict_scan(&st->dict, cursor, scan_one, &sc);
    } while (cursor != 0 && maxiter-- > 0 && sc.seen < count);
    return cursor;
}

struct foreach_ctx {
    int (*fn)(void *ctx, const struct store_entry *e);
    void *ctx;
    uint64_t now;
    int live_only;
};

static int foreach_one(void *ctx, struct dict_node *n)
{
    struct foreach_ctx *fc = ctx;
    const struct store_entry *e = (const struct store_entry *)n;
    if (fc->live_only && store__expired(e, fc->now))
        return 0;
    return fc->fn(fc->ctx, e);
}

int store_foreach(struct store *st, unsigned flags, uint64_t now_ms,
                  int (*fn)(void *ctx, const struct store_entry *e),
                  void *ctx)
{
    struct foreach_ctx fc = {
        .fn = fn, .ctx = ctx, .now = now_ms,
        .live_only = (flags & STORE_ITER_LIVE) != 0,
    };
    return dict_foreach(&st->dict, foreach_one, &fc);
}

void store_prefetch(const struct store *st, const void *key, size_t len,
                    int stage)
{
    dict_prefetch(&st->dict, dict_hash(&st->dict, key, len), stage);
}

int store_rehash_steps(struct store *st, size_t n)
{
    return dict_rehash_steps(&st->dict, n);
}

/* ---- Accounting ---- */

size_t store_entry_mem(const struct store *st, const struct store_entry *e)
{
    return slab_chunk_size(st->slab, store__entry_size(e));
}

void store_stats(const struct store *st, struct store_stats *out)
{
    *out = st->stats;
}

void store_reset_stats(struct store *st)
{
    memset(&st->stats, 0, sizeof(st->stats));
}

void store_memory(const struct store *st, struct store_memory *out)
{
    struct slab_totals t;
    slab_totals(st->slab, &t);
    memset(out, 0, sizeof(*out));
    out->slab_used = t.used;
    out->slab_held = t.held;
    out->dict_bytes = dict_table_bytes(&st->dict);
    out->volatile_bytes = store__vol_bytes(st);
    if (st->pool != NULL) {
        struct pool_stats ps;
        pool_stats(st->pool, &ps);
        out->pool_bytes = ps.held;
    }
    size_t other = out->dict_bytes + out->volatile_bytes + out->pool_bytes +
                   sizeof(*st);
    out->used = t.used + other;
    out->held = t.held + other;
    out->maxmemory = st->maxmemory;
}

size_t store_used_memory(const struct store *st)
{
    size_t used = slab_used_bytes(st->slab) + dict_table_bytes(&st->dict) +
                  store__vol_bytes(st) + sizeof(*st);
    if (st->pool != NULL) {
        struct pool_stats ps;
        pool_stats(st->pool, &ps);
        used += ps.held;
    }
    return used;
}

size_t store_memory_purge(struct store *st)
{
    return slab_release_free_pages(st->slab, 0);
}

const struct slab *store_slab(const struct store *st)
{
    return st->slab;
}
