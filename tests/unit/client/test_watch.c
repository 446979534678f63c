/* WATCH's bookkeeping (client/watch.c) against the real command code and
 * store: which applied writes touch a watched key (a modifying write, a
 * deletion, a flush of an existing key, an expiry since WATCH) and which do
 * not (a write that changes nothing, a flush of an absent key, the removal
 * of a key watched stale), and the replicated subtlety: a write proposed
 * but not applied that names a watched key makes the EXEC wait, and the
 * connection is resumed once it applied. Two connections over socketpairs;
 * commands run as the apply path runs them (cmd_check + cmd_execute). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"
#include "mem/pool.h"
#include "net/loop.h"
#include "store/store.h"

#define NOW 1700000000000LL

struct world {
    struct config cfg;
    struct loop *loop;
    struct pool *pool;
    struct metrics metrics;
    struct cmd_env env;
    struct client_server cs;
    struct conn *a, *b;
    int peer[2];
    struct cmd_session sess;
    struct resp_out out;
};

static struct world w;

static int grow(struct resp_out *o, size_t need)
{
    size_t cap = o->cap ? o->cap : 64;
    while (cap - o->len < need)
        cap *= 2;
    o->data = realloc(o->data, cap);
    o->cap = cap;
    return 0;
}

static struct conn *open_conn(int *peer)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    *peer = fds[1];
    struct conn *c = conn__create(&w.cs, fds[0], 1);
    assert_non_null(c);
    return c;
}

static int setup(void **state)
{
    memset(&w, 0, sizeof(w));
    config_init(&w.cfg);
    w.loop = loop_create();
    assert_non_null(w.loop);
    assert_int_equal(pool_create(&w.pool, NULL), 0);
    assert_int_equal(store_create(&w.env.store, NULL), 0);
    metrics_init(&w.metrics);
    w.env.cfg = &w.cfg;
    w.env.metrics = &w.metrics;
    assert_int_equal(cmd_env_init(&w.env), 0);
    client_server_init(&w.cs, w.loop, w.pool, &w.cfg, &w.metrics, &w.env);
    w.a = open_conn(&w.peer[0]);
    w.b = open_conn(&w.peer[1]);
    w.sess.resp = 2;
    w.sess.authenticated = 1;
    w.out.proto = 2;
    w.out.grow = grow;
    return 0;
}

static int teardown(void **state)
{
    client_close_all(&w.cs);
    watch__free(&w.cs);
    close(w.peer[0]);
    close(w.peer[1]);
    free(w.out.data);
    store_destroy(w.env.store);
    cmd_env_free(&w.env);
    config_free(&w.cfg);
    pool_destroy(w.pool);
    loop_destroy(w.loop);
    return 0;
}

/* Runs a command as the apply path does, at time now. */
static void apply_at(int64_t now, const char *line)
{
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", line);
    struct resp_arg argv[16];
    int argc = resp_split_args(copy, strlen(copy), argv, 16);
    w.out.len = 0;
    struct cmd_ctx c = {.env = &w.env, .sess = &w.sess, .out = &w.out,
                        .argc = argc, .argv = argv, .now = now};
    const struct cmd_def *d;
    assert_int_equal(cmd_check(&c, &d), 0);
    cmd_execute(&c);
}

static void apply(const char *line)
{
    apply_at(NOW, line);
}

static void watch(struct conn *c, const char *key)
{
    struct resp_arg k = {key, strlen(key)};
    watch__add(c, &k, NOW);
}

/* b proposes line (not applied yet), as route_write does. */
static void propose(struct conn *c, const char *line)
{
    static char copy[256];
    snprintf(copy, sizeof(copy), "%s", line);
    struct resp_arg argv[16];
    int argc = resp_split_args(copy, strlen(copy), argv, 16);
    c->wseq_sub++;
    watch__proposed(c, argc, argv, NULL, 0);
}

/* c's oldest proposed write applied (line) or failed (NULL). */
static void proposal_done(struct conn *c, const char *line)
{
    c->wseq_done++;
    watch__write_done(c);
    if (line != NULL)
        apply(line);
}

static void test_write_by_another_client_aborts_exec(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
    apply("SET x 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
    watch__unwatch(w.a);
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
}

static void test_write_that_changes_nothing_is_no_touch(void **state)
{
    apply("SET x 1");
    apply("DEL y");
    watch(w.a, "x");
    watch(w.a, "y");
    apply("SETNX x 2");
    apply("DEL y");
    apply("SET z 1");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
}

static void test_deletion_and_expire_touch(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    apply("DEL x");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
    watch__unwatch(w.a);
    apply("SET x 1");
    watch(w.a, "x");
    apply("EXPIRE x 100");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
}

static void test_flush_touches_existing_watched_keys_only(void **state)
{
    apply("SET x 1");
    apply("DEL y");
    watch(w.a, "y");
    apply("FLUSHALL");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
    apply("SET x 1");
    watch(w.b, "x");
    apply("FLUSHDB");
    assert_int_equal(watch__exec_state(w.b, NOW), WATCH_EXEC_ABORT);
}

static void test_key_expiring_after_watch_aborts_exec(void **state)
{
    char line[64];
    snprintf(line, sizeof(line), "SET x 1 PXAT %lld", NOW + 50);
    apply(line);
    watch(w.a, "x");
    assert_int_equal(watch__exec_state(w.a, NOW + 10), WATCH_EXEC_GO);
    assert_int_equal(watch__exec_state(w.a, NOW + 51), WATCH_EXEC_ABORT);
}

static void test_removal_of_key_watched_stale_is_no_change(void **state)
{
    char line[64];
    snprintf(line, sizeof(line), "SET x 1 PXAT %lld", NOW - 10);
    store_set_hide_expired_only(w.env.store, 1); /* keep it, stale */
    apply_at(NOW - 20, line);
    watch(w.a, "x");
    apply("DEL x");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
    /* once removed, it is an ordinary absent key: a write touches it */
    apply("SET x 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
}

static void test_proposed_write_on_watched_key_makes_exec_wait(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    propose(w.b, "SET x 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    assert_int_equal(w.a->resume, 0);
    proposal_done(w.b, "SET x 2");
    assert_int_equal(w.a->resume, 1); /* resumed to decide again */
    assert_int_equal(w.a->watch_wait, 0);
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
}

static void test_failed_proposal_releases_the_wait_without_touch(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    propose(w.b, "SET x 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    proposal_done(w.b, NULL);
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
}

static void test_proposals_elsewhere_do_not_delay_exec(void **state)
{
    apply("SET x 1");
    propose(w.b, "SET y 1"); /* before the WATCH: not a record */
    watch(w.a, "x");
    propose(w.b, "SET z 1");
    propose(w.b, "MSET q 1 r 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
    propose(w.b, "MSET s 1 x 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    proposal_done(w.b, "SET y 1");
    proposal_done(w.b, "SET z 1");
    proposal_done(w.b, "MSET q 1 r 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    proposal_done(w.b, "MSET s 1 x 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
}

static void test_proposed_flush_makes_every_watch_wait(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    propose(w.b, "FLUSHALL");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    proposal_done(w.b, "FLUSHALL");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_by_another_client_aborts_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_that_changes_nothing_is_no_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletion_and_expire_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_touches_existing_watched_keys_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_expiring_after_watch_aborts_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_of_key_watched_stale_is_no_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proposed_write_on_watched_key_makes_exec_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_proposal_releases_the_wait_without_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proposals_elsewhere_do_not_delay_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proposed_flush_makes_every_watch_wait, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
