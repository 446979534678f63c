/* Client connections: listeners, per-connection buffers, the read →
 * parse → check → execute → reply path and the flush of replies before the
 * loop sleeps. Redis' networking.c split three ways: listen.c (sockets),
 * conn.c (buffers, I/O, life cycle, limits), dispatch.c (commands in, in
 * order, replies out). One read() per readable connection per iteration,
 * one write() per connection with pending replies in the before-sleep hook
 * (Redis handleClientsWithPendingWrites); buffers come from the pool. */
#ifndef RAFTCACHE_CLIENT_H
#define RAFTCACHE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "config.h"
#include "resp/resp.h"

struct loop;
struct loop_io;
struct pool;
struct repl;
struct proxy;

struct conn {
    struct client_server *srv;
    int fd;
    struct loop_io *io;
    /* query buffer: [qpos, qlen) not yet consumed */
    char *qbuf;
    size_t qcap;
    size_t qlen;
    size_t qpos;
    struct resp_parser parser;
    /* The entry a large value is being read straight into (the parser's
     * big bulk; .e NULL when none): conn.c reads into big.value, the
     * command publishes it, dispatch.c cancels what is left. */
    struct store_reservation big;
    /* reply buffer: [sent, out.len) not yet written */
    struct resp_out out;
    size_t sent;
    struct cmd_session sess;
    struct conn *prev, *next;            /* all connections */
    struct conn *pnext, *pprev;          /* pending writes */
    int pending;
    int close_after_reply;
    /* A parsed command waiting for the end of CLIENT PAUSE: its bytes are
     * still in the query buffer at qpos (parsed_len of them) and the
     * parser keeps its argument offsets. */
    size_t parsed_len;
    int64_t ctime_ms;
    int64_t last_ms;
    int64_t obuf_soft_since_ms;
    int is_unix;
    char addr[64];
    char laddr[64];
    /* replication (dispatch_repl.c) */
    unsigned nparked;         /* writes and reads waiting in repl */
    int parked_read;          /* the held read waits for its read index */
    int read_err;             /* the held read failed: reply this status */
    size_t read_budget;       /* input bytes the read index covers */
    int readonly;             /* READONLY given (stale reads here) */
    int consistency;          /* -1: read-consistency of the config */
    int resume;               /* on the resume list */
    int join_wait;            /* parked by an admin command (raft_admin) */
    unsigned nproxied;        /* of nparked: forwarded to the leader */
    int wmute;                /* CLIENT REPLY mutes the parked writes */
    int in_multi;             /* MULTI: commands are queued in mbuf */
    int multi_dirty;          /* a queued command was refused: EXECABORT */
    int mcount;
    char *mbuf;               /* queued commands, RESP, back to back */
    size_t mlen, mcap;
    unsigned mfirst_slot;     /* slot of the first queued key (-MOVED) */
    int mhas_key;
    struct conn *rnext, *rprev;
    /* WATCH (watch.c) */
    struct watch_conn *watch; /* watched keys, proposed writes naming them */
    int watch_dirty;          /* a watched key was touched: EXEC aborts */
    int watch_wait;           /* an EXEC waits for pending writes */
    uint64_t wseq_sub;        /* writes proposed for this connection */
    uint64_t wseq_done;       /* of those, applied or failed */
    uint16_t *wslots;         /* their slots, FIFO (-MOVED if overwritten) */
    unsigned wshead, wslen, wscap;
};

/* A last argument at least this long is read straight into its entry
 * (store reservation) when the command stores it as it is (SET and
 * friends) and the node is not replicated. The size of one pool buffer:
 * a shorter value arrives with its command in an ordinary buffer, where
 * one copy costs less than reserving ahead; a longer one would need a
 * grown buffer and a second copy of every byte. */
#define CLIENT_BIG_VALUE_MIN (16 * 1024)

#define CLIENT_MAX_LISTENERS (CONFIG_MAX_BIND + 1)

struct client_listener {
    struct client_server *cs;
    int fd;
    int is_unix;
    struct loop_io *io;
};

struct client_server {
    struct loop *loop;
    struct pool *pool;
    struct config *cfg;
    struct metrics *metrics;
    struct cmd_env *env;
    struct client_listener listeners[CLIENT_MAX_LISTENERS];
    int nlisteners;
    struct conn *all;
    struct conn *pending;
    long long nconns;
    long long npaused;       /* connections holding a paused command */
    uint64_t next_id;
    char errmsg[256];
    struct repl *repl;        /* NULL: not replicated (commands run here) */
    struct conn *resume;      /* connections whose parked requests ended */
    /* RAFT.CLUSTER / RAFT.NODE / RAFT.TRANSFER-LEADER may re-open the
     * group, which only server.c may do: answered through this hook;
     * returns 1 when it parked c (join_wait set here; the hook's owner
     * later clears join_wait, writes the reply and wakes c with
     * client_repl_wake(.., c, 0)). */
    int (*raft_admin)(void *data, struct conn *c, int argc,
                      const struct resp_arg *argv);
    void *raft_admin_data;
    struct proxy *proxy;      /* follower-proxy links to the leader */
    struct watch_reg *watch;  /* watched keys (watch.c), NULL: none yet */
    uint64_t last_leader;     /* CLUSTER replies while no leader is known */
};

/* Sets up the client room (no sockets yet). */
void client_server_init(struct client_server *cs, struct loop *loop,
                        struct pool *pool, struct config *cfg,
                        struct metrics *m, struct cmd_env *env);

/* Opens every TCP (bind x port) and the unix listener. Returns 0, or
 * ERR_IO with cs->errmsg set. */
int client_listen(struct client_server *cs);
void client_close_listeners(struct client_server *cs);

/* The before-sleep hook: one write per connection with pending replies. */
void client_flush_pending(struct client_server *cs);
/* Runs the commands CLIENT PAUSE held once the pause is over (called
 * before sleeping, so UNPAUSE and the timeout both release them). */
void client_resume_paused(struct client_server *cs);
/* The cron: idle timeouts and output-buffer soft limits. */
void client_cron(struct client_server *cs, int64_t now_ms);
/* Closes every connection (shutdown). */
void client_close_all(struct client_server *cs);

/* cmd hooks (CLIENT LIST / KILL). */
void client_list_hook(void *data, struct metrics_buf *out, uint64_t id);
int client_kill_hook(void *data, const struct cmd_kill_filter *f,
                     uint64_t self_id);

/* INFO clients section. */
void client_info_section(struct metrics_buf *out, void *data);

/* ---- replication glue (dispatch_repl.c) ---- */
/* repl's wake callback (data: the client_server): a parked request of
 * owner (a struct conn) ended; replies an error for failures and queues
 * the connection to resume. Never calls back into repl. */
void client_repl_wake(void *data, void *owner, int status);
/* Where the apply of owner's entry writes its reply (and with which
 * session); queues the connection's write. */
void client_wait_target(void *owner, struct resp_out **out,
                        struct cmd_session **sess);
/* Resumes the connections whose parked requests ended (before-sleep).
 * Returns 1 if any ran commands. */
int client_resume_parked(struct client_server *cs);

/* follower-proxy (proxy.c): forwards argv to the leader; the reply is
 * appended to c's reply buffer when it comes and c is woken. 0 or <0. */
int client_proxy_forward(struct conn *c, int argc,
                         const struct resp_arg *argv);
/* The same for a MULTI/EXEC: count queued commands, RESP in mbuf; c gets
 * the EXEC reply. */
int client_proxy_forward_multi(struct conn *c, int count, const char *mbuf,
                               size_t mlen);
void client_proxy_forget(struct conn *c);

/* ---- inside the room ---- */
/* What dispatch__route did with a command. */
enum { DISPATCH_DONE = 0, DISPATCH_HOLD = 1, DISPATCH_PAUSED = 2 };
int dispatch__run(struct conn *c, int argc, const struct resp_arg *argv);
/* A command queued by a standalone MULTI, run by its EXEC (no pause). */
void dispatch__run_queued(struct conn *c, int argc,
                          const struct resp_arg *argv);
/* The standalone node's route (cluster-enabled no): MULTI/EXEC/WATCH run
 * here at once, RAFT.* are refused, the rest goes to dispatch__run. */
int dispatch__route_local(struct conn *c, int argc,
                          const struct resp_arg *argv);
int dispatch__route(struct conn *c, int argc, const struct resp_arg *argv,
                    size_t nbytes);
void dispatch__forget(struct conn *c);
struct conn *conn__create(struct client_server *cs, int fd, int is_unix);
void conn__close(struct conn *c);
void conn__queue_write(struct conn *c);
/* Parses and runs every complete command in the query buffer. */
void dispatch__process(struct conn *c);
/* Gives back the entry of a large value that no command published. */
void dispatch__cancel_big(struct conn *c);
void conn__describe(const struct conn *c, struct metrics_buf *out,
                    int64_t now_ms);
/* CLUSTER ... and ASKING (cluster_cmd.c); 0 for a wrong arity. */
int dispatch__cluster_command(struct conn *c, int argc,
                              const struct resp_arg *argv);
/* Puts c on the resume list (it runs again before sleeping). */
void dispatch__resume(struct conn *c);

/* WATCH (watch.c). */
enum { WATCH_EXEC_GO = 0, WATCH_EXEC_ABORT = 1, WATCH_EXEC_WAIT = 2 };
void watch__add(struct conn *c, const struct resp_arg *key, int64_t now);
void watch__unwatch(struct conn *c);
unsigned watch__count(const struct conn *c);
/* At EXEC on the leader: go, abort (null reply), or wait for proposed
 * writes that name watched keys (c is resumed when they are done). */
int watch__exec_state(struct conn *c, int64_t now);
void watch__stop_waiting(struct conn *c);
/* A write (argv; or RAFT.MULTI's queued commands, mbuf) was proposed for
 * c, already counted in c->wseq_sub; one of c's proposed writes applied
 * or failed, in order, already counted in c->wseq_done. */
void watch__proposed(struct conn *c, int argc, const struct resp_arg *argv,
                     const char *mbuf, size_t mlen);
void watch__write_done(struct conn *c);
void watch__forget(struct conn *c);
void watch__free(struct client_server *cs);

#endif
