/* Unit tests for store/store_snapshot.c: the keyspace digest is the same
 * for the same content whatever the insertion order, hash seed or dict
 * layout, and changes with any key, value or expire; records saved from
 * one store load into another with an equal digest, also when fed in
 * pieces; a corrupt record is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "store/store.h"
#include "store_test_util.h"

#define NOW 1700000000000ull
#define N 3000

static struct store *mk(uint64_t seed)
{
    struct store *st;
    struct store_config c = {.seed = seed};
    assert_int_equal(store_create(&st, &c), 0);
    return st;
}

static void put(struct store *st, int i)
{
    char key[32], val[64];
    snprintf(key, sizeof(key), "key:%d", i);
    snprintf(val, sizeof(val), "%d", i * 7919);
    assert_int_equal(tset(st, key, val, i % 4 ? -1 : (int64_t)NOW + i, NOW), 0);
}

static uint64_t digest(struct store *st)
{
    uint64_t d;
    assert_int_equal(store_digest(st, &d), 0);
    return d;
}

static void test_digest_is_independent_of_insertion_order_and_seed(void **state)
{
    (void)state;
    struct store *a = mk(1), *b = mk(2);
    for (int i = 0; i < N; i++)
        put(a, i);
    for (int i = N - 1; i >= 0; i--)
        put(b, i);
    /* Extra churn in b: keys added and deleted again, a rehash in flight. */
    for (int i = N; i < 2 * N; i++)
        put(b, i);
    for (int i = N; i < 2 * N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "key:%d", i);
        struct store_key k = tkey(b, key);
        assert_int_equal(store_delete(b, &k, NOW), 1);
    }
    assert_true(digest(a) == digest(b));
    struct store *e1 = mk(3), *e2 = mk(4);
    assert_true(digest(e1) == digest(e2));
    assert_true(digest(e1) != digest(a));
    store_destroy(e1);
    store_destroy(e2);
    store_destroy(a);
    store_destroy(b);
}

static void test_digest_changes_with_value_key_or_expire(void **state)
{
    (void)state;
    struct store *a = mk(1);
    for (int i = 0; i < 100; i++)
        put(a, i);
    uint64_t d0 = digest(a);
    struct store_entry *e = tget(a, "key:5", NOW);
    assert_int_equal(store_entry_set_expire(a, &e, NOW + 1), 0);
    uint64_t d1 = digest(a);
    assert_true(d1 != d0);
    assert_int_equal(store_entry_persist(a, &e), 1);
    assert_true(digest(a) == d0);
    assert_int_equal(tset(a, "key:5", "other", -1, NOW), 0);
    assert_true(digest(a) != d0);
    put(a, 5);
    assert_true(digest(a) == d0);
    struct store_key k5 = tkey(a, "key:5"), k6 = tkey(a, "key:5x");
    assert_int_equal(store_rename(a, &k5, &k6, NOW, NULL), 0);
    assert_true(digest(a) != d0);
    store_destroy(a);
}

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static int save_cb(void *ctx, const void *data, size_t len)
{
    struct buf *b = ctx;
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

static void load_all(struct store *st, const struct buf *b, size_t piece)
{
    size_t off = 0, avail = 0;
    while (off < b->len) {
        avail = avail + piece > b->len - off ? b->len - off : avail + piece;
        int rv = store_load_record(st, b->p + off, avail);
        assert_true(rv >= 0);
        if (rv > 0) {
            off += (size_t)rv;
            avail -= (size_t)rv;
        }
    }
}

static void test_saved_records_load_into_an_equal_keyspace(void **state)
{
    (void)state;
    struct store *a = mk(1), *b = mk(9), *c = mk(10);
    struct buf buf = {0};
    for (int i = 0; i < N; i++)
        put(a, i);
    struct store_key big = tkey(a, "big");
    struct store_reservation r;
    assert_int_equal(store_reserve(a, &big, 100000, 0, &r), 0);
    memset(r.value, 'b', 100000);
    assert_int_equal(store_publish(a, &r, NOW + 5, 0, NOW, NULL), 0);
    assert_int_equal(store_save(a, save_cb, &buf), 0);
    load_all(b, &buf, buf.len);
    assert_int_equal(store_count(b), N + 1);
    assert_int_equal(store_count_volatile(b), store_count_volatile(a));
    assert_true(digest(a) == digest(b));
    load_all(c, &buf, 7); /* fed in small pieces */
    assert_true(digest(a) == digest(c));
    struct store_entry *e = tget(c, "key:12", NOW);
    assert_int_equal(store_entry_encoding(e), STORE_ENC_INT);
    free(buf.p);
    store_destroy(a);
    store_destroy(b);
    store_destroy(c);
}

static void test_corrupt_record_is_refused(void **state)
{
    (void)state;
    struct store *a = mk(1), *b = mk(2);
    struct buf buf = {0};
    put(a, 1);
    assert_int_equal(store_save(a, save_cb, &buf), 0);
    assert_int_equal(store_load_record(b, buf.p, 5), 0);
    buf.p[0] = 9; /* unknown type */
    assert_int_equal(store_load_record(b, buf.p, buf.len), ERR_CORRUPT);
    buf.p[0] = STORE_TYPE_STRING;
    buf.p[2] = 0x80; /* unknown flag */
    assert_int_equal(store_load_record(b, buf.p, buf.len), ERR_CORRUPT);
    assert_int_equal(store_count(b), 0);
    free(buf.p);
    store_destroy(a);
    store_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_is_independent_of_insertion_order_and_seed),
        cmocka_unit_test(test_digest_changes_with_value_key_or_expire),
        cmocka_unit_test(test_saved_records_load_into_an_equal_keyspace),
        cmocka_unit_test(test_corrupt_record_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
