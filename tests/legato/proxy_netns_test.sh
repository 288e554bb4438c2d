#!/usr/bin/env bash
# Two systems as two network namespaces, the way Legato's helloRpc runs on two hosts: "Alice"
# (10.77.0.1) and "Bob" (10.77.0.2) joined by a veth pair the test creates, each with its own
# loopback and its own registry (ringrpc-bind on its 127.0.0.1:111, its Unix socket in the
# test's directory). Alice serves SQUARE and ECHO with rpcgen's libtirpc server, registered
# with Alice's registry the way rpcgen's main() does it, and her proxy finds it there; Bob's
# proxy registers the services with Bob's registry, and libtirpc's clnt_create on Bob finds
# them there and calls them: neither side knows the other exists. Then the veth link is cut
# (ip link set down): Bob's keep-alive notices, the link goes DOWN and comes back when the
# wire does.
# Needs root and network namespaces (skips with 77 otherwise); the namespaces, the veth pair
# and the processes are removed at the end.
#
# usage: proxy_netns_test.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=proxy_netns
source "$(dirname "$0")/../../scripts/process_helpers.sh"
source "$(dirname "$0")/../../scripts/proxy_helpers.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
nsA=ringrpc-alice-$$
nsB=ringrpc-bob-$$
ip netns add "$nsA" 2>"$work/netns.err" || skip "cannot create a network namespace: $(cat "$work/netns.err")"
cleanup_netns() {
  stop_started_processes
  ip netns del "$nsA" 2>/dev/null || true
  ip netns del "$nsB" 2>/dev/null || true
}
trap cleanup_netns EXIT
ip netns add "$nsB"
ip link add "rra$$" netns "$nsA" type veth peer name "rrb$$" netns "$nsB" 2>"$work/veth.err" ||
  skip "cannot create a veth pair: $(cat "$work/veth.err")"
ip -n "$nsA" addr add 10.77.0.1/24 dev "rra$$"
ip -n "$nsB" addr add 10.77.0.2/24 dev "rrb$$"
for ns in "$nsA" "$nsB"; do ip -n "$ns" link set lo up; done
ip -n "$nsA" link set "rra$$" up
ip -n "$nsB" link set "rrb$$" up
inA() { ip netns exec "$nsA" "$@"; }
inB() { ip netns exec "$nsB" "$@"; }
inA ping -c1 -W2 10.77.0.2 >/dev/null 2>&1 || true  # not needed, but says early if it is broken
sq=824377344
ec=824377345
timers=(--keepalive 300 --keepalive-timeout 300 --retry 200 --resend 200 --server-retry 200)

# Each system's registry; rpcgen's server registers with Alice's over her loopback (libtirpc
# tries /var/run/rpcbind.sock first: it is not there, or is another namespace's, so TCP to
# 127.0.0.1:111 it is).
start bindA ip netns exec "$nsA" "$bin/ringrpc-bind" --no-state --unix "$work/bindA.sock"
start bindB ip netns exec "$nsB" "$bin/ringrpc-bind" --no-state --unix "$work/bindB.sock"
"$peer" client-bind tcp >/dev/null 2>&1 && skip "a registry on this host's /var/run/rpcbind.sock would answer for the namespaces"
# Not through inA: a function in the background is a subshell, and its pid is not the server's.
ip netns exec "$nsA" "$peer" server-netpath >"$work/tirpc.out" 2>"$work/tirpc.err" &
pids+=($!)
for _ in $(seq 50); do grep -q registered "$work/tirpc.out" && break; sleep 0.1; done
grep -q registered "$work/tirpc.out" || fail "rpcgen's server did not register on Alice: $(cat "$work/tirpc.err")"

# Alice's server is found through her registry: no address declared.
declare_system alice Alice "squareServer = server $sq 1" -- "LinkToBob = networkSocket listen"
declare_system bob Bob "squareClient = client $sq 1" -- "LinkToAlice = networkSocket connect"
tool alice set binding squareServer Bob squareClient
tool alice set link Bob LinkToBob "10.77.0.1 54323"
tool bob set binding squareClient Alice squareServer
tool bob set link Alice LinkToAlice "10.77.0.1 54323"
start alice ip netns exec "$nsA" "$bin/ringrpc-proxy" --declarations "$work/alice.decl" \
  --config "$work/alice.conf" --control "$work/alice.sock" --registry-socket "$work/bindA.sock" \
  "${timers[@]}"
start bob ip netns exec "$nsB" "$bin/ringrpc-proxy" --declarations "$work/bob.decl" \
  --config "$work/bob.conf" --control "$work/bob.sock" --registry-socket "$work/bindB.sock" \
  "${timers[@]}"
wait_for 10 bob '.bindings[0].connected' || fail "Bob's binding did not connect: $(status bob)"
inB rpcinfo -p 127.0.0.1 | grep -Eq "^ +$sq +1 +tcp " ||
  fail "Bob's registry does not have SQUARE: $(inB rpcinfo -p 127.0.0.1)"
inB "$peer" client-bind tcp >/dev/null || fail "clnt_create on Bob through Bob's registry"
inB "$peer" client-square tcp "$(local_port bob squareClient)" >/dev/null || fail "SQUARE on Bob"
# Whichever side sends first may be the only one that sends (Legato restarts its own period on
# the peer's keep-alive): Bob's were answered, or he answered Alice's.
wait_for 5 bob '.systems[0] | .keepalivesAnswered + .keepalivesReceived >= 2' ||
  fail "keep-alives across namespaces: $(status bob)"

# The wire cut: nothing closes the TCP connection, only the keep-alive can tell.
ip -n "$nsB" link set "rrb$$" down
wait_for 5 bob '.systems[0].state == "DOWN"' || fail "Bob did not notice the cut wire: $(status bob)"
if inB "$peer" client-square-once tcp "$(local_port bob squareClient)" 2>"$work/cut.err"; then
  fail "a call with the wire cut succeeded"
fi
grep -q "RPC: Program unavailable" "$work/cut.err" || fail "a call with the wire cut: $(cat "$work/cut.err")"
ip -n "$nsB" link set "rrb$$" up
wait_for 15 bob '.bindings[0].connected' || fail "Bob did not reconnect: $(status bob)"
inB "$peer" client-bind tcp >/dev/null || fail "clnt_create on Bob after the reconnect"
echo "$test_name: ok"
