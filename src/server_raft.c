/* Replication wiring (see server_raft.h). Node ids: a fresh directory
 * without peers is node 1 of a one-member group, its own leader at once;
 * with `cluster-peers` every node sorts the full member list (itself and
 * the peers, "host:port") the same way and takes its position + 1, so
 * nodes started with the same set agree on ids without talking. The id is
 * persisted in the WAL's hard state and reused on every restart; ids of
 * members added later come from the Raft configuration (max_id + 1), so
 * no id is ever reused. */
#include "server_raft.h"
#include "server_admin.h"

#include <dirent.h>
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
#include "metrics/metrics.h"
#include "net/loop.h"
#include "repl/repl.h"
#include "store/store.h"
#include "transport/transport.h"
#include "wal/wal.h"

#define SNAPSHOT_FLUSH_BYTES (256u << 10)
#define DEFAULT_SECRET "raftcache-default-cluster-secret"
/* Eviction DELs not applied by then are taken as lost (leadership moved
 * on and back): the leader decides again. */
#define EVICT_PENDING_MS 500

/* ---- members ----------------------------------------------------------- */

static void self_host(const struct config *cfg, char *host, size_t len)
{
    const char *b = cfg->nbind > 0 ? cfg->bind[0] : "127.0.0.1";
    if (b[0] == '-')
        b++;
    if (!strcmp(b, "*") || !strcmp(b, "0.0.0.0") || strchr(b, ':') != NULL)
        b = "127.0.0.1";
    snprintf(host, len, "%s", b);
}

static int bus_port_of(const struct config *cfg, long long port)
{
    return (int)(port + 10000);
}

/* Parses "host:port[@bus]" into m. */
static int parse_member(const char *s, size_t len, struct repl_member *m)
{
    char buf[128];
    if (len == 0 || len >= sizeof(buf))
        return ERR_INVALID;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *at = strchr(buf, '@');
    if (at != NULL) {
        *at = '\0';
        m->bus_port = atoi(at + 1);
    }
    char *colon = strrchr(buf, ':');
    if (colon == NULL || colon == buf || colon - buf >= REPL_HOST_LEN)
        return ERR_INVALID;
    *colon = '\0';
    m->port = atoi(colon + 1);
    if (m->port <= 0 || m->port > 65535)
        return ERR_INVALID;
    memcpy(m->host, buf, (size_t)(colon - buf) + 1);
    if (at == NULL)
        m->bus_port = m->port + 10000;
    return 0;
}

static int member_cmp(const void *a, const void *b)
{
    const struct repl_member *x = a, *y = b;
    int c = strcmp(x->host, y->host);
    return c != 0 ? c : x->port - y->port;
}

/* The static member list, self included, ids by sorted position. Returns
 * the count and this node's id in *self_id. */
static int static_members(const struct config *cfg, struct repl_member *m,
                          uint64_t *self_id, char *errmsg)
{
    int n = 0;
    m[n] = (struct repl_member){.port = (int)cfg->port};
    self_host(cfg, m[n].host, REPL_HOST_LEN);
    m[n++].bus_port = cfg->cluster_port ? (int)cfg->cluster_port
                                        : bus_port_of(cfg, cfg->port);
    const char *p = cfg->cluster_peers ? cfg->cluster_peers : "";
    while (*p) {
        size_t len = strcspn(p, ", ");
        if (len > 0) {
            if (n == RAFT_MAX_SERVERS ||
                parse_member(p, len, &m[n]) < 0) {
                snprintf(errmsg, ERRMSG_LEN, "bad cluster-peers entry '%.*s'",
                         (int)len, p);
                return ERR_INVALID;
            }
            n++;
        }
        p += len;
        p += strspn(p, ", ");
    }
    struct repl_member self = m[0];
    qsort(m, (size_t)n, sizeof(*m), member_cmp);
    for (int i = 0; i < n; i++) {
        m[i].id = (uint64_t)i + 1;
        if (!member_cmp(&m[i], &self))
            *self_id = m[i].id;
    }
    return n;
}

/* ---- apply ------------------------------------------------------------- */

static void execute(struct server_raft *sr, struct cmd_session *sess,
                    struct resp_out *out, int argc,
                    const struct resp_arg *argv, int64_t now)
{
    struct cmd_ctx ctx = {.env = sr->env, .sess = sess, .out = out,
                          .argc = argc, .argv = argv, .now = now};
    int unknown;
    ctx.cmd = cmd_lookup(argc, argv, &unknown);
    if (ctx.cmd == NULL || unknown) {
        resp_add_errorf(out, "unknown command '%.*s'", (int)argv[0].len,
                        argv[0].ptr);
        return;
    }
    unsigned long errors = out->errors;
    int64_t t0 = loop_mono_us_fresh();
    cmd_execute(&ctx);
    struct cmd_stats *st = &sr->env->stats[ctx.cmd->index];
    st->calls++;
    st->usec += (uint64_t)(loop_mono_us_fresh() - t0);
    if (ctx.failed || out->errors != errors)
        st->failed_calls++;
    if (out != &sr->discard && out->errors != errors)
        metrics_count_error(sr->metrics, out->last_error,
                            out->errors - errors);
    sr->metrics->total_commands_processed++;
}

/* RAFT.MULTI <count> <commands>: a MULTI/EXEC transaction, applied at
 * once; the reply is the array of the commands' replies. */
static void apply_multi(struct server_raft *sr, struct cmd_session *sess,
                        struct resp_out *out, const struct resp_arg *argv,
                        int64_t now)
{
    long long n = 0;
    resp_string_to_ll(argv[1].ptr, argv[1].len, &n);
    resp_add_array(out, n);
    char *p = (char *)argv[2].ptr;
    size_t left = argv[2].len;
    for (long long i = 0; i < n && left > 0; i++) {
        long rv = resp_parse(&sr->mparser, p, left);
        if (rv <= 0)
            break;
        if (sr->mparser.argc > 0)
            execute(sr, sess, out, sr->mparser.argc, sr->mparser.argv, now);
        p += rv;
        left -= (size_t)rv;
    }
}

static void apply_expired(struct server_raft *sr, const struct resp_arg *key,
                          int64_t now);
static void apply_evicted(struct server_raft *sr, const struct resp_arg *key);

static void apply(void *data, uint64_t index, const uint8_t *bytes,
                  size_t len, int64_t leader_now, void *owner)
{
    struct server_raft *sr = data;
    long rv = resp_parse(&sr->parser, (char *)bytes, len);
    if (rv <= 0 || sr->parser.argc == 0) {
        log_msg(LOG_LEVEL_WARNING, "Raft entry %llu does not parse",
                (unsigned long long)index);
        resp_parser_free(&sr->parser);
        resp_parser_init(&sr->parser, (long long)WAL_ENTRY_MAX, NULL);
        return;
    }
    struct resp_out *out = &sr->discard;
    struct cmd_session *sess = &sr->sess;
    if (owner != NULL)
        client_wait_target(owner, &out, &sess);
    const struct resp_arg *argv = sr->parser.argv;
    sr->applying = 1;
    if (sr->parser.argc == 2 && argv[0].len == 12 &&
        strncasecmp(argv[0].ptr, "raft.expired", 12) == 0)
        apply_expired(sr, &argv[1], leader_now);
    else if (sr->parser.argc == 2 && argv[0].len == 12 &&
             strncasecmp(argv[0].ptr, "raft.evicted", 12) == 0)
        apply_evicted(sr, &argv[1]);
    else if (sr->parser.argc == 3 && argv[0].len == 10 &&
        strncasecmp(argv[0].ptr, "raft.multi", 10) == 0)
        apply_multi(sr, sess, out, argv, leader_now);
    else
        execute(sr, sess, out, sr->parser.argc, argv, leader_now);
    sr->applying = 0;
    sr->discard.len = 0;
}

/* The entry is applied soon: bring its key's bucket and entry into the
 * cache (the first key of nearly every write is its second argument). */
static void prefetch(void *data, const uint8_t *bytes, size_t len, int stage)
{
    struct server_raft *sr = data;
    struct resp_arg key;
    if (resp_peek_arg((const char *)bytes, len, 1, &key))
        store_prefetch(sr->store, key.ptr, key.len, stage);
}

/* ---- snapshots: the store's records, many per snapshot record ---------- */

struct save_buf {
    struct wal_snapshot_writer *wr;
    uint8_t *p;
    size_t len, cap, boundary;
    int rv;
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static int save_flush(struct save_buf *b)
{
    if (b->boundary == 0)
        return 0;
    int rv = wal_snapshot_write(b->wr, b->p, b->boundary);
    memmove(b->p, b->p + b->boundary, b->len - b->boundary);
    b->len -= b->boundary;
    b->boundary = 0;
    return rv;
}

static int save_piece(void *ctx, const void *buf, size_t len)
{
    struct save_buf *b = ctx;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : SNAPSHOT_FLUSH_BYTES * 2;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL)
            return ERR_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, buf, len);
    b->len += len;
    while (b->len - b->boundary >= STORE_RECORD_HEADER) {
        const uint8_t *h = b->p + b->boundary;
        size_t total = STORE_RECORD_HEADER + (size_t)le32(h + 11) +
                       (size_t)le32(h + 15);
        if (b->len - b->boundary < total)
            break;
        b->boundary += total;
    }
    return b->boundary >= SNAPSHOT_FLUSH_BYTES ? save_flush(b) : 0;
}

static int snapshot_save(void *data, struct wal_snapshot_writer *wr)
{
    struct server_raft *sr = data;
    struct save_buf b = {.wr = wr};
    int rv = store_save(sr->store, save_piece, &b);
    if (rv == 0)
        rv = save_flush(&b);
    free(b.p);
    return rv;
}

static int snapshot_load(void *data, struct wal_snapshot_reader *rd)
{
    struct server_raft *sr = data;
    const void *buf;
    size_t len;
    int rv;
    store_flush(sr->store);
    while ((rv = wal_snapshot_read(rd, &buf, &len)) == 1) {
        size_t at = 0;
        while (at < len) {
            int n = store_load_record(sr->store, (const char *)buf + at,
                                      len - at);
            if (n <= 0)
                return n < 0 ? n : ERR_CORRUPT;
            at += (size_t)n;
        }
    }
    return rv;
}

/* ---- expiry: the leader proposes DELs ---------------------------------- */

static void propose_del(void *ctx, const struct store_entry *e,
                        enum store_reap_why why)
{
    struct server_raft *sr = ctx;
    struct resp_arg argv[2] = {{"RAFT.EXPIRED", 12},
                               {store_entry_key(e), store_entry_key_len(e)}};
    repl_propose_internal(sr->repl, 2, argv);
}

/* RAFT.EXPIRED key: the leader found the key expired. Every node removes
 * it the way lazy expiry does (counted in expired_keys), if it is still
 * expired at the leader's time (a later write may have revived it). */
static void apply_expired(struct server_raft *sr, const struct resp_arg *key,
                          int64_t now)
{
    struct store_key k;
    store_key_init(sr->store, &k, key->ptr, key->len);
    store_set_hide_expired_only(sr->store, 0);
    store_lookup(sr->store, &k, STORE_LOOKUP_WRITE | STORE_LOOKUP_NOTOUCH,
                 (uint64_t)now);
    store_set_hide_expired_only(sr->store, !sr->alone);
}

/* RAFT.EVICTED key: the leader's eviction chose the key. Every node
 * removes it, counted in evicted_keys, whatever it holds by then (as a
 * Redis replica applies its master's DEL of an evicted key). */
static void apply_evicted(struct server_raft *sr, const struct resp_arg *key)
{
    struct store_key k;
    store_key_init(sr->store, &k, key->ptr, key->len);
    store_delete_evicted(sr->store, &k);
    if (sr->evict_pending > 0)
        sr->evict_pending--;
}

static void propose_evicted(void *ctx, const struct store_entry *e,
                            enum store_reap_why why)
{
    struct server_raft *sr = ctx;
    struct resp_arg argv[2] = {{"RAFT.EVICTED", 12},
                               {store_entry_key(e), store_entry_key_len(e)}};
    if (repl_propose_internal(sr->repl, 2, argv) == 0)
        sr->evict_pending++;
}

/* The maxmemory check before a DENYOOM command (cmd_env's evict hook).
 * A group of one evicts at once, as Redis. In a group of several only the
 * leader decides: its victims stay until their proposed DELs apply on
 * every node alike, and meanwhile writes go through (Redis' EVICT_RUNNING)
 * rather than report the same victims again; a follower never evicts.
 * noeviction over the limit answers -OOM before anything is proposed. */
static int raft_evict(void *data, int64_t now_ms)
{
    struct server_raft *sr = data;
    if (sr->alone)
        return store_evict(sr->store, (uint64_t)now_ms, STORE_REAP_DELETE,
                           NULL, NULL);
    if (!store_over_maxmemory(sr->store, 0))
        return 0;
    if (sr->cfg->maxmemory_policy == STORE_POLICY_NOEVICTION)
        return ERR_NOMEM;
    if (!repl_is_leader(sr->repl))
        return 0;
    if (sr->evict_pending > 0 && now_ms - sr->evict_since < EVICT_PENDING_MS)
        return 0;
    sr->evict_pending = 0;
    sr->evict_since = now_ms;
    return store_evict(sr->store, (uint64_t)now_ms, STORE_REAP_REPORT,
                       propose_evicted, sr);
}

/* Followers never expire keys on their own: in a group of more than one,
 * every node only hides expired keys and the leader's expiry proposes
 * their removal. A group of one has nobody to stay identical with, so
 * lazy expiry may delete at once, as Redis does (a replay re-creates and
 * hides such a key until the active cycle proposes its removal). */
void server_raft_sync_expiry_mode(struct server_raft *sr)
{
    const struct raft_config *c = repl_config_now(sr->repl);
    int alone = c->n <= 1 && repl_is_leader(sr->repl);
    if (!repl_is_leader(sr->repl))
        sr->evict_pending = 0; /* a new leader decides afresh */
    if (alone != sr->alone) {
        sr->alone = alone;
        store_set_hide_expired_only(sr->store, !alone);
    }
}

void server_raft_cron(struct server_raft *sr, int64_t now_ms, size_t budget)
{
    if (!repl_is_leader(sr->repl) || repl_pending_writes(sr->repl) > 10000)
        return;
    store_expire_cycle(sr->store, (uint64_t)now_ms, budget, STORE_REAP_REPORT,
                       propose_del, sr);
}

/* ---- SAVE, BGSAVE, LASTSAVE ------------------------------------------- */

/* A snapshot writes the state at the applied index, so it must not start
 * while an entry is half applied (BGSAVE inside MULTI): that one is
 * scheduled, as Redis schedules a BGSAVE run by EXEC. */
int server_raft_snapshot(struct server_raft *sr, uint64_t wait_id)
{
    if (sr->repl == NULL)
        return ERR_INVALID;
    struct repl_snapshot_status st;
    repl_snapshot_status(sr->repl, &st);
    if (st.running)
        return ERR_BUSY;
    if (sr->applying) {
        sr->snapshot_scheduled = 1;
        return CMD_SNAPSHOT_SCHEDULED;
    }
    uint64_t index = repl_applied_index(sr->repl);
    int rv = repl_snapshot(sr->repl);
    if (rv == 0) { /* the state now is on disk already */
        sr->current_ms = loop_now_ms(sr->loop);
        return CMD_SNAPSHOT_CURRENT;
    }
    if (rv < 0)
        return rv;
    if (wait_id != 0 && server_raft_save_wait(sr, wait_id, index) == 0)
        return CMD_SNAPSHOT_WAITING;
    return CMD_SNAPSHOT_STARTED;
}

int server_raft_snapshot_status(const struct server_raft *sr,
                                struct cmd_snapshot_status *st)
{
    if (sr->repl == NULL)
        return ERR_INVALID;
    struct repl_snapshot_status rs;
    repl_snapshot_status(sr->repl, &rs);
    uint64_t applied = repl_applied_index(sr->repl);
    *st = (struct cmd_snapshot_status){
        .running = rs.running, .last_ok = rs.last_ok,
        .last_ms = rs.last_ms > sr->current_ms ? rs.last_ms : sr->current_ms,
        .changes = applied > rs.index ? applied - rs.index : 0,
        .saves = rs.saves, .last_duration_ms = rs.last_duration_ms,
        .log_bytes = rs.log_bytes, .forks = rs.forks,
        .fork_us = rs.fork_us, .loading = repl_loading(sr->repl),
        .running_ms = rs.running ? loop_now_ms(sr->loop) - rs.started_ms
                                 : -1};
    return 0;
}

void server_raft_snapshot_cron(struct server_raft *sr)
{
    if (!sr->snapshot_scheduled || sr->repl == NULL)
        return;
    int rv = repl_snapshot(sr->repl);
    if (rv == ERR_BUSY)
        return; /* after the running one */
    sr->snapshot_scheduled = 0;
    if (rv == 0)
        sr->current_ms = loop_now_ms(sr->loop);
}

static void info_section(struct metrics_buf *out, void *data)
{
    struct server_raft *sr = data;
    if (sr->repl == NULL)
        return;
    repl_info_section(out, sr->repl);
    metrics_buf_printf(out, "raft_log_mends:%u\r\n", sr->mends);
}

/* ---- opening ----------------------------------------------------------- */

static void wal_log(void *data, const char *line)
{
    log_msg(LOG_LEVEL_NOTICE, "%s", line);
}

static void bus_log(void *data, enum peer_log_level level, const char *msg)
{
    int l = level == PEER_LOG_WARNING ? LOG_LEVEL_WARNING
            : level == PEER_LOG_NOTICE ? LOG_LEVEL_NOTICE
                                       : LOG_LEVEL_VERBOSE;
    log_msg(l, "%s", msg);
}

static void bus_frame(void *data, uint64_t peer, uint8_t type,
                      const uint8_t *bytes, size_t len)
{
    struct server_raft *sr = data;
    if (sr->repl != NULL)
        repl_on_frame(sr->repl, peer, type, bytes, len);
}

static void bus_gone(void *data, uint64_t peer)
{
    struct server_raft *sr = data;
    if (sr->repl != NULL)
        repl_on_peer_gone(sr->repl, peer);
}

static int open_bus(struct server_raft *sr, const struct repl_member *self,
                    bool needed, char *errmsg)
{
    const char *secret = sr->cfg->cluster_secret;
    bool default_secret = secret == NULL || secret[0] == '\0';
    if (default_secret)
        secret = DEFAULT_SECRET;
    /* The bus listens where clients do (the first bind address): with the
     * default bind a node takes no Raft traffic from other hosts, as it
     * takes no clients. A leading '-' marks an optional address. */
    const char *bind = sr->cfg->nbind > 0 ? sr->cfg->bind[0] : NULL;
    if (bind != NULL && bind[0] == '-')
        bind++;
    if (bind != NULL && (!strcmp(bind, "*") || !strcmp(bind, "::*")))
        bind = NULL;
    if (default_secret &&
        (bind == NULL || (strncmp(bind, "127.", 4) && strcmp(bind, "::1") &&
                          strcmp(bind, "localhost"))))
        log_msg(LOG_LEVEL_WARNING, "cluster-secret is not set and the "
                "cluster bus listens beyond loopback: anyone who can reach "
                "port %d can join the Raft traffic. Set cluster-secret.",
                self->bus_port);
    struct peer_config pc = {
        .node_id = sr->node_id, .bind = bind, .port = self->bus_port,
        .secret = secret, .secret_len = strlen(secret),
        .seed = sr->node_id ^ (uint64_t)loop_mono_us_fresh(),
        .on_frame = bus_frame, .on_gone = bus_gone, .log = bus_log,
        .data = sr};
    char err[ERRMSG_LEN] = "";
    sr->bus = peer_open(sr->loop, &pc, err);
    if (sr->bus == NULL && needed) {
        snprintf(errmsg, ERRMSG_LEN, "cluster bus port %d: %.200s",
                 self->bus_port, err);
        return ERR_IO;
    }
    if (sr->bus == NULL)
        log_msg(LOG_LEVEL_WARNING, "No cluster bus (port %d: %s): this node "
                "stays a one-member group", self->bus_port, err);
    return 0;
}

/* wal-io auto: the sync backend writing in the loop's own thread, as the
 * last thing of each iteration, after its replies and peer sends (repl's
 * last before-sleep hook): one pwrite + fdatasync per iteration covers all
 * it appended, and no worker thread or io_uring worker has to be woken
 * and waited for. Measured cheapest per request on the 3-node benchmark
 * (server CPU per SET -P 1 about 30% below io_uring's); the loop waits for
 * the disk meanwhile, as Redis' appendfsync always does. wal-io uring, and
 * sync with wal-sync-thread yes, keep the loop off the disk. */
static int open_wal(struct server_raft *sr, struct wal_recovered *rec,
                    char *errmsg)
{
    enum wal_io_kind io = (enum wal_io_kind)sr->cfg->wal_io;
    struct wal_config wc = {
        .dir = ".", .io = io == WAL_IO_AUTO ? WAL_IO_SYNC : io,
        .fsync = (enum wal_fsync_mode)sr->cfg->raft_fsync,
        .repair = sr->cfg->wal_repair,
        .segment_size = (uint64_t)sr->cfg->wal_segment_size,
        .sync_inline = io == WAL_IO_AUTO || !sr->cfg->wal_sync_thread,
        .loop = sr->loop, .on_log = wal_log, .data = sr};
    return wal_open(&wc, &sr->wal, rec, errmsg);
}

static int open_repl(struct server_raft *sr, const struct wal_recovered *rec,
                     const struct repl_member *m, int n, bool bootstrap,
                     char *errmsg)
{
    const struct config *cfg = sr->cfg;
    struct repl_config rc = {
        .node_id = sr->node_id, .loop = sr->loop, .wal = sr->wal,
        .rec = rec, .bus = sr->bus,
        .raft = {.election_timeout_ms = (uint32_t)cfg->raft_election_timeout,
                 .heartbeat_ms = (uint32_t)cfg->raft_heartbeat_interval,
                 .lease_drift_ms =
                     (uint32_t)(cfg->raft_election_timeout / 10 + 1),
                 .snapshot_threshold = (uint64_t)cfg->raft_snapshot_entries,
                 .snapshot_trailing = 1000},
        .snapshot_min_bytes = (uint64_t)cfg->raft_snapshot_min_log_size,
        .snapshot_growth_pct = (uint32_t)cfg->raft_snapshot_log_percentage,
        .pipeline_batches = (uint32_t)cfg->raft_pipeline_batches,
        .write_timeout_ms = cfg->raft_write_timeout
                                ? cfg->raft_write_timeout
                                : 2 * cfg->raft_election_timeout,
        .members = m, .n_members = (uint32_t)n, .bootstrap = bootstrap,
        .apply = apply, .prefetch = prefetch, .wake = client_repl_wake, .save = snapshot_save,
        .load = snapshot_load, .data = sr};
    rc.data = sr;
    return repl_open(&rc, &sr->repl, errmsg);
}

/* The WAL, the cluster bus and the repl group, from what dir holds: at
 * start-up and when a failed node mends. */
static int open_group(struct server_raft *sr, char *errmsg)
{
    struct wal_recovered rec;
    struct repl_member m[RAFT_MAX_SERVERS];
    uint64_t self_id = 1;
    int rv = open_wal(sr, &rec, errmsg);
    if (rv < 0)
        return rv;
    int n = static_members(sr->cfg, m, &self_id, errmsg);
    if (n < 0)
        return n;
    sr->node_id = rec.hs.node_id ? rec.hs.node_id : self_id;
    struct repl_member self = {0};
    for (int i = 0; i < n; i++)
        if (m[i].id == self_id)
            self = m[i];
    if (sr->node_id != self_id)
        for (int i = 0; i < n; i++) /* the persisted id wins */
            m[i].id = m[i].id == self_id ? sr->node_id : m[i].id;
    self.id = sr->node_id;
    if ((rv = open_bus(sr, &self, n > 1, errmsg)) < 0)
        return rv;
    sr->alone = 0;
    sr->evict_pending = 0;
    store_set_hide_expired_only(sr->store, 1);
    if ((rv = open_repl(sr, &rec, m, n, true, errmsg)) < 0)
        return rv;
    sr->clients->repl = sr->repl;
    log_msg(LOG_LEVEL_NOTICE, "Raft node %llu of %d, log %llu..%llu, term %llu",
            (unsigned long long)sr->node_id, n,
            (unsigned long long)rec.first_index,
            (unsigned long long)rec.last_index,
            (unsigned long long)rec.hs.term);
    return 0;
}

static void close_group(struct server_raft *sr)
{
    if (sr->clients != NULL)
        sr->clients->repl = NULL;
    repl_close(sr->repl);
    sr->repl = NULL;
    if (sr->bus != NULL)
        peer_close(sr->bus);
    sr->bus = NULL;
    if (sr->wal != NULL)
        wal_close(sr->wal);
    sr->wal = NULL;
}

int server_raft_open(struct server_raft *sr, char *errmsg)
{
    errmsg[0] = '\0';
    resp_parser_init(&sr->parser, (long long)WAL_ENTRY_MAX, NULL);
    resp_parser_init(&sr->mparser, (long long)WAL_ENTRY_MAX, NULL);
    sr->sess.resp = 2;
    sr->sess.authenticated = 1;
    sr->discard.muted = 1;
    sr->discard.proto = 2;
    sr->env->evict = raft_evict;
    sr->env->evict_data = sr;
    int rv = open_group(sr, errmsg);
    if (rv < 0)
        return rv;
    sr->clients->raft_admin = server_raft_admin;
    sr->clients->raft_admin_data = sr;
    metrics_register_section(sr->metrics, "raft", info_section, sr,
                             METRICS_SECTION_NAMED);
    return 0;
}

void server_raft_close(struct server_raft *sr)
{
    close_group(sr);
    resp_parser_free(&sr->parser);
    resp_parser_free(&sr->mparser);
}

/* ---- a node whose log failed ------------------------------------------ */

/* What a restart does, in place, once the disk takes writes again: the
 * keyspace and the group are dropped and rebuilt from the snapshot and
 * the log, as at start-up, and the node rejoins its group (or leads its
 * group of one again). Clients stay connected; parked ones get
 * -CLUSTERDOWN, WATCHers see every key touched. Safe as a restart is:
 * only what the log holds durably is read back. */
static void mend(struct server_raft *sr)
{
    char errmsg[ERRMSG_LEN] = "";
    log_msg(LOG_LEVEL_WARNING, "Raft log writable again: this node reloads "
            "from its log and rejoins its group");
    uint64_t served = repl_applied_index(sr->repl);
    repl_wake_all(sr->repl);
    close_group(sr);
    sr->mends++;
    sr->probe_failures = 0;
    if (sr->env->touch_all != NULL)
        sr->env->touch_all(sr->env->touch_data);
    store_flush(sr->store);
    if (open_group(sr, errmsg) < 0) {
        /* Half open, the node can serve nothing safely: what a restart
         * would meet too, so stop as a failed start-up does. */
        log_msg(LOG_LEVEL_WARNING, "Could not reopen the Raft log: %s; "
                "exiting", errmsg);
        exit(1);
    }
    repl_hold_reads_until(sr->repl, served);
}

void server_raft_failure_cron(struct server_raft *sr, int64_t now_ms)
{
    long long every = sr->cfg->raft_log_retry_interval;
    int err = repl_log_error(sr->repl);
    if (err == 0) {
        sr->probe_at = 0;
        return;
    }
    /* After an I/O error the disk's state is unknown (a failed fsync may
     * have dropped pages the cache still shows): that waits for someone
     * to look at the disk and restart the node, as Redis exits when an
     * fsync fails under appendfsync always. */
    if (err != ERR_NOSPACE || every <= 0)
        return;
    if (sr->probe_at == 0 || sr->probe_at > now_ms + every)
        sr->probe_at = now_ms + every;
    if (now_ms < sr->probe_at)
        return;
    sr->probe_at = now_ms + every;
    int rv = wal_probe(sr->wal);
    if (rv == 0)
        mend(sr);
    else if (sr->probe_failures++ == 0)
        log_msg(LOG_LEVEL_WARNING, "Raft log still not writable (%s); "
                "checking every %lld ms", err_str(rv), every);
}

/* ---- what the admin commands borrow (server_admin.c) ------------------ */

int server_raft_parse_member(const char *s, size_t len,
                             struct repl_member *m)
{
    return parse_member(s, len, m);
}

void server_raft_self_member(const struct server_raft *sr,
                             struct repl_member *m)
{
    *m = (struct repl_member){.id = sr->node_id, .port = (int)sr->cfg->port};
    self_host(sr->cfg, m->host, REPL_HOST_LEN);
    m->bus_port = sr->cfg->cluster_port ? (int)sr->cfg->cluster_port
                                        : bus_port_of(sr->cfg, sr->cfg->port);
}

/* Wipes the log of this (fresh) node and restarts the group as member
 * `id` of the group whose members are listed: it waits for the leader. */
int server_raft_reopen(struct server_raft *sr, uint64_t id,
                 const struct repl_member *m, int n, char *errmsg)
{
    close_group(sr);
    DIR *d = opendir(".");
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        if (!strncmp(de->d_name, "log-", 4) || !strncmp(de->d_name, "snap-", 5)
            || !strncmp(de->d_name, "meta", 4))
            unlink(de->d_name);
    if (d != NULL)
        closedir(d);
    struct wal_recovered rec;
    int rv = open_wal(sr, &rec, errmsg);
    if (rv < 0)
        return rv;
    sr->node_id = id;
    struct repl_member self;
    server_raft_self_member(sr, &self);
    if ((rv = open_bus(sr, &self, true, errmsg)) < 0)
        return rv;
    if ((rv = open_repl(sr, &rec, m, n, false, errmsg)) < 0)
        return rv;
    sr->clients->repl = sr->repl;
    log_msg(LOG_LEVEL_NOTICE, "Raft: this node is now node %llu of a group "
            "of %d, waiting for its leader", (unsigned long long)id, n);
    return 0;
}
