/* CLUSTER INFO / MYID / NODES / SLOTS / SHARDS / REPLICAS / KEYSLOT /
 * HELP and ASKING, answered from the Raft group as Redis Cluster clients
 * expect to see it: one group owns all 16384 slots, its leader is the
 * master of 0-16383 and the other members are its replicas, each at its
 * client port, named by its Raft node id (40 hex characters, stable, never
 * reused). After a failover the replies name the new leader, as -MOVED
 * does. The view is built per call (these commands are rare); the reply
 * trees come from cluster/ and are encoded here for RESP2 or RESP3. */
#include "client/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/cluster.h"
#include "metrics/metrics.h"
#include "repl/repl.h"

static int arg_is(const struct resp_arg *a, const char *w)
{
    size_t n = strlen(w);
    return a->len == n && strncasecmp(a->ptr, w, n) == 0;
}

static void write_reply(struct resp_out *o, const struct cluster_reply *r)
{
    switch (r->type) {
    case CLUSTER_REPLY_INT:
        resp_add_int(o, r->integer);
        break;
    case CLUSTER_REPLY_BULK:
        resp_add_bulk(o, r->str, r->len);
        break;
    case CLUSTER_REPLY_VERBATIM:
        resp_add_verbatim(o, r->str, r->len, "txt");
        break;
    case CLUSTER_REPLY_ARRAY:
        resp_add_array(o, (long long)r->n);
        for (size_t i = 0; i < r->n; i++)
            write_reply(o, &r->elems[i]);
        break;
    case CLUSTER_REPLY_MAP:
        resp_add_map(o, (long long)r->n);
        for (size_t i = 0; i < 2 * r->n; i++)
            write_reply(o, &r->elems[i]);
        break;
    }
}

/* What CLUSTER replies take from INFO raft (the one place repl shows
 * them): the term, the one epoch Raft has, and whether this node's bus
 * link to each peer is up. */
struct raft_facts {
    uint64_t term;
    uint64_t down[RAFT_MAX_SERVERS]; /* peers whose link is down */
    size_t ndown;
};

static void read_facts(struct repl *r, struct raft_facts *f)
{
    struct metrics_buf b = {0};
    repl_info_section(&b, r);
    memset(f, 0, sizeof(*f));
    const char *t = b.p != NULL ? strstr(b.p, "raft_term:") : NULL;
    if (t != NULL)
        f->term = strtoull(t + 10, NULL, 10);
    for (const char *l = b.p; l != NULL && (l = strstr(l, "raft_peer"));
         l++) {
        const char *id = strstr(l, ":id=");
        const char *eol = strchr(l, '\n');
        const char *conn = strstr(l, "connected=0");
        if (id != NULL && conn != NULL && (eol == NULL || conn < eol) &&
            f->ndown < RAFT_MAX_SERVERS)
            f->down[f->ndown++] = strtoull(id + 4, NULL, 10);
    }
    metrics_buf_free(&b);
}

static bool link_down(const struct raft_facts *f, uint64_t id)
{
    for (size_t i = 0; i < f->ndown; i++)
        if (f->down[i] == id)
            return true;
    return false;
}

struct view {
    struct cluster_view v;
    struct cluster_slot_map map;
    struct cluster_node nodes[RAFT_MAX_SERVERS];
};

/* One group (0) with every slot; the leader is its primary. While no
 * leader is known (an election), the last known one stays the primary,
 * flagged fail, and cluster_state is fail: as a Redis Cluster shows a
 * failed master until a replica is promoted, so clients keep a full slot
 * map and retry rather than find the slots served by nobody. */
static void build_view(struct client_server *cs, struct view *w)
{
    struct repl *r = cs->repl;
    const struct repl_member *m;
    uint32_t n = repl_members(r, &m);
    uint64_t leader = repl_leader_id(r), self = repl_node_id(r);
    bool known = leader != 0;
    if (known)
        cs->last_leader = leader;
    else
        leader = cs->last_leader;
    struct raft_facts facts;
    read_facts(r, &facts);
    uint64_t term = facts.term;
    memset(w, 0, sizeof(*w));
    cluster_map_init_single(&w->map, 0);
    size_t k = 0;
    for (uint32_t i = 0; i < n && k < RAFT_MAX_SERVERS; i++) {
        struct cluster_node *nd = &w->nodes[k++];
        cluster_node_name(m[i].id, nd->id);
        nd->host = m[i].host;
        nd->port = m[i].port;
        nd->bus_port = m[i].bus_port;
        nd->group = 0;
        nd->role = m[i].id == leader ? CLUSTER_ROLE_PRIMARY
                                     : CLUSTER_ROLE_REPLICA;
        nd->myself = m[i].id == self;
        /* Redis flags a node fail once its master peers agree; here it
         * is this node's bus link, or a leader lost to an election */
        nd->failed = !nd->myself && (link_down(&facts, m[i].id) ||
                                     (!known && m[i].id == leader));
        nd->link_connected = !nd->failed;
        nd->config_epoch = m[i].id == leader ? term : 0;
        nd->repl_offset = repl_applied_index(r);
    }
    w->v = (struct cluster_view){.map = &w->map, .nodes = w->nodes,
                                 .nnodes = k, .state_ok = known,
                                 .current_epoch = term,
                                 .my_epoch = self == leader ? term : 0};
}

static const char *const cluster_help[] = {
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "HELP",
    "    Prints this help.",
    NULL};

static void reply_help(struct conn *c)
{
    size_t n = 0;
    while (cluster_help[n] != NULL)
        n++;
    resp_add_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        resp_add_status(&c->out, cluster_help[i]);
}

/* CLUSTER REPLICAS <id>: the CLUSTER NODES lines of its replicas. */
static void reply_replicas(struct conn *c, const struct view *w,
                           const struct resp_arg *id)
{
    const struct cluster_node *p = NULL;
    for (size_t i = 0; i < w->v.nnodes; i++)
        if (id->len == CLUSTER_NAMELEN &&
            !strncasecmp(w->nodes[i].id, id->ptr, CLUSTER_NAMELEN))
            p = &w->nodes[i];
    if (p == NULL) {
        resp_add_errorf(&c->out, "Unknown node %.*s", (int)id->len, id->ptr);
        return;
    }
    if (p->role != CLUSTER_ROLE_PRIMARY) {
        resp_add_error(&c->out, "The specified node is not a master");
        return;
    }
    size_t len;
    char *text = cluster_nodes_text(&w->v, &len);
    size_t nrep = 0;
    for (size_t i = 0; i < w->v.nnodes; i++)
        nrep += w->nodes[i].role == CLUSTER_ROLE_REPLICA;
    resp_add_array(&c->out, (long long)nrep);
    for (char *line = text; line != NULL && *line;) {
        char *nl = strchr(line, '\n');
        size_t l = nl ? (size_t)(nl - line) : strlen(line);
        if (memmem(line, l, " slave ", 7) || memmem(line, l, ",slave ", 7))
            resp_add_bulk(&c->out, line, l);
        line = nl ? nl + 1 : NULL;
    }
    free(text);
}

static void unknown_sub(struct conn *c, const struct resp_arg *sub)
{
    resp_add_errorf(&c->out, "unknown subcommand '%.*s'. Try CLUSTER HELP.",
                    (int)(sub->len < 128 ? sub->len : 128), sub->ptr);
}

static void wrong_arity(struct conn *c, const struct resp_arg *sub)
{
    char name[32];
    size_t n = sub->len < sizeof(name) - 1 ? sub->len : sizeof(name) - 1;
    for (size_t i = 0; i < n; i++)
        name[i] = (char)((sub->ptr[i] >= 'A' && sub->ptr[i] <= 'Z')
                             ? sub->ptr[i] + 32 : sub->ptr[i]);
    name[n] = '\0';
    resp_add_errorf(&c->out, "wrong number of arguments for 'cluster|%s' "
                    "command", name);
}

/* CLUSTER <sub> ... : argc >= 2. */
static void cluster_command(struct conn *c, int argc,
                            const struct resp_arg *argv)
{
    const struct resp_arg *sub = &argv[1];
    static const char *const two[] = {"info", "myid", "nodes", "slots",
                                      "shards", "help", NULL};
    for (int i = 0; two[i] != NULL; i++)
        if (arg_is(sub, two[i]) && argc != 2) {
            wrong_arity(c, sub);
            return;
        }
    if ((arg_is(sub, "keyslot") || arg_is(sub, "replicas") ||
         arg_is(sub, "slaves")) && argc != 3) {
        wrong_arity(c, sub);
        return;
    }
    if (arg_is(sub, "help")) {
        reply_help(c);
        return;
    }
    struct view *w = malloc(sizeof(*w));
    if (w == NULL)
        abort();
    build_view(c->srv, w);
    struct cluster_reply *r = NULL;
    if (arg_is(sub, "info"))
        r = cluster_reply_info(&w->v);
    else if (arg_is(sub, "myid"))
        r = cluster_reply_myid(&w->v);
    else if (arg_is(sub, "nodes"))
        r = cluster_reply_nodes(&w->v);
    else if (arg_is(sub, "slots"))
        r = cluster_reply_slots(&w->v);
    else if (arg_is(sub, "shards"))
        r = cluster_reply_shards(&w->v);
    else if (arg_is(sub, "keyslot"))
        r = cluster_reply_keyslot(argv[2].ptr, argv[2].len);
    else if (arg_is(sub, "replicas") || arg_is(sub, "slaves"))
        reply_replicas(c, w, &argv[2]);
    else
        unknown_sub(c, sub);
    if (r != NULL)
        write_reply(&c->out, r);
    cluster_reply_free(r);
    free(w);
}

int dispatch__cluster_command(struct conn *c, int argc,
                              const struct resp_arg *argv)
{
    if (arg_is(&argv[0], "asking")) {
        if (argc != 1)
            return 0;
        resp_add_ok(&c->out); /* no slot ever migrates: nothing to ask */
        return 1;
    }
    if (argc < 2)
        return 0;
    cluster_command(c, argc, argv);
    return 1;
}
