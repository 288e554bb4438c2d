#!/usr/bin/env bash
# A ringrpc server registers with a stock rpcbind, and is found through it: by rpcinfo, by
# libtirpc's clnt_create, by ringrpc's own binding; at SIGTERM it unregisters.
#
# Needs rpcbind on 127.0.0.1:111: uses the one running, else starts its own (root only), else
# skips (exit 77). Never runs in parallel with other port-111 tests (ctest RESOURCE_LOCK).
#
# usage: registry_test.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=registry
source "$(dirname "$0")/../../scripts/process_helpers.sh"

if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v rpcbind >/dev/null; then
    skip "no rpcbind on 127.0.0.1:111 and not root to start one"
  fi
  rpcbind -f &
  pids+=($!)
  # rpcbind leaves its socket behind when stopped; remove it with the rpcbind we started.
  trap 'stop_started_processes; rm -f /run/rpcbind.sock' EXIT
  for _ in $(seq 100); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.05; done
  rpcinfo -p 127.0.0.1 >/dev/null 2>&1 || fail "rpcbind did not start"
fi

start server "$bin/square-server" --shards 2
server=$pid_server
grep -q "registered with the rpcbind v4" "$work/server.err" ||
  fail "square-server did not register with rpcbind v4: $(cat "$work/server.err")"
tcp=$(field server tcp)
udp=$(field server udp)

rpcinfo -p 127.0.0.1 | grep -Eq "^ +824377344 +1 +tcp +$tcp\b" || fail "rpcinfo -p lacks tcp $tcp"
rpcinfo -p 127.0.0.1 | grep -Eq "^ +824377344 +1 +udp +$udp\b" || fail "rpcinfo -p lacks udp $udp"
rpcinfo -T tcp 127.0.0.1 824377344 1 | grep -q "ready and waiting" || fail "rpcinfo -T tcp"
rpcinfo -T udp 127.0.0.1 824377344 1 | grep -q "ready and waiting" || fail "rpcinfo -T udp"
"$peer" client-bind tcp >/dev/null || fail "libtirpc clnt_create over tcp"
"$peer" client-bind udp >/dev/null || fail "libtirpc clnt_create over udp"
[ "$("$bin/square-client" 6)" = "square(6) = 36" ] || fail "square-client bound over tcp"
[ "$("$bin/square-client" --transport udp 6)" = "square(6) = 36" ] || fail "square-client bound over udp"

kill -TERM "$server"
wait "$server" || fail "square-server exited with $?"
if rpcinfo -p 127.0.0.1 | grep -q 824377344; then fail "still registered after SIGTERM"; fi
echo "registry: all passed"
