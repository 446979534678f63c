/* WATCH's bookkeeping (client/watch.c) against the real command code and
 * store: which applied writes touch a watched key (a modifying write, a
 * deletion, a flush of an existing key, an expiry since WATCH) and which do
 * not (a write that changes nothing, a flush of an absent key, the removal
 * of a key watched stale), and the replicated subtlety: a write proposed
 * but not applied that names a watched key makes the EXEC wait, and the
 * connection is resumed once it applied. Two connections over socketpairs;
 * commands run as the apply path runs them (cmd_check + cmd_execute).
 * The leader's log is a fake (watch.h): entries held but not applied
 * (expiry and eviction DELs, earlier terms' entries on a new leader,
 * writes whose client timed out) must make an EXEC wait or abort. */
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
#include "client/watch.h"
#include "mem/pool.h"
#include "net/loop.h"
#include "store/store.h"
#include "unit/resp/resp_grow.h"

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

/* The leader's log: entries with index > applied are unapplied. */
#define FAKE_MAX 8
struct fake_entry {
    uint64_t index;
    char bytes[512];
    size_t len;
    int unreadable;
};

static struct fake_log {
    uint64_t term, applied;
    struct fake_entry e[FAKE_MAX];
    int n;
} fl;

static uint64_t fake_term(void *data)
{
    return ((struct fake_log *)data)->term;
}

static uint64_t fake_applied(void *data)
{
    return ((struct fake_log *)data)->applied;
}

static int fake_each(void *data, repl_unapplied_cb fn, void *ctx)
{
    struct fake_log *l = data;
    for (int i = 0; i < l->n; i++) {
        struct fake_entry *e = &l->e[i];
        if (e->index <= l->applied)
            continue;
        int rv = fn(ctx, e->index, e->unreadable ? NULL : (uint8_t *)e->bytes,
                    e->len);
        if (rv != 0)
            return rv;
    }
    return 0;
}

static const struct watch_log fake_log = {fake_term, fake_applied, fake_each,
                                          &fl};

/* RESP multibulk of argc args into out; returns its length. */
static size_t encode(char *out, size_t cap, int argc, const char **argv,
                     const size_t *lens)
{
    size_t n = (size_t)snprintf(out, cap, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        n += (size_t)snprintf(out + n, cap - n, "$%zu\r\n", lens[i]);
        memcpy(out + n, argv[i], lens[i]);
        memcpy(out + n + lens[i], "\r\n", 2);
        n += lens[i] + 2;
    }
    return n;
}

/* Encodes a space-separated command line. */
static size_t encode_line(char *out, size_t cap, const char *line)
{
    char copy[256];
    const char *argv[16];
    size_t lens[16];
    int argc = 0;
    snprintf(copy, sizeof(copy), "%s", line);
    for (char *t = strtok(copy, " "); t != NULL && argc < 16;
         t = strtok(NULL, " ")) {
        argv[argc] = t;
        lens[argc++] = strlen(t);
    }
    return encode(out, cap, argc, argv, lens);
}

/* The leader holds line at index, not applied yet. */
static void log_entry(uint64_t index, const char *line)
{
    struct fake_entry *e = &fl.e[fl.n++];
    e->index = index;
    e->unreadable = line == NULL;
    e->len = line != NULL ? encode_line(e->bytes, sizeof(e->bytes), line) : 0;
}

/* A RAFT.MULTI entry of one queued command. */
static void log_multi(uint64_t index, const char *queued)
{
    char inner[256];
    size_t ilen = encode_line(inner, sizeof(inner), queued);
    const char *argv[3] = {"RAFT.MULTI", "1", inner};
    size_t lens[3] = {10, 1, ilen};
    struct fake_entry *e = &fl.e[fl.n++];
    e->index = index;
    e->unreadable = 0;
    e->len = encode(e->bytes, sizeof(e->bytes), 3, argv, lens);
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
    memset(&fl, 0, sizeof(fl));
    fl.term = 3;
    fl.applied = 10;
    watch__set_log(&w.cs, &fake_log);
    w.a = open_conn(&w.peer[0]);
    w.b = open_conn(&w.peer[1]);
    w.sess.resp = 2;
    w.sess.authenticated = 1;
    w.out.proto = 2;
    w.out.grow = test_resp_grow;
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

static void test_eviction_del_not_applied_makes_exec_wait_then_abort(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    log_entry(11, "RAFT.EVICTED x"); /* proposed in the EXEC's iteration */
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    fl.applied = 11;
    apply("DEL x"); /* its apply removes the key: the store's delete hook */
    assert_int_equal(w.a->resume, 1); /* a touch wakes the waiting EXEC */
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
}

static void test_expiry_del_that_removes_nothing_lets_exec_go_once_applied(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    log_entry(11, "RAFT.EXPIRED x"); /* x was revived before it applies */
    int64_t now = loop_now_ms(w.loop); /* the poll reads the loop's clock */
    assert_int_equal(watch__exec_state(w.a, now), WATCH_EXEC_WAIT);
    assert_int_equal(w.a->resume, 0);
    loop_run_once(w.loop); /* the poll: not applied yet */
    assert_int_equal(w.a->resume, 0);
    fl.applied = 11;
    loop_run_once(w.loop);
    assert_int_equal(w.a->resume, 1);
    assert_int_equal(watch__exec_state(w.a, now), WATCH_EXEC_GO);
}

static void test_earlier_term_entry_unapplied_on_new_leader_makes_exec_wait(void **state)
{
    apply("SET x 1");
    log_entry(11, "SET x 2"); /* the old leader's, committed or not */
    log_entry(12, "SET y 1");
    watch(w.a, "x");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    fl.applied = 11;
    apply("SET x 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
}

static void test_timed_out_write_still_in_the_log_keeps_exec_waiting(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    propose(w.b, "SET x 2");
    log_entry(11, "SET x 2");
    proposal_done(w.b, NULL); /* -CLUSTERDOWN: it may commit later */
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    fl.applied = 11;
    apply("SET x 2");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
}

static void test_write_of_a_closed_connection_still_in_the_log_keeps_exec_waiting(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    propose(w.b, "SET x 2");
    log_entry(11, "SET x 2");
    watch__forget(w.b); /* the connection left: its write still applies */
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
}

static void test_unapplied_entries_on_other_keys_let_exec_go(void **state)
{
    apply("SET x 1");
    watch(w.a, "x");
    log_entry(11, "SET y 1");
    log_entry(12, "RAFT.EXPIRED z");
    log_entry(13, "RAFT.EVICTED xx");
    log_entry(14, "MSET q 1 x1 2");
    log_multi(15, "SET z 1");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
}

static void test_transaction_in_the_log_naming_a_watched_key_makes_exec_wait(void **state)
{
    watch(w.a, "x");
    log_multi(11, "INCR x");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
}

static void test_keyless_unknown_or_unreadable_entry_makes_exec_wait(void **state)
{
    watch(w.a, "x");
    log_entry(11, "FLUSHALL");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    fl.applied = 11;
    log_entry(12, "NOSUCHCOMMAND y");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    fl.applied = 12;
    log_entry(13, NULL);
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    fl.applied = 13;
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
}

static void test_term_change_since_watch_aborts_exec(void **state)
{
    watch(w.a, "x");
    fl.term++; /* leadership lost and won again: a snapshot may have loaded */
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
    watch__unwatch(w.a);
    watch(w.a, "x");
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_GO);
    fl.term++;
    watch(w.a, "y"); /* a second WATCH in a later term */
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_ABORT);
}

static void test_exec_waiting_past_the_write_timeout_aborts(void **state)
{
    watch(w.a, "x");
    log_entry(11, "SET x 2"); /* no quorum: it never applies */
    int64_t limit = w.cfg.raft_write_timeout > 0
                        ? w.cfg.raft_write_timeout
                        : 2 * w.cfg.raft_election_timeout;
    assert_int_equal(watch__exec_state(w.a, NOW), WATCH_EXEC_WAIT);
    assert_int_equal(watch__exec_state(w.a, NOW + limit - 1), WATCH_EXEC_WAIT);
    assert_int_equal(watch__exec_state(w.a, NOW + limit), WATCH_EXEC_ABORT);
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
        cmocka_unit_test_setup_teardown(test_eviction_del_not_applied_makes_exec_wait_then_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_del_that_removes_nothing_lets_exec_go_once_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_earlier_term_entry_unapplied_on_new_leader_makes_exec_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timed_out_write_still_in_the_log_keeps_exec_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_of_a_closed_connection_still_in_the_log_keeps_exec_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unapplied_entries_on_other_keys_let_exec_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_in_the_log_naming_a_watched_key_makes_exec_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyless_unknown_or_unreadable_entry_makes_exec_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_term_change_since_watch_aborts_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_waiting_past_the_write_timeout_aborts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
