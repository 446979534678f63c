/* libFuzzer target for what the replication layer decodes from the log and
 * from snapshots, without a server: committed entries handed to
 * repl__apply (NORMAL entries with the repl header, META records that
 * carry a member's address, CONFIG entries) and the membership blob of a
 * snapshot (repl__membership_decode). The group is a zeroed struct repl
 * with callbacks that read every byte they are given, a known
 * configuration and a few parked writes; no loop, WAL or bus.
 *
 * Input: a flags byte (bit 0: a prefetch callback), the membership blob
 * (u16 little-endian length, bytes), then entries, each a type byte, a u16
 * length and that many bytes (the last takes what is left).
 * Checked: no crash or sanitizer report; every entry is applied once and
 * in order; every parked write is answered once; the members' table stays
 * within bounds with terminated host names; the configuration in force
 * after applying, and the one a blob yields, are valid configurations
 * (they encode, and a blob made from them decodes to the same). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/repl_internal.h"
#include "fuzz_seed.h"

#define MAX_ENTRIES 64
#define PARKED 4

static uint64_t applied_next;
static uint64_t byte_sum;
static int woken[PARKED];
static int owners[PARKED];

static void on_apply(void *data, uint64_t index, const uint8_t *cmd,
                     size_t len, int64_t now, void *owner)
{
    (void)data;
    (void)now;
    (void)owner;
    if (index < applied_next)
        abort();
    applied_next = index + 1;
    for (size_t i = 0; i < len; i++)
        byte_sum += cmd[i];
}

static void on_prefetch(void *data, const uint8_t *cmd, size_t len,
                        int stage)
{
    (void)data;
    (void)stage;
    for (size_t i = 0; i < len; i++)
        byte_sum += cmd[i];
}

static void on_wake(void *data, void *owner, int status)
{
    (void)data;
    (void)status;
    int *o = owner;
    if (o < owners || o >= owners + PARKED)
        abort();
    woken[o - owners]++;
}

static bool config_ok(const struct raft_config *c)
{
    uint8_t buf[RAFT_CONFIG_MAX_BYTES];
    return raft_config_encode(c, buf, sizeof(buf)) > 0;
}

static void check_members(const struct repl *r)
{
    if (r->n_members > RAFT_MAX_SERVERS)
        abort();
    for (uint32_t i = 0; i < r->n_members; i++)
        if (memchr(r->members[i].host, '\0', REPL_HOST_LEN) == NULL)
            abort();
}

/* A blob that decodes yields a valid configuration, and the blob made
 * from it decodes again to the same configuration. */
static void check_blob(struct repl *r, const uint8_t *p, size_t len)
{
    struct raft_config c;
    if (repl__membership_decode(r, p, len, &c) != 0)
        return;
    check_members(r);
    if (!config_ok(&c))
        abort();
    static uint8_t out[4 + RAFT_CONFIG_MAX_BYTES + 1 +
                       RAFT_MAX_SERVERS * (17 + REPL_HOST_LEN)];
    size_t n = repl__membership_encode(r, &c, out, sizeof(out));
    struct raft_config again;
    if (n == 0 || repl__membership_decode(r, out, n, &again) != 0 ||
        again.n != c.n || again.max_id != c.max_id ||
        memcmp(again.servers, c.servers, c.n * sizeof(c.servers[0])) != 0)
        abort();
}

static struct repl *group_new(bool prefetch)
{
    struct repl *r = calloc(1, sizeof(*r));
    r->id = 1;
    r->cfg.apply = on_apply;
    r->cfg.wake = on_wake;
    r->cfg.prefetch = prefetch ? on_prefetch : NULL;
    r->applied_config.n = 2;
    r->applied_config.max_id = 2;
    r->applied_config.servers[0] = (struct raft_server){1, RAFT_VOTER};
    r->applied_config.servers[1] = (struct raft_server){2, RAFT_VOTER};
    /* Writes parked on indexes 1..PARKED, in term 1. */
    for (int i = 0; i < PARKED; i++) {
        struct repl_wait w = {(uint64_t)i + 1, 1, &owners[i], INT64_MAX};
        if (repl__wait_push(r, &w) != 0)
            abort();
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    bool prefetch = data[0] & 1;
    size_t blen = data[1] | (size_t)data[2] << 8;
    size_t off = 3;
    if (blen > size - off)
        blen = size - off;
    const uint8_t *blob = data + off;
    off += blen;

    struct raft_entry entries[MAX_ENTRIES];
    uint32_t n = 0;
    while (off < size && n < MAX_ENTRIES) {
        struct raft_entry *e = &entries[n++];
        memset(e, 0, sizeof(*e));
        e->type = data[off++];
        size_t len = 0;
        if (size - off >= 2) {
            len = data[off] | (size_t)data[off + 1] << 8;
            off += 2;
        }
        if (len > size - off)
            len = size - off;
        /* Each entry in its own allocation: a read past it is caught. */
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, data + off, len);
        e->data = p;
        e->len = (uint32_t)len;
        e->term = 1 + (n > 2);
        off += len;
    }

    memset(woken, 0, sizeof(woken));
    applied_next = 1;
    struct repl *r = group_new(prefetch);
    struct raft_update u;
    memset(&u, 0, sizeof(u));
    u.committed_index = 1;
    u.committed = entries;
    u.n_committed = n;
    repl__apply(r, &u);
    if (r->applied != n)
        abort();
    for (uint32_t i = 0; i < PARKED; i++)
        if (woken[i] != (i < n ? 1 : 0))
            abort();
    check_members(r);
    if (!config_ok(&r->applied_config))
        abort();
    check_blob(r, blob, blen);

    for (uint32_t i = 0; i < n; i++)
        free((void *)entries[i].data);
    free(r->waits);
    free(r);
    return 0;
}

/* ---- seeds: entries and blobs as repl writes them ---- */

static size_t put_entry(uint8_t *out, uint8_t type, const void *p,
                        size_t len)
{
    out[0] = type;
    out[1] = (uint8_t)len;
    out[2] = (uint8_t)(len >> 8);
    memcpy(out + 3, p, len);
    return 3 + len;
}

static void write_seeds(const char *dir)
{
    static uint8_t buf[4096];
    struct repl *r = group_new(false);
    struct repl_member m = {.id = 2, .port = 7002, .bus_port = 17002};
    snprintf(m.host, sizeof(m.host), "127.0.0.1");
    repl__member_set(r, &m);
    size_t n = 1;
    buf[0] = 1;
    size_t blen = repl__membership_encode(r, &r->applied_config, buf + 3,
                                          sizeof(buf) - 3);
    buf[n++] = (uint8_t)blen;
    buf[n++] = (uint8_t)(blen >> 8);
    n += blen;
    /* A command: header (version, flags, leader time) then RESP. */
    static const char set[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    uint8_t cmd[64] = {REPL_ENTRY_VERSION, 0, 0x10, 0x27};
    size_t clen0 = REPL_ENTRY_HEADER + sizeof(set) - 1;
    memcpy(cmd + REPL_ENTRY_HEADER, set, sizeof(set) - 1);
    n += put_entry(buf + n, RAFT_ENTRY_NORMAL, cmd, clen0);
    n += put_entry(buf + n, RAFT_ENTRY_NOOP, "", 0);
    /* A META record: id, port, bus port, host. */
    uint8_t meta[REPL_ENTRY_HEADER + 16 + 9] = {REPL_ENTRY_VERSION,
                                                REPL_ENTRY_META};
    uint8_t *p = meta + REPL_ENTRY_HEADER;
    p[0] = 3;
    p[8] = 0x5b;
    p[9] = 0x1b;
    p[12] = 0x6a;
    p[13] = 0x42;
    memcpy(p + 16, "127.0.0.1", 9);
    n += put_entry(buf + n, RAFT_ENTRY_NORMAL, meta, sizeof(meta));
    uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
    struct raft_config c = r->applied_config;
    c.servers[c.n++] = (struct raft_server){3, RAFT_LEARNER};
    c.max_id = 3;
    int clen = raft_config_encode(&c, cfg, sizeof(cfg));
    n += put_entry(buf + n, RAFT_ENTRY_CONFIG, cfg, (size_t)clen);
    n += put_entry(buf + n, RAFT_ENTRY_NORMAL, cmd, clen0);
    fuzz_seed_write(dir, "entries", buf, n);
    free(r->waits);
    free(r);
}

FUZZ_SEEDS_INITIALIZE(write_seeds)
