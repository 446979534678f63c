/* Fixed-size chunk allocator for keyspace entries (memcached slabs.c).
 * Classes grow by the growth factor from a small minimum, 8-byte aligned,
 * up to half a 1 MiB page; a page is carved lazily (bump pointer) and freed
 * chunks go on the class's free list, so alloc and free are O(1) and the
 * class of a size is one table lookup. Requests above the largest class
 * are plain allocations rounded up to 1/8 of their power of two (bounded
 * waste, room to grow in place). Pages never go back to malloc before
 * slab_destroy; slab_reset hands them all to a free-page list any class
 * may use. Knows nothing of keys, values or eviction. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem/slab.h"

/* Each page starts with a link to the next page of its class (or of the
 * free-page list); chunks follow, 8-byte aligned. */
#define PAGE_HEADER 16
#define PAGE_PAYLOAD (SLAB_PAGE_SIZE - PAGE_HEADER)

struct page {
    struct page *next;
};

struct free_chunk {
    struct free_chunk *next;
};

struct slab_class {
    size_t size;
    size_t perpage;
    struct free_chunk *free_list;
    char *carve;            /* next never-used chunk of the newest page */
    size_t carve_left;      /* chunks left to carve there */
    struct page *pages;
    size_t npages;
    size_t used;
    size_t requested;
};

struct slab {
    struct slab_class cls[SLAB_MAX_CLASSES];
    int ncls;
    size_t max_chunk;
    unsigned char *class_of;   /* (size + 7) / 8 -> class index */
    struct page *free_pages;
    size_t nfree_pages;
    size_t large_count;
    size_t large_bytes;
    size_t large_requested;
    size_t used_bytes;         /* chunk sizes handed out + large bytes */
    const struct mem_allocator *alloc;
};

static size_t align8(size_t n)
{
    return (n + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1);
}

/* The classes: min, min*f, min*f^2 ... each aligned up and at least 8
 * bytes above the previous one, the last one exactly max_chunk. */
static void build_classes(struct slab *s, size_t min_chunk, double factor)
{
    double size = (double)align8(min_chunk);
    int n = 0;
    while (n < SLAB_MAX_CLASSES - 1) {
        size_t sz = align8((size_t)size);
        if (n > 0 && sz <= s->cls[n - 1].size)
            sz = s->cls[n - 1].size + SLAB_ALIGN;
        if (sz >= s->max_chunk)
            break;
        s->cls[n++].size = sz;
        size = (double)sz * factor;
    }
    s->cls[n++].size = s->max_chunk;
    s->ncls = n;
    for (int i = 0; i < n; i++)
        s->cls[i].perpage = PAGE_PAYLOAD / s->cls[i].size;
}

static int build_class_table(struct slab *s)
{
    size_t slots = s->max_chunk / SLAB_ALIGN + 1;
    s->class_of = mem_alloc(s->alloc, slots);
    if (s->class_of == NULL)
        return ERR_NOMEM;
    int c = 0;
    for (size_t i = 0; i < slots; i++) {
        while (s->cls[c].size < i * SLAB_ALIGN)
            c++;
        s->class_of[i] = (unsigned char)c;
    }
    return 0;
}

int slab_create(struct slab **out, const struct slab_config *cfg)
{
    double factor = cfg && cfg->growth_factor != 0 ? cfg->growth_factor
                                                   : SLAB_DEFAULT_GROWTH;
    size_t min_chunk = cfg && cfg->min_chunk ? cfg->min_chunk
                                             : SLAB_DEFAULT_MIN_CHUNK;
    const struct mem_allocator *alloc = cfg ? cfg->alloc : NULL;
    if (!(factor > 1.0) || min_chunk < 16 || min_chunk > PAGE_PAYLOAD / 2)
        return ERR_INVALID;
    struct slab *s = mem_alloc(alloc, sizeof(*s));
    if (s == NULL)
        return ERR_NOMEM;
    memset(s, 0, sizeof(*s));
    s->alloc = alloc;
    s->max_chunk = (PAGE_PAYLOAD / 2) & ~(size_t)(SLAB_ALIGN - 1);
    build_classes(s, min_chunk, factor);
    if (build_class_table(s) != 0) {
        mem_free(alloc, s);
        return ERR_NOMEM;
    }
    *out = s;
    return 0;
}

static void free_page_list(struct slab *s, struct page *p)
{
    while (p != NULL) {
        struct page *next = p->next;
        mem_free(s->alloc, p);
        p = next;
    }
}

void slab_destroy(struct slab *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->ncls; i++)
        free_page_list(s, s->cls[i].pages);
    free_page_list(s, s->free_pages);
    mem_free(s->alloc, s->class_of);
    mem_free(s->alloc, s);
}

/* Sizes above the largest class round up to a multiple of 1/8 of the
 * largest power of two not above them: at most 12.5% waste, and an APPEND
 * loop reallocates geometrically. */
static size_t large_size(size_t size)
{
    size_t pow2 = 1;
    while (pow2 * 2 <= size)
        pow2 <<= 1;
    size_t step = pow2 / 8;
    return (size + step - 1) / step * step;
}

size_t slab_chunk_size(const struct slab *s, size_t size)
{
    if (size > s->max_chunk)
        return large_size(size);
    return s->cls[s->class_of[(size + SLAB_ALIGN - 1) / SLAB_ALIGN]].size;
}

size_t slab_max_chunk(const struct slab *s)
{
    return s->max_chunk;
}

/* Gives class c a fresh page to carve: a free page if there is one, else
 * a new one from the allocator. */
static int class_add_page(struct slab *s, struct slab_class *c)
{
    struct page *p = s->free_pages;
    if (p != NULL) {
        s->free_pages = p->next;
        s->nfree_pages--;
    } else {
        p = mem_alloc(s->alloc, SLAB_PAGE_SIZE);
        if (p == NULL)
            return ERR_NOMEM;
    }
    p->next = c->pages;
    c->pages = p;
    c->npages++;
    c->carve = (char *)p + PAGE_HEADER;
    c->carve_left = c->perpage;
    return 0;
}

static void *large_alloc(struct slab *s, size_t size)
{
    size_t rounded = large_size(size);
    void *p = mem_alloc(s->alloc, rounded);
    if (p == NULL)
        return NULL;
    s->large_count++;
    s->large_bytes += rounded;
    s->large_requested += size;
    s->used_bytes += rounded;
    return p;
}

void *slab_alloc(struct slab *s, size_t size)
{
    if (size > s->max_chunk)
        return large_alloc(s, size);
    struct slab_class *c =
        &s->cls[s->class_of[(size + SLAB_ALIGN - 1) / SLAB_ALIGN]];
    void *chunk;
    if (c->free_list != NULL) {
        chunk = c->free_list;
        c->free_list = c->free_list->next;
    } else {
        if (c->carve_left == 0 && class_add_page(s, c) != 0)
            return NULL;
        chunk = c->carve;
        c->carve += c->size;
        c->carve_left--;
    }
    c->used++;
    c->requested += size;
    s->used_bytes += c->size;
    return chunk;
}

void slab_free(struct slab *s, void *p, size_t size)
{
    if (p == NULL)
        return;
    if (size > s->max_chunk) {
        s->large_count--;
        s->large_bytes -= large_size(size);
        s->used_bytes -= large_size(size);
        s->large_requested -= size;
        mem_free(s->alloc, p);
        return;
    }
    struct slab_class *c =
        &s->cls[s->class_of[(size + SLAB_ALIGN - 1) / SLAB_ALIGN]];
    struct free_chunk *f = p;
    f->next = c->free_list;
    c->free_list = f;
    c->used--;
    s->used_bytes -= c->size;
    /* requested is approximate after in-place growth: never underflow. */
    c->requested -= size < c->requested ? size : c->requested;
}

void slab_reset(struct slab *s)
{
    for (int i = 0; i < s->ncls; i++) {
        struct slab_class *c = &s->cls[i];
        struct page *p = c->pages;
        while (p != NULL) {
            struct page *next = p->next;
            p->next = s->free_pages;
            s->free_pages = p;
            s->nfree_pages++;
            p = next;
        }
        c->pages = NULL;
        c->npages = 0;
        c->free_list = NULL;
        c->carve = NULL;
        c->carve_left = 0;
        c->used = 0;
        c->requested = 0;
    }
    s->used_bytes = s->large_bytes;
}

size_t slab_used_bytes(const struct slab *s)
{
    return s->used_bytes;
}

int slab_class_count(const struct slab *s)
{
    return s->ncls;
}

int slab_class_stats(const struct slab *s, int i, struct slab_class_stats *out)
{
    if (i < 0 || i >= s->ncls)
        return ERR_INVALID;
    const struct slab_class *c = &s->cls[i];
    out->chunk_size = c->size;
    out->chunks_per_page = c->perpage;
    out->pages = c->npages;
    out->used_chunks = c->used;
    out->free_chunks = c->npages * c->perpage - c->used;
    out->requested = c->requested;
    return 0;
}

void slab_totals(const struct slab *s, struct slab_totals *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < s->ncls; i++) {
        const struct slab_class *c = &s->cls[i];
        out->pages += c->npages;
        out->used += c->used * c->size;
        out->requested += c->requested;
    }
    out->pages += s->nfree_pages;
    out->free_pages = s->nfree_pages;
    out->large_count = s->large_count;
    out->large_bytes = s->large_bytes;
    out->held = out->pages * SLAB_PAGE_SIZE + s->large_bytes;
    out->used += s->large_bytes;
    out->requested += s->large_requested;
}
