/* The cluster admin commands: RAFT.CLUSTER INIT/JOIN/ADOPT, RAFT.NODE
 * ADD/JOIN/REMOVE and RAFT.TRANSFER-LEADER (client_server's raft_admin
 * hook). None of them blocks the loop: a command that must wait (for
 * another node's reply, a promotion, a commit, a new leader) parks its
 * connection and becomes an admin_op, polled by a timer, whose call to
 * another node's client port is a non-blocking connect, write and
 * incremental read on the loop under a deadline; the connection gets its
 * one reply when the op ends. The re-opening of this node's group lives in
 * server_raft.c (server_raft_reopen). Part of server.c's room.
 *
 * Happy path (RAFT.NODE ADD on the leader): add a learner → call the new
 * node with RAFT.CLUSTER ADOPT → +OK → wait until it is a voter and that
 * configuration is applied here → reply its id.
 * Failure modes: the node refuses or does not answer by the deadline (the
 * learner is removed again, -ERR), no promotion in time (-ERR, the learner
 * stays and may still be promoted), the client leaves (the op runs to its
 * end, its reply is dropped). */
#include "server_admin.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"
#include "cluster/cluster.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "net/loop.h"
#include "repl/repl.h"
#include "store/store.h"

#define ADMIN_POLL_MS 10
/* A call to another node's client port: connect, request, reply. */
#define CALL_TIMEOUT_MS 5000
/* RAFT.CLUSTER JOIN and RAFT.NODE ADD: until the new node is a voter. */
#define JOIN_TIMEOUT_MS 60000
/* RAFT.NODE REMOVE: until the smaller configuration is applied here. */
#define COMMIT_TIMEOUT_MS 5000
/* A configuration change refused as busy is tried again this often. */
#define CHANGE_RETRY_MS 50
#define CALL_MAX_HOPS 4
#define CALL_REQ_MAX 4096
#define CALL_REPLY_MAX 4096

enum admin_kind {
    ADMIN_NODE_ADD,
    ADMIN_NODE_JOIN,
    ADMIN_NODE_REMOVE,
    ADMIN_CLUSTER_JOIN,
    ADMIN_TRANSFER,
    ADMIN_SAVE,
};

/* What an op waits for now. */
enum admin_stage {
    STAGE_CHANGE, /* the core to accept the configuration change */
    STAGE_CALL,   /* another node's reply (op->fd) */
    STAGE_VOTER,  /* node op->id a voter, and that configuration applied */
    STAGE_UNDO,   /* the learner that did not join removed again */
    STAGE_COMMIT, /* node op->id gone, applied index at op->commit_at */
    STAGE_LEADER, /* another node (op->id when set) leads */
    STAGE_SNAPSHOT, /* SAVE: a snapshot at op->commit_at saved */
};

struct admin_op {
    struct server_raft *sr;
    struct admin_op *next;      /* sr->admin_ops */
    struct client_server *cs;
    uint64_t conn_id;           /* the parked connection (it may leave) */
    enum admin_kind kind;
    enum admin_stage stage;
    struct loop_timer *timer;   /* op_poll, every ADMIN_POLL_MS */
    int64_t deadline;           /* of the stage (monotonic ms) */
    int64_t started;
    int64_t retry_at;           /* next try of the change (STAGE_CHANGE) */
    uint64_t id;                /* the node added, removed, or led to */
    uint64_t commit_at;         /* applied index that makes it final */
    struct repl_member peer;    /* whom the call goes to */
    int hops;                   /* -MOVED followed by the join */
    char why[ERRMSG_LEN];       /* why a node did not join (STAGE_UNDO) */
    /* the call in flight (STAGE_CALL) */
    int fd;
    struct loop_io *io;
    int connected;
    char req[CALL_REQ_MAX];
    size_t req_len, sent;
    char rep[CALL_REPLY_MAX];
    size_t rep_len;
};

static int parse_addr(const struct resp_arg *a, struct repl_member *m)
{
    return server_raft_parse_member(a->ptr, a->len, m);
}

/* A node may join or be adopted only while it is a group of one with an
 * empty keyspace: nothing it holds can be lost. */
static bool is_fresh(const struct server_raft *sr)
{
    const struct raft_config *c = repl_config_now(sr->repl);
    return c->n <= 1 && store_count(sr->store) == 0;
}

static int64_t now_ms(const struct server_raft *sr)
{
    return loop_mono_ms(sr->loop);
}

/* ---- the parked connection ---------------------------------------------- */

/* The connection op answers, or NULL when it has left (found by id: a
 * closed connection's memory is gone). */
static struct conn *op_conn(const struct admin_op *op)
{
    for (struct conn *c = op->cs->all; c != NULL; c = c->next)
        if (c->sess.id == op->conn_id)
            return c->join_wait ? c : NULL;
    return NULL;
}

/* Where the reply goes; the caller writes it, then calls conn_resume. */
static struct resp_out *conn_reply_start(struct conn *c)
{
    struct resp_out *out;
    struct cmd_session *sess;
    client_wait_target(c, &out, &sess); /* queues the write */
    c->join_wait = 0;
    out->muted = c->sess.reply_mode == CMD_REPLY_OFF;
    return out;
}

/* The parked request ended (status 0: its reply is written): what the
 * connection held back runs again. */
static void conn_resume(struct conn *c)
{
    client_repl_wake(NULL, c, 0);
}

/* ---- ops ---------------------------------------------------------------- */

static void op_poll(struct loop_timer *t, void *data);

static void call_close(struct admin_op *op)
{
    if (op->io != NULL)
        loop_io_destroy(op->io);
    if (op->fd >= 0)
        close(op->fd);
    op->io = NULL;
    op->fd = -1;
}

/* Starts an op for the command on c (which the caller parks by returning
 * 1). Returns the op, owned by sr->admin_ops until it ends. */
static struct admin_op *op_start(struct server_raft *sr, struct conn *c,
                                 enum admin_kind kind)
{
    struct admin_op *op = calloc(1, sizeof(*op));
    if (op == NULL)
        abort(); /* glue code: out of memory is fatal (STYLE §5) */
    op->sr = sr;
    op->cs = c->srv;
    op->conn_id = c->sess.id;
    op->kind = kind;
    op->fd = -1;
    op->started = now_ms(sr);
    op->timer = loop_timer_create(sr->loop, ADMIN_POLL_MS, ADMIN_POLL_MS,
                                  op_poll, op);
    if (op->timer == NULL)
        abort();
    op->next = sr->admin_ops;
    sr->admin_ops = op;
    return op;
}

static void op_free(struct admin_op *op)
{
    struct admin_op **p = &op->sr->admin_ops;
    while (*p != NULL && *p != op)
        p = &(*p)->next;
    if (*p == op)
        *p = op->next;
    call_close(op);
    loop_timer_destroy(op->timer);
    free(op);
}

static void op_ok(struct admin_op *op)
{
    struct conn *c = op_conn(op);
    if (c != NULL) {
        resp_add_ok(conn_reply_start(c));
        conn_resume(c);
    }
    op_free(op);
}

static void op_int(struct admin_op *op, long long v)
{
    struct conn *c = op_conn(op);
    if (c != NULL) {
        resp_add_int(conn_reply_start(c), v);
        conn_resume(c);
    }
    op_free(op);
}

static void op_bulk(struct admin_op *op, const char *text)
{
    struct conn *c = op_conn(op);
    if (c != NULL) {
        resp_add_bulk(conn_reply_start(c), text, strlen(text));
        conn_resume(c);
    }
    op_free(op);
}

static void op_error(struct admin_op *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ends op with "-ERR <text>". */
static void op_error(struct admin_op *op, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct conn *c = op_conn(op);
    if (c != NULL) {
        resp_add_error(conn_reply_start(c), msg);
        conn_resume(c);
    }
    op_free(op);
}

/* ---- calls to another node: one request, one reply, on the loop ---------- */

static void call_on_io(struct loop_io *io, int events, void *data);

static int format_request(struct admin_op *op, int argc, const char **argv)
{
    size_t cap = sizeof(op->req);
    size_t len = (size_t)snprintf(op->req, cap, "*%d\r\n", argc);
    for (int i = 0; i < argc && len < cap; i++)
        len += (size_t)snprintf(op->req + len, cap - len, "$%zu\r\n%s\r\n",
                                strlen(argv[i]), argv[i]);
    if (len >= cap)
        return ERR_TOOBIG;
    op->req_len = len;
    op->sent = 0;
    op->rep_len = 0;
    return 0;
}

/* A numeric address resolves without a lookup; a name goes through
 * getaddrinfo (the hosts file; a DNS lookup would wait). */
static struct addrinfo *resolve(const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai) == 0)
        return ai;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, ps, &hints, &ai) == 0)
        return ai;
    return NULL;
}

/* Sends argv (C strings) to op->peer's client port: a non-blocking
 * connect; the reply comes to call_reply (from call_on_io or, on the
 * deadline, op_poll). Returns 0, or <0 with op->why set (nothing was
 * started). */
static int call_start(struct admin_op *op, int argc, const char **argv)
{
    if (format_request(op, argc, argv) < 0) {
        snprintf(op->why, sizeof(op->why), "request too long");
        return ERR_TOOBIG;
    }
    struct addrinfo *ai = resolve(op->peer.host, op->peer.port);
    if (ai == NULL) {
        snprintf(op->why, sizeof(op->why), "cannot resolve %s",
                 op->peer.host);
        return ERR_IO;
    }
    op->fd = socket(ai->ai_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rv = op->fd < 0 ? -errno : 0;
    if (rv == 0 && connect(op->fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
        errno != EINPROGRESS)
        rv = -errno;
    freeaddrinfo(ai);
    if (rv == 0 && (op->io = loop_io_create(op->sr->loop, op->fd, LOOP_WRITE,
                                            call_on_io, op)) == NULL)
        rv = -ENOMEM;
    if (rv < 0) {
        snprintf(op->why, sizeof(op->why), "%s", strerror(-rv));
        call_close(op);
        return ERR_IO;
    }
    op->connected = 0;
    op->stage = STAGE_CALL;
    op->deadline = now_ms(op->sr) + CALL_TIMEOUT_MS;
    return 0;
}

/* Scans the reply in op->rep. Returns its type byte once complete, with
 * *text NUL-terminated in place (a status or error line without its type
 * byte, an integer, a bulk's bytes); 0 while incomplete; <0 when it is
 * something else (the admin commands answer no arrays). */
static int reply_scan(struct admin_op *op, char **text)
{
    char *buf = op->rep;
    char *eol = memmem(buf, op->rep_len, "\r\n", 2);
    if (eol == NULL)
        return op->rep_len + 1 >= sizeof(op->rep) ? ERR_TOOBIG : 0;
    if (strchr("+-:", buf[0]) != NULL) {
        *eol = '\0';
        *text = buf + 1;
        if (buf[0] == '-' && strncmp(*text, "ERR ", 4) == 0)
            *text += 4; /* the text reads on in our own "-ERR ..." */
        return (unsigned char)buf[0];
    }
    if (buf[0] != '$')
        return ERR_PROTOCOL;
    long n = atol(buf + 1);
    size_t head = (size_t)(eol - buf) + 2;
    if (n < 0 || head + (size_t)n + 2 > sizeof(op->rep))
        return ERR_PROTOCOL;
    if (op->rep_len < head + (size_t)n + 2)
        return 0;
    buf[head + (size_t)n] = '\0';
    *text = buf + head;
    return '$';
}

static void call_reply(struct admin_op *op, int type, const char *text);

static void call_fail(struct admin_op *op, const char *why)
{
    call_close(op);
    call_reply(op, ERR_IO, why);
}

static void call_on_writable(struct admin_op *op)
{
    if (!op->connected) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            call_fail(op, strerror(err));
            return;
        }
        op->connected = 1;
    }
    ssize_t n = write(op->fd, op->req + op->sent, op->req_len - op->sent);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        call_fail(op, strerror(errno));
        return;
    }
    if (n > 0)
        op->sent += (size_t)n;
    if (op->sent == op->req_len)
        loop_io_set(op->io, LOOP_READ);
}

static void call_on_readable(struct admin_op *op)
{
    size_t room = sizeof(op->rep) - 1 - op->rep_len;
    ssize_t n = read(op->fd, op->rep + op->rep_len, room);
    if (n == 0) {
        call_fail(op, "connection closed before the reply");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            call_fail(op, strerror(errno));
        return;
    }
    op->rep_len += (size_t)n;
    op->rep[op->rep_len] = '\0';
    char *text = NULL;
    int type = reply_scan(op, &text);
    if (type == 0)
        return;
    if (type < 0) {
        call_fail(op, "unexpected reply");
        return;
    }
    call_close(op); /* text lives in op->rep, untouched by the close */
    call_reply(op, type, text);
}

static void call_on_io(struct loop_io *io, int events, void *data)
{
    struct admin_op *op = data;
    if (events & LOOP_WRITE)
        call_on_writable(op);
    else if (events & LOOP_READ)
        call_on_readable(op);
}

/* ---- RAFT.NODE ADD on the leader ---------------------------------------- */

static void format_member_list(const struct server_raft *sr, uint64_t id,
                               char *out, size_t cap)
{
    const struct repl_member *m;
    uint32_t n = repl_members(sr->repl, &m);
    size_t len = (size_t)snprintf(out, cap, "%llu", (unsigned long long)id);
    for (uint32_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, " %llu %s:%d@%d",
                                (unsigned long long)m[i].id, m[i].host,
                                m[i].port, m[i].bus_port);
}

/* "-MOVED 0 <leader>" on a follower that knows its leader, else
 * "-CLUSTERDOWN ...", into buf. */
static void format_not_leader(struct server_raft *sr, char *buf, size_t cap)
{
    const char *host;
    int port;
    buf[0] = '-';
    if (repl_leader_addr(sr->repl, &host, &port) && !repl_is_leader(sr->repl))
        cluster_format_redirect(buf + 1, cap - 1, CLUSTER_REDIR_MOVED, 0,
                                host, port);
    else
        cluster_format_redirect(buf + 1, cap - 1, CLUSTER_REDIR_DOWN_STATE,
                                0, NULL, 0);
}

static void reply_not_leader(struct server_raft *sr, struct resp_out *out)
{
    char buf[256];
    format_not_leader(sr, buf, sizeof(buf));
    resp_add_error(out, buf);
}

/* ---- RAFT.NODE ADD / JOIN / REMOVE: one configuration change ------------- */

static void node_add_call(struct admin_op *op);

/* Tries op's change: a learner for op->peer (ADD, JOIN) or the removal of
 * node op->id. Returns the core's status: Raft makes one change at a time
 * (§4.1), and none before the leader has committed an entry of its term,
 * so ERR_BUSY means "later". */
static int change_try(struct admin_op *op)
{
    struct repl *r = op->sr->repl;
    if (op->kind == ADMIN_NODE_REMOVE)
        return repl_remove_node(r, op->id);
    struct repl_member *m = &op->peer;
    int rv = repl_add_node(r, m->host, m->port, m->bus_port, &m->id);
    if (rv == 0)
        op->id = m->id;
    return rv;
}

/* The reply for a refused change (rv < 0), into msg. */
static void change_refusal(struct admin_op *op, int rv, char *msg,
                           size_t cap)
{
    if (rv == ERR_NOTLEADER)
        format_not_leader(op->sr, msg, cap);
    else if (op->kind == ADMIN_NODE_REMOVE)
        snprintf(msg, cap, "cannot remove node %llu: %s",
                 (unsigned long long)op->id, err_str(rv));
    else
        snprintf(msg, cap, "cannot add the node now: %s", err_str(rv));
}

/* The change is in the leader's log: JOIN answers the joiner with its id
 * and the member list, ADD tells the new node, REMOVE waits for the
 * commit. */
static void change_made(struct admin_op *op)
{
    char list[2048];
    if (op->kind == ADMIN_NODE_JOIN) {
        format_member_list(op->sr, op->id, list, sizeof(list));
        op_bulk(op, list);
    } else if (op->kind == ADMIN_NODE_ADD) {
        node_add_call(op);
    } else {
        op->commit_at = repl_last_index(op->sr->repl);
        op->stage = STAGE_COMMIT;
        op->deadline = now_ms(op->sr) + COMMIT_TIMEOUT_MS;
    }
}

/* STAGE_CHANGE: tried again while the core is busy, until the deadline;
 * every CHANGE_RETRY_MS, as a refused addition still logs the members'
 * addresses. */
static void poll_change(struct admin_op *op, int64_t now)
{
    if (now < op->retry_at)
        return;
    op->retry_at = now + CHANGE_RETRY_MS;
    int rv = change_try(op);
    if (rv == ERR_BUSY && now < op->deadline)
        return;
    if (rv < 0) {
        char msg[256];
        change_refusal(op, rv, msg, sizeof(msg));
        op_error(op, "%s", msg);
        return;
    }
    change_made(op);
}

/* RAFT.NODE ADD/JOIN host:port, RAFT.NODE REMOVE id (m or id given). A
 * refusal other than "busy" is replied at once; else c is parked (returns
 * 1) until the op ends. */
static int node_change(struct server_raft *sr, struct conn *c,
                       enum admin_kind kind, const struct repl_member *m,
                       uint64_t id)
{
    struct admin_op *op = op_start(sr, c, kind);
    if (m != NULL)
        op->peer = *m;
    op->id = id;
    int rv = change_try(op);
    if (rv < 0 && rv != ERR_BUSY) {
        char msg[256];
        change_refusal(op, rv, msg, sizeof(msg));
        resp_add_error(&c->out, msg);
        op_free(op);
        return 0;
    }
    if (rv == 0 && kind == ADMIN_NODE_JOIN) { /* answered now, unparked */
        char list[2048];
        format_member_list(sr, op->id, list, sizeof(list));
        resp_add_bulk(&c->out, list, strlen(list));
        op_free(op);
        return 0;
    }
    if (rv == ERR_BUSY) {
        op->stage = STAGE_CHANGE;
        op->deadline = op->started + CALL_TIMEOUT_MS;
        op->retry_at = op->started + CHANGE_RETRY_MS;
    } else {
        change_made(op);
    }
    return 1;
}

/* RAFT.NODE ADD host:port (to the leader) and RAFT.NODE JOIN host:port
 * (from a joiner): the node gets an id as a learner. ADD then tells the
 * fresh node itself (RAFT.CLUSTER ADOPT with its id and the member list)
 * and replies the id once it is a voter; JOIN replies the list. */
static int node_add(struct server_raft *sr, struct conn *c,
                    const struct resp_arg *addr, enum admin_kind kind)
{
    struct repl_member m = {0};
    if (parse_addr(addr, &m) < 0) {
        resp_add_error(&c->out, "Invalid node address, expected host:port");
        return 0;
    }
    return node_change(sr, c, kind, &m, 0);
}

/* The new node did not join: it leaves the configuration again. */
static void node_add_failed(struct admin_op *op, const char *why)
{
    char w[ERRMSG_LEN];
    snprintf(w, sizeof(w), "%s", why);
    snprintf(op->why, sizeof(op->why), "node %.64s:%d did not join: %.150s",
             op->peer.host, op->peer.port, w);
    op->stage = STAGE_UNDO;
    op->commit_at = 0;
    op->deadline = now_ms(op->sr) + CALL_TIMEOUT_MS;
}

static void node_add_call(struct admin_op *op)
{
    char list[2048];
    format_member_list(op->sr, op->id, list, sizeof(list));
    const char *argv[3] = {"RAFT.CLUSTER", "ADOPT", list};
    if (call_start(op, 3, argv) < 0)
        node_add_failed(op, op->why);
}

static void node_add_reply(struct admin_op *op, int type, const char *text)
{
    if (type != '+') {
        node_add_failed(op, text);
        return;
    }
    op->stage = STAGE_VOTER;
    op->deadline = op->started + JOIN_TIMEOUT_MS;
}

/* STAGE_UNDO: the learner that did not join is removed (once the addition
 * is committed: one change at a time), and the error waits for that
 * removal's commit, so that a retry finds no change pending. */
static void poll_undo(struct admin_op *op, int64_t now)
{
    struct repl *r = op->sr->repl;
    if (op->commit_at == 0) {
        int rv = repl_remove_node(r, op->id);
        if (rv == ERR_BUSY && now < op->deadline)
            return;
        if (rv < 0 && rv != ERR_INVALID) { /* ERR_INVALID: gone already */
            op_error(op, "%s (node %llu stays a learner: RAFT.NODE REMOVE "
                     "%llu on the leader removes it)", op->why,
                     (unsigned long long)op->id, (unsigned long long)op->id);
            return;
        }
        op->commit_at = repl_last_index(r);
    }
    if (repl_applied_index(r) >= op->commit_at || now >= op->deadline)
        op_error(op, "%s", op->why);
}

/* ---- waiting for a voter (RAFT.NODE ADD, RAFT.CLUSTER JOIN) -------------- */

/* Done once node op->id is a voter and this node has applied that
 * configuration (it is committed: Raft §4.1, a change is final then). */
static void poll_voter(struct admin_op *op, int64_t now)
{
    struct repl *r = op->sr->repl;
    const struct raft_server *s = raft_config_find(repl_config_now(r),
                                                   op->id);
    if (s == NULL || s->role != RAFT_VOTER)
        op->commit_at = 0;
    else if (op->commit_at == 0)
        op->commit_at = repl_last_index(r);
    if (op->commit_at != 0 && repl_applied_index(r) >= op->commit_at) {
        if (op->kind == ADMIN_NODE_ADD)
            op_int(op, (long long)op->id);
        else
            op_ok(op);
        return;
    }
    if (now < op->deadline)
        return;
    if (op->kind == ADMIN_NODE_ADD)
        op_error(op, "node %llu (%s:%d) joined as a learner but was not "
                 "promoted to voter within %d s", (unsigned long long)op->id,
                 op->peer.host, op->peer.port, JOIN_TIMEOUT_MS / 1000);
    else
        op_error(op, "joined as a learner but not promoted to voter in time");
}

/* ---- RAFT.CLUSTER JOIN on the fresh node -------------------------------- */

/* "id h:p@b id h:p@b ..." after the new node's id. */
static int parse_member_list(const char *s, uint64_t *new_id,
                             struct repl_member *m, int *n)
{
    char *end;
    *new_id = strtoull(s, &end, 10);
    *n = 0;
    while (*end == ' ' && *n < RAFT_MAX_SERVERS) {
        uint64_t id = strtoull(end + 1, &end, 10);
        if (*end != ' ')
            return ERR_INVALID;
        const char *a = end + 1;
        size_t len = strcspn(a, " ");
        if (server_raft_parse_member(a, len, &m[*n]) < 0 || id == 0)
            return ERR_INVALID;
        m[(*n)++].id = id;
        end = (char *)a + len;
    }
    return *new_id != 0 && *n > 0 ? 0 : ERR_INVALID;
}

static int join_call(struct admin_op *op)
{
    struct repl_member self;
    server_raft_self_member(op->sr, &self);
    char me[128];
    snprintf(me, sizeof(me), "%s:%d@%d", self.host, self.port,
             self.bus_port);
    const char *argv[3] = {"RAFT.NODE", "JOIN", me};
    return call_start(op, 3, argv);
}

static bool join_pending(const struct server_raft *sr)
{
    for (const struct admin_op *op = sr->admin_ops; op; op = op->next)
        if (op->kind == ADMIN_CLUSTER_JOIN)
            return true;
    return false;
}

/* RAFT.CLUSTER JOIN on the fresh node: ask the group (following -MOVED to
 * its leader) for an id, adopt it, and wait to be promoted to voter.
 * Returns 1 when the connection was parked. */
static int cluster_join(struct server_raft *sr, struct conn *c,
                        const struct resp_arg *addr)
{
    struct repl_member to = {0};
    if (join_pending(sr)) {
        resp_add_error(&c->out, "another join is in progress");
        return 0;
    }
    if (!is_fresh(sr)) {
        resp_add_error(&c->out, "This node is already part of a group with "
                       "other members or holds data: RAFT.CLUSTER JOIN needs "
                       "a fresh node");
        return 0;
    }
    if (parse_addr(addr, &to) < 0) {
        resp_add_error(&c->out, "Invalid node address, expected host:port");
        return 0;
    }
    struct admin_op *op = op_start(sr, c, ADMIN_CLUSTER_JOIN);
    op->peer = to;
    if (join_call(op) < 0) {
        resp_add_errorf(&c->out, "cannot reach %s:%d: %s", to.host,
                        to.port, op->why);
        op_free(op);
        return 0;
    }
    return 1;
}

/* The member list came: this node becomes one of them, unless it took
 * data or another group meanwhile. */
static void join_adopt(struct admin_op *op, const char *list)
{
    uint64_t id;
    struct repl_member m[RAFT_MAX_SERVERS];
    int n;
    char err[ERRMSG_LEN] = "";
    if (parse_member_list(list, &id, m, &n) < 0) {
        op_error(op, "join refused by %s:%d: invalid member list",
                 op->peer.host, op->peer.port);
    } else if (!is_fresh(op->sr)) {
        op_error(op, "join failed: this node took data while joining "
                 "(node %llu stays a learner of the group)",
                 (unsigned long long)id);
    } else if (server_raft_reopen(op->sr, id, m, n, err) < 0) {
        op_error(op, "join failed: %s", err);
    } else {
        op->id = id;
        op->stage = STAGE_VOTER;
        op->deadline = op->started + JOIN_TIMEOUT_MS;
    }
}

/* -MOVED <slot> <host:port>: the same request to the leader. Returns 1
 * when the next call is under way. */
static int join_follow(struct admin_op *op, const char *text)
{
    if (strncmp(text, "MOVED ", 6) != 0 || ++op->hops > CALL_MAX_HOPS)
        return 0;
    const char *a = strchr(text + 6, ' ');
    if (a == NULL ||
        server_raft_parse_member(a + 1, strlen(a + 1), &op->peer) < 0)
        return 0;
    return join_call(op) == 0;
}

static void join_reply(struct admin_op *op, int type, const char *text)
{
    if (type == '$') {
        join_adopt(op, text);
        return;
    }
    if (type == '-' && join_follow(op, text))
        return;
    if (type < 0)
        op_error(op, "cannot reach %s:%d: %s", op->peer.host, op->peer.port,
                 text);
    else
        op_error(op, "join refused by %s:%d: %s", op->peer.host,
                 op->peer.port, text);
}

/* RAFT.CLUSTER ADOPT <list> (sent by the leader's RAFT.NODE ADD). */
static void cluster_adopt(struct server_raft *sr, struct resp_out *out,
                          const struct resp_arg *list)
{
    char buf[2048];
    uint64_t id;
    struct repl_member m[RAFT_MAX_SERVERS];
    int n;
    snprintf(buf, sizeof(buf), "%.*s", (int)list->len, list->ptr);
    char err[ERRMSG_LEN] = "";
    if (join_pending(sr))
        resp_add_error(out, "This node is joining a group: it cannot be "
                       "adopted");
    else if (!is_fresh(sr))
        resp_add_error(out, "This node is not fresh: it cannot be adopted");
    else if (parse_member_list(buf, &id, m, &n) < 0)
        resp_add_error(out, "Invalid member list");
    else if (server_raft_reopen(sr, id, m, n, err) < 0)
        resp_add_errorf(out, "adoption failed: %s", err);
    else
        resp_add_ok(out);
}

/* ---- RAFT.NODE REMOVE ---------------------------------------------------- */

static int parse_id(const struct resp_arg *a, uint64_t *out)
{
    long long v;
    if (!resp_string_to_ll(a->ptr, a->len, &v) || v <= 0)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* RAFT.NODE REMOVE id: +OK once the configuration without the node is
 * applied here (committed). Returns 1 when c was parked. */
static int node_remove(struct server_raft *sr, struct conn *c,
                       const struct resp_arg *arg)
{
    uint64_t id;
    if (parse_id(arg, &id) < 0) {
        resp_add_error(&c->out, "Invalid node id");
        return 0;
    }
    return node_change(sr, c, ADMIN_NODE_REMOVE, NULL, id);
}

static void poll_commit(struct admin_op *op, int64_t now)
{
    struct repl *r = op->sr->repl;
    if (raft_config_find(repl_config_now(r), op->id) == NULL &&
        repl_applied_index(r) >= op->commit_at) {
        op_ok(op);
        return;
    }
    if (now >= op->deadline)
        op_error(op, "the removal of node %llu was not committed within "
                 "%d ms (it may still be)", (unsigned long long)op->id,
                 COMMIT_TIMEOUT_MS);
}

/* ---- RAFT.TRANSFER-LEADER [id] ------------------------------------------- */

/* The transfer waits two election timeouts: the core gives up after one
 * (Raft §3.10), and the new leader's first message tells this node. */
static int64_t transfer_timeout_ms(const struct server_raft *sr)
{
    return 2 * sr->cfg->raft_election_timeout;
}

/* Replies +OK once this node follows the target (another node when no id
 * is given) in a newer term. Returns 1 when c was parked. */
static int transfer_leader(struct server_raft *sr, struct conn *c, int argc,
                           const struct resp_arg *argv)
{
    uint64_t to = 0;
    if (argc > 2 || (argc == 2 && parse_id(&argv[1], &to) < 0)) {
        resp_add_error(&c->out, "syntax error, try RAFT.TRANSFER-LEADER [id]");
        return 0;
    }
    int rv = repl_transfer_leader(sr->repl, to);
    if (rv == ERR_NOTLEADER) {
        reply_not_leader(sr, &c->out);
        return 0;
    }
    if (rv < 0) {
        resp_add_errorf(&c->out, "cannot transfer leadership: %s",
                        err_str(rv));
        return 0;
    }
    struct admin_op *op = op_start(sr, c, ADMIN_TRANSFER);
    op->id = to;
    op->stage = STAGE_LEADER;
    op->deadline = op->started + transfer_timeout_ms(sr);
    return 1;
}

static void poll_leader(struct admin_op *op, int64_t now)
{
    struct repl *r = op->sr->repl;
    uint64_t leader = repl_leader_id(r);
    if (!repl_is_leader(r) && leader != 0 && leader != repl_node_id(r)) {
        if (op->id == 0 || leader == op->id)
            op_ok(op);
        else
            op_error(op, "leadership went to node %llu instead of node %llu",
                     (unsigned long long)leader, (unsigned long long)op->id);
        return;
    }
    if (now < op->deadline)
        return;
    if (op->id != 0)
        op_error(op, "leadership transfer to node %llu timed out after "
                 "%lld ms", (unsigned long long)op->id,
                 (long long)transfer_timeout_ms(op->sr));
    else
        op_error(op, "leadership transfer timed out after %lld ms",
                 (long long)transfer_timeout_ms(op->sr));
}

/* ---- SAVE --------------------------------------------------------------- */

/* The connection of session conn_id, NULL when it has closed. */
static struct conn *conn_by_id(struct server_raft *sr, uint64_t conn_id)
{
    for (struct conn *c = sr->clients->all; c != NULL; c = c->next)
        if (c->sess.id == conn_id)
            return c;
    return NULL;
}

/* Called from inside SAVE's execution (cmd's snapshot hook), before the
 * dispatcher reads the connection's next command: it parks the
 * connection as dispatch_repl.c parks one for raft_admin, so nothing
 * behind SAVE runs, or replies, before SAVE's reply. */
int server_raft_save_wait(struct server_raft *sr, uint64_t conn_id,
                          uint64_t index)
{
    struct conn *c = conn_by_id(sr, conn_id);
    if (c == NULL || c->nparked > 0)
        return ERR_NOTFOUND;
    struct admin_op *op = op_start(sr, c, ADMIN_SAVE);
    op->stage = STAGE_SNAPSHOT;
    op->commit_at = index;
    c->nparked = 1;
    c->join_wait = 1;
    return 0;
}

/* Done once the newest snapshot covers the index SAVE asked for (it may
 * be a later one: the state SAVE saw is in it). Redis' SAVE answers a
 * failed rdbSave with a bare "-ERR"; the reason is in the log. */
static void poll_snapshot(struct admin_op *op)
{
    struct repl_snapshot_status st;
    repl_snapshot_status(op->sr->repl, &st);
    if (st.index >= op->commit_at)
        op_ok(op);
    else if (!st.running)
        op_error(op, "-ERR");
}

/* ---- the poll and the dispatch ------------------------------------------ */

static void call_reply(struct admin_op *op, int type, const char *text)
{
    if (op->kind == ADMIN_NODE_ADD)
        node_add_reply(op, type, text);
    else
        join_reply(op, type, text);
}

static void op_poll(struct loop_timer *t, void *data)
{
    struct admin_op *op = data;
    int64_t now = now_ms(op->sr);
    if (op->sr->repl == NULL) {
        op_error(op, "this node has no Raft group (see its log)");
        return;
    }
    switch (op->stage) {
    case STAGE_CHANGE:
        poll_change(op, now);
        break;
    case STAGE_CALL:
        if (now >= op->deadline) {
            char why[64];
            snprintf(why, sizeof(why), "no reply within %d ms",
                     CALL_TIMEOUT_MS);
            call_fail(op, why);
        }
        break;
    case STAGE_VOTER:
        poll_voter(op, now);
        break;
    case STAGE_UNDO:
        poll_undo(op, now);
        break;
    case STAGE_COMMIT:
        poll_commit(op, now);
        break;
    case STAGE_LEADER:
        poll_leader(op, now);
        break;
    case STAGE_SNAPSHOT:
        poll_snapshot(op);
        break;
    }
}

static int arg_eq(const struct resp_arg *a, const char *w)
{
    return a->len == strlen(w) && strncasecmp(a->ptr, w, a->len) == 0;
}

int server_raft_admin(void *data, struct conn *c, int argc,
                      const struct resp_arg *argv)
{
    struct server_raft *sr = data;
    struct resp_out *out = &c->out;
    const struct resp_arg *a = &argv[0];
    if (arg_eq(a, "raft.transfer-leader"))
        return transfer_leader(sr, c, argc, argv);
    if (argc == 2 && arg_eq(a, "raft.cluster") && arg_eq(&argv[1], "init")) {
        resp_add_ok(out);
    } else if (argc == 3 && arg_eq(a, "raft.cluster") &&
               arg_eq(&argv[1], "join")) {
        return cluster_join(sr, c, &argv[2]);
    } else if (argc == 3 && arg_eq(a, "raft.cluster") &&
               arg_eq(&argv[1], "adopt")) {
        cluster_adopt(sr, out, &argv[2]);
    } else if (argc == 3 && arg_eq(a, "raft.node") &&
               arg_eq(&argv[1], "add")) {
        return node_add(sr, c, &argv[2], ADMIN_NODE_ADD);
    } else if (argc == 3 && arg_eq(a, "raft.node") &&
               arg_eq(&argv[1], "join")) {
        return node_add(sr, c, &argv[2], ADMIN_NODE_JOIN);
    } else if (argc == 3 && arg_eq(a, "raft.node") &&
               arg_eq(&argv[1], "remove")) {
        return node_remove(sr, c, &argv[2]);
    } else if (arg_eq(a, "raft.node")) {
        resp_add_error(out, "syntax error, try RAFT.NODE ADD host:port "
                       "| RAFT.NODE REMOVE <id>");
    } else {
        resp_add_error(out, "syntax error, try RAFT.CLUSTER INIT | "
                       "RAFT.CLUSTER JOIN host:port");
    }
    return 0;
}
