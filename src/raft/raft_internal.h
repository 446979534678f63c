/* Internals shared by the files of the raft room: the node struct, the
 * per-follower progress, and the raft__ helpers each file exports to the
 * others. Nothing here is part of the public interface (raft.h); the
 * simulator and the server see only accessors. */
#ifndef RAFTCACHE_RAFT_INTERNAL_H
#define RAFTCACHE_RAFT_INTERNAL_H

#include "raft/raft.h"

/* Bug-injection switches (tests/sim builds variants with -D...): known
 * safety bugs the simulator's checks must catch. */
#ifdef RAFT_BUG_LEASE_NO_CHECKQUORUM
#define RAFT__BUG_LEASE 1
#else
#define RAFT__BUG_LEASE 0
#endif

/* Heartbeat rounds whose send time is remembered for lease computation. */
#define RAFT__SEQ_RING 64

enum raft__pr_state {
    RAFT__PROBE = 0, /* one append at a time until the match is found */
    RAFT__REPLICATE = 1, /* optimistic pipelining within the window */
    RAFT__SNAPSHOT = 2, /* an InstallSnapshot transfer is under way */
};

struct raft__inflight {
    uint64_t last; /* last index carried by the APPEND */
    uint64_t bytes; /* entry bytes it carried */
};

/* What the leader knows of one member (itself included). */
struct raft__progress {
    uint64_t id;
    bool voter;
    uint64_t match;
    uint64_t next;
    uint8_t state;
    bool probe_sent;
    bool active; /* heard from since the last CheckQuorum */
    struct raft__inflight *infl; /* ring of max_inflight_msgs */
    uint32_t infl_head;
    uint32_t infl_n;
    uint64_t infl_bytes;
    uint64_t acked_seq; /* highest heartbeat seq answered */
    /* InstallSnapshot transfer (raft_snapshot.c): chunks from snap_acked
     * (the follower has every byte before it) up to snap_next are in
     * flight, at most snapshot_inflight_chunks of them. */
    uint64_t snap_index; /* snapshot being sent */
    uint64_t snap_next; /* offset of the next chunk to send */
    uint64_t snap_acked; /* highest next_offset the follower reported */
    uint64_t snap_rewound; /* last offset a gap answer rewound to */
    uint64_t snap_at; /* start, last progress or last timeout resend */
    uint32_t snap_stalls; /* timeouts in a row without progress */
    bool snap_last_sent; /* the chunk ending the snapshot is in flight */
};

/* A read waiting for its heartbeat round (leader) or for the leader's
 * answer (follower). from 0 means a local request. */
struct raft__read {
    uint64_t req_id;
    uint64_t from;
    uint64_t index;
    uint64_t seq; /* 0 until the read joins a round */
    uint64_t at; /* when it was asked (follower timeout) */
};

/* A message that may only go out once persist id `tag` is durable. */
struct raft__deferred {
    uint64_t tag;
    struct raft_msg msg;
};

/* An issued persist id and the last log index it makes durable. */
struct raft__pending {
    uint64_t id;
    uint64_t last;
};

struct raft {
    struct raft_options opts;
    struct raft_alloc alloc;
    uint64_t id;
    uint64_t rng;

    /* hard state and role */
    uint64_t term;
    uint64_t vote;
    uint64_t leader;
    uint8_t role;

    /* the in-memory log: indexes start .. start + n - 1 live at
     * ents[off .. off + n - 1]; snap_* describes the snapshot below */
    struct raft_entry *ents;
    uint64_t cap;
    uint64_t off;
    uint64_t n;
    uint64_t start;
    struct raft_snapshot_meta snap;

    uint64_t commit;
    uint64_t applied; /* handed to the caller to apply */
    uint64_t persisted; /* durable prefix of the current log */

    struct raft_config config; /* latest appended */
    uint64_t config_index; /* its index (snapshot index if from there) */

    /* persistence bookkeeping */
    uint64_t persist_seq; /* last id issued */
    uint64_t persist_acked; /* last id reported durable */
    struct raft__pending *pend;
    uint32_t pend_n, pend_cap;
    bool hs_dirty;
    uint64_t append_from; /* first index to persist this step, 0 = none */
    uint64_t trunc_from; /* truncation this step, 0 = none */
    struct raft__deferred *defer;
    uint32_t defer_n, defer_cap;

    /* timers (milliseconds, caller's monotonic clock) */
    uint64_t now;
    bool started;
    uint64_t election_deadline;
    uint64_t heartbeat_due;
    uint64_t quorum_due;
    uint64_t heard_at; /* last message from the current leader */
    uint64_t vote_hold_until; /* after a restart, with leases: no votes */
    bool leader_gone;         /* RAFT_EVENT_PEER_DOWN of our leader */
    bool fresh;               /* raft_init.fresh */
    bool fresh_settled;       /* a leader's message came: floor is final */
    uint64_t fresh_floor;     /* no vote up to this term (fresh) */

    /* elections */
    uint64_t granted[RAFT_MAX_SERVERS];
    uint32_t n_granted;
    uint64_t refused[RAFT_MAX_SERVERS];
    uint32_t n_refused;
    uint64_t self_vote_tag; /* candidate: own vote counts once durable */
    bool self_voted;

    /* leader */
    struct raft__progress prs[RAFT_MAX_SERVERS];
    uint32_t n_prs;
    uint64_t transfer_to;
    uint64_t transfer_deadline;
    bool lease_off; /* TimeoutNow sent: no lease reads this term */
    bool stepping_down; /* removed leader: hand over once committed */

    /* reads */
    struct raft__read *rq;
    uint32_t rq_n, rq_cap;
    uint64_t hb_seq;
    uint64_t seq_sent_at[RAFT__SEQ_RING];

    /* follower side of InstallSnapshot */
    struct raft_snapshot_meta recv_meta;
    uint64_t recv_offset;
    uint64_t recv_from; /* the leader sending it ... */
    uint64_t recv_term; /* ... and its term: one transfer, one source */
    bool recv_active;
    bool installing;
    uint64_t install_from;

    /* the update under construction */
    struct raft_msg *msgs;
    uint32_t msgs_n, msgs_cap;
    struct raft_read *reads;
    uint32_t reads_n, reads_cap;
    struct raft_chunk *chunks;
    uint32_t chunks_n, chunks_cap;
    struct raft_snapshot_meta chunks_meta;
    bool install_out;
    bool config_dirty;
    uint64_t proposed_index;
    uint64_t proposed_term;
    bool nomem;
};

/* raft.c: memory, output, persistence, roles */
void *raft__alloc(struct raft *r, size_t size);
void raft__free(struct raft *r, void *p);
void *raft__realloc(struct raft *r, void *p, size_t size);
int raft__grow(struct raft *r, void **arr, uint32_t *cap, uint32_t need,
               size_t elem);
struct raft_msg *raft__msg(struct raft *r, uint8_t type, uint64_t to);
void raft__send_durable(struct raft *r, const struct raft_msg *m);
void raft__read_out(struct raft *r, uint64_t req_id, uint64_t index,
                    int status);
uint64_t raft__random(struct raft *r);
void raft__reset_election_timer(struct raft *r);
void raft__heard_leader(struct raft *r);
bool raft__leases_on(const struct raft *r);
void raft__become_follower(struct raft *r, uint64_t term, uint64_t leader);
void raft__set_term(struct raft *r, uint64_t term);
bool raft__hears_leader(const struct raft *r);
uint32_t raft__n_voters(const struct raft *r);
bool raft__is_voter(const struct raft *r, uint64_t id);

/* raft_log.c */
uint64_t raft__last_index(const struct raft *r);
uint64_t raft__last_term(const struct raft *r);
uint64_t raft__term_at(const struct raft *r, uint64_t index);
struct raft_entry *raft__entry(const struct raft *r, uint64_t index);
int raft__log_append(struct raft *r, const struct raft_entry *e);
int raft__log_reserve(struct raft *r, uint64_t more);
void raft__log_truncate(struct raft *r, uint64_t from);
void raft__log_compact(struct raft *r, uint64_t upto);
void raft__log_reset(struct raft *r, uint64_t index, uint64_t term);
uint64_t raft__find_conflict_by_term(const struct raft *r, uint64_t index,
                                     uint64_t term);
bool raft__log_up_to_date(const struct raft *r, uint64_t last_index,
                          uint64_t last_term);

/* raft_election.c */
void raft__tick_election(struct raft *r);
void raft__campaign(struct raft *r, bool pre, bool transfer);
void raft__recv_vote(struct raft *r, const struct raft_msg *m);
void raft__recv_vote_resp(struct raft *r, const struct raft_msg *m);
void raft__recv_timeout_now(struct raft *r, const struct raft_msg *m);
void raft__self_vote_durable(struct raft *r);
void raft__become_leader(struct raft *r);

/* raft_replication.c */
int raft__propose(struct raft *r, const struct raft_entry *e, uint32_t n);
int raft__append_own(struct raft *r, uint8_t type, const uint8_t *data,
                     uint32_t len, struct raft_buf *buf);
void raft__send_append(struct raft *r, struct raft__progress *pr,
                       bool allow_empty);
void raft__broadcast_append(struct raft *r);
void raft__broadcast_heartbeat(struct raft *r);
void raft__recv_append(struct raft *r, const struct raft_msg *m);
void raft__recv_append_resp(struct raft *r, const struct raft_msg *m);
void raft__recv_heartbeat(struct raft *r, const struct raft_msg *m);
void raft__recv_heartbeat_resp(struct raft *r, const struct raft_msg *m);
void raft__maybe_commit(struct raft *r);
/* The n-th largest (n = majority) of a per-voter value; 0 with no voters. */
uint64_t raft__majority_value(struct raft *r, uint64_t self_value,
                              uint64_t (*value)(struct raft *r,
                                                struct raft__progress *pr));
void raft__tick_leader(struct raft *r);
struct raft__progress *raft__progress(struct raft *r, uint64_t id);
/* The progress of the follower answering with m, marked active, when we
 * lead and know it; NULL otherwise (the answer is dropped). */
struct raft__progress *raft__answer_progress(struct raft *r,
                                             const struct raft_msg *m);
void raft__progress_reset(struct raft *r, struct raft__progress *pr);
void raft__inflight_free_to(struct raft *r, struct raft__progress *pr,
                            uint64_t index);
int raft__transfer(struct raft *r, uint64_t to);
void raft__transfer_check(struct raft *r, struct raft__progress *pr);

/* raft_read.c */
int raft__read(struct raft *r, uint64_t req_id, bool lease, uint64_t from);
void raft__read_rounds(struct raft *r);
void raft__read_confirm(struct raft *r);
void raft__reads_fail(struct raft *r, int status);
void raft__recv_read_index(struct raft *r, const struct raft_msg *m);
void raft__recv_read_index_resp(struct raft *r, const struct raft_msg *m);
void raft__tick_reads(struct raft *r);

/* raft_membership.c */
int raft__change(struct raft *r, uint8_t op, uint64_t id);
void raft__config_appended(struct raft *r, uint64_t index,
                           const struct raft_config *c);
void raft__config_rescan(struct raft *r);
void raft__progress_sync(struct raft *r);
void raft__maybe_promote(struct raft *r, struct raft__progress *pr);
void raft__removed_leader_check(struct raft *r);

/* raft_snapshot.c */
int raft__snapshot_taken(struct raft *r, const struct raft_snapshot_meta *m);
int raft__snapshot_installed(struct raft *r, uint64_t index);
void raft__send_snapshot(struct raft *r, struct raft__progress *pr);
void raft__recv_snapshot(struct raft *r, const struct raft_msg *m);
void raft__recv_snapshot_resp(struct raft *r, const struct raft_msg *m);
void raft__tick_snapshots(struct raft *r);
bool raft__snapshot_due(const struct raft *r);

#endif
