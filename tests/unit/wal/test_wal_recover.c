/* Start-up recovery (src/wal/wal_recover.c) on the in-memory disk: a log
 * cut or damaged anywhere in its last records comes back with exactly the
 * records before the damage; damage elsewhere refuses to start unless
 * wal-repair is set; suffix truncation and the metadata file survive
 * crashes; the directory lock keeps a second process out. */
#include <sys/stat.h>

#include "unit/wal/wal_test_util.h"

#define SEG 4096
#define N 60

struct rec_pos {
    uint64_t start, end, index;
};

/* Builds entries 1..N (term 1) on a fresh disk and closes the WAL. */
static struct wal_mem_disk *build_log(void)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_with_durable(d, SEG, &a, &c, N);
    assert_int_equal(a.durable, N);
    wal_close(w);
    return d;
}

/* The name of the last segment file. */
static void last_segment(struct wal_mem_disk *d, char *name)
{
    char buf[4096];
    int n = wal_mem_list(d, buf, sizeof(buf));
    const char *p = buf;
    name[0] = '\0';
    for (int i = 0; i < n; i++, p += strlen(p) + 1)
        if (strncmp(p, "log-", 4) == 0)
            strcpy(name, p);
}

static int segment_count(struct wal_mem_disk *d)
{
    return count_files(d, "log-");
}

/* Where each record of a segment lies; returns the count. */
static int record_positions(struct wal_mem_disk *d, const char *name,
                            struct rec_pos *pos, int max)
{
    size_t len;
    uint8_t *buf = wal_mem_file(d, name, &len);
    assert_non_null(buf);
    uint64_t off = WAL_SEG_HDR;
    int n = 0;
    for (;;) {
        struct wal_entry e;
        long r = wal__rec_decode(buf + off, len - off, &e);
        if (r <= 0 || n == max)
            break;
        pos[n].start = off;
        pos[n].end = off + (uint64_t)r;
        pos[n].index = e.index;
        off += (uint64_t)r;
        n++;
    }
    return n;
}

/* The last index kept when the last segment is zeroed from `off`: a record
 * whose bytes from off on were zeros already (padding) is unharmed. */
static uint64_t expected_last_zeroed(const struct rec_pos *pos, int n,
                                     uint64_t off, const uint8_t *orig)
{
    uint64_t last = pos[0].index - 1;
    for (int i = 0; i < n; i++) {
        for (uint64_t b = off > pos[i].start ? off : pos[i].start;
             b < pos[i].end; b++)
            if (orig[b] != 0)
                return last;
        last = pos[i].index;
    }
    return last;
}

/* The last index kept when the last segment is damaged at `off`. */
static uint64_t expected_last(const struct rec_pos *pos, int n, uint64_t off)
{
    uint64_t last = pos[0].index - 1;
    for (int i = 0; i < n; i++)
        if (pos[i].end <= off)
            last = pos[i].index;
    return last;
}

/* Reopens, checks the log is 1..last, appends 10 more, reopens again. */
static void check_recovers_to(struct wal_mem_disk *d, uint64_t last)
{
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    struct wal_recovered rec;
    char err[ERRMSG_LEN];
    assert_int_equal(wal_open(&c, &w, &rec, err), 0);
    assert_int_equal(rec.last_index, last);
    assert_log(w, 1, last, 1);
    assert_int_equal(append_range(w, last + 1, last + 10, 1), 0);
    settle(w);
    assert_int_equal(a.durable, last + 10);
    wal_close(w);
    assert_int_equal(wal_open(&c, &w, &rec, err), 0);
    assert_log(w, 1, last + 10, 1);
    wal_close(w);
}

/* Crashes the disk under a closed WAL, reopens it (filling *rec if given)
 * and checks the log is 1..count: term 1 before term_from, term2 from it. */
static void crash_and_assert_terms(struct wal_mem_disk *d,
                                   struct wal_config *c,
                                   struct wal_recovered *rec, uint64_t count,
                                   uint64_t term_from, uint64_t term2)
{
    struct wal *w;
    wal_mem_crash(d);
    assert_int_equal(wal_open(c, &w, rec, NULL), 0);
    struct replay_check r = {1, 0, term_from, 1, term2, 0};
    assert_int_equal(wal_replay(w, 1, replay_check_cb, &r), 0);
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.count, count);
    wal_close(w);
}

static void test_reopen_returns_every_appended_entry(void **state)
{
    struct wal_mem_disk *d = build_log();
    assert_true(segment_count(d) >= 3);
    check_recovers_to(d, N);
    wal_mem_disk_destroy(d);
}

static void cut_at_every_offset(int zero_fill)
{
    struct wal_mem_disk *d = build_log();
    char name[32];
    last_segment(d, name);
    struct rec_pos pos[64];
    int n = record_positions(d, name, pos, 64);
    assert_true(n >= 4);
    uint64_t from = pos[n - 4].start, to = pos[n - 1].end;
    size_t len;
    uint8_t *orig = calloc(1, SEG);
    uint8_t *cur = wal_mem_file(d, name, &len);
    memcpy(orig, cur, len < SEG ? len : SEG);
    wal_mem_disk_destroy(d);
    for (uint64_t off = from; off <= to; off++) {
        d = build_log();
        if (zero_fill) {
            uint8_t *buf = wal_mem_file(d, name, &len);
            if (off < len)
                memset(buf + off, 0, len - off);
        } else {
            assert_int_equal(wal_mem_file_resize(d, name, off), 0);
        }
        check_recovers_to(d, zero_fill
                                 ? expected_last_zeroed(pos, n, off, orig)
                                 : expected_last(pos, n, off));
        wal_mem_disk_destroy(d);
    }
    free(orig);
}

static void test_log_cut_at_every_offset_of_last_records_keeps_those_before(
    void **state)
{
    cut_at_every_offset(0);
}

static void test_log_zeroed_from_every_offset_keeps_records_before(
    void **state)
{
    cut_at_every_offset(1);
}

static void test_bit_flips_in_last_segment_keep_records_before_damage(
    void **state)
{
    struct wal_mem_disk *d = build_log();
    char name[32];
    last_segment(d, name);
    struct rec_pos pos[64];
    int n = record_positions(d, name, pos, 64);
    wal_mem_disk_destroy(d);
    uint64_t lo = pos[0].start, hi = pos[n - 1].end + 64;
    srand(12345);
    for (int trial = 0; trial < 300; trial++) {
        uint64_t off = lo + (uint64_t)rand() % (hi - lo);
        d = build_log();
        /* As a preallocated file on a real disk: zeros after the data. */
        assert_int_equal(wal_mem_file_resize(d, name, SEG), 0);
        size_t len;
        uint8_t *buf = wal_mem_file(d, name, &len);
        buf[off] ^= (uint8_t)(1u << (rand() % 8));
        struct acks a = {0};
        struct wal_config c = mem_config(d, SEG, &a);
        struct wal *w;
        struct wal_recovered rec;
        assert_int_equal(wal_open(&c, &w, &rec, NULL), 0);
        uint64_t want = expected_last(pos, n, off);
        assert_int_equal(rec.last_index, want);
        assert_true(rec.bytes_dropped > 0);
        assert_true(a.logs > 0); /* a line says how much was dropped */
        assert_log(w, 1, want, 1);
        wal_close(w);
        wal_mem_disk_destroy(d);
    }
}

static void test_damage_in_earlier_segment_refuses_naming_file_and_offset(
    void **state)
{
    struct wal_mem_disk *d = build_log();
    size_t len;
    uint8_t *buf = wal_mem_file(d, "log-0000000000000001", &len);
    assert_non_null(buf);
    buf[WAL_SEG_HDR + 40] ^= 0x10; /* inside the first record */
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w = NULL;
    char err[ERRMSG_LEN];
    assert_int_equal(wal_open(&c, &w, NULL, err), ERR_CORRUPT);
    assert_non_null(strstr(err, "log-0000000000000001"));
    assert_non_null(strstr(err, "offset 48"));
    /* Refusing changed nothing: still refused. */
    assert_int_equal(wal_open(&c, &w, NULL, err), ERR_CORRUPT);
    wal_mem_disk_destroy(d);
}

static void test_repair_cuts_log_at_damage_in_earlier_segment(void **state)
{
    struct wal_mem_disk *d = build_log();
    struct rec_pos pos[64];
    int n = record_positions(d, "log-0000000000000001", pos, 64);
    assert_true(n > 3);
    size_t len;
    uint8_t *buf = wal_mem_file(d, "log-0000000000000001", &len);
    buf[pos[3].start + 35] ^= 1;
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    c.repair = 1;
    struct wal *w;
    struct wal_recovered rec;
    assert_int_equal(wal_open(&c, &w, &rec, NULL), 0);
    assert_int_equal(rec.last_index, pos[2].index);
    assert_int_equal(segment_count(d), 1);
    wal_close(w);
    check_recovers_to(d, pos[2].index);
    wal_mem_disk_destroy(d);
}

static void test_new_segment_with_torn_header_is_dropped(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    uint64_t i = 1;
    for (;; i++) {
        int before = segment_count(d);
        assert_int_equal(append_range(w, i, i, 1), 0);
        if (i > 1 && segment_count(d) > before)
            break;
        settle(w);
    }
    wal_mem_tear_write(d, 1, 20); /* 20 bytes of the new header */
    settle(w);
    assert_true(a.status < 0);
    assert_int_equal(a.durable, i - 1);
    assert_int_equal(wal_append(w, NULL, 0), a.status); /* sticky */
    wal_close(w);
    wal_mem_crash(d);
    check_recovers_to(d, i - 1);
    wal_mem_disk_destroy(d);
}

static void test_truncated_suffix_is_replaced_and_survives_crash(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_with_durable(d, SEG, &a, &c, 100);
    assert_int_equal(wal_truncate(w, 20), 0);
    assert_int_equal(wal_last_index(w), 19);
    assert_int_equal(wal_durable_index(w), 19);
    assert_int_equal(append_range(w, 20, 30, 2), 0);
    settle(w);
    assert_int_equal(a.durable, 30);
    wal_close(w);
    struct wal_recovered rec;
    crash_and_assert_terms(d, &c, &rec, 30, 20, 2);
    assert_int_equal(rec.last_index, 30);
    assert_int_equal(rec.last_term, 2);
    wal_mem_disk_destroy(d);
}

static void test_truncation_of_unflushed_entries_needs_no_disk_work(
    void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_with_durable(d, SEG, &a, &c, 10);
    assert_int_equal(append_range(w, 11, 15, 1), 0);
    assert_int_equal(wal_truncate(w, 13), 0);
    assert_int_equal(append_range(w, 13, 14, 3), 0);
    settle(w);
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_int_equal(st.truncations, 0);
    assert_int_equal(a.durable, 14);
    wal_close(w);
    crash_and_assert_terms(d, &c, NULL, 14, 13, 3);
    wal_mem_disk_destroy(d);
}

static void test_truncation_across_segments_removes_later_files(void **state)
{
    struct wal_mem_disk *d = build_log();
    int before = segment_count(d);
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    assert_int_equal(wal_truncate(w, 3), 0);
    settle(w);
    assert_int_equal(segment_count(d), 1);
    assert_true(before > 1);
    assert_int_equal(append_range(w, 3, 5, 4), 0);
    settle(w);
    wal_close(w);
    crash_and_assert_terms(d, &c, NULL, 5, 3, 4);
    wal_mem_disk_destroy(d);
}

/* The truncation's fsync comes before the write of what follows it: when
 * it fails, nothing after the truncation point is ever acknowledged. */
static void test_nothing_after_a_truncation_is_acked_before_it_is_durable(
    void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c;
    struct wal *w = open_with_durable(d, SEG, &a, &c, 50);
    assert_int_equal(wal_truncate(w, 10), 0);
    assert_int_equal(append_range(w, 10, 12, 2), 0);
    uint64_t writes = wal_mem_write_count(d);
    wal_mem_fail_sync(d, 1);
    settle(w);
    assert_int_equal(a.status, ERR_IO);
    assert_int_equal(a.durable, 50);      /* no ack since */
    assert_int_equal(wal_mem_write_count(d), writes); /* 10..12 unwritten */
    wal_close(w);
    wal_mem_crash(d);
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    assert_log(w, 1, wal_last_index(w), 1); /* old entries, term 1 only */
    wal_close(w);
    wal_mem_disk_destroy(d);
}

static void test_close_fires_no_callbacks(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    assert_int_equal(append_range(w, 1, 5, 1), 0);
    assert_int_equal(wal_flush(w), 0); /* done, not yet reaped */
    wal_close(w);
    assert_int_equal(a.calls, 0);
    wal_mem_disk_destroy(d);
}

static void test_append_with_gap_or_lower_term_is_refused(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    assert_int_equal(append_range(w, 1, 3, 5), 0);
    assert_int_equal(append_range(w, 5, 5, 5), ERR_INVALID);
    assert_int_equal(append_range(w, 4, 4, 4), ERR_INVALID);
    uint8_t big[SEG];
    struct wal_entry e = {.term = 4, .index = 5, .buf = big, .len = SEG};
    assert_int_equal(wal_append(w, &e, 1), ERR_INVALID);
    e.term = 5;
    e.index = 4;
    e.len = WAL_ENTRY_MAX + 1; /* refused before its bytes are read */
    assert_int_equal(wal_append(w, &e, 1), ERR_TOOBIG);
    wal_close(w);
    wal_mem_disk_destroy(d);
}

static void test_hard_state_survives_crash(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    struct wal_recovered rec;
    assert_int_equal(wal_open(&c, &w, &rec, NULL), 0);
    assert_int_equal(rec.hs.term, 0);
    struct wal_hard_state hs = {5, 2, 7};
    assert_int_equal(wal_save_hard_state(w, &hs), 0);
    wal_close(w);
    wal_mem_crash(d);
    assert_int_equal(wal_open(&c, &w, &rec, NULL), 0);
    assert_int_equal(rec.hs.term, 5);
    assert_int_equal(rec.hs.vote, 2);
    assert_int_equal(rec.hs.node_id, 7);
    wal_close(w);
    wal_mem_disk_destroy(d);
}

/* The rename is the commit point: a failed or torn write of the new
 * contents leaves the old hard state whole. */
static void test_hard_state_update_is_atomic_under_write_faults(void **state)
{
    for (int torn = 0; torn < 2; torn++) {
        struct wal_mem_disk *d = wal_mem_disk_create();
        struct acks a = {0};
        struct wal_config c = mem_config(d, SEG, &a);
        struct wal *w;
        struct wal_recovered rec;
        assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
        struct wal_hard_state hs1 = {3, 1, 9}, hs2 = {4, 2, 9};
        assert_int_equal(wal_save_hard_state(w, &hs1), 0);
        if (torn)
            wal_mem_tear_write(d, 1, 30);
        else
            wal_mem_fail_write(d, 1, 0);
        assert_int_equal(wal_save_hard_state(w, &hs2), ERR_IO);
        wal_close(w);
        wal_mem_crash(d);
        assert_int_equal(wal_open(&c, &w, &rec, NULL), 0);
        assert_int_equal(rec.hs.term, 3);
        assert_int_equal(rec.hs.vote, 1);
        size_t len;
        assert_null(wal_mem_file(d, WAL_META_TMP, &len));
        wal_close(w);
        wal_mem_disk_destroy(d);
    }
}

static void test_corrupt_metadata_refuses_to_start(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    struct wal_hard_state hs = {5, 2, 7};
    assert_int_equal(wal_save_hard_state(w, &hs), 0);
    wal_close(w);
    size_t len;
    wal_mem_file(d, WAL_META_NAME, &len)[25] ^= 4;
    char err[ERRMSG_LEN];
    assert_int_equal(wal_open(&c, &w, NULL, err), ERR_CORRUPT);
    assert_non_null(strstr(err, "meta"));
    wal_mem_disk_destroy(d);
}

static void test_second_open_of_a_locked_directory_is_refused(void **state)
{
    char dir[] = "/tmp/raftcache-wal-lock-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct acks a = {0};
    struct wal_config c = mem_config(NULL, SEG, &a);
    c.io = WAL_IO_SYNC;
    c.dir = dir;
    struct wal *w1, *w2;
    char err[ERRMSG_LEN];
    assert_int_equal(wal_open(&c, &w1, NULL, err), 0);
    assert_int_equal(wal_open(&c, &w2, NULL, err), ERR_BUSY);
    assert_non_null(strstr(err, "in use"));
    wal_close(w1);
    assert_int_equal(wal_open(&c, &w2, NULL, err), 0);
    wal_close(w2);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reopen_returns_every_appended_entry),
        cmocka_unit_test(
            test_log_cut_at_every_offset_of_last_records_keeps_those_before),
        cmocka_unit_test(
            test_log_zeroed_from_every_offset_keeps_records_before),
        cmocka_unit_test(
            test_bit_flips_in_last_segment_keep_records_before_damage),
        cmocka_unit_test(
            test_damage_in_earlier_segment_refuses_naming_file_and_offset),
        cmocka_unit_test(test_repair_cuts_log_at_damage_in_earlier_segment),
        cmocka_unit_test(test_new_segment_with_torn_header_is_dropped),
        cmocka_unit_test(
            test_truncated_suffix_is_replaced_and_survives_crash),
        cmocka_unit_test(
            test_truncation_of_unflushed_entries_needs_no_disk_work),
        cmocka_unit_test(
            test_truncation_across_segments_removes_later_files),
        cmocka_unit_test(
            test_nothing_after_a_truncation_is_acked_before_it_is_durable),
        cmocka_unit_test(test_close_fires_no_callbacks),
        cmocka_unit_test(test_append_with_gap_or_lower_term_is_refused),
        cmocka_unit_test(test_hard_state_survives_crash),
        cmocka_unit_test(
            test_hard_state_update_is_atomic_under_write_faults),
        cmocka_unit_test(test_corrupt_metadata_refuses_to_start),
        cmocka_unit_test(test_second_open_of_a_locked_directory_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
