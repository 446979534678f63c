/* The replicated write path of one Raft group: owns the struct raft,
 * batches every write of one loop iteration into one proposal, carries out
 * each raft_update in raft.h's order (persist through the WAL with group
 * commit, send through the transport, snapshot chunks, apply, reads,
 * notes), parks the requests of clients until their entry is applied or
 * their read index reached, and wakes them in request order. Knows
 * clients only as opaque owners and commands only as RESP bytes: the
 * apply callback (server.c → cmd) executes them, the wake callback
 * (client) resumes a connection. Never calls cmd or client (DESIGN §2).
 *
 * Happy path: submit → batch → before_sleep: PROPOSE, wal_append + flush,
 * APPEND to peers → WAL durable + majority → committed → apply → wake.
 * Failure modes: lost leadership (overwritten entries are woken with
 * ERR_NOTLEADER: -MOVED), no quorum (deadline: ERR_TIMEOUT-like
 * ERR_BUSY: -CLUSTERDOWN, the entry may still commit later), WAL I/O
 * error (the group stops acknowledging: every wait expires). */
#ifndef RAFTCACHE_REPL_H
#define RAFTCACHE_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "raft/raft.h"

struct loop;
struct wal;
struct wal_recovered;
struct wal_snapshot_writer;
struct wal_snapshot_reader;
struct peer_transport;
struct metrics_buf;

/* Frame types of the cluster bus (the transport's own are < 16). */
#define REPL_FRAME_RAFT 16

/* Entry payload: u8 version, u8 flags, i64 leader time (Unix ms, LE),
 * then the command as a RESP multibulk. */
#define REPL_ENTRY_VERSION 1
#define REPL_ENTRY_HEADER 10
#define REPL_ENTRY_META 1 /* flag: repl's own record (member address) */

/* Largest entry payload: an APPEND carrying one entry must fit a cluster
 * bus frame (64 MiB, transport's default max_frame) with its headers, or
 * the entry could never reach a follower and nothing after it would
 * commit. repl_submit_argv refuses a bigger write with ERR_TOOBIG. */
#define REPL_ENTRY_MAX ((64u << 20) - (64u << 10))

#define REPL_HOST_LEN 64

/* A member's addresses: the client port (for -MOVED) and the bus port. */
struct repl_member {
    uint64_t id;
    char host[REPL_HOST_LEN];
    int port;
    int bus_port;
};

/* Executes one committed command (RESP multibulk bytes) with the leader's
 * clock. owner is the parked client whose reply this is (write it to its
 * reply buffer), or NULL (discard the reply: another node's client, or a
 * client that left or timed out). */
typedef void (*repl_apply_cb)(void *data, uint64_t index, const uint8_t *cmd,
                              size_t len, int64_t leader_now_ms,
                              void *owner);
/* Optional: the command cmd is applied soon (stage 0: a few entries
 * ahead, stage 1: nearer), so the state machine can prefetch what it
 * will touch. Must not change anything. */
typedef void (*repl_prefetch_cb)(void *data, const uint8_t *cmd, size_t len,
                                 int stage);
/* A parked request is done: status 0 (write applied, its reply written;
 * or read index reached: run the read now), ERR_NOTLEADER (the entry was
 * overwritten or the read refused: redirect), ERR_BUSY (deadline passed
 * or no leader: -CLUSTERDOWN). Called in request order per owner. */
typedef void (*repl_wake_cb)(void *data, void *owner, int status);
/* Snapshots: save writes the state machine through the writer (runs in a
 * forked child); load replaces the state machine by the reader's records
 * (the caller empties it first). Return 0 or <0. */
typedef int (*repl_save_cb)(void *data, struct wal_snapshot_writer *wr);
typedef int (*repl_load_cb)(void *data, struct wal_snapshot_reader *rd);

struct repl_config {
    uint64_t node_id;              /* nonzero; persisted by repl_open */
    struct loop *loop;
    struct wal *wal;               /* opened by the caller, borrowed */
    const struct wal_recovered *rec; /* what wal_open found */
    struct peer_transport *bus;    /* peer_open()ed by the caller, borrowed */
    struct raft_options raft;      /* id and seed are filled by repl */
    int64_t write_timeout_ms;      /* parked request deadline [2 s] */
    /* Known members (static list, including this node). On an empty log
     * with bootstrap set they form the first configuration. */
    const struct repl_member *members;
    uint32_t n_members;
    bool bootstrap;
    repl_apply_cb apply;
    repl_prefetch_cb prefetch;     /* NULL: none */
    repl_wake_cb wake;
    repl_save_cb save;             /* NULL: no snapshots */
    /* Besides the core's entry count, a snapshot waits until the entries
     * applied since the last one hold at least max(snapshot_min_bytes,
     * snapshot_growth_pct % of the last snapshot's size) bytes: Redis'
     * auto-aof-rewrite-min-size / -percentage, so a small hot keyspace is
     * not forked for every few hundred thousand writes. 0, 0: no gate. */
    uint64_t snapshot_min_bytes;
    uint32_t snapshot_growth_pct;
    /* A leader proposes the next batch only while fewer than this many
     * are uncommitted (0: no limit; at most REPL_PIPELINE_MAX). */
    uint32_t pipeline_batches;
    int64_t hold_max_ms;           /* a held batch waits at most [5 ms] */
    repl_load_cb load;
    void *data;                    /* passed to the callbacks */
};

struct repl;

#define REPL_PIPELINE_MAX 16

/* Creates the group member: restores the log from the WAL (hard state,
 * snapshot, entries), bootstraps an empty one when asked, starts the tick
 * timer and registers as the bus's frame handler (the caller points the
 * transport's on_frame at repl_on_frame with data = the repl). Returns 0
 * and an owned *out, or <0 with errmsg (ERRMSG_LEN) set. */
int repl_open(const struct repl_config *cfg, struct repl **out,
              char *errmsg);
void repl_close(struct repl *r);

/* The transport's frame callback (data: the struct repl). */
void repl_on_frame(void *data, uint64_t peer, uint8_t type,
                   const uint8_t *bytes, size_t len);
/* The transport's on_gone callback (data: the struct repl): a dial to
 * peer was refused. If it was our leader, the election comes early
 * (RAFT_EVENT_PEER_DOWN). */
void repl_on_peer_gone(void *data, uint64_t peer);

/* Writes. Copies the command (argc args; RESP multibulk is written into
 * the open batch, the one copy of its bytes) and parks owner until it is
 * applied. Returns 0 (parked), ERR_NOTLEADER (caller redirects: nothing
 * was parked). */
struct resp_arg;
int repl_submit_argv(struct repl *r, void *owner, int argc,
                     const struct resp_arg *argv);
/* The same for bytes already RESP-encoded. */
int repl_submit_bytes(struct repl *r, void *owner, const void *cmd,
                      size_t len);
/* Unparked writes of the leader itself (expiry and eviction DELs). */
int repl_propose_internal(struct repl *r, int argc,
                          const struct resp_arg *argv);

/* Reads: joins this iteration's read batch (one RAFT_EVENT_READ per
 * iteration and kind) and parks owner until applied >= the read index.
 * Returns 0 (parked) or ERR_NOTLEADER. */
int repl_submit_read(struct repl *r, void *owner, bool lease);
/* The same on any node (follower-reads): on a follower the read index
 * comes from the leader (READ_INDEX, §6.4.1). Returns 0 (parked) or
 * ERR_NOTLEADER when no leader is known. */
int repl_submit_follower_read(struct repl *r, void *owner);

/* The owner is gone: its pending requests complete silently (entries
 * still apply everywhere, their replies are discarded). */
void repl_cancel(struct repl *r, void *owner);
/* Before closing a group that clients still wait on: every parked
 * request is woken with ERR_BUSY, as at its deadline (a write's outcome
 * is then unknown). */
void repl_wake_all(struct repl *r);

/* The before-sleep work, in order: acknowledge durable WAL writes
 * (PERSISTED), close the batch (PROPOSE), ask the read index (READ),
 * wal_flush, peer_flush. Call it before replies are flushed. Returns
 * true when it did something (callers loop while woken clients add work,
 * a few rounds at most). */
bool repl_before_sleep(struct repl *r);
/* repl_before_sleep in two halves, for callers that run several rounds of
 * it in one loop iteration: the work without the peer send, and the send.
 * Flushing once after the last round puts everything the rounds queued
 * for a peer into one sendmsg instead of one per round (same frames, same
 * order, only fewer syscalls). */
bool repl_prepare_sleep(struct repl *r);
void repl_flush_peers(struct repl *r);
/* With a WAL whose flush blocks (wal_flush_blocks), repl_open adds this as
 * the loop's last before-sleep hook: write + fsync what the iteration
 * appended, then acknowledge it. repl_before_sleep calls it too. */
void repl_flush_wal(struct repl *r);

/* State for the dispatcher. */
bool repl_is_leader(const struct repl *r);
/* The error that stopped this node's log (0: none), and whether this node
 * is then its group's only voter: nobody else can have written since, so
 * its state is still the group's, for reads (writes get -MISCONF). */
int repl_log_error(const struct repl *r);
bool repl_failed_alone(const struct repl *r);
/* The leader's client address; false when no leader is known. */
bool repl_leader_addr(const struct repl *r, const char **host, int *port);
uint64_t repl_leader_id(const struct repl *r);
uint64_t repl_node_id(const struct repl *r);
uint64_t repl_applied_index(const struct repl *r);
/* A group reopened on a live server (a failed log mended) reads back a
 * state older than the one its clients saw: until it has applied index
 * again, repl_loading is true and reads served from local state get
 * -LOADING, as from a Redis replica loading its dataset. */
void repl_hold_reads_until(struct repl *r, uint64_t index);
bool repl_loading(const struct repl *r);
/* The last index of this node's log (appended, perhaps uncommitted). */
uint64_t repl_last_index(const struct repl *r);
size_t repl_pending_writes(const struct repl *r);

/* Membership and leadership. */
int repl_transfer_leader(struct repl *r, uint64_t to);
/* Leader only: gives host:port (bus bus_port) a new id, replicates its
 * address and adds it as a learner (promoted once caught up). */
int repl_add_node(struct repl *r, const char *host, int port, int bus_port,
                  uint64_t *id_out);
int repl_remove_node(struct repl *r, uint64_t id);
/* Parks owner until this node is a voter of its group (RAFT.CLUSTER JOIN
 * answers then): woken with 0, or ERR_BUSY after timeout_ms. One at a
 * time: ERR_BUSY when another waits. */
int repl_wait_voter(struct repl *r, void *owner, int64_t timeout_ms);
/* DEBUG RAFT-PARTITION: block (on) or heal every peer in ids. */
int repl_partition(struct repl *r, const uint64_t *ids, size_t n);
/* DEBUG RAFT-WAL-FAIL: the next WAL write fails with status (ERR_NOSPACE:
 * a full disk, ERR_IO: a broken one), and this node leaves the group as
 * it would then (see fail_group); the disk stays full for wal_probe until
 * repl_clear_wal_fault (DEBUG RAFT-WAL-FAIL CLEAR). */
void repl_fail_wal(struct repl *r, int status);
void repl_clear_wal_fault(struct repl *r);
const struct raft_config *repl_config_now(const struct repl *r);
const struct repl_member *repl_member(const struct repl *r, uint64_t id);
/* Every member whose address is known; returns the count. */
uint32_t repl_members(const struct repl *r, const struct repl_member **out);

/* BGSAVE: takes a snapshot now, whatever the thresholds. Returns 1
 * (started), 0 (the newest snapshot already covers the applied index),
 * ERR_BUSY (one is being written) or ERR_INVALID (no snapshots). */
int repl_snapshot(struct repl *r);
struct repl_snapshot_status {
    bool running;            /* a child is writing one */
    bool last_ok;            /* the last attempt succeeded (or none yet) */
    uint64_t index;          /* the newest snapshot's index (0: none) */
    int64_t last_ms;         /* when it was saved, Unix ms (0: not here) */
    uint64_t log_bytes;      /* entry bytes applied since it */
    uint64_t saves;          /* snapshots saved since start */
    int64_t started_ms;      /* Unix ms the running or last one began */
    int64_t last_duration_ms; /* how long the last one took (-1: none) */
    uint64_t forks;          /* children forked to write one */
    int64_t fork_us;         /* how long the last fork() took */
};
void repl_snapshot_status(const struct repl *r,
                          struct repl_snapshot_status *st);

/* INFO raft (metrics_section_cb shape; data: the struct repl). */
void repl_info_section(struct metrics_buf *out, void *data);

struct repl_stats {
    uint64_t proposals;      /* PROPOSE events (batches) */
    uint64_t proposed;       /* entries proposed */
    uint64_t applied;        /* entries applied */
    uint64_t reads;          /* READ events */
    uint64_t write_timeouts;
    uint64_t send_errors;
    uint64_t leader_gone;    /* refused dials to the leader we followed */
};
void repl_get_stats(const struct repl *r, struct repl_stats *st);

#endif
