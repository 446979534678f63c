/* The Raft consensus core: a pure state machine. It owns elections
 * (PreVote, CheckQuorum), log replication (pipelined, windowed, with fast
 * backtracking), commitment, ReadIndex and lease reads, leadership transfer,
 * single-server membership changes with learners, and snapshot transfer.
 * It does no I/O, reads no clock, keeps no globals and allocates only
 * through a hook: the caller feeds events to raft_step() and carries out the
 * returned update (persist, send, apply). Raft paper = Ongaro & Ousterhout
 * 2014; "§" numbers without a prefix refer to Ongaro's dissertation (2014).
 *
 * Single-threaded: one struct raft is used from one thread at a time. */
#ifndef RAFTCACHE_RAFT_H
#define RAFTCACHE_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Bug-injection switches, compiled in only when defined (the simulator
 * builds one variant per switch and must catch each):
 *   RAFT_BUG_COMMIT_OLD_TERM       commit an earlier term's entry by
 *                                  counting replicas (breaks §5.4.2)
 *   RAFT_BUG_VOTE_NO_LOG_CHECK     grant votes without the up-to-date check
 *   RAFT_BUG_LEASE_NO_CHECKQUORUM  serve lease reads on any leader, without
 *                                  CheckQuorum and after the lease lapsed
 *   RAFT_BUG_APPLY_BEFORE_PERSIST  count and apply entries before the local
 *                                  write is durable (breaks §10.2.1) */

/* Largest cluster (voters + learners) a configuration can describe. */
#define RAFT_MAX_SERVERS 16
/* Version byte at the head of every encoded message (raft_msg.c). */
#define RAFT_MSG_VERSION 1

/* ---------------------------------------------------------------------- */
/* Allocation hook. All memory the core and the codec use comes from here;
 * on failure they return ERR_NOMEM and never abort. A NULL hook (or a hook
 * with NULL functions) means libc malloc/realloc/free. */
struct raft_alloc {
    void *(*alloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
};

/* ---------------------------------------------------------------------- */
/* Shared payload buffers. Entry bytes are never copied by the core: an
 * entry points at bytes owned by a raft_buf (a proposal batch, a received
 * network buffer, a WAL read buffer). Embed a raft_buf in your own buffer
 * struct, set refs to 1 for your own reference and free_cb to the function
 * that frees the container when the last reference is released. The core
 * acquires a reference for every entry it keeps in its log and releases it
 * when the entry leaves the log (truncation, compaction, raft_free). Callers
 * that hold entries from an update beyond the next raft_step (an async WAL
 * write, a queued socket write) acquire their own reference.
 * Reference counts are not atomic (see "Single-threaded" above). */
struct raft_buf {
    uint32_t refs;
    void (*free_cb)(struct raft_buf *buf);
};

static inline void raft_buf_acquire(struct raft_buf *buf)
{
    if (buf != NULL) {
        buf->refs++;
    }
}

static inline void raft_buf_release(struct raft_buf *buf)
{
    if (buf != NULL && --buf->refs == 0 && buf->free_cb != NULL) {
        buf->free_cb(buf);
    }
}

/* ---------------------------------------------------------------------- */
/* Log entries: opaque bytes with a type. The index of an entry is implicit
 * (its position: the first index of the array it is in is given beside the
 * array). CONFIG entries carry a configuration encoded with
 * raft_config_encode(); NOOP entries (appended by each new leader, §6.4)
 * carry no bytes. The caller applies NORMAL entries and may ignore the
 * others (it should note CONFIG entries to describe snapshots). */
enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 1,
    RAFT_ENTRY_NOOP = 2,
    RAFT_ENTRY_CONFIG = 3,
};

struct raft_entry {
    uint64_t term;
    const uint8_t *data; /* len bytes, owned by buf (or static if buf NULL) */
    struct raft_buf *buf;
    uint32_t len;
    uint8_t type; /* enum raft_entry_type */
};

/* ---------------------------------------------------------------------- */
/* Cluster membership (§4.1: one server at a time; a configuration takes
 * effect on each server as soon as it is appended to that server's log).
 * Learners receive the log but neither vote nor count for commitment.
 * max_id is the highest id that was ever a member: ids are never reused,
 * so the core refuses to add an id <= max_id that is not already a member.
 * Callers allocate new ids as max_id + 1 (raft_next_id()). */
enum raft_server_role {
    RAFT_VOTER = 1,
    RAFT_LEARNER = 2,
};

struct raft_server {
    uint64_t id; /* nonzero */
    uint8_t role; /* enum raft_server_role */
};

struct raft_config {
    uint32_t n;
    uint64_t max_id;
    struct raft_server servers[RAFT_MAX_SERVERS];
};

/* Bytes raft_config_encode() writes for c (at most RAFT_CONFIG_MAX_BYTES). */
#define RAFT_CONFIG_MAX_BYTES (1 + 4 + 8 + RAFT_MAX_SERVERS * 9)
size_t raft_config_encoded_size(const struct raft_config *c);
/* Writes c into buf (cap bytes). Returns bytes written (>0), or ERR_TOOBIG
 * when cap is too small, ERR_INVALID when c is malformed. */
int raft_config_encode(const struct raft_config *c, uint8_t *buf, size_t cap);
/* Parses len bytes. Returns 0 or ERR_PROTOCOL (malformed, duplicate or zero
 * ids, too many servers). Never reads past len. */
int raft_config_decode(const uint8_t *buf, size_t len, struct raft_config *c);
/* Returns the server entry for id, or NULL. */
/* The number of voters in c. */
uint32_t raft_config_voters(const struct raft_config *c);
const struct raft_server *raft_config_find(const struct raft_config *c,
                                           uint64_t id);

/* ---------------------------------------------------------------------- */
/* Snapshots. A snapshot is the applied state up to index (inclusive) plus
 * the configuration in force at index; size is the byte length of its file
 * as the caller stores and ships it. */
struct raft_snapshot_meta {
    uint64_t index;
    uint64_t term;
    uint64_t size;
    struct raft_config config;
};

/* ---------------------------------------------------------------------- */
/* Messages between servers. Every message carries the sender's term.
 *
 * APPEND / APPEND_RESP: AppendEntries (Raft paper §5.3). A response with
 *   reject=false reports that the follower's log matches the leader's up to
 *   `index` and that those entries are durable. reject=true answers an
 *   append whose prev_index/prev_term did not match: `index` echoes the
 *   rejected prev_index and hint_index/hint_term let the leader skip a
 *   whole conflicting term at once (Raft paper §5.3, "fast backtracking").
 * VOTE / VOTE_RESP: RequestVote (§3.4), or PreVote when pre is set (§9.6).
 *   transfer marks a campaign started by TimeoutNow, which voters grant even
 *   while they hear from a leader (§3.10, §4.2.3).
 * HEARTBEAT / HEARTBEAT_RESP: the leader's periodic assertion of leadership
 *   with its commit index (capped at the follower's match); seq is echoed
 *   and confirms every ReadIndex request queued before it (§6.4).
 * SNAPSHOT / SNAPSHOT_RESP: InstallSnapshot (§5), one chunk per message,
 *   several in flight (snapshot_inflight_chunks). On the leader the core
 *   emits SNAPSHOT with data == NULL: the caller fills data/len with bytes
 *   [offset, offset + len) of its snapshot file for meta.index before
 *   encoding (see RAFT_UPDATE rules). The follower takes chunks in order
 *   only and answers each with next_offset (the offset it wants next: the
 *   leader resends from there when a chunk went missing), or with
 *   done=true once the whole snapshot is installed, or reject=true when it
 *   has no transfer of that snapshot from that leader in that term under
 *   way (the leader restarts from offset 0). A transfer is bound to its
 *   leader and term: another leader's file of the same index may differ
 *   byte for byte, so a new leader starts over.
 * TIMEOUT_NOW: leadership transfer: the target campaigns at once (§3.10).
 * READ_INDEX / READ_INDEX_RESP: a follower asks the leader for a read index
 *   on behalf of its clients (§6.4.1); ok=false when the leader cannot
 *   serve it (it is not the leader any more). */
enum raft_msg_type {
    RAFT_MSG_APPEND = 1,
    RAFT_MSG_APPEND_RESP = 2,
    RAFT_MSG_VOTE = 3,
    RAFT_MSG_VOTE_RESP = 4,
    RAFT_MSG_HEARTBEAT = 5,
    RAFT_MSG_HEARTBEAT_RESP = 6,
    RAFT_MSG_SNAPSHOT = 7,
    RAFT_MSG_SNAPSHOT_RESP = 8,
    RAFT_MSG_TIMEOUT_NOW = 9,
    RAFT_MSG_READ_INDEX = 10,
    RAFT_MSG_READ_INDEX_RESP = 11,
};
#define RAFT_MSG_TYPE_MAX 11

struct raft_msg_append {
    uint64_t prev_index;
    uint64_t prev_term;
    uint64_t commit;
    uint32_t n_entries;
    struct raft_entry *entries; /* indexes prev_index+1 .. */
};

struct raft_msg_append_resp {
    uint64_t index;
    uint64_t hint_index;
    uint64_t hint_term;
    bool reject;
    bool lost; /* with reject: a heartbeat's commit index (capped at the
                * follower's match) is past the follower's log, whose
                * last entry is hint_index: acknowledged entries are gone */
};

struct raft_msg_vote {
    uint64_t last_index;
    uint64_t last_term;
    bool pre;
    bool transfer;
};

struct raft_msg_vote_resp {
    bool granted;
    bool pre;
};

struct raft_msg_heartbeat {
    uint64_t commit;
    uint64_t seq;
};

struct raft_msg_heartbeat_resp {
    uint64_t seq;
};

struct raft_msg_snapshot {
    struct raft_snapshot_meta meta;
    uint64_t offset;
    uint32_t len;
    bool last; /* this chunk ends at meta.size */
    const uint8_t *data;
    struct raft_buf *buf; /* owner of data on the receiving side, or NULL */
};

struct raft_msg_snapshot_resp {
    uint64_t index; /* meta.index of the snapshot answered */
    uint64_t next_offset;
    bool done;
    bool reject;
};

struct raft_msg_read_index {
    uint64_t req_id; /* the follower's own request id, echoed */
};

struct raft_msg_read_index_resp {
    uint64_t req_id;
    uint64_t index;
    bool ok;
};

struct raft_msg {
    uint8_t type; /* enum raft_msg_type */
    uint64_t from;
    uint64_t to;
    uint64_t term;
    union {
        struct raft_msg_append append;
        struct raft_msg_append_resp append_resp;
        struct raft_msg_vote vote;
        struct raft_msg_vote_resp vote_resp;
        struct raft_msg_heartbeat heartbeat;
        struct raft_msg_heartbeat_resp heartbeat_resp;
        struct raft_msg_snapshot snapshot;
        struct raft_msg_snapshot_resp snapshot_resp;
        struct raft_msg_read_index read_index;
        struct raft_msg_read_index_resp read_index_resp;
    };
};

/* ---------------------------------------------------------------------- */
/* The binary codec (raft_msg.c). Frame layout, all little-endian:
 *   u8 version, u8 type, u16 reserved(0), u32 body length, u64 from,
 *   u64 to, u64 term, then the type's fixed fields, then (APPEND) per entry
 *   u64 term, u8 type, u32 len, bytes; (SNAPSHOT) the encoded config and
 *   last of all the chunk bytes, so a transport can write the header with
 *   raft_msg_encode_header() and stream the chunk straight from a file.
 * raft_msg_encoded_size: total frame bytes for m.
 * raft_msg_encode: writes the whole frame; returns bytes written (>0),
 *   ERR_TOOBIG when cap is short, ERR_INVALID for a malformed m.
 * raft_msg_encode_header: the frame up to the payload bytes, for sending
 *   without copying them (writev, sendfile). SNAPSHOT: everything but the
 *   chunk bytes (m->snapshot.len still counts in the frame length and
 *   m->snapshot.data may be NULL). APPEND: everything up to the first entry;
 *   then, per entry, RAFT_MSG_ENTRY_HEADER bytes from
 *   raft_msg_encode_entry_header() followed by the entry's own bytes.
 *   Other types: the same as encode.
 * raft_msg_decode: parses one frame at the head of buf. Returns bytes
 *   consumed (>0), 0 when buf holds less than one whole frame, or
 *   ERR_PROTOCOL for malformed input (unknown version or type, a length
 *   that disagrees with the contents, a bad config...), ERR_NOMEM when the
 *   entries array cannot be allocated. Entry and chunk
 *   bytes are slices of buf (zero copy) with buf/owner set to `owner`
 *   (which the caller keeps alive until raft_step returns; the core acquires
 *   it for what it keeps). The entries array of an APPEND is allocated from
 *   `a`; free it with raft_msg_decoded_free(). Never reads past len. */
size_t raft_msg_encoded_size(const struct raft_msg *m);
int raft_msg_encode(const struct raft_msg *m, uint8_t *buf, size_t cap);
int raft_msg_encode_header(const struct raft_msg *m, uint8_t *buf,
                           size_t cap);
int raft_msg_decode(const struct raft_alloc *a, const uint8_t *buf,
                    size_t len, struct raft_buf *owner, struct raft_msg *m);
void raft_msg_decoded_free(const struct raft_alloc *a, struct raft_msg *m);
#define RAFT_MSG_ENTRY_HEADER 13
void raft_msg_encode_entry_header(const struct raft_entry *e,
                                  uint8_t out[RAFT_MSG_ENTRY_HEADER]);

/* ---------------------------------------------------------------------- */
/* Options, fixed for the life of a node. Zero fields take the defaults in
 * brackets. Times are milliseconds of the monotonic clock the caller
 * passes in events. */
struct raft_options {
    uint64_t id; /* this server's id, nonzero */
    uint64_t seed; /* randomness: election timeouts come from here */
    struct raft_alloc alloc; /* [libc] */
    uint32_t election_timeout_ms; /* base T; each wait is in [T, 2T) [1000] */
    uint32_t heartbeat_ms; /* [election_timeout / 10] */
    bool no_pre_vote; /* disable PreVote (§9.6) [PreVote on] */
    bool no_check_quorum; /* disable CheckQuorum (§6.2) [on] */
    /* Lease reads (§6.4.1): the lease lasts election_timeout_ms minus
     * lease_drift_ms after the start of the last heartbeat round a majority
     * answered; needs CheckQuorum. [lease reads off when 0] */
    uint32_t lease_drift_ms;
    uint32_t max_inflight_msgs; /* APPENDs in flight per follower [256] */
    uint64_t max_inflight_bytes; /* entry bytes in flight per follower [64M] */
    uint32_t max_append_entries; /* entries per APPEND [1024] */
    uint64_t max_append_bytes; /* entry bytes per APPEND [1M] */
    uint32_t snapshot_chunk_bytes; /* InstallSnapshot chunk size [1M] */
    /* InstallSnapshot chunks in flight per follower (a window, like
     * max_inflight_msgs for APPENDs) [4] */
    uint32_t snapshot_inflight_chunks;
    /* The update sets snapshot_suggested once this many entries are in the
     * log after the last snapshot [0: never]; on a leader shipping a
     * snapshot to a follower, only at 4 times this many (a new snapshot
     * replaces the one being read, and the transfer starts over). */
    uint64_t snapshot_threshold;
    /* Entries kept behind a snapshot for slow followers [0]. */
    uint64_t snapshot_trailing;
    /* Learners are promoted to voters by the leader once their match index
     * has reached the commit index [on]. */
    bool no_auto_promote;
};

/* ---------------------------------------------------------------------- */
/* Restart state: what the caller's storage durably holds. A brand-new
 * cluster is bootstrapped by persisting one CONFIG entry (term 1, index 1)
 * describing the initial members and starting from it; a node that will
 * join an existing cluster starts with nothing (no snapshot, no entries)
 * and waits to be contacted by a leader. */
struct raft_init {
    uint64_t term; /* hard state */
    uint64_t vote; /* hard state: 0 = none */
    /* The storage was empty: a new node, or one whose dir was emptied,
     * which cannot know the votes it cast before. Such a node grants no
     * vote in a term up to the highest it hears of before a leader's
     * message, to a candidate whose log goes past the first entry (the
     * first election of a new group is left alone). */
    bool fresh;
    struct raft_snapshot_meta snapshot; /* index 0 = no snapshot */
    const struct raft_entry *entries; /* indexes snapshot.index+1 ..; the */
    uint32_t n_entries; /* core acquires each entry's buf */
};

/* ---------------------------------------------------------------------- */
/* Events fed to raft_step(). Every event carries `now`, the monotonic time
 * in milliseconds (never decreasing). */
enum raft_event_type {
    RAFT_EVENT_TICK = 1, /* time passed; call at least every heartbeat_ms */
    RAFT_EVENT_RECEIVE = 2, /* a message arrived (msg.to is this node) */
    RAFT_EVENT_PROPOSE = 3, /* a batch of entries to append (leader only) */
    RAFT_EVENT_PERSISTED = 4, /* storage holds what persist_id asked for */
    RAFT_EVENT_READ = 5, /* a linearizable read wants a read index */
    RAFT_EVENT_TRANSFER = 6, /* leadership transfer (leader only) */
    RAFT_EVENT_CHANGE = 7, /* membership change (leader only) */
    RAFT_EVENT_SNAPSHOT_TAKEN = 8, /* the caller took a snapshot */
    RAFT_EVENT_SNAPSHOT_INSTALLED = 9, /* the caller installed a received one */
    RAFT_EVENT_PEER_DOWN = 10, /* nothing listens at a peer's address */
};

enum raft_change_op {
    RAFT_CHANGE_ADD_LEARNER = 1, /* a new id (> max_id) joins as learner */
    RAFT_CHANGE_PROMOTE = 2, /* a learner becomes a voter */
    RAFT_CHANGE_REMOVE = 3, /* a member leaves (may be the leader itself) */
};

struct raft_event {
    uint8_t type; /* enum raft_event_type */
    uint64_t now;
    union {
        /* RECEIVE: borrowed for the call; entry bufs are acquired as kept. */
        const struct raft_msg *msg;
        /* PROPOSE: NORMAL entries (term and type are ignored). The core
         * acquires each buf; entries with buf NULL are copied. */
        struct {
            const struct raft_entry *entries;
            uint32_t n;
        } propose;
        /* PERSISTED: every update with persist_id <= id is durable. */
        struct {
            uint64_t id;
        } persisted;
        /* READ: req_id is the caller's, echoed in raft_update.reads. lease
         * asks for a lease read (served at once when the lease holds, else
         * as a ReadIndex read). */
        struct {
            uint64_t req_id;
            bool lease;
        } read;
        /* TRANSFER: to = 0 picks the most up-to-date voter. */
        struct {
            uint64_t to;
        } transfer;
        struct {
            uint8_t op; /* enum raft_change_op */
            uint64_t id;
        } change;
        /* SNAPSHOT_TAKEN: the state up to meta.index (<= applied) is saved;
         * meta.term and meta.config describe that index (the caller tracks
         * CONFIG entries as it applies them). The log prefix up to
         * meta.index - snapshot_trailing is released. */
        struct raft_snapshot_meta snapshot;
        /* SNAPSHOT_INSTALLED: the caller has made the snapshot it was asked
         * to install (install_snapshot) durable, dropped its stored log
         * (the core keeps nothing before index + 1 either; writes of
         * earlier updates still in flight are completed first, and may be
         * reported PERSISTED after this event) and loaded it. */
        struct {
            uint64_t index;
        } installed;
        /* PEER_DOWN: the transport found no process at peer id's address
         * (a connection refused). When that peer is our leader, the next
         * election does not wait a whole randomized timeout: it comes
         * [T/8, T/2) after the moment the §4.2.3 promise to the leader
         * lapses (heard_at + T with leases, else now), and until a leader
         * is heard from again a failed round is retried as quickly. Only an
         * earlier timeout: a false report costs at most a needless
         * PreVote round. Ignored without PreVote. */
        struct {
            uint64_t id;
        } peer_down;
    };
};

/* ---------------------------------------------------------------------- */
/* What the caller must do after a step. Owned by the core; valid until the
 * next raft_step or raft_free. Carry it out in this order:
 *
 * 1. Persist (if persist_id != 0): first truncate the log from
 *    truncate_from (if nonzero: delete entries >= truncate_from), then
 *    append `entries` (indexes entries_index ..), and write the hard state
 *    (term, vote) when hard_state_changed. When all of it is durable (now
 *    or later, in order), step RAFT_EVENT_PERSISTED with persist_id (one
 *    notification may cover several updates). Nothing here has to be
 *    durable before step 2: the core withholds every message that depends
 *    on durability (votes, acknowledgements) until it is told (§10.2.1:
 *    the leader writes its own log in parallel with replication).
 * 2. Send `msgs` (each to msg.to). For RAFT_MSG_SNAPSHOT with data NULL,
 *    supply the chunk bytes (see struct raft_msg_snapshot); if the snapshot
 *    is gone, drop the message (the core will resend from its newest).
 * 3. Store snapshot chunks received (`chunks`, in order, at their offsets
 *    into a temporary file for chunks_meta.index; each chunk comes once,
 *    right after the one before it, and a chunk at offset 0 starts the
 *    file over: a new transfer). When install_snapshot is
 *    set, install the snapshot described by install_meta (all its chunks
 *    are in), then step RAFT_EVENT_SNAPSHOT_INSTALLED.
 * 4. Apply `committed` (indexes committed_index ..) in order. They are
 *    committed and durable here. None are handed out while a snapshot
 *    install is pending; after SNAPSHOT_INSTALLED they resume at
 *    install_meta.index + 1.
 * 5. Answer `reads`: serve read req_id once applied index >= its index
 *    (status 0), or fail it (status < 0: ERR_NOTLEADER, ERR_BUSY).
 * 6. Note role/leader/config changes (changed flags), the proposal result
 *    (for a PROPOSE event: proposed_index/term of the batch's first entry;
 *    entry i of the batch was committed iff the entry applied at
 *    proposed_index + i has term proposed_term), snapshot_suggested. */
enum raft_role {
    RAFT_FOLLOWER = 1,
    RAFT_PRECANDIDATE = 2,
    RAFT_CANDIDATE = 3,
    RAFT_LEADER = 4,
};

struct raft_read {
    uint64_t req_id;
    uint64_t index;
    int status; /* 0 or ERR_* */
};

struct raft_chunk {
    uint64_t offset;
    const uint8_t *data;
    uint32_t len;
    struct raft_buf *buf;
};

struct raft_update {
    /* 1. persist */
    uint64_t persist_id;
    bool hard_state_changed;
    uint64_t term;
    uint64_t vote;
    uint64_t truncate_from;
    uint64_t entries_index;
    const struct raft_entry *entries;
    uint32_t n_entries;
    /* 2. send */
    struct raft_msg *msgs;
    uint32_t n_msgs;
    /* 3. snapshot chunks to store, snapshot to install */
    struct raft_snapshot_meta chunks_meta;
    const struct raft_chunk *chunks;
    uint32_t n_chunks;
    bool install_snapshot;
    struct raft_snapshot_meta install_meta;
    /* 4. apply */
    uint64_t commit_index;
    uint64_t committed_index;
    const struct raft_entry *committed;
    uint32_t n_committed;
    /* 5. reads */
    const struct raft_read *reads;
    uint32_t n_reads;
    /* 6. notes */
    bool role_changed; /* role or leader_id changed */
    uint8_t role; /* enum raft_role */
    uint64_t leader_id; /* 0 = unknown */
    bool config_changed;
    const struct raft_config *config; /* latest appended configuration */
    uint64_t proposed_index;
    uint64_t proposed_term;
    bool snapshot_suggested;
};

struct raft;

/* ---------------------------------------------------------------------- */
/* Creates a node from its durable state. Returns 0 with *out owned by the
 * caller (release with raft_free), ERR_NOMEM, or ERR_INVALID (id 0,
 * entries inconsistent with the snapshot, a CONFIG entry that does not
 * decode). Starts as a follower; the first timeout is drawn from seed. */
int raft_new(const struct raft_options *opts, const struct raft_init *init,
             struct raft **out);
/* Releases every buffer reference the node holds and the node itself. */
void raft_free(struct raft *r);

/* Feeds one event and fills *out (see struct raft_update). Returns 0, or:
 * ERR_NOTLEADER (PROPOSE, CHANGE, TRANSFER on a non-leader; READ with no
 *   known leader is answered in reads with that status instead),
 * ERR_BUSY (PROPOSE/CHANGE during a leadership transfer, CHANGE while a
 *   configuration change is uncommitted or before the leader has committed
 *   an entry of its own term),
 * ERR_INVALID (bad arguments: unknown event, a CHANGE naming a reused id,
 *   an id not a member, a snapshot beyond the applied index...),
 * ERR_LIMIT (CHANGE beyond RAFT_MAX_SERVERS),
 * ERR_NOMEM (the event could not be processed in full: whatever it did not
 *   do is as if a message were lost, which Raft tolerates).
 * Whatever the return value, *out is valid and must be carried out. */
int raft_step(struct raft *r, const struct raft_event *ev,
              struct raft_update *out);

/* ---------------------------------------------------------------------- */
/* Read-only inspection (for the simulator's invariant checks, INFO raft). */
uint64_t raft_id(const struct raft *r);
uint8_t raft_role(const struct raft *r); /* enum raft_role */
uint64_t raft_term(const struct raft *r);
uint64_t raft_vote(const struct raft *r);
uint64_t raft_leader(const struct raft *r); /* 0 = unknown */
uint64_t raft_commit_index(const struct raft *r);
/* Highest index known durable locally. */
uint64_t raft_persisted_index(const struct raft *r);
uint64_t raft_last_index(const struct raft *r);
uint64_t raft_last_term(const struct raft *r);
/* Index of the latest snapshot (0 = none); the log holds entries from
 * raft_first_index() (> snapshot index when no trailing entries) on. */
uint64_t raft_snapshot_index(const struct raft *r);
uint64_t raft_first_index(const struct raft *r);
/* The entry at index, or NULL when not in the in-memory log. Borrowed;
 * valid until the next raft_step. */
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);
/* Term of the entry at index (also for the snapshot index); 0 if unknown. */
uint64_t raft_term_at(const struct raft *r, uint64_t index);
/* The latest appended configuration (in force on this node, §4.1). */
const struct raft_config *raft_config(const struct raft *r);
/* The id a new member should get (max_id + 1). */
uint64_t raft_next_id(const struct raft *r);
/* Leader only: a follower's replication progress; false if id unknown. */
bool raft_progress(const struct raft *r, uint64_t id, uint64_t *match,
                   uint64_t *next);
/* Static names for logs ("leader", "append" ...). */
const char *raft_role_name(uint8_t role);
const char *raft_msg_type_name(uint8_t type);

#endif
