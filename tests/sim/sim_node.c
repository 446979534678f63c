/* One simulated server: a real raft core, an in-memory disk that keeps
 * written (pending) and synced (durable) data apart, the replicated
 * register map it applies entries to, and the glue that carries out each
 * raft_update in the documented order (persist, send, snapshot chunks,
 * apply, reads, notes). A crash keeps the durable state plus a random
 * prefix of the pending writes; a restart rebuilds the core from it. With
 * --storage wal the disk is the real WAL instead (sim_wal.c). */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/sim_net.h"
#include "wal/wal.h"

#define SNAP_MAGIC 0x534d4953u /* "SIMS" */
#define SNAP_BYTES (4 + 8 + 8 * SIM_KEYS + 8)
#define FOLLOWUPS 32

/* ---- bytes helpers ----------------------------------------------------- */

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

uint64_t sim_hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t sim_kv_digest(const int64_t *kv)
{
    return sim_hash_bytes((const uint8_t *)kv, sizeof(int64_t) * SIM_KEYS);
}

void sim_op_encode(const struct sim_op *op, uint8_t *buf)
{
    buf[0] = op->kind;
    buf[1] = op->key;
    buf[2] = (uint8_t)op->client;
    buf[3] = (uint8_t)(op->client >> 8);
    buf[4] = (uint8_t)(op->client >> 16);
    buf[5] = (uint8_t)(op->client >> 24);
    put64(buf + 6, op->opid);
    put64(buf + 14, (uint64_t)op->arg);
    put64(buf + 22, (uint64_t)op->arg2);
}

bool sim_op_decode(const uint8_t *buf, size_t len, struct sim_op *op)
{
    if (len != SIM_OP_BYTES || buf[0] > LC_CAS || buf[1] >= SIM_KEYS)
        return false;
    op->kind = buf[0];
    op->key = buf[1];
    op->client = (uint32_t)buf[2] | (uint32_t)buf[3] << 8 |
                 (uint32_t)buf[4] << 16 | (uint32_t)buf[5] << 24;
    op->opid = get64(buf + 6);
    op->arg = (int64_t)get64(buf + 14);
    op->arg2 = (int64_t)get64(buf + 22);
    return true;
}

/* ---- logs and disk ------------------------------------------------------ */

static void log_free(struct sim_log *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        free(l->e[i].data);
    free(l->e);
    memset(l, 0, sizeof(*l));
}

static uint64_t log_last(const struct sim_log *l)
{
    return l->first + l->n - 1;
}

/* Drops entries with index >= from. */
static void log_cut_tail(struct sim_log *l, uint64_t from)
{
    while (l->n > 0 && log_last(l) >= from)
        free(l->e[--l->n].data);
}

/* Drops entries with index <= upto; the log then starts at upto + 1 at
 * the latest. */
static void log_cut_head(struct sim_log *l, uint64_t upto)
{
    if (upto < l->first)
        return;
    uint64_t drop = upto - l->first + 1;
    if (drop > l->n)
        drop = l->n;
    for (uint64_t i = 0; i < drop; i++)
        free(l->e[i].data);
    memmove(l->e, l->e + drop, (l->n - drop) * sizeof(*l->e));
    l->n -= (uint32_t)drop;
    l->first = upto + 1;
}

static void log_push(struct sim_log *l, uint64_t term, uint8_t type,
                     const uint8_t *data, uint32_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->e = realloc(l->e, l->cap * sizeof(*l->e));
        if (!l->e)
            abort();
    }
    uint8_t *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            abort();
        memcpy(copy, data, len);
    }
    l->e[l->n++] = (struct sim_entry){term, type, len, copy};
}

/* Writes a record into the durable state. */
static void disk_apply(struct sim_world *w, struct sim_node *n,
                       struct sim_record *r)
{
    struct sim_disk *d = &n->disk;
    if (r->hard) {
        d->term = r->term;
        d->vote = r->vote;
    }
    if (r->truncate_from)
        log_cut_tail(&d->log, r->truncate_from);
    for (uint32_t i = 0; i < r->entries.n; i++) {
        uint64_t idx = r->entries_index + i;
        if (idx < d->log.first)
            continue; /* below a snapshot installed since */
        if (idx > d->log.first + d->log.n) {
            sim_fail(w, "node %llu: persist of index %llu leaves a gap "
                        "after durable last %llu",
                     (unsigned long long)n->id, (unsigned long long)idx,
                     (unsigned long long)log_last(&d->log));
            return;
        }
        log_cut_tail(&d->log, idx);
        struct sim_entry *e = &r->entries.e[i];
        log_push(&d->log, e->term, e->type, e->data, e->len);
    }
}

static void record_free(struct sim_record *r)
{
    log_free(&r->entries);
}

/* Makes every pending record durable; returns the last persist id. */
static uint64_t disk_flush(struct sim_world *w, struct sim_node *n)
{
    struct sim_disk *d = &n->disk;
    uint64_t last = 0;
    for (uint32_t i = 0; i < d->n_pending; i++) {
        disk_apply(w, n, &d->pending[i]);
        last = d->pending[i].persist_id;
        record_free(&d->pending[i]);
    }
    d->n_pending = 0;
    if (last)
        d->synced_id = last;
    return last;
}

void sim_disk_bootstrap(struct sim_disk *d, const struct raft_config *c)
{
    uint8_t buf[RAFT_CONFIG_MAX_BYTES];
    int len = raft_config_encode(c, buf, sizeof(buf));
    memset(d, 0, sizeof(*d));
    d->log.first = 1;
    d->term = 1; /* the bootstrap entry's term */
    if (len > 0)
        log_push(&d->log, 1, RAFT_ENTRY_CONFIG, buf, (uint32_t)len);
}

static void snap_encode(const struct sim_node *n, uint64_t index, uint8_t *b)
{
    b[0] = (uint8_t)SNAP_MAGIC;
    b[1] = (uint8_t)(SNAP_MAGIC >> 8);
    b[2] = (uint8_t)(SNAP_MAGIC >> 16);
    b[3] = (uint8_t)(SNAP_MAGIC >> 24);
    put64(b + 4, index);
    for (int k = 0; k < SIM_KEYS; k++)
        put64(b + 12 + 8 * k, (uint64_t)n->kv[k]);
    put64(b + SNAP_BYTES - 8, sim_hash_bytes(b, SNAP_BYTES - 8));
}

static bool snap_decode(const uint8_t *b, uint64_t len, uint64_t index,
                        int64_t *kv)
{
    if (len != SNAP_BYTES || get64(b + 4) != index ||
        get64(b + SNAP_BYTES - 8) != sim_hash_bytes(b, SNAP_BYTES - 8))
        return false;
    for (int k = 0; k < SIM_KEYS; k++)
        kv[k] = (int64_t)get64(b + 12 + 8 * k);
    return true;
}

/* ---- life cycle --------------------------------------------------------- */

void sim_node_reset_volatile(struct sim_node *n)
{
    free(n->recv_data);
    free(n->props);
    free(n->reads);
    n->recv_data = NULL;
    n->recv_cap = 0;
    n->recv_index = 0;
    n->props = NULL;
    n->n_props = n->cap_props = 0;
    n->reads = NULL;
    n->n_reads = n->cap_reads = 0;
    n->last_commit = 0;
    n->lc_term = n->lc_upto = 0;
    n->led_term = 0;
}

struct init_buf {
    struct raft_buf rb;
    uint8_t data[];
};

static void init_buf_free(struct raft_buf *b)
{
    free(b);
}

void sim_node_options(struct sim_world *w, struct sim_node *n,
                      struct raft_options *o)
{
    const struct sim_params *p = &w->p;
    memset(o, 0, sizeof(*o));
    o->id = n->id;
    o->seed = sim_rng_next(&w->rng);
    o->election_timeout_ms = p->election_ms;
    o->heartbeat_ms = p->election_ms / 10;
    o->no_pre_vote = !p->pre_vote;
    o->no_check_quorum = !p->check_quorum;
    o->lease_drift_ms = p->lease ? p->election_ms * 3 / 10 : 0;
    o->max_inflight_msgs = p->max_inflight;
    o->max_append_entries = p->max_append_entries;
    o->snapshot_chunk_bytes = p->chunk_bytes;
    o->snapshot_inflight_chunks = p->chunk_window;
    o->snapshot_threshold = p->snapshot_threshold;
    o->snapshot_trailing = p->snapshot_trailing;
    o->no_auto_promote = !p->auto_promote;
}

/* The durable entries after the snapshot, copied into one buffer the core
 * takes references on (the disk's own copies may change under it). */
static struct raft_entry *init_entries(struct sim_disk *d, uint32_t *cnt,
                                       struct init_buf **out)
{
    uint64_t from = d->snap.index + 1;
    uint32_t skip = d->log.n > 0 && from > d->log.first
                        ? (uint32_t)(from - d->log.first) : 0;
    if (skip > d->log.n)
        skip = d->log.n;
    *cnt = d->log.n - skip;
    size_t bytes = 0;
    for (uint32_t i = skip; i < d->log.n; i++)
        bytes += d->log.e[i].len;
    struct init_buf *ib = malloc(sizeof(*ib) + bytes + 1);
    struct raft_entry *ents = calloc(*cnt + 1, sizeof(*ents));
    if (!ib || !ents)
        abort();
    ib->rb = (struct raft_buf){.refs = 1, .free_cb = init_buf_free};
    size_t off = 0;
    for (uint32_t i = 0; i < *cnt; i++) {
        const struct sim_entry *e = &d->log.e[skip + i];
        if (e->len)
            memcpy(ib->data + off, e->data, e->len);
        ents[i] = (struct raft_entry){.term = e->term, .data = ib->data + off,
                                      .buf = &ib->rb, .len = e->len,
                                      .type = e->type};
        off += e->len;
    }
    *out = ib;
    return ents;
}

/* The state machine as of the durable snapshot. */
static void load_state(struct sim_world *w, struct sim_node *n)
{
    struct sim_disk *d = &n->disk;
    sim_node_reset_volatile(n);
    for (int k = 0; k < SIM_KEYS; k++)
        n->kv[k] = LC_NIL;
    n->applied = d->snap.index;
    n->applied_term = d->snap.term;
    n->applied_config = d->snap.config;
    if (d->snap.index && !snap_decode(d->snap_data, d->snap_len,
                                      d->snap.index, n->kv))
        sim_fail(w, "node %llu: durable snapshot unreadable",
                 (unsigned long long)n->id);
}

/* Builds the core from the durable state (raft_init) and reloads the
 * state machine from the durable snapshot. */
int sim_node_start(struct sim_world *w, struct sim_node *n)
{
    if (sim_wal_used(n))
        return sim_wal_start(w, n);
    struct sim_disk *d = &n->disk;
    if (d->log.n > 0 && d->log.first > d->snap.index + 1) {
        sim_fail(w, "node %llu: durable log starts at %llu after snapshot %llu",
                 (unsigned long long)n->id, (unsigned long long)d->log.first,
                 (unsigned long long)d->snap.index);
        return -1;
    }
    /* Nothing but the first entry, as a server on a new dir. */
    struct raft_init init = {.term = d->term, .vote = d->vote,
                             .snapshot = d->snap,
                             .fresh = d->vote == 0 && d->log.n <= 1 &&
                                      d->snap.index == 0};
    struct init_buf *ib;
    struct raft_entry *ents = init_entries(d, &init.n_entries, &ib);
    init.entries = ents;
    struct raft_options o;
    sim_node_options(w, n, &o);
    int rv = raft_new(&o, &init, &n->raft);
    free(ents);
    raft_buf_release(&ib->rb);
    if (rv != 0) {
        sim_fail(w, "node %llu: raft_new failed: %s", (unsigned long long)n->id,
                 err_str(rv));
        return rv;
    }
    load_state(w, n);
    n->state = SIM_NODE_UP;
    n->incarnation++;
    n->seen_term = n->w_term = d->term;
    n->w_vote = d->vote;
    n->last_commit = raft_commit_index(n->raft);
    return 0;
}

/* Power loss: synced data stays; of the pending writes an arbitrary prefix
 * reached the platter (the disk may have written them before the crash). */
void sim_node_crash(struct sim_world *w, struct sim_node *n)
{
    struct sim_disk *d = &n->disk;
    if (sim_wal_used(n)) {
        sim_wal_crash(w, n);
        goto down;
    }
    uint32_t keep = (uint32_t)sim_rng_below(&w->rng, d->n_pending + 1ULL);
    for (uint32_t i = 0; i < d->n_pending; i++) {
        struct sim_record *r = &d->pending[i];
        if (i < keep) {
            disk_apply(w, n, r);
        } else if (i == keep && sim_rng_chance(&w->rng, 500)) {
            /* Torn: the truncation and some of the entries reached the
             * disk, the rest of the record (and its hard state) did not;
             * a WAL finds the torn tail by its checksum. */
            uint32_t all = r->entries.n;
            r->hard = false;
            r->entries.n = (uint32_t)sim_rng_below(&w->rng, all + 1ULL);
            disk_apply(w, n, r);
            r->entries.n = all;
        }
        record_free(r);
    }
    sim_trace(w, "node %llu crashes (kept %u of %u unsynced writes)",
              (unsigned long long)n->id, keep, d->n_pending);
    d->n_pending = 0;
    d->sync_scheduled = false;
down:
    raft_free(n->raft);
    n->raft = NULL;
    n->state = SIM_NODE_DOWN;
    n->incarnation++;
    sim_node_reset_volatile(n);
}

void sim_node_free(struct sim_node *n)
{
    if (n->raft)
        raft_free(n->raft);
    n->raft = NULL;
    sim_wal_free(n);
    for (uint32_t i = 0; i < n->disk.n_pending; i++)
        record_free(&n->disk.pending[i]);
    free(n->disk.pending);
    log_free(&n->disk.log);
    free(n->disk.snap_data);
    sim_node_reset_volatile(n);
    memset(n, 0, sizeof(*n));
}

/* ---- carrying out an update --------------------------------------------- */

struct followups {
    struct raft_event ev[FOLLOWUPS];
    int head, tail;
};

static void push_followup(struct sim_world *w, struct followups *f,
                          const struct raft_event *ev)
{
    if (f->tail - f->head >= FOLLOWUPS) {
        sim_fail(w, "follow-up queue overflow");
        return;
    }
    f->ev[f->tail++ % FOLLOWUPS] = *ev;
}

static void do_persist(struct sim_world *w, struct sim_node *n,
                       const struct raft_update *u)
{
    struct sim_disk *d = &n->disk;
    if (!u->persist_id)
        return;
    sim_check_persist(w, n, u);
    if (sim_wal_used(n)) {
        sim_wal_persist(w, n, u);
        return;
    }
    if (d->n_pending == d->cap_pending) {
        d->cap_pending = d->cap_pending ? 2 * d->cap_pending : 16;
        d->pending = realloc(d->pending, d->cap_pending * sizeof(*d->pending));
        if (!d->pending)
            abort();
    }
    struct sim_record *r = &d->pending[d->n_pending++];
    memset(r, 0, sizeof(*r));
    r->persist_id = u->persist_id;
    r->hard = u->hard_state_changed;
    r->term = u->term;
    r->vote = u->vote;
    r->truncate_from = u->truncate_from;
    r->entries_index = u->entries_index;
    r->entries.first = u->entries_index;
    for (uint32_t i = 0; i < u->n_entries; i++) {
        const struct raft_entry *e = &u->entries[i];
        log_push(&r->entries, e->term, e->type, e->data, e->len);
    }
    if (!d->sync_scheduled) {
        bool slow = w->now < d->slow_until;
        uint64_t lat = slow ? sim_rng_range(&w->rng, 20, 80)
                            : sim_rng_range(&w->rng, 0, 3);
        d->sync_scheduled = true;
        sim_schedule(w, w->now + lat, SIM_EV_DISK, n->id, 0, NULL);
    }
}

static void do_chunks(struct sim_world *w, struct sim_node *n,
                      const struct raft_update *u)
{
    if (!u->n_chunks)
        return;
    if (sim_wal_used(n)) {
        sim_wal_chunks(w, n, u);
        return;
    }
    const struct raft_snapshot_meta *m = &u->chunks_meta;
    if (n->recv_index != m->index || n->recv_cap != m->size) {
        free(n->recv_data);
        n->recv_data = calloc(1, m->size ? m->size : 1);
        n->recv_cap = m->size;
        n->recv_index = m->index;
    }
    for (uint32_t i = 0; i < u->n_chunks; i++) {
        const struct raft_chunk *c = &u->chunks[i];
        if (c->offset + c->len > n->recv_cap) {
            sim_fail(w, "node %llu: snapshot chunk [%llu,+%u) beyond size %llu",
                     (unsigned long long)n->id, (unsigned long long)c->offset,
                     c->len, (unsigned long long)n->recv_cap);
            return;
        }
        memcpy(n->recv_data + c->offset, c->data, c->len);
    }
}

static void serve_reads(struct sim_world *w, struct sim_node *n);
static void install_finish(struct sim_world *w, struct sim_node *n,
                           const struct raft_snapshot_meta *m,
                           uint64_t flushed, struct followups *f);

static void do_install(struct sim_world *w, struct sim_node *n,
                       const struct raft_update *u, struct followups *f)
{
    const struct raft_snapshot_meta *m = &u->install_meta;
    if (sim_wal_used(n)) {
        uint64_t covered = 0;
        if (sim_wal_install(w, n, m, &covered))
            install_finish(w, n, m, covered, f);
        return;
    }
    int64_t kv[SIM_KEYS];
    if (n->recv_index != m->index ||
        !snap_decode(n->recv_data, n->recv_cap, m->index, kv)) {
        sim_fail(w, "node %llu: asked to install snapshot %llu that is not "
                    "fully received", (unsigned long long)n->id,
                 (unsigned long long)m->index);
        return;
    }
    uint64_t flushed = disk_flush(w, n);
    struct sim_disk *d = &n->disk;
    free(d->snap_data);
    d->snap_data = n->recv_data;
    d->snap_len = (uint32_t)n->recv_cap;
    d->snap = *m;
    n->recv_data = NULL;
    n->recv_cap = n->recv_index = 0;
    log_cut_tail(&d->log, 0);
    d->log.first = m->index + 1;
    memcpy(n->kv, kv, sizeof(kv));
    install_finish(w, n, m, flushed, f);
}

/* The state machine holds the installed snapshot (kv loaded): tell the
 * core, and report the persist requests the snapshot covered. */
static void install_finish(struct sim_world *w, struct sim_node *n,
                           const struct raft_snapshot_meta *m,
                           uint64_t flushed, struct followups *f)
{
    if (w->failed)
        return;
    n->applied = m->index;
    n->applied_term = m->term;
    n->applied_config = m->config;
    w->n_installs++;
    sim_trace(w, "node %llu installs snapshot %llu/%llu",
              (unsigned long long)n->id, (unsigned long long)m->index,
              (unsigned long long)m->term);
    sim_check_apply(w, n, m->index, NULL);
    push_followup(w, f, &(struct raft_event){
                            .type = RAFT_EVENT_SNAPSHOT_INSTALLED,
                            .installed.index = m->index});
    if (flushed)
        push_followup(w, f, &(struct raft_event){
                                .type = RAFT_EVENT_PERSISTED,
                                .persisted.id = flushed});
    serve_reads(w, n);
}

static void props_settle(struct sim_world *w, struct sim_node *n,
                         uint64_t index, uint64_t term, int64_t out)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < n->n_props; i++) {
        struct sim_proposal *p = &n->props[i];
        if (p->index > index) {
            n->props[j++] = *p;
            continue;
        }
        if (p->index == index && p->term == term)
            sim_client_reply(w, p->client, p->opid, LC_OK, out, 0);
        else if (p->index == index)
            sim_client_reply(w, p->client, p->opid, LC_FAIL, 0,
                             raft_leader(n->raft));
    }
    n->n_props = j;
}

static int64_t apply_op(struct sim_node *n, const struct sim_op *op)
{
    int64_t *v = &n->kv[op->key];
    switch (op->kind) {
    case LC_WRITE:
        *v = op->arg;
        return 0;
    case LC_CAS:
        if (*v != op->arg)
            return 0;
        *v = op->arg2;
        return 1;
    }
    return *v;
}

static void do_apply(struct sim_world *w, struct sim_node *n,
                     const struct raft_update *u)
{
    for (uint32_t i = 0; i < u->n_committed && !w->failed; i++) {
        const struct raft_entry *e = &u->committed[i];
        uint64_t idx = u->committed_index + i;
        if (idx != n->applied + 1) {
            sim_fail(w, "node %llu: applies index %llu after %llu",
                     (unsigned long long)n->id, (unsigned long long)idx,
                     (unsigned long long)n->applied);
            return;
        }
        int64_t out = 0;
        struct sim_op op;
        if (e->type == RAFT_ENTRY_NORMAL) {
            if (!sim_op_decode(e->data, e->len, &op)) {
                sim_fail(w, "node %llu: entry %llu does not decode",
                         (unsigned long long)n->id, (unsigned long long)idx);
                return;
            }
            sim_check_op_once(w, n, idx, op.opid);
            out = apply_op(n, &op);
        } else if (e->type == RAFT_ENTRY_CONFIG) {
            if (raft_config_decode(e->data, e->len, &n->applied_config) != 0)
                sim_fail(w, "node %llu: config entry %llu does not decode",
                         (unsigned long long)n->id, (unsigned long long)idx);
        }
        n->applied = idx;
        n->applied_term = e->term;
        sim_check_apply(w, n, idx, e);
        props_settle(w, n, idx, e->term, out);
    }
}

static void serve_reads(struct sim_world *w, struct sim_node *n)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < n->n_reads; i++) {
        struct sim_read *r = &n->reads[i];
        if (r->ready && r->index <= n->applied) {
            int64_t v = n->kv[w->hist.ops[r->opid].key];
            sim_client_reply(w, r->client, r->opid, LC_OK, v, 0);
            continue;
        }
        n->reads[j++] = *r;
    }
    n->n_reads = j;
}

static void do_reads(struct sim_world *w, struct sim_node *n,
                     const struct raft_update *u)
{
    for (uint32_t i = 0; i < u->n_reads; i++) {
        const struct raft_read *rd = &u->reads[i];
        for (uint32_t j = 0; j < n->n_reads; j++) {
            struct sim_read *r = &n->reads[j];
            if (r->req_id != rd->req_id || r->ready)
                continue;
            if (rd->status != 0) {
                sim_client_reply(w, r->client, r->opid, LC_FAIL, 0,
                                 raft_leader(n->raft));
                n->reads[j] = n->reads[--n->n_reads];
            } else {
                r->ready = true;
                r->index = rd->index;
            }
            break;
        }
    }
    serve_reads(w, n);
}

static void take_wal_snapshot(struct sim_world *w, struct sim_node *n,
                              struct followups *f)
{
    uint64_t t = 0, i = 0;
    wal_snapshot_last(n->disk.wal, &t, &i);
    struct raft_event ev = {.type = RAFT_EVENT_SNAPSHOT_TAKEN};
    if (n->applied <= i || n->applied_config.n == 0 ||
        !sim_wal_snapshot(w, n, &ev.snapshot))
        return;
    w->n_snapshots++;
    sim_trace(w, "node %llu takes snapshot at %llu (WAL, %llu bytes)",
              (unsigned long long)n->id, (unsigned long long)n->applied,
              (unsigned long long)ev.snapshot.size);
    push_followup(w, f, &ev);
}

static void take_snapshot(struct sim_world *w, struct sim_node *n,
                          struct followups *f)
{
    struct sim_disk *d = &n->disk;
    if (sim_wal_used(n)) {
        take_wal_snapshot(w, n, f);
        return;
    }
    if (n->applied <= d->snap.index || n->applied_config.n == 0)
        return;
    uint8_t *data = malloc(SNAP_BYTES);
    if (!data)
        abort();
    snap_encode(n, n->applied, data);
    free(d->snap_data);
    d->snap_data = data;
    d->snap_len = SNAP_BYTES;
    d->snap = (struct raft_snapshot_meta){.index = n->applied,
                                          .term = n->applied_term,
                                          .size = SNAP_BYTES,
                                          .config = n->applied_config};
    uint64_t trail = w->p.snapshot_trailing;
    if (n->applied > trail)
        log_cut_head(&d->log, n->applied - trail);
    w->n_snapshots++;
    sim_trace(w, "node %llu takes snapshot at %llu", (unsigned long long)n->id,
              (unsigned long long)n->applied);
    struct raft_event ev = {.type = RAFT_EVENT_SNAPSHOT_TAKEN};
    ev.snapshot = d->snap;
    push_followup(w, f, &ev);
}

static void do_notes(struct sim_world *w, struct sim_node *n,
                     const struct raft_update *u, struct followups *f)
{
    if (u->role_changed)
        sim_trace(w, "node %llu is %s in term %llu (leader %llu)",
                  (unsigned long long)n->id, raft_role_name(u->role),
                  (unsigned long long)raft_term(n->raft),
                  (unsigned long long)u->leader_id);
    if (u->role_changed && u->role == RAFT_LEADER)
        sim_on_new_leader(w, n);
    if (u->snapshot_suggested)
        take_snapshot(w, n, f);
}

static void carry_out(struct sim_world *w, struct sim_node *n,
                      const struct raft_update *u, struct followups *f)
{
    do_persist(w, n, u);
    for (uint32_t i = 0; i < u->n_msgs; i++)
        sim_net_send(w, n, &u->msgs[i]);
    do_chunks(w, n, u);
    if (u->install_snapshot && !w->failed)
        do_install(w, n, u, f);
    do_apply(w, n, u);
    do_reads(w, n, u);
    do_notes(w, n, u, f);
    if (!w->failed)
        sim_check_node(w, n);
}

static int step_one(struct sim_world *w, struct sim_node *n,
                    struct raft_event *ev, struct raft_update *u)
{
    ev->now = sim_node_now(w, n);
    w->steps++;
    memset(u, 0, sizeof(*u));
    return raft_step(n->raft, ev, u);
}

static void drain(struct sim_world *w, struct sim_node *n, struct followups *f)
{
    while (f->head < f->tail && !w->failed && n->state == SIM_NODE_UP) {
        struct raft_event ev = f->ev[f->head++ % FOLLOWUPS];
        struct raft_update u;
        int rv = step_one(w, n, &ev, &u);
        if (rv != 0 && rv != ERR_NOMEM)
            sim_trace(w, "node %llu: follow-up event %u: %s",
                      (unsigned long long)n->id, ev.type, err_str(rv));
        carry_out(w, n, &u, f);
    }
}

int sim_node_step(struct sim_world *w, struct sim_node *n,
                  const struct raft_event *ev)
{
    struct followups f = {.head = 0};
    struct raft_event e = *ev;
    struct raft_update u;
    int rv = step_one(w, n, &e, &u);
    carry_out(w, n, &u, &f);
    drain(w, n, &f);
    return rv;
}

static int request_read(struct sim_world *w, struct sim_node *n, int client,
                        uint64_t opid, struct raft_update *u)
{
    if (n->n_reads == n->cap_reads) {
        n->cap_reads = n->cap_reads ? 2 * n->cap_reads : 8;
        n->reads = realloc(n->reads, n->cap_reads * sizeof(*n->reads));
        if (!n->reads)
            abort();
    }
    uint64_t req = ++n->next_req;
    n->reads[n->n_reads++] = (struct sim_read){.req_id = req, .client = client,
                                               .opid = opid};
    struct raft_event ev = {.type = RAFT_EVENT_READ};
    ev.read.req_id = req;
    ev.read.lease = w->p.lease;
    return step_one(w, n, &ev, u);
}

static int request_propose(struct sim_world *w, struct sim_node *n, int client,
                           uint64_t opid, struct raft_update *u)
{
    const struct lc_op *op = &w->hist.ops[opid];
    uint8_t buf[SIM_OP_BYTES];
    struct sim_op sop = {.kind = (uint8_t)op->kind, .key = (uint8_t)op->key,
                         .client = (uint32_t)client, .opid = opid,
                         .arg = op->arg, .arg2 = op->arg2};
    sim_op_encode(&sop, buf);
    struct raft_entry ent = {.data = buf, .len = SIM_OP_BYTES,
                             .type = RAFT_ENTRY_NORMAL};
    struct raft_event ev = {.type = RAFT_EVENT_PROPOSE};
    ev.propose.entries = &ent;
    ev.propose.n = 1;
    int rv = step_one(w, n, &ev, u);
    if (rv != 0)
        return rv;
    if (n->n_props == n->cap_props) {
        n->cap_props = n->cap_props ? 2 * n->cap_props : 8;
        n->props = realloc(n->props, n->cap_props * sizeof(*n->props));
        if (!n->props)
            abort();
    }
    n->props[n->n_props++] = (struct sim_proposal){
        u->proposed_index, u->proposed_term, client, opid};
    return 0;
}

/* A client's request arrives at node n. Proposals and reads that the core
 * refuses outright fail at once (the client retries elsewhere). */
int sim_node_request(struct sim_world *w, struct sim_node *n, int client,
                     uint64_t opid)
{
    struct followups f = {.head = 0};
    struct raft_update u;
    int rv = w->hist.ops[opid].kind == LC_READ
                 ? request_read(w, n, client, opid, &u)
                 : request_propose(w, n, client, opid, &u);
    carry_out(w, n, &u, &f);
    drain(w, n, &f);
    return rv;
}

/* The disk finished an fsync: everything written so far is durable. */
void sim_node_sync(struct sim_world *w, struct sim_node *n, uint64_t upto)
{
    (void)upto;
    uint64_t last;
    if (sim_wal_used(n)) {
        last = sim_wal_sync(w, n);
        if (n->state != SIM_NODE_UP)
            return;
    } else {
        n->disk.sync_scheduled = false;
        last = disk_flush(w, n);
    }
    if (!last || w->failed)
        return;
    struct raft_event ev = {.type = RAFT_EVENT_PERSISTED};
    ev.persisted.id = last;
    sim_node_step(w, n, &ev);
}

/* Removes every trace of a client's op from node n (the client gave up). */
void sim_node_forget(struct sim_node *n, int client, uint64_t opid)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < n->n_reads; i++)
        if (!(n->reads[i].client == client && n->reads[i].opid == opid))
            n->reads[j++] = n->reads[i];
    n->n_reads = j;
}

/* Fills the chunk bytes of an outgoing SNAPSHOT from the durable snapshot;
 * false when that snapshot is gone (the message is dropped). */
bool sim_node_snapshot_chunk(struct sim_node *n, struct raft_msg *m)
{
    if (sim_wal_used(n))
        return sim_wal_chunk(n, m);
    struct raft_msg_snapshot *s = &m->snapshot;
    const struct sim_disk *d = &n->disk;
    if (s->meta.index != d->snap.index || s->offset + s->len > d->snap_len)
        return false;
    s->data = d->snap_data + s->offset;
    return true;
}
