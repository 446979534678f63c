/* Memory and speed of the keyspace for redis-benchmark's key space: loads
 * N keys "key:%012d" with V-byte values (defaults 1,000,000 and 64),
 * then prints the store's accounting, bytes per key and the process RSS
 * growth, next to redis-server's growth for the same load on this machine
 * (about 169 MiB). Prints, never asserts: timings depend on the machine.
 * Usage: bench_store_memory [keys] [value-bytes] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem/slab.h"
#include "store/store.h"

#define REDIS_GROWTH_MIB 169.0

static double rss_mib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return (double)rss * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void print_classes(const struct store *st)
{
    const struct slab *s = store_slab(st);
    printf("class  chunk  pages  used_chunks  free_chunks\n");
    for (int i = 0; i < slab_class_count(s); i++) {
        struct slab_class_stats c;
        slab_class_stats(s, i, &c);
        if (c.pages == 0)
            continue;
        printf("%5d %6zu %6zu %12zu %12zu\n", i, c.chunk_size, c.pages,
               c.used_chunks, c.free_chunks);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    size_t vlen = argc > 2 ? (size_t)atol(argv[2]) : 64;
    uint64_t now = 1700000000000ull;
    char key[32], *val = malloc(vlen);
    memset(val, 'x', vlen);
    struct store *st;
    double rss0 = rss_mib();
    if (store_create(&st, NULL) != 0)
        return 1;
    double t0 = secs(), worst = 0;
    long slow = 0;
    for (long i = 0; i < n; i++) {
        struct store_key k;
        int kl = snprintf(key, sizeof(key), "key:%012ld", i);
        store_key_init(st, &k, key, (size_t)kl);
        double w0 = wall_us();
        if (store_set(st, &k, val, vlen, STORE_NO_EXPIRE, 0, now, NULL) != 0)
            return 1;
        double w = wall_us() - w0;
        worst = w > worst ? w : worst;
        slow += w > 1000;
    }
    double t1 = secs();
    while (store_rehash_steps(st, 1000))
        ;
    double t2 = secs();
    long hits = 0;
    for (long i = 0; i < n; i++) {
        struct store_key k;
        int kl = snprintf(key, sizeof(key), "key:%012ld", (i * 7919) % n);
        store_key_init(st, &k, key, (size_t)kl);
        hits += store_lookup_read(st, &k, now) != NULL;
    }
    double t3 = secs();
    double rss1 = rss_mib();
    struct store_memory m;
    store_memory(st, &m);
    print_classes(st);
    printf("keys                 %ld (found again: %ld)\n", n, hits);
    printf("used_memory          %.1f MiB (%.1f bytes/key)\n",
           m.used / 1048576.0, (double)m.used / (double)n);
    printf("held (pages+large)   %.1f MiB\n", m.held / 1048576.0);
    printf("slab used / held     %.1f / %.1f MiB\n", m.slab_used / 1048576.0,
           m.slab_held / 1048576.0);
    printf("dict tables          %.1f MiB\n", m.dict_bytes / 1048576.0);
    printf("RSS growth           %.1f MiB (%.2f x redis-server's ~%.0f MiB)\n",
           rss1 - rss0, (rss1 - rss0) / REDIS_GROWTH_MIB, REDIS_GROWTH_MIB);
    printf("set (cpu time)       %.0f ns/op\n", (t1 - t0) * 1e9 / (double)n);
    printf("slowest set (wall)   %.0f us; sets over 1 ms: %ld (includes being descheduled)\n",
           worst, slow);
    printf("finish rehash        %.1f ms\n", (t2 - t1) * 1e3);
    printf("lookup (cpu time)    %.0f ns/op\n", (t3 - t2) * 1e9 / (double)n);
    store_destroy(st);
    free(val);
    return 0;
}
