/* String commands, as Redis 7 t_string.c: GET SET (NX XX GET EX PX EXAT
 * PXAT KEEPTTL) SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX
 * INCR DECR INCRBY DECRBY INCRBYFLOAT APPEND STRLEN GETRANGE SETRANGE.
 * Option parsing keeps Redis' quirks (which combinations are syntax
 * errors, which error comes first) because clients and tests see them.
 * Relative TTLs become absolute here, from `now`, as the leader will do
 * before proposing (DESIGN.md: EX turns into PXAT). */
#include "cmd/cmd_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

#define OPT_NX (1 << 0)
#define OPT_XX (1 << 1)
#define OPT_GET (1 << 2)
#define OPT_KEEPTTL (1 << 3)
#define OPT_PERSIST (1 << 4)
#define OPT_EX (1 << 5)
#define OPT_PX (1 << 6)
#define OPT_EXAT (1 << 7)
#define OPT_PXAT (1 << 8)
#define OPT_ANY_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

enum { FOR_SET, FOR_GETEX };

static void reply_oom(struct cmd_ctx *c)
{
    cmd_fail(c, CMD_ERR_OOM);
}

/* Redis parseExtendedStringArgumentsOrReply. *expire_i is the argv index
 * of the expire value, or 0. */
static int parse_options(struct cmd_ctx *c, int from, int kind, int *flags,
                         int *expire_i)
{
    for (int j = from; j < c->argc; j++) {
        int has_next = j + 1 < c->argc;
        int f = *flags;
        if (cmd__arg_is(c, j, "nx") && !(f & OPT_XX) && kind == FOR_SET) {
            *flags |= OPT_NX;
        } else if (cmd__arg_is(c, j, "xx") && !(f & OPT_NX) && kind == FOR_SET) {
            *flags |= OPT_XX;
        } else if (cmd__arg_is(c, j, "get") && kind == FOR_SET) {
            *flags |= OPT_GET;
        } else if (cmd__arg_is(c, j, "keepttl") && !(f & OPT_PERSIST) &&
                   !(f & OPT_ANY_EXPIRE) && kind == FOR_SET) {
            *flags |= OPT_KEEPTTL;
        } else if (cmd__arg_is(c, j, "persist") && kind == FOR_GETEX &&
                   !(f & OPT_ANY_EXPIRE) && !(f & OPT_KEEPTTL)) {
            *flags |= OPT_PERSIST;
        } else if (has_next && !(f & (OPT_KEEPTTL | OPT_PERSIST)) &&
                   ((cmd__arg_is(c, j, "ex") && !(f & (OPT_EXAT | OPT_PX | OPT_PXAT))) ||
                    (cmd__arg_is(c, j, "px") && !(f & (OPT_EX | OPT_EXAT | OPT_PXAT))) ||
                    (cmd__arg_is(c, j, "exat") && !(f & (OPT_EX | OPT_PX | OPT_PXAT))) ||
                    (cmd__arg_is(c, j, "pxat") && !(f & (OPT_EX | OPT_EXAT | OPT_PX))))) {
            *flags |= cmd__arg_is(c, j, "ex") ? OPT_EX
                      : cmd__arg_is(c, j, "px") ? OPT_PX
                      : cmd__arg_is(c, j, "exat") ? OPT_EXAT : OPT_PXAT;
            *expire_i = ++j;
        } else {
            cmd_fail(c, CMD_ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

static void reply_expire_error(struct cmd_ctx *c)
{
    cmd_failf(c, "invalid expire time in '%s' command", c->cmd->name);
}

/* Redis getExpireMillisecondsOrReply: the absolute expire in Unix ms. */
static int expire_ms_or_reply(struct cmd_ctx *c, int i, int flags,
                              int64_t *out)
{
    long long v;
    if (cmd__ll_or_reply(c, i, &v) < 0)
        return -1;
    int seconds = flags & (OPT_EX | OPT_EXAT);
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_expire_error(c);
        return -1;
    }
    if (seconds)
        v *= 1000;
    if (flags & (OPT_EX | OPT_PX)) {
        if (v > LLONG_MAX - c->now) {
            reply_expire_error(c);
            return -1;
        }
        v += c->now;
    }
    *out = v;
    return 0;
}

/* Replies the value of argv[i] for GET-like commands; returns -1 after a
 * WRONGTYPE reply. */
static int reply_get(struct cmd_ctx *c, int i, struct store_key *k)
{
    int wrong;
    struct store_entry *e = cmd__lookup_string(c, i, k, 0, &wrong);
    if (wrong)
        return -1;
    if (e == NULL)
        resp_add_null(c->out);
    else
        resp_add_bulk(c->out, store_entry_value(e), store_entry_value_len(e));
    return 0;
}

void t_get(struct cmd_ctx *c)
{
    struct store_key k;
    reply_get(c, 1, &k);
}

/* Commands whose last argument is stored as it is, and how many
 * arguments come before it. */
static const struct { const char *name; int before; } value_last[] = {
    {"set", 2}, {"setnx", 2}, {"getset", 2}, {"setex", 3}, {"psetex", 3}};

int cmd_reserve_value(struct cmd_env *env, int argc,
                      const struct resp_arg *argv, size_t vlen,
                      struct store_reservation *r)
{
    for (size_t i = 0; i < sizeof(value_last) / sizeof(value_last[0]); i++) {
        size_t n = strlen(value_last[i].name);
        if (argc != value_last[i].before || argv[0].len != n ||
            strncasecmp(argv[0].ptr, value_last[i].name, n) != 0)
            continue;
        struct store_key k;
        store_key_init(env->store, &k, argv[1].ptr, argv[1].len);
        /* SETEX and PSETEX: room for the expire, so publish moves nothing. */
        return store_reserve(env->store, &k, vlen, value_last[i].before == 3,
                             r);
    }
    return ERR_NOTFOUND;
}

void cmd_cancel_value(struct cmd_env *env, struct store_reservation *r)
{
    store_cancel(env->store, r);
}

/* Stores argv[val_i] under k: publishes the entry the value was read
 * into when there is one (cmd_reserve_value), else copies it. */
static int store_value(struct cmd_ctx *c, const struct store_key *k,
                       int val_i, int64_t expire, unsigned sflags)
{
    struct store_reservation *r = c->reserved;
    if (r != NULL && r->e != NULL && c->argv[val_i].ptr == r->value)
        return store_publish(c->env->store, r, expire, sflags,
                             (uint64_t)c->now, NULL);
    return store_set(c->env->store, k, c->argv[val_i].ptr,
                     c->argv[val_i].len, expire, sflags, (uint64_t)c->now,
                     NULL);
}

/* The common tail of SET, SETNX, SETEX, PSETEX (Redis setGenericCommand). */
static void set_generic(struct cmd_ctx *c, int flags, int key_i, int val_i,
                        int expire_i, const char *ok, const char *abort)
{
    int64_t expire = STORE_NO_EXPIRE;
    if (expire_i && expire_ms_or_reply(c, expire_i, flags, &expire) < 0)
        return;
    struct store_key k;
    if ((flags & OPT_GET) && reply_get(c, key_i, &k) < 0)
        return;
    cmd__key(c, key_i, &k);
    if (flags & (OPT_NX | OPT_XX)) {
        int found = store_lookup(c->env->store, &k, STORE_LOOKUP_WRITE,
                                 (uint64_t)c->now) != NULL;
        if (((flags & OPT_NX) && found) || ((flags & OPT_XX) && !found)) {
            if (!(flags & OPT_GET)) {
                if (abort)
                    resp_add_raw(c->out, abort, strlen(abort));
                else
                    resp_add_null(c->out);
            }
            return;
        }
    }
    unsigned sflags = (flags & OPT_KEEPTTL) ? STORE_SET_KEEPTTL : 0;
    if (store_value(c, &k, val_i, expire, sflags) < 0) {
        reply_oom(c);
        return;
    }
    c->env->dirty++;
    if (!(flags & OPT_GET))
        resp_add_raw(c->out, ok, strlen(ok));
}

void t_set(struct cmd_ctx *c)
{
    int flags = 0, expire_i = 0;
    if (parse_options(c, 3, FOR_SET, &flags, &expire_i) < 0)
        return;
    set_generic(c, flags, 1, 2, expire_i, "+OK\r\n", NULL);
}

void t_setnx(struct cmd_ctx *c)
{
    set_generic(c, OPT_NX, 1, 2, 0, ":1\r\n", ":0\r\n");
}

void t_setex(struct cmd_ctx *c)
{
    set_generic(c, OPT_EX, 1, 3, 2, "+OK\r\n", NULL);
}

void t_psetex(struct cmd_ctx *c)
{
    set_generic(c, OPT_PX, 1, 3, 2, "+OK\r\n", NULL);
}

void t_getset(struct cmd_ctx *c)
{
    struct store_key k;
    if (reply_get(c, 1, &k) < 0)
        return;
    if (store_value(c, &k, 2, STORE_NO_EXPIRE, 0) < 0) {
        /* The old value was already replied: as Redis, keep going. */
        return;
    }
    c->env->dirty++;
}

/* Looks up argv[1] as a string for GETDEL and GETEX; returns NULL once it
 * has replied WRONGTYPE, or a null bulk for a missing key. */
static struct store_entry *lookup_existing_or_reply(struct cmd_ctx *c,
                                                    struct store_key *k)
{
    int wrong;
    struct store_entry *e = cmd__lookup_string(c, 1, k, 0, &wrong);
    if (e == NULL && !wrong)
        resp_add_null(c->out);
    return e;
}

void t_getdel(struct cmd_ctx *c)
{
    struct store_key k;
    struct store_entry *e = lookup_existing_or_reply(c, &k);
    if (e == NULL)
        return;
    resp_add_bulk(c->out, store_entry_value(e), store_entry_value_len(e));
    store_delete_entry(c->env->store, e);
    c->env->dirty++;
}

void t_getex(struct cmd_ctx *c)
{
    int flags = 0, expire_i = 0;
    int64_t expire = STORE_NO_EXPIRE;
    if (parse_options(c, 2, FOR_GETEX, &flags, &expire_i) < 0)
        return;
    struct store_key k;
    struct store_entry *e = lookup_existing_or_reply(c, &k);
    if (e == NULL)
        return;
    /* Redis validates the time only once the key is known to exist. */
    if (expire_i && expire_ms_or_reply(c, expire_i, flags, &expire) < 0)
        return;
    resp_add_bulk(c->out, store_entry_value(e), store_entry_value_len(e));
    /* Redis checkAlreadyExpired: an absolute time in the past deletes. */
    if ((flags & (OPT_EXAT | OPT_PXAT)) && expire <= c->now) {
        store_delete_entry(c->env->store, e);
        c->env->dirty++;
    } else if (expire_i) {
        store_entry_set_expire(c->env->store, &e, expire);
        c->env->dirty++;
    } else if (flags & OPT_PERSIST) {
        if (store_entry_persist(c->env->store, &e) == 1)
            c->env->dirty++;
    }
}

void t_mget(struct cmd_ctx *c)
{
    resp_add_array(c->out, c->argc - 1);
    for (int i = 1; i < c->argc; i++) {
        struct store_key k;
        cmd__key(c, i, &k);
        struct store_entry *e = store_lookup_read(c->env->store, &k, (uint64_t)c->now);
        if (e == NULL || store_entry_type(e) != STORE_TYPE_STRING)
            resp_add_null(c->out);
        else
            resp_add_bulk(c->out, store_entry_value(e), store_entry_value_len(e));
    }
}

static void mset_generic(struct cmd_ctx *c, int nx)
{
    if (c->argc % 2 == 0) {
        cmd_failf(c, "wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    struct store_key k;
    if (nx) {
        for (int i = 1; i < c->argc; i += 2) {
            cmd__key(c, i, &k);
            if (store_lookup_write(c->env->store, &k, (uint64_t)c->now) != NULL) {
                resp_add_raw(c->out, ":0\r\n", 4);
                return;
            }
        }
    }
    for (int i = 1; i < c->argc; i += 2) {
        cmd__key(c, i, &k);
        if (store_set(c->env->store, &k, c->argv[i + 1].ptr, c->argv[i + 1].len,
                      STORE_NO_EXPIRE, 0, (uint64_t)c->now, NULL) < 0) {
            reply_oom(c);
            return;
        }
        c->env->dirty++;
    }
    if (nx)
        resp_add_raw(c->out, ":1\r\n", 4);
    else
        resp_add_ok(c->out);
}

void t_mset(struct cmd_ctx *c)
{
    mset_generic(c, 0);
}

void t_msetnx(struct cmd_ctx *c)
{
    mset_generic(c, 1);
}

/* Stores the new value of INCR-like commands: replaces *pe's value, or
 * sets k (no expire) when *pe is NULL, leaving the entry in *pe. Returns
 * -1 after the OOM reply. */
static int put_value_or_reply(struct cmd_ctx *c, struct store_key *k,
                              struct store_entry **pe, const char *v,
                              size_t len)
{
    int rv = *pe ? store_value_replace(c->env->store, pe, v, len)
                 : store_set(c->env->store, k, v, len, STORE_NO_EXPIRE, 0,
                             (uint64_t)c->now, pe);
    if (rv < 0) {
        reply_oom(c);
        return -1;
    }
    return 0;
}

/* Redis incrDecrCommand. */
static void incr_generic(struct cmd_ctx *c, long long incr)
{
    struct store_key k;
    int wrong;
    struct store_entry *e = cmd__lookup_string(c, 1, &k, 1, &wrong);
    if (wrong)
        return;
    long long value = 0;
    if (e != NULL && !resp_string_to_ll(store_entry_value(e),
                                        store_entry_value_len(e), &value)) {
        cmd_fail(c, CMD_ERR_NOT_INT);
        return;
    }
    if ((incr < 0 && value < 0 && incr < (LLONG_MIN - value)) ||
        (incr > 0 && value > 0 && incr > (LLONG_MAX - value))) {
        cmd_fail(c, "increment or decrement would overflow");
        return;
    }
    value += incr;
    char buf[24];
    int len = resp_ll_to_str(buf, value);
    if (put_value_or_reply(c, &k, &e, buf, (size_t)len) < 0)
        return;
    c->env->dirty++;
    resp_add_int(c->out, value);
}

void t_incr(struct cmd_ctx *c)
{
    incr_generic(c, 1);
}

void t_decr(struct cmd_ctx *c)
{
    incr_generic(c, -1);
}

void t_incrby(struct cmd_ctx *c)
{
    long long incr;
    if (cmd__ll_or_reply(c, 2, &incr) < 0)
        return;
    incr_generic(c, incr);
}

void t_decrby(struct cmd_ctx *c)
{
    long long incr;
    if (cmd__ll_or_reply(c, 2, &incr) < 0)
        return;
    if (incr == LLONG_MIN) {
        cmd_fail(c, "decrement would overflow");
        return;
    }
    incr_generic(c, -incr);
}

void t_incrbyfloat(struct cmd_ctx *c)
{
    struct store_key k;
    int wrong;
    struct store_entry *e = cmd__lookup_string(c, 1, &k, 1, &wrong);
    if (wrong)
        return;
    long double value = 0, incr;
    if (e != NULL && !cmd__string_to_ld(store_entry_value(e),
                                        store_entry_value_len(e), &value)) {
        cmd_fail(c, CMD_ERR_NOT_FLOAT);
        return;
    }
    if (cmd__ld_or_reply(c, 2, &incr) < 0)
        return;
    value += incr;
    if (isnan(value) || isinf(value)) {
        cmd_fail(c, "increment would produce NaN or Infinity");
        return;
    }
    /* Format once, store those bytes and reply them (Redis replies the
     * object it stored). */
    struct resp_out tmp_out = {0};
    char buf[5300];
    tmp_out.data = buf;
    tmp_out.cap = sizeof(buf);
    resp_add_bulk_ldouble(&tmp_out, value);
    const char *digits = memchr(buf, '\n', tmp_out.len) + 1;
    size_t dlen = tmp_out.len - (size_t)(digits - buf) - 2;
    if (put_value_or_reply(c, &k, &e, digits, dlen) < 0)
        return;
    store_entry_set_encoding(e, dlen <= STORE_EMBSTR_MAX ? STORE_ENC_EMBSTR
                                                         : STORE_ENC_RAW);
    c->env->dirty++;
    resp_add_raw(c->out, buf, tmp_out.len);
}

/* Redis checkStringLength. */
static int length_ok_or_reply(struct cmd_ctx *c, long long size, long long add)
{
    if (add > LLONG_MAX - size || size + add > c->env->cfg->proto_max_bulk_len) {
        cmd_fail(c, "string exceeds maximum allowed size (proto-max-bulk-len)");
        return 0;
    }
    return 1;
}

void t_append(struct cmd_ctx *c)
{
    struct store_key k;
    int wrong;
    struct store_entry *e = cmd__lookup_string(c, 1, &k, 1, &wrong);
    if (wrong)
        return;
    size_t add = c->argv[2].len;
    if (e == NULL) {
        if (store_set(c->env->store, &k, c->argv[2].ptr, add, STORE_NO_EXPIRE,
                      0, (uint64_t)c->now, NULL) < 0) {
            reply_oom(c);
            return;
        }
        c->env->dirty++;
        resp_add_int(c->out, (long long)add);
        return;
    }
    size_t old = store_entry_value_len(e);
    if (!length_ok_or_reply(c, (long long)old, (long long)add))
        return;
    if (store_value_resize(c->env->store, &e, old + add) < 0) {
        reply_oom(c);
        return;
    }
    memcpy(store_entry_value(e) + old, c->argv[2].ptr, add);
    c->env->dirty++;
    resp_add_int(c->out, (long long)(old + add));
}

void t_strlen(struct cmd_ctx *c)
{
    struct store_key k;
    int wrong;
    struct store_entry *e = cmd__lookup_string(c, 1, &k, 0, &wrong);
    if (wrong)
        return;
    resp_add_int(c->out, e ? (long long)store_entry_value_len(e) : 0);
}

void t_getrange(struct cmd_ctx *c)
{
    long long start, end;
    if (cmd__ll_or_reply(c, 2, &start) < 0 || cmd__ll_or_reply(c, 3, &end) < 0)
        return;
    struct store_key k;
    int wrong;
    struct store_entry *e = cmd__lookup_string(c, 1, &k, 0, &wrong);
    if (wrong)
        return;
    long long len = e ? (long long)store_entry_value_len(e) : 0;
    if (e == NULL || (start < 0 && end < 0 && start > end)) {
        resp_add_bulk(c->out, "", 0);
        return;
    }
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (start > end || len == 0) {
        resp_add_bulk(c->out, "", 0);
        return;
    }
    resp_add_bulk(c->out, store_entry_value(e) + start, (size_t)(end - start + 1));
}

/* A new key for SETRANGE: zeros up to offset, then the value. */
static int setrange_create(struct cmd_ctx *c, struct store_key *k,
                           long long offset)
{
    size_t vlen = (size_t)offset + c->argv[3].len;
    struct store_reservation r;
    struct store_entry *e;
    if (store_reserve(c->env->store, k, vlen, 0, &r) < 0)
        return ERR_NOMEM;
    memset(r.value, 0, (size_t)offset);
    memcpy(r.value + offset, c->argv[3].ptr, c->argv[3].len);
    if (store_publish(c->env->store, &r, STORE_NO_EXPIRE, 0, (uint64_t)c->now,
                      &e) < 0) {
        store_cancel(c->env->store, &r);
        return ERR_NOMEM;
    }
    store_entry_set_encoding(e, STORE_ENC_RAW);
    return 0;
}

void t_setrange(struct cmd_ctx *c)
{
    long long offset;
    if (cmd__ll_or_reply(c, 2, &offset) < 0)
        return;
    if (offset < 0) {
        cmd_fail(c, "offset is out of range");
        return;
    }
    struct store_key k;
    int wrong;
    struct store_entry *e = cmd__lookup_string(c, 1, &k, 1, &wrong);
    if (wrong)
        return;
    size_t add = c->argv[3].len;
    if (e == NULL) {
        if (add == 0) {
            resp_add_int(c->out, 0);
            return;
        }
        if (!length_ok_or_reply(c, offset, (long long)add))
            return;
        if (setrange_create(c, &k, offset) < 0) {
            reply_oom(c);
            return;
        }
        c->env->dirty++;
        resp_add_int(c->out, offset + (long long)add);
        return;
    }
    size_t old = store_entry_value_len(e);
    if (add == 0) {
        resp_add_int(c->out, (long long)old);
        return;
    }
    if (!length_ok_or_reply(c, offset, (long long)add))
        return;
    size_t need = (size_t)offset + add;
    size_t newlen = need > old ? need : old;
    if (store_value_resize(c->env->store, &e, newlen) < 0) {
        reply_oom(c);
        return;
    }
    if ((size_t)offset > old)
        memset(store_entry_value(e) + old, 0, (size_t)offset - old);
    memcpy(store_entry_value(e) + offset, c->argv[3].ptr, add);
    c->env->dirty++;
    resp_add_int(c->out, (long long)newlen);
}
