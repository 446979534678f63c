/* The keyspace: one dict of entries, each entry holding its key and value
 * inline in ONE slab chunk behind an 18-byte header (chain pointer, value
 * length, LRU/LFU + type + encoding + expire flag, key length). Expiry is
 * lazy on access plus Redis' adaptive active cycle over an index of volatile
 * keys; maxmemory evicts with Redis' sampling approximation. Expired and
 * evicted keys go through a callback, and the caller chooses whether the
 * store deletes them now (single node) or only reports them (a replicated
 * leader proposes DELs; a follower never expires keys, it only hides them).
 * Never reads the clock: every call that needs time takes now_ms (Unix ms).
 * Knows nothing of RESP or commands: WRONGTYPE and reply texts are cmd's. */
#ifndef RAFTCACHE_STORE_H
#define RAFTCACHE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mem/mem.h"
#include "mem/slab.h"
#include "store/dict.h"

struct pool;
struct store;

/* Value types, 4 bits in the entry: room for lists, sets, hashes later.
 * Only STRING exists now. */
enum store_type {
    STORE_TYPE_STRING = 0,
    STORE_TYPE_LIST = 1,
    STORE_TYPE_SET = 2,
    STORE_TYPE_ZSET = 3,
    STORE_TYPE_HASH = 4,
    STORE_TYPE_STREAM = 5,
};

/* Encodings as OBJECT ENCODING names them (3 bits). A string value is
 * always stored as its bytes; INT records that the bytes are a canonical
 * int64 (Redis keeps such values as integers), EMBSTR a string of at most
 * STORE_EMBSTR_MAX bytes, RAW anything else or any value modified in place
 * (APPEND and SETRANGE make "raw" in Redis). */
enum store_encoding {
    STORE_ENC_RAW = 0,
    STORE_ENC_INT = 1,
    STORE_ENC_EMBSTR = 2,
};
#define STORE_EMBSTR_MAX 44

/* maxmemory-policy, with Redis' names (store_policy_name). */
enum store_policy {
    STORE_POLICY_NOEVICTION = 0,
    STORE_POLICY_ALLKEYS_LRU,
    STORE_POLICY_ALLKEYS_LFU,
    STORE_POLICY_ALLKEYS_RANDOM,
    STORE_POLICY_VOLATILE_LRU,
    STORE_POLICY_VOLATILE_LFU,
    STORE_POLICY_VOLATILE_RANDOM,
    STORE_POLICY_VOLATILE_TTL,
};

/* What the store does with an expired or evicted key it found. */
enum store_reap_mode {
    STORE_REAP_DELETE = 0, /* call the callback, then delete the key */
    STORE_REAP_REPORT = 1, /* call the callback only; the key stays */
};

enum store_reap_why {
    STORE_REAP_EXPIRED = 0,
    STORE_REAP_EVICTED = 1,
};

/* Entry layout. The header is followed by, in order: the expire time
 * (int64, 8 bytes) and the index in the volatile-key array (u32, 4 bytes)
 * only when has_expire is set; a u32 key length only when klen is
 * STORE_KLEN_LONG; the key bytes; the value bytes. Fields after the header
 * are unaligned: use the accessors below. */
#define STORE_KLEN_LONG 0xFFFF
struct store_entry {
    struct dict_node node;   /* dict chain; must stay first */
    uint32_t vlen;           /* value bytes */
    uint32_t lru : 24;       /* LRU clock (s) or LFU: minutes<<8 | counter */
    uint32_t type : 4;       /* enum store_type */
    uint32_t encoding : 3;   /* enum store_encoding */
    uint32_t has_expire : 1;
    uint16_t klen;           /* key bytes, or STORE_KLEN_LONG */
    unsigned char data[];
};
#define STORE_ENTRY_HEADER 18 /* offsetof(struct store_entry, data) */
#define STORE_EXPIRE_FIELD 12 /* int64 expire + u32 volatile index */

/* Expire argument meaning "no expire time". */
#define STORE_NO_EXPIRE (-1)

/* A key with its hash computed once (store_key_init) and reused by every
 * call for that key in one command: the hot path hashes each key once.
 * Borrowed: ptr must stay valid for the call. */
struct store_key {
    const void *ptr;
    size_t len;
    uint64_t hash;
};

struct store_config {
    double slab_growth_factor;  /* 0: SLAB_DEFAULT_GROWTH */
    size_t slab_min_chunk;      /* 0: SLAB_DEFAULT_MIN_CHUNK */
    const struct mem_allocator *alloc; /* NULL: malloc/free */
    uint64_t seed;              /* dict hash seed and sampling PRNG */
    size_t maxmemory;           /* bytes; 0: no limit */
    enum store_policy policy;
    unsigned maxmemory_samples; /* 0: 5 */
    unsigned lfu_log_factor;    /* lfu-log-factor, Redis default 10 */
    unsigned lfu_decay_time;    /* lfu-decay-time minutes, default 1 */
    int hide_expired_only;      /* 1: follower mode, never delete on access */
    struct pool *pool;          /* optional: its bytes count as used memory */
};

/* Counters for INFO stats; reset by store_reset_stats (CONFIG RESETSTAT). */
struct store_stats {
    uint64_t keyspace_hits;     /* lookups with STORE_LOOKUP_READ found */
    uint64_t keyspace_misses;
    uint64_t expired_keys;      /* deleted because expired (lazy + active) */
    uint64_t evicted_keys;
    uint64_t expire_cycles;
    uint64_t expired_stale_perc; /* last cycle's expired/sampled, percent */
    uint64_t avg_ttl_ms;        /* INFO keyspace avg_ttl: running estimate
                                 * from the keys the expire cycle samples
                                 * (Redis activeExpireCycle); 0 if none */
};

/* Memory accounting for INFO memory and maxmemory. */
struct store_memory {
    size_t used;        /* what maxmemory compares: slab used + dict tables
                         * + volatile index + pool held (if configured) */
    size_t held;        /* same but slab pages held instead of used */
    size_t slab_used;
    size_t slab_held;
    size_t dict_bytes;
    size_t volatile_bytes;
    size_t pool_bytes;
    size_t maxmemory;
};

/* ---- Entry accessors (no store needed; inline for the hot path) ---- */

static inline size_t store__expire_bytes(const struct store_entry *e)
{
    return e->has_expire ? STORE_EXPIRE_FIELD : 0;
}
static inline size_t store_entry_key_len(const struct store_entry *e)
{
    uint32_t n;
    if (e->klen != STORE_KLEN_LONG)
        return e->klen;
    memcpy(&n, e->data + store__expire_bytes(e), 4);
    return n;
}
static inline const char *store_entry_key(const struct store_entry *e)
{
    size_t off = store__expire_bytes(e) + (e->klen == STORE_KLEN_LONG ? 4 : 0);
    return (const char *)e->data + off;
}
static inline size_t store_entry_value_len(const struct store_entry *e)
{
    return e->vlen;
}
/* The value bytes; writable for in-place edits of vlen bytes (after
 * store_value_resize). Not NUL-terminated. */
static inline char *store_entry_value(const struct store_entry *e)
{
    return (char *)store_entry_key(e) + store_entry_key_len(e);
}
static inline enum store_type store_entry_type(const struct store_entry *e)
{
    return (enum store_type)e->type;
}
static inline enum store_encoding
store_entry_encoding(const struct store_entry *e)
{
    return (enum store_encoding)e->encoding;
}
/* The absolute expire time in Unix ms, or STORE_NO_EXPIRE. */
static inline int64_t store_entry_expire(const struct store_entry *e)
{
    int64_t t;
    if (!e->has_expire)
        return STORE_NO_EXPIRE;
    memcpy(&t, e->data, 8);
    return t;
}
/* Sets the encoding OBJECT ENCODING reports (e.g. INCRBYFLOAT makes
 * "embstr" even for "3", as Redis). */
static inline void store_entry_set_encoding(struct store_entry *e,
                                            enum store_encoding enc)
{
    e->encoding = enc;
}

/* "string", "list", ... as TYPE replies; "none" is the caller's. */
const char *store_type_name(enum store_type t);
/* "raw", "int", "embstr". */
const char *store_encoding_name(enum store_encoding enc);
/* The encoding Redis' tryObjectEncoding would give these string bytes. */
enum store_encoding store_string_encoding(const void *val, size_t vlen);
/* Redis' policy names ("allkeys-lru", ...); -1 / NULL when unknown. */
int store_policy_from_name(const char *name);
const char *store_policy_name(enum store_policy p);

/* ---- Life cycle and configuration ---- */

/* Creates an empty store; cfg may be NULL for the defaults. Returns 0 and
 * an owned *out, ERR_NOMEM, or ERR_INVALID for a bad slab configuration. */
int store_create(struct store **out, const struct store_config *cfg);
/* Frees every entry and the store. */
void store_destroy(struct store *st);

/* CONFIG SET. Each takes effect at the next call that uses it. */
void store_set_maxmemory(struct store *st, size_t bytes);
void store_set_policy(struct store *st, enum store_policy p);
void store_set_maxmemory_samples(struct store *st, unsigned n);
void store_set_lfu_params(struct store *st, unsigned log_factor,
                          unsigned decay_time);
/* 1: follower (hide logically expired keys, never delete on access);
 * 0: single node / leader (lazy expiry deletes). */
void store_set_hide_expired_only(struct store *st, int on);
int store_policy_is_lfu(const struct store *st);

/* Called with the key of every entry removed one by one (DEL, expiry,
 * eviction; not store_flush nor RENAME), after it left the dict and
 * before its bytes are freed. WATCH (cmd_watch.c) counts such keys as
 * touched, as Redis' signalModifiedKey on deletion. NULL: none. */
typedef void (*store_delete_hook)(void *ctx, const char *key, size_t len);
void store_set_delete_hook(struct store *st, store_delete_hook fn, void *ctx);
/* What a key is now, without side effects (no lazy delete, no stats):
 * STORE_KEY_ABSENT, STORE_KEY_LIVE (*expire_at gets its expire time or
 * STORE_NO_EXPIRE), or STORE_KEY_STALE (present but logically expired). */
enum { STORE_KEY_ABSENT = 0, STORE_KEY_LIVE = 1, STORE_KEY_STALE = 2 };
int store_key_state(struct store *st, const struct store_key *k,
                    uint64_t now_ms, int64_t *expire_at);

/* Hashes a key for the calls below. */
void store_key_init(const struct store *st, struct store_key *k,
                    const void *ptr, size_t len);

/* ---- Lookups ----
 * An entry pointer is borrowed: valid until the next call that modifies
 * the store (set, delete, expire, resize, rename, flush, cycles, and any
 * lookup that may delete an expired key). */

#define STORE_LOOKUP_READ 0    /* counts hits/misses, updates LRU/LFU */
#define STORE_LOOKUP_WRITE 1   /* updates LRU/LFU, no hit/miss counting */
/* Or-ed: leave LRU/LFU alone. Alone (a read) it is Redis'
 * lookupKeyReadWithFlags(LOOKUP_NOTOUCH) of EXISTS, TYPE, TTL, PTTL,
 * EXPIRETIME and OBJECT: hits and misses are still counted. */
#define STORE_LOOKUP_NOTOUCH 2

/* Returns the live entry for k, or NULL when absent or logically expired
 * (expire <= now_ms). An expired key is deleted (counted in expired_keys)
 * unless the store is in hide-expired-only mode, where it stays hidden. */
struct store_entry *store_lookup(struct store *st, const struct store_key *k,
                                 unsigned flags, uint64_t now_ms);
static inline struct store_entry *
store_lookup_read(struct store *st, const struct store_key *k, uint64_t now)
{
    return store_lookup(st, k, STORE_LOOKUP_READ, now);
}
static inline struct store_entry *
store_lookup_write(struct store *st, const struct store_key *k, uint64_t now)
{
    return store_lookup(st, k, STORE_LOOKUP_WRITE, now);
}
/* 1 if k is present and live (EXISTS). As Redis' existsCommand
 * (lookupKeyReadWithFlags with LOOKUP_NOTOUCH): counts a keyspace hit or
 * miss, leaves LRU/LFU alone. */
int store_exists(struct store *st, const struct store_key *k,
                 uint64_t now_ms);

/* ---- Writes ---- */

#define STORE_SET_KEEPTTL 1  /* keep the existing key's expire (KEEPTTL) */

/* Sets k to the string val (vlen bytes, copied) with the absolute expire
 * time expire_at_ms (STORE_NO_EXPIRE for none; ignored with KEEPTTL),
 * replacing any existing entry of any type. Encoding as Redis would pick
 * it. NX/XX/GET are the caller's (lookup first). On success returns 0 and,
 * if out is not NULL, the new entry; ERR_NOMEM leaves the old entry. */
int store_set(struct store *st, const struct store_key *k, const void *val,
              size_t vlen, int64_t expire_at_ms, unsigned flags,
              uint64_t now_ms, struct store_entry **out);

/* Writing a value of known length straight into its final chunk (a large
 * bulk read from the socket into place, memcached conn_nread):
 * store_reserve allocates the entry for k and vlen bytes and copies the
 * key; the caller fills r->value[0..vlen) and then calls store_publish,
 * which links it exactly as store_set would (replacing what is there at
 * publish time), or store_cancel. with_expire: room for an expire field
 * is reserved (avoids a copy when SET .. EX follows). */
struct store_reservation {
    struct store_entry *e;  /* owned by the reservation until publish */
    char *value;            /* where the vlen value bytes go */
    size_t vlen;
    uint64_t hash;
};
int store_reserve(struct store *st, const struct store_key *k, size_t vlen,
                  int with_expire, struct store_reservation *r);
int store_publish(struct store *st, struct store_reservation *r,
                  int64_t expire_at_ms, unsigned flags, uint64_t now_ms,
                  struct store_entry **out);
void store_cancel(struct store *st, struct store_reservation *r);

/* Resizes the value of *ep to vlen bytes for an in-place edit (APPEND,
 * SETRANGE): the first min(old, new) bytes are kept, new bytes are
 * uninitialised (SETRANGE zero-fills them). Moves the entry to another
 * chunk when its slab class changes and updates *ep; grows into the
 * chunk's slack without moving. Sets the encoding to RAW. Keeps TTL and
 * LRU. Returns 0, or ERR_NOMEM with *ep unchanged. */
int store_value_resize(struct store *st, struct store_entry **ep,
                       size_t vlen);
/* Replaces the value of *ep by val (INCR, INCRBYFLOAT), keeping TTL and
 * LRU; encoding as store_string_encoding. Same return as resize. */
int store_value_replace(struct store *st, struct store_entry **ep,
                        const void *val, size_t vlen);

/* Removes k. Returns 1 if a live key was removed, 0 if absent or only
 * logically expired (such a key is still removed: DEL from the leader
 * must remove it on followers too). */
int store_delete(struct store *st, const struct store_key *k,
                 uint64_t now_ms);
/* Removes an entry got from a lookup. */
void store_delete_entry(struct store *st, struct store_entry *e);

/* Sets the absolute expire time of *ep (STORE_NO_EXPIRE removes it, as
 * PERSIST). May move the entry (the expire field is stored only when set)
 * and updates *ep. An expire in the past is stored as is: deleting the
 * key instead (Redis' checkAlreadyExpired) is the caller's choice.
 * Returns 0 or ERR_NOMEM (entry unchanged). */
int store_entry_set_expire(struct store *st, struct store_entry **ep,
                           int64_t expire_at_ms);
/* PERSIST: returns 1 if an expire was removed, 0 if there was none,
 * ERR_NOMEM. */
int store_entry_persist(struct store *st, struct store_entry **ep);

/* Renames src to dst, overwriting dst, keeping the value, type, encoding,
 * TTL and LRU of src. src == dst is allowed (no-op). Returns 0 (and the
 * new entry in *out if not NULL), ERR_NOTFOUND when src is absent or
 * logically expired, ERR_NOMEM (nothing changed). RENAMENX checks dst
 * first. */
int store_rename(struct store *st, const struct store_key *src,
                 const struct store_key *dst, uint64_t now_ms,
                 struct store_entry **out);

/* FLUSHDB / FLUSHALL: removes every entry, O(keys); a reservation in
 * flight stays valid. Slab pages are kept for reuse by any class
 * (store_memory_purge gives them back). */
void store_flush(struct store *st);

/* ---- Whole-keyspace access ---- */

/* Entries in the keyspace, including logically expired ones not yet
 * removed (as Redis' DBSIZE). */
uint64_t store_count(const struct store *st);
/* Entries with an expire time (INFO keyspace expires=). */
uint64_t store_count_volatile(const struct store *st);

/* RANDOMKEY: a random live entry, or NULL when empty. Expired keys met
 * on the way are deleted unless in hide-expired-only mode (then after 100
 * expired picks it gives up and returns NULL, like Redis' replica path
 * but without returning a hidden key). */
struct store_entry *store_random(struct store *st, uint64_t now_ms);

typedef void (*store_scan_cb)(void *ctx, const struct store_entry *e);
/* One SCAN call: visits buckets from cursor until at least `count` entries
 * were seen or 10*count buckets were visited (Redis' maxiterations), calls
 * cb for every live entry (MATCH/TYPE filtering is the caller's) and
 * returns the next cursor, 0 when done. A key present for the whole scan is
 * returned at least once, across rehashes. */
uint64_t store_scan(struct store *st, uint64_t cursor, size_t count,
                    uint64_t now_ms, store_scan_cb cb, void *ctx);

#define STORE_ITER_ALL 0   /* every entry, expired or not (snapshots) */
#define STORE_ITER_LIVE 1  /* skip logically expired entries (KEYS) */
/* Calls fn for every entry in dict order; stops when fn returns non-zero
 * and returns that value, else 0. fn must not modify the store. */
int store_foreach(struct store *st, unsigned flags, uint64_t now_ms,
                  int (*fn)(void *ctx, const struct store_entry *e),
                  void *ctx);

/* ---- Expiry, eviction, cron ---- */

/* Reports (and, with STORE_REAP_DELETE, removes after the callback) one
 * key; e is valid only during the call. */
typedef void (*store_reap_cb)(void *ctx, const struct store_entry *e,
                              enum store_reap_why why);

/* Redis' adaptive active expire cycle: samples up to 20 volatile keys,
 * handles those expired at now_ms, and repeats while more than 25% of a
 * sample had expired, until `budget` keys were sampled or one pass over
 * the volatile index was made. In REPORT mode the keys stay (and are
 * reported again by a later cycle until deleted).
 * Returns the number of expired keys found. */
size_t store_expire_cycle(struct store *st, uint64_t now_ms, size_t budget,
                          enum store_reap_mode mode, store_reap_cb cb,
                          void *ctx);

/* Before a write that may grow memory (Redis performEvictions): while used
 * memory exceeds maxmemory, picks victims by the policy with Redis'
 * sampling (maxmemory-samples, an eviction pool of 16) and reaps them.
 * Returns 0 when the write may proceed (no limit, under it, enough
 * reported/evicted, or 1024 victims handled in this call: like Redis'
 * EVICT_RUNNING the next writes carry on), ERR_NOMEM when it must be
 * refused with -OOM (noeviction over the limit, or nothing left to
 * evict). */
int store_evict(struct store *st, uint64_t now_ms, enum store_reap_mode mode,
                store_reap_cb cb, void *ctx);
/* Removes k as an eviction decided elsewhere (a replicated DEL of an
 * evicted key): counted in evicted_keys. Returns 1 if it existed. */
int store_delete_evicted(struct store *st, const struct store_key *k);
/* 1 if used memory + extra exceeds maxmemory (0 when no limit). */
int store_over_maxmemory(const struct store *st, size_t extra);

/* dict_prefetch for a coming lookup of key (stage 0, then 1). */
void store_prefetch(const struct store *st, const void *key, size_t len,
                    int stage);

/* Incremental rehash work for the cron: moves up to n buckets. Returns 1
 * while rehashing remains. */
int store_rehash_steps(struct store *st, size_t n);

/* ---- OBJECT, INFO, MEMORY ---- */

/* OBJECT IDLETIME in ms (seconds = / 1000); only meaningful when the
 * policy is not LFU (the caller replies Redis' error then). */
uint64_t store_entry_idle_ms(const struct store *st,
                             const struct store_entry *e, uint64_t now_ms);
/* OBJECT FREQ: the LFU counter after decay (Redis' LFUDecrAndReturn);
 * only meaningful when the policy is LFU. */
unsigned store_entry_freq(const struct store *st, const struct store_entry *e,
                          uint64_t now_ms);
/* Bytes of the entry's chunk (MEMORY USAGE). */
size_t store_entry_mem(const struct store *st, const struct store_entry *e);

void store_stats(const struct store *st, struct store_stats *out);
void store_reset_stats(struct store *st);
void store_memory(const struct store *st, struct store_memory *out);
size_t store_used_memory(const struct store *st);
/* MEMORY PURGE: gives the slab's free pages back to malloc; returns the
 * bytes released. */
size_t store_memory_purge(struct store *st);
/* The slab allocator, for MEMORY SLABS (slab_class_stats). */
const struct slab *store_slab(const struct store *st);

/* ---- Digest and snapshots ---- */

/* XXH3 over the keyspace in sorted key order (key, type, encoding-free
 * value bytes, expire) including logically expired entries: equal on two
 * replicas iff their keyspaces are equal. Returns 0 and *out, or
 * ERR_NOMEM (it sorts an array of entry pointers). */
int store_digest(struct store *st, uint64_t *out);

/* Serialises every entry as records through cb (called with header, key
 * and value pieces; a non-zero return stops and is returned). Record:
 * u8 type, u8 encoding, u8 flags (bit0: has expire), i64 expire LE,
 * u32 klen LE, u32 vlen LE, key, value. */
typedef int (*store_save_cb)(void *ctx, const void *buf, size_t len);
int store_save(struct store *st, store_save_cb cb, void *ctx);
#define STORE_RECORD_HEADER 19
/* Loads one record from buf: returns bytes consumed (>0), 0 when buf
 * holds less than a whole record, ERR_CORRUPT for a bad record, ERR_NOMEM.
 * An existing key with the same name is replaced. */
int store_load_record(struct store *st, const void *buf, size_t len);

#endif
