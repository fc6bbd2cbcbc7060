/*
 * Validation of the batch/v1 kinds (pkg/apis/batch/validation): Job and
 * CronJob, with the robfig/cron schedule parser CronJob validation uses.
 */
#include "api/validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/validate-int.h"

/* ------------------------------------------------------------------------------------------ */
/* batch/v1                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* validateJobSpec at the current path (a Job's or a CronJob's jobTemplate's "spec") */
static void check_job_spec_common(vctx_t *v, const json_t *spec)
{
    static const char *const nn[] = {"parallelism",
                                     "completions",
                                     "activeDeadlineSeconds",
                                     "backoffLimit",
                                     "ttlSecondsAfterFinished",
                                     "backoffLimitPerIndex"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(nn); i++)
        k1s_v_nonneg(v, spec, nn[i], NULL);
    long long mfi = 0, par = 0, comp = 0;
    bool has_mfi = jint(spec, "maxFailedIndexes", &mfi);
    bool has_bli = jget(spec, "backoffLimitPerIndex") != NULL;
    if (has_mfi) {
        k1s_v_nonneg(v, spec, "maxFailedIndexes", NULL);
        if (!has_bli)
            add(v, "backoffLimitPerIndex", E_REQUIRED, NULL, "when maxFailedIndexes is specified");
    }
    const char *mb = jstr(spec, "managedBy");
    if (mb) {
        const char *slash = strchr(mb, '/');
        if (!*mb) {
            add(v, "managedBy", E_REQUIRED, NULL, "");
        } else if (!slash || slash == mb || !slash[1]) {
            add_s(v, "managedBy", E_INVALID, mb,
                  "must be a domain-prefixed path (such as \"acme.io/foo\")");
        } else {
            char *host = k1s_xstrndup(mb, (size_t)(slash - mb));
            k1s_v_check_fmt(v, "managedBy", k1s_is_dns1123_subdomain, host);
            free(host);
        }
        if (strlen(mb) > 63)
            add_toolong(v, "managedBy", 63);
    }
    const char *cm = jstr(spec, "completionMode");
    bool has_par = jint(spec, "parallelism", &par), has_comp = jint(spec, "completions", &comp);
    if (cm) {
        static const char *const modes[] = {"NonIndexed", "Indexed"};
        if (!IN(cm, modes))
            NOTSUPP(v, "completionMode", cm, modes);
        if (!strcmp(cm, "Indexed")) {
            if (!has_comp)
                add(v, "completions", E_REQUIRED, NULL, "when completion mode is Indexed");
            if (has_par && par > 100000)
                add_i(v, "parallelism", E_INVALID, par,
                      "must be less than or equal to 100000 when completion mode is Indexed");
            if (has_comp && has_mfi && mfi > comp)
                add_i(v, "maxFailedIndexes", E_INVALID, mfi,
                      "must be less than or equal to completions");
            if (has_mfi && mfi > 100000)
                add_i(v, "maxFailedIndexes", E_INVALID, mfi,
                      "must be less than or equal to 100000");
        }
    }
    if (!cm || !strcmp(cm, "NonIndexed")) {
        long long b;
        if (jint(spec, "backoffLimitPerIndex", &b))
            add_i(v, "backoffLimitPerIndex", E_INVALID, b, "requires indexed completion mode");
        if (has_mfi)
            add_i(v, "maxFailedIndexes", E_INVALID, mfi, "requires indexed completion mode");
    }
    bool pfp = jobj(spec, "podFailurePolicy") != NULL;
    const char *prp = jstr(spec, "podReplacementPolicy");
    if (prp) {
        if (pfp) {
            static const char *const failed[] = {"Failed"};
            if (strcmp(prp, "Failed"))
                NOTSUPP(v, "podReplacementPolicy", prp, failed);
        } else {
            static const char *const prps[] = {"Failed", "TerminatingOrFailed"};
            if (!IN(prp, prps))
                NOTSUPP(v, "podReplacementPolicy", prp, prps);
        }
    }
    size_t m = push(v, "template");
    k1s_v_check_pod_template(v, jobj(spec, "template"));
    pop(v, m);
    const char *rp = jstr0(jobj(jobj(spec, "template"), "spec"), "restartPolicy");
    if (!*rp || !strcmp(rp, "Always")) {
        add(v, "template.spec.restartPolicy", E_REQUIRED, NULL,
            "valid values: \"OnFailure\", \"Never\"");
    } else if (strcmp(rp, "OnFailure") && strcmp(rp, "Never")) {
        static const char *const rps[] = {"OnFailure", "Never"};
        NOTSUPP(v, "template.spec.restartPolicy", rp, rps);
    } else if (pfp && strcmp(rp, "Never")) {
        add_s(v, "template.spec.restartPolicy", E_INVALID, rp,
              "only \"Never\" is supported when podFailurePolicy is specified");
    }
}

/* ValidateJobSpec at "spec" */
static void check_job_spec(vctx_t *v, const json_t *spec)
{
    size_t m = push(v, "spec");
    check_job_spec_common(v, spec);
    const json_t *sel = jobj(spec, "selector");
    if (!sel) {
        add(v, "selector", E_REQUIRED, NULL, "");
    } else {
        size_t ms = push(v, "selector");
        k1s_v_check_selector(v, sel);
        pop(v, ms);
    }
    const json_t *labels = jobj(jobj(jobj(spec, "template"), "metadata"), "labels");
    if (k1s_v_selector_kind(sel) != SEL_ERROR && !k1s_v_selector_matches(sel, labels))
        k1s_v_selector_mismatch(v, "template.metadata.labels", labels);
    pop(v, m);
}

static void has_label(vctx_t *v, const json_t *tmeta, const char *key, const char *want)
{
    const json_t *labels = jobj(tmeta, "labels");
    const char *have = jstr(labels, key);
    size_t m = push(v, "spec");
    push(v, "template");
    push(v, "metadata");
    push(v, "labels");
    push_key(v, key);
    char *d = k1s_xasprintf("must be '%s'", want);
    if (!have) {
        add(v, NULL, E_REQUIRED, NULL, d);
    } else if (strcmp(have, want)) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_v_go_map(&b, labels);
        add(v, NULL, E_INVALID, b.data, d);
        k1s_buf_free(&b);
    }
    free(d);
    pop(v, m);
}

void k1s_v_check_job(vctx_t *v, const k1s_resource_t *r, const json_t *job, const json_t *old)
{
    const json_t *spec = jobj(job, "spec"), *meta = jobj(job, "metadata");
    const char *name = jstr0(meta, "name"), *uid = jstr0(meta, "uid");
    k1s_v_meta_create(v, r, job);
    /* validateGeneratedSelector */
    if (!jtrue(spec, "manualSelector") && jobj(spec, "selector")) {
        if (!*uid)
            add(v, "metadata.uid", E_REQUIRED, NULL, "");
        const json_t *tmeta = jobj(jobj(spec, "template"), "metadata");
        has_label(v, tmeta, "controller-uid", uid);
        has_label(v, tmeta, "job-name", name);
        bool prefixed = true;
        if (old) {
            const json_t *ol =
                jobj(jobj(jobj(jobj(old, "spec"), "template"), "metadata"), "labels");
            prefixed = jget(ol, "batch.kubernetes.io/job-name") &&
                       jget(ol, "batch.kubernetes.io/controller-uid");
        }
        json_t *expected = json_pack("{s:s, s:s}", "controller-uid", uid, "job-name", name);
        if (prefixed) {
            has_label(v, tmeta, "batch.kubernetes.io/controller-uid", uid);
            has_label(v, tmeta, "batch.kubernetes.io/job-name", name);
            json_object_set_new(expected, "batch.kubernetes.io/controller-uid", json_string(uid));
            json_object_set_new(expected, "batch.kubernetes.io/job-name", json_string(name));
        }
        const json_t *sel = jobj(spec, "selector");
        if (k1s_v_selector_kind(sel) != SEL_ERROR && !k1s_v_selector_matches(sel, expected))
            k1s_v_add_selector_value(v, "spec.selector", sel, "`selector` not auto-generated");
        json_decref(expected);
    }
    check_job_spec(v, spec);
    long long comp;
    if (!strcmp(jstr0(spec, "completionMode"), "Indexed") && jint(spec, "completions", &comp) &&
        comp > 0) {
        char *host = k1s_xasprintf("%s-%lld", name, comp - 1);
        const char *msgs[K1S_VALIDATE_MAX_MSGS];
        if (k1s_is_dns1123_label(host, msgs)) {
            char *d = k1s_xasprintf("will not able to create pod with invalid DNS label: %s", host);
            add_s(v, "metadata.name", E_INVALID, name, d);
            free(d);
        }
        free(host);
    }
    if (!old)
        return;
    const json_t *ospec = jobj(old, "spec");
    k1s_v_meta_update(v, r, job, old);
    check_job_spec(v, spec);
    size_t m = push(v, "spec");
    const json_t *c = jget(spec, "completions"), *oc = jget(ospec, "completions");
    if (strcmp(jstr0(spec, "completionMode"), "Indexed")) {
        if (!k1s_v_same(c, oc) || (!c) != (!oc)) {
            long long n;
            if (jnum(c, &n))
                add_i(v, "completions", E_INVALID, n, MSG_IMMUTABLE);
            else
                add(v, "completions", E_INVALID, "null", MSG_IMMUTABLE);
        }
    } else if (c && !k1s_v_same(c, oc)) {
        long long n = 0, p = 0;
        jnum(c, &n);
        jint(spec, "parallelism", &p);
        if (n != p)
            add_i(v, "completions", E_INVALID, n,
                  "can only be modified in tandem with spec.parallelism");
    }
    pop(v, m);
    k1s_v_immutable_selector(v, spec, ospec);
    /* the template is immutable, but for scheduling directives of never-started suspended jobs */
    json_t *nt = k1s_v_copy_or_empty(jobj(spec, "template"));
    json_t *ot = k1s_v_copy_or_empty(jobj(ospec, "template"));
    if (jtrue(ospec, "suspend") && !jget(jobj(old, "status"), "startTime")) {
        json_t *ns = json_object_get(nt, "spec"), *os = json_object_get(ot, "spec");
        static const char *const keys[] = {"nodeSelector", "tolerations", "schedulingGates"};
        for (size_t i = 0; json_is_object(ns) && json_is_object(os) && i < K1S_ARRAY_SIZE(keys);
             i++) {
            json_object_del(ns, keys[i]);
            json_object_del(os, keys[i]);
        }
        if (json_is_object(ns) && json_is_object(os)) {
            json_object_del(json_object_get(ns, "affinity"), "nodeAffinity");
            json_object_del(json_object_get(os, "affinity"), "nodeAffinity");
        }
        json_t *nm = json_object_get(nt, "metadata"), *om = json_object_get(ot, "metadata");
        json_object_del(nm, "labels");
        json_object_del(nm, "annotations");
        json_object_del(om, "labels");
        json_object_del(om, "annotations");
    }
    if (!k1s_v_same(nt, ot))
        add(v, "spec.template", E_INVALID, "core.PodTemplateSpec{...}", MSG_IMMUTABLE);
    json_decref(nt);
    json_decref(ot);
    static const char *const imm[] = {"completionMode", "podFailurePolicy", "backoffLimitPerIndex",
                                      "managedBy", "successPolicy"};
    m = push(v, "spec");
    for (size_t i = 0; i < K1S_ARRAY_SIZE(imm); i++) {
        const json_t *a = jget(spec, imm[i]), *b = jget(ospec, imm[i]);
        if (k1s_v_same(a, b) && (!a) == (!b))
            continue;
        long long n;
        if (json_is_string(a))
            add_s(v, imm[i], E_INVALID, json_string_value(a), MSG_IMMUTABLE);
        else if (jnum(a, &n))
            add_i(v, imm[i], E_INVALID, n, MSG_IMMUTABLE);
        else
            add(v, imm[i], E_INVALID, a ? "{...}" : "null", MSG_IMMUTABLE);
    }
    pop(v, m);
}

/* robfig/cron's parser (cron.ParseStandard), for its error messages */
static const char *const cron_months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const cron_days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static char *cron_int(const char *expr, long *out, const char *const *names, size_t nnames,
                      long name_base)
{
    for (size_t i = 0; names && i < nnames; i++) {
        if (!strcasecmp(expr, names[i])) {
            *out = (long)i + name_base;
            return NULL;
        }
    }
    const char *p = expr;
    if (*p == '+' || *p == '-')
        p++;
    bool digits = *p != 0;
    for (const char *c = p; *c; c++)
        digits &= isdigit((unsigned char)*c) != 0;
    if (!digits)
        return k1s_xasprintf(
            "failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax", expr,
            expr);
    long n = strtol(expr, NULL, 10);
    if (n < 0)
        return k1s_xasprintf("negative number (%ld) not allowed: %s", n, expr);
    *out = n;
    return NULL;
}

static char *cron_range(const char *expr, long min, long max, const char *const *names,
                        size_t nnames, long name_base)
{
    char *dup = k1s_xstrdup(expr);
    char *slash = strchr(dup, '/');
    char *err = NULL;
    if (slash && strchr(slash + 1, '/')) {
        err = k1s_xasprintf("too many slashes: %s", expr);
        goto out;
    }
    if (slash)
        *slash = 0;
    long start, end, step = 1;
    char *hy = strchr(dup, '-');
    bool single = hy == NULL;
    if (!strcmp(dup, "*") || !strcmp(dup, "?")) {
        start = min;
        end = max;
    } else {
        if (hy)
            *hy = 0;
        if ((err = cron_int(dup, &start, names, nnames, name_base)))
            goto out;
        if (!hy) {
            end = start;
        } else if (strchr(hy + 1, '-')) {
            err = k1s_xasprintf("too many hyphens: %s", expr);
            goto out;
        } else if ((err = cron_int(hy + 1, &end, names, nnames, name_base))) {
            goto out;
        }
    }
    if (slash) {
        if ((err = cron_int(slash + 1, &step, NULL, 0, 0)))
            goto out;
        if (single)
            end = max;
    }
    if (start < min)
        err = k1s_xasprintf("beginning of range (%ld) below minimum (%ld): %s", start, min, expr);
    else if (end > max)
        err = k1s_xasprintf("end of range (%ld) above maximum (%ld): %s", end, max, expr);
    else if (start > end)
        err = k1s_xasprintf("beginning of range (%ld) beyond end of range (%ld): %s", start, end,
                            expr);
    else if (step == 0)
        err = k1s_xasprintf("step of range should be a positive number: %s", expr);
out:
    free(dup);
    return err;
}

/* Returns NULL if the schedule parses, else robfig/cron's error message (new string). */
static char *cron_parse(const char *spec)
{
    while (isspace((unsigned char)*spec))
        spec++;
    if (!*spec)
        return k1s_xstrdup("empty spec string");
    if (k1s_str_has_prefix(spec, "TZ=") || k1s_str_has_prefix(spec, "CRON_TZ=")) {
        const char *eq = strchr(spec, '=') + 1;
        size_t n = strcspn(eq, " \t");
        char *tz = k1s_xstrndup(eq, n);
        char *p = k1s_xasprintf("/usr/share/zoneinfo/%s", tz);
        struct stat st;
        bool ok = !strcmp(tz, "UTC") || (stat(p, &st) == 0 && S_ISREG(st.st_mode));
        free(p);
        if (!ok) {
            char *e = k1s_xasprintf("provided bad location %s: unknown time zone %s", tz, tz);
            free(tz);
            return e;
        }
        free(tz);
        spec = eq + n;
        while (isspace((unsigned char)*spec))
            spec++;
    }
    if (spec[0] == '@') {
        static const char *const desc[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                           "@daily",  "@midnight", "@hourly"};
        if (IN(spec, desc))
            return NULL;
        if (k1s_str_has_prefix(spec, "@every ")) {
            const char *d = spec + 7;
            /* a Go duration: one or more <number><unit> */
            const char *p = d;
            bool ok = *p != 0;
            while (ok && *p) {
                const char *s = p;
                while (isdigit((unsigned char)*p) || *p == '.')
                    p++;
                if (p == s) {
                    ok = false;
                    break;
                }
                static const char *const units[] = {"ns", "us", "µs", "ms", "s", "m", "h"};
                bool unit = false;
                for (size_t i = 0; i < K1S_ARRAY_SIZE(units) && !unit; i++) {
                    size_t n = strlen(units[i]);
                    if (!strncmp(p, units[i], n) && (units[i][n - 1] != 'm' || p[1] != 's')) {
                        p += n;
                        unit = true;
                    }
                }
                ok = unit;
            }
            if (ok)
                return NULL;
            return k1s_xasprintf("failed to parse duration %s: time: invalid duration \"%s\"", spec,
                                 d);
        }
        return k1s_xasprintf("unrecognized descriptor: %s", spec);
    }
    char *copy = k1s_xstrdup(spec), *save = NULL;
    char *fields[64];
    int n = 0;
    for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
        if (n < 64)
            fields[n++] = t;
    char *err = NULL;
    if (n != 5) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_printf(&b, "expected exactly 5 fields, found %d: [", n);
        for (int i = 0; i < n; i++)
            k1s_buf_printf(&b, "%s%s", i ? " " : "", fields[i]);
        k1s_buf_putc(&b, ']');
        free(copy);
        return k1s_buf_steal(&b);
    }
    static const long mins[] = {0, 0, 1, 1, 0}, maxs[] = {59, 23, 31, 12, 6};
    for (int i = 0; i < 5 && !err; i++) {
        char *save2 = NULL;
        for (char *part = strtok_r(fields[i], ",", &save2); part && !err;
             part = strtok_r(NULL, ",", &save2))
            err = cron_range(part, mins[i], maxs[i],
                             i == 3   ? cron_months
                             : i == 4 ? cron_days
                                      : NULL,
                             i == 3   ? 12
                             : i == 4 ? 7
                                      : 0,
                             i == 3 ? 1 : 0);
    }
    free(copy);
    return err;
}

void k1s_v_check_cronjob(vctx_t *v, const k1s_resource_t *r, const json_t *cj, const json_t *old)
{
    const json_t *spec = jobj(cj, "spec"), *ospec = old ? jobj(old, "spec") : NULL;
    if (old)
        k1s_v_meta_update(v, r, cj, old);
    else
        k1s_v_meta_create(v, r, cj);
    size_t m = push(v, "spec");
    const char *sched = jstr0(spec, "schedule");
    if (!*sched) {
        add(v, "schedule", E_REQUIRED, NULL, "");
    } else {
        bool allow_tz = ospec && strstr(jstr0(ospec, "schedule"), "TZ");
        char *err = cron_parse(sched);
        if (err) {
            add_s(v, "schedule", E_INVALID, sched, err);
            free(err);
        }
        if (allow_tz && strstr(sched, "TZ") && jget(spec, "timeZone"))
            add_s(v, "schedule", E_INVALID, sched,
                  "cannot use both timeZone field and TZ or CRON_TZ in schedule");
        else if (!allow_tz && strstr(sched, "TZ"))
            add_s(v, "schedule", E_INVALID, sched,
                  "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
    }
    k1s_v_nonneg(v, spec, "startingDeadlineSeconds", NULL);
    const char *tz = jstr(spec, "timeZone");
    const char *otz = ospec ? jstr(ospec, "timeZone") : NULL;
    if (tz && (!ospec || !otz || strcmp(tz, otz))) {
        if (!*tz) {
            add_s(v, "timeZone", E_INVALID, tz, "timeZone must be nil or non-empty string");
        } else {
            bool bad = false;
            char *copy = k1s_xstrdup(tz), *save = NULL;
            bool empty_part = strstr(tz, "//") || tz[0] == '/' || tz[strlen(tz) - 1] == '/';
            for (char *part = strtok_r(copy, "/", &save); part && !bad;
                 part = strtok_r(NULL, "/", &save)) {
                size_t n = strlen(part);
                bool chars = n >= 1 && n <= 14;
                for (size_t i = 0; i < n; i++)
                    chars &= isalnum((unsigned char)part[i]) || strchr(".-_+", part[i]);
                bad = !strcmp(part, ".") || !strcmp(part, "..") || part[0] == '-' || !chars;
            }
            free(copy);
            if (bad || empty_part) {
                char *d = k1s_xasprintf("unknown time zone %s", tz);
                add_s(v, "timeZone", E_INVALID, tz, d);
                free(d);
            } else {
                if (!strcasecmp(tz, "Local"))
                    add_s(v, "timeZone", E_INVALID, tz,
                          "timeZone must be an explicit time zone as defined in "
                          "https://www.iana.org/time-zones");
                char *p = k1s_xasprintf("/usr/share/zoneinfo/%s", tz);
                struct stat st;
                if (strcmp(tz, "UTC") && strcasecmp(tz, "Local") &&
                    !(stat(p, &st) == 0 && S_ISREG(st.st_mode))) {
                    char *d = k1s_xasprintf("unknown time zone %s", tz);
                    add_s(v, "timeZone", E_INVALID, tz, d);
                    free(d);
                }
                free(p);
            }
        }
    }
    const char *cp = jstr0(spec, "concurrencyPolicy");
    static const char *const cps[] = {"Allow", "Forbid", "Replace"};
    if (!*cp)
        add(v, "concurrencyPolicy", E_REQUIRED, NULL, "");
    else if (!IN(cp, cps))
        NOTSUPP(v, "concurrencyPolicy", cp, cps);
    const json_t *jt = jobj(spec, "jobTemplate"), *js = jobj(jt, "spec");
    size_t mj = push(v, "jobTemplate");
    push(v, "spec");
    check_job_spec_common(v, js);
    if (jobj(js, "selector"))
        k1s_v_add_selector_value(v, "selector", jobj(js, "selector"),
                                 "`selector` will be auto-generated");
    if (jtrue(js, "manualSelector")) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "supported values: \"nil\", \"false\"");
        add(v, "manualSelector", E_NOTSUPPORTED, "true", b.data);
        k1s_buf_free(&b);
    }
    pop(v, mj);
    k1s_v_nonneg(v, spec, "successfulJobsHistoryLimit", NULL);
    k1s_v_nonneg(v, spec, "failedJobsHistoryLimit", NULL);
    pop(v, m);
    const char *name = jstr0(jobj(cj, "metadata"), "name");
    if (!old && strlen(name) > 52)
        add_s(v, "metadata.name", E_INVALID, name, "must be no more than 52 characters");
}
