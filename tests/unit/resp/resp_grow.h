/* A resp_out grow hook on realloc for tests that collect replies in
 * memory: doubles from 16 bytes, so growth paths run early. Header-only:
 * each test binary is one file. */
#ifndef TEST_RESP_GROW_H
#define TEST_RESP_GROW_H

#include <stdlib.h>

#include "err.h"
#include "resp/resp.h"

static int test_resp_grow(struct resp_out *o, size_t need)
{
    size_t cap = o->cap ? o->cap : 16;
    while (cap - o->len < need)
        cap *= 2;
    char *p = realloc(o->data, cap);
    if (p == NULL)
        return ERR_NOMEM;
    o->data = p;
    o->cap = cap;
    return 0;
}

#endif
