/* Specification tests of membership (§4.1-§4.2): the configuration codec,
 * one change at a time in force when appended, learners promoted once
 * caught up, ids never reused, a leader removing itself, removed servers
 * that cannot disrupt, and leadership transfer (§3.10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/raft/fixture.h"

static int change(struct fx *fx, struct fx_node *l, uint8_t op, uint64_t id)
{
    struct raft_event ev = {.type = RAFT_EVENT_CHANGE};
    ev.change.op = op;
    ev.change.id = id;
    return fx_step(fx, l, &ev);
}

/* Asks leader l to hand leadership to voter `to` (§3.10). */
static int transfer(struct fx *fx, struct fx_node *l, uint64_t to)
{
    struct raft_event ev = {.type = RAFT_EVENT_TRANSFER};
    ev.transfer.to = to;
    return fx_step(fx, l, &ev);
}

static void test_config_encodes_and_decodes_to_the_same_value(void **state)
{
    struct raft_config c = {.n = 3, .max_id = 9};
    c.servers[0] = (struct raft_server){1, RAFT_VOTER};
    c.servers[1] = (struct raft_server){4, RAFT_LEARNER};
    c.servers[2] = (struct raft_server){9, RAFT_VOTER};
    uint8_t buf[RAFT_CONFIG_MAX_BYTES];
    int n = raft_config_encode(&c, buf, sizeof(buf));
    assert_int_equal(n, (int)raft_config_encoded_size(&c));
    struct raft_config d;
    assert_int_equal(raft_config_decode(buf, (size_t)n, &d), 0);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.max_id, 9);
    assert_int_equal(d.servers[1].id, 4);
    assert_int_equal(d.servers[1].role, RAFT_LEARNER);
    for (int k = 0; k < n; k++) {
        assert_int_equal(raft_config_decode(buf, (size_t)k, &d), ERR_PROTOCOL);
    }
    assert_int_equal(raft_config_encode(&c, buf, 5), ERR_TOOBIG);
}

static void test_config_decode_rejects_duplicate_zero_and_unknown_ids(void **state)
{
    struct raft_config c = {.n = 2, .max_id = 5};
    c.servers[0] = (struct raft_server){2, RAFT_VOTER};
    c.servers[1] = (struct raft_server){3, RAFT_VOTER};
    uint8_t buf[RAFT_CONFIG_MAX_BYTES];
    int n = raft_config_encode(&c, buf, sizeof(buf));
    struct raft_config d;
    uint8_t bad[RAFT_CONFIG_MAX_BYTES];
    memcpy(bad, buf, (size_t)n);
    bad[13 + 9] = 2; /* second id = first id */
    assert_int_equal(raft_config_decode(bad, (size_t)n, &d), ERR_PROTOCOL);
    memcpy(bad, buf, (size_t)n);
    memset(bad + 13, 0, 8); /* id 0 */
    assert_int_equal(raft_config_decode(bad, (size_t)n, &d), ERR_PROTOCOL);
    memcpy(bad, buf, (size_t)n);
    bad[13 + 8] = 7; /* role */
    assert_int_equal(raft_config_decode(bad, (size_t)n, &d), ERR_PROTOCOL);
    memcpy(bad, buf, (size_t)n);
    bad[5] = 1; /* max_id below the ids */
    assert_int_equal(raft_config_decode(bad, (size_t)n, &d), ERR_PROTOCOL);
    c.servers[1].id = 2;
    assert_int_equal(raft_config_encode(&c, buf, sizeof(buf)), ERR_INVALID);
}

static void test_added_node_joins_as_learner_and_is_promoted_when_caught_up(void **state)
{
    struct fx fx;
    fx_init(&fx, 4, 3);
    struct fx_node *l = fx_elect(&fx);
    assert_int_equal(raft_next_id(l->r), 4);
    assert_int_equal(change(&fx, l, RAFT_CHANGE_ADD_LEARNER, 4), 0);
    const struct raft_server *s = raft_config_find(raft_config(l->r), 4);
    assert_non_null(s);
    assert_int_equal(s->role, RAFT_LEARNER);
    assert_true(l->last.config_changed);
    fx_run(&fx, 300);
    s = raft_config_find(raft_config(l->r), 4);
    assert_int_equal(s->role, RAFT_VOTER);
    assert_int_equal(fx.nodes[3].applied, l->applied);
    assert_int_equal(raft_config(fx.nodes[3].r)->n, 4);
    fx_destroy(&fx);
}

static void test_learner_is_not_promoted_when_auto_promotion_is_off(void **state)
{
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .no_auto_promote = true};
    struct fx fx;
    fx_init_opts(&fx, 4, 3, &o);
    struct fx_node *l = fx_elect(&fx);
    assert_int_equal(change(&fx, l, RAFT_CHANGE_ADD_LEARNER, 4), 0);
    fx_run(&fx, 300);
    assert_int_equal(raft_config_find(raft_config(l->r), 4)->role, RAFT_LEARNER);
    assert_int_equal(change(&fx, l, RAFT_CHANGE_PROMOTE, 4), 0);
    assert_int_equal(raft_config_find(raft_config(l->r), 4)->role, RAFT_VOTER);
    fx_destroy(&fx);
}

static void test_removed_id_is_never_reused(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t victim = l->id == 3 ? 2 : 3;
    assert_int_equal(change(&fx, l, RAFT_CHANGE_REMOVE, victim), 0);
    fx_run(&fx, 100);
    assert_null(raft_config_find(raft_config(l->r), victim));
    assert_int_equal(change(&fx, l, RAFT_CHANGE_ADD_LEARNER, victim),
                     ERR_INVALID);
    assert_int_equal(change(&fx, l, RAFT_CHANGE_ADD_LEARNER, l->id),
                     ERR_INVALID);
    fx_destroy(&fx);
}

static void test_second_change_waits_for_the_first_to_commit(void **state)
{
    struct fx fx;
    fx_init(&fx, 5, 3);
    struct fx_node *l = fx_elect(&fx);
    assert_int_equal(change(&fx, l, RAFT_CHANGE_ADD_LEARNER, 4), 0);
    assert_int_equal(change(&fx, l, RAFT_CHANGE_ADD_LEARNER, 5), ERR_BUSY);
    fx_run(&fx, 100);
    assert_int_equal(change(&fx, l, RAFT_CHANGE_ADD_LEARNER, 5), 0);
    fx_destroy(&fx);
}

static void test_configuration_takes_effect_on_followers_when_appended(void **state)
{
    struct fx fx;
    fx_init(&fx, 4, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t f = l->id == 1 ? 2 : 1;
    l->manual_persist = true; /* the entry cannot commit */
    assert_int_equal(change(&fx, l, RAFT_CHANGE_ADD_LEARNER, 4), 0);
    struct raft_msg a;
    assert_true(fx_take(&fx, l->id, f, RAFT_MSG_APPEND, &a));
    fx_drop_all(&fx);
    fx_recv(&fx, &a);
    struct fx_node *nf = fx_node(&fx, f);
    assert_true(raft_commit_index(nf->r) < raft_last_index(nf->r));
    assert_non_null(raft_config_find(raft_config(nf->r), 4));
    assert_true(nf->last.config_changed);
    fx_destroy(&fx);
}

static void test_truncated_config_entry_reverts_the_configuration(void **state)
{
    struct fx fx;
    fx_init(&fx, 4, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t f = l->id == 1 ? 2 : 1;
    uint64_t term = raft_term(l->r);
    assert_int_equal(change(&fx, l, RAFT_CHANGE_ADD_LEARNER, 4), 0);
    struct raft_msg a;
    assert_true(fx_take(&fx, l->id, f, RAFT_MSG_APPEND, &a));
    fx_drop_all(&fx);
    fx_recv(&fx, &a);
    struct fx_node *nf = fx_node(&fx, f);
    assert_non_null(raft_config_find(raft_config(nf->r), 4));
    /* a new leader of a later term overwrites that entry */
    struct raft_entry e = {.term = term + 1, .type = RAFT_ENTRY_NOOP};
    struct raft_msg b = fx_append_msg(6 - l->id - f, f, term + 1,
                                      a.append.prev_index, a.append.prev_term,
                                      1, &e);
    fx_recv(&fx, &b);
    assert_int_equal(nf->last.truncate_from, a.append.prev_index + 1);
    assert_null(raft_config_find(raft_config(nf->r), 4));
    fx_destroy(&fx);
}

static void test_leader_removing_itself_hands_over_leadership(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t old = l->id;
    uint64_t term = raft_term(l->r);
    assert_int_equal(change(&fx, l, RAFT_CHANGE_REMOVE, old), 0);
    fx_run(&fx, 60);
    assert_int_not_equal(raft_role(l->r), RAFT_LEADER);
    struct fx_node *l2 = fx_leader(&fx);
    assert_non_null(l2);
    assert_int_not_equal(l2->id, old);
    assert_int_equal(raft_term(l2->r), term + 1);
    assert_null(raft_config_find(raft_config(l2->r), old));
    assert_int_equal(fx_propose(&fx, l2, "x"), 0);
    fx_run(&fx, 100);
    assert_int_equal(raft_commit_index(l2->r), raft_last_index(l2->r));
    fx_destroy(&fx);
}

/* Removes a voter that never learns of it, lets it campaign for 2 s and
 * checks that the leader and its term stayed. */
static uint64_t removed_voter_campaigns(struct fx *fx)
{
    struct fx_node *l = fx_elect(fx);
    uint64_t victim = l->id == 3 ? 2 : 3;
    /* the victim never learns of its removal */
    fx_isolate(fx, victim, true);
    assert_int_equal(change(fx, l, RAFT_CHANGE_REMOVE, victim), 0);
    fx_run(fx, 200);
    uint64_t term = raft_term(l->r);
    fx->cut[victim][l->id] = false;
    fx->cut[victim][6 - l->id - victim] = false;
    fx_run(fx, 2000);
    assert_int_equal(raft_role(l->r), RAFT_LEADER);
    assert_int_equal(raft_term(l->r), term);
    return victim;
}

static void test_removed_node_does_not_disrupt_the_cluster(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    removed_voter_campaigns(&fx);
    fx_destroy(&fx);
}

/* §4.2.3 without its usual helpers: the removed node's real RequestVotes
 * of ever higher terms reach the leader and the remaining follower, who
 * both disregard them (sim seed 2791, --no-pre-vote --no-check-quorum). */
static void test_removed_node_does_not_disrupt_without_prevote_or_check_quorum(void **state)
{
    struct raft_options o = {.election_timeout_ms = 100, .heartbeat_ms = 20,
                             .no_pre_vote = true, .no_check_quorum = true,
                             .seed = 7};
    struct fx fx;
    fx_init_opts(&fx, 3, 3, &o);
    uint64_t victim = removed_voter_campaigns(&fx);
    /* it did campaign: without PreVote its term ran ahead */
    assert_true(raft_term(fx_node(&fx, victim)->r) >
                raft_term(fx_leader(&fx)->r));
    fx_destroy(&fx);
}

static void test_change_on_follower_is_refused(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    struct fx_node *f = fx_node(&fx, l->id == 1 ? 2 : 1);
    assert_int_equal(change(&fx, f, RAFT_CHANGE_ADD_LEARNER, 9), ERR_NOTLEADER);
    fx_destroy(&fx);
}

static void test_last_voter_cannot_be_removed(void **state)
{
    struct fx fx;
    fx_init(&fx, 1, 1);
    fx_run(&fx, 20);
    assert_int_equal(change(&fx, &fx.nodes[0], RAFT_CHANGE_REMOVE, 1),
                     ERR_INVALID);
    assert_int_equal(change(&fx, &fx.nodes[0], RAFT_CHANGE_PROMOTE, 1),
                     ERR_INVALID);
    fx_destroy(&fx);
}

static void test_leadership_moves_to_the_named_voter(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t to = l->id == 3 ? 1 : 3;
    assert_int_equal(transfer(&fx, l, to), 0);
    assert_int_equal(fx_propose(&fx, l, "x"), ERR_BUSY);
    fx_run(&fx, 50);
    assert_int_equal(raft_role(fx_node(&fx, to)->r), RAFT_LEADER);
    assert_int_not_equal(raft_role(l->r), RAFT_LEADER);
    fx_destroy(&fx);
}

static void test_transfer_is_abandoned_after_an_election_timeout(void **state)
{
    struct fx fx;
    fx_init(&fx, 3, 3);
    struct fx_node *l = fx_elect(&fx);
    uint64_t to = l->id == 3 ? 1 : 3;
    fx_isolate(&fx, to, true);
    fx_propose(&fx, l, "x");
    assert_int_equal(transfer(&fx, l, to), 0);
    fx_run(&fx, 150);
    assert_int_equal(raft_role(l->r), RAFT_LEADER);
    assert_int_equal(fx_propose(&fx, l, "y"), 0);
    fx_destroy(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_encodes_and_decodes_to_the_same_value),
        cmocka_unit_test(test_config_decode_rejects_duplicate_zero_and_unknown_ids),
        cmocka_unit_test(test_added_node_joins_as_learner_and_is_promoted_when_caught_up),
        cmocka_unit_test(test_learner_is_not_promoted_when_auto_promotion_is_off),
        cmocka_unit_test(test_removed_id_is_never_reused),
        cmocka_unit_test(test_second_change_waits_for_the_first_to_commit),
        cmocka_unit_test(test_configuration_takes_effect_on_followers_when_appended),
        cmocka_unit_test(test_truncated_config_entry_reverts_the_configuration),
        cmocka_unit_test(test_leader_removing_itself_hands_over_leadership),
        cmocka_unit_test(test_removed_node_does_not_disrupt_the_cluster),
        cmocka_unit_test(test_removed_node_does_not_disrupt_without_prevote_or_check_quorum),
        cmocka_unit_test(test_change_on_follower_is_refused),
        cmocka_unit_test(test_last_voter_cannot_be_removed),
        cmocka_unit_test(test_leadership_moves_to_the_named_voter),
        cmocka_unit_test(test_transfer_is_abandoned_after_an_election_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
