/*
 * Supervision of the embedded agent (see agentproc.h): spawn, restart with
 * back-off, stop; and the control-plane labels on the server's Node.
 */
#include "server/agentproc.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/log.h"
#include "lib/util.h"

extern char **environ;

#define RESTART_MAX_S 30

static const k1s_gvr_t nodes_gvr = {"", "v1", "nodes", false};

struct k1s_agent_proc {
    struct event_base *base;
    char **argv;
    pid_t pid;
    int backoff_s;
    time_t started;
    struct event *sigchld, *restart;
    k1s_client_t *client;
    char *node;
    k1s_client_req_t *watch, *patch;
    struct event *rewatch;
};

static void spawn_agent(k1s_agent_proc_t *p)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = k1s_xcalloc(n + 3, sizeof(char *));
    memcpy(env, environ, n * sizeof(char *));
    env[n] = (char *)"K1S_AGENT_EMBEDDED=1";
    /* libcurl's librtmp links GnuTLS, whose library constructor initialises it in every
     * process (about 0.5 MB of RSS in the agent and in each shim); k1s never uses it */
    if (!getenv("GNUTLS_NO_IMPLICIT_INIT"))
        env[n + 1] = (char *)"GNUTLS_NO_IMPLICIT_INIT=1";
    int r = posix_spawn(&p->pid, p->argv[0], NULL, NULL, p->argv, env);
    free(env);
    if (r != 0) {
        p->pid = 0;
        k1s_error("cannot start the embedded agent %s: %s", p->argv[0], strerror(r));
        return;
    }
    p->started = time(NULL);
    k1s_debug("embedded agent started (pid %d)", (int)p->pid);
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
    spawn_agent(arg);
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
    k1s_agent_proc_t *p = arg;
    int st;
    if (!p->pid || waitpid(p->pid, &st, WNOHANG) != p->pid)
        return;
    p->pid = 0;
    /* a run that lasted a while starts the back-off over */
    if (time(NULL) - p->started > 60)
        p->backoff_s = 1;
    if (WIFSIGNALED(st))
        k1s_warn("embedded agent killed by signal %d; restarting it in %d s", WTERMSIG(st),
                 p->backoff_s);
    else
        k1s_warn("embedded agent exited with status %d; restarting it in %d s", WEXITSTATUS(st),
                 p->backoff_s);
    struct timeval tv = {p->backoff_s, 0};
    evtimer_add(p->restart, &tv);
    p->backoff_s = p->backoff_s * 2 > RESTART_MAX_S ? RESTART_MAX_S : p->backoff_s * 2;
}

/* ---------- control-plane labels ---------- */

static void start_watch(k1s_agent_proc_t *p);

static void patched(const k1s_client_result_t *res, void *arg)
{
    k1s_agent_proc_t *p = arg;
    p->patch = NULL;
    if (res->status == 200)
        k1s_debug("node %s labelled as the control plane", p->node);
    else
        k1s_warn("label node %s as the control plane: %d %s", p->node, res->status, res->message);
}

static void node_event(k1s_watch_type_t type, json_t *obj, int status, void *arg)
{
    k1s_agent_proc_t *p = arg;
    if (type == K1S_WATCH_CLOSED) {
        p->watch = NULL;
        struct timeval tv = {1, 0};
        evtimer_add(p->rewatch, &tv);
        return;
    }
    if (type != K1S_WATCH_ADDED && type != K1S_WATCH_MODIFIED)
        return;
    json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    const char *cp =
        json_string_value(json_object_get(labels, "node-role.kubernetes.io/control-plane"));
    const char *m = json_string_value(json_object_get(labels, "node-role.kubernetes.io/master"));
    if ((cp && !strcmp(cp, "true") && m && !strcmp(m, "true")) || p->patch)
        return;
    const char *body = "{\"metadata\":{\"labels\":{\"node-role.kubernetes.io/control-plane\":"
                       "\"true\",\"node-role.kubernetes.io/master\":\"true\"}}}";
    p->patch = k1s_client_patch(p->client, &nodes_gvr, NULL, p->node, NULL, K1S_PATCH_MERGE, body,
                                false, patched, p);
}

static void start_watch(k1s_agent_proc_t *p)
{
    char *sel = k1s_xasprintf("metadata.name=%s", p->node);
    k1s_list_opts_t o = {.field_selector = sel};
    p->watch = k1s_client_watch(p->client, &nodes_gvr, NULL, &o, node_event, p);
    free(sel);
}

static void rewatch_cb(evutil_socket_t fd, short what, void *arg)
{
    start_watch(arg);
}

k1s_agent_proc_t *k1s_agent_proc_start(struct event_base *base, const char *const *argv,
                                       const char *node_name, k1s_http_handler_fn handler,
                                       void *handler_arg)
{
    k1s_agent_proc_t *p = k1s_xcalloc(1, sizeof(*p));
    p->base = base;
    size_t n = 0;
    while (argv[n])
        n++;
    p->argv = k1s_xcalloc(n + 3, sizeof(char *));
    char exe[4096];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[l > 0 ? l : 0] = 0;
    p->argv[0] = k1s_xstrdup(l > 0 ? exe : "/proc/self/exe");
    p->argv[1] = k1s_xstrdup("agent");
    for (size_t i = 0; i < n; i++)
        p->argv[i + 2] = k1s_xstrdup(argv[i]);
    p->backoff_s = 1;
    p->node = k1s_xstrdup(node_name);
    p->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, p);
    evsignal_add(p->sigchld, NULL);
    p->restart = evtimer_new(base, restart_cb, p);
    p->rewatch = evtimer_new(base, rewatch_cb, p);
    static const char *const groups[] = {"system:masters", NULL};
    p->client =
        k1s_client_new_inprocess(base, handler, handler_arg, "system:k1s-supervisor", groups);
    k1s_client_set_user_agent(p->client, "k1s-supervisor");
    start_watch(p);
    spawn_agent(p);
    return p;
}

void k1s_agent_proc_stop(k1s_agent_proc_t *p)
{
    if (!p)
        return;
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int st;
        bool gone = false;
        for (int i = 0; i < 500 && !gone; i++) {
            if (waitpid(p->pid, &st, WNOHANG) == p->pid)
                gone = true;
            else
                usleep(10000);
        }
        if (!gone) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
        }
    }
    k1s_client_free(p->client);
    event_free(p->sigchld);
    event_free(p->restart);
    event_free(p->rewatch);
    for (size_t i = 0; p->argv[i]; i++)
        free(p->argv[i]);
    free(p->argv);
    free(p->node);
    free(p);
}
