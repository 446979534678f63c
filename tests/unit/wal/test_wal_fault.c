/* The fault-injecting backend (src/wal/wal_mem.c) driving the real WAL:
 * failed, torn and lasting-failed writes, failed fsyncs, crashes that lose
 * unsynced data, and power losses that keep a random part of it. After every fault the WAL stops, and after the crash
 * recovery returns every acknowledged entry intact and nothing corrupt.
 * N is raised until the workload completes (sqlite's fault loops). */
#include "unit/wal/wal_test_util.h"

#define SEG 8192

/* Appends up to `total` entries after what the disk holds, in random
 * batches, polling at random; stops at the first failure. Returns the
 * highest acknowledged index. */
static uint64_t run_workload(struct wal_mem_disk *d, unsigned seed,
                             uint64_t total, int *failed)
{
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    uint64_t next = wal_last_index(w) + 1, end = next + total;
    a.durable = next - 1;
    srand(seed);
    while (next < end && a.status == 0) {
        uint64_t n = 1 + (uint64_t)rand() % 12;
        if (next + n > end)
            n = end - next;
        if (append_range(w, next, next + n - 1, 1) != 0)
            break;
        next += n;
        if (rand() % 3 == 0)
            settle(w);
        else
            wal_poll(w);
    }
    settle(w);
    *failed = a.status != 0;
    uint64_t acked = a.durable;
    wal_close(w);
    return acked;
}

static int recovery_lines; /* log lines recovery wrote (torn tails cut) */

/* After a crash: the log is 1..last with last >= acked, every entry intact,
 * and appending works again. Returns last. */
static uint64_t verify(struct wal_mem_disk *d, uint64_t acked)
{
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    char err[ERRMSG_LEN];
    int rv = wal_open(&c, &w, NULL, err);
    if (rv != 0)
        fail_msg("recovery failed: %s", err);
    uint64_t last = wal_last_index(w);
    assert_true(last >= acked);
    assert_log(w, 1, last, 1);
    wal_close(w);
    recovery_lines += a.logs;
    return last;
}

static void test_failed_write_stops_the_wal_and_reports_once(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_with_durable(d, SEG, &a, &c, 5);
    wal_mem_fail_write(d, 1, 0);
    assert_int_equal(append_range(w, 6, 9, 1), 0);
    settle(w);
    assert_int_equal(a.status, ERR_IO);
    assert_int_equal(a.durable, 5);
    int calls = a.calls;
    assert_int_equal(append_range(w, 10, 10, 1), ERR_IO);
    assert_int_equal(wal_flush(w), ERR_IO);
    settle(w);
    assert_int_equal(a.calls, calls);
    wal_close(w);
    wal_mem_crash(d);
    assert_int_equal(verify(d, 5), 5);
    wal_mem_disk_destroy(d);
}

static void test_failed_fsync_stops_the_wal_before_acknowledging(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_with_durable(d, SEG, &a, &c, 5);
    wal_mem_fail_sync(d, 1);
    assert_int_equal(append_range(w, 6, 9, 1), 0);
    settle(w);
    assert_int_equal(a.status, ERR_IO);
    assert_int_equal(a.durable, 5);
    wal_close(w);
    wal_mem_crash(d);
    verify(d, 5);
    wal_mem_disk_destroy(d);
}

static void test_crash_keeps_every_acknowledged_entry_over_many_cycles(
    void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    uint64_t acked = 0;
    for (unsigned cycle = 0; cycle < 60; cycle++) {
        int failed;
        uint64_t got = run_workload(d, cycle, 1 + cycle % 17, &failed);
        assert_false(failed);
        assert_true(got >= acked);
        acked = got;
        wal_mem_crash(d);
        acked = verify(d, acked);
    }
    assert_true(acked > 100);
    wal_mem_disk_destroy(d);
}

static void test_torn_nth_write_then_crash_keeps_acknowledged_prefix(
    void **state)
{
    int tears = 0;
    for (uint64_t n = 1; n <= 40; n++) {
        struct wal_mem_disk *d = wal_mem_disk_create();
        int failed;
        uint64_t acked = run_workload(d, 7, 10, &failed);
        assert_false(failed);
        wal_mem_tear_write(d, n, (size_t)(n * 37) % 600);
        uint64_t got = run_workload(d, (unsigned)n, 200, &failed);
        tears += failed;
        wal_mem_crash(d);
        assert_true(got >= acked);
        uint64_t last = verify(d, got);
        /* The run with no tear reached the end: N is past the workload. */
        if (!failed)
            assert_int_equal(last, 210);
        /* And the log takes appends again after the repair. */
        run_workload(d, 99, 20, &failed);
        assert_false(failed);
        wal_mem_crash(d);
        verify(d, last + 20);
        wal_mem_disk_destroy(d);
    }
    assert_true(tears >= 20);
}

static void test_lasting_write_failures_from_nth_write(void **state)
{
    int completed = 0;
    for (uint64_t n = 1; n <= 200 && !completed; n++) {
        struct wal_mem_disk *d = wal_mem_disk_create();
        wal_mem_fail_write(d, n, 1);
        int failed;
        uint64_t acked = run_workload(d, 3, 150, &failed);
        completed = !failed;
        wal_mem_crash(d);
        uint64_t last = verify(d, acked);
        if (completed)
            assert_int_equal(last, 150);
        wal_mem_disk_destroy(d);
    }
    assert_true(completed);
}

/* A node whose log failed asks wal_probe until the disk takes writes
 * again, then reopens the WAL in place (no crash): the probe reports the
 * disk's error meanwhile, leaves no file behind, and the reopened log
 * holds every acknowledged entry and takes appends. */
static void test_probe_reports_the_disk_until_it_takes_writes_again(
    void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_with_durable(d, SEG, &a, &c, 5);
    assert_int_equal(wal_probe(w), 0);
    wal_mem_fail_write(d, 1, 1);
    assert_int_equal(append_range(w, 6, 9, 1), 0);
    settle(w);
    assert_int_equal(a.status, ERR_IO);
    assert_int_equal(wal_probe(w), ERR_IO);
    assert_int_equal(wal_probe(w), ERR_IO);
    wal_mem_fail_write(d, 0, 0); /* the disk is mended */
    wal_inject_probe(w, ERR_NOSPACE);
    assert_int_equal(wal_probe(w), ERR_NOSPACE);
    wal_inject_probe(w, 0);
    assert_int_equal(wal_probe(w), 0);
    char names[4096];
    wal_mem_list(d, names, sizeof(names));
    assert_null(strstr(names, "probe"));
    wal_close(w);
    struct acks b = {0};
    c = mem_config(d, SEG, &b);
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    assert_true(wal_last_index(w) >= 5);
    assert_log(w, 1, wal_last_index(w), 1);
    uint64_t next = wal_last_index(w) + 1;
    assert_int_equal(append_range(w, next, next + 3, 1), 0);
    settle(w);
    assert_int_equal(b.status, 0);
    assert_int_equal(b.durable, next + 3);
    wal_close(w);
    wal_mem_disk_destroy(d);
}

static void test_crash_before_deferred_fsync_loses_only_unacked(
    void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    wal_mem_defer_sync(d, 1);
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_with_durable(d, SEG, &a, &c, 5);
    assert_int_equal(a.durable, 5);
    assert_int_equal(append_range(w, 6, 10, 1), 0);
    assert_int_equal(wal_flush(w), 0); /* written, fsync not yet done */
    wal_mem_crash(d);
    wal_close(w);
    assert_int_equal(a.durable, 5);
    assert_int_equal(verify(d, 5), 5);
    wal_mem_disk_destroy(d);
}

/* A write whose fsync never completed (the process was killed before it,
 * or it failed) sits in the page cache; the next start-up reads it back
 * and the core counts it as durable from then on, so recovery makes it
 * durable: a power cut after that start-up loses none of it. */
static void test_recovery_makes_what_it_read_back_durable(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_with_durable(d, SEG, &a, &c, 5);
    wal_mem_fail_sync(d, 1); /* the write lands, its fsync never does */
    assert_int_equal(append_range(w, 6, 10, 1), 0);
    settle(w);
    assert_int_equal(a.durable, 5);
    wal_close(w);                      /* the process dies; the OS lives */
    assert_int_equal(verify(d, 5), 10); /* read back from the page cache */
    wal_mem_crash(d);                   /* then the power goes */
    assert_int_equal(verify(d, 10), 10);
    wal_mem_disk_destroy(d);
}

/* Random workloads on a slow disk, cut by power losses that keep a random
 * part of the unsynced bytes: what was acknowledged is always there and
 * whatever else survived is whole. */
static void test_torn_power_loss_at_random_moments(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    wal_mem_defer_sync(d, 1);
    uint64_t acked = 0;
    unsigned seed = 4242;
    recovery_lines = 0;
    for (int round = 0; round < 300; round++) {
        struct acks a = {0};
        struct wal_config c = mem_config(d, SEG, &a);
        struct wal *w;
        assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
        uint64_t next = wal_last_index(w) + 1;
        a.durable = next - 1;
        int steps = 1 + rand_r(&seed) % 10;
        for (int i = 0; i < steps; i++) {
            uint64_t n = 1 + rand_r(&seed) % 8;
            assert_int_equal(append_range(w, next, next + n - 1, 1), 0);
            next += n;
            wal_flush(w);
            if (rand_r(&seed) % 2)
                wal_poll(w);
        }
        wal_mem_crash_torn(d, rand_r(&seed));
        wal_close(w);
        if (a.durable > acked)
            acked = a.durable;
        acked = verify(d, acked);
    }
    assert_true(recovery_lines > 20); /* torn tails were met and cut */
    assert_true(acked > 300);
    wal_mem_disk_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_write_stops_the_wal_and_reports_once),
        cmocka_unit_test(
            test_failed_fsync_stops_the_wal_before_acknowledging),
        cmocka_unit_test(
            test_crash_keeps_every_acknowledged_entry_over_many_cycles),
        cmocka_unit_test(
            test_torn_nth_write_then_crash_keeps_acknowledged_prefix),
        cmocka_unit_test(test_lasting_write_failures_from_nth_write),
        cmocka_unit_test(
            test_crash_before_deferred_fsync_loses_only_unacked),
        cmocka_unit_test(test_torn_power_loss_at_random_moments),
        cmocka_unit_test(test_recovery_makes_what_it_read_back_durable),
        cmocka_unit_test(
            test_probe_reports_the_disk_until_it_takes_writes_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
