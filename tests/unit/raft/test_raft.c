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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_nodes_elect_one_leader_and_commit_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
