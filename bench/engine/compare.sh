#!/usr/bin/env bash
# The engine's performance figures, each side by side with its baseline in the same run, as
# ratios (bench/README.md "Engine"). Rounds are interleaved so that drift on a noisy machine hits
# every server alike; the table shows medians and the spread (min-max) over the rounds.
#
#   bench/engine/compare.sh [ROUNDS] [SECONDS]     (defaults: 5 rounds of 3 s per measurement)
#   BACKEND=epoll bench/engine/compare.sh          (ringrpc's servers on epoll; default auto)
#
# Servers (all on 127.0.0.1, 2 shards where they have shards): ringrpc's square-server and
# echo-server, the libtirpc rpcgen server (build/bin/tirpc_peer, built with the tests), and
# ringrpc-raw-echo, which returns every byte it reads and does no RPC work (the machine's limit).
# The load client is ringrpc-load for all of them. Stops only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-build/bin}
rounds=${1:-5}
secs=${2:-3}
for b in square-server echo-server tirpc_peer ringrpc-raw-echo ringrpc-load; do
  [ -x "$bin/$b" ] || { echo "compare: $bin/$b is missing; build first (see README)" >&2; exit 1; }
done
source scripts/process_helpers.sh

backend=${BACKEND:-auto}
start ringrpc "$bin/square-server" --no-register --shards 2 --backend "$backend"
start echo "$bin/echo-server" --no-register --shards 2 --backend "$backend"
start raw "$bin/ringrpc-raw-echo" --shards 2 --backend "$backend"
start tirpc "$bin/tirpc_peer" server
ringrpc=$(field ringrpc tcp)
echo_srv=$(field echo tcp)
raw=$(field raw tcp)
tirpc=$(field tirpc tcp)
square=0x31230000
echo_prog=0x31230001

# load LABEL PORT ARGS...: one measurement, appended to the results as "LABEL json".
load() {
  local label=$1 port=$2
  shift 2
  local out
  if out=$("$bin/ringrpc-load" --port "$port" --duration "$secs" --warmup 0.5 --json "$@" 2>&1); then
    echo "$label $out" >>"$work/results"
  else
    echo "compare: $label failed: $out" >&2
  fi
}

for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  load null.ringrpc "$ringrpc" --prog $square --connections 16 --depth 32
  load null.tirpc "$tirpc" --prog $square --connections 16 --depth 32
  load null.raw "$raw" --prog $square --connections 16 --depth 32 --raw
  load pingpong.ringrpc "$ringrpc" --prog $square --connections 1 --depth 1
  load pingpong.raw "$raw" --prog $square --connections 1 --depth 1 --raw
  load bulk.ringrpc "$echo_srv" --prog $echo_prog --proc 1 --payload 1048576 --connections 1 --depth 2
  load bulk.raw "$raw" --prog $echo_prog --proc 1 --payload 1048576 --connections 1 --depth 2 --raw
done

# Memory of idle connections: the server's resident set before and while 10000 connections that
# send nothing are open (the kernel's socket memory is not in it: user space only).
idle_conns=10000
ulimit -n $((2 * idle_conns + 1024)) 2>/dev/null || true
idle_pid=$pid_ringrpc
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
rss_before=$(rss "$idle_pid")
"$bin/ringrpc-load" --port "$ringrpc" --idle --connections $idle_conns --threads 2 --duration 4 \
  --warmup 0 >"$work/idle.out" 2>&1 &
idle_load=$!
sleep 3
rss_during=$(rss "$idle_pid")
wait $idle_load || echo "compare: idle connections: $(cat "$work/idle.out")" >&2

# Medians and spreads per label and figure, then the table.
awk '
function field(s, k,   m) { if (match(s, "\"" k "\":[0-9.]+")) { m = substr(s, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0 } return -1 }
function median(arr, n,   i, j, t, a) {
  for (i = 1; i <= n; i++) a[i] = arr[i]
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
  label = $1; json = substr($0, length($1) + 2)
  n[label]++
  split("calls_per_sec mb_per_sec p50_us p99_us", keys, " ")
  for (k in keys) { v = field(json, keys[k]); val[label, keys[k], n[label]] = v
    if (!((label, keys[k]) in lo) || v < lo[label, keys[k]]) lo[label, keys[k]] = v
    if (!((label, keys[k]) in hi) || v > hi[label, keys[k]]) hi[label, keys[k]] = v }
}
function med(label, key,   i, a) { for (i = 1; i <= n[label]; i++) a[i] = val[label, key, i]; return median(a, n[label]) }
function row(what, base, ours, key, fmt, target, better,   mb, mo, ratio) {
  mb = med(base, key); mo = med(ours, key)
  ratio = (better == "higher") ? (mb > 0 ? mo / mb : 0) : (mo > 0 ? mb / mo : 0)
  printf "| %s | " fmt " (" fmt "-" fmt ") | " fmt " (" fmt "-" fmt ") | %.2fx | %s |\n", what,
    mo, lo[ours, key], hi[ours, key], mb, lo[base, key], hi[base, key], ratio, target
}
END {
  print "| measurement | ringrpc median (min-max) | baseline median (min-max) | ratio | target |"
  print "|---|---|---|---|---|"
  row("NULL calls/s, 16 conn x 32 in flight, vs libtirpc rpcgen server", "null.tirpc", "null.ringrpc", "calls_per_sec", "%.0f", ">= 10x", "higher")
  row("NULL calls/s, 16 conn x 32 in flight, vs raw echo (no RPC)", "null.raw", "null.ringrpc", "calls_per_sec", "%.0f", ">= 0.7x", "higher")
  row("one call at a time, p50 us, vs raw ping-pong (ratio = raw/ours)", "pingpong.raw", "pingpong.ringrpc", "p50_us", "%.1f", ">= 0.83x (within 1.2x)", "lower")
  printf "| one call at a time, p99/p50 of ringrpc | %.2f | | | <= 2 |\n", med("pingpong.ringrpc", "p99_us") / med("pingpong.ringrpc", "p50_us")
  row("1 MiB ECHO, MB/s, vs raw echo of the same records", "bulk.raw", "bulk.ringrpc", "mb_per_sec", "%.0f", ">= 0.7x", "higher")
  printf "| user-space memory per idle connection (%d connections, server RSS %d -> %d KiB) | %.0f bytes | | | <= 2048 bytes |\n", "'"$idle_conns"'", "'"$rss_before"'", "'"$rss_during"'", ("'"$rss_during"'" - "'"$rss_before"'") * 1024 / "'"$idle_conns"'"
  printf "\n(%d rounds of %s s per measurement; servers on backend %s)\n", n["null.ringrpc"], "'"$secs"'", "'"$backend"'"
}' "$work/results"
