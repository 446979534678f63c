/* Helpers shared by the store unit tests (header-only: each test binary
 * is one file). */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <stdio.h>
#include <string.h>

#include "store/store.h"

static inline struct store_key tkey(const struct store *st, const char *s)
{
    struct store_key k;
    store_key_init(st, &k, s, strlen(s));
    return k;
}

static inline int tset(struct store *st, const char *key, const char *val,
                       int64_t expire, uint64_t now)
{
    struct store_key k = tkey(st, key);
    return store_set(st, &k, val, strlen(val), expire, 0, now, NULL);
}

static inline struct store_entry *tget(struct store *st, const char *key,
                                       uint64_t now)
{
    struct store_key k = tkey(st, key);
    return store_lookup_read(st, &k, now);
}

static inline int value_is(const struct store_entry *e, const char *val)
{
    return e != NULL && store_entry_value_len(e) == strlen(val) &&
           memcmp(store_entry_value(e), val, strlen(val)) == 0;
}

#endif
