#!/usr/bin/env bash
# rpcinfo -b and ringrpc-info -b against ringrpc-bind with remote calls enabled (-r), in a
# network namespace of the test's own (a veth pair gives it a broadcast address), so that no
# broadcast leaves the machine: both list the same answering service.
# Needs root and `ip netns`; skips (77) otherwise. ctest runs it alone (RESOURCE_LOCK port111:
# a server in the namespace would register with a host registry's Unix socket if one ran).
#
# usage: broadcast_test.sh BIN_DIR
set -euo pipefail
bin=$1
test_name=broadcast
source "$(dirname "$0")/../../scripts/process_helpers.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace"
command -v ip >/dev/null && command -v rpcinfo >/dev/null || skip "ip or rpcinfo not installed"
rpcinfo -p >/dev/null 2>&1 && skip "a registry runs on this host (a server in the namespace would use its socket)"
ns=ringrpc-bcast-$$
ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
cleanup_ns() { ip netns del "$ns" 2>/dev/null || true; }
trap 'stop_started_processes; cleanup_ns' EXIT
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns ip link add v0 type veth peer name v1 2>/dev/null || skip "no veth devices here"
in_ns ip addr add 10.199.0.1/24 brd + dev v0
in_ns ip link set v0 up
in_ns ip link set v1 up

start bind ip netns exec "$ns" "$bin/ringrpc-bind" -r --no-state --unix "$work/ns.sock"
start echo ip netns exec "$ns" "$bin/echo-server" --port 0
udp=$(field echo udp)
expected="10.199.0.1.$((udp >> 8)).$((udp & 255))"
in_ns "$bin/ringrpc-info" -b 824377345 1 | sort -u >"$work/ours"
in_ns rpcinfo -b 824377345 1 | sort -u >"$work/theirs"
grep -q "^$expected	" "$work/ours" || fail "ringrpc-info -b did not list $expected: $(cat "$work/ours")"
diff -u "$work/theirs" "$work/ours" >&2 || fail "ringrpc-info -b and rpcinfo -b differ (- rpcinfo, + ringrpc-info)"
echo "broadcast: all passed ($(wc -l <"$work/ours") answer: $(cat "$work/ours"))"
