/* Specification tests of the node as a whole: construction from durable
 * state, the update contract (persist ids, withheld replies, apply only
 * what is durable), and a cluster that elects, replicates and commits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/raft/fixture.h"

static void test_three_nodes_elect_one_leader_and_commit_everywhere(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    assert_non_null(l);
    assert_int_equal(fx_propose(&fx, l, "set a 1"), 0);
    fx_run(&fx, 100);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(fx.nodes[i].applied, raft_last_index(l->r));
        assert_int_equal(raft_commit_index(fx.nodes[i].r),
                         raft_last_index(l->r));
    }
    fx_destroy(&fx);
}

static void test_new_node_refuses_bad_identity_and_inconsistent_log(void **state)
{
    struct raft *r;
    struct raft_options o = {.id = 0};
    struct raft_init init = {.term = 1};
    assert_int_equal(raft_new(&o, &init, &r), ERR_INVALID);
    o.id = 1;
    struct raft_entry e[2] = {{.term = 2, .type = RAFT_ENTRY_NOOP},
                              {.term = 1, .type = RAFT_ENTRY_NOOP}};
    init.term = 2;
    init.entries = e;
    init.n_entries = 2; /* terms go down */
    assert_int_equal(raft_new(&o, &init, &r), ERR_INVALID);
    e[1] = (struct raft_entry){.term = 2, .type = RAFT_ENTRY_CONFIG,
                               .data = (const uint8_t *)"junk", .len = 4};
    assert_int_equal(raft_new(&o, &init, &r), ERR_INVALID);
}

/* Entries are persisted before the hard state may be (raft.h), so a crash
 * can leave entries of a newer term than the saved one: the node starts in
 * that term with no vote (sim seed 2350, --storage model). */
static void test_restart_with_entries_beyond_hard_state_takes_their_term(void **state)
{
    struct raft_entry e[2] = {{.term = 2, .type = RAFT_ENTRY_NOOP},
                              {.term = 3, .type = RAFT_ENTRY_NOOP}};
    struct raft_init init = {.term = 2, .vote = 1, .entries = e,
                             .n_entries = 2};
    struct raft_options o = {.id = 1};
    struct raft *r;
    assert_int_equal(raft_new(&o, &init, &r), 0);
    assert_int_equal(raft_term(r), 3);
    assert_int_equal(raft_vote(r), 0);
    assert_int_equal(raft_last_term(r), 3);
    raft_free(r);
}

static void test_restart_loads_hard_state_log_and_configuration(void **state)
{
    uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
    struct raft_entry e[2] = {fx_config_entry(3, cfg),
                              {.term = 4, .type = RAFT_ENTRY_NOOP}};
    struct raft_init init = {.term = 5, .vote = 2, .entries = e,
                             .n_entries = 2};
    struct raft_options o = {.id = 1};
    struct raft *r;
    assert_int_equal(raft_new(&o, &init, &r), 0);
    assert_int_equal(raft_term(r), 5);
    assert_int_equal(raft_vote(r), 2);
    assert_int_equal(raft_last_index(r), 2);
    assert_int_equal(raft_last_term(r), 4);
    assert_int_equal(raft_persisted_index(r), 2);
    assert_int_equal(raft_commit_index(r), 0);
    assert_int_equal(raft_config(r)->n, 3);
    assert_int_equal(raft_role(r), RAFT_FOLLOWER);
    assert_string_equal(raft_role_name(raft_role(r)), "follower");
    assert_string_equal(raft_msg_type_name(RAFT_MSG_TIMEOUT_NOW), "timeout_now");
    raft_free(r);
}

static void test_one_persisted_notification_covers_earlier_updates(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    l->manual_persist = true;
    fx_propose(&fx, l, "a");
    uint64_t first = l->last.persist_id;
    fx_propose(&fx, l, "b");
    uint64_t second = l->last.persist_id;
    assert_true(second > first);
    assert_int_equal(l->last.entries_index, raft_last_index(l->r));
    fx_deliver_all(&fx);
    fx_persist(&fx, l); /* reports `second` only */
    assert_int_equal(raft_persisted_index(l->r), raft_last_index(l->r));
    assert_int_equal(l->applied, raft_last_index(l->r));
    struct raft_event ev = {.type = RAFT_EVENT_PERSISTED};
    ev.persisted.id = second + 10;
    assert_int_equal(fx_step(&fx, l, &ev), ERR_INVALID);
    fx_destroy(&fx);
}

static void test_unknown_events_and_messages_are_refused(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct raft_event ev = {.type = 99};
    assert_int_equal(fx_step(&fx, &fx.nodes[0], &ev), ERR_INVALID);
    struct raft_msg m = fx_msg(RAFT_MSG_TYPE_MAX + 1, 2, 1, 1);
    assert_int_equal(fx_recv(&fx, &m), ERR_INVALID);
    m = fx_msg(RAFT_MSG_HEARTBEAT, 1, 1, 1); /* from itself */
    assert_int_equal(fx_recv(&fx, &m), ERR_INVALID);
    fx_destroy(&fx);
}

static void test_role_changes_are_reported_in_the_update(void **state)
{
    struct fx fx;
    fx_init(&fx, 1, 1);
    struct raft_event ev = {.type = RAFT_EVENT_TICK};
    fx.now += 10;
    fx_step(&fx, &fx.nodes[0], &ev);
    /* candidate after the tick, leader once its vote is durable */
    assert_true(fx.nodes[0].last.role_changed);
    assert_int_equal(raft_role(fx.nodes[0].r), RAFT_LEADER);
    assert_int_equal(raft_leader(fx.nodes[0].r), 1);
    fx_destroy(&fx);
}

static void test_entries_given_without_a_buffer_are_copied(void **state)
{
    struct fx fx;
    fx_init(&fx, 1, 1);
    fx_run(&fx, 20);
    char text[] = "mutable";
    fx_propose(&fx, &fx.nodes[0], text);
    text[0] = 'X';
    const struct raft_entry *e =
        raft_entry_at(fx.nodes[0].r, raft_last_index(fx.nodes[0].r));
    assert_memory_equal(e->data, "mutable", 7);
    assert_non_null(e->buf);
    fx_destroy(&fx);
}

static int freed;
static void count_free(struct raft_buf *b)
{
    (void)b;
    freed++;
}

static void test_buffers_are_released_when_entries_leave_the_log(void **state)
{
    struct raft_options o = {.id = 1};
    uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
    struct raft_entry boot = fx_config_entry(1, cfg);
    struct raft_init init = {.term = 1, .entries = &boot, .n_entries = 1};
    struct raft *r;
    assert_int_equal(raft_new(&o, &init, &r), 0);
    struct raft_update u;
    struct raft_event ev = {.type = RAFT_EVENT_TICK, .now = 1};
    raft_step(r, &ev, &u);
    ev = (struct raft_event){.type = RAFT_EVENT_PERSISTED, .now = 1};
    ev.persisted.id = u.persist_id;
    raft_step(r, &ev, &u);
    ev.persisted.id = u.persist_id;
    raft_step(r, &ev, &u);
    assert_int_equal(raft_role(r), RAFT_LEADER);
    struct raft_buf buf = {.refs = 1, .free_cb = count_free};
    struct raft_entry e[4];
    for (int i = 0; i < 4; i++) {
        e[i] = (struct raft_entry){.data = (const uint8_t *)"abcd", .len = 4,
                                   .buf = &buf};
    }
    ev = (struct raft_event){.type = RAFT_EVENT_PROPOSE, .now = 2};
    ev.propose.entries = e;
    ev.propose.n = 4;
    assert_int_equal(raft_step(r, &ev, &u), 0);
    assert_int_equal(buf.refs, 5);
    ev = (struct raft_event){.type = RAFT_EVENT_PERSISTED, .now = 2};
    ev.persisted.id = u.persist_id;
    raft_step(r, &ev, &u);
    assert_int_equal(u.n_committed, 4);
    ev = (struct raft_event){.type = RAFT_EVENT_SNAPSHOT_TAKEN, .now = 3};
    ev.snapshot.index = raft_last_index(r) - 1;
    ev.snapshot.term = raft_term(r);
    ev.snapshot.config = *raft_config(r);
    assert_int_equal(raft_step(r, &ev, &u), 0);
    assert_int_equal(buf.refs, 2);
    raft_free(r);
    assert_int_equal(buf.refs, 1);
    raft_buf_release(&buf);
    assert_int_equal(freed, 1);
}

/* An allocator that fails the n-th call (once, or from then on). */
static long alloc_calls, alloc_fail_at;
static bool alloc_lasting;
static bool alloc_should_fail(void)
{
    alloc_calls++;
    return alloc_calls == alloc_fail_at ||
           (alloc_lasting && alloc_calls >= alloc_fail_at);
}
static void *fail_alloc(void *ctx, size_t n)
{
    return alloc_should_fail() ? NULL : malloc(n);
}
static void *fail_realloc(void *ctx, void *p, size_t n)
{
    return alloc_should_fail() ? NULL : realloc(p, n);
}
static void fail_free(void *ctx, void *p)
{
    free(p);
}

static void test_allocation_failures_are_survived(void **state)
{
    for (int lasting = 0; lasting <= 1; lasting++) {
        for (long n = 1; n < 120; n += 1) {
            alloc_calls = 0;
            alloc_fail_at = n;
            alloc_lasting = lasting;
            struct raft_options o = {.election_timeout_ms = 100,
                                     .heartbeat_ms = 20,
                                     .alloc = {fail_alloc, fail_realloc,
                                               fail_free, NULL}};
            struct fx fx;
            memset(&fx, 0, sizeof(fx));
            fx.opts = o;
            fx.n = 3;
            fx.now = 1000;
            bool started = true;
            for (uint64_t id = 1; id <= 3; id++) {
                struct fx_node *nd = fx_node(&fx, id);
                static uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
                struct raft_entry boot = fx_config_entry(3, cfg);
                struct raft_init init = {.term = 1, .entries = &boot,
                                         .n_entries = 1};
                struct raft_options oo = o;
                oo.id = id;
                nd->id = id;
                if (raft_new(&oo, &init, &nd->r) != 0) {
                    started = false;
                    break;
                }
                nd->up = true;
            }
            if (started) {
                for (int k = 0; k < 20; k++) {
                    fx_run(&fx, 50);
                    struct fx_node *l = fx_leader(&fx);
                    if (l != NULL) {
                        fx_propose(&fx, l, "x");
                    }
                }
                alloc_lasting = false;
                alloc_fail_at = 0;
                if (!lasting) {
                    /* a single failure is as a lost message: progress */
                    struct fx_node *l = fx_elect(&fx);
                    assert_non_null(l);
                }
            }
            fx_destroy(&fx);
        }
    }
}

static uint64_t fuzz_state = 0x2545f4914f6cdd1dULL;
static uint64_t fuzz_next(void)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 7;
    fuzz_state ^= fuzz_state << 17;
    return fuzz_state;
}

/* Mostly small numbers near the node's own, sometimes anything. */
static uint64_t fuzz_num(uint64_t near)
{
    switch (fuzz_next() % 8) {
    case 0:
        return fuzz_next();
    case 1:
        return 0;
    default:
        return near + fuzz_next() % 5 - (near > 2 ? 2 : 0);
    }
}

static struct raft_msg fuzz_msg(struct raft *r, struct raft_entry *ents,
                                const uint8_t *bytes)
{
    struct raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = (uint8_t)(1 + fuzz_next() % RAFT_MSG_TYPE_MAX);
    m.from = 2 + fuzz_next() % 2;
    m.to = 1;
    m.term = fuzz_num(raft_term(r));
    uint64_t last = raft_last_index(r);
    switch (m.type) {
    case RAFT_MSG_APPEND:
        m.append.prev_index = fuzz_num(last);
        m.append.prev_term = fuzz_num(raft_last_term(r));
        m.append.commit = fuzz_num(last);
        m.append.n_entries = (uint32_t)(fuzz_next() % 5);
        for (uint32_t i = 0; i < m.append.n_entries; i++) {
            ents[i] = (struct raft_entry){
                .term = 1 + fuzz_next() % (raft_term(r) + 2),
                .type = (uint8_t)(1 + fuzz_next() % 3), .data = bytes,
                .len = (uint32_t)(fuzz_next() % 16)};
        }
        m.append.entries = ents;
        break;
    case RAFT_MSG_APPEND_RESP:
        m.append_resp.index = fuzz_num(last);
        m.append_resp.hint_index = fuzz_num(last);
        m.append_resp.hint_term = fuzz_num(raft_last_term(r));
        m.append_resp.reject = fuzz_next() % 2;
        break;
    case RAFT_MSG_VOTE:
        m.vote.last_index = fuzz_num(last);
        m.vote.last_term = fuzz_num(raft_last_term(r));
        m.vote.pre = fuzz_next() % 2;
        m.vote.transfer = fuzz_next() % 4 == 0;
        break;
    case RAFT_MSG_VOTE_RESP:
        m.vote_resp.granted = fuzz_next() % 2;
        m.vote_resp.pre = fuzz_next() % 2;
        break;
    case RAFT_MSG_HEARTBEAT:
        m.heartbeat.commit = fuzz_num(last);
        m.heartbeat.seq = fuzz_num(3);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        m.heartbeat_resp.seq = fuzz_num(3);
        break;
    case RAFT_MSG_SNAPSHOT:
        m.snapshot.meta.index = fuzz_num(last);
        m.snapshot.meta.term = fuzz_num(raft_last_term(r));
        m.snapshot.meta.size = fuzz_next() % 32;
        m.snapshot.meta.config = *raft_config(r);
        m.snapshot.offset = fuzz_next() % 32;
        m.snapshot.len = (uint32_t)(fuzz_next() % 16);
        m.snapshot.last = fuzz_next() % 2;
        m.snapshot.data = bytes;
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        m.snapshot_resp.index = fuzz_num(last);
        m.snapshot_resp.next_offset = fuzz_next() % 40;
        m.snapshot_resp.done = fuzz_next() % 2;
        m.snapshot_resp.reject = fuzz_next() % 2;
        break;
    case RAFT_MSG_READ_INDEX:
    case RAFT_MSG_READ_INDEX_RESP:
        m.read_index_resp.req_id = fuzz_next() % 4;
        m.read_index_resp.index = fuzz_num(last);
        m.read_index_resp.ok = fuzz_next() % 2;
        break;
    }
    return m;
}

static void test_random_messages_never_break_a_node(void **state)
{
    static const uint8_t bytes[64] = "abcdefghijklmnopqrstuvwxyz";
    struct raft_entry ents[8];
    for (int run = 0; run < 20; run++) {
        struct fx fx;
        fx_init(&fx, 3, 3);
        struct fx_node *nd = &fx.nodes[0];
        uint64_t term = 0;
        for (int i = 0; i < 3000; i++) {
            struct raft_msg m = fuzz_msg(nd->r, ents, bytes);
            switch (fuzz_next() % 10) {
            case 0:
                fx.now += fuzz_next() % 200;
                fx_tick(&fx, nd);
                break;
            case 1:
                fx_propose(&fx, nd, "p");
                break;
            case 2:
                fx_read(&fx, nd, fuzz_next() % 4, fuzz_next() % 2);
                break;
            case 3:
                fx_install(&fx, nd);
                break;
            default:
                fx_recv(&fx, &m);
            }
            fx_drop_all(&fx);
            assert_true(raft_term(nd->r) >= term);
            term = raft_term(nd->r);
            assert_true(raft_commit_index(nd->r) <= raft_last_index(nd->r) ||
                        raft_commit_index(nd->r) <= raft_snapshot_index(nd->r));
            assert_true(nd->applied <= raft_commit_index(nd->r));
        }
        fx_destroy(&fx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_nodes_elect_one_leader_and_commit_everywhere),
        cmocka_unit_test(test_new_node_refuses_bad_identity_and_inconsistent_log),
        cmocka_unit_test(test_restart_with_entries_beyond_hard_state_takes_their_term),
        cmocka_unit_test(test_restart_loads_hard_state_log_and_configuration),
        cmocka_unit_test(test_one_persisted_notification_covers_earlier_updates),
        cmocka_unit_test(test_unknown_events_and_messages_are_refused),
        cmocka_unit_test(test_role_changes_are_reported_in_the_update),
        cmocka_unit_test(test_entries_given_without_a_buffer_are_copied),
        cmocka_unit_test(test_buffers_are_released_when_entries_leave_the_log),
        cmocka_unit_test(test_allocation_failures_are_survived),
        cmocka_unit_test(test_random_messages_never_break_a_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
