/* Leader election: randomized timeouts, PreVote (§9.6), RequestVote with
 * the up-to-date check (§3.6.1), TimeoutNow for leadership transfer
 * (§3.10) and the transition to leader with its no-op entry (§6.4). A
 * candidate's own vote counts only once its term and vote are durable, so
 * a crash cannot make it vote twice in one term (Raft paper §5.1). */
#include <string.h>

#include "raft/raft_internal.h"

static uint32_t quorum(const struct raft *r)
{
    return raft__n_voters(r) / 2 + 1;
}

static bool add_id(uint64_t *ids, uint32_t *n, uint64_t id)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (ids[i] == id) {
            return false;
        }
    }
    if (*n < RAFT_MAX_SERVERS) {
        ids[(*n)++] = id;
    }
    return true;
}

static void check_votes(struct raft *r)
{
    if (r->n_granted >= quorum(r)) {
        if (r->role == RAFT_PRECANDIDATE) {
            raft__campaign(r, false, false);
        } else {
            raft__become_leader(r);
        }
    } else if (r->n_refused >= quorum(r)) {
        raft__become_follower(r, r->term, 0);
    }
}

static void send_vote_requests(struct raft *r, bool pre, bool transfer)
{
    for (uint32_t i = 0; i < r->config.n; i++) {
        const struct raft_server *s = &r->config.servers[i];
        if (s->id == r->id || s->role != RAFT_VOTER) {
            continue;
        }
        struct raft_msg m = {.type = RAFT_MSG_VOTE, .from = r->id,
                             .to = s->id, .term = r->term};
        m.vote.last_index = raft__last_index(r);
        m.vote.last_term = raft__last_term(r);
        m.vote.pre = pre;
        m.vote.transfer = transfer;
        if (pre) {
            /* §9.6: the term it would use; ours does not change. */
            m.term = r->term + 1;
            struct raft_msg *out = raft__msg(r, RAFT_MSG_VOTE, s->id);
            if (out != NULL) {
                *out = m;
            }
        } else {
            raft__send_durable(r, &m);
        }
    }
}

/* Starts a PreVote round or a real election. Only voters campaign. */
void raft__campaign(struct raft *r, bool pre, bool transfer)
{
    if (!raft__is_voter(r, r->id)) {
        raft__reset_election_timer(r);
        return;
    }
    if (r->leader != 0 || r->role == RAFT_LEADER) {
        raft__reads_fail(r, ERR_NOTLEADER);
    }
    r->leader = 0;
    r->n_granted = r->n_refused = 0;
    r->self_voted = false;
    raft__reset_election_timer(r);
    if (pre) {
        r->role = RAFT_PRECANDIDATE;
        add_id(r->granted, &r->n_granted, r->id);
        send_vote_requests(r, true, false);
        check_votes(r);
        return;
    }
    r->role = RAFT_CANDIDATE;
    raft__set_term(r, r->term + 1);
    r->vote = r->id;
    r->hs_dirty = true;
    r->self_vote_tag = r->persist_seq + 1;
    send_vote_requests(r, false, transfer);
}

/* The candidate's term and vote are durable: its own vote now counts. */
void raft__self_vote_durable(struct raft *r)
{
    if (r->self_voted || r->persist_acked < r->self_vote_tag) {
        return;
    }
    r->self_voted = true;
    add_id(r->granted, &r->n_granted, r->id);
    check_votes(r);
}

void raft__tick_election(struct raft *r)
{
    if (r->now < r->election_deadline) {
        return;
    }
    raft__campaign(r, !r->opts.no_pre_vote, false);
}

static bool vote_allowed(const struct raft *r, const struct raft_msg *m)
{
    bool can = r->vote == m->from || (r->vote == 0 && r->leader == 0) ||
               (m->vote.pre && m->term > r->term);
    if (!can) {
        return false;
    }
    /* A fresh node may have voted in this term before it lost its dir. */
    if (r->fresh && !m->vote.pre && m->term <= r->fresh_floor &&
        m->vote.last_index > 1) {
        return false;
    }
#ifdef RAFT_BUG_VOTE_NO_LOG_CHECK
    return true;
#else
    return raft__log_up_to_date(r, m->vote.last_index, m->vote.last_term);
#endif
}

/* RequestVote / PreVote. check_term() has already ignored requests that
 * arrive while we hear from a leader (§4.2.3) and adopted a higher term
 * for real votes. A granted real vote is durable before it is sent. */
void raft__recv_vote(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg resp = {.type = RAFT_MSG_VOTE_RESP, .from = r->id,
                            .to = m->from, .term = r->term};
    resp.vote_resp.pre = m->vote.pre;
    if (!vote_allowed(r, m)) {
        struct raft_msg *out = raft__msg(r, RAFT_MSG_VOTE_RESP, m->from);
        if (out != NULL) {
            *out = resp;
        }
        return;
    }
    resp.vote_resp.granted = true;
    if (m->vote.pre) {
        resp.term = m->term;
        struct raft_msg *out = raft__msg(r, RAFT_MSG_VOTE_RESP, m->from);
        if (out != NULL) {
            *out = resp;
        }
        return;
    }
    r->vote = m->from;
    r->hs_dirty = true;
    raft__reset_election_timer(r);
    raft__send_durable(r, &resp);
}

void raft__recv_vote_resp(struct raft *r, const struct raft_msg *m)
{
    if (m->vote_resp.pre) {
        if (r->role != RAFT_PRECANDIDATE ||
            (m->vote_resp.granted && m->term != r->term + 1)) {
            return;
        }
    } else if (r->role != RAFT_CANDIDATE || m->term != r->term) {
        return;
    }
    if (!raft__is_voter(r, m->from)) {
        return;
    }
    if (m->vote_resp.granted) {
        add_id(r->granted, &r->n_granted, m->from);
    } else {
        add_id(r->refused, &r->n_refused, m->from);
    }
    check_votes(r);
}

/* §3.10: the leader asks us to campaign at once; the transfer flag lets
 * voters grant although they hear from the (old) leader. */
void raft__recv_timeout_now(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER) {
        return;
    }
    raft__campaign(r, false, true);
}

/* Takes leadership: progress for every member, then a no-op entry of the
 * new term, whose commitment commits everything before it (§5.4.2) and
 * lets ReadIndex start (§6.4). */
void raft__become_leader(struct raft *r)
{
    r->role = RAFT_LEADER;
    r->fresh_settled = true; /* it knows the group's term: its own */
    r->leader_gone = false;
    r->leader = r->id;
    r->transfer_to = 0;
    r->lease_off = false;
    r->stepping_down = false;
    r->n_prs = 0;
    raft__progress_sync(r);
    for (uint32_t i = 0; i < r->n_prs; i++) {
        r->prs[i].active = r->prs[i].id == r->id;
        r->prs[i].acked_seq = 0;
    }
    r->heartbeat_due = r->now + r->opts.heartbeat_ms;
    r->quorum_due = r->now + r->opts.election_timeout_ms;
    if (raft__append_own(r, RAFT_ENTRY_NOOP, NULL, 0, NULL) != 0) {
        return; /* out of memory: followers will time out and re-elect */
    }
    raft__broadcast_append(r);
}
