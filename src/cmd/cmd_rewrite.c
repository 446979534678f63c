/* Relative TTLs to absolute times on the leader (see cmd_rewrite.h). */
#include "cmd/cmd_rewrite.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

static int is(const struct resp_arg *a, const char *w)
{
    size_t n = strlen(w);
    return a->len == n && strncasecmp(a->ptr, w, n) == 0;
}

/* The absolute time in ms for a TTL of v units (unit: 1000 for seconds,
 * 1 for ms; absolute: v is already a Unix time). 0 when v is not a
 * positive number or overflows: the command then stays as it is. */
static long long abs_ms(const struct cmd_ctx *c, const struct resp_arg *a,
                        long long unit, int absolute)
{
    long long v;
    if (!resp_string_to_ll(a->ptr, a->len, &v) || v <= 0 ||
        v > LLONG_MAX / unit)
        return 0;
    v *= unit;
    if (absolute)
        return v;
    if (v > LLONG_MAX - c->now)
        return 0;
    return v + c->now;
}

static void put_num(struct resp_arg *a, char *scratch, long long v)
{
    a->len = (size_t)resp_ll_to_str(scratch, v);
    a->ptr = scratch;
}

/* SET and GETEX: the first EX/PX/EXAT option becomes PXAT. */
static int rewrite_option(const struct cmd_ctx *c, int from,
                          struct resp_arg *out, char *scratch)
{
    if (c->argc > CMD_REWRITE_MAX_ARGS)
        return 0;
    memcpy(out, c->argv, (size_t)c->argc * sizeof(*out));
    for (int i = from; i + 1 < c->argc; i++) {
        const struct resp_arg *a = &c->argv[i];
        long long unit = is(a, "ex") || is(a, "exat") ? 1000 : 1;
        if (!is(a, "ex") && !is(a, "px") && !is(a, "exat"))
            continue;
        long long at = abs_ms(c, &c->argv[i + 1], unit, is(a, "exat"));
        if (at == 0)
            return 0;
        out[i] = (struct resp_arg){"PXAT", 4};
        put_num(&out[i + 1], scratch, at);
        return c->argc;
    }
    return 0;
}

/* SETEX key seconds value → SET key value PXAT t (PSETEX: ms). */
static int rewrite_setex(const struct cmd_ctx *c, long long unit,
                         struct resp_arg *out, char *scratch)
{
    long long at = abs_ms(c, &c->argv[2], unit, 0);
    if (at == 0)
        return 0;
    out[0] = (struct resp_arg){"SET", 3};
    out[1] = c->argv[1];
    out[2] = c->argv[3];
    out[3] = (struct resp_arg){"PXAT", 4};
    put_num(&out[4], scratch, at);
    return 5;
}

/* EXPIRE/PEXPIRE/EXPIREAT key t [NX|XX|GT|LT] → PEXPIREAT key ms [..]. */
static int rewrite_expire(const struct cmd_ctx *c, long long unit,
                          int absolute, struct resp_arg *out, char *scratch)
{
    if (c->argc > CMD_REWRITE_MAX_ARGS)
        return 0;
    long long at = abs_ms(c, &c->argv[2], unit, absolute);
    if (at == 0)
        return 0;
    memcpy(out, c->argv, (size_t)c->argc * sizeof(*out));
    out[0] = (struct resp_arg){"PEXPIREAT", 9};
    put_num(&out[2], scratch, at);
    return c->argc;
}

int cmd_rewrite(const struct cmd_ctx *c, struct resp_arg *out, char *scratch)
{
    const char *name = c->cmd ? c->cmd->name : "";
    if (!strcmp(name, "set"))
        return rewrite_option(c, 3, out, scratch);
    if (!strcmp(name, "getex"))
        return rewrite_option(c, 2, out, scratch);
    if (!strcmp(name, "setex") && c->argc == 4)
        return rewrite_setex(c, 1000, out, scratch);
    if (!strcmp(name, "psetex") && c->argc == 4)
        return rewrite_setex(c, 1, out, scratch);
    if (!strcmp(name, "expire") && c->argc >= 3)
        return rewrite_expire(c, 1000, 0, out, scratch);
    if (!strcmp(name, "pexpire") && c->argc >= 3)
        return rewrite_expire(c, 1, 0, out, scratch);
    if (!strcmp(name, "expireat") && c->argc >= 3)
        return rewrite_expire(c, 1000, 1, out, scratch);
    return 0;
}
