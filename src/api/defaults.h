/*
 * Defaulting of built-in objects, as kube-apiserver v1.32 applies it when it
 * decodes a request body (pkg/apis/<group>/v1/defaults.go, the declarative
 * "+default" markers and the generated SetObjectDefaults_* walkers), plus the
 * few create-time strategy steps that fill fields users see (a Job's
 * generated selector and labels, a Namespace's "kubernetes" finalizer, a
 * Pod's QoS class).
 */
#ifndef K1S_API_DEFAULTS_H
#define K1S_API_DEFAULTS_H

#include <jansson.h>
#include <stdbool.h>

#include "api/registry.h"

/*
 * Applies Kubernetes' defaults for r's kind to obj in place. Called on create
 * and update, after the body is decoded and before k1s_validate(). Never
 * fails: a value it cannot interpret (say an unparsable quantity) is left as
 * it is for validation to report.
 *
 * Besides defaulting proper it canonicalizes quantities the way Kubernetes
 * re-serializes them ("1000" becomes "1k", "0.5" "500m", "1024Mi" "1Gi"), and
 * folds a Secret's stringData into data.
 *
 * Steps Kubernetes takes only on create are taken when obj has no
 * metadata.resourceVersion (the REST layer clears it on create and sets it
 * on update): the Namespace "kubernetes" finalizer. A Job's selector and
 * template labels are generated from metadata.uid and metadata.name, which
 * must be set before this is called; generating them again on update
 * changes nothing.
 */
void k1s_defaults_apply(const k1s_resource_t *r, json_t *obj);

/*
 * The defaults of a pod template's spec (SetDefaults_PodSpec and the
 * container, volume and probe defaults), for code that builds templates.
 */
void k1s_defaults_pod_template(json_t *template_spec_obj);

/* Webhook configuration defaults (validate-webhook.c). */
void k1s_defaults_webhook_config(json_t *obj, bool mutating);

#endif
