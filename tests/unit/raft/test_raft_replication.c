/* Specification tests of log replication (Raft paper §5.3, §5.4.2;
 * dissertation §10.2.1): the follower's consistency check, truncation of
 * conflicting suffixes, acknowledgement only of durable entries, the
 * leader's window of in-flight APPENDs, probe and replicate states, fast
 * backtracking, heartbeats and commitment by the current term only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/raft/fixture.h"

static struct raft_entry ents_of(uint64_t term)
{
    return (struct raft_entry){.term = term, .type = RAFT_ENTRY_NORMAL};
}

/* Node 1 as a follower of node 2 in term 2 with log [1:t1 cfg, 2:t2]. */
static void follower_setup(struct fx *fx)
{
    fx_init(fx, 3, 3);
    static struct raft_entry e[1];
    e[0] = ents_of(2);
    struct raft_msg a = fx_append_msg(2, 1, 2, 1, 1, 1, e);
    fx_recv(fx, &a);
    fx_drop_all(fx);
}

static void test_follower_rejects_append_with_mismatched_prev_term(void **state)
{
    struct fx fx;
    follower_setup(&fx);
    struct raft_msg a = fx_append_msg(2, 1, 3, 2, 3, 0, NULL);
    fx_recv(&fx, &a);
    struct raft_msg r;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_APPEND_RESP, &r));
    assert_true(r.append_resp.reject);
    assert_int_equal(r.append_resp.index, 2);
    /* hint: our last entry of a term <= 3 is index 2 (term 2) */
    assert_int_equal(r.append_resp.hint_index, 2);
    assert_int_equal(r.append_resp.hint_term, 2);
    assert_int_equal(raft_last_index(fx.nodes[0].r), 2);
    fx_destroy(&fx);
}

static void test_follower_rejects_append_beyond_its_last_index(void **state)
{
    struct fx fx;
    follower_setup(&fx);
    struct raft_msg a = fx_append_msg(2, 1, 2, 7, 2, 0, NULL);
    fx_recv(&fx, &a);
    struct raft_msg r;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_APPEND_RESP, &r));
    assert_true(r.append_resp.reject);
    assert_int_equal(r.append_resp.index, 7);
    assert_int_equal(r.append_resp.hint_index, 2);
    fx_destroy(&fx);
}

/* Entries whose terms go down, pass the message's term, are 0 or fall
 * below prev_term cannot come from a leader: they are dropped unanswered,
 * and the log stays one the node can restart from. */
static void test_follower_drops_append_with_impossible_entry_terms(void **state)
{
    static const uint64_t bad[][3] = {
        {3, 2, 0}, /* decreasing */
        {4, 0, 0}, /* newer than the leader's term (3) */
        {1, 0, 0}, /* older than prev_term (2) */
    };
    for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        struct fx fx;
        follower_setup(&fx);
        struct raft_entry e[2] = {ents_of(bad[c][0]), ents_of(bad[c][1])};
        uint32_t n = bad[c][1] ? 2 : 1;
        struct raft_msg a = fx_append_msg(2, 1, 3, 2, 2, n, e);
        fx_recv(&fx, &a);
        assert_int_equal(fx_count(&fx, 1, 2, RAFT_MSG_APPEND_RESP), 0);
        assert_int_equal(raft_last_index(fx.nodes[0].r), 2);
        /* a well-formed one still goes through */
        e[0] = ents_of(3);
        a = fx_append_msg(2, 1, 3, 2, 2, 1, e);
        fx_recv(&fx, &a);
        assert_int_equal(raft_last_index(fx.nodes[0].r), 3);
        fx_crash(&fx, 1);
        fx_start(&fx, 1, 3); /* aborts if raft_new refuses the log */
        assert_int_equal(raft_last_index(fx.nodes[0].r), 3);
        fx_destroy(&fx);
    }
}

static void test_follower_truncates_conflicting_suffix_and_reports_it(void **state)
{
    struct fx fx;
    follower_setup(&fx);
    struct raft_entry e[2] = {ents_of(3), ents_of(3)};
    struct raft_msg a = fx_append_msg(3, 1, 3, 1, 1, 2, e);
    fx_recv(&fx, &a);
    struct fx_node *nd = &fx.nodes[0];
    assert_int_equal(nd->last.truncate_from, 2);
    assert_int_equal(nd->last.entries_index, 2);
    assert_int_equal(nd->last.n_entries, 2);
    assert_int_equal(raft_term_at(nd->r, 2), 3);
    assert_int_equal(raft_last_index(nd->r), 3);
    fx_destroy(&fx);
}

static void test_follower_keeps_matching_entries_of_a_duplicate_append(void **state)
{
    struct fx fx;
    follower_setup(&fx);
    struct raft_entry e[1] = {ents_of(2)};
    struct raft_msg a = fx_append_msg(2, 1, 2, 1, 1, 1, e);
    fx_recv(&fx, &a);
    assert_int_equal(fx.nodes[0].last.persist_id, 0);
    struct raft_msg r;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_APPEND_RESP, &r));
    assert_false(r.append_resp.reject);
    assert_int_equal(r.append_resp.index, 2);
    fx_destroy(&fx);
}

static void test_follower_acknowledges_only_after_persist(void **state)
{
    struct fx fx;
    follower_setup(&fx);
    fx.nodes[0].manual_persist = true;
    struct raft_entry e[1] = {ents_of(2)};
    struct raft_msg a = fx_append_msg(2, 1, 2, 2, 2, 1, e);
    a.append.commit = 3;
    fx_recv(&fx, &a);
    assert_int_not_equal(fx.nodes[0].last.persist_id, 0);
    assert_int_equal(fx_count(&fx, 1, 2, RAFT_MSG_APPEND_RESP), 0);
    /* committed but not durable here: not applied yet */
    assert_int_equal(raft_commit_index(fx.nodes[0].r), 3);
    assert_true(fx.nodes[0].applied < 3);
    fx_persist(&fx, &fx.nodes[0]);
    assert_int_equal(fx_count(&fx, 1, 2, RAFT_MSG_APPEND_RESP), 1);
    assert_int_equal(fx.nodes[0].applied, 3);
    fx_destroy(&fx);
}

static void test_follower_commit_is_capped_at_last_new_entry(void **state)
{
    struct fx fx;
    follower_setup(&fx);
    struct raft_msg a = fx_append_msg(2, 1, 2, 2, 2, 0, NULL);
    a.append.commit = 50;
    fx_recv(&fx, &a);
    assert_int_equal(raft_commit_index(fx.nodes[0].r), 2);
    fx_destroy(&fx);
}

static void test_follower_advances_commit_from_heartbeat(void **state)
{
    struct fx fx;
    follower_setup(&fx);
    struct raft_msg h = fx_msg(RAFT_MSG_HEARTBEAT, 2, 1, 2);
    h.heartbeat.commit = 2;
    h.heartbeat.seq = 9;
    fx_recv(&fx, &h);
    assert_int_equal(raft_commit_index(fx.nodes[0].r), 2);
    assert_int_equal(fx.nodes[0].applied, 2);
    struct raft_msg r;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_HEARTBEAT_RESP, &r));
    assert_int_equal(r.heartbeat_resp.seq, 9);
    fx_destroy(&fx);
}

static void test_proposal_on_follower_is_refused(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    assert_int_equal(fx_propose(&fx, &fx.nodes[0], "x"), ERR_NOTLEADER);
    fx_destroy(&fx);
}

static void test_batch_of_proposals_travels_in_one_append(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    struct raft_entry e[64];
    for (int i = 0; i < 64; i++) {
        e[i] = (struct raft_entry){.data = (const uint8_t *)"v", .len = 1};
    }
    struct raft_event ev = {.type = RAFT_EVENT_PROPOSE};
    ev.propose.entries = e;
    ev.propose.n = 64;
    uint64_t last = raft_last_index(l->r);
    assert_int_equal(fx_step(&fx, l, &ev), 0);
    assert_int_equal(l->last.proposed_index, last + 1);
    assert_int_equal(l->last.proposed_term, raft_term(l->r));
    assert_int_equal(l->last.n_entries, 64);
    struct raft_msg m;
    assert_true(fx_take(&fx, l->id, 0, RAFT_MSG_APPEND, &m));
    assert_int_equal(m.append.n_entries, 64);
    assert_int_equal(m.append.prev_index, last);
    fx_destroy(&fx);
}

/* Elects a leader of three under o, which proposes five entries of s at
 * once with nothing delivered; *f is one follower. */
static struct fx_node *elect_and_propose_five(struct fx *fx,
                                              const struct raft_options *o,
                                              const char *s, uint64_t *f)
{
    fx_init_opts(fx, 3, 3, o);
    struct fx_node *l = fx_elect(fx);
    fx_drop_all(fx);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fx_propose(fx, l, s), 0);
    }
    *f = l->id == 1 ? 2 : 1;
    return l;
}

static void test_leader_pipelines_within_the_inflight_window(void **state)
{
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .max_inflight_msgs = 2};
    struct fx fx;
    uint64_t f;
    struct fx_node *l = elect_and_propose_five(&fx, &o, "x", &f);
    assert_int_equal(fx_count(&fx, l->id, f, RAFT_MSG_APPEND), 2);
    /* an acknowledgement opens the window again */
    fx_deliver_all(&fx);
    assert_int_equal(raft_last_index(fx_node(&fx, f)->r), raft_last_index(l->r));
    fx_destroy(&fx);
}

static void test_leader_bounds_inflight_bytes(void **state)
{
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .max_inflight_bytes = 10};
    struct fx fx;
    uint64_t f;
    struct fx_node *l = elect_and_propose_five(&fx, &o, "eightbyt", &f);
    assert_int_equal(fx_count(&fx, l->id, f, RAFT_MSG_APPEND), 2);
    fx_destroy(&fx);
}

static void test_follower_in_probe_state_gets_one_append_at_a_time(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t f = l->id == 1 ? 2 : 1;
    /* a rejection puts the follower back in probe state */
    struct raft_msg r = fx_msg(RAFT_MSG_APPEND_RESP, f, l->id, raft_term(l->r));
    r.append_resp.reject = true;
    r.append_resp.index = raft_last_index(l->r) + 1;
    r.append_resp.hint_index = raft_last_index(l->r);
    fx_drop_all(&fx);
    fx_recv(&fx, &r);
    assert_int_equal(fx_count(&fx, l->id, f, RAFT_MSG_APPEND), 1);
    for (int i = 0; i < 3; i++) {
        fx_propose(&fx, l, "x");
    }
    assert_int_equal(fx_count(&fx, l->id, f, RAFT_MSG_APPEND), 1);
    fx_destroy(&fx);
}

/* Node 1 restarted with [1:t1 cfg, 2..1+n: t2] in term `term`, made
 * leader of term + 1 by node 2's vote (PreVote off). */
static struct fx_node *leader_with_log(struct fx *fx, uint32_t n,
                                       uint64_t term)
{
    memset(fx, 0, sizeof(*fx));
    fx->n = 3;
    fx->now = 1000;
    fx->opts = (struct raft_options){.election_timeout_ms = 100,
                                     .heartbeat_ms = 20, .no_pre_vote = true};
    static uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
    struct fx_node *n1 = &fx->nodes[0];
    n1->log = calloc(64, sizeof(*n1->log));
    n1->log_cap = 64;
    n1->log[0] = fx_config_entry(3, cfg);
    for (uint32_t i = 0; i < n; i++) {
        n1->log[1 + i] = ents_of(2);
    }
    n1->log_start = 1;
    n1->log_n = 1 + n;
    n1->term = term;
    fx_start(fx, 1, 3);
    fx_start(fx, 2, 3);
    fx_start(fx, 3, 3);
    for (int i = 0; i < 40 && raft_role(n1->r) != RAFT_CANDIDATE; i++) {
        fx->now += 10;
        fx_tick(fx, n1);
    }
    fx_drop_all(fx);
    struct raft_msg v = fx_msg(RAFT_MSG_VOTE_RESP, 2, 1, term + 1);
    v.vote_resp.granted = true;
    fx_recv(fx, &v);
    assert_int_equal(raft_role(n1->r), RAFT_LEADER);
    return n1;
}

/* An acknowledgement past the leader's log comes from no follower of its
 * term: taken as a match it once sent snapshots in an endless loop. */
static void test_leader_ignores_acknowledgement_past_its_log(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    assert_non_null(l);
    uint64_t f = l->id == 1 ? 2 : 1, match, next;
    uint64_t last = raft_last_index(l->r);
    assert_true(raft_progress(l->r, f, &match, &next));
    assert_int_equal(match, last);
    struct raft_msg r = fx_msg(RAFT_MSG_APPEND_RESP, f, l->id,
                               raft_term(l->r));
    r.append_resp.index = last + 5;
    fx_recv(&fx, &r);
    assert_true(raft_progress(l->r, f, &match, &next));
    assert_int_equal(match, last);
    assert_int_equal(next, last + 1);
    fx_run(&fx, 100);
    assert_int_equal(fx.n_sent[RAFT_MSG_SNAPSHOT], 0);
    fx_destroy(&fx);
}

/* A 3-node group whose leader's follower *f holds all of its log, up to
 * *m. */
static struct fx_node *settled_leader(struct fx *fx, uint64_t *f,
                                      uint64_t *m)
{
    fx_init(fx, 3, 3);
    struct fx_node *l = fx_elect(fx);
    assert_non_null(l);
    fx_run(fx, 50);
    uint64_t match, next;
    *f = l->id == 1 ? 2 : 1;
    *m = raft_last_index(l->r);
    assert_true(raft_progress(l->r, *f, &match, &next));
    assert_int_equal(match, *m);
    return l;
}

/* A follower that refuses a probe at what it acknowledged (which no honest
 * follower does, short of losing its log) is probed again at the
 * heartbeat's pace, not at once: answer and probe would otherwise chase
 * each other as fast as the network goes. */
static void test_leader_paces_probes_refused_below_the_match(void **state)
{
    struct fx fx;
    uint64_t f, m, match, next;
    struct fx_node *l = settled_leader(&fx, &f, &m);
    uint64_t term = raft_term(l->r);
    assert_int_equal(fx_propose(&fx, l, "a"), 0);
    assert_int_equal(fx_propose(&fx, l, "b"), 0);
    fx_drop_all(&fx);
    struct raft_msg r = fx_msg(RAFT_MSG_APPEND_RESP, f, l->id, term);
    r.append_resp.reject = true;
    r.append_resp.index = m + 1; /* past the match: probing starts */
    r.append_resp.hint_index = m + 1;
    fx_recv(&fx, &r);
    struct raft_msg probe;
    assert_true(fx_take(&fx, l->id, f, RAFT_MSG_APPEND, &probe));
    assert_int_equal(probe.append.prev_index, m);
    fx_drop_all(&fx);
    /* refuses the match itself, claiming an older term there (a hint
     * below the match would be a lost log, handled apart) */
    r.append_resp.index = m;
    r.append_resp.hint_index = m;
    r.append_resp.hint_term = raft_term_at(l->r, m) - 1;
    fx_recv(&fx, &r);
    assert_int_equal(fx_count(&fx, l->id, f, RAFT_MSG_APPEND), 0);
    assert_true(raft_progress(l->r, f, &match, &next));
    assert_int_equal(match, m);
    fx_run(&fx, 100); /* heartbeats go on, and the group with them */
    assert_int_equal(raft_role(l->r), RAFT_LEADER);
    assert_int_equal(raft_commit_index(l->r), m + 2);
    fx_destroy(&fx);
}

/* A follower that no longer holds what it acknowledged (lost_log) is
 * probed from what it holds at the next heartbeat answer: one that
 * acknowledges and disowns the same entries over and over (a lying
 * member) must not make a message storm of it. */
static void test_leader_probes_a_lost_log_at_the_heartbeat_pace(void **state)
{
    struct fx fx;
    uint64_t f, m, match, next;
    struct fx_node *l = settled_leader(&fx, &f, &m);
    fx_drop_all(&fx);
    struct raft_msg r = fx_msg(RAFT_MSG_APPEND_RESP, f, l->id,
                               raft_term(l->r));
    r.append_resp.reject = true;
    r.append_resp.index = m;
    r.append_resp.hint_index = m - 1; /* holds less than it acknowledged */
    fx_recv(&fx, &r);
    assert_true(raft_progress(l->r, f, &match, &next));
    assert_int_equal(match, m - 1);
    assert_int_equal(fx_count(&fx, l->id, f, RAFT_MSG_APPEND), 0);
    fx_run(&fx, 100); /* a heartbeat round later it is probed and caught up */
    assert_true(raft_progress(l->r, f, &match, &next));
    assert_int_equal(match, m);
    fx_destroy(&fx);
}

static void test_leader_skips_a_whole_conflicting_term_on_rejection(void **state)
{
    /* leader [1:t1, 2:t2, 3:t2, 4:t2, 5:t3 no-op]; follower 2 holds
     * [1:t1, 2..4: t1'] and says so: one round trip brings next to 2 */
    struct fx fx;
    struct fx_node *l = leader_with_log(&fx, 3, 2);
    struct raft_msg a;
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_APPEND, &a));
    assert_int_equal(a.append.prev_index, 4);
    struct raft_msg r = fx_msg(RAFT_MSG_APPEND_RESP, 2, 1, 3);
    r.append_resp.reject = true;
    r.append_resp.index = 4;
    r.append_resp.hint_index = 4;
    r.append_resp.hint_term = 1;
    fx_recv(&fx, &r);
    uint64_t match, next;
    assert_true(raft_progress(l->r, 2, &match, &next));
    assert_int_equal(next, 2);
    assert_true(fx_take(&fx, 1, 2, RAFT_MSG_APPEND, &a));
    assert_int_equal(a.append.prev_index, 1);
    assert_int_equal(a.append.n_entries, 4);
    fx_destroy(&fx);
}

static void test_leader_ignores_rejection_of_an_older_probe(void **state)
{
    struct fx fx;
    struct fx_node *l = leader_with_log(&fx, 3, 2);
    struct raft_msg r = fx_msg(RAFT_MSG_APPEND_RESP, 2, 1, 3);
    r.append_resp.reject = true;
    r.append_resp.index = 3; /* we probed at 4: this answers something else */
    r.append_resp.hint_index = 1;
    r.append_resp.hint_term = 1;
    fx_recv(&fx, &r);
    uint64_t match, next;
    assert_true(raft_progress(l->r, 2, &match, &next));
    assert_int_equal(next, 5);
    fx_destroy(&fx);
}

static void test_leader_commits_only_current_term_entries_by_counting(void **state)
{
    /* Figure 8 (Raft paper §5.4.2): node 1 holds [1:t1, 2:t2] in term 3
     * and becomes leader of term 4; node 2 acknowledging index 2 does not
     * commit it, acknowledging the term-4 no-op does. */
    struct fx fx;
    struct fx_node *n1 = leader_with_log(&fx, 1, 3);
    assert_int_equal(raft_last_index(n1->r), 3);
    struct raft_msg a = fx_msg(RAFT_MSG_APPEND_RESP, 2, 1, 4);
    a.append_resp.index = 2;
    fx_recv(&fx, &a);
#ifndef RAFT_BUG_COMMIT_OLD_TERM
    assert_int_equal(raft_commit_index(n1->r), 0);
#endif
    a.append_resp.index = 3;
    fx_recv(&fx, &a);
    assert_int_equal(raft_commit_index(n1->r), 3);
    fx_destroy(&fx);
}

static void test_leader_counts_its_own_log_only_once_persisted(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t f = l->id == 1 ? 2 : 1;
    uint64_t other = 6 - l->id - f;
    fx_isolate(&fx, other, true);
    l->manual_persist = true;
    uint64_t commit = raft_commit_index(l->r);
    fx_propose(&fx, l, "x");
    /* deliver the append to f and its acknowledgement back */
    fx_deliver_all(&fx);
    assert_int_equal(raft_commit_index(l->r), commit);
    fx_persist(&fx, l);
    assert_int_equal(raft_commit_index(l->r), commit + 1);
    assert_int_equal(l->applied, commit + 1);
    fx_destroy(&fx);
}

static void test_leader_sends_heartbeats_with_commit_capped_at_match(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t f = l->id == 1 ? 2 : 1;
    fx_isolate(&fx, f, true);
    fx_propose(&fx, l, "x");
    fx_run(&fx, 30);
    fx_drop_all(&fx);
    fx_wait(&fx, 30);
    struct raft_msg h;
    assert_true(fx_take(&fx, l->id, f, RAFT_MSG_HEARTBEAT, &h));
    assert_true(h.heartbeat.commit < raft_commit_index(l->r));
    fx_destroy(&fx);
}

static void test_lost_appends_are_resent_after_a_heartbeat(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    for (int i = 0; i < 5; i++) {
        fx_propose(&fx, l, "x");
        fx_drop_all(&fx); /* every APPEND is lost */
    }
    fx_run(&fx, 200);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(fx.nodes[i].applied, raft_last_index(l->r));
    }
    fx_destroy(&fx);
}

/* A follower restarted on an emptied dir, with the same id: the leader's
 * match for it is past its log. A heartbeat (no write follows) or the
 * next append reveals it, and the leader sends the log again. */
static void wipe_follower_and_catch_up(bool write_after)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    for (int i = 0; i < 5; i++) {
        fx_propose(&fx, l, "x");
    }
    fx_run(&fx, 100);
    uint64_t f = l->id % 3 + 1;
    struct fx_node *nd = fx_node(&fx, f);
    assert_int_equal(nd->applied, raft_last_index(l->r));
    fx_crash(&fx, f);
    while (nd->log_n > 0) {
        raft_buf_release(nd->log[--nd->log_n].buf);
    }
    nd->term = nd->vote = 0;
    memset(&nd->snap, 0, sizeof(nd->snap));
    fx_start(&fx, f, 3);
    if (write_after) {
        fx_propose(&fx, l, "y");
    }
    fx_run(&fx, 200);
    assert_true(raft_role(l->r) == RAFT_LEADER);
    assert_int_equal(nd->applied, raft_last_index(l->r));
    assert_int_equal(raft_last_index(nd->r), raft_last_index(l->r));
    fx_destroy(&fx);
}

static void test_follower_that_lost_its_log_gets_it_again(void **state)
{
    wipe_follower_and_catch_up(false);
    wipe_follower_and_catch_up(true);
}

static void test_every_node_applies_the_same_entries_in_order(void **state)
{
    struct fx fx;
    fx_init(&fx, 5, 5);
    for (int round = 0; round < 5; round++) {
        struct fx_node *l = fx_elect(&fx);
        assert_non_null(l);
        for (int i = 0; i < 5; i++) {
            fx_propose(&fx, l, "x");
        }
        fx_run(&fx, 50);
        fx_crash(&fx, l->id);
        fx_run(&fx, 50);
        fx_start(&fx, l->id, 5);
    }
    fx_run(&fx, 500);
    struct fx_node *l = fx_leader(&fx);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(fx.nodes[i].applied, l->applied);
        for (uint64_t k = 1; k <= l->applied; k++) {
            assert_int_equal(fx.nodes[i].applied_terms[k], l->applied_terms[k]);
        }
    }
    fx_destroy(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follower_rejects_append_with_mismatched_prev_term),
        cmocka_unit_test(test_follower_that_lost_its_log_gets_it_again),
        cmocka_unit_test(test_follower_rejects_append_beyond_its_last_index),
        cmocka_unit_test(test_follower_drops_append_with_impossible_entry_terms),
        cmocka_unit_test(test_leader_ignores_acknowledgement_past_its_log),
        cmocka_unit_test(test_leader_paces_probes_refused_below_the_match),
        cmocka_unit_test(test_leader_probes_a_lost_log_at_the_heartbeat_pace),
        cmocka_unit_test(test_follower_truncates_conflicting_suffix_and_reports_it),
        cmocka_unit_test(test_follower_keeps_matching_entries_of_a_duplicate_append),
        cmocka_unit_test(test_follower_acknowledges_only_after_persist),
        cmocka_unit_test(test_follower_commit_is_capped_at_last_new_entry),
        cmocka_unit_test(test_follower_advances_commit_from_heartbeat),
        cmocka_unit_test(test_proposal_on_follower_is_refused),
        cmocka_unit_test(test_batch_of_proposals_travels_in_one_append),
        cmocka_unit_test(test_leader_pipelines_within_the_inflight_window),
        cmocka_unit_test(test_leader_bounds_inflight_bytes),
        cmocka_unit_test(test_follower_in_probe_state_gets_one_append_at_a_time),
        cmocka_unit_test(test_leader_skips_a_whole_conflicting_term_on_rejection),
        cmocka_unit_test(test_leader_ignores_rejection_of_an_older_probe),
        cmocka_unit_test(test_leader_commits_only_current_term_entries_by_counting),
        cmocka_unit_test(test_leader_counts_its_own_log_only_once_persisted),
        cmocka_unit_test(test_leader_sends_heartbeats_with_commit_capped_at_match),
        cmocka_unit_test(test_lost_appends_are_resent_after_a_heartbeat),
        cmocka_unit_test(test_every_node_applies_the_same_entries_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
