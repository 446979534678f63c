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
};

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

/* ---- inside the room ---- */
struct conn *conn__create(struct client_server *cs, int fd, int is_unix);
void conn__close(struct conn *c);
void conn__queue_write(struct conn *c);
/* Parses and runs every complete command in the query buffer. */
void dispatch__process(struct conn *c);
void conn__describe(const struct conn *c, struct metrics_buf *out,
                    int64_t now_ms);

#endif
