/* libFuzzer target for the RESP parser. The input is both the byte stream
 * and, from its first byte, a seed for how the stream is cut into reads.
 * The stream is parsed whole and again in those pieces (compacting the
 * buffer between reads, as conn.c does); both runs must yield the same
 * commands and the same error, and every argv slice must lie inside the
 * buffer. AddressSanitizer catches any read outside it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp/resp.h"

#define FUZZ_MAX_BULK (1024 * 1024)

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
        memcpy(q + qlen, data + fed, n);
        qlen += n;
        fed += n;
        while (qpos < qlen) {
            long rv = resp_parse(&p, q + qpos, qlen - qpos);
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
