/* Logging to stderr with a level filter; see log.h. */
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

k1s_log_level_t k1s_log_level = K1S_LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug", "trace"};

int k1s_log_set_level(const char *name)
{
    for (size_t i = 0; i < K1S_ARRAY_SIZE(names); i++) {
        if (strcasecmp(name, names[i]) == 0) {
            k1s_log_level = (k1s_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        k1s_log_level = K1S_LOG_WARN;
        return 0;
    }
    char *end;
    long v = strtol(name, &end, 10);
    if (*name && !*end && v >= 0) {
        k1s_log_level = v > K1S_LOG_TRACE ? K1S_LOG_TRACE : (k1s_log_level_t)v;
        return 0;
    }
    return -EINVAL;
}

void k1s_log(k1s_log_level_t level, const char *fmt, ...)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", ts, (long)(tv.tv_usec / 1000), names[level], msg);
}
