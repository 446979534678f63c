/* Snapshots (§5): the caller reports a snapshot it took and the core
 * releases the log prefix it covers; a follower that needs entries the
 * leader no longer has gets InstallSnapshot in chunks, a window of them in
 * flight (go-back-N over a lossy, reordering network), whose bytes the
 * caller supplies (so a transport can stream a file); the receiving core
 * hands each chunk to its caller to store, in order, asks it to install
 * the whole (the caller verifies it first), and answers the leader only
 * once installed. */
#include <string.h>

#include "raft/raft_internal.h"

/* SNAPSHOT_TAKEN: the caller's state up to meta->index is saved. */
int raft__snapshot_taken(struct raft *r, const struct raft_snapshot_meta *m)
{
    if (m->index <= r->snap.index) {
        return 0; /* nothing newer */
    }
    if (m->index > r->applied) {
        return ERR_INVALID;
    }
    uint64_t t = raft__term_at(r, m->index);
    if (t != 0 && t != m->term) {
        return ERR_INVALID;
    }
    r->snap = *m;
    if (m->index > r->opts.snapshot_trailing) {
        raft__log_compact(r, m->index - r->opts.snapshot_trailing);
    }
    return 0;
}

/* ---- the sending side ------------------------------------------------ */

/* No rewind recorded: a gap answer at any offset may rewind once. */
#define SNAP_NO_REWIND UINT64_MAX

/* Sends the next chunk to pr (data NULL: the caller fills it). False when
 * the message could not be allocated (as if lost). */
static bool send_chunk(struct raft *r, struct raft__progress *pr)
{
    struct raft_msg *m = raft__msg(r, RAFT_MSG_SNAPSHOT, pr->id);
    if (m == NULL) {
        return false;
    }
    uint64_t size = r->snap.size;
    uint64_t off = pr->snap_next < size ? pr->snap_next : size;
    uint64_t len = size - off;
    if (len > r->opts.snapshot_chunk_bytes) {
        len = r->opts.snapshot_chunk_bytes;
    }
    m->snapshot.meta = r->snap;
    m->snapshot.offset = off;
    m->snapshot.len = (uint32_t)len;
    m->snapshot.last = off + len == size;
    pr->snap_next = off + len;
    pr->snap_last_sent = m->snapshot.last;
    return true;
}

/* Sends chunks while fewer than snapshot_inflight_chunks are unanswered
 * and bytes remain (a snapshot of size 0 still takes one, empty, chunk). */
static void fill_window(struct raft *r, struct raft__progress *pr)
{
    uint64_t window = (uint64_t)r->opts.snapshot_inflight_chunks *
                      r->opts.snapshot_chunk_bytes;
    while (pr->snap_next - pr->snap_acked < window &&
           !(pr->snap_next >= r->snap.size && pr->snap_last_sent)) {
        if (!send_chunk(r, pr)) {
            return;
        }
    }
}

/* Go back to off: everything from there is sent again (go-back-N; the
 * follower keeps chunks in order only). */
static void rewind_to(struct raft__progress *pr, uint64_t off)
{
    pr->snap_next = off;
    pr->snap_last_sent = false;
}

/* Starts (or restarts) sending our newest snapshot to pr. */
void raft__send_snapshot(struct raft *r, struct raft__progress *pr)
{
    if (r->snap.index == 0) {
        return;
    }
    pr->state = RAFT__SNAPSHOT;
    pr->snap_index = r->snap.index;
    pr->snap_acked = 0;
    pr->snap_rewound = SNAP_NO_REWIND;
    pr->snap_at = r->now;
    pr->snap_stalls = 0;
    rewind_to(pr, 0);
    fill_window(r, pr);
}

/* Leader: a transfer without progress for an election timeout resends
 * from the last acknowledged offset; a second such timeout in a row starts
 * over from 0, in case the follower lost what it had (a restart) and its
 * answers went missing. Switches to the newest snapshot if the caller took
 * another. */
void raft__tick_snapshots(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *pr = &r->prs[i];
        if (pr->state != RAFT__SNAPSHOT ||
            r->now < pr->snap_at + r->opts.election_timeout_ms) {
            continue;
        }
        if (pr->snap_index != r->snap.index) {
            raft__send_snapshot(r, pr);
            continue;
        }
        if (++pr->snap_stalls >= 2) {
            pr->snap_acked = 0;
            pr->snap_stalls = 0;
        }
        pr->snap_at = r->now;
        pr->snap_rewound = SNAP_NO_REWIND;
        rewind_to(pr, pr->snap_acked);
        fill_window(r, pr);
    }
}

/* The follower holds snapshot `index` (installed, or it had it): resume
 * appending after it. Only an answer to the transfer under way does that;
 * every chunk of a window can draw such an answer (and the network copies
 * them), so a later one must not restart anything. An older snapshot than
 * the one being sent counts as a match, but the transfer goes on while the
 * log still lacks what comes after it. */
static void snapshot_done(struct raft *r, struct raft__progress *pr,
                          uint64_t index)
{
    if (pr->state != RAFT__SNAPSHOT) {
        return; /* a late copy: replication has resumed already */
    }
    if (index > raft__last_index(r)) {
        return; /* past our log: see raft__recv_append_resp */
    }
    if (index > pr->match) {
        pr->match = index;
    }
    if (pr->match < pr->snap_index && pr->match + 1 < r->start) {
        raft__maybe_commit(r);
        return;
    }
    pr->state = RAFT__PROBE;
    pr->probe_sent = false;
    pr->next = pr->match + 1;
    pr->infl_n = 0;
    pr->infl_bytes = 0;
    raft__maybe_commit(r);
    raft__send_append(r, pr, true);
}

/* A chunk answer: progress moves snap_acked on; an answer that repeats
 * the acknowledged offset while later chunks are out reports a gap (lost
 * or reordered chunk) and rewinds there, once per offset, since duplicated
 * chunks repeat it too; reject restarts from 0, once until progress. Older
 * answers (reordered) change nothing. */
static void chunk_answered(struct raft *r, struct raft__progress *pr,
                           const struct raft_msg_snapshot_resp *s)
{
    if (s->reject) {
        if (pr->snap_acked == 0 && pr->snap_rewound == 0) {
            return; /* restarted already, nothing acknowledged since */
        }
        pr->snap_acked = 0;
        pr->snap_rewound = 0;
        rewind_to(pr, 0);
    } else if (s->next_offset > pr->snap_acked &&
               s->next_offset <= r->snap.size) {
        pr->snap_acked = s->next_offset;
        if (pr->snap_next < s->next_offset) {
            rewind_to(pr, s->next_offset);
        }
        pr->snap_at = r->now;
        pr->snap_stalls = 0;
    } else if (s->next_offset == pr->snap_acked &&
               s->next_offset < pr->snap_next &&
               pr->snap_rewound != s->next_offset) {
        pr->snap_rewound = s->next_offset;
        rewind_to(pr, s->next_offset);
    }
    fill_window(r, pr);
}

void raft__recv_snapshot_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *pr = raft__answer_progress(r, m);
    if (pr == NULL) {
        return;
    }
    const struct raft_msg_snapshot_resp *s = &m->snapshot_resp;
    if (s->done) {
        snapshot_done(r, pr, s->index);
        return;
    }
    if (pr->state != RAFT__SNAPSHOT || s->index != pr->snap_index) {
        return;
    }
    if (pr->snap_index != r->snap.index) {
        raft__send_snapshot(r, pr); /* ours moved on: ship the newest */
        return;
    }
    chunk_answered(r, pr, s);
}

/* Whether to suggest a snapshot: `snapshot_threshold` entries applied
 * since the last one. Not while this leader ships one, up to 4 times the
 * threshold: the caller keeps its newest snapshot only, so a new one ends
 * every transfer under way, and one that takes longer than the snapshot
 * interval (a big state over a slow link, under write load) would start
 * over for ever. */
bool raft__snapshot_due(const struct raft *r)
{
    uint64_t t = r->opts.snapshot_threshold;
    uint64_t n = r->applied - r->snap.index;
    if (t == 0 || n < t) {
        return false;
    }
    if (r->role != RAFT_LEADER || n / 4 >= t) {
        return true;
    }
    for (uint32_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].state == RAFT__SNAPSHOT) {
            return false;
        }
    }
    return true;
}

/* ---- the receiving side ---------------------------------------------- */

static void reply(struct raft *r, uint64_t to, uint64_t index,
                  uint64_t next_offset, bool done, bool reject)
{
    struct raft_msg *m = raft__msg(r, RAFT_MSG_SNAPSHOT_RESP, to);
    if (m != NULL) {
        m->snapshot_resp.index = index;
        m->snapshot_resp.next_offset = next_offset;
        m->snapshot_resp.done = done;
        m->snapshot_resp.reject = reject;
    }
}

static int keep_chunk(struct raft *r, const struct raft_msg_snapshot *s)
{
    if (raft__grow(r, (void **)&r->chunks, &r->chunks_cap, r->chunks_n + 1,
                   sizeof(*r->chunks)) != 0) {
        return ERR_NOMEM;
    }
    raft_buf_acquire(s->buf);
    r->chunks[r->chunks_n++] =
        (struct raft_chunk){s->offset, s->data, s->len, s->buf};
    r->chunks_meta = r->recv_meta;
    return 0;
}

/* The chunk belongs to the transfer under way: same leader, same term,
 * same snapshot. Only then may its bytes follow the ones stored. */
static bool same_transfer(const struct raft *r, const struct raft_msg *m)
{
    const struct raft_snapshot_meta *a = &r->recv_meta, *b = &m->snapshot.meta;
    return r->recv_active && r->recv_from == m->from &&
           r->recv_term == m->term && a->index == b->index &&
           a->term == b->term && a->size == b->size;
}

/* Whether a chunk at offset 0 begins a new transfer: yes unless the same
 * leader in the same term already sends a newer snapshot (a late chunk of
 * the older one must not undo it). */
static bool begins_transfer(const struct raft *r, const struct raft_msg *m)
{
    if (m->snapshot.offset != 0) {
        return false;
    }
    return !(r->recv_active && r->recv_from == m->from &&
             r->recv_term == m->term &&
             m->snapshot.meta.index < r->recv_meta.index);
}

/* We hold all of the snapshot already: acknowledge, durably, and keep the
 * entries after it, which we may have acknowledged (Raft paper §7: "retain
 * log entries following it"; sim seed 12347649). */
static void ack_held_snapshot(struct raft *r, const struct raft_msg *m,
                              bool have)
{
    const struct raft_msg_snapshot *s = &m->snapshot;
    if (have && s->meta.index > r->commit) {
        r->commit = s->meta.index;
    }
    struct raft_msg resp = {.type = RAFT_MSG_SNAPSHOT_RESP, .from = r->id,
                            .to = m->from, .term = r->term};
    resp.snapshot_resp.index = s->meta.index;
    resp.snapshot_resp.done = true;
    raft__send_durable(r, &resp);
}

/* InstallSnapshot chunk. Chunks are handed to the caller strictly in
 * order, each once, a transfer beginning at offset 0 (where the caller
 * starts its file over); any other chunk is answered with the offset we
 * want, or rejected when no transfer of it is under way. */
void raft__recv_snapshot(struct raft *r, const struct raft_msg *m)
{
    const struct raft_msg_snapshot *s = &m->snapshot;
    /* A snapshot covers at least the first entry, of a term from 1 up to
     * the sender's: anything else is from a broken or lying peer, and
     * installed it would leave a log whose last term is 0 (the leader it
     * may become would ship it for ever). */
    if (s->meta.index == 0 || s->meta.term == 0 || s->meta.term > m->term) {
        return;
    }
    if (r->role != RAFT_FOLLOWER || r->leader != m->from) {
        raft__become_follower(r, r->term, m->from);
    }
    raft__heard_leader(r);
    if (r->installing || (s->len > 0 && s->data == NULL)) {
        return;
    }
    bool have = s->meta.term != 0 && s->meta.index >= r->snap.index &&
                s->meta.index <= raft__last_index(r) &&
                raft__term_at(r, s->meta.index) == s->meta.term;
    if (s->meta.index <= r->commit || have) {
        ack_held_snapshot(r, m, have);
        return;
    }
    if (!same_transfer(r, m)) {
        if (!begins_transfer(r, m)) {
            reply(r, m->from, s->meta.index, 0, false, true);
            return;
        }
        r->recv_meta = s->meta;
        r->recv_offset = 0;
        r->recv_from = m->from;
        r->recv_term = m->term;
        r->recv_active = true;
    }
    if (s->offset != r->recv_offset) {
        /* a duplicate, or a gap: a chunk before it went missing */
        reply(r, m->from, s->meta.index, r->recv_offset, false, false);
        return;
    }
    if (keep_chunk(r, s) != 0) {
        return;
    }
    r->recv_offset += s->len;
    if (s->last || r->recv_offset >= s->meta.size) {
        r->recv_active = false;
        r->installing = true;
        r->install_out = true;
        r->install_from = m->from;
        return; /* answered once installed */
    }
    reply(r, m->from, s->meta.index, r->recv_offset, false, false);
}

/* SNAPSHOT_INSTALLED: the snapshot replaces the whole log. */
int raft__snapshot_installed(struct raft *r, uint64_t index)
{
    if (!r->installing || index != r->recv_meta.index) {
        return ERR_INVALID;
    }
    r->installing = false;
    raft__log_reset(r, index, r->recv_meta.term);
    r->snap = r->recv_meta;
    raft__config_appended(r, index, &r->recv_meta.config);
    if (r->commit < index) {
        r->commit = index;
    }
    r->applied = index;
    r->persisted = index;
    for (uint32_t i = 0; i < r->pend_n; i++) {
        if (r->pend[i].last > index) {
            r->pend[i].last = index;
        }
    }
    r->append_from = 0;
    reply(r, r->install_from, index, r->recv_meta.size, true, false);
    return 0;
}
