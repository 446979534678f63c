/* The replicated write path (the harness is repl_harness.h). Covers:
 * every node applies the same sequence; parked writes wake in request
 * order; N writes of one iteration are one proposal, and the writes of
 * the iterations while a batch is in flight one more; a follower
 * refuses writes and names the leader; reads wait for their read index;
 * a leader cut off from its peers lets parked writes hit their deadline;
 * a single node bootstraps, serves at once and replays its log after a
 * restart. */
#include "repl_harness.h"

static void test_three_nodes_apply_the_same_sequence_in_order(void **state)
{
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    struct repl_stats before, after;
    repl_get_stats(nodes[l].repl, &before);
    for (int i = 0; i < 200; i++)
        submit_set(nodes[l].repl, i + 1, i);
    target_wakes = 200;
    assert_true(run_until(enough_wakes, 5000));
    repl_get_stats(nodes[l].repl, &after);
    /* N writes in one iteration: one proposal of N entries */
    assert_int_equal(after.proposals - before.proposals, 1);
    assert_int_equal(after.proposed - before.proposed, 200);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(wakes[i].owner, i + 1);
        assert_int_equal(wakes[i].status, 0);
    }
    target_applied = 200;
    assert_true(run_until(all_applied, 5000));
    for (int n = 2; n <= 3; n++) {
        assert_int_equal(nodes[n].n_applied, nodes[1].n_applied);
        for (int i = 0; i < nodes[1].n_applied; i++) {
            assert_int_equal(nodes[n].applied[i].index,
                             nodes[1].applied[i].index);
            assert_string_equal(nodes[n].applied[i].bytes,
                                nodes[1].applied[i].bytes);
        }
    }
    assert_string_equal(nodes[1].applied[0].bytes,
                        "*3\r\n$3\r\nSET\r\n$2\r\nk0\r\n$2\r\nv0\r\n");
    stop();
}

/* With a batch in flight the leader keeps collecting: the writes of the
 * iterations before it commits go out as one proposal (pipeline_batches
 * 1); with no limit every iteration proposes its own. */
static bool leader_caught_up(void)
{
    int l = leader();
    return l != 0 && repl_applied_index(nodes[l].repl) ==
                         repl_last_index(nodes[l].repl);
}

static int proposals_for_three_iterations(uint32_t limit)
{
    pipeline = limit;
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    assert_true(run_until(leader_caught_up, 5000)); /* its no-op committed */
    struct repl *r = nodes[leader()].repl;
    struct repl_stats before, after;
    repl_get_stats(r, &before);
    for (int it = 0; it < 3; it++) {
        for (int i = 0; i < 10; i++)
            submit_set(r, it * 10 + i + 1, it * 10 + i);
        repl_before_sleep(r); /* no bus event between: nothing commits */
    }
    target_wakes = 30;
    assert_true(run_until(enough_wakes, 5000));
    for (int i = 0; i < 30; i++) {
        assert_int_equal(wakes[i].owner, i + 1);
        assert_int_equal(wakes[i].status, 0);
    }
    repl_get_stats(r, &after);
    stop();
    pipeline = 1;
    return (int)(after.proposals - before.proposals);
}

static void test_leader_collects_writes_while_a_batch_is_in_flight(
    void **state)
{
    assert_int_equal(proposals_for_three_iterations(1), 2);
    assert_int_equal(proposals_for_three_iterations(2), 3);
    assert_int_equal(proposals_for_three_iterations(0), 3);
}

static void test_follower_refuses_writes_and_names_the_leader(void **state)
{
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    int f = l % 3 + 1;
    struct resp_arg argv[2] = {{"DEL", 3}, {"x", 1}};
    assert_int_equal(repl_submit_argv(nodes[f].repl, (void *)1, 2, argv),
                     ERR_NOTLEADER);
    assert_int_equal(repl_submit_read(nodes[f].repl, (void *)1, false),
                     ERR_NOTLEADER);
    const char *host;
    int port;
    assert_true(repl_leader_addr(nodes[f].repl, &host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7000 + l);
    stop();
}

static void test_reads_wake_after_their_read_index_is_applied(void **state)
{
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    submit_set(nodes[l].repl, 1, 1);
    assert_int_equal(repl_submit_read(nodes[l].repl, (void *)2, false), 0);
    assert_int_equal(repl_submit_read(nodes[l].repl, (void *)3, true), 0);
    target_wakes = 3;
    assert_true(run_until(enough_wakes, 5000));
    /* A read's index is the commit index when it was asked: it need not
     * wait for a write still in flight (the dispatcher orders one
     * connection's requests itself). */
    for (int i = 0; i < 3; i++)
        assert_int_equal(wakes[i].status, 0);
    assert_true(repl_applied_index(nodes[l].repl) >= 2);
    stop();
}

static void test_follower_read_waits_for_the_leaders_read_index(void **state)
{
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    int f = l % 3 + 1;
    submit_set(nodes[l].repl, 1, 1);
    target_wakes = 1;
    assert_true(run_until(enough_wakes, 5000));
    assert_int_equal(wakes[0].status, 0);
    uint64_t written = repl_applied_index(nodes[l].repl);
    assert_int_equal(repl_submit_follower_read(nodes[f].repl, (void *)2), 0);
    target_wakes = 2;
    assert_true(run_until(enough_wakes, 5000));
    assert_int_equal(wakes[1].owner, 2);
    assert_int_equal(wakes[1].status, 0);
    /* The write acknowledged before the read is applied on the follower. */
    assert_true(repl_applied_index(nodes[f].repl) >= written);
    stop();
}

static void test_cut_off_leader_lets_parked_writes_expire(void **state)
{
    start(3, 300);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    isolate(l);
    if (repl_is_leader(nodes[l].repl))
        submit_set(nodes[l].repl, 7, 7);
    else
        return stop();
    target_wakes = 1;
    assert_true(run_until(enough_wakes, 3000));
    assert_int_equal(wakes[0].owner, 7);
    assert_int_not_equal(wakes[0].status, 0);
    struct repl_stats st;
    repl_get_stats(nodes[l].repl, &st);
    stop();
}

static int failed_node;
static bool other_leader(void)
{
    int l = leader();
    return l != 0 && l != failed_node &&
           repl_leader_id(nodes[failed_node].repl) == (uint64_t)l;
}

/* A leader whose log write fails leaves the group: its parked write gets
 * an error, it stops heartbeating so the others elect a leader, and it
 * names that leader to its clients, never itself. */
static void test_leader_whose_log_fails_leaves_the_group(void **state)
{
    start(3, 2000);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    failed_node = l;
    wal_mem_fail_write(nodes[l].disk, 1, 1);
    submit_set(nodes[l].repl, 9, 9);
    target_wakes = 1;
    assert_true(run_until(enough_wakes, 3000));
    assert_int_equal(wakes[0].owner, 9);
    assert_int_not_equal(wakes[0].status, 0);
    assert_false(repl_is_leader(nodes[l].repl));
    assert_true(repl_leader_id(nodes[l].repl) != (uint64_t)l);
    assert_true(run_until(other_leader, 5000));
    const char *host;
    int port;
    assert_true(repl_leader_addr(nodes[l].repl, &host, &port));
    assert_int_equal(port, 7000 + leader());
    struct resp_arg argv[2] = {{"DEL", 3}, {"x", 1}};
    assert_int_equal(repl_submit_argv(nodes[l].repl, (void *)1, 2, argv),
                     ERR_NOTLEADER);
    assert_int_equal(repl_submit_follower_read(nodes[l].repl, (void *)1),
                     ERR_NOTLEADER);
    stop();
}

static bool single_leader(void)
{
    return nodes[1].repl && repl_is_leader(nodes[1].repl);
}

static void test_single_node_serves_at_once_and_replays_after_restart(
    void **state)
{
    start(1, 2000);
    assert_true(run_until(single_leader, 1000));
    for (int i = 0; i < 10; i++)
        submit_set(nodes[1].repl, i + 1, i);
    target_wakes = 10;
    assert_true(run_until(enough_wakes, 2000));
    int applied = nodes[1].n_applied;
    assert_int_equal(applied, 10);
    close_node(&nodes[1]);
    nodes[1].n_applied = 0;
    open_repl(&nodes[1], 1, 2000);
    assert_true(run_until(single_leader, 1000));
    target_applied = 10;
    assert_true(run_until(all_applied, 2000));
    assert_string_equal(nodes[1].applied[9].bytes,
                        "*3\r\n$3\r\nSET\r\n$2\r\nk9\r\n$2\r\nv9\r\n");
    stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_nodes_apply_the_same_sequence_in_order),
        cmocka_unit_test(test_leader_collects_writes_while_a_batch_is_in_flight),
        cmocka_unit_test(test_follower_refuses_writes_and_names_the_leader),
        cmocka_unit_test(test_reads_wake_after_their_read_index_is_applied),
        cmocka_unit_test(test_follower_read_waits_for_the_leaders_read_index),
        cmocka_unit_test(test_cut_off_leader_lets_parked_writes_expire),
        cmocka_unit_test(test_leader_whose_log_fails_leaves_the_group),
        cmocka_unit_test(
            test_single_node_serves_at_once_and_replays_after_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
