#!/usr/bin/env bash
# Two systems as two processes on loopback, Legato's helloRpc arrangement with ONC RPC services:
# "Alice" runs a libtirpc server (rpcgen's stubs for square.x and echo.x) and a ringrpc-proxy
# that offers it; "Bob" runs a ringrpc-proxy that stands for it locally, and libtirpc clients
# on Bob call SQUARE and ECHO through Bob -> Alice. Short timers (300 ms keep-alive) so that
# everything Legato does over minutes happens in seconds:
#   - the handshake: both bindings CONNECTED, the link UP, in ringrpc-tool's rpctool output;
#   - calls: libtirpc's clients unchanged, over TCP and UDP, by port, and (as root with port 111
#     free) through the registry Bob's proxy registered with, as clnt_create and rpcinfo find
#     any local service;
#   - many calls in flight (ringrpc-bench, 4 x 16 pipelined SQUAREs, 8 x 16 64 KiB ECHOs) with
#     no error;
#   - keep-alives answered both ways, period after period;
#   - a call the server never answers gets SYSTEM_ERR at Bob's call timeout (1 s here), over TCP
#     and over UDP, and the late answer, when it comes, is dropped;
#   - a link drop with calls in flight (Alice's server stopped, then Alice's proxy killed): the
#     calls (TCP and UDP) fail at once with "RPC: Remote system error", never hang; calls while
#     the link is down fail at once with "RPC: Program unavailable"; Alice comes back and Bob
#     reconnects, hands shake again and calls work;
#   - a silent peer (Alice's proxy stopped with SIGSTOP) is dropped on the keep-alive timeout.
#
# usage: proxy_two_systems_test.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=proxy_two_systems
source "$(dirname "$0")/../../scripts/process_helpers.sh"
source "$(dirname "$0")/../../scripts/proxy_helpers.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
sq=824377344
ec=824377345
# A keep-alive's answer queues behind the link's data: with 32 MiB of ECHOs in flight (below),
# sanitizer builds and other tests on the same two cores, 300 ms to answer is too tight; 1 s
# still drops a silent peer well within the 5 s the test waits.
timers=(--keepalive 300 --keepalive-timeout 1000 --retry 200 --resend 200 --server-retry 200)

start_registry_if_free  # the registry part needs port 111 (ctest runs this test alone on it)

start tirpc "$peer" server
declare_hello "$(field tirpc tcp)" "$(field tirpc tcp)"
# As helloRpc's README, bindings on both sides; Alice's link listens (port 0: any, read back).
tool alice set binding squareServer Bob squareClient
tool alice set binding echoServer Bob echoClient
tool alice set link Bob LinkToBob "127.0.0.1 0"
start_proxy alice --no-register "${timers[@]}"
port=$(link_port alice Bob)
[ -n "$port" ] && [ "$port" != 0 ] || fail "Alice's link did not listen: $(status alice)"
tool bob set binding squareClient Alice squareServer
tool bob set binding echoClient Alice echoServer
tool bob set link Alice LinkToAlice "127.0.0.1 $port"
start_proxy bob "${timers[@]}" --call-timeout 1000
sqp=$(local_port bob squareClient)
ecp=$(local_port bob echoClient)

# --- handshake --------------------------------------------------------------------------------
wait_for 5 bob '[.bindings[].connected] | all' || fail "Bob's bindings did not connect: $(status bob)"
wait_for 5 alice '[.bindings[].connected] | all' || fail "Alice's offers did not connect: $(status alice)"
tool bob get binding squareClient >"$work/get-binding"
grep -Eq '^Service-Name: squareClient +Status: CONNECTED, Service-ID: [1-9]' "$work/get-binding" ||
  fail "rpctool's get binding does not show CONNECTED: $(cat "$work/get-binding")"
tool bob get link Alice | grep -Eq '^System-Name: Alice +Status: UP$' ||
  fail "get link does not show UP: $(tool bob get link Alice)"
grep -q "binding squareClient: connected to squareServer on Alice" "$work/bob.err" ||
  fail "Bob did not log the connect-service handshake: $(cat "$work/bob.err")"

# --- calls ------------------------------------------------------------------------------------
"$peer" client-square tcp "$sqp" >/dev/null || fail "libtirpc SQUARE through the proxies"
"$peer" client-echo tcp "$ecp" >/dev/null || fail "libtirpc ECHO (up to 3 MB) through the proxies"
# UDP, as rpcgen's sample clients call: the same port, each datagram one call.
"$peer" client-square udp "$sqp" >/dev/null || fail "libtirpc SQUARE over UDP through the proxies"
"$peer" client-echo udp "$ecp" >/dev/null || fail "libtirpc ECHO over UDP through the proxies"
if [ $registry = yes ]; then
  rpcinfo -p 127.0.0.1 | grep -Eq "^ +$sq +1 +tcp +$sqp( |$)" ||
    fail "Bob's proxy did not register SQUARE with the registry: $(rpcinfo -p 127.0.0.1)"
  rpcinfo -p 127.0.0.1 | grep -Eq "^ +$sq +1 +udp +$sqp( |$)" ||
    fail "Bob's proxy did not register SQUARE over UDP: $(rpcinfo -p 127.0.0.1)"
  "$peer" client-bind tcp >/dev/null || fail "libtirpc clnt_create through the registry to Bob's proxy"
  "$peer" client-bind udp >/dev/null || fail "libtirpc clnt_create over UDP to Bob's proxy"
  rpcinfo -u 127.0.0.1 $sq 1 >/dev/null || fail "rpcinfo -u through Bob's proxy"
  rpcinfo -t 127.0.0.1 $sq 1 >/dev/null || fail "rpcinfo -t through Bob's proxy"
fi
"$bin/ringrpc-bench" --port "$sqp" --prog $sq --proc 1 --args-hex 00000007 --connections 4 \
  --depth 16 --duration 1 --warmup 0 --json "$work/bench.json" >/dev/null
jq -e '.summary.errors == 0 and .summary.calls > 1000' "$work/bench.json" >/dev/null ||
  fail "pipelined calls through the proxies: $(jq -c .summary "$work/bench.json")"
# Bulk: 8 x 16 ECHOs of 64 KiB in flight (8 MiB); nothing is lost or stuck. (A link that stops
# draining: proxy_hostile_link_test.sh.)
"$bin/ringrpc-bench" --port "$ecp" --prog $ec --proc 1 --payload 65536 --connections 8 \
  --depth 16 --duration 1 --warmup 0 --json "$work/bulk.json" >/dev/null
jq -e '.summary.errors == 0 and .summary.calls > 100' "$work/bulk.json" >/dev/null ||
  fail "pipelined 64 KiB ECHOs through the proxies: $(jq -c .summary "$work/bulk.json")"
# 8 x 4 ECHOs of 1 MiB in flight (32 MiB): more than half of a proxy's receive buffers can
# hold as pieces, so some are forwarded by reference and the rest copied; none lost or stuck.
"$bin/ringrpc-bench" --port "$ecp" --prog $ec --proc 1 --payload 1048576 --connections 8 \
  --depth 4 --duration 1 --warmup 0 --json "$work/large.json" >/dev/null
jq -e '.summary.errors == 0 and .summary.calls > 10' "$work/large.json" >/dev/null ||
  fail "pipelined 1 MiB ECHOs through the proxies: $(jq -c .summary "$work/large.json")"
# Some went through both proxies as pieces of their receive buffers, not copied.
jq -e '.externs[] | select(.alias == "echoClient") | .stats.inPieces > 0' \
  <(status bob) >/dev/null || fail "no 1 MiB ECHO forwarded in pieces by Bob: $(status bob)"
jq -e '.externs[] | select(.alias == "echoServer") | .stats.inPieces > 0' \
  <(status alice) >/dev/null || fail "no 1 MiB ECHO forwarded in pieces by Alice: $(status alice)"
# 50 KB ECHOs over UDP: the reply crosses the link in pieces of Bob's receive buffers at times,
# and is gathered into one datagram for the client.
"$bin/ringrpc-bench" --port "$ecp" --prog $ec --proc 1 --transport udp --payload 50000 \
  --connections 2 --depth 4 --duration 1 --warmup 0 --json "$work/udp.json" >/dev/null
jq -e '.summary.errors == 0 and .summary.calls > 100' "$work/udp.json" >/dev/null ||
  fail "50 KB ECHOs over UDP through the proxies: $(jq -c .summary "$work/udp.json")"
jq -e '[.bindings[] | select(.serviceName == "squareClient") | .stats.calls > 1000] | all' \
  <(status bob) >/dev/null || fail "Bob's counters did not count the calls: $(status bob)"

# --- keep-alive -------------------------------------------------------------------------------
# Legato restarts its own period on the peer's keep-alive, so with equal timers whichever side
# sends first may be the only one that sends: each side answered or was answered.
keepalives='.systems[0] | .keepalivesAnswered + .keepalivesReceived >= 3'
wait_for 5 bob "$keepalives" || fail "Bob's keep-alives: $(status bob)"
wait_for 5 alice "$keepalives" || fail "Alice's keep-alives: $(status alice)"
jq -e '.systems[0].downs == 0' <(status bob) >/dev/null || fail "the link dropped: $(status bob)"

# --- a call nobody answers ---------------------------------------------------------------------
# Over TCP, and over UDP, where the error goes to the datagram's sender, which Bob kept aside.
unanswered() {  # unanswered tcp|udp
  kill -STOP "$pid_tirpc"
  local t0=$SECONDS
  if "$peer" client-square-once "$1" "$sqp" 2>"$work/timeout-$1.err"; then
    kill -CONT "$pid_tirpc"
    fail "a call to a stopped server succeeded ($1)"
  fi
  kill -CONT "$pid_tirpc"
  [ $((SECONDS - t0)) -le 4 ] || fail "the call timeout took $((SECONDS - t0)) s ($1)"
  grep -q "RPC: Remote system error" "$work/timeout-$1.err" ||
    fail "timed out call ($1): $(cat "$work/timeout-$1.err")"
}
unanswered tcp
unanswered udp
grep -q "had no answer within the call timeout" "$work/bob.err" || fail "Bob did not log the timeout"
wait_for 3 bob '.systems[0].unmatched >= 2' || fail "the late answers were not dropped: $(status bob)"
"$peer" client-square tcp "$sqp" >/dev/null || fail "SQUARE after the timeout"

# --- link drop with a call in flight ----------------------------------------------------------
kill -STOP "$pid_tirpc"  # the server holds the call: it is in flight when the link goes
"$peer" client-square-once tcp "$sqp" >"$work/inflight.out" 2>"$work/inflight.err" &
client=$!
track "$client"
"$peer" client-square-once udp "$sqp" >"$work/inflight-udp.out" 2>"$work/inflight-udp.err" &
client_udp=$!
track "$client_udp"
wait_for 5 bob '.systems[0].inFlight >= 2' || fail "the calls never reached the link: $(status bob)"
t0=$SECONDS
kill -KILL "$pid_alice"
reap "$pid_alice" 2>/dev/null || true
reap "$client" || true
reap "$client_udp" || true
[ $((SECONDS - t0)) -le 3 ] || fail "the in-flight call took $((SECONDS - t0)) s to fail"
grep -q "RPC: Remote system error" "$work/inflight.err" ||
  fail "the in-flight call did not fail with SYSTEM_ERR: $(cat "$work/inflight.out" "$work/inflight.err")"
grep -q "RPC: Remote system error" "$work/inflight-udp.err" ||
  fail "the in-flight UDP call: $(cat "$work/inflight-udp.out" "$work/inflight-udp.err")"
kill -CONT "$pid_tirpc"
wait_for 3 bob '.systems[0].state == "DOWN"' || fail "Bob's link is not DOWN: $(status bob)"
t0=$SECONDS
if "$peer" client-square-once tcp "$sqp" 2>"$work/down.err"; then fail "a call succeeded with the link down"; fi
[ $((SECONDS - t0)) -le 2 ] || fail "a call with the link down took $((SECONDS - t0)) s to fail"
grep -q "RPC: Program unavailable" "$work/down.err" ||
  fail "a call with the link down: $(cat "$work/down.err")"
tool bob get binding squareClient | grep -q "Status: NOT CONNECTED" ||
  fail "get binding with the link down: $(tool bob get binding squareClient)"

# Alice comes back on the same port; Bob reconnects within its retry period and asks again.
"$bin/ringrpc-tool" --config "$work/alice.conf" --control "$work/none.sock" \
  set link Bob LinkToBob "127.0.0.1 $port"
start_proxy alice --no-register "${timers[@]}"
wait_for 5 bob '[.bindings[].connected] | all' || fail "Bob did not reconnect: $(status bob)"
jq -e '.systems[0].ups == 2 and .systems[0].downs >= 1' <(status bob) >/dev/null ||
  fail "Bob's link counters after the reconnect: $(status bob)"
"$peer" client-square tcp "$sqp" >/dev/null || fail "SQUARE after the reconnect"

# --- a silent peer ----------------------------------------------------------------------------
# The drop is seen in Bob's counter, not his state: his next connect succeeds (the kernel
# completes it into the stopped proxy's backlog) and his link is UP again after --retry, so it
# is DOWN for only ~200 ms of each keep-alive cycle, which a poll of the state can miss.
downs=$(status bob | jq -r '.systems[0].downs')
kill -STOP "$pid_alice"
wait_for 5 bob ".systems[0].downs > $downs" ||
  { kill -CONT "$pid_alice"; fail "a stopped peer was not dropped: $(status bob)"; }
jq -r '.systems[0].lastError' <(status bob) | grep -q "KEEPALIVE_RESPONSE" ||
  { kill -CONT "$pid_alice"; fail "the drop was not the keep-alive timeout: $(status bob)"; }
kill -CONT "$pid_alice"
wait_for 5 bob '[.bindings[].connected] | all' || fail "no reconnect after the silent spell: $(status bob)"
"$peer" client-square tcp "$sqp" >/dev/null || fail "SQUARE after the silent spell"

# --- clean stop -------------------------------------------------------------------------------
kill -TERM "$pid_bob"
reap "$pid_bob" || fail "Bob's proxy did not stop cleanly on SIGTERM"
if [ $registry = yes ]; then
  sleep 0.3
  if rpcinfo -p 127.0.0.1 | grep -Eq "^ +$sq +1 +tcp +$sqp( |$)"; then
    fail "Bob's proxy left its registration behind"
  fi
fi
echo "$test_name: ok"
