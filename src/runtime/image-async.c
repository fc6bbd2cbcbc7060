/*
 * Asynchronous pulls for the agent's event loop: each distinct reference is pulled by one
 * worker thread running the blocking k1s_image_pull(); requests for a reference already being
 * pulled join it. Workers hand progress and completion to the loop through an eventfd that a
 * persistent libevent read event watches (no timers, nothing runs while idle), so the callers'
 * callbacks always run on the loop thread and libevent needs no thread support.
 */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "runtime/image-int.h"

typedef struct job job_t;

struct k1s_image_pull_req {
    job_t *job;
    k1s_image_pull_done_fn done;
    k1s_image_progress_fn progress;
    void *arg, *progress_arg;
    bool cancelled;
    k1s_image_pull_req_t *next;
};

struct job {
    k1s_image_async_t *a;
    char *ref; /* NULL: an import of the air-gap dir */
    void (*dir_done)(int failed, const k1s_err_t *err, void *arg);
    void *dir_arg;
    k1s_image_cred_t *creds;
    size_t n_creds;
    pthread_t thread;
    k1s_image_pull_req_t *reqs; /* loop thread only */
    /* written by the worker under a->mu */
    k1s_image_progress_t prog;
    char *prog_status, *prog_digest;
    uint64_t signalled; /* prog.done when last signalled */
    bool prog_pending, finished;
    int rc;
    k1s_err_t err;
    k1s_image_t *img;
    job_t *next;
};

struct k1s_image_async {
    k1s_image_store_t *st;
    struct event_base *base;
    struct event *ev;
    int efd;
    pthread_mutex_t mu;
    job_t *jobs;
};

static void kick(k1s_image_async_t *a)
{
    uint64_t one = 1;
    while (write(a->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

static void on_progress(const k1s_image_progress_t *p, void *arg)
{
    job_t *j = arg;
    k1s_image_async_t *a = j->a;
    pthread_mutex_lock(&a->mu);
    /* a new step, or 64 KiB more: layers download in parallel, so a change of layer alone
     * would wake the loop for every chunk */
    bool change = !k1s_streq(j->prog_status, p->status);
    j->prog = *p;
    if (change || !k1s_streq(j->prog_digest, p->digest)) {
        free(j->prog_status);
        free(j->prog_digest);
        j->prog_status = p->status ? k1s_xstrdup(p->status) : NULL;
        j->prog_digest = p->digest ? k1s_xstrdup(p->digest) : NULL;
    }
    j->prog.status = j->prog_status;
    j->prog.digest = j->prog_digest;
    j->prog.ref = j->ref;
    bool signal = (change || p->done - j->signalled >= 64 * 1024) && !j->prog_pending;
    if (signal) {
        j->prog_pending = true;
        j->signalled = p->done;
    }
    pthread_mutex_unlock(&a->mu);
    if (signal)
        kick(a);
}

static void *worker(void *arg)
{
    job_t *j = arg;
    if (!j->ref) {
        k1s_err_t err = {0};
        int failed = k1s_image_import_dir(j->a->st, &err);
        pthread_mutex_lock(&j->a->mu);
        j->rc = failed;
        j->err = err;
        j->finished = true;
        pthread_mutex_unlock(&j->a->mu);
        kick(j->a);
        return NULL;
    }
    k1s_image_pull_opts_t opts = {j->creds, j->n_creds, on_progress, j};
    k1s_err_t err = {0};
    k1s_image_t *img = NULL;
    int rc = k1s_image_pull(j->a->st, j->ref, &opts, &img, &err);
    pthread_mutex_lock(&j->a->mu);
    j->rc = rc;
    j->err = err;
    j->img = img;
    j->finished = true;
    pthread_mutex_unlock(&j->a->mu);
    kick(j->a);
    return NULL;
}

static void job_free(job_t *j)
{
    for (size_t i = 0; i < j->n_creds; i++) {
        free((char *)j->creds[i].registry);
        free((char *)j->creds[i].username);
        free((char *)j->creds[i].password);
    }
    free(j->creds);
    while (j->reqs) {
        k1s_image_pull_req_t *r = j->reqs;
        j->reqs = r->next;
        free(r);
    }
    k1s_image_free(j->img);
    free(j->prog_status);
    free(j->prog_digest);
    free(j->ref);
    free(j);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    k1s_image_async_t *a = arg;
    uint64_t v;
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&a->mu);
    job_t **pp = &a->jobs;
    while (*pp) {
        job_t *j = *pp;
        if (j->prog_pending) {
            j->prog_pending = false;
            k1s_image_progress_t p = j->prog;
            char *status = p.status ? k1s_xstrdup(p.status) : NULL;
            char *digest = p.digest ? k1s_xstrdup(p.digest) : NULL;
            p.status = status;
            p.digest = digest;
            pthread_mutex_unlock(&a->mu);
            for (k1s_image_pull_req_t *r = j->reqs; r; r = r->next)
                if (!r->cancelled && r->progress)
                    r->progress(&p, r->progress_arg);
            free(status);
            free(digest);
            pthread_mutex_lock(&a->mu);
        }
        if (!j->finished) {
            pp = &j->next;
            continue;
        }
        *pp = j->next; /* no new request joins a finished job */
        pthread_mutex_unlock(&a->mu);
        pthread_join(j->thread, NULL);
        if (j->dir_done)
            j->dir_done(j->rc, j->rc ? &j->err : NULL, j->dir_arg);
        for (k1s_image_pull_req_t *r = j->reqs; r; r = r->next)
            if (!r->cancelled && r->done)
                r->done(j->rc, j->rc == 0 ? j->img : NULL, j->rc < 0 ? &j->err : NULL, r->arg);
        job_free(j);
        pthread_mutex_lock(&a->mu);
        pp = &a->jobs; /* callbacks may have started pulls */
    }
    pthread_mutex_unlock(&a->mu);
}

void k1s_image_async_free(k1s_image_async_t *a)
{
    if (!a)
        return;
    /* workers still running finish their pull first */
    pthread_mutex_lock(&a->mu);
    job_t *jobs = a->jobs;
    a->jobs = NULL;
    pthread_mutex_unlock(&a->mu);
    while (jobs) {
        job_t *j = jobs;
        jobs = j->next;
        pthread_join(j->thread, NULL);
        job_free(j);
    }
    if (a->ev)
        event_free(a->ev);
    close(a->efd);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* Attaches the store to base on first use: the eventfd and its persistent read event. */
static int attach(k1s_image_store_t *st, struct event_base *base)
{
    if (!st->async) {
        k1s_image_async_t *a = k1s_xcalloc(1, sizeof(*a));
        a->st = st;
        a->base = base;
        a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (a->efd < 0) {
            int e = -errno;
            free(a);
            return e;
        }
        pthread_mutex_init(&a->mu, NULL);
        a->ev = event_new(base, a->efd, EV_READ | EV_PERSIST, on_event, a);
        event_add(a->ev, NULL);
        st->async = a;
    }
    k1s_assert(st->async->base == base);
    return 0;
}

int k1s_image_import_dir_async(k1s_image_store_t *st, struct event_base *base,
                               void (*done)(int failed, const k1s_err_t *err, void *arg), void *arg)
{
    int rc = attach(st, base);
    if (rc < 0)
        return rc;
    k1s_image_async_t *a = st->async;
    job_t *j = k1s_xcalloc(1, sizeof(*j));
    j->a = a;
    j->dir_done = done;
    j->dir_arg = arg;
    pthread_mutex_lock(&a->mu);
    rc = pthread_create(&j->thread, NULL, worker, j);
    if (rc != 0) {
        pthread_mutex_unlock(&a->mu);
        job_free(j);
        return -rc;
    }
    j->next = a->jobs;
    a->jobs = j;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

int k1s_image_pull_async(k1s_image_store_t *st, struct event_base *base, const char *ref,
                         const k1s_image_pull_opts_t *opts, k1s_image_pull_done_fn done, void *arg,
                         k1s_image_pull_req_t **out)
{
    int arc = attach(st, base);
    if (arc < 0)
        return arc;
    k1s_image_async_t *a = st->async;
    /* the normalised reference is the key that pulls share */
    k1s_image_ref_t r;
    char *key = NULL;
    if (k1s_image_ref_parse(ref, &r, NULL) == 0) {
        key = k1s_image_ref_string(&r);
        k1s_image_ref_clear(&r);
    } else {
        key = k1s_xstrdup(ref); /* the worker reports the parse error */
    }
    k1s_image_pull_req_t *req = k1s_xcalloc(1, sizeof(*req));
    req->done = done;
    req->arg = arg;
    req->progress = opts ? opts->progress : NULL;
    req->progress_arg = opts ? opts->progress_arg : NULL;
    pthread_mutex_lock(&a->mu);
    job_t *j = a->jobs;
    while (j && (j->finished || !j->ref || strcmp(j->ref, key) != 0))
        j = j->next;
    if (j) {
        req->job = j;
        req->next = j->reqs;
        j->reqs = req;
        pthread_mutex_unlock(&a->mu);
        free(key);
        if (out)
            *out = req;
        return 0;
    }
    j = k1s_xcalloc(1, sizeof(*j));
    j->a = a;
    j->ref = key;
    if (opts && opts->n_creds) {
        j->creds = k1s_xcalloc(opts->n_creds, sizeof(*j->creds));
        for (size_t i = 0; i < opts->n_creds; i++) {
            const k1s_image_cred_t *c = &opts->creds[i];
            j->creds[i].registry = c->registry ? k1s_xstrdup(c->registry) : NULL;
            j->creds[i].username = c->username ? k1s_xstrdup(c->username) : NULL;
            j->creds[i].password = c->password ? k1s_xstrdup(c->password) : NULL;
        }
        j->n_creds = opts->n_creds;
    }
    req->job = j;
    j->reqs = req;
    int rc = pthread_create(&j->thread, NULL, worker, j);
    if (rc != 0) {
        pthread_mutex_unlock(&a->mu);
        job_free(j);
        return -rc;
    }
    j->next = a->jobs;
    a->jobs = j;
    pthread_mutex_unlock(&a->mu);
    if (out)
        *out = req;
    return 0;
}

void k1s_image_pull_cancel(k1s_image_pull_req_t *req)
{
    if (req)
        req->cancelled = true;
}

void k1s_image_pull_progress(const k1s_image_pull_req_t *req, uint64_t *done, uint64_t *total)
{
    k1s_image_async_t *a = req->job->a;
    pthread_mutex_lock(&a->mu);
    *done = req->job->prog.done;
    *total = req->job->prog.total;
    pthread_mutex_unlock(&a->mu);
}
