/* The simulated network: encode at send, apply the partition and the link
 * faults, schedule delivery after a random delay (which reorders), decode
 * at delivery and step the receiving core. */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_net.h"

static void netmsg_free_cb(struct raft_buf *b)
{
    free(b);
}

void sim_net_free(struct sim_netmsg *m)
{
    raft_buf_release(&m->rb);
}

static struct sim_netmsg *netmsg_copy(const struct sim_netmsg *m)
{
    struct sim_netmsg *c = malloc(sizeof(*c) + m->len);
    if (!c)
        abort();
    memcpy(c, m, sizeof(*c) + m->len);
    c->rb = (struct raft_buf){.refs = 1, .free_cb = netmsg_free_cb};
    return c;
}

static uint64_t net_delay(struct sim_world *w)
{
    uint64_t d = sim_rng_range(&w->rng, w->delay_min, w->delay_max);
    /* A few stragglers arrive long after their successors. */
    if (sim_rng_chance(&w->rng, 5))
        d += sim_rng_range(&w->rng, 20, 200);
    return d;
}

void sim_net_send(struct sim_world *w, struct sim_node *from,
                  const struct raft_msg *m)
{
    struct raft_msg copy = *m;
    if (m->to == 0 || m->to >= SIM_MAX_NODES || m->from != from->id) {
        sim_fail(w, "node %llu sends %s from %llu to bad id %llu",
                 (unsigned long long)from->id, raft_msg_type_name(m->type),
                 (unsigned long long)m->from, (unsigned long long)m->to);
        return;
    }
    if (m->type == RAFT_MSG_SNAPSHOT && m->snapshot.data == NULL &&
        m->snapshot.len > 0 && !sim_node_snapshot_chunk(from, &copy))
        return;
    size_t len = raft_msg_encoded_size(&copy);
    struct sim_netmsg *nm = malloc(sizeof(*nm) + len);
    if (!nm)
        abort();
    int rv = raft_msg_encode(&copy, nm->data, len);
    if (rv != (int)len) {
        free(nm);
        sim_fail(w, "encode of %s returned %d for %zu bytes",
                 raft_msg_type_name(m->type), rv, len);
        return;
    }
    nm->rb = (struct raft_buf){.refs = 1, .free_cb = netmsg_free_cb};
    nm->from = m->from;
    nm->to = m->to;
    nm->len = (uint32_t)len;
    nm->lost = false;
    w->n_msgs++;
    if (w->cut[m->from][m->to] || sim_rng_chance(&w->rng, w->loss_permille)) {
        sim_net_free(nm);
        return;
    }
    if (sim_rng_chance(&w->rng, w->dup_permille))
        sim_schedule(w, w->now + net_delay(w), SIM_EV_DELIVER, m->to, 0,
                     netmsg_copy(nm));
    sim_schedule(w, w->now + net_delay(w), SIM_EV_DELIVER, m->to, 0, nm);
}

void sim_node_deliver(struct sim_world *w, struct sim_netmsg *nm)
{
    struct sim_node *n = &w->nodes[nm->to];
    if (n->state != SIM_NODE_UP || nm->lost) {
        sim_net_free(nm);
        return;
    }
    struct raft_msg m;
    int rv = raft_msg_decode(NULL, nm->data, nm->len, &nm->rb, &m);
    if (rv != (int)nm->len) {
        sim_fail(w, "decode of a %u-byte frame returned %d", nm->len, rv);
        sim_net_free(nm);
        return;
    }
    if (w->trace)
        sim_trace(w, "deliver %s %llu->%llu term %llu",
                  raft_msg_type_name(m.type), (unsigned long long)m.from,
                  (unsigned long long)m.to, (unsigned long long)m.term);
    struct raft_event ev = {.type = RAFT_EVENT_RECEIVE, .msg = &m};
    sim_node_step(w, n, &ev);
    raft_msg_decoded_free(NULL, &m);
    sim_net_free(nm);
}
