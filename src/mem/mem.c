/* The default allocator behind `struct mem_allocator` and the two helpers
 * every mem/store allocation goes through. A NULL allocator means plain
 * malloc/free, so production code pays one predictable branch and tests
 * can swap in a failing allocator. */
#include <stdlib.h>
#include <string.h>

#include "mem/mem.h"

static void *default_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void default_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

const struct mem_allocator mem_default_allocator = {
    .malloc_fn = default_malloc,
    .free_fn = default_free,
    .ctx = NULL,
};

void *mem_alloc(const struct mem_allocator *a, size_t size)
{
    if (a == NULL)
        return malloc(size);
    return a->malloc_fn(a->ctx, size);
}

void *mem_calloc(const struct mem_allocator *a, size_t size)
{
    if (a == NULL)
        return calloc(1, size);
    void *p = a->malloc_fn(a->ctx, size);
    if (p != NULL)
        memset(p, 0, size);
    return p;
}

void mem_free(const struct mem_allocator *a, void *p)
{
    if (p == NULL)
        return;
    if (a == NULL) {
        free(p);
        return;
    }
    a->free_fn(a->ctx, p);
}
