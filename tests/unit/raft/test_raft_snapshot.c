/* Specification tests of snapshots (§5): compaction after a snapshot is
 * taken, InstallSnapshot in chunks to followers that need compacted
 * entries, the install handshake on the receiving side, restart from a
 * snapshot, and the snapshot suggestion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/raft/fixture.h"

static void take_snapshot(struct fx *fx, struct fx_node *nd, uint64_t size)
{
    struct raft_event ev = {.type = RAFT_EVENT_SNAPSHOT_TAKEN};
    ev.snapshot.index = nd->applied;
    ev.snapshot.term = raft_term_at(nd->r, nd->applied);
    ev.snapshot.size = size;
    ev.snapshot.config = *raft_config(nd->r);
    assert_int_equal(fx_step(fx, nd, &ev), 0);
}

static struct fx_node *lagging_cluster(struct fx *fx, uint64_t *lag)
{
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .snapshot_chunk_bytes = 1000, .seed = 3};
    fx_init_opts(fx, 3, 3, &o);
    struct fx_node *l = fx_elect(fx);
    *lag = l->id == 3 ? 2 : 3;
    fx_isolate(fx, *lag, true);
    for (int i = 0; i < 20; i++) {
        fx_propose(fx, l, "entry");
        fx_run(fx, 20);
    }
    fx_run(fx, 100);
    return fx_leader(fx);
}

static void test_snapshot_taken_releases_the_log_prefix(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    for (int i = 0; i < 10; i++) {
        fx_propose(&fx, l, "x");
    }
    fx_run(&fx, 100);
    uint64_t applied = l->applied;
    take_snapshot(&fx, l, 10);
    assert_int_equal(raft_snapshot_index(l->r), applied);
    assert_int_equal(raft_first_index(l->r), applied + 1);
    assert_null(raft_entry_at(l->r, applied));
    assert_int_equal(raft_term_at(l->r, applied), raft_term(l->r));
    fx_destroy(&fx);
}

static void test_snapshot_beyond_applied_index_is_refused(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    struct raft_event ev = {.type = RAFT_EVENT_SNAPSHOT_TAKEN};
    ev.snapshot.index = l->applied + 5;
    ev.snapshot.term = raft_term(l->r);
    assert_int_equal(fx_step(&fx, l, &ev), ERR_INVALID);
    fx_destroy(&fx);
}

static void test_trailing_entries_stay_behind_a_snapshot(void **state)
{
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .snapshot_trailing = 3};
    struct fx fx;
    fx_init_opts(&fx, 3, 3, &o);
    struct fx_node *l = fx_elect(&fx);
    for (int i = 0; i < 10; i++) {
        fx_propose(&fx, l, "x");
    }
    fx_run(&fx, 100);
    take_snapshot(&fx, l, 10);
    assert_int_equal(raft_first_index(l->r), l->applied - 2);
    fx_destroy(&fx);
}

static void test_lagging_follower_receives_snapshot_in_chunks(void **state)
{
    struct fx fx;
    uint64_t lag;
    struct fx_node *l = lagging_cluster(&fx, &lag);
    take_snapshot(&fx, l, 4500);
    fx_isolate(&fx, lag, false);
    fx.n_sent[RAFT_MSG_SNAPSHOT] = 0;
    fx_run(&fx, 300);
    assert_int_equal(fx.n_sent[RAFT_MSG_SNAPSHOT], 5);
    struct fx_node *f = fx_node(&fx, lag);
    assert_int_equal(raft_snapshot_index(f->r), raft_snapshot_index(l->r));
    assert_int_equal(raft_commit_index(f->r), raft_commit_index(l->r));
    assert_int_equal(f->applied, l->applied);
    /* replication resumes with entries after the snapshot */
    fx_propose(&fx, l, "after");
    fx_run(&fx, 100);
    assert_int_equal(f->applied, l->applied);
    fx_destroy(&fx);
}

static void test_follower_acknowledges_snapshot_only_after_install(void **state)
{
    struct fx fx;
    uint64_t lag;
    struct fx_node *l = lagging_cluster(&fx, &lag);
    take_snapshot(&fx, l, 500);
    fx_isolate(&fx, lag, false);
    fx_drop_all(&fx);
    fx_wait(&fx, 20); /* heartbeat -> reject -> probe -> snapshot */
    for (int i = 0; i < 50; i++) {
        struct raft_msg m;
        if (fx_take(&fx, l->id, lag, RAFT_MSG_SNAPSHOT, &m)) {
            struct fx_node *f = fx_node(&fx, lag);
            fx_recv(&fx, &m);
            assert_true(f->install_pending);
            assert_true(f->last.install_snapshot);
            assert_int_equal(f->last.n_committed, 0);
            assert_int_equal(fx_count(&fx, lag, 0, RAFT_MSG_SNAPSHOT_RESP), 0);
            fx_install(&fx, f);
            assert_true(fx_take(&fx, lag, l->id, RAFT_MSG_SNAPSHOT_RESP, &m));
            assert_true(m.snapshot_resp.done);
            fx_destroy(&fx);
            return;
        }
        fx_deliver_one(&fx);
    }
    fail_msg("no snapshot sent");
}

static void test_new_learner_behind_a_snapshot_gets_the_snapshot(void **state)
{
    /* regression: sim seed 1 (probe at index 1 behind a compacted log) */
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .snapshot_chunk_bytes = 1000,
                             .snapshot_trailing = 2};
    struct fx fx;
    fx_init_opts(&fx, 3, 2, &o);
    struct fx_node *l = fx_elect(&fx);
    for (int i = 0; i < 10; i++) {
        fx_propose(&fx, l, "x");
    }
    fx_run(&fx, 100);
    take_snapshot(&fx, l, 100);
    struct raft_event ev = {.type = RAFT_EVENT_CHANGE};
    ev.change.op = RAFT_CHANGE_ADD_LEARNER;
    ev.change.id = 3;
    assert_int_equal(fx_step(&fx, l, &ev), 0);
    fx_run(&fx, 500);
    struct fx_node *n3 = fx_node(&fx, 3);
    assert_int_equal(n3->applied, l->applied);
    assert_non_null(raft_config_find(raft_config(n3->r), 3));
    assert_int_equal(raft_config_find(raft_config(l->r), 3)->role, RAFT_VOTER);
    fx_destroy(&fx);
}

static void test_install_update_hands_out_no_committed_entries(void **state)
{
    /* regression: sim seed 17 (entries below the snapshot applied on top) */
    struct fx fx;
    uint64_t lag;
    struct fx_node *l = lagging_cluster(&fx, &lag);
    struct fx_node *f = fx_node(&fx, lag);
    take_snapshot(&fx, l, 100);
    /* the follower holds entries, not yet durable, under a commit index */
    f->manual_persist = true;
    uint64_t last = raft_last_index(f->r);
    struct raft_entry ents[2] = {
        {.term = raft_term(l->r), .type = RAFT_ENTRY_NORMAL},
        {.term = raft_term(l->r), .type = RAFT_ENTRY_NORMAL}};
    struct raft_msg a = fx_append_msg(l->id, lag, raft_term(l->r), last,
                                      raft_term_at(f->r, last), 2, ents);
    a.append.commit = last + 2;
    fx_recv(&fx, &a);
    assert_int_equal(raft_commit_index(f->r), last + 2);
    assert_int_equal(f->applied, last);
    fx_drop_all(&fx);
    struct raft_msg s = fx_msg(RAFT_MSG_SNAPSHOT, l->id, lag, raft_term(l->r));
    s.snapshot.meta.index = raft_snapshot_index(l->r);
    s.snapshot.meta.term = raft_term_at(l->r, s.snapshot.meta.index);
    s.snapshot.meta.size = 100;
    s.snapshot.meta.config = *raft_config(l->r);
    s.snapshot.len = 100;
    s.snapshot.last = true;
    s.snapshot.data = fx.snapshot_bytes;
    fx_recv(&fx, &s); /* the fixture aborts on entries beside an install */
    assert_true(f->install_pending);
    fx_persist(&fx, f);
    assert_int_equal(f->last.n_committed, 0);
    assert_int_equal(f->applied, last);
    fx_install(&fx, f);
    assert_int_equal(f->applied, s.snapshot.meta.index);
    fx_destroy(&fx);
}

static void test_follower_holding_the_snapshot_index_keeps_its_later_entries(void **state)
{
    /* regression: sim seed 12347649. The follower has acknowledged
     * entries after the snapshot's index; a snapshot arriving late (a
     * reordered rejection sent the leader back to probing below its
     * compacted log) must not make it drop them. */
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    for (int i = 0; i < 6; i++) {
        fx_propose(&fx, l, "x");
    }
    fx_run(&fx, 50);
    uint64_t f = l->id == 1 ? 2 : 1;
    struct fx_node *nf = fx_node(&fx, f);
    uint64_t last = raft_last_index(nf->r);
    uint64_t snap = last - 3;
    struct raft_msg s = fx_msg(RAFT_MSG_SNAPSHOT, l->id, f, raft_term(l->r));
    s.snapshot.meta.index = snap;
    s.snapshot.meta.term = raft_term_at(l->r, snap);
    s.snapshot.meta.size = 10;
    s.snapshot.meta.config = *raft_config(l->r);
    s.snapshot.len = 10;
    s.snapshot.last = true;
    s.snapshot.data = fx.snapshot_bytes;
    /* make its commit index lag behind the snapshot */
    fx_crash(&fx, f);
    fx_start(&fx, f, 3);
    assert_true(raft_commit_index(nf->r) < snap);
    fx_drop_all(&fx);
    fx_recv(&fx, &s);
    assert_false(nf->install_pending);
    assert_int_equal(raft_last_index(nf->r), last);
    assert_int_equal(raft_commit_index(nf->r), snap);
    struct raft_msg r;
    assert_true(fx_take(&fx, f, l->id, RAFT_MSG_SNAPSHOT_RESP, &r));
    assert_true(r.snapshot_resp.done);
    fx_destroy(&fx);
}

static void test_node_restarts_from_snapshot_and_later_entries(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    for (int i = 0; i < 5; i++) {
        fx_propose(&fx, l, "x");
    }
    fx_run(&fx, 100);
    uint64_t f = l->id == 1 ? 2 : 1;
    struct fx_node *nf = fx_node(&fx, f);
    uint64_t snap = nf->applied - 2;
    struct raft_event ev = {.type = RAFT_EVENT_SNAPSHOT_TAKEN};
    ev.snapshot.index = snap;
    ev.snapshot.term = raft_term_at(nf->r, snap);
    ev.snapshot.config = *raft_config(nf->r);
    assert_int_equal(fx_step(&fx, nf, &ev), 0);
    nf->snap = ev.snapshot;
    /* storage drops the prefix too */
    uint64_t drop = snap - nf->log_start + 1;
    for (uint64_t i = 0; i < drop; i++) {
        raft_buf_release(nf->log[i].buf);
    }
    memmove(nf->log, nf->log + drop, (nf->log_n - drop) * sizeof(*nf->log));
    nf->log_n -= drop;
    nf->log_start = snap + 1;
    uint64_t last = raft_last_index(nf->r);
    fx_crash(&fx, f);
    fx_start(&fx, f, 3);
    assert_int_equal(raft_snapshot_index(nf->r), snap);
    assert_int_equal(raft_last_index(nf->r), last);
    fx_run(&fx, 200);
    assert_int_equal(nf->applied, l->applied);
    fx_destroy(&fx);
}

static void test_snapshot_is_suggested_after_threshold_entries(void **state)
{
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .snapshot_threshold = 5};
    struct fx fx;
    fx_init_opts(&fx, 1, 1, &o);
    fx_run(&fx, 20);
    struct fx_node *l = &fx.nodes[0];
    assert_int_equal(l->n_suggested, 0);
    for (int i = 0; i < 5; i++) {
        fx_propose(&fx, l, "x");
    }
    assert_true(l->n_suggested > 0);
    fx_destroy(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_taken_releases_the_log_prefix),
        cmocka_unit_test(test_snapshot_beyond_applied_index_is_refused),
        cmocka_unit_test(test_trailing_entries_stay_behind_a_snapshot),
        cmocka_unit_test(test_lagging_follower_receives_snapshot_in_chunks),
        cmocka_unit_test(test_follower_acknowledges_snapshot_only_after_install),
        cmocka_unit_test(test_new_learner_behind_a_snapshot_gets_the_snapshot),
        cmocka_unit_test(test_install_update_hands_out_no_committed_entries),
        cmocka_unit_test(test_follower_holding_the_snapshot_index_keeps_its_later_entries),
        cmocka_unit_test(test_node_restarts_from_snapshot_and_later_entries),
        cmocka_unit_test(test_snapshot_is_suggested_after_threshold_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
