/* A test allocator that fails the Nth allocation (once, or from then on)
 * and counts live blocks, so OOM paths can be walked N = 1, 2, ... until
 * the operation succeeds, checking that nothing leaks (sqlite testing.html
 * §3; canonical test/lib/heap.c). Header-only: each test binary is one
 * file. */
#ifndef TEST_FAULT_ALLOC_H
#define TEST_FAULT_ALLOC_H

#include <stdlib.h>

#include "mem/mem.h"

struct fault_alloc {
    long calls;      /* allocations attempted since fault_arm */
    long fail_at;    /* 0: never fail; else fail call number fail_at */
    int lasting;     /* fail every call from fail_at on */
    long live;       /* blocks allocated and not freed */
    long failures;
    struct mem_allocator a;
};

static void *fault_malloc(void *ctx, size_t size)
{
    struct fault_alloc *f = ctx;
    f->calls++;
    if (f->fail_at != 0 &&
        (f->calls == f->fail_at || (f->lasting && f->calls > f->fail_at))) {
        f->failures++;
        return NULL;
    }
    void *p = malloc(size);
    if (p != NULL)
        f->live++;
    return p;
}

static void fault_free(void *ctx, void *p)
{
    struct fault_alloc *f = ctx;
    f->live--;
    free(p);
}

static inline void fault_init(struct fault_alloc *f)
{
    f->calls = 0;
    f->fail_at = 0;
    f->lasting = 0;
    f->live = 0;
    f->failures = 0;
    f->a.malloc_fn = fault_malloc;
    f->a.free_fn = fault_free;
    f->a.ctx = f;
}

/* Fails the nth allocation from now (and all after it if lasting). */
static inline void fault_arm(struct fault_alloc *f, long nth, int lasting)
{
    f->calls = 0;
    f->fail_at = nth;
    f->lasting = lasting;
    f->failures = 0;
}

static inline void fault_disarm(struct fault_alloc *f)
{
    f->fail_at = 0;
}

#endif
