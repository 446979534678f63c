/* The RESP parser against itself: every stream is parsed once as a whole
 * buffer (the reference) and again fed byte by byte and in seeded random
 * splits, the way a connection's query buffer fills; the commands and the
 * final error must be the same. Limits and error texts are Redis 7's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "resp/resp.h"

#define MAX_BULK (512LL * 1024 * 1024)

/* Parses `in` delivered in chunks of the given sizes (0-terminated list,
 * or whole if NULL) as a connection would, and describes what came out:
 * "argc:len=bytes,...;" per command, then "ERR:<text>" on an error. */
static char *run(const char *in, size_t len, const size_t *chunks,
                 long long max_bulk)
{
    struct resp_parser p;
    resp_parser_init(&p, max_bulk, NULL);
    char *qbuf = malloc(len + 1);
    size_t qlen = 0, qpos = 0, fed = 0;
    size_t outcap = 4096 + len * 8, outlen = 0;
    char *out = malloc(outcap);
    out[0] = '\0';
    int ci = 0;
    while (fed < len) {
        size_t n = chunks && chunks[ci] ? chunks[ci++] : len - fed;
        if (n > len - fed)
            n = len - fed;
        /* compact like conn.c, so offsets must survive the move */
        memmove(qbuf, qbuf + qpos, qlen - qpos);
        qlen -= qpos;
        qpos = 0;
        memcpy(qbuf + qlen, in + fed, n);
        qlen += n;
        fed += n;
        for (;;) {
            long rv = resp_parse(&p, qbuf + qpos, qlen - qpos);
            if (rv == 0)
                break;
            if (rv < 0) {
                outlen += (size_t)snprintf(out + outlen, outcap - outlen,
                                           "ERR:%s", p.errmsg);
                goto done;
            }
            qpos += (size_t)rv;
            outlen += (size_t)snprintf(out + outlen, outcap - outlen, "%d:", p.argc);
            for (int i = 0; i < p.argc; i++) {
                outlen += (size_t)snprintf(out + outlen, outcap - outlen, "%zu=",
                                           p.argv[i].len);
                memcpy(out + outlen, p.argv[i].ptr, p.argv[i].len);
                outlen += p.argv[i].len;
                out[outlen++] = ',';
                out[outlen] = '\0';
            }
            out[outlen++] = ';';
            out[outlen] = '\0';
            if (qpos == qlen)
                break;
        }
    }
done:
    resp_parser_free(&p);
    free(qbuf);
    return out;
}

static char *run_whole(const char *in)
{
    return run(in, strlen(in), NULL, MAX_BULK);
}

/* Asserts that `in`, parsed whole, is described as `want` (see run). */
static void assert_parses_to(const char *in, const char *want)
{
    char *out = run_whole(in);
    assert_string_equal(out, want);
    free(out);
}

static const char *const streams[] = {
    "*1\r\n$4\r\nPING\r\n",
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
    "PING\r\nset a b\r\nget a\n",
    "set a \"b c\\x41\\n\" 'it\\'s'\r\n",
    "*2\r\n$3\r\nGET\r\n$0\r\n\r\n",
    "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n",
    "\r\n\r\n   \r\nPING\r\n",
    "*2\r\n$3\r\nGET\r\n$x\r\n",
    "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
    "*1\r\nPING\r\n",
    "set a \"unbalanced\r\n",
    "*2\r\n$3\r\nSET\r\n$-1\r\n",
    "*1\r\n$10\r\n0123456789\r\n*1\r\n$10\r\n0123456789\r\n*1\r\n$1\r\nx\r\n",
    "*abc\r\n",
    "*1\r\n$4\r\nECHO\r\n*1\r\n$1\r\n",
};
#define NSTREAMS (sizeof(streams) / sizeof(streams[0]))

static void test_whole_buffer_parses_pipelined_commands(void **state)
{
    assert_parses_to(streams[1], "3:3=SET,3=key,5=value,;2:3=GET,3=key,;");
    assert_parses_to(streams[2], "1:4=PING,;3:3=set,1=a,1=b,;2:3=get,1=a,;");
}

static void test_inline_quotes_are_unescaped_in_place(void **state)
{
    assert_parses_to(streams[3], "4:3=set,1=a,5=b cA\n,4=it's,;");
}

static void test_empty_commands_are_skipped_with_argc_zero(void **state)
{
    assert_parses_to(streams[5], "0:;0:;1:4=PING,;");
    assert_parses_to(streams[6], "0:;0:;0:;1:4=PING,;");
}

static void test_byte_by_byte_matches_whole_buffer(void **state)
{
    for (size_t s = 0; s < NSTREAMS; s++) {
        size_t len = strlen(streams[s]);
        size_t *ones = malloc((len + 1) * sizeof(size_t));
        for (size_t i = 0; i < len; i++)
            ones[i] = 1;
        ones[len] = 0;
        char *whole = run_whole(streams[s]);
        char *bytes = run(streams[s], len, ones, MAX_BULK);
        assert_string_equal(bytes, whole);
        free(whole);
        free(bytes);
        free(ones);
    }
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_random_splits_match_whole_buffer(void **state)
{
    uint64_t seed = 0x5eed1234abcdULL;
    for (int round = 0; round < 300; round++) {
        const char *in = streams[rng_next(&seed) % NSTREAMS];
        size_t len = strlen(in);
        size_t chunks[64];
        int n = 0;
        for (size_t left = len; left > 0 && n < 63; n++) {
            size_t c = 1 + rng_next(&seed) % (len < 8 ? len : len / 3 + 1);
            chunks[n] = c;
            left = c > left ? 0 : left - c;
        }
        chunks[n] = 0;
        char *whole = run_whole(in);
        char *split = run(in, len, chunks, MAX_BULK);
        if (strcmp(whole, split) != 0)
            fail_msg("seed round %d: '%s' vs '%s'", round, whole, split);
        free(whole);
        free(split);
    }
}

struct err_case {
    const char *in;
    const char *err;
};

static void test_protocol_errors_have_redis_texts(void **state)
{
    static const struct err_case cases[] = {
        {"*abc\r\n", "ERR:Protocol error: invalid multibulk length"},
        {"*3000000000\r\n", "ERR:Protocol error: invalid multibulk length"},
        {"*1\r\nPING\r\n", "ERR:Protocol error: expected '$', got 'P'"},
        {"*1\r\n$x\r\n", "ERR:Protocol error: invalid bulk length"},
        {"*1\r\n$-1\r\n", "ERR:Protocol error: invalid bulk length"},
        {"*1\r\n$+1\r\n", "ERR:Protocol error: invalid bulk length"},
        {"*1\r\n$01\r\n", "ERR:Protocol error: invalid bulk length"},
        {"set a \"b\r\n", "ERR:Protocol error: unbalanced quotes in request"},
        {"set a \"b\"c\r\n", "ERR:Protocol error: unbalanced quotes in request"},
        {"set a 'b\r\n", "ERR:Protocol error: unbalanced quotes in request"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_parses_to(cases[i].in, cases[i].err);
    }
}

static void test_commands_before_an_error_are_returned_first(void **state)
{
    assert_parses_to("PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n",
                     "1:4=PING,;1:4=PING,;ERR:Protocol error: invalid multibulk length");
}

static char *filled(char c, size_t n)
{
    char *b = malloc(n + 1);
    memset(b, c, n);
    b[n] = '\0';
    return b;
}

static void test_too_big_inline_and_count_lines(void **state)
{
    char *big = filled('a', RESP_INLINE_MAX + 1);
    assert_parses_to(big, "ERR:Protocol error: too big inline request");
    big[0] = '*';
    assert_parses_to(big, "ERR:Protocol error: too big mbulk count string");
    free(big);
    /* exactly the limit without a newline is still "need more" */
    big = filled('a', RESP_INLINE_MAX);
    assert_parses_to(big, "");
    free(big);
    char *hdr = filled('1', RESP_INLINE_MAX + 8);
    memcpy(hdr, "*1\r\n$", 5);
    assert_parses_to(hdr, "ERR:Protocol error: too big bulk count string");
    free(hdr);
}

static void test_bulk_length_above_proto_max_bulk_len(void **state)
{
    const char *in = "*1\r\n$2048\r\n";
    char *out = run(in, strlen(in), NULL, 1024);
    assert_string_equal(out, "ERR:Protocol error: invalid bulk length");
    free(out);
    out = run(in, strlen(in), NULL, 4096);
    assert_string_equal(out, "");
    free(out);
}

static void test_unauthenticated_clients_get_smaller_limits(void **state)
{
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK, NULL);
    p.unauthenticated = 1;
    char many[] = "*11\r\n";
    assert_true(resp_parse(&p, many, strlen(many)) < 0);
    assert_string_equal(p.errmsg, "Protocol error: unauthenticated multibulk length");
    resp_parser_free(&p);
    resp_parser_init(&p, MAX_BULK, NULL);
    p.unauthenticated = 1;
    char big[] = "*1\r\n$16385\r\n";
    assert_true(resp_parse(&p, big, strlen(big)) < 0);
    assert_string_equal(p.errmsg, "Protocol error: unauthenticated bulk length");
    resp_parser_free(&p);
    resp_parser_init(&p, MAX_BULK, NULL);
    p.unauthenticated = 1;
    char ok[] = "*10\r\n$16384\r\n";
    assert_int_equal(resp_parse(&p, ok, strlen(ok)), 0);
    resp_parser_free(&p);
}

static void test_error_is_sticky(void **state)
{
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK, NULL);
    char bad[] = "*x\r\n";
    char good[] = "PING\r\n";
    assert_true(resp_parse(&p, bad, strlen(bad)) < 0);
    assert_int_equal(resp_parse(&p, good, strlen(good)), ERR_PROTOCOL);
    resp_parser_free(&p);
}

static void test_need_hint_covers_a_big_bulk(void **state)
{
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK, NULL);
    char in[] = "*2\r\n$3\r\nSET\r\n$100000\r\nabc";
    assert_int_equal(resp_parse(&p, in, strlen(in)), 0);
    assert_int_equal(p.need, strlen("*2\r\n$3\r\nSET\r\n$100000\r\n") + 100000 + 2);
    resp_parser_free(&p);
}

static void test_many_arguments_grow_argv(void **state)
{
    size_t cap = 64 * 3000, len = 0;
    char *in = malloc(cap);
    len += (size_t)sprintf(in, "*2000\r\n");
    for (int i = 0; i < 2000; i++)
        len += (size_t)sprintf(in + len, "$1\r\n%c\r\n", 'a' + i % 26);
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK, NULL);
    assert_int_equal(resp_parse(&p, in, len), (long)len);
    assert_int_equal(p.argc, 2000);
    assert_memory_equal(p.argv[1999].ptr, "x", 1);
    resp_parser_free(&p);
    free(in);
}

static int realloc_budget;
static void *failing_realloc(void *ptr, size_t size)
{
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (realloc_budget-- <= 0)
        return NULL;
    return realloc(ptr, size);
}

static void test_argv_allocation_failure_is_an_error_not_a_crash(void **state)
{
    struct resp_parser p;
    realloc_budget = 0;
    resp_parser_init(&p, MAX_BULK, failing_realloc);
    char in[] = "*1\r\n$4\r\nPING\r\n";
    assert_int_equal(resp_parse(&p, in, strlen(in)), ERR_NOMEM);
    resp_parser_free(&p);
}

static void test_string_to_ll_is_strict_like_redis(void **state)
{
    long long v;
    assert_true(resp_string_to_ll("0", 1, &v) && v == 0);
    assert_true(resp_string_to_ll("-12", 3, &v) && v == -12);
    assert_true(resp_string_to_ll("9223372036854775807", 19, &v) && v == INT64_MAX);
    assert_true(resp_string_to_ll("-9223372036854775808", 20, &v) && v == INT64_MIN);
    assert_false(resp_string_to_ll("9223372036854775808", 19, &v));
    assert_false(resp_string_to_ll("01", 2, &v));
    assert_false(resp_string_to_ll("+1", 2, &v));
    assert_false(resp_string_to_ll("-0", 2, &v));
    assert_false(resp_string_to_ll(" 1", 2, &v));
    assert_false(resp_string_to_ll("", 0, &v));
    assert_false(resp_string_to_ll("-", 1, &v));
}

static void test_split_args_matches_sdssplitargs(void **state)
{
    struct resp_arg argv[8];
    char l1[] = "  a  \"b\\tc\"   'd\\'e' \"\\x4a\\x4\"";
    int n = resp_split_args(l1, strlen(l1), argv, 8);
    assert_int_equal(n, 4);
    assert_memory_equal(argv[1].ptr, "b\tc", 3);
    assert_memory_equal(argv[2].ptr, "d'e", 3);
    assert_int_equal(argv[3].len, 3);
    assert_memory_equal(argv[3].ptr, "Jx4", 3);
    char l2[] = "a\"b c\"";
    n = resp_split_args(l2, strlen(l2), argv, 8);
    assert_int_equal(n, 1);
    assert_memory_equal(argv[0].ptr, "ab c", 4);
    char l3[] = "a b c";
    assert_int_equal(resp_split_args(l3, strlen(l3), argv, 2), -1);
}


/* A large last value is handed out in pieces (the connection puts them
 * straight into the value's entry): the bytes already in the buffer at
 * the offer, then every later piece, and the command comes out once its
 * CRLF has arrived, with the value's argv ptr NULL. Fed in seeded random
 * splits, with the next command pipelined behind it. */
static void test_large_last_value_is_handed_out_in_pieces(void **state)
{
    (void)state;
    const size_t vlen = 200000;
    char *value = malloc(vlen), *placed = malloc(vlen);
    for (size_t i = 0; i < vlen; i++)
        value[i] = (char)('a' + (i * 7) % 26);
    char head[64];
    int hl = snprintf(head, sizeof(head), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", vlen);
    const char *tail = "\r\n*1\r\n$4\r\nPING\r\n";
    size_t total = (size_t)hl + vlen + strlen(tail);
    char *wire = malloc(total);
    memcpy(wire, head, (size_t)hl);
    memcpy(wire + hl, value, vlen);
    memcpy(wire + hl + vlen, tail, strlen(tail));
    for (unsigned seed = 1; seed <= 20; seed++) {
        srand(seed);
        struct resp_parser p;
        resp_parser_init(&p, MAX_BULK, NULL);
        p.big_min = 16384;
        char *qbuf = malloc(total);
        size_t qlen = 0, fed = 0, put = 0;
        int pieces = 0, commands = 0;
        while (fed < total) {
            size_t n = 1 + (size_t)rand() % (seed % 2 ? 70000 : 300);
            if (n > total - fed)
                n = total - fed;
            size_t want = resp_big_want(&p);
            size_t into_value = n < want ? n : want;
            if (into_value) { /* the connection's readv: value, then qbuf */
                memcpy(placed + put, wire + fed, into_value);
                put += into_value;
                resp_big_put(&p, into_value);
                pieces++;
            }
            memcpy(qbuf + qlen, wire + fed + into_value, n - into_value);
            qlen += n - into_value;
            fed += n;
            size_t qpos = 0;
            for (;;) {
                long rv = resp_parse(&p, qbuf + qpos, qlen - qpos);
                assert_true(rv >= 0);
                if (rv == 0 && p.big == RESP_BIG_OFFERED) {
                    assert_int_equal(p.argc, 2);
                    assert_int_equal(p.bulk_len, (long long)vlen);
                    struct resp_arg first;
                    resp_big_accept(&p, qbuf + qpos, qlen - qpos, &first);
                    memcpy(placed + put, first.ptr, first.len);
                    put += first.len;
                    qlen -= first.len;
                    pieces++;
                    continue;
                }
                if (rv == 0)
                    break;
                commands++;
                if (commands == 1) {
                    assert_int_equal(p.argc, 3);
                    assert_int_equal(p.big_arg, 2);
                    assert_null(p.argv[2].ptr);
                    assert_int_equal(p.argv[2].len, vlen);
                    assert_memory_equal(p.argv[1].ptr, "k", 1);
                } else {
                    assert_int_equal(p.argc, 1);
                    assert_memory_equal(p.argv[0].ptr, "PING", 4);
                }
                qpos += (size_t)rv;
            }
            memmove(qbuf, qbuf + qpos, qlen - qpos);
            qlen -= qpos;
        }
        assert_int_equal(commands, 2);
        assert_int_equal(put, vlen);
        assert_true(pieces > 1);
        assert_memory_equal(placed, value, vlen);
        free(qbuf);
        resp_parser_free(&p);
    }
    free(wire);
    free(value);
    free(placed);
}

/* Declining the offer (or ignoring it) parses the value from the buffer
 * as usual; a value below big_min, or not the last argument, or all here
 * already, is never offered. */
static void test_declined_or_small_values_stay_in_the_buffer(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK, NULL);
    p.big_min = 16;
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20\r\n0123");
    assert_int_equal(resp_parse(&p, buf, (size_t)n), 0);
    assert_int_equal(p.big, RESP_BIG_OFFERED);
    resp_big_decline(&p);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "4567890123456789\r\n");
    assert_int_equal(resp_parse(&p, buf, (size_t)n), n);
    assert_int_equal(p.big_arg, -1);
    assert_memory_equal(p.argv[2].ptr, "01234567890123456789", 20);
    /* not the last argument */
    n = snprintf(buf, sizeof(buf), "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$20\r\n0123");
    assert_int_equal(resp_parse(&p, buf, (size_t)n), 0);
    assert_int_equal(p.big, RESP_BIG_NONE);
    resp_parser_free(&p);
    /* all here already */
    resp_parser_init(&p, MAX_BULK, NULL);
    p.big_min = 16;
    n = snprintf(buf, sizeof(buf), "*2\r\n$3\r\nSET\r\n$20\r\n01234567890123456789\r");
    assert_int_equal(resp_parse(&p, buf, (size_t)n), 0);
    assert_int_equal(p.big, RESP_BIG_NONE);
    resp_parser_free(&p);
}

static void test_peek_arg_finds_an_argument_or_says_it_is_not_there(
    void **state)
{
    const char *cmd = "*3\r\n$3\r\nSET\r\n$5\r\nk:123\r\n$2\r\nvv\r\n";
    struct resp_arg a;
    assert_int_equal(resp_peek_arg(cmd, strlen(cmd), 1, &a), 1);
    assert_int_equal(a.len, 5);
    assert_memory_equal(a.ptr, "k:123", 5);
    assert_int_equal(resp_peek_arg(cmd, strlen(cmd), 2, &a), 1);
    assert_memory_equal(a.ptr, "vv", 2);
    assert_int_equal(resp_peek_arg(cmd, strlen(cmd), 3, &a), 0);
    assert_int_equal(resp_peek_arg(cmd, strlen(cmd), -1, &a), 0);
    /* cut anywhere before the key's end: not there */
    for (size_t n = 0; n < 24; n++)
        assert_int_equal(resp_peek_arg(cmd, n, 1, &a), 0);
    const char *bad[] = {"PING\r\n", "*2\r\n+OK\r\n$1\r\nk\r\n",
                         "*2\r\n$3\r\nGET\r\n$x\r\nk\r\n",
                         "*2\r\n$3\r\nGET\r\n$1\nk\r\n",
                         "*1\r\n$4\r\nPING\r\n",
                         "*2\r\n$99999999999999999999\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(resp_peek_arg(bad[i], strlen(bad[i]), 1, &a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_buffer_parses_pipelined_commands),
        cmocka_unit_test(test_inline_quotes_are_unescaped_in_place),
        cmocka_unit_test(test_empty_commands_are_skipped_with_argc_zero),
        cmocka_unit_test(test_byte_by_byte_matches_whole_buffer),
        cmocka_unit_test(test_random_splits_match_whole_buffer),
        cmocka_unit_test(test_protocol_errors_have_redis_texts),
        cmocka_unit_test(test_commands_before_an_error_are_returned_first),
        cmocka_unit_test(test_too_big_inline_and_count_lines),
        cmocka_unit_test(test_bulk_length_above_proto_max_bulk_len),
        cmocka_unit_test(test_unauthenticated_clients_get_smaller_limits),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_need_hint_covers_a_big_bulk),
        cmocka_unit_test(test_many_arguments_grow_argv),
        cmocka_unit_test(test_argv_allocation_failure_is_an_error_not_a_crash),
        cmocka_unit_test(test_string_to_ll_is_strict_like_redis),
        cmocka_unit_test(test_split_args_matches_sdssplitargs),
        cmocka_unit_test(test_large_last_value_is_handed_out_in_pieces),
        cmocka_unit_test(test_declined_or_small_values_stay_in_the_buffer),
        cmocka_unit_test(
            test_peek_arg_finds_an_argument_or_says_it_is_not_there),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
