/* Growable byte buffer; see buf.h. */
#include "lib/buf.h"

#include <stdio.h>
#include <stdlib.h>

void k1s_buf_reserve(k1s_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = k1s_xrealloc(b->data, cap);
    b->cap = cap;
}

void k1s_buf_append(k1s_buf_t *b, const void *data, size_t len)
{
    k1s_buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

void k1s_buf_puts(k1s_buf_t *b, const char *s)
{
    k1s_buf_append(b, s, strlen(s));
}

void k1s_buf_putc(k1s_buf_t *b, char c)
{
    k1s_buf_append(b, &c, 1);
}

void k1s_buf_printf(k1s_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    k1s_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

void k1s_buf_json_str(k1s_buf_t *b, const char *s)
{
    k1s_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': k1s_buf_puts(b, "\\\""); break;
        case '\\': k1s_buf_puts(b, "\\\\"); break;
        case '\n': k1s_buf_puts(b, "\\n"); break;
        case '\r': k1s_buf_puts(b, "\\r"); break;
        case '\t': k1s_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20)
                k1s_buf_printf(b, "\\u%04x", *p);
            else
                k1s_buf_putc(b, (char)*p);
        }
    }
    k1s_buf_putc(b, '"');
}

void k1s_buf_reset(k1s_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

char *k1s_buf_steal(k1s_buf_t *b)
{
    char *d = b->data ? b->data : k1s_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void k1s_buf_free(k1s_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
