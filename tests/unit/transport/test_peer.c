/* The transport over real loopback sockets inside one process: two or
 * three transports on free ports share one loop, driven by loop_run_once
 * with a short tick timer and a wall-clock bound on every wait. Covers the
 * handshake, thousands of frames in order (copied and zero-copy), the
 * queue bound and on_writable, wrong secrets, unknown ids and strangers
 * (nothing reaches on_frame), malformed and oversized frames, and
 * reconnection after a link or a whole node is killed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/loop.h"
#include "transport/transport.h"

#define MAX_NODES 3
#define SECRET "correct horse battery staple"
#define TYPE_DATA 16
#define TYPE_ZC 17

struct node {
    uint64_t id;
    struct peer_transport *t;
    int port;
    /* What arrived, per sender id (ids are 1..MAX_NODES). */
    uint32_t next_seq[MAX_NODES + 1];
    uint64_t received[MAX_NODES + 1];
    uint64_t out_of_order;
    uint64_t writable_calls;
    uint64_t gone[MAX_NODES + 1]; /* on_gone calls, per peer id */
    uint64_t bad_payload;
    char last_warning[ERRMSG_LEN];
    int warnings;
    bool echo;            /* answer every frame from inside on_frame */
    uint8_t remove_on;    /* remove the sender when a frame of this type
                           * arrives, from inside on_frame */
};

static struct loop *loop;
static struct loop_timer *tick;
static struct node nodes[MAX_NODES + 1];
static uint64_t released;
static uint32_t max_frame_of[MAX_NODES + 1]; /* 0: 1 MiB */
static int sockbuf; /* SO_SNDBUF/SO_RCVBUF of every node; 0: default */

static void on_tick(struct loop_timer *t, void *data)
{
}

static void on_frame(void *data, uint64_t from, uint8_t type,
                     const uint8_t *bytes, size_t len)
{
    struct node *n = data;
    uint32_t seq;
    if (n->remove_on != 0 && type == n->remove_on) {
        assert_int_equal(peer_remove(n->t, from), 0);
        return;
    }
    if (n->echo)
        assert_int_equal(peer_send(n->t, from, TYPE_DATA, bytes, len), 0);
    if (len < 4 || from > MAX_NODES) {
        n->bad_payload++;
        return;
    }
    memcpy(&seq, bytes, 4);
    /* The filler repeats the low byte of seq: a torn or shifted frame
     * shows up here. */
    for (size_t i = 4; i < len; i++)
        if (bytes[i] != (uint8_t)seq)
            n->bad_payload++;
    if (seq != n->next_seq[from])
        n->out_of_order++;
    n->next_seq[from] = seq + 1;
    n->received[from]++;
}

static void on_writable(void *data, uint64_t peer)
{
    struct node *n = data;
    n->writable_calls++;
}

static void on_gone(void *data, uint64_t peer)
{
    struct node *n = data;
    if (peer <= MAX_NODES)
        n->gone[peer]++;
}

static void on_log(void *data, enum peer_log_level level, const char *msg)
{
    struct node *n = data;
    if (level != PEER_LOG_WARNING)
        return;
    n->warnings++;
    snprintf(n->last_warning, sizeof(n->last_warning), "%s", msg);
}

static void on_release(void *ctx, const void *buf, size_t len)
{
    released++;
    free((void *)buf);
}

static struct peer_config config_for(struct node *n, const char *secret,
                                     int port, size_t max_queue)
{
    struct peer_config c = {
        .node_id = n->id, .bind = "127.0.0.1", .port = port,
        .secret = secret, .secret_len = strlen(secret),
        .max_frame = n->id <= MAX_NODES && max_frame_of[n->id]
                         ? max_frame_of[n->id]
                         : 1 << 20,
        .max_queue_bytes = max_queue, .socket_buffer = sockbuf,
        .backoff_min_ms = 10, .backoff_max_ms = 100,
        .handshake_timeout_ms = 1000, .seed = n->id * 7919,
        .on_frame = on_frame, .on_writable = on_writable,
        .on_gone = on_gone, .log = on_log,
        .data = n,
    };
    return c;
}

static void node_open(uint64_t id, const char *secret, int port,
                      size_t max_queue)
{
    char err[ERRMSG_LEN];
    struct node *n = &nodes[id];
    memset(n, 0, sizeof(*n));
    n->id = id;
    struct peer_config c = config_for(n, secret, port, max_queue);
    n->t = peer_open(loop, &c, err);
    assert_non_null(n->t);
    n->port = peer_local_port(n->t);
    assert_true(n->port > 0);
}

static void node_close(uint64_t id)
{
    peer_close(nodes[id].t);
    nodes[id].t = NULL;
}

static int setup(void **state)
{
    loop = loop_create();
    tick = loop_timer_create(loop, 2, 2, on_tick, NULL);
    released = 0;
    memset(max_frame_of, 0, sizeof(max_frame_of));
    sockbuf = 0;
    return loop == NULL || tick == NULL;
}

static int teardown(void **state)
{
    for (int i = 1; i <= MAX_NODES; i++)
        if (nodes[i].t != NULL)
            node_close((uint64_t)i);
    loop_timer_destroy(tick);
    loop_destroy(loop);
    return 0;
}

typedef int (*cond_fn)(void *arg);

/* Runs the loop until cond holds or ms pass; returns cond's last value. */
static int run_until(cond_fn cond, void *arg, int ms)
{
    int64_t end = loop_mono_us_fresh() + (int64_t)ms * 1000;
    while (!cond(arg)) {
        if (loop_mono_us_fresh() > end)
            return 0;
        loop_run_once(loop);
    }
    return 1;
}

static void run_for(int ms)
{
    int64_t end = loop_mono_us_fresh() + (int64_t)ms * 1000;
    while (loop_mono_us_fresh() < end)
        loop_run_once(loop);
}

static int authed(uint64_t a, uint64_t b)
{
    struct peer_status st;
    if (peer_get_status(nodes[a].t, b, &st) != 0)
        return 0;
    return st.authenticated;
}

/* arg: a list of (a, b) id pairs ending in 0. */
static int all_authed(void *arg)
{
    const uint64_t *pairs = arg;
    for (; pairs[0] != 0; pairs += 2)
        if (!authed(pairs[0], pairs[1]))
            return 0;
    return 1;
}

static void mesh(int n)
{
    for (int a = 1; a <= n; a++)
        for (int b = 1; b <= n; b++)
            if (a != b)
                assert_int_equal(peer_add(nodes[a].t, (uint64_t)b,
                                          "127.0.0.1", nodes[b].port), 0);
}

/* A frame: 4-byte sequence number, then `len - 4` filler bytes. */
static uint8_t *make_payload(uint32_t seq, size_t len)
{
    uint8_t *p = malloc(len);
    memcpy(p, &seq, 4);
    memset(p + 4, (uint8_t)seq, len - 4);
    return p;
}

/* Sends one frame, running the loop while the queue is full. */
static int send_blocking(uint64_t from, uint64_t to, uint32_t seq, bool zc)
{
    size_t len = 4 + (seq * 37) % 700;
    uint8_t *p = make_payload(seq, len);
    int64_t end = loop_mono_us_fresh() + 5 * 1000000;
    for (;;) {
        int rv = zc ? peer_send_zc(nodes[from].t, to, TYPE_ZC, p, len,
                                   on_release, NULL)
                    : peer_send(nodes[from].t, to, TYPE_DATA, p, len);
        if (rv != ERR_BUSY) {
            if (!zc || rv != 0)
                free(p);
            return rv;
        }
        if (loop_mono_us_fresh() > end) {
            free(p);
            return rv;
        }
        loop_run_once(loop);
    }
}

struct want {
    uint64_t to, from, count;
};

static int received_all(void *arg)
{
    const struct want *w = arg;
    for (; w->to != 0; w++)
        if (nodes[w->to].received[w->from] < w->count)
            return 0;
    return 1;
}

/* Both directions between nodes 1 and 2. */
static uint64_t both_links[] = {1, 2, 2, 1, 0};

/* Opens nodes 1 and 2 with queues of max_queue bytes, links them both
 * ways and waits until both links are authenticated. */
static void open_pair(size_t max_queue)
{
    node_open(1, SECRET, 0, max_queue);
    node_open(2, SECRET, 0, max_queue);
    mesh(2);
    assert_true(run_until(all_authed, both_links, 3000));
}

/* Sends frames first..end-1 from `from` to `to`, then waits until `to`
 * has received `count` frames from `from` in all. */
static void send_and_await(uint64_t from, uint64_t to, uint32_t first,
                           uint32_t end, uint64_t count)
{
    for (uint32_t seq = first; seq < end; seq++)
        assert_int_equal(send_blocking(from, to, seq, false), 0);
    struct want w[] = {{to, from, count}, {0, 0, 0}};
    assert_true(run_until(received_all, w, 3000));
}

/* ---- Tests ---- */

static void test_two_nodes_connect_and_authenticate(void **state)
{
    open_pair(1 << 20);
    struct peer_status st;
    assert_int_equal(peer_get_status(nodes[1].t, 2, &st), 0);
    assert_true(st.connected);
    assert_true(st.authenticated);
    assert_int_equal(st.links_up, 1);
    assert_int_equal(st.auth_failures, 0);
    run_for(20);
    assert_int_equal(peer_get_status(nodes[1].t, 2, &st), 0);
    assert_true(st.inbound);
    uint64_t ids[4];
    assert_int_equal(peer_list(nodes[1].t, ids, 4), 1);
    assert_int_equal(ids[0], 2);
}

static void test_thousands_of_frames_arrive_in_order_between_three(void **s)
{
    const uint32_t per_pair = 3000;
    for (uint64_t i = 1; i <= 3; i++)
        node_open(i, SECRET, 0, 64 << 10);
    mesh(3);
    uint64_t pairs[] = {1, 2, 1, 3, 2, 1, 2, 3, 3, 1, 3, 2, 0};
    assert_true(run_until(all_authed, pairs, 3000));

    for (uint32_t seq = 0; seq < per_pair; seq++)
        for (uint64_t a = 1; a <= 3; a++)
            for (uint64_t b = 1; b <= 3; b++)
                if (a != b)
                    assert_int_equal(send_blocking(a, b, seq, seq & 1), 0);
    struct want w[] = {{1, 2, per_pair}, {1, 3, per_pair}, {2, 1, per_pair},
                       {2, 3, per_pair}, {3, 1, per_pair}, {3, 2, per_pair},
                       {0, 0, 0}};
    assert_true(run_until(received_all, w, 10000));
    for (uint64_t i = 1; i <= 3; i++) {
        assert_int_equal(nodes[i].out_of_order, 0);
        assert_int_equal(nodes[i].bad_payload, 0);
    }
    /* Every zero-copy buffer came back exactly once. */
    assert_int_equal(released, 6 * (per_pair / 2));
    struct peer_status st;
    assert_int_equal(peer_get_status(nodes[1].t, 2, &st), 0);
    assert_int_equal(st.frames_sent, per_pair);
    assert_int_equal(st.bytes_queued, 0);
    assert_int_equal(st.frames_dropped, 0);
    assert_true(st.last_heard_ms > 0);
}

static int writable_called(void *arg)
{
    return nodes[*(uint64_t *)arg].writable_calls > 0;
}

static void test_queue_bound_reports_would_block_then_writable(void **s)
{
    const size_t bound = 16 << 10;
    open_pair(bound);

    /* Without running the loop nothing is written: the queue fills. */
    uint8_t *p = make_payload(0, 1000);
    uint32_t sent = 0;
    int rv;
    while ((rv = peer_send(nodes[1].t, 2, TYPE_DATA, p, 1000)) == 0) {
        sent++;
        memcpy(p, &sent, 4);
        memset(p + 4, (uint8_t)sent, 996);
    }
    free(p);
    assert_int_equal(rv, ERR_BUSY);
    struct peer_status st;
    assert_int_equal(peer_get_status(nodes[1].t, 2, &st), 0);
    assert_true(st.bytes_queued <= bound);
    assert_int_equal(st.frames_queued, sent);
    assert_int_equal(st.would_block, 1);
    assert_int_equal(sent, bound / 1008);

    uint64_t id = 1;
    assert_true(run_until(writable_called, &id, 3000));
    struct want w[] = {{2, 1, sent}, {0, 0, 0}};
    assert_true(run_until(received_all, w, 3000));
    assert_int_equal(nodes[2].out_of_order, 0);
    assert_int_equal(nodes[1].writable_calls, 1);
}

static void test_peer_with_wrong_secret_is_rejected_and_logged(void **s)
{
    node_open(1, SECRET, 0, 1 << 20);
    node_open(2, "not the secret", 0, 1 << 20);
    mesh(2);
    /* The impostor queues a frame while its link handshakes. */
    uint8_t *p = make_payload(0, 16);
    assert_int_equal(peer_send(nodes[2].t, 1, TYPE_DATA, p, 16), 0);
    free(p);
    run_for(300);
    assert_false(authed(1, 2));
    assert_false(authed(2, 1));
    assert_int_equal(nodes[1].received[2], 0);
    assert_int_equal(nodes[2].received[1], 0);
    assert_true(nodes[1].warnings > 0);
    assert_non_null(strstr(nodes[1].last_warning, "failed authentication"));
    struct peer_status st;
    assert_int_equal(peer_get_status(nodes[1].t, 2, &st), 0);
    assert_true(st.auth_failures > 0);
    assert_int_equal(peer_get_status(nodes[2].t, 1, &st), 0);
    assert_true(st.frames_dropped >= 1);
}

static void test_unknown_node_id_is_rejected(void **state)
{
    node_open(1, SECRET, 0, 1 << 20);
    node_open(2, SECRET, 0, 1 << 20);
    /* Node 2 knows node 1; node 1 never added node 2. */
    assert_int_equal(peer_add(nodes[2].t, 1, "127.0.0.1", nodes[1].port), 0);
    run_for(200);
    assert_false(authed(2, 1));
    assert_non_null(strstr(nodes[1].last_warning, "unknown node 2"));
}

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Runs the loop until the server closes fd (read returns 0 or an error). */
static int raw_wait_closed(int fd, int ms)
{
    int64_t end = loop_mono_us_fresh() + (int64_t)ms * 1000;
    uint8_t buf[256];
    while (loop_mono_us_fresh() < end) {
        loop_run_once(loop);
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return 1;
    }
    return 0;
}

static void raw_send_frame(int fd, uint8_t type, const void *p, size_t n)
{
    uint8_t buf[128];
    peer_frame_header(buf, type, (uint32_t)n);
    memcpy(buf + PEER_FRAME_HEADER_LEN, p, n);
    assert_int_equal(send(fd, buf, PEER_FRAME_HEADER_LEN + n, MSG_NOSIGNAL),
                     (ssize_t)(PEER_FRAME_HEADER_LEN + n));
}

static void test_stranger_frames_never_reach_on_frame(void **state)
{
    node_open(1, SECRET, 0, 1 << 20);
    node_open(2, SECRET, 0, 1 << 20);
    mesh(2);

    /* 1: a data frame before any handshake. */
    int fd = raw_connect(nodes[1].port);
    uint8_t payload[16] = {0};
    raw_send_frame(fd, TYPE_DATA, payload, sizeof(payload));
    assert_true(raw_wait_closed(fd, 2000));
    close(fd);
    assert_non_null(strstr(nodes[1].last_warning, "before authentication"));

    /* 2: a HELLO claiming to be node 2, then a forged AUTH and data. */
    fd = raw_connect(nodes[1].port);
    uint8_t hello[48] = {0};
    hello[7] = 2; /* sender id 2 */
    hello[15] = 1; /* target id 1 */
    raw_send_frame(fd, 1, hello, sizeof(hello));
    uint8_t forged[32];
    memset(forged, 0x42, sizeof(forged));
    raw_send_frame(fd, 2, forged, sizeof(forged));
    raw_send_frame(fd, TYPE_DATA, payload, sizeof(payload));
    assert_true(raw_wait_closed(fd, 2000));
    close(fd);
    assert_non_null(strstr(nodes[1].last_warning, "failed authentication"));

    /* 3: garbage, and a length far above the handshake's needs. */
    fd = raw_connect(nodes[1].port);
    assert_int_equal(send(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL), 18);
    assert_true(raw_wait_closed(fd, 2000));
    close(fd);
    assert_non_null(strstr(nodes[1].last_warning, "malformed frame"));
    fd = raw_connect(nodes[1].port);
    uint8_t h[PEER_FRAME_HEADER_LEN];
    peer_frame_header(h, TYPE_DATA, (1 << 20) + 1);
    assert_int_equal(send(fd, h, sizeof(h), MSG_NOSIGNAL), (ssize_t)sizeof(h));
    assert_true(raw_wait_closed(fd, 2000));
    close(fd);
    assert_non_null(strstr(nodes[1].last_warning, "oversized frame"));

    /* 4: silence: dropped at the handshake deadline. */
    fd = raw_connect(nodes[1].port);
    assert_true(raw_wait_closed(fd, 3000));
    close(fd);
    assert_non_null(strstr(nodes[1].last_warning, "not authenticated within"));

    assert_int_equal(nodes[1].received[2], 0);
    assert_int_equal(nodes[1].bad_payload, 0);
    /* The real node 2 still gets in. */
    uint64_t pairs[] = {1, 2, 2, 1, 0};
    assert_true(run_until(all_authed, pairs, 3000));
}

static uint64_t fuzz_state = 0x243f6a8885a308d3ull;

static uint64_t fuzz_next(void)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 7;
    fuzz_state ^= fuzz_state << 17;
    return fuzz_state;
}

/* Builds a hostile byte stream: sometimes a well-formed HELLO claiming a
 * known id (so the link gets as far as the proof), then random frames of
 * random types with plausible headers, or plain noise. */
static size_t hostile_stream(uint8_t *buf, size_t cap)
{
    size_t len = 0;
    if (fuzz_next() % 2) {
        uint8_t hello[48];
        for (size_t i = 0; i < sizeof(hello); i++)
            hello[i] = (uint8_t)fuzz_next();
        memset(hello, 0, 16);
        hello[7] = 2;
        hello[15] = 1;
        peer_frame_header(buf, 1, sizeof(hello));
        memcpy(buf + PEER_FRAME_HEADER_LEN, hello, sizeof(hello));
        len = PEER_FRAME_HEADER_LEN + sizeof(hello);
    }
    while (len + PEER_FRAME_HEADER_LEN + 64 < cap && fuzz_next() % 4) {
        size_t n = fuzz_next() % 64;
        peer_frame_header(buf + len, (uint8_t)fuzz_next(), (uint32_t)n);
        len += PEER_FRAME_HEADER_LEN;
        for (size_t i = 0; i < n; i++)
            buf[len++] = (uint8_t)fuzz_next();
    }
    size_t noise = fuzz_next() % 16;
    for (size_t i = 0; i < noise && len < cap; i++)
        buf[len++] = (uint8_t)fuzz_next();
    return len;
}

static void test_hostile_streams_never_deliver_or_crash(void **state)
{
    node_open(1, SECRET, 0, 1 << 20);
    node_open(2, SECRET, 0, 1 << 20);
    mesh(2);
    for (int round = 0; round < 40; round++) {
        int fds[5];
        for (int k = 0; k < 5; k++) {
            uint8_t buf[1024];
            size_t len = hostile_stream(buf, sizeof(buf));
            fds[k] = raw_connect(nodes[1].port);
            if (len > 0)
                send(fds[k], buf, len, MSG_NOSIGNAL);
        }
        run_for(5);
        for (int k = 0; k < 5; k++)
            close(fds[k]);
    }
    run_for(20);
    assert_int_equal(nodes[1].received[2], 0);
    assert_int_equal(nodes[1].bad_payload, 0);
    uint64_t pairs[] = {1, 2, 2, 1, 0};
    assert_true(run_until(all_authed, pairs, 3000));
    send_and_await(2, 1, 0, 10, 10);
}

static void test_link_recovers_after_it_is_dropped(void **state)
{
    open_pair(1 << 20);
    send_and_await(1, 2, 0, 100, 100);

    assert_int_equal(peer_drop_link(nodes[1].t, 2), 0);
    assert_false(authed(1, 2));
    assert_true(run_until(all_authed, both_links, 3000));
    struct peer_status st;
    assert_int_equal(peer_get_status(nodes[1].t, 2, &st), 0);
    assert_int_equal(st.links_up, 2);
    send_and_await(1, 2, 100, 200, 200);
    assert_int_equal(nodes[2].out_of_order, 0);
    /* the peer's process was there all along: nothing refused */
    assert_int_equal(st.refused, 0);
    assert_int_equal(nodes[1].gone[2], 0);
}

static void test_link_recovers_after_node_restarts_on_same_port(void **s)
{
    open_pair(1 << 20);

    int port2 = nodes[2].port;
    node_close(2);
    run_for(150); /* node 1 sees the loss and starts backing off */
    assert_false(authed(1, 2));
    /* its redials are refused: nothing listens there any more */
    struct peer_status down;
    assert_int_equal(peer_get_status(nodes[1].t, 2, &down), 0);
    assert_true(down.refused > 0);
    assert_int_equal(nodes[1].gone[2], down.refused);
    /* Sends during the outage are dropped and counted, not queued. */
    for (uint32_t seq = 0; seq < 10; seq++)
        assert_int_equal(send_blocking(1, 2, seq, true), 0);

    node_open(2, SECRET, port2, 1 << 20);
    assert_int_equal(peer_add(nodes[2].t, 1, "127.0.0.1", nodes[1].port), 0);
    assert_true(run_until(all_authed, both_links, 3000));
    struct peer_status st;
    assert_int_equal(peer_get_status(nodes[1].t, 2, &st), 0);
    assert_true(st.frames_dropped > 0);
    assert_true(st.links_up >= 2);
    /* Fresh traffic flows; the receiver restarted, so count from 0. */
    uint32_t base = (uint32_t)(10 - st.frames_dropped);
    nodes[2].next_seq[1] = 0;
    send_and_await(1, 2, 0, 50, 50 + base);
    assert_int_equal(released, 10);
}

static void test_oversized_frame_from_peer_drops_link_then_recovers(void **s)
{
    max_frame_of[2] = 4 << 20; /* node 2 may send more than node 1 takes */
    open_pair(8 << 20);
    size_t big = (2 << 20);
    uint8_t *p = make_payload(0, big);
    assert_int_equal(peer_send(nodes[2].t, 1, TYPE_DATA, p, big), 0);
    free(p);
    run_for(100);
    assert_non_null(strstr(nodes[1].last_warning, "oversized frame"));
    assert_int_equal(nodes[1].received[2], 0);
    /* Node 2 redials; frames within the limit flow again. */
    assert_true(run_until(all_authed, both_links, 3000));
    send_and_await(2, 1, 0, 10, 10);
}

static void test_unauthenticated_links_are_capped(void **state)
{
    int fds[64];
    node_open(1, SECRET, 0, 1 << 20);
    for (int i = 0; i < 64; i++)
        fds[i] = raw_connect(nodes[1].port);
    run_for(50);
    int extra = raw_connect(nodes[1].port);
    assert_true(raw_wait_closed(extra, 1000));
    close(extra);
    assert_non_null(strstr(nodes[1].last_warning, "too many unauthenticated"));
    for (int i = 0; i < 64; i++)
        close(fds[i]);
}

/* Not a benchmark: prints what one loopback link sustains, for scale, and
 * checks that writes are batched (many frames per sendmsg). */
static void test_throughput_and_batching_on_loopback(void **state)
{
    const uint32_t frames = 200000;
    open_pair(4 << 20);
    uint8_t payload[128];
    int64_t start = loop_mono_us_fresh();
    for (uint32_t seq = 0; seq < frames; seq++) {
        memcpy(payload, &seq, 4);
        memset(payload + 4, (uint8_t)seq, sizeof(payload) - 4);
        while (peer_send(nodes[1].t, 2, TYPE_DATA, payload, sizeof(payload)) ==
               ERR_BUSY)
            loop_run_once(loop);
        /* A Raft leader sends a burst per loop iteration, not one frame. */
        if (seq % 64 == 63)
            loop_run_once(loop);
    }
    struct want w[] = {{2, 1, frames}, {0, 0, 0}};
    assert_true(run_until(received_all, w, 10000));
    int64_t us = loop_mono_us_fresh() - start;
    struct peer_status st;
    assert_int_equal(peer_get_status(nodes[1].t, 2, &st), 0);
    double per_call = (double)st.frames_sent / (double)st.write_calls;
    printf("  loopback: %u frames of %zu bytes in %.1f ms: %.0f frames/s, "
           "%.1f frames per sendmsg\n", frames, sizeof(payload), us / 1000.0,
           frames * 1e6 / (double)us, per_call);
    assert_int_equal(nodes[2].out_of_order, 0);
    assert_true(per_call >= 8.0);
}

static void test_on_frame_may_answer_and_remove_the_sender(void **state)
{
    sockbuf = 4096; /* writes also stop inside frame headers */
    node_open(1, SECRET, 0, 1 << 20);
    node_open(2, SECRET, 0, 1 << 20);
    mesh(2);
    nodes[2].echo = true;
    nodes[2].remove_on = TYPE_DATA + 5;
    uint64_t pairs[] = {1, 2, 2, 1, 0};
    assert_true(run_until(all_authed, pairs, 3000));
    for (uint32_t seq = 0; seq < 500; seq++)
        assert_int_equal(send_blocking(1, 2, seq, false), 0);
    struct want w[] = {{2, 1, 500}, {1, 2, 500}, {0, 0, 0}};
    assert_true(run_until(received_all, w, 3000));
    assert_int_equal(nodes[1].out_of_order, 0);

    /* A frame that makes node 2 forget node 1, followed by more frames
     * in the same read: none of them may be delivered after the removal. */
    uint8_t b[8] = {0};
    assert_int_equal(peer_send(nodes[1].t, 2, TYPE_DATA + 5, b, 8), 0);
    for (uint32_t seq = 500; seq < 510; seq++)
        assert_int_equal(send_blocking(1, 2, seq, false), 0);
    run_for(100);
    uint64_t ids[2];
    assert_int_equal(peer_list(nodes[2].t, ids, 2), 0);
    assert_int_equal(nodes[2].received[1], 500);
}

static void test_blocked_peer_is_partitioned_until_unblocked(void **state)
{
    open_pair(1 << 20);

    assert_int_equal(peer_block(nodes[1].t, 2, true), 0);
    for (uint32_t seq = 0; seq < 20; seq++) {
        assert_int_equal(send_blocking(1, 2, seq, false), 0);
        assert_int_equal(send_blocking(2, 1, seq, false), 0);
    }
    run_for(300); /* node 2 keeps redialling and is refused */
    assert_false(authed(1, 2));
    assert_false(authed(2, 1));
    assert_int_equal(nodes[1].received[2], 0);
    assert_int_equal(nodes[2].received[1], 0);
    struct peer_status st;
    assert_int_equal(peer_get_status(nodes[1].t, 2, &st), 0);
    assert_true(st.blocked);
    assert_int_equal(st.frames_dropped, 20);

    assert_int_equal(peer_block(nodes[1].t, 2, false), 0);
    assert_true(run_until(all_authed, both_links, 3000));
    nodes[1].next_seq[2] = 100;
    nodes[2].next_seq[1] = 100;
    for (uint32_t seq = 100; seq < 110; seq++) {
        assert_int_equal(send_blocking(1, 2, seq, false), 0);
        assert_int_equal(send_blocking(2, 1, seq, false), 0);
    }
    struct want w[] = {{1, 2, 10}, {2, 1, 10}, {0, 0, 0}};
    assert_true(run_until(received_all, w, 3000));
    assert_int_equal(nodes[1].out_of_order + nodes[2].out_of_order, 0);
}

struct vec_frame {
    uint32_t seq;
    uint8_t *filler;
};

static void on_release_vec(void *ctx, const void *buf, size_t len)
{
    struct vec_frame *f = ctx;
    assert_null(buf);
    free(f->filler);
    free(f);
    released++;
}

/* Frames from three segments (sequence number, then two slices of one
 * filler buffer) through small socket buffers, so that writes stop at
 * arbitrary offsets inside headers and segments: the receiver must see
 * each frame whole and in order. */
static void test_vectored_frames_arrive_whole_and_in_order(void **state)
{
    const uint32_t frames = 300;
    sockbuf = 4096;
    open_pair(1 << 20);
    for (uint32_t seq = 0; seq < frames; seq++) {
        size_t flen = 1 + (seq * 7919u) % (200 << 10);
        struct vec_frame *f = malloc(sizeof(*f));
        f->seq = seq;
        f->filler = malloc(flen);
        memset(f->filler, (uint8_t)seq, flen);
        size_t cut = flen / 3;
        struct iovec iov[3] = {{&f->seq, 4},
                               {f->filler, cut},
                               {f->filler + cut, flen - cut}};
        int rv;
        while ((rv = peer_sendv_zc(nodes[1].t, 2, TYPE_ZC, iov, 3,
                                   on_release_vec, f)) == ERR_BUSY)
            loop_run_once(loop);
        assert_int_equal(rv, 0);
    }
    struct want w[] = {{2, 1, frames}, {0, 0, 0}};
    assert_true(run_until(received_all, w, 10000));
    assert_int_equal(nodes[2].out_of_order, 0);
    assert_int_equal(nodes[2].bad_payload, 0);
    assert_int_equal(released, frames);
    struct iovec none[1] = {{NULL, 0}};
    assert_int_equal(peer_sendv_zc(nodes[1].t, 2, TYPE_ZC, none, 0, NULL,
                                   NULL), ERR_INVALID);
}

static void test_send_checks_peer_type_and_size(void **state)
{
    node_open(1, SECRET, 0, 1 << 20);
    uint8_t b[8] = {0};
    assert_int_equal(peer_send(nodes[1].t, 9, TYPE_DATA, b, 8), ERR_NOTFOUND);
    assert_int_equal(peer_add(nodes[1].t, 1, "127.0.0.1", 1), ERR_INVALID);
    assert_int_equal(peer_add(nodes[1].t, 0, "127.0.0.1", 1), ERR_INVALID);
    assert_int_equal(peer_add(nodes[1].t, 2, "127.0.0.1", 0), ERR_INVALID);
    assert_int_equal(peer_add(nodes[1].t, 2, "127.0.0.1", 9), 0);
    assert_int_equal(peer_send(nodes[1].t, 2, PEER_TYPE_HELLO, b, 8),
                     ERR_INVALID);
    uint8_t *big = calloc(1, (1 << 20) + 1);
    assert_int_equal(peer_send(nodes[1].t, 2, TYPE_DATA, big, (1 << 20) + 1),
                     ERR_TOOBIG);
    free(big);
    /* Queued while connecting; released when the peer goes away. */
    uint8_t *zc = make_payload(1, 8);
    assert_int_equal(peer_send_zc(nodes[1].t, 2, TYPE_ZC, zc, 8, on_release,
                                  NULL), 0);
    assert_int_equal(peer_remove(nodes[1].t, 2), 0);
    assert_int_equal(released, 1);
    assert_int_equal(peer_remove(nodes[1].t, 2), ERR_NOTFOUND);
}

static void test_open_fails_cleanly_on_bad_config_or_busy_port(void **state)
{
    char err[ERRMSG_LEN];
    struct node n = {.id = 5};
    struct peer_config c = config_for(&n, SECRET, 0, 0);
    c.node_id = 0;
    assert_null(peer_open(loop, &c, err));
    assert_non_null(strstr(err, "nonzero"));
    node_open(1, SECRET, 0, 1 << 20);
    c = config_for(&n, SECRET, nodes[1].port, 0);
    assert_null(peer_open(loop, &c, err));
    assert_non_null(strstr(err, "in use"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_nodes_connect_and_authenticate,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_thousands_of_frames_arrive_in_order_between_three, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_queue_bound_reports_would_block_then_writable, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_peer_with_wrong_secret_is_rejected_and_logged, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_unknown_node_id_is_rejected,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_stranger_frames_never_reach_on_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_hostile_streams_never_deliver_or_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_recovers_after_it_is_dropped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_link_recovers_after_node_restarts_on_same_port, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_oversized_frame_from_peer_drops_link_then_recovers, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_unauthenticated_links_are_capped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_throughput_and_batching_on_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_on_frame_may_answer_and_remove_the_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_blocked_peer_is_partitioned_until_unblocked, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_vectored_frames_arrive_whole_and_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_checks_peer_type_and_size,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_open_fails_cleanly_on_bad_config_or_busy_port, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
