/* One simulated run: the event queue and virtual time, per-node drifting
 * clocks, the fault scheduler ("chaos": partitions, link faults, crashes,
 * slow disks, membership changes, leadership transfers), the fault-free
 * settling period with its liveness probe, and the final linearizability
 * check of the client history. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_net.h"

/* ---- randomness: xoshiro256** seeded through splitmix64 ----------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)sim_rng_next(r) * n) >> 64);
}

uint64_t sim_rng_range(struct sim_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + sim_rng_below(r, hi - lo + 1);
}

bool sim_rng_chance(struct sim_rng *r, uint32_t permille)
{
    return sim_rng_below(r, 1000) < permille;
}

/* ---- reporting ----------------------------------------------------------- */

void sim_fail(struct sim_world *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = true;
    int off = snprintf(w->why, sizeof(w->why), "[%llu ms] ",
                       (unsigned long long)w->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->why + off, sizeof(w->why) - (size_t)off, fmt, ap);
    va_end(ap);
    if (w->trace)
        fprintf(w->trace, "FAIL %s\n", w->why);
}

void sim_trace(struct sim_world *w, const char *fmt, ...)
{
    if (!w->trace)
        return;
    fprintf(w->trace, "[%6llu ms] ", (unsigned long long)w->now);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(w->trace, fmt, ap);
    va_end(ap);
    fputc('\n', w->trace);
}

/* ---- event queue --------------------------------------------------------- */

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
    return a->time != b->time ? a->time < b->time : a->seq < b->seq;
}

void sim_schedule(struct sim_world *w, uint64_t at, uint8_t type,
                  uint64_t node, uint64_t arg, struct sim_netmsg *msg)
{
    if (w->n_heap == w->cap_heap) {
        w->cap_heap = w->cap_heap ? 2 * w->cap_heap : 1024;
        w->heap = realloc(w->heap, w->cap_heap * sizeof(*w->heap));
        if (!w->heap)
            abort();
    }
    struct sim_event ev = {.time = at, .seq = ++w->ev_seq, .type = type,
                           .node = node, .arg = arg, .msg = msg};
    if (type == SIM_EV_TICK || type == SIM_EV_DISK || type == SIM_EV_RESTART ||
        type == SIM_EV_PEER_DOWN)
        ev.incarnation = w->nodes[node].incarnation;
    uint32_t i = w->n_heap++;
    while (i > 0 && ev_before(&ev, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = ev;
}

static struct sim_event heap_pop(struct sim_world *w)
{
    struct sim_event top = w->heap[0];
    struct sim_event last = w->heap[--w->n_heap];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= w->n_heap)
            break;
        if (c + 1 < w->n_heap && ev_before(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!ev_before(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->n_heap)
        w->heap[i] = last;
    return top;
}

/* ---- clocks and nodes ----------------------------------------------------- */

/* Each node's monotonic clock runs at 1 + ppm/1e6 of real time, within the
 * drift bound the lease is configured for. */
uint64_t sim_node_now(struct sim_world *w, struct sim_node *n)
{
    int64_t skew = (int64_t)w->now * n->clock_ppm / 1000000;
    uint64_t t = 1000000 + w->now + (uint64_t)skew;
    if (t < n->clock_last)
        t = n->clock_last;
    n->clock_last = t;
    return t;
}

struct sim_node *sim_leader(struct sim_world *w)
{
    struct sim_node *best = NULL;
    for (uint64_t i = 1; i <= w->max_id; i++) {
        struct sim_node *n = &w->nodes[i];
        if (n->state != SIM_NODE_UP || raft_role(n->raft) != RAFT_LEADER)
            continue;
        if (!best || raft_term(n->raft) > raft_term(best->raft))
            best = n;
    }
    return best;
}

static void schedule_tick(struct sim_world *w, struct sim_node *n)
{
    sim_schedule(w, w->now + sim_rng_range(&w->rng, 2, w->p.election_ms / 20),
                 SIM_EV_TICK, n->id, 0, NULL);
}

static bool node_init(struct sim_world *w, uint64_t id, const struct raft_config *c)
{
    struct sim_node *n = &w->nodes[id];
    memset(n, 0, sizeof(*n));
    n->id = id;
    if (w->p.storage == SIM_STORAGE_WAL)
        sim_wal_bootstrap(w, n, c);
    else if (c)
        sim_disk_bootstrap(&n->disk, c);
    else
        n->disk.log.first = 1;
    int64_t d = (int64_t)w->p.drift_ppm;
    n->clock_ppm = (int64_t)sim_rng_below(&w->rng, 2 * (uint64_t)d + 1) - d;
    if (sim_node_start(w, n) != 0)
        return false;
    if (id > w->max_id)
        w->max_id = id;
    schedule_tick(w, n);
    return true;
}

void sim_crash_node(struct sim_world *w, struct sim_node *n, uint64_t down_ms)
{
    /* Power loss: what was still in the machine's send buffers is lost,
     * what was already on the wire arrives. */
    for (uint32_t i = 0; i < w->n_heap; i++) {
        struct sim_event *ev = &w->heap[i];
        if (ev->type == SIM_EV_DELIVER && ev->msg->from == n->id &&
            sim_rng_chance(&w->rng, 500))
            ev->msg->lost = true;
    }
    w->n_crashes++;
    sim_node_crash(w, n);
    sim_schedule(w, w->now + down_ms, SIM_EV_RESTART, n->id, 0, NULL);
    /* The others' transports redial and are refused. */
    for (uint64_t i = 1; w->p.peer_down && i <= w->max_id; i++)
        if (i != n->id && w->nodes[i].state == SIM_NODE_UP)
            sim_schedule(w, w->now + sim_rng_range(&w->rng_down, 5, 100),
                         SIM_EV_PEER_DOWN, i, n->id, NULL);
}

#define PEER_DOWN_FALSE (1ULL << 63) /* arg flag: the peer is up */

/* A false report to one follower that the leader is gone: it may only make
 * that follower campaign early, never break a lease. */
static void false_peer_down(struct sim_world *w)
{
    struct sim_node *l = sim_leader(w);
    if (!w->p.peer_down || !l || !sim_rng_chance(&w->rng_down, 150))
        return;
    uint64_t id = 1 + sim_rng_below(&w->rng_down, w->max_id);
    if (id != l->id && w->nodes[id].state == SIM_NODE_UP)
        sim_schedule(w, w->now, SIM_EV_PEER_DOWN, id,
                     l->id | PEER_DOWN_FALSE, NULL);
}

static void peer_down(struct sim_world *w, struct sim_node *n, uint64_t arg)
{
    uint64_t id = arg & ~PEER_DOWN_FALSE;
    bool is_false = arg & PEER_DOWN_FALSE;
    /* a real report only while the peer is still down */
    if (!is_false && w->nodes[id].state == SIM_NODE_UP)
        return;
    w->n_peer_down++;
    sim_trace(w, "node %llu: peer %llu is gone%s", (unsigned long long)n->id,
              (unsigned long long)id, is_false ? " (a false report)" : "");
    struct raft_event ev = {.type = RAFT_EVENT_PEER_DOWN};
    ev.peer_down.id = id;
    sim_node_step(w, n, &ev);
}

static void node_restart(struct sim_world *w, struct sim_node *n)
{
    if (sim_node_start(w, n) != 0)
        return;
    if (sim_wal_used(n))
        sim_trace(w, "node %llu restarts from its WAL at term %llu, commit "
                     "%llu, last %llu, snapshot %llu",
                  (unsigned long long)n->id,
                  (unsigned long long)raft_term(n->raft),
                  (unsigned long long)raft_commit_index(n->raft),
                  (unsigned long long)raft_last_index(n->raft),
                  (unsigned long long)raft_snapshot_index(n->raft));
    else
    sim_trace(w, "node %llu restarts at term %llu, %llu entries after "
                 "snapshot %llu", (unsigned long long)n->id,
              (unsigned long long)n->disk.term,
              (unsigned long long)n->disk.log.n,
              (unsigned long long)n->disk.snap.index);
    schedule_tick(w, n);
}

/* ---- faults ------------------------------------------------------------- */

static int up_ids(struct sim_world *w, uint64_t *ids)
{
    int k = 0;
    for (uint64_t i = 1; i <= w->max_id; i++)
        if (w->nodes[i].state == SIM_NODE_UP)
            ids[k++] = i;
    return k;
}

static void heal_links(struct sim_world *w)
{
    memset(w->cut, 0, sizeof(w->cut));
}

static void partition_random(struct sim_world *w)
{
    bool side[SIM_MAX_NODES] = {false};
    heal_links(w);
    for (uint64_t i = 1; i <= w->max_id; i++)
        side[i] = sim_rng_chance(&w->rng, 500);
    for (uint64_t a = 1; a <= w->max_id; a++)
        for (uint64_t b = 1; b <= w->max_id; b++)
            w->cut[a][b] = side[a] != side[b];
    w->n_partitions++;
    sim_trace(w, "chaos: symmetric partition");
}

static void isolate(struct sim_world *w, uint64_t id, bool in, bool out)
{
    for (uint64_t b = 1; b < SIM_MAX_NODES; b++) {
        if (b == id)
            continue;
        w->cut[id][b] = out;
        w->cut[b][id] = in;
    }
    w->n_partitions++;
    sim_trace(w, "chaos: node %llu cut off (in %d out %d)",
              (unsigned long long)id, in, out);
}

static void partition_asymmetric(struct sim_world *w)
{
    int pairs = (int)sim_rng_range(&w->rng, 1, 4);
    for (int i = 0; i < pairs; i++) {
        uint64_t a = 1 + sim_rng_below(&w->rng, w->max_id);
        uint64_t b = 1 + sim_rng_below(&w->rng, w->max_id);
        if (a != b)
            w->cut[a][b] = true;
    }
    w->n_partitions++;
    sim_trace(w, "chaos: %d one-way link cuts", pairs);
}

static int voters_in(const struct raft_config *c, uint64_t *ids, uint8_t role)
{
    int k = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->servers[i].role == role)
            ids[k++] = c->servers[i].id;
    return k;
}

static void chaos_crash(struct sim_world *w, bool bounce)
{
    uint64_t ids[SIM_MAX_NODES];
    int up = up_ids(w, ids);
    int down = 0;
    for (uint64_t i = 1; i <= w->max_id; i++)
        down += w->nodes[i].state == SIM_NODE_DOWN;
    if (!bounce && down > (w->p.nodes - 1) / 2)
        return;
    if (up == 0)
        return;
    struct sim_node *l = sim_leader(w);
    struct sim_node *victim = l && sim_rng_chance(&w->rng, 500)
                                  ? l : &w->nodes[ids[sim_rng_below(&w->rng, (uint64_t)up)]];
    uint64_t down_ms = bounce ? sim_rng_range(&w->rng, 1, 10)
                              : sim_rng_range(&w->rng, 20, 400);
    sim_crash_node(w, victim, down_ms);
}

static void chaos_membership(struct sim_world *w)
{
    struct sim_node *l = sim_leader(w);
    if (!l || w->p.no_membership)
        return;
    const struct raft_config *c = raft_config(l->raft);
    uint64_t voters[SIM_MAX_NODES], learners[SIM_MAX_NODES];
    int nv = voters_in(c, voters, RAFT_VOTER);
    int nl = voters_in(c, learners, RAFT_LEARNER);
    struct raft_event ev = {.type = RAFT_EVENT_CHANGE};
    if (nl > 0 && !w->p.auto_promote) {
        ev.change.op = RAFT_CHANGE_PROMOTE;
        ev.change.id = learners[0];
    } else if (nl == 0 && nv <= w->p.nodes) {
        uint64_t id = raft_next_id(l->raft);
        if (id >= SIM_MAX_NODES || w->nodes[id].state != SIM_NODE_UNUSED)
            return;
        if (!node_init(w, id, NULL))
            return;
        ev.change.op = RAFT_CHANGE_ADD_LEARNER;
        ev.change.id = id;
    } else if (nv >= w->p.nodes && nv > 3) {
        ev.change.op = RAFT_CHANGE_REMOVE;
        ev.change.id = voters[sim_rng_below(&w->rng, (uint64_t)nv)];
    } else {
        return;
    }
    int rv = sim_node_step(w, l, &ev);
    sim_trace(w, "chaos: membership change %u of node %llu via leader %llu: %s",
              ev.change.op, (unsigned long long)ev.change.id,
              (unsigned long long)l->id, err_str(rv));
    if (rv == 0) {
        w->n_changes++;
        return;
    }
    if (ev.change.op == RAFT_CHANGE_ADD_LEARNER)
        sim_node_free(&w->nodes[ev.change.id]);
}

static void chaos_transfer(struct sim_world *w)
{
    struct sim_node *l = sim_leader(w);
    if (!l)
        return;
    uint64_t voters[SIM_MAX_NODES];
    int nv = voters_in(raft_config(l->raft), voters, RAFT_VOTER);
    struct raft_event ev = {.type = RAFT_EVENT_TRANSFER};
    ev.transfer.to = sim_rng_chance(&w->rng, 300) || nv == 0
                         ? 0 : voters[sim_rng_below(&w->rng, (uint64_t)nv)];
    if (ev.transfer.to == l->id)
        ev.transfer.to = 0;
    int rv = sim_node_step(w, l, &ev);
    w->n_transfers += rv == 0;
    sim_trace(w, "chaos: leadership transfer %llu -> %llu: %s",
              (unsigned long long)l->id, (unsigned long long)ev.transfer.to,
              err_str(rv));
}

static void chaos_links(struct sim_world *w)
{
    w->loss_permille = (uint32_t)sim_rng_below(&w->rng, 4) == 0
                           ? (uint32_t)sim_rng_range(&w->rng, 50, 300)
                           : (uint32_t)sim_rng_below(&w->rng, 50);
    w->dup_permille = (uint32_t)sim_rng_below(&w->rng, 60);
    w->delay_min = (uint32_t)sim_rng_range(&w->rng, 0, 3);
    w->delay_max = w->delay_min + (uint32_t)sim_rng_range(&w->rng, 1, 30);
    if (w->p.heavy_loss) {
        /* the same draws, mapped to a worse network */
        w->loss_permille = 150 + w->loss_permille;
        w->dup_permille += 40;
        w->delay_max += 20;
    }
    sim_trace(w, "chaos: links loss %u dup %u delay %u..%u ms",
              w->loss_permille, w->dup_permille, w->delay_min, w->delay_max);
}

static void chaos(struct sim_world *w)
{
    false_peer_down(w);
    uint64_t r = sim_rng_below(&w->rng, 1000);
    struct sim_node *l = sim_leader(w);
    if (r < 120) {
        partition_random(w);
    } else if (r < 230) {
        if (l)
            isolate(w, l->id, true, true);
    } else if (r < 300) {
        if (l)
            isolate(w, l->id, sim_rng_chance(&w->rng, 500),
                    sim_rng_chance(&w->rng, 500));
    } else if (r < 360) {
        partition_asymmetric(w);
    } else if (r < 500) {
        heal_links(w);
        sim_trace(w, "chaos: links healed");
    } else if (r < 600) {
        chaos_crash(w, false);
    } else if (r < 650) {
        chaos_crash(w, true);
    } else if (r < 720) {
        /* Half the time the leader's: it writes its log in parallel with
         * replication and must not count itself before the sync. */
        uint64_t id = l && sim_rng_chance(&w->rng, 500)
                          ? l->id : 1 + sim_rng_below(&w->rng, w->max_id);
        /* On the WAL, a third of these tear a write instead: the WAL
         * stops, the node crashes, and recovery must cut the torn record. */
        if (sim_wal_used(&w->nodes[id]) && sim_rng_chance(&w->rng, 330)) {
            sim_wal_arm_fault(w, &w->nodes[id]);
        } else {
            w->nodes[id].disk.slow_until =
                w->now + sim_rng_range(&w->rng, 100, 600);
            sim_trace(w, "chaos: node %llu disk slow", (unsigned long long)id);
        }
    } else if (r < 820) {
        chaos_membership(w);
    } else if (r < 900) {
        chaos_transfer(w);
    } else if (r < 960) {
        chaos_links(w);
    }
}

/* Leader churn, for the Figure 8 scenario of the Raft paper (§5.4.2): a
 * leader cut off or crashed right after its election leaves entries of its
 * term on itself alone, and a later leader may then find old-term entries
 * on a majority without its own term's entries there yet. */
void sim_on_new_leader(struct sim_world *w, struct sim_node *n)
{
    if (!w->chaos || !sim_rng_chance(&w->rng, w->p.churn_permille))
        return;
    sim_schedule(w, w->now + sim_rng_range(&w->rng, 0, 6), SIM_EV_CHURN,
                 n->id, n->incarnation, NULL);
}

/* A leader that just advanced its commit index is at the edge of the
 * Figure 8 window: its followers may not hold its own term's entries yet. */
void sim_on_leader_commit(struct sim_world *w, struct sim_node *n)
{
    uint64_t term = raft_term(n->raft);
    if (!w->chaos || n->churn_term == term)
        return;
    n->churn_term = term; /* only a new leader's first commit */
    if (!sim_rng_chance(&w->rng, w->p.churn_permille))
        return;
    sim_schedule(w, w->now, SIM_EV_CHURN, n->id, n->incarnation, NULL);
}

static void churn(struct sim_world *w, struct sim_node *n, uint32_t inc)
{
    if (!w->chaos || n->state != SIM_NODE_UP || n->incarnation != inc)
        return;
    if (sim_rng_chance(&w->rng, 700)) {
        sim_crash_node(w, n, sim_rng_range(&w->rng, 10, 300));
        return;
    }
    isolate(w, n->id, true, true);
    sim_schedule(w, w->now + sim_rng_range(&w->rng, 30, 300), SIM_EV_REJOIN,
                 n->id, 0, NULL);
}

static void rejoin(struct sim_world *w, uint64_t id)
{
    for (uint64_t b = 1; b < SIM_MAX_NODES; b++)
        w->cut[id][b] = w->cut[b][id] = false;
    sim_trace(w, "node %llu rejoins", (unsigned long long)id);
}

/* End of faults: links heal, crashed nodes restart, disks are fast again;
 * clients finish what they are doing and one probe write must commit. */
static void heal_all(struct sim_world *w)
{
    w->chaos = false;
    w->stop_clients = true;
    heal_links(w);
    w->loss_permille = w->dup_permille = 0;
    w->delay_min = 1;
    w->delay_max = 5;
    for (uint64_t i = 1; i <= w->max_id; i++) {
        struct sim_node *n = &w->nodes[i];
        n->disk.slow_until = 0;
        if (n->state == SIM_NODE_DOWN)
            node_restart(w, n);
    }
    sim_trace(w, "faults stop; liveness probe starts");
    sim_client_start_liveness(w);
}

/* ---- the run ------------------------------------------------------------- */

#define CONVERGE_MS 1500

static void dispatch(struct sim_world *w, struct sim_event *ev)
{
    struct sim_node *n = ev->node < SIM_MAX_NODES ? &w->nodes[ev->node] : NULL;
    bool current = n && n->incarnation == ev->incarnation;
    switch (ev->type) {
    case SIM_EV_TICK:
        if (current && n->state == SIM_NODE_UP) {
            sim_node_step(w, n, &(struct raft_event){.type = RAFT_EVENT_TICK});
            if (n->state == SIM_NODE_UP)
                schedule_tick(w, n);
        }
        break;
    case SIM_EV_DELIVER:
        sim_node_deliver(w, ev->msg);
        break;
    case SIM_EV_DISK:
        if (current && n->state == SIM_NODE_UP)
            sim_node_sync(w, n, ev->arg);
        break;
    case SIM_EV_CLIENT:
        sim_client_wake(w, (int)ev->node, ev->arg);
        break;
    case SIM_EV_CLIENT_TIMEOUT:
        sim_client_timeout(w, (int)ev->node, ev->arg);
        break;
    case SIM_EV_CHAOS:
        if (w->chaos) {
            chaos(w);
            sim_schedule(w, w->now + sim_rng_range(&w->rng, 30, 300),
                         SIM_EV_CHAOS, 0, 0, NULL);
        }
        break;
    case SIM_EV_RESTART:
        /* A crash on a WAL fault armed during the chaos restarts even
         * after the faults stop (it is the fault's consequence). */
        if (current && n->state == SIM_NODE_DOWN &&
            (w->chaos || n->disk.fault_crashed))
            node_restart(w, n);
        break;
    case SIM_EV_HEAL:
        heal_all(w);
        break;
    case SIM_EV_CHURN:
        churn(w, n, (uint32_t)ev->arg);
        break;
    case SIM_EV_REJOIN:
        if (w->chaos)
            rejoin(w, ev->node);
        break;
    case SIM_EV_PEER_DOWN:
        if (current && n->state == SIM_NODE_UP)
            peer_down(w, n, ev->arg);
        break;
    }
}

static void trace_params(struct sim_world *w)
{
    const struct sim_params *p = &w->p;
    sim_trace(w, "seed %llu: %d nodes, election %u ms, %u entries/append, "
                 "window %u, snapshot every %llu (+%llu trailing, %u B chunks x %u), "
                 "pre-vote %d, check-quorum %d, lease %d, auto-promote %d, "
                 "drift %u ppm, %d clients, churn %u/1000, storage %s, "
                 "peer-down %d",
              (unsigned long long)p->seed, p->nodes, p->election_ms,
              p->max_append_entries, p->max_inflight,
              (unsigned long long)p->snapshot_threshold,
              (unsigned long long)p->snapshot_trailing, p->chunk_bytes,
              p->chunk_window,
              p->pre_vote, p->check_quorum, p->lease, p->auto_promote,
              p->drift_ppm, p->clients, p->churn_permille,
              p->storage == SIM_STORAGE_WAL ? "wal" : "model", p->peer_down);
}

static void world_init(struct sim_world *w)
{
    trace_params(w);
    struct raft_config c = {.n = (uint32_t)w->p.nodes,
                            .max_id = (uint64_t)w->p.nodes};
    for (int i = 0; i < w->p.nodes; i++)
        c.servers[i] = (struct raft_server){.id = (uint64_t)i + 1,
                                            .role = RAFT_VOTER};
    w->delay_min = 1;
    w->delay_max = 10;
    w->chaos = true;
    for (int i = 1; i <= w->p.nodes && !w->failed; i++)
        node_init(w, (uint64_t)i, &c);
    w->n_clients = w->p.clients;
    for (int i = 0; i < w->n_clients; i++) {
        w->clients[i] = (struct sim_client){
            .id = i, .target = 1 + sim_rng_below(&w->rng, (uint64_t)w->p.nodes)};
        sim_schedule(w, sim_rng_range(&w->rng, 0, 50), SIM_EV_CLIENT,
                     (uint64_t)i, 0, NULL);
    }
    sim_schedule(w, sim_rng_range(&w->rng, 50, 200), SIM_EV_CHAOS, 0, 0, NULL);
    sim_schedule(w, w->p.chaos_ms, SIM_EV_HEAL, 0, 0, NULL);
}

static void check_history(struct sim_world *w)
{
    struct lc_report r;
    enum lc_verdict v = lincheck_check(w->hist.ops, w->hist.n, 0, &r);
    sim_trace(w, "history of %zu ops is %s (%llu search steps)", w->hist.n,
              lincheck_verdict_str(v), (unsigned long long)r.steps);
    if (v == LC_LINEARIZABLE)
        return;
    for (size_t i = 0; i < w->hist.n && w->trace; i++) {
        const struct lc_op *o = &w->hist.ops[i];
        if (o->key != r.bad_key)
            continue;
        static const char *kinds[] = {"read", "write", "cas"};
        static const char *res[] = {"ok", "fail", "unknown"};
        sim_trace(w, "  op %zu client %d %s arg %lld arg2 %lld out %lld %s "
                     "[%llu, %llu]", i, o->client, kinds[o->kind],
                  (long long)o->arg, (long long)o->arg2, (long long)o->out,
                  res[o->result], (unsigned long long)o->invoke,
                  (unsigned long long)o->complete);
    }
    const struct lc_op *op = &w->hist.ops[r.bad_op];
    sim_fail(w, "history %s on key %llu (%zu ops): op %zu by client %d, %s "
                "arg %lld out %lld, could not be placed (%zu linearized)",
             lincheck_verdict_str(v), (unsigned long long)r.bad_key, r.key_ops,
             r.bad_op, op->client,
             op->kind == LC_READ ? "read" : op->kind == LC_WRITE ? "write" : "cas",
             (long long)op->arg, (long long)op->out, r.deepest);
}

/* Every member of the leader's configuration that is up has applied up
 * to index (followers catch up once the faults are over). */
static bool converged(struct sim_world *w, uint64_t index)
{
    struct sim_node *l = sim_leader(w);
    if (!l)
        return false;
    const struct raft_config *c = raft_config(l->raft);
    for (uint32_t i = 0; i < c->n; i++) {
        uint64_t id = c->servers[i].id;
        if (id >= SIM_MAX_NODES || w->nodes[id].state != SIM_NODE_UP)
            continue;
        if (w->nodes[id].applied < index)
            return false;
    }
    return true;
}

static void report_straggler(struct sim_world *w, uint64_t index)
{
    for (uint64_t id = 1; id <= w->max_id; id++) {
        struct sim_node *n = &w->nodes[id];
        struct sim_node *l = sim_leader(w);
        if (n->state != SIM_NODE_UP || !l ||
            !raft_config_find(raft_config(l->raft), id) || n->applied >= index)
            continue;
        sim_fail(w, "liveness: node %llu has applied %llu, %u ms after the "
                    "probe committed %llu", (unsigned long long)id,
                 (unsigned long long)n->applied, CONVERGE_MS,
                 (unsigned long long)index);
        return;
    }
    sim_fail(w, "liveness: no leader after the probe committed");
}

int sim_run(const struct sim_params *p, struct sim_world *w)
{
    uint64_t converge_by = 0, converge_to = 0;
    memset(w, 0, sizeof(*w));
    w->p = *p;
    w->trace = p->verbose ? stderr : NULL;
    sim_rng_seed(&w->rng, p->seed);
    sim_rng_seed(&w->rng_down, p->seed ^ 0xd0d0d0d0d0d0d0d0ULL);
    world_init(w);
    uint64_t end = p->chaos_ms + p->settle_ms;
    while (w->n_heap > 0 && !w->failed) {
        struct sim_event ev = heap_pop(w);
        w->now = ev.time;
        if (w->now > end && !converge_by) {
            if (ev.msg)
                sim_net_free(ev.msg);
            struct sim_node *l = sim_leader(w);
            sim_fail(w, "liveness: no write committed within %llu ms after "
                        "faults stopped (leader: %llu)",
                     (unsigned long long)p->settle_ms,
                     (unsigned long long)(l ? l->id : 0));
            break;
        }
        dispatch(w, &ev);
        if (w->chaos || w->failed || !sim_client_liveness_done(w))
            continue;
        if (!converge_by) {
            struct sim_node *l = sim_leader(w);
            converge_by = w->now + CONVERGE_MS;
            converge_to = l ? raft_commit_index(l->raft) : 0;
        }
        if (converged(w, converge_to))
            break;
        if (w->now > converge_by) {
            report_straggler(w, converge_to);
            break;
        }
    }
    if (!w->failed)
        sim_check_final(w);
    if (!w->failed)
        check_history(w);
    return w->failed ? -1 : 0;
}

void sim_world_free(struct sim_world *w)
{
    while (w->n_heap > 0) {
        struct sim_event ev = heap_pop(w);
        if (ev.msg)
            sim_net_free(ev.msg);
    }
    for (int i = 0; i < SIM_MAX_NODES; i++)
        sim_node_free(&w->nodes[i]);
    free(w->heap);
    free(w->hist.ops);
    free(w->leaders);
    free(w->committed);
    free(w->op_index);
    free(w->lm);
    memset(w, 0, sizeof(*w));
}
