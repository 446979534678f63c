/* Connection commands: PING ECHO QUIT RESET HELLO AUTH SELECT CLIENT and
 * the cluster-mode no-ops READONLY/READWRITE/WAIT. They change the
 * connection's session (protocol, name, auth, reply mode); closing and
 * listing connections go through hooks into the client room. Replies and
 * errors are Redis 7's (networking.c clientCommand, helloCommand). */
#include "cmd/cmd_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_VERSION "7.0.15"

void t_ping(struct cmd_ctx *c)
{
    if (c->argc > 2) {
        cmd_failf(c, "wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    if (c->argc == 1)
        resp_add_raw(c->out, "+PONG\r\n", 7);
    else
        resp_add_bulk(c->out, c->argv[1].ptr, c->argv[1].len);
}

void t_echo(struct cmd_ctx *c)
{
    resp_add_bulk(c->out, c->argv[1].ptr, c->argv[1].len);
}

void t_quit(struct cmd_ctx *c)
{
    resp_add_ok(c->out);
    c->sess->close_after_reply = 1;
}

static int auth_required(const struct cmd_ctx *c)
{
    const char *p = c->env->cfg->requirepass;
    return p != NULL && p[0] != '\0';
}

void t_reset(struct cmd_ctx *c)
{
    cmd_session_reset(c->sess);
    c->out->proto = 2;
    c->out->muted = 0;
    c->sess->authenticated = !auth_required(c);
    resp_add_status(c->out, "RESET");
}

/* Checks a user/password pair as Redis' default user does: with no
 * requirepass the default user has "nopass" and any password works.
 * Returns 1 when authenticated. */
static int check_credentials(struct cmd_ctx *c, int user_i, int pass_i)
{
    if (user_i >= 0 && !cmd__arg_is(c, user_i, "default"))
        return 0;
    if (!auth_required(c))
        return 1;
    const char *pass = c->env->cfg->requirepass;
    size_t len = strlen(pass);
    return c->argv[pass_i].len == len &&
           memcmp(c->argv[pass_i].ptr, pass, len) == 0;
}

void t_auth(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        cmd_fail(c, CMD_ERR_SYNTAX);
        return;
    }
    if (c->argc == 2 && !auth_required(c)) {
        cmd_fail(c, "AUTH <password> called without any password configured "
                    "for the default user. Are you sure your configuration is "
                    "correct?");
        return;
    }
    if (!check_credentials(c, c->argc == 3 ? 1 : -1, c->argc - 1)) {
        cmd_fail(c, "-WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    c->sess->authenticated = 1;
    resp_add_ok(c->out);
}

/* Redis validateClientName: printable ASCII without spaces. */
static int valid_name(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < '!' || p[i] > '~')
            return 0;
    return 1;
}

static void set_name(struct cmd_ctx *c, int i)
{
    free(c->sess->name);
    c->sess->name = NULL;
    if (c->argv[i].len > 0)
        c->sess->name = strndup(c->argv[i].ptr, c->argv[i].len);
}

static void reply_hello(struct cmd_ctx *c)
{
    resp_add_map(c->out, 7);
    resp_add_bulk_cstr(c->out, "server");
    resp_add_bulk_cstr(c->out, "redis");
    resp_add_bulk_cstr(c->out, "version");
    resp_add_bulk_cstr(c->out, SERVER_VERSION);
    resp_add_bulk_cstr(c->out, "proto");
    resp_add_int(c->out, c->sess->resp);
    resp_add_bulk_cstr(c->out, "id");
    resp_add_int(c->out, (long long)c->sess->id);
    resp_add_bulk_cstr(c->out, "mode");
    resp_add_bulk_cstr(c->out, cmd__cluster_mode(c->env));
    resp_add_bulk_cstr(c->out, "role");
    resp_add_bulk_cstr(c->out, "master");
    resp_add_bulk_cstr(c->out, "modules");
    resp_add_array(c->out, 0);
}

void t_hello(struct cmd_ctx *c)
{
    long long ver = 0;
    int user_i = -1, name_i = -1;
    if (c->argc >= 2) {
        if (cmd__arg_ll(c, 1, &ver) < 0) {
            cmd_fail(c, "Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            cmd_fail(c, "-NOPROTO unsupported protocol version");
            return;
        }
    }
    for (int j = 2; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (cmd__arg_is(c, j, "auth") && more >= 2) {
            user_i = j + 1;
            j += 2;
        } else if (cmd__arg_is(c, j, "setname") && more >= 1) {
            if (!valid_name(c->argv[j + 1].ptr, c->argv[j + 1].len)) {
                cmd_fail(c, "Client names cannot contain spaces, newlines or "
                            "special characters.");
                return;
            }
            name_i = j + 1;
            j++;
        } else {
            cmd_failf(c, "Syntax error in HELLO option '%.*s'",
                      (int)c->argv[j].len, c->argv[j].ptr);
            return;
        }
    }
    if (user_i >= 0) {
        if (!check_credentials(c, user_i, user_i + 1)) {
            cmd_fail(c, "-WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        c->sess->authenticated = 1;
    }
    if (auth_required(c) && !c->sess->authenticated) {
        cmd_fail(c, "-NOAUTH HELLO must be called with the client already "
                    "authenticated, otherwise the HELLO AUTH <user> "
                    "<pass> option can be used to authenticate the client and "
                    "select the RESP protocol version at the same time");
        return;
    }
    if (name_i >= 0)
        set_name(c, name_i);
    if (ver)
        c->sess->resp = (int)ver;
    c->out->proto = c->sess->resp;
    reply_hello(c);
}

void t_select(struct cmd_ctx *c)
{
    long long id;
    if (cmd__ll_or_reply(c, 1, &id) < 0)
        return;
    if (id < INT_MIN || id > INT_MAX) {
        cmd_fail(c, "value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    if (id < 0 || id >= c->env->cfg->databases) {
        cmd_fail(c, "DB index is out of range");
        return;
    }
    resp_add_ok(c->out);
}

void t_readonly(struct cmd_ctx *c)
{
    cmd_fail(c, "This instance has cluster support disabled");
}

void t_readwrite(struct cmd_ctx *c)
{
    cmd_fail(c, "This instance has cluster support disabled");
}

void t_wait(struct cmd_ctx *c)
{
    long long n, timeout;
    if (cmd__ll_or_reply(c, 1, &n) < 0 || cmd__ll_or_reply(c, 2, &timeout) < 0)
        return;
    if (timeout < 0) {
        cmd_fail(c, "timeout is negative");
        return;
    }
    resp_add_int(c->out, 0);
}

/* ---- CLIENT ---- */

void t_client(struct cmd_ctx *c)
{
    cmd__reply_unknown_sub(c);
}

void t_client_id(struct cmd_ctx *c)
{
    resp_add_int(c->out, (long long)c->sess->id);
}

void t_client_setname(struct cmd_ctx *c)
{
    if (!valid_name(c->argv[2].ptr, c->argv[2].len)) {
        cmd_fail(c, "Client names cannot contain spaces, newlines or special "
                    "characters.");
        return;
    }
    set_name(c, 2);
    resp_add_ok(c->out);
}

void t_client_getname(struct cmd_ctx *c)
{
    resp_add_bulk_cstr(c->out, c->sess->name);
}

static int client_type_ok(struct cmd_ctx *c, int i, int *normal)
{
    *normal = cmd__arg_is(c, i, "normal");
    if (*normal || cmd__arg_is(c, i, "master") || cmd__arg_is(c, i, "replica") ||
        cmd__arg_is(c, i, "slave") || cmd__arg_is(c, i, "pubsub"))
        return 1;
    cmd_failf(c, "Unknown client type '%.*s'", (int)c->argv[i].len,
              c->argv[i].ptr);
    return 0;
}

void t_client_list(struct cmd_ctx *c)
{
    struct metrics_buf buf = {0};
    int normal = 1;
    uint64_t ids[64];
    int nids = 0;
    if (c->argc == 4 && cmd__arg_is(c, 2, "type")) {
        if (!client_type_ok(c, 3, &normal))
            return;
    } else if (c->argc > 3 && cmd__arg_is(c, 2, "id")) {
        for (int j = 3; j < c->argc && nids < 64; j++) {
            long long id;
            if (cmd__arg_ll(c, j, &id) < 0 || id <= 0) {
                cmd_fail(c, "Invalid client ID");
                return;
            }
            ids[nids++] = (uint64_t)id;
        }
    } else if (c->argc != 2) {
        cmd_fail(c, CMD_ERR_SYNTAX);
        return;
    }
    if (normal && nids == 0)
        c->env->hooks.client_list(c->env->hooks.data, &buf, 0);
    for (int j = 0; j < nids; j++)
        c->env->hooks.client_list(c->env->hooks.data, &buf, ids[j]);
    resp_add_verbatim(c->out, buf.p ? buf.p : "", buf.len, "txt");
    metrics_buf_free(&buf);
}

void t_client_info(struct cmd_ctx *c)
{
    struct metrics_buf buf = {0};
    c->env->hooks.client_list(c->env->hooks.data, &buf, c->sess->id);
    resp_add_verbatim(c->out, buf.p ? buf.p : "", buf.len, "txt");
    metrics_buf_free(&buf);
}

/* Parses the new-style filters of CLIENT KILL; returns 0 or -1 (replied). */
static int kill_filters(struct cmd_ctx *c, struct cmd_kill_filter *f,
                        char *addr, char *laddr, size_t len)
{
    for (int j = 2; j < c->argc; j += 2) {
        if (j + 1 >= c->argc) {
            cmd_fail(c, CMD_ERR_SYNTAX);
            return -1;
        }
        long long id;
        int normal;
        if (cmd__arg_is(c, j, "id")) {
            if (cmd__arg_ll(c, j + 1, &id) < 0 || id <= 0) {
                cmd_fail(c, "client-id should be greater than 0");
                return -1;
            }
            f->id = (uint64_t)id;
        } else if (cmd__arg_is(c, j, "type")) {
            if (!client_type_ok(c, j + 1, &normal))
                return -1;
            f->type = normal ? 0 : 1;
        } else if (cmd__arg_is(c, j, "addr")) {
            f->addr = cmd__arg_cstr(c, j + 1, addr, len);
        } else if (cmd__arg_is(c, j, "laddr")) {
            f->laddr = cmd__arg_cstr(c, j + 1, laddr, len);
        } else if (cmd__arg_is(c, j, "skipme")) {
            if (cmd__arg_is(c, j + 1, "yes"))
                f->skipme = 1;
            else if (cmd__arg_is(c, j + 1, "no"))
                f->skipme = 0;
            else {
                cmd_fail(c, CMD_ERR_SYNTAX);
                return -1;
            }
        } else if (cmd__arg_is(c, j, "user")) {
            /* Only the default user exists. */
            if (!cmd__arg_is(c, j + 1, "default")) {
                cmd_failf(c, "No such user '%.*s'", (int)c->argv[j + 1].len,
                          c->argv[j + 1].ptr);
                return -1;
            }
        } else {
            cmd_fail(c, CMD_ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

void t_client_kill(struct cmd_ctx *c)
{
    char addr[128], laddr[128];
    struct cmd_kill_filter f = {.type = -1, .skipme = 1};
    if (c->argc == 3) {
        f.addr = cmd__arg_cstr(c, 2, addr, sizeof(addr));
        f.skipme = 0;
        if (c->env->hooks.client_kill(c->env->hooks.data, &f, c->sess->id) == 0) {
            cmd_fail(c, "No such client");
            return;
        }
        resp_add_ok(c->out);
        return;
    }
    if (kill_filters(c, &f, addr, laddr, sizeof(addr)) < 0)
        return;
    resp_add_int(c->out, c->env->hooks.client_kill(c->env->hooks.data, &f,
                                                   c->sess->id));
}

/* CLIENT PAUSE timeout [WRITE|ALL]: Redis checks the mode first. */
void t_client_pause(struct cmd_ctx *c)
{
    if (c->argc > 4) {
        cmd_failf(c, "unknown subcommand or wrong number of arguments for "
                     "'%.*s'. Try CLIENT HELP.", (int)c->argv[1].len,
                  c->argv[1].ptr);
        return;
    }
    int writes_only = 0;
    if (c->argc == 4) {
        if (cmd__arg_is(c, 3, "write"))
            writes_only = 1;
        else if (!cmd__arg_is(c, 3, "all")) {
            cmd_fail(c, "CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    long long ms;
    if (cmd__arg_ll(c, 2, &ms) < 0) {
        cmd_fail(c, "timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        cmd_fail(c, "timeout is negative");
        return;
    }
    c->env->pause_end_ms = c->now + ms;
    c->env->pause_writes_only = writes_only;
    resp_add_ok(c->out);
}

void t_client_unpause(struct cmd_ctx *c)
{
    c->env->pause_end_ms = 0;
    resp_add_ok(c->out);
}

void t_client_reply(struct cmd_ctx *c)
{
    if (cmd__arg_is(c, 2, "on")) {
        c->sess->reply_mode = CMD_REPLY_ON;
        c->out->muted = 0;
        resp_add_ok(c->out);
    } else if (cmd__arg_is(c, 2, "off")) {
        c->sess->reply_mode = CMD_REPLY_OFF;
    } else if (cmd__arg_is(c, 2, "skip")) {
        if (c->sess->reply_mode != CMD_REPLY_OFF)
            c->sess->reply_mode = CMD_REPLY_SKIP_NEXT;
    } else {
        cmd_fail(c, CMD_ERR_SYNTAX);
    }
}

void t_client_no_evict(struct cmd_ctx *c)
{
    if (cmd__arg_is(c, 2, "on") || cmd__arg_is(c, 2, "off")) {
        c->sess->no_evict = cmd__arg_is(c, 2, "on");
        resp_add_ok(c->out);
        return;
    }
    cmd_fail(c, CMD_ERR_SYNTAX);
}

void t_client_setinfo(struct cmd_ctx *c)
{
    char **dst;
    if (cmd__arg_is(c, 2, "lib-name"))
        dst = &c->sess->lib_name;
    else if (cmd__arg_is(c, 2, "lib-ver"))
        dst = &c->sess->lib_ver;
    else {
        cmd_failf(c, "Unrecognized option '%.*s'", (int)c->argv[2].len,
                  c->argv[2].ptr);
        return;
    }
    if (!valid_name(c->argv[3].ptr, c->argv[3].len)) {
        cmd_failf(c, "%s cannot contain spaces, newlines or special characters.",
                  dst == &c->sess->lib_name ? "lib-name" : "lib-ver");
        return;
    }
    free(*dst);
    *dst = c->argv[3].len ? strndup(c->argv[3].ptr, c->argv[3].len) : NULL;
    resp_add_ok(c->out);
}

void t_client_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        NULL};
    cmd__reply_help(c, lines);
}
