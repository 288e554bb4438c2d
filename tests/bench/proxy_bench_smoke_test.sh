#!/usr/bin/env bash
# bench/proxy/proxy_bench.sh still runs end to end and prints what bench/README.md quotes: one
# short round of NULL with --cpu and --loop, and one of ECHO 4 KiB over a Unix link with Alice
# reaching the servers over TCP, each table well formed. Nothing here gates on the numbers (one round
# on a loaded 2-core machine says nothing); bench/README.md has the measured ones.
#
# usage: proxy_bench_smoke_test.sh BIN_DIR
set -euo pipefail
bin=$1
test_name=proxy_bench_smoke
source "$(dirname "$0")/../../scripts/process_helpers.sh"
script=$(dirname "$0")/../../bench/proxy/proxy_bench.sh

"$script" --help | grep -q -- '--cpu' || fail "--help does not list --cpu"
"$script" --help | grep -q -- '--loop' || fail "--help does not list --loop"
"$script" "$bin" --rounds 1 --duration 1 --cpu --loop >"$work/null.out" 2>&1 ||
  fail "proxy_bench.sh --cpu --loop failed: $(cat "$work/null.out")"
num='[0-9]+(\.[0-9]+)?'
grep -Eq "^1 +[0-9]+ +[0-9]+ +$num +$num/$num\$" "$work/null.out" || fail "no round line: $(cat "$work/null.out")"
grep -Eq "^ +direct: +client $num\+$num +server $num\+$num +all $num\$" "$work/null.out" ||
  fail "no CPU line for the direct run: $(cat "$work/null.out")"
grep -Eq "^ +proxied: +client $num\+$num +bob $num\+$num +alice $num\+$num +server $num\+$num +all $num\$" \
  "$work/null.out" || fail "no CPU line for the proxied run: $(cat "$work/null.out")"
side='[a-z]+ [0-9]+(\.[0-9]+)? calls, [0-9.]+ sends, [0-9.]+ receives an iteration, [0-9]+ empty polls'
grep -Eq "^ +loops: bob [1-9]" "$work/null.out" && grep -Eq "^ +loops: $side;  $side\$" "$work/null.out" ||
  fail "no loop line for the proxied run (or Bob's loop answered no calls): $(cat "$work/null.out")"
grep -q '^proxied/direct throughput: median' "$work/null.out" || fail "no summary: $(cat "$work/null.out")"
grep -Eq '^rounds with under 5% steal in both runs: (1 of 1, median|none of 1)' "$work/null.out" ||
  fail "no quiet-rounds line: $(cat "$work/null.out")"

"$script" "$bin" --rounds 1 --duration 1 --workload echo4k --link unix --server-leg tcp \
  >"$work/echo.out" 2>&1 || fail "proxy_bench.sh echo4k/unix/tcp failed: $(cat "$work/echo.out")"
grep -q 'link over unix, Alice to the servers over tcp' "$work/echo.out" &&
  grep -q '^proxied/direct throughput: median' "$work/echo.out" ||
  fail "echo4k over a Unix link: $(cat "$work/echo.out")"
if "$script" "$bin" --duration 0.5 --cpu >"$work/short.out" 2>&1; then
  fail "--cpu with a 0.5 s run was accepted"
fi
grep -q 'needs --duration 1 or more' "$work/short.out" || fail "$(cat "$work/short.out")"
echo "$test_name: ok"
