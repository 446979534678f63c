/* Linearizability checker: Wing & Gong's search with Lowe's memoisation,
 * in the shape of Porcupine's checkSingle. Per key, the call and return
 * events form a doubly linked list sorted by time; linearizing an operation
 * "lifts" its call and return out of the list, backtracking puts them back.
 * A configuration (set of linearized ops, register value) already seen is
 * never explored twice. Unknown ops return at +infinity, so they can always
 * be placed last, where nothing observes them: "may never have happened". */
#include "sim/lincheck.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LC_DEFAULT_BUDGET 20000000ULL

struct lc_event {
    struct lc_event *prev, *next;
    struct lc_event *match; /* call: its return; return: NULL */
    uint64_t time;
    size_t op;              /* index into the caller's history */
    int slot;               /* dense index of the op within the key */
    bool is_call;
};

struct lc_frame {
    struct lc_event *call;
    int64_t state;
};

/* Open-addressed set of (bitmap, state), bitmaps kept in one arena. */
struct lc_cache {
    uint64_t *hashes;  /* 0 marks an empty slot */
    int64_t *states;
    size_t *offsets;   /* into arena, in words */
    size_t cap, used;
    uint64_t *arena;
    size_t arena_len, arena_cap;
    size_t words;
};

struct lc_search {
    const struct lc_op *ops;
    struct lc_event *events;
    struct lc_event head;
    struct lc_frame *stack;
    uint64_t *bitmap;
    size_t words;
    int nops;
    struct lc_cache cache;
};

const char *lincheck_verdict_str(enum lc_verdict v)
{
    switch (v) {
    case LC_LINEARIZABLE:
        return "linearizable";
    case LC_NOT_LINEARIZABLE:
        return "NOT linearizable";
    case LC_UNDECIDED:
        return "undecided";
    }
    return "?";
}

static uint64_t lc_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t lc_hash(const uint64_t *bm, size_t words, int64_t state)
{
    uint64_t h = lc_mix((uint64_t)state + 0x9e3779b97f4a7c15ULL);
    for (size_t i = 0; i < words; i++)
        h = lc_mix(h ^ bm[i]) + i;
    return h ? h : 1;
}

/* Whether the model accepts op in state s; sets *next to the new state.
 * A compare-and-set that reported a mismatch still tells us the value
 * differed at its linearization point, so it is checked, not dropped. */
static bool lc_model_step(const struct lc_op *op, int64_t s, int64_t *next)
{
    *next = s;
    switch (op->kind) {
    case LC_READ:
        return op->out == s;
    case LC_WRITE:
        *next = op->arg;
        return true;
    case LC_CAS:
        if (op->result == LC_UNKNOWN) {
            if (s == op->arg)
                *next = op->arg2;
            return true;
        }
        if (op->out) {
            *next = op->arg2;
            return s == op->arg;
        }
        return s != op->arg;
    }
    return false;
}

static void lc_cache_free(struct lc_cache *c)
{
    free(c->hashes);
    free(c->states);
    free(c->offsets);
    free(c->arena);
    memset(c, 0, sizeof(*c));
}

static bool lc_cache_init(struct lc_cache *c, size_t words)
{
    memset(c, 0, sizeof(*c));
    c->words = words;
    c->cap = 1024;
    c->hashes = calloc(c->cap, sizeof(*c->hashes));
    c->states = calloc(c->cap, sizeof(*c->states));
    c->offsets = calloc(c->cap, sizeof(*c->offsets));
    c->arena_cap = 1024 * (words ? words : 1);
    c->arena = malloc(c->arena_cap * sizeof(uint64_t));
    return c->hashes && c->states && c->offsets && c->arena;
}

static size_t lc_cache_slot(const struct lc_cache *c, uint64_t h,
                            const uint64_t *bm, int64_t state, bool *found)
{
    size_t mask = c->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (c->hashes[i] == 0) {
            *found = false;
            return i;
        }
        if (c->hashes[i] == h && c->states[i] == state &&
            memcmp(c->arena + c->offsets[i], bm, c->words * 8) == 0) {
            *found = true;
            return i;
        }
    }
}

static bool lc_cache_grow(struct lc_cache *c)
{
    struct lc_cache old = *c;
    c->cap *= 2;
    c->hashes = calloc(c->cap, sizeof(*c->hashes));
    c->states = calloc(c->cap, sizeof(*c->states));
    c->offsets = calloc(c->cap, sizeof(*c->offsets));
    if (!c->hashes || !c->states || !c->offsets)
        return false;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.hashes[i] == 0)
            continue;
        size_t j = old.hashes[i] & (c->cap - 1);
        while (c->hashes[j])
            j = (j + 1) & (c->cap - 1);
        c->hashes[j] = old.hashes[i];
        c->states[j] = old.states[i];
        c->offsets[j] = old.offsets[i];
    }
    free(old.hashes);
    free(old.states);
    free(old.offsets);
    return true;
}

/* Adds (bm, state); returns 1 if added, 0 if already present, -1 on OOM. */
static int lc_cache_add(struct lc_cache *c, const uint64_t *bm, int64_t state)
{
    uint64_t h = lc_hash(bm, c->words, state);
    bool found;
    size_t i = lc_cache_slot(c, h, bm, state, &found);
    if (found)
        return 0;
    if (c->arena_len + c->words > c->arena_cap) {
        size_t ncap = c->arena_cap * 2;
        uint64_t *na = realloc(c->arena, ncap * sizeof(uint64_t));
        if (!na)
            return -1;
        c->arena = na;
        c->arena_cap = ncap;
    }
    memcpy(c->arena + c->arena_len, bm, c->words * 8);
    c->hashes[i] = h;
    c->states[i] = state;
    c->offsets[i] = c->arena_len;
    c->arena_len += c->words;
    if (++c->used * 2 > c->cap && !lc_cache_grow(c))
        return -1;
    return 1;
}

static void lc_lift(struct lc_event *call)
{
    struct lc_event *ret = call->match;
    call->prev->next = call->next;
    call->next->prev = call->prev;
    ret->prev->next = ret->next;
    if (ret->next)
        ret->next->prev = ret->prev;
}

static void lc_unlift(struct lc_event *call)
{
    struct lc_event *ret = call->match;
    ret->prev->next = ret;
    if (ret->next)
        ret->next->prev = ret;
    call->prev->next = call;
    call->next->prev = call;
}

static int lc_event_cmp(const void *a, const void *b)
{
    const struct lc_event *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->is_call != y->is_call)
        return x->is_call ? -1 : 1; /* touching intervals are concurrent */
    return x->op < y->op ? -1 : x->op > y->op;
}

/* Builds the sorted event list for the ops idx[0..m). */
static bool lc_build_events(struct lc_search *s, const size_t *idx, int m)
{
    struct lc_event *ev = s->events;
    for (int i = 0; i < m; i++) {
        const struct lc_op *op = &s->ops[idx[i]];
        ev[2 * i] = (struct lc_event){.time = op->invoke, .op = idx[i],
                                      .slot = i, .is_call = true};
        ev[2 * i + 1] = (struct lc_event){
            .time = op->result == LC_UNKNOWN ? UINT64_MAX : op->complete,
            .op = idx[i], .slot = i, .is_call = false};
    }
    qsort(ev, 2 * (size_t)m, sizeof(*ev), lc_event_cmp);
    /* After sorting, link each call to its return (matched by slot). */
    int *pos = malloc(sizeof(int) * (size_t)m);
    if (!pos)
        return false;
    for (int i = 0; i < 2 * m; i++)
        if (!ev[i].is_call)
            pos[ev[i].slot] = i;
    struct lc_event *prev = &s->head;
    s->head = (struct lc_event){0};
    for (int i = 0; i < 2 * m; i++) {
        ev[i].match = ev[i].is_call ? &ev[pos[ev[i].slot]] : NULL;
        ev[i].prev = prev;
        prev->next = &ev[i];
        prev = &ev[i];
    }
    prev->next = NULL;
    free(pos);
    return true;
}

static int lc_count_known(const struct lc_search *s, int m)
{
    int known = 0;
    for (int i = 0; i < 2 * m; i++)
        if (s->events[i].is_call &&
            s->ops[s->events[i].op].result != LC_UNKNOWN)
            known++;
    return known;
}

/* Runs the search for one key. Returns the verdict; fills report fields
 * about the deepest point reached when not linearizable. */
static enum lc_verdict lc_search_key(struct lc_search *s, int m,
                                     uint64_t *steps, uint64_t budget,
                                     struct lc_report *r)
{
    int known = lc_count_known(s, m), depth = 0, sp = 0;
    int64_t state = LC_NIL;
    struct lc_event *e = s->head.next;
    memset(s->bitmap, 0, s->words * 8);
    r->deepest = 0;
    while (known > 0) {
        if (++*steps > budget)
            return LC_UNDECIDED;
        if (e->is_call) {
            const struct lc_op *op = &s->ops[e->op];
            int64_t next;
            if (lc_model_step(op, state, &next)) {
                s->bitmap[e->slot / 64] |= 1ULL << (e->slot % 64);
                int added = lc_cache_add(&s->cache, s->bitmap, next);
                if (added > 0) {
                    s->stack[sp++] = (struct lc_frame){e, state};
                    state = next;
                    depth++;
                    known -= op->result != LC_UNKNOWN;
                    lc_lift(e);
                    e = s->head.next;
                    continue;
                }
                s->bitmap[e->slot / 64] &= ~(1ULL << (e->slot % 64));
                if (added < 0)
                    return LC_UNDECIDED;
            }
            e = e->next;
            continue;
        }
        /* A return reached while its op is pending: backtrack. */
        if (depth >= (int)r->deepest) {
            r->deepest = (size_t)depth;
            r->bad_op = e->op;
        }
        if (sp == 0)
            return LC_NOT_LINEARIZABLE;
        struct lc_frame f = s->stack[--sp];
        state = f.state;
        depth--;
        known += s->ops[f.call->op].result != LC_UNKNOWN;
        s->bitmap[f.call->slot / 64] &= ~(1ULL << (f.call->slot % 64));
        lc_unlift(f.call);
        e = f.call->next;
    }
    return LC_LINEARIZABLE;
}

static int lc_idx_cmp(const void *a, const void *b, void *ctx)
{
    const struct lc_op *ops = ctx;
    const struct lc_op *x = &ops[*(const size_t *)a];
    const struct lc_op *y = &ops[*(const size_t *)b];
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->invoke < y->invoke ? -1 : x->invoke > y->invoke;
}

static bool lc_relevant(const struct lc_op *op)
{
    if (op->result == LC_FAIL)
        return false;
    return !(op->kind == LC_READ && op->result == LC_UNKNOWN);
}

static enum lc_verdict lc_check_group(struct lc_search *s, const size_t *idx,
                                      int m, uint64_t *steps, uint64_t budget,
                                      struct lc_report *r)
{
    s->words = ((size_t)m + 63) / 64;
    s->events = malloc(sizeof(*s->events) * 2 * (size_t)m);
    s->stack = malloc(sizeof(*s->stack) * (size_t)m);
    s->bitmap = calloc(s->words, 8);
    enum lc_verdict v = LC_UNDECIDED;
    if (s->events && s->stack && s->bitmap &&
        lc_cache_init(&s->cache, s->words)) {
        if (lc_build_events(s, idx, m))
            v = lc_search_key(s, m, steps, budget, r);
    }
    lc_cache_free(&s->cache);
    free(s->events);
    free(s->stack);
    free(s->bitmap);
    return v;
}

/* Whether some completed op saw the value an unknown op would write. */
static bool lc_observed(const struct lc_op *ops, const size_t *idx, size_t m,
                        const struct lc_op *u)
{
    int64_t v = u->kind == LC_WRITE ? u->arg : u->arg2;
    for (size_t i = 0; i < m; i++) {
        const struct lc_op *o = &ops[idx[i]];
        if (o->result != LC_OK)
            continue;
        if ((o->kind == LC_READ && o->out == v) ||
            (o->kind == LC_CAS && o->out && o->arg == v))
            return true;
    }
    return false;
}

/* Checks one key. Unknown ops whose value nobody saw are first left out:
 * "never happened" is always a valid outcome for them, so a linearization
 * without them is one of the whole history, and it avoids the search over
 * every subset of them. Only when that fails is the full history searched. */
static enum lc_verdict lc_check_key(struct lc_search *s, const size_t *idx,
                                    size_t m, uint64_t *steps, uint64_t budget,
                                    struct lc_report *kr)
{
    const struct lc_op *ops = s->ops;
    size_t *keep = malloc(sizeof(size_t) * (m ? m : 1));
    size_t k = 0;
    if (keep) {
        for (size_t i = 0; i < m; i++) {
            const struct lc_op *o = &ops[idx[i]];
            if (o->result != LC_UNKNOWN || lc_observed(ops, idx, m, o))
                keep[k++] = idx[i];
        }
        if (k < m && lc_check_group(s, keep, (int)k, steps, budget, kr) ==
                         LC_LINEARIZABLE) {
            free(keep);
            return LC_LINEARIZABLE;
        }
        free(keep);
    }
    memset(kr, 0, sizeof(*kr));
    return lc_check_group(s, idx, (int)m, steps, budget, kr);
}

enum lc_verdict lincheck_check(const struct lc_op *ops, size_t n,
                               uint64_t budget, struct lc_report *report)
{
    struct lc_report scratch;
    struct lc_report *r = report ? report : &scratch;
    memset(r, 0, sizeof(*r));
    if (budget == 0)
        budget = LC_DEFAULT_BUDGET;
    size_t *idx = malloc(sizeof(size_t) * (n ? n : 1));
    if (!idx)
        return r->verdict = LC_UNDECIDED;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (lc_relevant(&ops[i]))
            idx[m++] = i;
    qsort_r(idx, m, sizeof(size_t), lc_idx_cmp, (void *)ops);
    enum lc_verdict worst = LC_LINEARIZABLE;
    struct lc_search s = {.ops = ops};
    for (size_t lo = 0; lo < m;) {
        size_t hi = lo;
        while (hi < m && ops[idx[hi]].key == ops[idx[lo]].key)
            hi++;
        struct lc_report kr = {0};
        enum lc_verdict v =
            lc_check_key(&s, idx + lo, hi - lo, &r->steps, budget, &kr);
        if (v != LC_LINEARIZABLE && worst != LC_NOT_LINEARIZABLE) {
            worst = v;
            r->bad_key = ops[idx[lo]].key;
            r->bad_op = kr.bad_op;
            r->deepest = kr.deepest;
            r->key_ops = hi - lo;
        }
        lo = hi;
    }
    free(idx);
    r->verdict = worst;
    return worst;
}
