/* Command line of the simulator: runs one seed or a range of seeds, prints
 * one replay command per failing seed, steps per second, and a last line
 * with the seeds run and failed. Every parameter of a run is derived from
 * its seed (node count too, unless --nodes is given), so
 * `sim --seed S --nodes N` replays a run exactly; --verbose traces it. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"

struct sim_cli {
    uint64_t seed_start;
    uint64_t seeds;
    int nodes;              /* 0: from the seed */
    int lease;              /* -1: from the seed */
    uint64_t chaos_ms, settle_ms;
    bool verbose, stop_on_fail, consequences_only, quiet, no_fork;
    bool no_membership;
    bool heavy_loss;
    bool no_pre_vote, no_check_quorum; /* force off; else from the seed */
    bool no_peer_down;      /* force off; else from the seed */
    uint32_t chunk_window;  /* 0: from the seed */
    int storage;            /* -1: from the seed, else enum sim_storage */
    const char *argv0;
};

/* What a run reports back; shared with the child process that runs it, so
 * a crash or a hang in the core fails one seed, not the whole batch. */
struct seed_result {
    int rv;
    bool crashed; /* signal or hang, not a failed check */
    bool done;    /* the run reached its end and filled this in */
    uint64_t steps, vms, crashes, changes, installs;
    size_t ops;
    char why[512];
};

#define SEED_WALL_LIMIT_S 120
#define DEFAULT_CHAOS_MS 10000
#define DEFAULT_SETTLE_MS 3000

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t pick(struct sim_rng *r, const uint64_t *v, size_t n)
{
    return v[sim_rng_below(r, n)];
}

/* Derives a run's parameters from its seed, with a stream of its own so
 * that the parameters do not shift when the simulation itself changes. */
static void params_derive(const struct sim_cli *cli, uint64_t seed,
                          struct sim_params *p)
{
    static const uint64_t nodes[] = {3, 5, 7}, appends[] = {1, 1, 2, 4, 64},
                          inflight[] = {1, 4, 256}, thresh[] = {8, 16, 64},
                          trail[] = {0, 2, 8}, chunk[] = {8, 16, 1024};
    struct sim_rng r;
    sim_rng_seed(&r, seed ^ 0x51ab5eed00000000ULL);
    memset(p, 0, sizeof(*p));
    p->seed = seed;
    p->nodes = (int)pick(&r, nodes, 3);
    if (cli->nodes)
        p->nodes = cli->nodes;
    p->election_ms = 100;
    p->max_append_entries = (uint32_t)pick(&r, appends, 5);
    p->max_inflight = (uint32_t)pick(&r, inflight, 3);
    p->snapshot_threshold = pick(&r, thresh, 3);
    p->snapshot_trailing = pick(&r, trail, 3);
    p->chunk_bytes = (uint32_t)pick(&r, chunk, 3);
    p->auto_promote = sim_rng_chance(&r, 500);
    p->pre_vote = sim_rng_chance(&r, 850);
    p->lease = sim_rng_chance(&r, 500);
    if (cli->lease >= 0)
        p->lease = cli->lease;
    /* Lease reads need CheckQuorum; the core falls back to ReadIndex
     * without it, and the runs without it show that it does. */
    p->check_quorum = sim_rng_chance(&r, 750);
    if (cli->no_check_quorum)
        p->check_quorum = false;
    if (cli->no_pre_vote)
        p->pre_vote = false;
    /* Lease drift is 30% of the election timeout (sim_node.c); clock rates
     * differ by at most 2 * 5% over a timeout, well inside it. */
    p->drift_ppm = (uint32_t)sim_rng_below(&r, 50001);
    p->clients = (int)sim_rng_range(&r, 3, 6);
    p->churn_permille = sim_rng_chance(&r, 500) ? (uint32_t)sim_rng_range(&r, 200, 700) : 0;
    p->chaos_ms = cli->chaos_ms;
    p->settle_ms = cli->settle_ms;
    p->verbose = cli->verbose;
    p->consequences_only = cli->consequences_only;
    p->no_membership = cli->no_membership;
    p->heavy_loss = cli->heavy_loss;
    /* Drawn last so the other parameters stay what they were. Two thirds
     * of the seeds keep their log in the real WAL, a third in the model. */
    p->storage = sim_rng_below(&r, 3) ? SIM_STORAGE_WAL : SIM_STORAGE_MODEL;
    if (cli->storage >= 0)
        p->storage = (enum sim_storage)cli->storage;
    /* Snapshot chunks in flight: one (stop and wait) to a deep window. */
    static const uint64_t chunk_window[] = {1, 2, 4, 16};
    p->chunk_window = (uint32_t)pick(&r, chunk_window, 4);
    if (cli->chunk_window)
        p->chunk_window = cli->chunk_window;
    p->peer_down = sim_rng_chance(&r, 500) && !cli->no_peer_down;
}

static const char *storage_name(enum sim_storage s)
{
    return s == SIM_STORAGE_WAL ? "wal" : "model";
}

static void print_replay(const struct sim_cli *cli, const struct sim_params *p)
{
    printf("  replay: %s --seed %llu --nodes %d --storage %s", cli->argv0,
           (unsigned long long)p->seed, p->nodes, storage_name(p->storage));
    if (cli->lease >= 0)
        printf(" %s", cli->lease ? "--lease" : "--no-lease");
    if (cli->chaos_ms != DEFAULT_CHAOS_MS)
        printf(" --chaos-ms %llu", (unsigned long long)cli->chaos_ms);
    if (cli->settle_ms != DEFAULT_SETTLE_MS)
        printf(" --settle-ms %llu", (unsigned long long)cli->settle_ms);
    if (cli->consequences_only)
        printf(" --consequences-only");
    if (cli->no_membership)
        printf(" --no-membership");
    if (cli->heavy_loss)
        printf(" --heavy-loss");
    if (cli->no_pre_vote)
        printf(" --no-pre-vote");
    if (cli->no_check_quorum)
        printf(" --no-check-quorum");
    if (cli->chunk_window)
        printf(" --chunk-window %u", cli->chunk_window);
    if (cli->no_peer_down)
        printf(" --no-peer-down");
    printf(" --verbose\n");
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--seed S] [--seeds N] [--nodes 3|5|7] [--lease|--no-lease]\n"
            "          [--chaos-ms T] [--settle-ms T] [--stop-on-fail]\n"
            "          [--consequences-only] [--no-membership] [--heavy-loss]\n"
            "          [--no-pre-vote] [--no-check-quorum] [--chunk-window N]\n"
            "          [--no-peer-down]\n"
            "          (default: per seed)\n"
            "          [--storage wal|model]  (default: per seed, 2/3 wal)\n"
            "          [--verbose] [--quiet] [--no-fork]\n"
            "Runs seeds S..S+N-1 (default 1 seed) and reports failures with the\n"
            "command that replays each.\n", argv0);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *s == '\0' || *end != '\0' || *s == '-')
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, struct sim_cli *cli)
{
    *cli = (struct sim_cli){.seeds = 1, .lease = -1, .storage = -1,
                            .chaos_ms = DEFAULT_CHAOS_MS,
                            .settle_ms = DEFAULT_SETTLE_MS, .argv0 = argv[0]};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v = 0;
        bool has = i + 1 < argc;
        if (!strcmp(a, "--seed") && has && parse_u64(argv[i + 1], &v)) {
            cli->seed_start = v;
            i++;
        } else if (!strcmp(a, "--seeds") && has && parse_u64(argv[i + 1], &v)) {
            cli->seeds = v;
            i++;
        } else if (!strcmp(a, "--nodes") && has && parse_u64(argv[i + 1], &v) &&
                   v >= 1 && v <= 7) {
            cli->nodes = (int)v;
            i++;
        } else if (!strcmp(a, "--chaos-ms") && has && parse_u64(argv[i + 1], &v)) {
            cli->chaos_ms = v;
            i++;
        } else if (!strcmp(a, "--settle-ms") && has && parse_u64(argv[i + 1], &v)) {
            cli->settle_ms = v;
            i++;
        } else if (!strcmp(a, "--lease")) {
            cli->lease = 1;
        } else if (!strcmp(a, "--no-lease")) {
            cli->lease = 0;
        } else if (!strcmp(a, "--verbose")) {
            cli->verbose = true;
        } else if (!strcmp(a, "--quiet")) {
            cli->quiet = true;
        } else if (!strcmp(a, "--no-membership")) {
            cli->no_membership = true;
        } else if (!strcmp(a, "--heavy-loss")) {
            cli->heavy_loss = true;
        } else if (!strcmp(a, "--chunk-window") && has &&
                   parse_u64(argv[i + 1], &v) && v >= 1 && v <= 1024) {
            cli->chunk_window = (uint32_t)v;
            i++;
        } else if (!strcmp(a, "--no-pre-vote")) {
            cli->no_pre_vote = true;
        } else if (!strcmp(a, "--no-check-quorum")) {
            cli->no_check_quorum = true;
        } else if (!strcmp(a, "--no-peer-down")) {
            cli->no_peer_down = true;
        } else if (!strcmp(a, "--storage") && has &&
                   (!strcmp(argv[i + 1], "wal") ||
                    !strcmp(argv[i + 1], "model"))) {
            cli->storage = !strcmp(argv[++i], "wal") ? SIM_STORAGE_WAL
                                                     : SIM_STORAGE_MODEL;
        } else if (!strcmp(a, "--no-fork")) {
            cli->no_fork = true;
        } else if (!strcmp(a, "--stop-on-fail")) {
            cli->stop_on_fail = true;
        } else if (!strcmp(a, "--consequences-only")) {
            cli->consequences_only = true;
        } else {
            usage(argv[0]);
            return -1;
        }
    }
    return 0;
}

static void run_here(const struct sim_params *p, struct seed_result *res)
{
    struct sim_world *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    memset(res, 0, sizeof(*res));
    res->rv = sim_run(p, w);
    res->steps = w->steps;
    res->vms = w->now;
    res->ops = w->hist.n;
    res->crashes = w->n_crashes;
    res->changes = w->n_changes;
    res->installs = w->n_installs;
    memcpy(res->why, w->why, sizeof(res->why));
    sim_world_free(w);
    free(w);
    res->done = true;
}

static void run_forked(const struct sim_params *p, struct seed_result *res)
{
    memset(res, 0, sizeof(*res));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        run_here(p, res);
        return;
    }
    if (pid == 0) {
        alarm(SEED_WALL_LIMIT_S);
        run_here(p, res);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        res->rv = -1;
        res->crashed = true;
        snprintf(res->why, sizeof(res->why), "%s (signal %d)",
                 sig == SIGALRM ? "hung: wall-clock limit reached"
                                : "crashed", sig);
    } else if (!res->done || WEXITSTATUS(status) != 0) {
        res->rv = -1;
        res->crashed = true;
        snprintf(res->why, sizeof(res->why),
                 "crashed: exit status %d before the run ended (sanitizer?)",
                 WEXITSTATUS(status));
    }
}

int main(int argc, char **argv)
{
    struct sim_cli cli;
    if (parse_args(argc, argv, &cli) != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t failed = 0, run = 0, steps = 0, vms = 0;
    uint64_t per_storage[2] = {0, 0}, failed_storage[2] = {0, 0};
    struct seed_result *res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED)
        return 2;
    double t0 = wall_seconds();
    for (uint64_t k = 0; k < cli.seeds; k++) {
        struct sim_params p;
        params_derive(&cli, cli.seed_start + k, &p);
        if (cli.no_fork)
            run_here(&p, res);
        else
            run_forked(&p, res);
        int rv = res->rv;
        run++;
        per_storage[p.storage]++;
        failed_storage[p.storage] += rv != 0;
        steps += res->steps;
        vms += res->vms;
        if (!cli.quiet || rv != 0)
            printf("%s seed %llu nodes %d %s%s: %llu steps, %zu ops, %llu crashes, "
                   "%llu changes, %llu snapshots installed%s%s\n",
                   rv ? "FAIL" : "ok  ", (unsigned long long)p.seed, p.nodes,
                   storage_name(p.storage), p.lease ? " lease" : "", (unsigned long long)res->steps,
                   res->ops, (unsigned long long)res->crashes,
                   (unsigned long long)res->changes,
                   (unsigned long long)res->installs, rv ? ": " : "",
                   rv ? res->why : "");
        if (rv != 0) {
            failed++;
            print_replay(&cli, &p);
        }
        /* --stop-on-fail stops at the first failed check; a crash of the
         * core is reported but does not count as the check catching it. */
        if (rv != 0 && cli.stop_on_fail && !res->crashed)
            break;
    }
    double dt = wall_seconds() - t0;
    printf("%llu steps in %.2f s: %.0f steps/s, %.1f virtual s\n",
           (unsigned long long)steps, dt, dt > 0 ? (double)steps / dt : 0.0,
           (double)vms / 1000.0);
    printf("storage: wal %llu run (%llu failed), model %llu run (%llu failed)\n",
           (unsigned long long)per_storage[SIM_STORAGE_WAL],
           (unsigned long long)failed_storage[SIM_STORAGE_WAL],
           (unsigned long long)per_storage[SIM_STORAGE_MODEL],
           (unsigned long long)failed_storage[SIM_STORAGE_MODEL]);
    printf("seeds %llu..%llu: %llu run, %llu failed\n",
           (unsigned long long)cli.seed_start,
           (unsigned long long)(cli.seed_start + run - (run ? 1 : 0)),
           (unsigned long long)run, (unsigned long long)failed);
    return failed ? 1 : 0;
}
