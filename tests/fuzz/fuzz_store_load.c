/* libFuzzer target for the keyspace records of a snapshot
 * (store_snapshot.c, store_load_record): the bytes a leader ships in an
 * InstallSnapshot, or a disk holds, once the snapshot file's checksum
 * verified. The input is one snapshot record stream, loaded as
 * server_raft.c's snapshot_load does (record after record, a short or
 * bad one ends the load). Checked: no crash, sanitizer report or leak;
 * every record consumed lies inside the input; whatever loaded saves to
 * records that load into an empty store with the same keyspace digest,
 * and the saved stream is the same whether saved once or twice. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "fuzz_seed.h"

struct out {
    uint8_t *p;
    size_t len, cap;
};

static int put(void *ctx, const void *buf, size_t len)
{
    struct out *o = ctx;
    if (o->len + len > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4096;
        while (cap < o->len + len)
            cap *= 2;
        o->p = realloc(o->p, cap);
        o->cap = cap;
    }
    memcpy(o->p + o->len, buf, len);
    o->len += len;
    return 0;
}

/* Loads records from p into st; returns how many loaded. */
static long load(struct store *st, const uint8_t *p, size_t len, int *err)
{
    size_t at = 0;
    long n = 0;
    *err = 0;
    while (at < len) {
        int r = store_load_record(st, p + at, len - at);
        if (r <= 0) {
            *err = r < 0 ? r : 1;
            break;
        }
        if ((size_t)r > len - at)
            abort();
        at += (size_t)r;
        n++;
    }
    return n;
}

static struct store *store_new(void)
{
    struct store *st;
    struct store_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.seed = 42;
    if (store_create(&st, &cfg) != 0)
        abort();
    return st;
}

/* Two stores made once and emptied before each input, as snapshot_load
 * empties the live one (creating a store costs its slab pages). */
static struct store *st, *again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (st == NULL) {
        st = store_new();
        again = store_new();
    }
    store_flush(st);
    store_flush(again);
    int err;
    load(st, data, size, &err);
    struct out a = {0}, b = {0};
    uint64_t d1, d2;
    if (store_save(st, put, &a) != 0 || store_digest(st, &d1) != 0)
        abort();
    long n = load(again, a.p, a.len, &err);
    if (err != 0 || (uint64_t)n != store_count(st) ||
        store_count(again) != store_count(st) ||
        store_digest(again, &d2) != 0 || d1 != d2)
        abort();
    if (store_save(again, put, &b) != 0 || b.len != a.len)
        abort();
    free(a.p);
    free(b.p);
    return 0;
}

/* ---- seeds: records saved by a store ---- */

static void write_seeds(const char *dir)
{
    struct store *s0 = store_new();
    static const char *const kv[][2] = {
        {"k", "v"}, {"counter", "12345"}, {"", "empty key"},
        {"big", "a value longer than the embedded string limit of fourty "
                "four bytes"},
    };
    struct out o = {0};
    uint8_t rec[64] = {0};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        size_t kl = strlen(kv[i][0]), vl = strlen(kv[i][1]);
        memset(rec, 0, 19);
        rec[0] = 0; /* string */
        rec[1] = 0;
        rec[2] = i == 1; /* has expire */
        int64_t expire = i == 1 ? 1700000000000LL : -1;
        for (int b = 0; b < 8; b++)
            rec[3 + b] = (uint8_t)((uint64_t)expire >> (8 * b));
        for (int b = 0; b < 4; b++) {
            rec[11 + b] = (uint8_t)(kl >> (8 * b));
            rec[15 + b] = (uint8_t)(vl >> (8 * b));
        }
        put(&o, rec, STORE_RECORD_HEADER);
        put(&o, kv[i][0], kl);
        put(&o, kv[i][1], vl);
    }
    /* Keep only what a store accepts, as it saves it. */
    int err;
    load(s0, o.p, o.len, &err);
    struct out s = {0};
    store_save(s0, put, &s);
    fuzz_seed_write(dir, "records", s.p, s.len);
    fuzz_seed_write(dir, "records-raw", o.p, o.len);
    free(o.p);
    free(s.p);
    store_destroy(s0);
}

FUZZ_SEEDS_INITIALIZE(write_seeds)
