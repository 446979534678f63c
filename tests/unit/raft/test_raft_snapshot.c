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

/* A leader and a follower `lag` that missed 20 entries while isolated
 * (still isolated on return); chunks of 1000 bytes, `window` of them in
 * flight (0: the default). */
static struct fx_node *lagging_cluster_window(struct fx *fx, uint64_t *lag,
                                              uint32_t window)
{
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .snapshot_chunk_bytes = 1000,
                             .snapshot_inflight_chunks = window, .seed = 3};
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

static struct fx_node *lagging_cluster(struct fx *fx, uint64_t *lag)
{
    return lagging_cluster_window(fx, lag, 0);
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

/* ---- the chunk window ------------------------------------------------ */

/* A chunk of snapshot 50/2 (size bytes) from `from` in `term` to node 2. */
static struct raft_msg chunk_msg(struct fx *fx, uint64_t from, uint64_t term,
                                 uint64_t off, uint64_t size)
{
    struct raft_msg m = fx_msg(RAFT_MSG_SNAPSHOT, from, 2, term);
    m.snapshot.meta.index = 50;
    m.snapshot.meta.term = 2;
    m.snapshot.meta.size = size;
    m.snapshot.meta.config = *raft_config(fx_node(fx, 2)->r);
    m.snapshot.offset = off;
    m.snapshot.len = (uint32_t)(size - off < 1000 ? size - off : 1000);
    m.snapshot.last = off + m.snapshot.len == size;
    m.snapshot.data = fx->snapshot_bytes;
    return m;
}

/* Steps the chunk into node 2 and returns its answer to the sender. */
static struct raft_msg_snapshot_resp chunk_answer(struct fx *fx,
                                                  struct raft_msg m)
{
    fx_recv(fx, &m);
    struct raft_msg r;
    assert_true(fx_take(fx, 2, m.from, RAFT_MSG_SNAPSHOT_RESP, &r));
    return r.snapshot_resp;
}

static void test_follower_takes_snapshot_chunks_in_order_only(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *f = fx_node(&fx, 2);
    struct raft_msg_snapshot_resp a = chunk_answer(&fx, chunk_msg(&fx, 1, 2, 0, 3000));
    assert_int_equal(f->last.n_chunks, 1);
    assert_int_equal(a.next_offset, 1000);
    /* chunk 1000 went missing: 2000 is not stored, 1000 is asked for */
    a = chunk_answer(&fx, chunk_msg(&fx, 1, 2, 2000, 3000));
    assert_int_equal(f->last.n_chunks, 0);
    assert_false(a.reject);
    assert_int_equal(a.next_offset, 1000);
    fx_destroy(&fx);
}

/* A snapshot of term 0, of index 0 or of a term past the sender's cannot
 * come from a leader: dropped unanswered, nothing stored. */
static void test_follower_drops_snapshots_no_leader_could_send(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *f = fx_node(&fx, 2);
    for (int c = 0; c < 3; c++) {
        struct raft_msg m = chunk_msg(&fx, 1, 2, 0, 3000);
        if (c == 0)
            m.snapshot.meta.term = 0;
        else if (c == 1)
            m.snapshot.meta.index = 0;
        else
            m.snapshot.meta.term = 3;
        fx_recv(&fx, &m);
        assert_int_equal(fx_count(&fx, 2, 1, RAFT_MSG_SNAPSHOT_RESP), 0);
        assert_int_equal(f->last.n_chunks, 0);
        assert_false(f->install_pending);
    }
    struct raft_msg_snapshot_resp a =
        chunk_answer(&fx, chunk_msg(&fx, 1, 2, 0, 3000));
    assert_int_equal(a.next_offset, 1000); /* a well-formed one goes in */
    fx_destroy(&fx);
}

static void test_follower_answers_a_duplicate_chunk_with_the_offset_it_wants(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *f = fx_node(&fx, 2);
    chunk_answer(&fx, chunk_msg(&fx, 1, 2, 0, 3000));
    chunk_answer(&fx, chunk_msg(&fx, 1, 2, 1000, 3000));
    /* a late copy of the first chunk neither restarts nor stores */
    struct raft_msg_snapshot_resp a = chunk_answer(&fx, chunk_msg(&fx, 1, 2, 0, 3000));
    assert_int_equal(f->last.n_chunks, 0);
    assert_int_equal(a.next_offset, 2000);
    struct raft_msg m = chunk_msg(&fx, 1, 2, 2000, 3000);
    fx_recv(&fx, &m);
    assert_int_equal(f->last.n_chunks, 1);
    assert_int_equal(f->last.chunks[0].offset, 2000);
    assert_true(f->install_pending);
    fx_destroy(&fx);
}

static void test_follower_rejects_a_chunk_of_a_transfer_it_has_not_begun(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct raft_msg_snapshot_resp a = chunk_answer(&fx, chunk_msg(&fx, 1, 2, 1000, 3000));
    assert_true(a.reject);
    assert_int_equal(fx_node(&fx, 2)->last.n_chunks, 0);
    fx_destroy(&fx);
}

/* Another leader's file of the same snapshot may differ byte for byte:
 * its transfer starts over, and the old leader's chunks are stale. */
static void test_new_leader_restarts_the_snapshot_transfer_from_offset_zero(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *f = fx_node(&fx, 2);
    chunk_answer(&fx, chunk_msg(&fx, 1, 2, 0, 3000));
    chunk_answer(&fx, chunk_msg(&fx, 1, 2, 1000, 3000));
    struct raft_msg_snapshot_resp a = chunk_answer(&fx, chunk_msg(&fx, 3, 3, 2000, 3000));
    assert_true(a.reject);
    assert_int_equal(f->last.n_chunks, 0);
    a = chunk_answer(&fx, chunk_msg(&fx, 3, 3, 0, 3000));
    assert_int_equal(f->last.n_chunks, 1);
    assert_int_equal(f->last.chunks[0].offset, 0);
    assert_int_equal(a.next_offset, 1000);
    struct raft_msg old = chunk_msg(&fx, 1, 2, 2000, 3000);
    fx_recv(&fx, &old);
    assert_int_equal(f->last.n_chunks, 0);
    assert_false(f->install_pending);
    fx_destroy(&fx);
}

/* Queued SNAPSHOT messages from `from` to `to` at offset off. */
static uint32_t queued_chunks_at(struct fx *fx, uint64_t from, uint64_t to,
                                 uint64_t off)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < fx->q_n; i++) {
        const struct raft_msg *m = &fx->q[(fx->q_head + i) % FX_QUEUE].m;
        n += m->type == RAFT_MSG_SNAPSHOT && m->from == from && m->to == to &&
             m->snapshot.offset == off;
    }
    return n;
}

/* Lifts the isolation of lag and delivers until the leader's first
 * chunks to it are queued. */
static void start_transfer(struct fx *fx, struct fx_node *l, uint64_t lag)
{
    fx_isolate(fx, lag, false);
    fx_drop_all(fx);
    fx_wait(fx, 20); /* heartbeat -> reject -> probe -> snapshot */
    for (int i = 0; i < 50 && !fx_count(fx, l->id, lag, RAFT_MSG_SNAPSHOT); i++) {
        fx_deliver_one(fx);
    }
}

static void test_leader_keeps_a_window_of_snapshot_chunks_in_flight(void **state)
{
    struct fx fx;
    uint64_t lag;
    struct fx_node *l = lagging_cluster_window(&fx, &lag, 3);
    take_snapshot(&fx, l, 9500);
    start_transfer(&fx, l, lag);
    assert_int_equal(fx_count(&fx, l->id, lag, RAFT_MSG_SNAPSHOT), 3);
    assert_int_equal(queued_chunks_at(&fx, l->id, lag, 0), 1);
    assert_int_equal(queued_chunks_at(&fx, l->id, lag, 1000), 1);
    assert_int_equal(queued_chunks_at(&fx, l->id, lag, 2000), 1);
    /* each answer that moves the window on sends one more chunk */
    struct raft_msg m, r;
    assert_true(fx_take(&fx, l->id, lag, RAFT_MSG_SNAPSHOT, &m));
    fx_recv(&fx, &m);
    assert_true(fx_take(&fx, lag, l->id, RAFT_MSG_SNAPSHOT_RESP, &r));
    fx_recv(&fx, &r);
    assert_int_equal(fx_count(&fx, l->id, lag, RAFT_MSG_SNAPSHOT), 3);
    assert_int_equal(queued_chunks_at(&fx, l->id, lag, 3000), 1);
    fx_destroy(&fx);
}

static void test_leader_resends_from_the_offset_a_gap_answer_names_once(void **state)
{
    struct fx fx;
    uint64_t lag;
    struct fx_node *l = lagging_cluster_window(&fx, &lag, 3);
    take_snapshot(&fx, l, 9500);
    start_transfer(&fx, l, lag);
    struct raft_msg c0, c1, c2, a0, gap;
    assert_true(fx_take(&fx, l->id, lag, RAFT_MSG_SNAPSHOT, &c0));
    assert_true(fx_take(&fx, l->id, lag, RAFT_MSG_SNAPSHOT, &c1)); /* lost */
    assert_true(fx_take(&fx, l->id, lag, RAFT_MSG_SNAPSHOT, &c2));
    assert_int_equal(c1.snapshot.offset, 1000);
    fx_recv(&fx, &c0);
    fx_recv(&fx, &c2);
    assert_true(fx_take(&fx, lag, l->id, RAFT_MSG_SNAPSHOT_RESP, &a0));
    assert_true(fx_take(&fx, lag, l->id, RAFT_MSG_SNAPSHOT_RESP, &gap));
    assert_int_equal(gap.snapshot_resp.next_offset, 1000);
    fx_recv(&fx, &a0); /* progress to 1000: chunk 3000 goes out */
    assert_int_equal(queued_chunks_at(&fx, l->id, lag, 1000), 0);
    fx_recv(&fx, &gap); /* the same offset again: a gap, go back */
    assert_int_equal(queued_chunks_at(&fx, l->id, lag, 1000), 1);
    fx_recv(&fx, &gap); /* a duplicate answer does not go back again */
    assert_int_equal(queued_chunks_at(&fx, l->id, lag, 1000), 1);
    fx_run(&fx, 300);
    assert_int_equal(raft_snapshot_index(fx_node(&fx, lag)->r),
                     raft_snapshot_index(l->r));
    fx_destroy(&fx);
}

static void test_leader_restarts_the_transfer_when_the_follower_lost_it(void **state)
{
    struct fx fx;
    uint64_t lag;
    struct fx_node *l = lagging_cluster_window(&fx, &lag, 3);
    take_snapshot(&fx, l, 9500);
    start_transfer(&fx, l, lag);
    struct raft_msg m;
    for (int i = 0; i < 2; i++) { /* two chunks in and acknowledged */
        assert_true(fx_take(&fx, l->id, lag, RAFT_MSG_SNAPSHOT, &m));
        fx_recv(&fx, &m);
        assert_true(fx_take(&fx, lag, l->id, RAFT_MSG_SNAPSHOT_RESP, &m));
        fx_recv(&fx, &m);
    }
    fx_crash(&fx, lag);
    fx_start(&fx, lag, 3); /* what it had received is gone */
    assert_true(fx_take(&fx, l->id, lag, RAFT_MSG_SNAPSHOT, &m));
    assert_int_equal(m.snapshot.offset, 2000);
    fx_recv(&fx, &m);
    assert_true(fx_take(&fx, lag, l->id, RAFT_MSG_SNAPSHOT_RESP, &m));
    assert_true(m.snapshot_resp.reject);
    fx_recv(&fx, &m);
    assert_int_equal(queued_chunks_at(&fx, l->id, lag, 0), 1);
    fx_run(&fx, 300);
    struct fx_node *f = fx_node(&fx, lag);
    assert_int_equal(raft_snapshot_index(f->r), raft_snapshot_index(l->r));
    assert_int_equal(f->applied, l->applied);
    fx_destroy(&fx);
}

/* Every chunk of a window may draw a "done" once the follower holds the
 * snapshot, and the network copies answers: only the first one counts. */
static void test_late_copies_of_a_done_answer_restart_nothing(void **state)
{
    struct fx fx;
    uint64_t lag;
    struct fx_node *l = lagging_cluster_window(&fx, &lag, 4);
    take_snapshot(&fx, l, 2500);
    start_transfer(&fx, l, lag);
    fx_deliver_all(&fx);
    struct fx_node *f = fx_node(&fx, lag);
    assert_int_equal(raft_snapshot_index(f->r), raft_snapshot_index(l->r));
    struct raft_msg done = fx_msg(RAFT_MSG_SNAPSHOT_RESP, lag, l->id,
                                  raft_term(l->r));
    done.snapshot_resp.index = raft_snapshot_index(l->r);
    done.snapshot_resp.done = true;
    for (int i = 0; i < 5; i++) {
        fx_recv(&fx, &done);
    }
    assert_int_equal(fx_count(&fx, l->id, lag, RAFT_MSG_SNAPSHOT), 0);
    assert_int_equal(fx_count(&fx, l->id, lag, RAFT_MSG_APPEND), 0);
    fx_destroy(&fx);
}

/* A "done" for an older snapshot than the one under way moves the match
 * on but, while the log still lacks what follows it, the transfer goes on
 * where it is (no restart from offset 0). */
static void test_done_for_an_older_snapshot_keeps_the_transfer_going(void **state)
{
    struct fx fx;
    uint64_t lag;
    struct fx_node *l = lagging_cluster_window(&fx, &lag, 2);
    take_snapshot(&fx, l, 9500);
    start_transfer(&fx, l, lag);
    struct raft_msg m;
    assert_true(fx_take(&fx, l->id, lag, RAFT_MSG_SNAPSHOT, &m));
    fx_recv(&fx, &m);
    assert_true(fx_take(&fx, lag, l->id, RAFT_MSG_SNAPSHOT_RESP, &m));
    fx_recv(&fx, &m); /* 1000 acknowledged, chunk 2000 goes out */
    uint32_t queued = fx_count(&fx, l->id, lag, RAFT_MSG_SNAPSHOT);
    struct raft_msg done = fx_msg(RAFT_MSG_SNAPSHOT_RESP, lag, l->id,
                                  raft_term(l->r));
    done.snapshot_resp.index = 2;
    done.snapshot_resp.done = true;
    fx_recv(&fx, &done);
    assert_int_equal(fx_count(&fx, l->id, lag, RAFT_MSG_SNAPSHOT), queued);
    assert_int_equal(queued_chunks_at(&fx, l->id, lag, 0), 0);
    assert_int_equal(fx_count(&fx, l->id, lag, RAFT_MSG_APPEND), 0);
    fx_run(&fx, 300);
    assert_int_equal(raft_snapshot_index(fx_node(&fx, lag)->r),
                     raft_snapshot_index(l->r));
    fx_destroy(&fx);
}

/* A done answer past the leader's log comes from no follower of its term:
 * it neither ends the transfer nor moves the follower's match. */
static void test_done_past_the_leaders_log_is_ignored(void **state)
{
    struct fx fx;
    uint64_t lag, match, next;
    struct fx_node *l = lagging_cluster_window(&fx, &lag, 2);
    take_snapshot(&fx, l, 9500);
    start_transfer(&fx, l, lag);
    assert_true(raft_progress(l->r, lag, &match, &next));
    struct raft_msg done = fx_msg(RAFT_MSG_SNAPSHOT_RESP, lag, l->id,
                                  raft_term(l->r));
    done.snapshot_resp.index = raft_last_index(l->r) + 3;
    done.snapshot_resp.done = true;
    fx_recv(&fx, &done);
    uint64_t match2, next2;
    assert_true(raft_progress(l->r, lag, &match2, &next2));
    assert_int_equal(match2, match);
    assert_int_equal(fx_count(&fx, l->id, lag, RAFT_MSG_APPEND), 0);
    fx_run(&fx, 300); /* the real transfer still completes */
    assert_int_equal(raft_snapshot_index(fx_node(&fx, lag)->r),
                     raft_snapshot_index(l->r));
    fx_destroy(&fx);
}

/* The caller keeps its newest snapshot only: while a transfer is under way
 * a new one is suggested only at 4 times the threshold. */
static void test_no_snapshot_is_suggested_while_one_is_shipped(void **state)
{
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .snapshot_chunk_bytes = 1000,
                             .snapshot_threshold = 5, .seed = 3};
    struct fx fx;
    fx_init_opts(&fx, 3, 3, &o);
    struct fx_node *l = fx_elect(&fx);
    uint64_t lag = l->id == 3 ? 2 : 3;
    fx_isolate(&fx, lag, true);
    for (int i = 0; i < 5; i++) {
        fx_propose(&fx, l, "x");
        fx_run(&fx, 20);
    }
    take_snapshot(&fx, l, 9500);
    start_transfer(&fx, l, lag);
    assert_true(fx_count(&fx, l->id, lag, RAFT_MSG_SNAPSHOT) > 0);
    fx.cut[l->id][lag] = true; /* the transfer stays under way */
    l->n_suggested = 0;
    for (int i = 0; i < 19; i++) {
        fx_propose(&fx, l, "x");
        fx_run(&fx, 20);
    }
    assert_int_equal(raft_role(l->r), RAFT_LEADER);
    assert_int_equal(l->applied - raft_snapshot_index(l->r), 19);
    assert_int_equal(l->n_suggested, 0);
    fx_propose(&fx, l, "x");
    fx_run(&fx, 20);
    assert_true(l->n_suggested > 0);
    fx_destroy(&fx);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* Delivers what is queued now: one network hop. With rng, snapshot
 * chunks and their answers are lost (1/4), reordered behind the rest
 * (1/4) or duplicated (1/6). */
static void deliver_hop(struct fx *fx, uint32_t *rng)
{
    uint32_t n = fx->q_n;
    for (uint32_t i = 0; i < n && fx->q_n > 0; i++) {
        struct fx_msg *q = &fx->q[fx->q_head];
        bool snap = q->m.type == RAFT_MSG_SNAPSHOT ||
                    q->m.type == RAFT_MSG_SNAPSHOT_RESP;
        uint32_t x = rng != NULL && snap ? lcg(rng) % 12 : 12;
        if (x < 6) {
            if (x >= 3) {
                fx_enqueue(fx, &q->m); /* to the back: after the others */
            }
            fx_free_msg(q);
            fx->q_head = (fx->q_head + 1) % FX_QUEUE;
            fx->q_n--;
            continue;
        }
        if (x < 8) {
            fx_enqueue(fx, &q->m);
        }
        fx_deliver_one(fx);
    }
}

/* Ticks of 10 ms, one hop each, until lag has installed the leader's
 * snapshot and applied all; -1 if not within max ticks. */
static int hops_to_catch_up(struct fx *fx, struct fx_node *l, uint64_t lag,
                            uint32_t *rng, int max)
{
    struct fx_node *f = fx_node(fx, lag);
    for (int t = 1; t <= max; t++) {
        fx->now += 10;
        for (uint32_t i = 0; i < fx->n; i++) {
            if (fx->nodes[i].up) {
                fx_tick(fx, &fx->nodes[i]);
            }
        }
        deliver_hop(fx, rng);
        if (raft_snapshot_index(f->r) == raft_snapshot_index(l->r) &&
            f->applied == l->applied) {
            return t;
        }
    }
    return -1;
}

static void test_snapshot_transfer_completes_over_a_lossy_reordering_link(void **state)
{
    int worst = 0;
    for (uint32_t seed = 1; seed <= 20; seed++) {
        struct fx fx;
        uint64_t lag;
        struct fx_node *l = lagging_cluster_window(&fx, &lag, 4);
        take_snapshot(&fx, l, 20000);
        fx_isolate(&fx, lag, false);
        uint32_t rng = seed;
        int t = hops_to_catch_up(&fx, l, lag, &rng, 2000);
        if (t < 0) {
            fail_msg("seed %u: no catch-up in 20 s", seed);
        }
        worst = t > worst ? t : worst;
        assert_int_equal(raft_role(l->r), RAFT_LEADER);
        fx_destroy(&fx);
    }
    print_message("20 chunks over a lossy link: caught up within %d hops\n",
                  worst);
}

static int catch_up_hops(uint32_t window)
{
    struct fx fx;
    uint64_t lag;
    struct fx_node *l = lagging_cluster_window(&fx, &lag, window);
    take_snapshot(&fx, l, 32000);
    fx_isolate(&fx, lag, false);
    int t = hops_to_catch_up(&fx, l, lag, NULL, 1000);
    fx_destroy(&fx);
    return t;
}

/* Over a link with latency the window ships several chunks per round
 * trip: 32 chunks take about 64 hops one at a time, a few with 8. */
static void test_snapshot_window_ships_several_chunks_per_round_trip(void **state)
{
    int one = catch_up_hops(1);
    int eight = catch_up_hops(8);
    print_message("catch-up of 32 chunks: %d hops with window 1, %d with 8\n",
                  one, eight);
    assert_true(one > 0 && eight > 0);
    assert_true(one >= 64);
    assert_true(eight * 3 <= one);
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
        cmocka_unit_test(test_follower_takes_snapshot_chunks_in_order_only),
        cmocka_unit_test(test_follower_drops_snapshots_no_leader_could_send),
        cmocka_unit_test(test_follower_answers_a_duplicate_chunk_with_the_offset_it_wants),
        cmocka_unit_test(test_follower_rejects_a_chunk_of_a_transfer_it_has_not_begun),
        cmocka_unit_test(test_new_leader_restarts_the_snapshot_transfer_from_offset_zero),
        cmocka_unit_test(test_leader_keeps_a_window_of_snapshot_chunks_in_flight),
        cmocka_unit_test(test_leader_resends_from_the_offset_a_gap_answer_names_once),
        cmocka_unit_test(test_leader_restarts_the_transfer_when_the_follower_lost_it),
        cmocka_unit_test(test_late_copies_of_a_done_answer_restart_nothing),
        cmocka_unit_test(test_done_for_an_older_snapshot_keeps_the_transfer_going),
        cmocka_unit_test(test_done_past_the_leaders_log_is_ignored),
        cmocka_unit_test(test_no_snapshot_is_suggested_while_one_is_shipped),
        cmocka_unit_test(test_snapshot_transfer_completes_over_a_lossy_reordering_link),
        cmocka_unit_test(test_snapshot_window_ships_several_chunks_per_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
