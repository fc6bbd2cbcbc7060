/* Error values with a message chain; see err.h. */
#include "lib/err.h"

#include <stdio.h>

int k1s_err_set(k1s_err_t *err, int code, const char *fmt, ...)
{
    if (code < 0)
        code = -code;
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return -code;
}

int k1s_err_prefix(k1s_err_t *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char old[sizeof(err->msg)];
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    return -err->code;
}

void k1s_err_clear(k1s_err_t *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = 0;
    }
}
