#!/bin/sh
# `make run`: starts a single-node k1s server on the embedded SQLite store in
# the foreground. As root it uses the k3s-style defaults (/var/lib/k1s,
# /etc/k1s/k1s.yaml, port 6443); otherwise a data directory under build/.
set -e
BIN="$(pwd)/build/k1s"
if [ "$(id -u)" = 0 ]; then
    KCFG=/etc/k1s/k1s.yaml
    ARGS=""
else
    mkdir -p build/run
    KCFG="$(pwd)/build/run/k1s.yaml"
    ARGS="--data-dir $(pwd)/build/run/data --write-kubeconfig $KCFG"
fi
cat <<MSG
Starting k1s server (Ctrl-C stops it). In another terminal:

    export KUBECONFIG=$KCFG
    kubectl get namespaces
    kubectl create configmap hello --from-literal=greeting=hi
    kubectl get configmaps -A

or: $BIN kubectl get ns   (uses the admin kubeconfig)
MSG
exec "$BIN" server $ARGS "$@"
