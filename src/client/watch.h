/* The leader's log as WATCH reads it (watch.c): its term, its applied
 * index and the entries it holds beyond that index (repl_watch.h). By
 * default the replication group's (client_server.repl); the unit tests
 * give their own log. */
#ifndef RAFTCACHE_CLIENT_WATCH_H
#define RAFTCACHE_CLIENT_WATCH_H

#include <stdint.h>

#include "repl/repl_watch.h"

struct client_server;

struct watch_log {
    uint64_t (*term)(void *data);
    uint64_t (*applied)(void *data);
    int (*each_unapplied)(void *data, repl_unapplied_cb fn, void *ctx);
    void *data;
};

/* Replaces the log WATCH reads (borrowed until watch__free). */
void watch__set_log(struct client_server *cs, const struct watch_log *log);

/* How often an EXEC waiting for the log to apply looks again, in ms. */
#define WATCH_POLL_MS 1.0

#endif
