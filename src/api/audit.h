/*
 * The audit log (kube-apiserver's --audit-log-* flags): one
 * audit.k8s.io/v1 Event per write request and per denied request, as a
 * JSON line at the Metadata level, stage ResponseComplete. The file is
 * rotated when it passes maxsize megabytes (the old one renamed to
 * <name>-<timestamp>.<ext>, as kube-apiserver's lumberjack does), keeping
 * at most maxbackup old files and none older than maxage days. Path "-"
 * writes to standard output.
 */
#ifndef K1S_API_AUDIT_H
#define K1S_API_AUDIT_H

#include <stdbool.h>

#include <jansson.h>

#include "lib/err.h"

typedef struct k1s_audit k1s_audit_t;
typedef struct k1s_api_req k1s_api_req_t;

typedef struct k1s_audit_opts {
    const char *path; /* NULL or "": no audit log */
    int maxage;       /* days; 0 = keep regardless of age */
    int maxbackup;    /* 0 = keep all */
    int maxsize;      /* megabytes; 0 = never rotate */
} k1s_audit_opts_t;

/* Opens the log; *out is NULL (and 0 returned) when auditing is off. -errno with err set. */
int k1s_audit_new(const k1s_audit_opts_t *o, k1s_audit_t **out, k1s_err_t *err);
void k1s_audit_free(k1s_audit_t *a);
bool k1s_audit_enabled(const k1s_audit_t *a);
/* Records what the event needs from the HTTP request while it still exists (r->authz). */
void k1s_audit_capture(k1s_api_req_t *r);
/* Remembers the reason and message of a failure answer (a metav1.Status) for the event. */
void k1s_audit_note_status(k1s_api_req_t *r, const json_t *status);
/* Writes the event for a finished request if it is a write or was denied. */
void k1s_audit_log(k1s_api_req_t *r, int code);

#endif
