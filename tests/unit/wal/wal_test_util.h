/* Helpers for the wal unit tests: deterministic entries (the payload of
 * index i is a function of i and its term, so any entry read back can be
 * checked on its own), opening a WAL on an in-memory disk, driving it to
 * durability without a loop, and checking what replay returns. Header-only:
 * each test file is its own binary. */
#ifndef WAL_TEST_UTIL_H
#define WAL_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "wal/wal.h"
#include "wal/wal_internal.h"

struct acks {
    uint64_t durable;
    int status;
    int calls;
    char lastlog[256];
    int logs;
};

static void acks_on_durable(struct wal *w, uint64_t index, int status,
                            void *data)
{
    struct acks *a = data;
    a->calls++;
    if (status != 0) {
        a->status = status;
        return;
    }
    a->durable = index;
}

static void acks_on_log(void *data, const char *line)
{
    struct acks *a = data;
    snprintf(a->lastlog, sizeof(a->lastlog), "%s", line);
    a->logs++;
}

static inline uint32_t entry_len(uint64_t index)
{
    return (uint32_t)((index * 37) % 300);
}

static inline uint8_t entry_byte(uint64_t index, uint64_t term, uint32_t i)
{
    return (uint8_t)(index * 131 + term * 7 + i);
}

static inline void make_entry(struct wal_entry *e, uint8_t *buf,
                              uint64_t index, uint64_t term)
{
    e->index = index;
    e->term = term;
    e->type = (uint8_t)(index % 3);
    e->len = entry_len(index + term);
    for (uint32_t i = 0; i < e->len; i++)
        buf[i] = entry_byte(index, term, i);
    e->buf = buf;
}

static inline int entry_ok(const struct wal_entry *e)
{
    if (e->len != entry_len(e->index + e->term) ||
        e->type != (uint8_t)(e->index % 3))
        return 0;
    const uint8_t *p = e->buf;
    for (uint32_t i = 0; i < e->len; i++)
        if (p[i] != entry_byte(e->index, e->term, i))
            return 0;
    return 1;
}

static inline struct wal_config mem_config(struct wal_mem_disk *d,
                                           uint64_t seg, struct acks *a)
{
    struct wal_config c;
    memset(&c, 0, sizeof(c));
    c.io = WAL_IO_MEM;
    c.disk = d;
    c.segment_size = seg;
    c.on_durable = acks_on_durable;
    c.on_log = acks_on_log;
    c.data = a;
    return c;
}

/* Appends [from, to] with the given term, one entry per call. */
static inline int append_range(struct wal *w, uint64_t from, uint64_t to,
                               uint64_t term)
{
    uint8_t buf[512];
    for (uint64_t i = from; i <= to; i++) {
        struct wal_entry e;
        make_entry(&e, buf, i, term);
        int rv = wal_append(w, &e, 1);
        if (rv != 0)
            return rv;
    }
    return 0;
}

/* Polls until every appended entry is acknowledged or the WAL failed
 * (bounded: about 10 s for a real disk). */
static inline void settle(struct wal *w)
{
    for (int i = 0; i < 100000; i++) {
        wal_flush(w);
        int rv = wal_poll(w);
        if (rv < 0)
            return;
        if (rv == 0 && wal_durable_index(w) == wal_last_index(w))
            return;
        if (rv == 0)
            usleep(100);
    }
}

/* Opens a WAL on d (acks in *a; *c must outlive the WAL) and makes
 * entries 1..n of term 1 durable. */
static inline struct wal *open_with_durable(struct wal_mem_disk *d,
                                            uint64_t seg, struct acks *a,
                                            struct wal_config *c, uint64_t n)
{
    struct wal *w;
    *c = mem_config(d, seg, a);
    assert_int_equal(wal_open(c, &w, NULL, NULL), 0);
    assert_int_equal(append_range(w, 1, n, 1), 0);
    settle(w);
    return w;
}

/* How many files of the mem disk d have names starting with prefix. */
static inline int count_files(struct wal_mem_disk *d, const char *prefix)
{
    char buf[4096];
    int n = wal_mem_list(d, buf, sizeof(buf)), count = 0;
    const char *p = buf;
    for (int i = 0; i < n; i++, p += strlen(p) + 1)
        count += strncmp(p, prefix, strlen(prefix)) == 0;
    return count;
}

/* Removes a test's temporary directory and all in it. */
static inline void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

struct replay_check {
    uint64_t next;   /* the index expected next */
    uint64_t count;
    uint64_t term_from; /* entries >= term_from have term2, else term1 */
    uint64_t term1, term2;
    int bad;
};

static int replay_check_cb(void *data, const struct wal_entry *e)
{
    struct replay_check *r = data;
    uint64_t want = (r->term_from && e->index >= r->term_from) ? r->term2
                                                               : r->term1;
    if (e->index != r->next || !entry_ok(e) || (want && e->term != want))
        r->bad++;
    r->next = e->index + 1;
    r->count++;
    return 0;
}

/* Replays from `first` and checks the entries are exactly first..last. */
static inline void assert_log(struct wal *w, uint64_t first, uint64_t last,
                              uint64_t term)
{
    struct replay_check r = {first, 0, 0, term, 0, 0};
    assert_int_equal(wal_replay(w, first, replay_check_cb, &r), 0);
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.count, last + 1 - first);
    assert_int_equal(wal_last_index(w), last);
}

#endif
