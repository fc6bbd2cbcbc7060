/*
 * Validation of built-in objects as kube-apiserver v1.32 does it
 * (pkg/apis/{core,apps,batch,...}/validation, apimachinery's api/validation and
 * util/validation), working on the decoded JSON instead of Go structs.
 *
 * Each rule appends a cause whose message is what field.Error.ErrorBody()
 * prints, value included: strings as strconv.Quote, integers bare, and the
 * handful of Go composite values Kubernetes prints with %#v (label maps,
 * selectors, IntOrString) rebuilt in the same shape. Where a rule would
 * print a Go pointer address or a cmp.Diff, the message keeps Kubernetes'
 * wording and replaces the unprintable part with a close equivalent.
 *
 * Sections: quantities; Go value formatting; the cause context; format
 * checks; ObjectMeta; label selectors; pod specs; one function per kind;
 * dispatch and the Status message.
 */
#include "api/validate.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include "lib/buf.h"
#include "lib/util.h"

/* ------------------------------------------------------------------------------------------ */
/* Quantities                                                                                 */
/* ------------------------------------------------------------------------------------------ */

const char k1s_quantity_err_format[] = "quantities must match the regular expression "
                                       "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const char k1s_quantity_err_numeric[] = "unable to parse numeric part of quantity";
const char k1s_quantity_err_suffix[] = "unable to parse quantity's suffix";

/* Working space for exact decimal arithmetic on digit strings (magnitudes only). */
#define QBUF 640

static void dstrip(char *d)
{
    size_t i = 0;
    while (d[i] == '0' && d[i + 1])
        i++;
    if (i)
        memmove(d, d + i, strlen(d + i) + 1);
}

static bool dzero(const char *d)
{
    return d[0] == '0' && d[1] == 0;
}

/* d *= m (m < 10000); false if it would not fit cap bytes. */
static bool dmul(char *d, size_t cap, int m)
{
    size_t n = strlen(d);
    char tmp[QBUF + 8];
    int carry = 0, k = 0;
    for (size_t i = n; i-- > 0;) {
        int x = (d[i] - '0') * m + carry;
        tmp[k++] = (char)('0' + x % 10);
        carry = x / 10;
    }
    while (carry) {
        tmp[k++] = (char)('0' + carry % 10);
        carry /= 10;
    }
    if ((size_t)k + 1 > cap)
        return false;
    for (int i = 0; i < k; i++)
        d[i] = tmp[k - 1 - i];
    d[k] = 0;
    dstrip(d);
    return true;
}

/* d /= m, returns the remainder. */
static int ddiv(char *d, int m)
{
    int rem = 0;
    size_t n = strlen(d);
    for (size_t i = 0; i < n; i++) {
        int x = rem * 10 + (d[i] - '0');
        d[i] = (char)('0' + x / m);
        rem = x % m;
    }
    dstrip(d);
    return rem;
}

/* d += 1 (d has room for one more digit). */
static void dinc(char *d)
{
    size_t n = strlen(d);
    for (size_t i = n; i-- > 0;) {
        if (d[i] < '9') {
            d[i]++;
            return;
        }
        d[i] = '0';
    }
    memmove(d + 1, d, n + 1);
    d[0] = '1';
}

/* Compares magnitudes a*10^ae and b*10^be. */
static int dcmp(const char *a, int ae, const char *b, int be)
{
    bool az = dzero(a), bz = dzero(b);
    if (az || bz)
        return az && bz ? 0 : az ? -1 : 1;
    long la = (long)strlen(a), lb = (long)strlen(b);
    long oa = la + ae, ob = lb + be; /* position of the leading digit */
    if (oa != ob)
        return oa < ob ? -1 : 1;
    long n = la > lb ? la : lb;
    for (long i = 0; i < n; i++) {
        char ca = i < la ? a[i] : '0', cb = i < lb ? b[i] : '0';
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return 0;
}

/* Rounds d*10^*e up (away from zero) to exponent >= scale; true if nothing was lost. */
static bool dround_up(char *d, int *e, int scale)
{
    if (*e >= scale)
        return true;
    long cut = (long)scale - *e;
    long n = (long)strlen(d);
    bool lost = false;
    if (cut >= n) {
        lost = !dzero(d);
        strcpy(d, lost ? "1" : "0");
    } else {
        for (long i = n - cut; i < n; i++)
            if (d[i] != '0')
                lost = true;
        d[n - cut] = 0;
        if (lost)
            dinc(d);
    }
    *e = scale;
    if (dzero(d) && !lost)
        *e = 0;
    return !lost;
}

static void qzero(k1s_quantity_t *q)
{
    memset(q, 0, sizeof(*q));
    strcpy(q->digits, "0");
}

static bool qset(k1s_quantity_t *q, const char *d, int e)
{
    char tmp[QBUF];
    snprintf(tmp, sizeof(tmp), "%s", d);
    dstrip(tmp);
    /* move trailing zeros into the exponent only when needed to fit */
    size_t n = strlen(tmp);
    while (n > K1S_QTY_MAX_DIGITS && tmp[n - 1] == '0' && e < INT_MAX) {
        tmp[--n] = 0;
        e++;
    }
    if (n > K1S_QTY_MAX_DIGITS)
        return false;
    memcpy(q->digits, tmp, n + 1);
    q->exp = dzero(tmp) ? 0 : e;
    return true;
}

static int suffix_interpret(const char *s, int *base, long *exponent, k1s_quantity_format_t *fmt)
{
    static const struct {
        const char *s;
        int base, exp;
    } tab[] = {{"", 10, 0},   {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3},
               {"k", 10, 3},  {"M", 10, 6},  {"G", 10, 9},  {"T", 10, 12},
               {"P", 10, 15}, {"E", 10, 18}, {"Ki", 2, 10}, {"Mi", 2, 20},
               {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60}};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(tab); i++) {
        if (strcmp(s, tab[i].s) == 0) {
            *base = tab[i].base;
            *exponent = tab[i].exp;
            *fmt = tab[i].base == 2 ? K1S_QTY_BINARY_SI : K1S_QTY_DECIMAL_SI;
            return 0;
        }
    }
    if (strlen(s) > 1 && (s[0] == 'e' || s[0] == 'E')) {
        const char *p = s + 1;
        if (*p == '+' || *p == '-')
            p++;
        if (!*p)
            return -1;
        for (const char *c = p; *c; c++)
            if (!isdigit((unsigned char)*c))
                return -1;
        errno = 0;
        long long v = strtoll(s + 1, NULL, 10);
        if (errno || v > INT_MAX / 2 || v < -(INT_MAX / 2))
            return -1;
        *base = 10;
        *exponent = (long)v;
        *fmt = K1S_QTY_DECIMAL_EXPONENT;
        return 0;
    }
    return -1;
}

static int qfail(const char **err, const char *msg)
{
    if (err)
        *err = msg;
    return -EINVAL;
}

int k1s_quantity_parse(const char *str, k1s_quantity_t *q, const char **err)
{
    qzero(q);
    size_t end = strlen(str);
    if (end == 0)
        return qfail(err, k1s_quantity_err_format);
    if (strcmp(str, "0") == 0) {
        strcpy(q->keep, "0");
        return 0;
    }
    /* parseQuantityString: sign, numerator, denominator, suffix */
    bool positive = true;
    size_t pos = 0;
    if (str[0] == '-') {
        positive = false;
        pos++;
    } else if (str[0] == '+') {
        pos++;
    }
    char num[QBUF] = "0", denom[QBUF] = "", suf[64] = "";
    while (pos < end && str[pos] == '0')
        pos++;
    if (pos < end) {
        size_t s = pos;
        while (pos < end && isdigit((unsigned char)str[pos]))
            pos++;
        if (pos - s >= QBUF)
            return qfail(err, k1s_quantity_err_numeric);
        if (pos > s) {
            memcpy(num, str + s, pos - s);
            num[pos - s] = 0;
        }
        if (pos < end && str[pos] == '.') {
            pos++;
            s = pos;
            while (pos < end && isdigit((unsigned char)str[pos]))
                pos++;
            if (pos - s >= QBUF)
                return qfail(err, k1s_quantity_err_numeric);
            memcpy(denom, str + s, pos - s);
            denom[pos - s] = 0;
        }
        size_t ss = pos;
        while (pos < end && strchr("eEinumkKMGTP", str[pos]))
            pos++;
        if (pos < end && (str[pos] == '-' || str[pos] == '+'))
            pos++;
        while (pos < end && isdigit((unsigned char)str[pos]))
            pos++;
        if (pos < end)
            return qfail(err, k1s_quantity_err_format);
        if (end - ss >= sizeof(suf))
            return qfail(err, k1s_quantity_err_suffix);
        memcpy(suf, str + ss, end - ss);
        suf[end - ss] = 0;
    }
    int base;
    long exponent;
    k1s_quantity_format_t format;
    if (suffix_interpret(suf, &base, &exponent, &format) < 0)
        return qfail(err, k1s_quantity_err_suffix);
    q->format = format;
    q->neg = !positive;
    size_t lnum = strlen(num), lden = strlen(denom);

    /* ParseQuantity's int64 fast path decides whether the input string is kept verbatim */
    long precision = -1, scale = 0;
    unsigned long long mantissa = 1;
    if (format == K1S_QTY_BINARY_SI) {
        if (exponent >= 0 && lden == 0) {
            mantissa = 1ULL << exponent;
            precision = 15 - (long)lnum - (long)((float)exponent * 3 / 10) - 1;
        }
    } else {
        scale = exponent;
        precision = 18 - (long)(lnum + lden);
    }
    char shifted[QBUF * 2 + 2];
    snprintf(shifted, sizeof(shifted), "%s%s", num, denom);
    if (precision >= 0) {
        scale -= (long)lden;
        if (scale >= -9) {
            unsigned long long v = strtoull(shifted, NULL, 10);
            if (v <= (unsigned long long)INT64_MAX && (v == 0 || mantissa <= INT64_MAX / v)) {
                bool keep;
                if (format == K1S_QTY_BINARY_SI)
                    keep = exponent % 10 == 0 && (v & 0x07) != 0;
                else
                    keep =
                        scale % 3 == 0 && !k1s_str_has_suffix(shifted, "000") && shifted[0] != '0';
                char d[64];
                snprintf(d, sizeof(d), "%llu", v * mantissa);
                qset(q, d, (int)scale);
                if (dzero(q->digits))
                    q->neg = false;
                if (keep && end < sizeof(q->keep))
                    memcpy(q->keep, str, end + 1);
                return 0;
            }
        }
    }

    /* the exact (inf.Dec) path */
    char d[QBUF * 2 + 32];
    snprintf(d, sizeof(d), "%s", shifted);
    dstrip(d);
    long e = -(long)lden;
    if (base == 10) {
        e += exponent;
    } else {
        for (long i = 0; i < exponent; i++)
            if (!dmul(d, sizeof(d), 2))
                return qfail(err, k1s_quantity_err_numeric);
    }
    if (e < INT_MIN / 2 || e > INT_MAX / 2)
        return qfail(err, k1s_quantity_err_numeric);
    int ei = (int)e;
    if (!dzero(d))
        dround_up(d, &ei, -9);
    if (format == K1S_QTY_BINARY_SI && dcmp(d, ei, "9223372036854775807", 0) > 0) {
        strcpy(d, "9223372036854775807");
        ei = 0;
    }
    if (format == K1S_QTY_BINARY_SI && !dzero(d) && dcmp(d, ei, "1", 0) < 0)
        format = K1S_QTY_DECIMAL_SI;
    q->format = format;
    if (!qset(q, d, ei))
        return qfail(err, k1s_quantity_err_numeric);
    if (dzero(q->digits))
        q->neg = false;
    return 0;
}

/* Go's strconv.FormatFloat(f, 'g', -1, 64)-like shortest form, good enough for JSON numbers. */
static void format_double(double x, char *out, size_t n)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

int k1s_quantity_from_json(const json_t *v, k1s_quantity_t *q, const char **err)
{
    char buf[64];
    if (json_is_string(v)) {
        /* UnmarshalJSON trims surrounding white space */
        const char *s = json_string_value(v);
        while (*s && isspace((unsigned char)*s))
            s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        char *t = k1s_xstrndup(s, n);
        int rc = k1s_quantity_parse(t, q, err);
        free(t);
        return rc;
    }
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return k1s_quantity_parse(buf, q, err);
    }
    if (json_is_real(v)) {
        format_double(json_real_value(v), buf, sizeof(buf));
        return k1s_quantity_parse(buf, q, err);
    }
    return qfail(err, k1s_quantity_err_format);
}

bool k1s_quantity_round_up(k1s_quantity_t *q, int scale)
{
    if (q->keep[0] && q->exp >= scale)
        return true;
    if (q->exp >= scale)
        return true;
    q->keep[0] = 0;
    bool exact = dround_up(q->digits, &q->exp, scale);
    if (dzero(q->digits))
        q->neg = false;
    return exact;
}

int k1s_quantity_sign(const k1s_quantity_t *q)
{
    return dzero(q->digits) ? 0 : q->neg ? -1 : 1;
}

int k1s_quantity_cmp(const k1s_quantity_t *a, const k1s_quantity_t *b)
{
    int sa = k1s_quantity_sign(a), sb = k1s_quantity_sign(b);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    int c = dcmp(a->digits, a->exp, b->digits, b->exp);
    return sa < 0 ? -c : c;
}

static int64_t qscaled(const k1s_quantity_t *q, int scale)
{
    char d[QBUF];
    snprintf(d, sizeof(d), "%s", q->digits);
    int e = q->exp;
    /* value * 10^-scale, rounded up */
    e -= scale;
    dround_up(d, &e, 0);
    if (dzero(d))
        return 0;
    if ((long)strlen(d) + e > 19)
        return q->neg ? INT64_MIN : INT64_MAX;
    for (int i = 0; i < e; i++)
        strcat(d, "0");
    if (dcmp(d, 0, "9223372036854775807", 0) > 0)
        return q->neg ? INT64_MIN : INT64_MAX;
    int64_t v = (int64_t)strtoll(d, NULL, 10);
    return q->neg ? -v : v;
}

int64_t k1s_quantity_value(const k1s_quantity_t *q)
{
    return qscaled(q, 0);
}

int64_t k1s_quantity_milli_value(const k1s_quantity_t *q)
{
    return qscaled(q, -3);
}

char *k1s_quantity_string(const k1s_quantity_t *q)
{
    if (q->keep[0])
        return k1s_xstrdup(q->keep);
    if (dzero(q->digits))
        return k1s_xstrdup("0");
    k1s_quantity_format_t format = q->format;
    char d[QBUF + 4];
    int e = q->exp;
    snprintf(d, sizeof(d), "%s", q->digits);
    if (format == K1S_QTY_BINARY_SI) {
        if (dcmp(d, e, "1024", 0) < 0) {
            format = K1S_QTY_DECIMAL_SI;
        } else {
            char r[QBUF + 4];
            int re = e;
            snprintf(r, sizeof(r), "%s", d);
            if (!dround_up(r, &re, 0) || re + strlen(r) > QBUF - 2)
                format = K1S_QTY_DECIMAL_SI;
            else {
                for (int i = 0; i < re; i++)
                    strcat(r, "0");
                strcpy(d, r);
                e = 0;
            }
        }
    }
    k1s_buf_t b = K1S_BUF_INIT;
    if (q->neg)
        k1s_buf_putc(&b, '-');
    if (format == K1S_QTY_BINARY_SI) {
        int n = 0;
        for (;;) {
            if (dcmp(d, 0, "1024", 0) < 0)
                break;
            char t[QBUF + 4];
            strcpy(t, d);
            if (ddiv(t, 1024) != 0)
                break;
            strcpy(d, t);
            n++;
        }
        static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
        k1s_buf_puts(&b, d);
        if (n < (int)K1S_ARRAY_SIZE(bin))
            k1s_buf_puts(&b, bin[n]);
        return k1s_buf_steal(&b);
    }
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '0') {
        d[--n] = 0;
        e++;
    }
    while (e % 3 != 0 && n < sizeof(d) - 1) {
        d[n++] = '0';
        d[n] = 0;
        e--;
    }
    k1s_buf_puts(&b, d);
    if (format == K1S_QTY_DECIMAL_EXPONENT) {
        if (e != 0)
            k1s_buf_printf(&b, "e%d", e);
    } else {
        static const struct {
            int e;
            const char *s;
        } dec[] = {{-9, "n"}, {-6, "u"}, {-3, "m"}, {3, "k"}, {6, "M"},
                   {9, "G"},  {12, "T"}, {15, "P"}, {18, "E"}};
        for (size_t i = 0; i < K1S_ARRAY_SIZE(dec); i++)
            if (dec[i].e == e)
                k1s_buf_puts(&b, dec[i].s);
    }
    return k1s_buf_steal(&b);
}

char *k1s_quantity_canonical(const char *s)
{
    k1s_quantity_t q;
    if (k1s_quantity_parse(s, &q, NULL) < 0)
        return NULL;
    return k1s_quantity_string(&q);
}

/* ------------------------------------------------------------------------------------------ */
/* JSON access and Go value formatting                                                        */
/* ------------------------------------------------------------------------------------------ */

static const json_t *jget(const json_t *o, const char *k)
{
    if (!json_is_object(o))
        return NULL;
    const json_t *v = json_object_get(o, k);
    return json_is_null(v) ? NULL : v;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(jget(o, k));
}

static const char *jstr0(const json_t *o, const char *k)
{
    const char *s = jstr(o, k);
    return s ? s : "";
}

static const json_t *jobj(const json_t *o, const char *k)
{
    const json_t *v = jget(o, k);
    return json_is_object(v) ? v : NULL;
}

static const json_t *jarr(const json_t *o, const char *k)
{
    const json_t *v = jget(o, k);
    return json_is_array(v) ? v : NULL;
}

static bool jnum(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == (double)(long long)d) {
            *out = (long long)d;
            return true;
        }
    }
    return false;
}

static bool jint(const json_t *o, const char *k, long long *out)
{
    return jnum(jget(o, k), out);
}

static bool jtrue(const json_t *o, const char *k)
{
    return json_is_true(jget(o, k));
}

static size_t jlen(const json_t *v)
{
    return json_is_array(v) ? json_array_size(v) : json_is_object(v) ? json_object_size(v) : 0;
}

#define ARR_EACH(arr, i, val)                                                                      \
    for (size_t i = 0; (i) < json_array_size(arr) && ((val) = json_array_get((arr), (i))); (i)++)

#define OBJ_EACH(obj, k, val)                                                                      \
    for (void *it_##k = json_is_object(obj) ? json_object_iter((json_t *)(obj)) : NULL;            \
         it_##k && ((k) = json_object_iter_key(it_##k), (val) = json_object_iter_value(it_##k),    \
                   (void)(val), 1);                                                                \
         it_##k = json_object_iter_next((json_t *)(obj), it_##k))

/* strconv.Quote */
static void go_quote(k1s_buf_t *b, const char *s)
{
    k1s_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            switch (c) {
            case '"': k1s_buf_puts(b, "\\\""); break;
            case '\\': k1s_buf_puts(b, "\\\\"); break;
            case '\a': k1s_buf_puts(b, "\\a"); break;
            case '\b': k1s_buf_puts(b, "\\b"); break;
            case '\f': k1s_buf_puts(b, "\\f"); break;
            case '\n': k1s_buf_puts(b, "\\n"); break;
            case '\r': k1s_buf_puts(b, "\\r"); break;
            case '\t': k1s_buf_puts(b, "\\t"); break;
            case '\v': k1s_buf_puts(b, "\\v"); break;
            default:
                if (c < 0x20 || c == 0x7f)
                    k1s_buf_printf(b, "\\x%02x", c);
                else
                    k1s_buf_putc(b, (char)c);
            }
            p++;
            continue;
        }
        /* decode one UTF-8 sequence */
        int len = 0;
        unsigned r = 0;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            r = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            r = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            r = c & 0x07;
        }
        bool ok = len > 0;
        for (int i = 1; ok && i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                ok = false;
            else
                r = (r << 6) | (p[i] & 0x3f);
        }
        if (ok && ((len == 3 && (r < 0x800 || (r >= 0xd800 && r < 0xe000))) ||
                   (len == 4 && (r < 0x10000 || r > 0x10ffff))))
            ok = false;
        if (!ok) {
            k1s_buf_printf(b, "\\x%02x", c);
            p++;
            continue;
        }
        if (r < 0xa0 || r == 0xad || (r >= 0x2028 && r <= 0x2029) || r == 0xfeff)
            k1s_buf_printf(b, r < 0x10000 ? "\\u%04x" : "\\U%08x", r);
        else
            k1s_buf_append(b, p, (size_t)len);
        p += len;
    }
    k1s_buf_putc(b, '"');
}

static char *quoted(const char *s)
{
    k1s_buf_t b = K1S_BUF_INIT;
    go_quote(&b, s ? s : "");
    return k1s_buf_steal(&b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* %#v of a map[string]string held in a JSON object (NULL for a nil map). */
static void go_map(k1s_buf_t *b, const json_t *m)
{
    if (!json_is_object(m)) {
        k1s_buf_puts(b, "map[string]string(nil)");
        return;
    }
    size_t n = json_object_size(m), i = 0;
    const char **keys = k1s_xcalloc(n ? n : 1, sizeof(*keys));
    const char *k;
    const json_t *val;
    OBJ_EACH(m, k, val)
    keys[i++] = k;
    qsort(keys, i, sizeof(*keys), cmp_str);
    k1s_buf_puts(b, "map[string]string{");
    for (size_t j = 0; j < i; j++) {
        if (j)
            k1s_buf_puts(b, ", ");
        go_quote(b, keys[j]);
        k1s_buf_putc(b, ':');
        go_quote(b, jstr0(m, keys[j]));
    }
    k1s_buf_putc(b, '}');
    free(keys);
}

/* %#v of a []string held in a JSON array (NULL for a nil slice). */
static void go_strings(k1s_buf_t *b, const json_t *a)
{
    if (!json_is_array(a)) {
        k1s_buf_puts(b, "[]string(nil)");
        return;
    }
    k1s_buf_puts(b, "[]string{");
    const json_t *v;
    ARR_EACH(a, i, v)
    {
        if (i)
            k1s_buf_puts(b, ", ");
        go_quote(b, json_is_string(v) ? json_string_value(v) : "");
    }
    k1s_buf_putc(b, '}');
}

/* %#v of a metav1.LabelSelector value. */
static void go_selector(k1s_buf_t *b, const json_t *sel)
{
    k1s_buf_puts(b, "v1.LabelSelector{MatchLabels:");
    go_map(b, jobj(sel, "matchLabels"));
    k1s_buf_puts(b, ", MatchExpressions:");
    const json_t *ex = jarr(sel, "matchExpressions");
    if (!ex) {
        k1s_buf_puts(b, "[]v1.LabelSelectorRequirement(nil)}");
        return;
    }
    k1s_buf_puts(b, "[]v1.LabelSelectorRequirement{");
    const json_t *e;
    ARR_EACH(ex, i, e)
    {
        if (i)
            k1s_buf_puts(b, ", ");
        k1s_buf_puts(b, "v1.LabelSelectorRequirement{Key:");
        go_quote(b, jstr0(e, "key"));
        k1s_buf_puts(b, ", Operator:");
        go_quote(b, jstr0(e, "operator"));
        k1s_buf_puts(b, ", Values:");
        go_strings(b, jarr(e, "values"));
        k1s_buf_putc(b, '}');
    }
    k1s_buf_puts(b, "}}");
}

/* %#v of an intstr.IntOrString value (JSON number or string; NULL is the zero value). */
static void go_intstr(k1s_buf_t *b, const json_t *v)
{
    long long n = 0;
    if (json_is_string(v)) {
        k1s_buf_puts(b, "intstr.IntOrString{Type:1, IntVal:0, StrVal:");
        go_quote(b, json_string_value(v));
        k1s_buf_putc(b, '}');
        return;
    }
    jnum(v, &n);
    k1s_buf_printf(b, "intstr.IntOrString{Type:0, IntVal:%lld, StrVal:\"\"}", n);
}

/* Time.String() of an RFC 3339 UTC timestamp ("2026-01-02 03:04:05 +0000 UTC"). */
static char *go_time(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s)
        return k1s_xstrdup("null");
    int Y, M, D, h, m, sec;
    char z = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &Y, &M, &D, &h, &m, &sec, &z) == 7 && z == 'Z')
        return k1s_xasprintf("%04d-%02d-%02d %02d:%02d:%02d +0000 UTC", Y, M, D, h, m, sec);
    return k1s_xstrdup(s);
}

/* The value of a quantity field as Kubernetes prints a resource.Quantity with %#v. */
static char *go_quantity(const k1s_quantity_t *q)
{
    static const char *const fmts[] = {"DecimalSI", "BinarySI", "DecimalExponent"};
    char d[64];
    int e = q->exp;
    if (strlen(q->digits) < 19) {
        snprintf(d, sizeof(d), "%s%s", q->neg ? "-" : "", q->digits);
        return k1s_xasprintf(
            "resource.Quantity{i:resource.int64Amount{value:%s, scale:%d}, "
            "d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"%s\", Format:\"%s\"}",
            d, e, q->keep, fmts[q->format]);
    }
    char *s = k1s_quantity_string(q);
    char *r = k1s_xasprintf("resource.Quantity{%s}", s);
    free(s);
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* The cause context                                                                          */
/* ------------------------------------------------------------------------------------------ */

typedef enum {
    E_REQUIRED,
    E_INVALID,
    E_NOTSUPPORTED,
    E_DUPLICATE,
    E_FORBIDDEN,
    E_TOOLONG,
    E_TOOMANY,
    E_NOTFOUND,
    E_INTERNAL,
} etype_t;

static const struct {
    const char *reason, *text;
} etypes[] = {
    [E_REQUIRED] = {"FieldValueRequired", "Required value"},
    [E_INVALID] = {"FieldValueInvalid", "Invalid value"},
    [E_NOTSUPPORTED] = {"FieldValueNotSupported", "Unsupported value"},
    [E_DUPLICATE] = {"FieldValueDuplicate", "Duplicate value"},
    [E_FORBIDDEN] = {"FieldValueForbidden", "Forbidden"},
    [E_TOOLONG] = {"FieldValueTooLong", "Too long"},
    [E_TOOMANY] = {"FieldValueTooMany", "Too many"},
    [E_NOTFOUND] = {"FieldValueNotFound", "Not found"},
    [E_INTERNAL] = {"InternalError", "Internal error"},
};

typedef struct vctx {
    json_t *causes;
    int n;
    k1s_buf_t path; /* the current field path, field.Path.String() style */
} vctx_t;

static size_t push(vctx_t *v, const char *name)
{
    size_t mark = v->path.len;
    if (mark)
        k1s_buf_putc(&v->path, '.');
    k1s_buf_puts(&v->path, name);
    return mark;
}

static size_t push_idx(vctx_t *v, size_t i)
{
    size_t mark = v->path.len;
    k1s_buf_printf(&v->path, "[%zu]", i);
    return mark;
}

static size_t push_key(vctx_t *v, const char *k)
{
    size_t mark = v->path.len;
    k1s_buf_printf(&v->path, "[%s]", k);
    return mark;
}

static void pop(vctx_t *v, size_t mark)
{
    v->path.len = mark;
    v->path.data[mark] = 0;
}

/*
 * Adds a cause at the current path (or its child, if child is non-NULL).
 * value is the Go-printed value (ignored by Required, Forbidden, TooLong and
 * Internal, which print no value; NULL prints nothing either).
 */
static void add(vctx_t *v, const char *child, etype_t t, const char *value, const char *detail)
{
    size_t mark = child ? push(v, child) : v->path.len;
    k1s_buf_t m = K1S_BUF_INIT;
    k1s_buf_puts(&m, etypes[t].text);
    bool novalue = t == E_REQUIRED || t == E_FORBIDDEN || t == E_TOOLONG || t == E_INTERNAL;
    if (!novalue && value) {
        k1s_buf_puts(&m, ": ");
        k1s_buf_puts(&m, value);
    }
    if (detail && *detail) {
        k1s_buf_puts(&m, ": ");
        k1s_buf_puts(&m, detail);
    }
    json_t *c = json_pack("{s:s, s:s}", "reason", etypes[t].reason, "message", m.data);
    if (v->path.len)
        json_object_set_new(c, "field", json_string(v->path.data));
    json_array_append_new(v->causes, c);
    v->n++;
    k1s_buf_free(&m);
    pop(v, mark);
}

/* A cause whose value is a Go string (printed quoted). */
static void add_s(vctx_t *v, const char *child, etype_t t, const char *s, const char *detail)
{
    char *q = quoted(s);
    add(v, child, t, q, detail);
    free(q);
}

/* A cause whose value is a Go integer. */
static void add_i(vctx_t *v, const char *child, etype_t t, long long n, const char *detail)
{
    char q[32];
    snprintf(q, sizeof(q), "%lld", n);
    add(v, child, t, q, detail);
}

/* A cause whose detail is formatted. */
static void add_f(vctx_t *v, const char *child, etype_t t, const char *value, const char *fmt, ...)
    K1S_PRINTF(5, 6);
static void add_f(vctx_t *v, const char *child, etype_t t, const char *value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *d = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    add(v, child, t, value, d);
    free(d);
}

/* field.NotSupported: value quoted, detail `supported values: "a", "b"`. */
static void add_notsupp(vctx_t *v, const char *child, const char *value, const char *const *valid,
                        size_t n)
{
    k1s_buf_t d = K1S_BUF_INIT;
    if (n)
        k1s_buf_puts(&d, "supported values: ");
    for (size_t i = 0; i < n; i++) {
        if (i)
            k1s_buf_puts(&d, ", ");
        go_quote(&d, valid[i]);
    }
    char *q = quoted(value);
    add(v, child, E_NOTSUPPORTED, q, d.data);
    free(q);
    k1s_buf_free(&d);
}

static void add_toolong(vctx_t *v, const char *child, long long max)
{
    add_f(v, child, E_TOOLONG, NULL, "may not be more than %lld bytes", max);
}

static bool str_in(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s && strcmp(s, set[i]) == 0)
            return true;
    return false;
}
#define IN(s, set) str_in((s), (set), K1S_ARRAY_SIZE(set))
#define NOTSUPP(v, child, value, set) add_notsupp((v), (child), (value), (set), K1S_ARRAY_SIZE(set))

/* ------------------------------------------------------------------------------------------ */
/* Format checks (k8s.io/apimachinery/pkg/util/validation)                                    */
/* ------------------------------------------------------------------------------------------ */

#define DNS1123_LABEL_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS1123_SUBDOMAIN_FMT DNS1123_LABEL_FMT "(\\." DNS1123_LABEL_FMT ")*"
#define QNAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_ERR                                                                                  \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
    "alphanumeric character"

#define MSG_DNS1123_LABEL                                                                          \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "   \
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "     \
    "used for validation is '" DNS1123_LABEL_FMT "')"
#define MSG_DNS1123_SUBDOMAIN                                                                      \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "   \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "  \
    "for validation is '" DNS1123_SUBDOMAIN_FMT "')"
#define MSG_DNS1035_LABEL                                                                          \
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "   \
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "           \
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define MSG_QNAME_REGEX                                                                            \
    QNAME_ERR                                                                                      \
    " (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" QNAME_FMT "')"
#define MSG_LABEL_VALUE                                                                            \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "    \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "             \
    "'my_value',  or '12345', regex used for validation is '(" QNAME_FMT ")?')"
#define MSG_CONFIG_KEY                                                                             \
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "           \
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
#define MSG_MAXLEN_63 "must be no more than 63 characters"
#define MSG_MAXLEN_253 "must be no more than 253 characters"
#define MSG_NOT_NEGATIVE "must be greater than or equal to 0"
#define MSG_IMMUTABLE "field is immutable"
#define MSG_PORT_RANGE "must be between 1 and 65535, inclusive"

static bool is_alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return isalnum((unsigned char)c) != 0;
}

/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ on s[0..n) */
static bool match_dns_label(const char *s, size_t n)
{
    if (n == 0 || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum_lower(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool match_dns_subdomain(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!match_dns_label(p, n))
            return false;
        if (!dot)
            return true;
        p = dot + 1;
    }
}

/* ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$ on s[0..n) */
static bool match_qname(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

int k1s_is_dns1123_label(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 63)
        msgs[n++] = MSG_MAXLEN_63;
    if (!match_dns_label(s, len))
        msgs[n++] = match_dns_subdomain(s) ? "must not contain dots" : MSG_DNS1123_LABEL;
    return n;
}

int k1s_is_dns1123_subdomain(const char *s, const char **msgs)
{
    int n = 0;
    if (strlen(s) > 253)
        msgs[n++] = MSG_MAXLEN_253;
    if (!match_dns_subdomain(s))
        msgs[n++] = MSG_DNS1123_SUBDOMAIN;
    return n;
}

int k1s_is_dns1035_label(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 63)
        msgs[n++] = MSG_MAXLEN_63;
    bool ok = len > 0 && s[0] >= 'a' && s[0] <= 'z' && match_dns_label(s, len);
    if (!ok)
        msgs[n++] = MSG_DNS1035_LABEL;
    return n;
}

int k1s_is_qualified_name(const char *s, const char **msgs)
{
    int n = 0;
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash && strchr(slash + 1, '/')) {
        msgs[n++] = "a qualified name " MSG_QNAME_REGEX
                    " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
        return n;
    }
    if (slash) {
        size_t plen = (size_t)(slash - s);
        name = slash + 1;
        if (plen == 0) {
            msgs[n++] = "prefix part must be non-empty";
        } else {
            char *prefix = k1s_xstrndup(s, plen);
            if (plen > 253)
                msgs[n++] = "prefix part " MSG_MAXLEN_253;
            if (!match_dns_subdomain(prefix))
                msgs[n++] = "prefix part " MSG_DNS1123_SUBDOMAIN;
            free(prefix);
        }
    }
    size_t len = strlen(name);
    if (len == 0)
        msgs[n++] = "name part must be non-empty";
    else if (len > 63)
        msgs[n++] = "name part " MSG_MAXLEN_63;
    if (!match_qname(name, len))
        msgs[n++] = "name part " MSG_QNAME_REGEX;
    return n;
}

int k1s_is_label_value(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 63)
        msgs[n++] = MSG_MAXLEN_63;
    if (len && !match_qname(s, len))
        msgs[n++] = MSG_LABEL_VALUE;
    return n;
}

static int chdir_prefix(const char *s, const char **msgs, int n)
{
    if (strcmp(s, ".") == 0)
        msgs[n++] = "must not be '.'";
    else if (strcmp(s, "..") == 0)
        msgs[n++] = "must not be '..'";
    else if (strncmp(s, "..", 2) == 0)
        msgs[n++] = "must not start with '..'";
    return n;
}

int k1s_is_config_map_key(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 253)
        msgs[n++] = MSG_MAXLEN_253;
    bool ok = len > 0;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
            ok = false;
    if (!ok)
        msgs[n++] = MSG_CONFIG_KEY;
    return chdir_prefix(s, msgs, n);
}

int k1s_is_path_segment_name(const char *s, bool prefix, const char **msgs)
{
    int n = 0;
    if (!prefix) {
        if (strcmp(s, ".") == 0) {
            msgs[n++] = "may not be '.'";
            return n;
        }
        if (strcmp(s, "..") == 0) {
            msgs[n++] = "may not be '..'";
            return n;
        }
    }
    if (strchr(s, '/'))
        msgs[n++] = "may not contain '/'";
    if (strchr(s, '%'))
        msgs[n++] = "may not contain '%'";
    return n;
}

/* IsValidPortName */
static int is_port_name(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 15)
        msgs[n++] = "must be no more than 15 characters";
    bool charset = len > 0, letter = false;
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum_lower(s[i]) && s[i] != '-')
            charset = false;
        if (s[i] >= 'a' && s[i] <= 'z')
            letter = true;
    }
    if (!charset)
        msgs[n++] = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
    if (!letter)
        msgs[n++] = "must contain at least one letter (a-z)";
    if (strstr(s, "--"))
        msgs[n++] = "must not contain consecutive hyphens";
    if (len && (s[0] == '-' || s[len - 1] == '-'))
        msgs[n++] = "must not begin or end with a hyphen";
    return n;
}

/* IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation is beta and on in v1.32) */
static int is_env_var_name(const char *s, const char **msgs)
{
    int n = 0;
    if (!*s)
        msgs[n++] = "environment variable name must be non-empty";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p > 0x7e || *p < 0x20 || *p == '=') {
            msgs[n++] = "a valid environment variable name must consist only of printable ASCII "
                        "characters other than '='";
            break;
        }
    }
    return n;
}

static bool is_percent(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] != '%')
        return false;
    for (size_t i = 0; i + 1 < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

#define MSG_PERCENT                                                                                \
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "   \
    "'93%', regex used for validation is '[0-9]+%')"

static bool is_http_header_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_alnum(*s) && *s != '-')
            return false;
    return true;
}

/* netutils.ParseIPSloppy: IPv4 (leading zeros allowed) or IPv6 */
static bool parse_ip_sloppy(const char *s, bool *v6)
{
    unsigned char buf[16];
    if (strchr(s, ':')) {
        *v6 = true;
        return inet_pton(AF_INET6, s, buf) == 1;
    }
    *v6 = false;
    int parts = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return false;
        long v = 0;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p - '0');
            if (++digits > 3 || v > 255)
                return false;
            p++;
        }
        parts++;
        if (*p == '.') {
            p++;
            if (!*p)
                return false;
        } else if (*p) {
            return false;
        }
    }
    return parts == 4;
}

static void check_ip(vctx_t *v, const char *child, const char *ip)
{
    bool v6;
    if (!parse_ip_sloppy(ip ? ip : "", &v6))
        add_s(v, child, E_INVALID, ip ? ip : "",
              "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
}

static bool parse_cidr(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || !slash[1])
        return false;
    char *ip = k1s_xstrndup(s, (size_t)(slash - s));
    bool v6;
    bool ok = parse_ip_sloppy(ip, &v6);
    free(ip);
    if (!ok)
        return false;
    for (const char *p = slash + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    long bits = strtol(slash + 1, NULL, 10);
    return strlen(slash + 1) <= 3 && bits <= (v6 ? 128 : 32);
}

static void check_cidr(vctx_t *v, const char *child, const char *cidr)
{
    if (!parse_cidr(cidr ? cidr : ""))
        add_s(v, child, E_INVALID, cidr ? cidr : "",
              "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
}

typedef int (*name_fn_t)(const char *s, const char **msgs);

/* A NameIs* ValidateNameFunc: with prefix, a trailing dash is masked (maskTrailingDash). */
static int name_check(name_fn_t fn, const char *name, bool prefix, const char **msgs)
{
    size_t n = strlen(name);
    if (prefix && n > 1 && name[n - 1] == '-') {
        /* Kubernetes replaces the last two characters by "a" */
        char *m = k1s_xasprintf("%.*sa", (int)(n - 2), name);
        int r = fn(m, msgs);
        free(m);
        return r;
    }
    return fn(name, msgs);
}

/* Reports each message of fn(value) as Invalid at child with the value quoted. */
static int check_fmt(vctx_t *v, const char *child, name_fn_t fn, const char *value)
{
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    int n = fn(value ? value : "", msgs);
    for (int i = 0; i < n; i++)
        add_s(v, child, E_INVALID, value ? value : "", msgs[i]);
    return n;
}

static const char *first_msg(name_fn_t fn, const char *s)
{
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    return fn(s ? s : "", msgs) ? msgs[0] : NULL;
}

const char *k1s_validate_dns1123_subdomain(const char *s)
{
    return first_msg(k1s_is_dns1123_subdomain, s);
}

const char *k1s_validate_dns1123_label(const char *s)
{
    return first_msg(k1s_is_dns1123_label, s);
}

const char *k1s_validate_dns1035_label(const char *s)
{
    return first_msg(k1s_is_dns1035_label, s);
}

const char *k1s_validate_qualified_name(const char *s)
{
    return first_msg(k1s_is_qualified_name, s);
}

const char *k1s_validate_label_value(const char *s)
{
    return first_msg(k1s_is_label_value, s);
}

/* ------------------------------------------------------------------------------------------ */
/* ObjectMeta (k8s.io/apimachinery/pkg/api/validation/objectmeta.go)                          */
/* ------------------------------------------------------------------------------------------ */

static bool is_group(const k1s_resource_t *r, const char *group, const char *kind)
{
    return strcmp(r->group, group) == 0 && strcmp(r->kind, kind) == 0;
}

static bool is_rbac(const k1s_resource_t *r)
{
    return strcmp(r->group, "rbac.authorization.k8s.io") == 0;
}

int k1s_validate_object_name(const k1s_resource_t *r, const char *name, bool prefix,
                             const char **msgs)
{
    if (is_group(r, "", "Event"))
        return 0;
    if (is_rbac(r))
        return k1s_is_path_segment_name(name, prefix, msgs);
    if (is_group(r, "", "Namespace"))
        return name_check(k1s_is_dns1123_label, name, prefix, msgs);
    if (is_group(r, "", "Service"))
        return name_check(k1s_is_dns1035_label, name, prefix, msgs);
    return name_check(k1s_is_dns1123_subdomain, name, prefix, msgs);
}

/* ValidateLabels: every key a qualified name, every value a label value, all at path. */
static void check_labels(vctx_t *v, const char *child, const json_t *labels)
{
    const char *k;
    const json_t *val;
    OBJ_EACH(labels, k, val)
    {
        check_fmt(v, child, k1s_is_qualified_name, k);
        check_fmt(v, child, k1s_is_label_value, json_is_string(val) ? json_string_value(val) : "");
    }
}

#define ANNOTATIONS_LIMIT (256 * 1024)

static void check_annotations(vctx_t *v, const char *child, const json_t *ann)
{
    const char *k;
    const json_t *val;
    long long total = 0;
    OBJ_EACH(ann, k, val)
    {
        char *lower = k1s_xstrdup(k);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        const char *msgs[K1S_VALIDATE_MAX_MSGS];
        int n = k1s_is_qualified_name(lower, msgs);
        for (int i = 0; i < n; i++)
            add_s(v, child, E_INVALID, k, msgs[i]);
        free(lower);
        total += (long long)strlen(k) +
                 (long long)strlen(json_is_string(val) ? json_string_value(val) : "");
    }
    if (total > ANNOTATIONS_LIMIT)
        add_toolong(v, child, ANNOTATIONS_LIMIT);
}

static void go_bool_ptr(k1s_buf_t *b, const json_t *o, const char *k)
{
    if (json_is_boolean(jget(o, k)))
        k1s_buf_puts(b, "(*bool)(0xc000000000)");
    else
        k1s_buf_puts(b, "(*bool)(nil)");
}

static void go_owner_ref(k1s_buf_t *b, const json_t *ref)
{
    k1s_buf_puts(b, "v1.OwnerReference{APIVersion:");
    go_quote(b, jstr0(ref, "apiVersion"));
    k1s_buf_puts(b, ", Kind:");
    go_quote(b, jstr0(ref, "kind"));
    k1s_buf_puts(b, ", Name:");
    go_quote(b, jstr0(ref, "name"));
    k1s_buf_puts(b, ", UID:");
    go_quote(b, jstr0(ref, "uid"));
    k1s_buf_puts(b, ", Controller:");
    go_bool_ptr(b, ref, "controller");
    k1s_buf_puts(b, ", BlockOwnerDeletion:");
    go_bool_ptr(b, ref, "blockOwnerDeletion");
    k1s_buf_putc(b, '}');
}

static void check_owner_refs(vctx_t *v, const json_t *refs)
{
    size_t m = push(v, "ownerReferences");
    char *first = NULL;
    const json_t *ref;
    ARR_EACH(refs, i, ref)
    {
        const char *av = jstr0(ref, "apiVersion"), *kind = jstr0(ref, "kind");
        /* schema.FromAPIVersionAndKind: the version is what follows the only '/', if any */
        const char *slash = strchr(av, '/');
        const char *version = slash ? (strchr(slash + 1, '/') ? "" : slash + 1) : av;
        char *group = slash && !strchr(slash + 1, '/') ? k1s_xstrndup(av, (size_t)(slash - av))
                                                       : k1s_xstrdup("");
        if (!*version)
            add_s(v, "apiVersion", E_INVALID, av, "version must not be empty");
        if (!*kind)
            add_s(v, "kind", E_INVALID, kind, "kind must not be empty");
        if (!*jstr0(ref, "name"))
            add_s(v, "name", E_INVALID, "", "name must not be empty");
        if (!*jstr0(ref, "uid"))
            add_s(v, "uid", E_INVALID, "", "uid must not be empty");
        if (!*group && strcmp(version, "v1") == 0 && strcmp(kind, "Event") == 0) {
            k1s_buf_t b = K1S_BUF_INIT;
            go_owner_ref(&b, ref);
            add(v, NULL, E_INVALID, b.data, "/v1, Kind=Event is disallowed from being an owner");
            k1s_buf_free(&b);
        }
        free(group);
        if (jtrue(ref, "controller")) {
            char *cur = k1s_xasprintf("%s/%s", kind, jstr0(ref, "name"));
            if (first) {
                k1s_buf_t b = K1S_BUF_INIT;
                k1s_buf_puts(&b, "[]v1.OwnerReference{");
                const json_t *r2;
                ARR_EACH(refs, j, r2)
                {
                    if (j)
                        k1s_buf_puts(&b, ", ");
                    go_owner_ref(&b, r2);
                }
                k1s_buf_putc(&b, '}');
                add_f(v, NULL, E_INVALID, b.data,
                      "Only one reference can have Controller set to true. Found \"true\" in "
                      "references for %s and %s",
                      first, cur);
                k1s_buf_free(&b);
                free(cur);
            } else {
                first = cur;
            }
        }
    }
    free(first);
    pop(v, m);
}

static bool is_standard_finalizer(const char *f)
{
    return strcmp(f, "kubernetes") == 0 || strcmp(f, "orphan") == 0 ||
           strcmp(f, "foregroundDeletion") == 0;
}

/* validateKubeFinalizerName, per index */
static void check_kube_finalizers(vctx_t *v, const json_t *fins)
{
    size_t m = push(v, "finalizers");
    const json_t *f;
    ARR_EACH(fins, i, f)
    {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        if (!strchr(s, '/') && !is_standard_finalizer(s)) {
            size_t mi = push_idx(v, i);
            add_s(v, NULL, E_INVALID, s,
                  "name is neither a standard finalizer name nor is it fully qualified");
            pop(v, mi);
        }
    }
    pop(v, m);
}

static void check_managed_fields(vctx_t *v, const json_t *mf)
{
    size_t m = push(v, "managedFields");
    const json_t *e;
    ARR_EACH(mf, i, e)
    {
        size_t mi = push_idx(v, i);
        const char *op = jstr0(e, "operation");
        if (strcmp(op, "Apply") != 0 && strcmp(op, "Update") != 0)
            add_s(v, "operation", E_INVALID, op, "must be `Apply` or `Update`");
        const char *ft = jstr0(e, "fieldsType");
        if (*ft && strcmp(ft, "FieldsV1") != 0)
            add_s(v, "fieldsType", E_INVALID, ft, "must be `FieldsV1`");
        const char *mgr = jstr0(e, "manager");
        if (strlen(mgr) > 128)
            add_toolong(v, "manager", 128);
        if (strlen(jstr0(e, "subresource")) > 256)
            add_toolong(v, "subresource", 256);
        pop(v, mi);
    }
    pop(v, m);
}

/* ValidateObjectMeta (create), at the current path ("metadata" or a template's). */
static void check_meta_create(vctx_t *v, const k1s_resource_t *r, const json_t *meta,
                              bool kube_finalizers)
{
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    const char *gen = jstr0(meta, "generateName"), *name = jstr0(meta, "name");
    if (*gen) {
        int n = k1s_validate_object_name(r, gen, true, msgs);
        for (int i = 0; i < n; i++)
            add_s(v, "generateName", E_INVALID, gen, msgs[i]);
    }
    if (!*name) {
        add(v, "name", E_REQUIRED, NULL, "name or generateName is required");
    } else {
        int n = k1s_validate_object_name(r, name, false, msgs);
        for (int i = 0; i < n; i++)
            add_s(v, "name", E_INVALID, name, msgs[i]);
    }
    const char *ns = jstr0(meta, "namespace");
    if (r->namespaced) {
        if (!*ns)
            add(v, "namespace", E_REQUIRED, NULL, "");
        else
            check_fmt(v, "namespace", k1s_is_dns1123_label, ns);
    } else if (*ns) {
        add(v, "namespace", E_FORBIDDEN, NULL, "not allowed on this type");
    }
    long long g;
    if (jint(meta, "generation", &g) && g < 0)
        add_i(v, "generation", E_INVALID, g, MSG_NOT_NEGATIVE);
    check_labels(v, "labels", jobj(meta, "labels"));
    check_annotations(v, "annotations", jobj(meta, "annotations"));
    check_owner_refs(v, jarr(meta, "ownerReferences"));
    /* ValidateFinalizers */
    const json_t *fins = jarr(meta, "finalizers");
    bool orphan = false, fg = false;
    const json_t *f;
    ARR_EACH(fins, i, f)
    {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        check_fmt(v, "finalizers", k1s_is_qualified_name, s);
        orphan |= strcmp(s, "orphan") == 0;
        fg |= strcmp(s, "foregroundDeletion") == 0;
    }
    if (orphan && fg) {
        k1s_buf_t b = K1S_BUF_INIT;
        go_strings(&b, fins);
        add(v, "finalizers", E_INVALID, b.data,
            "finalizer orphan and foregroundDeletion cannot be both set");
        k1s_buf_free(&b);
    }
    check_managed_fields(v, jarr(meta, "managedFields"));
    if (kube_finalizers)
        check_kube_finalizers(v, fins);
}

static void immutable_str(vctx_t *v, const char *child, const char *nv, const char *ov)
{
    if (strcmp(nv ? nv : "", ov ? ov : "") != 0)
        add_s(v, child, E_INVALID, nv ? nv : "", MSG_IMMUTABLE);
}

/* ValidateObjectMetaUpdate, at the current path. */
static void check_meta_update(vctx_t *v, const json_t *meta, const json_t *ometa,
                              bool kube_finalizers)
{
    if (jget(ometa, "deletionTimestamp")) {
        /* sets.NewString(new...).Difference(old).List(): sorted, unique */
        const json_t *nf = jarr(meta, "finalizers"), *of = jarr(ometa, "finalizers");
        size_t n = json_array_size(nf), k = 0;
        const char **extra = k1s_xcalloc(n ? n : 1, sizeof(*extra));
        const json_t *f;
        ARR_EACH(nf, i, f)
        {
            const char *s = json_string_value(f);
            bool found = false;
            const json_t *g;
            ARR_EACH(of, j, g)
            found |= s && json_string_value(g) && strcmp(s, json_string_value(g)) == 0;
            for (size_t j = 0; j < k && !found; j++)
                found = strcmp(extra[j], s) == 0;
            if (s && !found)
                extra[k++] = s;
        }
        if (k) {
            qsort(extra, k, sizeof(*extra), cmp_str);
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_puts(&b, "no new finalizers can be added if the object is being deleted, found "
                             "new finalizers []string{");
            for (size_t j = 0; j < k; j++) {
                if (j)
                    k1s_buf_puts(&b, ", ");
                go_quote(&b, extra[j]);
            }
            k1s_buf_putc(&b, '}');
            add(v, "finalizers", E_FORBIDDEN, NULL, b.data);
            k1s_buf_free(&b);
        }
        free(extra);
    }
    if (!*jstr0(meta, "resourceVersion"))
        add_s(v, "resourceVersion", E_INVALID, "", "must be specified for an update");
    long long g = 0, og = 0;
    jint(meta, "generation", &g);
    jint(ometa, "generation", &og);
    if (g < og)
        add_i(v, "generation", E_INVALID, g, "must not be decremented");
    immutable_str(v, "name", jstr(meta, "name"), jstr(ometa, "name"));
    immutable_str(v, "namespace", jstr(meta, "namespace"), jstr(ometa, "namespace"));
    immutable_str(v, "uid", jstr(meta, "uid"), jstr(ometa, "uid"));
    static const char *const times[] = {"creationTimestamp", "deletionTimestamp"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(times); i++) {
        const json_t *nt = jget(meta, times[i]), *ot = jget(ometa, times[i]);
        if (!(nt == ot || (nt && ot && json_equal((json_t *)nt, (json_t *)ot)))) {
            char *s = go_time(nt);
            add(v, times[i], E_INVALID, s, MSG_IMMUTABLE);
            free(s);
        }
    }
    const json_t *ng = jget(meta, "deletionGracePeriodSeconds"),
                 *og2 = jget(ometa, "deletionGracePeriodSeconds");
    if (!(ng == og2 || (ng && og2 && json_equal((json_t *)ng, (json_t *)og2)))) {
        long long x;
        if (jnum(ng, &x))
            add_i(v, "deletionGracePeriodSeconds", E_INVALID, x, MSG_IMMUTABLE);
        else
            add(v, "deletionGracePeriodSeconds", E_INVALID, "null", MSG_IMMUTABLE);
    }
    check_labels(v, "labels", jobj(meta, "labels"));
    check_annotations(v, "annotations", jobj(meta, "annotations"));
    check_owner_refs(v, jarr(meta, "ownerReferences"));
    check_managed_fields(v, jarr(meta, "managedFields"));
    if (kube_finalizers)
        check_kube_finalizers(v, jarr(meta, "finalizers"));
}

/* ------------------------------------------------------------------------------------------ */
/* Label selectors                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* ValidateLabelSelector at the current path. */
static void check_selector(vctx_t *v, const json_t *sel)
{
    if (!sel)
        return;
    check_labels(v, "matchLabels", jobj(sel, "matchLabels"));
    size_t m = push(v, "matchExpressions");
    const json_t *e;
    ARR_EACH(jarr(sel, "matchExpressions"), i, e)
    {
        size_t mi = push_idx(v, i);
        const char *op = jstr0(e, "operator");
        size_t nv = jlen(jarr(e, "values"));
        if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
            if (nv == 0)
                add(v, "values", E_REQUIRED, NULL,
                    "must be specified when `operator` is 'In' or 'NotIn'");
        } else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
            if (nv > 0)
                add(v, "values", E_FORBIDDEN, NULL,
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
        } else {
            add_s(v, "operator", E_INVALID, op, "not a valid selector operator");
        }
        check_fmt(v, "key", k1s_is_qualified_name, jstr0(e, "key"));
        size_t mv = push(v, "values");
        const json_t *val;
        ARR_EACH(jarr(e, "values"), j, val)
        {
            size_t mj = push_idx(v, j);
            check_fmt(v, NULL, k1s_is_label_value,
                      json_is_string(val) ? json_string_value(val) : "");
            pop(v, mj);
        }
        pop(v, mv);
        pop(v, mi);
    }
    pop(v, m);
}

typedef enum { SEL_NOTHING, SEL_EVERYTHING, SEL_SOME, SEL_ERROR } selkind_t;

/* metav1.LabelSelectorAsSelector: what the selector selects, or SEL_ERROR. */
static selkind_t selector_kind(const json_t *sel)
{
    if (!sel)
        return SEL_NOTHING;
    const json_t *ml = jobj(sel, "matchLabels"), *ex = jarr(sel, "matchExpressions");
    if (jlen(ml) + jlen(ex) == 0)
        return SEL_EVERYTHING;
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    const char *k;
    const json_t *val;
    OBJ_EACH(ml, k, val)
    {
        if (k1s_is_qualified_name(k, msgs) ||
            k1s_is_label_value(json_is_string(val) ? json_string_value(val) : "", msgs))
            return SEL_ERROR;
    }
    const json_t *e;
    ARR_EACH(ex, i, e)
    {
        const char *op = jstr0(e, "operator");
        size_t nv = jlen(jarr(e, "values"));
        if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
            if (!nv)
                return SEL_ERROR;
        } else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
            if (nv)
                return SEL_ERROR;
        } else {
            return SEL_ERROR;
        }
        if (k1s_is_qualified_name(jstr0(e, "key"), msgs))
            return SEL_ERROR;
        ARR_EACH(jarr(e, "values"), j, val)
        if (k1s_is_label_value(json_is_string(val) ? json_string_value(val) : "", msgs))
            return SEL_ERROR;
    }
    return SEL_SOME;
}

static bool selector_matches(const json_t *sel, const json_t *labels)
{
    selkind_t kind = selector_kind(sel);
    if (kind == SEL_EVERYTHING)
        return true;
    if (kind != SEL_SOME)
        return false;
    const char *k;
    const json_t *val;
    OBJ_EACH(jobj(sel, "matchLabels"), k, val)
    {
        const char *have = jstr(labels, k);
        if (!have || !json_is_string(val) || strcmp(have, json_string_value(val)) != 0)
            return false;
    }
    const json_t *e;
    ARR_EACH(jarr(sel, "matchExpressions"), i, e)
    {
        const char *op = jstr0(e, "operator");
        const char *have = jstr(labels, jstr0(e, "key"));
        bool in = false;
        ARR_EACH(jarr(e, "values"), j, val)
        in |= have && json_is_string(val) && strcmp(have, json_string_value(val)) == 0;
        if ((!strcmp(op, "In") && !in) || (!strcmp(op, "NotIn") && in) ||
            (!strcmp(op, "Exists") && !have) || (!strcmp(op, "DoesNotExist") && have))
            return false;
    }
    return true;
}

/* field.Invalid(path.metadata.labels, template.Labels, "`selector` does not match ...") */
static void selector_mismatch(vctx_t *v, const char *child, const json_t *labels)
{
    k1s_buf_t b = K1S_BUF_INIT;
    go_map(&b, labels);
    add(v, child, E_INVALID, b.data, "`selector` does not match template `labels`");
    k1s_buf_free(&b);
}

static void add_selector_value(vctx_t *v, const char *child, const json_t *sel, const char *detail)
{
    k1s_buf_t b = K1S_BUF_INIT;
    go_selector(&b, sel);
    add(v, child, E_INVALID, b.data, detail);
    k1s_buf_free(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Resources and quantities in specs                                                          */
/* ------------------------------------------------------------------------------------------ */

/* Parses a quantity field; reports a parse failure (a decode error in Kubernetes) as Invalid. */
static bool get_qty(vctx_t *v, const char *child, const json_t *val, k1s_quantity_t *q)
{
    const char *err = NULL;
    if (k1s_quantity_from_json(val, q, &err) == 0)
        return true;
    if (json_is_string(val))
        add_s(v, child, E_INVALID, json_string_value(val), err);
    else
        add(v, child, E_INVALID, "null", err);
    return false;
}

static bool is_hugepages(const char *n)
{
    return k1s_str_has_prefix(n, "hugepages-");
}

/* helper.IsNativeResource: no domain, or a kubernetes.io domain */
static bool is_native_resource(const char *n)
{
    return !strchr(n, '/') || strstr(n, "kubernetes.io/") != NULL;
}

static bool is_extended_resource(const char *n)
{
    if (is_native_resource(n) || k1s_str_has_prefix(n, "requests."))
        return false;
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    char *q = k1s_xasprintf("requests.%s", n);
    bool ok = k1s_is_qualified_name(q, msgs) == 0;
    free(q);
    return ok;
}

static bool is_overcommit_allowed(const char *n)
{
    return is_native_resource(n) && !is_hugepages(n);
}

static bool is_integer_resource(const char *n)
{
    static const char *const ints[] = {"pods",
                                       "services",
                                       "replicationcontrollers",
                                       "resourcequotas",
                                       "secrets",
                                       "configmaps",
                                       "persistentvolumeclaims",
                                       "services.nodeports",
                                       "services.loadbalancers"};
    return IN(n, ints) || is_extended_resource(n);
}

static bool is_standard_resource(const char *n)
{
    static const char *const std[] = {"cpu",
                                      "memory",
                                      "ephemeral-storage",
                                      "requests.cpu",
                                      "requests.memory",
                                      "requests.ephemeral-storage",
                                      "limits.cpu",
                                      "limits.memory",
                                      "limits.ephemeral-storage",
                                      "pods",
                                      "resourcequotas",
                                      "services",
                                      "replicationcontrollers",
                                      "secrets",
                                      "configmaps",
                                      "persistentvolumeclaims",
                                      "storage",
                                      "requests.storage",
                                      "services.nodeports",
                                      "services.loadbalancers"};
    return IN(n, std) || is_hugepages(n) || k1s_str_has_prefix(n, "requests.hugepages-");
}

/* validateResourceName + validateContainerResourceName at the current path */
static void check_container_resource_name(vctx_t *v, const char *name)
{
    int n = check_fmt(v, NULL, k1s_is_qualified_name, name);
    if (!n && !strchr(name, '/') && !is_standard_resource(name))
        add_s(v, NULL, E_INVALID, name, "must be a standard resource type or fully qualified");
    if (!strchr(name, '/')) {
        if (strcmp(name, "cpu") && strcmp(name, "memory") && strcmp(name, "ephemeral-storage") &&
            !is_hugepages(name))
            add_s(v, NULL, E_INVALID, name, "must be a standard resource for containers");
    } else if (!is_native_resource(name) && !is_extended_resource(name)) {
        add_s(v, NULL, E_INVALID, name, "doesn't follow extended resource name standard");
    }
}

/* ValidateResourceQuantityValue at the current path */
static void check_quantity_value(vctx_t *v, const char *resource, const k1s_quantity_t *q)
{
    if (k1s_quantity_sign(q) < 0) {
        char *s = k1s_quantity_string(q);
        add_s(v, NULL, E_INVALID, s, MSG_NOT_NEGATIVE);
        free(s);
    }
    if (is_integer_resource(resource) && k1s_quantity_milli_value(q) % 1000 != 0) {
        char *s = go_quantity(q);
        add(v, NULL, E_INVALID, s, "must be an integer");
        free(s);
    }
}

static bool hugepage_divisible(const char *name, const k1s_quantity_t *q)
{
    k1s_quantity_t size;
    if (k1s_quantity_parse(name + strlen("hugepages-"), &size, NULL) < 0)
        return false;
    int64_t s = k1s_quantity_value(&size), val = k1s_quantity_value(q);
    if (k1s_quantity_sign(&size) <= 0 || k1s_quantity_milli_value(&size) % 1000 != 0 || s <= 0)
        return false;
    return val % s == 0;
}

/* validateResourceRequirements at the current path (a container's "resources"). */
static void check_resources(vctx_t *v, const json_t *res)
{
    const json_t *lim = jobj(res, "limits"), *req = jobj(res, "requests");
    bool lim_cm = false, req_cm = false, lim_hp = false, req_hp = false;
    const char *k;
    const json_t *val;
    for (int pass = 0; pass < 2; pass++) {
        const json_t *list = pass ? req : lim;
        size_t ml = push(v, pass ? "requests" : "limits");
        OBJ_EACH(list, k, val)
        {
            size_t mk = push_key(v, k);
            check_container_resource_name(v, k);
            k1s_quantity_t q;
            bool ok = get_qty(v, NULL, val, &q);
            if (ok)
                check_quantity_value(v, k, &q);
            pop(v, mk);
            if (pass && ok) {
                /* requests must not exceed limits (nor differ, where overcommit is not allowed) */
                const json_t *lv = jget(lim, k);
                k1s_quantity_t lq;
                if (lv) {
                    if (k1s_quantity_from_json(lv, &lq, NULL) == 0) {
                        int c = k1s_quantity_cmp(&q, &lq);
                        char *qs = k1s_quantity_string(&q), *ls = k1s_quantity_string(&lq);
                        char *qq = quoted(qs);
                        if (c != 0 && !is_overcommit_allowed(k))
                            add_f(v, NULL, E_INVALID, qq, "must be equal to %s limit of %s", k, ls);
                        else if (c > 0)
                            add_f(v, NULL, E_INVALID, qq,
                                  "must be less than or equal to %s limit of %s", k, ls);
                        free(qq);
                        free(qs);
                        free(ls);
                    }
                } else if (!is_overcommit_allowed(k)) {
                    pop(v, ml);
                    add(v, "limits", E_REQUIRED, NULL,
                        "Limit must be set for non overcommitable resources");
                    ml = push(v, "requests");
                }
            }
            if (is_hugepages(k)) {
                if (pass)
                    req_hp = true;
                else
                    lim_hp = true;
                if (ok && !hugepage_divisible(k, &q)) {
                    char *s = k1s_quantity_string(&q);
                    char *d = k1s_xasprintf("%s is not positive integer multiple of %s", s, k);
                    size_t mk2 = push_key(v, k);
                    add_s(v, NULL, E_INVALID, s, d);
                    pop(v, mk2);
                    free(d);
                    free(s);
                }
            }
            if (!strcmp(k, "cpu") || !strcmp(k, "memory")) {
                if (pass)
                    req_cm = true;
                else
                    lim_cm = true;
            }
        }
        pop(v, ml);
    }
    if (!lim_cm && !req_cm && (req_hp || lim_hp))
        add(v, NULL, E_FORBIDDEN, NULL, "HugePages require cpu or memory");
}

/* ------------------------------------------------------------------------------------------ */
/* Pod specs (pkg/apis/core/validation: ValidatePodSpec and friends)                          */
/* ------------------------------------------------------------------------------------------ */

#define MSG_FILE_MODE "must be a number between 0 and 0777 (octal), both inclusive"

typedef struct vol {
    const char *name;
    const json_t *src;
} vol_t;

typedef struct vols {
    vol_t *v;
    size_t n;
} vols_t;

static const json_t *vol_find(const vols_t *vs, const char *name)
{
    for (size_t i = 0; vs && i < vs->n; i++)
        if (strcmp(vs->v[i].name, name) == 0)
            return vs->v[i].src;
    return NULL;
}

/* validatePathNoBacksteps */
static bool has_backsteps(const char *p)
{
    const char *s = p;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return true;
        if (!slash)
            return false;
        s = slash + 1;
    }
}

static void check_no_backsteps(vctx_t *v, const char *child, const char *p)
{
    if (has_backsteps(p))
        add_s(v, child, E_INVALID, p, "must not contain '..'");
}

/* validateLocalDescendingPath */
static void check_local_descending(vctx_t *v, const char *child, const char *p)
{
    if (p[0] == '/')
        add_s(v, child, E_INVALID, p, "must be a relative path");
    check_no_backsteps(v, child, p);
}

/* ValidateLocalNonReservedPath */
static void check_local_nonreserved(vctx_t *v, const char *child, const char *p)
{
    check_local_descending(v, child, p);
    if (k1s_str_has_prefix(p, "..") && !k1s_str_has_prefix(p, "../"))
        add_s(v, child, E_INVALID, p, "must not start with '..'");
}

static void check_mode(vctx_t *v, const char *child, const json_t *o, const char *key)
{
    long long m;
    if (jint(o, key, &m) && (m > 0777 || m < 0))
        add_i(v, child, E_INVALID, m, MSG_FILE_MODE);
}

/* validateKeyToPath, for each of items[] */
static void check_items(vctx_t *v, const json_t *items)
{
    size_t m = push(v, "items");
    const json_t *kp;
    ARR_EACH(items, i, kp)
    {
        size_t mi = push_idx(v, i);
        if (!*jstr0(kp, "key"))
            add(v, "key", E_REQUIRED, NULL, "");
        const char *p = jstr0(kp, "path");
        if (!*p)
            add(v, "path", E_REQUIRED, NULL, "");
        check_local_nonreserved(v, "path", p);
        check_mode(v, "mode", kp, "mode");
        pop(v, mi);
    }
    pop(v, m);
}

static void check_downward_file(vctx_t *v, const json_t *file)
{
    const char *p = jstr0(file, "path");
    if (!*p)
        add(v, "path", E_REQUIRED, NULL, "");
    check_local_nonreserved(v, "path", p);
    const json_t *fr = jobj(file, "fieldRef"), *rr = jobj(file, "resourceFieldRef");
    if (fr) {
        static const char *const ok[] = {"metadata.annotations", "metadata.labels", "metadata.name",
                                         "metadata.namespace", "metadata.uid"};
        size_t m = push(v, "fieldRef");
        if (!*jstr0(fr, "apiVersion")) {
            add(v, "apiVersion", E_REQUIRED, NULL, "");
        } else if (!*jstr0(fr, "fieldPath")) {
            add(v, "fieldPath", E_REQUIRED, NULL, "");
        } else if (!IN(jstr0(fr, "fieldPath"), ok) && !strchr(jstr0(fr, "fieldPath"), '[')) {
            NOTSUPP(v, "fieldPath", jstr0(fr, "fieldPath"), ok);
        }
        pop(v, m);
        if (rr)
            add_s(v, NULL, E_INVALID, "resource",
                  "fieldRef and resourceFieldRef can not be specified simultaneously");
    } else if (rr) {
        size_t m = push(v, "resourceFieldRef");
        if (!*jstr0(rr, "containerName"))
            add(v, "containerName", E_REQUIRED, NULL, "");
        else if (!*jstr0(rr, "resource"))
            add(v, "resource", E_REQUIRED, NULL, "");
        pop(v, m);
    } else {
        add(v, NULL, E_REQUIRED, NULL, "one of fieldRef and resourceFieldRef is required");
    }
    check_mode(v, "mode", file, "mode");
}

static void check_csi_driver(vctx_t *v, const char *child, const char *d)
{
    if (!*d)
        add(v, child, E_REQUIRED, NULL, "");
    if (strlen(d) > 63)
        add_toolong(v, child, 63);
    char *lower = k1s_xstrdup(d);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    int n = k1s_is_dns1123_subdomain(lower, msgs);
    for (int i = 0; i < n; i++)
        add_s(v, child, E_INVALID, d, msgs[i]);
    free(lower);
}

static void check_pvc_spec(vctx_t *v, const json_t *spec);

/* the per-type checks of validateVolumeSource, at volumes[i].<type> */
static void check_volume_type(vctx_t *v, const char *type, const json_t *s)
{
    if (!strcmp(type, "emptyDir")) {
        const json_t *sl = jget(s, "sizeLimit");
        k1s_quantity_t q;
        if (sl && get_qty(v, "sizeLimit", sl, &q) && k1s_quantity_sign(&q) < 0)
            add(v, "sizeLimit", E_FORBIDDEN, NULL,
                "SizeLimit field must be a valid resource quantity");
    } else if (!strcmp(type, "hostPath")) {
        const char *p = jstr0(s, "path");
        if (!*p) {
            add(v, "path", E_REQUIRED, NULL, "");
            return;
        }
        check_no_backsteps(v, "path", p);
        static const char *const types[] = {
            "",     "BlockDevice",  "CharDevice", "Directory", "DirectoryOrCreate",
            "File", "FileOrCreate", "Socket"};
        const char *t = jstr(s, "type");
        if (t && !IN(t, types))
            NOTSUPP(v, "type", t, types);
    } else if (!strcmp(type, "gitRepo")) {
        if (!*jstr0(s, "repository"))
            add(v, "repository", E_REQUIRED, NULL, "");
        check_local_descending(v, "directory", jstr0(s, "directory"));
    } else if (!strcmp(type, "secret")) {
        if (!*jstr0(s, "secretName"))
            add(v, "secretName", E_REQUIRED, NULL, "");
        check_mode(v, "defaultMode", s, "defaultMode");
        check_items(v, jarr(s, "items"));
    } else if (!strcmp(type, "configMap")) {
        if (!*jstr0(s, "name"))
            add(v, "name", E_REQUIRED, NULL, "");
        check_mode(v, "defaultMode", s, "defaultMode");
        check_items(v, jarr(s, "items"));
    } else if (!strcmp(type, "nfs")) {
        const char *p = jstr0(s, "path");
        if (!*jstr0(s, "server"))
            add(v, "server", E_REQUIRED, NULL, "");
        if (!*p)
            add(v, "path", E_REQUIRED, NULL, "");
        if (p[0] != '/')
            add_s(v, "path", E_INVALID, p, "must be an absolute path");
    } else if (!strcmp(type, "persistentVolumeClaim")) {
        if (!*jstr0(s, "claimName"))
            add(v, "claimName", E_REQUIRED, NULL, "");
    } else if (!strcmp(type, "downwardAPI")) {
        check_mode(v, "defaultMode", s, "defaultMode");
        const json_t *f;
        ARR_EACH(jarr(s, "items"), i, f)
        check_downward_file(v, f);
    } else if (!strcmp(type, "projected")) {
        check_mode(v, "defaultMode", s, "defaultMode");
        const json_t *src;
        size_t ms = push(v, "sources");
        ARR_EACH(jarr(s, "sources"), i, src)
        {
            size_t mi = push_idx(v, i);
            int n = 0;
            static const char *const kinds[] = {"secret", "configMap", "downwardAPI",
                                                "serviceAccountToken", "clusterTrustBundle"};
            for (size_t k = 0; k < K1S_ARRAY_SIZE(kinds); k++) {
                const json_t *x = jobj(src, kinds[k]);
                if (!x)
                    continue;
                n++;
                size_t mk = push(v, kinds[k]);
                if (k <= 1) {
                    if (!*jstr0(x, "name"))
                        add(v, "name", E_REQUIRED, NULL, "");
                    check_items(v, jarr(x, "items"));
                } else if (k == 3) {
                    long long es = 3600;
                    jint(x, "expirationSeconds", &es);
                    if (es < 600)
                        add_i(v, "expirationSeconds", E_INVALID, es,
                              "may not specify a duration less than 10 minutes");
                    if (es > (1LL << 32))
                        add_i(v, "expirationSeconds", E_INVALID, es,
                              "may not specify a duration larger than 2^32 seconds");
                }
                pop(v, mk);
            }
            if (n > 1)
                add(v, NULL, E_FORBIDDEN, NULL,
                    "may not specify more than 1 volume type per source");
            pop(v, mi);
        }
        pop(v, ms);
    } else if (!strcmp(type, "csi")) {
        check_csi_driver(v, "driver", jstr0(s, "driver"));
    } else if (!strcmp(type, "ephemeral")) {
        const json_t *t = jobj(s, "volumeClaimTemplate");
        if (!t) {
            add(v, "volumeClaimTemplate", E_REQUIRED, NULL, "");
        } else {
            size_t mt = push(v, "volumeClaimTemplate");
            const json_t *tm = jobj(t, "metadata");
            size_t mm = push(v, "metadata");
            check_annotations(v, "annotations", jobj(tm, "annotations"));
            check_labels(v, "labels", jobj(tm, "labels"));
            const char *k;
            const json_t *val;
            OBJ_EACH(tm, k, val)
            {
                if (strcmp(k, "labels") && strcmp(k, "annotations") && !json_is_null(val)) {
                    char *child = k1s_xstrdup(k);
                    add(v, child, E_FORBIDDEN, NULL, "cannot be set");
                    free(child);
                }
            }
            pop(v, mm);
            size_t msp = push(v, "spec");
            check_pvc_spec(v, jobj(t, "spec"));
            pop(v, msp);
            pop(v, mt);
        }
    }
}

/* the volume source fields, in the order validateVolumeSource checks them */
static const struct {
    const char *key, *child;
} volume_types[] = {
    {"emptyDir", "emptyDir"},
    {"hostPath", "hostPath"},
    {"gitRepo", "gitRepo"},
    {"gcePersistentDisk", "gcePersistentDisk"},
    {"awsElasticBlockStore", "awsElasticBlockStore"},
    {"secret", "secret"},
    {"nfs", "nfs"},
    {"iscsi", "iscsi"},
    {"glusterfs", "glusterfs"},
    {"flocker", "flocker"},
    {"persistentVolumeClaim", "persistentVolumeClaim"},
    {"rbd", "rbd"},
    {"cinder", "cinder"},
    {"cephfs", "cephFS"},
    {"quobyte", "quobyte"},
    {"downwardAPI", "downwarAPI"},
    {"fc", "fc"},
    {"flexVolume", "flexVolume"},
    {"configMap", "configMap"},
    {"azureFile", "azureFile"},
    {"vsphereVolume", "vsphereVolume"},
    {"photonPersistentDisk", "photonPersistentDisk"},
    {"portworxVolume", "portworxVolume"},
    {"azureDisk", "azureDisk"},
    {"storageos", "storageos"},
    {"projected", "projected"},
    {"scaleIO", "scaleIO"},
    {"csi", "csi"},
    {"ephemeral", "ephemeral"},
    {"image", "image"},
};

/* ValidateVolumes at the current path ("...spec"); fills vs with the valid volumes. */
static void check_volumes(vctx_t *v, const json_t *volumes, const json_t *pod, vols_t *vs)
{
    size_t mv = push(v, "volumes");
    size_t n = json_array_size(volumes);
    vs->v = k1s_xcalloc(n ? n : 1, sizeof(*vs->v));
    vs->n = 0;
    const char **all = k1s_xcalloc(n ? n : 1, sizeof(*all));
    size_t nall = 0;
    const json_t *vol;
    ARR_EACH(volumes, i, vol)
    {
        size_t mi = push_idx(v, i);
        int before = v->n;
        const char *name = jstr0(vol, "name");
        int types = 0;
        for (size_t t = 0; t < K1S_ARRAY_SIZE(volume_types); t++) {
            const json_t *s = jobj(vol, volume_types[t].key);
            if (!s)
                continue;
            if (types > 0) {
                add(v, volume_types[t].child, E_FORBIDDEN, NULL,
                    "may not specify more than 1 volume type");
                continue;
            }
            types++;
            if (!strcmp(volume_types[t].key, "ephemeral")) {
                size_t me = push(v, "ephemeral");
                check_volume_type(v, "ephemeral", s);
                pop(v, me);
                /* the name of the PVC it creates; reported at volumes[i].name */
                const char *pod_name = jstr0(jobj(pod, "metadata"), "name");
                if (pod && *pod_name && *name) {
                    char *pvc = k1s_xasprintf("%s-%s", pod_name, name);
                    const char *msgs[K1S_VALIDATE_MAX_MSGS];
                    int nm = k1s_is_dns1123_subdomain(pvc, msgs);
                    char *qp = quoted(pvc), *qv = quoted(name);
                    for (int j = 0; j < nm; j++)
                        add_f(v, "name", E_INVALID, qv, "PVC name %s: %s", qp, msgs[j]);
                    free(qp);
                    free(qv);
                    free(pvc);
                }
            } else {
                size_t mx = push(v, volume_types[t].key);
                check_volume_type(v, volume_types[t].key, s);
                pop(v, mx);
            }
        }
        if (types == 0)
            add(v, NULL, E_REQUIRED, NULL, "must specify a volume type");
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        else
            check_fmt(v, "name", k1s_is_dns1123_label, name);
        bool dup = false;
        for (size_t j = 0; j < nall; j++)
            dup |= strcmp(all[j], name) == 0;
        if (dup)
            add_s(v, "name", E_DUPLICATE, name, NULL);
        if (v->n == before) {
            all[nall++] = name;
            vs->v[vs->n].name = name;
            vs->v[vs->n].src = vol;
            vs->n++;
        }
        pop(v, mi);
    }
    free(all);
    pop(v, mv);
}

/* ValidatePortNumOrName at child: an int port in range, or a port name */
static void check_port_num_or_name(vctx_t *v, const char *child, const json_t *port)
{
    long long n;
    if (json_is_string(port)) {
        const char *msgs[K1S_VALIDATE_MAX_MSGS];
        int k = is_port_name(json_string_value(port), msgs);
        for (int i = 0; i < k; i++)
            add_s(v, child, E_INVALID, json_string_value(port), msgs[i]);
    } else if (jnum(port, &n) || !port) {
        if (!port)
            n = 0;
        if (n < 1 || n > 65535)
            add_i(v, child, E_INVALID, n, MSG_PORT_RANGE);
    }
}

static void check_container_ports(vctx_t *v, const json_t *ports)
{
    size_t m = push(v, "ports");
    size_t n = json_array_size(ports), k = 0;
    const char **names = k1s_xcalloc(n ? n : 1, sizeof(*names));
    const json_t *p;
    ARR_EACH(ports, i, p)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(p, "name");
        if (*name) {
            const char *msgs[K1S_VALIDATE_MAX_MSGS];
            int nm = is_port_name(name, msgs);
            bool dup = false;
            for (size_t j = 0; j < k; j++)
                dup |= strcmp(names[j], name) == 0;
            if (nm) {
                for (int j = 0; j < nm; j++)
                    add_s(v, "name", E_INVALID, name, msgs[j]);
            } else if (dup) {
                add_s(v, "name", E_DUPLICATE, name, NULL);
            } else {
                names[k++] = name;
            }
        }
        long long cp = 0, hp = 0;
        jint(p, "containerPort", &cp);
        if (cp == 0)
            add(v, "containerPort", E_REQUIRED, NULL, "");
        else if (cp < 1 || cp > 65535)
            add_i(v, "containerPort", E_INVALID, cp, MSG_PORT_RANGE);
        if (jint(p, "hostPort", &hp) && hp != 0 && (hp < 1 || hp > 65535))
            add_i(v, "hostPort", E_INVALID, hp, MSG_PORT_RANGE);
        const char *proto = jstr0(p, "protocol");
        static const char *const protos[] = {"SCTP", "TCP", "UDP"};
        if (!*proto)
            add(v, "protocol", E_REQUIRED, NULL, "");
        else if (!IN(proto, protos))
            NOTSUPP(v, "protocol", proto, protos);
        pop(v, mi);
    }
    free(names);
    pop(v, m);
}

/* podshelper.ConvertDownwardAPIFieldLabel for v1, then the env var field checks */
static void check_env_field_ref(vctx_t *v, const json_t *fr)
{
    static const char *const valid[] = {"metadata.name",
                                        "metadata.namespace",
                                        "metadata.uid",
                                        "spec.nodeName",
                                        "spec.serviceAccountName",
                                        "status.hostIP",
                                        "status.hostIPs",
                                        "status.podIP",
                                        "status.podIPs"};
    static const char *const known[] = {
        "metadata.annotations", "metadata.labels", "metadata.name",      "metadata.namespace",
        "metadata.uid",         "spec.nodeName",   "spec.restartPolicy", "spec.serviceAccountName",
        "spec.schedulerName",   "status.phase",    "status.hostIP",      "status.hostIPs",
        "status.podIP",         "status.podIPs"};
    size_t m = push(v, "fieldRef");
    const char *av = jstr0(fr, "apiVersion"), *fp = jstr0(fr, "fieldPath");
    if (!*av) {
        add(v, "apiVersion", E_REQUIRED, NULL, "");
    } else if (!*fp) {
        add(v, "fieldPath", E_REQUIRED, NULL, "");
    } else {
        /* a subscripted path: metadata.labels['key'] or metadata.annotations['key'] */
        const char *open = strstr(fp, "['");
        size_t fl = strlen(fp);
        bool subscripted = open && fl >= 2 && fp[fl - 1] == ']' && fp[fl - 2] == '\'' &&
                           (size_t)(open - fp) + 4 <= fl;
        char *path = subscripted ? k1s_xstrndup(fp, (size_t)(open - fp)) : k1s_xstrdup(fp);
        char *sub = subscripted ? k1s_xstrndup(open + 2, fl - (size_t)(open - fp) - 4) : NULL;
        if (strcmp(av, "v1") != 0) {
            char *d = k1s_xasprintf("error converting fieldPath: unsupported pod version: %s", av);
            add_s(v, "fieldPath", E_INVALID, fp, d);
            free(d);
        } else if (!IN(path, known)) {
            char *d =
                k1s_xasprintf("error converting fieldPath: field label not supported: %s", fp);
            add_s(v, "fieldPath", E_INVALID, fp, d);
            free(d);
        } else if (subscripted) {
            if (!strcmp(path, "metadata.annotations")) {
                for (char *c = sub; *c; c++)
                    *c = (char)tolower((unsigned char)*c);
                check_fmt(v, NULL, k1s_is_qualified_name, sub);
            } else if (!strcmp(path, "metadata.labels")) {
                check_fmt(v, NULL, k1s_is_qualified_name, sub);
            } else {
                add_s(v, NULL, E_INVALID, path, "does not support subscript");
            }
        } else if (!IN(path, valid)) {
            NOTSUPP(v, "fieldPath", path, valid);
        }
        free(path);
        free(sub);
    }
    pop(v, m);
}

static void check_key_selector(vctx_t *v, const char *child, const json_t *s)
{
    size_t m = push(v, child);
    name_fn_t fn = k1s_is_dns1123_subdomain;
    check_fmt(v, "name", fn, jstr0(s, "name"));
    const char *key = jstr0(s, "key");
    if (!*key)
        add(v, "key", E_REQUIRED, NULL, "");
    else
        check_fmt(v, "key", k1s_is_config_map_key, key);
    pop(v, m);
}

static void check_env(vctx_t *v, const json_t *env)
{
    size_t m = push(v, "env");
    const json_t *e;
    ARR_EACH(env, i, e)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(e, "name");
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        else
            check_fmt(v, "name", is_env_var_name, name);
        const json_t *vf = jobj(e, "valueFrom");
        if (vf) {
            size_t mv = push(v, "valueFrom");
            int n = 0;
            if (jobj(vf, "fieldRef")) {
                n++;
                check_env_field_ref(v, jobj(vf, "fieldRef"));
            }
            if (jobj(vf, "resourceFieldRef")) {
                static const char *const res[] = {
                    "limits.cpu",   "limits.ephemeral-storage",   "limits.memory",
                    "requests.cpu", "requests.ephemeral-storage", "requests.memory"};
                n++;
                const json_t *rf = jobj(vf, "resourceFieldRef");
                size_t mr = push(v, "resourceFieldRef");
                const char *r = jstr0(rf, "resource");
                if (!*r)
                    add(v, "resource", E_REQUIRED, NULL, "");
                else if (!IN(r, res) && !k1s_str_has_prefix(r, "requests.hugepages-") &&
                         !k1s_str_has_prefix(r, "limits.hugepages-"))
                    NOTSUPP(v, "resource", r, res);
                pop(v, mr);
            }
            if (jobj(vf, "configMapKeyRef")) {
                n++;
                check_key_selector(v, "configMapKeyRef", jobj(vf, "configMapKeyRef"));
            }
            if (jobj(vf, "secretKeyRef")) {
                n++;
                check_key_selector(v, "secretKeyRef", jobj(vf, "secretKeyRef"));
            }
            if (n == 0)
                add_s(v, NULL, E_INVALID, "",
                      "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                      "`secretKeyRef`");
            else if (*jstr0(e, "value"))
                add_s(v, NULL, E_INVALID, "", "may not be specified when `value` is not empty");
            else if (n > 1)
                add_s(v, NULL, E_INVALID, "",
                      "may not have more than one field specified at a time");
            pop(v, mv);
        }
        pop(v, mi);
    }
    pop(v, m);
}

static void check_env_from(vctx_t *v, const json_t *envfrom)
{
    size_t m = push(v, "envFrom");
    const json_t *e;
    ARR_EACH(envfrom, i, e)
    {
        size_t mi = push_idx(v, i);
        const char *prefix = jstr0(e, "prefix");
        if (*prefix)
            check_fmt(v, "prefix", is_env_var_name, prefix);
        int n = 0;
        static const char *const refs[] = {"configMapRef", "secretRef"};
        for (size_t k = 0; k < 2; k++) {
            const json_t *r = jobj(e, refs[k]);
            if (!r)
                continue;
            n++;
            size_t mr = push(v, refs[k]);
            const char *name = jstr0(r, "name");
            if (!*name) {
                add(v, "name", E_REQUIRED, NULL, "");
            } else {
                const char *msgs[K1S_VALIDATE_MAX_MSGS];
                int nm = name_check(k1s_is_dns1123_subdomain, name, true, msgs);
                for (int j = 0; j < nm; j++)
                    add_s(v, "name", E_INVALID, name, msgs[j]);
            }
            pop(v, mr);
        }
        pop(v, mi);
        if (n == 0)
            add_s(v, NULL, E_INVALID, "", "must specify one of: `configMapRef` or `secretRef`");
        else if (n > 1)
            add_s(v, NULL, E_INVALID, "", "may not have more than one field specified at a time");
    }
    pop(v, m);
}

static void check_volume_mounts(vctx_t *v, const json_t *ctr, const vols_t *vs)
{
    const json_t *mounts = jarr(ctr, "volumeMounts"), *devices = jarr(ctr, "volumeDevices");
    size_t m = push(v, "volumeMounts");
    const json_t *mt, *d;
    ARR_EACH(mounts, i, mt)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(mt, "name"), *mp = jstr0(mt, "mountPath");
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        if (!vol_find(vs, name))
            add_s(v, "name", E_NOTFOUND, name, NULL);
        if (!*mp)
            add(v, "mountPath", E_REQUIRED, NULL, "");
        bool dup = false;
        const json_t *prev;
        ARR_EACH(mounts, j, prev)
        {
            if (j >= i)
                break;
            dup |= strcmp(jstr0(prev, "mountPath"), mp) == 0;
        }
        if (dup)
            add_s(v, "mountPath", E_INVALID, mp, "must be unique");
        ARR_EACH(devices, j, d)
        {
            if (!strcmp(jstr0(d, "name"), name)) {
                add_s(v, "name", E_INVALID, name, "must not already exist in volumeDevices");
                break;
            }
        }
        ARR_EACH(devices, j, d)
        {
            if (!strcmp(jstr0(d, "devicePath"), mp)) {
                add_s(v, "mountPath", E_INVALID, mp,
                      "must not already exist as a path in volumeDevices");
                break;
            }
        }
        pop(v, mi);
        /* subPath problems are reported at volumeMounts.subPath (sic) */
        const char *sp = jstr0(mt, "subPath"), *spe = jstr0(mt, "subPathExpr");
        if (*sp)
            check_local_descending(v, "subPath", sp);
        if (*spe) {
            if (*sp) {
                size_t mj = push_idx(v, i);
                add_s(v, "subPathExpr", E_INVALID, spe,
                      "subPathExpr and subPath are mutually exclusive");
                pop(v, mj);
            }
            check_local_descending(v, "subPathExpr", spe);
        }
        const char *prop = jstr(mt, "mountPropagation");
        if (prop) {
            static const char *const props[] = {"Bidirectional", "HostToContainer", "None"};
            if (!IN(prop, props))
                NOTSUPP(v, "mountPropagation", prop, props);
            const json_t *sc = jobj(ctr, "securityContext");
            if (!strcmp(prop, "Bidirectional") && !jtrue(sc, "privileged"))
                add(v, "mountPropagation", E_FORBIDDEN, NULL,
                    "Bidirectional mount propagation is available only to privileged containers");
        }
        const char *rro = jstr(mt, "recursiveReadOnly");
        if (rro) {
            static const char *const rros[] = {"Disabled", "Enabled", "IfPossible"};
            if (!strcmp(rro, "Enabled") || !strcmp(rro, "IfPossible")) {
                if (!jtrue(mt, "readOnly"))
                    add(v, "recursiveReadOnly", E_FORBIDDEN, NULL,
                        "may only be specified when readOnly is true");
                if (prop && strcmp(prop, "None"))
                    add(v, "recursiveReadOnly", E_FORBIDDEN, NULL,
                        "may only be specified when mountPropagation is None or not specified");
            } else if (strcmp(rro, "Disabled")) {
                NOTSUPP(v, "recursiveReadOnly", rro, rros);
            }
        }
    }
    pop(v, m);
    m = push(v, "volumeDevices");
    ARR_EACH(devices, i, d)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(d, "name"), *dp = jstr0(d, "devicePath");
        const json_t *vol = vol_find(vs, name);
        bool pvc = vol && (jobj(vol, "persistentVolumeClaim") || jobj(vol, "ephemeral"));
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        const json_t *prev;
        bool dupn = false, dupp = false;
        ARR_EACH(devices, j, prev)
        {
            if (j >= i)
                break;
            dupn |= *jstr0(prev, "name") && !strcmp(jstr0(prev, "name"), name);
            dupp |=
                !has_backsteps(jstr0(prev, "devicePath")) && !strcmp(jstr0(prev, "devicePath"), dp);
        }
        if (dupn)
            add_s(v, "name", E_INVALID, name, "must be unique");
        if (vol && !pvc)
            add_s(v, "name", E_INVALID, name,
                  "can only use volume source type of PersistentVolumeClaim or Ephemeral for "
                  "block mode");
        if (!vol)
            add_s(v, "name", E_NOTFOUND, name, NULL);
        if (!*dp)
            add(v, "devicePath", E_REQUIRED, NULL, "");
        if (dupp)
            add_s(v, "devicePath", E_INVALID, dp, "must be unique");
        if (*dp && has_backsteps(dp))
            add_s(v, "devicePath", E_INVALID, dp, "can not contain backsteps ('..')");
        ARR_EACH(mounts, j, mt)
        {
            if (!strcmp(jstr0(mt, "name"), name)) {
                add_s(v, "name", E_INVALID, name, "must not already exist in volumeMounts");
                break;
            }
        }
        ARR_EACH(mounts, j, mt)
        {
            if (!strcmp(jstr0(mt, "mountPath"), dp)) {
                add_s(v, "devicePath", E_INVALID, dp,
                      "must not already exist as a path in volumeMounts");
                break;
            }
        }
        pop(v, mi);
    }
    pop(v, m);
}

static void check_seccomp_profile(vctx_t *v, const json_t *sp)
{
    if (!sp)
        return;
    size_t m = push(v, "seccompProfile");
    const char *t = jstr0(sp, "type");
    static const char *const types[] = {"Localhost", "RuntimeDefault", "Unconfined"};
    if (!*t)
        add(v, "type", E_REQUIRED, NULL, "type is required when seccompProfile is set");
    else if (!IN(t, types))
        NOTSUPP(v, "type", t, types);
    const char *lp = jstr(sp, "localhostProfile");
    if (!strcmp(t, "Localhost")) {
        if (!lp)
            add(v, "localhostProfile", E_REQUIRED, NULL,
                "must be set when seccomp type is Localhost");
        else
            check_local_descending(v, "localhostProfile", lp);
    } else if (lp) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "core.SeccompProfile{Type:");
        go_quote(&b, t);
        k1s_buf_puts(&b, ", LocalhostProfile:(*string)(0xc000000000)}");
        add(v, "localhostProfile", E_INVALID, b.data,
            "can only be set when seccomp type is Localhost");
        k1s_buf_free(&b);
    }
    pop(v, m);
}

static void check_apparmor_profile(vctx_t *v, const json_t *ap)
{
    if (!ap)
        return;
    size_t m = push(v, "appArmorProfile");
    const char *t = jstr0(ap, "type");
    const char *lp = jstr(ap, "localhostProfile");
    static const char *const types[] = {"Localhost", "RuntimeDefault", "Unconfined"};
    if (!strcmp(t, "Localhost")) {
        if (!lp) {
            add(v, "localhostProfile", E_REQUIRED, NULL,
                "must be set when AppArmor type is Localhost");
        } else {
            size_t n = strlen(lp);
            if (n && (isspace((unsigned char)lp[0]) || isspace((unsigned char)lp[n - 1])))
                add_s(v, "localhostProfile", E_INVALID, lp, "must not be padded with whitespace");
            else if (!n)
                add(v, "localhostProfile", E_REQUIRED, NULL,
                    "must be set when AppArmor type is Localhost");
            if (n > 4095)
                add_toolong(v, "localhostProfile", 4095);
        }
    } else if (!strcmp(t, "RuntimeDefault") || !strcmp(t, "Unconfined")) {
        if (lp)
            add_s(v, "localhostProfile", E_INVALID, lp,
                  "can only be set when AppArmor type is Localhost");
    } else if (!*t) {
        add(v, "type", E_REQUIRED, NULL, "type is required when appArmorProfile is set");
    } else {
        NOTSUPP(v, "type", t, types);
    }
    pop(v, m);
}

static void check_id(vctx_t *v, const char *child, const json_t *o, const char *key)
{
    long long id;
    if (jint(o, key, &id) && (id < 0 || id > INT32_MAX))
        add_i(v, child, E_INVALID, id, "must be between 0 and 2147483647, inclusive");
}

/* ValidateSecurityContext (a container's), at the container path */
static void check_container_security(vctx_t *v, const json_t *sc, bool host_users)
{
    if (!sc)
        return;
    size_t m = push(v, "securityContext");
    check_id(v, "runAsUser", sc, "runAsUser");
    check_id(v, "runAsGroup", sc, "runAsGroup");
    const char *pm = jstr(sc, "procMount");
    if (pm) {
        static const char *const pms[] = {"Default", "Unmasked"};
        if (!IN(pm, pms))
            NOTSUPP(v, "procMount", pm, pms);
        if (host_users && !strcmp(pm, "Unmasked"))
            add_s(v, "procMount", E_INVALID, pm, "`hostUsers` must be false to use `Unmasked`");
    }
    check_seccomp_profile(v, jobj(sc, "seccompProfile"));
    if (json_is_false(jget(sc, "allowPrivilegeEscalation"))) {
        if (jtrue(sc, "privileged"))
            add(v, NULL, E_INVALID, "core.SecurityContext{...}",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
        const json_t *c;
        ARR_EACH(jarr(jobj(sc, "capabilities"), "add"), i, c)
        if (json_is_string(c) && !strcmp(json_string_value(c), "CAP_SYS_ADMIN"))
            add(v, NULL, E_INVALID, "core.SecurityContext{...}",
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                "CAP_SYS_ADMIN");
    }
    check_apparmor_profile(v, jobj(sc, "appArmorProfile"));
    pop(v, m);
}

/* validateHandler at the current path (a probe or lifecycle handler) */
static void check_handler(vctx_t *v, const json_t *h, const json_t *grace, bool lifecycle)
{
    int n = 0;
    static const char *const kinds[] = {"exec", "httpGet", "tcpSocket", "grpc", "sleep"};
    for (size_t k = 0; k < K1S_ARRAY_SIZE(kinds); k++) {
        const json_t *x = jobj(h, kinds[k]);
        if (!x || (k == 3 && lifecycle) || (k == 4 && !lifecycle))
            continue;
        if (n > 0) {
            add(v, kinds[k], E_FORBIDDEN, NULL, "may not specify more than 1 handler type");
            continue;
        }
        n++;
        size_t m = push(v, kinds[k]);
        if (k == 0) {
            if (!jlen(jarr(x, "command")))
                add(v, "command", E_REQUIRED, NULL, "");
        } else if (k == 1) {
            if (!*jstr0(x, "path"))
                add(v, "path", E_REQUIRED, NULL, "");
            check_port_num_or_name(v, "port", jget(x, "port"));
            static const char *const schemes[] = {"HTTP", "HTTPS"};
            const char *s = jstr0(x, "scheme");
            if (!IN(s, schemes))
                NOTSUPP(v, "scheme", s, schemes);
            const json_t *hd;
            ARR_EACH(jarr(x, "httpHeaders"), i, hd)
            {
                const char *hn = jstr0(hd, "name");
                if (!is_http_header_name(hn))
                    add_s(v, "httpHeaders", E_INVALID, hn,
                          "a valid HTTP header must consist of alphanumeric characters or '-' "
                          "(e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')");
            }
        } else if (k == 2 || k == 3) {
            check_port_num_or_name(v, "port", jget(x, "port"));
        } else {
            long long secs = 0, g;
            jint(x, "seconds", &secs);
            if (jnum(grace, &g) && (secs <= 0 || secs > g)) {
                char *d = k1s_xasprintf("must be greater than 0 and less than "
                                        "terminationGracePeriodSeconds (%lld). Enable "
                                        "AllowPodLifecycleSleepActionZeroValue feature gate for "
                                        "zero sleep.",
                                        g);
                add_i(v, NULL, E_INVALID, secs, d);
                free(d);
            }
        }
        pop(v, m);
    }
    if (n == 0)
        add(v, NULL, E_REQUIRED, NULL, "must specify a handler type");
}

typedef enum { PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP } probe_t;

static void check_probe(vctx_t *v, const char *child, const json_t *p, const json_t *grace,
                        probe_t kind)
{
    if (!p)
        return;
    size_t m = push(v, child);
    check_handler(v, p, grace, false);
    static const char *const nonneg[] = {"initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                                         "successThreshold", "failureThreshold"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(nonneg); i++) {
        long long x;
        if (jint(p, nonneg[i], &x) && x < 0)
            add_i(v, nonneg[i], E_INVALID, x, MSG_NOT_NEGATIVE);
    }
    long long t;
    if (jint(p, "terminationGracePeriodSeconds", &t) && t <= 0)
        add_i(v, "terminationGracePeriodSeconds", E_INVALID, t, "must be greater than 0");
    long long st = 0;
    jint(p, "successThreshold", &st);
    if (kind != PROBE_READINESS && st != 1)
        add_i(v, "successThreshold", E_INVALID, st, "must be 1");
    if (kind == PROBE_READINESS && jint(p, "terminationGracePeriodSeconds", &t))
        add_i(v, "terminationGracePeriodSeconds", E_INVALID, t,
              "must not be set for readinessProbes");
    pop(v, m);
}

static void check_lifecycle(vctx_t *v, const json_t *lc, const json_t *grace)
{
    size_t m = push(v, "lifecycle");
    if (jobj(lc, "postStart")) {
        size_t mp = push(v, "postStart");
        check_handler(v, jobj(lc, "postStart"), grace, true);
        pop(v, mp);
    }
    if (jobj(lc, "preStop")) {
        size_t mp = push(v, "preStop");
        check_handler(v, jobj(lc, "preStop"), grace, true);
        pop(v, mp);
    }
    pop(v, m);
}

/* validateContainerCommon at the current path (containers[i]) */
static void check_container_common(vctx_t *v, const json_t *c, const vols_t *vs, bool host_users)
{
    const char *name = jstr0(c, "name");
    if (!*name)
        add(v, "name", E_REQUIRED, NULL, "");
    else
        check_fmt(v, "name", k1s_is_dns1123_label, name);
    if (!*jstr0(c, "image"))
        add(v, "image", E_REQUIRED, NULL, "");
    const char *tmp = jstr0(c, "terminationMessagePolicy");
    static const char *const tmps[] = {"File", "FallbackToLogsOnError"};
    if (!*tmp)
        add(v, "terminationMessagePolicy", E_REQUIRED, NULL, "");
    else if (!IN(tmp, tmps))
        NOTSUPP(v, "terminationMessagePolicy", tmp, tmps);
    check_container_ports(v, jarr(c, "ports"));
    check_env(v, jarr(c, "env"));
    check_env_from(v, jarr(c, "envFrom"));
    check_volume_mounts(v, c, vs);
    const char *pp = jstr0(c, "imagePullPolicy");
    static const char *const pps[] = {"Always", "IfNotPresent", "Never"};
    if (!*pp)
        add(v, "imagePullPolicy", E_REQUIRED, NULL, "");
    else if (!IN(pp, pps))
        NOTSUPP(v, "imagePullPolicy", pp, pps);
    size_t m = push(v, "resources");
    check_resources(v, jobj(c, "resources"));
    pop(v, m);
    check_container_security(v, jobj(c, "securityContext"), host_users);
}

/* AccumulateUniqueHostPorts over list[from..to); Kubernetes checks each init container alone, so
 * their paths say [0] (first_index) whatever their place in the list */
static void check_host_ports(vctx_t *v, const json_t *list, size_t from, size_t to,
                             size_t first_index)
{
    k1s_buf_t seen = K1S_BUF_INIT;
    k1s_buf_putc(&seen, '\n');
    for (size_t ci = from; ci < to; ci++) {
        const json_t *c = json_array_get(list, ci), *p;
        size_t mc = push_idx(v, first_index + (ci - from));
        size_t mp = push(v, "ports");
        ARR_EACH(jarr(c, "ports"), pi, p)
        {
            long long hp = 0;
            if (!jint(p, "hostPort", &hp) || hp == 0)
                continue;
            char *key = k1s_xasprintf("%s/%s/%lld", jstr0(p, "protocol"), jstr0(p, "hostIP"), hp);
            char *needle = k1s_xasprintf("\n%s\n", key);
            if (strstr(seen.data, needle)) {
                size_t mi = push_idx(v, pi);
                add_s(v, "hostPort", E_DUPLICATE, key, NULL);
                pop(v, mi);
            } else {
                k1s_buf_puts(&seen, key);
                k1s_buf_putc(&seen, '\n');
            }
            free(needle);
            free(key);
        }
        pop(v, mp);
        pop(v, mc);
    }
    k1s_buf_free(&seen);
}

static void check_tolerations(vctx_t *v, const json_t *tols)
{
    size_t m = push(v, "tolerations");
    const json_t *t;
    static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute"};
    static const char *const ops[] = {"Equal", "Exists"};
    ARR_EACH(tols, i, t)
    {
        size_t mi = push_idx(v, i);
        const char *key = jstr0(t, "key"), *op = jstr0(t, "operator"), *eff = jstr0(t, "effect"),
                   *val = jstr0(t, "value");
        if (*key)
            check_fmt(v, "key", k1s_is_qualified_name, key);
        if (!*key && strcmp(op, "Exists") != 0)
            add_s(v, "operator", E_INVALID, op,
                  "operator must be Exists when `key` is empty, which means \"match all values "
                  "and all keys\"");
        if (jget(t, "tolerationSeconds") && strcmp(eff, "NoExecute") != 0)
            add_s(v, "effect", E_INVALID, eff,
                  "effect must be 'NoExecute' when `tolerationSeconds` is set");
        if (!*op || !strcmp(op, "Equal")) {
            const char *msgs[K1S_VALIDATE_MAX_MSGS];
            int n = k1s_is_label_value(val, msgs);
            if (n) {
                k1s_buf_t b = K1S_BUF_INIT;
                for (int j = 0; j < n; j++) {
                    if (j)
                        k1s_buf_putc(&b, ';');
                    k1s_buf_puts(&b, msgs[j]);
                }
                add_s(v, "operator", E_INVALID, val, b.data);
                k1s_buf_free(&b);
            }
        } else if (!strcmp(op, "Exists")) {
            if (*val)
                add_s(v, "operator", E_INVALID, val,
                      "value must be empty when `operator` is 'Exists'");
        } else {
            NOTSUPP(v, "operator", op, ops);
        }
        if (*eff && !IN(eff, effects))
            NOTSUPP(v, "effect", eff, effects);
        pop(v, mi);
    }
    pop(v, m);
}

/* ValidateNodeSelectorRequirement at the current path */
static void check_node_selector_req(vctx_t *v, const json_t *rq, bool allow_invalid_values)
{
    const char *op = jstr0(rq, "operator");
    size_t nv = jlen(jarr(rq, "values"));
    if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
        if (!nv)
            add(v, "values", E_REQUIRED, NULL,
                "must be specified when `operator` is 'In' or 'NotIn'");
    } else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
        if (nv)
            add(v, "values", E_FORBIDDEN, NULL,
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    } else if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
        if (nv != 1)
            add(v, "values", E_REQUIRED, NULL,
                "must be specified single value when `operator` is 'Lt' or 'Gt'");
    } else {
        add_s(v, "operator", E_INVALID, op, "not a valid selector operator");
    }
    check_fmt(v, "key", k1s_is_qualified_name, jstr0(rq, "key"));
    if (!allow_invalid_values) {
        size_t m = push(v, "values");
        const json_t *val;
        ARR_EACH(jarr(rq, "values"), i, val)
        {
            size_t mi = push_idx(v, i);
            check_fmt(v, NULL, k1s_is_label_value,
                      json_is_string(val) ? json_string_value(val) : "");
            pop(v, mi);
        }
        pop(v, m);
    }
}

static void check_node_selector_term(vctx_t *v, const json_t *term, bool allow_invalid)
{
    const json_t *rq;
    size_t m = push(v, "matchExpressions");
    ARR_EACH(jarr(term, "matchExpressions"), i, rq)
    {
        size_t mi = push_idx(v, i);
        check_node_selector_req(v, rq, allow_invalid);
        pop(v, mi);
    }
    pop(v, m);
    m = push(v, "matchFields");
    ARR_EACH(jarr(term, "matchFields"), i, rq)
    {
        size_t mi = push_idx(v, i);
        const char *op = jstr0(rq, "operator");
        if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
            if (jlen(jarr(rq, "values")) != 1)
                add(v, "values", E_REQUIRED, NULL,
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field "
                    "selector");
        } else {
            add_s(v, "operator", E_INVALID, op, "not a valid selector operator");
        }
        if (strcmp(jstr0(rq, "key"), "metadata.name") != 0) {
            add_s(v, "key", E_INVALID, jstr0(rq, "key"), "not a valid field selector key");
        } else {
            const json_t *val;
            size_t mv = push(v, "values");
            ARR_EACH(jarr(rq, "values"), j, val)
            {
                size_t mj = push_idx(v, j);
                check_fmt(v, NULL, k1s_is_dns1123_subdomain, json_string_value(val));
                pop(v, mj);
            }
            pop(v, mv);
        }
        pop(v, mi);
    }
    pop(v, m);
}

static void check_pod_affinity_terms(vctx_t *v, const char *child, const json_t *terms,
                                     bool weighted)
{
    size_t m = push(v, child);
    const json_t *t;
    ARR_EACH(terms, i, t)
    {
        size_t mi = push_idx(v, i);
        const json_t *term = t;
        long long w = 0;
        if (weighted) {
            jint(t, "weight", &w);
            if (w <= 0 || w > 100)
                add_i(v, "weight", E_INVALID, w, "must be in the range 1-100");
            term = jobj(t, "podAffinityTerm");
            push(v, "podAffinityTerm");
        }
        size_t ml = push(v, "labelSelector");
        check_selector(v, jobj(term, "labelSelector"));
        pop(v, ml);
        ml = push(v, "namespaceSelector");
        check_selector(v, jobj(term, "namespaceSelector"));
        pop(v, ml);
        const json_t *ns;
        ARR_EACH(jarr(term, "namespaces"), j, ns)
        check_fmt(v, "namespace", k1s_is_dns1123_label, json_string_value(ns));
        const char *tk = jstr0(term, "topologyKey");
        if (!*tk)
            add(v, "topologyKey", E_REQUIRED, NULL, "can not be empty");
        check_fmt(v, "topologyKey", k1s_is_qualified_name, tk);
        pop(v, mi);
    }
    pop(v, m);
}

static void check_affinity(vctx_t *v, const json_t *aff)
{
    if (!aff)
        return;
    size_t m = push(v, "affinity");
    const json_t *na = jobj(aff, "nodeAffinity");
    if (na) {
        size_t mn = push(v, "nodeAffinity");
        const json_t *req = jobj(na, "requiredDuringSchedulingIgnoredDuringExecution");
        if (req) {
            size_t mr = push(v, "requiredDuringSchedulingIgnoredDuringExecution");
            size_t mt = push(v, "nodeSelectorTerms");
            const json_t *terms = jarr(req, "nodeSelectorTerms"), *t;
            if (!jlen(terms))
                add(v, NULL, E_REQUIRED, NULL, "must have at least one node selector term");
            ARR_EACH(terms, i, t)
            {
                size_t mi = push_idx(v, i);
                check_node_selector_term(v, t, false);
                pop(v, mi);
            }
            pop(v, mt);
            pop(v, mr);
        }
        const json_t *pref = jarr(na, "preferredDuringSchedulingIgnoredDuringExecution"), *t;
        size_t mp = push(v, "preferredDuringSchedulingIgnoredDuringExecution");
        ARR_EACH(pref, i, t)
        {
            size_t mi = push_idx(v, i);
            long long w = 0;
            jint(t, "weight", &w);
            if (w <= 0 || w > 100)
                add_i(v, "weight", E_INVALID, w, "must be in the range 1-100");
            size_t mq = push(v, "preference");
            check_node_selector_term(v, jobj(t, "preference"), true);
            pop(v, mq);
            pop(v, mi);
        }
        pop(v, mp);
        pop(v, mn);
    }
    static const char *const kinds[] = {"podAffinity", "podAntiAffinity"};
    for (size_t k = 0; k < 2; k++) {
        const json_t *pa = jobj(aff, kinds[k]);
        if (!pa)
            continue;
        size_t mk = push(v, kinds[k]);
        check_pod_affinity_terms(v, "requiredDuringSchedulingIgnoredDuringExecution",
                                 jarr(pa, "requiredDuringSchedulingIgnoredDuringExecution"), false);
        check_pod_affinity_terms(v, "preferredDuringSchedulingIgnoredDuringExecution",
                                 jarr(pa, "preferredDuringSchedulingIgnoredDuringExecution"), true);
        pop(v, mk);
    }
    pop(v, m);
}

static void check_dns_config(vctx_t *v, const json_t *cfg, const char *policy)
{
    size_t m = push(v, "dnsConfig");
    if (!strcmp(policy, "None")) {
        if (!cfg) {
            add(v, NULL, E_REQUIRED, NULL, "must provide `dnsConfig` when `dnsPolicy` is None");
            pop(v, m);
            return;
        }
        if (!jlen(jarr(cfg, "nameservers"))) {
            add(v, "nameservers", E_REQUIRED, NULL,
                "must provide at least one DNS nameserver when `dnsPolicy` is None");
            pop(v, m);
            return;
        }
    }
    if (cfg) {
        const json_t *ns = jarr(cfg, "nameservers"), *se = jarr(cfg, "searches"), *x;
        if (jlen(ns) > 3) {
            k1s_buf_t b = K1S_BUF_INIT;
            go_strings(&b, ns);
            add(v, "nameservers", E_INVALID, b.data, "must not have more than 3 nameservers");
            k1s_buf_free(&b);
        }
        size_t mn = push(v, "nameservers");
        ARR_EACH(ns, i, x)
        {
            size_t mi = push_idx(v, i);
            check_ip(v, NULL, json_string_value(x));
            pop(v, mi);
        }
        pop(v, mn);
        size_t total = 0;
        ARR_EACH(se, i, x)
        total += strlen(json_is_string(x) ? json_string_value(x) : "") + (i ? 1 : 0);
        if (jlen(se) > 32 || total > 2048) {
            k1s_buf_t b = K1S_BUF_INIT;
            go_strings(&b, se);
            if (jlen(se) > 32)
                add(v, "searches", E_INVALID, b.data, "must not have more than 32 search paths");
            if (total > 2048)
                add(v, "searches", E_INVALID, b.data,
                    "must not have more than 2048 characters (including spaces) in the search "
                    "list");
            k1s_buf_free(&b);
        }
        size_t ms = push(v, "searches");
        ARR_EACH(se, i, x)
        {
            size_t mi = push_idx(v, i);
            const char *s = json_is_string(x) ? json_string_value(x) : "";
            size_t n = strlen(s);
            char *t = k1s_xstrndup(s, n && s[n - 1] == '.' ? n - 1 : n);
            check_fmt(v, NULL, k1s_is_dns1123_subdomain, t);
            free(t);
            pop(v, mi);
        }
        pop(v, ms);
        size_t mo = push(v, "options");
        ARR_EACH(jarr(cfg, "options"), i, x)
        {
            if (!*jstr0(x, "name")) {
                size_t mi = push_idx(v, i);
                add(v, NULL, E_REQUIRED, NULL, "must not be empty");
                pop(v, mi);
            }
        }
        pop(v, mo);
    }
    pop(v, m);
}

static void check_topology_spread(vctx_t *v, const json_t *tscs)
{
    size_t m = push(v, "topologySpreadConstraints");
    const json_t *c;
    static const char *const actions[] = {"DoNotSchedule", "ScheduleAnyway"};
    static const char *const policies[] = {"Honor", "Ignore"};
    ARR_EACH(tscs, i, c)
    {
        size_t mi = push_idx(v, i);
        long long skew = 0;
        jint(c, "maxSkew", &skew);
        if (skew <= 0)
            add_i(v, "maxSkew", E_INVALID, skew, "must be greater than zero");
        const char *tk = jstr0(c, "topologyKey"), *wu = jstr0(c, "whenUnsatisfiable");
        if (!*tk)
            add(v, "topologyKey", E_REQUIRED, NULL, "can not be empty");
        if (!IN(wu, actions))
            NOTSUPP(v, "whenUnsatisfiable", wu, actions);
        const json_t *other;
        ARR_EACH(tscs, j, other)
        {
            if (j <= i)
                continue;
            if (!strcmp(tk, jstr0(other, "topologyKey")) &&
                !strcmp(wu, jstr0(other, "whenUnsatisfiable"))) {
                char *d = k1s_xasprintf("{%s, %s}", tk, wu);
                add_s(v, "{topologyKey, whenUnsatisfiable}", E_DUPLICATE, d, NULL);
                free(d);
                break;
            }
        }
        long long md;
        if (jint(c, "minDomains", &md)) {
            if (md <= 0)
                add_i(v, "minDomains", E_INVALID, md, "must be greater than zero");
            if (strcmp(wu, "DoNotSchedule") != 0) {
                char *d = k1s_xasprintf(
                    "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not %s", wu);
                add_i(v, "minDomains", E_INVALID, md, d);
                free(d);
            }
        }
        static const char *const pk[] = {"nodeAffinityPolicy", "nodeTaintsPolicy"};
        for (size_t k = 0; k < 2; k++) {
            const char *p = jstr(c, pk[k]);
            if (p && !IN(p, policies))
                NOTSUPP(v, pk[k], p, policies);
        }
        size_t ml = push(v, "labelSelector");
        check_selector(v, jobj(c, "labelSelector"));
        pop(v, ml);
        pop(v, mi);
    }
    pop(v, m);
}

static void check_pod_security(vctx_t *v, const json_t *spec)
{
    const json_t *sc = jobj(spec, "securityContext");
    if (!sc)
        return;
    size_t m = push(v, "securityContext");
    check_id(v, "fsGroup", sc, "fsGroup");
    check_id(v, "runAsUser", sc, "runAsUser");
    check_id(v, "runAsGroup", sc, "runAsGroup");
    const json_t *g;
    size_t mg = push(v, "supplementalGroups");
    ARR_EACH(jarr(sc, "supplementalGroups"), i, g)
    {
        long long id;
        if (jnum(g, &id) && (id < 0 || id > INT32_MAX)) {
            size_t mi = push_idx(v, i);
            add_i(v, NULL, E_INVALID, id, "must be between 0 and 2147483647, inclusive");
            pop(v, mi);
        }
    }
    pop(v, mg);
    if (jtrue(sc, "shareProcessNamespace") && jtrue(spec, "hostPID"))
        add(v, "shareProcessNamespace", E_INVALID, "true",
            "ShareProcessNamespace and HostPID cannot both be enabled");
    const json_t *sys = jarr(sc, "sysctls"), *s;
    size_t ms = push(v, "sysctls");
    ARR_EACH(sys, i, s)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(s, "name");
        bool valid = strlen(name) <= 253;
        /* ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$ */
        const char *p = name;
        while (valid) {
            size_t n = strcspn(p, "./");
            if (n == 0 || !is_alnum_lower(p[0]) || !is_alnum_lower(p[n - 1]))
                valid = false;
            for (size_t k = 0; valid && k < n; k++)
                if (!is_alnum_lower(p[k]) && p[k] != '-' && p[k] != '_')
                    valid = false;
            if (!p[n])
                break;
            p += n + 1;
        }
        bool dup = false;
        const json_t *prev;
        ARR_EACH(sys, j, prev)
        {
            if (j >= i)
                break;
            dup |= !strcmp(jstr0(prev, "name"), name);
        }
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        else if (!valid)
            add_s(v, "name", E_INVALID, name,
                  "must have at most 253 characters and match regex "
                  "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$");
        else if (dup)
            add_s(v, "name", E_DUPLICATE, name, NULL);
        if (jtrue(spec, "hostNetwork") && k1s_str_has_prefix(name, "net."))
            add_s(v, "name", E_INVALID, name, "may not be specified when 'hostNetwork' is true");
        else if (jtrue(spec, "hostIPC") &&
                 (k1s_str_has_prefix(name, "kernel.shm") ||
                  k1s_str_has_prefix(name, "kernel.msg") ||
                  k1s_str_has_prefix(name, "kernel.sem") || k1s_str_has_prefix(name, "fs.mqueue.")))
            add_s(v, "name", E_INVALID, name, "may not be specified when 'hostIPC' is true");
        pop(v, mi);
    }
    pop(v, ms);
    const char *fcp = jstr(sc, "fsGroupChangePolicy");
    static const char *const fcps[] = {"Always", "OnRootMismatch"};
    if (fcp && !IN(fcp, fcps))
        NOTSUPP(v, "fsGroupChangePolicy", fcp, fcps);
    check_seccomp_profile(v, jobj(sc, "seccompProfile"));
    check_apparmor_profile(v, jobj(sc, "appArmorProfile"));
    const char *sgp = jstr(sc, "supplementalGroupsPolicy");
    static const char *const sgps[] = {"Merge", "Strict"};
    if (sgp && !IN(sgp, sgps))
        NOTSUPP(v, "supplementalGroupsPolicy", sgp, sgps);
    const char *slp = jstr(sc, "seLinuxChangePolicy");
    static const char *const slps[] = {"MountOption", "Recursive"};
    if (slp && !IN(slp, slps))
        NOTSUPP(v, "seLinuxChangePolicy", slp, slps);
    pop(v, m);
}

/* ValidatePodSpec at the current path ("spec" or "spec.template.spec"). pod is the whole Pod
 * when validating one (ResourceIsPod), NULL inside templates. */
static void check_pod_spec(vctx_t *v, const json_t *spec, const json_t *pod)
{
    bool is_pod = pod != NULL;
    const json_t *grace = jget(spec, "terminationGracePeriodSeconds");
    if (!grace)
        add(v, "terminationGracePeriodSeconds", E_REQUIRED, NULL, "");
    bool host_users = !json_is_false(jget(jobj(spec, "securityContext"), "hostUsers"));
    vols_t vs = {0};
    check_volumes(v, jarr(spec, "volumes"), pod, &vs);

    const json_t *ctrs = jarr(spec, "containers"), *inits = jarr(spec, "initContainers"), *c;
    size_t m = push(v, "containers");
    if (!jlen(ctrs)) {
        add(v, NULL, E_REQUIRED, NULL, "");
    } else {
        ARR_EACH(ctrs, i, c)
        {
            size_t mi = push_idx(v, i);
            check_container_common(v, c, &vs, host_users);
            const char *name = jstr0(c, "name");
            const json_t *prev;
            bool dup = false;
            ARR_EACH(ctrs, j, prev)
            {
                if (j >= i)
                    break;
                dup |= !strcmp(jstr0(prev, "name"), name);
            }
            if (dup)
                add_s(v, "name", E_DUPLICATE, name, NULL);
            if (jobj(c, "lifecycle"))
                check_lifecycle(v, jobj(c, "lifecycle"), grace);
            check_probe(v, "livenessProbe", jobj(c, "livenessProbe"), grace, PROBE_LIVENESS);
            check_probe(v, "readinessProbe", jobj(c, "readinessProbe"), grace, PROBE_READINESS);
            check_probe(v, "startupProbe", jobj(c, "startupProbe"), grace, PROBE_STARTUP);
            if (jget(c, "restartPolicy"))
                add(v, "restartPolicy", E_FORBIDDEN, NULL,
                    "may not be set for non-init containers");
            pop(v, mi);
        }
        check_host_ports(v, ctrs, 0, json_array_size(ctrs), 0);
    }
    pop(v, m);

    m = push(v, "initContainers");
    ARR_EACH(inits, i, c)
    {
        size_t mi = push_idx(v, i);
        check_container_common(v, c, &vs, host_users);
        const char *rp = jstr(c, "restartPolicy");
        bool always = false;
        if (rp) {
            static const char *const rps[] = {"Always"};
            if (strcmp(rp, "Always") != 0)
                NOTSUPP(v, "restartPolicy", rp, rps);
            always = !strcmp(rp, "Always");
        }
        const char *name = jstr0(c, "name");
        bool dup = false;
        const json_t *prev;
        ARR_EACH(ctrs, j, prev)
        dup |= !strcmp(jstr0(prev, "name"), name);
        ARR_EACH(inits, j, prev)
        {
            if (j >= i)
                break;
            dup |= *jstr0(prev, "name") && !strcmp(jstr0(prev, "name"), name);
        }
        if (dup)
            add_s(v, "name", E_DUPLICATE, name, NULL);
        pop(v, mi);
        check_host_ports(v, inits, i, i + 1, 0);
        mi = push_idx(v, i);
        if (always) {
            if (jobj(c, "lifecycle"))
                check_lifecycle(v, jobj(c, "lifecycle"), grace);
            check_probe(v, "livenessProbe", jobj(c, "livenessProbe"), grace, PROBE_LIVENESS);
            check_probe(v, "readinessProbe", jobj(c, "readinessProbe"), grace, PROBE_READINESS);
            check_probe(v, "startupProbe", jobj(c, "startupProbe"), grace, PROBE_STARTUP);
        } else {
            static const char *const forb[] = {"lifecycle", "livenessProbe", "readinessProbe",
                                               "startupProbe"};
            for (size_t k = 0; k < K1S_ARRAY_SIZE(forb); k++)
                if (jobj(c, forb[k]))
                    add(v, forb[k], E_FORBIDDEN, NULL,
                        "may not be set for init containers without restartPolicy=Always");
        }
        pop(v, mi);
    }
    pop(v, m);

    /* hostNetwork: container ports must use the host port */
    if (jtrue(spec, "hostNetwork")) {
        m = push(v, "containers");
        ARR_EACH(ctrs, i, c)
        {
            size_t mi = push_idx(v, i);
            size_t mp = push(v, "ports");
            const json_t *p;
            ARR_EACH(jarr(c, "ports"), j, p)
            {
                long long hp = 0, cp = 0;
                jint(p, "hostPort", &hp);
                jint(p, "containerPort", &cp);
                if ((is_pod || hp != 0) && hp != cp) {
                    size_t mj = push_idx(v, j);
                    add_i(v, "hostPort", E_INVALID, hp,
                          "must match `containerPort` when `hostNetwork` is true");
                    pop(v, mj);
                }
            }
            pop(v, mp);
            pop(v, mi);
        }
        pop(v, m);
    }

    const char *rp = jstr0(spec, "restartPolicy");
    static const char *const rps[] = {"Always", "OnFailure", "Never"};
    if (!*rp)
        add(v, "restartPolicy", E_REQUIRED, NULL, "");
    else if (!IN(rp, rps))
        NOTSUPP(v, "restartPolicy", rp, rps);
    const char *dp = jstr0(spec, "dnsPolicy");
    static const char *const dps[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"};
    if (!*dp)
        add(v, "dnsPolicy", E_REQUIRED, NULL, "");
    else if (!IN(dp, dps))
        NOTSUPP(v, "dnsPolicy", dp, dps);
    check_labels(v, "nodeSelector", jobj(spec, "nodeSelector"));
    check_pod_security(v, spec);
    check_affinity(v, jobj(spec, "affinity"));
    check_dns_config(v, jobj(spec, "dnsConfig"), dp);
    const json_t *x;
    m = push(v, "readinessGates");
    ARR_EACH(jarr(spec, "readinessGates"), i, x)
    {
        size_t mi = push_idx(v, i);
        check_fmt(v, "conditionType", k1s_is_qualified_name, jstr0(x, "conditionType"));
        pop(v, mi);
    }
    pop(v, m);
    m = push(v, "schedulingGates");
    ARR_EACH(jarr(spec, "schedulingGates"), i, x)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(x, "name");
        check_fmt(v, NULL, k1s_is_qualified_name, name);
        const json_t *prev;
        bool dup = false;
        ARR_EACH(jarr(spec, "schedulingGates"), j, prev)
        {
            if (j >= i)
                break;
            dup |= !strcmp(jstr0(prev, "name"), name);
        }
        if (dup)
            add_s(v, NULL, E_DUPLICATE, name, NULL);
        pop(v, mi);
    }
    pop(v, m);
    check_topology_spread(v, jarr(spec, "topologySpreadConstraints"));
    if (!host_users) {
        if (jtrue(spec, "hostNetwork"))
            add(v, "hostNetwork", E_FORBIDDEN, NULL, "when `pod.Spec.HostUsers` is false");
        if (jtrue(spec, "hostPID"))
            add(v, "HostPID", E_FORBIDDEN, NULL, "when `pod.Spec.HostUsers` is false");
        if (jtrue(spec, "hostIPC"))
            add(v, "HostIPC", E_FORBIDDEN, NULL, "when `pod.Spec.HostUsers` is false");
    }
    const char *san = jstr0(spec, "serviceAccountName");
    if (*san)
        check_fmt(v, "serviceAccountName", k1s_is_dns1123_subdomain, san);
    const char *nn = jstr0(spec, "nodeName");
    if (*nn)
        check_fmt(v, "nodeName", k1s_is_dns1123_subdomain, nn);
    long long ads;
    if (jint(spec, "activeDeadlineSeconds", &ads) && (ads < 1 || ads > INT32_MAX))
        add_i(v, "activeDeadlineSeconds", E_INVALID, ads,
              "must be between 1 and 2147483647, inclusive");
    if (*jstr0(spec, "hostname"))
        check_fmt(v, "hostname", k1s_is_dns1123_label, jstr0(spec, "hostname"));
    if (*jstr0(spec, "subdomain"))
        check_fmt(v, "subdomain", k1s_is_dns1123_label, jstr0(spec, "subdomain"));
    if (jlen(jarr(spec, "tolerations")))
        check_tolerations(v, jarr(spec, "tolerations"));
    m = push(v, "hostAliases");
    ARR_EACH(jarr(spec, "hostAliases"), i, x)
    {
        size_t mi = push_idx(v, i);
        check_ip(v, "ip", jstr0(x, "ip"));
        const json_t *h;
        size_t mh = push(v, "hostnames");
        ARR_EACH(jarr(x, "hostnames"), j, h)
        {
            size_t mj = push_idx(v, j);
            check_fmt(v, NULL, k1s_is_dns1123_subdomain, json_string_value(h));
            pop(v, mj);
        }
        pop(v, mh);
        pop(v, mi);
    }
    pop(v, m);
    if (*jstr0(spec, "priorityClassName"))
        check_fmt(v, "priorityClassName", k1s_is_dns1123_subdomain,
                  jstr0(spec, "priorityClassName"));
    if (jstr(spec, "runtimeClassName"))
        check_fmt(v, "runtimeClassName", k1s_is_dns1123_subdomain, jstr(spec, "runtimeClassName"));
    const char *pp = jstr(spec, "preemptionPolicy");
    if (pp) {
        static const char *const pps[] = {"PreemptLowerPriority", "Never"};
        if (!*pp)
            add(v, "preemptionPolicy", E_REQUIRED, NULL, "");
        else if (!IN(pp, pps))
            NOTSUPP(v, "preemptionPolicy", pp, pps);
    }
    if (jobj(spec, "overhead")) {
        json_t *res = json_pack("{s:O}", "limits", jobj(spec, "overhead"));
        m = push(v, "overhead");
        check_resources(v, res);
        pop(v, m);
        json_decref(res);
    }
    const json_t *os = jobj(spec, "os");
    if (os) {
        static const char *const oses[] = {"linux", "windows"};
        const char *name = jstr0(os, "name");
        if (!*name)
            add(v, "os.name", E_REQUIRED, NULL, "cannot be empty");
        else if (!IN(name, oses))
            NOTSUPP(v, "os", name, oses);
    }
    free(vs.v);
}

static void check_pod_annotations(vctx_t *v, const json_t *ann, const json_t *spec)
{
    const char *mirror = jstr(ann, "kubernetes.io/config.mirror");
    if (mirror && !*jstr0(spec, "nodeName")) {
        size_t m = push_key(v, "kubernetes.io/config.mirror");
        add_s(v, NULL, E_INVALID, mirror, "must set spec.nodeName if mirror pod annotation is set");
        pop(v, m);
    }
    const char *cost = jstr(ann, "controller.kubernetes.io/pod-deletion-cost");
    if (cost) {
        bool ok =
            *cost && (cost[0] == '-' || !strcmp(cost, "0") || (cost[0] >= '1' && cost[0] <= '9'));
        char *end = NULL;
        errno = 0;
        long long x = ok ? strtoll(cost, &end, 10) : 0;
        if (!ok || errno || !end || *end || x < INT32_MIN || x > INT32_MAX ||
            (cost[0] == '-' && !isdigit((unsigned char)cost[1]))) {
            size_t m = push_key(v, "controller.kubernetes.io/pod-deletion-cost");
            add_s(v, NULL, E_INVALID, cost, "must be a 32bit integer");
            pop(v, m);
        }
    }
    /* ValidateSeccompPodAnnotations: reported at annotations.<key> (a Child, not a Key) */
    const char *k;
    const json_t *val;
    OBJ_EACH(ann, k, val)
    {
        if (strcmp(k, "seccomp.security.alpha.kubernetes.io/pod") &&
            !k1s_str_has_prefix(k, "container.seccomp.security.alpha.kubernetes.io/"))
            continue;
        const char *p = json_is_string(val) ? json_string_value(val) : "";
        char *child = k1s_xstrdup(k);
        if (k1s_str_has_prefix(p, "localhost/"))
            check_local_descending(v, child, p + strlen("localhost/"));
        else if (strcmp(p, "runtime/default") && strcmp(p, "docker/default") &&
                 strcmp(p, "unconfined"))
            add_s(v, child, E_INVALID, p, "must be a valid seccomp profile");
        free(child);
    }
    /* ValidateAppArmorPodAnnotations */
    static const char apparmor[] = "container.apparmor.security.beta.kubernetes.io/";
    OBJ_EACH(ann, k, val)
    {
        if (!k1s_str_has_prefix(k, apparmor))
            continue;
        const char *ctr = k + strlen(apparmor);
        bool found = false;
        static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
        for (size_t l = 0; l < K1S_ARRAY_SIZE(lists); l++) {
            const json_t *c;
            ARR_EACH(jarr(spec, lists[l]), i, c)
            found |= !strcmp(jstr0(c, "name"), ctr);
        }
        size_t m = push_key(v, k);
        if (!found)
            add_s(v, NULL, E_INVALID, ctr, "container not found");
        const char *p = json_is_string(val) ? json_string_value(val) : "";
        if (*p && strcmp(p, "runtime/default") && strcmp(p, "unconfined") &&
            !k1s_str_has_prefix(p, "localhost/")) {
            char *q = quoted(p);
            char *d = k1s_xasprintf("invalid AppArmor profile name: %s", q);
            add_s(v, NULL, E_INVALID, p, d);
            free(d);
            free(q);
        }
        pop(v, m);
    }
}

/* ValidatePodTemplateSpec at the current path ("spec.template") */
static void check_pod_template(vctx_t *v, const json_t *tmpl)
{
    const json_t *meta = jobj(tmpl, "metadata"), *spec = jobj(tmpl, "spec");
    check_labels(v, "labels", jobj(meta, "labels"));
    check_annotations(v, "annotations", jobj(meta, "annotations"));
    size_t m = push(v, "annotations");
    check_pod_annotations(v, jobj(meta, "annotations"), spec);
    pop(v, m);
    m = push(v, "spec");
    check_pod_spec(v, spec, NULL);
    pop(v, m);
    if (jlen(jarr(spec, "ephemeralContainers")))
        add(v, "spec.ephemeralContainers", E_FORBIDDEN, NULL,
            "ephemeral containers not allowed in pod template");
}

/* ------------------------------------------------------------------------------------------ */
/* Pods                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* validatePodMetadataAndSpec */
static void check_pod_meta_and_spec(vctx_t *v, const k1s_resource_t *r, const json_t *pod)
{
    const json_t *meta = jobj(pod, "metadata"), *spec = jobj(pod, "spec");
    size_t m = push(v, "metadata");
    check_meta_create(v, r, meta, true);
    size_t ma = push(v, "annotations");
    check_pod_annotations(v, jobj(meta, "annotations"), spec);
    pop(v, ma);
    pop(v, m);
    m = push(v, "spec");
    check_pod_spec(v, spec, pod);
    if (!*jstr0(spec, "serviceAccountName")) {
        size_t mv = push(v, "volumes");
        const json_t *vol, *src;
        ARR_EACH(jarr(spec, "volumes"), i, vol)
        {
            ARR_EACH(jarr(jobj(vol, "projected"), "sources"), j, src)
            {
                if (!jobj(src, "serviceAccountToken"))
                    continue;
                size_t mi = push_idx(v, i);
                push(v, "projected");
                push(v, "sources");
                push_idx(v, j);
                add(v, "serviceAccountToken", E_FORBIDDEN, NULL,
                    "must not be specified when serviceAccountName is not set");
                pop(v, mi);
            }
        }
        pop(v, mv);
    }
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t k = 0; k < 2; k++) {
        size_t ml = push(v, lists[k]);
        const json_t *c;
        ARR_EACH(jarr(spec, lists[k]), i, c)
        {
            const char *img = jstr0(c, "image");
            size_t n = strlen(img);
            if (n && (isspace((unsigned char)img[0]) || isspace((unsigned char)img[n - 1]))) {
                size_t mi = push_idx(v, i);
                add_s(v, "image", E_INVALID, img, "must not have leading or trailing whitespace");
                pop(v, mi);
            }
        }
        pop(v, ml);
    }
    pop(v, m);
}

static void check_pod_create(vctx_t *v, const k1s_resource_t *r, const json_t *pod)
{
    check_pod_meta_and_spec(v, r, pod);
    const json_t *spec = jobj(pod, "spec");
    size_t m = push(v, "spec");
    if (jlen(jarr(spec, "ephemeralContainers")))
        add(v, "ephemeralContainers", E_FORBIDDEN, NULL, "cannot be set on create");
    if (*jstr0(spec, "nodeName") && jlen(jarr(spec, "schedulingGates")))
        add(v, "nodeName", E_FORBIDDEN, NULL,
            "cannot be set until all schedulingGates have been cleared");
    pop(v, m);
}

/* A deep copy of o, or a new empty object if o is NULL. */
static json_t *copy_or_empty(const json_t *o)
{
    return o ? json_deep_copy(o) : json_object();
}

/* Removes nulls and empty arrays/objects: Semantic.DeepEqual treats nil and empty alike. */
static json_t *normalized(const json_t *j)
{
    if (json_is_object(j)) {
        json_t *o = json_object();
        const char *k;
        const json_t *val;
        OBJ_EACH(j, k, val)
        {
            json_t *n = normalized(val);
            if (n)
                json_object_set_new(o, k, n);
        }
        if (json_object_size(o) == 0) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    if (json_is_array(j)) {
        if (json_array_size(j) == 0)
            return NULL;
        json_t *a = json_array();
        const json_t *val;
        ARR_EACH(j, i, val)
        {
            json_t *n = normalized(val);
            json_array_append_new(a, n ? n : json_object());
        }
        return a;
    }
    if (!j || json_is_null(j))
        return NULL;
    return json_deep_copy(j);
}

static bool same(const json_t *a, const json_t *b)
{
    json_t *na = normalized(a), *nb = normalized(b);
    bool eq = (!na && !nb) || (na && nb && json_equal(na, nb));
    json_decref(na);
    json_decref(nb);
    return eq;
}

/* cmp.Diff-like summary of the top-level fields that differ */
static char *spec_diff(const char *type, const json_t *old, const json_t *cur)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b, "  %s{\n", type);
    json_t *keys = json_object();
    const char *k;
    const json_t *val;
    OBJ_EACH(old, k, val)
    json_object_set_new(keys, k, json_true());
    OBJ_EACH(cur, k, val)
    json_object_set_new(keys, k, json_true());
    OBJ_EACH(keys, k, val)
    {
        const json_t *a = jget(old, k), *c = jget(cur, k);
        if (same(a, c))
            continue;
        char field[128];
        snprintf(field, sizeof(field), "%s", k);
        field[0] = (char)toupper((unsigned char)field[0]);
        char *sa = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : k1s_xstrdup("nil");
        char *sc = c ? json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY) : k1s_xstrdup("nil");
        k1s_buf_printf(&b, "- \t%s: %s,\n+ \t%s: %s,\n", field, sa, field, sc);
        free(sa);
        free(sc);
    }
    json_decref(keys);
    k1s_buf_puts(&b, "  }\n");
    return k1s_buf_steal(&b);
}

static bool toleration_eq_but_seconds(const json_t *a, const json_t *b)
{
    json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
    json_object_del(ca, "tolerationSeconds");
    json_object_del(cb, "tolerationSeconds");
    bool eq = same(ca, cb);
    json_decref(ca);
    json_decref(cb);
    return eq;
}

static void check_pod_update(vctx_t *v, const k1s_resource_t *r, const json_t *pod,
                             const json_t *old)
{
    const json_t *spec = jobj(pod, "spec"), *ospec = jobj(old, "spec");
    size_t m = push(v, "metadata");
    check_meta_update(v, jobj(pod, "metadata"), jobj(old, "metadata"), true);
    pop(v, m);
    check_pod_meta_and_spec(v, r, pod);
    /* mirror pod annotation can be neither added, removed nor changed */
    const char *mk = "kubernetes.io/config.mirror";
    const char *nm = jstr(jobj(jobj(pod, "metadata"), "annotations"), mk);
    const char *om = jstr(jobj(jobj(old, "metadata"), "annotations"), mk);
    m = push(v, "metadata");
    push(v, "annotations");
    push_key(v, mk);
    if (om && (!nm || strcmp(nm, om)))
        add(v, NULL, E_FORBIDDEN, NULL, "may not remove or update mirror pod annotation");
    if (nm && !om)
        add(v, NULL, E_FORBIDDEN, NULL, "may not add mirror pod annotation");
    pop(v, m);
    m = push(v, "metadata");
    push(v, "annotations");
    check_pod_annotations(v, jobj(jobj(pod, "metadata"), "annotations"), spec);
    pop(v, m);

    m = push(v, "spec");
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t k = 0; k < 2; k++) {
        const json_t *nl = jarr(spec, lists[k]), *ol = jarr(ospec, lists[k]), *c;
        if (jlen(nl) != jlen(ol)) {
            add(v, lists[k], E_FORBIDDEN, NULL, "pod updates may not add or remove containers");
            pop(v, m);
            return;
        }
        size_t ml = push(v, lists[k]);
        ARR_EACH(nl, i, c)
        {
            const char *img = jstr0(c, "image");
            size_t n = strlen(img);
            size_t mi = push_idx(v, i);
            if (!n)
                add(v, "image", E_REQUIRED, NULL, "");
            if (n && (isspace((unsigned char)img[0]) || isspace((unsigned char)img[n - 1])))
                add_s(v, "image", E_INVALID, img, "must not have leading or trailing whitespace");
            pop(v, mi);
        }
        pop(v, ml);
    }
    long long nads, oads;
    bool hn = jint(spec, "activeDeadlineSeconds", &nads),
         ho = jint(ospec, "activeDeadlineSeconds", &oads);
    if (hn) {
        if (nads < 0 || nads > INT32_MAX) {
            add_i(v, "activeDeadlineSeconds", E_INVALID, nads,
                  "must be between 0 and 2147483647, inclusive");
            pop(v, m);
            return;
        }
        if (ho && oads < nads) {
            add_i(v, "activeDeadlineSeconds", E_INVALID, nads,
                  "must be less than or equal to previous value");
            pop(v, m);
            return;
        }
    } else if (ho) {
        add(v, "activeDeadlineSeconds", E_INVALID, "null",
            "must not update from a positive integer to nil value");
    }
    /* tolerations: existing ones may only change tolerationSeconds */
    const json_t *nt = jarr(spec, "tolerations"), *ot = jarr(ospec, "tolerations"), *t, *u;
    bool tol_ok = true;
    ARR_EACH(ot, i, t)
    {
        bool found = false;
        ARR_EACH(nt, j, u)
        found |= toleration_eq_but_seconds(t, u);
        if (!found) {
            add(v, "tolerations", E_FORBIDDEN, NULL,
                "existing toleration can not be modified except its tolerationSeconds");
            tol_ok = false;
            break;
        }
    }
    if (tol_ok)
        check_tolerations(v, nt);
    /* scheduling gates: only deletions */
    const json_t *ng = jarr(spec, "schedulingGates"), *og = jarr(ospec, "schedulingGates"), *g, *h;
    ARR_EACH(ng, i, g)
    {
        bool found = false;
        ARR_EACH(og, j, h)
        found |= !strcmp(jstr0(g, "name"), jstr0(h, "name"));
        if (!found) {
            size_t ms = push(v, "schedulingGates");
            push_idx(v, i);
            add_f(v, "name", E_FORBIDDEN, NULL,
                  "only deletion is allowed, but found new scheduling gate '%s'", jstr0(g, "name"));
            pop(v, ms);
        }
    }
    if (!same(spec, ospec)) {
        json_t *munged = copy_or_empty(spec);
        for (size_t k = 0; k < 2; k++) {
            json_t *cl = json_object_get(munged, lists[k]), *c;
            ARR_EACH(cl, i, c)
            {
                const json_t *oc = json_array_get(jarr(ospec, lists[k]), i);
                if (jget(oc, "image"))
                    json_object_set(c, "image", (json_t *)jget(oc, "image"));
                else
                    json_object_del(c, "image");
            }
        }
        static const char *const copied[] = {"activeDeadlineSeconds", "schedulingGates",
                                             "tolerations"};
        for (size_t k = 0; k < K1S_ARRAY_SIZE(copied); k++) {
            if (jget(ospec, copied[k]))
                json_object_set(munged, copied[k], (json_t *)jget(ospec, copied[k]));
            else
                json_object_del(munged, copied[k]);
        }
        long long og_grace, ng_grace;
        if (jint(ospec, "terminationGracePeriodSeconds", &og_grace) && og_grace < 0 &&
            jint(munged, "terminationGracePeriodSeconds", &ng_grace) && ng_grace == 1)
            json_object_set(munged, "terminationGracePeriodSeconds",
                            (json_t *)jget(ospec, "terminationGracePeriodSeconds"));
        if (jlen(og)) {
            /* gated pods may add to spec.nodeSelector */
            const json_t *ons = jobj(ospec, "nodeSelector"), *nns = jobj(munged, "nodeSelector");
            if (!same(ons, nns)) {
                const char *k;
                const json_t *val;
                bool only_additions = true;
                OBJ_EACH(ons, k, val)
                {
                    const char *nv = jstr(nns, k);
                    if (!nv || !json_is_string(val) || strcmp(nv, json_string_value(val)))
                        only_additions = false;
                }
                if (!only_additions) {
                    k1s_buf_t b = K1S_BUF_INIT;
                    go_map(&b, nns);
                    add(v, "nodeSelector", E_INVALID, b.data,
                        "only additions to spec.nodeSelector are allowed (no mutations or "
                        "deletions)");
                    k1s_buf_free(&b);
                }
                if (ons)
                    json_object_set(munged, "nodeSelector", (json_t *)ons);
                else
                    json_object_del(munged, "nodeSelector");
            }
        }
        if (!same(munged, ospec)) {
            char *diff = spec_diff("core.PodSpec", ospec, munged);
            add_f(
                v, NULL, E_FORBIDDEN, NULL,
                "pod updates may not change fields other than "
                "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                "was previously negative)\n%s",
                diff);
            free(diff);
        }
        json_decref(munged);
    }
    pop(v, m);
}

/* ------------------------------------------------------------------------------------------ */
/* Core kinds                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void meta_create(vctx_t *v, const k1s_resource_t *r, const json_t *obj)
{
    size_t m = push(v, "metadata");
    check_meta_create(v, r, jobj(obj, "metadata"), !is_group(r, "coordination.k8s.io", "Lease"));
    pop(v, m);
}

static void meta_update(vctx_t *v, const k1s_resource_t *r, const json_t *obj, const json_t *old)
{
    size_t m = push(v, "metadata");
    check_meta_update(v, jobj(obj, "metadata"), jobj(old, "metadata"),
                      !is_group(r, "coordination.k8s.io", "Lease"));
    pop(v, m);
}

static void check_namespace(vctx_t *v, const k1s_resource_t *r, const json_t *ns, const json_t *old)
{
    if (old) {
        meta_update(v, r, ns, old);
        return;
    }
    meta_create(v, r, ns);
    const json_t *f;
    ARR_EACH(jarr(jobj(ns, "spec"), "finalizers"), i, f)
    {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        check_fmt(v, "spec.finalizers", k1s_is_qualified_name, s);
        if (!strchr(s, '/') && !is_standard_finalizer(s))
            add_s(v, "spec.finalizers", E_INVALID, s,
                  "name is neither a standard finalizer name nor is it fully qualified");
    }
}

static void check_configmap(vctx_t *v, const k1s_resource_t *r, const json_t *cm, const json_t *old)
{
    if (old) {
        meta_update(v, r, cm, old);
        if (jtrue(old, "immutable")) {
            if (!jtrue(cm, "immutable"))
                add(v, "immutable", E_FORBIDDEN, NULL,
                    "field is immutable when `immutable` is set");
            if (!same(jobj(cm, "data"), jobj(old, "data")))
                add(v, "data", E_FORBIDDEN, NULL, "field is immutable when `immutable` is set");
            if (!same(jobj(cm, "binaryData"), jobj(old, "binaryData")))
                add(v, "binaryData", E_FORBIDDEN, NULL,
                    "field is immutable when `immutable` is set");
        }
    }
    meta_create(v, r, cm);
    long long total = 0;
    const json_t *data = jobj(cm, "data"), *bin = jobj(cm, "binaryData");
    const char *k;
    const json_t *val;
    size_t m = push(v, "data");
    OBJ_EACH(data, k, val)
    {
        size_t mk = push_key(v, k);
        check_fmt(v, NULL, k1s_is_config_map_key, k);
        if (jget(bin, k))
            add_s(v, NULL, E_INVALID, k, "duplicate of key present in binaryData");
        total += (long long)strlen(json_is_string(val) ? json_string_value(val) : "");
        pop(v, mk);
    }
    pop(v, m);
    m = push(v, "binaryData");
    OBJ_EACH(bin, k, val)
    {
        size_t mk = push_key(v, k);
        check_fmt(v, NULL, k1s_is_config_map_key, k);
        const char *b64 = json_is_string(val) ? json_string_value(val) : "";
        size_t n = strlen(b64);
        total += (long long)(n / 4 * 3) - (n && b64[n - 1] == '=') - (n > 1 && b64[n - 2] == '=');
        pop(v, mk);
    }
    pop(v, m);
    if (total > 1024 * 1024) {
        /* field.NewPath("") prints as "[]" */
        size_t mr = push_key(v, "");
        add_toolong(v, NULL, 1024 * 1024);
        pop(v, mr);
    }
}

/* decoded length of a base64 string (Secret data values) */
static size_t b64_len(const char *s)
{
    size_t n = strlen(s);
    size_t pad = (n && s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
    return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) - pad;
}

/* Decodes standard base64 (as encoding/json does for []byte); NULL if malformed. */
static unsigned char *b64_decode(const char *s, size_t *len)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    if (n % 4)
        return NULL;
    unsigned char *out = k1s_xmalloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int val[4];
        for (int j = 0; j < 4; j++) {
            const char *p = s[i + j] ? strchr(alpha, s[i + j]) : NULL;
            if (s[i + j] == '=' && i + 4 == n && j >= 2)
                val[j] = -1;
            else if (p)
                val[j] = (int)(p - alpha);
            else {
                free(out);
                return NULL;
            }
        }
        if (val[0] < 0 || val[1] < 0 || (val[2] < 0 && val[3] >= 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (unsigned char)(val[0] << 2 | val[1] >> 4);
        if (val[2] >= 0)
            out[o++] = (unsigned char)((val[1] & 15) << 4 | val[2] >> 2);
        if (val[3] >= 0)
            out[o++] = (unsigned char)((val[2] & 3) << 6 | val[3]);
    }
    out[o] = 0;
    *len = o;
    return out;
}

/* Parses the JSON document held base64-encoded in b64; *out is NULL if it is not JSON. */
static void decode_b64_json(const char *b64, json_t **out)
{
    size_t n = 0;
    unsigned char *raw = b64_decode(b64, &n);
    *out = raw ? json_loadb((const char *)raw, n, JSON_DECODE_ANY, NULL) : NULL;
    free(raw);
}

static void check_secret(vctx_t *v, const k1s_resource_t *r, const json_t *s, const json_t *old)
{
    if (old) {
        meta_update(v, r, s, old);
        const char *nt = jstr0(s, "type"), *ot = jstr0(old, "type");
        if (strcmp(nt, ot))
            add_s(v, "type", E_INVALID, nt, MSG_IMMUTABLE);
        if (jtrue(old, "immutable")) {
            if (!jtrue(s, "immutable"))
                add(v, "immutable", E_FORBIDDEN, NULL,
                    "field is immutable when `immutable` is set");
            if (!same(jobj(s, "data"), jobj(old, "data")))
                add(v, "data", E_FORBIDDEN, NULL, "field is immutable when `immutable` is set");
        }
    }
    meta_create(v, r, s);
    const json_t *data = jobj(s, "data");
    const char *k;
    const json_t *val;
    long long total = 0;
    size_t m = push(v, "data");
    OBJ_EACH(data, k, val)
    {
        size_t mk = push_key(v, k);
        check_fmt(v, NULL, k1s_is_config_map_key, k);
        total += (long long)b64_len(json_is_string(val) ? json_string_value(val) : "");
        pop(v, mk);
    }
    if (total > 1024 * 1024)
        add_toolong(v, NULL, 1024 * 1024);
    const char *type = jstr0(s, "type");
    if (!strcmp(type, "kubernetes.io/service-account-token")) {
        if (!*jstr0(jobj(jobj(s, "metadata"), "annotations"),
                    "kubernetes.io/service-account.name")) {
            pop(v, m);
            m = push(v, "metadata");
            push(v, "annotations");
            push_key(v, "kubernetes.io/service-account.name");
            add(v, NULL, E_REQUIRED, NULL, "");
        }
    } else if (!strcmp(type, "kubernetes.io/dockercfg") ||
               !strcmp(type, "kubernetes.io/dockerconfigjson")) {
        const char *key =
            !strcmp(type, "kubernetes.io/dockercfg") ? ".dockercfg" : ".dockerconfigjson";
        const char *b64 = jstr(data, key);
        size_t mk = push_key(v, key);
        if (!b64) {
            add(v, NULL, E_REQUIRED, NULL, "");
        } else {
            json_t *doc = NULL;
            decode_b64_json(b64, &doc);
            if (!json_is_object(doc))
                add_s(v, NULL, E_INVALID, "<secret contents redacted>",
                      doc ? "json: cannot unmarshal into Go value of type map[string]interface {}"
                          : "unexpected end of JSON input");
            json_decref(doc);
        }
        pop(v, mk);
    } else if (!strcmp(type, "kubernetes.io/basic-auth")) {
        if (!jget(data, "username") && !jget(data, "password")) {
            static const char *const keys[] = {"username", "password"};
            for (size_t i = 0; i < 2; i++) {
                size_t mk = push_key(v, keys[i]);
                add(v, NULL, E_REQUIRED, NULL, "");
                pop(v, mk);
            }
        }
    } else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
        if (!*jstr0(data, "ssh-privatekey")) {
            size_t mk = push_key(v, "ssh-privatekey");
            add(v, NULL, E_REQUIRED, NULL, "");
            pop(v, mk);
        }
    } else if (!strcmp(type, "kubernetes.io/tls")) {
        static const char *const keys[] = {"tls.crt", "tls.key"};
        for (size_t i = 0; i < 2; i++) {
            if (!jget(data, keys[i])) {
                size_t mk = push_key(v, keys[i]);
                add(v, NULL, E_REQUIRED, NULL, "");
                pop(v, mk);
            }
        }
    }
    pop(v, m);
}

static bool svc_headless(const json_t *spec)
{
    const json_t *ips = jarr(spec, "clusterIPs");
    return jlen(ips) == 1 && json_is_string(json_array_get(ips, 0)) &&
           !strcmp(json_string_value(json_array_get(ips, 0)), "None");
}

static bool svc_externally_accessible(const json_t *spec)
{
    const char *t = jstr0(spec, "type");
    return !strcmp(t, "LoadBalancer") || !strcmp(t, "NodePort") ||
           (!strcmp(t, "ClusterIP") && jlen(jarr(spec, "externalIPs")) > 0);
}

static bool svc_needs_hc(const json_t *spec)
{
    return !strcmp(jstr0(spec, "type"), "LoadBalancer") &&
           !strcmp(jstr0(spec, "externalTrafficPolicy"), "Local");
}

static void add_strings_value(vctx_t *v, const char *child, const json_t *list, const char *detail)
{
    k1s_buf_t b = K1S_BUF_INIT;
    go_strings(&b, list);
    add(v, child, E_INVALID, b.data, detail);
    k1s_buf_free(&b);
}

/* ValidateServiceClusterIPsRelatedFields, at "spec" */
static void check_cluster_ips(vctx_t *v, const json_t *spec)
{
    if (!strcmp(jstr0(spec, "type"), "ExternalName"))
        return;
    const char *ip = jstr0(spec, "clusterIP");
    const json_t *ips = jarr(spec, "clusterIPs"), *x;
    if (*ip) {
        if (!jlen(ips))
            add(v, "clusterIPs", E_REQUIRED, NULL, "");
        else if (strcmp(json_string_value(json_array_get(ips, 0))
                            ? json_string_value(json_array_get(ips, 0))
                            : "",
                        ip))
            add_strings_value(v, "clusterIPs", ips, "first value must match `clusterIP`");
    } else if (jlen(ips)) {
        add_strings_value(v, "clusterIPs", ips, "must be empty when `clusterIP` is not specified");
    }
    static const char *const fams[] = {"IPv4", "IPv6"};
    size_t m = push(v, "ipFamilies");
    ARR_EACH(jarr(spec, "ipFamilies"), i, x)
    {
        const char *f = json_is_string(x) ? json_string_value(x) : "";
        size_t mi = push_idx(v, i);
        if (!IN(f, fams))
            NOTSUPP(v, NULL, f, fams);
        const json_t *prev;
        bool dup = false;
        ARR_EACH(jarr(spec, "ipFamilies"), j, prev)
        {
            if (j >= i)
                break;
            dup |= json_is_string(prev) && !strcmp(json_string_value(prev), f);
        }
        if (dup)
            add_s(v, NULL, E_DUPLICATE, f, NULL);
        pop(v, mi);
    }
    pop(v, m);
    const char *pol = jstr(spec, "ipFamilyPolicy");
    static const char *const pols[] = {"PreferDualStack", "RequireDualStack", "SingleStack"};
    if (pol && !IN(pol, pols))
        NOTSUPP(v, "ipFamilyPolicy", pol, pols);
    bool invalid = false;
    int nv4 = 0, nv6 = 0;
    ARR_EACH(ips, i, x)
    {
        const char *s = json_is_string(x) ? json_string_value(x) : "";
        if (i == 0 && !strcmp(s, "None")) {
            if (jlen(ips) > 1) {
                invalid = true;
                add_strings_value(v, "clusterIPs", ips, "'None' must be the first and only value");
            }
            continue;
        }
        bool v6;
        if (!parse_ip_sloppy(s, &v6)) {
            invalid = true;
            size_t mc = push(v, "clusterIPs");
            push_idx(v, i);
            check_ip(v, NULL, s);
            pop(v, mc);
        } else if (v6) {
            nv6++;
        } else {
            nv4++;
        }
    }
    if (jlen(ips) > 2)
        add_strings_value(v, "clusterIPs", ips, "may only hold up to 2 values");
    if (invalid)
        return;
    if (jlen(ips) > 1 && !(nv4 == 1 && nv6 == 1))
        add_strings_value(v, "clusterIPs", ips,
                          "may specify no more than one IP for each IP family");
    if (!svc_headless(spec) && jlen(ips) && jlen(jarr(spec, "ipFamilies"))) {
        ARR_EACH(ips, i, x)
        {
            if (i >= jlen(jarr(spec, "ipFamilies")))
                break;
            const char *fam = json_string_value(json_array_get(jarr(spec, "ipFamilies"), i));
            bool v6 = false;
            parse_ip_sloppy(json_string_value(x), &v6);
            size_t mc;
            if (fam && !strcmp(fam, "IPv4") && v6) {
                mc = push(v, "clusterIPs");
                push_idx(v, i);
                char *d =
                    k1s_xasprintf("expected an IPv4 value as indicated by `ipFamilies[%zu]`", i);
                add_s(v, NULL, E_INVALID, json_string_value(x), d);
                free(d);
                pop(v, mc);
            }
            if (fam && !strcmp(fam, "IPv6") && !v6) {
                mc = push(v, "clusterIPs");
                push_idx(v, i);
                char *d =
                    k1s_xasprintf("expected an IPv6 value as indicated by `ipFamilies[%zu]`", i);
                add_s(v, NULL, E_INVALID, json_string_value(x), d);
                free(d);
                pop(v, mc);
            }
        }
    }
}

static void check_service_spec(vctx_t *v, const json_t *svc)
{
    const json_t *spec = jobj(svc, "spec"), *meta = jobj(svc, "metadata");
    const json_t *ann = jobj(meta, "annotations");
    const char *hints = jstr(ann, "service.kubernetes.io/topology-aware-hints");
    const char *mode = jstr(ann, "service.kubernetes.io/topology-mode");
    if (hints && mode && strcmp(hints, mode)) {
        size_t m = push(v, "metadata");
        push(v, "annotations");
        push_key(v, "service.kubernetes.io/topology-mode");
        add_s(v, NULL, E_INVALID, mode,
              "must match annotations[service.kubernetes.io/topology-aware-hints] when both are "
              "specified");
        pop(v, m);
    }
    size_t m = push(v, "spec");
    const char *type = jstr0(spec, "type");
    const json_t *ports = jarr(spec, "ports"), *p;
    bool headless = svc_headless(spec);
    if (!jlen(ports) && !headless && strcmp(type, "ExternalName"))
        add(v, "ports", E_REQUIRED, NULL, "");
    if (!strcmp(type, "LoadBalancer") || !strcmp(type, "NodePort")) {
        if (headless) {
            char *d = k1s_xasprintf("may not be set to 'None' for %s services", type);
            add_s(v, "clusterIPs[0]", E_INVALID, "None", d);
            free(d);
        }
    } else if (!strcmp(type, "ExternalName")) {
        if (jlen(jarr(spec, "clusterIPs")))
            add(v, "clusterIPs", E_FORBIDDEN, NULL, "may not be set for ExternalName services");
        if (jlen(jarr(spec, "ipFamilies")))
            add(v, "ipFamilies", E_FORBIDDEN, NULL, "may not be set for ExternalName services");
        if (jget(spec, "ipFamilyPolicy"))
            add(v, "ipFamilyPolicy", E_FORBIDDEN, NULL, "may not be set for ExternalName services");
        const char *en = jstr0(spec, "externalName");
        size_t n = strlen(en);
        char *cname = k1s_xstrndup(en, n && en[n - 1] == '.' ? n - 1 : n);
        if (*cname)
            check_fmt(v, "externalName", k1s_is_dns1123_subdomain, cname);
        else
            add(v, "externalName", E_REQUIRED, NULL, "");
        free(cname);
    }
    static const char *const protos[] = {"SCTP", "TCP", "UDP"};
    size_t mp = push(v, "ports");
    ARR_EACH(ports, i, p)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(p, "name");
        if (jlen(ports) > 1 && !*name) {
            add(v, "name", E_REQUIRED, NULL, "");
        } else if (*name) {
            check_fmt(v, "name", k1s_is_dns1123_label, name);
            const json_t *prev;
            bool dup = false;
            ARR_EACH(ports, j, prev)
            {
                if (j >= i)
                    break;
                dup |= !strcmp(jstr0(prev, "name"), name);
            }
            if (dup)
                add_s(v, "name", E_DUPLICATE, name, NULL);
        }
        long long port = 0;
        jint(p, "port", &port);
        if (port < 1 || port > 65535)
            add_i(v, "port", E_INVALID, port, MSG_PORT_RANGE);
        const char *proto = jstr0(p, "protocol");
        if (!*proto)
            add(v, "protocol", E_REQUIRED, NULL, "");
        else if (!IN(proto, protos))
            NOTSUPP(v, "protocol", proto, protos);
        check_port_num_or_name(v, "targetPort", jget(p, "targetPort"));
        if (jstr(p, "appProtocol"))
            check_fmt(v, "appProtocol", k1s_is_qualified_name, jstr(p, "appProtocol"));
        pop(v, mi);
    }
    pop(v, mp);
    if (jobj(spec, "selector"))
        check_labels(v, "selector", jobj(spec, "selector"));
    const char *aff = jstr0(spec, "sessionAffinity");
    static const char *const affs[] = {"ClientIP", "None"};
    if (!*aff)
        add(v, "sessionAffinity", E_REQUIRED, NULL, "");
    else if (!IN(aff, affs))
        NOTSUPP(v, "sessionAffinity", aff, affs);
    const json_t *sac = jobj(spec, "sessionAffinityConfig");
    if (!strcmp(aff, "ClientIP")) {
        size_t ms = push(v, "sessionAffinityConfig");
        const json_t *cip = jobj(sac, "clientIP");
        long long t;
        if (!sac)
            add(v, NULL, E_REQUIRED, NULL, "when session affinity type is ClientIP");
        else if (!cip)
            add(v, "clientIP", E_REQUIRED, NULL, "when session affinity type is ClientIP");
        else if (!jint(cip, "timeoutSeconds", &t))
            add(v, "clientIP.timeoutSeconds", E_REQUIRED, NULL,
                "when session affinity type is ClientIP");
        else if (t <= 0 || t > 86400)
            add_i(v, "clientIP.timeoutSeconds", E_INVALID, t,
                  "must be greater than 0 and less than 86400");
        pop(v, ms);
    } else if (!strcmp(aff, "None") && sac) {
        add(v, "sessionAffinityConfig", E_FORBIDDEN, NULL,
            "must not be set when session affinity is None");
    }
    check_cluster_ips(v, spec);
    const json_t *x;
    size_t me = push(v, "externalIPs");
    ARR_EACH(jarr(spec, "externalIPs"), i, x)
    {
        size_t mi = push_idx(v, i);
        const char *ip = json_is_string(x) ? json_string_value(x) : "";
        bool v6;
        if (!parse_ip_sloppy(ip, &v6)) {
            check_ip(v, NULL, ip);
        } else {
            unsigned char a[16];
            if (!v6) {
                unsigned b0, b1, b2, b3;
                sscanf(ip, "%u.%u.%u.%u", &b0, &b1, &b2, &b3);
                if (!b0 && !b1 && !b2 && !b3) {
                    char *d = k1s_xasprintf("may not be unspecified (%s)", ip);
                    add_s(v, NULL, E_INVALID, ip, d);
                    free(d);
                }
                if (b0 == 127)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the loopback range (127.0.0.0/8, ::1/128)");
                if (b0 == 169 && b1 == 254)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
                if (b0 == 224 && b1 == 0 && b2 == 0)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
            } else if (inet_pton(AF_INET6, ip, a) == 1) {
                static const unsigned char zero[16];
                if (!memcmp(a, zero, 16)) {
                    char *d = k1s_xasprintf("may not be unspecified (%s)", ip);
                    add_s(v, NULL, E_INVALID, ip, d);
                    free(d);
                }
                if (!memcmp(a, zero, 15) && a[15] == 1)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the loopback range (127.0.0.0/8, ::1/128)");
                if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
                if (a[0] == 0xff && (a[1] & 0x0f) == 0x02)
                    add_s(v, NULL, E_INVALID, ip,
                          "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
            }
        }
        pop(v, mi);
    }
    pop(v, me);
    static const char *const types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"};
    if (!*type)
        add(v, "type", E_REQUIRED, NULL, "");
    else if (!IN(type, types))
        NOTSUPP(v, "type", type, types);
    mp = push(v, "ports");
    ARR_EACH(ports, i, p)
    {
        long long np = 0;
        jint(p, "nodePort", &np);
        size_t mi = push_idx(v, i);
        if (!strcmp(type, "ClusterIP") && np)
            add(v, "nodePort", E_FORBIDDEN, NULL, "may not be used when `type` is 'ClusterIP'");
        pop(v, mi);
    }
    ARR_EACH(ports, i, p)
    {
        long long np = 0;
        if (!jint(p, "nodePort", &np) || !np)
            continue;
        const json_t *prev;
        bool dup = false;
        ARR_EACH(ports, j, prev)
        {
            long long pnp = 0;
            if (j >= i)
                break;
            jint(prev, "nodePort", &pnp);
            dup |= pnp == np && !strcmp(jstr0(prev, "protocol"), jstr0(p, "protocol"));
        }
        if (dup) {
            size_t mi = push_idx(v, i);
            add_i(v, "nodePort", E_DUPLICATE, np, NULL);
            pop(v, mi);
        }
    }
    ARR_EACH(ports, i, p)
    {
        long long port = 0;
        jint(p, "port", &port);
        const json_t *prev;
        bool dup = false;
        ARR_EACH(ports, j, prev)
        {
            long long pp = 0;
            if (j >= i)
                break;
            jint(prev, "port", &pp);
            dup |= pp == port && !strcmp(jstr0(prev, "protocol"), jstr0(p, "protocol"));
        }
        if (dup) {
            size_t mi = push_idx(v, i);
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_puts(&b, "core.ServicePort{Name:\"\", Protocol:");
            go_quote(&b, jstr0(p, "protocol"));
            k1s_buf_printf(&b,
                           ", AppProtocol:(*string)(nil), Port:%lld, TargetPort:"
                           "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
                           port);
            add(v, NULL, E_DUPLICATE, b.data, NULL);
            k1s_buf_free(&b);
            pop(v, mi);
        }
    }
    pop(v, mp);
    const json_t *ranges = jarr(spec, "loadBalancerSourceRanges");
    const char *ann_ranges = jstr(ann, "service.beta.kubernetes.io/load-balancer-source-ranges");
    if (jlen(ranges)) {
        size_t mr = push(v, "LoadBalancerSourceRanges");
        if (strcmp(type, "LoadBalancer"))
            add(v, NULL, E_FORBIDDEN, NULL, "may only be used when `type` is 'LoadBalancer'");
        ARR_EACH(ranges, i, x)
        {
            size_t mi = push_idx(v, i);
            const char *s = json_is_string(x) ? json_string_value(x) : "";
            while (isspace((unsigned char)*s))
                s++;
            size_t n = strlen(s);
            while (n && isspace((unsigned char)s[n - 1]))
                n--;
            char *t = k1s_xstrndup(s, n);
            check_cidr(v, NULL, t);
            free(t);
            pop(v, mi);
        }
        pop(v, mr);
    } else if (ann_ranges) {
        pop(v, m);
        size_t ma = push(v, "metadata");
        push(v, "annotations");
        push_key(v, "service.beta.kubernetes.io/load-balancer-source-ranges");
        if (strcmp(type, "LoadBalancer"))
            add(v, NULL, E_FORBIDDEN, NULL, "may only be used when `type` is 'LoadBalancer'");
        char *copy = k1s_xstrdup(ann_ranges), *save = NULL;
        bool blank = true;
        for (const char *c = copy; *c; c++)
            blank &= isspace((unsigned char)*c) != 0;
        for (char *tok = blank ? NULL : strtok_r(copy, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*tok))
                tok++;
            size_t n = strlen(tok);
            while (n && isspace((unsigned char)tok[n - 1]))
                tok[--n] = 0;
            check_cidr(v, NULL, tok);
        }
        free(copy);
        pop(v, ma);
        m = push(v, "spec");
    }
    if (jget(spec, "allocateLoadBalancerNodePorts") && strcmp(type, "LoadBalancer"))
        add(v, "allocateLoadBalancerNodePorts", E_FORBIDDEN, NULL,
            "may only be used when `type` is 'LoadBalancer'");
    if (!strcmp(type, "LoadBalancer") && !jget(spec, "allocateLoadBalancerNodePorts")) {
        pop(v, m);
        add(v, "allocateLoadBalancerNodePorts", E_REQUIRED, NULL, "");
        m = push(v, "spec");
    }
    const char *lbc = jstr(spec, "loadBalancerClass");
    if (!strcmp(type, "LoadBalancer")) {
        if (lbc)
            check_fmt(v, "loadBalancerClass", k1s_is_qualified_name, lbc);
    } else if (lbc) {
        add(v, "loadBalancerClass", E_FORBIDDEN, NULL,
            "may only be used when `type` is 'LoadBalancer'");
    }
    const char *etp = jstr0(spec, "externalTrafficPolicy");
    static const char *const etps[] = {"Cluster", "Local"};
    if (!svc_externally_accessible(spec)) {
        if (*etp)
            add_s(v, "externalTrafficPolicy", E_INVALID, etp,
                  "may only be set for externally-accessible services");
    } else if (!*etp) {
        add(v, "externalTrafficPolicy", E_REQUIRED, NULL, "");
    } else if (!IN(etp, etps)) {
        NOTSUPP(v, "externalTrafficPolicy", etp, etps);
    }
    long long hc = 0;
    jint(spec, "healthCheckNodePort", &hc);
    if (!svc_needs_hc(spec)) {
        if (hc)
            add_i(v, "healthCheckNodePort", E_INVALID, hc,
                  "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                  "'Local'");
    } else if (hc && (hc < 1 || hc > 65535)) {
        add_i(v, "healthCheckNodePort", E_INVALID, hc, MSG_PORT_RANGE);
    }
    const char *itp = jstr(spec, "internalTrafficPolicy");
    if (!itp &&
        (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer") || !strcmp(type, "ClusterIP")))
        add(v, "internalTrafficPolicy", E_REQUIRED, NULL, "");
    if (itp && !IN(itp, etps))
        NOTSUPP(v, "internalTrafficPolicy", itp, etps);
    const char *td = jstr(spec, "trafficDistribution");
    static const char *const tds[] = {"PreferClose"};
    if (td && strcmp(td, "PreferClose"))
        NOTSUPP(v, "trafficDistribution", td, tds);
    pop(v, m);
}

/* the service REST's patchAllocatedValues: values the allocator carries over on update */
static json_t *svc_patch_allocated(const json_t *svc, const json_t *old)
{
    json_t *c = json_deep_copy(svc);
    json_t *spec = json_object_get(c, "spec");
    const json_t *ospec = jobj(old, "spec");
    if (!json_is_object(spec) || !ospec)
        return c;
    const char *t = jstr0(spec, "type"), *ot = jstr0(ospec, "type");
    if (strcmp(t, "ExternalName") && strcmp(ot, "ExternalName")) {
        if (!*jstr0(spec, "clusterIP") && jget(ospec, "clusterIP"))
            json_object_set(spec, "clusterIP", (json_t *)jget(ospec, "clusterIP"));
        if (!jlen(jarr(spec, "clusterIPs")) && jlen(jarr(ospec, "clusterIPs")))
            json_object_set(spec, "clusterIPs", (json_t *)jget(ospec, "clusterIPs"));
    }
    bool nnp = !strcmp(t, "NodePort") || !strcmp(t, "LoadBalancer");
    bool onp = !strcmp(ot, "NodePort") || !strcmp(ot, "LoadBalancer");
    if (nnp && onp) {
        json_t *p;
        ARR_EACH(json_object_get(spec, "ports"), i, p)
        {
            long long np = 0;
            if (jint(p, "nodePort", &np) && np)
                continue;
            const json_t *op;
            ARR_EACH(jarr(ospec, "ports"), j, op)
            {
                if (strcmp(jstr0(op, "name"), jstr0(p, "name")))
                    continue;
                long long onpv = 0;
                jint(op, "nodePort", &onpv);
                bool used = false;
                const json_t *q;
                ARR_EACH(jarr(spec, "ports"), k, q)
                {
                    long long x = 0;
                    jint(q, "nodePort", &x);
                    used |= x && x == onpv;
                }
                if (!used && onpv)
                    json_object_set_new(p, "nodePort", json_integer(onpv));
                break;
            }
        }
    }
    if (svc_needs_hc(spec) && svc_needs_hc(ospec) && !jget(spec, "healthCheckNodePort") &&
        jget(ospec, "healthCheckNodePort"))
        json_object_set(spec, "healthCheckNodePort", (json_t *)jget(ospec, "healthCheckNodePort"));
    return c;
}

static void check_service(vctx_t *v, const k1s_resource_t *r, const json_t *svc, const json_t *old)
{
    if (!old) {
        meta_create(v, r, svc);
        check_service_spec(v, svc);
        return;
    }
    json_t *cur = svc_patch_allocated(svc, old);
    const json_t *spec = jobj(cur, "spec"), *ospec = jobj(old, "spec");
    meta_update(v, r, cur, old);
    const char *t = jstr0(spec, "type"), *ot = jstr0(ospec, "type");
    bool en = !strcmp(t, "ExternalName") || !strcmp(ot, "ExternalName");
    const json_t *ips = jarr(spec, "clusterIPs"), *oips = jarr(ospec, "clusterIPs");
    bool nh = svc_headless(spec), oh = svc_headless(ospec);
    size_t m = push(v, "spec");
    if (!en && !(nh && oh)) {
        size_t n = jlen(ips), on = jlen(oips);
        const char *first = n ? json_string_value(json_array_get(ips, 0)) : NULL;
        const char *ofirst = on ? json_string_value(json_array_get(oips, 0)) : NULL;
        if (n == on) {
            const json_t *x;
            ARR_EACH(oips, i, x)
            {
                const json_t *y = json_array_get(ips, i);
                if (!json_equal((json_t *)x, (json_t *)y)) {
                    size_t mi = push(v, "clusterIPs");
                    push_idx(v, i);
                    add_strings_value(v, NULL, ips, "may not change once set");
                    pop(v, mi);
                }
            }
        } else if (on > n) {
            if (n == 0)
                add_strings_value(v, "clusterIPs[0]", ips, "primary clusterIP can not be unset");
            if (n && first && ofirst && strcmp(first, ofirst))
                add_strings_value(v, "clusterIPs[0]", ips, "may not change once set");
            if (n == 1 && strcmp(jstr0(spec, "ipFamilyPolicy"), "SingleStack")) {
                const char *pol = jstr(spec, "ipFamilyPolicy");
                char *q = pol ? quoted(pol) : k1s_xstrdup("null");
                add(v, "ipFamilyPolicy", E_INVALID, q,
                    "must be set to 'SingleStack' when releasing the secondary clusterIP");
                free(q);
            }
        } else if (on && first && ofirst && strcmp(first, ofirst)) {
            add_strings_value(v, "clusterIPs[0]", ips, "may not change once set");
        }
    }
    if (!en && nh == oh && !nh) {
        const json_t *fams = jarr(spec, "ipFamilies"), *ofams = jarr(ospec, "ipFamilies");
        size_t n = jlen(fams), on = jlen(ofams);
        if (n == on) {
            const json_t *x;
            ARR_EACH(ofams, i, x)
            if (!json_equal((json_t *)x, json_array_get(fams, i)))
                add_strings_value(v, "ipFamilies[0]", fams, "may not change once set");
        } else if (on > n) {
            if (!jlen(ips))
                add_strings_value(v, "ipFamilies[0]", fams, "primary ipFamily can not be unset");
            if (n && !json_equal(json_array_get(fams, 0), json_array_get(ofams, 0)))
                add_strings_value(v, "ipFamilies[0]", ips, "may not change once set");
            if (n == 1 && strcmp(jstr0(spec, "ipFamilyPolicy"), "SingleStack")) {
                const char *pol = jstr(spec, "ipFamilyPolicy");
                char *q = pol ? quoted(pol) : k1s_xstrdup("null");
                add(v, "ipFamilyPolicy", E_INVALID, q,
                    "must be set to 'SingleStack' when releasing the secondary ipFamily");
                free(q);
            }
        } else if (on && n && !json_equal(json_array_get(fams, 0), json_array_get(ofams, 0))) {
            add_strings_value(v, "ipFamilies[0]", ips, "may not change once set");
        }
    }
    if (!strcmp(t, "LoadBalancer") && !strcmp(ot, "LoadBalancer")) {
        const char *c = jstr(spec, "loadBalancerClass"), *oc = jstr(ospec, "loadBalancerClass");
        if ((c == NULL) != (oc == NULL) || (c && strcmp(c, oc))) {
            char *q = c ? quoted(c) : k1s_xstrdup("null");
            add(v, "loadBalancerClass", E_INVALID, q, "may not change once set");
            free(q);
        }
    }
    if (svc_needs_hc(spec) && svc_needs_hc(ospec)) {
        long long a = 0, b = 0;
        jint(spec, "healthCheckNodePort", &a);
        jint(ospec, "healthCheckNodePort", &b);
        if (a != b)
            add(v, "healthCheckNodePort", E_FORBIDDEN, NULL, MSG_IMMUTABLE);
    }
    pop(v, m);
    meta_create(v, r, cur);
    check_service_spec(v, cur);
    json_decref(cur);
}

static void check_node_taints(vctx_t *v, const json_t *taints)
{
    static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute"};
    size_t m = push(v, "metadata");
    push(v, "taints");
    const json_t *t;
    ARR_EACH(taints, i, t)
    {
        size_t mi = push_idx(v, i);
        const char *key = jstr0(t, "key"), *val = jstr0(t, "value"), *eff = jstr0(t, "effect");
        check_fmt(v, "key", k1s_is_qualified_name, key);
        const char *msgs[K1S_VALIDATE_MAX_MSGS];
        int n = k1s_is_label_value(val, msgs);
        if (n) {
            k1s_buf_t b = K1S_BUF_INIT;
            for (int j = 0; j < n; j++) {
                if (j)
                    k1s_buf_putc(&b, ';');
                k1s_buf_puts(&b, msgs[j]);
            }
            add_s(v, "value", E_INVALID, val, b.data);
            k1s_buf_free(&b);
        }
        if (!*eff)
            add(v, "effect", E_REQUIRED, NULL, "");
        else if (!IN(eff, effects))
            NOTSUPP(v, "effect", eff, effects);
        const json_t *prev;
        bool dup = false;
        ARR_EACH(taints, j, prev)
        {
            if (j >= i)
                break;
            dup |= !strcmp(jstr0(prev, "key"), key) && !strcmp(jstr0(prev, "effect"), eff);
        }
        if (dup) {
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_puts(&b, "core.Taint{Key:");
            go_quote(&b, key);
            k1s_buf_puts(&b, ", Value:");
            go_quote(&b, val);
            k1s_buf_puts(&b, ", Effect:");
            go_quote(&b, eff);
            k1s_buf_puts(&b, jget(t, "timeAdded") ? ", TimeAdded:(*v1.Time)(0xc000000000)}"
                                                  : ", TimeAdded:(*v1.Time)(nil)}");
            add(v, NULL, E_DUPLICATE, b.data, "taints must be unique by key and effect pair");
            k1s_buf_free(&b);
        }
        pop(v, mi);
    }
    pop(v, m);
}

static void check_node_resources(vctx_t *v, const json_t *node)
{
    static const char *const lists[] = {"capacity", "allocatable"};
    for (size_t k = 0; k < 2; k++) {
        const char *name;
        const json_t *val;
        OBJ_EACH(jobj(jobj(node, "status"), lists[k]), name, val)
        {
            size_t m = push(v, "status");
            push(v, lists[k]);
            push(v, name);
            k1s_quantity_t q;
            if (get_qty(v, NULL, val, &q))
                check_quantity_value(v, name, &q);
            pop(v, m);
        }
    }
}

static void check_node(vctx_t *v, const k1s_resource_t *r, const json_t *node, const json_t *old)
{
    const json_t *spec = jobj(node, "spec");
    if (!old) {
        meta_create(v, r, node);
        if (jlen(jarr(spec, "taints")))
            check_node_taints(v, jarr(spec, "taints"));
        check_node_resources(v, node);
        const json_t *cidrs = jarr(spec, "podCIDRs"), *c;
        size_t m = push(v, "spec");
        push(v, "podCIDRs");
        int n4 = 0, n6 = 0;
        ARR_EACH(cidrs, i, c)
        {
            size_t mi = push_idx(v, i);
            const char *s = json_is_string(c) ? json_string_value(c) : "";
            check_cidr(v, NULL, s);
            if (strchr(s, ':'))
                n6++;
            else
                n4++;
            pop(v, mi);
        }
        if (jlen(cidrs) > 1) {
            if (!(n4 == 1 && n6 == 1))
                add_strings_value(v, NULL, cidrs,
                                  "may specify no more than one CIDR for each IP family");
            ARR_EACH(cidrs, i, c)
            {
                const json_t *prev;
                bool dup = false;
                ARR_EACH(cidrs, j, prev)
                {
                    if (j >= i)
                        break;
                    dup |= json_equal(prev, (json_t *)c);
                }
                if (dup) {
                    size_t mi = push_idx(v, i);
                    add_s(v, NULL, E_DUPLICATE, json_string_value(c), NULL);
                    pop(v, mi);
                }
            }
        }
        pop(v, m);
        return;
    }
    const json_t *ospec = jobj(old, "spec");
    meta_update(v, r, node, old);
    check_node_resources(v, node);
    const json_t *addrs = jarr(jobj(node, "status"), "addresses"), *a;
    ARR_EACH(addrs, i, a)
    {
        const json_t *prev;
        bool dup = false;
        ARR_EACH(addrs, j, prev)
        {
            if (j >= i)
                break;
            dup |= !strcmp(jstr0(prev, "type"), jstr0(a, "type")) &&
                   !strcmp(jstr0(prev, "address"), jstr0(a, "address"));
        }
        if (dup) {
            size_t m = push(v, "status");
            push(v, "addresses");
            push_idx(v, i);
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_puts(&b, "core.NodeAddress{Type:");
            go_quote(&b, jstr0(a, "type"));
            k1s_buf_puts(&b, ", Address:");
            go_quote(&b, jstr0(a, "address"));
            k1s_buf_putc(&b, '}');
            add(v, NULL, E_DUPLICATE, b.data, NULL);
            k1s_buf_free(&b);
            pop(v, m);
        }
    }
    const json_t *oc = jarr(ospec, "podCIDRs"), *nc = jarr(spec, "podCIDRs");
    if (jlen(oc)) {
        const char *msg = "node updates may not change podCIDR except from \"\" to valid";
        if (jlen(oc) != jlen(nc)) {
            add(v, "spec.podCIDRs", E_FORBIDDEN, NULL, msg);
        } else {
            const json_t *c;
            ARR_EACH(oc, i, c)
            if (!json_equal((json_t *)c, json_array_get(nc, i)))
                add(v, "spec.podCIDRs", E_FORBIDDEN, NULL, msg);
        }
    }
    const char *opid = jstr0(ospec, "providerID");
    if (*opid && strcmp(opid, jstr0(spec, "providerID")))
        add(v, "spec.providerID", E_FORBIDDEN, NULL,
            "node updates may not change providerID except from \"\" to valid");
    if (jlen(jarr(spec, "taints")))
        check_node_taints(v, jarr(spec, "taints"));
    if (strcmp(jstr0(spec, "externalID"), jstr0(ospec, "externalID")))
        add(v, "spec.externalID", E_FORBIDDEN, NULL, "may not be updated");
}

/* ValidatePersistentVolumeClaimSpec at the current path */
static void check_pvc_spec(vctx_t *v, const json_t *spec)
{
    static const char *const modes[] = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                        "ReadWriteOncePod"};
    static const char *const vmodes[] = {"Block", "Filesystem"};
    const json_t *am = jarr(spec, "accessModes"), *x;
    if (!jlen(am))
        add(v, "accessModes", E_REQUIRED, NULL, "at least 1 access mode is required");
    if (jobj(spec, "selector")) {
        size_t m = push(v, "selector");
        check_selector(v, jobj(spec, "selector"));
        pop(v, m);
    }
    bool rwop = false, other = false;
    ARR_EACH(am, i, x)
    {
        const char *mode = json_is_string(x) ? json_string_value(x) : "";
        if (!IN(mode, modes))
            NOTSUPP(v, "accessModes", mode, modes);
        if (!strcmp(mode, "ReadWriteOncePod"))
            rwop = true;
        else if (IN(mode, modes))
            other = true;
    }
    if (rwop && other)
        add(v, "accessModes", E_FORBIDDEN, NULL,
            "may not use ReadWriteOncePod with other access modes");
    const json_t *st = jget(jobj(jobj(spec, "resources"), "requests"), "storage");
    size_t m = push(v, "resources");
    push_key(v, "storage");
    k1s_quantity_t q;
    if (!st) {
        add(v, NULL, E_REQUIRED, NULL, "");
    } else if (get_qty(v, NULL, st, &q)) {
        if (k1s_quantity_sign(&q) <= 0) {
            char *s = k1s_quantity_string(&q);
            add_s(v, NULL, E_INVALID, s, "must be greater than zero");
            free(s);
        } else {
            check_quantity_value(v, "storage", &q);
        }
    }
    pop(v, m);
    const char *sc = jstr(spec, "storageClassName");
    if (sc && *sc)
        check_fmt(v, "storageClassName", k1s_is_dns1123_subdomain, sc);
    const char *vm = jstr(spec, "volumeMode");
    if (vm && !IN(vm, vmodes))
        NOTSUPP(v, "volumeMode", vm, vmodes);
    static const char *const refs[] = {"dataSource", "dataSourceRef"};
    for (size_t k = 0; k < 2; k++) {
        const json_t *ds = jobj(spec, refs[k]);
        if (!ds)
            continue;
        size_t md = push(v, refs[k]);
        if (!*jstr0(ds, "name"))
            add(v, "name", E_REQUIRED, NULL, "");
        if (!*jstr0(ds, "kind"))
            add(v, "kind", E_REQUIRED, NULL, "");
        const char *g = jstr0(ds, "apiGroup");
        if (!*g && strcmp(jstr0(ds, "kind"), "PersistentVolumeClaim"))
            add_s(v, NULL, E_INVALID, jstr0(ds, "kind"),
                  "must be 'PersistentVolumeClaim' when referencing the default apiGroup");
        if (*g)
            check_fmt(v, "apiGroup", k1s_is_dns1123_subdomain, g);
        pop(v, md);
    }
}

static void check_pvc(vctx_t *v, const k1s_resource_t *r, const json_t *pvc, const json_t *old)
{
    if (old)
        meta_update(v, r, pvc, old);
    meta_create(v, r, pvc);
    size_t m = push(v, "spec");
    check_pvc_spec(v, jobj(pvc, "spec"));
    pop(v, m);
    if (!old)
        return;
    json_t *ns = copy_or_empty(jobj(pvc, "spec"));
    json_t *os = copy_or_empty(jobj(old, "spec"));
    if (!*jstr0(os, "volumeName")) {
        if (jget(ns, "volumeName"))
            json_object_set(os, "volumeName", json_object_get(ns, "volumeName"));
        else
            json_object_del(os, "volumeName");
    }
    bool bound = !strcmp(jstr0(jobj(pvc, "status"), "phase"), "Bound");
    json_t *nreq = json_object_get(json_object_get(ns, "resources"), "requests");
    if (bound && json_is_object(nreq)) {
        const json_t *ost = jget(jobj(jobj(jobj(old, "spec"), "resources"), "requests"), "storage");
        if (ost)
            json_object_set(nreq, "storage", (json_t *)ost);
        else
            json_object_del(nreq, "storage");
    }
    if (!same(ns, os)) {
        char *diff = spec_diff("core.PersistentVolumeClaimSpec", os, ns);
        add_f(v, "spec", E_FORBIDDEN, NULL,
              "spec is immutable after creation except resources.requests and "
              "volumeAttributesClassName for bound claims\n%s",
              diff);
        free(diff);
    }
    json_decref(ns);
    json_decref(os);
    k1s_quantity_t a, b;
    const json_t *nst = jget(jobj(jobj(jobj(pvc, "spec"), "resources"), "requests"), "storage");
    const json_t *ost = jget(jobj(jobj(jobj(old, "spec"), "resources"), "requests"), "storage");
    if (nst && ost && k1s_quantity_from_json(nst, &a, NULL) == 0 &&
        k1s_quantity_from_json(ost, &b, NULL) == 0 && k1s_quantity_cmp(&a, &b) < 0)
        add(v, "spec.resources.requests.storage", E_FORBIDDEN, NULL,
            "field can not be less than previous value");
    const char *vm = jstr(jobj(pvc, "spec"), "volumeMode"),
               *ovm = jstr(jobj(old, "spec"), "volumeMode");
    if ((vm == NULL) != (ovm == NULL) || (vm && strcmp(vm, ovm))) {
        char *q = vm ? quoted(vm) : k1s_xstrdup("null");
        add(v, "volumeMode", E_INVALID, q, MSG_IMMUTABLE);
        free(q);
    }
}

static void check_pv(vctx_t *v, const k1s_resource_t *r, const json_t *pv, const json_t *old)
{
    if (old)
        meta_update(v, r, pv, old);
    meta_create(v, r, pv);
    const json_t *spec = jobj(pv, "spec"), *x;
    size_t m = push(v, "spec");
    static const char *const modes[] = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                        "ReadWriteOncePod"};
    const json_t *am = jarr(spec, "accessModes");
    if (!jlen(am))
        add(v, "accessModes", E_REQUIRED, NULL, "");
    bool rwop = false, other = false;
    ARR_EACH(am, i, x)
    {
        const char *mode = json_is_string(x) ? json_string_value(x) : "";
        if (!IN(mode, modes))
            NOTSUPP(v, "accessModes", mode, modes);
        if (!strcmp(mode, "ReadWriteOncePod"))
            rwop = true;
        else if (IN(mode, modes))
            other = true;
    }
    if (rwop && other)
        add(v, "accessModes", E_FORBIDDEN, NULL,
            "may not use ReadWriteOncePod with other access modes");
    const json_t *cap = jobj(spec, "capacity");
    if (!jlen(cap))
        add(v, "capacity", E_REQUIRED, NULL, "");
    if (!jget(cap, "storage") || jlen(cap) > 1) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "core.ResourceList{");
        const char *k;
        const json_t *val;
        size_t i = 0;
        OBJ_EACH(cap, k, val)
        {
            char *s = json_is_string(val) ? k1s_quantity_canonical(json_string_value(val)) : NULL;
            k1s_buf_printf(&b, "%s\"%s\":\"%s\"", i++ ? ", " : "", k, s ? s : "");
            free(s);
        }
        k1s_buf_putc(&b, '}');
        static const char *const st[] = {"storage"};
        k1s_buf_t d = K1S_BUF_INIT;
        k1s_buf_puts(&d, "supported values: \"storage\"");
        add(v, "capacity", E_NOTSUPPORTED, jlen(cap) ? b.data : "core.ResourceList(nil)", d.data);
        (void)st;
        k1s_buf_free(&b);
        k1s_buf_free(&d);
    }
    const char *k;
    const json_t *val;
    OBJ_EACH(cap, k, val)
    {
        size_t mc = push(v, "capacity");
        push_key(v, k);
        k1s_quantity_t q;
        if (get_qty(v, NULL, val, &q) && k1s_quantity_sign(&q) <= 0) {
            char *s = k1s_quantity_string(&q);
            if (k1s_quantity_sign(&q) < 0) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%lld", (long long)k1s_quantity_value(&q));
                add(v, NULL, E_INVALID, buf, "must be a valid resource quantity");
            }
            add_s(v, NULL, E_INVALID, s, "must be greater than zero");
            free(s);
        }
        pop(v, mc);
    }
    const char *rp = jstr(spec, "persistentVolumeReclaimPolicy");
    static const char *const rps[] = {"Delete", "Recycle", "Retain"};
    if (rp && *rp && !IN(rp, rps))
        NOTSUPP(v, "persistentVolumeReclaimPolicy", rp, rps);
    int types = 0;
    for (size_t t = 0; t < K1S_ARRAY_SIZE(volume_types); t++)
        if (jobj(spec, volume_types[t].key))
            types++;
    if (jobj(spec, "local"))
        types++;
    if (types == 0)
        add(v, NULL, E_REQUIRED, NULL, "must specify a volume type");
    const char *sc = jstr(spec, "storageClassName");
    if (sc && *sc)
        check_fmt(v, "storageClassName", k1s_is_dns1123_subdomain, sc);
    const char *vm = jstr(spec, "volumeMode");
    static const char *const vmodes[] = {"Block", "Filesystem"};
    if (vm && !IN(vm, vmodes))
        NOTSUPP(v, "volumeMode", vm, vmodes);
    pop(v, m);
}

/* ------------------------------------------------------------------------------------------ */
/* apps/v1                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void nonneg(vctx_t *v, const json_t *o, const char *key, const char *child)
{
    long long x;
    if (jint(o, key, &x) && x < 0)
        add_i(v, child ? child : key, E_INVALID, x, MSG_NOT_NEGATIVE);
}

/* the value of an IntOrString as getIntOrPercentValue computes it */
static long long intstr_value(const json_t *v, bool *percent)
{
    long long n = 0;
    *percent = false;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (is_percent(s)) {
            *percent = true;
            return strtoll(s, NULL, 10);
        }
        char *end;
        n = strtoll(s, &end, 10);
        return *s && !*end ? n : 0;
    }
    jnum(v, &n);
    return n;
}

/* ValidatePositiveIntOrPercent at child */
static void check_int_or_percent(vctx_t *v, const char *child, const json_t *val)
{
    long long n;
    if (json_is_string(val)) {
        if (!is_percent(json_string_value(val))) {
            k1s_buf_t b = K1S_BUF_INIT;
            go_intstr(&b, val);
            add(v, child, E_INVALID, b.data, MSG_PERCENT);
            k1s_buf_free(&b);
        }
    } else if (jnum(val, &n) && n < 0) {
        add_i(v, child, E_INVALID, n, MSG_NOT_NEGATIVE);
    }
}

static void check_not_over_100(vctx_t *v, const char *child, const json_t *val)
{
    bool pct;
    long long n = intstr_value(val, &pct);
    if (pct && n > 100) {
        k1s_buf_t b = K1S_BUF_INIT;
        go_intstr(&b, val);
        add(v, child, E_INVALID, b.data, "must not be greater than 100%");
        k1s_buf_free(&b);
    }
}

/* the selector and template checks shared by Deployments and ReplicaSets, at "spec" */
static void check_rs_like_spec(vctx_t *v, const json_t *spec, const char *owner)
{
    const json_t *sel = jobj(spec, "selector"), *tmpl = jobj(spec, "template");
    if (!sel) {
        add(v, "selector", E_REQUIRED, NULL, "");
    } else {
        size_t m = push(v, "selector");
        check_selector(v, sel);
        pop(v, m);
        if (jlen(jobj(sel, "matchLabels")) + jlen(jarr(sel, "matchExpressions")) == 0)
            add_selector_value(v, "selector", sel, "empty selector is invalid for deployment");
    }
    selkind_t kind = selector_kind(sel);
    if (kind == SEL_ERROR) {
        add_selector_value(v, "selector", sel, "invalid label selector");
        return;
    }
    size_t m = push(v, "template");
    const json_t *labels = jobj(jobj(tmpl, "metadata"), "labels");
    if (kind != SEL_EVERYTHING && !selector_matches(sel, labels))
        selector_mismatch(v, "metadata.labels", labels);
    check_pod_template(v, tmpl);
    const json_t *ts = jobj(tmpl, "spec");
    const char *rp = jstr0(ts, "restartPolicy");
    static const char *const always[] = {"Always"};
    if (strcmp(rp, "Always"))
        NOTSUPP(v, "spec.restartPolicy", rp, always);
    if (jget(ts, "activeDeadlineSeconds"))
        add_f(v, "spec.activeDeadlineSeconds", E_FORBIDDEN, NULL,
              "activeDeadlineSeconds in %s is not Supported", owner);
    pop(v, m);
}

static void immutable_selector(vctx_t *v, const json_t *spec, const json_t *ospec)
{
    const json_t *sel = jobj(spec, "selector"), *osel = jobj(ospec, "selector");
    if (!same(sel, osel) || (!sel) != (!osel)) {
        if (sel)
            add_selector_value(v, "spec.selector", sel, MSG_IMMUTABLE);
        else
            add(v, "spec.selector", E_INVALID, "null", MSG_IMMUTABLE);
    }
}

static void check_deployment(vctx_t *v, const k1s_resource_t *r, const json_t *d, const json_t *old)
{
    if (old)
        meta_update(v, r, d, old);
    else
        meta_create(v, r, d);
    const json_t *spec = jobj(d, "spec");
    size_t m = push(v, "spec");
    long long replicas = 0;
    jint(spec, "replicas", &replicas);
    if (replicas < 0)
        add_i(v, "replicas", E_INVALID, replicas, MSG_NOT_NEGATIVE);
    check_rs_like_spec(v, spec, "ReplicaSet");
    const json_t *st = jobj(spec, "strategy");
    const char *type = jstr0(st, "type");
    size_t ms = push(v, "strategy");
    const json_t *ru = jobj(st, "rollingUpdate");
    if (!strcmp(type, "Recreate")) {
        if (ru)
            add(v, "rollingUpdate", E_FORBIDDEN, NULL,
                "may not be specified when strategy `type` is 'Recreate'");
    } else if (!strcmp(type, "RollingUpdate")) {
        if (!ru) {
            add(v, "rollingUpdate", E_REQUIRED, NULL, "this should be defaulted and never be nil");
        } else {
            size_t mr = push(v, "rollingUpdate");
            const json_t *mu = jget(ru, "maxUnavailable"), *msu = jget(ru, "maxSurge");
            check_int_or_percent(v, "maxUnavailable", mu);
            check_int_or_percent(v, "maxSurge", msu);
            bool p1, p2;
            if (intstr_value(mu, &p1) == 0 && intstr_value(msu, &p2) == 0) {
                k1s_buf_t b = K1S_BUF_INIT;
                go_intstr(&b, mu);
                add(v, "maxUnavailable", E_INVALID, b.data, "may not be 0 when `maxSurge` is 0");
                k1s_buf_free(&b);
            }
            check_not_over_100(v, "maxUnavailable", mu);
            pop(v, mr);
        }
    } else {
        static const char *const types[] = {"Recreate", "RollingUpdate"};
        k1s_buf_t b = K1S_BUF_INIT, dt = K1S_BUF_INIT;
        k1s_buf_puts(&b, "apps.DeploymentStrategy{Type:");
        go_quote(&b, type);
        k1s_buf_puts(&b, ru ? ", RollingUpdate:(*apps.RollingUpdateDeployment)(0xc000000000)}"
                            : ", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}");
        k1s_buf_puts(&dt, "supported values: \"Recreate\", \"RollingUpdate\"");
        add(v, NULL, E_NOTSUPPORTED, b.data, dt.data);
        (void)types;
        k1s_buf_free(&b);
        k1s_buf_free(&dt);
    }
    pop(v, ms);
    nonneg(v, spec, "minReadySeconds", NULL);
    nonneg(v, spec, "revisionHistoryLimit", NULL);
    const json_t *rb = jobj(spec, "rollbackTo");
    if (rb)
        nonneg(v, rb, "revision", "rollback.version");
    long long pds, mrs = 0;
    if (jint(spec, "progressDeadlineSeconds", &pds)) {
        nonneg(v, spec, "progressDeadlineSeconds", NULL);
        jint(spec, "minReadySeconds", &mrs);
        if (pds <= mrs)
            add_i(v, "progressDeadlineSeconds", E_INVALID, pds,
                  "must be greater than minReadySeconds");
    }
    pop(v, m);
    if (old)
        immutable_selector(v, spec, jobj(old, "spec"));
}

static void check_replicaset(vctx_t *v, const k1s_resource_t *r, const json_t *rs,
                             const json_t *old)
{
    if (old)
        meta_update(v, r, rs, old);
    else
        meta_create(v, r, rs);
    const json_t *spec = jobj(rs, "spec");
    size_t m = push(v, "spec");
    long long replicas = 0;
    jint(spec, "replicas", &replicas);
    if (replicas < 0)
        add_i(v, "replicas", E_INVALID, replicas, MSG_NOT_NEGATIVE);
    nonneg(v, spec, "minReadySeconds", NULL);
    check_rs_like_spec(v, spec, "ReplicaSet");
    pop(v, m);
    if (old)
        immutable_selector(v, spec, jobj(old, "spec"));
}

static void check_statefulset_spec(vctx_t *v, const json_t *spec, bool update)
{
    size_t m = push(v, "spec");
    const char *pmp = jstr0(spec, "podManagementPolicy");
    if (!*pmp)
        add(v, "podManagementPolicy", E_REQUIRED, NULL, "");
    else if (strcmp(pmp, "OrderedReady") && strcmp(pmp, "Parallel"))
        add_s(v, "podManagementPolicy", E_INVALID, pmp, "must be 'OrderedReady' or 'Parallel'");
    const json_t *us = jobj(spec, "updateStrategy"), *ru = jobj(us, "rollingUpdate");
    const char *ut = jstr0(us, "type");
    if (!*ut) {
        add(v, "updateStrategy", E_REQUIRED, NULL, "");
    } else if (!strcmp(ut, "OnDelete")) {
        if (ru) {
            long long part = 0;
            jint(ru, "partition", &part);
            char *val = k1s_xasprintf("apps.RollingUpdateStatefulSetStrategy{Partition:%lld, "
                                      "MaxUnavailable:(*intstr.IntOrString)(%s)}",
                                      part, jget(ru, "maxUnavailable") ? "0xc000000000" : "nil");
            add(v, "updateStrategy.rollingUpdate", E_INVALID, val,
                "only allowed for updateStrategy 'RollingUpdate'");
            free(val);
        }
    } else if (!strcmp(ut, "RollingUpdate")) {
        if (ru) {
            size_t mr = push(v, "updateStrategy");
            push(v, "rollingUpdate");
            nonneg(v, ru, "partition", NULL);
            const json_t *mu = jget(ru, "maxUnavailable");
            if (mu) {
                check_int_or_percent(v, "maxUnavailable", mu);
                bool pct;
                if (intstr_value(mu, &pct) == 0) {
                    k1s_buf_t b = K1S_BUF_INIT;
                    go_intstr(&b, mu);
                    add(v, "maxUnavailable", E_INVALID, b.data, "cannot be 0");
                    k1s_buf_free(&b);
                }
                check_not_over_100(v, "maxUnavailable", mu);
            }
            pop(v, mr);
        }
    } else {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "apps.StatefulSetUpdateStrategy{Type:");
        go_quote(&b, ut);
        k1s_buf_puts(&b,
                     ru ? ", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(0xc000000000)}"
                        : ", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}");
        add(v, "updateStrategy", E_INVALID, b.data, "must be 'RollingUpdate' or 'OnDelete'");
        k1s_buf_free(&b);
    }
    const json_t *pol = jobj(spec, "persistentVolumeClaimRetentionPolicy");
    if (pol) {
        static const char *const kinds[] = {"whenDeleted", "whenScaled"};
        static const char *const vals[] = {"Retain", "Delete"};
        size_t mp = push(v, "persistentVolumeClaimRetentionPolicy");
        for (size_t k = 0; k < 2; k++) {
            const char *x = jstr0(pol, kinds[k]);
            if (!IN(x, vals))
                NOTSUPP(v, kinds[k], x, vals);
        }
        pop(v, mp);
    }
    const json_t *vct = jarr(spec, "volumeClaimTemplates"), *t;
    if (!update) {
        size_t mv = push(v, "volumeClaimTemplates");
        ARR_EACH(vct, i, t)
        {
            size_t mi = push_idx(v, i);
            push(v, "spec");
            check_pvc_spec(v, jobj(t, "spec"));
            pop(v, mi);
        }
        pop(v, mv);
    }
    long long replicas = 0;
    jint(spec, "replicas", &replicas);
    if (replicas < 0)
        add_i(v, "replicas", E_INVALID, replicas, MSG_NOT_NEGATIVE);
    nonneg(v, spec, "minReadySeconds", NULL);
    nonneg(v, jobj(spec, "ordinals"), "start", "ordinals.start");
    const char *sn = jstr0(spec, "serviceName");
    if (!update && *sn)
        check_fmt(v, "serviceName", k1s_is_dns1123_label, sn);
    const json_t *sel = jobj(spec, "selector");
    if (!sel) {
        add(v, "selector", E_REQUIRED, NULL, "");
    } else {
        size_t ms = push(v, "selector");
        check_selector(v, sel);
        pop(v, ms);
        if (jlen(jobj(sel, "matchLabels")) + jlen(jarr(sel, "matchExpressions")) == 0)
            add_selector_value(v, "selector", sel, "empty selector is invalid for statefulset");
    }
    selkind_t kind = selector_kind(sel);
    const json_t *tmpl = jobj(spec, "template");
    if (kind == SEL_ERROR) {
        add_selector_value(v, "selector", sel, "");
    } else {
        size_t mt = push(v, "template");
        const json_t *labels = jobj(jobj(tmpl, "metadata"), "labels");
        if (kind != SEL_EVERYTHING && !selector_matches(sel, labels))
            selector_mismatch(v, "metadata.labels", labels);
        /* the controller sets hostname and subdomain and adds the claim templates as volumes */
        json_t *copy = copy_or_empty(tmpl);
        json_t *cs = json_object_get(copy, "spec");
        if (json_is_object(cs)) {
            json_object_del(cs, "hostname");
            json_object_del(cs, "subdomain");
            if (jlen(vct)) {
                json_t *vols = json_array();
                ARR_EACH(vct, i, t)
                json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name",
                                                      jstr0(jobj(t, "metadata"), "name"),
                                                      "persistentVolumeClaim", "claimName",
                                                      jstr0(jobj(t, "metadata"), "name")));
                const json_t *vol;
                ARR_EACH(jarr(cs, "volumes"), i, vol)
                {
                    bool templ = false;
                    ARR_EACH(vct, j, t)
                    templ |= !strcmp(jstr0(jobj(t, "metadata"), "name"), jstr0(vol, "name"));
                    if (!templ)
                        json_array_append(vols, (json_t *)vol);
                }
                json_object_set_new(cs, "volumes", vols);
            }
        }
        check_pod_template(v, copy);
        json_decref(copy);
        check_labels(v, "labels", labels);
        check_annotations(v, "annotations", jobj(jobj(tmpl, "metadata"), "annotations"));
        size_t ma = push(v, "annotations");
        check_pod_annotations(v, jobj(jobj(tmpl, "metadata"), "annotations"), jobj(tmpl, "spec"));
        pop(v, ma);
        pop(v, mt);
    }
    const json_t *ts = jobj(tmpl, "spec");
    const char *rp = jstr0(ts, "restartPolicy");
    static const char *const always[] = {"Always"};
    if (strcmp(rp, "Always"))
        NOTSUPP(v, "template.spec.restartPolicy", rp, always);
    if (jget(ts, "activeDeadlineSeconds"))
        add(v, "template.spec.activeDeadlineSeconds", E_FORBIDDEN, NULL,
            "activeDeadlineSeconds in StatefulSet is not Supported");
    pop(v, m);
}

static void check_statefulset(vctx_t *v, const k1s_resource_t *r, const json_t *ss,
                              const json_t *old)
{
    if (!old) {
        meta_create(v, r, ss);
        check_statefulset_spec(v, jobj(ss, "spec"), false);
        return;
    }
    meta_update(v, r, ss, old);
    check_statefulset_spec(v, jobj(ss, "spec"), true);
    json_t *a = copy_or_empty(jobj(ss, "spec"));
    json_t *b = copy_or_empty(jobj(old, "spec"));
    static const char *const mutable_fields[] = {"replicas",
                                                 "ordinals",
                                                 "template",
                                                 "updateStrategy",
                                                 "persistentVolumeClaimRetentionPolicy",
                                                 "minReadySeconds"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(mutable_fields); i++) {
        json_object_del(a, mutable_fields[i]);
        json_object_del(b, mutable_fields[i]);
    }
    if (!same(a, b))
        add(v, "spec", E_FORBIDDEN, NULL,
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
            "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
            "forbidden");
    json_decref(a);
    json_decref(b);
}

static void check_daemonset(vctx_t *v, const k1s_resource_t *r, const json_t *ds, const json_t *old)
{
    const json_t *spec = jobj(ds, "spec");
    if (old) {
        meta_update(v, r, ds, old);
        immutable_selector(v, spec, jobj(old, "spec"));
    } else {
        meta_create(v, r, ds);
    }
    size_t m = push(v, "spec");
    const json_t *sel = jobj(spec, "selector"), *tmpl = jobj(spec, "template");
    size_t ms = push(v, "selector");
    check_selector(v, sel);
    pop(v, ms);
    const json_t *labels = jobj(jobj(tmpl, "metadata"), "labels");
    if (selector_kind(sel) != SEL_ERROR && !selector_matches(sel, labels))
        selector_mismatch(v, "template.metadata.labels", labels);
    if (sel && jlen(jobj(sel, "matchLabels")) + jlen(jarr(sel, "matchExpressions")) == 0)
        add_selector_value(v, "selector", sel, "empty selector is invalid for daemonset");
    size_t mt = push(v, "template");
    check_pod_template(v, tmpl);
    pop(v, mt);
    const json_t *ts = jobj(tmpl, "spec");
    const char *rp = jstr0(ts, "restartPolicy");
    static const char *const always[] = {"Always"};
    if (strcmp(rp, "Always"))
        NOTSUPP(v, "template.spec.restartPolicy", rp, always);
    if (jget(ts, "activeDeadlineSeconds"))
        add(v, "template.spec.activeDeadlineSeconds", E_FORBIDDEN, NULL,
            "activeDeadlineSeconds in DaemonSet is not Supported");
    nonneg(v, spec, "minReadySeconds", NULL);
    nonneg(v, spec, "templateGeneration", NULL);
    const json_t *us = jobj(spec, "updateStrategy"), *ru = jobj(us, "rollingUpdate");
    const char *ut = jstr0(us, "type");
    size_t mu = push(v, "updateStrategy");
    if (!strcmp(ut, "RollingUpdate")) {
        if (!ru) {
            add(v, "rollingUpdate", E_REQUIRED, NULL, "");
        } else {
            size_t mr = push(v, "rollingUpdate");
            const json_t *u = jget(ru, "maxUnavailable"), *s = jget(ru, "maxSurge");
            check_int_or_percent(v, "maxUnavailable", u);
            check_int_or_percent(v, "maxSurge", s);
            check_not_over_100(v, "maxUnavailable", u);
            check_not_over_100(v, "maxSurge", s);
            bool p;
            bool hu = intstr_value(u, &p) != 0, hs = intstr_value(s, &p) != 0;
            if (hu && hs) {
                k1s_buf_t b = K1S_BUF_INIT;
                go_intstr(&b, s);
                add(v, "maxSurge", E_INVALID, b.data,
                    "may not be set when maxUnavailable is non-zero");
                k1s_buf_free(&b);
            } else if (!hu && !hs) {
                add(v, "maxUnavailable", E_REQUIRED, NULL, "cannot be 0 when maxSurge is 0");
            }
            pop(v, mr);
        }
    } else if (strcmp(ut, "OnDelete")) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "apps.DaemonSetUpdateStrategy{Type:");
        go_quote(&b, ut);
        k1s_buf_puts(&b, ru ? ", RollingUpdate:(*apps.RollingUpdateDaemonSet)(0xc000000000)}"
                            : ", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}");
        add(v, NULL, E_NOTSUPPORTED, b.data, "supported values: \"RollingUpdate\", \"OnDelete\"");
        k1s_buf_free(&b);
    }
    pop(v, mu);
    nonneg(v, spec, "revisionHistoryLimit", NULL);
    pop(v, m);
}

/* ------------------------------------------------------------------------------------------ */
/* batch/v1                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* validateJobSpec at the current path (a Job's or a CronJob's jobTemplate's "spec") */
static void check_job_spec_common(vctx_t *v, const json_t *spec)
{
    static const char *const nn[] = {"parallelism",
                                     "completions",
                                     "activeDeadlineSeconds",
                                     "backoffLimit",
                                     "ttlSecondsAfterFinished",
                                     "backoffLimitPerIndex"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(nn); i++)
        nonneg(v, spec, nn[i], NULL);
    long long mfi = 0, par = 0, comp = 0;
    bool has_mfi = jint(spec, "maxFailedIndexes", &mfi);
    bool has_bli = jget(spec, "backoffLimitPerIndex") != NULL;
    if (has_mfi) {
        nonneg(v, spec, "maxFailedIndexes", NULL);
        if (!has_bli)
            add(v, "backoffLimitPerIndex", E_REQUIRED, NULL, "when maxFailedIndexes is specified");
    }
    const char *mb = jstr(spec, "managedBy");
    if (mb) {
        const char *slash = strchr(mb, '/');
        if (!*mb) {
            add(v, "managedBy", E_REQUIRED, NULL, "");
        } else if (!slash || slash == mb || !slash[1]) {
            add_s(v, "managedBy", E_INVALID, mb,
                  "must be a domain-prefixed path (such as \"acme.io/foo\")");
        } else {
            char *host = k1s_xstrndup(mb, (size_t)(slash - mb));
            check_fmt(v, "managedBy", k1s_is_dns1123_subdomain, host);
            free(host);
        }
        if (strlen(mb) > 63)
            add_toolong(v, "managedBy", 63);
    }
    const char *cm = jstr(spec, "completionMode");
    bool has_par = jint(spec, "parallelism", &par), has_comp = jint(spec, "completions", &comp);
    if (cm) {
        static const char *const modes[] = {"NonIndexed", "Indexed"};
        if (!IN(cm, modes))
            NOTSUPP(v, "completionMode", cm, modes);
        if (!strcmp(cm, "Indexed")) {
            if (!has_comp)
                add(v, "completions", E_REQUIRED, NULL, "when completion mode is Indexed");
            if (has_par && par > 100000)
                add_i(v, "parallelism", E_INVALID, par,
                      "must be less than or equal to 100000 when completion mode is Indexed");
            if (has_comp && has_mfi && mfi > comp)
                add_i(v, "maxFailedIndexes", E_INVALID, mfi,
                      "must be less than or equal to completions");
            if (has_mfi && mfi > 100000)
                add_i(v, "maxFailedIndexes", E_INVALID, mfi,
                      "must be less than or equal to 100000");
        }
    }
    if (!cm || !strcmp(cm, "NonIndexed")) {
        long long b;
        if (jint(spec, "backoffLimitPerIndex", &b))
            add_i(v, "backoffLimitPerIndex", E_INVALID, b, "requires indexed completion mode");
        if (has_mfi)
            add_i(v, "maxFailedIndexes", E_INVALID, mfi, "requires indexed completion mode");
    }
    bool pfp = jobj(spec, "podFailurePolicy") != NULL;
    const char *prp = jstr(spec, "podReplacementPolicy");
    if (prp) {
        if (pfp) {
            static const char *const failed[] = {"Failed"};
            if (strcmp(prp, "Failed"))
                NOTSUPP(v, "podReplacementPolicy", prp, failed);
        } else {
            static const char *const prps[] = {"Failed", "TerminatingOrFailed"};
            if (!IN(prp, prps))
                NOTSUPP(v, "podReplacementPolicy", prp, prps);
        }
    }
    size_t m = push(v, "template");
    check_pod_template(v, jobj(spec, "template"));
    pop(v, m);
    const char *rp = jstr0(jobj(jobj(spec, "template"), "spec"), "restartPolicy");
    if (!*rp || !strcmp(rp, "Always")) {
        add(v, "template.spec.restartPolicy", E_REQUIRED, NULL,
            "valid values: \"OnFailure\", \"Never\"");
    } else if (strcmp(rp, "OnFailure") && strcmp(rp, "Never")) {
        static const char *const rps[] = {"OnFailure", "Never"};
        NOTSUPP(v, "template.spec.restartPolicy", rp, rps);
    } else if (pfp && strcmp(rp, "Never")) {
        add_s(v, "template.spec.restartPolicy", E_INVALID, rp,
              "only \"Never\" is supported when podFailurePolicy is specified");
    }
}

/* ValidateJobSpec at "spec" */
static void check_job_spec(vctx_t *v, const json_t *spec)
{
    size_t m = push(v, "spec");
    check_job_spec_common(v, spec);
    const json_t *sel = jobj(spec, "selector");
    if (!sel) {
        add(v, "selector", E_REQUIRED, NULL, "");
    } else {
        size_t ms = push(v, "selector");
        check_selector(v, sel);
        pop(v, ms);
    }
    const json_t *labels = jobj(jobj(jobj(spec, "template"), "metadata"), "labels");
    if (selector_kind(sel) != SEL_ERROR && !selector_matches(sel, labels))
        selector_mismatch(v, "template.metadata.labels", labels);
    pop(v, m);
}

static void has_label(vctx_t *v, const json_t *tmeta, const char *key, const char *want)
{
    const json_t *labels = jobj(tmeta, "labels");
    const char *have = jstr(labels, key);
    size_t m = push(v, "spec");
    push(v, "template");
    push(v, "metadata");
    push(v, "labels");
    push_key(v, key);
    char *d = k1s_xasprintf("must be '%s'", want);
    if (!have) {
        add(v, NULL, E_REQUIRED, NULL, d);
    } else if (strcmp(have, want)) {
        k1s_buf_t b = K1S_BUF_INIT;
        go_map(&b, labels);
        add(v, NULL, E_INVALID, b.data, d);
        k1s_buf_free(&b);
    }
    free(d);
    pop(v, m);
}

static void check_job(vctx_t *v, const k1s_resource_t *r, const json_t *job, const json_t *old)
{
    const json_t *spec = jobj(job, "spec"), *meta = jobj(job, "metadata");
    const char *name = jstr0(meta, "name"), *uid = jstr0(meta, "uid");
    meta_create(v, r, job);
    /* validateGeneratedSelector */
    if (!jtrue(spec, "manualSelector") && jobj(spec, "selector")) {
        if (!*uid)
            add(v, "metadata.uid", E_REQUIRED, NULL, "");
        const json_t *tmeta = jobj(jobj(spec, "template"), "metadata");
        has_label(v, tmeta, "controller-uid", uid);
        has_label(v, tmeta, "job-name", name);
        bool prefixed = true;
        if (old) {
            const json_t *ol =
                jobj(jobj(jobj(jobj(old, "spec"), "template"), "metadata"), "labels");
            prefixed = jget(ol, "batch.kubernetes.io/job-name") &&
                       jget(ol, "batch.kubernetes.io/controller-uid");
        }
        json_t *expected = json_pack("{s:s, s:s}", "controller-uid", uid, "job-name", name);
        if (prefixed) {
            has_label(v, tmeta, "batch.kubernetes.io/controller-uid", uid);
            has_label(v, tmeta, "batch.kubernetes.io/job-name", name);
            json_object_set_new(expected, "batch.kubernetes.io/controller-uid", json_string(uid));
            json_object_set_new(expected, "batch.kubernetes.io/job-name", json_string(name));
        }
        const json_t *sel = jobj(spec, "selector");
        if (selector_kind(sel) != SEL_ERROR && !selector_matches(sel, expected))
            add_selector_value(v, "spec.selector", sel, "`selector` not auto-generated");
        json_decref(expected);
    }
    check_job_spec(v, spec);
    long long comp;
    if (!strcmp(jstr0(spec, "completionMode"), "Indexed") && jint(spec, "completions", &comp) &&
        comp > 0) {
        char *host = k1s_xasprintf("%s-%lld", name, comp - 1);
        const char *msgs[K1S_VALIDATE_MAX_MSGS];
        if (k1s_is_dns1123_label(host, msgs)) {
            char *d = k1s_xasprintf("will not able to create pod with invalid DNS label: %s", host);
            add_s(v, "metadata.name", E_INVALID, name, d);
            free(d);
        }
        free(host);
    }
    if (!old)
        return;
    const json_t *ospec = jobj(old, "spec");
    meta_update(v, r, job, old);
    check_job_spec(v, spec);
    size_t m = push(v, "spec");
    const json_t *c = jget(spec, "completions"), *oc = jget(ospec, "completions");
    if (strcmp(jstr0(spec, "completionMode"), "Indexed")) {
        if (!same(c, oc) || (!c) != (!oc)) {
            long long n;
            if (jnum(c, &n))
                add_i(v, "completions", E_INVALID, n, MSG_IMMUTABLE);
            else
                add(v, "completions", E_INVALID, "null", MSG_IMMUTABLE);
        }
    } else if (c && !same(c, oc)) {
        long long n = 0, p = 0;
        jnum(c, &n);
        jint(spec, "parallelism", &p);
        if (n != p)
            add_i(v, "completions", E_INVALID, n,
                  "can only be modified in tandem with spec.parallelism");
    }
    pop(v, m);
    immutable_selector(v, spec, ospec);
    /* the template is immutable, but for scheduling directives of never-started suspended jobs */
    json_t *nt = copy_or_empty(jobj(spec, "template"));
    json_t *ot = copy_or_empty(jobj(ospec, "template"));
    if (jtrue(ospec, "suspend") && !jget(jobj(old, "status"), "startTime")) {
        json_t *ns = json_object_get(nt, "spec"), *os = json_object_get(ot, "spec");
        static const char *const keys[] = {"nodeSelector", "tolerations", "schedulingGates"};
        for (size_t i = 0; json_is_object(ns) && json_is_object(os) && i < K1S_ARRAY_SIZE(keys);
             i++) {
            json_object_del(ns, keys[i]);
            json_object_del(os, keys[i]);
        }
        if (json_is_object(ns) && json_is_object(os)) {
            json_object_del(json_object_get(ns, "affinity"), "nodeAffinity");
            json_object_del(json_object_get(os, "affinity"), "nodeAffinity");
        }
        json_t *nm = json_object_get(nt, "metadata"), *om = json_object_get(ot, "metadata");
        json_object_del(nm, "labels");
        json_object_del(nm, "annotations");
        json_object_del(om, "labels");
        json_object_del(om, "annotations");
    }
    if (!same(nt, ot))
        add(v, "spec.template", E_INVALID, "core.PodTemplateSpec{...}", MSG_IMMUTABLE);
    json_decref(nt);
    json_decref(ot);
    static const char *const imm[] = {"completionMode", "podFailurePolicy", "backoffLimitPerIndex",
                                      "managedBy", "successPolicy"};
    m = push(v, "spec");
    for (size_t i = 0; i < K1S_ARRAY_SIZE(imm); i++) {
        const json_t *a = jget(spec, imm[i]), *b = jget(ospec, imm[i]);
        if (same(a, b) && (!a) == (!b))
            continue;
        long long n;
        if (json_is_string(a))
            add_s(v, imm[i], E_INVALID, json_string_value(a), MSG_IMMUTABLE);
        else if (jnum(a, &n))
            add_i(v, imm[i], E_INVALID, n, MSG_IMMUTABLE);
        else
            add(v, imm[i], E_INVALID, a ? "{...}" : "null", MSG_IMMUTABLE);
    }
    pop(v, m);
}

/* robfig/cron's parser (cron.ParseStandard), for its error messages */
static const char *const cron_months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const cron_days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static char *cron_int(const char *expr, long *out, const char *const *names, size_t nnames,
                      long name_base)
{
    for (size_t i = 0; names && i < nnames; i++) {
        if (!strcasecmp(expr, names[i])) {
            *out = (long)i + name_base;
            return NULL;
        }
    }
    const char *p = expr;
    if (*p == '+' || *p == '-')
        p++;
    bool digits = *p != 0;
    for (const char *c = p; *c; c++)
        digits &= isdigit((unsigned char)*c) != 0;
    if (!digits)
        return k1s_xasprintf(
            "failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax", expr,
            expr);
    long n = strtol(expr, NULL, 10);
    if (n < 0)
        return k1s_xasprintf("negative number (%ld) not allowed: %s", n, expr);
    *out = n;
    return NULL;
}

static char *cron_range(const char *expr, long min, long max, const char *const *names,
                        size_t nnames, long name_base)
{
    char *dup = k1s_xstrdup(expr);
    char *slash = strchr(dup, '/');
    char *err = NULL;
    if (slash && strchr(slash + 1, '/')) {
        err = k1s_xasprintf("too many slashes: %s", expr);
        goto out;
    }
    if (slash)
        *slash = 0;
    long start, end, step = 1;
    char *hy = strchr(dup, '-');
    bool single = hy == NULL;
    if (!strcmp(dup, "*") || !strcmp(dup, "?")) {
        start = min;
        end = max;
    } else {
        if (hy)
            *hy = 0;
        if ((err = cron_int(dup, &start, names, nnames, name_base)))
            goto out;
        if (!hy) {
            end = start;
        } else if (strchr(hy + 1, '-')) {
            err = k1s_xasprintf("too many hyphens: %s", expr);
            goto out;
        } else if ((err = cron_int(hy + 1, &end, names, nnames, name_base))) {
            goto out;
        }
    }
    if (slash) {
        if ((err = cron_int(slash + 1, &step, NULL, 0, 0)))
            goto out;
        if (single)
            end = max;
    }
    if (start < min)
        err = k1s_xasprintf("beginning of range (%ld) below minimum (%ld): %s", start, min, expr);
    else if (end > max)
        err = k1s_xasprintf("end of range (%ld) above maximum (%ld): %s", end, max, expr);
    else if (start > end)
        err = k1s_xasprintf("beginning of range (%ld) beyond end of range (%ld): %s", start, end,
                            expr);
    else if (step == 0)
        err = k1s_xasprintf("step of range should be a positive number: %s", expr);
out:
    free(dup);
    return err;
}

/* Returns NULL if the schedule parses, else robfig/cron's error message (new string). */
static char *cron_parse(const char *spec)
{
    while (isspace((unsigned char)*spec))
        spec++;
    if (!*spec)
        return k1s_xstrdup("empty spec string");
    if (k1s_str_has_prefix(spec, "TZ=") || k1s_str_has_prefix(spec, "CRON_TZ=")) {
        const char *eq = strchr(spec, '=') + 1;
        size_t n = strcspn(eq, " \t");
        char *tz = k1s_xstrndup(eq, n);
        char *p = k1s_xasprintf("/usr/share/zoneinfo/%s", tz);
        struct stat st;
        bool ok = !strcmp(tz, "UTC") || (stat(p, &st) == 0 && S_ISREG(st.st_mode));
        free(p);
        if (!ok) {
            char *e = k1s_xasprintf("provided bad location %s: unknown time zone %s", tz, tz);
            free(tz);
            return e;
        }
        free(tz);
        spec = eq + n;
        while (isspace((unsigned char)*spec))
            spec++;
    }
    if (spec[0] == '@') {
        static const char *const desc[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                           "@daily",  "@midnight", "@hourly"};
        if (IN(spec, desc))
            return NULL;
        if (k1s_str_has_prefix(spec, "@every ")) {
            const char *d = spec + 7;
            /* a Go duration: one or more <number><unit> */
            const char *p = d;
            bool ok = *p != 0;
            while (ok && *p) {
                const char *s = p;
                while (isdigit((unsigned char)*p) || *p == '.')
                    p++;
                if (p == s) {
                    ok = false;
                    break;
                }
                static const char *const units[] = {"ns", "us", "µs", "ms", "s", "m", "h"};
                bool unit = false;
                for (size_t i = 0; i < K1S_ARRAY_SIZE(units) && !unit; i++) {
                    size_t n = strlen(units[i]);
                    if (!strncmp(p, units[i], n) && (units[i][n - 1] != 'm' || p[1] != 's')) {
                        p += n;
                        unit = true;
                    }
                }
                ok = unit;
            }
            if (ok)
                return NULL;
            return k1s_xasprintf("failed to parse duration %s: time: invalid duration \"%s\"", spec,
                                 d);
        }
        return k1s_xasprintf("unrecognized descriptor: %s", spec);
    }
    char *copy = k1s_xstrdup(spec), *save = NULL;
    char *fields[64];
    int n = 0;
    for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
        if (n < 64)
            fields[n++] = t;
    char *err = NULL;
    if (n != 5) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_printf(&b, "expected exactly 5 fields, found %d: [", n);
        for (int i = 0; i < n; i++)
            k1s_buf_printf(&b, "%s%s", i ? " " : "", fields[i]);
        k1s_buf_putc(&b, ']');
        free(copy);
        return k1s_buf_steal(&b);
    }
    static const long mins[] = {0, 0, 1, 1, 0}, maxs[] = {59, 23, 31, 12, 6};
    for (int i = 0; i < 5 && !err; i++) {
        char *save2 = NULL;
        for (char *part = strtok_r(fields[i], ",", &save2); part && !err;
             part = strtok_r(NULL, ",", &save2))
            err = cron_range(part, mins[i], maxs[i],
                             i == 3   ? cron_months
                             : i == 4 ? cron_days
                                      : NULL,
                             i == 3   ? 12
                             : i == 4 ? 7
                                      : 0,
                             i == 3 ? 1 : 0);
    }
    free(copy);
    return err;
}

static void check_cronjob(vctx_t *v, const k1s_resource_t *r, const json_t *cj, const json_t *old)
{
    const json_t *spec = jobj(cj, "spec"), *ospec = old ? jobj(old, "spec") : NULL;
    if (old)
        meta_update(v, r, cj, old);
    else
        meta_create(v, r, cj);
    size_t m = push(v, "spec");
    const char *sched = jstr0(spec, "schedule");
    if (!*sched) {
        add(v, "schedule", E_REQUIRED, NULL, "");
    } else {
        bool allow_tz = ospec && strstr(jstr0(ospec, "schedule"), "TZ");
        char *err = cron_parse(sched);
        if (err) {
            add_s(v, "schedule", E_INVALID, sched, err);
            free(err);
        }
        if (allow_tz && strstr(sched, "TZ") && jget(spec, "timeZone"))
            add_s(v, "schedule", E_INVALID, sched,
                  "cannot use both timeZone field and TZ or CRON_TZ in schedule");
        else if (!allow_tz && strstr(sched, "TZ"))
            add_s(v, "schedule", E_INVALID, sched,
                  "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
    }
    nonneg(v, spec, "startingDeadlineSeconds", NULL);
    const char *tz = jstr(spec, "timeZone");
    const char *otz = ospec ? jstr(ospec, "timeZone") : NULL;
    if (tz && (!ospec || !otz || strcmp(tz, otz))) {
        if (!*tz) {
            add_s(v, "timeZone", E_INVALID, tz, "timeZone must be nil or non-empty string");
        } else {
            bool bad = false;
            char *copy = k1s_xstrdup(tz), *save = NULL;
            bool empty_part = strstr(tz, "//") || tz[0] == '/' || tz[strlen(tz) - 1] == '/';
            for (char *part = strtok_r(copy, "/", &save); part && !bad;
                 part = strtok_r(NULL, "/", &save)) {
                size_t n = strlen(part);
                bool chars = n >= 1 && n <= 14;
                for (size_t i = 0; i < n; i++)
                    chars &= isalnum((unsigned char)part[i]) || strchr(".-_+", part[i]);
                bad = !strcmp(part, ".") || !strcmp(part, "..") || part[0] == '-' || !chars;
            }
            free(copy);
            if (bad || empty_part) {
                char *d = k1s_xasprintf("unknown time zone %s", tz);
                add_s(v, "timeZone", E_INVALID, tz, d);
                free(d);
            } else {
                if (!strcasecmp(tz, "Local"))
                    add_s(v, "timeZone", E_INVALID, tz,
                          "timeZone must be an explicit time zone as defined in "
                          "https://www.iana.org/time-zones");
                char *p = k1s_xasprintf("/usr/share/zoneinfo/%s", tz);
                struct stat st;
                if (strcmp(tz, "UTC") && strcasecmp(tz, "Local") &&
                    !(stat(p, &st) == 0 && S_ISREG(st.st_mode))) {
                    char *d = k1s_xasprintf("unknown time zone %s", tz);
                    add_s(v, "timeZone", E_INVALID, tz, d);
                    free(d);
                }
                free(p);
            }
        }
    }
    const char *cp = jstr0(spec, "concurrencyPolicy");
    static const char *const cps[] = {"Allow", "Forbid", "Replace"};
    if (!*cp)
        add(v, "concurrencyPolicy", E_REQUIRED, NULL, "");
    else if (!IN(cp, cps))
        NOTSUPP(v, "concurrencyPolicy", cp, cps);
    const json_t *jt = jobj(spec, "jobTemplate"), *js = jobj(jt, "spec");
    size_t mj = push(v, "jobTemplate");
    push(v, "spec");
    check_job_spec_common(v, js);
    if (jobj(js, "selector"))
        add_selector_value(v, "selector", jobj(js, "selector"),
                           "`selector` will be auto-generated");
    if (jtrue(js, "manualSelector")) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "supported values: \"nil\", \"false\"");
        add(v, "manualSelector", E_NOTSUPPORTED, "true", b.data);
        k1s_buf_free(&b);
    }
    pop(v, mj);
    nonneg(v, spec, "successfulJobsHistoryLimit", NULL);
    nonneg(v, spec, "failedJobsHistoryLimit", NULL);
    pop(v, m);
    const char *name = jstr0(jobj(cj, "metadata"), "name");
    if (!old && strlen(name) > 52)
        add_s(v, "metadata.name", E_INVALID, name, "must be no more than 52 characters");
}

/* ------------------------------------------------------------------------------------------ */
/* Other kinds                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void check_lease(vctx_t *v, const k1s_resource_t *r, const json_t *l, const json_t *old)
{
    if (old)
        meta_update(v, r, l, old);
    else
        meta_create(v, r, l);
    const json_t *spec = jobj(l, "spec");
    size_t m = push(v, "spec");
    long long x;
    if (jint(spec, "leaseDurationSeconds", &x) && x <= 0)
        add_i(v, "leaseDurationSeconds", E_INVALID, x, "must be greater than 0");
    if (jint(spec, "leaseTransitions", &x) && x < 0)
        add_i(v, "leaseTransitions", E_INVALID, x, MSG_NOT_NEGATIVE);
    const char *strategy = jstr(spec, "strategy");
    if (strategy) {
        if (!strchr(strategy, '/')) {
            static const char *const ok[] = {"OldestEmulationVersion"};
            if (strcmp(strategy, "OldestEmulationVersion"))
                NOTSUPP(v, "strategy.strategy", strategy, ok);
        } else {
            check_fmt(v, "strategy.strategy", k1s_is_qualified_name, strategy);
        }
    }
    const char *ph = jstr(spec, "preferredHolder");
    if (ph && *ph && (!strategy || !*strategy))
        add(v, "preferredHolder", E_FORBIDDEN, NULL,
            "may only be specified if `strategy` is defined");
    pop(v, m);
}

static void check_priority_class(vctx_t *v, const k1s_resource_t *r, const json_t *pc,
                                 const json_t *old)
{
    long long value = 0;
    jint(pc, "value", &value);
    if (old) {
        meta_update(v, r, pc, old);
        long long ov = 0;
        jint(old, "value", &ov);
        if (value != ov)
            add(v, "value", E_FORBIDDEN, NULL, "may not be changed in an update.");
        const char *pp = jstr(pc, "preemptionPolicy"), *opp = jstr(old, "preemptionPolicy");
        if ((pp == NULL) != (opp == NULL) || (pp && strcmp(pp, opp))) {
            char *q = pp ? quoted(pp) : k1s_xstrdup("null");
            add(v, "preemptionPolicy", E_INVALID, q, MSG_IMMUTABLE);
            free(q);
        }
        return;
    }
    meta_create(v, r, pc);
    const char *name = jstr0(jobj(pc, "metadata"), "name");
    if (k1s_str_has_prefix(name, "system-")) {
        long long want = !strcmp(name, "system-node-critical")      ? 2000001000
                         : !strcmp(name, "system-cluster-critical") ? 2000000000
                                                                    : -1;
        char *err = NULL;
        if (want < 0)
            err = k1s_xasprintf("%s is not a known system priority class", name);
        else if (value != want)
            err = k1s_xasprintf("value of %s PriorityClass must be %lld", name, want);
        else if (jtrue(pc, "globalDefault"))
            err = k1s_xasprintf("globalDefault of %s PriorityClass must be false", name);
        if (err) {
            add_f(v, "metadata.name", E_FORBIDDEN, NULL,
                  "priority class names with 'system-' prefix are reserved for system use only. "
                  "error: %s",
                  err);
            free(err);
        }
    } else if (value > 1000000000) {
        add(v, "value", E_FORBIDDEN, NULL,
            "maximum allowed value of a user defined priority is 1000000000");
    }
    const char *pp = jstr(pc, "preemptionPolicy");
    if (pp) {
        static const char *const pps[] = {"PreemptLowerPriority", "Never"};
        if (!*pp)
            add(v, "preemptionPolicy", E_REQUIRED, NULL, "");
        else if (!IN(pp, pps))
            NOTSUPP(v, "preemptionPolicy", pp, pps);
    }
}

/* legacyValidateEvent: core/v1 Events skip ObjectMeta validation */
static void check_core_event(vctx_t *v, const json_t *ev)
{
    const char *ns = jstr0(jobj(ev, "metadata"), "namespace");
    const char *ins = jstr0(jobj(ev, "involvedObject"), "namespace");
    if (!jget(ev, "eventTime")) {
        if (!*ins) {
            if (*ns && strcmp(ns, "default"))
                add_s(v, "involvedObject.namespace", E_INVALID, ins,
                      "does not match event.namespace");
        } else if (strcmp(ns, ins)) {
            add_s(v, "involvedObject.namespace", E_INVALID, ins, "does not match event.namespace");
        }
    } else {
        if (!*ins && strcmp(ns, "default") && strcmp(ns, "kube-system"))
            add_s(v, "involvedObject.namespace", E_INVALID, ins, "does not match event.namespace");
        const char *rc = jstr0(ev, "reportingComponent");
        if (!*rc)
            add(v, "reportingComponent", E_REQUIRED, NULL, "");
        check_fmt(v, "reportingComponent", k1s_is_qualified_name, rc);
        const char *ri = jstr0(ev, "reportingInstance");
        if (!*ri)
            add(v, "reportingInstance", E_REQUIRED, NULL, "");
        if (strlen(ri) > 128)
            add_s(v, "reportingInstance", E_INVALID, "", "can have at most 128 characters");
        const char *action = jstr0(ev, "action");
        if (!*action)
            add(v, "action", E_REQUIRED, NULL, "");
        if (strlen(action) > 128)
            add_s(v, "action", E_INVALID, "", "can have at most 128 characters");
        const char *reason = jstr0(ev, "reason");
        if (!*reason)
            add(v, "reason", E_REQUIRED, NULL, "");
        if (strlen(reason) > 128)
            add_s(v, "reason", E_INVALID, "", "can have at most 128 characters");
        if (strlen(jstr0(ev, "message")) > 1024)
            add_s(v, "message", E_INVALID, "", "can have at most 1024 characters");
    }
    check_fmt(v, "namespace", k1s_is_dns1123_subdomain, ns);
}

/* ------------------------------------------------------------------------------------------ */
/* Dispatch and the Status message                                                            */
/* ------------------------------------------------------------------------------------------ */

int k1s_validate(const k1s_resource_t *r, const json_t *obj, const json_t *old, json_t *causes)
{
    vctx_t v = {causes, 0, K1S_BUF_INIT};
    k1s_buf_reserve(&v.path, 256);
    v.path.data[0] = 0;
    const char *g = r->group, *k = r->kind;
    if (!*g && !strcmp(k, "Pod")) {
        if (old)
            check_pod_update(&v, r, obj, old);
        else
            check_pod_create(&v, r, obj);
    } else if (!*g && !strcmp(k, "Namespace")) {
        check_namespace(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "Service")) {
        check_service(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "ConfigMap")) {
        check_configmap(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "Secret")) {
        check_secret(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "Node")) {
        check_node(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "PersistentVolumeClaim")) {
        check_pvc(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "PersistentVolume")) {
        check_pv(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "Event")) {
        check_core_event(&v, obj);
    } else if (!strcmp(g, "apps") && !strcmp(k, "Deployment")) {
        check_deployment(&v, r, obj, old);
    } else if (!strcmp(g, "apps") && !strcmp(k, "ReplicaSet")) {
        check_replicaset(&v, r, obj, old);
    } else if (!strcmp(g, "apps") && !strcmp(k, "StatefulSet")) {
        check_statefulset(&v, r, obj, old);
    } else if (!strcmp(g, "apps") && !strcmp(k, "DaemonSet")) {
        check_daemonset(&v, r, obj, old);
    } else if (!strcmp(g, "batch") && !strcmp(k, "Job")) {
        check_job(&v, r, obj, old);
    } else if (!strcmp(g, "batch") && !strcmp(k, "CronJob")) {
        check_cronjob(&v, r, obj, old);
    } else if (!strcmp(g, "coordination.k8s.io") && !strcmp(k, "Lease")) {
        check_lease(&v, r, obj, old);
    } else if (!strcmp(g, "scheduling.k8s.io") && !strcmp(k, "PriorityClass")) {
        check_priority_class(&v, r, obj, old);
    } else if (old) {
        meta_update(&v, r, obj, old);
    } else {
        meta_create(&v, r, obj);
    }
    k1s_buf_free(&v.path);
    return v.n;
}

char *k1s_validate_message(const char *kind_group, const char *name, const json_t *causes)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b, "%s ", kind_group);
    go_quote(&b, name ? name : "");
    k1s_buf_puts(&b, " is invalid");
    size_t n = json_array_size(causes);
    if (n == 0)
        return k1s_buf_steal(&b);
    /* ToAggregate drops duplicate messages; one left prints bare, more print as [a, b] */
    char **msgs = k1s_xcalloc(n, sizeof(*msgs));
    size_t k = 0;
    const json_t *c;
    ARR_EACH(causes, i, c)
    {
        char *m = k1s_xasprintf("%s: %s", jstr0(c, "field"), jstr0(c, "message"));
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(msgs[j], m) == 0;
        if (dup)
            free(m);
        else
            msgs[k++] = m;
    }
    k1s_buf_puts(&b, ": ");
    if (k > 1)
        k1s_buf_putc(&b, '[');
    for (size_t j = 0; j < k; j++) {
        if (j)
            k1s_buf_puts(&b, ", ");
        k1s_buf_puts(&b, msgs[j]);
        free(msgs[j]);
    }
    if (k > 1)
        k1s_buf_putc(&b, ']');
    free(msgs);
    return k1s_buf_steal(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Pod QoS                                                                                    */
/* ------------------------------------------------------------------------------------------ */

const char *k1s_pod_qos_class(const json_t *pod)
{
    const json_t *spec = jobj(pod, "spec"), *c;
    /* requests and limits of cpu and memory, summed over containers and init containers */
    bool any = false, guaranteed = true;
    static const char *const res[] = {"cpu", "memory"};
    bool lim_set[2] = {false, false};
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t l = 0; l < 2; l++) {
        ARR_EACH(jarr(spec, lists[l]), i, c)
        {
            const json_t *rq = jobj(jobj(c, "resources"), "requests");
            const json_t *lm = jobj(jobj(c, "resources"), "limits");
            for (size_t r = 0; r < 2; r++) {
                k1s_quantity_t q, lq;
                bool has_req = jget(rq, res[r]) &&
                               k1s_quantity_from_json(jget(rq, res[r]), &q, NULL) == 0 &&
                               k1s_quantity_sign(&q) != 0;
                bool has_lim = jget(lm, res[r]) &&
                               k1s_quantity_from_json(jget(lm, res[r]), &lq, NULL) == 0 &&
                               k1s_quantity_sign(&lq) != 0;
                if (has_req || has_lim)
                    any = true;
                if (has_lim)
                    lim_set[r] = true;
                if (!has_lim || (has_req && k1s_quantity_cmp(&q, &lq) != 0))
                    guaranteed = false;
            }
        }
    }
    if (!any)
        return "BestEffort";
    if (guaranteed && lim_set[0] && lim_set[1])
        return "Guaranteed";
    return "Burstable";
}
