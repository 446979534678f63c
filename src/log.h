/* The server log: Redis' line format ("pid:M 27 Nov 2026 07:30:00.123 *
 * message"), a level filter (loglevel) and an optional file (logfile).
 * Rooms that run inside the server (client, server.c) log through it;
 * the pure rooms (resp, raft, store) never log. */
#ifndef RAFTCACHE_LOG_H
#define RAFTCACHE_LOG_H

enum { LOG_LEVEL_DEBUG, LOG_LEVEL_VERBOSE, LOG_LEVEL_NOTICE,
       LOG_LEVEL_WARNING };

/* Opens `path` for appending (NULL or "": stdout). Returns 0 or -1. */
int log_open(const char *path);
void log_set_level(int level);
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
