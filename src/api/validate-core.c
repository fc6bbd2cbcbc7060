/*
 * Validation of the core/v1 kinds other than Pods and Services (Namespace,
 * ConfigMap, Secret, Node, PersistentVolumeClaim, Event)
 * and of the small kinds of other groups (coordination.k8s.io Lease,
 * scheduling.k8s.io PriorityClass).
 */
#include "api/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-int.h"

void k1s_v_check_namespace(vctx_t *v, const k1s_resource_t *r, const json_t *ns, const json_t *old)
{
    if (old) {
        k1s_v_meta_update(v, r, ns, old);
        return;
    }
    k1s_v_meta_create(v, r, ns);
    const json_t *f;
    ARR_EACH(jarr(jobj(ns, "spec"), "finalizers"), i, f)
    {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        k1s_v_check_fmt(v, "spec.finalizers", k1s_is_qualified_name, s);
        if (!strchr(s, '/') && !k1s_v_is_standard_finalizer(s))
            add_s(v, "spec.finalizers", E_INVALID, s,
                  "name is neither a standard finalizer name nor is it fully qualified");
    }
}

void k1s_v_check_configmap(vctx_t *v, const k1s_resource_t *r, const json_t *cm, const json_t *old)
{
    if (old) {
        k1s_v_meta_update(v, r, cm, old);
        if (jtrue(old, "immutable")) {
            if (!jtrue(cm, "immutable"))
                add(v, "immutable", E_FORBIDDEN, NULL,
                    "field is immutable when `immutable` is set");
            if (!k1s_v_same(jobj(cm, "data"), jobj(old, "data")))
                add(v, "data", E_FORBIDDEN, NULL, "field is immutable when `immutable` is set");
            if (!k1s_v_same(jobj(cm, "binaryData"), jobj(old, "binaryData")))
                add(v, "binaryData", E_FORBIDDEN, NULL,
                    "field is immutable when `immutable` is set");
        }
    }
    k1s_v_meta_create(v, r, cm);
    long long total = 0;
    const json_t *data = jobj(cm, "data"), *bin = jobj(cm, "binaryData");
    const char *k;
    const json_t *val;
    size_t m = push(v, "data");
    OBJ_EACH(data, k, val)
    {
        size_t mk = push_key(v, k);
        k1s_v_check_fmt(v, NULL, k1s_is_config_map_key, k);
        if (jget(bin, k))
            add_s(v, NULL, E_INVALID, k, "duplicate of key present in binaryData");
        total += (long long)strlen(json_is_string(val) ? json_string_value(val) : "");
        pop(v, mk);
    }
    pop(v, m);
    m = push(v, "binaryData");
    OBJ_EACH(bin, k, val)
    {
        size_t mk = push_key(v, k);
        k1s_v_check_fmt(v, NULL, k1s_is_config_map_key, k);
        const char *b64 = json_is_string(val) ? json_string_value(val) : "";
        size_t n = strlen(b64);
        total += (long long)(n / 4 * 3) - (n && b64[n - 1] == '=') - (n > 1 && b64[n - 2] == '=');
        pop(v, mk);
    }
    pop(v, m);
    if (total > 1024 * 1024) {
        /* field.NewPath("") prints as "[]" */
        size_t mr = push_key(v, "");
        add_toolong(v, NULL, 1024 * 1024);
        pop(v, mr);
    }
}

/* decoded length of a base64 string (Secret data values) */
static size_t b64_len(const char *s)
{
    size_t n = strlen(s);
    size_t pad = (n && s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
    return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) - pad;
}

/* Decodes standard base64 (as encoding/json does for []byte); NULL if malformed. */
static unsigned char *b64_decode(const char *s, size_t *len)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    if (n % 4)
        return NULL;
    unsigned char *out = k1s_xmalloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int val[4];
        for (int j = 0; j < 4; j++) {
            const char *p = s[i + j] ? strchr(alpha, s[i + j]) : NULL;
            if (s[i + j] == '=' && i + 4 == n && j >= 2)
                val[j] = -1;
            else if (p)
                val[j] = (int)(p - alpha);
            else {
                free(out);
                return NULL;
            }
        }
        if (val[0] < 0 || val[1] < 0 || (val[2] < 0 && val[3] >= 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (unsigned char)(val[0] << 2 | val[1] >> 4);
        if (val[2] >= 0)
            out[o++] = (unsigned char)((val[1] & 15) << 4 | val[2] >> 2);
        if (val[3] >= 0)
            out[o++] = (unsigned char)((val[2] & 3) << 6 | val[3]);
    }
    out[o] = 0;
    *len = o;
    return out;
}

/* Parses the JSON document held base64-encoded in b64; *out is NULL if it is not JSON. */
static void decode_b64_json(const char *b64, json_t **out)
{
    size_t n = 0;
    unsigned char *raw = b64_decode(b64, &n);
    *out = raw ? json_loadb((const char *)raw, n, JSON_DECODE_ANY, NULL) : NULL;
    free(raw);
}

void k1s_v_check_secret(vctx_t *v, const k1s_resource_t *r, const json_t *s, const json_t *old)
{
    if (old) {
        k1s_v_meta_update(v, r, s, old);
        const char *nt = jstr0(s, "type"), *ot = jstr0(old, "type");
        if (strcmp(nt, ot))
            add_s(v, "type", E_INVALID, nt, MSG_IMMUTABLE);
        if (jtrue(old, "immutable")) {
            if (!jtrue(s, "immutable"))
                add(v, "immutable", E_FORBIDDEN, NULL,
                    "field is immutable when `immutable` is set");
            if (!k1s_v_same(jobj(s, "data"), jobj(old, "data")))
                add(v, "data", E_FORBIDDEN, NULL, "field is immutable when `immutable` is set");
        }
    }
    k1s_v_meta_create(v, r, s);
    const json_t *data = jobj(s, "data");
    const char *k;
    const json_t *val;
    long long total = 0;
    size_t m = push(v, "data");
    OBJ_EACH(data, k, val)
    {
        size_t mk = push_key(v, k);
        k1s_v_check_fmt(v, NULL, k1s_is_config_map_key, k);
        total += (long long)b64_len(json_is_string(val) ? json_string_value(val) : "");
        pop(v, mk);
    }
    if (total > 1024 * 1024)
        add_toolong(v, NULL, 1024 * 1024);
    const char *type = jstr0(s, "type");
    if (!strcmp(type, "kubernetes.io/service-account-token")) {
        if (!*jstr0(jobj(jobj(s, "metadata"), "annotations"),
                    "kubernetes.io/service-account.name")) {
            pop(v, m);
            m = push(v, "metadata");
            push(v, "annotations");
            push_key(v, "kubernetes.io/service-account.name");
            add(v, NULL, E_REQUIRED, NULL, "");
        }
    } else if (!strcmp(type, "kubernetes.io/dockercfg") ||
               !strcmp(type, "kubernetes.io/dockerconfigjson")) {
        const char *key =
            !strcmp(type, "kubernetes.io/dockercfg") ? ".dockercfg" : ".dockerconfigjson";
        const char *b64 = jstr(data, key);
        size_t mk = push_key(v, key);
        if (!b64) {
            add(v, NULL, E_REQUIRED, NULL, "");
        } else {
            json_t *doc = NULL;
            decode_b64_json(b64, &doc);
            if (!json_is_object(doc))
                add_s(v, NULL, E_INVALID, "<secret contents redacted>",
                      doc ? "json: cannot unmarshal into Go value of type map[string]interface {}"
                          : "unexpected end of JSON input");
            json_decref(doc);
        }
        pop(v, mk);
    } else if (!strcmp(type, "kubernetes.io/basic-auth")) {
        if (!jget(data, "username") && !jget(data, "password")) {
            static const char *const keys[] = {"username", "password"};
            for (size_t i = 0; i < 2; i++) {
                size_t mk = push_key(v, keys[i]);
                add(v, NULL, E_REQUIRED, NULL, "");
                pop(v, mk);
            }
        }
    } else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
        if (!*jstr0(data, "ssh-privatekey")) {
            size_t mk = push_key(v, "ssh-privatekey");
            add(v, NULL, E_REQUIRED, NULL, "");
            pop(v, mk);
        }
    } else if (!strcmp(type, "kubernetes.io/tls")) {
        static const char *const keys[] = {"tls.crt", "tls.key"};
        for (size_t i = 0; i < 2; i++) {
            if (!jget(data, keys[i])) {
                size_t mk = push_key(v, keys[i]);
                add(v, NULL, E_REQUIRED, NULL, "");
                pop(v, mk);
            }
        }
    }
    pop(v, m);
}

static void check_node_taints(vctx_t *v, const json_t *taints)
{
    static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute"};
    size_t m = push(v, "metadata");
    push(v, "taints");
    const json_t *t;
    ARR_EACH(taints, i, t)
    {
        size_t mi = push_idx(v, i);
        const char *key = jstr0(t, "key"), *val = jstr0(t, "value"), *eff = jstr0(t, "effect");
        k1s_v_check_fmt(v, "key", k1s_is_qualified_name, key);
        const char *msgs[K1S_VALIDATE_MAX_MSGS];
        int n = k1s_is_label_value(val, msgs);
        if (n) {
            k1s_buf_t b = K1S_BUF_INIT;
            for (int j = 0; j < n; j++) {
                if (j)
                    k1s_buf_putc(&b, ';');
                k1s_buf_puts(&b, msgs[j]);
            }
            add_s(v, "value", E_INVALID, val, b.data);
            k1s_buf_free(&b);
        }
        if (!*eff)
            add(v, "effect", E_REQUIRED, NULL, "");
        else if (!IN(eff, effects))
            NOTSUPP(v, "effect", eff, effects);
        const json_t *prev;
        bool dup = false;
        ARR_EACH(taints, j, prev)
        {
            if (j >= i)
                break;
            dup |= !strcmp(jstr0(prev, "key"), key) && !strcmp(jstr0(prev, "effect"), eff);
        }
        if (dup) {
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_puts(&b, "core.Taint{Key:");
            k1s_v_go_quote(&b, key);
            k1s_buf_puts(&b, ", Value:");
            k1s_v_go_quote(&b, val);
            k1s_buf_puts(&b, ", Effect:");
            k1s_v_go_quote(&b, eff);
            k1s_buf_puts(&b, jget(t, "timeAdded") ? ", TimeAdded:(*v1.Time)(0xc000000000)}"
                                                  : ", TimeAdded:(*v1.Time)(nil)}");
            add(v, NULL, E_DUPLICATE, b.data, "taints must be unique by key and effect pair");
            k1s_buf_free(&b);
        }
        pop(v, mi);
    }
    pop(v, m);
}

static void check_node_resources(vctx_t *v, const json_t *node)
{
    static const char *const lists[] = {"capacity", "allocatable"};
    for (size_t k = 0; k < 2; k++) {
        const char *name;
        const json_t *val;
        OBJ_EACH(jobj(jobj(node, "status"), lists[k]), name, val)
        {
            size_t m = push(v, "status");
            push(v, lists[k]);
            push(v, name);
            k1s_quantity_t q;
            if (k1s_v_get_qty(v, NULL, val, &q))
                k1s_v_check_quantity_value(v, name, &q);
            pop(v, m);
        }
    }
}

void k1s_v_check_node(vctx_t *v, const k1s_resource_t *r, const json_t *node, const json_t *old)
{
    const json_t *spec = jobj(node, "spec");
    if (!old) {
        k1s_v_meta_create(v, r, node);
        if (jlen(jarr(spec, "taints")))
            check_node_taints(v, jarr(spec, "taints"));
        check_node_resources(v, node);
        const json_t *cidrs = jarr(spec, "podCIDRs"), *c;
        size_t m = push(v, "spec");
        push(v, "podCIDRs");
        int n4 = 0, n6 = 0;
        ARR_EACH(cidrs, i, c)
        {
            size_t mi = push_idx(v, i);
            const char *s = json_is_string(c) ? json_string_value(c) : "";
            k1s_v_check_cidr(v, NULL, s);
            if (strchr(s, ':'))
                n6++;
            else
                n4++;
            pop(v, mi);
        }
        if (jlen(cidrs) > 1) {
            if (!(n4 == 1 && n6 == 1))
                k1s_v_add_strings_value(v, NULL, cidrs,
                                        "may specify no more than one CIDR for each IP family");
            ARR_EACH(cidrs, i, c)
            {
                const json_t *prev;
                bool dup = false;
                ARR_EACH(cidrs, j, prev)
                {
                    if (j >= i)
                        break;
                    dup |= json_equal(prev, (json_t *)c);
                }
                if (dup) {
                    size_t mi = push_idx(v, i);
                    add_s(v, NULL, E_DUPLICATE, json_string_value(c), NULL);
                    pop(v, mi);
                }
            }
        }
        pop(v, m);
        return;
    }
    const json_t *ospec = jobj(old, "spec");
    k1s_v_meta_update(v, r, node, old);
    check_node_resources(v, node);
    const json_t *addrs = jarr(jobj(node, "status"), "addresses"), *a;
    ARR_EACH(addrs, i, a)
    {
        const json_t *prev;
        bool dup = false;
        ARR_EACH(addrs, j, prev)
        {
            if (j >= i)
                break;
            dup |= !strcmp(jstr0(prev, "type"), jstr0(a, "type")) &&
                   !strcmp(jstr0(prev, "address"), jstr0(a, "address"));
        }
        if (dup) {
            size_t m = push(v, "status");
            push(v, "addresses");
            push_idx(v, i);
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_buf_puts(&b, "core.NodeAddress{Type:");
            k1s_v_go_quote(&b, jstr0(a, "type"));
            k1s_buf_puts(&b, ", Address:");
            k1s_v_go_quote(&b, jstr0(a, "address"));
            k1s_buf_putc(&b, '}');
            add(v, NULL, E_DUPLICATE, b.data, NULL);
            k1s_buf_free(&b);
            pop(v, m);
        }
    }
    const json_t *oc = jarr(ospec, "podCIDRs"), *nc = jarr(spec, "podCIDRs");
    if (jlen(oc)) {
        const char *msg = "node updates may not change podCIDR except from \"\" to valid";
        if (jlen(oc) != jlen(nc)) {
            add(v, "spec.podCIDRs", E_FORBIDDEN, NULL, msg);
        } else {
            const json_t *c;
            ARR_EACH(oc, i, c)
            if (!json_equal((json_t *)c, json_array_get(nc, i)))
                add(v, "spec.podCIDRs", E_FORBIDDEN, NULL, msg);
        }
    }
    const char *opid = jstr0(ospec, "providerID");
    if (*opid && strcmp(opid, jstr0(spec, "providerID")))
        add(v, "spec.providerID", E_FORBIDDEN, NULL,
            "node updates may not change providerID except from \"\" to valid");
    if (jlen(jarr(spec, "taints")))
        check_node_taints(v, jarr(spec, "taints"));
    if (strcmp(jstr0(spec, "externalID"), jstr0(ospec, "externalID")))
        add(v, "spec.externalID", E_FORBIDDEN, NULL, "may not be updated");
}

void k1s_v_check_pvc(vctx_t *v, const k1s_resource_t *r, const json_t *pvc, const json_t *old)
{
    if (old)
        k1s_v_meta_update(v, r, pvc, old);
    k1s_v_meta_create(v, r, pvc);
    size_t m = push(v, "spec");
    k1s_v_check_pvc_spec(v, jobj(pvc, "spec"));
    pop(v, m);
    if (!old)
        return;
    json_t *ns = k1s_v_copy_or_empty(jobj(pvc, "spec"));
    json_t *os = k1s_v_copy_or_empty(jobj(old, "spec"));
    if (!*jstr0(os, "volumeName")) {
        if (jget(ns, "volumeName"))
            json_object_set(os, "volumeName", json_object_get(ns, "volumeName"));
        else
            json_object_del(os, "volumeName");
    }
    bool bound = !strcmp(jstr0(jobj(pvc, "status"), "phase"), "Bound");
    json_t *nreq = json_object_get(json_object_get(ns, "resources"), "requests");
    if (bound && json_is_object(nreq)) {
        const json_t *ost = jget(jobj(jobj(jobj(old, "spec"), "resources"), "requests"), "storage");
        if (ost)
            json_object_set(nreq, "storage", (json_t *)ost);
        else
            json_object_del(nreq, "storage");
    }
    if (!k1s_v_same(ns, os)) {
        char *diff = k1s_v_spec_diff("core.PersistentVolumeClaimSpec", os, ns);
        add_f(v, "spec", E_FORBIDDEN, NULL,
              "spec is immutable after creation except resources.requests and "
              "volumeAttributesClassName for bound claims\n%s",
              diff);
        free(diff);
    }
    json_decref(ns);
    json_decref(os);
    k1s_quantity_t a, b;
    const json_t *nst = jget(jobj(jobj(jobj(pvc, "spec"), "resources"), "requests"), "storage");
    const json_t *ost = jget(jobj(jobj(jobj(old, "spec"), "resources"), "requests"), "storage");
    if (nst && ost && k1s_quantity_from_json(nst, &a, NULL) == 0 &&
        k1s_quantity_from_json(ost, &b, NULL) == 0 && k1s_quantity_cmp(&a, &b) < 0)
        add(v, "spec.resources.requests.storage", E_FORBIDDEN, NULL,
            "field can not be less than previous value");
    const char *vm = jstr(jobj(pvc, "spec"), "volumeMode"),
               *ovm = jstr(jobj(old, "spec"), "volumeMode");
    if ((vm == NULL) != (ovm == NULL) || (vm && strcmp(vm, ovm))) {
        char *q = vm ? k1s_v_quoted(vm) : k1s_xstrdup("null");
        add(v, "volumeMode", E_INVALID, q, MSG_IMMUTABLE);
        free(q);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Other kinds                                                                                */
/* ------------------------------------------------------------------------------------------ */

void k1s_v_check_lease(vctx_t *v, const k1s_resource_t *r, const json_t *l, const json_t *old)
{
    if (old)
        k1s_v_meta_update(v, r, l, old);
    else
        k1s_v_meta_create(v, r, l);
    const json_t *spec = jobj(l, "spec");
    size_t m = push(v, "spec");
    long long x;
    if (jint(spec, "leaseDurationSeconds", &x) && x <= 0)
        add_i(v, "leaseDurationSeconds", E_INVALID, x, "must be greater than 0");
    if (jint(spec, "leaseTransitions", &x) && x < 0)
        add_i(v, "leaseTransitions", E_INVALID, x, MSG_NOT_NEGATIVE);
    const char *strategy = jstr(spec, "strategy");
    if (strategy) {
        if (!strchr(strategy, '/')) {
            static const char *const ok[] = {"OldestEmulationVersion"};
            if (strcmp(strategy, "OldestEmulationVersion"))
                NOTSUPP(v, "strategy.strategy", strategy, ok);
        } else {
            k1s_v_check_fmt(v, "strategy.strategy", k1s_is_qualified_name, strategy);
        }
    }
    const char *ph = jstr(spec, "preferredHolder");
    if (ph && *ph && (!strategy || !*strategy))
        add(v, "preferredHolder", E_FORBIDDEN, NULL,
            "may only be specified if `strategy` is defined");
    pop(v, m);
}

void k1s_v_check_priority_class(vctx_t *v, const k1s_resource_t *r, const json_t *pc,
                                const json_t *old)
{
    long long value = 0;
    jint(pc, "value", &value);
    if (old) {
        k1s_v_meta_update(v, r, pc, old);
        long long ov = 0;
        jint(old, "value", &ov);
        if (value != ov)
            add(v, "value", E_FORBIDDEN, NULL, "may not be changed in an update.");
        const char *pp = jstr(pc, "preemptionPolicy"), *opp = jstr(old, "preemptionPolicy");
        if ((pp == NULL) != (opp == NULL) || (pp && strcmp(pp, opp))) {
            char *q = pp ? k1s_v_quoted(pp) : k1s_xstrdup("null");
            add(v, "preemptionPolicy", E_INVALID, q, MSG_IMMUTABLE);
            free(q);
        }
        return;
    }
    k1s_v_meta_create(v, r, pc);
    const char *name = jstr0(jobj(pc, "metadata"), "name");
    if (k1s_str_has_prefix(name, "system-")) {
        long long want = !strcmp(name, "system-node-critical")      ? 2000001000
                         : !strcmp(name, "system-cluster-critical") ? 2000000000
                                                                    : -1;
        char *err = NULL;
        if (want < 0)
            err = k1s_xasprintf("%s is not a known system priority class", name);
        else if (value != want)
            err = k1s_xasprintf("value of %s PriorityClass must be %lld", name, want);
        else if (jtrue(pc, "globalDefault"))
            err = k1s_xasprintf("globalDefault of %s PriorityClass must be false", name);
        if (err) {
            add_f(v, "metadata.name", E_FORBIDDEN, NULL,
                  "priority class names with 'system-' prefix are reserved for system use only. "
                  "error: %s",
                  err);
            free(err);
        }
    } else if (value > 1000000000) {
        add(v, "value", E_FORBIDDEN, NULL,
            "maximum allowed value of a user defined priority is 1000000000");
    }
    const char *pp = jstr(pc, "preemptionPolicy");
    if (pp) {
        static const char *const pps[] = {"PreemptLowerPriority", "Never"};
        if (!*pp)
            add(v, "preemptionPolicy", E_REQUIRED, NULL, "");
        else if (!IN(pp, pps))
            NOTSUPP(v, "preemptionPolicy", pp, pps);
    }
}

/* legacyValidateEvent: core/v1 Events skip ObjectMeta validation */
void k1s_v_check_core_event(vctx_t *v, const json_t *ev)
{
    const char *ns = jstr0(jobj(ev, "metadata"), "namespace");
    const char *ins = jstr0(jobj(ev, "involvedObject"), "namespace");
    if (!jget(ev, "eventTime")) {
        if (!*ins) {
            if (*ns && strcmp(ns, "default"))
                add_s(v, "involvedObject.namespace", E_INVALID, ins,
                      "does not match event.namespace");
        } else if (strcmp(ns, ins)) {
            add_s(v, "involvedObject.namespace", E_INVALID, ins, "does not match event.namespace");
        }
    } else {
        if (!*ins && strcmp(ns, "default") && strcmp(ns, "kube-system"))
            add_s(v, "involvedObject.namespace", E_INVALID, ins, "does not match event.namespace");
        const char *rc = jstr0(ev, "reportingComponent");
        if (!*rc)
            add(v, "reportingComponent", E_REQUIRED, NULL, "");
        k1s_v_check_fmt(v, "reportingComponent", k1s_is_qualified_name, rc);
        const char *ri = jstr0(ev, "reportingInstance");
        if (!*ri)
            add(v, "reportingInstance", E_REQUIRED, NULL, "");
        if (strlen(ri) > 128)
            add_s(v, "reportingInstance", E_INVALID, "", "can have at most 128 characters");
        const char *action = jstr0(ev, "action");
        if (!*action)
            add(v, "action", E_REQUIRED, NULL, "");
        if (strlen(action) > 128)
            add_s(v, "action", E_INVALID, "", "can have at most 128 characters");
        const char *reason = jstr0(ev, "reason");
        if (!*reason)
            add(v, "reason", E_REQUIRED, NULL, "");
        if (strlen(reason) > 128)
            add_s(v, "reason", E_INVALID, "", "can have at most 128 characters");
        if (strlen(jstr0(ev, "message")) > 1024)
            add_s(v, "message", E_INVALID, "", "can have at most 1024 characters");
    }
    k1s_v_check_fmt(v, "namespace", k1s_is_dns1123_subdomain, ns);
}
