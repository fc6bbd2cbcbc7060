/*
 * The agent embedded in `k1s server` (unless --disable-agent): a child
 * process running `k1s agent` against this server over loopback, with the
 * server's own token, plus the control-plane role labels the server puts on
 * its own Node (kubelets may not set node-role labels themselves, so, as in
 * k3s, the server does it with its own credentials).
 *
 * A child process rather than a thread: the agent keeps its own event loop,
 * heap and crash domain, so a fault in the node half (which will run
 * containers) cannot take the API server down, and either can be killed and
 * restarted alone (crash-only); the binary's pages are shared, so the cost
 * is the agent's own heap (about 1.5 MB private, 3.3 MB PSS, for a
 * registered node in a release build). The child gets SIGTERM when the
 * server goes (PR_SET_PDEATHSIG) and is started again with back-off if it
 * exits.
 */
#ifndef K1S_SERVER_AGENTPROC_H
#define K1S_SERVER_AGENTPROC_H

#include <event2/event.h>

#include "net/http.h"

typedef struct k1s_agent_proc k1s_agent_proc_t;

/*
 * Starts `<this binary> agent` with argv (the flags, NULL-terminated;
 * copied), and labels the Node named node_name as the control plane through
 * handler(handler_arg) as system:masters once it registers. Returns the
 * supervisor; the child's output goes to this process's stderr.
 */
k1s_agent_proc_t *k1s_agent_proc_start(struct event_base *base, const char *const *argv,
                                       const char *node_name, k1s_http_handler_fn handler,
                                       void *handler_arg);
/* Stops the child (SIGTERM, SIGKILL after 5 s) and frees. Accepts NULL. */
void k1s_agent_proc_stop(k1s_agent_proc_t *p);

#endif
