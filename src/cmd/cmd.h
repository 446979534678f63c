/* Commands: the table (name, arity, flags, key positions, docs), the
 * check that runs before a command (unknown, arity, auth, OOM) and the
 * executor. Check and execute are separate so that the dispatcher can
 * check a write on the leader, send its bytes through Raft, and execute it
 * on apply with the very same code. A command never touches a socket: it
 * takes argv and `now` and writes its reply to a resp_out. What it needs
 * from other rooms (client list, kill, shutdown) comes through hooks that
 * server.c wires, so cmd never calls client. */
#ifndef RAFTCACHE_CMD_H
#define RAFTCACHE_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"
#include "resp/resp.h"
#include "store/store.h"

struct config;
struct store;
struct cmd_ctx;

/* Command flags (Redis 7 names in COMMAND output). */
#define CMD_WRITE (1u << 0)
#define CMD_READONLY (1u << 1)
#define CMD_DENYOOM (1u << 2)
#define CMD_ADMIN (1u << 3)
#define CMD_FAST (1u << 4)
#define CMD_NO_AUTH (1u << 5)
#define CMD_LOADING (1u << 6)
#define CMD_STALE (1u << 7)
#define CMD_NOSCRIPT (1u << 8)
#define CMD_SENTINEL (1u << 9)
#define CMD_CONTAINER (1u << 10) /* has subcommands (CLIENT, CONFIG ...) */
#define CMD_KEYSPACE (1u << 11)  /* ACL category @keyspace */
#define CMD_DANGEROUS (1u << 12) /* ACL category @dangerous */
#define CMD_ALLOW_BUSY (1u << 13)
#define CMD_MAY_REPLICATE (1u << 14)
#define CMD_NO_MULTI (1u << 15)  /* refused inside MULTI (SAVE, SHUTDOWN) */

typedef void (*cmd_proc)(struct cmd_ctx *c);

struct cmd_stats {
    uint64_t calls;
    uint64_t usec;
    uint64_t rejected_calls;
    uint64_t failed_calls;
    struct metrics_hist latency;
};

struct cmd_def {
    const char *name;        /* lowercase; "client|setname" for subs */
    cmd_proc proc;
    int arity;               /* Redis: n exact, -n at least n */
    unsigned flags;
    int first_key, last_key, key_step;
    const char *group;       /* COMMAND DOCS group: string generic ... */
    const char *since;
    const char *complexity;
    const char *summary;
    const char *args;        /* usage after the name, for docs and hints */
    /* filled by cmd_table_init */
    const struct cmd_def *parent;
    const struct cmd_def **subs;
    int nsubs;
    int index;
};

/* CLIENT REPLY modes. */
enum cmd_reply_mode { CMD_REPLY_ON, CMD_REPLY_OFF, CMD_REPLY_SKIP_NEXT,
                      CMD_REPLY_SKIP };

/* Per-connection state that commands read and change (HELLO, AUTH,
 * CLIENT SETNAME/REPLY, RESET). Owned by the connection, lent to cmd. */
struct cmd_session {
    uint64_t id;
    int resp;
    int authenticated;
    int reply_mode;
    int no_evict;
    int close_after_reply;
    int is_local;            /* loopback or unix socket peer */
    char *name;              /* CLIENT SETNAME, owned; NULL: none */
    char *lib_name;
    char *lib_ver;
    const struct cmd_def *last_cmd;
};

/* CLIENT KILL filters (old form: addr only). */
struct cmd_kill_filter {
    const char *addr;
    const char *laddr;
    uint64_t id;
    int skipme;
    int type;                /* -1 any, 0 normal */
};

/* SAVE, BGSAVE, LASTSAVE and INFO persistence on a Raft node, where a
 * save is a Raft snapshot (which also compacts the log): what the
 * snapshot hook did. */
enum {
    CMD_SNAPSHOT_CURRENT = 0,   /* the newest snapshot covers the applied
                                 * index already: nothing to write */
    CMD_SNAPSHOT_STARTED = 1,   /* a snapshot is being written */
    CMD_SNAPSHOT_SCHEDULED = 2, /* asked while an entry is applied (BGSAVE
                                 * in MULTI): it starts right after */
    CMD_SNAPSHOT_WAITING = 3,   /* started, and the asking connection is
                                 * parked: it gets SAVE's reply at the end */
};

struct cmd_snapshot_status {
    int running;              /* a snapshot is being written */
    int last_ok;              /* the last one succeeded (or none yet) */
    int64_t last_ms;          /* Unix ms of the last save (0: none since
                               * start) */
    uint64_t changes;         /* entries applied since the newest one */
    uint64_t saves;           /* snapshots saved since start */
    int64_t running_ms;       /* how long the running one has taken */
    int64_t last_duration_ms; /* how long the last one took (-1: none) */
    uint64_t log_bytes;       /* the log held in memory since the newest
                               * one (INFO mem_not_counted_for_evict) */
    uint64_t forks;           /* INFO total_forks */
    int64_t fork_us;          /* INFO latest_fork_usec */
    int loading;              /* a reopened log is not yet applied again
                               * (INFO loading) */
};

/* What cmd needs from the rooms above it; server.c fills these. */
struct cmd_hooks {
    /* Appends CLIENT LIST lines (Redis format, "\n" ended) for every
     * client, or only `id` when non-zero. */
    void (*client_list)(void *data, struct metrics_buf *out, uint64_t id);
    /* Closes matching clients (after their pending replies are flushed
     * when it is the caller). Returns how many. */
    int (*client_kill)(void *data, const struct cmd_kill_filter *f,
                       uint64_t self_id);
    /* Stops the server after this iteration's replies (SHUTDOWN). */
    void (*shutdown)(void *data);
    /* Blocks the whole server for ms (DEBUG SLEEP). */
    void (*sleep_ms)(void *data, long long ms);
    /* Moves the clock by delta ms (DEBUG JUMP-CLOCK). */
    void (*jump_clock)(void *data, long long delta_ms);
    /* Applies a changed config option (hz, maxclients, maxmemory ...). */
    void (*config_changed)(void *data, const char *name);
    /* Starts a Raft snapshot (BGSAVE; SAVE passes its session id as
     * wait_id, and that connection is parked until the snapshot ends).
     * Returns a CMD_SNAPSHOT_* value, ERR_BUSY (one is being written),
     * ERR_INVALID (no Raft group: a standalone node) or another <0 (it
     * could not start). NULL: standalone. */
    int (*snapshot)(void *data, uint64_t wait_id);
    /* Fills st from the newest snapshot; ERR_INVALID without a Raft
     * group. NULL: standalone. */
    int (*snapshot_status)(void *data, struct cmd_snapshot_status *st);
    void *data;
};

/* Server-wide state commands run against. */
struct cmd_env {
    struct config *cfg;
    struct store *store;
    struct metrics *metrics;
    struct cmd_hooks hooks;
    struct cmd_stats *stats;  /* one per table entry */
    uint64_t rng;
    int64_t start_ms;         /* process start, Unix ms */
    uint64_t dirty;           /* writes since start (INFO, digest tests) */
    const char *executable;   /* INFO server */
    const char *config_file;
    char run_id[41];
    size_t peak_memory;       /* used_memory_peak, updated by the cron */
    int active_expire;        /* DEBUG SET-ACTIVE-EXPIRE */
    int64_t info_now;         /* the time INFO is being built at */
    int64_t pause_end_ms;     /* CLIENT PAUSE: until when (0: not paused) */
    int pause_writes_only;    /* CLIENT PAUSE ... WRITE */
    /* Replaces the maxmemory check before a DENYOOM command when set (a
     * replicated server: only its leader evicts, by proposing DELs).
     * Returns 0 to let the command run, <0 for -OOM. */
    int (*evict)(void *data, int64_t now_ms);
    void *evict_data;
    /* WATCH (set by the client room): touch runs after a write command
     * that changed the keyspace (env->dirty moved), with its keys in c;
     * touch_all runs before a write that names no key (FLUSHDB, FLUSHALL)
     * as Redis' signalModifiedKey and touchAllWatchedKeysInDb. Every
     * applied entry passes here, on the leader and the followers. */
    void (*touch)(void *data, const struct cmd_ctx *c);
    void (*touch_all)(void *data);
    /* a key removed from the store (deleted = 1): DEL, expiry, eviction */
    void (*touch_key)(void *data, const char *key, size_t len, int deleted);
    void *touch_data;
};

/* One command being executed. */
struct cmd_ctx {
    struct cmd_env *env;
    struct cmd_session *sess;
    struct resp_out *out;
    int argc;
    const struct resp_arg *argv;
    int64_t now;              /* Unix ms, from the loop */
    const struct cmd_def *cmd;
    int failed;               /* set by cmd_fail: counts failed_calls */
    /* The entry reserved for a large last argument that was read straight
     * into it (cmd_reserve_value; its argv ptr is the reserved value).
     * SET and friends publish it; whatever is left the caller cancels. */
    struct store_reservation *reserved;
};

/* Large values (memcached conn_nread, Redis' big-arg path): argv holds
 * the arguments before a command's last one, vlen bytes long. When the
 * command stores that last argument as a string value as it is (SET key
 * v, SETNX, GETSET, SETEX, PSETEX), reserves the entry for it so that the
 * value can be read straight into r->value. Returns 0, or <0 when the
 * command is another one or there is no memory: the value then comes
 * through the query buffer as any other. */
int cmd_reserve_value(struct cmd_env *env, int argc,
                      const struct resp_arg *argv, size_t vlen,
                      struct store_reservation *r);
/* Gives back a reservation the command did not publish (no-op if it did). */
void cmd_cancel_value(struct cmd_env *env, struct store_reservation *r);

/* Builds the lookup tables and allocates env->stats. Returns 0 or
 * ERR_NOMEM. */
int cmd_env_init(struct cmd_env *env);
void cmd_env_free(struct cmd_env *env);

/* Case-insensitive lookup of argv[0] (and argv[1] for containers), no
 * allocation. Returns NULL for an unknown command; for a container with an
 * unknown subcommand returns the container and sets *unknown_sub. */
const struct cmd_def *cmd_lookup(int argc, const struct resp_arg *argv,
                                 int *unknown_sub);

/* Before executing: unknown command, arity, NOAUTH, OOM, as Redis'
 * processCommand orders them. Writes the error reply and returns <0 when
 * the command must not run; returns 0 with *out_cmd set otherwise. */
int cmd_check(struct cmd_ctx *c, const struct cmd_def **out_cmd);

/* 1 if a checked command must wait for the end of a CLIENT PAUSE (all
 * commands, or only writes with WRITE), as Redis postpones it. */
int cmd_paused(const struct cmd_env *env, const struct cmd_def *d,
               int64_t now);

/* Runs c->cmd (already checked) and accounts its stats. */
void cmd_execute(struct cmd_ctx *c);

/* Replies an error and marks the call failed (commandstats). */
void cmd_fail(struct cmd_ctx *c, const char *msg);
void cmd_failf(struct cmd_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Table access for COMMAND and INFO commandstats. */
int cmd_count(void);
const struct cmd_def *cmd_at(int i);

/* Frees the session's strings and resets it to a fresh connection's state
 * (RESET), keeping the id. */
void cmd_session_reset(struct cmd_session *s);
void cmd_session_free(struct cmd_session *s);

/* WATCH (cmd_watch.c): installs the touch hooks above and the store's
 * delete hook; the state of a key now, without side effects:
 * CMD_KEY_ABSENT, CMD_KEY_LIVE (*expire_at: its expire time or -1) or
 * CMD_KEY_STALE (present, logically expired). */
enum { CMD_KEY_ABSENT = 0, CMD_KEY_LIVE = 1, CMD_KEY_STALE = 2 };
void cmd_watch_hooks(struct cmd_env *env,
                     void (*touch)(void *, const struct cmd_ctx *),
                     void (*touch_all)(void *),
                     void (*touch_key)(void *, const char *, size_t, int),
                     void *data);
int cmd_watch_key_state(struct cmd_env *env, const char *key, size_t len,
                        int64_t now, int64_t *expire_at);

/* Registers every INFO section in Redis' order; the clients section comes
 * from the client room through clients_cb. */
void cmd_register_info(struct cmd_env *env, metrics_section_cb clients_cb,
                       void *clients_data);
/* The cron's share of cmd: memory peak. */
void cmd_cron(struct cmd_env *env, int64_t now_ms);

#endif
