/* Specification tests of the message codec: every type survives a round
 * trip, entry and chunk bytes are slices of the input (zero copy), a
 * partial frame asks for more, and malformed input (wrong version, type,
 * lengths, flags, trailing bytes, random bytes, every single-byte
 * mutation) is rejected with an error and never read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "raft/raft.h"

static struct raft_entry entries[3] = {
    {.term = 3, .data = (const uint8_t *)"hello", .len = 5,
     .type = RAFT_ENTRY_NORMAL},
    {.term = 3, .data = NULL, .len = 0, .type = RAFT_ENTRY_NOOP},
    {.term = 4, .data = (const uint8_t *)"*1\r\n$4\r\nPING\r\n", .len = 14,
     .type = RAFT_ENTRY_NORMAL},
};

static const uint8_t chunk[] = "0123456789";

/* One message of each type, with every field set. */
static struct raft_msg sample(uint8_t type)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = 0x0102030405060708ULL;
    m.to = 2;
    m.term = 77;
    switch (type) {
    case RAFT_MSG_APPEND:
        m.append = (struct raft_msg_append){10, 3, 9, 3, entries};
        break;
    case RAFT_MSG_APPEND_RESP:
        m.append_resp = (struct raft_msg_append_resp){12, 7, 2, true, true};
        break;
    case RAFT_MSG_VOTE:
        m.vote = (struct raft_msg_vote){100, 6, true, true};
        break;
    case RAFT_MSG_VOTE_RESP:
        m.vote_resp = (struct raft_msg_vote_resp){true, true};
        break;
    case RAFT_MSG_HEARTBEAT:
        m.heartbeat = (struct raft_msg_heartbeat){55, 1234};
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        m.heartbeat_resp.seq = 1234;
        break;
    case RAFT_MSG_SNAPSHOT:
        m.snapshot.meta.index = 500;
        m.snapshot.meta.term = 6;
        m.snapshot.meta.size = 30;
        m.snapshot.meta.config.n = 2;
        m.snapshot.meta.config.max_id = 5;
        m.snapshot.meta.config.servers[0] = (struct raft_server){1, RAFT_VOTER};
        m.snapshot.meta.config.servers[1] = (struct raft_server){5, RAFT_LEARNER};
        m.snapshot.offset = 20;
        m.snapshot.len = 10;
        m.snapshot.last = true;
        m.snapshot.data = chunk;
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        m.snapshot_resp = (struct raft_msg_snapshot_resp){500, 20, true, false};
        break;
    case RAFT_MSG_READ_INDEX:
        m.read_index.req_id = 99;
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        m.read_index_resp = (struct raft_msg_read_index_resp){99, 44, true};
        break;
    }
    return m;
}

static int encode(const struct raft_msg *m, uint8_t *buf, size_t cap)
{
    int n = raft_msg_encode(m, buf, cap);
    assert_true(n > 0);
    assert_int_equal((size_t)n, raft_msg_encoded_size(m));
    return n;
}

static void test_every_message_type_survives_a_round_trip(void **state)
{
    uint8_t buf[1024];
    for (uint8_t t = 1; t <= RAFT_MSG_TYPE_MAX; t++) {
        struct raft_msg m = sample(t), d;
        int n = encode(&m, buf, sizeof(buf));
        assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d), n);
        assert_int_equal(d.type, t);
        assert_int_equal(d.from, m.from);
        assert_int_equal(d.to, m.to);
        assert_int_equal(d.term, m.term);
        if (t == RAFT_MSG_APPEND) {
            assert_int_equal(d.append.n_entries, 3);
            assert_int_equal(d.append.prev_index, 10);
            assert_int_equal(d.append.commit, 9);
            for (int i = 0; i < 3; i++) {
                assert_int_equal(d.append.entries[i].len, entries[i].len);
                assert_int_equal(d.append.entries[i].term, entries[i].term);
                assert_int_equal(d.append.entries[i].type, entries[i].type);
                assert_memory_equal(d.append.entries[i].data, entries[i].data,
                                    entries[i].len);
            }
        } else if (t == RAFT_MSG_SNAPSHOT) {
            assert_int_equal(d.snapshot.meta.index, 500);
            assert_int_equal(d.snapshot.meta.config.n, 2);
            assert_int_equal(d.snapshot.meta.config.servers[1].role,
                             RAFT_LEARNER);
            assert_memory_equal(d.snapshot.data, chunk, 10);
            assert_true(d.snapshot.last);
        } else {
            /* the fixed fields are plain values: compare them whole */
            assert_memory_equal(&d.append_resp, &m.append_resp,
                                sizeof(m.append_resp));
        }
        raft_msg_decoded_free(NULL, &d);
    }
}

static void test_entry_payloads_are_slices_of_the_received_buffer(void **state)
{
    uint8_t buf[1024];
    struct raft_msg m = sample(RAFT_MSG_APPEND), d;
    int n = encode(&m, buf, sizeof(buf));
    struct raft_buf owner = {.refs = 1};
    assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, &owner, &d), n);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(d.append.entries[i].buf, &owner);
        if (d.append.entries[i].len > 0) {
            assert_true(d.append.entries[i].data > buf &&
                        d.append.entries[i].data < buf + n);
        }
    }
    raft_msg_decoded_free(NULL, &d);
}

static void test_partial_frame_asks_for_more(void **state)
{
    uint8_t buf[1024];
    for (uint8_t t = 1; t <= RAFT_MSG_TYPE_MAX; t++) {
        struct raft_msg m = sample(t), d;
        int n = encode(&m, buf, sizeof(buf));
        for (int k = 0; k < n; k++) {
            uint8_t *copy = malloc((size_t)k + 1);
            memcpy(copy, buf, (size_t)k);
            assert_int_equal(raft_msg_decode(NULL, copy, (size_t)k, NULL, &d), 0);
            free(copy);
        }
    }
}

static void test_frame_with_wrong_version_or_type_is_rejected(void **state)
{
    uint8_t buf[1024];
    struct raft_msg m = sample(RAFT_MSG_VOTE), d;
    int n = encode(&m, buf, sizeof(buf));
    buf[0] = RAFT_MSG_VERSION + 1;
    assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d), ERR_PROTOCOL);
    buf[0] = RAFT_MSG_VERSION;
    buf[1] = RAFT_MSG_TYPE_MAX + 1;
    assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d), ERR_PROTOCOL);
    buf[1] = 0;
    assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d), ERR_PROTOCOL);
}

static void test_frame_length_must_match_the_contents(void **state)
{
    uint8_t buf[1024];
    for (uint8_t t = 1; t <= RAFT_MSG_TYPE_MAX; t++) {
        struct raft_msg m = sample(t), d;
        int n = encode(&m, buf, sizeof(buf));
        /* one byte more in the frame: trailing garbage */
        buf[n] = 0;
        buf[4] = (uint8_t)(n + 1);
        assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n + 1, NULL, &d),
                         ERR_PROTOCOL);
        /* one byte less: the contents run past the frame */
        buf[4] = (uint8_t)(n - 1);
        assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d),
                         ERR_PROTOCOL);
    }
}

static void test_entry_count_larger_than_the_frame_is_rejected_early(void **state)
{
    uint8_t buf[1024];
    struct raft_msg m = sample(RAFT_MSG_APPEND), d;
    int n = encode(&m, buf, sizeof(buf));
    /* n_entries sits after the 32-byte header and three u64 */
    memset(buf + 32 + 24, 0xff, 4);
    assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d), ERR_PROTOCOL);
}

static void test_unknown_flag_bits_are_rejected(void **state)
{
    uint8_t buf[1024];
    struct raft_msg m = sample(RAFT_MSG_VOTE_RESP), d;
    int n = encode(&m, buf, sizeof(buf));
    buf[n - 1] |= 0x80;
    assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d), ERR_PROTOCOL);
    m = sample(RAFT_MSG_APPEND_RESP);
    n = encode(&m, buf, sizeof(buf));
    buf[n - 1] = 4; /* reject and lost are the only flags */
    assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d), ERR_PROTOCOL);
}

static void test_snapshot_chunk_beyond_its_size_is_rejected(void **state)
{
    uint8_t buf[1024];
    struct raft_msg m = sample(RAFT_MSG_SNAPSHOT), d;
    m.snapshot.offset = 25; /* 25 + 10 > 30 */
    m.snapshot.last = false;
    int n = encode(&m, buf, sizeof(buf));
    assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d), ERR_PROTOCOL);
}

static void test_snapshot_header_leaves_the_chunk_to_the_caller(void **state)
{
    uint8_t buf[1024], whole[1024];
    struct raft_msg m = sample(RAFT_MSG_SNAPSHOT), d;
    int n = encode(&m, whole, sizeof(whole));
    m.snapshot.data = NULL;
    int h = raft_msg_encode_header(&m, buf, sizeof(buf));
    assert_int_equal(h, n - 10);
    memcpy(buf + h, chunk, 10); /* as a transport streaming the file */
    assert_memory_equal(buf, whole, (size_t)n);
    assert_int_equal(raft_msg_decode(NULL, buf, (size_t)n, NULL, &d), n);
    assert_int_equal(raft_msg_encode(&m, buf, sizeof(buf)), ERR_INVALID);
}

static void test_append_header_and_entry_headers_compose_the_frame(void **state)
{
    uint8_t whole[1024], parts[1024];
    struct raft_msg m = sample(RAFT_MSG_APPEND), d;
    int n = encode(&m, whole, sizeof(whole));
    int h = raft_msg_encode_header(&m, parts, sizeof(parts));
    assert_int_equal(h, 32 + 28);
    size_t at = (size_t)h;
    for (uint32_t i = 0; i < m.append.n_entries; i++) {
        raft_msg_encode_entry_header(&entries[i], parts + at);
        at += RAFT_MSG_ENTRY_HEADER;
        if (entries[i].len > 0) {
            memcpy(parts + at, entries[i].data, entries[i].len);
        }
        at += entries[i].len;
    }
    assert_int_equal(at, (size_t)n);
    assert_memory_equal(parts, whole, (size_t)n);
    assert_int_equal(raft_msg_decode(NULL, parts, at, NULL, &d), n);
    raft_msg_decoded_free(NULL, &d);
}

static void test_encoder_refuses_short_buffers_and_bad_messages(void **state)
{
    uint8_t buf[1024];
    struct raft_msg m = sample(RAFT_MSG_APPEND);
    size_t n = raft_msg_encoded_size(&m);
    assert_int_equal(raft_msg_encode(&m, buf, n - 1), ERR_TOOBIG);
    m.type = 0;
    assert_int_equal(raft_msg_encode(&m, buf, sizeof(buf)), ERR_INVALID);
    m = sample(RAFT_MSG_APPEND);
    m.append.entries = NULL;
    assert_int_equal(raft_msg_encode(&m, buf, sizeof(buf)), ERR_INVALID);
}

static void test_every_single_byte_mutation_is_handled(void **state)
{
    uint8_t buf[1024];
    for (uint8_t t = 1; t <= RAFT_MSG_TYPE_MAX; t++) {
        struct raft_msg m = sample(t), d;
        int n = encode(&m, buf, sizeof(buf));
        for (int i = 0; i < n; i++) {
            for (int v = 0; v < 256; v += 51) {
                uint8_t *copy = malloc((size_t)n);
                memcpy(copy, buf, (size_t)n);
                copy[i] ^= (uint8_t)(v | 1);
                int rv = raft_msg_decode(NULL, copy, (size_t)n, NULL, &d);
                assert_true(rv <= n);
                if (rv > 0) {
                    raft_msg_decoded_free(NULL, &d);
                }
                free(copy);
            }
        }
    }
}

static void test_random_bytes_never_crash_the_decoder(void **state)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 1 + (size_t)(x % 200);
        uint8_t *p = malloc(len);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[i] = (uint8_t)x;
        }
        /* half the time make the header plausible to reach the bodies */
        if (iter % 2 == 0 && len >= 8) {
            p[0] = RAFT_MSG_VERSION;
            p[1] = (uint8_t)(1 + p[1] % RAFT_MSG_TYPE_MAX);
            p[2] = p[3] = 0;
            p[4] = (uint8_t)len;
            p[5] = p[6] = p[7] = 0;
        }
        struct raft_msg d;
        int rv = raft_msg_decode(NULL, p, len, NULL, &d);
        assert_true(rv <= (int)len);
        if (rv > 0) {
            raft_msg_decoded_free(NULL, &d);
        }
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_message_type_survives_a_round_trip),
        cmocka_unit_test(test_entry_payloads_are_slices_of_the_received_buffer),
        cmocka_unit_test(test_partial_frame_asks_for_more),
        cmocka_unit_test(test_frame_with_wrong_version_or_type_is_rejected),
        cmocka_unit_test(test_frame_length_must_match_the_contents),
        cmocka_unit_test(test_entry_count_larger_than_the_frame_is_rejected_early),
        cmocka_unit_test(test_unknown_flag_bits_are_rejected),
        cmocka_unit_test(test_snapshot_chunk_beyond_its_size_is_rejected),
        cmocka_unit_test(test_snapshot_header_leaves_the_chunk_to_the_caller),
        cmocka_unit_test(test_append_header_and_entry_headers_compose_the_frame),
        cmocka_unit_test(test_encoder_refuses_short_buffers_and_bad_messages),
        cmocka_unit_test(test_every_single_byte_mutation_is_handled),
        cmocka_unit_test(test_random_bytes_never_crash_the_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
