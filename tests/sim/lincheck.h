/* Linearizability checker for a history of register operations (read,
 * write, compare-and-set) on a set of keys. A Wing & Gong search with
 * memoisation of (linearized set, register value), as Porcupine and Knossos
 * do, run separately on each key (P-compositionality: a history is
 * linearizable iff every per-key sub-history is). An operation whose outcome
 * is unknown (timed out) may take effect at any point after its invocation,
 * or never; it is treated as completing at +infinity. The search is bounded
 * by a step budget so a pathological history yields LC_UNDECIDED. */
#ifndef RAFTCACHE_SIM_LINCHECK_H
#define RAFTCACHE_SIM_LINCHECK_H

#include <stddef.h>
#include <stdint.h>

/* The value of a key that was never written. */
#define LC_NIL INT64_MIN

enum lc_kind {
    LC_READ,  /* out: the value read (LC_NIL when absent) */
    LC_WRITE, /* arg: the value written */
    LC_CAS,   /* arg: expected, arg2: new; out: 1 swapped, 0 mismatch */
};

enum lc_result {
    LC_OK,      /* completed; out is meaningful */
    LC_FAIL,    /* definitely did not take effect (e.g. not leader) */
    LC_UNKNOWN, /* may or may not have taken effect (timeout) */
};

struct lc_op {
    uint64_t key;
    enum lc_kind kind;
    enum lc_result result;
    int64_t arg;
    int64_t arg2;
    int64_t out;
    uint64_t invoke;   /* invocation time (real-time order; an op that
                        * starts at the time another ends overlaps it) */
    uint64_t complete; /* completion time; ignored for LC_UNKNOWN */
    int client;        /* for reports only */
};

enum lc_verdict {
    LC_LINEARIZABLE,
    LC_NOT_LINEARIZABLE,
    LC_UNDECIDED, /* the step budget ran out */
};

struct lc_report {
    enum lc_verdict verdict;
    uint64_t steps;      /* search steps taken over all keys */
    uint64_t bad_key;    /* the first key found not linearizable / undecided */
    size_t bad_op;       /* index into the history of an op that could not be
                          * linearized at the deepest point reached */
    size_t deepest;      /* ops linearized at that point */
    size_t key_ops;      /* ops of bad_key that entered the search */
};

/* Checks ops[0..n) against a register per key starting at LC_NIL. budget
 * caps the total search steps (0: a default of 20 million). Failed ops are
 * dropped; reads of unknown outcome are dropped. */
enum lc_verdict lincheck_check(const struct lc_op *ops, size_t n,
                               uint64_t budget, struct lc_report *report);

/* "linearizable", "NOT linearizable", "undecided". */
const char *lincheck_verdict_str(enum lc_verdict v);

#endif
