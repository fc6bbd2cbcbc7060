/*
 * Formatting helpers of the Table printers (table-cells.c): appending cells,
 * Go's times and human durations (k1s_table_age and k1s_table_short_age are
 * public), sorted string sets, label maps, label selectors as
 * labels.Selector.String() prints them, quantities, load-balancer ingress
 * and conditions. Everything accepts missing fields and odd input.
 */
#include "api/table.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/table-int.h"
#include "lib/buf.h"
#include "lib/util.h"

/* ---- Cells ---- */

void k1s_t_cell_str(json_t *cells, const char *s)
{
    json_t *v = json_string(s ? s : "");
    /* Inputs come from parsed JSON and are valid UTF-8; stay safe regardless. */
    json_array_append_new(cells, v ? v : json_string(""));
}

void k1s_t_cell_buf(json_t *cells, const k1s_buf_t *b)
{
    k1s_t_cell_str(cells, b->data ? b->data : "");
}

void k1s_t_cell_int(json_t *cells, long long v)
{
    json_array_append_new(cells, json_integer((json_int_t)v));
}

void k1s_t_cell_bool(json_t *cells, bool v)
{
    json_array_append_new(cells, json_boolean(v));
}

K1S_PRINTF(2, 3) void k1s_t_cell_fmt(json_t *cells, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    k1s_t_cell_str(cells, s);
    free(s);
}

/* Replaces the contents of b. */
K1S_PRINTF(2, 3) void k1s_t_bset(k1s_buf_t *b, const char *fmt, ...)
{
    k1s_buf_reset(b);
    va_list ap;
    va_start(ap, fmt);
    char *s = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    k1s_buf_puts(b, s);
    free(s);
}

const char *k1s_t_bstr(const k1s_buf_t *b)
{
    return b->data ? b->data : "";
}

/* Appends s to b, preceded by sep unless b is empty. */
void k1s_t_bjoin(k1s_buf_t *b, const char *sep, const char *s)
{
    if (b->len)
        k1s_buf_puts(b, sep);
    k1s_buf_puts(b, s);
}

/* ---- Time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* RFC 3339 (metav1.Time and MicroTime) to Unix seconds; ZERO_TIME when malformed. */
static double parse_time(const char *s)
{
    int Y, M, D, h, mi, sec;
    if (strlen(s) < 20 || !parse_digits(s, 4, &Y) || s[4] != '-' || !parse_digits(s + 5, 2, &M) ||
        s[7] != '-' || !parse_digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
        !parse_digits(s + 11, 2, &h) || s[13] != ':' || !parse_digits(s + 14, 2, &mi) ||
        s[16] != ':' || !parse_digits(s + 17, 2, &sec))
        return ZERO_TIME;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 59)
        return ZERO_TIME;
    const char *p = s + 19;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return ZERO_TIME;
        for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!parse_digits(p + 1, 2, &oh) || p[3] != ':' || !parse_digits(p + 4, 2, &om))
            return ZERO_TIME;
        off = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return ZERO_TIME;
    }
    if (*p)
        return ZERO_TIME;
    int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off;
    return (double)t + frac;
}

/* The metav1.Time at path; ZERO_TIME when unset. */
double k1s_t_jtime(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return json_is_string(v) ? parse_time(json_string_value(v)) : ZERO_TIME;
}

/* translateTimestampSince: "<unknown>" for an unset time, else the age. */
void k1s_t_since(char *out, size_t len, double t, time_t now)
{
    if (t == ZERO_TIME)
        snprintf(out, len, "<unknown>");
    else
        k1s_table_age(out, len, (double)now - t);
}

/* Go's t.UTC().Format(time.RFC3339). */
void k1s_t_format_rfc3339(char *out, size_t len, double t)
{
    int64_t s = (int64_t)t;
    if ((double)s > t)
        s--;
    int64_t days = s / 86400, rem = s % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, len, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60));
}

/* A Go time.Duration saturates at about 292 years; time.Since() of an old time does too. */
static double clamp_duration(double seconds)
{
    if (seconds > 9223372036.854775807)
        return 9223372036.854775807;
    if (seconds < -9223372036.854775808)
        return -9223372036.854775808;
    return seconds;
}

void k1s_table_age(char *out, size_t len, double seconds)
{
    if (seconds != seconds) { /* NaN */
        snprintf(out, len, "<invalid>");
        return;
    }
    long long s = (long long)clamp_duration(seconds); /* int(d.Seconds()) truncates */
    if (s < -1) {
        snprintf(out, len, "<invalid>");
        return;
    }
    if (s < 0) {
        snprintf(out, len, "0s");
        return;
    }
    if (s < 60 * 2) {
        snprintf(out, len, "%llds", s);
        return;
    }
    long long minutes = s / 60;
    if (minutes < 10) {
        if (s % 60 == 0)
            snprintf(out, len, "%lldm", minutes);
        else
            snprintf(out, len, "%lldm%llds", minutes, s % 60);
        return;
    }
    if (minutes < 60 * 3) {
        snprintf(out, len, "%lldm", minutes);
        return;
    }
    long long hours = s / 3600;
    if (hours < 8) {
        if (minutes % 60 == 0)
            snprintf(out, len, "%lldh", hours);
        else
            snprintf(out, len, "%lldh%lldm", hours, minutes % 60);
    } else if (hours < 48) {
        snprintf(out, len, "%lldh", hours);
    } else if (hours < 24 * 8) {
        if (hours % 24 == 0)
            snprintf(out, len, "%lldd", hours / 24);
        else
            snprintf(out, len, "%lldd%lldh", hours / 24, hours % 24);
    } else if (hours < 24 * 365 * 2) {
        snprintf(out, len, "%lldd", hours / 24);
    } else if (hours < 24 * 365 * 8) {
        long long dy = hours / 24 % 365;
        if (dy == 0)
            snprintf(out, len, "%lldy", hours / 24 / 365);
        else
            snprintf(out, len, "%lldy%lldd", hours / 24 / 365, dy);
    } else {
        snprintf(out, len, "%lldy", hours / 24 / 365);
    }
}

void k1s_table_short_age(char *out, size_t len, double seconds)
{
    if (seconds != seconds) {
        snprintf(out, len, "<invalid>");
        return;
    }
    long long s = (long long)clamp_duration(seconds);
    if (s < -1)
        snprintf(out, len, "<invalid>");
    else if (s < 0)
        snprintf(out, len, "0s");
    else if (s < 60)
        snprintf(out, len, "%llds", s);
    else if (s / 60 < 60)
        snprintf(out, len, "%lldm", s / 60);
    else if (s / 3600 < 24)
        snprintf(out, len, "%lldh", s / 3600);
    else if (s / 3600 < 24 * 365)
        snprintf(out, len, "%lldd", s / 3600 / 24);
    else
        snprintf(out, len, "%lldy", s / 3600 / 24 / 365);
}

/* Appends the Age cell: translateTimestampSince(metadata.creationTimestamp). */
void k1s_t_cell_age(json_t *cells, const json_t *o, time_t now)
{
    char buf[32];
    k1s_t_since(buf, sizeof(buf), k1s_t_jtime(o, "metadata.creationTimestamp"), now);
    k1s_t_cell_str(cells, buf);
}

/* Appends the "since" cell of the time at path. */
void k1s_t_cell_since(json_t *cells, const json_t *o, const char *path, time_t now)
{
    char buf[32];
    k1s_t_since(buf, sizeof(buf), k1s_t_jtime(o, path), now);
    k1s_t_cell_str(cells, buf);
}

/* ---- Strings, labels and selectors ---- */

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void k1s_t_strv_add(strv_t *s, const char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = k1s_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = str;
}

/* Adds a copy of str that s owns. */
void k1s_t_strv_add_owned(strv_t *s, char *str)
{
    s->owned = k1s_xrealloc(s->owned, (s->nowned + 1) * sizeof(*s->owned));
    s->owned[s->nowned++] = str;
    k1s_t_strv_add(s, str);
}

void k1s_t_strv_sort(strv_t *s, bool unique)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(*s->v), cmp_strp);
    if (unique && s->n > 1) {
        size_t j = 1;
        for (size_t i = 1; i < s->n; i++)
            if (strcmp(s->v[i], s->v[j - 1]) != 0)
                s->v[j++] = s->v[i];
        s->n = j;
    }
}

/* Appends the strings to b, separated by sep. */
void k1s_t_strv_join(const strv_t *s, k1s_buf_t *b, const char *sep)
{
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            k1s_buf_puts(b, sep);
        k1s_buf_puts(b, s->v[i]);
    }
}

void k1s_t_strv_free(strv_t *s)
{
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* The keys of a JSON object, sorted. */
void k1s_t_sorted_keys(strv_t *s, const json_t *o)
{
    json_t *mo = (json_t *)o; /* jansson's iterators are not const-qualified */
    if (!json_is_object(mo))
        return;
    for (void *it = json_object_iter(mo); it; it = json_object_iter_next(mo, it))
        k1s_t_strv_add(s, json_object_iter_key(it));
    k1s_t_strv_sort(s, false);
}

/* labels.FormatLabels(map): "k1=v1,k2=v2" sorted as whole strings, "<none>" when empty. */
void k1s_t_format_labels(k1s_buf_t *b, const json_t *map)
{
    strv_t s = {0};
    json_t *mo = (json_t *)map;
    if (json_is_object(mo)) {
        for (void *it = json_object_iter(mo); it; it = json_object_iter_next(mo, it)) {
            const json_t *v = json_object_iter_value(it);
            k1s_t_strv_add_owned(&s, k1s_xasprintf("%s=%s", json_object_iter_key(it),
                                                   json_is_string(v) ? json_string_value(v) : ""));
        }
    }
    k1s_t_strv_sort(&s, false);
    k1s_t_strv_join(&s, b, ",");
    if (!b->len)
        k1s_buf_puts(b, "<none>");
    k1s_t_strv_free(&s);
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A label name or value: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters. */
static bool valid_label_name(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* An RFC 1123 DNS subdomain: lower-case labels of [a-z0-9-] joined by dots, at most 253. */
static bool valid_dns_subdomain(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return false;
            continue;
        }
        if (i == start || s[start] == '-' || s[i - 1] == '-')
            return false;
        start = i + 1;
    }
    return true;
}

/* validation.IsQualifiedName: [prefix/]name. */
static bool valid_label_key(const char *k)
{
    const char *slash = strchr(k, '/');
    if (!slash)
        return valid_label_name(k, strlen(k));
    if (strchr(slash + 1, '/'))
        return false;
    return valid_dns_subdomain(k, (size_t)(slash - k)) &&
           valid_label_name(slash + 1, strlen(slash + 1));
}

static bool valid_label_value(const char *v)
{
    return !*v || valid_label_name(v, strlen(v));
}

enum { OP_EQ, OP_IN, OP_NOTIN, OP_EXISTS, OP_DNE };

typedef struct req {
    const char *key;
    int op;
    const char *value;    /* OP_EQ */
    const json_t *values; /* OP_IN, OP_NOTIN */
} req_t;

/*
 * metav1.LabelSelectorAsSelector(sel).String(): requirements sorted by key,
 * "k=v", "k in (a,b)", "k notin (a,b)", "k", "!k", joined by ",". A nil
 * selector (labels.Nothing()) and an empty one (labels.Everything()) both print
 * as "". Returns false, leaving b unchanged, if the selector is invalid.
 */
bool k1s_t_format_selector(k1s_buf_t *b, const json_t *sel)
{
    if (!json_is_object(sel))
        return true;
    json_t *ml = json_object_get(sel, "matchLabels");
    const json_t *me = json_object_get(sel, "matchExpressions");
    size_t nml = json_is_object(ml) ? json_object_size(ml) : 0;
    size_t nme = json_is_array(me) ? json_array_size(me) : 0;
    if (nml + nme == 0)
        return true;

    req_t *reqs = k1s_xcalloc(nml + nme, sizeof(*reqs));
    size_t n = 0;
    bool ok = true;
    for (void *it = nml ? json_object_iter(ml) : NULL; it; it = json_object_iter_next(ml, it)) {
        const json_t *v = json_object_iter_value(it);
        req_t *r = &reqs[n++];
        r->key = json_object_iter_key(it);
        r->op = OP_EQ;
        r->value = json_is_string(v) ? json_string_value(v) : "";
        if (!valid_label_key(r->key) || !valid_label_value(r->value))
            ok = false;
    }
    for (size_t i = 0; i < nme && ok; i++) {
        const json_t *e = json_array_get(me, i);
        const char *op = jstr(e, "operator");
        req_t *r = &reqs[n++];
        r->key = jstr(e, "key");
        r->values = jarr(e, "values");
        size_t nv = json_array_size(r->values);
        if (strcmp(op, "In") == 0)
            r->op = OP_IN;
        else if (strcmp(op, "NotIn") == 0)
            r->op = OP_NOTIN;
        else if (strcmp(op, "Exists") == 0)
            r->op = OP_EXISTS;
        else if (strcmp(op, "DoesNotExist") == 0)
            r->op = OP_DNE;
        else
            ok = false;
        if (!valid_label_key(r->key))
            ok = false;
        if ((r->op == OP_IN || r->op == OP_NOTIN) ? nv == 0 : nv != 0)
            ok = false;
        for (size_t j = 0; j < nv; j++) {
            const json_t *v = json_array_get(r->values, j);
            if (!json_is_string(v) || !valid_label_value(json_string_value(v)))
                ok = false;
        }
    }
    if (!ok) {
        free(reqs);
        return false;
    }

    /* Stable insertion sort by key, as selector.Add() sorts. */
    for (size_t i = 1; i < n; i++) {
        req_t r = reqs[i];
        size_t j = i;
        for (; j > 0 && strcmp(reqs[j - 1].key, r.key) > 0; j--)
            reqs[j] = reqs[j - 1];
        reqs[j] = r;
    }

    for (size_t i = 0; i < n; i++) {
        const req_t *r = &reqs[i];
        if (i)
            k1s_buf_putc(b, ',');
        if (r->op == OP_DNE)
            k1s_buf_putc(b, '!');
        k1s_buf_puts(b, r->key);
        if (r->op == OP_EQ) {
            k1s_buf_printf(b, "=%s", r->value);
        } else if (r->op == OP_IN || r->op == OP_NOTIN) {
            strv_t vals = {0};
            for (size_t j = 0; j < json_array_size(r->values); j++)
                k1s_t_strv_add(&vals, json_string_value(json_array_get(r->values, j)));
            k1s_t_strv_sort(&vals, false);
            k1s_buf_puts(b, r->op == OP_IN ? " in (" : " notin (");
            k1s_t_strv_join(&vals, b, ",");
            k1s_buf_putc(b, ')');
            k1s_t_strv_free(&vals);
        }
    }
    free(reqs);
    return true;
}

/* metav1.FormatLabelSelector: "<none>" when empty, "<error>" when invalid. */
void k1s_t_cell_label_selector(json_t *cells, const json_t *sel)
{
    k1s_buf_t b = K1S_BUF_INIT;
    if (!k1s_t_format_selector(&b, sel))
        k1s_t_cell_str(cells, "<error>");
    else
        k1s_t_cell_str(cells, b.len ? b.data : "<none>");
    k1s_buf_free(&b);
}

/* layoutContainerCells: the Containers and Images cells of a pod template. */
void k1s_t_cell_containers(json_t *cells, const json_t *containers)
{
    k1s_buf_t names = K1S_BUF_INIT, images = K1S_BUF_INIT;
    size_t n = json_array_size(containers);
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(containers, i);
        if (i) {
            k1s_buf_putc(&names, ',');
            k1s_buf_putc(&images, ',');
        }
        k1s_buf_puts(&names, jstr(c, "name"));
        k1s_buf_puts(&images, jstr(c, "image"));
    }
    k1s_t_cell_buf(cells, &names);
    k1s_t_cell_buf(cells, &images);
    k1s_buf_free(&names);
    k1s_buf_free(&images);
}

/* A resource.Quantity as its String(): stored quantities are already canonical text. */
void k1s_t_format_quantity(k1s_buf_t *b, const json_t *q, const char *unset)
{
    if (json_is_string(q))
        k1s_buf_puts(b, json_string_value(q));
    else if (json_is_integer(q))
        k1s_buf_printf(b, "%lld", (long long)json_integer_value(q));
    else if (json_is_real(q))
        k1s_buf_printf(b, "%g", json_real_value(q));
    else
        k1s_buf_puts(b, unset);
}

/* The names of the set of load-balancer ingress points: IP, else hostname; sorted, unique. */
void k1s_t_format_lb_ingress(k1s_buf_t *b, const json_t *ingress)
{
    strv_t s = {0};
    for (size_t i = 0; i < json_array_size(ingress); i++) {
        const json_t *in = json_array_get(ingress, i);
        const char *ip = jstr(in, "ip"), *host = jstr(in, "hostname");
        if (*ip)
            k1s_t_strv_add(&s, ip);
        else if (*host)
            k1s_t_strv_add(&s, host);
    }
    k1s_t_strv_sort(&s, true);
    k1s_t_strv_join(&s, b, ",");
    k1s_t_strv_free(&s);
}

/* The first condition of the given type in the array at path, or NULL. */
const json_t *k1s_t_find_condition(const json_t *o, const char *path, const char *type)
{
    const json_t *conds = jarr(o, path);
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        if (strcmp(jstr(c, "type"), type) == 0)
            return c;
    }
    return NULL;
}

bool k1s_t_condition_true(const json_t *o, const char *path, const char *type)
{
    return strcmp(jstr(k1s_t_find_condition(o, path, type), "status"), "True") == 0;
}

void k1s_t_ascii_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}
