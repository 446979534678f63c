/* Specification tests of leader election: timeouts, PreVote (§9.6),
 * RequestVote and its up-to-date check (§3.6.1), durable votes, the
 * §4.2.3 rule against disruptive servers, CheckQuorum (§6.2), the no-op
 * entry of a new leader and TimeoutNow (§3.10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/raft/fixture.h"

/* Ticks node id alone (nothing delivered) until its role changes. */
static void timeout_node(struct fx *fx, uint64_t id)
{
    struct fx_node *nd = fx_node(fx, id);
    uint8_t role = raft_role(nd->r);
    for (int i = 0; i < 100 && raft_role(nd->r) == role; i++) {
        fx->now += 10;
        fx_tick(fx, nd);
    }
}

static void test_follower_becomes_precandidate_after_election_timeout(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    timeout_node(&fx, 1);
    assert_int_equal(raft_role(fx.nodes[0].r), RAFT_PRECANDIDATE);
    assert_int_equal(raft_term(fx.nodes[0].r), 1);
    struct raft_msg m;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_VOTE, &m));
    assert_true(m.vote.pre);
    assert_int_equal(m.term, 2);
    fx_destroy(&fx);
}

static void test_precandidate_with_majority_becomes_candidate_and_increments_term(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    timeout_node(&fx, 1);
    struct raft_msg resp = fx_msg(RAFT_MSG_VOTE_RESP, 2, 1, 2);
    resp.vote_resp.pre = true;
    resp.vote_resp.granted = true;
    fx_recv(&fx, &resp);
    assert_int_equal(raft_role(fx.nodes[0].r), RAFT_CANDIDATE);
    assert_int_equal(raft_term(fx.nodes[0].r), 2);
    assert_int_equal(raft_vote(fx.nodes[0].r), 1);
    fx_destroy(&fx);
}

static void test_candidate_vote_requests_wait_for_durable_term(void **state)
{
    struct fx fx;
    fx.opts = (struct raft_options){.election_timeout_ms = 100,
                                    .no_pre_vote = true};
    fx_init_opts(&fx, 3, 3, &fx.opts);
    fx.nodes[0].manual_persist = true;
    timeout_node(&fx, 1);
    assert_int_equal(raft_role(fx.nodes[0].r), RAFT_CANDIDATE);
    assert_true(fx.nodes[0].last.hard_state_changed);
    assert_int_equal(fx_count(&fx, 1, 0, RAFT_MSG_VOTE), 0);
    fx_persist(&fx, &fx.nodes[0]);
    assert_int_equal(fx_count(&fx, 1, 0, RAFT_MSG_VOTE), 2);
    fx_destroy(&fx);
}

static void test_candidate_with_stale_log_is_denied_vote(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, 2, 1, 5);
    v.vote.last_index = 0;
    v.vote.last_term = 0;
    fx_recv(&fx, &v);
    struct raft_msg r;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_VOTE_RESP, &r));
    assert_false(r.vote_resp.granted);
    assert_int_equal(raft_term(fx.nodes[0].r), 5);
    assert_int_equal(raft_vote(fx.nodes[0].r), 0);
    fx_destroy(&fx);
}

/* A node that started on empty storage may have voted before it lost it:
 * it grants no vote up to the highest term it has heard of (until a
 * leader's message names the current one), unless the candidate's log is
 * only the first entry, as in a new group's first election. */
static bool fresh_grants(struct fx *fx, uint64_t term, uint64_t last_index)
{
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, 2, 1, term);
    v.vote.last_index = last_index;
    v.vote.last_term = 1;
    fx_recv(fx, &v);
    struct raft_msg r;
    assert_true(fx_take(fx, 1, 2, RAFT_MSG_VOTE_RESP, &r));
    return r.vote_resp.granted;
}

static void test_fresh_node_votes_only_past_the_terms_it_heard_of(
    void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    assert_false(fresh_grants(&fx, 5, 7));
    assert_int_equal(raft_vote(fx.nodes[0].r), 0);
    assert_true(fresh_grants(&fx, 6, 7));
    fx_destroy(&fx);

    fx_init(&fx, 3, 3);
    assert_true(fresh_grants(&fx, 2, 1)); /* a new group's first election */
    fx_destroy(&fx);

    /* A leader's heartbeat settles the floor at its term. */
    fx_init(&fx, 3, 3);
    struct raft_msg hb = fx_msg(RAFT_MSG_HEARTBEAT, 3, 1, 4);
    fx_recv(&fx, &hb);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, 2, 1, 9);
    v.vote.pre = true;
    v.vote.last_index = 7;
    v.vote.last_term = 1;
    fx_wait(&fx, 300); /* the leader goes quiet */
    fx_recv(&fx, &v);  /* a PreVote of term 9 does not move the floor */
    struct raft_msg r;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_VOTE_RESP, &r));
    assert_true(r.vote_resp.pre && r.vote_resp.granted);
    assert_true(fresh_grants(&fx, 5, 7));
    fx_destroy(&fx);
}

static void test_vote_is_granted_to_one_candidate_per_term(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, 2, 1, 5);
    v.vote.last_index = 1;
    v.vote.last_term = 1;
    fx_recv(&fx, &v);
    v.from = 3;
    fx_recv(&fx, &v);
    struct raft_msg r;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_VOTE_RESP, &r));
    assert_true(r.vote_resp.granted);
    assert_true(fx_take(&fx, 1, 3, RAFT_MSG_VOTE_RESP, &r));
    assert_false(r.vote_resp.granted);
    /* the same candidate asking again is answered yes again */
    v.from = 2;
    fx_recv(&fx, &v);
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_VOTE_RESP, &r));
    assert_true(r.vote_resp.granted);
    fx_destroy(&fx);
}

static void test_granted_vote_is_withheld_until_persisted(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    fx.nodes[0].manual_persist = true;
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, 2, 1, 5);
    v.vote.last_index = 1;
    v.vote.last_term = 1;
    fx_recv(&fx, &v);
    assert_true(fx.nodes[0].last.hard_state_changed);
    assert_int_equal(fx.nodes[0].last.vote, 2);
    assert_int_equal(fx_count(&fx, 1, 2, RAFT_MSG_VOTE_RESP), 0);
    fx_persist(&fx, &fx.nodes[0]);
    assert_int_equal(fx_count(&fx, 1, 2, RAFT_MSG_VOTE_RESP), 1);
    fx_destroy(&fx);
}

static void test_prevote_is_answered_without_changing_term_or_vote(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, 2, 1, 2);
    v.vote.pre = true;
    v.vote.last_index = 1;
    v.vote.last_term = 1;
    fx_recv(&fx, &v);
    struct raft_msg r;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_VOTE_RESP, &r));
    assert_true(r.vote_resp.granted);
    assert_true(r.vote_resp.pre);
    assert_int_equal(r.term, 2);
    assert_int_equal(raft_term(fx.nodes[0].r), 1);
    assert_int_equal(raft_vote(fx.nodes[0].r), 0);
    assert_int_equal(fx.nodes[0].last.persist_id, 0);
    fx_destroy(&fx);
}

static void test_follower_ignores_vote_requests_while_hearing_from_leader(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    assert_non_null(l);
    uint64_t f = l->id == 1 ? 2 : 1;
    uint64_t term = raft_term(l->r);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, l->id == 3 ? 2 : 3, f, term + 5);
    v.vote.last_index = 100;
    v.vote.last_term = term + 4;
    fx_recv(&fx, &v);
    assert_int_equal(raft_term(fx_node(&fx, f)->r), term);
    assert_int_equal(fx_count(&fx, f, 0, RAFT_MSG_VOTE_RESP), 0);
    fx_destroy(&fx);
}

static void test_transfer_vote_is_granted_despite_hearing_from_leader(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t f = l->id == 1 ? 2 : 1;
    uint64_t c = 6 - l->id - f;
    uint64_t term = raft_term(l->r);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, c, f, term + 1);
    v.vote.last_index = raft_last_index(l->r);
    v.vote.last_term = term;
    v.vote.transfer = true;
    fx_recv(&fx, &v);
    struct raft_msg r;
    assert_true(fx_take(&fx, f, c, RAFT_MSG_VOTE_RESP, &r));
    assert_true(r.vote_resp.granted);
    fx_destroy(&fx);
}

/* §4.2.3: the leader believes a current leader exists (itself), also
 * without CheckQuorum: a RequestVote of a higher term changes nothing. */
static void test_leader_without_check_quorum_ignores_vote_requests_of_higher_terms(void **state)
{
    struct fx fx;
    fx.opts = (struct raft_options){.election_timeout_ms = 100,
                                    .no_check_quorum = true,
                                    .no_pre_vote = true, .seed = 7};
    fx_init_opts(&fx, 3, 3, &fx.opts);
    struct fx_node *l = fx_elect(&fx);
    uint64_t c = l->id == 1 ? 2 : 1;
    uint64_t term = raft_term(l->r);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, c, l->id, term + 5);
    v.vote.last_index = raft_last_index(l->r) + 10;
    v.vote.last_term = term;
    fx_recv(&fx, &v);
    assert_int_equal(raft_role(l->r), RAFT_LEADER);
    assert_int_equal(raft_term(l->r), term);
    assert_int_equal(fx_count(&fx, l->id, c, RAFT_MSG_VOTE_RESP), 0);
    fx_destroy(&fx);
}

/* §3.10: the transfer flag overrides it; the leader adopts the term. */
static void test_leader_grants_transfer_vote_of_higher_term(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t c = l->id == 1 ? 2 : 1;
    uint64_t term = raft_term(l->r);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, c, l->id, term + 1);
    v.vote.last_index = raft_last_index(l->r);
    v.vote.last_term = term;
    v.vote.transfer = true;
    fx_recv(&fx, &v);
    assert_int_equal(raft_role(l->r), RAFT_FOLLOWER);
    assert_int_equal(raft_term(l->r), term + 1);
    struct raft_msg r;
    assert_true(fx_take(&fx, l->id, c, RAFT_MSG_VOTE_RESP, &r));
    assert_true(r.vote_resp.granted);
    fx_destroy(&fx);
}

static void test_new_leader_appends_a_noop_entry_of_its_term(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    assert_non_null(l);
    uint64_t last = raft_last_index(l->r);
    const struct raft_entry *e = raft_entry_at(l->r, last);
    assert_int_equal(e->type, RAFT_ENTRY_NOOP);
    assert_int_equal(e->term, raft_term(l->r));
    fx_destroy(&fx);
}

static void test_leader_steps_down_without_quorum(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    fx_isolate(&fx, l->id, true);
    fx_run(&fx, 250);
    assert_int_not_equal(raft_role(l->r), RAFT_LEADER);
    fx_destroy(&fx);
}

static void test_leader_without_check_quorum_stays_leader_when_isolated(void **state)
{
    struct fx fx;
    fx.opts = (struct raft_options){.election_timeout_ms = 100,
                                    .no_check_quorum = true};
    fx_init_opts(&fx, 3, 3, &fx.opts);
    struct fx_node *l = fx_elect(&fx);
    fx_isolate(&fx, l->id, true);
    fx_run(&fx, 500);
    assert_int_equal(raft_role(l->r), RAFT_LEADER);
    fx_destroy(&fx);
}

static void test_partitioned_node_does_not_raise_cluster_term_on_return(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t term = raft_term(l->r);
    uint64_t f = l->id == 1 ? 2 : 1;
    fx_isolate(&fx, f, true);
    fx_run(&fx, 2000);
    /* PreVote: the isolated node never won a pre-election: same term */
    assert_int_equal(raft_term(fx_node(&fx, f)->r), term);
    fx_isolate(&fx, f, false);
    fx_run(&fx, 500);
    assert_int_equal(raft_role(l->r), RAFT_LEADER);
    assert_int_equal(raft_term(l->r), term);
    fx_destroy(&fx);
}

static void test_single_voter_elects_itself_at_once(void **state)
{
    struct fx fx;
    fx_init(&fx, 1, 1);
    fx_run(&fx, 10);
    assert_int_equal(raft_role(fx.nodes[0].r), RAFT_LEADER);
    assert_int_equal(raft_commit_index(fx.nodes[0].r), 2);
    fx_destroy(&fx);
}

static void test_candidate_steps_down_on_append_from_leader_of_its_term(void **state)
{
    struct fx fx;
    fx.opts = (struct raft_options){.election_timeout_ms = 100,
                                    .no_pre_vote = true};
    fx_init_opts(&fx, 3, 3, &fx.opts);
    timeout_node(&fx, 1);
    assert_int_equal(raft_role(fx.nodes[0].r), RAFT_CANDIDATE);
    struct raft_msg a = fx_append_msg(2, 1, 2, 1, 1, 0, NULL);
    fx_recv(&fx, &a);
    assert_int_equal(raft_role(fx.nodes[0].r), RAFT_FOLLOWER);
    assert_int_equal(raft_leader(fx.nodes[0].r), 2);
    fx_destroy(&fx);
}

static void test_candidate_denied_by_majority_returns_to_follower(void **state)
{
    struct fx fx;
    fx.opts = (struct raft_options){.election_timeout_ms = 100,
                                    .no_pre_vote = true};
    fx_init_opts(&fx, 3, 3, &fx.opts);
    timeout_node(&fx, 1);
    struct raft_msg r = fx_msg(RAFT_MSG_VOTE_RESP, 2, 1, 2);
    fx_recv(&fx, &r);
    assert_int_equal(raft_role(fx.nodes[0].r), RAFT_CANDIDATE);
    r.from = 3;
    fx_recv(&fx, &r);
    assert_int_equal(raft_role(fx.nodes[0].r), RAFT_FOLLOWER);
    fx_destroy(&fx);
}

static void test_stale_leader_learns_newer_term_from_rejection(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, 3, 1, 4);
    v.vote.last_index = 1;
    v.vote.last_term = 1;
    fx_recv(&fx, &v); /* node 1 is now in term 4 */
    fx_drop_all(&fx);
    struct raft_msg a = fx_msg(RAFT_MSG_HEARTBEAT, 2, 1, 2);
    fx_recv(&fx, &a);
    struct raft_msg r;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_APPEND_RESP, &r));
    assert_int_equal(r.term, 4);
    assert_true(r.append_resp.reject);
    fx_destroy(&fx);
}

static void test_learner_never_campaigns(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 2); /* node 3 starts empty, outside the config */
    fx_wait(&fx, 1000);
    assert_int_equal(raft_role(fx.nodes[2].r), RAFT_FOLLOWER);
    assert_int_equal(fx_count(&fx, 3, 0, RAFT_MSG_VOTE), 0);
    fx_destroy(&fx);
}

static void test_timeout_now_makes_target_campaign_at_once(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t f = l->id == 1 ? 2 : 1;
    uint64_t term = raft_term(l->r);
    struct raft_msg t = fx_msg(RAFT_MSG_TIMEOUT_NOW, l->id, f, term);
    fx_recv(&fx, &t);
    assert_int_equal(raft_role(fx_node(&fx, f)->r), RAFT_CANDIDATE);
    assert_int_equal(raft_term(fx_node(&fx, f)->r), term + 1);
    struct raft_msg v;
    assert_true(fx_take(&fx, f, 0, RAFT_MSG_VOTE, &v));
    assert_true(v.vote.transfer);
    assert_false(v.vote.pre);
    fx_destroy(&fx);
}

static void test_leader_is_reelected_after_crash_and_log_survives(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    assert_int_equal(fx_propose(&fx, l, "a"), 0);
    fx_run(&fx, 100);
    uint64_t old = l->id;
    uint64_t idx = raft_commit_index(l->r);
    fx_crash(&fx, old);
    struct fx_node *l2 = fx_elect(&fx);
    assert_non_null(l2);
    assert_int_not_equal(l2->id, old);
    assert_true(raft_commit_index(l2->r) > idx);
    fx_start(&fx, old, 3);
    fx_run(&fx, 300);
    assert_int_equal(fx_node(&fx, old)->applied, raft_commit_index(l2->r));
    fx_destroy(&fx);
}

/* A term past 2^63 is no term a cluster reaches: taken, it would wrap to
 * 0 at the next election. Such messages are dropped, as are indexes that
 * far out. */
static void test_terms_and_indexes_past_2_63_are_dropped(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    assert_non_null(l);
    uint64_t f = l->id == 1 ? 2 : 1, term = raft_term(l->r);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE, 6 - l->id - f, f, UINT64_MAX);
    v.vote.pre = false;
    v.vote.transfer = true; /* would be granted despite the leader */
    v.vote.last_index = 100;
    v.vote.last_term = term;
    fx_recv(&fx, &v);
    assert_int_equal(raft_term(fx_node(&fx, f)->r), term);
    assert_int_equal(fx_count(&fx, f, 0, RAFT_MSG_VOTE_RESP), 0);
    struct raft_msg hb = fx_msg(RAFT_MSG_HEARTBEAT, l->id, f, term);
    hb.heartbeat.commit = (uint64_t)INT64_MAX + 1;
    fx_recv(&fx, &hb);
    assert_int_equal(fx_count(&fx, f, l->id, RAFT_MSG_HEARTBEAT_RESP), 0);
    hb.heartbeat.commit = raft_commit_index(fx_node(&fx, f)->r);
    fx_recv(&fx, &hb);
    assert_int_equal(fx_count(&fx, f, l->id, RAFT_MSG_HEARTBEAT_RESP), 1);
    fx_destroy(&fx);
}

/* ---- RAFT_EVENT_PEER_DOWN: the transport finds the leader's process gone */

/* A heartbeat from leader l to node `to`, carrying to's commit index. */
static void heartbeat(struct fx *fx, struct fx_node *l, uint64_t to)
{
    struct raft_msg hb = fx_msg(RAFT_MSG_HEARTBEAT, l->id, to,
                                raft_term(l->r));
    hb.heartbeat.commit = raft_commit_index(fx_node(fx, to)->r);
    fx_recv(fx, &hb);
}

/* A 3-node group with a leader, whose follower f has just heard from it
 * (at fx->now); the other follower is *g. */
static struct fx_node *peer_down_setup(struct fx *fx, uint64_t seed,
                                       bool leases, uint64_t *f,
                                       uint64_t *g)
{
    struct raft_options o = {.election_timeout_ms = 100, .seed = seed,
                             .lease_drift_ms = leases ? 10 : 0};
    fx_init_opts(fx, 3, 3, &o);
    struct fx_node *l = fx_elect(fx);
    assert_non_null(l);
    *f = l->id == 1 ? 2 : 1;
    *g = 6 - l->id - *f;
    fx_drop_all(fx);
    heartbeat(fx, l, *f);
    fx_drop_all(fx);
    return l;
}

static void peer_down(struct fx *fx, uint64_t at, uint64_t id)
{
    struct raft_event ev = {.type = RAFT_EVENT_PEER_DOWN};
    ev.peer_down.id = id;
    fx_step(fx, fx_node(fx, at), &ev);
}

/* Ticks node id alone every millisecond until it leaves `role`; returns
 * the milliseconds that took (1000 if it never did). */
static uint64_t ms_until_role_changes(struct fx *fx, uint64_t id)
{
    struct fx_node *nd = fx_node(fx, id);
    uint8_t role = raft_role(nd->r);
    for (uint64_t ms = 1; ms < 1000; ms++) {
        fx->now++;
        fx_tick(fx, nd);
        if (raft_role(nd->r) != role) {
            return ms;
        }
    }
    return 1000;
}

/* With leases the promise to the leader (no campaign for T after hearing
 * from it) holds; the election comes within T/2 after it, not up to 2T.
 * Without the event, about half of these seeds wait past 1.5 T. */
static void test_peer_down_of_leader_campaigns_when_the_lease_promise_ends(
    void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct fx fx;
        uint64_t f, g;
        struct fx_node *l = peer_down_setup(&fx, seed, true, &f, &g);
        peer_down(&fx, f, l->id);
        uint64_t ms = ms_until_role_changes(&fx, f);
        assert_int_equal(raft_role(fx_node(&fx, f)->r), RAFT_PRECANDIDATE);
        assert_true(ms >= 100); /* never before the promise ends */
        assert_true(ms < 100 + 50);
        fx_destroy(&fx);
    }
}

/* Without leases nothing waits for the promise: the follower campaigns in
 * [T/8, T/2), and a follower that also found the leader gone grants its
 * PreVote although it heard from the leader just now; one that did not
 * still ignores it (§4.2.3). */
static void test_peer_down_without_leases_campaigns_at_once(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct fx fx;
        uint64_t f, g;
        struct fx_node *l = peer_down_setup(&fx, seed, false, &f, &g);
        heartbeat(&fx, l, g);
        fx_drop_all(&fx);
        peer_down(&fx, f, l->id);
        uint64_t ms = ms_until_role_changes(&fx, f);
        assert_int_equal(raft_role(fx_node(&fx, f)->r), RAFT_PRECANDIDATE);
        assert_true(ms >= 12 && ms < 50);
        struct raft_msg v;
        assert_true(fx_take(&fx, f, g, RAFT_MSG_VOTE, &v));
        assert_true(v.vote.pre);
        fx_recv(&fx, &v);
        assert_int_equal(fx_count(&fx, g, f, RAFT_MSG_VOTE_RESP), 0);
        peer_down(&fx, g, l->id);
        fx_recv(&fx, &v);
        struct raft_msg r;
        assert_true(fx_take(&fx, g, f, RAFT_MSG_VOTE_RESP, &r));
        assert_true(r.vote_resp.granted);
        fx_destroy(&fx);
    }
}

/* Until a leader is heard from, a round that fails (a split vote, or no
 * answers) is retried within T/2 too; a message from the leader ends that. */
static void test_peer_down_retries_failed_rounds_quickly_until_a_leader_is_heard(
    void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct fx fx;
        uint64_t f, g;
        struct fx_node *l = peer_down_setup(&fx, seed, false, &f, &g);
        peer_down(&fx, f, l->id);
        ms_until_role_changes(&fx, f);
        assert_int_equal(raft_role(fx_node(&fx, f)->r), RAFT_PRECANDIDATE);
        uint64_t term = raft_term(fx_node(&fx, f)->r);
        /* nobody answers: the next round (a new PreVote) within T/2 */
        uint64_t sent = fx_count(&fx, f, 0, RAFT_MSG_VOTE);
        uint64_t ms = 0;
        while (ms < 1000 && fx_count(&fx, f, 0, RAFT_MSG_VOTE) == sent) {
            fx.now++;
            ms++;
            fx_tick(&fx, fx_node(&fx, f));
        }
        assert_true(ms >= 12 && ms < 50);
        /* the leader was alive after all: back to [T, 2T) */
        heartbeat(&fx, l, f);
        assert_int_equal(raft_role(fx_node(&fx, f)->r), RAFT_FOLLOWER);
        assert_int_equal(raft_term(fx_node(&fx, f)->r), term);
        fx_drop_all(&fx);
        assert_true(ms_until_role_changes(&fx, f) >= 100);
        fx_destroy(&fx);
    }
}

/* Only the leader's absence counts: a follower that is gone, or a second
 * report, changes no deadline. */
static void test_peer_down_of_a_follower_changes_nothing(void **state)
{
    static struct fx a, b;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        uint64_t f, g;
        peer_down_setup(&a, seed, false, &f, &g);
        peer_down_setup(&b, seed, false, &f, &g);
        peer_down(&b, f, g);
        assert_int_equal(ms_until_role_changes(&a, f),
                         ms_until_role_changes(&b, f));
        fx_destroy(&a);
        fx_destroy(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follower_becomes_precandidate_after_election_timeout),
        cmocka_unit_test(test_precandidate_with_majority_becomes_candidate_and_increments_term),
        cmocka_unit_test(test_candidate_vote_requests_wait_for_durable_term),
        cmocka_unit_test(test_candidate_with_stale_log_is_denied_vote),
        cmocka_unit_test(test_fresh_node_votes_only_past_the_terms_it_heard_of),
        cmocka_unit_test(test_vote_is_granted_to_one_candidate_per_term),
        cmocka_unit_test(test_granted_vote_is_withheld_until_persisted),
        cmocka_unit_test(test_prevote_is_answered_without_changing_term_or_vote),
        cmocka_unit_test(test_follower_ignores_vote_requests_while_hearing_from_leader),
        cmocka_unit_test(test_transfer_vote_is_granted_despite_hearing_from_leader),
        cmocka_unit_test(test_leader_without_check_quorum_ignores_vote_requests_of_higher_terms),
        cmocka_unit_test(test_leader_grants_transfer_vote_of_higher_term),
        cmocka_unit_test(test_new_leader_appends_a_noop_entry_of_its_term),
        cmocka_unit_test(test_leader_steps_down_without_quorum),
        cmocka_unit_test(test_leader_without_check_quorum_stays_leader_when_isolated),
        cmocka_unit_test(test_partitioned_node_does_not_raise_cluster_term_on_return),
        cmocka_unit_test(test_single_voter_elects_itself_at_once),
        cmocka_unit_test(test_candidate_steps_down_on_append_from_leader_of_its_term),
        cmocka_unit_test(test_candidate_denied_by_majority_returns_to_follower),
        cmocka_unit_test(test_stale_leader_learns_newer_term_from_rejection),
        cmocka_unit_test(test_learner_never_campaigns),
        cmocka_unit_test(test_timeout_now_makes_target_campaign_at_once),
        cmocka_unit_test(test_leader_is_reelected_after_crash_and_log_survives),
        cmocka_unit_test(test_terms_and_indexes_past_2_63_are_dropped),
        cmocka_unit_test(test_peer_down_of_leader_campaigns_when_the_lease_promise_ends),
        cmocka_unit_test(test_peer_down_without_leases_campaigns_at_once),
        cmocka_unit_test(test_peer_down_retries_failed_rounds_quickly_until_a_leader_is_heard),
        cmocka_unit_test(test_peer_down_of_a_follower_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
