/* Snapshot files: the writer (used in a forked child, as Redis' BGSAVE),
 * the verifying reader, chunked access for shipping, the receiving side of
 * InstallSnapshot, and the fork helper. A snapshot is written under a
 * ".tmp" name, fsynced, renamed and the directory fsynced; the segments it
 * replaces are deleted only after that. Readers verify the whole file's
 * checksum before handing out the first record, so a corrupted snapshot is
 * never loaded. Little-endian, streamable (one pass to write, one to read):
 *
 *   offset  size  header
 *        0     8  magic "RCSNAPSH"
 *        8     4  format version (1)
 *       12     4  membership blob length M
 *       16     8  term of the last entry covered
 *       24     8  index of the last entry covered
 *       32     8  reserved (0)
 *       40     8  XXH3-64 of bytes 0..39
 *       48     M  membership blob (opaque)
 *   records: 4-byte length L (< 0xffffffff), then L opaque bytes
 *   end mark: 4 bytes 0xffffffff
 *   trailer (24 bytes): magic "RCSNAPEN", record count (8),
 *                       XXH3-64 of every byte before this checksum (8)
 *
 * File name: "snap-<index, 16 hex>-<term, 16 hex>". */
#include "wal/wal_internal.h"
#include "wal/wal_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "err.h"
#include "net/loop.h"

#define SNAP_MAGIC "RCSNAPSH"
#define SNAP_TRAILER_MAGIC "RCSNAPEN"
#define SNAP_VERSION 1
#define SNAP_HDR 48
#define SNAP_TRAILER 24
#define SNAP_END_MARK 0xffffffffu
#define SNAP_BUF (256u << 10)

static void snap_name(char *out, size_t len, uint64_t term, uint64_t index,
                      const char *suffix)
{
    snprintf(out, len, WAL_SNAP_PREFIX "%016" PRIx64 "-%016" PRIx64 "%s",
             index, term, suffix);
}

int wal__snap_parse_name(const char *name, uint64_t *term, uint64_t *index)
{
    if (strncmp(name, WAL_SNAP_PREFIX, 5) != 0 || strlen(name) != 38 ||
        name[21] != '-')
        return ERR_INVALID;
    char *end;
    *index = strtoull(name + 5, &end, 16);
    if (end != name + 21)
        return ERR_INVALID;
    *term = strtoull(name + 22, &end, 16);
    return *end == '\0' ? 0 : ERR_INVALID;
}

/* ---- verification ---- */

static int header_decode(const uint8_t *h, struct wal_snapshot_meta *meta)
{
    if (memcmp(h, SNAP_MAGIC, 8) != 0 || wal__get32(h + 8) != SNAP_VERSION ||
        wal__get64(h + 40) != XXH3_64bits(h, 40))
        return ERR_CORRUPT;
    meta->membership_len = wal__get32(h + 12);
    meta->term = wal__get64(h + 16);
    meta->index = wal__get64(h + 24);
    meta->membership = NULL;
    /* A snapshot covers entries 1..index, index >= 1 (recovery takes
     * index 0 for "no snapshot"), and the log after it starts at
     * index + 1, which must not wrap around to 0. */
    return meta->index == 0 || meta->index > WAL_INDEX_MAX ? ERR_CORRUPT : 0;
}

/* Reads the membership blob that follows the header into *out (malloc'ed,
 * the caller's on success); a short read returns short_rv. */
static int read_membership(struct wal_io *io, int fd,
                           const struct wal_snapshot_meta *meta, int short_rv,
                           uint8_t **out)
{
    uint8_t *m = wal__malloc(meta->membership_len + 1);
    if (m == NULL)
        return ERR_NOMEM;
    if (io->ops->pread(io, fd, m, meta->membership_len, SNAP_HDR) !=
        (long)meta->membership_len) {
        wal__free(m);
        return short_rv;
    }
    *out = m;
    return 0;
}

/* Checks the header, the whole-file checksum and the trailer of an open
 * snapshot file; on success fills meta and a malloc'ed membership blob. */
static int snap_verify(struct wal_io *io, int fd,
                       struct wal_snapshot_meta *meta, void **membership)
{
    uint64_t size;
    int rv = io->ops->size(io, fd, &size);
    if (rv != 0)
        return rv;
    uint8_t h[SNAP_HDR], t[SNAP_TRAILER];
    if (size < SNAP_HDR + 4 + SNAP_TRAILER ||
        io->ops->pread(io, fd, h, SNAP_HDR, 0) != SNAP_HDR ||
        header_decode(h, meta) != 0 ||
        SNAP_HDR + (uint64_t)meta->membership_len + 4 + SNAP_TRAILER > size)
        return ERR_CORRUPT;
    uint8_t *buf = wal__malloc(SNAP_BUF);
    XXH3_state_t *st = XXH3_createState();
    rv = (buf && st) ? 0 : ERR_NOMEM;
    uint64_t body = size - SNAP_TRAILER;
    if (rv == 0)
        XXH3_64bits_reset(st);
    for (uint64_t off = 0; rv == 0 && off < body;) {
        size_t n = body - off < SNAP_BUF ? (size_t)(body - off) : SNAP_BUF;
        if (io->ops->pread(io, fd, buf, n, off) != (long)n)
            rv = ERR_IO;
        else
            XXH3_64bits_update(st, buf, n);
        off += n;
    }
    if (rv == 0 && (io->ops->pread(io, fd, t, SNAP_TRAILER, body) !=
                        SNAP_TRAILER ||
                    memcmp(t, SNAP_TRAILER_MAGIC, 8) != 0))
        rv = ERR_CORRUPT;
    if (rv == 0) {
        XXH3_64bits_update(st, t, 16);
        if (wal__get64(t + 16) != XXH3_64bits_digest(st))
            rv = ERR_CORRUPT;
    }
    uint8_t *m = NULL;
    if (rv == 0)
        rv = read_membership(io, fd, meta, ERR_IO, &m);
    XXH3_freeState(st);
    wal__free(buf);
    if (rv != 0)
        return rv;
    *membership = m;
    meta->membership = m;
    return 0;
}

static int snap_verify_name(struct wal_io *io, const char *name,
                            struct wal_snapshot_meta *meta, void **mship)
{
    int fd;
    int rv = io->ops->open(io, name, 0, &fd);
    if (rv != 0)
        return rv;
    rv = snap_verify(io, fd, meta, mship);
    io->ops->close(io, fd);
    uint64_t term, index;
    if (rv == 0 && wal__snap_parse_name(name, &term, &index) == 0 &&
        (term != meta->term || index != meta->index)) {
        wal__free(*mship);
        rv = ERR_CORRUPT;
    }
    return rv;
}

struct snap_list {
    char names[64][40];
    uint64_t index[64];
    int n;
};

static void on_snap_name(void *data, const char *name)
{
    struct snap_list *l = data;
    uint64_t term, index;
    if (l->n == 64 || wal__snap_parse_name(name, &term, &index) != 0)
        return;
    snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
    l->index[l->n++] = index;
}

int wal__snap_find_newest(struct wal_io *io, char *name, size_t len,
                          struct wal_snapshot_meta *meta, void **membership,
                          void (*logf)(void *ctx, const char *line),
                          void *ctx)
{
    struct snap_list *l = wal__calloc(1, sizeof(*l));
    if (l == NULL)
        return ERR_NOMEM;
    int rv = io->ops->list(io, on_snap_name, l);
    int found = ERR_NOTFOUND;
    while (rv == 0 && found == ERR_NOTFOUND && l->n > 0) {
        int best = 0;
        for (int i = 1; i < l->n; i++)
            if (l->index[i] > l->index[best])
                best = i;
        int v = snap_verify_name(io, l->names[best], meta, membership);
        if (v == 0) {
            snprintf(name, len, "%s", l->names[best]);
            found = 0;
        } else if (v == ERR_CORRUPT || v == ERR_IO) {
            char line[160];
            snprintf(line, sizeof(line), "snapshot %s is corrupt: not "
                     "loaded", l->names[best]);
            logf(ctx, line);
        } else {
            rv = v;
        }
        l->index[best] = l->index[--l->n];
        memcpy(l->names[best], l->names[l->n], sizeof(l->names[0]));
    }
    wal__free(l);
    return rv != 0 ? rv : found;
}

/* ---- the writer ---- */

struct wal_snapshot_writer {
    struct wal_io *io;
    int fd;
    char tmp[64], final[64];
    uint8_t *buf;
    size_t len;
    uint64_t off, count;
    XXH3_state_t *st;
    int status;
};

static int writer_flush(struct wal_snapshot_writer *wr)
{
    if (wr->status != 0 || wr->len == 0)
        return wr->status;
    XXH3_64bits_update(wr->st, wr->buf, wr->len);
    wr->status = wr->io->ops->pwrite(wr->io, wr->fd, wr->buf, wr->len,
                                     wr->off);
    wr->off += wr->len;
    wr->len = 0;
    return wr->status;
}

static int writer_put(struct wal_snapshot_writer *wr, const void *p,
                      size_t n)
{
    while (n > 0 && wr->status == 0) {
        if (wr->len == SNAP_BUF)
            writer_flush(wr);
        size_t k = SNAP_BUF - wr->len < n ? SNAP_BUF - wr->len : n;
        memcpy(wr->buf + wr->len, p, k);
        wr->len += k;
        p = (const uint8_t *)p + k;
        n -= k;
    }
    return wr->status;
}

static void writer_free(struct wal_snapshot_writer *wr)
{
    if (wr->fd >= 0)
        wr->io->ops->close(wr->io, wr->fd);
    XXH3_freeState(wr->st);
    wal__free(wr->buf);
    wal__free(wr);
}

int wal_snapshot_writer_open(struct wal *w,
                             const struct wal_snapshot_meta *meta,
                             struct wal_snapshot_writer **out)
{
    struct wal_snapshot_writer *wr = wal__calloc(1, sizeof(*wr));
    if (wr == NULL)
        return ERR_NOMEM;
    wr->io = w->io;
    wr->fd = -1;
    wr->buf = wal__malloc(SNAP_BUF);
    wr->st = XXH3_createState();
    if (wr->buf == NULL || wr->st == NULL) {
        writer_free(wr);
        return ERR_NOMEM;
    }
    XXH3_64bits_reset(wr->st);
    snap_name(wr->final, sizeof(wr->final), meta->term, meta->index, "");
    snap_name(wr->tmp, sizeof(wr->tmp), meta->term, meta->index, ".tmp");
    int rv = wr->io->ops->open(wr->io, wr->tmp,
                               WAL_OPEN_CREATE | WAL_OPEN_TRUNC, &wr->fd);
    if (rv != 0) {
        writer_free(wr);
        return rv;
    }
    uint8_t h[SNAP_HDR] = {0};
    memcpy(h, SNAP_MAGIC, 8);
    wal__put32(h + 8, SNAP_VERSION);
    wal__put32(h + 12, meta->membership_len);
    wal__put64(h + 16, meta->term);
    wal__put64(h + 24, meta->index);
    wal__put64(h + 40, XXH3_64bits(h, 40));
    writer_put(wr, h, SNAP_HDR);
    writer_put(wr, meta->membership, meta->membership_len);
    *out = wr;
    return 0;
}

int wal_snapshot_write(struct wal_snapshot_writer *wr, const void *buf,
                       size_t len)
{
    if (len >= SNAP_END_MARK)
        return ERR_TOOBIG;
    uint8_t l[4];
    wal__put32(l, (uint32_t)len);
    writer_put(wr, l, 4);
    wr->count++;
    return writer_put(wr, buf, len);
}

int wal_snapshot_writer_finish(struct wal_snapshot_writer *wr)
{
    uint8_t end[4], t[SNAP_TRAILER];
    wal__put32(end, SNAP_END_MARK);
    writer_put(wr, end, 4);
    int rv = writer_flush(wr);
    memcpy(t, SNAP_TRAILER_MAGIC, 8);
    wal__put64(t + 8, wr->count);
    XXH3_64bits_update(wr->st, t, 16);
    wal__put64(t + 16, XXH3_64bits_digest(wr->st));
    if (rv == 0)
        rv = wr->io->ops->pwrite(wr->io, wr->fd, t, SNAP_TRAILER, wr->off);
    if (rv == 0)
        rv = wr->io->ops->sync(wr->io, wr->fd);
    if (rv == 0)
        rv = wr->io->ops->rename(wr->io, wr->tmp, wr->final);
    if (rv == 0)
        rv = wr->io->ops->sync_dir(wr->io);
    if (rv != 0)
        wr->io->ops->unlink(wr->io, wr->tmp);
    writer_free(wr);
    return rv;
}

void wal_snapshot_writer_abort(struct wal_snapshot_writer *wr)
{
    wr->io->ops->unlink(wr->io, wr->tmp);
    writer_free(wr);
}

/* ---- after a snapshot is durable ---- */

struct old_snaps {
    struct wal *w;
    uint64_t index;
};

static void drop_older(void *data, const char *name)
{
    struct old_snaps *o = data;
    uint64_t term, index;
    if (wal__snap_parse_name(name, &term, &index) == 0 && index < o->index)
        wal__unlink_later(o->w, name);
}

/* Reads the header and membership of a snapshot already verified (just
 * received) or just written and fsynced by us: reading a large file again
 * in the loop would stall it. Start-up verifies every byte anyway. */
static int snap_read_head(struct wal_io *io, const char *name,
                          struct wal_snapshot_meta *meta, void **mship)
{
    int fd;
    int rv = io->ops->open(io, name, 0, &fd);
    if (rv != 0)
        return rv;
    uint8_t h[SNAP_HDR];
    uint8_t *m = NULL;
    rv = io->ops->pread(io, fd, h, SNAP_HDR, 0) == SNAP_HDR
             ? header_decode(h, meta)
             : ERR_CORRUPT;
    if (rv == 0)
        rv = read_membership(io, fd, meta, ERR_CORRUPT, &m);
    io->ops->close(io, fd);
    if (rv != 0)
        return rv;
    meta->membership = m;
    *mship = m;
    return 0;
}

/* Makes the snapshot file `name` the current one: adopts its metadata,
 * then (Raft §7) keeps the log suffix after it if the log holds its last
 * entry with the same term, else discards the whole log. */
static int adopt(struct wal *w, const char *name)
{
    struct wal_snapshot_meta meta;
    void *mship;
    int rv = snap_read_head(w->io, name, &meta, &mship);
    if (rv != 0)
        return rv;
    /* The log must hold the entry: a term of 0 is also what
     * wal__log_term_at answers for an index it does not hold. */
    int keep = meta.index >= w->first_index && meta.index < w->next_index &&
               wal__log_term_at(w, meta.index) == meta.term;
    wal__free(w->membership);
    w->membership = mship;
    w->membership_len = meta.membership_len;
    w->snap_term = meta.term;
    w->snap_index = meta.index;
    snprintf(w->snap_name, sizeof(w->snap_name), "%s", name);
    rv = keep ? wal__compact(w, meta.index) : wal__reset(w, meta.index + 1);
    struct old_snaps o = {w, meta.index};
    w->io->ops->list(w->io, drop_older, &o);
    return rv;
}

int wal_snapshot_installed(struct wal *w, uint64_t term, uint64_t index)
{
    char name[64];
    snap_name(name, sizeof(name), term, index, "");
    return adopt(w, name);
}

/* ---- the reader ---- */

struct wal_snapshot_reader {
    struct wal_io *io;
    int fd;
    struct wal_snapshot_meta meta;
    void *membership;
    uint8_t *buf;
    size_t cap, pos, len; /* buffered bytes [pos, len) */
    uint64_t off;         /* file offset of buf[len] */
    uint8_t *rec;
    size_t reccap;
    int done;
};

static int rd_need(struct wal_snapshot_reader *rd, size_t n)
{
    if (rd->len - rd->pos >= n)
        return 0;
    memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
    rd->len -= rd->pos;
    rd->pos = 0;
    while (rd->len < n) {
        long r = rd->io->ops->pread(rd->io, rd->fd, rd->buf + rd->len,
                                    rd->cap - rd->len, rd->off);
        if (r <= 0)
            return r < 0 ? (int)r : ERR_CORRUPT;
        rd->len += (size_t)r;
        rd->off += (uint64_t)r;
    }
    return 0;
}

int wal_snapshot_reader_open(struct wal *w, struct wal_snapshot_reader **out)
{
    if (w->snap_name[0] == '\0')
        return ERR_NOTFOUND;
    struct wal_snapshot_reader *rd = wal__calloc(1, sizeof(*rd));
    if (rd == NULL)
        return ERR_NOMEM;
    rd->io = w->io;
    rd->cap = SNAP_BUF;
    rd->buf = wal__malloc(rd->cap);
    int rv = rd->buf ? rd->io->ops->open(rd->io, w->snap_name, 0, &rd->fd)
                     : ERR_NOMEM;
    if (rv == 0) {
        rv = snap_verify(rd->io, rd->fd, &rd->meta, &rd->membership);
        if (rv != 0)
            rd->io->ops->close(rd->io, rd->fd);
    }
    if (rv != 0) {
        wal__free(rd->buf);
        wal__free(rd);
        return rv;
    }
    rd->off = SNAP_HDR + rd->meta.membership_len;
    *out = rd;
    return 0;
}

void wal_snapshot_reader_meta(const struct wal_snapshot_reader *rd,
                              struct wal_snapshot_meta *meta)
{
    *meta = rd->meta;
}

int wal_snapshot_read(struct wal_snapshot_reader *rd, const void **buf,
                      size_t *len)
{
    if (rd->done)
        return 0;
    int rv = rd_need(rd, 4);
    if (rv != 0)
        return rv;
    uint32_t n = wal__get32(rd->buf + rd->pos);
    rd->pos += 4;
    if (n == SNAP_END_MARK) {
        rd->done = 1;
        return 0;
    }
    if (n <= rd->cap) {
        if ((rv = rd_need(rd, n)) != 0)
            return rv;
        *buf = rd->buf + rd->pos;
        rd->pos += n;
        *len = n;
        return 1;
    }
    /* A record larger than the buffer: read it whole into its own, once
     * the file is known to hold it. A checksum that verifies proves no
     * more than that the writer (maybe a leader that shipped the file)
     * meant these bytes, so a length is not trusted with memory. */
    size_t have = rd->len - rd->pos;
    uint64_t size;
    if ((rv = rd->io->ops->size(rd->io, rd->fd, &size)) != 0)
        return rv;
    if (rd->off > size || n - have > size - rd->off)
        return ERR_CORRUPT;
    uint8_t *p = wal__realloc(rd->rec, n);
    if (p == NULL)
        return ERR_NOMEM;
    rd->rec = p;
    memcpy(p, rd->buf + rd->pos, have);
    if (rd->io->ops->pread(rd->io, rd->fd, p + have, n - have, rd->off) !=
        (long)(n - have))
        return ERR_CORRUPT;
    rd->off += n - have;
    rd->pos = rd->len = 0;
    *buf = p;
    *len = n;
    return 1;
}

void wal_snapshot_reader_close(struct wal_snapshot_reader *rd)
{
    if (rd == NULL)
        return;
    rd->io->ops->close(rd->io, rd->fd);
    wal__free(rd->membership);
    wal__free(rd->rec);
    wal__free(rd->buf);
    wal__free(rd);
}

/* ---- chunked access and receiving ---- */

int wal_snapshot_last(const struct wal *w, uint64_t *term, uint64_t *index)
{
    if (w->snap_name[0] == '\0')
        return ERR_NOTFOUND;
    *term = w->snap_term;
    *index = w->snap_index;
    return 0;
}

int wal_snapshot_file_size(struct wal *w, uint64_t *size)
{
    if (w->snap_name[0] == '\0')
        return ERR_NOTFOUND;
    int fd;
    int rv = w->io->ops->open(w->io, w->snap_name, 0, &fd);
    if (rv != 0)
        return rv;
    rv = w->io->ops->size(w->io, fd, size);
    w->io->ops->close(w->io, fd);
    return rv;
}

ssize_t wal_snapshot_chunk_read(struct wal *w, uint64_t off, void *buf,
                                size_t len)
{
    if (w->snap_name[0] == '\0')
        return ERR_NOTFOUND;
    int fd;
    int rv = w->io->ops->open(w->io, w->snap_name, 0, &fd);
    if (rv != 0)
        return rv;
    long n = w->io->ops->pread(w->io, fd, buf, len, off);
    w->io->ops->close(w->io, fd);
    return n;
}

struct wal_snapshot_recv {
    struct wal *w;
    int fd;
    uint64_t term, index, off;
    char tmp[64], final[64];
};

int wal_snapshot_recv_begin(struct wal *w, uint64_t term, uint64_t index,
                            struct wal_snapshot_recv **out)
{
    struct wal_snapshot_recv *rv = wal__calloc(1, sizeof(*rv));
    if (rv == NULL)
        return ERR_NOMEM;
    rv->w = w;
    rv->term = term;
    rv->index = index;
    snap_name(rv->final, sizeof(rv->final), term, index, "");
    snap_name(rv->tmp, sizeof(rv->tmp), term, index, ".recv.tmp");
    int st = w->io->ops->open(w->io, rv->tmp,
                              WAL_OPEN_CREATE | WAL_OPEN_TRUNC, &rv->fd);
    if (st != 0) {
        wal__free(rv);
        return st;
    }
    *out = rv;
    return 0;
}

/* Chunks arrive in order; a repeated or skipped offset is refused so the
 * transport can resend from wal's idea of the next offset. */
int wal_snapshot_recv_write(struct wal_snapshot_recv *rv, uint64_t off,
                            const void *buf, size_t len)
{
    if (off != rv->off)
        return ERR_INVALID;
    struct wal_io *io = rv->w->io;
    int st = io->ops->pwrite(io, rv->fd, buf, len, off);
    if (st == 0)
        rv->off += len;
    return st;
}

void wal_snapshot_recv_abort(struct wal_snapshot_recv *rv)
{
    struct wal_io *io = rv->w->io;
    io->ops->close(io, rv->fd);
    io->ops->unlink(io, rv->tmp);
    wal__free(rv);
}

int wal_snapshot_recv_finish(struct wal_snapshot_recv *rv)
{
    struct wal *w = rv->w;
    struct wal_io *io = w->io;
    struct wal_snapshot_meta meta;
    void *mship = NULL;
    int st = io->ops->sync(io, rv->fd);
    if (st == 0)
        st = snap_verify(io, rv->fd, &meta, &mship);
    if (st == 0 && (meta.term != rv->term || meta.index != rv->index))
        st = ERR_CORRUPT;
    wal__free(mship);
    if (st != 0) {
        wal__logf(w, "received snapshot at index %" PRIu64 " does not "
                     "verify (%s): discarded", rv->index, err_str(st));
        wal_snapshot_recv_abort(rv);
        return st;
    }
    io->ops->close(io, rv->fd);
    st = io->ops->rename(io, rv->tmp, rv->final);
    if (st == 0)
        st = io->ops->sync_dir(io);
    if (st == 0)
        st = adopt(w, rv->final);
    wal__free(rv);
    return st;
}

/* ---- the fork helper ---- */

struct wal_snap_job {
    struct wal *w;
    pid_t pid;
    int fd;
    struct loop_io *io;
    uint64_t term, index;
    wal_snapshot_done_cb done;
    void *data;
};

static void child_run(struct wal *w, const struct wal_snapshot_meta *meta,
                      wal_snapshot_fill_cb fill, void *data, int fd)
{
    struct wal_snapshot_writer *wr;
    int rv = wal_snapshot_writer_open(w, meta, &wr);
    if (rv == 0) {
        rv = fill(wr, data);
        if (rv == 0)
            rv = wal_snapshot_writer_finish(wr);
        else
            wal_snapshot_writer_abort(wr);
    }
    int32_t status = rv;
    ssize_t n = write(fd, &status, sizeof(status));
    _exit(n == sizeof(status) && rv == 0 ? 0 : 1);
}

static void job_free(struct wal_snap_job *job)
{
    loop_io_destroy(job->io);
    close(job->fd);
    wal__free(job);
}

static void on_child(struct loop_io *lio, int events, void *data)
{
    struct wal_snap_job *job = data;
    struct wal *w = job->w;
    int32_t status = ERR_IO;
    ssize_t n;
    do
        n = read(job->fd, &status, sizeof(status));
    while (n < 0 && errno == EINTR);
    if (n != sizeof(status))
        status = ERR_IO; /* the child died without a word */
    int ws;
    while (waitpid(job->pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (status == 0)
        status = wal_snapshot_installed(w, job->term, job->index);
    else
        wal__logf(w, "snapshot child %d failed: %s", (int)job->pid,
                  err_str(status));
    struct wal_snapshot_meta meta = {job->term, job->index, w->membership,
                                     w->membership_len};
    wal_snapshot_done_cb done = job->done;
    void *cbdata = job->data;
    w->snap_job = NULL;
    job_free(job);
    if (done)
        done(w, status, &meta, cbdata);
}

pid_t wal_snapshot_fork(struct wal *w, const struct wal_snapshot_meta *meta,
                        wal_snapshot_fill_cb fill, wal_snapshot_done_cb done,
                        void *data)
{
    if (w->cfg.loop == NULL || w->cfg.io == WAL_IO_MEM)
        return ERR_INVALID;
    if (w->snap_job)
        return ERR_BUSY;
    struct wal_snap_job *job = wal__calloc(1, sizeof(*job));
    if (job == NULL)
        return ERR_NOMEM;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        wal__free(job);
        return ERR_IO;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* The child shares the directory lock (flock belongs to the open
         * file): it must not outlive a parent killed with SIGKILL, or the
         * restarted server would find its directory in use. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(fds[0]);
        child_run(w, meta, fill, data, fds[1]);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        wal__free(job);
        return ERR_IO;
    }
    *job = (struct wal_snap_job){w, pid, fds[0], NULL, meta->term,
                                 meta->index, done, data};
    job->io = loop_io_create(w->cfg.loop, fds[0], LOOP_READ, on_child, job);
    if (job->io == NULL) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(fds[0]);
        wal__free(job);
        return ERR_NOMEM;
    }
    w->snap_job = job;
    return pid;
}

int wal_snapshot_in_progress(const struct wal *w)
{
    return w->snap_job != NULL;
}

/* At close: a child still writing is stopped; its ".tmp" file is removed
 * at the next start-up. */
void wal__snapshot_cleanup(struct wal *w)
{
    struct wal_snap_job *job = w->snap_job;
    if (job == NULL)
        return;
    kill(job->pid, SIGKILL);
    while (waitpid(job->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    w->snap_job = NULL;
    job_free(job);
}
