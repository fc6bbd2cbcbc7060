/*
 * The Priority admission plugin (plugin/pkg/admission/priority): a pod
 * created with spec.priorityClassName gets spec.priority and
 * spec.preemptionPolicy from that PriorityClass (system-node-critical and
 * system-cluster-critical are built in); a pod without one gets the global
 * default class (the smallest value among those marked globalDefault) or
 * priority 0. A priority or policy given in the pod that differs from the
 * class's is refused, as is a class that does not exist. On update the
 * stored values are kept when the new object leaves them out. A
 * PriorityClass marked globalDefault is refused while another one is.
 */
#include <stdlib.h>
#include <string.h>

#include "api/apiserver-int.h"

#define SYSTEM_NODE_CRITICAL 2000001000
#define SYSTEM_CLUSTER_CRITICAL 2000000000

static json_t *get_class(k1s_apiserver_t *api, const char *name)
{
    const k1s_resource_t *res = k1s_registry_find("scheduling.k8s.io", "v1", "priorityclasses");
    char *key = k1s_obj_key(res, NULL, name);
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    free(key);
    return kv ? k1s_obj_decode(kv->value) : NULL;
}

typedef struct {
    json_t *best; /* the global default class, or NULL */
    const char *except;
} default_pick_t;

static int each_class(k1s_kv_t *kv, void *arg)
{
    default_pick_t *p = arg;
    json_t *pc = k1s_obj_decode(kv->value);
    if (pc && json_is_true(json_object_get(pc, "globalDefault")) &&
        !(p->except && k1s_streq(k1s_obj_str(pc, "metadata.name"), p->except)) &&
        (!p->best || json_integer_value(json_object_get(pc, "value")) <
                         json_integer_value(json_object_get(p->best, "value")))) {
        json_decref(p->best);
        p->best = json_incref(pc);
    }
    json_decref(pc);
    return 0;
}

static json_t *global_default(k1s_apiserver_t *api, const char *except)
{
    const k1s_resource_t *res = k1s_registry_find("scheduling.k8s.io", "v1", "priorityclasses");
    char *prefix = k1s_obj_prefix(res, NULL);
    default_pick_t p = {NULL, except};
    k1s_store_range(api->store, prefix, NULL, each_class, &p);
    free(prefix);
    return p.best;
}

static int admit_class(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    const char *op = k1s_admit_operation(r);
    if (!r->obj || (strcmp(op, "CREATE") && strcmp(op, "UPDATE")) ||
        !json_is_true(json_object_get(r->obj, "globalDefault")))
        return 0;
    json_t *d = global_default(r->api, k1s_obj_str(r->obj, "metadata.name"));
    int rc = 0;
    if (d)
        rc = k1s_admit_denyf(
            deny, "PriorityClass %s is already marked as default. Only one default can exist",
            k1s_obj_str(d, "metadata.name"));
    json_decref(d);
    return rc;
}

int k1s_admit_priority(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    if (!strcmp(r->res->group, "scheduling.k8s.io") && !strcmp(r->res->plural, "priorityclasses") &&
        !r->sub)
        return admit_class(r, deny);
    if (strcmp(r->res->plural, "pods") || r->res->group[0] || r->sub || !r->obj)
        return 0;
    json_t *spec = json_object_get(r->obj, "spec");
    if (!json_is_object(spec))
        return 0;
    const char *op = k1s_admit_operation(r);
    if (!strcmp(op, "UPDATE")) {
        const json_t *ospec = json_object_get(r->old, "spec");
        const char *keep[] = {"priority", "preemptionPolicy"};
        for (int i = 0; i < 2; i++) {
            json_t *ov = json_object_get(ospec, keep[i]);
            if (!json_object_get(spec, keep[i]) && ov)
                json_object_set(spec, keep[i], ov);
        }
        return 0;
    }
    if (strcmp(op, "CREATE"))
        return 0;
    const char *name = json_string_value(json_object_get(spec, "priorityClassName"));
    json_int_t prio = 0;
    const char *policy = NULL;
    json_t *pc = NULL;
    if (!name || !*name) {
        pc = global_default(r->api, NULL);
        if (pc) {
            json_object_set_new(spec, "priorityClassName",
                                json_string(k1s_obj_str(pc, "metadata.name")));
            prio = json_integer_value(json_object_get(pc, "value"));
            policy = json_string_value(json_object_get(pc, "preemptionPolicy"));
        }
    } else if ((pc = get_class(r->api, name))) {
        prio = json_integer_value(json_object_get(pc, "value"));
        policy = json_string_value(json_object_get(pc, "preemptionPolicy"));
    } else if (!strcmp(name, "system-node-critical") || !strcmp(name, "system-cluster-critical")) {
        prio = name[7] == 'n' ? SYSTEM_NODE_CRITICAL : SYSTEM_CLUSTER_CRITICAL;
        policy = "PreemptLowerPriority";
    } else {
        return k1s_admit_denyf(deny, "no PriorityClass with name %s was found", name);
    }
    int rc = 0;
    const json_t *given = json_object_get(spec, "priority");
    if (json_is_integer(given) && json_integer_value(given) != prio) {
        rc = k1s_admit_denyf(deny,
                             "the integer value of priority (%lld) must not be provided in pod "
                             "spec; priority admission controller computed %lld from the given "
                             "PriorityClass name",
                             (long long)json_integer_value(given), (long long)prio);
        goto out;
    }
    json_object_set_new(spec, "priority", json_integer(prio));
    if (policy) {
        const char *gp = json_string_value(json_object_get(spec, "preemptionPolicy"));
        if (gp && strcmp(gp, policy)) {
            rc = k1s_admit_denyf(deny,
                                 "the string value of PreemptionPolicy (%s) must not be provided "
                                 "in pod spec; priority admission controller computed %s from "
                                 "the given PriorityClass name",
                                 gp, policy);
            goto out;
        }
        json_object_set_new(spec, "preemptionPolicy", json_string(policy));
    }
out:
    json_decref(pc);
    return rc;
}
