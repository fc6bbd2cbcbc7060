/*
 * The shim: one `k1s shim` process per container (containerd's shim role).
 * The runtime library (runtime.h) starts it detached; it runs the OCI runtime
 * (`runc create` + `runc start`), owns the container's stdio, writes the CRI
 * log, waits for the exit, records it in the state directory and exits after
 * `runc delete`. It outlives the agent; a restarted agent reconnects to its
 * socket.
 *
 * State directory of a container (<state>/<id>/):
 *   bundle/config.json   the OCI spec
 *   shim.json            how the shim was started (runtime, runtime root, log path)
 *   status.json          written atomically: {"state": "created|running|exited",
 *                        "pid", "createdAt", "startedAt", "finishedAt", "exitCode",
 *                        "signal", "reason", "message"} (times RFC 3339 with ns)
 *   shim.sock            the shim's control socket while it runs
 *   runtime.log          the OCI runtime's own log (JSON lines)
 *
 * Control protocol on shim.sock (SOCK_STREAM): the client sends one JSON
 * request terminated by '\n', with file descriptors attached (SCM_RIGHTS)
 * where the request says; the shim answers with JSON lines:
 *   {"op":"state"}                      -> status object
 *   {"op":"wait"}                       -> status object once the container has exited
 *   {"op":"kill","signal":N,"all":b}    -> {"ok":true} | {"error":"..."}
 *   {"op":"exec","args":[..],"env":[..],"cwd":s,"tty":b,"fds":"iow"} + fds
 *                                       -> [{"console":true} + pty master fd] then
 *                                          {"exitCode":N} | {"error":"..."}
 *       fds names which descriptors are attached, in order: i stdin, o stdout,
 *       e stderr (missing ones are /dev/null); with tty only i and o matter.
 *   {"op":"attach","fds":"oe"|"ioe"}   -> {"ok":true}, then the container's output is
 *                                          copied to the attached fds until it exits
 *   {"op":"close-stdin"}               -> {"ok":true}
 *   {"op":"resize","width":W,"height":H} -> {"ok":true} (terminal containers)
 */
#ifndef K1S_RUNTIME_SHIM_H
#define K1S_RUNTIME_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

#define K1S_RT_LOG_MAX_SIZE (10 * 1024 * 1024)
#define K1S_RT_LOG_MAX_FILES 5
/* CRI: lines longer than this are split into partial (P) records. */
#define K1S_RT_LOG_LINE_MAX 16384

typedef struct k1s_rt_shim_opts {
    const char *id;
    const char *bundle;       /* holds config.json */
    const char *state_dir;    /* status.json, shim.sock */
    const char *log_path;     /* CRI log file */
    const char *runtime;      /* "runc" (default), "crun" or a path */
    const char *runtime_root; /* --root of the runtime; NULL: its default */
    int64_t log_max_size;     /* 0: K1S_RT_LOG_MAX_SIZE */
    int log_max_files;        /* 0: K1S_RT_LOG_MAX_FILES (the current file included) */
    int ready_fd;    /* -1, or where to write "ok PID\n" / "error MESSAGE\n" once started */
    bool stdin_open; /* give the container a stdin pipe (for attach) */
} k1s_rt_shim_opts_t;

/* Runs the shim; returns the process exit status. */
int k1s_rt_shim_main(const k1s_rt_shim_opts_t *o);

/*
 * Unmaps the calling process's clean file-backed pages (read-only file
 * mappings without anonymous pages; see shim-trim.c) so that they are
 * faulted back in only if used again. Returns the kB released. Single-threaded
 * callers only.
 */
size_t k1s_rt_shim_trim(void);
/*
 * Unmaps the shared libraries the shim's code never calls (all but libc,
 * libm, the dynamic loader and jansson; see shim-trim.c), with their .bss.
 * Returns the kB of RSS released. Afterwards nothing may call into them, and
 * the process must end with _exit() (their destructors are gone too).
 * Single-threaded callers only.
 */
size_t k1s_rt_shim_unmap_libraries(void);

/* CRI log writer: "<RFC3339Nano> <stream> <F|P> <text>\n" records, with rotation. */
typedef struct k1s_rt_crilog {
    int fd;
    char *path;
    int64_t size, max_size;
    int max_files;
    char *pending[2]; /* unterminated bytes per stream (0 stdout, 1 stderr) */
    size_t pending_len[2];
} k1s_rt_crilog_t;

/* Opens (appends to) path. 0 or -errno. */
int k1s_rt_crilog_open(k1s_rt_crilog_t *l, const char *path, int64_t max_size, int max_files);
/* Feeds bytes the container wrote on stream 0 (stdout) or 1 (stderr). */
void k1s_rt_crilog_write(k1s_rt_crilog_t *l, int stream, const char *data, size_t len);
/* Writes a stream's unterminated rest as a partial record (at EOF). */
void k1s_rt_crilog_flush(k1s_rt_crilog_t *l, int stream);
void k1s_rt_crilog_close(k1s_rt_crilog_t *l);
/* Formats a Unix time in ns as RFC 3339 with nanoseconds in UTC (out: 36 bytes). */
void k1s_rt_time_format(int64_t unix_ns, char out[40]);
/* Parses what k1s_rt_time_format writes (or any RFC 3339 UTC time); 0 on failure. */
int64_t k1s_rt_time_parse(const char *s);
int64_t k1s_rt_time_now(void);

/*
 * Socket helpers shared by the shim and its clients. Connect to <dir>/<name>
 * through /proc/self/fd so that long state paths fit in sun_path. Return a
 * connected O_CLOEXEC socket or -errno.
 */
int k1s_rt_sock_connect(const char *dir, const char *name);
/* Sends len bytes with n_fds descriptors attached. 0 or -errno. */
int k1s_rt_sock_send(int sock, const void *data, size_t len, const int *fds, int n_fds);
/* Receives up to cap bytes and up to max_fds descriptors (O_CLOEXEC); bytes read or -errno. */
ssize_t k1s_rt_sock_recv(int sock, void *buf, size_t cap, int *fds, int max_fds, int *n_fds);

#endif
