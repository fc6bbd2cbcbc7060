/*
 * The runtime library (runtime.h): state directories, starting detached
 * shims, and talking to them over their sockets from the agent's loop.
 */
#include "runtime/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/shim.h"

/* A pending start, a watched container or an exec in flight: one socket/pipe on the loop. */
typedef struct rt_watch rt_watch_t;
struct rt_watch {
    k1s_rt_t *rt;
    rt_watch_t *next;
    enum { W_START, W_EXIT, W_EXEC } kind;
    char *id;
    int fd;
    struct event *ev;
    k1s_buf_t in;
    /* stop */
    struct event *timer;
    k1s_rt_done_cb stop_cb;
    void *stop_arg;
    /* start and exec */
    k1s_rt_done_cb cb;
    k1s_rt_console_cb console_cb;
    void *arg;
};

struct k1s_rt {
    struct event_base *base;
    char *state_dir, *runtime, *runtime_root, *shim_path;
    int64_t log_max_size;
    int log_max_files;
    bool shim_debug;
    k1s_rt_exit_cb exit_cb;
    void *exit_arg;
    rt_watch_t *watches;
};

const char *k1s_rt_state_name(k1s_rt_state_t s)
{
    switch (s) {
    case K1S_RT_CREATED: return "created";
    case K1S_RT_RUNNING: return "running";
    case K1S_RT_EXITED: return "exited";
    }
    return "unknown";
}

void k1s_rt_status_clear(k1s_rt_status_t *st)
{
    if (!st)
        return;
    free(st->id);
    free(st->reason);
    free(st->message);
    free(st->log_path);
    for (size_t i = 0; st->labels && st->labels[i]; i++)
        free(st->labels[i]);
    free(st->labels);
    memset(st, 0, sizeof(*st));
}

void k1s_rt_status_list_free(k1s_rt_status_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        k1s_rt_status_clear(&list[i]);
    free(list);
}

static char *ctr_dir(k1s_rt_t *rt, const char *id)
{
    return k1s_xasprintf("%s/%s", rt->state_dir, id);
}

static bool valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 128 || id[0] == '.' || id[0] == '-' || id[0] == '_')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

int k1s_rt_new(struct event_base *base, const k1s_rt_opts_t *o, k1s_rt_t **out, k1s_err_t *err)
{
    if (!o->state_dir)
        return k1s_err_set(err, EINVAL, "runtime: no state directory");
    int r = k1s_mkdir_p(o->state_dir, 0700);
    if (r < 0)
        return k1s_err_set(err, -r, "create %s: %s", o->state_dir, strerror(-r));
    k1s_rt_t *rt = k1s_xcalloc(1, sizeof(*rt));
    rt->base = base;
    rt->state_dir = k1s_xstrdup(o->state_dir);
    rt->runtime = k1s_xstrdup(o->runtime ? o->runtime : "runc");
    const char *slash = strrchr(rt->runtime, '/');
    rt->runtime_root = o->runtime_root
                           ? k1s_xstrdup(o->runtime_root)
                           : k1s_xasprintf("/run/k1s/%s", slash ? slash + 1 : rt->runtime);
    if (o->shim_path)
        rt->shim_path = k1s_xstrdup(o->shim_path);
    else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
            k1s_rt_free(rt);
            return k1s_err_set(err, errno, "runtime: find this executable: %s", strerror(errno));
        }
        self[n] = 0;
        rt->shim_path = k1s_xstrdup(self);
    }
    rt->log_max_size = o->log_max_size;
    rt->log_max_files = o->log_max_files;
    rt->shim_debug = o->shim_debug;
    *out = rt;
    return 0;
}

static void watch_free(rt_watch_t *w)
{
    k1s_rt_t *rt = w->rt;
    for (rt_watch_t **p = &rt->watches; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    if (w->ev)
        event_free(w->ev);
    if (w->timer)
        event_free(w->timer);
    if (w->fd >= 0)
        close(w->fd);
    k1s_buf_free(&w->in);
    free(w->id);
    free(w);
}

void k1s_rt_free(k1s_rt_t *rt)
{
    if (!rt)
        return;
    while (rt->watches)
        watch_free(rt->watches);
    free(rt->state_dir);
    free(rt->runtime);
    free(rt->runtime_root);
    free(rt->shim_path);
    free(rt);
}

void k1s_rt_on_exit(k1s_rt_t *rt, k1s_rt_exit_cb cb, void *arg)
{
    rt->exit_cb = cb;
    rt->exit_arg = arg;
}

/* ---- state files ---- */

static json_t *load_json(const char *dir, const char *name)
{
    char *path = k1s_xasprintf("%s/%s", dir, name);
    json_t *j = json_load_file(path, 0, NULL);
    free(path);
    return j;
}

static char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? k1s_xstrdup(s) : NULL;
}

/* Reads a container's status from its state dir; asks the shim whether it lives. */
static int read_status(k1s_rt_t *rt, const char *id, k1s_rt_status_t *st, k1s_err_t *err)
{
    char *dir = ctr_dir(rt, id);
    json_t *shim = load_json(dir, "shim.json");
    if (!shim) {
        free(dir);
        return k1s_err_set(err, ENOENT, "container %s not found", id);
    }
    memset(st, 0, sizeof(*st));
    st->id = k1s_xstrdup(id);
    st->log_path = jstr(shim, "logPath");
    json_t *labels = json_object_get(shim, "labels");
    st->labels = k1s_xcalloc(json_array_size(labels) + 1, sizeof(char *));
    for (size_t i = 0; i < json_array_size(labels); i++)
        st->labels[i] = k1s_xstrdup(json_string_value(json_array_get(labels, i)));
    st->created_at = k1s_rt_time_parse(json_string_value(json_object_get(shim, "createdAt")));
    json_decref(shim);

    for (int attempt = 0; attempt < 2; attempt++) {
        json_t *s = load_json(dir, "status.json");
        const char *state = s ? json_string_value(json_object_get(s, "state")) : "created";
        if (k1s_streq(state, "exited")) {
            st->state = K1S_RT_EXITED;
            st->exit_code = (int)json_integer_value(json_object_get(s, "exitCode"));
            st->signal = (int)json_integer_value(json_object_get(s, "signal"));
            st->reason = jstr(s, "reason");
            st->message = jstr(s, "message");
            st->started_at = k1s_rt_time_parse(json_string_value(json_object_get(s, "startedAt")));
            st->finished_at =
                k1s_rt_time_parse(json_string_value(json_object_get(s, "finishedAt")));
            json_decref(s);
            break;
        }
        st->state = k1s_streq(state, "running") ? K1S_RT_RUNNING : K1S_RT_CREATED;
        st->pid = (int)json_integer_value(json_object_get(s, "pid"));
        st->started_at = k1s_rt_time_parse(json_string_value(json_object_get(s, "startedAt")));
        json_decref(s);
        int fd = k1s_rt_sock_connect(dir, "shim.sock");
        if (fd >= 0) {
            close(fd);
            break;
        }
        if (attempt == 0)
            continue; /* it may have just written the exit: read again */
        /* The shim is gone and recorded nothing: what containerd reports for a lost task. */
        st->state = K1S_RT_EXITED;
        st->exit_code = 255;
        st->pid = 0;
        free(st->reason);
        st->reason = k1s_xstrdup("Unknown");
        st->message = k1s_xstrdup("the container's shim exited without recording its exit");
        st->finished_at = k1s_rt_time_now();
    }
    free(dir);
    return 0;
}

int k1s_rt_status(k1s_rt_t *rt, const char *id, k1s_rt_status_t *out, k1s_err_t *err)
{
    if (!valid_id(id))
        return k1s_err_set(err, ENOENT, "container %s not found", id ? id : "");
    return read_status(rt, id, out, err);
}

static int cmp_created(const void *a, const void *b)
{
    const k1s_rt_status_t *x = a, *y = b;
    return x->created_at < y->created_at ? -1 : x->created_at > y->created_at;
}

int k1s_rt_list(k1s_rt_t *rt, k1s_rt_status_t **out, size_t *n, k1s_err_t *err)
{
    DIR *d = opendir(rt->state_dir);
    if (!d)
        return k1s_err_set(err, errno, "read %s: %s", rt->state_dir, strerror(errno));
    k1s_rt_status_t *list = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!valid_id(e->d_name))
            continue;
        k1s_rt_status_t st;
        if (read_status(rt, e->d_name, &st, NULL) < 0)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            list = k1s_xrealloc(list, cap * sizeof(*list));
        }
        list[cnt++] = st;
    }
    closedir(d);
    if (cnt)
        qsort(list, cnt, sizeof(*list), cmp_created);
    *out = list;
    *n = cnt;
    return 0;
}

/* ---- talking to a shim ---- */

static int shim_connect(k1s_rt_t *rt, const char *id, k1s_err_t *err)
{
    if (!valid_id(id))
        return k1s_err_set(err, ENOENT, "container %s not found", id ? id : "");
    char *dir = ctr_dir(rt, id);
    int fd = k1s_rt_sock_connect(dir, "shim.sock");
    struct stat sb;
    bool exists = stat(dir, &sb) == 0;
    free(dir);
    if (fd < 0) {
        if (!exists)
            return k1s_err_set(err, ENOENT, "container %s not found", id);
        return k1s_err_set(err, ESRCH, "container %s is not running", id);
    }
    return fd;
}

/* Sends a request and reads one JSON reply line (5 s timeout). */
static int shim_call(k1s_rt_t *rt, const char *id, json_t *req, const int *fds, int n_fds,
                     json_t **reply, k1s_err_t *err)
{
    int fd = shim_connect(rt, id, err);
    if (fd < 0)
        return fd;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char *text = json_dumps(req, JSON_COMPACT);
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, text);
    k1s_buf_putc(&b, '\n');
    free(text);
    int r = k1s_rt_sock_send(fd, b.data, b.len, fds, n_fds);
    k1s_buf_reset(&b);
    while (r == 0) {
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -ECONNRESET;
            break;
        }
        k1s_buf_append(&b, buf, (size_t)n);
        if (memchr(b.data, '\n', b.len))
            break;
    }
    close(fd);
    if (r < 0) {
        k1s_buf_free(&b);
        return k1s_err_set(err, -r, "container %s: shim did not answer: %s", id, strerror(-r));
    }
    json_t *j = json_loads(b.data, JSON_DISABLE_EOF_CHECK, NULL);
    k1s_buf_free(&b);
    const char *e = json_string_value(json_object_get(j, "error"));
    if (!j || e) {
        r = k1s_err_set(err, EIO, "container %s: %s", id, e ? e : "bad answer from shim");
        json_decref(j);
        return r;
    }
    if (reply)
        *reply = j;
    else
        json_decref(j);
    return 0;
}

static int simple_call(k1s_rt_t *rt, const char *id, json_t *req, const int *fds, int n_fds,
                       k1s_err_t *err)
{
    int r = shim_call(rt, id, req, fds, n_fds, NULL, err);
    json_decref(req);
    return r;
}

int k1s_rt_kill(k1s_rt_t *rt, const char *id, int sig, bool all, k1s_err_t *err)
{
    return simple_call(rt, id, json_pack("{s:s,s:i,s:b}", "op", "kill", "signal", sig, "all", all),
                       NULL, 0, err);
}

int k1s_rt_close_stdin(k1s_rt_t *rt, const char *id, k1s_err_t *err)
{
    return simple_call(rt, id, json_pack("{s:s}", "op", "close-stdin"), NULL, 0, err);
}

int k1s_rt_resize(k1s_rt_t *rt, const char *id, int width, int height, k1s_err_t *err)
{
    return simple_call(rt, id,
                       json_pack("{s:s,s:i,s:i}", "op", "resize", "width", width, "height", height),
                       NULL, 0, err);
}

int k1s_rt_attach(k1s_rt_t *rt, const char *id, int stdin_fd, int stdout_fd, int stderr_fd,
                  k1s_err_t *err)
{
    int fds[3], n = 0;
    char which[4] = {0};
    if (stdin_fd >= 0) {
        which[n] = 'i';
        fds[n++] = stdin_fd;
    }
    if (stdout_fd >= 0) {
        which[n] = 'o';
        fds[n++] = stdout_fd;
    }
    if (stderr_fd >= 0) {
        which[n] = 'e';
        fds[n++] = stderr_fd;
    }
    return simple_call(rt, id, json_pack("{s:s,s:s}", "op", "attach", "fds", which), fds, n, err);
}

/* ---- watches: exits, stop timers, start reports, execs ---- */

static rt_watch_t *find_exit_watch(k1s_rt_t *rt, const char *id)
{
    for (rt_watch_t *w = rt->watches; w; w = w->next)
        if (w->kind == W_EXIT && k1s_streq(w->id, id))
            return w;
    return NULL;
}

static void report_exit(k1s_rt_t *rt, const char *id)
{
    k1s_rt_status_t st;
    if (read_status(rt, id, &st, NULL) < 0)
        return;
    k1s_debug("runtime: container %s exited (code %d, %s)", id, st.exit_code,
              st.reason ? st.reason : "?");
    if (rt->exit_cb)
        rt->exit_cb(rt->exit_arg, &st);
    k1s_rt_status_clear(&st);
}

static void exit_readable(evutil_socket_t fd, short what, void *arg)
{
    rt_watch_t *w = arg;
    char buf[2048];
    ssize_t n = read(w->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n > 0) {
        k1s_buf_append(&w->in, buf, (size_t)n);
        if (!memchr(w->in.data, '\n', w->in.len))
            return;
    }
    /* The exit status line, or EOF: the shim has gone; status.json says the rest. */
    k1s_rt_t *rt = w->rt;
    char *id = k1s_xstrdup(w->id);
    k1s_rt_done_cb cb = w->stop_cb;
    void *cb_arg = w->stop_arg;
    watch_free(w);
    report_exit(rt, id);
    if (cb)
        cb(cb_arg, id, 0, NULL);
    free(id);
}

/* Connects a watch that hears about the container's exit. */
static int watch_exit(k1s_rt_t *rt, const char *id)
{
    if (find_exit_watch(rt, id))
        return 0;
    k1s_err_t err;
    int fd = shim_connect(rt, id, &err);
    if (fd < 0)
        return fd;
    static const char req[] = "{\"op\":\"wait\"}\n";
    if (k1s_rt_sock_send(fd, req, sizeof(req) - 1, NULL, 0) < 0) {
        close(fd);
        return -ESRCH;
    }
    evutil_make_socket_nonblocking(fd);
    rt_watch_t *w = k1s_xcalloc(1, sizeof(*w));
    w->rt = rt;
    w->kind = W_EXIT;
    w->id = k1s_xstrdup(id);
    w->fd = fd;
    w->ev = event_new(rt->base, fd, EV_READ | EV_PERSIST, exit_readable, w);
    event_add(w->ev, NULL);
    w->next = rt->watches;
    rt->watches = w;
    return 0;
}

static void start_readable(evutil_socket_t fd, short what, void *arg)
{
    rt_watch_t *w = arg;
    char buf[2048];
    ssize_t n = read(w->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n > 0) {
        k1s_buf_append(&w->in, buf, (size_t)n);
        if (!memchr(w->in.data, '\n', w->in.len))
            return;
    }
    k1s_rt_t *rt = w->rt;
    k1s_err_t err = {0};
    int rc = 0;
    char *line = w->in.data ? w->in.data : "";
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = 0;
    bool exited_already = false;
    if (k1s_str_has_prefix(line, "ok ")) {
        /* A quick container may be gone already: its exit is then reported right away. */
        exited_already = watch_exit(rt, w->id) < 0;
    } else if (k1s_str_has_prefix(line, "error ")) {
        rc = k1s_err_set(&err, EIO, "start container %s: %s", w->id, line + 6);
    } else {
        /* The shim died before reporting: its own log says why. */
        char *dir = ctr_dir(rt, w->id);
        char *path = k1s_xasprintf("%s/shim.log", dir);
        char *text = NULL;
        size_t len;
        k1s_read_file(path, &text, &len);
        if (text)
            for (size_t i = len; i > 0 && text[i - 1] == '\n'; i--)
                text[i - 1] = 0;
        if (text && *text)
            rc = k1s_err_set(&err, EIO, "start container %s: the shim exited: %s", w->id, text);
        else
            rc = k1s_err_set(&err, EIO,
                             "start container %s: the shim exited without reporting "
                             "(see %s)",
                             w->id, path);
        free(text);
        free(path);
        free(dir);
    }
    k1s_rt_done_cb cb = w->cb;
    void *cb_arg = w->arg;
    char *id = k1s_xstrdup(w->id);
    watch_free(w);
    if (cb)
        cb(cb_arg, id, rc, rc < 0 ? &err : NULL);
    if (exited_already)
        report_exit(rt, id);
    free(id);
}

static json_t *str_list_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int remove_tree(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            remove_tree(dirfd(d), e->d_name);
    closedir(d);
    return unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

int k1s_rt_start(k1s_rt_t *rt, const k1s_rt_start_req_t *req, k1s_rt_done_cb cb, void *arg,
                 k1s_err_t *err)
{
    if (!valid_id(req->id))
        return k1s_err_set(err, EINVAL,
                           "container ID \"%s\" is not valid (letters, digits, '_', '.', '-')",
                           req->id ? req->id : "");
    if (!req->log_path || req->log_path[0] != '/')
        return k1s_err_set(err, EINVAL, "container %s: log path must be absolute", req->id);
    char *dir = ctr_dir(rt, req->id);
    if (mkdir(dir, 0700) < 0) {
        int e = errno;
        free(dir);
        if (e == EEXIST)
            return k1s_err_set(err, EEXIST, "container %s already exists", req->id);
        return k1s_err_set(err, e, "create %s/%s: %s", rt->state_dir, req->id, strerror(e));
    }
    k1s_rt_config_t c = *req->config;
    char *cg = NULL;
    if (!c.cgroups_path)
        c.cgroups_path = cg = k1s_xasprintf("/k1s/%s", req->id);
    char *bundle = k1s_xasprintf("%s/bundle", dir);
    int r = k1s_rt_spec_write(&c, bundle, err);
    char *logdir = k1s_xstrdup(req->log_path);
    char *slash = strrchr(logdir, '/');
    if (slash && slash != logdir) {
        *slash = 0;
        if (r == 0 && (r = k1s_mkdir_p(logdir, 0755)) < 0)
            k1s_err_set(err, -r, "create log directory %s: %s", logdir, strerror(-r));
    }
    free(logdir);
    if (r == 0) {
        char t[40];
        k1s_rt_time_format(k1s_rt_time_now(), t);
        json_t *shim =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "id", req->id, "runtime", rt->runtime,
                      "runtimeRoot", rt->runtime_root, "logPath", req->log_path, "createdAt", t,
                      "cgroupsPath", c.cgroups_path, "labels", str_list_json(req->labels));
        char *text = json_dumps(shim, JSON_COMPACT);
        json_decref(shim);
        char *path = k1s_xasprintf("%s/shim.json", dir);
        if ((r = k1s_write_file_atomic(path, text, strlen(text), 0600)) < 0)
            k1s_err_set(err, -r, "write %s: %s", path, strerror(-r));
        free(path);
        free(text);
    }
    free(cg);
    if (r < 0) {
        int dfd = open(rt->state_dir, O_DIRECTORY | O_CLOEXEC);
        remove_tree(dfd, req->id);
        close(dfd);
        free(bundle);
        free(dir);
        return k1s_err_prefix(err, "container %s", req->id);
    }

    /* Everything the child needs is built before fork: after it only async-signal-safe calls. */
    char size[32], files[32];
    snprintf(size, sizeof(size), "%lld", (long long)rt->log_max_size);
    snprintf(files, sizeof(files), "%d", rt->log_max_files);
    char *argv[24];
    int a = 0;
    argv[a++] = "k1s";
    argv[a++] = "shim";
    argv[a++] = "--id";
    argv[a++] = (char *)req->id;
    argv[a++] = "--bundle";
    argv[a++] = bundle;
    argv[a++] = "--state";
    argv[a++] = dir;
    argv[a++] = "--log";
    argv[a++] = (char *)req->log_path;
    argv[a++] = "--runtime";
    argv[a++] = rt->runtime;
    argv[a++] = "--runtime-root";
    argv[a++] = rt->runtime_root;
    argv[a++] = "--log-max-size";
    argv[a++] = size;
    argv[a++] = "--log-max-files";
    argv[a++] = files;
    argv[a++] = "--ready-fd";
    argv[a++] = "3";
    if (req->stdin_open)
        argv[a++] = "--stdin";
    if (rt->shim_debug)
        argv[a++] = "--debug";
    argv[a] = NULL;
    char *shim_log = k1s_xasprintf("%s/shim.log", dir);
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        int e = errno;
        free(shim_log);
        free(bundle);
        free(dir);
        return k1s_err_set(err, e, "container %s: pipe: %s", req->id, strerror(e));
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* Detach: a new session, then a grandchild that init (or a subreaper) adopts. */
        setsid();
        if (fork() != 0)
            _exit(0);
        int null = open("/dev/null", O_RDWR);
        int logfd = open(shim_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int rfd = fcntl(ready[1], F_DUPFD, 10);
        dup2(null, 0);
        dup2(null, 1);
        dup2(logfd >= 0 ? logfd : null, 2);
        dup2(rfd, 3);
        close_range(4, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (chdir("/") < 0)
            _exit(126);
        execv(rt->shim_path, argv);
        _exit(127);
    }
    int e = errno;
    close(ready[1]);
    free(shim_log);
    free(bundle);
    free(dir);
    if (pid < 0) {
        close(ready[0]);
        return k1s_err_set(err, e, "container %s: fork: %s", req->id, strerror(e));
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    evutil_make_socket_nonblocking(ready[0]);
    rt_watch_t *w = k1s_xcalloc(1, sizeof(*w));
    w->rt = rt;
    w->kind = W_START;
    w->id = k1s_xstrdup(req->id);
    w->fd = ready[0];
    w->cb = cb;
    w->arg = arg;
    w->ev = event_new(rt->base, w->fd, EV_READ | EV_PERSIST, start_readable, w);
    event_add(w->ev, NULL);
    w->next = rt->watches;
    rt->watches = w;
    return 0;
}

static void stop_timeout(evutil_socket_t fd, short what, void *arg)
{
    rt_watch_t *w = arg;
    k1s_err_t err;
    k1s_debug("runtime: container %s did not stop within its grace period: SIGKILL", w->id);
    if (k1s_rt_kill(w->rt, w->id, SIGKILL, true, &err) < 0)
        k1s_debug("runtime: %s", err.msg);
}

int k1s_rt_stop(k1s_rt_t *rt, const char *id, int grace_ms, k1s_rt_done_cb cb, void *arg,
                k1s_err_t *err)
{
    int r = watch_exit(rt, id);
    rt_watch_t *w = r == 0 ? find_exit_watch(rt, id) : NULL;
    if (!w) {
        k1s_rt_status_t st;
        if ((r = k1s_rt_status(rt, id, &st, err)) < 0)
            return r;
        k1s_rt_status_clear(&st);
        /* Not running: done at once (on the loop, like the other completions would be). */
        if (cb)
            cb(arg, id, 0, NULL);
        return 0;
    }
    w->stop_cb = cb;
    w->stop_arg = arg;
    k1s_err_t kerr;
    int sig = grace_ms > 0 ? SIGTERM : SIGKILL;
    if (k1s_rt_kill(rt, id, sig, sig == SIGKILL, &kerr) < 0)
        k1s_debug("runtime: stop %s: %s", id, kerr.msg);
    if (grace_ms > 0) {
        struct timeval tv = {grace_ms / 1000, (grace_ms % 1000) * 1000};
        if (!w->timer)
            w->timer = evtimer_new(rt->base, stop_timeout, w);
        evtimer_add(w->timer, &tv);
    }
    return 0;
}

int k1s_rt_remove(k1s_rt_t *rt, const char *id, k1s_err_t *err)
{
    k1s_rt_status_t st;
    int r = k1s_rt_status(rt, id, &st, err);
    if (r < 0)
        return r;
    if (st.state != K1S_RT_EXITED) {
        k1s_rt_status_clear(&st);
        return k1s_err_set(err, EBUSY, "container %s is running; stop it first", id);
    }
    bool lost = k1s_streq(st.reason, "Unknown");
    k1s_rt_status_clear(&st);
    rt_watch_t *w = find_exit_watch(rt, id);
    if (w)
        watch_free(w);
    char *dir = ctr_dir(rt, id);
    if (lost) {
        /* The shim died: the runtime may still hold the container (and its processes). */
        json_t *shim = load_json(dir, "shim.json");
        const char *runtime = json_string_value(json_object_get(shim, "runtime"));
        const char *root = json_string_value(json_object_get(shim, "runtimeRoot"));
        char *argv[] = {(char *)(runtime ? runtime : rt->runtime),
                        "--root",
                        (char *)(root ? root : rt->runtime_root),
                        "delete",
                        "--force",
                        (char *)id,
                        NULL};
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            execvp(argv[0], argv);
            _exit(127);
        }
        int status;
        if (pid > 0)
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        json_decref(shim);
    }
    free(dir);
    int dfd = open(rt->state_dir, O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return k1s_err_set(err, errno, "open %s: %s", rt->state_dir, strerror(errno));
    r = remove_tree(dfd, id);
    close(dfd);
    if (r < 0)
        return k1s_err_set(err, -r, "remove container %s: %s", id, strerror(-r));
    return 0;
}

int k1s_rt_adopt(k1s_rt_t *rt, k1s_err_t *err)
{
    k1s_rt_status_t *list;
    size_t n;
    int r = k1s_rt_list(rt, &list, &n, err);
    if (r < 0)
        return r;
    int running = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i].state == K1S_RT_EXITED) {
            if (rt->exit_cb)
                rt->exit_cb(rt->exit_arg, &list[i]);
            continue;
        }
        if (watch_exit(rt, list[i].id) == 0)
            running++;
        else
            report_exit(rt, list[i].id);
    }
    k1s_rt_status_list_free(list, n);
    return running;
}

/* ---- exec ---- */

static void exec_readable(evutil_socket_t fd, short what, void *arg)
{
    rt_watch_t *w = arg;
    for (;;) {
        char buf[1024];
        int fds[4], n_fds = 0;
        ssize_t n = k1s_rt_sock_recv(w->fd, buf, sizeof(buf), fds, 4, &n_fds);
        if (n == -EAGAIN || n == -EINTR)
            return;
        if (n_fds > 0) {
            if (w->console_cb)
                w->console_cb(w->arg, fds[0]);
            else
                close(fds[0]);
            for (int k = 1; k < n_fds; k++)
                close(fds[k]);
        }
        if (n <= 0)
            break;
        k1s_buf_append(&w->in, buf, (size_t)n);
        /* Lines: {"console":true} (handled with its fd), then {"exitCode":N} or an error. */
        char *line;
        while ((line = w->in.data) && memchr(line, '\n', w->in.len)) {
            char *nl = memchr(line, '\n', w->in.len);
            *nl = 0;
            json_t *j = json_loads(line, 0, NULL);
            size_t used = (size_t)(nl - line) + 1;
            memmove(w->in.data, nl + 1, w->in.len - used);
            w->in.len -= used;
            w->in.data[w->in.len] = 0;
            json_t *code = json_object_get(j, "exitCode");
            const char *e = json_string_value(json_object_get(j, "error"));
            if (code || e) {
                k1s_err_t err = {0};
                int rc = code ? (int)json_integer_value(code)
                              : k1s_err_set(&err, EIO, "exec in %s: %s", w->id, e);
                if (json_is_true(json_object_get(j, "timedOut")))
                    rc = k1s_err_set(&err, ETIMEDOUT, "exec in %s: command timed out", w->id);
                json_decref(j);
                k1s_rt_done_cb cb = w->cb;
                void *cb_arg = w->arg;
                char *id = k1s_xstrdup(w->id);
                watch_free(w);
                if (cb)
                    cb(cb_arg, id, rc, rc < 0 ? &err : NULL);
                free(id);
                return;
            }
            json_decref(j);
        }
    }
    k1s_err_t err = {0};
    k1s_err_set(&err, ECONNRESET, "exec in %s: the shim closed the connection", w->id);
    k1s_rt_done_cb cb = w->cb;
    void *cb_arg = w->arg;
    char *id = k1s_xstrdup(w->id);
    watch_free(w);
    if (cb)
        cb(cb_arg, id, -ECONNRESET, &err);
    free(id);
}

int k1s_rt_exec(k1s_rt_t *rt, const char *id, const k1s_rt_exec_req_t *req, k1s_rt_done_cb done_cb,
                k1s_rt_console_cb console_cb, void *arg, k1s_err_t *err)
{
    if (!req->args || !req->args[0])
        return k1s_err_set(err, EINVAL, "exec in %s: no command", id);
    int fd = shim_connect(rt, id, err);
    if (fd < 0)
        return fd;
    json_t *j =
        json_pack("{s:s,s:o,s:b}", "op", "exec", "args", str_list_json(req->args), "tty", req->tty);
    if (req->env)
        json_object_set_new(j, "env", str_list_json(req->env));
    if (req->cwd)
        json_object_set_new(j, "cwd", json_string(req->cwd));
    if (req->timeout_ms > 0)
        json_object_set_new(j, "timeoutMs", json_integer(req->timeout_ms));
    int fds[3], n = 0;
    char which[4] = {0};
    if (req->stdin_fd >= 0) {
        which[n] = 'i';
        fds[n++] = req->stdin_fd;
    }
    if (req->stdout_fd >= 0) {
        which[n] = 'o';
        fds[n++] = req->stdout_fd;
    }
    if (req->stderr_fd >= 0) {
        which[n] = 'e';
        fds[n++] = req->stderr_fd;
    }
    json_object_set_new(j, "fds", json_string(which));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, text);
    k1s_buf_putc(&b, '\n');
    free(text);
    int r = k1s_rt_sock_send(fd, b.data, b.len, fds, n);
    k1s_buf_free(&b);
    if (r < 0) {
        close(fd);
        return k1s_err_set(err, -r, "exec in %s: %s", id, strerror(-r));
    }
    evutil_make_socket_nonblocking(fd);
    rt_watch_t *w = k1s_xcalloc(1, sizeof(*w));
    w->rt = rt;
    w->kind = W_EXEC;
    w->id = k1s_xstrdup(id);
    w->fd = fd;
    w->cb = done_cb;
    w->console_cb = console_cb;
    w->arg = arg;
    w->ev = event_new(rt->base, fd, EV_READ | EV_PERSIST, exec_readable, w);
    event_add(w->ev, NULL);
    w->next = rt->watches;
    rt->watches = w;
    return 0;
}

/* ---- stats ---- */

/* Reads a number from a cgroup file, or the value of "key value" in a flat-keyed one. */
static bool cg_read(const char *dir, const char *file, const char *key, uint64_t *out)
{
    char *path = k1s_xasprintf("%s/%s", dir, file);
    char *text = NULL;
    size_t len;
    bool ok = k1s_read_file(path, &text, &len) == 0;
    free(path);
    if (ok && key) {
        size_t kl = strlen(key);
        const char *p = text;
        ok = false;
        while (p && *p) {
            if (!strncmp(p, key, kl) && p[kl] == ' ') {
                *out = strtoull(p + kl + 1, NULL, 10);
                ok = true;
                break;
            }
            p = strchr(p, '\n');
            if (p)
                p++;
        }
    } else if (ok)
        *out = strtoull(text, NULL, 10);
    free(text);
    return ok;
}

int k1s_rt_stats(k1s_rt_t *rt, const char *id, k1s_rt_stats_t *out, k1s_err_t *err)
{
    if (!valid_id(id))
        return k1s_err_set(err, ENOENT, "container %s not found", id ? id : "");
    char *dir = ctr_dir(rt, id);
    json_t *shim = load_json(dir, "shim.json");
    free(dir);
    const char *cg = json_string_value(json_object_get(shim, "cgroupsPath"));
    if (!cg) {
        json_decref(shim);
        return k1s_err_set(err, ENOENT, "container %s not found", id);
    }
    k1s_rt_stats_t st = {.timestamp = k1s_rt_time_now()};
    char *v2 = k1s_xasprintf("/sys/fs/cgroup%s", cg);
    char *mem = k1s_xasprintf("/sys/fs/cgroup/memory%s", cg);
    char *cpu = k1s_xasprintf("/sys/fs/cgroup/cpuacct%s", cg);
    char *pids = k1s_xasprintf("/sys/fs/cgroup/pids%s", cg);
    char *cgcopy = k1s_xstrdup(cg);
    json_decref(shim);
    int r = 0;
    uint64_t inactive = 0, usec = 0;
    if (cg_read(v2, "memory.current", NULL, &st.memory_usage_bytes)) {
        cg_read(v2, "memory.stat", "inactive_file", &inactive);
        cg_read(v2, "memory.stat", "anon", &st.memory_rss_bytes);
        if (cg_read(v2, "cpu.stat", "usage_usec", &usec))
            st.cpu_usage_ns = usec * 1000;
        cg_read(v2, "pids.current", NULL, &st.pids);
    } else if (cg_read(mem, "memory.usage_in_bytes", NULL, &st.memory_usage_bytes)) {
        cg_read(mem, "memory.stat", "total_inactive_file", &inactive);
        cg_read(mem, "memory.stat", "total_rss", &st.memory_rss_bytes);
        cg_read(cpu, "cpuacct.usage", NULL, &st.cpu_usage_ns);
        cg_read(pids, "pids.current", NULL, &st.pids);
    } else
        r = k1s_err_set(err, ENOENT, "container %s: no cgroup %s (not running?)", id, cgcopy);
    st.memory_working_set_bytes =
        st.memory_usage_bytes > inactive ? st.memory_usage_bytes - inactive : 0;
    free(cgcopy);
    free(v2);
    free(mem);
    free(cpu);
    free(pids);
    if (r == 0)
        *out = st;
    return r;
}
