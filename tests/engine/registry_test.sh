#!/usr/bin/env bash
# A ringrpc server registers with a stock rpcbind, and is found through it: by rpcinfo, by
# libtirpc's clnt_create, by ringrpc's own binding; at SIGTERM it unregisters. Its shared-memory
# endpoint is registered too (netid ringrpc-shm): rpcinfo lists it, ringrpc's "tcp" binding on
# this host takes it unless told not to, and libtirpc's clients are not disturbed by it.
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

start server "$bin/square-server" --shards 2 --shm "$work/square.shm"
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

rpcinfo 127.0.0.1 | grep -Eq "^ +824377344 +1 +ringrpc-shm +$work/square.shm " ||
  fail "rpcinfo lacks the ringrpc-shm endpoint: $(rpcinfo 127.0.0.1 | grep 824377344)"
out=$("$bin/square-client" --verbose 7 2>"$work/client.err") || fail "square-client bound on this host"
[ "$out" = "square(7) = 49" ] || fail "square-client bound on this host printed: $out"
grep -q "calling over shm to $work/square.shm" "$work/client.err" ||
  fail "a tcp binding on this host did not take shared memory: $(cat "$work/client.err")"
out=$("$bin/square-client" --verbose --no-shm 8 2>"$work/client.err") || fail "square-client --no-shm"
[ "$out" = "square(8) = 64" ] || fail "square-client --no-shm printed: $out"
grep -q "calling over tcp to 127.0.0.1:$tcp" "$work/client.err" ||
  fail "--no-shm did not bind over tcp: $(cat "$work/client.err")"

kill -TERM "$server"
reap "$server" || fail "square-server exited with $?"
if rpcinfo 127.0.0.1 | grep -q 824377344; then fail "still registered after SIGTERM"; fi
[ ! -e "$work/square.shm" ] || fail "the shared-memory socket was left behind"
echo "registry: all passed"
