#!/usr/bin/env bash
# Hostile input on a link (engine/legato/DESIGN.md "The proxy": what is per binding and what
# takes the link down). A fake peer connects to Alice's listening link with bash's /dev/tcp and
# sends, byte by byte:
#   - a bad type byte, an unknown CBOR tag, a byte string whose length is beyond every bound,
#     a connect message cut short, and 4 KiB of garbage: each takes the link down with the
#     reader's error (the stream cannot be trusted after it), and Alice takes the next peer;
#   - after a proper connect-service handshake: a request whose body is not one byte string, a
#     request for a service id nobody connected, and an unsolicited response: each is reported
#     and answered or dropped, and the link stays UP; a valid NULL call in between is answered.
# Then the real Bob connects and SQUARE works: nothing crashed, nothing was lost for others.
# Last, a local client of Bob's that sends two million calls and reads no reply does not make Bob's
# memory grow without bound, nor does a link whose peer stops reading.
#
# usage: proxy_hostile_link_test.sh BIN_DIR TIRPC_PEER
set -euo pipefail
bin=$1
peer=$2
test_name=proxy_hostile_link
source "$(dirname "$0")/../../scripts/process_helpers.sh"
source "$(dirname "$0")/../../scripts/proxy_helpers.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
trap '' PIPE  # the proxy hangs up on bad input: a write after that must fail, not kill us

start tirpc "$peer" server
declare_hello "$(field tirpc tcp)" "$(field tirpc tcp)"
tool alice set link Bob LinkToBob "127.0.0.1 0"
start_proxy alice --no-register --retry 200
port=$(link_port alice Bob)

# Bytes: be32 N, name STRING FIELD_BYTES, hex "9f 01 ff".
be32() { printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
name() { printf '%s' "$1"; head -c $(($2 - ${#1})) /dev/zero; }
hex() { for b in $1; do printf "\\x$b"; done; }
header() { be32 "$1"; be32 "$2"; hex "$3"; }  # id serviceId type(hex)
hexdump() { od -An -tx1 -v | tr -d ' \n'; }
# One message in one write: written piece by piece, the proxy could hang up between pieces.
send() {
  cat >"$work/msg"
  cat "$work/msg" >&3 || true
}
connect_peer() {
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  wait_for 3 alice '.systems[0].state == "UP"' || fail "the fake peer's link did not come UP: $(status alice)"
}
expect_down() {  # expect_down WHAT LOG_TEXT
  wait_for 3 alice '.systems[0].state == "DOWN"' || fail "$1 did not take the link down: $(status alice)"
  grep -q "$2" "$work/alice.err" || fail "$1: Alice did not log \"$2\": $(tail -5 "$work/alice.err")"
  exec 3>&-
  kill -0 "$pid_alice" || fail "$1 killed Alice's proxy"
}
# A NULL call to SQUARE_PROG v1 with AUTH_NONE, xid 0x11223344.
null_call() { be32 $((0x11223344)); be32 0; be32 2; be32 824377344; be32 1; be32 0; be32 0; be32 0; be32 0; be32 0; }

# --- what breaks the stream: the link goes down ----------------------------------------------
connect_peer
header 2 0 0b | send
expect_down "a bad type byte" "message type 11"

connect_peer
{ header 3 1 04; be32 0; hex "9f d9 03 e7 01 ff"; } | send
expect_down "an unknown tag" "tag 999"

connect_peer
{ header 4 1 04; be32 0; hex "9f 5b 00 00 00 01 00 00 00 00"; } | send
expect_down "a byte string of 4 GiB" "over the body limit"

connect_peer
{ header 5 1 01; name Bob 64; name square 40; } | send
exec 3>&-  # cut short, then closed
wait_for 3 alice '.systems[0].state == "DOWN"' || fail "a cut-short connect message: $(status alice)"

connect_peer
head -c 4096 "$0" | send  # Alice hangs up after the first header
expect_down "4 KiB of garbage" "Legato knows 1 to 9"

# --- what is one message's problem: the link stays up ----------------------------------------
connect_peer
{ header 6 7 01; name Bob 64; name squareServer 128; name oncrpc/824377344/1 128; be32 0; } | send
reply=$(timeout 3 head -c 333 <&3 | hexdump)
[ "${reply:16:2}" = 02 ] && [ "${reply: -8}" = 00000000 ] ||
  fail "the connect-service response: type ${reply:16:2}, code ${reply: -8}"

{ header 7 7 04; be32 0; hex "9f 01 ff"; } | send  # a body that is no byte string
wait_for 3 alice '.systems[0].malformed == 1' || fail "a non-RPC body was not counted: $(status alice)"

{ header 8 7 04; be32 0; hex "9f 58 28"; null_call; hex ff; } | send  # a valid call
reply=$(timeout 3 head -c 41 <&3 | hexdump)
[ "${reply:16:2}" = 05 ] && [ "${reply:0:8}" = 00000008 ] && [ "${reply:32:8}" = 11223344 ] ||
  fail "the NULL call's response: $reply"
[ "${reply:72:8}" = 00000000 ] || fail "the NULL call was not SUCCESS: $reply"

{ header 9 999 04; be32 0; hex "9f 58 28"; null_call; hex ff; } | send  # nobody's service id
reply=$(timeout 3 head -c 41 <&3 | hexdump)
[ "${reply:16:2}" = 05 ] && [ "${reply:72:8}" = 00000001 ] ||
  fail "a request for an unknown service id was not answered PROG_UNAVAIL: $reply"

{ header 10 7 05; be32 0; hex "9f 41 00 ff"; } | send  # a response nobody asked for
wait_for 3 alice '.systems[0].unmatched >= 2' || fail "the unsolicited response: $(status alice)"
jq -e '.systems[0].state == "UP" and .systems[0].downs == 5' <(status alice) >/dev/null ||
  fail "per-message errors disturbed the link: $(status alice)"
exec 3>&-

# --- the real peer ----------------------------------------------------------------------------
tool bob set binding squareClient Alice squareServer
tool bob set binding echoClient Alice echoServer
tool bob set link Alice LinkToAlice "127.0.0.1 $port"
start_proxy bob --no-register --retry 200 --resend 200
wait_for 5 bob '.bindings[0].connected' || fail "Bob did not connect after the attacks: $(status bob)"
"$peer" client-square tcp "$(local_port bob squareClient)" >/dev/null || fail "SQUARE after the attacks"

# --- a local client that calls and never reads -------------------------------------------------
# 2^21 NULL calls (92 MB) on one connection, no reply read: Bob stops reading the connection once
# its replies pile up past the high-water mark, so its memory stays bounded (what it grows by is
# its receive-buffer pool and call table reaching their working size, ~18 MB; without the
# back-pressure it grows by ~70 MB).
{ be32 $((0x80000028)); null_call; } >"$work/calls"
for _ in $(seq 21); do cat "$work/calls" "$work/calls" >"$work/calls2"; mv "$work/calls2" "$work/calls"; done
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
before=$(rss "$pid_bob")
exec 4<>"/dev/tcp/127.0.0.1/$(local_port bob squareClient)"
timeout 10 cat "$work/calls" >&4 || true  # blocks for good once Bob stops reading
sleep 0.5
after=$(rss "$pid_bob")
exec 4>&-
[ $((after - before)) -lt 40960 ] ||
  fail "Bob's memory grew by $((after - before)) KiB for a client that never reads"
"$peer" client-square tcp "$(local_port bob squareClient)" >/dev/null || fail "SQUARE after the non-reader"

# --- a link that stops draining -----------------------------------------------------------------
# Alice stopped (SIGSTOP; Legato's 120 s keep-alive keeps the link), then 64 KiB ECHOs, ~80 MiB
# in flight: Bob's queue to her passes the high-water mark and he stops reading his clients instead
# of queueing without bound; once she goes on, the calls complete, none lost. She is stopped
# before the load, not during it: a running Alice's receive buffer grows with her reading
# (tcp_rmem lets it reach 32 MiB on these machines), and her leg to the server and its buffers
# take as much again, so stopped under load she and the kernel held 1908 of 2048 such calls
# (128 MiB) with no hold at Bob. Stopped first, she takes at most her receive buffer, and Bob
# reads at most what that, his send buffer, his queue's high-water mark (4 MiB) and the receive
# buffers he may fill before a pause takes effect (16 MiB, the cap of his pool) hold: `most`
# calls. 16 connections carry half as many again; a Bob that kept reading would read them all.
rmem=$(awk '{ print $3 }' /proc/sys/net/ipv4/tcp_rmem)
wmem=$(awk '{ print $3 }' /proc/sys/net/ipv4/tcp_wmem)
most=$(((rmem + wmem + (4 << 20) + (16 << 20)) / 65536))
depth=$(((most * 3 / 2 + 15) / 16))
[ $depth -ge 64 ] || depth=64
wait_for 5 bob '[.bindings[].connected] | all' || fail "Bob's bindings: $(status bob)"
kill -STOP "$pid_alice"
"$bin/ringrpc-bench" --port "$(local_port bob echoClient)" --prog 824377345 --proc 1 \
  --payload 65536 --connections 16 --depth $depth --duration 4 --warmup 0 --timeout 30000 \
  --json "$work/bulk.json" >"$work/bulk.out" 2>&1 &
bulk=$!
track "$bulk"
# Held is judged once it has settled: clients held now (clientsHeld counts every hold) and the
# link flat for 0.5 s; until then Bob may still be reading clients on a loaded machine.
link_now() { status bob | jq -c '.systems[0] | [.bytesOut, .clientsHeldNow > 0]'; }
last="" flat=0
for _ in $(seq 100); do  # 10 s at most
  now=$(link_now)
  if [ "$now" = "$last" ] && [ "$(jq '.[1]' <<<"$now")" = true ]; then
    flat=$((flat + 1))
  else
    flat=0
  fi
  [ $flat -ge 5 ] && break
  last=$now
  sleep 0.1
done
[ $flat -ge 5 ] && [ "$(status bob | jq ".systems[0].inFlight <= $most")" = true ] ||
  { kill -CONT "$pid_alice"; fail "Bob did not hold back (at most $most in flight): $(status bob)"; }
held_rss=$(rss "$pid_bob")
sleep 1
grew=$(($(rss "$pid_bob") - held_rss))
[ $grew -lt 8192 ] && [ "$(link_now)" = "$last" ] ||
  { kill -CONT "$pid_alice"; fail "Bob kept queueing while held ($grew KiB more): $(status bob)"; }
kill -CONT "$pid_alice"
reap "$bulk" || fail "the bulk load: $(cat "$work/bulk.out")"
jq -e '.summary.errors == 0 and .summary.calls > 100' "$work/bulk.json" >/dev/null ||
  fail "calls across the stall: $(jq -c .summary "$work/bulk.json")"
echo "$test_name: ok"
