/* repl_watch.c against real repl instances (the harness of
 * test_repl.c: in-memory WALs, loopback transports, one loop): the entries
 * a leader holds unapplied, as WATCH reads them, are this iteration's open
 * batch (its own expiry and eviction DELs included) and then its log
 * beyond the applied index, which keeps a write whose client got its
 * deadline (the write may still commit); once applied they are gone. */
#include "repl/repl_watch.h"
#include "repl_harness.h"

static bool single_leader(void)
{
    return nodes[1].repl && repl_is_leader(nodes[1].repl);
}

struct seen {
    int n;
    uint64_t index[8];
    char bytes[8][64];
};

static int record(void *ctx, uint64_t index, const uint8_t *cmd, size_t len)
{
    struct seen *s = ctx;
    assert_non_null(cmd);
    assert_true(s->n < 8);
    size_t k = len < 63 ? len : 63;
    s->index[s->n] = index;
    memcpy(s->bytes[s->n], cmd, k);
    s->bytes[s->n][k] = '\0';
    s->n++;
    return 0;
}

static int stop_at_first(void *ctx, uint64_t index, const uint8_t *cmd,
                         size_t len)
{
    *(uint64_t *)ctx = index;
    return 7;
}

static void test_open_batch_is_unapplied_until_applied(void **state)
{
    start(1, 2000);
    assert_true(run_until(single_leader, 1000));
    struct repl *r = nodes[1].repl;
    target_applied = 0;
    struct seen s = {0};
    assert_int_equal(repl_each_unapplied(r, record, &s), 0);
    assert_int_equal(s.n, 0);
    uint64_t last = repl_last_index(r);
    submit_set(r, 1, 1);
    struct resp_arg del[2] = {{"RAFT.EVICTED", 12}, {"x", 1}};
    assert_int_equal(repl_propose_internal(r, 2, del), 0);
    assert_int_equal(repl_each_unapplied(r, record, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.index[0], last + 1);
    assert_int_equal(s.index[1], last + 2);
    assert_string_equal(s.bytes[0], "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$2\r\nv1\r\n");
    assert_string_equal(s.bytes[1], "*2\r\n$12\r\nRAFT.EVICTED\r\n$1\r\nx\r\n");
    uint64_t first = 0;
    assert_int_equal(repl_each_unapplied(r, stop_at_first, &first), 7);
    assert_int_equal(first, last + 1);
    target_applied = 2;
    assert_true(run_until(all_applied, 2000));
    s.n = 0;
    assert_int_equal(repl_each_unapplied(r, record, &s), 0);
    assert_int_equal(s.n, 0);
    assert_true(repl_term(r) > 0);
    stop();
}

static void test_timed_out_write_stays_unapplied_in_the_log(void **state)
{
    start(3, 300);
    assert_true(run_until(have_leader, 5000));
    int l = leader();
    uint64_t term = repl_term(nodes[l].repl);
    isolate(l);
    if (!repl_is_leader(nodes[l].repl))
        return stop();
    submit_set(nodes[l].repl, 7, 7);
    target_wakes = 1;
    assert_true(run_until(enough_wakes, 3000));
    assert_int_not_equal(wakes[0].status, 0);
    /* Its client was told -CLUSTERDOWN; the entry may still commit. */
    struct seen s = {0};
    repl_each_unapplied(nodes[l].repl, record, &s);
    assert_true(s.n >= 1);
    assert_int_equal(s.index[s.n - 1], repl_last_index(nodes[l].repl));
    assert_string_equal(s.bytes[s.n - 1],
                        "*3\r\n$3\r\nSET\r\n$2\r\nk7\r\n$2\r\nv7\r\n");
    assert_true(repl_term(nodes[l].repl) >= term);
    stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_batch_is_unapplied_until_applied),
        cmocka_unit_test(test_timed_out_write_stays_unapplied_in_the_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
