/* The on-disk format of log segments: encoding and decoding of segment
 * headers and records. Pure functions over byte buffers; the I/O lives in
 * wal.c. All integers are little-endian.
 *
 * Segment file "log-<seq, 16 hex digits>", preallocated to wal-segment-size
 * bytes of zeros (written, so that a group commit flushes data only):
 *
 *   offset  size  segment header (48 bytes)
 *        0     8  magic "RCWALSEG"
 *        8     4  format version (1)
 *       12     4  header size (48)
 *       16     8  sequence number (also in the file name)
 *       24     8  index of the first record in this segment
 *       32     8  reserved (0)
 *       40     8  XXH3-64 of bytes 0..39
 *
 *   then records back to back, each 8-byte aligned:
 *        0     4  payload length
 *        4     1  entry type (opaque to the WAL)
 *        5     3  reserved (0)
 *        8     8  term
 *       16     8  index
 *       24     8  checksum: XXH3-64 of the padded payload seeded with
 *                 the XXH3-64 of bytes 0..23 of this header
 *       32     …  payload, zero-padded to a multiple of 8
 *
 * A record header of 32 zero bytes marks the end of the data (the rest of
 * a preallocated segment is zeros). Records never span segments. Indexes
 * within a segment are consecutive and start at the header's first index;
 * the next segment starts where the previous one ended. */
#include "wal/wal_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "err.h"

void wal__seg_header_encode(uint8_t *out, uint64_t seq, uint64_t first_index)
{
    memset(out, 0, WAL_SEG_HDR);
    memcpy(out, WAL_SEG_MAGIC, 8);
    wal__put32(out + 8, WAL_SEG_VERSION);
    wal__put32(out + 12, WAL_SEG_HDR);
    wal__put64(out + 16, seq);
    wal__put64(out + 24, first_index);
    wal__put64(out + 40, XXH3_64bits(out, 40));
}

int wal__seg_header_decode(const uint8_t *in, uint64_t *seq,
                           uint64_t *first_index)
{
    if (memcmp(in, WAL_SEG_MAGIC, 8) != 0)
        return ERR_CORRUPT;
    if (wal__get64(in + 40) != XXH3_64bits(in, 40))
        return ERR_CORRUPT;
    if (wal__get32(in + 8) != WAL_SEG_VERSION ||
        wal__get32(in + 12) != WAL_SEG_HDR)
        return ERR_CORRUPT;
    *seq = wal__get64(in + 16);
    *first_index = wal__get64(in + 24);
    return 0;
}

static uint64_t rec_checksum(const uint8_t *hdr, const void *payload,
                             size_t len)
{
    return XXH3_64bits_withSeed(payload, len, XXH3_64bits(hdr, 24));
}

void wal__rec_encode(uint8_t *out, const struct wal_entry *e)
{
    size_t size = wal__rec_size(e->len);
    wal__put32(out, e->len);
    out[4] = e->type;
    out[5] = out[6] = out[7] = 0;
    wal__put64(out + 8, e->term);
    wal__put64(out + 16, e->index);
    if (e->len > 0)
        memcpy(out + WAL_REC_HDR, e->buf, e->len);
    memset(out + WAL_REC_HDR + e->len, 0, size - WAL_REC_HDR - e->len);
    wal__put64(out + 24,
          rec_checksum(out, out + WAL_REC_HDR, size - WAL_REC_HDR));
}

static int all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

long wal__rec_decode(const uint8_t *in, size_t avail, struct wal_entry *e)
{
    if (avail < WAL_REC_HDR)
        return all_zero(in, avail) ? 0 : ERR_CORRUPT;
    if (all_zero(in, WAL_REC_HDR))
        return 0;
    uint32_t len = wal__get32(in);
    if (len > WAL_ENTRY_MAX || in[5] || in[6] || in[7])
        return ERR_CORRUPT;
    size_t size = wal__rec_size(len);
    if (size > avail)
        return ERR_CORRUPT;
    if (wal__get64(in + 24) != rec_checksum(in, in + WAL_REC_HDR,
                                       size - WAL_REC_HDR))
        return ERR_CORRUPT;
    e->len = len;
    e->type = in[4];
    e->term = wal__get64(in + 8);
    e->index = wal__get64(in + 16);
    e->buf = in + WAL_REC_HDR;
    return (long)size;
}

void wal__seg_name(char *out, size_t len, uint64_t seq)
{
    snprintf(out, len, "log-%016" PRIx64, seq);
}

int wal__seg_parse_name(const char *name, uint64_t *seq)
{
    if (strncmp(name, "log-", 4) != 0 || strlen(name) != 20)
        return ERR_INVALID;
    char *end;
    *seq = strtoull(name + 4, &end, 16);
    return *end == '\0' ? 0 : ERR_INVALID;
}
