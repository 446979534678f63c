/* XXH3 wrappers (libxxhash, runtime-dispatched SIMD): a seeded 64-bit hash
 * of bytes for the keyspace dict, and a streaming digest for keyspace
 * digests and checksums, and rendezvous hashing of items (slots) to nodes
 * (Raft groups). Fixed-width integers are fed little-endian so a
 * digest is the same on every host. Knows nothing of what it hashes. */
#ifndef RAFTCACHE_HASH_H
#define RAFTCACHE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t by value: no malloc */
#include <xxhash.h>

/* XXH3-64 of len bytes at p with `seed`. */
uint64_t hash_bytes(const void *p, size_t len, uint64_t seed);

/* Rendezvous (highest random weight) hashing: the index in nodes[0..n)
 * whose XXH3(item, node) score is highest, or -1 when n is 0. Adding a
 * node moves only the items it now wins (about 1/(n+1) of them) and
 * removing one moves only its own: how slots are assigned to Raft groups.
 * Ties (equal scores) go to the lower index. */
long hash_rendezvous(uint64_t item, const uint64_t *nodes, size_t n,
                     uint64_t seed);

/* A streaming XXH3-64 digest, caller-allocated (no malloc). */
struct hash_digest {
    XXH3_state_t state;
};

void hash_digest_init(struct hash_digest *d, uint64_t seed);
void hash_digest_update(struct hash_digest *d, const void *p, size_t len);
/* Feeds v as 8 little-endian bytes. */
void hash_digest_u64(struct hash_digest *d, uint64_t v);
/* Feeds len as a u64 then the bytes: unambiguous for variable-length
 * fields ("ab"+"c" differs from "a"+"bc"). */
void hash_digest_field(struct hash_digest *d, const void *p, size_t len);
/* The digest of what was fed so far; d may be fed further. */
uint64_t hash_digest_final(const struct hash_digest *d);

#endif
