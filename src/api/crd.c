/*
 * CustomResourceDefinitions: from stored CRDs to served resources, and the
 * CRD's life as kube-apiserver's apiextensions controllers run it.
 *
 * After every committed write to a CRD (and once at start-up) a pass reads
 * all CRDs and, oldest first, decides whether each one's names are free in
 * its group (NamesAccepted), serves its versions through registry entries
 * (one per version, claimed from the registry and reused if the CRD comes
 * back: stored objects and watches keep pointers to them) and writes the
 * status conditions Kubernetes writes (NamesAccepted, Established,
 * Terminating), acceptedNames and storedVersions. A CRD being deleted
 * carries the customresourcecleanup finalizer: the pass deletes its objects,
 * then drops the finalizer, and the resource stops being served.
 *
 * Validation and defaulting of CRDs themselves are here too, after
 * apiextensions-apiserver's pkg/apis/apiextensions/validation.
 */
#include "api/crd.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/schema.h"
#include "api/validate-int.h"
#include "lib/log.h"

#define CRD_PREFIX "/customresourcedefinitions/"

/* Registry entries this module has claimed (all versions of all CRDs ever seen). */
static k1s_resource_t **claimed;
static size_t nclaimed;

static unsigned long crd_generation;

unsigned long k1s_crd_generation(void)
{
    return crd_generation;
}

static const k1s_resource_t *crd_resource(void)
{
    return k1s_registry_find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
}

bool k1s_crd_is_crd(const k1s_resource_t *r)
{
    return r && !strcmp(r->plural, "customresourcedefinitions") &&
           !strcmp(r->group, "apiextensions.k8s.io");
}

const k1s_resource_t *k1s_crd_storage_placeholder(const char *storage_name)
{
    if (!strchr(storage_name, '.'))
        return NULL;
    return k1s_registry_claim(storage_name, "");
}

/* ---------- defaults ---------- */

static json_t *obj_child(json_t *o, const char *k)
{
    json_t *c = json_object_get(o, k);
    if (!json_is_object(c)) {
        c = json_object();
        json_object_set_new(o, k, c);
    }
    return c;
}

static char *lower(const char *s)
{
    char *out = k1s_xstrdup(s ? s : "");
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

void k1s_crd_default(json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec");
    if (!json_is_object(spec))
        return;
    json_t *conv = obj_child(spec, "conversion");
    if (!json_object_get(conv, "strategy"))
        json_object_set_new(conv, "strategy", json_string("None"));
    json_t *names = json_object_get(spec, "names");
    const char *kind = jstr(names, "kind");
    if (json_is_object(names) && kind && *kind) {
        if (!jstr(names, "singular") || !*jstr(names, "singular")) {
            char *l = lower(kind);
            json_object_set_new(names, "singular", json_string(l));
            free(l);
        }
        if (!jstr(names, "listKind") || !*jstr(names, "listKind")) {
            char *lk = k1s_xasprintf("%sList", kind);
            json_object_set_new(names, "listKind", json_string(lk));
            free(lk);
        }
    }
}

/* ---------- validation ---------- */

static bool is_dns_label(const char *s)
{
    return s && !k1s_validate_dns1123_label(s);
}

static void check_names(vctx_t *v, const json_t *names)
{
    size_t mark = push(v, "names");
    const char *plural = jstr(names, "plural"), *singular = jstr(names, "singular");
    const char *kind = jstr(names, "kind"), *list_kind = jstr(names, "listKind");
    if (!plural || !*plural)
        add(v, "plural", E_REQUIRED, NULL, NULL);
    else if (k1s_validate_dns1035_label(plural) && !is_dns_label(plural))
        add_s(v, "plural", E_INVALID, plural, k1s_validate_dns1123_label(plural));
    if (singular && *singular && !is_dns_label(singular))
        add_s(v, "singular", E_INVALID, singular, k1s_validate_dns1123_label(singular));
    if (!kind || !*kind)
        add(v, "kind", E_REQUIRED, NULL, NULL);
    else if (!isupper((unsigned char)kind[0]) && !isalpha((unsigned char)kind[0]))
        add_s(v, "kind", E_INVALID, kind,
              "may have mixed case, but should otherwise match: ^[a-z][-a-z0-9]*$");
    if (kind && list_kind && *kind && !strcmp(kind, list_kind))
        add_s(v, "listKind", E_INVALID, list_kind, "kind and listKind may not be the same");
    const json_t *sn = jarr(names, "shortNames"), *e;
    ARR_EACH(sn, i, e)
    {
        const char *s = json_string_value(e);
        if (!is_dns_label(s)) {
            size_t m = push(v, "shortNames");
            size_t m2 = push_idx(v, i);
            add_s(v, NULL, E_INVALID, s ? s : "", k1s_validate_dns1123_label(s ? s : ""));
            pop(v, m2);
            pop(v, m);
        }
    }
    pop(v, mark);
}

static void check_subresources(vctx_t *v, const json_t *sub)
{
    const json_t *scale = jobj(sub, "scale");
    if (!scale)
        return;
    size_t mark = push(v, "subresources");
    size_t m2 = push(v, "scale");
    const char *srp = jstr(scale, "specReplicasPath"), *strp = jstr(scale, "statusReplicasPath");
    if (!srp || !*srp)
        add(v, "specReplicasPath", E_REQUIRED, NULL, NULL);
    else if (strncmp(srp, ".spec.", 6))
        add_s(v, "specReplicasPath", E_INVALID, srp, "should be a json path under .spec");
    if (!strp || !*strp)
        add(v, "statusReplicasPath", E_REQUIRED, NULL, NULL);
    else if (strncmp(strp, ".status.", 8))
        add_s(v, "statusReplicasPath", E_INVALID, strp, "should be a json path under .status");
    const char *lsp = jstr(scale, "labelSelectorPath");
    if (lsp && strncmp(lsp, ".spec.", 6) && strncmp(lsp, ".status.", 8))
        add_s(v, "labelSelectorPath", E_INVALID, lsp,
              "should be a json path under either .spec or .status");
    pop(v, m2);
    pop(v, mark);
}

static void check_columns(vctx_t *v, const json_t *cols)
{
    const json_t *c;
    ARR_EACH(cols, i, c)
    {
        size_t mark = push(v, "additionalPrinterColumns");
        size_t m2 = push_idx(v, i);
        if (!jstr(c, "name") || !*jstr(c, "name"))
            add(v, "name", E_REQUIRED, NULL, NULL);
        static const char *const types[] = {"integer", "number", "string", "boolean", "date"};
        static const char type_msg[] = "must be one of boolean,date,integer,number,string";
        const char *t = jstr(c, "type");
        if (!t || !*t)
            add(v, "type", E_REQUIRED, NULL, type_msg);
        else if (!IN(t, types))
            add_s(v, "type", E_INVALID, t, type_msg);
        static const char *const formats[] = {"int32", "int64", "float",     "double",
                                              "byte",  "date",  "date-time", "password"};
        const char *f = jstr(c, "format");
        if (f && *f && !IN(f, formats))
            add_s(v, "format", E_INVALID, f,
                  "must be one of byte,date,date-time,double,float,int32,int64,password");
        if (!jstr(c, "jsonPath") || !*jstr(c, "jsonPath"))
            add(v, "JSONPath", E_REQUIRED, NULL, NULL);
        pop(v, m2);
        pop(v, mark);
    }
}

static void check_versions(vctx_t *v, const json_t *spec)
{
    const json_t *versions = jarr(spec, "versions");
    if (!versions || json_array_size(versions) == 0) {
        add(v, "versions", E_INVALID, "null",
            "must have exactly one version marked as storage version");
        return;
    }
    int storage = 0;
    bool duplicate = false;
    const json_t *ver;
    ARR_EACH(versions, i, ver)
    {
        size_t mark = push(v, "versions");
        size_t m2 = push_idx(v, i);
        const char *name = jstr(ver, "name");
        if (!name || !*name)
            add(v, "name", E_REQUIRED, NULL, NULL);
        else if (!is_dns_label(name))
            add_s(v, "name", E_INVALID, name, k1s_validate_dns1123_label(name));
        const json_t *prev;
        for (size_t j = 0; name && j < i; j++) {
            prev = json_array_get(versions, j);
            if (jstr(prev, "name") && !strcmp(jstr(prev, "name"), name))
                duplicate = true;
        }
        if (jtrue(ver, "storage"))
            storage++;
        const json_t *schema = jobj(jobj(ver, "schema"), "openAPIV3Schema");
        if (!schema && jtrue(ver, "served")) {
            size_t m3 = push(v, "schema");
            add(v, "openAPIV3Schema", E_REQUIRED, NULL, NULL);
            pop(v, m3);
        } else if (schema) {
            size_t m3 = push(v, "schema");
            size_t m4 = push(v, "openAPIV3Schema");
            char *path = k1s_xstrdup(v->path.data);
            v->n += k1s_schema_check_structural(schema, path, v->causes);
            free(path);
            pop(v, m4);
            pop(v, m3);
        }
        check_subresources(v, jobj(ver, "subresources"));
        check_columns(v, jarr(ver, "additionalPrinterColumns"));
        pop(v, m2);
        pop(v, mark);
    }
    /* Kubernetes prints the whole []CustomResourceDefinitionVersion here; an ellipsis will do */
    if (duplicate)
        add(v, "versions", E_INVALID, "[]apiextensions.CustomResourceDefinitionVersion{...}",
            "must contain unique version names");
    if (storage != 1)
        add(v, "versions", E_INVALID, "[]apiextensions.CustomResourceDefinitionVersion{...}",
            "must have exactly one version marked as storage version");
}

int k1s_crd_validate(const json_t *obj, const json_t *old, json_t *causes)
{
    vctx_t vv = {causes, 0, K1S_BUF_INIT}, *v = &vv;
    k1s_buf_reserve(&v->path, 256);
    v->path.data[0] = 0;
    const k1s_resource_t *res = crd_resource();
    if (old)
        k1s_v_meta_update(v, res, obj, old);
    else
        k1s_v_meta_create(v, res, obj);
    const json_t *spec = jobj(obj, "spec");
    const json_t *names = jobj(spec, "names");
    const char *group = jstr(spec, "group"), *plural = jstr(names, "plural");
    const char *name = jstr(jobj(obj, "metadata"), "name");
    if (name && plural && group) {
        char *want = k1s_xasprintf("%s.%s", plural, group);
        if (strcmp(name, want))
            add_s(v, "metadata.name", E_INVALID, name,
                  "must be spec.names.plural+\".\"+spec.group");
        free(want);
    }
    size_t mark = push(v, "spec");
    if (!group || !*group)
        add(v, "group", E_REQUIRED, NULL, NULL);
    else if (k1s_validate_dns1123_subdomain(group))
        add_s(v, "group", E_INVALID, group, k1s_validate_dns1123_subdomain(group));
    else if (!strchr(group, '.'))
        add_s(v, "group", E_INVALID, group, "should be a domain with at least one dot");
    const char *scope = jstr(spec, "scope");
    static const char *const scopes[] = {"Cluster", "Namespaced"};
    if (!scope || !*scope)
        add(v, "scope", E_REQUIRED, NULL, NULL);
    else if (!IN(scope, scopes))
        NOTSUPP(v, "scope", scope, scopes);
    check_names(v, names);
    check_versions(v, spec);
    const char *strategy = jstr(jobj(spec, "conversion"), "strategy");
    if (strategy && strcmp(strategy, "None")) {
        size_t m2 = push(v, "conversion");
        if (!strcmp(strategy, "Webhook"))
            add_s(v, "strategy", E_INVALID, strategy,
                  "conversion webhooks are not supported by this server; use strategy None");
        else {
            static const char *const strategies[] = {"None", "Webhook"};
            NOTSUPP(v, "strategy", strategy, strategies);
        }
        pop(v, m2);
    }
    if (old) {
        const json_t *ospec = jobj(old, "spec");
        const char *oscope = jstr(ospec, "scope"), *ogroup = jstr(ospec, "group");
        if (scope && oscope && strcmp(scope, oscope))
            add_s(v, "scope", E_INVALID, scope, MSG_IMMUTABLE);
        if (group && ogroup && strcmp(group, ogroup))
            add_s(v, "group", E_INVALID, group, MSG_IMMUTABLE);
    }
    pop(v, mark);
    k1s_buf_free(&v->path);
    return v->n;
}

/* ---------- the registry entries of one CRD ---------- */

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? k1s_xstrdup(s) : NULL;
}

static void set_json(json_t **dst, const json_t *v)
{
    json_decref(*dst);
    *dst = v ? json_deep_copy(v) : NULL;
}

/* "example.com" → "com.example" */
static char *reverse_group(const char *g)
{
    k1s_buf_t b = K1S_BUF_INIT;
    const char *end = g + strlen(g);
    while (end > g) {
        const char *dot = end;
        while (dot > g && dot[-1] != '.')
            dot--;
        if (b.len)
            k1s_buf_putc(&b, '.');
        k1s_buf_append(&b, dot, (size_t)(end - dot));
        end = dot > g ? dot - 1 : g;
    }
    return b.data ? k1s_buf_steal(&b) : k1s_xstrdup("");
}

static void track(k1s_resource_t *e)
{
    for (size_t i = 0; i < nclaimed; i++)
        if (claimed[i] == e)
            return;
    claimed = k1s_xrealloc(claimed, (nclaimed + 1) * sizeof(*claimed));
    claimed[nclaimed++] = e;
}

static bool has_default(const json_t *s)
{
    if (json_is_object(s)) {
        if (json_object_get(s, "default"))
            return true;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)s, k, v)
        {
            if (has_default(v))
                return true;
        }
    }
    return false;
}

/* Fills a version's entry from the CRD and its accepted names. */
static void fill_entry(k1s_resource_t *e, const json_t *crd, const json_t *names, const json_t *ver,
                       const char *storage_version, bool terminating)
{
    k1s_crd_info_t *info = (k1s_crd_info_t *)e->crd;
    if (!info) {
        info = k1s_xcalloc(1, sizeof(*info));
        e->crd = info;
    }
    const json_t *spec = jobj(crd, "spec");
    set_str(&info->crd_name, jstr0(jobj(crd, "metadata"), "name"));
    set_str(&info->group, jstr(spec, "group"));
    set_str(&info->kind, jstr(names, "kind"));
    set_str(&info->list_kind, jstr(names, "listKind"));
    set_str(&info->plural, jstr(names, "plural"));
    set_str(&info->singular, jstr(names, "singular"));
    char *rg = reverse_group(info->group ? info->group : "");
    free(info->openapi_name);
    info->openapi_name =
        k1s_xasprintf("%s.%s.%s", rg, jstr0(ver, "name"), info->kind ? info->kind : "");
    free(rg);
    const json_t *sn = jarr(names, "shortNames"), *cats = jarr(names, "categories");
    for (size_t i = 0; i < 4; i++)
        set_str(&info->short_names[i], json_string_value(json_array_get(sn, i)));
    for (size_t i = 0; i < 2; i++)
        set_str(&info->categories[i], json_string_value(json_array_get(cats, i)));
    set_str(&info->storage_version, storage_version);
    set_json(&info->schema, jobj(jobj(ver, "schema"), "openAPIV3Schema"));
    set_json(&info->columns, jarr(ver, "additionalPrinterColumns"));
    info->has_defaults = has_default(info->schema);
    info->versions = json_array_size(jarr(spec, "versions")) > 1 ||
                     json_array_size(jarr(jobj(crd, "status"), "storedVersions")) > 1;
    const json_t *sub = jobj(ver, "subresources");
    info->status = jobj(sub, "status") != NULL;
    const json_t *scale = jobj(sub, "scale");
    info->scale = scale != NULL;
    set_str(&info->spec_replicas_path, jstr(scale, "specReplicasPath"));
    set_str(&info->status_replicas_path, jstr(scale, "statusReplicasPath"));
    set_str(&info->label_selector_path, jstr(scale, "labelSelectorPath"));
    info->terminating = terminating;
    const char *rv = jstr(jobj(crd, "metadata"), "resourceVersion");
    if (!info->rv || !rv || strcmp(info->rv, rv))
        crd_generation++;
    set_str(&info->rv, rv);

    e->group = info->group ? info->group : "";
    e->kind = info->kind ? info->kind : "";
    e->plural = info->plural ? info->plural : "";
    e->singular = info->singular ? info->singular : "";
    for (size_t i = 0; i < 4; i++)
        e->short_names[i] = info->short_names[i];
    for (size_t i = 0; i < 2; i++)
        e->categories[i] = info->categories[i];
    e->namespaced = !strcmp(jstr0(spec, "scope"), "Namespaced");
    e->subresources = (info->status ? K1S_SUB_STATUS : 0) | (info->scale ? K1S_SUB_SCALE : 0);
    e->has_status = info->status;
    e->openapi_name = info->openapi_name;
}

/* ---------- status ---------- */

/* Sets condition type in conds (array), keeping lastTransitionTime when status is unchanged. */
static void set_condition(json_t *conds, const char *type, const char *status, const char *reason,
                          const char *msg, const char *now)
{
    json_t *c = NULL;
    size_t at = 0;
    for (size_t i = 0; i < json_array_size(conds); i++)
        if (!strcmp(jstr0(json_array_get(conds, i), "type"), type)) {
            c = json_array_get(conds, i);
            at = i;
            break;
        }
    const char *ltt = now;
    if (c && !strcmp(jstr0(c, "status"), status) && jstr(c, "lastTransitionTime"))
        ltt = jstr(c, "lastTransitionTime");
    json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status,
                          "lastTransitionTime", ltt, "reason", reason, "message", msg);
    if (c)
        json_array_set_new(conds, at, n);
    else
        json_array_append_new(conds, n);
}

static void del_condition(json_t *conds, const char *type)
{
    json_t *c;
    size_t i;
    json_array_foreach(conds, i, c)
    {
        if (!strcmp(jstr0(c, "type"), type)) {
            json_array_remove(conds, i);
            return;
        }
    }
}

void k1s_crd_prepare_delete(json_t *obj)
{
    json_t *meta = k1s_obj_meta(obj);
    json_t *fin = json_object_get(meta, "finalizers");
    if (!json_is_array(fin)) {
        fin = json_array();
        json_object_set_new(meta, "finalizers", fin);
    }
    json_t *f;
    size_t i;
    json_array_foreach(fin, i, f)
    {
        if (!strcmp(json_string_value(f) ? json_string_value(f) : "", K1S_CRD_FINALIZER))
            return;
    }
    json_array_append_new(fin, json_string(K1S_CRD_FINALIZER));
    char now[32];
    k1s_time_rfc3339(now);
    json_t *st = obj_child(obj, "status");
    json_t *conds = json_object_get(st, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    set_condition(conds, "Terminating", "True", "InstanceDeletionInProgress",
                  "CustomResource deletion is in progress", now);
}

/* ---------- the pass ---------- */

typedef struct item {
    char *key;
    json_t *obj;
    json_t *names;    /* spec.names with defaults */
    json_t *accepted; /* status.acceptedNames, as the naming rules update it */
    bool names_ok;    /* NamesAccepted */
    bool established;
    bool serving;   /* its resource is served */
    char *conflict; /* NamesAccepted=False message */
    const char *reason;
} item_t;

static int collect_key(k1s_kv_t *kv, void *arg)
{
    item_t **items = ((void **)arg)[0];
    size_t *n = ((void **)arg)[1];
    *items = k1s_xrealloc(*items, (*n + 1) * sizeof(**items));
    (*items)[*n] =
        (item_t){k1s_xstrdup(kv->key), NULL, NULL, NULL, false, false, false, NULL, NULL};
    (*n)++;
    return 0;
}

static int item_cmp(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    const char *cx = jstr0(jobj(x->obj, "metadata"), "creationTimestamp");
    const char *cy = jstr0(jobj(y->obj, "metadata"), "creationTimestamp");
    int c = strcmp(cx, cy);
    return c ? c : strcmp(x->key, y->key);
}

/* The names the other CRDs of it's group hold (their accepted names), as
 * NamingConditionController.getAcceptedNamesForGroup collects them. */
static void names_in_use(const item_t *items, size_t n, size_t self, json_t *resources,
                         json_t *kinds)
{
    const char *g = jstr0(jobj(items[self].obj, "spec"), "group");
    for (size_t j = 0; j < n; j++) {
        if (j == self || strcmp(g, jstr0(jobj(items[j].obj, "spec"), "group")))
            continue;
        const json_t *a = items[j].accepted;
        static const char *const rk[] = {"plural", "singular"};
        for (size_t k = 0; k < 2; k++)
            if (jstr(a, rk[k]) && *jstr(a, rk[k]))
                json_object_set_new(resources, jstr(a, rk[k]), json_true());
        const json_t *e;
        ARR_EACH(jarr(a, "shortNames"), k, e)
        {
            if (json_string_value(e))
                json_object_set_new(resources, json_string_value(e), json_true());
        }
        static const char *const kk[] = {"kind", "listKind"};
        for (size_t k = 0; k < 2; k++)
            if (jstr(a, kk[k]) && *jstr(a, kk[k]))
                json_object_set_new(kinds, jstr(a, kk[k]), json_true());
    }
}

/* equalToAcceptedOrFresh */
static bool fresh(const char *requested, const char *accepted, const json_t *used)
{
    if (!requested || (accepted && !strcmp(requested, accepted)))
        return true;
    return !json_object_get(used, requested);
}

static void conflict(item_t *it, const char *reason, const char *msg)
{
    it->names_ok = false;
    it->reason = reason;
    free(it->conflict);
    it->conflict = k1s_xstrdup(msg);
}

/* NamingConditionController.calculateNamesAndConditions: which requested names the CRD may
 * have. Names it already holds stay its own; new ones must not be held by another CRD of the
 * group. */
static void decide_names(item_t *items, size_t n, size_t self)
{
    item_t *it = &items[self];
    json_t *resources = json_object(), *kinds = json_object();
    names_in_use(items, n, self, resources, kinds);
    const json_t *req = it->names;
    json_t *acc = it->accepted, *out = json_deep_copy(acc);
    it->names_ok = true;
    static const struct {
        const char *field, *reason;
        bool kind;
    } rules[] = {{"plural", "PluralConflict", false},
                 {"singular", "SingularConflict", false},
                 {"kind", "KindConflict", true},
                 {"listKind", "ListKindConflict", true}};
    char msg[512];
    for (size_t r = 0; r < K1S_ARRAY_SIZE(rules); r++) {
        if (r == 2) {
            /* short names go between singular and kind, as in Kubernetes */
            const json_t *want = jarr(req, "shortNames"), *have = jarr(acc, "shortNames");
            bool same = (!want || !json_array_size(want)) && (!have || !json_array_size(have));
            if (!same && want && have)
                same = json_equal(want, have);
            if (!same) {
                k1s_buf_t errs = K1S_BUF_INIT;
                int nerr = 0;
                const json_t *e;
                ARR_EACH(want, i, e)
                {
                    const char *sn = json_string_value(e);
                    bool mine = false;
                    const json_t *h;
                    ARR_EACH(have, k, h)
                    {
                        if (sn && json_string_value(h) && !strcmp(sn, json_string_value(h)))
                            mine = true;
                    }
                    if (mine || fresh(sn, NULL, resources))
                        continue;
                    k1s_buf_printf(&errs, "%s\"%s\" is already in use", nerr++ ? ", " : "", sn);
                }
                if (nerr) {
                    snprintf(msg, sizeof(msg), nerr > 1 ? "[%s]" : "%s", errs.data);
                    conflict(it, "ShortNamesConflict", msg);
                } else if (want) {
                    json_object_set(out, "shortNames", (json_t *)want);
                } else {
                    json_object_del(out, "shortNames");
                }
                k1s_buf_free(&errs);
            }
        }
        const char *want = jstr(req, rules[r].field), *have = jstr(acc, rules[r].field);
        if (fresh(want, have, rules[r].kind ? kinds : resources)) {
            if (want)
                json_object_set_new(out, rules[r].field, json_string(want));
        } else {
            snprintf(msg, sizeof(msg), "\"%s\" is already in use", want);
            conflict(it, rules[r].reason, msg);
        }
    }
    static const char *const always[] = {"plural", "kind"}; /* required in acceptedNames */
    for (size_t r = 0; r < 2; r++)
        if (!json_object_get(out, always[r]))
            json_object_set_new(out, always[r], json_string(""));
    const json_t *cats = jarr(req, "categories");
    if (cats)
        json_object_set(out, "categories", (json_t *)cats);
    else
        json_object_del(out, "categories");
    json_decref(it->accepted);
    it->accepted = out;
    /* Established stays once set; otherwise it follows NamesAccepted */
    const json_t *conds = jarr(jobj(it->obj, "status"), "conditions"), *c;
    bool was = false;
    ARR_EACH(conds, i, c)
    {
        if (!strcmp(jstr0(c, "type"), "Established") && !strcmp(jstr0(c, "status"), "True"))
            was = true;
    }
    it->established = was || it->names_ok;
    json_decref(resources);
    json_decref(kinds);
}

static void put_done(int err, k1s_kv_t *kv, void *arg)
{
    if (err < 0)
        k1s_warn("customresourcedefinition write failed: %s", strerror(-err));
}

static void put_crd(k1s_apiserver_t *api, const char *key, json_t *obj)
{
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
    json_object_set_new(k1s_obj_meta(obj), "resourceVersion", json_string(rv));
    k1s_store_put(api->store, key, k1s_obj_encode(obj), k1s_obj_aux_new(crd_resource(), obj),
                  put_done, api);
}

static int count_key(k1s_kv_t *kv, void *arg)
{
    void **a = arg;
    char ***keys = a[0];
    size_t *n = a[1];
    *keys = k1s_xrealloc(*keys, (*n + 1) * sizeof(**keys));
    (*keys)[(*n)++] = k1s_xstrdup(kv->key);
    return 0;
}

/* Deletes the objects of a terminating CRD; returns how many are left to go. */
static size_t cleanup_objects(k1s_apiserver_t *api, const char *crd_name, const k1s_resource_t *res)
{
    char *prefix = k1s_xasprintf("/%s/", crd_name);
    char **keys = NULL;
    size_t n = 0, left = 0;
    void *arg[2] = {&keys, &n};
    k1s_store_range(api->store, prefix, NULL, count_key, arg);
    for (size_t i = 0; i < n; i++) {
        if (k1s_store_get_latest(api->store, keys[i])) {
            left++;
            if (res)
                k1s_rest_internal_delete(api, res, keys[i]);
        }
        free(keys[i]);
    }
    free(keys);
    free(prefix);
    return left;
}

static void remove_finalizer(json_t *obj)
{
    json_t *fin = json_object_get(k1s_obj_meta(obj), "finalizers");
    json_t *f;
    size_t i;
    json_array_foreach(fin, i, f)
    {
        if (json_string_value(f) && !strcmp(json_string_value(f), K1S_CRD_FINALIZER)) {
            json_array_remove(fin, i);
            break;
        }
    }
    if (json_array_size(fin) == 0)
        json_object_del(k1s_obj_meta(obj), "finalizers");
}

static void schedule_in(k1s_apiserver_t *api, long usec);

/* Serves, updates the status of and cleans up one CRD. Returns true while cleanup goes on. */
static bool sync_one(k1s_apiserver_t *api, item_t *it, const char *now)
{
    json_t *crd = it->obj;
    const json_t *spec = jobj(crd, "spec");
    const char *crd_name = jstr0(jobj(crd, "metadata"), "name");
    bool deleting = jget(jobj(crd, "metadata"), "deletionTimestamp") != NULL;
    const json_t *versions = jarr(spec, "versions"), *ver;
    const char *storage = NULL;
    ARR_EACH(versions, i, ver)
    {
        if (jtrue(ver, "storage"))
            storage = jstr(ver, "name");
    }
    const k1s_resource_t *storage_res = NULL;
    bool serve = it->established && jstr(it->accepted, "plural") && *jstr(it->accepted, "plural") &&
                 jstr(it->accepted, "kind") && *jstr(it->accepted, "kind");
    it->serving = serve;
    if (serve) {
        ARR_EACH(versions, i, ver)
        {
            const char *vn = jstr(ver, "name");
            if (!vn)
                continue;
            k1s_resource_t *e = k1s_registry_claim(crd_name, vn);
            track(e);
            fill_entry(e, crd, it->accepted, ver, storage ? storage : vn, deleting);
            k1s_registry_set_served(e, jtrue(ver, "served"));
            ((k1s_crd_info_t *)e->crd)->terminating = deleting;
            if (storage && !strcmp(vn, storage))
                storage_res = e;
        }
    }
    /* status */
    json_t *want = json_deep_copy(crd);
    json_t *st = obj_child(want, "status");
    json_t *conds = json_object_get(st, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    json_object_set(st, "acceptedNames", it->accepted);
    if (it->names_ok)
        set_condition(conds, "NamesAccepted", "True", "NoConflicts", "no conflicts found", now);
    else
        set_condition(conds, "NamesAccepted", "False", it->reason, it->conflict, now);
    if (it->established)
        set_condition(conds, "Established", "True", "InitialNamesAccepted",
                      "the initial names have been accepted", now);
    else
        set_condition(conds, "Established", "False", "NotAccepted", "not all names are accepted",
                      now);
    json_t *stored = json_object_get(st, "storedVersions");
    if (!json_is_array(stored)) {
        stored = json_array();
        json_object_set_new(st, "storedVersions", stored);
    }
    bool have = false;
    json_t *sv;
    size_t si;
    json_array_foreach(stored, si, sv)
    {
        if (storage && json_string_value(sv) && !strcmp(json_string_value(sv), storage))
            have = true;
    }
    if (storage && !have)
        json_array_append_new(stored, json_string(storage));
    bool busy = false;
    if (deleting) {
        size_t left = cleanup_objects(api, crd_name, storage_res);
        if (left > 0) {
            set_condition(conds, "Terminating", "True", "InstanceDeletionInProgress",
                          "CustomResource deletion is in progress", now);
            busy = true;
        } else {
            set_condition(conds, "Terminating", "False", "InstanceDeletionCompleted",
                          "removed all instances", now);
            remove_finalizer(want);
        }
    } else {
        del_condition(conds, "Terminating");
    }
    if (deleting && !json_object_get(k1s_obj_meta(want), "finalizers")) {
        /* the last finalizer is gone: the CRD goes, and with it the resource */
        k1s_store_delete(api->store, it->key, put_done, api);
        for (size_t i = 0; i < nclaimed; i++)
            if (claimed[i]->crd && !strcmp(claimed[i]->crd->crd_name, crd_name))
                k1s_registry_set_served(claimed[i], false);
    } else if (!json_equal(want, crd)) {
        put_crd(api, it->key, want);
    }
    json_decref(want);
    return busy;
}

static void run_pass(k1s_apiserver_t *api)
{
    item_t *items = NULL;
    size_t n = 0;
    void *arg[2] = {&items, &n};
    k1s_store_range(api->store, CRD_PREFIX, NULL, collect_key, arg);
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        k1s_kv_t *kv = k1s_store_get_latest(api->store, items[i].key);
        if (!kv) {
            free(items[i].key);
            continue;
        }
        items[live] = items[i];
        items[live].obj = k1s_obj_decode(kv->value);
        live++;
    }
    n = live;
    if (n > 1)
        qsort(items, n, sizeof(*items), item_cmp);
    char now[32];
    k1s_time_rfc3339(now);
    bool busy = false;
    for (size_t i = 0; i < n; i++) {
        const json_t *an = jobj(jobj(items[i].obj, "status"), "acceptedNames");
        items[i].accepted = an ? json_deep_copy(an) : json_object();
    }
    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        json_t *spec = json_object_get(it->obj, "spec");
        it->names = json_deep_copy(json_object_get(spec, "names"));
        if (!json_is_object(it->names)) {
            json_decref(it->names);
            it->names = json_object();
        }
        const char *kind = jstr(it->names, "kind");
        if (kind && !jstr(it->names, "singular")) {
            char *l = lower(kind);
            json_object_set_new(it->names, "singular", json_string(l));
            free(l);
        }
        if (kind && !jstr(it->names, "listKind")) {
            char *lk = k1s_xasprintf("%sList", kind);
            json_object_set_new(it->names, "listKind", json_string(lk));
            free(lk);
        }
        decide_names(items, n, i);
        if (sync_one(api, it, now))
            busy = true;
    }
    /* entries whose CRD is gone, not accepted, or no longer has their version stop being
     * served */
    for (size_t c = 0; c < nclaimed; c++) {
        if (!claimed[c]->crd)
            continue;
        bool keep = false;
        for (size_t i = 0; i < n && !keep; i++) {
            const char *crd_name = jstr0(jobj(items[i].obj, "metadata"), "name");
            if (!items[i].serving || strcmp(claimed[c]->crd->crd_name, crd_name))
                continue;
            if (!k1s_store_get_latest(api->store, items[i].key))
                continue;
            const json_t *ver;
            ARR_EACH(jarr(jobj(items[i].obj, "spec"), "versions"), k, ver)
            {
                if (jstr(ver, "name") && !strcmp(jstr(ver, "name"), claimed[c]->version) &&
                    jtrue(ver, "served"))
                    keep = true;
            }
        }
        if (!keep)
            k1s_registry_set_served(claimed[c], false);
    }
    for (size_t i = 0; i < n; i++) {
        free(items[i].key);
        json_decref(items[i].obj);
        json_decref(items[i].names);
        json_decref(items[i].accepted);
        free(items[i].conflict);
    }
    free(items);
    k1s_registry_update();
    k1s_watch_close_unserved(api);
    if (busy)
        schedule_in(api, 200000);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    k1s_apiserver_t *api = arg;
    api->crd_pass_pending = false;
    run_pass(api);
}

static void schedule_in(k1s_apiserver_t *api, long usec)
{
    if (api->crd_pass_pending)
        return;
    if (!api->crd_event)
        api->crd_event = event_new(api->base, -1, 0, on_timer, api);
    api->crd_pass_pending = true;
    struct timeval tv = {usec / 1000000, usec % 1000000};
    event_add(api->crd_event, &tv);
}

void k1s_crd_schedule(k1s_apiserver_t *api)
{
    schedule_in(api, 0);
}

void k1s_crd_start(k1s_apiserver_t *api)
{
    run_pass(api);
}
