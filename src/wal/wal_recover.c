/* Start-up: open the data directory and decide what the log is. Loads the
 * hard state and the newest valid snapshot's metadata, then reads every
 * segment and verifies every record's checksum and index. The only damage
 * repaired silently (with a log line) is a torn tail of the LAST segment:
 * writes that were never acknowledged. Damage anywhere else refuses to
 * start, naming the file and offset, unless wal-repair is set, in which case
 * the log is cut at the damage. Also replays the log to the owner.
 * Segments are read through a bounded window, never whole: recovery's
 * memory and page faults do not grow with wal-segment-size, and zeroed
 * preallocated space is skipped at memcmp speed. */
#include "wal/wal_internal.h"
#include "wal/wal_state.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "err.h"

struct listing {
    uint64_t *seqs;
    size_t nseqs, cap;
    char **tmps;
    size_t ntmps;
};

static void on_name(void *data, const char *name)
{
    struct listing *l = data;
    uint64_t seq;
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".tmp") == 0) {
        char **p = wal__realloc(l->tmps, (l->ntmps + 1) * sizeof(*p));
        if (p == NULL)
            return;
        l->tmps = p;
        if ((p[l->ntmps] = wal__strdup(name)) != NULL)
            l->ntmps++;
        return;
    }
    if (wal__seg_parse_name(name, &seq) != 0)
        return;
    if (l->nseqs == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint64_t *p = wal__realloc(l->seqs, cap * sizeof(*p));
        if (p == NULL)
            return;
        l->seqs = p;
        l->cap = cap;
    }
    l->seqs[l->nseqs++] = seq;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->ntmps; i++)
        wal__free(l->tmps[i]);
    wal__free(l->tmps);
    wal__free(l->seqs);
}

static int refuse(struct wal *w, char *errmsg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct wal *w, char *errmsg, const char *fmt, ...)
{
    char buf[ERRMSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    wal__logf(w, "%s", buf);
    if (errmsg)
        snprintf(errmsg, ERRMSG_LEN, "%s", buf);
    return ERR_CORRUPT;
}

/* ---- the window: segments are read in bounded pieces ---- */

/* The bytes of one segment file are seen through a window of at most
 * wal__recover_window bytes, refilled with pread, so recovery needs the
 * same memory for a 64 MiB segment as for a 4 KiB one and never faults in
 * a segment-sized buffer. Records larger than the window are verified by
 * hashing them in pieces (open) or read whole into a buffer of their own
 * (replay, whose callback wants the payload in one piece). */
size_t wal__recover_window = WAL_RECOVER_WINDOW;

struct seg_reader {
    struct wal *w;
    int fd;
    uint64_t size; /* bytes of the file that are looked at */
    uint8_t *buf;
    size_t cap;
    uint64_t base; /* file offset of buf[0] */
    size_t len;    /* valid bytes in buf */
};

static int reader_open(struct wal *w, int fd, uint64_t limit,
                       struct seg_reader *r)
{
    memset(r, 0, sizeof(*r));
    r->w = w;
    r->fd = fd;
    int rv = w->io->ops->size(w->io, fd, &r->size);
    if (rv != 0)
        return rv;
    if (r->size > limit)
        r->size = limit;
    /* At least a segment header and a record header, read in one go. */
    size_t window = wal__recover_window > WAL_SEG_HDR + WAL_REC_HDR
                        ? wal__recover_window
                        : WAL_SEG_HDR + WAL_REC_HDR;
    r->cap = r->size < window ? (size_t)r->size : window;
    r->buf = wal__malloc(r->cap ? r->cap : 1);
    return r->buf ? 0 : ERR_NOMEM;
}

static void reader_close(struct seg_reader *r)
{
    wal__free(r->buf);
    r->buf = NULL;
}

/* Refills the window to start at off, keeping the bytes it already holds
 * from there on (a record straddling the old window's end). */
static int reader_fill(struct seg_reader *r, uint64_t off)
{
    size_t keep = 0;
    if (off >= r->base && off < r->base + r->len) {
        keep = (size_t)(r->base + r->len - off);
        memmove(r->buf, r->buf + (off - r->base), keep);
    }
    uint64_t left = r->size - off;
    size_t want = left < r->cap ? (size_t)left : r->cap;
    r->base = off;
    r->len = keep;
    if (want == keep)
        return 0;
    long n = r->w->io->ops->pread(r->w->io, r->fd, r->buf + keep,
                                  want - keep, off + keep);
    if (n < 0 || (size_t)n != want - keep)
        return ERR_IO;
    r->len = want;
    return 0;
}

/* Makes [off, off + need) readable at *p, need being cut at the end of the
 * file and at most the window's size. Returns the bytes readable at *p
 * (at least the cut need; 0 at the end of the file) or <0. *p is valid
 * until the next call. */
static long reader_at(struct seg_reader *r, uint64_t off, size_t need,
                      const uint8_t **p)
{
    *p = r->buf;
    if (off >= r->size)
        return 0;
    if (need > r->size - off)
        need = (size_t)(r->size - off);
    if (off < r->base || off + need > r->base + r->len) {
        int rv = reader_fill(r, off);
        if (rv != 0)
            return rv;
    }
    *p = r->buf + (off - r->base);
    return (long)(r->base + r->len - off);
}

static int all_zero(const uint8_t *p, size_t n)
{
    static const uint8_t zeros[4096];
    for (; n > sizeof(zeros); p += sizeof(zeros), n -= sizeof(zeros))
        if (memcmp(p, zeros, sizeof(zeros)) != 0)
            return 0;
    return memcmp(p, zeros, n) == 0;
}

/* End of the last non-zero byte of p[0..n), 0 when all are zero: blocks
 * first (memcmp is vectorised), bytes only in the last non-zero block. */
static size_t nonzero_end(const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t blk = n % 4096 ? n % 4096 : 4096;
        if (!all_zero(p + n - blk, blk))
            break;
        n -= blk;
    }
    while (n > 0 && p[n - 1] == 0)
        n--;
    return n;
}

/* The end of the last non-zero byte at or after from (from itself when
 * the rest of the file is zeros: the clean end of a preallocated
 * segment), in *end. Reads the rest of the file through the window. */
static int tail_end(struct seg_reader *r, uint64_t from, uint64_t *end)
{
    *end = from;
    for (uint64_t off = from; off < r->size;) {
        const uint8_t *p;
        long n = reader_at(r, off, r->cap, &p);
        if (n <= 0)
            return n < 0 ? (int)n : ERR_IO;
        size_t nz = nonzero_end(p, (size_t)n);
        if (nz > 0)
            *end = off + nz;
        off += (uint64_t)n;
    }
    return 0;
}

/* A record larger than the window: the checks of wal__rec_decode, with
 * the checksum (format at the top of wal_segment.c: XXH3-64 of the padded
 * payload seeded with the XXH3-64 of header bytes 0..23) computed over
 * the window's refills. e->buf is NULL: only scanning needs this. */
static long rec_verify_streamed(struct seg_reader *r, uint64_t off,
                                const uint8_t *in, struct wal_entry *e)
{
    uint8_t hdr[WAL_REC_HDR];
    memcpy(hdr, in, sizeof(hdr));
    uint32_t len = wal__get32(hdr);
    if (len > WAL_ENTRY_MAX || hdr[5] || hdr[6] || hdr[7])
        return ERR_CORRUPT;
    uint64_t size = wal__rec_size(len);
    if (size > r->size - off)
        return ERR_CORRUPT;
    /* A state on the stack must start with seed 0 (XXH3_INITSTATE):
     * reset_withSeed skips deriving the secret when the stale seed field
     * already holds this seed, and the stack may hold an earlier call's
     * seed over a secret since overwritten. */
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    if (XXH3_64bits_reset_withSeed(&st, XXH3_64bits(hdr, 24)) != XXH_OK)
        return ERR_CORRUPT;
    for (uint64_t pos = off + WAL_REC_HDR; pos < off + size;) {
        const uint8_t *p;
        long n = reader_at(r, pos, r->cap, &p);
        if (n <= 0)
            return n < 0 ? n : ERR_IO;
        uint64_t take = off + size - pos < (uint64_t)n ? off + size - pos
                                                        : (uint64_t)n;
        XXH3_64bits_update(&st, p, (size_t)take);
        pos += take;
    }
    if (XXH3_64bits_digest(&st) != wal__get64(hdr + 24))
        return ERR_CORRUPT;
    e->len = len;
    e->type = hdr[4];
    e->term = wal__get64(hdr + 8);
    e->index = wal__get64(hdr + 16);
    e->buf = NULL;
    return (long)size;
}

/* The record at off, as wal__rec_decode reads it with the rest of the
 * file after it: its size (>0), 0 at the clean end, ERR_CORRUPT, or an
 * I/O error. e->buf points into the window, or is NULL for a record
 * larger than the window (see rec_verify_streamed). */
static long rec_at(struct seg_reader *r, uint64_t off, struct wal_entry *e)
{
    const uint8_t *p;
    long n = reader_at(r, off, WAL_REC_HDR, &p);
    if (n < 0)
        return n;
    if ((size_t)n < WAL_REC_HDR)
        return wal__rec_decode(p, (size_t)n, e);
    uint32_t len = wal__get32(p);
    size_t size = len <= WAL_ENTRY_MAX ? wal__rec_size(len) : WAL_REC_HDR;
    if (size > r->cap)
        return rec_verify_streamed(r, off, p, e);
    if (size > (size_t)n && (n = reader_at(r, off, size, &p)) < 0)
        return n;
    return wal__rec_decode(p, (size_t)n, e);
}

/* A trailing segment whose header never made it to the disk (it goes out
 * with the segment's first batch) holds nothing that was acknowledged.
 * Returns 1 (torn), 0, or <0 (I/O). */
static int header_is_torn(struct seg_reader *r)
{
    const uint8_t *p;
    long n = reader_at(r, 0, WAL_SEG_HDR, &p);
    if (n < 0)
        return (int)n;
    uint64_t seq, first;
    if (n >= WAL_SEG_HDR && wal__seg_header_decode(p, &seq, &first) == 0)
        return 0;
    if (r->size < WAL_SEG_HDR + WAL_REC_HDR)
        return 1;
    struct wal_entry e;
    long rv = rec_at(r, WAL_SEG_HDR, &e);
    if (rv > 0)
        return 0; /* records follow: the header itself was damaged */
    return rv == 0 || rv == ERR_CORRUPT ? 1 : (int)rv;
}

/* Opens a segment of the listing and tells whether its header is torn;
 * when it is, *junk is where its last non-zero byte ends. */
static int seg_probe_torn(struct wal *w, const char *name, int *torn,
                          uint64_t *junk)
{
    int fd;
    int rv = w->io->ops->open(w->io, name, 0, &fd);
    if (rv != 0)
        return rv;
    struct seg_reader r;
    rv = reader_open(w, fd, UINT64_MAX, &r);
    if (rv == 0 && (rv = header_is_torn(&r)) >= 0) {
        *torn = rv;
        rv = *torn ? tail_end(&r, 0, junk) : 0;
    }
    reader_close(&r);
    w->io->ops->close(w->io, fd);
    return rv;
}

static int drop_torn_segments(struct wal *w, struct listing *l)
{
    while (l->nseqs > 0) {
        char name[32];
        wal__seg_name(name, sizeof(name), l->seqs[l->nseqs - 1]);
        int torn = 0;
        uint64_t junk = 0;
        int rv = seg_probe_torn(w, name, &torn, &junk);
        if (rv != 0 || !torn)
            return rv;
        /* An empty one is the spare segment of a process that stopped
         * without closing: nothing to report. */
        if (junk > 0)
            wal__logf(w, "removed %s: its header was never written "
                         "(%" PRIu64 " bytes dropped)", name, junk);
        rv = w->io->ops->unlink(w->io, name);
        if (rv != 0)
            return rv;
        l->nseqs--;
    }
    return 0;
}

/* Walks the records of one segment, indexing each (offset, term). Sets
 * *end to the end of the last good record and *junk to where the last
 * non-zero byte after it ends; returns 1 when damage follows *end (a bad
 * record, or non-zero bytes after the zeroed end), 0, or <0. */
static int seg_scan(struct wal *w, struct wal_seg *s, struct seg_reader *r,
                    uint64_t *end, uint64_t *junk)
{
    uint64_t off = WAL_SEG_HDR;
    uint64_t expected = s->first_index;
    int bad = 0;
    for (;;) {
        struct wal_entry e;
        long n = rec_at(r, off, &e);
        if (n == 0)
            break;
        if (n < 0 && n != ERR_CORRUPT)
            return (int)n;
        if (n < 0 || e.index != expected || e.term < w->last_term) {
            bad = 1;
            break;
        }
        if (wal__seg_push_off(s, off) != 0 ||
            wal__term_push(w, e.index, e.term) != 0)
            return ERR_NOMEM;
        w->last_term = e.term;
        expected++;
        off += (uint64_t)n;
    }
    s->last_index = expected - 1;
    s->end = s->written = off;
    *end = off;
    int rv = tail_end(r, off, junk);
    if (rv != 0)
        return rv;
    return bad || *junk > off;
}

/* Zeroes a damaged tail and makes that durable. */
static int cut_tail(struct wal *w, struct wal_seg *s, const char *name,
                    uint64_t end, uint64_t junk, uint64_t size,
                    struct wal_recovered *rec)
{
    int rv = w->io->ops->zero(w->io, s->fd, end, size - end);
    if (rv == 0)
        rv = w->io->ops->sync(w->io, s->fd);
    if (rv != 0)
        return rv;
    wal__logf(w, "truncated %s at offset %" PRIu64 " after index %" PRIu64
                 ": %" PRIu64 " bytes of torn or corrupt tail dropped",
              name, end, s->last_index, junk - end);
    rec->bytes_dropped += junk - end;
    return 0;
}

/* The header must name this segment and continue the previous one. */
static int seg_check_header(struct wal *w, struct wal_seg *s,
                            const char *name, struct seg_reader *r,
                            char *errmsg)
{
    const uint8_t *p;
    long n = reader_at(r, 0, WAL_SEG_HDR, &p);
    if (n < 0)
        return (int)n;
    uint64_t hseq;
    /* Raft's indexes start at 1: a first index of 0 would make the log's
     * last index wrap around (first - 1), one near 2^64 its next index. */
    if (n < WAL_SEG_HDR ||
        wal__seg_header_decode(p, &hseq, &s->first_index) != 0 ||
        hseq != s->seq || s->first_index == 0 ||
        s->first_index > WAL_INDEX_MAX)
        return refuse(w, errmsg, "corrupt segment header in %s/%s at "
                      "offset 0", w->dir, name);
    uint64_t expect_first = w->nsegs ? w->next_index : s->first_index;
    if (s->first_index != expect_first)
        return refuse(w, errmsg, "%s/%s starts at index %" PRIu64
                      ", expected %" PRIu64, w->dir, name, s->first_index,
                      expect_first);
    return 0;
}

/* Verifies the records; damage is cut off in the last segment (a torn
 * tail), refused elsewhere unless wal-repair is set (*cut says so). */
static int seg_check_records(struct wal *w, struct wal_seg *s,
                             const char *name, struct seg_reader *r,
                             int is_last, struct wal_recovered *rec,
                             char *errmsg, int *cut)
{
    uint64_t end = WAL_SEG_HDR, junk = 0;
    int damaged = seg_scan(w, s, r, &end, &junk);
    if (damaged <= 0)
        return damaged;
    if (!is_last && !w->cfg.repair)
        return refuse(w, errmsg, "corrupt record in %s/%s at offset %"
                      PRIu64 " (index %" PRIu64 "); start with wal-repair "
                      "yes to cut the log there", w->dir, name, end,
                      s->last_index + 1);
    *cut = !is_last;
    return cut_tail(w, s, name, end, junk > end ? junk : end + 1, r->size,
                    rec);
}

static int seg_load(struct wal *w, uint64_t seq, int is_last,
                    struct wal_recovered *rec, char *errmsg, int *cut)
{
    char name[32];
    wal__seg_name(name, sizeof(name), seq);
    struct wal_seg *s = wal__calloc(1, sizeof(*s));
    if (s == NULL)
        return ERR_NOMEM;
    s->seq = seq;
    int rv = w->io->ops->open(w->io, name, 0, &s->fd);
    if (rv != 0) {
        wal__free(s);
        return rv;
    }
    struct seg_reader r;
    rv = reader_open(w, s->fd, UINT64_MAX, &r);
    if (rv == 0)
        rv = seg_check_header(w, s, name, &r, errmsg);
    if (rv == 0)
        rv = seg_check_records(w, s, name, &r, is_last, rec, errmsg, cut);
    /* A process killed between a write and its fsync leaves the write in
     * the page cache, where recovery reads it back; from here on it counts
     * as durable (the core acknowledges what it restarts with), so it is
     * made durable first. */
    if (rv == 0 && is_last && w->cfg.fsync == WAL_FSYNC_ALWAYS)
        rv = w->io->ops->sync(w->io, s->fd);
    reader_close(&r);
    if (rv == 0)
        rv = wal__segs_push(w, s);
    if (rv != 0) {
        w->io->ops->close(w->io, s->fd);
        wal__free(s->offs);
        wal__free(s);
        return rv;
    }
    w->next_index = s->last_index + 1;
    return 0;
}

static int load_segments(struct wal *w, struct listing *l,
                         struct wal_recovered *rec, char *errmsg)
{
    if (l->nseqs > 0) {
        qsort(l->seqs, l->nseqs, sizeof(*l->seqs), cmp_u64);
        w->next_seq = l->seqs[l->nseqs - 1] + 1;
    }
    int rv = drop_torn_segments(w, l);
    for (size_t i = 0; rv == 0 && i < l->nseqs; i++) {
        int cut = 0;
        rv = seg_load(w, l->seqs[i], i + 1 == l->nseqs, rec, errmsg, &cut);
        if (rv != 0 || !cut)
            continue;
        /* wal-repair: everything after the damage goes. */
        for (size_t j = i + 1; j < l->nseqs; j++) {
            char name[32];
            wal__seg_name(name, sizeof(name), l->seqs[j]);
            wal__logf(w, "repair: removed %s", name);
            w->io->ops->unlink(w->io, name);
        }
        rv = w->io->ops->sync_dir(w->io);
        break;
    }
    return rv;
}

/* Raft §7: a snapshot replaces the whole log, unless the log holds the
 * snapshot's last entry with the same term, in which case the entries that
 * follow it are kept. Applied again here so that a crash between installing
 * a snapshot and discarding the log it replaced cannot resurrect them. */
static int reconcile_snapshot(struct wal *w, char *errmsg)
{
    uint64_t log_first = w->nsegs ? w->segs[0]->first_index : 0;
    if (!w->snap_index) {
        if (w->nsegs && log_first != 1 && !w->cfg.repair)
            return refuse(w, errmsg, "the log in %s starts at index %"
                          PRIu64 " and no valid snapshot covers the entries "
                          "before it", w->dir, log_first);
        w->first_index = w->nsegs ? log_first : 1;
        if (!w->nsegs)
            w->next_index = 1;
        return 0;
    }
    w->first_index = log_first ? log_first : w->snap_index + 1;
    int keep = w->nsegs && w->next_index > w->snap_index &&
               (log_first == w->snap_index + 1 ||
                (log_first <= w->snap_index &&
                 wal__log_term_at(w, w->snap_index) == w->snap_term));
    if (!keep) {
        if (w->nsegs && w->next_index > w->first_index)
            wal__logf(w, "the snapshot at index %" PRIu64 " replaces the "
                         "log (entries %" PRIu64 "..%" PRIu64 ")",
                      w->snap_index, w->first_index, w->next_index - 1);
        w->last_term = w->snap_term;
        return wal__reset(w, w->snap_index + 1);
    }
    return wal__compact(w, w->snap_index);
}

static int load_meta(struct wal *w, char *errmsg)
{
    int rv = wal__meta_load(w->io, &w->hs);
    if (rv == ERR_NOTFOUND)
        return 0;
    if (rv == ERR_CORRUPT)
        return refuse(w, errmsg, "corrupt metadata file %s/%s", w->dir,
                      WAL_META_NAME);
    return rv;
}

static void collect_snapshot(void *ctx, const char *line)
{
    wal__logf(ctx, "%s", line);
}

static int load_snapshot(struct wal *w)
{
    char name[64];
    struct wal_snapshot_meta meta;
    void *membership = NULL;
    int rv = wal__snap_find_newest(w->io, name, sizeof(name), &meta,
                                   &membership, collect_snapshot, w);
    if (rv == ERR_NOTFOUND)
        return 0;
    if (rv != 0)
        return rv;
    w->snap_term = meta.term;
    w->snap_index = meta.index;
    snprintf(w->snap_name, sizeof(w->snap_name), "%s", name);
    w->membership = membership;
    w->membership_len = meta.membership_len;
    return 0;
}

static int open_backend(struct wal *w)
{
    const struct wal_config *c = &w->cfg;
    switch (c->io) {
    case WAL_IO_MEM:
        return wal__mem_create(c->disk, c->loop != NULL, &w->io);
    case WAL_IO_SYNC:
        return wal__sync_create(c->dir, c->sync_inline, &w->io);
    case WAL_IO_URING:
        return wal__uring_create(c->dir, &w->io);
    case WAL_IO_AUTO:
        /* Probed once: a kernel or seccomp policy without io_uring fails
         * io_uring_queue_init, and then plain syscalls do the job. */
        if (wal_uring_available() && wal__uring_create(c->dir, &w->io) == 0)
            return 0;
        return wal__sync_create(c->dir, c->sync_inline, &w->io);
    }
    return ERR_INVALID;
}

static int recover(struct wal *w, struct wal_recovered *rec, char *errmsg)
{
    struct listing l = {0};
    int rv = w->io->ops->list(w->io, on_name, &l);
    for (size_t i = 0; rv == 0 && i < l.ntmps; i++)
        rv = w->io->ops->unlink(w->io, l.tmps[i]);
    if (rv == 0)
        rv = load_meta(w, errmsg);
    if (rv == 0)
        rv = load_snapshot(w);
    if (rv == 0)
        rv = load_segments(w, &l, rec, errmsg);
    listing_free(&l);
    w->durable_index = w->next_index - 1;
    if (rv == 0)
        rv = reconcile_snapshot(w, errmsg);
    if (rv != 0)
        return rv;
    w->durable_index = w->next_index - 1;
    w->last_term = w->next_index > w->first_index
                       ? wal__term_at(w, w->next_index - 1)
                       : w->snap_term;
    return 0;
}

static void fill_recovered(struct wal *w, struct wal_recovered *rec)
{
    rec->hs = w->hs;
    rec->has_snapshot = w->snap_index != 0;
    rec->snap_term = w->snap_term;
    rec->snap_index = w->snap_index;
    rec->membership = w->membership;
    rec->membership_len = w->membership_len;
    rec->first_index = w->first_index;
    rec->last_index = w->next_index - 1;
    rec->last_term = w->last_term;
}

int wal_open(const struct wal_config *cfg, struct wal **out,
             struct wal_recovered *rec, char *errmsg)
{
    struct wal_recovered local;
    if (rec == NULL)
        rec = &local;
    memset(rec, 0, sizeof(*rec));
    if (errmsg)
        errmsg[0] = '\0';
    if ((cfg->dir == NULL && cfg->io != WAL_IO_MEM) ||
        (cfg->segment_size && cfg->segment_size < WAL_SEGMENT_SIZE_MIN))
        return ERR_INVALID;
    struct wal *w = wal__calloc(1, sizeof(*w));
    if (w == NULL)
        return ERR_NOMEM;
    w->cfg = *cfg;
    w->dir = wal__strdup(cfg->dir ? cfg->dir : "mem");
    w->segment_size = cfg->segment_size ? cfg->segment_size
                                        : WAL_SEGMENT_SIZE_DEFAULT;
    w->next_seq = 1;
    w->next_index = 1;
    w->first_index = 1;
    int rv = w->dir ? open_backend(w) : ERR_NOMEM;
    if (rv != 0) {
        if (errmsg)
            snprintf(errmsg, ERRMSG_LEN, "cannot open %s: %s", w->dir,
                     err_str(rv));
        wal__free(w->dir);
        wal__free(w);
        return rv;
    }
    w->cfg.dir = w->dir;
    rv = w->io->ops->lock(w->io);
    if (rv == ERR_BUSY && errmsg)
        snprintf(errmsg, ERRMSG_LEN, "%s is in use by another process",
                 w->dir);
    if (rv == 0)
        rv = recover(w, rec, errmsg);
    if (rv == 0)
        rv = wal__attach_loop(w);
    if (rv == 0)
        wal__spare_prepare(w);
    if (rv != 0) {
        if (errmsg && errmsg[0] == '\0')
            snprintf(errmsg, ERRMSG_LEN, "cannot recover %s: %s", w->dir,
                     err_str(rv));
        wal_close(w);
        return rv;
    }
    fill_recovered(w, rec);
    *out = w;
    return 0;
}

/* ---- replay ---- */

/* A record larger than the window, read whole into a buffer of its own
 * (*whole, freed by the caller) so that the callback sees one payload. */
static long rec_read_whole(struct seg_reader *r, uint64_t off, long size,
                           uint8_t **whole, struct wal_entry *e)
{
    *whole = wal__malloc((size_t)size);
    if (*whole == NULL)
        return ERR_NOMEM;
    long n = r->w->io->ops->pread(r->w->io, r->fd, *whole, (size_t)size,
                                  off);
    if (n != size)
        return n < 0 ? n : ERR_IO;
    return wal__rec_decode(*whole, (size_t)size, e);
}

/* Hands the records of s with index >= from to cb, starting at the first
 * of them (the offsets indexed at open), through the window. */
static int seg_replay(struct wal *w, struct wal_seg *s, uint64_t from,
                      wal_entry_cb cb, void *data)
{
    struct seg_reader r;
    uint64_t len = s->written < s->end ? s->written : s->end;
    int rv = reader_open(w, s->fd, len, &r);
    uint64_t off = WAL_SEG_HDR;
    if (from > s->first_index && from - s->first_index < s->noffs)
        off = s->offs[from - s->first_index];
    while (rv == 0 && off < r.size) {
        struct wal_entry e;
        uint8_t *whole = NULL;
        long n = rec_at(&r, off, &e);
        if (n > 0 && e.buf == NULL)
            n = rec_read_whole(&r, off, n, &whole, &e);
        if (n <= 0) {
            rv = n < 0 ? (int)n : 0;
            wal__free(whole);
            break;
        }
        off += (uint64_t)n;
        if (e.index >= from && e.index < w->next_index)
            rv = cb(data, &e);
        wal__free(whole);
    }
    reader_close(&r);
    return rv;
}

int wal_replay(struct wal *w, uint64_t from, wal_entry_cb cb, void *data)
{
    if (from < w->first_index)
        from = w->first_index;
    for (size_t i = 0; i < w->nsegs; i++) {
        struct wal_seg *s = w->segs[i];
        if (s->last_index < from)
            continue;
        int rv = seg_replay(w, s, from, cb, data);
        if (rv != 0)
            return rv;
    }
    return 0;
}
