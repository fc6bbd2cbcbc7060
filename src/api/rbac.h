/*
 * RBAC (rbac.authorization.k8s.io/v1): the rule matcher and a compiled,
 * in-memory view of every Role, ClusterRole, RoleBinding and
 * ClusterRoleBinding, indexed by subject, so a decision costs a few hash
 * lookups and string compares instead of parsing objects per request.
 *
 * The view watches the store's rbac prefixes and is rebuilt lazily after a
 * change. The rebuild also does the clusterrole-aggregation controller's
 * work: a ClusterRole with an aggregationRule gets the union of the rules
 * of the ClusterRoles its selectors match, written back to the store when
 * it differs. rbac-bootstrap.c reconciles the default policy at start-up.
 */
#ifndef K1S_API_RBAC_H
#define K1S_API_RBAC_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* What a request asks to do (k8s.io/apiserver authorizer.Attributes). */
typedef struct k1s_authz_attrs {
    const char *user;
    char *const *groups; /* NULL-terminated, may be NULL; all of them (system:authenticated too) */
    const char *verb;
    bool resource_request;
    const char *group, *version, *resource, *sub, *ns, *name; /* "" when absent */
    const char *path;                                         /* non-resource requests */
} k1s_authz_attrs_t;

/* One compiled PolicyRule. */
typedef struct k1s_rbac_rule {
    char **verbs, **groups, **resources, **names, **urls; /* NULL-terminated; NULL when absent */
} k1s_rbac_rule_t;

/* Compiles a PolicyRule JSON object into r (which the caller owns). */
void k1s_rbac_rule_compile(k1s_rbac_rule_t *r, const json_t *rule);
void k1s_rbac_rule_clear(k1s_rbac_rule_t *r);
/* Kubernetes' RuleAllows: verbs, apiGroups, resources (with "*", "*\/sub" and "res/sub"),
 * resourceNames, nonResourceURLs (with a trailing "*"). */
bool k1s_rbac_rule_allows(const k1s_rbac_rule_t *r, const k1s_authz_attrs_t *a);

typedef struct k1s_rbac k1s_rbac_t;

/* Creates the view over store and starts watching it. */
k1s_rbac_t *k1s_rbac_new(struct event_base *base, k1s_store_t *store);
void k1s_rbac_free(k1s_rbac_t *rb);

/*
 * Decides a request. Returns true if some binding of the user or one of its
 * groups grants it; reason (may be NULL) receives
 * kube-apiserver's "RBAC: allowed by ..." text.
 */
bool k1s_rbac_authorize(k1s_rbac_t *rb, const k1s_authz_attrs_t *a, char *reason, size_t len);

/*
 * The rules that apply to user/groups in namespace ns (cluster-wide ones
 * included), as SelfSubjectRulesReview's resourceRules and
 * nonResourceRules. Appends new objects to both arrays.
 */
void k1s_rbac_rules_for(k1s_rbac_t *rb, const char *user, char *const *groups, const char *ns,
                        json_t *resource_rules, json_t *nonresource_rules);

/* The rules of Role ns/name (ClusterRole name when ns is NULL), aggregated ones included: a new
 * reference, or NULL if there is no such role. */
json_t *k1s_rbac_role_rules(k1s_rbac_t *rb, const char *ns, const char *name);

/* Rebuilds the view now if something changed (also runs aggregation). */
void k1s_rbac_sync(k1s_rbac_t *rb);

/* --- rbac-bootstrap.c --- */
/*
 * Creates the default roles and bindings that are missing and adds missing
 * rules, subjects, labels and annotations to those with
 * rbac.authorization.kubernetes.io/autoupdate != "false". Writes are queued
 * on the store.
 */
void k1s_rbac_bootstrap(k1s_store_t *store);
/* The default policy's rules of ClusterRole name (a JSON array of PolicyRules, new reference),
 * or NULL. */
json_t *k1s_rbac_default_rules(const char *name);

#endif
