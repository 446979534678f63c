/* INFO section registry, counters and latency histograms. The histogram
 * is log-linear (HdrHistogram's idea at 3 bits of precision) so recording
 * is a couple of shifts on the command path; percentiles are computed only
 * when INFO asks. Sections print in registration order, as Redis prints
 * its fixed order. Calls nothing outside this room. */
#include "metrics/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

static void buf_reserve(struct metrics_buf *b, size_t n)
{
    if (b->cap - b->len > n)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        abort();
    b->p = p;
    b->cap = cap;
}

void metrics_buf_append(struct metrics_buf *b, const char *s, size_t len)
{
    buf_reserve(b, len + 1);
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void metrics_buf_free(struct metrics_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int hist_index(uint64_t v)
{
    if (v < 8)
        return (int)v;
    int lg = 63 - __builtin_clzll(v);
    int sub = (int)((v >> (lg - 3)) & 7);
    int idx = (lg - 2) * 8 + sub;
    return idx < METRICS_HIST_BUCKETS ? idx : METRICS_HIST_BUCKETS - 1;
}

static double hist_value(int idx)
{
    if (idx < 8)
        return idx;
    int lg = idx / 8 + 2;
    int sub = idx % 8;
    return (double)((8ULL + (uint64_t)sub) << (lg - 3));
}

void metrics_hist_record(struct metrics_hist *h, uint64_t usec)
{
    h->bins[hist_index(usec)]++;
    h->count++;
}

double metrics_hist_percentile(const struct metrics_hist *h, double pct)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)((pct / 100.0) * (double)h->count + 0.5);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (int i = 0; i < METRICS_HIST_BUCKETS; i++) {
        seen += h->bins[i];
        if (seen >= want)
            return hist_value(i + 1 < METRICS_HIST_BUCKETS ? i + 1 : i);
    }
    return hist_value(METRICS_HIST_BUCKETS - 1);
}

void metrics_hist_reset(struct metrics_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void metrics_inst_track(struct metrics_inst *m, long long value,
                        int64_t now_ms)
{
    if (m->last_ms != 0 && now_ms > m->last_ms) {
        long long delta = value - m->last_value;
        m->samples[m->idx] = delta * 1000 / (now_ms - m->last_ms);
        m->idx = (m->idx + 1) % METRICS_INST_SAMPLES;
    }
    m->last_ms = now_ms;
    m->last_value = value;
}

long long metrics_inst_get(const struct metrics_inst *m)
{
    long long sum = 0;
    for (int i = 0; i < METRICS_INST_SAMPLES; i++)
        sum += m->samples[i];
    return sum / METRICS_INST_SAMPLES;
}

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
}

int metrics_register_section(struct metrics *m, const char *name,
                             metrics_section_cb cb, void *data, int flags)
{
    if (m->nsections == METRICS_MAX_SECTIONS)
        return ERR_LIMIT;
    struct metrics_section *s = &m->sections[m->nsections++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->cb = cb;
    s->data = data;
    s->flags = flags;
    return 0;
}

static int wanted(const struct metrics_section *s, int nreq,
                  const char *const *req, const size_t *reqlen)
{
    if (nreq == 0)
        return s->flags & METRICS_SECTION_DEFAULT;
    for (int i = 0; i < nreq; i++) {
        if (((reqlen[i] == 3 && !strncasecmp(req[i], "all", 3)) ||
             (reqlen[i] == 10 && !strncasecmp(req[i], "everything", 10))) &&
            !(s->flags & METRICS_SECTION_NAMED))
            return 1;
        if (reqlen[i] == 7 && !strncasecmp(req[i], "default", 7) &&
            (s->flags & METRICS_SECTION_DEFAULT))
            return 1;
        if (reqlen[i] == strlen(s->name) &&
            !strncasecmp(req[i], s->name, reqlen[i]))
            return 1;
    }
    return 0;
}

void metrics_info(struct metrics *m, int nreq, const char *const *req,
                  const size_t *reqlen, struct metrics_buf *out)
{
    int first = 1;
    for (int i = 0; i < m->nsections; i++) {
        struct metrics_section *s = &m->sections[i];
        if (!wanted(s, nreq, req, reqlen))
            continue;
        if (!first)
            metrics_buf_append(out, "\r\n", 2);
        first = 0;
        char title[40];
        snprintf(title, sizeof(title), "# %s", s->name);
        title[2] = (char)(title[2] >= 'a' && title[2] <= 'z'
                              ? title[2] - 'a' + 'A' : title[2]);
        if (strcmp(s->name, "cpu") == 0)
            snprintf(title, sizeof(title), "# CPU");
        metrics_buf_printf(out, "%s\r\n", title);
        s->cb(out, s->data);
    }
    if (out->p == NULL)
        metrics_buf_append(out, "", 0);
}

void metrics_count_error(struct metrics *m, const char *code,
                         unsigned long long n)
{
    m->total_error_replies += n;
    for (int i = 0; i < m->nerrors; i++) {
        if (strcmp(m->errors[i].code, code) == 0) {
            m->errors[i].count += n;
            return;
        }
    }
    if (m->nerrors == (int)(sizeof(m->errors) / sizeof(m->errors[0])))
        return;
    snprintf(m->errors[m->nerrors].code, sizeof(m->errors[0].code), "%s", code);
    m->errors[m->nerrors++].count = n;
}

void metrics_errorstats_section(struct metrics_buf *out, void *data)
{
    struct metrics *m = data;
    for (int i = 0; i < m->nerrors; i++)
        metrics_buf_printf(out, "errorstat_%s:count=%llu\r\n",
                           m->errors[i].code, m->errors[i].count);
}

void metrics_reset_stats(struct metrics *m)
{
    size_t keep = offsetof(struct metrics, sections);
    memset(m, 0, keep);
}

void metrics_cron(struct metrics *m, int64_t now_ms)
{
    metrics_inst_track(&m->inst_ops, (long long)m->total_commands_processed,
                       now_ms);
    metrics_inst_track(&m->inst_in, (long long)m->net_input_bytes, now_ms);
    metrics_inst_track(&m->inst_out, (long long)m->net_output_bytes, now_ms);
}

void metrics_bytes_human(char *buf, size_t len, unsigned long long n)
{
    double d = (double)n;
    if (n < 1024)
        snprintf(buf, len, "%lluB", n);
    else if (n < 1024ULL * 1024)
        snprintf(buf, len, "%.2fK", d / 1024);
    else if (n < 1024ULL * 1024 * 1024)
        snprintf(buf, len, "%.2fM", d / (1024 * 1024));
    else if (n < 1024ULL * 1024 * 1024 * 1024)
        snprintf(buf, len, "%.2fG", d / (1024.0 * 1024 * 1024));
    else
        snprintf(buf, len, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
}
