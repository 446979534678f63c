/* Log lines in Redis' format so that tools and eyes used to redis-server
 * logs read ours: "<pid>:M <date> <time.ms> <level char> <message>",
 * level chars '.', '-', '*', '#' as Redis serverLogRaw. Writes a whole
 * line with one fprintf and flushes it, so a crash loses nothing. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static FILE *log_fp;
static int log_level = LOG_LEVEL_NOTICE;

int log_open(const char *path)
{
    if (path == NULL || path[0] == '\0') {
        log_fp = stdout;
        return 0;
    }
    FILE *fp = fopen(path, "a");
    if (fp == NULL)
        return -1;
    log_fp = fp;
    return 0;
}

void log_set_level(int level)
{
    log_level = level;
}

void log_msg(int level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    if (level < log_level)
        return;
    FILE *fp = log_fp ? log_fp : stdout;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* The log prints wall time for people; the clock rule is about state
     * and TTLs, which never see this value. */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char when[64];
    size_t n = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(when + n, sizeof(when) - n, "%03d", (int)(tv.tv_usec / 1000));
    fprintf(fp, "%d:M %s %c %s\n", (int)getpid(), when, marks[level & 3], msg);
    fflush(fp);
}
