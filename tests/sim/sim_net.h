/* The simulated network between raft nodes: every message is encoded with
 * the real codec, delayed, possibly lost, duplicated or reordered, dropped
 * across partitions (a cut is one-way, so partitions can be asymmetric), and
 * decoded again on delivery, so the codec is exercised on every step. */
#ifndef RAFTCACHE_SIM_NET_H
#define RAFTCACHE_SIM_NET_H

#include "sim/sim.h"

struct sim_netmsg {
    struct raft_buf rb; /* owner of the decoded entries on delivery */
    uint64_t from, to;
    uint32_t len;
    bool lost;          /* still in the sender's buffers when it crashed */
    uint8_t data[];
};

void sim_net_send(struct sim_world *w, struct sim_node *from,
                  const struct raft_msg *m);
void sim_net_free(struct sim_netmsg *m);

/* sim_node.c helpers the network and the clients use. */
bool sim_node_snapshot_chunk(struct sim_node *n, struct raft_msg *m);
int sim_node_request(struct sim_world *w, struct sim_node *n, int client,
                     uint64_t opid);
void sim_node_forget(struct sim_node *n, int client, uint64_t opid);

#endif
