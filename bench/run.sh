#!/bin/sh
# `make bench`: the k1s server benchmarks. Builds the load generator
# (bench/k1s-load.c), starts build/k1s on 127.0.0.1 in a temp data dir and
# prints binary size, idle RSS and CPU, start-to-ready times, RSS and list
# latency with 10,000 ConfigMaps, create throughput next to a raw SQLite
# insert loop, watch delivery delay, authorization's cost on a get,
# custom-object (CRD) creates next to ConfigMap creates, and HTTP/2 (100
# watches on one connection, get latency next to HTTP/1.1, with
# bench/k1s-h2.c); then runs the store benchmark (bench/store/run.sh).
# Figures are printed, never asserted.
#
# Environment:
#   BENCH_QUICK=1   a short smoke run (10 s idle window, 2,000 objects, ...)
#   BENCH_DIR=DIR   where the temp data dir goes (default $TMPDIR or /tmp);
#                   the durability figures are about the disk under it
#   K1S=PATH        the binary to measure (default build/k1s)
# shellcheck disable=SC2154  # lower-case results are set by eval of k1s-load output
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ "${BENCH_QUICK:-0}" != 0 ]; then
    QUICK=1 IDLE_S=10 OBJECTS=2000 STARTS=3 LIST_RUNS=5 WATCH_S=3 SQLITE_S=2 GET_RUNS=2000 H2_GET_RUNS=1000
else
    QUICK=0 IDLE_S=60 OBJECTS=10000 STARTS=5 LIST_RUNS=9 WATCH_S=10 SQLITE_S=5 GET_RUNS=20000 H2_GET_RUNS=5000
fi
CLIENTS=32 WATCHERS=100 WATCH_RATE=200 SETTLE_S=3

K1S=${K1S:-$ROOT/build/k1s}
LOAD=$ROOT/build/bench/k1s-load
H2=$ROOT/build/bench/k1s-h2

say() { printf '== %s\n' "$*" >&2; }

# ---- build --------------------------------------------------------------------------
[ -x "$K1S" ] || make -C "$ROOT" build/k1s >&2
mkdir -p "$ROOT/build/bench"
# shellcheck disable=SC2046  # pkg-config output is meant to split
cc -std=c17 -O2 -g -Wall -Wextra -o "$LOAD" "$ROOT/bench/k1s-load.c" \
    $(pkg-config --cflags --libs openssl sqlite3) -lpthread
# shellcheck disable=SC2046
cc -std=c17 -O2 -g -Wall -Wextra -Wno-unused-parameter -o "$H2" "$ROOT/bench/k1s-h2.c" \
    $(pkg-config --cflags --libs openssl libnghttp2)

# ---- temp dir, server lifecycle, cleanup ----------------------------------------------
BASE=${BENCH_DIR:-${TMPDIR:-/tmp}}
WORK=$(mktemp -d "$BASE/k1s-bench-XXXXXX")
DATA=$WORK/data
TLS=$DATA/server/tls
LOADER_PID=
SERVER_PID=
SERVER_PROBLEMS=

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$LOADER_PID" ]; then
        kill -TERM "$LOADER_PID" 2>/dev/null || true
        wait "$LOADER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

PORT=$("$LOAD" freeport)

# Starts the server through `k1s-load start`, which forks/execs it, polls
# /readyz every 2 ms and stays its parent. Sets SERVER_PID and READY_MS.
start_server() {
    : >"$WORK/start.out"
    "$LOAD" start --port "$PORT" --log "$WORK/server.log" -- \
        "$K1S" server --data-dir "$DATA" --bind-address 127.0.0.1 --disable-agent \
        --https-listen-port "$PORT" --write-kubeconfig "$WORK/kubeconfig" \
        >"$WORK/start.out" &
    LOADER_PID=$!
    until grep -q 'end=1' "$WORK/start.out"; do
        if ! kill -0 "$LOADER_PID" 2>/dev/null; then
            LOADER_PID=
            echo "bench: the server did not start; its log:" >&2
            tail -n 30 "$WORK/server.log" >&2
            exit 1
        fi
        sleep 0.02
    done
    eval "$(cat "$WORK/start.out")"
    SERVER_PID=$server_pid
    READY_MS=$ready_ms
}

# SIGTERM, then up to 15 s for a clean exit before SIGKILL.
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    i=0
    while kill -0 "$LOADER_PID" 2>/dev/null && [ $i -lt 300 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    if kill -0 "$LOADER_PID" 2>/dev/null; then
        SERVER_PROBLEMS="$SERVER_PROBLEMS; did not exit within 15 s of SIGTERM (killed)"
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    rc=0
    wait "$LOADER_PID" || rc=$?
    if [ $rc -ne 0 ]; then
        SERVER_PROBLEMS="$SERVER_PROBLEMS; exited abnormally on stop (see above)"
    fi
    LOADER_PID=
    SERVER_PID=
}

# Fails loudly if the server died while a benchmark ran.
check_alive() {
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "bench: the server died during: $1; its log:" >&2
        tail -n 30 "$WORK/server.log" >&2
        SERVER_PID=
        exit 1
    fi
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# Runs a k1s-load subcommand and evals its name=value output. A non-zero
# exit (requests failed, events missing) is recorded, not fatal.
measure() {
    out=$("$LOAD" "$@") || SERVER_PROBLEMS="$SERVER_PROBLEMS; k1s-load $1 reported failures (see above)"
    if [ -z "$out" ]; then
        echo "bench: k1s-load $1 failed" >&2
        exit 1
    fi
    eval "$out"
}

fs=$(stat -f -c %T "$BASE" 2>/dev/null || echo '?')
say "k1s benchmark$( [ $QUICK = 1 ] && echo ' (BENCH_QUICK: a short smoke run)'): $K1S, port $PORT, data in $WORK ($fs), $(nproc) CPUs"

# ---- 1. binary size -------------------------------------------------------------------
cp "$K1S" "$WORK/k1s.stripped"
strip "$WORK/k1s.stripped"
SIZE=$(stat -c %s "$WORK/k1s.stripped")
SIZE_UNSTRIPPED=$(stat -c %s "$K1S")
rm -f "$WORK/k1s.stripped"

# ---- 2. first boot, idle RSS and CPU on an empty store -----------------------------------
say "first boot on an empty data dir"
start_server
FIRST_MS=$READY_MS
sleep $SETTLE_S
measure rss --pid "$SERVER_PID"
IDLE_RSS_KB=$rss_kb
IDLE_THREADS=$threads
say "idle window: ${IDLE_S} s"
measure idle --pid "$SERVER_PID" --seconds "$IDLE_S"
check_alive "the idle window"

# ---- 3a. restarts on the empty store ------------------------------------------------------
say "restarts on the empty store: $STARTS"
EMPTY_ALL=
for _ in $(seq "$STARTS"); do
    stop_server
    start_server
    EMPTY_ALL="$EMPTY_ALL $READY_MS"
done
EMPTY_MS=$(echo "$EMPTY_ALL" | median)

# ---- 4/5. creates, next to raw SQLite on the same disk --------------------------------------
say "raw SQLite reference (${SQLITE_S} s, in $DATA/server/db)"
measure sqlite --dir "$DATA/server/db" --count "$OBJECTS" --seconds "$SQLITE_S"
RAW1=$sqlite_rate
say "creating $OBJECTS ConfigMaps of 1 KiB with $CLIENTS keep-alive HTTPS clients"
measure create --port "$PORT" --tls "$TLS" --clients $CLIENTS --count "$OBJECTS" --size 1024
check_alive "the creates"
say "raw SQLite reference again"
measure sqlite --dir "$DATA/server/db" --count "$OBJECTS" --seconds "$SQLITE_S"
RAW2=$sqlite_rate
RAW_RATE=$(awk -v a="$RAW1" -v b="$RAW2" 'BEGIN {print (a > b ? a : b)}')

sleep $SETTLE_S
measure rss --pid "$SERVER_PID"
FULL_RSS_KB=$rss_kb

say "full list of the ConfigMaps: $LIST_RUNS runs"
measure list --port "$PORT" --tls "$TLS" --runs "$LIST_RUNS" --path /api/v1/configmaps
check_alive "the lists"
LIST_ITEMS=$list_items LIST_MEDIAN_MS=$list_median_ms LIST_MIN_MS=$list_min_ms
LIST_MAX_MS=$list_max_ms LIST_BYTES=$list_bytes

# ---- authorization: the same get as the admin and as an RBAC user ---------------------------
# The admin is in system:masters, which the authorizer lets through before RBAC; the viewer's
# access comes from a RoleBinding, among 100 other bindings. Both requests take the same path
# otherwise, so the difference is what an RBAC decision costs.
say "authorization: get of one ConfigMap as the admin and as an RBAC user, $GET_RUNS runs each"
admin_curl() {
    curl -sS -o /dev/null --cacert "$TLS/server-ca.crt" --cert "$TLS/client-admin.crt" \
        --key "$TLS/client-admin.key" -H 'Content-Type: application/json' "$@"
}
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/viewer.key" \
    -out "$WORK/viewer.csr" -subj "/CN=bench-viewer" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$WORK/viewer.ext"
openssl x509 -req -in "$WORK/viewer.csr" -CA "$TLS/client-ca.crt" -CAkey "$TLS/client-ca.key" \
    -CAcreateserial -days 1 -out "$WORK/viewer.crt" -extfile "$WORK/viewer.ext" 2>/dev/null
API=https://127.0.0.1:$PORT
admin_curl -X POST -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"authz-bench"},"data":{"a":"b"}}' \
    "$API/api/v1/namespaces/default/configmaps"
rb() { # rb NAME USER
    admin_curl -X POST -d "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"$1\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"User\",\"name\":\"$2\"}]}" \
        "$API/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
}
for i in $(seq 100); do rb "other-$i" "someone-$i"; done
rb bench-viewer bench-viewer
measure get --port "$PORT" --tls "$TLS" --runs "$GET_RUNS" \
    --path /api/v1/namespaces/default/configmaps/authz-bench --client "$WORK/viewer"
check_alive "the authorization benchmark"

# ---- 3b. restarts on the populated store ------------------------------------------------------
STORED=$LIST_ITEMS
say "restarts with $STORED objects stored: $STARTS"
FULL_ALL=
for _ in $(seq "$STARTS"); do
    stop_server
    start_server
    FULL_ALL="$FULL_ALL $READY_MS"
done
FULL_MS=$(echo "$FULL_ALL" | median)
sleep $SETTLE_S
measure rss --pid "$SERVER_PID"
RESTART_RSS_KB=$rss_kb

# ---- 6a. HTTP/2: watches on one connection, get latency --------------------------------------
# Right after the restart, so the growth is that of a server that has not served watches yet.
say "HTTP/2: $WATCHERS watches on one connection; get latency, HTTP/2 and HTTP/1.1"
out=$("$H2" watches --port "$PORT" --tls "$TLS" --pid "$SERVER_PID" --watchers $WATCHERS --settle 2) ||
    SERVER_PROBLEMS="$SERVER_PROBLEMS; k1s-h2 watches reported failures (see above)"
eval "$out"
check_alive "the HTTP/2 watches"
for proto in h1 h2; do
    out=$("$H2" latency --port "$PORT" --tls "$TLS" --runs "$H2_GET_RUNS" --proto $proto \
        --path /api/v1/namespaces/default) ||
        SERVER_PROBLEMS="$SERVER_PROBLEMS; k1s-h2 latency $proto reported failures"
    eval "$out"
done
check_alive "the HTTP/2 latency runs"

# ---- 6. watch delivery ------------------------------------------------------------------------
say "watch: $WATCHERS watchers, writer at $WATCH_RATE/s for ${WATCH_S} s"
measure watch --port "$PORT" --tls "$TLS" --watchers $WATCHERS --rate $WATCH_RATE --seconds "$WATCH_S"
check_alive "the watch benchmark"
measure rss --pid "$SERVER_PID"
AFTER_WATCH_RSS_KB=$rss_kb

# ---- 7. custom objects next to ConfigMaps -------------------------------------------------------
# A CRD whose objects have a ConfigMap's shape and size (a schema'd data map), then rounds of
# custom-object and ConfigMap creates in turn on the same server; the best rate of each counts.
SAVED_CREATE="create_ok=$create_ok create_failed=$create_failed create_rate=$create_rate"
SAVED_CREATE="$SAVED_CREATE create_p50_ms=$create_p50_ms create_p99_ms=$create_p99_ms"
CR_COUNT=$((OBJECTS / 2))
say "a CRD, then $CR_COUNT custom objects and $CR_COUNT ConfigMaps in turn, 3 rounds"
measure crd --port "$PORT" --tls "$TLS"
CR_BEST=0 CM_BEST=0 CR_ALL= CM_ALL= CR_FAILED=0
for round in 1 2 3; do
    measure create --port "$PORT" --tls "$TLS" --clients $CLIENTS --count "$CR_COUNT" --size 1024 \
        --kind cr --prefix "cr$round"
    CR_ALL="$CR_ALL $create_rate" CR_FAILED=$((CR_FAILED + create_failed))
    CR_BEST=$(awk -v a="$CR_BEST" -v b="$create_rate" 'BEGIN {print (a > b ? a : b)}')
    CR_P50=$create_p50_ms CR_P99=$create_p99_ms
    measure create --port "$PORT" --tls "$TLS" --clients $CLIENTS --count "$CR_COUNT" --size 1024 \
        --prefix "cm$round"
    CM_ALL="$CM_ALL $create_rate"
    CM_BEST=$(awk -v a="$CM_BEST" -v b="$create_rate" 'BEGIN {print (a > b ? a : b)}')
done
check_alive "the custom object creates"
eval "$SAVED_CREATE"
stop_server

LOG_WARN=$(grep -c -E ' (warn|error|fatal) ' "$WORK/server.log" || true)
if [ "$LOG_WARN" -gt 0 ]; then
    SERVER_PROBLEMS="$SERVER_PROBLEMS; $LOG_WARN warn/error lines in the server log"
    say "server log warnings/errors (first 10):"
    grep -E ' (warn|error|fatal) ' "$WORK/server.log" | head -n 10 >&2
fi

# ---- the store benchmark ----------------------------------------------------------------
say "store benchmark (bench/store/run.sh)"
STORE_OUT=$(sh "$ROOT/bench/store/run.sh" "$WORK" 2>&1) || STORE_OUT="$STORE_OUT
(bench/store/run.sh failed)"

# ---- the table -----------------------------------------------------------------------------
# pad TEXT WIDTH: TEXT and spaces to WIDTH characters (UTF-8 aware, unlike printf's %-Ns)
pad() {
    n=$(printf %s "$1" | LC_ALL=C tr -d '\200-\277' | wc -c)
    printf '%s%*s' "$1" $(($2 > n ? $2 - n : 1)) ''
}
# row FIGURE MEASURED TARGET REFERENCE RATIO NOTES
row() {
    printf '  %s%s%s%s%s%s\n' "$(pad "$1" 46)" "$(pad "$2" 17)" "$(pad "$3" 17)" "$(pad "${4:-}" 19)" \
        "$(pad "${5:-}" 7)" "${6:-}"
}
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1e6}'; }
kb_mb() { awk -v k="$1" 'BEGIN {printf "%.1f MB", k * 1024 / 1e6}'; }
# verdict VALUE OP LIMIT -> "" or " (missed)"
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {ok = (op == "<=") ? v <= l : v >= l; if (!ok) printf " MISSED"}'; }

echo
echo "k1s benchmark$( [ $QUICK = 1 ] && echo ' (BENCH_QUICK smoke run: shorter windows, fewer objects)')"
echo "  $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'), $(nproc) CPUs, data dir on $fs; MB = 10^6 bytes"
echo
row figure measured target reference ratio notes
row "binary size (stripped)" "$(mb "$SIZE")" "≤ 4 MB$(verdict "$SIZE" '<=' 4000000)" "" "" \
    "unstripped $(mb "$SIZE_UNSTRIPPED")"
row "idle RSS, empty store" "$(kb_mb "$IDLE_RSS_KB")" \
    "≤ 15 MB$(verdict "$((IDLE_RSS_KB * 1024))" '<=' 15000000)" "" "" "$IDLE_THREADS thread(s)"
row "idle CPU over ${IDLE_S} s" "$(printf '%.3f %%' "$idle_cpu_pct")" \
    "≤ 0.1 %$(verdict "$idle_cpu_pct" '<=' 0.1)" "" "" \
    "of a core: ${idle_cpu_ms} ms CPU; $idle_wakeups_per_s wakeups/s"
row "start → /readyz, first boot" "$FIRST_MS ms" "(info)" "" "" "includes making the PKI"
row "start → /readyz, empty store" "$EMPTY_MS ms" "≤ 100 ms$(verdict "$EMPTY_MS" '<=' 100)" "" "" \
    "median of $STARTS restarts:$EMPTY_ALL"
row "start → /readyz, $STORED objects" "$FULL_MS ms" "≤ 1 s$(verdict "$FULL_MS" '<=' 1000)" "" "" \
    "median of $STARTS restarts:$FULL_ALL"
row "RSS after $OBJECTS creates of 1 KiB" "$(kb_mb "$FULL_RSS_KB")" \
    "≤ 60 MB$(verdict "$((FULL_RSS_KB * 1024))" '<=' 60000000)" "" "" \
    "$(kb_mb "$RESTART_RSS_KB") after the restarts"
row "list of $LIST_ITEMS ConfigMaps" "$LIST_MEDIAN_MS ms" "≤ 150 ms$(verdict "$LIST_MEDIAN_MS" '<=' 150)" "" "" \
    "median of $LIST_RUNS; min $LIST_MIN_MS, max $LIST_MAX_MS ms; $(mb "$LIST_BYTES")"
row "creates/s, $CLIENTS HTTPS clients" "$create_rate/s" "≥ 2000/s$(verdict "$create_rate" '>=' 2000)" \
    "raw SQLite $RAW_RATE/s" "$(awk -v a="$create_rate" -v b="$RAW_RATE" 'BEGIN {printf "%.2fx", a / b}')" \
    "$create_ok ok, $create_failed failed"
row "  create latency p50 / p99" "$create_p50_ms / $create_p99_ms ms" "(info)"
row "get as an RBAC user (authorization)" "$get_rbac_median_us µs" \
    "≤ +5 %$(verdict "$get_rbac_overhead_pct" '<=' 5)" "admin $get_admin_median_us µs" \
    "$(awk -v a="$get_rbac_median_us" -v b="$get_admin_median_us" 'BEGIN {printf "%.2fx", a / b}')" \
    "median of $get_runs each; +$get_rbac_overhead_pct % over system:masters"
row "custom object creates/s (CRD, schema)" "$CR_BEST/s" \
    "≥ 0.8x$(verdict "$(awk -v a="$CR_BEST" -v b="$CM_BEST" 'BEGIN {print a / b}')" '>=' 0.8)" \
    "ConfigMaps $CM_BEST/s" "$(awk -v a="$CR_BEST" -v b="$CM_BEST" 'BEGIN {printf "%.2fx", a / b}')" \
    "rounds:$CR_ALL vs$CM_ALL; p50 / p99 $CR_P50 / $CR_P99 ms; $CR_FAILED failed"
row "watch delay p50, $watch_watchers watchers" "$watch_p50_ms ms" "(info)" "" "" \
    "$watch_events events, $watch_missing missing, $watch_before_response before their response (as 0)"
row "watch delay p99" "$watch_p99_ms ms" "≤ 10 ms$(verdict "$watch_p99_ms" '<=' 10)" "" "" \
    "p90 $watch_p90_ms ms, max $watch_max_ms ms"
row "  from the writer's send, p50 / p99" "$watch_sent_p50_ms / $watch_sent_p99_ms ms" "(info)" "" "" \
    "request sent → event received"
row "  writer latency p50 / p99" "$watch_write_p50_ms / $watch_write_p99_ms ms" "(info)" "" "" \
    "$watch_writes writes at $WATCH_RATE/s"
row "$h2_watchers watches on one HTTP/2 connection" "$(kb_mb "$h2_watch_rss_delta_kb")" \
    "≤ 2 MB$(verdict "$((h2_watch_rss_delta_kb * 1024))" '<=' 2000000)" "" "" \
    "server RSS growth; $h2_watch_ok open, $h2_watch_events/$h2_watchers saw a create, $h2_registered_watchers_after_reset left after RST_STREAM"
row "get latency p50, HTTP/2" "$h2_get_p50_us µs" "(info)" "HTTP/1.1 $h1_get_p50_us µs" \
    "$(awk -v a="$h2_get_p50_us" -v b="$h1_get_p50_us" 'BEGIN {printf "%.2fx", a / b}')" \
    "GET /api/v1/namespaces/default x $H2_GET_RUNS, one connection; p99 $h2_get_p99_us vs $h1_get_p99_us µs"
echo
echo "  server RSS $(kb_mb "$AFTER_WATCH_RSS_KB") after the watch run"
if [ -n "$SERVER_PROBLEMS" ]; then
    echo "  problems:${SERVER_PROBLEMS#;}"
fi
echo
echo "store benchmark (bench/store/run.sh):"
echo "$STORE_OUT" | sed 's/^/  /'
