/*
 * libarchive, loaded when the first layer is unpacked or image tarball read
 * (see runtime/libs.h). Each function snapshot.c and image-import.c use is
 * defined here under archive.h's own prototype (so a mismatch does not
 * compile) and forwards to the library's.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdio.h>

#include "lib/dynlib.h"
#include "runtime/libs.h"

#define ARCHIVE_FUNCS(X)                                                                           \
    X(archive_errno)                                                                               \
    X(archive_error_string)                                                                        \
    X(archive_set_error)                                                                           \
    X(archive_read_new)                                                                            \
    X(archive_read_support_filter_all)                                                             \
    X(archive_read_support_format_tar)                                                             \
    X(archive_read_support_format_raw)                                                             \
    X(archive_read_support_format_empty)                                                           \
    X(archive_read_open)                                                                           \
    X(archive_read_open_filename)                                                                  \
    X(archive_read_next_header)                                                                    \
    X(archive_read_data)                                                                           \
    X(archive_read_data_block)                                                                     \
    X(archive_read_free)                                                                           \
    X(archive_write_disk_new)                                                                      \
    X(archive_write_disk_set_options)                                                              \
    X(archive_write_disk_set_standard_lookup)                                                      \
    X(archive_write_header)                                                                        \
    X(archive_write_data_block)                                                                    \
    X(archive_write_finish_entry)                                                                  \
    X(archive_write_close)                                                                         \
    X(archive_write_free)                                                                          \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_set_pathname)                                                                  \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_set_hardlink)                                                                  \
    X(archive_entry_symlink)                                                                       \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_size)

static struct {
#define X(f) __typeof__(f) *f;
    ARCHIVE_FUNCS(X)
#undef X
} fn;

static const k1s_dynlib_sym_t syms[] = {
#define X(f) {#f, (void **)&fn.f},
    ARCHIVE_FUNCS(X)
#undef X
};

/* libarchive.so.13 is the ABI archive.h describes (the SONAME has not changed since 2012). */
static k1s_dynlib_t lib = {.soname = "libarchive.so.13",
                           .package = "libarchive13",
                           .purpose = "unpack image layers or import image archives",
                           .syms = syms,
                           .n_syms = sizeof(syms) / sizeof(syms[0])};

int k1s_rt_archive_load(k1s_err_t *err)
{
    return k1s_dynlib_load(&lib, err);
}

/* A forwarding function: the parameter list is checked against archive.h's prototype. */
#define FORWARD(ret, f, params, args)                                                              \
    ret f params                                                                                   \
    {                                                                                              \
        k1s_dynlib_ensure(&lib);                                                                   \
        return fn.f args;                                                                          \
    }
#define FORWARD_VOID(f, params, args)                                                              \
    void f params                                                                                  \
    {                                                                                              \
        k1s_dynlib_ensure(&lib);                                                                   \
        fn.f args;                                                                                 \
    }

FORWARD(int, archive_errno, (struct archive * a), (a))
FORWARD(const char *, archive_error_string, (struct archive * a), (a))
FORWARD(struct archive *, archive_read_new, (void), ())
FORWARD(int, archive_read_support_filter_all, (struct archive * a), (a))
FORWARD(int, archive_read_support_format_tar, (struct archive * a), (a))
FORWARD(int, archive_read_support_format_raw, (struct archive * a), (a))
FORWARD(int, archive_read_support_format_empty, (struct archive * a), (a))
FORWARD(int, archive_read_open,
        (struct archive * a, void *data, archive_open_callback *o, archive_read_callback *r,
         archive_close_callback *c),
        (a, data, o, r, c))
FORWARD(int, archive_read_open_filename, (struct archive * a, const char *path, size_t block),
        (a, path, block))
FORWARD(int, archive_read_next_header, (struct archive * a, struct archive_entry **e), (a, e))
FORWARD(la_ssize_t, archive_read_data, (struct archive * a, void *buf, size_t len), (a, buf, len))
FORWARD(int, archive_read_data_block,
        (struct archive * a, const void **buf, size_t *len, la_int64_t *off), (a, buf, len, off))
FORWARD(int, archive_read_free, (struct archive * a), (a))
FORWARD(struct archive *, archive_write_disk_new, (void), ())
FORWARD(int, archive_write_disk_set_options, (struct archive * a, int flags), (a, flags))
FORWARD(int, archive_write_disk_set_standard_lookup, (struct archive * a), (a))
FORWARD(int, archive_write_header, (struct archive * a, struct archive_entry *e), (a, e))
FORWARD(la_ssize_t, archive_write_data_block,
        (struct archive * a, const void *buf, size_t len, la_int64_t off), (a, buf, len, off))
FORWARD(int, archive_write_finish_entry, (struct archive * a), (a))
FORWARD(int, archive_write_close, (struct archive * a), (a))
FORWARD(int, archive_write_free, (struct archive * a), (a))
FORWARD(const char *, archive_entry_pathname, (struct archive_entry * e), (e))
FORWARD_VOID(archive_entry_set_pathname, (struct archive_entry * e, const char *p), (e, p))
FORWARD(const char *, archive_entry_hardlink, (struct archive_entry * e), (e))
FORWARD_VOID(archive_entry_set_hardlink, (struct archive_entry * e, const char *p), (e, p))
FORWARD(const char *, archive_entry_symlink, (struct archive_entry * e), (e))
FORWARD(__LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e))
FORWARD(la_int64_t, archive_entry_size, (struct archive_entry * e), (e))

/* Variadic: the message is formatted here and passed on as a plain string. */
void archive_set_error(struct archive *a, int err, const char *fmt, ...)
{
    k1s_dynlib_ensure(&lib);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn.archive_set_error(a, err, "%s", msg);
}
