/* libev behind the loop.h interface. The only file that includes <ev.h>.
 * One loop per process (libev's default loop, so signals work); watchers
 * are heap objects owned by their creators. The clock is read here only:
 * loop_now_ms is libev's per-iteration cached time plus a debug offset. */
#include "net/loop.h"

#include <ev.h>
#include <stdlib.h>
#include <time.h>

#define LOOP_MAX_HOOKS 16
#define LOOP_MAX_SIGNALS 8

struct loop_hook {
    loop_hook_cb cb;
    void *data;
    int last; /* added with loop_add_before_sleep_last */
};

struct loop_signal {
    ev_signal w;
    struct loop *loop;
    loop_hook_cb cb;
    void *data;
};

struct loop {
    struct ev_loop *ev;
    ev_prepare prepare;
    struct loop_hook hooks[LOOP_MAX_HOOKS];
    int nhooks;
    struct loop_signal signals[LOOP_MAX_SIGNALS];
    int nsignals;
    int64_t clock_offset_ms;
};

struct loop_io {
    ev_io w;
    struct loop *loop;
    loop_io_cb cb;
    void *data;
    int events;
};

struct loop_timer {
    ev_timer w;
    struct loop *loop;
    loop_timer_cb cb;
    void *data;
};

static void on_prepare(struct ev_loop *ev, ev_prepare *w, int revents)
{
    struct loop *loop = w->data;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < loop->nhooks; i++)
            if (loop->hooks[i].last == pass)
                loop->hooks[i].cb(loop, loop->hooks[i].data);
}

struct loop *loop_create(void)
{
    struct loop *loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return NULL;
    loop->ev = ev_default_loop(EVFLAG_AUTO);
    if (loop->ev == NULL) {
        free(loop);
        return NULL;
    }
    ev_prepare_init(&loop->prepare, on_prepare);
    loop->prepare.data = loop;
    ev_prepare_start(loop->ev, &loop->prepare);
    /* The prepare watcher must not keep the loop alive on its own. */
    ev_unref(loop->ev);
    return loop;
}

void loop_destroy(struct loop *loop)
{
    if (loop == NULL)
        return;
    ev_ref(loop->ev);
    ev_prepare_stop(loop->ev, &loop->prepare);
    for (int i = 0; i < loop->nsignals; i++)
        ev_signal_stop(loop->ev, &loop->signals[i].w);
    free(loop);
}

int loop_run(struct loop *loop)
{
    ev_run(loop->ev, 0);
    return 0;
}

void loop_run_once(struct loop *loop)
{
    ev_run(loop->ev, EVRUN_ONCE);
}

void loop_stop(struct loop *loop)
{
    ev_break(loop->ev, EVBREAK_ALL);
}

int64_t loop_now_ms(struct loop *loop)
{
    return (int64_t)(ev_now(loop->ev) * 1000.0) + loop->clock_offset_ms;
}

int64_t loop_mono_ms(struct loop *loop)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t loop_mono_us_fresh(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void loop_jump_clock(struct loop *loop, int64_t delta_ms)
{
    loop->clock_offset_ms += delta_ms;
}

static void on_io(struct ev_loop *ev, ev_io *w, int revents)
{
    struct loop_io *io = (struct loop_io *)w;
    int events = ((revents & EV_READ) ? LOOP_READ : 0) |
                 ((revents & EV_WRITE) ? LOOP_WRITE : 0);
    io->cb(io, events, io->data);
}

static int to_ev(int events)
{
    return ((events & LOOP_READ) ? EV_READ : 0) |
           ((events & LOOP_WRITE) ? EV_WRITE : 0);
}

struct loop_io *loop_io_create(struct loop *loop, int fd, int events,
                               loop_io_cb cb, void *data)
{
    struct loop_io *io = calloc(1, sizeof(*io));
    if (io == NULL)
        return NULL;
    io->loop = loop;
    io->cb = cb;
    io->data = data;
    ev_io_init(&io->w, on_io, fd, EV_READ);
    loop_io_set(io, events);
    return io;
}

void loop_io_set(struct loop_io *io, int events)
{
    if (events == io->events)
        return;
    ev_io_stop(io->loop->ev, &io->w);
    io->events = events;
    if (events == 0)
        return;
    ev_io_set(&io->w, io->w.fd, to_ev(events));
    ev_io_start(io->loop->ev, &io->w);
}

void loop_io_set_priority(struct loop_io *io, int priority)
{
    int events = io->events;
    loop_io_set(io, 0);
    ev_set_priority(&io->w, priority);
    loop_io_set(io, events);
}

int loop_io_events(const struct loop_io *io)
{
    return io->events;
}

int loop_io_fd(const struct loop_io *io)
{
    return io->w.fd;
}

void loop_io_destroy(struct loop_io *io)
{
    if (io == NULL)
        return;
    ev_io_stop(io->loop->ev, &io->w);
    free(io);
}

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    struct loop_timer *t = (struct loop_timer *)w;
    t->cb(t, t->data);
}

struct loop_timer *loop_timer_create(struct loop *loop, double after_ms,
                                     double repeat_ms, loop_timer_cb cb,
                                     void *data)
{
    struct loop_timer *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->loop = loop;
    t->cb = cb;
    t->data = data;
    ev_timer_init(&t->w, on_timer, after_ms / 1000.0, repeat_ms / 1000.0);
    ev_timer_start(loop->ev, &t->w);
    return t;
}

void loop_timer_again(struct loop_timer *t, double after_ms)
{
    ev_timer_stop(t->loop->ev, &t->w);
    ev_timer_set(&t->w, after_ms / 1000.0, t->w.repeat);
    ev_timer_start(t->loop->ev, &t->w);
}

void loop_timer_stop(struct loop_timer *t)
{
    ev_timer_stop(t->loop->ev, &t->w);
}

void loop_timer_destroy(struct loop_timer *t)
{
    if (t == NULL)
        return;
    ev_timer_stop(t->loop->ev, &t->w);
    free(t);
}

static int add_hook(struct loop *loop, loop_hook_cb cb, void *data, int last)
{
    if (loop->nhooks == LOOP_MAX_HOOKS)
        return -1;
    loop->hooks[loop->nhooks++] = (struct loop_hook){cb, data, last};
    return 0;
}

int loop_add_before_sleep(struct loop *loop, loop_hook_cb cb, void *data)
{
    return add_hook(loop, cb, data, 0);
}

int loop_add_before_sleep_last(struct loop *loop, loop_hook_cb cb,
                               void *data)
{
    return add_hook(loop, cb, data, 1);
}

int loop_remove_before_sleep(struct loop *loop, loop_hook_cb cb, void *data)
{
    for (int i = 0; i < loop->nhooks; i++) {
        if (loop->hooks[i].cb != cb || loop->hooks[i].data != data)
            continue;
        for (int j = i + 1; j < loop->nhooks; j++)
            loop->hooks[j - 1] = loop->hooks[j];
        loop->nhooks--;
        return 0;
    }
    return -1;
}

static void on_signal(struct ev_loop *ev, ev_signal *w, int revents)
{
    struct loop_signal *s = (struct loop_signal *)w;
    s->cb(s->loop, s->data);
}

int loop_on_signal(struct loop *loop, int signum, loop_hook_cb cb,
                   void *data)
{
    if (loop->nsignals == LOOP_MAX_SIGNALS)
        return -1;
    struct loop_signal *s = &loop->signals[loop->nsignals++];
    s->loop = loop;
    s->cb = cb;
    s->data = data;
    ev_signal_init(&s->w, on_signal, signum);
    ev_signal_start(loop->ev, &s->w);
    /* Signal watchers do not keep the loop running by themselves. */
    ev_unref(loop->ev);
    return 0;
}
