#!/bin/sh
# The controllers' benchmark (bench/controllers/bench.py): a Deployment of
# 1,000 replicas on 100 hollow nodes against the release build/k1s; prints
# the time until every pod exists, is bound and is Ready, and the server's
# RSS before and after, next to the same pods created bare with the
# controllers and scheduler off. Figures are printed, never asserted.
#
# Environment: NODES (100), REPLICAS (1000), BASELINE=0 skips the bare-pod
# run, K1S=PATH the binary (default build/k1s), KUBECTL (default kubectl).
set -eu
cd "$(dirname "$0")/../.."
[ -x "${K1S:-build/k1s}" ] || make -s build/k1s >&2
exec /usr/bin/python3 bench/controllers/bench.py
