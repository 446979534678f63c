/* Unit tests for store/store.c: set/lookup/delete, encodings as Redis
 * reports them, KEEPTTL, reserve/publish, in-place resizes across slab
 * classes, rename, flush, random, scan, iteration, long keys, and every
 * allocation of a write failing in turn without leaks or damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../mem/fault_alloc.h"
#include "err.h"
#include "store/store.h"
#include "store_test_util.h"

#define NOW 1700000000000ull

static struct store *mk(void)
{
    struct store *st;
    struct store_config c = {.seed = 99};
    assert_int_equal(store_create(&st, &c), 0);
    return st;
}

static void test_set_then_get_returns_value_and_replaces(void **state)
{
    (void)state;
    struct store *st = mk();
    assert_null(tget(st, "a", NOW));
    assert_int_equal(tset(st, "a", "hello", STORE_NO_EXPIRE, NOW), 0);
    struct store_entry *e = tget(st, "a", NOW);
    assert_true(value_is(e, "hello"));
    assert_int_equal(store_entry_key_len(e), 1);
    assert_memory_equal(store_entry_key(e), "a", 1);
    assert_int_equal(store_entry_type(e), STORE_TYPE_STRING);
    assert_string_equal(store_type_name(store_entry_type(e)), "string");
    assert_int_equal(tset(st, "a", "world!", STORE_NO_EXPIRE, NOW), 0);
    assert_true(value_is(tget(st, "a", NOW), "world!"));
    assert_int_equal(store_count(st), 1);
    struct store_stats s;
    store_stats(st, &s);
    assert_int_equal(s.keyspace_hits, 2);
    assert_int_equal(s.keyspace_misses, 1);
    struct store_key k = tkey(st, "a"), none = tkey(st, "none");
    /* EXISTS counts like Redis: a hit and a miss, no LRU touch. */
    struct store_entry *e0 = store_lookup(st, &k, STORE_LOOKUP_NOTOUCH, NOW);
    uint32_t lru = e0->lru;
    assert_int_equal(store_exists(st, &k, NOW + 5000), 1);
    assert_int_equal(store_exists(st, &none, NOW + 5000), 0);
    assert_int_equal(e0->lru, lru);
    store_stats(st, &s);
    assert_int_equal(s.keyspace_hits, 4);
    assert_int_equal(s.keyspace_misses, 2);
    assert_int_equal(store_delete(st, &k, NOW), 1);
    assert_int_equal(store_delete(st, &k, NOW), 0);
    assert_int_equal(store_count(st), 0);
    store_destroy(st);
}

static void test_encoding_is_int_embstr_or_raw_as_redis(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        const char *enc;
    } cases[] = {
        {"123", "int"},   {"-9223372036854775808", "int"},
        {"9223372036854775807", "int"}, {"9223372036854775808", "embstr"},
        {"0", "int"},     {"-0", "embstr"}, {"01", "embstr"},
        {"+1", "embstr"}, {" 1", "embstr"}, {"1.5", "embstr"},
        {"", "embstr"},   {"-", "embstr"},
        {"12345678901234567890123456789012345678901234", "embstr"},
        {"123456789012345678901234567890123456789012345", "raw"},
    };
    struct store *st = mk();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(tset(st, "k", cases[i].v, STORE_NO_EXPIRE, NOW), 0);
        assert_string_equal(
            store_encoding_name(store_entry_encoding(tget(st, "k", NOW))),
            cases[i].enc);
    }
    store_destroy(st);
}

static void test_keepttl_keeps_live_expire_only(void **state)
{
    (void)state;
    struct store *st = mk();
    struct store_key k = tkey(st, "k");
    struct store_entry *e;
    assert_int_equal(tset(st, "k", "v", NOW + 5000, NOW), 0);
    assert_int_equal(store_set(st, &k, "w", 1, STORE_NO_EXPIRE,
                               STORE_SET_KEEPTTL, NOW, &e), 0);
    assert_int_equal(store_entry_expire(e), NOW + 5000);
    assert_int_equal(store_count_volatile(st), 1);
    assert_int_equal(tset(st, "k", "x", STORE_NO_EXPIRE, NOW), 0);
    assert_int_equal(store_entry_expire(tget(st, "k", NOW)), STORE_NO_EXPIRE);
    assert_int_equal(store_count_volatile(st), 0);
    store_destroy(st);
}

static void test_reserve_then_publish_writes_value_in_place(void **state)
{
    (void)state;
    struct store *st = mk();
    struct store_key k = tkey(st, "big");
    struct store_reservation r;
    struct store_entry *e;
    size_t n = 3 * 1024 * 1024;
    assert_int_equal(tset(st, "big", "old", NOW + 100, NOW), 0);
    assert_int_equal(store_reserve(st, &k, n, 0, &r), 0);
    memset(r.value, 'z', n);
    char *where = r.value;
    assert_true(value_is(tget(st, "big", NOW), "old")); /* not yet visible */
    assert_int_equal(store_publish(st, &r, STORE_NO_EXPIRE, 0, NOW, &e), 0);
    assert_ptr_equal(store_entry_value(e), where);
    assert_int_equal(store_entry_value_len(e), n);
    assert_int_equal(store_entry_encoding(e), STORE_ENC_RAW);
    assert_int_equal(store_count_volatile(st), 0);
    /* With an expire decided at publish time. */
    assert_int_equal(store_reserve(st, &k, 10, 1, &r), 0);
    memcpy(r.value, "0123456789", 10);
    assert_int_equal(store_publish(st, &r, NOW + 7, 0, NOW, &e), 0);
    assert_int_equal(store_entry_expire(e), NOW + 7);
    assert_true(value_is(tget(st, "big", NOW), "0123456789"));
    assert_int_equal(store_reserve(st, &k, 10, 0, &r), 0);
    memcpy(r.value, "abcdefghij", 10);
    assert_int_equal(store_publish(st, &r, NOW + 9, 0, NOW, &e), 0);
    assert_int_equal(store_entry_expire(e), NOW + 9);
    assert_int_equal(store_reserve(st, &k, 10, 0, &r), 0);
    store_cancel(st, &r);
    assert_true(value_is(tget(st, "big", NOW), "abcdefghij"));
    store_destroy(st);
}

static void test_resize_moves_across_classes_and_keeps_ttl(void **state)
{
    (void)state;
    struct store *st = mk();
    struct store_key k = tkey(st, "s");
    struct store_entry *e;
    assert_int_equal(tset(st, "s", "ab", NOW + 1000, NOW), 0);
    e = store_lookup_write(st, &k, NOW);
    /* APPEND one byte at a time through several classes and into large. */
    size_t len = 2;
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(store_value_resize(st, &e, len + 1), 0);
        store_entry_value(e)[len++] = (char)('a' + i % 26);
    }
    assert_int_equal(store_value_resize(st, &e, 700000), 0);
    memset(store_entry_value(e) + len, 'q', 700000 - len);
    e = store_lookup_write(st, &k, NOW);
    assert_int_equal(store_entry_value_len(e), 700000);
    assert_memory_equal(store_entry_value(e), "ab", 2);
    assert_int_equal(store_entry_value(e)[2], 'a');
    assert_int_equal(store_entry_value(e)[699999], 'q');
    assert_int_equal(store_entry_expire(e), NOW + 1000);
    assert_int_equal(store_entry_encoding(e), STORE_ENC_RAW);
    assert_int_equal(store_count_volatile(st), 1);
    /* INCR-style replace back to a small int. */
    assert_int_equal(store_value_replace(st, &e, "42", 2), 0);
    assert_true(value_is(tget(st, "s", NOW), "42"));
    assert_int_equal(store_entry_encoding(e), STORE_ENC_INT);
    assert_int_equal(store_entry_expire(e), NOW + 1000);
    struct slab_totals t;
    slab_totals(store_slab(st), &t);
    assert_int_equal(t.large_count, 0);
    store_destroy(st);
}

static void test_expire_set_and_persist_move_entry_and_index(void **state)
{
    (void)state;
    struct store *st = mk();
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(tset(st, key, "v", STORE_NO_EXPIRE, NOW), 0);
    }
    for (int i = 0; i < 100; i += 2) {
        snprintf(key, sizeof(key), "k%d", i);
        struct store_entry *e = tget(st, key, NOW);
        assert_int_equal(store_entry_set_expire(st, &e, NOW + i), 0);
        assert_int_equal(store_entry_expire(e), NOW + i);
        assert_int_equal(store_entry_set_expire(st, &e, NOW + i + 1000), 0);
    }
    assert_int_equal(store_count_volatile(st), 50);
    for (int i = 0; i < 100; i += 4) {
        snprintf(key, sizeof(key), "k%d", i);
        struct store_entry *e = tget(st, key, NOW);
        assert_int_equal(store_entry_persist(st, &e), 1);
        assert_int_equal(store_entry_persist(st, &e), 0);
        assert_true(value_is(e, "v"));
    }
    assert_int_equal(store_count_volatile(st), 25);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        int64_t want = i % 2 == 0 && i % 4 != 0 ? (int64_t)(NOW + i + 1000)
                                                : STORE_NO_EXPIRE;
        assert_int_equal(store_entry_expire(tget(st, key, NOW)), want);
    }
    store_destroy(st);
}

static void test_rename_overwrites_destination_and_keeps_ttl(void **state)
{
    (void)state;
    struct store *st = mk();
    struct store_key a = tkey(st, "a"), b = tkey(st, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    struct store_key c = tkey(st, "c");
    struct store_entry *e;
    assert_int_equal(store_rename(st, &a, &b, NOW, &e), ERR_NOTFOUND);
    assert_int_equal(tset(st, "a", "va", NOW + 500, NOW), 0);
    assert_int_equal(store_set(st, &b, "vb", 2, NOW + 900, 0, NOW, NULL), 0);
    assert_int_equal(tset(st, "c", "12", STORE_NO_EXPIRE, NOW), 0);
    assert_int_equal(store_rename(st, &a, &b, NOW, &e), 0);
    assert_null(tget(st, "a", NOW));
    e = store_lookup_read(st, &b, NOW);
    assert_true(value_is(e, "va"));
    assert_int_equal(store_entry_expire(e), NOW + 500);
    assert_int_equal(store_count(st), 2);
    assert_int_equal(store_count_volatile(st), 1);
    assert_int_equal(store_rename(st, &c, &a, NOW, &e), 0);
    assert_int_equal(store_entry_encoding(e), STORE_ENC_INT);
    assert_int_equal(store_rename(st, &a, &a, NOW, &e), 0);
    assert_true(value_is(e, "12"));
    store_destroy(st);
}

static void test_flush_empties_and_memory_is_reused(void **state)
{
    (void)state;
    struct store *st = mk();
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        assert_int_equal(tset(st, key, "valuevaluevalue", i % 3 ? -1 : (int64_t)NOW + 5, NOW), 0);
    }
    struct store_key big = tkey(st, "big");
    struct store_reservation r;
    assert_int_equal(store_reserve(st, &big, 2000000, 0, &r), 0);
    memset(r.value, 1, 2000000);
    assert_int_equal(store_publish(st, &r, -1, 0, NOW, NULL), 0);
    struct store_memory m1, m2;
    store_memory(st, &m1);
    store_flush(st);
    assert_int_equal(store_count(st), 0);
    assert_int_equal(store_count_volatile(st), 0);
    assert_null(tget(st, "key:1", NOW));
    store_memory(st, &m2);
    assert_true(m2.used < 10000);
    assert_true(m2.slab_held < m1.slab_held); /* large value freed */
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        assert_int_equal(tset(st, key, "valuevaluevalue", -1, NOW), 0);
    }
    struct slab_totals t;
    slab_totals(store_slab(st), &t);
    assert_int_equal(t.large_count, 0);
    assert_true(t.held <= m1.slab_held);
    store_destroy(st);
}

static void test_reservation_survives_a_flush(void **state)
{
    (void)state;
    struct store *st = mk();
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        assert_int_equal(tset(st, key, "valuevaluevalue", -1, NOW), 0);
    }
    struct store_key k = tkey(st, "pending");
    struct store_reservation r;
    assert_int_equal(store_reserve(st, &k, 30, 0, &r), 0);
    store_flush(st);
    /* Other writes reuse the freed chunks, never the reserved one. */
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k2:%d", i);
        assert_int_equal(tset(st, key, "VALUEVALUEVALUEVALUEVALUEVALUE", -1, NOW), 0);
    }
    memset(r.value, 'r', 30);
    assert_int_equal(store_publish(st, &r, -1, 0, NOW, NULL), 0);
    assert_true(value_is(tget(st, "pending", NOW), "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"));
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k2:%d", i);
        assert_true(value_is(tget(st, key, NOW), "VALUEVALUEVALUEVALUEVALUEVALUE"));
    }
    store_destroy(st);
}

static void test_random_returns_live_keys(void **state)
{
    (void)state;
    struct store *st = mk();
    assert_null(store_random(st, NOW));
    assert_int_equal(tset(st, "dead", "v", NOW - 1, NOW - 10), 0);
    assert_int_equal(tset(st, "live", "v", STORE_NO_EXPIRE, NOW), 0);
    for (int i = 0; i < 50; i++) {
        struct store_entry *e = store_random(st, NOW);
        assert_non_null(e);
        assert_memory_equal(store_entry_key(e), "live", 4);
    }
    assert_int_equal(store_count(st), 1); /* the expired one was deleted */
    store_destroy(st);
}

struct seen {
    int count[1000];
    int total;
};

static void scan_cb(void *ctx, const struct store_entry *e)
{
    struct seen *s = ctx;
    char buf[16] = {0};
    memcpy(buf, store_entry_key(e), store_entry_key_len(e));
    s->count[atoi(buf + 1)]++;
    s->total++;
}

static void test_scan_with_count_visits_all_live_keys(void **state)
{
    (void)state;
    struct store *st = mk();
    struct seen s = {{0}, 0};
    char key[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(tset(st, key, "v", i == 7 ? (int64_t)NOW - 1 : -1, NOW - 5), 0);
    }
    uint64_t cursor = 0;
    int calls = 0;
    do {
        cursor = store_scan(st, cursor, 10, NOW, scan_cb, &s);
        calls++;
    } while (cursor != 0);
    assert_true(calls > 20);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(s.count[i], i == 7 ? 0 : 1);
    store_destroy(st);
}

static int count_cb(void *ctx, const struct store_entry *e)
{
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static void test_foreach_live_skips_expired(void **state)
{
    (void)state;
    struct store *st = mk();
    assert_int_equal(tset(st, "a", "v", NOW - 1, NOW - 5), 0);
    assert_int_equal(tset(st, "b", "v", -1, NOW), 0);
    int n = 0;
    store_foreach(st, STORE_ITER_LIVE, NOW, count_cb, &n);
    assert_int_equal(n, 1);
    n = 0;
    store_foreach(st, STORE_ITER_ALL, NOW, count_cb, &n);
    assert_int_equal(n, 2);
    store_destroy(st);
}

static void test_long_key_over_64k_round_trips(void **state)
{
    (void)state;
    struct store *st = mk();
    size_t n = 70000;
    char *key = malloc(n);
    memset(key, 'K', n);
    struct store_key k, d;
    store_key_init(st, &k, key, n);
    struct store_entry *e;
    assert_int_equal(store_set(st, &k, "v", 1, NOW + 10, 0, NOW, &e), 0);
    assert_int_equal(store_entry_key_len(e), n);
    assert_int_equal(store_entry_expire(e), NOW + 10);
    e = store_lookup_read(st, &k, NOW);
    assert_true(value_is(e, "v"));
    assert_int_equal(store_entry_persist(st, &e), 1);
    assert_int_equal(store_value_resize(st, &e, 5), 0);
    memcpy(store_entry_value(e), "hello", 5);
    assert_true(value_is(store_lookup_read(st, &k, NOW), "hello"));
    char *key2 = malloc(n);
    memcpy(key2, key, n);
    key2[0] = 'L';
    store_key_init(st, &d, key2, n);
    assert_int_equal(store_rename(st, &k, &d, NOW, &e), 0);
    assert_int_equal(store_entry_key(e)[0], 'L');
    store_destroy(st);
    free(key);
    free(key2);
}

/* Runs op with allocation N failing for N = 1, 2, ... until it succeeds;
 * after each failure the store must be unchanged and, at the end, the
 * whole store must free everything. */
static void test_every_failing_allocation_of_writes_is_survived(void **state)
{
    (void)state;
    struct fault_alloc f;
    fault_init(&f);
    struct store_config c = {.seed = 5, .alloc = &f.a};
    struct store *st = NULL;
    long n;
    for (n = 1;; n++) {
        fault_arm(&f, n, 0);
        int rv = store_create(&st, &c);
        if (rv == 0)
            break;
        assert_int_equal(rv, ERR_NOMEM);
        assert_int_equal(f.live, 0);
    }
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        struct store_key k = tkey(st, key);
        int64_t exp = i % 5 == 0 ? (int64_t)NOW + 1000 : -1;
        int lasting = i % 2;
        for (n = 1;; n++) {
            fault_arm(&f, n, lasting);
            uint64_t before = store_count(st);
            int rv = store_set(st, &k, "some value", 10, exp, 0, NOW, NULL);
            fault_disarm(&f);
            if (rv == 0)
                break;
            assert_int_equal(rv, ERR_NOMEM);
            assert_int_equal(store_count(st), before);
            assert_null(tget(st, key, NOW));
        }
        if (i % 7 == 0) {
            struct store_entry *e = tget(st, key, NOW);
            for (n = 1;; n++) {
                fault_arm(&f, n, 1);
                int rv = store_entry_set_expire(st, &e, NOW + 2000);
                fault_disarm(&f);
                if (rv == 0)
                    break;
                assert_int_equal(store_entry_expire(e), exp);
                assert_true(value_is(tget(st, key, NOW), "some value"));
            }
            for (n = 1;; n++) {
                fault_arm(&f, n, 1);
                int rv = store_value_resize(st, &e, 600000);
                fault_disarm(&f);
                if (rv == 0)
                    break;
                assert_int_equal(store_entry_value_len(e), 10);
            }
            store_value_replace(st, &e, "x", 1);
        }
    }
    assert_int_equal(store_count(st), 3000);
    store_destroy(st);
    assert_int_equal(f.live, 0);
}

/* rename, reserve/publish and record loading under the same walk: every
 * failure leaves the keyspace as it was; success ends the walk. */
static void test_failing_allocations_of_rename_publish_and_load(void **state)
{
    (void)state;
    struct fault_alloc f;
    fault_init(&f);
    struct store_config c = {.seed = 6, .alloc = &f.a};
    struct store *st;
    long n;
    assert_int_equal(store_create(&st, &c), 0);
    assert_int_equal(tset(st, "src", "value", NOW + 100, NOW), 0);
    assert_int_equal(tset(st, "dst", "old", -1, NOW), 0);
    /* A key of another length: another class, a fresh page to get. */
    char dname[200];
    memset(dname, 'd', sizeof(dname) - 1);
    dname[sizeof(dname) - 1] = 0;
    struct store_key src = tkey(st, "src"), dst = tkey(st, dname);
    for (n = 1;; n++) {
        fault_arm(&f, n, 1);
        int rv = store_rename(st, &src, &dst, NOW, NULL);
        fault_disarm(&f);
        if (rv == 0)
            break;
        assert_int_equal(rv, ERR_NOMEM);
        assert_true(value_is(tget(st, "src", NOW), "value"));
        assert_null(tget(st, dname, NOW));
    }
    assert_true(n > 1);
    assert_int_equal(store_entry_expire(tget(st, dname, NOW)), NOW + 100);
    assert_int_equal(store_count(st), 2);
    struct store_key big = tkey(st, "big");
    struct store_reservation r;
    for (n = 1;; n++) {
        fault_arm(&f, n, 1);
        int rv = store_reserve(st, &big, 1 << 20, 0, &r);
        if (rv == 0) {
            memset(r.value, 'v', 1 << 20);
            rv = store_publish(st, &r, NOW + 1, 0, NOW, NULL);
            if (rv != 0)
                store_cancel(st, &r);
        }
        fault_disarm(&f);
        if (rv == 0)
            break;
        assert_int_equal(rv, ERR_NOMEM);
        assert_null(tget(st, "big", NOW));
    }
    unsigned char rec[STORE_RECORD_HEADER + 5 + 300] = {0};
    rec[0] = STORE_TYPE_STRING;
    rec[3] = 0xff, rec[4] = 0xff, rec[5] = 0xff, rec[6] = 0xff;
    rec[7] = 0xff, rec[8] = 0xff, rec[9] = 0xff, rec[10] = 0xff;
    rec[11] = 5;
    rec[15] = 300 & 0xff, rec[16] = 300 >> 8;
    memcpy(rec + STORE_RECORD_HEADER, "recky", 5);
    for (n = 1;; n++) {
        fault_arm(&f, n, 1);
        int rv = store_load_record(st, rec, sizeof(rec));
        fault_disarm(&f);
        if (rv > 0)
            break;
        assert_int_equal(rv, ERR_NOMEM);
        assert_null(tget(st, "recky", NOW));
    }
    assert_int_equal(store_count(st), 4);
    store_destroy(st);
    assert_int_equal(f.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_then_get_returns_value_and_replaces),
        cmocka_unit_test(test_encoding_is_int_embstr_or_raw_as_redis),
        cmocka_unit_test(test_keepttl_keeps_live_expire_only),
        cmocka_unit_test(test_reserve_then_publish_writes_value_in_place),
        cmocka_unit_test(test_resize_moves_across_classes_and_keeps_ttl),
        cmocka_unit_test(test_expire_set_and_persist_move_entry_and_index),
        cmocka_unit_test(test_rename_overwrites_destination_and_keeps_ttl),
        cmocka_unit_test(test_flush_empties_and_memory_is_reused),
        cmocka_unit_test(test_reservation_survives_a_flush),
        cmocka_unit_test(test_random_returns_live_keys),
        cmocka_unit_test(test_scan_with_count_visits_all_live_keys),
        cmocka_unit_test(test_foreach_live_skips_expired),
        cmocka_unit_test(test_long_key_over_64k_round_trips),
        cmocka_unit_test(test_every_failing_allocation_of_writes_is_survived),
        cmocka_unit_test(test_failing_allocations_of_rename_publish_and_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
