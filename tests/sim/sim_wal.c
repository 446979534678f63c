/* A simulated node's storage on the real WAL (src/wal) over a wal_mem disk:
 * persists go through wal_truncate/wal_append/wal_save_hard_state, syncs
 * are the disk's deferred fsyncs (reaped by wal_poll when the simulator's
 * disk event fires), a crash is wal_mem_crash (or _torn) + wal_close, and a
 * restart feeds raft_new from what wal_open recovered. Snapshots use the
 * WAL's writer, reader, chunked file access and receiver, so shipping and
 * installing them exercise that code too. Everything random comes from the
 * world's stream, so a seed replays exactly. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sim/sim.h"
#include "wal/wal.h"

static const uint64_t seg_sizes[] = {4096, 8192, 65536};

bool sim_wal_used(const struct sim_node *n)
{
    return n->disk.mem != NULL;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void on_durable(struct wal *wal, uint64_t index, int status, void *data)
{
    (void)wal;
    (void)index;
    struct sim_node *n = data;
    if (status < 0)
        n->disk.wal_status = status;
}

static void on_log(void *data, const char *line)
{
    (void)data;
    (void)line; /* recovery notes (torn tails cut) are expected here */
}

static int wal_open_node(struct sim_world *w, struct sim_node *n,
                         struct wal_recovered *rec)
{
    struct wal_config c;
    memset(&c, 0, sizeof(c));
    c.dir = "sim";
    c.io = WAL_IO_MEM;
    c.disk = n->disk.mem;
    c.segment_size = seg_sizes[w->p.seed % 3];
    c.on_durable = on_durable;
    c.on_log = on_log;
    c.data = n;
    char err[ERRMSG_LEN] = "";
    int rv = wal_open(&c, &n->disk.wal, rec, err);
    if (rv != 0)
        sim_fail(w, "node %llu: WAL recovery failed: %s: %s",
                 (unsigned long long)n->id, err_str(rv), err);
    return rv;
}

/* Waits (without simulated time) until the WAL is durable up to its end. */
static void settle(struct wal *wal)
{
    for (int i = 0; i < 1000 && wal_durable_index(wal) < wal_last_index(wal);
         i++)
        wal_poll(wal);
}

void sim_wal_bootstrap(struct sim_world *w, struct sim_node *n,
                       const struct raft_config *c)
{
    n->disk.mem = wal_mem_disk_create();
    if (!n->disk.mem)
        abort();
    wal_mem_defer_sync(n->disk.mem, 1);
    if (!c)
        return;
    if (wal_open_node(w, n, NULL) != 0)
        return;
    uint8_t buf[RAFT_CONFIG_MAX_BYTES];
    int len = raft_config_encode(c, buf, sizeof(buf));
    struct wal_hard_state hs = {.term = 1, .node_id = n->id};
    struct wal_entry e = {.term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG,
                          .buf = buf, .len = len > 0 ? (uint32_t)len : 0};
    if (wal_save_hard_state(n->disk.wal, &hs) != 0 || len <= 0 ||
        wal_append(n->disk.wal, &e, 1) != 0 || wal_flush(n->disk.wal) != 0)
        sim_fail(w, "node %llu: WAL bootstrap failed", (unsigned long long)n->id);
    settle(n->disk.wal);
    wal_close(n->disk.wal);
    n->disk.wal = NULL;
}

/* ---- recovery ----------------------------------------------------------- */

struct replay_buf {
    struct raft_buf rb;
    struct raft_entry *ents;
    uint32_t n, cap;
    uint8_t *bytes;
    size_t used, size;
    uint64_t next;  /* expected index */
    bool gap;
};

static void replay_buf_free(struct raft_buf *b)
{
    struct replay_buf *r = (struct replay_buf *)b;
    free(r->bytes);
    free(r);
}

static int replay_one(void *data, const struct wal_entry *e)
{
    struct replay_buf *r = data;
    if (e->index != r->next) {
        r->gap = true;
        return -1;
    }
    r->next++;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->ents = realloc(r->ents, r->cap * sizeof(*r->ents));
        if (!r->ents)
            abort();
    }
    while (r->used + e->len > r->size) {
        r->size = r->size ? 2 * r->size : 4096;
        r->bytes = realloc(r->bytes, r->size);
        if (!r->bytes)
            abort();
    }
    if (e->len)
        memcpy(r->bytes + r->used, e->buf, e->len);
    /* data holds the offset until the buffer stops moving */
    r->ents[r->n++] = (struct raft_entry){.term = e->term,
                                          .data = (void *)(uintptr_t)r->used,
                                          .len = e->len, .type = e->type};
    r->used += e->len;
    return 0;
}

/* The state machine as of the WAL's snapshot, through its reader. */
static int load_snapshot(struct sim_world *w, struct sim_node *n,
                         struct raft_snapshot_meta *meta)
{
    struct wal_snapshot_reader *rd;
    int rv = wal_snapshot_reader_open(n->disk.wal, &rd);
    if (rv != 0)
        return rv;
    struct wal_snapshot_meta wm;
    wal_snapshot_reader_meta(rd, &wm);
    const void *buf;
    size_t len;
    rv = wal_snapshot_read(rd, &buf, &len);
    if (rv == 1 && len == 8 * SIM_KEYS) {
        for (int k = 0; k < SIM_KEYS; k++)
            n->kv[k] = (int64_t)get64((const uint8_t *)buf + 8 * k);
        rv = 0;
    } else {
        rv = rv < 0 ? rv : ERR_CORRUPT;
    }
    meta->index = wm.index;
    meta->term = wm.term;
    if (rv == 0 && raft_config_decode(wm.membership, wm.membership_len,
                                      &meta->config) != 0)
        rv = ERR_CORRUPT;
    wal_snapshot_reader_close(rd);
    if (rv == 0)
        rv = wal_snapshot_file_size(n->disk.wal, &meta->size);
    if (rv != 0)
        sim_fail(w, "node %llu: WAL snapshot unreadable: %s",
                 (unsigned long long)n->id, err_str(rv));
    return rv;
}

/* What the WAL acknowledged durable before the crash survived it: its
 * last durable entry is there with the same term (or under the snapshot). */
static bool holds_acknowledged(struct sim_world *w, struct sim_node *n,
                               const struct wal_recovered *rec)
{
    uint64_t idx = n->disk.crash_durable, term = n->disk.crash_term;
    n->disk.crash_durable = n->disk.crash_term = 0;
    if (idx == 0 || (rec->has_snapshot && idx <= rec->snap_index))
        return true;
    uint64_t got = idx <= rec->last_index ? wal_term_at(n->disk.wal, idx) : 0;
    if (got == term)
        return true;
    sim_fail(w, "node %llu: WAL acknowledged index %llu (term %llu) durable, "
                "recovery holds up to %llu and term %llu there",
             (unsigned long long)n->id, (unsigned long long)idx,
             (unsigned long long)term, (unsigned long long)rec->last_index,
             (unsigned long long)got);
    return false;
}

static int recover(struct sim_world *w, struct sim_node *n,
                   struct raft_init *init, struct replay_buf **out)
{
    struct wal_recovered rec;
    if (wal_open_node(w, n, &rec) != 0)
        return -1;
    if (rec.hs.node_id && rec.hs.node_id != n->id) {
        sim_fail(w, "node %llu: WAL holds node id %llu",
                 (unsigned long long)n->id, (unsigned long long)rec.hs.node_id);
        return -1;
    }
    init->term = rec.hs.term;
    init->vote = rec.hs.vote;
    for (int k = 0; k < SIM_KEYS; k++)
        n->kv[k] = LC_NIL;
    if (rec.has_snapshot && load_snapshot(w, n, &init->snapshot) != 0)
        return -1;
    if (rec.has_snapshot && (init->snapshot.index != rec.snap_index ||
                             init->snapshot.term != rec.snap_term)) {
        sim_fail(w, "node %llu: WAL snapshot %llu/%llu, reader says %llu/%llu",
                 (unsigned long long)n->id, (unsigned long long)rec.snap_index,
                 (unsigned long long)rec.snap_term,
                 (unsigned long long)init->snapshot.index,
                 (unsigned long long)init->snapshot.term);
        return -1;
    }
    struct replay_buf *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->rb = (struct raft_buf){.refs = 1, .free_cb = replay_buf_free};
    r->next = init->snapshot.index + 1;
    *out = r;
    int rv = wal_replay(n->disk.wal, r->next, replay_one, r);
    if (rv != 0 || r->gap || r->next != rec.last_index + 1) {
        sim_fail(w, "node %llu: WAL replay from %llu ended at %llu, recovered "
                    "last %llu (%s)", (unsigned long long)n->id,
                 (unsigned long long)init->snapshot.index + 1,
                 (unsigned long long)r->next - 1,
                 (unsigned long long)rec.last_index, err_str(rv));
        return -1;
    }
    if (!holds_acknowledged(w, n, &rec))
        return -1;
    for (uint32_t i = 0; i < r->n; i++) {
        r->ents[i].data = r->bytes + (uintptr_t)r->ents[i].data;
        r->ents[i].buf = &r->rb;
    }
    init->entries = r->ents;
    init->n_entries = r->n;
    return 0;
}

/* Builds the core from what wal_open recovered: hard state, snapshot
 * (metadata and the state machine it holds) and the entries after it. */
int sim_wal_start(struct sim_world *w, struct sim_node *n)
{
    struct raft_init init;
    memset(&init, 0, sizeof(init));
    struct replay_buf *r = NULL;
    sim_node_reset_volatile(n);
    int rv = recover(w, n, &init, &r);
    if (rv == 0) {
        /* nothing but the first entry, as a server on a new dir */
        init.fresh = init.vote == 0 && init.n_entries <= 1 &&
                     init.snapshot.index == 0;
        struct raft_options o;
        sim_node_options(w, n, &o);
        rv = raft_new(&o, &init, &n->raft);
        if (rv != 0)
            sim_fail(w, "node %llu: raft_new failed on the recovered WAL: %s",
                     (unsigned long long)n->id, err_str(rv));
    }
    if (r) {
        free(r->ents);
        r->ents = NULL;
        raft_buf_release(&r->rb);
    }
    if (rv != 0)
        return rv;
    n->applied = init.snapshot.index;
    n->applied_term = init.snapshot.term;
    n->applied_config = init.snapshot.config;
    n->state = SIM_NODE_UP;
    n->incarnation++;
    n->seen_term = n->w_term = init.term;
    n->w_vote = init.vote;
    n->last_commit = raft_commit_index(n->raft);
    n->disk.wal_status = 0;
    n->disk.fault_crashed = false;
    return 0;
}

static void recv_drop(struct sim_node *n)
{
    if (n->disk.wrecv)
        wal_snapshot_recv_abort(n->disk.wrecv);
    n->disk.wrecv = NULL;
    n->disk.wrecv_index = n->disk.wrecv_off = 0;
}

/* Power loss: every file loses what was not fsynced, or keeps a random
 * prefix of it (a torn tail the WAL's checksums must find). */
void sim_wal_crash(struct sim_world *w, struct sim_node *n)
{
    struct sim_disk *d = &n->disk;
    bool torn = sim_rng_chance(&w->rng, 500);
    if (d->wal) {
        d->crash_durable = wal_durable_index(d->wal);
        d->crash_term = wal_term_at(d->wal, d->crash_durable);
    }
    if (torn)
        wal_mem_crash_torn(d->mem, (unsigned)sim_rng_next(&w->rng));
    else
        wal_mem_crash(d->mem);
    recv_drop(n);
    if (d->wal)
        wal_close(d->wal);
    d->wal = NULL;
    sim_trace(w, "node %llu crashes (WAL, %s; %u persists not durable)",
              (unsigned long long)n->id, torn ? "torn tail" : "unsynced lost",
              d->n_wrecs);
    d->n_wrecs = 0;
    d->sync_scheduled = false;
    d->fault_armed = false;
    d->wal_status = 0;
}

void sim_wal_free(struct sim_node *n)
{
    struct sim_disk *d = &n->disk;
    recv_drop(n);
    if (d->wal)
        wal_close(d->wal);
    if (d->mem)
        wal_mem_disk_destroy(d->mem);
    free(d->wrecs);
    free(d->chunk_buf);
    d->wal = NULL;
    d->mem = NULL;
    d->wrecs = NULL;
    d->chunk_buf = NULL;
}

/* ---- persisting --------------------------------------------------------- */

/* The WAL stopped (an injected write fault): the server would exit; the
 * node crashes at the next disk event. A failure without a fault armed is
 * a WAL bug. */
static void wal_error(struct sim_world *w, struct sim_node *n, const char *op,
                      int rv)
{
    if (!n->disk.fault_armed) {
        sim_fail(w, "node %llu: %s failed: %s", (unsigned long long)n->id, op,
                 err_str(rv));
        return;
    }
    if (!n->disk.wal_status)
        n->disk.wal_status = rv < 0 ? rv : ERR_IO;
    if (!n->disk.sync_scheduled) {
        n->disk.sync_scheduled = true;
        sim_schedule(w, w->now, SIM_EV_DISK, n->id, 0, NULL);
    }
}

static int append_entries(struct sim_world *w, struct sim_node *n,
                          const struct raft_update *u)
{
    struct wal *wal = n->disk.wal;
    if (u->entries_index != wal_last_index(wal) + 1) {
        sim_fail(w, "node %llu: persist of index %llu after WAL last %llu",
                 (unsigned long long)n->id,
                 (unsigned long long)u->entries_index,
                 (unsigned long long)wal_last_index(wal));
        return 0;
    }
    struct wal_entry *es = calloc(u->n_entries, sizeof(*es));
    if (!es)
        abort();
    for (uint32_t i = 0; i < u->n_entries; i++) {
        const struct raft_entry *e = &u->entries[i];
        es[i] = (struct wal_entry){.term = e->term,
                                   .index = u->entries_index + i,
                                   .type = e->type, .buf = e->data,
                                   .len = e->len};
    }
    int rv = wal_append(wal, es, u->n_entries);
    free(es);
    return rv;
}

static void push_rec(struct sim_node *n, const struct raft_update *u)
{
    struct sim_disk *d = &n->disk;
    if (d->n_wrecs == d->cap_wrecs) {
        d->cap_wrecs = d->cap_wrecs ? 2 * d->cap_wrecs : 16;
        d->wrecs = realloc(d->wrecs, d->cap_wrecs * sizeof(*d->wrecs));
        if (!d->wrecs)
            abort();
    }
    bool prev_idle = d->n_wrecs > 0 && d->wrecs[d->n_wrecs - 1].needs_idle;
    d->wrecs[d->n_wrecs++] = (struct sim_wal_rec){
        .persist_id = u->persist_id, .target = wal_last_index(d->wal),
        .needs_idle = u->n_entries == 0 && (u->truncate_from || prev_idle)};
}

/* Raft's order (raft.h): truncate, append, then the hard state. The hard
 * state is written at once (the WAL blocks on it); entries wait for the
 * disk event that reaps their fsync. */
void sim_wal_persist(struct sim_world *w, struct sim_node *n,
                     const struct raft_update *u)
{
    struct sim_disk *d = &n->disk;
    if (!u->persist_id || d->wal_status)
        return;
    int rv = 0;
    const char *op = "wal_truncate";
    if (u->truncate_from)
        rv = wal_truncate(d->wal, u->truncate_from);
    if (rv == 0 && u->n_entries) {
        op = "wal_append";
        rv = append_entries(w, n, u);
    }
    if (rv == 0 && u->hard_state_changed) {
        struct wal_hard_state hs = {u->term, u->vote, n->id};
        op = "wal_save_hard_state";
        rv = wal_save_hard_state(d->wal, &hs);
    }
    if (rv == 0) {
        op = "wal_flush";
        rv = wal_flush(d->wal);
    }
    if (w->failed)
        return;
    if (rv != 0) {
        wal_error(w, n, op, rv);
        return;
    }
    push_rec(n, u);
    if (!d->sync_scheduled) {
        bool slow = w->now < d->slow_until;
        uint64_t lat = slow ? sim_rng_range(&w->rng, 20, 80)
                            : sim_rng_range(&w->rng, 0, 3);
        d->sync_scheduled = true;
        sim_schedule(w, w->now + lat, SIM_EV_DISK, n->id, 0, NULL);
    }
}

/* Nothing queued or in flight: every write submitted was fsynced. */
static bool wal_idle(const struct wal *wal)
{
    struct wal_stats st;
    wal_get_stats(wal, &st);
    return st.fsyncs == st.batches;
}

/* Pops the persist requests that are durable; returns the newest id. */
static uint64_t pop_durable(struct sim_node *n)
{
    struct sim_disk *d = &n->disk;
    bool idle = wal_idle(d->wal);
    uint64_t dur = wal_durable_index(d->wal), last = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < d->n_wrecs; i++) {
        const struct sim_wal_rec *r = &d->wrecs[i];
        if (idle || (!r->needs_idle && r->target <= dur)) {
            last = r->persist_id;
            k = i + 1;
        }
    }
    memmove(d->wrecs, d->wrecs + k, (d->n_wrecs - k) * sizeof(*d->wrecs));
    d->n_wrecs -= k;
    return last;
}

uint64_t sim_wal_sync(struct sim_world *w, struct sim_node *n)
{
    struct sim_disk *d = &n->disk;
    d->sync_scheduled = false;
    int rv = d->wal_status ? d->wal_status : wal_poll(d->wal);
    if (rv < 0 || d->wal_status) {
        if (!d->fault_armed) {
            sim_fail(w, "node %llu: WAL failed without a fault: %s",
                     (unsigned long long)n->id, err_str(rv));
            return 0;
        }
        sim_trace(w, "node %llu: WAL stopped on a write fault (%s)",
                  (unsigned long long)n->id, err_str(d->wal_status ? d->wal_status : rv));
        sim_crash_node(w, n, w->chaos ? sim_rng_range(&w->rng, 5, 300)
                                      : sim_rng_range(&w->rng, 5, 50));
        d->fault_crashed = true;
        return 0;
    }
    uint64_t last = pop_durable(n);
    if (!wal_idle(d->wal) && !d->sync_scheduled) {
        bool slow = w->now < d->slow_until;
        d->sync_scheduled = true;
        sim_schedule(w, w->now + (slow ? sim_rng_range(&w->rng, 20, 80)
                                       : sim_rng_range(&w->rng, 0, 3)),
                     SIM_EV_DISK, n->id, 0, NULL);
    }
    return last;
}

bool sim_wal_durable_on(struct sim_node *n, uint64_t index, uint64_t term)
{
    struct wal *wal = n->disk.wal;
    uint64_t st, si;
    if (wal_snapshot_last(wal, &st, &si) == 0 && index <= si)
        return true;
    return index <= wal_durable_index(wal) && index >= wal_first_index(wal) &&
           wal_term_at(wal, index) == term;
}

uint64_t sim_wal_term(const struct sim_node *n)
{
    return n->raft ? raft_term(n->raft) : 0;
}

/* ---- snapshots ---------------------------------------------------------- */

bool sim_wal_snapshot(struct sim_world *w, struct sim_node *n,
                      struct raft_snapshot_meta *out)
{
    struct sim_disk *d = &n->disk;
    uint8_t cfg[RAFT_CONFIG_MAX_BYTES], kv[8 * SIM_KEYS];
    int clen = raft_config_encode(&n->applied_config, cfg, sizeof(cfg));
    if (clen <= 0 || d->wal_status)
        return false;
    for (int k = 0; k < SIM_KEYS; k++)
        put64(kv + 8 * k, (uint64_t)n->kv[k]);
    struct wal_snapshot_meta m = {n->applied_term, n->applied, cfg,
                                  (uint32_t)clen};
    struct wal_snapshot_writer *wr;
    int rv = wal_snapshot_writer_open(d->wal, &m, &wr);
    if (rv == 0) {
        rv = wal_snapshot_write(wr, kv, sizeof(kv));
        if (rv == 0)
            rv = wal_snapshot_writer_finish(wr);
        else
            wal_snapshot_writer_abort(wr);
    }
    if (rv == 0)
        rv = wal_snapshot_installed(d->wal, m.term, m.index);
    *out = (struct raft_snapshot_meta){.index = n->applied,
                                       .term = n->applied_term,
                                       .config = n->applied_config};
    if (rv == 0)
        rv = wal_snapshot_file_size(d->wal, &out->size);
    if (rv != 0) {
        wal_error(w, n, "snapshot", rv);
        return false;
    }
    return true;
}

bool sim_wal_chunk(struct sim_node *n, struct raft_msg *m)
{
    struct raft_msg_snapshot *s = &m->snapshot;
    struct sim_disk *d = &n->disk;
    uint64_t t, i;
    if (!d->wal || wal_snapshot_last(d->wal, &t, &i) != 0 ||
        i != s->meta.index || t != s->meta.term)
        return false;
    if (s->len > d->chunk_cap) {
        d->chunk_buf = realloc(d->chunk_buf, s->len);
        if (!d->chunk_buf)
            abort();
        d->chunk_cap = s->len;
    }
    ssize_t got = wal_snapshot_chunk_read(d->wal, s->offset, d->chunk_buf,
                                          s->len);
    if (got != (ssize_t)s->len)
        return false;
    s->data = d->chunk_buf;
    return true;
}

void sim_wal_chunks(struct sim_world *w, struct sim_node *n,
                    const struct raft_update *u)
{
    struct sim_disk *d = &n->disk;
    const struct raft_snapshot_meta *m = &u->chunks_meta;
    if (d->wal_status)
        return;
    for (uint32_t i = 0; i < u->n_chunks && !w->failed; i++) {
        const struct raft_chunk *c = &u->chunks[i];
        if (c->offset == 0 || !d->wrecv || d->wrecv_index != m->index) {
            recv_drop(n);
            int rv = wal_snapshot_recv_begin(d->wal, m->term, m->index,
                                             &d->wrecv);
            if (rv != 0) {
                d->wrecv = NULL;
                wal_error(w, n, "wal_snapshot_recv_begin", rv);
                return;
            }
            d->wrecv_index = m->index;
        }
        if (c->offset != d->wrecv_off) {
            sim_fail(w, "node %llu: snapshot chunk at %llu, expected %llu",
                     (unsigned long long)n->id, (unsigned long long)c->offset,
                     (unsigned long long)d->wrecv_off);
            return;
        }
        int rv = wal_snapshot_recv_write(d->wrecv, c->offset, c->data, c->len);
        if (rv != 0) {
            wal_error(w, n, "wal_snapshot_recv_write", rv);
            return;
        }
        d->wrecv_off += c->len;
        sim_trace(w, "node %llu: stored snapshot chunk %llu+%u of %llu/%llu",
                  (unsigned long long)n->id, (unsigned long long)c->offset,
                  c->len, (unsigned long long)m->index,
                  (unsigned long long)m->term);
    }
}

bool sim_wal_install(struct sim_world *w, struct sim_node *n,
                     const struct raft_snapshot_meta *m, uint64_t *covered)
{
    struct sim_disk *d = &n->disk;
    if (d->wal_status)
        return false; /* the WAL stopped: the node crashes at once */
    if (!d->wrecv || d->wrecv_index != m->index || d->wrecv_off != m->size) {
        sim_fail(w, "node %llu: asked to install snapshot %llu that is not "
                    "fully received (have %llu bytes of %llu for %llu)",
                 (unsigned long long)n->id, (unsigned long long)m->index,
                 (unsigned long long)d->wrecv_off,
                 (unsigned long long)m->size,
                 (unsigned long long)d->wrecv_index);
        return false;
    }
    struct wal_snapshot_recv *rv = d->wrecv;
    d->wrecv = NULL;
    d->wrecv_index = d->wrecv_off = 0;
    int st = wal_snapshot_recv_finish(rv);
    /* The core keeps nothing after the snapshot; neither may the WAL
     * (it keeps the suffix when it holds the snapshot's last entry). */
    if (st == 0 && wal_last_index(d->wal) > m->index)
        st = wal_truncate(d->wal, m->index + 1);
    if (st == 0)
        st = wal_flush(d->wal);
    if (st != 0) {
        wal_error(w, n, "wal_snapshot_recv_finish", st);
        return false;
    }
    struct raft_snapshot_meta got;
    memset(&got, 0, sizeof(got));
    if (load_snapshot(w, n, &got) != 0)
        return false;
    if (got.index != m->index || got.term != m->term || got.size != m->size) {
        sim_fail(w, "node %llu: installed WAL snapshot reads %llu/%llu",
                 (unsigned long long)n->id, (unsigned long long)got.index,
                 (unsigned long long)got.term);
        return false;
    }
    /* The snapshot covers every earlier persist request (raft.h). */
    *covered = d->n_wrecs ? d->wrecs[d->n_wrecs - 1].persist_id : 0;
    d->n_wrecs = 0;
    return true;
}

/* ---- faults ------------------------------------------------------------- */

void sim_wal_arm_fault(struct sim_world *w, struct sim_node *n)
{
    struct sim_disk *d = &n->disk;
    if (!d->mem || n->state != SIM_NODE_UP || d->fault_armed)
        return;
    uint64_t nth = sim_rng_range(&w->rng, 1, 4);
    uint64_t kind = sim_rng_below(&w->rng, 3);
    d->fault_armed = true;
    if (kind == 0) {
        size_t keep = (size_t)sim_rng_below(&w->rng, 96);
        wal_mem_tear_write(d->mem, nth, keep);
        sim_trace(w, "chaos: node %llu write %llu from now tears after %zu "
                     "bytes", (unsigned long long)n->id,
                  (unsigned long long)nth, keep);
    } else if (kind == 1) {
        wal_mem_fail_write(d->mem, nth, 0);
        sim_trace(w, "chaos: node %llu write %llu from now fails",
                  (unsigned long long)n->id, (unsigned long long)nth);
    } else {
        /* A failed fsync must stop the WAL: what it wrote may be gone. */
        wal_mem_fail_sync(d->mem, nth);
        sim_trace(w, "chaos: node %llu fsync %llu from now fails",
                  (unsigned long long)n->id, (unsigned long long)nth);
    }
}
