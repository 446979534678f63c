/* Unit tests for store/store_expire.c and lazy expiry: keys die strictly
 * after their expire time, the active cycle reaps through the callback in
 * delete or report-only mode, adapts to the share of stale keys, stays
 * within its budget, and a follower only hides keys. Also OBJECT IDLETIME
 * and OBJECT FREQ data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "store/store.h"
#include "store_test_util.h"

#define NOW 1700000000000ull

static struct store *mk(int follower)
{
    struct store *st;
    struct store_config c = {.seed = 7, .hide_expired_only = follower};
    assert_int_equal(store_create(&st, &c), 0);
    return st;
}

struct reaped {
    int n;
    char last[32];
};

static void reap_cb(void *ctx, const struct store_entry *e,
                    enum store_reap_why why)
{
    struct reaped *r = ctx;
    assert_int_equal(why, STORE_REAP_EXPIRED);
    size_t n = store_entry_key_len(e);
    if (n >= sizeof(r->last))
        n = sizeof(r->last) - 1;
    memcpy(r->last, store_entry_key(e), n);
    r->last[n] = 0;
    r->n++;
}

static void fill(struct store *st, const char *prefix, int n, int64_t expire)
{
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s%d", prefix, i);
        assert_int_equal(tset(st, key, "v", expire, NOW - 1000), 0);
    }
}

static void test_lazy_expiry_deletes_strictly_after_expire_time(void **state)
{
    (void)state;
    struct store *st = mk(0);
    struct store_stats s;
    assert_int_equal(tset(st, "k", "v", NOW + 100, NOW), 0);
    assert_non_null(tget(st, "k", NOW + 100));
    assert_null(tget(st, "k", NOW + 101));
    assert_int_equal(store_count(st), 0);
    assert_int_equal(store_count_volatile(st), 0);
    store_stats(st, &s);
    assert_int_equal(s.expired_keys, 1);
    store_destroy(st);
}

static void test_follower_hides_expired_keys_but_keeps_them(void **state)
{
    (void)state;
    struct store *st = mk(1);
    struct reaped r = {0};
    assert_int_equal(tset(st, "k", "v", NOW, NOW - 10), 0);
    assert_null(tget(st, "k", NOW + 1));
    assert_int_equal(store_count(st), 1);
    struct store_key k = tkey(st, "k");
    assert_int_equal(store_exists(st, &k, NOW + 1), 0);
    assert_null(store_random(st, NOW + 1));
    assert_int_equal(store_expire_cycle(st, NOW + 1, 100, STORE_REAP_REPORT,
                                        reap_cb, &r), 1);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.last, "k");
    assert_int_equal(store_count(st), 1);
    /* The leader's DEL removes it; it was not live, so DEL counts 0. */
    assert_int_equal(store_delete(st, &k, NOW + 1), 0);
    assert_int_equal(store_count(st), 0);
    store_destroy(st);
}

static void test_active_cycle_deletes_only_expired_volatile_keys(void **state)
{
    (void)state;
    struct store *st = mk(0);
    struct reaped r = {0};
    fill(st, "dead", 1000, NOW - 1);
    fill(st, "live", 100, NOW + 100000);
    fill(st, "plain", 1000, STORE_NO_EXPIRE);
    size_t total = 0;
    for (int i = 0; i < 100 && store_count_volatile(st) > 100; i++)
        total += store_expire_cycle(st, NOW, 200, STORE_REAP_DELETE, reap_cb, &r);
    assert_int_equal(total, 1000);
    assert_int_equal(r.n, 1000);
    struct store_stats s;
    store_stats(st, &s);
    assert_true(s.avg_ttl_ms > 0 && s.avg_ttl_ms <= 100000);
    assert_int_equal(store_count(st), 1100);
    assert_int_equal(store_count_volatile(st), 100);
    assert_non_null(tget(st, "live7", NOW));
    assert_non_null(tget(st, "plain7", NOW));
    store_destroy(st);
}

static void test_active_cycle_stays_within_budget(void **state)
{
    (void)state;
    struct store *st = mk(0);
    fill(st, "dead", 1000, NOW - 1);
    assert_int_equal(store_expire_cycle(st, NOW, 50, STORE_REAP_DELETE, NULL, NULL), 50);
    assert_int_equal(store_count(st), 950);
    store_destroy(st);
}

static void test_active_cycle_stops_when_few_keys_are_stale(void **state)
{
    (void)state;
    struct store *st = mk(0);
    struct store_stats s;
    fill(st, "live", 1000, NOW + 100000);
    fill(st, "dead", 5, NOW - 1);
    /* One sample of 20 has at most 5 stale keys (25%): no repeat. */
    size_t n = store_expire_cycle(st, NOW, 1000, STORE_REAP_DELETE, NULL, NULL);
    assert_true(n <= 5);
    store_stats(st, &s);
    assert_true(s.expired_stale_perc <= 25);
    assert_true(store_count(st) >= 1000);
    store_destroy(st);
}

static void test_report_mode_reports_again_until_deleted(void **state)
{
    (void)state;
    struct store *st = mk(0);
    struct reaped r = {0};
    fill(st, "dead", 10, NOW - 1);
    assert_int_equal(store_expire_cycle(st, NOW, 100, STORE_REAP_REPORT, reap_cb, &r), 10);
    assert_int_equal(store_count(st), 10);
    assert_int_equal(store_expire_cycle(st, NOW, 100, STORE_REAP_REPORT, reap_cb, &r), 10);
    assert_int_equal(r.n, 20);
    store_destroy(st);
}

static void test_volatile_index_spans_segments_and_shrinks(void **state)
{
    (void)state;
    struct store *st = mk(0);
    struct store_memory m1, m2;
    fill(st, "dead", 9000, NOW - 1);
    fill(st, "live", 5000, NOW + 100000);
    assert_int_equal(store_count_volatile(st), 14000);
    store_memory(st, &m1);
    size_t total = 0;
    for (int i = 0; i < 1000 && total < 9000; i++)
        total += store_expire_cycle(st, NOW, 1000, STORE_REAP_DELETE, NULL, NULL);
    assert_int_equal(total, 9000);
    assert_int_equal(store_count_volatile(st), 5000);
    store_memory(st, &m2);
    assert_true(m2.volatile_bytes < m1.volatile_bytes);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "live%d", i);
        struct store_entry *e = tget(st, key, NOW);
        assert_int_equal(store_entry_expire(e), NOW + 100000);
        if (i % 2 == 0)
            assert_int_equal(store_entry_persist(st, &e), 1);
    }
    assert_int_equal(store_count_volatile(st), 2500);
    assert_int_equal(store_expire_cycle(st, NOW + 200000, 100000,
                                        STORE_REAP_DELETE, NULL, NULL), 2500);
    assert_int_equal(store_count(st), 2500);
    store_destroy(st);
}

static void test_idle_time_counts_seconds_since_last_touch(void **state)
{
    (void)state;
    struct store *st = mk(0);
    struct store_key k = tkey(st, "k");
    assert_int_equal(tset(st, "k", "v", -1, NOW), 0);
    struct store_entry *e = store_lookup(st, &k, STORE_LOOKUP_NOTOUCH, NOW + 5500);
    assert_int_equal(store_entry_idle_ms(st, e, NOW + 5500) / 1000, 5);
    e = store_lookup_read(st, &k, NOW + 6000);
    assert_int_equal(store_entry_idle_ms(st, e, NOW + 6000), 0);
    assert_false(store_policy_is_lfu(st));
    store_destroy(st);
}

static void test_lfu_counter_grows_logarithmically_and_decays(void **state)
{
    (void)state;
    struct store *st;
    struct store_config c = {.seed = 1, .policy = STORE_POLICY_ALLKEYS_LFU};
    assert_int_equal(store_create(&st, &c), 0);
    assert_true(store_policy_is_lfu(st));
    struct store_key k = tkey(st, "k");
    assert_int_equal(tset(st, "k", "v", -1, NOW), 0);
    struct store_entry *e = store_lookup(st, &k, STORE_LOOKUP_NOTOUCH, NOW);
    assert_int_equal(store_entry_freq(st, e, NOW), 5);
    for (int i = 0; i < 1000; i++)
        e = store_lookup_read(st, &k, NOW);
    unsigned f = store_entry_freq(st, e, NOW);
    assert_true(f > 10 && f < 30); /* log factor 10: ~1000 hits -> ~18 */
    for (int i = 0; i < 100000; i++)
        e = store_lookup_read(st, &k, NOW);
    unsigned g = store_entry_freq(st, e, NOW);
    assert_true(g > f && g < 255);
    /* One decrement per minute idle (lfu-decay-time 1). */
    assert_int_equal(store_entry_freq(st, e, NOW + 3 * 60000), g - 3);
    store_destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_expiry_deletes_strictly_after_expire_time),
        cmocka_unit_test(test_follower_hides_expired_keys_but_keeps_them),
        cmocka_unit_test(test_active_cycle_deletes_only_expired_volatile_keys),
        cmocka_unit_test(test_active_cycle_stays_within_budget),
        cmocka_unit_test(test_active_cycle_stops_when_few_keys_are_stale),
        cmocka_unit_test(test_report_mode_reports_again_until_deleted),
        cmocka_unit_test(test_volatile_index_spans_segments_and_shrinks),
        cmocka_unit_test(test_idle_time_counts_seconds_since_last_touch),
        cmocka_unit_test(test_lfu_counter_grows_logarithmically_and_decays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
