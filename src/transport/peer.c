/* The transport object and its peers: the peer table, the per-peer
 * outbound queue with its byte bound (ERR_BUSY is Raft's signal to stop its
 * window; on_writable restarts it), the flush run before the loop sleeps,
 * reconnect backoff, status for INFO raft, and deferred freeing so that a
 * callback may remove the very peer that is calling it.
 * happy path: send → queue → flush (one writev) → release.
 * failure modes: link lost → queue dropped and counted, redial after
 * min(max, min * 2^attempts) ms, jittered down by up to half. */
#include "transport/transport_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MAX_FRAME (64u << 20)
#define DEFAULT_MAX_QUEUE ((size_t)64 << 20)
#define DEFAULT_BACKOFF_MIN 100
#define DEFAULT_BACKOFF_MAX 5000
#define DEFAULT_HANDSHAKE_TIMEOUT 3000
#define DEFAULT_USER_TIMEOUT 10000

static void on_before_sleep(struct loop *loop, void *data);

/* ---- Logging ---- */

void peer__log(struct peer_transport *t, enum peer_log_level level,
               const char *fmt, ...)
{
    char msg[ERRMSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (t->cfg.log != NULL) {
        t->cfg.log(t->cfg.data, level, msg);
        return;
    }
    if (level <= PEER_LOG_NOTICE)
        fprintf(stderr, "peer: %s\n", msg);
}

/* ---- Create and close ---- */

static void config_defaults(struct peer_config *c)
{
    if (c->max_frame == 0)
        c->max_frame = DEFAULT_MAX_FRAME;
    if (c->max_queue_bytes == 0)
        c->max_queue_bytes = DEFAULT_MAX_QUEUE;
    if (c->backoff_min_ms <= 0)
        c->backoff_min_ms = DEFAULT_BACKOFF_MIN;
    if (c->backoff_max_ms < c->backoff_min_ms)
        c->backoff_max_ms = c->backoff_min_ms > DEFAULT_BACKOFF_MAX
                                ? c->backoff_min_ms
                                : DEFAULT_BACKOFF_MAX;
    if (c->handshake_timeout_ms <= 0)
        c->handshake_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT;
    if (c->user_timeout_ms <= 0)
        c->user_timeout_ms = DEFAULT_USER_TIMEOUT;
}

static int config_check(const struct peer_config *c, char errmsg[ERRMSG_LEN])
{
    if (c->node_id == 0) {
        snprintf(errmsg, ERRMSG_LEN, "node id must be nonzero");
        return ERR_INVALID;
    }
    if (c->on_frame == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "on_frame callback missing");
        return ERR_INVALID;
    }
    if (c->port < 0 || c->port > 65535) {
        snprintf(errmsg, ERRMSG_LEN, "cluster-port %d out of range", c->port);
        return ERR_INVALID;
    }
    if (c->max_frame > PEER_FRAME_LIMIT) {
        snprintf(errmsg, ERRMSG_LEN, "max frame %u above %u", c->max_frame,
                 PEER_FRAME_LIMIT);
        return ERR_INVALID;
    }
    return 0;
}

struct peer_transport *peer_open(struct loop *loop,
                                 const struct peer_config *cfg,
                                 char errmsg[ERRMSG_LEN])
{
    if (config_check(cfg, errmsg) != 0)
        return NULL;
    struct peer_transport *t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto err_nomem;
    t->loop = loop;
    t->cfg = *cfg;
    config_defaults(&t->cfg);
    t->lfd = -1;
    t->rng = cfg->seed ^ 0x9e3779b97f4a7c15ull ^ cfg->node_id;
    t->secret = malloc(cfg->secret_len ? cfg->secret_len : 1);
    if (t->secret == NULL)
        goto err_after_transport;
    if (cfg->secret_len > 0)
        memcpy(t->secret, cfg->secret, cfg->secret_len);
    t->cfg.secret = t->secret;
    if (peer__listen(t, errmsg) != 0)
        goto err_after_secret;
    t->cfg.bind = NULL; /* borrowed for the call only */
    if (loop_add_before_sleep(loop, on_before_sleep, t) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "too many before-sleep hooks");
        goto err_after_listen;
    }
    if (cfg->secret_len == 0)
        peer__log(t, PEER_LOG_WARNING, "cluster-secret is empty: any host "
                                       "that can reach the bus can join");
    return t;

err_after_listen:
    loop_io_destroy(t->lio);
    close(t->lfd);
err_after_secret:
    free(t->secret);
err_after_transport:
    free(t);
    return NULL;
err_nomem:
    snprintf(errmsg, ERRMSG_LEN, "out of memory");
    return NULL;
}

static void peer_free(struct peer *p)
{
    loop_timer_destroy(p->redial);
    free(p->host);
    free(p);
}

/* Frees links and peers that were closed while callbacks ran. */
static void reap(struct peer_transport *t)
{
    while (t->dead != NULL) {
        struct peer_link *l = t->dead;
        t->dead = l->next;
        peer__link_free(l);
    }
    while (t->dead_peers != NULL) {
        struct peer *p = t->dead_peers;
        t->dead_peers = p->next_dead;
        peer_free(p);
    }
}

void peer__enter(struct peer_transport *t)
{
    t->depth++;
}

void peer__leave(struct peer_transport *t)
{
    if (--t->depth == 0)
        reap(t);
}

void peer_close(struct peer_transport *t)
{
    if (t == NULL)
        return;
    peer__enter(t);
    while (t->npeers > 0)
        peer_remove(t, t->peers[0]->id);
    while (t->links != NULL)
        peer__link_close(t->links, NULL);
    peer__leave(t);
    loop_remove_before_sleep(t->loop, on_before_sleep, t);
    loop_io_destroy(t->lio);
    if (t->lfd >= 0)
        close(t->lfd);
    free(t->peers);
    if (t->cfg.secret_len > 0)
        explicit_bzero(t->secret, t->cfg.secret_len);
    free(t->secret);
    free(t);
}

int peer_local_port(const struct peer_transport *t)
{
    return t->port;
}

/* ---- Peer table ---- */

struct peer *peer__find(const struct peer_transport *t, uint64_t id)
{
    for (size_t i = 0; i < t->npeers; i++)
        if (t->peers[i]->id == id)
            return t->peers[i];
    return NULL;
}

static void on_redial(struct loop_timer *timer, void *data)
{
    struct peer *p = data;
    struct peer_transport *t = p->t;
    peer__enter(t);
    peer__dial(p);
    peer__leave(t);
}

static int peer_set_address(struct peer *p, const char *host, int port)
{
    char *copy = strdup(host);
    if (copy == NULL)
        return ERR_NOMEM;
    free(p->host);
    p->host = copy;
    p->port = port;
    return 0;
}

static int peer_readdress(struct peer_transport *t, struct peer *p,
                          const char *host, int port)
{
    if (p->port == port && strcmp(p->host, host) == 0)
        return 0;
    int rv = peer_set_address(p, host, port);
    if (rv != 0)
        return rv;
    peer__log(t, PEER_LOG_NOTICE, "peer %llu moved to %s:%d",
              (unsigned long long)p->id, host, port);
    if (p->out != NULL)
        peer__link_close(p->out, "address changed");
    return 0;
}

int peer_add(struct peer_transport *t, uint64_t id, const char *host,
             int port)
{
    if (id == 0 || id == t->cfg.node_id || host == NULL || port <= 0 ||
        port > 65535)
        return ERR_INVALID;
    struct peer *p = peer__find(t, id);
    if (p != NULL)
        return peer_readdress(t, p, host, port);
    if (t->npeers == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        struct peer **peers = realloc(t->peers, cap * sizeof(*peers));
        if (peers == NULL)
            return ERR_NOMEM;
        t->peers = peers;
        t->cap = cap;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL || peer_set_address(p, host, port) != 0)
        goto err_after_peer;
    p->t = t;
    p->id = id;
    p->st.id = id;
    p->state = PEER_CONNECTING;
    /* Dial from the loop, not from inside the caller. */
    p->redial = loop_timer_create(t->loop, 0, 0, on_redial, p);
    if (p->redial == NULL)
        goto err_after_peer;
    t->peers[t->npeers++] = p;
    return 0;

err_after_peer:
    if (p != NULL)
        free(p->host);
    free(p);
    return ERR_NOMEM;
}

/* Closes the inbound links that authenticated as p. */
static void close_inbound(struct peer_transport *t, struct peer *p,
                          const char *why)
{
    struct peer_link *l = t->links;
    while (l != NULL) {
        struct peer_link *next = l->next;
        if (!l->outbound && l->peer == p)
            peer__link_close(l, why);
        l = next;
    }
}

int peer_remove(struct peer_transport *t, uint64_t id)
{
    size_t i;
    for (i = 0; i < t->npeers; i++)
        if (t->peers[i]->id == id)
            break;
    if (i == t->npeers)
        return ERR_NOTFOUND;
    struct peer *p = t->peers[i];
    t->peers[i] = t->peers[--t->npeers];
    peer__enter(t);
    p->removed = true;
    loop_timer_stop(p->redial);
    if (p->out != NULL)
        peer__link_close(p->out, "peer removed");
    close_inbound(t, p, "peer removed");
    peer__drop_queue(p);
    /* Freed when no callback that may hold p is running (now, if none). */
    p->next_dead = t->dead_peers;
    t->dead_peers = p;
    peer__leave(t);
    return 0;
}

int peer_drop_link(struct peer_transport *t, uint64_t id)
{
    struct peer *p = peer__find(t, id);
    if (p == NULL)
        return ERR_NOTFOUND;
    peer__enter(t);
    if (p->out != NULL)
        peer__link_close(p->out, "dropped on request");
    close_inbound(t, p, "dropped on request");
    peer__leave(t);
    return 0;
}

int peer_block(struct peer_transport *t, uint64_t id, bool on)
{
    struct peer *p = peer__find(t, id);
    if (p == NULL)
        return ERR_NOTFOUND;
    if (p->blocked == on)
        return 0;
    p->blocked = on;
    peer__log(t, PEER_LOG_NOTICE, "traffic with peer %llu %s",
              (unsigned long long)id, on ? "blocked" : "unblocked");
    if (!on) {
        p->attempts = 0;
        p->state = PEER_CONNECTING;
        loop_timer_again(p->redial, 0);
        return 0;
    }
    peer__enter(t);
    loop_timer_stop(p->redial);
    if (p->out != NULL)
        peer__link_close(p->out, "blocked");
    close_inbound(t, p, "blocked");
    peer__drop_queue(p);
    p->state = PEER_BACKOFF;
    peer__leave(t);
    return 0;
}

/* ---- Link events ---- */

/* xorshift64*: jitter only, so that peers that lost each other at the
 * same moment do not redial in lockstep. */
static uint64_t rng_next(struct peer_transport *t)
{
    uint64_t x = t->rng ? t->rng : 0x2545f4914f6cdd1dull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

static double backoff_ms(struct peer_transport *t, int attempts)
{
    int64_t delay = t->cfg.backoff_min_ms;
    for (int i = 0; i < attempts && delay < t->cfg.backoff_max_ms; i++)
        delay *= 2;
    if (delay > t->cfg.backoff_max_ms)
        delay = t->cfg.backoff_max_ms;
    /* Uniform in [delay/2, delay]. */
    int64_t half = delay / 2;
    return (double)(delay - half + (int64_t)(rng_next(t) % (uint64_t)(half + 1)));
}

void peer__link_lost(struct peer *p)
{
    struct peer_transport *t = p->t;
    p->out = NULL;
    if (p->removed)
        return;
    if (p->state == PEER_UP)
        peer__log(t, PEER_LOG_NOTICE, "link to peer %llu lost",
                  (unsigned long long)p->id);
    peer__drop_queue(p);
    p->state = PEER_BACKOFF;
    if (p->blocked)
        return;
    double delay = backoff_ms(t, p->attempts);
    if (p->attempts < 30)
        p->attempts++;
    loop_timer_again(p->redial, delay);
    peer__maybe_writable(p);
}

void peer__refused(struct peer *p)
{
    struct peer_transport *t = p->t;
    p->st.refused++;
    if (t->cfg.on_gone != NULL && !p->removed)
        t->cfg.on_gone(t->cfg.data, p->id);
}

void peer__link_up(struct peer *p)
{
    p->state = PEER_UP;
    p->attempts = 0;
    p->st.links_up++;
    peer__log(p->out->t, PEER_LOG_NOTICE, "link to peer %llu (%s) is up",
              (unsigned long long)p->id, p->out->addr);
}

/* ---- Queue ---- */

static size_t queued_bytes(const struct peer *p)
{
    return p->st.bytes_queued;
}

static void msg_release(struct peer_msg *m)
{
    if (m->release != NULL)
        m->release(m->ctx, m->release_buf, m->len);
    free(m);
}

void peer__drop_queue(struct peer *p)
{
    while (p->head != NULL) {
        struct peer_msg *m = p->head;
        p->head = m->next;
        p->st.frames_dropped++;
        msg_release(m);
    }
    p->tail = NULL;
    p->head_off = 0;
    p->st.bytes_queued = 0;
    p->st.frames_queued = 0;
}

void peer__consume(struct peer *p, size_t n)
{
    while (n > 0 && p->head != NULL) {
        struct peer_msg *m = p->head;
        size_t left = PEER_FRAME_HEADER_LEN + m->len - p->head_off;
        if (n < left) {
            p->head_off += n;
            p->st.bytes_queued -= n;
            return;
        }
        n -= left;
        p->st.bytes_queued -= left;
        p->st.frames_queued--;
        p->st.frames_sent++;
        p->st.bytes_sent += PEER_FRAME_HEADER_LEN + m->len;
        p->head = m->next;
        p->head_off = 0;
        msg_release(m);
    }
    if (p->head == NULL)
        p->tail = NULL;
}

void peer__maybe_writable(struct peer *p)
{
    struct peer_transport *t = p->t;
    if (!p->busy_reported || p->removed)
        return;
    if (queued_bytes(p) > t->cfg.max_queue_bytes / 2)
        return;
    p->busy_reported = false;
    if (t->cfg.on_writable != NULL)
        t->cfg.on_writable(t->cfg.data, p->id);
}

static int send_check(struct peer_transport *t, struct peer *p, uint8_t type,
                      size_t len)
{
    if (p == NULL)
        return ERR_NOTFOUND;
    if (type < PEER_TYPE_USER_MIN)
        return ERR_INVALID;
    if (len > t->cfg.max_frame)
        return ERR_TOOBIG;
    /* One frame always fits in an empty queue, so a frame larger than the
     * bound (but within max_frame) can still go. */
    if (p->head != NULL &&
        queued_bytes(p) + PEER_FRAME_HEADER_LEN + len > t->cfg.max_queue_bytes) {
        p->busy_reported = true;
        p->st.would_block++;
        return ERR_BUSY;
    }
    return 0;
}

static void enqueue(struct peer *p, struct peer_msg *m, uint8_t type)
{
    peer_frame_header(m->hdr, type, (uint32_t)m->len);
    m->next = NULL;
    if (p->tail != NULL)
        p->tail->next = m;
    else
        p->head = m;
    p->tail = m;
    p->st.bytes_queued += PEER_FRAME_HEADER_LEN + m->len;
    p->st.frames_queued++;
}

/* Refuses the frame (ERR_*), drops it while the peer is in backoff (1),
 * or lets it be queued (0). */
static int send_admit(struct peer_transport *t, struct peer *p, uint8_t type,
                      size_t len)
{
    int rv = send_check(t, p, type, len);
    if (rv != 0)
        return rv;
    if (p->state != PEER_BACKOFF)
        return 0;
    p->st.frames_dropped++;
    return 1;
}

/* send_admit for a zero-copy frame: a dropped frame's bytes go back to
 * their owner at once through release. */
static int send_admit_zc(struct peer_transport *t, struct peer *p,
                         uint8_t type, size_t len, peer_release_cb release,
                         void *ctx, const void *buf)
{
    int rv = send_admit(t, p, type, len);
    if (rv > 0 && release != NULL)
        release(ctx, buf, len);
    return rv;
}

static struct peer_msg *msg_new(size_t extra)
{
    struct peer_msg *m = malloc(sizeof(struct peer_msg) + extra);
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof(*m));
    return m;
}

int peer_send(struct peer_transport *t, uint64_t id, uint8_t type,
              const void *buf, size_t len)
{
    struct peer *p = peer__find(t, id);
    int rv = send_admit(t, p, type, len);
    if (rv != 0)
        return rv < 0 ? rv : 0;
    struct peer_msg *m = msg_new(len);
    if (m == NULL)
        return ERR_NOMEM;
    if (len > 0)
        memcpy(m->data, buf, len);
    m->one = (struct iovec){.iov_base = m->data, .iov_len = len};
    m->iov = &m->one;
    m->niov = 1;
    m->len = len;
    enqueue(p, m, type);
    return 0;
}

int peer_send_zc(struct peer_transport *t, uint64_t id, uint8_t type,
                 const void *buf, size_t len, peer_release_cb release,
                 void *ctx)
{
    struct peer *p = peer__find(t, id);
    int rv = send_admit_zc(t, p, type, len, release, ctx, buf);
    if (rv != 0)
        return rv < 0 ? rv : 0;
    struct peer_msg *m = msg_new(0);
    if (m == NULL)
        return ERR_NOMEM;
    m->one = (struct iovec){.iov_base = (void *)buf, .iov_len = len};
    m->iov = &m->one;
    m->niov = 1;
    m->len = len;
    m->release = release;
    m->ctx = ctx;
    m->release_buf = buf;
    enqueue(p, m, type);
    return 0;
}

int peer_sendv_zc(struct peer_transport *t, uint64_t id, uint8_t type,
                  const struct iovec *iov, int iovcnt,
                  peer_release_cb release, void *ctx)
{
    if (iovcnt < 1 || iovcnt > PEER_SENDV_MAX)
        return ERR_INVALID;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    struct peer *p = peer__find(t, id);
    int rv = send_admit_zc(t, p, type, len, release, ctx, NULL);
    if (rv != 0)
        return rv < 0 ? rv : 0;
    struct peer_msg *m = msg_new((size_t)iovcnt * sizeof(struct iovec));
    if (m == NULL)
        return ERR_NOMEM;
    memcpy(m->data, iov, (size_t)iovcnt * sizeof(struct iovec));
    m->iov = (const struct iovec *)(void *)m->data;
    m->niov = iovcnt;
    m->len = len;
    m->release = release;
    m->ctx = ctx;
    enqueue(p, m, type);
    return 0;
}

void peer_flush(struct peer_transport *t)
{
    peer__enter(t);
    for (size_t i = 0; i < t->npeers; i++) {
        struct peer *p = t->peers[i];
        if (p->state != PEER_UP || p->head == NULL || p->out == NULL)
            continue;
        /* A link waiting for POLLOUT is written by its io callback. */
        if (loop_io_events(p->out->io) & LOOP_WRITE)
            continue;
        peer__link_write(p->out);
    }
    peer__leave(t);
}

static void on_before_sleep(struct loop *loop, void *data)
{
    peer_flush(data);
}

/* ---- Status ---- */

int peer_get_status(const struct peer_transport *t, uint64_t id,
                    struct peer_status *st)
{
    const struct peer *p = peer__find(t, id);
    if (p == NULL)
        return ERR_NOTFOUND;
    *st = p->st;
    st->connected = p->out != NULL && !p->out->connecting;
    st->authenticated = p->state == PEER_UP;
    st->blocked = p->blocked;
    st->inbound = false;
    for (const struct peer_link *l = t->links; l != NULL; l = l->next)
        if (!l->outbound && l->peer == p && l->authed)
            st->inbound = true;
    return 0;
}

size_t peer_list(const struct peer_transport *t, uint64_t *ids, size_t max)
{
    for (size_t i = 0; i < t->npeers && i < max; i++)
        ids[i] = t->peers[i]->id;
    return t->npeers;
}
