/*
 * Unit tests for src/runtime/snapshot.c: unpacking layers with OCI whiteouts turned into
 * overlayfs ones, the uncompressed digest, and layers that try to write outside their
 * directory (.., absolute and relative symlinks, hard links, whiteouts through symlinks).
 * Needs root (mknod of whiteouts, trusted.* xattrs), as the agent does.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "runtime/image-int.h"

typedef struct ent {
    const char *name;
    char type;        /* f file, d dir, l symlink, h hard link */
    const char *data; /* file content or link target */
} ent_t;

static char tmp[256];

/* Writes a tar (gzip'd if gz) of ents to path; out receives the uncompressed digest. */
static void make_tar(const char *path, const ent_t *ents, bool gz, char digest[72])
{
    size_t cap = 1 << 20, used = 0;
    char *buf = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    for (const ent_t *e = ents; e->name; e++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e->name);
        archive_entry_set_mtime(ae, 1700000000, 0);
        switch (e->type) {
        case 'd':
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, 0755);
            break;
        case 'l':
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, e->data);
            break;
        case 'h':
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_hardlink(ae, e->data);
            break;
        default:
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_size(ae, (la_int64_t)strlen(e->data ? e->data : ""));
        }
        assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
        if (e->type == 'f' && e->data)
            archive_write_data(a, e->data, strlen(e->data));
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    k1s_sha256_digest(buf, used, digest);
    if (gz) {
        size_t gcap = used + 65536, gused = 0;
        char *g = malloc(gcap);
        struct archive *w = archive_write_new();
        archive_write_add_filter_gzip(w);
        archive_write_set_format_raw(w);
        archive_write_open_memory(w, g, gcap, &gused);
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_write_header(w, ae);
        archive_write_data(w, buf, used);
        archive_entry_free(ae);
        archive_write_close(w);
        archive_write_free(w);
        free(buf);
        buf = g;
        used = gused;
    }
    assert_int_equal(k1s_write_file_atomic(path, buf, used, 0644), 0);
    free(buf);
}

static int setup(void **state)
{
    snprintf(tmp, sizeof(tmp), "/tmp/k1s-unit-snap-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    return 0;
}

static int teardown(void **state)
{
    k1s_rmtree(tmp);
    return 0;
}

static char *p(const char *rel)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmp, rel);
    return buf[i];
}

static int unpack(const ent_t *ents, bool gz, const char *dir, k1s_err_t *err)
{
    char want[72], got[72];
    uint64_t bytes, inodes;
    make_tar(p("layer.tar"), ents, gz, want);
    mkdir(p(dir), 0755);
    int r = k1s_layer_unpack(p("layer.tar"), p(dir), got, &bytes, &inodes, err);
    if (r == 0)
        assert_string_equal(got, want);
    return r;
}

static void test_whiteouts(void **state)
{
    const ent_t ents[] = {
        {"./etc/", 'd', NULL},          {"etc/.wh.gone", 'f', ""},
        {"etc/kept", 'f', "kept\n"},    {"opq/", 'd', NULL},
        {"opq/.wh..wh..opq", 'f', ""},  {"opq/new", 'f', "new\n"},
        {"deep/er/.wh.x", 'f', ""}, /* the directory only exists in a lower layer */
        {"bin/busybox", 'f', "#!bb\n"}, {"bin/cat", 'h', "bin/busybox"},
        {"bin/sh", 'l', "busybox"},     {NULL, 0, NULL},
    };
    for (int gz = 0; gz < 2; gz++) {
        k1s_err_t err = {0};
        const char *dir = gz ? "gz" : "plain";
        if (unpack(ents, gz, dir, &err) < 0)
            fail_msg("%s", err.msg);
        char rel[64];
        struct stat sb;
        snprintf(rel, sizeof(rel), "%s/etc/gone", dir);
        assert_int_equal(lstat(p(rel), &sb), 0);
        assert_true(S_ISCHR(sb.st_mode));
        assert_int_equal(sb.st_rdev, makedev(0, 0));
        snprintf(rel, sizeof(rel), "%s/etc/.wh.gone", dir);
        assert_int_equal(access(p(rel), F_OK), -1);
        snprintf(rel, sizeof(rel), "%s/deep/er/x", dir);
        assert_int_equal(lstat(p(rel), &sb), 0);
        assert_true(S_ISCHR(sb.st_mode));
        char v[8] = "";
        snprintf(rel, sizeof(rel), "%s/opq", dir);
        assert_int_equal(getxattr(p(rel), "trusted.overlay.opaque", v, sizeof(v)), 1);
        assert_int_equal(v[0], 'y');
        snprintf(rel, sizeof(rel), "%s/opq/.wh..wh..opq", dir);
        assert_int_equal(access(p(rel), F_OK), -1);
        snprintf(rel, sizeof(rel), "%s/opq/new", dir);
        assert_int_equal(access(p(rel), F_OK), 0);
        struct stat a, b;
        snprintf(rel, sizeof(rel), "%s/bin/busybox", dir);
        assert_int_equal(stat(p(rel), &a), 0);
        snprintf(rel, sizeof(rel), "%s/bin/cat", dir);
        assert_int_equal(stat(p(rel), &b), 0);
        assert_int_equal(a.st_ino, b.st_ino);
        char link[64] = "";
        snprintf(rel, sizeof(rel), "%s/bin/sh", dir);
        assert_int_equal(readlink(p(rel), link, sizeof(link)), 7);
    }
}

static void test_escapes(void **state)
{
    mkdir(p("outside"), 0755);
    assert_int_equal(k1s_write_file_atomic(p("outside/victim"), "v", 1, 0644), 0);
    char abs_outside[300];
    snprintf(abs_outside, sizeof(abs_outside), "%s/outside", tmp);
    const ent_t dotdot[] = {{"../evil", 'f', "x"}, {NULL, 0, NULL}};
    const ent_t dotdot2[] = {{"a/../../evil", 'f', "x"}, {NULL, 0, NULL}};
    const ent_t abslink[] = {{"link", 'l', abs_outside}, {"link/evil", 'f', "x"}, {NULL, 0, NULL}};
    const ent_t rellink[] = {{"up", 'l', "../outside"}, {"up/evil", 'f', "x"}, {NULL, 0, NULL}};
    const ent_t wh[] = {{"link", 'l', abs_outside}, {"link/.wh.victim", 'f', ""}, {NULL, 0, NULL}};
    const ent_t hard[] = {{"h", 'h', "../outside/victim"}, {NULL, 0, NULL}};
    const ent_t *cases[] = {dotdot, dotdot2, abslink, rellink, wh, hard};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(cases); i++) {
        char dir[32];
        snprintf(dir, sizeof(dir), "case%zu", i);
        k1s_err_t err = {0};
        int r = unpack(cases[i], false, dir, &err);
        if (r == 0)
            fail_msg("case %zu unpacked", i);
        assert_int_equal(access(p("evil"), F_OK), -1);
        assert_int_equal(access(p("outside/evil"), F_OK), -1);
        struct stat sb;
        assert_int_equal(lstat(p("outside/victim"), &sb), 0);
        assert_true(S_ISREG(sb.st_mode));
    }
}

static void test_not_a_tar(void **state)
{
    assert_int_equal(k1s_write_file_atomic(p("junk"), "this is not a tar file at all", 29, 0644),
                     0);
    mkdir(p("junkdir"), 0755);
    char d[72];
    uint64_t b, n;
    k1s_err_t err = {0};
    assert_true(k1s_layer_unpack(p("junk"), p("junkdir"), d, &b, &n, &err) < 0);
    assert_non_null(strstr(err.msg, "tar"));
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "snapshot tests need root (whiteouts are device nodes); skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whiteouts),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_not_a_tar),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
