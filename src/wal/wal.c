/* The WAL proper: the ordered queue of batches and truncations that turns
 * appends into group-committed writes, and the glue to the loop. Appends are
 * encoded into the open batch; it goes out as one write + one fdatasync when
 * nothing is in flight, else it grows until the write in flight completes.
 * Only the queue's head runs, so a truncation is durable before any later
 * batch is written. Happy path: append → flush → write+fsync → on_durable(N).
 * Failure modes: an I/O error is sticky: on_durable(status < 0) once, then
 * every call returns it. Start-up recovery lives in wal_recover.c. */
#include "wal/wal_internal.h"
#include "wal/wal_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "net/loop.h"

struct wal_allocator wal__allocator = {malloc, calloc, realloc, free};

void wal_set_allocator(const struct wal_allocator *a)
{
    static const struct wal_allocator libc = {malloc, calloc, realloc, free};
    wal__allocator = a ? *a : libc;
}

char *wal__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = wal__malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

struct wal_io *wal__io(struct wal *w)
{
    return w->io;
}

struct loop *wal__loop(struct wal *w)
{
    return w->cfg.loop;
}

void wal__logf(struct wal *w, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (w->cfg.on_log)
        w->cfg.on_log(w->cfg.data, line);
    else
        fprintf(stderr, "wal: %s\n", line);
}

/* ---- term runs: the term of any live index without a per-entry array ---- */

int wal__term_push(struct wal *w, uint64_t index, uint64_t term)
{
    if (w->nruns > 0 && w->runs[w->nruns - 1].term == term)
        return 0;
    if (w->nruns == w->capruns) {
        size_t cap = w->capruns ? w->capruns * 2 : 16;
        struct wal_term_run *r = wal__realloc(w->runs, cap * sizeof(*r));
        if (r == NULL)
            return ERR_NOMEM;
        w->runs = r;
        w->capruns = cap;
    }
    w->runs[w->nruns].index = index;
    w->runs[w->nruns].term = term;
    w->nruns++;
    return 0;
}

uint64_t wal__log_term_at(struct wal *w, uint64_t index)
{
    if (index < w->first_index || index >= w->next_index || w->nruns == 0)
        return 0;
    size_t lo = 0, hi = w->nruns;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (w->runs[mid].index <= index)
            lo = mid;
        else
            hi = mid;
    }
    return w->runs[lo].term;
}

uint64_t wal__term_at(struct wal *w, uint64_t index)
{
    if (index == w->snap_index && index != 0)
        return w->snap_term;
    return wal__log_term_at(w, index);
}

static void term_cut(struct wal *w, uint64_t from)
{
    while (w->nruns > 0 && w->runs[w->nruns - 1].index >= from)
        w->nruns--;
    w->last_term = w->next_index > w->first_index
                       ? wal__term_at(w, w->next_index - 1)
                       : w->snap_term;
}

/* ---- segments ---- */

int wal__seg_push_off(struct wal_seg *s, uint64_t off)
{
    if (s->noffs == s->capoffs) {
        size_t cap = s->capoffs ? s->capoffs * 2 : 1024;
        uint32_t *p = wal__realloc(s->offs, cap * sizeof(*p));
        if (p == NULL)
            return ERR_NOMEM;
        s->offs = p;
        s->capoffs = cap;
    }
    s->offs[s->noffs++] = (uint32_t)off;
    return 0;
}

void wal__seg_free(struct wal *w, struct wal_seg *s, int unlink_file)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        w->io->ops->close(w->io, s->fd);
    if (unlink_file) {
        char name[32];
        wal__seg_name(name, sizeof(name), s->seq);
        w->io->ops->unlink(w->io, name);
    }
    wal__free(s->offs);
    wal__free(s);
}

struct wal_unlink {
    struct wal_req req;
    char name[64];
};

/* Freeing a 64 MiB segment's blocks takes the file system tens of ms,
 * which the loop would stall for: a backend with a thread unlinks there
 * (wal_sync.c: renamed to NAME.tmp, then freed in steps). Each file leaves
 * the directory with a directory fsync, in the order given (the oldest
 * first), so a crash can bring back only the newest of the files given
 * up, which recovery compacts away again, and never leave a gap in the
 * segments. */
void wal__unlink_later(struct wal *w, const char *name)
{
    struct wal_unlink *u = NULL;
    if (w->io->ops->unlink_async && !w->closing)
        u = wal__calloc(1, sizeof(*u));
    if (u != NULL) {
        snprintf(u->name, sizeof(u->name), "%s", name);
        u->req.name = u->name;
        u->req.flags = WAL_REQ_UNLINK;
        if (w->io->ops->submit(w->io, &u->req) == 0) {
            w->unlinks++;
            return;
        }
        wal__free(u);
    }
    if (w->io->ops->unlink(w->io, name) == 0)
        w->io->ops->sync_dir(w->io);
}

static void unlink_done(struct wal *w, struct wal_req *req)
{
    struct wal_unlink *u = (struct wal_unlink *)req;
    if (req->status != 0)
        wal__logf(w, "removing %s failed (%s)", u->name,
                  err_str(req->status));
    w->unlinks--;
    wal__free(u);
}

int wal__segs_push(struct wal *w, struct wal_seg *s)
{
    if (w->nsegs == w->capsegs) {
        size_t cap = w->capsegs ? w->capsegs * 2 : 8;
        struct wal_seg **p = wal__realloc(w->segs, cap * sizeof(*p));
        if (p == NULL)
            return ERR_NOMEM;
        w->segs = p;
        w->capsegs = cap;
    }
    w->segs[w->nsegs++] = s;
    return 0;
}

/* ---- ops: batches and truncations ---- */

static struct wal_op *op_new(struct wal *w, int kind)
{
    struct wal_op *op = w->free_ops;
    if (op)
        w->free_ops = op->next;
    else if ((op = wal__calloc(1, sizeof(*op))) == NULL)
        return NULL;
    uint8_t *buf = op->buf;
    size_t cap = op->cap;
    memset(op, 0, sizeof(*op));
    op->buf = buf;
    op->cap = cap;
    op->kind = kind;
    return op;
}

static void op_recycle(struct wal *w, struct wal_op *op)
{
    wal__free(op->doomed);
    op->doomed = NULL;
    if (op->cap > (4u << 20)) { /* do not keep huge buffers around */
        wal__free(op->buf);
        op->buf = NULL;
        op->cap = 0;
    }
    op->next = w->free_ops;
    w->free_ops = op;
}

static void op_enqueue(struct wal *w, struct wal_op *op)
{
    op->next = NULL;
    if (w->tail)
        w->tail->next = op;
    else
        w->head = op;
    w->tail = op;
}

static int op_reserve(struct wal_op *op, size_t more)
{
    if (op->len + more <= op->cap)
        return 0;
    size_t cap = op->cap ? op->cap : 65536;
    while (cap < op->len + more)
        cap *= 2;
    uint8_t *p = wal__realloc(op->buf, cap);
    if (p == NULL)
        return ERR_NOMEM;
    op->buf = p;
    op->cap = cap;
    return 0;
}

/* The batch that appends to segment s go into: the queue's tail when it is
 * an open batch of s, else a new one. */
static struct wal_op *open_batch(struct wal *w, struct wal_seg *s)
{
    struct wal_op *op = w->tail;
    if (op && op->kind == WAL_OP_WRITE && !op->sealed && op->seg == s)
        return op;
    if (op)
        op->sealed = 1;
    op = op_new(w, WAL_OP_WRITE);
    if (op == NULL)
        return NULL;
    op->seg = s;
    op->off = s->end;
    op_enqueue(w, op);
    return op;
}

/* Creates the file of the next segment; allocate_now: preallocate it here
 * (else the caller preallocates it in the background). */
static int seg_create(struct wal *w, struct wal_seg **out, int allocate_now)
{
    struct wal_seg *s = wal__calloc(1, sizeof(*s));
    if (s == NULL)
        return ERR_NOMEM;
    s->seq = w->next_seq;
    char name[32];
    wal__seg_name(name, sizeof(name), s->seq);
    int rv = w->io->ops->open(w->io, name, WAL_OPEN_CREATE | WAL_OPEN_TRUNC,
                              &s->fd);
    if (rv != 0) {
        wal__free(s);
        return rv;
    }
    if (allocate_now &&
        (rv = w->io->ops->allocate(w->io, s->fd, w->segment_size)) != 0) {
        wal__seg_free(w, s, 1);
        return rv;
    }
    w->next_seq++;
    *out = s;
    return 0;
}

/* Keeps one spare segment ahead, preallocated by the backend while the
 * current one fills. Best effort: without a spare, rotation creates and
 * preallocates the next segment itself. */
void wal__spare_prepare(struct wal *w)
{
    /* One spare request at a time; rotation takes the spare only once it
     * is complete (see seg_rotate). */
    if (w->spare || w->spare_busy || w->failed || w->closing ||
        !w->io->ops->allocate_async)
        return;
    struct wal_seg *s;
    if (seg_create(w, &s, 0) != 0)
        return;
    struct wal_req *req = &w->spare_req;
    memset(req, 0, sizeof(*req));
    req->fd = s->fd;
    req->len = w->segment_size;
    req->flags = WAL_REQ_ALLOCATE;
    if (w->io->ops->submit(w->io, req) != 0) {
        wal__seg_free(w, s, 1);
        return;
    }
    w->spare = s;
    w->spare_busy = 1;
}

static void complete(struct wal *w, struct wal_req *req);

static void defer(struct wal *w, struct wal_req *req)
{
    req->next = NULL;
    struct wal_req **pp = &w->deferred;
    while (*pp)
        pp = &(*pp)->next;
    *pp = req;
}

/* Blocks until the spare's zeros are written: records must not go into a
 * segment that the zero-fill may still overwrite, and segments must be
 * used in the order of their numbers. Rotation outruns the spare only
 * right after start-up or with tiny segments. Other completions reaped
 * meanwhile wait in w->deferred for the next poll (no callback runs
 * inside wal_append), which the flush timer brings soon. */
static void wait_spare(struct wal *w)
{
    while (w->spare_busy) {
        w->io->ops->wait(w->io);
        struct wal_req *req = w->io->ops->reap(w->io);
        while (req) {
            struct wal_req *next = req->next;
            if (req == &w->spare_req)
                complete(w, req);
            else
                defer(w, req);
            req = next;
        }
    }
    if (w->deferred && w->flush_timer && !w->flush_armed) {
        w->flush_armed = 1;
        loop_timer_again(w->flush_timer, 0);
    }
}

/* Completed requests: those deferred by wait_spare first (older). */
static struct wal_req *reap(struct wal *w)
{
    struct wal_req *list = w->deferred;
    w->deferred = NULL;
    struct wal_req *more = w->io->ops->reap(w->io);
    if (list == NULL)
        return more;
    struct wal_req *t = list;
    while (t->next)
        t = t->next;
    t->next = more;
    return list;
}

/* Starts a new segment whose first record will be first_index: the spare
 * if there is one, else a file made now. Its header goes out with its
 * first batch, whose fsync also covers the directory entry. */
static int seg_rotate(struct wal *w, uint64_t first_index)
{
    struct wal_op *op = op_new(w, WAL_OP_WRITE);
    if (op == NULL || op_reserve(op, WAL_SEG_HDR) != 0) {
        if (op)
            op_recycle(w, op);
        return ERR_NOMEM;
    }
    if (w->spare_busy)
        wait_spare(w);
    struct wal_seg *s = w->spare;
    int rv = s ? 0 : seg_create(w, &s, 1);
    if (rv == 0 && (rv = wal__segs_push(w, s)) != 0 && s != w->spare)
        wal__seg_free(w, s, 1);
    if (rv != 0) {
        op_recycle(w, op);
        return rv;
    }
    if (s == w->spare)
        w->spare = NULL;
    s->first_index = first_index;
    s->last_index = first_index - 1;
    s->end = WAL_SEG_HDR;
    if (w->tail)
        w->tail->sealed = 1;
    op->seg = s;
    op->sync_dir = 1;
    wal__seg_header_encode(op->buf, s->seq, first_index);
    op->len = WAL_SEG_HDR;
    op_enqueue(w, op);
    wal__spare_prepare(w);
    return 0;
}

/* Everything that can fail (memory) happens before the first change, so a
 * failed append leaves the WAL as it was. A record larger than a whole
 * segment (a value of more than wal-segment-size, which Redis accepts up
 * to proto-max-bulk-len) gets a segment of its own that grows past the
 * preallocated size as it is written; recovery reads a segment to its
 * end, whatever its size. Refusing it instead would stop the group: raft
 * has already accepted the entry, so the WAL is the wrong place to say
 * no. */
static int append_one(struct wal *w, const struct wal_entry *e)
{
    size_t size = wal__rec_size(e->len);
    struct wal_seg *s = w->nsegs ? w->segs[w->nsegs - 1] : NULL;
    int empty = s != NULL && s->noffs == 0; /* holds no record yet */
    if (s == NULL || (s->end + size > w->segment_size && !empty)) {
        int rv = seg_rotate(w, e->index);
        if (rv != 0)
            return rv;
        s = w->segs[w->nsegs - 1];
    }
    struct wal_op *op = open_batch(w, s);
    if (op == NULL || op_reserve(op, size) != 0)
        return ERR_NOMEM;
    if (wal__seg_push_off(s, s->end) != 0)
        return ERR_NOMEM;
    if (wal__term_push(w, e->index, e->term) != 0) {
        s->noffs--;
        return ERR_NOMEM;
    }
    wal__rec_encode(op->buf + op->len, e);
    op->len += size;
    op->last_index = e->index;
    s->end += size;
    s->last_index = e->index;
    w->next_index = e->index + 1;
    w->last_term = e->term;
    w->stats.appended++;
    return 0;
}

static void arm_flush(struct wal *w)
{
    if (w->flush_timer == NULL || w->flush_armed ||
        w->io->ops->completes_inline)
        return;
    w->flush_armed = 1;
    loop_timer_again(w->flush_timer, 0);
}

int wal_append(struct wal *w, const struct wal_entry *entries, size_t n)
{
    if (w->failed)
        return w->failed;
    for (size_t i = 0; i < n; i++) {
        const struct wal_entry *e = &entries[i];
        if (e->index != w->next_index || e->term < w->last_term)
            return ERR_INVALID;
        if (e->len > WAL_ENTRY_MAX)
            return ERR_TOOBIG;
        int rv = append_one(w, e);
        if (rv != 0)
            return rv;
    }
    arm_flush(w);
    return 0;
}

/* ---- submitting and completing ---- */

static void fail(struct wal *w, int status)
{
    if (w->failed)
        return;
    w->failed = status;
    wal__logf(w, "I/O error (%s): the log is stopped", err_str(status));
    if (w->cfg.on_durable && !w->closing)
        w->cfg.on_durable(w, w->durable_index, status, w->cfg.data);
}

/* A truncation runs in the loop thread once every earlier write is done:
 * zero the cut-off bytes (so no stale record can ever reappear after the new
 * end), drop later segments, and make both durable. */
static int run_truncate(struct wal *w, struct wal_op *op)
{
    struct wal_io *io = w->io;
    int rv = 0;
    if (op->seg) {
        uint64_t size = 0;
        rv = io->ops->size(io, op->seg->fd, &size);
        if (rv == 0 && size > op->off)
            rv = io->ops->zero(io, op->seg->fd, op->off, size - op->off);
        if (rv == 0)
            rv = io->ops->sync(io, op->seg->fd);
    }
    for (size_t i = 0; i < op->ndoomed; i++)
        wal__seg_free(w, op->doomed[i], 1);
    op->ndoomed = 0;
    if (rv == 0)
        rv = io->ops->sync_dir(io);
    w->stats.truncations++;
    return rv;
}

#define WAL_PAGE 4096u

/* Zero bytes to write after a batch so that it ends on a page boundary
 * (not past the preallocated segment): a buffered write that covers only
 * part of a page not in the page cache makes the kernel read that block
 * from disk first, and the segment's zeros, written around the page cache,
 * are not in it; so every batch that starts a page would wait for a read.
 * What follows the written end is zeros anyway, and the next batch
 * rewrites the page from the cache. */
static size_t page_pad(const struct wal *w, const struct wal_op *op)
{
    uint64_t end = op->off + op->len;
    uint64_t pad_end = (end + WAL_PAGE - 1) / WAL_PAGE * WAL_PAGE;
    if (pad_end > w->segment_size)
        return 0;
    return (size_t)(pad_end - end);
}

static int submit_write(struct wal *w, struct wal_op *op)
{
    struct wal_req *req = &op->req;
    if (w->inject != 0) {
        int status = w->inject;
        w->inject = 0;
        return status;
    }
    memset(req, 0, sizeof(*req));
    size_t pad = page_pad(w, op);
    if (pad > 0 && op_reserve(op, pad) == 0)
        memset(op->buf + op->len, 0, pad);
    else
        pad = 0;
    req->fd = op->seg->fd;
    req->buf = op->buf;
    req->len = op->len + pad;
    req->off = op->off;
    if (w->cfg.fsync == WAL_FSYNC_ALWAYS)
        req->flags = WAL_REQ_SYNC | (op->sync_dir ? WAL_REQ_SYNC_DIR : 0);
    op->sealed = 1;
    int rv = w->io->ops->submit(w->io, req);
    if (rv != 0)
        return rv;
    w->inflight = op;
    if (op->seg->written < op->off + op->len)
        op->seg->written = op->off + op->len;
    w->stats.batches++;
    w->stats.bytes += op->len;
    return 0;
}

static void reap_all(struct wal *w)
{
    struct wal_req *req = reap(w);
    while (req) {
        struct wal_req *next = req->next;
        complete(w, req);
        req = next;
    }
}

void wal_inject_failure(struct wal *w, int status)
{
    w->inject = status;
}

/* Ends in .tmp: a start-up finding it (a crash mid-probe) unlinks it. */
#define WAL_PROBE_NAME "probe.tmp"

int wal_probe(struct wal *w)
{
    if (w->probe_inject != 0)
        return w->probe_inject;
    const struct wal_io_ops *ops = w->io->ops;
    uint64_t avail;
    int rv = ops->space(w->io, &avail);
    if (rv == 0 && avail / 2 < w->segment_size)
        rv = ERR_NOSPACE;
    int fd;
    if (rv != 0 || (rv = ops->open(w->io, WAL_PROBE_NAME,
                                   WAL_OPEN_CREATE | WAL_OPEN_TRUNC, &fd)) != 0)
        return rv;
    static const uint8_t page[WAL_PAGE];
    rv = ops->pwrite(w->io, fd, page, sizeof(page), 0);
    if (rv == 0)
        rv = ops->sync(w->io, fd);
    ops->close(w->io, fd);
    int u = ops->unlink(w->io, WAL_PROBE_NAME);
    return rv != 0 ? rv : u;
}

void wal_inject_probe(struct wal *w, int status)
{
    w->probe_inject = status;
}

int wal_flush(struct wal *w)
{
    while (!w->failed && w->inflight == NULL && w->head != NULL) {
        struct wal_op *op = w->head;
        w->head = op->next;
        if (w->head == NULL)
            w->tail = NULL;
        int rv = 0;
        if (op->kind == WAL_OP_TRUNC)
            rv = run_truncate(w, op);
        else if (op->len > 0)
            rv = submit_write(w, op);
        if (w->inflight != op)
            op_recycle(w, op);
        if (rv != 0)
            fail(w, rv);
        else if (w->inflight == op && w->io->ops->completes_inline)
            reap_all(w);
    }
    return w->failed;
}

static void complete(struct wal *w, struct wal_req *req)
{
    if (req->flags & WAL_REQ_UNLINK) {
        unlink_done(w, req);
        return;
    }
    if (req == &w->spare_req) {
        w->spare_busy = 0;
        if (req->status != 0)
            wal__logf(w, "preallocating the next segment failed (%s); it "
                         "grows as it is written", err_str(req->status));
        else if (w->spare == NULL)
            wal__spare_prepare(w);
        return;
    }
    struct wal_op *op = (struct wal_op *)((char *)req -
                                          offsetof(struct wal_op, req));
    if (w->inflight == op)
        w->inflight = NULL;
    int status = req->status;
    uint64_t index = op->last_index;
    int synced = (req->flags & WAL_REQ_SYNC) != 0;
    op_recycle(w, op);
    if (status != 0) {
        fail(w, status);
        return;
    }
    if (synced)
        w->stats.fsyncs++;
    if (index > w->durable_index && !w->failed) {
        w->durable_index = index;
        if (w->cfg.on_durable && !w->closing)
            w->cfg.on_durable(w, index, 0, w->cfg.data);
    }
}

int wal_poll(struct wal *w)
{
    int n = 0;
    struct wal_req *req = reap(w);
    while (req) {
        struct wal_req *next = req->next;
        complete(w, req);
        req = next;
        n++;
    }
    int rv = wal_flush(w);
    return rv != 0 ? rv : n;
}

static void on_event(struct loop_io *lio, int events, void *data)
{
    struct wal *w = data;
    if (w->io->ops->completes_inline)
        reap_all(w); /* a spare is ready; writes wait for the owner */
    else
        wal_poll(w);
}

static void on_flush_timer(struct loop_timer *t, void *data)
{
    struct wal *w = data;
    w->flush_armed = 0;
    if (w->deferred)
        wal_poll(w);
    else
        wal_flush(w);
}

int wal__attach_loop(struct wal *w)
{
    if (w->cfg.loop == NULL)
        return 0;
    int fd = w->io->ops->event_fd(w->io);
    w->event_io = loop_io_create(w->cfg.loop, fd, LOOP_READ, on_event, w);
    if (w->event_io == NULL)
        return ERR_NOMEM;
    w->flush_timer = loop_timer_create(w->cfg.loop, 0, 0, on_flush_timer, w);
    if (w->flush_timer == NULL)
        return ERR_NOMEM;
    loop_timer_stop(w->flush_timer);
    return 0;
}

/* ---- truncation ---- */

static struct wal_seg *seg_of(struct wal *w, uint64_t index, size_t *pos)
{
    for (size_t i = w->nsegs; i-- > 0;) {
        struct wal_seg *s = w->segs[i];
        if (s->first_index <= index && index <= s->last_index + 1) {
            *pos = i;
            return s;
        }
    }
    return NULL;
}

/* Cuts the queued (not yet submitted) batches at byte x of segment s and
 * drops those of later segments. */
static void cut_queue(struct wal *w, struct wal_seg *s, uint64_t x,
                      uint64_t from)
{
    struct wal_op **pp = &w->head;
    w->tail = NULL;
    while (*pp) {
        struct wal_op *op = *pp;
        int drop = 0;
        if (op->kind == WAL_OP_WRITE && op->seg->seq > s->seq)
            drop = 1;
        else if (op->kind == WAL_OP_WRITE && op->seg == s) {
            if (op->off >= x)
                drop = 1;
            else if (op->off + op->len > x)
                op->len = x - op->off;
        }
        if (op->last_index >= from)
            op->last_index = from - 1;
        if (drop) {
            *pp = op->next;
            op_recycle(w, op);
            continue;
        }
        w->tail = op;
        pp = &op->next;
    }
}

/* A truncation op that zeroes segment s from byte x on and unlinks the
 * segments after position pos, which leave the segment list now. */
static struct wal_op *trunc_op(struct wal *w, struct wal_seg *s, size_t pos,
                               uint64_t x)
{
    struct wal_op *op = op_new(w, WAL_OP_TRUNC);
    if (op == NULL)
        return NULL;
    op->seg = s;
    op->off = x;
    if (pos + 1 < w->nsegs) {
        op->doomed = wal__calloc(w->nsegs - pos - 1, sizeof(*op->doomed));
        if (op->doomed == NULL) {
            op_recycle(w, op);
            return NULL;
        }
        for (size_t i = pos + 1; i < w->nsegs; i++)
            op->doomed[op->ndoomed++] = w->segs[i];
    }
    return op;
}

int wal_truncate(struct wal *w, uint64_t from)
{
    if (w->failed)
        return w->failed;
    if (from < w->first_index || from > w->next_index)
        return ERR_INVALID;
    if (from == w->next_index)
        return 0;
    size_t pos;
    struct wal_seg *s = seg_of(w, from, &pos);
    if (s == NULL)
        return ERR_INVALID;
    /* A segment is empty only while it is the last one, and then
     * from == next_index returned above. */
    uint64_t x = from - s->first_index < s->noffs
                     ? s->offs[from - s->first_index]
                     : s->end;
    /* Bytes at or after x already handed to the disk, or later segment
     * files, need the disk; a cut in unsubmitted batches does not. */
    struct wal_op *op = NULL;
    if ((s->written > x || pos + 1 < w->nsegs) &&
        (op = trunc_op(w, s, pos, x)) == NULL)
        return ERR_NOMEM;
    cut_queue(w, s, x, from);
    if (w->inflight && w->inflight->last_index >= from)
        w->inflight->last_index = from - 1;
    w->nsegs = pos + 1;
    s->end = x;
    s->noffs = from - s->first_index;
    s->last_index = from - 1;
    if (s->written > x)
        s->written = x;
    w->next_index = from;
    if (w->durable_index >= from)
        w->durable_index = from - 1;
    term_cut(w, from);
    if (op) {
        if (w->tail)
            w->tail->sealed = 1;
        op_enqueue(w, op);
    }
    arm_flush(w);
    return 0;
}

/* ---- whole-log operations used by snapshots ---- */

/* Waits until nothing is in flight, firing completions. */
void wal__drain(struct wal *w)
{
    while (w->inflight || w->spare_busy || w->unlinks) {
        if (w->deferred == NULL)
            w->io->ops->wait(w->io);
        struct wal_req *req = reap(w);
        while (req) {
            struct wal_req *next = req->next;
            complete(w, req);
            req = next;
        }
    }
}

int wal__reset(struct wal *w, uint64_t next_index)
{
    wal__drain(w);
    while (w->head) {
        struct wal_op *op = w->head;
        w->head = op->next;
        if (op->kind == WAL_OP_TRUNC)
            run_truncate(w, op);
        op_recycle(w, op);
    }
    w->tail = NULL;
    for (size_t i = 0; i < w->nsegs; i++)
        wal__seg_free(w, w->segs[i], 1);
    w->nsegs = 0;
    w->nruns = 0;
    w->first_index = next_index;
    w->next_index = next_index;
    w->durable_index = next_index - 1;
    w->last_term = w->snap_term;
    return w->io->ops->sync_dir(w->io);
}

int wal__compact(struct wal *w, uint64_t index)
{
    size_t keep = 0;
    uint64_t limit = index < w->durable_index ? index : w->durable_index;
    while (keep + 1 < w->nsegs && w->segs[keep]->last_index <= limit &&
           !(w->inflight && w->inflight->seg == w->segs[keep]))
        keep++;
    for (size_t i = 0; i < keep; i++) {
        char name[32];
        wal__seg_name(name, sizeof(name), w->segs[i]->seq);
        wal__seg_free(w, w->segs[i], 0);
        wal__unlink_later(w, name);
    }
    if (keep > 0) { /* segs is NULL when the log has no segment */
        memmove(w->segs, w->segs + keep,
                (w->nsegs - keep) * sizeof(*w->segs));
        w->nsegs -= keep;
    }
    if (index + 1 > w->first_index)
        w->first_index = index + 1 < w->next_index ? index + 1
                                                   : w->next_index;
    return 0;
}

/* ---- small accessors ---- */

int wal_io_parse(const char *value, enum wal_io_kind *out)
{
    static const char *names[] = {"auto", "uring", "sync"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(value, names[i]) == 0) {
            *out = (enum wal_io_kind)i;
            return 0;
        }
    }
    return ERR_INVALID;
}

int wal_fsync_parse(const char *value, enum wal_fsync_mode *out)
{
    if (strcasecmp(value, "always") == 0)
        *out = WAL_FSYNC_ALWAYS;
    else if (strcasecmp(value, "off") == 0)
        *out = WAL_FSYNC_OFF;
    else
        return ERR_INVALID;
    return 0;
}

int wal_save_hard_state(struct wal *w, const struct wal_hard_state *hs)
{
    if (w->failed)
        return w->failed;
    int rv = wal__meta_save(w->io, hs);
    if (rv != 0) {
        fail(w, rv);
        return rv;
    }
    w->hs = *hs;
    return 0;
}

uint64_t wal_last_index(const struct wal *w)
{
    return w->next_index - 1;
}

uint64_t wal_last_term(const struct wal *w)
{
    return w->last_term;
}

uint64_t wal_first_index(const struct wal *w)
{
    return w->first_index;
}

uint64_t wal_durable_index(const struct wal *w)
{
    return w->durable_index;
}

uint64_t wal_term_at(struct wal *w, uint64_t index)
{
    return wal__term_at(w, index);
}

int wal_flush_blocks(const struct wal *w)
{
    return w->io->ops->completes_inline;
}

const char *wal_backend_name(const struct wal *w)
{
    return w->io->ops->name;
}

void wal_get_stats(const struct wal *w, struct wal_stats *st)
{
    *st = w->stats;
}

void wal_close(struct wal *w)
{
    if (w == NULL)
        return;
    w->closing = 1;
    wal__drain(w);
    while (w->head) {
        struct wal_op *op = w->head;
        w->head = op->next;
        for (size_t i = 0; i < op->ndoomed; i++)
            wal__seg_free(w, op->doomed[i], 0);
        op_recycle(w, op);
    }
    while (w->free_ops) {
        struct wal_op *op = w->free_ops;
        w->free_ops = op->next;
        wal__free(op->buf);
        wal__free(op);
    }
    for (size_t i = 0; i < w->nsegs; i++)
        wal__seg_free(w, w->segs[i], 0);
    wal__seg_free(w, w->spare, 1); /* never written: leave no file */
    wal__free(w->segs);
    wal__free(w->runs);
    wal__free(w->membership);
    loop_io_destroy(w->event_io);
    loop_timer_destroy(w->flush_timer);
    wal__snapshot_cleanup(w);
    w->io->ops->destroy(w->io);
    wal__free(w->dir);
    wal__free(w);
}
