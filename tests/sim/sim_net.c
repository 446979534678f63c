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

static void trace_msg(struct sim_world *w, const struct raft_msg *m)
{
    char detail[160] = "";
    switch (m->type) {
    case RAFT_MSG_APPEND:
        snprintf(detail, sizeof(detail), " prev %llu/%llu n %u commit %llu",
                 (unsigned long long)m->append.prev_index,
                 (unsigned long long)m->append.prev_term, m->append.n_entries,
                 (unsigned long long)m->append.commit);
        break;
    case RAFT_MSG_APPEND_RESP:
        snprintf(detail, sizeof(detail), " index %llu%s hint %llu/%llu",
                 (unsigned long long)m->append_resp.index,
                 m->append_resp.reject ? " REJECT" : "",
                 (unsigned long long)m->append_resp.hint_index,
                 (unsigned long long)m->append_resp.hint_term);
        break;
    case RAFT_MSG_VOTE:
        snprintf(detail, sizeof(detail), "%s%s last %llu/%llu",
                 m->vote.pre ? " pre" : "", m->vote.transfer ? " transfer" : "",
                 (unsigned long long)m->vote.last_index,
                 (unsigned long long)m->vote.last_term);
        break;
    case RAFT_MSG_VOTE_RESP:
        snprintf(detail, sizeof(detail), "%s %s", m->vote_resp.pre ? " pre" : "",
                 m->vote_resp.granted ? "granted" : "denied");
        break;
    case RAFT_MSG_SNAPSHOT:
        snprintf(detail, sizeof(detail), " %llu/%llu off %llu len %u%s",
                 (unsigned long long)m->snapshot.meta.index,
                 (unsigned long long)m->snapshot.meta.term,
                 (unsigned long long)m->snapshot.offset, m->snapshot.len,
                 m->snapshot.last ? " last" : "");
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        snprintf(detail, sizeof(detail), " %llu next %llu%s%s",
                 (unsigned long long)m->snapshot_resp.index,
                 (unsigned long long)m->snapshot_resp.next_offset,
                 m->snapshot_resp.done ? " DONE" : "",
                 m->snapshot_resp.reject ? " REJECT" : "");
        break;
    default:
        break;
    }
    sim_trace(w, "deliver %s %llu->%llu term %llu%s", raft_msg_type_name(m->type),
              (unsigned long long)m->from, (unsigned long long)m->to,
              (unsigned long long)m->term, detail);
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
        trace_msg(w, &m);
    struct raft_event ev = {.type = RAFT_EVENT_RECEIVE, .msg = &m};
    sim_node_step(w, n, &ev);
    raft_msg_decoded_free(NULL, &m);
    sim_net_free(nm);
}
