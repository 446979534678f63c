/* The process that tests/wal/crash_test.c kills with SIGKILL. Usage:
 *   crash_writer DIR TERM run|check [uring|sync|inline|auto] [always|off]
 * (inline: the sync backend without its worker thread);
 *   crash_writer --probe-uring   exits 0 when io_uring can be used.
 * At start it recovers DIR and reports on stdout, one line each:
 *   "H <term>"            the hard state's term
 *   "P <index> <term>"    the snapshot loaded, if any (its contents were
 *                         checked too: a bad one counts in R's <bad>)
 *   "S <index> <term>"    each run of equal terms in the recovered log
 *   "R <last> <bad>"      the last index and how many entries had a payload
 *                         other than f(index, term)
 *   "B <last>"            after saving hard state TERM: appends start
 * With "run" it then appends entries of term TERM forever (random batch
 * sizes, now and then truncating its own unacknowledged tail, and taking
 * a snapshot through the fork helper, which compacts the log) and prints
 * "A <index>" each time the WAL reports entries durable up to index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "err.h"
#include "net/loop.h"
#include "wal/wal.h"

struct writer {
    struct wal *w;
    struct loop *loop;
    uint64_t term;
    uint64_t durable;
    uint64_t bad;
    uint64_t run_term;
    int64_t started_ms;
    unsigned seed;
    uint64_t last_snap;
};

#define SNAP_BYTES 32768

static uint32_t payload_len(uint64_t index, uint64_t term)
{
    return (uint32_t)((index * 37 + term * 11) % 2000);
}

static uint8_t payload_byte(uint64_t index, uint64_t term, uint32_t j)
{
    return (uint8_t)(index * 131 + term * 7 + j);
}

static void say(const char *fmt, unsigned long long a, unsigned long long b)
{
    char line[64];
    int n = snprintf(line, sizeof(line), fmt, a, b);
    if (write(1, line, (size_t)n) != n)
        _exit(3); /* the parent went away */
}

static int check_entry(void *data, const struct wal_entry *e)
{
    struct writer *wr = data;
    int ok = e->len == payload_len(e->index, e->term);
    for (uint32_t j = 0; ok && j < e->len; j++)
        ok = ((const uint8_t *)e->buf)[j] == payload_byte(e->index, e->term,
                                                           j);
    wr->bad += !ok;
    if (e->term != wr->run_term) {
        wr->run_term = e->term;
        say("S %llu %llu\n", e->index, e->term);
    }
    return 0;
}

static void on_durable(struct wal *w, uint64_t index, int status, void *data)
{
    struct writer *wr = data;
    if (status != 0) {
        fprintf(stderr, "crash_writer: WAL failed: %s\n", err_str(status));
        exit(2);
    }
    wr->durable = index;
    say("A %llu\n", index, 0);
}

/* A snapshot's one record: its index, then SNAP_BYTES bytes derived from
 * it, so a reader can tell a whole and right snapshot. */
static void snap_record(uint8_t *buf, uint64_t index)
{
    memcpy(buf, &index, 8);
    for (uint32_t j = 0; j < SNAP_BYTES; j++)
        buf[8 + j] = payload_byte(index, 3, j);
}

static int fill_snapshot(struct wal_snapshot_writer *sw, void *data)
{
    static uint8_t buf[8 + SNAP_BYTES];
    snap_record(buf, *(uint64_t *)data);
    return wal_snapshot_write(sw, buf, sizeof(buf));
}

static void check_snapshot(struct writer *wr)
{
    static uint8_t want[8 + SNAP_BYTES];
    struct wal_snapshot_reader *rd;
    if (wal_snapshot_reader_open(wr->w, &rd) != 0) {
        wr->bad++;
        return;
    }
    struct wal_snapshot_meta meta;
    wal_snapshot_reader_meta(rd, &meta);
    snap_record(want, meta.index);
    const void *buf;
    size_t len;
    if (wal_snapshot_read(rd, &buf, &len) != 1 || len != sizeof(want) ||
        memcmp(buf, want, len) != 0 || wal_snapshot_read(rd, &buf, &len))
        wr->bad++;
    wal_snapshot_reader_close(rd);
    say("P %llu %llu\n", meta.index, meta.term);
}

static void on_snapshot(struct wal *w, int status,
                        const struct wal_snapshot_meta *meta, void *data)
{
    struct writer *wr = data;
    if (status != 0) {
        fprintf(stderr, "crash_writer: snapshot failed: %s\n",
                err_str(status));
        exit(2);
    }
    wr->last_snap = meta->index;
}

/* Now and then a snapshot of everything durable, made by a forked child. */
static void maybe_snapshot(struct writer *wr)
{
    static uint64_t index;
    if (wal_snapshot_in_progress(wr->w) ||
        wr->durable < wr->last_snap + 500 || rand_r(&wr->seed) % 20 != 0)
        return;
    index = wr->durable;
    struct wal_snapshot_meta meta = {wal_term_at(wr->w, index), index, "m",
                                     1};
    if (wal_snapshot_fork(wr->w, &meta, fill_snapshot, on_snapshot,
                          &index) < 0)
        exit(2);
}

static void append_some(struct writer *wr)
{
    static uint8_t buf[2048];
    int n = 1 + rand_r(&wr->seed) % 30;
    for (int i = 0; i < n; i++) {
        uint64_t index = wal_last_index(wr->w) + 1;
        struct wal_entry e = {wr->term, index, 1, buf,
                              payload_len(index, wr->term)};
        for (uint32_t j = 0; j < e.len; j++)
            buf[j] = payload_byte(index, wr->term, j);
        if (wal_append(wr->w, &e, 1) != 0)
            exit(2);
    }
}

/* Truncates part of the tail that was not acknowledged yet: exercises the
 * zeroing of bytes already handed to the disk, without ever taking back
 * an acknowledged entry (the parent checks those). */
static void truncate_tail(struct writer *wr)
{
    uint64_t last = wal_last_index(wr->w);
    uint64_t from = last > 5 ? last - 5 : 1;
    if (from <= wr->durable)
        from = wr->durable + 1;
    if (from <= last && wal_truncate(wr->w, from) != 0)
        exit(2);
}

static void on_tick(struct loop_timer *t, void *data)
{
    struct writer *wr = data;
    if (loop_mono_ms(wr->loop) - wr->started_ms > 30000)
        exit(0); /* a safety bound: the parent kills us long before */
    if (rand_r(&wr->seed) % 40 == 0)
        truncate_tail(wr);
    maybe_snapshot(wr);
    append_some(wr);
    wal_flush(wr->w);
}

static int open_wal(struct writer *wr, const char *dir, const char *io,
                    const char *fsync)
{
    struct wal_config c = {0};
    c.dir = dir;
    c.io = strcmp(io, "uring") == 0 ? WAL_IO_URING
           : strcmp(io, "sync") == 0 || strcmp(io, "inline") == 0
               ? WAL_IO_SYNC
               : WAL_IO_AUTO;
    c.sync_inline = strcmp(io, "inline") == 0;
    c.fsync = strcmp(fsync, "off") == 0 ? WAL_FSYNC_OFF : WAL_FSYNC_ALWAYS;
    c.segment_size = 256 << 10;
    c.loop = wr->loop;
    c.on_durable = on_durable;
    c.data = wr;
    struct wal_recovered rec;
    char err[ERRMSG_LEN];
    int rv = wal_open(&c, &wr->w, &rec, err);
    if (rv != 0) {
        fprintf(stderr, "crash_writer: %s\n", err);
        return rv;
    }
    say("H %llu %llu\n", rec.hs.term, 0);
    if (rec.has_snapshot) {
        wr->last_snap = rec.snap_index;
        check_snapshot(wr);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--probe-uring") == 0)
        return wal_uring_available() ? 0 : 1;
    if (argc < 4) {
        fprintf(stderr, "usage: crash_writer DIR TERM run|check "
                        "[uring|sync|inline|auto] [always|off]\n");
        return 1;
    }
    struct writer wr = {0};
    wr.term = strtoull(argv[2], NULL, 10);
    wr.seed = (unsigned)(wr.term * 7919 + (unsigned)getpid());
    wr.loop = loop_create();
    if (open_wal(&wr, argv[1], argc > 4 ? argv[4] : "auto",
                 argc > 5 ? argv[5] : "always") != 0)
        return 1;
    if (wal_replay(wr.w, 1, check_entry, &wr) != 0)
        return 1;
    say("R %llu %llu\n", wal_last_index(wr.w), wr.bad);
    if (strcmp(argv[3], "check") == 0) {
        wal_close(wr.w);
        return 0;
    }
    struct wal_hard_state hs = {wr.term, 1, 1};
    if (wal_save_hard_state(wr.w, &hs) != 0)
        return 2;
    wr.durable = wal_last_index(wr.w);
    say("B %llu %llu\n", wr.durable, 0);
    wr.started_ms = loop_mono_ms(wr.loop);
    loop_timer_create(wr.loop, 0, 1, on_tick, &wr);
    loop_run(wr.loop);
    return 0;
}
