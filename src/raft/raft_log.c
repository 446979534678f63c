/* The in-memory log: a growable array of entries from raft->start on, with
 * the snapshot's index and term standing for everything before. Entries are
 * 32-byte descriptors; their bytes stay in refcounted raft_bufs, acquired
 * on append and released on truncation and compaction. Why an array: index
 * lookups are O(1) and the persist/apply slices handed to the caller are
 * plain pointers into it. Knows nothing of roles or messages. */
#include <string.h>

#include "raft/raft_internal.h"

uint64_t raft__last_index(const struct raft *r)
{
    return r->start + r->n - 1;
}

uint64_t raft__last_term(const struct raft *r)
{
    return raft__term_at(r, raft__last_index(r));
}

/* Term of the entry at index, the snapshot's term at its index, 0 for
 * index 0 or an index outside what this node knows. */
uint64_t raft__term_at(const struct raft *r, uint64_t index)
{
    if (index >= r->start && index < r->start + r->n) {
        return r->ents[r->off + (index - r->start)].term;
    }
    if (index == r->snap.index) {
        return r->snap.term;
    }
    return 0;
}

struct raft_entry *raft__entry(const struct raft *r, uint64_t index)
{
    if (index < r->start || index >= r->start + r->n) {
        return NULL;
    }
    return &r->ents[r->off + (index - r->start)];
}

/* Makes room for `more` entries at the end, moving the live window to the
 * front of the array first; when that gained fewer slots than it moved,
 * the array doubles too, so the moves cost O(1) per entry. A larger
 * array comes from realloc: glibc moves a large array's pages (mremap)
 * where a fresh one would be copied into and faulted in page by page. */
int raft__log_reserve(struct raft *r, uint64_t more)
{
    if (r->off + r->n + more <= r->cap) {
        return 0;
    }
    uint64_t gained = r->off;
    if (gained > 0) {
        memmove(r->ents, r->ents + r->off, r->n * sizeof(*r->ents));
        r->off = 0;
        if (gained >= r->n && r->n + more <= r->cap) {
            return 0;
        }
    }
    uint64_t cap = r->cap ? r->cap * 2 : 256;
    while (cap < r->n + more) {
        cap *= 2;
    }
    struct raft_entry *ents = raft__realloc(r, r->ents, cap * sizeof(*ents));
    if (ents == NULL) {
        return ERR_NOMEM;
    }
    r->ents = ents;
    r->cap = cap;
    return 0;
}

/* Appends a copy of e at last_index + 1, acquiring its buffer. */
int raft__log_append(struct raft *r, const struct raft_entry *e)
{
    if (raft__log_reserve(r, 1) != 0) {
        return ERR_NOMEM;
    }
    r->ents[r->off + r->n] = *e;
    raft_buf_acquire(e->buf);
    r->n++;
    return 0;
}

/* Deletes entries >= from (a conflicting suffix, Raft paper §5.3). The
 * durable prefix shrinks with it, so nothing after `from` is acknowledged
 * until the caller has made the truncation durable. */
void raft__log_truncate(struct raft *r, uint64_t from)
{
    uint64_t last = raft__last_index(r);
    if (from > last || from < r->start) {
        return;
    }
    for (uint64_t i = from; i <= last; i++) {
        raft_buf_release(raft__entry(r, i)->buf);
    }
    r->n = from - r->start;
    if (r->persisted >= from) {
        r->persisted = from - 1;
    }
    for (uint32_t i = 0; i < r->pend_n; i++) {
        if (r->pend[i].last >= from) {
            r->pend[i].last = from - 1;
        }
    }
    if (r->append_from >= from) {
        r->append_from = 0;
    }
    if (r->trunc_from == 0 || from < r->trunc_from) {
        r->trunc_from = from;
    }
    if (r->config_index >= from) {
        raft__config_rescan(r);
    }
}

/* Releases entries up to and including upto (covered by a snapshot). */
void raft__log_compact(struct raft *r, uint64_t upto)
{
    if (upto < r->start) {
        return;
    }
    uint64_t last = raft__last_index(r);
    if (upto > last) {
        upto = last;
    }
    for (uint64_t i = r->start; i <= upto; i++) {
        raft_buf_release(raft__entry(r, i)->buf);
    }
    uint64_t k = upto - r->start + 1;
    r->off += k;
    r->n -= k;
    r->start = upto + 1;
    if (r->n <= r->off) {
        /* Few entries remain: move them to the front now, while that is
         * cheap, rather than when the array fills up. */
        memmove(r->ents, r->ents + r->off, r->n * sizeof(*r->ents));
        r->off = 0;
    }
}

/* Drops the whole log: the next entry will be index + 1 (an installed
 * snapshot replaces everything). */
void raft__log_reset(struct raft *r, uint64_t index, uint64_t term)
{
    for (uint64_t i = 0; i < r->n; i++) {
        raft_buf_release(r->ents[r->off + i].buf);
    }
    r->n = 0;
    r->off = 0;
    r->start = index + 1;
    r->snap.index = index;
    r->snap.term = term;
}

/* The largest index <= index whose term is <= term (0 if none): where a
 * log with a conflicting entry at index could at best match. Used on both
 * sides of fast backtracking (Raft paper §5.3, last paragraphs). */
uint64_t raft__find_conflict_by_term(const struct raft *r, uint64_t index,
                                     uint64_t term)
{
    uint64_t last = raft__last_index(r);
    if (index > last) {
        index = last;
    }
    while (index > 0) {
        uint64_t t = raft__term_at(r, index);
        if (t == 0 || t <= term) {
            break;
        }
        index--;
    }
    return index;
}

/* §3.6.1: a candidate's log is at least as up-to-date as ours when its
 * last term is higher, or equal with an index at least ours. */
bool raft__log_up_to_date(const struct raft *r, uint64_t last_index,
                          uint64_t last_term)
{
    uint64_t my_term = raft__last_term(r);
    if (last_term != my_term) {
        return last_term > my_term;
    }
    return last_index >= raft__last_index(r);
}
