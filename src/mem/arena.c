/* The log arena (see arena.h). Each buffer is preceded by a 16-byte tag
 * naming its chunk and length, so a release needs nothing but the pointer. A chunk
 * counts its live buffers; the one being filled (current) starts over
 * from its head when they are all released, any other goes to the cache
 * of empty chunks, or back to the kernel when the cache is full. Why not
 * malloc: freed log memory went back to the heap in pieces (or to the
 * kernel through malloc_trim), and every cycle of the log then faulted
 * fresh pages in again and shared the rest with the snapshot child. */
#include "mem/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Under AddressSanitizer a chunk is poisoned but for its header and the
 * live buffers, and each tag is poisoned but while the arena reads or
 * writes it: writing past a buffer or into a released one is reported,
 * as it would be for malloc's blocks. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct arena_chunk {
    struct arena *owner;
    struct arena_chunk *next; /* in the cache */
    size_t size;              /* bytes mapped */
    size_t used;              /* bump offset from the chunk's start */
    size_t live;              /* buffers not yet released */
    int large;                /* one buffer, never cached */
};

struct arena_tag {
    struct arena_chunk *chunk;
    size_t len; /* the buffer's bytes (also keeps it 16-byte aligned) */
};

/* With cfg.prefault a thread of the arena's own maps the next chunk and
 * faults it in while the loop fills the current one: a page fault costs
 * 5-17 µs in a virtual machine, a huge page's up to 5 ms, and the loop
 * should pay neither. It works only when the cache is empty (a warm log
 * recycles its chunks) and keeps at most one spare. */
struct arena_prefault {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *spare;   /* a mapped, faulted-in chunk of chunk_size bytes */
    int want;      /* the loop took the spare or found none */
    int stop;
};

struct arena {
    struct arena_config cfg;
    struct arena_chunk *current;
    struct arena_chunk *cache;
    struct arena_stats st;
    struct arena_prefault *pf; /* NULL: chunks are faulted in on use */
    int closing; /* arena_destroy came while buffers were live */
};

#define ALIGN16(n) (((n) + 15) & ~(size_t)15)
#define CHUNK_HEAD ALIGN16(sizeof(struct arena_chunk))
#define ARENA_HUGE_PAGE ((size_t)2 << 20)

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

/* Maps size bytes. With huge set, a whole number of huge pages is mapped
 * on a huge-page boundary and advised MADV_HUGEPAGE, so that filling the
 * chunk takes two page faults instead of a thousand (a fault is dear, most
 * of all in a virtual machine). Only the prefault thread asks for that: a
 * huge-page fault may compact memory for milliseconds, which the loop
 * must not wait for. With dontfork no child shares the mapping (best
 * effort), so a huge page is never copied on write after a fork. */
static void *map_chunk(const struct arena_config *cfg, size_t size, int huge)
{
    huge = huge && size % ARENA_HUGE_PAGE == 0;
    size_t span = huge ? size + ARENA_HUGE_PAGE : size;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (huge) {
        size_t lead = (ARENA_HUGE_PAGE - (uintptr_t)p % ARENA_HUGE_PAGE) %
                      ARENA_HUGE_PAGE;
        if (lead > 0)
            munmap(p, lead);
        if (span - lead > size)
            munmap(p + lead + size, span - lead - size);
        p += lead;
        (void)madvise(p, size, MADV_HUGEPAGE);
    }
    if (cfg->dontfork)
        (void)madvise(p, size, MADV_DONTFORK);
    return p;
}

/* Makes a chunk of mapping p (size bytes), counted as mapped. */
static struct arena_chunk *chunk_init(struct arena *a, void *p, size_t size,
                                      int large)
{
    struct arena_chunk *c = p;
    *c = (struct arena_chunk){a, NULL, size, CHUNK_HEAD, 0, large};
    POISON((char *)c + CHUNK_HEAD, size - CHUNK_HEAD);
    a->st.mapped += size;
    a->st.maps++;
    return c;
}

static struct arena_chunk *chunk_map(struct arena *a, size_t size, int large)
{
    void *p = map_chunk(&a->cfg, size, 0);
    return p == NULL ? NULL : chunk_init(a, p, size, large);
}

static void chunk_unmap(struct arena *a, struct arena_chunk *c)
{
    UNPOISON(c, c->size); /* the mapping may be reused by anyone */
    a->st.mapped -= c->size;
    munmap(c, c->size);
}

/* An empty chunk that is not being filled: cached while there is room. */
static void chunk_retire(struct arena *a, struct arena_chunk *c)
{
    if (c->large || a->closing ||
        a->st.cached + c->size > a->cfg.max_cached) {
        chunk_unmap(a, c);
        return;
    }
    c->used = CHUNK_HEAD;
    c->next = a->cache;
    a->cache = c;
    a->st.cached += c->size;
}

static void *prefault_worker(void *arg)
{
    struct arena *a = arg;
    struct arena_prefault *pf = a->pf;
    size_t size = a->cfg.chunk_size;
    pthread_mutex_lock(&pf->mu);
    for (;;) {
        while (!pf->stop && !(pf->want && pf->spare == NULL))
            pthread_cond_wait(&pf->cv, &pf->mu);
        if (pf->stop)
            break;
        pf->want = 0;
        pthread_mutex_unlock(&pf->mu);
        /* Touched page by page rather than MADV_POPULATE_WRITE, which
         * holds the mmap lock throughout: the loop's own mmap/munmap
         * calls would wait for it. */
        char *p = map_chunk(&a->cfg, size, 1);
        for (size_t off = 0; p != NULL && off < size; off += 4096)
            p[off] = 0;
        pthread_mutex_lock(&pf->mu);
        pf->spare = p;
    }
    pthread_mutex_unlock(&pf->mu);
    return NULL;
}

/* The spare chunk when there is one; asks for the next either way. */
static void *prefault_take(struct arena_prefault *pf)
{
    pthread_mutex_lock(&pf->mu);
    void *p = pf->spare;
    pf->spare = NULL;
    pf->want = 1;
    pthread_cond_signal(&pf->cv);
    pthread_mutex_unlock(&pf->mu);
    return p;
}

static void prefault_start(struct arena *a)
{
    struct arena_prefault *pf = calloc(1, sizeof(*pf));
    if (pf == NULL)
        return;
    pthread_mutex_init(&pf->mu, NULL);
    pthread_cond_init(&pf->cv, NULL);
    a->pf = pf;
    if (pthread_create(&pf->thread, NULL, prefault_worker, a) != 0) {
        a->pf = NULL; /* best effort: chunks are faulted in on use */
        pthread_cond_destroy(&pf->cv);
        pthread_mutex_destroy(&pf->mu);
        free(pf);
    }
}

static void prefault_stop(struct arena *a)
{
    struct arena_prefault *pf = a->pf;
    if (pf == NULL)
        return;
    pthread_mutex_lock(&pf->mu);
    pf->stop = 1;
    pthread_cond_signal(&pf->cv);
    pthread_mutex_unlock(&pf->mu);
    pthread_join(pf->thread, NULL);
    if (pf->spare != NULL)
        munmap(pf->spare, a->cfg.chunk_size);
    pthread_cond_destroy(&pf->cv);
    pthread_mutex_destroy(&pf->mu);
    free(pf);
    a->pf = NULL;
}

static struct arena_chunk *chunk_next(struct arena *a)
{
    struct arena_chunk *c = a->cache;
    if (c == NULL) {
        void *p = a->pf != NULL ? prefault_take(a->pf) : NULL;
        if (p == NULL)
            return chunk_map(a, a->cfg.chunk_size, 0);
        a->st.prefaulted++;
        return chunk_init(a, p, a->cfg.chunk_size, 0);
    }
    a->cache = c->next;
    a->st.cached -= c->size;
    return c;
}

static void free_all(struct arena *a)
{
    prefault_stop(a);
    if (a->current != NULL)
        chunk_unmap(a, a->current);
    while (a->cache != NULL) {
        struct arena_chunk *c = a->cache;
        a->cache = c->next;
        chunk_unmap(a, c);
    }
    free(a);
}

struct arena *arena_create(const struct arena_config *cfg)
{
    struct arena *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->cfg = *cfg;
    if (a->cfg.chunk_size == 0)
        a->cfg.chunk_size = ARENA_DEFAULT_CHUNK;
    a->cfg.chunk_size = page_round(a->cfg.chunk_size);
    if (a->cfg.prefault)
        prefault_start(a);
    return a;
}

void arena_destroy(struct arena *a)
{
    if (a == NULL)
        return;
    if (a->st.live > 0) {
        a->closing = 1; /* the last arena_release frees it */
        return;
    }
    free_all(a);
}

static struct arena_chunk *chunk_for(struct arena *a, size_t need)
{
    if (need > a->cfg.chunk_size / 4)
        return chunk_map(a, page_round(CHUNK_HEAD + need), 1);
    struct arena_chunk *c = a->current;
    if (c != NULL && c->used + need <= c->size)
        return c;
    /* A full current chunk holds live buffers (an emptied one starts over
     * from its head): their last release retires it. */
    struct arena_chunk *next = chunk_next(a);
    if (next == NULL)
        return NULL;
    a->current = next;
    return next;
}

void *arena_alloc(struct arena *a, size_t len)
{
    if (len > SIZE_MAX / 2)
        return NULL;
    size_t need = ALIGN16(sizeof(struct arena_tag) + len);
    struct arena_chunk *c = chunk_for(a, need);
    if (c == NULL)
        return NULL;
    struct arena_tag *t = (struct arena_tag *)((char *)c + c->used);
    UNPOISON(t, sizeof(*t));
    *t = (struct arena_tag){c, len};
    POISON(t, sizeof(*t));
    UNPOISON(t + 1, len);
    c->used += need;
    c->live++;
    a->st.live++;
    return t + 1;
}

void arena_release(void *p)
{
    if (p == NULL)
        return;
    struct arena_tag *t = (struct arena_tag *)p - 1;
    UNPOISON(t, sizeof(*t));
    struct arena_chunk *c = t->chunk;
    struct arena *a = c->owner;
    POISON(t, sizeof(*t) + t->len);
    a->st.live--;
    if (--c->live == 0) {
        if (c == a->current && !a->closing)
            c->used = CHUNK_HEAD; /* start over on warm pages */
        else if (c != a->current)
            chunk_retire(a, c);
    }
    if (a->closing && a->st.live == 0)
        free_all(a);
}

void arena_stats(const struct arena *a, struct arena_stats *st)
{
    *st = a->st;
    if (a->pf != NULL) {
        pthread_mutex_lock(&a->pf->mu);
        if (a->pf->spare != NULL)
            st->mapped += a->cfg.chunk_size;
        pthread_mutex_unlock(&a->pf->mu);
    }
}
