/* The texts and reply trees of Redis Cluster, byte for byte as Redis 7.0
 * produces them (cluster.c: getNodeByQuery errors, clusterGenNodesDescription,
 * clusterReplyMultiBulkSlots, clusterReplyShards, CLUSTER INFO), built from a
 * borrowed cluster_view. Why a neutral tree: the RESP writer belongs to
 * another room, and one tree serves RESP2 and RESP3 (maps, verbatim text).
 * Replies are built on demand (CLUSTER commands are rare): clarity over speed. */
#include "cluster/cluster.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Glue-code allocation: a CLUSTER reply cannot be half-built, and running
 * out of memory here means the process is already lost. */
static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fprintf(stderr, "cluster: out of memory (%zu bytes)\n", n * size);
        abort();
    }
    return p;
}

static void *xrealloc(void *old, size_t size)
{
    void *p = realloc(old, size);
    if (p == NULL) {
        fprintf(stderr, "cluster: out of memory (%zu bytes)\n", size);
        abort();
    }
    return p;
}

/* ---- Redirections ---- */

int cluster_format_redirect(char *buf, size_t cap, enum cluster_redir redir,
                            unsigned slot, const char *host, int port)
{
    switch (redir) {
    case CLUSTER_REDIR_NONE:
        break;
    case CLUSTER_REDIR_CROSS_SLOT:
        return snprintf(buf, cap,
                        "CROSSSLOT Keys in request don't hash to the same slot");
    case CLUSTER_REDIR_UNSTABLE:
        return snprintf(buf, cap, "TRYAGAIN Multiple keys request during "
                                  "rehashing of slot");
    case CLUSTER_REDIR_DOWN_STATE:
        return snprintf(buf, cap, "CLUSTERDOWN The cluster is down");
    case CLUSTER_REDIR_DOWN_RO_STATE:
        return snprintf(buf, cap, "CLUSTERDOWN The cluster is down and only "
                                  "accepts read commands");
    case CLUSTER_REDIR_DOWN_UNBOUND:
        return snprintf(buf, cap, "CLUSTERDOWN Hash slot not served");
    case CLUSTER_REDIR_MOVED:
    case CLUSTER_REDIR_ASK:
        /* Redis prints the address as is, IPv6 included (no brackets). */
        return snprintf(buf, cap, "%s %u %s:%d",
                        redir == CLUSTER_REDIR_ASK ? "ASK" : "MOVED", slot,
                        host ? host : "", port);
    }
    if (cap > 0)
        buf[0] = '\0';
    return -1;
}

/* ---- Reply tree ---- */

static void reply_clear(struct cluster_reply *r)
{
    size_t count = r->type == CLUSTER_REPLY_MAP ? 2 * r->n : r->n;
    if (r->type == CLUSTER_REPLY_ARRAY || r->type == CLUSTER_REPLY_MAP)
        for (size_t i = 0; i < count; i++)
            reply_clear(&r->elems[i]);
    free(r->elems);
    free(r->str);
}

void cluster_reply_free(struct cluster_reply *r)
{
    if (r == NULL)
        return;
    reply_clear(r);
    free(r);
}

static void set_int(struct cluster_reply *r, long long v)
{
    memset(r, 0, sizeof(*r));
    r->type = CLUSTER_REPLY_INT;
    r->integer = v;
}

static void set_str(struct cluster_reply *r, enum cluster_reply_type type,
                    const char *s, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->str = xcalloc(len + 1, 1);
    memcpy(r->str, s, len);
    r->len = len;
}

static void set_cstr(struct cluster_reply *r, const char *s)
{
    set_str(r, CLUSTER_REPLY_BULK, s, strlen(s));
}

/* An aggregate of n elements (ARRAY) or n pairs (MAP), zeroed. */
static void set_agg(struct cluster_reply *r, enum cluster_reply_type type,
                    size_t n)
{
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->n = n;
    r->elems = xcalloc(type == CLUSTER_REPLY_MAP ? 2 * n : n,
                       sizeof(*r->elems));
}

static struct cluster_reply *reply_new(void)
{
    return xcalloc(1, sizeof(struct cluster_reply));
}

/* ---- A growing text buffer for INFO and NODES ---- */

struct text {
    char *p;
    size_t len, cap;
};

static void text_printf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->p = xrealloc(t->p, t->cap);
    }
}

/* ---- Helpers over the view ---- */

/* The primary (leader) of a group, or NULL while the group has none. */
static const struct cluster_node *group_primary(const struct cluster_view *v,
                                                uint32_t group)
{
    for (size_t i = 0; i < v->nnodes; i++)
        if (v->nodes[i].group == group &&
            v->nodes[i].role == CLUSTER_ROLE_PRIMARY)
            return &v->nodes[i];
    return NULL;
}

/* Counts the maximal runs of slots owned by group, storing the first max
 * of them in first[] and last[] (both may be NULL when max is 0). */
static size_t group_ranges(const struct cluster_view *v, uint32_t group,
                           unsigned *first, unsigned *last, size_t max)
{
    size_t n = 0;
    unsigned s = 0;
    while (s < CLUSTER_SLOTS) {
        if (cluster_map_group(v->map, s) != group) {
            s++;
            continue;
        }
        unsigned start = s;
        while (s < CLUSTER_SLOTS && cluster_map_group(v->map, s) == group)
            s++;
        if (n < max) {
            first[n] = start;
            last[n] = s - 1;
        }
        n++;
    }
    return n;
}

/* Slot ranges of a group, allocated: *first and *last, count returned. */
static size_t group_ranges_alloc(const struct cluster_view *v, uint32_t group,
                                 unsigned **first, unsigned **last)
{
    size_t n = group_ranges(v, group, NULL, NULL, 0);
    *first = xcalloc(n, sizeof(unsigned));
    *last = xcalloc(n, sizeof(unsigned));
    group_ranges(v, group, *first, *last, n);
    return n;
}

/* ---- CLUSTER KEYSLOT / MYID ---- */

struct cluster_reply *cluster_reply_keyslot(const void *key, size_t len)
{
    struct cluster_reply *r = reply_new();
    set_int(r, cluster_keyslot(key, len));
    return r;
}

struct cluster_reply *cluster_reply_myid(const struct cluster_view *v)
{
    struct cluster_reply *r = reply_new();
    for (size_t i = 0; i < v->nnodes; i++) {
        if (v->nodes[i].myself) {
            set_cstr(r, v->nodes[i].id);
            return r;
        }
    }
    set_cstr(r, "");
    return r;
}

/* ---- CLUSTER INFO ---- */

/* Counts slots whose owner has a healthy primary (ok) and those whose
 * owner has none or a failed one (fail). */
static void count_slot_health(const struct cluster_view *v, unsigned *ok,
                              unsigned *fail)
{
    *ok = 0;
    *fail = 0;
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        uint32_t g = cluster_map_group(v->map, s);
        if (g == CLUSTER_NO_GROUP)
            continue;
        const struct cluster_node *p = group_primary(v, g);
        if (p != NULL && !p->failed)
            (*ok)++;
        else
            (*fail)++;
    }
}

/* Primaries serving at least one slot (Redis "cluster_size"). */
static unsigned count_serving_primaries(const struct cluster_view *v)
{
    unsigned n = 0;
    for (size_t i = 0; i < v->nnodes; i++) {
        const struct cluster_node *nd = &v->nodes[i];
        if (nd->role != CLUSTER_ROLE_PRIMARY)
            continue;
        if (group_ranges(v, nd->group, NULL, NULL, 0) > 0)
            n++;
    }
    return n;
}

struct cluster_reply *cluster_reply_info(const struct cluster_view *v)
{
    struct text t = {0};
    unsigned ok, fail;
    count_slot_health(v, &ok, &fail);
    text_printf(&t, "cluster_state:%s\r\n", v->state_ok ? "ok" : "fail");
    text_printf(&t, "cluster_slots_assigned:%u\r\n",
                cluster_map_assigned(v->map));
    text_printf(&t, "cluster_slots_ok:%u\r\n", ok);
    text_printf(&t, "cluster_slots_pfail:0\r\n");
    text_printf(&t, "cluster_slots_fail:%u\r\n", fail);
    text_printf(&t, "cluster_known_nodes:%zu\r\n", v->nnodes);
    text_printf(&t, "cluster_size:%u\r\n", count_serving_primaries(v));
    text_printf(&t, "cluster_current_epoch:%" PRIu64 "\r\n", v->current_epoch);
    text_printf(&t, "cluster_my_epoch:%" PRIu64 "\r\n", v->my_epoch);
    text_printf(&t, "cluster_stats_messages_sent:%" PRIu64 "\r\n",
                v->messages_sent);
    text_printf(&t, "cluster_stats_messages_received:%" PRIu64 "\r\n",
                v->messages_received);
    text_printf(&t, "total_cluster_links_buffer_limit_exceeded:0\r\n");
    struct cluster_reply *r = reply_new();
    set_str(r, CLUSTER_REPLY_VERBATIM, t.p, t.len);
    free(t.p);
    return r;
}

/* ---- CLUSTER NODES ---- */

/* "myself,master", "slave", "master,fail" ... as representClusterNodeFlags
 * (flag order: myself, master/slave, fail). */
static void node_flags(struct text *t, const struct cluster_node *nd)
{
    text_printf(t, "%s%s%s", nd->myself ? "myself," : "",
                nd->role == CLUSTER_ROLE_PRIMARY ? "master" : "slave",
                nd->failed ? ",fail" : "");
}

static void node_line(struct text *t, const struct cluster_view *v,
                      const struct cluster_node *nd)
{
    const struct cluster_node *primary = group_primary(v, nd->group);
    text_printf(t, "%s %s:%d@%d ", nd->id, nd->host ? nd->host : "",
                nd->port, nd->bus_port);
    node_flags(t, nd);
    if (nd->role == CLUSTER_ROLE_REPLICA && primary != NULL)
        text_printf(t, " %s ", primary->id);
    else
        text_printf(t, " - ");
    text_printf(t, "%" PRId64 " %" PRId64 " %" PRIu64 " %s", nd->ping_sent_ms,
                nd->pong_recv_ms, nd->config_epoch,
                nd->myself || nd->link_connected ? "connected"
                                                 : "disconnected");
    if (nd->role == CLUSTER_ROLE_PRIMARY) {
        unsigned *first, *last;
        size_t n = group_ranges_alloc(v, nd->group, &first, &last);
        for (size_t i = 0; i < n; i++) {
            if (first[i] == last[i])
                text_printf(t, " %u", first[i]);
            else
                text_printf(t, " %u-%u", first[i], last[i]);
        }
        free(first);
        free(last);
    }
    text_printf(t, "\n");
}

char *cluster_nodes_text(const struct cluster_view *v, size_t *len)
{
    struct text t = {0};
    text_printf(&t, "%s", "");
    for (size_t i = 0; i < v->nnodes; i++)
        node_line(&t, v, &v->nodes[i]);
    *len = t.len;
    return t.p;
}

struct cluster_reply *cluster_reply_nodes(const struct cluster_view *v)
{
    size_t len;
    char *text = cluster_nodes_text(v, &len);
    struct cluster_reply *r = reply_new();
    set_str(r, CLUSTER_REPLY_VERBATIM, text, len);
    free(text);
    return r;
}

/* ---- CLUSTER SLOTS ---- */

/* [host, port, id, {}]: Redis 7.0 addNodeToNodeReply; the map holds the
 * endpoints other than the preferred one (none here: no hostnames). */
static void slots_node(struct cluster_reply *r, const struct cluster_node *nd)
{
    set_agg(r, CLUSTER_REPLY_ARRAY, 4);
    set_cstr(&r->elems[0], nd->host ? nd->host : "");
    set_int(&r->elems[1], nd->port);
    set_cstr(&r->elems[2], nd->id);
    set_agg(&r->elems[3], CLUSTER_REPLY_MAP, 0);
}

static size_t group_replica_count(const struct cluster_view *v, uint32_t g)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nnodes; i++)
        n += v->nodes[i].group == g &&
             v->nodes[i].role == CLUSTER_ROLE_REPLICA && !v->nodes[i].failed;
    return n;
}

/* One [start, end, primary, replicas...] entry. Failed replicas are left
 * out, as Redis does. */
static void slots_range(struct cluster_reply *r, const struct cluster_view *v,
                        const struct cluster_node *primary, unsigned first,
                        unsigned last)
{
    size_t k = 3;
    set_agg(r, CLUSTER_REPLY_ARRAY,
            3 + group_replica_count(v, primary->group));
    set_int(&r->elems[0], first);
    set_int(&r->elems[1], last);
    slots_node(&r->elems[2], primary);
    for (size_t i = 0; i < v->nnodes; i++) {
        const struct cluster_node *nd = &v->nodes[i];
        if (nd->group == primary->group &&
            nd->role == CLUSTER_ROLE_REPLICA && !nd->failed)
            slots_node(&r->elems[k++], nd);
    }
}

struct cluster_reply *cluster_reply_slots(const struct cluster_view *v)
{
    struct cluster_reply *r = reply_new();
    size_t total = 0;
    for (size_t i = 0; i < v->nnodes; i++)
        if (v->nodes[i].role == CLUSTER_ROLE_PRIMARY)
            total += group_ranges(v, v->nodes[i].group, NULL, NULL, 0);
    set_agg(r, CLUSTER_REPLY_ARRAY, total);
    size_t k = 0;
    for (size_t i = 0; i < v->nnodes; i++) {
        const struct cluster_node *p = &v->nodes[i];
        if (p->role != CLUSTER_ROLE_PRIMARY)
            continue;
        unsigned *first, *last;
        size_t n = group_ranges_alloc(v, p->group, &first, &last);
        for (size_t j = 0; j < n; j++)
            slots_range(&r->elems[k++], v, p, first[j], last[j]);
        free(first);
        free(last);
    }
    return r;
}

/* ---- CLUSTER SHARDS ---- */

static void map_key(struct cluster_reply *m, size_t pair, const char *key)
{
    set_cstr(&m->elems[2 * pair], key);
}

/* Redis 7.0 addNodeDetailsToShardReply, same keys in the same order. */
static void shard_node(struct cluster_reply *r, const struct cluster_node *nd)
{
    const char *health = nd->failed ? "failed"
                         : (nd->role == CLUSTER_ROLE_REPLICA &&
                            nd->repl_offset == 0)
                             ? "loading"
                             : "online";
    set_agg(r, CLUSTER_REPLY_MAP, 7);
    map_key(r, 0, "id");
    set_cstr(&r->elems[1], nd->id);
    map_key(r, 1, "port");
    set_int(&r->elems[3], nd->port);
    map_key(r, 2, "ip");
    set_cstr(&r->elems[5], nd->host ? nd->host : "");
    map_key(r, 3, "endpoint");
    set_cstr(&r->elems[7], nd->host ? nd->host : "");
    map_key(r, 4, "role");
    set_cstr(&r->elems[9],
             nd->role == CLUSTER_ROLE_PRIMARY ? "master" : "replica");
    map_key(r, 5, "replication-offset");
    set_int(&r->elems[11], (long long)nd->repl_offset);
    map_key(r, 6, "health");
    set_cstr(&r->elems[13], health);
}

static void shard_entry(struct cluster_reply *r, const struct cluster_view *v,
                        const struct cluster_node *primary)
{
    unsigned *first, *last;
    size_t nranges = group_ranges_alloc(v, primary->group, &first, &last);
    size_t nnodes = 0;
    for (size_t i = 0; i < v->nnodes; i++)
        nnodes += v->nodes[i].group == primary->group;

    set_agg(r, CLUSTER_REPLY_MAP, 2);
    map_key(r, 0, "slots");
    struct cluster_reply *slots = &r->elems[1];
    set_agg(slots, CLUSTER_REPLY_ARRAY, 2 * nranges);
    for (size_t j = 0; j < nranges; j++) {
        set_int(&slots->elems[2 * j], first[j]);
        set_int(&slots->elems[2 * j + 1], last[j]);
    }
    map_key(r, 1, "nodes");
    struct cluster_reply *nodes = &r->elems[3];
    set_agg(nodes, CLUSTER_REPLY_ARRAY, nnodes);
    /* The primary first, then its replicas in view order. */
    size_t k = 0;
    shard_node(&nodes->elems[k++], primary);
    for (size_t i = 0; i < v->nnodes; i++)
        if (v->nodes[i].group == primary->group && &v->nodes[i] != primary)
            shard_node(&nodes->elems[k++], &v->nodes[i]);
    free(first);
    free(last);
}

struct cluster_reply *cluster_reply_shards(const struct cluster_view *v)
{
    struct cluster_reply *r = reply_new();
    size_t nshards = 0;
    for (size_t i = 0; i < v->nnodes; i++)
        nshards += v->nodes[i].role == CLUSTER_ROLE_PRIMARY;
    set_agg(r, CLUSTER_REPLY_ARRAY, nshards);
    size_t k = 0;
    for (size_t i = 0; i < v->nnodes; i++)
        if (v->nodes[i].role == CLUSTER_ROLE_PRIMARY)
            shard_entry(&r->elems[k++], v, &v->nodes[i]);
    return r;
}
