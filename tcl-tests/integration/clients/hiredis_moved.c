/* hiredis against a raftcache cluster, starting at any node (usually a
 * follower): every command goes through a loop that follows -MOVED <slot>
 * <host>:<port> by reconnecting there and retries -CLUSTERDOWN for a few
 * seconds, as a C application would. Checks SET/GET/INCR through the
 * redirect, and a 200-command pipeline on the leader read back in order.
 * Prints one "PASS name" / "FAIL name: detail" line per check.
 * Usage: hiredis_moved HOST PORT */
#define _POSIX_C_SOURCE 200809L
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures;
static int redirects;

static void report(const char *name, int ok, const char *detail)
{
    if (ok) {
        printf("PASS %s\n", name);
        return;
    }
    failures++;
    printf("FAIL %s: %s\n", name, detail);
}

static redisContext *connect_to(const char *host, int port)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* Reconnect *c to the address in "MOVED <slot> <host>:<port>". */
static int follow_moved(redisContext **c, const char *err)
{
    char host[256];
    int slot, port;
    if (sscanf(err, "MOVED %d %255[^:]:%d", &slot, host, &port) != 3)
        return 0;
    redisContext *n = connect_to(host, port);
    if (n == NULL)
        return 0;
    redisFree(*c);
    *c = n;
    redirects++;
    return 1;
}

/* One command, following MOVED and retrying CLUSTERDOWN (at most 50 tries,
 * 100 ms apart). Returns the final reply (caller frees) or NULL. */
static redisReply *cluster_cmd(redisContext **c, const char *fmt, const char *a,
                               const char *b)
{
    for (int tries = 0; tries < 50; tries++) {
        redisReply *r = redisCommand(*c, fmt, a, b);
        if (r == NULL)
            return NULL;
        if (r->type != REDIS_REPLY_ERROR)
            return r;
        if (strncmp(r->str, "MOVED ", 6) == 0 && follow_moved(c, r->str)) {
            freeReplyObject(r);
            continue;
        }
        if (strncmp(r->str, "CLUSTERDOWN", 11) != 0)
            return r;
        freeReplyObject(r);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int reply_str(const redisReply *r, int type, const char *s)
{
    return r != NULL && r->type == type && strlen(s) == r->len &&
           memcmp(r->str, s, r->len) == 0;
}

static void check_pipeline(redisContext *c)
{
    char key[32], detail[256] = "";
    int ok = 1;
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "hm:pipe:%d", i);
        redisAppendCommand(c, "SET %s %d", key, i);
    }
    for (int i = 0; i < 200 && ok; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK ||
            !reply_str(r, REDIS_REPLY_STATUS, "OK")) {
            snprintf(detail, sizeof detail, "reply %d: %.200s", i,
                     r && r->str ? r->str : c->errstr);
            ok = 0;
        }
        freeReplyObject(r);
    }
    report("hiredis_pipeline_on_leader", ok, detail);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    redisContext *c = connect_to(argv[1], atoi(argv[2]));
    if (c == NULL) {
        printf("FAIL hiredis_connect: cannot connect to %s:%s\n", argv[1], argv[2]);
        return 1;
    }
    redisReply *r = cluster_cmd(&c, "SET %s %s", "hm:k", "v1");
    report("hiredis_set_follows_moved", reply_str(r, REDIS_REPLY_STATUS, "OK"),
           r && r->str ? r->str : c->errstr);
    freeReplyObject(r);
    r = cluster_cmd(&c, "GET %s", "hm:k", NULL);
    report("hiredis_get_after_redirect", reply_str(r, REDIS_REPLY_STRING, "v1"),
           r && r->str ? r->str : c->errstr);
    freeReplyObject(r);
    r = cluster_cmd(&c, "INCRBY %s %s", "hm:ctr", "5");
    report("hiredis_incrby", r && r->type == REDIS_REPLY_INTEGER && r->integer == 5,
           r && r->str ? r->str : c->errstr);
    freeReplyObject(r);
    printf("NOTE redirects followed: %d\n", redirects);
    check_pipeline(c);
    redisFree(c);
    return failures ? 1 : 0;
}
