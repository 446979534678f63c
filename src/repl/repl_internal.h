/* Inside the repl room: the group state shared by repl.c (open, step,
 * carry out, bus and WAL glue), repl_batch.c (proposals and reads),
 * repl_apply.c (committed entries, parked requests, deadlines),
 * repl_snapshot.c (restart, snapshots) and repl_info.c (INFO raft). */
#ifndef RAFTCACHE_REPL_INTERNAL_H
#define RAFTCACHE_REPL_INTERNAL_H

#include "repl/repl.h"

#include "mem/arena.h"
#include "net/loop.h"
#include "raft/raft.h"
#include "transport/transport.h"
#include "wal/wal.h"

/* A byte arena shared by entries: a proposal batch, the log read back at
 * start-up. bytes may move while it is being filled; entries point into
 * it only once it is complete. Freed when the last reference goes. */
struct repl_blob {
    struct raft_buf rb;
    uint8_t *bytes;
    size_t len, cap;
};

/* Log bytes the core keeps until a snapshot releases them (a follower's
 * received APPEND, a leader's proposed batch), in the log arena. */
struct repl_logbuf {
    struct raft_buf rb;
    uint8_t data[];
};

/* A parked write: its entry's place and who waits for it. owner NULL: no
 * one any more (left, or timed out); the entry still applies. */
struct repl_wait {
    uint64_t index;
    uint64_t term;
    void *owner;
    int64_t deadline;
};

/* A parked read: req_id of its READ event; index once answered. */
struct repl_read {
    void *owner;
    uint64_t req_id;
    uint64_t index;
    int64_t deadline;
    bool answered;
};

/* An update whose persistence is pending: durable once the WAL's durable
 * index reaches `index`. */
struct repl_persist {
    uint64_t id;
    uint64_t index;
};

struct repl {
    struct repl_config cfg;
    struct raft *raft;
    struct wal *wal;
    struct peer_transport *bus;
    struct loop *loop;
    struct loop_timer *tick;
    /* A WAL whose flush blocks is flushed by the last before-sleep hook;
     * kick makes the loop run again at once when that woke clients. */
    bool flush_last;
    struct loop_timer *kick;
    uint64_t wakes;           /* parked requests completed so far */
    uint64_t id;
    bool stepping;
    uint64_t gone_term; /* term whose leader was last reported gone */
    int failed;               /* the WAL error (< 0) that made this node
                               * leave the group; 0: none */
    /* the open batch */
    struct repl_blob *batch;  /* the open batch; reused, never logged */
    struct arena *log_arena;  /* every repl_logbuf */
    void **batch_owners;
    uint32_t *batch_offs;
    uint32_t batch_n, batch_cap;
    int64_t batch_opened;     /* when its first entry came (mono ms) */
    /* last index of each proposed batch not yet committed (leader) */
    uint64_t inflight[REPL_PIPELINE_MAX];
    uint32_t n_inflight;
    struct raft_entry *scratch_entries;
    struct wal_entry *scratch_wal;
    uint32_t scratch_cap;
    /* parked writes, FIFO in index order (a ring) */
    struct repl_wait *waits;
    size_t wait_head, wait_len, wait_cap;
    /* parked reads */
    struct repl_read *reads;
    size_t n_reads, reads_cap;
    uint64_t read_seq;        /* req_id of the open read batch (x2: lease) */
    bool read_open[2];
    /* pending persistence */
    struct repl_persist *persists;
    size_t persist_head, persist_len, persist_cap;
    /* results of the last step */
    uint64_t proposed_index, proposed_term;
    uint64_t applied;
    uint64_t applied_term;
    uint64_t load_floor; /* local reads wait for applied >= this */
    struct raft_config applied_config; /* in force at `applied` */
    /* members' addresses */
    struct repl_member members[RAFT_MAX_SERVERS];
    uint32_t n_members;
    /* snapshots */
    struct wal_snapshot_recv *recv;
    uint64_t recv_index;
    bool install_pending;
    uint64_t install_index;
    bool snapshot_running;
    struct raft_snapshot_meta taking;  /* the snapshot being written */
    uint64_t snap_index;               /* newest snapshot file's index */
    uint64_t snap_size;                /* and its size in bytes */
    uint64_t applied_bytes;            /* entry bytes applied since start */
    uint64_t snap_bytes_mark;          /* applied_bytes the newest covers */
    int64_t snap_saved_ms;             /* wall clock when it was saved */
    int64_t snap_started_ms;           /* wall clock the last one began */
    int64_t snap_took_ms;              /* how long it took (-1: none yet) */
    uint64_t snap_saves;               /* saved since start */
    uint64_t forks;                    /* snapshot children forked */
    int64_t fork_us;                   /* how long the last fork() took */
    uint64_t snap_rng;
    uint32_t snap_jitter_pct;          /* extra wait, see log_outgrew */
    bool snap_failed;                  /* the last attempt failed */
    /* RAFT.CLUSTER JOIN waiting to become a voter */
    void *voter_owner;
    int64_t voter_deadline;
    /* statistics */
    struct repl_stats stats;
    uint64_t last_term_seen;
};

/* repl.c */
int repl__step(struct repl *r, struct raft_event *ev);
int64_t repl__now(const struct repl *r);

/* repl_batch.c */
void repl__propose_batch(struct repl *r);
bool repl__batch_waits(struct repl *r);
void repl__step_reads(struct repl *r);
void repl__blob_free(struct raft_buf *rb);
struct repl_blob *repl__blob_new(size_t cap);
struct repl_logbuf *repl__logbuf_new(struct repl *r, size_t len);
int repl__blob_reserve(struct repl_blob *b, size_t more);

/* repl_apply.c */
void repl__apply(struct repl *r, const struct raft_update *u);
void repl__answer_reads(struct repl *r, const struct raft_update *u);
void repl__wake_reads(struct repl *r);
void repl__wake_truncated(struct repl *r, uint64_t from);
void repl__expire_waits(struct repl *r, int64_t now);
int repl__wait_push(struct repl *r, const struct repl_wait *w);
void repl__apply_meta(struct repl *r, const uint8_t *p, size_t len);
void repl__member_set(struct repl *r, const struct repl_member *m);
void repl__sync_peers(struct repl *r, const struct raft_config *c);

/* repl_snapshot.c */
int repl__restore(struct repl *r, struct raft_init *init, char *errmsg);
void repl__restore_free(struct raft_init *init);
void repl__store_chunks(struct repl *r, const struct raft_update *u);
void repl__maybe_snapshot(struct repl *r);
int repl__snapshot_now(struct repl *r);
void repl__snapshot_jitter(struct repl *r);
int repl__fill_chunk(struct repl *r, struct raft_msg *m, uint8_t **buf);
size_t repl__membership_encode(const struct repl *r,
                               const struct raft_config *c, uint8_t *out,
                               size_t cap);
int repl__membership_decode(struct repl *r, const void *buf, size_t len,
                            struct raft_config *c);

#endif
