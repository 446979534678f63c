/* Cluster membership: the configuration codec, single-server changes
 * (§4.1: one server added or removed at a time, in force on each server as
 * soon as it is appended, the next change only after the previous one
 * committed), learners that catch up before they vote (§4.2.1), the leader
 * that removes itself (§4.2.2: it manages the cluster until the change
 * commits, then hands over with TimeoutNow), and ids that are never
 * reused (config.max_id). */
#include <string.h>

#include "raft/raft_internal.h"

#define CONFIG_VERSION 1
#define CONFIG_HEADER (1 + 4 + 8)
#define CONFIG_SERVER (8 + 1)

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

size_t raft_config_encoded_size(const struct raft_config *c)
{
    return CONFIG_HEADER + (size_t)c->n * CONFIG_SERVER;
}

static bool config_valid(const struct raft_config *c)
{
    if (c->n > RAFT_MAX_SERVERS) {
        return false;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        if (s->id == 0 || s->id > c->max_id ||
            (s->role != RAFT_VOTER && s->role != RAFT_LEARNER)) {
            return false;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (c->servers[j].id == s->id) {
                return false;
            }
        }
    }
    return true;
}

int raft_config_encode(const struct raft_config *c, uint8_t *buf, size_t cap)
{
    if (!config_valid(c)) {
        return ERR_INVALID;
    }
    size_t size = raft_config_encoded_size(c);
    if (cap < size) {
        return ERR_TOOBIG;
    }
    buf[0] = CONFIG_VERSION;
    buf[1] = (uint8_t)c->n;
    buf[2] = buf[3] = buf[4] = 0;
    put_u64(buf + 5, c->max_id);
    uint8_t *p = buf + CONFIG_HEADER;
    for (uint32_t i = 0; i < c->n; i++, p += CONFIG_SERVER) {
        put_u64(p, c->servers[i].id);
        p[8] = c->servers[i].role;
    }
    return (int)size;
}

int raft_config_decode(const uint8_t *buf, size_t len, struct raft_config *c)
{
    if (buf == NULL || len < CONFIG_HEADER || buf[0] != CONFIG_VERSION) {
        return ERR_PROTOCOL;
    }
    uint32_t n = buf[1] | (uint32_t)buf[2] << 8 | (uint32_t)buf[3] << 16 |
                 (uint32_t)buf[4] << 24;
    if (n > RAFT_MAX_SERVERS || len != CONFIG_HEADER + n * CONFIG_SERVER) {
        return ERR_PROTOCOL;
    }
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->max_id = get_u64(buf + 5);
    const uint8_t *p = buf + CONFIG_HEADER;
    for (uint32_t i = 0; i < n; i++, p += CONFIG_SERVER) {
        c->servers[i].id = get_u64(p);
        c->servers[i].role = p[8];
    }
    return config_valid(c) ? 0 : ERR_PROTOCOL;
}

uint32_t raft_config_voters(const struct raft_config *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        n += c->servers[i].role == RAFT_VOTER;
    }
    return n;
}

const struct raft_server *raft_config_find(const struct raft_config *c,
                                           uint64_t id)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->servers[i].id == id) {
            return &c->servers[i];
        }
    }
    return NULL;
}

/* ---- the node's configuration ---------------------------------------- */

/* A configuration was appended at index: it is in force now (§4.1). */
void raft__config_appended(struct raft *r, uint64_t index,
                           const struct raft_config *c)
{
    r->config = *c;
    r->config_index = index;
    r->config_dirty = true;
    if (r->role == RAFT_LEADER) {
        raft__progress_sync(r);
    }
}

/* After a truncation removed the latest CONFIG entry: the one before it
 * (or the snapshot's) is in force again (§4.1). */
void raft__config_rescan(struct raft *r)
{
    for (uint64_t i = raft__last_index(r); i >= r->start && i > 0; i--) {
        const struct raft_entry *e = raft__entry(r, i);
        struct raft_config c;
        if (e->type == RAFT_ENTRY_CONFIG &&
            raft_config_decode(e->data, e->len, &c) == 0) {
            raft__config_appended(r, i, &c);
            return;
        }
    }
    raft__config_appended(r, r->snap.index, &r->snap.config);
}

/* Leader: one progress per member, keeping what is known of old ones. */
void raft__progress_sync(struct raft *r)
{
    struct raft__progress prs[RAFT_MAX_SERVERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->config.n; i++) {
        const struct raft_server *s = &r->config.servers[i];
        struct raft__progress *old = raft__progress(r, s->id);
        if (old != NULL) {
            prs[n] = *old;
            old->id = 0; /* moved */
        } else {
            memset(&prs[n], 0, sizeof(prs[n]));
            prs[n].id = s->id;
            prs[n].active = true;
            raft__progress_reset(r, &prs[n]);
        }
        prs[n].voter = s->role == RAFT_VOTER;
        n++;
    }
    for (uint32_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id != 0) {
            raft__free(r, r->prs[i].infl);
        }
    }
    memcpy(r->prs, prs, n * sizeof(prs[0]));
    r->n_prs = n;
}

/* ---- changes --------------------------------------------------------- */

static int change_check(const struct raft *r)
{
    if (r->role != RAFT_LEADER || r->stepping_down) {
        return ERR_NOTLEADER;
    }
    if (r->transfer_to != 0 || r->config_index > r->commit) {
        return ERR_BUSY;
    }
    /* A leader commits an entry of its own term before changing the
     * configuration (the fix to single-server changes, Ongaro's raft-dev
     * post of 2015, cf. §4.1). */
    if (raft__term_at(r, r->commit) != r->term) {
        return ERR_BUSY;
    }
    return 0;
}

static int change_apply(struct raft_config *c, uint8_t op, uint64_t id)
{
    struct raft_server *s = NULL;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->servers[i].id == id) {
            s = &c->servers[i];
        }
    }
    switch (op) {
    case RAFT_CHANGE_ADD_LEARNER:
        if (id == 0 || id <= c->max_id) {
            return ERR_INVALID; /* present, or removed once: never reused */
        }
        if (c->n >= RAFT_MAX_SERVERS) {
            return ERR_LIMIT;
        }
        c->servers[c->n++] = (struct raft_server){id, RAFT_LEARNER};
        c->max_id = id;
        return 0;
    case RAFT_CHANGE_PROMOTE:
        if (s == NULL || s->role != RAFT_LEARNER) {
            return ERR_INVALID;
        }
        s->role = RAFT_VOTER;
        return 0;
    case RAFT_CHANGE_REMOVE:
        if (s == NULL) {
            return ERR_INVALID;
        }
        *s = c->servers[--c->n];
        for (uint32_t i = 0; i < c->n; i++) {
            if (c->servers[i].role == RAFT_VOTER) {
                return 0;
            }
        }
        return ERR_INVALID; /* the last voter cannot leave */
    }
    return ERR_INVALID;
}

int raft__change(struct raft *r, uint8_t op, uint64_t id)
{
    int rv = change_check(r);
    if (rv != 0) {
        return rv;
    }
    struct raft_config c = r->config;
    rv = change_apply(&c, op, id);
    if (rv != 0) {
        return rv;
    }
    uint8_t buf[RAFT_CONFIG_MAX_BYTES];
    int len = raft_config_encode(&c, buf, sizeof(buf));
    if (len < 0) {
        return len;
    }
    rv = raft__append_own(r, RAFT_ENTRY_CONFIG, buf, (uint32_t)len, NULL);
    if (rv != 0) {
        return rv;
    }
    raft__config_appended(r, raft__last_index(r), &c);
    r->stepping_down = raft_config_find(&c, r->id) == NULL;
    raft__broadcast_append(r);
    raft__maybe_commit(r); /* a single voter commits on its own */
    return 0;
}

/* Leader: a learner whose log has caught up with the commit index becomes
 * a voter (§4.2.1), unless the caller promotes explicitly. */
void raft__maybe_promote(struct raft *r, struct raft__progress *pr)
{
    if (r->opts.no_auto_promote || r->role != RAFT_LEADER || pr->voter ||
        pr->match < r->commit || r->commit == 0) {
        return;
    }
    const struct raft_server *s = raft_config_find(&r->config, pr->id);
    if (s == NULL || s->role != RAFT_LEARNER || change_check(r) != 0) {
        return;
    }
    raft__change(r, RAFT_CHANGE_PROMOTE, pr->id);
}

/* §4.2.2: a leader that removed itself leads until that change commits;
 * then it hands leadership to the most up-to-date voter (TimeoutNow) and
 * steps down, or just steps down after an election timeout. */
void raft__removed_leader_check(struct raft *r)
{
    if (r->role != RAFT_LEADER || !r->stepping_down ||
        r->config_index > r->commit) {
        return;
    }
    struct raft__progress *best = NULL;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *pr = &r->prs[i];
        if (pr->voter && (best == NULL || pr->match > best->match)) {
            best = pr;
        }
    }
    if (r->transfer_to == 0) {
        r->transfer_to = best ? best->id : 0;
        r->transfer_deadline = r->now + r->opts.election_timeout_ms;
    }
    if (best != NULL && best->match == raft__last_index(r)) {
        raft__msg(r, RAFT_MSG_TIMEOUT_NOW, best->id);
    } else if (r->now < r->transfer_deadline) {
        return;
    }
    raft__become_follower(r, r->term, 0);
}
