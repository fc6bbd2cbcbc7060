/*
 * An Event recorder, as client-go's record.EventRecorder with its
 * EventCorrelator: core/v1 Events with source.component set, named
 * "<object>.<hex nanoseconds>" in the object's namespace ("default" for
 * cluster-scoped objects). An Event that repeats one already written
 * (same object, type, reason and message) bumps that Event's count and
 * lastTimestamp with a patch instead of creating another, so that
 * `kubectl describe` shows "(x3 over 2m)".
 *
 * Writes are fire-and-forget; a failed write is logged at debug level.
 */
#ifndef K1S_CONTROLLERS_EVENTS_H
#define K1S_CONTROLLERS_EVENTS_H

#include <jansson.h>

#include "client/client.h"

typedef struct k1s_recorder k1s_recorder_t;

/* A recorder writing through client as component (copied). */
k1s_recorder_t *k1s_recorder_new(k1s_client_t *client, const char *component);
/* Frees; the client must be freed first or outlive nothing pending. Accepts NULL. */
void k1s_recorder_free(k1s_recorder_t *r);

/*
 * Records an Event about obj (which carries apiVersion, kind and metadata,
 * as informer objects do): type "Normal" or "Warning", reason in
 * CamelCase, message printf-style.
 */
void k1s_recorder_event(k1s_recorder_t *r, const json_t *obj, const char *type, const char *reason,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
