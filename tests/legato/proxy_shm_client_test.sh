#!/usr/bin/env bash
# Local ringrpc clients reach Bob's proxy over shared memory (`ringrpc-proxy --shm-dir DIR`), as
# they reach any ringrpc server on their host that offers it:
#   - each client extern listens on DIR/ALIAS.shm besides its TCP and UDP port (the ready line,
#     the status JSON);
#   - square-client and pipelined calls (ringrpc-bench, 4 x 16 SQUAREs and 2 x 4 64 KiB ECHOs)
#     over shared memory go Bob -> Alice -> a libtirpc server, beside libtirpc's client over TCP
#     on the same bindings, with no error, and Bob's counters count them;
#   - with the binding reset, a call over shared memory is answered at once with an RPC error;
#   - a second proxy cannot take a socket that answers; a socket file left behind is replaced;
#   - SIGTERM removes the sockets;
#   - through the registry (root and port 111 free: ringrpc-bind): Bob registers ringrpc-shm
#     beside tcp and udp, rpcinfo lists it, square-client's "tcp" binding on this host takes
#     shared memory, and --no-shm TCP.
#
# usage: proxy_shm_client_test.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=proxy_shm_client
source "$(dirname "$0")/../../scripts/process_helpers.sh"
source "$(dirname "$0")/../../scripts/proxy_helpers.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
sq=824377344
ec=824377345
timers=(--keepalive 300 --keepalive-timeout 300 --retry 200 --resend 200 --server-retry 200)

start_registry_if_free  # the registry part needs port 111 (ctest runs this test alone on it)

start tirpc "$peer" server
declare_hello "$(field tirpc tcp)" "$(field tirpc tcp)"
tool alice set link Bob LinkToBob "127.0.0.1 0" >/dev/null
start_proxy alice --no-register "${timers[@]}"
tool bob set binding squareClient Alice squareServer >/dev/null
tool bob set binding echoClient Alice echoServer >/dev/null
tool bob set link Alice LinkToAlice "127.0.0.1 $(link_port alice Bob)" >/dev/null
mkdir "$work/shm"
# A socket file nobody answers on, as a process killed on it leaves: replaced. (On epoll: an
# io_uring process's sockets are closed by the kernel a moment after it is reaped, not at once.)
start stale "$bin/square-server" --port 0 --no-register --shards 1 --backend epoll \
  --shm "$work/shm/echoClient.shm"
kill -KILL "$pid_stale"
reap "$pid_stale" 2>/dev/null || true
[ -S "$work/shm/echoClient.shm" ] || fail "the killed server left no socket file to replace"
reg_opts=()
[ "$registry" = yes ] || reg_opts=(--no-register)
start_proxy bob "${timers[@]}" "${reg_opts[@]}" --shm-dir "$work/shm/"
bob=$pid_bob
sqs=$work/shm/squareClient.shm
ecs=$work/shm/echoClient.shm
grep -q "squareClient tcp=[0-9]* udp=[0-9]* shm=$sqs " "$work/bob.out" ||
  fail "the ready line lacks the shared-memory socket: $(cat "$work/bob.out")"
[ -S "$sqs" ] && [ -S "$ecs" ] || fail "no sockets in $work/shm: $(ls -l "$work/shm")"
[ "$(status bob | jq -r '.externs[] | select(.alias == "echoClient") | .shm')" = "$ecs" ] ||
  fail "the status does not show the shared-memory socket: $(status bob | jq -c .externs)"
wait_for 5 bob '[.bindings[].connected] | all' || fail "Bob's bindings did not connect: $(status bob)"

# --- calls over shared memory, beside TCP -----------------------------------------------------
out=$("$bin/square-client" --shm "$sqs" --verbose 9 2>"$work/client.err") ||
  fail "square-client over shared memory: $(cat "$work/client.err")"
[ "$out" = "square(9) = 81" ] || fail "square-client over shared memory printed: $out"
grep -q "calling over shm to $sqs" "$work/client.err" ||
  fail "square-client did not call over shared memory: $(cat "$work/client.err")"
"$bin/ringrpc-bench" --transport shm --shm "$sqs" --prog $sq --proc 1 --args-hex 00000007 \
  --connections 4 --depth 16 --duration 1 --warmup 0 --json "$work/square.json" >/dev/null &
square_load=$!
track "$square_load"
"$bin/ringrpc-bench" --transport shm --shm "$ecs" --prog $ec --proc 1 --payload 65536 \
  --connections 2 --depth 4 --duration 1 --warmup 0 --json "$work/echo.json" >/dev/null &
echo_load=$!
track "$echo_load"
"$peer" client-square tcp "$(local_port bob squareClient)" >/dev/null ||
  fail "libtirpc SQUARE over TCP beside the shared-memory calls"
reap "$square_load" || fail "ringrpc-bench SQUARE over shared memory failed"
reap "$echo_load" || fail "ringrpc-bench ECHO over shared memory failed"
jq -e '.summary.errors == 0 and .summary.calls > 1000' "$work/square.json" >/dev/null ||
  fail "pipelined SQUAREs over shared memory: $(jq -c .summary "$work/square.json")"
jq -e '.summary.errors == 0 and .summary.calls > 10' "$work/echo.json" >/dev/null ||
  fail "pipelined 64 KiB ECHOs over shared memory: $(jq -c .summary "$work/echo.json")"
calls=$(jq '.summary.calls' "$work/square.json")
status bob | jq -e --argjson n "$calls" \
  '.bindings[] | select(.serviceName == "squareClient") | .stats.calls > $n' >/dev/null ||
  fail "Bob's counters did not count the calls over shared memory: $(status bob | jq -c .bindings)"

# --- an unbound service answers at once ---------------------------------------------------------
tool bob reset binding echoClient >/dev/null
wait_for 5 bob '[.bindings[] | select(.serviceName == "echoClient")] | length == 0' ||
  fail "the echo binding did not go: $(status bob | jq -c .bindings)"
"$bin/ringrpc-bench" --transport shm --shm "$ecs" --prog $ec --proc 1 --payload 16 \
  --connections 1 --depth 1 --duration 0.3 --warmup 0 --repetitions 1 --timeout 2000 \
  --json "$work/unbound.json" >/dev/null 2>&1 || true
# Every call failed, each at once with PROG_UNAVAIL (none waited for the 2 s timeout).
jq -e '.summary.calls > 0 and .summary.errors == .summary.calls and
       (.repetitions[0].errors_by_kind | keys == ["PROG_UNAVAIL"])' "$work/unbound.json" \
  >/dev/null || fail "calls to an unbound service over shared memory:" \
  "$(jq -c '.repetitions[0] | {calls, errors, errors_by_kind}' "$work/unbound.json")"

# --- the sockets are the proxy's own ----------------------------------------------------------
if "$bin/ringrpc-proxy" --declarations "$work/bob.decl" --config "$work/bob.conf" \
  --control "$work/other.sock" --no-register --shm-dir "$work/shm" >/dev/null 2>"$work/other.err"; then
  fail "a second proxy started on sockets the first answers on"
fi
grep -q "squareClient: $sqs is in use" "$work/other.err" ||
  fail "the second proxy did not say why it stopped: $(cat "$work/other.err")"

# --- through the registry ---------------------------------------------------------------------
if [ "$registry" = yes ]; then
  for _ in $(seq 50); do
    grep -q "squareClient: registered program $sq version 1 tcp and udp .* and ringrpc-shm $sqs" \
      "$work/bob.err" && break
    sleep 0.1
  done
  grep -q "squareClient: registered program $sq version 1 tcp and udp .* and ringrpc-shm $sqs" \
    "$work/bob.err" || fail "Bob did not register the shared-memory socket: $(cat "$work/bob.err")"
  rpcinfo 127.0.0.1 | grep -Eq "^ +$sq +1 +ringrpc-shm +$sqs " ||
    fail "rpcinfo lacks Bob's ringrpc-shm endpoint: $(rpcinfo 127.0.0.1 | grep $sq)"
  out=$("$bin/square-client" --verbose 5 2>"$work/client.err") || fail "square-client via the registry"
  [ "$out" = "square(5) = 25" ] || fail "square-client via the registry printed: $out"
  grep -q "calling over shm to $sqs" "$work/client.err" ||
    fail "a tcp binding on this host did not take Bob's shared memory: $(cat "$work/client.err")"
  out=$("$bin/square-client" --verbose --no-shm 6 2>"$work/client.err") || fail "square-client --no-shm"
  [ "$out" = "square(6) = 36" ] || fail "square-client --no-shm printed: $out"
  grep -q "calling over tcp to 127.0.0.1:$(local_port bob squareClient)" "$work/client.err" ||
    fail "--no-shm did not bind over tcp: $(cat "$work/client.err")"
fi

kill -TERM "$bob"
reap "$bob" || fail "Bob's proxy exited with $? on SIGTERM"
[ ! -e "$sqs" ] && [ ! -e "$ecs" ] || fail "the shared-memory sockets were left behind: $(ls -l "$work/shm")"
if [ "$registry" = yes ] && rpcinfo 127.0.0.1 | grep -q " $sq "; then
  fail "Bob's services still registered after SIGTERM: $(rpcinfo 127.0.0.1 | grep $sq)"
fi
echo "$test_name: passed"
