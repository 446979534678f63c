/* Recovery through its bounded read window (src/wal/wal_recover.c): with
 * the window made small, records straddle its refills and many are larger
 * than it, and recovery must still keep exactly the good records, cut a
 * torn tail, refuse damage in an earlier segment, notice non-zero bytes
 * far beyond the zeroed end, and replay every payload whole, from any
 * index. Every window size must give the same log. */
#include <dlfcn.h>
#define XXH_STATIC_LINKING_ONLY /* the state's seed field */
#include <xxhash.h>

#include "unit/wal/wal_test_util.h"

#define SEG (64u << 10)
#define WINDOW 256
#define N 400

/* Payloads from 0 to 1499 bytes: most are larger than WINDOW. */
static uint32_t big_len(uint64_t index)
{
    return (uint32_t)((index * 211) % 1500);
}

static void make_big(struct wal_entry *e, uint8_t *buf, uint64_t index)
{
    e->index = index;
    e->term = 1 + index / 100;
    e->type = (uint8_t)(index % 3);
    e->len = big_len(index);
    for (uint32_t i = 0; i < e->len; i++)
        buf[i] = entry_byte(index, e->term, i);
    e->buf = buf;
}

struct big_check {
    uint64_t next, count;
    int bad;
};

static int big_check_cb(void *data, const struct wal_entry *e)
{
    struct big_check *c = data;
    int ok = e->index == c->next && e->len == big_len(e->index) &&
             e->term == 1 + e->index / 100 && e->type == e->index % 3;
    const uint8_t *p = e->buf;
    for (uint32_t i = 0; ok && i < e->len; i++)
        ok = p[i] == entry_byte(e->index, e->term, i);
    c->bad += !ok;
    c->next = e->index + 1;
    c->count++;
    return 0;
}

static int setup(void **state)
{
    wal__recover_window = WINDOW;
    return 0;
}

static int teardown(void **state)
{
    wal__recover_window = WAL_RECOVER_WINDOW;
    return 0;
}

/* Entries 1..N on a fresh disk (several segments), WAL closed. */
static struct wal_mem_disk *build_big_log(void)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    uint8_t buf[1500];
    for (uint64_t i = 1; i <= N; i++) {
        struct wal_entry e;
        make_big(&e, buf, i);
        assert_int_equal(wal_append(w, &e, 1), 0);
    }
    settle(w);
    assert_int_equal(a.durable, N);
    wal_close(w);
    assert_true(count_files(d, "log-") >= 3);
    return d;
}

/* Opens d and checks the log is exactly 1..last, replayed from `from`. */
static void assert_big_log(struct wal_mem_disk *d, uint64_t last,
                           uint64_t from, struct acks *a)
{
    struct wal_config c = mem_config(d, SEG, a);
    struct wal *w;
    struct wal_recovered rec;
    char err[ERRMSG_LEN];
    assert_int_equal(wal_open(&c, &w, &rec, err), 0);
    assert_int_equal(rec.last_index, last);
    assert_int_equal(rec.last_term, last ? 1 + last / 100 : 0);
    struct big_check chk = {from, 0, 0};
    assert_int_equal(wal_replay(w, from, big_check_cb, &chk), 0);
    assert_int_equal(chk.bad, 0);
    assert_int_equal(chk.count, last + 1 - from);
    wal_close(w);
}

/* The segment file holding index, with the record's offset and size. */
static uint8_t *find_record(struct wal_mem_disk *d, uint64_t index,
                            char *name, uint64_t *off, uint64_t *size)
{
    char names[4096];
    int n = wal_mem_list(d, names, sizeof(names));
    const char *p = names;
    for (int i = 0; i < n; i++, p += strlen(p) + 1) {
        size_t len;
        uint8_t *buf = wal_mem_file(d, p, &len);
        if (strncmp(p, "log-", 4) != 0 || len < WAL_SEG_HDR)
            continue;
        for (uint64_t o = WAL_SEG_HDR;;) {
            struct wal_entry e;
            long r = wal__rec_decode(buf + o, len - o, &e);
            if (r <= 0)
                break;
            if (e.index == index) {
                strcpy(name, p);
                *off = o;
                *size = (uint64_t)r;
                return buf;
            }
            o += (uint64_t)r;
        }
    }
    fail_msg("index %llu not found", (unsigned long long)index);
    return NULL;
}

static void test_records_straddling_the_window_replay_whole(void **state)
{
    struct wal_mem_disk *d = build_big_log();
    struct acks a = {0};
    assert_big_log(d, N, 1, &a);
    assert_int_equal(a.logs, 0);
    wal_mem_disk_destroy(d);
}

static void test_replay_from_any_index_starts_there(void **state)
{
    struct wal_mem_disk *d = build_big_log();
    for (uint64_t from = 1; from <= N + 1; from += 37) {
        struct acks a = {0};
        assert_big_log(d, N, from, &a);
    }
    wal_mem_disk_destroy(d);
}

/* Every window size from the minimum to larger than a segment: same log. */
static void test_every_window_size_recovers_the_same_log(void **state)
{
    struct wal_mem_disk *d = build_big_log();
    static const size_t sizes[] = {1, 80, 81, 97, 255, 1000, 1531, 4096,
                                   SEG - 1, SEG, 1u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        wal__recover_window = sizes[i];
        struct acks a = {0};
        assert_big_log(d, N, 1, &a);
    }
    wal_mem_disk_destroy(d);
}

/* A flipped payload byte deep inside a record larger than the window is
 * caught by the checksum computed over the window's refills. */
static void test_damage_inside_a_record_larger_than_the_window(void **state)
{
    uint64_t victim = N - 3;
    while (wal__rec_size(big_len(victim)) <= 3 * WINDOW)
        victim--;
    struct wal_mem_disk *d = build_big_log();
    char name[32];
    uint64_t off, size;
    uint8_t *buf = find_record(d, victim, name, &off, &size);
    buf[off + size - WINDOW / 2] ^= 0x10;
    struct acks a = {0};
    assert_big_log(d, victim - 1, 1, &a);
    assert_non_null(strstr(a.lastlog, "truncated"));
    assert_non_null(strstr(a.lastlog, name));
    wal_mem_disk_destroy(d);
}

/* The same damage in an earlier segment is refused with file and offset,
 * and wal-repair cuts the log there. */
static void test_big_record_damage_in_an_earlier_segment_refuses(void **state)
{
    uint64_t victim = 20;
    while (wal__rec_size(big_len(victim)) <= 3 * WINDOW)
        victim++;
    struct wal_mem_disk *d = build_big_log();
    char name[32];
    uint64_t off, size;
    uint8_t *buf = find_record(d, victim, name, &off, &size);
    buf[off + WAL_REC_HDR + 2 * WINDOW] ^= 0x01;
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    char err[ERRMSG_LEN], want[64];
    assert_int_equal(wal_open(&c, &w, NULL, err), ERR_CORRUPT);
    snprintf(want, sizeof(want), "%s at offset %llu", name,
             (unsigned long long)off);
    assert_non_null(strstr(err, want));
    c.repair = 1;
    assert_int_equal(wal_open(&c, &w, NULL, err), 0);
    assert_int_equal(wal_last_index(w), victim - 1);
    wal_close(w);
    wal_mem_disk_destroy(d);
}

/* One non-zero byte at the very end of the last segment, many windows
 * after the zeroed end of the data, is a torn tail: cut, with the bytes
 * up to it counted. */
static void test_junk_far_after_the_end_of_the_last_segment(void **state)
{
    struct wal_mem_disk *d = build_big_log();
    char name[32];
    uint64_t off, size;
    find_record(d, N, name, &off, &size);
    /* The mem disk keeps only written bytes: extend it as preallocation
     * does on a real disk. */
    assert_int_equal(wal_mem_file_resize(d, name, SEG), 0);
    size_t len;
    uint8_t *buf = wal_mem_file(d, name, &len);
    assert_true(len - (off + size) > 8 * WINDOW);
    buf[len - 1] = 0x5a;
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    struct wal_recovered rec;
    assert_int_equal(wal_open(&c, &w, &rec, NULL), 0);
    assert_int_equal(rec.last_index, N);
    assert_int_equal(rec.bytes_dropped, len - (off + size));
    buf = wal_mem_file(d, name, &len);
    assert_int_equal(buf[len - 1], 0);
    wal_close(w);
    struct acks b = {0};
    assert_big_log(d, N, 1, &b);
    assert_int_equal(b.logs, 0);
    wal_mem_disk_destroy(d);
}

/* A damaged header of the last segment whose first record is larger than
 * the window: that record shows the header was written, so this is
 * damage to refuse, not a torn new segment to drop (which would lose
 * acknowledged entries). */
static void test_damaged_header_before_a_big_record_is_refused(void **state)
{
    struct wal_mem_disk *d = build_big_log();
    char name[32];
    uint64_t off, size;
    find_record(d, N, name, &off, &size);
    size_t len;
    uint8_t *buf = wal_mem_file(d, name, &len);
    struct wal_entry e;
    long first = wal__rec_decode(buf + WAL_SEG_HDR, len - WAL_SEG_HDR, &e);
    assert_true(first > WINDOW);
    buf[3] ^= 0x40;
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    char err[ERRMSG_LEN], want[64];
    assert_int_equal(wal_open(&c, &w, NULL, err), ERR_CORRUPT);
    snprintf(want, sizeof(want), "corrupt segment header in mem/%s", name);
    assert_non_null(strstr(err, want));
    assert_non_null(wal_mem_file(d, name, &len));
    wal_mem_disk_destroy(d);
}

/* Cutting the last segment at every byte of its last records (as a torn
 * write does) keeps exactly the records that end before the cut. */
static void test_cut_at_every_byte_of_big_last_records(void **state)
{
    struct wal_mem_disk *d = build_big_log();
    char name[32];
    char first_name[32];
    uint64_t first_off, size, last_off, last_size;
    find_record(d, N - 3, first_name, &first_off, &size);
    find_record(d, N, name, &last_off, &last_size);
    assert_string_equal(first_name, name);
    size_t len;
    uint8_t *orig_p = wal_mem_file(d, name, &len);
    uint8_t *orig = malloc(len);
    memcpy(orig, orig_p, len);
    for (uint64_t cut = first_off; cut < last_off + last_size; cut += 7) {
        uint8_t *buf = wal_mem_file(d, name, &len);
        memcpy(buf, orig, len);
        memset(buf + cut, 0, len - cut);
        uint64_t last = N - 4;
        /* A record is whole when none of its non-zero bytes was cut. */
        for (uint64_t i = N - 3, o = first_off; i <= N; i++) {
            uint64_t s = wal__rec_size(big_len(i)), b;
            for (b = cut > o ? cut : o; b < o + s && orig[b] == 0; b++)
                ;
            if (b < o + s)
                break;
            last = i;
            o += s;
        }
        struct acks a = {0};
        assert_big_log(d, last, 1, &a);
    }
    free(orig);
    wal_mem_disk_destroy(d);
}

/* xxHash's seeded reset of a state on the stack needs the state's seed
 * field cleared first (XXH3_INITSTATE): it skips deriving the secret when
 * the field already holds the seed. This stands in for the library's
 * function (the executable's definition comes first) and counts the
 * resets that found the field holding anything else, then lets the real
 * one run. Only recovery's streamed checksum resets with a seed. */
static int stale_resets;

XXH_errorcode XXH3_64bits_reset_withSeed(XXH3_state_t *st, XXH64_hash_t seed)
{
    static XXH_errorcode (*real)(XXH3_state_t *, XXH64_hash_t);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "XXH3_64bits_reset_withSeed");
    if (real == NULL)
        abort();
    stale_resets += st->seed != 0;
    return real(st, seed);
}

/* Fills the stack below the caller with copies of v, so that whatever a
 * deeper frame leaves uninitialized reads v. */
static __attribute__((noinline)) void paint_stack(uint64_t v)
{
    volatile uint64_t area[4096];
    for (size_t i = 0; i < sizeof(area) / sizeof(area[0]); i++)
        area[i] = v;
}

/* A record larger than the window is checksummed in pieces, with the
 * XXH3 state on the stack. Its stale seed field once equalled the
 * record's seed (recovery's scan had checked the same record just before
 * replay) and XXH3 kept a stale secret: the record failed its checksum,
 * so replay failed, or recovery could cut an acknowledged record as a
 * torn tail. Found by tests/fuzz/fuzz_wal.c. Whatever the stack held, no
 * seeded reset may find a stale seed, and the record must verify. */
static void test_big_record_verifies_whatever_the_stack_held(void **state)
{
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct acks a = {0};
    struct wal_config c = mem_config(d, SEG, &a);
    struct wal *w;
    struct wal_recovered rec;
    assert_int_equal(wal_open(&c, &w, NULL, NULL), 0);
    uint8_t buf[1500];
    struct wal_entry e;
    make_big(&e, buf, 7); /* 1477 bytes: streamed through the window */
    e.index = 1;
    assert_int_equal(wal_append(w, &e, 1), 0);
    settle(w);
    wal_close(w);
    stale_resets = 0;
    paint_stack(0x5eed5eed5eed5eedULL);
    assert_int_equal(wal_open(&c, &w, &rec, NULL), 0);
    assert_int_equal(rec.last_index, 1);
    assert_int_equal(rec.bytes_dropped, 0);
    struct big_check chk = {1, 0, 0};
    paint_stack(0x5eed5eed5eed5eedULL);
    assert_int_equal(wal_replay(w, 1, big_check_cb, &chk), 0);
    assert_int_equal(chk.count, 1);
    wal_close(w);
    assert_int_equal(stale_resets, 0);
    wal_mem_disk_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_records_straddling_the_window_replay_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_replay_from_any_index_starts_there, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_every_window_size_recovers_the_same_log, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_damage_inside_a_record_larger_than_the_window, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_big_record_damage_in_an_earlier_segment_refuses, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_junk_far_after_the_end_of_the_last_segment, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_damaged_header_before_a_big_record_is_refused, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_cut_at_every_byte_of_big_last_records, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_big_record_verifies_whatever_the_stack_held, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
