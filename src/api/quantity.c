/*
 * Kubernetes quantities (k8s.io/apimachinery/pkg/api/resource): parsing
 * "100m", "1.5Gi", "1e3", canonical printing, rounding, comparison and
 * integer values, in exact decimal arithmetic on digit strings.
 */
#include "api/quantity.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
