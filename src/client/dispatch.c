/* The dispatcher: takes every complete command out of a connection's
 * query buffer, checks it (cmd_check), executes it (cmd_execute), times
 * it for commandstats and leaves its reply in the connection's reply
 * buffer, strictly in request order. A protocol error gets Redis' reply
 * and closes the connection once that reply is written. Commands are run
 * here directly; the replicated build will send checked writes to repl
 * instead, and only this file changes. */
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

void dispatch__run(struct conn *c, int argc, const struct resp_arg *argv)
{
    struct client_server *cs = c->srv;
    struct cmd_ctx ctx = {
        .env = cs->env, .sess = &c->sess, .out = &c->out, .argc = argc,
        .argv = argv, .now = loop_now_ms(cs->loop),
    };
    unsigned long errors = c->out.errors;
    const struct cmd_def *d;
    mute_before(c);
    if (cmd_check(&ctx, &d) < 0) {
        if (d != NULL)
            cs->env->stats[d->index].rejected_calls++;
        cs->metrics->total_error_replies += c->out.errors - errors;
        mute_after(c);
        return;
    }
    int64_t t0 = loop_mono_us_fresh();
    cmd_execute(&ctx);
    uint64_t dt = (uint64_t)(loop_mono_us_fresh() - t0);
    struct cmd_stats *st = &cs->env->stats[d->index];
    st->calls++;
    st->usec += dt;
    if (cs->cfg->latency_tracking)
        metrics_hist_record(&st->latency, dt);
    if (ctx.failed || c->out.errors != errors)
        st->failed_calls++;
    cs->metrics->total_error_replies += c->out.errors - errors;
    cs->metrics->total_commands_processed++;
    c->out.proto = c->sess.resp;
    mute_after(c);
    if (c->sess.close_after_reply)
        c->close_after_reply = 1;
}

static void protocol_error(struct conn *c)
{
    c->out.muted = 0;
    resp_add_error(&c->out, c->parser.errmsg);
    c->srv->metrics->total_error_replies++;
    log_msg(LOG_LEVEL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s",
            c->parser.errmsg, (unsigned long long)c->sess.id, c->addr);
    c->close_after_reply = 1;
}

void dispatch__process(struct conn *c)
{
    while (!c->close_after_reply && c->qpos < c->qlen) {
        /* Under replication a command may be held and parsed again:
         * an inline one is parsed from a copy of its line, since the
         * parser unescapes inline arguments in place. */
        char *src = c->qbuf + c->qpos, *copy = NULL;
        size_t avail = c->qlen - c->qpos;
        if (c->srv->repl != NULL && *src != '*') {
            const char *nl = memchr(src, '\n', avail);
            size_t n = nl ? (size_t)(nl - src) + 1 : avail;
            if ((copy = malloc(n)) != NULL) {
                memcpy(copy, src, n);
                src = copy;
                avail = n;
            }
        }
        long rv = resp_parse(&c->parser, src, avail);
        if (rv <= 0) {
            free(copy);
            if (rv < 0)
                protocol_error(c);
            break;
        }
        size_t start = c->qpos;
        c->qpos += (size_t)rv;
        if (c->parser.argc == 0) {
            free(copy);
            continue;
        }
        if (c->srv->repl == NULL) {
            dispatch__run(c, c->parser.argc, c->parser.argv);
        } else if (dispatch__route(c, c->parser.argc, c->parser.argv,
                                   (size_t)rv) == DISPATCH_HOLD) {
            c->qpos = start; /* parsed again once its turn comes */
            free(copy);
            break;
        }
        free(copy);
    }
}
