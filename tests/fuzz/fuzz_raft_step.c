/* libFuzzer target for the Raft core (src/raft) driven through raft_step:
 * a group of three cores in the unit tests' fixture (tests/unit/raft/
 * fixture.h: in-order queue, storage that persists at once) that first
 * elects a leader, then takes what the input says: ticks, deliveries,
 * drops, proposals, reads, transfers, membership changes, snapshots taken,
 * crashes and restarts, PEER_DOWN reports, and hostile messages. A hostile
 * message is built from input bytes near the receiver's own state (terms
 * and indexes a little below or above its own), with entries whose bytes
 * come from the input, then encoded and decoded by the real codec as a
 * peer's frame would be, so only well-formed messages reach the core.
 *
 * Checked: no crash or sanitizer report, no leak, no message storm (a
 * delivery of everything queued that never drains); the fixture's own
 * checks (committed entries handed out in order, never beside an
 * install); per
 * live node, the term and the commit index never go back and the commit
 * index never passes the last index. A hostile peer can make a node
 * commit what it forges (Raft trusts its members); safety across nodes is
 * the simulator's to check, not this target's.
 *
 * Input: a flags byte (bit 0: PreVote off, 1: CheckQuorum off, 2: leases),
 * then operations, each an opcode byte and the bytes it takes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"
#include "unit/raft/fixture.h"
#include "fuzz_seed.h"

#define NODES 3
#define MAX_OPS 256

struct input {
    const uint8_t *p;
    size_t n;
};

static uint8_t next(struct input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* A value near base: base - 2 .. base + 5 (never below 0); one time in
 * sixteen a far one instead (up to 2^63 past base, or next to 2^64). */
static uint64_t near(struct input *in, uint64_t base)
{
    uint8_t b = next(in);
    if (b >= 0xf8)
        return UINT64_MAX - (b & 7);
    if (b >= 0xf0)
        return base + ((uint64_t)1 << (9 * (b & 7)));
    int d = (int)(b % 8) - 2;
    return d < 0 && base < (uint64_t)-d ? 0 : base + (uint64_t)(int64_t)d;
}

/* A decoded frame's bytes: the core acquires the buffer for what it keeps. */
struct frame {
    struct raft_buf rb;
    uint8_t data[];
};

static void frame_free(struct raft_buf *rb)
{
    free(rb);
}

static uint64_t peer_of(struct input *in, uint64_t to)
{
    static const uint64_t ids[] = {1, 2, 3, 4, 9};
    uint64_t from = ids[next(in) % 5];
    return from == to ? (to % NODES) + 1 : from;
}

/* Builds a message for node `to` from the input, sends it through the
 * codec and steps what decodes. */
static void hostile(struct fx *fx, struct input *in)
{
    uint64_t to = 1 + next(in) % NODES;
    struct fx_node *nd = fx_node(fx, to);
    if (!nd->up)
        return;
    struct raft *r = nd->r;
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = (uint8_t)(1 + next(in) % RAFT_MSG_TYPE_MAX);
    m.from = peer_of(in, to);
    m.to = to;
    m.term = near(in, raft_term(r));
    uint64_t last = raft_last_index(r);
    uint8_t bytes[3][16];
    struct raft_entry ents[3];
    uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
    switch (m.type) {
    case RAFT_MSG_APPEND:
        m.append.prev_index = near(in, last);
        m.append.prev_term = near(in, raft_last_term(r));
        m.append.commit = near(in, raft_commit_index(r));
        m.append.n_entries = next(in) % 4;
        for (uint32_t i = 0; i < m.append.n_entries; i++) {
            uint8_t kind = next(in);
            ents[i] = (struct raft_entry){.term = near(in, m.term),
                                          .data = bytes[i], .len = 16,
                                          .type = RAFT_ENTRY_NORMAL};
            for (int k = 0; k < 16; k++)
                bytes[i][k] = next(in);
            if (kind % 8 == 0) { /* a configuration naming up to 4 ids */
                struct raft_config c = {.n = 1 + kind / 8 % 4, .max_id = 9};
                for (uint32_t k = 0; k < c.n; k++)
                    c.servers[k] = (struct raft_server){
                        k + 1 + (kind >> 6) % 2,
                        k == 3 ? RAFT_LEARNER : RAFT_VOTER};
                int len = raft_config_encode(&c, cfg, sizeof(cfg));
                if (len > 0) {
                    ents[i].data = cfg;
                    ents[i].len = (uint32_t)len;
                    ents[i].type = RAFT_ENTRY_CONFIG;
                }
            } else if (kind % 8 == 1) {
                ents[i].type = RAFT_ENTRY_NOOP;
                ents[i].len = 0;
            }
        }
        m.append.entries = ents;
        break;
    case RAFT_MSG_APPEND_RESP:
        m.append_resp.index = near(in, last);
        m.append_resp.hint_index = near(in, last);
        m.append_resp.hint_term = near(in, raft_term(r));
        m.append_resp.reject = next(in) & 1;
        m.append_resp.lost = next(in) & 1;
        break;
    case RAFT_MSG_VOTE:
        m.vote.last_index = near(in, last);
        m.vote.last_term = near(in, raft_last_term(r));
        m.vote.pre = next(in) & 1;
        m.vote.transfer = next(in) & 1;
        break;
    case RAFT_MSG_VOTE_RESP:
        m.vote_resp.granted = next(in) & 1;
        m.vote_resp.pre = next(in) & 1;
        break;
    case RAFT_MSG_HEARTBEAT:
        m.heartbeat.commit = near(in, raft_commit_index(r));
        m.heartbeat.seq = next(in);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        m.heartbeat_resp.seq = next(in);
        break;
    case RAFT_MSG_SNAPSHOT:
        m.snapshot.meta.index = near(in, last);
        m.snapshot.meta.term = near(in, raft_last_term(r));
        m.snapshot.meta.size = next(in) % 64;
        m.snapshot.meta.config = *raft_config(r);
        m.snapshot.offset = next(in) % 64;
        m.snapshot.len = next(in) % 17;
        m.snapshot.last = next(in) & 1;
        m.snapshot.data = bytes[0];
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        m.snapshot_resp.index = near(in, raft_snapshot_index(r));
        m.snapshot_resp.next_offset = next(in) % 64;
        m.snapshot_resp.done = next(in) & 1;
        m.snapshot_resp.reject = next(in) & 1;
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    case RAFT_MSG_READ_INDEX:
        m.read_index.req_id = next(in);
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        m.read_index_resp.req_id = next(in);
        m.read_index_resp.index = near(in, raft_commit_index(r));
        m.read_index_resp.ok = next(in) & 1;
        break;
    }
    size_t size = raft_msg_encoded_size(&m);
    struct frame *f = malloc(sizeof(*f) + size);
    if (f == NULL)
        abort();
    f->rb = (struct raft_buf){.refs = 1, .free_cb = frame_free};
    struct raft_msg d;
    if (raft_msg_encode(&m, f->data, size) > 0 &&
        raft_msg_decode(NULL, f->data, size, &f->rb, &d) > 0) {
        fx_recv(fx, &d);
        fx_install(fx, nd);
        raft_msg_decoded_free(NULL, &d);
    }
    raft_buf_release(&f->rb);
}

/* The configuration in force at `index` on r, if r's log says. */
static bool config_at(struct raft *r, uint64_t index, struct raft_config *c)
{
    for (uint64_t i = raft_last_index(r); i > index; i--) {
        const struct raft_entry *e = raft_entry_at(r, i);
        if (e != NULL && e->type == RAFT_ENTRY_CONFIG)
            return false; /* a newer one is appended: raft_config says that */
    }
    for (uint64_t i = index; i >= raft_first_index(r) && i > 0; i--) {
        const struct raft_entry *e = raft_entry_at(r, i);
        if (e != NULL && e->type == RAFT_ENTRY_CONFIG)
            return raft_config_decode(e->data, e->len, c) == 0;
    }
    *c = *raft_config(r);
    return true;
}

static void snapshot_taken(struct fx *fx, struct fx_node *nd)
{
    struct raft_event ev = {.type = RAFT_EVENT_SNAPSHOT_TAKEN};
    uint64_t index = nd->applied;
    if (index == 0 || index <= raft_snapshot_index(nd->r) ||
        nd->install_pending || !config_at(nd->r, index, &ev.snapshot.config))
        return;
    ev.snapshot.index = index;
    ev.snapshot.term = raft_term_at(nd->r, index);
    ev.snapshot.size = 48;
    if (ev.snapshot.term != 0)
        fx_step(fx, nd, &ev);
}

struct mono {
    uint64_t term, commit;
};

static struct mono was[NODES]; /* per node, what check() saw last */

static void deliver_all(struct fx *fx)
{
    fx_deliver_all(fx); /* gives up after 100,000 messages */
    if (fx->q_n != 0) {
        fprintf(stderr, "a message storm: the queue never drains\n");
        abort();
    }
}

static void operate(struct fx *fx, struct input *in)
{
    uint8_t op = next(in);
    struct fx_node *nd = fx_node(fx, 1 + next(in) % NODES);
    switch (op % 14) {
    case 0:
        fx->now += 1 + next(in);
        if (nd->up)
            fx_tick(fx, nd);
        break;
    case 1:
        fx_deliver_one(fx);
        break;
    case 2:
        deliver_all(fx);
        break;
    case 3: /* drop the head of the queue */
        if (fx->q_n > 0) {
            fx_free_msg(&fx->q[fx->q_head]);
            fx->q_head = (fx->q_head + 1) % FX_QUEUE;
            fx->q_n--;
        }
        break;
    case 4:
    case 5:
        hostile(fx, in);
        break;
    case 6:
        if (nd->up) {
            char s[8];
            snprintf(s, sizeof(s), "w%u", next(in));
            fx_propose(fx, nd, s);
        }
        break;
    case 7:
        if (nd->up)
            fx_read(fx, nd, next(in), next(in) & 1);
        break;
    case 8:
        if (nd->up) {
            struct raft_event ev = {.type = RAFT_EVENT_TRANSFER};
            ev.transfer.to = next(in) % 5;
            fx_step(fx, nd, &ev);
        }
        break;
    case 9:
        if (nd->up) {
            struct raft_event ev = {.type = RAFT_EVENT_CHANGE};
            ev.change.op = (uint8_t)(1 + next(in) % 3);
            ev.change.id = next(in) % 6;
            fx_step(fx, nd, &ev);
        }
        break;
    case 10:
        if (nd->up)
            snapshot_taken(fx, nd);
        break;
    case 11: /* crash and restart from what the fixture's storage holds */
        if (nd->up && !nd->install_pending) {
            fx_crash(fx, nd->id);
            fx_start(fx, nd->id, NODES);
            was[nd->id - 1].commit = 0; /* volatile: it starts over */
        }
        break;
    case 12:
        if (nd->up) {
            struct raft_event ev = {.type = RAFT_EVENT_PEER_DOWN};
            ev.peer_down.id = next(in) % 5;
            fx_step(fx, nd, &ev);
        }
        break;
    case 13: /* fx_run, with deliver_all's check */
        for (int t = 1 + next(in) % 8; t > 0; t--) {
            fx->now += 10;
            for (uint32_t k = 0; k < NODES; k++)
                if (fx->nodes[k].up)
                    fx_tick(fx, &fx->nodes[k]);
            deliver_all(fx);
        }
        break;
    }
}

static void check(struct fx *fx)
{
    for (uint32_t i = 0; i < NODES; i++) {
        struct fx_node *nd = &fx->nodes[i];
        if (!nd->up)
            continue;
        uint64_t term = raft_term(nd->r), commit = raft_commit_index(nd->r);
        if (term < was[i].term || commit < was[i].commit ||
            commit > raft_last_index(nd->r)) {
            fprintf(stderr, "node %u: term %llu (was %llu), commit %llu "
                    "(was %llu), last %llu\n", i + 1,
                    (unsigned long long)term,
                    (unsigned long long)was[i].term,
                    (unsigned long long)commit,
                    (unsigned long long)was[i].commit,
                    (unsigned long long)raft_last_index(nd->r));
            abort();
        }
        was[i] = (struct mono){term, commit};
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fx fx;
    struct input in = {data, size};
    uint8_t flags = next(&in);
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .seed = 11,
                             .no_pre_vote = flags & 1,
                             .no_check_quorum = flags & 2,
                             .lease_drift_ms = flags & 4 ? 10 : 0,
                             .snapshot_threshold = 8,
                             .snapshot_trailing = flags & 8 ? 2 : 0,
                             .max_append_entries = 1 + (flags >> 4) % 4};
    fx_init_opts(&fx, NODES, NODES, &o);
    fx_elect(&fx);
    memset(was, 0, sizeof(was));
    check(&fx);
    for (int i = 0; i < MAX_OPS && in.n > 0; i++) {
        operate(&fx, &in);
        check(&fx);
    }
    fx_destroy(&fx);
    return 0;
}

static void write_seeds(const char *dir)
{
    static const uint8_t quiet[] = {0, 13, 0, 7, 6, 1, 9, 2, 0};
    static const uint8_t lease[] = {4, 6, 1, 1, 7, 2, 1, 1, 2, 0, 13, 1, 3};
    static const uint8_t hostile_append[] = {
        0, 4, 0, 1, 0, 3, 4, 4, 2, 3, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
        11, 12, 13, 14, 15, 16, 2, 0};
    static const uint8_t churn[] = {8, 11, 0, 13, 2, 6, 1, 5, 10, 0, 10, 1,
                                    10, 2, 9, 0, 3, 4, 13, 3, 12, 1, 1};
    fuzz_seed_write(dir, "quiet", quiet, sizeof(quiet));
    fuzz_seed_write(dir, "lease", lease, sizeof(lease));
    fuzz_seed_write(dir, "hostile_append", hostile_append,
                    sizeof(hostile_append));
    fuzz_seed_write(dir, "churn", churn, sizeof(churn));
}

FUZZ_SEEDS_INITIALIZE(write_seeds)
