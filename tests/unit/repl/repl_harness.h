/* The harness of the repl unit tests: three (or one) repl instances in
 * one process, WALs on in-memory disks, real transports on loopback
 * ports, one loop driven by loop_run_once under a wall-clock bound. A
 * fake apply records (index, bytes) per node; a fake wake records (owner,
 * status). Header-only: each test binary is one file. */
#ifndef TEST_REPL_HARNESS_H
#define TEST_REPL_HARNESS_H

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

/* Cuts node l of three off from the others, both ways. */
static void isolate(int l)
{
    uint64_t others[2];
    int k = 0;
    for (int i = 1; i <= 3; i++)
        if (i != l)
            others[k++] = (uint64_t)i;
    assert_int_equal(repl_partition(nodes[l].repl, others, 2), 0);
    for (int i = 1; i <= 3; i++)
        if (i != l)
            peer_block(nodes[i].bus, (uint64_t)l, true);
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

#endif
