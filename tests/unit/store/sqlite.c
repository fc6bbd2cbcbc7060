/*
 * Unit tests for src/store/backends/sqlite.c: exactly which log rows
 * compaction keeps, what load hands back, atomic commits, and fault
 * injection: a SQLite VFS shim that fails the n-th write or fsync, so a
 * commit fails halfway (SQLite's do_faultsim_test in miniature). After each
 * fault the store must have changed all or nothing, keep working, and
 * reopen to exactly the acknowledged state.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "store/backend.h"
#include "store/store.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------------- */

static k1s_store_backend_t *bopen(const char *path)
{
    k1s_store_backend_t *b;
    k1s_err_t err;
    if (k1s_store_backend_sqlite.open(path, &b, &err) < 0)
        fail_msg("open: %s", err.msg);
    return b;
}

static k1s_store_row_t row(int64_t rev, const char *key, int64_t create, int64_t prev,
                           const char *val)
{
    return (k1s_store_row_t){.rev = rev,
                             .key = key,
                             .create_rev = create,
                             .prev_rev = prev,
                             .deleted = val == NULL,
                             .value = val,
                             .value_len = val ? strlen(val) : 0};
}

/* "1,3,5" from a query on a second connection. */
static char *query_list(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "");
    while (sqlite3_step(st) == SQLITE_ROW) {
        k1s_buf_printf(&b, "%s%s", b.len ? "," : "", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return k1s_buf_steal(&b);
}

static void assert_query(const char *path, const char *sql, const char *want)
{
    char *got = query_list(path, sql);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got [%s], want [%s]", sql, got, want);
    free(got);
}

typedef struct loaded {
    int n;
    k1s_store_row_t rows[32];
    char keys[32][16], vals[32][16], prevs[32][16];
} loaded_t;

static int load_fn(const k1s_store_row_t *r, void *arg)
{
    loaded_t *l = arg;
    assert_true(l->n < 32);
    int i = l->n++;
    l->rows[i] = *r;
    snprintf(l->keys[i], 16, "%s", r->key);
    snprintf(l->vals[i], 16, "%.*s", (int)r->value_len, r->value ? (const char *)r->value : "");
    snprintf(l->prevs[i], 16, "%.*s", (int)r->prev_value_len,
             r->prev_value ? (const char *)r->prev_value : "");
    return 0;
}

/* ---- backend -------------------------------------------------------------------- */

static void test_compaction_rows(void **state)
{
    char *dir = tu_tmpdir();
    char *path = k1s_xasprintf("%s/state.db", dir);
    k1s_store_backend_t *b = bopen(path);
    k1s_err_t err;
    int64_t rev = -1, crev = -1;
    assert_int_equal(b->ops->state(b, &rev, &crev, &err), 0);
    assert_int_equal(rev, 0);
    assert_int_equal(crev, 0);

    k1s_store_row_t rows[] = {
        row(1, "a", 1, 0, "a1"), row(2, "b", 2, 0, "b2"), row(3, "a", 1, 1, "a3"),
        row(4, "b", 2, 2, NULL), row(5, "c", 5, 0, "c5"), row(6, "a", 1, 3, "a6"),
        row(7, "b", 7, 0, "b7"), row(8, "c", 5, 5, NULL),
    };
    assert_int_equal(b->ops->commit(b, rows, 4, &err), 0);
    assert_int_equal(b->ops->commit(b, rows + 4, 4, &err), 0);
    assert_query(path, "SELECT key || '=' || rev FROM current ORDER BY key", "a=6,b=7");

    /* compact(5): 1 and 2 have successors <= 5, 4 is a delete <= 5. */
    assert_int_equal(b->ops->compact(b, 5, &err), 0);
    assert_query(path, "SELECT rev FROM log ORDER BY rev", "3,5,6,7,8");
    assert_query(path, "SELECT v FROM meta WHERE k = 'compact_rev'", "5");
    assert_int_equal(b->ops->compact(b, 4, &err), 0); /* backwards: no-op */

    loaded_t l = {0};
    assert_int_equal(b->ops->load_log(b, 5, load_fn, &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.rows[0].rev, 6);
    assert_true(l.rows[0].has_prev_value);
    assert_string_equal(l.prevs[0], "a3");
    assert_string_equal(l.vals[0], "a6");
    assert_int_equal(l.rows[1].rev, 7);
    assert_false(l.rows[1].has_prev_value);
    assert_int_equal(l.rows[2].rev, 8);
    assert_true(l.rows[2].deleted);
    assert_string_equal(l.prevs[2], "c5");

    /* Inside the window prevs are not repeated (the caller has them). */
    memset(&l, 0, sizeof(l));
    assert_int_equal(b->ops->load_log(b, 2, load_fn, &l, &err), 0);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.rows[0].rev, 3);
    assert_false(l.rows[0].has_prev_value); /* its prev 1 is gone */
    assert_int_equal(l.rows[2].rev, 6);
    assert_false(l.rows[2].has_prev_value); /* prev 3 is in the window */

    /* compact(8): everything but the live rows goes; the revision stays 8. */
    assert_int_equal(b->ops->compact(b, 8, &err), 0);
    assert_query(path, "SELECT rev FROM log ORDER BY rev", "6,7");
    assert_int_equal(b->ops->state(b, &rev, &crev, &err), 0);
    assert_int_equal(rev, 8);
    assert_int_equal(crev, 8);

    memset(&l, 0, sizeof(l));
    assert_int_equal(b->ops->load_live(b, load_fn, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.keys[0], "a");
    assert_string_equal(l.vals[0], "a6");
    assert_int_equal(l.rows[0].create_rev, 1);
    assert_int_equal(l.rows[0].rev, 6);
    assert_string_equal(l.keys[1], "b");
    assert_int_equal(l.rows[1].create_rev, 7);

    /* A failing commit writes nothing (revision 7 exists), and the backend goes on. */
    k1s_store_row_t bad[] = {row(9, "d", 9, 0, "d9"), row(7, "e", 7, 0, "e7")};
    assert_int_equal(b->ops->commit(b, bad, 2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "UNIQUE"));
    assert_query(path, "SELECT rev FROM log ORDER BY rev", "6,7");
    assert_int_equal(b->ops->commit(b, bad, 1, &err), 0);
    assert_query(path, "SELECT rev FROM log ORDER BY rev", "6,7,9");

    assert_int_equal(b->ops->maintain(b, &err), 0);
    assert_true(b->ops->size(b) > 0);
    assert_false(b->ops->want_maintenance(b));
    assert_query(path, "PRAGMA auto_vacuum", "2");
    assert_query(path, "PRAGMA journal_mode", "wal");
    b->ops->close(b);
    k1s_store_backend_sqlite.close(NULL);
    tu_rmrf(dir);
    free(dir);
    free(path);
}

/* A reader in another connection holds the WAL: maintenance must not wait for it. */
static void test_checkpoint_with_reader(void **state)
{
    char *dir = tu_tmpdir();
    char *path = k1s_xasprintf("%s/state.db", dir);
    k1s_store_backend_t *b = bopen(path);
    k1s_err_t err;
    k1s_store_row_t r1 = row(1, "a", 1, 0, "a1");
    assert_int_equal(b->ops->commit(b, &r1, 1, &err), 0);

    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM log", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);

    k1s_store_row_t r2 = row(2, "a", 1, 1, "a2");
    assert_int_equal(b->ops->commit(b, &r2, 1, &err), 0);
    uint64_t t0 = k1s_now_ns();
    assert_int_equal(b->ops->maintain(b, &err), 0);
    assert_true(k1s_now_ns() - t0 < 4000000000ull); /* not the 5 s busy timeout */

    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(b->ops->maintain(b, &err), 0);
    char *wal = k1s_xasprintf("%s-wal", path);
    assert_int_equal(tu_file_size(wal), 0);
    b->ops->close(b);
    tu_rmrf(dir);
    free(wal);
    free(dir);
    free(path);
}

/* A database made without auto_vacuum keeps its free pages: maintenance must not spin. */
static void test_no_auto_vacuum(void **state)
{
    char *dir = tu_tmpdir();
    char *path = k1s_xasprintf("%s/state.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE junk(x);"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                  "WHERE i < 2000) INSERT INTO junk SELECT randomblob(1000) FROM n;"
                                  "DROP TABLE junk;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    k1s_store_backend_t *b = bopen(path);
    k1s_err_t err;
    assert_int_equal(b->ops->maintain(b, &err), 0);
    assert_false(b->ops->want_maintenance(b));
    assert_query(path, "PRAGMA auto_vacuum", "0");
    b->ops->close(b);
    tu_rmrf(dir);
    free(dir);
    free(path);
}

/* ---- fault injection ------------------------------------------------------------ */

typedef struct ffile {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct */
} ffile_t;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static sqlite3_io_methods fault_io;
enum { FAULT_WRITE = 1, FAULT_SYNC = 2 };
static int fault_kinds;     /* which calls count */
static int fault_countdown; /* fail the call that brings this to 0; < 0: off */
static int fault_rc;        /* SQLITE_IOERR_WRITE, SQLITE_FULL, ... */
static int faults_fired;

static int fault_hit(int kind)
{
    if (!(fault_kinds & kind) || fault_countdown < 0)
        return 0;
    if (fault_countdown-- > 0)
        return 0;
    faults_fired++;
    errno = fault_rc == SQLITE_FULL ? ENOSPC : EIO;
    return 1;
}

#define REAL(f) (((ffile_t *)(f))->real)

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    if (fault_hit(FAULT_WRITE)) {
        /* Half the write lands, as when a disk fills up in the middle of it. */
        REAL(f)->pMethods->xWrite(REAL(f), p, n / 2, off);
        return fault_rc;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
    if (fault_hit(FAULT_SYNC))
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int f_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int f_check(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    ffile_t *ff = (ffile_t *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
    ff->base.pMethods = ff->real->pMethods ? &fault_io : NULL;
    return rc;
}
static int v_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
    return real_vfs->xDelete(real_vfs, name, sync);
}
static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int v_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
    return real_vfs->xRandomness(real_vfs, n, out);
}
static int v_sleep(sqlite3_vfs *vfs, int us)
{
    return real_vfs->xSleep(real_vfs, us);
}
static int v_time(sqlite3_vfs *vfs, double *t)
{
    return real_vfs->xCurrentTime(real_vfs, t);
}
static int v_lasterr(sqlite3_vfs *vfs, int n, char *buf)
{
    return real_vfs->xGetLastError(real_vfs, n, buf);
}
static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
    return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

/* Makes the fault VFS the default, so the store's backend opens through it. */
static void fault_vfs_install(void)
{
    if (real_vfs)
        return;
    real_vfs = sqlite3_vfs_find(NULL);
    k1s_assert(real_vfs && real_vfs->iVersion >= 2);
    fault_io = (sqlite3_io_methods){
        .iVersion = 2,
        .xClose = f_close,
        .xRead = f_read,
        .xWrite = f_write,
        .xTruncate = f_truncate,
        .xSync = f_sync,
        .xFileSize = f_size,
        .xLock = f_lock,
        .xUnlock = f_unlock,
        .xCheckReservedLock = f_check,
        .xFileControl = f_fcntl,
        .xSectorSize = f_sector,
        .xDeviceCharacteristics = f_devchar,
        .xShmMap = f_shm_map,
        .xShmLock = f_shm_lock,
        .xShmBarrier = f_shm_barrier,
        .xShmUnmap = f_shm_unmap,
    };
    fault_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(ffile_t) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = "k1s-fault",
        .xOpen = v_open,
        .xDelete = v_delete,
        .xAccess = v_access,
        .xFullPathname = v_fullpath,
        .xDlOpen = real_vfs->xDlOpen,
        .xDlError = real_vfs->xDlError,
        .xDlSym = real_vfs->xDlSym,
        .xDlClose = real_vfs->xDlClose,
        .xRandomness = v_random,
        .xSleep = v_sleep,
        .xCurrentTime = v_time,
        .xGetLastError = v_lasterr,
        .xCurrentTimeInt64 = v_time64,
    };
    assert_int_equal(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
    fault_countdown = -1;
}

static void fault_vfs_remove(void)
{
    if (!real_vfs)
        return;
    sqlite3_vfs_unregister(&fault_vfs);
    sqlite3_vfs_register(real_vfs, 1);
    real_vfs = NULL;
}

/* The test's model of the store: what was acknowledged. */
#define NK 8
typedef struct model {
    char vals[NK][32]; /* "" = absent */
    int acked, failed, pending;
    int first_err;
    bool mixed; /* a batch both failed and succeeded: must never happen */
} model_t;

typedef struct wr {
    model_t *m;
    int key;
    char val[32]; /* "" for a delete */
    int err;
} wr_t;

static wr_t wrs[64];
static int nwrs;

static void fault_done(int err, k1s_kv_t *kv, void *arg)
{
    wr_t *w = arg;
    w->err = err;
    w->m->pending--;
}

static void check_model(k1s_store_t *s, const model_t *m)
{
    for (int k = 0; k < NK; k++) {
        char key[16];
        snprintf(key, sizeof(key), "/k%d", k);
        k1s_kv_t *kv = k1s_store_get(s, key);
        if (!m->vals[k][0])
            assert_null(kv);
        else {
            assert_non_null(kv);
            assert_string_equal(kv->value->data, m->vals[k]);
        }
    }
}

/* Runs one batch of writes with a fault armed at the n-th write/sync; updates the model. */
static void fault_batch(struct event_base *base, k1s_store_t *s, model_t *m, int kinds, int n,
                        int rc, int seq)
{
    nwrs = 0;
    int64_t rev0 = k1s_store_rev(s);
    for (int i = 0; i < 6; i++) {
        wr_t *w = &wrs[nwrs++];
        w->m = m;
        w->key = (seq * 7 + i * 3) % NK;
        w->err = 1;
        char key[16];
        snprintf(key, sizeof(key), "/k%d", w->key);
        k1s_kv_t *latest = k1s_store_get_latest(s, key);
        if (latest && i % 3 == 2) {
            w->val[0] = 0;
            assert_true(k1s_store_delete(s, key, fault_done, w) > 0);
        } else {
            /* big enough values to spill over several pages */
            snprintf(w->val, sizeof(w->val), "v%d.%d", seq, i);
            size_t len = 3000 + (size_t)(i * 1500);
            char *v = k1s_xmalloc(len + 1);
            memset(v, '.', len);
            memcpy(v, w->val, strlen(w->val) + 1);
            k1s_store_put(s, key, k1s_bytes_new(v, len), NULL, fault_done, w);
            free(v);
        }
        m->pending++;
    }
    fault_kinds = kinds;
    fault_countdown = n;
    fault_rc = rc;
    tu_run(base);
    fault_countdown = -1;
    assert_int_equal(m->pending, 0);
    int ok = 0, bad = 0;
    for (int i = 0; i < nwrs; i++) {
        if (wrs[i].err == 0)
            ok++;
        else
            bad++;
    }
    if (ok && bad)
        fail_msg("batch %d partly failed (%d ok, %d failed)", seq, ok, bad);
    if (bad) {
        assert_true(wrs[0].err == -EIO || wrs[0].err == -ENOSPC);
        if (rc == SQLITE_FULL)
            assert_int_equal(wrs[0].err, -ENOSPC);
        assert_int_equal(k1s_store_rev(s), rev0);
        m->failed++;
    } else {
        assert_int_equal(k1s_store_rev(s), rev0 + nwrs);
        for (int i = 0; i < nwrs; i++)
            snprintf(m->vals[wrs[i].key], sizeof(m->vals[0]), "%s", wrs[i].val);
        m->acked++;
    }
    check_model(s, m);
}

static void test_fault_injection(void **state)
{
    fault_vfs_install();
    k1s_log_level_t lvl = k1s_log_level;
    k1s_log_level = K1S_LOG_ERROR; /* commit failures are expected */
    static const struct {
        int kinds, rc;
    } cases[] = {
        {FAULT_WRITE, SQLITE_IOERR_WRITE},
        {FAULT_WRITE, SQLITE_FULL},
        {FAULT_SYNC, 0},
    };
    for (size_t c = 0; c < K1S_ARRAY_SIZE(cases); c++) {
        char *dir = tu_tmpdir();
        char *path = k1s_xasprintf("%s/state.db", dir);
        struct event_base *base = event_base_new();
        k1s_store_opts_t opts = {.path = path, .history = 50, .history_age_ms = -1};
        k1s_store_t *s;
        k1s_err_t err;
        assert_int_equal(k1s_store_open(base, &opts, &s, &err), 0);
        model_t m = {0};
        int seq = 0;
        /* A fault at each successive write (or sync) of a commit, then a clean commit. */
        for (int n = 0; n < 40; n++) {
            fault_batch(base, s, &m, cases[c].kinds, n, cases[c].rc, seq++);
            fault_batch(base, s, &m, 0, -1, 0, seq++);
            if (n % 10 == 9) {
                /* maintenance with a fault in it must not hurt either */
                fault_kinds = cases[c].kinds;
                fault_countdown = n / 10;
                fault_rc = cases[c].rc ? cases[c].rc : SQLITE_IOERR_WRITE;
                k1s_store_maintain(s, &err);
                fault_countdown = -1;
                fault_batch(base, s, &m, 0, -1, 0, seq++);
            }
        }
        assert_true(m.failed > 0);
        assert_true(m.acked > 0);
        print_message("fault case %zu: %d batches failed, %d committed\n", c, m.failed, m.acked);
        k1s_store_free(s);
        assert_int_equal(k1s_store_open(base, &opts, &s, &err), 0);
        check_model(s, &m);
        fault_batch(base, s, &m, 0, -1, 0, seq++);
        k1s_store_free(s);
        assert_query(path, "PRAGMA integrity_check", "ok");
        event_base_free(base);
        tu_rmrf(dir);
        free(dir);
        free(path);
    }
    assert_true(faults_fired > 0);
    k1s_log_level = lvl;
    fault_vfs_remove();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compaction_rows),
        cmocka_unit_test(test_checkpoint_with_reader),
        cmocka_unit_test(test_no_auto_vacuum),
        cmocka_unit_test(test_fault_injection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
