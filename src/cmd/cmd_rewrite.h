/* The leader's rewriting of commands whose effect depends on its clock,
 * before they are proposed: SET and GETEX with one relative TTL option
 * (EX/PX/EXAT) get PXAT and an absolute Unix-ms time, as Redis rewrites
 * them for its replicas (setGenericCommand). Arguments that would fail (a
 * bad number, a non-positive TTL, repeated or conflicting options) are left
 * alone so the command fails on apply with Redis' own error text.
 * EXPIRE/PEXPIRE/SETEX/PSETEX are proposed as they came, so that
 * commandstats name what the client sent: every entry also carries the
 * leader's clock, which apply uses as `now`, so their relative times give
 * the same absolute time on every node and on every replay. */
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
