/* The command table and what reads it: lookup (case-insensitive, no
 * allocation: an open-addressing index built once at start), the checks
 * Redis' processCommand makes before running a command (existence, arity,
 * authentication, OOM) in its order and with its texts, and execution.
 * The list is one X-macro so name, arity, flags, key positions and docs
 * of a command sit on one line (memcached proto_parser.h, Redis'
 * commands.def). Timing is the dispatcher's: cmd never reads a clock. */
#include "cmd/cmd_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define W CMD_WRITE
#define R CMD_READONLY
#define M CMD_DENYOOM
#define A CMD_ADMIN
#define F CMD_FAST
#define NA CMD_NO_AUTH
#define L CMD_LOADING
#define S CMD_STALE
#define NS CMD_NOSCRIPT
#define SE CMD_SENTINEL
#define C CMD_CONTAINER
#define K CMD_KEYSPACE
#define D CMD_DANGEROUS
#define B CMD_ALLOW_BUSY
#define NM CMD_NO_MULTI

/* proc, name, arity, flags, first key, last key, step, group, since,
 * complexity, summary, arguments */
#define CMD_TABLE(X)                                                         \
    X(get, "get", 2, R | F, 1, 1, 1, "string", "1.0.0", "O(1)",              \
      "Get the value of a key", "key")                                       \
    X(set, "set", -3, W | M, 1, 1, 1, "string", "1.0.0", "O(1)",             \
      "Set the string value of a key",                                       \
      "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]") \
    X(setnx, "setnx", 3, W | M | F, 1, 1, 1, "string", "1.0.0", "O(1)",      \
      "Set the value of a key, only if the key does not exist", "key value") \
    X(setex, "setex", 4, W | M, 1, 1, 1, "string", "2.0.0", "O(1)",          \
      "Set the value and expiration of a key", "key seconds value")          \
    X(psetex, "psetex", 4, W | M, 1, 1, 1, "string", "2.6.0", "O(1)",        \
      "Set the value and expiration in milliseconds of a key",               \
      "key milliseconds value")                                              \
    X(getset, "getset", 3, W | M | F, 1, 1, 1, "string", "1.0.0", "O(1)",    \
      "Set the string value of a key and return its old value", "key value") \
    X(getdel, "getdel", 2, W | F, 1, 1, 1, "string", "6.2.0", "O(1)",        \
      "Get the value of a key and delete the key", "key")                    \
    X(getex, "getex", -2, W | F, 1, 1, 1, "string", "6.2.0", "O(1)",         \
      "Get the value of a key and optionally set its expiration",            \
      "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]") \
    X(mget, "mget", -2, R | F, 1, -1, 1, "string", "1.0.0", "O(N)",          \
      "Get the values of all the given keys", "key [key ...]")               \
    X(mset, "mset", -3, W | M, 1, -1, 2, "string", "1.0.1", "O(N)",          \
      "Set multiple keys to multiple values", "key value [key value ...]")   \
    X(msetnx, "msetnx", -3, W | M, 1, -1, 2, "string", "1.0.1", "O(N)",      \
      "Set multiple keys to multiple values, only if none of the keys exist", \
      "key value [key value ...]")                                           \
    X(incr, "incr", 2, W | M | F, 1, 1, 1, "string", "1.0.0", "O(1)",        \
      "Increment the integer value of a key by one", "key")                  \
    X(decr, "decr", 2, W | M | F, 1, 1, 1, "string", "1.0.0", "O(1)",        \
      "Decrement the integer value of a key by one", "key")                  \
    X(incrby, "incrby", 3, W | M | F, 1, 1, 1, "string", "1.0.0", "O(1)",    \
      "Increment the integer value of a key by the given amount",            \
      "key increment")                                                       \
    X(decrby, "decrby", 3, W | M | F, 1, 1, 1, "string", "1.0.0", "O(1)",    \
      "Decrement the integer value of a key by the given number",            \
      "key decrement")                                                       \
    X(incrbyfloat, "incrbyfloat", 3, W | M | F, 1, 1, 1, "string", "2.6.0",  \
      "O(1)", "Increment the float value of a key by the given amount",      \
      "key increment")                                                       \
    X(append, "append", 3, W | M | F, 1, 1, 1, "string", "2.0.0", "O(1)",    \
      "Append a value to a key", "key value")                                \
    X(strlen, "strlen", 2, R | F, 1, 1, 1, "string", "2.2.0", "O(1)",        \
      "Get the length of the value stored in a key", "key")                  \
    X(getrange, "getrange", 4, R, 1, 1, 1, "string", "2.4.0", "O(N)",        \
      "Get a substring of the string stored at a key", "key start end")      \
    X(getrange, "substr", 4, R, 1, 1, 1, "string", "1.0.0", "O(N)",          \
      "Get a substring of the string stored at a key", "key start end")      \
    X(setrange, "setrange", 4, W | M, 1, 1, 1, "string", "2.2.0", "O(1)",    \
      "Overwrite part of a string at key starting at the specified offset",  \
      "key offset value")                                                    \
    X(del, "del", -2, W | K, 1, -1, 1, "generic", "1.0.0", "O(N)",           \
      "Delete a key", "key [key ...]")                                       \
    X(del, "unlink", -2, W | K | F, 1, -1, 1, "generic", "4.0.0", "O(1)",    \
      "Delete a key asynchronously in another thread", "key [key ...]")      \
    X(exists, "exists", -2, R | K | F, 1, -1, 1, "generic", "1.0.0", "O(N)", \
      "Determine if a key exists", "key [key ...]")                          \
    X(type, "type", 2, R | K | F, 1, 1, 1, "generic", "1.0.0", "O(1)",       \
      "Determine the type stored at key", "key")                             \
    X(keys, "keys", 2, R | K | D, 0, 0, 0, "generic", "1.0.0", "O(N)",       \
      "Find all keys matching the given pattern", "pattern")                 \
    X(scan, "scan", -2, R | K, 0, 0, 0, "generic", "2.8.0", "O(1)",          \
      "Incrementally iterate the keys space",                                \
      "cursor [MATCH pattern] [COUNT count] [TYPE type]")                    \
    X(randomkey, "randomkey", 1, R | K, 0, 0, 0, "generic", "1.0.0", "O(1)", \
      "Return a random key from the keyspace", "")                           \
    X(rename, "rename", 3, W | K, 1, 2, 1, "generic", "1.0.0", "O(1)",       \
      "Rename a key", "key newkey")                                          \
    X(renamenx, "renamenx", 3, W | K | F, 1, 2, 1, "generic", "1.0.0",       \
      "O(1)", "Rename a key, only if the new key does not exist",            \
      "key newkey")                                                          \
    X(expire, "expire", -3, W | K | F, 1, 1, 1, "generic", "1.0.0", "O(1)",  \
      "Set a key's time to live in seconds", "key seconds [NX|XX|GT|LT]")    \
    X(pexpire, "pexpire", -3, W | K | F, 1, 1, 1, "generic", "2.6.0",        \
      "O(1)", "Set a key's time to live in milliseconds",                    \
      "key milliseconds [NX|XX|GT|LT]")                                      \
    X(expireat, "expireat", -3, W | K | F, 1, 1, 1, "generic", "1.2.0",      \
      "O(1)", "Set the expiration for a key as a UNIX timestamp",            \
      "key unix-time-seconds [NX|XX|GT|LT]")                                 \
    X(pexpireat, "pexpireat", -3, W | K | F, 1, 1, 1, "generic", "2.6.0",    \
      "O(1)",                                                                \
      "Set the expiration for a key as a UNIX timestamp specified in milliseconds", \
      "key unix-time-milliseconds [NX|XX|GT|LT]")                            \
    X(ttl, "ttl", 2, R | K | F, 1, 1, 1, "generic", "1.0.0", "O(1)",         \
      "Get the time to live for a key in seconds", "key")                    \
    X(pttl, "pttl", 2, R | K | F, 1, 1, 1, "generic", "2.6.0", "O(1)",       \
      "Get the time to live for a key in milliseconds", "key")               \
    X(expiretime, "expiretime", 2, R | K | F, 1, 1, 1, "generic", "7.0.0",   \
      "O(1)", "Get the expiration Unix timestamp for a key", "key")          \
    X(pexpiretime, "pexpiretime", 2, R | K | F, 1, 1, 1, "generic", "7.0.0", \
      "O(1)", "Get the expiration Unix timestamp for a key in milliseconds", \
      "key")                                                                 \
    X(persist, "persist", 2, W | K | F, 1, 1, 1, "generic", "2.2.0", "O(1)", \
      "Remove the expiration from a key", "key")                             \
    X(touch, "touch", -2, R | K | F, 1, -1, 1, "generic", "3.2.1", "O(N)",   \
      "Alters the last access time of a key(s).", "key [key ...]")           \
    X(object, "object", -2, C, 0, 0, 0, "generic", "2.2.3", "Depends on subcommand.", \
      "A container for object introspection commands", "")                   \
    X(object_encoding, "object|encoding", 3, R | K, 2, 2, 1, "generic",      \
      "2.2.3", "O(1)", "Inspect the internal encoding of a Redis object",    \
      "key")                                                                 \
    X(object_freq, "object|freq", 3, R | K, 2, 2, 1, "generic", "4.0.0",     \
      "O(1)", "Get the logarithmic access frequency counter of a Redis object", \
      "key")                                                                 \
    X(object_idletime, "object|idletime", 3, R | K, 2, 2, 1, "generic",      \
      "2.2.3", "O(1)",                                                       \
      "Get the time since a Redis object was last accessed", "key")          \
    X(object_refcount, "object|refcount", 3, R | K, 2, 2, 1, "generic",      \
      "2.2.3", "O(1)", "Get the number of references to the value of the key", \
      "key")                                                                 \
    X(object_help, "object|help", 2, L | S | K, 0, 0, 0, "generic", "6.2.0", \
      "O(1)", "Show helpful text about the different subcommands", "")       \
    X(dbsize, "dbsize", 1, R | F | K, 0, 0, 0, "server", "1.0.0", "O(1)",    \
      "Return the number of keys in the selected database", "")              \
    X(flushdb, "flushdb", -1, W | K | D, 0, 0, 0, "server", "1.0.0", "O(N)", \
      "Remove all keys from the current database", "[ASYNC|SYNC]")          \
    X(flushdb, "flushall", -1, W | K | D, 0, 0, 0, "server", "1.0.0",        \
      "O(N)", "Remove all keys from all databases", "[ASYNC|SYNC]")          \
    X(select, "select", 2, L | S | F, 0, 0, 0, "connection", "1.0.0",        \
      "O(1)", "Change the selected database for the current connection",     \
      "index")                                                               \
    X(swapdb, "swapdb", 3, W | F | K | D, 0, 0, 0, "server", "4.0.0",        \
      "O(N)", "Swaps two Redis databases", "index1 index2")                  \
    X(ping, "ping", -1, F | SE, 0, 0, 0, "connection", "1.0.0", "O(1)",      \
      "Ping the server", "[message]")                                        \
    X(echo, "echo", 2, F, 0, 0, 0, "connection", "1.0.0", "O(1)",            \
      "Echo the given string", "message")                                    \
    X(quit, "quit", -1, B | NS | L | S | F | NA, 0, 0, 0, "connection",      \
      "1.0.0", "O(1)", "Close the connection", "")                           \
    X(reset, "reset", 1, NS | L | S | F | NA | B, 0, 0, 0, "connection",     \
      "6.2.0", "O(1)", "Reset the connection", "")                           \
    X(hello, "hello", -1, NS | L | S | F | NA | SE | B, 0, 0, 0,             \
      "connection", "6.0.0", "O(1)", "Handshake with Redis",                 \
      "[protover [AUTH username password] [SETNAME clientname]]")            \
    X(auth, "auth", -2, NS | L | S | F | NA | SE | B, 0, 0, 0, "connection", \
      "1.0.0", "O(N)", "Authenticate to the server", "[username] password")  \
    X(client, "client", -2, C | SE, 0, 0, 0, "connection", "2.4.0",          \
      "Depends on subcommand.",                                              \
      "A container for client connection commands", "")                      \
    X(client_id, "client|id", 2, NS | L | S | SE, 0, 0, 0, "connection",     \
      "5.0.0", "O(1)", "Returns the client ID for the current connection", "") \
    X(client_setname, "client|setname", 3, NS | L | S | SE, 0, 0, 0,         \
      "connection", "2.6.9", "O(1)", "Set the current connection name",      \
      "connection-name")                                                     \
    X(client_getname, "client|getname", 2, NS | L | S | SE, 0, 0, 0,         \
      "connection", "2.6.9", "O(1)", "Get the current connection name", "")  \
    X(client_list, "client|list", -2, A | NS | L | S | SE | D, 0, 0, 0,      \
      "connection", "2.4.0", "O(N)", "Get the list of client connections",   \
      "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]")  \
    X(client_info, "client|info", 2, NS | L | S | SE, 0, 0, 0, "connection", \
      "6.2.0", "O(1)", "Returns information about the current client connection.", \
      "")                                                                    \
    X(client_kill, "client|kill", -3, A | NS | L | S | SE | D, 0, 0, 0,      \
      "connection", "2.4.0", "O(N)", "Kill the connection of a client",      \
      "ip:port|[ID client-id] [TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB] [ADDR ip:port] [LADDR ip:port] [SKIPME yes/no]") \
    X(client_pause, "client|pause", -3, A | NS | L | S | SE | D, 0, 0, 0,    \
      "connection", "3.0.0", "O(1)", "Stop processing commands from clients for some time", \
      "timeout [WRITE|ALL]")                                                 \
    X(client_unpause, "client|unpause", 2, A | NS | L | S | SE | D, 0, 0, 0, \
      "connection", "6.2.0", "O(N) Where N is the number of paused clients", \
      "Resume processing of clients that were paused", "")                   \
    X(client_reply, "client|reply", 3, NS | L | S | SE, 0, 0, 0,             \
      "connection", "3.2.0", "O(1)",                                         \
      "Instruct the server whether to reply to commands", "ON|OFF|SKIP")     \
    X(client_no_evict, "client|no-evict", 3, A | NS | L | S | SE | D, 0, 0,  \
      0, "connection", "7.0.0", "O(1)",                                      \
      "Set client eviction mode for the current connection", "ON|OFF")       \
    X(client_setinfo, "client|setinfo", 4, NS | L | S | SE, 0, 0, 0,         \
      "connection", "7.2.0", "O(1)", "Set client or connection specific info", \
      "LIB-NAME libname|LIB-VER libver")                                     \
    X(client_help, "client|help", 2, L | S | SE, 0, 0, 0, "connection",      \
      "5.0.0", "O(1)", "Show helpful text about the different subcommands", "") \
    X(command, "command", -1, L | S | SE, 0, 0, 0, "server", "2.8.13",       \
      "O(N) where N is the total number of Redis commands",                  \
      "Get array of Redis command details", "")                              \
    X(command_count, "command|count", 2, L | S | SE, 0, 0, 0, "server",      \
      "2.8.13", "O(1)", "Get total number of Redis commands", "")            \
    X(command_info, "command|info", -2, L | S | SE, 0, 0, 0, "server",       \
      "2.8.13", "O(N) where N is the number of commands to look up",         \
      "Get array of specific Redis command details, or all when no argument is given.", \
      "[command-name [command-name ...]]")                                   \
    X(command_docs, "command|docs", -2, L | S | SE, 0, 0, 0, "server",       \
      "7.0.0", "O(N) where N is the number of commands to look up",          \
      "Get array of specific Redis command documentation",                   \
      "[command-name [command-name ...]]")                                   \
    X(command_list, "command|list", -2, L | S | SE, 0, 0, 0, "server",       \
      "7.0.0", "O(N) where N is the total number of Redis commands",         \
      "Get an array of Redis command names",                                 \
      "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]")       \
    X(command_getkeys, "command|getkeys", -4, L | S | SE, 0, 0, 0, "server", \
      "2.8.13", "O(N) where N is the number of arguments to the command",    \
      "Extract keys given a full Redis command", "command [arg [arg ...]]")  \
    X(command_help, "command|help", 2, L | S | SE, 0, 0, 0, "server",        \
      "5.0.0", "O(1)", "Show helpful text about the different subcommands", "") \
    X(config, "config", -2, C, 0, 0, 0, "server", "2.0.0",                   \
      "Depends on subcommand.", "A container for server configuration commands", "") \
    X(config_get, "config|get", -3, A | NS | L | S, 0, 0, 0, "server",       \
      "2.0.0", "O(N) when N is the number of configuration parameters provided", \
      "Get the values of configuration parameters",                          \
      "parameter [parameter ...]")                                           \
    X(config_set, "config|set", -4, A | NS | L | S | D, 0, 0, 0, "server",   \
      "2.0.0", "O(N) when N is the number of configuration parameters provided", \
      "Set configuration parameters to the given values",                    \
      "parameter value [parameter value ...]")                               \
    X(config_resetstat, "config|resetstat", 2, A | NS | L | S | D, 0, 0, 0,  \
      "server", "2.0.0", "O(1)", "Reset the stats returned by INFO", "")     \
    X(config_rewrite, "config|rewrite", 2, A | NS | L | S | D, 0, 0, 0,      \
      "server", "2.8.0", "O(1)",                                             \
      "Rewrite the configuration file with the in memory configuration", "") \
    X(config_help, "config|help", 2, L | S, 0, 0, 0, "server", "5.0.0",      \
      "O(1)", "Show helpful text about the different subcommands", "")       \
    X(info, "info", -1, L | S | SE, 0, 0, 0, "server", "1.0.0", "O(1)",      \
      "Get information and statistics about the server", "[section [section ...]]") \
    X(time, "time", 1, L | S | F, 0, 0, 0, "server", "2.6.0", "O(1)",        \
      "Return the current server time", "")                                  \
    X(shutdown, "shutdown", -1, A | NS | L | S | SE | B | NM, 0, 0, 0,      \
      "server", "1.0.0", "O(N) when saving, where N is the total number of keys in all databases", \
      "Synchronously save the dataset to disk and then shut down the server", \
      "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]")                                 \
    X(debug, "debug", -2, A | NS | L | S | D, 0, 0, 0, "server", "1.0.0",    \
      "Depends on subcommand.", "A container for debugging commands", "subcommand [arg [arg ...]]") \
    X(memory, "memory", -2, C, 0, 0, 0, "server", "4.0.0",                   \
      "Depends on subcommand.", "A container for memory diagnostics commands", "") \
    X(memory_usage, "memory|usage", -3, R, 2, 2, 1, "server", "4.0.0",       \
      "O(N) where N is the number of samples.",                              \
      "Estimate the memory usage of a key", "key [SAMPLES count]")           \
    X(memory_slabs, "memory|slabs", 2, R, 0, 0, 0, "server", "0.1.0",        \
      "O(number of slab classes)",                                           \
      "Per-class slab usage of the value allocator (raftcache)", "")         \
    X(memory_stats, "memory|stats", 2, R, 0, 0, 0, "server", "4.0.0",        \
      "O(1)", "Show memory usage details", "")                               \
    X(memory_doctor, "memory|doctor", 2, 0, 0, 0, 0, "server", "4.0.0",      \
      "O(1)", "Outputs memory problems report", "")                          \
    X(memory_help, "memory|help", 2, L | S, 0, 0, 0, "server", "4.0.0",      \
      "O(1)", "Show helpful text about the different subcommands", "")       \
    X(lastsave, "lastsave", 1, L | S | F, 0, 0, 0, "server", "1.0.0", "O(1)", \
      "Get the UNIX time stamp of the last successful save to disk", "")     \
    X(save, "save", 1, A | NS | NM, 0, 0, 0, "server", "1.0.0", "O(N)",      \
      "Synchronously save the dataset to disk", "")                          \
    X(bgsave, "bgsave", -1, A | NS, 0, 0, 0, "server", "1.0.0", "O(N)",      \
      "Asynchronously save the dataset to disk", "[SCHEDULE]")               \
    X(wait, "wait", 3, NS, 0, 0, 0, "generic", "3.0.0", "O(1)",              \
      "Wait for the synchronous replication of all the write commands sent in the context of the current connection", \
      "numreplicas timeout")                                                 \
    X(multi, "multi", 1, NS | L | S | F | B, 0, 0, 0, "transactions",       \
      "1.2.0", "O(1)", "Mark the start of a transaction block", "")          \
    X(exec, "exec", 1, NS | L | S, 0, 0, 0, "transactions", "1.2.0",         \
      "Depends on commands in the transaction",                              \
      "Execute all commands issued after MULTI", "")                         \
    X(discard, "discard", 1, NS | L | S | F | B, 0, 0, 0, "transactions",   \
      "2.0.0", "O(N), when N is the number of queued commands",              \
      "Discard all commands issued after MULTI", "")                         \
    X(watch, "watch", -2, NS | L | S | F | B, 1, -1, 1, "transactions",      \
      "2.2.0", "O(1) for every key.",                                        \
      "Watch the given keys to determine execution of the MULTI/EXEC block", \
      "key [key ...]")                                                       \
    X(unwatch, "unwatch", 1, NS | L | S | F | B, 0, 0, 0, "transactions",    \
      "2.2.0", "O(1)", "Forget about all watched keys", "")                  \
    X(cluster, "cluster", -2, C, 0, 0, 0, "cluster", "3.0.0",                \
      "Depends on subcommand.", "A container for cluster commands", "")      \
    X(cluster_sub, "cluster|info", 2, S, 0, 0, 0, "cluster", "3.0.0", "O(1)", \
      "Provides info about Redis Cluster node state", "")                    \
    X(cluster_sub, "cluster|myid", 2, S, 0, 0, 0, "cluster", "3.0.0", "O(1)", \
      "Return the node id", "")                                              \
    X(cluster_sub, "cluster|nodes", 2, S, 0, 0, 0, "cluster", "3.0.0",       \
      "O(N) where N is the total number of Cluster nodes",                   \
      "Get Cluster config for the node", "")                                 \
    X(cluster_sub, "cluster|slots", 2, S, 0, 0, 0, "cluster", "3.0.0",       \
      "O(N) where N is the total number of Cluster nodes",                   \
      "Get array of Cluster slot to node mappings", "")                      \
    X(cluster_sub, "cluster|shards", 2, S, 0, 0, 0, "cluster", "7.0.0",      \
      "O(N) where N is the total number of cluster nodes",                   \
      "Get array of cluster slots to node mappings", "")                     \
    X(cluster_sub, "cluster|replicas", 3, A | S, 0, 0, 0, "cluster", "5.0.0", \
      "O(1)", "List replica nodes of the specified master node", "node-id")  \
    X(cluster_sub, "cluster|slaves", 3, A | S, 0, 0, 0, "cluster", "3.0.0",  \
      "O(1)", "List replica nodes of the specified master node", "node-id")  \
    X(cluster_sub, "cluster|keyslot", 3, S, 0, 0, 0, "cluster", "3.0.0",     \
      "O(N) where N is the number of bytes in the key",                      \
      "Returns the hash slot of the specified key", "key")                   \
    X(cluster_sub, "cluster|help", 2, L | S, 0, 0, 0, "cluster", "5.0.0",    \
      "O(1)", "Show helpful text about the different subcommands", "")       \
    X(asking, "asking", 1, F, 0, 0, 0, "cluster", "3.0.0", "O(1)",           \
      "Sent by cluster clients after an -ASK redirect", "")                  \
    X(readonly, "readonly", 1, L | S | F, 0, 0, 0, "cluster", "3.0.0",       \
      "O(1)", "Enables read queries for a connection to a cluster replica node", "") \
    X(readwrite, "readwrite", 1, L | S | F, 0, 0, 0, "cluster", "3.0.0",     \
      "O(1)", "Disables read queries for a connection to a cluster replica node", "")

#define CMD_ENTRY(fn, nm, ar, fl, fk, lk, st, gr, si, cx, su, ag)            \
    {.name = nm, .proc = t_##fn, .arity = ar, .flags = fl, .first_key = fk, \
     .last_key = lk, .key_step = st, .group = gr, .since = si,               \
     .complexity = cx, .summary = su, .args = ag},

static struct cmd_def table[] = {CMD_TABLE(CMD_ENTRY)};
#define NCMDS ((int)(sizeof(table) / sizeof(table[0])))

/* Open addressing index of the top-level names: 2x the table, power of 2. */
#define INDEX_SIZE 512
static short index_slots[INDEX_SIZE];
static const struct cmd_def *sub_ptrs[NCMDS];

static uint32_t hash_name(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)tolower((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

static void index_table(void)
{
    memset(index_slots, -1, sizeof(index_slots));
    int nsub = 0;
    for (int i = 0; i < NCMDS; i++) {
        struct cmd_def *d = &table[i];
        d->index = i;
        const char *bar = strchr(d->name, '|');
        if (bar != NULL)
            continue;
        uint32_t h = hash_name(d->name, strlen(d->name)) & (INDEX_SIZE - 1);
        while (index_slots[h] != -1)
            h = (h + 1) & (INDEX_SIZE - 1);
        index_slots[h] = (short)i;
        if (!(d->flags & CMD_CONTAINER))
            continue;
        /* Subcommands follow their container in the table. */
        d->subs = &sub_ptrs[nsub];
        size_t plen = strlen(d->name);
        for (int j = i + 1; j < NCMDS; j++) {
            if (strncmp(table[j].name, d->name, plen) != 0 ||
                table[j].name[plen] != '|')
                break;
            table[j].parent = d;
            sub_ptrs[nsub++] = &table[j];
            d->nsubs++;
        }
    }
    /* COMMAND runs alone and also has subcommands. */
    for (int i = 0; i < NCMDS; i++) {
        if (strcmp(table[i].name, "command") != 0)
            continue;
        table[i].subs = &sub_ptrs[nsub];
        for (int j = i + 1; j < NCMDS && !strncmp(table[j].name, "command|", 8); j++) {
            table[j].parent = &table[i];
            sub_ptrs[nsub++] = &table[j];
            table[i].nsubs++;
        }
    }
}

static const struct cmd_def *find_top(const char *s, size_t len)
{
    uint32_t h = hash_name(s, len) & (INDEX_SIZE - 1);
    while (index_slots[h] != -1) {
        const struct cmd_def *d = &table[index_slots[h]];
        if (strlen(d->name) == len && strncasecmp(d->name, s, len) == 0)
            return d;
        h = (h + 1) & (INDEX_SIZE - 1);
    }
    return NULL;
}

static const struct cmd_def *find_sub(const struct cmd_def *parent,
                                      const char *s, size_t len)
{
    size_t plen = strlen(parent->name) + 1;
    for (int i = 0; i < parent->nsubs; i++) {
        const char *sub = parent->subs[i]->name + plen;
        if (strlen(sub) == len && strncasecmp(sub, s, len) == 0)
            return parent->subs[i];
    }
    return NULL;
}

const struct cmd_def *cmd_lookup(int argc, const struct resp_arg *argv,
                                 int *unknown_sub)
{
    *unknown_sub = 0;
    const struct cmd_def *d = find_top(argv[0].ptr, argv[0].len);
    if (d == NULL || d->nsubs == 0 || argc == 1)
        return d;
    const struct cmd_def *sub = find_sub(d, argv[1].ptr, argv[1].len);
    if (sub != NULL)
        return sub;
    if (d->flags & CMD_CONTAINER)
        *unknown_sub = 1;
    return d;
}

int cmd_env_init(struct cmd_env *env)
{
    /* The table is static: index it once, whatever the number of envs. */
    static int indexed;
    if (!indexed) {
        index_table();
        indexed = 1;
    }
    env->stats = calloc((size_t)NCMDS, sizeof(*env->stats));
    if (env->stats == NULL)
        return ERR_NOMEM;
    if (env->rng == 0)
        env->rng = 0x9E3779B97F4A7C15ULL;
    return 0;
}

void cmd_env_free(struct cmd_env *env)
{
    free(env->stats);
    env->stats = NULL;
}

int cmd_count(void)
{
    return NCMDS;
}

const struct cmd_def *cmd_at(int i)
{
    return (i >= 0 && i < NCMDS) ? &table[i] : NULL;
}

/* Redis' "unknown command" text: the first arguments quoted, at most
 * about 128 bytes of them. */
static void reply_unknown(struct cmd_ctx *c)
{
    char args[512];
    size_t n = 0;
    args[0] = '\0';
    for (int i = 1; i < c->argc && n < 128; i++) {
        int room = 128 - (int)n;
        int w = snprintf(args + n, sizeof(args) - n, "'%.*s' ",
                         (int)(c->argv[i].len < (size_t)room ? c->argv[i].len
                                                             : (size_t)room),
                         c->argv[i].ptr);
        if (w > 0)
            n += (size_t)w;
    }
    int nl = (int)(c->argv[0].len < 128 ? c->argv[0].len : 128);
    resp_add_errorf(c->out,
                    "unknown command '%.*s', with args beginning with: %s",
                    nl, c->argv[0].ptr, args);
}

void cmd__reply_unknown_sub(struct cmd_ctx *c)
{
    char name[64];
    size_t n = c->argv[0].len < sizeof(name) - 1 ? c->argv[0].len
                                                 : sizeof(name) - 1;
    for (size_t i = 0; i < n; i++)
        name[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
    name[n] = '\0';
    int sl = (int)(c->argv[1].len < 128 ? c->argv[1].len : 128);
    resp_add_errorf(c->out, "unknown subcommand '%.*s'. Try %s HELP.", sl,
                    c->argv[1].ptr, name);
}

static int auth_required(const struct cmd_ctx *c)
{
    const char *pass = c->env->cfg->requirepass;
    return pass != NULL && pass[0] != '\0' && !c->sess->authenticated;
}

int cmd_check(struct cmd_ctx *c, const struct cmd_def **out_cmd)
{
    int unknown_sub;
    const struct cmd_def *d = cmd_lookup(c->argc, c->argv, &unknown_sub);
    *out_cmd = d;
    if (d == NULL) {
        reply_unknown(c);
        return ERR_NOTFOUND;
    }
    if (unknown_sub) {
        /* No command was found: nothing is counted as rejected, as Redis. */
        *out_cmd = NULL;
        cmd__reply_unknown_sub(c);
        return ERR_NOTFOUND;
    }
    c->cmd = d;
    if ((d->arity > 0 && d->arity != c->argc) || c->argc < -d->arity) {
        resp_add_errorf(c->out, "wrong number of arguments for '%s' command",
                        d->name);
        return ERR_INVALID;
    }
    if (auth_required(c) && !(d->flags & CMD_NO_AUTH)) {
        resp_add_error(c->out, "-NOAUTH Authentication required.");
        return ERR_INVALID;
    }
    if ((d->flags & CMD_DENYOOM) && cmd__oom_check(c) < 0) {
        resp_add_error(c->out, CMD_ERR_OOM);
        return ERR_NOMEM;
    }
    return 0;
}

int cmd_paused(const struct cmd_env *env, const struct cmd_def *d,
               int64_t now)
{
    if (env->pause_end_ms == 0 || now >= env->pause_end_ms)
        return 0;
    return !env->pause_writes_only ||
           (d->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
}

void cmd_execute(struct cmd_ctx *c)
{
    /* Set first, as Redis: CLIENT LIST shows the running command. */
    c->sess->last_cmd = c->cmd;
    struct cmd_env *env = c->env;
    if (env->touch == NULL || !(c->cmd->flags & CMD_WRITE)) {
        c->cmd->proc(c); /* nobody ever WATCHed: no touch to report */
        return;
    }
    if (c->cmd->first_key == 0)
        env->touch_all(env->touch_data);
    uint64_t dirty = env->dirty;
    c->cmd->proc(c);
    if (env->dirty != dirty && c->cmd->first_key > 0)
        env->touch(env->touch_data, c);
}

void cmd_fail(struct cmd_ctx *c, const char *msg)
{
    c->failed = 1;
    resp_add_error(c->out, msg);
}

void cmd_failf(struct cmd_ctx *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cmd_fail(c, buf);
}

void cmd_session_reset(struct cmd_session *s)
{
    uint64_t id = s->id;
    int is_local = s->is_local;
    cmd_session_free(s);
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->is_local = is_local;
    s->resp = 2;
}

void cmd_session_free(struct cmd_session *s)
{
    free(s->name);
    free(s->lib_name);
    free(s->lib_ver);
    s->name = s->lib_name = s->lib_ver = NULL;
}
