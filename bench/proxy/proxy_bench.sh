#!/usr/bin/env bash
# The proxy pair against a direct connection, side by side in one run (issue: "the proxy pair
# keeps at least 0.5x the direct throughput with pipelined calls").
#
# Two systems on this host, as in Legato's helloRpc: "Alice" runs the real servers
# (square-server and echo-server, not registered: the proxies know their ports) and a
# ringrpc-proxy that offers them; "Bob" runs a ringrpc-proxy whose local listeners stand for
# them. The link is networkSocket over TCP loopback. Alice's proxy reaches the servers over
# shared memory, as it does any ringrpc server on its host that offers it (the direct runs go
# to the same servers over TCP, as the proxied ones reach Bob; with --client-leg shm both over
# shared memory). ringrpc-bench drives, round by round and interleaved, the server directly and
# the same server through Bob -> Alice, and the script prints each round's ratio (and how much
# of the host's CPU the hypervisor took for other guests in each run), then the median and
# spread.
#
# usage: proxy_bench.sh BIN_DIR [--rounds N] [--duration S] [--connections C] [--depth D]
#                                [--workload null|square|echo4k|echo64k] [--threads T]
#                                [--link tcp|unix]    (the link: networkSocket's TCP, or Unix)
#                                [--server-leg shm|tcp]  (how Alice reaches the servers)
#                                [--client-leg tcp|shm]  (how ringrpc-bench reaches the server
#                                    and Bob: shm offers Bob's services with --shm-dir and
#                                    calls both over shared memory)
#                                [--cpu]  (also each process's CPU time per call, from /proc)
#                                [--loop] (also each proxy's loop per proxied run: calls and
#                                    socket sends and receives an iteration, polls that found
#                                    nothing; from ringrpc-tool stats)
# PROXY_OPTS in the environment adds options to both proxies (e.g. "--idle-poll 50"), ALICE_OPTS
# or BOB_OPTS to one of them, SERVER_OPTS to the two servers (which the direct runs call too),
# BENCH_OPTS to every ringrpc-bench run.
set -euo pipefail
case ${1:-} in
  -h|--help|'') sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; [ -n "${1:-}" ]; exit ;;
esac
bin=$1
shift
rounds=5 duration=3 connections=16 depth=32 workload=null threads=1 link=tcp leg=shm cpu=0
client_leg=tcp loop=0
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
    --client-leg) client_leg=$2; shift 2 ;;
    --cpu) cpu=1; shift ;;
    --loop) loop=1; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "proxy_bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
source "$(dirname "$0")/../../scripts/process_helpers.sh"
source "$(dirname "$0")/../../scripts/proxy_helpers.sh"
if [ "$cpu" = 1 ] && ! awk -v d="$duration" 'BEGIN { exit !(d >= 1) }'; then
  fail "--cpu needs --duration 1 or more (it samples from 0.25 s in to 0.5 s before the end)"
fi
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
case $client_leg in
  tcp) bob_shm=() ;;
  shm) bob_shm=(--shm-dir "$work") ;;
  *) fail "unknown client leg $client_leg (tcp, shm)" ;;
esac
start_proxy bob --no-register --quiet --retry 200 "${bob_shm[@]}" ${PROXY_OPTS:-} ${BOB_OPTS:-}
wait_for 10 bob '[.bindings[].connected] | all' || fail "Bob's bindings did not connect: $(status bob)"
[ "$(status alice | jq -r '[.externs[] | select(.kind == "server") | .transport] | unique | join(",")')" = "$leg" ] ||
  fail "Alice does not reach the servers over $leg: $(status alice | jq -c .externs)"

if [ "$prog" = "$sq" ]; then direct=$(field square tcp) proxied=$(local_port bob squareClient)
else direct=$(field echo tcp) proxied=$(local_port bob echoClient); fi
if [ "$client_leg" = shm ]; then
  if [ "$prog" = "$sq" ]; then direct=$work/square.shm proxied=$work/squareClient.shm
  else direct=$work/echo.shm proxied=$work/echoClient.shm; fi
fi
if [ "$prog" = "$sq" ]; then server_pid=$pid_square; else server_pid=$pid_echo; fi
if [ "$prog" = "$sq" ]; then binding=squareClient; else binding=echoClient; fi
# --loop: a proxy's loop counters and the calls Bob's binding answered, as one JSON object.
loop_of() {
  status "$1" | jq -c --arg b "$binding" \
    '.loop + {calls: ([.bindings[]? | select(.serviceName == $b) | .stats.calls] | add // 0)}'
}
# --loop: what each proxy's loop did between two loop_of readings of each, calls counted at Bob
# (each call crosses both proxies once each way).
loop_line() {  # loop_line BOB_BEFORE BOB_AFTER ALICE_BEFORE ALICE_AFTER
  jq -rn --argjson b1 "$1" --argjson b2 "$2" --argjson a1 "$3" --argjson a2 "$4" '
    ($b2.calls - $b1.calls) as $calls
    | def per(n; x; y): if y.iterations > x.iterations then n / (y.iterations - x.iterations)
        else 0 end;
      def side(name; x; y): "\(name) \(per($calls; x; y) | . * 10 | round / 10) calls,"
        + " \(per(y.sendCalls - x.sendCalls; x; y) | . * 100 | round / 100) sends,"
        + " \(per(y.recvCalls - x.recvCalls; x; y) | . * 100 | round / 100) receives an iteration,"
        + " \(y.idlePollMisses - x.idlePollMisses) empty polls";
      side("bob"; $b1; $b2) + ";  " + side("alice"; $a1; $a2)'
}
# --cpu: user and system time (clock ticks, /proc/PID/stat fields 14 and 15) of each process,
# sampled inside the measured window: from a quarter second after the warm-up to half a second
# before the end. A process gone by then reads as "x".
ticks() {
  local p
  for p in "$@"; do
    awk '{ sub(/^.*\) /, ""); printf "%s %s ", $12, $13 }' "/proc/$p/stat" 2>/dev/null ||
      printf 'x x '
  done
}
hz=$(getconf CLK_TCK)
window=$(awk -v d="$duration" 'BEGIN { print d - 0.75 }')  # seconds between the two samples
cpu_line=""
run() {  # run TARGET JSON [NAME PID]... (TARGET: a port, or with --client-leg shm a socket; the
         # processes whose CPU --cpu reports, besides the client)
  local target=$1 json=$2
  shift 2
  local to=(--port "$target")
  [ "$client_leg" = shm ] && to=(--transport shm --shm "$target")
  "$bin/ringrpc-bench" "${to[@]}" --prog "$prog" --proc "$proc" "${args[@]}" \
    --connections "$connections" --depth "$depth" --threads "$threads" --duration "$duration" \
    --warmup 1 --repetitions 1 ${BENCH_OPTS:-} --json "$json" >/dev/null &
  local bench=$! before="" after="" names=(client) measured=()
  track "$bench"
  if [ "$cpu" = 1 ]; then
    measured=("$bench")
    while [ $# -gt 0 ]; do names+=("$1"); measured+=("$2"); shift 2; done
    sleep 1.25  # the warm-up and a quarter second
    before=$(ticks "${measured[@]}")
    sleep "$window"
    after=$(ticks "${measured[@]}")
  fi
  reap "$bench" || fail "ringrpc-bench failed ($target)"
  jq -e '.summary.errors == 0' "$json" >/dev/null || fail "errors in $json: $(jq -c .summary "$json")"
  local rate
  rate=$(jq -r '.summary.calls_per_sec' "$json")
  if [ "$cpu" = 1 ]; then
    # us per call: ticks / hz / (rate x window) x 1e6, user + system for each process.
    cpu_line=$(awk -v b="$before" -v a="$after" -v rate="$rate" -v hz="$hz" \
      -v w="$window" -v names="${names[*]}" '
      BEGIN { n = split(b, x, " "); split(a, y, " "); split(names, nm, " "); calls = rate * w
        for (i = 1; i <= n; i += 2) {
          if (x[i] == "x" || y[i] == "x") { out = out nm[(i + 1) / 2] " x  "; bad = 1; continue }
          u = (y[i] - x[i]) / hz / calls * 1e6; s = (y[i + 1] - x[i + 1]) / hz / calls * 1e6
          out = out sprintf("%s %.2f+%.2f  ", nm[(i + 1) / 2], u, s); t += u + s }
        if (bad) printf "%s", out; else printf "%sall %.2f", out, t }')
  fi
  echo "$rate"
}
echo "workload $workload: ${connections} connections x ${depth} in flight, ${duration} s per run," \
  "$rounds interleaved rounds, link over $link, Alice to the servers over $leg," \
  "the client to the server and to Bob over $client_leg"
steal_of() {  # steal_of RESULT.json: the run's host_steal_pct to one decimal, "-" if unread
  jq -r '.repetitions[0].host_steal_pct // "-"' "$1" |
    awk '{ if ($1 == "-") print "-"; else printf "%.1f\n", $1 }'
}
# steal: the share of the host's CPU time the hypervisor gave other guests during each of the
# round's two runs (ringrpc-bench's host_steal_pct); rounds with much of it say more about the
# neighbours than about the proxies.
printf '%-6s %14s %14s %8s %12s\n' round direct proxied ratio 'steal d/p %'
[ "$cpu" = 1 ] && echo "(--cpu: each process's CPU time per call in us, user+system, in the line under its run)"
[ "$loop" = 1 ] && echo "(--loop: each proxy's loop during the proxied run, warm-up included, in the line under it)"
ratios=() quiet=()
for r in $(seq "$rounds"); do
  run "$direct" "$work/direct-$r.json" server "$server_pid" >"$work/rate"
  d=$(cat "$work/rate")
  dcpu=$cpu_line
  if [ "$loop" = 1 ]; then lb=$(loop_of bob) la=$(loop_of alice); fi
  run "$proxied" "$work/proxy-$r.json" bob "$pid_bob" alice "$pid_alice" server "$server_pid" \
    >"$work/rate"
  p=$(cat "$work/rate")
  [ "$loop" = 1 ] && loop_text=$(loop_line "$lb" "$(loop_of bob)" "$la" "$(loop_of alice)")
  ratio=$(awk -v p="$p" -v d="$d" 'BEGIN { printf "%.3f", p / d }')
  ratios+=("$ratio")
  sd=$(steal_of "$work/direct-$r.json") sp=$(steal_of "$work/proxy-$r.json")
  steal="$sd/$sp"
  # ringrpc-bench's threshold for a note (bench/loadgen/host_cpu.h, kNotableSteal)
  if awk -v d="$sd" -v p="$sp" 'BEGIN { exit !(d != "-" && p != "-" && d < 5 && p < 5) }'; then
    quiet+=("$ratio")
  fi
  printf '%-6s %14.0f %14.0f %8s %12s\n' "$r" "$d" "$p" "$ratio" "$steal"
  if [ "$cpu" = 1 ]; then
    echo "         direct:  $dcpu"
    echo "         proxied: $cpu_line"
  fi
  if [ "$loop" = 1 ]; then echo "         loops: $loop_text"; fi
done
summary() {  # summary RATIO...: "median Mx (min A, max B)"
  local sorted
  sorted=$(printf '%s\n' "$@" | sort -g)
  echo "median $(echo "$sorted" | awk '{ a[NR] = $1 }
    END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')x" \
    "(min $(echo "$sorted" | head -1), max $(echo "$sorted" | tail -1))"
}
echo "proxied/direct throughput: $(summary "${ratios[@]}"); target >= 0.5x"
if [ "${#quiet[@]}" -gt 0 ]; then
  echo "rounds with under 5% steal in both runs: ${#quiet[@]} of $rounds, $(summary "${quiet[@]}")"
else
  echo "rounds with under 5% steal in both runs: none of $rounds (a busy host: see bench/README.md)"
fi
tool bob stats
