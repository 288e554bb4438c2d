#!/usr/bin/env bash
# The regression gate in its deterministic mode: ringrpc-bench counts the server's instructions
# per call (perf counters, else valgrind) for gate_server twice and for gate_server_slowed (the
# same server with an extra 32-byte copy per call, a byte at a time: about 10% more
# instructions); `compare` must pass the unchanged build and flag the slowed one, with a 3%
# allowance.
#
# usage: regression_gate_test.sh BIN_DIR SANITIZED(0|1)
set -euo pipefail
bin=$1
sanitized=$2
test_name=regression_gate
source "$(dirname "$0")/../../scripts/process_helpers.sh"

if [ "$sanitized" = 1 ]; then
  # perf counters would work, but there are none on these VMs, and valgrind cannot run
  # AddressSanitizer binaries: the gate is tested in the plain build.
  skip "a sanitizer build: valgrind cannot count instructions of AddressSanitizer binaries"
fi
command -v valgrind >/dev/null || skip "valgrind is not installed (scripts/install-deps.sh)"

count() {  # count SERVER OUT.json
  "$bin/ringrpc-bench" --instructions --quiet \
    --spawn "$bin/$1 --port 0 --no-register --shards 1 --backend epoll" \
    --prog 0x31230000 --proc 1 --args-hex 00000007 --calls 3000 --repetitions 3 \
    --label "$1" --json "$2" >"$work/$1.txt" 2>&1 || { cat "$work/$1.txt"; fail "counting $1"; }
  cat "$work/$1.txt"
}
count gate_server "$work/base.json"
count gate_server "$work/same.json"
count gate_server_slowed "$work/slow.json"

echo "== unchanged build"
if ! "$bin/ringrpc-bench" compare "$work/base.json" "$work/same.json" --max-regression 3; then
  fail "compare flagged an unchanged build"
fi
echo "== slowed build"
set +e
"$bin/ringrpc-bench" compare "$work/base.json" "$work/slow.json" --max-regression 3
rc=$?
set -e
[ "$rc" = 1 ] || fail "compare did not flag the slowed build (exit $rc, want 1)"
echo "regression_gate: PASSED"
