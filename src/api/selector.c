/*
 * Label and field selectors (see selector.h). The label selector parser is a
 * small lexer plus recursive-descent parser with the same tokens, grammar and
 * error messages as k8s.io/apimachinery/pkg/labels; the field selector parser
 * follows k8s.io/apimachinery/pkg/fields, including its backslash escapes.
 */
#include "api/selector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"

/* ---------- validation of keys and values ---------- */

#define QN_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QN_MSG                                                                                     \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "         \
    "validation is '" QN_FMT "')"
#define DNS1123_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
#define DNS1123_MSG                                                                                \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "   \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "  \
    "for validation is '" DNS1123_FMT "')"
#define LABEL_VALUE_MSG                                                                            \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "    \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "             \
    "'my_value',  or '12345', regex used for validation is '(" QN_FMT ")?')"

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool qualified_name_ok(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static bool dns_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool dns1123_subdomain_ok(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        size_t len = i - start;
        if (len == 0 || !dns_char(s[start]) || !dns_char(s[i - 1]))
            return false;
        for (size_t j = start; j < i; j++)
            if (!dns_char(s[j]) && s[j] != '-')
                return false;
        start = i + 1;
    }
    return true;
}

static void add_msg(k1s_buf_t *b, const char *msg)
{
    if (b->len)
        k1s_buf_puts(b, "; ");
    k1s_buf_puts(b, msg);
}

/* validation.IsQualifiedName: appends the problems to b. */
static void check_qualified_name(const char *k, k1s_buf_t *b)
{
    const char *slash = strchr(k, '/');
    const char *name = k;
    if (slash && strchr(slash + 1, '/')) {
        add_msg(b,
                "a qualified name " QN_MSG " with an optional DNS subdomain prefix and '/' (e.g. "
                "'example.com/MyName')");
        return;
    }
    if (slash) {
        size_t plen = (size_t)(slash - k);
        if (plen == 0) {
            add_msg(b, "prefix part must be non-empty");
        } else {
            if (plen > 253)
                add_msg(b, "prefix part must be no more than 253 characters");
            if (!dns1123_subdomain_ok(k, plen))
                add_msg(b, "prefix part " DNS1123_MSG);
        }
        name = slash + 1;
    }
    size_t n = strlen(name);
    if (n == 0)
        add_msg(b, "name part must be non-empty");
    else if (n > 63)
        add_msg(b, "name part must be no more than 63 characters");
    if (!qualified_name_ok(name, n))
        add_msg(b, "name part " QN_MSG);
}

static void check_label_value(const char *v, k1s_buf_t *b)
{
    size_t n = strlen(v);
    if (n > 63)
        add_msg(b, "must be no more than 63 characters");
    if (n > 0 && !qualified_name_ok(v, n))
        add_msg(b, LABEL_VALUE_MSG);
}

int k1s_label_validate_key(const char *key, k1s_err_t *err)
{
    k1s_buf_t b = K1S_BUF_INIT;
    check_qualified_name(key, &b);
    int rc = 0;
    if (b.len)
        rc = k1s_err_set(err, EINVAL, "%s", b.data);
    k1s_buf_free(&b);
    return rc;
}

int k1s_label_validate_value(const char *value, k1s_err_t *err)
{
    k1s_buf_t b = K1S_BUF_INIT;
    check_label_value(value, &b);
    int rc = 0;
    if (b.len)
        rc = k1s_err_set(err, EINVAL, "%s", b.data);
    k1s_buf_free(&b);
    return rc;
}

/* ---------- label selector representation ---------- */

typedef struct label_req {
    char *key;
    k1s_label_op_t op;
    char **vals; /* sorted, unique */
    size_t nvals;
} label_req_t;

struct k1s_label_selector {
    label_req_t *reqs;
    size_t n, cap;
    bool nothing;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void req_free(label_req_t *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nvals; i++)
        free(r->vals[i]);
    free(r->vals);
}

void k1s_label_selector_free(k1s_label_selector_t *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++)
        req_free(&sel->reqs[i]);
    free(sel->reqs);
    free(sel);
}

/* A growable list of strings used while parsing values. */
typedef struct strv {
    char **v;
    size_t n, cap;
} strv_t;

static void strv_add(strv_t *s, const char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->v = k1s_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = k1s_xstrdup(str);
}

static void strv_free(strv_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* Sorts and removes duplicates (a sets.String, as Kubernetes keeps values). */
static void strv_sort_unique(strv_t *s)
{
    if (s->n < 2)
        return;
    qsort(s->v, s->n, sizeof(*s->v), cmp_str);
    size_t o = 1;
    for (size_t i = 1; i < s->n; i++) {
        if (strcmp(s->v[i], s->v[o - 1]) == 0)
            free(s->v[i]);
        else
            s->v[o++] = s->v[i];
    }
    s->n = o;
}

static bool parse_int64(const char *s, long long *out)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    /* strtoll accepts leading blanks, which strconv.ParseInt does not */
    if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\v' || s[0] == '\f')
        return false;
    *out = v;
    return true;
}

/*
 * labels.NewRequirement: validates and appends a requirement, taking ownership
 * of vals (sorted and de-duplicated here). Returns 0 or -EINVAL.
 */
static int sel_add(k1s_label_selector_t *sel, const char *key, k1s_label_op_t op, strv_t *vals,
                   k1s_err_t *err)
{
    k1s_buf_t kmsg = K1S_BUF_INIT;
    check_qualified_name(key, &kmsg);
    int rc = 0;
    strv_sort_unique(vals);
    if (kmsg.len) {
        rc = k1s_err_set(err, EINVAL, "invalid label key \"%s\": %s", key, kmsg.data);
        goto out;
    }
    switch (op) {
    case K1S_LABEL_IN:
    case K1S_LABEL_NOT_IN:
        if (vals->n == 0) {
            rc = k1s_err_set(err, EINVAL, "for 'in', 'notin' operators, values set can't be empty");
            goto out;
        }
        break;
    case K1S_LABEL_EQUALS:
    case K1S_LABEL_DOUBLE_EQUALS:
    case K1S_LABEL_NOT_EQUALS:
        if (vals->n != 1) {
            rc = k1s_err_set(err, EINVAL, "exact-match compatibility requires one single value");
            goto out;
        }
        break;
    case K1S_LABEL_EXISTS:
    case K1S_LABEL_DOES_NOT_EXIST:
        if (vals->n != 0) {
            rc = k1s_err_set(err, EINVAL, "values set must be empty for exists and does not exist");
            goto out;
        }
        break;
    case K1S_LABEL_GT:
    case K1S_LABEL_LT:
        if (vals->n != 1) {
            rc =
                k1s_err_set(err, EINVAL, "for 'Gt', 'Lt' operators, exactly one value is required");
            goto out;
        }
        long long dummy;
        if (!parse_int64(vals->v[0], &dummy)) {
            rc = k1s_err_set(err, EINVAL, "for 'Gt', 'Lt' operators, the value must be an integer");
            goto out;
        }
        break;
    }
    for (size_t i = 0; i < vals->n; i++) {
        k1s_buf_t vmsg = K1S_BUF_INIT;
        check_label_value(vals->v[i], &vmsg);
        if (vmsg.len) {
            rc = k1s_err_set(err, EINVAL, "invalid label value: \"%s\": at key: \"%s\": %s",
                             vals->v[i], key, vmsg.data);
            k1s_buf_free(&vmsg);
            goto out;
        }
    }
    if (sel->n == sel->cap) {
        sel->cap = sel->cap ? sel->cap * 2 : 4;
        sel->reqs = k1s_xrealloc(sel->reqs, sel->cap * sizeof(*sel->reqs));
    }
    label_req_t *r = &sel->reqs[sel->n++];
    r->key = k1s_xstrdup(key);
    r->op = op;
    r->vals = vals->v;
    r->nvals = vals->n;
    vals->v = NULL;
    vals->n = vals->cap = 0;
out:
    strv_free(vals);
    k1s_buf_free(&kmsg);
    return rc;
}

/* ---------- label selector lexer ---------- */

typedef enum {
    T_EOS,
    T_CLOSE_PAR,
    T_COMMA,
    T_NOT, /* ! */
    T_DEQ, /* == */
    T_EQ,  /* = */
    T_GT,  /* > */
    T_ID,
    T_IN,
    T_LT,  /* < */
    T_NEQ, /* != */
    T_NOTIN,
    T_OPEN_PAR,
} tok_t;

typedef struct item {
    tok_t tok;
    char *lit;
} item_t;

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

/* Splits s into tokens; the last one is T_EOS. Returns the number of items. */
static size_t lex(const char *s, item_t **out)
{
    size_t n = 0, cap = 8;
    item_t *items = k1s_xmalloc(cap * sizeof(*items));
    const char *p = s;
    for (;;) {
        while (is_ws(*p))
            p++;
        if (n == cap) {
            cap *= 2;
            items = k1s_xrealloc(items, cap * sizeof(*items));
        }
        item_t *it = &items[n++];
        if (!*p) {
            it->tok = T_EOS;
            it->lit = k1s_xstrdup("");
            break;
        }
        if (is_special(*p)) {
            /* longest match: "==" and "!=" are the only two-character symbols */
            if ((p[0] == '=' || p[0] == '!') && p[1] == '=') {
                it->tok = p[0] == '=' ? T_DEQ : T_NEQ;
                it->lit = k1s_xstrndup(p, 2);
                p += 2;
                continue;
            }
            switch (*p) {
            case '=': it->tok = T_EQ; break;
            case '!': it->tok = T_NOT; break;
            case '(': it->tok = T_OPEN_PAR; break;
            case ')': it->tok = T_CLOSE_PAR; break;
            case ',': it->tok = T_COMMA; break;
            case '>': it->tok = T_GT; break;
            default: it->tok = T_LT; break;
            }
            it->lit = k1s_xstrndup(p, 1);
            p++;
            continue;
        }
        const char *start = p;
        while (*p && !is_special(*p) && !is_ws(*p))
            p++;
        it->lit = k1s_xstrndup(start, (size_t)(p - start));
        if (!strcmp(it->lit, "in"))
            it->tok = T_IN;
        else if (!strcmp(it->lit, "notin"))
            it->tok = T_NOTIN;
        else
            it->tok = T_ID;
    }
    *out = items;
    return n;
}

/* ---------- label selector parser ---------- */

typedef struct parser {
    item_t *items;
    size_t n, pos;
    k1s_err_t *err;
} parser_t;

/* In the "values" context the keywords in/notin are plain identifiers. */
static tok_t lookahead(parser_t *p, bool values, const char **lit)
{
    item_t *it = &p->items[p->pos];
    if (lit)
        *lit = it->lit;
    if (values && (it->tok == T_IN || it->tok == T_NOTIN))
        return T_ID;
    return it->tok;
}

static tok_t consume(parser_t *p, bool values, const char **lit)
{
    tok_t t = lookahead(p, values, lit);
    if (p->pos + 1 < p->n)
        p->pos++;
    return t;
}

static int parse_identifiers_list(parser_t *p, strv_t *vals)
{
    for (;;) {
        const char *lit, *lit2;
        tok_t t = consume(p, true, &lit);
        if (t == T_ID) {
            strv_add(vals, lit);
            tok_t t2 = lookahead(p, true, &lit2);
            if (t2 == T_COMMA)
                continue;
            if (t2 == T_CLOSE_PAR)
                return 0;
            return k1s_err_set(p->err, EINVAL, "found '%s', expected: ',' or ')'", lit2);
        } else if (t == T_COMMA) {
            if (vals->n == 0)
                strv_add(vals, ""); /* "(," */
            tok_t t2 = lookahead(p, true, NULL);
            if (t2 == T_CLOSE_PAR) {
                strv_add(vals, ""); /* ",)" */
                return 0;
            }
            if (t2 == T_COMMA) {
                consume(p, true, NULL);
                strv_add(vals, ""); /* ",," */
            }
        } else {
            return k1s_err_set(p->err, EINVAL, "found '%s', expected: ',', or identifier", lit);
        }
    }
}

static int parse_values(parser_t *p, strv_t *vals)
{
    const char *lit;
    tok_t t = consume(p, true, &lit);
    if (t != T_OPEN_PAR)
        return k1s_err_set(p->err, EINVAL, "found '%s' expected: '('", lit);
    t = lookahead(p, true, &lit);
    if (t == T_ID || t == T_COMMA) {
        if (parse_identifiers_list(p, vals) < 0)
            return -EINVAL;
        const char *lit2;
        if (consume(p, true, &lit2) != T_CLOSE_PAR)
            return k1s_err_set(p->err, EINVAL, "found '%s', expected: ')'", lit2);
        return 0;
    }
    if (t == T_CLOSE_PAR) {
        consume(p, true, NULL);
        strv_add(vals, ""); /* "()" */
        return 0;
    }
    return k1s_err_set(p->err, EINVAL, "found '%s', expected: ',', ')' or identifier", lit);
}

static int parse_exact_value(parser_t *p, strv_t *vals)
{
    tok_t t = lookahead(p, true, NULL);
    if (t == T_EOS || t == T_COMMA) {
        strv_add(vals, "");
        return 0;
    }
    const char *lit;
    t = consume(p, true, &lit);
    if (t == T_ID) {
        strv_add(vals, lit);
        return 0;
    }
    return k1s_err_set(p->err, EINVAL, "found '%s', expected: identifier", lit);
}

static int parse_requirement(parser_t *p, k1s_label_selector_t *sel)
{
    const char *lit;
    bool not_exist = false;
    tok_t t = consume(p, true, &lit);
    if (t == T_NOT) {
        not_exist = true;
        t = consume(p, true, &lit);
    }
    if (t != T_ID)
        return k1s_err_set(p->err, EINVAL, "found '%s', expected: identifier", lit);
    const char *key = lit;
    k1s_buf_t kmsg = K1S_BUF_INIT;
    check_qualified_name(key, &kmsg);
    if (kmsg.len) {
        k1s_err_set(p->err, EINVAL, "invalid label key \"%s\": %s", key, kmsg.data);
        k1s_buf_free(&kmsg);
        return -EINVAL;
    }
    strv_t vals = {0};
    tok_t next = lookahead(p, true, NULL);
    if (not_exist)
        return sel_add(sel, key, K1S_LABEL_DOES_NOT_EXIST, &vals, p->err);
    if (next == T_EOS || next == T_COMMA)
        return sel_add(sel, key, K1S_LABEL_EXISTS, &vals, p->err);

    k1s_label_op_t op;
    const char *oplit;
    switch (consume(p, false, &oplit)) {
    case T_IN: op = K1S_LABEL_IN; break;
    case T_NOTIN: op = K1S_LABEL_NOT_IN; break;
    case T_EQ: op = K1S_LABEL_EQUALS; break;
    case T_DEQ: op = K1S_LABEL_DOUBLE_EQUALS; break;
    case T_NEQ: op = K1S_LABEL_NOT_EQUALS; break;
    case T_GT: op = K1S_LABEL_GT; break;
    case T_LT: op = K1S_LABEL_LT; break;
    default:
        return k1s_err_set(p->err, EINVAL, "found '%s', expected: in, notin, =, ==, !=, gt, lt",
                           oplit);
    }
    int rc = (op == K1S_LABEL_IN || op == K1S_LABEL_NOT_IN) ? parse_values(p, &vals)
                                                            : parse_exact_value(p, &vals);
    if (rc < 0) {
        strv_free(&vals);
        return rc;
    }
    return sel_add(sel, key, op, &vals, p->err);
}

k1s_label_selector_t *k1s_label_selector_parse(const char *s, k1s_err_t *err)
{
    k1s_label_selector_t *sel = k1s_xcalloc(1, sizeof(*sel));
    parser_t p = {.err = err};
    p.n = lex(s ? s : "", &p.items);
    int rc = 0;
    for (;;) {
        const char *lit;
        tok_t t = lookahead(&p, true, &lit);
        if (t == T_EOS)
            break;
        if (t != T_ID && t != T_NOT) {
            rc = k1s_err_set(err, EINVAL, "found '%s', expected: !, identifier, or 'end of string'",
                             lit);
            break;
        }
        if ((rc = parse_requirement(&p, sel)) < 0)
            break;
        t = consume(&p, true, &lit);
        if (t == T_EOS)
            break;
        if (t != T_COMMA) {
            rc = k1s_err_set(err, EINVAL, "found '%s', expected: ',' or 'end of string'", lit);
            break;
        }
        const char *lit2;
        tok_t t2 = lookahead(&p, true, &lit2);
        if (t2 != T_ID && t2 != T_NOT) {
            rc = k1s_err_set(err, EINVAL, "found '%s', expected: identifier after ','", lit2);
            break;
        }
    }
    for (size_t i = 0; i < p.n; i++)
        free(p.items[i].lit);
    free(p.items);
    if (rc < 0) {
        k1s_label_selector_free(sel);
        return NULL;
    }
    return sel;
}

k1s_label_selector_t *k1s_label_selector_from_json(const json_t *js, k1s_err_t *err)
{
    k1s_label_selector_t *sel = k1s_xcalloc(1, sizeof(*sel));
    if (!js || json_is_null(js)) {
        sel->nothing = true;
        return sel;
    }
    if (!json_is_object(js)) {
        k1s_err_set(err, EINVAL, "a label selector must be an object");
        goto fail;
    }
    const json_t *ml = json_object_get(js, "matchLabels");
    const json_t *me = json_object_get(js, "matchExpressions");
    if (ml && !json_is_null(ml)) {
        if (!json_is_object(ml)) {
            k1s_err_set(err, EINVAL, "matchLabels must be an object of strings");
            goto fail;
        }
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)ml, k, v)
        {
            if (!json_is_string(v)) {
                k1s_err_set(err, EINVAL, "matchLabels: the value of \"%s\" must be a string", k);
                goto fail;
            }
            strv_t vals = {0};
            strv_add(&vals, json_string_value(v));
            if (sel_add(sel, k, K1S_LABEL_EQUALS, &vals, err) < 0)
                goto fail;
        }
    }
    if (me && !json_is_null(me)) {
        if (!json_is_array(me)) {
            k1s_err_set(err, EINVAL, "matchExpressions must be a list");
            goto fail;
        }
        size_t i;
        const json_t *e;
        json_array_foreach(me, i, e)
        {
            const char *key = json_string_value(json_object_get(e, "key"));
            const char *op = json_string_value(json_object_get(e, "operator"));
            const json_t *vs = json_object_get(e, "values");
            k1s_label_op_t o;
            if (!key) {
                k1s_err_set(err, EINVAL, "matchExpressions[%zu].key: Required value", i);
                goto fail;
            }
            if (op && !strcmp(op, "In"))
                o = K1S_LABEL_IN;
            else if (op && !strcmp(op, "NotIn"))
                o = K1S_LABEL_NOT_IN;
            else if (op && !strcmp(op, "Exists"))
                o = K1S_LABEL_EXISTS;
            else if (op && !strcmp(op, "DoesNotExist"))
                o = K1S_LABEL_DOES_NOT_EXIST;
            else {
                k1s_err_set(err, EINVAL, "\"%s\" is not a valid label selector operator",
                            op ? op : "");
                goto fail;
            }
            strv_t vals = {0};
            if (vs && !json_is_null(vs)) {
                if (!json_is_array(vs)) {
                    k1s_err_set(err, EINVAL, "matchExpressions[%zu].values must be a list", i);
                    goto fail;
                }
                size_t j;
                const json_t *v;
                json_array_foreach(vs, j, v)
                {
                    if (!json_is_string(v)) {
                        strv_free(&vals);
                        k1s_err_set(err, EINVAL,
                                    "matchExpressions[%zu].values[%zu] must be a string", i, j);
                        goto fail;
                    }
                    strv_add(&vals, json_string_value(v));
                }
            }
            if (sel_add(sel, key, o, &vals, err) < 0)
                goto fail;
        }
    }
    return sel;
fail:
    k1s_label_selector_free(sel);
    return NULL;
}

static bool has_value(const label_req_t *r, const char *v)
{
    /* values are sorted */
    size_t lo = 0, hi = r->nvals;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->vals[mid], v);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool req_matches(const label_req_t *r, const json_t *labels)
{
    const json_t *jv = json_is_object(labels) ? json_object_get(labels, r->key) : NULL;
    const char *v = json_string_value(jv);
    bool has = v != NULL;
    switch (r->op) {
    case K1S_LABEL_IN:
    case K1S_LABEL_EQUALS:
    case K1S_LABEL_DOUBLE_EQUALS: return has && has_value(r, v);
    case K1S_LABEL_NOT_IN:
    case K1S_LABEL_NOT_EQUALS: return !has || !has_value(r, v);
    case K1S_LABEL_EXISTS: return has;
    case K1S_LABEL_DOES_NOT_EXIST: return !has;
    case K1S_LABEL_GT:
    case K1S_LABEL_LT: {
        long long lv, rv;
        if (!has || !parse_int64(v, &lv) || r->nvals != 1 || !parse_int64(r->vals[0], &rv))
            return false;
        return r->op == K1S_LABEL_GT ? lv > rv : lv < rv;
    }
    }
    return false;
}

bool k1s_label_selector_matches(const k1s_label_selector_t *sel, const json_t *labels)
{
    if (!sel)
        return true;
    if (sel->nothing)
        return false;
    for (size_t i = 0; i < sel->n; i++)
        if (!req_matches(&sel->reqs[i], labels))
            return false;
    return true;
}

bool k1s_label_selector_empty(const k1s_label_selector_t *sel)
{
    return !sel || (!sel->nothing && sel->n == 0);
}

bool k1s_label_selector_nothing(const k1s_label_selector_t *sel)
{
    return sel && sel->nothing;
}

size_t k1s_label_selector_count(const k1s_label_selector_t *sel)
{
    return sel ? sel->n : 0;
}

const char *k1s_label_selector_key(const k1s_label_selector_t *sel, size_t i)
{
    k1s_assert(i < k1s_label_selector_count(sel));
    return sel->reqs[i].key;
}

k1s_label_op_t k1s_label_selector_op(const k1s_label_selector_t *sel, size_t i)
{
    k1s_assert(i < k1s_label_selector_count(sel));
    return sel->reqs[i].op;
}

const char *const *k1s_label_selector_values(const k1s_label_selector_t *sel, size_t i, size_t *n)
{
    k1s_assert(i < k1s_label_selector_count(sel));
    *n = sel->reqs[i].nvals;
    return (const char *const *)sel->reqs[i].vals;
}

static int cmp_req_key(const void *a, const void *b)
{
    const label_req_t *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

char *k1s_label_selector_string(const k1s_label_selector_t *sel)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "");
    if (!sel || sel->n == 0)
        return k1s_buf_steal(&b);
    const label_req_t **order = k1s_xmalloc(sel->n * sizeof(*order));
    for (size_t i = 0; i < sel->n; i++)
        order[i] = &sel->reqs[i];
    /* stable by construction is not needed: equal keys print equal prefixes */
    qsort(order, sel->n, sizeof(*order), cmp_req_key);
    for (size_t i = 0; i < sel->n; i++) {
        const label_req_t *r = order[i];
        if (i)
            k1s_buf_putc(&b, ',');
        const char *op = "";
        switch (r->op) {
        case K1S_LABEL_DOES_NOT_EXIST:
            k1s_buf_putc(&b, '!');
            k1s_buf_puts(&b, r->key);
            continue;
        case K1S_LABEL_EXISTS: k1s_buf_puts(&b, r->key); continue;
        case K1S_LABEL_EQUALS: op = "="; break;
        case K1S_LABEL_DOUBLE_EQUALS: op = "=="; break;
        case K1S_LABEL_NOT_EQUALS: op = "!="; break;
        case K1S_LABEL_IN: op = " in "; break;
        case K1S_LABEL_NOT_IN: op = " notin "; break;
        case K1S_LABEL_GT: op = ">"; break;
        case K1S_LABEL_LT: op = "<"; break;
        }
        k1s_buf_puts(&b, r->key);
        k1s_buf_puts(&b, op);
        bool set = r->op == K1S_LABEL_IN || r->op == K1S_LABEL_NOT_IN;
        if (set)
            k1s_buf_putc(&b, '(');
        for (size_t j = 0; j < r->nvals; j++) {
            if (j)
                k1s_buf_putc(&b, ',');
            k1s_buf_puts(&b, r->vals[j]);
        }
        if (set)
            k1s_buf_putc(&b, ')');
    }
    free(order);
    return k1s_buf_steal(&b);
}

/* ---------- field selectors ---------- */

typedef struct field_req {
    char *field;
    k1s_field_op_t op;
    char *value;
} field_req_t;

struct k1s_field_selector {
    field_req_t *reqs;
    size_t n;
};

void k1s_field_selector_free(k1s_field_selector_t *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++) {
        free(sel->reqs[i].field);
        free(sel->reqs[i].value);
    }
    free(sel->reqs);
    free(sel);
}

/*
 * fields.UnescapeValue: "\\", "\," and "\=" stand for themselves; any other
 * escape, and any unescaped ',' or '=', is an error. Returns a new string or
 * NULL with err set.
 */
static char *unescape_value(const char *s, size_t n, k1s_err_t *err)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "");
    bool in_slash = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_slash) {
            if (c != '\\' && c != ',' && c != '=') {
                /* report the whole (possibly multi-byte) character after the backslash */
                size_t clen = 1;
                while (i + clen < n && ((unsigned char)s[i + clen] & 0xC0) == 0x80)
                    clen++;
                k1s_err_set(err, EINVAL, "invalid escape sequence: \\%.*s", (int)clen, s + i);
                k1s_buf_free(&b);
                return NULL;
            }
            k1s_buf_putc(&b, c);
            in_slash = false;
            continue;
        }
        if (c == '\\') {
            in_slash = true;
        } else if (c == ',' || c == '=') {
            k1s_err_set(err, EINVAL, "unescaped character in value: '%c'", c);
            k1s_buf_free(&b);
            return NULL;
        } else {
            k1s_buf_putc(&b, c);
        }
    }
    if (in_slash) {
        k1s_err_set(err, EINVAL, "invalid escape sequence: \\");
        k1s_buf_free(&b);
        return NULL;
    }
    return k1s_buf_steal(&b);
}

static int cmp_term(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

k1s_field_selector_t *k1s_field_selector_parse(const char *s, k1s_err_t *err)
{
    k1s_field_selector_t *sel = k1s_xcalloc(1, sizeof(*sel));
    if (!s || !*s)
        return sel;
    /* split on unescaped commas, keeping escapes in the terms */
    strv_t terms = {0};
    size_t start = 0, len = strlen(s);
    bool in_slash = false;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || (!in_slash && s[i] == ',')) {
            char *t = k1s_xstrndup(s + start, i - start);
            strv_add(&terms, t);
            free(t);
            start = i + 1;
            in_slash = false;
            continue;
        }
        if (in_slash)
            in_slash = false;
        else if (s[i] == '\\')
            in_slash = true;
    }
    qsort(terms.v, terms.n, sizeof(*terms.v), cmp_term);
    sel->reqs = k1s_xcalloc(terms.n, sizeof(*sel->reqs));
    for (size_t i = 0; i < terms.n; i++) {
        const char *t = terms.v[i];
        if (!*t)
            continue;
        /* the first operator occurrence splits the term; "!=" and "==" before "=" */
        const char *op = NULL;
        size_t oplen = 0;
        for (const char *q = t; *q && !op; q++) {
            if (q[0] == '!' && q[1] == '=') {
                op = q;
                oplen = 2;
            } else if (q[0] == '=' && q[1] == '=') {
                op = q;
                oplen = 2;
            } else if (q[0] == '=') {
                op = q;
                oplen = 1;
            }
        }
        if (!op) {
            k1s_err_set(err, EINVAL, "can't understand '%s'", t);
            goto fail;
        }
        const char *rhs = op + oplen;
        char *value = unescape_value(rhs, strlen(rhs), err);
        if (!value)
            goto fail;
        field_req_t *r = &sel->reqs[sel->n++];
        r->field = k1s_xstrndup(t, (size_t)(op - t));
        r->op = op[0] == '!' ? K1S_FIELD_NOT_EQUALS : K1S_FIELD_EQUALS;
        r->value = value;
    }
    strv_free(&terms);
    return sel;
fail:
    strv_free(&terms);
    k1s_field_selector_free(sel);
    return NULL;
}

bool k1s_field_selector_empty(const k1s_field_selector_t *sel)
{
    return !sel || sel->n == 0;
}

size_t k1s_field_selector_count(const k1s_field_selector_t *sel)
{
    return sel ? sel->n : 0;
}

const char *k1s_field_selector_field(const k1s_field_selector_t *sel, size_t i)
{
    k1s_assert(i < k1s_field_selector_count(sel));
    return sel->reqs[i].field;
}

k1s_field_op_t k1s_field_selector_op(const k1s_field_selector_t *sel, size_t i)
{
    k1s_assert(i < k1s_field_selector_count(sel));
    return sel->reqs[i].op;
}

const char *k1s_field_selector_value(const k1s_field_selector_t *sel, size_t i)
{
    k1s_assert(i < k1s_field_selector_count(sel));
    return sel->reqs[i].value;
}

const char *k1s_field_selector_exact(const k1s_field_selector_t *sel, const char *field)
{
    for (size_t i = 0; sel && i < sel->n; i++)
        if (sel->reqs[i].op == K1S_FIELD_EQUALS && !strcmp(sel->reqs[i].field, field))
            return sel->reqs[i].value;
    return NULL;
}

bool k1s_field_selector_matches(const k1s_field_selector_t *sel, k1s_field_lookup_fn lookup,
                                void *arg)
{
    for (size_t i = 0; sel && i < sel->n; i++) {
        const field_req_t *r = &sel->reqs[i];
        const char *v = lookup(r->field, arg);
        bool eq = strcmp(v ? v : "", r->value) == 0;
        if (eq != (r->op == K1S_FIELD_EQUALS))
            return false;
    }
    return true;
}

typedef struct json_lookup {
    const json_t *obj;
    char buf[64];
} json_lookup_t;

static const char *json_lookup(const char *field, void *arg)
{
    json_lookup_t *l = arg;
    return k1s_json_field_string(l->obj, field, l->buf, sizeof(l->buf));
}

bool k1s_field_selector_matches_json(const k1s_field_selector_t *sel, const json_t *obj)
{
    json_lookup_t l = {.obj = obj};
    return k1s_field_selector_matches(sel, json_lookup, &l);
}

static void escape_value(k1s_buf_t *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == ',' || *v == '=')
            k1s_buf_putc(b, '\\');
        k1s_buf_putc(b, *v);
    }
}

char *k1s_field_selector_string(const k1s_field_selector_t *sel)
{
    /* terms sorted as printed, so that parsing the result gives the same string */
    strv_t terms = {0};
    for (size_t i = 0; sel && i < sel->n; i++) {
        k1s_buf_t t = K1S_BUF_INIT;
        k1s_buf_puts(&t, sel->reqs[i].field);
        k1s_buf_puts(&t, sel->reqs[i].op == K1S_FIELD_EQUALS ? "=" : "!=");
        escape_value(&t, sel->reqs[i].value);
        strv_add(&terms, t.data);
        k1s_buf_free(&t);
    }
    if (terms.n)
        qsort(terms.v, terms.n, sizeof(*terms.v), cmp_term);
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "");
    for (size_t i = 0; i < terms.n; i++) {
        if (i)
            k1s_buf_putc(&b, ',');
        k1s_buf_puts(&b, terms.v[i]);
    }
    strv_free(&terms);
    return k1s_buf_steal(&b);
}

/* Shortest "%.*g" that reads back as the same double. */
static void format_real(double d, char *buf, size_t len)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

const char *k1s_json_field_string(const json_t *obj, const char *path, char *buf, size_t len)
{
    const json_t *cur = obj;
    const char *p = path;
    while (cur) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur))
            return NULL;
        cur = json_object_getn(cur, p, n);
        if (!dot)
            break;
        p = dot + 1;
    }
    if (!cur)
        return NULL;
    switch (json_typeof(cur)) {
    case JSON_STRING: return json_string_value(cur);
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_INTEGER:
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(cur));
        return buf;
    case JSON_REAL: format_real(json_real_value(cur), buf, len); return buf;
    default: return NULL;
    }
}
