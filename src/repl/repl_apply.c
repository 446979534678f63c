/* Committed entries and the clients parked on them. Entries are applied in
 * log order through the apply callback; the parked write at the head of
 * the FIFO (index order) gets its reply when its entry applies with the
 * term it was proposed in, and is told ERR_NOTLEADER when another term's
 * entry took its place (truncated or overwritten: it never committed, so a
 * retry is safe). Reads wake once the applied index reaches their read
 * index. Every parked request has a deadline: past it the client hears
 * ERR_BUSY (-CLUSTERDOWN) and its entry, which may still commit, applies
 * without a reply. Also keeps the members' addresses (repl's META records
 * and CONFIG entries) and the transport's peer list in step with them. */
#include "repl/repl_internal.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- the write FIFO ---------------------------------------------------- */

int repl__wait_push(struct repl *r, const struct repl_wait *w)
{
    if (r->wait_len == r->wait_cap) {
        size_t cap = r->wait_cap ? r->wait_cap * 2 : 256;
        struct repl_wait *p = malloc(cap * sizeof(*p));
        if (p == NULL)
            return ERR_NOMEM;
        for (size_t i = 0; i < r->wait_len; i++)
            p[i] = r->waits[(r->wait_head + i) % r->wait_cap];
        free(r->waits);
        r->waits = p;
        r->wait_head = 0;
        r->wait_cap = cap;
    }
    r->waits[(r->wait_head + r->wait_len) % r->wait_cap] = *w;
    r->wait_len++;
    return 0;
}

static struct repl_wait *wait_head(struct repl *r)
{
    return r->wait_len ? &r->waits[r->wait_head] : NULL;
}

static void wait_pop(struct repl *r)
{
    r->wait_head = (r->wait_head + 1) % r->wait_cap;
    r->wait_len--;
}

static void wake(struct repl *r, void *owner, int status)
{
    if (owner == NULL)
        return;
    r->wakes++;
    r->cfg.wake(r->cfg.data, owner, status);
}

/* Entries >= from are being deleted: their waits never commit. The FIFO is
 * in index order, so they are at its tail; they are woken in order. */
void repl__wake_truncated(struct repl *r, uint64_t from)
{
    size_t keep = 0;
    while (keep < r->wait_len &&
           r->waits[(r->wait_head + keep) % r->wait_cap].index < from)
        keep++;
    for (size_t i = keep; i < r->wait_len; i++)
        wake(r, r->waits[(r->wait_head + i) % r->wait_cap].owner,
             ERR_NOTLEADER);
    r->wait_len = keep;
}

void repl__expire_waits(struct repl *r, int64_t now)
{
    for (size_t i = 0; i < r->wait_len; i++) {
        struct repl_wait *w = &r->waits[(r->wait_head + i) % r->wait_cap];
        if (w->owner != NULL && w->deadline <= now) {
            void *owner = w->owner;
            w->owner = NULL;
            r->stats.write_timeouts++;
            wake(r, owner, ERR_BUSY);
        }
    }
    size_t j = 0;
    for (size_t i = 0; i < r->n_reads; i++) {
        if (r->reads[i].deadline <= now) {
            r->stats.write_timeouts++;
            wake(r, r->reads[i].owner, ERR_BUSY);
        } else {
            r->reads[j++] = r->reads[i];
        }
    }
    r->n_reads = j;
}

void repl_wake_all(struct repl *r)
{
    repl__expire_waits(r, INT64_MAX);
    for (uint32_t i = 0; i < r->batch_n; i++) {
        void *owner = r->batch_owners[i];
        r->batch_owners[i] = NULL;
        wake(r, owner, ERR_BUSY);
    }
    void *owner = r->voter_owner;
    r->voter_owner = NULL;
    wake(r, owner, ERR_BUSY);
}

void repl_cancel(struct repl *r, void *owner)
{
    if (r->voter_owner == owner)
        r->voter_owner = NULL;
    for (size_t i = 0; i < r->wait_len; i++) {
        struct repl_wait *w = &r->waits[(r->wait_head + i) % r->wait_cap];
        if (w->owner == owner)
            w->owner = NULL;
    }
    for (uint32_t i = 0; i < r->batch_n; i++)
        if (r->batch_owners[i] == owner)
            r->batch_owners[i] = NULL;
    size_t j = 0;
    for (size_t i = 0; i < r->n_reads; i++)
        if (r->reads[i].owner != owner)
            r->reads[j++] = r->reads[i];
    r->n_reads = j;
}

/* ---- members ----------------------------------------------------------- */

void repl__member_set(struct repl *r, const struct repl_member *m)
{
    for (uint32_t i = 0; i < r->n_members; i++) {
        if (r->members[i].id == m->id) {
            r->members[i] = *m;
            return;
        }
    }
    if (r->n_members < RAFT_MAX_SERVERS)
        r->members[r->n_members++] = *m;
}

/* The transport dials every member of c whose address is known and
 * forgets those that left. */
void repl__sync_peers(struct repl *r, const struct raft_config *c)
{
    if (r->bus == NULL || c == NULL || c->n == 0)
        return;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct repl_member *m = repl_member(r, c->servers[i].id);
        if (m != NULL && m->id != r->id && m->bus_port > 0)
            peer_add(r->bus, m->id, m->host, m->bus_port);
    }
    uint64_t ids[RAFT_MAX_SERVERS * 2];
    size_t n = peer_list(r->bus, ids, RAFT_MAX_SERVERS * 2);
    for (size_t i = 0; i < n && i < RAFT_MAX_SERVERS * 2; i++) {
        if (raft_config_find(c, ids[i]) != NULL ||
            raft_config_find(&r->applied_config, ids[i]) != NULL ||
            ids[i] > c->max_id)
            continue;
        log_msg(LOG_LEVEL_NOTICE, "Raft: node %llu left the group",
                (unsigned long long)ids[i]);
        peer_remove(r->bus, ids[i]);
    }
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void repl__apply_meta(struct repl *r, const uint8_t *p, size_t len)
{
    if (len < 16 || len - 16 >= REPL_HOST_LEN)
        return;
    struct repl_member m = {.id = get_le(p, 8),
                            .port = (int)get_le(p + 8, 4),
                            .bus_port = (int)get_le(p + 12, 4)};
    memcpy(m.host, p + 16, len - 16);
    repl__member_set(r, &m);
    if (r->bus != NULL && m.id != r->id)
        peer_add(r->bus, m.id, m.host, m.bus_port);
}

/* ---- applying ---------------------------------------------------------- */

static void apply_normal(struct repl *r, uint64_t index,
                         const struct raft_entry *e, void *owner)
{
    if (e->len < REPL_ENTRY_HEADER || e->data[0] != REPL_ENTRY_VERSION) {
        log_msg(LOG_LEVEL_WARNING, "Raft entry %llu has an unknown format",
                (unsigned long long)index);
        return;
    }
    const uint8_t *body = e->data + REPL_ENTRY_HEADER;
    size_t len = e->len - REPL_ENTRY_HEADER;
    if (e->data[1] & REPL_ENTRY_META) {
        repl__apply_meta(r, body, len);
        return;
    }
    int64_t now = (int64_t)get_le(e->data + 2, 8);
    r->cfg.apply(r->cfg.data, index, body, len, now, owner);
}

static void apply_one(struct repl *r, uint64_t index,
                      const struct raft_entry *e)
{
    struct repl_wait *w = wait_head(r);
    while (w != NULL && w->index < index) { /* cannot happen: defensive */
        wake(r, w->owner, ERR_NOTLEADER);
        wait_pop(r);
        w = wait_head(r);
    }
    bool mine = w != NULL && w->index == index;
    void *owner = NULL;
    if (mine && w->term != e->term) {
        wake(r, w->owner, ERR_NOTLEADER); /* overwritten: never committed */
        wait_pop(r);
        mine = false;
    } else if (mine) {
        owner = w->owner;
    }
    struct raft_config c;
    if (e->type == RAFT_ENTRY_NORMAL)
        apply_normal(r, index, e, owner);
    else if (e->type == RAFT_ENTRY_CONFIG &&
             raft_config_decode(e->data, e->len, &c) == 0)
        r->applied_config = c; /* a failed decode leaves c half written */
    r->applied = index;
    r->applied_term = e->term;
    r->applied_bytes += e->len;
    r->stats.applied++;
    if (mine) {
        wait_pop(r);
        wake(r, owner, 0);
    }
}

/* Entries are applied in groups: the state machine is first told of
 * the next group (stage 0) and of this one (stage 1) and only then
 * applies this one, so the cache misses of a group's lookups overlap
 * instead of stalling one apply after another. */
#define PREFETCH_GROUP 16

static void prefetch(struct repl *r, const struct raft_entry *e, int stage)
{
    if (e->type != RAFT_ENTRY_NORMAL || e->len <= REPL_ENTRY_HEADER ||
        (e->data[1] & REPL_ENTRY_META))
        return;
    r->cfg.prefetch(r->cfg.data, e->data + REPL_ENTRY_HEADER,
                    e->len - REPL_ENTRY_HEADER, stage);
}

static void prefetch_range(struct repl *r, const struct raft_update *u,
                           uint32_t from, int stage)
{
    uint32_t end = from + PREFETCH_GROUP;
    for (uint32_t i = from; i < end && i < u->n_committed; i++)
        prefetch(r, &u->committed[i], stage);
}

void repl__apply(struct repl *r, const struct raft_update *u)
{
    bool pf = r->cfg.prefetch != NULL && u->n_committed > 1;
    if (pf)
        prefetch_range(r, u, 0, 0);
    for (uint32_t i = 0; i < u->n_committed; i++) {
        if (pf && i % PREFETCH_GROUP == 0) {
            prefetch_range(r, u, i + PREFETCH_GROUP, 0);
            prefetch_range(r, u, i, 1);
        }
        apply_one(r, u->committed_index + i, &u->committed[i]);
    }
}

/* ---- reads ------------------------------------------------------------- */

void repl__answer_reads(struct repl *r, const struct raft_update *u)
{
    for (uint32_t k = 0; k < u->n_reads; k++) {
        const struct raft_read *rd = &u->reads[k];
        size_t j = 0;
        for (size_t i = 0; i < r->n_reads; i++) {
            struct repl_read *x = &r->reads[i];
            if (x->req_id == rd->req_id && !x->answered && rd->status < 0) {
                wake(r, x->owner, rd->status);
                continue;
            }
            if (x->req_id == rd->req_id && !x->answered) {
                x->answered = true;
                x->index = rd->index;
            }
            r->reads[j++] = *x;
        }
        r->n_reads = j;
    }
}

void repl__wake_reads(struct repl *r)
{
    size_t j = 0;
    for (size_t i = 0; i < r->n_reads; i++) {
        struct repl_read *x = &r->reads[i];
        if (x->answered && x->index <= r->applied)
            wake(r, x->owner, 0);
        else
            r->reads[j++] = *x;
    }
    r->n_reads = j;
}
