/* The replication wiring of the server process: opens the WAL in `dir`,
 * picks or restores this node's id, opens the cluster bus and the repl
 * group, and hands repl the callbacks that tie it to the rest: apply
 * (parse the entry's RESP bytes and run cmd's executor with the leader's
 * clock, replying to the parked client if there is one), snapshot save and
 * load (the store's serialiser), and the leader's expiry (DELs proposed
 * instead of local deletes: followers never expire keys on their own).
 * Part of server.c's room: the one place that may call every room. */
#ifndef RAFTCACHE_SERVER_RAFT_H
#define RAFTCACHE_SERVER_RAFT_H

#include <stdint.h>

#include "resp/resp.h"
#include "cmd/cmd.h"

struct config;
struct loop;
struct store;
struct metrics;
struct client_server;
struct wal;
struct peer_transport;
struct repl;
struct admin_op;

struct server_raft {
    struct config *cfg;
    struct loop *loop;
    struct store *store;
    struct cmd_env *env;
    struct client_server *clients;
    struct metrics *metrics;
    struct wal *wal;
    struct peer_transport *bus;
    struct repl *repl;
    uint64_t node_id;
    int alone;                  /* a group of one: lazy expiry deletes */
    unsigned evict_pending;     /* eviction DELs proposed, not yet applied */
    int64_t evict_since;        /* when they were proposed (Unix ms) */
    struct resp_parser parser;  /* parses committed entries */
    struct resp_parser mparser; /* the commands inside a RAFT.MULTI */
    struct cmd_session sess;    /* runs entries nobody waits for */
    struct resp_out discard;
    struct admin_op *admin_ops; /* admin commands waiting (server_admin.c) */
    int applying;               /* inside apply (an entry runs) */
    int snapshot_scheduled;     /* BGSAVE in MULTI: start one after apply */
    int64_t current_ms;         /* when a save found the newest snapshot
                                 * current (Unix ms; LASTSAVE) */
    int64_t probe_at;           /* failed log: next wal_probe (loop ms) */
    unsigned probe_failures;    /* probes that found the disk still full */
    unsigned mends;             /* times the failed log was reopened */
};

/* Opens everything; returns 0, or <0 with a line for the log in errmsg
 * (ERRMSG_LEN bytes). */
int server_raft_open(struct server_raft *sr, char *errmsg);
void server_raft_close(struct server_raft *sr);
/* RAFT.CLUSTER, RAFT.NODE and RAFT.TRANSFER-LEADER (client_server's
 * raft_admin hook; server_admin.c): they may re-open the group. Returns 1
 * when it parked the connection, which gets its reply when the command's
 * wait ends (a join, an addition, a removal, a transfer). */
struct conn;
int server_raft_admin(void *data, struct conn *c, int argc,
                      const struct resp_arg *argv);
/* SAVE and BGSAVE (cmd's snapshot hook, see cmd.h): starts a snapshot
 * of this node (leader or follower: each snapshots its own state); with
 * wait_id the connection of that session is parked until it ends. */
int server_raft_snapshot(struct server_raft *sr, uint64_t wait_id);
/* LASTSAVE and INFO persistence (cmd's snapshot_status hook). */
int server_raft_snapshot_status(const struct server_raft *sr,
                                struct cmd_snapshot_status *st);
/* The cron's share for snapshots: starts a scheduled one. */
void server_raft_snapshot_cron(struct server_raft *sr);
/* Hide-only expiry in a group of several, lazy deletes in a group of one
 * (called before sleeping). */
void server_raft_sync_expiry_mode(struct server_raft *sr);
/* The cron's share after a log write failed: every
 * raft-log-retry-interval ms, whether the disk takes writes again; if so
 * the node reloads from its log and rejoins its group. */
void server_raft_failure_cron(struct server_raft *sr, int64_t now_ms);
/* The cron's share: the leader proposes DELs for expired keys. */
void server_raft_cron(struct server_raft *sr, int64_t now_ms,
                      size_t budget);

#endif
