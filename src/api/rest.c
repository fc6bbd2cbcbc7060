/*
 * The REST verbs for every registered resource: routing of a resource URL
 * to its verb, and the writes: create, update, patch, delete,
 * deletecollection, and the status, scale and binding subresources, with
 * Kubernetes' metadata semantics (uid, resourceVersion, generation,
 * generateName, finalizers, deletionTimestamp), optimistic concurrency,
 * dry-run and field validation. Writes go to the store and are answered
 * from its completion callback, after the commit. Reads are in list.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/apiserver-int.h"
#include "api/csr.h"
#include "api/crd.h"
#include "api/defaults.h"
#include "api/fieldmanager.h"
#include "api/openapi.h"
#include "api/patch.h"
#include "api/protobuf.h"
#include "api/proxy.h"
#include "api/satoken.h"
#include "api/validate.h"
#include "lib/jsonheap.h"
#include "lib/log.h"
#include "lib/yaml.h"

#define MAX_OBJECT_BYTES (1536 * 1024)

/* ---------- small helpers ---------- */

static const char *meta_str(const json_t *obj, const char *field)
{
    const json_t *m = json_object_get(obj, "metadata");
    const json_t *v = m ? json_object_get(m, field) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void now_rfc3339(char out[32])
{
    k1s_time_rfc3339(out);
}

static bool content_type_is(const char *ct, const char *want)
{
    if (!ct)
        return false;
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static bool query_bool(k1s_http_req_t *h, const char *name)
{
    const char *v = k1s_http_req_query(h, name);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true"));
}

/*
 * Decodes the request body as JSON or YAML. On failure answers 400 and
 * returns NULL. dup_fields, if non-NULL, is set when the JSON had duplicate keys.
 */
static json_t *decode_body(k1s_api_req_t *r, bool *dup_fields)
{
    k1s_http_req_t *h = r->http;
    const char *ct = k1s_http_req_header(h, "Content-Type");
    if (h->body_len == 0) {
        k1s_api_fail(r, 400, "BadRequest", "the request body is empty");
        return NULL;
    }
    json_t *obj = NULL;
    if (ct && k1s_protobuf_content_type(ct)) {
        /* kubectl's typed clients send built-in objects as Kubernetes protobuf */
        k1s_err_t err = {0};
        if (k1s_protobuf_decode(h->body, h->body_len, &obj, &err) < 0) {
            k1s_api_fail(r, 400, "BadRequest", "%s", err.msg);
            return NULL;
        }
        return obj;
    }
    if (ct && (content_type_is(ct, "application/yaml") ||
               content_type_is(ct, "application/x-yaml") || content_type_is(ct, "text/yaml"))) {
        k1s_err_t err = {0};
        if (k1s_yaml_to_json(h->body, h->body_len, &obj, &err) < 0) {
            k1s_api_fail(r, 400, "BadRequest", "error decoding YAML: %s", err.msg);
            return NULL;
        }
    } else {
        json_error_t je;
        k1s_json_heap_enter(); /* the request's tree lives as long as the request */
        obj = json_loadb(h->body, h->body_len, JSON_REJECT_DUPLICATES, &je);
        if (!obj && strstr(je.text, "duplicate")) {
            if (dup_fields)
                *dup_fields = true;
            obj = json_loadb(h->body, h->body_len, 0, &je);
        }
        k1s_json_heap_leave();
        if (!obj) {
            k1s_api_fail(r, 400, "BadRequest", "error decoding JSON: %s (line %d, column %d)",
                         je.text, je.line, je.column);
            return NULL;
        }
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        k1s_api_fail(r, 400, "BadRequest", "the request body must be a JSON object");
        return NULL;
    }
    return obj;
}

json_t *k1s_rest_decode_body(k1s_api_req_t *r)
{
    return decode_body(r, NULL);
}

/* Checks apiVersion/kind of a decoded object against the URL; fills them in if missing. */
static bool check_type(k1s_api_req_t *r, json_t *obj)
{
    char want_av[128];
    k1s_resource_api_version(r->res, want_av, sizeof(want_av));
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, r->res->kind)) {
        k1s_api_fail(r, 400, "BadRequest",
                     "the object provided is unrecognized (must be of type %s): kind %s given",
                     r->res->kind, kind);
        return false;
    }
    if (av && strcmp(av, want_av)) {
        k1s_api_fail(
            r, 400, "BadRequest",
            "the API version in the data (%s) does not match the expected API version (%s)", av,
            want_av);
        return false;
    }
    /* keep apiVersion and kind first, as Kubernetes writes them */
    json_t *out = json_object();
    json_object_set_new(out, "kind", json_string(r->res->kind));
    json_object_set_new(out, "apiVersion", json_string(want_av));
    json_object_update(out, obj);
    json_object_clear(obj);
    json_object_update(obj, out);
    json_decref(out);
    return true;
}

/* fieldValidation: Strict / Warn (default) / Ignore */
static int field_validation(k1s_api_req_t *r, json_t *obj, bool dup_fields)
{
    const char *fv = k1s_http_req_query(r->http, "fieldValidation");
    int mode = 1; /* warn */
    if (fv) {
        if (!strcasecmp(fv, "Strict"))
            mode = 2;
        else if (!strcasecmp(fv, "Ignore"))
            mode = 0;
        else if (!strcasecmp(fv, "Warn"))
            mode = 1;
        else {
            k1s_api_fail(
                r, 400, "BadRequest",
                "fieldValidation parameter unsupported: %s (must be Ignore, Warn or Strict)", fv);
            return -1;
        }
    }
    if (r->res->crd) { /* custom objects: pruned by their schema, which names what it drops */
        if (mode == 0) {
            k1s_cr_prune(r->res, obj, NULL);
            return 0;
        }
    } else if (mode == 0) {
        if (r->res->openapi_name)
            k1s_openapi_prune(r->res->openapi_name, obj);
        return 0;
    }
    json_t *unknown = json_array();
    if (r->res->crd)
        k1s_cr_prune(r->res, obj, unknown);
    else if (r->res->openapi_name)
        k1s_openapi_check_fields(r->res->openapi_name, obj, unknown);
    size_t n = json_array_size(unknown);
    if (n == 0 && !dup_fields) {
        json_decref(unknown);
        return 0;
    }
    k1s_buf_t msg = K1S_BUF_INIT;
    size_t i;
    json_t *u;
    if (mode == 2) {
        /* create and update decode the body into the type (transformDecodeError) */
        if (r->verb && (!strcmp(r->verb, "create") || !strcmp(r->verb, "update")) && r->res->kind)
            k1s_buf_printf(&msg, "%s in version \"%s\" cannot be handled as a %s: ", r->res->kind,
                           r->res->version, r->res->kind);
        k1s_buf_puts(&msg, "strict decoding error: ");
        if (dup_fields)
            k1s_buf_puts(&msg, "json: duplicate field");
        json_array_foreach(unknown, i, u)
        {
            if (i > 0 || dup_fields)
                k1s_buf_puts(&msg, ", ");
            k1s_buf_printf(&msg, "unknown field \"%s\"", json_string_value(u));
        }
        json_decref(unknown);
        k1s_api_fail(r, 400, "BadRequest", "%s", msg.data);
        k1s_buf_free(&msg);
        return -1;
    }
    if (!r->warnings)
        r->warnings = json_array();
    json_array_foreach(unknown, i, u)
    {
        char *w = k1s_xasprintf("unknown field \\\"%s\\\"", json_string_value(u));
        json_array_append_new(r->warnings, json_string(w));
        free(w);
    }
    if (dup_fields)
        json_array_append_new(r->warnings, json_string("duplicate field"));
    json_decref(unknown);
    if (r->res->openapi_name && !r->res->crd)
        k1s_openapi_prune(r->res->openapi_name, obj);
    k1s_buf_free(&msg);
    return 0;
}

static bool namespace_usable(k1s_api_req_t *r, const char *ns, bool for_create)
{
    bool exists = false;
    bool terminating = k1s_ns_is_terminating(r->api, ns, &exists);
    if (!exists) {
        k1s_api_fail(r, 404, "NotFound", "namespaces \"%s\" not found", ns);
        return false;
    }
    if (for_create && terminating) {
        k1s_api_fail(r, 403, "Forbidden",
                     "unable to create new content in namespace %s because it is being terminated",
                     ns);
        return false;
    }
    return true;
}

static void send_invalid(k1s_api_req_t *r, json_t *causes)
{
    char kg[256];
    k1s_resource_kind_group(r->res, kg, sizeof(kg));
    const char *name = r->obj ? meta_str(r->obj, "name") : r->name;
    char *msg = k1s_validate_message(kg, name ? name : "", causes);
    /* Invalid names the Kind in details (kubectl prints "The Deployment "x" is invalid") */
    json_t *s = k1s_status_new(422, "Invalid", msg);
    json_t *d = json_object();
    json_object_set_new(d, "name", json_string(name ? name : ""));
    if (r->res->group[0])
        json_object_set_new(d, "group", json_string(r->res->group));
    json_object_set_new(d, "kind", json_string(r->res->kind));
    json_object_set_new(d, "causes", causes);
    json_object_set_new(s, "details", d);
    free(msg);
    k1s_api_send_json(r, 422, s);
}

static void send_conflict(k1s_api_req_t *r, const char *name)
{
    char q[256];
    k1s_resource_qualified(r->res, q, sizeof(q));
    k1s_api_fail(r, 409, "Conflict",
                 "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                 "please apply your changes to the latest version and try again",
                 q, name);
}

static void send_storage_error(k1s_api_req_t *r, int err)
{
    if (err == -ENOSPC)
        k1s_api_fail(r, 507, "InternalError",
                     "storage error: the datastore is out of disk space; the write was not saved");
    else
        k1s_api_fail(r, 500, "InternalError", "storage error: %s; the write was not saved",
                     strerror(-err));
}

/* ---------- writes ---------- */

static json_t *scale_of(k1s_api_req_t *r, const json_t *obj);

static void write_done(int err, k1s_kv_t *kv, void *arg)
{
    k1s_api_req_t *r = arg;
    if (err < 0) {
        if (r->res && !strcmp(r->res->plural, "services") && r->obj && !r->old)
            k1s_svc_release(r->api, r->obj);
        send_storage_error(r, err);
        return;
    }
    if (r->after_commit)
        r->after_commit(r);
    if (k1s_crd_is_crd(r->res))
        k1s_crd_schedule(r->api);
    if (r->eviction) {
        k1s_api_send_json(r, 201, k1s_status_new(201, NULL, ""));
        return;
    }
    if (!kv) {
        /* a delete: answer with Status success or the deleted object */
        bool return_object = !strcmp(r->res->plural, "pods") || !strcmp(r->res->plural, "services");
        if (return_object && r->old) {
            json_t *o = r->old;
            r->old = NULL;
            k1s_api_send_json(r, 200, o);
            return;
        }
        json_t *s = k1s_status_new(200, NULL, "");
        json_object_del(s, "message");
        json_t *d = json_object();
        json_object_set_new(d, "name", json_string(r->name ? r->name : ""));
        if (r->res->group[0])
            json_object_set_new(d, "group", json_string(r->res->group));
        json_object_set_new(d, "kind", json_string(r->res->plural));
        const char *uid = r->old ? meta_str(r->old, "uid") : NULL;
        if (uid)
            json_object_set_new(d, "uid", json_string(uid));
        json_object_set_new(s, "details", d);
        k1s_api_send_json(r, 200, s);
        return;
    }
    if (r->answer_scale) {
        json_t *o = k1s_obj_decode(kv->value);
        k1s_api_send_json(r, r->success_code, scale_of(r, o));
        json_decref(o);
        return;
    }
    k1s_api_send_stored(r, r->success_code, kv);
}

/* Stores r->obj under r->key (answering with code) or, for dry-run, answers at once. */
static void commit_put(k1s_api_req_t *r, int code)
{
    k1s_apiserver_t *api = r->api;
    json_t *meta = k1s_obj_meta(r->obj);
    if (r->dry_run) {
        if (!strcmp(r->res->plural, "services") && !r->old)
            k1s_svc_release(api, r->obj);
        json_t *o = r->obj;
        r->obj = NULL;
        k1s_api_send_json(r, code, o);
        return;
    }
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
    json_object_set_new(meta, "resourceVersion", json_string(rv));
    if (k1s_convert_needed(r->res)) {
        json_t *stored = k1s_convert_to_storage(r->res, r->obj);
        json_decref(r->obj);
        r->obj = stored;
    }
    k1s_bytes_t *b = k1s_obj_encode(r->obj);
    if (b->len > MAX_OBJECT_BYTES) {
        k1s_bytes_unref(b);
        if (!strcmp(r->res->plural, "services") && !r->old)
            k1s_svc_release(api, r->obj);
        k1s_api_fail(r, 413, "RequestEntityTooLarge",
                     "Request entity too large: the object is larger than the 1.5 MiB limit");
        return;
    }
    r->success_code = code;
    k1s_store_put(api->store, r->key, b, k1s_obj_aux_new(r->res, r->obj), write_done, r);
}

static void commit_delete(k1s_api_req_t *r)
{
    if (r->dry_run && r->eviction) {
        k1s_api_send_json(r, 201, k1s_status_new(201, NULL, ""));
        return;
    }
    if (r->dry_run) {
        json_t *o = r->old;
        r->old = NULL;
        k1s_api_send_json(r, 200, o);
        return;
    }
    k1s_store_delete(r->api->store, r->key, write_done, r);
}

static void after_delete(k1s_api_req_t *r)
{
    if (!strcmp(r->res->plural, "services") && r->old)
        k1s_svc_release(r->api, r->old);
    if (r->res->namespaced || !strcmp(r->res->plural, "namespaces"))
        k1s_ns_schedule(r->api);
}

static int after_delete_hook(k1s_api_req_t *r)
{
    after_delete(r);
    return 0;
}

static int after_ns_update_hook(k1s_api_req_t *r)
{
    k1s_ns_schedule(r->api);
    return 0;
}

/* Per-kind work on create/update that needs server state. */
static int prepare_kind(k1s_api_req_t *r, json_t *obj, const json_t *old, json_t *causes)
{
    const char *plural = r->res->plural;
    if (!strcmp(plural, "services") && !r->sub)
        return k1s_svc_allocate(r, obj, old, causes);
    return 0;
}

static void reset_status_on_create(k1s_api_req_t *r, json_t *obj)
{
    const char *p = r->res->plural;
    if (r->res->crd) { /* a custom object's status is set through /status only */
        if (r->res->has_status)
            json_object_del(obj, "status");
        return;
    }
    if (!r->res->has_status || !strcmp(p, "nodes"))
        return;
    if (!strcmp(p, "pods")) {
        /* qosClass is filled in after defaulting, see handle_create */
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
        /* applySchedulingGatedCondition */
        if (json_array_size(json_object_get(json_object_get(obj, "spec"), "schedulingGates")))
            json_object_set_new(
                json_object_get(obj, "status"), "conditions",
                json_pack("[{s:s,s:s,s:s,s:s}]", "type", "PodScheduled", "status", "False",
                          "reason", "SchedulingGated", "message",
                          "Scheduling is blocked due to non-empty scheduling gates"));
        return;
    }
    if (!strcmp(p, "namespaces")) {
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
        return;
    }
    if (!strcmp(p, "persistentvolumes") || !strcmp(p, "persistentvolumeclaims")) {
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
        return;
    }
    if (!strcmp(p, "services")) {
        json_object_set_new(obj, "status", json_pack("{s:{}}", "loadBalancer"));
        return;
    }
    json_object_set_new(obj, "status", json_object());
}

static void create_admitted(k1s_api_req_t *r);
static void create_validated(k1s_api_req_t *r);
static void create_object(k1s_api_req_t *r, json_t *obj, bool dup);

static void handle_create(k1s_api_req_t *r)
{
    if (!k1s_fm_begin(r, "CreateOptions", false))
        return;
    bool dup = false;
    json_t *obj = decode_body(r, &dup);
    if (!obj)
        return;
    create_object(r, obj, dup);
}

/* Creates obj (owned) from a POST or from an apply to an object that does not exist. */
static void create_object(k1s_api_req_t *r, json_t *obj, bool dup)
{
    r->obj = obj;
    if (!check_type(r, obj) || !k1s_authz_admit(r, obj))
        return;
    if (r->res->crd && r->res->crd->terminating) {
        k1s_api_fail(r, 405, "MethodNotAllowed",
                     "create not allowed while custom resource definition is terminating");
        return;
    }
    json_t *meta = k1s_obj_meta(obj);
    if (r->res->namespaced) {
        const char *bns = meta_str(obj, "namespace");
        if (bns && *bns && r->ns && strcmp(bns, r->ns)) {
            k1s_api_fail(r, 400, "BadRequest",
                         "the namespace of the provided object does not match the namespace sent "
                         "on the request");
            return;
        }
        if (!r->ns) {
            k1s_api_fail(r, 400, "BadRequest", "a namespace is required to create %s",
                         r->res->plural);
            return;
        }
        json_object_set_new(meta, "namespace", json_string(r->ns));
    } else {
        json_object_del(meta, "namespace");
    }
    if (field_validation(r, obj, dup) < 0)
        return;
    if (r->res->namespaced && !namespace_usable(r, r->ns, true))
        return;
    /* server-set metadata */
    char uid[37], ts[32];
    k1s_uuid4(uid);
    now_rfc3339(ts);
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(ts));
    json_object_del(meta, "resourceVersion");
    json_object_del(meta, "deletionTimestamp");
    json_object_del(meta, "deletionGracePeriodSeconds");
    json_object_del(meta, "selfLink");
    if (k1s_resource_tracks_generation(r->res))
        json_object_set_new(meta, "generation", json_integer(1));
    else
        json_object_del(meta, "generation");
    reset_status_on_create(r, obj);
    /* defaults as the request is decoded, then mutating admission */
    k1s_defaults_apply(r->res, obj);
    k1s_admission_mutate(r, create_admitted);
}

/* metadata.name = generateName (at most 58 characters) + 5 random characters */
static void generate_name(json_t *obj, const char *gen)
{
    char suffix[6];
    k1s_random_suffix(suffix, 5);
    char *n = k1s_xasprintf("%.58s%s", gen, suffix);
    json_object_set_new(k1s_obj_meta(obj), "name", json_string(n));
    free(n);
}

/* After mutating admission: names, defaults again (webhooks may have patched), validation. */
static void create_admitted(k1s_api_req_t *r)
{
    json_t *obj = r->obj;
    json_t *meta = k1s_obj_meta(obj);
    /* generateName is resolved after mutating admission, as BeforeCreate does */
    const char *name = meta_str(obj, "name");
    const char *gen = meta_str(obj, "generateName");
    if ((!name || !*name) && gen && *gen) {
        generate_name(obj, gen);
        r->generated_name = true;
    }
    name = meta_str(obj, "name");
    if (r->res->namespaced)
        json_object_set_new(meta, "namespace", json_string(r->ns));
    k1s_defaults_apply(r->res, obj);
    if (!strcmp(r->res->plural, "pods"))
        json_object_set_new(json_object_get(obj, "status"), "qosClass",
                            json_string(k1s_pod_qos_class(obj)));
    k1s_csr_prepare(r, obj, NULL);
    /* managedFields before validation, as Kubernetes records them before its strategy runs */
    k1s_fm_update(r, NULL, obj);
    json_t *causes = json_array();
    if (!name || !*name)
        json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueRequired",
                                                "message",
                                                "Required value: name or generateName is required",
                                                "field", "metadata.name"));
    else
        k1s_validate(r->res, obj, NULL, causes);
    if (json_array_size(causes) > 0) {
        send_invalid(r, causes);
        return;
    }
    json_decref(causes);
    free(r->name);
    free(r->key);
    r->name = k1s_xstrdup(name);
    k1s_admission_validate(r, create_validated);
}

/* After validating admission: server state (Service IPs), uniqueness, commit. */
static void create_validated(k1s_api_req_t *r)
{
    json_t *obj = r->obj;
    const char *name = r->name;
    json_t *causes = json_array();
    prepare_kind(r, obj, NULL, causes);
    if (json_array_size(causes) > 0) {
        send_invalid(r, causes);
        return;
    }
    json_decref(causes);
    r->key = k1s_obj_key(r->res, r->ns, name);
    /* A generated name that is taken is generated again, as kube-apiserver retries it (up to
     * 7 more times) instead of failing the create. */
    const char *gen = meta_str(obj, "generateName");
    for (int retry = 0;
         r->generated_name && gen && retry < 7 && k1s_store_get_latest(r->api->store, r->key);
         retry++) {
        generate_name(obj, gen);
        free(r->name);
        free(r->key);
        r->name = k1s_xstrdup(meta_str(obj, "name"));
        r->key = k1s_obj_key(r->res, r->ns, r->name);
        name = r->name;
    }
    if (k1s_store_get_latest(r->api->store, r->key)) {
        if (!strcmp(r->res->plural, "services"))
            k1s_svc_release(r->api, obj);
        char q[256];
        k1s_resource_qualified(r->res, q, sizeof(q));
        k1s_api_fail(r, 409, "AlreadyExists", "%s \"%s\" already exists", q, name);
        return;
    }
    commit_put(r, 201);
}

static bool json_equal_except_rv(json_t *a, json_t *b)
{
    json_t *ma = json_object_get(a, "metadata"), *mb = json_object_get(b, "metadata");
    json_t *rva = ma ? json_incref(json_object_get(ma, "resourceVersion")) : NULL;
    json_t *rvb = mb ? json_incref(json_object_get(mb, "resourceVersion")) : NULL;
    if (ma)
        json_object_del(ma, "resourceVersion");
    if (mb)
        json_object_del(mb, "resourceVersion");
    bool eq = json_equal(a, b);
    if (rva)
        json_object_set_new(ma, "resourceVersion", rva);
    if (rvb)
        json_object_set_new(mb, "resourceVersion", rvb);
    return eq;
}

static bool spec_changed(const json_t *a, const json_t *b)
{
    /* everything but metadata and status counts as spec */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        if (!strcmp(k, "metadata") || !strcmp(k, "status") || !strcmp(k, "apiVersion") ||
            !strcmp(k, "kind"))
            continue;
        if (!json_equal(v, json_object_get(b, k)))
            return true;
    }
    json_object_foreach((json_t *)b, k, v)
    {
        if (!strcmp(k, "metadata") || !strcmp(k, "status") || !strcmp(k, "apiVersion") ||
            !strcmp(k, "kind"))
            continue;
        if (!json_object_get(a, k))
            return true;
    }
    return false;
}

static json_t *finalizers_of(const json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    json_t *f = m ? json_object_get(m, "finalizers") : NULL;
    return json_is_array(f) ? f : NULL;
}

static void update_admitted(k1s_api_req_t *r);
static void update_validated(k1s_api_req_t *r);

/*
 * After admission, which may have waited for webhooks: is r->old still the
 * stored object? Answers 404 or 409 (as a failed GuaranteedUpdate
 * precondition would) and returns false if not.
 */
static bool still_current(k1s_api_req_t *r)
{
    k1s_kv_t *kv = k1s_store_get_latest(r->api->store, r->key);
    if (!kv) {
        k1s_api_not_found(r, r->name);
        return false;
    }
    const char *orv = meta_str(r->old, "resourceVersion");
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, kv->mod_rev);
    if (orv && strcmp(orv, rv)) {
        send_conflict(r, r->name);
        return false;
    }
    return true;
}

/*
 * The common tail of update and patch: r->old is the stored object, newobj
 * the wanted one (owned). Applies the update rules and writes.
 */
static void finish_update(k1s_api_req_t *r, json_t *newobj, bool dup)
{
    json_t *old = r->old;
    r->obj = newobj;
    if (!check_type(r, newobj) || !k1s_authz_admit(r, newobj))
        return;
    json_t *meta = k1s_obj_meta(newobj);
    json_t *ometa = k1s_obj_meta(old);
    const char *bname = meta_str(newobj, "name");
    if (bname && strcmp(bname, r->name)) {
        k1s_api_fail(r, 400, "BadRequest",
                     "the name of the object (%s) does not match the name on the request (%s)",
                     bname, r->name);
        return;
    }
    const char *bns = meta_str(newobj, "namespace");
    if (r->res->namespaced && bns && *bns && strcmp(bns, r->ns)) {
        k1s_api_fail(r, 400, "BadRequest",
                     "the namespace of the provided object does not match the namespace sent on "
                     "the request");
        return;
    }
    const char *rv = meta_str(newobj, "resourceVersion");
    const char *orv = meta_str(old, "resourceVersion");
    if (rv && *rv && orv && strcmp(rv, orv)) {
        send_conflict(r, r->name);
        return;
    }
    if (field_validation(r, newobj, dup) < 0)
        return;
    json_object_set_new(meta, "name", json_string(r->name));
    if (r->res->namespaced)
        json_object_set_new(meta, "namespace", json_string(r->ns));
    /* fields only the server sets */
    static const char *const keep[] = {
        "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
        NULL};
    for (int i = 0; keep[i]; i++) {
        json_t *v = json_object_get(ometa, keep[i]);
        if (v)
            json_object_set(meta, keep[i], v);
        else
            json_object_del(meta, keep[i]);
    }
    json_object_set_new(meta, "resourceVersion", json_string(orv ? orv : ""));
    if (k1s_streq(r->sub, "status") || k1s_streq(r->sub, "approval")) {
        /* status subresource: only status changes */
        json_t *st = json_incref(json_object_get(newobj, "status"));
        json_t *merged = json_deep_copy(old);
        if (st)
            json_object_set_new(merged, "status", st);
        else
            json_object_del(merged, "status");
        if (r->applied) {
            /* an apply to status comes with its managedFields (fieldmanager.c) */
            json_t *mf = json_object_get(meta, "managedFields");
            if (mf)
                json_object_set(k1s_obj_meta(merged), "managedFields", mf);
            else
                json_object_del(k1s_obj_meta(merged), "managedFields");
        }
        r->obj = merged;
        json_decref(newobj);
        newobj = merged;
        meta = k1s_obj_meta(newobj);
    } else if (r->res->has_status) {
        json_t *st = json_object_get(old, "status");
        if (st)
            json_object_set(newobj, "status", st);
        else
            json_object_del(newobj, "status");
    }
    k1s_csr_prepare(r, newobj, old);
    /* deletion in progress: finalizers may only be removed, deletionTimestamp stays */
    k1s_defaults_apply(r->res, newobj);
    /* managedFields before admission, as Kubernetes records them before its strategy runs */
    k1s_fm_update(r, old, newobj);
    k1s_admission_mutate(r, update_admitted);
}

/* After mutating admission: defaults again (webhooks may have patched), validation. */
static void update_admitted(k1s_api_req_t *r)
{
    k1s_defaults_apply(r->res, r->obj);
    json_t *causes = json_array();
    k1s_validate(r->res, r->obj, r->old, causes);
    if (json_array_size(causes) > 0) {
        send_invalid(r, causes);
        return;
    }
    json_decref(causes);
    k1s_admission_validate(r, update_validated);
}

/* After validating admission: server state, generation, finalizers, commit. */
static void update_validated(k1s_api_req_t *r)
{
    json_t *old = r->old;
    json_t *newobj = r->obj;
    json_t *meta = k1s_obj_meta(newobj);
    json_t *ometa = k1s_obj_meta(old);
    if (!still_current(r))
        return;
    json_t *causes = json_array();
    prepare_kind(r, newobj, old, causes);
    if (json_array_size(causes) > 0) {
        send_invalid(r, causes);
        return;
    }
    json_decref(causes);
    bool cr_status_changed =
        r->res->crd && !r->res->has_status &&
        !json_equal(json_object_get(old, "status"), json_object_get(newobj, "status"));
    if (k1s_resource_tracks_generation(r->res) &&
        (spec_changed(old, newobj) || cr_status_changed)) {
        json_int_t g = json_integer_value(json_object_get(ometa, "generation"));
        json_object_set_new(meta, "generation", json_integer(g + 1));
    }
    /* A pod being deleted gracefully goes when its kubelet says so, a namespace when its
     * spec.finalizers are done too (nslife.c); anything else (a pod deleted with grace period
     * 0 too) as its last finalizer goes. */
    bool is_ns = !strcmp(r->res->plural, "namespaces");
    const json_t *nsfin =
        is_ns ? json_object_get(json_object_get(newobj, "spec"), "finalizers") : NULL;
    bool pod_waits = !strcmp(r->res->plural, "pods") &&
                     json_integer_value(json_object_get(ometa, "deletionGracePeriodSeconds")) != 0;
    if (json_object_get(meta, "deletionTimestamp") && json_array_size(finalizers_of(newobj)) == 0 &&
        !pod_waits && json_array_size(nsfin) == 0) {
        /* the last finalizer is gone: the object goes now */
        if (r->dry_run) {
            json_t *o = r->obj;
            r->obj = NULL;
            k1s_api_send_json(r, 200, o);
            return;
        }
        r->success_code = 200;
        r->after_commit = after_delete_hook;
        json_decref(r->old);
        r->old = json_incref(newobj);
        k1s_store_delete(r->api->store, r->key, write_done, r);
        return;
    }
    if (json_equal_except_rv(newobj, old)) {
        /* nothing changed: no write, the stored object is the answer */
        k1s_kv_t *kv = k1s_store_get_latest(r->api->store, r->key);
        if (kv && !r->dry_run && k1s_store_get(r->api->store, r->key) == kv) {
            k1s_api_send_stored(r, 200, kv);
            return;
        }
    }
    if (!strcmp(r->res->plural, "namespaces"))
        r->after_commit = after_ns_update_hook;
    commit_put(r, 200);
}

static bool load_old(k1s_api_req_t *r)
{
    r->key = k1s_obj_key(r->res, r->ns, r->name);
    k1s_kv_t *kv = k1s_store_get_latest(r->api->store, r->key);
    if (!kv) {
        k1s_api_not_found(r, r->name);
        return false;
    }
    json_t *stored = k1s_obj_decode(kv->value);
    r->old = k1s_convert_from_storage(r->res, stored);
    json_decref(stored);
    return true;
}

/* autoscaling/v1 Scale for a workload object */
static json_t *scale_of(k1s_api_req_t *r, const json_t *obj)
{
    if (r->res->crd)
        return k1s_cr_scale_of(r->res, obj);
    json_t *sm = k1s_obj_scale_meta(obj);
    json_t *spec = json_object_get(obj, "spec");
    json_t *status = json_object_get(obj, "status");
    json_int_t want = json_integer_value(spec ? json_object_get(spec, "replicas") : NULL);
    json_int_t have = json_integer_value(status ? json_object_get(status, "replicas") : NULL);
    json_t *scale = json_pack("{s:s, s:s, s:o, s:{s:I}, s:{s:I}}", "kind", "Scale", "apiVersion",
                              "autoscaling/v1", "metadata", sm, "spec", "replicas", want, "status",
                              "replicas", have);
    /* status.selector as a label-selector string */
    json_t *sel = spec ? json_object_get(spec, "selector") : NULL;
    json_t *ml = sel ? json_object_get(sel, "matchLabels") : NULL;
    if (json_is_object(ml)) {
        k1s_buf_t b = K1S_BUF_INIT;
        const char *k;
        json_t *v;
        json_object_foreach(ml, k, v)
        {
            if (b.len)
                k1s_buf_putc(&b, ',');
            k1s_buf_printf(&b, "%s=%s", k, json_string_value(v));
        }
        json_object_set_new(json_object_get(scale, "status"), "selector",
                            json_string(b.data ? b.data : ""));
        k1s_buf_free(&b);
    }
    return scale;
}

/* Applies a PATCH body to cur (not modified); answers and returns NULL on error. */
static json_t *apply_patch(k1s_api_req_t *r, const json_t *cur, const json_t *schema)
{
    const char *ct = k1s_http_req_header(r->http, "Content-Type");
    if (!ct) {
        k1s_api_fail(r, 415, "UnsupportedMediaType", "a PATCH needs a Content-Type");
        return NULL;
    }
    if (r->res->crd && content_type_is(ct, "application/strategic-merge-patch+json")) {
        /* custom resources have no strategic merge metadata, as in Kubernetes */
        k1s_api_fail(r, 415, "UnsupportedMediaType",
                     "the body of the request was in an unknown format - accepted media types "
                     "include: application/json-patch+json, application/merge-patch+json, "
                     "application/apply-patch+yaml");
        return NULL;
    }
    json_t *out = NULL;
    k1s_err_t err = {0};
    int rc = k1s_patch_apply(ct, cur, r->http->body, r->http->body_len, schema, k1s_openapi_resolve,
                             NULL, &out, &err);
    if (rc == -EOPNOTSUPP || rc == -EPROTONOSUPPORT) {
        k1s_api_fail(r, 415, "UnsupportedMediaType", "%s", err.msg);
        return NULL;
    }
    if (rc < 0) {
        k1s_api_fail(r, rc == -EINVAL ? 400 : 422, rc == -EINVAL ? "BadRequest" : "Invalid", "%s",
                     err.msg);
        return NULL;
    }
    return out;
}

/*
 * Server-side apply (PATCH with application/apply-patch+yaml): merges the
 * applied configuration into the stored object, or creates the object if
 * there is none; fieldmanager.c does the merge and the ownership.
 */
static void handle_apply(k1s_api_req_t *r)
{
    json_t *cfg = NULL;
    k1s_err_t err = {0};
    if (r->http->body_len == 0) {
        k1s_api_fail(r, 400, "BadRequest", "the request body is empty");
        return;
    }
    if (k1s_yaml_to_json(r->http->body, r->http->body_len, &cfg, &err) < 0) {
        k1s_api_fail(r, 400, "BadRequest", "error decoding YAML: %s", err.msg);
        return;
    }
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        k1s_api_fail(r, 400, "BadRequest", "the request body must be a YAML or JSON object");
        return;
    }
    if (r->sub && !strcmp(r->sub, "scale")) {
        /* an applied Scale is the workload's spec.replicas, owned with subresource "scale" */
        json_t *wc = k1s_fm_scale_config(r, cfg);
        json_decref(cfg);
        if (!wc)
            return;
        cfg = wc;
        free(r->sub);
        r->sub = NULL;
        r->answer_scale = true;
    }
    r->key = k1s_obj_key(r->res, r->ns, r->name);
    if (!k1s_store_get_latest(r->api->store, r->key)) {
        if (r->sub || r->answer_scale) {
            json_decref(cfg);
            k1s_api_not_found(r, r->name);
            return;
        }
        json_t *obj = k1s_fm_apply(r, NULL, cfg);
        json_decref(cfg);
        if (obj)
            create_object(r, obj, false);
        return;
    }
    free(r->key);
    r->key = NULL;
    if (!load_old(r)) {
        json_decref(cfg);
        return;
    }
    json_t *obj = k1s_fm_apply(r, r->old, cfg);
    json_decref(cfg);
    if (obj)
        finish_update(r, obj, false);
}

static void handle_update(k1s_api_req_t *r, bool patch)
{
    bool apply = patch && k1s_patch_type_parse(k1s_http_req_header(r->http, "Content-Type")) ==
                              K1S_PATCH_APPLY;
    if (!k1s_fm_begin(r, patch ? "PatchOptions" : "UpdateOptions", apply))
        return;
    if (apply) {
        handle_apply(r);
        return;
    }
    if (!load_old(r))
        return;
    if (r->sub && !strcmp(r->sub, "scale")) {
        json_t *scale = scale_of(r, r->old);
        json_t *want;
        if (patch) {
            want = apply_patch(r, scale, k1s_openapi_schema("io.k8s.api.autoscaling.v1.Scale"));
            json_decref(scale);
            if (!want)
                return;
        } else {
            json_decref(scale);
            want = decode_body(r, NULL);
            if (!want)
                return;
        }
        const char *rv = meta_str(want, "resourceVersion");
        if (rv && *rv && strcmp(rv, meta_str(r->old, "resourceVersion"))) {
            json_decref(want);
            send_conflict(r, r->name);
            return;
        }
        json_t *spec = json_object_get(want, "spec");
        json_t *rep = spec ? json_object_get(spec, "replicas") : NULL;
        json_t *obj = json_deep_copy(r->old);
        if (r->res->crd) {
            k1s_cr_scale_set(r->res, obj, json_integer_value(rep));
        } else {
            json_t *ospec = json_object_get(obj, "spec");
            if (!json_is_object(ospec)) {
                ospec = json_object();
                json_object_set_new(obj, "spec", ospec);
            }
            json_object_set_new(ospec, "replicas", json_integer(json_integer_value(rep)));
        }
        json_decref(want);
        free(r->sub);
        r->sub = NULL;
        r->verb = patch ? "patch" : "update";
        r->answer_scale = true;
        /* answer with a Scale: convert after the write */
        finish_update(r, obj, false);
        return;
    }
    json_t *newobj;
    bool dup = false;
    if (patch) {
        newobj = apply_patch(r, r->old, k1s_resource_schema(r->res));
        if (!newobj)
            return;
        /* a patch that names a resourceVersion makes it a precondition; otherwise none */
    } else {
        newobj = decode_body(r, &dup);
        if (!newobj)
            return;
    }
    finish_update(r, newobj, dup);
}

static void handle_get_scale(k1s_api_req_t *r)
{
    if (!load_old(r))
        return;
    k1s_api_send_json(r, 200, scale_of(r, r->old));
}

/* ---------- delete ---------- */

/*
 * Decides what deleting obj means: remove now (returns 0), or mark it
 * (sets deletionTimestamp etc. in obj and returns 1).
 */
static int plan_delete(const k1s_resource_t *res, json_t *obj, int64_t grace)
{
    json_t *meta = k1s_obj_meta(obj);
    bool has_fin = json_array_size(finalizers_of(obj)) > 0;
    bool is_ns = !strcmp(res->plural, "namespaces");
    const char *node = k1s_obj_str(obj, "spec.nodeName");
    bool graceful_pod = !strcmp(res->plural, "pods") && node && *node && grace != 0;
    if (!has_fin && !is_ns && !graceful_pod)
        return 0;
    if (json_object_get(meta, "deletionTimestamp"))
        return 1;
    char ts[32];
    if (graceful_pod) {
        int64_t g = grace;
        if (g < 0) {
            json_t *spec = json_object_get(obj, "spec");
            json_t *tg = spec ? json_object_get(spec, "terminationGracePeriodSeconds") : NULL;
            g = tg ? json_integer_value(tg) : 30;
        }
        time_t t = time(NULL) + g;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(g));
    } else {
        now_rfc3339(ts);
        json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(0));
    }
    json_object_set_new(meta, "deletionTimestamp", json_string(ts));
    if (is_ns) {
        json_t *st = json_object_get(obj, "status");
        if (!json_is_object(st)) {
            st = json_object();
            json_object_set_new(obj, "status", st);
        }
        json_object_set_new(st, "phase", json_string("Terminating"));
    }
    if (k1s_resource_tracks_generation(res)) {
        json_int_t g = json_integer_value(json_object_get(meta, "generation"));
        json_object_set_new(meta, "generation", json_integer(g + 1));
    }
    return 1;
}

static void delete_validated(k1s_api_req_t *r);

static void handle_delete(k1s_api_req_t *r)
{
    if (!strcmp(r->res->plural, "namespaces") &&
        (!strcmp(r->name, "default") || !strcmp(r->name, "kube-system") ||
         !strcmp(r->name, "kube-public"))) {
        /* as the NamespaceLifecycle admission plugin answers */
        k1s_api_fail(r, 403, "Forbidden",
                     "namespaces \"%s\" is forbidden: this namespace may not be deleted", r->name);
        return;
    }
    json_t *opts = NULL;
    if (r->http->body_len > 0) {
        json_error_t je;
        opts = json_loadb(r->http->body, r->http->body_len, 0, &je);
        if (!opts) {
            k1s_api_fail(r, 400, "BadRequest", "error decoding DeleteOptions: %s", je.text);
            return;
        }
    }
    k1s_rest_delete(r, opts);
    json_decref(opts);
}

void k1s_rest_delete(k1s_api_req_t *r, const json_t *opts)
{
    if (!load_old(r))
        return;
    int64_t grace = k1s_api_query_int(r->http, "gracePeriodSeconds", -1);
    if (opts) {
        json_t *g = json_object_get(opts, "gracePeriodSeconds");
        if (json_is_integer(g))
            grace = json_integer_value(g);
        char *msg = NULL;
        if (k1s_gc_parse_delete_options(opts, &r->propagation, &msg) < 0) {
            k1s_api_fail(r, 422, "Invalid", "%s", msg);
            free(msg);
            return;
        }
        json_t *dr = json_object_get(opts, "dryRun");
        if (json_is_array(dr) && json_array_size(dr) > 0)
            r->dry_run = true;
        json_t *pre = json_object_get(opts, "preconditions");
        const char *puid = pre ? json_string_value(json_object_get(pre, "uid")) : NULL;
        const char *prv = pre ? json_string_value(json_object_get(pre, "resourceVersion")) : NULL;
        const char *ouid = meta_str(r->old, "uid");
        const char *orv = meta_str(r->old, "resourceVersion");
        if (puid && ouid && strcmp(puid, ouid)) {
            k1s_api_fail(r, 409, "Conflict",
                         "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                         puid, ouid);
            return;
        }
        if (prv && orv && strcmp(prv, orv)) {
            k1s_api_fail(r, 409, "Conflict",
                         "Precondition failed: ResourceVersion in precondition: %s, "
                         "ResourceVersion in object meta: %s",
                         prv, orv);
            return;
        }
    }
    r->grace = grace;
    k1s_admission_validate(r, delete_validated);
}

/*
 * A pod already being deleted gracefully and deleted again with a shorter
 * grace period: its deletionTimestamp and deletionGracePeriodSeconds move
 * up (kube-apiserver's BeforeDelete); returns true if they did.
 */
static bool shorten_grace(json_t *obj, int64_t grace)
{
    json_t *meta = k1s_obj_meta(obj);
    json_int_t dgp = json_integer_value(json_object_get(meta, "deletionGracePeriodSeconds"));
    const char *ts = meta_str(obj, "deletionTimestamp");
    struct tm tm = {0};
    if (grace < 0 || grace >= dgp || !ts || !strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return false;
    time_t t = timegm(&tm) - (time_t)dgp + (time_t)grace;
    char out[32];
    gmtime_r(&t, &tm);
    strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(meta, "deletionTimestamp", json_string(out));
    json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(grace));
    return true;
}

static void delete_validated(k1s_api_req_t *r)
{
    int64_t grace = r->grace;
    if (!still_current(r))
        return;
    json_t *obj = json_deep_copy(r->old);
    bool already = json_object_get(k1s_obj_meta(obj), "deletionTimestamp") != NULL;
    if (k1s_crd_is_crd(r->res) && !already)
        k1s_crd_prepare_delete(obj); /* its objects go first */
    /* the orphan/foregroundDeletion finalizers, unless a pod's graceful deletion is pending */
    const json_t *dgp = json_object_get(k1s_obj_meta(obj), "deletionGracePeriodSeconds");
    bool pending_graceful = already && !strcmp(r->res->plural, "pods") && json_integer_value(dgp);
    bool shortened = pending_graceful && shorten_grace(obj, grace);
    if (shortened)
        pending_graceful = false;
    bool fin_changed = !pending_graceful && k1s_gc_delete_finalizers(r->res, obj, r->propagation);
    fin_changed = fin_changed || shortened;
    int plan = plan_delete(r->res, obj, grace);
    if (plan == 1 && grace == 0 && !strcmp(r->res->plural, "pods") &&
        json_array_size(finalizers_of(obj)) == 0)
        plan = 0; /* force deletion of a pod */
    if (plan == 0) {
        json_decref(obj);
        r->after_commit = after_delete_hook;
        commit_delete(r);
        return;
    }
    if ((already && !fin_changed) || (r->dry_run && r->eviction)) {
        /* already being deleted: nothing more to do */
        json_decref(obj);
        if (r->eviction) {
            k1s_api_send_json(r, 201, k1s_status_new(201, NULL, ""));
            return;
        }
        json_t *o = r->old;
        r->old = NULL;
        k1s_api_send_json(r, 200, o);
        return;
    }
    r->obj = obj;
    r->after_commit = after_ns_update_hook;
    commit_put(r, 200);
}

/* Internal delete for namespace termination and deletecollection (no answer). */
static void internal_done(int err, k1s_kv_t *kv, void *arg)
{
    k1s_apiserver_t *api = arg;
    if (err < 0)
        k1s_warn("delete during namespace cleanup failed: %s", strerror(-err));
    k1s_ns_schedule(api);
}

/*
 * gc: apply the garbage-collection policy (NULL: the default) as a user's
 * delete would; grace: the pod grace period asked for (-1: the pod's own).
 */
static int internal_delete_cb(k1s_apiserver_t *api, const k1s_resource_t *res, const char *key,
                              bool gc, const char *policy, int64_t grace, k1s_store_done_fn done,
                              void *arg)
{
    k1s_kv_t *kv = k1s_store_get_latest(api->store, key);
    if (!kv)
        return -ENOENT;
    json_t *obj = k1s_obj_decode(kv->value);
    bool already = json_object_get(k1s_obj_meta(obj), "deletionTimestamp") != NULL;
    const json_t *dgp = json_object_get(k1s_obj_meta(obj), "deletionGracePeriodSeconds");
    bool pending_graceful = already && !strcmp(res->plural, "pods") && json_integer_value(dgp);
    bool fin_changed = gc && !pending_graceful && k1s_gc_delete_finalizers(res, obj, policy);
    int plan = plan_delete(res, obj, grace);
    if (plan == 1 && grace == 0 && !strcmp(res->plural, "pods") &&
        json_array_size(finalizers_of(obj)) == 0)
        plan = 0; /* force deletion of a pod */
    if (plan == 0) {
        json_decref(obj);
        if (!strcmp(res->plural, "services")) {
            json_t *o = k1s_obj_decode(kv->value);
            k1s_svc_release(api, o);
            json_decref(o);
        }
        k1s_store_delete(api->store, key, done, arg);
        return 1;
    }
    if (already && !fin_changed) {
        json_decref(obj);
        return 0;
    }
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
    json_object_set_new(k1s_obj_meta(obj), "resourceVersion", json_string(rv));
    k1s_store_put(api->store, key, k1s_obj_encode(obj), k1s_obj_aux_new(res, obj), done, arg);
    json_decref(obj);
    return 1;
}

int k1s_rest_internal_delete(k1s_apiserver_t *api, const k1s_resource_t *res, const char *key)
{
    int rc = internal_delete_cb(api, res, key, false, NULL, -1, internal_done, api);
    return rc < 0 ? rc : 0;
}

static void bootstrap_done(int err, k1s_kv_t *kv, void *arg)
{
    if (err < 0)
        k1s_error("bootstrap write failed: %s", strerror(-err));
}

int k1s_rest_internal_create(k1s_apiserver_t *api, const k1s_resource_t *res, json_t *obj)
{
    json_t *meta = k1s_obj_meta(obj);
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    char *key = k1s_obj_key(res, ns, name);
    if (k1s_store_get_latest(api->store, key)) {
        free(key);
        return -EEXIST;
    }
    char uid[37], ts[32], av[128];
    k1s_uuid4(uid);
    now_rfc3339(ts);
    json_t *out = json_pack("{s:s, s:s}", "kind", res->kind, "apiVersion",
                            k1s_resource_api_version(res, av, sizeof(av)));
    json_object_update(out, obj);
    meta = k1s_obj_meta(out);
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(ts));
    k1s_defaults_apply(res, out);
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(api->store));
    json_object_set_new(meta, "resourceVersion", json_string(rv));
    k1s_store_put(api->store, key, k1s_obj_encode(out), k1s_obj_aux_new(res, out), bootstrap_done,
                  NULL);
    json_decref(out);
    free(key);
    return 0;
}

/* ---------- deletecollection ---------- */

typedef struct dc_ctx {
    k1s_list_filter_t *filter;
    char **keys;
    size_t n, cap;
} dc_ctx_t;

static int dc_iter(k1s_kv_t *kv, void *arg)
{
    dc_ctx_t *c = arg;
    if (c->filter && !k1s_list_filter_match(c->filter, kv->aux))
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->keys = k1s_xrealloc(c->keys, c->cap * sizeof(char *));
    }
    c->keys[c->n++] = k1s_xstrdup(kv->key);
    return 0;
}

typedef struct dc_wait {
    k1s_api_req_t *r;
    int pending;
    int err;
} dc_wait_t;

static void dc_answer(k1s_api_req_t *r, int err)
{
    if (err < 0) {
        send_storage_error(r, err);
        return;
    }
    k1s_ns_schedule(r->api);
    if (k1s_crd_is_crd(r->res))
        k1s_crd_schedule(r->api);
    json_t *s = k1s_status_new(200, NULL, "");
    json_object_del(s, "message");
    k1s_api_send_json(r, 200, s);
}

static void dc_one_done(int err, k1s_kv_t *kv, void *arg)
{
    dc_wait_t *w = arg;
    if (err < 0)
        w->err = err;
    if (--w->pending == 0) {
        dc_answer(w->r, w->err);
        free(w);
    }
}

static void handle_deletecollection(k1s_api_req_t *r)
{
    const char *policy = NULL;
    int64_t grace = k1s_api_query_int(r->http, "gracePeriodSeconds", -1);
    if (r->http->body_len > 0) {
        json_t *opts = json_loadb(r->http->body, r->http->body_len, 0, NULL);
        char *msg = NULL;
        if (opts && k1s_gc_parse_delete_options(opts, &policy, &msg) < 0) {
            k1s_api_fail(r, 422, "Invalid", "%s", msg);
            free(msg);
            json_decref(opts);
            return;
        }
        json_t *g = json_object_get(opts, "gracePeriodSeconds");
        if (json_is_integer(g))
            grace = json_integer_value(g);
        json_decref(opts);
    }
    bool failed;
    k1s_list_filter_t *f = k1s_list_filter_new(r, &failed);
    if (failed)
        return;
    char *prefix = k1s_obj_prefix(r->res, r->ns);
    dc_ctx_t c = {f, NULL, 0, 0};
    k1s_store_range(r->api->store, prefix, NULL, dc_iter, &c);
    free(prefix);
    k1s_list_filter_free(f);
    dc_wait_t *w = k1s_xcalloc(1, sizeof(*w));
    w->r = r;
    w->pending = 1; /* held until all are queued */
    for (size_t i = 0; i < c.n; i++) {
        if (!r->dry_run) {
            w->pending++;
            if (internal_delete_cb(r->api, r->res, c.keys[i], true, policy, grace, dc_one_done,
                                   w) <= 0)
                w->pending--;
        }
        free(c.keys[i]);
    }
    free(c.keys);
    if (--w->pending == 0) {
        dc_answer(r, 0);
        free(w);
    }
}

/* ---------- binding ---------- */

static void handle_binding(k1s_api_req_t *r)
{
    json_t *b = decode_body(r, NULL);
    if (!b)
        return;
    json_t *target = json_object_get(b, "target");
    const char *node = target ? json_string_value(json_object_get(target, "name")) : NULL;
    if (!node || !*node) {
        json_decref(b);
        k1s_api_fail(r, 422, "Invalid", "Binding.target.name: Required value");
        return;
    }
    if (!load_old(r)) {
        json_decref(b);
        return;
    }
    json_t *obj = json_deep_copy(r->old);
    json_t *spec = json_object_get(obj, "spec");
    const char *cur = spec ? json_string_value(json_object_get(spec, "nodeName")) : NULL;
    if (cur && *cur) {
        char *node_now = k1s_xstrdup(cur);
        json_decref(b);
        json_decref(obj);
        k1s_api_fail(r, 409, "Conflict",
                     "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is already "
                     "assigned to node \"%s\"",
                     r->name, r->name, node_now);
        free(node_now);
        return;
    }
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    json_object_set_new(spec, "nodeName", json_string(node));
    /* PodScheduled condition, as the binding storage adds it */
    json_t *status = json_object_get(obj, "status");
    if (!json_is_object(status)) {
        status = json_object();
        json_object_set_new(obj, "status", status);
    }
    char ts[32];
    now_rfc3339(ts);
    json_t *conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    json_array_append_new(conds, json_pack("{s:s, s:s, s:n, s:s}", "type", "PodScheduled", "status",
                                           "True", "lastProbeTime", "lastTransitionTime", ts));
    json_decref(b);
    r->obj = obj;
    r->success_code = 201;
    /* answer with a Status once committed */
    if (r->dry_run) {
        k1s_api_send_json(r, 201, k1s_status_new(201, NULL, ""));
        return;
    }
    char rv[32];
    snprintf(rv, sizeof(rv), "%" PRId64, k1s_store_next_rev(r->api->store));
    json_object_set_new(k1s_obj_meta(obj), "resourceVersion", json_string(rv));
    k1s_store_put(r->api->store, r->key, k1s_obj_encode(obj), k1s_obj_aux_new(r->res, obj),
                  write_done, r);
}

/* ---------- routing ---------- */

static bool is_namespaced_path(char **segs, int nsegs)
{
    return nsegs >= 3 && !strcmp(segs[0], "namespaces");
}

void k1s_rest_handle(k1s_api_req_t *r, const char *group, const char *version, char **segs,
                     int nsegs)
{
    const char *method = r->http->method;
    const char *plural;
    int i = 0;
    /* /namespaces/<ns>/<plural>[/<name>[/<sub>]] or /<plural>[/<name>[/<sub>]] */
    if (is_namespaced_path(segs, nsegs)) {
        const k1s_resource_t *res = k1s_registry_find(group, version, segs[2]);
        if (res && res->namespaced) {
            r->ns = k1s_xstrdup(segs[1]);
            i = 2;
        }
    }
    plural = segs[i];
    r->res = k1s_registry_find(group, version, plural);
    if (!r->res) {
        k1s_api_fail(r, 404, "NotFound", "the server could not find the requested resource");
        return;
    }
    if (r->res->create_only) {
        k1s_review_handle(r);
        return;
    }
    if (r->res->read_only) {
        k1s_metrics_handle(r, nsegs - i >= 2 ? segs[i + 1] : NULL, nsegs - i > 2);
        return;
    }
    if (nsegs - i >= 3 && !strcmp(r->res->plural, "nodes") && !strcmp(segs[i + 2], "proxy")) {
        /* nodes/{name}/proxy/{path...}: to that node's kubelet (proxy.c) */
        r->name = k1s_xstrdup(segs[i + 1]);
        k1s_buf_t p = K1S_BUF_INIT;
        for (int k = i + 3; k < nsegs; k++) {
            k1s_buf_puts(&p, k > i + 3 ? "/" : "");
            k1s_buf_puts(&p, segs[k]);
        }
        k1s_proxy_node(r, p.data ? p.data : "");
        k1s_buf_free(&p);
        return;
    }
    if (nsegs - i > 3) {
        k1s_api_fail(r, 404, "NotFound", "the server could not find the requested resource");
        return;
    }
    if (nsegs - i >= 2)
        r->name = k1s_xstrdup(segs[i + 1]);
    if (nsegs - i == 3)
        r->sub = k1s_xstrdup(segs[i + 2]);
    if (r->sub) {
        unsigned need = 0;
        if (!strcmp(r->sub, "status"))
            need = K1S_SUB_STATUS;
        else if (!strcmp(r->sub, "scale"))
            need = K1S_SUB_SCALE;
        else if (!strcmp(r->sub, "binding"))
            need = K1S_SUB_BINDING;
        else if (!strcmp(r->sub, "eviction"))
            need = K1S_SUB_EVICTION;
        else if (!strcmp(r->sub, "token"))
            need = K1S_SUB_TOKEN;
        else if (!strcmp(r->sub, "approval"))
            need = K1S_SUB_APPROVAL;
        else if (!strcmp(r->res->plural, "namespaces") && !strcmp(r->sub, "finalize"))
            need = 0;
        if (!strcmp(r->res->plural, "pods") &&
            (!strcmp(r->sub, "log") || !strcmp(r->sub, "exec") || !strcmp(r->sub, "attach") ||
             !strcmp(r->sub, "portforward"))) {
            k1s_proxy_pod(r); /* proxy.c: to the node's kubelet */
            return;
        }
        if (!need && strcmp(r->sub, "finalize")) {
            k1s_api_fail(r, 404, "NotFound", "the server could not find the requested resource");
            return;
        }
        if (need && !(r->res->subresources & need)) {
            k1s_api_fail(r, 404, "NotFound", "the server could not find the requested resource");
            return;
        }
    }
    if (k1s_streq(r->sub, "token") && strcmp(method, "POST")) {
        k1s_api_fail(r, 405, "MethodNotAllowed",
                     "the server does not allow this method on the requested resource");
        return;
    }
    const char *dr = k1s_http_req_query(r->http, "dryRun");
    if (dr && *dr) {
        if (strcmp(dr, "All")) {
            k1s_api_fail(r, 400, "BadRequest",
                         "Invalid dry run value: \"%s\" (only \"All\" is supported)", dr);
            return;
        }
        r->dry_run = true;
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD") && !k1s_node_restriction_admit(r, NULL))
        return;
    bool watch = query_bool(r->http, "watch");
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
        if (!r->name) {
            if (watch) {
                r->verb = "watch";
                char *prefix = k1s_obj_prefix(r->res, r->ns);
                k1s_watch_start(r, prefix);
                free(prefix);
                return;
            }
            r->verb = "list";
            k1s_rest_list(r);
            return;
        }
        if (watch && !r->sub) {
            /* watch of one object: the collection's watch, narrowed to the name */
            r->verb = "watch";
            char *prefix = k1s_obj_prefix(r->res, r->ns);
            k1s_watch_start(r, prefix);
            free(prefix);
            return;
        }
        r->verb = "get";
        if (r->sub && !strcmp(r->sub, "scale")) {
            handle_get_scale(r);
            return;
        }
        k1s_rest_get(r);
        return;
    }
    if (!strcmp(method, "POST")) {
        r->verb = "create";
        if (r->name && r->sub && !strcmp(r->sub, "binding")) {
            handle_binding(r);
            return;
        }
        if (r->name && r->sub && !strcmp(r->sub, "token")) {
            k1s_sa_token_request(r);
            return;
        }
        if (r->name && r->sub && !strcmp(r->sub, "eviction")) {
            k1s_eviction_handle(r); /* eviction.c: disruption budgets, then a delete */
            return;
        }
        if (r->name) {
            k1s_api_fail(r, 405, "MethodNotAllowed", "POST is not supported on a named %s",
                         r->res->singular);
            return;
        }
        handle_create(r);
        return;
    }
    if (!strcmp(method, "PUT")) {
        r->verb = "update";
        if (!r->name) {
            k1s_api_fail(r, 405, "MethodNotAllowed", "PUT needs an object name in the URL");
            return;
        }
        if (r->sub && !strcmp(r->sub, "finalize")) {
            free(r->sub);
            r->sub = NULL;
        }
        handle_update(r, false);
        return;
    }
    if (!strcmp(method, "PATCH")) {
        r->verb = "patch";
        if (!r->name) {
            k1s_api_fail(r, 405, "MethodNotAllowed", "PATCH needs an object name in the URL");
            return;
        }
        handle_update(r, true);
        return;
    }
    if (!strcmp(method, "DELETE")) {
        if (!r->name) {
            r->verb = "deletecollection";
            handle_deletecollection(r);
            return;
        }
        r->verb = "delete";
        if (r->sub) {
            k1s_api_fail(r, 405, "MethodNotAllowed", "DELETE is not supported on a subresource");
            return;
        }
        handle_delete(r);
        return;
    }
    k1s_api_fail(r, 405, "MethodNotAllowed",
                 "the server does not allow this method on the requested resource");
}
