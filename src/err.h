/* One vocabulary of status codes for every room. Statuses are 0 for
 * success and negative for errors; parsers also return >0 for bytes
 * consumed. Long-lived objects keep an errmsg[ERRMSG_LEN] for context.
 * The table is an X-macro so the enum and its strings never drift apart. */
#ifndef RAFTCACHE_ERR_H
#define RAFTCACHE_ERR_H

#define ERRMSG_LEN 256

#define ERR_LIST(X)                                             \
    X(ERR_NOMEM, -1, "out of memory")                           \
    X(ERR_PROTOCOL, -2, "protocol error")                       \
    X(ERR_IO, -3, "I/O error")                                  \
    X(ERR_CORRUPT, -4, "data corrupted")                        \
    X(ERR_NOTLEADER, -5, "not the leader")                      \
    X(ERR_INVALID, -6, "invalid argument")                      \
    X(ERR_LIMIT, -7, "limit exceeded")                          \
    X(ERR_NOTFOUND, -8, "not found")                            \
    X(ERR_BUSY, -9, "busy")                                     \
    X(ERR_SHUTDOWN, -10, "shutting down")                       \
    X(ERR_NOSPACE, -11, "no space")                             \
    X(ERR_TOOBIG, -12, "too big")

enum err_code {
#define ERR_ENUM(name, value, text) name = value,
    ERR_LIST(ERR_ENUM)
#undef ERR_ENUM
};

/* Returns the static text of a status code ("success" for 0). */
static inline const char *err_str(int rv)
{
    switch (rv) {
    case 0:
        return "success";
#define ERR_CASE(name, value, text) \
    case value:                     \
        return text;
        ERR_LIST(ERR_CASE)
#undef ERR_CASE
    }
    return "unknown error";
}

#endif
