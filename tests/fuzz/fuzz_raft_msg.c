/* libFuzzer target for the Raft message codec (raft_msg.c) and the
 * configuration codec (raft_membership.c): the bytes a peer hands a node
 * after the transport's framing. The input is decoded as a stream of
 * frames. Every frame that decodes must lie inside the input, its entry
 * and chunk bytes must be slices of that frame owned by the buffer given,
 * its CONFIG entries must hold configurations, and it must re-encode
 * (whole, and as header plus payloads) to a frame of the same size that
 * decodes to an equal message. A decode whose allocator
 * fails must answer ERR_NOMEM or what the real one answered, and leak
 * nothing. The whole input is also tried as a configuration, which must
 * round-trip byte for byte. AddressSanitizer catches any read past len. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"
#include "fuzz_seed.h"

static void *fail_alloc(void *ctx, size_t size)
{
    (void)ctx;
    (void)size;
    return NULL;
}

static void fail_free(void *ctx, void *ptr)
{
    (void)ctx;
    if (ptr != NULL)
        abort(); /* nothing was ever handed out */
}

static const struct raft_alloc failing = {fail_alloc, NULL, fail_free, NULL};

static bool inside(const uint8_t *p, size_t len, const uint8_t *lo,
                   size_t span)
{
    if (len == 0)
        return true;
    return p != NULL && p >= lo && len <= span && p - lo <= (long)(span - len);
}

static bool config_equal(const struct raft_config *a,
                         const struct raft_config *b)
{
    if (a->n != b->n || a->max_id != b->max_id)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (a->servers[i].id != b->servers[i].id ||
            a->servers[i].role != b->servers[i].role)
            return false;
    return true;
}

static bool bytes_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    return len == 0 || memcmp(a, b, len) == 0;
}

static bool append_equal(const struct raft_msg_append *a,
                         const struct raft_msg_append *b)
{
    if (a->prev_index != b->prev_index || a->prev_term != b->prev_term ||
        a->commit != b->commit || a->n_entries != b->n_entries)
        return false;
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
        if (x->term != y->term || x->type != y->type || x->len != y->len ||
            !bytes_equal(x->data, y->data, x->len))
            return false;
    }
    return true;
}

static bool snapshot_equal(const struct raft_msg_snapshot *a,
                           const struct raft_msg_snapshot *b)
{
    return a->meta.index == b->meta.index && a->meta.term == b->meta.term &&
           a->meta.size == b->meta.size &&
           config_equal(&a->meta.config, &b->meta.config) &&
           a->offset == b->offset && a->len == b->len && a->last == b->last &&
           bytes_equal(a->data, b->data, a->len);
}

/* Field by field: the union's padding is not part of the message. */
static bool msg_equal(const struct raft_msg *a, const struct raft_msg *b)
{
    if (a->type != b->type || a->from != b->from || a->to != b->to ||
        a->term != b->term)
        return false;
    switch (a->type) {
    case RAFT_MSG_APPEND:
        return append_equal(&a->append, &b->append);
    case RAFT_MSG_APPEND_RESP:
        return a->append_resp.index == b->append_resp.index &&
               a->append_resp.hint_index == b->append_resp.hint_index &&
               a->append_resp.hint_term == b->append_resp.hint_term &&
               a->append_resp.reject == b->append_resp.reject &&
               a->append_resp.lost == b->append_resp.lost;
    case RAFT_MSG_VOTE:
        return a->vote.last_index == b->vote.last_index &&
               a->vote.last_term == b->vote.last_term &&
               a->vote.pre == b->vote.pre &&
               a->vote.transfer == b->vote.transfer;
    case RAFT_MSG_VOTE_RESP:
        return a->vote_resp.granted == b->vote_resp.granted &&
               a->vote_resp.pre == b->vote_resp.pre;
    case RAFT_MSG_HEARTBEAT:
        return a->heartbeat.commit == b->heartbeat.commit &&
               a->heartbeat.seq == b->heartbeat.seq;
    case RAFT_MSG_HEARTBEAT_RESP:
        return a->heartbeat_resp.seq == b->heartbeat_resp.seq;
    case RAFT_MSG_SNAPSHOT:
        return snapshot_equal(&a->snapshot, &b->snapshot);
    case RAFT_MSG_SNAPSHOT_RESP:
        return a->snapshot_resp.index == b->snapshot_resp.index &&
               a->snapshot_resp.next_offset ==
                   b->snapshot_resp.next_offset &&
               a->snapshot_resp.done == b->snapshot_resp.done &&
               a->snapshot_resp.reject == b->snapshot_resp.reject;
    case RAFT_MSG_TIMEOUT_NOW:
        return true;
    case RAFT_MSG_READ_INDEX:
        return a->read_index.req_id == b->read_index.req_id;
    case RAFT_MSG_READ_INDEX_RESP:
        return a->read_index_resp.req_id == b->read_index_resp.req_id &&
               a->read_index_resp.index == b->read_index_resp.index &&
               a->read_index_resp.ok == b->read_index_resp.ok;
    }
    return false;
}

/* Payload bytes must be slices of the frame, owned by `owner`. */
static void check_slices(const struct raft_msg *m, const uint8_t *frame,
                         size_t size, struct raft_buf *owner)
{
    if (m->type == RAFT_MSG_APPEND) {
        for (uint32_t i = 0; i < m->append.n_entries; i++) {
            const struct raft_entry *e = &m->append.entries[i];
            struct raft_config c;
            if (e->buf != owner || !inside(e->data, e->len, frame, size))
                abort();
            /* raft_new refuses a log with a CONFIG entry that does not
             * decode: none may come in from a peer. */
            if (e->type == RAFT_ENTRY_CONFIG &&
                raft_config_decode(e->data, e->len, &c) != 0)
                abort();
        }
    }
    if (m->type == RAFT_MSG_SNAPSHOT &&
        (m->snapshot.buf != owner ||
         !inside(m->snapshot.data, m->snapshot.len, frame, size)))
        abort();
}

/* The header-only encoding followed by the payloads, as the transport
 * sends it with writev, must be the whole encoding. */
static void check_header_encoding(const struct raft_msg *m,
                                  const uint8_t *whole, size_t size)
{
    uint8_t *out = malloc(size);
    int h = raft_msg_encode_header(m, out, size);
    if (h <= 0 || (size_t)h > size)
        abort();
    size_t at = (size_t)h;
    if (m->type == RAFT_MSG_APPEND) {
        for (uint32_t i = 0; i < m->append.n_entries; i++) {
            const struct raft_entry *e = &m->append.entries[i];
            if (at + RAFT_MSG_ENTRY_HEADER + e->len > size)
                abort();
            raft_msg_encode_entry_header(e, out + at);
            at += RAFT_MSG_ENTRY_HEADER;
            if (e->len > 0)
                memcpy(out + at, e->data, e->len);
            at += e->len;
        }
    } else if (m->type == RAFT_MSG_SNAPSHOT && m->snapshot.len > 0) {
        if (at + m->snapshot.len != size)
            abort();
        memcpy(out + at, m->snapshot.data, m->snapshot.len);
        at += m->snapshot.len;
    }
    if (at != size || memcmp(out, whole, size) != 0)
        abort();
    free(out);
}

static void check_round_trip(const struct raft_msg *m, size_t size)
{
    size_t esize = raft_msg_encoded_size(m);
    if (esize != size)
        abort();
    uint8_t *enc = malloc(esize);
    if (raft_msg_encode(m, enc, esize) != (int)esize)
        abort();
    if (esize > 0 && raft_msg_encode(m, enc, esize - 1) != ERR_TOOBIG)
        abort();
    struct raft_buf owner2 = {1, NULL};
    struct raft_msg again;
    if (raft_msg_decode(NULL, enc, esize, &owner2, &again) != (int)esize)
        abort();
    if (!msg_equal(m, &again))
        abort();
    check_header_encoding(m, enc, esize);
    raft_msg_decoded_free(NULL, &again);
    free(enc);
}

static void check_config(const uint8_t *data, size_t size)
{
    struct raft_config c;
    if (raft_config_decode(data, size, &c) != 0)
        return;
    uint8_t out[RAFT_CONFIG_MAX_BYTES];
    int n = raft_config_encode(&c, out, sizeof(out));
    if (n < 0 || (size_t)n != size || (size_t)n != raft_config_encoded_size(&c)
        || memcmp(out, data, size) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raft_buf owner = {1, NULL};
    size_t off = 0;
    check_config(data, size);
    /* Frames are read back to back, as the link's buffer holds them. */
    for (int frames = 0; off < size && frames < 64; frames++) {
        struct raft_msg m;
        const uint8_t *buf = data + off;
        size_t len = size - off;
        int rv = raft_msg_decode(NULL, buf, len, &owner, &m);
        struct raft_msg f;
        int frv = raft_msg_decode(&failing, buf, len, &owner, &f);
        if (frv != rv && frv != ERR_NOMEM)
            abort();
        if (frv > 0)
            raft_msg_decoded_free(&failing, &f);
        if (rv <= 0)
            break;
        if ((size_t)rv > len)
            abort();
        check_slices(&m, buf, (size_t)rv, &owner);
        check_round_trip(&m, (size_t)rv);
        raft_msg_decoded_free(NULL, &m);
        off += (size_t)rv;
    }
    return 0;
}

/* ---- seeds: one frame of each type, from the encoder ---- */

static void write_seed(const char *dir, const struct raft_msg *m, int i)
{
    uint8_t buf[512];
    char name[32];
    int n = raft_msg_encode(m, buf, sizeof(buf));
    if (n <= 0)
        abort();
    snprintf(name, sizeof(name), "type-%02d", i);
    fuzz_seed_write(dir, name, buf, (size_t)n);
}

static void write_seeds(const char *dir)
{
    static const uint8_t chunk[] = "snapshot chunk bytes";
    struct raft_entry e[3] = {
        {.term = 3, .data = (const uint8_t *)"SET k v", .len = 7,
         .type = RAFT_ENTRY_NORMAL},
        {.term = 3, .type = RAFT_ENTRY_NOOP},
        {.term = 4, .type = RAFT_ENTRY_CONFIG},
    };
    uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
    struct raft_config c = {.n = 2, .max_id = 3,
                            .servers = {{1, RAFT_VOTER}, {3, RAFT_LEARNER}}};
    int clen = raft_config_encode(&c, cfg, sizeof(cfg));
    e[2].data = cfg;
    e[2].len = (uint32_t)clen;
    fuzz_seed_write(dir, "config", cfg, (size_t)clen);
    for (uint8_t type = 1; type <= RAFT_MSG_TYPE_MAX; type++) {
        struct raft_msg m;
        memset(&m, 0, sizeof(m));
        m.type = type;
        m.from = 1;
        m.to = 2;
        m.term = 5;
        if (type == RAFT_MSG_APPEND)
            m.append = (struct raft_msg_append){7, 3, 6, 3, e};
        if (type == RAFT_MSG_SNAPSHOT) {
            m.snapshot.meta.index = 9;
            m.snapshot.meta.term = 4;
            m.snapshot.meta.size = 100;
            m.snapshot.meta.config = c;
            m.snapshot.offset = 80;
            m.snapshot.len = 20;
            m.snapshot.last = true;
            m.snapshot.data = chunk;
        }
        if (type == RAFT_MSG_VOTE)
            m.vote = (struct raft_msg_vote){8, 4, true, false};
        if (type == RAFT_MSG_READ_INDEX_RESP)
            m.read_index_resp = (struct raft_msg_read_index_resp){1, 9, true};
        write_seed(dir, &m, type);
    }
}

FUZZ_SEEDS_INITIALIZE(write_seeds)
