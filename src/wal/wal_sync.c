/* The plain-syscall backend (wal-io sync), and the file operations that the
 * io_uring backend shares with it. A submitted request (pwrite, then
 * fdatasync and the directory fsync) runs on a small worker thread, so the
 * loop never waits for the disk, and its completion is announced on an
 * eventfd, so the WAL reaps it exactly as it reaps io_uring completions.
 * With wal-sync-thread no, writes run at once in the caller's thread and
 * are reaped as submit returns (the owner flushes where blocking costs
 * least); the thread then only preallocates spare segments and unlinks
 * the files a snapshot made obsolete.
 * Happy path: one pwrite and one fdatasync per batch. Failure modes: EINTR
 * and short writes are retried; any other error completes the request with
 * ERR_IO (or ERR_NOSPACE). */
#include "wal/wal_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

#define LOCK_NAME "LOCK"

static int errno_status(void)
{
    return (errno == ENOSPC || errno == EDQUOT) ? ERR_NOSPACE : ERR_IO;
}

int wal__posix_init(struct wal_io *io, const char *dir)
{
    io->lock_fd = -1;
    io->dir = wal__strdup(dir);
    if (io->dir == NULL)
        return ERR_NOMEM;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        goto err_after_dup;
    io->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (io->dir_fd < 0)
        goto err_after_dup;
    return 0;
err_after_dup:
    wal__free(io->dir);
    io->dir = NULL;
    return ERR_IO;
}

void wal__posix_fini(struct wal_io *io)
{
    if (io->lock_fd >= 0)
        close(io->lock_fd); /* releases the flock */
    if (io->dir_fd >= 0)
        close(io->dir_fd);
    wal__free(io->dir);
}

static int posix_open(struct wal_io *io, const char *name, int flags, int *fd)
{
    int oflags = O_RDWR | O_CLOEXEC;
    if (flags & WAL_OPEN_CREATE)
        oflags |= O_CREAT;
    if (flags & WAL_OPEN_TRUNC)
        oflags |= O_TRUNC;
    int rv = openat(io->dir_fd, name, oflags, 0644);
    if (rv < 0)
        return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
    *fd = rv;
    return 0;
}

static void posix_close(struct wal_io *io, int fd)
{
    close(fd);
}

static long posix_pread(struct wal_io *io, int fd, void *buf, size_t len,
                        uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done,
                          (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ERR_IO;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (long)done;
}

static int posix_pwrite(struct wal_io *io, int fd, const void *buf,
                        size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
                           (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return errno_status();
        done += (size_t)n;
    }
    return 0;
}

static int posix_sync(struct wal_io *io, int fd)
{
    return fdatasync(fd) == 0 ? 0 : ERR_IO;
}

static int posix_size(struct wal_io *io, int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ERR_IO;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int posix_pwrite(struct wal_io *io, int fd, const void *buf,
                        size_t len, uint64_t off);

/* Small enough that a group commit's fdatasync, which queues behind the
 * zeros in flight, waits for one chunk: with 1 MiB chunks on a virtual
 * disk each took 20-40 ms and so did the fsyncs issued meanwhile (SET -P
 * 16 p99 26-31 ms on 3 nodes; 17-25 ms with 64 KiB). */
#define ZERO_CHUNK (64u << 10)
#define DIRECT_ALIGN 4096

/* Writes zeros over [0, len) of the file fd names through a second
 * descriptor opened with O_DIRECT: the zeros go from one buffer straight
 * to the device, instead of being copied into 64 MiB of page cache that
 * the kernel then writes back (measured: 5 instead of 11-96 ms of CPU per
 * 64 MiB segment, plus the flusher's). Returns how many bytes it wrote
 * (a multiple of DIRECT_ALIGN; 0 where O_DIRECT is refused, as on tmpfs). */
static uint64_t zero_direct(struct wal_io *io, int fd, uint64_t len)
{
    static _Alignas(DIRECT_ALIGN) const uint8_t zeros[ZERO_CHUNK];
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int dfd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    uint64_t end = len / DIRECT_ALIGN * DIRECT_ALIGN, off = 0;
    while (off < end) {
        size_t n = end - off < ZERO_CHUNK ? (size_t)(end - off) : ZERO_CHUNK;
        if (posix_pwrite(io, dfd, zeros, n, off) != 0)
            break;
        off += n;
    }
    close(dfd);
    return off;
}

/* Preallocates [0, len) and writes zeros over it, then fdatasync: the
 * blocks are then allocated and initialised on disk. fallocate alone
 * leaves unwritten extents (ext4, xfs), and every fdatasync after an
 * append into one must also write the inode or extent block recording
 * the conversion: one more device write and wait per group commit. The
 * fallocate first reserves the space (ENOSPC now, not mid-segment) in
 * large extents. What O_DIRECT did not cover is written through fd. */
static int posix_allocate(struct wal_io *io, int fd, uint64_t len)
{
    static const uint8_t zeros[ZERO_CHUNK];
    int rv = posix_fallocate(fd, 0, (off_t)len);
    if (rv != 0)
        return (rv == ENOSPC || rv == EDQUOT) ? ERR_NOSPACE : ERR_IO;
    for (uint64_t off = zero_direct(io, fd, len); off < len && rv == 0;
         off += sizeof(zeros)) {
        size_t n = len - off < sizeof(zeros) ? (size_t)(len - off)
                                             : sizeof(zeros);
        rv = posix_pwrite(io, fd, zeros, n, off);
    }
    if (rv == 0 && fdatasync(fd) != 0)
        rv = ERR_IO;
    return rv;
}

/* FALLOC_FL_ZERO_RANGE turns the range back into unwritten extents in one
 * metadata operation (ext4, xfs); punching a hole reads back as zeros too
 * (tmpfs); other file systems get zeros written. */
static int posix_zero(struct wal_io *io, int fd, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    if (fallocate(fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len) == 0 ||
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                  (off_t)len) == 0)
        return 0;
    static const uint8_t zeros[65536];
    while (len > 0) {
        size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
        int rv = posix_pwrite(io, fd, zeros, n, off);
        if (rv != 0)
            return rv;
        off += n;
        len -= n;
    }
    return 0;
}

static int posix_truncate(struct wal_io *io, int fd, uint64_t len)
{
    return ftruncate(fd, (off_t)len) == 0 ? 0 : ERR_IO;
}

static int posix_rename(struct wal_io *io, const char *from, const char *to)
{
    return renameat(io->dir_fd, from, io->dir_fd, to) == 0 ? 0 : ERR_IO;
}

static int posix_unlink(struct wal_io *io, const char *name)
{
    if (unlinkat(io->dir_fd, name, 0) == 0 || errno == ENOENT)
        return 0;
    return ERR_IO;
}

static int posix_sync_dir(struct wal_io *io)
{
    return fsync(io->dir_fd) == 0 ? 0 : ERR_IO;
}

static int posix_space(struct wal_io *io, uint64_t *avail)
{
    struct statvfs sv;
    if (fstatvfs(io->dir_fd, &sv) != 0)
        return ERR_IO;
    *avail = (uint64_t)sv.f_bavail * (sv.f_frsize ? sv.f_frsize : sv.f_bsize);
    return 0;
}

static int posix_list(struct wal_io *io,
                      void (*cb)(void *data, const char *name), void *data)
{
    int fd = dup(io->dir_fd);
    if (fd < 0)
        return ERR_IO;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return ERR_IO;
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        cb(data, de->d_name);
    }
    closedir(d);
    return 0;
}

/* flock, not fcntl locks: it belongs to the open file, so a forked
 * snapshot child does not drop it when it exits. */
static int posix_lock(struct wal_io *io)
{
    int fd = openat(io->dir_fd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC,
                    0644);
    if (fd < 0)
        return ERR_IO;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return errno == EWOULDBLOCK ? ERR_BUSY : ERR_IO;
    }
    io->lock_fd = fd;
    return 0;
}

const struct wal_io_ops wal__posix_ops = {
    .name = "posix",
    .open = posix_open,
    .close = posix_close,
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .sync = posix_sync,
    .size = posix_size,
    .allocate = posix_allocate,
    .zero = posix_zero,
    .truncate = posix_truncate,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .sync_dir = posix_sync_dir,
    .space = posix_space,
    .list = posix_list,
    .lock = posix_lock,
};

/* ---- the submit path: inline or on the worker thread ---- */

struct wal_sync_io {
    struct wal_io io;
    struct wal_io_ops ops; /* per instance: the flags differ by mode */
    int efd;
    int inline_writes; /* wal-sync-thread no: writes run in submit */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    struct wal_req *qhead, *qtail; /* submitted, not started */
    struct wal_req *head, *tail;   /* completed, not reaped */
    int announced; /* the eventfd was written since the last reap */
    int outstanding;
    int stop;
};

static void push(struct wal_req **head, struct wal_req **tail,
                 struct wal_req *req)
{
    req->next = NULL;
    if (*tail)
        (*tail)->next = req;
    else
        *head = req;
    *tail = req;
}

/* Gives an obsolete file up in steps. It is renamed to NAME.tmp (which
 * recovery deletes) and the directory synced, so it leaves the log at once
 * and in the order given; then its blocks are freed UNLINK_STEP at a time,
 * each step a small journal transaction, with pause_ns between them when
 * no write waits behind this thread: freeing a 64 MiB segment in one
 * unlink made the fdatasyncs of every other writer on the file system
 * wait 25-60 ms behind it. */
#define UNLINK_STEP (8 << 20)
#define UNLINK_PAUSE_NS 2000000

static int unlink_gradually(struct wal_io *io, const char *name,
                            long pause_ns)
{
    char tmp[80]; /* names are under 64 bytes (struct wal_unlink) */
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    if (renameat(io->dir_fd, name, io->dir_fd, tmp) != 0)
        return errno == ENOENT ? 0 : ERR_IO;
    int rv = posix_sync_dir(io);
    int fd = openat(io->dir_fd, tmp, O_WRONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        for (off_t size = st.st_size; size > 0;) {
            size = size > UNLINK_STEP ? size - UNLINK_STEP : 0;
            if (ftruncate(fd, size) != 0)
                break;
            if (pause_ns > 0 && size > 0)
                nanosleep(&(struct timespec){0, pause_ns}, NULL);
        }
    }
    if (fd >= 0)
        close(fd);
    int urv = posix_unlink(io, tmp);
    return rv != 0 ? rv : urv;
}

static void run_req(struct wal_io *io, struct wal_req *req, long pause_ns)
{
    if (req->flags & WAL_REQ_ALLOCATE) {
        req->status = posix_allocate(io, req->fd, req->len);
        return;
    }
    if (req->flags & WAL_REQ_UNLINK) {
        req->status = unlink_gradually(io, req->name, pause_ns);
        return;
    }
    int rv = posix_pwrite(io, req->fd, req->buf, req->len, req->off);
    if (rv == 0 && (req->flags & WAL_REQ_SYNC))
        rv = posix_sync(io, req->fd);
    if (rv == 0 && (req->flags & WAL_REQ_SYNC_DIR))
        rv = posix_sync_dir(io);
    req->status = rv;
}

static void announce(struct wal_sync_io *s)
{
    uint64_t one = 1;
    s->announced = 1;
    /* EAGAIN: the counter is saturated, a wakeup is pending anyway. */
    if (write(s->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        abort();
}

static void *worker(void *arg)
{
    struct wal_sync_io *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->qhead == NULL && !s->stop)
            pthread_cond_wait(&s->work_cv, &s->mu);
        if (s->qhead == NULL)
            break;
        struct wal_req *req = s->qhead;
        s->qhead = req->next;
        if (s->qhead == NULL)
            s->qtail = NULL;
        pthread_mutex_unlock(&s->mu);
        run_req(&s->io, req, s->inline_writes ? UNLINK_PAUSE_NS : 0);
        pthread_mutex_lock(&s->mu);
        push(&s->head, &s->tail, req);
        s->outstanding--;
        pthread_cond_broadcast(&s->done_cv);
        announce(s);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int sync_submit(struct wal_io *io, struct wal_req *req)
{
    struct wal_sync_io *s = (struct wal_sync_io *)io;
    if (s->inline_writes &&
        !(req->flags & (WAL_REQ_ALLOCATE | WAL_REQ_UNLINK))) {
        /* Reaped by the WAL right after this returns: no eventfd. */
        run_req(io, req, 0);
        pthread_mutex_lock(&s->mu);
        push(&s->head, &s->tail, req);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    push(&s->qhead, &s->qtail, req);
    s->outstanding++;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static struct wal_req *sync_reap(struct wal_io *io)
{
    struct wal_sync_io *s = (struct wal_sync_io *)io;
    pthread_mutex_lock(&s->mu);
    /* One read resets the eventfd counter (it is not EFD_SEMAPHORE), and
     * only an announced completion needs it (inline ones are not): under
     * the lock, so that no announcement slips in between. */
    uint64_t v;
    if (s->announced && read(s->efd, &v, sizeof(v)) < 0)
        v = 0;
    s->announced = 0;
    struct wal_req *list = s->head;
    s->head = s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    return list;
}

static void sync_wait(struct wal_io *io)
{
    struct wal_sync_io *s = (struct wal_sync_io *)io;
    pthread_mutex_lock(&s->mu);
    while (s->head == NULL && s->outstanding > 0)
        pthread_cond_wait(&s->done_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static int sync_event_fd(struct wal_io *io)
{
    return ((struct wal_sync_io *)io)->efd;
}

static void sync_destroy(struct wal_io *io)
{
    struct wal_sync_io *s = (struct wal_sync_io *)io;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    close(s->efd);
    wal__posix_fini(io);
    wal__free(s);
}

static int start_thread(struct wal_sync_io *s)
{
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    if (pthread_create(&s->thread, NULL, worker, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->work_cv);
        pthread_cond_destroy(&s->done_cv);
        return ERR_IO;
    }
    return 0;
}

int wal__sync_create(const char *dir, int inline_writes, struct wal_io **out)
{
    struct wal_sync_io *s = wal__calloc(1, sizeof(*s));
    if (s == NULL)
        return ERR_NOMEM;
    int rv = wal__posix_init(&s->io, dir);
    if (rv != 0) {
        wal__free(s);
        return rv;
    }
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0 || start_thread(s) != 0) {
        if (s->efd >= 0)
            close(s->efd);
        wal__posix_fini(&s->io);
        wal__free(s);
        return ERR_IO;
    }
    s->inline_writes = inline_writes;
    s->ops = wal__posix_ops;
    s->ops.name = "sync";
    s->ops.submit = sync_submit;
    s->ops.allocate_async = 1;
    s->ops.unlink_async = 1;
    s->ops.completes_inline = inline_writes;
    s->ops.reap = sync_reap;
    s->ops.wait = sync_wait;
    s->ops.event_fd = sync_event_fd;
    s->ops.destroy = sync_destroy;
    s->io.ops = &s->ops;
    *out = &s->io;
    return 0;
}
