/* Node-to-node links on the cluster bus port: one listener, one outbound
 * link per peer (reconnected with bounded, jittered exponential backoff),
 * length-prefixed frames, a byte-bounded queue per peer written with one
 * writev per flush, frames read into a buffer and handed up as slices.
 * Every link starts with a challenge-response handshake over a shared
 * secret (HMAC-SHA256 of both nonces and both node ids); nothing from an
 * unauthenticated link reaches on_frame. Frames are opaque: the Raft codec
 * lives in raft/. Like Redis Cluster's bus, each side sends on the link it
 * dialled and receives on the link it accepted, so there is no tie-break
 * between two links of one pair.
 *
 * Delivery: frames sent to one peer arrive in order while a link lasts.
 * When a link dies (or while a peer is in reconnect backoff), frames not
 * yet written are dropped and counted: Raft retransmits what matters.
 * Not done: per-frame MACs or encryption; an attacker who can hijack a TCP
 * connection after the handshake is out of scope (use a private network). */
#ifndef RAFTCACHE_TRANSPORT_H
#define RAFTCACHE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/uio.h>

#include "err.h"
#include "net/loop.h"

/* ---- Wire format (peer_frame.c) ----
 * Header, 8 bytes, big-endian: magic u16 "RC", version u8, type u8,
 * payload length u32. Types below PEER_TYPE_USER_MIN are the transport's
 * own (handshake); the rest are the caller's. */
#define PEER_FRAME_HEADER_LEN 8
#define PEER_FRAME_MAGIC 0x5243u
#define PEER_FRAME_VERSION 1
#define PEER_TYPE_HELLO 1 /* u64 sender id, u64 target id, nonce[32] */
#define PEER_TYPE_AUTH 2  /* HMAC-SHA256 proof[32] */
#define PEER_TYPE_USER_MIN 16
#define PEER_FRAME_LIMIT (1u << 30) /* largest max_frame accepted */

struct peer_frame {
    uint8_t type;
    uint32_t len;
    const uint8_t *payload; /* points into the parsed buffer */
};

/* Parses one frame at the start of buf[0..len). Returns the frame's total
 * size (> 0) when it is all there, 0 when more bytes are needed, and
 * ERR_PROTOCOL (bad magic or version) or ERR_TOOBIG (payload longer than
 * max_payload) when the stream is unusable. Never reads past buf + len.
 * max_payload must be <= PEER_FRAME_LIMIT. */
int peer_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload,
                     struct peer_frame *out);
/* Writes the 8-byte header of a frame. */
void peer_frame_header(uint8_t out[PEER_FRAME_HEADER_LEN], uint8_t type,
                       uint32_t len);

/* ---- Transport (peer.c, peer_link.c, peer_auth.c) ---- */

enum peer_log_level {
    PEER_LOG_WARNING = 0, /* a peer was dropped: bad secret, bad frame */
    PEER_LOG_NOTICE = 1,  /* a link came up or went down */
    PEER_LOG_VERBOSE = 2, /* each failed reconnect attempt */
};

/* Called with each frame from an authenticated peer. bytes points into the
 * link's read buffer and is valid only during the call (copy to keep).
 * May call peer_send, peer_remove and peer_drop_link; not peer_close. */
typedef void (*peer_frame_cb)(void *data, uint64_t peer, uint8_t type,
                              const uint8_t *bytes, size_t len);
/* Called when a peer's queue, after peer_send returned ERR_BUSY, has
 * drained to half its bound: sending may resume. May call peer_send. */
typedef void (*peer_writable_cb)(void *data, uint64_t peer);
/* Gives a zero-copy buffer back once it was written, dropped or the
 * transport closed. Must not call into the transport. */
typedef void (*peer_release_cb)(void *ctx, const void *buf, size_t len);
typedef void (*peer_log_cb)(void *data, enum peer_log_level level,
                            const char *msg);
/* Called when a dial to a peer is refused (ECONNREFUSED): no process
 * listens at its address, so its process is gone (or not yet started).
 * May call peer_send. */
typedef void (*peer_gone_cb)(void *data, uint64_t peer);

/* Zero fields take the default given beside them. */
struct peer_config {
    uint64_t node_id;        /* this node; nonzero */
    const char *bind;        /* listen address (read by peer_open only);
                              * NULL: "0.0.0.0" */
    int port;                /* cluster bus port; 0: any free (tests) */
    const void *secret;      /* cluster-secret, copied */
    size_t secret_len;
    uint32_t max_frame;      /* payload bytes, 64 MiB */
    size_t max_queue_bytes;  /* per-peer outbound bound, 64 MiB */
    int backoff_min_ms;      /* first reconnect delay, 100 */
    int backoff_max_ms;      /* reconnect delay ceiling, 5000 */
    int handshake_timeout_ms; /* drop links not authenticated by then, 3000 */
    int user_timeout_ms;     /* TCP_USER_TIMEOUT on outbound links, 10000 */
    int socket_buffer;       /* SO_SNDBUF/SO_RCVBUF bytes, 0: the kernel's */
    uint64_t seed;           /* for backoff jitter; any value */
    peer_frame_cb on_frame;  /* required */
    peer_writable_cb on_writable;
    peer_gone_cb on_gone;
    peer_log_cb log;         /* NULL: warnings and notices to stderr */
    void *data;              /* passed to the callbacks above */
};

/* What INFO raft shows of a peer. */
struct peer_status {
    uint64_t id;
    bool connected;       /* our outbound TCP connection is established */
    bool authenticated;   /* ... and passed the handshake */
    bool inbound;         /* an authenticated link from it exists */
    bool blocked;         /* partitioned away by peer_block */
    size_t bytes_queued;  /* header + payload bytes not yet written */
    size_t frames_queued;
    int64_t last_heard_ms; /* loop_mono_ms of the last frame, 0: never */
    uint64_t frames_sent, bytes_sent;
    uint64_t frames_received, bytes_received;
    uint64_t frames_dropped; /* lost with a link, or sent during backoff */
    uint64_t would_block;    /* sends refused with ERR_BUSY */
    uint64_t links_up;       /* successful outbound handshakes */
    uint64_t write_calls;    /* sendmsg calls that wrote queued frames */
    uint64_t auth_failures;  /* handshakes it failed, both directions */
    uint64_t refused;        /* dials refused: nothing listened */
};

struct peer_transport;

/* Listens on cfg->bind:cfg->port and adds a before-sleep hook that flushes
 * the queues. Returns an owned transport (free with peer_close), or NULL
 * with a reason in errmsg (bad config, address in use). */
struct peer_transport *peer_open(struct loop *loop,
                                 const struct peer_config *cfg,
                                 char errmsg[ERRMSG_LEN]);
/* Closes every link and the listener, releases every queued frame. Not
 * from inside a transport callback. */
void peer_close(struct peer_transport *t);
/* The bus port actually bound (useful with cfg->port == 0). */
int peer_local_port(const struct peer_transport *t);

/* Adds a peer and starts connecting to host:port. Adding a known id with a
 * new address moves it there (the link is dropped and redialled).
 * Returns 0, ERR_INVALID (id 0, our own id, bad port), or ERR_NOMEM. */
int peer_add(struct peer_transport *t, uint64_t id, const char *host,
             int port);
/* Forgets a peer: closes its links, releases its queue. 0 or
 * ERR_NOTFOUND. Its frames stop reaching on_frame at once. */
int peer_remove(struct peer_transport *t, uint64_t id);

/* Queues a copy of buf as one frame of `type` (>= PEER_TYPE_USER_MIN) to
 * peer id; it is written at the next flush. Returns 0 (queued, or dropped
 * and counted while the peer is in reconnect backoff), ERR_BUSY (the queue
 * is at its byte bound: wait for on_writable), ERR_TOOBIG (len >
 * max_frame), ERR_NOTFOUND or ERR_INVALID (reserved type). */
int peer_send(struct peer_transport *t, uint64_t id, uint8_t type,
              const void *buf, size_t len);
/* As peer_send, without copying: on 0 the transport borrows buf until it
 * calls release(ctx, buf, len) (possibly before returning, when the frame
 * is dropped at once). On an error, release is not called. */
int peer_send_zc(struct peer_transport *t, uint64_t id, uint8_t type,
                 const void *buf, size_t len, peer_release_cb release,
                 void *ctx);

/* As peer_send_zc for a payload in iovcnt (1..PEER_SENDV_MAX) segments,
 * written back to back as one frame (header + segments, no copy: e.g. a
 * Raft APPEND header and the log entries it carries). The segment list is
 * copied; the bytes are borrowed until release(ctx, NULL, total). */
#define PEER_SENDV_MAX 64
int peer_sendv_zc(struct peer_transport *t, uint64_t id, uint8_t type,
                  const struct iovec *iov, int iovcnt,
                  peer_release_cb release, void *ctx);

/* Writes every queued frame that can be written now, one writev per peer
 * link. The before-sleep hook calls it; repl may call it earlier to keep
 * the documented before-sleep order. */
void peer_flush(struct peer_transport *t);

/* Fills *st for peer id: 0 or ERR_NOTFOUND. */
int peer_get_status(const struct peer_transport *t, uint64_t id,
                    struct peer_status *st);
/* Stores up to max peer ids in ids; returns how many peers there are. */
size_t peer_list(const struct peer_transport *t, uint64_t *ids, size_t max);

/* Closes the current links with peer id at once, as a network failure
 * would; the outbound link is redialled after the backoff. For tests and
 * the DEBUG command. 0 or ERR_NOTFOUND. */
int peer_drop_link(struct peer_transport *t, uint64_t id);
/* Partitions this node from peer id (on) or heals it (off): while blocked,
 * its links are closed, it is not redialled, its inbound links are refused
 * after HELLO and frames sent to it are dropped and counted. For the
 * partition tests' DEBUG command. 0 or ERR_NOTFOUND. */
int peer_block(struct peer_transport *t, uint64_t id, bool on);

#endif
