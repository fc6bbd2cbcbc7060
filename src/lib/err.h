/*
 * k1s_err_t carries an errno and a message that each layer can prefix, so a
 * failure deep down reads well at the top:
 * "open store /var/lib/k1s/server/db/state.db: disk I/O error".
 */
#ifndef K1S_LIB_ERR_H
#define K1S_LIB_ERR_H

#include "lib/util.h"

typedef struct k1s_err {
    int code; /* positive errno, 0 = no error */
    char msg[1024];
} k1s_err_t;

/* Sets err (if non-NULL) and returns -code, so callers can `return k1s_err_set(...)`. */
int k1s_err_set(k1s_err_t *err, int code, const char *fmt, ...) K1S_PRINTF(3, 4);
/* Prepends "prefix: " to the message; returns -err->code. */
int k1s_err_prefix(k1s_err_t *err, const char *fmt, ...) K1S_PRINTF(2, 3);
void k1s_err_clear(k1s_err_t *err);

#endif
