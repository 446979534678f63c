/* Batching: every write submitted during one loop iteration is copied once
 * (as a RESP multibulk behind a small header carrying the leader's clock)
 * into one growing blob, and the before-sleep hook proposes them all in one
 * PROPOSE event: one log append, one WAL write and fsync, one APPEND per
 * follower. Entries point into the blob, which the core and the WAL share
 * by reference. Reads are batched the same way: one READ event per
 * iteration (and per kind, lease or ReadIndex) answers all of them.
 * Does not decide what is a write or rewrite nondeterminism: the
 * dispatcher does that before submitting. */
#include "repl/repl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/resp.h"

#define BLOB_MIN 4096

void repl__blob_free(struct raft_buf *rb)
{
    struct repl_blob *b = (struct repl_blob *)rb;
    free(b->bytes);
    free(b);
}

struct repl_blob *repl__blob_new(size_t cap)
{
    struct repl_blob *b = malloc(sizeof(*b));
    if (b == NULL)
        return NULL;
    b->rb = (struct raft_buf){1, repl__blob_free};
    b->len = 0;
    b->cap = cap < BLOB_MIN ? BLOB_MIN : cap;
    if ((b->bytes = malloc(b->cap)) == NULL) {
        free(b);
        return NULL;
    }
    return b;
}

int repl__blob_reserve(struct repl_blob *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap * 2;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = realloc(b->bytes, cap);
    if (p == NULL)
        return ERR_NOMEM;
    b->bytes = p;
    b->cap = cap;
    return 0;
}

static void put_i64(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(u >> (8 * i));
}

/* Opens room for one entry of len payload bytes in the batch; returns
 * where the payload goes, after the header (NULL: no memory). */
static uint8_t *batch_add(struct repl *r, void *owner, size_t len,
                          uint8_t flags)
{
    if (r->batch == NULL && (r->batch = repl__blob_new(len * 16)) == NULL)
        return NULL;
    if (r->batch_n == r->batch_cap) {
        uint32_t cap = r->batch_cap ? r->batch_cap * 2 : 64;
        void **o = realloc(r->batch_owners, cap * sizeof(*o));
        if (o != NULL)
            r->batch_owners = o;
        uint32_t *f = realloc(r->batch_offs, cap * sizeof(*f));
        if (f != NULL)
            r->batch_offs = f;
        if (o == NULL || f == NULL)
            return NULL;
        r->batch_cap = cap;
    }
    if (repl__blob_reserve(r->batch, REPL_ENTRY_HEADER + len) < 0)
        return NULL;
    uint8_t *p = r->batch->bytes + r->batch->len;
    p[0] = REPL_ENTRY_VERSION;
    p[1] = flags;
    put_i64(p + 2, loop_now_ms(r->loop));
    if (r->batch_n == 0)
        r->batch_opened = repl__now(r);
    r->batch_owners[r->batch_n] = owner;
    r->batch_offs[r->batch_n++] = (uint32_t)r->batch->len;
    r->batch->len += REPL_ENTRY_HEADER + len;
    return p + REPL_ENTRY_HEADER;
}

static size_t ll_len(long long v)
{
    char tmp[24];
    return (size_t)resp_ll_to_str(tmp, v);
}

static uint8_t *put_header(uint8_t *p, char kind, long long n)
{
    *p++ = (uint8_t)kind;
    p += resp_ll_to_str((char *)p, n);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static int add_argv(struct repl *r, void *owner, int argc,
                    const struct resp_arg *argv, uint8_t flags)
{
    size_t len = 3 + ll_len(argc);
    for (int i = 0; i < argc; i++)
        len += 3 + ll_len((long long)argv[i].len) + argv[i].len + 2;
    if (REPL_ENTRY_HEADER + len > REPL_ENTRY_MAX)
        return ERR_TOOBIG;
    uint8_t *p = batch_add(r, owner, len, flags);
    if (p == NULL)
        return ERR_NOMEM;
    p = put_header(p, '*', argc);
    for (int i = 0; i < argc; i++) {
        p = put_header(p, '$', (long long)argv[i].len);
        memcpy(p, argv[i].ptr, argv[i].len);
        p += argv[i].len;
        *p++ = '\r';
        *p++ = '\n';
    }
    return 0;
}

int repl_submit_argv(struct repl *r, void *owner, int argc,
                     const struct resp_arg *argv)
{
    if (!repl_is_leader(r))
        return ERR_NOTLEADER;
    return add_argv(r, owner, argc, argv, 0);
}

int repl_propose_internal(struct repl *r, int argc,
                          const struct resp_arg *argv)
{
    if (!repl_is_leader(r))
        return ERR_NOTLEADER;
    return add_argv(r, NULL, argc, argv, 0);
}

int repl_submit_bytes(struct repl *r, void *owner, const void *cmd,
                      size_t len)
{
    if (!repl_is_leader(r))
        return ERR_NOTLEADER;
    uint8_t *p = batch_add(r, owner, len, 0);
    if (p == NULL)
        return ERR_NOMEM;
    memcpy(p, cmd, len);
    return 0;
}

/* A member's address as repl's own record (flag META): u64 id, u32 port,
 * u32 bus port, host bytes. */
static int add_meta(struct repl *r, const struct repl_member *m)
{
    size_t hl = strnlen(m->host, REPL_HOST_LEN - 1);
    uint8_t *p = batch_add(r, NULL, 16 + hl, REPL_ENTRY_META);
    if (p == NULL)
        return ERR_NOMEM;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(m->id >> (8 * i));
    for (int i = 0; i < 4; i++) {
        p[8 + i] = (uint8_t)((uint32_t)m->port >> (8 * i));
        p[12 + i] = (uint8_t)((uint32_t)m->bus_port >> (8 * i));
    }
    memcpy(p + 16, m->host, hl);
    return 0;
}

/* Every member's address goes into the log with the new one's, so that
 * any node replaying it (a joiner, a restart) can reach them all. */
int repl_add_node(struct repl *r, const char *host, int port, int bus_port,
                  uint64_t *id_out)
{
    if (!repl_is_leader(r))
        return ERR_NOTLEADER;
    struct repl_member m = {.id = raft_next_id(r->raft), .port = port,
                            .bus_port = bus_port};
    memcpy(m.host, host, strnlen(host, REPL_HOST_LEN - 1));
    for (uint32_t i = 0; i < r->n_members; i++)
        if (raft_config_find(raft_config(r->raft), r->members[i].id) &&
            add_meta(r, &r->members[i]) < 0)
            return ERR_NOMEM;
    if (add_meta(r, &m) < 0)
        return ERR_NOMEM;
    repl__member_set(r, &m);
    repl__propose_batch(r); /* the addresses go before the configuration */
    struct raft_event ev = {.type = RAFT_EVENT_CHANGE};
    ev.change.op = RAFT_CHANGE_ADD_LEARNER;
    ev.change.id = m.id;
    int rv = repl__step(r, &ev);
    if (rv == 0 && id_out != NULL)
        *id_out = m.id;
    return rv;
}

int repl_remove_node(struct repl *r, uint64_t id)
{
    struct raft_event ev = {.type = RAFT_EVENT_CHANGE};
    ev.change.op = RAFT_CHANGE_REMOVE;
    ev.change.id = id;
    return repl__step(r, &ev);
}

/* The open batch's blob is reused from batch to batch; one that a huge
 * write grew past BLOB_KEEP is let go, so that it does not stay that big. */
#define BLOB_KEEP (4u << 20)

static void batch_reset(struct repl *r)
{
    r->batch_n = 0;
    if (r->batch->cap > BLOB_KEEP) {
        raft_buf_release(&r->batch->rb);
        r->batch = NULL;
        return;
    }
    r->batch->len = 0;
}

static void wake_batch(struct repl *r, uint32_t from, int status)
{
    for (uint32_t i = from; i < r->batch_n; i++) {
        if (r->batch_owners[i] == NULL)
            continue;
        r->wakes++;
        r->cfg.wake(r->cfg.data, r->batch_owners[i], status);
    }
}

/* Whether the open batch waits: a leader keeps collecting while
 * pipeline_batches of its batches are proposed and not committed, and
 * proposes when one commits. Under load that is one batch per commit
 * round, so one WAL write and fsync per node per round, however the
 * writes spread over loop iterations (the fsyncs of all nodes compete
 * for the disk when they share a machine); with nothing in flight
 * nothing waits. Never longer than hold_max_ms, so that its writes get
 * their deadline even when nothing commits. */
bool repl__batch_waits(struct repl *r)
{
    uint64_t commit = raft_commit_index(r->raft);
    uint32_t k = 0;
    while (k < r->n_inflight && r->inflight[k] <= commit)
        k++;
    memmove(r->inflight, r->inflight + k,
            (r->n_inflight - k) * sizeof(r->inflight[0]));
    r->n_inflight -= k;
    if (r->cfg.pipeline_batches == 0 || raft_role(r->raft) != RAFT_LEADER) {
        r->n_inflight = 0;
        return false;
    }
    return r->n_inflight >= r->cfg.pipeline_batches &&
           repl__now(r) - r->batch_opened < r->cfg.hold_max_ms;
}

/* Closes the open batch: one PROPOSE for all of it; parks each owner at
 * proposed_index + i (raft.h rule 6). A refused batch wakes its owners
 * with the refusal (the caller redirects; nothing was appended). */
void repl__propose_batch(struct repl *r)
{
    uint32_t n = r->batch_n;
    struct repl_blob *b = r->batch;
    if (n == 0 || b == NULL)
        return;
    if (r->scratch_cap < n) {
        uint32_t cap = r->scratch_cap ? r->scratch_cap : 64;
        while (cap < n)
            cap *= 2;
        struct raft_entry *e = realloc(r->scratch_entries, cap * sizeof(*e));
        if (e == NULL)
            return;
        r->scratch_entries = e;
        struct wal_entry *w = realloc(r->scratch_wal, cap * sizeof(*w));
        if (w == NULL)
            return;
        r->scratch_wal = w;
        r->scratch_cap = cap;
    }
    /* The log keeps the batch until a snapshot releases it: it gets its
     * exact bytes in the log arena, and the blob stays to collect the next. */
    struct repl_logbuf *lb = repl__logbuf_new(r, b->len);
    if (lb == NULL)
        return;
    memcpy(lb->data, b->bytes, b->len);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t end = i + 1 < n ? r->batch_offs[i + 1] : (uint32_t)b->len;
        r->scratch_entries[i] = (struct raft_entry){
            .data = lb->data + r->batch_offs[i], .buf = &lb->rb,
            .len = end - r->batch_offs[i], .type = RAFT_ENTRY_NORMAL};
    }
    batch_reset(r);
    struct raft_event ev = {.type = RAFT_EVENT_PROPOSE};
    ev.propose.entries = r->scratch_entries;
    ev.propose.n = n;
    r->proposed_index = 0;
    int rv = r->failed ? ERR_IO : repl__step(r, &ev);
    r->stats.proposals++;
    if (rv < 0 || r->proposed_index == 0) {
        r->batch_n = n;
        wake_batch(r, 0, rv == ERR_NOTLEADER || rv == 0 ? ERR_NOTLEADER
                                                        : ERR_BUSY);
        r->batch_n = 0;
        raft_buf_release(&lb->rb);
        return;
    }
    r->stats.proposed += n;
    if (r->n_inflight < REPL_PIPELINE_MAX)
        r->inflight[r->n_inflight++] = r->proposed_index + n - 1;
    int64_t deadline = repl__now(r) + r->cfg.write_timeout_ms;
    for (uint32_t i = 0; i < n; i++) {
        struct repl_wait w = {r->proposed_index + i, r->proposed_term,
                              r->batch_owners[i], deadline};
        if (w.owner != NULL)
            repl__wait_push(r, &w);
    }
    raft_buf_release(&lb->rb);
}

static int push_read(struct repl *r, void *owner, bool lease)
{
    if (r->n_reads == r->reads_cap) {
        size_t cap = r->reads_cap ? r->reads_cap * 2 : 64;
        struct repl_read *p = realloc(r->reads, cap * sizeof(*p));
        if (p == NULL)
            return ERR_NOMEM;
        r->reads = p;
        r->reads_cap = cap;
    }
    r->reads[r->n_reads++] = (struct repl_read){
        .owner = owner, .req_id = r->read_seq * 2 + (lease ? 1 : 0),
        .deadline = repl__now(r) + r->cfg.write_timeout_ms};
    r->read_open[lease ? 1 : 0] = true;
    return 0;
}

int repl_submit_read(struct repl *r, void *owner, bool lease)
{
    if (!repl_is_leader(r))
        return ERR_NOTLEADER;
    return push_read(r, owner, lease);
}

/* The core sends READ_INDEX to the leader for a follower's READ event and
 * answers it with the leader's index; a follower has no lease. */
int repl_submit_follower_read(struct repl *r, void *owner)
{
    if (r->failed) /* it could not ask the leader: it sends nothing */
        return ERR_NOTLEADER;
    if (repl_is_leader(r))
        return push_read(r, owner, false);
    if (repl_leader_id(r) == 0)
        return ERR_NOTLEADER;
    return push_read(r, owner, false);
}

/* One READ event per kind for every read of this iteration. */
void repl__step_reads(struct repl *r)
{
    uint64_t seq = r->read_seq++;
    for (int lease = 0; lease < 2; lease++) {
        if (!r->read_open[lease])
            continue;
        r->read_open[lease] = false;
        struct raft_event ev = {.type = RAFT_EVENT_READ};
        ev.read.req_id = seq * 2 + (uint64_t)lease;
        ev.read.lease = lease;
        r->stats.reads++;
        int rv = repl__step(r, &ev);
        if (rv < 0) {
            struct raft_read fail = {ev.read.req_id, 0, rv};
            struct raft_update u = {.reads = &fail, .n_reads = 1};
            repl__answer_reads(r, &u);
        }
    }
}
