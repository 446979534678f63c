/* The replicated write path with three (or one) repl instances in one
 * process: WALs on in-memory disks, real transports on loopback ports, one
 * loop driven by loop_run_once under a wall-clock bound. A fake apply
 * records (index, bytes) per node; a fake wake records (owner, status).
 * Covers: every node applies the same sequence; parked writes wake in
 * request order; N writes of one iteration are one proposal; a follower
 * refuses writes and names the leader; reads wait for their read index;
 * a leader cut off from its peers lets parked writes hit their deadline;
 * a single node bootstraps, serves at once and replays its log after a
 * restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/loop.h"
#include "repl/repl.h"
#include "resp/resp.h"
#include "transport/transport.h"
#include "wal/wal.h"

#define MAX_NODES 3
#define MAX_APPLIED 4096
#define MAX_WAKES 4096
#define SECRET "repl unit secret"

struct applied {
    uint64_t index;
    char bytes[64];
};

struct node {
    uint64_t id;
    struct wal_mem_disk *disk;
    struct wal *wal;
    struct wal_recovered rec;
    struct peer_transport *bus;
    struct repl *repl;
    struct applied applied[MAX_APPLIED];
    int n_applied;
    int bus_port;
};

struct wake {
    int node;
    intptr_t owner;
    int status;
};

static struct loop *loop;
static struct loop_timer *tick;
static struct node nodes[MAX_NODES + 1];
static struct wake wakes[MAX_WAKES];
static int n_wakes;
static int n_nodes;
static uint32_t pipeline = 1;  /* repl_config.pipeline_batches */

static void on_tick(struct loop_timer *t, void *data)
{
}

static void fake_apply(void *data, uint64_t index, const uint8_t *cmd,
                       size_t len, int64_t now, void *owner)
{
    struct node *n = data;
    assert_true(n->n_applied < MAX_APPLIED);
    struct applied *a = &n->applied[n->n_applied++];
    a->index = index;
    size_t k = len < sizeof(a->bytes) - 1 ? len : sizeof(a->bytes) - 1;
    memcpy(a->bytes, cmd, k);
    a->bytes[k] = '\0';
}

static void fake_wake(void *data, void *owner, int status)
{
    struct node *n = data;
    assert_true(n_wakes < MAX_WAKES);
    wakes[n_wakes++] = (struct wake){(int)n->id, (intptr_t)owner, status};
}

static void hook(struct loop *l, void *data)
{
    for (int i = 1; i <= n_nodes; i++)
        if (nodes[i].repl != NULL)
            repl_before_sleep(nodes[i].repl);
}

static void on_frame(void *data, uint64_t peer, uint8_t type,
                     const uint8_t *bytes, size_t len)
{
    struct node *n = data;
    if (n->repl != NULL)
        repl_on_frame(n->repl, peer, type, bytes, len);
}

static void open_bus(struct node *n)
{
    char err[ERRMSG_LEN];
    struct peer_config c = {
        .node_id = n->id, .bind = "127.0.0.1", .port = n->bus_port,
        .secret = SECRET, .secret_len = strlen(SECRET),
        .backoff_min_ms = 20, .backoff_max_ms = 100, .seed = n->id,
        .on_frame = on_frame, .data = n};
    n->bus = peer_open(loop, &c, err);
    assert_non_null(n->bus);
    n->bus_port = peer_local_port(n->bus);
}

static void open_repl(struct node *n, int members, int64_t timeout_ms)
{
    char err[ERRMSG_LEN] = "";
    char dir[16];
    snprintf(dir, sizeof(dir), "n%llu", (unsigned long long)n->id);
    struct wal_config wc = {.dir = dir, .io = WAL_IO_MEM, .disk = n->disk,
                            .loop = loop};
    assert_int_equal(wal_open(&wc, &n->wal, &n->rec, err), 0);
    struct repl_member m[MAX_NODES];
    for (int i = 0; i < members; i++) {
        m[i] = (struct repl_member){.id = (uint64_t)i + 1,
                                    .port = 7000 + i + 1,
                                    .bus_port = nodes[i + 1].bus_port};
        strcpy(m[i].host, "127.0.0.1");
    }
    struct repl_config rc = {
        .node_id = n->id, .loop = loop, .wal = n->wal, .rec = &n->rec,
        .bus = n->bus,
        .raft = {.election_timeout_ms = 200, .heartbeat_ms = 20},
        .write_timeout_ms = timeout_ms, .members = m,
        .pipeline_batches = pipeline, .hold_max_ms = 10000,
        .n_members = (uint32_t)members, .bootstrap = true,
        .apply = fake_apply, .wake = fake_wake, .data = n};
    assert_int_equal(repl_open(&rc, &n->repl, err), 0);
}

static void close_node(struct node *n)
{
    repl_close(n->repl);
    n->repl = NULL;
    wal_close(n->wal);
    n->wal = NULL;
}

static void start(int count, int64_t timeout_ms)
{
    memset(nodes, 0, sizeof(nodes));
    n_wakes = 0;
    n_nodes = count;
    loop = loop_create();
    tick = loop_timer_create(loop, 5, 5, on_tick, NULL);
    loop_add_before_sleep(loop, hook, NULL);
    for (int i = 1; i <= count; i++) {
        nodes[i].id = (uint64_t)i;
        nodes[i].disk = wal_mem_disk_create();
        if (count > 1)
            open_bus(&nodes[i]);
    }
    for (int i = 1; i <= count; i++)
        open_repl(&nodes[i], count, timeout_ms);
}

static void stop(void)
{
    for (int i = 1; i <= n_nodes; i++) {
        if (nodes[i].repl != NULL)
            close_node(&nodes[i]);
        if (nodes[i].bus != NULL)
            peer_close(nodes[i].bus);
        wal_mem_disk_destroy(nodes[i].disk);
    }
    loop_remove_before_sleep(loop, hook, NULL);
    loop_timer_destroy(tick);
    loop_destroy(loop);
}

/* Runs the loop until cond() holds or ms of wall time pass. */
static bool run_until(bool (*cond)(void), int ms)
{
    int64_t end = loop_mono_us_fresh() + (int64_t)ms * 1000;
    while (!cond()) {
        if (loop_mono_us_fresh() > end)
            return false;
        loop_run_once(loop);
    }
    return true;
}

static int leader(void)
{
    for (int i = 1; i <= n_nodes; i++)
        if (nodes[i].repl && repl_is_leader(nodes[i].repl))
            return i;
    return 0;
}

static bool have_leader(void)
{
    int l = leader();
    if (l == 0)
        return false;
    for (int i = 1; i <= n_nodes; i++)
        if (repl_leader_id(nodes[i].repl) != (uint64_t)l)
            return false;
    return true;
}

static int target_wakes;
static bool enough_wakes(void)
{
    return n_wakes >= target_wakes;
}

static int target_applied;
static bool all_applied(void)
{
    for (int i = 1; i <= n_nodes; i++)
        if (nodes[i].n_applied < target_applied)
            return false;
    return true;
}

static void submit_set(struct repl *r, intptr_t owner, int i)
{
    char key[32], val[32];
    snprintf(key, sizeof(key), "k%d", i);
    snprintf(val, sizeof(val), "v%d", i);
    struct resp_arg argv[3] = {{"SET", 3}, {key, strlen(key)},
                               {val, strlen(val)}};
    assert_int_equal(repl_submit_argv(r, (void *)owner, 3, argv), 0);
}

static void test_three_nodes_apply_the_same_sequence_in_order(void **state)
{
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    struct repl_stats before, after;
    repl_get_stats(nodes[l].repl, &before);
    for (int i = 0; i < 200; i++)
        submit_set(nodes[l].repl, i + 1, i);
    target_wakes = 200;
    assert_true(run_until(enough_wakes, 5000));
    repl_get_stats(nodes[l].repl, &after);
    /* N writes in one iteration: one proposal of N entries */
    assert_int_equal(after.proposals - before.proposals, 1);
    assert_int_equal(after.proposed - before.proposed, 200);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(wakes[i].owner, i + 1);
        assert_int_equal(wakes[i].status, 0);
    }
    target_applied = 200;
    assert_true(run_until(all_applied, 5000));
    for (int n = 2; n <= 3; n++) {
        assert_int_equal(nodes[n].n_applied, nodes[1].n_applied);
        for (int i = 0; i < nodes[1].n_applied; i++) {
            assert_int_equal(nodes[n].applied[i].index,
                             nodes[1].applied[i].index);
            assert_string_equal(nodes[n].applied[i].bytes,
                                nodes[1].applied[i].bytes);
        }
    }
    assert_string_equal(nodes[1].applied[0].bytes,
                        "*3\r\n$3\r\nSET\r\n$2\r\nk0\r\n$2\r\nv0\r\n");
    stop();
}

/* With a batch in flight the leader keeps collecting: the writes of the
 * iterations before it commits go out as one proposal (pipeline_batches
 * 1); with no limit every iteration proposes its own. */
static bool leader_caught_up(void)
{
    int l = leader();
    return l != 0 && repl_applied_index(nodes[l].repl) ==
                         repl_last_index(nodes[l].repl);
}

static int proposals_for_three_iterations(uint32_t limit)
{
    pipeline = limit;
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    assert_true(run_until(leader_caught_up, 5000)); /* its no-op committed */
    struct repl *r = nodes[leader()].repl;
    struct repl_stats before, after;
    repl_get_stats(r, &before);
    for (int it = 0; it < 3; it++) {
        for (int i = 0; i < 10; i++)
            submit_set(r, it * 10 + i + 1, it * 10 + i);
        repl_before_sleep(r); /* no bus event between: nothing commits */
    }
    target_wakes = 30;
    assert_true(run_until(enough_wakes, 5000));
    for (int i = 0; i < 30; i++) {
        assert_int_equal(wakes[i].owner, i + 1);
        assert_int_equal(wakes[i].status, 0);
    }
    repl_get_stats(r, &after);
    stop();
    pipeline = 1;
    return (int)(after.proposals - before.proposals);
}

static void test_leader_collects_writes_while_a_batch_is_in_flight(
    void **state)
{
    assert_int_equal(proposals_for_three_iterations(1), 2);
    assert_int_equal(proposals_for_three_iterations(2), 3);
    assert_int_equal(proposals_for_three_iterations(0), 3);
}

static void test_follower_refuses_writes_and_names_the_leader(void **state)
{
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    int f = l % 3 + 1;
    struct resp_arg argv[2] = {{"DEL", 3}, {"x", 1}};
    assert_int_equal(repl_submit_argv(nodes[f].repl, (void *)1, 2, argv),
                     ERR_NOTLEADER);
    assert_int_equal(repl_submit_read(nodes[f].repl, (void *)1, false),
                     ERR_NOTLEADER);
    const char *host;
    int port;
    assert_true(repl_leader_addr(nodes[f].repl, &host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7000 + l);
    stop();
}

static void test_reads_wake_after_their_read_index_is_applied(void **state)
{
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    submit_set(nodes[l].repl, 1, 1);
    assert_int_equal(repl_submit_read(nodes[l].repl, (void *)2, false), 0);
    assert_int_equal(repl_submit_read(nodes[l].repl, (void *)3, true), 0);
    target_wakes = 3;
    assert_true(run_until(enough_wakes, 5000));
    /* A read's index is the commit index when it was asked: it need not
     * wait for a write still in flight (the dispatcher orders one
     * connection's requests itself). */
    for (int i = 0; i < 3; i++)
        assert_int_equal(wakes[i].status, 0);
    assert_true(repl_applied_index(nodes[l].repl) >= 2);
    stop();
}

static void test_follower_read_waits_for_the_leaders_read_index(void **state)
{
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    int f = l % 3 + 1;
    submit_set(nodes[l].repl, 1, 1);
    target_wakes = 1;
    assert_true(run_until(enough_wakes, 5000));
    assert_int_equal(wakes[0].status, 0);
    uint64_t written = repl_applied_index(nodes[l].repl);
    assert_int_equal(repl_submit_follower_read(nodes[f].repl, (void *)2), 0);
    target_wakes = 2;
    assert_true(run_until(enough_wakes, 5000));
    assert_int_equal(wakes[1].owner, 2);
    assert_int_equal(wakes[1].status, 0);
    /* The write acknowledged before the read is applied on the follower. */
    assert_true(repl_applied_index(nodes[f].repl) >= written);
    stop();
}

static void test_cut_off_leader_lets_parked_writes_expire(void **state)
{
    start(3, 300);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    uint64_t others[2];
    int k = 0;
    for (int i = 1; i <= 3; i++)
        if (i != l)
            others[k++] = (uint64_t)i;
    assert_int_equal(repl_partition(nodes[l].repl, others, 2), 0);
    for (int i = 1; i <= 3; i++)
        if (i != l)
            peer_block(nodes[i].bus, (uint64_t)l, true);
    if (repl_is_leader(nodes[l].repl))
        submit_set(nodes[l].repl, 7, 7);
    else
        return stop();
    target_wakes = 1;
    assert_true(run_until(enough_wakes, 3000));
    assert_int_equal(wakes[0].owner, 7);
    assert_int_not_equal(wakes[0].status, 0);
    struct repl_stats st;
    repl_get_stats(nodes[l].repl, &st);
    stop();
}

static bool single_leader(void)
{
    return nodes[1].repl && repl_is_leader(nodes[1].repl);
}

static void test_single_node_serves_at_once_and_replays_after_restart(
    void **state)
{
    start(1, 2000);
    assert_true(run_until(single_leader, 1000));
    for (int i = 0; i < 10; i++)
        submit_set(nodes[1].repl, i + 1, i);
    target_wakes = 10;
    assert_true(run_until(enough_wakes, 2000));
    int applied = nodes[1].n_applied;
    assert_int_equal(applied, 10);
    close_node(&nodes[1]);
    nodes[1].n_applied = 0;
    open_repl(&nodes[1], 1, 2000);
    assert_true(run_until(single_leader, 1000));
    target_applied = 10;
    assert_true(run_until(all_applied, 2000));
    assert_string_equal(nodes[1].applied[9].bytes,
                        "*3\r\n$3\r\nSET\r\n$2\r\nk9\r\n$2\r\nv9\r\n");
    stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_nodes_apply_the_same_sequence_in_order),
        cmocka_unit_test(test_leader_collects_writes_while_a_batch_is_in_flight),
        cmocka_unit_test(test_follower_refuses_writes_and_names_the_leader),
        cmocka_unit_test(test_reads_wake_after_their_read_index_is_applied),
        cmocka_unit_test(test_follower_read_waits_for_the_leaders_read_index),
        cmocka_unit_test(test_cut_off_leader_lets_parked_writes_expire),
        cmocka_unit_test(
            test_single_node_serves_at_once_and_replays_after_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
