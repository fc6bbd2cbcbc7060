/*
 * k1s_buf_t: a growable byte buffer for building responses and keys.
 * The data is always NUL-terminated; len excludes the NUL.
 */
#ifndef K1S_LIB_BUF_H
#define K1S_LIB_BUF_H

#include "lib/util.h"

typedef struct k1s_buf {
    char *data;
    size_t len, cap;
} k1s_buf_t;

#define K1S_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void k1s_buf_reserve(k1s_buf_t *b, size_t extra);
void k1s_buf_append(k1s_buf_t *b, const void *data, size_t len);
void k1s_buf_puts(k1s_buf_t *b, const char *s);
void k1s_buf_putc(k1s_buf_t *b, char c);
void k1s_buf_printf(k1s_buf_t *b, const char *fmt, ...) K1S_PRINTF(2, 3);
/* Appends s as a JSON string literal, with quotes. */
void k1s_buf_json_str(k1s_buf_t *b, const char *s);
void k1s_buf_reset(k1s_buf_t *b);
/* Returns the data, leaving b empty; the caller frees it. */
char *k1s_buf_steal(k1s_buf_t *b);
void k1s_buf_free(k1s_buf_t *b);

#endif
