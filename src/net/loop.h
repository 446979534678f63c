/* The event loop: a thin wrapper over libev so that no other file includes
 * <ev.h>. It owns io watchers, timers, signal watchers, the end-of-iteration
 * hooks (our beforeSleep) and the clock: only this room reads the time, and
 * every other room is handed `now`. A leaf: it calls nothing in raftcache. */
#ifndef RAFTCACHE_LOOP_H
#define RAFTCACHE_LOOP_H

#include <stdint.h>

#define LOOP_READ 1
#define LOOP_WRITE 2

struct loop;
struct loop_io;
struct loop_timer;

typedef void (*loop_io_cb)(struct loop_io *io, int events, void *data);
typedef void (*loop_timer_cb)(struct loop_timer *t, void *data);
typedef void (*loop_hook_cb)(struct loop *loop, void *data);

/* Returns an owned loop, or NULL when libev cannot create one. */
struct loop *loop_create(void);
void loop_destroy(struct loop *loop);

/* Runs until loop_stop() is called; returns 0. */
int loop_run(struct loop *loop);
/* Runs one iteration, blocking at most until the next event. */
void loop_run_once(struct loop *loop);
void loop_stop(struct loop *loop);

/* Wall-clock milliseconds since the epoch, as of the start of this loop
 * iteration, plus the offset set by loop_jump_clock (DEBUG JUMP-CLOCK).
 * Used for TTLs, which are absolute Unix times as in Redis. */
int64_t loop_now_ms(struct loop *loop);
/* Monotonic milliseconds (never jumps); for Raft ticks and timeouts. */
int64_t loop_mono_ms(struct loop *loop);
/* Monotonic microseconds read now, not cached; for latency statistics. */
int64_t loop_mono_us_fresh(void);
void loop_jump_clock(struct loop *loop, int64_t delta_ms);

/* Watches fd for `events` (LOOP_READ|LOOP_WRITE); 0 stops watching.
 * Returns an owned watcher (free with loop_io_destroy), NULL on no memory. */
struct loop_io *loop_io_create(struct loop *loop, int fd, int events,
                               loop_io_cb cb, void *data);
void loop_io_set(struct loop_io *io, int events);
int loop_io_events(const struct loop_io *io);
int loop_io_fd(const struct loop_io *io);
void loop_io_destroy(struct loop_io *io);
/* Watchers with a higher priority (-2..2, default 0) run first within an
 * iteration. Listeners use 1 so a client that connected before a command
 * arrived elsewhere is accepted first (libev runs equal priorities in
 * reverse order, unlike Redis' ae). */
void loop_io_set_priority(struct loop_io *io, int priority);

/* A timer that fires after `after_ms` and then every `repeat_ms` (0: once).
 * Returns an owned timer, started. */
struct loop_timer *loop_timer_create(struct loop *loop, double after_ms,
                                     double repeat_ms, loop_timer_cb cb,
                                     void *data);
void loop_timer_again(struct loop_timer *t, double after_ms);
void loop_timer_stop(struct loop_timer *t);
void loop_timer_destroy(struct loop_timer *t);

/* Hooks run at the end of every iteration, before the loop sleeps, in the
 * order they were added (server.c adds them in the documented order). */
int loop_add_before_sleep(struct loop *loop, loop_hook_cb cb, void *data);
/* The same for a hook that runs after every hook added with
 * loop_add_before_sleep, whenever either was added: for work that must not
 * delay what those hooks send (a blocking WAL write and fsync that follows
 * the replies and the peer sends of the iteration). */
int loop_add_before_sleep_last(struct loop *loop, loop_hook_cb cb,
                               void *data);
/* Removes the hook added with the same cb and data; returns 0, or -1 when
 * there is none. Objects that add a hook remove it before they are freed. */
int loop_remove_before_sleep(struct loop *loop, loop_hook_cb cb, void *data);

/* Calls cb in the loop (not in the signal handler) when signum arrives. */
int loop_on_signal(struct loop *loop, int signum, loop_hook_cb cb,
                   void *data);

#endif
