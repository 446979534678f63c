/* A pool of I/O buffers. Standard-size buffers (16 KiB by default) come
 * from and go back to a bounded free list, so a busy connection costs no
 * malloc per read; larger buffers are allocated on demand and freed on
 * return. Counts what is handed out and what is held for INFO. Buffers on
 * the free list are linked through their first bytes. Knows nothing of
 * sockets or RESP. */
#include <string.h>

#include "err.h"
#include "mem/pool.h"

struct pool_buf {
    struct pool_buf *next;
};

struct pool {
    size_t buf_size;
    size_t max_free;
    struct pool_buf *free_list;
    size_t nfree;
    size_t in_use;
    size_t buffers_in_use;
    size_t large_in_use;
    unsigned long long allocs;
    unsigned long long reuses;
    const struct mem_allocator *alloc;
};

int pool_create(struct pool **out, const struct pool_config *cfg)
{
    const struct mem_allocator *alloc = cfg ? cfg->alloc : NULL;
    struct pool *p = mem_alloc(alloc, sizeof(*p));
    if (p == NULL)
        return ERR_NOMEM;
    memset(p, 0, sizeof(*p));
    p->alloc = alloc;
    p->buf_size = cfg && cfg->buf_size ? cfg->buf_size : POOL_DEFAULT_BUF_SIZE;
    if (p->buf_size < sizeof(struct pool_buf))
        p->buf_size = sizeof(struct pool_buf);
    p->max_free = cfg && cfg->max_free ? cfg->max_free : POOL_DEFAULT_MAX_FREE;
    *out = p;
    return 0;
}

void pool_destroy(struct pool *p)
{
    if (p == NULL)
        return;
    pool_trim(p, 0);
    mem_free(p->alloc, p);
}

/* Capacity handed out for a request: standard, or the size rounded up to
 * a multiple of the standard size (keeps growth geometric via pool_grow). */
static size_t capacity_for(const struct pool *p, size_t size)
{
    if (size <= p->buf_size)
        return p->buf_size;
    return (size + p->buf_size - 1) / p->buf_size * p->buf_size;
}

void *pool_get(struct pool *p, size_t size, size_t *cap)
{
    size_t c = capacity_for(p, size);
    void *buf;
    if (c == p->buf_size && p->free_list != NULL) {
        buf = p->free_list;
        p->free_list = p->free_list->next;
        p->nfree--;
        p->reuses++;
    } else {
        buf = mem_alloc(p->alloc, c);
        if (buf == NULL)
            return NULL;
        p->allocs++;
    }
    p->in_use += c;
    p->buffers_in_use++;
    if (c > p->buf_size)
        p->large_in_use++;
    *cap = c;
    return buf;
}

void pool_put(struct pool *p, void *buf, size_t cap)
{
    if (buf == NULL)
        return;
    p->in_use -= cap;
    p->buffers_in_use--;
    if (cap > p->buf_size)
        p->large_in_use--;
    if (cap == p->buf_size && p->nfree < p->max_free) {
        struct pool_buf *b = buf;
        b->next = p->free_list;
        p->free_list = b;
        p->nfree++;
        return;
    }
    mem_free(p->alloc, buf);
}

void *pool_grow(struct pool *p, void *buf, size_t *cap, size_t used,
                size_t size)
{
    if (size <= *cap)
        return buf;
    size_t want = *cap * 2 > size ? *cap * 2 : size;
    size_t ncap;
    void *nbuf = pool_get(p, want, &ncap);
    if (nbuf == NULL)
        return NULL;
    if (used > 0)
        memcpy(nbuf, buf, used);
    pool_put(p, buf, *cap);
    *cap = ncap;
    return nbuf;
}

void pool_trim(struct pool *p, size_t keep)
{
    while (p->nfree > keep) {
        struct pool_buf *b = p->free_list;
        p->free_list = b->next;
        p->nfree--;
        mem_free(p->alloc, b);
    }
}

size_t pool_buf_size(const struct pool *p)
{
    return p->buf_size;
}

void pool_stats(const struct pool *p, struct pool_stats *out)
{
    out->in_use = p->in_use;
    out->held = p->in_use + p->nfree * p->buf_size;
    out->buffers_in_use = p->buffers_in_use;
    out->large_in_use = p->large_in_use;
    out->free_buffers = p->nfree;
    out->allocs = p->allocs;
    out->reuses = p->reuses;
}
