/* libFuzzer target for the RESP parser. The input is both the byte stream
 * and, from its first byte, a seed for how the stream is cut into reads.
 * The stream is parsed whole and again in those pieces (compacting the
 * buffer between reads, as conn.c does); both runs must yield the same
 * commands and the same error, and every argv slice must lie inside the
 * buffer. The split run also takes every large last value the parser
 * offers (big_min 8) into a buffer of its own, as the connection reads one
 * into its entry, so that path must yield the same commands too.
 * AddressSanitizer catches any read outside a buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp/resp.h"

#define FUZZ_MAX_BULK (1024 * 1024)
#define FUZZ_BIG_MIN 8

/* A value taken out of the buffer (resp_big_accept) and where it goes. */
struct big {
    char *val;
    size_t put;
};

/* Puts up to n bytes of data into the streaming value; returns how many. */
static size_t big_feed(struct resp_parser *p, struct big *b,
                       const uint8_t *data, size_t n)
{
    size_t want = resp_big_want(p);
    size_t k = n < want ? n : want;
    if (k == 0)
        return 0; /* no value taken (b->val may be NULL) */
    memcpy(b->val + b->put, data, k);
    b->put += k;
    resp_big_put(p, k);
    return k;
}

static void big_take(struct resp_parser *p, struct big *b, char *q,
                     size_t qpos, size_t *qlen)
{
    struct resp_arg first;
    resp_big_accept(p, q + qpos, *qlen - qpos, &first);
    b->val = realloc(b->val, (size_t)p->bulk_len + 1);
    memcpy(b->val, first.ptr, first.len);
    b->put = first.len;
    *qlen -= first.len;
}

struct digest {
    uint64_t h;
    long commands;
    int err;
};

static void mix(struct digest *d, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        d->h = (d->h ^ b[i]) * 1099511628211ULL;
    d->h = (d->h ^ len) * 1099511628211ULL;
}

static void parse(const uint8_t *data, size_t len, uint8_t seed,
                  struct digest *d)
{
    struct resp_parser p;
    resp_parser_init(&p, FUZZ_MAX_BULK, NULL);
    struct big b = {NULL, 0};
    if (seed)
        p.big_min = FUZZ_BIG_MIN;
    char *q = malloc(len + 1);
    size_t qlen = 0, qpos = 0, fed = 0;
    uint32_t x = seed ? seed : 1;
    memset(d, 0, sizeof(*d));
    d->h = 1469598103934665603ULL;
    while (fed < len && !d->err) {
        x = x * 1103515245u + 12345u;
        size_t n = seed ? 1 + (x >> 16) % 17 : len;
        if (n > len - fed)
            n = len - fed;
        memmove(q, q + qpos, qlen - qpos);
        qlen -= qpos;
        qpos = 0;
        size_t k = big_feed(&p, &b, data + fed, n);
        memcpy(q + qlen, data + fed + k, n - k);
        qlen += n - k;
        fed += n;
        while (qpos < qlen) {
            long rv = resp_parse(&p, q + qpos, qlen - qpos);
            if (rv == 0 && p.big == RESP_BIG_OFFERED) {
                big_take(&p, &b, q, qpos, &qlen);
                continue;
            }
            if (rv == 0)
                break;
            if (rv < 0) {
                d->err = (int)rv;
                mix(d, p.errmsg, strlen(p.errmsg));
                break;
            }
            if ((size_t)rv > qlen - qpos)
                abort();
            for (int i = 0; i < p.argc; i++) {
                if (i == p.big_arg) {
                    if (p.argv[i].ptr != NULL || b.put != p.argv[i].len)
                        abort();
                    mix(d, b.val, b.put);
                    continue;
                }
                if (p.argv[i].ptr < q + qpos ||
                    p.argv[i].ptr + p.argv[i].len > q + qpos + (size_t)rv)
                    abort();
                mix(d, p.argv[i].ptr, p.argv[i].len);
            }
            mix(d, &p.argc, sizeof(p.argc));
            d->commands++;
            qpos += (size_t)rv;
        }
    }
    resp_parser_free(&p);
    free(b.val);
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct digest whole, split;
    parse(data + 1, size - 1, 0, &whole);
    parse(data + 1, size - 1, data[0] | 1, &split);
    if (whole.h != split.h || whole.commands != split.commands ||
        whole.err != split.err)
        abort();
    return 0;
}
