/* Unit tests for mem/arena.c: bump allocation in chunks, a chunk reused
 * once its buffers are released, the bounded cache of empty chunks, large
 * buffers in mappings of their own, a destroy that waits for the last
 * buffer, chunks left out of a forked child, and the next chunk prepared
 * by the prefault thread, in huge pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mem/arena.h"

#define CHUNK (64 * 1024)

static struct arena *new_arena(size_t max_cached)
{
    struct arena_config c = {.chunk_size = CHUNK, .max_cached = max_cached,
                             .dontfork = 1};
    struct arena *a = arena_create(&c);
    assert_non_null(a);
    return a;
}

static void test_buffers_are_aligned_and_hold_their_bytes(void **state)
{
    (void)state;
    struct arena *a = new_arena(0);
    uint8_t *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = arena_alloc(a, (size_t)i + 1);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        memset(p[i], i, (size_t)i + 1);
    }
    for (int i = 0; i < 100; i++)
        for (int j = 0; j <= i; j++)
            assert_int_equal(p[i][j], i);
    struct arena_stats st;
    arena_stats(a, &st);
    assert_int_equal(st.live, 100);
    assert_int_equal(st.maps, 1); /* all in the first chunk */
    for (int i = 0; i < 100; i++)
        arena_release(p[i]);
    arena_stats(a, &st);
    assert_int_equal(st.live, 0);
    arena_destroy(a);
}

static void test_current_chunk_starts_over_when_emptied(void **state)
{
    (void)state;
    struct arena *a = new_arena(0);
    void *x = arena_alloc(a, 1000);
    arena_release(x);
    void *y = arena_alloc(a, 1000);
    assert_ptr_equal(x, y);
    arena_release(y);
    arena_destroy(a);
}

/* Fills chunks in FIFO order and releases them oldest first, as a
 * snapshot releases the log: the second cycle maps nothing new. */
static void test_released_chunks_are_reused_by_the_next_cycle(void **state)
{
    (void)state;
    struct arena *a = new_arena(16 * CHUNK);
    enum { N = 200, LEN = 4000 };
    void *p[N];
    struct arena_stats st;
    for (int cycle = 0; cycle < 3; cycle++) {
        for (int i = 0; i < N; i++)
            assert_non_null(p[i] = arena_alloc(a, LEN));
        for (int i = 0; i < N; i++)
            arena_release(p[i]);
        arena_stats(a, &st);
        if (cycle == 0)
            assert_true(st.maps > 10);
    }
    unsigned long long after_first = st.maps;
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = arena_alloc(a, LEN));
    arena_stats(a, &st);
    assert_int_equal(st.maps, after_first);
    for (int i = 0; i < N; i++)
        arena_release(p[i]);
    arena_destroy(a);
}

static void test_cache_of_empty_chunks_is_bounded(void **state)
{
    (void)state;
    struct arena *a = new_arena(2 * CHUNK);
    enum { N = 100, LEN = 4000 };
    void *p[N];
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = arena_alloc(a, LEN));
    for (int i = 0; i < N; i++)
        arena_release(p[i]);
    struct arena_stats st;
    arena_stats(a, &st);
    assert_true(st.cached <= 2 * CHUNK);
    /* the current chunk and at most two cached ones stay mapped */
    assert_true(st.mapped <= 3 * CHUNK);
    arena_destroy(a);
}

static void test_large_buffer_gets_its_own_mapping(void **state)
{
    (void)state;
    struct arena *a = new_arena(8 * CHUNK);
    struct arena_stats st;
    uint8_t *big = arena_alloc(a, 5 * CHUNK);
    assert_non_null(big);
    memset(big, 7, 5 * CHUNK);
    arena_stats(a, &st);
    assert_true(st.mapped >= 5 * CHUNK);
    arena_release(big);
    arena_stats(a, &st);
    assert_int_equal(st.mapped, 0); /* never cached */
    assert_int_equal(st.cached, 0);
    arena_destroy(a);
}

static void test_destroy_waits_for_the_last_buffer(void **state)
{
    (void)state;
    struct arena *a = new_arena(4 * CHUNK);
    uint8_t *x = arena_alloc(a, 100);
    uint8_t *y = arena_alloc(a, 3 * CHUNK);
    arena_destroy(a);
    memset(x, 1, 100); /* still mapped */
    memset(y, 2, 3 * CHUNK);
    arena_release(y);
    arena_release(x); /* frees the arena (LeakSanitizer checks it) */
}

/* Whether the page holding p is mapped (msync fails with ENOMEM if not). */
static int page_mapped(const void *p)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    void *start = (void *)((uintptr_t)p & ~(page - 1));
    return msync(start, page, MS_ASYNC) == 0 ? 1 : errno == ENOMEM ? 0 : -1;
}

/* The snapshot child never sees the log: the chunk is not mapped in the
 * child, while the parent keeps it. */
static void test_child_of_fork_does_not_inherit_chunks(void **state)
{
    (void)state;
    struct arena *a = new_arena(0);
    uint8_t *x = arena_alloc(a, 64);
    x[0] = 42;
    assert_int_equal(page_mapped(x), 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(page_mapped(x) == 0 ? 0 : 1);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_int_equal(x[0], 42);
    arena_release(x);
    arena_destroy(a);
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>

/* Under AddressSanitizer (make test-asan) the bytes past a buffer, its
 * tag and a released buffer are poisoned, as malloc's would be. */
static void test_asan_sees_past_a_buffer_and_after_its_release(void **state)
{
    (void)state;
    struct arena *a = new_arena(4 * CHUNK);
    uint8_t *x = arena_alloc(a, 100);
    uint8_t *y = arena_alloc(a, 100);
    assert_false(__asan_address_is_poisoned(x));
    assert_false(__asan_address_is_poisoned(x + 99));
    assert_true(__asan_address_is_poisoned(x + 100));
    assert_true(__asan_address_is_poisoned(y - 1)); /* y's tag */
    arena_release(x);
    assert_true(__asan_address_is_poisoned(x));
    assert_false(__asan_address_is_poisoned(y));
    arena_release(y);
    arena_destroy(a);
}
#endif

#define HUGE_PAGE ((uintptr_t)2 << 20)

/* The first buffer sits right after its chunk's header and tag. */
static uintptr_t chunk_of(const void *first_buffer)
{
    return ((uintptr_t)first_buffer - 1) & ~(HUGE_PAGE - 1);
}

static void wait_for_spare(struct arena *a, size_t mapped)
{
    struct arena_stats st;
    for (int i = 0; i < 5000; i++) { /* at most 5 s */
        arena_stats(a, &st);
        if (st.mapped >= mapped)
            return;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    fail_msg("the prefault thread prepared no chunk");
}

/* Fills chunks one after the other, as the log does: from the second on,
 * each comes ready from the prefault thread, holds its bytes, and counts
 * as mapped from the moment it is ready. */
static void test_prefault_thread_prepares_the_next_chunk(void **state)
{
    (void)state;
    struct arena_config c = {.chunk_size = CHUNK, .dontfork = 1,
                             .prefault = 1};
    struct arena *a = arena_create(&c);
    assert_non_null(a);
    enum { PER_CHUNK = 15, LEN = 4200, CHUNKS = 6 }; /* 15 fill a chunk */
    uint8_t *p[CHUNKS * PER_CHUNK];
    struct arena_stats st;
    for (int k = 0; k < CHUNKS; k++) {
        for (int i = 0; i < PER_CHUNK; i++) {
            uint8_t *b = p[k * PER_CHUNK + i] = arena_alloc(a, LEN);
            assert_non_null(b);
            memset(b, k * PER_CHUNK + i, LEN);
        }
        wait_for_spare(a, (size_t)(k + 2) * CHUNK);
    }
    arena_stats(a, &st);
    assert_int_equal(st.maps, CHUNKS);
    assert_int_equal(st.prefaulted, CHUNKS - 1);
    assert_int_equal(st.mapped, (CHUNKS + 1) * CHUNK); /* with the spare */
    for (int i = 0; i < CHUNKS * PER_CHUNK; i++) {
        assert_int_equal(p[i][0], (uint8_t)i);
        assert_int_equal(p[i][LEN - 1], (uint8_t)i);
        arena_release(p[i]);
    }
    arena_destroy(a); /* joins the thread and unmaps the spare */
}

/* The prefault thread's chunks are huge pages: aligned to one. (Linux
 * 6.7 and later align anonymous mappings of 2 MiB and more themselves;
 * there this checks the result only.) */
static void test_prefaulted_chunks_are_aligned_to_a_huge_page(void **state)
{
    (void)state;
    struct arena_config c = {.chunk_size = 2 * HUGE_PAGE, .prefault = 1};
    struct arena *a = arena_create(&c);
    assert_non_null(a);
    enum { LEN = (1 << 20) - 32 }; /* four fill the first chunk */
    void *p[5];
    for (int i = 0; i < 4; i++)
        assert_non_null(p[i] = arena_alloc(a, LEN));
    wait_for_spare(a, 4 * HUGE_PAGE);
    assert_non_null(p[4] = arena_alloc(a, LEN));
    struct arena_stats st;
    arena_stats(a, &st);
    assert_int_equal(st.prefaulted, 1);
    assert_true((uintptr_t)p[4] - chunk_of(p[4]) < 256);
    memset(p[4], 0xab, LEN);
    for (int i = 0; i < 5; i++)
        arena_release(p[i]);
    arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buffers_are_aligned_and_hold_their_bytes),
        cmocka_unit_test(test_current_chunk_starts_over_when_emptied),
        cmocka_unit_test(test_released_chunks_are_reused_by_the_next_cycle),
        cmocka_unit_test(test_cache_of_empty_chunks_is_bounded),
        cmocka_unit_test(test_large_buffer_gets_its_own_mapping),
        cmocka_unit_test(test_destroy_waits_for_the_last_buffer),
        cmocka_unit_test(test_child_of_fork_does_not_inherit_chunks),
        cmocka_unit_test(test_prefault_thread_prepares_the_next_chunk),
        cmocka_unit_test(test_prefaulted_chunks_are_aligned_to_a_huge_page),
#if defined(__SANITIZE_ADDRESS__)
        cmocka_unit_test(test_asan_sees_past_a_buffer_and_after_its_release),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
