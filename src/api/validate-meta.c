/*
 * ObjectMeta validation (apimachinery's api/validation/objectmeta.go: names,
 * labels, annotations, owner references, finalizers, managed fields, and
 * what may not change on update) and metav1.LabelSelector validation and
 * matching, used by every kind's rules.
 */
#include "api/validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-int.h"

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
        return k1s_v_name_check(k1s_is_dns1123_label, name, prefix, msgs);
    if (is_group(r, "", "Service"))
        return k1s_v_name_check(k1s_is_dns1035_label, name, prefix, msgs);
    return k1s_v_name_check(k1s_is_dns1123_subdomain, name, prefix, msgs);
}

/* ValidateLabels: every key a qualified name, every value a label value, all at path. */
void k1s_v_check_labels(vctx_t *v, const char *child, const json_t *labels)
{
    const char *k;
    const json_t *val;
    OBJ_EACH(labels, k, val)
    {
        k1s_v_check_fmt(v, child, k1s_is_qualified_name, k);
        k1s_v_check_fmt(v, child, k1s_is_label_value,
                        json_is_string(val) ? json_string_value(val) : "");
    }
}

#define ANNOTATIONS_LIMIT (256 * 1024)

void k1s_v_check_annotations(vctx_t *v, const char *child, const json_t *ann)
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
    k1s_v_go_quote(b, jstr0(ref, "apiVersion"));
    k1s_buf_puts(b, ", Kind:");
    k1s_v_go_quote(b, jstr0(ref, "kind"));
    k1s_buf_puts(b, ", Name:");
    k1s_v_go_quote(b, jstr0(ref, "name"));
    k1s_buf_puts(b, ", UID:");
    k1s_v_go_quote(b, jstr0(ref, "uid"));
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

bool k1s_v_is_standard_finalizer(const char *f)
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
        if (!strchr(s, '/') && !k1s_v_is_standard_finalizer(s)) {
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
void k1s_v_check_meta_create(vctx_t *v, const k1s_resource_t *r, const json_t *meta,
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
            k1s_v_check_fmt(v, "namespace", k1s_is_dns1123_label, ns);
    } else if (*ns) {
        add(v, "namespace", E_FORBIDDEN, NULL, "not allowed on this type");
    }
    long long g;
    if (jint(meta, "generation", &g) && g < 0)
        add_i(v, "generation", E_INVALID, g, MSG_NOT_NEGATIVE);
    k1s_v_check_labels(v, "labels", jobj(meta, "labels"));
    k1s_v_check_annotations(v, "annotations", jobj(meta, "annotations"));
    check_owner_refs(v, jarr(meta, "ownerReferences"));
    /* ValidateFinalizers */
    const json_t *fins = jarr(meta, "finalizers");
    bool orphan = false, fg = false;
    const json_t *f;
    ARR_EACH(fins, i, f)
    {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        k1s_v_check_fmt(v, "finalizers", k1s_is_qualified_name, s);
        orphan |= strcmp(s, "orphan") == 0;
        fg |= strcmp(s, "foregroundDeletion") == 0;
    }
    if (orphan && fg) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_v_go_strings(&b, fins);
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
void k1s_v_check_meta_update(vctx_t *v, const json_t *meta, const json_t *ometa,
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
            qsort(extra, k, sizeof(*extra), k1s_v_cmp_str);
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_puts(&b, "no new finalizers can be added if the object is being deleted, found "
                             "new finalizers []string{");
            for (size_t j = 0; j < k; j++) {
                if (j)
                    k1s_buf_puts(&b, ", ");
                k1s_v_go_quote(&b, extra[j]);
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
            char *s = k1s_v_go_time(nt);
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
    k1s_v_check_labels(v, "labels", jobj(meta, "labels"));
    k1s_v_check_annotations(v, "annotations", jobj(meta, "annotations"));
    check_owner_refs(v, jarr(meta, "ownerReferences"));
    check_managed_fields(v, jarr(meta, "managedFields"));
    if (kube_finalizers)
        check_kube_finalizers(v, jarr(meta, "finalizers"));
}

/* ------------------------------------------------------------------------------------------ */
/* Label selectors                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* ValidateLabelSelector at the current path. */
void k1s_v_check_selector(vctx_t *v, const json_t *sel)
{
    if (!sel)
        return;
    k1s_v_check_labels(v, "matchLabels", jobj(sel, "matchLabels"));
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
        k1s_v_check_fmt(v, "key", k1s_is_qualified_name, jstr0(e, "key"));
        size_t mv = push(v, "values");
        const json_t *val;
        ARR_EACH(jarr(e, "values"), j, val)
        {
            size_t mj = push_idx(v, j);
            k1s_v_check_fmt(v, NULL, k1s_is_label_value,
                            json_is_string(val) ? json_string_value(val) : "");
            pop(v, mj);
        }
        pop(v, mv);
        pop(v, mi);
    }
    pop(v, m);
}

/* metav1.LabelSelectorAsSelector: what the selector selects, or SEL_ERROR. */
selkind_t k1s_v_selector_kind(const json_t *sel)
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

bool k1s_v_selector_matches(const json_t *sel, const json_t *labels)
{
    selkind_t kind = k1s_v_selector_kind(sel);
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
void k1s_v_selector_mismatch(vctx_t *v, const char *child, const json_t *labels)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_v_go_map(&b, labels);
    add(v, child, E_INVALID, b.data, "`selector` does not match template `labels`");
    k1s_buf_free(&b);
}

void k1s_v_add_selector_value(vctx_t *v, const char *child, const json_t *sel, const char *detail)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_v_go_selector(&b, sel);
    add(v, child, E_INVALID, b.data, detail);
    k1s_buf_free(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Core kinds                                                                                 */
/* ------------------------------------------------------------------------------------------ */

void k1s_v_meta_create(vctx_t *v, const k1s_resource_t *r, const json_t *obj)
{
    size_t m = push(v, "metadata");
    k1s_v_check_meta_create(v, r, jobj(obj, "metadata"),
                            !is_group(r, "coordination.k8s.io", "Lease"));
    pop(v, m);
}

void k1s_v_meta_update(vctx_t *v, const k1s_resource_t *r, const json_t *obj, const json_t *old)
{
    size_t m = push(v, "metadata");
    k1s_v_check_meta_update(v, jobj(obj, "metadata"), jobj(old, "metadata"),
                            !is_group(r, "coordination.k8s.io", "Lease"));
    pop(v, m);
}
