#!/bin/sh
# The node agent's benchmark (bench/pods/bench.py): pod start latency over 50
# pods next to a plain `runc run` of the same root filesystem, the agent's and
# the shims' memory, and the agent's idle CPU with 20 pods; with MANY_PODS=100,
# 100 pods on the node at once. Runs as root, in a network namespace it creates
# and removes, against the release build/k1s. Figures are printed, never
# asserted.
#
# Environment: PODS (50), IDLE_PODS (20), IDLE_S (30), MANY_PODS (0: skipped),
# NODE_N (9: namespace k1s-e2e-node9, 10.99.9.0/24), K1S=PATH (default build/k1s).
set -eu
cd "$(dirname "$0")/../.."
[ -x "${K1S:-build/k1s}" ] || make -s build/k1s >&2
exec /usr/bin/python3 bench/pods/bench.py
