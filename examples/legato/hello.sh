#!/usr/bin/env bash
# Legato's helloRpc with ONC RPC services, on one host: "Alice" runs square-server and
# echo-server and a ringrpc-proxy that offers them; "Bob" runs a ringrpc-proxy whose local ports
# stand for them. square-client and echo-client on Bob call SQUARE and ECHO; they run on Alice.
# The bindings and links are set with ringrpc-tool, rpctool's commands, and shown with its
# output; then ringrpc-tool stats shows the counters. Needs no registry and no root (the
# clients are given Bob's ports; with a registry, Bob's proxy registers them there). Stops only
# what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-build/bin}
source scripts/process_helpers.sh
source scripts/proxy_helpers.sh
run() {
  echo "\$ ${*#"$bin/"}"
  "$@"
}
on() {  # on SYSTEM ringrpc-tool ARGS...: rpctool's commands on that system's proxy
  local name=$1
  shift
  echo "[$name] \$ ringrpc-tool $*"
  tool "$name" "$@"
}

start square "$bin/square-server" --no-register --shards 1
start echo "$bin/echo-server" --no-register --shards 1
declare_hello "$(field square tcp)" "$(field echo tcp)"
echo "--- Alice's declarations"
cat "$work/alice.decl"
echo "--- Bob's declarations"
cat "$work/bob.decl"

echo "--- Alice: her link to Bob listens (port 0: any; read back from her status)"
on alice set link Bob LinkToBob "127.0.0.1 0"
start_proxy alice --no-register --quiet
port=$(link_port alice Bob)
echo "--- Bob: two bindings to Alice's services and the link to her"
on bob set binding squareClient Alice squareServer
on bob set binding echoClient Alice echoServer
on bob set link Alice LinkToAlice "127.0.0.1 $port"
start_proxy bob --no-register --quiet --retry 500 --resend 500
echo "\$ ringrpc-proxy (Bob): $(cat "$work/bob.out")"
wait_for 10 bob '[.bindings[].connected] | all' || fail "Bob's bindings did not connect: $(status bob)"
on bob list bindings
on bob get link Alice

echo "--- calls on Bob, served on Alice"
run "$bin/square-client" --port "$(local_port bob squareClient)" 12
run "$bin/echo-client" --port "$(local_port bob echoClient)" "hello from Bob"
run "$bin/echo-client" --port "$(local_port bob echoClient)" --transport udp "and over UDP"
run "$bin/ringrpc-bench" --port "$(local_port bob squareClient)" --prog 0x31230000 \
  --connections 4 --depth 16 --warmup 0.5 --duration 1 --repetitions 1 --quiet
on bob stats
