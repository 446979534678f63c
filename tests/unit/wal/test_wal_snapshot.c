/* Snapshots (src/wal/wal_snapshot.c): write/read round trips, refusal of
 * any damaged file, compaction of the log behind a snapshot, chunked
 * transfer to a follower with verification before install, Raft §7's rule
 * for the log a snapshot replaces, and the fork helper on real files. */
#include <sys/wait.h>

#include "net/loop.h"
#include "unit/wal/wal_test_util.h"

#define SEG 8192

static size_t rec_len(int i)
{
    return i == 500 ? 300000 : (size_t)(i * 13) % 200;
}

static uint8_t rec_byte(int i, size_t j)
{
    return (uint8_t)(i * 3 + j);
}

static int fill_records(struct wal_snapshot_writer *wr, int n)
{
    static uint8_t buf[300000];
    for (int i = 0; i < n; i++) {
        size_t len = rec_len(i);
        for (size_t j = 0; j < len; j++)
            buf[j] = rec_byte(i, j);
        int rv = wal_snapshot_write(wr, buf, len);
        if (rv != 0)
            return rv;
    }
    return 0;
}

static void check_records(struct wal *w, int n, const char *membership)
{
    struct wal_snapshot_reader *rd;
    assert_int_equal(wal_snapshot_reader_open(w, &rd), 0);
    struct wal_snapshot_meta meta;
    wal_snapshot_reader_meta(rd, &meta);
    assert_int_equal(meta.membership_len, strlen(membership));
    assert_memory_equal(meta.membership, membership, meta.membership_len);
    const void *buf;
    size_t len;
    for (int i = 0; i < n; i++) {
        assert_int_equal(wal_snapshot_read(rd, &buf, &len), 1);
        assert_int_equal(len, rec_len(i));
        for (size_t j = 0; j < len; j++)
            if (((const uint8_t *)buf)[j] != rec_byte(i, j))
                fail_msg("record %d byte %zu differs", i, j);
    }
    assert_int_equal(wal_snapshot_read(rd, &buf, &len), 0);
    wal_snapshot_reader_close(rd);
}

static struct wal *open_mem(struct wal_mem_disk *d, struct acks *a,
                            struct wal_recovered *rec)
{
    struct wal_config c = mem_config(d, SEG, a);
    struct wal *w;
    char err[ERRMSG_LEN];
    int rv = wal_open(&c, &w, rec, err);
    if (rv != 0)
        fail_msg("open: %s", err);
    return w;
}

static void write_snapshot(struct wal *w, uint64_t term, uint64_t index,
                           int n)
{
    struct wal_snapshot_meta meta = {term, index, "n1,n2,n3", 8};
    struct wal_snapshot_writer *wr;
    assert_int_equal(wal_snapshot_writer_open(w, &meta, &wr), 0);
    assert_int_equal(fill_records(wr, n), 0);
    assert_int_equal(wal_snapshot_writer_finish(wr), 0);
}

/* A leader's WAL on dl: entries 1..60 of term 1 and an installed
 * snapshot at (1, index) of n records. */
static struct wal *open_leader(struct wal_mem_disk *dl, struct acks *a,
                               uint64_t index, int n)
{
    struct wal *w = open_mem(dl, a, NULL);
    assert_int_equal(append_range(w, 1, 60, 1), 0);
    settle(w);
    write_snapshot(w, 1, index, n);
    assert_int_equal(wal_snapshot_installed(w, 1, index), 0);
    return w;
}

static void test_snapshot_round_trips_and_compacts_the_log(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal *w = open_mem(d, &a, NULL);
    assert_int_equal(append_range(w, 1, 200, 1), 0);
    settle(w);
    write_snapshot(w, 1, 150, 1000);
    uint64_t term, index;
    assert_int_equal(wal_snapshot_last(w, &term, &index), ERR_NOTFOUND);
    assert_int_equal(wal_snapshot_installed(w, 1, 150), 0);
    assert_int_equal(wal_snapshot_last(w, &term, &index), 0);
    assert_int_equal(term, 1);
    assert_int_equal(index, 150);
    assert_int_equal(wal_first_index(w), 151);
    check_records(w, 1000, "n1,n2,n3");
    wal_close(w);
    wal_mem_crash(d);
    struct wal_recovered rec;
    w = open_mem(d, &a, &rec);
    assert_true(rec.has_snapshot);
    assert_int_equal(rec.snap_index, 150);
    assert_int_equal(rec.snap_term, 1);
    assert_int_equal(rec.first_index, 151);
    assert_int_equal(rec.last_index, 200);
    assert_memory_equal(rec.membership, "n1,n2,n3", 8);
    assert_log(w, 151, 200, 1);
    /* Segments wholly behind the snapshot are gone. */
    assert_int_equal(count_files(d, "log-0000000000000001"), 0);
    check_records(w, 1000, "n1,n2,n3");
    wal_close(w);
    wal_mem_disk_destroy(d);
}

static void test_damaged_snapshot_is_never_loaded(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal *w = open_mem(d, &a, NULL);
    assert_int_equal(append_range(w, 1, 20, 1), 0);
    settle(w);
    write_snapshot(w, 1, 10, 40);
    wal_close(w);
    char name[64];
    snprintf(name, sizeof(name), "snap-%016x-%016x", 10, 1);
    size_t len;
    uint8_t *buf = wal_mem_file(d, name, &len);
    assert_non_null(buf);
    srand(7);
    for (int trial = 0; trial < 300; trial++) {
        size_t off = trial < 100 ? (size_t)trial : (size_t)rand() % len;
        uint8_t bit = (uint8_t)(1u << (rand() % 8));
        buf[off] ^= bit;
        struct wal_recovered rec;
        a.logs = 0;
        w = open_mem(d, &a, &rec);
        assert_false(rec.has_snapshot);
        assert_true(a.logs > 0);
        struct wal_snapshot_reader *rd;
        assert_int_equal(wal_snapshot_reader_open(w, &rd), ERR_NOTFOUND);
        assert_log(w, 1, 20, 1);
        wal_close(w);
        buf[off] ^= bit;
    }
    struct wal_recovered rec;
    w = open_mem(d, &a, &rec);
    assert_true(rec.has_snapshot);
    check_records(w, 40, "n1,n2,n3");
    wal_close(w);
    wal_mem_disk_destroy(d);
}

/* Ships the leader's snapshot to the follower in chunks of `chunk` bytes,
 * flipping one bit of the stream at `damage` (or not, when -1). */
static int ship(struct wal *leader, struct wal *follower, size_t chunk,
                long damage, uint64_t term, uint64_t index)
{
    uint64_t size;
    assert_int_equal(wal_snapshot_file_size(leader, &size), 0);
    struct wal_snapshot_recv *rv;
    assert_int_equal(wal_snapshot_recv_begin(follower, term, index, &rv), 0);
    uint8_t *buf = malloc(chunk);
    for (uint64_t off = 0; off < size;) {
        ssize_t n = wal_snapshot_chunk_read(leader, off, buf, chunk);
        assert_true(n > 0);
        if (damage >= (long)off && damage < (long)off + n)
            buf[damage - (long)off] ^= 0x20;
        assert_int_equal(wal_snapshot_recv_write(rv, off, buf, (size_t)n),
                         0);
        off += (uint64_t)n;
    }
    free(buf);
    return wal_snapshot_recv_finish(rv);
}

static void test_chunked_transfer_installs_a_verified_snapshot(void **state)
{
    struct wal_mem_disk *dl = wal_mem_disk_create();
    struct wal_mem_disk *df = wal_mem_disk_create();
    struct acks al = {0}, af = {0};
    struct wal *leader = open_leader(dl, &al, 50, 600);
    struct wal *follower = open_mem(df, &af, NULL);
    /* The follower's log conflicts from index 30 on (term 2). */
    assert_int_equal(append_range(follower, 1, 29, 1), 0);
    assert_int_equal(append_range(follower, 30, 45, 2), 0);
    settle(follower);
    /* A damaged chunk: refused, nothing installed, no file left over. */
    assert_int_equal(ship(leader, follower, 4096, 5000, 1, 50), ERR_CORRUPT);
    assert_int_equal(wal_last_index(follower), 45);
    assert_int_equal(count_files(df, "snap-"), 0);
    /* Announced term/index must match the file. */
    assert_int_equal(ship(leader, follower, 4096, -1, 2, 50), ERR_CORRUPT);
    assert_int_equal(ship(leader, follower, 1000, -1, 1, 50), 0);
    /* Raft §7: the follower lacked entry 50 of term 1: its log is gone. */
    assert_int_equal(wal_first_index(follower), 51);
    assert_int_equal(wal_last_index(follower), 50);
    assert_int_equal(wal_last_term(follower), 1);
    check_records(follower, 600, "n1,n2,n3");
    assert_int_equal(append_range(follower, 51, 55, 1), 0);
    settle(follower);
    wal_close(follower);
    wal_mem_crash(df);
    struct wal_recovered rec;
    follower = open_mem(df, &af, &rec);
    assert_int_equal(rec.snap_index, 50);
    assert_int_equal(rec.first_index, 51);
    assert_int_equal(rec.last_index, 55);
    assert_log(follower, 51, 55, 1);
    wal_close(follower);
    wal_close(leader);
    wal_mem_disk_destroy(dl);
    wal_mem_disk_destroy(df);
}

static void test_snapshot_keeps_log_suffix_with_matching_entry(void **state)
{
    struct wal_mem_disk *dl = wal_mem_disk_create();
    struct wal_mem_disk *df = wal_mem_disk_create();
    struct acks al = {0}, af = {0};
    struct wal *leader = open_leader(dl, &al, 40, 10);
    struct wal *follower = open_mem(df, &af, NULL);
    assert_int_equal(append_range(follower, 1, 55, 1), 0);
    settle(follower);
    assert_int_equal(ship(leader, follower, 777, -1, 1, 40), 0);
    assert_int_equal(wal_first_index(follower), 41);
    assert_int_equal(wal_last_index(follower), 55);
    assert_log(follower, 41, 55, 1);
    wal_close(follower);
    wal_close(leader);
    wal_mem_disk_destroy(dl);
    wal_mem_disk_destroy(df);
}

/* A crash after the snapshot is renamed into place and before the log it
 * replaces is dropped: start-up applies Raft §7 again. */
static void test_start_up_drops_log_replaced_by_snapshot(void **state)
{
    for (int conflict = 0; conflict < 2; conflict++) {
        struct wal_mem_disk *d = wal_mem_disk_create();
        struct acks a = {0};
        struct wal *w = open_mem(d, &a, NULL);
        assert_int_equal(append_range(w, 1, 20, 1), 0);
        assert_int_equal(append_range(w, 21, 40, conflict ? 2 : 1), 0);
        settle(w);
        write_snapshot(w, 1, 30, 5); /* not adopted: the crash */
        wal_close(w);
        wal_mem_crash(d);
        struct wal_recovered rec;
        w = open_mem(d, &a, &rec);
        assert_int_equal(rec.snap_index, 30);
        assert_int_equal(rec.first_index, 31);
        if (conflict) {
            assert_int_equal(rec.last_index, 30);
            assert_int_equal(rec.last_term, 1);
        } else {
            assert_int_equal(rec.last_index, 40);
            assert_log(w, 31, 40, 1);
        }
        wal_close(w);
        wal_mem_disk_destroy(d);
    }
}

/* ---- the fork helper, on real files ---- */

static uint8_t cow_state[4096];

struct fork_result {
    int done;
    int status;
};

static int fill_from_state(struct wal_snapshot_writer *wr, void *data)
{
    return wal_snapshot_write(wr, cow_state, sizeof(cow_state));
}

static void on_done(struct wal *w, int status,
                    const struct wal_snapshot_meta *meta, void *data)
{
    struct fork_result *r = data;
    r->done = 1;
    r->status = status;
}

/* Opens a WAL of backend io in a new directory made from the mkdtemp
 * template dir, driven by loop, and makes 1..n durable. */
static struct wal *open_on_dir(char *dir, struct loop *loop,
                               enum wal_io_kind io, struct acks *a,
                               struct wal_config *c, uint64_t n)
{
    assert_non_null(mkdtemp(dir));
    *c = mem_config(NULL, 16384, a);
    c->io = io;
    c->dir = dir;
    c->loop = loop;
    struct wal *w;
    assert_int_equal(wal_open(c, &w, NULL, NULL), 0);
    assert_int_equal(append_range(w, 1, n, 1), 0);
    settle(w);
    return w;
}

/* Runs the loop until the snapshot child has been reaped (bounded). */
static void wait_fork(struct loop *loop, struct fork_result *r)
{
    for (int i = 0; i < 2000 && !r->done; i++)
        loop_run_once(loop);
    assert_true(r->done);
}

static int fill_fails(struct wal_snapshot_writer *wr, void *data)
{
    wal_snapshot_write(wr, "partial", 7);
    return ERR_IO;
}

static void test_failed_snapshot_child_leaves_log_and_directory_alone(
    void **state)
{
    char dir[] = "/tmp/raftcache-wal-snapfail-XXXXXX";
    struct loop *loop = loop_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_on_dir(dir, loop, WAL_IO_AUTO, &a, &c, 100);
    struct wal_snapshot_meta meta = {1, 80, "m", 1};
    struct fork_result r = {0};
    assert_true(wal_snapshot_fork(w, &meta, fill_fails, on_done, &r) > 0);
    assert_int_equal(wal_snapshot_fork(w, &meta, fill_fails, on_done, &r),
                     ERR_BUSY);
    wait_fork(loop, &r);
    assert_true(r.status < 0);
    assert_int_equal(wal_first_index(w), 1);
    struct wal_snapshot_reader *rd;
    assert_int_equal(wal_snapshot_reader_open(w, &rd), ERR_NOTFOUND);
    wal_close(w);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls %s | grep -v -e LOCK -e meta "
             "-e '^log-')\"", dir);
    assert_int_equal(system(cmd), 0); /* no snapshot, no temp file */
    loop_destroy(loop);
    rm_rf(dir);
}

static void test_forked_child_writes_snapshot_and_parent_compacts(
    void **state)
{
    char dir[] = "/tmp/raftcache-wal-snap-XXXXXX";
    struct loop *loop = loop_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_on_dir(dir, loop, WAL_IO_SYNC, &a, &c, 400);
    memset(cow_state, 'A', sizeof(cow_state));
    struct wal_snapshot_meta meta = {1, 350, "m", 1};
    struct fork_result r = {0};
    pid_t pid = wal_snapshot_fork(w, &meta, fill_from_state, on_done, &r);
    assert_true(pid > 0);
    assert_true(wal_snapshot_in_progress(w));
    /* The parent goes on changing its memory: the child saw a copy. */
    memset(cow_state, 'B', sizeof(cow_state));
    wait_fork(loop, &r);
    assert_int_equal(r.status, 0);
    assert_false(wal_snapshot_in_progress(w));
    assert_int_equal(wal_first_index(w), 351);
    struct wal_snapshot_reader *rd;
    assert_int_equal(wal_snapshot_reader_open(w, &rd), 0);
    const void *buf;
    size_t len;
    assert_int_equal(wal_snapshot_read(rd, &buf, &len), 1);
    assert_int_equal(len, sizeof(cow_state));
    assert_int_equal(((const uint8_t *)buf)[0], 'A');
    wal_snapshot_reader_close(rd);
    wal_close(w);
    struct wal_recovered rec;
    assert_int_equal(wal_open(&c, &w, &rec, NULL), 0);
    assert_int_equal(rec.snap_index, 350);
    assert_log(w, 351, 400, 1);
    wal_close(w);
    loop_destroy(loop);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_round_trips_and_compacts_the_log),
        cmocka_unit_test(test_damaged_snapshot_is_never_loaded),
        cmocka_unit_test(test_chunked_transfer_installs_a_verified_snapshot),
        cmocka_unit_test(
            test_snapshot_keeps_log_suffix_with_matching_entry),
        cmocka_unit_test(test_start_up_drops_log_replaced_by_snapshot),
        cmocka_unit_test(
            test_forked_child_writes_snapshot_and_parent_compacts),
        cmocka_unit_test(
            test_failed_snapshot_child_leaves_log_and_directory_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
