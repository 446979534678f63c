/* The leader's rewriting of clock-dependent commands before proposing:
 * relative TTLs become absolute PXAT / PEXPIREAT times from the leader's
 * `now`; commands that would fail, and commands without a TTL, are left
 * as they came so that apply replies Redis' own error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/cmd_rewrite.h"

#define NOW 1700000000000LL

static int rewrite(const char *const *words, int argc, struct resp_arg *out,
                   char *scratch)
{
    static struct resp_arg argv[CMD_REWRITE_MAX_ARGS];
    for (int i = 0; i < argc; i++)
        argv[i] = (struct resp_arg){words[i], strlen(words[i])};
    int unknown;
    struct cmd_ctx c = {.argc = argc, .argv = argv, .now = NOW};
    c.cmd = cmd_lookup(argc, argv, &unknown);
    return cmd_rewrite(&c, out, scratch);
}

static void assert_arg(const struct resp_arg *a, const char *want)
{
    assert_int_equal(a->len, strlen(want));
    assert_memory_equal(a->ptr, want, a->len);
}

static void test_set_ex_becomes_pxat_from_the_leader_clock(void **state)
{
    const char *w[] = {"SET", "k", "v", "EX", "10"};
    struct resp_arg out[CMD_REWRITE_MAX_ARGS];
    char scratch[CMD_REWRITE_SCRATCH];
    assert_int_equal(rewrite(w, 5, out, scratch), 5);
    assert_arg(&out[3], "PXAT");
    assert_arg(&out[4], "1700000010000");
    assert_arg(&out[2], "v");
}

static void test_setex_becomes_set_with_pxat(void **state)
{
    const char *w[] = {"SETEX", "k", "5", "v"};
    struct resp_arg out[CMD_REWRITE_MAX_ARGS];
    char scratch[CMD_REWRITE_SCRATCH];
    assert_int_equal(rewrite(w, 4, out, scratch), 5);
    assert_arg(&out[0], "SET");
    assert_arg(&out[1], "k");
    assert_arg(&out[2], "v");
    assert_arg(&out[3], "PXAT");
    assert_arg(&out[4], "1700000005000");
}

static void test_expire_becomes_pexpireat_keeping_flags(void **state)
{
    const char *w[] = {"EXPIRE", "k", "3", "NX"};
    struct resp_arg out[CMD_REWRITE_MAX_ARGS];
    char scratch[CMD_REWRITE_SCRATCH];
    assert_int_equal(rewrite(w, 4, out, scratch), 4);
    assert_arg(&out[0], "PEXPIREAT");
    assert_arg(&out[2], "1700000003000");
    assert_arg(&out[3], "NX");
}

static void test_bad_or_absent_ttl_is_left_alone(void **state)
{
    struct resp_arg out[CMD_REWRITE_MAX_ARGS];
    char scratch[CMD_REWRITE_SCRATCH];
    const char *zero[] = {"SET", "k", "v", "EX", "0"};
    assert_int_equal(rewrite(zero, 5, out, scratch), 0);
    const char *junk[] = {"SET", "k", "v", "PX", "abc"};
    assert_int_equal(rewrite(junk, 5, out, scratch), 0);
    const char *plain[] = {"SET", "k", "v"};
    assert_int_equal(rewrite(plain, 3, out, scratch), 0);
    const char *incr[] = {"INCR", "k"};
    assert_int_equal(rewrite(incr, 2, out, scratch), 0);
}

int main(void)
{
    static struct cmd_env env;
    assert_int_equal(cmd_env_init(&env), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_ex_becomes_pxat_from_the_leader_clock),
        cmocka_unit_test(test_setex_becomes_set_with_pxat),
        cmocka_unit_test(test_expire_becomes_pexpireat_keeping_flags),
        cmocka_unit_test(test_bad_or_absent_ttl_is_left_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
