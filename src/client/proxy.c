/* follower-proxy yes: a follower forwards the writes and reads it would
 * otherwise answer with -MOVED to the leader over one pipelined client
 * connection to the leader's client port, and hands each reply back to
 * its connection as it arrives. The leader answers one connection's
 * commands in order, so replies match forwarded commands first in, first
 * out; the forwarding connection stays parked meanwhile (dispatch_repl.c),
 * so its replies stay in request order. The link is opened lazily,
 * re-opened when the leader changes, and anything in flight on a link
 * that dies is answered with -CLUSTERDOWN (its outcome is unknown, as for
 * a write past its deadline). Two such links, one per protocol: the RESP3
 * one opens with HELLO 3, so a RESP3 connection gets the very bytes the
 * leader would send it (maps, nulls, doubles), and a RESP2 one the RESP2
 * encoding. A connection switches protocol (HELLO) only with nothing in
 * flight, so its replies never straddle the two links. */
#include "client/client.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "net/loop.h"
#include "repl/repl.h"

#define PROXY_MAX_DEPTH 8

struct proxy_link {
    struct client_server *cs;
    int proto;                 /* 2 or 3: the HELLO it opens with */
    int fd;
    struct loop_io *io;
    char host[REPL_HOST_LEN];
    int port;
    char *out;                 /* forwarded commands not yet written */
    size_t out_len, out_cap;
    char *in;                  /* replies not yet handed back */
    size_t in_len, in_cap;
    struct conn **fifo;        /* who waits, in forwarding order */
    size_t head, len, cap;
    size_t skip;               /* replies to drop (AUTH or HELLO) */
};

struct proxy {
    struct proxy_link link[2]; /* RESP2, RESP3 */
};

/* Bytes of the complete RESP reply at buf, 0 when incomplete, -1 when
 * malformed. */
static long reply_len(const char *buf, size_t len, int depth)
{
    const char *eol = memchr(buf, '\n', len);
    if (eol == NULL)
        return 0;
    long head = (long)(eol - buf) + 1;
    if (depth > PROXY_MAX_DEPTH || head < 3)
        return -1;
    long long n = atoll(buf + 1);
    switch (buf[0]) {
    case '$':
    case '=':
    case '!':
        if (n < 0)
            return head;
        return (size_t)head + (size_t)n + 2 <= len ? head + (long)n + 2 : 0;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
        long at = head;
        long long items = buf[0] == '%' || buf[0] == '|' ? n * 2 : n;
        for (long long i = 0; i < items; i++) {
            long k = reply_len(buf + at, len - (size_t)at, depth + 1);
            if (k <= 0)
                return k;
            at += k;
        }
        return at;
    }
    default:
        return head;
    }
}

static void grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    char *q = realloc(*p, c);
    if (q == NULL)
        abort();
    *p = q;
    *cap = c;
}

static void proxy_fail_all(struct proxy_link *p)
{
    while (p->len > 0) {
        struct conn *c = p->fifo[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        if (c != NULL) {
            c->nproxied--;
            client_repl_wake(NULL, c, ERR_BUSY);
        }
    }
}

static void proxy_close(struct proxy_link *p)
{
    if (p->io != NULL)
        loop_io_destroy(p->io);
    if (p->fd >= 0)
        close(p->fd);
    p->io = NULL;
    p->fd = -1;
    p->out_len = p->in_len = 0;
    p->skip = 0;
    proxy_fail_all(p);
}

static void hand_back(struct proxy_link *p)
{
    size_t at = 0;
    for (;;) {
        long k = reply_len(p->in + at, p->in_len - at, 0);
        if (k < 0) {
            proxy_close(p);
            return;
        }
        if (k == 0)
            break;
        if (p->skip > 0) {
            p->skip--;
        } else if (p->len > 0) {
            struct conn *c = p->fifo[p->head];
            p->head = (p->head + 1) % p->cap;
            p->len--;
            if (c != NULL) {
                c->nproxied--;
                resp_add_raw(&c->out, p->in + at, (size_t)k);
                if (p->in[at] == '-')
                    c->out.errors++;
                conn__queue_write(c);
                client_repl_wake(NULL, c, 0);
            }
        }
        at += (size_t)k;
    }
    memmove(p->in, p->in + at, p->in_len - at);
    p->in_len -= at;
}

static void on_io(struct loop_io *io, int events, void *data)
{
    struct proxy_link *p = data;
    if (events & LOOP_WRITE) {
        ssize_t n = p->out_len ? write(p->fd, p->out, p->out_len) : 0;
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            proxy_close(p);
            return;
        }
        if (n > 0) {
            memmove(p->out, p->out + n, p->out_len - (size_t)n);
            p->out_len -= (size_t)n;
        }
        if (p->out_len == 0)
            loop_io_set(p->io, LOOP_READ);
    }
    if (events & LOOP_READ) {
        grow(&p->in, &p->in_cap, p->in_len + 65536);
        ssize_t n = read(p->fd, p->in + p->in_len, p->in_cap - p->in_len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            proxy_close(p);
            return;
        }
        if (n > 0) {
            p->in_len += (size_t)n;
            hand_back(p);
        }
    }
}

static void append_argv(struct proxy_link *p, int argc,
                        const struct resp_arg *argv)
{
    size_t need = 32;
    for (int i = 0; i < argc; i++)
        need += argv[i].len + 32;
    grow(&p->out, &p->out_cap, p->out_len + need);
    p->out_len += (size_t)sprintf(p->out + p->out_len, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        p->out_len += (size_t)sprintf(p->out + p->out_len, "$%zu\r\n",
                                      argv[i].len);
        memcpy(p->out + p->out_len, argv[i].ptr, argv[i].len);
        p->out_len += argv[i].len;
        memcpy(p->out + p->out_len, "\r\n", 2);
        p->out_len += 2;
    }
}

/* Connects (non-blocking) to host:port; the HELLO 3 of a RESP3 link, and
 * the AUTH when a password is set, go first and their reply is dropped. */
static int proxy_open(struct proxy_link *p, const char *host, int port)
{
    struct client_server *cs = p->cs;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || ai == NULL)
        return ERR_IO;
    p->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0);
    int rv = p->fd < 0 ? ERR_IO : 0;
    if (rv == 0 && connect(p->fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
        errno != EINPROGRESS)
        rv = ERR_IO;
    freeaddrinfo(ai);
    if (rv == 0 &&
        (p->io = loop_io_create(cs->loop, p->fd, LOOP_READ | LOOP_WRITE,
                                on_io, p)) == NULL)
        rv = ERR_NOMEM;
    if (rv < 0) {
        if (p->fd >= 0)
            close(p->fd);
        p->fd = -1;
        return rv;
    }
    snprintf(p->host, sizeof(p->host), "%s", host);
    p->port = port;
    const char *pass = cs->cfg->requirepass;
    int auth = pass != NULL && pass[0] != '\0';
    struct resp_arg a[5] = {{"HELLO", 5}, {"3", 1}, {"AUTH", 4},
                            {"default", 7}, {pass, auth ? strlen(pass) : 0}};
    if (p->proto == 3) {
        append_argv(p, auth ? 5 : 2, a);
        p->skip = 1;
    } else if (auth) {
        struct resp_arg au[2] = {{"AUTH", 4}, a[4]};
        append_argv(p, 2, au);
        p->skip = 1;
    }
    return 0;
}

/* The link c's protocol uses, open to the current leader; NULL when there
 * is no leader or no connection to it. */
static struct proxy_link *link_for(struct conn *c)
{
    struct client_server *cs = c->srv;
    const char *host;
    int port;
    if (!repl_leader_addr(cs->repl, &host, &port))
        return NULL;
    if (cs->proxy == NULL) {
        cs->proxy = calloc(1, sizeof(*cs->proxy));
        if (cs->proxy == NULL)
            return NULL;
        for (int i = 0; i < 2; i++)
            cs->proxy->link[i] = (struct proxy_link){
                .cs = cs, .proto = 2 + i, .fd = -1};
    }
    struct proxy_link *p = &cs->proxy->link[c->sess.resp >= 3];
    if (p->fd >= 0 && (p->port != port || strcmp(p->host, host) != 0))
        proxy_close(p);
    if (p->fd < 0 && proxy_open(p, host, port) < 0)
        return NULL;
    return p;
}

/* Queues who waits for the next n replies: n - 1 dropped, then c's. */
static int fifo_push(struct proxy_link *p, struct conn *c, size_t n)
{
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        while (cap < p->len + n)
            cap *= 2;
        struct conn **f = malloc(cap * sizeof(*f));
        if (f == NULL)
            return ERR_NOMEM;
        for (size_t i = 0; i < p->len; i++)
            f[i] = p->fifo[(p->head + i) % p->cap];
        free(p->fifo);
        p->fifo = f;
        p->head = 0;
        p->cap = cap;
    }
    for (size_t i = 0; i + 1 < n; i++)
        p->fifo[(p->head + p->len++) % p->cap] = NULL;
    p->fifo[(p->head + p->len++) % p->cap] = c;
    return 0;
}

int client_proxy_forward(struct conn *c, int argc, const struct resp_arg *argv)
{
    struct proxy_link *p = link_for(c);
    if (p == NULL)
        return ERR_IO;
    if (fifo_push(p, c, 1) < 0)
        return ERR_NOMEM;
    append_argv(p, argc, argv);
    loop_io_set(p->io, LOOP_READ | LOOP_WRITE);
    return 0;
}

/* A transaction goes as MULTI, its queued commands (RESP, mbuf) and EXEC
 * back to back on the link, so no other connection's command interleaves
 * on the leader's side; the +OK and +QUEUED replies are dropped and c gets
 * EXEC's (an EXECABORT when the leader refused a queued command). */
int client_proxy_forward_multi(struct conn *c, int count, const char *mbuf,
                               size_t mlen)
{
    struct proxy_link *p = link_for(c);
    if (p == NULL)
        return ERR_IO;
    if (fifo_push(p, c, (size_t)count + 2) < 0)
        return ERR_NOMEM;
    struct resp_arg multi = {"MULTI", 5}, exec = {"EXEC", 4};
    append_argv(p, 1, &multi);
    grow(&p->out, &p->out_cap, p->out_len + mlen);
    memcpy(p->out + p->out_len, mbuf, mlen);
    p->out_len += mlen;
    append_argv(p, 1, &exec);
    loop_io_set(p->io, LOOP_READ | LOOP_WRITE);
    return 0;
}

void client_proxy_forget(struct conn *c)
{
    if (c->srv->proxy == NULL)
        return;
    for (int l = 0; l < 2; l++) {
        struct proxy_link *p = &c->srv->proxy->link[l];
        for (size_t i = 0; i < p->len; i++)
            if (p->fifo[(p->head + i) % p->cap] == c)
                p->fifo[(p->head + i) % p->cap] = NULL;
    }
}
