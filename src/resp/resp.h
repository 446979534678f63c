/* RESP: the incremental request parser and the reply encoder.
 * The parser is pure (no sockets, no clock): it is fed the bytes of the
 * query buffer from the start of the current command and hands back argv
 * as slices of that buffer, so a command costs no copy and no allocation.
 * The writer appends RESP2 or RESP3 replies to an output buffer that its
 * owner grows (the connection's buffer from the pool). Limits and protocol
 * error texts are Redis 7's (networking.c processMultibulkBuffer). */
#ifndef RAFTCACHE_RESP_H
#define RAFTCACHE_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Redis PROTO_INLINE_MAX_SIZE: the longest inline command, and the
 * longest count line we wait for before calling it garbage. */
#define RESP_INLINE_MAX (64 * 1024)
#define RESP_ERRMSG_LEN 160
#define RESP_MAX_MULTIBULK 2147483647LL
#define RESP_UNAUTH_MAX_ARGS 10
#define RESP_UNAUTH_MAX_BULK 16384

typedef void *(*resp_realloc_fn)(void *ptr, size_t size);

/* An argument: a slice of the query buffer, valid until the buffer moves. */
struct resp_arg {
    const char *ptr;
    size_t len;
};

struct resp_slot {
    size_t off;
    size_t len;
};

struct resp_parser {
    /* limits */
    long long max_bulk_len;
    /* Set by the owner while the client has not authenticated: Redis then
     * refuses more than 10 arguments and bulks above 16 KiB. */
    int unauthenticated;
    /* progress through the current command (offsets survive the buffer
     * being moved or grown between calls) */
    int kind;
    long long mb_left;
    long long bulk_len;
    size_t pos;
    size_t need;
    int argc;
    int cap;
    struct resp_slot *slots;
    struct resp_arg *argv;
    /* A large final bulk read straight into its final place (see
     * resp_big_accept): offered when at least big_min bytes long (0: never
     * offered); big is RESP_BIG_*, big_got the value bytes put in place,
     * big_arg the index of the argument whose bytes are not in the buffer
     * (its argv ptr is NULL), -1 when none. */
    size_t big_min;
    int big;
    size_t big_got;
    int big_arg;
    /* sticky error */
    int err;
    char errmsg[RESP_ERRMSG_LEN];
    resp_realloc_fn realloc_fn;
};

/* Initialises p; realloc_fn NULL means realloc (tests pass a failing one).
 * Returns 0 or ERR_NOMEM. */
int resp_parser_init(struct resp_parser *p, long long max_bulk_len,
                     resp_realloc_fn realloc_fn);
void resp_parser_free(struct resp_parser *p);

/* Parses at most one command. buf holds the bytes from the first byte of
 * the command being parsed (the same bytes as on the previous call plus
 * any new ones; the buffer may have moved). Inline commands are unescaped
 * in place, which is why buf is writable.
 * Returns >0: bytes consumed, p->argc/p->argv hold the command (argc may
 * be 0: an empty command that Redis skips silently); 0: need more bytes
 * (p->need, when non-zero, is the total this command will take); <0: a
 * protocol error, sticky, with Redis' reply text in p->errmsg (without
 * the "-ERR " prefix). */
long resp_parse(struct resp_parser *p, char *buf, size_t len);

/* Large values (Redis' big-arg path, memcached conn_nread). When the
 * header of the last bulk of a multibulk command announces at least
 * big_min bytes and fewer than that many have arrived, resp_parse returns
 * 0 with p->big == RESP_BIG_OFFERED: p->argv[0..argc) hold the arguments
 * before the value, p->bulk_len its length and p->pos where it starts in
 * buf. The caller then either declines (parsing goes on as usual, the
 * value in the buffer) or accepts and takes the value bytes itself: those
 * already in buf[pos, len) are handed out as the first piece, and the
 * caller removes them from its buffer, puts them and the rest in place
 * and reports each piece with resp_big_put. From then on the buffer holds
 * the command's header followed by what comes after the value (its CRLF
 * first). Once all bytes are put and the CRLF is there, resp_parse
 * returns the whole command with argv[big_arg].ptr NULL and .len the
 * value's length, for the caller to point at where it put the value. */
enum { RESP_BIG_NONE, RESP_BIG_OFFERED, RESP_BIG_STREAMING };
void resp_big_decline(struct resp_parser *p);
/* buf and len as given to the resp_parse call that offered. */
void resp_big_accept(struct resp_parser *p, const char *buf, size_t len,
                     struct resp_arg *first_piece);
/* Value bytes still to be put in place (0 when not streaming). */
size_t resp_big_want(const struct resp_parser *p);
void resp_big_put(struct resp_parser *p, size_t n);

/* Splits a line as Redis sdssplitargs does (spaces, "double quotes" with
 * \n \r \t \b \a \xHH escapes, 'single quotes' with \'), unescaping in
 * place. Returns argc (argv holds slices of line), or -1 for unbalanced
 * quotes or more than max words. */
int resp_split_args(char *line, size_t len, struct resp_arg *argv, int max);

/* Argument idx of one complete multibulk in buf, without a parser: a
 * quick look (a command's key before it runs). Returns 1 and the slice,
 * or 0 when buf is not a multibulk with that many bulk arguments. */
int resp_peek_arg(const char *buf, size_t len, int idx, struct resp_arg *arg);

/* string2ll of Redis: the whole slice must be a canonical 64-bit decimal.
 * Returns 1 on success. */
int resp_string_to_ll(const char *s, size_t len, long long *out);

/* ---- replies ---- */

struct resp_out;
/* Makes room for `need` more bytes; returns 0 or ERR_NOMEM. */
typedef int (*resp_grow_fn)(struct resp_out *o, size_t need);

struct resp_out {
    char *data;
    size_t len;
    size_t cap;
    int proto;          /* 2 or 3 (HELLO) */
    int muted;          /* CLIENT REPLY OFF/SKIP: replies are dropped */
    int failed;         /* a grow failed: the connection must close */
    unsigned long errors; /* error replies written (even when muted) */
    char last_error[16];  /* code of the last error ("ERR", "WRONGTYPE") */
    resp_grow_fn grow;
    void *owner;
};

void resp_add_raw(struct resp_out *o, const char *p, size_t len);
void resp_add_status(struct resp_out *o, const char *s);
void resp_add_ok(struct resp_out *o);
/* "-ERR msg" unless msg starts with '-' (then sent as is, e.g.
 * "-WRONGTYPE ..."); CR and LF in msg become spaces as in Redis. */
void resp_add_error(struct resp_out *o, const char *msg);
void resp_add_errorf(struct resp_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void resp_add_int(struct resp_out *o, long long v);
void resp_add_bulk(struct resp_out *o, const void *p, size_t len);
void resp_add_bulk_cstr(struct resp_out *o, const char *s);
void resp_add_bulk_ll(struct resp_out *o, long long v);
/* Long-double text the way Redis prints INCRBYFLOAT results. */
void resp_add_bulk_ldouble(struct resp_out *o, long double v);
void resp_add_null(struct resp_out *o);
void resp_add_null_array(struct resp_out *o);
void resp_add_array(struct resp_out *o, long long n);
void resp_add_map(struct resp_out *o, long long n);
void resp_add_set(struct resp_out *o, long long n);
void resp_add_double(struct resp_out *o, double d);
void resp_add_bool(struct resp_out *o, int b);
/* RESP3 verbatim string ("=" with a 3-letter format), bulk in RESP2. */
void resp_add_verbatim(struct resp_out *o, const char *p, size_t len,
                       const char *fmt3);

/* For replies whose length is known only at the end (KEYS, SCAN):
 * remember the offset, write the elements, then insert the header. */
size_t resp_defer_len(struct resp_out *o);
void resp_set_deferred_array(struct resp_out *o, size_t at, long long n);

/* Integer to decimal; returns the length written (buf >= 21 bytes). */
int resp_ll_to_str(char *buf, long long v);

#endif
