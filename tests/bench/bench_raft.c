/* Microbenchmark of the raft core alone: a 3-node group in one process,
 * messages handed directly from core to core, persistence acknowledged at
 * once, proposals in batches of 64 entries of 100 bytes (one shared
 * buffer per batch, as the server's proposal batches are). Prints
 * committed entries per second and CPU nanoseconds per entry. Snapshots
 * are taken every 64Ki entries so the logs stay bounded. Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft/raft.h"

#define NODES 3
#define BATCH 64
#define ENTRY_BYTES 100
#define QUEUE 1024
#define SNAPSHOT_EVERY 65536

struct bench {
    struct raft *nodes[NODES];
    uint64_t now;
    struct raft_msg q[QUEUE];
    uint32_t q_head, q_n;
    uint64_t applied[NODES];
    uint64_t committed; /* entries the leader applied */
    uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
};

static void handle(struct bench *b, int i, const struct raft_update *u);

static void step(struct bench *b, int i, struct raft_event *ev)
{
    struct raft_update u;
    ev->now = b->now;
    raft_step(b->nodes[i], ev, &u);
    handle(b, i, &u);
}

static void handle(struct bench *b, int i, const struct raft_update *u)
{
    for (uint32_t k = 0; k < u->n_msgs; k++) {
        if (b->q_n == QUEUE) {
            fprintf(stderr, "bench queue overflow\n");
            exit(1);
        }
        b->q[(b->q_head + b->q_n++) % QUEUE] = u->msgs[k];
    }
    if (u->n_committed > 0) {
        b->applied[i] = u->committed_index + u->n_committed - 1;
        if (raft_role(b->nodes[i]) == RAFT_LEADER) {
            b->committed += u->n_committed;
        }
    }
    if (u->persist_id != 0) {
        struct raft_event ev = {.type = RAFT_EVENT_PERSISTED};
        ev.persisted.id = u->persist_id;
        step(b, i, &ev);
    }
}

static void deliver(struct bench *b)
{
    while (b->q_n > 0) {
        struct raft_msg m = b->q[b->q_head];
        b->q_head = (b->q_head + 1) % QUEUE;
        b->q_n--;
        struct raft_event ev = {.type = RAFT_EVENT_RECEIVE, .msg = &m};
        step(b, (int)m.to - 1, &ev);
    }
}

static void start(struct bench *b)
{
    struct raft_config c = {.n = NODES, .max_id = NODES};
    for (int i = 0; i < NODES; i++) {
        c.servers[i] = (struct raft_server){(uint64_t)i + 1, RAFT_VOTER};
    }
    int len = raft_config_encode(&c, b->cfg, sizeof(b->cfg));
    struct raft_entry boot = {.term = 1, .data = b->cfg,
                              .len = (uint32_t)len,
                              .type = RAFT_ENTRY_CONFIG};
    for (int i = 0; i < NODES; i++) {
        struct raft_options o = {.id = (uint64_t)i + 1, .seed = 42,
                                 .election_timeout_ms = 1000,
                                 .heartbeat_ms = 100};
        struct raft_init init = {.term = 1, .entries = &boot,
                                 .n_entries = 1};
        if (raft_new(&o, &init, &b->nodes[i]) != 0) {
            fprintf(stderr, "raft_new failed\n");
            exit(1);
        }
    }
}

static int leader(struct bench *b)
{
    for (int i = 0; i < NODES; i++) {
        if (raft_role(b->nodes[i]) == RAFT_LEADER) {
            return i;
        }
    }
    return -1;
}

static int elect(struct bench *b)
{
    for (int t = 0; t < 1000 && leader(b) < 0; t++) {
        b->now += 50;
        for (int i = 0; i < NODES; i++) {
            struct raft_event ev = {.type = RAFT_EVENT_TICK};
            step(b, i, &ev);
        }
        deliver(b);
    }
    return leader(b);
}

static void snapshot_all(struct bench *b)
{
    for (int i = 0; i < NODES; i++) {
        struct raft_event ev = {.type = RAFT_EVENT_SNAPSHOT_TAKEN};
        ev.snapshot.index = b->applied[i];
        ev.snapshot.term = raft_term_at(b->nodes[i], b->applied[i]);
        ev.snapshot.config = *raft_config(b->nodes[i]);
        step(b, i, &ev);
    }
}

static double seconds(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000000;
    static struct bench b;
    start(&b);
    int l = elect(&b);
    if (l < 0) {
        fprintf(stderr, "no leader\n");
        return 1;
    }
    static uint8_t payload[BATCH * ENTRY_BYTES];
    memset(payload, 'x', sizeof(payload));
    struct raft_buf buf = {.refs = 1, .free_cb = NULL};
    struct raft_entry batch[BATCH];
    for (int k = 0; k < BATCH; k++) {
        batch[k] = (struct raft_entry){.data = payload + k * ENTRY_BYTES,
                                       .len = ENTRY_BYTES, .buf = &buf,
                                       .type = RAFT_ENTRY_NORMAL};
    }
    b.committed = 0;
    uint64_t next_snapshot = SNAPSHOT_EVERY;
    double t0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    while (b.committed < total) {
        struct raft_event ev = {.type = RAFT_EVENT_PROPOSE};
        ev.propose.entries = batch;
        ev.propose.n = BATCH;
        step(&b, l, &ev);
        deliver(&b);
        if (b.committed >= next_snapshot) {
            snapshot_all(&b);
            next_snapshot += SNAPSHOT_EVERY;
        }
    }
    double t1 = seconds(CLOCK_MONOTONIC), c1 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    double rate = (double)b.committed / (t1 - t0);
    printf("bench-raft: 3 nodes, batches of %d x %d-byte entries: "
           "%llu committed in %.3f s = %.0f entries/s, %.1f CPU ns/entry "
           "(all three cores on one CPU)\n",
           BATCH, ENTRY_BYTES, (unsigned long long)b.committed, t1 - t0,
           rate, (c1 - c0) * 1e9 / (double)b.committed);
    int rv = 0;
    for (int i = 0; i < NODES; i++) {
        if (raft_commit_index(b.nodes[i]) + 2 * BATCH <
            raft_commit_index(b.nodes[l])) {
            fprintf(stderr, "node %d lags: commit %llu\n", i + 1,
                    (unsigned long long)raft_commit_index(b.nodes[i]));
            rv = 1;
        }
        raft_free(b.nodes[i]);
    }
    return rv;
}
