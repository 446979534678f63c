/* Helpers shared inside the wal room: the storage ops interface that the
 * io_uring, plain-syscall and in-memory backends implement, the record and
 * segment codec (wal_segment.c), and the metadata and lock helpers
 * (wal_meta.c). Files are named relative to the data directory; "fd"s are
 * whatever the backend hands out (real descriptors or mem file slots). */
#ifndef RAFTCACHE_WAL_INTERNAL_H
#define RAFTCACHE_WAL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wal/wal.h"

/* Every allocation of the wal room (but the mem disk's, which stands for
 * a device) goes through the hook set by wal_set_allocator. */
extern struct wal_allocator wal__allocator;

static inline void *wal__malloc(size_t n)
{
    return wal__allocator.malloc(n);
}

static inline void *wal__calloc(size_t n, size_t size)
{
    return wal__allocator.calloc(n, size);
}

static inline void *wal__realloc(void *p, size_t n)
{
    return wal__allocator.realloc(p, n);
}

static inline void wal__free(void *p)
{
    wal__allocator.free(p);
}

char *wal__strdup(const char *s);

/* Little-endian codec for the on-disk formats (segments, snapshots, meta). */
static inline void wal__put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wal__put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t wal__get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t wal__get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* The highest index a segment or snapshot header may name. Raft's indexes
 * never come near it, and the log's arithmetic on index + 1 (the next
 * index, the first index after a snapshot) must not wrap around. */
#define WAL_INDEX_MAX ((uint64_t)INT64_MAX)

#define WAL_OPEN_CREATE 1 /* create if missing */
#define WAL_OPEN_TRUNC 2  /* and empty it */

/* One asynchronous request: write buf at off of fd, then (flags) fdatasync
 * the file and fsync the directory; or (WAL_REQ_ALLOCATE) preallocate the
 * first len bytes of fd; or (WAL_REQ_UNLINK) unlink the file name, then
 * fsync the directory. Owned by the caller until reaped. */
#define WAL_REQ_SYNC 1
#define WAL_REQ_SYNC_DIR 2
#define WAL_REQ_ALLOCATE 4
#define WAL_REQ_UNLINK 8
struct wal_req {
    int fd;
    const char *name; /* WAL_REQ_UNLINK */
    const void *buf;
    size_t len;
    uint64_t off;
    int flags;
    int status;     /* set by the backend before the request is reaped */
    int pending;    /* backend bookkeeping: sub-requests not yet done */
    struct wal_req *next; /* backend bookkeeping: completion list */
};

struct wal_io;
struct wal_io_ops {
    const char *name;
    int (*open)(struct wal_io *io, const char *name, int flags, int *fd);
    void (*close)(struct wal_io *io, int fd);
    /* Full reads and writes or an error; pread returns bytes read. */
    long (*pread)(struct wal_io *io, int fd, void *buf, size_t len,
                  uint64_t off);
    int (*pwrite)(struct wal_io *io, int fd, const void *buf, size_t len,
                  uint64_t off);
    int (*sync)(struct wal_io *io, int fd);
    int (*size)(struct wal_io *io, int fd, uint64_t *size);
    /* Preallocates [0, len) (fallocate) without changing what reads back. */
    int (*allocate)(struct wal_io *io, int fd, uint64_t len);
    /* Makes [off, off+len) read as zeros, keeping the file size. */
    int (*zero)(struct wal_io *io, int fd, uint64_t off, uint64_t len);
    int (*truncate)(struct wal_io *io, int fd, uint64_t len);
    int (*rename)(struct wal_io *io, const char *from, const char *to);
    int (*unlink)(struct wal_io *io, const char *name);
    int (*sync_dir)(struct wal_io *io);
    /* Bytes the directory's file system can still give (statvfs). */
    int (*space)(struct wal_io *io, uint64_t *avail);
    /* Calls cb for each regular file in the directory. */
    int (*list)(struct wal_io *io, void (*cb)(void *data, const char *name),
                void *data);
    /* Takes the directory lock (flock on LOCK); ERR_BUSY if held. */
    int (*lock)(struct wal_io *io);
    /* Starts req; its completion is reaped later. Backends that leave
     * allocate_async NULL get no WAL_REQ_ALLOCATE requests. */
    int (*submit)(struct wal_io *io, struct wal_req *req);
    int allocate_async;
    /* Likewise WAL_REQ_UNLINK: without it files are unlinked at once. */
    int unlink_async;
    /* Writes are done when submit returns (wal-sync-thread no): the WAL
     * reaps them at once, and the owner, not a timer, calls wal_flush. */
    int completes_inline;
    /* Returns the list of completed requests (oldest first) or NULL. */
    struct wal_req *(*reap)(struct wal_io *io);
    /* Blocks until at least one request completes (used at close). */
    void (*wait)(struct wal_io *io);
    /* A descriptor that becomes readable when requests complete; -1 when
     * there is none. */
    int (*event_fd)(struct wal_io *io);
    void (*destroy)(struct wal_io *io);
};

struct wal_io {
    const struct wal_io_ops *ops;
    char *dir;
    int dir_fd;
    int lock_fd;
};

/* Backends. Each returns 0 and an owned *out. */
/* Requests run on a worker thread (wal-sync-thread yes), or with
 * inline_writes (wal-sync-thread no) writes run in submit and only
 * preallocations on the thread. */
int wal__sync_create(const char *dir, int inline_writes, struct wal_io **out);
int wal__uring_create(const char *dir, struct wal_io **out);
int wal__mem_create(struct wal_mem_disk *d, int with_eventfd,
                    struct wal_io **out);
/* Plain-syscall file operations shared by the sync and uring backends. */
int wal__posix_init(struct wal_io *io, const char *dir);
void wal__posix_fini(struct wal_io *io);
extern const struct wal_io_ops wal__posix_ops;

/* ---- record and segment codec (wal_segment.c) ---- */

#define WAL_SEG_MAGIC "RCWALSEG"
#define WAL_SEG_VERSION 1
#define WAL_SEG_HDR 48
#define WAL_REC_HDR 32

static inline size_t wal__rec_size(uint32_t len)
{
    return WAL_REC_HDR + (((size_t)len + 7) & ~(size_t)7);
}

void wal__seg_header_encode(uint8_t *out, uint64_t seq,
                            uint64_t first_index);
/* 0 and *seq, *first_index, or ERR_CORRUPT. */
int wal__seg_header_decode(const uint8_t *in, uint64_t *seq,
                           uint64_t *first_index);
/* Encodes one record into out (wal__rec_size(e->len) bytes). */
void wal__rec_encode(uint8_t *out, const struct wal_entry *e);
/* Decodes the record at in (avail bytes). Returns its size (>0), 0 for an
 * all-zero header (the clean end of a preallocated segment), or
 * ERR_CORRUPT. e->buf points into in. */
long wal__rec_decode(const uint8_t *in, size_t avail, struct wal_entry *e);
void wal__seg_name(char *out, size_t len, uint64_t seq);
int wal__seg_parse_name(const char *name, uint64_t *seq);

/* ---- recovery (wal_recover.c) ---- */

/* Recovery reads segments through a window of this many bytes (refilled
 * with pread), whatever the segment size. Tests lower it so that records
 * straddle the window and exceed it; set it before wal_open. */
#ifndef WAL_RECOVER_WINDOW
#define WAL_RECOVER_WINDOW (1u << 20)
#endif
extern size_t wal__recover_window;

/* ---- metadata (wal_meta.c) ---- */

#define WAL_META_NAME "meta"
#define WAL_META_TMP "meta.tmp"
/* ERR_NOTFOUND when there is no metadata file yet. */
int wal__meta_load(struct wal_io *io, struct wal_hard_state *hs);
int wal__meta_save(struct wal_io *io, const struct wal_hard_state *hs);

/* ---- snapshots (wal_snapshot.c) ---- */

#define WAL_SNAP_PREFIX "snap-"
int wal__snap_parse_name(const char *name, uint64_t *term, uint64_t *index);
/* Finds the newest snapshot whose checksum verifies; fills name and meta
 * (membership malloc'ed into *membership). ERR_NOTFOUND when none. Logs
 * every corrupt one it skips through logf. */
int wal__snap_find_newest(struct wal_io *io, char *name, size_t len,
                          struct wal_snapshot_meta *meta, void **membership,
                          void (*logf)(void *ctx, const char *line),
                          void *ctx);

/* wal.c internals the snapshot file needs. */
struct wal_io *wal__io(struct wal *w);
struct loop *wal__loop(struct wal *w);
void wal__logf(struct wal *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Discards the whole log and restarts it at next_index (after a snapshot
 * that replaces it); durable when it returns. */
int wal__reset(struct wal *w, uint64_t next_index);
/* Term of the entry at index: the snapshot's term at its index, else the
 * log's if the entry is in it, else 0. */
uint64_t wal__term_at(struct wal *w, uint64_t index);
/* The same, from the log alone (the snapshot does not count). */
uint64_t wal__log_term_at(struct wal *w, uint64_t index);
/* Deletes segments whose entries are all <= index. */
int wal__compact(struct wal *w, uint64_t index);

#endif
