/* WAL recovery benchmark (make bench-recover; not part of make test). Usage:
 *   bench_recover [--dir DIR] [--payload BYTES] [--segments N]
 *                 [--segment-size BYTES] [--entries E] [--rounds R] [--keep]
 *   bench_recover --existing DIR [--rounds R]
 * Fills N segments exactly (default: one 64 MiB segment of 64-byte
 * entries, about one SET command each), or writes E entries (the last
 * segment partly filled: recovery also scans its zeroed rest), through the
 * WAL API. Then R times: wal_open (which verifies every record) and
 * wal_replay of every entry, each timed in wall-clock and CPU time
 * (utime + stime); prints every round and the medians. --existing
 * recovers a copy of a node's data directory instead (left in place; the
 * first round may cut a torn tail or remove a spare segment). The files stay in
 * the page cache: this measures recovery's own work, not the disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "err.h"
#include "wal/wal.h"

#define MAX_ROUNDS 64

struct opts {
    const char *dir;
    size_t payload;
    unsigned segments;
    uint64_t segment_size;
    uint64_t entries;
    int rounds;
    int keep;
    int existing;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct wal *open_or_die(const struct opts *o, struct wal_recovered *rec)
{
    struct wal_config c = {0};
    c.dir = o->dir;
    c.io = WAL_IO_SYNC;
    c.sync_inline = 1;
    c.fsync = WAL_FSYNC_OFF;
    c.segment_size = o->segment_size;
    struct wal *w;
    char err[ERRMSG_LEN];
    if (wal_open(&c, &w, rec, err) != 0) {
        fprintf(stderr, "bench_recover: %s\n", err);
        exit(1);
    }
    return w;
}

/* Records never span segments, so (size - header) / record size records
 * fill one exactly and the next segment starts with the next record. */
static uint64_t fill(const struct opts *o)
{
    struct wal_recovered rec;
    struct wal *w = open_or_die(o, &rec);
    size_t rec_size = 32 + ((o->payload + 7) & ~(size_t)7);
    uint64_t per_seg = (o->segment_size - 48) / rec_size;
    uint64_t total = o->entries ? o->entries : per_seg * o->segments;
    uint8_t *buf = malloc(o->payload ? o->payload : 1);
    for (size_t i = 0; i < o->payload; i++)
        buf[i] = (uint8_t)('a' + i % 26);
    struct wal_entry e[256];
    uint64_t next = rec.last_index + 1;
    for (uint64_t done = 0; done < total;) {
        size_t n = total - done < 256 ? (size_t)(total - done) : 256;
        for (size_t i = 0; i < n; i++)
            e[i] = (struct wal_entry){1, next + i, 0, buf,
                                      (uint32_t)o->payload};
        if (wal_append(w, e, n) != 0 || wal_flush(w) < 0) {
            fprintf(stderr, "bench_recover: append failed\n");
            exit(1);
        }
        while (wal_durable_index(w) < next + n - 1)
            wal_poll(w);
        next += n;
        done += n;
    }
    wal_close(w);
    free(buf);
    return total;
}

static int count_entry(void *data, const struct wal_entry *e)
{
    uint64_t *sum = data;
    *sum += e->len;
    return 0;
}

static void parse(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "bench_recover: %s needs a value\n", a);
            exit(2);
        }
        i++;
        if (strcmp(a, "--dir") == 0 || strcmp(a, "--existing") == 0) {
            o->dir = v;
            o->existing = strcmp(a, "--existing") == 0;
        }
        else if (strcmp(a, "--payload") == 0)
            o->payload = strtoul(v, NULL, 10);
        else if (strcmp(a, "--segments") == 0)
            o->segments = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--segment-size") == 0)
            o->segment_size = strtoull(v, NULL, 10);
        else if (strcmp(a, "--entries") == 0)
            o->entries = strtoull(v, NULL, 10);
        else if (strcmp(a, "--rounds") == 0)
            o->rounds = atoi(v);
        else {
            fprintf(stderr, "bench_recover: unknown option %s\n", a);
            exit(2);
        }
    }
    if (o->rounds < 1 || o->rounds > MAX_ROUNDS)
        o->rounds = 5;
}

int main(int argc, char **argv)
{
    struct opts o = {"bench-recover.dir", 64, 1, 64u << 20, 0, 5, 0, 0};
    parse(argc, argv, &o);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", o.dir);
    if (!o.existing && system(cmd) != 0)
        return 1;
    uint64_t total = o.existing ? 0 : fill(&o);
    if (!o.existing)
        printf("%llu entries of %zu bytes, segments of %llu bytes\n",
           (unsigned long long)total, o.payload,
           (unsigned long long)o.segment_size);
    double ow[MAX_ROUNDS], oc[MAX_ROUNDS], rw[MAX_ROUNDS], rc[MAX_ROUNDS];
    for (int r = 0; r < o.rounds; r++) {
        struct wal_recovered rec;
        double w0 = now_s(), c0 = cpu_s();
        struct wal *w = open_or_die(&o, &rec);
        double w1 = now_s(), c1 = cpu_s();
        uint64_t sum = 0;
        if (o.existing && total == 0) {
            total = rec.last_index;
            printf("%s: entries %llu..%llu\n", o.dir,
                   (unsigned long long)rec.first_index,
                   (unsigned long long)total);
        }
        if (wal_replay(w, rec.first_index, count_entry, &sum) != 0 ||
            rec.last_index != total) {
            fprintf(stderr, "bench_recover: recovered %llu of %llu\n",
                    (unsigned long long)rec.last_index,
                    (unsigned long long)total);
            return 1;
        }
        double w2 = now_s(), c2 = cpu_s();
        wal_close(w);
        ow[r] = w1 - w0, oc[r] = c1 - c0, rw[r] = w2 - w1, rc[r] = c2 - c1;
        printf("round %d: open %.3f s (cpu %.3f), replay %.3f s (cpu %.3f)\n",
               r + 1, ow[r], oc[r], rw[r], rc[r]);
    }
    printf("median: open %.3f s (cpu %.3f), replay %.3f s (cpu %.3f)\n",
           median(ow, o.rounds), median(oc, o.rounds),
           median(rw, o.rounds), median(rc, o.rounds));
    if (!o.keep && !o.existing && system(cmd) != 0)
        return 1;
    return 0;
}
