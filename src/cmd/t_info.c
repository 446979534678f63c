/* INFO: the command and the sections cmd can fill (server, memory,
 * persistence, stats, replication, cpu, modules, errorstats, cluster,
 * keyspace, commandstats, latencystats), registered with metrics in
 * Redis' order so plain INFO looks like redis-server's; field names are
 * Redis 7's so redis-cli --stat and redis_exporter read them. The clients
 * section comes from the client room through the same registry. */
#include "cmd/cmd_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#define SERVER_VERSION "7.0.15"

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

static void section_server(struct metrics_buf *o, void *data)
{
    struct cmd_env *env = data;
    struct utsname u;
    uname(&u);
    int64_t now = env->info_now;
    long long up = (now - env->start_ms) / 1000;
    long long hz = env->cfg->hz < 1 ? 1 : env->cfg->hz > 500 ? 500 : env->cfg->hz;
    metrics_buf_printf(o,
        "redis_version:%s\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n"
        "redis_build_id:0\r\nredis_mode:%s\r\nos:%s %s %s\r\n"
        "arch_bits:%d\r\nmonotonic_clock:POSIX clock_gettime\r\n"
        "multiplexing_api:libev\r\natomicvar_api:c11-builtin\r\n"
        "gcc_version:%d.%d.%d\r\nprocess_id:%d\r\nprocess_supervised:no\r\n"
        "run_id:%s\r\ntcp_port:%lld\r\nserver_time_usec:%lld\r\n"
        "uptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\nhz:%lld\r\n"
        "configured_hz:%lld\r\nlru_clock:%lld\r\nexecutable:%s\r\n"
        "config_file:%s\r\nio_threads_active:0\r\n",
        SERVER_VERSION, cmd__cluster_mode(env), u.sysname, u.release,
        u.machine,
        (int)(sizeof(long) * 8),
#ifdef __GNUC__
        __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
        0, 0, 0,
#endif
        (int)getpid(), env->run_id, env->cfg->port, (long long)now * 1000,
        up, up / 86400, hz, env->cfg->hz,
        (long long)((now / 1000) & ((1 << 24) - 1)),
        env->executable ? env->executable : "",
        env->config_file ? env->config_file : "");
}

/* Redis 7.0's memory fields in its order (scripting, replication and
 * defrag ones are 0 here), then raftcache's slab and dict figures. The
 * Raft log held in memory is, as Redis' AOF and replication buffers,
 * memory that maxmemory does not count: mem_not_counted_for_evict. */
static void section_memory(struct metrics_buf *o, void *data)
{
    struct cmd_env *env = data;
    struct store_memory m;
    store_memory(env->store, &m);
    struct cmd_snapshot_status st;
    cmd__save_status(env, &st);
    size_t rss = rss_bytes();
    if (m.used > env->peak_memory)
        env->peak_memory = m.used;
    char h1[32], h2[32], h3[32], h4[32], h5[32];
    long long total = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    size_t overhead = m.dict_bytes + m.volatile_bytes + m.pool_bytes;
    size_t dataset = m.used > overhead ? m.used - overhead : 0;
    metrics_bytes_human(h1, sizeof(h1), m.used);
    metrics_bytes_human(h2, sizeof(h2), rss);
    metrics_bytes_human(h3, sizeof(h3), env->peak_memory);
    metrics_bytes_human(h4, sizeof(h4), (unsigned long long)env->cfg->maxmemory);
    metrics_bytes_human(h5, sizeof(h5), (unsigned long long)total);
    static const char *policies[] = {"noeviction", "allkeys-lru", "allkeys-lfu",
        "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random",
        "volatile-ttl"};
    double frag = m.used ? (double)rss / (double)m.used : 0.0;
    double alloc_frag = m.used ? (double)m.held / (double)m.used : 0.0;
    double alloc_rss = m.held ? (double)rss / (double)m.held : 0.0;
    metrics_buf_printf(o,
        "used_memory:%zu\r\nused_memory_human:%s\r\nused_memory_rss:%zu\r\n"
        "used_memory_rss_human:%s\r\nused_memory_peak:%zu\r\n"
        "used_memory_peak_human:%s\r\nused_memory_peak_perc:%.2f%%\r\n"
        "used_memory_overhead:%zu\r\nused_memory_startup:0\r\n"
        "used_memory_dataset:%zu\r\nused_memory_dataset_perc:%.2f%%\r\n"
        "allocator_allocated:%zu\r\nallocator_active:%zu\r\n"
        "allocator_resident:%zu\r\ntotal_system_memory:%lld\r\n"
        "total_system_memory_human:%s\r\n",
        m.used, h1, rss, h2, env->peak_memory, h3,
        env->peak_memory ? 100.0 * (double)m.used / (double)env->peak_memory : 0.0,
        overhead, dataset, m.used ? 100.0 * (double)dataset / (double)m.used : 0.0,
        m.used, m.held, rss, total, h5);
    metrics_buf_printf(o,
        "used_memory_lua:0\r\nused_memory_vm_eval:0\r\nused_memory_lua_human:0B\r\n"
        "used_memory_scripts_eval:0\r\nnumber_of_cached_scripts:0\r\n"
        "number_of_functions:0\r\nnumber_of_libraries:0\r\n"
        "used_memory_vm_functions:0\r\nused_memory_vm_total:0\r\n"
        "used_memory_vm_total_human:0B\r\nused_memory_functions:0\r\n"
        "used_memory_scripts:0\r\nused_memory_scripts_human:0B\r\n"
        "maxmemory:%lld\r\nmaxmemory_human:%s\r\nmaxmemory_policy:%s\r\n"
        "allocator_frag_ratio:%.2f\r\nallocator_frag_bytes:%zu\r\n"
        "allocator_rss_ratio:%.2f\r\nallocator_rss_bytes:%lld\r\n"
        "rss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\n"
        "mem_fragmentation_ratio:%.2f\r\nmem_fragmentation_bytes:%lld\r\n"
        "mem_not_counted_for_evict:%llu\r\nmem_replication_backlog:0\r\n"
        "mem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\n"
        "mem_clients_normal:%zu\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\n"
        "mem_allocator:libc+slab\r\nactive_defrag_running:0\r\n"
        "lazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n"
        "slab_used:%zu\r\nslab_held:%zu\r\ndict_bytes:%zu\r\n",
        env->cfg->maxmemory, h4, policies[env->cfg->maxmemory_policy & 7],
        alloc_frag, m.held > m.used ? m.held - m.used : 0, alloc_rss,
        (long long)rss - (long long)m.held, frag,
        (long long)rss - (long long)m.used,
        (unsigned long long)st.log_bytes, m.pool_bytes, m.slab_used,
        m.slab_held, m.dict_bytes);
}

/* Whole seconds as Redis rounds a save's duration; -1 stays -1. */
static long long secs(int64_t ms)
{
    return ms < 0 ? -1 : (long long)(ms / 1000);
}

/* On a Raft node the save is a Raft snapshot: in progress, last status
 * and time come from it, and the changes since are the entries applied
 * after its index (a write command or a MULTI is one entry). */
static void section_persistence(struct metrics_buf *o, void *data)
{
    struct cmd_env *env = data;
    struct cmd_snapshot_status st;
    cmd__save_status(env, &st);
    metrics_buf_printf(o,
        "loading:%d\r\nasync_loading:0\r\nrdb_changes_since_last_save:%llu\r\n"
        "rdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%lld\r\n"
        "rdb_last_bgsave_status:%s\r\nrdb_last_bgsave_time_sec:%lld\r\n"
        "rdb_current_bgsave_time_sec:%lld\r\nrdb_saves:%llu\r\n"
        "aof_enabled:0\r\n"
        "aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n"
        "aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n"
        "aof_last_bgrewrite_status:ok\r\naof_last_write_status:ok\r\n",
        st.loading, (unsigned long long)st.changes, st.running ? 1 : 0,
        (long long)(st.last_ms / 1000), st.last_ok ? "ok" : "err",
        secs(st.last_duration_ms), secs(st.running_ms),
        (unsigned long long)st.saves);
}

static void section_stats(struct metrics_buf *o, void *data)
{
    struct cmd_env *env = data;
    struct metrics *m = env->metrics;
    struct store_stats s;
    store_stats(env->store, &s);
    struct cmd_snapshot_status st;
    cmd__save_status(env, &st);
    metrics_buf_printf(o,
        "total_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
        "instantaneous_ops_per_sec:%lld\r\ntotal_net_input_bytes:%llu\r\n"
        "total_net_output_bytes:%llu\r\ntotal_net_repl_input_bytes:0\r\n"
        "total_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:%.2f\r\n"
        "instantaneous_output_kbps:%.2f\r\ninstantaneous_input_repl_kbps:0.00\r\n"
        "instantaneous_output_repl_kbps:0.00\r\nrejected_connections:%llu\r\n"
        "sync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\n"
        "expired_keys:%llu\r\nexpired_stale_perc:%.2f\r\n"
        "expired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\n"
        "evicted_keys:%llu\r\nevicted_clients:0\r\n"
        "total_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\n"
        "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\npubsub_channels:0\r\n"
        "pubsub_patterns:0\r\npubsubshard_channels:0\r\nlatest_fork_usec:%lld\r\n"
        "total_forks:%llu\r\nmigrate_cached_sockets:0\r\n"
        "slave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\n"
        "active_defrag_misses:0\r\nactive_defrag_key_hits:0\r\n"
        "active_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\n"
        "current_active_defrag_time:0\r\ntracking_total_keys:0\r\n"
        "tracking_total_items:0\r\ntracking_total_prefixes:0\r\n"
        "unexpected_error_replies:0\r\ntotal_error_replies:%llu\r\n"
        "dump_payload_sanitizations:0\r\ntotal_reads_processed:%llu\r\n"
        "total_writes_processed:%llu\r\nio_threaded_reads_processed:0\r\n"
        "io_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\n"
        "reply_buffer_expands:0\r\nclient_query_buffer_limit_disconnections:%llu\r\n"
        "client_output_buffer_limit_disconnections:%llu\r\n",
        m->total_connections_received, m->total_commands_processed,
        metrics_inst_get(&m->inst_ops), m->net_input_bytes, m->net_output_bytes,
        (double)metrics_inst_get(&m->inst_in) / 1024,
        (double)metrics_inst_get(&m->inst_out) / 1024, m->rejected_connections,
        (unsigned long long)s.expired_keys, (double)s.expired_stale_perc,
        (unsigned long long)s.evicted_keys, (unsigned long long)s.keyspace_hits,
        (unsigned long long)s.keyspace_misses, (long long)st.fork_us,
        (unsigned long long)st.forks, m->total_error_replies,
        m->total_reads_processed, m->total_writes_processed,
        m->client_qbuf_limit_disconnections, m->client_obuf_limit_disconnections);
}

static void section_replication(struct metrics_buf *o, void *data)
{
    struct cmd_env *env = data;
    metrics_buf_printf(o,
        "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n"
        "master_replid:%s\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n"
        "master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n"
        "repl_backlog_size:0\r\nrepl_backlog_first_byte_offset:0\r\n"
        "repl_backlog_histlen:0\r\n", env->run_id);
}

static void section_cpu(struct metrics_buf *o, void *data)
{
    struct rusage self, thread, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_THREAD, &thread);
    getrusage(RUSAGE_CHILDREN, &kids);
#define TV(t) ((double)(t).tv_sec + (double)(t).tv_usec / 1000000.0)
    metrics_buf_printf(o,
        "used_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\nused_cpu_sys_children:%.6f\r\n"
        "used_cpu_user_children:%.6f\r\nused_cpu_sys_main_thread:%.6f\r\n"
        "used_cpu_user_main_thread:%.6f\r\n",
        TV(self.ru_stime), TV(self.ru_utime), TV(kids.ru_stime),
        TV(kids.ru_utime), TV(thread.ru_stime), TV(thread.ru_utime));
#undef TV
}

static void section_empty(struct metrics_buf *o, void *data)
{
}

static void section_cluster(struct metrics_buf *o, void *data)
{
    /* A server is a Raft group answering CLUSTER SLOTS/SHARDS/NODES (one
     * group owns all slots), so Redis Cluster clients may use it; unless
     * it runs standalone (cluster-enabled no). */
    struct cmd_env *env = data;
    metrics_buf_printf(o, "cluster_enabled:%d\r\n",
                       env->cfg == NULL || env->cfg->cluster_enabled ? 1 : 0);
}

static void section_keyspace(struct metrics_buf *o, void *data)
{
    struct cmd_env *env = data;
    uint64_t keys = store_count(env->store);
    if (keys == 0)
        return;
    metrics_buf_printf(o, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n",
                       (unsigned long long)keys,
                       (unsigned long long)store_count_volatile(env->store));
}

/* "cmdstat_client|list": Redis 7 names subcommands with a bar. */
static void section_commandstats(struct metrics_buf *o, void *data)
{
    struct cmd_env *env = data;
    for (int i = 0; i < cmd_count(); i++) {
        const struct cmd_stats *s = &env->stats[i];
        if (s->calls == 0 && s->rejected_calls == 0 && s->failed_calls == 0)
            continue;
        metrics_buf_printf(o,
            "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,"
            "rejected_calls=%llu,failed_calls=%llu\r\n",
            cmd_at(i)->name, (unsigned long long)s->calls,
            (unsigned long long)s->usec,
            s->calls ? (double)s->usec / (double)s->calls : 0.0,
            (unsigned long long)s->rejected_calls,
            (unsigned long long)s->failed_calls);
    }
}

static void section_latencystats(struct metrics_buf *o, void *data)
{
    struct cmd_env *env = data;
    for (int i = 0; i < cmd_count(); i++) {
        const struct metrics_hist *h = &env->stats[i].latency;
        if (h->count == 0)
            continue;
        metrics_buf_printf(o,
            "latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n",
            cmd_at(i)->name, metrics_hist_percentile(h, 50),
            metrics_hist_percentile(h, 99), metrics_hist_percentile(h, 99.9));
    }
}

void cmd_register_info(struct cmd_env *env, metrics_section_cb clients_cb,
                       void *clients_data)
{
    struct metrics *m = env->metrics;
    int d = METRICS_SECTION_DEFAULT;
    metrics_register_section(m, "server", section_server, env, d);
    metrics_register_section(m, "clients", clients_cb, clients_data, d);
    metrics_register_section(m, "memory", section_memory, env, d);
    metrics_register_section(m, "persistence", section_persistence, env, d);
    metrics_register_section(m, "stats", section_stats, env, d);
    metrics_register_section(m, "replication", section_replication, env, d);
    metrics_register_section(m, "cpu", section_cpu, env, d);
    metrics_register_section(m, "modules", section_empty, env, d);
    metrics_register_section(m, "commandstats", section_commandstats, env, 0);
    metrics_register_section(m, "errorstats", metrics_errorstats_section, m, d);
    metrics_register_section(m, "latencystats", section_latencystats, env, 0);
    metrics_register_section(m, "cluster", section_cluster, env, d);
    metrics_register_section(m, "keyspace", section_keyspace, env, d);
}

void cmd_cron(struct cmd_env *env, int64_t now_ms)
{
    size_t used = store_used_memory(env->store);
    if (used > env->peak_memory)
        env->peak_memory = used;
}

void t_info(struct cmd_ctx *c)
{
    const char *req[32];
    size_t len[32];
    int n = 0;
    for (int i = 1; i < c->argc && n < 32; i++, n++) {
        req[n] = c->argv[i].ptr;
        len[n] = c->argv[i].len;
    }
    c->env->info_now = c->now;
    struct metrics_buf buf = {0};
    metrics_info(c->env->metrics, n, req, len, &buf);
    resp_add_verbatim(c->out, buf.p ? buf.p : "", buf.len, "txt");
    metrics_buf_free(&buf);
}
