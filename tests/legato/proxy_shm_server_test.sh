#!/usr/bin/env bash
# The far proxy reaches a ringrpc server on its own host over shared memory (netid ringrpc-shm),
# as any ringrpc client on that host would, instead of loopback TCP:
#   - declared (`at shm PATH`): Alice's status says transport "shm", and libtirpc's SQUARE client
#     on Bob plus pipelined calls (ringrpc-bench) go through Bob -> Alice -> shm -> square-server;
#   - the server SIGKILLed mid-load: every call ends (no error beyond SYSTEM_ERR / PROG_UNAVAIL,
#     none hangs), Alice tells Bob (DISCONNECT_SERVICE), and a new server on the same path is
#     reconnected to and served again;
#   - found through the registry (root and port 111 free: ringrpc-bind): an extern with no
#     address gets the server's shared-memory endpoint; with --no-shm, its TCP port.
#
# usage: proxy_shm_server_test.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=proxy_shm_server
source "$(dirname "$0")/../../scripts/process_helpers.sh"
source "$(dirname "$0")/../../scripts/proxy_helpers.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
sq=824377344
timers=(--keepalive 300 --keepalive-timeout 300 --retry 200 --resend 200 --server-retry 200)
server_field() {  # server_field NAME ALIAS KEY: KEY of NAME's server extern ALIAS
  status "$1" | jq -r --arg a "$2" --arg k "$3" '.externs[] | select(.alias == $a) | .[$k]'
}

# --- declared endpoint ------------------------------------------------------------------------
start square "$bin/square-server" --port 0 --no-register --shards 1 --shm "$work/sq.shm"
declare_system alice Alice "squareServer = server $sq 1 at shm $work/sq.shm" \
  -- "LinkToBob = networkSocket listen"
declare_system bob Bob "squareClient = client $sq 1" -- "LinkToAlice = networkSocket connect"
tool alice set link Bob LinkToBob "127.0.0.1 0" >/dev/null
start_proxy alice --no-register "${timers[@]}"
tool bob set binding squareClient Alice squareServer >/dev/null
tool bob set link Alice LinkToAlice "127.0.0.1 $(link_port alice Bob)" >/dev/null
start_proxy bob --no-register "${timers[@]}"
sqp=$(local_port bob squareClient)
wait_for 5 bob '[.bindings[].connected] | all' || fail "Bob's binding did not connect: $(status bob)"
[ "$(server_field alice squareServer transport)" = shm ] ||
  fail "Alice does not reach square-server over shared memory: $(status alice)"
[ "$(server_field alice squareServer server)" = "$work/sq.shm" ] ||
  fail "Alice's server address is not the shm socket: $(status alice)"
grep -q "squareServer: connected to the server at $work/sq.shm (shared memory)" "$work/alice.err" ||
  fail "Alice did not log the shared-memory connection: $(cat "$work/alice.err")"
"$peer" client-square tcp "$sqp" >/dev/null || fail "libtirpc SQUARE through the proxies over shm"
"$bin/ringrpc-bench" --port "$sqp" --prog $sq --proc 1 --args-hex 00000007 --connections 4 \
  --depth 16 --duration 1 --warmup 0 --json "$work/bench.json" >/dev/null
jq -e '.summary.errors == 0 and .summary.calls > 1000' "$work/bench.json" >/dev/null ||
  fail "pipelined calls through the proxies over shm: $(jq -c .summary "$work/bench.json")"
status alice | jq -e '.externs[] | select(.alias == "squareServer") | .stats.calls > 1000' \
  >/dev/null || fail "Alice's server counters did not count the calls: $(status alice)"

# --- the server killed under load, and a new one ------------------------------------------------
"$bin/ringrpc-bench" --port "$sqp" --prog $sq --proc 1 --args-hex 00000007 --connections 4 \
  --depth 16 --duration 3 --warmup 0 --repetitions 1 --timeout 2000 --json "$work/killed.json" >/dev/null 2>&1 &
load=$!
track "$load"
sleep 1
kill -KILL "$pid_square"
reap "$pid_square" 2>/dev/null || true
wait_for 5 alice '.externs[] | select(.alias == "squareServer") | .server == ""' ||
  fail "Alice did not notice the server's death: $(status alice)"
reap "$load" || true
jq -e '.repetitions[0] | .calls > .errors' "$work/killed.json" >/dev/null ||
  fail "no call was answered before the kill: $(jq -c .repetitions "$work/killed.json")"
# Every call ended: answered, or failed at once. None waited for the 2 s timeout.
jq -e '[.repetitions[].errors_by_kind.timed_out // 0] | add == 0' "$work/killed.json" \
  >/dev/null || fail "calls hung when the server died: $(jq -c .repetitions "$work/killed.json")"
grep -q "squareServer: .*telling the systems connected to it (DISCONNECT_SERVICE)" \
  "$work/alice.err" || fail "Alice did not disconnect the service: $(cat "$work/alice.err")"
if "$peer" client-square-once tcp "$sqp" >/dev/null 2>&1; then
  fail "a call succeeded with no server behind Alice"
fi
start square2 "$bin/square-server" --port 0 --no-register --shards 1 --shm "$work/sq.shm"
wait_for 5 alice '.externs[] | select(.alias == "squareServer") | .transport == "shm"' ||
  fail "Alice did not reconnect to the new server: $(status alice)"
wait_for 5 bob '[.bindings[].connected] | all' || fail "Bob's binding did not come back: $(status bob)"
"$peer" client-square tcp "$sqp" >/dev/null || fail "SQUARE through the proxies after the restart"

# --- found through the registry ---------------------------------------------------------------
if [ "$(id -u)" -ne 0 ] || rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
  echo "$test_name: the registry part is skipped: it needs root and no registry on port 111"
  exit 0
fi
start bind "$bin/ringrpc-bind" --no-state --sweep-interval 200
start reg "$bin/square-server" --port 0 --shards 1 --shm "$work/reg.shm"
declare_system carol Carol "squareServer = server $sq 1" -- "LinkToBob = networkSocket listen"
tool carol set link Bob LinkToBob "127.0.0.1 0" >/dev/null
start_proxy carol --no-register "${timers[@]}"
wait_for 5 carol '.externs[] | select(.alias == "squareServer") | .transport == "shm"' ||
  fail "the registry's shared-memory endpoint was not used: $(status carol)"
[ "$(server_field carol squareServer server)" = "$work/reg.shm" ] ||
  fail "Carol reached another endpoint than the registered one: $(status carol)"
declare_system dave Dave "squareServer = server $sq 1" -- "LinkToBob = networkSocket listen"
tool dave set link Bob LinkToBob "127.0.0.1 0" >/dev/null
start_proxy dave --no-register --no-shm "${timers[@]}"
wait_for 5 dave '.externs[] | select(.alias == "squareServer") | .transport == "tcp"' ||
  fail "--no-shm did not keep the server connection on TCP: $(status dave)"
[ "$(server_field dave squareServer server)" = "127.0.0.1:$(field reg tcp)" ] ||
  fail "Dave reached another address than the server's TCP port: $(status dave)"
echo "$test_name: passed"
