/*
 * RBAC: the rule matcher and the compiled view of roles and bindings (see
 * rbac.h). The view is a hash table from subject ("u" + user name, "g" +
 * group name) to the grants bound to it: a namespace (NULL for a
 * ClusterRoleBinding), the compiled rules of the role, and the text that
 * explains the grant in a SubjectAccessReview's reason.
 */
#include "api/rbac.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"
#include "api/selector.h"
#include "lib/log.h"

/* ---------- the rule matcher ---------- */

static char **strv_from_json(const json_t *arr)
{
    if (!json_is_array(arr))
        return NULL;
    size_t n = json_array_size(arr);
    char **v = k1s_xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s)
            v[k++] = k1s_xstrdup(s);
    }
    return v;
}

static void strv_free(char **v)
{
    if (!v)
        return;
    for (size_t i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

void k1s_rbac_rule_compile(k1s_rbac_rule_t *r, const json_t *rule)
{
    r->verbs = strv_from_json(json_object_get(rule, "verbs"));
    r->groups = strv_from_json(json_object_get(rule, "apiGroups"));
    r->resources = strv_from_json(json_object_get(rule, "resources"));
    r->names = strv_from_json(json_object_get(rule, "resourceNames"));
    r->urls = strv_from_json(json_object_get(rule, "nonResourceURLs"));
}

void k1s_rbac_rule_clear(k1s_rbac_rule_t *r)
{
    strv_free(r->verbs);
    strv_free(r->groups);
    strv_free(r->resources);
    strv_free(r->names);
    strv_free(r->urls);
    memset(r, 0, sizeof(*r));
}

static bool has_or_star(char *const *v, const char *s)
{
    if (!v)
        return false;
    for (size_t i = 0; v[i]; i++)
        if (!strcmp(v[i], "*") || !strcmp(v[i], s))
            return true;
    return false;
}

static bool resource_matches(char *const *v, const char *res, const char *sub)
{
    if (!v)
        return false;
    size_t rl = strlen(res), sl = sub ? strlen(sub) : 0;
    for (size_t i = 0; v[i]; i++) {
        const char *x = v[i];
        if (!strcmp(x, "*"))
            return true;
        if (!sl) {
            if (!strcmp(x, res))
                return true;
            continue;
        }
        /* "res/sub", or "*\/sub" for that subresource of everything */
        size_t xl = strlen(x);
        if (xl == rl + 1 + sl && !strncmp(x, res, rl) && x[rl] == '/' && !strcmp(x + rl + 1, sub))
            return true;
        if (xl == sl + 2 && x[0] == '*' && x[1] == '/' && !strcmp(x + 2, sub))
            return true;
    }
    return false;
}

static bool name_matches(char *const *v, const char *name)
{
    if (!v || !v[0])
        return true;
    for (size_t i = 0; v[i]; i++)
        if (!strcmp(v[i], name))
            return true;
    return false;
}

static bool url_matches(char *const *v, const char *path)
{
    if (!v)
        return false;
    for (size_t i = 0; v[i]; i++) {
        const char *u = v[i];
        size_t n = strlen(u);
        if (!strcmp(u, "*") || !strcmp(u, path))
            return true;
        if (n && u[n - 1] == '*' && !strncmp(u, path, n - 1))
            return true;
    }
    return false;
}

bool k1s_rbac_rule_allows(const k1s_rbac_rule_t *r, const k1s_authz_attrs_t *a)
{
    if (!has_or_star(r->verbs, a->verb))
        return false;
    if (!a->resource_request)
        return url_matches(r->urls, a->path);
    return has_or_star(r->groups, a->group) &&
           resource_matches(r->resources, a->resource, a->sub) && name_matches(r->names, a->name);
}

/* ---------- the compiled view ---------- */

typedef struct ruleset {
    char *name; /* "ns/name" for Roles, "name" for ClusterRoles */
    json_t *rules;
    k1s_rbac_rule_t *compiled;
    size_t n;
} ruleset_t;

typedef struct grant {
    char *ns; /* NULL for a ClusterRoleBinding */
    const ruleset_t *rs;
    char *why; /* `ClusterRoleBinding "x" of ClusterRole "y" to Group "z"` */
} grant_t;

typedef struct subject {
    char *key; /* NULL: empty slot */
    grant_t *g;
    size_t n, cap;
} subject_t;

/*
 * The decoded objects under one prefix, in key order, with their
 * revisions: a rebuild decodes only the objects that changed since the
 * previous one (old, walked in step with the store's range, which is in key
 * order too), so creating many bindings one after another stays linear.
 */
typedef struct objv {
    json_t **o;
    char **keys;
    int64_t *revs;
    size_t n, cap;
    struct objv *old;
    size_t cursor;
} objv_t;

struct k1s_rbac {
    struct event_base *base;
    k1s_store_t *store;
    k1s_store_watch_t *watches[4];
    struct event *later; /* deferred rebuild after a change (runs aggregation) */
    bool dirty;
    objv_t cache[4];     /* decoded objects under each of prefixes[] */
    ruleset_t *crs, *rs; /* ClusterRoles, Roles: sorted by name */
    size_t ncrs, nrs;
    subject_t *subj;
    size_t nsubj_slots, nsubj;
};

static const char *const prefixes[4] = {"/clusterroles/", "/roles/", "/clusterrolebindings/",
                                        "/rolebindings/"};

static uint64_t fnv(const char *kind, const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    h = (h ^ (unsigned char)kind[0]) * 1099511628211ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static subject_t *subj_find(k1s_rbac_t *rb, const char *kind, const char *name, bool create)
{
    if (!rb->nsubj_slots)
        return NULL;
    size_t mask = rb->nsubj_slots - 1;
    for (size_t i = fnv(kind, name) & mask;; i = (i + 1) & mask) {
        subject_t *s = &rb->subj[i];
        if (!s->key) {
            if (!create)
                return NULL;
            s->key = k1s_xasprintf("%c%s", kind[0], name);
            rb->nsubj++;
            return s;
        }
        if (s->key[0] == kind[0] && !strcmp(s->key + 1, name))
            return s;
    }
}

static void ruleset_clear(ruleset_t *r)
{
    free(r->name);
    json_decref(r->rules);
    for (size_t i = 0; i < r->n; i++)
        k1s_rbac_rule_clear(&r->compiled[i]);
    free(r->compiled);
}

static void view_clear(k1s_rbac_t *rb)
{
    for (size_t i = 0; i < rb->ncrs; i++)
        ruleset_clear(&rb->crs[i]);
    for (size_t i = 0; i < rb->nrs; i++)
        ruleset_clear(&rb->rs[i]);
    free(rb->crs);
    free(rb->rs);
    rb->crs = rb->rs = NULL;
    rb->ncrs = rb->nrs = 0;
    for (size_t i = 0; i < rb->nsubj_slots; i++) {
        subject_t *s = &rb->subj[i];
        free(s->key);
        for (size_t j = 0; j < s->n; j++) {
            free(s->g[j].ns);
            free(s->g[j].why);
        }
        free(s->g);
    }
    free(rb->subj);
    rb->subj = NULL;
    rb->nsubj_slots = rb->nsubj = 0;
}

static int collect(k1s_kv_t *kv, void *arg)
{
    objv_t *v = arg, *old = v->old;
    json_t *o = NULL;
    while (old && old->cursor < old->n && strcmp(old->keys[old->cursor], kv->key) < 0)
        old->cursor++;
    if (old && old->cursor < old->n && !strcmp(old->keys[old->cursor], kv->key) &&
        old->revs[old->cursor] == kv->mod_rev)
        o = json_incref(old->o[old->cursor]);
    if (!o)
        o = k1s_obj_decode(kv->value);
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->o = k1s_xrealloc(v->o, v->cap * sizeof(json_t *));
        v->keys = k1s_xrealloc(v->keys, v->cap * sizeof(char *));
        v->revs = k1s_xrealloc(v->revs, v->cap * sizeof(int64_t));
    }
    v->o[v->n] = o;
    v->keys[v->n] = k1s_xstrdup(kv->key);
    v->revs[v->n++] = kv->mod_rev;
    return 0;
}

static void objv_free(objv_t *v)
{
    for (size_t i = 0; i < v->n; i++) {
        json_decref(v->o[i]);
        free(v->keys[i]);
    }
    free(v->o);
    free(v->keys);
    free(v->revs);
    memset(v, 0, sizeof(*v));
}

static void ruleset_init(ruleset_t *r, const char *name, const json_t *rules)
{
    r->name = k1s_xstrdup(name);
    r->rules = json_is_array(rules) ? json_incref((json_t *)rules) : json_array();
    r->n = json_array_size(r->rules);
    r->compiled = k1s_xcalloc(r->n ? r->n : 1, sizeof(k1s_rbac_rule_t));
    for (size_t i = 0; i < r->n; i++)
        k1s_rbac_rule_compile(&r->compiled[i], json_array_get(r->rules, i));
}

static const ruleset_t *ruleset_find(const ruleset_t *v, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(v[mid].name, name);
        if (!c)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int ruleset_cmp(const void *a, const void *b)
{
    return strcmp(((const ruleset_t *)a)->name, ((const ruleset_t *)b)->name);
}

static bool rules_contain(const json_t *rules, const json_t *rule)
{
    size_t i;
    json_t *x;
    json_array_foreach(rules, i, x)
    {
        if (json_equal(x, rule))
            return true;
    }
    return false;
}

/* Writes cr (a ClusterRole) back with new rules when the latest stored value differs. */
static void write_aggregated(k1s_rbac_t *rb, const char *name, const json_t *rules)
{
    const k1s_resource_t *res =
        k1s_registry_find("rbac.authorization.k8s.io", "v1", "clusterroles");
    char *key = k1s_obj_key(res, NULL, name);
    k1s_kv_t *kv = k1s_store_get_latest(rb->store, key);
    if (kv) {
        json_t *obj = k1s_obj_decode(kv->value);
        json_t *cur = json_object_get(obj, "rules");
        bool same = json_is_array(cur) ? json_equal(cur, rules) : json_array_size(rules) == 0;
        if (!same) {
            json_object_set(obj, "rules", (json_t *)rules);
            char rv[32];
            snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(rb->store));
            json_object_set_new(k1s_obj_meta(obj), "resourceVersion", json_string(rv));
            k1s_store_put(rb->store, key, k1s_obj_encode(obj), k1s_obj_aux_new(res, obj), NULL,
                          NULL);
        }
        json_decref(obj);
    }
    free(key);
}

/*
 * The clusterrole-aggregation controller: each ClusterRole with an
 * aggregationRule gets the rules of the others its selectors match, in name
 * order, without duplicates. Repeated until nothing changes, so aggregated
 * roles that are themselves aggregated (view into edit into admin) settle.
 */
static void aggregate(k1s_rbac_t *rb, const objv_t *crs, json_t **rules)
{
    size_t n = crs->n;
    k1s_label_selector_t ***sels = k1s_xcalloc(n ? n : 1, sizeof(void *));
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_object_get(crs->o[i], "rules");
        rules[i] = json_is_array(r) ? json_incref(r) : json_array();
        json_t *ar = json_object_get(crs->o[i], "aggregationRule");
        json_t *cs = ar ? json_object_get(ar, "clusterRoleSelectors") : NULL;
        if (!json_is_array(cs))
            continue;
        any = true;
        sels[i] = k1s_xcalloc(json_array_size(cs) + 1, sizeof(k1s_label_selector_t *));
        size_t k = 0, j;
        json_t *s;
        json_array_foreach(cs, j, s)
        {
            k1s_err_t err = {0};
            k1s_label_selector_t *ls = k1s_label_selector_from_json(s, &err);
            if (ls)
                sels[i][k++] = ls;
        }
    }
    for (int pass = 0; any && pass < 8; pass++) {
        bool changed = false;
        for (size_t i = 0; i < n; i++) {
            if (!sels[i])
                continue;
            json_t *nr = json_array();
            const char *me = k1s_obj_str(crs->o[i], "metadata.name");
            for (size_t j = 0; j < n; j++) {
                if (j == i || !strcmp(k1s_obj_str(crs->o[j], "metadata.name"), me))
                    continue;
                const json_t *labels =
                    json_object_get(json_object_get(crs->o[j], "metadata"), "labels");
                bool match = false;
                for (size_t s = 0; sels[i][s] && !match; s++)
                    match = !k1s_label_selector_empty(sels[i][s]) &&
                            k1s_label_selector_matches(sels[i][s], labels);
                if (!match)
                    continue;
                size_t x;
                json_t *rule;
                json_array_foreach(rules[j], x, rule)
                {
                    if (!rules_contain(nr, rule))
                        json_array_append(nr, rule);
                }
            }
            if (!json_equal(nr, rules[i])) {
                json_decref(rules[i]);
                rules[i] = nr;
                changed = true;
            } else
                json_decref(nr);
        }
        if (!changed)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        if (sels[i]) {
            write_aggregated(rb, k1s_obj_str(crs->o[i], "metadata.name"), rules[i]);
            for (size_t s = 0; sels[i][s]; s++)
                k1s_label_selector_free(sels[i][s]);
            free(sels[i]);
        }
    }
    free(sels);
}

static void add_grant(k1s_rbac_t *rb, const char *kind, const char *name, const char *ns,
                      const ruleset_t *rs, char *why)
{
    subject_t *s = subj_find(rb, kind, name, true);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->g = k1s_xrealloc(s->g, s->cap * sizeof(grant_t));
    }
    s->g[s->n++] = (grant_t){ns ? k1s_xstrdup(ns) : NULL, rs, why};
}

static void add_binding(k1s_rbac_t *rb, const json_t *b, bool cluster)
{
    const char *bname = k1s_obj_str(b, "metadata.name");
    const char *bns = cluster ? NULL : k1s_obj_str(b, "metadata.namespace");
    const char *rkind = k1s_obj_str(b, "roleRef.kind");
    const char *rname = k1s_obj_str(b, "roleRef.name");
    if (!bname || !rkind || !rname || (!cluster && !bns))
        return;
    const ruleset_t *rs = NULL;
    if (!strcmp(rkind, "ClusterRole"))
        rs = ruleset_find(rb->crs, rb->ncrs, rname);
    else if (!cluster && !strcmp(rkind, "Role")) {
        char *k = k1s_xasprintf("%s/%s", bns, rname);
        rs = ruleset_find(rb->rs, rb->nrs, k);
        free(k);
    }
    if (!rs)
        return;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(b, "subjects"), i, s)
    {
        const char *kind = json_string_value(json_object_get(s, "kind"));
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!kind || !name)
            continue;
        char *user = NULL;
        const char *sk = NULL, *sname = name;
        char desc[512];
        if (!strcmp(kind, "User")) {
            sk = "u";
            snprintf(desc, sizeof(desc), "User \"%s\"", name);
        } else if (!strcmp(kind, "Group")) {
            sk = "g";
            snprintf(desc, sizeof(desc), "Group \"%s\"", name);
        } else if (!strcmp(kind, "ServiceAccount")) {
            const char *ns = json_string_value(json_object_get(s, "namespace"));
            if (!ns || !*ns)
                ns = bns ? bns : "";
            user = k1s_xasprintf("system:serviceaccount:%s:%s", ns, name);
            sk = "u";
            sname = user;
            snprintf(desc, sizeof(desc), "ServiceAccount \"%s/%s\"", name, ns);
        } else
            continue;
        char *why = cluster ? k1s_xasprintf("ClusterRoleBinding \"%s\" of %s \"%s\" to %s", bname,
                                            rkind, rname, desc)
                            : k1s_xasprintf("RoleBinding \"%s/%s\" of %s \"%s\" to %s", bname, bns,
                                            rkind, rname, desc);
        add_grant(rb, sk, sname, bns, rs, why);
        free(user);
    }
}

static void rebuild(k1s_rbac_t *rb)
{
    rb->dirty = false;
    view_clear(rb);
    for (int i = 0; i < 4; i++) {
        objv_t next = {.old = &rb->cache[i]};
        rb->cache[i].cursor = 0;
        k1s_store_range(rb->store, prefixes[i], NULL, collect, &next);
        objv_free(&rb->cache[i]);
        next.old = NULL;
        rb->cache[i] = next;
    }
    const objv_t crs = rb->cache[0], roles = rb->cache[1], crbs = rb->cache[2], rbs = rb->cache[3];
    /* the ClusterRoles' rules, aggregated ones computed (new references) */
    json_t **rules = k1s_xcalloc(crs.n + 1, sizeof(json_t *));
    aggregate(rb, &crs, rules);
    rb->crs = k1s_xcalloc(crs.n + 1, sizeof(ruleset_t));
    for (size_t i = 0; i < crs.n; i++) {
        const char *name = k1s_obj_str(crs.o[i], "metadata.name");
        if (name)
            ruleset_init(&rb->crs[rb->ncrs++], name, rules[i]);
        json_decref(rules[i]);
    }
    free(rules);
    qsort(rb->crs, rb->ncrs, sizeof(ruleset_t), ruleset_cmp);
    rb->rs = k1s_xcalloc(roles.n + 1, sizeof(ruleset_t));
    for (size_t i = 0; i < roles.n; i++) {
        const char *name = k1s_obj_str(roles.o[i], "metadata.name");
        const char *ns = k1s_obj_str(roles.o[i], "metadata.namespace");
        if (!name || !ns)
            continue;
        char *k = k1s_xasprintf("%s/%s", ns, name);
        ruleset_init(&rb->rs[rb->nrs++], k, json_object_get(roles.o[i], "rules"));
        free(k);
    }
    qsort(rb->rs, rb->nrs, sizeof(ruleset_t), ruleset_cmp);
    /* at most one subject slot per binding subject; keep the table at most half full */
    size_t nsub = 16;
    for (size_t i = 0; i < crbs.n; i++)
        nsub += json_array_size(json_object_get(crbs.o[i], "subjects"));
    for (size_t i = 0; i < rbs.n; i++)
        nsub += json_array_size(json_object_get(rbs.o[i], "subjects"));
    rb->nsubj_slots = 64;
    while (rb->nsubj_slots < 2 * nsub)
        rb->nsubj_slots *= 2;
    rb->subj = k1s_xcalloc(rb->nsubj_slots, sizeof(subject_t));
    for (size_t i = 0; i < crbs.n; i++)
        add_binding(rb, crbs.o[i], true);
    for (size_t i = 0; i < rbs.n; i++)
        add_binding(rb, rbs.o[i], false);
}

json_t *k1s_rbac_role_rules(k1s_rbac_t *rb, const char *ns, const char *name)
{
    k1s_rbac_sync(rb);
    const ruleset_t *rs;
    if (ns) {
        char *k = k1s_xasprintf("%s/%s", ns, name);
        rs = ruleset_find(rb->rs, rb->nrs, k);
        free(k);
    } else
        rs = ruleset_find(rb->crs, rb->ncrs, name);
    return rs ? json_incref(rs->rules) : NULL;
}

void k1s_rbac_sync(k1s_rbac_t *rb)
{
    if (rb->dirty)
        rebuild(rb);
}

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
    k1s_rbac_sync(arg);
}

static int on_change(const k1s_store_event_t *ev, void *arg)
{
    k1s_rbac_t *rb = arg;
    rb->dirty = true;
    /* aggregation must follow changes even when no request comes; a burst of
     * writes gets one rebuild */
    if (!evtimer_pending(rb->later, NULL)) {
        struct timeval tv = {0, 20000};
        evtimer_add(rb->later, &tv);
    }
    return 0;
}

k1s_rbac_t *k1s_rbac_new(struct event_base *base, k1s_store_t *store)
{
    k1s_rbac_t *rb = k1s_xcalloc(1, sizeof(*rb));
    rb->base = base;
    rb->store = store;
    rb->dirty = true;
    rb->later = event_new(base, -1, 0, later_cb, rb);
    for (int i = 0; i < 4; i++)
        k1s_store_watch(store, prefixes[i], k1s_store_rev(store), on_change, rb, &rb->watches[i]);
    return rb;
}

void k1s_rbac_free(k1s_rbac_t *rb)
{
    if (!rb)
        return;
    for (int i = 0; i < 4; i++)
        k1s_store_unwatch(rb->watches[i]);
    if (rb->later)
        event_free(rb->later);
    view_clear(rb);
    for (int i = 0; i < 4; i++)
        objv_free(&rb->cache[i]);
    free(rb);
}

/* Calls fn for every grant of user and its groups that applies in ns, until fn returns true. */
typedef bool (*grant_fn)(const grant_t *g, void *arg);

static bool visit(k1s_rbac_t *rb, const char *user, char *const *groups, const char *ns,
                  grant_fn fn, void *arg)
{
    k1s_rbac_sync(rb);
    size_t ng = 0;
    while (groups && groups[ng])
        ng++;
    for (size_t k = 0; k <= ng; k++) {
        const char *kind = k ? "g" : "u";
        const char *name = k ? groups[k - 1] : user;
        subject_t *s = subj_find(rb, kind, name, false);
        if (!s)
            continue;
        for (size_t i = 0; i < s->n; i++) {
            const grant_t *g = &s->g[i];
            if (g->ns && (!ns || !*ns || strcmp(g->ns, ns)))
                continue;
            if (fn(g, arg))
                return true;
        }
    }
    return false;
}

typedef struct authz_ctx {
    const k1s_authz_attrs_t *a;
    const grant_t *by;
} authz_ctx_t;

static bool check_grant(const grant_t *g, void *arg)
{
    authz_ctx_t *c = arg;
    for (size_t i = 0; i < g->rs->n; i++)
        if (k1s_rbac_rule_allows(&g->rs->compiled[i], c->a)) {
            c->by = g;
            return true;
        }
    return false;
}

bool k1s_rbac_authorize(k1s_rbac_t *rb, const k1s_authz_attrs_t *a, char *reason, size_t len)
{
    authz_ctx_t c = {a, NULL};
    const char *ns = a->resource_request ? a->ns : NULL;
    if (!visit(rb, a->user, a->groups, ns, check_grant, &c))
        return false;
    if (reason)
        snprintf(reason, len, "RBAC: allowed by %s", c.by->why);
    return true;
}

typedef struct rules_ctx {
    json_t *res, *nonres;
    const ruleset_t **seen;
    size_t nseen, cap;
} rules_ctx_t;

static bool add_rules(const grant_t *g, void *arg)
{
    rules_ctx_t *c = arg;
    for (size_t i = 0; i < c->nseen; i++)
        if (c->seen[i] == g->rs)
            return false;
    if (c->nseen == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->seen = k1s_xrealloc(c->seen, c->cap * sizeof(void *));
    }
    c->seen[c->nseen++] = g->rs;
    size_t i;
    json_t *rule;
    json_array_foreach(g->rs->rules, i, rule)
    {
        json_t *verbs = json_object_get(rule, "verbs");
        json_t *urls = json_object_get(rule, "nonResourceURLs");
        if (json_array_size(urls)) {
            json_array_append_new(c->nonres,
                                  json_pack("{s:O, s:O}", "verbs", verbs, "nonResourceURLs", urls));
            continue;
        }
        json_t *o = json_pack("{s:O}", "verbs", verbs);
        json_t *v;
        if ((v = json_object_get(rule, "apiGroups")))
            json_object_set(o, "apiGroups", v);
        if ((v = json_object_get(rule, "resources")))
            json_object_set(o, "resources", v);
        if ((v = json_object_get(rule, "resourceNames")))
            json_object_set(o, "resourceNames", v);
        json_array_append_new(c->res, o);
    }
    return false;
}

void k1s_rbac_rules_for(k1s_rbac_t *rb, const char *user, char *const *groups, const char *ns,
                        json_t *resource_rules, json_t *nonresource_rules)
{
    rules_ctx_t c = {resource_rules, nonresource_rules, NULL, 0, 0};
    visit(rb, user, groups, ns, add_rules, &c);
    free(c.seen);
}
