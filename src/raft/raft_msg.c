/* The binary codec of Raft messages between servers. Frame: u8 version,
 * u8 type, u16 reserved (0), u32 frame length (all bytes, header
 * included), u64 from, u64 to, u64 term, then the type's fields; every
 * integer little-endian and fixed-width. Entry payloads and snapshot chunks
 * are decoded as slices of the input (zero copy); chunk bytes come last so
 * a transport can stream them from a file. The decoder trusts nothing:
 * every length is checked against what remains, every flag and type
 * against its range, and a frame must be consumed exactly. */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

#define HEADER_BYTES 32
#define ENTRY_HEADER RAFT_MSG_ENTRY_HEADER
/* Frames are bounded so a hostile length cannot ask for absurd memory. */
#define FRAME_MAX ((uint32_t)INT32_MAX)

struct writer {
    uint8_t *p;
    size_t cap;
    size_t len;
};

struct reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad;
};

static void w_bytes(struct writer *w, const void *src, size_t n)
{
    if (w->len + n <= w->cap && n > 0) {
        memcpy(w->p + w->len, src, n);
    }
    w->len += n;
}

static void w_u8(struct writer *w, uint8_t v) { w_bytes(w, &v, 1); }

static void w_u32(struct writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    w_bytes(w, b, 4);
}

static void w_u64(struct writer *w, uint64_t v)
{
    w_u32(w, (uint32_t)v);
    w_u32(w, (uint32_t)(v >> 32));
}

static const uint8_t *r_take(struct reader *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint8_t r_u8(struct reader *r)
{
    const uint8_t *p = r_take(r, 1);
    return p ? p[0] : 0;
}

static uint32_t r_u32(struct reader *r)
{
    const uint8_t *p = r_take(r, 4);
    if (p == NULL) {
        return 0;
    }
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t r_u64(struct reader *r)
{
    uint64_t lo = r_u32(r);
    return lo | (uint64_t)r_u32(r) << 32;
}

static bool r_bool(struct reader *r)
{
    uint8_t v = r_u8(r);
    if (v > 1) {
        r->bad = true;
    }
    return v == 1;
}

/* ---- encoding -------------------------------------------------------- */

static void encode_snapshot(struct writer *w, const struct raft_msg_snapshot *s,
                            bool with_data)
{
    uint8_t cfg[RAFT_CONFIG_MAX_BYTES];
    int n = raft_config_encode(&s->meta.config, cfg, sizeof(cfg));
    w_u64(w, s->meta.index);
    w_u64(w, s->meta.term);
    w_u64(w, s->meta.size);
    w_u32(w, n > 0 ? (uint32_t)n : 0);
    w_bytes(w, cfg, n > 0 ? (size_t)n : 0);
    w_u64(w, s->offset);
    w_u32(w, s->len);
    w_u8(w, s->last);
    if (with_data) {
        w_bytes(w, s->data, s->len);
    } else {
        w->len += s->len; /* counted in the frame, written by the caller */
    }
}

static void encode_body(struct writer *w, const struct raft_msg *m,
                        bool with_data)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
        w_u64(w, m->append.prev_index);
        w_u64(w, m->append.prev_term);
        w_u64(w, m->append.commit);
        w_u32(w, m->append.n_entries);
        for (uint32_t i = 0; with_data && i < m->append.n_entries; i++) {
            const struct raft_entry *e = &m->append.entries[i];
            w_u64(w, e->term);
            w_u8(w, e->type);
            w_u32(w, e->len);
            w_bytes(w, e->data, e->len);
        }
        break;
    case RAFT_MSG_APPEND_RESP:
        w_u64(w, m->append_resp.index);
        w_u64(w, m->append_resp.hint_index);
        w_u64(w, m->append_resp.hint_term);
        w_u8(w, (uint8_t)(m->append_resp.reject | m->append_resp.lost << 1));
        break;
    case RAFT_MSG_VOTE:
        w_u64(w, m->vote.last_index);
        w_u64(w, m->vote.last_term);
        w_u8(w, (uint8_t)(m->vote.pre | m->vote.transfer << 1));
        break;
    case RAFT_MSG_VOTE_RESP:
        w_u8(w, (uint8_t)(m->vote_resp.granted | m->vote_resp.pre << 1));
        break;
    case RAFT_MSG_HEARTBEAT:
        w_u64(w, m->heartbeat.commit);
        w_u64(w, m->heartbeat.seq);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        w_u64(w, m->heartbeat_resp.seq);
        break;
    case RAFT_MSG_SNAPSHOT:
        encode_snapshot(w, &m->snapshot, with_data);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        w_u64(w, m->snapshot_resp.index);
        w_u64(w, m->snapshot_resp.next_offset);
        w_u8(w, (uint8_t)(m->snapshot_resp.done |
                          m->snapshot_resp.reject << 1));
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    case RAFT_MSG_READ_INDEX:
        w_u64(w, m->read_index.req_id);
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        w_u64(w, m->read_index_resp.req_id);
        w_u64(w, m->read_index_resp.index);
        w_u8(w, m->read_index_resp.ok);
        break;
    }
}

static bool encodable(const struct raft_msg *m)
{
    if (m->type == 0 || m->type > RAFT_MSG_TYPE_MAX) {
        return false;
    }
    if (m->type == RAFT_MSG_APPEND && m->append.n_entries > 0 &&
        m->append.entries == NULL) {
        return false;
    }
    return true;
}

static int encode(const struct raft_msg *m, uint8_t *buf, size_t cap,
                  bool with_data)
{
    if (!encodable(m)) {
        return ERR_INVALID;
    }
    size_t size = raft_msg_encoded_size(m);
    if (size > FRAME_MAX) {
        return ERR_TOOBIG;
    }
    if (m->type == RAFT_MSG_SNAPSHOT && with_data && m->snapshot.len > 0 &&
        m->snapshot.data == NULL) {
        return ERR_INVALID;
    }
    size_t need = size;
    if (m->type == RAFT_MSG_SNAPSHOT && !with_data) {
        need -= m->snapshot.len;
    } else if (m->type == RAFT_MSG_APPEND && !with_data) {
        need = HEADER_BYTES + 28;
    }
    if (cap < need) {
        return ERR_TOOBIG;
    }
    struct writer w = {buf, cap, 0};
    w_u8(&w, RAFT_MSG_VERSION);
    w_u8(&w, m->type);
    w_u8(&w, 0);
    w_u8(&w, 0);
    w_u32(&w, (uint32_t)size);
    w_u64(&w, m->from);
    w_u64(&w, m->to);
    w_u64(&w, m->term);
    encode_body(&w, m, with_data);
    return (int)need;
}

size_t raft_msg_encoded_size(const struct raft_msg *m)
{
    if (!encodable(m)) {
        return 0;
    }
    struct writer w = {NULL, 0, HEADER_BYTES};
    if (m->type == RAFT_MSG_APPEND) {
        w.len += 28;
        for (uint32_t i = 0; i < m->append.n_entries; i++) {
            w.len += ENTRY_HEADER + m->append.entries[i].len;
        }
        return w.len;
    }
    encode_body(&w, m, false);
    return w.len;
}

void raft_msg_encode_entry_header(const struct raft_entry *e,
                                  uint8_t out[RAFT_MSG_ENTRY_HEADER])
{
    struct writer w = {out, RAFT_MSG_ENTRY_HEADER, 0};
    w_u64(&w, e->term);
    w_u8(&w, e->type);
    w_u32(&w, e->len);
}

int raft_msg_encode(const struct raft_msg *m, uint8_t *buf, size_t cap)
{
    return encode(m, buf, cap, true);
}

int raft_msg_encode_header(const struct raft_msg *m, uint8_t *buf,
                           size_t cap)
{
    return encode(m, buf, cap, false);
}

/* ---- decoding -------------------------------------------------------- */

static int decode_append(const struct raft_alloc *a, struct reader *rd,
                         struct raft_buf *owner, struct raft_msg *m)
{
    m->append.prev_index = r_u64(rd);
    m->append.prev_term = r_u64(rd);
    m->append.commit = r_u64(rd);
    uint32_t n = r_u32(rd);
    if (rd->bad || (size_t)n > (rd->len - rd->pos) / ENTRY_HEADER) {
        return ERR_PROTOCOL;
    }
    m->append.n_entries = n;
    if (n == 0) {
        return 0;
    }
    size_t size = (size_t)n * sizeof(struct raft_entry);
    struct raft_entry *e = a && a->alloc ? a->alloc(a->ctx, size)
                                         : malloc(size);
    if (e == NULL) {
        return ERR_NOMEM;
    }
    m->append.entries = e;
    for (uint32_t i = 0; i < n; i++) {
        struct raft_config c;
        e[i].term = r_u64(rd);
        e[i].type = r_u8(rd);
        e[i].len = r_u32(rd);
        e[i].data = r_take(rd, e[i].len);
        e[i].buf = owner;
        /* A CONFIG entry that is no configuration would be kept in the log
         * and refused by raft_new at the next start. */
        if (rd->bad || e[i].type < RAFT_ENTRY_NORMAL ||
            e[i].type > RAFT_ENTRY_CONFIG || e[i].term == 0 ||
            (e[i].type == RAFT_ENTRY_CONFIG &&
             raft_config_decode(e[i].data, e[i].len, &c) != 0)) {
            raft_msg_decoded_free(a, m);
            return ERR_PROTOCOL;
        }
    }
    return 0;
}

static int decode_snapshot(struct reader *rd, struct raft_buf *owner,
                           struct raft_msg_snapshot *s)
{
    s->meta.index = r_u64(rd);
    s->meta.term = r_u64(rd);
    s->meta.size = r_u64(rd);
    uint32_t clen = r_u32(rd);
    const uint8_t *cfg = r_take(rd, clen);
    if (rd->bad || raft_config_decode(cfg, clen, &s->meta.config) != 0) {
        return ERR_PROTOCOL;
    }
    s->offset = r_u64(rd);
    s->len = r_u32(rd);
    s->last = r_bool(rd);
    s->data = r_take(rd, s->len);
    s->buf = owner;
    if (rd->bad || s->offset > s->meta.size ||
        s->len > s->meta.size - s->offset ||
        s->last != (s->offset + s->len == s->meta.size)) {
        return ERR_PROTOCOL;
    }
    return 0;
}

static uint8_t r_flags(struct reader *rd, uint8_t allowed)
{
    uint8_t v = r_u8(rd);
    if (v & ~allowed) {
        rd->bad = true;
    }
    return v;
}

static int decode_body(const struct raft_alloc *a, struct reader *rd,
                       struct raft_buf *owner, struct raft_msg *m)
{
    uint8_t f;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        return decode_append(a, rd, owner, m);
    case RAFT_MSG_APPEND_RESP:
        m->append_resp.index = r_u64(rd);
        m->append_resp.hint_index = r_u64(rd);
        m->append_resp.hint_term = r_u64(rd);
        f = r_flags(rd, 3);
        m->append_resp.reject = f & 1;
        m->append_resp.lost = (f >> 1) & 1;
        break;
    case RAFT_MSG_VOTE:
        m->vote.last_index = r_u64(rd);
        m->vote.last_term = r_u64(rd);
        f = r_flags(rd, 3);
        m->vote.pre = f & 1;
        m->vote.transfer = (f >> 1) & 1;
        break;
    case RAFT_MSG_VOTE_RESP:
        f = r_flags(rd, 3);
        m->vote_resp.granted = f & 1;
        m->vote_resp.pre = (f >> 1) & 1;
        break;
    case RAFT_MSG_HEARTBEAT:
        m->heartbeat.commit = r_u64(rd);
        m->heartbeat.seq = r_u64(rd);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        m->heartbeat_resp.seq = r_u64(rd);
        break;
    case RAFT_MSG_SNAPSHOT:
        return decode_snapshot(rd, owner, &m->snapshot);
    case RAFT_MSG_SNAPSHOT_RESP:
        m->snapshot_resp.index = r_u64(rd);
        m->snapshot_resp.next_offset = r_u64(rd);
        f = r_flags(rd, 3);
        m->snapshot_resp.done = f & 1;
        m->snapshot_resp.reject = (f >> 1) & 1;
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    case RAFT_MSG_READ_INDEX:
        m->read_index.req_id = r_u64(rd);
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        m->read_index_resp.req_id = r_u64(rd);
        m->read_index_resp.index = r_u64(rd);
        m->read_index_resp.ok = r_bool(rd);
        break;
    default:
        return ERR_PROTOCOL;
    }
    return rd->bad ? ERR_PROTOCOL : 0;
}

int raft_msg_decode(const struct raft_alloc *a, const uint8_t *buf,
                    size_t len, struct raft_buf *owner, struct raft_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len < 8) {
        return 0;
    }
    uint32_t size = buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 |
                    (uint32_t)buf[7] << 24;
    if (buf[0] != RAFT_MSG_VERSION || buf[1] == 0 ||
        buf[1] > RAFT_MSG_TYPE_MAX || buf[2] != 0 || buf[3] != 0 ||
        size < HEADER_BYTES || size > FRAME_MAX) {
        return ERR_PROTOCOL;
    }
    if (len < size) {
        return 0;
    }
    struct reader rd = {buf, size, 8, false};
    m->type = buf[1];
    m->from = r_u64(&rd);
    m->to = r_u64(&rd);
    m->term = r_u64(&rd);
    int rv = decode_body(a, &rd, owner, m);
    if (rv == 0 && rd.pos != size) {
        raft_msg_decoded_free(a, m);
        rv = ERR_PROTOCOL;
    }
    if (rv != 0) {
        memset(m, 0, sizeof(*m));
        return rv;
    }
    return (int)size;
}

void raft_msg_decoded_free(const struct raft_alloc *a, struct raft_msg *m)
{
    if (m->type != RAFT_MSG_APPEND || m->append.entries == NULL) {
        return;
    }
    if (a && a->free) {
        a->free(a->ctx, m->append.entries);
    } else {
        free(m->append.entries);
    }
    m->append.entries = NULL;
    m->append.n_entries = 0;
}
