/* INFO raft (and RAFT.INFO): role, leader, term, indexes, members with
 * their replication progress and link state, and the batching and fsync
 * counters that show group commit at work. Field names are the cluster
 * contract's; registered in the metrics registry by server.c so cmd needs
 * no arrow to repl. */
#include "repl/repl_internal.h"

#include <inttypes.h>

#include "err.h"
#include "metrics/metrics.h"

static const char *role_text(uint8_t role)
{
    switch (role) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_PRECANDIDATE:
        return "precandidate";
    default:
        return "follower";
    }
}

static void peer_line(struct metrics_buf *out, const struct repl *r,
                      int n, const struct raft_server *s)
{
    const struct repl_member *m = repl_member(r, s->id);
    uint64_t match = 0, next = 0;
    bool leader = raft_progress(r->raft, s->id, &match, &next);
    struct peer_status st = {0};
    bool connected = r->bus && peer_get_status(r->bus, s->id, &st) == 0 &&
                     st.authenticated && !st.blocked;
    uint64_t last = raft_last_index(r->raft);
    metrics_buf_printf(out,
                       "raft_peer%d:id=%" PRIu64 ",addr=%s:%d,role=%s,"
                       "match=%" PRIu64 ",lag=%" PRIu64 ",connected=%d\r\n",
                       n, s->id, m ? m->host : "", m ? m->port : 0,
                       s->role == RAFT_VOTER ? "voter" : "learner", match,
                       leader && last > match ? last - match : 0,
                       connected ? 1 : 0);
}

void repl_info_section(struct metrics_buf *out, void *data)
{
    struct repl *r = data;
    const struct raft_config *c = raft_config(r->raft);
    const char *host = "";
    int port = 0;
    bool known = repl_leader_addr(r, &host, &port);
    uint32_t voters = raft_config_voters(c);
    struct wal_stats ws;
    wal_get_stats(r->wal, &ws);
    struct arena_stats as;
    arena_stats(r->log_arena, &as);
    metrics_buf_printf(out,
        "raft_node_id:%" PRIu64 "\r\nraft_role:%s\r\n"
        "raft_leader_id:%" PRIu64 "\r\n",
        r->id, r->failed ? "failed" : role_text(raft_role(r->raft)),
        repl_leader_id(r));
    if (known)
        metrics_buf_printf(out, "raft_leader_addr:%s:%d\r\n", host, port);
    else
        metrics_buf_printf(out, "raft_leader_addr:\r\n");
    metrics_buf_printf(out,
        "raft_term:%" PRIu64 "\r\nraft_commit_index:%" PRIu64 "\r\n"
        "raft_applied_index:%" PRIu64 "\r\nraft_last_index:%" PRIu64 "\r\n"
        "raft_snapshot_index:%" PRIu64 "\r\n"
        "raft_snapshot_size:%" PRIu64 "\r\n"
        "raft_snapshot_in_progress:%d\r\n"
        "raft_log_bytes_since_snapshot:%" PRIu64 "\r\n"
        "raft_log_memory_mapped:%zu\r\nraft_log_memory_cached:%zu\r\n"
        "raft_num_nodes:%u\r\nraft_num_voters:%u\r\n",
        raft_term(r->raft), raft_commit_index(r->raft), r->applied,
        raft_last_index(r->raft), raft_snapshot_index(r->raft), r->snap_size,
        r->snapshot_running ? 1 : 0, r->applied_bytes - r->snap_bytes_mark,
        as.mapped, as.cached, c->n, voters);
    int n = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->servers[i].id != r->id)
            peer_line(out, r, n++, &c->servers[i]);
    double avg = r->stats.proposals
                     ? (double)r->stats.proposed / (double)r->stats.proposals
                     : 0.0;
    metrics_buf_printf(out,
        "raft_fsyncs:%" PRIu64 "\r\nraft_batches:%" PRIu64 "\r\n"
        "raft_entries:%" PRIu64 "\r\nraft_avg_batch_entries:%.2f\r\n"
        "raft_write_timeouts:%" PRIu64 "\r\nraft_reads:%" PRIu64 "\r\n"
        "raft_send_errors:%" PRIu64 "\r\nraft_leader_gone_reports:%" PRIu64
        "\r\nraft_wal_backend:%s\r\nraft_wal_status:%s\r\n",
        ws.fsyncs, r->stats.proposals, r->stats.proposed, avg,
        r->stats.write_timeouts, r->stats.reads, r->stats.send_errors,
        r->stats.leader_gone,
        wal_backend_name(r->wal),
        r->failed ? err_str(r->failed) : "ok");
}
