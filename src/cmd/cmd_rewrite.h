/* The leader's rewriting of commands whose effect depends on its clock,
 * before they are proposed: relative TTLs become absolute Unix-ms times
 * (SET .. EX/PX/EXAT → PXAT, SETEX/PSETEX → SET .. PXAT, EXPIRE/PEXPIRE/
 * EXPIREAT → PEXPIREAT, GETEX EX/PX/EXAT → PXAT), as Redis rewrites them
 * for its replicas (setGenericCommand, expireGenericCommand). Followers and
 * restarts then apply the very same effect. Arguments that would fail
 * (a bad number, a non-positive TTL) are left alone so the command fails
 * on apply with Redis' own error text. Other nondeterminism needs no
 * rewrite: every entry also carries the leader's clock, and commands of
 * the string family are deterministic given the same state. */
#ifndef RAFTCACHE_CMD_REWRITE_H
#define RAFTCACHE_CMD_REWRITE_H

#include "cmd/cmd.h"

#define CMD_REWRITE_MAX_ARGS 16
#define CMD_REWRITE_SCRATCH 32

/* Fills out (CMD_REWRITE_MAX_ARGS) with the rewritten argv of c (checked,
 * c->cmd set, c->now the leader's time); numbers go in scratch
 * (CMD_REWRITE_SCRATCH bytes, which must outlive out). Returns the new argc,
 * or 0 when the command is proposed as it came. */
int cmd_rewrite(const struct cmd_ctx *c, struct resp_arg *out, char *scratch);

#endif
