/* A small in-memory cluster for the raft unit tests: N cores, a message
 * queue delivered in order (with per-link cuts), storage that persists
 * at once or on demand, and a record of what each node applied and which
 * reads it answered. Header-only so each test binary stays one file.
 * Not the simulator: no randomness beyond the seed, no fault schedule. */
#ifndef RAFTCACHE_TEST_RAFT_FIXTURE_H
#define RAFTCACHE_TEST_RAFT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

#define FX_MAX 7
#define FX_QUEUE 4096

struct fx_msg {
    struct raft_msg m;
    struct raft_entry *ents;
};

struct fx_node {
    struct raft *r;
    uint64_t id;
    bool up;
    bool manual_persist; /* hold persistence until fx_persist() */
    uint64_t persist_id; /* highest id issued, not yet reported */
    uint64_t term, vote;
    struct raft_entry *log; /* durable entries, index 1.. (after snap) */
    uint64_t log_start, log_n, log_cap;
    struct raft_snapshot_meta snap;
    uint64_t applied;
    uint64_t applied_terms[4096];
    struct raft_read reads[256];
    uint32_t n_reads;
    struct raft_update last;
    bool install_pending;
    uint64_t install_index;
    uint32_t n_suggested;
    int last_rv;
    int depth; /* nested steps (auto-persist) do not overwrite `last` */
};

struct fx {
    struct fx_node nodes[FX_MAX];
    uint32_t n;
    uint64_t now;
    struct fx_msg q[FX_QUEUE];
    uint32_t q_head, q_n;
    bool cut[FX_MAX + 1][FX_MAX + 1];
    struct raft_options opts;
    uint32_t n_sent[RAFT_MSG_TYPE_MAX + 1];
    uint8_t snapshot_bytes[4096];
};

static inline struct fx_node *fx_node(struct fx *fx, uint64_t id)
{
    return &fx->nodes[id - 1];
}

static inline void fx_handle(struct fx *fx, struct fx_node *nd,
                      const struct raft_update *u);

static inline int fx_step(struct fx *fx, struct fx_node *nd, struct raft_event *ev)
{
    struct raft_update u;
    ev->now = fx->now;
    int rv = raft_step(nd->r, ev, &u);
    if (nd->depth++ == 0) {
        nd->last = u;
        nd->last_rv = rv;
    }
    fx_handle(fx, nd, &u);
    nd->depth--;
    return rv;
}

static inline void fx_store(struct fx_node *nd, const struct raft_update *u)
{
    if (u->truncate_from != 0) {
        while (nd->log_n > 0 &&
               nd->log_start + nd->log_n - 1 >= u->truncate_from) {
            raft_buf_release(nd->log[--nd->log_n].buf);
        }
    }
    if (u->n_entries > 0) {
        uint64_t idx = u->entries_index;
        while (nd->log_n > 0 && nd->log_start + nd->log_n - 1 >= idx) {
            raft_buf_release(nd->log[--nd->log_n].buf);
        }
        if (nd->log_n + u->n_entries > nd->log_cap) {
            nd->log_cap = (nd->log_n + u->n_entries) * 2 + 64;
            nd->log = realloc(nd->log, nd->log_cap * sizeof(*nd->log));
        }
        if (nd->log_n == 0) {
            nd->log_start = idx;
        }
        for (uint32_t i = 0; i < u->n_entries; i++) {
            nd->log[nd->log_n++] = u->entries[i];
            raft_buf_acquire(u->entries[i].buf);
        }
    }
    if (u->hard_state_changed) {
        nd->term = u->term;
        nd->vote = u->vote;
    }
}

static inline void fx_enqueue(struct fx *fx, const struct raft_msg *m)
{
    if (fx->q_n == FX_QUEUE) {
        return;
    }
    fx->n_sent[m->type]++;
    struct fx_msg *q = &fx->q[(fx->q_head + fx->q_n++) % FX_QUEUE];
    q->m = *m;
    q->ents = NULL;
    if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0) {
        q->ents = malloc(m->append.n_entries * sizeof(*q->ents));
        memcpy(q->ents, m->append.entries,
               m->append.n_entries * sizeof(*q->ents));
        for (uint32_t i = 0; i < m->append.n_entries; i++) {
            raft_buf_acquire(q->ents[i].buf);
        }
        q->m.append.entries = q->ents;
    }
    if (m->type == RAFT_MSG_SNAPSHOT && m->snapshot.data == NULL) {
        q->m.snapshot.data = fx->snapshot_bytes + m->snapshot.offset % 2048;
    }
}

static inline void fx_handle(struct fx *fx, struct fx_node *nd,
                      const struct raft_update *u)
{
    if (u->install_snapshot && u->n_committed > 0) {
        fprintf(stderr, "node %lu: entries to apply beside an install\n",
                (unsigned long)nd->id);
        abort();
    }
    if (u->persist_id != 0) {
        fx_store(nd, u);
        nd->persist_id = u->persist_id;
    }
    for (uint32_t i = 0; i < u->n_msgs; i++) {
        fx_enqueue(fx, &u->msgs[i]);
    }
    for (uint32_t i = 0; i < u->n_committed; i++) {
        uint64_t idx = u->committed_index + i;
        if (idx != nd->applied + 1) {
            fprintf(stderr, "node %lu applied %lu after %lu\n",
                    (unsigned long)nd->id, (unsigned long)idx,
                    (unsigned long)nd->applied);
            abort();
        }
        nd->applied = idx;
        if (idx < 4096) {
            nd->applied_terms[idx] = u->committed[i].term;
        }
    }
    for (uint32_t i = 0; i < u->n_reads && nd->n_reads < 256; i++) {
        nd->reads[nd->n_reads++] = u->reads[i];
    }
    if (u->install_snapshot) {
        nd->install_pending = true;
        nd->install_index = u->install_meta.index;
    }
    nd->n_suggested += u->snapshot_suggested;
    uint64_t pid = nd->persist_id;
    if (pid != 0 && !nd->manual_persist) {
        nd->persist_id = 0;
        struct raft_event ev = {.type = RAFT_EVENT_PERSISTED};
        ev.persisted.id = pid;
        fx_step(fx, nd, &ev);
    }
}

/* Reports everything issued so far as durable. */
static inline void fx_persist(struct fx *fx, struct fx_node *nd)
{
    uint64_t pid = nd->persist_id;
    if (pid == 0) {
        return;
    }
    nd->persist_id = 0;
    struct raft_event ev = {.type = RAFT_EVENT_PERSISTED};
    ev.persisted.id = pid;
    fx_step(fx, nd, &ev);
}

static inline void fx_install(struct fx *fx, struct fx_node *nd)
{
    if (!nd->install_pending) {
        return;
    }
    nd->install_pending = false;
    for (uint64_t i = 0; i < nd->log_n; i++) {
        raft_buf_release(nd->log[i].buf);
    }
    nd->log_n = 0;
    nd->applied = nd->install_index;
    struct raft_event ev = {.type = RAFT_EVENT_SNAPSHOT_INSTALLED};
    ev.installed.index = nd->install_index;
    fx_step(fx, nd, &ev);
}

static inline void fx_free_msg(struct fx_msg *q)
{
    if (q->ents != NULL) {
        for (uint32_t i = 0; i < q->m.append.n_entries; i++) {
            raft_buf_release(q->ents[i].buf);
        }
        free(q->ents);
        q->ents = NULL;
    }
}

/* Delivers one queued message; false when the queue is empty. */
static inline bool fx_deliver_one(struct fx *fx)
{
    if (fx->q_n == 0) {
        return false;
    }
    struct fx_msg q = fx->q[fx->q_head];
    fx->q_head = (fx->q_head + 1) % FX_QUEUE;
    fx->q_n--;
    struct fx_node *to = q.m.to >= 1 && q.m.to <= fx->n
                             ? fx_node(fx, q.m.to) : NULL;
    if (to != NULL && to->up && !fx->cut[q.m.from][q.m.to]) {
        struct raft_event ev = {.type = RAFT_EVENT_RECEIVE, .msg = &q.m};
        fx_step(fx, to, &ev);
        fx_install(fx, to);
    }
    fx_free_msg(&q);
    return true;
}

static inline void fx_deliver_all(struct fx *fx)
{
    for (int i = 0; i < 100000 && fx_deliver_one(fx); i++) {
    }
}

static inline void fx_drop_all(struct fx *fx)
{
    while (fx->q_n > 0) {
        fx_free_msg(&fx->q[fx->q_head]);
        fx->q_head = (fx->q_head + 1) % FX_QUEUE;
        fx->q_n--;
    }
}

static inline void fx_tick(struct fx *fx, struct fx_node *nd)
{
    struct raft_event ev = {.type = RAFT_EVENT_TICK};
    fx_step(fx, nd, &ev);
}

/* Advances time by ms in steps of 10, ticking every live node and
 * delivering messages after each tick. */
static inline void fx_run(struct fx *fx, uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += 10) {
        fx->now += 10;
        for (uint32_t i = 0; i < fx->n; i++) {
            if (fx->nodes[i].up) {
                fx_tick(fx, &fx->nodes[i]);
            }
        }
        fx_deliver_all(fx);
    }
}

static inline struct raft_entry fx_config_entry(uint32_t voters, uint8_t *buf)
{
    struct raft_config c = {.n = voters, .max_id = voters};
    for (uint32_t i = 0; i < voters; i++) {
        c.servers[i] = (struct raft_server){i + 1, RAFT_VOTER};
    }
    int len = raft_config_encode(&c, buf, RAFT_CONFIG_MAX_BYTES);
    return (struct raft_entry){.term = 1, .data = buf, .len = (uint32_t)len,
                               .type = RAFT_ENTRY_CONFIG};
}

/* Starts node id from its durable storage (fresh: the bootstrap config
 * entry when it is one of the first `voters`, else nothing). */
static inline void fx_start(struct fx *fx, uint64_t id, uint32_t voters)
{
    struct fx_node *nd = fx_node(fx, id);
    struct raft_options o = fx->opts;
    o.id = id;
    o.seed = o.seed * 31 + id;
    static uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
    struct raft_init init = {.term = nd->term, .vote = nd->vote,
                             .snapshot = nd->snap,
                             .fresh = nd->log_n == 0 && nd->snap.index == 0};
    struct raft_entry boot;
    if (nd->log_n == 0 && nd->snap.index == 0 && id <= voters) {
        boot = fx_config_entry(voters, cfg);
        nd->log = realloc(nd->log, 64 * sizeof(*nd->log));
        nd->log_cap = 64;
        nd->log[0] = boot;
        nd->log_start = 1;
        nd->log_n = 1;
        if (nd->term == 0) {
            nd->term = init.term = 1;
        }
    }
    init.entries = nd->log;
    init.n_entries = (uint32_t)nd->log_n;
    nd->id = id;
    nd->up = true;
    nd->applied = nd->snap.index;
    nd->persist_id = 0;
    int rv = raft_new(&o, &init, &nd->r);
    if (rv != 0) {
        fprintf(stderr, "raft_new: %s\n", err_str(rv));
        abort();
    }
}

static inline void fx_crash(struct fx *fx, uint64_t id)
{
    struct fx_node *nd = fx_node(fx, id);
    raft_free(nd->r);
    nd->r = NULL;
    nd->up = false;
}

static inline void fx_init(struct fx *fx, uint32_t n, uint32_t voters)
{
    memset(fx, 0, sizeof(*fx));
    fx->n = n;
    fx->now = 1000;
    if (fx->opts.election_timeout_ms == 0) {
        fx->opts.election_timeout_ms = 100;
        fx->opts.heartbeat_ms = 20;
        fx->opts.seed = 7;
    }
    for (uint32_t i = 1; i <= n; i++) {
        fx_start(fx, i, voters);
    }
}

static inline void fx_init_opts(struct fx *fx, uint32_t n, uint32_t voters,
                         const struct raft_options *o)
{
    struct raft_options copy = *o;
    memset(fx, 0, sizeof(*fx));
    fx->opts = copy;
    if (fx->opts.election_timeout_ms == 0) {
        fx->opts.election_timeout_ms = 100;
    }
    if (fx->opts.heartbeat_ms == 0) {
        fx->opts.heartbeat_ms = 20;
    }
    fx->n = n;
    fx->now = 1000;
    for (uint32_t i = 1; i <= n; i++) {
        fx_start(fx, i, voters);
    }
}

static inline void fx_destroy(struct fx *fx)
{
    fx_drop_all(fx);
    for (uint32_t i = 0; i < fx->n; i++) {
        struct fx_node *nd = &fx->nodes[i];
        if (nd->r != NULL) {
            raft_free(nd->r);
        }
        for (uint64_t k = 0; k < nd->log_n; k++) {
            raft_buf_release(nd->log[k].buf);
        }
        free(nd->log);
    }
}

/* The one leader among live nodes with the highest term, or NULL. */
static inline struct fx_node *fx_leader(struct fx *fx)
{
    struct fx_node *best = NULL;
    for (uint32_t i = 0; i < fx->n; i++) {
        struct fx_node *nd = &fx->nodes[i];
        if (nd->up && raft_role(nd->r) == RAFT_LEADER &&
            (best == NULL || raft_term(nd->r) > raft_term(best->r))) {
            best = nd;
        }
    }
    return best;
}

static inline struct fx_node *fx_elect(struct fx *fx)
{
    for (int i = 0; i < 100; i++) {
        fx_run(fx, 50);
        struct fx_node *l = fx_leader(fx);
        if (l != NULL && raft_commit_index(l->r) >= raft_last_index(l->r)) {
            return l;
        }
    }
    return NULL;
}

static inline int fx_propose(struct fx *fx, struct fx_node *nd, const char *s)
{
    struct raft_entry e = {.data = (const uint8_t *)s,
                           .len = (uint32_t)strlen(s),
                           .type = RAFT_ENTRY_NORMAL};
    struct raft_event ev = {.type = RAFT_EVENT_PROPOSE};
    ev.propose.entries = &e;
    ev.propose.n = 1;
    return fx_step(fx, nd, &ev);
}

static inline void fx_isolate(struct fx *fx, uint64_t id, bool cut)
{
    for (uint32_t i = 1; i <= fx->n; i++) {
        fx->cut[id][i] = cut;
        fx->cut[i][id] = cut;
    }
}

/* Removes and returns (in *out) the first queued message of `type` from
 * `from` to `to` (0 = any); false if there is none. */
static inline bool fx_take(struct fx *fx, uint64_t from, uint64_t to,
                           uint8_t type, struct raft_msg *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < fx->q_n; i++) {
        struct fx_msg *q = &fx->q[(fx->q_head + i) % FX_QUEUE];
        if (q->m.type != type || (from && q->m.from != from) ||
            (to && q->m.to != to)) {
            continue;
        }
        *out = q->m;
        if (q->ents != NULL) {
            /* the caller gets a private copy of the entry descriptors */
            static struct raft_entry copy[4096];
            uint32_t n = q->m.append.n_entries < 4096 ? q->m.append.n_entries
                                                       : 4096;
            memcpy(copy, q->ents, n * sizeof(*copy));
            out->append.entries = copy;
        }
        fx_free_msg(q);
        for (uint32_t k = i; k + 1 < fx->q_n; k++) {
            fx->q[(fx->q_head + k) % FX_QUEUE] =
                fx->q[(fx->q_head + k + 1) % FX_QUEUE];
        }
        fx->q_n--;
        return true;
    }
    return false;
}

/* Number of queued messages of `type` from `from` to `to` (0 = any). */
static inline uint32_t fx_count(struct fx *fx, uint64_t from, uint64_t to,
                                uint8_t type)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < fx->q_n; i++) {
        struct fx_msg *q = &fx->q[(fx->q_head + i) % FX_QUEUE];
        n += q->m.type == type && (!from || q->m.from == from) &&
             (!to || q->m.to == to);
    }
    return n;
}

/* Steps a crafted message into node `to`. */
static inline int fx_recv(struct fx *fx, const struct raft_msg *m)
{
    struct raft_event ev = {.type = RAFT_EVENT_RECEIVE, .msg = m};
    return fx_step(fx, fx_node(fx, m->to), &ev);
}

/* Advances time without delivering anything, ticking every live node. */
static inline void fx_wait(struct fx *fx, uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += 10) {
        fx->now += 10;
        for (uint32_t i = 0; i < fx->n; i++) {
            if (fx->nodes[i].up) {
                fx_tick(fx, &fx->nodes[i]);
            }
        }
    }
}

static inline int fx_read(struct fx *fx, struct fx_node *nd, uint64_t req,
                          bool lease)
{
    struct raft_event ev = {.type = RAFT_EVENT_READ};
    ev.read.req_id = req;
    ev.read.lease = lease;
    return fx_step(fx, nd, &ev);
}

/* The answer node nd gave to read req, or NULL. */
static inline const struct raft_read *fx_read_result(struct fx_node *nd,
                                                     uint64_t req)
{
    for (uint32_t i = 0; i < nd->n_reads; i++) {
        if (nd->reads[i].req_id == req) {
            return &nd->reads[i];
        }
    }
    return NULL;
}

static inline struct raft_msg fx_msg(uint8_t type, uint64_t from,
                                     uint64_t to, uint64_t term)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

/* An APPEND after (prev_index, prev_term) carrying n entries of e. */
static inline struct raft_msg fx_append_msg(uint64_t from, uint64_t to,
                                            uint64_t term, uint64_t prev_index,
                                            uint64_t prev_term, uint32_t n,
                                            struct raft_entry *e)
{
    struct raft_msg m = fx_msg(RAFT_MSG_APPEND, from, to, term);
    m.append.prev_index = prev_index;
    m.append.prev_term = prev_term;
    m.append.n_entries = n;
    m.append.entries = e;
    return m;
}

#endif
