#!/usr/bin/env bash
# ringrpc-bind and the embedded registry over their lifetime, with libtirpc peers:
#   - an rpcgen/libtirpc server registers with ringrpc-bind (svc_create), and libtirpc's
#     clnt_create binds through it over TCP and UDP; a ringrpc server registers and ringrpc's
#     client binds through it;
#   - ringrpc-bind restarted (SIGTERM, then again with the same state file) still has every
#     registration, byte for byte in rpcinfo -p and the dump;
#   - a server killed with SIGKILL, and an rpcgen server that exits without unregistering,
#     disappear from the registry within the sweep interval;
#   - with no registry at all, square-server alone serves one in-process: square-client and
#     libtirpc's clnt_create find it by program number, a second server registers with it, and
#     it goes away when square-server stops.
# Needs root and no registry already running (skips with 77 otherwise); ctest runs it alone.
#
# usage: lifecycle_test.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=lifecycle
source "$(dirname "$0")/../../scripts/process_helpers.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to serve port 111 and /run/rpcbind.sock"
command -v rpcinfo >/dev/null || skip "rpcinfo not installed"
rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && skip "a registry already runs on this host"

sq=824377344
ec=824377345
state=$work/state

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  reap "$1" 2>/dev/null || true
}
# until SECONDS CMD...: true as soon as CMD succeeds, false after SECONDS.
until_ok() {
  local end=$((SECONDS + $1))
  shift
  while [ $SECONDS -le $end ]; do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
registered() { rpcinfo -p 2>/dev/null | grep -Eq "^ +$1 "; }
not_registered() { ! registered "$1"; }

# --- ringrpc-bind with libtirpc and ringrpc peers -------------------------------------------
start bind "$bin/ringrpc-bind" --state "$state" --sweep-interval 200
"$peer" server-netpath >"$work/tirpc.out" 2>"$work/tirpc.err" &
tirpc=$!
pids+=("$tirpc")
until_ok 5 grep -q registered "$work/tirpc.out" ||
  fail "the rpcgen server could not register with ringrpc-bind: $(cat "$work/tirpc.err")"
"$peer" client-bind tcp >/dev/null || fail "libtirpc clnt_create over tcp through ringrpc-bind"
"$peer" client-bind udp >/dev/null || fail "libtirpc clnt_create over udp through ringrpc-bind"
start echo "$bin/echo-server" --port 0
grep -q "registered with the rpcbind v4 on /run/rpcbind.sock" "$work/echo.err" ||
  fail "echo-server did not register with ringrpc-bind: $(cat "$work/echo.err")"
[ "$("$bin/echo-client" hello)" = "hello" ] || fail "echo-client bound through ringrpc-bind over tcp"
[ "$("$bin/echo-client" --transport udp hello)" = "hello" ] || fail "echo-client over udp"

# --- restart keeps registrations ------------------------------------------------------------
rpcinfo -p >"$work/before-p"
rpcinfo >"$work/before-dump"
stop_pid "$pid_bind"
[ -s "$state" ] || fail "no state file after a clean stop"
start bind "$bin/ringrpc-bind" --state "$state" --sweep-interval 200
rpcinfo -p >"$work/after-p"
rpcinfo >"$work/after-dump"
diff -u "$work/before-p" "$work/after-p" >&2 || fail "rpcinfo -p changed across a restart"
diff -u "$work/before-dump" "$work/after-dump" >&2 || fail "the dump changed across a restart"
"$peer" client-bind tcp >/dev/null || fail "clnt_create after the restart"
# Killed without a chance to save: the file written at each change is what counts.
kill -KILL "$pid_bind"
reap "$pid_bind" 2>/dev/null || true
start bind "$bin/ringrpc-bind" --state "$state" --sweep-interval 200
rpcinfo -p >"$work/after-kill-p"
diff -u "$work/before-p" "$work/after-kill-p" >&2 || fail "rpcinfo -p changed across a SIGKILL"

# --- dead servers' registrations go ---------------------------------------------------------
kill -KILL "$pid_echo"
reap "$pid_echo" 2>/dev/null || true
until_ok 5 not_registered $ec || fail "a SIGKILLed server is still registered after 5 s"
registered $sq || fail "the live rpcgen server's registration went too"
stop_pid "$tirpc"
until_ok 5 not_registered $sq || fail "an exited rpcgen server is still registered after 5 s"
stop_pid "$pid_bind"
rm -f /run/rpcbind.sock

# --- no registry: the embedded one ----------------------------------------------------------
rpcinfo -p >/dev/null 2>&1 && fail "a registry still answers"
start square "$bin/square-server" --shards 2
grep -q "registered with the embedded registry" "$work/square.err" ||
  fail "square-server did not host a registry: $(cat "$work/square.err")"
[ "$("$bin/square-client" 7)" = "square(7) = 49" ] || fail "square-client through the embedded registry"
[ "$("$bin/square-client" --transport udp 8)" = "square(8) = 64" ] || fail "square-client over udp"
"$peer" client-bind tcp >/dev/null || fail "libtirpc clnt_create through the embedded registry (tcp)"
"$peer" client-bind udp >/dev/null || fail "libtirpc clnt_create through the embedded registry (udp)"
start echo2 "$bin/echo-server" --port 0
grep -q "registered with the rpcbind v4" "$work/echo2.err" ||
  fail "a second server did not register with the embedded registry: $(cat "$work/echo2.err")"
[ "$("$bin/echo-client" hi)" = "hi" ] || fail "echo-client through the embedded registry"
stop_pid "$pid_echo2"
registered $ec && fail "echo-server's registration outlived it (it unregisters at SIGTERM)"
stop_pid "$pid_square"
rpcinfo -p >/dev/null 2>&1 && fail "the embedded registry outlived square-server"
[ -e /run/rpcbind.sock ] && fail "the embedded registry left /run/rpcbind.sock behind"
echo "lifecycle: all passed"
