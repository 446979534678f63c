/* Helpers shared by the command files: argument access, Redis' common
 * error texts and the declarations of every command procedure. Internal
 * to cmd/ (cmd__ names as libuv's uv__). */
#ifndef RAFTCACHE_CMD_INTERNAL_H
#define RAFTCACHE_CMD_INTERNAL_H

#include <strings.h>

#include "cmd/cmd.h"
#include "config.h"
#include "store/store.h"

/* Redis shared error texts (server.c createSharedObjects). */
#define CMD_ERR_SYNTAX "syntax error"
#define CMD_ERR_NOT_INT "value is not an integer or out of range"
#define CMD_ERR_NOT_FLOAT "value is not a valid float"
#define CMD_ERR_WRONGTYPE \
    "-WRONGTYPE Operation against a key holding the wrong kind of value"
#define CMD_ERR_NOKEY "no such key"
#define CMD_ERR_OOM "-OOM command not allowed when used memory > 'maxmemory'."

/* True when argv[i] equals the lowercase word w, ignoring case. */
static inline int cmd__arg_is(const struct cmd_ctx *c, int i, const char *w)
{
    size_t n = strlen(w);
    return c->argv[i].len == n && strncasecmp(c->argv[i].ptr, w, n) == 0;
}

/* Parses argv[i] as a 64-bit integer; on failure replies Redis' "value is
 * not an integer or out of range" and returns -1. */
int cmd__ll_or_reply(struct cmd_ctx *c, int i, long long *out);
/* As above, without replying. */
int cmd__arg_ll(const struct cmd_ctx *c, int i, long long *out);
/* Redis string2ld: returns 1 and *out if the bytes are a float. */
int cmd__string_to_ld(const char *s, size_t len, long double *out);
/* Parses argv[i] as string2ld; replies "value is not a valid float" and
 * returns -1 on failure. */
int cmd__ld_or_reply(struct cmd_ctx *c, int i, long double *out);

/* Hashes argv[i] as a key. */
void cmd__key(struct cmd_ctx *c, int i, struct store_key *k);

/* A NUL-terminated copy of argv[i] in buf (truncated to len-1). */
const char *cmd__arg_cstr(const struct cmd_ctx *c, int i, char *buf,
                          size_t len);

/* Replies "-ERR unknown subcommand ... Try X HELP." */
void cmd__reply_unknown_sub(struct cmd_ctx *c);
/* Replies a HELP array: the lines, then Redis' closing line. */
void cmd__reply_help(struct cmd_ctx *c, const char *const *lines);

/* Keyspace helpers for string commands: the entry if it is a live string,
 * NULL when absent; on another type replies WRONGTYPE and sets *wrong. */
struct store_entry *cmd__lookup_string(struct cmd_ctx *c, int i,
                                       struct store_key *k, int write,
                                       int *wrong);

/* An over-maxmemory write gets -OOM before it runs (store_evict). */
int cmd__oom_check(struct cmd_ctx *c);

/* "cluster" or "standalone" (cluster-enabled), for HELLO's mode and INFO's
 * redis_mode, as a Redis Cluster node reports them. */
const char *cmd__cluster_mode(const struct cmd_env *env);

/* The newest Raft snapshot as Redis' last save (t_server.c): LASTSAVE and
 * INFO persistence. A standalone node, or one before its first snapshot,
 * reports the start time, as Redis sets lastsave at start. */
void cmd__save_status(const struct cmd_env *env,
                      struct cmd_snapshot_status *st);

#define CMD_PROCS(X)                                                       \
    X(get) X(set) X(setnx) X(setex) X(psetex) X(getset) X(getdel)          \
    X(getex) X(mget) X(mset) X(msetnx) X(incr) X(decr) X(incrby)           \
    X(decrby) X(incrbyfloat) X(append) X(strlen) X(getrange) X(setrange)   \
    X(del) X(exists) X(type) X(keys) X(scan) X(randomkey) X(rename)        \
    X(renamenx) X(expire) X(pexpire) X(expireat) X(pexpireat) X(ttl)       \
    X(pttl) X(expiretime) X(pexpiretime) X(persist) X(touch) X(object)     \
    X(object_encoding) X(object_freq) X(object_idletime)                   \
    X(object_refcount) X(object_help) X(dbsize) X(flushdb) X(select)       \
    X(swapdb) X(ping) X(echo) X(quit) X(reset) X(hello) X(auth)            \
    X(client) X(client_id) X(client_setname) X(client_getname)             \
    X(client_list) X(client_info) X(client_kill) X(client_reply)           \
    X(client_no_evict) X(client_setinfo) X(client_pause) X(client_unpause) X(client_help) X(command)         \
    X(command_count) X(command_info) X(command_docs) X(command_list)       \
    X(command_getkeys) X(command_help) X(config) X(config_get)             \
    X(config_set) X(config_resetstat) X(config_rewrite) X(config_help)     \
    X(info) X(time) X(shutdown) X(debug) X(memory) X(memory_usage)         \
    X(memory_slabs) X(memory_stats) X(memory_doctor) X(memory_help)        \
    X(lastsave) X(save) X(bgsave) X(wait) X(readonly) X(readwrite)        \
    X(multi) X(exec) X(discard) X(watch) X(unwatch) X(cluster)             \
    X(cluster_sub) X(asking)

#define CMD_DECLARE(n) void t_##n(struct cmd_ctx *c);
CMD_PROCS(CMD_DECLARE)
#undef CMD_DECLARE

#endif
