/* WATCH on the leader, with Redis 7 semantics: an EXEC aborts (null
 * array) when a watched key was touched by any entry applied on this node
 * since the WATCH, or expired meanwhile. Touches come from below, not from
 * the client's own commands: cmd_execute's hook after every write that
 * changed the keyspace (and before FLUSHDB/FLUSHALL), and the store's
 * delete hook (DEL, the leader's proposed expiry and eviction DELs), both
 * installed through cmd (cmd_watch.c).
 * The subtlety of a replicated EXEC: its entry goes behind every entry the
 * leader's log and open batch hold when it decides, and a committed EXEC
 * commits with exactly that prefix (Raft §5.3, Log Matching). Applied ones
 * have reported their touches; the rest may still touch a watched key. So
 * the rule: an EXEC goes only when no entry this node holds unapplied
 * (repl_each_unapplied: earlier terms' entries on a new leader, writes
 * whose client got -CLUSTERDOWN on a deadline or left, the leader's own
 * expiry and eviction DELs, this iteration's batch) names one of its
 * watched keys, or writes without keys (FLUSHALL), or cannot be read. Else
 * it waits until that entry applied and decides again (an entry that
 * applies and touches the key aborts it). It also aborts when the term
 * changed since the WATCH (a state replaced by a snapshot while a
 * follower reports no touch), and when it waited raft-write-timeout (no
 * quorum). Aborting spuriously is allowed by Redis' semantics, committing
 * after a touch is not. Proposed writes naming a watched key are also
 * counted per key (watch__proposed) so that their apply wakes the EXEC at
 * once; the log, looked at again every WATCH_POLL_MS, wakes the rest. The
 * decision is the leader's alone: an aborted EXEC proposes nothing, a
 * passed one is an ordinary RAFT.MULTI entry that every node applies alike.
 * Keys watched while logically expired follow Redis 7.0's watchedKey
 * .expired: their removal (expiry, DEL, FLUSHALL) is no change. */
#include "client/client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/watch.h"
#include "net/loop.h"
#include "repl/repl.h"

enum { WATCH_ABSENT = CMD_KEY_ABSENT, WATCH_LIVE = CMD_KEY_LIVE,
       WATCH_STALE = CMD_KEY_STALE };
#define WATCH_NO_EXPIRE (-1)

struct watch_key {
    struct watch_key *next;   /* hash chain */
    uint64_t hash;
    struct conn **who;        /* watching connections */
    unsigned nwho, capwho;
    unsigned pending;         /* proposed writes naming it, not applied */
    size_t len;
    char key[];
};

struct watch_entry {
    struct watch_key *wk;
    int64_t expire_at;        /* when LIVE: its expire time at WATCH */
    int state;                /* WATCH_ABSENT / LIVE / STALE at WATCH */
};

/* One proposed write that names watched keys (or flushes). */
struct watch_rec {
    uint64_t seq;             /* the connection's write number (wseq) */
    struct watch_key **keys;  /* pending++ was done on each */
    unsigned n;
    unsigned all;             /* a keyless write: FLUSHDB, FLUSHALL */
};

struct watch_reg {
    struct watch_key **tab;
    size_t size, count;
    unsigned pending_all;     /* proposed keyless writes not applied */
    unsigned nwaiting;        /* connections holding an EXEC */
    struct watch_log log;     /* the leader's log (watch.h) */
    struct loop_timer *poll;  /* looks at the log while EXECs wait */
};

struct watch_conn {
    struct watch_entry *e;
    unsigned n, cap;
    struct watch_rec *rec;    /* FIFO of proposed writes */
    unsigned rhead, rlen, rcap;
    uint64_t term;            /* the leader's term at the first WATCH */
    uint64_t wait_index;      /* the EXEC waits until applied >= this */
    int64_t wait_since;       /* when the EXEC began to wait, 0: not */
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL && n > 0)
        abort();
    return q;
}

static uint64_t hash_key(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static struct watch_key **find_slot(struct watch_reg *r, const char *key,
                                    size_t len, uint64_t h)
{
    struct watch_key **pp = &r->tab[h & (r->size - 1)];
    while (*pp != NULL && ((*pp)->hash != h || (*pp)->len != len ||
                           memcmp((*pp)->key, key, len) != 0))
        pp = &(*pp)->next;
    return pp;
}

static struct watch_key *find_key(struct watch_reg *r, const char *key,
                                  size_t len)
{
    if (r == NULL || r->count == 0)
        return NULL;
    return *find_slot(r, key, len, hash_key(key, len));
}

static void grow_table(struct watch_reg *r)
{
    size_t size = r->size ? r->size * 2 : 64;
    struct watch_key **tab = calloc(size, sizeof(*tab));
    if (tab == NULL)
        abort();
    for (size_t i = 0; i < r->size; i++) {
        struct watch_key *k = r->tab[i], *next;
        for (; k != NULL; k = next) {
            next = k->next;
            k->next = tab[k->hash & (size - 1)];
            tab[k->hash & (size - 1)] = k;
        }
    }
    free(r->tab);
    r->tab = tab;
    r->size = size;
}

static struct watch_key *get_key(struct watch_reg *r, const char *key,
                                 size_t len)
{
    if (r->count >= r->size)
        grow_table(r);
    uint64_t h = hash_key(key, len);
    struct watch_key **pp = find_slot(r, key, len, h);
    if (*pp != NULL)
        return *pp;
    struct watch_key *k = calloc(1, sizeof(*k) + len);
    if (k == NULL)
        abort();
    k->hash = h;
    k->len = len;
    memcpy(k->key, key, len);
    *pp = k;
    r->count++;
    return k;
}

/* Frees k once nobody watches it and no proposed write names it. */
static void maybe_free(struct watch_reg *r, struct watch_key *k)
{
    if (k->nwho > 0 || k->pending > 0)
        return;
    struct watch_key **pp = find_slot(r, k->key, k->len, k->hash);
    *pp = k->next;
    r->count--;
    free(k->who);
    free(k);
}

static struct watch_entry *entry_of(struct conn *c, struct watch_key *k)
{
    struct watch_conn *w = c->watch;
    for (unsigned i = 0; i < w->n; i++)
        if (w->e[i].wk == k)
            return &w->e[i];
    return NULL;
}

/* ---- touches: the hooks ------------------------------------------------ */

static void set_dirty(struct conn *c);

/* Redis touchWatchedKey: every watcher of the key is dirty, except that
 * removing a key watched stale only clears its flag (7.0 watchedKey
 * .expired). A write over a stale key is a change, as in 7.0 where the
 * write's lookup removes the stale key first. */
static void touch_key(struct client_server *cs, const char *key, size_t len,
                      int deleted)
{
    struct watch_key *k = find_key(cs->watch, key, len);
    for (unsigned i = 0; k != NULL && i < k->nwho; i++) {
        struct watch_entry *e = entry_of(k->who[i], k);
        if (e != NULL && e->state == WATCH_STALE && deleted) {
            e->state = WATCH_ABSENT;
            continue;
        }
        set_dirty(k->who[i]);
    }
}

static void on_touch_key(void *data, const char *key, size_t len,
                         int deleted)
{
    touch_key(data, key, len, deleted);
}

/* Calls fn for each key argument of a command (cmd_def key positions)
 * until it returns nonzero; returns that, or 0. */
static int each_key(const struct cmd_def *d, int argc,
                    const struct resp_arg *argv,
                    int (*fn)(void *ctx, const struct resp_arg *k), void *ctx)
{
    if (d == NULL || d->first_key <= 0)
        return 0;
    int last = d->last_key < 0 ? argc + d->last_key : d->last_key;
    int step = d->key_step > 0 ? d->key_step : 1;
    int rv = 0;
    for (int i = d->first_key; i <= last && i < argc && rv == 0; i += step)
        rv = fn(ctx, &argv[i]);
    return rv;
}

static int touch_one(void *ctx, const struct resp_arg *k)
{
    touch_key(ctx, k->ptr, k->len, 0);
    return 0;
}

static void on_touch(void *data, const struct cmd_ctx *c)
{
    struct client_server *cs = data;
    if (cs->watch != NULL && cs->watch->count > 0)
        each_key(c->cmd, c->argc, c->argv, touch_one, cs);
}

/* Redis touchAllWatchedKeysInDb: a flush touches the keys it removes. */
static void on_touch_all(void *data)
{
    struct client_server *cs = data;
    struct watch_reg *r = cs->watch;
    for (size_t b = 0; r != NULL && b < r->size; b++)
        for (struct watch_key *k = r->tab[b]; k != NULL; k = k->next)
            for (unsigned i = 0; i < k->nwho; i++) {
                struct watch_entry *e = entry_of(k->who[i], k);
                if (e == NULL || e->state == WATCH_ABSENT)
                    continue;
                if (e->state == WATCH_STALE)
                    e->state = WATCH_ABSENT;
                else
                    set_dirty(k->who[i]);
            }
}

/* ---- the leader's log (repl_watch.h) --------------------------------- */

/* The group is read through cs->repl at each call: server.c may re-open
 * it (RAFT.CLUSTER), and a standalone node has none (term 0, no log). */
static uint64_t group_term(void *data)
{
    struct client_server *cs = data;
    return cs->repl != NULL ? repl_term(cs->repl) : 0;
}

static uint64_t group_applied(void *data)
{
    struct client_server *cs = data;
    return cs->repl != NULL ? repl_applied_index(cs->repl) : 0;
}

static int group_each_unapplied(void *data, repl_unapplied_cb fn, void *ctx)
{
    struct client_server *cs = data;
    return cs->repl != NULL ? repl_each_unapplied(cs->repl, fn, ctx) : 0;
}

/* The registry and the hooks are set up by the first WATCH: a server
 * nobody WATCHes pays nothing on its write path. */
static struct watch_reg *registry(struct client_server *cs)
{
    if (cs->watch != NULL)
        return cs->watch;
    cs->watch = calloc(1, sizeof(*cs->watch));
    if (cs->watch == NULL)
        abort();
    grow_table(cs->watch);
    cs->watch->log = (struct watch_log){group_term, group_applied,
                                        group_each_unapplied, cs};
    cmd_watch_hooks(cs->env, on_touch, on_touch_all, on_touch_key, cs);
    return cs->watch;
}

void watch__set_log(struct client_server *cs, const struct watch_log *log)
{
    registry(cs)->log = *log;
}

static uint64_t log_term(struct client_server *cs)
{
    struct watch_log *l = &registry(cs)->log;
    return l->term(l->data);
}

/* ---- WATCH / UNWATCH ---------------------------------------------------- */

static struct watch_conn *conn_state(struct conn *c)
{
    if (c->watch == NULL && (c->watch = calloc(1, sizeof(*c->watch))) == NULL)
        abort();
    return c->watch;
}

void watch__add(struct conn *c, const struct resp_arg *key, int64_t now)
{
    struct watch_reg *r = registry(c->srv);
    struct watch_conn *w = conn_state(c);
    struct watch_key *k = get_key(r, key->ptr, key->len);
    if (entry_of(c, k) != NULL)
        return; /* already watched: WATCH x x is one watch, as Redis */
    uint64_t term = log_term(c->srv);
    if (w->n == 0)
        w->term = term;
    else if (w->term != term)
        set_dirty(c); /* a leader change since the first key's WATCH */
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4;
        w->e = xrealloc(w->e, w->cap * sizeof(*w->e));
    }
    struct watch_entry *e = &w->e[w->n++];
    e->wk = k;
    e->state = cmd_watch_key_state(c->srv->env, key->ptr, key->len, now,
                                   &e->expire_at);
    if (k->nwho == k->capwho) {
        k->capwho = k->capwho ? k->capwho * 2 : 2;
        k->who = xrealloc(k->who, k->capwho * sizeof(*k->who));
    }
    k->who[k->nwho++] = c;
}

/* Redis unwatchAllKeys, and the dirty flag goes with the keys. */
void watch__unwatch(struct conn *c)
{
    struct watch_conn *w = c->watch;
    watch__stop_waiting(c);
    c->watch_dirty = 0;
    if (w == NULL)
        return;
    for (unsigned i = 0; i < w->n; i++) {
        struct watch_key *k = w->e[i].wk;
        for (unsigned j = 0; j < k->nwho; j++)
            if (k->who[j] == c) {
                k->who[j] = k->who[--k->nwho];
                break;
            }
        maybe_free(c->srv->watch, k);
    }
    w->n = 0;
    w->wait_index = 0;
    w->wait_since = 0;
}

unsigned watch__count(const struct conn *c)
{
    return c->watch != NULL ? c->watch->n : 0;
}

/* Redis isWatchedKeyExpired: a key live at WATCH and expired by now was
 * touched by its expiry, deleted yet or not. */
static int expired_since(const struct watch_conn *w, int64_t now)
{
    for (unsigned i = 0; i < w->n; i++)
        if (w->e[i].state == WATCH_LIVE &&
            w->e[i].expire_at != WATCH_NO_EXPIRE && now > w->e[i].expire_at)
            return 1;
    return 0;
}

/* ---- what the log holds beyond the applied index ---------------------- */

struct scan {
    struct conn *c;
    struct resp_parser outer, inner;
    int in_multi;             /* inner is parsing a RAFT.MULTI's body */
    uint64_t index;           /* the first entry that may touch */
};

static int arg_is(const struct resp_arg *a, const char *w)
{
    size_t n = strlen(w);
    return a->len == n && strncasecmp(a->ptr, w, n) == 0;
}

static int watched_by_conn(void *ctx, const struct resp_arg *key)
{
    struct conn *c = ctx;
    struct watch_key *k = find_key(c->srv->watch, key->ptr, key->len);
    return k != NULL && entry_of(c, k) != NULL;
}

static int multi_may_touch(struct scan *s, const struct resp_arg *body);

/* Whether one command of the log may touch a key c watches: a write
 * naming one, RAFT.EXPIRED/RAFT.EVICTED of one, a write without keys
 * (FLUSHALL, SWAPDB), a transaction holding any of these, or a command
 * this node does not know (conservative). */
static int command_may_touch(struct scan *s, int argc,
                             const struct resp_arg *argv)
{
    if (argc == 2 && (arg_is(&argv[0], "raft.expired") ||
                      arg_is(&argv[0], "raft.evicted")))
        return watched_by_conn(s->c, &argv[1]);
    if (argc == 3 && arg_is(&argv[0], "raft.multi"))
        return s->in_multi || multi_may_touch(s, &argv[2]);
    int unknown = 0;
    const struct cmd_def *d = cmd_lookup(argc, argv, &unknown);
    if (d == NULL || unknown)
        return 1;
    if (!(d->flags & CMD_WRITE))
        return 0;
    if (d->first_key <= 0)
        return 1;
    return each_key(d, argc, argv, watched_by_conn, s->c);
}

/* RAFT.MULTI's commands, multibulks back to back (dispatch's mbuf); one
 * that does not parse counts as a touch. Only multibulks are parsed: the
 * parser unescapes an inline command in place, and these bytes are the
 * log's. */
static int multi_may_touch(struct scan *s, const struct resp_arg *body)
{
    char *at = (char *)body->ptr;
    size_t left = body->len;
    int touch = 0;
    s->in_multi = 1;
    while (left > 0 && !touch) {
        long rv = *at == '*' ? resp_parse(&s->inner, at, left) : -1;
        touch = rv <= 0 || (s->inner.argc > 0 &&
                            command_may_touch(s, s->inner.argc,
                                              s->inner.argv));
        at += rv > 0 ? rv : 0;
        left -= rv > 0 ? (size_t)rv : 0;
    }
    s->in_multi = 0;
    return touch;
}

static int scan_entry(void *ctx, uint64_t index, const uint8_t *cmd,
                      size_t len)
{
    struct scan *s = ctx;
    int touch = cmd == NULL || len == 0 || cmd[0] != '*';
    if (!touch) {
        long rv = resp_parse(&s->outer, (char *)cmd, len);
        touch = rv <= 0 || (size_t)rv != len ||
                command_may_touch(s, s->outer.argc, s->outer.argv);
    }
    if (touch)
        s->index = index;
    return touch;
}

/* The index of the first entry the leader holds unapplied (log or open
 * batch) that may touch a key c watches; 0 when none does. A parse error
 * leaves a parser sticky: the scan stops at that entry anyway. */
static uint64_t first_unapplied_touch(struct conn *c)
{
    struct watch_log *l = &c->srv->watch->log;
    struct scan s = {.c = c};
    if (resp_parser_init(&s.outer, 1LL << 40, NULL) < 0 ||
        resp_parser_init(&s.inner, 1LL << 40, NULL) < 0)
        abort();
    l->each_unapplied(l->data, scan_entry, &s);
    resp_parser_free(&s.outer);
    resp_parser_free(&s.inner);
    return s.index;
}

/* ---- EXEC -------------------------------------------------------------- */

/* How long an EXEC may wait for the log before it gives up and aborts: a
 * parked write's deadline (raft-write-timeout, else two election
 * timeouts, as server_raft.c gives repl). */
static int64_t wait_limit_ms(const struct client_server *cs)
{
    const struct config *cfg = cs->cfg;
    return cfg->raft_write_timeout > 0 ? cfg->raft_write_timeout
                                       : 2 * cfg->raft_election_timeout;
}

static int tracked_pending(const struct conn *c)
{
    const struct watch_conn *w = c->watch;
    int busy = c->srv->watch->pending_all > 0;
    for (unsigned i = 0; i < w->n && !busy; i++)
        busy = w->e[i].wk->pending > 0;
    return busy;
}

static void poll_log(struct loop_timer *t, void *data);

static void start_waiting(struct conn *c, uint64_t index, int64_t now)
{
    struct watch_reg *r = c->srv->watch;
    struct watch_conn *w = c->watch;
    w->wait_index = index;
    if (w->wait_since == 0)
        w->wait_since = now;
    if (!c->watch_wait) {
        c->watch_wait = 1;
        r->nwaiting++;
    }
    if (r->poll == NULL)
        r->poll = loop_timer_create(c->srv->loop, WATCH_POLL_MS,
                                    WATCH_POLL_MS, poll_log, c->srv);
    else if (r->nwaiting == 1)
        loop_timer_again(r->poll, WATCH_POLL_MS);
}

/* The rule of the header comment, in its order. */
static int decide(struct conn *c, int64_t now)
{
    struct watch_conn *w = c->watch;
    if (c->watch_dirty)
        return WATCH_EXEC_ABORT;
    if (w == NULL || w->n == 0)
        return WATCH_EXEC_GO;
    if (expired_since(w, now) || log_term(c->srv) != w->term)
        return WATCH_EXEC_ABORT;
    uint64_t index = 0;
    if (!tracked_pending(c) && (index = first_unapplied_touch(c)) == 0)
        return WATCH_EXEC_GO;
    if (w->wait_since != 0 && now - w->wait_since >= wait_limit_ms(c->srv))
        return WATCH_EXEC_ABORT; /* no quorum: the log does not apply */
    start_waiting(c, index, now);
    return WATCH_EXEC_WAIT;
}

/* An EXEC that does not wait any more leaves the waiters (and the poll). */
int watch__exec_state(struct conn *c, int64_t now)
{
    int rv = decide(c, now);
    if (rv != WATCH_EXEC_WAIT)
        watch__stop_waiting(c);
    return rv;
}

void watch__stop_waiting(struct conn *c)
{
    if (!c->watch_wait)
        return;
    c->watch_wait = 0;
    c->srv->watch->nwaiting--;
}

static void resume(struct conn *c)
{
    watch__stop_waiting(c);
    dispatch__resume(c);
}

/* A touched key aborts a waiting EXEC: no need to wait any longer. */
static void set_dirty(struct conn *c)
{
    c->watch_dirty = 1;
    if (c->watch_wait)
        resume(c);
}

/* The poll, while EXECs wait: an EXEC decides again once the entry it
 * waits for applied, the term changed (its entries may be gone), or its
 * time is up. Entries that apply without touching anything (a DEL of an
 * absent key, an entry overwritten by a new leader) wake nobody else. */
static void poll_log(struct loop_timer *t, void *data)
{
    struct client_server *cs = data;
    struct watch_reg *r = cs->watch;
    if (r->nwaiting == 0) {
        loop_timer_stop(t);
        return;
    }
    uint64_t applied = r->log.applied(r->log.data);
    uint64_t term = r->log.term(r->log.data);
    int64_t now = loop_now_ms(cs->loop);
    for (struct conn *c = cs->all; c != NULL; c = c->next) {
        struct watch_conn *w = c->watch;
        if (!c->watch_wait || w == NULL)
            continue;
        if ((w->wait_index != 0 && applied >= w->wait_index) ||
            term != w->term || now - w->wait_since >= wait_limit_ms(cs))
            resume(c);
    }
}

/* ---- writes in flight ---------------------------------------------------- */

struct rec_build {
    struct watch_reg *r;
    struct watch_rec rec;
};

static int pend_one(void *ctx, const struct resp_arg *key)
{
    struct rec_build *b = ctx;
    struct watch_key *k = find_key(b->r, key->ptr, key->len);
    if (k == NULL)
        return 0;
    b->rec.keys = xrealloc(b->rec.keys, (b->rec.n + 1) * sizeof(*b->rec.keys));
    b->rec.keys[b->rec.n++] = k;
    k->pending++;
    return 0;
}

static void add_command(struct rec_build *b, int argc,
                        const struct resp_arg *argv)
{
    int unknown = 0;
    const struct cmd_def *d = cmd_lookup(argc, argv, &unknown);
    if (d == NULL || unknown || !(d->flags & CMD_WRITE))
        return;
    if (d->first_key <= 0) {
        b->rec.all++;
        b->r->pending_all++;
    } else {
        each_key(d, argc, argv, pend_one, b);
    }
}

static void push_rec(struct conn *c, struct rec_build *b)
{
    struct watch_conn *w = conn_state(c);
    if (w->rlen == w->rcap) {
        unsigned cap = w->rcap ? w->rcap * 2 : 4;
        struct watch_rec *q = xrealloc(NULL, cap * sizeof(*q));
        for (unsigned i = 0; i < w->rlen; i++)
            q[i] = w->rec[(w->rhead + i) % w->rcap];
        free(w->rec);
        w->rec = q;
        w->rhead = 0;
        w->rcap = cap;
    }
    b->rec.seq = c->wseq_sub;
    w->rec[(w->rhead + w->rlen++) % w->rcap] = b->rec;
}

/* A write (argv, or RAFT.MULTI's queued commands in mbuf) was proposed
 * on the leader for c: the watched keys it names are pending until
 * watch__write_done. Only when somebody watches anything. */
void watch__proposed(struct conn *c, int argc, const struct resp_arg *argv,
                     const char *mbuf, size_t mlen)
{
    struct watch_reg *r = c->srv->watch;
    if (r == NULL || r->count == 0)
        return;
    struct rec_build b = {.r = r};
    if (mbuf == NULL) {
        add_command(&b, argc, argv);
    } else {
        struct resp_parser p;
        if (resp_parser_init(&p, 1LL << 40, NULL) < 0)
            abort();
        char *at = (char *)mbuf;
        size_t left = mlen;
        long rv;
        while (left > 0 && (rv = resp_parse(&p, at, left)) > 0) {
            add_command(&b, p.argc, p.argv);
            at += rv;
            left -= (size_t)rv;
        }
        resp_parser_free(&p);
    }
    if (b.rec.n > 0 || b.rec.all > 0)
        push_rec(c, &b);
}

static void wake_waiters(struct client_server *cs)
{
    if (cs->watch->nwaiting == 0)
        return;
    for (struct conn *c = cs->all; c != NULL; c = c->next)
        if (c->watch_wait)
            resume(c);
}

static void release_rec(struct client_server *cs, struct watch_rec *rec)
{
    struct watch_reg *r = cs->watch;
    int zero = 0;
    for (unsigned i = 0; i < rec->n; i++) {
        struct watch_key *k = rec->keys[i];
        zero |= --k->pending == 0;
        maybe_free(r, k);
    }
    r->pending_all -= rec->all;
    zero |= rec->all > 0 && r->pending_all == 0;
    free(rec->keys);
    if (zero)
        wake_waiters(cs);
}

/* One of c's proposed writes applied or failed (in proposal order): the
 * dispatcher has counted it in c->wseq_done. */
void watch__write_done(struct conn *c)
{
    struct watch_conn *w = c->watch;
    while (w != NULL && w->rlen > 0 && w->rec[w->rhead].seq <= c->wseq_done) {
        struct watch_rec rec = w->rec[w->rhead];
        w->rhead = (w->rhead + 1) % w->rcap;
        w->rlen--;
        release_rec(c->srv, &rec);
    }
}

/* The connection is closing: its writes still apply, with nobody to
 * account them; they stop counting as pending now. */
void watch__forget(struct conn *c)
{
    struct watch_conn *w = c->watch;
    watch__stop_waiting(c);
    watch__unwatch(c);
    if (w == NULL)
        return;
    while (w->rlen > 0) {
        struct watch_rec rec = w->rec[w->rhead];
        w->rhead = (w->rhead + 1) % w->rcap;
        w->rlen--;
        release_rec(c->srv, &rec);
    }
    free(w->rec);
    free(w->e);
    free(w);
    c->watch = NULL;
}

/* Frees the registry once every connection is gone (shutdown, tests). */
void watch__free(struct client_server *cs)
{
    struct watch_reg *r = cs->watch;
    if (r == NULL)
        return;
    for (size_t b = 0; b < r->size; b++) {
        struct watch_key *k = r->tab[b], *next;
        for (; k != NULL; k = next) {
            next = k->next;
            free(k->who);
            free(k);
        }
    }
    if (r->poll != NULL)
        loop_timer_destroy(r->poll);
    free(r->tab);
    free(r);
    cs->watch = NULL;
}
