/* Redis Cluster compatibility: key → slot hashing (CRC16/XMODEM mod 16384
 * with {hash tags}), the slot → Raft group map, the exact redirection and
 * CLUSTERDOWN error texts of Redis 7, and the CLUSTER command replies built
 * from a caller-supplied view of the nodes. Why: cluster-aware clients
 * compute slots themselves and follow -MOVED, so every byte must match
 * Redis. Knows nothing of sockets, Raft or the RESP writer: replies come
 * out as a neutral tree (struct cluster_reply) that the writer encodes. */
#ifndef RAFTCACHE_CLUSTER_H
#define RAFTCACHE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_SLOTS 16384
#define CLUSTER_NAMELEN 40 /* node ids are 40 hex characters, as Redis */
#define CLUSTER_NO_GROUP UINT32_MAX

/* ---- Hashing (cluster_slot.c) ---- */

/* CRC16/XMODEM (poly 0x1021, init 0), the variant of the Redis Cluster
 * specification: crc16("123456789") == 0x31C3. */
uint16_t cluster_crc16(const void *buf, size_t len);

/* The slot of a key. When the key holds a '{' followed later by a '}' with
 * at least one byte between them, only the bytes between the first '{' and
 * the first '}' after it are hashed; otherwise the whole key is (Redis
 * cluster.c keyHashSlot). */
unsigned cluster_keyslot(const void *key, size_t len);

/* The common slot of n keys, or -1 when they do not all hash to the same
 * slot (the caller replies CROSSSLOT). n == 0 returns -1 as well. */
int cluster_keys_slot(const char *const *keys, const size_t *lens, size_t n);

/* The 40-hex-character name CLUSTER NODES shows for a Raft node id: the
 * id in hex, zero-padded (ids are never reused, so neither are names).
 * out must hold CLUSTER_NAMELEN + 1 bytes. */
void cluster_node_name(uint64_t id, char out[CLUSTER_NAMELEN + 1]);

/* ---- Slot → group map (cluster_slot.c) ---- */

struct cluster_slot_map {
    uint32_t group[CLUSTER_SLOTS]; /* CLUSTER_NO_GROUP when unassigned */
};

/* Every slot unassigned. */
void cluster_map_init(struct cluster_slot_map *m);
/* One group owns all 16384 slots (the single-group deployment). */
void cluster_map_init_single(struct cluster_slot_map *m, uint32_t group);
/* Gives slots first..last (inclusive) to group. Returns 0 or ERR_INVALID
 * when the range is outside 0..16383 or reversed. */
int cluster_map_assign(struct cluster_slot_map *m, unsigned first,
                       unsigned last, uint32_t group);
/* The owner of a slot, CLUSTER_NO_GROUP when unassigned or out of range. */
uint32_t cluster_map_group(const struct cluster_slot_map *m, unsigned slot);
/* Number of slots that have an owner. */
unsigned cluster_map_assigned(const struct cluster_slot_map *m);

/* ---- Redirections and errors (cluster_reply.c) ---- */

/* Redis 7 getNodeByQuery error codes, same names. */
enum cluster_redir {
    CLUSTER_REDIR_NONE = 0,
    CLUSTER_REDIR_CROSS_SLOT,    /* keys hash to different slots */
    CLUSTER_REDIR_UNSTABLE,      /* multi-key during slot migration */
    CLUSTER_REDIR_ASK,           /* slot migrating: ask the target once */
    CLUSTER_REDIR_MOVED,         /* slot lives elsewhere */
    CLUSTER_REDIR_DOWN_STATE,    /* no quorum / no leader */
    CLUSTER_REDIR_DOWN_UNBOUND,  /* slot has no owner */
    CLUSTER_REDIR_DOWN_RO_STATE, /* down, reads still allowed */
};

/* Writes the error text of `redir` into buf (at most cap bytes, always NUL
 * terminated when cap > 0), without the leading '-' and trailing CRLF that
 * the RESP writer adds; e.g. "MOVED 3999 127.0.0.1:6381". slot, host and
 * port are used by MOVED and ASK only. Returns the length the full text
 * has (as snprintf: >= cap means it was cut), or -1 for REDIR_NONE. */
int cluster_format_redirect(char *buf, size_t cap, enum cluster_redir redir,
                            unsigned slot, const char *host, int port);

/* ---- CLUSTER command replies (cluster_reply.c) ---- */

enum cluster_role {
    CLUSTER_ROLE_PRIMARY = 0, /* the group's Raft leader ("master") */
    CLUSTER_ROLE_REPLICA = 1, /* a follower ("slave" / "replica") */
};

/* One node as CLUSTER NODES / SLOTS / SHARDS show it. Borrowed. */
struct cluster_node {
    char id[CLUSTER_NAMELEN + 1]; /* 40 hex characters, NUL-terminated */
    const char *host;             /* client-facing address */
    int port;                     /* client port */
    int bus_port;                 /* cluster bus port */
    uint32_t group;               /* Raft group it belongs to */
    enum cluster_role role;
    bool myself;
    bool link_connected;  /* our bus link to it is up (always for myself) */
    bool failed;          /* considered down (health "failed", flag fail) */
    uint64_t config_epoch;
    uint64_t repl_offset; /* applied index: "replication-offset" */
    int64_t ping_sent_ms; /* 0 when no ping is pending, as Redis */
    int64_t pong_recv_ms;
};

/* What CLUSTER INFO / NODES / SLOTS / SHARDS describe. Borrowed. */
struct cluster_view {
    const struct cluster_slot_map *map;
    const struct cluster_node *nodes;
    size_t nnodes;
    bool state_ok;          /* "cluster_state:ok" vs "fail" */
    uint64_t current_epoch; /* highest term known */
    uint64_t my_epoch;
    uint64_t messages_sent;
    uint64_t messages_received;
};

enum cluster_reply_type {
    CLUSTER_REPLY_INT = 0,
    CLUSTER_REPLY_BULK,     /* binary-safe string */
    CLUSTER_REPLY_VERBATIM, /* RESP3 "=txt:" (a bulk string in RESP2) */
    CLUSTER_REPLY_ARRAY,    /* n elements */
    CLUSTER_REPLY_MAP,      /* n key/value pairs: 2n elements; in RESP2 an
                             * array of 2n, in RESP3 a '%' map */
};

/* A reply tree, owned by whoever received it from a builder; free it with
 * cluster_reply_free. The RESP writer walks it. */
struct cluster_reply {
    enum cluster_reply_type type;
    long long integer;            /* INT */
    char *str;                    /* BULK, VERBATIM: owned, NUL-terminated */
    size_t len;                   /* BULK, VERBATIM */
    struct cluster_reply *elems;  /* ARRAY: n, MAP: 2n; owned */
    size_t n;
};

void cluster_reply_free(struct cluster_reply *r);

/* Builders. Each returns an owned tree; out of memory aborts (glue code).
 * CLUSTER KEYSLOT <key>: an integer. */
struct cluster_reply *cluster_reply_keyslot(const void *key, size_t len);
/* CLUSTER MYID: the bulk id of the node flagged myself (empty if none). */
struct cluster_reply *cluster_reply_myid(const struct cluster_view *v);
/* CLUSTER INFO: verbatim text, CRLF-terminated lines (Redis 7.0 fields). */
struct cluster_reply *cluster_reply_info(const struct cluster_view *v);
/* CLUSTER NODES: verbatim text, one LF-terminated line per node. */
struct cluster_reply *cluster_reply_nodes(const struct cluster_view *v);
/* CLUSTER SLOTS: [start, end, [host, port, id, {}], replicas...] per
 * contiguous range owned by a group that has a primary. */
struct cluster_reply *cluster_reply_slots(const struct cluster_view *v);
/* CLUSTER SHARDS: one map per group with nodes: {slots, nodes}. */
struct cluster_reply *cluster_reply_shards(const struct cluster_view *v);

/* The CLUSTER NODES text itself (owned, NUL-terminated), for tests and for
 * the nodes file; *len gets its length. */
char *cluster_nodes_text(const struct cluster_view *v, size_t *len);

#endif
