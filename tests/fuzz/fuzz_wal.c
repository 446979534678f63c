/* libFuzzer target for what a disk (or a leader shipping a snapshot) can
 * hand the WAL: the input becomes the files of a data directory on the
 * in-memory disk (wal_mem.c), which is then opened and recovered through
 * the public API (wal_open), replayed, and its snapshot read.
 *
 * Input: one flags byte, then files, each a kind byte, a little-endian
 * u16 length and that many bytes (the last one takes what is left).
 * Kinds (low 3 bits): 0 meta, 1 segment (sequence number 1 + the kind's
 * high bits), 2 snapshot (named after the term and index in its header),
 * 3 a leftover ".tmp" file, 4 snapshot bytes received from a leader after
 * the open (wal_snapshot_recv_*). Flags: bit 0 fixes every checksum the
 * formats carry (segment and record headers, meta, snapshot header and
 * trailer), since a fuzzer cannot forge XXH3; bit 1 opens with wal-repair;
 * bit 2 shrinks the recovery window so that records straddle it; bit 3
 * appends entries after the open and reopens.
 *
 * Refusal with an error is fine. Checked: no crash, sanitizer report,
 * leak or hang; what an open reports is consistent (replay yields exactly
 * first..last in order with the terms wal_term_at gives, the last term
 * matches); a WAL that opened opens again the same (whatever it
 * repaired), and after its own appends or snapshot install keeps its
 * entries. FUZZ_DEBUG=1 in the environment prints the WAL's log lines and
 * what each open found, to read a crash. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "err.h"
#include "wal/wal.h"
#include "wal/wal_internal.h"
#include "fuzz_seed.h"

#define KIND_META 0
#define KIND_SEGMENT 1
#define KIND_SNAPSHOT 2
#define KIND_TMP 3
#define KIND_RECV 4

#define FLAG_FIX 1
#define FLAG_REPAIR 2
#define FLAG_WINDOW 4
#define FLAG_APPEND 8

#define SEG_SIZE WAL_SEGMENT_SIZE_MIN
#define SNAP_HDR 48
#define SNAP_TRAILER 24
#define MAX_RECORDS 100000

/* Bytes are summed into here so that every byte handed out is read. */
static volatile uint64_t sink;

/* ---- checksum fix-ups (formats at the top of wal_segment.c,
 * wal_meta.c and wal_snapshot.c) ---- */

static void fix_segment(uint8_t *p, size_t len)
{
    if (len < WAL_SEG_HDR)
        return;
    wal__put64(p + 40, XXH3_64bits(p, 40));
    size_t off = WAL_SEG_HDR;
    while (len - off >= WAL_REC_HDR) {
        uint8_t *r = p + off;
        uint32_t n = wal__get32(r);
        size_t size = wal__rec_size(n);
        if (n > WAL_ENTRY_MAX || size > len - off)
            return;
        uint64_t seed = XXH3_64bits(r, 24);
        wal__put64(r + 24, XXH3_64bits_withSeed(r + WAL_REC_HDR,
                                                size - WAL_REC_HDR, seed));
        off += size;
    }
}

static void fix_meta(uint8_t *p, size_t len)
{
    if (len >= 48)
        wal__put64(p + 40, XXH3_64bits(p, 40));
}

static void fix_snapshot(uint8_t *p, size_t len)
{
    if (len < SNAP_HDR)
        return;
    wal__put64(p + 40, XXH3_64bits(p, 40));
    if (len < SNAP_HDR + 4 + SNAP_TRAILER)
        return;
    wal__put64(p + len - 8, XXH3_64bits(p, len - 8));
}

/* ---- the directory ---- */

/* Creates name on d with the given bytes, durable. */
static void put_file(struct wal_mem_disk *d, const char *name,
                     const uint8_t *p, size_t len)
{
    struct wal_io *io;
    int fd;
    if (wal__mem_create(d, 0, &io) != 0)
        abort();
    if (io->ops->open(io, name, WAL_OPEN_CREATE | WAL_OPEN_TRUNC, &fd) != 0 ||
        (len > 0 && io->ops->pwrite(io, fd, p, len, 0) != 0) ||
        io->ops->sync(io, fd) != 0)
        abort();
    io->ops->close(io, fd);
    io->ops->destroy(io);
}

static void snapshot_name(char *out, size_t cap, const uint8_t *p,
                          size_t len)
{
    uint64_t term = len >= 24 ? wal__get64(p + 16) : 1;
    uint64_t index = len >= 32 ? wal__get64(p + 24) : 1;
    snprintf(out, cap, "snap-%016llx-%016llx", (unsigned long long)index,
             (unsigned long long)term);
}

struct recv_bytes {
    const uint8_t *p;
    size_t len;
};

/* Lays the input's files out on d; the bytes to receive after the open
 * go to *recv (fixed up too, in scratch memory kept in *owned). */
static void lay_out(struct wal_mem_disk *d, uint8_t flags, const uint8_t *in,
                    size_t size, struct recv_bytes *recv, uint8_t **owned)
{
    size_t off = 0;
    int files = 0;
    while (off < size && files++ < 16) {
        uint8_t kind = in[off++];
        size_t len = 0;
        if (size - off >= 2) {
            len = in[off] | (size_t)in[off + 1] << 8;
            off += 2;
        }
        if (len > size - off)
            len = size - off;
        uint8_t *p = malloc(len + 1);
        memcpy(p, in + off, len);
        off += len;
        char name[64];
        switch (kind & 7) {
        case KIND_META:
            if (flags & FLAG_FIX)
                fix_meta(p, len);
            put_file(d, WAL_META_NAME, p, len);
            break;
        case KIND_SEGMENT:
            if (flags & FLAG_FIX)
                fix_segment(p, len);
            wal__seg_name(name, sizeof(name), 1 + (kind >> 3));
            put_file(d, name, p, len);
            break;
        case KIND_SNAPSHOT:
        case KIND_RECV:
            if (flags & FLAG_FIX)
                fix_snapshot(p, len);
            if ((kind & 7) == KIND_RECV && recv->p == NULL) {
                recv->p = p;
                recv->len = len;
                *owned = p;
                continue;
            }
            snapshot_name(name, sizeof(name), p, len);
            put_file(d, name, p, len);
            break;
        case KIND_TMP:
            snprintf(name, sizeof(name), "%s", "snap-1.tmp");
            put_file(d, name, p, len);
            break;
        default:
            break;
        }
        free(p);
    }
}

/* ---- checking an opened WAL ---- */

static void settle(struct wal *w)
{
    for (int i = 0; i < 1000; i++) {
        wal_flush(w);
        int rv = wal_poll(w);
        if (rv < 0 || (rv == 0 && wal_durable_index(w) == wal_last_index(w)))
            return;
    }
    abort(); /* the in-memory disk completes every request at once */
}

struct replay {
    struct wal *w;
    uint64_t next;
    uint64_t sum;
};

static int on_entry(void *data, const struct wal_entry *e)
{
    struct replay *r = data;
    if (e->index != r->next || e->term != wal_term_at(r->w, e->index))
        abort();
    const uint8_t *p = e->buf;
    for (uint32_t i = 0; i < e->len; i++)
        r->sum += p[i];
    r->next++;
    return 0;
}

static void check_log(struct wal *w, const struct wal_recovered *rec)
{
    if (getenv("FUZZ_DEBUG"))
        fprintf(stderr, "open: %llu..%llu last term %llu, snapshot %llu "
                "term %llu; wal %llu..%llu last term %llu\n",
                (unsigned long long)rec->first_index,
                (unsigned long long)rec->last_index,
                (unsigned long long)rec->last_term,
                (unsigned long long)rec->snap_index,
                (unsigned long long)rec->snap_term,
                (unsigned long long)wal_first_index(w),
                (unsigned long long)wal_last_index(w),
                (unsigned long long)wal_last_term(w));
    if (rec->first_index == 0 || rec->first_index != wal_first_index(w) ||
        rec->last_index != wal_last_index(w) ||
        rec->first_index > rec->last_index + 1 ||
        rec->last_term != wal_last_term(w))
        abort();
    if (rec->has_snapshot && rec->first_index > rec->snap_index + 1)
        abort();
    struct replay r = {w, rec->first_index, 0};
    int rv = wal_replay(w, rec->first_index, on_entry, &r);
    if (getenv("FUZZ_DEBUG"))
        fprintf(stderr, "replay %d: %llu..%llu, next %llu\n", rv,
                (unsigned long long)rec->first_index,
                (unsigned long long)rec->last_index,
                (unsigned long long)r.next);
    if (rv != 0 || r.next != rec->last_index + 1)
        abort();
    const uint8_t *m = rec->membership;
    for (uint32_t i = 0; i < rec->membership_len; i++)
        r.sum += m[i];
    sink += r.sum;
}

static void read_snapshot(struct wal *w)
{
    struct wal_snapshot_reader *rd;
    if (wal_snapshot_reader_open(w, &rd) != 0)
        return;
    struct wal_snapshot_meta meta;
    wal_snapshot_reader_meta(rd, &meta);
    const void *buf;
    size_t len;
    uint64_t sum = 0;
    for (int i = 0; i < MAX_RECORDS && wal_snapshot_read(rd, &buf, &len) > 0;
         i++)
        for (size_t k = 0; k < len; k++)
            sum += ((const uint8_t *)buf)[k];
    wal_snapshot_reader_close(rd);
    sink += sum;
    uint64_t size;
    uint8_t chunk[64];
    if (wal_snapshot_file_size(w, &size) == 0 && size > 0 &&
        wal_snapshot_chunk_read(w, size - 1, chunk, sizeof(chunk)) != 1)
        abort();
}

/* A leader ships snapshot bytes in two chunks. The core asks for an
 * install only past its own snapshot (Raft §7), so neither do we. */
static void receive_snapshot(struct wal *w, const struct recv_bytes *b)
{
    uint64_t term = b->len >= 24 ? wal__get64(b->p + 16) : 1;
    uint64_t index = b->len >= 32 ? wal__get64(b->p + 24) : 1;
    uint64_t snap_term, snap_index;
    if (wal_snapshot_last(w, &snap_term, &snap_index) == 0 &&
        index <= snap_index)
        return;
    struct wal_snapshot_recv *rv;
    if (wal_snapshot_recv_begin(w, term, index, &rv) != 0)
        return;
    size_t half = b->len / 2;
    if (wal_snapshot_recv_write(rv, 0, b->p, half) != 0 ||
        wal_snapshot_recv_write(rv, half, b->p + half, b->len - half) != 0) {
        wal_snapshot_recv_abort(rv);
        return;
    }
    wal_snapshot_recv_finish(rv);
}

static void append_some(struct wal *w, uint64_t *last)
{
    uint8_t payload[40];
    memset(payload, 0x5a, sizeof(payload));
    uint64_t term = wal_last_term(w) ? wal_last_term(w) : 1;
    for (uint64_t i = 0; i < 3; i++) {
        struct wal_entry e = {term, wal_last_index(w) + 1, 1, payload,
                              (uint32_t)(10 * i)};
        if (wal_append(w, &e, 1) != 0)
            break;
    }
    settle(w);
    *last = wal_durable_index(w);
}

static void log_line(void *data, const char *line)
{
    (void)data;
    if (getenv("FUZZ_DEBUG"))
        fprintf(stderr, "wal: %s\n", line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    struct wal_mem_disk *d = wal_mem_disk_create();
    struct recv_bytes recv = {NULL, 0};
    uint8_t *owned = NULL;
    lay_out(d, flags, data + 1, size - 1, &recv, &owned);
    wal__recover_window = flags & FLAG_WINDOW ? 96 : WAL_RECOVER_WINDOW;

    struct wal_config c;
    memset(&c, 0, sizeof(c));
    c.io = WAL_IO_MEM;
    c.disk = d;
    c.segment_size = SEG_SIZE;
    c.repair = (flags & FLAG_REPAIR) != 0;
    c.on_log = log_line;
    struct wal *w;
    struct wal_recovered rec;
    char errmsg[ERRMSG_LEN];
    if (wal_open(&c, &w, &rec, errmsg) == 0) {
        check_log(w, &rec);
        read_snapshot(w);
        bool changed = false;
        uint64_t last = rec.last_index;
        if (recv.p != NULL) {
            receive_snapshot(w, &recv);
            changed = true;
        }
        /* The log goes on right after the snapshot (Raft §7). */
        uint64_t snap_term, snap_index;
        if (getenv("FUZZ_DEBUG") &&
            wal_snapshot_last(w, &snap_term, &snap_index) == 0)
            fprintf(stderr, "now: snapshot %llu term %llu, log %llu..%llu\n",
                    (unsigned long long)snap_index,
                    (unsigned long long)snap_term,
                    (unsigned long long)wal_first_index(w),
                    (unsigned long long)wal_last_index(w));
        if (wal_snapshot_last(w, &snap_term, &snap_index) == 0 &&
            (wal_first_index(w) > snap_index + 1 ||
             wal_last_index(w) < snap_index))
            abort();
        if (flags & FLAG_APPEND) {
            append_some(w, &last);
            changed = true;
        }
        last = wal_last_index(w);
        struct wal_recovered first = rec;
        wal_close(w);
        /* Whatever the open repaired, and whatever we wrote ourselves,
         * must open again, whole. */
        if (wal_open(&c, &w, &rec, errmsg) != 0) {
            fprintf(stderr, "reopen failed: %s\n", errmsg);
            abort();
        }
        check_log(w, &rec);
        if (getenv("FUZZ_DEBUG"))
            fprintf(stderr, "first %llu..%llu lt %llu snap %llu; again "
                    "%llu..%llu lt %llu snap %llu; last %llu changed %d\n",
                    (unsigned long long)first.first_index,
                    (unsigned long long)first.last_index,
                    (unsigned long long)first.last_term,
                    (unsigned long long)first.snap_index,
                    (unsigned long long)rec.first_index,
                    (unsigned long long)rec.last_index,
                    (unsigned long long)rec.last_term,
                    (unsigned long long)rec.snap_index,
                    (unsigned long long)last, changed);
        if (rec.last_index != last ||
            (!changed && (rec.first_index != first.first_index ||
                          rec.last_term != first.last_term ||
                          rec.snap_index != first.snap_index ||
                          rec.hs.term != first.hs.term)))
            abort();
        wal_close(w);
    }
    free(owned);
    wal_mem_disk_destroy(d);
    return 0;
}

/* ---- seeds: directories the WAL writes itself ---- */

/* Appends every file of d to the seed in the input format. */
static size_t dump_disk(struct wal_mem_disk *d, uint8_t *out, size_t cap)
{
    char names[4096];
    int n = wal_mem_list(d, names, sizeof(names));
    size_t at = 0;
    const char *name = names;
    for (int i = 0; i < n; i++, name += strlen(name) + 1) {
        size_t len;
        uint8_t *p = wal_mem_file(d, name, &len);
        uint64_t seq;
        uint8_t kind;
        if (strcmp(name, WAL_META_NAME) == 0)
            kind = KIND_META;
        else if (wal__seg_parse_name(name, &seq) == 0 && seq >= 1 &&
                 seq <= 32)
            kind = (uint8_t)(KIND_SEGMENT | (seq - 1) << 3);
        else if (strncmp(name, "snap-", 5) == 0 && strlen(name) == 38)
            kind = KIND_SNAPSHOT;
        else
            continue;
        /* Preallocated zeros past the last record only cost time. */
        while (len > WAL_SEG_HDR && p[len - 1] == 0)
            len--;
        if ((kind & 7) == KIND_SEGMENT)
            len = (len + 7) & ~(size_t)7;
        if (len > 0xffff || at + 3 + len > cap)
            abort();
        out[at++] = kind;
        out[at++] = (uint8_t)len;
        out[at++] = (uint8_t)(len >> 8);
        memcpy(out + at, p, len);
        at += len;
    }
    return at;
}

static void make_dir(struct wal_mem_disk *d, uint64_t entries, bool snap)
{
    struct wal_config c;
    memset(&c, 0, sizeof(c));
    c.io = WAL_IO_MEM;
    c.disk = d;
    c.segment_size = SEG_SIZE;
    c.on_log = log_line;
    struct wal *w;
    if (wal_open(&c, &w, NULL, NULL) != 0)
        abort();
    struct wal_hard_state hs = {3, 2, 1};
    wal_save_hard_state(w, &hs);
    uint8_t payload[300];
    for (uint64_t i = 1; i <= entries; i++) {
        memset(payload, (int)i, sizeof(payload));
        struct wal_entry e = {1 + i / 8, i, (uint8_t)(i % 3), payload,
                              (uint32_t)(i * 37 % 300)};
        if (wal_append(w, &e, 1) != 0)
            abort();
        settle(w);
    }
    if (snap) {
        static const uint8_t members[] = "membership blob";
        struct wal_snapshot_meta meta = {1 + 5 / 8, 5, members,
                                         sizeof(members)};
        struct wal_snapshot_writer *wr;
        if (wal_snapshot_writer_open(w, &meta, &wr) != 0 ||
            wal_snapshot_write(wr, "record one", 10) != 0 ||
            wal_snapshot_write(wr, "", 0) != 0 ||
            wal_snapshot_write(wr, payload, 200) != 0 ||
            wal_snapshot_writer_finish(wr) != 0 ||
            wal_snapshot_installed(w, meta.term, meta.index) != 0)
            abort();
    }
    wal_close(w);
}

static void write_seed(const char *dir, const char *name, uint8_t flags,
                       uint64_t entries, bool snap, bool recv)
{
    static uint8_t buf[1 << 17];
    struct wal_mem_disk *d = wal_mem_disk_create();
    make_dir(d, entries, snap);
    buf[0] = flags;
    size_t n = 1 + dump_disk(d, buf + 1, sizeof(buf) - 1);
    if (recv) {
        /* The snapshot once more, as a leader would ship it. */
        size_t len;
        char names[4096];
        int k = wal_mem_list(d, names, sizeof(names));
        for (const char *p = names; k-- > 0; p += strlen(p) + 1) {
            uint8_t *f;
            if (strncmp(p, "snap-", 5) != 0 ||
                (f = wal_mem_file(d, p, &len)) == NULL)
                continue;
            buf[n++] = KIND_RECV;
            buf[n++] = (uint8_t)len;
            buf[n++] = (uint8_t)(len >> 8);
            memcpy(buf + n, f, len);
            n += len;
        }
    }
    wal_mem_disk_destroy(d);
    fuzz_seed_write(dir, name, buf, n);
}

static void write_seeds(const char *dir)
{
    write_seed(dir, "empty", FLAG_FIX, 0, false, false);
    write_seed(dir, "log", FLAG_FIX, 12, false, false);
    write_seed(dir, "log-append", FLAG_FIX | FLAG_APPEND | FLAG_WINDOW, 12,
               false, false);
    write_seed(dir, "log-many-segments", FLAG_FIX, 40, false, false);
    write_seed(dir, "snapshot", FLAG_FIX, 9, true, false);
    write_seed(dir, "snapshot-recv", FLAG_FIX | FLAG_REPAIR, 9, true, true);
    write_seed(dir, "raw", 0, 6, true, false);
}

FUZZ_SEEDS_INITIALIZE(write_seeds)
