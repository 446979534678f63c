/* libFuzzer target for what a stranger on the cluster bus port can send:
 * the frame parser (peer_frame.c) and the handshake (peer_auth.c: HELLO
 * and AUTH frames), driven without sockets. The first input byte picks the
 * link (bit 0: our outbound link to peer 2, else an inbound one), whether
 * AUTH payloads are replaced by the right proof so that the authenticated
 * path is reached too (bit 1: a fuzzer cannot guess an HMAC), whether
 * peer 3 is blocked (bit 2), and how the rest is cut into reads (bits
 * 3-7). The rest is the byte stream, fed to a buffer and parsed as
 * peer_link.c's parse_frames does (the same size limits, the same
 * delivery rules), while the link's own functions are stand-ins that
 * record what they were asked. Checked: the parser never reads past what
 * it is given, answers every prefix of a whole frame with "need more" and
 * every prefix of a bad one with "need more" or the same error; frames
 * we answer with are well formed; nothing reaches the data path before
 * the handshake passed; a link is authenticated only after HELLO, with
 * the id that was checked. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/transport_internal.h"
#include "fuzz_seed.h"

#define FUZZ_SECRET "fuzz cluster secret"
#define FUZZ_NODE_ID 1
#define FUZZ_MAX_FRAME 512
#define FUZZ_BUF_MAX (1 << 16)

struct fuzz_state {
    int links_up;
    int closes;
    uint64_t data_frames;
    uint64_t data_sum;
};

static struct fuzz_state st;

/* ---- stand-ins for the rest of the room (peer.c, peer_link.c) ---- */

void peer__log(struct peer_transport *t, enum peer_log_level level,
               const char *fmt, ...)
{
    char line[ERRMSG_LEN];
    va_list ap;
    (void)t;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
}

struct peer *peer__find(const struct peer_transport *t, uint64_t id)
{
    for (size_t i = 0; i < t->npeers; i++)
        if (t->peers[i]->id == id)
            return t->peers[i];
    return NULL;
}

void peer__link_up(struct peer *p)
{
    p->state = PEER_UP;
    st.links_up++;
}

void peer__link_close(struct peer_link *l, const char *why)
{
    (void)why;
    l->closed = true;
    st.closes++;
}

int peer__link_ctl(struct peer_link *l, uint8_t type, const void *payload,
                   size_t len)
{
    if (l->ctl_len + PEER_FRAME_HEADER_LEN + len > PEER_CTL_CAP)
        return ERR_LIMIT;
    peer_frame_header(l->ctl + l->ctl_len, type, (uint32_t)len);
    memcpy(l->ctl + l->ctl_len + PEER_FRAME_HEADER_LEN, payload, len);
    l->ctl_len += PEER_FRAME_HEADER_LEN + len;
    return 0;
}

/* "Writes" the control frames: each must parse whole as what we send. */
void peer__link_write(struct peer_link *l)
{
    size_t off = 0;
    while (off < l->ctl_len) {
        struct peer_frame f;
        int r = peer_frame_parse(l->ctl + off, l->ctl_len - off,
                                 PEER_HANDSHAKE_FRAME_MAX, &f);
        if (r <= 0)
            abort();
        if (!((f.type == PEER_TYPE_HELLO && f.len == PEER_HELLO_LEN) ||
              (f.type == PEER_TYPE_AUTH && f.len == PEER_SHA256_LEN)))
            abort();
        off += (size_t)r;
    }
    l->ctl_len = l->ctl_off = 0;
}

void loop_timer_destroy(struct loop_timer *t)
{
    if (t != NULL)
        abort(); /* the fuzzed link has no timer */
}

/* ---- the proof a peer that knows the secret would send ---- */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* peer_auth.c's proof() for the other side of l (format in its header). */
static void forge_proof(const struct peer_link *l, uint8_t out[32])
{
    const uint8_t *nonce_i = l->outbound ? l->my_nonce : l->their_nonce;
    const uint8_t *nonce_a = l->outbound ? l->their_nonce : l->my_nonce;
    uint64_t id_i = l->outbound ? FUZZ_NODE_ID : l->remote_id;
    uint64_t id_a = l->outbound ? l->remote_id : FUZZ_NODE_ID;
    uint8_t role = l->outbound ? 'A' : 'I';
    uint8_t ids[16];
    put_be64(ids, id_i);
    put_be64(ids + 8, id_a);
    struct peer_hmac m;
    peer__hmac_init(&m, FUZZ_SECRET, sizeof(FUZZ_SECRET) - 1);
    peer__hmac_update(&m, "raftcache-peer-auth-v1", 22);
    peer__hmac_update(&m, &role, 1);
    peer__hmac_update(&m, nonce_i, PEER_NONCE_LEN);
    peer__hmac_update(&m, nonce_a, PEER_NONCE_LEN);
    peer__hmac_update(&m, ids, sizeof(ids));
    peer__hmac_final(&m, out);
}

/* ---- the link's read path, as peer_link.c runs it ---- */

/* Every prefix of the bytes the parser judged must be judged alike. */
static void check_prefixes(const uint8_t *buf, size_t len, uint32_t max,
                           int r)
{
    size_t upto = r > 0 ? (size_t)r : len;
    for (size_t k = 0; k < upto; k++) {
        if (k > PEER_FRAME_HEADER_LEN && k + 1 < upto)
            continue; /* past the header only the length matters */
        struct peer_frame f;
        int p = peer_frame_parse(buf, k, max, &f);
        if (p > 0 || (p < 0 && p != r))
            abort();
    }
}

static int deliver(struct peer_link *l, struct peer_frame *f, bool forge)
{
    uint8_t proof[PEER_SHA256_LEN];
    if (f->type < PEER_TYPE_USER_MIN) {
        bool had_hello = l->got_hello, was_authed = l->authed;
        if (forge && f->type == PEER_TYPE_AUTH && f->len == PEER_SHA256_LEN &&
            l->got_hello) {
            forge_proof(l, proof);
            f->payload = proof;
        }
        int rv = peer__auth_frame(l, f);
        if (l->authed && (!l->got_hello || l->peer == NULL ||
                          l->peer->id != l->remote_id))
            abort();
        if (rv == 0 && f->type == PEER_TYPE_HELLO && (had_hello ||
                                                      !l->got_hello))
            abort();
        if (rv == 0 && f->type == PEER_TYPE_AUTH && (was_authed ||
                                                     !l->authed))
            abort();
        return rv;
    }
    if (!l->authed || l->outbound)
        return ERR_PROTOCOL; /* peer_link.c's deliver drops the link */
    if (f->len > FUZZ_MAX_FRAME)
        abort();
    for (uint32_t i = 0; i < f->len; i++)
        st.data_sum += f->payload[i];
    st.data_frames++;
    return 0;
}

/* Parses every whole frame of buf[0..*len); keeps the partial tail.
 * <0 when the link would be dropped. */
static int parse_frames(struct peer_link *l, uint8_t *buf, size_t *len,
                        bool forge)
{
    size_t off = 0;
    int rv = 0;
    while (off < *len) {
        uint32_t max = l->authed && !l->outbound ? FUZZ_MAX_FRAME
                                                 : PEER_HANDSHAKE_FRAME_MAX;
        struct peer_frame f;
        int r = peer_frame_parse(buf + off, *len - off, max, &f);
        check_prefixes(buf + off, *len - off, max, r);
        if (r < 0) {
            rv = r;
            break;
        }
        if (r == 0)
            break;
        if (f.payload != buf + off + PEER_FRAME_HEADER_LEN ||
            (size_t)r != PEER_FRAME_HEADER_LEN + f.len || f.len > max)
            abort();
        rv = deliver(l, &f, forge);
        if (rv < 0 || l->closed)
            break;
        off += (size_t)r;
    }
    memmove(buf, buf + off, *len - off);
    *len -= off;
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    memset(&st, 0, sizeof(st));
    struct peer_transport t;
    struct peer p2, p3, *peers[2] = {&p2, &p3};
    struct peer_link l, old;
    memset(&t, 0, sizeof(t));
    memset(&p2, 0, sizeof(p2));
    memset(&p3, 0, sizeof(p3));
    memset(&l, 0, sizeof(l));
    memset(&old, 0, sizeof(old));
    t.cfg.node_id = FUZZ_NODE_ID;
    t.cfg.secret_len = sizeof(FUZZ_SECRET) - 1;
    t.cfg.max_frame = FUZZ_MAX_FRAME;
    t.secret = (uint8_t *)FUZZ_SECRET;
    t.peers = peers;
    t.npeers = t.cap = 2;
    p2.t = p3.t = &t;
    p2.id = 2;
    p3.id = 3;
    p3.blocked = mode & 4;
    l.t = old.t = &t;
    l.outbound = mode & 1;
    l.peer = l.outbound ? &p2 : NULL;
    snprintf(l.addr, sizeof(l.addr), "fuzz:1");
    /* An older authenticated inbound link from peer 2: a new one that
     * passes the handshake replaces it. */
    old.peer = &p2;
    old.authed = old.got_hello = true;
    old.remote_id = 2;
    l.next = &old;
    t.links = &l;
    /* Both sides open with HELLO (fresh nonce, the id we expect). */
    if (peer__auth_start(&l) != 0)
        abort();

    uint8_t *buf = malloc(size + 1);
    size_t len = 0, fed = 0;
    uint32_t x = (uint32_t)(mode >> 3) + 1;
    int rv = 0;
    while (fed < size && rv >= 0 && !l.closed) {
        x = x * 1103515245u + 12345u;
        size_t n = (mode >> 3) ? 1 + (x >> 16) % 61 : size;
        if (n > size - fed)
            n = size - fed;
        memcpy(buf + len, data + fed, n);
        len += n;
        fed += n;
        rv = parse_frames(&l, buf, &len, mode & 2);
    }
    if (st.data_frames > 0 && (!l.authed || l.outbound))
        abort();
    if (l.authed && !l.outbound && l.peer == &p2 && !old.closed)
        abort();
    if (st.links_up > 0 && !(l.outbound && l.authed))
        abort();
    free(buf);
    return 0;
}

/* ---- seeds: whole handshakes, then data ---- */

static size_t put_frame(uint8_t *out, uint8_t type, const void *payload,
                        uint32_t len)
{
    peer_frame_header(out, type, len);
    if (len > 0)
        memcpy(out + PEER_FRAME_HEADER_LEN, payload, len);
    return PEER_FRAME_HEADER_LEN + len;
}

/* mode byte, HELLO from `sender` for `target`, AUTH (to be forged under
 * mode bit 1), then two data frames. */
static void write_handshake(const char *dir, const char *name, uint8_t mode,
                            uint64_t sender, uint64_t target)
{
    uint8_t buf[512], hello[PEER_HELLO_LEN], proof[PEER_SHA256_LEN] = {0};
    size_t n = 0;
    buf[n++] = mode;
    put_be64(hello, sender);
    put_be64(hello + 8, target);
    memset(hello + 16, 0xab, PEER_NONCE_LEN);
    n += put_frame(buf + n, PEER_TYPE_HELLO, hello, sizeof(hello));
    n += put_frame(buf + n, PEER_TYPE_AUTH, proof, sizeof(proof));
    n += put_frame(buf + n, PEER_TYPE_USER_MIN, "append bytes", 12);
    n += put_frame(buf + n, PEER_TYPE_USER_MIN + 1, "", 0);
    fuzz_seed_write(dir, name, buf, n);
}

static void write_seeds(const char *dir)
{
    write_handshake(dir, "inbound", 0x02, 2, FUZZ_NODE_ID);
    write_handshake(dir, "inbound-split", 0x2a, 3, FUZZ_NODE_ID);
    write_handshake(dir, "inbound-blocked", 0x06, 3, FUZZ_NODE_ID);
    write_handshake(dir, "outbound", 0x03, 2, FUZZ_NODE_ID);
    write_handshake(dir, "unforged", 0x00, 2, FUZZ_NODE_ID);
    uint8_t big[PEER_FRAME_HEADER_LEN + 1] = {0x02};
    peer_frame_header(big + 1, PEER_TYPE_USER_MIN, FUZZ_MAX_FRAME + 1);
    fuzz_seed_write(dir, "oversized", big, sizeof(big));
}

FUZZ_SEEDS_INITIALIZE(write_seeds)
