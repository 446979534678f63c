/* The deterministic Raft simulator: one world per seed holding 3..7 real
 * raft cores (src/raft), each with an in-memory disk that separates written
 * from synced data (the simulator's model, or the real WAL on a wal_mem
 * disk), a fake network, a drifting virtual clock, a client
 * workload recorded as a history, and the invariant checks run after every
 * step. Everything random comes from one xoshiro256** stream seeded from
 * the run's 64-bit seed, so a seed replays exactly. */
#ifndef RAFTCACHE_SIM_H
#define RAFTCACHE_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "raft/raft.h"
#include "sim/lincheck.h"

#define SIM_MAX_NODES 16   /* node ids 1..15 are slots; ids never reused */
#define SIM_KEYS 4         /* keys of the replicated register map */
#define SIM_MAX_CLIENTS 8

/* ---- randomness ---------------------------------------------------- */
struct sim_rng {
    uint64_t s[4];
};

void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
uint64_t sim_rng_range(struct sim_rng *r, uint64_t lo, uint64_t hi);
/* True with probability permille/1000. */
bool sim_rng_chance(struct sim_rng *r, uint32_t permille);

/* ---- run parameters -------------------------------------------------- */
/* MODEL: the simulator's own disk model (sim_disk's log and records).
 * WAL: the real WAL (src/wal) on a wal_mem disk per node, so crashes go
 * through its recovery path (sim_wal.c). */
enum sim_storage { SIM_STORAGE_MODEL = 0, SIM_STORAGE_WAL };

struct sim_params {
    uint64_t seed;
    int nodes;              /* initial voters: 3, 5 or 7 */
    uint64_t chaos_ms;      /* virtual time with faults */
    uint64_t settle_ms;     /* fault-free time allowed for liveness */
    bool lease;             /* clients ask for lease reads */
    bool verbose;           /* trace every event to stderr */
    bool consequences_only; /* skip the direct contract/rule checks */
    bool no_membership;     /* no membership changes (to narrow a failure) */
    bool heavy_loss;        /* link chaos: 15-45% loss, more duplicates, delay */
    enum sim_storage storage; /* where each node keeps its log */
    /* Derived from the seed (printed in the trace, not on the command). */
    uint32_t election_ms;
    uint32_t max_append_entries;
    uint32_t max_inflight;
    uint64_t snapshot_threshold;
    uint64_t snapshot_trailing;
    uint32_t chunk_bytes;
    uint32_t chunk_window; /* snapshot chunks in flight per follower */
    bool auto_promote;
    bool pre_vote;
    bool check_quorum;
    uint32_t drift_ppm;     /* bound on each node's clock rate error */
    int clients;
    uint32_t churn_permille; /* new leaders cut off / crashed at once */
    /* The survivors of a crash get RAFT_EVENT_PEER_DOWN for it 5-100 ms
     * later (a redial refused), and chaos sends some false ones. */
    bool peer_down;
};

/* ---- storage --------------------------------------------------------- */
struct sim_entry {
    uint64_t term;
    uint8_t type;
    uint32_t len;
    uint8_t *data;
};

struct sim_log {
    uint64_t first; /* index of e[0] */
    uint32_t n, cap;
    struct sim_entry *e;
};

/* One persist request from an update, kept until synced. */
struct sim_record {
    uint64_t persist_id;
    bool hard;
    uint64_t term, vote;
    uint64_t truncate_from;
    uint64_t entries_index;
    struct sim_log entries; /* first = entries_index */
};

struct sim_disk {
    /* durable */
    uint64_t term, vote;
    struct raft_snapshot_meta snap;
    uint8_t *snap_data;
    uint32_t snap_len;
    struct sim_log log;
    /* written, not yet synced, in order */
    struct sim_record *pending;
    uint32_t n_pending, cap_pending;
    uint64_t synced_id;
    bool sync_scheduled;
    uint64_t slow_until;     /* global ms: syncs are slow until then */
    /* SIM_STORAGE_WAL (sim_wal.c): the above model stays unused except
     * sync_scheduled and slow_until. */
    struct wal_mem_disk *mem;
    struct wal *wal;
    struct sim_wal_rec *wrecs; /* persist requests not yet durable */
    uint32_t n_wrecs, cap_wrecs;
    int wal_status;            /* < 0: the WAL stopped on an I/O error */
    bool fault_armed;          /* a write fault is pending on the disk */
    bool fault_crashed;        /* down because that fault stopped the WAL */
    struct wal_snapshot_recv *wrecv;
    uint64_t wrecv_index, wrecv_off;
    uint64_t crash_durable;    /* the WAL's durable index at the crash */
    uint64_t crash_term;       /* and its term: recovery must keep it */
    uint8_t *chunk_buf;        /* outgoing snapshot chunk bytes */
    uint32_t chunk_cap;
};

/* ---- nodes ----------------------------------------------------------- */
struct sim_proposal {
    uint64_t index, term;
    int client;
    uint64_t opid;
};

struct sim_read {
    uint64_t req_id;
    uint64_t index;  /* 0 until the core answered */
    int client;
    uint64_t opid;
    bool ready;
};

enum sim_node_state { SIM_NODE_UNUSED, SIM_NODE_UP, SIM_NODE_DOWN };

struct sim_node {
    uint64_t id;
    enum sim_node_state state;
    uint32_t incarnation;
    struct raft *raft;
    struct sim_disk disk;
    int64_t clock_ppm;      /* rate error of this node's clock */
    uint64_t clock_last;    /* last local time handed to the core */
    /* state machine */
    int64_t kv[SIM_KEYS];
    uint64_t applied, applied_term;
    struct raft_config applied_config;
    /* snapshot being received */
    uint64_t recv_index;
    uint8_t *recv_data;
    uint64_t recv_cap;
    /* client bookkeeping */
    struct sim_proposal *props;
    uint32_t n_props, cap_props;
    struct sim_read *reads;
    uint32_t n_reads, cap_reads;
    uint64_t next_req;
    /* invariant bookkeeping */
    uint64_t last_commit;
    uint64_t lc_term, lc_upto;  /* leader completeness verified upto */
    uint64_t churn_term;       /* term whose first commit was looked at */
    uint64_t led_term;         /* term it was leader in at the last check */
    uint64_t seen_term;        /* highest term seen in this incarnation */
    uint64_t w_term, w_vote;   /* hard state last written to the disk */
    bool removed;              /* no longer in the cluster's config */
};

/* ---- clients and history --------------------------------------------- */
struct sim_client {
    int id;
    bool busy;
    uint64_t opid;          /* current op (index into history) */
    uint64_t target;        /* node id it talks to */
    uint64_t deadline;      /* global ms */
    uint32_t attempt;
    bool liveness;          /* the final-phase probe client */
};

struct sim_history {
    struct lc_op *ops;
    size_t n, cap;
    uint64_t clock;         /* event counter giving distinct times */
};

/* ---- events ---------------------------------------------------------- */
enum sim_ev_type {
    SIM_EV_TICK = 1,
    SIM_EV_DELIVER,
    SIM_EV_DISK,
    SIM_EV_CLIENT,
    SIM_EV_CLIENT_TIMEOUT,
    SIM_EV_CHAOS,
    SIM_EV_RESTART,
    SIM_EV_HEAL,
    SIM_EV_CHURN,      /* cut off or crash a leader just elected */
    SIM_EV_REJOIN,     /* undo a churn cut */
    SIM_EV_PEER_DOWN,  /* node is told that peer arg is gone */
};

struct sim_netmsg;

struct sim_event {
    uint64_t time, seq;
    uint8_t type;
    uint64_t node;
    uint32_t incarnation;
    uint64_t arg;
    struct sim_netmsg *msg;
};

/* ---- invariant tables ------------------------------------------------ */
struct sim_committed {
    uint64_t term;
    uint64_t hash;
    uint64_t digest;     /* keyspace digest after applying it */
    uint64_t bound_term; /* it was committed in a term <= this */
};

struct sim_lm_slot {     /* (index, term) -> entry identity, Log Matching */
    uint64_t index, term, hash, prev_term;
};

struct sim_world {
    struct sim_params p;
    struct sim_rng rng;
    struct sim_rng rng_down; /* PEER_DOWN draws: the rest stays as it was */
    uint64_t now;
    uint64_t steps;
    /* event heap */
    struct sim_event *heap;
    uint32_t n_heap, cap_heap;
    uint64_t ev_seq;
    /* nodes: index = id */
    struct sim_node nodes[SIM_MAX_NODES];
    uint64_t max_id;
    /* network */
    bool cut[SIM_MAX_NODES][SIM_MAX_NODES]; /* cut[a][b]: a -> b dropped */
    uint32_t loss_permille, dup_permille;
    uint32_t delay_min, delay_max;
    /* clients */
    struct sim_client clients[SIM_MAX_CLIENTS + 1];
    int n_clients;
    struct sim_history hist;
    int64_t next_value;
    bool chaos;             /* faults still being injected */
    bool stop_clients;
    /* invariants */
    uint64_t *leaders;      /* term -> leader id */
    uint64_t n_leaders;
    struct sim_committed *committed; /* index -> first apply */
    uint64_t n_committed;   /* highest applied index anywhere */
    uint64_t cap_committed;
    uint64_t *op_index;     /* history op -> index it was applied at */
    uint64_t cap_op_index;
    struct sim_lm_slot *lm;
    uint64_t lm_cap, lm_used;
    /* result */
    bool failed;
    char why[512];
    /* stats */
    uint64_t n_msgs, n_crashes, n_changes, n_transfers, n_snapshots,
        n_installs, n_partitions, n_peer_down;
    FILE *trace;
};

/* sim_world.c */
int sim_run(const struct sim_params *p, struct sim_world *w);
void sim_world_free(struct sim_world *w);
void sim_fail(struct sim_world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_trace(struct sim_world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_schedule(struct sim_world *w, uint64_t at, uint8_t type,
                  uint64_t node, uint64_t arg, struct sim_netmsg *msg);
uint64_t sim_node_now(struct sim_world *w, struct sim_node *n);
struct sim_node *sim_leader(struct sim_world *w);
void sim_on_new_leader(struct sim_world *w, struct sim_node *n);
void sim_on_leader_commit(struct sim_world *w, struct sim_node *n);

/* sim_node.c: storage, updates, state machine */
int sim_node_start(struct sim_world *w, struct sim_node *n);
void sim_node_crash(struct sim_world *w, struct sim_node *n);
int sim_node_step(struct sim_world *w, struct sim_node *n,
                  const struct raft_event *ev);
void sim_node_sync(struct sim_world *w, struct sim_node *n, uint64_t upto);
void sim_node_deliver(struct sim_world *w, struct sim_netmsg *m);
void sim_node_free(struct sim_node *n);
void sim_disk_bootstrap(struct sim_disk *d, const struct raft_config *c);
uint64_t sim_kv_digest(const int64_t *kv);
uint64_t sim_hash_bytes(const uint8_t *p, size_t n);

/* sim_node.c helpers shared with sim_wal.c */
void sim_node_options(struct sim_world *w, struct sim_node *n,
                      struct raft_options *o);
void sim_node_reset_volatile(struct sim_node *n);
/* sim_world.c: power loss now, restart after down_ms. */
void sim_crash_node(struct sim_world *w, struct sim_node *n, uint64_t down_ms);

/* sim_wal.c: the node's storage on the real WAL over a wal_mem disk. */
struct sim_wal_rec {
    uint64_t persist_id;
    uint64_t target;   /* durable once the WAL is durable up to it */
    bool needs_idle;   /* a truncation with no entries after it: durable
                          once the WAL has nothing queued or in flight */
};
bool sim_wal_used(const struct sim_node *n);
void sim_wal_bootstrap(struct sim_world *w, struct sim_node *n,
                       const struct raft_config *c);
int sim_wal_start(struct sim_world *w, struct sim_node *n);
void sim_wal_crash(struct sim_world *w, struct sim_node *n);
void sim_wal_free(struct sim_node *n);
void sim_wal_persist(struct sim_world *w, struct sim_node *n,
                     const struct raft_update *u);
/* The disk event: reaps (fsyncs) and returns the newest durable persist
 * id, 0 if none; a failed WAL crashes the node. */
uint64_t sim_wal_sync(struct sim_world *w, struct sim_node *n);
bool sim_wal_durable_on(struct sim_node *n, uint64_t index, uint64_t term);
void sim_wal_chunks(struct sim_world *w, struct sim_node *n,
                    const struct raft_update *u);
/* Installs the received snapshot and loads the state machine from it;
 * *covered: the newest persist id it made durable. False on failure. */
bool sim_wal_install(struct sim_world *w, struct sim_node *n,
                     const struct raft_snapshot_meta *m, uint64_t *covered);
/* Writes a snapshot of the applied state; false when it could not. */
bool sim_wal_snapshot(struct sim_world *w, struct sim_node *n,
                      struct raft_snapshot_meta *out);
bool sim_wal_chunk(struct sim_node *n, struct raft_msg *m);
/* Arms a torn or failed write, or a failed fsync, on the node's disk
 * (chaos): the WAL stops and the node crashes. */
void sim_wal_arm_fault(struct sim_world *w, struct sim_node *n);
uint64_t sim_wal_term(const struct sim_node *n);

/* sim_client.c: workload and history */
void sim_client_wake(struct sim_world *w, int c, uint64_t arg);
void sim_client_timeout(struct sim_world *w, int c, uint64_t opid);
/* A node reports the outcome of a client's op; result LC_FAIL means the
 * attempt definitely did not take effect and the client retries. */
void sim_client_reply(struct sim_world *w, int c, uint64_t opid,
                      enum lc_result result, int64_t out, uint64_t hint);
void sim_client_start_liveness(struct sim_world *w);
bool sim_client_liveness_done(struct sim_world *w);

/* Operation payload carried in NORMAL entries. */
struct sim_op {
    uint8_t kind;    /* enum lc_kind */
    uint8_t key;
    uint32_t client;
    uint64_t opid;
    int64_t arg, arg2;
};
#define SIM_OP_BYTES 30
void sim_op_encode(const struct sim_op *op, uint8_t *buf);
bool sim_op_decode(const uint8_t *buf, size_t len, struct sim_op *op);

/* sim_check.c: invariants */
void sim_check_node(struct sim_world *w, struct sim_node *n);
void sim_check_persist(struct sim_world *w, struct sim_node *n,
                       const struct raft_update *u);
void sim_check_apply(struct sim_world *w, struct sim_node *n, uint64_t index,
                     const struct raft_entry *e);
void sim_check_final(struct sim_world *w);
void sim_check_op_once(struct sim_world *w, struct sim_node *n, uint64_t index,
                       uint64_t opid);

#endif
