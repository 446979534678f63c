/* One client connection: its socket watcher, query and reply buffers from
 * the pool, the read path (one read() per readable event, then dispatch),
 * the write path (one write() per connection in the before-sleep hook, a
 * write watcher only when the socket is full), limits (query buffer,
 * output buffer hard/soft, idle timeout) and closing. Buffers go back to
 * the pool as soon as they are empty, so 10,000 idle clients hold none.
 * A large value a command stores is read straight into its entry
 * (memcached conn_nread), never through the query buffer. */
#include "client/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "mem/pool.h"
#include "net/loop.h"

static void on_io(struct loop_io *io, int events, void *data);

/* resp_out grow hook: reply buffers come from the pool. */
static int out_grow(struct resp_out *o, size_t need)
{
    struct conn *c = o->owner;
    struct pool *pool = c->srv->pool;
    if (o->data == NULL) {
        size_t cap;
        void *buf = pool_get(pool, need, &cap);
        if (buf == NULL)
            return ERR_NOMEM;
        o->data = buf;
        o->cap = cap;
        return 0;
    }
    size_t cap = o->cap;
    void *buf = pool_grow(pool, o->data, &cap, o->len, o->len + need);
    if (buf == NULL)
        return ERR_NOMEM;
    o->data = buf;
    o->cap = cap;
    return 0;
}

struct conn *conn__create(struct client_server *cs, int fd, int is_unix)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->srv = cs;
    c->fd = fd;
    c->is_unix = is_unix;
    c->io = loop_io_create(cs->loop, fd, LOOP_READ, on_io, c);
    if (c->io == NULL) {
        free(c);
        return NULL;
    }
    resp_parser_init(&c->parser, cs->cfg->proto_max_bulk_len, NULL);
    c->parser.big_min = cs->repl == NULL ? CLIENT_BIG_VALUE_MIN : 0;
    c->out.proto = 2;
    c->out.grow = out_grow;
    c->out.owner = c;
    c->sess.id = ++cs->next_id;
    c->sess.resp = 2;
    c->consistency = -1;
    /* As Redis: a client that connects while the default user needs no
     * password is authenticated, and stays so if requirepass is set later. */
    c->sess.authenticated = cs->cfg->requirepass == NULL ||
                            cs->cfg->requirepass[0] == '\0';
    c->ctime_ms = c->last_ms = loop_now_ms(cs->loop);
    c->next = cs->all;
    if (cs->all)
        cs->all->prev = c;
    cs->all = c;
    cs->nconns++;
    return c;
}

static void pending_unlink(struct conn *c)
{
    if (!c->pending)
        return;
    if (c->pprev)
        c->pprev->pnext = c->pnext;
    else
        c->srv->pending = c->pnext;
    if (c->pnext)
        c->pnext->pprev = c->pprev;
    c->pnext = c->pprev = NULL;
    c->pending = 0;
}

void conn__queue_write(struct conn *c)
{
    if (c->pending)
        return;
    c->pending = 1;
    c->pprev = NULL;
    c->pnext = c->srv->pending;
    if (c->srv->pending)
        c->srv->pending->pprev = c;
    c->srv->pending = c;
}

static void release_qbuf(struct conn *c)
{
    pool_put(c->srv->pool, c->qbuf, c->qcap);
    c->qbuf = NULL;
    c->qcap = c->qlen = c->qpos = 0;
}

static void release_out(struct conn *c)
{
    pool_put(c->srv->pool, c->out.data, c->out.cap);
    c->out.data = NULL;
    c->out.cap = c->out.len = 0;
    c->sent = 0;
}

void conn__close(struct conn *c)
{
    struct client_server *cs = c->srv;
    if (c->parsed_len)
        cs->npaused--;
    pending_unlink(c);
    dispatch__forget(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cs->nconns--;
    loop_io_destroy(c->io);
    close(c->fd);
    release_qbuf(c);
    release_out(c);
    dispatch__cancel_big(c);
    resp_parser_free(&c->parser);
    cmd_session_free(&c->sess);
    free(c);
}

/* Makes room for the next read: compacts the unparsed tail to the front
 * and grows the buffer to what the parser says the command needs (a big
 * bulk is then read in as few reads as possible, as Redis' big-arg path). */
static int prepare_qbuf(struct conn *c)
{
    struct pool *pool = c->srv->pool;
    if (c->qbuf == NULL) {
        c->qbuf = pool_get(pool, 0, &c->qcap);
        c->qlen = c->qpos = 0;
        return c->qbuf ? 0 : ERR_NOMEM;
    }
    if (c->qpos > 0) {
        memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
        c->qlen -= c->qpos;
        c->qpos = 0;
    }
    size_t want = c->qlen + pool_buf_size(pool) / 2;
    if (c->parser.need > want)
        want = c->parser.need;
    if (want <= c->qcap)
        return 0;
    void *buf = pool_grow(pool, c->qbuf, &c->qcap, c->qlen, want);
    if (buf == NULL)
        return ERR_NOMEM;
    c->qbuf = buf;
    return 0;
}

/* One read: into the query buffer (qlen grows), or while a large value
 * streams (dispatch.c take_big) its remaining bytes straight into its
 * entry and what follows them (its CRLF, the next commands) into the
 * query buffer, in the same readv. Returns read's result. */
static ssize_t read_some(struct conn *c)
{
    size_t want = resp_big_want(&c->parser);
    if (want == 0) {
        ssize_t n = read(c->fd, c->qbuf + c->qlen, c->qcap - c->qlen);
        if (n > 0)
            c->qlen += (size_t)n;
        return n;
    }
    struct iovec iov[2] = {
        {c->big.value + c->parser.big_got, want},
        {c->qbuf + c->qlen, c->qcap - c->qlen},
    };
    ssize_t n = readv(c->fd, iov, 2);
    if (n <= 0)
        return n;
    size_t into_value = (size_t)n < want ? (size_t)n : want;
    resp_big_put(&c->parser, into_value);
    c->qlen += (size_t)n - into_value;
    return n;
}

static void on_readable(struct conn *c)
{
    struct client_server *cs = c->srv;
    if (prepare_qbuf(c) < 0) {
        conn__close(c);
        return;
    }
    ssize_t n = read_some(c);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn__close(c);
        return;
    }
    if (n < 0)
        return;
    cs->metrics->net_input_bytes += (unsigned long long)n;
    cs->metrics->total_reads_processed++;
    c->last_ms = loop_now_ms(cs->loop);
    /* Checked before running anything, as Redis readQueryFromClient: a
     * bulk bigger than the limit is refused even if it arrived whole. */
    if (c->qlen - c->qpos + c->parser.big_got >
        (size_t)cs->cfg->client_query_buffer_limit) {
        log_msg(LOG_LEVEL_WARNING, "Closing client that reached max query "
                "buffer length: id=%llu addr=%s (qbuf initial bytes omitted)",
                (unsigned long long)c->sess.id, c->addr);
        cs->metrics->client_qbuf_limit_disconnections++;
        conn__close(c);
        return;
    }
    if (resp_big_want(&c->parser) == 0)
        dispatch__process(c);
    if (c->qpos == c->qlen)
        release_qbuf(c);
    if (c->out.failed) {
        conn__close(c);
        return;
    }
    if (c->out.len > c->sent || c->close_after_reply)
        conn__queue_write(c);
}

/* Writes what is pending with one write(). Returns 1 if the connection
 * was closed, 0 otherwise. */
static int write_pending(struct conn *c)
{
    struct client_server *cs = c->srv;
    if (c->out.len > c->sent) {
        ssize_t n = write(c->fd, c->out.data + c->sent, c->out.len - c->sent);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            conn__close(c);
            return 1;
        }
        if (n > 0) {
            c->sent += (size_t)n;
            cs->metrics->total_writes_processed++;
            cs->metrics->net_output_bytes += (unsigned long long)n;
        }
    }
    if (c->out.len > c->sent) {
        loop_io_set(c->io, LOOP_READ | LOOP_WRITE);
        return 0;
    }
    release_out(c);
    if (c->close_after_reply) {
        conn__close(c);
        return 1;
    }
    if (loop_io_events(c->io) & LOOP_WRITE)
        loop_io_set(c->io, LOOP_READ);
    return 0;
}

/* Redis checkClientOutputBufferLimits for the normal class. Returns 1 if
 * the client must be closed. */
static int over_obuf_limit(struct conn *c, int64_t now_ms)
{
    const struct config_obuf_limit *l = &c->srv->cfg->obuf[CONFIG_OBUF_NORMAL];
    size_t pending = c->out.len - c->sent;
    if (l->hard_bytes && pending >= (size_t)l->hard_bytes)
        return 1;
    if (!l->soft_bytes || pending < (size_t)l->soft_bytes) {
        c->obuf_soft_since_ms = 0;
        return 0;
    }
    if (c->obuf_soft_since_ms == 0) {
        c->obuf_soft_since_ms = now_ms;
        return 0;
    }
    return now_ms - c->obuf_soft_since_ms >= l->soft_seconds * 1000;
}

static void close_for_obuf(struct conn *c)
{
    log_msg(LOG_LEVEL_WARNING, "Client id=%llu addr=%s scheduled to be "
            "closed ASAP for overcoming of output buffer limits.",
            (unsigned long long)c->sess.id, c->addr);
    c->srv->metrics->client_obuf_limit_disconnections++;
    conn__close(c);
}

void client_flush_pending(struct client_server *cs)
{
    int64_t now = loop_now_ms(cs->loop);
    while (cs->pending != NULL) {
        struct conn *c = cs->pending;
        pending_unlink(c);
        if (write_pending(c))
            continue;
        if (c->out.len > c->sent && over_obuf_limit(c, now))
            close_for_obuf(c);
    }
}

static void on_io(struct loop_io *io, int events, void *data)
{
    struct conn *c = data;
    if (events & LOOP_WRITE) {
        if (write_pending(c))
            return;
    }
    if (events & LOOP_READ)
        on_readable(c);
}

void client_cron(struct client_server *cs, int64_t now_ms)
{
    long long timeout = cs->cfg->timeout;
    struct conn *next;
    for (struct conn *c = cs->all; c != NULL; c = next) {
        next = c->next;
        if (timeout > 0 && c->out.len == c->sent &&
            now_ms - c->last_ms > timeout * 1000) {
            log_msg(LOG_LEVEL_VERBOSE, "Closing idle client");
            conn__close(c);
            continue;
        }
        if (c->out.len > c->sent && over_obuf_limit(c, now_ms))
            close_for_obuf(c);
    }
}

void client_close_all(struct client_server *cs)
{
    while (cs->all != NULL)
        conn__close(cs->all);
}
