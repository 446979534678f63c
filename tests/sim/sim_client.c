/* The client workload: a few clients, each with one operation in flight
 * (read, write or compare-and-set on one of SIM_KEYS keys), recorded in the
 * history at invocation and completion. A definite failure ("not leader",
 * a proposal overwritten by another term) is retried on another node as
 * the same operation; a timeout ends the operation as "unknown", since a
 * write may still commit later. Written values are unique, so every read
 * names the write it saw. */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_net.h"

#define CLIENT_TIMEOUT_MS 400

static uint64_t hist_add(struct sim_world *w, const struct lc_op *op)
{
    struct sim_history *h = &w->hist;
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 256;
        h->ops = realloc(h->ops, h->cap * sizeof(*h->ops));
        if (!h->ops)
            abort();
    }
    h->ops[h->n] = *op;
    h->ops[h->n].invoke = ++h->clock;
    return h->n++;
}

static bool node_usable(struct sim_world *w, uint64_t id)
{
    return id > 0 && id < SIM_MAX_NODES && w->nodes[id].state != SIM_NODE_UNUSED;
}

static uint64_t random_node(struct sim_world *w)
{
    for (int tries = 0; tries < 64; tries++) {
        uint64_t id = 1 + sim_rng_below(&w->rng, w->max_id);
        if (node_usable(w, id) && w->nodes[id].state == SIM_NODE_UP)
            return id;
    }
    return 1;
}

static void client_send(struct sim_world *w, struct sim_client *c)
{
    struct lc_op *op = &w->hist.ops[c->opid];
    uint64_t target = c->target;
    /* Reads sometimes go to any node: followers serve them via ReadIndex. */
    if (op->kind == LC_READ && sim_rng_chance(&w->rng, 250))
        target = random_node(w);
    uint32_t attempt = ++c->attempt;
    struct sim_node *n = node_usable(w, target) ? &w->nodes[target] : NULL;
    if (!n || n->state != SIM_NODE_UP) {
        sim_client_reply(w, c->id, c->opid, LC_FAIL, 0, 0);
        return;
    }
    int rv = sim_node_request(w, n, c->id, c->opid);
    if (rv == 0 || !c->busy || c->attempt != attempt)
        return;
    sim_node_forget(n, c->id, c->opid);
    sim_client_reply(w, c->id, c->opid, LC_FAIL, 0, raft_leader(n->raft));
}

static int64_t recent_value(struct sim_world *w, uint64_t key)
{
    for (size_t i = w->hist.n; i-- > 0;) {
        const struct lc_op *op = &w->hist.ops[i];
        if (op->key != key || op->result != LC_OK)
            continue;
        if (op->kind == LC_READ && op->complete)
            return op->out;
        if (op->kind == LC_WRITE && op->complete)
            return op->arg;
    }
    return LC_NIL;
}

static void client_new_op(struct sim_world *w, struct sim_client *c)
{
    struct lc_op op = {.client = c->id, .result = LC_OK};
    uint64_t r = sim_rng_below(&w->rng, 100);
    op.key = sim_rng_below(&w->rng, SIM_KEYS);
    if (c->liveness || (r >= 40 && r < 80)) {
        op.kind = LC_WRITE;
        op.arg = ++w->next_value;
    } else if (r < 40) {
        op.kind = LC_READ;
    } else {
        op.kind = LC_CAS;
        op.arg = recent_value(w, op.key);
        op.arg2 = ++w->next_value;
    }
    op.complete = 0;
    c->opid = hist_add(w, &op);
    w->hist.ops[c->opid].result = LC_UNKNOWN; /* until it completes */
    c->busy = true;
    c->attempt = 0;
    c->deadline = w->now + CLIENT_TIMEOUT_MS;
    sim_schedule(w, c->deadline, SIM_EV_CLIENT_TIMEOUT, (uint64_t)c->id,
                 c->opid, NULL);
    sim_trace(w, "client %d invokes op %llu: %s key %llu",
              c->id, (unsigned long long)c->opid,
              op.kind == LC_READ ? "read" : op.kind == LC_WRITE ? "write" : "cas",
              (unsigned long long)op.key);
    client_send(w, c);
}

/* SIM_EV_CLIENT: arg 0 starts a new op, arg opid+1 retries that op. */
void sim_client_wake(struct sim_world *w, int id, uint64_t arg)
{
    struct sim_client *c = &w->clients[id];
    if (arg != 0) {
        if (c->busy && c->opid + 1 == arg)
            client_send(w, c);
        return;
    }
    if (c->busy)
        return;
    if (w->stop_clients && !c->liveness)
        return;
    client_new_op(w, c);
}

static void client_next(struct sim_world *w, struct sim_client *c)
{
    c->busy = false;
    if (c->liveness)
        return;
    sim_schedule(w, w->now + sim_rng_range(&w->rng, 0, 10), SIM_EV_CLIENT,
                 (uint64_t)c->id, 0, NULL);
}

void sim_client_timeout(struct sim_world *w, int id, uint64_t opid)
{
    struct sim_client *c = &w->clients[id];
    if (!c->busy || c->opid != opid)
        return;
    struct lc_op *op = &w->hist.ops[opid];
    op->result = LC_UNKNOWN;
    op->complete = ++w->hist.clock;
    for (uint64_t i = 1; i <= w->max_id; i++)
        if (w->nodes[i].state == SIM_NODE_UP)
            sim_node_forget(&w->nodes[i], id, opid);
    sim_trace(w, "client %d op %llu times out", id, (unsigned long long)opid);
    c->target = random_node(w);
    if (c->liveness) {
        /* The probe keeps trying until the run's deadline. */
        client_new_op(w, c);
        return;
    }
    client_next(w, c);
}

void sim_client_reply(struct sim_world *w, int id, uint64_t opid,
                      enum lc_result result, int64_t out, uint64_t hint)
{
    struct sim_client *c = &w->clients[id];
    if (!c->busy || c->opid != opid)
        return;
    struct lc_op *op = &w->hist.ops[opid];
    if (result == LC_FAIL) {
        c->target = node_usable(w, hint) && hint != c->target ? hint
                                                              : random_node(w);
        sim_schedule(w, w->now + sim_rng_range(&w->rng, 1, 10), SIM_EV_CLIENT,
                     (uint64_t)id, opid + 1, NULL);
        return;
    }
    op->result = LC_OK;
    op->out = op->kind == LC_WRITE ? 0 : out;
    op->complete = ++w->hist.clock;
    sim_trace(w, "client %d op %llu ok (out %lld)", id, (unsigned long long)opid,
              (long long)op->out);
    client_next(w, c);
}

void sim_client_start_liveness(struct sim_world *w)
{
    struct sim_client *c = &w->clients[w->n_clients];
    memset(c, 0, sizeof(*c));
    c->id = w->n_clients;
    c->liveness = true;
    c->target = random_node(w);
    client_new_op(w, c);
}

bool sim_client_liveness_done(struct sim_world *w)
{
    const struct sim_client *c = &w->clients[w->n_clients];
    return c->liveness && !c->busy;
}
