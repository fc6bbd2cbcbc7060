#!/bin/sh
# Builds and runs the store benchmark (bench/store/store-bench.c) with the
# release flags. Usage: sh bench/store/run.sh [dir for the databases]
set -e
cd "$(dirname "$0")/../.."
mkdir -p build/bench
cc -std=c17 -D_GNU_SOURCE -Isrc -O2 -g -o build/bench/store-bench \
    bench/store/store-bench.c src/store/*.c src/store/backends/*.c \
    src/lib/util.c src/lib/err.c src/lib/log.c src/lib/buf.c \
    $(pkg-config --cflags --libs libevent_core sqlite3)
exec build/bench/store-bench "$@"
