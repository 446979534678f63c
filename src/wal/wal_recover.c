/* Start-up: open the data directory and decide what the log is. Loads the
 * hard state and the newest valid snapshot's metadata, then reads every
 * segment and verifies every record's checksum and index. The only damage
 * repaired silently (with a log line) is a torn tail of the LAST segment:
 * writes that were never acknowledged. Damage anywhere else refuses to
 * start, naming the file and offset, unless wal-repair is set, in which case
 * the log is cut at the damage. Also replays the log to the owner. */
#include "wal/wal_internal.h"
#include "wal/wal_state.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Reads a whole segment file into a new buffer. */
static int seg_read(struct wal *w, int fd, uint8_t **buf, uint64_t *size)
{
    int rv = w->io->ops->size(w->io, fd, size);
    if (rv != 0)
        return rv;
    *buf = wal__malloc(*size ? *size : 1);
    if (*buf == NULL)
        return ERR_NOMEM;
    long n = w->io->ops->pread(w->io, fd, *buf, *size, 0);
    if (n < 0 || (uint64_t)n != *size) {
        wal__free(*buf);
        return ERR_IO;
    }
    return 0;
}

static uint64_t last_nonzero_end(const uint8_t *buf, uint64_t size)
{
    while (size > 0 && buf[size - 1] == 0)
        size--;
    return size;
}

/* A trailing segment whose header never made it to the disk (it goes out
 * with the segment's first batch) holds nothing that was acknowledged. */
static int header_is_torn(const uint8_t *buf, uint64_t size)
{
    uint64_t seq, first;
    if (size >= WAL_SEG_HDR &&
        wal__seg_header_decode(buf, &seq, &first) == 0)
        return 0;
    struct wal_entry e;
    if (size >= WAL_SEG_HDR + WAL_REC_HDR &&
        wal__rec_decode(buf + WAL_SEG_HDR, size - WAL_SEG_HDR, &e) > 0)
        return 0; /* records follow: the header itself was damaged */
    return 1;
}

static int drop_torn_segments(struct wal *w, struct listing *l)
{
    while (l->nseqs > 0) {
        char name[32];
        wal__seg_name(name, sizeof(name), l->seqs[l->nseqs - 1]);
        int fd;
        int rv = w->io->ops->open(w->io, name, 0, &fd);
        if (rv != 0)
            return rv;
        uint8_t *buf;
        uint64_t size;
        rv = seg_read(w, fd, &buf, &size);
        w->io->ops->close(w->io, fd);
        if (rv != 0)
            return rv;
        int torn = header_is_torn(buf, size);
        uint64_t junk = last_nonzero_end(buf, size);
        wal__free(buf);
        if (!torn)
            return 0;
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

/* Walks the records of one segment; returns the end offset of the last
 * good record in *end and whether damage follows it. */
static int seg_scan(struct wal *w, struct wal_seg *s, const uint8_t *buf,
                    uint64_t size, uint64_t *end)
{
    uint64_t off = WAL_SEG_HDR;
    uint64_t expected = s->first_index;
    int bad = 0;
    for (;;) {
        struct wal_entry e;
        long r = wal__rec_decode(buf + off, size - off, &e);
        if (r == 0)
            break;
        if (r < 0 || e.index != expected || e.term < w->last_term) {
            bad = 1;
            break;
        }
        if (wal__seg_push_off(s, off) != 0 ||
            wal__term_push(w, e.index, e.term) != 0)
            return ERR_NOMEM;
        w->last_term = e.term;
        expected++;
        off += (uint64_t)r;
    }
    s->last_index = expected - 1;
    s->end = s->written = off;
    *end = off;
    return bad || last_nonzero_end(buf, size) > off;
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
                            const char *name, const uint8_t *buf,
                            uint64_t size, char *errmsg)
{
    uint64_t hseq;
    if (size < WAL_SEG_HDR ||
        wal__seg_header_decode(buf, &hseq, &s->first_index) != 0 ||
        hseq != s->seq)
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
                             const char *name, const uint8_t *buf,
                             uint64_t size, int is_last,
                             struct wal_recovered *rec, char *errmsg,
                             int *cut)
{
    uint64_t end;
    int damaged = seg_scan(w, s, buf, size, &end);
    if (damaged <= 0)
        return damaged;
    if (!is_last && !w->cfg.repair)
        return refuse(w, errmsg, "corrupt record in %s/%s at offset %"
                      PRIu64 " (index %" PRIu64 "); start with wal-repair "
                      "yes to cut the log there", w->dir, name, end,
                      s->last_index + 1);
    uint64_t junk = last_nonzero_end(buf, size);
    *cut = !is_last;
    return cut_tail(w, s, name, end, junk > end ? junk : end + 1, size, rec);
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
    uint8_t *buf = NULL;
    uint64_t size = 0;
    int rv = w->io->ops->open(w->io, name, 0, &s->fd);
    if (rv != 0) {
        wal__free(s);
        return rv;
    }
    rv = seg_read(w, s->fd, &buf, &size);
    if (rv == 0)
        rv = seg_check_header(w, s, name, buf, size, errmsg);
    if (rv == 0)
        rv = seg_check_records(w, s, name, buf, size, is_last, rec, errmsg,
                               cut);
    wal__free(buf);
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

static int seg_replay(struct wal *w, struct wal_seg *s, uint64_t from,
                      wal_entry_cb cb, void *data)
{
    uint64_t len = s->written < s->end ? s->written : s->end;
    uint8_t *buf = wal__malloc(len ? len : 1);
    if (buf == NULL)
        return ERR_NOMEM;
    long n = w->io->ops->pread(w->io, s->fd, buf, len, 0);
    int rv = (n < 0 || (uint64_t)n != len) ? ERR_IO : 0;
    uint64_t off = WAL_SEG_HDR;
    while (rv == 0 && off < len) {
        struct wal_entry e;
        long r = wal__rec_decode(buf + off, len - off, &e);
        if (r <= 0) {
            rv = r < 0 ? ERR_CORRUPT : 0;
            break;
        }
        off += (uint64_t)r;
        if (e.index >= from && e.index < w->next_index)
            rv = cb(data, &e);
    }
    wal__free(buf);
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
