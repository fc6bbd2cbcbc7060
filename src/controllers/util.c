/*
 * Helpers shared by the controllers (see controller.h): keys, queueing
 * objects' keys from informer events, owner references and the owners to
 * queue when an owned object changes, selectors, times, pod states and
 * ordering, pods from templates, template hashes, and expectations.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/selector.h"
#include "client/strmap.h"
#include "client/workqueue.h"
#include "controllers/controller.h"
#include "lib/util.h"

const char *k1s_ctrl_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

const char *k1s_ctrl_name(const json_t *o)
{
    return k1s_ctrl_str(json_object_get(o, "metadata"), "name");
}

const char *k1s_ctrl_namespace(const json_t *o)
{
    return k1s_ctrl_str(json_object_get(o, "metadata"), "namespace");
}

char *k1s_ctrl_key(const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = k1s_ctrl_str(md, "namespace");
    if (!*ns)
        return k1s_xstrdup(k1s_ctrl_str(md, "name"));
    return k1s_xasprintf("%s/%s", ns, k1s_ctrl_str(md, "name"));
}

void k1s_ctrl_split_key(const char *key, char **ns, char **name)
{
    const char *slash = strchr(key, '/');
    if (!slash) {
        *ns = k1s_xstrdup("");
        *name = k1s_xstrdup(key);
        return;
    }
    *ns = k1s_xstrndup(key, (size_t)(slash - key));
    *name = k1s_xstrdup(slash + 1);
}

json_t *k1s_ctrl_get_by_key(const k1s_informer_t *inf, const char *key)
{
    char *ns, *name;
    k1s_ctrl_split_key(key, &ns, &name);
    json_t *o = k1s_informer_get(inf, ns, name);
    free(ns);
    free(name);
    return o;
}

void k1s_ctrl_index_namespace(k1s_informer_t *inf)
{
    k1s_informer_add_indexer(inf, "namespace", k1s_index_by_namespace);
}

void k1s_ctrl_index_owner(k1s_informer_t *inf)
{
    k1s_informer_add_indexer(inf, "owner", k1s_index_by_owner_uid);
}

void k1s_ctrl_index_node(k1s_informer_t *inf)
{
    k1s_informer_add_indexer(inf, "nodeName", k1s_index_by_node_name);
}

void k1s_ctrl_enqueue(k1s_workqueue_t *q, const json_t *obj)
{
    char *key = k1s_ctrl_key(obj);
    k1s_workqueue_add(q, key);
    free(key);
}

void k1s_ctrl_enqueue_obj(json_t *obj, void *queue)
{
    k1s_ctrl_enqueue(queue, obj);
}

void k1s_ctrl_enqueue_new(json_t *old_obj, json_t *new_obj, void *queue)
{
    (void)old_obj;
    k1s_ctrl_enqueue(queue, new_obj);
}

void k1s_ctrl_watch_keys(k1s_informer_t *inf, k1s_workqueue_t *q)
{
    k1s_informer_handlers_t h = {k1s_ctrl_enqueue_obj, k1s_ctrl_enqueue_new, k1s_ctrl_enqueue_obj,
                                 q};
    k1s_informer_add_handlers(inf, &h);
}

bool k1s_ctrl_synced(k1s_workqueue_t *q, const char *key, k1s_informer_t *const *infs)
{
    for (; *infs; infs++) {
        if (!k1s_informer_has_synced(*infs)) {
            k1s_workqueue_add_after(q, key, 100);
            k1s_workqueue_done(q, key);
            return false;
        }
    }
    return true;
}

static int index_orphans(json_t *obj, const char **out)
{
    if (k1s_ctrl_controller_ref(obj))
        return 0;
    out[0] = k1s_ctrl_str(json_object_get(obj, "metadata"), "namespace");
    return 1;
}

void k1s_ctrl_index_orphans(k1s_informer_t *inf)
{
    k1s_informer_add_indexer(inf, "orphans", index_orphans);
}

json_t *k1s_ctrl_controller_ref(const json_t *obj)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        if (json_is_true(json_object_get(ref, "controller")))
            return ref;
    }
    return NULL;
}

json_t *k1s_ctrl_new_controller_ref(const json_t *owner)
{
    const json_t *md = json_object_get(owner, "metadata");
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", k1s_ctrl_str(owner, "apiVersion"),
                     "kind", k1s_ctrl_str(owner, "kind"), "name", k1s_ctrl_str(md, "name"), "uid",
                     k1s_ctrl_str(md, "uid"), "controller", 1, "blockOwnerDeletion", 1);
}

json_t *k1s_ctrl_resolve_owner(const k1s_informer_t *owners, const json_t *obj, const char *kind)
{
    const json_t *ref = k1s_ctrl_controller_ref(obj);
    if (!ref || strcmp(k1s_ctrl_str(ref, "kind"), kind))
        return NULL;
    const char *ns = k1s_ctrl_str(json_object_get(obj, "metadata"), "namespace");
    json_t *owner = k1s_informer_get(owners, ns, k1s_ctrl_str(ref, "name"));
    if (!owner ||
        strcmp(k1s_ctrl_str(json_object_get(owner, "metadata"), "uid"), k1s_ctrl_str(ref, "uid")))
        return NULL;
    return owner;
}

void k1s_ctrl_enqueue_selecting(const k1s_informer_t *owners, k1s_workqueue_t *q, const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    json_t **all = NULL;
    int n = k1s_informer_by_index(owners, "namespace", k1s_ctrl_str(md, "namespace"), &all);
    for (int i = 0; i < n; i++)
        if (k1s_ctrl_selector_matches(json_object_get(json_object_get(all[i], "spec"), "selector"),
                                      json_object_get(md, "labels")))
            k1s_ctrl_enqueue(q, all[i]);
    free(all);
}

void k1s_ctrl_enqueue_owners_update(const k1s_informer_t *owners, k1s_workqueue_t *q,
                                    const char *kind, const json_t *old_obj, const json_t *new_obj)
{
    json_t *old_owner = k1s_ctrl_resolve_owner(owners, old_obj, kind);
    json_t *new_owner = k1s_ctrl_resolve_owner(owners, new_obj, kind);
    if (old_owner && old_owner != new_owner)
        k1s_ctrl_enqueue(q, old_owner);
    if (new_owner) {
        k1s_ctrl_enqueue(q, new_owner);
        return;
    }
    if (!k1s_ctrl_controller_ref(new_obj) &&
        (!json_equal(json_object_get(json_object_get(old_obj, "metadata"), "labels"),
                     json_object_get(json_object_get(new_obj, "metadata"), "labels")) ||
         k1s_ctrl_controller_ref(old_obj)))
        k1s_ctrl_enqueue_selecting(owners, q, new_obj);
}

char *k1s_ctrl_adopt_patch(const json_t *owner, const json_t *obj, const char *finalizer)
{
    json_t *md = json_pack("{s:[o],s:s}", "ownerReferences", k1s_ctrl_new_controller_ref(owner),
                           "uid", k1s_ctrl_str(json_object_get(obj, "metadata"), "uid"));
    if (finalizer)
        json_object_set_new(md, "finalizers", json_pack("[s]", finalizer));
    json_t *p = json_pack("{s:o}", "metadata", md);
    char *body = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    return body;
}

char *k1s_ctrl_release_patch(const json_t *owner, const json_t *obj, const char *finalizer)
{
    json_t *md = json_pack("{s:[{s:s,s:s}],s:s}", "ownerReferences", "$patch", "delete", "uid",
                           k1s_ctrl_str(json_object_get(owner, "metadata"), "uid"), "uid",
                           k1s_ctrl_str(json_object_get(obj, "metadata"), "uid"));
    if (finalizer)
        json_object_set_new(md, "$deleteFromPrimitiveList/finalizers", json_pack("[s]", finalizer));
    json_t *p = json_pack("{s:o}", "metadata", md);
    char *body = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    return body;
}

char *k1s_ctrl_claim_patch(const json_t *owner, const json_t *pod, bool match,
                           const char *finalizer)
{
    const json_t *ref = k1s_ctrl_controller_ref(pod);
    if (!ref)
        return match ? k1s_ctrl_adopt_patch(owner, pod, finalizer) : NULL;
    if (!match &&
        !strcmp(k1s_ctrl_str(ref, "uid"), k1s_ctrl_str(json_object_get(owner, "metadata"), "uid")))
        return k1s_ctrl_release_patch(owner, pod, finalizer);
    return NULL;
}

int k1s_ctrl_claim_pods(const k1s_informer_t *pods, const json_t *owner, const char *finalizer,
                        bool (*member)(const json_t *owner, const json_t *pod),
                        void (*start)(const json_t *pod, char *body, void *arg), void *arg)
{
    k1s_err_t err = {0};
    k1s_label_selector_t *sel = k1s_label_selector_from_json(
        json_object_get(json_object_get(owner, "spec"), "selector"), &err);
    if (!sel)
        return 0;
    json_t **all = NULL;
    int n = k1s_informer_by_index(
        pods, "namespace", k1s_ctrl_str(json_object_get(owner, "metadata"), "namespace"), &all);
    int started = 0;
    for (int i = 0; i < n; i++) {
        const json_t *pod = all[i];
        if (k1s_ctrl_deleting(pod))
            continue;
        bool match = k1s_label_selector_matches(
                         sel, json_object_get(json_object_get(pod, "metadata"), "labels")) &&
                     (!member || member(owner, pod));
        char *body = k1s_ctrl_claim_patch(owner, pod, match, finalizer);
        if (!body)
            continue;
        start(pod, body, arg);
        started++;
    }
    free(all);
    k1s_label_selector_free(sel);
    return started;
}

void k1s_ctrl_strmap_free_all(k1s_strmap_t *m)
{
    const char *k;
    void *v;
    for (size_t i = 0; k1s_strmap_next(m, &i, &k, &v);)
        free(v);
    k1s_strmap_free(m);
}

bool k1s_ctrl_ok(const k1s_client_result_t *res)
{
    return res->status >= 200 && res->status < 300;
}

void k1s_ctrl_sync_done(k1s_workqueue_t *q, const char *key, bool retry)
{
    if (retry)
        k1s_workqueue_add_rate_limited(q, key);
    else
        k1s_workqueue_forget(q, key);
    k1s_workqueue_done(q, key);
}

json_t *k1s_ctrl_sync_object(k1s_workqueue_t *q, const char *key, bool synced,
                             const k1s_informer_t *inf, k1s_expectations_t *e)
{
    if (!synced) {
        k1s_workqueue_add_after(q, key, 100);
        k1s_workqueue_done(q, key);
        return NULL;
    }
    json_t *obj = k1s_ctrl_get_by_key(inf, key);
    if (!obj) {
        if (e)
            k1s_expect_forget(e, key);
        k1s_ctrl_sync_done(q, key, false);
    }
    return obj;
}

bool k1s_ctrl_deleting(const json_t *obj)
{
    const json_t *ts = json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp");
    return ts && !json_is_null(ts);
}

bool k1s_ctrl_selector_matches(const json_t *selector, const json_t *labels)
{
    if (!selector || json_is_null(selector))
        return false;
    k1s_err_t err = {0};
    k1s_label_selector_t *sel = k1s_label_selector_from_json(selector, &err);
    if (!sel)
        return false;
    bool m = k1s_label_selector_matches(sel, labels);
    k1s_label_selector_free(sel);
    return m;
}

/* ---- time ---- */

static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

int64_t k1s_ctrl_parse_time(const char *s)
{
    if (!s)
        return -1;
    const char *p = s;
    struct tm tm = {0};
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return -1;
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return -1;
    int d = digits(&p, 2);
    if (d < 1 || d > 31 || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    int h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':')
        return -1;
    int mi = digits(&p, 2);
    if (mi < 0 || mi > 59 || *p++ != ':')
        return -1;
    int sec = digits(&p, 2);
    if (sec < 0 || sec > 60)
        return -1;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    int64_t t = (int64_t)timegm(&tm);
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2);
        if (oh < 0 || *p++ != ':')
            return -1;
        int om = digits(&p, 2);
        if (om < 0)
            return -1;
        t -= sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    return *p ? -1 : t;
}

double k1s_ctrl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void k1s_ctrl_format_time(int64_t t, char out[32])
{
    k1s_time_format_rfc3339(t, out);
}

/* ---- pods ---- */

static const char *pod_phase(const json_t *pod)
{
    return k1s_ctrl_str(json_object_get(pod, "status"), "phase");
}

bool k1s_pod_is_terminated(const json_t *pod)
{
    const char *ph = pod_phase(pod);
    return !strcmp(ph, "Succeeded") || !strcmp(ph, "Failed");
}

bool k1s_pod_is_active(const json_t *pod)
{
    return !k1s_pod_is_terminated(pod) && !k1s_ctrl_deleting(pod);
}

static const json_t *ready_condition(const json_t *pod)
{
    const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
    size_t i;
    const json_t *c;
    json_array_foreach(conds, i, c)
    {
        if (!strcmp(k1s_ctrl_str(c, "type"), "Ready"))
            return c;
    }
    return NULL;
}

bool k1s_pod_is_ready(const json_t *pod)
{
    const json_t *c = ready_condition(pod);
    return c && !strcmp(k1s_ctrl_str(c, "status"), "True");
}

int64_t k1s_pod_ready_since(const json_t *pod)
{
    const json_t *c = ready_condition(pod);
    if (!c || strcmp(k1s_ctrl_str(c, "status"), "True"))
        return -1;
    return k1s_ctrl_parse_time(k1s_ctrl_str(c, "lastTransitionTime"));
}

bool k1s_pod_is_available(const json_t *pod, int min_ready_s, double now)
{
    if (!k1s_pod_is_ready(pod))
        return false;
    if (min_ready_s <= 0)
        return true;
    int64_t since = k1s_pod_ready_since(pod);
    return since >= 0 && (double)since + min_ready_s <= now;
}

static int phase_rank(const json_t *pod)
{
    const char *ph = pod_phase(pod);
    if (!strcmp(ph, "Pending"))
        return 0;
    if (!strcmp(ph, "Unknown") || !*ph)
        return 1;
    if (!strcmp(ph, "Running"))
        return 2;
    return 3;
}

static int64_t restarts(const json_t *pod)
{
    int64_t n = 0;
    const json_t *st = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    size_t i;
    const json_t *c;
    json_array_foreach(st, i, c)
    {
        int64_t r = json_integer_value(json_object_get(c, "restartCount"));
        if (r > n)
            n = r;
    }
    return n;
}

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

int k1s_pod_cmp_value(const json_t *a, const json_t *b)
{
    bool na = *k1s_ctrl_str(json_object_get(a, "spec"), "nodeName") != 0;
    bool nb = *k1s_ctrl_str(json_object_get(b, "spec"), "nodeName") != 0;
    if (na != nb)
        return na ? 1 : -1;
    int c = phase_rank(a) - phase_rank(b);
    if (c)
        return c < 0 ? -1 : 1;
    bool ra = k1s_pod_is_ready(a), rb = k1s_pod_is_ready(b);
    if (ra != rb)
        return ra ? 1 : -1;
    if (ra) {
        /* ready for less time is worth less: later transition first */
        c = cmp_i64(k1s_pod_ready_since(b), k1s_pod_ready_since(a));
        if (c)
            return c;
    }
    c = cmp_i64(restarts(b), restarts(a));
    if (c)
        return c;
    /* newer is worth less */
    const char *ta = k1s_ctrl_str(json_object_get(a, "metadata"), "creationTimestamp");
    const char *tb = k1s_ctrl_str(json_object_get(b, "metadata"), "creationTimestamp");
    return cmp_i64(k1s_ctrl_parse_time(tb), k1s_ctrl_parse_time(ta));
}

json_t *k1s_ctrl_pod_from_template(const json_t *tmpl, const json_t *owner, const char *prefix,
                                   const char *name)
{
    const json_t *tmd = json_object_get(tmpl, "metadata");
    json_t *md = json_object();
    const char *keys[] = {"labels", "annotations", "finalizers"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(keys); i++) {
        json_t *v = json_object_get(tmd, keys[i]);
        if (v && !json_is_null(v))
            json_object_set_new(md, keys[i], json_deep_copy(v));
    }
    if (name)
        json_object_set_new(md, "name", json_string(name));
    else
        json_object_set_new(md, "generateName", json_string(prefix));
    const char *ns = k1s_ctrl_str(json_object_get(owner, "metadata"), "namespace");
    if (*ns)
        json_object_set_new(md, "namespace", json_string(ns));
    json_object_set_new(md, "ownerReferences",
                        json_pack("[o]", k1s_ctrl_new_controller_ref(owner)));
    json_t *spec = json_object_get(tmpl, "spec");
    return json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Pod", "metadata", md, "spec",
                     spec ? json_deep_copy(spec) : json_object());
}

char *k1s_ctrl_hash(const json_t *tmpl, int64_t collision_count)
{
    char *s = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
    uint32_t h = 2166136261u; /* FNV-1a, as pod-template-hash */
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    free(s);
    if (collision_count >= 0) {
        uint32_t c = (uint32_t)collision_count;
        for (int i = 0; i < 4; i++) {
            h ^= (c >> (8 * i)) & 0xff;
            h *= 16777619u;
        }
    }
    /* rand.SafeEncodeString of the decimal form */
    static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
    char dec[16];
    snprintf(dec, sizeof(dec), "%u", h);
    for (char *p = dec; *p; p++)
        *p = alnum[(unsigned char)*p % (sizeof(alnum) - 1)];
    return k1s_xstrdup(dec);
}

/* ---- expectations ---- */

#define EXPECTATIONS_TTL_NS (5ull * 60 * 1000000000ull)

typedef struct {
    int adds, dels;
    uint64_t at;
} expect_t;

struct k1s_expectations {
    k1s_strmap_t m;
};

k1s_expectations_t *k1s_expectations_new(void)
{
    return k1s_xcalloc(1, sizeof(k1s_expectations_t));
}

void k1s_expectations_free(k1s_expectations_t *e)
{
    if (!e)
        return;
    k1s_ctrl_strmap_free_all(&e->m);
    free(e);
}

void k1s_expect(k1s_expectations_t *e, const char *key, int adds, int dels)
{
    expect_t *x = k1s_strmap_get(&e->m, key);
    if (!x) {
        x = k1s_xmalloc(sizeof(*x));
        k1s_strmap_set(&e->m, key, x);
    }
    x->adds = adds;
    x->dels = dels;
    x->at = k1s_now_ns();
}

void k1s_expect_observe_add(k1s_expectations_t *e, const char *key)
{
    expect_t *x = k1s_strmap_get(&e->m, key);
    if (x && x->adds > 0)
        x->adds--;
}

void k1s_expect_observe_del(k1s_expectations_t *e, const char *key)
{
    expect_t *x = k1s_strmap_get(&e->m, key);
    if (x && x->dels > 0)
        x->dels--;
}

bool k1s_expect_satisfied(const k1s_expectations_t *e, const char *key)
{
    const expect_t *x = k1s_strmap_get(&e->m, key);
    return !x || (x->adds <= 0 && x->dels <= 0) || k1s_now_ns() - x->at > EXPECTATIONS_TTL_NS;
}

void k1s_expect_forget(k1s_expectations_t *e, const char *key)
{
    free(k1s_strmap_del(&e->m, key));
}

/* ---- syncs with writes out ---- */

k1s_ctrl_op_t *k1s_ctrl_op_new(k1s_ctrl_ops_t *ops, void *ctl, const char *key)
{
    k1s_ctrl_op_t *op = k1s_xcalloc(1, sizeof(*op));
    op->ctl = ctl;
    op->key = k1s_xstrdup(key);
    op->pending = 1;
    op->ops = ops;
    K1S_LIST_ADD(ops->head, op);
    return op;
}

static void op_free(k1s_ctrl_op_t *op)
{
    if (op->free_data)
        op->free_data(op->data);
    free(op->key);
    free(op);
}

void k1s_ctrl_op_unref(k1s_ctrl_op_t *op)
{
    if (--op->pending > 0)
        return;
    k1s_ctrl_sync_done(op->ops->queue, op->key, op->failed);
    K1S_LIST_DEL(op->ops->head, op);
    op_free(op);
}

void k1s_ctrl_write_start(k1s_ctrl_op_t *op, k1s_ctrl_write_t *w,
                          void (*release)(k1s_ctrl_write_t *w))
{
    w->op = op;
    w->release = release;
    op->pending++;
    K1S_LIST_ADD(op->ops->writes, w);
}

void k1s_ctrl_write_done(k1s_ctrl_write_t *w)
{
    k1s_ctrl_op_t *op = w->op;
    K1S_LIST_DEL(op->ops->writes, w);
    w->release(w);
    k1s_ctrl_op_unref(op);
}

void k1s_ctrl_ops_free(k1s_ctrl_ops_t *ops)
{
    while (ops->writes) {
        k1s_ctrl_write_t *w = ops->writes;
        ops->writes = w->next;
        w->release(w);
    }
    while (ops->head) {
        k1s_ctrl_op_t *op = ops->head;
        ops->head = op->next;
        op_free(op);
    }
}

/* ---- slow start ---- */

static int slow_start_take(k1s_slow_start_t *ss)
{
    int n = ss->next < ss->left ? ss->next : ss->left;
    ss->left -= n;
    ss->in_flight = n;
    ss->next *= 2;
    ss->failed = false;
    return n;
}

int k1s_slow_start_begin(k1s_slow_start_t *ss, int n)
{
    ss->left = n > 0 ? n : 0;
    ss->next = 1; /* SlowStartInitialBatchSize */
    return slow_start_take(ss);
}

int k1s_slow_start_answered(k1s_slow_start_t *ss, bool ok, int *skipped)
{
    if (skipped)
        *skipped = 0;
    if (!ok)
        ss->failed = true;
    if (ss->in_flight > 0 && --ss->in_flight > 0)
        return 0;
    if (ss->failed) {
        if (skipped)
            *skipped = ss->left;
        ss->left = 0;
        return 0;
    }
    return slow_start_take(ss);
}

/* ---- pod events ---- */

void k1s_ctrl_pod_added(k1s_workqueue_t *q, k1s_expectations_t *e, const char *key,
                        const json_t *pod)
{
    if (!key)
        return;
    if (e && k1s_ctrl_deleting(pod))
        k1s_expect_observe_del(e, key);
    else if (e)
        k1s_expect_observe_add(e, key);
    k1s_workqueue_add(q, key);
}

void k1s_ctrl_pod_updated(k1s_workqueue_t *q, k1s_expectations_t *e, const char *key,
                          const json_t *old_pod, const json_t *pod)
{
    if (!key)
        return;
    if (e && k1s_ctrl_deleting(pod) && !k1s_ctrl_deleting(old_pod))
        k1s_expect_observe_del(e, key);
    k1s_workqueue_add(q, key);
}

void k1s_ctrl_pod_deleted(k1s_workqueue_t *q, k1s_expectations_t *e, const char *key,
                          const json_t *pod)
{
    if (!key)
        return;
    if (e && !k1s_ctrl_deleting(pod))
        k1s_expect_observe_del(e, key);
    k1s_workqueue_add(q, key);
}

char *k1s_ctrl_owner_key(const json_t *obj, const char *api_version, const char *kind)
{
    const json_t *ref = k1s_ctrl_controller_ref(obj);
    if (!ref || strcmp(k1s_ctrl_str(ref, "kind"), kind) ||
        strcmp(k1s_ctrl_str(ref, "apiVersion"), api_version))
        return NULL;
    return k1s_xasprintf("%s/%s", k1s_ctrl_str(json_object_get(obj, "metadata"), "namespace"),
                         k1s_ctrl_str(ref, "name"));
}

static void owned_add(json_t *obj, void *arg)
{
    k1s_ctrl_owned_t *o = arg;
    char *key = k1s_ctrl_owner_key(obj, o->api_version, o->kind);
    k1s_ctrl_pod_added(o->queue, o->exp, key, obj);
    free(key);
}

static void owned_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    k1s_ctrl_owned_t *o = arg;
    char *key = k1s_ctrl_owner_key(new_obj, o->api_version, o->kind);
    k1s_ctrl_pod_updated(o->queue, o->exp, key, old_obj, new_obj);
    char *old_key = k1s_ctrl_owner_key(old_obj, o->api_version, o->kind);
    if (old_key && (!key || strcmp(key, old_key)))
        k1s_workqueue_add(o->queue, old_key);
    free(old_key);
    free(key);
}

static void owned_delete(json_t *obj, void *arg)
{
    k1s_ctrl_owned_t *o = arg;
    char *key = k1s_ctrl_owner_key(obj, o->api_version, o->kind);
    k1s_ctrl_pod_deleted(o->queue, o->exp, key, obj);
    free(key);
}

k1s_informer_handlers_t k1s_ctrl_owned_handlers(k1s_ctrl_owned_t *o)
{
    k1s_informer_handlers_t h = {owned_add, owned_update, owned_delete, o};
    return h;
}

static void enqueue_event(json_t *obj, void *arg)
{
    k1s_ctrl_enqueue(arg, obj);
}

static void enqueue_update(json_t *old_obj, json_t *new_obj, void *arg)
{
    (void)old_obj;
    k1s_ctrl_enqueue(arg, new_obj);
}

k1s_informer_handlers_t k1s_ctrl_enqueue_handlers(k1s_workqueue_t *q)
{
    k1s_informer_handlers_t h = {enqueue_event, enqueue_update, enqueue_event, q};
    return h;
}
