/* Keyspace digest and record serialisation. The digest is XXH3 over the
 * entries in sorted key order (key, type, value, expire), so two replicas
 * that applied the same commands agree whatever their dict layout or
 * insertion order (DESIGN.md invariant 4). Records are a flat stream the
 * snapshot writer frames and checksums; loading is a parser with the
 * usual convention (>0 consumed, 0 need more, <0 error). */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hash/hash.h"
#include "store/store_internal.h"

#define DIGEST_SEED 0x52414654ull /* "RAFT" */
#define RECORD_HAS_EXPIRE 1

struct collect_ctx {
    const struct store_entry **v;
    size_t n;
};

static int collect_one(void *ctx, const struct store_entry *e)
{
    struct collect_ctx *c = ctx;
    c->v[c->n++] = e;
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    const struct store_entry *x = *(const struct store_entry *const *)a;
    const struct store_entry *y = *(const struct store_entry *const *)b;
    size_t lx = store_entry_key_len(x), ly = store_entry_key_len(y);
    int c = memcmp(store_entry_key(x), store_entry_key(y), lx < ly ? lx : ly);
    if (c != 0)
        return c;
    return lx < ly ? -1 : lx > ly;
}

static void digest_entry(struct hash_digest *d, const struct store_entry *e)
{
    hash_digest_field(d, store_entry_key(e), store_entry_key_len(e));
    hash_digest_u64(d, e->type);
    hash_digest_field(d, store_entry_value(e), e->vlen);
    hash_digest_u64(d, (uint64_t)store_entry_expire(e));
}

int store_digest(struct store *st, uint64_t *out)
{
    struct hash_digest d;
    uint64_t n = store_count(st);
    struct collect_ctx c = {.v = NULL, .n = 0};
    if (n > 0) {
        c.v = mem_alloc(st->alloc, n * sizeof(*c.v));
        if (c.v == NULL)
            return ERR_NOMEM;
        store_foreach(st, STORE_ITER_ALL, 0, collect_one, &c);
        qsort(c.v, c.n, sizeof(*c.v), cmp_keys);
    }
    hash_digest_init(&d, DIGEST_SEED);
    hash_digest_u64(&d, c.n);
    for (size_t i = 0; i < c.n; i++)
        digest_entry(&d, c.v[i]);
    mem_free(st->alloc, c.v);
    *out = hash_digest_final(&d);
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

struct save_ctx {
    store_save_cb cb;
    void *ctx;
};

static int save_one(void *ctx, const struct store_entry *e)
{
    struct save_ctx *sc = ctx;
    unsigned char h[STORE_RECORD_HEADER];
    size_t klen = store_entry_key_len(e);
    h[0] = (unsigned char)e->type;
    h[1] = (unsigned char)e->encoding;
    h[2] = e->has_expire ? RECORD_HAS_EXPIRE : 0;
    put_u64(h + 3, (uint64_t)store_entry_expire(e));
    put_u32(h + 11, (uint32_t)klen);
    put_u32(h + 15, e->vlen);
    int rv = sc->cb(sc->ctx, h, sizeof(h));
    if (rv == 0 && klen > 0)
        rv = sc->cb(sc->ctx, store_entry_key(e), klen);
    if (rv == 0 && e->vlen > 0)
        rv = sc->cb(sc->ctx, store_entry_value(e), e->vlen);
    return rv;
}

int store_save(struct store *st, store_save_cb cb, void *ctx)
{
    struct save_ctx sc = {.cb = cb, .ctx = ctx};
    return store_foreach(st, STORE_ITER_ALL, 0, save_one, &sc);
}

int store_load_record(struct store *st, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (len < STORE_RECORD_HEADER)
        return 0;
    if (p[0] != STORE_TYPE_STRING || p[1] > STORE_ENC_EMBSTR ||
        (p[2] & ~RECORD_HAS_EXPIRE) != 0)
        return ERR_CORRUPT;
    int64_t expire = (int64_t)get_u64(p + 3);
    size_t klen = get_u32(p + 11), vlen = get_u32(p + 15);
    if ((p[2] & RECORD_HAS_EXPIRE) ? expire < 0 : expire != STORE_NO_EXPIRE)
        return ERR_CORRUPT;
    size_t total = STORE_RECORD_HEADER + klen + vlen;
    if (total > INT32_MAX)
        return ERR_CORRUPT;
    if (len < total)
        return 0;
    const unsigned char *key = p + STORE_RECORD_HEADER;
    struct store_entry *e;
    uint64_t h = dict_hash(&st->dict, key, klen);
    int rv = store__insert(st, key, klen, h, key + klen, vlen, expire,
                           st->last_now, &e);
    if (rv != 0)
        return rv;
    e->encoding = p[1];
    return (int)total;
}
