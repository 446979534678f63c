/* The incremental RESP request parser. Pure: bytes in, argv slices out.
 * It keeps offsets (not pointers) into the current command so the caller
 * may move or grow its buffer between calls, and a big bulk is never
 * rescanned: each call resumes where the last one stopped. Multibulk and
 * inline requests, limits and error texts follow Redis 7 networking.c
 * (processMultibulkBuffer, processInlineBuffer); unlike Redis, "need more"
 * and "error" are different return values. A large last value can be
 * handed to the caller in pieces instead (resp_big_*), for it to read
 * straight into place. Knows nothing of sockets. */
#include "resp/resp.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

enum { KIND_NONE, KIND_INLINE, KIND_MB_COUNT, KIND_MB_ARGS };

#define RESP_INITIAL_SLOTS 16
/* Redis preallocates argv for at most this many arguments up front. */
#define RESP_PREALLOC_MAX 1024

int resp_parser_init(struct resp_parser *p, long long max_bulk_len,
                     resp_realloc_fn realloc_fn)
{
    memset(p, 0, sizeof(*p));
    p->max_bulk_len = max_bulk_len;
    p->bulk_len = -1;
    p->big_arg = -1;
    p->realloc_fn = realloc_fn ? realloc_fn : realloc;
    return 0;
}

void resp_parser_free(struct resp_parser *p)
{
    if (p->slots)
        p->realloc_fn(p->slots, 0);
    if (p->argv)
        p->realloc_fn(p->argv, 0);
    p->slots = NULL;
    p->argv = NULL;
    p->cap = 0;
}

/* Grows the argument arrays to hold at least n entries. */
static int reserve(struct resp_parser *p, long long n)
{
    if (n <= p->cap)
        return 0;
    long long cap = p->cap ? p->cap : RESP_INITIAL_SLOTS;
    while (cap < n)
        cap *= 2;
    struct resp_slot *slots =
        p->realloc_fn(p->slots, (size_t)cap * sizeof(*slots));
    if (slots == NULL)
        return ERR_NOMEM;
    p->slots = slots;
    struct resp_arg *argv = p->realloc_fn(p->argv, (size_t)cap * sizeof(*argv));
    if (argv == NULL)
        return ERR_NOMEM;
    p->argv = argv;
    p->cap = (int)cap;
    return 0;
}

static long fail(struct resp_parser *p, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
    va_end(ap);
    p->err = code;
    return code;
}

/* Readies the parser for the next command and returns `consumed`. */
static long finish(struct resp_parser *p, char *buf, size_t consumed)
{
    for (int i = 0; i < p->argc; i++) {
        p->argv[i].ptr = i == p->big_arg ? NULL : buf + p->slots[i].off;
        p->argv[i].len = p->slots[i].len;
    }
    p->kind = KIND_NONE;
    p->mb_left = 0;
    p->bulk_len = -1;
    p->pos = 0;
    p->need = 0;
    return (long)consumed;
}

int resp_string_to_ll(const char *s, size_t len, long long *out)
{
    if (len == 0 || len >= 21)
        return 0;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1)
            return 0;
    }
    if (s[i] < '1' || s[i] > '9')
        return 0;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        unsigned long long d = (unsigned long long)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

static int is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static int hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* The byte at i, or 0 past the end: Redis splits a C string, so the end
 * of the slice and an embedded NUL both end the line. */
#define AT(i) ((i) < len ? (unsigned char)line[i] : 0)

static const char *escape_map = "n\nr\rt\tb\ba\a";

/* Inside quote q, at a byte that is no escape: copies it, or at the
 * closing quote checks that a space or the end follows. Returns 1 at the
 * close, 0 to go on, -1 for unbalanced quotes. */
static int quoted_byte(char *line, size_t len, size_t *pi, size_t *pw, int q)
{
    int c = AT(*pi);
    if (c == 0)
        return -1;
    if (c == q) {
        if (AT(*pi + 1) && !is_space(AT(*pi + 1)))
            return -1;
        (*pi)++;
        return 1;
    }
    line[(*pw)++] = (char)c;
    (*pi)++;
    return 0;
}

/* Reads "<c><digits>\r\n" at *p; returns the number or -1. */
static long long peek_len(const char **p, const char *end, char c)
{
    const char *q = *p;
    if (q >= end || *q++ != c)
        return -1;
    long long v = 0;
    int digits = 0;
    while (q < end && *q >= '0' && *q <= '9' && digits < 18) {
        v = v * 10 + (*q++ - '0');
        digits++;
    }
    if (digits == 0 || end - q < 2 || q[0] != '\r' || q[1] != '\n')
        return -1;
    *p = q + 2;
    return v;
}

int resp_peek_arg(const char *buf, size_t len, int idx, struct resp_arg *arg)
{
    const char *p = buf, *end = buf + len;
    long long argc = peek_len(&p, end, '*');
    if (idx < 0 || argc <= idx)
        return 0;
    for (int i = 0;; i++) {
        long long n = peek_len(&p, end, '$');
        if (n < 0 || end - p < n + 2)
            return 0;
        if (i == idx) {
            arg->ptr = p;
            arg->len = (size_t)n;
            return 1;
        }
        p += n + 2;
    }
}

/* Reads one word starting at *pi into line[*pw...]; returns 0, or -1 for
 * unbalanced quotes. A closing quote must be followed by a space or the
 * end, as in sdssplitargs. */
static int split_word(char *line, size_t len, size_t *pi, size_t *pw)
{
    size_t i = *pi, w = *pw;
    int inq = 0, insq = 0;
    for (;;) {
        int c = AT(i);
        if (inq) {
            if (c == '\\' && AT(i + 1) == 'x' && is_hex(AT(i + 2)) &&
                is_hex(AT(i + 3))) {
                line[w++] = (char)(hex_val(AT(i + 2)) * 16 +
                                   hex_val(AT(i + 3)));
                i += 4;
                continue;
            }
            if (c == '\\' && AT(i + 1)) {
                int e = AT(i + 1);
                const char *m = strchr(escape_map, e);
                line[w++] = (m && (m - escape_map) % 2 == 0) ? m[1] : (char)e;
                i += 2;
                continue;
            }
            int rv = quoted_byte(line, len, &i, &w, '"');
            if (rv < 0)
                return -1;
            if (rv > 0)
                break;
        } else if (insq) {
            if (c == '\\' && AT(i + 1) == '\'') {
                line[w++] = '\'';
                i += 2;
                continue;
            }
            int rv = quoted_byte(line, len, &i, &w, '\'');
            if (rv < 0)
                return -1;
            if (rv > 0)
                break;
        } else {
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == 0)
                break;
            if (c == '"')
                inq = 1;
            else if (c == '\'')
                insq = 1;
            else
                line[w++] = (char)c;
            i++;
        }
    }
    *pi = i;
    *pw = w;
    return 0;
}

int resp_split_args(char *line, size_t len, struct resp_arg *argv, int max)
{
    size_t i = 0;
    int argc = 0;
    for (;;) {
        while (AT(i) && is_space(AT(i)))
            i++;
        if (!AT(i))
            return argc;
        if (argc == max)
            return -1;
        /* Each word is written where it starts; unescaping only shrinks
         * it, so the write position never passes the read position. */
        size_t start = i, w = i;
        if (split_word(line, len, &i, &w) < 0)
            return -1;
        argv[argc].ptr = line + start;
        argv[argc].len = w - start;
        argc++;
    }
}
#undef AT

static long parse_inline(struct resp_parser *p, char *buf, size_t len)
{
    char *nl = memchr(buf + p->pos, '\n', len - p->pos);
    if (nl == NULL) {
        if (len > RESP_INLINE_MAX)
            return fail(p, ERR_PROTOCOL, "Protocol error: too big inline request");
        p->pos = len;
        return 0;
    }
    size_t consumed = (size_t)(nl - buf) + 1;
    size_t linelen = consumed - 1;
    if (linelen > 0 && buf[linelen - 1] == '\r')
        linelen--;
    /* A line of n bytes holds at most (n + 1) / 2 words. */
    if (reserve(p, (long long)(linelen + 1) / 2 + 1) < 0)
        return fail(p, ERR_NOMEM, "out of memory");
    int argc = resp_split_args(buf, linelen, p->argv, p->cap);
    if (argc < 0)
        return fail(p, ERR_PROTOCOL,
                    "Protocol error: unbalanced quotes in request");
    for (int i = 0; i < argc; i++) {
        p->slots[i].off = (size_t)(p->argv[i].ptr - buf);
        p->slots[i].len = p->argv[i].len;
    }
    p->argc = argc;
    return finish(p, buf, consumed);
}

/* Finds the CR of a header line starting at `from`; returns its offset,
 * 0 when the line (CR LF) is not complete yet, <0 on a too long line. */
static long find_line(struct resp_parser *p, const char *buf, size_t len,
                      size_t from, const char *toolong)
{
    const char *cr = memchr(buf + from, '\r', len - from);
    if (cr == NULL) {
        if (len - from > RESP_INLINE_MAX)
            return fail(p, ERR_PROTOCOL, "Protocol error: %s", toolong);
        return 0;
    }
    /* Redis waits until the byte after CR has arrived, then skips it. */
    if ((size_t)(cr - buf) + 2 > len)
        return 0;
    return cr - buf;
}

static long parse_count(struct resp_parser *p, char *buf, size_t len)
{
    long cr = find_line(p, buf, len, 0, "too big mbulk count string");
    if (cr <= 0)
        return cr;
    long long n;
    if (!resp_string_to_ll(buf + 1, (size_t)cr - 1, &n) || n > INT_MAX)
        return fail(p, ERR_PROTOCOL, "Protocol error: invalid multibulk length");
    if (n > RESP_UNAUTH_MAX_ARGS && p->unauthenticated)
        return fail(p, ERR_PROTOCOL, "Protocol error: unauthenticated multibulk length");
    p->pos = (size_t)cr + 2;
    if (n <= 0) {
        p->argc = 0;
        return finish(p, buf, p->pos);
    }
    if (reserve(p, n < RESP_PREALLOC_MAX ? n : RESP_PREALLOC_MAX) < 0)
        return fail(p, ERR_NOMEM, "out of memory");
    p->kind = KIND_MB_ARGS;
    p->mb_left = n;
    p->argc = 0;
    p->bulk_len = -1;
    return 1;
}

static long parse_bulk_header(struct resp_parser *p, char *buf, size_t len)
{
    long cr = find_line(p, buf, len, p->pos, "too big bulk count string");
    if (cr <= 0)
        return cr;
    if (buf[p->pos] != '$')
        return fail(p, ERR_PROTOCOL, "Protocol error: expected '$', got '%c'",
                    buf[p->pos]);
    long long n;
    if (!resp_string_to_ll(buf + p->pos + 1, (size_t)cr - p->pos - 1, &n) ||
        n < 0 || n > p->max_bulk_len)
        return fail(p, ERR_PROTOCOL, "Protocol error: invalid bulk length");
    if (n > RESP_UNAUTH_MAX_BULK && p->unauthenticated)
        return fail(p, ERR_PROTOCOL, "Protocol error: unauthenticated bulk length");
    p->pos = (size_t)cr + 2;
    p->bulk_len = n;
    p->need = p->pos + (size_t)n + 2;
    return 1;
}

/* After a header: offers the value to the caller when it is the command's
 * last, large, and not all here yet (see resp.h). Returns 1 if offered. */
static int offer_big(struct resp_parser *p, char *buf, size_t len)
{
    if (p->big_min == 0 || p->mb_left != 1 ||
        (size_t)p->bulk_len < p->big_min ||
        len - p->pos >= (size_t)p->bulk_len)
        return 0;
    for (int i = 0; i < p->argc; i++) {
        p->argv[i].ptr = buf + p->slots[i].off;
        p->argv[i].len = p->slots[i].len;
    }
    p->big = RESP_BIG_OFFERED;
    return 1;
}

void resp_big_decline(struct resp_parser *p)
{
    p->big = RESP_BIG_NONE;
}

void resp_big_accept(struct resp_parser *p, const char *buf, size_t len,
                     struct resp_arg *first_piece)
{
    first_piece->ptr = buf + p->pos;
    first_piece->len = len - p->pos;
    p->big = RESP_BIG_STREAMING;
    p->big_got = len - p->pos;
    /* The buffer no longer has to hold the value: just its CRLF. */
    p->need = p->pos + 2;
}

size_t resp_big_want(const struct resp_parser *p)
{
    if (p->big != RESP_BIG_STREAMING)
        return 0;
    return (size_t)p->bulk_len - p->big_got;
}

void resp_big_put(struct resp_parser *p, size_t n)
{
    p->big_got += n;
}

/* The end of a streamed value: the command is complete once every value
 * byte is in place and the CRLF after it has arrived (skipped unread, as
 * Redis does). */
static long parse_big_tail(struct resp_parser *p, char *buf, size_t len)
{
    if (p->big_got < (size_t)p->bulk_len || len - p->pos < 2)
        return 0;
    if (p->argc == p->cap && reserve(p, (long long)p->cap + 1) < 0)
        return fail(p, ERR_NOMEM, "out of memory");
    p->slots[p->argc].off = p->pos;
    p->slots[p->argc].len = (size_t)p->bulk_len;
    p->big_arg = p->argc++;
    p->pos += 2;
    p->big = RESP_BIG_NONE;
    p->big_got = 0;
    p->mb_left = 0;
    return finish(p, buf, p->pos);
}

static long parse_multibulk(struct resp_parser *p, char *buf, size_t len)
{
    long rv;
    if (p->big == RESP_BIG_STREAMING)
        return parse_big_tail(p, buf, len);
    if (p->kind == KIND_MB_COUNT) {
        rv = parse_count(p, buf, len);
        if (rv <= 0 || p->kind == KIND_NONE)
            return rv;
    }
    while (p->mb_left > 0) {
        if (p->bulk_len < 0) {
            rv = parse_bulk_header(p, buf, len);
            if (rv <= 0)
                return rv;
            if (offer_big(p, buf, len))
                return 0;
        }
        if (len - p->pos < (size_t)p->bulk_len + 2)
            return 0;
        if (p->argc == p->cap && reserve(p, (long long)p->cap + 1) < 0)
            return fail(p, ERR_NOMEM, "out of memory");
        p->slots[p->argc].off = p->pos;
        p->slots[p->argc].len = (size_t)p->bulk_len;
        p->argc++;
        /* As Redis, the two bytes after the payload are skipped unread. */
        p->pos += (size_t)p->bulk_len + 2;
        p->bulk_len = -1;
        p->mb_left--;
    }
    return finish(p, buf, p->pos);
}

long resp_parse(struct resp_parser *p, char *buf, size_t len)
{
    if (p->err)
        return p->err;
    if (len == 0)
        return 0;
    if (p->big == RESP_BIG_OFFERED)
        resp_big_decline(p);
    if (p->kind == KIND_NONE) {
        p->big_arg = -1;
        p->argc = 0;
        p->pos = 0;
        p->need = 0;
        p->kind = buf[0] == '*' ? KIND_MB_COUNT : KIND_INLINE;
    }
    if (p->kind == KIND_INLINE)
        return parse_inline(p, buf, len);
    return parse_multibulk(p, buf, len);
}
