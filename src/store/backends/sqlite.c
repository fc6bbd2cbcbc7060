/*
 * The SQLite store backend (see backend.h for the model).
 *
 * One database file in WAL mode with synchronous=FULL, so a commit returns
 * only once its WAL frames are on disk. auto_vacuum=INCREMENTAL is set when
 * the file is created, so pages freed by compaction can be handed back with
 * `PRAGMA incremental_vacuum` without a full VACUUM. The automatic WAL
 * checkpoint is replaced by a WAL hook that only records the WAL's size:
 * the store runs maintain() (vacuum + TRUNCATE checkpoint) from its own
 * event when the WAL has grown big or after many writes, so no commit pays
 * for a checkpoint.
 *
 * Schema (version 1):
 *   log(rev INTEGER PRIMARY KEY, key, create_rev, prev_rev, deleted, value)
 *   current(key TEXT PRIMARY KEY, rev) WITHOUT ROWID  -- newest row per live key
 *   meta(k TEXT PRIMARY KEY, v) WITHOUT ROWID          -- 'schema', 'compact_rev'
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "store/backend.h"

#define SCHEMA_VERSION 1
/* Ask for maintenance once the WAL holds this many pages (4 MiB at 4 KiB pages). */
#define WAL_MAINT_PAGES 1000
/* After a checkpoint, a WAL file larger than this is truncated (SQLite journal_size_limit). */
#define WAL_SIZE_LIMIT (8 << 20)
/* Pages one maintenance step gives back at most (16 MiB at 4 KiB pages). */
#define VACUUM_PAGES_PER_STEP 4096
/* How long a statement waits for another process' lock before failing with -EBUSY. */
#define BUSY_TIMEOUT_MS 5000

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_INSERT_LOG,
    ST_PUT_CURRENT,
    ST_DEL_CURRENT,
    ST_LOAD_LIVE,
    ST_LOAD_LOG,
    ST_COMPACT_PREV,
    ST_COMPACT_DELETES,
    ST_SET_META,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INSERT_LOG] = "INSERT INTO log(rev, key, create_rev, prev_rev, deleted, value) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_PUT_CURRENT] = "INSERT OR REPLACE INTO current(key, rev) VALUES (?1, ?2)",
    [ST_DEL_CURRENT] = "DELETE FROM current WHERE key = ?1",
    [ST_LOAD_LIVE] = "SELECT l.key, l.create_rev, l.rev, l.prev_rev, l.value "
                     "FROM current c JOIN log l ON l.rev = c.rev ORDER BY c.key",
    [ST_LOAD_LOG] = "SELECT l.rev, l.key, l.create_rev, l.prev_rev, l.deleted, l.value, "
                    "p.rev, p.value FROM log l "
                    "LEFT JOIN log p ON p.rev = l.prev_rev AND l.prev_rev <= ?1 "
                    "WHERE l.rev > ?1 ORDER BY l.rev",
    /* A row is no longer needed once its successor is compacted away. */
    [ST_COMPACT_PREV] = "DELETE FROM log WHERE rev IN (SELECT prev_rev FROM log "
                        "WHERE rev > ?1 AND rev <= ?2 AND prev_rev > 0)",
    [ST_COMPACT_DELETES] = "DELETE FROM log WHERE rev > ?1 AND rev <= ?2 AND deleted <> 0",
    [ST_SET_META] = "INSERT OR REPLACE INTO meta(k, v) VALUES (?1, ?2)",
};

typedef struct sqlite_backend {
    k1s_store_backend_t base;
    sqlite3 *db;
    char *path, *wal_path;
    sqlite3_stmt *st[ST_COUNT];
    int64_t compact_rev;
    int wal_pages;      /* pages in the WAL after the last commit (from the WAL hook) */
    int wal_limit;      /* ask for maintenance from this many pages on */
    int64_t free_pages; /* free pages left after the last vacuum step */
} sqlite_backend_t;

static sqlite_backend_t *sb(k1s_store_backend_t *b)
{
    k1s_assert(b && b->ops == &k1s_store_backend_sqlite);
    return (sqlite_backend_t *)b;
}

/* Maps a SQLite result code (and the OS errno behind it, if any) to an errno. */
static int sqlite_errno(sqlite3 *db, int rc)
{
    int sys = db ? sqlite3_system_errno(db) : 0;
    switch (rc & 0xff) {
    case SQLITE_FULL: return ENOSPC;
    case SQLITE_IOERR:
        if (rc == SQLITE_IOERR_NOMEM)
            return ENOMEM;
        return sys == ENOSPC || sys == EDQUOT ? ENOSPC : EIO;
    case SQLITE_NOMEM: return ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return EBUSY;
    case SQLITE_READONLY: return EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH: return EACCES;
    case SQLITE_CANTOPEN: return sys ? sys : EACCES;
    case SQLITE_TOOBIG: return E2BIG;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE: return EINVAL;
    default: return EIO; /* SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_ERROR, ... */
    }
}

/* Sets err from the connection's last error; returns -errno. */
static int db_err(sqlite_backend_t *b, int rc, k1s_err_t *err, const char *what)
{
    const char *msg = b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc);
    if (what)
        return k1s_err_set(err, sqlite_errno(b->db, rc), "%s: %s", what, msg);
    return k1s_err_set(err, sqlite_errno(b->db, rc), "%s", msg);
}

/* Steps a statement that returns no rows, then resets it. */
static int step_done(sqlite_backend_t *b, sqlite3_stmt *st, k1s_err_t *err, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE) {
        int r = db_err(b, rc, err, what);
        sqlite3_reset(st);
        return r;
    }
    sqlite3_reset(st);
    return 0;
}

/* Runs SQL text (one or more statements, rows ignored). */
static int exec_sql(sqlite_backend_t *b, const char *sql, k1s_err_t *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(b->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int r = k1s_err_set(err, sqlite_errno(b->db, rc), "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return r;
    }
    return 0;
}

/* Reads one integer from a query; *out untouched if there is no row. */
static int query_int(sqlite_backend_t *b, const char *sql, int64_t *out, k1s_err_t *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_err(b, rc, err, NULL);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    int r = rc == SQLITE_DONE ? 0 : db_err(b, rc, err, NULL);
    sqlite3_finalize(st);
    return r;
}

static void rollback(sqlite_backend_t *b)
{
    /* SQLite may already have rolled back by itself (some FULL/IOERR cases). */
    if (sqlite3_get_autocommit(b->db))
        return;
    if (b->st[ST_ROLLBACK]) {
        sqlite3_step(b->st[ST_ROLLBACK]);
        sqlite3_reset(b->st[ST_ROLLBACK]);
    } else {
        sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    ((sqlite_backend_t *)arg)->wal_pages = pages;
    return SQLITE_OK;
}

static void sq_close(k1s_store_backend_t *bb)
{
    if (!bb)
        return;
    sqlite_backend_t *b = sb(bb);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(b->st[i]);
    if (b->db) {
        int rc = sqlite3_close(b->db);
        if (rc != SQLITE_OK)
            k1s_debug("store: close %s: %s", b->path, sqlite3_errstr(rc));
    }
    free(b->path);
    free(b->wal_path);
    free(b);
}

static int create_schema(sqlite_backend_t *b, k1s_err_t *err)
{
    int r = exec_sql(b,
                     "BEGIN IMMEDIATE;"
                     "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) "
                     "WITHOUT ROWID;"
                     "CREATE TABLE IF NOT EXISTS log(rev INTEGER PRIMARY KEY, key TEXT NOT NULL, "
                     "create_rev INTEGER NOT NULL, prev_rev INTEGER NOT NULL, "
                     "deleted INTEGER NOT NULL, value BLOB);"
                     "CREATE TABLE IF NOT EXISTS current(key TEXT PRIMARY KEY, "
                     "rev INTEGER NOT NULL) WITHOUT ROWID;"
                     "INSERT OR IGNORE INTO meta(k, v) VALUES ('schema', 1), ('compact_rev', 0);"
                     "COMMIT;",
                     err);
    if (r < 0) {
        rollback(b);
        return r;
    }
    int64_t version = 0;
    r = query_int(b, "SELECT v FROM meta WHERE k = 'schema'", &version, err);
    if (r < 0)
        return r;
    if (version != SCHEMA_VERSION)
        return k1s_err_set(err, EPROTO, "schema version %lld, this k1s knows %d",
                           (long long)version, SCHEMA_VERSION);
    return query_int(b, "SELECT v FROM meta WHERE k = 'compact_rev'", &b->compact_rev, err);
}

static int open_db(sqlite_backend_t *b, k1s_err_t *err)
{
    int rc = sqlite3_open_v2(
        b->path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return db_err(b, rc, err, NULL);
    sqlite3_extended_result_codes(b->db, 1);
    sqlite3_busy_timeout(b->db, BUSY_TIMEOUT_MS);
    if (sqlite3_db_readonly(b->db, "main") == 1)
        return k1s_err_set(err, EROFS, "database is read-only");
    /* auto_vacuum only takes effect on a database without tables, i.e. a new one. */
    int r = exec_sql(b,
                     "PRAGMA auto_vacuum = INCREMENTAL;"
                     "PRAGMA journal_mode = WAL;"
                     "PRAGMA synchronous = FULL;"
                     "PRAGMA foreign_keys = OFF;"
                     "PRAGMA temp_store = MEMORY;",
                     err);
    if (r < 0)
        return r;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %d", WAL_SIZE_LIMIT);
    if ((r = exec_sql(b, sql, err)) < 0)
        return r;
    /* journal_mode=WAL answers with the mode it ended up in; insist on WAL. */
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(b->db, "PRAGMA journal_mode", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_err(b, rc, err, NULL);
    rc = sqlite3_step(st);
    bool wal = rc == SQLITE_ROW && k1s_streq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    if (!wal)
        return rc == SQLITE_ROW ? k1s_err_set(err, EIO, "cannot switch to WAL mode")
                                : db_err(b, rc, err, NULL);
    if ((r = create_schema(b, err)) < 0)
        return r;
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(b->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &b->st[i], NULL);
        if (rc != SQLITE_OK)
            return db_err(b, rc, err, "prepare");
    }
    /* Replaces the automatic checkpoint: the store checkpoints from its own event. */
    sqlite3_wal_hook(b->db, wal_hook, b);
    return 0;
}

static int sq_open(const char *path, k1s_store_backend_t **out, k1s_err_t *err)
{
    if (!path || !*path)
        return k1s_err_set(err, EINVAL, "open store: no database path");
    sqlite_backend_t *b = k1s_xcalloc(1, sizeof(*b));
    b->base.ops = &k1s_store_backend_sqlite;
    b->path = k1s_xstrdup(path);
    b->wal_path = k1s_xasprintf("%s-wal", path);
    b->wal_limit = WAL_MAINT_PAGES;
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char *dir = k1s_xstrndup(path, (size_t)(slash - path));
        int r = k1s_mkdir_p(dir, 0700);
        if (r < 0) {
            k1s_err_set(err, -r, "open store %s: create directory %s: %s", path, dir, strerror(-r));
            free(dir);
            sq_close(&b->base);
            return r;
        }
        free(dir);
    }
    int r = open_db(b, err);
    if (r < 0) {
        k1s_err_prefix(err, "open store %s", path);
        sq_close(&b->base);
        return r;
    }
    *out = &b->base;
    return 0;
}

static int sq_state(k1s_store_backend_t *bb, int64_t *rev, int64_t *compact_rev, k1s_err_t *err)
{
    sqlite_backend_t *b = sb(bb);
    int64_t max = 0;
    int r = query_int(b, "SELECT max(rev) FROM log", &max, err);
    if (r < 0)
        return k1s_err_prefix(err, "read store %s", b->path);
    *rev = max > b->compact_rev ? max : b->compact_rev;
    *compact_rev = b->compact_rev;
    return 0;
}

static int sq_load_live(k1s_store_backend_t *bb, k1s_store_row_fn fn, void *arg, k1s_err_t *err)
{
    sqlite_backend_t *b = sb(bb);
    sqlite3_stmt *st = b->st[ST_LOAD_LIVE];
    int rc, r = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        k1s_store_row_t row = {
            .key = (const char *)sqlite3_column_text(st, 0),
            .create_rev = sqlite3_column_int64(st, 1),
            .rev = sqlite3_column_int64(st, 2),
            .prev_rev = sqlite3_column_int64(st, 3),
            .value = sqlite3_column_blob(st, 4),
            .value_len = (size_t)sqlite3_column_bytes(st, 4),
        };
        if (!row.key) {
            r = k1s_err_set(err, EIO, "row %lld has no key", (long long)row.rev);
            break;
        }
        if ((r = fn(&row, arg)) < 0) {
            k1s_err_set(err, -r, "%s", strerror(-r));
            break;
        }
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = db_err(b, rc, err, NULL);
    sqlite3_reset(st);
    return r < 0 ? k1s_err_prefix(err, "load store %s", b->path) : 0;
}

static int sq_load_log(k1s_store_backend_t *bb, int64_t after_rev, k1s_store_row_fn fn, void *arg,
                       k1s_err_t *err)
{
    sqlite_backend_t *b = sb(bb);
    sqlite3_stmt *st = b->st[ST_LOAD_LOG];
    sqlite3_bind_int64(st, 1, after_rev);
    int rc, r = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        k1s_store_row_t row = {
            .rev = sqlite3_column_int64(st, 0),
            .key = (const char *)sqlite3_column_text(st, 1),
            .create_rev = sqlite3_column_int64(st, 2),
            .prev_rev = sqlite3_column_int64(st, 3),
            .deleted = sqlite3_column_int(st, 4) != 0,
        };
        if (!row.key) {
            r = k1s_err_set(err, EIO, "row %lld has no key", (long long)row.rev);
            break;
        }
        if (!row.deleted) {
            row.value = sqlite3_column_blob(st, 5);
            row.value_len = (size_t)sqlite3_column_bytes(st, 5);
        }
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
            row.has_prev_value = true;
            row.prev_value = sqlite3_column_blob(st, 7);
            row.prev_value_len = (size_t)sqlite3_column_bytes(st, 7);
        }
        if ((r = fn(&row, arg)) < 0) {
            k1s_err_set(err, -r, "%s", strerror(-r));
            break;
        }
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = db_err(b, rc, err, NULL);
    sqlite3_reset(st);
    return r < 0 ? k1s_err_prefix(err, "load store %s", b->path) : 0;
}

static int sq_commit(k1s_store_backend_t *bb, const k1s_store_row_t *rows, size_t n, k1s_err_t *err)
{
    sqlite_backend_t *b = sb(bb);
    int r = step_done(b, b->st[ST_BEGIN], err, NULL);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n && r == 0; i++) {
        const k1s_store_row_t *w = &rows[i];
        sqlite3_stmt *st = b->st[ST_INSERT_LOG];
        sqlite3_bind_int64(st, 1, w->rev);
        sqlite3_bind_text(st, 2, w->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, w->create_rev);
        sqlite3_bind_int64(st, 4, w->prev_rev);
        sqlite3_bind_int(st, 5, w->deleted ? 1 : 0);
        if (w->deleted || !w->value)
            sqlite3_bind_null(st, 6);
        else
            sqlite3_bind_blob64(st, 6, w->value, w->value_len, SQLITE_STATIC);
        r = step_done(b, st, err, NULL);
        if (r < 0)
            break;
        if (w->deleted) {
            st = b->st[ST_DEL_CURRENT];
            sqlite3_bind_text(st, 1, w->key, -1, SQLITE_STATIC);
        } else {
            st = b->st[ST_PUT_CURRENT];
            sqlite3_bind_text(st, 1, w->key, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, w->rev);
        }
        r = step_done(b, st, err, NULL);
    }
    if (r == 0)
        r = step_done(b, b->st[ST_COMMIT], err, NULL);
    if (r < 0)
        rollback(b);
    return r;
}

static int sq_compact(k1s_store_backend_t *bb, int64_t rev, k1s_err_t *err)
{
    sqlite_backend_t *b = sb(bb);
    if (rev <= b->compact_rev)
        return 0;
    int r = step_done(b, b->st[ST_BEGIN], err, "compact");
    if (r < 0)
        return r;
    /* Prevs first: the second statement deletes rows whose prev_rev the first one reads. */
    sqlite3_stmt *st = b->st[ST_COMPACT_PREV];
    sqlite3_bind_int64(st, 1, b->compact_rev);
    sqlite3_bind_int64(st, 2, rev);
    r = step_done(b, st, err, "compact");
    if (r == 0) {
        st = b->st[ST_COMPACT_DELETES];
        sqlite3_bind_int64(st, 1, b->compact_rev);
        sqlite3_bind_int64(st, 2, rev);
        r = step_done(b, st, err, "compact");
    }
    if (r == 0) {
        st = b->st[ST_SET_META];
        sqlite3_bind_text(st, 1, "compact_rev", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, rev);
        r = step_done(b, st, err, "compact");
    }
    if (r == 0)
        r = step_done(b, b->st[ST_COMMIT], err, "compact");
    if (r < 0) {
        rollback(b);
        return r;
    }
    b->compact_rev = rev;
    return 0;
}

static int sq_maintain(k1s_store_backend_t *bb, k1s_err_t *err)
{
    sqlite_backend_t *b = sb(bb);
    /* A bounded step, so that a mass delete does not stall the loop: more on the next call. */
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%d)", VACUUM_PAGES_PER_STEP);
    int64_t before = 0, after = 0;
    int r = query_int(b, "PRAGMA freelist_count", &before, err);
    if (r == 0)
        r = exec_sql(b, sql, err);
    if (r == 0)
        r = query_int(b, "PRAGMA freelist_count", &after, err);
    if (r < 0)
        return k1s_err_prefix(err, "incremental vacuum");
    /* Ask for another step only while steps make progress (a database created without
     * auto_vacuum by another tool keeps its free pages). */
    b->free_pages = after > 0 && after < before ? after : 0;
    /*
     * Copy the WAL into the database and truncate it. Another process
     * reading the database (an admin's sqlite3 shell) can hold the WAL:
     * do not wait for it with the loop blocked; back off and retry later.
     */
    sqlite3_busy_timeout(b->db, 0);
    int rc = sqlite3_wal_checkpoint_v2(b->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_busy_timeout(b->db, BUSY_TIMEOUT_MS);
    if ((rc & 0xff) == SQLITE_BUSY) {
        k1s_debug("store: checkpoint of %s deferred: the database is in use", b->path);
        b->wal_limit = b->wal_pages * 2 > WAL_MAINT_PAGES ? b->wal_pages * 2 : WAL_MAINT_PAGES;
        return 0;
    }
    if (rc != SQLITE_OK)
        return db_err(b, rc, err, "checkpoint");
    b->wal_pages = 0;
    b->wal_limit = WAL_MAINT_PAGES;
    return 0;
}

static bool sq_want_maintenance(k1s_store_backend_t *bb)
{
    sqlite_backend_t *b = sb(bb);
    return b->wal_pages >= b->wal_limit || b->free_pages > 0;
}

static int64_t sq_size(k1s_store_backend_t *bb)
{
    sqlite_backend_t *b = sb(bb);
    struct stat st;
    if (stat(b->path, &st) < 0)
        return -errno;
    int64_t size = st.st_size;
    if (stat(b->wal_path, &st) == 0)
        size += st.st_size;
    return size;
}

int k1s_store_sqlite_exec(k1s_store_backend_t *bb, const char *sql, k1s_err_t *err)
{
    return exec_sql(sb(bb), sql, err);
}

const k1s_store_backend_ops_t k1s_store_backend_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .state = sq_state,
    .load_live = sq_load_live,
    .load_log = sq_load_log,
    .commit = sq_commit,
    .compact = sq_compact,
    .maintain = sq_maintain,
    .want_maintenance = sq_want_maintenance,
    .size = sq_size,
    .close = sq_close,
};
