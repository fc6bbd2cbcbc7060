#!/bin/sh
# Builds and runs the scheduler benchmark (bench/scheduler/sched-bench.c)
# against the release library build/libk1s.a.
# Usage: sh bench/scheduler/run.sh [nodes] [pods per node] [pods per case]
set -e
cd "$(dirname "$0")/../.."
make -s build/libk1s.a
mkdir -p build/bench
PKGS="libevent_core libevent_openssl libevent_pthreads openssl jansson yaml-0.1 sqlite3 zlib libnghttp2"
cc -std=c17 -D_GNU_SOURCE -Isrc -O2 -g -Wall -Wextra -o build/bench/sched-bench \
    bench/scheduler/sched-bench.c build/libk1s.a $(pkg-config --cflags --libs $PKGS) -lpthread -lm
exec build/bench/sched-bench "$@"
