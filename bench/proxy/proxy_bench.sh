#!/usr/bin/env bash
# The proxy pair against a direct connection, side by side in one run (issue: "the proxy pair
# keeps at least 0.5x the direct throughput with pipelined calls").
#
# Two systems on this host, as in Legato's helloRpc: "Alice" runs the real servers
# (square-server and echo-server, not registered: the proxies know their ports) and a
# ringrpc-proxy that offers them; "Bob" runs a ringrpc-proxy whose local listeners stand for
# them. The link is networkSocket over TCP loopback. Alice's proxy reaches the servers over
# shared memory, as it does any ringrpc server on its host that offers it (the direct runs go
# to the same servers over TCP, as the proxied ones reach Bob). ringrpc-bench drives, round by
# round and interleaved, the server directly and the same server through Bob -> Alice, and the
# script prints each round's ratio, then the median and spread.
#
# usage: proxy_bench.sh BIN_DIR [--rounds N] [--duration S] [--connections C] [--depth D]
#                                [--workload null|square|echo4k|echo64k] [--threads T]
#                                [--link tcp|unix]    (the link: networkSocket's TCP, or Unix)
#                                [--server-leg shm|tcp]  (how Alice reaches the servers)
# PROXY_OPTS in the environment adds options to both proxies (e.g. "--idle-poll 50"), ALICE_OPTS
# or BOB_OPTS to one of them, SERVER_OPTS to the two servers (which the direct runs call too),
# BENCH_OPTS to every ringrpc-bench run.
set -euo pipefail
case ${1:-} in
  -h|--help|'') sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; [ -n "${1:-}" ]; exit ;;
esac
bin=$1
shift
rounds=5 duration=3 connections=16 depth=32 workload=null threads=1 link=tcp leg=shm
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --depth) depth=$2; shift 2 ;;
    --workload) workload=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --link) link=$2; shift 2 ;;
    --server-leg) leg=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "proxy_bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
source "$(dirname "$0")/../../scripts/process_helpers.sh"
source "$(dirname "$0")/../../scripts/proxy_helpers.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"

sq=824377344
ec=824377345
case $workload in
  null) prog=$sq proc=0 args=() ;;
  square) prog=$sq proc=1 args=(--args-hex 00000007) ;;
  echo4k) prog=$ec proc=1 args=(--payload 4096) ;;
  echo64k) prog=$ec proc=1 args=(--payload 65536) ;;
  *) fail "unknown workload $workload (null, square, echo4k, echo64k)" ;;
esac

start square "$bin/square-server" --port 0 --no-register --shards 1 --shm "$work/square.shm" \
  ${SERVER_OPTS:-}
start echo "$bin/echo-server" --port 0 --no-register --shards 1 --shm "$work/echo.shm" \
  ${SERVER_OPTS:-}
case $leg in
  shm) declare_hello "shm $work/square.shm" "shm $work/echo.shm" ;;
  tcp) declare_hello "$(field square tcp)" "$(field echo tcp)" ;;
  *) fail "unknown server leg $leg (shm, tcp)" ;;
esac
case $link in
  tcp) tool alice set link Bob LinkToBob "127.0.0.1 0" ;;
  unix) tool alice set link Bob LinkToBob "unix $work/link.sock" ;;
  *) fail "unknown link $link (tcp, unix)" ;;
esac
start_proxy alice --no-register --quiet ${PROXY_OPTS:-} ${ALICE_OPTS:-}
tool bob set binding squareClient Alice squareServer
tool bob set binding echoClient Alice echoServer
if [ "$link" = tcp ]; then
  tool bob set link Alice LinkToAlice "127.0.0.1 $(link_port alice Bob)"
else
  tool bob set link Alice LinkToAlice "unix $work/link.sock"
fi
start_proxy bob --no-register --quiet --retry 200 ${PROXY_OPTS:-} ${BOB_OPTS:-}
wait_for 10 bob '[.bindings[].connected] | all' || fail "Bob's bindings did not connect: $(status bob)"
[ "$(status alice | jq -r '[.externs[] | select(.kind == "server") | .transport] | unique | join(",")')" = "$leg" ] ||
  fail "Alice does not reach the servers over $leg: $(status alice | jq -c .externs)"

if [ "$prog" = "$sq" ]; then direct=$(field square tcp) proxied=$(local_port bob squareClient)
else direct=$(field echo tcp) proxied=$(local_port bob echoClient); fi
run() {  # run PORT JSON
  "$bin/ringrpc-bench" --port "$1" --prog "$prog" --proc "$proc" "${args[@]}" \
    --connections "$connections" --depth "$depth" --threads "$threads" --duration "$duration" \
    --warmup 1 --repetitions 1 ${BENCH_OPTS:-} --json "$2" >/dev/null
  jq -e '.summary.errors == 0' "$2" >/dev/null || fail "errors in $2: $(jq -c .summary "$2")"
  jq -r '.summary.calls_per_sec' "$2"
}
echo "workload $workload: ${connections} connections x ${depth} in flight, ${duration} s per run," \
  "$rounds interleaved rounds, link over $link, Alice to the servers over $leg"
printf '%-6s %14s %14s %8s\n' round direct proxied ratio
ratios=()
for r in $(seq "$rounds"); do
  d=$(run "$direct" "$work/direct-$r.json")
  p=$(run "$proxied" "$work/proxy-$r.json")
  ratio=$(awk -v p="$p" -v d="$d" 'BEGIN { printf "%.3f", p / d }')
  ratios+=("$ratio")
  printf '%-6s %14.0f %14.0f %8s\n' "$r" "$d" "$p" "$ratio"
done
sorted=$(printf '%s\n' "${ratios[@]}" | sort -g)
median=$(echo "$sorted" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
echo "proxied/direct throughput: median ${median}x (min $(echo "$sorted" | head -1)," \
  "max $(echo "$sorted" | tail -1)); target >= 0.5x"
tool bob stats
