/* The cluster admin commands (server_admin.c) and what server_raft.c
 * lends them: member addresses and the re-opening of this node's group as
 * a member of another (a fresh node that joins or is adopted). */
#ifndef RAFTCACHE_SERVER_ADMIN_H
#define RAFTCACHE_SERVER_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "server_raft.h"

struct repl_member;

/* Parses "host:port[@bus]" (bus defaults to port + 10000). 0 or <0. */
int server_raft_parse_member(const char *s, size_t len,
                             struct repl_member *m);
/* This node's own addresses and id. */
void server_raft_self_member(const struct server_raft *sr,
                             struct repl_member *m);
/* Wipes the log of this (fresh) node and restarts the group as member id
 * of the group whose n members are listed: it waits for the leader.
 * Returns 0, or <0 with errmsg (ERRMSG_LEN) set. */
int server_raft_reopen(struct server_raft *sr, uint64_t id,
                       const struct repl_member *m, int n, char *errmsg);

/* SAVE: parks the connection of session conn_id until a snapshot at
 * index or later is saved (+OK), or none is being written any more
 * (Redis' bare -ERR of a failed SAVE). 0, or ERR_NOTFOUND (no such
 * connection: nothing parked). */
int server_raft_save_wait(struct server_raft *sr, uint64_t conn_id,
                          uint64_t index);

#endif
