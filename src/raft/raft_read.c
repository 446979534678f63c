/* Linearizable reads without log entries. ReadIndex (§6.4): the leader
 * notes its commit index, confirms it is still leader with one heartbeat
 * round that a majority answers, and the read may be served once the
 * state machine has applied that index; one round serves every read
 * queued before it (batching). Lease reads (§6.4.1): within election
 * timeout minus a clock-drift bound after the start of a round a majority
 * answered, no other leader can exist (voters ignore candidates while they
 * hear from a leader, §4.2.3), so the commit index is safe at once; this
 * needs CheckQuorum. Followers forward reads to the leader (§6.4.1). */
#include <string.h>

#include "raft/raft_internal.h"

static uint64_t acked_seq(struct raft *r, struct raft__progress *pr)
{
    (void)r;
    return pr->acked_seq;
}

static uint64_t acked_at(struct raft *r, struct raft__progress *pr)
{
    if (pr->acked_seq == 0 || pr->acked_seq + RAFT__SEQ_RING <= r->hb_seq) {
        return 0;
    }
    return r->seq_sent_at[pr->acked_seq % RAFT__SEQ_RING];
}

static bool lease_valid(struct raft *r)
{
    if (r->role != RAFT_LEADER || raft__term_at(r, r->commit) != r->term) {
        return false;
    }
    if (RAFT__BUG_LEASE) {
        return true; /* bug: no CheckQuorum, no expiry */
    }
    if (r->opts.no_check_quorum || r->opts.lease_drift_ms == 0 ||
        r->opts.lease_drift_ms >= r->opts.election_timeout_ms ||
        r->lease_off || r->transfer_to != 0) {
        return false;
    }
    uint64_t start = raft__majority_value(r, r->now, acked_at);
    uint64_t span = r->opts.election_timeout_ms - r->opts.lease_drift_ms;
    return start != 0 && r->now < start + span;
}

static void answer(struct raft *r, const struct raft__read *q, bool ok)
{
    if (q->from == 0) {
        raft__read_out(r, q->req_id, q->index, ok ? 0 : ERR_NOTLEADER);
        return;
    }
    struct raft_msg *m = raft__msg(r, RAFT_MSG_READ_INDEX_RESP, q->from);
    if (m != NULL) {
        m->read_index_resp.req_id = q->req_id;
        m->read_index_resp.index = q->index;
        m->read_index_resp.ok = ok;
    }
}

static int enqueue(struct raft *r, const struct raft__read *q)
{
    if (raft__grow(r, (void **)&r->rq, &r->rq_cap, r->rq_n + 1,
                   sizeof(*r->rq)) != 0) {
        return ERR_NOMEM;
    }
    r->rq[r->rq_n++] = *q;
    return 0;
}

/* A read asked locally (from 0) or by follower `from`. */
int raft__read(struct raft *r, uint64_t req_id, bool lease, uint64_t from)
{
    struct raft__read q = {.req_id = req_id, .from = from, .at = r->now};
    if (r->role != RAFT_LEADER) {
        if (from != 0 || r->leader == 0) {
            answer(r, &q, false);
            return 0;
        }
        struct raft_msg *m = raft__msg(r, RAFT_MSG_READ_INDEX, r->leader);
        if (m == NULL) {
            return ERR_NOMEM;
        }
        m->read_index.req_id = req_id;
        return enqueue(r, &q);
    }
    if (lease && lease_valid(r)) {
        q.index = r->commit;
        answer(r, &q, true);
        return 0;
    }
    return enqueue(r, &q);
}

/* End of a leader's step: with reads waiting and no round in flight, start
 * one now instead of at the next heartbeat. */
void raft__read_rounds(struct raft *r)
{
    bool waiting = false;
    for (uint32_t i = 0; i < r->rq_n; i++) {
        if (r->rq[i].seq != 0) {
            return; /* a round is in flight; the next one takes these */
        }
        waiting = true;
    }
    if (waiting && raft__term_at(r, r->commit) == r->term) {
        raft__broadcast_heartbeat(r);
    }
}

/* Serves every read whose round a majority has answered. */
void raft__read_confirm(struct raft *r)
{
    if (r->rq_n == 0 || r->role != RAFT_LEADER) {
        return;
    }
    uint64_t seq = raft__majority_value(r, r->hb_seq, acked_seq);
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->rq_n; i++) {
        struct raft__read *q = &r->rq[i];
        if (q->seq != 0 && q->seq <= seq) {
            answer(r, q, true);
        } else {
            r->rq[k++] = *q;
        }
    }
    r->rq_n = k;
}

/* Fails every waiting read (leadership or leader changed). */
void raft__reads_fail(struct raft *r, int status)
{
    for (uint32_t i = 0; i < r->rq_n; i++) {
        struct raft__read *q = &r->rq[i];
        if (q->from == 0) {
            raft__read_out(r, q->req_id, 0, status);
        } else {
            answer(r, q, false);
        }
    }
    r->rq_n = 0;
}

void raft__recv_read_index(struct raft *r, const struct raft_msg *m)
{
    raft__read(r, m->read_index.req_id, false, m->from);
}

void raft__recv_read_index_resp(struct raft *r, const struct raft_msg *m)
{
    for (uint32_t i = 0; i < r->rq_n; i++) {
        struct raft__read *q = &r->rq[i];
        if (q->from != 0 || q->req_id != m->read_index_resp.req_id) {
            continue;
        }
        raft__read_out(r, q->req_id, m->read_index_resp.index,
                       m->read_index_resp.ok ? 0 : ERR_NOTLEADER);
        r->rq[i] = r->rq[--r->rq_n];
        return;
    }
}

/* A follower's forwarded read whose answer was lost fails after an
 * election timeout, so the caller never waits forever. */
void raft__tick_reads(struct raft *r)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->rq_n; i++) {
        struct raft__read *q = &r->rq[i];
        if (r->now >= q->at + r->opts.election_timeout_ms) {
            raft__read_out(r, q->req_id, 0, ERR_BUSY);
        } else {
            r->rq[k++] = *q;
        }
    }
    r->rq_n = k;
}
