/* Shared inside transport/ only: SHA-256 and HMAC (peer_sha256.c), the
 * transport, peer and link structures, and the functions the files of the
 * room call in each other (peer.c: peers and queues; peer_link.c: sockets,
 * reads and writes; peer_auth.c: the handshake). Nothing here is a public
 * interface: other rooms use transport.h. */
#ifndef RAFTCACHE_TRANSPORT_INTERNAL_H
#define RAFTCACHE_TRANSPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/uio.h>

#include "transport/transport.h"

/* ---- SHA-256 / HMAC-SHA256 (peer_sha256.c) ---- */

#define PEER_SHA256_LEN 32

struct peer_sha256 {
    uint32_t h[8];
    uint64_t total;
    uint8_t block[64];
    size_t used;
};

struct peer_hmac {
    struct peer_sha256 inner, outer;
};

void peer__sha256_init(struct peer_sha256 *s);
void peer__sha256_update(struct peer_sha256 *s, const void *data, size_t len);
void peer__sha256_final(struct peer_sha256 *s, uint8_t out[PEER_SHA256_LEN]);
void peer__sha256(const void *data, size_t len, uint8_t out[PEER_SHA256_LEN]);
void peer__hmac_init(struct peer_hmac *m, const void *key, size_t keylen);
void peer__hmac_update(struct peer_hmac *m, const void *data, size_t len);
void peer__hmac_final(struct peer_hmac *m, uint8_t out[PEER_SHA256_LEN]);
void peer__hmac_sha256(const void *key, size_t keylen, const void *data,
                       size_t len, uint8_t out[PEER_SHA256_LEN]);
/* 1 when the len bytes are equal; time independent of where they differ. */
int peer__mac_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* ---- Structures ---- */

#define PEER_NONCE_LEN 32
#define PEER_HELLO_LEN (8 + 8 + PEER_NONCE_LEN)
#define PEER_CTL_CAP 128      /* control frames waiting to be written */
#define PEER_RBUF_MIN 65536   /* read buffer size to start with */
/* A grown read buffer is kept up to this size: batches of appends under
 * load are often a little over 64 KiB, and giving the memory back after
 * each one cost a realloc (an mmap, a copy and page faults) per frame. */
#define PEER_RBUF_KEEP (1u << 20)
#define PEER_IOV_MAX 512      /* iovecs per sendmsg (IOV_MAX is 1024) */
#define PEER_HANDSHAKE_FRAME_MAX 64 /* largest payload before AUTH passes */
#define PEER_PENDING_INBOUND_MAX 64 /* inbound links still handshaking */

/* One queued outbound frame: its header, then its payload in niov
 * segments. Copied frames keep their bytes in data[] (seg points at one);
 * vectored frames keep their segment list in data[]. */
struct peer_msg {
    struct peer_msg *next;
    uint8_t hdr[PEER_FRAME_HEADER_LEN];
    size_t len;                /* payload bytes, all segments */
    const struct iovec *iov;
    int niov;
    struct iovec one;          /* the segment of a single-buffer frame */
    peer_release_cb release;   /* NULL for copies */
    void *ctx;
    const void *release_buf;   /* handed back to release */
    _Alignas(struct iovec) uint8_t data[];
};

enum peer_state {
    PEER_CONNECTING = 0, /* dialling or in the handshake: frames queue */
    PEER_UP = 1,         /* outbound link authenticated: frames flow */
    PEER_BACKOFF = 2,    /* waiting to redial: frames are dropped */
};

struct peer_link {
    struct peer_transport *t;
    struct peer_link *next;      /* in t->links, then t->dead */
    struct peer *peer;           /* outbound: owner; inbound: after HELLO */
    int fd;
    struct loop_io *io;
    struct loop_timer *deadline; /* handshake timeout, NULL once done */
    bool outbound;
    bool connecting;             /* TCP connect not finished */
    bool got_hello;
    bool authed;
    bool closed;
    uint64_t remote_id;
    uint8_t my_nonce[PEER_NONCE_LEN];
    uint8_t their_nonce[PEER_NONCE_LEN];
    uint8_t ctl[PEER_CTL_CAP];   /* handshake frames, written first */
    size_t ctl_len, ctl_off;
    uint8_t *rbuf;
    size_t rlen, rcap;
    char addr[80];               /* "host:port" for logs */
};

struct peer {
    struct peer_transport *t;
    uint64_t id;
    char *host;
    int port;
    enum peer_state state;
    bool removed;
    bool blocked;               /* peer_block: no links, frames dropped */
    bool busy_reported;         /* ERR_BUSY returned since last drain */
    struct peer_link *out;
    struct loop_timer *redial;
    int attempts;               /* failed dials since the last success */
    struct peer_msg *head, *tail;
    size_t head_off;            /* bytes of head already written */
    struct peer_status st;      /* counters; the live fields are filled in
                                 * by peer_get_status */
    struct peer *next_dead;     /* in t->dead_peers once removed */
};

struct peer_transport {
    struct loop *loop;
    struct peer_config cfg;     /* secret points at our own copy */
    uint8_t *secret;
    int lfd;
    struct loop_io *lio;
    int port;
    struct peer **peers;
    size_t npeers, cap;
    struct peer_link *links;    /* live links */
    struct peer_link *dead;     /* closed, freed when no callback runs */
    struct peer *dead_peers;    /* removed, likewise */
    int depth;                  /* nesting of callbacks now running */
    uint64_t rng;
};

/* ---- peer.c ---- */
void peer__log(struct peer_transport *t, enum peer_log_level level,
               const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct peer *peer__find(const struct peer_transport *t, uint64_t id);
/* Marks entry into / exit from a callback; exit at depth 0 frees what was
 * closed or removed meanwhile. */
void peer__enter(struct peer_transport *t);
void peer__leave(struct peer_transport *t);
/* The outbound link of p failed or closed: drop the queue, schedule a
 * redial after the backoff. */
void peer__link_lost(struct peer *p);
/* A dial was refused (after peer__link_lost): counts it, tells on_gone. */
void peer__refused(struct peer *p);
/* The outbound link of p passed the handshake. */
void peer__link_up(struct peer *p);
/* Releases every queued frame of p, counting them as dropped. */
void peer__drop_queue(struct peer *p);
/* After a write: dequeue n written bytes of p's queue. */
void peer__consume(struct peer *p, size_t n);
/* Tells the owner the queue has room again, when it was told it had none. */
void peer__maybe_writable(struct peer *p);

/* ---- peer_link.c ---- */
int peer__listen(struct peer_transport *t, char errmsg[ERRMSG_LEN]);
void peer__dial(struct peer *p);
void peer__link_close(struct peer_link *l, const char *why);
void peer__link_write(struct peer_link *l);
/* Appends a control frame to l's control buffer. */
int peer__link_ctl(struct peer_link *l, uint8_t type, const void *payload,
                   size_t len);
void peer__link_free(struct peer_link *l);

/* ---- peer_auth.c ---- */
/* Starts the handshake on a new link: sends HELLO. 0 or ERR_IO. */
int peer__auth_start(struct peer_link *l);
/* Handles a transport-type frame; 0, or <0 when the link must close (the
 * reason is already logged). */
int peer__auth_frame(struct peer_link *l, const struct peer_frame *f);

#endif
