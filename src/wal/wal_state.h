/* The WAL's state, shared by wal.c (appends, truncation), wal_recover.c
 * (start-up) and wal_snapshot.c (compaction after a snapshot). Nothing
 * outside the wal room sees these structures. */
#ifndef RAFTCACHE_WAL_STATE_H
#define RAFTCACHE_WAL_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wal/wal_internal.h"

struct loop_io;
struct loop_timer;

/* One segment file. offs[i] is the byte offset of entry first_index + i. */
struct wal_seg {
    uint64_t seq;
    uint64_t first_index;
    uint64_t last_index; /* first_index - 1 when empty */
    uint64_t end;        /* where the next record goes */
    uint64_t written;    /* bytes handed to the disk so far */
    int fd;
    uint32_t *offs;
    size_t noffs, capoffs;
};

/* A term and the first index that has it; terms only grow along the log. */
struct wal_term_run {
    uint64_t index;
    uint64_t term;
};

enum { WAL_OP_WRITE = 1, WAL_OP_TRUNC };

/* One step of the ordered queue: a batch of records for one segment, or a
 * truncation (zero seg from off to its end, then unlink `doomed`). */
struct wal_op {
    int kind;
    int sealed;   /* no more appends go into this batch */
    int sync_dir; /* first batch of a new segment */
    struct wal_seg *seg;
    uint64_t off;
    uint8_t *buf;
    size_t len, cap;
    uint64_t last_index; /* acknowledged when done; 0: nothing */
    struct wal_seg **doomed;
    size_t ndoomed;
    struct wal_req req;
    struct wal_op *next;
};

struct wal_snap_job; /* wal_snapshot.c: a forked child being waited for */

struct wal {
    struct wal_config cfg;
    char *dir;
    struct wal_io *io;
    uint64_t segment_size;
    int failed; /* sticky status */
    int inject; /* the next write fails with this (wal_inject_failure) */
    int probe_inject; /* wal_probe reports this instead of looking */

    struct wal_hard_state hs;
    uint64_t snap_term, snap_index;
    void *membership;
    uint32_t membership_len;
    char snap_name[64]; /* the newest valid snapshot's file, "" if none */

    struct wal_seg **segs;
    size_t nsegs, capsegs;
    uint64_t next_seq;
    struct wal_term_run *runs;
    size_t nruns, capruns;

    uint64_t first_index; /* first live entry */
    uint64_t next_index;  /* index of the next append */
    uint64_t last_term;
    uint64_t durable_index;

    struct wal_op *head, *tail; /* not yet started, in order */
    struct wal_op *inflight;
    struct wal_op *free_ops;

    /* The next segment, created and being preallocated (zeros written) in
     * the background so that rotation does not wait for it in the loop. */
    struct wal_seg *spare;
    struct wal_req spare_req;
    int spare_busy;
    int unlinks;           /* WAL_REQ_UNLINK requests not yet reaped */
    struct wal_req *deferred; /* reaped while waiting for the spare */

    struct loop_io *event_io;
    struct loop_timer *flush_timer;
    int flush_armed;
    int closing; /* wal_close: completions fire no callbacks */

    struct wal_snap_job *snap_job;
    struct wal_stats stats;
};

int wal__term_push(struct wal *w, uint64_t index, uint64_t term);
int wal__seg_push_off(struct wal_seg *s, uint64_t off);
int wal__segs_push(struct wal *w, struct wal_seg *s);
void wal__seg_free(struct wal *w, struct wal_seg *s, int unlink_file);
int wal__attach_loop(struct wal *w);
void wal__drain(struct wal *w);
/* Unlinks a file the log no longer needs, off the loop when it can. */
void wal__unlink_later(struct wal *w, const char *name);
void wal__spare_prepare(struct wal *w);
void wal__snapshot_cleanup(struct wal *w);

#endif
