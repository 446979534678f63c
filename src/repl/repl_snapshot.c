/* Restart and snapshots. Restart: the hard state, the newest snapshot
 * (loaded into the state machine through the load callback) and the live
 * log entries (read back once into one shared blob) become the raft_init.
 * Taking: when the core suggests it, the WAL's fork helper writes the
 * state at the applied index in a child (copy-on-write, as Redis' BGSAVE)
 * through the save callback; once durable the core is told
 * (SNAPSHOT_TAKEN) and the log behind it is released. Shipping: the
 * leader fills InstallSnapshot chunks from the snapshot file; a follower
 * stores chunks through the WAL's receiver, verifies, loads and tells the
 * core (SNAPSHOT_INSTALLED). The snapshot's membership blob holds the
 * Raft configuration and the members' addresses. */
#include "repl/repl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- membership blob: u32 config len, config, u8 n, members ----------- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#define MEMBERSHIP_MAX \
    (4 + RAFT_CONFIG_MAX_BYTES + 1 + RAFT_MAX_SERVERS * (17 + REPL_HOST_LEN))

size_t repl__membership_encode(const struct repl *r,
                               const struct raft_config *c, uint8_t *out,
                               size_t cap)
{
    if (cap < MEMBERSHIP_MAX)
        return 0;
    int n = raft_config_encode(c, out + 4, RAFT_CONFIG_MAX_BYTES);
    if (n < 0)
        return 0;
    put_le(out, (uint64_t)n, 4);
    size_t at = 4 + (size_t)n;
    out[at++] = (uint8_t)r->n_members;
    for (uint32_t i = 0; i < r->n_members; i++) {
        const struct repl_member *m = &r->members[i];
        size_t hl = strnlen(m->host, REPL_HOST_LEN - 1);
        put_le(out + at, m->id, 8);
        put_le(out + at + 8, (uint64_t)m->port, 4);
        put_le(out + at + 12, (uint64_t)m->bus_port, 4);
        out[at + 16] = (uint8_t)hl;
        memcpy(out + at + 17, m->host, hl);
        at += 17 + hl;
    }
    return at;
}

int repl__membership_decode(struct repl *r, const void *buf, size_t len,
                            struct raft_config *c)
{
    const uint8_t *p = buf;
    if (len < 5)
        return ERR_CORRUPT;
    size_t n = (size_t)get_le(p, 4);
    if (4 + n + 1 > len || raft_config_decode(p + 4, n, c) < 0)
        return ERR_CORRUPT;
    size_t at = 4 + n;
    uint8_t count = p[at++];
    for (uint8_t i = 0; i < count; i++) {
        if (at + 17 > len || at + 17 + p[at + 16] > len ||
            p[at + 16] >= REPL_HOST_LEN)
            return ERR_CORRUPT;
        struct repl_member m = {.id = get_le(p + at, 8),
                                .port = (int)get_le(p + at + 8, 4),
                                .bus_port = (int)get_le(p + at + 12, 4)};
        memcpy(m.host, p + at + 17, p[at + 16]);
        at += 17 + p[at + 16];
        if (repl_member(r, m.id) == NULL)
            repl__member_set(r, &m);
    }
    return 0;
}

/* ---- loading a snapshot into the state machine ------------------------- */

static int load_newest(struct repl *r, struct raft_config *c)
{
    struct wal_snapshot_reader *rd;
    int rv = wal_snapshot_reader_open(r->wal, &rd);
    if (rv < 0)
        return rv;
    struct wal_snapshot_meta meta;
    wal_snapshot_reader_meta(rd, &meta);
    rv = repl__membership_decode(r, meta.membership, meta.membership_len, c);
    if (rv == 0 && r->cfg.load != NULL)
        rv = r->cfg.load(r->cfg.data, rd);
    wal_snapshot_reader_close(rd);
    if (rv == 0) {
        r->applied = meta.index;
        r->applied_term = meta.term;
        r->applied_config = *c;
        r->snap_index = meta.index;
        r->snap_bytes_mark = r->applied_bytes;
        wal_snapshot_file_size(r->wal, &r->snap_size);
    }
    return rv;
}

/* ---- restart ----------------------------------------------------------- */

struct replay {
    struct repl_blob *blob;
    struct raft_entry *e;
    uint32_t n, cap;
};

static int replay_one(void *data, const struct wal_entry *we)
{
    struct replay *rp = data;
    if (rp->n == rp->cap) {
        uint32_t cap = rp->cap ? rp->cap * 2 : 1024;
        struct raft_entry *e = realloc(rp->e, cap * sizeof(*e));
        if (e == NULL)
            return ERR_NOMEM;
        rp->e = e;
        rp->cap = cap;
    }
    if (repl__blob_reserve(rp->blob, we->len) < 0)
        return ERR_NOMEM;
    memcpy(rp->blob->bytes + rp->blob->len, we->buf, we->len);
    /* data holds the offset until the blob stops moving */
    rp->e[rp->n++] = (struct raft_entry){
        .term = we->term, .data = (const uint8_t *)(uintptr_t)rp->blob->len,
        .buf = &rp->blob->rb, .len = we->len, .type = we->type};
    rp->blob->len += we->len;
    return 0;
}

int repl__restore(struct repl *r, struct raft_init *init, char *errmsg)
{
    const struct wal_recovered *rec = r->cfg.rec;
    init->term = rec->hs.term;
    init->vote = rec->hs.vote;
    if (rec->has_snapshot) {
        struct raft_snapshot_meta *s = &init->snapshot;
        int rv = load_newest(r, &s->config);
        if (rv < 0) {
            snprintf(errmsg, ERRMSG_LEN, "loading the snapshot: %s",
                     err_str(rv));
            return rv;
        }
        s->index = rec->snap_index;
        s->term = rec->snap_term;
        wal_snapshot_file_size(r->wal, &s->size);
    }
    if (rec->last_index < rec->first_index)
        return 0;
    struct replay rp = {.blob = repl__blob_new(1 << 20)};
    if (rp.blob == NULL)
        return ERR_NOMEM;
    int rv = wal_replay(r->wal, rec->first_index, replay_one, &rp);
    for (uint32_t i = 0; i < rp.n; i++) {
        struct raft_entry *e = &rp.e[i];
        e->data = rp.blob->bytes + (uintptr_t)e->data;
        /* members' addresses are needed before anything commits: a
         * restarted node must reach the others to hear what did */
        if (e->type == RAFT_ENTRY_NORMAL && e->len > REPL_ENTRY_HEADER &&
            (e->data[1] & REPL_ENTRY_META))
            repl__apply_meta(r, e->data + REPL_ENTRY_HEADER,
                             e->len - REPL_ENTRY_HEADER);
    }
    init->entries = rp.e;
    init->n_entries = rp.n;
    if (rp.n == 0) {
        raft_buf_release(&rp.blob->rb);
        free(rp.e);
        init->entries = NULL;
    }
    if (rv < 0)
        snprintf(errmsg, ERRMSG_LEN, "reading the log: %s", err_str(rv));
    return rv < 0 ? rv : 0;
}

/* After raft_new: the core holds its own references to the blob. */
void repl__restore_free(struct raft_init *init)
{
    if (init->n_entries == 0 || init->entries == NULL)
        return;
    raft_buf_release(init->entries[0].buf);
    free((void *)init->entries);
}

/* ---- taking a snapshot ------------------------------------------------- */

static int fill(struct wal_snapshot_writer *wr, void *data)
{
    struct repl *r = data;
    return r->cfg.save(r->cfg.data, wr);
}

static void taken(struct wal *w, int status,
                  const struct wal_snapshot_meta *meta, void *data)
{
    struct repl *r = data;
    r->snapshot_running = false;
    r->snap_failed = status < 0;
    r->snap_took_ms = loop_now_ms(r->cfg.loop) - r->snap_started_ms;
    if (status < 0) {
        log_msg(LOG_LEVEL_WARNING, "Raft snapshot failed: %s",
                err_str(status));
        return;
    }
    r->snap_index = r->taking.index;
    wal_snapshot_file_size(r->wal, &r->taking.size);
    r->snap_size = r->taking.size;
    r->snap_saved_ms = loop_now_ms(r->cfg.loop);
    r->snap_saves++;
    struct raft_event ev = {.type = RAFT_EVENT_SNAPSHOT_TAKEN};
    ev.snapshot = r->taking;
    /* The compaction gives the log up to the snapshot back to the log
     * arena, which keeps it for the next cycle: no malloc_trim here (it
     * stalled the loop for 10-20 ms and gave back a few MiB). */
    repl__step(r, &ev);
    log_msg(LOG_LEVEL_NOTICE, "Raft snapshot at index %llu saved",
            (unsigned long long)r->taking.index);
}

/* The members of a group apply the same log: with one threshold they
 * would all fork at the same moment and stall every commit together. So
 * each waits a random 0-49 % more, drawn anew for every snapshot: mostly
 * a majority is not forking. */
void repl__snapshot_jitter(struct repl *r)
{
    r->snap_rng = r->snap_rng * 6364136223846793005ull +
                  1442695040888963407ull;
    r->snap_jitter_pct = (uint32_t)(r->snap_rng >> 33) % 50;
}

/* Whether the log since the newest snapshot is big enough to replace
 * (repl_config's snapshot_min_bytes / snapshot_growth_pct). */
static bool log_outgrew_snapshot(const struct repl *r)
{
    uint64_t grown = r->applied_bytes - r->snap_bytes_mark;
    uint64_t need = r->snap_size / 100 * r->cfg.snapshot_growth_pct;
    if (need < r->cfg.snapshot_min_bytes)
        need = r->cfg.snapshot_min_bytes;
    return grown >= need + need / 100 * r->snap_jitter_pct;
}

void repl__maybe_snapshot(struct repl *r)
{
    if (!log_outgrew_snapshot(r))
        return;
    repl__snapshot_now(r);
}

int repl__snapshot_now(struct repl *r)
{
    static uint8_t blob[MEMBERSHIP_MAX];
    if (r->cfg.save == NULL)
        return ERR_INVALID;
    if (r->snapshot_running || wal_snapshot_in_progress(r->wal))
        return ERR_BUSY;
    if (r->applied == 0 || r->applied <= r->snap_index)
        return 0;
    size_t len = repl__membership_encode(r, &r->applied_config, blob,
                                         sizeof(blob));
    struct wal_snapshot_meta meta = {r->applied_term, r->applied, blob,
                                     (uint32_t)len};
    r->taking = (struct raft_snapshot_meta){
        .index = r->applied, .term = r->applied_term,
        .config = r->applied_config};
    int64_t t0 = loop_mono_us_fresh();
    pid_t pid = wal_snapshot_fork(r->wal, &meta, fill, taken, r);
    if (pid < 0)
        return (int)pid;
    r->fork_us = loop_mono_us_fresh() - t0; /* the loop stood still */
    r->forks++;
    r->snapshot_running = true;
    r->snap_bytes_mark = r->applied_bytes;
    r->snap_started_ms = loop_now_ms(r->cfg.loop);
    repl__snapshot_jitter(r);
    return 1;
}

int repl_snapshot(struct repl *r)
{
    return repl__snapshot_now(r);
}

void repl_snapshot_status(const struct repl *r,
                          struct repl_snapshot_status *st)
{
    st->running = r->snapshot_running;
    st->last_ok = !r->snap_failed;
    st->index = r->snap_index;
    st->last_ms = r->snap_saved_ms;
    st->log_bytes = r->applied_bytes - r->snap_bytes_mark;
    st->saves = r->snap_saves;
    st->started_ms = r->snap_started_ms;
    st->last_duration_ms = r->snap_took_ms;
    st->forks = r->forks;
    st->fork_us = r->fork_us;
}

/* ---- shipping ---------------------------------------------------------- */

int repl__fill_chunk(struct repl *r, struct raft_msg *m, uint8_t **buf)
{
    struct raft_msg_snapshot *s = &m->snapshot;
    if (s->meta.index != r->snap_index || s->len == 0)
        return s->len == 0 ? 0 : ERR_NOTFOUND;
    if ((*buf = malloc(s->len)) == NULL)
        return ERR_NOMEM;
    ssize_t n = wal_snapshot_chunk_read(r->wal, s->offset, *buf, s->len);
    if (n != (ssize_t)s->len) {
        free(*buf);
        *buf = NULL;
        return ERR_IO;
    }
    s->data = *buf;
    return 0;
}

static void install(struct repl *r, const struct raft_update *u)
{
    int rv = r->recv ? wal_snapshot_recv_finish(r->recv) : ERR_NOTFOUND;
    r->recv = NULL;
    struct raft_config c;
    if (rv == 0)
        rv = load_newest(r, &c);
    if (rv < 0) {
        log_msg(LOG_LEVEL_WARNING, "Raft snapshot %llu refused: %s",
                (unsigned long long)u->install_meta.index, err_str(rv));
        return;
    }
    r->applied = u->install_meta.index;
    r->applied_term = u->install_meta.term;
    r->install_pending = true;
    r->install_index = u->install_meta.index;
    log_msg(LOG_LEVEL_NOTICE, "Raft snapshot %llu installed",
            (unsigned long long)r->install_index);
}

void repl__store_chunks(struct repl *r, const struct raft_update *u)
{
    for (uint32_t i = 0; i < u->n_chunks; i++) {
        const struct raft_chunk *c = &u->chunks[i];
        if (r->recv == NULL || c->offset == 0 ||
            r->recv_index != u->chunks_meta.index) {
            if (r->recv != NULL)
                wal_snapshot_recv_abort(r->recv);
            r->recv = NULL;
            if (wal_snapshot_recv_begin(r->wal, u->chunks_meta.term,
                                        u->chunks_meta.index, &r->recv) < 0)
                continue;
            r->recv_index = u->chunks_meta.index;
        }
        wal_snapshot_recv_write(r->recv, c->offset, c->data, c->len);
    }
    if (u->install_snapshot)
        install(r, u);
}
