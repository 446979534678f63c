/* Process start-up and wiring: reads the configuration (file, then
 * `--option value` arguments), raises the fd limit for maxclients, creates
 * the loop, buffer pool, store, metrics and command environment, opens
 * the listeners, and hooks the rooms together: the before-sleep hook
 * flushes replies (Redis beforeSleep), a cron at `hz` does bounded
 * expiry, rehash and client housekeeping (Redis serverCron), and
 * SIGTERM/SIGINT/SHUTDOWN stop cleanly (pidfile and unix socket removed).
 * With cluster-enabled no the Raft group is never opened: commands run
 * here at once and expiry and eviction stay the store's own (local). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "cmd/cmd.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "mem/pool.h"
#include "metrics/metrics.h"
#include "net/loop.h"
#include "repl/repl.h"
#include "server_raft.h"
#include "store/store.h"

#define SERVER_VERSION "7.0.15"
#define RAFTCACHE_VERSION "0.1"
/* Redis CONFIG_MIN_RESERVED_FDS: fds kept for listeners, logs, files. */
#define RESERVED_FDS 32
/* Keys the active expire cycle may sample per cron tick, per effort. */
#define EXPIRE_BUDGET_PER_EFFORT 5000
/* Dict buckets the cron moves per tick while rehashing. */
#define REHASH_STEPS 1000

struct server {
    struct config cfg;
    struct loop *loop;
    struct pool *pool;
    struct store *store;
    struct metrics metrics;
    struct cmd_env env;
    struct client_server clients;
    struct server_raft raft;
    struct loop_timer *cron;
    char *config_file;
    char executable[1024];
    int shutdown_asap;
    int pidfile_written;
};

static void usage(void)
{
    fprintf(stderr,
            "Usage: raftcache-server [/path/to/redis.conf] [options]\n"
            "       raftcache-server -v or --version\n"
            "       raftcache-server -h or --help\n\n"
            "Examples:\n"
            "       raftcache-server (run with the defaults)\n"
            "       raftcache-server /etc/raftcache/redis.conf\n"
            "       raftcache-server --port 7777\n"
            "       raftcache-server /etc/myredis.conf --loglevel verbose\n");
}

/* Loads the file and the command line; exits 1 with a message naming the
 * option and its line on any error. */
static void load_config(struct server *s, int argc, char **argv)
{
    char err[512];
    int first = 1;
    if (argc > 1 && strncmp(argv[1], "--", 2) != 0 && strcmp(argv[1], "-") != 0) {
        s->config_file = realpath(argv[1], NULL);
        if (s->config_file == NULL)
            s->config_file = strdup(argv[1]);
        if (config_load_file(&s->cfg, argv[1], err, sizeof(err)) < 0) {
            fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (raftcache %s) ***\n"
                    "Reading the configuration file %s, at %s\n",
                    RAFTCACHE_VERSION, argv[1], err);
            exit(1);
        }
        first = 2;
    }
    char *text = config_args_to_text(argc - first, argv + first, err, sizeof(err));
    if (text == NULL || config_load_text(&s->cfg, text, 1, err, sizeof(err)) < 0) {
        fprintf(stderr, "\n*** FATAL CONFIG ERROR (raftcache %s) ***\n"
                "Reading the command line options, at %s\n",
                RAFTCACHE_VERSION, err);
        exit(1);
    }
    free(text);
}

/* Redis adjustOpenFilesLimit: raise RLIMIT_NOFILE to maxclients plus the
 * reserve, or lower maxclients to what the system allows. */
static void adjust_fd_limit(struct server *s)
{
    rlim_t want = (rlim_t)s->cfg.maxclients + RESERVED_FDS;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    struct rlimit nl = rl;
    nl.rlim_cur = want;
    if (nl.rlim_max < want)
        nl.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
        return;
    nl.rlim_cur = nl.rlim_max = rl.rlim_max;
    if (rl.rlim_max > rl.rlim_cur)
        setrlimit(RLIMIT_NOFILE, &nl);
    getrlimit(RLIMIT_NOFILE, &rl);
    long long allowed = (long long)rl.rlim_cur - RESERVED_FDS;
    if (allowed < 1)
        allowed = 1;
    log_msg(LOG_LEVEL_WARNING, "You requested maxclients of %lld requiring at "
            "least %llu max file descriptors. Server can't set maximum open "
            "files to %llu because of OS error: %s. Current maximum open files "
            "is %llu. maxclients has been reduced to %lld to compensate for "
            "low ulimit.", s->cfg.maxclients, (unsigned long long)want,
            (unsigned long long)want, strerror(errno),
            (unsigned long long)rl.rlim_cur, allowed);
    s->cfg.maxclients = allowed;
}

static void reap_none(void *ctx, const struct store_entry *e,
                      enum store_reap_why why)
{
}

static long long effective_hz(const struct config *cfg)
{
    return cfg->hz < 1 ? 1 : cfg->hz > 500 ? 500 : cfg->hz;
}

/* serverCron: bounded work only (sampled expiry, a scheduled BGSAVE, a
 * few rehash steps, one pass over the clients), so a tick never stalls
 * the loop. */
static void on_cron(struct loop_timer *t, void *data)
{
    struct server *s = data;
    int64_t now = loop_now_ms(s->loop);
    if (s->env.active_expire) {
        size_t budget = (size_t)(EXPIRE_BUDGET_PER_EFFORT * s->cfg.active_expire_effort);
        if (s->raft.repl != NULL)
            server_raft_cron(&s->raft, now, budget);
        else
            store_expire_cycle(s->store, (uint64_t)now, budget,
                               STORE_REAP_DELETE, reap_none, NULL);
    }
    if (s->raft.repl != NULL) {
        server_raft_snapshot_cron(&s->raft);
        server_raft_failure_cron(&s->raft, now);
    }
    store_rehash_steps(s->store, REHASH_STEPS);
    client_cron(&s->clients, now);
    metrics_cron(&s->metrics, now);
    cmd_cron(&s->env, now);
}

static void start_cron(struct server *s)
{
    loop_timer_destroy(s->cron);
    double period = 1000.0 / (double)effective_hz(&s->cfg);
    s->cron = loop_timer_create(s->loop, period, period, on_cron, s);
}

/* beforeSleep: write the replies this iteration produced, then stop if a
 * shutdown was asked for (so SHUTDOWN's peers get their earlier replies). */
static void before_sleep(struct loop *loop, void *data)
{
    struct server *s = data;
    client_resume_paused(&s->clients);
    /* Replication first (STYLE §7): acknowledge durable writes, apply,
     * propose this iteration's batch and reads, WAL flush, peer sends;
     * then connections whose parked requests ended run on (they may add
     * to a new batch), and only then are replies written. */
    if (s->raft.repl != NULL)
        server_raft_sync_expiry_mode(&s->raft);
    for (int round = 0; s->raft.repl != NULL && round < 8; round++) {
        repl_prepare_sleep(s->raft.repl);
        if (!client_resume_parked(&s->clients))
            break;
    }
    if (s->raft.repl != NULL)
        repl_flush_peers(s->raft.repl);
    client_flush_pending(&s->clients);
    if (s->shutdown_asap)
        loop_stop(loop);
}

static void hook_shutdown(void *data)
{
    struct server *s = data;
    log_msg(LOG_LEVEL_WARNING, "User requested shutdown...");
    s->shutdown_asap = 1;
}

static void stop_on_signal(struct loop *loop, struct server *s,
                           const char *name)
{
    log_msg(LOG_LEVEL_WARNING, "Received %s scheduling shutdown...", name);
    s->shutdown_asap = 1;
    loop_stop(loop);
}

static void on_sigterm(struct loop *loop, void *data)
{
    stop_on_signal(loop, data, "SIGTERM");
}

static void on_sigint(struct loop *loop, void *data)
{
    stop_on_signal(loop, data, "SIGINT");
}

static void hook_sleep(void *data, long long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void hook_jump_clock(void *data, long long delta)
{
    struct server *s = data;
    loop_jump_clock(s->loop, delta);
}

/* CONFIG SET port/bind: close the listeners and open the new ones. */
static void rebind(struct server *s)
{
    client_close_listeners(&s->clients);
    if (client_listen(&s->clients) < 0)
        log_msg(LOG_LEVEL_WARNING, "%s", s->clients.errmsg);
}

static void hook_config_changed(void *data, const char *name)
{
    struct server *s = data;
    if (!strcmp(name, "hz"))
        start_cron(s);
    else if (!strcmp(name, "port") || !strcmp(name, "bind"))
        rebind(s);
    else if (!strcmp(name, "maxmemory"))
        store_set_maxmemory(s->store, (size_t)s->cfg.maxmemory);
    else if (!strcmp(name, "maxmemory-policy"))
        store_set_policy(s->store, (enum store_policy)s->cfg.maxmemory_policy);
    else if (!strcmp(name, "maxmemory-samples"))
        store_set_maxmemory_samples(s->store, (unsigned)s->cfg.maxmemory_samples);
    else if (!strcmp(name, "loglevel"))
        log_set_level(s->cfg.loglevel);
    else if (!strcmp(name, "maxclients"))
        adjust_fd_limit(s);
    else if (!strcmp(name, "proto-max-bulk-len"))
        for (struct conn *c = s->clients.all; c; c = c->next)
            c->parser.max_bulk_len = s->cfg.proto_max_bulk_len;
}

static void write_pidfile(struct server *s)
{
    if (s->cfg.pidfile == NULL || s->cfg.pidfile[0] == '\0')
        return;
    FILE *f = fopen(s->cfg.pidfile, "w");
    if (f == NULL) {
        log_msg(LOG_LEVEL_WARNING, "Failed to write PID file: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    s->pidfile_written = 1;
}

static void make_run_id(struct server *s)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t x = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL ^
                 (uint64_t)loop_mono_us_fresh();
    for (int i = 0; i < 40; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s->env.run_id[i] = hex[x & 15];
    }
    s->env.run_id[40] = '\0';
    s->env.rng = x | 1;
}

/* The hooks share one data pointer, the server; the client ones are
 * routed to the client room from here. */
static void route_list(void *d, struct metrics_buf *o, uint64_t id)
{
    struct server *s = d;
    client_list_hook(&s->clients, o, id);
}

static int route_kill(void *d, const struct cmd_kill_filter *f, uint64_t self)
{
    struct server *s = d;
    return client_kill_hook(&s->clients, f, self);
}

/* SAVE, BGSAVE, LASTSAVE, INFO persistence: the Raft group's snapshots
 * (ERR_INVALID standalone, where nothing is saved). */
static int route_snapshot(void *d, uint64_t wait_id)
{
    struct server *s = d;
    return server_raft_snapshot(&s->raft, wait_id);
}

static int route_snapshot_status(void *d, struct cmd_snapshot_status *st)
{
    struct server *s = d;
    return server_raft_snapshot_status(&s->raft, st);
}

static int create_rooms(struct server *s)
{
    struct pool_config pc = {0};
    if ((s->loop = loop_create()) == NULL || pool_create(&s->pool, &pc) < 0)
        return ERR_NOMEM;
    struct store_config sc = {
        .slab_growth_factor = s->cfg.slab_growth_factor,
        .maxmemory = (size_t)s->cfg.maxmemory,
        .policy = (enum store_policy)s->cfg.maxmemory_policy,
        .maxmemory_samples = (unsigned)s->cfg.maxmemory_samples,
        .lfu_log_factor = 10,
        .lfu_decay_time = 1,
        .seed = (uint64_t)loop_mono_us_fresh() ^ (uint64_t)getpid(),
        .pool = s->pool,
    };
    int rv = store_create(&s->store, &sc);
    if (rv < 0)
        return rv;
    metrics_init(&s->metrics);
    s->env.cfg = &s->cfg;
    s->env.store = s->store;
    s->env.metrics = &s->metrics;
    s->env.start_ms = loop_now_ms(s->loop);
    s->env.executable = s->executable;
    s->env.config_file = s->config_file;
    s->env.active_expire = 1;
    s->env.hooks = (struct cmd_hooks){
        .client_list = route_list, .client_kill = route_kill,
        .shutdown = hook_shutdown, .sleep_ms = hook_sleep,
        .jump_clock = hook_jump_clock, .config_changed = hook_config_changed,
        .snapshot = route_snapshot, .snapshot_status = route_snapshot_status,
        .data = s};
    make_run_id(s);
    if ((rv = cmd_env_init(&s->env)) < 0)
        return rv;
    client_server_init(&s->clients, s->loop, s->pool, &s->cfg, &s->metrics, &s->env);
    cmd_register_info(&s->env, client_info_section, &s->clients);
    return 0;
}

static void log_standalone(const struct config *cfg)
{
    log_msg(LOG_LEVEL_NOTICE, "Running standalone (cluster-enabled no): no "
            "Raft group, nothing is written to disk");
    if (cfg->cluster_peers != NULL && cfg->cluster_peers[0] != '\0')
        log_msg(LOG_LEVEL_WARNING, "cluster-peers is ignored: "
                "cluster-enabled is no");
}

static void shutdown_server(struct server *s)
{
    log_msg(LOG_LEVEL_WARNING, "raftcache is now ready to exit, bye bye...");
    client_close_all(&s->clients);
    client_close_listeners(&s->clients);
    server_raft_close(&s->raft);
    if (s->pidfile_written)
        unlink(s->cfg.pidfile);
}

int main(int argc, char **argv)
{
    static struct server s;
    if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("raftcache-server v=%s (redis protocol %s)\n", RAFTCACHE_VERSION,
               SERVER_VERSION);
        return 0;
    }
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage();
        return 0;
    }
    config_init(&s.cfg);
    load_config(&s, argc, argv);
    if (realpath("/proc/self/exe", s.executable) == NULL)
        snprintf(s.executable, sizeof(s.executable), "%s", argv[0]);
    if (s.cfg.dir && s.cfg.dir[0] && chdir(s.cfg.dir) < 0) {
        fprintf(stderr, "Can't chdir to '%s': %s\n", s.cfg.dir, strerror(errno));
        return 1;
    }
    if (log_open(s.cfg.logfile) < 0) {
        fprintf(stderr, "Can't open the log file: %s\n", strerror(errno));
        return 1;
    }
    log_set_level(s.cfg.loglevel);
    log_msg(LOG_LEVEL_NOTICE, "raftcache %s starting, pid=%d", RAFTCACHE_VERSION,
            (int)getpid());
    signal(SIGPIPE, SIG_IGN);
    adjust_fd_limit(&s);
    if (create_rooms(&s) < 0) {
        log_msg(LOG_LEVEL_WARNING, "Out of memory creating the server");
        return 1;
    }
    s.raft = (struct server_raft){.cfg = &s.cfg, .loop = s.loop,
        .store = s.store, .env = &s.env, .clients = &s.clients,
        .metrics = &s.metrics};
    char rerr[ERRMSG_LEN];
    if (!s.cfg.cluster_enabled)
        log_standalone(&s.cfg);
    else if (server_raft_open(&s.raft, rerr) < 0) {
        log_msg(LOG_LEVEL_WARNING, "Raft start-up failed: %s", rerr);
        return 1;
    }
    if (client_listen(&s.clients) < 0) {
        log_msg(LOG_LEVEL_WARNING, "%s", s.clients.errmsg);
        return 1;
    }
    write_pidfile(&s);
    loop_add_before_sleep(s.loop, before_sleep, &s);
    loop_on_signal(s.loop, SIGTERM, on_sigterm, &s);
    loop_on_signal(s.loop, SIGINT, on_sigint, &s);
    start_cron(&s);
    log_msg(LOG_LEVEL_NOTICE, "Server initialized");
    log_msg(LOG_LEVEL_NOTICE, "Ready to accept connections tcp");
    loop_run(s.loop);
    shutdown_server(&s);
    return 0;
}
