/*
 * Unit tests for src/runtime/shim-trim.c: clean read-only file pages are
 * released and come back intact; pages with private (copy-on-write)
 * changes, like a library's RELRO after relocation, keep their changes;
 * the libraries the shim never calls are unmapped, the ones it keeps stay.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/shim.h"

#define SIZE (256 * 4096)

/* The Rss of the mapping that starts at addr, in kB, from /proc/self/smaps. */
static long rss_kb(void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    bool in = false;
    long kb = -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2) /* a mapping's header */
            in = start == (unsigned long)addr;
        else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

static char *make_file(char *path)
{
    strcpy(path, "/tmp/k1s-trim-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char *data = malloc(SIZE);
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (char)(i * 7 + i / 4096);
    assert_int_equal(write(fd, data, SIZE), SIZE);
    close(fd);
    return data;
}

static void test_releases_clean_pages(void **state)
{
    char path[64];
    char *want = make_file(path);
    int fd = open(path, O_RDONLY);
    char *m = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    assert_true(m != MAP_FAILED);
    assert_memory_equal(m, want, SIZE); /* faults every page in */
    assert_int_equal(rss_kb(m), SIZE / 1024);
    assert_true(k1s_rt_shim_trim() >= SIZE / 1024);
    assert_int_equal(rss_kb(m), 0);
    assert_memory_equal(m, want, SIZE); /* read back from the file */
    munmap(m, SIZE);
    unlink(path);
    free(want);
}

static void test_keeps_private_changes(void **state)
{
    char path[64];
    char *want = make_file(path);
    int fd = open(path, O_RDWR);
    /* What the loader does to RELRO: write (copy-on-write), then make it read-only. */
    char *m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    assert_true(m != MAP_FAILED);
    m[4096 * 3] = 'X';
    want[4096 * 3] = 'X';
    assert_int_equal(mprotect(m, SIZE, PROT_READ), 0);
    assert_memory_equal(m, want, SIZE);
    k1s_rt_shim_trim();
    assert_int_equal(rss_kb(m), SIZE / 1024);
    assert_memory_equal(m, want, SIZE);
    /* and anonymous memory is never touched */
    char *a = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(a, 'a', SIZE);
    assert_int_equal(mprotect(a, SIZE, PROT_READ), 0);
    k1s_rt_shim_trim();
    for (size_t i = 0; i < SIZE; i += 4096)
        assert_int_equal(a[i], 'a');
    munmap(a, SIZE);
    munmap(m, SIZE);
    unlink(path);
    free(want);
}

/* Whether the process maps a file whose name starts with prefix (from /proc/self/maps). */
static bool maps_library(const char *prefix)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        const char *slash = strrchr(line, '/');
        found = slash && !strncmp(slash + 1, prefix, strlen(prefix));
    }
    fclose(f);
    return found;
}

/* In a child (this process itself needs its libraries to end): libcrypto, libsqlite3 and
 * libevent go, libc and jansson stay, and the child goes on to report through _exit. */
static void test_unmaps_unused_libraries(void **state)
{
    assert_true(maps_library("libcrypto.so"));
    assert_true(maps_library("libsqlite3.so"));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t kb = k1s_rt_shim_unmap_libraries();
        int bad = (kb == 0) | maps_library("libcrypto.so") << 1 |
                  maps_library("libsqlite3.so") << 2 | maps_library("libevent_core") << 3 |
                  !maps_library("libc.so") << 4 | !maps_library("libjansson.so") << 5;
        _exit(bad);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st))
        fprintf(stderr, "child: signal %d\n", WTERMSIG(st));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_releases_clean_pages),
        cmocka_unit_test(test_keeps_private_changes),
        cmocka_unit_test(test_unmaps_unused_libraries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
