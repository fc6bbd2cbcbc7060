/*
 * Giving back the shim's clean file pages. By the time a container runs,
 * the dynamic loader, the start-up code and `runc create`/`start` have
 * touched pages of the k1s binary and of every library it links that the
 * shim's steady loop (epoll, read, write the log) never touches again:
 * they count in its RSS, once per container. k1s_rt_shim_trim() unmaps
 * them with MADV_DONTNEED, once the container runs and again whenever the
 * shim is idle after serving a request (an exec probe faults in ~1.5 MB of
 * JSON, fork and runtime code); what the loop does touch is faulted back in
 * from the page cache (with its neighbours: the kernel maps up to 64 KiB
 * around a fault), so RSS then reflects what the loop really uses.
 *
 * Only mappings that are file-backed, not writable and hold no anonymous
 * (copy-on-write) page qualify, as /proc/self/smaps says: for them
 * dropping the mapping loses nothing, the next access reads the same
 * bytes back from the file. Anything with anonymous pages (RELRO after
 * relocation, .data, .bss, heap, stack) is left alone: there
 * MADV_DONTNEED would throw away the only copy. The bytes read back are
 * those dropped: a running executable cannot be written (ETXTBSY), and
 * packages and the linker replace libraries and binaries by a new file.
 *
 * smaps is parsed by hand into a list first and the pages are released at
 * the end: parsing with sscanf after libc's text was released would fault
 * stdio back in, and it would stay.
 */
#include "runtime/shim.h"

#include <fcntl.h>
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

size_t k1s_rt_shim_trim(void)
{
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    range_t ranges[MAX_RANGES];
    size_t n_ranges = 0, kb = 0;
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
                if (have && v.candidate && v.anon_kb == 0 && v.rss_kb > 0 &&
                    n_ranges < MAX_RANGES) {
                    ranges[n_ranges++] = v.r;
                    kb += (size_t)v.rss_kb;
                }
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
    for (size_t i = 0; i < n_ranges; i++)
        madvise((void *)ranges[i].start, ranges[i].end - ranges[i].start, MADV_DONTNEED);
    return kb;
}
