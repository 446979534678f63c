/* The real-file backends (src/wal/wal_uring.c, src/wal/wal_sync.c): both
 * produce byte-identical directories for the same operations; io_uring
 * completions arrive through the loop's eventfd watcher; group commit puts
 * one loop iteration's appends into one write, and appends made while a
 * write is in flight into the next one; raft-fsync off skips fdatasync. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "net/loop.h"
#include "unit/wal/wal_test_util.h"

#define SEG 65536

static int inline_sync; /* wal-sync-thread no for WAL_IO_SYNC */

/* io_uring where the kernel (or a container's seccomp policy) allows it;
 * elsewhere these tests run on the sync backend and say so. */
static enum wal_io_kind uring(void)
{
    static int said;
    if (wal_uring_available())
        return WAL_IO_URING;
    if (!said++)
        print_message("io_uring unavailable: testing the sync backend\n");
    return WAL_IO_SYNC;
}

static struct wal *open_real(const char *dir, enum wal_io_kind io,
                             struct loop *loop, struct acks *a)
{
    struct wal_config c = mem_config(NULL, SEG, a);
    c.io = io;
    c.sync_inline = inline_sync;
    c.dir = dir;
    c.loop = loop;
    struct wal *w;
    char err[ERRMSG_LEN];
    int rv = wal_open(&c, &w, NULL, err);
    if (rv != 0)
        fail_msg("open %s: %s", dir, err);
    return w;
}

static void run_ops(const char *dir, enum wal_io_kind io)
{
    struct acks a = {0};
    struct wal *w = open_real(dir, io, NULL, &a);
    assert_string_equal(wal_backend_name(w),
                        io == WAL_IO_URING ? "uring" : "sync");
    assert_true(io != WAL_IO_URING || wal_uring_available());
    for (uint64_t i = 1; i <= 500; i += 10) {
        assert_int_equal(append_range(w, i, i + 9, 1), 0);
        settle(w);
    }
    assert_int_equal(a.durable, 500);
    assert_int_equal(wal_truncate(w, 300), 0);
    assert_int_equal(append_range(w, 300, 320, 2), 0);
    settle(w);
    assert_int_equal(a.durable, 320);
    struct wal_hard_state hs = {2, 1, 1};
    assert_int_equal(wal_save_hard_state(w, &hs), 0);
    wal_close(w);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*len + 1);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

/* Asserts that two directories hold the same files with the same bytes. */
static void assert_same_dirs(const char *d1, const char *d2)
{
    DIR *dir = opendir(d1);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p1[512], p2[512];
        snprintf(p1, sizeof(p1), "%s/%s", d1, de->d_name);
        snprintf(p2, sizeof(p2), "%s/%s", d2, de->d_name);
        size_t l1, l2;
        uint8_t *b1 = slurp(p1, &l1), *b2 = slurp(p2, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(b1, b2, l1);
        free(b1);
        free(b2);
        files++;
    }
    closedir(dir);
    assert_true(files >= 3); /* LOCK, meta, segments */
}

static void test_uring_and_sync_backends_write_identical_files(void **state)
{
    char d1[] = "/tmp/raftcache-wal-uring-XXXXXX";
    char d2[] = "/tmp/raftcache-wal-sync-XXXXXX";
    char d3[] = "/tmp/raftcache-wal-inline-XXXXXX";
    assert_non_null(mkdtemp(d1));
    assert_non_null(mkdtemp(d2));
    assert_non_null(mkdtemp(d3));
    run_ops(d1, uring());
    run_ops(d2, WAL_IO_SYNC);
    inline_sync = 1;
    run_ops(d3, WAL_IO_SYNC);
    inline_sync = 0;
    assert_same_dirs(d1, d2);
    assert_same_dirs(d1, d3);
    rm_rf(d1);
    rm_rf(d2);
    rm_rf(d3);
}

static void run_until_durable(struct loop *loop, struct wal *w,
                              struct acks *a, uint64_t index)
{
    for (int i = 0; i < 5000 && a->durable < index && a->status == 0; i++)
        loop_run_once(loop);
    assert_int_equal(a->status, 0);
    assert_int_equal(a->durable, index);
}

static void test_one_iteration_of_appends_is_one_write_and_one_fsync(
    void **state)
{
    char d[] = "/tmp/raftcache-wal-group-XXXXXX";
    assert_non_null(mkdtemp(d));
    struct loop *loop = loop_create();
    struct acks a = {0};
    struct wal *w = open_real(d, uring(), loop, &a);
    assert_int_equal(append_range(w, 1, 100, 1), 0);
    run_until_durable(loop, w, &a, 100);
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.fsyncs, 1);
    assert_int_equal(st.appended, 100);
    wal_close(w);
    loop_destroy(loop);
    rm_rf(d);
}

/* wal-sync-thread no: the owner flushes (no timer does, so the loop's
 * next iteration does not block on the disk), and wal_flush returns with
 * everything appended written, synced and acknowledged, in one write. */
static void test_inline_flush_is_durable_when_it_returns(void **state)
{
    char d[] = "/tmp/raftcache-wal-inline-XXXXXX";
    assert_non_null(mkdtemp(d));
    struct loop *loop = loop_create();
    struct acks a = {0};
    inline_sync = 1;
    struct wal *w = open_real(d, WAL_IO_SYNC, loop, &a);
    inline_sync = 0;
    assert_true(wal_flush_blocks(w));
    assert_int_equal(append_range(w, 1, 100, 1), 0);
    for (int i = 0; i < 5; i++)
        loop_run_once(loop); /* the spare's completion, nothing else */
    assert_int_equal(a.durable, 0);
    assert_int_equal(wal_flush(w), 0);
    assert_int_equal(a.durable, 100);
    assert_int_equal(wal_durable_index(w), 100);
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.fsyncs, 1);
    wal_close(w);
    loop_destroy(loop);
    rm_rf(d);
}

static void test_appends_during_an_inflight_fsync_form_the_next_batch(
    void **state)
{
    char d[] = "/tmp/raftcache-wal-inflight-XXXXXX";
    assert_non_null(mkdtemp(d));
    struct loop *loop = loop_create();
    struct acks a = {0};
    struct wal *w = open_real(d, uring(), loop, &a);
    assert_int_equal(append_range(w, 1, 1, 1), 0);
    assert_int_equal(wal_flush(w), 0);
    for (uint64_t i = 2; i <= 50; i++) {
        assert_int_equal(append_range(w, i, i, 1), 0);
        assert_int_equal(wal_flush(w), 0); /* a no-op while in flight */
    }
    run_until_durable(loop, w, &a, 50);
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_true(st.batches <= 3);
    wal_close(w);
    loop_destroy(loop);
    rm_rf(d);
}

static void test_fsync_off_acknowledges_after_the_write(void **state)
{
    char d[] = "/tmp/raftcache-wal-off-XXXXXX";
    assert_non_null(mkdtemp(d));
    struct loop *loop = loop_create();
    struct acks a = {0};
    struct wal_config c = mem_config(NULL, SEG, &a);
    c.io = WAL_IO_AUTO;
    c.fsync = WAL_FSYNC_OFF;
    c.dir = d;
    c.loop = loop;
    struct wal *w;
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    assert_string_equal(wal_backend_name(w), /* probed */
                        wal_uring_available() ? "uring" : "sync");
    assert_int_equal(append_range(w, 1, 30, 1), 0);
    run_until_durable(loop, w, &a, 30);
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_int_equal(st.fsyncs, 0);
    wal_close(w);
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    assert_log(w, 1, 30, 1);
    wal_close(w);
    loop_destroy(loop);
    rm_rf(d);
}

/* Every segment is preallocated (the next one in the background while the
 * current one fills), and the spare never left behind. */
static int count_dir_files(const char *d, const char *prefix)
{
    int n = 0;
    DIR *dir = opendir(d);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(dir);
    return n;
}

static void test_segments_are_preallocated_and_no_spare_is_left(
    void **state)
{
    for (int io = 0; io < 2; io++) {
        char d[] = "/tmp/raftcache-wal-prealloc-XXXXXX";
        assert_non_null(mkdtemp(d));
        struct acks a = {0};
        struct wal *w = open_real(d, io ? WAL_IO_SYNC : uring(), NULL,
                                  &a);
        for (uint64_t i = 1; i <= 800; i += 50) {
            assert_int_equal(append_range(w, i, i + 49, 1), 0);
            settle(w);
        }
        uint64_t segs = (uint64_t)count_dir_files(d, "log-");
        assert_true(segs >= 4); /* 3 or more in use, and the spare */
        wal_close(w);
        char p[256];
        struct stat st;
        for (uint64_t seq = 1; seq < segs; seq++) {
            snprintf(p, sizeof(p), "%s/log-%016llx", d,
                     (unsigned long long)seq);
            assert_int_equal(stat(p, &st), 0);
            assert_int_equal(st.st_size, SEG);
        }
        snprintf(p, sizeof(p), "%s/log-%016llx", d, (unsigned long long)segs);
        assert_int_not_equal(stat(p, &st), 0); /* the spare is gone */
        w = open_real(d, uring(), NULL, &a);
        assert_log(w, 1, 800, 1);
        wal_close(w);
        rm_rf(d);
    }
}

struct big_check {
    uint64_t next, big_index;
    uint32_t big_len;
    int bad;
};

static int big_check_cb(void *data, const struct wal_entry *e)
{
    struct big_check *c = data;
    int ok = e->index == c->next;
    if (e->index != c->big_index)
        ok = ok && entry_ok(e);
    else if (e->len != c->big_len)
        ok = 0;
    else
        for (uint32_t i = 0; i < e->len && ok; i++)
            ok = ((const uint8_t *)e->buf)[i] == entry_byte(e->index, 1, i);
    c->bad += !ok;
    c->next = e->index + 1;
    return 0;
}

/* An entry larger than a whole segment (a value above wal-segment-size)
 * is written into a segment of its own, which grows past its preallocated
 * size, and comes back after a restart with the entries around it. It
 * used to be refused with ERR_TOOBIG after raft had accepted it, which
 * stopped the node's group for good. */
static void test_entry_larger_than_a_segment_gets_a_segment_of_its_own(
    void **state)
{
    const uint32_t big_len = 3 * SEG + 100;
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    for (uint32_t i = 0; i < big_len; i++)
        big[i] = entry_byte(6, 1, i);
    for (int io = 0; io < 2; io++) {
        char d[] = "/tmp/raftcache-wal-bigentry-XXXXXX";
        assert_non_null(mkdtemp(d));
        struct acks a = {0};
        struct wal *w = open_real(d, io ? WAL_IO_SYNC : uring(), NULL, &a);
        assert_int_equal(append_range(w, 1, 5, 1), 0);
        struct wal_entry e = {.term = 1, .index = 6, .type = 0, .buf = big,
                              .len = big_len};
        assert_int_equal(wal_append(w, &e, 1), 0);
        assert_int_equal(append_range(w, 7, 300, 1), 0);
        settle(w);
        assert_int_equal(a.status, 0);
        assert_int_equal(a.durable, 300);
        wal_close(w);
        w = open_real(d, io ? WAL_IO_SYNC : uring(), NULL, &a);
        struct big_check c = {1, 6, big_len, 0};
        assert_int_equal(wal_replay(w, 1, big_check_cb, &c), 0);
        assert_int_equal(c.bad, 0);
        assert_int_equal(c.next, 301);
        assert_int_equal(append_range(w, 301, 310, 1), 0);
        settle(w);
        assert_int_equal(wal_durable_index(w), 310);
        wal_close(w);
        rm_rf(d);
    }
    free(big);
}

/* A real write error (the file size limit: EFBIG) reaches the owner as a
 * failed WAL, from either backend, and what was acknowledged before it
 * survives. */
static void test_real_write_error_stops_the_wal_and_keeps_acked(void **state)
{
    signal(SIGXFSZ, SIG_IGN);
    for (int io = 0; io < 2; io++) {
        char d[] = "/tmp/raftcache-wal-efbig-XXXXXX";
        assert_non_null(mkdtemp(d));
        struct acks a = {0};
        struct rlimit old, lim;
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
        lim = old;
        lim.rlim_cur = 20000;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        struct wal *w = open_real(d, io ? WAL_IO_SYNC : uring(), NULL,
                                  &a);
        int rv = 0;
        for (uint64_t i = 1; rv == 0 && a.status == 0 && i <= 400; i += 5) {
            rv = append_range(w, i, i + 4, 1);
            settle(w);
        }
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        assert_int_equal(a.status, ERR_IO);
        assert_true(a.durable > 10 && a.durable < 400);
        assert_int_equal(append_range(w, a.durable + 1, a.durable + 1, 1),
                         ERR_IO);
        uint64_t acked = a.durable;
        wal_close(w);
        w = open_real(d, WAL_IO_SYNC, NULL, &a);
        assert_true(wal_last_index(w) >= acked);
        assert_log(w, 1, wal_last_index(w), 1);
        wal_close(w);
        rm_rf(d);
    }
    signal(SIGXFSZ, SIG_DFL);
}

/* Makes io_uring_setup fail with ENOSYS in this process, as a kernel
 * without io_uring or a container's seccomp policy does. */
static int forbid_io_uring(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void test_auto_falls_back_to_sync_without_io_uring(void **state)
{
    char d[] = "/tmp/raftcache-wal-nouring-XXXXXX";
    assert_non_null(mkdtemp(d));
    pid_t pid = fork();
    if (pid == 0) {
        struct acks a = {0};
        if (forbid_io_uring() != 0)
            _exit(3);
        struct wal *w = open_real(d, WAL_IO_AUTO, NULL, &a);
        int ok = strcmp(wal_backend_name(w), "sync") == 0 &&
                 append_range(w, 1, 20, 1) == 0;
        settle(w);
        ok = ok && a.durable == 20;
        wal_close(w);
        _exit(ok ? 0 : 1);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    rm_rf(d);
}

static int seg_exists(const char *d, uint64_t seq)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof(p), "%s/log-%016llx", d, (unsigned long long)seq);
    return stat(p, &st) == 0;
}

static void take_snapshot(struct wal *w, uint64_t term, uint64_t index)
{
    struct wal_snapshot_meta meta = {term, index, "n1", 2};
    struct wal_snapshot_writer *wr;
    assert_int_equal(wal_snapshot_writer_open(w, &meta, &wr), 0);
    assert_int_equal(wal_snapshot_write(wr, "state", 5), 0);
    assert_int_equal(wal_snapshot_writer_finish(wr), 0);
    assert_int_equal(wal_snapshot_installed(w, term, index), 0);
}

/* The sync backend (inline writes or not) unlinks the segments and the
 * snapshot a newer snapshot made obsolete on its thread (freeing a large
 * file's blocks stalled the loop for tens of ms); they are gone once the
 * completions are reaped, wal_close waits for them, and the log comes
 * back whole after a restart. */
static int count_tmp_files(const char *d)
{
    int n = 0;
    DIR *dir = opendir(d);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        n += len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0;
    }
    closedir(dir);
    return n;
}

/* A file given up is renamed to NAME.tmp and freed in steps on the thread;
 * none is left once close has waited, and one left by a crash in between
 * is deleted when the log is opened again. */
static void test_sync_backend_unlinks_obsolete_files_off_the_loop(
    void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        inline_sync = mode;
        char d[] = "/tmp/raftcache-wal-unlink-XXXXXX";
        assert_non_null(mkdtemp(d));
        struct acks a = {0};
        struct wal *w = open_real(d, WAL_IO_SYNC, NULL, &a);
        for (uint64_t i = 1; i <= 1200; i += 50) {
            assert_int_equal(append_range(w, i, i + 49, 1), 0);
            settle(w);
        }
        assert_true(count_dir_files(d, "log-") >= 4);
        take_snapshot(w, 1, 400);
        for (int i = 0; i < 1000 && seg_exists(d, 1); i++) {
            usleep(1000);
            wal_poll(w);
        }
        assert_false(seg_exists(d, 1));
        assert_true(seg_exists(d, 2));
        take_snapshot(w, 1, 900);
        wal_close(w); /* waits for the unlinks still on the thread */
        assert_int_equal(count_dir_files(d, "snap-"), 1);
        assert_false(seg_exists(d, 2));
        assert_int_equal(count_tmp_files(d), 0);
        char junk[256];
        snprintf(junk, sizeof(junk), "%s/log-%016llx.tmp", d, 2ULL);
        FILE *f = fopen(junk, "w");
        assert_non_null(f);
        fputs("a half-freed segment", f);
        fclose(f);
        w = open_real(d, WAL_IO_SYNC, NULL, &a);
        assert_int_equal(count_tmp_files(d), 0);
        assert_int_equal(wal_first_index(w), 901);
        assert_log(w, 901, 1200, 1);
        wal_close(w);
        rm_rf(d);
    }
    inline_sync = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_uring_and_sync_backends_write_identical_files),
        cmocka_unit_test(
            test_one_iteration_of_appends_is_one_write_and_one_fsync),
        cmocka_unit_test(
            test_appends_during_an_inflight_fsync_form_the_next_batch),
        cmocka_unit_test(test_inline_flush_is_durable_when_it_returns),
        cmocka_unit_test(test_fsync_off_acknowledges_after_the_write),
        cmocka_unit_test(
            test_segments_are_preallocated_and_no_spare_is_left),
        cmocka_unit_test(
            test_entry_larger_than_a_segment_gets_a_segment_of_its_own),
        cmocka_unit_test(
            test_real_write_error_stops_the_wal_and_keeps_acked),
        cmocka_unit_test(test_auto_falls_back_to_sync_without_io_uring),
        cmocka_unit_test(
            test_sync_backend_unlinks_obsolete_files_off_the_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
