/* Log replication: proposals, AppendEntries with optimistic pipelining
 * inside a per-follower window (count and bytes), probe/replicate states,
 * fast backtracking on rejection, heartbeats, commitment by counting only
 * entries of the current term (Raft paper §5.4.2), CheckQuorum (§6.2) and
 * leadership transfer (§3.10). The leader's own log write runs beside
 * replication and counts once durable (§10.2.1); followers acknowledge
 * only durable entries (raft__send_durable). */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

/* ---- progress -------------------------------------------------------- */

struct raft__progress *raft__progress(struct raft *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id == id) {
            return &r->prs[i];
        }
    }
    return NULL;
}

void raft__progress_reset(struct raft *r, struct raft__progress *pr)
{
    pr->next = raft__last_index(r) + 1;
    pr->match = 0;
    pr->state = RAFT__PROBE;
    pr->probe_sent = false;
    pr->infl_head = pr->infl_n = 0;
    pr->infl_bytes = 0;
}

static bool inflight_full(const struct raft *r,
                          const struct raft__progress *pr)
{
    return pr->infl_n >= r->opts.max_inflight_msgs ||
           pr->infl_bytes >= r->opts.max_inflight_bytes;
}

static void inflight_add(struct raft *r, struct raft__progress *pr,
                         uint64_t last, uint64_t bytes)
{
    if (pr->infl == NULL) {
        pr->infl = raft__alloc(r, r->opts.max_inflight_msgs *
                                      sizeof(*pr->infl));
        if (pr->infl == NULL) {
            r->nomem = true;
            return;
        }
    }
    uint32_t cap = r->opts.max_inflight_msgs;
    pr->infl[(pr->infl_head + pr->infl_n) % cap] =
        (struct raft__inflight){last, bytes};
    pr->infl_n++;
    pr->infl_bytes += bytes;
}

/* Frees the window slots of APPENDs acknowledged up to index. */
void raft__inflight_free_to(struct raft *r, struct raft__progress *pr,
                            uint64_t index)
{
    while (pr->infl_n > 0) {
        struct raft__inflight *f = &pr->infl[pr->infl_head];
        if (f->last > index) {
            break;
        }
        pr->infl_bytes -= f->bytes;
        pr->infl_head = (pr->infl_head + 1) % r->opts.max_inflight_msgs;
        pr->infl_n--;
    }
}

static void inflight_free_first(struct raft *r, struct raft__progress *pr)
{
    if (pr->infl_n == 0) {
        return;
    }
    pr->infl_bytes -= pr->infl[pr->infl_head].bytes;
    pr->infl_head = (pr->infl_head + 1) % r->opts.max_inflight_msgs;
    pr->infl_n--;
}

static void become_probe(struct raft__progress *pr, uint64_t next)
{
    pr->state = RAFT__PROBE;
    pr->probe_sent = false;
    pr->next = next;
    pr->infl_head = pr->infl_n = 0;
    pr->infl_bytes = 0;
}

/* ---- proposals ------------------------------------------------------- */

struct owned_buf {
    struct raft_buf buf;
    struct raft_alloc alloc;
    uint8_t data[];
};

static void owned_buf_free(struct raft_buf *buf)
{
    struct owned_buf *o = (struct owned_buf *)buf;
    if (o->alloc.free != NULL) {
        o->alloc.free(o->alloc.ctx, o);
    } else {
        free(o);
    }
}

/* A refcounted copy of len bytes (refs 1), for entries given without a
 * buffer of their own. */
static struct owned_buf *owned_copy(struct raft *r, const uint8_t *data,
                                    uint32_t len)
{
    struct owned_buf *o = raft__alloc(r, sizeof(*o) + len);
    if (o == NULL) {
        return NULL;
    }
    o->buf.refs = 1;
    o->buf.free_cb = owned_buf_free;
    o->alloc = r->alloc;
    if (len > 0) {
        memcpy(o->data, data, len);
    }
    return o;
}

/* Appends one entry of the current term to the leader's log. */
static int append_entry(struct raft *r, uint8_t type, const uint8_t *data,
                        uint32_t len, struct raft_buf *buf)
{
    struct raft_entry e = {.term = r->term, .data = data, .buf = buf,
                           .len = len, .type = type};
    struct owned_buf *o = NULL;
    if (buf == NULL && len > 0) {
        o = owned_copy(r, data, len);
        if (o == NULL) {
            return ERR_NOMEM;
        }
        e.data = o->data;
        e.buf = &o->buf;
    }
    int rv = raft__log_append(r, &e);
    if (o != NULL) {
        raft_buf_release(&o->buf); /* the log holds the only reference */
    }
    if (rv != 0) {
        return rv;
    }
    if (r->append_from == 0) {
        r->append_from = raft__last_index(r);
    }
    return 0;
}

/* The leader's own write is counted only when durable (§10.2.1), unless
 * the bug switch pretends it is durable at once. */
static void own_appended(struct raft *r)
{
#ifdef RAFT_BUG_APPLY_BEFORE_PERSIST
    struct raft__progress *self = raft__progress(r, r->id);
    if (self != NULL) {
        self->match = raft__last_index(r);
    }
    raft__maybe_commit(r);
#else
    (void)r;
#endif
}

int raft__append_own(struct raft *r, uint8_t type, const uint8_t *data,
                     uint32_t len, struct raft_buf *buf)
{
    int rv = append_entry(r, type, data, len, buf);
    if (rv == 0) {
        own_appended(r);
    }
    return rv;
}

/* PROPOSE: appends the batch as one run of entries and ships it. */
int raft__propose(struct raft *r, const struct raft_entry *e, uint32_t n)
{
    if (r->role != RAFT_LEADER || r->stepping_down) {
        return ERR_NOTLEADER;
    }
    if (r->transfer_to != 0) {
        return ERR_BUSY; /* §3.10: stop accepting during a transfer */
    }
    if (n == 0 || e == NULL) {
        return ERR_INVALID;
    }
    if (raft__log_reserve(r, n) != 0) {
        return ERR_NOMEM;
    }
    r->proposed_index = raft__last_index(r) + 1;
    r->proposed_term = r->term;
    for (uint32_t i = 0; i < n; i++) {
        if (append_entry(r, RAFT_ENTRY_NORMAL, e[i].data, e[i].len,
                         e[i].buf) != 0) {
            r->nomem = true; /* the tail of the batch is lost */
            break;
        }
    }
    own_appended(r);
    raft__broadcast_append(r);
    return 0;
}

/* ---- sending --------------------------------------------------------- */

/* Sends pr the next APPEND it can take: in probe state one at a time, in
 * replicate state as long as the window allows, advancing next
 * optimistically. Falls back to InstallSnapshot when the entries it needs
 * were compacted away. */
void raft__send_append(struct raft *r, struct raft__progress *pr,
                       bool allow_empty)
{
    if (pr->id == r->id || pr->state == RAFT__SNAPSHOT) {
        return;
    }
    if ((pr->state == RAFT__PROBE && pr->probe_sent) ||
        (pr->state == RAFT__REPLICATE && inflight_full(r, pr))) {
        return;
    }
    uint64_t prev = pr->next - 1;
    uint64_t prev_term = raft__term_at(r, prev);
    if (pr->next < r->start || (prev != 0 && prev_term == 0)) {
        /* What pr needs was compacted away (sim seed 1: a new learner
         * probed at index 1 behind a snapshot). */
        raft__send_snapshot(r, pr);
        return;
    }
    uint64_t last = raft__last_index(r);
    uint32_t n = 0;
    uint64_t bytes = 0;
    while (prev + n < last && n < r->opts.max_append_entries) {
        uint32_t len = raft__entry(r, prev + n + 1)->len;
        if (n > 0 && bytes + len > r->opts.max_append_bytes) {
            break;
        }
        bytes += len;
        n++;
    }
    if (n == 0 && !allow_empty) {
        return;
    }
    struct raft_msg *m = raft__msg(r, RAFT_MSG_APPEND, pr->id);
    if (m == NULL) {
        return;
    }
    m->append.prev_index = prev;
    m->append.prev_term = prev_term;
    m->append.commit = r->commit;
    m->append.n_entries = n; /* entries resolved at the end of the step */
    if (pr->state == RAFT__PROBE) {
        pr->probe_sent = true;
    } else if (n > 0) {
        pr->next = prev + n + 1;
        inflight_add(r, pr, prev + n, bytes);
    }
}

/* Sends pr everything the window allows. */
static void send_all(struct raft *r, struct raft__progress *pr)
{
    uint64_t last = raft__last_index(r);
    for (;;) {
        uint64_t next = pr->next;
        raft__send_append(r, pr, false);
        if (pr->state != RAFT__REPLICATE || pr->next == next ||
            pr->next > last) {
            return;
        }
    }
}

void raft__broadcast_append(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        send_all(r, &r->prs[i]);
    }
}

/* Every heartbeat is a ReadIndex round (§6.4): reads waiting for a round
 * join this one, with the current commit index as their read index. */
void raft__broadcast_heartbeat(struct raft *r)
{
    r->hb_seq++;
    r->seq_sent_at[r->hb_seq % RAFT__SEQ_RING] = r->now;
    if (raft__term_at(r, r->commit) == r->term) {
        for (uint32_t i = 0; i < r->rq_n; i++) {
            if (r->rq[i].seq == 0) {
                r->rq[i].seq = r->hb_seq;
                r->rq[i].index = r->commit;
            }
        }
    }
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *pr = &r->prs[i];
        if (pr->id == r->id) {
            pr->acked_seq = r->hb_seq;
            continue;
        }
        struct raft_msg *m = raft__msg(r, RAFT_MSG_HEARTBEAT, pr->id);
        if (m == NULL) {
            return;
        }
        m->heartbeat.commit = pr->match < r->commit ? pr->match : r->commit;
        m->heartbeat.seq = r->hb_seq;
    }
    r->heartbeat_due = r->now + r->opts.heartbeat_ms;
    raft__read_confirm(r);
}

/* ---- commitment ------------------------------------------------------ */

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

uint64_t raft__majority_value(struct raft *r, uint64_t self_value,
                              uint64_t (*value)(struct raft *r,
                                                struct raft__progress *pr))
{
    uint64_t v[RAFT_MAX_SERVERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->config.n; i++) {
        const struct raft_server *s = &r->config.servers[i];
        if (s->role != RAFT_VOTER) {
            continue;
        }
        struct raft__progress *pr = raft__progress(r, s->id);
        v[n++] = s->id == r->id ? self_value : pr ? value(r, pr) : 0;
    }
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(v[0]), cmp_desc);
    return v[n / 2];
}

static uint64_t progress_match(struct raft *r, struct raft__progress *pr)
{
    (void)r;
    return pr->match;
}

static uint64_t self_match(const struct raft *r)
{
#ifdef RAFT_BUG_APPLY_BEFORE_PERSIST
    return raft__last_index(r);
#else
    return r->persisted;
#endif
}

/* The highest index a majority of voters hold durably; committed only if
 * it belongs to the current term (§3.6.2 / Raft paper §5.4.2, Figure 8:
 * an older-term entry is committed indirectly, never by counting). */
void raft__maybe_commit(struct raft *r)
{
    uint64_t index = raft__majority_value(r, self_match(r), progress_match);
    if (index <= r->commit) {
        return;
    }
#ifndef RAFT_BUG_COMMIT_OLD_TERM
    if (raft__term_at(r, index) != r->term) {
        return;
    }
#endif
    r->commit = index;
    raft__removed_leader_check(r);
}

/* ---- the follower side ----------------------------------------------- */

static void recv_from_leader(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_FOLLOWER || r->leader != m->from) {
        raft__become_follower(r, r->term, m->from);
    }
    raft__heard_leader(r);
}

static void reply_append(struct raft *r, const struct raft_msg *m,
                         uint64_t index, bool reject)
{
    struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .from = r->id,
                            .to = m->from, .term = r->term};
    resp.append_resp.index = index;
    if (!reject) {
        raft__send_durable(r, &resp); /* acknowledges durable entries */
        return;
    }
    /* Fast backtracking: where our log could match the leader's at best. */
    uint64_t last = raft__last_index(r);
    uint64_t at = index < last ? index : last;
    resp.append_resp.reject = true;
    resp.append_resp.hint_index =
        raft__find_conflict_by_term(r, at, m->append.prev_term);
    resp.append_resp.hint_term =
        raft__term_at(r, resp.append_resp.hint_index);
    struct raft_msg *out = raft__msg(r, RAFT_MSG_APPEND_RESP, m->from);
    if (out != NULL) {
        *out = resp;
    }
}

/* Appends entries [k, n) of m, truncating a conflicting suffix
 * first (Raft paper §5.3 step 3; never at or below commit). */
static int store_entries(struct raft *r, const struct raft_msg *m,
                         uint32_t k)
{
    const struct raft_msg_append *a = &m->append;
    uint64_t last = raft__last_index(r);
    for (uint32_t i = k; i < a->n_entries; i++) {
        uint64_t index = a->prev_index + 1 + i;
        if (index <= last) {
            if (raft__term_at(r, index) == a->entries[i].term) {
                continue;
            }
            if (index <= r->commit) {
                return ERR_CORRUPT; /* a leader contradicts a commit */
            }
            raft__log_truncate(r, index);
            last = index - 1;
        }
        if (raft__log_reserve(r, a->n_entries - i) != 0) {
            return ERR_NOMEM;
        }
        for (uint32_t j = i; j < a->n_entries; j++) {
            const struct raft_entry *e = &a->entries[j];
            raft__log_append(r, e);
            if (e->type == RAFT_ENTRY_CONFIG) {
                struct raft_config c;
                if (raft_config_decode(e->data, e->len, &c) == 0) {
                    raft__config_appended(r, raft__last_index(r), &c);
                }
            }
        }
        if (r->append_from == 0 || r->append_from > index) {
            r->append_from = index;
        }
        return 0;
    }
    return 0;
}

/* A leader's entries carry terms from prev_term up to its own, never
 * decreasing, and never 0 (§5.3). Anything else comes from a broken or
 * hostile peer: stored, it would leave a log this node cannot restart
 * from (raft_new refuses it). */
static bool append_well_formed(const struct raft_msg *m)
{
    const struct raft_msg_append *a = &m->append;
    if (a->prev_index > UINT64_MAX - a->n_entries) {
        return false;
    }
    uint64_t floor = a->prev_term > 0 ? a->prev_term : 1;
    for (uint32_t i = 0; i < a->n_entries; i++) {
        uint64_t t = a->entries[i].term;
        if (t < floor || t > m->term) {
            return false;
        }
        floor = t;
    }
    return true;
}

void raft__recv_append(struct raft *r, const struct raft_msg *m)
{
    if (!append_well_formed(m)) {
        return;
    }
    recv_from_leader(r, m);
    if (r->installing) {
        return; /* the log is about to be replaced by a snapshot */
    }
    const struct raft_msg_append *a = &m->append;
    uint64_t last_new = a->prev_index + a->n_entries;
    /* Entries at or below our commit index are known to match. */
    uint32_t k = 0;
    uint64_t prev = a->prev_index;
    uint64_t prev_term = a->prev_term;
    if (prev < r->commit) {
        if (last_new <= r->commit) {
            reply_append(r, m, r->commit, false);
            return;
        }
        k = (uint32_t)(r->commit - prev);
        prev = r->commit;
        prev_term = a->entries[k - 1].term;
    }
    if (prev > raft__last_index(r) || raft__term_at(r, prev) != prev_term) {
        reply_append(r, m, a->prev_index, true);
        return;
    }
    int rv = store_entries(r, m, k);
    if (rv == ERR_NOMEM) {
        r->nomem = true;
        return; /* as if lost: the leader retries */
    }
    if (rv != 0) {
        return;
    }
    uint64_t commit = a->commit < last_new ? a->commit : last_new;
    if (commit > r->commit) {
        r->commit = commit;
    }
    reply_append(r, m, last_new, false);
}

/* The heartbeat's commit index is capped at our match: when it is past
 * our log we lost entries we acknowledged (see lost_log). */
static void reply_lost(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg *out = raft__msg(r, RAFT_MSG_APPEND_RESP, m->from);
    if (out != NULL) {
        out->append_resp.index = m->heartbeat.commit;
        out->append_resp.reject = true;
        out->append_resp.lost = true;
        out->append_resp.hint_index = raft__last_index(r);
        out->append_resp.hint_term = raft__last_term(r);
    }
}

void raft__recv_heartbeat(struct raft *r, const struct raft_msg *m)
{
    recv_from_leader(r, m);
    uint64_t commit = m->heartbeat.commit;
    if (commit > raft__last_index(r)) {
        if (!r->installing) {
            reply_lost(r, m);
        }
        commit = raft__last_index(r);
    }
    if (commit > r->commit && !r->installing) {
        r->commit = commit;
    }
    struct raft_msg *resp = raft__msg(r, RAFT_MSG_HEARTBEAT_RESP, m->from);
    if (resp != NULL) {
        resp->heartbeat_resp.seq = m->heartbeat.seq;
    }
}

/* ---- the leader side ------------------------------------------------- */

/* A rejection whose hint is below the follower's match, of an append at
 * or past that match or of a heartbeat (lost): the follower no longer
 * holds entries it acknowledged in this term (restarted on an emptied
 * dir, a log cut by wal-repair, an unsynced tail lost with raft-fsync
 * off). A follower that holds them always hints at or past its match.
 * Match is lowered to what it has, which only makes commitment more
 * cautious, and it is probed from there; else it would wait forever for
 * appends past its log. */
static bool lost_log(struct raft *r, struct raft__progress *pr,
                     const struct raft_msg_append_resp *a)
{
    if (a->hint_index >= pr->match || (!a->lost && a->index < pr->match)) {
        return false;
    }
    pr->match = a->hint_index;
    become_probe(pr, a->hint_index + 1);
    /* The probe waits for the next heartbeat answer: a follower that
     * acknowledges and then disowns the same entries (which only a lying
     * member does) costs a round per heartbeat, not a message storm. */
    pr->probe_sent = true;
    return true;
}

static void recv_reject(struct raft *r, struct raft__progress *pr,
                        const struct raft_msg_append_resp *a)
{
    if (pr->state == RAFT__SNAPSHOT || lost_log(r, pr, a)) {
        return;
    }
    if (pr->state == RAFT__REPLICATE) {
        if (a->index <= pr->match) {
            return; /* stale */
        }
        become_probe(pr, pr->match + 1);
    } else {
        if (a->index != pr->next - 1) {
            return; /* an answer to an older probe */
        }
        uint64_t probe = a->hint_index;
        if (a->hint_term > 0) {
            probe = raft__find_conflict_by_term(r, a->hint_index,
                                                a->hint_term);
        }
        uint64_t next = a->index < probe + 1 ? a->index : probe + 1;
        if (next <= pr->match) {
            /* It refuses what it acknowledged, and not because it lost
             * its log (lost_log): no honest follower does. Probing again
             * at once would repeat the refusal as fast as the network
             * goes; the heartbeat paces the retries instead. */
            become_probe(pr, pr->match + 1);
            pr->probe_sent = true;
            return;
        }
        become_probe(pr, next);
    }
    raft__send_append(r, pr, true);
}

struct raft__progress *raft__answer_progress(struct raft *r,
                                             const struct raft_msg *m)
{
    struct raft__progress *pr = raft__progress(r, m->from);
    if (r->role != RAFT_LEADER || pr == NULL) {
        return NULL;
    }
    pr->active = true;
    return pr;
}

void raft__recv_append_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *pr = raft__answer_progress(r, m);
    if (pr == NULL) {
        return;
    }
    const struct raft_msg_append_resp *a = &m->append_resp;
    if (a->reject) {
        recv_reject(r, pr, a);
        return;
    }
    if (a->index > raft__last_index(r)) {
        return; /* acknowledges entries this leader never had: no follower
                 * of its term sends that, and taken as a match it would
                 * send snapshots in a loop, or commit past the log */
    }
    if (a->index > pr->match) {
        pr->match = a->index;
        if (pr->next <= pr->match) {
            pr->next = pr->match + 1;
        }
        raft__inflight_free_to(r, pr, pr->match);
        if (pr->state == RAFT__PROBE ||
            (pr->state == RAFT__SNAPSHOT && pr->match >= pr->snap_index)) {
            become_probe(pr, pr->match + 1);
            pr->state = RAFT__REPLICATE;
        }
        raft__maybe_commit(r);
        if (r->role != RAFT_LEADER) {
            return;
        }
        raft__transfer_check(r, pr);
        raft__maybe_promote(r, pr);
    } else if (pr->state == RAFT__PROBE) {
        pr->probe_sent = false;
    }
    send_all(r, pr);
}

void raft__recv_heartbeat_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *pr = raft__answer_progress(r, m);
    if (pr == NULL) {
        return;
    }
    if (m->heartbeat_resp.seq > pr->acked_seq &&
        m->heartbeat_resp.seq <= r->hb_seq) {
        pr->acked_seq = m->heartbeat_resp.seq;
    }
    pr->probe_sent = false;
    if (pr->match < raft__last_index(r) && pr->state != RAFT__SNAPSHOT) {
        /* Lost APPENDs: make room and resend, the follower will reject
         * what does not fit and we fall back to probing. */
        if (pr->state == RAFT__REPLICATE && inflight_full(r, pr)) {
            inflight_free_first(r, pr);
        }
        raft__send_append(r, pr, true);
    }
    raft__read_confirm(r);
}

/* §6.2 CheckQuorum: a leader that has not heard from a majority of voters
 * within an election timeout steps down (also what makes leases safe). */
static void check_quorum(struct raft *r)
{
    uint32_t active = 0, voters = 0;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *pr = &r->prs[i];
        if (!raft__is_voter(r, pr->id)) {
            continue;
        }
        voters++;
        active += pr->active || pr->id == r->id;
        pr->active = false;
    }
    if (voters > 0 && active < voters / 2 + 1) {
        raft__become_follower(r, r->term, 0);
    }
}

void raft__tick_leader(struct raft *r)
{
    if (r->now >= r->heartbeat_due) {
        raft__broadcast_heartbeat(r);
    }
    if (r->now >= r->quorum_due) {
        r->quorum_due = r->now + r->opts.election_timeout_ms;
        if (!r->opts.no_check_quorum && !RAFT__BUG_LEASE) {
            check_quorum(r);
        }
        if (r->role != RAFT_LEADER) {
            return;
        }
    }
    if (r->transfer_to != 0 && r->now >= r->transfer_deadline) {
        r->transfer_to = 0; /* §3.10: abort after an election timeout */
    }
    raft__tick_snapshots(r);
    raft__removed_leader_check(r);
    for (uint32_t i = 0; i < r->n_prs && r->role == RAFT_LEADER; i++) {
        raft__maybe_promote(r, &r->prs[i]);
    }
}

/* ---- leadership transfer (§3.10) ------------------------------------- */

static struct raft__progress *best_voter(struct raft *r)
{
    struct raft__progress *best = NULL;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *pr = &r->prs[i];
        if (pr->id == r->id || !raft__is_voter(r, pr->id)) {
            continue;
        }
        if (best == NULL || pr->match > best->match) {
            best = pr;
        }
    }
    return best;
}

/* Once the target holds the whole log, tell it to campaign now. The lease
 * ends here: the target's voters will ignore our leadership. */
void raft__transfer_check(struct raft *r, struct raft__progress *pr)
{
    if (r->transfer_to != pr->id || pr->match != raft__last_index(r)) {
        return;
    }
    r->lease_off = true;
    raft__msg(r, RAFT_MSG_TIMEOUT_NOW, pr->id);
}

int raft__transfer(struct raft *r, uint64_t to)
{
    if (r->role != RAFT_LEADER) {
        return ERR_NOTLEADER;
    }
    if (r->transfer_to != 0) {
        return ERR_BUSY;
    }
    struct raft__progress *pr = to ? raft__progress(r, to) : best_voter(r);
    if (pr == NULL || pr->id == r->id || !raft__is_voter(r, pr->id)) {
        return ERR_INVALID;
    }
    r->transfer_to = pr->id;
    r->transfer_deadline = r->now + r->opts.election_timeout_ms;
    raft__transfer_check(r, pr);
    send_all(r, pr);
    return 0;
}
