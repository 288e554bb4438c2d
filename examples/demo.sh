#!/usr/bin/env bash
# The README's main job: a ringrpc server and client at work. Starts square-server and
# echo-server on free ports (no registry needed), calls them with square-client and echo-client
# over TCP, UDP, a Unix socket and shared memory, drives square-server with ringrpc-bench for two
# seconds over TCP and for one over shared memory (both sides spinning), and
# stops the servers with SIGTERM (they answer what is in flight first). Stops only what it
# started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-build/bin}
source scripts/process_helpers.sh
announce() {
  start "$@"
  echo "\$ $1: $(cat "$work/$1.out")"
}
run() {
  echo "\$ ${*#"$bin/"}"
  "$@"
}

announce square-server "$bin/square-server" --no-register --unix "$work/square.sock" \
  --shm "$work/square.shm" --idle-poll 200
announce echo-server "$bin/echo-server" --no-register
run "$bin/square-client" --port "$(field square-server tcp)" 11
run "$bin/square-client" --port "$(field square-server udp)" --transport udp 12
run "$bin/square-client" --unix "$work/square.sock" 13
run "$bin/square-client" --shm "$work/square.shm" 14
run "$bin/echo-client" --port "$(field echo-server tcp)" "hello, ringrpc"
run "$bin/echo-client" --port "$(field echo-server tcp)" --size 1048576
run "$bin/ringrpc-bench" --port "$(field square-server tcp)" --prog 0x31230000 \
  --connections 16 --depth 32 --warmup 0.5 --duration 1 --repetitions 2 --quiet
run "$bin/ringrpc-bench" --shm "$work/square.shm" --prog 0x31230000 --idle-poll 200 \
  --depth 64 --warmup 0.5 --duration 1 --repetitions 1 --quiet
echo "(ringrpc-bench suite measures these side by side with libtirpc and a raw echo server)"
