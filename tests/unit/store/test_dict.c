/* Unit tests for store/dict.c: add/find/unlink while an incremental
 * rehash is in flight, growth and cron-driven shrink, the SCAN guarantee
 * across both, fair-ish random picks, replace, iteration and OOM. */
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
#include "store/dict.h"

struct tnode {
    struct dict_node node;
    uint32_t klen;
    uint32_t seen;
    char key[28];
};

static const void *tkey(const struct dict_node *n, size_t *len)
{
    const struct tnode *t = (const struct tnode *)n;
    *len = t->klen;
    return t->key;
}

static struct tnode *nodes_make(size_t n)
{
    struct tnode *v = calloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i].klen = (uint32_t)snprintf(v[i].key, sizeof(v[i].key),
                                       "key:%012zu", i);
    return v;
}

static void add(struct dict *d, struct tnode *t)
{
    assert_int_equal(dict_add(d, &t->node, dict_hash(d, t->key, t->klen)), 0);
}

static struct dict_node *find(struct dict *d, const struct tnode *t)
{
    return dict_find(d, t->key, t->klen, dict_hash(d, t->key, t->klen));
}

static struct dict_node *unlink_node(struct dict *d, const struct tnode *t)
{
    return dict_unlink(d, t->key, t->klen, dict_hash(d, t->key, t->klen));
}

static void test_add_find_unlink_while_rehashing(void **state)
{
    (void)state;
    enum { N = 200000 };
    struct dict d;
    struct tnode *v = nodes_make(N);
    int saw_rehash = 0;
    dict_init(&d, tkey, 1, NULL);
    for (size_t i = 0; i < N; i++) {
        add(&d, &v[i]);
        saw_rehash |= dict_is_rehashing(&d);
        if (i % 7 == 0 && (i / 2) % 3 != 2)
            assert_ptr_equal(find(&d, &v[i / 2]), &v[i / 2].node);
        if (i % 3 == 0 && i > 0)
            assert_ptr_equal(unlink_node(&d, &v[i - 1]), &v[i - 1].node);
    }
    assert_true(saw_rehash);
    size_t expect = N - (N - 1) / 3;
    assert_int_equal(dict_count(&d), expect);
    for (size_t i = 0; i < N; i++) {
        int deleted = i % 3 == 2 && i + 1 < N;
        assert_true((find(&d, &v[i]) == NULL) == deleted);
    }
    while (dict_rehash_steps(&d, 1000))
        ;
    assert_false(dict_is_rehashing(&d));
    assert_true(d.size[0] >= dict_count(&d));
    assert_null(unlink_node(&d, &v[2]));
    dict_free(&d);
    free(v);
}

static void test_cron_shrinks_a_sparse_table(void **state)
{
    (void)state;
    enum { N = 50000 };
    struct dict d;
    struct tnode *v = nodes_make(N);
    dict_init(&d, tkey, 2, NULL);
    for (size_t i = 0; i < N; i++)
        add(&d, &v[i]);
    while (dict_rehash_steps(&d, 100))
        ;
    uint64_t big = d.size[0];
    for (size_t i = 10; i < N; i++)
        unlink_node(&d, &v[i]);
    while (dict_rehash_steps(&d, 100))
        ;
    assert_true(d.size[0] < big);
    assert_true(d.size[0] <= 16);
    for (size_t i = 0; i < 10; i++)
        assert_non_null(find(&d, &v[i]));
    dict_free(&d);
    free(v);
}

static void mark_seen(void *ctx, struct dict_node *n)
{
    (void)ctx;
    ((struct tnode *)n)->seen++;
}

/* Keys [0, keep) stay for the whole scan; between SCAN calls `churn`
 * grows or shrinks the table with the other keys. */
static void scan_with_churn(int grow)
{
    enum { KEEP = 3000, OTHER = 60000 };
    struct dict d;
    struct tnode *v = nodes_make(KEEP + OTHER);
    dict_init(&d, tkey, 3, NULL);
    for (size_t i = 0; i < KEEP; i++)
        add(&d, &v[i]);
    size_t next_other = KEEP;
    if (!grow) {
        for (; next_other < KEEP + OTHER; next_other++)
            add(&d, &v[next_other]);
        while (dict_rehash_steps(&d, 1000))
            ;
    }
    uint64_t cursor = 0;
    size_t calls = 0, removed = KEEP;
    do {
        cursor = dict_scan(&d, cursor, mark_seen, NULL);
        calls++;
        for (int k = 0; k < 200; k++) {
            if (grow && next_other < KEEP + OTHER)
                add(&d, &v[next_other++]);
            else if (!grow && removed < KEEP + OTHER)
                unlink_node(&d, &v[removed++]);
        }
        dict_rehash_steps(&d, 3);
    } while (cursor != 0 && calls < 10000000);
    assert_int_equal(cursor, 0);
    for (size_t i = 0; i < KEEP; i++)
        assert_true(v[i].seen >= 1);
    dict_free(&d);
    free(v);
}

static void test_scan_returns_every_stable_key_across_growth(void **state)
{
    (void)state;
    scan_with_churn(1);
}

static void test_scan_returns_every_stable_key_across_shrink(void **state)
{
    (void)state;
    scan_with_churn(0);
}

static void test_scan_of_an_empty_dict_ends_at_once(void **state)
{
    (void)state;
    struct dict d;
    dict_init(&d, tkey, 3, NULL);
    assert_int_equal(dict_scan(&d, 0, mark_seen, NULL), 0);
    dict_free(&d);
}

static void test_random_reaches_every_key_fair_ish(void **state)
{
    (void)state;
    enum { N = 100, DRAWS = 100000 };
    struct dict d;
    struct tnode *v = nodes_make(N);
    uint64_t rng = 12345;
    dict_init(&d, tkey, 4, NULL);
    assert_null(dict_random(&d, &rng));
    for (size_t i = 0; i < N; i++)
        add(&d, &v[i]);
    for (int i = 0; i < DRAWS; i++)
        ((struct tnode *)dict_random(&d, &rng))->seen++;
    for (size_t i = 0; i < N; i++) {
        assert_true(v[i].seen > DRAWS / N / 4);
        assert_true(v[i].seen < DRAWS / N * 4);
    }
    struct dict_node *out[10];
    size_t n = dict_sample(&d, out, 10, &rng);
    assert_int_equal(n, 10);
    dict_free(&d);
    free(v);
}

static void test_replace_puts_new_node_in_the_chain(void **state)
{
    (void)state;
    struct dict d;
    struct tnode *v = nodes_make(100);
    struct tnode copy;
    dict_init(&d, tkey, 5, NULL);
    for (size_t i = 0; i < 100; i++)
        add(&d, &v[i]);
    memcpy(&copy, &v[42], sizeof(copy));
    dict_replace(&d, &v[42].node, &copy.node, dict_hash(&d, copy.key, copy.klen));
    assert_ptr_equal(find(&d, &v[42]), &copy.node);
    for (size_t i = 0; i < 100; i++)
        assert_non_null(find(&d, &v[i]));
    assert_int_equal(dict_count(&d), 100);
    dict_free(&d);
    free(v);
}

static int unlink_even(void *ctx, struct dict_node *n)
{
    struct dict *d = ctx;
    struct tnode *t = (struct tnode *)n;
    t->seen++;
    if (t->key[t->klen - 1] % 2 == 0)
        unlink_node(d, t);
    return 0;
}

static void test_foreach_visits_all_and_may_unlink_current(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct dict d;
    struct tnode *v = nodes_make(N);
    dict_init(&d, tkey, 6, NULL);
    for (size_t i = 0; i < N; i++)
        add(&d, &v[i]);
    assert_true(dict_is_rehashing(&d) || 1);
    assert_int_equal(dict_foreach(&d, unlink_even, &d), 0);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(v[i].seen, 1);
    assert_int_equal(dict_count(&d), N / 2);
    dict_free(&d);
    free(v);
}

static void test_add_fails_only_without_a_table(void **state)
{
    (void)state;
    struct fault_alloc f;
    struct dict d;
    struct tnode *v = nodes_make(100);
    fault_init(&f);
    dict_init(&d, tkey, 7, &f.a);
    fault_arm(&f, 1, 1);
    assert_int_equal(dict_add(&d, &v[0].node, dict_hash(&d, v[0].key, v[0].klen)),
                     ERR_NOMEM);
    assert_int_equal(dict_count(&d), 0);
    fault_disarm(&f);
    add(&d, &v[0]);
    fault_arm(&f, 1, 1);
    for (size_t i = 1; i < 100; i++)
        add(&d, &v[i]); /* growth fails: chains get longer */
    assert_int_equal(d.size[0], DICT_INITIAL_SIZE);
    for (size_t i = 0; i < 100; i++)
        assert_non_null(find(&d, &v[i]));
    fault_disarm(&f);
    dict_free(&d);
    assert_int_equal(f.live, 0);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_unlink_while_rehashing),
        cmocka_unit_test(test_cron_shrinks_a_sparse_table),
        cmocka_unit_test(test_scan_returns_every_stable_key_across_growth),
        cmocka_unit_test(test_scan_returns_every_stable_key_across_shrink),
        cmocka_unit_test(test_scan_of_an_empty_dict_ends_at_once),
        cmocka_unit_test(test_random_reaches_every_key_fair_ish),
        cmocka_unit_test(test_replace_puts_new_node_in_the_chain),
        cmocka_unit_test(test_foreach_visits_all_and_may_unlink_current),
        cmocka_unit_test(test_add_fails_only_without_a_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
