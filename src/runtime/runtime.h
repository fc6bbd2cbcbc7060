/*
 * The container runtime the agent uses (containerd's CRI runtime service,
 * for containers; images and snapshots are image.h's). A container here is
 * an OCI bundle plus a `k1s shim` process (shim.h) in its own session: the
 * shim runs runc or crun, owns stdio and the CRI log and records the exit,
 * so containers keep running while the agent is stopped or restarted.
 *
 * Everything is driven from the caller's libevent base and never blocks on
 * the container: starting waits for the shim's report on a pipe, exits arrive
 * as the shim's socket answering a "wait" request (no polling), stop's grace
 * period is a timer. The calls that are synchronous (status, list, kill,
 * remove, attach) are a local socket round trip or a few small files; remove
 * of a container whose shim died runs `runc delete --force` (tens of ms).
 *
 * State lives under opts.state_dir/<id>/ (layout in shim.h), so `k1s ctr`
 * and a restarted agent see the same containers; k1s_rt_adopt reconnects to
 * the shims that still run and reports the ones that died.
 *
 * Typical agent use:
 *     k1s_rt_new(base, &opts, &rt, &err);
 *     k1s_rt_on_exit(rt, on_exit, agent);      // every exit, started here or adopted
 *     k1s_rt_adopt(rt, &err);                  // after a restart
 *     k1s_rt_start(rt, &req, on_started, pod, &err);
 *     k1s_rt_stop(rt, id, grace_ms, on_stopped, pod, &err);
 *     k1s_rt_remove(rt, id, &err);
 */
#ifndef K1S_RUNTIME_RUNTIME_H
#define K1S_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "runtime/spec.h"

struct event_base;

typedef struct k1s_rt k1s_rt_t;

typedef struct k1s_rt_opts {
    const char *state_dir;    /* required, e.g. <data-dir>/agent/containers */
    const char *runtime;      /* "runc" (NULL) or "crun" or a path */
    const char *runtime_root; /* the runtime's --root; NULL: /run/k1s/<runtime> */
    const char *shim_path;    /* the k1s binary to run as `k1s shim`; NULL: this executable */
    int64_t log_max_size;     /* CRI log rotation: 0 for 10 MiB */
    int log_max_files;        /* 0 for 5 (the current file included) */
    bool shim_debug;          /* shims log at debug level to <state>/<id>/shim.log */
} k1s_rt_opts_t;

typedef enum {
    K1S_RT_CREATED = 0,
    K1S_RT_RUNNING,
    K1S_RT_EXITED,
} k1s_rt_state_t;

/* What is known about one container. Strings are owned by the struct. */
typedef struct k1s_rt_status {
    char *id;
    k1s_rt_state_t state;
    int pid;       /* the container's init on the host, while running */
    int exit_code; /* when exited: the exit code, 128+signal when killed by a signal */
    int signal;
    char *reason;  /* when exited: Completed, Error, OOMKilled, StartError, Unknown */
    char *message; /* a start error's text, or why the state is unknown */
    int64_t created_at, started_at, finished_at; /* Unix ns; 0 when not (yet) */
    char *log_path;
    char **labels; /* "key=value", NULL-terminated (from the start request) */
} k1s_rt_status_t;

void k1s_rt_status_clear(k1s_rt_status_t *st);
void k1s_rt_status_list_free(k1s_rt_status_t *list, size_t n);
const char *k1s_rt_state_name(k1s_rt_state_t s);

/*
 * Creates the runtime on base (which must outlive it). Creates state_dir.
 * Returns 0 with *out set, or -errno with err set.
 */
int k1s_rt_new(struct event_base *base, const k1s_rt_opts_t *opts, k1s_rt_t **out, k1s_err_t *err);
/* Frees the runtime and its watches (pending callbacks are dropped); containers and shims
 * keep running. Accepts NULL. */
void k1s_rt_free(k1s_rt_t *rt);

/* Called on the loop for every container exit the runtime watches (status only valid during
 * the call). Exits of containers stopped with k1s_rt_stop are reported here too. */
typedef void (*k1s_rt_exit_cb)(void *arg, const k1s_rt_status_t *st);
void k1s_rt_on_exit(k1s_rt_t *rt, k1s_rt_exit_cb cb, void *arg);

/* Completion of an asynchronous call: rc 0 or -errno, err (message) set when rc < 0. */
typedef void (*k1s_rt_done_cb)(void *arg, const char *id, int rc, const k1s_err_t *err);

typedef struct k1s_rt_start_req {
    const char *id;                /* [A-Za-z0-9][A-Za-z0-9_.-]*, at most 128 characters */
    const k1s_rt_config_t *config; /* cgroups_path NULL: /k1s/<id> */
    const char *log_path;          /* required: the CRI log file (its directory is created) */
    bool stdin_open;               /* keep a stdin pipe for attach */
    char *const *labels;           /* "key=value", NULL-terminated, kept in the state dir */
} k1s_rt_start_req_t;

/*
 * Creates and starts a container: writes the bundle, starts its shim and
 * returns; cb runs on the loop once the container runs (rc 0) or could not
 * start (the runtime's message in err, e.g. 'exec: "nosuch": executable file
 * not found in $PATH'; the container then exists in state exited with reason
 * StartError, to be removed). Fails at once (-EEXIST, -EINVAL, ...) without
 * calling cb. Once started, the container's exit is reported to on_exit.
 */
int k1s_rt_start(k1s_rt_t *rt, const k1s_rt_start_req_t *req, k1s_rt_done_cb cb, void *arg,
                 k1s_err_t *err);

/* Fills *out (clear it with k1s_rt_status_clear). -ENOENT if there is no such container.
 * A container whose shim died without recording an exit is reported exited, exit code 255,
 * reason Unknown. */
int k1s_rt_status(k1s_rt_t *rt, const char *id, k1s_rt_status_t *out, k1s_err_t *err);
/* All containers in state_dir, sorted by creation time. */
int k1s_rt_list(k1s_rt_t *rt, k1s_rt_status_t **out, size_t *n, k1s_err_t *err);

/* Sends sig to the container's init (all: to every process in it). -ESRCH if not running. */
int k1s_rt_kill(k1s_rt_t *rt, const char *id, int sig, bool all, k1s_err_t *err);

/*
 * Stops a container as the kubelet does: SIGTERM, then SIGKILL to every
 * process once grace_ms have passed without an exit (grace_ms 0: SIGKILL at
 * once). cb runs on the loop when the container has exited (rc 0; at once if
 * it was not running).
 */
int k1s_rt_stop(k1s_rt_t *rt, const char *id, int grace_ms, k1s_rt_done_cb cb, void *arg,
                k1s_err_t *err);

/* Removes an exited container's state (its bundle and status; the log file stays unless it
 * is inside the state directory). -EBUSY if it is still running. */
int k1s_rt_remove(k1s_rt_t *rt, const char *id, k1s_err_t *err);

/*
 * Re-adopts the containers in state_dir after a restart: watches every
 * running one (their exits reach on_exit later) and reports every exited one
 * through on_exit before returning (those that exited while the agent was
 * away, and those whose shim died: reason Unknown), so that the caller learns
 * each container's state once. Returns the number of running containers or
 * -errno.
 */
int k1s_rt_adopt(k1s_rt_t *rt, k1s_err_t *err);

/*
 * Exec in a running container (the kubelet streaming server's hook): runs
 * args with the container's process settings (user, env, caps) plus env and
 * cwd if given. Without tty the process gets stdin_fd/stdout_fd/stderr_fd
 * (each may be -1 for /dev/null; the runtime duplicates them, the caller keeps
 * its own). With tty, console_cb receives the pty master (the callee owns it:
 * copy it to the stream, resize it with TIOCSWINSZ, close it when done).
 * done_cb gets the exit code in rc (>= 0), or -errno with err: -ETIMEDOUT
 * when timeout_ms (> 0) passed first (the process is then killed, as CRI's
 * ExecSync does). Returns 0 or -errno at once (-ESRCH: not running).
 */
typedef struct k1s_rt_exec_req {
    char *const *args;
    char *const *env;
    const char *cwd;
    bool tty;
    int stdin_fd, stdout_fd, stderr_fd;
    int timeout_ms; /* 0: none */
} k1s_rt_exec_req_t;
typedef void (*k1s_rt_console_cb)(void *arg, int master_fd);
int k1s_rt_exec(k1s_rt_t *rt, const char *id, const k1s_rt_exec_req_t *req, k1s_rt_done_cb done_cb,
                k1s_rt_console_cb console_cb, void *arg, k1s_err_t *err);

/*
 * Attach (the kubelet's attach and `logs -f` hook): the shim copies the
 * container's output from now on to stdout_fd and stderr_fd (stderr_fd -1:
 * both to stdout_fd) and, when the container was started with stdin_open,
 * what it reads from stdin_fd (-1: none) to the container's stdin, until the
 * container exits or a write fails. The fds are duplicated; give the shim
 * non-blocking-safe ends (pipes or sockets the caller reads promptly).
 */
int k1s_rt_attach(k1s_rt_t *rt, const char *id, int stdin_fd, int stdout_fd, int stderr_fd,
                  k1s_err_t *err);
/* Closes the container's stdin (stdinOnce). */
int k1s_rt_close_stdin(k1s_rt_t *rt, const char *id, k1s_err_t *err);
/* Resource usage of a running container, from its cgroup (cgroup v1 or v2). */
typedef struct k1s_rt_stats {
    int64_t timestamp;                 /* Unix ns when read */
    uint64_t cpu_usage_ns;             /* cumulative CPU time */
    uint64_t memory_usage_bytes;       /* including page cache */
    uint64_t memory_working_set_bytes; /* usage minus inactive file pages (kubelet's measure) */
    uint64_t memory_rss_bytes;         /* anonymous memory */
    uint64_t pids;                     /* processes and threads */
} k1s_rt_stats_t;

/* Reads a container's stats: a few small cgroup files (cheap). -ENOENT if its cgroup is
 * gone (not running). */
int k1s_rt_stats(k1s_rt_t *rt, const char *id, k1s_rt_stats_t *out, k1s_err_t *err);

/* Resizes a terminal container's pty. */
int k1s_rt_resize(k1s_rt_t *rt, const char *id, int width, int height, k1s_err_t *err);

#endif
