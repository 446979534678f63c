/* Snapshots (§5): the caller reports a snapshot it took and the core
 * releases the log prefix it covers; a follower that needs entries the
 * leader no longer has gets InstallSnapshot in chunks, one in flight at a
 * time, whose bytes the caller supplies (so a transport can stream a
 * file); the receiving core hands each chunk to its caller to store, asks
 * it to install the whole, and answers the leader only once installed. */
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

static void send_chunk(struct raft *r, struct raft__progress *pr)
{
    struct raft_msg *m = raft__msg(r, RAFT_MSG_SNAPSHOT, pr->id);
    if (m == NULL) {
        return;
    }
    uint64_t size = r->snap.size;
    uint64_t off = pr->snap_offset < size ? pr->snap_offset : size;
    uint64_t len = size - off;
    if (len > r->opts.snapshot_chunk_bytes) {
        len = r->opts.snapshot_chunk_bytes;
    }
    m->snapshot.meta = r->snap;
    m->snapshot.offset = off;
    m->snapshot.len = (uint32_t)len;
    m->snapshot.last = off + len == size;
    pr->snap_sent_at = r->now;
}

/* Starts (or restarts) sending our newest snapshot to pr. */
void raft__send_snapshot(struct raft *r, struct raft__progress *pr)
{
    if (r->snap.index == 0) {
        return;
    }
    pr->state = RAFT__SNAPSHOT;
    pr->snap_index = r->snap.index;
    pr->snap_offset = 0;
    send_chunk(r, pr);
}

/* Leader: resend a chunk whose answer did not come within an election
 * timeout; switch to the newest snapshot if the caller took another. */
void raft__tick_snapshots(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *pr = &r->prs[i];
        if (pr->state != RAFT__SNAPSHOT ||
            r->now < pr->snap_sent_at + r->opts.election_timeout_ms) {
            continue;
        }
        if (pr->snap_index != r->snap.index) {
            raft__send_snapshot(r, pr);
        } else {
            send_chunk(r, pr);
        }
    }
}

void raft__recv_snapshot_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *pr = raft__answer_progress(r, m);
    if (pr == NULL) {
        return;
    }
    const struct raft_msg_snapshot_resp *s = &m->snapshot_resp;
    if (s->done) {
        if (s->index > pr->match) {
            pr->match = s->index;
        }
        pr->state = RAFT__PROBE;
        pr->probe_sent = false;
        pr->next = pr->match + 1;
        pr->infl_n = 0;
        pr->infl_bytes = 0;
        raft__maybe_commit(r);
        raft__send_append(r, pr, true);
        return;
    }
    if (pr->state != RAFT__SNAPSHOT || s->index != pr->snap_index) {
        return;
    }
    if (pr->snap_index != r->snap.index) {
        raft__send_snapshot(r, pr); /* ours moved on: ship the newest */
        return;
    }
    pr->snap_offset = s->reject ? 0 : s->next_offset;
    if (pr->snap_offset < r->snap.size || r->snap.size == 0) {
        send_chunk(r, pr);
    }
}

/* ---- the receiving side ---------------------------------------------- */

static void reply(struct raft *r, uint64_t to, uint64_t index,
                  uint64_t next_offset, bool done)
{
    struct raft_msg *m = raft__msg(r, RAFT_MSG_SNAPSHOT_RESP, to);
    if (m != NULL) {
        m->snapshot_resp.index = index;
        m->snapshot_resp.next_offset = next_offset;
        m->snapshot_resp.done = done;
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

void raft__recv_snapshot(struct raft *r, const struct raft_msg *m)
{
    const struct raft_msg_snapshot *s = &m->snapshot;
    if (r->role != RAFT_FOLLOWER || r->leader != m->from) {
        raft__become_follower(r, r->term, m->from);
    }
    r->heard_at = r->now;
    raft__reset_election_timer(r);
    if (r->installing || (s->len > 0 && s->data == NULL)) {
        return;
    }
    bool have = s->meta.term != 0 && s->meta.index >= r->snap.index &&
                s->meta.index <= raft__last_index(r) &&
                raft__term_at(r, s->meta.index) == s->meta.term;
    if (s->meta.index <= r->commit || have) {
        /* We hold all of it already: acknowledge, durably, and keep the
         * entries after it, which we may have acknowledged (Raft paper §7:
         * "retain log entries following it"; sim seed 12347649). */
        if (have && s->meta.index > r->commit) {
            r->commit = s->meta.index;
        }
        struct raft_msg resp = {.type = RAFT_MSG_SNAPSHOT_RESP,
                                .from = r->id, .to = m->from,
                                .term = r->term};
        resp.snapshot_resp.index = s->meta.index;
        resp.snapshot_resp.done = true;
        raft__send_durable(r, &resp);
        return;
    }
    if (s->offset == 0) {
        r->recv_meta = s->meta;
        r->recv_offset = 0;
        r->recv_active = true;
    }
    if (!r->recv_active || r->recv_meta.index != s->meta.index ||
        r->recv_offset != s->offset) {
        bool same = r->recv_active && r->recv_meta.index == s->meta.index;
        reply(r, m->from, s->meta.index, same ? r->recv_offset : 0, false);
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
    reply(r, m->from, s->meta.index, r->recv_offset, false);
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
    reply(r, r->install_from, index, r->recv_meta.size, true);
    return 0;
}
