#!/usr/bin/env bash
# Three systems (beyond Legato's two), and configuration changes applied while calls run,
# without a restart: "Alice" serves SQUARE and ECHO, "Carol" serves ECHO, "Bob" calls them
# through one proxy with a link to each.
#   - Bob starts bound to Alice for squareClient and echoClient, with both systems configured;
#     SQUARE calls run (ringrpc-bench, 2 x 8 pipelined, 4 s) the whole time;
#   - a binding is added with ringrpc-tool (echo2Client -> Carol) and works within a second;
#   - a binding is removed by editing the file by hand (echoClient's slot reset to <EMPTY>,
#     file replaced with mv): its calls fail at once with PROG_UNAVAIL;
#   - a system is removed (Carol) and its binding's calls fail at once;
#   - the SQUARE calls saw no error, Bob's link to Alice never dropped, Bob's pid is the same.
#
# usage: proxy_three_systems_test.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=proxy_three_systems
source "$(dirname "$0")/../../scripts/process_helpers.sh"
source "$(dirname "$0")/../../scripts/proxy_helpers.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
sq=824377344
ec=824377345
timers=(--keepalive 500 --keepalive-timeout 1000 --retry 200 --resend 200 --watch-interval 200)

start square "$bin/square-server" --port 0 --no-register --shards 1
start echo "$bin/echo-server" --port 0 --no-register --shards 1
start tirpc "$peer" server
declare_hello "$(field square tcp)" "$(field echo tcp)"
declare_system carol Carol "echoServer = server $ec 1 at 127.0.0.1 $(field tirpc tcp)" -- \
  "LinkToBob = networkSocket listen"
# Bob: one more client extern, and a link to each system. Two externs of one program cannot
# both be registered, so echo2Client appears locally as another program (and nothing here
# registers anyway).
declare_system bob Bob "squareClient = client $sq 1" "echoClient = client $ec 1" \
  "echo2Client = client $ec 1 as 0x20000099 1" -- \
  "LinkToAlice = networkSocket connect" "LinkToCarol = networkSocket connect"
tool alice set link Bob LinkToBob "127.0.0.1 0"
tool carol set link Bob LinkToBob "unix $work/carol.link"  # a Unix-socket link, same seam
start_proxy alice --no-register "${timers[@]}"
start_proxy carol --no-register "${timers[@]}"
tool bob set binding squareClient Alice squareServer
tool bob set binding echoClient Alice echoServer
tool bob set link Alice LinkToAlice "127.0.0.1 $(link_port alice Bob)"
tool bob set link Carol LinkToCarol "unix $work/carol.link"
start_proxy bob --no-register "${timers[@]}"
bob_pid=$(status bob | jq .pid)
wait_for 5 bob '[.bindings[].connected] | all' || fail "Bob's bindings: $(status bob)"
wait_for 5 bob '[.systems[].state == "UP"] | all' || fail "Bob's links: $(status bob)"
"$peer" client-echo tcp "$(local_port bob echoClient)" >/dev/null || fail "ECHO via Alice"

"$bin/ringrpc-bench" --port "$(local_port bob squareClient)" --prog $sq --proc 1 \
  --args-hex 00000009 --connections 2 --depth 8 --duration 4 --warmup 0 \
  --json "$work/bench.json" >"$work/bench.out" 2>&1 &
bench=$!
track "$bench"
sleep 0.5

# Added with the tool: connects and serves within a second, while SQUARE runs.
tool bob set binding echo2Client Carol echoServer
wait_for 2 bob '[.bindings[] | select(.serviceName == "echo2Client") | .connected] | all' ||
  fail "the added binding did not connect: $(status bob)"
# ringrpc-bench's ECHO (proc 1, opaque<>) at echo2Client's program: it must be the local one.
"$bin/ringrpc-bench" --port "$(local_port bob echo2Client)" --prog 0x20000099 --proc 1 \
  --payload 100 --calls 200 --warmup 0 --json "$work/echo2.json" >/dev/null
jq -e '.summary.errors == 0 and .summary.calls == 200' "$work/echo2.json" >/dev/null ||
  fail "calls on the added binding: $(jq -c .summary "$work/echo2.json")"

# Removed by hand: the file edited and replaced, as an administrator would.
sed 's|^\(bindings/1/[a-zA-Z]*\) = .*|\1 = "<EMPTY>"|' "$work/bob.conf" >"$work/bob.conf.new"
grep -q 'bindings/1/serviceName = "<EMPTY>"' "$work/bob.conf.new" || fail "slot 1 is not echoClient"
mv "$work/bob.conf.new" "$work/bob.conf"
wait_for 2 bob '[.bindings[] | select(.serviceName == "echoClient")] | length == 0' ||
  fail "the removed binding is still there: $(status bob)"
t0=$SECONDS
if "$peer" client-echo tcp "$(local_port bob echoClient)" 2>"$work/removed.err"; then
  fail "a call on the removed binding succeeded"
fi
[ $((SECONDS - t0)) -le 2 ] || fail "a call on the removed binding took $((SECONDS - t0)) s"
grep -q "RPC: Program unavailable" "$work/removed.err" || fail "removed binding: $(cat "$work/removed.err")"

# A system removed: its binding is unconnected, its link gone.
tool bob reset link Carol
wait_for 2 bob '[.bindings[] | select(.serviceName == "echo2Client") | .connected == false] | all' ||
  fail "echo2Client still connected after Carol was removed: $(status bob)"
"$bin/ringrpc-bench" --port "$(local_port bob echo2Client)" --prog 0x20000099 --proc 1 \
  --payload 100 --calls 10 --warmup 0 --json "$work/gone.json" >/dev/null || true
jq -e '.summary.errors == 10' "$work/gone.json" >/dev/null ||
  fail "calls after Carol was removed: $(jq -c .summary "$work/gone.json")"
wait_for 3 carol '.systems[0].state == "DOWN"' || fail "Carol still has a link: $(status carol)"

reap "$bench" || fail "ringrpc-bench through Bob -> Alice: $(cat "$work/bench.out")"
jq -e '.summary.errors == 0 and .summary.calls > 1000' "$work/bench.json" >/dev/null ||
  fail "the SQUARE calls during the changes: $(jq -c .summary "$work/bench.json")"
jq -e '.systems[] | select(.systemName == "Alice") | .downs == 0 and .ups == 1' <(status bob) \
  >/dev/null || fail "Bob's link to Alice was disturbed: $(status bob)"
[ "$(status bob | jq .pid)" = "$bob_pid" ] || fail "Bob's proxy restarted"
kill -0 "$pid_bob" || fail "Bob's proxy is gone"
echo "$test_name: ok"
