/*
 * Internals shared by the validation files: validate.c (Go value formatting,
 * comparison helpers, dispatch, the Status message), validate-format.c
 * (format checks), validate-meta.c (ObjectMeta, label selectors),
 * validate-container.c, validate-volume.c and validate-pod.c (pod specs and
 * pods), validate-service.c, validate-core.c (other core kinds, Lease,
 * PriorityClass), validate-apps.c and validate-batch.c.
 *
 * The JSON accessors and the cause context (the current field path and the
 * add* functions that append causes at it) are static inline, as every rule
 * uses them; the functions one file shares with others are named k1s_v_*.
 */
#ifndef K1S_API_VALIDATE_INT_H
#define K1S_API_VALIDATE_INT_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate.h"
#include "lib/buf.h"
#include "lib/util.h"

/* ------------------------------------------------------------------------------------------ */
/* JSON access                                                                                */
/* ------------------------------------------------------------------------------------------ */

static inline const json_t *jget(const json_t *o, const char *k)
{
    if (!json_is_object(o))
        return NULL;
    const json_t *v = json_object_get(o, k);
    return json_is_null(v) ? NULL : v;
}

static inline const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(jget(o, k));
}

static inline const char *jstr0(const json_t *o, const char *k)
{
    const char *s = jstr(o, k);
    return s ? s : "";
}

static inline const json_t *jobj(const json_t *o, const char *k)
{
    const json_t *v = jget(o, k);
    return json_is_object(v) ? v : NULL;
}

static inline const json_t *jarr(const json_t *o, const char *k)
{
    const json_t *v = jget(o, k);
    return json_is_array(v) ? v : NULL;
}

static inline bool jnum(const json_t *v, long long *out)
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

static inline bool jint(const json_t *o, const char *k, long long *out)
{
    return jnum(jget(o, k), out);
}

static inline bool jtrue(const json_t *o, const char *k)
{
    return json_is_true(jget(o, k));
}

static inline size_t jlen(const json_t *v)
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

/* --- validate.c: Go value formatting and comparison --- */
/* strconv.Quote */
void k1s_v_go_quote(k1s_buf_t *b, const char *s);
char *k1s_v_quoted(const char *s);
/* qsort comparator for an array of C strings. */
int k1s_v_cmp_str(const void *a, const void *b);
/* %#v of a map[string]string held in a JSON object (NULL for a nil map). */
void k1s_v_go_map(k1s_buf_t *b, const json_t *m);
/* %#v of a []string held in a JSON array (NULL for a nil slice). */
void k1s_v_go_strings(k1s_buf_t *b, const json_t *a);
/* %#v of a metav1.LabelSelector value. */
void k1s_v_go_selector(k1s_buf_t *b, const json_t *sel);
/* %#v of an intstr.IntOrString value (JSON number or string; NULL is the zero value). */
void k1s_v_go_intstr(k1s_buf_t *b, const json_t *v);
/* Time.String() of an RFC 3339 UTC timestamp ("2026-01-02 03:04:05 +0000 UTC"). */
char *k1s_v_go_time(const json_t *v);
/* The value of a quantity field as Kubernetes prints a resource.Quantity with %#v. */
char *k1s_v_go_quantity(const k1s_quantity_t *q);
/* A deep copy of o, or a new empty object if o is NULL. */
json_t *k1s_v_copy_or_empty(const json_t *o);
/* Semantic.DeepEqual: equal once nulls and empty arrays and objects are dropped. */
bool k1s_v_same(const json_t *a, const json_t *b);
/* cmp.Diff-like summary of the top-level fields that differ */
char *k1s_v_spec_diff(const char *type, const json_t *old, const json_t *cur);
/* Invalid at child (or key) if the integer o.key is negative. */
void k1s_v_nonneg(vctx_t *v, const json_t *o, const char *key, const char *child);

static inline size_t push(vctx_t *v, const char *name)
{
    size_t mark = v->path.len;
    if (mark)
        k1s_buf_putc(&v->path, '.');
    k1s_buf_puts(&v->path, name);
    return mark;
}

static inline size_t push_idx(vctx_t *v, size_t i)
{
    size_t mark = v->path.len;
    k1s_buf_printf(&v->path, "[%zu]", i);
    return mark;
}

static inline size_t push_key(vctx_t *v, const char *k)
{
    size_t mark = v->path.len;
    k1s_buf_printf(&v->path, "[%s]", k);
    return mark;
}

static inline void pop(vctx_t *v, size_t mark)
{
    v->path.len = mark;
    v->path.data[mark] = 0;
}

/*
 * Adds a cause at the current path (or its child, if child is non-NULL).
 * value is the Go-printed value (ignored by Required, Forbidden, TooLong and
 * Internal, which print no value; NULL prints nothing either).
 */
static inline void add(vctx_t *v, const char *child, etype_t t, const char *value,
                       const char *detail)
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
static inline void add_s(vctx_t *v, const char *child, etype_t t, const char *s, const char *detail)
{
    char *q = k1s_v_quoted(s);
    add(v, child, t, q, detail);
    free(q);
}

/* A cause whose value is a Go integer. */
static inline void add_i(vctx_t *v, const char *child, etype_t t, long long n, const char *detail)
{
    char q[32];
    snprintf(q, sizeof(q), "%lld", n);
    add(v, child, t, q, detail);
}

/* A cause whose detail is formatted. */
static inline void add_f(vctx_t *v, const char *child, etype_t t, const char *value,
                         const char *fmt, ...) K1S_PRINTF(5, 6);
static inline void add_f(vctx_t *v, const char *child, etype_t t, const char *value,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *d = k1s_xvasprintf(fmt, ap);
    va_end(ap);
    add(v, child, t, value, d);
    free(d);
}

/* field.NotSupported: value quoted, detail `supported values: "a", "b"`. */
static inline void add_notsupp(vctx_t *v, const char *child, const char *value,
                               const char *const *valid, size_t n)
{
    k1s_buf_t d = K1S_BUF_INIT;
    if (n)
        k1s_buf_puts(&d, "supported values: ");
    for (size_t i = 0; i < n; i++) {
        if (i)
            k1s_buf_puts(&d, ", ");
        k1s_v_go_quote(&d, valid[i]);
    }
    char *q = k1s_v_quoted(value);
    add(v, child, E_NOTSUPPORTED, q, d.data);
    free(q);
    k1s_buf_free(&d);
}

static inline void add_toolong(vctx_t *v, const char *child, long long max)
{
    add_f(v, child, E_TOOLONG, NULL, "may not be more than %lld bytes", max);
}

static inline bool str_in(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s && strcmp(s, set[i]) == 0)
            return true;
    return false;
}
#define IN(s, set) str_in((s), (set), K1S_ARRAY_SIZE(set))
#define NOTSUPP(v, child, value, set) add_notsupp((v), (child), (value), (set), K1S_ARRAY_SIZE(set))

/* ------------------------------------------------------------------------------------------ */
/* Shared messages and types                                                                  */
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

#define MSG_PERCENT                                                                                \
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "   \
    "'93%', regex used for validation is '[0-9]+%')"

static inline bool is_alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

typedef int (*name_fn_t)(const char *s, const char **msgs);

typedef enum { SEL_NOTHING, SEL_EVERYTHING, SEL_SOME, SEL_ERROR } selkind_t;

typedef struct vol {
    const char *name;
    const json_t *src;
} vol_t;

typedef struct vols {
    vol_t *v;
    size_t n;
} vols_t;

typedef enum { PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP } probe_t;

/* ------------------------------------------------------------------------------------------ */
/* Functions shared between the validation files                                              */
/* ------------------------------------------------------------------------------------------ */

/* --- validate-format.c --- */
/* IsValidPortName */
int k1s_v_is_port_name(const char *s, const char **msgs);
/* IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation is beta and on in v1.32) */
int k1s_v_is_env_var_name(const char *s, const char **msgs);
bool k1s_v_is_percent(const char *s);
bool k1s_v_is_http_header_name(const char *s);
/* netutils.ParseIPSloppy: IPv4 (leading zeros allowed) or IPv6 */
bool k1s_v_parse_ip_sloppy(const char *s, bool *v6);
void k1s_v_check_ip(vctx_t *v, const char *child, const char *ip);
void k1s_v_check_cidr(vctx_t *v, const char *child, const char *cidr);
/* A NameIs* ValidateNameFunc: with prefix, a trailing dash is masked (maskTrailingDash). */
int k1s_v_name_check(name_fn_t fn, const char *name, bool prefix, const char **msgs);
/* Reports each message of fn(value) as Invalid at child with the value quoted. */
int k1s_v_check_fmt(vctx_t *v, const char *child, name_fn_t fn, const char *value);

/* --- validate-meta.c --- */
/* ValidateLabels: every key a qualified name, every value a label value, all at path. */
void k1s_v_check_labels(vctx_t *v, const char *child, const json_t *labels);
void k1s_v_check_annotations(vctx_t *v, const char *child, const json_t *ann);
bool k1s_v_is_standard_finalizer(const char *f);
/* ValidateObjectMeta (create), at the current path ("metadata" or a template's). */
void k1s_v_check_meta_create(vctx_t *v, const k1s_resource_t *r, const json_t *meta,
                             bool kube_finalizers);
/* ValidateObjectMetaUpdate, at the current path. */
void k1s_v_check_meta_update(vctx_t *v, const json_t *meta, const json_t *ometa,
                             bool kube_finalizers);
/* ValidateLabelSelector at the current path. */
void k1s_v_check_selector(vctx_t *v, const json_t *sel);
/* metav1.LabelSelectorAsSelector: what the selector selects, or SEL_ERROR. */
selkind_t k1s_v_selector_kind(const json_t *sel);
bool k1s_v_selector_matches(const json_t *sel, const json_t *labels);
/* field.Invalid(path.metadata.labels, template.Labels, "`selector` does not match ...") */
void k1s_v_selector_mismatch(vctx_t *v, const char *child, const json_t *labels);
void k1s_v_add_selector_value(vctx_t *v, const char *child, const json_t *sel, const char *detail);
void k1s_v_meta_create(vctx_t *v, const k1s_resource_t *r, const json_t *obj);
void k1s_v_meta_update(vctx_t *v, const k1s_resource_t *r, const json_t *obj, const json_t *old);

/* --- validate-container.c --- */
/* Parses a quantity field; reports a parse failure (a decode error in Kubernetes) as Invalid. */
bool k1s_v_get_qty(vctx_t *v, const char *child, const json_t *val, k1s_quantity_t *q);
/* ValidateResourceQuantityValue at the current path */
void k1s_v_check_quantity_value(vctx_t *v, const char *resource, const k1s_quantity_t *q);
/* validateResourceRequirements at the current path (a container's "resources"). */
void k1s_v_check_resources(vctx_t *v, const json_t *res);
/* ValidatePortNumOrName at child: an int port in range, or a port name */
void k1s_v_check_port_num_or_name(vctx_t *v, const char *child, const json_t *port);
void k1s_v_check_seccomp_profile(vctx_t *v, const json_t *sp);
void k1s_v_check_apparmor_profile(vctx_t *v, const json_t *ap);
void k1s_v_check_id(vctx_t *v, const char *child, const json_t *o, const char *key);
void k1s_v_check_probe(vctx_t *v, const char *child, const json_t *p, const json_t *grace,
                       probe_t kind);
void k1s_v_check_lifecycle(vctx_t *v, const json_t *lc, const json_t *grace);
/* validateContainerCommon at the current path (containers[i]) */
void k1s_v_check_container_common(vctx_t *v, const json_t *c, const vols_t *vs, bool host_users);

/* --- validate-volume.c --- */
/* validateLocalDescendingPath */
void k1s_v_check_local_descending(vctx_t *v, const char *child, const char *p);
/* ValidateVolumes at the current path ("...spec"); fills vs with the valid volumes. */
void k1s_v_check_volumes(vctx_t *v, const json_t *volumes, const json_t *pod, vols_t *vs);
void k1s_v_check_volume_mounts(vctx_t *v, const json_t *ctr, const vols_t *vs);
/* ValidatePersistentVolumeClaimSpec at the current path */
void k1s_v_check_pvc_spec(vctx_t *v, const json_t *spec);
void k1s_v_check_pv(vctx_t *v, const k1s_resource_t *r, const json_t *pv, const json_t *old);
void k1s_v_check_csinode(vctx_t *v, const k1s_resource_t *r, const json_t *obj, const json_t *old);
/* csr.c */
void k1s_v_check_csr(vctx_t *v, const k1s_resource_t *r, const json_t *obj, const json_t *old);

/* --- validate-pod.c --- */
void k1s_v_check_pod_annotations(vctx_t *v, const json_t *ann, const json_t *spec);
/* ValidatePodTemplateSpec at the current path ("spec.template") */
void k1s_v_check_pod_template(vctx_t *v, const json_t *tmpl);
void k1s_v_check_pod_create(vctx_t *v, const k1s_resource_t *r, const json_t *pod);
void k1s_v_check_pod_update(vctx_t *v, const k1s_resource_t *r, const json_t *pod,
                            const json_t *old);

/* --- validate-service.c --- */
void k1s_v_add_strings_value(vctx_t *v, const char *child, const json_t *list, const char *detail);
void k1s_v_check_service(vctx_t *v, const k1s_resource_t *r, const json_t *svc, const json_t *old);

/* --- validate-core.c --- */
void k1s_v_check_namespace(vctx_t *v, const k1s_resource_t *r, const json_t *ns, const json_t *old);
void k1s_v_check_configmap(vctx_t *v, const k1s_resource_t *r, const json_t *cm, const json_t *old);
void k1s_v_check_secret(vctx_t *v, const k1s_resource_t *r, const json_t *s, const json_t *old);
void k1s_v_check_node(vctx_t *v, const k1s_resource_t *r, const json_t *node, const json_t *old);
void k1s_v_check_pvc(vctx_t *v, const k1s_resource_t *r, const json_t *pvc, const json_t *old);
void k1s_v_check_lease(vctx_t *v, const k1s_resource_t *r, const json_t *l, const json_t *old);
/* validate-webhook.c */
void k1s_v_check_webhook_config(vctx_t *v, const k1s_resource_t *r, const json_t *obj,
                                const json_t *old);
void k1s_v_check_priority_class(vctx_t *v, const k1s_resource_t *r, const json_t *pc,
                                const json_t *old);
/* legacyValidateEvent: core/v1 Events skip ObjectMeta validation */
void k1s_v_check_core_event(vctx_t *v, const json_t *ev);

/* --- validate-apps.c --- */
void k1s_v_immutable_selector(vctx_t *v, const json_t *spec, const json_t *ospec);
void k1s_v_check_deployment(vctx_t *v, const k1s_resource_t *r, const json_t *d, const json_t *old);
void k1s_v_check_replicaset(vctx_t *v, const k1s_resource_t *r, const json_t *rs,
                            const json_t *old);
void k1s_v_check_statefulset(vctx_t *v, const k1s_resource_t *r, const json_t *ss,
                             const json_t *old);
void k1s_v_check_daemonset(vctx_t *v, const k1s_resource_t *r, const json_t *ds, const json_t *old);

/* --- validate-batch.c --- */
void k1s_v_check_job(vctx_t *v, const k1s_resource_t *r, const json_t *job, const json_t *old);
void k1s_v_check_cronjob(vctx_t *v, const k1s_resource_t *r, const json_t *cj, const json_t *old);

#endif
