#!/usr/bin/env bash
# RPC over the shared-memory transport against its baselines, side by side in one run, round by
# round (issue 8): between two processes, a raw shared-memory ring and an eventfd ping-pong
# (ringrpc-pingpong), and loopback TCP; the engine (square-server and ringrpc-bench, NULL calls)
# over shared memory and over TCP.
#
#   spin       one call at a time, both loops polling (--idle-poll 200): p50 against ring_spin
#              (target: within 2x); and NULL calls pipelined on one connection (target: 3 M/s)
#   no spin    one call at a time, loops sleeping at once (--idle-poll 0): p50 against the
#              eventfd ping-pong (target: within 1.5x); TCP beside it, engine and raw
#
# Each round runs every row once, in this order, and its ratios compare rows of the same round.
# The summary gives the median of the rounds and the range. Spinning needs both cores: run it on
# an otherwise idle machine.
#
# usage: shm_engine_bench.sh BIN_DIR [--rounds N] [--duration S] [--depth D] [--poll US]
set -euo pipefail
case ${1:-} in
  -h|--help|'') sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; [ -n "${1:-}" ]; exit ;;
esac
bin=$1
shift
rounds=5 duration=2 depth=64 poll=200
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --depth) depth=$2; shift 2 ;;
    --poll) poll=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "shm_engine_bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
source "$(dirname "$0")/../../scripts/process_helpers.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"

prog=824377344  # SQUARE_PROG; procedure 0 (NULL)
start spin "$bin/square-server" --no-register --shards 1 --idle-poll "$poll" --shm "$work/spin.shm"
start sleep "$bin/square-server" --no-register --shards 1 --shm "$work/sleep.shm"
tcp_port=$(field sleep tcp)

bench() {  # bench NAME FIELD ringrpc-bench-options...: prints the field of the summary
  local name=$1 key=$2
  shift 2
  "$bin/ringrpc-bench" --prog "$prog" --duration "$duration" --warmup 0.5 --repetitions 1 \
    --quiet --json "$work/$name.json" "$@" >/dev/null
  jq -e '.summary.errors == 0' "$work/$name.json" >/dev/null ||
    fail "errors in $name: $(jq -c .summary "$work/$name.json")"
  jq -r ".summary.$key" "$work/$name.json"
}
pingpong() {  # pingpong KIND: prints its p50 in us
  "$bin/ringrpc-pingpong" --kind "$1" --duration "$duration" | sed -E 's/.*p50_us=([0-9.]+).*/\1/'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
summary() {  # summary LABEL TARGET VALUES...: median and range
  local label=$1 target=$2
  shift 2
  printf '%s\n' "$@" | sort -g | awk -v l="$label" -v t="$target" \
    '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
       printf "%-34s median %10.2f   min %10.2f   max %10.2f   %s\n", l, m, a[1], a[NR], t }'
}

echo "NULL calls, ${duration} s per row, $rounds rounds; spinning loops poll ${poll} us; pipelined: 1 connection x $depth"
printf '%-5s | %9s %9s %6s %10s | %9s %9s %6s | %9s %9s\n' round ring_spin rpc_spin ratio \
  pipelined eventfd rpc_wake ratio tcp rpc_tcp
printf '%-5s | %9s %9s %6s %10s | %9s %9s %6s | %9s %9s\n' "" "p50 us" "p50 us" "" "calls/s" \
  "p50 us" "p50 us" "" "p50 us" "p50 us"
r_spin=() r_pipe=() r_wake=() r_tcp=() v_ring=() v_rpc=() v_efd=() v_wake=()
for r in $(seq "$rounds"); do
  ring=$(pingpong ring_spin)
  rpc=$(bench "spin-$r" p50_us --shm "$work/spin.shm" --idle-poll "$poll")
  pipe=$(bench "pipe-$r" calls_per_sec --shm "$work/spin.shm" --idle-poll "$poll" --depth "$depth")
  efd=$(pingpong eventfd)
  wake=$(bench "wake-$r" p50_us --shm "$work/sleep.shm")
  tcp=$(pingpong tcp)
  rtcp=$(bench "tcp-$r" p50_us --port "$tcp_port" --no-shm)
  r_spin+=("$(ratio "$rpc" "$ring")")
  r_wake+=("$(ratio "$wake" "$efd")")
  r_tcp+=("$(ratio "$rtcp" "$wake")")
  r_pipe+=("$pipe")
  v_ring+=("$ring") v_rpc+=("$rpc") v_efd+=("$efd") v_wake+=("$wake")
  printf '%-5s | %9.3f %9.3f %6s %10.0f | %9.1f %9.1f %6s | %9.1f %9.1f\n' "$r" "$ring" "$rpc" \
    "${r_spin[-1]}" "$pipe" "$efd" "$wake" "${r_wake[-1]}" "$tcp" "$rtcp"
done
echo
summary "raw ring p50 (us)" "" "${v_ring[@]}"
summary "rpc over shm, spinning, p50 (us)" "" "${v_rpc[@]}"
summary "  / raw ring" "target <= 2" "${r_spin[@]}"
summary "pipelined NULL calls/s (M)" "target >= 3" $(printf '%s\n' "${r_pipe[@]}" | awk '{ print $1 / 1e6 }')
summary "eventfd ping-pong p50 (us)" "" "${v_efd[@]}"
summary "rpc over shm, no spin, p50 (us)" "" "${v_wake[@]}"
summary "  / eventfd ping-pong" "target <= 1.5" "${r_wake[@]}"
summary "rpc over tcp / rpc over shm (no spin)" "" "${r_tcp[@]}"
