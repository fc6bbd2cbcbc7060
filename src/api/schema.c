/*
 * Structural schemas of custom resources: validation, defaulting, pruning
 * and the structural checks; see schema.h. Messages follow kube-openapi's
 * validator (pkg/validation/errors) as apiextensions-apiserver turns its
 * results into field errors: "spec.size: Invalid value: \"big\": spec.size
 * in body must be of type integer: \"string\"".
 */
#include "api/schema.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-int.h"
#include "lib/buf.h"
#include "lib/util.h"

#define MAX_UNKNOWN 100
#define MAX_DEPTH 64

/* ---------- schema access ---------- */

static const char *s_type(const json_t *s)
{
    return json_string_value(json_object_get(s, "type"));
}

static bool s_flag(const json_t *s, const char *k)
{
    return json_is_true(json_object_get(s, k));
}

const json_t *k1s_schema_property(const json_t *schema, const char *key)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *p = json_is_object(props) ? json_object_get(props, key) : NULL;
    if (p)
        return p;
    const json_t *ap = json_object_get(schema, "additionalProperties");
    return json_is_object(ap) ? ap : NULL;
}

const json_t *k1s_schema_items(const json_t *schema)
{
    const json_t *it = json_object_get(schema, "items");
    return json_is_object(it) ? it : NULL;
}

const char *k1s_schema_list_type(const json_t *schema)
{
    return json_string_value(json_object_get(schema, "x-kubernetes-list-type"));
}

/* ---------- value printing (field.Error's ErrorBody) ---------- */

/* Go's %v of a float64: the shortest form that reads back the same. */
static void go_float(k1s_buf_t *b, double d)
{
    if (d == floor(d) && fabs(d) < 1e21) {
        k1s_buf_printf(b, "%.0f", d);
        return;
    }
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    k1s_buf_puts(b, tmp);
}

static void go_value(k1s_buf_t *b, const json_t *v)
{
    if (json_is_string(v)) {
        k1s_v_go_quote(b, json_string_value(v));
    } else if (json_is_integer(v)) {
        k1s_buf_printf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        go_float(b, json_real_value(v));
    } else if (json_is_boolean(v)) {
        k1s_buf_puts(b, json_is_true(v) ? "true" : "false");
    } else if (!v || json_is_null(v)) {
        k1s_buf_puts(b, "\"null\"");
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        k1s_buf_puts(b, s ? s : "");
        free(s);
    }
}

static char *value_str(const json_t *v)
{
    k1s_buf_t b = K1S_BUF_INIT;
    go_value(&b, v);
    return k1s_buf_steal(&b);
}

/* kube-openapi's name of a JSON value's type */
static const char *json_type_name(const json_t *v)
{
    if (json_is_string(v))
        return "string";
    if (json_is_integer(v))
        return "integer";
    if (json_is_real(v))
        return "number";
    if (json_is_boolean(v))
        return "boolean";
    if (json_is_array(v))
        return "array";
    if (json_is_object(v))
        return "object";
    return "null";
}

/* ---------- patterns and formats ---------- */

/* A counted repetition at p ("{n}", "{n,}", "{n,m}"): its length and largest count, or 0. */
static size_t interval(const char *p, long *max)
{
    const char *q = p + 1;
    char *end;
    if (*q < '0' || *q > '9')
        return 0;
    long n = strtol(q, &end, 10), m = n;
    q = end;
    if (*q == ',') {
        q++;
        if (*q >= '0' && *q <= '9') {
            m = strtol(q, &end, 10);
            q = end;
        }
    }
    if (*q != '}' || m < n)
        return 0;
    *max = m > n ? m : n;
    return (size_t)(q - p + 1);
}

/*
 * ECMA-262 → POSIX ERE for the constructs CRDs use, or NULL for a pattern that
 * RE2 and ECMA-262 reject (a repetition of a repetition, a repetition of
 * nothing, a count over 1000) or that would make glibc's compiler copy the
 * expression too often (nested counted repetitions). A lazy quantifier
 * becomes greedy: whether a match exists does not depend on it. New string.
 */
static char *translate_pattern(const char *p)
{
    k1s_buf_t b = K1S_BUF_INIT;
    bool in_class = false;
    bool quant = false, can_repeat = false;     /* just after a quantifier; after an atom */
    long factor[64] = {1}, last = 1, worst = 1; /* copies of the current group and atom */
    int depth = 0;
    size_t len = strlen(p);
    for (; *p; p++) {
        if (*p == '\\' && p[1]) {
            char c = p[1];
            const char *cls = NULL;
            switch (c) {
            case 'd': cls = in_class ? "0-9" : "[0-9]"; break;
            case 'D': cls = in_class ? NULL : "[^0-9]"; break;
            case 'w': cls = in_class ? "A-Za-z0-9_" : "[A-Za-z0-9_]"; break;
            case 'W': cls = in_class ? NULL : "[^A-Za-z0-9_]"; break;
            case 's': cls = in_class ? "[:space:]" : "[[:space:]]"; break;
            case 'S': cls = in_class ? NULL : "[^[:space:]]"; break;
            default: break;
            }
            if (cls) {
                k1s_buf_puts(&b, cls);
            } else if (in_class) {
                /* inside a bracket expression a backslash is literal in POSIX */
                k1s_buf_putc(&b, c);
            } else if (c == 't') {
                k1s_buf_putc(&b, '\t');
            } else if (c == 'n') {
                k1s_buf_putc(&b, '\n');
            } else {
                k1s_buf_putc(&b, '\\');
                k1s_buf_putc(&b, c);
            }
            p++;
            if (!in_class) {
                quant = false;
                can_repeat = true;
                last = 1;
            }
            continue;
        }
        if (in_class) {
            if (*p == ']')
                in_class = false;
            k1s_buf_putc(&b, *p);
            continue;
        }
        long count = 0;
        size_t ilen = *p == '{' ? interval(p, &count) : 0;
        if (*p == '*' || *p == '+' || *p == '?' || ilen) {
            if (quant && *p == '?') {
                quant = false; /* lazy: dropped */
                can_repeat = false;
                continue;
            }
            if (quant || !can_repeat || count > 1000)
                goto bad;
            quant = true;
            /* glibc copies the repeated expression for counts (and once for '+') */
            last *= ilen ? (count > 0 ? count : 1) : (*p == '+' ? 2 : 1);
            if (last > factor[depth])
                factor[depth] = last;
            if (last > worst)
                worst = last;
            if (worst > 1000 || (size_t)worst * len > 100000)
                goto bad;
            if (ilen) {
                k1s_buf_append(&b, p, ilen);
                p += ilen - 1;
            } else {
                k1s_buf_putc(&b, *p);
            }
            continue;
        }
        quant = false;
        if (*p == '(') {
            if (depth + 1 >= (int)K1S_ARRAY_SIZE(factor))
                goto bad;
            factor[++depth] = 1;
            can_repeat = false;
            k1s_buf_putc(&b, '(');
            if (p[1] == '?' && p[2] == ':')
                p += 2;
            continue;
        }
        if (*p == ')') {
            if (depth == 0)
                goto bad;
            last = factor[depth--];
            if (last > factor[depth])
                factor[depth] = last;
            can_repeat = true;
            k1s_buf_putc(&b, ')');
            continue;
        }
        if (*p == '|' || *p == '^' || *p == '$') {
            can_repeat = false;
            k1s_buf_putc(&b, *p);
            continue;
        }
        can_repeat = true;
        last = 1;
        if (*p == '[') {
            in_class = true;
            k1s_buf_putc(&b, '[');
            if (p[1] == '^') {
                k1s_buf_putc(&b, '^');
                p++;
            }
            if (p[1] == ']') {
                k1s_buf_putc(&b, ']');
                p++;
            }
            continue;
        }
        if (*p == '{') /* a brace that is no interval is a literal in ECMA-262 */
            k1s_buf_puts(&b, "\\{");
        else
            k1s_buf_putc(&b, *p);
    }
    if (!b.data)
        return k1s_xstrdup("");
    return k1s_buf_steal(&b);
bad:
    k1s_buf_free(&b);
    return NULL;
}

typedef struct pat_cache {
    char *pattern;
    regex_t re;
    bool ok;
} pat_cache_t;

static pat_cache_t pats[64];
static unsigned pat_next;

bool k1s_schema_pattern_match(const char *pattern, const char *s, bool *bad)
{
    pat_cache_t *c = NULL;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(pats); i++)
        if (pats[i].pattern && !strcmp(pats[i].pattern, pattern))
            c = &pats[i];
    if (!c) {
        c = &pats[pat_next++ % K1S_ARRAY_SIZE(pats)];
        if (c->pattern) {
            if (c->ok)
                regfree(&c->re);
            free(c->pattern);
        }
        c->pattern = k1s_xstrdup(pattern);
        char *ere = translate_pattern(pattern);
        c->ok = ere && regcomp(&c->re, ere, REG_EXTENDED | REG_NOSUB) == 0;
        free(ere);
    }
    if (bad)
        *bad = !c->ok;
    if (!c->ok)
        return false;
    return regexec(&c->re, s, 0, NULL, 0) == 0;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool is_date(const char *s)
{
    if (strlen(s) < 10 || !all_digits(s, 4) || s[4] != '-' || !all_digits(s + 5, 2) ||
        s[7] != '-' || !all_digits(s + 8, 2))
        return false;
    int m = atoi(s + 5), d = atoi(s + 8);
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static bool is_date_time(const char *s)
{
    if (!is_date(s) || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
        return false;
    const char *t = s + 11;
    if (strlen(t) < 8 || !all_digits(t, 2) || t[2] != ':' || !all_digits(t + 3, 2) || t[5] != ':' ||
        !all_digits(t + 6, 2))
        return false;
    t += 8;
    if (*t == '.') {
        t++;
        if (!isdigit((unsigned char)*t))
            return false;
        while (isdigit((unsigned char)*t))
            t++;
    }
    if (*t == 'Z' || *t == 'z')
        return t[1] == 0;
    if ((*t == '+' || *t == '-') && strlen(t) == 6 && all_digits(t + 1, 2) && t[3] == ':' &&
        all_digits(t + 4, 2))
        return true;
    return false;
}

static bool is_hostname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    const char *label = s;
    for (const char *p = s;; p++) {
        if (*p == '.' || *p == 0) {
            size_t ln = (size_t)(p - label);
            if (ln == 0 || ln > 63 || label[0] == '-' || label[ln - 1] == '-')
                return false;
            for (size_t i = 0; i < ln; i++)
                if (!isalnum((unsigned char)label[i]) && label[i] != '-')
                    return false;
            if (*p == 0)
                return true;
            label = p + 1;
        }
    }
}

static bool is_email(const char *s)
{
    const char *at = strrchr(s, '@');
    if (!at || at == s || strchr(s, ' '))
        return false;
    return is_hostname(at + 1);
}

static bool is_ip(const char *s, int af)
{
    unsigned char buf[16];
    return inet_pton(af, s, buf) == 1;
}

static bool is_cidr(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || !slash[1] || !all_digits(slash + 1, strlen(slash + 1)))
        return false;
    char ip[64];
    size_t n = (size_t)(slash - s);
    if (n >= sizeof(ip))
        return false;
    memcpy(ip, s, n);
    ip[n] = 0;
    int bits = atoi(slash + 1);
    if (is_ip(ip, AF_INET))
        return bits <= 32;
    return is_ip(ip, AF_INET6) && bits <= 128;
}

static bool is_uri(const char *s)
{
    /* url.ParseRequestURI: an absolute URI or an absolute path */
    if (s[0] == '/')
        return true;
    const char *colon = strchr(s, ':');
    if (!colon || colon == s || !isalpha((unsigned char)s[0]))
        return false;
    for (const char *p = s; p < colon; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return false;
    return colon[1] != 0;
}

static bool is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static bool is_base64(const char *s)
{
    size_t n = strlen(s);
    if (n % 4)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (isalnum((unsigned char)c) || c == '+' || c == '/')
            continue;
        if (c == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '='))
            continue;
        return false;
    }
    return true;
}

static bool is_duration(const char *s)
{
    /* Go's time.ParseDuration: [-+]? (number unit)+ or "0" */
    if (*s == '-' || *s == '+')
        s++;
    if (!strcmp(s, "0"))
        return true;
    if (!*s)
        return false;
    while (*s) {
        bool digits = false;
        while (isdigit((unsigned char)*s) || *s == '.') {
            digits = true;
            s++;
        }
        if (!digits)
            return false;
        static const char *const units[] = {"ns", "us", "µs", "ms", "s", "m", "h"};
        size_t best = 0;
        for (size_t i = 0; i < K1S_ARRAY_SIZE(units); i++) {
            size_t n = strlen(units[i]);
            if (!strncmp(s, units[i], n) && n > best)
                best = n;
        }
        if (!best)
            return false;
        s += best;
    }
    return true;
}

bool k1s_schema_format_ok(const char *format, const char *s)
{
    if (!format || !s)
        return true;
    if (!strcmp(format, "date-time") || !strcmp(format, "datetime"))
        return is_date_time(s);
    if (!strcmp(format, "date"))
        return strlen(s) == 10 && is_date(s);
    if (!strcmp(format, "email"))
        return is_email(s);
    if (!strcmp(format, "hostname"))
        return is_hostname(s);
    if (!strcmp(format, "ipv4"))
        return is_ip(s, AF_INET);
    if (!strcmp(format, "ipv6"))
        return is_ip(s, AF_INET6);
    if (!strcmp(format, "cidr"))
        return is_cidr(s);
    if (!strcmp(format, "uri"))
        return is_uri(s);
    if (!strcmp(format, "uuid") || !strcmp(format, "uuid3") || !strcmp(format, "uuid4") ||
        !strcmp(format, "uuid5"))
        return is_uuid(s);
    if (!strcmp(format, "byte"))
        return is_base64(s);
    if (!strcmp(format, "duration"))
        return is_duration(s);
    return true; /* password, int32, int64, float, double and unknown formats */
}

/* ---------- validation ---------- */

static void validate(vctx_t *v, const json_t *s, const json_t *val, int depth);

/* "<path> in body ..." detail with the current path (Go's name for the root is "body"?) */
static void add_body(vctx_t *v, etype_t t, const json_t *val, const char *fmt, ...)
    K1S_PRINTF(4, 5);
static void add_body(vctx_t *v, etype_t t, const json_t *val, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *d = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    char *detail = k1s_xasprintf("%s in body %s", v->path.len ? v->path.data : ".", d);
    char *vs = val ? value_str(val) : k1s_xstrdup("\"\"");
    add(v, NULL, t, vs, detail);
    free(vs);
    free(detail);
    free(d);
}

static bool type_ok(const char *type, const json_t *val)
{
    if (!strcmp(type, "object"))
        return json_is_object(val);
    if (!strcmp(type, "array"))
        return json_is_array(val);
    if (!strcmp(type, "string"))
        return json_is_string(val);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(val);
    if (!strcmp(type, "number"))
        return json_is_number(val);
    if (!strcmp(type, "integer")) {
        if (json_is_integer(val))
            return true;
        double d = json_is_real(val) ? json_real_value(val) : 0.5;
        return d == floor(d);
    }
    return true;
}

static double num(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static void check_number(vctx_t *v, const json_t *s, const json_t *val)
{
    double d = num(val);
    const json_t *max = json_object_get(s, "maximum"), *min = json_object_get(s, "minimum");
    k1s_buf_t lim = K1S_BUF_INIT;
    if (json_is_number(max)) {
        double m = num(max);
        bool ex = s_flag(s, "exclusiveMaximum");
        if (ex ? d >= m : d > m) {
            go_float(&lim, m);
            add_body(v, E_INVALID, val, "should be less than %s%s", ex ? "" : "or equal to ",
                     lim.data);
        }
    }
    k1s_buf_free(&lim);
    if (json_is_number(min)) {
        double m = num(min);
        bool ex = s_flag(s, "exclusiveMinimum");
        if (ex ? d <= m : d < m) {
            go_float(&lim, m);
            add_body(v, E_INVALID, val, "should be greater than %s%s", ex ? "" : "or equal to ",
                     lim.data);
        }
    }
    k1s_buf_free(&lim);
    const json_t *mo = json_object_get(s, "multipleOf");
    if (json_is_number(mo) && num(mo) > 0) {
        double q = d / num(mo);
        if (q != floor(q)) {
            go_float(&lim, num(mo));
            add_body(v, E_INVALID, val, "should be a multiple of %s", lim.data);
        }
    }
    k1s_buf_free(&lim);
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static void check_string(vctx_t *v, const json_t *s, const json_t *val)
{
    const char *str = json_string_value(val);
    size_t len = utf8_len(str);
    long long lim;
    if (jint(s, "maxLength", &lim) && (long long)len > lim)
        add_toolong(v, NULL, lim);
    if (jint(s, "minLength", &lim) && (long long)len < lim)
        add_body(v, E_INVALID, val, "should be at least %lld chars long", lim);
    const char *pat = json_string_value(json_object_get(s, "pattern"));
    if (pat) {
        bool bad = false;
        if (!k1s_schema_pattern_match(pat, str, &bad))
            add_body(v, E_INVALID, val, "should match '%s'", pat);
    }
    const char *fmt = json_string_value(json_object_get(s, "format"));
    if (fmt && !k1s_schema_format_ok(fmt, str)) {
        char *q = k1s_v_quoted(str);
        add_body(v, E_INVALID, val, "must be of type %s: %s", fmt, q);
        free(q);
    }
}

/* %#v of a map[string]interface{} holding the list-map keys of an item */
static char *map_keys_value(const json_t *item, const json_t *keys)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "map[string]interface {}{");
    const json_t *k;
    ARR_EACH(keys, i, k)
    {
        if (i)
            k1s_buf_puts(&b, ", ");
        k1s_v_go_quote(&b, json_string_value(k));
        k1s_buf_putc(&b, ':');
        go_value(&b, json_object_get(item, json_string_value(k)));
    }
    k1s_buf_putc(&b, '}');
    return k1s_buf_steal(&b);
}

static bool same_keys(const json_t *a, const json_t *b, const json_t *keys)
{
    const json_t *k;
    ARR_EACH(keys, i, k)
    {
        const char *name = json_string_value(k);
        const json_t *x = json_object_get(a, name), *y = json_object_get(b, name);
        if (!x != !y || (x && !json_equal(x, y)))
            return false;
    }
    return true;
}

static void check_array(vctx_t *v, const json_t *s, const json_t *val, int depth)
{
    size_t n = json_array_size(val);
    long long lim;
    if (jint(s, "maxItems", &lim) && (long long)n > lim)
        add_f(v, NULL, E_TOOMANY, NULL, "%zu: must have at most %lld items", n, lim);
    if (jint(s, "minItems", &lim) && (long long)n < lim) {
        json_t *cnt = json_integer((json_int_t)n);
        add_body(v, E_INVALID, cnt, "should have at least %lld items", lim);
        json_decref(cnt);
    }
    const char *lt = k1s_schema_list_type(s);
    const json_t *keys = json_object_get(s, "x-kubernetes-list-map-keys");
    bool unique = s_flag(s, "uniqueItems");
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(val, i);
        for (size_t j = 0; j < i; j++) {
            const json_t *prev = json_array_get(val, j);
            size_t mark = push_idx(v, i);
            if (lt && !strcmp(lt, "set") && json_equal(it, prev)) {
                char *vs = value_str(it);
                add(v, NULL, E_DUPLICATE, vs, NULL);
                free(vs);
                pop(v, mark);
                break;
            }
            if (lt && !strcmp(lt, "map") && json_is_array(keys) && json_is_object(it) &&
                json_is_object(prev) && same_keys(it, prev, keys)) {
                char *vs = map_keys_value(it, keys);
                add(v, NULL, E_DUPLICATE, vs, NULL);
                free(vs);
                pop(v, mark);
                break;
            }
            pop(v, mark);
            if (unique && !lt && json_equal(it, prev)) {
                add_body(v, E_INVALID, NULL, "shouldn't contain duplicates");
                unique = false;
                break;
            }
        }
    }
    const json_t *items = k1s_schema_items(s);
    if (items)
        for (size_t i = 0; i < n; i++) {
            size_t mark = push_idx(v, i);
            validate(v, items, json_array_get(val, i), depth + 1);
            pop(v, mark);
        }
}

static bool is_root_meta_key(const char *k)
{
    return !strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "metadata");
}

static void check_object(vctx_t *v, const json_t *s, const json_t *val, int depth)
{
    size_t n = json_object_size(val);
    long long lim;
    if (jint(s, "maxProperties", &lim) && (long long)n > lim)
        add_f(v, NULL, E_TOOMANY, NULL, "%zu: must have at most %lld items", n, lim);
    if (jint(s, "minProperties", &lim) && (long long)n < lim) {
        json_t *cnt = json_integer((json_int_t)n);
        add_body(v, E_INVALID, cnt, "should have at least %lld properties", lim);
        json_decref(cnt);
    }
    bool root = depth == 0 && v->path.len == 0;
    bool embedded = s_flag(s, "x-kubernetes-embedded-resource");
    const json_t *req = json_object_get(s, "required");
    const json_t *r;
    ARR_EACH(req, i, r)
    {
        const char *k = json_string_value(r);
        if (k && !json_object_get(val, k) && !(root && !strcmp(k, "metadata")))
            add(v, k, E_REQUIRED, NULL, NULL);
    }
    if (embedded) {
        const char *kind = json_string_value(json_object_get(val, "kind"));
        const char *av = json_string_value(json_object_get(val, "apiVersion"));
        if (!kind || !*kind)
            add(v, "kind", E_REQUIRED, NULL, "must not be empty");
        if (!av || !*av)
            add(v, "apiVersion", E_REQUIRED, NULL, "must not be empty");
    }
    const json_t *props = json_object_get(s, "properties");
    const json_t *ap = json_object_get(s, "additionalProperties");
    const char *k;
    const json_t *fv;
    OBJ_EACH(val, k, fv)
    {
        if (root && !strcmp(k, "metadata") && json_is_object(props)) {
            /* of the metadata, a schema may only narrow name and generateName */
            const json_t *mp = json_object_get(json_object_get(props, "metadata"), "properties");
            static const char *const narrowed[] = {"name", "generateName"};
            for (size_t i = 0; i < 2; i++) {
                const json_t *ns = json_object_get(mp, narrowed[i]);
                const json_t *nv = json_object_get(fv, narrowed[i]);
                if (!ns || !nv)
                    continue;
                size_t mark = push(v, "metadata");
                push(v, narrowed[i]);
                validate(v, ns, nv, depth + 2);
                pop(v, mark);
            }
            continue;
        }
        if ((root || embedded) && is_root_meta_key(k))
            continue;
        const json_t *ps = json_is_object(props) ? json_object_get(props, k) : NULL;
        if (!ps && json_is_object(ap))
            ps = ap;
        if (!ps)
            continue;
        size_t mark = push(v, k);
        validate(v, ps, fv, depth + 1);
        pop(v, mark);
    }
}

static bool matches(const json_t *s, const json_t *val, int depth)
{
    json_t *causes = json_array();
    vctx_t t = {causes, 0, K1S_BUF_INIT};
    k1s_buf_reserve(&t.path, 64);
    t.path.data[0] = 0;
    validate(&t, s, val, depth);
    bool ok = t.n == 0;
    k1s_buf_free(&t.path);
    json_decref(causes);
    return ok;
}

/* Schema nodes one validation may visit: anyOf/oneOf/not nest into repeated work, and a
 * schema is outside input. Kubernetes bounds the cost of CEL rules; this bounds ours. */
#define MAX_STEPS 2000000
static long steps;

static void validate(vctx_t *v, const json_t *s, const json_t *val, int depth)
{
    if (!json_is_object(s) || depth > MAX_DEPTH)
        return;
    if (++steps > MAX_STEPS) {
        if (steps == MAX_STEPS + 1)
            add(v, NULL, E_INTERNAL, NULL, "the schema is too expensive to evaluate");
        return;
    }
    if (json_is_null(val)) {
        if (s_flag(s, "nullable") || !s_type(s))
            return;
        add_body(v, E_INVALID, val, "must be of type %s: \"null\"", s_type(s));
        return;
    }
    if (s_flag(s, "x-kubernetes-int-or-string")) {
        if (!json_is_integer(val) && !json_is_string(val)) {
            add_body(v, E_INVALID, val, "must be of type integer,string: \"%s\"",
                     json_type_name(val));
            return;
        }
    } else if (s_type(s) && !type_ok(s_type(s), val)) {
        add_body(v, E_INVALID, val, "must be of type %s: \"%s\"", s_type(s), json_type_name(val));
        return;
    }
    const json_t *en = json_object_get(s, "enum");
    if (json_is_array(en) && json_array_size(en) > 0) {
        bool found = false;
        const json_t *e;
        ARR_EACH(en, i, e)
        {
            if (json_equal(e, val) ||
                (json_is_number(e) && json_is_number(val) && num(e) == num(val)))
                found = true;
        }
        if (!found) {
            k1s_buf_t d = K1S_BUF_INIT;
            k1s_buf_puts(&d, "supported values: ");
            ARR_EACH(en, i, e)
            {
                if (i)
                    k1s_buf_puts(&d, ", ");
                if (json_is_string(e)) {
                    k1s_v_go_quote(&d, json_string_value(e));
                } else {
                    char *js = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
                    k1s_v_go_quote(&d, js ? js : "");
                    free(js);
                }
            }
            char *vs = value_str(val);
            add(v, NULL, E_NOTSUPPORTED, vs, d.data);
            free(vs);
            k1s_buf_free(&d);
        }
    }
    if (json_is_number(val))
        check_number(v, s, val);
    else if (json_is_string(val))
        check_string(v, s, val);
    else if (json_is_array(val))
        check_array(v, s, val, depth);
    else if (json_is_object(val))
        check_object(v, s, val, depth);
    /* value validation by combination (structural schemas allow them without types) */
    const json_t *all = json_object_get(s, "allOf"), *sub;
    ARR_EACH(all, i, sub)
    {
        validate(v, sub, val, depth + 1);
    }
    const json_t *any = json_object_get(s, "anyOf");
    if (json_is_array(any) && json_array_size(any) > 0) {
        bool ok = false;
        ARR_EACH(any, i, sub)
        {
            if (!ok && matches(sub, val, depth + 1))
                ok = true;
        }
        if (!ok)
            add_body(v, E_INVALID, val, "must validate at least one schema (anyOf)");
    }
    const json_t *one = json_object_get(s, "oneOf");
    if (json_is_array(one) && json_array_size(one) > 0) {
        int n = 0;
        ARR_EACH(one, i, sub)
        {
            if (matches(sub, val, depth + 1))
                n++;
        }
        if (n != 1)
            add_body(v, E_INVALID, val, "must validate one and only one schema (oneOf)");
    }
    const json_t *not = json_object_get(s, "not");
    if (json_is_object(not ) && matches(not, val, depth + 1))
        add_body(v, E_INVALID, val, "must not validate the schema (not)");
}

int k1s_schema_validate(const json_t *schema, const json_t *value, const char *path, json_t *causes)
{
    vctx_t v = {causes, 0, K1S_BUF_INIT};
    k1s_buf_reserve(&v.path, 256);
    v.path.data[0] = 0;
    if (path && *path)
        k1s_buf_puts(&v.path, path);
    steps = 0;
    validate(&v, schema, value, path && *path ? 1 : 0);
    k1s_buf_free(&v.path);
    return v.n;
}

/* ---------- defaulting ---------- */

static void apply_defaults(const json_t *s, json_t *val, bool root, int depth)
{
    if (!json_is_object(s) || depth > MAX_DEPTH)
        return;
    if (json_is_object(val)) {
        const json_t *props = json_object_get(s, "properties");
        const char *k;
        const json_t *ps;
        OBJ_EACH(props, k, ps)
        {
            if (root && !strcmp(k, "metadata"))
                continue;
            json_t *cur = json_object_get(val, k);
            const json_t *def = json_object_get(ps, "default");
            if (json_is_null(cur) && !s_flag(ps, "nullable")) {
                if (def)
                    json_object_set_new(val, k, json_deep_copy(def));
                else
                    json_object_del(val, k);
                continue;
            }
            if (!cur && def)
                json_object_set_new(val, k, json_deep_copy(def));
        }
        const json_t *ap = json_object_get(s, "additionalProperties");
        json_t *fv;
        void *tmp;
        json_object_foreach_safe(val, tmp, k, fv)
        {
            if (root && !strcmp(k, "metadata"))
                continue;
            const json_t *fs = json_is_object(props) ? json_object_get(props, k) : NULL;
            if (!fs && json_is_object(ap)) {
                fs = ap;
                if (json_is_null(fv) && !s_flag(fs, "nullable")) {
                    const json_t *def = json_object_get(fs, "default");
                    if (def)
                        json_object_set_new(val, k, json_deep_copy(def));
                    else
                        json_object_del(val, k);
                    continue;
                }
            }
            if (fs)
                apply_defaults(fs, fv, false, depth + 1);
        }
    } else if (json_is_array(val)) {
        const json_t *items = k1s_schema_items(s);
        if (!items)
            return;
        for (size_t i = 0; i < json_array_size(val); i++) {
            json_t *it = json_array_get(val, i);
            if (json_is_null(it) && !s_flag(items, "nullable") && json_object_get(items, "default"))
                json_array_set_new(val, i, json_deep_copy(json_object_get(items, "default")));
            else
                apply_defaults(items, it, false, depth + 1);
        }
    }
    const json_t *all = json_object_get(s, "allOf"), *sub;
    ARR_EACH(all, i, sub)
    {
        apply_defaults(sub, val, root, depth + 1);
    }
}

void k1s_schema_default(const json_t *schema, json_t *value, bool root)
{
    apply_defaults(schema, value, root, 0);
}

/* ---------- pruning ---------- */

typedef struct prune_ctx {
    json_t *unknown;
    int n;
    k1s_buf_t path;
} prune_ctx_t;

static void prune(prune_ctx_t *c, const json_t *s, json_t *val, bool root, int depth);

static void prune_child(prune_ctx_t *c, const json_t *s, json_t *val, const char *key, size_t idx,
                        int depth)
{
    size_t mark = c->path.len;
    if (key) {
        if (mark)
            k1s_buf_putc(&c->path, '.');
        k1s_buf_puts(&c->path, key);
    } else {
        k1s_buf_printf(&c->path, "[%zu]", idx);
    }
    prune(c, s, val, false, depth);
    c->path.len = mark;
    if (c->path.data)
        c->path.data[mark] = 0;
}

static void prune(prune_ctx_t *c, const json_t *s, json_t *val, bool root, int depth)
{
    if (!json_is_object(s) || depth > MAX_DEPTH)
        return;
    if (json_is_array(val)) {
        const json_t *items = k1s_schema_items(s);
        if (items)
            for (size_t i = 0; i < json_array_size(val); i++)
                prune_child(c, items, json_array_get(val, i), NULL, i, depth + 1);
        return;
    }
    if (!json_is_object(val))
        return;
    bool preserve = s_flag(s, "x-kubernetes-preserve-unknown-fields");
    bool embedded = s_flag(s, "x-kubernetes-embedded-resource");
    const json_t *props = json_object_get(s, "properties");
    const json_t *ap = json_object_get(s, "additionalProperties");
    const char *k;
    json_t *fv;
    void *tmp;
    json_object_foreach_safe(val, tmp, k, fv)
    {
        if ((root || embedded) && is_root_meta_key(k)) {
            if (embedded && !root && !strcmp(k, "metadata") && json_is_object(fv)) {
                /* an embedded object's metadata keeps ObjectMeta's fields only */
            }
            continue;
        }
        const json_t *fs = json_is_object(props) ? json_object_get(props, k) : NULL;
        if (!fs && json_is_object(ap))
            fs = ap;
        if (!fs && json_is_true(ap))
            continue;
        if (fs) {
            prune_child(c, fs, fv, k, 0, depth + 1);
            continue;
        }
        /* allOf etc. may not declare fields in a structural schema; keep what they name */
        if (preserve)
            continue;
        if (c->unknown && json_array_size(c->unknown) < MAX_UNKNOWN) {
            char *p = c->path.len ? k1s_xasprintf("%s.%s", c->path.data, k) : k1s_xstrdup(k);
            json_array_append_new(c->unknown, json_string(p));
            free(p);
        }
        c->n++;
        json_object_del(val, k);
    }
}

int k1s_schema_prune(const json_t *schema, json_t *value, bool root, json_t *unknown)
{
    prune_ctx_t c = {unknown, 0, K1S_BUF_INIT};
    prune(&c, schema, value, root, 0);
    k1s_buf_free(&c.path);
    return c.n;
}

/* ---------- structural checks ---------- */

typedef struct sctx {
    vctx_t v;
    bool in_value_validation; /* below allOf/anyOf/oneOf/not */
} sctx_t;

static void structural(sctx_t *c, const json_t *s, bool root, int depth);

static void structural_child(sctx_t *c, const char *name, const json_t *s, int depth)
{
    size_t mark = push(&c->v, name);
    structural(c, s, false, depth + 1);
    pop(&c->v, mark);
}

static void structural(sctx_t *c, const json_t *s, bool root, int depth)
{
    vctx_t *v = &c->v;
    if (!json_is_object(s) || depth > MAX_DEPTH)
        return;
    const char *type = s_type(s);
    bool preserve = s_flag(s, "x-kubernetes-preserve-unknown-fields");
    bool ios = s_flag(s, "x-kubernetes-int-or-string");
    if (json_object_get(s, "$ref"))
        add(v, "$ref", E_FORBIDDEN, NULL, "$ref is not supported");
    if (type) {
        static const char *const types[] = {"array",  "boolean", "integer",
                                            "number", "object",  "string"};
        if (!IN(type, types))
            add_notsupp(v, "type", type, types, K1S_ARRAY_SIZE(types));
    } else if (!c->in_value_validation && !preserve && !ios) {
        add(v, "type", E_REQUIRED, NULL, "must not be empty for specified object fields");
    }
    if (root && type && strcmp(type, "object"))
        add_s(v, "type", E_INVALID, type, "must be object at the root");
    const json_t *meta = root ? k1s_schema_property(s, "metadata") : NULL;
    if (meta && json_is_object(json_object_get(s, "properties")) &&
        json_object_get(json_object_get(s, "properties"), "metadata")) {
        /* validateStructuralMetadataInvariants: metadata is ObjectMeta; only name and
         * generateName may be narrowed */
        bool other = false;
        const char *mk;
        const json_t *mv;
        OBJ_EACH(meta, mk, mv)
        {
            if (!strcmp(mk, "type") || !strcmp(mk, "properties"))
                continue;
            other = true;
        }
        const json_t *mp = json_object_get(meta, "properties");
        OBJ_EACH(mp, mk, mv)
        {
            if (strcmp(mk, "name") && strcmp(mk, "generateName"))
                other = true;
        }
        size_t mark = push(v, "properties");
        push_key(v, "metadata");
        const char *mt = s_type(meta);
        if (mt && strcmp(mt, "object"))
            add_s(v, "type", E_INVALID, mt, "must be object");
        if (other)
            add(v, NULL, E_FORBIDDEN, NULL,
                "must not specify anything other than name and generateName, but metadata is "
                "implicitly specified");
        pop(v, mark);
    }
    if (root && s_flag(s, "nullable"))
        add(v, "nullable", E_FORBIDDEN, NULL, "nullable cannot be true at the root");
    const char *pat = json_string_value(json_object_get(s, "pattern"));
    bool bad_pattern = false;
    if (pat) {
        k1s_schema_pattern_match(pat, "", &bad_pattern);
        if (bad_pattern)
            add_s(v, "pattern", E_INVALID, pat, "must be a valid regular expression, but isn't");
    }
    if (s_flag(s, "uniqueItems"))
        add(v, "uniqueItems", E_FORBIDDEN, NULL,
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic");
    const json_t *ap = json_object_get(s, "additionalProperties");
    if (json_is_object(ap) && json_object_get(s, "properties"))
        add(v, "additionalProperties", E_FORBIDDEN, NULL,
            "additionalProperties and properties are mutual exclusive");
    if (json_is_false(ap))
        add(v, "additionalProperties", E_FORBIDDEN, NULL, "must not be false");
    const char *lt = k1s_schema_list_type(s);
    if (lt) {
        static const char *const lts[] = {"atomic", "set", "map"};
        if (!IN(lt, lts))
            add_notsupp(v, "x-kubernetes-list-type", lt, lts, K1S_ARRAY_SIZE(lts));
        if (!type)
            add(v, "type", E_REQUIRED, NULL,
                "must be array if x-kubernetes-list-type is specified");
        else if (strcmp(type, "array"))
            add_s(v, "type", E_INVALID, type,
                  "must be array if x-kubernetes-list-type is specified");
        const json_t *keys = json_object_get(s, "x-kubernetes-list-map-keys");
        if (!strcmp(lt, "map")) {
            if (json_array_size(keys) == 0)
                add(v, "x-kubernetes-list-map-keys", E_REQUIRED, NULL,
                    "must not be empty if x-kubernetes-list-type is map");
            const json_t *items = k1s_schema_items(s);
            const json_t *k;
            ARR_EACH(keys, i, k)
            {
                const json_t *ks = items ? k1s_schema_property(items, json_string_value(k)) : NULL;
                if (!ks) {
                    add_s(v, "x-kubernetes-list-map-keys", E_INVALID, json_string_value(k),
                          "entries must all be names of item properties");
                    continue;
                }
                const json_t *ireq = json_object_get(items, "required"), *rk;
                bool required = false;
                ARR_EACH(ireq, j, rk)
                {
                    if (json_equal(rk, k))
                        required = true;
                }
                if (!required && !json_object_get(ks, "default"))
                    add(v, "items.properties", E_REQUIRED, NULL,
                        "all map keys must be required or have a default value");
            }
        }
    }
    if (json_object_get(s, "default")) {
        const json_t *def = json_object_get(s, "default");
        if (root)
            add(v, "default", E_FORBIDDEN, NULL, "must not be set at the root");
        else {
            json_t *causes = json_array();
            vctx_t dv = {causes, 0, K1S_BUF_INIT};
            k1s_buf_reserve(&dv.path, 64);
            dv.path.data[0] = 0;
            k1s_buf_printf(&dv.path, "%s.default", v->path.data);
            steps = 0;
            validate(&dv, s, def, 1);
            json_t *cause;
            ARR_EACH(causes, i, cause)
            {
                json_array_append(v->causes, cause);
            }
            v->n += dv.n;
            k1s_buf_free(&dv.path);
            json_decref(causes);
            json_t *copy = json_deep_copy(def);
            if (k1s_schema_prune(s, copy, false, NULL) > 0)
                add(v, "default", E_INVALID, NULL, "must not have unknown fields");
            json_decref(copy);
        }
    }
    const json_t *props = json_object_get(s, "properties");
    if (props && type && strcmp(type, "object") && !c->in_value_validation)
        add(v, "properties", E_FORBIDDEN, NULL, "must be empty if type != object");
    const char *k;
    const json_t *ps;
    OBJ_EACH(props, k, ps)
    {
        if (root && !strcmp(k, "metadata"))
            continue; /* checked above */
        size_t mark = push(v, "properties");
        push_key(v, k);
        structural(c, ps, false, depth + 1);
        pop(v, mark);
    }
    const json_t *items = json_object_get(s, "items");
    if (json_is_object(items))
        structural_child(c, "items", items, depth);
    else if (json_is_array(items))
        add(v, "items", E_FORBIDDEN, NULL, "items must be a schema object and not an array");
    else if (type && !strcmp(type, "array") && !c->in_value_validation)
        add(v, "items", E_REQUIRED, NULL, "must be specified");
    if (json_is_object(ap))
        structural_child(c, "additionalProperties", ap, depth);
    static const char *const combos[] = {"allOf", "anyOf", "oneOf"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(combos); i++) {
        const json_t *arr = json_object_get(s, combos[i]), *sub;
        bool was = c->in_value_validation;
        c->in_value_validation = true;
        ARR_EACH(arr, j, sub)
        {
            size_t mark = push(v, combos[i]);
            size_t m2 = push_idx(v, j);
            structural(c, sub, false, depth + 1);
            pop(v, m2);
            pop(v, mark);
        }
        c->in_value_validation = was;
    }
}

int k1s_schema_check_structural(const json_t *schema, const char *path, json_t *causes)
{
    sctx_t c = {{causes, 0, K1S_BUF_INIT}, false};
    k1s_buf_reserve(&c.v.path, 256);
    c.v.path.data[0] = 0;
    k1s_buf_puts(&c.v.path, path);
    structural(&c, schema, true, 0);
    k1s_buf_free(&c.v.path);
    return c.v.n;
}
