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

/* Each page is SLAB_PAGE_SIZE-aligned, so a chunk finds its page by
 * masking its address, and starts with this header. A page is on exactly
 * one list: its class's partial list (has a free or never-used chunk), its
 * class's full list, or the slab's free-page list. Each page keeps its own
 * free list, so a page whose last chunk is freed goes back to the free-page
 * list in O(1) and any class can take it: pages move between classes as
 * the sizes of values change. */
#define PAGE_HEADER 64
#define PAGE_PAYLOAD (SLAB_PAGE_SIZE - PAGE_HEADER)

struct free_chunk {
    struct free_chunk *next;
};

struct page {
    struct page *next;
    struct page *prev;
    struct free_chunk *free;  /* freed chunks of this page */
    char *carve;              /* next never-used chunk */
    void *raw;                /* what the allocator returned */
    uint32_t carve_left;
    uint32_t used;
    int32_t cls;              /* -1 on the free-page list */
    uint32_t full;            /* on the class's full list */
};

_Static_assert(sizeof(struct page) <= PAGE_HEADER, "page header fits");

struct slab_class {
    size_t size;
    size_t perpage;
    struct page *partial;
    struct page *full;
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

static void list_push(struct page **head, struct page *p)
{
    p->prev = NULL;
    p->next = *head;
    if (*head != NULL)
        (*head)->prev = p;
    *head = p;
}

static void list_remove(struct page **head, struct page *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        *head = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->next = p->prev = NULL;
}

/* A new aligned page. Without a hook, posix_memalign (glibc serves it from
 * mmap: the unused alignment slack is never touched, so never resident).
 * A hook has no aligned call: over-allocate and align inside. */
static struct page *page_new(struct slab *s)
{
    void *raw;
    struct page *p;
    if (s->alloc == NULL) {
        if (posix_memalign(&raw, SLAB_PAGE_SIZE, SLAB_PAGE_SIZE) != 0)
            return NULL;
        p = raw;
    } else {
        raw = mem_alloc(s->alloc, 2 * SLAB_PAGE_SIZE);
        if (raw == NULL)
            return NULL;
        uintptr_t a = ((uintptr_t)raw + SLAB_PAGE_SIZE - 1) &
                      ~(uintptr_t)(SLAB_PAGE_SIZE - 1);
        p = (struct page *)a;
    }
    p->raw = raw;
    return p;
}

static void page_delete(struct slab *s, struct page *p)
{
    mem_free(s->alloc, p->raw);
}

static void free_page_list(struct slab *s, struct page *p)
{
    while (p != NULL) {
        struct page *next = p->next;
        page_delete(s, p);
        p = next;
    }
}

void slab_destroy(struct slab *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->ncls; i++) {
        free_page_list(s, s->cls[i].partial);
        free_page_list(s, s->cls[i].full);
    }
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

/* Gives class c a fresh page to carve, on its partial list: a free page if
 * there is one, else a new one from the allocator. */
static struct page *class_add_page(struct slab *s, int ci)
{
    struct slab_class *c = &s->cls[ci];
    struct page *p = s->free_pages;
    if (p != NULL) {
        list_remove(&s->free_pages, p);
        s->nfree_pages--;
    } else {
        p = page_new(s);
        if (p == NULL)
            return NULL;
    }
    p->free = NULL;
    p->carve = (char *)p + PAGE_HEADER;
    p->carve_left = (uint32_t)c->perpage;
    p->used = 0;
    p->cls = ci;
    p->full = 0;
    list_push(&c->partial, p);
    c->npages++;
    return p;
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
    int ci = s->class_of[(size + SLAB_ALIGN - 1) / SLAB_ALIGN];
    struct slab_class *c = &s->cls[ci];
    struct page *p = c->partial;
    if (p == NULL && (p = class_add_page(s, ci)) == NULL)
        return NULL;
    void *chunk;
    if (p->free != NULL) {
        chunk = p->free;
        p->free = p->free->next;
    } else {
        chunk = p->carve;
        p->carve += c->size;
        p->carve_left--;
    }
    p->used++;
    if (p->free == NULL && p->carve_left == 0) {
        list_remove(&c->partial, p);
        list_push(&c->full, p);
        p->full = 1;
    }
    c->used++;
    c->requested += size;
    s->used_bytes += c->size;
    return chunk;
}

static void large_free(struct slab *s, void *p, size_t size)
{
    size_t rounded = large_size(size);
    s->large_count--;
    s->large_bytes -= rounded;
    s->used_bytes -= rounded;
    s->large_requested -=
        size < s->large_requested ? size : s->large_requested;
    mem_free(s->alloc, p);
}

/* A page whose last chunk was freed goes to the free-page list. */
static void page_release(struct slab *s, struct slab_class *c, struct page *p)
{
    list_remove(&c->partial, p);
    c->npages--;
    p->cls = -1;
    list_push(&s->free_pages, p);
    s->nfree_pages++;
}

void slab_free(struct slab *s, void *ptr, size_t size)
{
    if (ptr == NULL)
        return;
    if (size > s->max_chunk) {
        large_free(s, ptr, size);
        return;
    }
    struct page *p = (struct page *)((uintptr_t)ptr &
                                     ~(uintptr_t)(SLAB_PAGE_SIZE - 1));
    struct slab_class *c = &s->cls[p->cls];
    struct free_chunk *f = ptr;
    f->next = p->free;
    p->free = f;
    p->used--;
    if (p->full) {
        list_remove(&c->full, p);
        list_push(&c->partial, p);
        p->full = 0;
    }
    c->used--;
    s->used_bytes -= c->size;
    /* requested is approximate after in-place growth: never underflow. */
    c->requested -= size < c->requested ? size : c->requested;
    if (p->used == 0)
        page_release(s, c, p);
}

static void class_release_list(struct slab *s, struct page **head)
{
    while (*head != NULL) {
        struct page *p = *head;
        list_remove(head, p);
        p->cls = -1;
        list_push(&s->free_pages, p);
        s->nfree_pages++;
    }
}

void slab_reset(struct slab *s)
{
    for (int i = 0; i < s->ncls; i++) {
        struct slab_class *c = &s->cls[i];
        class_release_list(s, &c->partial);
        class_release_list(s, &c->full);
        c->npages = 0;
        c->used = 0;
        c->requested = 0;
    }
    s->used_bytes = s->large_bytes;
}

size_t slab_release_free_pages(struct slab *s, size_t keep)
{
    size_t released = 0;
    while (s->nfree_pages > keep) {
        struct page *p = s->free_pages;
        list_remove(&s->free_pages, p);
        s->nfree_pages--;
        page_delete(s, p);
        released += SLAB_PAGE_SIZE;
    }
    return released;
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
