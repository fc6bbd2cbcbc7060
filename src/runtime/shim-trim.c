/*
 * Giving back the shim's memory. By the time a container runs, the dynamic
 * loader, the start-up code and `runc create`/`start` have touched pages of
 * the k1s binary and of every library it links that the shim's steady loop
 * (epoll, read, write the log) never touches again: they count in its RSS,
 * once per container.
 *
 * Libraries the shim never calls (k1s_rt_shim_unmap_libraries): k1s links
 * OpenSSL, SQLite, libevent, nghttp2, libyaml and zlib for the server and
 * the agent. Each is loaded into every shim too, and relocating their data
 * at load time makes private copies of it: libcrypto alone is about 0.4 MB
 * of anonymous memory per container, more than the rest of the shim. Once
 * the container runs, the shim unmaps every shared library but glibc's and
 * SHIM_LIBS (jansson): each of its segments (code, data, .bss) as the
 * dynamic loader lists them (dl_iterate_phdr). Nothing may
 * call them afterwards, and nothing does: `make` links the shim's entry
 * point against those libraries alone (build/shim-linkcheck, with
 * --gc-sections), which fails if shim code can reach any other. Their
 * destructors must not run either: the shim ends with _exit()
 * (src/cli/shim.c).
 *
 * Clean file pages (k1s_rt_shim_trim): once the container runs, and again
 * whenever the shim is idle after serving a request (an exec probe faults
 * in ~1.5 MB of JSON, fork and runtime code), MADV_DONTNEED unmaps the
 * pages of mappings that are file-backed, not writable and hold no
 * anonymous (copy-on-write) page, as /proc/self/smaps says: for them
 * dropping the pages loses nothing, the next access reads the same bytes
 * back from the file (with its neighbours: the kernel maps up to 64 KiB
 * around a fault), so RSS then reflects what the loop really uses.
 * Anything with anonymous pages (RELRO after relocation, .data, .bss, heap,
 * stack) is left alone: there MADV_DONTNEED would throw away the only
 * copy. The bytes read back are those dropped: a running executable cannot
 * be written (ETXTBSY), and packages and the linker replace libraries and
 * binaries by a new file.
 *
 * smaps is parsed by hand into a list first and the pages are released at
 * the end: parsing with sscanf after libc's text was released would fault
 * stdio back in, and it would stay.
 */
#include "runtime/shim.h"

#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_RANGES 256

typedef struct range {
    unsigned long start, end;
} range_t;

typedef struct vma {
    range_t r;
    bool candidate; /* file-backed and not writable */
    long rss_kb, anon_kb;
} vma_t;

/* The shared libraries a running shim keeps: glibc's, libgcc_s (glibc loads it to unwind),
 * the sanitizers' run-time (in `make asan` builds), and SHIM_LIBS of the Makefile (what
 * build/shim-linkcheck is linked against). */
static const char *const kept_libraries[] = {
    "libc.so.",     "libm.so.",    "ld-linux",     "libpthread.so.", "libdl.so.",      "librt.so.",
    "libgcc_s.so.", "libasan.so.", "libubsan.so.", "libstdc++.so.",  "libjansson.so.",
};

/* path is a shared library (by its file name) that a running shim does not keep. */
static bool unused_library(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "lib", 3) || !strstr(base, ".so"))
        return false;
    for (size_t i = 0; i < sizeof(kept_libraries) / sizeof(kept_libraries[0]); i++)
        if (!strncmp(base, kept_libraries[i], strlen(kept_libraries[i])))
            return false;
    return true;
}

static const char *hex(const char *p, unsigned long *v)
{
    *v = 0;
    for (;; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            return p;
        *v = *v * 16 + (unsigned long)d;
    }
}

/* "Name:   123 kB" -> 123 if line starts with name, else -1. */
static long field_kb(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(line, name, n))
        return -1;
    const char *p = line + n;
    while (*p == ' ')
        p++;
    long v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (*p - '0');
    return v;
}

/* A mapping's first line: "START-END PERMS OFFSET DEV INODE [PATH]". */
static bool parse_header(const char *line, vma_t *v)
{
    const char *p = hex(line, &v->r.start);
    if (*p != '-')
        return false;
    p = hex(p + 1, &v->r.end);
    if (*p != ' ' || strlen(p) < 6)
        return false;
    bool readonly = p[1] == 'r' && p[2] == '-';
    /* skip perms, offset and dev, then read the inode */
    for (int f = 0; f < 3; f++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return false;
    }
    unsigned long inode = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        inode = inode * 10 + (unsigned long)(*p - '0');
    while (*p == ' ')
        p++;
    v->candidate = readonly && inode != 0 && *p == '/';
    v->rss_kb = v->anon_kb = -1;
    return true;
}

/* The process's resident memory in kB (statm), or -1. */
static long resident_kb(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    const char *p = strchr(buf, ' ');
    if (!p)
        return -1;
    long pages = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (*p - '0');
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Calls fn for every mapping of the process, in address order, as smaps describes it. */
static void scan(void (*fn)(const vma_t *v, void *arg), void *arg)
{
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096];
    size_t len = 0;
    vma_t v = {0};
    bool have = false;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            long x;
            if ((x = field_kb(line, "Rss:")) >= 0)
                v.rss_kb = x;
            else if ((x = field_kb(line, "Anonymous:")) >= 0)
                v.anon_kb = x;
            else if (!strncmp(line, "VmFlags:", 8)) {
                /* A mapping's last line. */
                if (have)
                    fn(&v, arg);
                have = false;
            } else if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
                /* A header starts with its hex address; field names with a capital. */
                have = parse_header(line, &v);
            }
            line = nl + 1;
        }
        len = strlen(line);
        memmove(buf, line, len);
        if (len >= sizeof(buf) - 1)
            len = 0; /* a line longer than the buffer (a very long path): skip it */
    }
    close(fd);
}

typedef struct ranges {
    range_t r[MAX_RANGES];
    size_t n, kb;
} ranges_t;

static void trim_fn(const vma_t *v, void *arg)
{
    ranges_t *rs = arg;
    if (v->candidate && v->anon_kb == 0 && v->rss_kb > 0 && rs->n < MAX_RANGES) {
        rs->r[rs->n++] = v->r;
        rs->kb += (size_t)v->rss_kb;
    }
}

size_t k1s_rt_shim_trim(void)
{
    ranges_t rs = {0};
    scan(trim_fn, &rs);
    for (size_t i = 0; i < rs.n; i++)
        madvise((void *)rs.r[i].start, rs.r[i].end - rs.r[i].start, MADV_DONTNEED);
    return rs.kb;
}

/* Collects the segments (text, data, .bss) of each loaded library the shim does not keep. */
static int library_fn(struct dl_phdr_info *info, size_t size, void *arg)
{
    ranges_t *rs = arg;
    if (!info->dlpi_name || !*info->dlpi_name || !unused_library(info->dlpi_name))
        return 0;
    unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum && rs->n < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !ph->p_memsz)
            continue;
        unsigned long start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
        unsigned long end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
        rs->r[rs->n++] = (range_t){start, end};
    }
    return 0;
}

size_t k1s_rt_shim_unmap_libraries(void)
{
    ranges_t rs = {0};
    dl_iterate_phdr(library_fn, &rs);
    long before = resident_kb();
    for (size_t i = 0; i < rs.n; i++)
        munmap((void *)rs.r[i].start, rs.r[i].end - rs.r[i].start);
    long after = resident_kb();
    return before > after ? (size_t)(before - after) : 0;
}
