/* The metadata file: Raft's hard state (current term, vote) and the node id.
 * Replaced atomically: written to "meta.tmp", fdatasynced, renamed over
 * "meta", then the directory is fsynced, so a crash leaves either the old
 * or the new contents, never a mix (the rename is the commit point).
 *
 *   offset  size  (48 bytes, little-endian)
 *        0     8  magic "RCWALMET"
 *        8     4  format version (1)
 *       12     4  reserved (0)
 *       16     8  node id
 *       24     8  term
 *       32     8  vote (0: none)
 *       40     8  XXH3-64 of bytes 0..39 */
#include "wal/wal_internal.h"

#include <string.h>
#include <xxhash.h>

#include "err.h"

#define META_MAGIC "RCWALMET"
#define META_VERSION 1
#define META_SIZE 48

static void meta_encode(uint8_t *out, const struct wal_hard_state *hs)
{
    memset(out, 0, META_SIZE);
    memcpy(out, META_MAGIC, 8);
    out[8] = META_VERSION;
    wal__put64(out + 16, hs->node_id);
    wal__put64(out + 24, hs->term);
    wal__put64(out + 32, hs->vote);
    wal__put64(out + 40, XXH3_64bits(out, 40));
}

static int meta_decode(const uint8_t *in, struct wal_hard_state *hs)
{
    if (memcmp(in, META_MAGIC, 8) != 0 || in[8] != META_VERSION)
        return ERR_CORRUPT;
    if (wal__get64(in + 40) != XXH3_64bits(in, 40))
        return ERR_CORRUPT;
    hs->node_id = wal__get64(in + 16);
    hs->term = wal__get64(in + 24);
    hs->vote = wal__get64(in + 32);
    return 0;
}

int wal__meta_load(struct wal_io *io, struct wal_hard_state *hs)
{
    int fd;
    int rv = io->ops->open(io, WAL_META_NAME, 0, &fd);
    if (rv != 0)
        return rv;
    uint8_t buf[META_SIZE];
    long n = io->ops->pread(io, fd, buf, sizeof(buf), 0);
    io->ops->close(io, fd);
    if (n < 0)
        return (int)n;
    if (n != META_SIZE)
        return ERR_CORRUPT;
    return meta_decode(buf, hs);
}

int wal__meta_save(struct wal_io *io, const struct wal_hard_state *hs)
{
    uint8_t buf[META_SIZE];
    meta_encode(buf, hs);
    int fd;
    int rv = io->ops->open(io, WAL_META_TMP, WAL_OPEN_CREATE | WAL_OPEN_TRUNC,
                           &fd);
    if (rv != 0)
        return rv;
    rv = io->ops->pwrite(io, fd, buf, sizeof(buf), 0);
    if (rv == 0)
        rv = io->ops->sync(io, fd);
    io->ops->close(io, fd);
    if (rv == 0)
        rv = io->ops->rename(io, WAL_META_TMP, WAL_META_NAME);
    if (rv == 0)
        rv = io->ops->sync_dir(io);
    return rv;
}
