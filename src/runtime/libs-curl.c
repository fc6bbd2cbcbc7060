/*
 * libcurl, loaded when the first image is pulled (see runtime/libs.h). Each
 * function image-pull.c uses is defined here under curl.h's own prototype
 * and forwards to the library's; curl.h's compile-time option checks are
 * turned off in this file only, since they wrap curl_easy_setopt in a macro.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stdarg.h>

#include "lib/dynlib.h"
#include "runtime/libs.h"

#define CURL_FUNCS(X)                                                                              \
    X(curl_global_init)                                                                            \
    X(curl_easy_init)                                                                              \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_reset)                                                                             \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_perform)                                                                           \
    X(curl_easy_escape)                                                                            \
    X(curl_easy_strerror)                                                                          \
    X(curl_free)                                                                                   \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)

static struct {
#define X(f) __typeof__(f) *f;
    CURL_FUNCS(X)
#undef X
} fn;

static const k1s_dynlib_sym_t syms[] = {
#define X(f) {#f, (void **)&fn.f},
    CURL_FUNCS(X)
#undef X
};

/* Once, right after loading: image-pull.c never calls curl_global_init itself. */
static void global_init(void)
{
    fn.curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* libcurl.so.4 is the ABI curl.h describes (the SONAME has not changed since 2006). */
static k1s_dynlib_t lib = {.soname = "libcurl.so.4",
                           .package = "libcurl4",
                           .purpose = "pull images",
                           .syms = syms,
                           .n_syms = sizeof(syms) / sizeof(syms[0]),
                           .init = global_init};

int k1s_rt_curl_load(k1s_err_t *err)
{
    return k1s_dynlib_load(&lib, err);
}

CURL *curl_easy_init(void)
{
    k1s_dynlib_ensure(&lib);
    return fn.curl_easy_init();
}

void curl_easy_cleanup(CURL *c)
{
    k1s_dynlib_ensure(&lib);
    fn.curl_easy_cleanup(c);
}

void curl_easy_reset(CURL *c)
{
    k1s_dynlib_ensure(&lib);
    fn.curl_easy_reset(c);
}

/* The option's number says its argument's type, as libcurl itself reads it (curl.h). */
CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
    k1s_dynlib_ensure(&lib);
    va_list ap;
    va_start(ap, opt);
    CURLcode r;
    if (opt < CURLOPTTYPE_OBJECTPOINT)
        r = fn.curl_easy_setopt(c, opt, va_arg(ap, long));
    else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
        r = fn.curl_easy_setopt(c, opt, va_arg(ap, void *));
    else if (opt < CURLOPTTYPE_OFF_T)
        r = fn.curl_easy_setopt(c, opt, va_arg(ap, void (*)(void)));
    else if (opt < CURLOPTTYPE_BLOB)
        r = fn.curl_easy_setopt(c, opt, va_arg(ap, curl_off_t));
    else
        r = fn.curl_easy_setopt(c, opt, va_arg(ap, void *));
    va_end(ap);
    return r;
}

/* Every CURLINFO takes a pointer to where the value goes. */
CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
    k1s_dynlib_ensure(&lib);
    va_list ap;
    va_start(ap, info);
    CURLcode r = fn.curl_easy_getinfo(c, info, va_arg(ap, void *));
    va_end(ap);
    return r;
}

CURLcode curl_easy_perform(CURL *c)
{
    k1s_dynlib_ensure(&lib);
    return fn.curl_easy_perform(c);
}

char *curl_easy_escape(CURL *c, const char *s, int len)
{
    k1s_dynlib_ensure(&lib);
    return fn.curl_easy_escape(c, s, len);
}

const char *curl_easy_strerror(CURLcode code)
{
    k1s_dynlib_ensure(&lib);
    return fn.curl_easy_strerror(code);
}

void curl_free(void *p)
{
    k1s_dynlib_ensure(&lib);
    fn.curl_free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
    k1s_dynlib_ensure(&lib);
    return fn.curl_slist_append(l, s);
}

void curl_slist_free_all(struct curl_slist *l)
{
    k1s_dynlib_ensure(&lib);
    fn.curl_slist_free_all(l);
}
