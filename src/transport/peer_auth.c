/* The peer handshake: proves that both ends know the cluster-secret
 * without sending it, before any frame reaches on_frame.
 *   1. Each side sends HELLO {its node id, the id it expects, nonce}: 32
 *      fresh bytes from getrandom(), so no proof can be replayed.
 *   2. On the other's HELLO, each sends AUTH = HMAC-SHA256(secret,
 *      label || role || nonce_I || nonce_A || id_I || id_A), where I is
 *      the side that dialled and A the side that accepted.
 *   3. Each checks the other's AUTH in constant time. The role byte makes
 *      the two proofs of one session differ, so a stranger cannot reflect
 *      a node's own proof back at it; both ids bind the proof to the pair.
 * The dialling side also checks that the node it reached has the id it
 * meant; the accepting side only admits ids it knows (peer_add). */
#include "transport/transport_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#define AUTH_LABEL "raftcache-peer-auth-v1"
#define ROLE_INITIATOR 'I'
#define ROLE_ACCEPTOR 'A'

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int fill_random(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ERR_IO;
        got += (size_t)n;
    }
    return 0;
}

/* The proof that the side playing `role` on link l must present. */
static void proof(const struct peer_link *l, uint8_t role,
                  uint8_t out[PEER_SHA256_LEN])
{
    const struct peer_transport *t = l->t;
    const uint8_t *nonce_i = l->outbound ? l->my_nonce : l->their_nonce;
    const uint8_t *nonce_a = l->outbound ? l->their_nonce : l->my_nonce;
    uint64_t id_i = l->outbound ? t->cfg.node_id : l->remote_id;
    uint64_t id_a = l->outbound ? l->remote_id : t->cfg.node_id;
    uint8_t ids[16];
    put_be64(ids, id_i);
    put_be64(ids + 8, id_a);

    struct peer_hmac m;
    peer__hmac_init(&m, t->secret, t->cfg.secret_len);
    peer__hmac_update(&m, AUTH_LABEL, sizeof(AUTH_LABEL) - 1);
    peer__hmac_update(&m, &role, 1);
    peer__hmac_update(&m, nonce_i, PEER_NONCE_LEN);
    peer__hmac_update(&m, nonce_a, PEER_NONCE_LEN);
    peer__hmac_update(&m, ids, sizeof(ids));
    peer__hmac_final(&m, out);
}

int peer__auth_start(struct peer_link *l)
{
    struct peer_transport *t = l->t;
    uint8_t hello[PEER_HELLO_LEN];
    if (fill_random(l->my_nonce, PEER_NONCE_LEN) != 0) {
        peer__log(t, PEER_LOG_WARNING, "getrandom failed: %s", strerror(errno));
        return ERR_IO;
    }
    put_be64(hello, t->cfg.node_id);
    put_be64(hello + 8, l->outbound ? l->peer->id : 0);
    memcpy(hello + 16, l->my_nonce, PEER_NONCE_LEN);
    if (peer__link_ctl(l, PEER_TYPE_HELLO, hello, sizeof(hello)) != 0)
        return ERR_LIMIT;
    peer__link_write(l);
    return l->closed ? ERR_IO : 0;
}

/* Checks who is on the other end: the node we dialled, or a node we know
 * that meant to reach us. */
static int check_identity(struct peer_link *l, uint64_t sender,
                          uint64_t target)
{
    struct peer_transport *t = l->t;
    if (l->outbound) {
        if (sender == l->peer->id)
            return 0;
        peer__log(t, PEER_LOG_WARNING, "node at %s is %llu, expected peer "
                  "%llu: dropped", l->addr, (unsigned long long)sender,
                  (unsigned long long)l->peer->id);
        l->peer->st.auth_failures++;
        return ERR_PROTOCOL;
    }
    if (target != t->cfg.node_id) {
        peer__log(t, PEER_LOG_WARNING, "link from %s wants node %llu, we are "
                  "%llu: dropped", l->addr, (unsigned long long)target,
                  (unsigned long long)t->cfg.node_id);
        return ERR_PROTOCOL;
    }
    l->peer = peer__find(t, sender);
    if (l->peer == NULL) {
        peer__log(t, PEER_LOG_WARNING, "link from %s claims unknown node "
                  "%llu: dropped", l->addr, (unsigned long long)sender);
        return ERR_PROTOCOL;
    }
    if (l->peer->blocked) {
        peer__log(t, PEER_LOG_VERBOSE, "link from blocked peer %llu refused",
                  (unsigned long long)sender);
        return ERR_PROTOCOL;
    }
    return 0;
}

static int on_hello(struct peer_link *l, const struct peer_frame *f)
{
    struct peer_transport *t = l->t;
    if (l->got_hello || f->len != PEER_HELLO_LEN) {
        peer__log(t, PEER_LOG_WARNING, "bad HELLO from %s: dropped", l->addr);
        return ERR_PROTOCOL;
    }
    uint64_t sender = get_be64(f->payload);
    uint64_t target = get_be64(f->payload + 8);
    int rv = check_identity(l, sender, target);
    if (rv != 0)
        return rv;
    l->remote_id = sender;
    memcpy(l->their_nonce, f->payload + 16, PEER_NONCE_LEN);
    l->got_hello = true;

    uint8_t mine[PEER_SHA256_LEN];
    proof(l, l->outbound ? ROLE_INITIATOR : ROLE_ACCEPTOR, mine);
    if (peer__link_ctl(l, PEER_TYPE_AUTH, mine, sizeof(mine)) != 0)
        return ERR_LIMIT;
    peer__link_write(l);
    return l->closed ? ERR_IO : 0;
}

/* A peer that reconnected makes its older inbound links stale: close them
 * so that only the newest one delivers. */
static void close_older_inbound(struct peer_link *l)
{
    struct peer_link *o = l->t->links;
    while (o != NULL) {
        struct peer_link *next = o->next;
        if (o != l && !o->outbound && o->authed && o->peer == l->peer)
            peer__link_close(o, "replaced by a newer link");
        o = next;
    }
}

static int on_auth(struct peer_link *l, const struct peer_frame *f)
{
    struct peer_transport *t = l->t;
    uint8_t want[PEER_SHA256_LEN];
    if (!l->got_hello || l->authed || f->len != PEER_SHA256_LEN) {
        peer__log(t, PEER_LOG_WARNING, "bad AUTH from %s: dropped", l->addr);
        return ERR_PROTOCOL;
    }
    proof(l, l->outbound ? ROLE_ACCEPTOR : ROLE_INITIATOR, want);
    if (!peer__mac_equal(want, f->payload, PEER_SHA256_LEN)) {
        peer__log(t, PEER_LOG_WARNING, "node %llu at %s failed "
                  "authentication (wrong cluster-secret?): dropped",
                  (unsigned long long)l->remote_id, l->addr);
        l->peer->st.auth_failures++;
        return ERR_PROTOCOL;
    }
    l->authed = true;
    loop_timer_destroy(l->deadline);
    l->deadline = NULL;
    if (!l->outbound) {
        peer__log(t, PEER_LOG_NOTICE, "accepted peer %llu from %s",
                  (unsigned long long)l->remote_id, l->addr);
        close_older_inbound(l);
        return 0;
    }
    peer__link_up(l->peer);
    peer__link_write(l);
    return 0;
}

int peer__auth_frame(struct peer_link *l, const struct peer_frame *f)
{
    switch (f->type) {
    case PEER_TYPE_HELLO:
        return on_hello(l, f);
    case PEER_TYPE_AUTH:
        return on_auth(l, f);
    }
    peer__log(l->t, PEER_LOG_WARNING, "unknown control frame %u from %s: "
              "dropped", f->type, l->addr);
    return ERR_PROTOCOL;
}
