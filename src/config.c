/* The option table and everything driven by it: defaults, the config file
 * and command-line parser, CONFIG GET (glob) and CONFIG SET, and the
 * defaults printout behind redis.conf.sample. Names, units ("512mb"),
 * yes/no booleans and error texts are Redis 7's (config.c). Why one table:
 * an option added here is at once readable from the file, settable at
 * run time (unless immutable) and visible to CONFIG GET. Applying a change
 * (timers, limits) is server.c's job through cfg->on_change. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "resp/resp.h"

#include <unistd.h>

enum opt_type { OPT_INT, OPT_MEM, OPT_BOOL, OPT_STRING, OPT_ENUM, OPT_DOUBLE,
                OPT_BIND, OPT_OBUF, OPT_OCTAL };

/* Cannot change at run time (CONFIG SET answers with Redis' message). */
#define OPT_IMMUTABLE 1
/* Redis 7 "protected" configs: refused by CONFIG SET while
 * enable-protected-configs is no, which raftcache does not offer. dir also
 * holds the Raft log, so it cannot move under a running node. */
#define OPT_PROTECTED 2

struct opt {
    const char *name;
    enum opt_type type;
    size_t offset;
    int flags;
    const char *def;
    long long min, max;
    const char *const *names; /* OPT_ENUM values, NULL-terminated */
    const char *doc;
};

static const char *const loglevels[] = {"debug", "verbose", "notice",
                                        "warning", NULL};
static const char *const debug_modes[] = {"no", "yes", "local", NULL};
static const char *const policies[] = {
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", NULL};

static const char *const fsync_modes[] = {"always", "off", NULL};
static const char *const wal_ios[] = {"auto", "uring", "sync", NULL};
static const char *const consistencies[] = {"linearizable", "lease", "stale",
                                            NULL};

#define OFF(field) offsetof(struct config, field)

static const struct opt opts[] = {
    {"port", OPT_INT, OFF(port), 0, "6379", 0, 65535, NULL,
     "TCP port to listen on (0: no TCP listener)."},
    {"bind", OPT_BIND, 0, 0, "127.0.0.1", 0, 0, NULL,
     "Addresses to listen on, space separated (\"* -::*\" for all)."},
    {"unixsocket", OPT_STRING, OFF(unixsocket), OPT_IMMUTABLE, "", 0, 0, NULL,
     "Path of a Unix socket to listen on as well (empty: none)."},
    {"unixsocketperm", OPT_OCTAL, OFF(unixsocketperm), OPT_IMMUTABLE, "0", 0,
     0777, NULL, "Permissions of the Unix socket, octal (0: umask)."},
    {"tcp-backlog", OPT_INT, OFF(tcp_backlog), OPT_IMMUTABLE, "511", 0,
     INT_MAX, NULL, "listen() backlog."},
    {"timeout", OPT_INT, OFF(timeout), 0, "0", 0, INT_MAX, NULL,
     "Close a client idle for this many seconds (0: never)."},
    {"tcp-keepalive", OPT_INT, OFF(tcp_keepalive), 0, "300", 0, INT_MAX, NULL,
     "SO_KEEPALIVE interval in seconds for client sockets (0: off)."},
    {"maxclients", OPT_INT, OFF(maxclients), 0, "10000", 1, 4294967295LL, NULL,
     "Most simultaneous clients; more get \"max number of clients reached\"."},
    {"requirepass", OPT_STRING, OFF(requirepass), 0, "", 0, 0, NULL,
     "Password clients must give with AUTH (empty: no password)."},
    {"hz", OPT_INT, OFF(hz), 0, "10", 0, INT_MAX, NULL,
     "Cron frequency: active expiry, rehashing, idle timeouts."},
    {"loglevel", OPT_ENUM, OFF(loglevel), 0, "notice", 0, 0, loglevels,
     "debug, verbose, notice or warning."},
    {"logfile", OPT_STRING, OFF(logfile), OPT_IMMUTABLE, "", 0, 0, NULL,
     "Log file (empty: standard output)."},
    {"dir", OPT_STRING, OFF(dir), OPT_PROTECTED, "./", 0, 0, NULL,
     "Working directory (the server chdirs into it at start)."},
    {"pidfile", OPT_STRING, OFF(pidfile), OPT_IMMUTABLE, "", 0, 0, NULL,
     "Write the process id here at start, remove it at exit (empty: none)."},
    {"proto-max-bulk-len", OPT_MEM, OFF(proto_max_bulk_len), 0, "512mb",
     1024 * 1024, LLONG_MAX, NULL, "Longest bulk string a client may send."},
    {"client-query-buffer-limit", OPT_MEM, OFF(client_query_buffer_limit), 0,
     "1gb", 1024 * 1024, LLONG_MAX, NULL,
     "Close a client whose unprocessed input grows beyond this."},
    {"client-output-buffer-limit", OPT_OBUF, 0, 0,
     "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60", 0, 0, NULL,
     "<class> <hard> <soft> <soft-seconds>: close clients whose pending "
     "replies pass hard, or stay above soft that long (0: no limit)."},
    {"databases", OPT_INT, OFF(databases), OPT_IMMUTABLE, "1", 1, 1, NULL,
     "Number of databases; raftcache has one (SELECT 0)."},
    {"enable-debug-command", OPT_ENUM, OFF(enable_debug_command),
     OPT_IMMUTABLE, "no", 0, 0, debug_modes,
     "Allow DEBUG: no, yes, or local (loopback/unix clients only)."},
    {"slab-growth-factor", OPT_DOUBLE, OFF(slab_growth_factor),
     OPT_IMMUTABLE, "1.25", 0, 0, NULL,
     "Size ratio between consecutive slab classes (> 1.0)."},
    {"maxmemory", OPT_MEM, OFF(maxmemory), 0, "0", 0, LLONG_MAX, NULL,
     "Memory limit for data (0: none)."},
    {"maxmemory-policy", OPT_ENUM, OFF(maxmemory_policy), 0, "noeviction", 0,
     0, policies, "What to do at maxmemory (Redis policy names)."},
    {"maxmemory-samples", OPT_INT, OFF(maxmemory_samples), 0, "5", 1, 64,
     NULL, "Keys sampled per eviction."},
    {"active-expire-effort", OPT_INT, OFF(active_expire_effort), 0, "1", 1,
     10, NULL, "Effort of the active expire cycle (1-10)."},
    {"latency-tracking", OPT_BOOL, OFF(latency_tracking), 0, "yes", 0, 0,
     NULL, "Record per-command latency for INFO commandstats."},
    {"save", OPT_STRING, OFF(save), 0, "", 0, 0, NULL,
     "Accepted for compatibility; raftcache does not write RDB files."},
    {"appendonly", OPT_BOOL, OFF(appendonly), 0, "no", 0, 0, NULL,
     "Accepted for compatibility; must stay no (durability is Raft's)."},
    {"daemonize", OPT_BOOL, OFF(daemonize), OPT_IMMUTABLE, "no", 0, 0, NULL,
     "Accepted for compatibility; raftcache runs in the foreground."},
    /* ---- replication: the Raft group and its cluster bus ---- */
    {"cluster-enabled", OPT_BOOL, OFF(cluster_enabled), OPT_IMMUTABLE, "yes",
     0, 0, NULL, "yes: the node is a Raft group (durable WAL in dir, "
     "cluster bus, CLUSTER commands); no: a standalone in-memory cache, "
     "no Raft, nothing written to dir (like redis-server --save \"\" "
     "--appendonly no)."},
    {"cluster-port", OPT_INT, OFF(cluster_port), OPT_IMMUTABLE, "0", 0,
     65535, NULL, "Cluster bus port for Raft traffic (0: port + 10000)."},
    {"cluster-secret", OPT_STRING, OFF(cluster_secret), OPT_IMMUTABLE, "", 0,
     0, NULL, "Shared secret peers prove they know (HMAC challenge); "
     "use the same on every node."},
    {"cluster-peers", OPT_STRING, OFF(cluster_peers), OPT_IMMUTABLE, "", 0, 0,
     NULL, "Static group: host:port[@busport],... of the OTHER members' "
     "client ports; nodes started with the same full set form one group."},
    {"raft-election-timeout", OPT_INT, OFF(raft_election_timeout),
     OPT_IMMUTABLE, "1000", 10, 600000, NULL,
     "Raft election timeout in ms (each wait is drawn in [T, 2T))."},
    {"raft-heartbeat-interval", OPT_INT, OFF(raft_heartbeat_interval),
     OPT_IMMUTABLE, "100", 1, 60000, NULL, "Raft heartbeat period in ms."},
    {"raft-write-timeout", OPT_INT, OFF(raft_write_timeout), 0, "0", 0,
     3600000, NULL, "A parked write or read older than this many ms gets "
     "-CLUSTERDOWN (0: 2 x raft-election-timeout). Its outcome is then "
     "unknown: the write may still commit."},
    {"raft-log-retry-interval", OPT_INT, OFF(raft_log_retry_interval), 0,
     "1000", 0, 3600000, NULL, "A node whose Raft log write failed on a "
     "full disk checks this often (ms) whether the disk takes writes "
     "again, and then reloads from its log and rejoins (0: it waits for a "
     "restart, as after an I/O error)."},
    {"raft-snapshot-entries", OPT_INT, OFF(raft_snapshot_entries),
     OPT_IMMUTABLE, "200000", 0, LLONG_MAX, NULL,
     "Snapshot (fork) once this many entries follow the last one (0: never)."},
    {"raft-snapshot-min-log-size", OPT_MEM, OFF(raft_snapshot_min_log_size),
     OPT_IMMUTABLE, "64mb", 0, LLONG_MAX, NULL,
     "A snapshot also waits until the log since the last one holds this "
     "many bytes (as auto-aof-rewrite-min-size; 0: no minimum)."},
    {"raft-snapshot-log-percentage", OPT_INT,
     OFF(raft_snapshot_log_percentage), OPT_IMMUTABLE, "100", 0, 100000,
     NULL, "A snapshot also waits until the log since the last one holds "
     "this percentage of that snapshot's size (as auto-aof-rewrite-percentage; "
     "0: no growth rule)."},
    {"raft-pipeline-batches", OPT_INT, OFF(raft_pipeline_batches),
     OPT_IMMUTABLE, "1", 0, 16, NULL,
     "A leader proposes the next batch of writes only while fewer than this "
     "many are uncommitted, collecting meanwhile (0: every loop iteration)."},
    {"raft-fsync", OPT_ENUM, OFF(raft_fsync), OPT_IMMUTABLE, "always", 0, 0,
     fsync_modes, "always: a write is acknowledged once a majority fsynced "
     "it; off: once written (a power cut of a majority may lose it)."},
    {"wal-io", OPT_ENUM, OFF(wal_io), OPT_IMMUTABLE, "auto", 0, 0, wal_ios,
     "WAL backend: auto (write and fdatasync in the event loop at the "
     "end of each iteration, as appendfsync always), uring or sync."},
    {"wal-sync-thread", OPT_BOOL, OFF(wal_sync_thread), OPT_IMMUTABLE, "yes",
     0, 0, NULL, "With the sync backend, write and fsync on a worker thread "
     "(no: in the event loop, which then waits for the disk)."},
    {"wal-segment-size", OPT_MEM, OFF(wal_segment_size), OPT_IMMUTABLE,
     "64mb", 4096, LLONG_MAX, NULL, "Size of a Raft log segment file."},
    {"wal-repair", OPT_BOOL, OFF(wal_repair), OPT_IMMUTABLE, "no", 0, 0, NULL,
     "A torn tail of the last segment is always cut; yes: damage elsewhere "
     "cuts the log there instead of refusing to start (the node gets the "
     "lost entries again from the leader)."},
    {"read-consistency", OPT_ENUM, OFF(read_consistency), 0, "linearizable",
     0, 0, consistencies, "linearizable (ReadIndex), lease (leader lease) "
     "or stale (any node after READONLY); per connection: CLIENT "
     "CONSISTENCY."},
    {"follower-proxy", OPT_BOOL, OFF(follower_proxy), 0, "no", 0, 0, NULL,
     "yes: a follower forwards writes and reads it would redirect to the "
     "leader and answers them itself, in request order; no: -MOVED."},
    {"follower-reads", OPT_BOOL, OFF(follower_reads), 0, "no", 0, 0, NULL,
     "yes: a follower serves linearizable reads itself at a read index "
     "from the leader (-CLUSTERDOWN when it cannot reach it); no: it "
     "redirects them (or forwards them with follower-proxy yes); after "
     "READONLY it serves them stale."},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const struct opt *find_opt(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcasecmp(opts[i].name, name) == 0)
            return &opts[i];
    /* Redis 7 aliases. */
    if (strcasecmp(name, "slave-output-buffer-limit") == 0)
        return find_opt("client-output-buffer-limit");
    return NULL;
}

static void *field(struct config *cfg, const struct opt *o)
{
    return (char *)cfg + o->offset;
}

static const void *cfield(const struct config *cfg, const struct opt *o)
{
    return (const char *)cfg + o->offset;
}

int config_parse_memory(const char *s, long long *out)
{
    static const struct { const char *u; long long mul; } units[] = {
        {"kb", 1024LL}, {"mb", 1024LL * 1024}, {"gb", 1024LL * 1024 * 1024},
        {"k", 1000LL}, {"m", 1000LL * 1000}, {"g", 1000LL * 1000 * 1000},
        {"b", 1}, {"", 1}};
    size_t len = strlen(s);
    size_t digits = 0;
    /* Redis memtoull refuses a sign. */
    while (digits < len && isdigit((unsigned char)s[digits]))
        digits++;
    const char *u = s + digits;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(u, units[i].u) != 0)
            continue;
        long long v;
        if (!resp_string_to_ll(s, digits, &v))
            return ERR_INVALID;
        if (v != 0 && (v > LLONG_MAX / units[i].mul ||
                       v < LLONG_MIN / units[i].mul))
            return ERR_INVALID;
        *out = v * units[i].mul;
        return 0;
    }
    return ERR_INVALID;
}

static int set_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return ERR_INVALID;
}

static int parse_number(const struct opt *o, const char *v, long long *out,
                        char *err, size_t errlen)
{
    long long n;
    int ok;
    if (o->type == OPT_MEM) {
        ok = config_parse_memory(v, &n) == 0;
    } else if (o->type == OPT_OCTAL) {
        char *end;
        errno = 0;
        n = strtoll(v, &end, 8);
        ok = *v && *end == 0 && errno == 0;
    } else {
        ok = resp_string_to_ll(v, strlen(v), &n);
    }
    if (!ok && o->type == OPT_MEM)
        return set_errf(err, errlen, "argument must be a memory value");
    if (!ok)
        return set_errf(err, errlen, "argument couldn't be parsed into an integer");
    if (n < o->min || n > o->max)
        return set_errf(err, errlen, "argument must be between %lld and %lld inclusive",
                        o->min, o->max);
    *out = n;
    return 0;
}

/* client-output-buffer-limit takes groups of four words, as Redis. */
static int set_obuf(struct config *cfg, int argc, const char **argv,
                    char *err, size_t errlen)
{
    struct config_obuf_limit tmp[CONFIG_OBUF_COUNT];
    memcpy(tmp, cfg->obuf, sizeof(tmp));
    if (argc == 0 || argc % 4 != 0)
        return set_errf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
    for (int i = 0; i < argc; i += 4) {
        int cls;
        if (strcasecmp(argv[i], "normal") == 0)
            cls = CONFIG_OBUF_NORMAL;
        else if (strcasecmp(argv[i], "replica") == 0 ||
                 strcasecmp(argv[i], "slave") == 0)
            cls = CONFIG_OBUF_REPLICA;
        else if (strcasecmp(argv[i], "pubsub") == 0)
            cls = CONFIG_OBUF_PUBSUB;
        else
            return set_errf(err, errlen, "Invalid client class specified in buffer limit configuration.");
        long long hard, soft, secs;
        if (config_parse_memory(argv[i + 1], &hard) < 0 || hard < 0 ||
            config_parse_memory(argv[i + 2], &soft) < 0 || soft < 0 ||
            !resp_string_to_ll(argv[i + 3], strlen(argv[i + 3]), &secs) ||
            secs < 0)
            return set_errf(err, errlen, "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
        tmp[cls].hard_bytes = hard;
        tmp[cls].soft_bytes = soft;
        tmp[cls].soft_seconds = secs;
    }
    memcpy(cfg->obuf, tmp, sizeof(tmp));
    return 0;
}

static int set_bind(struct config *cfg, int argc, const char **argv,
                    char *err, size_t errlen)
{
    if (argc > CONFIG_MAX_BIND)
        return set_errf(err, errlen, "Too many bind addresses specified.");
    for (int i = 0; i < cfg->nbind; i++)
        free(cfg->bind[i]);
    cfg->nbind = 0;
    for (int i = 0; i < argc; i++)
        cfg->bind[cfg->nbind++] = strdup(argv[i]);
    return 0;
}

static int set_enum(const struct opt *o, int *dst, const char *v, char *err,
                    size_t errlen)
{
    for (int i = 0; o->names[i]; i++) {
        if (strcasecmp(o->names[i], v) == 0) {
            *dst = i;
            return 0;
        }
    }
    return set_errf(err, errlen, "argument(s) must be one of the following: %s",
                    o->names == loglevels ? "debug, verbose, notice, warning"
                    : o->names == debug_modes ? "no, yes, local"
                    : "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
}

static int set_scalar(struct config *cfg, const struct opt *o,
                      const char *v, char *err, size_t errlen)
{
    long long n = 0;
    switch (o->type) {
    case OPT_INT:
    case OPT_MEM:
    case OPT_OCTAL:
        if (parse_number(o, v, &n, err, errlen) < 0)
            return ERR_INVALID;
        /* Redis clamps hz to 1..500 instead of refusing it. */
        if (o->offset == OFF(hz))
            n = n < 1 ? 1 : n > 500 ? 500 : n;
        *(long long *)field(cfg, o) = n;
        return 0;
    case OPT_BOOL:
        if (strcasecmp(v, "yes") && strcasecmp(v, "no"))
            return set_errf(err, errlen, "argument must be 'yes' or 'no'");
        if (strcmp(o->name, "appendonly") == 0 && !strcasecmp(v, "yes"))
            return set_errf(err, errlen, "appendonly is not supported; durability comes from the Raft log");
        *(int *)field(cfg, o) = strcasecmp(v, "yes") == 0;
        return 0;
    case OPT_STRING: {
        char **dst = field(cfg, o);
        free(*dst);
        *dst = strdup(v);
        return 0;
    }
    case OPT_ENUM:
        return set_enum(o, field(cfg, o), v, err, errlen);
    case OPT_DOUBLE: {
        char *end;
        double d = strtod(v, &end);
        if (*v == 0 || *end != 0 || !(d > 1.0) || d > 100.0)
            return set_errf(err, errlen, "argument must be a number above 1.0");
        *(double *)field(cfg, o) = d;
        return 0;
    }
    default:
        return ERR_INVALID;
    }
}

int config_set(struct config *cfg, const char *name, int argc,
               const char **argv, int runtime, char *err, size_t errlen)
{
    const struct opt *o = find_opt(name);
    if (o == NULL)
        return ERR_NOTFOUND;
    if (runtime && (o->flags & OPT_IMMUTABLE))
        return ERR_BUSY;
    if (runtime && (o->flags & OPT_PROTECTED))
        return ERR_LIMIT;
    if (o->type == OPT_BIND)
        return set_bind(cfg, argc, argv, err, errlen);
    if (o->type == OPT_OBUF)
        return set_obuf(cfg, argc, argv, err, errlen);
    /* Redis accepts `save ""` and `save 900 1 300 10`: join the words. */
    if (o->type == OPT_STRING && strcmp(o->name, "save") == 0 && argc > 1) {
        char buf[512] = "";
        for (int i = 0; i < argc; i++) {
            if (i)
                strncat(buf, " ", sizeof(buf) - strlen(buf) - 1);
            strncat(buf, argv[i], sizeof(buf) - strlen(buf) - 1);
        }
        return set_scalar(cfg, o, buf, err, errlen);
    }
    if (argc != 1)
        return set_errf(err, errlen, "wrong number of arguments");
    return set_scalar(cfg, o, argv[0], err, errlen);
}

void config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    char err[ERRMSG_LEN];
    for (size_t i = 0; i < NOPTS; i++) {
        char buf[256];
        struct resp_arg words[16];
        snprintf(buf, sizeof(buf), "%s", opts[i].def);
        int n = resp_split_args(buf, strlen(buf), words, 16);
        const char *argv[16];
        for (int j = 0; j < n; j++) {
            ((char *)words[j].ptr)[words[j].len] = '\0';
            argv[j] = words[j].ptr;
        }
        if (n == 0) {
            argv[0] = "";
            n = 1;
        }
        config_set(cfg, opts[i].name, n, argv, 0, err, sizeof(err));
    }
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].type == OPT_STRING)
            free(*(char **)field(cfg, &opts[i]));
    for (int i = 0; i < cfg->nbind; i++)
        free(cfg->bind[i]);
    cfg->nbind = 0;
}

/* Applies one line; returns 0 or ERR_INVALID with the reason in err. */
static int load_line(struct config *cfg, char *line, char *err,
                     size_t errlen)
{
    struct resp_arg words[64];
    /* Comments are skipped before splitting, as Redis does. */
    while (*line == ' ' || *line == '\t' || *line == '\r')
        line++;
    if (*line == '#' || *line == '\0')
        return 0;
    int n = resp_split_args(line, strlen(line), words, 64);
    if (n < 0)
        return set_errf(err, errlen, "Unbalanced quotes in configuration line");
    if (n == 0 || words[0].ptr[0] == '#')
        return 0;
    const char *argv[64];
    for (int i = 0; i < n; i++) {
        ((char *)words[i].ptr)[words[i].len] = '\0';
        argv[i] = words[i].ptr;
    }
    if (n == 1 && find_opt(argv[0]) && find_opt(argv[0])->type == OPT_STRING) {
        argv[1] = "";
        n = 2;
    }
    int rv = config_set(cfg, argv[0], n - 1, argv + 1, 0, err, errlen);
    if (rv == ERR_NOTFOUND)
        return set_errf(err, errlen, "Bad directive or wrong number of arguments");
    return rv;
}

int config_load_text(struct config *cfg, const char *text, int first_line,
                     char *err, size_t errlen)
{
    int lineno = first_line;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len);
        char reason[ERRMSG_LEN];
        int rv = load_line(cfg, line, reason, sizeof(reason));
        if (rv < 0) {
            snprintf(err, errlen, "line %d: '%.*s': %s", lineno, (int)len, p,
                     reason);
            free(line);
            return ERR_INVALID;
        }
        free(line);
        lineno++;
        p += len + (nl ? 1 : 0);
    }
    return 0;
}

int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return set_errf(err, errlen, "can't open config file '%s': %s", path,
                        strerror(errno));
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    size_t n;
    while (text && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            char *t = realloc(text, cap);
            if (t == NULL) {
                free(text);
                text = NULL;
            }
            text = t;
        }
    }
    fclose(f);
    if (text == NULL)
        return set_errf(err, errlen, "out of memory reading '%s'", path);
    text[len] = '\0';
    int rv = config_load_text(cfg, text, 1, err, errlen);
    free(text);
    return rv;
}

/* Appends s to the growing buffer, quoting it if it has spaces or is
 * empty so that the line splits back into the same words. */
static void append_word(char **buf, size_t *len, size_t *cap, const char *s,
                        int quote)
{
    size_t need = strlen(s) * 4 + 4;
    if (*len + need + 2 > *cap) {
        *cap = (*len + need + 2) * 2;
        *buf = realloc(*buf, *cap);
    }
    if (!quote) {
        *len += (size_t)sprintf(*buf + *len, "%s", s);
        return;
    }
    (*buf)[(*len)++] = '"';
    for (const char *c = s; *c; c++) {
        if (*c == '"' || *c == '\\')
            (*buf)[(*len)++] = '\\';
        (*buf)[(*len)++] = *c;
    }
    (*buf)[(*len)++] = '"';
    (*buf)[*len] = '\0';
}

char *config_args_to_text(int argc, char **argv, char *err, size_t errlen)
{
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    buf[0] = '\0';
    for (int i = 0; i < argc; i++) {
        int is_opt = argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2];
        if (i == 0 && !is_opt) {
            snprintf(err, errlen, "unexpected argument '%s' (options are --name value)", argv[i]);
            free(buf);
            return NULL;
        }
        if (is_opt) {
            if (len)
                append_word(&buf, &len, &cap, "\n", 0);
            append_word(&buf, &len, &cap, argv[i] + 2, 0);
        } else {
            append_word(&buf, &len, &cap, " ", 0);
            append_word(&buf, &len, &cap, argv[i], 1);
        }
    }
    append_word(&buf, &len, &cap, "\n", 0);
    return buf;
}

/* Formats the current value of o as CONFIG GET shows it. */
static void format_value(const struct config *cfg, const struct opt *o,
                         char *buf, size_t len)
{
    switch (o->type) {
    case OPT_INT:
    case OPT_MEM:
        snprintf(buf, len, "%lld", *(const long long *)cfield(cfg, o));
        break;
    case OPT_OCTAL:
        snprintf(buf, len, "%llo", *(const long long *)cfield(cfg, o));
        break;
    case OPT_BOOL:
        snprintf(buf, len, "%s", *(const int *)cfield(cfg, o) ? "yes" : "no");
        break;
    case OPT_STRING: {
        const char *s = *(char *const *)cfield(cfg, o);
        /* As Redis: the server runs inside dir, so report where it is. */
        if (o->offset == OFF(dir) && getcwd(buf, len) != NULL)
            break;
        snprintf(buf, len, "%s", s ? s : "");
        break;
    }
    case OPT_ENUM:
        snprintf(buf, len, "%s", o->names[*(const int *)cfield(cfg, o)]);
        break;
    case OPT_DOUBLE:
        snprintf(buf, len, "%g", *(const double *)cfield(cfg, o));
        break;
    case OPT_BIND:
        buf[0] = '\0';
        for (int i = 0; i < cfg->nbind; i++)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
                     i ? " " : "", cfg->bind[i]);
        break;
    case OPT_OBUF: {
        static const char *cls[] = {"normal", "slave", "pubsub"};
        buf[0] = '\0';
        for (int i = 0; i < CONFIG_OBUF_COUNT; i++)
            snprintf(buf + strlen(buf), len - strlen(buf),
                     "%s%s %lld %lld %lld", i ? " " : "", cls[i],
                     cfg->obuf[i].hard_bytes, cfg->obuf[i].soft_bytes,
                     cfg->obuf[i].soft_seconds);
        break;
    }
    }
}

/* Whether a pattern of len bytes (not NUL-terminated: it is a slice of
 * the query buffer) holds a glob character. */
static int has_glob(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] == '*' || p[i] == '?' || p[i] == '[')
            return 1;
    return 0;
}

void config_get_matching(const struct config *cfg, const char *pattern,
                         size_t patlen,
                         void (*cb)(const char *name, const char *value,
                                    void *data),
                         void *data)
{
    char value[1024];
    /* A plain name (no glob characters) is echoed as the client spelt it,
     * as Redis 7 does ("CONFIG GET TIMEOUT" answers "TIMEOUT"). */
    if (!has_glob(pattern, patlen)) {
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)patlen, pattern);
        const struct opt *o = find_opt(name);
        if (o != NULL) {
            format_value(cfg, o, value, sizeof(value));
            cb(o->name == name ? o->name : name, value, data);
        }
        return;
    }
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        if (!config_glob_match(pattern, patlen, o->name, strlen(o->name), 1))
            continue;
        format_value(cfg, o, value, sizeof(value));
        cb(o->name, value, data);
    }
}

void config_print_defaults(FILE *out)
{
    for (size_t i = 0; i < NOPTS; i++) {
        fprintf(out, "# %s%s\n", opts[i].doc,
                (opts[i].flags & OPT_IMMUTABLE) ? " (set at start only)" : "");
        if (opts[i].def[0] && strchr(opts[i].def, ' ') == NULL)
            fprintf(out, "%s %s\n\n", opts[i].name, opts[i].def);
        else if (opts[i].type == OPT_BIND || opts[i].type == OPT_OBUF)
            fprintf(out, "%s %s\n\n", opts[i].name, opts[i].def);
        else
            fprintf(out, "%s \"%s\"\n\n", opts[i].name, opts[i].def);
    }
}

/* Redis util.c stringmatchlen, without the nested-recursion limit. */
int config_glob_match(const char *pat, size_t patlen, const char *str,
                      size_t slen, int nocase)
{
    while (patlen && slen) {
        switch (pat[0]) {
        case '*':
            while (patlen > 1 && pat[1] == '*') {
                pat++;
                patlen--;
            }
            if (patlen == 1)
                return 1;
            while (slen) {
                if (config_glob_match(pat + 1, patlen - 1, str, slen, nocase))
                    return 1;
                str++;
                slen--;
            }
            return 0;
        case '?':
            str++;
            slen--;
            break;
        case '[': {
            pat++;
            patlen--;
            int not = patlen && pat[0] == '^';
            if (not) {
                pat++;
                patlen--;
            }
            int match = 0;
            while (patlen) {
                if (pat[0] == '\\' && patlen >= 2) {
                    pat++;
                    patlen--;
                    if (pat[0] == str[0])
                        match = 1;
                } else if (pat[0] == ']') {
                    break;
                } else if (patlen >= 3 && pat[1] == '-') {
                    int start = (unsigned char)pat[0], end = (unsigned char)pat[2];
                    int c = (unsigned char)str[0];
                    if (start > end) {
                        int t = start;
                        start = end;
                        end = t;
                    }
                    if (nocase) {
                        start = tolower(start);
                        end = tolower(end);
                        c = tolower(c);
                    }
                    pat += 2;
                    patlen -= 2;
                    if (c >= start && c <= end)
                        match = 1;
                } else if (nocase ? tolower((unsigned char)pat[0]) ==
                                        tolower((unsigned char)str[0])
                                  : pat[0] == str[0]) {
                    match = 1;
                }
                pat++;
                patlen--;
            }
            if (patlen == 0) {
                pat--;
                patlen++;
            }
            if (not)
                match = !match;
            if (!match)
                return 0;
            str++;
            slen--;
            break;
        }
        case '\\':
            if (patlen >= 2) {
                pat++;
                patlen--;
            }
            /* fall through */
        default:
            if (nocase ? tolower((unsigned char)pat[0]) !=
                             tolower((unsigned char)str[0])
                       : pat[0] != str[0])
                return 0;
            str++;
            slen--;
            break;
        }
        pat++;
        patlen--;
        if (slen == 0) {
            while (patlen && *pat == '*') {
                pat++;
                patlen--;
            }
            break;
        }
    }
    return patlen == 0 && slen == 0;
}

/* ---- CONFIG REWRITE (Redis config.c rewriteConfig) ---------------------- */

/* The option a config file line sets, or NULL for comments, blank lines
 * and directives that are not options (kept verbatim, as Redis keeps
 * lines it does not rewrite). */
static const struct opt *line_opt(const char *line, size_t len)
{
    char name[64];
    while (len && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    size_t n = 0;
    while (n < len && n + 1 < sizeof(name) && line[n] != ' ' &&
           line[n] != '\t' && line[n] != '\r')
        n++;
    if (n == 0 || line[0] == '#')
        return NULL;
    memcpy(name, line, n);
    name[n] = '\0';
    return find_opt(name);
}

/* Redis rewriteConfigFormatMemory: the largest unit that divides it. */
static void format_memory(long long v, char *buf, size_t len)
{
    static const struct { const char *unit; long long size; } units[] = {
        {"gb", 1LL << 30}, {"mb", 1LL << 20}, {"kb", 1LL << 10}};
    for (size_t i = 0; v != 0 && i < 3; i++) {
        if (v % units[i].size == 0) {
            snprintf(buf, len, "%lld%s", v / units[i].size, units[i].unit);
            return;
        }
    }
    snprintf(buf, len, "%lld", v);
}

/* Appends "name value\n" with the current value, one line per client
 * class for client-output-buffer-limit as Redis writes it; strings are
 * quoted so that spaces and empty values read back the same. */
static void rewrite_option_line(const struct config *cfg, const struct opt *o,
                                char **buf, size_t *len, size_t *cap)
{
    char value[1024];
    if (o->type == OPT_OBUF) {
        static const char *cls[] = {"normal", "replica", "pubsub"};
        for (int i = 0; i < CONFIG_OBUF_COUNT; i++) {
            snprintf(value, sizeof(value), "%s %s %lld %lld %lld\n", o->name,
                     cls[i], cfg->obuf[i].hard_bytes, cfg->obuf[i].soft_bytes,
                     cfg->obuf[i].soft_seconds);
            append_word(buf, len, cap, value, 0);
        }
        return;
    }
    format_value(cfg, o, value, sizeof(value));
    if (o->type == OPT_MEM)
        format_memory(*(const long long *)cfield(cfg, o), value,
                      sizeof(value));
    append_word(buf, len, cap, o->name, 0);
    append_word(buf, len, cap, " ", 0);
    /* Redis writes string options quoted (sdscatrepr); save stays bare
     * unless empty. */
    int quote = o->type == OPT_STRING &&
                (value[0] == '\0' || strcmp(o->name, "save") != 0);
    append_word(buf, len, cap, value, quote);
    append_word(buf, len, cap, "\n", 0);
}

/* Whether o's current value differs from its default (compared as
 * CONFIG GET shows both). */
static int differs_from_default(const struct config *cfg,
                                const struct config *def, const struct opt *o)
{
    char a[1024], b[1024];
    format_value(cfg, o, a, sizeof(a));
    format_value(def, o, b, sizeof(b));
    return strcmp(a, b) != 0;
}

/* Builds the new file text from the old one: an option's first line takes
 * its current value, its later lines go, comments and other lines stay;
 * options not in the file are appended after Redis' "# Generated by
 * CONFIG REWRITE" line when they differ from their default. Owned. */
static char *rewrite_text(const struct config *cfg, const char *old)
{
    unsigned char done[NOPTS] = {0};
    struct config def;
    config_init(&def);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    buf[0] = '\0';
    for (const char *p = old; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const struct opt *o = line_opt(p, n);
        if (o == NULL) {
            char *line = strndup(p, n);
            append_word(&buf, &len, &cap, line, 0);
            append_word(&buf, &len, &cap, "\n", 0);
            free(line);
        } else if (!done[o - opts]) {
            done[o - opts] = 1;
            rewrite_option_line(cfg, o, &buf, &len, &cap);
        } else {
            /* Redis rewriteConfigRemoveOrphaned: repeats become blank. */
            append_word(&buf, &len, &cap, "\n", 0);
        }
        p += n + (nl ? 1 : 0);
    }
    int header = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        /* Redis rewriteConfigDirOption always writes dir (the server
         * runs inside it, and its default is "wherever it was started"). */
        if (done[i] || (opts[i].offset != OFF(dir) &&
                        !differs_from_default(cfg, &def, &opts[i])))
            continue;
        if (!header++)
            append_word(&buf, &len, &cap,
                        "# Generated by CONFIG REWRITE\n", 0);
        rewrite_option_line(cfg, &opts[i], &buf, &len, &cap);
    }
    config_free(&def);
    return buf;
}

/* Reads the whole of path. Owned string, or NULL with errno set. */
static char *read_whole(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0, n;
    char *text = malloc(cap);
    while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2)
            text = realloc(text, cap *= 2);
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

int config_rewrite(const struct config *cfg, const char *path, char *err,
                   size_t errlen)
{
    char *old = read_whole(path);
    if (old == NULL && errno != ENOENT)
        return set_errf(err, errlen, "%s", strerror(errno));
    char *text = rewrite_text(cfg, old ? old : "");
    free(old);
    /* As Redis 7: write a temporary file beside it, fsync, rename over. */
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int rv = 0;
    if (f == NULL) {
        rv = set_errf(err, errlen, "%s", strerror(errno));
        goto out_free_text;
    }
    size_t len = strlen(text);
    if (fwrite(text, 1, len, f) != len || fflush(f) != 0 ||
        fsync(fileno(f)) != 0)
        rv = set_errf(err, errlen, "%s", strerror(errno));
    if (fclose(f) != 0 && rv == 0)
        rv = set_errf(err, errlen, "%s", strerror(errno));
    if (rv == 0 && rename(tmp, path) != 0)
        rv = set_errf(err, errlen, "%s", strerror(errno));
    if (rv < 0)
        unlink(tmp);
out_free_text:
    free(text);
    return rv;
}
