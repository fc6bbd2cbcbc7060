/*
 * Server-side Table output (meta.k8s.io/v1 Table): the column definitions and
 * row cells kube-apiserver 1.32 produces for `kubectl get` and `kubectl get -o
 * wide`. The columns, descriptions and cell computations follow Kubernetes'
 * pkg/printers/internalversion/printers.go; resources without a printer there
 * get the generic default table (Name, Created At), as kube-apiserver's
 * rest.NewDefaultTableConvertor does.
 *
 * Like kube-apiserver, cells are always generated "wide": every column,
 * including priority-1 ones, has a cell, and kubectl hides priority-1 columns
 * unless asked for -o wide. The caller builds the Table object around these
 * (kind, apiVersion, metadata, rows[].object).
 *
 * Objects are read as the JSON the API serves (versioned, e.g. apps/v1), and
 * may be partial: a missing field reads as the value Kubernetes' defaulting
 * would have given it (e.g. a Service without spec.type is a ClusterIP
 * service), or as the Go zero value where there is no default. Nothing here
 * fails or aborts on odd input.
 */
#ifndef K1S_API_TABLE_H
#define K1S_API_TABLE_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "api/registry.h"

/*
 * Column definitions for r: a JSON array of metav1.TableColumnDefinition
 * ({"name", "type", "format", "description", "priority"}), in cell order.
 * Returns a new reference; never NULL.
 */
json_t *k1s_table_columns(const k1s_resource_t *r);

/*
 * Cells for one object of resource r: a JSON array of strings, integers and
 * booleans, as long as and in the order of k1s_table_columns(r). now is the
 * current Unix time, used for ages and durations. obj may be partial or NULL.
 * Returns a new reference; never NULL.
 */
json_t *k1s_table_cells(const k1s_resource_t *r, const json_t *obj, time_t now);

/*
 * Row conditions (metav1.TableRowCondition array) for one object, as
 * kube-apiserver sets them: pods in phase Succeeded or Failed carry a
 * "Completed" condition. Returns a new reference, or NULL when the row has no
 * conditions (the field is then omitted).
 */
json_t *k1s_table_row_conditions(const k1s_resource_t *r, const json_t *obj);

/*
 * Kubernetes' duration.HumanDuration, which the printers use for ages and
 * durations: "5s", "119s", "3m10s", "45m", "5h3m", "20h", "2d3h", "45d",
 * "2y30d", "12y"; "0s" for slightly negative values (clock skew) and
 * "<invalid>" below -1s. Writes a NUL-terminated string into out.
 */
void k1s_table_age(char *out, size_t len, double seconds);

/* Kubernetes' duration.ShortHumanDuration: "5s", "3m", "5h", "2d", "1y". */
void k1s_table_short_age(char *out, size_t len, double seconds);

/* The Name and Created At column descriptions (k8s.io/api SwaggerDoc), for other tables. */
extern const char k1s_table_desc_name[];
extern const char k1s_table_desc_created[];

#endif
