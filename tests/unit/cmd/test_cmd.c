/* Commands run without a socket: argv and `now` in, reply bytes out, the
 * way the dispatcher (and later the Raft apply path) calls them. Checks
 * lookup, the pre-execution checks and their Redis texts, and the string,
 * key and server commands whose replies clients depend on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/cmd.h"
#include "config.h"
#include "err.h"
#include "metrics/metrics.h"
#include "resp/resp.h"
#include "store/store.h"
#include "unit/resp/resp_grow.h"

struct fixture {
    struct config cfg;
    struct metrics metrics;
    struct cmd_env env;
    struct cmd_session sess;
    struct resp_out out;
    int shutdowns;
    int snapshot_rv;            /* what the fake snapshot hook returns */
    uint64_t snapshot_wait_id;  /* the wait_id it was given */
    struct cmd_snapshot_status snap;
};

static struct fixture *fx;

static void hook_list(void *d, struct metrics_buf *o, uint64_t id)
{
    metrics_buf_printf(o, "id=%llu addr=127.0.0.1:1\n", (unsigned long long)id);
}

static int hook_kill(void *d, const struct cmd_kill_filter *f, uint64_t self)
{
    return 0;
}

static void hook_shutdown(void *d)
{
    fx->shutdowns++;
}

static int hook_snapshot(void *d, uint64_t wait_id)
{
    fx->snapshot_wait_id = wait_id;
    return fx->snapshot_rv;
}

static int hook_snapshot_status(void *d, struct cmd_snapshot_status *st)
{
    *st = fx->snap;
    return 0;
}

static int setup(void **state)
{
    fx = calloc(1, sizeof(*fx));
    config_init(&fx->cfg);
    metrics_init(&fx->metrics);
    fx->env.cfg = &fx->cfg;
    fx->env.metrics = &fx->metrics;
    assert_int_equal(store_create(&fx->env.store, NULL), 0);
    fx->env.hooks.client_list = hook_list;
    fx->env.hooks.client_kill = hook_kill;
    fx->env.hooks.shutdown = hook_shutdown;
    assert_int_equal(cmd_env_init(&fx->env), 0);
    fx->sess.id = 7;
    fx->sess.resp = 2;
    fx->out.proto = 2;
    fx->out.grow = test_resp_grow;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    store_destroy(fx->env.store);
    cmd_env_free(&fx->env);
    cmd_session_free(&fx->sess);
    config_free(&fx->cfg);
    free(fx->out.data);
    free(fx);
    return 0;
}

/* Runs one command given as space-separated words at time `now` and
 * returns its reply as a NUL-terminated string (valid until next call). */
static const char *run_at(int64_t now, const char *line)
{
    static char copy[4096];
    snprintf(copy, sizeof(copy), "%s", line);
    struct resp_arg argv[32];
    int argc = resp_split_args(copy, strlen(copy), argv, 32);
    fx->out.len = 0;
    struct cmd_ctx c = {.env = &fx->env, .sess = &fx->sess, .out = &fx->out,
                        .argc = argc, .argv = argv, .now = now};
    const struct cmd_def *d;
    if (cmd_check(&c, &d) == 0)
        cmd_execute(&c);
    test_resp_grow(&fx->out, 1);
    fx->out.data[fx->out.len] = '\0';
    return fx->out.data;
}

#define NOW 1700000000000LL
static const char *run(const char *line)
{
    return run_at(NOW, line);
}

static void test_lookup_is_case_insensitive_and_finds_subcommands(void **state)
{
    struct resp_arg a[2] = {{"GeT", 3}, {"x", 1}};
    int unknown;
    const struct cmd_def *d = cmd_lookup(2, a, &unknown);
    assert_non_null(d);
    assert_string_equal(d->name, "get");
    assert_int_equal(d->arity, 2);
    assert_true(d->flags & CMD_READONLY);
    struct resp_arg b[2] = {{"client", 6}, {"SETNAME", 7}};
    d = cmd_lookup(2, b, &unknown);
    assert_string_equal(d->name, "client|setname");
    struct resp_arg e[2] = {{"client", 6}, {"nope", 4}};
    d = cmd_lookup(2, e, &unknown);
    assert_true(unknown);
}

static void test_checks_reply_redis_texts(void **state)
{
    assert_string_equal(run("foo a b"),
        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    assert_string_equal(run("get"),
        "-ERR wrong number of arguments for 'get' command\r\n");
    assert_string_equal(run("client"),
        "-ERR wrong number of arguments for 'client' command\r\n");
    assert_string_equal(run("client foo"),
        "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
    assert_string_equal(run("config set timeout"),
        "-ERR wrong number of arguments for 'config|set' command\r\n");
}

static void test_requirepass_gives_noauth_until_auth(void **state)
{
    assert_string_equal(run("config set requirepass secret"), "+OK\r\n");
    assert_string_equal(run("get k"), "-NOAUTH Authentication required.\r\n");
    assert_string_equal(run("auth wrong"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    assert_string_equal(run("auth secret"), "+OK\r\n");
    assert_string_equal(run("get k"), "$-1\r\n");
}

static void test_set_options_and_errors(void **state)
{
    assert_string_equal(run("set k v"), "+OK\r\n");
    assert_string_equal(run("set k v2 nx"), "$-1\r\n");
    assert_string_equal(run("set k v2 xx get"), "$1\r\nv\r\n");
    assert_string_equal(run("set k v nx xx"), "-ERR syntax error\r\n");
    assert_string_equal(run("set k v ex 0"),
        "-ERR invalid expire time in 'set' command\r\n");
    assert_string_equal(run("set k v px x"),
        "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run("set k v keepttl ex 1"), "-ERR syntax error\r\n");
    assert_string_equal(run("setex k -1 v"),
        "-ERR invalid expire time in 'setex' command\r\n");
    assert_string_equal(run("get k"), "$2\r\nv2\r\n");
}

static void test_expiry_follows_the_given_clock(void **state)
{
    assert_string_equal(run_at(NOW, "set k v px 1500"), "+OK\r\n");
    assert_string_equal(run_at(NOW, "ttl k"), ":2\r\n");
    assert_string_equal(run_at(NOW + 1000, "pttl k"), ":500\r\n");
    assert_string_equal(run_at(NOW + 1501, "get k"), "$-1\r\n");
    assert_string_equal(run_at(NOW, "set k v"), "+OK\r\n");
    assert_string_equal(run_at(NOW, "expire k 100 xx"), ":0\r\n");
    assert_string_equal(run_at(NOW, "expire k 100 nx"), ":1\r\n");
    assert_string_equal(run_at(NOW, "expire k 50 gt"), ":0\r\n");
    assert_string_equal(run_at(NOW, "expire k 50 lt"), ":1\r\n");
    assert_string_equal(run_at(NOW, "expiretime k"), ":1700000050\r\n");
    assert_string_equal(run_at(NOW, "expire k 1 nx xx"),
        "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    assert_string_equal(run_at(NOW, "persist k"), ":1\r\n");
    assert_string_equal(run_at(NOW, "ttl k"), ":-1\r\n");
    assert_string_equal(run_at(NOW, "expire k -1"), ":1\r\n");
    assert_string_equal(run_at(NOW, "exists k"), ":0\r\n");
}

static void test_counters_and_overflow(void **state)
{
    assert_string_equal(run("incr n"), ":1\r\n");
    assert_string_equal(run("incrby n 41"), ":42\r\n");
    assert_string_equal(run("decrby n 2"), ":40\r\n");
    assert_string_equal(run("set n 9223372036854775807"), "+OK\r\n");
    assert_string_equal(run("incr n"),
        "-ERR increment or decrement would overflow\r\n");
    assert_string_equal(run("set s abc"), "+OK\r\n");
    assert_string_equal(run("incr s"),
        "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run("set f 10.50"), "+OK\r\n");
    assert_string_equal(run("incrbyfloat f 0.1"), "$4\r\n10.6\r\n");
    assert_string_equal(run("incrbyfloat s 1"),
        "-ERR value is not a valid float\r\n");
    assert_string_equal(run("object encoding f"), "$6\r\nembstr\r\n");
}

static void test_ranges_and_append(void **state)
{
    assert_string_equal(run("set k Hello"), "+OK\r\n");
    assert_string_equal(run("append k World"), ":10\r\n");
    assert_string_equal(run("getrange k -5 -1"), "$5\r\nWorld\r\n");
    assert_string_equal(run("getrange k 5 1"), "$0\r\n\r\n");
    assert_string_equal(run("getrange nokey 0 -1"), "$0\r\n\r\n");
    assert_string_equal(run("setrange k 12 !"), ":13\r\n");
    assert_string_equal(run("get k"), "$13\r\nHelloWorld\0\0!\r\n");
    assert_string_equal(run("setrange new 2 ab"), ":4\r\n");
    assert_string_equal(run("strlen new"), ":4\r\n");
    assert_string_equal(run("setrange k -1 x"), "-ERR offset is out of range\r\n");
}

static void test_multi_key_commands(void **state)
{
    assert_string_equal(run("mset a 1 b 2"), "+OK\r\n");
    assert_string_equal(run("mset a 1 b"),
        "-ERR wrong number of arguments for 'mset' command\r\n");
    assert_string_equal(run("msetnx b 3 c 4"), ":0\r\n");
    assert_string_equal(run("mget a c b"), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
    assert_string_equal(run("del a b c"), ":2\r\n");
    assert_string_equal(run("rename a x"), "-ERR no such key\r\n");
}

static void test_config_get_globs_and_set_validates(void **state)
{
    assert_string_equal(run("config get maxmemory"),
        "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    assert_string_equal(run("config get databases"),
        "*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n");
    const char *r = run("config get *max*");
    assert_non_null(strstr(r, "maxclients"));
    assert_non_null(strstr(r, "proto-max-bulk-len"));
    assert_string_equal(run("config set foo 1"),
        "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n");
    assert_string_equal(run("config set maxmemory 1x"),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n");
    /* all or nothing: timeout must not stay changed */
    assert_string_equal(run("config set timeout 5 hz x"),
        "-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n");
    assert_string_equal(run("config get timeout"), "*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n");
    assert_string_equal(run("config set databases 2"),
        "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n");
}

static void test_hello_3_switches_to_resp3(void **state)
{
    const char *r = run("hello 3");
    assert_memory_equal(r, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n", 26);
    assert_int_equal(fx->sess.resp, 3);
    assert_string_equal(run("get nokey"), "_\r\n");
    assert_string_equal(run("hello 4"), "-NOPROTO unsupported protocol version\r\n");
}

static void test_select_and_shutdown(void **state)
{
    assert_string_equal(run("select 0"), "+OK\r\n");
    assert_string_equal(run("select 1"), "-ERR DB index is out of range\r\n");
    assert_string_equal(run("shutdown nosave"), "");
    assert_int_equal(fx->shutdowns, 1);
    assert_string_equal(run("debug sleep 0"),
        "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n");
}

static void test_config_file_errors_name_option_and_line(void **state)
{
    struct config cfg;
    char err[256];
    config_init(&cfg);
    assert_int_equal(config_load_text(&cfg, "port 7000\n# comment\nbind 127.0.0.1 ::1\n", 1, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 7000);
    assert_int_equal(cfg.nbind, 2);
    assert_int_equal(config_load_text(&cfg, "port 7000\nfoo bar\n", 1, err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, "line 2: 'foo bar': Bad directive or wrong number of arguments");
    assert_int_equal(config_load_text(&cfg, "\nport 99999\n", 1, err, sizeof(err)), ERR_INVALID);
    assert_string_equal(err, "line 2: 'port 99999': argument must be between 0 and 65535 inclusive");
    assert_int_equal(config_load_text(&cfg, "maxmemory 1gb\nclient-output-buffer-limit normal 1mb 512kb 10\n", 1, err, sizeof(err)), 0);
    assert_int_equal(cfg.maxmemory, 1024LL * 1024 * 1024);
    assert_int_equal(cfg.obuf[CONFIG_OBUF_NORMAL].soft_bytes, 512 * 1024);
    char *argv[] = {"--port", "7001", "--bind", "a", "b"};
    char *text = config_args_to_text(5, argv, err, sizeof(err));
    assert_string_equal(text, "port \"7001\"\nbind \"a\" \"b\"\n");
    free(text);
    config_free(&cfg);
}

static void collect(const char *name, const char *value, void *data)
{
    const char *text = data;
    char needle[128];
    snprintf(needle, sizeof(needle), "\n%s ", name);
    if (strstr(text, needle) == NULL)
        fail_msg("redis.conf.sample does not document %s", name);
}

static void test_sample_config_documents_every_option_and_loads(void **state)
{
    FILE *f = fopen("redis.conf.sample", "r");
    if (f == NULL)
        skip();
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    struct config cfg;
    char err[256];
    config_init(&cfg);
    assert_int_equal(config_load_file(&cfg, "redis.conf.sample", err, sizeof(err)), 0);
    config_get_matching(&cfg, "*", 1, collect, text);
    assert_int_equal(cfg.port, 6379);
    assert_string_equal(cfg.bind[0], "127.0.0.1");
    assert_int_equal(cfg.databases, 1);
    config_free(&cfg);
}

static void test_command_docs_arguments_come_from_usage(void **state)
{
    const char *r = run("command docs mset");
    assert_non_null(strstr(r, "$5\r\nblock\r\n"));
    assert_non_null(strstr(r, "+multiple"));
    assert_string_equal(run("command getkeys mset a 1 b 2"),
                        "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
}

static void test_save_and_bgsave_without_raft_group_say_no_rdb_file(void **state)
{
    fx->env.start_ms = NOW - 5000;
    assert_string_equal(run("save"), "-ERR raftcache keeps no RDB file: SAVE is not supported\r\n");
    assert_string_equal(run("bgsave"), "-ERR raftcache keeps no RDB file: BGSAVE is not supported\r\n");
    assert_string_equal(run("bgsave now"), "-ERR syntax error\r\n");
    assert_string_equal(run("lastsave"), ":1699999995\r\n");
}

static void test_bgsave_replies_redis_texts_for_each_snapshot_outcome(void **state)
{
    fx->env.hooks.snapshot = hook_snapshot;
    struct { int rv; const char *reply; } cases[] = {
        {CMD_SNAPSHOT_STARTED, "+Background saving started\r\n"},
        {CMD_SNAPSHOT_CURRENT, "+Background saving started\r\n"},
        {CMD_SNAPSHOT_SCHEDULED, "+Background saving scheduled\r\n"},
        {ERR_BUSY, "-ERR Background save already in progress\r\n"},
        {ERR_IO, "-ERR\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx->snapshot_rv = cases[i].rv;
        assert_string_equal(run("bgsave"), cases[i].reply);
        assert_string_equal(run("BGSAVE schedule"), cases[i].reply);
        assert_int_equal(fx->snapshot_wait_id, 0);
    }
    assert_string_equal(run("bgsave schedule now"), "-ERR syntax error\r\n");
    assert_string_equal(run("bgsave now"), "-ERR syntax error\r\n");
}

static void test_save_parks_its_connection_and_replies_nothing_yet(void **state)
{
    fx->env.hooks.snapshot = hook_snapshot;
    fx->snapshot_rv = CMD_SNAPSHOT_WAITING;
    assert_string_equal(run("save"), "");
    assert_int_equal(fx->snapshot_wait_id, 7);
    fx->snapshot_rv = CMD_SNAPSHOT_CURRENT;
    assert_string_equal(run("save"), "+OK\r\n");
    fx->snapshot_rv = ERR_BUSY;
    assert_string_equal(run("save"), "-ERR Background save already in progress\r\n");
    fx->snapshot_rv = ERR_IO;
    assert_string_equal(run("save"), "-ERR\r\n");
    assert_string_equal(run("save now"),
                        "-ERR wrong number of arguments for 'save' command\r\n");
}

static void no_clients(struct metrics_buf *out, void *data)
{
}

static void test_lastsave_and_info_persistence_follow_the_snapshot(void **state)
{
    cmd_register_info(&fx->env, no_clients, NULL);
    fx->env.start_ms = NOW - 5000;
    fx->env.hooks.snapshot_status = hook_snapshot_status;
    fx->snap = (struct cmd_snapshot_status){.last_ok = 1, .changes = 3};
    assert_string_equal(run("lastsave"), ":1699999995\r\n");
    const char *r = run("info persistence");
    assert_non_null(strstr(r, "rdb_changes_since_last_save:3\r\n"));
    assert_non_null(strstr(r, "rdb_last_save_time:1699999995\r\n"));
    assert_non_null(strstr(r, "rdb_bgsave_in_progress:0\r\n"));
    fx->snap = (struct cmd_snapshot_status){.running = 1, .last_ok = 0,
                                            .last_ms = NOW - 1000};
    assert_string_equal(run("lastsave"), ":1699999999\r\n");
    r = run("info persistence");
    assert_non_null(strstr(r, "rdb_bgsave_in_progress:1\r\n"));
    assert_non_null(strstr(r, "rdb_last_bgsave_status:err\r\n"));
    assert_non_null(strstr(r, "rdb_last_save_time:1699999999\r\n"));
    assert_non_null(strstr(r, "rdb_changes_since_last_save:0\r\n"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_lookup_is_case_insensitive_and_finds_subcommands),
        T(test_checks_reply_redis_texts),
        T(test_requirepass_gives_noauth_until_auth),
        T(test_set_options_and_errors),
        T(test_expiry_follows_the_given_clock),
        T(test_counters_and_overflow),
        T(test_ranges_and_append),
        T(test_multi_key_commands),
        T(test_config_get_globs_and_set_validates),
        T(test_hello_3_switches_to_resp3),
        T(test_select_and_shutdown),
        T(test_config_file_errors_name_option_and_line),
        T(test_command_docs_arguments_come_from_usage),
        T(test_sample_config_documents_every_option_and_loads),
        T(test_save_and_bgsave_without_raft_group_say_no_rdb_file),
        T(test_bgsave_replies_redis_texts_for_each_snapshot_outcome),
        T(test_save_parks_its_connection_and_replies_nothing_yet),
        T(test_lastsave_and_info_persistence_follow_the_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
