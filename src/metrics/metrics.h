/* Counters, latency histograms and the registry of INFO sections. Other
 * rooms fill INFO through callbacks registered here (cmd registers
 * commandstats, the server registers server/clients/memory ..., and later
 * repl registers "raft"), so INFO needs no arrow from cmd to any of them.
 * A leaf: it formats text and counts, and calls nothing in raftcache. */
#ifndef RAFTCACHE_METRICS_H
#define RAFTCACHE_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* A growable text buffer for INFO and CLIENT LIST output (admin paths,
 * plain malloc). */
struct metrics_buf {
    char *p;
    size_t len;
    size_t cap;
};

void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void metrics_buf_append(struct metrics_buf *b, const char *s, size_t len);
void metrics_buf_free(struct metrics_buf *b);

/* Latency histogram: log2 buckets with 8 linear sub-buckets (≈12% error),
 * microseconds up to ~1 hour. Fixed size, no allocation. */
#define METRICS_HIST_BUCKETS (32 * 8)
struct metrics_hist {
    uint64_t count;
    uint64_t bins[METRICS_HIST_BUCKETS];
};

void metrics_hist_record(struct metrics_hist *h, uint64_t usec);
/* The value below which `pct` percent of samples fall (0 if empty). */
double metrics_hist_percentile(const struct metrics_hist *h, double pct);
void metrics_hist_reset(struct metrics_hist *h);

/* Instantaneous rates, as Redis' trackInstantaneousMetric: a sample per
 * cron tick, averaged over the last 16. */
#define METRICS_INST_SAMPLES 16
struct metrics_inst {
    long long samples[METRICS_INST_SAMPLES];
    int idx;
    long long last_value;
    int64_t last_ms;
};

void metrics_inst_track(struct metrics_inst *m, long long value,
                        int64_t now_ms);
long long metrics_inst_get(const struct metrics_inst *m);

typedef void (*metrics_section_cb)(struct metrics_buf *out, void *data);

#define METRICS_MAX_SECTIONS 24
#define METRICS_SECTION_DEFAULT 1
/* Shown only when asked for by name (INFO raft), not by all/everything,
 * which list Redis' own sections. */
#define METRICS_SECTION_NAMED 2

struct metrics_section {
    char name[32];
    metrics_section_cb cb;
    void *data;
    int flags;
};

struct metrics {
    /* Redis INFO stats fields. */
    unsigned long long total_commands_processed;
    unsigned long long total_connections_received;
    unsigned long long rejected_connections;
    unsigned long long keyspace_hits;
    unsigned long long keyspace_misses;
    unsigned long long total_error_replies;
    unsigned long long net_input_bytes;
    unsigned long long net_output_bytes;
    unsigned long long total_reads_processed;
    unsigned long long total_writes_processed;
    unsigned long long client_qbuf_limit_disconnections;
    unsigned long long client_obuf_limit_disconnections;
    struct metrics_inst inst_ops;
    struct metrics_inst inst_in;
    struct metrics_inst inst_out;
    /* INFO errorstats: error replies per code, at most 128 codes as Redis. */
    struct metrics_error { char code[16]; unsigned long long count; } errors[128];
    int nerrors;
    struct metrics_section sections[METRICS_MAX_SECTIONS];
    int nsections;
};

void metrics_init(struct metrics *m);
/* Registers an INFO section (name lowercase, printed as "# Name").
 * flags: METRICS_SECTION_DEFAULT if plain INFO shows it. Returns 0 or
 * ERR_LIMIT. */
int metrics_register_section(struct metrics *m, const char *name,
                             metrics_section_cb cb, void *data, int flags);
/* Formats INFO for the requested section names (none: the default
 * sections; "all", "everything", "default" as Redis 7). */
void metrics_info(struct metrics *m, int nreq, const char *const *req,
                  const size_t *reqlen, struct metrics_buf *out);
/* Counts `n` error replies with this code ("ERR", "WRONGTYPE"). */
void metrics_count_error(struct metrics *m, const char *code,
                         unsigned long long n);
/* The INFO errorstats section (data: struct metrics). */
void metrics_errorstats_section(struct metrics_buf *out, void *data);
/* Zeroes the counters (CONFIG RESETSTAT). */
void metrics_reset_stats(struct metrics *m);
/* Called by the cron: samples the instantaneous rates. */
void metrics_cron(struct metrics *m, int64_t now_ms);

/* "1.50M" style human byte counts, as Redis bytesToHuman. */
void metrics_bytes_human(char *buf, size_t len, unsigned long long n);

#endif
