/*
 * Logging: one line per message on stderr, "time level message". Quiet by
 * default (info); library code logs at debug only and leaves the decision to
 * report an error to its caller.
 */
#ifndef K1S_LIB_LOG_H
#define K1S_LIB_LOG_H

#include "lib/util.h"

typedef enum {
    K1S_LOG_ERROR = 0,
    K1S_LOG_WARN,
    K1S_LOG_INFO,
    K1S_LOG_DEBUG,
    K1S_LOG_TRACE
} k1s_log_level_t;

extern k1s_log_level_t k1s_log_level;

/* Parses "error|warn|info|debug|trace" or a number 0-4 (k3s's -v style). 0 or -EINVAL. */
int k1s_log_set_level(const char *name);
void k1s_log(k1s_log_level_t level, const char *fmt, ...) K1S_PRINTF(2, 3);

#define k1s_log_enabled(l) ((l) <= k1s_log_level)
#define K1S_LOGF(l, ...)                                                                           \
    do {                                                                                           \
        if (k1s_log_enabled(l))                                                                    \
            k1s_log(l, __VA_ARGS__);                                                               \
    } while (0)
#define k1s_error(...) K1S_LOGF(K1S_LOG_ERROR, __VA_ARGS__)
#define k1s_warn(...) K1S_LOGF(K1S_LOG_WARN, __VA_ARGS__)
#define k1s_info(...) K1S_LOGF(K1S_LOG_INFO, __VA_ARGS__)
#define k1s_debug(...) K1S_LOGF(K1S_LOG_DEBUG, __VA_ARGS__)
#define k1s_trace(...) K1S_LOGF(K1S_LOG_TRACE, __VA_ARGS__)

#endif
