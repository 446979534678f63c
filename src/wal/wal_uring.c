/* The io_uring backend (wal-io uring). A request is a chain of linked SQEs
 * (write, fdatasync, and a directory fsync for a new segment's first batch)
 * or the preallocation of the next segment in the background: zeros
 * written over it (one writev of a shared zero buffer) and an fdatasync,
 * so that later group commits into it flush data only (wal_sync.c's
 * posix_allocate says why).
 * Completions are announced on an eventfd registered with the ring and
 * watched by the loop, so the loop never waits for the disk; user_data holds
 * the request, done when all its CQEs are in. Failure modes: a failed or
 * short write cancels the rest of its chain (-ECANCELED) and the request
 * completes with ERR_IO. File operations are wal_sync.c's. */
#include "wal/wal_internal.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "err.h"

#define URING_DEPTH 64

#define URING_ZERO_IOVS 1024
#define URING_ZERO_MIN (1u << 20)

struct wal_uring_io {
    struct wal_io io;
    struct io_uring ring;
    int efd;
    int inflight; /* requests submitted and not reaped */
    struct wal_req *head, *tail;
    /* zero-fill of a spare segment: one at a time (the WAL keeps one) */
    uint8_t *zeros;
    size_t zeros_len;
    struct iovec zero_iov[URING_ZERO_IOVS];
};

/* SQEs in req's chain: the write (or zero-fill), its fdatasync, and the
 * directory fsync of a new segment. */
static int req_sqes(const struct wal_req *req)
{
    return 1 + !!(req->flags & (WAL_REQ_SYNC | WAL_REQ_ALLOCATE)) +
           !!(req->flags & WAL_REQ_SYNC_DIR);
}

/* Points the zero iovecs over [0, len): chunks of one calloc'ed buffer
 * (its pages are never written, so they cost no memory). Returns the
 * iovec count, or <0. */
static int zero_iovs(struct wal_uring_io *u, size_t len)
{
    size_t chunk = (len + URING_ZERO_IOVS - 1) / URING_ZERO_IOVS;
    chunk = chunk < URING_ZERO_MIN ? URING_ZERO_MIN
                                   : (chunk + 4095) & ~(size_t)4095;
    if (chunk > u->zeros_len) {
        wal__free(u->zeros);
        u->zeros_len = 0;
        if ((u->zeros = wal__calloc(1, chunk)) == NULL)
            return ERR_NOMEM;
        u->zeros_len = chunk;
    }
    int n = 0;
    for (size_t off = 0; off < len; off += chunk, n++) {
        u->zero_iov[n].iov_base = u->zeros;
        u->zero_iov[n].iov_len = len - off < chunk ? len - off : chunk;
    }
    return n;
}

static struct io_uring_sqe *get_sqe(struct wal_uring_io *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (sqe == NULL) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static int uring_submit(struct wal_io *io, struct wal_req *req)
{
    struct wal_uring_io *u = (struct wal_uring_io *)io;
    int n = req_sqes(req);
    int niov = 0;
    if ((req->flags & WAL_REQ_ALLOCATE) &&
        (niov = zero_iovs(u, req->len)) < 0)
        return niov;
    if (io_uring_sq_space_left(&u->ring) < (unsigned)n)
        io_uring_submit(&u->ring);
    struct io_uring_sqe *sqe = get_sqe(u);
    if (sqe == NULL)
        return ERR_IO;
    req->status = 0;
    req->pending = n;
    if (req->flags & WAL_REQ_ALLOCATE)
        io_uring_prep_writev(sqe, req->fd, u->zero_iov, (unsigned)niov, 0);
    else
        io_uring_prep_write(sqe, req->fd, req->buf, (unsigned)req->len,
                            req->off);
    io_uring_sqe_set_data(sqe, req);
    if (req->flags & (WAL_REQ_SYNC | WAL_REQ_ALLOCATE)) {
        sqe->flags |= IOSQE_IO_LINK;
        sqe = get_sqe(u);
        io_uring_prep_fsync(sqe, req->fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data(sqe, req);
    }
    if (req->flags & WAL_REQ_SYNC_DIR) {
        sqe->flags |= IOSQE_IO_LINK;
        sqe = get_sqe(u);
        io_uring_prep_fsync(sqe, io->dir_fd, 0);
        io_uring_sqe_set_data(sqe, req);
    }
    int rv = io_uring_submit(&u->ring);
    if (rv < 0)
        return ERR_IO;
    u->inflight++;
    return 0;
}

/* The first SQE of a chain is the write: its result must be the full
 * length (a short write in a chain cancels what follows). */
static void complete_cqe(struct wal_uring_io *u, struct io_uring_cqe *cqe)
{
    struct wal_req *req = io_uring_cqe_get_data(cqe);
    int first = req->pending == req_sqes(req);
    if (cqe->res < 0 && req->status == 0)
        req->status = cqe->res == -ENOSPC ? ERR_NOSPACE : ERR_IO;
    if (first && cqe->res >= 0 && (size_t)cqe->res != req->len &&
        req->status == 0)
        req->status = ERR_IO;
    if (--req->pending > 0)
        return;
    req->next = NULL;
    if (u->tail)
        u->tail->next = req;
    else
        u->head = req;
    u->tail = req;
    u->inflight--;
}

static struct wal_req *uring_reap(struct wal_io *io)
{
    struct wal_uring_io *u = (struct wal_uring_io *)io;
    /* One read resets the eventfd counter (it is not EFD_SEMAPHORE); a
     * second read would only return EAGAIN, one wasted syscall per wake. */
    uint64_t v;
    if (read(u->efd, &v, sizeof(v)) < 0)
        v = 0;
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
        complete_cqe(u, cqe);
        io_uring_cqe_seen(&u->ring, cqe);
    }
    struct wal_req *list = u->head;
    u->head = u->tail = NULL;
    return list;
}

static void uring_wait(struct wal_io *io)
{
    struct wal_uring_io *u = (struct wal_uring_io *)io;
    struct io_uring_cqe *cqe;
    if (u->inflight > 0 && u->head == NULL)
        io_uring_wait_cqe(&u->ring, &cqe);
}

static int uring_event_fd(struct wal_io *io)
{
    return ((struct wal_uring_io *)io)->efd;
}

static void uring_destroy(struct wal_io *io)
{
    struct wal_uring_io *u = (struct wal_uring_io *)io;
    io_uring_queue_exit(&u->ring);
    close(u->efd);
    wal__posix_fini(io);
    wal__free(u->zeros);
    wal__free(u);
}

static struct wal_io_ops uring_ops;

int wal_uring_available(void)
{
    static int probed = -1;
    if (probed < 0) {
        struct io_uring ring;
        probed = io_uring_queue_init(2, &ring, 0) == 0;
        if (probed)
            io_uring_queue_exit(&ring);
    }
    return probed;
}

int wal__uring_create(const char *dir, struct wal_io **out)
{
    struct wal_uring_io *u = wal__calloc(1, sizeof(*u));
    if (u == NULL)
        return ERR_NOMEM;
    int rv = wal__posix_init(&u->io, dir);
    if (rv != 0)
        goto err_after_alloc;
    rv = ERR_IO;
    if (io_uring_queue_init(URING_DEPTH, &u->ring, 0) < 0)
        goto err_after_posix;
    u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (u->efd < 0)
        goto err_after_ring;
    if (io_uring_register_eventfd(&u->ring, u->efd) < 0)
        goto err_after_efd;
    uring_ops = wal__posix_ops;
    uring_ops.name = "uring";
    uring_ops.submit = uring_submit;
    uring_ops.allocate_async = 1;
    uring_ops.reap = uring_reap;
    uring_ops.wait = uring_wait;
    uring_ops.event_fd = uring_event_fd;
    uring_ops.destroy = uring_destroy;
    u->io.ops = &uring_ops;
    *out = &u->io;
    return 0;
err_after_efd:
    close(u->efd);
err_after_ring:
    io_uring_queue_exit(&u->ring);
err_after_posix:
    wal__posix_fini(&u->io);
err_after_alloc:
    wal__free(u);
    return rv;
}
