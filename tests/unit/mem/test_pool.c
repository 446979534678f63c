/* Unit tests for mem/pool.c: standard buffers recycled through a bounded
 * free list, large buffers on demand, growth keeping bytes, accounting,
 * and a failing allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "fault_alloc.h"
#include "mem/pool.h"

static void test_standard_buffer_is_recycled(void **state)
{
    (void)state;
    struct pool *p;
    struct pool_stats s;
    size_t cap;
    assert_int_equal(pool_create(&p, NULL), 0);
    void *a = pool_get(p, 0, &cap);
    assert_non_null(a);
    assert_int_equal(cap, POOL_DEFAULT_BUF_SIZE);
    pool_put(p, a, cap);
    void *b = pool_get(p, 100, &cap);
    assert_ptr_equal(a, b);
    pool_stats(p, &s);
    assert_int_equal(s.allocs, 1);
    assert_int_equal(s.reuses, 1);
    assert_int_equal(s.in_use, POOL_DEFAULT_BUF_SIZE);
    pool_put(p, b, cap);
    pool_destroy(p);
}

static void test_free_list_is_bounded(void **state)
{
    (void)state;
    struct pool_config c = {.buf_size = 1024, .max_free = 4};
    struct pool *p;
    struct pool_stats s;
    void *v[10];
    size_t cap[10];
    assert_int_equal(pool_create(&p, &c), 0);
    for (int i = 0; i < 10; i++)
        v[i] = pool_get(p, 1, &cap[i]);
    pool_stats(p, &s);
    assert_int_equal(s.buffers_in_use, 10);
    assert_int_equal(s.held, 10 * 1024);
    for (int i = 0; i < 10; i++)
        pool_put(p, v[i], cap[i]);
    pool_stats(p, &s);
    assert_int_equal(s.free_buffers, 4);
    assert_int_equal(s.in_use, 0);
    assert_int_equal(s.held, 4 * 1024);
    pool_trim(p, 1);
    pool_stats(p, &s);
    assert_int_equal(s.free_buffers, 1);
    pool_destroy(p);
}

static void test_large_buffer_grows_and_keeps_bytes(void **state)
{
    (void)state;
    struct pool_config c = {.buf_size = 1024};
    struct pool *p;
    struct pool_stats s;
    size_t cap;
    assert_int_equal(pool_create(&p, &c), 0);
    char *b = pool_get(p, 10, &cap);
    memcpy(b, "hello", 5);
    b = pool_grow(p, b, &cap, 5, 5000);
    assert_non_null(b);
    assert_true(cap >= 5000);
    assert_memory_equal(b, "hello", 5);
    pool_stats(p, &s);
    assert_int_equal(s.large_in_use, 1);
    assert_int_equal(s.in_use, cap);
    assert_int_equal(s.free_buffers, 1); /* the old standard buffer */
    pool_put(p, b, cap);
    pool_stats(p, &s);
    assert_int_equal(s.in_use, 0);
    assert_int_equal(s.large_in_use, 0);
    pool_destroy(p);
}

static void test_failing_allocator_leaves_buffer_valid(void **state)
{
    (void)state;
    struct fault_alloc f;
    fault_init(&f);
    struct pool_config c = {.buf_size = 256, .alloc = &f.a};
    struct pool *p;
    size_t cap;
    fault_arm(&f, 1, 0);
    assert_int_equal(pool_create(&p, &c), ERR_NOMEM);
    fault_disarm(&f);
    assert_int_equal(pool_create(&p, &c), 0);
    char *b = pool_get(p, 1, &cap);
    memcpy(b, "abc", 3);
    fault_arm(&f, 1, 1);
    assert_null(pool_grow(p, b, &cap, 3, 10000));
    assert_int_equal(cap, 256);
    assert_memory_equal(b, "abc", 3);
    assert_null(pool_get(p, 10000, &cap));
    fault_disarm(&f);
    pool_put(p, b, 256);
    pool_destroy(p);
    assert_int_equal(f.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_buffer_is_recycled),
        cmocka_unit_test(test_free_list_is_bounded),
        cmocka_unit_test(test_large_buffer_grows_and_keeps_bytes),
        cmocka_unit_test(test_failing_allocator_leaves_buffer_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
