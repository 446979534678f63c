/* The group as WATCH sees it (repl_watch.h): the leader decides an EXEC
 * against everything its log holds beyond the applied index (entries of
 * earlier terms, writes whose client gave up on a deadline, its own
 * expiry and eviction DELs) and against its open batch, because the EXEC's
 * entry goes behind all of them (Raft §5.3, Log Matching: a committed
 * EXEC commits with exactly this prefix). Reads only; no state of its own. */
#include "repl/repl_watch.h"

#include "repl/repl_internal.h"

uint64_t repl_term(const struct repl *r)
{
    return raft_term(r->raft);
}

/* An entry's command bytes (after repl's header); 0 when it is repl's
 * own record, -1 when it cannot be read. */
static int entry_cmd(const uint8_t *p, size_t len, const uint8_t **cmd,
                     size_t *clen)
{
    if (len < REPL_ENTRY_HEADER || p[0] != REPL_ENTRY_VERSION)
        return -1;
    if (p[1] & REPL_ENTRY_META)
        return 0;
    *cmd = p + REPL_ENTRY_HEADER;
    *clen = len - REPL_ENTRY_HEADER;
    return 1;
}

static int visit(repl_unapplied_cb fn, void *ctx, uint64_t index,
                 const uint8_t *p, size_t len)
{
    const uint8_t *cmd = NULL;
    size_t clen = 0;
    int k = p != NULL ? entry_cmd(p, len, &cmd, &clen) : -1;
    if (k == 0)
        return 0;
    return fn(ctx, index, k > 0 ? cmd : NULL, clen);
}

int repl_each_unapplied(const struct repl *r, repl_unapplied_cb fn,
                        void *ctx)
{
    uint64_t last = raft_last_index(r->raft);
    int rv;
    for (uint64_t i = r->applied + 1; i <= last; i++) {
        const struct raft_entry *e = raft_entry_at(r->raft, i);
        if (e != NULL && e->type != RAFT_ENTRY_NORMAL)
            continue;
        rv = visit(fn, ctx, i, e != NULL ? e->data : NULL,
                   e != NULL ? e->len : 0);
        if (rv != 0)
            return rv;
    }
    const struct repl_blob *b = r->batch;
    for (uint32_t i = 0; b != NULL && i < r->batch_n; i++) {
        uint32_t end = i + 1 < r->batch_n ? r->batch_offs[i + 1]
                                          : (uint32_t)b->len;
        rv = visit(fn, ctx, last + 1 + i, b->bytes + r->batch_offs[i],
                   end - r->batch_offs[i]);
        if (rv != 0)
            return rv;
    }
    return 0;
}
