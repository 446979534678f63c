/* The record and segment codec (src/wal/wal_segment.c): round trips, the
 * clean-end marker, and that any single damaged bit is detected; and the
 * parsing of the WAL's config values. */
#include "unit/wal/wal_test_util.h"

static void test_record_round_trips_for_every_length_up_to_300(void **state)
{
    uint8_t payload[512], rec[1024];
    for (uint32_t len = 0; len <= 300; len++) {
        for (uint32_t i = 0; i < len; i++)
            payload[i] = (uint8_t)(len + i);
        struct wal_entry e = {len * 1000 + 7, len + 1, (uint8_t)len, payload,
                              len};
        wal__rec_encode(rec, &e);
        struct wal_entry d;
        long n = wal__rec_decode(rec, sizeof(rec), &d);
        assert_int_equal(n, (long)wal__rec_size(len));
        assert_int_equal(n % 8, 0);
        assert_int_equal(d.term, e.term);
        assert_int_equal(d.index, e.index);
        assert_int_equal(d.type, e.type);
        assert_int_equal(d.len, len);
        assert_memory_equal(d.buf, payload, len);
    }
}

static void test_record_decode_detects_every_single_bit_flip(void **state)
{
    uint8_t payload[45], rec[128];
    memset(payload, 0xab, sizeof(payload));
    struct wal_entry e = {3, 99, 1, payload, sizeof(payload)};
    wal__rec_encode(rec, &e);
    size_t size = wal__rec_size(e.len);
    for (size_t bit = 0; bit < size * 8; bit++) {
        rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        struct wal_entry d;
        assert_true(wal__rec_decode(rec, size, &d) < 0);
        rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    struct wal_entry d;
    assert_int_equal(wal__rec_decode(rec, size, &d), (long)size);
}

static void test_record_cut_short_is_corrupt(void **state)
{
    uint8_t payload[100] = {1}, rec[256];
    struct wal_entry e = {1, 1, 0, payload, sizeof(payload)};
    wal__rec_encode(rec, &e);
    struct wal_entry d;
    for (size_t avail = 1; avail < wal__rec_size(e.len); avail++)
        assert_true(wal__rec_decode(rec, avail, &d) < 0);
}

static void test_zero_header_marks_the_clean_end(void **state)
{
    uint8_t zeros[64] = {0};
    struct wal_entry d;
    assert_int_equal(wal__rec_decode(zeros, sizeof(zeros), &d), 0);
    assert_int_equal(wal__rec_decode(zeros, 5, &d), 0);
}

static void test_segment_header_round_trips_and_detects_damage(void **state)
{
    uint8_t h[WAL_SEG_HDR];
    wal__seg_header_encode(h, 42, 123456);
    uint64_t seq, first;
    assert_int_equal(wal__seg_header_decode(h, &seq, &first), 0);
    assert_int_equal(seq, 42);
    assert_int_equal(first, 123456);
    for (size_t bit = 0; bit < WAL_SEG_HDR * 8; bit++) {
        h[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(wal__seg_header_decode(h, &seq, &first),
                         ERR_CORRUPT);
        h[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

static void test_segment_names_parse_back(void **state)
{
    char name[32];
    wal__seg_name(name, sizeof(name), 0xabcdef);
    assert_string_equal(name, "log-0000000000abcdef");
    uint64_t seq;
    assert_int_equal(wal__seg_parse_name(name, &seq), 0);
    assert_int_equal(seq, 0xabcdef);
    assert_true(wal__seg_parse_name("log-xyz", &seq) != 0);
    assert_true(wal__seg_parse_name("meta", &seq) != 0);
}

static void test_config_values_parse_and_bad_ones_are_refused(void **state)
{
    enum wal_io_kind io;
    enum wal_fsync_mode fs;
    assert_int_equal(wal_io_parse("auto", &io), 0);
    assert_int_equal(io, WAL_IO_AUTO);
    assert_int_equal(wal_io_parse("URING", &io), 0);
    assert_int_equal(io, WAL_IO_URING);
    assert_int_equal(wal_io_parse("sync", &io), 0);
    assert_int_equal(io, WAL_IO_SYNC);
    assert_int_equal(wal_io_parse("mem", &io), ERR_INVALID);
    assert_int_equal(wal_fsync_parse("always", &fs), 0);
    assert_int_equal(fs, WAL_FSYNC_ALWAYS);
    assert_int_equal(wal_fsync_parse("off", &fs), 0);
    assert_int_equal(fs, WAL_FSYNC_OFF);
    assert_int_equal(wal_fsync_parse("everysec", &fs), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_round_trips_for_every_length_up_to_300),
        cmocka_unit_test(test_record_decode_detects_every_single_bit_flip),
        cmocka_unit_test(test_record_cut_short_is_corrupt),
        cmocka_unit_test(test_zero_header_marks_the_clean_end),
        cmocka_unit_test(test_segment_header_round_trips_and_detects_damage),
        cmocka_unit_test(test_segment_names_parse_back),
        cmocka_unit_test(
            test_config_values_parse_and_bad_ones_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
