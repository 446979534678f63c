/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the peer
 * challenge-response handshake. Written here so the transport needs no
 * crypto library; checked against the FIPS 180-4 examples and RFC 4231.
 * Also a constant-time comparison for MACs, so a forger learns nothing
 * from how long a rejection takes. Not a general-purpose crypto API. */
#include "transport/transport_internal.h"

#include <string.h>

static const uint32_t k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* FIPS 180-4 §6.2.2: one 512-bit block into the state. */
static void compress(uint32_t h[8], const uint8_t block[64])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = load_be32(block + 4 * i);
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
                      ((e & f) ^ (~e & g)) + k256[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
                      ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void peer__sha256_init(struct peer_sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof(iv));
    s->total = 0;
    s->used = 0;
}

void peer__sha256_update(struct peer_sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->total += len;
    if (s->used > 0) {
        size_t take = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        len -= take;
        if (s->used < 64)
            return;
        compress(s->h, s->block);
        s->used = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        compress(s->h, p);
    memcpy(s->block, p, len);
    s->used = len;
}

/* FIPS 180-4 §5.1.1: a 1 bit, zeros, then the bit length in 64 bits. */
void peer__sha256_final(struct peer_sha256 *s, uint8_t out[PEER_SHA256_LEN])
{
    uint64_t bits = s->total * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (s->used < 56 ? 56 : 120) - s->used;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    peer__sha256_update(s, pad, padlen + 8);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, s->h[i]);
    memset(s, 0, sizeof(*s));
}

void peer__sha256(const void *data, size_t len, uint8_t out[PEER_SHA256_LEN])
{
    struct peer_sha256 s;
    peer__sha256_init(&s);
    peer__sha256_update(&s, data, len);
    peer__sha256_final(&s, out);
}

/* RFC 2104: keys longer than the block are hashed first, then padded. */
void peer__hmac_init(struct peer_hmac *m, const void *key, size_t keylen)
{
    uint8_t k[64] = {0}, pad[64];
    if (keylen > 64)
        peer__sha256(key, keylen, k);
    else if (keylen > 0)
        memcpy(k, key, keylen);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    peer__sha256_init(&m->inner);
    peer__sha256_update(&m->inner, pad, 64);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    peer__sha256_init(&m->outer);
    peer__sha256_update(&m->outer, pad, 64);
    memset(k, 0, sizeof(k));
    memset(pad, 0, sizeof(pad));
}

void peer__hmac_update(struct peer_hmac *m, const void *data, size_t len)
{
    peer__sha256_update(&m->inner, data, len);
}

void peer__hmac_final(struct peer_hmac *m, uint8_t out[PEER_SHA256_LEN])
{
    uint8_t inner[PEER_SHA256_LEN];
    peer__sha256_final(&m->inner, inner);
    peer__sha256_update(&m->outer, inner, sizeof(inner));
    peer__sha256_final(&m->outer, out);
}

void peer__hmac_sha256(const void *key, size_t keylen, const void *data,
                       size_t len, uint8_t out[PEER_SHA256_LEN])
{
    struct peer_hmac m;
    peer__hmac_init(&m, key, keylen);
    peer__hmac_update(&m, data, len);
    peer__hmac_final(&m, out);
}

int peer__mac_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    /* Every byte is looked at whatever the earlier ones were. */
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}
