/* The cluster admin commands: RAFT.CLUSTER INIT/JOIN/ADOPT and RAFT.NODE
 * ADD/JOIN (client_server's raft_admin hook). They talk to other nodes'
 * client ports and may re-open this node's group, which only the server
 * wiring may do: the re-opening itself lives in server_raft.c
 * (server_raft_reopen). Part of server.c's room. */
#include "server_admin.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "client/client.h"
#include "cluster/cluster.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "repl/repl.h"
#include "store/store.h"

static int parse_addr(const struct resp_arg *a, struct repl_member *m)
{
    return server_raft_parse_member(a->ptr, a->len, m);
}

#define CALL_TIMEOUT_MS 10000
#define JOIN_TIMEOUT_MS 60000

/* A node may join or be adopted only while it is a group of one with an
 * empty keyspace: nothing it holds can be lost. */
static bool is_fresh(const struct server_raft *sr)
{
    const struct raft_config *c = repl_config_now(sr->repl);
    return c->n <= 1 && store_count(sr->store) == 0;
}

static int read_reply(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k <= 0)
            return ERR_IO;
        n += (size_t)k;
        buf[n] = '\0';
        char *eol = strstr(buf, "\r\n");
        if (eol == NULL) {
            if (n + 1 >= cap)
                return ERR_TOOBIG;
            continue;
        }
        if (buf[0] != '$') {
            *len = (size_t)(eol - buf);
            return 0;
        }
        long blen = atol(buf + 1);
        size_t need = (size_t)(eol - buf) + 2 + (blen > 0 ? (size_t)blen : 0) + 2;
        if (blen < 0 || n >= need) {
            *len = n;
            return 0;
        }
        if (need >= cap)
            return ERR_TOOBIG;
    }
}

/* A blocking request to another node's client port (admin commands only:
 * the loop waits, for at most CALL_TIMEOUT_MS). The reply's first line, or
 * a bulk's contents, lands in out (NUL-terminated); returns its RESP type
 * byte or <0. */
static int call_node(const char *host, int port, int argc, const char **argv,
                     char *out, size_t cap)
{
    char req[2048], rbuf[4096];
    size_t len = (size_t)snprintf(req, sizeof(req), "*%d\r\n", argc);
    for (int i = 0; i < argc && len < sizeof(req); i++)
        len += (size_t)snprintf(req + len, sizeof(req) - len, "$%zu\r\n%s\r\n",
                                strlen(argv[i]), argv[i]);
    if (len >= sizeof(req))
        return ERR_TOOBIG;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || ai == NULL)
        return ERR_IO;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {CALL_TIMEOUT_MS / 1000, 0};
    int rv = fd < 0 ? ERR_IO : 0;
    if (rv == 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
            write(fd, req, len) != (ssize_t)len)
            rv = ERR_IO;
    }
    freeaddrinfo(ai);
    size_t n = 0;
    if (rv == 0)
        rv = read_reply(fd, rbuf, sizeof(rbuf), &n);
    if (fd >= 0)
        close(fd);
    if (rv < 0)
        return rv;
    const char *body = rbuf + 1;
    size_t blen = strcspn(body, "\r");
    if (rbuf[0] == '$') {
        body = strstr(rbuf, "\r\n") + 2;
        blen = (size_t)atol(rbuf + 1);
    }
    if (rbuf[0] == '-')
        body = rbuf, blen = strcspn(rbuf, "\r");
    snprintf(out, cap, "%.*s", (int)blen, body);
    return (unsigned char)rbuf[0];
}

/* "id h:p@b id h:p@b ..." after the new node's id. */
static int parse_member_list(const char *s, uint64_t *new_id,
                             struct repl_member *m, int *n)
{
    char *end;
    *new_id = strtoull(s, &end, 10);
    *n = 0;
    while (*end == ' ' && *n < RAFT_MAX_SERVERS) {
        uint64_t id = strtoull(end + 1, &end, 10);
        if (*end != ' ')
            return ERR_INVALID;
        const char *a = end + 1;
        size_t len = strcspn(a, " ");
        if (server_raft_parse_member(a, len, &m[*n]) < 0 || id == 0)
            return ERR_INVALID;
        m[(*n)++].id = id;
        end = (char *)a + len;
    }
    return *new_id != 0 && *n > 0 ? 0 : ERR_INVALID;
}

static void format_member_list(const struct server_raft *sr, uint64_t id,
                               char *out, size_t cap)
{
    const struct repl_member *m;
    uint32_t n = repl_members(sr->repl, &m);
    size_t len = (size_t)snprintf(out, cap, "%llu", (unsigned long long)id);
    for (uint32_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, " %llu %s:%d@%d",
                                (unsigned long long)m[i].id, m[i].host,
                                m[i].port, m[i].bus_port);
}

static void reply_not_leader(struct server_raft *sr, struct resp_out *out)
{
    const char *host;
    int port;
    char buf[256] = "-";
    if (repl_leader_addr(sr->repl, &host, &port) && !repl_is_leader(sr->repl))
        cluster_format_redirect(buf + 1, sizeof(buf) - 1, CLUSTER_REDIR_MOVED,
                                0, host, port);
    else
        cluster_format_redirect(buf + 1, sizeof(buf) - 1,
                                CLUSTER_REDIR_DOWN_STATE, 0, NULL, 0);
    resp_add_error(out, buf);
}

/* The leader gives addr an id; for RAFT.NODE JOIN (from the joiner) the
 * reply carries the member list, for RAFT.NODE ADD the leader tells the
 * fresh node itself (RAFT.CLUSTER ADOPT) and replies the id. */
static void node_add(struct server_raft *sr, struct resp_out *out,
                     const struct resp_arg *addr, bool from_joiner)
{
    struct repl_member m = {0};
    if (parse_addr(addr, &m) < 0) {
        resp_add_error(out, "Invalid node address, expected host:port");
        return;
    }
    uint64_t id;
    int rv = repl_add_node(sr->repl, m.host, m.port, m.bus_port, &id);
    if (rv == ERR_NOTLEADER) {
        reply_not_leader(sr, out);
        return;
    }
    if (rv < 0) {
        resp_add_errorf(out, "cannot add the node now: %s", err_str(rv));
        return;
    }
    char list[2048];
    format_member_list(sr, id, list, sizeof(list));
    if (from_joiner) {
        resp_add_bulk(out, list, strlen(list));
        return;
    }
    char reply[512];
    const char *argv[3] = {"RAFT.CLUSTER", "ADOPT", list};
    int t = call_node(m.host, m.port, 3, argv, reply, sizeof(reply));
    if (t != '+') {
        repl_remove_node(sr->repl, id);
        resp_add_errorf(out, "node %s:%d did not join: %s", m.host, m.port,
                        t < 0 ? err_str(t) : reply);
        return;
    }
    resp_add_int(out, (long long)id);
}

/* RAFT.CLUSTER JOIN on the fresh node: ask the group (following MOVED to
 * its leader) for an id, adopt it, and wait to be promoted to voter.
 * Returns 1 when the connection was parked. */
static int cluster_join(struct server_raft *sr, struct conn *c,
                        struct resp_out *out, const struct resp_arg *addr)
{
    struct repl_member to = {0}, self;
    if (!is_fresh(sr)) {
        resp_add_error(out, "This node is already part of a group with "
                       "other members or holds data: RAFT.CLUSTER JOIN needs "
                       "a fresh node");
        return 0;
    }
    if (parse_addr(addr, &to) < 0) {
        resp_add_error(out, "Invalid node address, expected host:port");
        return 0;
    }
    server_raft_self_member(sr, &self);
    char me[128], reply[2048];
    snprintf(me, sizeof(me), "%s:%d@%d", self.host, self.port, self.bus_port);
    const char *argv[3] = {"RAFT.NODE", "JOIN", me};
    int t = 0;
    for (int hop = 0; hop < 4; hop++) {
        t = call_node(to.host, to.port, 3, argv, reply, sizeof(reply));
        if (t != '-' || strncmp(reply, "-MOVED ", 7) != 0)
            break;
        const char *a = strchr(reply + 7, ' ');
        if (a == NULL || server_raft_parse_member(a + 1, strlen(a + 1), &to) < 0)
            break;
    }
    uint64_t id;
    struct repl_member m[RAFT_MAX_SERVERS];
    int n;
    if (t != '$' || parse_member_list(reply, &id, m, &n) < 0) {
        resp_add_errorf(out, "join refused by %s:%d: %s", to.host, to.port,
                        t < 0 ? err_str(t) : reply);
        return 0;
    }
    char err[ERRMSG_LEN] = "";
    if (server_raft_reopen(sr, id, m, n, err) < 0) {
        resp_add_errorf(out, "join failed: %s", err);
        return 0;
    }
    if (repl_wait_voter(sr->repl, c, JOIN_TIMEOUT_MS) < 0) {
        resp_add_error(out, "another join is in progress");
        return 0;
    }
    return 1;
}

static void cluster_adopt(struct server_raft *sr, struct resp_out *out,
                          const struct resp_arg *list)
{
    char buf[2048];
    uint64_t id;
    struct repl_member m[RAFT_MAX_SERVERS];
    int n;
    snprintf(buf, sizeof(buf), "%.*s", (int)list->len, list->ptr);
    char err[ERRMSG_LEN] = "";
    if (!is_fresh(sr))
        resp_add_error(out, "This node is not fresh: it cannot be adopted");
    else if (parse_member_list(buf, &id, m, &n) < 0)
        resp_add_error(out, "Invalid member list");
    else if (server_raft_reopen(sr, id, m, n, err) < 0)
        resp_add_errorf(out, "adoption failed: %s", err);
    else
        resp_add_ok(out);
}

static int arg_eq(const struct resp_arg *a, const char *w)
{
    return a->len == strlen(w) && strncasecmp(a->ptr, w, a->len) == 0;
}

int server_raft_admin(void *data, struct conn *c, int argc,
                      const struct resp_arg *argv)
{
    struct server_raft *sr = data;
    struct resp_out *out = &c->out;
    if (argc == 2 && arg_eq(&argv[0], "raft.cluster") &&
        arg_eq(&argv[1], "init")) {
        resp_add_ok(out);
    } else if (argc == 3 && arg_eq(&argv[0], "raft.cluster") &&
               arg_eq(&argv[1], "join")) {
        return cluster_join(sr, c, out, &argv[2]);
    } else if (argc == 3 && arg_eq(&argv[0], "raft.cluster") &&
               arg_eq(&argv[1], "adopt")) {
        cluster_adopt(sr, out, &argv[2]);
    } else if (argc == 3 && arg_eq(&argv[0], "raft.node") &&
               (arg_eq(&argv[1], "add") || arg_eq(&argv[1], "join"))) {
        node_add(sr, out, &argv[2], arg_eq(&argv[1], "join"));
    } else {
        resp_add_error(out, "syntax error, try RAFT.CLUSTER INIT | "
                       "RAFT.CLUSTER JOIN host:port | RAFT.NODE ADD host:port");
    }
    return 0;
}
