#!/bin/sh
# Runs the cmocka unit-test binaries, UNIT_JOBS at a time (most of their time is spent
# waiting on timers, not on the CPU), shows the output of each one that fails, and prints
# one summary line.
jobs=${UNIT_JOBS:-4}
out=$(mktemp -d /tmp/k1s-unit-XXXXXX)
printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh -c '
    log="$2/$(echo "$1" | tr / _)"
    if "$1" >"$log.out" 2>&1; then echo 0 >"$log.rc"; else echo 1 >"$log.rc"; fi' _ {} "$out"
pass=0
fail=0
for t in "$@"; do
    log="$out/$(echo "$t" | tr / _)"
    if [ "$(cat "$log.rc" 2>/dev/null)" = 0 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        cat "$log.out"
        echo "FAILED: $t"
    fi
done
rm -rf "$out"
echo "unit test programs: $pass passed, $fail failed"
[ "$fail" = 0 ]
