#!/bin/sh
# Installs every build, test and runtime dependency of k1s from Debian's
# packages. Idempotent: does nothing when all are present.
set -e
PKGS="build-essential pkg-config git
libevent-dev libssl-dev libjansson-dev libyaml-dev libsqlite3-dev zlib1g-dev libcmocka-dev libnghttp2-dev
libcurl4-openssl-dev libarchive-dev
openssl sqlite3 ca-certificates curl nghttp2-client
python3 python3-pytest python3-pytest-xdist python3-kubernetes python3-yaml python3-grpcio
clang-format cppcheck
containernetworking-plugins iptables busybox-static skopeo umoci docker-registry apache2-utils zstd
runc iproute2"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# kubectl: use the one on the machine if there is one, else Debian's.
if ! command -v kubectl >/dev/null 2>&1; then
    missing="$missing kubernetes-client"
fi
# Node.js and npm for the JavaScript client tests: the machine's, else Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi
if [ -n "$missing" ]; then
    echo "k1s deps: installing:$missing"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Debian's kubectl 1.20 (package kubernetes-client), unpacked privately for the
# end-to-end tests: its binary would clash with an installed kubectl package.
K120=build/deps/kubectl-1.20
if [ ! -x "$K120/usr/bin/kubectl" ]; then
    mkdir -p build/deps
    (cd build/deps && rm -f kubernetes-client_*.deb &&
        { apt-get download kubernetes-client >/dev/null 2>&1 ||
          { apt-get update -qq && apt-get download kubernetes-client >/dev/null; }; } &&
        dpkg -x kubernetes-client_*.deb kubectl-1.20 && rm -f kubernetes-client_*.deb) ||
        echo "k1s deps: warning: could not fetch Debian's kubernetes-client; kubectl 1.20 tests will be skipped"
fi

# The official JavaScript client (@kubernetes/client-node) from the npm registry,
# at the version tests/e2e/node/package-lock.json pins.
if [ ! -d tests/e2e/node/node_modules/@kubernetes/client-node ]; then
    (cd tests/e2e/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
        echo "k1s deps: warning: npm ci failed; the @kubernetes/client-node tests will be skipped"
fi
