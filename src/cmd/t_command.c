/* COMMAND and its subcommands (COUNT INFO DOCS LIST GETKEYS HELP), built
 * from the table: Redis 7's 10-field command info (flags, key positions,
 * ACL categories, subcommands) and COMMAND DOCS maps whose "arguments"
 * are derived from each command's usage string ("key [NX|XX] [EX
 * seconds|PX milliseconds]"), which is what redis-cli turns into its
 * inline hints and clients read at connect time. Commands Redis has are
 * answered with Redis' own bytes (cmd_docs.c, generated); the table's
 * description is the fallback for raftcache's own (MEMORY SLABS). */
#include "cmd/cmd_docs.h"
#include "cmd/cmd_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* ---- COMMAND INFO ---- */

static const struct { unsigned flag; const char *name; } flag_names[] = {
    {CMD_WRITE, "write"}, {CMD_READONLY, "readonly"}, {CMD_DENYOOM, "denyoom"},
    {CMD_ADMIN, "admin"}, {CMD_NOSCRIPT, "noscript"}, {CMD_LOADING, "loading"},
    {CMD_STALE, "stale"}, {CMD_FAST, "fast"}, {CMD_NO_AUTH, "no_auth"},
    {CMD_SENTINEL, "sentinel"}, {CMD_ALLOW_BUSY, "allow_busy"},
    {CMD_NO_MULTI, "no_multi"},
};

static int count_flags(unsigned f)
{
    int n = 0;
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        n += (f & flag_names[i].flag) != 0;
    return n;
}

/* ACL categories as Redis derives them: from flags and the group. */
static void add_categories(struct cmd_ctx *c, const struct cmd_def *d)
{
    const char *cats[8];
    int n = 0;
    if (d->flags & CMD_KEYSPACE)
        cats[n++] = "@keyspace";
    if (d->flags & CMD_WRITE)
        cats[n++] = "@write";
    if (d->flags & CMD_READONLY)
        cats[n++] = "@read";
    if (!strcmp(d->group, "string"))
        cats[n++] = "@string";
    if (!strcmp(d->group, "connection"))
        cats[n++] = "@connection";
    if (d->flags & CMD_ADMIN)
        cats[n++] = "@admin";
    cats[n++] = (d->flags & CMD_FAST) ? "@fast" : "@slow";
    if (d->flags & (CMD_ADMIN | CMD_DANGEROUS))
        cats[n++] = "@dangerous";
    resp_add_set(c->out, n);
    for (int i = 0; i < n; i++)
        resp_add_status(c->out, cats[i]);
}

static void add_subcommand_infos(struct cmd_ctx *c, const struct cmd_def *d);

static void add_info(struct cmd_ctx *c, const struct cmd_def *d)
{
    const struct cmd_docs *rd = cmd__docs_find(d->name);
    if (rd != NULL) {
        resp_add_array(c->out, 10);
        if (c->out->proto >= 3)
            resp_add_raw(c->out, rd->info3, rd->info3_len);
        else
            resp_add_raw(c->out, rd->info2, rd->info2_len);
        add_subcommand_infos(c, d);
        return;
    }
    resp_add_array(c->out, 10);
    resp_add_bulk_cstr(c->out, d->name);
    resp_add_int(c->out, d->arity);
    resp_add_set(c->out, count_flags(d->flags));
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (d->flags & flag_names[i].flag)
            resp_add_status(c->out, flag_names[i].name);
    resp_add_int(c->out, d->first_key);
    resp_add_int(c->out, d->last_key);
    resp_add_int(c->out, d->key_step);
    add_categories(c, d);
    resp_add_array(c->out, 0); /* tips */
    resp_add_array(c->out, 0); /* key specs */
    add_subcommand_infos(c, d);
}

/* The tenth field: the subcommands this server implements. Redis 7.0's
 * addReplyCommandSubCommands answers an empty set when there are none but
 * an array when there are some, so RESP3 shows "~0" or "*N". */
static void add_subcommand_infos(struct cmd_ctx *c, const struct cmd_def *d)
{
    int nsubs = d->parent == NULL ? d->nsubs : 0;
    if (nsubs == 0)
        resp_add_set(c->out, 0);
    else
        resp_add_array(c->out, nsubs);
    for (int i = 0; i < nsubs; i++)
        add_info(c, d->subs[i]);
}

static int top_level_count(void)
{
    int n = 0;
    for (int i = 0; i < cmd_count(); i++)
        n += cmd_at(i)->parent == NULL;
    return n;
}

/* The info of every top-level command: COMMAND, and COMMAND INFO with no
 * names (Redis 7.0 answers both alike). */
static void reply_all_infos(struct cmd_ctx *c)
{
    resp_add_array(c->out, top_level_count());
    for (int i = 0; i < cmd_count(); i++)
        if (cmd_at(i)->parent == NULL)
            add_info(c, cmd_at(i));
}

void t_command(struct cmd_ctx *c)
{
    if (c->argc > 1) {
        cmd__reply_unknown_sub(c);
        return;
    }
    reply_all_infos(c);
}

void t_command_count(struct cmd_ctx *c)
{
    resp_add_int(c->out, top_level_count());
}

/* Finds a command by its full name ("get", "client|list"). */
static const struct cmd_def *by_name(const char *p, size_t len)
{
    for (int i = 0; i < cmd_count(); i++) {
        const struct cmd_def *d = cmd_at(i);
        if (strlen(d->name) == len && !strncasecmp(d->name, p, len))
            return d;
    }
    return NULL;
}

void t_command_info(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        reply_all_infos(c);
        return;
    }
    resp_add_array(c->out, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        const struct cmd_def *d = by_name(c->argv[i].ptr, c->argv[i].len);
        if (d == NULL)
            resp_add_null(c->out);
        else
            add_info(c, d);
    }
}

void t_command_list(struct cmd_ctx *c)
{
    const char *pat = NULL;
    size_t patlen = 0;
    if (c->argc == 5 && cmd__arg_is(c, 2, "filterby") && cmd__arg_is(c, 3, "pattern")) {
        pat = c->argv[4].ptr;
        patlen = c->argv[4].len;
    } else if (c->argc != 2 && !(c->argc == 5 && cmd__arg_is(c, 2, "filterby"))) {
        cmd_fail(c, CMD_ERR_SYNTAX);
        return;
    }
    size_t at = resp_defer_len(c->out);
    long long n = 0;
    for (int i = 0; i < cmd_count(); i++) {
        const char *name = cmd_at(i)->name;
        if (c->argc == 5 && pat == NULL)
            continue; /* MODULE / ACLCAT filters: no modules here */
        if (pat && !config_glob_match(pat, patlen, name, strlen(name), 1))
            continue;
        resp_add_bulk_cstr(c->out, name);
        n++;
    }
    resp_set_deferred_array(c->out, at, n);
}

void t_command_getkeys(struct cmd_ctx *c)
{
    int unknown;
    const struct cmd_def *d = cmd_lookup(c->argc - 2, c->argv + 2, &unknown);
    if (d == NULL || unknown) {
        cmd_fail(c, "Invalid command specified");
        return;
    }
    /* Redis' getKeysSubcommandImpl asks "has keys?" before the arity. */
    if (d->first_key == 0) {
        cmd_fail(c, "The command has no key arguments");
        return;
    }
    int argc = c->argc - 2;
    if ((d->arity > 0 && d->arity != argc) || argc < -d->arity) {
        cmd_fail(c, "Invalid number of arguments specified for command");
        return;
    }
    int last = d->last_key < 0 ? argc + d->last_key : d->last_key;
    long long n = 0;
    for (int i = d->first_key; i <= last && i < argc; i += d->key_step)
        n++;
    resp_add_array(c->out, n);
    for (int i = d->first_key; i <= last && i < argc; i += d->key_step)
        resp_add_bulk(c->out, c->argv[i + 2].ptr, c->argv[i + 2].len);
}

void t_command_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "(no subcommand)", "    Return details about all Redis commands.",
        "COUNT", "    Return the total number of commands in this Redis server.",
        "LIST", "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        NULL};
    cmd__reply_help(c, lines);
}

/* ---- COMMAND DOCS: usage string → argument tree ---- */

#define DOC_MAX_NODES 48
#define DOC_MAX_KIDS 12

struct doc_arg {
    char name[64];
    const char *type;
    char token[64];
    int optional;
    int multiple;
    int key_spec;      /* -1, or the index among key arguments */
    int nkids;
    int kids[DOC_MAX_KIDS];
};

struct doc_parser {
    const char *p;
    struct doc_arg nodes[DOC_MAX_NODES];
    int n;
    int nkeys;
};

/* Reads the next token: "[", "]", "|", "...", or a word. */
static int next_token(struct doc_parser *dp, char *out, size_t len)
{
    while (*dp->p == ' ')
        dp->p++;
    if (*dp->p == '\0')
        return 0;
    if (strchr("[]|", *dp->p)) {
        out[0] = *dp->p++;
        out[1] = '\0';
        return 1;
    }
    size_t n = 0;
    while (*dp->p && !strchr(" []|", *dp->p) && n + 1 < len)
        out[n++] = *dp->p++;
    out[n] = '\0';
    return 1;
}

static int new_node(struct doc_parser *dp)
{
    if (dp->n == DOC_MAX_NODES)
        return -1;
    memset(&dp->nodes[dp->n], 0, sizeof(dp->nodes[0]));
    dp->nodes[dp->n].key_spec = -1;
    return dp->n++;
}

static const char *type_of(const char *word)
{
    static const char *const ints[] = {"seconds", "milliseconds", "count",
        "index", "index1", "index2", "offset", "start", "end", "increment",
        "decrement", "numreplicas", "timeout", "client-id", "protover", NULL};
    if (!strcmp(word, "key") || !strcmp(word, "newkey"))
        return "key";
    if (!strncmp(word, "unix-time", 9))
        return "unix-time";
    if (!strcmp(word, "cursor"))
        return "integer";
    for (int i = 0; ints[i]; i++)
        if (!strcmp(word, ints[i]))
            return "integer";
    return "string";
}

static void copy_str(char *dst, size_t len, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

static int is_upper_word(const char *w)
{
    return isupper((unsigned char)w[0]);
}

static void lower_copy(char *dst, size_t len, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static int parse_seq(struct doc_parser *dp, int *out, int max, char *stop);

/* "key [key ...]" and "key value [key value ...]": a repeated group that
 * restates the arguments before it becomes those arguments, "multiple"
 * (one or more), as Redis documents MSET and DEL. Returns 1 if done. */
static int collapse_repeat(struct doc_parser *dp, int *out, int *n, int g)
{
    struct doc_arg *ga = &dp->nodes[g];
    if (!ga->multiple)
        return 0;
    int k = ga->nkids > 0 && !strcmp(ga->type, "block") ? ga->nkids : 1;
    if (*n < k)
        return 0;
    for (int i = 0; i < k; i++) {
        const char *want = k == 1 ? ga->name : dp->nodes[ga->kids[i]].name;
        if (strcmp(dp->nodes[out[*n - k + i]].name, want) != 0)
            return 0;
    }
    *n -= k;
    out[(*n)++] = g;
    return 1;
}

/* Adds kids of a parsed alternative to node g; one kid stays itself, more
 * become a block. Returns the node index for the alternative. */
static int wrap_alt(struct doc_parser *dp, int *kids, int n)
{
    if (n == 1)
        return kids[0];
    int b = new_node(dp);
    if (b < 0)
        return -1;
    dp->nodes[b].type = "block";
    copy_str(dp->nodes[b].name, sizeof(dp->nodes[b].name), n ? dp->nodes[kids[0]].name : "block");
    for (int i = 0; i < n && i < DOC_MAX_KIDS; i++)
        dp->nodes[b].kids[dp->nodes[b].nkids++] = kids[i];
    return b;
}

/* Parses alternatives up to "]" or the end into one node (oneof if more
 * than one alternative). */
static int parse_group(struct doc_parser *dp)
{
    int alts[DOC_MAX_KIDS], nalts = 0;
    for (;;) {
        int kids[DOC_MAX_KIDS];
        char stop = 0;
        int n = parse_seq(dp, kids, DOC_MAX_KIDS, &stop);
        int a = wrap_alt(dp, kids, n);
        if (a >= 0 && nalts < DOC_MAX_KIDS)
            alts[nalts++] = a;
        if (stop != '|')
            break;
    }
    if (nalts == 1) {
        /* "[key value ...]": the repetition belongs to the whole group. */
        struct doc_arg *g = &dp->nodes[alts[0]];
        if (g->nkids > 0 && dp->nodes[g->kids[g->nkids - 1]].multiple) {
            dp->nodes[g->kids[g->nkids - 1]].multiple = 0;
            g->multiple = 1;
        }
        return alts[0];
    }
    int o = new_node(dp);
    if (o < 0)
        return -1;
    dp->nodes[o].type = "oneof";
    copy_str(dp->nodes[o].name, sizeof(dp->nodes[o].name), dp->nodes[alts[0]].name);
    for (int i = 0; i < nalts; i++)
        dp->nodes[o].kids[dp->nodes[o].nkids++] = alts[i];
    return o;
}

/* Parses words and groups until "|", "]" or the end (returned in *stop). */
static int parse_seq(struct doc_parser *dp, int *out, int max, char *stop)
{
    int n = 0;
    char tok[64], look[64];
    while (next_token(dp, tok, sizeof(tok))) {
        if (tok[0] == '|' || tok[0] == ']') {
            *stop = tok[0];
            return n;
        }
        if (!strcmp(tok, "...")) {
            if (n > 0)
                dp->nodes[out[n - 1]].multiple = 1;
            continue;
        }
        int idx;
        if (tok[0] == '[') {
            const char *save = dp->p;
            idx = parse_group(dp);
            if (idx < 0)
                return n;
            (void)save;
            if (collapse_repeat(dp, out, &n, idx))
                continue;
            dp->nodes[idx].optional = 1;
        } else {
            idx = new_node(dp);
            if (idx < 0)
                return n;
            struct doc_arg *a = &dp->nodes[idx];
            const char *save = dp->p;
            if (is_upper_word(tok)) {
                copy_str(a->token, sizeof(a->token), tok);
                /* "EX seconds": a token followed by its value. */
                if (next_token(dp, look, sizeof(look)) && !is_upper_word(look) &&
                    !strchr("[]|", look[0]) && strcmp(look, "...")) {
                    copy_str(a->name, sizeof(a->name), look);
                    a->type = type_of(look);
                } else {
                    dp->p = save;
                    lower_copy(a->name, sizeof(a->name), tok);
                    a->type = "pure-token";
                }
            } else {
                copy_str(a->name, sizeof(a->name), tok);
                a->type = type_of(tok);
            }
        }
        if (n < max)
            out[n++] = idx;
    }
    *stop = 0;
    return n;
}

static void add_arg(struct cmd_ctx *c, struct doc_parser *dp, int i)
{
    struct doc_arg *a = &dp->nodes[i];
    if (!strcmp(a->type, "key"))
        a->key_spec = dp->nkeys++;
    int fields = 2 + (a->key_spec >= 0) + (a->token[0] != 0) +
                 (a->optional || a->multiple) + (a->nkids > 0);
    resp_add_map(c->out, fields);
    resp_add_bulk_cstr(c->out, "name");
    resp_add_bulk_cstr(c->out, a->name);
    resp_add_bulk_cstr(c->out, "type");
    resp_add_bulk_cstr(c->out, a->type);
    if (a->key_spec >= 0) {
        resp_add_bulk_cstr(c->out, "key_spec_index");
        resp_add_int(c->out, a->key_spec);
    }
    if (a->token[0]) {
        resp_add_bulk_cstr(c->out, "token");
        resp_add_bulk_cstr(c->out, a->token);
    }
    if (a->optional || a->multiple) {
        resp_add_bulk_cstr(c->out, "flags");
        resp_add_set(c->out, a->optional + a->multiple);
        if (a->optional)
            resp_add_status(c->out, "optional");
        if (a->multiple)
            resp_add_status(c->out, "multiple");
    }
    if (a->nkids > 0) {
        resp_add_bulk_cstr(c->out, "arguments");
        resp_add_array(c->out, a->nkids);
        for (int k = 0; k < a->nkids; k++)
            add_arg(c, dp, a->kids[k]);
    }
}

static void add_docs(struct cmd_ctx *c, const struct cmd_def *d);

static void add_subcommand_docs(struct cmd_ctx *c, const struct cmd_def *d)
{
    resp_add_bulk_cstr(c->out, "subcommands");
    resp_add_map(c->out, d->nsubs);
    for (int i = 0; i < d->nsubs; i++)
        add_docs(c, d->subs[i]);
}

static void add_docs(struct cmd_ctx *c, const struct cmd_def *d)
{
    const struct cmd_docs *rd = cmd__docs_find(d->name);
    int has_subs = d->parent == NULL && d->nsubs > 0;
    if (rd != NULL) {
        resp_add_bulk_cstr(c->out, d->name);
        resp_add_map(c->out, rd->docs_fields + has_subs);
        if (c->out->proto >= 3)
            resp_add_raw(c->out, rd->docs3, rd->docs3_len);
        else
            resp_add_raw(c->out, rd->docs2, rd->docs2_len);
        if (has_subs)
            add_subcommand_docs(c, d);
        return;
    }
    struct doc_parser dp = {.p = d->args};
    int top[DOC_MAX_KIDS];
    char stop = 0;
    int ntop = d->args[0] ? parse_seq(&dp, top, DOC_MAX_KIDS, &stop) : 0;
    int nsubs = d->parent == NULL ? d->nsubs : 0;
    resp_add_bulk_cstr(c->out, d->name);
    resp_add_map(c->out, 4 + (ntop > 0) + (nsubs > 0));
    resp_add_bulk_cstr(c->out, "summary");
    resp_add_bulk_cstr(c->out, d->summary);
    resp_add_bulk_cstr(c->out, "since");
    resp_add_bulk_cstr(c->out, d->since);
    resp_add_bulk_cstr(c->out, "group");
    resp_add_bulk_cstr(c->out, d->group);
    resp_add_bulk_cstr(c->out, "complexity");
    resp_add_bulk_cstr(c->out, d->complexity);
    if (ntop > 0) {
        resp_add_bulk_cstr(c->out, "arguments");
        resp_add_array(c->out, ntop);
        for (int i = 0; i < ntop; i++)
            add_arg(c, &dp, top[i]);
    }
    if (nsubs > 0)
        add_subcommand_docs(c, d);
}

void t_command_docs(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        resp_add_map(c->out, top_level_count());
        for (int i = 0; i < cmd_count(); i++)
            if (cmd_at(i)->parent == NULL)
                add_docs(c, cmd_at(i));
        return;
    }
    size_t at = resp_defer_len(c->out);
    long long n = 0;
    for (int i = 2; i < c->argc; i++) {
        const struct cmd_def *d = by_name(c->argv[i].ptr, c->argv[i].len);
        if (d == NULL)
            continue;
        add_docs(c, d);
        n++;
    }
    if (c->out->proto >= 3) {
        /* A RESP3 map header: insert "%n" where the array one would go. */
        resp_set_deferred_array(c->out, at, n);
        if (!c->out->muted && !c->out->failed)
            c->out->data[at] = '%';
    } else {
        resp_set_deferred_array(c->out, at, n * 2);
    }
}
