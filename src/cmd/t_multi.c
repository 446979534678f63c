/* MULTI, EXEC, DISCARD, WATCH, UNWATCH, CLUSTER and ASKING in the command
 * table, so that COMMAND, COMMAND INFO and cluster-aware clients (which
 * read key positions from COMMAND) know them as Redis does. Their state
 * lives in the connection and the Raft group, so the replicated
 * dispatcher answers them itself (client/dispatch_repl.c, client/watch.c)
 * before a command reaches cmd; what runs here is the rest: a command
 * queued inside a transaction and applied by RAFT.MULTI (UNWATCH there is
 * a no-op, as in Redis), and CLUSTER/ASKING on a standalone node
 * (cluster-enabled no), which has no cluster. */
#include "cmd/cmd_internal.h"

void t_multi(struct cmd_ctx *c)
{
    cmd_fail(c, "MULTI calls can not be nested");
}

void t_exec(struct cmd_ctx *c)
{
    cmd_fail(c, "EXEC without MULTI");
}

void t_discard(struct cmd_ctx *c)
{
    cmd_fail(c, "DISCARD without MULTI");
}

void t_watch(struct cmd_ctx *c)
{
    cmd_fail(c, "WATCH inside MULTI is not allowed");
}

void t_unwatch(struct cmd_ctx *c)
{
    resp_add_ok(c->out);
}

void t_cluster(struct cmd_ctx *c)
{
    cmd_fail(c, "This instance has cluster support disabled");
}

void t_cluster_sub(struct cmd_ctx *c)
{
    cmd_fail(c, "This instance has cluster support disabled");
}

void t_asking(struct cmd_ctx *c)
{
    cmd_fail(c, "This instance has cluster support disabled");
}
