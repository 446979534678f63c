/* hiredis against a running server: the checks a C application relies on.
 * Connects to 127.0.0.1:<port> given on the command line and prints one
 * "PASS name" or "FAIL name: detail" line per check; the clients test layer
 * counts them. Covers reply types (status, bulk, nil, integer, error,
 * array), binary-safe arguments, a 1,000-command pipeline read back in
 * order, and a 1 MB value. The Debian hiredis (0.14) speaks RESP2 only. */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void report(const char *name, int ok, const char *fmt, ...)
{
    if (ok) {
        printf("PASS %s\n", name);
        return;
    }
    failures++;
    printf("FAIL %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* The reply is of TYPE and, for string-like types, equals TEXT. */
static int reply_is(const redisReply *r, int type, const char *text)
{
    if (r == NULL || r->type != type)
        return 0;
    if (text == NULL)
        return 1;
    return r->len == strlen(text) && memcmp(r->str, text, r->len) == 0;
}

static void check_cmd(redisContext *c, const char *name, int type,
                      const char *text, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);
    report(name, reply_is(r, type, text), "reply type %d '%s' (context: %s)",
           r ? r->type : -1, r && r->str ? r->str : "", c->errstr);
    freeReplyObject(r);
}

static void check_basic(redisContext *c)
{
    check_cmd(c, "hiredis_ping", REDIS_REPLY_STATUS, "PONG", "PING");
    check_cmd(c, "hiredis_set", REDIS_REPLY_STATUS, "OK", "SET hk hello");
    check_cmd(c, "hiredis_get", REDIS_REPLY_STRING, "hello", "GET hk");
    check_cmd(c, "hiredis_nil", REDIS_REPLY_NIL, NULL, "GET hk:missing");
    check_cmd(c, "hiredis_error", REDIS_REPLY_ERROR,
              "ERR value is not an integer or out of range", "INCR hk");

    redisReply *r = redisCommand(c, "DEL hn");
    freeReplyObject(r);
    r = redisCommand(c, "INCRBY hn 41");
    report("hiredis_integer", r && r->type == REDIS_REPLY_INTEGER && r->integer == 41,
           "got type %d", r ? r->type : -1);
    freeReplyObject(r);
}

static void check_binary(redisContext *c)
{
    const char val[] = "a\0b\r\nc";
    redisReply *r = redisCommand(c, "SET %b %b", "bin\0key", (size_t)7, val, sizeof(val) - 1);
    freeReplyObject(r);
    r = redisCommand(c, "GET %b", "bin\0key", (size_t)7);
    int ok = r && r->type == REDIS_REPLY_STRING && r->len == sizeof(val) - 1 &&
             memcmp(r->str, val, r->len) == 0;
    report("hiredis_binary_safe", ok, "value differs");
    freeReplyObject(r);
}

static void check_array(redisContext *c)
{
    redisReply *r = redisCommand(c, "MSET ha 1 hb 2");
    freeReplyObject(r);
    r = redisCommand(c, "MGET ha hb hk:missing");
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
             reply_is(r->element[0], REDIS_REPLY_STRING, "1") &&
             reply_is(r->element[1], REDIS_REPLY_STRING, "2") &&
             reply_is(r->element[2], REDIS_REPLY_NIL, NULL);
    report("hiredis_array", ok, "unexpected MGET reply");
    freeReplyObject(r);
}

static void check_pipeline(redisContext *c)
{
    enum { N = 1000 };
    for (int i = 0; i < N; i++)
        redisAppendCommand(c, "ECHO %d", i);
    int ok = 1;
    for (int i = 0; i < N && ok; i++) {
        redisReply *r = NULL;
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        ok = redisGetReply(c, (void **)&r) == REDIS_OK &&
             reply_is(r, REDIS_REPLY_STRING, want);
        freeReplyObject(r);
    }
    report("hiredis_pipeline_1000_in_order", ok, "%s", c->errstr);
}

static void check_large(redisContext *c)
{
    size_t n = 1 << 20;
    char *v = malloc(n);
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = (char)('a' + i % 26);
    redisReply *r = redisCommand(c, "SET hbig %b", v, n);
    freeReplyObject(r);
    r = redisCommand(c, "GET hbig");
    int ok = r && r->type == REDIS_REPLY_STRING && r->len == n && memcmp(r->str, v, n) == 0;
    report("hiredis_1mb_value", ok, "value differs");
    freeReplyObject(r);
    free(v);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s port\n", argv[0]);
        return 2;
    }
    struct timeval tv = { 10, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", atoi(argv[1]), tv);
    if (c == NULL || c->err) {
        report("hiredis_connect", 0, "%s", c ? c->errstr : "out of memory");
        return 1;
    }
    redisSetTimeout(c, tv);
    report("hiredis_connect", 1, "");
    check_basic(c);
    check_binary(c);
    check_array(c);
    check_pipeline(c);
    check_large(c);
    redisFree(c);
    return failures ? 1 : 0;
}
