#!/bin/sh
# `make run`: starts a single-node k1s server on the embedded SQLite store in
# the foreground. As root it uses the k3s-style defaults (/var/lib/k1s,
# /etc/k1s/k1s.yaml, port 6443) and runs the node agent too; otherwise a data
# directory under build/ and no agent.
set -e
BIN="$(pwd)/build/k1s"
if [ "$(id -u)" = 0 ]; then
    KCFG=/etc/k1s/k1s.yaml
    ARGS=""
else
    mkdir -p build/run
    KCFG="$(pwd)/build/run/k1s.yaml"
    # the node agent runs containers, which needs root: the control plane only
    ARGS="--data-dir $(pwd)/build/run/data --write-kubeconfig $KCFG --disable-agent"
    echo "k1s: not root: running without the node agent (pods will stay Pending)"
fi
cat <<MSG
Starting k1s server (Ctrl-C stops it). In another terminal:

    export KUBECONFIG=$KCFG
    kubectl get nodes
    kubectl get namespaces
    kubectl create configmap hello --from-literal=greeting=hi
    kubectl get configmaps -A

or: $BIN kubectl get ns   (uses the admin kubeconfig)
MSG
exec "$BIN" server $ARGS "$@"
