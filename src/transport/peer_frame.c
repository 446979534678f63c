/* The frame codec of the cluster bus: an 8-byte big-endian header (magic,
 * version, type, payload length) before opaque bytes. Pure functions over
 * caller buffers, so the fuzzers and the link code share them. The parser
 * never reads past the bytes it is given and refuses a length above the
 * configured maximum before any byte of the payload arrives, so a peer
 * cannot make us buffer more than max_frame. */
#include "transport/transport.h"

void peer_frame_header(uint8_t out[PEER_FRAME_HEADER_LEN], uint8_t type,
                       uint32_t len)
{
    out[0] = (uint8_t)(PEER_FRAME_MAGIC >> 8);
    out[1] = (uint8_t)(PEER_FRAME_MAGIC & 0xff);
    out[2] = PEER_FRAME_VERSION;
    out[3] = type;
    out[4] = (uint8_t)(len >> 24);
    out[5] = (uint8_t)(len >> 16);
    out[6] = (uint8_t)(len >> 8);
    out[7] = (uint8_t)len;
}

int peer_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload,
                     struct peer_frame *out)
{
    /* Check what we have of the header as soon as it arrives: garbage is
     * refused at its first bytes rather than after 8. */
    if (len >= 1 && buf[0] != (PEER_FRAME_MAGIC >> 8))
        return ERR_PROTOCOL;
    if (len >= 2 && buf[1] != (PEER_FRAME_MAGIC & 0xff))
        return ERR_PROTOCOL;
    if (len >= 3 && buf[2] != PEER_FRAME_VERSION)
        return ERR_PROTOCOL;
    if (len < PEER_FRAME_HEADER_LEN)
        return 0;
    uint32_t plen = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
                    (uint32_t)buf[6] << 8 | (uint32_t)buf[7];
    if (plen > max_payload || plen > PEER_FRAME_LIMIT)
        return ERR_TOOBIG;
    if (len - PEER_FRAME_HEADER_LEN < plen)
        return 0;
    out->type = buf[3];
    out->len = plen;
    out->payload = buf + PEER_FRAME_HEADER_LEN;
    return (int)(PEER_FRAME_HEADER_LEN + plen);
}
