/*
 * --kubelet-arg parsing (see kubelet-args.h): kubelet's flag syntax for the eviction and image
 * garbage collection settings, checked at start with messages that say what is expected.
 */
#include "agent/kubelet-args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/quantity.h"
#include "lib/buf.h"
#include "lib/util.h"

static const char *const signal_names[K1S_SIG_N] = {"memory.available", "nodefs.available",
                                                    "nodefs.inodesFree", "imagefs.available",
                                                    "imagefs.inodesFree"};

const char *k1s_evict_signal_name(k1s_evict_signal_t s)
{
    return s < K1S_SIG_N ? signal_names[s] : "unknown";
}

void k1s_kubelet_config_default(k1s_kubelet_config_t *c)
{
    memset(c, 0, sizeof(*c));
    /* kubelet's DefaultEvictionHard on Linux */
    c->hard[K1S_SIG_MEMORY_AVAILABLE] = (k1s_evict_threshold_t){true, 0, 100ull << 20};
    c->hard[K1S_SIG_NODEFS_AVAILABLE] = (k1s_evict_threshold_t){true, 0.10, 0};
    c->hard[K1S_SIG_NODEFS_INODES_FREE] = (k1s_evict_threshold_t){true, 0.05, 0};
    c->hard[K1S_SIG_IMAGEFS_AVAILABLE] = (k1s_evict_threshold_t){true, 0.15, 0};
    c->hard[K1S_SIG_IMAGEFS_INODES_FREE] = (k1s_evict_threshold_t){true, 0.05, 0};
    c->image_gc_high_pct = 85;
    c->image_gc_low_pct = 80;
    c->min_image_ttl_s = 120;
    c->pressure_transition_s = 300;
}

int k1s_evict_thresholds_parse(const char *s, k1s_evict_threshold_t hard[K1S_SIG_N], k1s_err_t *err)
{
    memset(hard, 0, sizeof(hard[0]) * K1S_SIG_N);
    char *copy = k1s_xstrdup(s), *save = NULL;
    int r = 0;
    for (char *item = strtok_r(copy, ",", &save); item && !r; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        if (!*item)
            continue;
        char *op = strchr(item, '<');
        if (!op) {
            r = k1s_err_set(err, EINVAL,
                            "\"%s\": expected signal<value, such as nodefs.available<10%% or "
                            "memory.available<100Mi",
                            item);
            break;
        }
        *op = 0;
        const char *val = op + 1;
        int sig = -1;
        for (int i = 0; i < K1S_SIG_N; i++)
            if (!strcmp(item, signal_names[i]))
                sig = i;
        if (sig < 0) {
            r = k1s_err_set(err, EINVAL,
                            "unsupported eviction signal %s (use memory.available, "
                            "nodefs.available, nodefs.inodesFree, imagefs.available or "
                            "imagefs.inodesFree)",
                            item);
            break;
        }
        size_t vl = strlen(val);
        if (vl && val[vl - 1] == '%') {
            char *end;
            double pct = strtod(val, &end);
            if (end == val || end != val + vl - 1 || pct < 0 || pct > 100) {
                r = k1s_err_set(err, EINVAL,
                                "eviction threshold %s: \"%s\" is not a percentage between 0%% "
                                "and 100%%",
                                item, val);
                break;
            }
            /* kubelet ignores 0% and 100% */
            if (pct > 0 && pct < 100)
                hard[sig] = (k1s_evict_threshold_t){true, pct / 100, 0};
            continue;
        }
        k1s_quantity_t q;
        if (k1s_quantity_parse(val, &q, NULL) < 0 || k1s_quantity_sign(&q) <= 0) {
            r = k1s_err_set(err, EINVAL,
                            "eviction threshold %s: \"%s\" must be a positive quantity (such as "
                            "100Mi or 1Gi) or a percentage (such as 10%%)",
                            item, val);
            break;
        }
        hard[sig] = (k1s_evict_threshold_t){true, 0, (uint64_t)k1s_quantity_value(&q)};
    }
    free(copy);
    return r;
}

static int parse_pct(const char *name, const char *v, int *out, k1s_err_t *err)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0 || n > 100)
        return k1s_err_set(err, EINVAL, "expected a whole percentage from 0 to 100");
    *out = (int)n;
    return 0;
}

static int parse_duration(const char *name, const char *v, int64_t *out, k1s_err_t *err)
{
    int ms;
    if (k1s_parse_duration_ms(v, &ms) < 0)
        return k1s_err_set(err, EINVAL, "expected a duration such as 5m0s, 90s or 1h");
    *out = ms / 1000;
    return 0;
}

/* Unknown kubelet flags are collected into a warning, not an error. */
int k1s_kubelet_config_parse(char *const *args, k1s_kubelet_config_t *out, char **warnings,
                             k1s_err_t *err)
{
    k1s_kubelet_config_t c;
    k1s_kubelet_config_default(&c);
    k1s_buf_t warn = K1S_BUF_INIT;
    int r = 0;
    for (size_t i = 0; args && args[i] && !r; i++) {
        const char *a = args[i];
        while (*a == '-')
            a++; /* "--eviction-hard=..." as well as "eviction-hard=..." */
        const char *eq = strchr(a, '=');
        if (!eq || eq == a) {
            r = k1s_err_set(err, EINVAL, "--kubelet-arg \"%s\": expected name=value", args[i]);
            break;
        }
        char *name = k1s_xstrndup(a, (size_t)(eq - a));
        const char *v = eq + 1;
        if (!strcmp(name, "eviction-hard"))
            r = k1s_evict_thresholds_parse(v, c.hard, err);
        else if (!strcmp(name, "image-gc-high-threshold"))
            r = parse_pct(name, v, &c.image_gc_high_pct, err);
        else if (!strcmp(name, "image-gc-low-threshold"))
            r = parse_pct(name, v, &c.image_gc_low_pct, err);
        else if (!strcmp(name, "eviction-pressure-transition-period"))
            r = parse_duration(name, v, &c.pressure_transition_s, err);
        else if (!strcmp(name, "minimum-image-ttl-duration"))
            r = parse_duration(name, v, &c.min_image_ttl_s, err);
        else
            k1s_buf_printf(&warn, "%s%s", warn.len ? ", " : "", name);
        if (r < 0)
            k1s_err_prefix(err, "--kubelet-arg %s", args[i]);
        free(name);
    }
    if (r == 0 && c.image_gc_low_pct > c.image_gc_high_pct)
        r = k1s_err_set(err, EINVAL,
                        "--kubelet-arg image-gc-low-threshold (%d) must not be above "
                        "image-gc-high-threshold (%d)",
                        c.image_gc_low_pct, c.image_gc_high_pct);
    if (r < 0) {
        k1s_buf_free(&warn);
        return r;
    }
    *out = c;
    if (warnings)
        *warnings = warn.len ? k1s_xasprintf("--kubelet-arg %s: not supported by k1s's kubelet; "
                                             "ignored (supported: eviction-hard, "
                                             "eviction-pressure-transition-period, "
                                             "image-gc-high-threshold, image-gc-low-threshold, "
                                             "minimum-image-ttl-duration)",
                                             warn.data)
                             : NULL;
    k1s_buf_free(&warn);
    return 0;
}
