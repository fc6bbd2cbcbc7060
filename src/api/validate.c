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
 * This file holds the Go value formatting, the shared comparison and
 * number helpers, the dispatch to each kind's rules and the Status message.
 * The rules live in validate-*.c, one file per group of kinds or per part
 * of a pod spec; validate-int.h is what they share (the cause context).
 */
#include "api/validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/crd.h"
#include "api/validate-int.h"

/* strconv.Quote */
void k1s_v_go_quote(k1s_buf_t *b, const char *s)
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

char *k1s_v_quoted(const char *s)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_v_go_quote(&b, s ? s : "");
    return k1s_buf_steal(&b);
}

int k1s_v_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* %#v of a map[string]string held in a JSON object (NULL for a nil map). */
void k1s_v_go_map(k1s_buf_t *b, const json_t *m)
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
    qsort(keys, i, sizeof(*keys), k1s_v_cmp_str);
    k1s_buf_puts(b, "map[string]string{");
    for (size_t j = 0; j < i; j++) {
        if (j)
            k1s_buf_puts(b, ", ");
        k1s_v_go_quote(b, keys[j]);
        k1s_buf_putc(b, ':');
        k1s_v_go_quote(b, jstr0(m, keys[j]));
    }
    k1s_buf_putc(b, '}');
    free(keys);
}

/* %#v of a []string held in a JSON array (NULL for a nil slice). */
void k1s_v_go_strings(k1s_buf_t *b, const json_t *a)
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
        k1s_v_go_quote(b, json_is_string(v) ? json_string_value(v) : "");
    }
    k1s_buf_putc(b, '}');
}

/* %#v of a metav1.LabelSelector value. */
void k1s_v_go_selector(k1s_buf_t *b, const json_t *sel)
{
    k1s_buf_puts(b, "v1.LabelSelector{MatchLabels:");
    k1s_v_go_map(b, jobj(sel, "matchLabels"));
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
        k1s_v_go_quote(b, jstr0(e, "key"));
        k1s_buf_puts(b, ", Operator:");
        k1s_v_go_quote(b, jstr0(e, "operator"));
        k1s_buf_puts(b, ", Values:");
        k1s_v_go_strings(b, jarr(e, "values"));
        k1s_buf_putc(b, '}');
    }
    k1s_buf_puts(b, "}}");
}

/* %#v of an intstr.IntOrString value (JSON number or string; NULL is the zero value). */
void k1s_v_go_intstr(k1s_buf_t *b, const json_t *v)
{
    long long n = 0;
    if (json_is_string(v)) {
        k1s_buf_puts(b, "intstr.IntOrString{Type:1, IntVal:0, StrVal:");
        k1s_v_go_quote(b, json_string_value(v));
        k1s_buf_putc(b, '}');
        return;
    }
    jnum(v, &n);
    k1s_buf_printf(b, "intstr.IntOrString{Type:0, IntVal:%lld, StrVal:\"\"}", n);
}

/* Time.String() of an RFC 3339 UTC timestamp ("2026-01-02 03:04:05 +0000 UTC"). */
char *k1s_v_go_time(const json_t *v)
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
char *k1s_v_go_quantity(const k1s_quantity_t *q)
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

/* A deep copy of o, or a new empty object if o is NULL. */
json_t *k1s_v_copy_or_empty(const json_t *o)
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

bool k1s_v_same(const json_t *a, const json_t *b)
{
    json_t *na = normalized(a), *nb = normalized(b);
    bool eq = (!na && !nb) || (na && nb && json_equal(na, nb));
    json_decref(na);
    json_decref(nb);
    return eq;
}

/* cmp.Diff-like summary of the top-level fields that differ */
char *k1s_v_spec_diff(const char *type, const json_t *old, const json_t *cur)
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
        if (k1s_v_same(a, c))
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

void k1s_v_nonneg(vctx_t *v, const json_t *o, const char *key, const char *child)
{
    long long x;
    if (jint(o, key, &x) && x < 0)
        add_i(v, child ? child : key, E_INVALID, x, MSG_NOT_NEGATIVE);
}

/* the value of an IntOrString as getIntOrPercentValue computes it */
/* ------------------------------------------------------------------------------------------ */
/* Dispatch and the Status message                                                            */
/* ------------------------------------------------------------------------------------------ */

int k1s_validate(const k1s_resource_t *r, const json_t *obj, const json_t *old, json_t *causes)
{
    if (r->crd)
        return k1s_cr_validate(r, obj, old, causes);
    if (k1s_crd_is_crd(r))
        return k1s_crd_validate(obj, old, causes);
    vctx_t v = {causes, 0, K1S_BUF_INIT};
    k1s_buf_reserve(&v.path, 256);
    v.path.data[0] = 0;
    const char *g = r->group, *k = r->kind;
    if (!*g && !strcmp(k, "Pod")) {
        if (old)
            k1s_v_check_pod_update(&v, r, obj, old);
        else
            k1s_v_check_pod_create(&v, r, obj);
    } else if (!*g && !strcmp(k, "Namespace")) {
        k1s_v_check_namespace(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "Service")) {
        k1s_v_check_service(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "ConfigMap")) {
        k1s_v_check_configmap(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "Secret")) {
        k1s_v_check_secret(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "Node")) {
        k1s_v_check_node(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "PersistentVolumeClaim")) {
        k1s_v_check_pvc(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "PersistentVolume")) {
        k1s_v_check_pv(&v, r, obj, old);
    } else if (!*g && !strcmp(k, "Event")) {
        k1s_v_check_core_event(&v, obj);
    } else if (!strcmp(g, "apps") && !strcmp(k, "Deployment")) {
        k1s_v_check_deployment(&v, r, obj, old);
    } else if (!strcmp(g, "apps") && !strcmp(k, "ReplicaSet")) {
        k1s_v_check_replicaset(&v, r, obj, old);
    } else if (!strcmp(g, "apps") && !strcmp(k, "StatefulSet")) {
        k1s_v_check_statefulset(&v, r, obj, old);
    } else if (!strcmp(g, "apps") && !strcmp(k, "DaemonSet")) {
        k1s_v_check_daemonset(&v, r, obj, old);
    } else if (!strcmp(g, "batch") && !strcmp(k, "Job")) {
        k1s_v_check_job(&v, r, obj, old);
    } else if (!strcmp(g, "batch") && !strcmp(k, "CronJob")) {
        k1s_v_check_cronjob(&v, r, obj, old);
    } else if (!strcmp(g, "coordination.k8s.io") && !strcmp(k, "Lease")) {
        k1s_v_check_lease(&v, r, obj, old);
    } else if (!strcmp(g, "certificates.k8s.io") && !strcmp(k, "CertificateSigningRequest")) {
        k1s_v_check_csr(&v, r, obj, old);
    } else if (!strcmp(g, "storage.k8s.io") && !strcmp(k, "CSINode")) {
        k1s_v_check_csinode(&v, r, obj, old);
    } else if (!strcmp(g, "scheduling.k8s.io") && !strcmp(k, "PriorityClass")) {
        k1s_v_check_priority_class(&v, r, obj, old);
    } else if (!strcmp(g, "admissionregistration.k8s.io")) {
        k1s_v_check_webhook_config(&v, r, obj, old);
    } else if (old) {
        k1s_v_meta_update(&v, r, obj, old);
    } else {
        k1s_v_meta_create(&v, r, obj);
    }
    k1s_buf_free(&v.path);
    return v.n;
}

char *k1s_validate_message(const char *kind_group, const char *name, const json_t *causes)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_printf(&b, "%s ", kind_group);
    k1s_v_go_quote(&b, name ? name : "");
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
