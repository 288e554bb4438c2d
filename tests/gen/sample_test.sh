#!/usr/bin/env bash
# The programs ringrpc-gen --sample-server/--sample-client writes build as they are (CMake built
# them) and run: the sample client calls every procedure of the sample server and succeeds.
# usage: sample_test.sh SERVER CLIENT
set -euo pipefail
out=$(mktemp)
"$1" >"$out" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q '^listening' "$out" && break; sleep 0.05; done
tcp=$(sed -E 's/.*tcp=([0-9]+).*/\1/' "$out")
udp=$(sed -E 's/.*udp=([0-9]+).*/\1/' "$out")
"$2" 127.0.0.1 tcp "$tcp"
"$2" 127.0.0.1 udp "$udp" >/dev/null
kill -TERM $pid
wait $pid
