/* Allocation failures (wal_set_allocator): the Nth allocation fails, for
 * N = 1, 2, ... until the whole scenario (open, appends across segments,
 * truncation, snapshot, reopen) runs through. Every failure must come back
 * as ERR_NOMEM, leak nothing (run under ASan), and leave a disk that
 * recovers to a consistent log. */
#include "unit/wal/wal_test_util.h"

#define SEG 4096

static uint64_t nallocs, fail_at;

static int should_fail(void)
{
    return ++nallocs == fail_at;
}

static void *t_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

static void *t_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n, size);
}

static void *t_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n);
}

static const struct wal_allocator failing = {t_malloc, t_calloc, t_realloc,
                                             free};

/* Returns 0 when it ran through, else the first error. */
static int scenario(struct wal_mem_disk *d)
{
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    int rv = wal_open(&c, &w, NULL, NULL);
    if (rv != 0)
        return rv;
    for (uint64_t i = 1; rv == 0 && i <= 80; i += 10) {
        rv = append_range(w, i, i + 9, 1);
        settle(w);
    }
    if (rv == 0)
        rv = a.status;
    if (rv == 0)
        rv = wal_truncate(w, 60);
    if (rv == 0)
        rv = append_range(w, 60, 70, 2);
    settle(w);
    struct wal_snapshot_writer *wr = NULL;
    struct wal_snapshot_meta meta = {1, 50, "x", 1};
    if (rv == 0)
        rv = wal_snapshot_writer_open(w, &meta, &wr);
    if (rv == 0)
        rv = wal_snapshot_write(wr, "state", 5);
    if (wr)
        rv = rv == 0 ? wal_snapshot_writer_finish(wr)
                     : (wal_snapshot_writer_abort(wr), rv);
    if (rv == 0)
        rv = wal_snapshot_installed(w, 1, 50);
    wal_close(w);
    if (rv == 0)
        rv = wal_open(&c, &w, NULL, NULL);
    if (rv == 0)
        wal_close(w);
    return rv;
}

static int any_entry_cb(void *data, const struct wal_entry *e)
{
    struct replay_check *r = data;
    if (e->index != r->next || !entry_ok(e))
        r->bad++;
    r->next = e->index + 1;
    r->count++;
    return 0;
}

static void test_every_allocation_failure_is_reported_and_recoverable(
    void **state)
{
    int completed = 0;
    uint64_t n;
    for (n = 1; n < 5000 && !completed; n++) {
        struct wal_mem_disk *d = wal_mem_disk_create();
        nallocs = 0;
        fail_at = n;
        wal_set_allocator(&failing);
        int rv = scenario(d);
        wal_set_allocator(NULL);
        completed = rv == 0 && nallocs < n;
        if (rv != 0)
            assert_int_equal(rv, ERR_NOMEM);
        wal_mem_crash(d);
        struct acks a = {0};
        struct wal_config c = mem_config(d, SEG, &a);
        struct wal *w;
        char err[ERRMSG_LEN];
        if (wal_open(&c, &w, NULL, err) != 0)
            fail_msg("N=%llu: recovery failed: %s", (unsigned long long)n,
                     err);
        struct replay_check r = {wal_first_index(w), 0, 0, 0, 0, 0};
        assert_int_equal(wal_replay(w, 1, any_entry_cb, &r), 0);
        assert_int_equal(r.bad, 0);
        assert_int_equal(r.next, wal_last_index(w) + 1);
        wal_close(w);
        wal_mem_disk_destroy(d);
    }
    assert_true(completed);
    assert_true(n > 20); /* the scenario does allocate */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_every_allocation_failure_is_reported_and_recoverable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
