/* The in-memory, fault-injecting backend: a data directory held in a struct
 * wal_mem_disk that outlives the WAL, so a test or the Raft simulator can
 * "crash" it and open a new WAL on what survived. Each file keeps its bytes
 * and those of its last fsync; a crash drops the difference (or keeps some).
 * Faults: fail or tear the Nth write, fail the Nth fsync, defer fsyncs to
 * reaping (a slow disk). Directory operations are durable at once. With a
 * loop, completions are announced on an eventfd like the sync backend's;
 * without one (the simulator) no descriptor is used and the owner polls. */
#include "wal/wal_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "err.h"

#define MEM_MAX_FILES 4096

struct mem_file {
    char *name; /* NULL once unlinked */
    uint8_t *data;
    size_t len, cap;
    uint8_t *durable;
    size_t dlen;
    size_t dirty_lo, dirty_hi; /* range written since the last sync */
};

struct wal_mem_disk {
    struct mem_file *files[MEM_MAX_FILES];
    int nfiles;
    uint64_t writes, syncs;
    uint64_t fail_at, tear_at, sync_fail_at;
    int fail_lasting;
    size_t tear_keep;
    int defer_sync;
};

struct wal_mem_io {
    struct wal_io io;
    struct wal_mem_disk *d;
    int efd;
    struct wal_req *head, *tail;
};

static struct wal_mem_disk *disk_of(struct wal_io *io)
{
    return ((struct wal_mem_io *)io)->d;
}

static struct mem_file *file_find(struct wal_mem_disk *d, const char *name)
{
    for (int i = 0; i < d->nfiles; i++)
        if (d->files[i]->name && strcmp(d->files[i]->name, name) == 0)
            return d->files[i];
    return NULL;
}

static int file_slot(struct wal_mem_disk *d, struct mem_file *f)
{
    for (int i = 0; i < d->nfiles; i++)
        if (d->files[i] == f)
            return i;
    return -1;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    uint8_t *p = realloc(*buf, ncap);
    if (p == NULL)
        return ERR_NOMEM;
    memset(p + *cap, 0, ncap - *cap);
    *buf = p;
    *cap = ncap;
    return 0;
}

/* Sets the current length; new bytes read as zeros. */
static int file_set_len(struct mem_file *f, size_t len)
{
    if (grow(&f->data, &f->cap, len) != 0)
        return ERR_NOMEM;
    if (len < f->len)
        memset(f->data + len, 0, f->len - len);
    f->len = len;
    return 0;
}

static void mark_dirty(struct mem_file *f, size_t lo, size_t hi)
{
    if (f->dirty_lo == f->dirty_hi) {
        f->dirty_lo = lo;
        f->dirty_hi = hi;
        return;
    }
    if (lo < f->dirty_lo)
        f->dirty_lo = lo;
    if (hi > f->dirty_hi)
        f->dirty_hi = hi;
}

/* Copies what changed since the last sync into the durable image. */
static int file_sync(struct mem_file *f)
{
    uint8_t *p = realloc(f->durable, f->len ? f->len : 1);
    if (p == NULL)
        return ERR_NOMEM;
    f->durable = p;
    if (f->len > f->dlen)
        memcpy(f->durable + f->dlen, f->data + f->dlen, f->len - f->dlen);
    size_t hi = f->dirty_hi < f->len ? f->dirty_hi : f->len;
    if (f->dirty_lo < hi)
        memcpy(f->durable + f->dirty_lo, f->data + f->dirty_lo,
               hi - f->dirty_lo);
    f->dlen = f->len;
    f->dirty_lo = f->dirty_hi = 0;
    return 0;
}

static struct mem_file *file_new(struct wal_mem_disk *d, const char *name)
{
    if (d->nfiles == MEM_MAX_FILES)
        return NULL;
    struct mem_file *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->name = strdup(name);
    if (f->name == NULL) {
        free(f);
        return NULL;
    }
    d->files[d->nfiles++] = f;
    return f;
}

static int mem_open(struct wal_io *io, const char *name, int flags, int *fd)
{
    struct wal_mem_disk *d = disk_of(io);
    struct mem_file *f = file_find(d, name);
    if (f == NULL && !(flags & WAL_OPEN_CREATE))
        return ERR_NOTFOUND;
    if (f == NULL && (f = file_new(d, name)) == NULL)
        return ERR_NOMEM;
    if (flags & WAL_OPEN_TRUNC) {
        file_set_len(f, 0);
        f->dlen = 0; /* truncation is a metadata change: durable at once */
    }
    *fd = file_slot(d, f);
    return 0;
}

static void mem_close(struct wal_io *io, int fd)
{
}

static long mem_pread(struct wal_io *io, int fd, void *buf, size_t len,
                      uint64_t off)
{
    struct mem_file *f = disk_of(io)->files[fd];
    if (off >= f->len)
        return 0;
    size_t n = f->len - off < len ? f->len - off : len;
    memcpy(buf, f->data + off, n);
    return (long)n;
}

/* Applies the write faults; returns the bytes to store and the status. */
static int write_fault(struct wal_mem_disk *d, size_t *len)
{
    d->writes++;
    if (d->fail_at && (d->writes == d->fail_at ||
                       (d->fail_lasting && d->writes > d->fail_at))) {
        *len = 0;
        return ERR_IO;
    }
    if (d->tear_at && d->writes == d->tear_at) {
        if (d->tear_keep < *len)
            *len = d->tear_keep;
        return ERR_IO;
    }
    return 0;
}

static int mem_pwrite(struct wal_io *io, int fd, const void *buf, size_t len,
                      uint64_t off)
{
    struct wal_mem_disk *d = disk_of(io);
    struct mem_file *f = d->files[fd];
    size_t n = len;
    int status = write_fault(d, &n);
    if (n > 0) {
        if (off + n > f->len && file_set_len(f, off + n) != 0)
            return ERR_NOMEM;
        memcpy(f->data + off, buf, n);
        mark_dirty(f, off, off + n);
    }
    if (status != 0 && n > 0) /* a torn write: its prefix is on the disk */
        file_sync(f);
    return status;
}

static int mem_sync(struct wal_io *io, int fd)
{
    struct wal_mem_disk *d = disk_of(io);
    d->syncs++;
    if (d->sync_fail_at && d->syncs == d->sync_fail_at)
        return ERR_IO;
    return file_sync(d->files[fd]);
}

static int mem_size(struct wal_io *io, int fd, uint64_t *size)
{
    *size = disk_of(io)->files[fd]->len;
    return 0;
}

/* Preallocation changes nothing a reader can see but the file size, which
 * recovery does not rely on: the mem disk skips it, so a simulated node
 * costs only the bytes it wrote, whatever wal-segment-size is. */
static int mem_allocate(struct wal_io *io, int fd, uint64_t len)
{
    return 0;
}

static int mem_zero(struct wal_io *io, int fd, uint64_t off, uint64_t len)
{
    struct mem_file *f = disk_of(io)->files[fd];
    if (off >= f->len)
        return 0;
    if (off + len > f->len)
        len = f->len - off;
    memset(f->data + off, 0, (size_t)len);
    mark_dirty(f, (size_t)off, (size_t)(off + len));
    return 0;
}

static int mem_truncate(struct wal_io *io, int fd, uint64_t len)
{
    struct mem_file *f = disk_of(io)->files[fd];
    if (file_set_len(f, (size_t)len) != 0)
        return ERR_NOMEM;
    if (f->dlen > len)
        f->dlen = (size_t)len;
    return 0;
}

static int mem_rename(struct wal_io *io, const char *from, const char *to)
{
    struct wal_mem_disk *d = disk_of(io);
    struct mem_file *f = file_find(d, from);
    if (f == NULL)
        return ERR_IO;
    struct mem_file *old = file_find(d, to);
    char *name = strdup(to);
    if (name == NULL)
        return ERR_NOMEM;
    if (old) {
        free(old->name);
        old->name = NULL;
    }
    free(f->name);
    f->name = name;
    return 0;
}

static int mem_unlink(struct wal_io *io, const char *name)
{
    struct mem_file *f = file_find(disk_of(io), name);
    if (f) {
        free(f->name);
        f->name = NULL;
    }
    return 0;
}

static int mem_sync_dir(struct wal_io *io)
{
    return 0;
}

static int mem_list(struct wal_io *io, void (*cb)(void *data, const char *n),
                    void *data)
{
    struct wal_mem_disk *d = disk_of(io);
    for (int i = 0; i < d->nfiles; i++)
        if (d->files[i]->name)
            cb(data, d->files[i]->name);
    return 0;
}

static int mem_lock(struct wal_io *io)
{
    return 0;
}

/* With defer_sync, the write lands now and the fsync when the request is
 * reaped: the window in which a crash loses written, unsynced bytes. */
static int mem_submit(struct wal_io *io, struct wal_req *req)
{
    struct wal_mem_io *m = (struct wal_mem_io *)io;
    int rv = mem_pwrite(io, req->fd, req->buf, req->len, req->off);
    req->pending = m->d->defer_sync && rv == 0 &&
                   (req->flags & WAL_REQ_SYNC);
    if (rv == 0 && (req->flags & WAL_REQ_SYNC) && !req->pending)
        rv = mem_sync(io, req->fd);
    req->status = rv;
    req->next = NULL;
    if (m->tail)
        m->tail->next = req;
    else
        m->head = req;
    m->tail = req;
    uint64_t one = 1;
    /* Without a loop there is no eventfd: the owner polls. A failed write
     * means the counter is saturated: a wakeup is pending anyway. */
    if (m->efd >= 0 && write(m->efd, &one, sizeof(one)) < 0)
        return 0;
    return 0;
}

static struct wal_req *mem_reap(struct wal_io *io)
{
    struct wal_mem_io *m = (struct wal_mem_io *)io;
    uint64_t v;
    while (m->efd >= 0 && read(m->efd, &v, sizeof(v)) > 0)
        ;
    struct wal_req *list = m->head;
    m->head = m->tail = NULL;
    for (struct wal_req *r = list; r; r = r->next)
        if (r->pending) {
            r->pending = 0;
            r->status = mem_sync(io, r->fd);
        }
    return list;
}

static void mem_wait(struct wal_io *io)
{
}

static int mem_event_fd(struct wal_io *io)
{
    return ((struct wal_mem_io *)io)->efd;
}

static void mem_destroy(struct wal_io *io)
{
    struct wal_mem_io *m = (struct wal_mem_io *)io;
    if (m->efd >= 0)
        close(m->efd);
    free(m);
}

/* No size limit: a full disk is a lasting write failure here. */
static int mem_space(struct wal_io *io, uint64_t *avail)
{
    *avail = UINT64_MAX;
    return 0;
}

static const struct wal_io_ops mem_ops = {
    .name = "mem",
    .open = mem_open,
    .close = mem_close,
    .pread = mem_pread,
    .pwrite = mem_pwrite,
    .sync = mem_sync,
    .size = mem_size,
    .allocate = mem_allocate,
    .zero = mem_zero,
    .truncate = mem_truncate,
    .rename = mem_rename,
    .unlink = mem_unlink,
    .sync_dir = mem_sync_dir,
    .space = mem_space,
    .list = mem_list,
    .lock = mem_lock,
    .submit = mem_submit,
    .reap = mem_reap,
    .wait = mem_wait,
    .event_fd = mem_event_fd,
    .destroy = mem_destroy,
};

int wal__mem_create(struct wal_mem_disk *d, int with_eventfd,
                    struct wal_io **out)
{
    if (d == NULL)
        return ERR_INVALID;
    struct wal_mem_io *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return ERR_NOMEM;
    m->efd = with_eventfd ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
    if (with_eventfd && m->efd < 0) {
        free(m);
        return ERR_IO;
    }
    m->d = d;
    m->io.ops = &mem_ops;
    m->io.dir_fd = -1;
    m->io.lock_fd = -1;
    *out = &m->io;
    return 0;
}

/* ---- the test-facing disk API ---- */

struct wal_mem_disk *wal_mem_disk_create(void)
{
    return calloc(1, sizeof(struct wal_mem_disk));
}

void wal_mem_disk_destroy(struct wal_mem_disk *d)
{
    if (d == NULL)
        return;
    for (int i = 0; i < d->nfiles; i++) {
        free(d->files[i]->name);
        free(d->files[i]->data);
        free(d->files[i]->durable);
        free(d->files[i]);
    }
    free(d);
}

void wal_mem_fail_write(struct wal_mem_disk *d, uint64_t nth, int lasting)
{
    d->fail_at = d->writes + nth;
    d->fail_lasting = lasting;
}

void wal_mem_tear_write(struct wal_mem_disk *d, uint64_t nth, size_t keep)
{
    d->tear_at = d->writes + nth;
    d->tear_keep = keep;
}

void wal_mem_fail_sync(struct wal_mem_disk *d, uint64_t nth)
{
    d->sync_fail_at = d->syncs + nth;
}

void wal_mem_defer_sync(struct wal_mem_disk *d, int on)
{
    d->defer_sync = on;
}

/* Keeps a random prefix of what each file changed since its last sync,
 * as a disk that wrote back some pages before the power went. */
static void keep_some_unsynced(struct mem_file *f, unsigned *seed)
{
    size_t hi = f->dirty_hi < f->len ? f->dirty_hi : f->len;
    if (f->dirty_lo >= hi)
        return;
    size_t end = f->dirty_lo + (size_t)rand_r(seed) % (hi - f->dirty_lo + 1);
    if (end == f->dirty_lo)
        return; /* nothing kept (and durable may still be NULL) */
    if (end > f->dlen) {
        uint8_t *p = realloc(f->durable, end);
        if (p == NULL)
            return;
        memset(p + f->dlen, 0, end - f->dlen);
        f->durable = p;
        f->dlen = end;
    }
    memcpy(f->durable + f->dirty_lo, f->data + f->dirty_lo,
           end - f->dirty_lo);
}

void wal_mem_crash_torn(struct wal_mem_disk *d, unsigned seed)
{
    for (int i = 0; i < d->nfiles; i++)
        keep_some_unsynced(d->files[i], &seed);
    wal_mem_crash(d);
}

void wal_mem_crash(struct wal_mem_disk *d)
{
    for (int i = 0; i < d->nfiles; i++) {
        struct mem_file *f = d->files[i];
        file_set_len(f, f->dlen);
        if (f->dlen)
            memcpy(f->data, f->durable, f->dlen);
        f->dirty_lo = f->dirty_hi = 0;
    }
    d->fail_at = d->tear_at = d->sync_fail_at = 0;
    d->fail_lasting = 0;
}

uint64_t wal_mem_write_count(const struct wal_mem_disk *d)
{
    return d->writes;
}

uint8_t *wal_mem_file(struct wal_mem_disk *d, const char *name, size_t *len)
{
    struct mem_file *f = file_find(d, name);
    if (f == NULL)
        return NULL;
    *len = f->len;
    return f->data;
}

int wal_mem_file_resize(struct wal_mem_disk *d, const char *name, size_t len)
{
    struct mem_file *f = file_find(d, name);
    if (f == NULL)
        return ERR_NOTFOUND;
    if (file_set_len(f, len) != 0)
        return ERR_NOMEM;
    f->dirty_lo = 0;
    f->dirty_hi = len;
    return file_sync(f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int wal_mem_list(struct wal_mem_disk *d, char *buf, size_t len)
{
    char *names[MEM_MAX_FILES];
    int n = 0;
    for (int i = 0; i < d->nfiles; i++)
        if (d->files[i]->name)
            names[n++] = d->files[i]->name;
    qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(names[i]) + 1;
        if (off + l > len)
            break;
        memcpy(buf + off, names[i], l);
        off += l;
    }
    return n;
}
