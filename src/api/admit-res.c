/*
 * Resource arithmetic for the admission plugins (see admit-int.h): milli
 * values of quantities, their Kubernetes string form, and a pod's
 * effective requests and limits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admit-int.h"
#include "lib/util.h"

bool k1s_res_milli(const json_t *v, int64_t *out)
{
    k1s_quantity_t q;
    if (!v || k1s_quantity_from_json(v, &q, NULL) < 0)
        return false;
    *out = k1s_quantity_milli_value(&q);
    return true;
}

char *k1s_res_format(int64_t milli, k1s_quantity_format_t format)
{
    k1s_quantity_t q;
    memset(&q, 0, sizeof(q));
    q.neg = milli < 0;
    uint64_t m = q.neg ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
    snprintf(q.digits, sizeof(q.digits), "%" PRIu64, m);
    q.exp = -3;
    /* no trailing zeros in the digits: move them into the exponent */
    size_t n = strlen(q.digits);
    while (n > 1 && q.digits[n - 1] == '0') {
        q.digits[--n] = 0;
        q.exp++;
    }
    if (m == 0) {
        strcpy(q.digits, "0");
        q.exp = 0;
        q.neg = false;
    }
    q.format = format;
    return k1s_quantity_string(&q);
}

k1s_quantity_format_t k1s_res_format_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *base = dot ? dot + 1 : name;
    if (!strcmp(base, "memory") || !strcmp(base, "storage") || !strcmp(base, "ephemeral-storage") ||
        k1s_str_has_prefix(name, "hugepages-"))
        return K1S_QTY_BINARY_SI;
    return K1S_QTY_DECIMAL_SI;
}

char *k1s_res_string(const json_t *v)
{
    k1s_quantity_t q;
    if (v && k1s_quantity_from_json(v, &q, NULL) == 0)
        return k1s_quantity_string(&q);
    return k1s_xstrdup(json_is_string(v) ? json_string_value(v) : "");
}

static void acc_add(json_t *acc, const char *k, int64_t m)
{
    int64_t cur = json_integer_value(json_object_get(acc, k));
    int64_t sum;
    if (__builtin_add_overflow(cur, m, &sum))
        sum = m > 0 ? INT64_MAX : INT64_MIN;
    json_object_set_new(acc, k, json_integer(sum));
}

void k1s_res_add_list(json_t *acc, const json_t *list)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)list, k, v)
    {
        int64_t m;
        if (k1s_res_milli(v, &m))
            acc_add(acc, k, m);
    }
}

static const json_t *container_list(const json_t *c, const char *which)
{
    return json_object_get(json_object_get(c, "resources"), which);
}

json_t *k1s_res_pod(const json_t *pod, const char *which)
{
    const json_t *spec = json_object_get(pod, "spec");
    json_t *sum = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        k1s_res_add_list(sum, container_list(c, which));
    }
    /* restartable (sidecar) init containers run alongside: they add up; the others run one at
     * a time before the app containers, so each only raises the floor */
    json_t *sidecars = json_object();
    json_array_foreach(json_object_get(spec, "initContainers"), i, c)
    {
        const char *rp = json_string_value(json_object_get(c, "restartPolicy"));
        json_t *one = json_object();
        k1s_res_add_list(one, container_list(c, which));
        if (rp && !strcmp(rp, "Always")) {
            k1s_res_add_list(sidecars, container_list(c, which));
            const char *k;
            json_t *v;
            json_object_foreach(one, k, v)
            {
                acc_add(sum, k, json_integer_value(v));
            }
        } else {
            const char *k;
            json_t *v;
            json_object_foreach(one, k, v)
            {
                int64_t need =
                    json_integer_value(v) + json_integer_value(json_object_get(sidecars, k));
                if (need > json_integer_value(json_object_get(sum, k)))
                    json_object_set_new(sum, k, json_integer(need));
            }
        }
        json_decref(one);
    }
    json_decref(sidecars);
    k1s_res_add_list(sum, json_object_get(spec, "overhead"));
    return sum;
}

bool k1s_res_pod_terminal(const json_t *pod)
{
    const char *ph = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}
