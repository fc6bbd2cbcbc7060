/*
 * libFuzzer target for layer unpacking (k1s_layer_unpack in src/runtime/snapshot.c): any
 * input, compressed or not, is unpacked into a fresh directory inside a sandbox directory,
 * and nothing may appear next to that directory (no escape through .., symlinks, hard links
 * or whiteouts). Run as root, as the agent does.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson) tests/fuzz/layer.c build/asan/libk1s.a \
 *     $(pkg-config --libs libevent_core libevent_pthreads openssl jansson yaml-0.1 sqlite3 \
 *       zlib libnghttp2 libcurl libarchive) -lm -o /tmp/fuzz-layer
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/image-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char box[64];
    if (!box[0]) {
        snprintf(box, sizeof(box), "/tmp/k1s-fuzz-layer-XXXXXX");
        k1s_assert(mkdtemp(box));
    }
    char *blob = k1s_xasprintf("%s/blob", box);
    char *dir = k1s_xasprintf("%s/fs", box);
    k1s_assert(k1s_write_file_atomic(blob, data, size, 0600) == 0);
    mkdir(dir, 0755);
    char d[72];
    uint64_t bytes, inodes;
    k1s_layer_unpack(blob, dir, d, &bytes, &inodes, NULL);
    k1s_rmtree(dir);
    unlink(blob);
    /* the box holds nothing else */
    DIR *dd = opendir(box);
    struct dirent *de;
    while ((de = readdir(dd)))
        k1s_assert(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."));
    closedir(dd);
    free(blob);
    free(dir);
    return 0;
}
