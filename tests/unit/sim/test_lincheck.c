/* Unit tests for the simulator's linearizability checker: hand-written
 * histories whose verdict is known (stale reads, lost writes, impossible
 * orders of concurrent writes, compare-and-set anomalies, timed-out
 * operations that must or cannot have happened), plus generated histories
 * that are linearizable by construction and a pathological one that must
 * exhaust its budget rather than hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sim/lincheck.h"

#define INF 0 /* completion time of an unknown op is ignored */
#define W(k, v, i, c) {.key = k, .kind = LC_WRITE, .arg = v, .invoke = i, .complete = c}
#define R(k, v, i, c) {.key = k, .kind = LC_READ, .out = v, .invoke = i, .complete = c}
#define CAS(k, e, n, sw, i, c) \
    {.key = k, .kind = LC_CAS, .arg = e, .arg2 = n, .out = sw, .invoke = i, .complete = c}
#define WU(k, v, i) {.key = k, .kind = LC_WRITE, .result = LC_UNKNOWN, .arg = v, .invoke = i}
#define WF(k, v, i, c) \
    {.key = k, .kind = LC_WRITE, .result = LC_FAIL, .arg = v, .invoke = i, .complete = c}
#define CASU(k, e, n, i) \
    {.key = k, .kind = LC_CAS, .result = LC_UNKNOWN, .arg = e, .arg2 = n, .invoke = i}
#define RU(k, i) {.key = k, .kind = LC_READ, .result = LC_UNKNOWN, .out = 12345, .invoke = i}
#define NIL LC_NIL

#define CHECK(h) lincheck_check(h, sizeof(h) / sizeof(h[0]), 0, NULL)

static void test_empty_history_is_linearizable(void **state)
{
    (void)state;
    assert_int_equal(lincheck_check(NULL, 0, 0, NULL), LC_LINEARIZABLE);
}

static void test_read_of_never_written_key_sees_nil(void **state)
{
    (void)state;
    struct lc_op ok[] = {R(1, NIL, 1, 2)};
    struct lc_op bad[] = {R(1, 7, 1, 2)};
    assert_int_equal(CHECK(ok), LC_LINEARIZABLE);
    assert_int_equal(CHECK(bad), LC_NOT_LINEARIZABLE);
}

static void test_sequential_write_then_read_is_linearizable(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 5, 1, 2), R(1, 5, 3, 4), W(1, 6, 5, 6), R(1, 6, 7, 8)};
    assert_int_equal(CHECK(h), LC_LINEARIZABLE);
}

static void test_stale_read_after_acknowledged_write_is_caught(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 5, 1, 2), R(1, NIL, 3, 4)};
    struct lc_report r;
    assert_int_equal(lincheck_check(h, 2, 0, &r), LC_NOT_LINEARIZABLE);
    assert_int_equal(r.bad_key, 1);
    assert_int_equal(r.bad_op, 1);
}

static void test_read_concurrent_with_write_may_see_either_value(void **state)
{
    (void)state;
    struct lc_op old[] = {W(1, 1, 1, 2), W(1, 2, 3, 10), R(1, 1, 4, 5)};
    struct lc_op new[] = {W(1, 1, 1, 2), W(1, 2, 3, 10), R(1, 2, 4, 5)};
    assert_int_equal(CHECK(old), LC_LINEARIZABLE);
    assert_int_equal(CHECK(new), LC_LINEARIZABLE);
}

static void test_read_cannot_flip_back_to_old_value_during_write(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 2), W(1, 2, 3, 20), R(1, 2, 4, 5), R(1, 1, 6, 7)};
    assert_int_equal(CHECK(h), LC_NOT_LINEARIZABLE);
}

static void test_lost_write_is_caught(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 2), W(1, 2, 3, 4), R(1, 1, 5, 6)};
    assert_int_equal(CHECK(h), LC_NOT_LINEARIZABLE);
}

static void test_concurrent_writes_read_in_one_order_are_linearizable(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 10), W(1, 2, 2, 11), R(1, 1, 3, 4),
                        R(1, 2, 5, 6), R(1, 2, 12, 13)};
    assert_int_equal(CHECK(h), LC_LINEARIZABLE);
}

static void test_concurrent_writes_read_in_impossible_orders_are_caught(void **state)
{
    (void)state;
    /* Readers disagree on the final order: 1 then 2 then 1 again. */
    struct lc_op h[] = {W(1, 1, 1, 10), W(1, 2, 2, 11), R(1, 1, 3, 4),
                        R(1, 2, 5, 6), R(1, 1, 7, 8)};
    /* After both writes finished, two readers see different values. */
    struct lc_op h2[] = {W(1, 1, 1, 10), W(1, 2, 2, 11), R(1, 2, 12, 13),
                         R(1, 1, 14, 15)};
    assert_int_equal(CHECK(h), LC_NOT_LINEARIZABLE);
    assert_int_equal(CHECK(h2), LC_NOT_LINEARIZABLE);
}

static void test_cas_success_requires_expected_value(void **state)
{
    (void)state;
    struct lc_op ok[] = {W(1, 1, 1, 2), CAS(1, 1, 2, 1, 3, 4), R(1, 2, 5, 6)};
    struct lc_op bad[] = {W(1, 3, 1, 2), CAS(1, 1, 2, 1, 3, 4)};
    assert_int_equal(CHECK(ok), LC_LINEARIZABLE);
    assert_int_equal(CHECK(bad), LC_NOT_LINEARIZABLE);
}

static void test_two_concurrent_cas_on_same_value_cannot_both_succeed(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 2), CAS(1, 1, 2, 1, 3, 10), CAS(1, 1, 3, 1, 4, 11)};
    assert_int_equal(CHECK(h), LC_NOT_LINEARIZABLE);
}

static void test_cas_mismatch_while_value_matched_is_caught(void **state)
{
    (void)state;
    struct lc_op bad[] = {W(1, 1, 1, 2), CAS(1, 1, 2, 0, 3, 4)};
    struct lc_op ok[] = {W(1, 1, 1, 2), W(1, 5, 3, 9), CAS(1, 1, 2, 0, 4, 6), R(1, 5, 10, 11)};
    assert_int_equal(CHECK(bad), LC_NOT_LINEARIZABLE);
    assert_int_equal(CHECK(ok), LC_LINEARIZABLE);
}

static void test_cas_chain_counts_like_a_counter(void **state)
{
    (void)state;
    struct lc_op ok[] = {W(1, 0, 1, 2), CAS(1, 0, 1, 1, 3, 8), CAS(1, 1, 2, 1, 4, 9),
                         CAS(1, 0, 1, 0, 5, 10), R(1, 2, 11, 12)};
    struct lc_op bad[] = {W(1, 0, 1, 2), CAS(1, 0, 1, 1, 3, 8), CAS(1, 1, 2, 1, 4, 9),
                          R(1, 1, 11, 12)};
    assert_int_equal(CHECK(ok), LC_LINEARIZABLE);
    assert_int_equal(CHECK(bad), LC_NOT_LINEARIZABLE);
}

static void test_unknown_write_that_was_observed_must_have_happened(void **state)
{
    (void)state;
    struct lc_op ok[] = {W(1, 1, 1, 2), WU(1, 2, 3), R(1, 2, 5, 6), R(1, 2, 7, 8)};
    struct lc_op bad[] = {W(1, 1, 1, 2), WU(1, 2, 3), R(1, 2, 5, 6), R(1, 1, 7, 8)};
    assert_int_equal(CHECK(ok), LC_LINEARIZABLE);
    assert_int_equal(CHECK(bad), LC_NOT_LINEARIZABLE);
}

static void test_unknown_write_may_never_happen(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 2), WU(1, 2, 3), R(1, 1, 5, 6), R(1, 1, 100, 101)};
    assert_int_equal(CHECK(h), LC_LINEARIZABLE);
}

static void test_unknown_write_may_happen_long_after_its_timeout(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 2), WU(1, 2, 3), R(1, 1, 50, 51), R(1, 2, 100, 101)};
    assert_int_equal(CHECK(h), LC_LINEARIZABLE);
}

static void test_unknown_write_cannot_be_seen_before_its_invocation(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 2), R(1, 2, 3, 4), WU(1, 2, 10)};
    assert_int_equal(CHECK(h), LC_NOT_LINEARIZABLE);
}

static void test_failed_write_is_never_visible(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 2), WF(1, 2, 3, 4), R(1, 2, 5, 6)};
    assert_int_equal(CHECK(h), LC_NOT_LINEARIZABLE);
}

static void test_unknown_cas_applies_only_if_value_matched(void **state)
{
    (void)state;
    struct lc_op ok[] = {W(1, 1, 1, 2), CASU(1, 1, 9, 3), R(1, 9, 5, 6)};
    struct lc_op bad[] = {W(1, 3, 1, 2), CASU(1, 1, 9, 3), R(1, 9, 5, 6)};
    assert_int_equal(CHECK(ok), LC_LINEARIZABLE);
    assert_int_equal(CHECK(bad), LC_NOT_LINEARIZABLE);
}

static void test_unknown_reads_are_ignored(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 2), RU(1, 3)};
    assert_int_equal(CHECK(h), LC_LINEARIZABLE);
}

static void test_keys_are_checked_independently(void **state)
{
    (void)state;
    struct lc_op h[] = {W(1, 1, 1, 2), W(2, 1, 3, 4), R(1, 1, 5, 6),
                        R(2, NIL, 7, 8), R(3, NIL, 9, 10)};
    struct lc_report r;
    assert_int_equal(lincheck_check(h, 5, 0, &r), LC_NOT_LINEARIZABLE);
    assert_int_equal(r.bad_key, 2);
    assert_int_equal(r.key_ops, 2);
}

static uint64_t test_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Ops take effect at distinct points 1000*i; their intervals stretch
 * randomly around that point so many overlap. A fraction time out. */
static struct lc_op *generate_linearizable(uint64_t seed, size_t n, int keys)
{
    struct lc_op *h = calloc(n, sizeof(*h));
    int64_t reg[8];
    for (int k = 0; k < keys; k++)
        reg[k] = LC_NIL;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = test_rng(&seed);
        int k = (int)(r % (uint64_t)keys);
        uint64_t point = 1000 * (i + 10);
        struct lc_op *op = &h[i];
        op->key = (uint64_t)k;
        op->invoke = point - 1 - test_rng(&seed) % 3000;
        op->complete = point + 1 + test_rng(&seed) % 3000;
        int64_t v = (int64_t)(test_rng(&seed) % 5);
        switch ((r >> 8) % 3) {
        case 0:
            op->kind = LC_READ;
            op->out = reg[k];
            break;
        case 1:
            op->kind = LC_WRITE;
            op->arg = v;
            reg[k] = v;
            break;
        default:
            op->kind = LC_CAS;
            op->arg = v;
            op->arg2 = (int64_t)(test_rng(&seed) % 5);
            op->out = reg[k] == v;
            if (op->out)
                reg[k] = op->arg2;
        }
        if (op->kind != LC_READ && (r >> 16) % 20 == 0)
            op->result = LC_UNKNOWN;
    }
    return h;
}

static void test_generated_linearizable_histories_pass(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct lc_op *h = generate_linearizable(seed, 3000, 3);
        struct lc_report r;
        assert_int_equal(lincheck_check(h, 3000, 0, &r), LC_LINEARIZABLE);
        free(h);
    }
}

static void test_generated_history_with_one_corrupted_read_fails(void **state)
{
    (void)state;
    int caught = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct lc_op *h = generate_linearizable(seed, 400, 2);
        /* Make one read return a value that was never written. */
        for (size_t i = 200; i < 400; i++) {
            if (h[i].kind == LC_READ) {
                h[i].out = 77;
                break;
            }
        }
        caught += lincheck_check(h, 400, 0, NULL) == LC_NOT_LINEARIZABLE;
        free(h);
    }
    assert_int_equal(caught, 20);
}

static void test_unobserved_unknown_writes_do_not_blow_up_the_search(void **state)
{
    (void)state;
    /* 40 timed-out writes nobody ever read, then 100 write/read pairs:
     * the search must not try every subset of the 40. */
    enum { U = 40, P = 100, N = U + 2 * P };
    struct lc_op h[N];
    for (int i = 0; i < U; i++)
        h[i] = (struct lc_op)WU(1, 1000 + i, (uint64_t)i + 1);
    for (int i = 0; i < P; i++) {
        uint64_t t = 100 + 4 * (uint64_t)i;
        h[U + 2 * i] = (struct lc_op)W(1, i, t, t + 1);
        h[U + 2 * i + 1] = (struct lc_op)R(1, i, t + 2, t + 3);
    }
    struct lc_report r;
    assert_int_equal(lincheck_check(h, N, 100000, &r), LC_LINEARIZABLE);
}

static void test_observed_unknown_write_among_unobserved_ones_is_placed(void **state)
{
    (void)state;
    struct lc_op ok[] = {WU(1, 7, 1), WU(1, 8, 2), WU(1, 9, 3), W(1, 1, 4, 5),
                         R(1, 1, 6, 7), R(1, 8, 8, 9)};
    struct lc_op bad[] = {WU(1, 7, 1), WU(1, 8, 2), WU(1, 9, 3), R(1, 8, 4, 5),
                          W(1, 1, 6, 7), R(1, 1, 8, 9), R(1, 8, 10, 11),
                          R(1, 1, 12, 13)};
    assert_int_equal(CHECK(ok), LC_LINEARIZABLE);
    assert_int_equal(CHECK(bad), LC_NOT_LINEARIZABLE);
}

static void test_pathological_history_exhausts_budget(void **state)
{
    (void)state;
    /* 24 fully concurrent writes of distinct values, then a read of a
     * value nobody wrote: every subset would have to be explored. */
    enum { N = 25 };
    struct lc_op h[N];
    for (int i = 0; i < N - 1; i++)
        h[i] = (struct lc_op)W(1, i, (uint64_t)i + 1, 1000 + (uint64_t)i);
    h[N - 1] = (struct lc_op)R(1, 999, 100, 101);
    struct lc_report r;
    assert_int_equal(lincheck_check(h, N, 10000, &r), LC_UNDECIDED);
    assert_true(r.steps >= 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_history_is_linearizable),
        cmocka_unit_test(test_read_of_never_written_key_sees_nil),
        cmocka_unit_test(test_sequential_write_then_read_is_linearizable),
        cmocka_unit_test(test_stale_read_after_acknowledged_write_is_caught),
        cmocka_unit_test(test_read_concurrent_with_write_may_see_either_value),
        cmocka_unit_test(test_read_cannot_flip_back_to_old_value_during_write),
        cmocka_unit_test(test_lost_write_is_caught),
        cmocka_unit_test(test_concurrent_writes_read_in_one_order_are_linearizable),
        cmocka_unit_test(test_concurrent_writes_read_in_impossible_orders_are_caught),
        cmocka_unit_test(test_cas_success_requires_expected_value),
        cmocka_unit_test(test_two_concurrent_cas_on_same_value_cannot_both_succeed),
        cmocka_unit_test(test_cas_mismatch_while_value_matched_is_caught),
        cmocka_unit_test(test_cas_chain_counts_like_a_counter),
        cmocka_unit_test(test_unknown_write_that_was_observed_must_have_happened),
        cmocka_unit_test(test_unknown_write_may_never_happen),
        cmocka_unit_test(test_unknown_write_may_happen_long_after_its_timeout),
        cmocka_unit_test(test_unknown_write_cannot_be_seen_before_its_invocation),
        cmocka_unit_test(test_failed_write_is_never_visible),
        cmocka_unit_test(test_unknown_cas_applies_only_if_value_matched),
        cmocka_unit_test(test_unknown_reads_are_ignored),
        cmocka_unit_test(test_keys_are_checked_independently),
        cmocka_unit_test(test_generated_linearizable_histories_pass),
        cmocka_unit_test(test_generated_history_with_one_corrupted_read_fails),
        cmocka_unit_test(test_unobserved_unknown_writes_do_not_blow_up_the_search),
        cmocka_unit_test(test_observed_unknown_write_among_unobserved_ones_is_placed),
        cmocka_unit_test(test_pathological_history_exhausts_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
