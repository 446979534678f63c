/* The safety invariants of Raft (paper Figure 3), checked after every step:
 * Election Safety (one leader per term), Log Matching (checked as: one
 * entry and one predecessor term per (index, term), which implies equal
 * prefixes), Leader Completeness (a leader holds every entry committed in
 * an earlier term), State Machine Safety (every node applies the same entry
 * and reaches the same keyspace digest at each index), commit indexes and
 * terms that never go back, one vote per term on disk, each client op at
 * one index, and the core's contract that applied entries are durable.
 * At the end, the final leader must hold every entry anyone applied. */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

static void grow_u64(uint64_t **a, uint64_t *cap, uint64_t need)
{
    if (need < *cap)
        return;
    uint64_t ncap = *cap ? *cap : 64;
    while (ncap <= need)
        ncap *= 2;
    *a = realloc(*a, ncap * sizeof(**a));
    if (!*a)
        abort();
    memset(*a + *cap, 0, (ncap - *cap) * sizeof(**a));
    *cap = ncap;
}

static void check_election_safety(struct sim_world *w, struct sim_node *n)
{
    uint64_t term = raft_term(n->raft);
    grow_u64(&w->leaders, &w->n_leaders, term);
    if (w->leaders[term] == 0) {
        w->leaders[term] = n->id;
        return;
    }
    if (w->leaders[term] != n->id)
        sim_fail(w, "Election Safety: nodes %llu and %llu both lead term %llu",
                 (unsigned long long)w->leaders[term],
                 (unsigned long long)n->id, (unsigned long long)term);
}

static struct sim_committed *committed_at(struct sim_world *w, uint64_t index)
{
    static const struct sim_committed none;
    if (index > w->n_committed)
        return (struct sim_committed *)&none;
    return &w->committed[index];
}

/* Leader Completeness, incrementally: entries committed in a term below
 * the leader's must be in its log (from its snapshot on). */
static void check_leader_completeness(struct sim_world *w, struct sim_node *n,
                                      bool all)
{
    uint64_t term = raft_term(n->raft);
    if (n->lc_term != term) {
        n->lc_term = term;
        n->lc_upto = 0;
    }
    uint64_t from = n->lc_upto + 1, snap = raft_snapshot_index(n->raft);
    if (from <= snap)
        from = snap + 1;
    for (uint64_t i = from; i <= w->n_committed; i++) {
        const struct sim_committed *c = committed_at(w, i);
        if (c->term == 0)
            continue;
        if (!all && c->bound_term >= term)
            break;
        uint64_t have = raft_term_at(n->raft, i);
        if (have != c->term) {
            sim_fail(w, "Leader Completeness: leader %llu of term %llu has "
                        "term %llu at index %llu, committed with term %llu",
                     (unsigned long long)n->id, (unsigned long long)term,
                     (unsigned long long)have, (unsigned long long)i,
                     (unsigned long long)c->term);
            return;
        }
        n->lc_upto = i;
    }
}

void sim_check_node(struct sim_world *w, struct sim_node *n)
{
    if (n->state != SIM_NODE_UP || !n->raft)
        return;
    uint64_t commit = raft_commit_index(n->raft);
    if (commit < n->last_commit) {
        sim_fail(w, "node %llu: commit index went back from %llu to %llu",
                 (unsigned long long)n->id, (unsigned long long)n->last_commit,
                 (unsigned long long)commit);
        return;
    }
    bool advanced = commit > n->last_commit;
    n->last_commit = commit;
    if (raft_term(n->raft) < n->seen_term) {
        sim_fail(w, "node %llu: term went back from %llu to %llu",
                 (unsigned long long)n->id, (unsigned long long)n->seen_term,
                 (unsigned long long)raft_term(n->raft));
        return;
    }
    n->seen_term = raft_term(n->raft);
    if (raft_role(n->raft) != RAFT_LEADER) {
        n->led_term = 0;
        return;
    }
    uint64_t term = raft_term(n->raft);
    /* Figure 2's commit rule: a leader moves its commit index only to an
     * entry of its own term (§5.4.2); older ones commit indirectly. */
    if (advanced && n->led_term == term && !w->p.consequences_only &&
        raft_term_at(n->raft, commit) != term) {
        sim_fail(w, "Commit rule: leader %llu of term %llu committed index %llu "
                    "of term %llu by counting", (unsigned long long)n->id,
                 (unsigned long long)term, (unsigned long long)commit,
                 (unsigned long long)raft_term_at(n->raft, commit));
        return;
    }
    n->led_term = term;
    if (advanced)
        sim_on_leader_commit(w, n);
    check_election_safety(w, n);
    if (!w->failed)
        check_leader_completeness(w, n, false);
}

/* ---- Log Matching ------------------------------------------------------- */

static uint64_t lm_hash(uint64_t index, uint64_t term)
{
    uint64_t x = index * 0x9e3779b97f4a7c15ULL ^ term * 0xc2b2ae3d27d4eb4fULL;
    x ^= x >> 31;
    return x * 0xbf58476d1ce4e5b9ULL;
}

static void lm_grow(struct sim_world *w)
{
    struct sim_lm_slot *old = w->lm;
    uint64_t oldcap = w->lm_cap;
    w->lm_cap = oldcap ? 2 * oldcap : 4096;
    w->lm = calloc(w->lm_cap, sizeof(*w->lm));
    if (!w->lm)
        abort();
    for (uint64_t i = 0; i < oldcap; i++) {
        if (!old[i].term)
            continue;
        uint64_t j = lm_hash(old[i].index, old[i].term) & (w->lm_cap - 1);
        while (w->lm[j].term)
            j = (j + 1) & (w->lm_cap - 1);
        w->lm[j] = old[i];
    }
    free(old);
}

static void lm_check(struct sim_world *w, struct sim_node *n, uint64_t index,
                     uint64_t term, uint64_t hash, uint64_t prev_term)
{
    if ((w->lm_used + 1) * 2 > w->lm_cap)
        lm_grow(w);
    uint64_t j = lm_hash(index, term) & (w->lm_cap - 1);
    while (w->lm[j].term) {
        struct sim_lm_slot *s = &w->lm[j];
        if (s->index == index && s->term == term) {
            if (s->hash != hash)
                sim_fail(w, "Log Matching: node %llu has a different entry at "
                            "index %llu term %llu", (unsigned long long)n->id,
                         (unsigned long long)index, (unsigned long long)term);
            else if (prev_term && s->prev_term && s->prev_term != prev_term)
                sim_fail(w, "Log Matching: node %llu has term %llu before "
                            "(%llu, %llu), another node term %llu",
                         (unsigned long long)n->id,
                         (unsigned long long)prev_term,
                         (unsigned long long)index, (unsigned long long)term,
                         (unsigned long long)s->prev_term);
            else if (!s->prev_term)
                s->prev_term = prev_term;
            return;
        }
        j = (j + 1) & (w->lm_cap - 1);
    }
    w->lm[j] = (struct sim_lm_slot){index, term, hash, prev_term};
    w->lm_used++;
}

static uint64_t entry_hash(const struct raft_entry *e)
{
    return sim_hash_bytes(e->data, e->len) ^ ((uint64_t)e->type << 56) ^ 1;
}

/* One vote per term (§3.4): the hard state written to disk never changes
 * its vote within a term, and its term never goes back. */
static void check_hard_state(struct sim_world *w, struct sim_node *n,
                             const struct raft_update *u)
{
    if (!u->hard_state_changed)
        return;
    if (u->term < n->w_term)
        sim_fail(w, "node %llu writes term %llu after term %llu",
                 (unsigned long long)n->id, (unsigned long long)u->term,
                 (unsigned long long)n->w_term);
    else if (u->term == n->w_term && n->w_vote && u->vote != n->w_vote)
        sim_fail(w, "node %llu votes for %llu in term %llu after voting for %llu",
                 (unsigned long long)n->id, (unsigned long long)u->vote,
                 (unsigned long long)u->term, (unsigned long long)n->w_vote);
    n->w_term = u->term;
    n->w_vote = u->vote;
}

/* A client op is proposed again only after its earlier attempt definitely
 * failed, so it may be applied at one index only. */
void sim_check_op_once(struct sim_world *w, struct sim_node *n, uint64_t index,
                       uint64_t opid)
{
    if (opid >= w->hist.n) {
        sim_fail(w, "node %llu applies unknown op %llu at index %llu",
                 (unsigned long long)n->id, (unsigned long long)opid,
                 (unsigned long long)index);
        return;
    }
    grow_u64(&w->op_index, &w->cap_op_index, opid);
    if (w->op_index[opid] == 0)
        w->op_index[opid] = index;
    else if (w->op_index[opid] != index)
        sim_fail(w, "node %llu applies op %llu at index %llu, applied at %llu "
                    "before", (unsigned long long)n->id,
                 (unsigned long long)opid, (unsigned long long)index,
                 (unsigned long long)w->op_index[opid]);
}

void sim_check_persist(struct sim_world *w, struct sim_node *n,
                       const struct raft_update *u)
{
    check_hard_state(w, n, u);
    for (uint32_t i = 0; i < u->n_entries && !w->failed; i++) {
        const struct raft_entry *e = &u->entries[i];
        uint64_t idx = u->entries_index + i;
        uint64_t prev = i ? u->entries[i - 1].term
                          : (idx > 1 ? raft_term_at(n->raft, idx - 1) : 0);
        if (e->term == 0) {
            sim_fail(w, "node %llu persists entry %llu with term 0",
                     (unsigned long long)n->id, (unsigned long long)idx);
            return;
        }
        if (prev > e->term) {
            sim_fail(w, "node %llu: log terms decrease at index %llu (%llu "
                        "after %llu)", (unsigned long long)n->id,
                     (unsigned long long)idx, (unsigned long long)e->term,
                     (unsigned long long)prev);
            return;
        }
        lm_check(w, n, idx, e->term, entry_hash(e), prev);
    }
}

/* ---- State Machine Safety ----------------------------------------------- */

static bool durable_on(struct sim_node *n, uint64_t index, uint64_t term)
{
    if (sim_wal_used(n))
        return sim_wal_durable_on(n, index, term);
    const struct sim_disk *d = &n->disk;
    if (index <= d->snap.index)
        return true;
    if (index < d->log.first || index >= d->log.first + d->log.n)
        return false;
    return d->log.e[index - d->log.first].term == term;
}

/* Called after n applied index (e) or installed a snapshot ending there
 * (e NULL). The first node to get there defines the committed entry. */
void sim_check_apply(struct sim_world *w, struct sim_node *n, uint64_t index,
                     const struct raft_entry *e)
{
    uint64_t term = e ? e->term : n->applied_term;
    uint64_t hash = e ? entry_hash(e) : 0;
    uint64_t digest = sim_kv_digest(n->kv);
    if (e && !w->p.consequences_only && !durable_on(n, index, term)) {
        sim_fail(w, "node %llu applies index %llu (term %llu) before it is "
                    "durable on its disk", (unsigned long long)n->id,
                 (unsigned long long)index, (unsigned long long)term);
        return;
    }
    if (index >= w->cap_committed) {
        uint64_t ncap = w->cap_committed ? w->cap_committed : 256;
        while (ncap <= index)
            ncap *= 2;
        w->committed = realloc(w->committed, ncap * sizeof(*w->committed));
        if (!w->committed)
            abort();
        memset(w->committed + w->cap_committed, 0,
               (ncap - w->cap_committed) * sizeof(*w->committed));
        w->cap_committed = ncap;
    }
    if (index > w->n_committed)
        w->n_committed = index;
    struct sim_committed *c = &w->committed[index];
    if (c->term == 0) {
        *c = (struct sim_committed){term, hash, digest, raft_term(n->raft)};
        return;
    }
    if (c->term != term || (hash && c->hash && c->hash != hash)) {
        sim_fail(w, "State Machine Safety: node %llu applies term %llu at "
                    "index %llu where another node applied term %llu%s",
                 (unsigned long long)n->id, (unsigned long long)term,
                 (unsigned long long)index, (unsigned long long)c->term,
                 c->term == term ? " (different bytes)" : "");
        return;
    }
    if (!c->hash)
        c->hash = hash;
    if (c->digest != digest)
        sim_fail(w, "State Machine Safety: node %llu's keyspace digest at index "
                    "%llu differs from another node's", (unsigned long long)n->id,
                 (unsigned long long)index);
}

/* After the fault-free period: the leader holds every applied entry. */
void sim_check_final(struct sim_world *w)
{
    struct sim_node *l = sim_leader(w);
    if (!l)
        return;
    l->lc_upto = 0;
    check_leader_completeness(w, l, true);
}
