/*
 * The audit log (see audit.h). Events are written with one write(2) each,
 * so a line is never split between two events; rotation happens between
 * events.
 */
#include "api/audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/apiserver-int.h"
#include "api/authz.h"
#include "lib/log.h"

struct k1s_audit {
    char *path;
    int fd;
    bool is_stdout;
    int maxage, maxbackup;
    long long maxbytes, size;
};

static int open_log(k1s_audit_t *a, k1s_err_t *err)
{
    a->fd = open(a->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (a->fd < 0)
        return k1s_err_set(err, errno, "open audit log %s: %s", a->path, strerror(errno));
    struct stat st;
    a->size = fstat(a->fd, &st) == 0 ? st.st_size : 0;
    return 0;
}

int k1s_audit_new(const k1s_audit_opts_t *o, k1s_audit_t **out, k1s_err_t *err)
{
    *out = NULL;
    if (!o->path || !*o->path)
        return 0;
    k1s_audit_t *a = k1s_xcalloc(1, sizeof(*a));
    a->path = k1s_xstrdup(o->path);
    a->maxage = o->maxage;
    a->maxbackup = o->maxbackup;
    a->maxbytes = (long long)o->maxsize * 1024 * 1024;
    if (!strcmp(o->path, "-")) {
        a->is_stdout = true;
        a->fd = STDOUT_FILENO;
    } else {
        char *dir = k1s_xstrdup(o->path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = 0;
            k1s_mkdir_p(dir, 0700);
        }
        free(dir);
        int r = open_log(a, err);
        if (r < 0) {
            k1s_audit_free(a);
            return r;
        }
    }
    *out = a;
    return 0;
}

void k1s_audit_free(k1s_audit_t *a)
{
    if (!a)
        return;
    if (!a->is_stdout && a->fd >= 0)
        close(a->fd);
    free(a->path);
    free(a);
}

bool k1s_audit_enabled(const k1s_audit_t *a)
{
    return a != NULL;
}

/* name-<2006-01-02T15-04-05.000>.ext beside the log, as lumberjack names backups */
static void split_name(const char *path, char **dir, char **stem, char **ext)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    *dir = slash ? k1s_xasprintf("%.*s", (int)(slash - path), path) : k1s_xstrdup(".");
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        dot = base + strlen(base);
    *stem = k1s_xasprintf("%.*s", (int)(dot - base), base);
    *ext = k1s_xstrdup(dot);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void prune(k1s_audit_t *a)
{
    char *dir, *stem, *ext;
    split_name(a->path, &dir, &stem, &ext);
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0;
    size_t sl = strlen(stem), el = strlen(ext);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > sl + 1 + el && !strncmp(e->d_name, stem, sl) && e->d_name[sl] == '-' &&
            !strcmp(e->d_name + l - el, ext)) {
            names = k1s_xrealloc(names, (n + 1) * sizeof(char *));
            names[n++] = k1s_xstrdup(e->d_name);
        }
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof(char *), cmp_str); /* oldest first: the timestamp sorts */
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        char *p = k1s_xasprintf("%s/%s", dir, names[i]);
        bool drop = a->maxbackup > 0 && n - i > (size_t)a->maxbackup;
        struct stat st;
        if (!drop && a->maxage > 0 && stat(p, &st) == 0 &&
            now - st.st_mtime > (time_t)a->maxage * 86400)
            drop = true;
        if (drop)
            unlink(p);
        free(p);
        free(names[i]);
    }
    free(names);
    free(dir);
    free(stem);
    free(ext);
}

static void rotate(k1s_audit_t *a)
{
    char *dir, *stem, *ext;
    split_name(a->path, &dir, &stem, &ext);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[40];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H-%M-%S", &tm);
    char *backup = k1s_xasprintf("%s/%s-%s.%03ld%s", dir, stem, stamp, ts.tv_nsec / 1000000, ext);
    close(a->fd);
    a->fd = -1;
    if (rename(a->path, backup) < 0)
        k1s_warn("audit log: rename %s: %s", backup, strerror(errno));
    k1s_err_t err = {0};
    if (open_log(a, &err) < 0)
        k1s_warn("%s", err.msg);
    free(backup);
    free(dir);
    free(stem);
    free(ext);
    prune(a);
}

void k1s_audit_capture(k1s_api_req_t *r)
{
    k1s_authz_req_t *z = r->authz;
    k1s_http_req_t *h = r->http;
    char id[37];
    k1s_uuid4(id);
    z->audit_id = k1s_xstrdup(id);
    z->uri = k1s_xstrdup(h->target);
    const char *ua = k1s_http_req_header(h, "User-Agent");
    z->user_agent = ua ? k1s_xstrdup(ua) : NULL;
    if (h->peer) {
        /* "ip:port" or "[v6]:port" */
        const char *addr = h->peer->addr;
        const char *c = strrchr(addr, ':');
        if (*addr == '[')
            z->source_ip = k1s_xasprintf("%.*s", (int)(strcspn(addr + 1, "]")), addr + 1);
        else
            z->source_ip = c ? k1s_xasprintf("%.*s", (int)(c - addr), addr) : k1s_xstrdup(addr);
    }
    k1s_time_rfc3339_micro(z->received);
    k1s_http_add_header(h, "Audit-Id", id);
}

void k1s_audit_note_status(k1s_api_req_t *r, const json_t *status)
{
    k1s_authz_req_t *z = r->authz;
    if (!z || !z->audit_id || z->st_message)
        return;
    const char *reason = json_string_value(json_object_get(status, "reason"));
    const char *msg = json_string_value(json_object_get(status, "message"));
    z->st_reason = reason ? k1s_xstrdup(reason) : NULL;
    z->st_message = k1s_xstrdup(msg ? msg : "");
}

static bool is_write(const char *verb)
{
    static const char *const w[] = {"create", "update", "patch", "delete", "deletecollection"};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(w); i++)
        if (!strcmp(verb, w[i]))
            return true;
    return false;
}

/*
 * Leader-election and node heartbeats: Lease writes by the scheduler,
 * the controller manager and nodes, every few seconds on every cluster.
 * They are left out as the audit policies commonly used with kube-apiserver
 * (e.g. GCE's) leave them out, so that the log holds what people did.
 */
static bool is_heartbeat(const k1s_authz_req_t *z)
{
    const k1s_authz_attrs_t *at = &z->a;
    if (!z->allowed || !at->resource_request || strcmp(at->resource, "leases") ||
        strcmp(at->group, "coordination.k8s.io"))
        return false;
    const char *u = z->auth_user;
    return !strcmp(u, "system:kube-controller-manager") || !strcmp(u, "system:kube-scheduler") ||
           !strncmp(u, "system:node:", 12);
}

static json_t *user_info(const char *name, char *const *groups)
{
    json_t *g = json_array();
    for (size_t i = 0; groups && groups[i]; i++)
        json_array_append_new(g, json_string(groups[i]));
    return json_pack("{s:s, s:o}", "username", name, "groups", g);
}

void k1s_audit_log(k1s_api_req_t *r, int code)
{
    k1s_audit_t *a = r->api ? r->api->audit : NULL;
    k1s_authz_req_t *z = r->authz;
    if (!a || !z || !z->audit_id)
        return;
    const k1s_authz_attrs_t *at = &z->a;
    if ((z->allowed && !is_write(at->verb)) || is_heartbeat(z))
        return;
    char now[40];
    k1s_time_rfc3339_micro(now);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "kind", "Event",
                           "apiVersion", "audit.k8s.io/v1", "level", "Metadata", "auditID",
                           z->audit_id, "stage", "ResponseComplete", "requestURI", z->uri, "verb",
                           at->verb, "user", user_info(z->auth_user, z->auth_groups));
    if (z->imp_user)
        json_object_set_new(ev, "impersonatedUser", user_info(z->imp_user, z->groups));
    json_object_set_new(ev, "sourceIPs", json_pack("[s]", z->source_ip ? z->source_ip : ""));
    if (z->user_agent)
        json_object_set_new(ev, "userAgent", json_string(z->user_agent));
    if (at->resource_request) {
        json_t *o = json_pack("{s:s}", "resource", at->resource);
        if (*at->ns)
            json_object_set_new(o, "namespace", json_string(at->ns));
        const char *name = *at->name ? at->name : r->name;
        if (name && *name)
            json_object_set_new(o, "name", json_string(name));
        if (*at->group)
            json_object_set_new(o, "apiGroup", json_string(at->group));
        json_object_set_new(o, "apiVersion", json_string(at->version));
        if (*at->sub)
            json_object_set_new(o, "subresource", json_string(at->sub));
        json_object_set_new(ev, "objectRef", o);
    }
    json_t *rs = json_pack("{s:{}, s:i}", "metadata", "code", code);
    if (code >= 400) {
        json_object_set_new(rs, "status", json_string("Failure"));
        if (z->st_message && *z->st_message)
            json_object_set_new(rs, "message", json_string(z->st_message));
        if (z->st_reason)
            json_object_set_new(rs, "reason", json_string(z->st_reason));
    }
    json_object_set_new(ev, "responseStatus", rs);
    json_object_set_new(ev, "requestReceivedTimestamp", json_string(z->received));
    json_object_set_new(ev, "stageTimestamp", json_string(now));
    json_t *ann =
        json_pack("{s:s}", "authorization.k8s.io/decision", z->allowed ? "allow" : "forbid");
    json_object_set_new(ann, "authorization.k8s.io/reason", json_string(z->reason));
    if (json_is_object(r->audit_annotations)) /* from admission (PodSecurity audit=, webhooks) */
        json_object_update(ann, r->audit_annotations);
    json_object_set_new(ev, "annotations", ann);
    char *line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
    size_t n = strlen(line);
    line = k1s_xrealloc(line, n + 2);
    line[n++] = '\n';
    line[n] = 0;
    if (a->fd >= 0) {
        ssize_t w = write(a->fd, line, n);
        if (w > 0)
            a->size += w;
    }
    free(line);
    if (!a->is_stdout && a->maxbytes > 0 && a->size >= a->maxbytes)
        rotate(a);
}
