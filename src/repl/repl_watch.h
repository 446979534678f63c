/* What WATCH (client/watch.c) reads of the group: the term, and every
 * entry this node holds but has not applied yet, so that an EXEC decided
 * on the leader can see the writes it will be ordered behind. */
#ifndef RAFTCACHE_REPL_WATCH_H
#define RAFTCACHE_REPL_WATCH_H

#include <stddef.h>
#include <stdint.h>

struct repl;

/* One unapplied entry: index (for the open batch: the index it gets if
 * nothing else is appended first), the command's RESP bytes; cmd NULL:
 * an entry that cannot be read (treat it as touching anything). Returns
 * nonzero to stop. */
typedef int (*repl_unapplied_cb)(void *ctx, uint64_t index,
                                 const uint8_t *cmd, size_t len);

uint64_t repl_term(const struct repl *r);
/* Calls fn for the log's entries after the applied index, in order, then
 * for the open batch (not proposed yet); repl's own records, NOOP and
 * configuration entries are skipped (they touch no key). Returns what fn
 * returned when it stopped, else 0. */
int repl_each_unapplied(const struct repl *r, repl_unapplied_cb fn,
                        void *ctx);

#endif
