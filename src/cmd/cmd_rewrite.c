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

static int is_ttl_option(const struct resp_arg *a)
{
    return is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat") ||
           is(a, "keepttl") || is(a, "persist");
}

/* SET and GETEX: a single EX/PX/EXAT option becomes PXAT. */
static int rewrite_option(const struct cmd_ctx *c, int from,
                          struct resp_arg *out, char *scratch)
{
    int options = 0;
    if (c->argc > CMD_REWRITE_MAX_ARGS)
        return 0;
    for (int i = from; i < c->argc; i++)
        options += is_ttl_option(&c->argv[i]);
    if (options != 1)
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

int cmd_rewrite(const struct cmd_ctx *c, struct resp_arg *out, char *scratch)
{
    const char *name = c->cmd ? c->cmd->name : "";
    if (!strcmp(name, "set"))
        return rewrite_option(c, 3, out, scratch);
    if (!strcmp(name, "getex"))
        return rewrite_option(c, 2, out, scratch);
    return 0;
}
