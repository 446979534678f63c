/* Crash test with real processes. Usage:
 *   crash_test WRITER DIR KILLS SEED [uring|sync|auto] [always|off]
 * Starts crash_writer on DIR, reads what it acknowledges as durable, kills
 * it with SIGKILL after a random 5-250 ms, and restarts it with a higher
 * term, KILLS times, then once more to check. At every start it checks:
 * the log reaches every acknowledged index, each acknowledged entry has the
 * term it was written with, no payload is damaged, and the hard state's
 * term is at least the last one saved. Exit status 0 when all held. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 256

/* Entries (lo, hi] were acknowledged while written with term `term`. */
struct acked_range {
    unsigned long long lo, hi, term;
};

struct state {
    struct acked_range acked[MAX_RUNS];
    int nacked;
    unsigned long long saved_term;
    /* term runs reported by the current start */
    unsigned long long run_index[MAX_RUNS], run_term[MAX_RUNS];
    int nruns;
    unsigned long long last, bad, hs_term, base;
    unsigned long long snap_index, snap_term; /* 0: no snapshot loaded */
    int failures;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long long term_at(struct state *s, unsigned long long index)
{
    unsigned long long t = 0;
    for (int i = 0; i < s->nruns; i++)
        if (s->run_index[i] <= index)
            t = s->run_term[i];
    return t;
}

static void fail(struct state *s, const char *what, unsigned long long a,
                 unsigned long long b)
{
    printf("FAIL: %s (%llu, %llu)\n", what, a, b);
    s->failures++;
}

/* Checks what a fresh start reported against everything acknowledged. */
static void check_start(struct state *s, int run)
{
    if (s->bad)
        fail(s, "damaged payloads after restart", s->bad, run);
    if (s->hs_term < s->saved_term)
        fail(s, "hard state term went back", s->hs_term, s->saved_term);
    for (int i = 0; i < s->nacked; i++) {
        struct acked_range *r = &s->acked[i];
        if (r->hi > s->last) {
            fail(s, "acknowledged index missing", r->hi, s->last);
            continue;
        }
        for (unsigned long long x = r->lo + 1; x <= r->hi; x++) {
            /* Entries behind the snapshot live in it, not in the log. */
            if (x < s->snap_index)
                continue;
            unsigned long long t = x == s->snap_index ? s->snap_term
                                                      : term_at(s, x);
            if (t != r->term) {
                fail(s, "acknowledged entry has another term", x, r->term);
                break;
            }
        }
    }
}

static void on_line(struct state *s, const char *line, unsigned long long term)
{
    unsigned long long a = 0, b = 0;
    char kind = line[0];
    sscanf(line + 1, "%llu %llu", &a, &b);
    switch (kind) {
    case 'H':
        s->hs_term = a;
        break;
    case 'P':
        s->snap_index = a;
        s->snap_term = b;
        break;
    case 'S':
        if (s->nruns < MAX_RUNS) {
            s->run_index[s->nruns] = a;
            s->run_term[s->nruns++] = b;
        }
        break;
    case 'R':
        s->last = a;
        s->bad = b;
        check_start(s, (int)term);
        break;
    case 'B':
        s->saved_term = term;
        s->base = a;
        if (s->nacked < MAX_RUNS)
            s->acked[s->nacked++] = (struct acked_range){a, a, term};
        break;
    case 'A':
        if (s->nacked > 0 && a > s->acked[s->nacked - 1].hi)
            s->acked[s->nacked - 1].hi = a;
        break;
    }
}

static pid_t spawn(char **argv, int *fd)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

/* Reads lines until EOF, or until deadline (then kills the writer). */
static void pump(struct state *s, int fd, pid_t pid, long long kill_at,
                 unsigned long long term)
{
    char buf[65536];
    size_t len = 0;
    int killed = 0;
    long long hard_end = now_ms() + 20000;
    for (;;) {
        long long now = now_ms();
        if (!killed && kill_at && now >= kill_at) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        if (now > hard_end && !killed) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int timeout = (!killed && kill_at) ? (int)(kill_at - now) : 1000;
        if (poll(&pfd, 1, timeout < 0 ? 0 : timeout) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof(buf) - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            *nl = '\0';
            on_line(s, start, term);
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
    }
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: crash_test WRITER DIR KILLS SEED "
                        "[uring|sync|auto] [always|off]\n");
        return 1;
    }
    int kills = atoi(argv[3]);
    srand((unsigned)strtoul(argv[4], NULL, 10));
    char *io = argc > 5 ? argv[5] : "auto";
    char *fsync = argc > 6 ? argv[6] : "always";
    static struct state s;
    unsigned long long max_acked = 0;
    for (int run = 1; run <= kills + 1; run++) {
        char term[32];
        snprintf(term, sizeof(term), "%d", run);
        char *wargv[] = {argv[1], argv[2], term,
                         run <= kills ? "run" : "check", io, fsync, NULL};
        int fd;
        s.nruns = 0;
        s.last = s.bad = 0;
        s.snap_index = s.snap_term = 0;
        s.hs_term = 0;
        pid_t pid = spawn(wargv, &fd);
        if (pid < 0)
            return 1;
        long long kill_at = run <= kills ? now_ms() + 5 + rand() % 245 : 0;
        pump(&s, fd, pid, kill_at, (unsigned long long)run);
        int ws;
        waitpid(pid, &ws, 0);
        if (run > kills && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
            fail(&s, "checking run did not exit cleanly", ws, 0);
        if (run > kills && s.last == 0 && max_acked > 0)
            fail(&s, "checking run reported nothing", 0, 0);
        if (s.nacked && s.acked[s.nacked - 1].hi > max_acked)
            max_acked = s.acked[s.nacked - 1].hi;
        if (s.hs_term == 0 && run > 1 && s.last == 0)
            printf("run %d: killed during recovery\n", run);
        else if (s.snap_index)
            printf("run %d: recovered snapshot at %llu and log up to %llu, "
                   "acknowledged up to %llu%s\n", run, s.snap_index, s.last,
                   s.nacked ? s.acked[s.nacked - 1].hi : 0,
                   run <= kills ? ", killed" : "");
        else
            printf("run %d: recovered last index %llu, acknowledged up to "
                   "%llu%s\n", run, s.last,
                   s.nacked ? s.acked[s.nacked - 1].hi : 0,
                   run <= kills ? ", killed" : "");
    }
    printf("crash_test: %d kills, %llu entries acknowledged, %d failures\n",
           kills, max_acked, s.failures);
    return s.failures ? 1 : 0;
}
