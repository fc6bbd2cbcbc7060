/*
 * Validation of the apps/v1 kinds (pkg/apis/apps/validation): Deployment,
 * ReplicaSet, StatefulSet and DaemonSet.
 */
#include "api/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-int.h"

/* ------------------------------------------------------------------------------------------ */
/* apps/v1                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static long long intstr_value(const json_t *v, bool *percent)
{
    long long n = 0;
    *percent = false;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (k1s_v_is_percent(s)) {
            *percent = true;
            return strtoll(s, NULL, 10);
        }
        char *end;
        n = strtoll(s, &end, 10);
        return *s && !*end ? n : 0;
    }
    jnum(v, &n);
    return n;
}

/* ValidatePositiveIntOrPercent at child */
static void check_int_or_percent(vctx_t *v, const char *child, const json_t *val)
{
    long long n;
    if (json_is_string(val)) {
        if (!k1s_v_is_percent(json_string_value(val))) {
            k1s_buf_t b = K1S_BUF_INIT;
            k1s_v_go_intstr(&b, val);
            add(v, child, E_INVALID, b.data, MSG_PERCENT);
            k1s_buf_free(&b);
        }
    } else if (jnum(val, &n) && n < 0) {
        add_i(v, child, E_INVALID, n, MSG_NOT_NEGATIVE);
    }
}

static void check_not_over_100(vctx_t *v, const char *child, const json_t *val)
{
    bool pct;
    long long n = intstr_value(val, &pct);
    if (pct && n > 100) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_v_go_intstr(&b, val);
        add(v, child, E_INVALID, b.data, "must not be greater than 100%");
        k1s_buf_free(&b);
    }
}

/* the selector and template checks shared by Deployments and ReplicaSets, at "spec" */
static void check_rs_like_spec(vctx_t *v, const json_t *spec, const char *owner)
{
    const json_t *sel = jobj(spec, "selector"), *tmpl = jobj(spec, "template");
    if (!sel) {
        add(v, "selector", E_REQUIRED, NULL, "");
    } else {
        size_t m = push(v, "selector");
        k1s_v_check_selector(v, sel);
        pop(v, m);
        if (jlen(jobj(sel, "matchLabels")) + jlen(jarr(sel, "matchExpressions")) == 0)
            k1s_v_add_selector_value(v, "selector", sel,
                                     "empty selector is invalid for deployment");
    }
    selkind_t kind = k1s_v_selector_kind(sel);
    if (kind == SEL_ERROR) {
        k1s_v_add_selector_value(v, "selector", sel, "invalid label selector");
        return;
    }
    size_t m = push(v, "template");
    const json_t *labels = jobj(jobj(tmpl, "metadata"), "labels");
    if (kind != SEL_EVERYTHING && !k1s_v_selector_matches(sel, labels))
        k1s_v_selector_mismatch(v, "metadata.labels", labels);
    k1s_v_check_pod_template(v, tmpl);
    const json_t *ts = jobj(tmpl, "spec");
    const char *rp = jstr0(ts, "restartPolicy");
    static const char *const always[] = {"Always"};
    if (strcmp(rp, "Always"))
        NOTSUPP(v, "spec.restartPolicy", rp, always);
    if (jget(ts, "activeDeadlineSeconds"))
        add_f(v, "spec.activeDeadlineSeconds", E_FORBIDDEN, NULL,
              "activeDeadlineSeconds in %s is not Supported", owner);
    pop(v, m);
}

void k1s_v_immutable_selector(vctx_t *v, const json_t *spec, const json_t *ospec)
{
    const json_t *sel = jobj(spec, "selector"), *osel = jobj(ospec, "selector");
    if (!k1s_v_same(sel, osel) || (!sel) != (!osel)) {
        if (sel)
            k1s_v_add_selector_value(v, "spec.selector", sel, MSG_IMMUTABLE);
        else
            add(v, "spec.selector", E_INVALID, "null", MSG_IMMUTABLE);
    }
}

void k1s_v_check_deployment(vctx_t *v, const k1s_resource_t *r, const json_t *d, const json_t *old)
{
    if (old)
        k1s_v_meta_update(v, r, d, old);
    else
        k1s_v_meta_create(v, r, d);
    const json_t *spec = jobj(d, "spec");
    size_t m = push(v, "spec");
    long long replicas = 0;
    jint(spec, "replicas", &replicas);
    if (replicas < 0)
        add_i(v, "replicas", E_INVALID, replicas, MSG_NOT_NEGATIVE);
    check_rs_like_spec(v, spec, "ReplicaSet");
    const json_t *st = jobj(spec, "strategy");
    const char *type = jstr0(st, "type");
    size_t ms = push(v, "strategy");
    const json_t *ru = jobj(st, "rollingUpdate");
    if (!strcmp(type, "Recreate")) {
        if (ru)
            add(v, "rollingUpdate", E_FORBIDDEN, NULL,
                "may not be specified when strategy `type` is 'Recreate'");
    } else if (!strcmp(type, "RollingUpdate")) {
        if (!ru) {
            add(v, "rollingUpdate", E_REQUIRED, NULL, "this should be defaulted and never be nil");
        } else {
            size_t mr = push(v, "rollingUpdate");
            const json_t *mu = jget(ru, "maxUnavailable"), *msu = jget(ru, "maxSurge");
            check_int_or_percent(v, "maxUnavailable", mu);
            check_int_or_percent(v, "maxSurge", msu);
            bool p1, p2;
            if (intstr_value(mu, &p1) == 0 && intstr_value(msu, &p2) == 0) {
                k1s_buf_t b = K1S_BUF_INIT;
                k1s_v_go_intstr(&b, mu);
                add(v, "maxUnavailable", E_INVALID, b.data, "may not be 0 when `maxSurge` is 0");
                k1s_buf_free(&b);
            }
            check_not_over_100(v, "maxUnavailable", mu);
            pop(v, mr);
        }
    } else {
        static const char *const types[] = {"Recreate", "RollingUpdate"};
        k1s_buf_t b = K1S_BUF_INIT, dt = K1S_BUF_INIT;
        k1s_buf_puts(&b, "apps.DeploymentStrategy{Type:");
        k1s_v_go_quote(&b, type);
        k1s_buf_puts(&b, ru ? ", RollingUpdate:(*apps.RollingUpdateDeployment)(0xc000000000)}"
                            : ", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}");
        k1s_buf_puts(&dt, "supported values: \"Recreate\", \"RollingUpdate\"");
        add(v, NULL, E_NOTSUPPORTED, b.data, dt.data);
        (void)types;
        k1s_buf_free(&b);
        k1s_buf_free(&dt);
    }
    pop(v, ms);
    k1s_v_nonneg(v, spec, "minReadySeconds", NULL);
    k1s_v_nonneg(v, spec, "revisionHistoryLimit", NULL);
    const json_t *rb = jobj(spec, "rollbackTo");
    if (rb)
        k1s_v_nonneg(v, rb, "revision", "rollback.version");
    long long pds, mrs = 0;
    if (jint(spec, "progressDeadlineSeconds", &pds)) {
        k1s_v_nonneg(v, spec, "progressDeadlineSeconds", NULL);
        jint(spec, "minReadySeconds", &mrs);
        if (pds <= mrs)
            add_i(v, "progressDeadlineSeconds", E_INVALID, pds,
                  "must be greater than minReadySeconds");
    }
    pop(v, m);
    if (old)
        k1s_v_immutable_selector(v, spec, jobj(old, "spec"));
}

void k1s_v_check_replicaset(vctx_t *v, const k1s_resource_t *r, const json_t *rs, const json_t *old)
{
    if (old)
        k1s_v_meta_update(v, r, rs, old);
    else
        k1s_v_meta_create(v, r, rs);
    const json_t *spec = jobj(rs, "spec");
    size_t m = push(v, "spec");
    long long replicas = 0;
    jint(spec, "replicas", &replicas);
    if (replicas < 0)
        add_i(v, "replicas", E_INVALID, replicas, MSG_NOT_NEGATIVE);
    k1s_v_nonneg(v, spec, "minReadySeconds", NULL);
    check_rs_like_spec(v, spec, "ReplicaSet");
    pop(v, m);
    if (old)
        k1s_v_immutable_selector(v, spec, jobj(old, "spec"));
}

static void check_statefulset_spec(vctx_t *v, const json_t *spec, bool update)
{
    size_t m = push(v, "spec");
    const char *pmp = jstr0(spec, "podManagementPolicy");
    if (!*pmp)
        add(v, "podManagementPolicy", E_REQUIRED, NULL, "");
    else if (strcmp(pmp, "OrderedReady") && strcmp(pmp, "Parallel"))
        add_s(v, "podManagementPolicy", E_INVALID, pmp, "must be 'OrderedReady' or 'Parallel'");
    const json_t *us = jobj(spec, "updateStrategy"), *ru = jobj(us, "rollingUpdate");
    const char *ut = jstr0(us, "type");
    if (!*ut) {
        add(v, "updateStrategy", E_REQUIRED, NULL, "");
    } else if (!strcmp(ut, "OnDelete")) {
        if (ru) {
            long long part = 0;
            jint(ru, "partition", &part);
            char *val = k1s_xasprintf("apps.RollingUpdateStatefulSetStrategy{Partition:%lld, "
                                      "MaxUnavailable:(*intstr.IntOrString)(%s)}",
                                      part, jget(ru, "maxUnavailable") ? "0xc000000000" : "nil");
            add(v, "updateStrategy.rollingUpdate", E_INVALID, val,
                "only allowed for updateStrategy 'RollingUpdate'");
            free(val);
        }
    } else if (!strcmp(ut, "RollingUpdate")) {
        if (ru) {
            size_t mr = push(v, "updateStrategy");
            push(v, "rollingUpdate");
            k1s_v_nonneg(v, ru, "partition", NULL);
            const json_t *mu = jget(ru, "maxUnavailable");
            if (mu) {
                check_int_or_percent(v, "maxUnavailable", mu);
                bool pct;
                if (intstr_value(mu, &pct) == 0) {
                    k1s_buf_t b = K1S_BUF_INIT;
                    k1s_v_go_intstr(&b, mu);
                    add(v, "maxUnavailable", E_INVALID, b.data, "cannot be 0");
                    k1s_buf_free(&b);
                }
                check_not_over_100(v, "maxUnavailable", mu);
            }
            pop(v, mr);
        }
    } else {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "apps.StatefulSetUpdateStrategy{Type:");
        k1s_v_go_quote(&b, ut);
        k1s_buf_puts(&b,
                     ru ? ", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(0xc000000000)}"
                        : ", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}");
        add(v, "updateStrategy", E_INVALID, b.data, "must be 'RollingUpdate' or 'OnDelete'");
        k1s_buf_free(&b);
    }
    const json_t *pol = jobj(spec, "persistentVolumeClaimRetentionPolicy");
    if (pol) {
        static const char *const kinds[] = {"whenDeleted", "whenScaled"};
        static const char *const vals[] = {"Retain", "Delete"};
        size_t mp = push(v, "persistentVolumeClaimRetentionPolicy");
        for (size_t k = 0; k < 2; k++) {
            const char *x = jstr0(pol, kinds[k]);
            if (!IN(x, vals))
                NOTSUPP(v, kinds[k], x, vals);
        }
        pop(v, mp);
    }
    const json_t *vct = jarr(spec, "volumeClaimTemplates"), *t;
    if (!update) {
        size_t mv = push(v, "volumeClaimTemplates");
        ARR_EACH(vct, i, t)
        {
            size_t mi = push_idx(v, i);
            push(v, "spec");
            k1s_v_check_pvc_spec(v, jobj(t, "spec"));
            pop(v, mi);
        }
        pop(v, mv);
    }
    long long replicas = 0;
    jint(spec, "replicas", &replicas);
    if (replicas < 0)
        add_i(v, "replicas", E_INVALID, replicas, MSG_NOT_NEGATIVE);
    k1s_v_nonneg(v, spec, "minReadySeconds", NULL);
    k1s_v_nonneg(v, jobj(spec, "ordinals"), "start", "ordinals.start");
    const char *sn = jstr0(spec, "serviceName");
    if (!update && *sn)
        k1s_v_check_fmt(v, "serviceName", k1s_is_dns1123_label, sn);
    const json_t *sel = jobj(spec, "selector");
    if (!sel) {
        add(v, "selector", E_REQUIRED, NULL, "");
    } else {
        size_t ms = push(v, "selector");
        k1s_v_check_selector(v, sel);
        pop(v, ms);
        if (jlen(jobj(sel, "matchLabels")) + jlen(jarr(sel, "matchExpressions")) == 0)
            k1s_v_add_selector_value(v, "selector", sel,
                                     "empty selector is invalid for statefulset");
    }
    selkind_t kind = k1s_v_selector_kind(sel);
    const json_t *tmpl = jobj(spec, "template");
    if (kind == SEL_ERROR) {
        k1s_v_add_selector_value(v, "selector", sel, "");
    } else {
        size_t mt = push(v, "template");
        const json_t *labels = jobj(jobj(tmpl, "metadata"), "labels");
        if (kind != SEL_EVERYTHING && !k1s_v_selector_matches(sel, labels))
            k1s_v_selector_mismatch(v, "metadata.labels", labels);
        /* the controller sets hostname and subdomain and adds the claim templates as volumes */
        json_t *copy = k1s_v_copy_or_empty(tmpl);
        json_t *cs = json_object_get(copy, "spec");
        if (json_is_object(cs)) {
            json_object_del(cs, "hostname");
            json_object_del(cs, "subdomain");
            if (jlen(vct)) {
                json_t *vols = json_array();
                ARR_EACH(vct, i, t)
                json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name",
                                                      jstr0(jobj(t, "metadata"), "name"),
                                                      "persistentVolumeClaim", "claimName",
                                                      jstr0(jobj(t, "metadata"), "name")));
                const json_t *vol;
                ARR_EACH(jarr(cs, "volumes"), i, vol)
                {
                    bool templ = false;
                    ARR_EACH(vct, j, t)
                    templ |= !strcmp(jstr0(jobj(t, "metadata"), "name"), jstr0(vol, "name"));
                    if (!templ)
                        json_array_append(vols, (json_t *)vol);
                }
                json_object_set_new(cs, "volumes", vols);
            }
        }
        k1s_v_check_pod_template(v, copy);
        json_decref(copy);
        k1s_v_check_labels(v, "labels", labels);
        k1s_v_check_annotations(v, "annotations", jobj(jobj(tmpl, "metadata"), "annotations"));
        size_t ma = push(v, "annotations");
        k1s_v_check_pod_annotations(v, jobj(jobj(tmpl, "metadata"), "annotations"),
                                    jobj(tmpl, "spec"));
        pop(v, ma);
        pop(v, mt);
    }
    const json_t *ts = jobj(tmpl, "spec");
    const char *rp = jstr0(ts, "restartPolicy");
    static const char *const always[] = {"Always"};
    if (strcmp(rp, "Always"))
        NOTSUPP(v, "template.spec.restartPolicy", rp, always);
    if (jget(ts, "activeDeadlineSeconds"))
        add(v, "template.spec.activeDeadlineSeconds", E_FORBIDDEN, NULL,
            "activeDeadlineSeconds in StatefulSet is not Supported");
    pop(v, m);
}

void k1s_v_check_statefulset(vctx_t *v, const k1s_resource_t *r, const json_t *ss,
                             const json_t *old)
{
    if (!old) {
        k1s_v_meta_create(v, r, ss);
        check_statefulset_spec(v, jobj(ss, "spec"), false);
        return;
    }
    k1s_v_meta_update(v, r, ss, old);
    check_statefulset_spec(v, jobj(ss, "spec"), true);
    json_t *a = k1s_v_copy_or_empty(jobj(ss, "spec"));
    json_t *b = k1s_v_copy_or_empty(jobj(old, "spec"));
    static const char *const mutable_fields[] = {"replicas",
                                                 "ordinals",
                                                 "template",
                                                 "updateStrategy",
                                                 "persistentVolumeClaimRetentionPolicy",
                                                 "minReadySeconds"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(mutable_fields); i++) {
        json_object_del(a, mutable_fields[i]);
        json_object_del(b, mutable_fields[i]);
    }
    if (!k1s_v_same(a, b))
        add(v, "spec", E_FORBIDDEN, NULL,
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
            "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
            "forbidden");
    json_decref(a);
    json_decref(b);
}

void k1s_v_check_daemonset(vctx_t *v, const k1s_resource_t *r, const json_t *ds, const json_t *old)
{
    const json_t *spec = jobj(ds, "spec");
    if (old) {
        k1s_v_meta_update(v, r, ds, old);
        k1s_v_immutable_selector(v, spec, jobj(old, "spec"));
    } else {
        k1s_v_meta_create(v, r, ds);
    }
    size_t m = push(v, "spec");
    const json_t *sel = jobj(spec, "selector"), *tmpl = jobj(spec, "template");
    size_t ms = push(v, "selector");
    k1s_v_check_selector(v, sel);
    pop(v, ms);
    const json_t *labels = jobj(jobj(tmpl, "metadata"), "labels");
    if (k1s_v_selector_kind(sel) != SEL_ERROR && !k1s_v_selector_matches(sel, labels))
        k1s_v_selector_mismatch(v, "template.metadata.labels", labels);
    if (sel && jlen(jobj(sel, "matchLabels")) + jlen(jarr(sel, "matchExpressions")) == 0)
        k1s_v_add_selector_value(v, "selector", sel, "empty selector is invalid for daemonset");
    size_t mt = push(v, "template");
    k1s_v_check_pod_template(v, tmpl);
    pop(v, mt);
    const json_t *ts = jobj(tmpl, "spec");
    const char *rp = jstr0(ts, "restartPolicy");
    static const char *const always[] = {"Always"};
    if (strcmp(rp, "Always"))
        NOTSUPP(v, "template.spec.restartPolicy", rp, always);
    if (jget(ts, "activeDeadlineSeconds"))
        add(v, "template.spec.activeDeadlineSeconds", E_FORBIDDEN, NULL,
            "activeDeadlineSeconds in DaemonSet is not Supported");
    k1s_v_nonneg(v, spec, "minReadySeconds", NULL);
    k1s_v_nonneg(v, spec, "templateGeneration", NULL);
    const json_t *us = jobj(spec, "updateStrategy"), *ru = jobj(us, "rollingUpdate");
    const char *ut = jstr0(us, "type");
    size_t mu = push(v, "updateStrategy");
    if (!strcmp(ut, "RollingUpdate")) {
        if (!ru) {
            add(v, "rollingUpdate", E_REQUIRED, NULL, "");
        } else {
            size_t mr = push(v, "rollingUpdate");
            const json_t *u = jget(ru, "maxUnavailable"), *s = jget(ru, "maxSurge");
            check_int_or_percent(v, "maxUnavailable", u);
            check_int_or_percent(v, "maxSurge", s);
            check_not_over_100(v, "maxUnavailable", u);
            check_not_over_100(v, "maxSurge", s);
            bool p;
            bool hu = intstr_value(u, &p) != 0, hs = intstr_value(s, &p) != 0;
            if (hu && hs) {
                k1s_buf_t b = K1S_BUF_INIT;
                k1s_v_go_intstr(&b, s);
                add(v, "maxSurge", E_INVALID, b.data,
                    "may not be set when maxUnavailable is non-zero");
                k1s_buf_free(&b);
            } else if (!hu && !hs) {
                add(v, "maxUnavailable", E_REQUIRED, NULL, "cannot be 0 when maxSurge is 0");
            }
            pop(v, mr);
        }
    } else if (strcmp(ut, "OnDelete")) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "apps.DaemonSetUpdateStrategy{Type:");
        k1s_v_go_quote(&b, ut);
        k1s_buf_puts(&b, ru ? ", RollingUpdate:(*apps.RollingUpdateDaemonSet)(0xc000000000)}"
                            : ", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}");
        add(v, NULL, E_NOTSUPPORTED, b.data, "supported values: \"RollingUpdate\", \"OnDelete\"");
        k1s_buf_free(&b);
    }
    pop(v, mu);
    k1s_v_nonneg(v, spec, "revisionHistoryLimit", NULL);
    pop(v, m);
}
