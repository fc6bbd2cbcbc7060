/*
 * The DefaultTolerationSeconds admission plugin
 * (plugin/pkg/admission/defaulttolerationseconds): a pod that does not
 * already tolerate the node.kubernetes.io/not-ready and
 * node.kubernetes.io/unreachable NoExecute taints gets tolerations for them
 * with tolerationSeconds 300, so its pods are evicted five minutes after
 * their node goes away.
 */
#include <string.h>

#include "api/apiserver-int.h"

#define DEFAULT_TOLERATION_SECONDS 300

/* A toleration with an empty key or effect tolerates every key or effect. */
static bool tolerates(const json_t *tols, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(tols, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "key"));
        const char *e = json_string_value(json_object_get(t, "effect"));
        if ((!k || !*k || !strcmp(k, key)) && (!e || !*e || !strcmp(e, "NoExecute")))
            return true;
    }
    return false;
}

int k1s_admit_default_tolerations(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    if (strcmp(r->res->plural, "pods") || r->res->group[0] || r->sub || !r->obj)
        return 0;
    json_t *spec = json_object_get(r->obj, "spec");
    if (!json_is_object(spec))
        return 0;
    json_t *tols = json_object_get(spec, "tolerations");
    if (!json_is_array(tols)) {
        tols = json_array();
        json_object_set_new(spec, "tolerations", tols);
    }
    static const char *const keys[] = {"node.kubernetes.io/not-ready",
                                       "node.kubernetes.io/unreachable"};
    for (size_t i = 0; i < 2; i++) {
        if (tolerates(tols, keys[i]))
            continue;
        json_array_append_new(tols, json_pack("{s:s, s:s, s:s, s:i}", "key", keys[i], "operator",
                                              "Exists", "effect", "NoExecute", "tolerationSeconds",
                                              DEFAULT_TOLERATION_SECONDS));
    }
    return 0;
}
