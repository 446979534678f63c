/* Server commands: CONFIG, TIME, SHUTDOWN, DEBUG, MEMORY (with the
 * raftcache-specific MEMORY SLABS), DBSIZE, FLUSHDB/FLUSHALL, SWAPDB,
 * SAVE, BGSAVE and LASTSAVE (Raft snapshots; refused standalone).
 * Process-level effects (stop, sleep, clock jump, applying a config
 * change, snapshots) go through the hooks server.c wires. Texts follow
 * Redis 7 (config.c, debug.c, object.c memoryCommand, rdb.c). */
#include "cmd/cmd_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

/* ---- CONFIG ---- */

void t_config(struct cmd_ctx *c)
{
    cmd__reply_unknown_sub(c);
}

/* Options already answered: one CONFIG GET names each option once. */
struct get_acc {
    struct cmd_ctx *c;
    int n;
    char seen[128][48];
};

static int first_time(struct get_acc *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (strcasecmp(a->seen[i], name) == 0)
            return 0;
    if (a->n < 128)
        snprintf(a->seen[a->n++], sizeof(a->seen[0]), "%s", name);
    return 1;
}

static void get_one(const char *name, const char *value, void *data)
{
    struct get_acc *a = data;
    if (!first_time(a, name))
        return;
    resp_add_bulk_cstr(a->c->out, name);
    resp_add_bulk_cstr(a->c->out, value);
}

static void count_one(const char *name, const char *value, void *data)
{
    first_time(data, name);
}

void t_config_get(struct cmd_ctx *c)
{
    static struct get_acc a;
    memset(&a, 0, sizeof(a));
    a.c = c;
    for (int i = 2; i < c->argc; i++)
        config_get_matching(c->env->cfg, c->argv[i].ptr, c->argv[i].len,
                            count_one, &a);
    resp_add_map(c->out, a.n);
    a.n = 0;
    for (int i = 2; i < c->argc; i++)
        config_get_matching(c->env->cfg, c->argv[i].ptr, c->argv[i].len,
                            get_one, &a);
}

static void copy_value(const char *name, const char *value, void *data)
{
    snprintf(data, 1024, "%s", value);
}

/* Re-applies a value text captured before a failed multi-option SET. */
static void restore(struct config *cfg, const char *name, char *text)
{
    struct resp_arg words[64];
    const char *argv[64];
    char err[ERRMSG_LEN];
    int n = resp_split_args(text, strlen(text), words, 64);
    for (int i = 0; i < n; i++) {
        ((char *)words[i].ptr)[words[i].len] = '\0';
        argv[i] = words[i].ptr;
    }
    if (n <= 0) {
        argv[0] = "";
        n = 1;
    }
    config_set(cfg, name, n, argv, 1, err, sizeof(err));
}

/* Sets one name/value pair; replies and returns -1 on failure. */
static int set_pair(struct cmd_ctx *c, int i, char *old)
{
    char name[128], value[4096], err[ERRMSG_LEN];
    cmd__arg_cstr(c, i, name, sizeof(name));
    cmd__arg_cstr(c, i + 1, value, sizeof(value));
    config_get_matching(c->env->cfg, name, strlen(name), copy_value, old);
    struct resp_arg words[64];
    const char *argv[64];
    int n = resp_split_args(value, strlen(value), words, 64);
    for (int j = 0; j < n; j++) {
        ((char *)words[j].ptr)[words[j].len] = '\0';
        argv[j] = words[j].ptr;
    }
    if (n <= 0) {
        argv[0] = "";
        n = 1;
    }
    int rv = config_set(c->env->cfg, name, n, argv, 1, err, sizeof(err));
    if (rv == 0)
        return 0;
    if (rv == ERR_NOTFOUND)
        cmd_failf(c, "Unknown option or number of arguments for CONFIG SET - '%s'", name);
    else if (rv == ERR_BUSY)
        cmd_failf(c, "CONFIG SET failed (possibly related to argument '%s') - can't set immutable config", name);
    else if (rv == ERR_LIMIT)
        cmd_failf(c, "CONFIG SET failed (possibly related to argument '%s') - can't set protected config", name);
    else
        cmd_failf(c, "CONFIG SET failed (possibly related to argument '%s') - %s", name, err);
    return -1;
}

void t_config_set(struct cmd_ctx *c)
{
    if ((c->argc - 2) % 2 != 0) {
        cmd_failf(c, "wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    int npairs = (c->argc - 2) / 2;
    for (int i = 0; i < npairs; i++) {
        for (int j = 0; j < i; j++) {
            if (c->argv[2 + 2 * i].len == c->argv[2 + 2 * j].len &&
                !strncasecmp(c->argv[2 + 2 * i].ptr, c->argv[2 + 2 * j].ptr,
                             c->argv[2 + 2 * i].len)) {
                cmd_failf(c, "CONFIG SET failed (possibly related to argument '%.*s') - duplicate parameter",
                          (int)c->argv[2 + 2 * i].len, c->argv[2 + 2 * i].ptr);
                return;
            }
        }
    }
    char (*old)[1024] = calloc((size_t)npairs, sizeof(*old));
    int done = 0;
    for (; done < npairs; done++)
        if (set_pair(c, 2 + 2 * done, old[done]) < 0)
            break;
    char name[128];
    if (done < npairs) {
        /* CONFIG SET of several options is all or nothing, as Redis 7. */
        for (int i = 0; i < done; i++)
            restore(c->env->cfg, cmd__arg_cstr(c, 2 + 2 * i, name, sizeof(name)), old[i]);
        free(old);
        return;
    }
    free(old);
    for (int i = 0; i < npairs; i++)
        if (c->env->hooks.config_changed)
            c->env->hooks.config_changed(c->env->hooks.data,
                                         cmd__arg_cstr(c, 2 + 2 * i, name, sizeof(name)));
    resp_add_ok(c->out);
}

void t_config_resetstat(struct cmd_ctx *c)
{
    metrics_reset_stats(c->env->metrics);
    store_reset_stats(c->env->store);
    for (int i = 0; i < cmd_count(); i++)
        memset(&c->env->stats[i], 0, sizeof(c->env->stats[i]));
    resp_add_ok(c->out);
}

void t_config_rewrite(struct cmd_ctx *c)
{
    if (c->env->config_file == NULL) {
        cmd_fail(c, "The server is running without a config file");
        return;
    }
    char err[256];
    if (config_rewrite(c->env->cfg, c->env->config_file, err,
                       sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_WARNING, "CONFIG REWRITE failed: %s", err);
        cmd_failf(c, "Rewriting config file: %s", err);
        return;
    }
    log_msg(LOG_LEVEL_NOTICE, "CONFIG REWRITE executed with success.");
    resp_add_ok(c->out);
}

void t_config_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        NULL};
    cmd__reply_help(c, lines);
}

/* ---- TIME, SHUTDOWN ---- */

void t_time(struct cmd_ctx *c)
{
    resp_add_array(c->out, 2);
    resp_add_bulk_ll(c->out, c->now / 1000);
    resp_add_bulk_ll(c->out, (c->now % 1000) * 1000);
}

void t_shutdown(struct cmd_ctx *c)
{
    int nosave = 0, save = 0, abort_ = 0;
    for (int i = 1; i < c->argc; i++) {
        if (cmd__arg_is(c, i, "nosave"))
            nosave = 1;
        else if (cmd__arg_is(c, i, "save"))
            save = 1;
        else if (cmd__arg_is(c, i, "now") || cmd__arg_is(c, i, "force"))
            continue;
        else if (cmd__arg_is(c, i, "abort"))
            abort_ = 1;
        else {
            cmd_fail(c, CMD_ERR_SYNTAX);
            return;
        }
    }
    if ((nosave && save) || (abort_ && c->argc > 2)) {
        cmd_fail(c, CMD_ERR_SYNTAX);
        return;
    }
    if (abort_) {
        cmd_fail(c, "No shutdown in progress.");
        return;
    }
    /* As Redis: no reply, the connection closes with the server. */
    c->env->hooks.shutdown(c->env->hooks.data);
}

/* SAVE, BGSAVE and LASTSAVE: on a Raft node the save is a Raft snapshot
 * (the state at the applied index, written by a forked child as Redis'
 * BGSAVE, after which the log behind it is released). A standalone node
 * keeps nothing on disk and refuses them. Texts: Redis 7 rdb.c
 * saveCommand, bgsaveCommand, lastsaveCommand. */

#define SAVE_IN_PROGRESS "Background save already in progress"

void cmd__save_status(const struct cmd_env *env,
                      struct cmd_snapshot_status *st)
{
    int rv = ERR_INVALID;
    if (env->hooks.snapshot_status != NULL)
        rv = env->hooks.snapshot_status(env->hooks.data, st);
    if (rv < 0) /* standalone: writes since start, nothing saved */
        *st = (struct cmd_snapshot_status){.last_ok = 1,
                                           .changes = env->dirty,
                                           .running_ms = -1,
                                           .last_duration_ms = -1};
    if (st->last_ms == 0)
        st->last_ms = env->start_ms;
}

/* Starts a snapshot through the server's hook; wait_id: see cmd_hooks. */
static int start_snapshot(struct cmd_ctx *c, uint64_t wait_id)
{
    if (c->env->hooks.snapshot == NULL)
        return ERR_INVALID;
    return c->env->hooks.snapshot(c->env->hooks.data, wait_id);
}

void t_lastsave(struct cmd_ctx *c)
{
    struct cmd_snapshot_status st;
    cmd__save_status(c->env, &st);
    resp_add_int(c->out, st.last_ms / 1000);
}

/* SAVE: Redis blocks until the RDB file is written. Blocking the loop
 * would stop a Raft node's heartbeats, so only this connection waits: the
 * hook parks it and answers +OK (or Redis' bare -ERR) once the snapshot
 * has ended. */
void t_save(struct cmd_ctx *c)
{
    int rv = start_snapshot(c, c->sess->id);
    if (rv == ERR_INVALID)
        cmd_fail(c, "raftcache keeps no RDB file: SAVE is not supported");
    else if (rv == ERR_BUSY)
        cmd_fail(c, SAVE_IN_PROGRESS);
    else if (rv < 0)
        cmd_fail(c, "-ERR");
    else if (rv != CMD_SNAPSHOT_WAITING)
        resp_add_ok(c->out);
}

/* BGSAVE [SCHEDULE]: the snapshot is the only child a node forks, so a
 * running one answers "already in progress" with or without SCHEDULE (as
 * Redis when its RDB child runs); inside MULTI it is scheduled, as Redis
 * does in EXEC. A snapshot that is already current is "started" too: the
 * state at the applied index is on disk. */
void t_bgsave(struct cmd_ctx *c)
{
    if (c->argc > 2 || (c->argc == 2 && !cmd__arg_is(c, 1, "schedule"))) {
        cmd_fail(c, CMD_ERR_SYNTAX);
        return;
    }
    int rv = start_snapshot(c, 0);
    if (rv == ERR_INVALID)
        cmd_fail(c, "raftcache keeps no RDB file: BGSAVE is not supported");
    else if (rv == ERR_BUSY)
        cmd_fail(c, SAVE_IN_PROGRESS);
    else if (rv < 0)
        cmd_fail(c, "-ERR");
    else if (rv == CMD_SNAPSHOT_SCHEDULED)
        resp_add_status(c->out, "Background saving scheduled");
    else
        resp_add_status(c->out, "Background saving started");
}

/* ---- DBSIZE, FLUSHDB, FLUSHALL, SWAPDB ---- */

void t_dbsize(struct cmd_ctx *c)
{
    resp_add_int(c->out, (long long)store_count(c->env->store));
}

void t_flushdb(struct cmd_ctx *c)
{
    if (c->argc > 2 || (c->argc == 2 && !cmd__arg_is(c, 1, "async") &&
                        !cmd__arg_is(c, 1, "sync"))) {
        cmd_fail(c, CMD_ERR_SYNTAX);
        return;
    }
    c->env->dirty += store_count(c->env->store);
    store_flush(c->env->store);
    resp_add_ok(c->out);
}

void t_swapdb(struct cmd_ctx *c)
{
    long long a, b;
    if (cmd__arg_ll(c, 1, &a) < 0) {
        cmd_fail(c, "invalid first DB index");
        return;
    }
    if (cmd__arg_ll(c, 2, &b) < 0) {
        cmd_fail(c, "invalid second DB index");
        return;
    }
    if (a < 0 || b < 0 || a >= c->env->cfg->databases ||
        b >= c->env->cfg->databases) {
        cmd_fail(c, "DB index is out of range");
        return;
    }
    resp_add_ok(c->out);
}

/* ---- DEBUG ---- */

static int debug_allowed(struct cmd_ctx *c)
{
    int mode = c->env->cfg->enable_debug_command;
    if (mode == DEBUG_CMD_YES || (mode == DEBUG_CMD_LOCAL && c->sess->is_local))
        return 1;
    cmd_fail(c, "DEBUG command not allowed. If the enable-debug-command option "
                "is set to \"local\", you can run it from a local connection, "
                "otherwise you need to set this option in the configuration "
                "file, and then restart the server.");
    return 0;
}

static void debug_digest(struct cmd_ctx *c)
{
    uint64_t d = 0;
    char hex[48];
    if (store_count(c->env->store) > 0 && store_digest(c->env->store, &d) < 0) {
        cmd_fail(c, "out of memory computing the digest");
        return;
    }
    if (store_count(c->env->store) == 0)
        snprintf(hex, sizeof(hex), "%040d", 0);
    else
        snprintf(hex, sizeof(hex), "%024d%016llx", 0, (unsigned long long)d);
    resp_add_status(c->out, hex);
}

void t_debug(struct cmd_ctx *c)
{
    if (!debug_allowed(c))
        return;
    if (cmd__arg_is(c, 1, "sleep") && c->argc == 3) {
        char buf[64];
        double secs = strtod(cmd__arg_cstr(c, 2, buf, sizeof(buf)), NULL);
        c->env->hooks.sleep_ms(c->env->hooks.data, (long long)(secs * 1000));
        resp_add_ok(c->out);
    } else if (cmd__arg_is(c, 1, "jump-clock") && c->argc == 3) {
        long long ms;
        if (cmd__ll_or_reply(c, 2, &ms) < 0)
            return;
        c->env->hooks.jump_clock(c->env->hooks.data, ms);
        resp_add_ok(c->out);
    } else if (cmd__arg_is(c, 1, "digest") && c->argc == 2) {
        debug_digest(c);
    } else if (cmd__arg_is(c, 1, "set-active-expire") && c->argc == 3) {
        long long on;
        if (cmd__ll_or_reply(c, 2, &on) < 0)
            return;
        c->env->active_expire = on != 0;
        resp_add_ok(c->out);
    } else if (cmd__arg_is(c, 1, "help")) {
        static const char *const lines[] = {
            "DIGEST", "    Output a hex signature representing the current DB content.",
            "JUMP-CLOCK <milliseconds>", "    Move the server clock (TTLs) forward or back.",
            "SET-ACTIVE-EXPIRE <0|1>", "    Setting it to 0 disables expiring keys in background.",
            "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
            NULL};
        cmd__reply_help(c, lines);
    } else {
        cmd_failf(c, "unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
                  (int)c->argv[1].len, c->argv[1].ptr);
    }
}

/* ---- MEMORY ---- */

void t_memory(struct cmd_ctx *c)
{
    cmd__reply_unknown_sub(c);
}

void t_memory_usage(struct cmd_ctx *c)
{
    if (c->argc == 5 && cmd__arg_is(c, 3, "samples")) {
        long long n;
        if (cmd__ll_or_reply(c, 4, &n) < 0)
            return;
    } else if (c->argc != 3) {
        cmd_fail(c, CMD_ERR_SYNTAX);
        return;
    }
    struct store_key k;
    cmd__key(c, 2, &k);
    struct store_entry *e = store_lookup(c->env->store, &k,
                                         STORE_LOOKUP_WRITE | STORE_LOOKUP_NOTOUCH,
                                         (uint64_t)c->now);
    if (e == NULL) {
        resp_add_null(c->out);
        return;
    }
    /* The chunk plus its bucket pointer in the dict. */
    resp_add_int(c->out, (long long)(store_entry_mem(c->env->store, e) + sizeof(void *)));
}

/* MEMORY SLABS: allocator totals, then one map per slab class that owns
 * pages (chunk size, pages, used and free chunks, requested bytes). */
void t_memory_slabs(struct cmd_ctx *c)
{
    const struct slab *s = store_slab(c->env->store);
    struct slab_totals t;
    slab_totals(s, &t);
    int n = slab_class_count(s), used = 0;
    struct slab_class_stats cs;
    for (int i = 0; i < n; i++)
        if (slab_class_stats(s, i, &cs) == 0 && cs.pages > 0)
            used++;
    resp_add_map(c->out, 8);
    const char *names[] = {"held", "used", "pages", "free_pages",
                           "large_count", "large_bytes", "requested"};
    size_t vals[] = {t.held, t.used, t.pages, t.free_pages, t.large_count,
                     t.large_bytes, t.requested};
    for (int i = 0; i < 7; i++) {
        resp_add_bulk_cstr(c->out, names[i]);
        resp_add_int(c->out, (long long)vals[i]);
    }
    resp_add_bulk_cstr(c->out, "classes");
    resp_add_array(c->out, used);
    for (int i = 0; i < n; i++) {
        if (slab_class_stats(s, i, &cs) < 0 || cs.pages == 0)
            continue;
        resp_add_map(c->out, 7);
        const char *cn[] = {"class", "chunk_size", "chunks_per_page", "pages",
                            "used_chunks", "free_chunks", "requested"};
        size_t cv[] = {(size_t)i, cs.chunk_size, cs.chunks_per_page, cs.pages,
                       cs.used_chunks, cs.free_chunks, cs.requested};
        for (int j = 0; j < 7; j++) {
            resp_add_bulk_cstr(c->out, cn[j]);
            resp_add_int(c->out, (long long)cv[j]);
        }
    }
}

void t_memory_stats(struct cmd_ctx *c)
{
    struct store_memory m;
    store_memory(c->env->store, &m);
    uint64_t keys = store_count(c->env->store);
    resp_add_map(c->out, 8);
    resp_add_bulk_cstr(c->out, "peak.allocated");
    resp_add_int(c->out, (long long)(c->env->peak_memory > m.used ? c->env->peak_memory : m.used));
    resp_add_bulk_cstr(c->out, "total.allocated");
    resp_add_int(c->out, (long long)m.used);
    resp_add_bulk_cstr(c->out, "clients.normal");
    resp_add_int(c->out, (long long)m.pool_bytes);
    resp_add_bulk_cstr(c->out, "overhead.hashtable.main");
    resp_add_int(c->out, (long long)m.dict_bytes);
    resp_add_bulk_cstr(c->out, "overhead.hashtable.expires");
    resp_add_int(c->out, (long long)m.volatile_bytes);
    resp_add_bulk_cstr(c->out, "keys.count");
    resp_add_int(c->out, (long long)keys);
    resp_add_bulk_cstr(c->out, "keys.bytes-per-key");
    resp_add_int(c->out, keys ? (long long)(m.used / keys) : 0);
    resp_add_bulk_cstr(c->out, "dataset.bytes");
    resp_add_int(c->out, (long long)m.slab_used);
}

void t_memory_doctor(struct cmd_ctx *c)
{
    static const char msg[] =
        "Hi Sam, I can't find any memory issue in your instance. "
        "I can only account for what occurs on this base.";
    resp_add_verbatim(c->out, msg, sizeof(msg) - 1, "txt");
}

void t_memory_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "DOCTOR", "    Return memory problems reports.",
        "STATS", "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "SLABS", "    Return per-class usage of the slab allocator (raftcache).",
        NULL};
    cmd__reply_help(c, lines);
}
