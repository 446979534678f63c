/* Argument helpers for command procedures: integers and floats parsed
 * exactly as Redis parses them (string2ll, string2ld), with Redis' error
 * replies (the _or_reply helpers), key hashing, HELP replies and the
 * string-typed lookup every string command starts with. */
#include "cmd/cmd_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int cmd__arg_ll(const struct cmd_ctx *c, int i, long long *out)
{
    return resp_string_to_ll(c->argv[i].ptr, c->argv[i].len, out) ? 0 : -1;
}

int cmd__ll_or_reply(struct cmd_ctx *c, int i, long long *out)
{
    if (cmd__arg_ll(c, i, out) == 0)
        return 0;
    cmd_fail(c, CMD_ERR_NOT_INT);
    return -1;
}

/* Redis string2ld: strtold over the whole slice, no spaces, no NaN. */
int cmd__string_to_ld(const char *s, size_t len, long double *out)
{
    char buf[5200];
    if (len == 0 || len >= sizeof(buf) || isspace((unsigned char)s[0]))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != len || isnan(v) ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)))
        return 0;
    *out = v;
    return 1;
}

int cmd__ld_or_reply(struct cmd_ctx *c, int i, long double *out)
{
    if (cmd__string_to_ld(c->argv[i].ptr, c->argv[i].len, out))
        return 0;
    cmd_fail(c, CMD_ERR_NOT_FLOAT);
    return -1;
}

void cmd__key(struct cmd_ctx *c, int i, struct store_key *k)
{
    store_key_init(c->env->store, k, c->argv[i].ptr, c->argv[i].len);
}

const char *cmd__arg_cstr(const struct cmd_ctx *c, int i, char *buf,
                          size_t len)
{
    size_t n = c->argv[i].len < len - 1 ? c->argv[i].len : len - 1;
    memcpy(buf, c->argv[i].ptr, n);
    buf[n] = '\0';
    return buf;
}

void cmd__reply_help(struct cmd_ctx *c, const char *const *lines)
{
    char name[64];
    const char *full = c->cmd->parent ? c->cmd->parent->name : c->cmd->name;
    size_t n = 0;
    for (; full[n] && n < sizeof(name) - 1; n++)
        name[n] = (char)toupper((unsigned char)full[n]);
    name[n] = '\0';
    int count = 0;
    while (lines[count])
        count++;
    resp_add_array(c->out, count + 3);
    char head[128];
    snprintf(head, sizeof(head),
             "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
             name);
    resp_add_status(c->out, head);
    for (int i = 0; i < count; i++)
        resp_add_status(c->out, lines[i]);
    resp_add_status(c->out, "HELP");
    resp_add_status(c->out, "    Prints this help.");
}

struct store_entry *cmd__lookup_string(struct cmd_ctx *c, int i,
                                       struct store_key *k, int write,
                                       int *wrong)
{
    cmd__key(c, i, k);
    *wrong = 0;
    struct store_entry *e =
        store_lookup(c->env->store, k,
                     write ? STORE_LOOKUP_WRITE : STORE_LOOKUP_READ, (uint64_t)c->now);
    if (e != NULL && store_entry_type(e) != STORE_TYPE_STRING) {
        cmd_fail(c, CMD_ERR_WRONGTYPE);
        *wrong = 1;
        return NULL;
    }
    return e;
}

static void reap_delete(void *ctx, const struct store_entry *e,
                        enum store_reap_why why)
{
}

int cmd__oom_check(struct cmd_ctx *c)
{
    if (c->env->cfg->maxmemory == 0)
        return 0;
    if (c->env->evict != NULL)
        return c->env->evict(c->env->evict_data, c->now) < 0 ? -1 : 0;
    return store_evict(c->env->store, (uint64_t)c->now, STORE_REAP_DELETE,
                       reap_delete, NULL) < 0 ? -1 : 0;
}

const char *cmd__cluster_mode(const struct cmd_env *env)
{
    return env->cfg == NULL || env->cfg->cluster_enabled ? "cluster"
                                                         : "standalone";
}
