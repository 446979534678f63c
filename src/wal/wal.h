/* The durable Raft log: hard state (term, vote, node id), log entries in
 * preallocated segment files, and snapshots, all in one data directory.
 * Appends made within one loop iteration form one write and one fsync
 * (group commit); the owner hears "durable up to index N" through a
 * callback. Knows nothing of Raft's rules: entries are opaque bytes with a
 * term, an index and a type byte; the replication layer converts. */
#ifndef RAFTCACHE_WAL_H
#define RAFTCACHE_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;
struct wal;
struct wal_mem_disk;

enum wal_io_kind {
    WAL_IO_AUTO = 0, /* io_uring when the kernel allows it, else sync */
    WAL_IO_URING,    /* io_uring: linked write + fdatasync, eventfd */
    WAL_IO_SYNC,     /* pwrite + fdatasync on a worker thread, or in the
                        loop's thread with sync_inline */
    WAL_IO_MEM,      /* in-memory, fault injecting (tests, simulator) */
};

enum wal_fsync_mode {
    WAL_FSYNC_ALWAYS = 0, /* acknowledge after fdatasync */
    WAL_FSYNC_OFF,        /* acknowledge after write(): a crash of the
                             machine loses what the page cache held */
};

#define WAL_SEGMENT_SIZE_DEFAULT (64u << 20)
#define WAL_SEGMENT_SIZE_MIN (4u << 10)
/* Largest payload of one entry (a record never spans segments either). */
#define WAL_ENTRY_MAX (512u << 20)

/* One log entry. The payload is borrowed for the duration of the call that
 * receives it (wal_append copies it into the batch buffer). */
struct wal_entry {
    uint64_t term;
    uint64_t index;
    uint8_t type;
    const void *buf;
    uint32_t len;
};

struct wal_hard_state {
    uint64_t term;
    uint64_t vote;
    uint64_t node_id;
};

/* index: every entry up to and including it is durable (or written, with
 * WAL_FSYNC_OFF). status < 0: the WAL failed and stopped; nothing more is
 * acknowledged (a WAL I/O error stops its group). */
typedef void (*wal_durable_cb)(struct wal *w, uint64_t index, int status,
                               void *data);
/* Receives each log line (without newline). */
typedef void (*wal_log_cb)(void *data, const char *line);
/* Receives one entry during wal_replay; returns 0 to go on, <0 to stop. */
typedef int (*wal_entry_cb)(void *data, const struct wal_entry *e);

struct wal_config {
    const char *dir;           /* data directory; created if missing */
    enum wal_io_kind io;       /* wal-io */
    enum wal_fsync_mode fsync; /* raft-fsync */
    int repair;                /* wal-repair yes: cut the log at corruption
                                  that is not in the last segment */
    uint64_t segment_size;     /* wal-segment-size; 0: default 64 MiB */
    int sync_inline;           /* wal-sync-thread no: the sync backend
                                  writes in the caller's thread (the loop
                                  then waits for the disk) */
    struct loop *loop;         /* NULL: the owner calls wal_poll() */
    struct wal_mem_disk *disk; /* the disk for WAL_IO_MEM */
    wal_durable_cb on_durable;
    wal_log_cb on_log;         /* NULL: lines go to stderr */
    void *data;                /* passed to both callbacks */
};

/* The allocator of the wal room (libc's by default). Tests install one
 * that fails on the Nth call to reach every ERR_NOMEM path. Set it before
 * any WAL is opened; NULL restores libc's. */
struct wal_allocator {
    void *(*malloc)(size_t n);
    void *(*calloc)(size_t n, size_t size);
    void *(*realloc)(void *p, size_t n);
    void (*free)(void *p);
};
void wal_set_allocator(const struct wal_allocator *a);

/* 1 when this kernel (and its seccomp policy) lets us set up io_uring:
 * the probe wal-io auto makes. Probed once, then cached. */
int wal_uring_available(void);

/* Config values, for server.c's option table: 0 and *out, or ERR_INVALID.
 * wal-io: "auto" | "uring" | "sync"; raft-fsync: "always" | "off". */
int wal_io_parse(const char *value, enum wal_io_kind *out);
int wal_fsync_parse(const char *value, enum wal_fsync_mode *out);

/* What start-up found on disk. The membership blob is owned by the WAL
 * and valid until wal_close. */
struct wal_recovered {
    struct wal_hard_state hs;
    int has_snapshot;
    uint64_t snap_term;
    uint64_t snap_index;
    const void *membership;
    uint32_t membership_len;
    uint64_t first_index; /* first live entry (snap_index + 1 or 1) */
    uint64_t last_index;  /* first_index - 1 when the log is empty */
    uint64_t last_term;   /* term of last_index (snap_term if empty) */
    uint64_t bytes_dropped; /* torn tail removed from the last segment */
};

/* Opens (creating if needed) and recovers the data directory: takes the
 * directory lock, loads the newest valid snapshot's metadata, verifies every
 * record of every segment, truncates a torn tail of the last segment.
 * Returns 0 and an owned *out, or ERR_BUSY (locked by another process),
 * ERR_CORRUPT (with the file and offset in errmsg), ERR_IO, ERR_NOMEM,
 * ERR_INVALID. errmsg (may be NULL) has ERRMSG_LEN bytes. */
int wal_open(const struct wal_config *cfg, struct wal **out,
             struct wal_recovered *rec, char *errmsg);
/* Waits for in-flight I/O, closes every file, releases the lock. Entries
 * appended but never flushed are dropped and no callback fires from here
 * on, so a simulated node can crash: wal_mem_crash(disk), wal_close(w),
 * then wal_open on the same disk. Not from a callback. */
void wal_close(struct wal *w);

/* Streams the live entries with index >= from, in order, from disk, to cb.
 * Payload pointers are valid only during the callback. Only entries that
 * are on disk are seen: call it before appending (at start-up). */
int wal_replay(struct wal *w, uint64_t from, wal_entry_cb cb, void *data);

/* Persists term, vote and node id now (temp file, fsync, rename, fsync dir):
 * blocks the caller on the disk, which Raft needs before replying to a
 * vote or a new term and which happens only on elections. */
int wal_save_hard_state(struct wal *w, const struct wal_hard_state *hs);

/* Appends entries (copies them into the open batch). Indexes must follow
 * the last one without a gap, terms must not go down. Returns 0,
 * ERR_INVALID, ERR_TOOBIG, ERR_NOMEM (nothing changed) or the sticky I/O
 * error. Nothing reaches the disk before wal_flush: call it from the
 * before-sleep hook after raft_step; with a loop the WAL also flushes from
 * a zero-delay timer it arms (next iteration) and after every completion. */
int wal_append(struct wal *w, const struct wal_entry *entries, size_t n);
/* Submits the open batch unless a write is in flight (then it keeps
 * accumulating and goes out when the current one completes). */
int wal_flush(struct wal *w);
/* The next write the WAL submits fails with status (< 0) as a full or
 * broken disk would, and the WAL stops (DEBUG RAFT-WAL-FAIL). */
void wal_inject_failure(struct wal *w, int status);
/* After a failure: whether the disk takes the log again. Looks for room
 * for two segments (the next one and its spare) and writes and fsyncs a
 * page in a scratch file, in the caller's thread (about one fsync).
 * Returns 0 or the error met. wal_inject_probe(w, s) makes it report s
 * (< 0) instead of looking, until it is called with 0 (DEBUG
 * RAFT-WAL-FAIL: a disk that stays full). */
int wal_probe(struct wal *w);
void wal_inject_probe(struct wal *w, int status);
/* 1 when wal_flush writes and fsyncs in the caller's thread before it
 * returns (the sync backend with wal-sync-thread no). Such a WAL arms no
 * flush timer of its own: its owner calls wal_flush where blocking on the
 * disk costs least (after the iteration's replies and peer sends). */
int wal_flush_blocks(const struct wal *w);
/* Without a loop: reaps completions (firing on_durable) and flushes.
 * Returns the number of completions processed, or <0. */
int wal_poll(struct wal *w);
/* Drops every entry with index >= from (Raft: a leader overwrites a
 * conflicting suffix). Acknowledgements of later entries come only after the
 * truncation is durable. from must lie in [first_index, last_index + 1]. */
int wal_truncate(struct wal *w, uint64_t from);

uint64_t wal_last_index(const struct wal *w);
uint64_t wal_last_term(const struct wal *w);
uint64_t wal_first_index(const struct wal *w);
uint64_t wal_durable_index(const struct wal *w);
/* Term of the entry at index (the snapshot's term at the snapshot's
 * index); 0 when the index is neither in the log nor the snapshot's. */
uint64_t wal_term_at(struct wal *w, uint64_t index);
/* "uring", "sync" or "mem": the backend chosen (auto resolves at open). */
const char *wal_backend_name(const struct wal *w);

struct wal_stats {
    uint64_t appended;     /* entries */
    uint64_t batches;      /* writes submitted */
    uint64_t fsyncs;       /* fdatasyncs completed */
    uint64_t bytes;        /* record bytes written */
    uint64_t truncations;
};
void wal_get_stats(const struct wal *w, struct wal_stats *st);

/* ---- snapshots (wal_snapshot.c) ---- */

struct wal_snapshot_writer;
struct wal_snapshot_reader;
struct wal_snapshot_recv;

struct wal_snapshot_meta {
    uint64_t term;
    uint64_t index;
    const void *membership; /* borrowed; opaque cluster membership */
    uint32_t membership_len;
};

/* Writes a snapshot of the state at meta->index under a temporary name in
 * the WAL's directory. Records are opaque byte strings (<= 4 GiB - 2).
 * Works in a forked child (plain syscalls, no loop) and in the parent. */
int wal_snapshot_writer_open(struct wal *w,
                             const struct wal_snapshot_meta *meta,
                             struct wal_snapshot_writer **out);
int wal_snapshot_write(struct wal_snapshot_writer *wr, const void *buf,
                       size_t len);
/* Writes the trailer, fsyncs, renames into place and fsyncs the directory.
 * Frees wr whatever the result. */
int wal_snapshot_writer_finish(struct wal_snapshot_writer *wr);
/* Removes the temporary file and frees wr. */
void wal_snapshot_writer_abort(struct wal_snapshot_writer *wr);

/* After a snapshot at index is durable: deletes the segments whose entries
 * are all <= index and older snapshot files. Called by the fork helper on
 * success; call it yourself after wal_snapshot_writer_finish. */
int wal_snapshot_installed(struct wal *w, uint64_t term, uint64_t index);

/* Runs cb(writer, data) in a forked child (copy-on-write view of the
 * parent's memory, as Redis' BGSAVE); the child finishes the file and
 * exits. The parent learns the outcome through the loop (a pipe watcher):
 * done(status, data) after the snapshot is durable and the old segments are
 * gone. Needs a loop and a file backend. Returns the child's pid or <0. */
typedef int (*wal_snapshot_fill_cb)(struct wal_snapshot_writer *wr,
                                    void *data);
typedef void (*wal_snapshot_done_cb)(struct wal *w, int status,
                                     const struct wal_snapshot_meta *meta,
                                     void *data);
pid_t wal_snapshot_fork(struct wal *w, const struct wal_snapshot_meta *meta,
                        wal_snapshot_fill_cb fill, wal_snapshot_done_cb done,
                        void *data);
int wal_snapshot_in_progress(const struct wal *w);

/* Opens the newest valid snapshot for reading. The whole file is verified
 * (trailer checksum) before the first record is handed out, so a corrupted
 * snapshot is never loaded. ERR_NOTFOUND when there is none. */
int wal_snapshot_reader_open(struct wal *w,
                             struct wal_snapshot_reader **out);
/* The metadata; membership is valid until the reader is closed. */
void wal_snapshot_reader_meta(const struct wal_snapshot_reader *rd,
                              struct wal_snapshot_meta *meta);
/* Next record: returns 1 and sets *buf and *len (valid until the next call),
 * 0 at the end, <0 on error. */
int wal_snapshot_read(struct wal_snapshot_reader *rd, const void **buf,
                      size_t *len);
void wal_snapshot_reader_close(struct wal_snapshot_reader *rd);

/* The newest snapshot's term and index: 0, or ERR_NOTFOUND when none. */
int wal_snapshot_last(const struct wal *w, uint64_t *term, uint64_t *index);
/* Chunked access to the newest snapshot's file for shipping: its size, then
 * bytes at any offset. Returns bytes read, 0 at the end, <0 on error. A
 * newer snapshot replaces the file: a sender that sees wal_snapshot_last
 * change starts over (the follower's verification would refuse a mix). */
int wal_snapshot_file_size(struct wal *w, uint64_t *size);
ssize_t wal_snapshot_chunk_read(struct wal *w, uint64_t off, void *buf,
                                size_t len);

/* A follower receives a snapshot in chunks, in order, then verifies it
 * (checksum, and term/index against what the leader announced) before it
 * is renamed into place. A failed verification removes the file. */
int wal_snapshot_recv_begin(struct wal *w, uint64_t term, uint64_t index,
                            struct wal_snapshot_recv **out);
int wal_snapshot_recv_write(struct wal_snapshot_recv *rv, uint64_t off,
                            const void *buf, size_t len);
/* Verifies, fsyncs, renames, fsyncs the directory; then drops the log that
 * the snapshot replaces (Raft §7: the whole log unless it holds the
 * snapshot's last entry with the same term). Frees rv. */
int wal_snapshot_recv_finish(struct wal_snapshot_recv *rv);
void wal_snapshot_recv_abort(struct wal_snapshot_recv *rv);

/* ---- the in-memory fault-injecting disk (wal_mem.c) ---- */

struct wal_mem_disk *wal_mem_disk_create(void);
void wal_mem_disk_destroy(struct wal_mem_disk *d);
/* The nth write from now (1 = the next; sync and async writes both count)
 * fails with nothing written; lasting: every write from then on fails. */
void wal_mem_fail_write(struct wal_mem_disk *d, uint64_t nth, int lasting);
/* The nth write from now stores only its first `keep` bytes, as if the
 * machine lost power mid-write (those bytes survive a crash), and fails. */
void wal_mem_tear_write(struct wal_mem_disk *d, uint64_t nth, size_t keep);
/* The nth fsync from now fails. */
void wal_mem_fail_sync(struct wal_mem_disk *d, uint64_t nth);
/* A power cut: every file loses what was written since its last fsync;
 * faults are cleared. A WAL still open on the disk (a node dying mid-write)
 * must be closed right after, without being used. */
void wal_mem_crash(struct wal_mem_disk *d);
/* The same, but a random prefix of each file's unsynced bytes survives. */
void wal_mem_crash_torn(struct wal_mem_disk *d, unsigned seed);
/* on: a request's fdatasync happens when it is reaped (wal_poll), not when
 * it is submitted, so a crash in between loses what it wrote: a slow disk
 * whose pace the simulator sets by when it polls. */
void wal_mem_defer_sync(struct wal_mem_disk *d, int on);
uint64_t wal_mem_write_count(const struct wal_mem_disk *d);
/* Direct access to a file's current bytes, to damage them in tests.
 * Returns NULL when there is no such file. */
uint8_t *wal_mem_file(struct wal_mem_disk *d, const char *name,
                      size_t *len);
/* Sets the file's length (cut or zero-extend), as data that is durable. */
int wal_mem_file_resize(struct wal_mem_disk *d, const char *name,
                        size_t len);
/* Names of the files (sorted), NUL-separated in buf; returns the count. */
int wal_mem_list(struct wal_mem_disk *d, char *buf, size_t len);

#endif
