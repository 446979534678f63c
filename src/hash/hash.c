/* XXH3 wrappers and rendezvous hashing. The streaming digest keeps XXH3_state_t by value (static
 * linking API) so that digesting a keyspace never allocates. Integers are
 * serialised little-endian before hashing so digests agree across hosts. */
#include <string.h>

#include "hash/hash.h"

uint64_t hash_bytes(const void *p, size_t len, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, len, seed);
}

long hash_rendezvous(uint64_t item, const uint64_t *nodes, size_t n,
                     uint64_t seed)
{
    long best = -1;
    uint64_t best_score = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t pair[2] = {item, nodes[i]};
        uint64_t score = XXH3_64bits_withSeed(pair, sizeof(pair), seed);
        if (best < 0 || score > best_score) {
            best = (long)i;
            best_score = score;
        }
    }
    return best;
}

void hash_digest_init(struct hash_digest *d, uint64_t seed)
{
    XXH3_INITSTATE(&d->state);
    XXH3_64bits_reset_withSeed(&d->state, seed);
}

void hash_digest_update(struct hash_digest *d, const void *p, size_t len)
{
    if (len == 0)
        return;
    XXH3_64bits_update(&d->state, p, len);
}

void hash_digest_u64(struct hash_digest *d, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    XXH3_64bits_update(&d->state, b, sizeof(b));
}

void hash_digest_field(struct hash_digest *d, const void *p, size_t len)
{
    hash_digest_u64(d, (uint64_t)len);
    hash_digest_update(d, p, len);
}

uint64_t hash_digest_final(const struct hash_digest *d)
{
    return XXH3_64bits_digest(&d->state);
}
