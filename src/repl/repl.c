/* The group's engine: opens the Raft node from the WAL, feeds it events
 * (ticks, bus frames, durable WAL writes, proposals, reads) and carries out
 * every update in raft.h's documented order — persist, send, snapshot
 * chunks, apply, reads, notes — in one function, repl__step, which is the
 * only caller of raft_step, so the order cannot drift.
 * Happy path: frame → RECEIVE → persist (wal_append, group commit) and
 * replies sent at once (the core withholds durability-dependent ones) →
 * on_durable → PERSISTED at the next before-sleep → committed → apply.
 * Failure modes: a WAL error stops the group (nothing more is acknowledged,
 * parked clients expire); a send refused by a full peer queue is a lost
 * message, which Raft's retransmission covers. */
#include "repl/repl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define REPL_DEFAULT_TIMEOUT_MS 2000
#define REPL_DEFAULT_HOLD_MS 5

int64_t repl__now(const struct repl *r)
{
    return loop_mono_ms(r->loop);
}

/* ---- 1. persist -------------------------------------------------------- */

static int grow_scratch(struct repl *r, uint32_t n)
{
    if (n <= r->scratch_cap)
        return 0;
    uint32_t cap = r->scratch_cap ? r->scratch_cap : 64;
    while (cap < n)
        cap *= 2;
    struct raft_entry *e = realloc(r->scratch_entries, cap * sizeof(*e));
    if (e != NULL)
        r->scratch_entries = e;
    struct wal_entry *w = realloc(r->scratch_wal, cap * sizeof(*w));
    if (w != NULL)
        r->scratch_wal = w;
    if (e == NULL || w == NULL)
        return ERR_NOMEM;
    r->scratch_cap = cap;
    return 0;
}

static void persist_push(struct repl *r, uint64_t id, uint64_t index)
{
    if (r->persist_len == r->persist_cap) {
        size_t cap = r->persist_cap ? r->persist_cap * 2 : 64;
        struct repl_persist *p = malloc(cap * sizeof(*p));
        if (p == NULL)
            abort();
        for (size_t i = 0; i < r->persist_len; i++)
            p[i] = r->persists[(r->persist_head + i) % r->persist_cap];
        free(r->persists);
        r->persists = p;
        r->persist_head = 0;
        r->persist_cap = cap;
    }
    size_t at = (r->persist_head + r->persist_len) % r->persist_cap;
    r->persists[at] = (struct repl_persist){id, index};
    r->persist_len++;
}

/* A node whose log cannot be written (disk full, I/O error) leaves the
 * group's protocol: it sends nothing and no longer ticks, so a leader
 * stops heartbeating and the others elect one of their own within an
 * election timeout, and nothing it could not make durable is ever
 * promised to a peer. It still takes the peers' messages, so it learns
 * the new leader and sends its clients there with -MOVED; it applies
 * nothing more (only what is durable here), so its stale reads stay as
 * of the failure. Parked clients get an error at the next tick.
 * Restarting it after the disk is mended brings it back: the WAL's good
 * prefix is recovered and the leader sends the rest. */
static void fail_group(struct repl *r, const char *what, int rv)
{
    if (r->failed)
        return;
    log_msg(LOG_LEVEL_WARNING, "Raft group stopped: %s failed: %s; this "
            "node leaves the group until it is restarted (after a full "
            "disk: until the disk takes writes again)", what,
            err_str(rv));
    r->failed = rv;
}

/* Truncate, append, save the hard state; note what must become durable
 * before PERSISTED may be stepped (raft.h rule 1). */
static void persist(struct repl *r, const struct raft_update *u)
{
    int rv;
    if (u->persist_id == 0 || r->failed)
        return;
    if (u->truncate_from != 0) {
        repl__wake_truncated(r, u->truncate_from);
        if ((rv = wal_truncate(r->wal, u->truncate_from)) < 0)
            fail_group(r, "wal_truncate", rv);
    }
    if (u->n_entries > 0 && grow_scratch(r, u->n_entries) == 0) {
        for (uint32_t i = 0; i < u->n_entries; i++) {
            const struct raft_entry *e = &u->entries[i];
            r->scratch_wal[i] = (struct wal_entry){
                .term = e->term, .index = u->entries_index + i,
                .type = e->type, .buf = e->data, .len = e->len};
        }
        if ((rv = wal_append(r->wal, r->scratch_wal, u->n_entries)) < 0)
            fail_group(r, "wal_append", rv);
    }
    if (u->hard_state_changed) {
        struct wal_hard_state hs = {u->term, u->vote, r->id};
        if ((rv = wal_save_hard_state(r->wal, &hs)) < 0)
            fail_group(r, "wal_save_hard_state", rv);
    }
    uint64_t last = u->n_entries ? u->entries_index + u->n_entries - 1
                                 : wal_last_index(r->wal);
    persist_push(r, u->persist_id, last);
}

/* PERSISTED for every noted update the WAL now holds durably. */
static bool ack_durable(struct repl *r)
{
    uint64_t durable = wal_durable_index(r->wal);
    uint64_t id = 0;
    while (r->persist_len > 0 && !r->failed) {
        struct repl_persist *p = &r->persists[r->persist_head];
        if (p->index > durable)
            break;
        id = p->id;
        r->persist_head = (r->persist_head + 1) % r->persist_cap;
        r->persist_len--;
    }
    if (id == 0)
        return false;
    struct raft_event ev = {.type = RAFT_EVENT_PERSISTED};
    ev.persisted.id = id;
    repl__step(r, &ev);
    return true;
}

/* ---- 2. send ----------------------------------------------------------- */

static void release_frame(void *ctx, const void *buf, size_t len)
{
    free((void *)buf);
}

static void send_one(struct repl *r, struct raft_msg *m)
{
    uint8_t *chunk = NULL;
    if (m->type == RAFT_MSG_SNAPSHOT && m->snapshot.data == NULL &&
        repl__fill_chunk(r, m, &chunk) < 0)
        return; /* the snapshot is gone: the core resends its newest */
    size_t size = raft_msg_encoded_size(m);
    uint8_t *buf = malloc(size);
    if (buf == NULL || raft_msg_encode(m, buf, size) < 0) {
        free(buf);
        free(chunk);
        r->stats.send_errors++;
        return;
    }
    free(chunk);
    int rv = peer_send_zc(r->bus, m->to, REPL_FRAME_RAFT, buf, size,
                          release_frame, NULL);
    if (rv < 0) {
        free(buf);
        r->stats.send_errors++;
    }
}

static void send_msgs(struct repl *r, const struct raft_update *u)
{
    if (r->bus == NULL || r->failed)
        return;
    for (uint32_t i = 0; i < u->n_msgs; i++)
        send_one(r, &u->msgs[i]);
}

/* ---- 6. notes ---------------------------------------------------------- */

static void note_changes(struct repl *r, const struct raft_update *u)
{
    if (u->role_changed)
        log_msg(LOG_LEVEL_NOTICE, "Raft: %s, term %llu, leader %llu",
                raft_role_name(u->role),
                (unsigned long long)raft_term(r->raft),
                (unsigned long long)u->leader_id);
    if (u->config_changed && u->config != NULL)
        repl__sync_peers(r, u->config);
    r->proposed_index = u->proposed_index;
    r->proposed_term = u->proposed_term;
    if (u->snapshot_suggested)
        repl__maybe_snapshot(r);
}

static void carry_out(struct repl *r, const struct raft_update *u)
{
    persist(r, u);
    send_msgs(r, u);
    repl__store_chunks(r, u);
    repl__apply(r, u);
    repl__answer_reads(r, u);
    note_changes(r, u);
}

/* The one caller of raft_step. Follow-up events the update asks for (a
 * snapshot installed) are stepped here too, after it is carried out. */
int repl__step(struct repl *r, struct raft_event *ev)
{
    struct raft_update u;
    ev->now = (uint64_t)repl__now(r);
    r->stepping = true;
    int rv = raft_step(r->raft, ev, &u);
    carry_out(r, &u);
    while (r->install_pending) {
        r->install_pending = false;
        struct raft_event in = {.type = RAFT_EVENT_SNAPSHOT_INSTALLED,
                                .now = ev->now};
        in.installed.index = r->install_index;
        raft_step(r->raft, &in, &u);
        carry_out(r, &u);
    }
    r->stepping = false;
    repl__wake_reads(r);
    return rv;
}

/* ---- events from the loop and the bus ---------------------------------- */

int repl_wait_voter(struct repl *r, void *owner, int64_t timeout_ms)
{
    if (r->voter_owner != NULL)
        return ERR_BUSY;
    r->voter_owner = owner;
    r->voter_deadline = repl__now(r) + timeout_ms;
    return 0;
}

static void check_voter(struct repl *r, int64_t now)
{
    if (r->voter_owner == NULL)
        return;
    const struct raft_server *s = raft_config_find(raft_config(r->raft),
                                                   r->id);
    int status = s != NULL && s->role == RAFT_VOTER ? 0
                 : now >= r->voter_deadline      ? ERR_BUSY
                                                 : 1;
    if (status == 1)
        return;
    void *owner = r->voter_owner;
    r->voter_owner = NULL;
    r->wakes++;
    r->cfg.wake(r->cfg.data, owner, status);
}

static void on_tick(struct loop_timer *t, void *data)
{
    struct repl *r = data;
    struct raft_event ev = {.type = RAFT_EVENT_TICK};
    if (!r->failed)
        repl__step(r, &ev);
    repl__expire_waits(r, r->failed ? INT64_MAX : repl__now(r));
    check_voter(r, repl__now(r));
}

static void logbuf_free(struct raft_buf *rb)
{
    arena_release(rb);
}

struct repl_logbuf *repl__logbuf_new(struct repl *r, size_t len)
{
    struct repl_logbuf *lb = arena_alloc(r->log_arena, sizeof(*lb) + len);
    if (lb != NULL)
        lb->rb = (struct raft_buf){1, logbuf_free};
    return lb;
}

/* Messages that carry entries or chunks are copied once into a counted
 * buffer the core may keep (the transport's bytes die with this call);
 * the others are decoded in place. */
void repl_on_frame(void *data, uint64_t peer, uint8_t type,
                   const uint8_t *bytes, size_t len)
{
    struct repl *r = data;
    if (type != REPL_FRAME_RAFT || len < 2)
        return;
    struct repl_logbuf *x = NULL;
    const uint8_t *src = bytes;
    if (bytes[1] == RAFT_MSG_APPEND || bytes[1] == RAFT_MSG_SNAPSHOT) {
        if ((x = repl__logbuf_new(r, len)) == NULL)
            return;
        memcpy(x->data, bytes, len);
        src = x->data;
    }
    struct raft_msg m;
    int rv = raft_msg_decode(NULL, src, len, x ? &x->rb : NULL, &m);
    if (rv > 0 && m.from == peer && m.to == r->id) {
        struct raft_event ev = {.type = RAFT_EVENT_RECEIVE, .msg = &m};
        repl__step(r, &ev);
    }
    if (rv > 0)
        raft_msg_decoded_free(NULL, &m);
    if (x != NULL)
        raft_buf_release(&x->rb);
}

void repl_on_peer_gone(void *data, uint64_t peer)
{
    struct repl *r = data;
    /* inside a step (a peer added by a config change dials at once) the
     * report is dropped: the next refused redial repeats it */
    if (r->failed || r->stepping || raft_leader(r->raft) != peer ||
        raft_role(r->raft) != RAFT_FOLLOWER)
        return;
    r->stats.leader_gone++;
    if (r->gone_term != raft_term(r->raft)) { /* once per leader's term */
        r->gone_term = raft_term(r->raft);
        log_msg(LOG_LEVEL_NOTICE, "Raft: leader %llu refuses connections "
                "(its process is gone): an election comes early",
                (unsigned long long)peer);
    }
    struct raft_event ev = {.type = RAFT_EVENT_PEER_DOWN};
    ev.peer_down.id = peer;
    repl__step(r, &ev);
}

bool repl_prepare_sleep(struct repl *r)
{
    bool did = false;
    if (r->stepping)
        return false;
    for (int round = 0; round < 4; round++) {
        bool any = ack_durable(r);
        if (r->batch_n > 0 && !repl__batch_waits(r)) {
            repl__propose_batch(r);
            any = true;
        }
        if (r->read_open[0] || r->read_open[1]) {
            repl__step_reads(r);
            any = true;
        }
        int rv = r->flush_last ? 0 : wal_flush(r->wal);
        if (rv < 0) /* now or at an earlier write's completion */
            fail_group(r, "wal_flush", rv);
        if (!any)
            break;
        did = true;
    }
    return did;
}

void repl_flush_peers(struct repl *r)
{
    if (r->bus != NULL && !r->stepping)
        peer_flush(r->bus);
}

bool repl_before_sleep(struct repl *r)
{
    bool did = repl_prepare_sleep(r);
    repl_flush_peers(r);
    if (r->flush_last)
        repl_flush_wal(r);
    return did;
}

/* With a blocking WAL, the last thing an iteration does: the replies and
 * the APPENDs of this iteration are already out (followers write their
 * copy while we write ours, §10.2.1), so one write + fdatasync covers
 * everything appended, and the acknowledgements it allows leave at once.
 * Clients woken here (a group of one commits on its own fsync) are
 * answered by the next iteration, which the kick timer starts now. A WAL
 * that failed keeps its queue: nothing is flushed or kicked for it. */
void repl_flush_wal(struct repl *r)
{
    if (r->stepping)
        return;
    uint64_t wakes = r->wakes;
    int rv = wal_flush(r->wal);
    if (rv < 0)
        fail_group(r, "wal_flush", rv);
    if (ack_durable(r))
        repl_flush_peers(r);
    /* Also run again when the step queued appends of its own. */
    if (r->wakes != wakes ||
        (!r->failed && wal_last_index(r->wal) > wal_durable_index(r->wal)))
        loop_timer_again(r->kick, 0);
}

static void on_flush_hook(struct loop *loop, void *data)
{
    repl_flush_wal(data);
}

static void on_kick(struct loop_timer *t, void *data)
{
    /* Nothing to do: waking the loop runs the before-sleep hooks. */
}

/* ---- open and close ---------------------------------------------------- */

/* The first configuration, persisted as entry 1 (term 1) of a new group.
 * Its bytes live in a counted blob: the core keeps the entry (and ships it
 * to members that join later). */
static int bootstrap(struct repl *r, struct raft_init *init,
                     struct raft_entry *first)
{
    struct raft_config c = {0};
    for (uint32_t i = 0; i < r->n_members && c.n < RAFT_MAX_SERVERS; i++) {
        c.servers[c.n++] = (struct raft_server){r->members[i].id, RAFT_VOTER};
        if (r->members[i].id > c.max_id)
            c.max_id = r->members[i].id;
    }
    struct repl_blob *b = repl__blob_new(RAFT_CONFIG_MAX_BYTES);
    if (b == NULL)
        return ERR_NOMEM;
    int len = raft_config_encode(&c, b->bytes, RAFT_CONFIG_MAX_BYTES);
    if (len < 0) {
        raft_buf_release(&b->rb);
        return len;
    }
    *first = (struct raft_entry){.term = 1, .data = b->bytes, .buf = &b->rb,
                                 .len = (uint32_t)len,
                                 .type = RAFT_ENTRY_CONFIG};
    init->term = 1;
    init->vote = 0;
    init->entries = first;
    init->n_entries = 1;
    struct wal_entry we = {1, 1, RAFT_ENTRY_CONFIG, b->bytes, (uint32_t)len};
    struct wal_hard_state hs = {1, 0, r->id};
    int rv = wal_append(r->wal, &we, 1);
    if (rv == 0)
        rv = wal_save_hard_state(r->wal, &hs);
    if (rv == 0)
        rv = wal_flush(r->wal);
    return rv;
}

static void copy_members(struct repl *r, const struct repl_config *cfg)
{
    for (uint32_t i = 0; i < cfg->n_members; i++)
        repl__member_set(r, &cfg->members[i]);
}

/* The log of one snapshot cycle grows to snapshot_min_bytes and up to
 * half as much again (the jitter), plus framing, and is then released at
 * once: caching twice snapshot_min_bytes lets the next cycle reuse all
 * of it. The cache never holds more than the log itself held before. */
static struct arena *log_arena_create(const struct repl_config *cfg)
{
    struct arena_config ac = {.chunk_size = ARENA_DEFAULT_CHUNK,
                              .max_cached = 2 * cfg->snapshot_min_bytes,
                              .dontfork = 1, .prefault = 1};
    if (ac.max_cached < 8 * (size_t)ARENA_DEFAULT_CHUNK)
        ac.max_cached = 8 * (size_t)ARENA_DEFAULT_CHUNK;
    return arena_create(&ac);
}

int repl_open(const struct repl_config *cfg, struct repl **out, char *errmsg)
{
    struct repl *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ERR_NOMEM;
    r->cfg = *cfg;
    r->id = cfg->node_id;
    r->wal = cfg->wal;
    r->bus = cfg->bus;
    r->loop = cfg->loop;
    if (r->cfg.write_timeout_ms <= 0)
        r->cfg.write_timeout_ms = REPL_DEFAULT_TIMEOUT_MS;
    r->snap_took_ms = -1;
    if (r->cfg.hold_max_ms <= 0)
        r->cfg.hold_max_ms = REPL_DEFAULT_HOLD_MS;
    if (r->cfg.pipeline_batches > REPL_PIPELINE_MAX)
        r->cfg.pipeline_batches = REPL_PIPELINE_MAX;
    copy_members(r, cfg);
    if ((r->log_arena = log_arena_create(cfg)) == NULL) {
        free(r);
        return ERR_NOMEM;
    }
    struct raft_init init = {0};
    struct raft_entry *first = malloc(sizeof(*first));
    if (first == NULL) {
        arena_destroy(r->log_arena);
        free(r);
        return ERR_NOMEM;
    }
    bool fresh = cfg->rec->last_index == 0 && !cfg->rec->has_snapshot;
    int rv = fresh && cfg->bootstrap ? bootstrap(r, &init, first)
                                     : repl__restore(r, &init, errmsg);
    if (init.entries != first)
        free(first);
    init.fresh = fresh;
    if (rv == 0 && fresh && !cfg->bootstrap) {
        struct wal_hard_state hs = {0, 0, r->id};
        rv = wal_save_hard_state(r->wal, &hs);
    }
    struct raft_options opts = cfg->raft;
    opts.id = r->id;
    if (opts.seed == 0)
        opts.seed = r->id * 0x9E3779B97F4A7C15ull ^
                    (uint64_t)loop_mono_us_fresh();
    r->snap_rng = opts.seed ^ 0x5EED5EEDull;
    repl__snapshot_jitter(r);
    if (rv == 0)
        rv = raft_new(&opts, &init, &r->raft);
    repl__restore_free(&init);
    if (rv < 0) {
        if (errmsg && !errmsg[0])
            snprintf(errmsg, ERRMSG_LEN, "raft start-up: %s", err_str(rv));
        arena_destroy(r->log_arena);
        free(r);
        return rv;
    }
    repl__sync_peers(r, raft_config(r->raft));
    for (uint32_t i = 0; r->bus && i < r->n_members; i++) /* a joiner */
        if (r->members[i].id != r->id && r->members[i].bus_port > 0)
            peer_add(r->bus, r->members[i].id, r->members[i].host,
                     r->members[i].bus_port);
    uint32_t hb = opts.heartbeat_ms ? opts.heartbeat_ms
                  : (opts.election_timeout_ms ? opts.election_timeout_ms
                                              : 1000) / 10;
    if (hb == 0)
        hb = 1;
    r->tick = loop_timer_create(r->loop, 0, hb, on_tick, r);
    if (wal_flush_blocks(r->wal)) {
        r->flush_last = true;
        r->kick = loop_timer_create(r->loop, 0, 0, on_kick, r);
        loop_timer_stop(r->kick);
        loop_add_before_sleep_last(r->loop, on_flush_hook, r);
    }
    *out = r;
    return 0;
}

void repl_close(struct repl *r)
{
    if (r == NULL)
        return;
    loop_timer_destroy(r->tick);
    if (r->flush_last) {
        loop_remove_before_sleep(r->loop, on_flush_hook, r);
        loop_timer_destroy(r->kick);
    }
    raft_free(r->raft);
    if (r->batch != NULL)
        raft_buf_release(&r->batch->rb);
    if (r->recv != NULL)
        wal_snapshot_recv_abort(r->recv);
    free(r->batch_owners);
    free(r->batch_offs);
    free(r->scratch_entries);
    free(r->scratch_wal);
    free(r->waits);
    free(r->reads);
    free(r->persists);
    arena_destroy(r->log_arena); /* at once, or when the last entry goes */
    free(r);
}

/* ---- state for the dispatcher ------------------------------------------ */

bool repl_is_leader(const struct repl *r)
{
    return raft_role(r->raft) == RAFT_LEADER && !r->failed;
}

int repl_log_error(const struct repl *r)
{
    return r->failed;
}

bool repl_failed_alone(const struct repl *r)
{
    if (!r->failed)
        return false;
    const struct raft_config *c = raft_config(r->raft);
    const struct raft_server *me = raft_config_find(c, r->id);
    return raft_config_voters(c) == 1 && me != NULL &&
           me->role == RAFT_VOTER;
}

/* A failed node knows the leader only when it is another node. */
uint64_t repl_leader_id(const struct repl *r)
{
    uint64_t leader = raft_leader(r->raft);
    return r->failed && leader == r->id ? 0 : leader;
}

uint64_t repl_node_id(const struct repl *r)
{
    return r->id;
}

uint64_t repl_applied_index(const struct repl *r)
{
    return r->applied;
}

void repl_hold_reads_until(struct repl *r, uint64_t index)
{
    r->load_floor = index;
}

bool repl_loading(const struct repl *r)
{
    return r->applied < r->load_floor;
}

uint64_t repl_last_index(const struct repl *r)
{
    return raft_last_index(r->raft);
}

size_t repl_pending_writes(const struct repl *r)
{
    return r->wait_len;
}

const struct raft_config *repl_config_now(const struct repl *r)
{
    return raft_config(r->raft);
}

const struct repl_member *repl_member(const struct repl *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->n_members; i++)
        if (r->members[i].id == id)
            return &r->members[i];
    return NULL;
}

uint32_t repl_members(const struct repl *r, const struct repl_member **out)
{
    *out = r->members;
    return r->n_members;
}

bool repl_leader_addr(const struct repl *r, const char **host, int *port)
{
    const struct repl_member *m = repl_member(r, repl_leader_id(r));
    if (m == NULL || m->port <= 0)
        return false;
    *host = m->host;
    *port = m->port;
    return true;
}

void repl_get_stats(const struct repl *r, struct repl_stats *st)
{
    *st = r->stats;
}

int repl_transfer_leader(struct repl *r, uint64_t to)
{
    struct raft_event ev = {.type = RAFT_EVENT_TRANSFER};
    ev.transfer.to = to;
    return repl__step(r, &ev);
}

void repl_fail_wal(struct repl *r, int status)
{
    wal_inject_failure(r->wal, status);
    wal_inject_probe(r->wal, ERR_NOSPACE);
}

void repl_clear_wal_fault(struct repl *r)
{
    wal_inject_failure(r->wal, 0);
    wal_inject_probe(r->wal, 0);
}

int repl_partition(struct repl *r, const uint64_t *ids, size_t n)
{
    if (r->bus == NULL)
        return ERR_INVALID;
    if (n == 0) {
        for (uint32_t i = 0; i < r->n_members; i++)
            if (r->members[i].id != r->id)
                peer_block(r->bus, r->members[i].id, false);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (peer_block(r->bus, ids[i], true) < 0)
            return ERR_NOTFOUND;
    return 0;
}
