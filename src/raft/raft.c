/* The node and its step function: construction from durable state, the
 * event dispatch of raft_step(), the update handed back to the caller, the
 * bookkeeping of what is durable (persist ids, deferred messages) and the
 * role transitions every other file uses. The rules themselves live in
 * raft_election.c, raft_replication.c, raft_read.c, raft_membership.c and
 * raft_snapshot.c. Pure: time arrives in events, randomness from the seed,
 * memory through the hook; a step never blocks and never does I/O. */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

/* ---- memory ---------------------------------------------------------- */

void *raft__alloc(struct raft *r, size_t size)
{
    if (r->alloc.alloc != NULL) {
        return r->alloc.alloc(r->alloc.ctx, size);
    }
    return malloc(size);
}

void raft__free(struct raft *r, void *p)
{
    if (p == NULL) {
        return;
    }
    if (r->alloc.free != NULL) {
        r->alloc.free(r->alloc.ctx, p);
        return;
    }
    free(p);
}

void *raft__realloc(struct raft *r, void *p, size_t size)
{
    if (r->alloc.realloc != NULL) {
        return r->alloc.realloc(r->alloc.ctx, p, size);
    }
    return realloc(p, size);
}

/* Ensures *arr has room for `need` elements. 0 or ERR_NOMEM (then the
 * array is unchanged). */
int raft__grow(struct raft *r, void **arr, uint32_t *cap, uint32_t need,
               size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    uint32_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) {
        ncap *= 2;
    }
    void *p = raft__realloc(r, *arr, (size_t)ncap * elem);
    if (p == NULL) {
        r->nomem = true;
        return ERR_NOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

uint64_t raft__random(struct raft *r)
{
    /* splitmix64: tiny, seedable, good enough for timeouts */
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- output ---------------------------------------------------------- */

/* A fresh message in this update, or NULL (out of memory: as if lost). */
struct raft_msg *raft__msg(struct raft *r, uint8_t type, uint64_t to)
{
    if (raft__grow(r, (void **)&r->msgs, &r->msgs_cap, r->msgs_n + 1,
                   sizeof(*r->msgs)) != 0) {
        return NULL;
    }
    struct raft_msg *m = &r->msgs[r->msgs_n++];
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->from = r->id;
    m->to = to;
    m->term = r->term;
    return m;
}

/* Queues m to go out once everything issued so far, including what this
 * step makes dirty, is durable: votes and acknowledgements promise
 * durability (Raft paper §5.1 persistent state; followers reply only after
 * persisting). */
void raft__send_durable(struct raft *r, const struct raft_msg *m)
{
    if (raft__grow(r, (void **)&r->defer, &r->defer_cap, r->defer_n + 1,
                   sizeof(*r->defer)) != 0) {
        return;
    }
    r->defer[r->defer_n].tag = r->persist_seq + 1;
    r->defer[r->defer_n].msg = *m;
    r->defer_n++;
}

void raft__read_out(struct raft *r, uint64_t req_id, uint64_t index,
                    int status)
{
    if (raft__grow(r, (void **)&r->reads, &r->reads_cap, r->reads_n + 1,
                   sizeof(*r->reads)) != 0) {
        return;
    }
    r->reads[r->reads_n++] = (struct raft_read){req_id, index, status};
}

/* ---- roles and terms ------------------------------------------------- */

/* Leader leases rely on the §4.2.3 promise (see raft__hears_leader). */
bool raft__leases_on(const struct raft *r)
{
    return r->opts.lease_drift_ms != 0 && !r->opts.no_check_quorum;
}

/* In [T, 2T) from now; once our leader is known to be gone
 * (RAFT_EVENT_PEER_DOWN), in [T/8, T/2) from the moment the promise to it
 * lapses, or from now if that moment has passed. */
void raft__reset_election_timer(struct raft *r)
{
    uint64_t t = r->opts.election_timeout_ms;
    if (r->leader_gone) {
        uint64_t from = r->now;
        if (raft__leases_on(r) && r->heard_at + t > from) {
            from = r->heard_at + t;
        }
        r->election_deadline = from + t / 8 + raft__random(r) % (t * 3 / 8 + 1);
        return;
    }
    r->election_deadline = r->now + t + raft__random(r) % t;
}

/* A message from the current leader: the promise starts over. */
void raft__heard_leader(struct raft *r)
{
    r->heard_at = r->now;
    r->leader_gone = false;
    raft__reset_election_timer(r);
}

/* RAFT_EVENT_PEER_DOWN: the election moves earlier, never later. */
static int peer_down(struct raft *r, uint64_t id)
{
    if (r->opts.no_pre_vote || r->role != RAFT_FOLLOWER || id == 0 ||
        r->leader != id || r->leader_gone) {
        return 0;
    }
    uint64_t deadline = r->election_deadline;
    r->leader_gone = true;
    raft__reset_election_timer(r);
    if (deadline < r->election_deadline) {
        r->election_deadline = deadline;
    }
    return 0;
}

void raft__set_term(struct raft *r, uint64_t term)
{
    if (term != r->term) {
        r->term = term;
        r->vote = 0;
        r->hs_dirty = true;
    }
}

uint32_t raft__n_voters(const struct raft *r)
{
    return raft_config_voters(&r->config);
}

bool raft__is_voter(const struct raft *r, uint64_t id)
{
    const struct raft_server *s = raft_config_find(&r->config, id);
    return s != NULL && s->role == RAFT_VOTER;
}

/* Follower of `leader` (0 = unknown) in `term`. Leaving leadership fails
 * every pending read: its confirmation can no longer come. */
void raft__become_follower(struct raft *r, uint64_t term, uint64_t leader)
{
    bool was_leader = r->role == RAFT_LEADER;
    raft__set_term(r, term);
    if (r->role != RAFT_FOLLOWER || r->leader != leader) {
        raft__reads_fail(r, ERR_NOTLEADER);
    }
    r->role = RAFT_FOLLOWER;
    r->leader = leader;
    r->transfer_to = 0;
    r->stepping_down = false;
    if (was_leader) {
        for (uint32_t i = 0; i < r->n_prs; i++) {
            raft__free(r, r->prs[i].infl);
            r->prs[i].infl = NULL;
        }
        r->n_prs = 0;
    }
    raft__reset_election_timer(r);
}

/* §4.2.3 (Raft paper §6): a server that believes a current leader exists
 * neither updates its term nor grants its vote on a RequestVote, so a
 * removed server, or a partitioned one coming back, cannot disrupt the
 * cluster with ever higher terms. A follower believes so within the
 * minimum election timeout of hearing from its leader (and, with leases,
 * for an election timeout after a restart, see first_event). A leader
 * believes it of itself: with CheckQuorum it steps down once a majority
 * goes quiet; without it, it learns of a newer leader from any message of
 * a newer term other than a vote. Votes of a leadership transfer carry
 * their flag and are exempt (§3.10). */
bool raft__hears_leader(const struct raft *r)
{
    if (r->role == RAFT_LEADER) {
        return true;
    }
    if (r->now < r->vote_hold_until) {
        return true;
    }
    /* Without leases nothing rests on the promise once the transport
     * found the leader gone: others may vote as early as we campaign. */
    if (r->leader_gone && !raft__leases_on(r)) {
        return false;
    }
    return r->leader != 0 &&
           r->now < r->heard_at + r->opts.election_timeout_ms;
}

/* ---- construction ---------------------------------------------------- */

static void options_defaults(struct raft_options *o)
{
    if (o->election_timeout_ms == 0) {
        o->election_timeout_ms = 1000;
    }
    if (o->heartbeat_ms == 0) {
        o->heartbeat_ms = o->election_timeout_ms / 10;
        if (o->heartbeat_ms == 0) {
            o->heartbeat_ms = 1;
        }
    }
    if (o->max_inflight_msgs == 0) {
        o->max_inflight_msgs = 256;
    }
    if (o->max_inflight_bytes == 0) {
        o->max_inflight_bytes = 64u << 20;
    }
    if (o->max_append_entries == 0) {
        o->max_append_entries = 1024;
    }
    if (o->max_append_bytes == 0) {
        o->max_append_bytes = 1u << 20;
    }
    if (o->snapshot_chunk_bytes == 0) {
        o->snapshot_chunk_bytes = 1u << 20;
    }
    if (o->snapshot_inflight_chunks == 0) {
        o->snapshot_inflight_chunks = 4;
    }
}

/* Loads the durable log; the configuration is the last CONFIG entry's, or
 * the snapshot's. */
static int load_init(struct raft *r, const struct raft_init *init)
{
    r->term = init->term;
    r->vote = init->vote;
    r->fresh = init->fresh;
    r->snap = init->snapshot;
    r->start = init->snapshot.index + 1;
    r->config = init->snapshot.config;
    r->config_index = init->snapshot.index;
    if (init->n_entries > 0 && init->entries == NULL) {
        return ERR_INVALID;
    }
    if (raft__log_reserve(r, init->n_entries) != 0) {
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < init->n_entries; i++) {
        const struct raft_entry *e = &init->entries[i];
        if (e->term == 0 || e->term < raft__last_term(r)) {
            return ERR_INVALID;
        }
        raft__log_append(r, e);
        if (e->type == RAFT_ENTRY_CONFIG) {
            struct raft_config c;
            if (raft_config_decode(e->data, e->len, &c) != 0) {
                return ERR_INVALID;
            }
            r->config = c;
            r->config_index = raft__last_index(r);
        }
    }
    /* raft.h lets the caller persist entries before the hard state, so a
     * crash between the two leaves entries of a term the hard state never
     * reached. Such entries came from a leader of that term (our own
     * leadership would have needed the durable vote first), and no vote in
     * that term can have left this node, since votes wait for durability:
     * starting in that term with no vote is the state we were in. */
    if (raft__last_term(r) > r->term) {
        r->term = raft__last_term(r);
        r->vote = 0;
    }
    r->commit = r->applied = init->snapshot.index;
    r->persisted = raft__last_index(r);
    return 0;
}

int raft_new(const struct raft_options *opts, const struct raft_init *init,
             struct raft **out)
{
    if (opts == NULL || init == NULL || out == NULL || opts->id == 0) {
        return ERR_INVALID;
    }
    struct raft_alloc a = opts->alloc;
    struct raft *r = a.alloc ? a.alloc(a.ctx, sizeof(*r)) : malloc(sizeof(*r));
    if (r == NULL) {
        return ERR_NOMEM;
    }
    memset(r, 0, sizeof(*r));
    r->opts = *opts;
    r->alloc = a;
    options_defaults(&r->opts);
    r->id = opts->id;
    r->rng = opts->seed ^ (opts->id * 0x9e3779b97f4a7c15ULL);
    r->role = RAFT_FOLLOWER;
    int rv = load_init(r, init);
    if (rv != 0) {
        raft_free(r);
        return rv;
    }
    *out = r;
    return 0;
}

void raft_free(struct raft *r)
{
    if (r == NULL) {
        return;
    }
    raft__log_reset(r, 0, 0);
    for (uint32_t i = 0; i < r->n_prs; i++) {
        raft__free(r, r->prs[i].infl);
    }
    for (uint32_t i = 0; i < r->chunks_n; i++) {
        raft_buf_release(r->chunks[i].buf);
    }
    raft__free(r, r->ents);
    raft__free(r, r->pend);
    raft__free(r, r->defer);
    raft__free(r, r->rq);
    raft__free(r, r->msgs);
    raft__free(r, r->reads);
    raft__free(r, r->chunks);
    raft__free(r, r);
}

/* ---- persistence ----------------------------------------------------- */

static void release_deferred(struct raft *r)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->defer_n; i++) {
        if (r->defer[i].tag > r->persist_acked) {
            r->defer[k++] = r->defer[i];
            continue;
        }
        struct raft_msg *m = raft__msg(r, r->defer[i].msg.type, 0);
        if (m != NULL) {
            *m = r->defer[i].msg;
        }
    }
    r->defer_n = k;
}

/* PERSISTED: every update up to id is durable. The durable prefix grows,
 * which may commit (leader, §10.2.1), elect (candidate's own vote) and
 * release withheld replies. */
static int on_persisted(struct raft *r, uint64_t id)
{
    if (id > r->persist_seq) {
        return ERR_INVALID;
    }
    uint32_t k = 0;
    while (k < r->pend_n && r->pend[k].id <= id) {
        if (r->pend[k].last > r->persisted) {
            r->persisted = r->pend[k].last;
        }
        k++;
    }
    memmove(r->pend, r->pend + k, (r->pend_n - k) * sizeof(*r->pend));
    r->pend_n -= k;
    if (id > r->persist_acked) {
        r->persist_acked = id;
    }
    if (r->role == RAFT_LEADER) {
        struct raft__progress *pr = raft__progress(r, r->id);
        if (pr != NULL && r->persisted > pr->match) {
            pr->match = r->persisted;
        }
        raft__maybe_commit(r);
    }
    if (r->role == RAFT_CANDIDATE) {
        raft__self_vote_durable(r);
    }
    return 0;
}

/* Issues a persist id for what this step made dirty, or lets messages
 * deferred in this step wait only for ids already issued. */
static void close_persist(struct raft *r, struct raft_update *out)
{
    bool dirty = r->hs_dirty || r->append_from != 0 || r->trunc_from != 0;
    if (!dirty) {
        for (uint32_t i = 0; i < r->defer_n; i++) {
            if (r->defer[i].tag > r->persist_seq) {
                r->defer[i].tag = r->persist_seq;
            }
        }
        if (r->self_vote_tag > r->persist_seq) {
            r->self_vote_tag = r->persist_seq;
        }
        return;
    }
    if (raft__grow(r, (void **)&r->pend, &r->pend_cap, r->pend_n + 1,
                   sizeof(*r->pend)) != 0) {
        /* Keep the state dirty: the next step issues the id instead. */
        return;
    }
    uint64_t id = ++r->persist_seq;
    r->pend[r->pend_n++] = (struct raft__pending){id, raft__last_index(r)};
    out->persist_id = id;
    out->hard_state_changed = r->hs_dirty;
    out->truncate_from = r->trunc_from;
    if (r->append_from != 0) {
        out->entries_index = r->append_from;
        out->entries = raft__entry(r, r->append_from);
        out->n_entries = (uint32_t)(raft__last_index(r) - r->append_from + 1);
    }
    r->hs_dirty = false;
    r->append_from = 0;
    r->trunc_from = 0;
}

/* ---- the update ------------------------------------------------------ */

static void begin_step(struct raft *r, struct raft_update *out)
{
    for (uint32_t i = 0; i < r->chunks_n; i++) {
        raft_buf_release(r->chunks[i].buf);
    }
    r->chunks_n = 0;
    r->msgs_n = 0;
    r->reads_n = 0;
    r->install_out = false;
    r->config_dirty = false;
    r->proposed_index = r->proposed_term = 0;
    r->nomem = false;
    memset(out, 0, sizeof(*out));
}

/* Entries committed and durable here, not yet handed out (§5.3: apply in
 * log order; a follower may learn of a commit before its own persist). */
static void fill_committed(struct raft *r, struct raft_update *out)
{
    if (r->installing) {
        return; /* the snapshot comes first (sim seed 17) */
    }
    uint64_t upto = r->commit;
#ifndef RAFT_BUG_APPLY_BEFORE_PERSIST
    if (upto > r->persisted) {
        upto = r->persisted;
    }
#endif
    if (upto > raft__last_index(r)) {
        upto = raft__last_index(r);
    }
    if (upto <= r->applied || r->applied + 1 < r->start) {
        return;
    }
    out->committed_index = r->applied + 1;
    out->committed = raft__entry(r, r->applied + 1);
    out->n_committed = (uint32_t)(upto - r->applied);
    r->applied = upto;
}

/* APPEND messages point into the log only now that it no longer moves. */
static void fill_msgs(struct raft *r, struct raft_update *out)
{
    for (uint32_t i = 0; i < r->msgs_n; i++) {
        struct raft_msg *m = &r->msgs[i];
        if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0) {
            m->append.entries = raft__entry(r, m->append.prev_index + 1);
        }
    }
    out->msgs = r->msgs;
    out->n_msgs = r->msgs_n;
}

static void finish_step(struct raft *r, struct raft_update *out,
                        uint8_t role, uint64_t leader)
{
    if (r->role == RAFT_LEADER) {
        raft__read_rounds(r);
    }
    close_persist(r, out);
    release_deferred(r);
    fill_msgs(r, out);
    fill_committed(r, out);
    out->commit_index = r->commit;
    out->chunks_meta = r->chunks_meta;
    out->chunks = r->chunks;
    out->n_chunks = r->chunks_n;
    out->install_snapshot = r->install_out;
    out->install_meta = r->recv_meta;
    out->reads = r->reads;
    out->n_reads = r->reads_n;
    out->term = r->term;
    out->vote = r->vote;
    out->role = r->role;
    out->leader_id = r->leader;
    out->role_changed = role != r->role || leader != r->leader;
    out->config_changed = r->config_dirty;
    out->config = &r->config;
    out->proposed_index = r->proposed_index;
    out->proposed_term = r->proposed_term;
    out->snapshot_suggested = raft__snapshot_due(r);
}

/* ---- receive --------------------------------------------------------- */

static bool from_leader(uint8_t type)
{
    return type == RAFT_MSG_APPEND || type == RAFT_MSG_HEARTBEAT ||
           type == RAFT_MSG_SNAPSHOT || type == RAFT_MSG_TIMEOUT_NOW;
}

/* A message from an older term: tell a stale leader or candidate about
 * the newer term so it steps down (needed with PreVote/CheckQuorum, where
 * a node may otherwise never learn it, cf. etcd raft), else drop it. */
static void recv_stale(struct raft *r, const struct raft_msg *m)
{
    if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT) {
        struct raft_msg *resp = raft__msg(r, RAFT_MSG_APPEND_RESP, m->from);
        if (resp != NULL) {
            resp->append_resp.reject = true;
        }
    } else if (m->type == RAFT_MSG_VOTE && m->vote.pre) {
        struct raft_msg *resp = raft__msg(r, RAFT_MSG_VOTE_RESP, m->from);
        if (resp != NULL) {
            resp->vote_resp.pre = true;
        }
    }
}

/* Term rules common to every message (Raft paper §5.1, §9.6, §4.2.3).
 * Returns false when the message is to be ignored. */
static bool check_term(struct raft *r, const struct raft_msg *m)
{
    if (m->term < r->term) {
        recv_stale(r, m);
        return false;
    }
    if (m->term == r->term) {
        return true;
    }
    if (m->type == RAFT_MSG_VOTE) {
        if (!m->vote.transfer && raft__hears_leader(r)) {
            return false;
        }
        if (m->vote.pre) {
            return true; /* a PreVote never changes our term */
        }
        raft__become_follower(r, m->term, 0);
        return true;
    }
    if (m->type == RAFT_MSG_VOTE_RESP && m->vote_resp.pre &&
        m->vote_resp.granted) {
        return true; /* granted PreVotes carry the term we would take */
    }
    raft__become_follower(r, m->term, from_leader(m->type) ? m->from : 0);
    return true;
}

/* A fresh node's vote floor (raft_init.fresh): the highest term heard of
 * until a leader's message names the group's current one. A request for
 * a vote names the candidate's new term, not the group's, so it counts
 * only when nothing was heard before it. */
static void note_fresh_term(struct raft *r, const struct raft_msg *m)
{
    if (!r->fresh || r->fresh_settled ||
        (m->type == RAFT_MSG_VOTE && r->fresh_floor != 0)) {
        return;
    }
    if (m->term > r->fresh_floor) {
        r->fresh_floor = m->term;
    }
    r->fresh_settled = from_leader(m->type);
}

/* Terms and indexes stay below 2^63: a cluster cannot count that far
 * (the WAL refuses such indexes too), and a term near 2^64 would wrap to
 * 0 at the next election. A message naming one is dropped. */
static bool msg_in_range(const struct raft_msg *m)
{
    uint64_t v = m->term;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        v |= m->append.prev_index + m->append.n_entries;
        v |= m->append.prev_index | m->append.prev_term | m->append.commit;
        break;
    case RAFT_MSG_APPEND_RESP:
        v |= m->append_resp.index | m->append_resp.hint_index |
             m->append_resp.hint_term;
        break;
    case RAFT_MSG_VOTE:
        v |= m->vote.last_index | m->vote.last_term;
        break;
    case RAFT_MSG_HEARTBEAT:
        v |= m->heartbeat.commit;
        break;
    case RAFT_MSG_SNAPSHOT:
        v |= m->snapshot.meta.index | m->snapshot.meta.term;
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        v |= m->snapshot_resp.index;
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        v |= m->read_index_resp.index;
        break;
    }
    return v <= (uint64_t)INT64_MAX;
}

static int on_receive(struct raft *r, const struct raft_msg *m)
{
    if (m == NULL || m->type == 0 || m->type > RAFT_MSG_TYPE_MAX ||
        m->from == 0 || m->from == r->id) {
        return ERR_INVALID;
    }
    if (!msg_in_range(m)) {
        return 0;
    }
    note_fresh_term(r, m);
    if (!check_term(r, m)) {
        return 0;
    }
    switch (m->type) {
    case RAFT_MSG_APPEND:
        raft__recv_append(r, m);
        break;
    case RAFT_MSG_APPEND_RESP:
        raft__recv_append_resp(r, m);
        break;
    case RAFT_MSG_VOTE:
        raft__recv_vote(r, m);
        break;
    case RAFT_MSG_VOTE_RESP:
        raft__recv_vote_resp(r, m);
        break;
    case RAFT_MSG_HEARTBEAT:
        raft__recv_heartbeat(r, m);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        raft__recv_heartbeat_resp(r, m);
        break;
    case RAFT_MSG_SNAPSHOT:
        raft__recv_snapshot(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        raft__recv_snapshot_resp(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        raft__recv_timeout_now(r, m);
        break;
    case RAFT_MSG_READ_INDEX:
        raft__recv_read_index(r, m);
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        raft__recv_read_index_resp(r, m);
        break;
    }
    return 0;
}

/* ---- step ------------------------------------------------------------ */

static void on_tick(struct raft *r)
{
    if (r->role == RAFT_LEADER) {
        raft__tick_leader(r);
    } else {
        raft__tick_election(r);
        raft__tick_reads(r);
    }
}

static int dispatch(struct raft *r, const struct raft_event *ev)
{
    switch (ev->type) {
    case RAFT_EVENT_TICK:
        on_tick(r);
        return 0;
    case RAFT_EVENT_RECEIVE:
        return on_receive(r, ev->msg);
    case RAFT_EVENT_PROPOSE:
        return raft__propose(r, ev->propose.entries, ev->propose.n);
    case RAFT_EVENT_PERSISTED:
        return on_persisted(r, ev->persisted.id);
    case RAFT_EVENT_READ:
        return raft__read(r, ev->read.req_id, ev->read.lease, 0);
    case RAFT_EVENT_TRANSFER:
        return raft__transfer(r, ev->transfer.to);
    case RAFT_EVENT_CHANGE:
        return raft__change(r, ev->change.op, ev->change.id);
    case RAFT_EVENT_SNAPSHOT_TAKEN:
        return raft__snapshot_taken(r, &ev->snapshot);
    case RAFT_EVENT_SNAPSHOT_INSTALLED:
        return raft__snapshot_installed(r, ev->installed.index);
    case RAFT_EVENT_PEER_DOWN:
        return peer_down(r, ev->peer_down.id);
    }
    return ERR_INVALID;
}

/* A node that is the only voter needs nobody: it campaigns at once.
 * With lease reads on, a (re)started node grants no vote for an election
 * timeout: it may have heard from a leader just before it went down, and
 * that leader's lease counts on it (§6.4.1 relies on the §4.2.3 rule,
 * whose memory a restart would otherwise erase). */
static void first_event(struct raft *r)
{
    r->started = true;
    if (raft__leases_on(r)) {
        r->vote_hold_until = r->now + r->opts.election_timeout_ms;
    }
    raft__reset_election_timer(r);
    if (raft__n_voters(r) == 1 && raft__is_voter(r, r->id)) {
        r->election_deadline = r->now;
    }
}

int raft_step(struct raft *r, const struct raft_event *ev,
              struct raft_update *out)
{
    uint8_t role = r->role;
    uint64_t leader = r->leader;
    begin_step(r, out);
    if (ev->now > r->now) {
        r->now = ev->now;
    }
    if (!r->started) {
        first_event(r);
    }
    int rv = dispatch(r, ev);
    finish_step(r, out, role, leader);
    if (rv == 0 && r->nomem) {
        rv = ERR_NOMEM;
    }
    return rv;
}

/* ---- inspection ------------------------------------------------------ */

uint64_t raft_id(const struct raft *r) { return r->id; }
uint8_t raft_role(const struct raft *r) { return r->role; }
uint64_t raft_term(const struct raft *r) { return r->term; }
uint64_t raft_vote(const struct raft *r) { return r->vote; }
uint64_t raft_leader(const struct raft *r) { return r->leader; }
uint64_t raft_commit_index(const struct raft *r) { return r->commit; }
uint64_t raft_persisted_index(const struct raft *r) { return r->persisted; }
uint64_t raft_last_index(const struct raft *r) { return raft__last_index(r); }
uint64_t raft_last_term(const struct raft *r) { return raft__last_term(r); }
uint64_t raft_snapshot_index(const struct raft *r) { return r->snap.index; }
uint64_t raft_first_index(const struct raft *r) { return r->start; }
const struct raft_config *raft_config(const struct raft *r)
{
    return &r->config;
}
uint64_t raft_next_id(const struct raft *r) { return r->config.max_id + 1; }

const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
    return raft__entry(r, index);
}

uint64_t raft_term_at(const struct raft *r, uint64_t index)
{
    return raft__term_at(r, index);
}

bool raft_progress(const struct raft *r, uint64_t id, uint64_t *match,
                   uint64_t *next)
{
    if (r->role != RAFT_LEADER) {
        return false;
    }
    for (uint32_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id == id) {
            *match = r->prs[i].match;
            *next = r->prs[i].next;
            return true;
        }
    }
    return false;
}

const char *raft_role_name(uint8_t role)
{
    static const char *names[] = {"none", "follower", "precandidate",
                                  "candidate", "leader"};
    return role <= RAFT_LEADER ? names[role] : "unknown";
}

const char *raft_msg_type_name(uint8_t type)
{
    static const char *names[] = {
        "none",      "append",         "append_resp",  "vote",
        "vote_resp", "heartbeat",      "heartbeat_resp", "snapshot",
        "snapshot_resp", "timeout_now", "read_index", "read_index_resp"};
    return type <= RAFT_MSG_TYPE_MAX ? names[type] : "unknown";
}
