/* The cluster-bus frame codec: round trips, every truncation of a valid
 * stream, bad magic and version, oversized lengths refused from the header
 * alone, and random input fed from exact-size heap copies (so ASan sees any
 * over-read): the parser must never crash or read past its input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transport/transport.h"

static size_t put_frame(uint8_t *out, uint8_t type, const void *p, size_t n)
{
    peer_frame_header(out, type, (uint32_t)n);
    memcpy(out + PEER_FRAME_HEADER_LEN, p, n);
    return PEER_FRAME_HEADER_LEN + n;
}

static int parse_exact(const uint8_t *src, size_t len, uint32_t max,
                       struct peer_frame *f)
{
    /* An exact-size heap copy: reading one byte too far trips ASan. */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, src, len);
    int r = peer_frame_parse(copy, len, max, f);
    if (r > 0)
        f->payload = src + (f->payload - copy);
    free(copy);
    return r;
}

static void test_header_is_big_endian_magic_version_type_length(void **s)
{
    uint8_t h[PEER_FRAME_HEADER_LEN];
    peer_frame_header(h, 0x21, 0x01020304);
    const uint8_t want[] = {'R', 'C', 1, 0x21, 1, 2, 3, 4};
    assert_memory_equal(h, want, sizeof(want));
}

static void test_frames_round_trip_back_to_back(void **state)
{
    uint8_t buf[256];
    size_t len = put_frame(buf, 16, "hello", 5);
    len += put_frame(buf + len, 200, "", 0);
    len += put_frame(buf + len, 17, "world!", 6);
    struct peer_frame f;
    size_t off = 0;
    int r = peer_frame_parse(buf, len, 1024, &f);
    assert_int_equal(r, 13);
    assert_int_equal(f.type, 16);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "hello", 5);
    off += (size_t)r;
    r = peer_frame_parse(buf + off, len - off, 1024, &f);
    assert_int_equal(r, 8);
    assert_int_equal(f.len, 0);
    assert_int_equal(f.type, 200);
    off += (size_t)r;
    r = peer_frame_parse(buf + off, len - off, 1024, &f);
    assert_int_equal(r, 14);
    assert_memory_equal(f.payload, "world!", 6);
}

static void test_every_truncation_needs_more_bytes(void **state)
{
    uint8_t buf[64];
    size_t len = put_frame(buf, 16, "0123456789abcdef", 16);
    struct peer_frame f;
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(parse_exact(buf, cut, 1024, &f), 0);
    assert_int_equal(parse_exact(buf, len, 1024, &f), (int)len);
}

static void test_bad_magic_or_version_is_protocol_error(void **state)
{
    uint8_t buf[32];
    struct peer_frame f;
    size_t len = put_frame(buf, 16, "x", 1);
    buf[0] = 'X';
    assert_int_equal(parse_exact(buf, 1, 1024, &f), ERR_PROTOCOL);
    assert_int_equal(parse_exact(buf, len, 1024, &f), ERR_PROTOCOL);
    put_frame(buf, 16, "x", 1);
    buf[1] = 'X';
    assert_int_equal(parse_exact(buf, 2, 1024, &f), ERR_PROTOCOL);
    put_frame(buf, 16, "x", 1);
    buf[2] = 2;
    assert_int_equal(parse_exact(buf, 3, 1024, &f), ERR_PROTOCOL);
}

static void test_oversized_length_refused_from_header_alone(void **state)
{
    uint8_t h[PEER_FRAME_HEADER_LEN];
    struct peer_frame f;
    peer_frame_header(h, 16, 1025);
    assert_int_equal(parse_exact(h, sizeof(h), 1024, &f), ERR_TOOBIG);
    peer_frame_header(h, 16, 1024);
    assert_int_equal(parse_exact(h, sizeof(h), 1024, &f), 0);
    peer_frame_header(h, 16, UINT32_MAX);
    assert_int_equal(parse_exact(h, sizeof(h), PEER_FRAME_LIMIT, &f),
                     ERR_TOOBIG);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random bytes, and valid streams with random bytes flipped, consumed
 * frame by frame as the link does: never a crash, never an over-read, and
 * every accepted frame lies inside the input. */
static void test_random_input_never_crashes_or_over_reads(void **state)
{
    uint8_t buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = next_rand() % sizeof(buf);
        if (iter & 1) {
            size_t off = 0;
            while (off + PEER_FRAME_HEADER_LEN + 16 < sizeof(buf)) {
                size_t n = next_rand() % 16;
                off += put_frame(buf + off, 16, "abcdefghijklmnop", n);
            }
            len = off;
            for (int k = next_rand() % 3; k > 0; k--)
                buf[next_rand() % len] ^= (uint8_t)next_rand();
        } else {
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)next_rand();
        }
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        size_t off = 0;
        for (;;) {
            struct peer_frame f;
            int r = peer_frame_parse(copy + off, len - off, 64, &f);
            if (r <= 0)
                break;
            assert_true(f.payload + f.len <= copy + len);
            assert_true(f.len <= 64);
            off += (size_t)r;
        }
        assert_true(off <= len);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_is_big_endian_magic_version_type_length),
        cmocka_unit_test(test_frames_round_trip_back_to_back),
        cmocka_unit_test(test_every_truncation_needs_more_bytes),
        cmocka_unit_test(test_bad_magic_or_version_is_protocol_error),
        cmocka_unit_test(test_oversized_length_refused_from_header_alone),
        cmocka_unit_test(test_random_input_never_crashes_or_over_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
