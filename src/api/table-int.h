/*
 * Internals shared by the Table printer files: table.c (column tables and
 * the printer table), table-cells.c (one cell function per printer) and
 * table-format.c (cells, times, labels, selectors). The JSON accessors are
 * static inline; the functions one file shares with the others are named
 * k1s_t_*.
 */
#ifndef K1S_API_TABLE_INT_H
#define K1S_API_TABLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lib/buf.h"
#include "lib/util.h"

/* ---- JSON access: every helper accepts NULL and wrong types ---- */

/* Follows a dotted path of object members ("status.podIP"); NULL if any step is missing. */
static inline const json_t *jget(const json_t *o, const char *path)
{
    char key[64];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (!json_is_object(o) || n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        path += n + (dot ? 1 : 0);
    }
    return o;
}

static inline const json_t *jobj(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return json_is_object(v) ? v : NULL;
}

static inline const json_t *jarr(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return json_is_array(v) ? v : NULL;
}

/* The string at path, or "" (Go's zero value) when missing or not a string. */
static inline const char *jstr(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* True when path is present and not null (a non-nil pointer in Go). */
static inline bool jset(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    return v && !json_is_null(v);
}

static inline long long jnum(const json_t *v, long long def)
{
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d > -9.2e18 && d < 9.2e18)
            return (long long)d;
    }
    return def;
}

static inline long long jint(const json_t *o, const char *path, long long def)
{
    return jnum(jget(o, path), def);
}

static inline bool jtrue(const json_t *o, const char *path)
{
    return json_is_true(jget(o, path));
}

/* Number of items of an array, or of members of an object, at path. */
static inline size_t jlen(const json_t *o, const char *path)
{
    const json_t *v = jget(o, path);
    if (json_is_array(v))
        return json_array_size(v);
    if (json_is_object(v))
        return json_object_size(v);
    return 0;
}

/* Value of key in the object at path (keys may contain dots, as annotation keys do). */
static inline const json_t *jkey(const json_t *o, const char *path, const char *key)
{
    const json_t *m = jobj(o, path);
    return m ? json_object_get(m, key) : NULL;
}

/* ---- Shared types ---- */

/* Go's zero time.Time, 0001-01-01T00:00:00Z, in Unix seconds: a missing metav1.Time. */
#define ZERO_TIME (-62135596800.0)

/* A growable array of strings, sorted and joined like Go's sets.String.List(). */
typedef struct strv {
    const char **v;
    char **owned; /* strings to free */
    size_t n, cap, nowned;
} strv_t;

/* ---- table-format.c ---- */

void k1s_t_cell_str(json_t *cells, const char *s);
void k1s_t_cell_buf(json_t *cells, const k1s_buf_t *b);
void k1s_t_cell_int(json_t *cells, long long v);
void k1s_t_cell_bool(json_t *cells, bool v);
K1S_PRINTF(2, 3) void k1s_t_cell_fmt(json_t *cells, const char *fmt, ...);
/* Replaces the contents of b. */
K1S_PRINTF(2, 3) void k1s_t_bset(k1s_buf_t *b, const char *fmt, ...);
const char *k1s_t_bstr(const k1s_buf_t *b);
/* Appends s to b, preceded by sep unless b is empty. */
void k1s_t_bjoin(k1s_buf_t *b, const char *sep, const char *s);
/* The metav1.Time at path; ZERO_TIME when unset. */
double k1s_t_jtime(const json_t *o, const char *path);
/* translateTimestampSince: "<unknown>" for an unset time, else the age. */
void k1s_t_since(char *out, size_t len, double t, time_t now);
/* Go's t.UTC().Format(time.RFC3339). */
void k1s_t_format_rfc3339(char *out, size_t len, double t);
/* Appends the Age cell: translateTimestampSince(metadata.creationTimestamp). */
void k1s_t_cell_age(json_t *cells, const json_t *o, time_t now);
/* Appends the "since" cell of the time at path. */
void k1s_t_cell_since(json_t *cells, const json_t *o, const char *path, time_t now);
void k1s_t_strv_add(strv_t *s, const char *str);
/* Adds a copy of str that s owns. */
void k1s_t_strv_add_owned(strv_t *s, char *str);
void k1s_t_strv_sort(strv_t *s, bool unique);
/* Appends the strings to b, separated by sep. */
void k1s_t_strv_join(const strv_t *s, k1s_buf_t *b, const char *sep);
void k1s_t_strv_free(strv_t *s);
/* The keys of a JSON object, sorted. */
void k1s_t_sorted_keys(strv_t *s, const json_t *o);
/* labels.FormatLabels(map): "k1=v1,k2=v2" sorted as whole strings, "<none>" when empty. */
void k1s_t_format_labels(k1s_buf_t *b, const json_t *map);
/*
 * metav1.LabelSelectorAsSelector(sel).String(): requirements sorted by key,
 * "k=v", "k in (a,b)", "k notin (a,b)", "k", "!k", joined by ",". A nil
 * selector (labels.Nothing()) and an empty one (labels.Everything()) both print
 * as "". Returns false, leaving b unchanged, if the selector is invalid.
 */
bool k1s_t_format_selector(k1s_buf_t *b, const json_t *sel);
/* metav1.FormatLabelSelector: "<none>" when empty, "<error>" when invalid. */
void k1s_t_cell_label_selector(json_t *cells, const json_t *sel);
/* layoutContainerCells: the Containers and Images cells of a pod template. */
void k1s_t_cell_containers(json_t *cells, const json_t *containers);
/* A resource.Quantity as its String(): stored quantities are already canonical text. */
void k1s_t_format_quantity(k1s_buf_t *b, const json_t *q, const char *unset);
/* The names of the set of load-balancer ingress points: IP, else hostname; sorted, unique. */
void k1s_t_format_lb_ingress(k1s_buf_t *b, const json_t *ingress);
/* The first condition of the given type in the array at path, or NULL. */
const json_t *k1s_t_find_condition(const json_t *o, const char *path, const char *type);
bool k1s_t_condition_true(const json_t *o, const char *path, const char *type);
void k1s_t_ascii_lower(char *s);

/* ---- table-cells.c: cell functions, one per printer ---- */

void k1s_t_cells_default(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_pod(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_csr(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_pdb(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_replicaset(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_daemonset(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_job(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_cronjob(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_service(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_ingress(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_ingressclass(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_statefulset(json_t *cells, const json_t *o, time_t now);
/* formatEndpoints(endpoints, nil): at most three addresses, then "+ N more...". */
void k1s_t_cells_endpoints(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_endpointslice(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_node(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_event(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_events_event(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_namespace(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_secret(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_serviceaccount(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_pv(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_pvc(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_deployment(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_hpa(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_configmap(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_networkpolicy(json_t *cells, const json_t *o, time_t now);
/* Role bindings and cluster role bindings: rbac.SubjectsStrings joined by ", ". */
void k1s_t_cells_binding(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_lease(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_storageclass(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_csinode(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_controllerrevision(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_resourcequota(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_priorityclass(json_t *cells, const json_t *o, time_t now);
void k1s_t_cells_webhookconfig(json_t *cells, const json_t *o, time_t now);

#endif
