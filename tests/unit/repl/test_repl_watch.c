/* repl_watch.c against real repl instances (the harness of
 * test_repl.c: in-memory WALs, loopback transports, one loop): the entries
 * a leader holds unapplied, as WATCH reads them, are this iteration's open
 * batch (its own expiry and eviction DELs included) and then its log
 * beyond the applied index, which keeps a write whose client got its
 * deadline (the write may still commit); once applied they are gone. */
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
#include "repl/repl_watch.h"
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

static bool single_leader(void)
{
    return nodes[1].repl && repl_is_leader(nodes[1].repl);
}

struct seen {
    int n;
    uint64_t index[8];
    char bytes[8][64];
};

static int record(void *ctx, uint64_t index, const uint8_t *cmd, size_t len)
{
    struct seen *s = ctx;
    assert_non_null(cmd);
    assert_true(s->n < 8);
    size_t k = len < 63 ? len : 63;
    s->index[s->n] = index;
    memcpy(s->bytes[s->n], cmd, k);
    s->bytes[s->n][k] = '\0';
    s->n++;
    return 0;
}

static int stop_at_first(void *ctx, uint64_t index, const uint8_t *cmd,
                         size_t len)
{
    *(uint64_t *)ctx = index;
    return 7;
}

static void test_open_batch_is_unapplied_until_applied(void **state)
{
    start(1, 2000);
    assert_true(run_until(single_leader, 1000));
    struct repl *r = nodes[1].repl;
    target_applied = 0;
    struct seen s = {0};
    assert_int_equal(repl_each_unapplied(r, record, &s), 0);
    assert_int_equal(s.n, 0);
    uint64_t last = repl_last_index(r);
    submit_set(r, 1, 1);
    struct resp_arg del[2] = {{"RAFT.EVICTED", 12}, {"x", 1}};
    assert_int_equal(repl_propose_internal(r, 2, del), 0);
    assert_int_equal(repl_each_unapplied(r, record, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.index[0], last + 1);
    assert_int_equal(s.index[1], last + 2);
    assert_string_equal(s.bytes[0], "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$2\r\nv1\r\n");
    assert_string_equal(s.bytes[1], "*2\r\n$12\r\nRAFT.EVICTED\r\n$1\r\nx\r\n");
    uint64_t first = 0;
    assert_int_equal(repl_each_unapplied(r, stop_at_first, &first), 7);
    assert_int_equal(first, last + 1);
    target_applied = 2;
    assert_true(run_until(all_applied, 2000));
    s.n = 0;
    assert_int_equal(repl_each_unapplied(r, record, &s), 0);
    assert_int_equal(s.n, 0);
    assert_true(repl_term(r) > 0);
    stop();
}

static void test_timed_out_write_stays_unapplied_in_the_log(void **state)
{
    start(3, 300);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    uint64_t term = repl_term(nodes[l].repl);
    uint64_t others[2];
    int k = 0;
    for (int i = 1; i <= 3; i++)
        if (i != l)
            others[k++] = (uint64_t)i;
    assert_int_equal(repl_partition(nodes[l].repl, others, 2), 0);
    for (int i = 1; i <= 3; i++)
        if (i != l)
            peer_block(nodes[i].bus, (uint64_t)l, true);
    if (!repl_is_leader(nodes[l].repl))
        return stop();
    submit_set(nodes[l].repl, 7, 7);
    target_wakes = 1;
    assert_true(run_until(enough_wakes, 3000));
    assert_int_not_equal(wakes[0].status, 0);
    /* Its client was told -CLUSTERDOWN; the entry may still commit. */
    struct seen s = {0};
    repl_each_unapplied(nodes[l].repl, record, &s);
    assert_true(s.n >= 1);
    assert_int_equal(s.index[s.n - 1], repl_last_index(nodes[l].repl));
    assert_string_equal(s.bytes[s.n - 1],
                        "*3\r\n$3\r\nSET\r\n$2\r\nk7\r\n$2\r\nv7\r\n");
    assert_true(repl_term(nodes[l].repl) >= term);
    stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_batch_is_unapplied_until_applied),
        cmocka_unit_test(test_timed_out_write_stays_unapplied_in_the_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
