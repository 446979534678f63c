/* Reply encoding for RESP2 and RESP3 into a connection's output buffer.
 * Every function appends one complete element; the buffer's owner grows
 * it (from the buffer pool) through o->grow, so nothing here allocates.
 * Shapes follow Redis 7 networking.c (addReplyDouble, addReplyMapLen,
 * addReplyNull, addReplyVerbatim): RESP3 types degrade to their RESP2
 * equivalents when the client has not said HELLO 3. */
#include "resp/resp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Makes room for n bytes; returns 0, or -1 when muted or out of memory. */
static int reserve(struct resp_out *o, size_t n)
{
    if (o->muted || o->failed)
        return -1;
    if (o->cap - o->len >= n)
        return 0;
    if (o->grow == NULL || o->grow(o, n) < 0) {
        o->failed = 1;
        return -1;
    }
    return 0;
}

int resp_ll_to_str(char *buf, long long v)
{
    char tmp[24];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

void resp_add_raw(struct resp_out *o, const char *p, size_t len)
{
    if (reserve(o, len) < 0)
        return;
    memcpy(o->data + o->len, p, len);
    o->len += len;
}

/* Writes "<prefix><n>\r\n". */
static void add_header(struct resp_out *o, char prefix, long long n)
{
    if (reserve(o, 24) < 0)
        return;
    char *d = o->data + o->len;
    d[0] = prefix;
    int l = resp_ll_to_str(d + 1, n);
    d[l + 1] = '\r';
    d[l + 2] = '\n';
    o->len += (size_t)l + 3;
}

void resp_add_status(struct resp_out *o, const char *s)
{
    size_t len = strlen(s);
    if (reserve(o, len + 3) < 0)
        return;
    char *d = o->data + o->len;
    d[0] = '+';
    memcpy(d + 1, s, len);
    d[len + 1] = '\r';
    d[len + 2] = '\n';
    o->len += len + 3;
}

void resp_add_ok(struct resp_out *o)
{
    resp_add_raw(o, "+OK\r\n", 5);
}

void resp_add_error(struct resp_out *o, const char *msg)
{
    size_t len = strlen(msg);
    o->errors++;
    /* The error code is the first word (Redis errorstats). */
    const char *code = msg[0] == '-' ? msg + 1 : "ERR";
    size_t cl = 0;
    while (code[cl] && code[cl] != ' ' && cl < sizeof(o->last_error) - 1) {
        o->last_error[cl] = code[cl];
        cl++;
    }
    o->last_error[cl] = '\0';
    if (reserve(o, len + 8) < 0)
        return;
    char *d = o->data + o->len;
    size_t n = 0;
    if (len == 0 || msg[0] != '-') {
        memcpy(d, "-ERR ", 5);
        n = 5;
    }
    /* A newline would end the error early and desync the client. */
    for (size_t i = 0; i < len; i++)
        d[n++] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    d[n++] = '\r';
    d[n++] = '\n';
    o->len += n;
}

void resp_add_errorf(struct resp_out *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    resp_add_error(o, buf);
}

void resp_add_int(struct resp_out *o, long long v)
{
    add_header(o, ':', v);
}

void resp_add_bulk(struct resp_out *o, const void *p, size_t len)
{
    if (reserve(o, len + 26) < 0)
        return;
    char *d = o->data + o->len;
    d[0] = '$';
    int l = resp_ll_to_str(d + 1, (long long)len);
    d += l + 1;
    d[0] = '\r';
    d[1] = '\n';
    memcpy(d + 2, p, len);
    d[len + 2] = '\r';
    d[len + 3] = '\n';
    o->len += (size_t)l + 1 + len + 4;
}

void resp_add_bulk_cstr(struct resp_out *o, const char *s)
{
    if (s == NULL) {
        resp_add_null(o);
        return;
    }
    resp_add_bulk(o, s, strlen(s));
}

void resp_add_bulk_ll(struct resp_out *o, long long v)
{
    char buf[24];
    int l = resp_ll_to_str(buf, v);
    resp_add_bulk(o, buf, (size_t)l);
}

void resp_add_bulk_ldouble(struct resp_out *o, long double v)
{
    char buf[5200];
    int l;
    if (isinf(v)) {
        l = snprintf(buf, sizeof(buf), "%s", v > 0 ? "inf" : "-inf");
    } else {
        /* Redis ld2string(LD_STR_HUMAN): 17 digits, trailing zeros cut. */
        l = snprintf(buf, sizeof(buf), "%.17Lf", v);
        if (l < 0 || (size_t)l >= sizeof(buf))
            l = 0;
        if (memchr(buf, '.', (size_t)l) != NULL) {
            while (l > 0 && buf[l - 1] == '0')
                l--;
            if (l > 0 && buf[l - 1] == '.')
                l--;
        }
        if (l == 2 && buf[0] == '-' && buf[1] == '0') {
            buf[0] = '0';
            l = 1;
        }
    }
    resp_add_bulk(o, buf, (size_t)l);
}

void resp_add_null(struct resp_out *o)
{
    if (o->proto >= 3)
        resp_add_raw(o, "_\r\n", 3);
    else
        resp_add_raw(o, "$-1\r\n", 5);
}

void resp_add_null_array(struct resp_out *o)
{
    if (o->proto >= 3)
        resp_add_raw(o, "_\r\n", 3);
    else
        resp_add_raw(o, "*-1\r\n", 5);
}

void resp_add_array(struct resp_out *o, long long n)
{
    add_header(o, '*', n);
}

void resp_add_map(struct resp_out *o, long long n)
{
    if (o->proto >= 3)
        add_header(o, '%', n);
    else
        add_header(o, '*', n * 2);
}

void resp_add_set(struct resp_out *o, long long n)
{
    add_header(o, o->proto >= 3 ? '~' : '*', n);
}

void resp_add_double(struct resp_out *o, double d)
{
    char buf[64];
    int l;
    if (isinf(d))
        l = snprintf(buf, sizeof(buf), "%s", d > 0 ? "inf" : "-inf");
    else
        l = snprintf(buf, sizeof(buf), "%.17g", d);
    if (o->proto < 3) {
        resp_add_bulk(o, buf, (size_t)l);
        return;
    }
    resp_add_raw(o, ",", 1);
    resp_add_raw(o, buf, (size_t)l);
    resp_add_raw(o, "\r\n", 2);
}

void resp_add_bool(struct resp_out *o, int b)
{
    if (o->proto >= 3)
        resp_add_raw(o, b ? "#t\r\n" : "#f\r\n", 4);
    else
        resp_add_raw(o, b ? ":1\r\n" : ":0\r\n", 4);
}

void resp_add_verbatim(struct resp_out *o, const char *p, size_t len,
                       const char *fmt3)
{
    if (o->proto < 3) {
        resp_add_bulk(o, p, len);
        return;
    }
    add_header(o, '=', (long long)len + 4);
    resp_add_raw(o, fmt3, 3);
    resp_add_raw(o, ":", 1);
    resp_add_raw(o, p, len);
    resp_add_raw(o, "\r\n", 2);
}

size_t resp_defer_len(struct resp_out *o)
{
    return o->len;
}

void resp_set_deferred_array(struct resp_out *o, size_t at, long long n)
{
    char hdr[24];
    hdr[0] = '*';
    int l = resp_ll_to_str(hdr + 1, n) + 1;
    hdr[l++] = '\r';
    hdr[l++] = '\n';
    if (o->muted || o->failed || at > o->len || reserve(o, (size_t)l) < 0)
        return;
    memmove(o->data + at + l, o->data + at, o->len - at);
    memcpy(o->data + at, hdr, (size_t)l);
    o->len += (size_t)l;
}
