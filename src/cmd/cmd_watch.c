/* What WATCH (client/watch.c) needs from the keyspace, so that the client
 * room reaches the store only through cmd (DESIGN §2): the state of a key
 * at WATCH time, and the hooks that report touched keys. cmd_execute calls
 * touch and touch_all around write commands; the store's delete hook
 * (DEL, expiry, eviction) lands in touch_key with deleted set. */
#include "cmd/cmd_internal.h"

static void on_store_delete(void *ctx, const char *key, size_t len)
{
    struct cmd_env *env = ctx;
    if (env->touch_key != NULL)
        env->touch_key(env->touch_data, key, len, 1);
}

void cmd_watch_hooks(struct cmd_env *env,
                     void (*touch)(void *, const struct cmd_ctx *),
                     void (*touch_all)(void *),
                     void (*touch_key)(void *, const char *, size_t, int),
                     void *data)
{
    env->touch = touch;
    env->touch_all = touch_all;
    env->touch_key = touch_key;
    env->touch_data = data;
    store_set_delete_hook(env->store, on_store_delete, env);
}

int cmd_watch_key_state(struct cmd_env *env, const char *key, size_t len,
                        int64_t now, int64_t *expire_at)
{
    struct store_key k;
    store_key_init(env->store, &k, key, len);
    int st = store_key_state(env->store, &k, (uint64_t)now, expire_at);
    return st == STORE_KEY_LIVE ? CMD_KEY_LIVE
           : st == STORE_KEY_STALE ? CMD_KEY_STALE : CMD_KEY_ABSENT;
}
