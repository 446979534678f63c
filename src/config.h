/* Server configuration: one table of options named as Redis names them, read
 * from a config file and from `--option value` arguments, and served to
 * CONFIG GET/SET. Why a table: parsing, defaults, CONFIG GET globbing,
 * CONFIG SET validation and redis.conf.sample all come from one list, so
 * they cannot drift apart. Knows nothing of sockets; server.c applies
 * changes (hz, maxclients ...) through the change callback. */
#ifndef RAFTCACHE_CONFIG_H
#define RAFTCACHE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_BIND 16

enum config_obuf_class { CONFIG_OBUF_NORMAL, CONFIG_OBUF_REPLICA,
                         CONFIG_OBUF_PUBSUB, CONFIG_OBUF_COUNT };

struct config_obuf_limit {
    long long hard_bytes;
    long long soft_bytes;
    long long soft_seconds;
};

enum config_loglevel { LOG_DEBUG, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING };
enum config_debug { DEBUG_CMD_NO, DEBUG_CMD_YES, DEBUG_CMD_LOCAL };
enum config_read_consistency { READ_LINEARIZABLE, READ_LEASE, READ_STALE };

struct config {
    long long port;
    char *bind[CONFIG_MAX_BIND];
    int nbind;
    char *unixsocket;
    long long unixsocketperm;
    long long tcp_backlog;
    long long timeout;
    long long tcp_keepalive;
    long long maxclients;
    char *requirepass;
    long long hz;
    int loglevel;
    char *logfile;
    char *dir;
    char *pidfile;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    struct config_obuf_limit obuf[CONFIG_OBUF_COUNT];
    long long databases;
    int enable_debug_command;
    double slab_growth_factor;
    long long maxmemory;
    int maxmemory_policy;
    long long maxmemory_samples;
    char *save;
    int appendonly;
    int daemonize;
    long long active_expire_effort;
    int latency_tracking;
    /* Replication (Raft group, cluster bus): see the raft options block of
     * config.c. */
    int cluster_enabled;      /* no: standalone, no Raft group */
    long long cluster_port;
    char *cluster_secret;
    char *cluster_peers;
    long long raft_election_timeout;
    long long raft_heartbeat_interval;
    long long raft_write_timeout;
    long long raft_log_retry_interval;
    long long raft_snapshot_entries;
    long long raft_snapshot_min_log_size;
    long long raft_snapshot_log_percentage;
    long long raft_pipeline_batches;
    int raft_fsync;
    int wal_io;
    int wal_sync_thread;
    long long wal_segment_size;
    int wal_repair;
    int read_consistency;
    int follower_proxy;
    int follower_reads;
    /* Called after CONFIG SET changed an option (name as in the table). */
    void (*on_change)(const char *name, void *data);
    void *on_change_data;
};

/* Fills cfg with every default. Strings are owned by cfg. */
void config_init(struct config *cfg);
void config_free(struct config *cfg);

/* Parses a whole config text (file contents, then the command line turned
 * into lines). On error writes "line N: 'text': reason" into err and
 * returns ERR_INVALID. `first_line` numbers the first line of text. */
int config_load_text(struct config *cfg, const char *text, int first_line,
                     char *err, size_t errlen);

/* Reads and applies a config file; errors as config_load_text. */
int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errlen);

/* Turns argv (after the optional config file) into config lines:
 * "--port 7000 --bind a b" becomes "port 7000\nbind a b\n". Returns an
 * owned string, or NULL with err filled for a stray argument. */
char *config_args_to_text(int argc, char **argv, char *err, size_t errlen);

/* Sets one option from its argument words, as CONFIG SET and the file do.
 * runtime: refuse options that cannot change while running. Returns 0, or
 * ERR_NOTFOUND (unknown name), ERR_BUSY (immutable at runtime), or
 * ERR_INVALID with the reason in err. */
int config_set(struct config *cfg, const char *name, int argc,
               const char **argv, int runtime, char *err, size_t errlen);

/* Calls cb(name, value) for every option whose name matches the glob
 * pattern (Redis stringmatch, case-insensitive). value is a temporary. */
void config_get_matching(const struct config *cfg, const char *pattern,
                         size_t patlen,
                         void (*cb)(const char *name, const char *value,
                                    void *data),
                         void *data);

/* CONFIG REWRITE: rewrites the config file at path with the current
 * values, keeping comments and other lines as Redis does. Returns 0, or
 * ERR_INVALID with strerror's text in err. */
int config_rewrite(const struct config *cfg, const char *path, char *err,
                   size_t errlen);
/* Writes redis.conf.sample-style text of every option and its default. */
void config_print_defaults(FILE *out);

/* Redis memtoull: "512mb" -> 536870912, "1k" -> 1000. Returns 0 or
 * ERR_INVALID. */
int config_parse_memory(const char *s, long long *out);

/* Redis stringmatchlen (glob with * ? [] and \ escapes). */
int config_glob_match(const char *pat, size_t patlen, const char *str,
                      size_t strlen, int nocase);

#endif
