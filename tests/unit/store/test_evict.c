/* Unit tests for store/store_evict.c: noeviction refuses, every policy
 * evicts until used memory is under maxmemory and picks victims as Redis'
 * sampling approximation would (old keys for LRU, rarely used for LFU,
 * nearest expire for volatile-ttl, only volatile keys for volatile-*),
 * and report-only mode leaves keys in place. */
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
#define NKEYS 2000

struct victims {
    int n;
    int volatile_n;
    long sum_index;
    int index_below_half;
};

static void evict_cb(void *ctx, const struct store_entry *e,
                     enum store_reap_why why)
{
    struct victims *v = ctx;
    char buf[32] = {0};
    assert_int_equal(why, STORE_REAP_EVICTED);
    memcpy(buf, store_entry_key(e), store_entry_key_len(e));
    int i = atoi(buf + 2);
    v->n++;
    v->sum_index += i;
    v->index_below_half += i < NKEYS / 2;
    v->volatile_n += store_entry_expire(e) != STORE_NO_EXPIRE;
}

/* NKEYS keys "k:i" created at NOW + i seconds; every third has an expire
 * of NOW + 10^6 - i (later keys expire sooner) when `some_volatile`. */
static struct store *mk(enum store_policy p, int some_volatile)
{
    struct store *st;
    struct store_config c = {.seed = 11, .policy = p};
    char key[32];
    assert_int_equal(store_create(&st, &c), 0);
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof(key), "k:%d", i);
        int64_t exp = some_volatile && i % 3 == 0
                          ? (int64_t)(NOW + 1000000000 - (uint64_t)i * 1000)
                          : STORE_NO_EXPIRE;
        assert_int_equal(tset(st, key, "0123456789abcdef0123456789abcdef",
                              exp, NOW + (uint64_t)i * 1000), 0);
    }
    return st;
}

static uint64_t later(void)
{
    return NOW + NKEYS * 1000 + 1000;
}

/* Limit at 80% of what is used: a fifth of the entry bytes must go. */
static void squeeze(struct store *st)
{
    store_set_maxmemory(st, store_used_memory(st) * 8 / 10);
}

static void test_noeviction_refuses_writes_over_the_limit(void **state)
{
    (void)state;
    struct store *st = mk(STORE_POLICY_NOEVICTION, 0);
    assert_int_equal(store_evict(st, later(), STORE_REAP_DELETE, NULL, NULL), 0);
    assert_int_equal(store_over_maxmemory(st, 1 << 30), 0);
    squeeze(st);
    assert_true(store_over_maxmemory(st, 0));
    assert_int_equal(store_evict(st, later(), STORE_REAP_DELETE, NULL, NULL), ERR_NOMEM);
    assert_int_equal(store_count(st), NKEYS);
    store_set_maxmemory(st, store_used_memory(st) + 100);
    assert_false(store_over_maxmemory(st, 50));
    assert_true(store_over_maxmemory(st, 200));
    store_destroy(st);
}

static void test_allkeys_lru_evicts_mostly_old_keys(void **state)
{
    (void)state;
    struct store *st = mk(STORE_POLICY_ALLKEYS_LRU, 0);
    struct victims v = {0};
    squeeze(st);
    assert_int_equal(store_evict(st, later(), STORE_REAP_DELETE, evict_cb, &v), 0);
    assert_false(store_over_maxmemory(st, 0));
    assert_true(v.n > 0);
    assert_int_equal(store_count(st), NKEYS - v.n);
    /* Sampling 5 with a pool of 16: the victims are mostly the oldest. */
    assert_true(v.index_below_half * 10 >= v.n * 8);
    struct store_stats s;
    store_stats(st, &s);
    assert_int_equal(s.evicted_keys, v.n);
    store_destroy(st);
}

static void test_allkeys_lfu_keeps_frequently_used_keys(void **state)
{
    (void)state;
    struct store *st = mk(STORE_POLICY_ALLKEYS_LFU, 0);
    struct victims v = {0};
    char key[32];
    /* The upper half is read often. */
    for (int r = 0; r < 20; r++)
        for (int i = NKEYS / 2; i < NKEYS; i++) {
            snprintf(key, sizeof(key), "k:%d", i);
            assert_non_null(tget(st, key, later()));
        }
    squeeze(st);
    assert_int_equal(store_evict(st, later(), STORE_REAP_DELETE, evict_cb, &v), 0);
    assert_true(v.n > 0);
    assert_true(v.index_below_half * 10 >= v.n * 9);
    store_destroy(st);
}

static void test_allkeys_random_evicts_until_under_the_limit(void **state)
{
    (void)state;
    struct store *st = mk(STORE_POLICY_ALLKEYS_RANDOM, 0);
    struct victims v = {0};
    squeeze(st);
    assert_int_equal(store_evict(st, later(), STORE_REAP_DELETE, evict_cb, &v), 0);
    assert_false(store_over_maxmemory(st, 0));
    assert_true(v.n > NKEYS / 10);
    store_destroy(st);
}

static void test_volatile_policies_evict_only_volatile_keys(void **state)
{
    (void)state;
    static const enum store_policy ps[] = {
        STORE_POLICY_VOLATILE_LRU, STORE_POLICY_VOLATILE_LFU,
        STORE_POLICY_VOLATILE_RANDOM, STORE_POLICY_VOLATILE_TTL,
    };
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        struct store *st = mk(ps[i], 1);
        struct victims v = {0};
        squeeze(st);
        int rv = store_evict(st, later(), STORE_REAP_DELETE, evict_cb, &v);
        assert_true(v.n > 0);
        assert_int_equal(v.volatile_n, v.n);
        /* A third of the keys are volatile: maybe not enough to free 20%. */
        if (rv != 0) {
            assert_int_equal(rv, ERR_NOMEM);
            assert_int_equal(store_count_volatile(st), 0);
        }
        store_destroy(st);
    }
}

static void test_volatile_ttl_evicts_nearest_expiry_first(void **state)
{
    (void)state;
    struct store *st = mk(STORE_POLICY_VOLATILE_TTL, 1);
    struct victims v = {0};
    store_set_maxmemory(st, store_used_memory(st) - 2000);
    assert_int_equal(store_evict(st, later(), STORE_REAP_DELETE, evict_cb, &v), 0);
    /* Later keys expire sooner: victims come from the upper half. */
    assert_true(v.n > 0);
    assert_true(v.index_below_half * 10 <= v.n * 2);
    store_destroy(st);
}

static void test_report_mode_keeps_keys_and_reports_enough(void **state)
{
    (void)state;
    struct store *st = mk(STORE_POLICY_ALLKEYS_LRU, 0);
    struct victims v = {0};
    squeeze(st);
    assert_int_equal(store_evict(st, later(), STORE_REAP_REPORT, evict_cb, &v), 0);
    assert_true(v.n > 0);
    assert_int_equal(store_count(st), NKEYS);
    assert_true(store_over_maxmemory(st, 0));
    store_destroy(st);
}

static void test_one_call_evicts_a_bounded_number_of_keys(void **state)
{
    (void)state;
    struct store *st;
    struct store_config c = {.seed = 3, .policy = STORE_POLICY_ALLKEYS_RANDOM};
    char key[32];
    assert_int_equal(store_create(&st, &c), 0);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k:%d", i);
        assert_int_equal(tset(st, key, "v", -1, NOW), 0);
    }
    store_set_maxmemory(st, 1);
    assert_int_equal(store_evict(st, NOW, STORE_REAP_DELETE, NULL, NULL), 0);
    assert_int_equal(store_count(st), 5000 - 1024);
    int calls = 0;
    while (store_evict(st, NOW, STORE_REAP_DELETE, NULL, NULL) == 0 && calls < 100)
        calls++;
    assert_int_equal(store_count(st), 0); /* then nothing left: -OOM */
    assert_true(calls <= 4);
    store_destroy(st);
}

static void test_policy_names_round_trip(void **state)
{
    (void)state;
    for (int p = STORE_POLICY_NOEVICTION; p <= STORE_POLICY_VOLATILE_TTL; p++)
        assert_int_equal(store_policy_from_name(store_policy_name(p)), p);
    assert_int_equal(store_policy_from_name("ALLKEYS-LRU"), STORE_POLICY_ALLKEYS_LRU);
    assert_int_equal(store_policy_from_name("lru"), -1);
    assert_null(store_policy_name(99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noeviction_refuses_writes_over_the_limit),
        cmocka_unit_test(test_allkeys_lru_evicts_mostly_old_keys),
        cmocka_unit_test(test_allkeys_lfu_keeps_frequently_used_keys),
        cmocka_unit_test(test_allkeys_random_evicts_until_under_the_limit),
        cmocka_unit_test(test_volatile_policies_evict_only_volatile_keys),
        cmocka_unit_test(test_volatile_ttl_evicts_nearest_expiry_first),
        cmocka_unit_test(test_report_mode_keeps_keys_and_reports_enough),
        cmocka_unit_test(test_one_call_evicts_a_bounded_number_of_keys),
        cmocka_unit_test(test_policy_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
