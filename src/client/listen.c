/* Listening sockets and accepting clients: TCP on every `bind` address
 * (Redis' "-" prefix marks an optional address, "*" and "::*" mean all),
 * plus the optional unix socket. Accepted sockets are non-blocking with
 * TCP_NODELAY and keepalive (Redis anetKeepAlive timings). Beyond
 * maxclients a client gets Redis' "-ERR max number of clients reached"
 * and is closed. Also CLIENT LIST/KILL and INFO clients, which walk the
 * connection list this room owns. */
#include "client/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "net/loop.h"

/* Redis MAX_ACCEPTS_PER_CALL. */
#define ACCEPTS_PER_CALL 1000

void client_server_init(struct client_server *cs, struct loop *loop,
                        struct pool *pool, struct config *cfg,
                        struct metrics *m, struct cmd_env *env)
{
    memset(cs, 0, sizeof(*cs));
    cs->loop = loop;
    cs->pool = pool;
    cs->cfg = cfg;
    cs->metrics = m;
    cs->env = env;
}

static void format_addr(const struct sockaddr_storage *sa, char *buf,
                        size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        port = ntohs(s->sin6_port);
    }
    snprintf(buf, len, "%s:%d", ip, port);
}

static int is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

static void set_tcp_options(int fd, long long keepalive)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (keepalive <= 0)
        return;
    int idle = (int)keepalive;
    int intvl = idle / 3 > 0 ? idle / 3 : 1;
    int cnt = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void reject_client(struct client_server *cs, int fd)
{
    static const char msg[] = "-ERR max number of clients reached\r\n";
    /* Best effort, as Redis: the socket is new, so the write fits. */
    if (write(fd, msg, sizeof(msg) - 1) < 0) {
    }
    close(fd);
    cs->metrics->rejected_connections++;
}

static void accept_one(struct client_server *cs, int fd, int is_unix)
{
    struct sockaddr_storage peer, local;
    socklen_t plen = sizeof(peer), llen = sizeof(local);
    getpeername(fd, (struct sockaddr *)&peer, &plen);
    getsockname(fd, (struct sockaddr *)&local, &llen);
    cs->metrics->total_connections_received++;
    if (cs->nconns >= cs->cfg->maxclients) {
        reject_client(cs, fd);
        return;
    }
    if (!is_unix)
        set_tcp_options(fd, cs->cfg->tcp_keepalive);
    struct conn *c = conn__create(cs, fd, is_unix);
    if (c == NULL) {
        close(fd);
        return;
    }
    if (is_unix) {
        snprintf(c->addr, sizeof(c->addr), "%s:0", cs->cfg->unixsocket);
        snprintf(c->laddr, sizeof(c->laddr), "%s:0", cs->cfg->unixsocket);
        c->sess.is_local = 1;
    } else {
        format_addr(&peer, c->addr, sizeof(c->addr));
        format_addr(&local, c->laddr, sizeof(c->laddr));
        c->sess.is_local = is_loopback(&peer);
    }
}

static void on_listener(struct loop_io *io, int events, void *data)
{
    struct client_listener *l = data;
    for (int i = 0; i < ACCEPTS_PER_CALL; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                log_msg(LOG_LEVEL_WARNING, "Accepting client connection: %s",
                        strerror(errno));
            return;
        }
        accept_one(l->cs, fd, l->is_unix);
    }
}

static int add_listener(struct client_server *cs, int fd, int is_unix)
{
    int i = cs->nlisteners;
    cs->listeners[i].cs = cs;
    cs->listeners[i].fd = fd;
    cs->listeners[i].is_unix = is_unix;
    cs->listeners[i].io = loop_io_create(cs->loop, fd, LOOP_READ,
                                         on_listener, &cs->listeners[i]);
    if (cs->listeners[i].io == NULL)
        return ERR_NOMEM;
    loop_io_set_priority(cs->listeners[i].io, 1);
    cs->nlisteners++;
    return 0;
}

/* Binds one address; returns the fd, or -1 with errno set. */
static int bind_tcp(const char *addr, int port, int backlog)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (strcmp(addr, "*") == 0)
        addr = "0.0.0.0";
    else if (strcmp(addr, "::*") == 0)
        addr = "::";
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    if (getaddrinfo(addr, portstr, &hints, &res) != 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(res);
        errno = e;
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int listen_unix(struct client_server *cs)
{
    const char *path = cs->cfg->unixsocket;
    struct sockaddr_un sa = {0};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(cs->errmsg, sizeof(cs->errmsg), "unixsocket path too long: %s", path);
        return ERR_IO;
    }
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, (int)cs->cfg->tcp_backlog) < 0) {
        snprintf(cs->errmsg, sizeof(cs->errmsg), "Failed opening Unix socket %s: %s",
                 path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return ERR_IO;
    }
    if (cs->cfg->unixsocketperm)
        chmod(path, (mode_t)cs->cfg->unixsocketperm);
    return add_listener(cs, fd, 1);
}

int client_listen(struct client_server *cs)
{
    const struct config *cfg = cs->cfg;
    for (int i = 0; cfg->port != 0 && i < cfg->nbind; i++) {
        const char *addr = cfg->bind[i];
        int optional = addr[0] == '-';
        if (optional)
            addr++;
        int fd = bind_tcp(addr, (int)cfg->port, (int)cfg->tcp_backlog);
        if (fd < 0) {
            if (optional)
                continue;
            snprintf(cs->errmsg, sizeof(cs->errmsg),
                     "Failed listening on port %lld (tcp), aborting: %s:%lld: %s",
                     cfg->port, addr, cfg->port, strerror(errno));
            return ERR_IO;
        }
        if (add_listener(cs, fd, 0) < 0)
            return ERR_NOMEM;
    }
    if (cfg->unixsocket && cfg->unixsocket[0])
        return listen_unix(cs);
    return 0;
}

void client_close_listeners(struct client_server *cs)
{
    for (int i = 0; i < cs->nlisteners; i++) {
        loop_io_destroy(cs->listeners[i].io);
        close(cs->listeners[i].fd);
    }
    cs->nlisteners = 0;
    if (cs->cfg->unixsocket && cs->cfg->unixsocket[0])
        unlink(cs->cfg->unixsocket);
}

/* One CLIENT LIST line with Redis 7.2's fields in its order, ending with
 * the lib-name/lib-ver that CLIENT SETINFO set (empty when unset). */
void conn__describe(const struct conn *c, struct metrics_buf *out,
                    int64_t now_ms)
{
    const char *cmd = c->sess.last_cmd ? c->sess.last_cmd->name : "NULL";
    size_t qbuf = c->qlen - c->qpos;
    size_t omem = c->out.cap;
    metrics_buf_printf(out,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld "
        "flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu "
        "argv-mem=0 multi-mem=0 rbs=%zu rbp=%zu obl=%zu oll=0 omem=%zu "
        "tot-mem=%zu events=r%s cmd=%s user=default redir=-1 resp=%d "
        "lib-name=%s lib-ver=%s\n",
        (unsigned long long)c->sess.id, c->addr, c->laddr, c->fd,
        c->sess.name ? c->sess.name : "",
        (long long)((now_ms - c->ctime_ms) / 1000),
        (long long)((now_ms - c->last_ms) / 1000), qbuf, c->qcap - c->qlen,
        c->out.cap, c->out.len, c->out.len - c->sent, omem,
        sizeof(*c) + c->qcap + c->out.cap,
        c->out.len > c->sent ? "w" : "", cmd, c->sess.resp,
        c->sess.lib_name ? c->sess.lib_name : "",
        c->sess.lib_ver ? c->sess.lib_ver : "");
}

void client_list_hook(void *data, struct metrics_buf *out, uint64_t id)
{
    struct client_server *cs = data;
    int64_t now = loop_now_ms(cs->loop);
    /* Oldest first, as Redis lists its clients. */
    struct conn *last = cs->all;
    while (last && last->next)
        last = last->next;
    for (struct conn *c = last; c != NULL; c = c->prev)
        if (id == 0 || c->sess.id == id)
            conn__describe(c, out, now);
}

static int kill_matches(const struct conn *c, const struct cmd_kill_filter *f,
                        uint64_t self_id)
{
    if (f->addr && strcmp(f->addr, c->addr) != 0)
        return 0;
    if (f->laddr && strcmp(f->laddr, c->laddr) != 0)
        return 0;
    if (f->id && f->id != c->sess.id)
        return 0;
    if (f->type > 0)
        return 0;
    if (f->skipme && c->sess.id == self_id)
        return 0;
    return 1;
}

int client_kill_hook(void *data, const struct cmd_kill_filter *f,
                     uint64_t self_id)
{
    struct client_server *cs = data;
    int killed = 0;
    struct conn *next;
    for (struct conn *c = cs->all; c != NULL; c = next) {
        next = c->next;
        if (!kill_matches(c, f, self_id))
            continue;
        killed++;
        /* The caller gets its reply first, as Redis CLIENT_CLOSE_AFTER_REPLY. */
        if (c->sess.id == self_id)
            c->close_after_reply = 1;
        else
            conn__close(c);
    }
    return killed;
}

void client_info_section(struct metrics_buf *out, void *data)
{
    struct client_server *cs = data;
    size_t maxin = 0, maxout = 0;
    for (struct conn *c = cs->all; c != NULL; c = c->next) {
        if (c->qcap > maxin)
            maxin = c->qcap;
        if (c->out.cap > maxout)
            maxout = c->out.cap;
    }
    metrics_buf_printf(out,
        "connected_clients:%lld\r\ncluster_connections:0\r\n"
        "maxclients:%lld\r\nclient_recent_max_input_buffer:%zu\r\n"
        "client_recent_max_output_buffer:%zu\r\nblocked_clients:0\r\n"
        "tracking_clients:0\r\nclients_in_timeout_table:0\r\n",
        cs->nconns, cs->cfg->maxclients, maxin, maxout);
}
