/* Unit tests for mem/slab.c: class layout, O(1) reuse, accounting, large
 * allocations, reset, and the allocator hook failing the Nth call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "fault_alloc.h"
#include "mem/slab.h"

static void test_classes_grow_by_factor_aligned_up_to_half_a_page(void **state)
{
    (void)state;
    struct slab *s;
    assert_int_equal(slab_create(&s, NULL), 0);
    int n = slab_class_count(s);
    assert_true(n > 10 && n <= SLAB_MAX_CLASSES);
    struct slab_class_stats prev, cur;
    assert_int_equal(slab_class_stats(s, 0, &prev), 0);
    assert_int_equal(prev.chunk_size, SLAB_DEFAULT_MIN_CHUNK);
    for (int i = 1; i < n; i++) {
        assert_int_equal(slab_class_stats(s, i, &cur), 0);
        assert_int_equal(cur.chunk_size % 8, 0);
        assert_true(cur.chunk_size > prev.chunk_size);
        if (i < n - 1)
            assert_true(cur.chunk_size <= (size_t)(prev.chunk_size * 1.25) + 8);
        prev = cur;
    }
    assert_int_equal(prev.chunk_size, slab_max_chunk(s));
    assert_true(slab_max_chunk(s) <= SLAB_PAGE_SIZE / 2);
    assert_true(prev.chunks_per_page >= 2);
    assert_int_equal(slab_class_stats(s, n, &cur), ERR_INVALID);
    slab_destroy(s);
}

static void test_small_entry_of_98_bytes_fits_the_104_byte_class(void **state)
{
    (void)state;
    struct slab *s;
    assert_int_equal(slab_create(&s, NULL), 0);
    assert_int_equal(slab_chunk_size(s, 98), 104);
    assert_int_equal(slab_chunk_size(s, 1), 48);
    assert_int_equal(slab_chunk_size(s, 48), 48);
    assert_int_equal(slab_chunk_size(s, 49), 64);
    slab_destroy(s);
}

static void test_growth_factor_is_configurable(void **state)
{
    (void)state;
    struct slab *a, *b;
    struct slab_config c = {.growth_factor = 2.0, .min_chunk = 64};
    assert_int_equal(slab_create(&a, &c), 0);
    c.growth_factor = 1.05;
    assert_int_equal(slab_create(&b, &c), 0);
    assert_true(slab_class_count(a) < slab_class_count(b));
    struct slab_class_stats st;
    slab_class_stats(a, 1, &st);
    assert_int_equal(st.chunk_size, 128);
    slab_destroy(a);
    slab_destroy(b);
    c.growth_factor = 1.0;
    assert_int_equal(slab_create(&a, &c), ERR_INVALID);
    c.growth_factor = 1.25;
    c.min_chunk = 8;
    assert_int_equal(slab_create(&a, &c), ERR_INVALID);
}

static void test_freed_chunk_is_reused_first(void **state)
{
    (void)state;
    struct slab *s;
    assert_int_equal(slab_create(&s, NULL), 0);
    void *a = slab_alloc(s, 100);
    void *b = slab_alloc(s, 100);
    assert_non_null(a);
    assert_ptr_not_equal(a, b);
    assert_int_equal((uintptr_t)a % 8, 0);
    memset(a, 0xAB, 100);
    slab_free(s, a, 100);
    assert_ptr_equal(slab_alloc(s, 99), a);
    slab_free(s, a, 99);
    slab_free(s, b, 100);
    slab_destroy(s);
}

static void test_accounting_counts_pages_chunks_and_large(void **state)
{
    (void)state;
    struct slab *s;
    struct slab_totals t;
    struct slab_class_stats cs;
    assert_int_equal(slab_create(&s, NULL), 0);
    void *p[1000];
    for (int i = 0; i < 1000; i++)
        p[i] = slab_alloc(s, 98);
    slab_totals(s, &t);
    assert_int_equal(t.pages, 1);
    assert_int_equal(t.used, 1000 * 104);
    assert_int_equal(t.held, SLAB_PAGE_SIZE);
    assert_int_equal(slab_used_bytes(s), t.used);
    int c = -1;
    for (int i = 0; i < slab_class_count(s); i++) {
        slab_class_stats(s, i, &cs);
        if (cs.chunk_size == 104)
            c = i;
    }
    slab_class_stats(s, c, &cs);
    assert_int_equal(cs.used_chunks, 1000);
    assert_int_equal(cs.pages, 1);
    assert_int_equal(cs.free_chunks, cs.chunks_per_page - 1000);
    assert_int_equal(cs.requested, 98000);

    void *big = slab_alloc(s, 3 * 1024 * 1024 + 1);
    assert_non_null(big);
    slab_totals(s, &t);
    assert_int_equal(t.large_count, 1);
    assert_int_equal(t.large_bytes, 3 * 1024 * 1024 + 256 * 1024);
    assert_int_equal(t.held, SLAB_PAGE_SIZE + t.large_bytes);
    slab_free(s, big, 3 * 1024 * 1024 + 1);
    for (int i = 0; i < 1000; i++)
        slab_free(s, p[i], 98);
    slab_totals(s, &t);
    assert_int_equal(t.used, 0);
    assert_int_equal(t.large_count, 0);
    assert_int_equal(t.pages, 1);
    assert_int_equal(t.free_pages, 1); /* empty: back on the free list */
    assert_int_equal(slab_release_free_pages(s, 0), SLAB_PAGE_SIZE);
    slab_totals(s, &t);
    assert_int_equal(t.pages, 0);
    assert_int_equal(t.held, 0);
    slab_destroy(s);
}

static void test_emptied_pages_move_to_the_class_that_needs_them(void **state)
{
    (void)state;
    enum { N = 40000 };
    struct slab *s;
    struct slab_totals t;
    static void *p[N];
    assert_int_equal(slab_create(&s, NULL), 0);
    for (int i = 0; i < N; i++)
        p[i] = slab_alloc(s, 100);
    slab_totals(s, &t);
    size_t pages = t.pages;
    assert_int_equal(pages, 4);
    /* Free in an order that empties pages one by one at the end. */
    for (int i = 0; i < N; i += 2)
        slab_free(s, p[i], 100);
    slab_totals(s, &t);
    assert_int_equal(t.free_pages, 0);
    for (int i = 1; i < N; i += 2)
        slab_free(s, p[i], 100);
    slab_totals(s, &t);
    assert_int_equal(t.free_pages, pages);
    assert_int_equal(t.used, 0);
    /* Values of another size now: no new page from malloc. */
    for (int i = 0; i < N / 4; i++)
        p[i] = slab_alloc(s, 300);
    slab_totals(s, &t);
    assert_int_equal(t.pages, pages);
    for (int i = 0; i < N / 4; i++) {
        memset(p[i], i & 0xff, 300);
        slab_free(s, p[i], 300);
    }
    slab_destroy(s);
}

static void test_large_sizes_round_to_an_eighth_of_their_power_of_two(void **state)
{
    (void)state;
    struct slab *s;
    assert_int_equal(slab_create(&s, NULL), 0);
    size_t m = slab_max_chunk(s);
    assert_int_equal(slab_chunk_size(s, m), m);
    assert_int_equal(slab_chunk_size(s, m + 1), 512 * 1024);
    assert_int_equal(slab_chunk_size(s, 600 * 1024), 640 * 1024);
    assert_int_equal(slab_chunk_size(s, 1000000), 1024 * 1024);
    assert_int_equal(slab_chunk_size(s, 1024 * 1024 + 1), 1152 * 1024);
    slab_destroy(s);
}

static void test_reset_returns_pages_to_any_class(void **state)
{
    (void)state;
    struct slab *s;
    struct slab_totals t;
    assert_int_equal(slab_create(&s, NULL), 0);
    for (int i = 0; i < 30000; i++)
        assert_non_null(slab_alloc(s, 64));
    slab_totals(s, &t);
    size_t pages = t.pages;
    assert_true(pages >= 2);
    slab_reset(s);
    slab_totals(s, &t);
    assert_int_equal(t.used, 0);
    assert_int_equal(t.free_pages, pages);
    /* Another class takes the free pages before asking malloc. */
    for (int i = 0; i < 3000; i++)
        assert_non_null(slab_alloc(s, 400));
    slab_totals(s, &t);
    assert_int_equal(t.pages, pages);
    assert_true(t.free_pages < pages);
    slab_destroy(s);
}

static void test_failing_allocator_returns_null_and_recovers(void **state)
{
    (void)state;
    struct fault_alloc f;
    fault_init(&f);
    struct slab_config c = {.alloc = &f.a};
    struct slab *s = NULL;
    /* Creation: fail each allocation in turn until it succeeds. */
    for (long n = 1;; n++) {
        fault_arm(&f, n, 0);
        int rv = slab_create(&s, &c);
        if (rv == 0)
            break;
        assert_int_equal(rv, ERR_NOMEM);
        assert_int_equal(f.live, 0);
    }
    fault_arm(&f, 1, 1);
    assert_null(slab_alloc(s, 100));          /* needs a page */
    assert_null(slab_alloc(s, 2000000));      /* large */
    struct slab_totals t;
    slab_totals(s, &t);
    assert_int_equal(t.used, 0);
    assert_int_equal(t.pages, 0);
    fault_disarm(&f);
    void *p = slab_alloc(s, 100);
    assert_non_null(p);
    fault_arm(&f, 1, 1);
    /* Chunks of an existing page need no allocation. */
    void *q = slab_alloc(s, 100);
    assert_non_null(q);
    fault_disarm(&f);
    slab_free(s, p, 100);
    slab_free(s, q, 100);
    slab_destroy(s);
    assert_int_equal(f.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes_grow_by_factor_aligned_up_to_half_a_page),
        cmocka_unit_test(test_small_entry_of_98_bytes_fits_the_104_byte_class),
        cmocka_unit_test(test_growth_factor_is_configurable),
        cmocka_unit_test(test_freed_chunk_is_reused_first),
        cmocka_unit_test(test_accounting_counts_pages_chunks_and_large),
        cmocka_unit_test(test_large_sizes_round_to_an_eighth_of_their_power_of_two),
        cmocka_unit_test(test_reset_returns_pages_to_any_class),
        cmocka_unit_test(test_emptied_pages_move_to_the_class_that_needs_them),
        cmocka_unit_test(test_failing_allocator_returns_null_and_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
