/* Routing under replication. Writes are checked here (arity, auth, -OOM:
 * errors cost no log entry), rewritten by cmd_rewrite where their effect
 * depends on the clock, and submitted to repl; the connection is parked
 * until they apply. Reads go through the consistency gate: linearizable
 * (a ReadIndex batched per loop iteration), lease, or stale (here at once;
 * on a follower only after READONLY). A follower answers -MOVED to the
 * leader, -CLUSTERDOWN when none is known.
 * Reply order (invariant 3) without a reorder buffer: a connection with
 * parked writes keeps proposing further writes (they apply, and reply, in
 * request order) but holds its first other command unparsed until every
 * parked request ended; a parked read holds everything behind it. A held
 * command is parsed again when the connection resumes (before-sleep).
 * Also answers the replication commands: RAFT.*, READONLY/READWRITE,
 * CLIENT CONSISTENCY, DEBUG RAFT-PARTITION and RAFT-WAL-FAIL, CLUSTER and
 * ASKING (cluster_cmd.c), and MULTI/EXEC/DISCARD/WATCH/UNWATCH (the watches
 * themselves are watch.c's). A write whose entry is overwritten gets
 * -MOVED with its own key's slot, remembered per connection in order.
 * A standalone node (cluster-enabled no) uses the same MULTI/WATCH code
 * through dispatch__route_local, its EXEC running the queue at once. */
#include "client/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/cluster.h"
#include "cmd/cmd_rewrite.h"
#include "config.h"
#include "err.h"
#include "metrics/metrics.h"
#include "net/loop.h"
#include "repl/repl.h"

static int arg_is(const struct resp_arg *a, const char *w)
{
    size_t n = strlen(w);
    return a->len == n && strncasecmp(a->ptr, w, n) == 0;
}

/* ---- the resume list --------------------------------------------------- */

void dispatch__resume(struct conn *c)
{
    struct client_server *cs = c->srv;
    if (c->resume)
        return;
    c->resume = 1;
    c->rprev = NULL;
    c->rnext = cs->resume;
    if (cs->resume)
        cs->resume->rprev = c;
    cs->resume = c;
}

static void resume_unlink(struct conn *c)
{
    if (!c->resume)
        return;
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        c->srv->resume = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
    c->rnext = c->rprev = NULL;
    c->resume = 0;
}

void dispatch__forget(struct conn *c)
{
    if (c->srv->repl != NULL && c->nparked > 0)
        repl_cancel(c->srv->repl, c);
    if (c->nproxied > 0)
        client_proxy_forget(c);
    c->nproxied = 0;
    c->nparked = 0;
    resume_unlink(c);
    watch__forget(c);
    free(c->mbuf);
    c->mbuf = NULL;
    c->mlen = c->mcap = 0;
    free(c->wslots);
    c->wslots = NULL;
    c->wslen = c->wscap = 0;
}

int client_resume_parked(struct client_server *cs)
{
    int any = 0;
    while (cs->resume != NULL) {
        struct conn *c = cs->resume;
        resume_unlink(c);
        if (c->nparked > 0)
            continue;
        any = 1;
        dispatch__process(c);
        if (c->out.failed) {
            conn__close(c);
            continue;
        }
        if (c->out.len > c->sent || c->close_after_reply)
            conn__queue_write(c);
    }
    return any;
}

/* ---- redirections ------------------------------------------------------ */

/* The slots of the writes proposed for c, in proposal order (a ring of
 * a power-of-two size): a write whose entry is overwritten gets -MOVED
 * with its own key's slot. */
static void write_proposed(struct conn *c, unsigned slot)
{
    if (c->wslen == c->wscap) {
        unsigned cap = c->wscap ? c->wscap * 2 : 16;
        uint16_t *q = malloc(cap * sizeof(*q));
        if (q == NULL)
            abort();
        for (unsigned i = 0; i < c->wslen; i++)
            q[i] = c->wslots[(c->wshead + i) & (c->wscap - 1)];
        free(c->wslots);
        c->wslots = q;
        c->wshead = 0;
        c->wscap = cap;
    }
    c->wslots[(c->wshead + c->wslen++) & (c->wscap - 1)] = (uint16_t)slot;
    c->wseq_sub++;
}

/* One of c's proposed writes applied or failed; returns its slot. */
static unsigned write_done(struct conn *c)
{
    if (c->wseq_done >= c->wseq_sub || c->wslen == 0)
        return 0; /* a proxied request or a read */
    unsigned slot = c->wslots[c->wshead];
    c->wshead = (c->wshead + 1) & (c->wscap - 1);
    c->wslen--;
    c->wseq_done++;
    if (c->watch != NULL)
        watch__write_done(c);
    return slot;
}

static unsigned slot_of(const struct cmd_def *d, int argc,
                        const struct resp_arg *argv)
{
    if (d == NULL || d->first_key <= 0 || d->first_key >= argc)
        return 0;
    return cluster_keyslot(argv[d->first_key].ptr, argv[d->first_key].len);
}

/* -MOVED to the leader, or -CLUSTERDOWN when no other leader is known;
 * a write too big for one Raft entry gets its own error, and one to a
 * node alone in its group whose log failed Redis' -MISCONF. */
static void reply_redirect(struct conn *c, unsigned slot, int status)
{
    struct repl *r = c->srv->repl;
    const char *host;
    int port;
    char buf[256];
    buf[0] = '-';
    if (status == ERR_TOOBIG)
        snprintf(buf, sizeof(buf), "-ERR write too large to replicate (a "
                 "Raft entry holds at most %u bytes)", REPL_ENTRY_MAX);
    else if (repl_failed_alone(r))
        snprintf(buf, sizeof(buf), "-MISCONF Errors writing to the Raft "
                 "log: %s", err_str(repl_log_error(r)));
    else if (status == ERR_NOTLEADER && !repl_is_leader(r) &&
        repl_leader_addr(r, &host, &port))
        cluster_format_redirect(buf + 1, sizeof(buf) - 1,
                                CLUSTER_REDIR_MOVED, slot, host, port);
    else
        cluster_format_redirect(buf + 1, sizeof(buf) - 1,
                                CLUSTER_REDIR_DOWN_STATE, 0, NULL, 0);
    resp_add_error(&c->out, buf);
    metrics_count_error(c->srv->metrics, c->out.last_error, 1);
}

/* ---- repl's callbacks -------------------------------------------------- */

void client_repl_wake(void *data, void *owner, int status)
{
    struct conn *c = owner;
    c->out.muted = c->sess.reply_mode == CMD_REPLY_OFF;
    if (c->parked_read) {
        c->parked_read = 0;
        c->read_err = status;
        if (status < 0)
            c->read_budget = 0;
    } else if (status < 0) {
        reply_redirect(c, write_done(c), status);
        conn__queue_write(c);
    }
    if (c->nparked > 0)
        c->nparked--;
    if (c->nparked == 0)
        dispatch__resume(c);
}

void client_wait_target(void *owner, struct resp_out **out,
                        struct cmd_session **sess)
{
    struct conn *c = owner;
    write_done(c);
    c->out.proto = c->sess.resp;
    c->out.muted = c->wmute;
    *out = &c->out;
    *sess = &c->sess;
    conn__queue_write(c);
}

/* ---- writes and reads -------------------------------------------------- */

/* follower-proxy: forwards the command to the leader and parks c until
 * its reply comes back. Returns DISPATCH_DONE, or -1 when it cannot. */
static int forward(struct conn *c, int argc, const struct resp_arg *argv)
{
    if (!c->srv->cfg->follower_proxy || c->nparked != c->nproxied ||
        client_proxy_forward(c, argc, argv) < 0)
        return -1;
    c->nparked++;
    c->nproxied++;
    return DISPATCH_DONE;
}

static void after_write(struct conn *c)
{
    if (c->sess.reply_mode == CMD_REPLY_SKIP)
        c->sess.reply_mode = CMD_REPLY_ON;
    else if (c->sess.reply_mode == CMD_REPLY_SKIP_NEXT)
        c->sess.reply_mode = CMD_REPLY_SKIP;
    c->out.muted = c->sess.reply_mode == CMD_REPLY_OFF;
}

static int route_write(struct conn *c, const struct cmd_def *d, int argc,
                       const struct resp_arg *argv)
{
    struct client_server *cs = c->srv;
    unsigned slot = slot_of(d, argc, argv);
    if (c->join_wait) /* an admin command or SAVE replies first */
        return DISPATCH_HOLD;
    if (!repl_is_leader(cs->repl)) {
        if (forward(c, argc, argv) == DISPATCH_DONE)
            return DISPATCH_DONE;
        if (c->nparked > 0)
            return DISPATCH_HOLD;
        reply_redirect(c, slot, ERR_NOTLEADER);
        return DISPATCH_DONE;
    }
    /* CLIENT REPLY OFF/SKIP as dispatch.c applies it; parked writes share
     * one setting, a write with another waits for them */
    int mode = c->sess.reply_mode;
    int muted = mode == CMD_REPLY_OFF || mode == CMD_REPLY_SKIP;
    if (c->nparked > 0 && muted != c->wmute)
        return DISPATCH_HOLD;
    size_t olen = c->out.len;
    unsigned long errors = c->out.errors;
    c->out.muted = muted;
    struct cmd_ctx ctx = {.env = cs->env, .sess = &c->sess, .out = &c->out,
                          .argc = argc, .argv = argv,
                          .now = loop_now_ms(cs->loop)};
    const struct cmd_def *checked;
    if (cmd_check(&ctx, &checked) < 0) {
        if (c->nparked > 0) { /* its error would overtake parked replies */
            c->out.len = olen;
            c->out.errors = errors;
            return DISPATCH_HOLD;
        }
        cs->env->stats[d->index].rejected_calls++;
        metrics_count_error(cs->metrics, c->out.last_error,
                            c->out.errors - errors);
        after_write(c);
        return DISPATCH_DONE;
    }
    if (cmd_paused(cs->env, checked, ctx.now)) { /* CLIENT PAUSE */
        c->out.muted = c->sess.reply_mode == CMD_REPLY_OFF;
        return c->nparked > 0 ? DISPATCH_HOLD : DISPATCH_PAUSED;
    }
    struct resp_arg rw[CMD_REWRITE_MAX_ARGS];
    char scratch[CMD_REWRITE_SCRATCH];
    int n = cmd_rewrite(&ctx, rw, scratch);
    int rv = repl_submit_argv(cs->repl, c, n > 0 ? n : argc,
                              n > 0 ? rw : argv);
    if (rv < 0) {
        if (c->nparked > 0)
            return DISPATCH_HOLD;
        reply_redirect(c, slot, rv);
        return DISPATCH_DONE;
    }
    write_proposed(c, slot);
    watch__proposed(c, n > 0 ? n : argc, n > 0 ? rw : argv, NULL, 0);
    c->nparked++;
    c->wmute = muted;
    after_write(c);
    return DISPATCH_DONE;
}

/* follower-reads yes: a linearizable (or lease) read on a follower is
 * served here once this node has applied the read index the leader
 * confirmed (§6.4.1). A follower that cannot reach the leader answers
 * -CLUSTERDOWN (deadline or no leader known), never a stale value. */
static int follower_read(struct conn *c, const struct cmd_def *d, int argc,
                         const struct resp_arg *argv)
{
    if (c->nparked > 0) /* parked writes or proxied requests go first */
        return DISPATCH_HOLD;
    int rv = repl_submit_follower_read(c->srv->repl, c);
    if (rv < 0) {
        reply_redirect(c, slot_of(d, argc, argv), ERR_BUSY);
        return DISPATCH_DONE;
    }
    c->nparked = 1;
    c->parked_read = 1;
    c->read_budget = c->qlen - c->qpos;
    return DISPATCH_HOLD;
}

static int route_read(struct conn *c, const struct cmd_def *d, int argc,
                      const struct resp_arg *argv, size_t nbytes)
{
    struct client_server *cs = c->srv;
    if (c->read_err < 0) {
        reply_redirect(c, slot_of(d, argc, argv), c->read_err);
        c->read_err = 0;
        return DISPATCH_DONE;
    }
    if (repl_loading(cs->repl)) {
        c->read_budget = 0;
        resp_add_error(&c->out, "-LOADING Redis is loading the dataset in "
                       "memory");
        return DISPATCH_DONE;
    }
    if (c->read_budget >= nbytes) { /* covered by the last read index */
        if (dispatch__run(c, argc, argv))
            return DISPATCH_PAUSED;
        c->read_budget -= nbytes;
        return DISPATCH_DONE;
    }
    c->read_budget = 0;
    int mode = c->consistency >= 0 ? c->consistency
                                   : cs->cfg->read_consistency;
    if (repl_failed_alone(cs->repl)) /* as Redis after an AOF error */
        return dispatch__run(c, argc, argv) ? DISPATCH_PAUSED : DISPATCH_DONE;
    if (!repl_is_leader(cs->repl)) {
        if (c->readonly)
            return dispatch__run(c, argc, argv) ? DISPATCH_PAUSED
                                                : DISPATCH_DONE;
        else if (cs->cfg->follower_reads && mode != READ_STALE)
            return follower_read(c, d, argc, argv);
        else if (forward(c, argc, argv) == DISPATCH_DONE)
            return DISPATCH_DONE;
        else
            reply_redirect(c, slot_of(d, argc, argv), ERR_NOTLEADER);
        return DISPATCH_DONE;
    }
    if (mode == READ_STALE)
        return dispatch__run(c, argc, argv) ? DISPATCH_PAUSED : DISPATCH_DONE;
    int rv = repl_submit_read(cs->repl, c, mode == READ_LEASE);
    if (rv < 0) {
        reply_redirect(c, slot_of(d, argc, argv), rv);
        return DISPATCH_DONE;
    }
    c->nparked = 1;
    c->parked_read = 1;
    /* the held read and what followed it had arrived before the read
     * index is asked: all of it may be served with that index */
    c->read_budget = c->qlen - c->qpos; /* qpos: the read's first byte */
    return DISPATCH_HOLD;
}

/* ---- replication commands ---------------------------------------------- */

static void reply_info(struct conn *c)
{
    struct metrics_buf b = {0};
    metrics_buf_printf(&b, "# Raft\r\n");
    repl_info_section(&b, c->srv->repl);
    resp_add_verbatim(&c->out, b.p, b.len, "txt");
    metrics_buf_free(&b);
}

static int parse_u64(const struct resp_arg *a, uint64_t *out)
{
    long long v;
    if (!resp_string_to_ll(a->ptr, a->len, &v) || v <= 0)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static const char DEBUG_REFUSED[] =
    "DEBUG command not allowed. If the enable-debug-command option is set "
    "to \"local\", you can run it from a local connection, otherwise you "
    "need to set this option in the configuration file, and then restart "
    "the server.";

static bool debug_allowed(struct conn *c)
{
    int mode = c->srv->cfg->enable_debug_command;
    if (mode == DEBUG_CMD_NO || (mode == DEBUG_CMD_LOCAL &&
                                 !c->sess.is_local)) {
        resp_add_error(&c->out, DEBUG_REFUSED);
        return false;
    }
    return true;
}

/* DEBUG RAFT-WAL-FAIL [EIO|CLEAR]: the next log write fails as on a full
 * disk (or with an I/O error), and the disk stays full until CLEAR. */
static void debug_wal_fail(struct conn *c, int argc,
                           const struct resp_arg *argv)
{
    if (!debug_allowed(c))
        return;
    if (argc > 3) {
        resp_add_error(&c->out, "wrong number of arguments for "
                       "'debug|raft-wal-fail' command");
        return;
    }
    if (argc == 3 && arg_is(&argv[2], "clear"))
        repl_clear_wal_fault(c->srv->repl);
    else if (argc == 3 && arg_is(&argv[2], "eio"))
        repl_fail_wal(c->srv->repl, ERR_IO);
    else if (argc == 2)
        repl_fail_wal(c->srv->repl, ERR_NOSPACE);
    else {
        resp_add_error(&c->out, "syntax error");
        return;
    }
    resp_add_ok(&c->out);
}

static void debug_partition(struct conn *c, int argc,
                            const struct resp_arg *argv)
{
    if (!debug_allowed(c))
        return;
    uint64_t ids[RAFT_MAX_SERVERS];
    int n = 0;
    for (int i = 2; i < argc; i++) {
        if (n == RAFT_MAX_SERVERS || parse_u64(&argv[i], &ids[n++]) < 0) {
            resp_add_error(&c->out, "Invalid node id");
            return;
        }
    }
    if (repl_partition(c->srv->repl, ids, (size_t)n) < 0)
        resp_add_error(&c->out, "unknown node id or no cluster bus");
    else
        resp_add_ok(&c->out);
}

static const char *const consistency_names[] = {"linearizable", "lease",
                                                "stale"};

static void client_consistency(struct conn *c, int argc,
                               const struct resp_arg *argv)
{
    if (argc == 2) {
        int m = c->consistency >= 0 ? c->consistency
                                    : c->srv->cfg->read_consistency;
        resp_add_bulk_cstr(&c->out, consistency_names[m]);
        return;
    }
    for (int m = 0; m < 3; m++) {
        if (arg_is(&argv[2], consistency_names[m])) {
            c->consistency = m;
            resp_add_ok(&c->out);
            return;
        }
    }
    resp_add_error(&c->out, "syntax error, try CLIENT CONSISTENCY "
                   "linearizable|lease|stale");
}

/* Returns 1 when argv is a replication command (answered here). */
static int replication_command(struct conn *c, int argc,
                               const struct resp_arg *argv)
{
    const struct resp_arg *a = &argv[0];
    struct client_server *cs = c->srv;
    if ((argc >= 2 && (arg_is(a, "raft.cluster") || arg_is(a, "raft.node")))
        || arg_is(a, "raft.transfer-leader")) {
        /* membership and leadership: server_admin.c answers them */
        if (cs->raft_admin == NULL)
            resp_add_error(&c->out, "this node has no cluster administration");
        else if (cs->raft_admin(cs->raft_admin_data, c, argc, argv) == 1) {
            c->nparked = 1;
            c->join_wait = 1;
        }
    } else if (arg_is(a, "raft.info") && argc == 1)
        reply_info(c);
    else if (arg_is(a, "cluster") || arg_is(a, "asking"))
        return dispatch__cluster_command(c, argc, argv);
    else if (arg_is(a, "readonly") && argc == 1)
        c->readonly = 1, resp_add_ok(&c->out);
    else if (arg_is(a, "readwrite") && argc == 1)
        c->readonly = 0, resp_add_ok(&c->out);
    else if (arg_is(a, "client") && argc >= 2 && argc <= 3 &&
             arg_is(&argv[1], "consistency"))
        client_consistency(c, argc, argv);
    else if (arg_is(a, "debug") && argc >= 2 &&
             arg_is(&argv[1], "raft-partition"))
        debug_partition(c, argc, argv);
    else if (arg_is(a, "debug") && argc >= 2 &&
             arg_is(&argv[1], "raft-wal-fail"))
        debug_wal_fail(c, argc, argv);
    else
        return 0;
    return 1;
}

static int is_replication_command(int argc, const struct resp_arg *argv)
{
    const struct resp_arg *a = &argv[0];
    return (a->len > 5 && strncasecmp(a->ptr, "raft.", 5) == 0) ||
           arg_is(a, "readonly") || arg_is(a, "readwrite") ||
           arg_is(a, "cluster") || arg_is(a, "asking") ||
           (argc >= 2 && arg_is(a, "client") &&
            arg_is(&argv[1], "consistency")) ||
           (argc >= 2 && arg_is(a, "debug") &&
            (arg_is(&argv[1], "raft-partition") ||
             arg_is(&argv[1], "raft-wal-fail")));
}

static int needs_auth(const struct conn *c);

/* ---- MULTI/EXEC: the queued commands are one log entry ---------------- */

static void multi_reset(struct conn *c)
{
    c->in_multi = c->multi_dirty = c->mcount = 0;
    c->mlen = 0;
    c->mhas_key = 0;
    c->mfirst_slot = 0;
}

static void multi_queue(struct conn *c, const struct cmd_def *d, int argc,
                        const struct resp_arg *argv)
{
    size_t need = 32;
    for (int i = 0; i < argc; i++)
        need += argv[i].len + 32;
    if (c->mlen + need > c->mcap) {
        size_t cap = c->mcap ? c->mcap * 2 : 4096;
        while (cap < c->mlen + need)
            cap *= 2;
        char *p = realloc(c->mbuf, cap);
        if (p == NULL) {
            c->multi_dirty = 1;
            resp_add_error(&c->out, "-OOM out of memory queueing the command");
            return;
        }
        c->mbuf = p;
        c->mcap = cap;
    }
    c->mlen += (size_t)sprintf(c->mbuf + c->mlen, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        c->mlen += (size_t)sprintf(c->mbuf + c->mlen, "$%zu\r\n", argv[i].len);
        memcpy(c->mbuf + c->mlen, argv[i].ptr, argv[i].len);
        memcpy(c->mbuf + c->mlen + argv[i].len, "\r\n", 2);
        c->mlen += argv[i].len + 2;
    }
    if (!c->mhas_key && d != NULL && d->first_key > 0 &&
        d->first_key < argc) {
        c->mhas_key = 1;
        c->mfirst_slot = slot_of(d, argc, argv);
    }
    c->mcount++;
    resp_add_status(&c->out, "QUEUED");
}

/* Calls fn for each command queued in mbuf (RESP, back to back); stops
 * when fn returns nonzero and returns that. */
static int each_queued(char *mbuf, size_t mlen,
                       int (*fn)(struct conn *, int, const struct resp_arg *),
                       struct conn *c)
{
    struct resp_parser p;
    if (resp_parser_init(&p, 1LL << 40, NULL) < 0)
        return 0;
    int stop = 0;
    long rv;
    while (!stop && mlen > 0 && (rv = resp_parse(&p, mbuf, mlen)) > 0) {
        if (p.argc > 0)
            stop = fn(c, p.argc, p.argv);
        mbuf += rv;
        mlen -= (size_t)rv;
    }
    resp_parser_free(&p);
    return stop;
}

static int queued_is_paused(struct conn *c, int argc,
                            const struct resp_arg *argv)
{
    int unknown = 0;
    const struct cmd_def *d = cmd_lookup(argc, argv, &unknown);
    return d != NULL && cmd_paused(c->srv->env, d, loop_now_ms(c->srv->loop));
}

static int run_queued(struct conn *c, int argc, const struct resp_arg *argv)
{
    dispatch__run_queued(c, argc, argv);
    return 0;
}

/* A standalone EXEC (cluster-enabled no): the queued commands run here at
 * once, in order, so nothing interleaves with them. As Redis execCommand:
 * CLIENT PAUSE holds the whole transaction when it holds any of its
 * commands; a watched key touched (by any client, this one included) or
 * expired since WATCH aborts it with a null array; the watches go before
 * the commands run. The queue is taken from the connection while it runs
 * (a queued command may not free it under us). */
static int multi_exec_local(struct conn *c)
{
    struct client_server *cs = c->srv;
    if (cs->env->pause_end_ms != 0 &&
        each_queued(c->mbuf, c->mlen, queued_is_paused, c))
        return DISPATCH_PAUSED;
    int w = watch__exec_state(c, loop_now_ms(cs->loop));
    watch__unwatch(c);
    int count = c->mcount;
    size_t len = c->mlen;
    multi_reset(c);
    if (w != WATCH_EXEC_GO) {
        resp_add_null_array(&c->out);
        return DISPATCH_DONE;
    }
    resp_add_array(&c->out, count);
    char *mbuf = c->mbuf;
    size_t cap = c->mcap;
    c->mbuf = NULL;
    c->mcap = 0;
    each_queued(mbuf, len, run_queued, c);
    if (c->mbuf == NULL) {
        c->mbuf = mbuf;
        c->mcap = cap;
    } else {
        free(mbuf);
    }
    return DISPATCH_DONE;
}

/* EXEC: the whole transaction is proposed as RAFT.MULTI <count> <commands>
 * and applied at once on every node (server.c's apply), so no other entry
 * interleaves with it; the reply is the array of the commands' replies.
 * With WATCH the leader decides first (watch.c): touched keys abort it
 * (null array, nothing proposed), pending writes on them make it wait. */
static int multi_exec(struct conn *c)
{
    struct client_server *cs = c->srv;
    if (c->multi_dirty) {
        multi_reset(c);
        watch__unwatch(c);
        resp_add_error(&c->out, "-EXECABORT Transaction discarded because of "
                       "previous errors.");
        return DISPATCH_DONE;
    }
    if (cs->repl == NULL)
        return multi_exec_local(c);
    if (!repl_is_leader(cs->repl)) {
        /* follower-proxy forwards a transaction without WATCH (a watch
         * lives on the leader: that one is redirected) */
        unsigned slot = c->mfirst_slot;
        int fwd = cs->cfg->follower_proxy && watch__count(c) == 0 &&
                  c->mcount > 0 &&
                  client_proxy_forward_multi(c, c->mcount, c->mbuf,
                                             c->mlen) == 0;
        multi_reset(c);
        watch__unwatch(c);
        if (fwd) {
            c->nparked++;
            c->nproxied++;
        } else {
            reply_redirect(c, slot, ERR_NOTLEADER);
        }
        return DISPATCH_DONE;
    }
    int w = watch__exec_state(c, loop_now_ms(cs->loop));
    if (w == WATCH_EXEC_WAIT)
        return DISPATCH_HOLD;
    if (w == WATCH_EXEC_ABORT || c->mcount == 0) {
        multi_reset(c);
        watch__unwatch(c);
        if (w == WATCH_EXEC_ABORT)
            resp_add_null_array(&c->out);
        else
            resp_add_array(&c->out, 0);
        return DISPATCH_DONE;
    }
    char count[24];
    struct resp_arg argv[3] = {{"RAFT.MULTI", 10}, {count, 0},
                               {c->mbuf, c->mlen}};
    argv[1].len = (size_t)resp_ll_to_str(count, c->mcount);
    int rv = repl_submit_argv(cs->repl, c, 3, argv);
    unsigned slot = c->mfirst_slot;
    if (rv == 0) {
        write_proposed(c, slot);
        watch__proposed(c, 0, NULL, c->mbuf, c->mlen);
    }
    multi_reset(c);
    watch__unwatch(c);
    if (rv < 0) {
        reply_redirect(c, slot, rv);
        return DISPATCH_DONE;
    }
    c->nparked++;
    c->wmute = 0;
    return DISPATCH_DONE;
}

/* WATCH key [key ...] (Redis watchCommand). A follower redirects it to
 * the leader, as a Redis Cluster replica does: the watch must live where
 * the EXEC is decided. */
static void multi_watch(struct conn *c, int argc, const struct resp_arg *argv)
{
    if (c->in_multi) {
        resp_add_error(&c->out, "WATCH inside MULTI is not allowed");
        return;
    }
    if (c->srv->repl != NULL && !repl_is_leader(c->srv->repl)) {
        reply_redirect(c, cluster_keyslot(argv[1].ptr, argv[1].len),
                       ERR_NOTLEADER);
        return;
    }
    int64_t now = loop_now_ms(c->srv->loop);
    for (int i = 1; i < argc; i++)
        watch__add(c, &argv[i], now);
    resp_add_ok(&c->out);
}

/* Replies Redis' error when WATCH/UNWATCH cannot run (arity, auth).
 * Returns 1 when it replied. */
static int watch_refused(struct conn *c, int argc, const struct resp_arg *a)
{
    int is_watch = arg_is(a, "watch");
    if ((is_watch && argc < 2) || (!is_watch && argc != 1)) {
        resp_add_errorf(&c->out, "wrong number of arguments for '%s' command",
                        is_watch ? "watch" : "unwatch");
        if (c->in_multi)
            c->multi_dirty = 1;
        return 1;
    }
    if (needs_auth(c)) {
        resp_add_error(&c->out, "-NOAUTH Authentication required.");
        return 1;
    }
    return 0;
}

static void queue_or_refuse(struct conn *c, int argc,
                            const struct resp_arg *argv)
{
    struct cmd_ctx ctx = {.env = c->srv->env, .sess = &c->sess,
                          .out = &c->out, .argc = argc, .argv = argv,
                          .now = loop_now_ms(c->srv->loop)};
    const struct cmd_def *d;
    unsigned long errors = c->out.errors;
    if (cmd_check(&ctx, &d) < 0) {
        c->multi_dirty = 1;
        metrics_count_error(c->srv->metrics, c->out.last_error,
                            c->out.errors - errors);
    } else if (d->flags & CMD_NO_MULTI) { /* SAVE, SHUTDOWN: as Redis */
        c->multi_dirty = 1;
        resp_add_error(&c->out, "Command not allowed inside a transaction");
        metrics_count_error(c->srv->metrics, c->out.last_error, 1);
    } else {
        multi_queue(c, d, argc, argv);
    }
}

/* MULTI EXEC DISCARD UNWATCH take no argument, WATCH at least one. A wrong
 * count is rejected as Redis' processCommand does: it flags an open
 * transaction, and EXEC so rejected discards it with execCommandAbort's
 * "-EXECABORT Transaction discarded because of: <error>". Returns 0 after
 * replying. */
static int multi_arity_ok(struct conn *c, int argc, const char *name)
{
    int is_watch = strcmp(name, "watch") == 0;
    if (is_watch ? argc >= 2 : argc == 1)
        return 1;
    if (strcmp(name, "exec") == 0) { /* even outside MULTI, as Redis */
        multi_reset(c);
        resp_add_error(&c->out, "-EXECABORT Transaction discarded because of: "
                       "wrong number of arguments for 'exec' command");
        return 0;
    }
    if (c->in_multi)
        c->multi_dirty = 1;
    resp_add_errorf(&c->out, "wrong number of arguments for '%s' command",
                    name);
    return 0;
}

/* Returns -1 when argv is not part of a transaction, else the dispatch
 * result. */
static int multi_route(struct conn *c, int argc, const struct resp_arg *argv)
{
    const struct resp_arg *a = &argv[0];
    int is_multi = arg_is(a, "multi"), is_exec = arg_is(a, "exec");
    int is_discard = arg_is(a, "discard");
    /* UNWATCH inside MULTI is queued, as Redis does. */
    int is_watch = arg_is(a, "watch") ||
                   (arg_is(a, "unwatch") && !(c->in_multi && argc == 1));
    if (!c->in_multi && !is_multi && !is_exec && !is_discard && !is_watch)
        return -1;
    /* Inside MULTI, Redis runs QUIT and RESET at once rather than queueing
     * them; RESET also ends the transaction. */
    if (arg_is(a, "quit") || (arg_is(a, "reset") && argc == 1)) {
        if (c->nparked > 0)
            return DISPATCH_HOLD;
        multi_reset(c);
        return -1;
    }
    if (c->nparked > 0)
        return DISPATCH_HOLD;
    const char *name = is_multi     ? "multi"
                       : is_exec    ? "exec"
                       : is_discard ? "discard"
                       : is_watch   ? (arg_is(a, "watch") ? "watch" : "unwatch")
                                    : NULL;
    if (name != NULL && !multi_arity_ok(c, argc, name))
        return DISPATCH_DONE;
    if (is_multi) {
        if (c->in_multi)
            resp_add_error(&c->out, "MULTI calls can not be nested");
        else
            c->in_multi = 1, resp_add_ok(&c->out);
    } else if (is_exec) {
        if (!c->in_multi)
            resp_add_error(&c->out, "EXEC without MULTI");
        else
            return multi_exec(c);
    } else if (is_discard) {
        if (!c->in_multi)
            resp_add_error(&c->out, "DISCARD without MULTI");
        else
            multi_reset(c), watch__unwatch(c), resp_add_ok(&c->out);
    } else if (is_watch) {
        if (watch_refused(c, argc, argv))
            return DISPATCH_DONE;
        if (arg_is(a, "watch"))
            multi_watch(c, argc, argv);
        else if (c->in_multi) /* UNWATCH inside MULTI is queued: a no-op */
            queue_or_refuse(c, argc, argv);
        else
            watch__unwatch(c), resp_add_ok(&c->out);
    } else {
        queue_or_refuse(c, argc, argv);
    }
    return DISPATCH_DONE;
}

static int needs_auth(const struct conn *c)
{
    const char *pass = c->srv->cfg->requirepass;
    return pass != NULL && pass[0] != '\0' && !c->sess.authenticated;
}

/* RAFT.*, CLIENT CONSISTENCY and DEBUG RAFT-* need a Raft group;
 * CLUSTER, ASKING, READONLY and READWRITE are cmd's (Redis' "cluster
 * support disabled"). */
static int needs_raft(int argc, const struct resp_arg *argv)
{
    const struct resp_arg *a = &argv[0];
    return is_replication_command(argc, argv) && !arg_is(a, "cluster") &&
           !arg_is(a, "asking") && !arg_is(a, "readonly") &&
           !arg_is(a, "readwrite");
}

int dispatch__route_local(struct conn *c, int argc,
                          const struct resp_arg *argv)
{
    if (argc == 1 && arg_is(&argv[0], "reset")) {
        multi_reset(c); /* Redis resetCommand: transaction, watches */
        watch__unwatch(c);
    }
    int m = multi_route(c, argc, argv);
    if (m >= 0)
        return m;
    if (!needs_raft(argc, argv))
        return dispatch__run(c, argc, argv) ? DISPATCH_PAUSED : DISPATCH_DONE;
    if (needs_auth(c))
        resp_add_error(&c->out, "-NOAUTH Authentication required.");
    else
        resp_add_errorf(&c->out, "'%.*s' needs a Raft group: this node runs "
                        "standalone (cluster-enabled no)", (int)argv[0].len,
                        argv[0].ptr);
    return DISPATCH_DONE;
}

int dispatch__route(struct conn *c, int argc, const struct resp_arg *argv,
                    size_t nbytes)
{
    if (c->parked_read)
        return DISPATCH_HOLD;
    if (argc == 1 && argv[0].len == 5 && arg_is(&argv[0], "reset")) {
        /* Redis resetCommand: the transaction and the watches go */
        if (c->nparked > 0)
            return DISPATCH_HOLD;
        multi_reset(c);
        watch__unwatch(c);
    }
    int m = multi_route(c, argc, argv);
    if (m >= 0)
        return m;
    if (is_replication_command(argc, argv)) {
        if (c->nparked > 0)
            return DISPATCH_HOLD;
        if (needs_auth(c))
            resp_add_error(&c->out, "-NOAUTH Authentication required.");
        else if (!replication_command(c, argc, argv))
            resp_add_errorf(&c->out, "wrong number of arguments for '%.*s' "
                            "command", (int)argv[0].len, argv[0].ptr);
        return DISPATCH_DONE;
    }
    int unknown = 0;
    const struct cmd_def *d = cmd_lookup(argc, argv, &unknown);
    if (d != NULL && !unknown && (d->flags & CMD_WRITE))
        return route_write(c, d, argc, argv);
    if (c->nparked > 0 && c->nparked == c->nproxied && d != NULL &&
        !unknown && (d->flags & CMD_READONLY) && !c->readonly &&
        !repl_is_leader(c->srv->repl))
        return forward(c, argc, argv) == DISPATCH_DONE ? DISPATCH_DONE
                                                        : DISPATCH_HOLD;
    if (c->nparked > 0)
        return DISPATCH_HOLD;
    if (d != NULL && !unknown && (d->flags & CMD_READONLY))
        return route_read(c, d, argc, argv, nbytes);
    return dispatch__run(c, argc, argv) ? DISPATCH_PAUSED : DISPATCH_DONE;
}
