/* Keyspace commands, as Redis 7 db.c, expire.c and object.c: DEL UNLINK
 * EXISTS TYPE KEYS SCAN RANDOMKEY RENAME RENAMENX EXPIRE PEXPIRE EXPIREAT
 * PEXPIREAT (NX XX GT LT) TTL PTTL EXPIRETIME PEXPIRETIME PERSIST TOUCH
 * OBJECT. Expire times are absolute Unix ms computed from `now`; a time
 * already past deletes the key, as Redis' checkAlreadyExpired. */
#include "cmd/cmd_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void t_del(struct cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        struct store_key k;
        cmd__key(c, i, &k);
        n += store_delete(c->env->store, &k, (uint64_t)c->now);
    }
    c->env->dirty += (uint64_t)n;
    resp_add_int(c->out, n);
}

static struct store_entry *lookup_notouch(struct cmd_ctx *c, int i);

void t_exists(struct cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        n += lookup_notouch(c, i) != NULL;
    resp_add_int(c->out, n);
}

void t_touch(struct cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        struct store_key k;
        cmd__key(c, i, &k);
        n += store_lookup_read(c->env->store, &k, (uint64_t)c->now) != NULL;
    }
    resp_add_int(c->out, n);
}

/* Redis lookupKeyReadWithFlags(LOOKUP_NOTOUCH): counts a hit or a miss
 * but leaves the key's LRU/LFU alone (TYPE, TTL, OBJECT, EXISTS). */
static struct store_entry *lookup_notouch(struct cmd_ctx *c, int i)
{
    struct store_key k;
    cmd__key(c, i, &k);
    return store_lookup(c->env->store, &k,
                        STORE_LOOKUP_READ | STORE_LOOKUP_NOTOUCH,
                        (uint64_t)c->now);
}

void t_type(struct cmd_ctx *c)
{
    struct store_entry *e = lookup_notouch(c, 1);
    resp_add_status(c->out, e ? store_type_name(store_entry_type(e)) : "none");
}

struct keys_ctx {
    struct cmd_ctx *c;
    const char *pat;
    size_t patlen;
    int all;
    long long n;
};

static int keys_one(void *data, const struct store_entry *e)
{
    struct keys_ctx *k = data;
    const char *key = store_entry_key(e);
    size_t len = store_entry_key_len(e);
    if (!k->all && !config_glob_match(k->pat, k->patlen, key, len, 0))
        return 0;
    resp_add_bulk(k->c->out, key, len);
    k->n++;
    return 0;
}

void t_keys(struct cmd_ctx *c)
{
    struct keys_ctx k = {.c = c, .pat = c->argv[1].ptr,
                         .patlen = c->argv[1].len};
    k.all = k.patlen == 1 && k.pat[0] == '*';
    size_t at = resp_defer_len(c->out);
    store_foreach(c->env->store, STORE_ITER_LIVE, (uint64_t)c->now, keys_one, &k);
    resp_set_deferred_array(c->out, at, k.n);
}

/* ---- SCAN ---- */

struct scan_ctx {
    struct metrics_buf keys;   /* u32 length + bytes, repeated */
    long long n;
    const char *pat;
    size_t patlen;
    const char *type;
    size_t typelen;
};

static void scan_one(void *data, const struct store_entry *e)
{
    struct scan_ctx *s = data;
    const char *key = store_entry_key(e);
    uint32_t len = (uint32_t)store_entry_key_len(e);
    if (s->pat && !config_glob_match(s->pat, s->patlen, key, len, 0))
        return;
    if (s->type) {
        const char *t = store_type_name(store_entry_type(e));
        if (strlen(t) != s->typelen || strncasecmp(t, s->type, s->typelen))
            return;
    }
    metrics_buf_append(&s->keys, (const char *)&len, sizeof(len));
    metrics_buf_append(&s->keys, key, len);
    s->n++;
}

/* Redis parseScanCursorOrReply: strtoul over the argument as a C string,
 * so "" is cursor 0, "-1" wraps to the largest cursor, the bytes after an
 * embedded NUL are ignored, and a leading isspace() character or trailing
 * junk is "invalid cursor". */
static int cursor_or_reply(struct cmd_ctx *c, uint64_t *out)
{
    size_t n = strnlen(c->argv[1].ptr, c->argv[1].len);
    char small[64];
    char *buf = n < sizeof(small) ? small : malloc(n + 1);
    if (buf == NULL)
        abort();
    memcpy(buf, c->argv[1].ptr, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    int bad = isspace((unsigned char)buf[0]) || *end != '\0' || errno == ERANGE;
    if (buf != small)
        free(buf);
    if (bad) {
        cmd_fail(c, "invalid cursor");
        return -1;
    }
    *out = v;
    return 0;
}

static int scan_options(struct cmd_ctx *c, struct scan_ctx *s, long long *count)
{
    for (int j = 2; j < c->argc; j += 2) {
        int more = c->argc - j - 1;
        if (cmd__arg_is(c, j, "count") && more >= 1) {
            if (cmd__ll_or_reply(c, j + 1, count) < 0)
                return -1;
            if (*count < 1) {
                cmd_fail(c, CMD_ERR_SYNTAX);
                return -1;
            }
        } else if (cmd__arg_is(c, j, "match") && more >= 1) {
            s->pat = c->argv[j + 1].ptr;
            s->patlen = c->argv[j + 1].len;
            if (s->patlen == 1 && s->pat[0] == '*')
                s->pat = NULL;
        } else if (cmd__arg_is(c, j, "type") && more >= 1) {
            s->type = c->argv[j + 1].ptr;
            s->typelen = c->argv[j + 1].len;
        } else {
            cmd_fail(c, CMD_ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

void t_scan(struct cmd_ctx *c)
{
    uint64_t cursor;
    long long count = 10;
    struct scan_ctx s = {0};
    if (cursor_or_reply(c, &cursor) < 0 || scan_options(c, &s, &count) < 0)
        return;
    uint64_t next = store_scan(c->env->store, cursor, (size_t)count,
                               (uint64_t)c->now, scan_one, &s);
    resp_add_array(c->out, 2);
    char buf[24];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)next);
    resp_add_bulk_cstr(c->out, buf);
    resp_add_array(c->out, s.n);
    for (size_t off = 0; off < s.keys.len;) {
        uint32_t len;
        memcpy(&len, s.keys.p + off, sizeof(len));
        resp_add_bulk(c->out, s.keys.p + off + sizeof(len), len);
        off += sizeof(len) + len;
    }
    metrics_buf_free(&s.keys);
}

void t_randomkey(struct cmd_ctx *c)
{
    struct store_entry *e = store_random(c->env->store, (uint64_t)c->now);
    if (e == NULL)
        resp_add_null(c->out);
    else
        resp_add_bulk(c->out, store_entry_key(e), store_entry_key_len(e));
}

/* Redis renameGenericCommand. */
static void rename_generic(struct cmd_ctx *c, int nx)
{
    struct store_key src, dst;
    cmd__key(c, 1, &src);
    cmd__key(c, 2, &dst);
    int same = c->argv[1].len == c->argv[2].len &&
               memcmp(c->argv[1].ptr, c->argv[2].ptr, c->argv[1].len) == 0;
    if (store_lookup_write(c->env->store, &src, (uint64_t)c->now) == NULL) {
        cmd_fail(c, CMD_ERR_NOKEY);
        return;
    }
    if (same) {
        resp_add_raw(c->out, nx ? ":0\r\n" : "+OK\r\n", nx ? 4 : 5);
        return;
    }
    if (nx && store_lookup_write(c->env->store, &dst, (uint64_t)c->now) != NULL) {
        resp_add_int(c->out, 0);
        return;
    }
    int rv = store_rename(c->env->store, &src, &dst, (uint64_t)c->now, NULL);
    if (rv == ERR_NOTFOUND) {
        cmd_fail(c, CMD_ERR_NOKEY);
        return;
    }
    if (rv < 0) {
        cmd_fail(c, CMD_ERR_OOM);
        return;
    }
    c->env->dirty++;
    resp_add_raw(c->out, nx ? ":1\r\n" : "+OK\r\n", nx ? 4 : 5);
}

void t_rename(struct cmd_ctx *c)
{
    rename_generic(c, 0);
}

void t_renamenx(struct cmd_ctx *c)
{
    rename_generic(c, 1);
}

/* ---- EXPIRE family ---- */

#define EX_NX 1
#define EX_XX 2
#define EX_GT 4
#define EX_LT 8

static int expire_flags_or_reply(struct cmd_ctx *c, int *flags)
{
    for (int j = 3; j < c->argc; j++) {
        if (cmd__arg_is(c, j, "nx"))
            *flags |= EX_NX;
        else if (cmd__arg_is(c, j, "xx"))
            *flags |= EX_XX;
        else if (cmd__arg_is(c, j, "gt"))
            *flags |= EX_GT;
        else if (cmd__arg_is(c, j, "lt"))
            *flags |= EX_LT;
        else {
            cmd_failf(c, "Unsupported option %.*s", (int)c->argv[j].len,
                      c->argv[j].ptr);
            return -1;
        }
    }
    if ((*flags & EX_NX) && (*flags & (EX_XX | EX_GT | EX_LT))) {
        cmd_fail(c, "NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((*flags & EX_GT) && (*flags & EX_LT)) {
        cmd_fail(c, "GT and LT options at the same time are not compatible");
        return -1;
    }
    return 0;
}

/* Whether NX/XX/GT/LT let `when` replace `cur` (-1: no expire). */
static int expire_allowed(int flags, int64_t cur, long long when)
{
    if ((flags & EX_NX) && cur != -1)
        return 0;
    if ((flags & EX_XX) && cur == -1)
        return 0;
    if ((flags & EX_GT) && (when <= cur || cur == -1))
        return 0;
    if ((flags & EX_LT) && cur != -1 && when >= cur)
        return 0;
    return 1;
}

static void expire_generic(struct cmd_ctx *c, long long base, int seconds)
{
    int flags = 0;
    long long when;
    if (expire_flags_or_reply(c, &flags) < 0 || cmd__ll_or_reply(c, 2, &when) < 0)
        return;
    if (seconds && (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)) {
        cmd_failf(c, "invalid expire time in '%s' command", c->cmd->name);
        return;
    }
    if (seconds)
        when *= 1000;
    if (when > LLONG_MAX - base) {
        cmd_failf(c, "invalid expire time in '%s' command", c->cmd->name);
        return;
    }
    when += base;
    struct store_key k;
    cmd__key(c, 1, &k);
    struct store_entry *e = store_lookup_write(c->env->store, &k, (uint64_t)c->now);
    if (e == NULL || !expire_allowed(flags, store_entry_expire(e), when)) {
        resp_add_int(c->out, 0);
        return;
    }
    c->env->dirty++;
    if (when <= c->now) {
        store_delete_entry(c->env->store, e);
        resp_add_int(c->out, 1);
        return;
    }
    if (store_entry_set_expire(c->env->store, &e, when) < 0) {
        cmd_fail(c, CMD_ERR_OOM);
        return;
    }
    resp_add_int(c->out, 1);
}

void t_expire(struct cmd_ctx *c)
{
    expire_generic(c, c->now, 1);
}

void t_pexpire(struct cmd_ctx *c)
{
    expire_generic(c, c->now, 0);
}

void t_expireat(struct cmd_ctx *c)
{
    expire_generic(c, 0, 1);
}

void t_pexpireat(struct cmd_ctx *c)
{
    expire_generic(c, 0, 0);
}

static void ttl_generic(struct cmd_ctx *c, int ms, int absolute)
{
    struct store_entry *e = lookup_notouch(c, 1);
    if (e == NULL) {
        resp_add_int(c->out, -2);
        return;
    }
    int64_t at = store_entry_expire(e);
    if (at == STORE_NO_EXPIRE) {
        resp_add_int(c->out, -1);
        return;
    }
    /* Redis rounds both TTL and EXPIRETIME to the nearest second. For a
     * time near LLONG_MAX (reachable with PXAT) ttl+500 is past LLONG_MAX:
     * unsigned here (ttl >= 0), which gives Redis' reply, 9223372036854776,
     * without signed overflow. */
    long long ttl = absolute ? at : at - c->now;
    if (ttl < 0)
        ttl = 0;
    long long secs = (long long)(((unsigned long long)ttl + 500) / 1000);
    resp_add_int(c->out, ms ? ttl : secs);
}

void t_ttl(struct cmd_ctx *c)
{
    ttl_generic(c, 0, 0);
}

void t_pttl(struct cmd_ctx *c)
{
    ttl_generic(c, 1, 0);
}

void t_expiretime(struct cmd_ctx *c)
{
    ttl_generic(c, 0, 1);
}

void t_pexpiretime(struct cmd_ctx *c)
{
    ttl_generic(c, 1, 1);
}

void t_persist(struct cmd_ctx *c)
{
    struct store_key k;
    cmd__key(c, 1, &k);
    struct store_entry *e = store_lookup_write(c->env->store, &k, (uint64_t)c->now);
    int rv = e ? store_entry_persist(c->env->store, &e) : 0;
    if (rv == 1)
        c->env->dirty++;
    resp_add_int(c->out, rv == 1);
}

/* ---- OBJECT ---- */

void t_object(struct cmd_ctx *c)
{
    cmd__reply_unknown_sub(c);
}

void t_object_encoding(struct cmd_ctx *c)
{
    struct store_entry *e = lookup_notouch(c, 2);
    if (e == NULL) {
        resp_add_null(c->out);
        return;
    }
    resp_add_bulk_cstr(c->out, store_encoding_name(store_entry_encoding(e)));
}

void t_object_freq(struct cmd_ctx *c)
{
    struct store_entry *e = lookup_notouch(c, 2);
    if (e == NULL) {
        resp_add_null(c->out);
        return;
    }
    if (!store_policy_is_lfu(c->env->store)) {
        cmd_fail(c, "An LFU maxmemory policy is not selected, access frequency "
                    "not tracked. Please note that when switching between "
                    "policies at runtime LRU and LFU data will take some time "
                    "to adjust.");
        return;
    }
    resp_add_int(c->out, store_entry_freq(c->env->store, e, (uint64_t)c->now));
}

void t_object_idletime(struct cmd_ctx *c)
{
    struct store_entry *e = lookup_notouch(c, 2);
    if (e == NULL) {
        resp_add_null(c->out);
        return;
    }
    if (store_policy_is_lfu(c->env->store)) {
        cmd_fail(c, "An LFU maxmemory policy is selected, idle time not "
                    "tracked. Please note that when switching between policies "
                    "at runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    resp_add_int(c->out, (long long)(store_entry_idle_ms(c->env->store, e,
                                                         (uint64_t)c->now) / 1000));
}

void t_object_refcount(struct cmd_ctx *c)
{
    struct store_entry *e = lookup_notouch(c, 2);
    if (e == NULL) {
        resp_add_null(c->out);
        return;
    }
    /* Redis shares the integers 0..9999 (OBJ_SHARED_REFCOUNT). */
    long long v;
    if (store_entry_encoding(e) == STORE_ENC_INT &&
        resp_string_to_ll(store_entry_value(e), store_entry_value_len(e), &v) &&
        v >= 0 && v < 10000) {
        resp_add_int(c->out, INT_MAX);
        return;
    }
    resp_add_int(c->out, 1);
}

void t_object_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        NULL};
    cmd__reply_help(c, lines);
}
