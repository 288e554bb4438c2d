#!/usr/bin/env bash
# The registry under a flood of malformed and oversized requests, side by side with stock
# rpcbind in the same run: ringrpc-registry-flood against ringrpc-bind (defaults), rpcbind, and
# ringrpc-bind rate-limiting loopback too, ROUNDS times interleaved (default 3), each
# SECONDS_EACH long (default 5); prints the median and range of each figure. Needs root (port
# 111) and no registry already running.
#
# usage: bench/registry/flood.sh [BUILD_DIR]   (ROUNDS=3 SECONDS_EACH=5 RATE=50000 TCP=200
#        in the environment)
set -euo pipefail
build=${1:-build}
bin=$build/bin
rounds=${ROUNDS:-3}
secs=${SECONDS_EACH:-5}
tcp=${TCP:-200}
rate=${RATE:-50000}
source "$(dirname "$0")/../../scripts/process_helpers.sh"
[ "$(id -u)" -eq 0 ] || { echo "flood: needs root (port 111)" >&2; exit 1; }
rpcinfo -p >/dev/null 2>&1 && { echo "flood: a registry already runs; stop it first" >&2; exit 1; }

one() {  # one REGISTRY: a flood against a fresh registry, its JSON line on stdout
  case $1 in
    rpcbind) rpcbind -f & ;;
    ringrpc-bind) "$bin/ringrpc-bind" --no-state --quiet >/dev/null & ;;
    limited) "$bin/ringrpc-bind" --no-state --quiet --rate-limit 200 --rate-limit-loopback >/dev/null & ;;
  esac
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do rpcinfo -p >/dev/null 2>&1 && break; sleep 0.05; done
  "$bin/ringrpc-registry-flood" --pid "$pid" --seconds "$secs" --rate "$rate" --tcp "$tcp" --json
  kill -TERM "$pid"
  reap "$pid" 2>/dev/null || true
  rm -f /run/rpcbind.sock
}

for r in $(seq "$rounds"); do
  for reg in ringrpc-bind rpcbind limited; do
    echo "$reg $(one "$reg")" >>"$work/results"
  done
done

median_range() {  # REGISTRY KEY: "median (min-max)"
  grep "^$1 " "$work/results" | sed -E "s/.*\"$2\": ([0-9.]+).*/\1/" | sort -g |
    awk '{v[NR]=$1} END {printf "%s (%s-%s)", v[int((NR+1)/2)], v[1], v[NR]}'
}
echo "$rate datagrams/s for $secs s, $tcp TCP connections announcing 2 GiB records; limited ="
echo "ringrpc-bind --rate-limit 200 --rate-limit-loopback"
printf '%-28s %-24s %-24s %-24s\n' "(median, range of $rounds)" "ringrpc-bind" "rpcbind 1.2.6" "limited"
for key in sent_per_s replies server_cpu_percent server_cpu_us_per_request rss_kib_before rss_kib_max \
  rss_kib_after tcp_held dump_reply_request_ratio good_p50_us good_p99_us good_lost good_sent; do
  printf '%-28s %-24s %-24s %-24s\n' "$key" "$(median_range ringrpc-bind $key)" \
    "$(median_range rpcbind $key)" "$(median_range limited $key)"
done
