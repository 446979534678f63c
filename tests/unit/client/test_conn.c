/* The client room over a socketpair, driven one loop iteration at a time:
 * pipelined replies come back in order, a command split across writes is
 * served once complete, protocol errors are answered and then close the
 * connection, QUIT and CLIENT REPLY behave as Redis, and the query and
 * output buffer limits close a client. Real loop, pool, store and
 * commands; only the socket peer is the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"
#include "mem/pool.h"
#include "net/loop.h"
#include "store/store.h"

struct world {
    struct config cfg;
    struct loop *loop;
    struct pool *pool;
    struct metrics metrics;
    struct cmd_env env;
    struct client_server cs;
    struct loop_timer *tick;
};

static struct world w;

static void before_sleep(struct loop *loop, void *data)
{
    client_resume_paused(&w.cs);
    client_flush_pending(&w.cs);
}

static void tick(struct loop_timer *t, void *data)
{
}

static void no_shutdown(void *data)
{
}

static int group_setup(void **state)
{
    config_init(&w.cfg);
    w.loop = loop_create();
    assert_non_null(w.loop);
    assert_int_equal(pool_create(&w.pool, NULL), 0);
    assert_int_equal(store_create(&w.env.store, NULL), 0);
    metrics_init(&w.metrics);
    w.env.cfg = &w.cfg;
    w.env.metrics = &w.metrics;
    w.env.hooks.client_list = client_list_hook;
    w.env.hooks.client_kill = client_kill_hook;
    w.env.hooks.shutdown = no_shutdown;
    w.env.hooks.data = &w.cs;
    assert_int_equal(cmd_env_init(&w.env), 0);
    client_server_init(&w.cs, w.loop, w.pool, &w.cfg, &w.metrics, &w.env);
    loop_add_before_sleep(w.loop, before_sleep, NULL);
    /* A 1 ms tick so that one iteration never blocks the test. */
    w.tick = loop_timer_create(w.loop, 1, 1, tick, NULL);
    return 0;
}

/* Opens a connection; returns the test's end of the socketpair. */
static int connect_client(void)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    assert_non_null(conn__create(&w.cs, fds[0], 1));
    return fds[1];
}

static void pump(int n)
{
    for (int i = 0; i < n; i++)
        loop_run_once(w.loop);
}

static void send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EAGAIN) {
            pump(1);
            continue;
        }
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Reads what the server sent while pumping; *eof is set if it closed. */
static size_t collect(int fd, char *buf, size_t cap, size_t want, int *eof)
{
    size_t got = 0;
    *eof = 0;
    for (int i = 0; i < 2000 && got < want && !*eof; i++) {
        pump(1);
        for (;;) {
            ssize_t n = read(fd, buf + got, cap - got);
            if (n == 0) {
                *eof = 1;
                break;
            }
            if (n < 0)
                break;
            got += (size_t)n;
        }
    }
    return got;
}

static void test_pipelined_replies_come_back_in_order(void **state)
{
    int fd = connect_client();
    static char req[64 * 1000], expect[16 * 1000], got[16 * 1000];
    size_t rl = 0, el = 0;
    for (int i = 1; i <= 1000; i++) {
        rl += (size_t)sprintf(req + rl, "*2\r\n$4\r\nINCR\r\n$5\r\norder\r\n");
        el += (size_t)sprintf(expect + el, ":%d\r\n", i);
    }
    send_all(fd, req, rl);
    int eof;
    size_t n = collect(fd, got, sizeof(got), el, &eof);
    assert_int_equal(n, el);
    assert_memory_equal(got, expect, el);
    close(fd);
    pump(3);
}

static void test_command_split_across_writes_is_served_when_complete(void **state)
{
    int fd = connect_client();
    char got[64];
    int eof;
    const char *a = "*3\r\n$3\r\nSET\r\n$1", *b = "\r\nk\r\n$5\r\nval";
    const char *c = "ue\r\nGET k\r\n";
    send_all(fd, a, strlen(a));
    assert_int_equal(collect(fd, got, sizeof(got), 1, &eof), 0);
    send_all(fd, b, strlen(b));
    assert_int_equal(collect(fd, got, sizeof(got), 1, &eof), 0);
    send_all(fd, c, strlen(c));
    size_t n = collect(fd, got, sizeof(got), 16, &eof);
    assert_int_equal(n, 16);
    assert_memory_equal(got, "+OK\r\n$5\r\nvalue\r\n", 16);
    close(fd);
    pump(3);
}

static void test_protocol_error_is_answered_then_closes(void **state)
{
    int fd = connect_client();
    const char *in = "PING\r\n*1\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
    const char *want = "+PONG\r\n-ERR Protocol error: expected '$', got 'P'\r\n";
    char got[256];
    int eof;
    send_all(fd, in, strlen(in));
    size_t n = collect(fd, got, sizeof(got), sizeof(got), &eof);
    assert_true(eof);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
    close(fd);
}

static void test_quit_replies_ok_then_closes(void **state)
{
    int fd = connect_client();
    char got[64];
    int eof;
    send_all(fd, "QUIT\r\nPING\r\n", 12);
    size_t n = collect(fd, got, sizeof(got), sizeof(got), &eof);
    assert_true(eof);
    assert_int_equal(n, 5);
    assert_memory_equal(got, "+OK\r\n", 5);
    close(fd);
}

static void test_client_reply_off_and_skip(void **state)
{
    int fd = connect_client();
    const char *in = "CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\n"
                     "CLIENT REPLY SKIP\r\nPING\r\nECHO x\r\n";
    const char *want = "+OK\r\n$1\r\nx\r\n";
    char got[64];
    int eof;
    send_all(fd, in, strlen(in));
    size_t n = collect(fd, got, sizeof(got), strlen(want), &eof);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
    close(fd);
    pump(3);
}

static void test_query_buffer_limit_closes_without_reply(void **state)
{
    long long old = w.cfg.client_query_buffer_limit;
    w.cfg.client_query_buffer_limit = 1024 * 1024;
    int fd = connect_client();
    const char *hdr = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n";
    send_all(fd, hdr, strlen(hdr));
    static char junk[64 * 1024];
    memset(junk, 'x', sizeof(junk));
    int eof = 0;
    char got[64];
    size_t got_n = 0;
    for (int i = 0; i < 40 && !eof; i++) {
        ssize_t n = write(fd, junk, sizeof(junk));
        if (n < 0 && errno != EAGAIN)
            break;
        got_n += collect(fd, got, sizeof(got), 1, &eof);
    }
    if (!eof)
        got_n += collect(fd, got, sizeof(got), sizeof(got), &eof);
    assert_true(eof);
    assert_int_equal(got_n, 0);
    assert_true(w.metrics.client_qbuf_limit_disconnections >= 1);
    w.cfg.client_query_buffer_limit = old;
    close(fd);
}

static void test_output_buffer_hard_limit_closes_a_client_that_does_not_read(void **state)
{
    w.cfg.obuf[CONFIG_OBUF_NORMAL].hard_bytes = 100000;
    int fd = connect_client();
    static char big[200000];
    memset(big, 'v', sizeof(big));
    char hdr[64];
    int hl = sprintf(hdr, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%zu\r\n", sizeof(big));
    send_all(fd, hdr, (size_t)hl);
    send_all(fd, big, sizeof(big));
    send_all(fd, "\r\n", 2);
    for (int i = 0; i < 40; i++)
        send_all(fd, "GET big\r\n", 9);
    long long before = (long long)w.cs.nconns;
    pump(20);
    assert_true(w.metrics.client_obuf_limit_disconnections >= 1);
    assert_int_equal(w.cs.nconns, before - 1);
    w.cfg.obuf[CONFIG_OBUF_NORMAL].hard_bytes = 0;
    close(fd);
}


/* The connection of the one whose value is streaming (the newest). */
static struct conn *newest_conn(void)
{
    return w.cs.all;
}

/* A large SET value is read straight into its entry: while it streams the
 * query buffer never grows past one pool buffer, the value comes back
 * whole, and the command pipelined behind it runs. */
static void test_large_value_is_read_straight_into_its_entry(void **state)
{
    int fd = connect_client();
    struct conn *c = newest_conn();
    const size_t vlen = 1 << 20;
    char *value = malloc(vlen);
    for (size_t i = 0; i < vlen; i++)
        value[i] = (char)(i * 31 + 7);
    char hdr[64];
    int hl = sprintf(hdr, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%zu\r\n", vlen);
    send_all(fd, hdr, (size_t)hl);
    size_t maxcap = 0;
    srand(3);
    for (size_t off = 0; off < vlen;) {
        size_t n = 1 + (size_t)rand() % 50000;
        if (n > vlen - off)
            n = vlen - off;
        send_all(fd, value + off, n);
        off += n;
        pump(2);
        if (c->qcap > maxcap)
            maxcap = c->qcap;
    }
    assert_non_null(c->big.e);
    send_all(fd, "\r\nGET big\r\n", 11);
    size_t want = 5 + 10 + vlen + 2;
    char *got = malloc(want + 16);
    int eof;
    size_t n = collect(fd, got, want + 16, want, &eof);
    assert_int_equal(n, want);
    assert_memory_equal(got, "+OK\r\n$1048576\r\n", 15);
    assert_memory_equal(got + 15, value, vlen);
    assert_true(maxcap <= pool_buf_size(w.pool));
    assert_null(c->big.e);
    free(got);
    free(value);
    close(fd);
    pump(3);
}

/* A client that goes away in the middle of a large value gives its
 * reserved entry back; a value whose command fails (SETEX with a bad
 * time) is not stored and gives it back too. */
static void test_unpublished_large_values_are_given_back(void **state)
{
    struct store_memory before, after;
    store_memory(w.env.store, &before);
    int fd = connect_client();
    static char part[100000];
    memset(part, 'p', sizeof(part));
    const char *hdr = "*3\r\n$3\r\nSET\r\n$4\r\ngone\r\n$300000\r\n";
    send_all(fd, hdr, strlen(hdr));
    send_all(fd, part, sizeof(part));
    pump(3);
    assert_non_null(newest_conn()->big.e);
    close(fd);
    pump(3);
    store_memory(w.env.store, &after);
    assert_int_equal(after.slab_used, before.slab_used);

    fd = connect_client();
    const char *bad = "*4\r\n$5\r\nSETEX\r\n$3\r\nbad\r\n$2\r\nxx\r\n$100000\r\n";
    send_all(fd, bad, strlen(bad));
    send_all(fd, part, sizeof(part));
    send_all(fd, "\r\nEXISTS bad\r\n", 14);
    char got[128];
    int eof;
    const char *want = "-ERR value is not an integer or out of range\r\n:0\r\n";
    size_t n = collect(fd, got, sizeof(got), strlen(want), &eof);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
    store_memory(w.env.store, &after);
    assert_int_equal(after.slab_used, before.slab_used);
    close(fd);
    pump(3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_replies_come_back_in_order),
        cmocka_unit_test(test_command_split_across_writes_is_served_when_complete),
        cmocka_unit_test(test_protocol_error_is_answered_then_closes),
        cmocka_unit_test(test_quit_replies_ok_then_closes),
        cmocka_unit_test(test_client_reply_off_and_skip),
        cmocka_unit_test(test_query_buffer_limit_closes_without_reply),
        cmocka_unit_test(test_output_buffer_hard_limit_closes_a_client_that_does_not_read),
        cmocka_unit_test(test_large_value_is_read_straight_into_its_entry),
        cmocka_unit_test(test_unpublished_large_values_are_given_back),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
