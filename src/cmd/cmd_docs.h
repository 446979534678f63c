/* Redis 7.0's own COMMAND INFO and COMMAND DOCS bytes for the commands
 * raftcache implements (generated into cmd_docs.c by gen_command_docs.py),
 * so key specs, tips and argument docs are exactly what clients know. */
#ifndef RAFTCACHE_CMD_DOCS_H
#define RAFTCACHE_CMD_DOCS_H

#include <stddef.h>

struct cmd_docs {
    const char *name;
    int docs_fields;          /* entries of the DOCS map, subcommands aside */
    const char *info2;        /* COMMAND INFO fields 1-9, RESP2 */
    size_t info2_len;
    const char *info3;        /* the same in RESP3 (sets for flags ...) */
    size_t info3_len;
    const char *docs2;        /* the DOCS map's entries, RESP2 */
    size_t docs2_len;
    const char *docs3;
    size_t docs3_len;
};

/* The entry for a full command name ("get", "client|kill"), or NULL. */
const struct cmd_docs *cmd__docs_find(const char *name);

#endif
