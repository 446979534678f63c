/* The dispatcher: takes every complete command out of a connection's
 * query buffer, checks it (cmd_check), executes it (cmd_execute), times
 * it for commandstats and leaves its reply in the connection's reply
 * buffer, strictly in request order. A protocol error gets Redis' reply
 * and closes the connection once that reply is written. With replication,
 * dispatch_repl.c routes each command (writes to repl, reads through the
 * consistency gate) and may hold it, unconsumed, until the connection's
 * parked requests end. A standalone node (cluster-enabled no) runs every
 * command here, with MULTI/EXEC and WATCH answered by dispatch_repl.c's
 * local route. */
#include "client/client.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net/loop.h"

/* Applies CLIENT REPLY modes: OFF mutes everything, SKIP mutes just the
 * command after the one that asked for it (Redis CLIENT_REPLY_SKIP). */
static void mute_before(struct conn *c)
{
    int m = c->sess.reply_mode;
    c->out.muted = (m == CMD_REPLY_OFF || m == CMD_REPLY_SKIP);
}

static void mute_after(struct conn *c)
{
    if (c->sess.reply_mode == CMD_REPLY_SKIP)
        c->sess.reply_mode = CMD_REPLY_ON;
    else if (c->sess.reply_mode == CMD_REPLY_SKIP_NEXT)
        c->sess.reply_mode = CMD_REPLY_SKIP;
    c->out.muted = c->sess.reply_mode == CMD_REPLY_OFF;
}

static int run_command(struct conn *c, int argc, const struct resp_arg *argv,
                       int may_pause)
{
    struct client_server *cs = c->srv;
    struct cmd_ctx ctx = {
        .env = cs->env, .sess = &c->sess, .out = &c->out, .argc = argc,
        .argv = argv, .now = loop_now_ms(cs->loop),
        .reserved = c->big.e != NULL ? &c->big : NULL,
    };
    unsigned long errors = c->out.errors;
    const struct cmd_def *d;
    mute_before(c);
    if (cmd_check(&ctx, &d) < 0) {
        if (d != NULL)
            cs->env->stats[d->index].rejected_calls++;
        metrics_count_error(cs->metrics, c->out.last_error, c->out.errors - errors);
        mute_after(c);
        return 0;
    }
    if (may_pause && cmd_paused(cs->env, d, ctx.now))
        return 1;
    int64_t t0 = loop_mono_us_fresh();
    cmd_execute(&ctx);
    uint64_t dt = (uint64_t)(loop_mono_us_fresh() - t0);
    struct cmd_stats *st = &cs->env->stats[d->index];
    st->calls++;
    st->usec += dt;
    if (cs->cfg->latency_tracking)
        metrics_hist_record(&st->latency, dt);
    if (ctx.failed || c->out.errors != errors) {
        st->failed_calls++;
        metrics_count_error(cs->metrics, c->out.last_error, c->out.errors - errors);
    }
    cs->metrics->total_commands_processed++;
    c->out.proto = c->sess.resp;
    mute_after(c);
    if (c->sess.close_after_reply)
        c->close_after_reply = 1;
    return 0;
}

/* Runs one parsed command. Returns 0, or 1 when CLIENT PAUSE holds it
 * (nothing was replied; it runs again after the pause). */
int dispatch__run(struct conn *c, int argc, const struct resp_arg *argv)
{
    return run_command(c, argc, argv, 1);
}

/* A command of a standalone EXEC: the pause was decided for the EXEC as a
 * whole (Redis pauses a transaction, never half of it). */
void dispatch__run_queued(struct conn *c, int argc,
                          const struct resp_arg *argv)
{
    run_command(c, argc, argv, 0);
}

static void protocol_error(struct conn *c)
{
    c->out.muted = 0;
    resp_add_error(&c->out, c->parser.errmsg);
    metrics_count_error(c->srv->metrics, "ERR", 1);
    log_msg(LOG_LEVEL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s",
            c->parser.errmsg, (unsigned long long)c->sess.id, c->addr);
    c->close_after_reply = 1;
}

void dispatch__cancel_big(struct conn *c)
{
    if (c->big.e != NULL)
        cmd_cancel_value(c->srv->env, &c->big);
}

/* The parser offers a large last value (resp.h): it is read straight into
 * its entry when the command stores it as it is, the client may run it,
 * and the node is not replicated (there the command's bytes are proposed
 * to the log as they came off the wire, so the value has to stay in the
 * query buffer with them). The bytes of it already read move into the
 * entry and leave the query buffer. */
static void take_big(struct conn *c, char *src, size_t avail)
{
    struct resp_parser *p = &c->parser;
    if (c->srv->repl != NULL || !c->sess.authenticated ||
        c->srv->env->pause_end_ms != 0 ||
        cmd_reserve_value(c->srv->env, p->argc, p->argv,
                          (size_t)p->bulk_len, &c->big) < 0) {
        resp_big_decline(p);
        return;
    }
    struct resp_arg piece;
    resp_big_accept(p, src, avail, &piece);
    memcpy(c->big.value, piece.ptr, piece.len);
    c->qlen -= piece.len;
}

/* Points the streamed argument (NULL in argv) at the entry it was read
 * into. */
static void fix_big_arg(struct conn *c)
{
    struct resp_parser *p = &c->parser;
    if (p->big_arg >= 0 && p->big_arg < p->argc && c->big.e != NULL)
        p->argv[p->big_arg].ptr = c->big.value;
}

/* Without replication: a standalone node routes MULTI/EXEC/WATCH and the
 * replication commands (dispatch_repl.c), a bare server (unit tests) runs
 * everything through cmd. Returns 1 when CLIENT PAUSE holds the command. */
static int run_parsed(struct conn *c, int argc, const struct resp_arg *argv)
{
    if (c->srv->cfg->cluster_enabled)
        return dispatch__run(c, argc, argv);
    int r = dispatch__route_local(c, argc, argv);
    return r == DISPATCH_PAUSED ? 1 : 0;
}

/* Runs the command a pause held, with argv rebuilt from the parser's
 * offsets (the buffer may have moved). Returns 1 while still paused. */
static int resume_held(struct conn *c)
{
    struct resp_parser *p = &c->parser;
    for (int i = 0; i < p->argc; i++) {
        p->argv[i].ptr = c->qbuf + c->qpos + p->slots[i].off;
        p->argv[i].len = p->slots[i].len;
    }
    fix_big_arg(c);
    if (run_parsed(c, p->argc, p->argv))
        return 1;
    dispatch__cancel_big(c);
    c->qpos += c->parsed_len;
    c->parsed_len = 0;
    c->srv->npaused--;
    return 0;
}

/* Under replication a held command is parsed again when its turn comes,
 * an inline one from a copy of its line (the parser unescapes inline
 * arguments in place); a command CLIENT PAUSE holds is parsed again too. */
static int route_parsed(struct conn *c, long rv)
{
    if (c->srv->repl == NULL)
        return run_parsed(c, c->parser.argc, c->parser.argv);
    int r = dispatch__route(c, c->parser.argc, c->parser.argv, (size_t)rv);
    return r == DISPATCH_PAUSED ? 1 : r == DISPATCH_HOLD ? -1 : 0;
}

static char *inline_copy(struct conn *c, char **src, size_t *avail)
{
    if (c->srv->repl == NULL || **src == '*')
        return NULL;
    const char *nl = memchr(*src, '\n', *avail);
    size_t n = nl ? (size_t)(nl - *src) + 1 : *avail;
    char *copy = malloc(n);
    if (copy != NULL) {
        memcpy(copy, *src, n);
        *src = copy;
        *avail = n;
    }
    return copy;
}

void dispatch__process(struct conn *c)
{
    if (c->parsed_len && c->srv->repl != NULL) {
        c->parsed_len = 0; /* parsed again below */
        c->srv->npaused--;
    }
    if (c->parsed_len && resume_held(c))
        return;
    const char *pass = c->srv->cfg->requirepass;
    while (!c->close_after_reply && c->qpos < c->qlen) {
        c->parser.unauthenticated = pass && pass[0] && !c->sess.authenticated;
        char *src = c->qbuf + c->qpos;
        size_t avail = c->qlen - c->qpos;
        char *copy = inline_copy(c, &src, &avail);
        long rv = resp_parse(&c->parser, src, avail);
        if (rv <= 0) {
            free(copy);
            if (rv < 0)
                protocol_error(c);
            else if (c->parser.big == RESP_BIG_OFFERED)
                take_big(c, src, avail);
            break;
        }
        if (c->parser.argc == 0) {
            free(copy);
            c->qpos += (size_t)rv;
            continue;
        }
        fix_big_arg(c);
        int held = route_parsed(c, rv);
        free(copy);
        if (held == 0)
            dispatch__cancel_big(c);
        if (held < 0)
            break; /* dispatch_repl.c holds it until parked requests end */
        if (held) {
            c->parsed_len = (size_t)rv;
            c->srv->npaused++;
            break;
        }
        c->qpos += (size_t)rv;
    }
}

/* A resumed command may close any connection (CLIENT KILL) or pause
 * again, so the list is searched afresh after each one. */
void client_resume_paused(struct client_server *cs)
{
    for (;;) {
        if (cs->npaused == 0 || (cs->env->pause_end_ms &&
                                 loop_now_ms(cs->loop) < cs->env->pause_end_ms))
            return;
        cs->env->pause_end_ms = 0;
        struct conn *c = cs->all;
        while (c != NULL && c->parsed_len == 0)
            c = c->next;
        if (c == NULL)
            return;
        dispatch__process(c);
        if (c->out.len > c->sent || c->close_after_reply)
            conn__queue_write(c);
    }
}
