/* Links: the sockets under the transport. The listener accepts inbound
 * links; peer__dial opens the outbound one of a peer (non-blocking connect,
 * TCP_NODELAY, TCP_USER_TIMEOUT so a black-holed peer fails instead of
 * hanging the queue). Reads fill one buffer per link and frames are handed
 * up as slices of it (no copy); writes gather the control frames and as
 * many queued frames as fit in one sendmsg. A link is closed at the first
 * malformed or oversized frame, and freed only when no callback is running.
 * happy path: dial → HELLO/AUTH (peer_auth.c) → frames both ways.
 * failure modes: connect error, EOF, reset, bad frame, handshake timeout →
 * close, and for outbound links a redial after the backoff (peer.c). */
#include "transport/transport_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define ACCEPTS_PER_EVENT 64
#define READS_PER_EVENT 16
#define WRITES_PER_FLUSH 8

static void on_link_io(struct loop_io *io, int events, void *data);

static void on_deadline(struct loop_timer *timer, void *data)
{
    struct peer_link *l = data;
    struct peer_transport *t = l->t;
    peer__enter(t);
    peer__log(t, PEER_LOG_WARNING,
              "%s link %s not authenticated within %d ms, dropped",
              l->outbound ? "outbound" : "inbound", l->addr,
              t->cfg.handshake_timeout_ms);
    if (l->peer != NULL)
        l->peer->st.auth_failures++;
    peer__link_close(l, NULL);
    peer__leave(t);
}

static struct peer_link *link_new(struct peer_transport *t, int fd,
                                  bool outbound, const char *addr)
{
    struct peer_link *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->t = t;
    l->fd = fd;
    l->outbound = outbound;
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    l->rbuf = malloc(PEER_RBUF_MIN);
    l->rcap = PEER_RBUF_MIN;
    l->io = loop_io_create(t->loop, fd, LOOP_READ, on_link_io, l);
    l->deadline = loop_timer_create(t->loop, t->cfg.handshake_timeout_ms, 0,
                                    on_deadline, l);
    if (l->rbuf == NULL || l->io == NULL || l->deadline == NULL) {
        loop_io_destroy(l->io);
        loop_timer_destroy(l->deadline);
        free(l->rbuf);
        free(l);
        return NULL;
    }
    l->next = t->links;
    t->links = l;
    return l;
}

void peer__link_free(struct peer_link *l)
{
    free(l->rbuf);
    free(l);
}

static void unlink_live(struct peer_link *l)
{
    struct peer_link **pp = &l->t->links;
    while (*pp != NULL && *pp != l)
        pp = &(*pp)->next;
    if (*pp == l)
        *pp = l->next;
}

void peer__link_close(struct peer_link *l, const char *why)
{
    if (l->closed)
        return;
    struct peer_transport *t = l->t;
    peer__enter(t);
    l->closed = true;
    if (why != NULL)
        peer__log(t, l->authed ? PEER_LOG_NOTICE : PEER_LOG_VERBOSE,
                  "%s link %s closed: %s", l->outbound ? "outbound" : "inbound",
                  l->addr, why);
    loop_io_destroy(l->io);
    l->io = NULL;
    loop_timer_destroy(l->deadline);
    l->deadline = NULL;
    close(l->fd);
    l->fd = -1;
    unlink_live(l);
    l->next = t->dead;
    t->dead = l;
    if (l->outbound && l->peer != NULL && l->peer->out == l)
        peer__link_lost(l->peer);
    peer__leave(t); /* frees l unless a callback up the stack still runs */
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

/* ---- Writing ---- */

/* Adds frame m to iov from byte `off` of it (header included). Returns the
 * new iovec count, or -1 when the frame does not fit whole. */
static int gather_msg(const struct peer_msg *m, size_t off, struct iovec *iov,
                      int n)
{
    if (n + 1 + m->niov > PEER_IOV_MAX)
        return -1;
    if (off < PEER_FRAME_HEADER_LEN) {
        iov[n].iov_base = (uint8_t *)m->hdr + off;
        iov[n++].iov_len = PEER_FRAME_HEADER_LEN - off;
        off = 0;
    } else {
        off -= PEER_FRAME_HEADER_LEN;
    }
    for (int i = 0; i < m->niov; i++) {
        size_t seg = m->iov[i].iov_len;
        if (off >= seg) {
            off -= seg;
            continue;
        }
        iov[n].iov_base = (uint8_t *)m->iov[i].iov_base + off;
        iov[n++].iov_len = seg - off;
        off = 0;
    }
    return n;
}

/* Fills iov with the unwritten control bytes and, on an authenticated
 * outbound link, the queued frames. Returns the iovec count; *total gets
 * the byte count. */
static int gather(struct peer_link *l, struct iovec *iov, size_t *total)
{
    int n = 0;
    *total = 0;
    if (l->ctl_off < l->ctl_len) {
        iov[n].iov_base = l->ctl + l->ctl_off;
        iov[n++].iov_len = l->ctl_len - l->ctl_off;
    }
    struct peer *p = l->peer;
    if (l->outbound && l->authed && p != NULL) {
        size_t off = p->head_off;
        for (struct peer_msg *m = p->head; m != NULL; m = m->next, off = 0) {
            int next = gather_msg(m, off, iov, n);
            if (next < 0)
                break;
            n = next;
        }
    }
    for (int i = 0; i < n; i++)
        *total += iov[i].iov_len;
    return n;
}

/* Takes n written bytes off the control buffer, then off the queue. */
static void consume(struct peer_link *l, size_t n)
{
    size_t ctl = l->ctl_len - l->ctl_off;
    size_t take = n < ctl ? n : ctl;
    l->ctl_off += take;
    n -= take;
    if (l->ctl_off == l->ctl_len)
        l->ctl_off = l->ctl_len = 0;
    if (n > 0 && l->peer != NULL)
        peer__consume(l->peer, n);
}

static void want_write(struct peer_link *l, bool on)
{
    loop_io_set(l->io, on ? LOOP_READ | LOOP_WRITE : LOOP_READ);
}

void peer__link_write(struct peer_link *l)
{
    struct iovec iov[PEER_IOV_MAX];
    size_t total;
    for (int round = 0; round < WRITES_PER_FLUSH && !l->closed; round++) {
        int niov = gather(l, iov, &total);
        if (niov == 0) {
            want_write(l, false);
            break;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)niov};
        ssize_t n = sendmsg(l->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_write(l, true);
            break;
        }
        if (n < 0) {
            peer__link_close(l, strerror(errno));
            return;
        }
        if (l->outbound && l->authed && l->peer != NULL)
            l->peer->st.write_calls++;
        consume(l, (size_t)n);
        if ((size_t)n < total) {
            want_write(l, true);
            break;
        }
    }
    /* Still more than WRITES_PER_FLUSH rounds' worth: finish on POLLOUT. */
    if (!l->closed && gather(l, iov, &total) > 0)
        want_write(l, true);
    if (!l->closed && l->outbound && l->peer != NULL)
        peer__maybe_writable(l->peer);
}

/* ---- Reading ---- */

static int deliver(struct peer_link *l, const struct peer_frame *f)
{
    struct peer_transport *t = l->t;
    if (f->type < PEER_TYPE_USER_MIN)
        return peer__auth_frame(l, f);
    if (!l->authed) {
        peer__log(t, PEER_LOG_WARNING, "frame before authentication from "
                                       "%s, dropped", l->addr);
        return ERR_PROTOCOL;
    }
    if (l->outbound) {
        peer__log(t, PEER_LOG_WARNING, "data frame on outbound link %s, "
                                       "dropped", l->addr);
        return ERR_PROTOCOL;
    }
    struct peer *p = l->peer;
    p->st.frames_received++;
    p->st.bytes_received += PEER_FRAME_HEADER_LEN + f->len;
    p->st.last_heard_ms = loop_mono_ms(t->loop);
    t->cfg.on_frame(t->cfg.data, p->id, f->type, f->payload, f->len);
    return 0;
}

/* Makes room for the whole frame whose header starts the buffer (at least
 * doubling, so a run of growing frames costs few reallocs), and gives
 * memory beyond PEER_RBUF_KEEP back after a large frame. */
static int fit_buffer(struct peer_link *l)
{
    size_t need = PEER_RBUF_MIN;
    if (l->rlen >= PEER_FRAME_HEADER_LEN) {
        const uint8_t *h = l->rbuf;
        size_t plen = (size_t)h[4] << 24 | (size_t)h[5] << 16 |
                      (size_t)h[6] << 8 | h[7];
        if (PEER_FRAME_HEADER_LEN + plen > need)
            need = PEER_FRAME_HEADER_LEN + plen;
    }
    if (need <= l->rcap) {
        if (l->rlen > 0 || l->rcap <= PEER_RBUF_KEEP)
            return 0;
        need = PEER_RBUF_MIN; /* empty after a very large frame */
    } else if (need < 2 * l->rcap && 2 * l->rcap <= PEER_RBUF_KEEP) {
        need = 2 * l->rcap;
    }
    if (need == l->rcap)
        return 0;
    uint8_t *buf = realloc(l->rbuf, need);
    if (buf == NULL)
        return ERR_NOMEM;
    l->rbuf = buf;
    l->rcap = need;
    return 0;
}

/* Delivers every whole frame in the buffer; keeps the partial tail. */
static int parse_frames(struct peer_link *l)
{
    struct peer_transport *t = l->t;
    size_t off = 0;
    while (off < l->rlen) {
        struct peer_frame f;
        /* Only an authenticated inbound link carries data frames: until
         * then (and on outbound links, which only ever receive the
         * handshake) a stranger cannot make us buffer more than a few
         * bytes. */
        uint32_t max = l->authed && !l->outbound ? t->cfg.max_frame
                                                 : PEER_HANDSHAKE_FRAME_MAX;
        int r = peer_frame_parse(l->rbuf + off, l->rlen - off, max, &f);
        if (r < 0) {
            peer__log(t, PEER_LOG_WARNING, "%s from %s (limit %u bytes), "
                      "link dropped", r == ERR_TOOBIG ? "oversized frame"
                                                      : "malformed frame",
                      l->addr, max);
            return r;
        }
        if (r == 0)
            break;
        int rv = deliver(l, &f);
        if (rv < 0 || l->closed)
            return rv < 0 ? rv : ERR_SHUTDOWN;
        off += (size_t)r;
    }
    /* Nothing to move while a large frame accumulates (off 0): moving
     * it onto itself would copy it once per read. */
    if (off > 0) {
        memmove(l->rbuf, l->rbuf + off, l->rlen - off);
        l->rlen -= off;
    }
    return fit_buffer(l);
}

static void link_read(struct peer_link *l)
{
    for (int i = 0; i < READS_PER_EVENT && !l->closed; i++) {
        size_t room = l->rcap - l->rlen;
        ssize_t n = read(l->fd, l->rbuf + l->rlen, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            peer__link_close(l, n == 0 ? "closed by peer" : strerror(errno));
            return;
        }
        l->rlen += (size_t)n;
        if (parse_frames(l) < 0) {
            peer__link_close(l, NULL);
            return;
        }
        if ((size_t)n < room)
            return;
    }
}

/* ---- Outbound: dialling ---- */

static void finish_connect(struct peer_link *l)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        struct peer *p = l->peer;
        peer__link_close(l, strerror(err));
        if (err == ECONNREFUSED && p != NULL)
            peer__refused(p);
        return;
    }
    l->connecting = false;
    loop_io_set(l->io, LOOP_READ);
    if (peer__auth_start(l) != 0)
        peer__link_close(l, NULL);
}

static void on_link_io(struct loop_io *io, int events, void *data)
{
    struct peer_link *l = data;
    struct peer_transport *t = l->t;
    peer__enter(t);
    if (l->connecting) {
        if (events & LOOP_WRITE)
            finish_connect(l);
    } else {
        if (events & LOOP_READ)
            link_read(l);
        if (!l->closed && (events & LOOP_WRITE))
            peer__link_write(l);
    }
    peer__leave(t);
}

static void set_buffers(int fd, int bytes)
{
    if (bytes <= 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

static void set_sockopts(int fd, int user_timeout_ms)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (user_timeout_ms > 0) {
        unsigned ut = (unsigned)user_timeout_ms;
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
    }
}

/* Resolves and starts a non-blocking connect; returns the fd or -1 with
 * errno set (EINPROGRESS is success: *pending is set). */
static int start_connect(const char *host, int port, int bufsize,
                         bool *pending)
{
    char service[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0)
        goto out;
    /* Before connect, so the TCP window is sized from it. */
    set_buffers(fd, bufsize);
    *pending = false;
    if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            int saved = errno;
            close(fd);
            errno = saved;
            fd = -1;
            goto out;
        }
        *pending = true;
    }
out:
    freeaddrinfo(res);
    return fd;
}

void peer__dial(struct peer *p)
{
    struct peer_transport *t = p->t;
    char addr[80];
    bool pending;
    if (p->removed || p->blocked || p->out != NULL)
        return;
    p->state = PEER_CONNECTING;
    snprintf(addr, sizeof(addr), "%s:%d", p->host, p->port);
    int fd = start_connect(p->host, p->port, t->cfg.socket_buffer, &pending);
    if (fd < 0) {
        int err = errno;
        peer__log(t, PEER_LOG_VERBOSE, "connect to peer %llu at %s: %s",
                  (unsigned long long)p->id, addr, strerror(err));
        peer__link_lost(p);
        if (err == ECONNREFUSED)
            peer__refused(p);
        return;
    }
    set_sockopts(fd, t->cfg.user_timeout_ms);
    struct peer_link *l = link_new(t, fd, true, addr);
    if (l == NULL) {
        close(fd);
        peer__link_lost(p);
        return;
    }
    l->peer = p;
    p->out = l;
    if (pending) {
        l->connecting = true;
        loop_io_set(l->io, LOOP_WRITE);
        return;
    }
    if (peer__auth_start(l) != 0)
        peer__link_close(l, NULL);
}

/* ---- Inbound: the listener ---- */

static void format_addr(const struct sockaddr_storage *ss, char *out,
                        size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, cap, "%s:%d", host, port);
}

static int pending_inbound(const struct peer_transport *t)
{
    int n = 0;
    for (const struct peer_link *l = t->links; l != NULL; l = l->next)
        n += !l->outbound && !l->authed;
    return n;
}

static void accept_one(struct peer_transport *t, int fd,
                       const struct sockaddr_storage *ss)
{
    char addr[80];
    format_addr(ss, addr, sizeof(addr));
    /* A flood of idle connections must not eat every descriptor: each
     * handshake has a deadline, and only so many may be pending. */
    if (pending_inbound(t) >= PEER_PENDING_INBOUND_MAX) {
        peer__log(t, PEER_LOG_WARNING, "too many unauthenticated links, "
                  "refused %s", addr);
        close(fd);
        return;
    }
    set_sockopts(fd, 0);
    struct peer_link *l = link_new(t, fd, false, addr);
    if (l == NULL) {
        peer__log(t, PEER_LOG_WARNING, "no memory for link from %s", addr);
        close(fd);
        return;
    }
    if (peer__auth_start(l) != 0)
        peer__link_close(l, NULL);
}

static void on_accept(struct loop_io *io, int events, void *data)
{
    struct peer_transport *t = data;
    peer__enter(t);
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(t->lfd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                peer__log(t, PEER_LOG_WARNING, "accept on cluster bus: %s",
                          strerror(errno));
            break;
        }
        accept_one(t, fd, &ss);
    }
    peer__leave(t);
}

static int bind_listen(const char *host, int port, int bufsize,
                       char errmsg[ERRMSG_LEN])
{
    char service[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    snprintf(service, sizeof(service), "%d", port);
    int rv = getaddrinfo(host, service, &hints, &res);
    if (rv != 0 || res == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "cluster bus address %s: %s", host,
                 gai_strerror(rv));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        set_buffers(fd, bufsize); /* accepted sockets inherit them */
    }
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
        listen(fd, 128) < 0) {
        snprintf(errmsg, ERRMSG_LEN, "cluster bus %s:%d: %s", host, port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int peer__listen(struct peer_transport *t, char errmsg[ERRMSG_LEN])
{
    const char *host = t->cfg.bind ? t->cfg.bind : "0.0.0.0";
    t->lfd = bind_listen(host, t->cfg.port, t->cfg.socket_buffer, errmsg);
    if (t->lfd < 0)
        return ERR_IO;
    t->port = bound_port(t->lfd);
    t->lio = loop_io_create(t->loop, t->lfd, LOOP_READ, on_accept, t);
    if (t->lio == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        close(t->lfd);
        t->lfd = -1;
        return ERR_NOMEM;
    }
    return 0;
}
